#!/usr/bin/env bash
# Golden config messages (issue 10): `balloond -t` on every fixture of
# tests/fixtures/conf and tests/golden/conf/cases, everything it prints
# (stdout and stderr, every file:line message) compared byte for byte
# with tests/golden/conf/messages.golden. The config parser is rebuilt
# around a key table; its messages must not move. No guests, no root.
#
# A commit that changes a message on purpose regenerates the file with
#     GOLDEN_UPDATE=1 bash tests/integration/test_conf_golden.sh
# and says in its message why.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
GOLDEN=tests/golden/conf/messages.golden
OUT=$(mktemp /tmp/balloond-test-conf-golden.XXXXXX)
trap 'rm -f "$OUT" "$OUT.diff"' EXIT

[ -x "$BUILD/balloond" ] || { echo "  FAIL: $BUILD/balloond missing: run make all" >&2; exit 1; }
for f in tests/fixtures/conf/*.conf tests/golden/conf/cases/*.conf; do
    echo "== $f"
    "$BUILD/balloond" -t -c "$f" 2>&1
    echo "exit $?"
done >"$OUT"
if [ "${GOLDEN_UPDATE:-0}" = 1 ]; then
    cp "$OUT" "$GOLDEN"
    echo "  updated: $GOLDEN"
elif ! diff -u "$GOLDEN" "$OUT" >"$OUT.diff"; then
    echo "  FAIL: config messages differ from $GOLDEN:" >&2
    head -40 "$OUT.diff" >&2
    exit 1
else
    echo "  ok: $(grep -c '^== ' "$OUT") config files, $(grep -c 'balloond\[error\]' "$OUT") messages as golden"
fi

#!/usr/bin/env bash
# Golden simulator runs (issue 10): every built-in scenario with every
# policy, compared byte for byte with tests/golden/sim/SCENARIO.golden: the
# whole table and a SHA-256 of every per-tick CSV, so that a change in the
# tick, the estimator, the guard or a policy cannot pass unnoticed. No
# guests, no root; about 45 s (diurnal: 1000 VMs for a day, 4 policies).
#
# A commit that changes behaviour on purpose regenerates the files with
#     GOLDEN_UPDATE=1 bash tests/integration/test_sim_golden.sh
# and says in its message why the numbers moved.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SIM=$BUILD/balloond-sim
GOLDEN=tests/golden/sim
OUT=$(mktemp -d /tmp/balloond-test-golden.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

[ -x "$SIM" ] || { echo "  FAIL: $SIM missing: run make all" >&2; exit 1; }

# golden_run SCENARIO: the table, then one "sha256  file" line per CSV.
golden_run() {
    local csv="$OUT/csv-$1"
    "$SIM" --scenario "$1" --all --seed 1 --csv "$csv" || return 1
    (cd "$csv" && sha256sum -- *.csv)
}

failed=0
scenarios=$("$SIM" --list | awk '{ print $1 }')
[ -n "$scenarios" ] || { echo "  FAIL: balloond-sim --list printed no scenario" >&2; exit 1; }
for s in $scenarios; do
    if ! golden_run "$s" >"$OUT/$s.golden"; then
        echo "  FAIL: $s: balloond-sim failed" >&2; failed=1; continue
    fi
    if [ "${GOLDEN_UPDATE:-0}" = 1 ]; then
        cp "$OUT/$s.golden" "$GOLDEN/$s.golden"
        echo "  updated: $GOLDEN/$s.golden"
    elif [ ! -f "$GOLDEN/$s.golden" ]; then
        echo "  FAIL: $s: no golden file $GOLDEN/$s.golden" >&2; failed=1
    elif ! diff -u "$GOLDEN/$s.golden" "$OUT/$s.golden" >"$OUT/$s.diff"; then
        echo "  FAIL: $s: output differs from $GOLDEN/$s.golden:" >&2
        head -40 "$OUT/$s.diff" >&2; failed=1
    else
        echo "  ok: $s: $(grep -cE '^\| (balloond|proxmox|mom|static) ' "$OUT/$s.golden") policy rows and $(grep -c '\.csv$' "$OUT/$s.golden") CSV files as golden"
    fi
done
for g in "$GOLDEN"/*.golden; do
    s=$(basename "$g" .golden)
    grep -qx "$s" <<<"$scenarios" || { echo "  FAIL: $g: no such scenario any more" >&2; failed=1; }
done
exit "$failed"

#!/usr/bin/env bash
# The simulator (issue 6), in seconds: the density scenario's verdicts
# (static loses a QEMU to the host's OOM killer where balloond loses
# nothing), determinism for a seed, and the validation against a real
# density run kept in sim/validation/density (verdicts match, reclaim times
# within 25%). No guests, no root needed.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SIM=$BUILD/balloond-sim
OUT=$(mktemp -d /tmp/balloond-test-sim.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

pass() { echo "  ok: $*"; }
fail() { echo "  FAIL: $*" >&2; exit 1; }

[ -x "$SIM" ] || fail "$SIM missing: run make all"

# col POLICY N: the Nth column after the policy name in POLICY's row (1: host OOM kills).
col() { awk -F'|' -v p=" $1 " -v n="$2" '$2 == p { gsub(/^ +| +$/, "", $(n + 2)); print $(n + 2) }'; }

"$SIM" --scenario density --all --seed 1 >"$OUT/a.md" || fail "balloond-sim --all failed"
cat "$OUT/a.md"
grep -q "seed 1" "$OUT/a.md" || fail "the seed is not printed"
for p in balloond proxmox mom static; do
    [ -n "$(col "$p" 1 <"$OUT/a.md")" ] || fail "no row for $p"
done
[ "$(col balloond 1 <"$OUT/a.md")" -eq 0 ] || fail "balloond: host OOM kills in the density scenario"
[ "$(col balloond 3 <"$OUT/a.md")" -eq 0 ] || fail "balloond: guest OOM kills in the density scenario"
[[ $(col balloond 7 <"$OUT/a.md") == *"(4/4)" ]] || fail "balloond: not every free reclaimed"
pass "density, balloond: no host or guest OOM, 4 of 4 frees reclaimed ($(col balloond 7 <"$OUT/a.md") s)"
[ "$(col static 1 <"$OUT/a.md")" -gt 0 ] || fail "static: no host OOM kill in the density scenario"
[ "$(col static 8 <"$OUT/a.md")" -eq 0 ] || fail "static: balloon changes"
pass "density, static: $(col static 1 <"$OUT/a.md") host OOM kill(s), no balloon change"

"$SIM" --scenario density --all --seed 1 >"$OUT/b.md" || fail "second run failed"
cmp -s "$OUT/a.md" "$OUT/b.md" || fail "same seed, different output"
"$SIM" --scenario bursty --vms 40 --duration 3600 --seed 5 --csv "$OUT/c1" >"$OUT/c1.md" &&
    "$SIM" --scenario bursty --vms 40 --duration 3600 --seed 5 --csv "$OUT/c2" >"$OUT/c2.md" ||
    fail "bursty runs failed"
cmp -s "$OUT/c1.md" "$OUT/c2.md" && diff -r "$OUT/c1" "$OUT/c2" >/dev/null ||
    fail "bursty: same seed, different table or CSV"
pass "same seed, same table and CSV, byte for byte"

"$SIM" --validate sim/validation/density >"$OUT/v.md"
rc=$?
cat "$OUT/v.md"
[ "$rc" -eq 0 ] || fail "the simulator does not match the real density run (exit $rc)"
n=$(grep -c '| match |' "$OUT/v.md")
[ "$n" -ge 2 ] || fail "only $n policies compared"
pass "validation against the real density run: $n policies, verdicts and reclaim times match"

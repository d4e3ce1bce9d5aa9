#!/usr/bin/env bash
# (issue 12.3) balloonctl status at many VMs, without guests: 40 QMP peers
# of one manyqmp process (VM i has 256 MiB * (1 + (i-1) % 8)). --sort,
# name patterns and --top select the same VMs for the table and --json,
# and the table says how many were left out.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/daemon.sh

PEERS=
test_cleanup_extra() { [ -n "$PEERS" ] && kill "$PEERS" 2>/dev/null && wait "$PEERS" 2>/dev/null; }
test_begin status-view 0
daemon_config "$RUN" ""
"$BUILD/tests/manyqmp" "$RUN/qmp" vm 40 >"$RUN/peers.out" & PEERS=$!
wait_until 5 "peers listening" grep -q ready "$RUN/peers.out" || fail "manyqmp did not start"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
managed() { [ "$(status_json "$RUN" | jq '[.vms[] | select(.state == "managed")] | length')" -eq 40 ]; }
wait_until 10 "40 VMs managed" managed || fail "not all 40 VMs managed"

B=("$BUILD/balloonctl" -s "$RUN/ctl.sock")
rows() { sed -n '/^VM /,$ { /^VM /d; /^(/d; s/ .*//p; }' | tr '\n' ' ' | sed 's/ $//'; }
expect_rows() { # expect_rows WANT ARGS...
    local want=$1 got
    shift
    got=$("${B[@]}" "$@" | rows)
    [ "$got" = "$want" ] || fail "balloonctl $*: rows '$got', expected '$want'"
    got=$("${B[@]}" --json "$@" | jq -r '[.vms[].name] | join(" ")')
    [ "$got" = "$want" ] || fail "balloonctl --json $*: '$got', expected '$want'"
    pass "balloonctl $*: $want"
}

[ "$("${B[@]}" status | rows | wc -w)" -eq 40 ] || fail "status does not list 40 VMs"
"${B[@]}" status | grep -q "VMs shown" && fail "status without a selection says VMs were left out"
expect_rows "vm1 vm10 vm11 vm12 vm13 vm14 vm15 vm16 vm17 vm18 vm19" status --sort name 'vm1*'
# 2 GiB each, the biggest; ties by name.
expect_rows "vm8 vm16 vm24 vm32 vm40" status --sort actual --top 5
expect_rows "vm8 vm16 vm24" status --sort=actual --top=3
# Two patterns, the last --sort wins: vm32 2 GiB, then 1.75 GiB ones by name.
expect_rows "vm32 vm7 vm31 vm39" status 'vm3?' --sort name 'vm7' --top 4 --sort actual
expect_rows "vm1 vm2 vm3" --sort name --top 3 status
expect_rows "vm30 vm31 vm32" status 'vm3?' --top 3 --sort name

line=$("${B[@]}" status --sort actual --top 5 | tail -1)
[ "$line" = "(5 of 40 VMs shown; 35 more left out by --top 5)" ] || fail "left-out line: '$line'"
pass "the table says: $line"
line=$("${B[@]}" status --sort name --top 2 'vm1*' 'vm2' | tail -1)
[ "$line" = "(2 of 40 VMs shown; 28 not matching vm1* or vm2; 10 more left out by --top 2)" ] ||
    fail "left-out line with patterns: '$line'"
pass "the table says: $line"
n=$("${B[@]}" --json status --top 5 | jq .vms_not_shown)
[ "$n" = 35 ] || fail "--json --top 5: vms_not_shown $n"
"${B[@]}" --json status | jq -e 'has("vms_not_shown") | not' >/dev/null || fail "vms_not_shown without a selection"
pass "--json says vms_not_shown 35 with --top 5, nothing without a selection"
out=$("${B[@]}" status 'web*')
[[ "$out" == *"no VM matches web* (of 40 VMs)"* ]] || fail "no match: '$out'"
pass "a pattern matching nothing says so"

expect_usage() {
    local out rc
    out=$("${B[@]}" "$@" 2>&1); rc=$?
    [ "$rc" -eq 2 ] || fail "balloonctl $*: exit $rc, expected 2: $out"
    echo "  ok (2): $* -> $out"
}
expect_usage status --sort size
expect_usage status --top 0
expect_usage status --top many
expect_usage status --sort
expect_usage status --frobnicate
expect_usage events --sort name
expect_usage reload --top 3
daemon_alive "$RUN" || fail "balloond died"

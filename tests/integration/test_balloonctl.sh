#!/usr/bin/env bash
# balloonctl against a real daemon managing a real guest: every verb, every
# error path, exit codes; the metrics endpoint validated by promtool.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/guest.sh
source tests/lib/daemon.sh

test_begin ctl 2048
PORT=$((20000 + $$ % 20000))
METRICS=127.0.0.1:$PORT daemon_config "$RUN" "$CG"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
guest_start c1 512 "alloc:40M,idle" "$RUN/qmp" "$RUN" "$CG" || fail "guest did not start"
guest_wait_ready c1 "$RUN" 90 || fail "guest did not boot"
wait_until 20 "c1 managed" vm_is "$RUN" c1 state managed || fail "c1 not managed"

B=("$BUILD/balloonctl" -s "$RUN/ctl.sock")
expect() { # expect RC DESCRIPTION CMD...
    local want=$1 what=$2 out rc
    shift 2
    out=$("$@" 2>&1); rc=$?
    [ "$rc" -eq "$want" ] || fail "$what: exit $rc, expected $want: $out"
    echo "  ok ($rc): $what${out:+ -> $(printf '%s' "$out" | head -1)}"
}

# Reading.
expect 0 "status" "${B[@]}" status
"${B[@]}" status | grep -q "^c1 " || fail "status has no row for c1"
expect 0 "status --json" "${B[@]}" --json status
"${B[@]}" status --json | jq -e '.vms[0].name == "c1"' >/dev/null || fail "status --json is not the snapshot"
expect 0 "vm show" "${B[@]}" vm show c1
"${B[@]}" vm show c1 | grep -q "^size_bytes *512M" || fail "vm show lacks the size"
"${B[@]}" --json vm show c1 | jq -e '.name == "c1"' >/dev/null || fail "vm show --json"
expect 0 "events" "${B[@]}" events
"${B[@]}" events | grep -q "c1 .*found QMP socket" || fail "events lack the attach"
"${B[@]}" events --json | head -1 | jq -e '.seq == 1' >/dev/null || fail "events --json"
expect 2 "top without a terminal" "${B[@]}" top </dev/null

# Changing.
expect 0 "vm set min=200M buffer=30" "${B[@]}" vm set c1 min=200M buffer=30
[ "$(vm_field "$RUN" c1 min_bytes)" -eq $((200 * 1048576)) ] || fail "min not applied"
[ "$(vm_field "$RUN" c1 buffer_pct)" -eq 30 ] || fail "buffer not applied"
expect 0 "vm target 300M" "${B[@]}" vm target c1 300M
wait_until 10 "pinned target" vm_is "$RUN" c1 target_bytes $((300 * 1048576)) || fail "pin not applied"
expect 0 "vm pause" "${B[@]}" vm pause c1
vm_is "$RUN" c1 paused true || fail "not paused"
expect 0 "vm resume" "${B[@]}" vm resume c1
expect 0 "vm auto" "${B[@]}" vm auto c1
vm_is "$RUN" c1 pinned_bytes null || fail "still pinned"
expect 0 "reload" "${B[@]}" reload

# Metrics.
curl -sf "http://127.0.0.1:$PORT/metrics" >"$RUN/metrics.txt" || fail "no /metrics on port $PORT"
grep -q '^balloond_vm_actual_bytes{vm="c1"} ' "$RUN/metrics.txt" || fail "no per-VM gauge"
grep -q '^balloond_decisions_total{reason="pinned"} 1' "$RUN/metrics.txt" || fail "no decision counter"
if command -v promtool >/dev/null; then
    promtool check metrics <"$RUN/metrics.txt" || fail "promtool finds problems"
    pass "promtool check metrics: clean ($(grep -vc '^#' "$RUN/metrics.txt") samples)"
else
    fail "promtool is missing (scripts/deps.sh installs Debian's prometheus)"
fi

# Settings survive a restart of the daemon.
daemon_stop "$RUN"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not restart"
wait_until 20 "c1 managed again" vm_is "$RUN" c1 state managed || fail "c1 not managed after restart"
[ "$(vm_field "$RUN" c1 min_bytes)" -eq $((200 * 1048576)) ] || fail "min lost across a restart"
pass "vm set settings kept across a restart"

# Errors.
expect 1 "unknown VM" "${B[@]}" vm show nope
expect 1 "vm set on an unknown VM" "${B[@]}" vm set nope min=1G
expect 1 "bad size" "${B[@]}" vm set c1 min=12Q
expect 1 "min above max" "${B[@]}" vm set c1 min=600M
expect 1 "unknown key" "${B[@]}" vm set c1 colour=blue
expect 1 "not key=value" "${B[@]}" vm set c1 min
expect 1 "buffer out of range" "${B[@]}" vm set c1 buffer=500
expect 1 "target above the VM's size" "${B[@]}" vm target c1 4G
expect 2 "target not a size" "${B[@]}" vm target c1 lots
expect 2 "unknown command" "${B[@]}" frobnicate
expect 2 "unknown vm verb" "${B[@]}" vm frob c1
expect 2 "missing VM name" "${B[@]}" vm show
expect 2 "extra argument" "${B[@]}" reload extra
expect 0 "status with a pattern matching no VM" "${B[@]}" status extra
"${B[@]}" status 'c*' | grep -q "^c1 " || fail "status 'c*' has no row for c1"
expect 2 "no command" "${B[@]}"
expect 3 "daemon unreachable" "$BUILD/balloonctl" -s "$RUN/none.sock" status
out=$("${B[@]}" vm set c1 min=12Q 2>&1)
[[ "$out" == *'"12Q" is not a size'* ]] || fail "the bad value is not named: $out"
pass "every error has its exit code and names what is wrong"

daemon_alive "$RUN" || fail "balloond died"

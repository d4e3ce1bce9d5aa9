#!/usr/bin/env bash
# Issue 4: three identical guests on a host that balloond sees as
# critical: balloond turns KSM on and scans hard, pages_sharing rises, each
# VM's savings are reported; on exit every KSM knob is as it was.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/guest.sh
source tests/lib/daemon.sh

KSM=/sys/kernel/mm/ksm
[ -w "$KSM/run" ] || { echo "  skip: no KSM on this kernel"; exit 0; }
knobs=(run pages_to_scan sleep_millisecs)
[ -e "$KSM/advisor_mode" ] && knobs+=(advisor_mode)
declare -A saved
for k in "${knobs[@]}"; do saved[$k]=$(sed 's/.*\[\(.*\)\].*/\1/' "$KSM/$k"); done
test_cleanup_extra() {
    for k in "${knobs[@]}"; do
        [ "$(sed 's/.*\[\(.*\)\].*/\1/' "$KSM/$k")" = "${saved[$k]}" ] || echo "${saved[$k]}" >"$KSM/$k" 2>/dev/null
    done
}
test_begin ksm 3072
# Start from KSM stopped, so that what merges is balloond's doing. With
# run=0 the counters keep the merges of processes that have exited until
# ksmd runs again (seen here: 21143 pages "sharing" with no QEMU alive), so
# let it run a moment first to settle them.
echo 1 >"$KSM/run"
sleep 2
echo 0 >"$KSM/run"
sharing0=$(cat "$KSM/pages_sharing")
echo "  pages_sharing at the start: $sharing0"

for g in k1 k2 k3; do
    guest_start "$g" 384 "alloc:40M,idle" "$RUN/qmp" "$RUN" "$CG" || fail "guest $g did not start"
done
for g in k1 k2 k3; do guest_wait_ready "$g" "$RUN" 120 || fail "guest $g did not boot"; done

# A budget the guests already fill: balloond sees the host as critical.
used=$(cat "$CG/memory.usage_in_bytes" 2>/dev/null || cat "$CG/memory.current")
daemon_config "$RUN" "$CG" "budget = $((used / 1048576))M" "reserve = 32M"
daemon_start "$RUN" || fail "balloond did not start"
wait_until 10 "host critical" sh -c "$BUILD/balloonctl -s $RUN/ctl.sock --json status | grep -q '\"state\":\"critical\"'" \
    || fail "the host is not critical: $(build/balloonctl -s "$RUN/ctl.sock" status)"
pass "balloond sees the host as critical"

wait_until 10 "KSM on" grep -qx 1 "$KSM/run" || fail "balloond did not turn KSM on"
pass "KSM turned on by balloond: pages_to_scan $(cat "$KSM/pages_to_scan"), sleep $(cat "$KSM/sleep_millisecs") ms"

sharing_rose() { [ "$(cat "$KSM/pages_sharing")" -ge $((sharing0 + 2560)) ]; }
wait_until 90 "pages_sharing to rise by 10 MiB" sharing_rose || fail "pages_sharing stayed at $(cat "$KSM/pages_sharing")"
pass "pages_sharing rose from $sharing0 to $(cat "$KSM/pages_sharing") ($(( ($(cat "$KSM/pages_sharing") - sharing0) / 256 )) MiB saved)"

# KSM merges a page on its second look at it (the first only checks that
# it is stable), so the guests' savings show up one after the other.
all_saving() {
    [ "$(status_json "$RUN" | jq '[.vms[] | select((.ksm_saved_bytes // 0) > 0)] | length')" -eq 3 ]
}
wait_until 60 "savings reported for all three VMs" all_saving
status_json "$RUN" | jq -r '.vms[] | "  \(.name): ksm saved \((.ksm_saved_bytes // 0) / 1048576 | floor) MiB"'
all_saving || fail "savings reported for fewer than 3 VMs"
status_json "$RUN" | jq -c '.host.ksm'
pass "per-VM KSM savings reported for all three guests"

daemon_stop "$RUN"
for k in "${knobs[@]}"; do
    now=$(sed 's/.*\[\(.*\)\].*/\1/' "$KSM/$k")
    want=${saved[$k]}
    [ "$k" = run ] && want=0
    [ "$now" = "$want" ] || fail "after balloond stopped, $k is $now, was $want"
done
pass "every KSM knob is back as balloond found it"

#!/usr/bin/env bash
# (a) An idle guest that touched and freed 300 MiB is inflated by balloond,
# and its QEMU's RSS drops by at least 200 MiB. The 300 MiB come at
# 25 MiB/s, a rise balloond follows (75 MiB within its 3 s reaction time):
# a guest that allocated them at full speed would keep room for another
# such burst while the host has plenty (issue 9, test_burst_oom.sh).
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/guest.sh
source tests/lib/daemon.sh

test_begin a 2048

daemon_config "$RUN" "$CG"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
guest_start idle1 512 "alloc:300M@25M,hold:5s,free:all,idle" "$RUN/qmp" "$RUN" "$CG" || fail "guest did not start"
guest_wait_ready idle1 "$RUN" 90 || fail "guest did not boot"

# The daemon must find the socket and manage the guest.
wait_until 20 "idle1 managed" vm_is "$RUN" idle1 state managed \
    || fail "idle1 not managed: $(status_json "$RUN")"
pass "guest found and managed"

# Peak RSS while memload holds its 300 MiB.
peak=0
for _ in $(seq 60); do
    rss=$(guest_rss_kib idle1 "$RUN")
    [ "${rss:-0}" -gt "$peak" ] && peak=$rss
    grep -q "phase=idle" "$RUN/idle1.console" && break
    sleep 1
done
grep -q "phase=idle" "$RUN/idle1.console" || fail "memload never reached idle"
[ "$peak" -ge $((300 * 1024)) ] || fail "QEMU RSS peaked at $((peak / 1024)) MiB, expected >= 300 MiB"
echo "  QEMU RSS before: $((peak / 1024)) MiB (peak, while the guest held 300 MiB)"

# Idle now: the daemon inflates, the RSS must fall by >= 200 MiB.
rss_dropped() {
    local now
    now=$(guest_rss_kib idle1 "$RUN")
    [ $((peak - now)) -ge $((200 * 1024)) ]
}
wait_until 60 "RSS to drop by 200 MiB" rss_dropped || {
    build/balloonctl -s "$RUN/ctl.sock" status
    fail "RSS only fell to $(( $(guest_rss_kib idle1 "$RUN") / 1024 )) MiB"
}
after=$(guest_rss_kib idle1 "$RUN")
echo "  QEMU RSS after:  $((after / 1024)) MiB (dropped by $(((peak - after) / 1024)) MiB)"
target=$(vm_field "$RUN" idle1 target_bytes)
actual=$(vm_field "$RUN" idle1 actual_bytes)
echo "  balloon: target $(mib "$target") MiB, actual $(mib "$actual") MiB"
[ "$target" -lt $((512 * 1048576)) ] || fail "target was never lowered"
pass "RSS dropped by $(((peak - after) / 1024)) MiB after inflation"
[ "$(guest_oom_count idle1 "$RUN")" -eq 0 ] || fail "the guest OOM-killed something"
pass "no OOM in the guest"
build/balloonctl -s "$RUN/ctl.sock" status
grep -E "vm idle1: target" "$RUN/balloond.log" | head -5
daemon_alive "$RUN" || fail "balloond died"

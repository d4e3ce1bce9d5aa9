#!/usr/bin/env bash
# The status tells the truth about VMs balloond cannot (fully) drive, on
# real QEMUs booted once:
#   nodrv  a guest whose virtio_balloon is not loaded (module_blacklist):
#          shown as no-driver with the reason, never given a smaller target
#          (its max of 50% would have clamped it), vm target says why not;
#   pin    a guest holding 300 MiB pinned to 256 MiB, which it cannot
#          reach: stall-checked like any target, stalled (with the time
#          left) in status, --json and /metrics for the whole hold, and
#          the pin not sent again meanwhile;
#   nobal  a QEMU without a balloon device (never run: -S): vm target
#          names the missing device; once it is killed, RUN says gone.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/guest.sh
source tests/lib/daemon.sh

test_begin view 2048
PORT=$((20000 + ($$ + 7) % 20000))
METRICS=127.0.0.1:$PORT daemon_config "$RUN" "$CG" "[vm nodrv]" "max = 50%"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
B=("$BUILD/balloonctl" -s "$RUN/ctl.sock")
GUEST_APPEND=module_blacklist=virtio_balloon guest_start nodrv 256 idle "$RUN/qmp" "$RUN" "$CG" ||
    fail "nodrv did not start"
guest_start pin 512 "alloc:300M,idle" "$RUN/qmp" "$RUN" "$CG" || fail "pin did not start"
GUEST_BALLOON=off GUEST_QEMU_ARGS=-S guest_start nobal 128 idle "$RUN/qmp" "$RUN" "$CG" ||
    fail "nobal did not start"
T0=$(date +%s)

# Fails the test if nodrv was ever given a target below its size.
nodrv_untouched() {
    local t
    t=$(vm_field "$RUN" nodrv target_bytes)
    [ "$t" = null ] || [ "$t" -ge $((256 << 20)) ] || fail "nodrv, without a driver, got target $(mib "$t") MiB"
}
metric() { curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

# --- no balloon device ---------------------------------------------------
wait_until 15 "nobal: no-balloon" vm_is "$RUN" nobal state no-balloon || fail "nobal not seen as no-balloon"
out=$("${B[@]}" vm target nobal 100M 2>&1) && fail "vm target on a VM without a balloon succeeded"
[[ $out == *"neither a virtio-balloon nor a virtio-mem device"* ]] || fail "vm target nobal: says \"$out\", not what is missing"
pass "vm target nobal: $out"

# --- a pin the guest cannot reach ------------------------------------------
guest_wait_ready pin "$RUN" 60 || fail "pin did not boot"
wait_until 15 "pin: stats" vm_is "$RUN" pin stats ok || fail "pin's stats never arrived"
pass "pin: first balloon stats $(($(date +%s) - T0)) s after QEMU started"
# Pinned only once memload holds its 300 MiB: on a slow boot the first stats
# came before the allocation, and the guest reached the pin after all.
holds_300m() {
    local u
    u=$(vm_field "$RUN" pin used_bytes)
    [ "$u" != null ] && [ "$u" -ge $((280 << 20)) ]
}
wait_until 30 "pin: memload holds 300 MiB" holds_300m || fail "pin's memload never held 300 MiB"
"${B[@]}" vm target pin 256M >/dev/null || fail "vm target pin 256M refused"
wait_until 60 "pin: stalled" vm_is "$RUN" pin stalled true || fail "a pin the guest cannot reach never stalled"
act=$(vm_field "$RUN" pin actual_bytes) tgt=$(vm_field "$RUN" pin target_bytes)
left1=$(vm_field "$RUN" pin stall_hold_s)
[ "$tgt" -gt $((256 << 20)) ] || fail "pin: target $(mib "$tgt") MiB: the unreached memory counts as reclaimed"
pass "pin stalled at actual $(mib "$act") MiB, target $(mib "$tgt") MiB, hold ${left1}s left"
nodrv_untouched
sleep 6
vm_is "$RUN" pin stalled true || fail "pin: stalled ended 6 s into the hold"
left2=$(vm_field "$RUN" pin stall_hold_s)
[ "$left2" -le $((left1 - 5)) ] && [ "$left2" -gt 0 ] || fail "pin: hold left went $left1 -> $left2 s in 6 s"
[ "$(vm_field "$RUN" pin target_bytes)" = "$tgt" ] || fail "pin: the pin was sent again during the hold"
"${B[@]}" status | grep -E "^pin +stalled .*held [0-9]+s more" >/dev/null ||
    fail "status line does not show the hold: $("${B[@]}" status | grep '^pin ')"
[ "$(metric 'balloond_vm_stalled{vm="pin"}')" = 1 ] || fail "/metrics: pin not stalled"
[ -n "$(metric 'balloond_vm_stall_hold_seconds{vm="pin"}')" ] || fail "/metrics: no hold time for pin"
pass "still stalled 6 s later (hold ${left2}s left) in status, --json and /metrics"

# --- no balloon driver -----------------------------------------------------
grep -q "insmod virtio_balloon failed" "$RUN/nodrv.console" || fail "nodrv loaded virtio_balloon after all"
wait_until 45 "nodrv: no-driver" vm_is "$RUN" nodrv state no-driver ||
    fail "nodrv shown as $(vm_field "$RUN" nodrv state) $(($(date +%s) - T0)) s after start"
nodrv_untouched
"${B[@]}" status | grep -E "^nodrv +no-driver .*virtio_balloon is not loaded" >/dev/null ||
    fail "status line of nodrv: $("${B[@]}" status | grep '^nodrv ')"
# The state turns no-driver when the grace ends; the event comes with the
# next tick (up to 1.3 s later).
nodrv_event() {
    "${B[@]}" events | grep -E "nodrv +no balloon stats .*virtio_balloon driver is not loaded" >/dev/null
}
wait_until 5 "nodrv: the no-driver event" nodrv_event || fail "no event says nodrv has no driver"
out=$("${B[@]}" vm target nodrv 200M 2>&1) && fail "vm target on a VM without a driver succeeded"
[[ $out == *"driver is not loaded"* ]] || fail "vm target nodrv: says \"$out\""
[ "$(metric 'balloond_vm_managed{vm="nodrv"}')" = 0 ] || fail "/metrics: nodrv counted as managed"
pass "nodrv: no-driver, untouched; vm target: $out"

# --- a killed QEMU ---------------------------------------------------------
pid=$(guest_pid nobal "$RUN") || fail "nobal not running"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
wait_until 10 "nobal: gone" vm_is "$RUN" nobal runstate gone ||
    fail "a killed QEMU shows RUN $(vm_field "$RUN" nobal runstate)"
"${B[@]}" status | grep -E "^nobal +[a-z-]+ +gone " >/dev/null || fail "status RUN column: $("${B[@]}" status | grep '^nobal ')"
out=$("${B[@]}" vm target nobal 100M 2>&1) && fail "vm target on a killed VM succeeded"
[[ $out == *"gone"* ]] || fail "vm target on a killed VM says \"$out\""
pass "killed QEMU: RUN gone; vm target: $out"
daemon_alive "$RUN" || fail "balloond died"
echo "  ($(($(date +%s) - T0)) s)"

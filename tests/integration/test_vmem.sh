#!/usr/bin/env bash
# Issue 13 on real guests, side by side (one each, in parallel):
#   vm  256 MiB of boot RAM + a 1 GiB virtio-mem device (and a balloon for
#       the guest's stats): grown in blocks as its load rises, shrunk when
#       the load frees, QEMU's RSS following; grown again as a faster load
#       rises; an unplug it cannot do (a pin below what it uses) handled as
#       a stall; a reset (QMP system_reset) raises it to a boot-safe size;
#   fr  a 512 MiB balloon guest with free-page-reporting=on: its RSS falls
#       after a free with no inflation, and balloond says the guest gave
#       it back, not the balloon.
# 56 s on 2 cores under TCG (the stall alone takes GUARD_STALL_MS, 10 s).
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/guest.sh
source tests/lib/daemon.sh

test_begin vmem 0
# min 256M: the virtio-mem guest may go back to its boot RAM; the balloon
# guest is kept whole (min 100%) so that only the guest frees memory.
BOOT=256 LOAD1=160 LOAD2=220
METRICS=127.0.0.1:$((20000 + $$ % 20000))
daemon_config "$RUN" "" "[vm vm]" "min = ${BOOT}M" "[vm fr]" "min = 100%"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
# 2 s idle, +160 MiB at 12 MiB/s (slower than a burst, which balloond would keep
# room for: 20 MiB/s was learned as one), freed; 8 s later (the shrink takes
# 6-8 s) +220 MiB at 25 MiB/s (the pin comes then). A second QMP socket
# (balloond holds the first) for the reset; -action reboot=reset undoes
# guest_start's -no-reboot, under which QEMU would shut down instead.
GUEST_VMEM_MIB=1024 GUEST_QEMU_ARGS="-qmp unix:$RUN/vm.mon,server=on,wait=off -action reboot=reset" \
    guest_start vm $BOOT "hold:2s,alloc:${LOAD1}M@12M,hold:2s,free:all,hold:8s,alloc:${LOAD2}M@25M,idle" "$RUN/qmp" "$RUN" ||
    fail "virtio-mem guest did not start"
GUEST_BALLOON_PROPS=free-page-reporting=on guest_start fr 512 "alloc:300M,hold:2s,free:all,idle" "$RUN/qmp" "$RUN" ||
    fail "free page reporting guest did not start"
guest_wait_ready vm "$RUN" 90 || fail "virtio-mem guest did not boot"
guest_wait_ready fr "$RUN" 90 || fail "free page reporting guest did not boot"

f() { vm_field "$RUN" "$1" "$2"; }
wait_until 20 "vm managed with both actuators" vm_is "$RUN" vm actuators balloon+virtio-mem ||
    fail "vm: actuators $(f vm actuators)"
[ "$(f vm vmem_max_bytes)" -eq $((1024 << 20)) ] || fail "vm: virtio-mem max $(f vm vmem_max_bytes)"
[ "$(f vm size_bytes)" -eq $(((BOOT + 1024) << 20)) ] || fail "vm: size $(f vm size_bytes), want ${BOOT}M + 1G"
pass "vm: balloon+virtio-mem found, size $((BOOT + 1024)) MiB ($BOOT MiB boot + 1 GiB device)"
[ "$(f fr free_page_reporting)" = true ] && [ "$(f vm free_page_reporting)" = false ] ||
    fail "free_page_reporting: fr $(f fr free_page_reporting), vm $(f vm free_page_reporting)"
pass "fr: free page reporting detected (and not on vm)"

# One line per status read (about 2 a second); stops when UNTIL (a
# command) is true, or after N reads. One status call per line: every
# process the test runs takes CPU from the TCG guests.
sample_until() {
    local n=$1 i a t pl rq dec fa frss fret
    shift
    for i in $(seq "$n"); do
        read -r a t pl rq dec fa frss fret < <(status_json "$RUN" | jq -r '
            def m: (. // 0) / 1048576 | floor;
            (.vms[] | select(.name=="vm")) as $v | (.vms[] | select(.name=="fr")) as $f |
            "\($v.actual_bytes|m) \($v.target_bytes|m) \($v.vmem_plugged_bytes|m) \($v.vmem_requested_bytes|m) \($v.decision|gsub(" ";"_")) \($f.actual_bytes|m) \($f.rss_bytes|m) \($f.guest_returned_bytes|m)"')
        printf '  %-3s %4s %4s %4s %4s %4s %-15s %-22s | %s %s %s\n' "$i" "$a" "$t" "$pl" "$rq" \
            "$(($(guest_rss_kib vm "$RUN") / 1024))" "$(grep -o "held_mib=[0-9]*" "$RUN/vm.console" | tail -1)" \
            "$dec" "$fa" "$frss" "$fret"
        [ "$pl" -gt "$max_pl" ] && max_pl=$pl
        [ "$frss" -gt "$fr_rss_hi" ] && fr_rss_hi=$frss
        "$@" && return 0
        sleep 0.3
    done
    return 1
}
max_pl=0 fr_rss_hi=0
rss0=$(($(guest_rss_kib vm "$RUN") / 1024))
echo "  t   vm: actual target plugged asked rss memload decision | fr: actual rss returned"
# ---- the load rises: grown in blocks -------------------------------------
sample_until 120 grep -q "held_mib=$LOAD1" "$RUN/vm.console" || fail "vm: memload did not reach $LOAD1 MiB"
rss1=$(($(guest_rss_kib vm "$RUN") / 1024))
[ "$(guest_oom_count vm "$RUN")" -eq 0 ] || fail "vm: OOM in the guest"
# The guest's boot RAM cannot hold the load and its buffer: the rest
# must have come from virtio-mem.
[ "$max_pl" -ge 60 ] || fail "vm: plugged only $max_pl MiB for a $LOAD1 MiB load"
pass "vm: grown to $max_pl MiB plugged for $LOAD1 MiB of load, no OOM; QEMU RSS $rss0 -> $rss1 MiB"

# ---- the load frees: shrunk, RSS follows ---------------------------------
shrunk() { [ "$(f vm vmem_plugged_bytes)" -le $((32 << 20)) ]; }
sample_until 80 shrunk || fail "vm not shrunk: $(build/balloonctl -s "$RUN/ctl.sock" status vm)"
sleep 0.5
rss2=$(($(guest_rss_kib vm "$RUN") / 1024))
[ $((rss1 - rss2)) -ge 50 ] || fail "vm: QEMU RSS only $rss1 -> $rss2 MiB after unplugging"
pass "vm: shrunk to $(mib "$(f vm vmem_plugged_bytes)") MiB plugged; QEMU RSS $rss1 -> $rss2 MiB"

# ---- free page reporting (its guest freed 300 MiB long ago) --------------
fr_rss=$(($(guest_rss_kib fr "$RUN") / 1024))
fa=$(mib "$(f fr actual_bytes)"); fret=$(mib "$(f fr guest_returned_bytes)")
[ "$fa" -ge 500 ] || fail "fr: the balloon was inflated (actual $fa MiB): the test proves nothing"
[ $((fr_rss_hi - fr_rss)) -ge 100 ] || [ "$fr_rss" -le 300 ] || fail "fr: RSS $fr_rss_hi -> $fr_rss MiB, not given back"
[ "$(mib "$(f fr reclaimed_bytes)")" -le 16 ] || fail "fr: reclaimed_bytes $(f fr reclaimed_bytes): counted as balloon reclaim"
[ "$fret" -ge 150 ] || fail "fr: guest_returned_bytes $fret MiB"
build/balloonctl -s "$RUN/ctl.sock" status fr | grep -A1 "^fr " | sed 's/^/    /'
build/balloonctl -s "$RUN/ctl.sock" status fr | grep -q "free page reporting on" || fail "fr: status does not say so"
curl -s "http://$METRICS/metrics" | grep -E '^balloond_vm_(guest_returned|reclaimed)_bytes\{vm="fr"\}' | sed 's/^/    /'
body=$(curl -s "http://$METRICS/metrics")
grep -q '^balloond_vm_free_page_reporting{vm="fr"} 1' <<<"$body" || fail "fr: /metrics"
pass "fr: RSS $fr_rss MiB (peak seen $fr_rss_hi) with the balloon at $fa MiB: reclaimed 0, guest returned $fret MiB"

# ---- pressure again: blocks plugged at once (more than the boot RAM
# holds, so the guest cannot give all of it back below) -------------------
max_pl=0
sample_until 100 grep -q "held_mib=$LOAD2" "$RUN/vm.console" || fail "vm: memload did not reach $LOAD2 MiB"
[ "$(guest_oom_count vm "$RUN")" -eq 0 ] || fail "vm: OOM in the guest on the second rise"
grep -E "vm vm: target .*(pressure|needs more)" "$RUN/balloond.log" | tail -3 | sed 's/^/    /'
[ "$max_pl" -ge 60 ] || fail "vm: plugged only $max_pl MiB on the second rise"
pass "vm: $LOAD2 MiB at 25 MiB/s into a shrunk guest: $max_pl MiB plugged as it rose, no OOM"

# ---- an unplug the guest cannot do --------------------------------------
build/balloonctl -s "$RUN/ctl.sock" vm target vm ${BOOT}M >/dev/null || fail "cannot pin vm"
stalled() { vm_is "$RUN" vm stalled true; }
sample_until 100 stalled || fail "no stall: $(build/balloonctl -s "$RUN/ctl.sock" status vm)"
why=$(f vm stall_reason)
[[ $why == virtio-mem:* ]] || fail "stall reason: $why"
a=$(f vm actual_bytes); t=$(f vm target_bytes)
[ "$t" -ge $((a - (16 << 20))) ] || fail "stalled, but target $(mib "$t") MiB below actual $(mib "$a") MiB (counted as reclaimed)"
[ "$(f vm vmem_plugged_bytes)" -gt 0 ] || fail "vm: everything unplugged: the guest could do it, the test proves nothing"
[ "$(guest_oom_count vm "$RUN")" -eq 0 ] || fail "vm: the unplug request OOM-killed the guest's load"
build/balloonctl -s "$RUN/ctl.sock" status vm | grep -A1 "^vm " | sed 's/^/    /'
pass "vm: unplug refused -> stalled, target set to actual $(mib "$a") MiB; the reason is in the status"

# ---- a reset: QEMU unplugs every block and the guest boots again; balloond
# raises the target to a boot-safe size (1 GiB, guard.h), and virtio-mem is
# asked for its share of it (the balloon only counts the boot RAM).
build/balloonctl -s "$RUN/ctl.sock" vm auto vm >/dev/null || fail "cannot unpin vm"
t0=$(f vm target_bytes)
[ "$t0" -lt $((1 << 30)) ] || fail "vm: target $(mib "$t0") MiB before the reset: the test proves nothing"
guest_qmp "$RUN/vm.mon" system_reset >/dev/null || fail "vm: system_reset refused"
boot_safe() {
    [ "$(f vm target_bytes)" -ge $((1 << 30)) ] && [ "$(f vm vmem_requested_bytes)" -ge $(((1024 - BOOT) << 20)) ]
}
wait_until 10 "vm raised to a boot-safe size after the reset" boot_safe ||
    fail "after the reset: target $(mib "$(f vm target_bytes)") MiB, virtio-mem asked $(mib "$(f vm vmem_requested_bytes)") MiB"
grep -q "vm vm: guest reset" "$RUN/balloond.log" || fail "vm: the reset is not in the log"
guest_pid vm "$RUN" >/dev/null || fail "vm: QEMU exited at the reset (-action reboot=reset not taken)"
pass "vm: reset -> target $(mib "$t0") -> $(mib "$(f vm target_bytes)") MiB, virtio-mem asked $(mib "$(f vm vmem_requested_bytes)") MiB"
daemon_alive "$RUN" || fail "balloond died"

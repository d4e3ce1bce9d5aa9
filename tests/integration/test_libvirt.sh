#!/usr/bin/env bash
# The libvirt backend on a real libvirtd (started here, private socket,
# auth none) with four TCG domains booted from the test guest image:
#   idle  reclaimed: its QEMU's RSS drops by >= 200 MiB
#   rise  squeezed while idle, then its load rises: deflated in time, no OOM
#   nob   <memballoon model='none'/>: shown as such with the reason, untouched
#   nost  a balloon without <stats period>: balloond turns polling on, and
#         puts it back off when it stops
# then a guest reset raises the target, an operator's virsh setmem is taken, not fought; a daemon restart
# keeps the targets, and a domain destroyed and
# started again under the same name is dropped and managed again.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/guest.sh
source tests/lib/daemon.sh
source tests/lib/libvirt.sh

libvirt_test_begin lv
ctl() { "$BUILD/balloonctl" -s "$RUN/ctl.sock" "$@"; }

libvirt_start "$LV" || fail "libvirtd did not start"
libvirt_guest_start idle 512 "alloc:300M@25M,hold:5s,free:all,idle" "$LV" || fail "idle did not start"
libvirt_guest_start rise 512 "alloc:20M,hold:45s,alloc:330M@20M,idle" "$LV" || fail "rise did not start"
LIBVIRT_BALLOON=none libvirt_guest_start nob 256 "idle" "$LV" || fail "nob did not start"
LIBVIRT_BALLOON=nostats libvirt_guest_start nost 384 "idle" "$LV" || fail "nost did not start"
daemon_config "$RUN" "" "backend = libvirt" "libvirt_uri = $(libvirt_uri "$LV")"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
for d in idle rise nob nost; do
    libvirt_guest_wait_ready $d "$LV" 120 || fail "$d did not boot"
done

# The domain without a balloon: listed, why, never a target.
wait_until 10 "nob listed as no-balloon" vm_is "$RUN" nob state no-balloon || fail "$(ctl status)"
err=$(vm_field "$RUN" nob error)
[[ $err == *"no balloon device"* ]] || fail "nob's reason: \"$err\""
pass "nob: state no-balloon, \"$err\""

# Stats polling turned on where it was off.
wait_until 10 "nost managed" vm_is "$RUN" nost state managed || fail "$(ctl status)"
libvirt_virsh "$LV" dumpxml nost | grep -q "<stats period='1'/>" || fail "nost: stats period not turned on"
pass "nost: stats period turned on by balloond"

# idle is reclaimed while rise is squeezed, then rise's load comes.
rss0=$(libvirt_guest_rss_kib idle "$LV")
low_rss=$rss0
echo "  t  idle: actual target rss | rise: actual target used memload"
for i in $(seq 100); do
    rss=$(libvirt_guest_rss_kib idle "$LV") || fail "idle's QEMU is gone"
    [ "$rss" -gt "$rss0" ] && rss0=$rss
    [ "$rss" -lt "$low_rss" ] && low_rss=$rss
    row=$(status_json "$RUN" | jq -r '[.vms[] | select(.name=="idle" or .name=="rise")] | sort_by(.name) | reverse |
        map("\((.actual_bytes // 0)/1048576|floor) \((.target_bytes // 0)/1048576|floor)") | join(" | ")')
    held=$(grep -o "held_mib=[0-9]*" "$LV/rise.console" | tail -1)
    [ $((i % 5)) -eq 1 ] && printf '  %-3s %s rss %s MiB | %s\n' "$i" "${row%% |*}" $((rss / 1024)) "${row#*| } $held"
    if grep -q "phase=idle" "$LV/rise.console" && [ $((rss0 - low_rss)) -ge $((200 * 1024)) ]; then break; fi
    sleep 1
done
echo "  idle's QEMU RSS: $((rss0 / 1024)) MiB -> $((low_rss / 1024)) MiB"
[ $((rss0 - low_rss)) -ge $((200 * 1024)) ] || fail "idle's RSS dropped by only $(((rss0 - low_rss) / 1024)) MiB"
pass "idle: QEMU RSS dropped by $(((rss0 - low_rss) / 1024)) MiB"
grep -q "held_mib=350" "$LV/rise.console" || fail "rise: memload did not reach 350 MiB"
[ "$(libvirt_guest_oom_count rise "$LV")" -eq 0 ] || fail "rise: OOM in the guest"
grep -q "rise: target .*guest needs more memory" "$RUN/balloond.log" || fail "rise was never deflated"
pass "rise: deflated as its load rose to 350 MiB, no OOM in the guest"
[ "$(vm_field "$RUN" nob target_bytes)" = null ] || fail "nob was given a target"

# A guest reset (libvirt's reboot event) raises the squeezed target to a
# boot-safe size at once, before the guest's kernel comes up again.
# (nost: idle, so squeezed; rise may already be at its max by now.)
squeezed_nost() { [ "$(vm_field "$RUN" nost target_bytes)" -lt $((300 * 1048576)) ]; }
wait_until 20 "nost squeezed" squeezed_nost || fail "nost not squeezed: $(mib "$(vm_field "$RUN" nost target_bytes)") MiB"
t_nost=$(vm_field "$RUN" nost target_bytes)
libvirt_virsh "$LV" reset nost >/dev/null || fail "virsh reset failed"
raised() { [ "$(vm_field "$RUN" nost target_bytes)" = $((384 * 1048576)) ]; }
wait_until 3 "nost raised after its reset" raised || fail "nost's target after reset: $(mib "$(vm_field "$RUN" nost target_bytes)") MiB"
grep -q "nost: target .*guest reset: raised to a boot-safe size" "$RUN/balloond.log" || fail "no reset event for nost"
pass "reset: nost's target raised from $(mib "$t_nost") MiB to 384 MiB (its size, below the 1 GiB boot-safe size) within 3 s"

# An operator's `virsh setmem` is an outside change: not fought. The guest
# reaches it, and balloond's stall guard takes it as the target (then
# holds the VM for a minute) rather than squeezing it back at once.
t_before=$(vm_field "$RUN" idle target_bytes)
libvirt_virsh "$LV" setmem idle 300M --live || fail "virsh setmem failed"
took=
for i in $(seq 20); do
    t=$(vm_field "$RUN" idle target_bytes)
    [ "$t" -lt $((300 * 1048576)) ] && [ "$t" != "$t_before" ] && fail "setmem fought: target $(mib "$t") MiB"
    [ "$t" = $((300 * 1048576)) ] && { took=$i; break; }
    sleep 1
done
[ -n "$took" ] || fail "setmem 300M never taken as the target ($(mib "$(vm_field "$RUN" idle actual_bytes)") MiB actual)"
pass "virsh setmem 300M: taken as the target after ${took} s ($(vm_field "$RUN" idle last_change)), not fought"

# A restart keeps the targets (same QEMU), and puts nost's period back.
t_idle=$(vm_field "$RUN" idle target_bytes)
daemon_stop "$RUN"
libvirt_virsh "$LV" dumpxml nost | grep -q "<stats period='1'/>" && fail "nost: stats period not put back at stop"
pass "nost: stats period put back when balloond stopped"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not restart"
wait_until 10 "idle restored" grep -q "idle: target .*restored from the state file" "$RUN/balloond.log" ||
    fail "idle's target was not restored"
t2=$(vm_field "$RUN" idle target_bytes)
[ "$t2" = "$t_idle" ] || fail "idle's target $(mib "$t_idle") MiB became $(mib "$t2") MiB after the restart"
pass "restart: idle's target $(mib "$t2") MiB restored"

# Destroyed: dropped within a second or two; started again: managed anew.
libvirt_virsh "$LV" destroy idle >/dev/null || fail "cannot destroy idle"
idle_gone() { ! vm_listed "$RUN" idle; }
wait_until 3 "idle dropped" idle_gone || fail "idle still listed after destroy"
libvirt_virsh "$LV" create "$LV/idle.xml" >/dev/null || fail "cannot start idle again"
wait_until 5 "idle listed again" vm_listed "$RUN" idle || fail "idle not found again"
wait_until 10 "idle managed again" vm_is "$RUN" idle state managed || fail "idle not managed again"
pass "destroy/start under the same name: dropped, then managed again"
daemon_alive "$RUN" || fail "balloond died"

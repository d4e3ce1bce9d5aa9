#!/usr/bin/env bash
# Issue 13, the libvirt side, on a real libvirtd (tests/lib/libvirt.sh:
# private, started here) with one TCG domain: 256 MiB of boot RAM and a
# 1 GiB <memory model='virtio-mem'> device (2 MiB blocks, nothing asked at
# start), a virtio balloon for the guest's stats. balloond, with
# backend = libvirt, must find the device in the live XML, grow it with
# virDomainUpdateDeviceFlags as the guest's load rises, follow what the
# guest plugged (libvirt's MEMORY_DEVICE_SIZE_CHANGE event), shrink it
# when the load frees (QEMU's RSS following), and after `virsh reset`
# raise the domain to a boot-safe size through virtio-mem.
#
# Not part of make check (about 90 s: a libvirtd start and a TCG boot);
# run it under the guest lock and quote its output:
#   flock /tmp/balloond-guests.lock scripts/libvirt-vmem-try.sh
# Exit status 0 when every step held.
set -uo pipefail
cd "$(dirname "$0")/.."
source tests/lib/guest.sh
source tests/lib/daemon.sh
source tests/lib/libvirt.sh

BOOT=256 LOAD=160
libvirt_test_begin lvvmem
ctl() { "$BUILD/balloonctl" -s "$RUN/ctl.sock" "$@"; }
f() { vm_field "$RUN" vm "$1"; }
xml_vmem() { libvirt_virsh "$LV" dumpxml vm | sed -n "/<memory model='virtio-mem'/,/<\/memory>/p"; }

libvirt_start "$LV" || fail "libvirtd did not start"
LIBVIRT_VMEM_MIB=1024 libvirt_guest_start vm $BOOT "hold:2s,alloc:${LOAD}M@12M,hold:3s,free:all,idle" "$LV" ||
    fail "the domain did not start"
echo "--- the live XML libvirt gives (sizes, and the device):"
libvirt_virsh "$LV" dumpxml vm | grep -E "<(maxMemory|memory|currentMemory) (slots|unit)=" | sed 's/^/    /'
xml_vmem | sed 's/^/    /'
libvirt_virsh "$LV" domstats --balloon vm | grep -E "balloon\.(current|maximum)=" | sed 's/^/    /'

daemon_config "$RUN" "" "backend = libvirt" "libvirt_uri = $(libvirt_uri "$LV")" "[vm vm]" "min = ${BOOT}M"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
libvirt_guest_wait_ready vm "$LV" 120 || fail "the domain did not boot"
wait_until 20 "vm managed with both actuators" vm_is "$RUN" vm actuators balloon+virtio-mem ||
    fail "actuators: $(f actuators); $(ctl status vm)"
[ "$(f size_bytes)" -eq $(((BOOT + 1024) << 20)) ] || fail "size $(f size_bytes), want ${BOOT}M + 1G"
[ "$(f vmem_block_bytes)" -eq $((2 << 20)) ] || fail "block $(f vmem_block_bytes)"
pass "found: balloon+virtio-mem, size $((BOOT + 1024)) MiB, blocks of 2 MiB"

max_pl=0
sample() { # N UNTIL...: a line a second until UNTIL holds
    local n=$1 i a t pl rq
    shift
    for i in $(seq "$n"); do
        read -r a t pl rq < <(status_json "$RUN" | jq -r '.vms[] | select(.name=="vm") | def m: (. // 0) / 1048576 | floor;
            "\(.actual_bytes|m) \(.target_bytes|m) \(.vmem_plugged_bytes|m) \(.vmem_requested_bytes|m)"')
        printf '  %-3s actual %4s target %4s plugged %4s asked %4s rss %4s %s\n' "$i" "$a" "$t" "$pl" "$rq" \
            $(($(libvirt_guest_rss_kib vm "$LV") / 1024)) "$(grep -o "held_mib=[0-9]*" "$LV/vm.console" | tail -1)"
        [ "$pl" -gt "$max_pl" ] && max_pl=$pl
        "$@" && return 0
        sleep 1
    done
    return 1
}
rss0=$(($(libvirt_guest_rss_kib vm "$LV") / 1024))
sample 90 grep -q "held_mib=$LOAD" "$LV/vm.console" || fail "memload did not reach $LOAD MiB"
rss1=$(($(libvirt_guest_rss_kib vm "$LV") / 1024))
[ "$(libvirt_guest_oom_count vm "$LV")" -eq 0 ] || fail "OOM in the guest"
[ "$max_pl" -ge 60 ] || fail "plugged only $max_pl MiB for a $LOAD MiB load"
xml_vmem | grep -E "<(requested|current) " | sed 's/^/    /'
cur_kib=$(xml_vmem | sed -n "s/.*<current unit='KiB'>\([0-9]*\)<.*/\1/p")
[ "${cur_kib:-0}" -ge $((60 << 10)) ] || fail "libvirt's <current> is ${cur_kib:-none} KiB"
pass "grown: $max_pl MiB plugged for $LOAD MiB of load (libvirt's <current> $((cur_kib >> 10)) MiB), QEMU RSS $rss0 -> $rss1 MiB"

shrunk() { [ "$(f vmem_plugged_bytes)" -le $((32 << 20)) ]; }
sample 60 shrunk || fail "not shrunk: $(ctl status vm)"
sleep 1
rss2=$(($(libvirt_guest_rss_kib vm "$LV") / 1024))
[ $((rss1 - rss2)) -ge 50 ] || fail "QEMU RSS only $rss1 -> $rss2 MiB after unplugging"
pass "shrunk to $(mib "$(f vmem_plugged_bytes)") MiB plugged; QEMU RSS $rss1 -> $rss2 MiB"

t0=$(f target_bytes)
libvirt_virsh "$LV" reset vm >/dev/null || fail "virsh reset refused"
boot_safe() { [ "$(f target_bytes)" -ge $((1 << 30)) ] && [ "$(f vmem_requested_bytes)" -ge $(((1024 - BOOT) << 20)) ]; }
wait_until 15 "a boot-safe size after the reset" boot_safe ||
    fail "after the reset: target $(mib "$(f target_bytes)") MiB, asked $(mib "$(f vmem_requested_bytes)") MiB"
xml_vmem | grep -E "<requested " | sed 's/^/    /'
req_kib=$(xml_vmem | sed -n "s/.*<requested unit='KiB'>\([0-9]*\)<.*/\1/p")
[ "${req_kib:-0}" -ge $(((1024 - BOOT) << 10)) ] || fail "libvirt's <requested> is ${req_kib:-none} KiB"
pass "reset: target $(mib "$t0") -> $(mib "$(f target_bytes)") MiB, libvirt's <requested> $((req_kib >> 10)) MiB"
ctl status vm | grep -A1 "^vm " | sed 's/^/    /'
daemon_alive "$RUN" || fail "balloond died"

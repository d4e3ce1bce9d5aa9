#!/usr/bin/env bash
# Issue 13's benchmark: reclaim 512 MiB from a 1 GiB guest and give it
# back, with each actuator in turn on the same load, balloond driving:
#   balloon       1024 MiB of RAM, virtio-balloon
#   virtio-mem    512 MiB of boot RAM + a virtio-mem device with 512 MiB
#                 plugged (of 1 GiB), and a balloon for the guest's stats
#                 (balloond gives it less than a block)
#   balloon+fpr   as balloon, with free-page-reporting=on
# The load: 600 MiB touched and freed, then 150 MiB held (what a guest
# that ran a job and went quiet looks like). Then `balloonctl vm target`
# 512M, and back to 1024M. Measured: seconds until actual is within
# 16 MiB of the target, QEMU's RSS before and after, the guest's MemTotal
# and MemAvailable (its own stats, as the balloon driver reports them).
# Usage: bench/vmem.sh BUILD_DIR   (make bench-vmem; about 4 minutes)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
source tests/lib/guest.sh
source tests/lib/daemon.sh
OUT=bench/vmem.md
LOAD="alloc:600M,hold:3s,free:all,alloc:150M,idle"

rows=()
RUN=
# Whatever happens (a failed run, ^C), this run's daemon and guest stop.
cleanup() {
    [ -n "$RUN" ] || return 0
    daemon_stop "$RUN"; guest_stop_all "$RUN"; rm -rf "$RUN"; RUN=
}
trap cleanup EXIT
ctl() { "$BUILD/balloonctl" -s "$RUN/ctl.sock" "$@"; }
field() { vm_field "$RUN" g "$1"; }
rss_mib() { echo $(($(guest_rss_kib g "$RUN") / 1024)); }
# MemTotal/MemAvailable in MiB, as the guest's balloon driver reports them
# (its stats, read on a second QMP socket: balloond shows no estimate for a
# pinned VM, and holds the first socket).
guest_mem() {
    guest_qmp "$RUN/g.mon" qom-get '{"path": "/machine/peripheral/balloon0", "property": "guest-stats"}' |
        jq -r '.stats | "\(."stat-total-memory"/1048576|floor)/\(."stat-available-memory"/1048576|floor)"'
}
# settle TARGET_MIB: seconds (0.1 s steps) until actual is within 16 MiB.
settle() {
    local want=$(($1 << 20)) t0 a
    t0=$(_guest_now)
    for _ in $(seq 1200); do
        a=$(field actual_bytes)
        if [ "$a" != null ] && [ $((a > want ? a - want : want - a)) -le $((16 << 20)) ]; then
            _guest_elapsed "$t0"; return 0
        fi
        sleep 0.1
    done
    echo "timeout"
}

run_one() {
    local mode=$1 boot=1024 r0 r1 r2 m0 m1 m2 t1 t2
    RUN=$(mktemp -d /tmp/balloond-bench.XXXXXX)
    trap cleanup RETURN
    daemon_config "$RUN" "" "[defaults]" "min = 256M"
    daemon_start "$RUN" --no-host-tuning || return 1
    case $mode in
    virtio-mem) boot=512; export GUEST_VMEM_MIB=1024 GUEST_VMEM_REQUESTED_MIB=512 ;;
    balloon+fpr) export GUEST_BALLOON_PROPS=free-page-reporting=on ;;
    esac
    GUEST_QEMU_ARGS="-qmp unix:$RUN/g.mon,server=on,wait=off" guest_start g "$boot" "$LOAD" "$RUN/qmp" "$RUN" ||
        return 1
    unset GUEST_VMEM_MIB GUEST_VMEM_REQUESTED_MIB GUEST_BALLOON_PROPS
    guest_wait_ready g "$RUN" 120 || return 1
    wait_until 60 "g managed" vm_is "$RUN" g state managed || return 1
    ctl vm target g 1024M >/dev/null
    wait_until 60 "the load in place" grep -q "phase=idle held_mib=150" "$RUN/g.console" || return 1
    settle 1024 >/dev/null
    sleep 5   # free page reporting works in 2 s batches: let it finish
    r0=$(rss_mib) m0=$(guest_mem)
    ctl vm target g 512M >/dev/null
    t1=$(settle 512); sleep 2
    r1=$(rss_mib) m1=$(guest_mem)
    ctl vm target g 1024M >/dev/null
    t2=$(settle 1024); sleep 2
    r2=$(rss_mib) m2=$(guest_mem)
    rows+=("| $mode | $t1 | $r0 -> $r1 ($((r0 - r1))) | $m0 -> $m1 | $t2 | $r2 | $m2 | $(guest_oom_count g "$RUN") |")
    echo "${rows[-1]}"
}

for mode in balloon virtio-mem balloon+fpr; do
    echo "== $mode"
    run_one "$mode" || echo "| $mode | failed |" | tee -a /dev/stderr
done
{
    echo "# Reclaim 512 MiB and give it back: balloon, virtio-mem, free page reporting"
    echo
    echo "bench/vmem.sh on $(date -u +%Y-%m-%d), QEMU $(qemu-system-x86_64 --version | sed -n '1s/.*version \([^ ]*\).*/\1/p'), TCG, guest kernel $(cat "${GUEST_DIR:-build/guest}/kernel.version" 2>/dev/null)."
    echo "A 1 GiB guest (virtio-mem: 512 MiB boot + 512 of a 1 GiB device) that touched 600 MiB, freed it and holds 150 MiB;"
    echo "balloond pinned to 512M, then back to 1024M. RSS: QEMU's, MiB; MemTotal/MemAvailable: the guest's own, MiB."
    echo
    echo "| actuator | reclaim s | QEMU RSS before -> after (returned) | guest MemTotal/MemAvailable before -> after | give back s | RSS after give-back | MemTotal/MemAvailable after | guest OOM |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$OUT"
cat "$OUT"

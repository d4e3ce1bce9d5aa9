#!/usr/bin/env bash
# make demo: three real guests (QEMU/TCG) in a budget cgroup, balloond
# managing them, a live status table for about a minute while the guests'
# loads change, then a summary. Everything started here is stopped here.
# GUESTS_BACKEND=libvirt (make demo-libvirt): the same guests as libvirt
# domains of a private libvirtd in the budget cgroup, balloond with
# backend = libvirt (scripts/guests.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
export BUILD=${1:-build}
source tests/lib/guest.sh
source tests/lib/daemon.sh
source scripts/guests.sh

if [ "$(id -u)" -ne 0 ]; then
    echo "make demo needs root (cgroups, QEMU)" >&2
    exit 1
fi

BUDGET_MIB=1280
DURATION_S=${DEMO_SECONDS:-70}
RUN=$(mktemp -d /tmp/balloond-demo.XXXXXX)
CG=$(cgroup_create "balloond-demo-$$" $((BUDGET_MIB * 1048576))) || { echo "cannot create the budget cgroup" >&2; exit 1; }
cleanup() {
    daemon_stop "$RUN"
    guests_end
    cgroup_remove "$CG"
    rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Three 512 MiB guests (1.5 GiB configured, plus QEMU's own ~150 MiB each)
# in a 1.25 GiB budget. Their loads, scripted by memload:
#   web    300 MiB for 10 s, then idle            -> reclaimable
#   batch  idle for 25 s, then rises to 250 MiB   -> must be given memory
#   cache  200 MiB for 30 s, then frees 150 MiB   -> reclaimable later
declare -A LOAD=(
    [web]="alloc:300M,hold:10s,free:all,idle"
    [batch]="alloc:30M,hold:25s,alloc:220M@20M,idle"
    [cache]="alloc:200M,hold:30s,free:150M,idle"
)
guests_begin "$RUN" "$CG" || exit 1
daemon_config "$RUN" "$CG" "${GUESTS_CONF[@]}" "reserve = 64M" "[defaults]" "min = 128M" "buffer = 20"
daemon_start "$RUN" -v 2>/dev/null || { cat "$RUN/balloond.log"; exit 1; }
for vm in web batch cache; do
    guests_start "$vm" 512 "${LOAD[$vm]}" || exit 1
done

echo "balloond demo: 3 guests x 512 MiB ($GUESTS_KIND) in a ${BUDGET_MIB} MiB budget cgroup ($CG)"
echo "guests booting under TCG (about 10 s)..."
for vm in web batch cache; do guests_wait_ready "$vm" 120 || exit 1; done

tty=0; [ -t 1 ] && tty=1
peak_rss=0
sum_rss() {
    local s=0 r
    for vm in web batch cache; do r=$(guests_rss_kib "$vm"); s=$((s + ${r:-0})); done
    echo $((s / 1024))
}
start=$(date +%s)
while :; do
    t=$(($(date +%s) - start))
    rss=$(sum_rss)
    [ "$rss" -gt "$peak_rss" ] && peak_rss=$rss
    if [ "$tty" -eq 1 ]; then
        printf '\033[H\033[2J'
        echo "balloond demo  t=${t}s/${DURATION_S}s  QEMU RSS total ${rss} MiB (budget ${BUDGET_MIB} MiB)"
        echo
        "$BUILD/balloonctl" -s "$RUN/ctl.sock" status
        echo
        echo "guest loads: web 300M then idle; batch idle then +220M at 20M/s; cache 200M, frees 150M at ~35 s"
        for vm in web batch cache; do
            printf '  %-6s %s\n' "$vm" "$(grep -ao 'memload: phase=[a-z]* held_mib=[0-9]*' "$GUESTS_DIR/$vm.console" | tail -1)"
        done
        echo
        echo "decisions (latest):"
        grep -a "target" "$RUN/balloond.log" | tail -8 | sed 's/^/  /'
    elif [ $((t % 10)) -eq 0 ]; then
        echo "--- t=${t}s  QEMU RSS total ${rss} MiB"
        "$BUILD/balloonctl" -s "$RUN/ctl.sock" status
    fi
    [ "$t" -ge "$DURATION_S" ] && break
    sleep 1
done

echo
echo "=== summary after ${DURATION_S} s"
"$BUILD/balloonctl" -s "$RUN/ctl.sock" status
reclaimed=$("$BUILD/balloonctl" -s "$RUN/ctl.sock" --json status |
    jq '[.vms[] | select(.actual_bytes != null) | .size_bytes - .actual_bytes] | add / 1048576 | floor')
end_rss=$(sum_rss)
host_oom=$(cgroup_oom_kills "$CG")
guest_oom=0
for vm in web batch cache; do guest_oom=$((guest_oom + $(guests_oom_count "$vm"))); done
decisions=$(grep -ac "vm .*: target .* -> " "$RUN/balloond.log")
printf '  %-36s %s\n' \
    "memory reclaimed by balloons:" "${reclaimed} MiB of 1536 MiB configured" \
    "QEMU RSS, peak -> now:" "${peak_rss} MiB -> ${end_rss} MiB" \
    "host OOM kills (QEMU killed):" "$host_oom" \
    "guest OOM kills:" "$guest_oom" \
    "balloon decisions:" "$decisions" \
    "balloond log:" "$(grep -c . "$RUN/balloond.log") lines (kept until cleanup)"
echo "cleaning up: stopping balloond and the guests, removing the cgroup"

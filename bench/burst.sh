#!/usr/bin/env bash
# bench/burst.sh — issue 9: guest OOM kills caused by balloond on a host
# with plenty of memory, and the memory it still reclaims, on real TCG
# guests with bursty loads. Run as root, by hand or with `make bench-burst`;
# not part of `make check`. Wrap it in the guests' lock when other users
# boot guests: flock /tmp/balloond-guests.lock bench/burst.sh ...
#
#   bench/burst.sh [BUILD_DIR...]
#
# For each build (default: build): one balloond, and one 512 MiB guest per
# burst size (BURST_BENCH_SIZES, default "100 200 300" MiB), each running
# memload alloc:SIZE,hold:10s,free:all,hold:15s,loop (full-speed
# allocations after 15 s of idle), in a budget cgroup large enough that
# the host stays plenty (BURST_BENCH_BUDGET_MIB, default 3072). After the
# guests are ready, BURST_BENCH_SECONDS (default 120) of sampling, once a
# second: each guest's actual size. Then one table row per guest: bursts
# started, guest OOM kills, lowest and average actual, and the average
# reclaimed (512 MiB - actual); and whether the host ever left plenty
# (then OOM kills are not balloond's fault alone). Guests, daemon and
# cgroup are removed at the end, also on failure or Ctrl-C.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
source tests/lib/guest.sh
source tests/lib/daemon.sh
export GUEST_DIR=${GUEST_DIR:-$repo/build/guest}

builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=(build)
sizes=${BURST_BENCH_SIZES:-"100 200 300"}
secs=${BURST_BENCH_SECONDS:-120}
budget_mib=${BURST_BENCH_BUDGET_MIB:-3072}
guest_mib=512

RUN=
CG=
bench_cleanup() {
    [ -n "$RUN" ] || return 0
    daemon_stop "$RUN"
    guest_stop_all "$RUN"
    [ -n "$CG" ] && cgroup_remove "$CG"
    rm -rf "$RUN"
    RUN=
    CG=
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# run_one BUILD: prints one row per guest.
run_one() {
    local b=$1 s i act name
    RUN=$(mktemp -d /tmp/balloond-bench-burst.XXXXXX)
    CG=$(cgroup_create "balloond-bench-burst-$$" $((budget_mib * 1048576))) || return 1
    BUILD=$b daemon_config "$RUN" "$CG"
    BUILD=$b daemon_start "$RUN" --no-host-tuning || return 1
    for s in $sizes; do
        guest_start "b$s" "$guest_mib" "alloc:${s}M,hold:10s,free:all,hold:15s,loop" "$RUN/qmp" "$RUN" "$CG" || return 1
    done
    for s in $sizes; do
        guest_wait_ready "b$s" "$RUN" 180 || return 1
    done
    declare -A sum=() low=() cnt=()
    for _ in $(seq "$secs"); do
        while read -r name act; do
            [ "$act" = null ] && continue
            sum[$name]=$((${sum[$name]:-0} + act / 1048576))
            cnt[$name]=$((${cnt[$name]:-0} + 1))
            [ -z "${low[$name]:-}" ] || [ $((act / 1048576)) -lt "${low[$name]}" ] && low[$name]=$((act / 1048576))
        done < <(BUILD=$b status_json "$RUN" | jq -r '.vms[] | "\(.name) \(.actual_bytes)"')
        sleep 1
    done
    local plenty=yes
    grep -q "host plenty -> " "$RUN/balloond.log" && plenty=no
    for s in $sizes; do
        i=b$s
        local avg=$((${sum[$i]:-0} / ${cnt[$i]:-1}))
        printf '| %s | %s MiB | %s | %s | %s MiB | %s MiB | %s MiB | %s |\n' "$b" "$s" \
            "$(grep -ac 'phase=alloc held_mib=0' "$RUN/$i.console")" "$(guest_oom_count "$i" "$RUN")" \
            "${low[$i]:-?}" "$avg" "$((guest_mib - avg))" "$plenty"
    done
    bench_cleanup
}

echo "| build | burst | bursts | guest OOM kills | lowest actual | average actual | reclaimed on average | host always plenty |"
echo "|---|---|---|---|---|---|---|---|"
for b in "${builds[@]}"; do
    run_one "$b" || { echo "burst.sh: run with $b failed" >&2; exit 1; }
done

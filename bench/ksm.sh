#!/usr/bin/env bash
# bench/ksm.sh — memory saved and ksmd CPU spent by balloond's KSM
# controller (src/host/ksm_decide.c ksm_decide), by Debian's real ksmtuned
# (the package's /usr/sbin/ksmtuned and /etc/ksmtuned.conf, unmodified) and
# by the re-implementation of ksmtuned's algorithm that the simulator uses
# (ksmtuned_decide), on the same three guests.  Run as root, by hand or with
# `make bench-ksm` (under flock /tmp/balloond-guests.lock); not part of
# `make check`.
#
#   bench/ksm.sh [BUILD_DIR]
#
# For each controller: boot three identical TCG guests (512 MiB, memload
# KSM_BENCH_SPEC), let memload finish allocating, then run bench/ksmdrive
# with that controller for KSM_BENCH_SECONDS, one decision a second, on the
# host's real /sys/kernel/mm/ksm, with a budget 5% below what the guests use
# (so both controllers see a host under pressure: balloond "tight",
# ksmtuned "free < thres").  Then stop the guests and print one table.
#
# Controllers:
#   balloond, balloond-advisor  ksm_decide, one decision a second
#   ksmtuned-reimpl             ksmtuned_decide (the re-implementation),
#                               one decision a second
#   ksmtuned                    Debian's real ksmtuned, its own default
#                               interval (KSM_MONITOR_INTERVAL 60 s)
#   ksmtuned-iN                 the real ksmtuned with KSM_MONITOR_INTERVAL=N
# The real ksmtuned is started by this script (it forks its loop and exits;
# PIDFILE points into the run directory) in a private mount namespace whose
# /proc/meminfo is a file that ksmdrive (controller "observe": it samples,
# decides nothing, writes no knob) rewrites every second with the same
# emulated host the other controllers see: MemTotal = the budget, MemFree =
# budget - used, Buffers = Cached = 0.  Its committed memory is its own
# `ps -o rsz=` over `pgrep -f '^qemu-system.*-enable-kvm'`: real KVM guests
# carry -enable-kvm; these TCG guests carry a fw_cfg item named
# opt/balloond/ksmtuned-enable-kvm (ignored by the guest) so that the same
# pattern finds them.  It gets no SIGUSR1 (nothing sends one when the guests
# start), so its first adjustment comes after its first sleep.  It is
# stopped by its process group (its loop and that loop's sleep) when the
# run ends, also on failure.  Its debug log (DEBUG=1, LOGFILE) is kept in
# BUILD_DIR/bench-ksm/<controller>.ksmtuned.log.
#
# The host's KSM settings are saved first and restored at the end, also on
# failure or Ctrl-C (ksmdrive restores its own changes too).
#
# Environment:
#   KSM_BENCH_SECONDS      per controller (default 120)
#   KSM_BENCH_CONTROLLERS  default "balloond balloond-advisor ksmtuned-reimpl
#                          ksmtuned ksmtuned-i10"
#   KSM_BENCH_SPEC         memload spec (default alloc:200M,idle)
#   KSM_BENCH_GUEST_MIB    default 512
#   KSM_BENCH_WAIT_QUIET   seconds to wait for other QEMU processes to go
#                          away before each run (default 0: warn and go on)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# shellcheck source=tests/lib/guest.sh
. tests/lib/guest.sh

build=${1:-build}
secs=${KSM_BENCH_SECONDS:-120}
controllers=${KSM_BENCH_CONTROLLERS:-"balloond balloond-advisor ksmtuned-reimpl ksmtuned ksmtuned-i10"}
tuned_bin=/usr/sbin/ksmtuned
spec=${KSM_BENCH_SPEC:-alloc:200M,idle}
mib=${KSM_BENCH_GUEST_MIB:-512}
wait_quiet=${KSM_BENCH_WAIT_QUIET:-0}
ksm=/sys/kernel/mm/ksm
out=$build/bench-ksm
knobs=(advisor_target_scan_time advisor_max_cpu advisor_mode pages_to_scan sleep_millisecs run)

[ -w "$ksm/run" ] || { echo "ksm.sh: needs root and a kernel with KSM ($ksm/run)" >&2; exit 1; }
for c in $controllers; do
	case $c in
	balloond | balloond-advisor | ksmtuned-reimpl) ;;
	ksmtuned | ksmtuned-i[1-9] | ksmtuned-i[1-9]*[0-9])
		[ -x "$tuned_bin" ] || { echo "ksm.sh: $c needs Debian's ksmtuned ($tuned_bin): run scripts/deps.sh" >&2; exit 1; }
		[ "${c#ksmtuned-i}" = "$c" ] || [[ ${c#ksmtuned-i} =~ ^[0-9]+$ ]] ||
			{ echo "ksm.sh: controller '$c': the interval after -i must be whole seconds" >&2; exit 2; } ;;
	*) echo "ksm.sh: unknown controller '$c' (known: balloond, balloond-advisor, ksmtuned-reimpl, ksmtuned, ksmtuned-iSECONDS)" >&2; exit 2 ;;
	esac
done
mkdir -p "$out"
# shellcheck disable=SC2046  # pkg-config output is meant to be split
gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE $(find src -type d -printf "-I%p ") \
	bench/ksmdrive.c src/host/ksm.c src/host/ksm_decide.c src/host/sysfs.c src/util.c $(pkg-config --cflags --libs libsystemd) -lm \
	-o "$out/ksmdrive"

declare -A saved=()
knob_get() {  # the value as written back: the [word] for advisor_mode
	local v
	v=$(cat "$ksm/$1")
	[ "$1" != advisor_mode ] || { v=${v#*[}; v=${v%%]*}; }
	echo "$v"
}
save_knobs() {
	local k
	for k in "${knobs[@]}"; do
		[ ! -e "$ksm/$k" ] || saved[$k]=$(knob_get "$k")
	done
}
restore_knobs() {
	local k v avail sharing
	for k in "${knobs[@]}"; do
		[ -n "${saved[$k]:-}" ] || continue
		v=${saved[$k]}
		# The advisor owns pages_to_scan (writes are EINVAL) unless off.
		if [ "$k" = pages_to_scan ] && [ -e "$ksm/advisor_mode" ] &&
		   [ "$(knob_get advisor_mode)" != none ]; then continue; fi
		if [ "$k" = run ] && [ "$v" = 2 ]; then
			# run=2 unmerges everything: only if it fits in MemAvailable.
			avail=$(awk '/^MemAvailable:/ { print $2 * 1024 }' /proc/meminfo)
			sharing=$(cat "$ksm/pages_sharing")
			if [ $((sharing * 4096)) -gt "$avail" ]; then
				echo "ksm.sh: not restoring run=2 ($sharing pages merged, $avail bytes available): run=0" >&2
				v=0
			fi
		fi
		[ "$(knob_get "$k")" = "$v" ] || echo "$v" > "$ksm/$k" ||
			echo "ksm.sh: cannot restore $ksm/$k to $v" >&2
	done
}

# shellcheck source=bench/ksmtuned.sh
. bench/ksmtuned.sh

RUN=$(mktemp -d /tmp/ksm-bench.XXXXXX)
drive=
cleanup() {
	tuned_stop
	[ -z "$drive" ] || { kill "$drive" 2>/dev/null; wait "$drive" 2>/dev/null; } || true
	guest_stop_all "$RUN"
	restore_knobs
	rm -rf "$RUN"
}
save_knobs
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Other QEMU processes (KSM merges their memory too: it counts in
# pages_sharing and in ksmd's CPU) and balloond daemons (they set the same
# knobs every second).
others() {
	local q b
	q=$(pgrep -c -f '^qemu-system' || true)
	b=$(pgrep -c -x balloond || true)
	echo $((q + b))
}

# wait_phase NAME TIMEOUT: until memload says it is idle (allocation done).
wait_idle() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		grep -qs 'phase=idle' "$RUN/$1.console" && return 0
		sleep 0.1
	done
	echo "ksm.sh: $1: memload not idle after $2 s" >&2
	return 1
}

declare -A busy=()
for c in $controllers; do
	for ((i = 0; i < wait_quiet && $(others) > 0; i++)); do sleep 1; done
	n=$(others)
	# Same start for every controller: KSM stopped while the guests boot.
	[ ! -e "$ksm/advisor_mode" ] || echo none > "$ksm/advisor_mode"
	echo 20 > "$ksm/sleep_millisecs"
	if [ "$n" -eq 0 ]; then
		# Pages of exited guests stay counted until ksmd walks past their
		# slots; with nothing else mergeable, a short fast scan clears them.
		echo 1000 > "$ksm/pages_to_scan"
		echo 1 > "$ksm/run"
		for ((i = 0; i < 30; i++)); do
			[ "$(( $(cat "$ksm/pages_sharing") + $(cat "$ksm/pages_volatile") ))" -gt 0 ] || break
			sleep 1
		done
	fi
	echo 0 > "$ksm/run"
	echo 100 > "$ksm/pages_to_scan"
	pids=()
	for g in ksm1 ksm2 ksm3; do
		GUEST_QEMU_ARGS="-fw_cfg name=opt/balloond/ksmtuned-enable-kvm,string=tcg" \
			guest_start "$g" "$mib" "$spec" "$RUN/qmp" "$RUN"
	done
	for g in ksm1 ksm2 ksm3; do
		guest_wait_ready "$g" "$RUN" 120
		wait_idle "$g" 120
		pids+=("$(guest_pid "$g" "$RUN")")
	done
	sleep 5
	rss=0
	for g in ksm1 ksm2 ksm3; do rss=$((rss + $(guest_rss_kib "$g" "$RUN"))); done
	budget=$((rss * 100 / 95 / 1024))
	echo "== $c: guests' RSS $((rss / 1024)) MiB, budget $budget MiB, other QEMU/balloond: $n" >&2
	# Anyone else during the run? (The three QEMUs are ours.)
	echo "$n" > "$RUN/others"
	(
		while sleep 2; do
			o=$(( $(others) - 3 ))
			[ "$o" -le "$(cat "$RUN/others")" ] || echo "$o" > "$RUN/others"
		done
	) &
	watch=$!
	case $c in
	ksmtuned | ksmtuned-i*)
		interval=60
		[ "$c" = ksmtuned ] || interval=${c#ksmtuned-i}
		tuned_run "$interval" "$out/$c" "$secs" "$budget" "${pids[@]}" ;;
	ksmtuned-reimpl) "$out/ksmdrive" ksmtuned-reimpl "$secs" "$budget" "${pids[@]}" > "$out/$c.log" ;;
	*) "$out/ksmdrive" "$c" "$secs" "$budget" "${pids[@]}" > "$out/$c.log" ;;
	esac
	kill "$watch" 2>/dev/null || true
	wait "$watch" 2>/dev/null || true
	busy[$c]=$(cat "$RUN/others")
	grep '^# pid' "$out/$c.log" >&2 || true
	guest_stop_all "$RUN"
	echo 0 > "$ksm/run"
done

# One table. Memory saved = pages_sharing x 4 KiB (all of KSM: check the
# last column, the guests' own ksm_merging_pages, when others ran).
printf '\n%-20s %9s %9s %9s %10s %14s %12s %s\n' controller "saved@30s" "saved@60s" \
	"saved@${secs}s" "ksmd_cpu_s" "MiB/ksmd_cpu_s" "merging_MiB" "others"
for c in $controllers; do
	awk -v c="$c" -v end="$secs" -v n="${busy[$c]}" '
		/^# pid/ { merging += $5 }
		!/^#/ { t = $1; at[t] = $2 * 4096 / 1048576; cpu = $7 / 1000; last = t }
		END {
			s30 = at[last]; if (30 in at) s30 = at[30]
			s60 = at[last]; if (60 in at) s60 = at[60]
			e = at[last]; if (end in at) e = at[end]
			per = 0; if (cpu > 0) per = e / cpu
			printf "%-20s %8.1fM %8.1fM %8.1fM %10.2f %14.1f %11.1fM %s\n", c, s30, s60, e,
			       cpu, per, merging * 4096 / 1048576, n
		}' "$out/$c.log"
done
echo "logs: $out/<controller>.log (one line a second)"

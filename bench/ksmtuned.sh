# shellcheck shell=bash disable=SC2154  # $out, $RUN, $tuned_bin: set by bench/ksm.sh
# bench/ksmtuned.sh — runs Debian's real ksmtuned for bench/ksm.sh (sourced;
# uses its $out, $RUN, $tuned_bin and $drive).
#
# ksmtuned (/usr/sbin/ksmtuned) sources /etc/ksmtuned.conf, then takes
# KSM_MONITOR_INTERVAL, KSM_NPAGES_*, KSM_SLEEP_MSEC, KSM_THRES_* as
# ${VAR:-default}, DEBUG and LOGFILE from the config or the environment,
# and PIDFILE as ${PIDFILE-/var/run/ksmtune.pid}.  It reads MemTotal once
# at start, then every KSM_MONITOR_INTERVAL s (sleep, then adjust) reads
# MemFree + Buffers + Cached and the RSS of `pgrep -f
# '^qemu-system.*-enable-kvm'`, and writes run, pages_to_scan and
# sleep_millisecs.  It forks its loop (`loop &`), writes the loop's PID to
# PIDFILE and exits.  So: it is started in its own session (setsid: its
# loop and the loop's `sleep` share one process group) and stopped by that
# group, whose id is read from the PID it wrote.

tuned_pgid=

# tuned_conf_check: the config must not set what we pass in the environment
# (the script sources it before reading the environment's defaults).
tuned_conf_check() {
	local set
	set=$(grep -E '^[[:space:]]*(KSM_MONITOR_INTERVAL|DEBUG|LOGFILE|PIDFILE)=' /etc/ksmtuned.conf 2>/dev/null || true)
	[ -z "$set" ] || echo "ksm.sh: /etc/ksmtuned.conf sets $set: it wins over this benchmark's settings" >&2
}

# tuned_start INTERVAL MEMINFO LOG: start the real ksmtuned seeing MEMINFO as
# its /proc/meminfo; sets tuned_pgid.
tuned_start() {
	local pidfile=$RUN/ksmtuned.pid pid i
	rm -f "$pidfile"
	: > "$3"
	tuned_conf_check
	# shellcheck disable=SC2016  # $1 and $2 are for that sh
	KSM_MONITOR_INTERVAL=$1 PIDFILE=$pidfile DEBUG=1 LOGFILE=$3 \
		unshare -m --propagation private \
		sh -c 'mount --bind "$1" /proc/meminfo && exec setsid "$2"' ksmtuned "$2" "$tuned_bin" ||
		{ echo "ksm.sh: starting $tuned_bin failed" >&2; return 1; }
	for ((i = 0; i < 50; i++)); do
		pid=$(cat "$pidfile" 2>/dev/null || true)
		[ -z "$pid" ] || break
		sleep 0.1
	done
	[ -n "$pid" ] || { echo "ksm.sh: $tuned_bin wrote no PID to $pidfile" >&2; return 1; }
	tuned_pgid=$(ps -o pgid= -p "$pid" | tr -d ' ')
	[ -n "$tuned_pgid" ] || { echo "ksm.sh: ksmtuned's loop (pid $pid) is gone; its log:" >&2; cat "$3" >&2; return 1; }
	echo "== ksmtuned: loop pid $pid, process group $tuned_pgid, interval $1 s" >&2
}

# tuned_stop: TERM to ksmtuned's process group, KILL after 5 s.
tuned_stop() {
	local i
	[ -n "$tuned_pgid" ] || return 0
	kill -TERM -- "-$tuned_pgid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		pgrep -g "$tuned_pgid" >/dev/null || break
		sleep 0.1
	done
	if pgrep -g "$tuned_pgid" >/dev/null; then
		kill -KILL -- "-$tuned_pgid" 2>/dev/null || true
	fi
	tuned_pgid=
}

# tuned_run INTERVAL PREFIX SECONDS BUDGET_MIB PID...: ksmdrive observes
# (PREFIX.log) while the real ksmtuned drives KSM (PREFIX.ksmtuned.log).
tuned_run() {
	local interval=$1 prefix=$2 i rc=0
	shift 2
	: > "$RUN/meminfo"
	KSM_MEMINFO_OUT=$RUN/meminfo "$out/ksmdrive" observe "$@" > "$prefix.log" &
	drive=$!
	for ((i = 0; i < 50; i++)); do
		[ ! -s "$RUN/meminfo" ] || break
		sleep 0.1
	done
	[ -s "$RUN/meminfo" ] || { echo "ksm.sh: ksmdrive wrote no $RUN/meminfo" >&2; return 1; }
	tuned_start "$interval" "$RUN/meminfo" "$prefix.ksmtuned.log" || return 1
	wait "$drive" || rc=$?
	drive=
	tuned_stop
	return "$rc"
}

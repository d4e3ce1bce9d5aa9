#!/usr/bin/env bash
# bench/scale.sh — scale benchmark (issue 12): one balloond against N fake
# QMP VMs served by one process (build/bench/loadqmp, bench/loadqmp*.c),
# for each N in SCALE_NS.  Run by `make bench-scale` (under
# flock /tmp/balloond-guests.lock), not by `make check`.
#
#   bench/scale.sh [BUILD_DIR]
#   SCALE_NS="100 1000 3000 5000"  the VM counts, one run each
#   SCALE_WINDOW_S=60              the steady window measured
#   SCALE_SETTLE_S=10              wait after all N are managed, before it
#   SCALE_SAMPLES=5                status and /metrics requests timed after it
#   SCALE_ATTACH_TIMEOUT_S=300     give up on an N whose VMs do not all attach
#   SCALE_REPORT_ONLY=1            no runs: table, plot and scale.md from bench/out
#
# Each run: loadqmp makes N sockets (vm00000..) in a private directory;
# balloond starts with --no-host-tuning and a private config (socket_dir,
# control_socket, state_file, metrics on a free 127.0.0.1 port, interval
# 1s, everything else default: the budget is the host's MemTotal, and as
# the fake guests use no host memory the host stays "plenty"). Both run
# under prlimit --nofile=65536:65536 (or the hard limit if lower and not
# raisable) so that 5000 VMs fit whatever balloond's own RLIMIT_NOFILE
# handling.
#
# Columns (bench/scale.md):
#   attach s     balloond's start until `balloonctl --json status` shows all
#                N "managed" (polled every 0.25 s); "(/metrics)" when status
#                gave no answer (balloonctl gives up after 5 s) and the count
#                of balloond_vm_managed 1 in /metrics was used instead
#   CPU %        balloond's utime/stime (/proc/PID/stat) over the window,
#                % of one core
#   us/VM-tick   that CPU time / (N x ticks), ticks = cycles loadqmp saw
#   RSS, fds     VmRSS and /proc/PID/fd at the end of the window
#   ticks        polling cycles loadqmp saw in the window (balloond does
#                not report its own ticks), and the window / ticks: 1.00 s
#                while balloond keeps up with its interval
#   tick late    from loadqmp's side too: the first guest-stats poll of each
#                cycle against a 1 s grid anchored at the earliest cycle of
#                the window (a cycle more than half an interval late moves
#                to the next grid point: beyond that, read the period), p50/max
#   poll sweep   first to last guest-stats poll of a cycle: how long a tick
#                takes to send every VM its polls, p50/max
#   QMP/VM/s     commands loadqmp received in the window / N / window
#   status, /metrics  median wall time of SCALE_SAMPLES `balloonctl status`
#                (text) and curl /metrics (60 s timeout) after the window,
#                and bytes per VM; "no answer" when none of them answered
#   deflate      a "rise" guest's stats jump from 12% to 70% used; from the
#                stats update that shows it until loadqmp receives a balloon
#                command above the target of that moment, p50/p90/max
#                (answered/needed; a rise whose target already covered it is
#                not counted)
#   log/s        balloond's stderr lines in the window per second, by level
#   load         /proc/loadavg 1-minute at the window's end (the machine is
#                shared: other work there shows up in it)
#   server CPU   loadqmp's own, % of one core (it must not be the bottleneck)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
REPO=$(pwd)
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "no build directory ${1:-build}" >&2; exit 1; }
NS=${SCALE_NS:-"100 1000 3000 5000"}
WINDOW_S=${SCALE_WINDOW_S:-60}
SETTLE_S=${SCALE_SETTLE_S:-10}
SAMPLES=${SCALE_SAMPLES:-5}
ATTACH_TIMEOUT_S=${SCALE_ATTACH_TIMEOUT_S:-300}
# 65536, or the hard limit when lower and not ours to raise (a container
# without CAP_SYS_RESOURCE: 20000 on the machine of the first runs, still
# room for loadqmp's 2 x 5000 descriptors).
NOFILE=$(ulimit -Hn)
[ "$NOFILE" = unlimited ] || [ "$NOFILE" -gt 65536 ] && NOFILE=65536
OUT=$REPO/bench/out
CSV=$OUT/scale.csv
HZ=$(getconf CLK_TCK)

for f in balloond balloonctl bench/loadqmp; do
	[ -x "$BUILD/$f" ] || { echo "$BUILD/$f missing: make all $BUILD/bench/loadqmp" >&2; exit 1; }
done
for c in jq gnuplot curl prlimit ss; do
	command -v "$c" >/dev/null || { echo "$c not found" >&2; exit 1; }
done
mkdir -p "$OUT"

RUN= BPID= SPID= ATTACH= ATTACH_VIA= PORT= MANAGED=
stop_pid() { # PID: SIGTERM, wait up to 10 s, then SIGKILL; only our own children
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
run_end() {
	stop_pid "$BPID"
	stop_pid "$SPID"
	[ -n "$RUN" ] && rm -rf "$RUN"
	RUN= BPID= SPID=
}
trap 'run_end; exit 130' INT TERM
trap run_end EXIT

now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.2f", b - a }'; }
free_port() {
	local p
	for p in $(shuf -i 20000-60000 -n 100); do
		[ -z "$(ss -Hltn "sport = :$p")" ] && { echo "$p"; return 0; }
	done
	return 1
}
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; } # utime stime, after the comm field
report_get() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# median_max FILE: "median max" of one number a line
median_max() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%s %s", v[int((NR + 1) / 2)], v[NR] }'; }

# How many VMs are managed: from `balloonctl --json status`; when that
# gives no answer (balloonctl waits 5 s), from /metrics (ATTACH_VIA).
# Into MANAGED: not in a subshell, ATTACH_VIA is the caller's.
managed_count() {
	local n
	n=$("$BUILD/balloonctl" -s "$RUN/ctl.sock" --json status 2>/dev/null |
		jq '[.vms[] | select(.state == "managed")] | length' 2>/dev/null)
	if [ -z "$n" ]; then
		ATTACH_VIA=metrics
		n=$(curl -sf -m 60 "http://127.0.0.1:$PORT/metrics" | grep -c '^balloond_vm_managed{.*} 1$')
	fi
	MANAGED=${n:-0}
}

start_server() { # N
	prlimit --nofile=$NOFILE:$NOFILE "$BUILD/bench/loadqmp" -r "$RUN/report" "$RUN/qmp" "$1" \
		</dev/null >"$RUN/loadqmp.out" 2>"$RUN/loadqmp.err" &
	SPID=$!
	for _ in $(seq 600); do
		grep -q ready "$RUN/loadqmp.out" 2>/dev/null && return 0
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	echo "loadqmp did not start:" >&2
	cat "$RUN/loadqmp.err" >&2
	return 1
}

write_config() { # PORT
	cat >"$RUN/balloond.conf" <<-EOF
		[host]
		interval = 1s
		socket_dir = $RUN/qmp
		control_socket = $RUN/ctl.sock
		state_file = $RUN/state.json
		metrics = 127.0.0.1:$1
	EOF
}

# Starts balloond and waits until all N are managed; ATTACH: the seconds.
# Not in a subshell: BPID is the caller's.
start_daemon() { # N
	local t0 n=0
	t0=$(now_s)
	prlimit --nofile=$NOFILE:$NOFILE "$BUILD/balloond" -c "$RUN/balloond.conf" --no-host-tuning \
		</dev/null >/dev/null 2>"$RUN/balloond.log" &
	BPID=$!
	while [ "$(elapsed "$t0" | cut -d. -f1)" -lt "$ATTACH_TIMEOUT_S" ]; do
		kill -0 "$BPID" 2>/dev/null || { echo "balloond died:" >&2; tail "$RUN/balloond.log" >&2; return 1; }
		[ -S "$RUN/ctl.sock" ] && managed_count && n=$MANAGED
		[ "$n" -ge "$1" ] && { ATTACH=$(elapsed "$t0"); return 0; }
		sleep 0.25
	done
	echo "only $n of $1 VMs managed after ${ATTACH_TIMEOUT_S}s" >&2
	return 1
}

# Times SAMPLES requests of CMD... into FILE.ms, FILE.bytes (of the last
# that answered) and FILE.fail (how many did not).
time_requests() { # FILE CMD...
	local f=$1 t0 t1 fail=0
	shift
	: >"$f.ms"
	echo 0 >"$f.bytes"
	for _ in $(seq "$SAMPLES"); do
		t0=$(date +%s%N)
		if "$@" >"$f.body" 2>/dev/null; then
			stat -c %s "$f.body" >"$f.bytes"
		else
			fail=$((fail + 1))
		fi
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000000)) >>"$f.ms"
	done
	echo "$fail" >"$f.fail"
}

# LOG FROM_BYTE TO_BYTE WINDOW_S: "info 0.00 notice 0.00 warning 0.00 error 0.00 other 0.00"
log_rates() {
	tail -c +"$(($2 + 1))" "$1" | head -c "$(($3 - $2))" | awk -v w="$4" '
		/^balloond\[info\]/ { i++; next } /^balloond\[notice\]/ { nt++; next }
		/^balloond\[warning\]/ { wn++; next } /^balloond\[(error|crit|alert|emerg)\]/ { e++; next } { o++ }
		END { printf "info %.2f notice %.2f warning %.2f error %.2f other %.2f", i / w, nt / w, wn / w, e / w, o / w }'
}

COLS="n,attach_s,cpu_user_pct,cpu_sys_pct,us_per_vm_tick,rss_mib,fds,late_p50_ms,late_max_ms,sweep_p50_ms,sweep_max_ms,gap_p99_ms,cmds_per_vm_s,balloon_per_vm_s,status_ms,status_max_ms,status_b_per_vm,metrics_ms,metrics_max_ms,metrics_b_per_vm,deflate_p50_ms,deflate_p90_ms,deflate_max_ms,deflate_answered,deflate_needed,log_info_s,log_notice_s,log_warning_s,log_error_s,log_other_s,load1,server_user_pct,server_sys_pct,ticks,window_s,attach_via,status_fail,metrics_fail"

# One CSV row from the run's numbers (see the columns above).
csv_row() { # N ATTACH U0 S0 U1 S1 WINDOW RSS_KIB FDS LOGRATES LOAD
	local r=$RUN/report sm mm ticks rises
	read -r sm smax < <(median_max "$RUN/status.ms")
	read -r mm mmax < <(median_max "$RUN/metrics.ms")
	ticks=$(report_get "$r" late_n)
	[ "${ticks:-0}" -gt 0 ] || ticks=$(printf '%.0f' "$7")
	rises=$(($(report_get "$r" rises) - $(report_get "$r" rises_unneeded)))
	set -- "$@" "$sm" "$smax" "$mm" "$mmax" "$ticks" "$rises"
	awk -v n="$1" -v at="$2" -v u="$(($5 - $3))" -v s="$(($6 - $4))" -v w="$7" -v hz="$HZ" -v rss="$8" \
		-v fds="$9" -v lr="${10}" -v load="${11}" -v sm="${12}" -v smax="${13}" -v mm="${14}" -v mmax="${15}" \
		-v ticks="${16}" -v rises="${17}" -v sb="$(cat "$RUN/status.bytes")" -v mb="$(cat "$RUN/metrics.bytes")" \
		-v via="$ATTACH_VIA" -v sf="$(cat "$RUN/status.fail")" -v mf="$(cat "$RUN/metrics.fail")" '
		FNR == NR { k[$1] = $2; next }
		END {
			split(lr, L, " ")
			printf "%d,%s,%.2f,%.2f,%.2f,%.1f,%d,", n, at, 100 * u / hz / w, 100 * s / hz / w,
				1e6 * (u + s) / hz / (n * ticks), rss / 1024, fds
			printf "%s,%s,%s,%s,%s,%.3f,%.4f,", k["late_p50_ms"], k["late_max_ms"], k["sweep_p50_ms"],
				k["sweep_max_ms"], k["gap_p99_ms"], k["cmds_per_vm_s"], k["balloon_per_vm_s"]
			printf "%s,%s,%.0f,%s,%s,%.0f,", sm, smax, sb / n, mm, mmax, mb / n
			printf "%s,%s,%s,%s,%d,", k["deflate_p50_ms"], k["deflate_p90_ms"], k["deflate_max_ms"],
				k["deflate_n"], rises
			printf "%s,%s,%s,%s,%s,%s,%s,%s,%d,%.1f,%s,%d,%d\n", L[2], L[4], L[6], L[8], L[10], load,
				k["server_user_pct"], k["server_sys_pct"], ticks, w, via, sf, mf
		}' "$RUN/report" /dev/null
}

measure_one() { # N
	local n=$1 u0 s0 u1 s1 t0 w log0 log1 load rss fds
	RUN=$(mktemp -d /tmp/bscale.XXXXXX)
	mkdir -p "$RUN/qmp"
	start_server "$n" || return 1
	PORT=$(free_port) || { echo "no free port" >&2; return 1; }
	write_config "$PORT"
	ATTACH_VIA=status
	echo "N=$n: loadqmp $SPID ready; starting balloond (metrics on port $PORT)" >&2
	start_daemon "$n" || return 1
	echo "N=$n: all managed after $ATTACH s (seen in $ATTACH_VIA); settling $SETTLE_S s, then a $WINDOW_S s window" >&2
	sleep "$SETTLE_S"
	read -r u0 s0 < <(cpu_ticks "$BPID")
	log0=$(stat -c %s "$RUN/balloond.log")
	kill -USR1 "$SPID"
	t0=$(now_s)
	sleep "$WINDOW_S"
	read -r u1 s1 < <(cpu_ticks "$BPID")
	kill -USR2 "$SPID"
	w=$(elapsed "$t0")
	log1=$(stat -c %s "$RUN/balloond.log")
	load=$(cut -d' ' -f1 /proc/loadavg)
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$BPID/status")
	fds=$(find "/proc/$BPID/fd" -mindepth 1 | wc -l)
	for _ in $(seq 50); do [ -s "$RUN/report" ] && break; sleep 0.1; done
	time_requests "$RUN/status" "$BUILD/balloonctl" -s "$RUN/ctl.sock" status
	time_requests "$RUN/metrics" curl -sf -m 60 "http://127.0.0.1:$PORT/metrics"
	csv_row "$n" "$ATTACH" "$u0" "$s0" "$u1" "$s1" "$w" "$rss" "$fds" \
		"$(log_rates "$RUN/balloond.log" "$log0" "$log1" "$w")" "$load" >>"$CSV"
	cp "$RUN/report" "$OUT/scale.$n.loadqmp.txt"
	cp "$RUN/balloond.log" "$OUT/scale.$n.balloond.log"
	run_end
}

# ---- the table and the plot, from the CSV --------------------------------
table() {
	echo "| N | attach s | CPU % user/sys | µs/VM-tick | RSS MiB | fds | ticks (mean period s) | tick late p50/max ms | poll sweep p50/max ms | QMP cmds/VM/s | status ms (B/VM) | /metrics ms (B/VM) | deflate p50/p90/max s (answered/needed) | log lines/s info/notice/warn/err | load 1m | loadqmp CPU % |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	tail -n +2 "$CSV" | awk -F, -v k="$SAMPLES" '
		function s(ms) { return ms < 0 ? "-" : sprintf("%.2f", ms / 1000) }
		function req(ms, b, fail) {
			return fail >= k ? sprintf("no answer in %d ms (%d/%d)", ms, fail, k) : \
				sprintf("%d (%d)%s", ms, b, fail ? sprintf(", %d/%d failed", fail, k) : "")
		}
		{ printf "| %d | %.1f%s | %.1f / %.1f | %.1f | %.1f | %d | %d (%.2f) | %d / %d | %d / %d | %.2f | %s | %s | %s / %s / %s (%d/%d) | %.2f / %.2f / %.2f / %.2f | %.2f | %.1f |\n",
			$1, $2, $36 == "metrics" ? " (/metrics)" : "", $3, $4, $5, $6, $7, $34, $35 / $34, $8, $9, $10, $11, $13,
			req($15, $17, $37), req($18, $20, $38),
			s($21), s($22), s($23), $24, $25, $26, $27, $28, $29, $31, $32 + $33 }'
}

plot() {
	local dat=$OUT/scale.dat term=png
	tail -n +2 "$CSV" | tr , ' ' >"$dat"
	gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1 && term=pngcairo
	gnuplot <<-EOF
		set terminal $term size 1200,500 font ',10'
		set output '$OUT/scale.png'
		set multiplot layout 1,2 title "balloond against N fake QMP VMs (loadqmp), interval 1 s, $(nproc) cores"
		set grid; set key top left; set logscale x; set xlabel 'VMs (N)'
		set title 'balloond CPU (% of one core)'; set ylabel '%'
		plot '$dat' using 1:(\$3+\$4) with linespoints lw 2 title 'user+sys', \
			'' using 1:3 with linespoints title 'user', '' using 1:4 with linespoints title 'sys', \
			'' using 1:(\$32+\$33) with linespoints dt 2 title 'loadqmp (server)'
		set title 'deflate latency (sudden rise to balloon raise)'; set ylabel 's'
		plot '$dat' using 1:(\$21/1000) with linespoints lw 2 title 'p50', \
			'' using 1:(\$22/1000) with linespoints lw 2 title 'p90', \
			'' using 1:(\$23/1000) with linespoints title 'max'
		unset multiplot
	EOF
}

write_md() { # RUN_NOTE
	local md=$REPO/bench/scale.md notes=""
	[ -f "$md" ] && notes=$(sed -n '/^<!-- notes -->/,$p' "$md")
	{
		echo "# Scale benchmark (issue 12): balloond against N fake QMP VMs"
		echo
		echo "\`make bench-scale\` (bench/scale.sh, server bench/loadqmp*.c). $1"
		echo "One loadqmp process serves N unix sockets (epoll), each a modelled guest of 512 MiB-2 GiB"
		echo "(profiles idle, growing, shrinking, cyclic, rise: one fifth each), its balloon moving at"
		echo "100 MiB/s with BALLOON_CHANGE at most once a second, guest-stats refreshed every second."
		echo "balloond: --no-host-tuning, interval 1 s, metrics on, defaults otherwise (host budget = MemTotal,"
		echo "plenty throughout: the fake guests use no host memory). balloond and loadqmp run under"
		echo "\`prlimit --nofile=$NOFILE:$NOFILE\` so that 5000 VMs can attach whatever balloond's own limit."
		echo "Column definitions: the header of bench/scale.sh. Tick lateness and sweep are seen from the"
		echo "server (balloond does not report its tick timing). Raw: bench/out/scale.csv, scale.N.*, scale.png."
		echo
		table
		echo
		[ -n "$notes" ] && echo "$notes"
	} >"$md"
}

if [ "${SCALE_REPORT_ONLY:-0}" = 1 ]; then # the table, plot and scale.md again from bench/out
	table
	plot
	write_md "$(cat "$OUT/scale.note")"
	exit 0
fi
note="Run $(date -u '+%Y-%m-%d %H:%M') UTC at $(git rev-parse --short HEAD 2>/dev/null) on $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), window ${WINDOW_S} s after ${SETTLE_S} s of settling; load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "$COLS" >"$CSV"
echo "$note" >"$OUT/scale.note"
for n in $NS; do
	if ! measure_one "$n"; then
		echo "N=$n failed; balloond's log: $OUT/scale.$n.balloond.log" >&2
		cp "$RUN/balloond.log" "$OUT/scale.$n.balloond.log" 2>/dev/null
		run_end
	fi
done
table
plot
write_md "$note"
echo "written: bench/scale.md, $CSV, $OUT/scale.png" >&2

#!/usr/bin/env bash
# bench/rescue.sh — issue 15.4: rescue latency on real TCG guests. How long
# after a guest's demand passes its available memory does the policy
# command a deflate, and when does the guest's balloon reach its need?
# Run by `make bench-rescue` (under the guests' lock); not part of make check.
#
#   bench/rescue.sh [BUILD_DIR]      (policies: RESCUE_POLICIES, default
#                                     "balloond proxmox mom")
#
# Scenario, identical for every policy: N = 4 guests x 512 MiB (2048 MiB
# configured) in a budget cgroup of B = 1280 MiB of guest RAM plus 76 MiB
# per guest for QEMU itself (the allowance bench/density.sh measured), so
# 1.6x overcommitted: idle guests are squeezed. Each guest runs
#     memload=alloc:50M,hold:20s,alloc:180M@20M,hold:8s,free:all,loop
# (an idle spell, then 180 MiB at 20 MiB/s), the guests started 9 s
# apart so that their bursts mostly do not coincide. RESCUE_SECONDS
# (default 220) of it after the guests are up: about 5 bursts per guest.
#
# The moment: memload prints "memload: past_available" just before it
# touches more than the MemAvailable its alloc began with (guest/memload.c);
# the host stamps each console line as it appears (a reader per console).
# The deflate: the first "vm NAME: target A -> B" with B > A in balloond's
# log (run with -v, so no change is held back by the log limits) from the
# start of that alloc phase, stamped as it is written. A negative latency:
# the policy started giving memory back before the demand passed the
# available memory (it saw the growth coming). The need: held memory after
# the alloc + what the guest used before memload (512 MiB - MemAvailable at
# boot, from the console's meminfo line); reached = the first status sample
# (balloonctl, every 250 ms) whose actual >= need. Events without an answer
# within 30 s count as unanswered. A guest OOM kill of memload does not
# end that guest's events: the guests boot with memload_respawn
# (guest/init runs memload again, as a service manager restarts a killed
# service), so every policy meets the same bursts, about 24 in a run.
#
# balloond's peers here are balloond's re-implementations of Proxmox VE's
# auto-ballooning and oVirt MOM's balloon rules (policy = proxmox | mom),
# not the real daemons; with "peer_budget = on" they see a host of the
# budget cgroup's size (without it they read this machine's /proc/meminfo:
# 24 GiB, plenty, so they never squeeze and no rescue is ever needed).
# RESCUE_TABLE (default: the policies run) lists the table's rows, from
# bench/out/rescue.P.* of this or an earlier run.
# Output: a table in bench/rescue.md, raw per-event CSV in bench/out/rescue.*.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
BUILD=${1:-build}
export BUILD
source tests/lib/guest.sh
source tests/lib/daemon.sh
export GUEST_DIR=${GUEST_DIR:-$repo/build/guest}
export GUEST_APPEND="memload_respawn${GUEST_APPEND:+ $GUEST_APPEND}"

POLICIES=${RESCUE_POLICIES:-"balloond proxmox mom"}
SECS=${RESCUE_SECONDS:-220}
N=4 SIZE_MIB=512 B_MIB=1280 ALLOW_MIB=76 STAGGER_S=9
LOAD="alloc:50M,hold:20s,alloc:180M@20M,hold:8s,free:all,loop"
OUT=$repo/bench/out
MD=$repo/bench/rescue.md
mkdir -p "$OUT"

RUN= CG=
STAMPERS=()
cleanup() {
	local p
	for p in "${STAMPERS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	STAMPERS=()
	[ -n "$RUN" ] || return 0
	daemon_stop "$RUN"
	guest_stop_all "$RUN"
	[ -n "$CG" ] && cgroup_remove "$CG"
	rm -rf "$RUN"
	RUN= CG=
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Prefixes every line of stdin with the host's time (s, microseconds).
stamp() { local l; while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done; }

# run_policy P: one run; bench/out/rescue.P.{events.csv,log,samples}.
run_policy() {
	local p=$1 i name t0 end pid
	RUN=$(mktemp -d /tmp/balloond-bench-rescue.XXXXXX)
	# The tree's commit as the run starts (make bench-rescue builds just before).
	git rev-parse --short HEAD >"$OUT/rescue.$p.commit.new"
	CG=$(cgroup_create "balloond-bench-rescue-$$" $(((B_MIB + N * ALLOW_MIB) * 1048576))) || { CG=; return 1; }
	cat "$GUEST_DIR"/vmlinu[xz] "$GUEST_DIR/initrd.img" >/dev/null
	daemon_config "$RUN" "$CG" "policy = $p" "peer_budget = on" "ksm = off" "zswap = off"
	rm -f "$RUN/ctl.sock"
	"$BUILD/balloond" -v -c "$RUN/balloond.conf" --no-host-tuning 2> >(stamp >"$RUN/balloond.tlog") >/dev/null &
	echo $! >"$RUN/balloond.pid"
	for _ in $(seq 50); do [ -S "$RUN/ctl.sock" ] && break; sleep 0.1; done
	[ -S "$RUN/ctl.sock" ] || { echo "balloond did not start" >&2; return 1; }
	for i in $(seq 1 $N); do
		name=r$i
		: >"$RUN/$name.console"
		tail -n +1 -F "$RUN/$name.console" 2>/dev/null > >(stamp >"$RUN/$name.tconsole") &
		STAMPERS+=($!)
		guest_start "$name" "$SIZE_MIB" "$LOAD" "$RUN/qmp" "$RUN" "$CG" || return 1
		guest_wait_ready "$name" "$RUN" 120 || return 1
		[ "$i" -lt $N ] && sleep "$STAGGER_S"
	done
	echo "== $p: $N guests up; sampling $SECS s" >&2
	t0=$EPOCHREALTIME
	end=$(awk -v a="$t0" -v s="$SECS" 'BEGIN { printf "%d", a + s }')
	while [ "${EPOCHREALTIME%.*}" -lt "$end" ]; do
		"$BUILD/balloonctl" -s "$RUN/ctl.sock" --json status 2>/dev/null |
			jq -r --arg t "$EPOCHREALTIME" '.vms[] | "\($t) \(.name) \(.actual_bytes // 0)"' >>"$RUN/samples"
		sleep 0.25
	done
	# Events before the window's end only; 30 s more to see their answers.
	sleep 30
	for i in $(seq 1 $N); do cp "$RUN/r$i.tconsole" "$OUT/rescue.$p.r$i.console"; done
	cp "$RUN/balloond.tlog" "$OUT/rescue.$p.log"
	cp "$RUN/samples" "$OUT/rescue.$p.samples"
	events "$p" "$t0" "$end" >"$OUT/rescue.$p.events.csv"
	mv "$OUT/rescue.$p.commit.new" "$OUT/rescue.$p.commit"
	cgroup_oom_kills "$CG" >"$OUT/rescue.$p.host_oom"
	cleanup
}

# events P T0 END: one CSV row per 180 MiB burst begun in [T0, END):
# vm,t_burst,first_deflate_s,t_mark,deflate_s,need_mib,reach_s,oom_s
#   first_deflate_s  first target raise after the burst began (any policy)
#   t_mark           the burst passed the available memory (empty: not
#                    before the guest's OOM killer, or not at all)
#   deflate_s        first raise since the burst began, from the mark
#                    (negative: before the demand passed the available memory)
#   reach_s          from the mark to the first sample with actual >= need
#   oom_s            memload OOM-killed in the guest, from the burst's start
# Answers later than 30 s are not counted.
events() {
	local p=$1 t0=$2 end=$3 i
	echo "vm,t_burst,first_deflate_s,t_mark,deflate_s,need_mib,reach_s,oom_s"
	for i in $(seq 1 $N); do
		awk -v vm="r$i" -v t0="$t0" -v end="$end" -v size=$SIZE_MIB \
			-v logf="$OUT/rescue.$p.log" -v samples="$OUT/rescue.$p.samples" '
		BEGIN {
			pat = "vm " vm ": target "
			while ((getline l < logf) > 0) {
				if (index(l, pat) == 0) continue
				split(substr(l, index(l, pat) + length(pat)), w, " ")
				if (tobytes(w[1]) < tobytes(w[3])) rt[++nr] = l + 0
			}
			while ((getline l < samples) > 0) {
				split(l, w, " ")
				if (w[2] == vm) { st[++ns] = w[1] + 0; sa[ns] = w[3] / 1048576 }
			}
		}
		function tobytes(s,   n, u) {
			sub(/:$/, "", s); n = s + 0; u = substr(s, length(s))
			return u == "G" ? n * 1024 : u == "K" ? n / 1024 : n
		}
		function first_raise(from,   k) {
			for (k = 1; k <= nr; k++) if (rt[k] >= from) return rt[k]
			return ""
		}
		function flush(   fd, d, r, k) {
			if (tb == "") return
			fd = first_raise(tb); d = ""; r = ""
			if (fd != "" && fd - tb > 30) fd = ""
			if (tm != "") {
				if (fd != "") d = sprintf("%.3f", fd - tm)
				for (k = 1; k <= ns; k++) if (st[k] >= tm && sa[k] >= need) { if (st[k] - tm <= 30) r = sprintf("%.3f", st[k] - tm); break }
			}
			printf "%s,%.3f,%s,%s,%s,%.0f,%s,%s\n", vm, tb - t0, fd == "" ? "" : sprintf("%.3f", fd - tb),
				tm == "" ? "" : sprintf("%.3f", tm - t0), d, need, r, to == "" ? "" : sprintf("%.3f", to - tb)
			tb = ""; tm = ""; to = ""
		}
		/balloon-guest: meminfo total_kib=/ { match($0, /avail_kib=[0-9]+/); base = size - substr($0, RSTART + 10, RLENGTH - 10) / 1024 }
		/memload: phase=alloc held_mib=50$/ {
			flush()
			if ($1 + 0 >= t0 && $1 + 0 < end) { tb = $1 + 0; need = 230 + base }  # 50 + 180 MiB held at the top
		}
		/memload: past_available/ && tb != "" && tm == "" { tm = $1 + 0 }
		/Out of memory: Killed process [0-9]* \(memload\)/ && tb != "" && to == "" { to = $1 + 0 }
		END { flush() }' "$OUT/rescue.$p.r$i.console"
	done
}

# stats FILE COLUMN: "n median p90 max" of the non-empty values.
stats() {
	tail -n +2 "$1" | cut -d, -f"$2" | grep -v '^$' | sort -g |
		awk '{ v[++n] = $1 } END { if (!n) { print "0 - - -"; exit }
			printf "%d %.2f %.2f %.2f\n", n, v[int((n + 1) / 2)], v[int(n * 0.9 + 0.999)], v[n] }'
}

for p in $POLICIES; do
	run_policy "$p" || { echo "rescue: $p failed" >&2; exit 1; }
done

{
	echo "# Rescue latency on real guests (issue 15.4)"
	echo
	echo "\`make bench-rescue\` (bench/rescue.sh), table written $(date -u '+%Y-%m-%d %H:%M UTC'),"
	echo "$(nproc) cores, TCG. $N x $SIZE_MIB MiB guests, B = $B_MIB MiB (1.6x), memload \`$LOAD\`, ${SECS} s each."
	echo "proxmox and mom are balloond's re-implementations of the peers (policy = ...), not the real daemons,"
	echo "seeing a host of the budget's size (peer_budget = on). Rows: $(for p in ${RESCUE_TABLE:-$POLICIES}; do printf '%s at %s; ' "$p" "$(cat "$OUT/rescue.$p.commit" 2>/dev/null)"; done)"
	echo "Latency from the guest's demand passing its available memory (memload's mark) to the first"
	echo "deflate command, and to the balloon's actual reaching the guest's need; definitions in the script."
	echo
	echo "| policy | bursts | first deflate after the burst began: n, median / p90 s | demand passed available | deflate from that moment: n, median / p90 / max s | actual reached need: n, median / p90 / max s | bursts OOM-killed in the guest (after s, median) | host OOM kills |"
	echo "|---|---|---|---|---|---|---|---|"
	for p in ${RESCUE_TABLE:-$POLICIES}; do
		f=$OUT/rescue.$p.events.csv
		bursts=$(($(wc -l <"$f") - 1))
		read -r fn fm f9 _ < <(stats "$f" 3)
		read -r mn _ _ _ < <(stats "$f" 4)
		read -r dn dm d9 dx < <(stats "$f" 5)
		read -r rn rm r9 rx < <(stats "$f" 7)
		read -r on om _ _ < <(stats "$f" 8)
		echo "| $p | $bursts | $fn: $fm / $f9 | $mn | $dn: $dm / $d9 / $dx | $rn: $rm / $r9 / $rx | $on ($om) | $(cat "$OUT/rescue.$p.host_oom") |"
	done
} >"$MD"
cat "$MD"

#!/usr/bin/env bash
# bench/density.sh — density benchmark (issue 3, point 5): the same four real
# TCG guests, overcommitted 2x in a budget cgroup, driven by each balloon
# policy in turn (balloond, proxmox, mom, static).  Run by `make bench`, not
# by `make check`.  Needs root (cgroups, QEMU).
#
#   bench/density.sh [-p balloond,proxmox,mom,static] [-d LOAD_SECONDS] [-k] [-R] [-b qmp|libvirt]
#                    [-L LIMIT_MIB -o OUTDIR] [BUILD_DIR]
#
# -L sets the budget cgroup's limit instead of the 2x one below (the
# overcommit ratio is then 2048 / LIMIT_MIB, configured RAM over the
# budget, as balloond-sim --frontier counts it), -o writes the runs and
# the table (OUTDIR/results.md) there instead of bench/out and
# bench/results.md: the frontier's checks on real guests (bench/frontier.sh).
#
# Writes bench/out/POLICY.csv (one row per VM per second: t, vm, target,
# actual, used, available, rss (MiB, from `balloonctl --json status`),
# pressure 0/1, cgroup usage (MiB), memload's held MiB from the console,
# qemu_alive 0/1; after a QEMU dies the daemon's values for it are stale),
# POLICY.events.csv (each free phase and how long the policy took to reclaim
# it), POLICY.png, POLICY.balloond.log, the guests' consoles, then prints one
# table and writes it to bench/results.md.  -R redoes table and plots from
# bench/out/ without running anything.
# About 3.5 minutes per policy (boot ~15 s + LOAD_SECONDS + clean-up).
# -b libvirt (make bench BACKEND=libvirt): the same guests as libvirt domains
# of a private libvirtd, balloond with backend = libvirt (scripts/guests.sh);
# into bench/out/libvirt/ and bench/results-libvirt.md instead.  The four
# policies are balloond's own control laws (policy = ...), which act through
# whichever backend balloond has, so all four run on libvirt alike.
#
# ---- Budget -----------------------------------------------------------------
# N = 4 guests x 512 MiB = 2048 MiB configured; guest-RAM budget B = 1024 MiB,
# so configured sizes are 2 x B.  The budget cgroup's limit is
#     L = B + N x A = 1024 + 4 x 76 = 1328 MiB,
# where A = 76 MiB is an allowance per guest for QEMU's own memory, which is
# charged to the same cgroup but is not guest RAM.  Measured here (QEMU 7.2,
# TCG, 4 guests running this very scenario with no balloon driver acting,
# cgroup v1): cgroup usage - sum of the guests' RAM RSS (Rss of the 512 MiB
# RAM mapping in /proc/PID/smaps) = 273 MiB for 4 guests, 68 MiB each, flat
# over the whole run; ~47 MiB of it is the touched part of TCG's translation
# cache (a 1 GiB mapping), the rest QEMU's heap, device state and kernel
# objects.  With a policy ballooning, the same difference measured at the end
# of a run was 71 MiB (balloond) and 76 MiB (proxmox): the guests run more
# kernel code (balloon driver, reclaim), so TCG translates more.  A = 76 MiB,
# the largest seen, so that B really is 1024 MiB of guest RAM for every
# policy; an allowance for TCG, not a tuning.  The translation cache could
# not be shrunk: tests/lib/guest.sh already passes "-accel tcg", and a second
# "-accel tcg,tb-size=32" (or -global tcg-accel.tb-size=32) in GUEST_QEMU_ARGS
# does not change it (the mapping stays 1 GiB).  Each run prints the overhead
# it actually saw at the end, to check the allowance.
# With -b libvirt, libvirtd and virtlogd are in the budget cgroup too (each
# QEMU inherits its cgroup from libvirtd).  Measured here, they were charged
# 9 MiB after start (RSS 20 + 8 MiB, mostly shared libraries whose pages were
# charged before), 10 MiB with four guests: the limit gets LV_DAEMONS_MIB =
# 10 MiB more, so that B stays 1024 MiB of guest RAM.  With four idle guests
# (no ballooning) cgroup usage - guest RAM RSS was 296 MiB = 10 + 4 x 71.5:
# libvirt's QEMU (q35, the same devices) costs what ours does.
# The guest kernel (vmlinux, ~58 MiB of file pages mapped by every QEMU) is
# read before each run so that its page cache is charged outside the budget
# cgroup, identically for every policy (otherwise the first run would pay it).
#
# ---- Scenario (identical for every policy) ----------------------------------
# Each guest's demand = what its kernel reports used (~31 MiB at idle) + what
# its kernel reserves (512 MiB - MemTotal = 44 MiB) + what memload holds:
# ~75 MiB + held.  share = B/N = 256 MiB.  Times are seconds after that
# guest's "memload: start" (the four start within ~3 s of each other).
#   web    alloc 140M @14M/s, hold 50 s, free 100M (t~60), hold 50 s,
#          alloc 100M @10M/s (t~110), idle          demand 215 / 115 / 215
#   batch  alloc 80M, hold 40 s, alloc 230M @10M/s (t 40..63), hold 40 s,
#          free 230M (t~103), idle                  demand 155 / 385 = 1.5 x share / 155
#   cache  alloc 220M @22M/s, hold 30 s, free 180M (t~40), hold 70 s,
#          alloc 140M @14M/s (t~110), idle          demand 295 / 115 / 255
#   db     alloc 140M @14M/s, hold 90 s, free 100M (t~100), hold 40 s,
#          alloc 120M @12M/s (t~140), idle          demand 215 / 115 / 235
# Total demand peaks at ~880 MiB (86% of B) at t 10..40 and ~830 MiB while
# batch is at 1.5x its share; per guest it averages ~200 MiB (~40% of its
# size, 80% of its share).  So demand fits B, configured sizes (2048) do not,
# and neither do the pages the guests have touched unless freed memory is
# ballooned back: cache frees 180M at t~40 just as batch starts growing.
# The daemon's config is the same for every policy except "policy =": the
# budget cgroup, the 1 s interval, the test sockets and "metrics = off" (from
# tests/lib/daemon.sh's daemon_config), and "ksm = off", "zswap = off":
# the benchmark compares balloon policies, and balloond drives KSM (and
# zswap) under every policy by default.  With KSM on, merged guest pages cut
# the cgroup's charge for all four policies (and ksmd takes CPU from the TCG
# guests on 2 cores), which hides what the balloon policy itself does; -k
# keeps balloond's KSM/zswap defaults, for every policy alike.  Everything
# else (reserve 5%, min 25%, buffer 20%, step 128M, shares) is the default.
# proxmox and mom are re-implementations of Proxmox VE's pvestatd
# auto-ballooning and oVirt MOM's balloon.rules (src/core/peers.c), each
# run as that peer alone (no balloond guard).  "peer_budget = on": the
# benchmark emulates a host of the cgroup's size, so the peers read its
# limit and usage as their host's memory instead of /proc/meminfo (where
# this 24 GiB machine would never look short of memory).
#
# ---- Metrics ------------------------------------------------------------------
# host OOM kills   oom_kill of the budget cgroup (QEMU killed by the kernel for
#                  the cgroup's limit); "QEMUs lost" = guests whose QEMU was not
#                  running at the end, whatever killed it.
# guest OOM kills  console lines of the guests' kernels reporting an OOM kill
#                  (tests/lib/guest.sh guest_oom_count), summed.
# pressure s       guest-seconds (samples, 1 s apart) where balloond's status
#                  reported the VM under pressure (non-null "pressure"; the same
#                  estimator runs under every policy); "avail<5% s" = guest-
#                  seconds where the guest's available memory was below 5% of
#                  its balloon's actual size (policy-independent).
# peak budget use  the cgroup's own high-water mark (v1 memory.max_usage_in_bytes,
#                  v2 memory.peak; else the highest 1 s sample), % of L.
# reclaim s        for each free phase (4 per run: cache 180M, web 100M,
#                  db 100M, batch 230M of X MiB): from the first 1 s sample at
#                  which the guest's console shows "memload: phase=free" until
#                  the first sample at which that guest's actual (query-balloon)
#                  is at least 0.8 X below its actual at the free; "never" if
#                  not within the run.  Resolution 1 s (the free is seen up to
#                  1 s late, so times may read up to 1 s short).  The table gives
#                  the median and the worst over the 4 events, and how many
#                  were reclaimed.  A free phase that never comes (memload
#                  or its QEMU killed first) is not an event: hence "(2/3)".
set -uo pipefail
COMMAND="bench/density.sh $*"
cd "$(dirname "$0")/.." || exit 1
REPO=$(pwd)

POLICIES=balloond,proxmox,mom,static
LOAD_SECONDS=170
TUNE=("ksm = off" "zswap = off")
usage() {
	echo "usage: $0 [-p POLICY[,POLICY...]] [-d LOAD_SECONDS] [-k] [-R] [-b qmp|libvirt] [BUILD_DIR]" >&2
	echo "  policies: balloond proxmox mom static (default: all four, in that order)" >&2
	echo "  -k: leave KSM and zswap to balloond's defaults (default: off, balloons only)" >&2
	echo "  -R: no runs; redo the table, results.md and plots from bench/out/ (after editing this script)" >&2
	echo "  -b: the guests' backend: qmp (default) or libvirt (domains of a private libvirtd)" >&2
	echo "  -L LIMIT_MIB: the budget cgroup's limit (default: 2x overcommit); -o OUTDIR: output there" >&2
	exit 2
}
REPORT_ONLY=0
BACKEND=qmp
LIMIT_SET=
OUT_SET=
while getopts p:d:kRb:L:o:h opt; do
	case $opt in
	p) POLICIES=$OPTARG ;;
	d) LOAD_SECONDS=$OPTARG ;;
	k) TUNE=() ;;
	R) REPORT_ONLY=1 ;;
	b) BACKEND=$OPTARG ;;
	L) [[ $OPTARG =~ ^[0-9]+$ ]] && [ "$OPTARG" -ge 512 ] || { echo "-L $OPTARG: a limit in MiB, at least 512" >&2; usage; }
	   LIMIT_SET=$OPTARG ;;
	o) OUT_SET=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
if ! [[ $LOAD_SECONDS =~ ^[0-9]+$ ]] || [ "$LOAD_SECONDS" -lt 10 ]; then usage; fi
IFS=, read -r -a POLICY_LIST <<<"$POLICIES"
for p in "${POLICY_LIST[@]}"; do
	case $p in balloond | proxmox | mom | static) ;; *) echo "unknown policy '$p'" >&2; usage ;; esac
done
case $BACKEND in qmp | libvirt) ;; *) echo "unknown backend '$BACKEND'" >&2; usage ;; esac
export GUESTS_BACKEND=$BACKEND

BUILD=${1:-build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory ${1:-build}" >&2; exit 1; }
export BUILD
export GUEST_DIR=${GUEST_DIR:-$BUILD/guest}
source tests/lib/guest.sh
source tests/lib/daemon.sh
source scripts/guests.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/density.sh needs root (cgroups, QEMU)" >&2
	exit 1
fi
for f in "$BUILD/balloond" "$BUILD/balloonctl"; do
	[ -x "$f" ] || { echo "$f missing: run make all" >&2; exit 1; }
done
for c in jq gnuplot awk; do
	command -v "$c" >/dev/null || { echo "$c not found (scripts/deps.sh installs it)" >&2; exit 1; }
done

MIB=1048576
N=4
SIZE_MIB=512
B_MIB=$((N * SIZE_MIB / 2))
ALLOW_MIB=76
LV_DAEMONS_MIB=0
[ "$BACKEND" = libvirt ] && LV_DAEMONS_MIB=10
LIMIT_MIB=$((B_MIB + N * ALLOW_MIB + LV_DAEMONS_MIB))
OVERCOMMIT="2x overcommitted"
if [ -n "$LIMIT_SET" ]; then
	LIMIT_MIB=$LIMIT_SET
	B_MIB=$((LIMIT_MIB - N * ALLOW_MIB - LV_DAEMONS_MIB))
	OVERCOMMIT="ratio $(awk -v c=$((N * SIZE_MIB)) -v l="$LIMIT_MIB" 'BEGIN { printf "%.2f", c / l }')x of the budget (-L)"
fi
DAEMONS_NOTE=
[ "$LV_DAEMONS_MIB" -eq 0 ] || DAEMONS_NOTE=" + $LV_DAEMONS_MIB MiB for libvirtd and virtlogd"
BOOT_TIMEOUT=120
VMS=(web batch cache db)
declare -A LOAD=(
	[web]="alloc:140M@14M,hold:50s,free:100M,hold:50s,alloc:100M@10M,idle"
	[batch]="alloc:80M,hold:40s,alloc:230M@10M,hold:40s,free:230M,idle"
	[cache]="alloc:220M@22M,hold:30s,free:180M,hold:70s,alloc:140M@14M,idle"
	[db]="alloc:140M@14M,hold:90s,free:100M,hold:40s,alloc:120M@12M,idle"
)
OUT=$REPO/bench/out
RESULTS=$REPO/bench/results.md
# As src/core/peers.h's PEERS_NOT_MODELLED (balloond-sim's header).
PEERS_NOT_MODELLED="not modelled: a ballooning-target other than Proxmox's default 80%, its migrate lock and paused VMs, MOM's KSM controller and vdsm's guaranteed memory (MOM sees balloon_min 0, as on libvirt), upstream's floating-point rounding (at most a byte)"
GUESTS_WHAT="TCG guests"
if [ "$BACKEND" = libvirt ]; then
	OUT=$OUT/libvirt
	RESULTS=$REPO/bench/results-libvirt.md
	GUESTS_WHAT="TCG libvirt domains"
fi
if [ -n "$OUT_SET" ]; then
	OUT=$(mkdir -p "$OUT_SET" && cd "$OUT_SET" && pwd) || { echo "-o $OUT_SET: cannot create it" >&2; exit 1; }
	RESULTS=$OUT/results.md
fi
mkdir -p "$OUT"

# ---- clean-up: the test_begin/test_end pattern, for the run in progress ----
RUN=
CG=
run_end() {
	[ -n "$RUN" ] && daemon_stop "$RUN"
	[ -n "$RUN" ] && guests_end
	[ -n "$CG" ] && cgroup_remove "$CG"
	[ -n "$RUN" ] && rm -rf "$RUN"
	RUN=
	CG=
}
trap run_end EXIT
trap 'exit 130' INT TERM

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

cg_usage_bytes() {
	if [ -f "$1/memory.usage_in_bytes" ]; then cat "$1/memory.usage_in_bytes"; else cat "$1/memory.current"; fi
}
cg_peak_bytes() {
	if [ -f "$1/memory.max_usage_in_bytes" ]; then cat "$1/memory.max_usage_in_bytes"
	elif [ -f "$1/memory.peak" ]; then cat "$1/memory.peak"
	else echo ""; fi
}

# free_sizes SPEC: the MiB of each free:SIZE phase, in order ("all" unsupported here).
free_sizes() {
	local ph v
	local -a phs
	IFS=, read -r -a phs <<<"$1"
	for ph in "${phs[@]}"; do
		[[ $ph == free:* ]] || continue
		v=${ph#free:}
		case $v in
		*G) echo $((${v%G} * 1024)) ;;
		*M) echo "${v%M}" ;;
		*K) echo $((${v%K} / 1024)) ;;
		*) echo $((v / MIB)) ;;
		esac
	done
}

# guest_ram_rss_kib PID: Rss of the guest-RAM mapping (the SIZE_MIB anonymous mapping).
guest_ram_rss_kib() {
	awk -v sz=$((SIZE_MIB * 1024)) '/^[0-9a-f]+-[0-9a-f]+ / { ram = 0 }
		/^Size:/ { ram = ($2 == sz) } /^Rss:/ && ram { r += $2 } END { print r + 0 }' "/proc/$1/smaps" 2>/dev/null
}

# The commit the code was built from; "-dirty" when anything but the
# benchmarks' own result files (bench/*.md, which the runs rewrite) differs.
code_commit() {
	local c
	c=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null) || { echo unknown; return; }
	git -C "$REPO" diff --quiet HEAD -- . ':(exclude)bench/*.md' 2>/dev/null || c="$c-dirty"
	echo "$c"
}

# run_policy P: one fresh run; leaves bench/out/P.* and appends P's row to $ROWS.
run_policy() {
	local p=$1 csv=$OUT/$1.csv ev=$OUT/$1.events.csv
	local vm t0 t tick ready_all="" end="" status cgu line ph held n k x i tailtxt
	local tg ac us av rs pr name rest
	local -a lines=() frees=()
	local -A ready=() seen=() prevph=() held_now=() nfree=() alive=() fx=()

	RUN=$(mktemp -d /tmp/balloond-bench.XXXXXX)
	CG=$(cgroup_create "balloond-bench-$p-$$" $((LIMIT_MIB * MIB))) || { CG=; return 1; }
	# Page cache of the guest image: charged here, outside the budget cgroup.
	cat "$GUEST_DIR"/vmlinu[xz] "$GUEST_DIR/initrd.img" >/dev/null
	guests_begin "$RUN" "$CG" || return 1
	daemon_config "$RUN" "$CG" "${GUESTS_CONF[@]}" "policy = $p" "peer_budget = on" "${TUNE[@]}"
	daemon_start "$RUN" || return 1
	echo "== $p: $N x $SIZE_MIB MiB guests ($GUESTS_KIND) in a $LIMIT_MIB MiB cgroup (B = $B_MIB MiB + $N x $ALLOW_MIB MiB QEMU allowance$DAEMONS_NOTE), $CG"

	echo "t,vm,target_mib,actual_mib,used_mib,available_mib,rss_mib,pressure,cgroup_usage_mib,held_mib,qemu_alive" >"$csv"
	echo "vm,free_no,t_free,freed_mib,actual_at_free_mib,t_reclaimed,reclaim_s" >"$ev"
	for vm in "${VMS[@]}"; do
		k=0
		while read -r x; do k=$((k + 1)); fx[$vm,$k]=$x; done < <(free_sizes "${LOAD[$vm]}")
		seen[$vm]=0; prevph[$vm]=""; held_now[$vm]=""; nfree[$vm]=0
	done

	t0=$(now)
	for vm in "${VMS[@]}"; do
		guests_start "$vm" "$SIZE_MIB" "${LOAD[$vm]}" || return 1
	done

	tick=0
	while :; do
		tick=$((tick + 1))
		# Sleep to the next whole second since t0 (no drift).
		sleep "$(awk -v a="$t0" -v b="$EPOCHREALTIME" -v k="$tick" 'BEGIN { d = a + k - b; printf "%.3f", (d > 0 ? d : 0) }')"
		t=$(since "$t0")

		# Consoles: readiness, memload phases, free events.
		for vm in "${VMS[@]}"; do
			alive[$vm]=0
			guests_pid "$vm" >/dev/null && alive[$vm]=1
			mapfile -t lines < <(grep -ao 'memload: [a-z]*\(=[a-z]* held_mib=[0-9]*\)\?' "$GUESTS_DIR/$vm.console" 2>/dev/null)
			n=${#lines[@]}
			# A memload line still without its newline may be cut short:
			# leave it for the next second.
			tailtxt=$(tail -c 200 "$GUESTS_DIR/$vm.console" 2>/dev/null; echo x)
			tailtxt=${tailtxt%x}
			if [ "$n" -gt 0 ] && [[ $tailtxt != *$'\n' ]] && [[ ${tailtxt##*$'\n'} == *memload:* ]]; then
				n=$((n - 1))
			fi
			for ((i = seen[$vm]; i < n; i++)); do
				line=${lines[$i]}
				if [ "$line" = "memload: start" ] && [ -z "${ready[$vm]:-}" ]; then
					ready[$vm]=$t
				elif [[ $line =~ phase=([a-z]+)\ held_mib=([0-9]+) ]]; then
					ph=${BASH_REMATCH[1]}
					held=${BASH_REMATCH[2]}
					held_now[$vm]=$held
					if [ "$ph" = free ] && [ "${prevph[$vm]}" != free ]; then
						nfree[$vm]=$((nfree[$vm] + 1))
						frees+=("$vm,${nfree[$vm]},$t,${fx[$vm,${nfree[$vm]}]:-0}")
					fi
					prevph[$vm]=$ph
				fi
			done
			seen[$vm]=$n
		done

		cgu=$(cg_usage_bytes "$CG")
		status=$(timeout 5 "$BUILD/balloonctl" -s "$RUN/ctl.sock" --json status 2>/dev/null) ||
			status=$(timeout 5 "$BUILD/balloonctl" -s "$RUN/ctl.sock" --json status 2>/dev/null) ||
			status='{"vms":[]}'
		declare -A row=()
		while IFS=, read -r name rest; do
			row[$name]=$rest
		done < <(jq -r 'def m: if . == null then "" else (. / 1048576 * 10 | round / 10 | tostring) end;
			.vms[] | [.name, (.target_bytes | m), (.actual_bytes | m), (.used_bytes | m),
			(.available_bytes | m), (.rss_bytes | m), (if .pressure == null then "0" else "1" end)] | join(",")' \
			<<<"$status" 2>/dev/null)
		for vm in "${VMS[@]}"; do
			IFS=, read -r tg ac us av rs pr <<<"${row[$vm]:-,,,,,0}"
			echo "$t,$vm,$tg,$ac,$us,$av,$rs,$pr,$(awk -v b="$cgu" 'BEGIN { printf "%.1f", b / 1048576 }'),${held_now[$vm]},${alive[$vm]}" >>"$csv"
		done
		unset row

		if [ -z "$ready_all" ]; then
			n=0
			for vm in "${VMS[@]}"; do [ -n "${ready[$vm]:-}" ] && n=$((n + 1)); done
			if [ "$n" -eq "$N" ]; then
				ready_all=$t
				echo "   all $N guests ready at t=${t}s; load phases run for ${LOAD_SECONDS}s"
			elif [ "$tick" -ge "$BOOT_TIMEOUT" ]; then
				ready_all=$t
				echo "   WARNING: only $n of $N guests ready after ${BOOT_TIMEOUT}s; measuring anyway" >&2
			fi
			[ -n "$ready_all" ] && end=$(awk -v a="$ready_all" -v d="$LOAD_SECONDS" 'BEGIN { print int(a + d) }')
		fi
		if [ -n "$end" ] && [ "$tick" -ge "$end" ]; then break; fi
		if [ $((tick % 30)) -eq 0 ]; then
			echo "   t=${tick}s cgroup $((cgu / MIB))/$LIMIT_MIB MiB, QEMUs alive $(for vm in "${VMS[@]}"; do echo -n "${alive[$vm]}"; done)"
		fi
	done

	# Final counters, before anything is stopped.
	local host_oom lost=0 goom=0 peak peak_src=cgroup over="" ramk=0 pid changes
	host_oom=$(cgroup_oom_kills "$CG")
	for vm in "${VMS[@]}"; do
		if pid=$(guests_pid "$vm"); then
			ramk=$((ramk + $(guest_ram_rss_kib "$pid")))
		else
			lost=$((lost + 1))
		fi
		goom=$((goom + $(guests_oom_count "$vm")))
		cp "$GUESTS_DIR/$vm.console" "$OUT/$p.$vm.console" 2>/dev/null
	done
	[ "$lost" -eq 0 ] && over=$(((($(cg_usage_bytes "$CG") / 1024 - ramk) / 1024 - LV_DAEMONS_MIB) / N))
	peak=$(cg_peak_bytes "$CG")
	if [ -z "$peak" ]; then
		peak_src=samples
		peak=$(awk -F, 'NR > 1 && $9 > m { m = $9 } END { printf "%d", m * 1048576 }' "$csv")
	fi
	changes=$(grep -ac 'target .* -> ' "$RUN/balloond.log")
	cp "$RUN/balloond.log" "$OUT/$p.balloond.log"
	run_end

	# Reclaim time per free event.
	[ ${#frees[@]} -eq 0 ] || awk -F, -v OFS=, 'FNR == NR { ev[++ne] = $0; next }
		FNR > 1 && $4 != "" { t[$2, ++n[$2]] = $1; a[$2, n[$2]] = $4 }
		END {
			for (e = 1; e <= ne; e++) {
				split(ev[e], f, ",")
				vm = f[1]; tf = f[3]; x = f[4]; base = ""; tr = ""
				for (i = 1; i <= n[vm]; i++) {
					if (t[vm, i] <= tf + 0.05) { base = a[vm, i]; continue }
					if (base != "" && a[vm, i] <= base - 0.8 * x) { tr = t[vm, i]; break }
				}
				print vm, f[2], tf, x, base, (tr == "" ? "never" : tr), (tr == "" ? "never" : sprintf("%.0f", tr - tf))
			}
		}' <(printf '%s\n' "${frees[@]}") "$csv" >>"$ev"
	echo "$host_oom $lost $goom $((peak / MIB)) $changes" >"$OUT/$p.counters"
	{
		printf '%s: run %s at commit %s (`%s`), %s s after boot, ' "$p" "$(date -u '+%Y-%m-%d %H:%M UTC')" \
			"$(code_commit)" "$COMMAND" "$LOAD_SECONDS"
		if [ ${#TUNE[@]} -gt 0 ]; then echo "balloons only (balloond's KSM and zswap tuning off)."
		else echo "balloond's KSM and zswap tuning on (its defaults)."; fi
	} >"$OUT/$p.info"
	echo "   done: host OOM kills $host_oom, QEMUs lost $lost, guest OOM kills $goom, peak $((peak / MIB)) MiB ($peak_src);" \
		"QEMU overhead at end: ${over:-not measured (a QEMU died)}${over:+ MiB/guest} (allowance $ALLOW_MIB MiB)"
	report_policy "$p"
}

# report_policy P: P's table row (into $ROWS) and plot, from bench/out/P.csv,
# P.events.csv and P.counters.  Rows of a dead QEMU (qemu_alive 0) hold the
# daemon's last, stale values: they are not counted and not plotted.
report_policy() {
	local p=$1 csv=$OUT/$1.csv ev=$OUT/$1.events.csv
	local host_oom lost goom peak changes psec lowsec rec
	read -r host_oom lost goom peak changes <"$OUT/$p.counters" || return 1
	[ -f "$csv" ] && [ -f "$ev" ] || return 1
	plot_policy "$p" "$host_oom" "$lost" "$goom"
	psec=$(awk -F, 'NR > 1 && $11 == 1 && $8 == 1 { n++ } END { print n + 0 }' "$csv")
	lowsec=$(awk -F, 'NR > 1 && $11 == 1 && $4 != "" && $6 != "" && $6 < 0.05 * $4 { n++ } END { print n + 0 }' "$csv")
	rec=$(awk -F, 'NR > 1 { tot++; if ($7 == "never") nev++; else v[++n] = $7 + 0 }
		END {
			if (tot == 0) { print "no free seen"; exit }
			if (n == 0) { printf "never (0/%d)", tot; exit }
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { s = v[i]; v[i] = v[j]; v[j] = s }
			med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			printf "%g / %s (%d/%d)", med, nev ? "never" : v[n], n, tot
		}' "$ev")
	printf '| %s | %s | %s | %s | %s | %s | %s MiB (%s%%) | %s | %s |\n' \
		"$p" "$host_oom" "$lost" "$goom" "$psec" "$lowsec" "$peak" \
		"$((peak * 100 / LIMIT_MIB))" "$rec" "$changes" >>"$ROWS"
}

# plot_policy P HOST_OOM LOST GUEST_OOM: bench/out/P.png from bench/out/P.csv.
plot_policy() {
	local p=$1 csv=$OUT/$1.csv dir vm term=png
	dir=$(mktemp -d /tmp/balloond-bench-plot.XXXXXX)
	for vm in "${VMS[@]}"; do
		awk -F, -v vm="$vm" 'NR > 1 && $2 == vm {
			for (i = 3; i <= 10; i++) if ($i == "" || $11 != 1) $i = "NaN"
			print $1, $3, $4, $5, $7, $10 }' "$csv" >"$dir/$vm.dat"
	done
	# Host sums; NaN for a second without status (balloonctl failed twice).
	awk -F, 'NR > 1 { u[$1] = $9; if (!($1 in seen)) { seen[$1] = 1; o[++n] = $1 }
			if ($4 != "" && $11 == 1) { s[$1] += $4; r[$1] += $7; k[$1]++ } }
		END { for (i = 1; i <= n; i++) { t = o[i]
			if (k[t]) print t, u[t], s[t], r[t]; else print t, u[t], "NaN", "NaN" } }' "$csv" >"$dir/host.dat"
	gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1 && term=pngcairo
	{
		echo "set terminal $term size 1400,1050 font ',10'"
		echo "set output '$OUT/$p.png'"
		echo "set multiplot layout 3,2 title \"policy = $p: 4 x 512 MiB $GUESTS_WHAT, cgroup limit $LIMIT_MIB MiB (B = $B_MIB MiB + QEMU allowance$DAEMONS_NOTE); host OOM kills $2, QEMUs lost $3, guest OOM kills $4\""
		echo "set grid; set key top right; set xlabel 't (s)'; set ylabel 'MiB'"
		echo "set yrange [0:560]"
		for vm in "${VMS[@]}"; do
			echo "unset arrow"
			while IFS=, read -r v _ tf _; do
				[ "$v" = "$vm" ] && echo "set arrow from $tf, graph 0 to $tf, graph 1 nohead dt 2 lw 1.5 lc rgb 'purple'"
			done < <(tail -n +2 "$OUT/$p.events.csv")
			echo "set title '$vm  (memload: ${LOAD[$vm]})' noenhanced"
			echo "plot '$dir/$vm.dat' using 1:2 with lines lw 2 dt 2 lc rgb 'red' title 'target', \
				'' using 1:3 with lines lw 2 lc rgb 'blue' title 'actual', \
				'' using 1:4 with lines lw 2 lc rgb 'dark-green' title 'used', \
				'' using 1:5 with lines lw 1 lc rgb 'orange' title 'QEMU RSS', \
				'' using 1:6 with steps lw 1 lc rgb 'gray50' title 'memload held'"
		done
		echo "unset arrow"
		echo "set title 'budget cgroup (purple dashes in the VM panels: free phases)'"
		echo "set yrange [0:$((2 * N * SIZE_MIB / 2 + 400))]"
		echo "plot '$dir/host.dat' using 1:2 with lines lw 2 lc rgb 'black' title 'cgroup usage', \
			$LIMIT_MIB with lines dt 2 lc rgb 'red' title 'cgroup limit', \
			'' using 1:3 with lines lw 2 lc rgb 'blue' title 'sum of actual', \
			'' using 1:4 with lines lw 1 lc rgb 'orange' title 'sum of QEMU RSS'"
		echo "unset multiplot"
	} >"$dir/plot.gp"
	gnuplot "$dir/plot.gp" || echo "   gnuplot failed for $p (script kept in $dir)" >&2
	[ -f "$OUT/$p.png" ] && rm -rf "$dir"
}

if [ "$REPORT_ONLY" -eq 0 ]; then
	{
		printf 'Run on %s cores, %s' "$(nproc)" "$(qemu-system-x86_64 --version | head -1)"
		[ "$BACKEND" = qmp ] || printf ', %s' "$(libvirtd --version)"
		echo "."
	} >"$OUT/run.info"
fi
ROWS=$(mktemp /tmp/balloond-bench-rows.XXXXXX)
trap 'run_end; rm -f "$ROWS"' EXIT
for p in "${POLICY_LIST[@]}"; do
	if [ "$REPORT_ONLY" -eq 1 ]; then
		report_policy "$p" || printf '| %s | no data in bench/out | | | | | | | |\n' "$p" >>"$ROWS"
	elif ! run_policy "$p"; then
		echo "   $p: run failed (see above)" >&2
		printf '| %s | run failed | | | | | | | |\n' "$p" >>"$ROWS"
		run_end
	fi
done

HEAD='| policy | host OOM kills | QEMUs lost | guest OOM kills | pressure s | avail<5% s | peak budget use | reclaim s: median / worst (reclaimed/events) | balloon changes |'
SEP='|---|---|---|---|---|---|---|---|---|'
{
	echo "# Density benchmark (bench/density.sh)"
	echo
	echo "$N $GUESTS_WHAT x $SIZE_MIB MiB = $((N * SIZE_MIB)) MiB configured, in a budget cgroup of $LIMIT_MIB MiB"
	echo "(B = $B_MIB MiB of guest RAM, $OVERCOMMIT, + $ALLOW_MIB MiB per guest measured for QEMU's own memory$DAEMONS_NOTE)."
	[ "$BACKEND" = qmp ] || echo "Guests: libvirt domains of a private libvirtd (bench/density.sh -b $BACKEND); balloond with backend = libvirt."
	echo "Guest demand averages ~40% of size and peaks at 86% of B in total; one guest grows to 1.5x its share."
	echo "proxmox and mom are re-implementations of Proxmox VE's pvestatd auto-ballooning and oVirt MOM's balloon.rules"
	echo "(src/core/peers.c), run without balloond's guard, seeing a host of the cgroup's size (peer_budget = on);"
	echo "$PEERS_NOT_MODELLED."
	cat "$OUT/run.info" 2>/dev/null
	echo "Each policy: fresh cgroup, guests and daemon, same memload scripts:"
	for p in "${POLICY_LIST[@]}"; do cat "$OUT/$p.info" 2>/dev/null; done
	echo "Reclaim: from a guest's free phase (console) until its balloon's actual fell by 80% of the freed MiB;"
	echo "a free phase that never came (memload or its QEMU killed first) is not counted."
	echo "Definitions of every column: header of bench/density.sh. Raw data and plots: ${OUT#"$REPO"/}/."
	echo
	echo "$HEAD"
	echo "$SEP"
	cat "$ROWS"
} >"$RESULTS"
echo
echo "$HEAD"
echo "$SEP"
cat "$ROWS"
echo
echo "written: ${RESULTS#"$REPO"/}; raw CSV, events, plots (PNG) and logs in ${OUT#"$REPO"/}/"

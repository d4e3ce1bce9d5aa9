#!/bin/bash
# Smoke test of the test guest itself (guest/, tests/lib/guest.sh), on real
# QEMU with the real Debian kernel:
#
#  1. one 512 MiB guest in a fresh memory cgroup runs
#     memload=alloc:300M,hold:3s,free:all,idle: it boots, binds
#     virtio_balloon, runs the phases in order, and QEMU's RSS goes above
#     300 MiB during the hold, with no OOM kill anywhere;
#  2. three 512 MiB guests boot at once: how long until all are ready.
#
# Exits 0 if every check passed.  Guests and cgroups are removed even on
# failure; the run directory (consoles, QEMU logs) is kept when a check fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/guest.sh
. "$ROOT/tests/lib/guest.sh"
export GUEST_DIR=${GUEST_DIR:-$ROOT/build/guest}

MIB=$((1024 * 1024))
passed=0
failed=0

# check DESCRIPTION COMMAND...: run COMMAND, count and print the outcome.
check() {
	local what=$1
	shift
	if "$@"; then
		echo "  ok    $what"
		passed=$((passed + 1))
	else
		echo "  FAIL  $what"
		failed=$((failed + 1))
	fi
}

# fatal MESSAGE: a failure the rest of the test cannot go on from.
fatal() {
	echo "  FAIL  $*"
	failed=$((failed + 1))
	exit 1
}

# console_has NAME REGEX: a line of NAME's console matches (kernel lines end
# in "\r\n").
console_has() { grep -qE -- "$2" < <(tr -d '\r' < "$RUN/$1.console"); }
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

if ! dpkg-query -W -f='${Status}' qemu-system-x86 2>/dev/null | grep -q 'install ok installed'; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
fi
"$ROOT/guest/build.sh" "$GUEST_DIR"
echo "guest image: kernel $(cat "$GUEST_DIR/kernel.version"), modules: $(tr '\n' ' ' < "$GUEST_DIR/modules.txt")"

RUN=$(mktemp -d /tmp/balloond-guest-boot.XXXXXX)
CG=
CG3=
cleanup() {
	local rc=$?
	guest_stop_all "$RUN"
	cgroup_remove "$CG"
	cgroup_remove "$CG3"
	if [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]; then
		rm -rf "$RUN"
	else
		echo "run directory kept: $RUN"
	fi
	echo "test_guest_boot: $passed passed, $failed failed"
	[ "$failed" -eq 0 ] || exit 1
}
trap cleanup EXIT

# ---- 1. one guest, a load, in a cgroup -------------------------------------

echo "== one 512 MiB guest, memload=alloc:300M,hold:3s,free:all,idle"
CG=$(cgroup_create "balloond-test-boot-$$" $((1536 * MIB))) || fatal "cgroup_create"
echo "  cgroup $CG (limit 1536 MiB)"
t0=$(now)
guest_start g1 512 alloc:300M,hold:3s,free:all,idle "$RUN/qmp" "$RUN" "$CG" || fatal "guest_start g1"
pid=$(guest_pid g1 "$RUN")
check "QMP socket $RUN/qmp/g1 exists" test -S "$RUN/qmp/g1"
check "QEMU (pid $pid) is in the cgroup" grep -qx "$pid" "$CG/cgroup.procs"
guest_wait_ready g1 "$RUN" 90 || fatal "g1 ready within 90 s"
echo "  ready after $(since "$t0") s"
rss_ready=$(guest_rss_kib g1 "$RUN")
echo "  QEMU RSS at ready: $((rss_ready / 1024)) MiB; guest: $(grep -o 'meminfo.*' "$RUN/g1.console")"

# Sample RSS while the console says the guest is holding its 300 MiB.
rss_hold=0
deadline=$((SECONDS + 90))
until console_has g1 'phase=idle' || [ $SECONDS -ge $deadline ]; do
	if console_has g1 'phase=hold' && ! console_has g1 'phase=free'; then
		rss=$(guest_rss_kib g1 "$RUN") || break
		[ "$rss" -le "$rss_hold" ] || rss_hold=$rss
	fi
	sleep 0.2
done
phases=$(tr -d '\r' < "$RUN/g1.console" | sed -n 's/^memload: phase=\([a-z]*\) .*/\1/p' | uniq | tr '\n' ' ')
echo "  phases on the console: $phases; max QEMU RSS during hold: $((rss_hold / 1024)) MiB"

check "console: virtio_balloon loaded and bound" console_has g1 '^balloon-guest: virtio_balloon loaded$'
check "console: no insmod failure" bash -c "! grep -q 'insmod .* failed' '$RUN/g1.console'"
check "console: meminfo line" console_has g1 '^balloon-guest: meminfo total_kib=[0-9]+ avail_kib=[0-9]+$'
check "console: balloon-guest: ready" console_has g1 '^balloon-guest: ready$'
check "console: memload: start" console_has g1 '^memload: start$'
check "phases in order: alloc hold free idle" test "$phases" = "alloc hold free idle "
check "hold holds 300 MiB" console_has g1 '^memload: phase=hold held_mib=300$'
check "idle after free:all holds 0 MiB" console_has g1 '^memload: phase=idle held_mib=0$'
check "QEMU RSS above 300 MiB during the hold" test "$rss_hold" -gt $((300 * 1024))
check "no OOM in the guest" test "$(guest_oom_count g1 "$RUN")" -eq 0
check "no OOM kill in the cgroup" test "$(cgroup_oom_kills "$CG")" -eq 0

guest_stop g1 "$RUN"
check "guest_stop: QEMU gone" test ! -d "/proc/$pid"
check "guest_stop: pid file and QMP socket removed" test ! -e "$RUN/g1.pid" -a ! -e "$RUN/qmp/g1"
check "guest_stop again is harmless" guest_stop g1 "$RUN"
cgroup_remove "$CG"
check "cgroup removed" test ! -d "$CG"
check "cgroup_remove again is harmless" cgroup_remove "$CG"

# ---- 2. three guests at once --------------------------------------------------

echo "== three 512 MiB guests booting at once (memload=idle)"
CG3=$(cgroup_create "balloond-test-boot3-$$" $((3 * 1024 * MIB))) || fatal "cgroup_create"
t0=$(now)
for g in h1 h2 h3; do
	guest_start "$g" 512 idle "$RUN/qmp" "$RUN" "$CG3" || fatal "guest_start $g"
done
for g in h1 h2 h3; do
	guest_wait_ready "$g" "$RUN" 120 || fatal "$g ready within 120 s"
	echo "  $g ready by $(since "$t0") s"
done
echo "  all three ready after $(since "$t0") s"
for g in h1 h2 h3; do
	check "$g: virtio_balloon loaded" console_has "$g" '^balloon-guest: virtio_balloon loaded$'
done
sleep 2
for g in h1 h2 h3; do
	echo "  $g: QEMU RSS $(($(guest_rss_kib "$g" "$RUN") / 1024)) MiB; $(grep -o 'meminfo.*' "$RUN/$g.console")"
done
check "no OOM kill in the cgroup" test "$(cgroup_oom_kills "$CG3")" -eq 0
guest_stop_all "$RUN"
check "guest_stop_all: no pid files left" bash -c "! ls '$RUN'/*.pid >/dev/null 2>&1"

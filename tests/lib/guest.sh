# shellcheck shell=bash
# tests/lib/guest.sh — start and stop real QEMU test guests, and the memory
# cgroup that holds them.  Sourced by the integration tests and the demo.
#
#   . tests/lib/guest.sh
#   RUN=$(mktemp -d); CG=
#   trap 'guest_stop_all "$RUN"; cgroup_remove "$CG"' EXIT
#   CG=$(cgroup_create balloond-test 2147483648)
#   guest_start vm1 512 alloc:300M,hold:30s,idle "$RUN/qmp" "$RUN" "$CG"
#   guest_wait_ready vm1 "$RUN" 60
#
# The guest image comes from guest/build.sh (see guest/init for its console
# lines and guest/memload.c for the memload= grammar).
#
# Environment:
#   GUEST_DIR            image directory (default: build/guest in this repository)
#   GUEST_KERNEL         kernel to boot (default: GUEST_DIR/vmlinux if it exists,
#                        it boots twice as fast as GUEST_DIR/vmlinuz under TCG)
#   GUEST_BALLOON_PROPS  extra virtio-balloon-pci properties, comma-separated,
#                        e.g. "deflate-on-oom=on,free-page-reporting=on"
#   GUEST_QEMU_ARGS      extra QEMU arguments (split on whitespace)
#   GUEST_APPEND         extra kernel command line, e.g.
#                        "module_blacklist=virtio_balloon" (the guest's insmod
#                        of the driver then fails: a guest without the driver)
#   GUEST_BALLOON        "off": no virtio-balloon device at all
#   GUEST_VMEM_MIB       a virtio-mem-pci device (id vmem0) of this many MiB
#                        beside the MEM_MIB of boot RAM (-m MEM,maxmem=...),
#                        GUEST_VMEM_REQUESTED_MIB plugged at start (default
#                        0); the guest onlines it movable (memhp_default_state)
#
# Files a guest NAME leaves in RUN_DIR: NAME.pid (QEMU's PID), NAME.console
# (serial console, ttyS0), NAME.qemu.log (QEMU's own stdout/stderr) and
# NAME.sock (path of its QMP socket, so that guest_stop can remove it).
#
# Every function reports problems on stderr and returns non-zero; the clean-up
# functions (guest_stop, guest_stop_all, cgroup_remove) are idempotent and
# accept missing or empty arguments, so they are safe in EXIT traps.

_guest_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

_guest_err() { echo "guest.sh: $*" >&2; }

# _guest_now: seconds since the epoch, with microseconds.
_guest_now() { echo "${EPOCHREALTIME:-$(date +%s.%N)}"; }

# _guest_elapsed START: seconds since START (from _guest_now), as a decimal.
_guest_elapsed() { awk -v a="$1" -v b="$(_guest_now)" 'BEGIN { printf "%.1f", b - a }'; }

# _guest_pid NAME RUN_DIR: print the PID from NAME.pid; false if there is none.
_guest_pid() {
	local pid
	[ -f "$2/$1.pid" ] || return 1
	read -r pid < "$2/$1.pid" 2>/dev/null || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	echo "$pid"
}

# _guest_alive PID NAME RUN_DIR: true if PID is still this guest's QEMU (or
# the sh that is about to exec it) and not a zombie.  Checking the command
# line keeps a recycled PID from being taken for the guest.
_guest_alive() {
	local pid=$1 stat state args
	[ -r "/proc/$pid/stat" ] || return 1
	read -r stat < "/proc/$pid/stat" 2>/dev/null || return 1
	state=${stat##*) }
	state=${state%% *}
	[ "$state" != Z ] && [ "$state" != X ] || return 1
	# (No pipe into grep -q here: callers may run with pipefail.)
	args=$(tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $'\n'$args$'\n' == *$'\n'"file:$3/$2.console"$'\n'* ]]
}

# _guest_child_alive PID: true while PID (a child of this shell) runs.
_guest_child_alive() {
	local stat state
	read -r stat < "/proc/$1/stat" 2>/dev/null || return 1
	state=${stat##*) }
	state=${state%% *}
	[ "$state" != Z ] && [ "$state" != X ]
}

# guest_pid NAME RUN_DIR
#   Print the PID of guest NAME's QEMU process; false if it is not running.
guest_pid() {
	local pid
	pid=$(_guest_pid "$1" "$2") || return 1
	_guest_alive "$pid" "$1" "$2" || return 1
	echo "$pid"
}

# guest_start NAME MEM_MIB MEMLOAD_SPEC SOCK_DIR RUN_DIR [CGROUP_DIR]
#   Boot a guest in the background: QEMU under TCG with MEM_MIB of RAM, one
#   vCPU, a virtio-balloon-pci device (id balloon0) and a QMP server socket at
#   SOCK_DIR/NAME (no extension: balloond names the VM after the socket).  The
#   guest runs memload with MEMLOAD_SPEC.  With CGROUP_DIR, QEMU joins that
#   cgroup before it starts, so all guest memory is charged to it.  Returns
#   once the QMP socket exists (QEMU is up; the guest is still booting: see
#   guest_wait_ready), or non-zero with QEMU's log if QEMU failed.
guest_start() {
	if [ $# -lt 5 ] || [ $# -gt 6 ]; then
		_guest_err "usage: guest_start NAME MEM_MIB MEMLOAD_SPEC SOCK_DIR RUN_DIR [CGROUP_DIR]"
		return 2
	fi
	local name=$1 mem=$2 spec=$3 sockdir=$4 rundir=$5 cg=${6:-}
	local dir=${GUEST_DIR:-$_guest_repo/build/guest}
	local kernel=${GUEST_KERNEL:-} pid t0 old
	local -a cmd extra=()

	if ! [[ $name =~ ^[A-Za-z0-9._-]+$ ]]; then
		_guest_err "guest name '$name': use letters, digits, '.', '_' and '-' only"
		return 2
	fi
	if ! [[ $mem =~ ^[0-9]+$ ]]; then
		_guest_err "$name: memory '$mem' is not a number of MiB"
		return 2
	fi
	if [[ $spec =~ [[:space:]\"] ]]; then
		_guest_err "$name: memload spec '$spec' must not contain spaces or quotes"
		return 2
	fi
	if [ -z "$kernel" ]; then
		kernel=$dir/vmlinuz
		[ ! -f "$dir/vmlinux" ] || kernel=$dir/vmlinux
	fi
	if [ ! -f "$kernel" ] || [ ! -f "$dir/initrd.img" ]; then
		_guest_err "$name: no guest image in $dir (run guest/build.sh $dir)"
		return 1
	fi
	if [ -n "$cg" ] && [ ! -f "$cg/cgroup.procs" ]; then
		_guest_err "$name: $cg is not a cgroup directory"
		return 1
	fi
	command -v qemu-system-x86_64 >/dev/null || { _guest_err "qemu-system-x86_64 not found"; return 1; }
	mkdir -p "$sockdir" "$rundir" || return 1
	sockdir=$(cd "$sockdir" && pwd) && rundir=$(cd "$rundir" && pwd) || return 1
	if old=$(guest_pid "$name" "$rundir"); then
		_guest_err "$name: already running (pid $old)"
		return 1
	fi
	if [ ${#sockdir} -gt 100 ]; then
		# sun_path holds 108 bytes, name included.
		_guest_err "$name: socket directory path too long for a unix socket: $sockdir"
		return 1
	fi
	rm -f "$sockdir/$name" "$rundir/$name.console" "$rundir/$name.qemu.log"

	local mopt=$mem append=${GUEST_APPEND:-}
	if [ -n "${GUEST_VMEM_MIB:-}" ]; then
		# Boot RAM plus room for the device; the guest's virtio_mem
		# onlines what is plugged as movable, so it can be unplugged.
		mopt="${mem}M,maxmem=$((mem + GUEST_VMEM_MIB))M,slots=1"
		append="memhp_default_state=online_movable${append:+ $append}"
		extra+=(-object "memory-backend-ram,id=vmem0mem,size=${GUEST_VMEM_MIB}M"
			-device "virtio-mem-pci,id=vmem0,memdev=vmem0mem,requested-size=${GUEST_VMEM_REQUESTED_MIB:-0}M")
	fi
	cmd=(qemu-system-x86_64 -name "$name" -accel tcg -m "$mopt" -smp 1
	     -nodefaults -display none -no-reboot
	     -kernel "$kernel" -initrd "$dir/initrd.img"
	     -append "console=ttyS0 quiet memload=$spec${append:+ $append}"
	     -serial "file:$rundir/$name.console"
	     -qmp "unix:$sockdir/$name,server=on,wait=off")
	[ "${GUEST_BALLOON:-on}" = off ] ||
		cmd+=(-device "virtio-balloon-pci,id=balloon0${GUEST_BALLOON_PROPS:+,$GUEST_BALLOON_PROPS}")
	# shellcheck disable=SC2206  # splitting GUEST_QEMU_ARGS is the point
	[ -z "${GUEST_QEMU_ARGS:-}" ] || extra+=($GUEST_QEMU_ARGS)
	cmd+=("${extra[@]}")
	if [ -n "$cg" ]; then
		# Join the cgroup first, then become QEMU (same PID), so that
		# not a page of guest memory is charged anywhere else.
		# shellcheck disable=SC2016  # $$ and $1 are for that sh
		cmd=(sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' guest_start "$cg" "${cmd[@]}")
	fi
	"${cmd[@]}" </dev/null >"$rundir/$name.qemu.log" 2>&1 &
	pid=$!
	echo "$pid" > "$rundir/$name.pid"
	echo "$sockdir/$name" > "$rundir/$name.sock"

	t0=$(_guest_now)
	while [ ! -S "$sockdir/$name" ]; do
		# Our own child: its PID cannot be recycled before we reap it, so
		# being alive is enough here. Its command line is not checked: it
		# reads empty for a moment while sh execs QEMU (a CI run once took
		# that for "exited at start").
		if ! _guest_child_alive "$pid"; then
			_guest_err "$name: QEMU exited at start; its log:"
			sed 's/^/    /' "$rundir/$name.qemu.log" >&2
			guest_stop "$name" "$rundir"
			return 1
		fi
		if awk -v e="$(_guest_elapsed "$t0")" 'BEGIN { exit !(e > 10) }'; then
			_guest_err "$name: no QMP socket after 10 s"
			guest_stop "$name" "$rundir"
			return 1
		fi
		sleep 0.05
	done
}

# guest_wait_ready NAME RUN_DIR TIMEOUT_S
#   Wait until guest NAME's console shows "memload: start" (the guest booted,
#   loaded virtio_balloon and started its workload).  Non-zero, with the end
#   of the console, on timeout or if QEMU died.
guest_wait_ready() {
	local name=$1 rundir=$2 timeout=$3 pid t0
	local console=$rundir/$name.console
	t0=$(_guest_now)
	while ! grep -qs 'memload: start' "$console"; do
		pid=$(_guest_pid "$name" "$rundir") || { _guest_err "$name: not started"; return 1; }
		if ! _guest_alive "$pid" "$name" "$rundir"; then
			_guest_err "$name: QEMU died before the guest was ready; console and log:"
			tail -n 20 "$console" "$rundir/$name.qemu.log" 2>/dev/null | sed 's/^/    /' >&2
			return 1
		fi
		if awk -v e="$(_guest_elapsed "$t0")" -v t="$timeout" 'BEGIN { exit !(e >= t) }'; then
			_guest_err "$name: not ready after ${timeout}s; end of console:"
			tail -n 20 "$console" 2>/dev/null | sed 's/^/    /' >&2
			return 1
		fi
		sleep 0.1
	done
}

# guest_stop NAME RUN_DIR
#   Stop guest NAME: SIGTERM, up to 5 s to exit, then SIGKILL.  Removes its
#   pid file and QMP socket.  Does nothing if it is not running.
guest_stop() {
	local name=${1:-} rundir=${2:-} pid sock i
	[ -n "$name" ] && [ -n "$rundir" ] || return 0
	if pid=$(_guest_pid "$name" "$rundir"); then
		if _guest_alive "$pid" "$name" "$rundir"; then
			kill -TERM "$pid" 2>/dev/null || true
			for ((i = 0; i < 50; i++)); do
				_guest_alive "$pid" "$name" "$rundir" || break
				sleep 0.1
			done
			if _guest_alive "$pid" "$name" "$rundir"; then
				_guest_err "$name: still running 5 s after SIGTERM, killing it"
				kill -KILL "$pid" 2>/dev/null || true
				for ((i = 0; i < 50; i++)); do
					_guest_alive "$pid" "$name" "$rundir" || break
					sleep 0.1
				done
			fi
		fi
		# Reap it if it is a child of this shell (it is dead by now, so
		# this cannot block); otherwise wait just says so, quietly.
		wait "$pid" 2>/dev/null || true
	fi
	if [ -f "$rundir/$name.sock" ]; then
		read -r sock < "$rundir/$name.sock" 2>/dev/null || sock=
		[ -z "$sock" ] || [ ! -S "$sock" ] || rm -f "$sock"
	fi
	rm -f "$rundir/$name.pid" "$rundir/$name.sock"
	return 0
}

# guest_stop_all RUN_DIR
#   Stop every guest that has a pid file in RUN_DIR (all at once: SIGTERM to
#   each first, then guest_stop each).
guest_stop_all() {
	local rundir=${1:-} f name pid
	local -a names=()
	[ -n "$rundir" ] && [ -d "$rundir" ] || return 0
	for f in "$rundir"/*.pid; do
		[ -e "$f" ] || continue
		name=${f##*/}
		name=${name%.pid}
		names+=("$name")
		if pid=$(_guest_pid "$name" "$rundir") && _guest_alive "$pid" "$name" "$rundir"; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
	done
	for name in "${names[@]}"; do
		guest_stop "$name" "$rundir"
	done
	return 0
}

# guest_qmp SOCK COMMAND [ARGS_JSON]
#   Send one QMP COMMAND (e.g. system_reset, or qom-get with ARGS_JSON) on a
#   second QMP socket of a guest (GUEST_QEMU_ARGS="-qmp unix:SOCK,server=on,
#   wait=off": balloond holds the first) and print its return value as
#   JSON. Non-zero, with QEMU's error, if refused.
#   Note: guest_start passes -no-reboot, under which QEMU turns a reset into
#   a shutdown; add "-action reboot=reset" to GUEST_QEMU_ARGS for a reset.
guest_qmp() {
	python3 - "$1" "$2" "${3:-}" <<-'EOF'
	import json, socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(10)
	s.connect(sys.argv[1])
	f = s.makefile("rw")
	f.readline()  # the greeting
	for cmd, args in (("qmp_capabilities", ""), (sys.argv[2], sys.argv[3])):
	    msg = {"execute": cmd}
	    if args:
	        msg["arguments"] = json.loads(args)
	    f.write(json.dumps(msg) + "\n")
	    f.flush()
	    while True:  # events may come before the reply
	        r = json.loads(f.readline())
	        if "return" in r or "error" in r:
	            break
	    if "error" in r:
	        sys.exit("guest_qmp: %s: %s" % (cmd, r["error"].get("desc")))
	print(json.dumps(r["return"]))
	EOF
}

# guest_rss_kib NAME RUN_DIR
#   Print the resident set size (VmRSS, KiB) of guest NAME's QEMU process.
guest_rss_kib() {
	local pid
	pid=$(guest_pid "$1" "$2") || { _guest_err "$1: not running"; return 1; }
	pid_rss_kib "$pid" "$1"
}

# pid_rss_kib PID NAME
#   Print the resident set size (VmRSS, KiB) of process PID (guest NAME's
#   QEMU, for the message).
pid_rss_kib() {
	local rss
	rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$rss" ] || { _guest_err "$2: no VmRSS for pid $1"; return 1; }
	echo "$rss"
}

# guest_oom_count NAME RUN_DIR
#   Print how many console lines of guest NAME report an OOM kill ("Out of
#   memory", "oom-kill", "Killed process").  With the "quiet" kernel option
#   only the error-level line "Out of memory: Killed process ..." reaches the
#   console, so this is one line per kill; compare with 0 rather than count
#   kills exactly.
guest_oom_count() {
	local n
	n=$(grep -cE 'Out of memory|oom-kill|Killed process' "$2/$1.console" 2>/dev/null) || true
	echo "${n:-0}"
}

# _cgroup_memory_root: print "v1 DIR" or "v2 DIR" for the mounted hierarchy
# that has the memory controller (v1 wins on hybrid hosts, where v2 is
# mounted but has no controllers).
_cgroup_memory_root() {
	local mnt
	mnt=$(awk '{ split($0, half, " - "); split(half[2], f, " ");
		     if (f[1] == "cgroup" && ("," f[3] ",") ~ /,memory,/) { print $5; exit } }' /proc/self/mountinfo)
	if [ -n "$mnt" ]; then
		echo "v1 $mnt"
		return 0
	fi
	mnt=$(awk '{ split($0, half, " - "); split(half[2], f, " ");
		     if (f[1] == "cgroup2") print $5 }' /proc/self/mountinfo |
	      while read -r m; do
		      if grep -qw memory "$m/cgroup.controllers" 2>/dev/null; then echo "$m"; break; fi
	      done)
	if [ -n "$mnt" ]; then
		echo "v2 $mnt"
		return 0
	fi
	_guest_err "no memory cgroup controller on this host (neither v1 nor v2)"
	return 1
}

# cgroup_create NAME LIMIT_BYTES
#   Create a memory cgroup NAME directly under the memory hierarchy's root
#   (v1: DIR/memory.limit_in_bytes; v2: DIR/memory.max; swap limits are left
#   alone) and print its directory.  A leftover cgroup of that name (from a
#   run that could not clean up) is removed first, see cgroup_remove.
cgroup_create() {
	local name=${1:-} limit=${2:-} ver root dir
	if [ -z "$name" ] || ! [[ $limit =~ ^[0-9]+$ ]]; then
		_guest_err "usage: cgroup_create NAME LIMIT_BYTES"
		return 2
	fi
	read -r ver root < <(_cgroup_memory_root) || return 1
	dir=$root/$name
	if [ -d "$dir" ]; then
		cgroup_remove "$dir"
		[ ! -d "$dir" ] || { _guest_err "cannot replace leftover cgroup $dir"; return 1; }
	fi
	if [ "$ver" = v2 ] && ! grep -qw memory "$root/cgroup.subtree_control"; then
		echo +memory > "$root/cgroup.subtree_control" ||
			{ _guest_err "cannot enable +memory in $root/cgroup.subtree_control"; return 1; }
	fi
	mkdir "$dir" || return 1
	if [ "$ver" = v1 ]; then
		echo "$limit" > "$dir/memory.limit_in_bytes"
	else
		echo "$limit" > "$dir/memory.max"
	fi || { _guest_err "cannot set the limit of $dir"; rmdir "$dir"; return 1; }
	echo "$dir"
}

# cgroup_remove DIR
#   Move any processes left in cgroup DIR to the hierarchy's root, then remove
#   it.  Does nothing if DIR is empty or gone.
cgroup_remove() {
	local dir=${1:-} ver root pid i
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	[ -f "$dir/cgroup.procs" ] || { _guest_err "$dir is not a cgroup"; return 1; }
	read -r ver root < <(_cgroup_memory_root) || root=$(dirname "$dir")
	# The root, not the parent: under v2 a parent that delegates memory to
	# children may not hold processes itself.
	for ((i = 0; i < 30; i++)); do
		while read -r pid; do
			echo "$pid" > "$root/cgroup.procs" 2>/dev/null || true
		done < "$dir/cgroup.procs"
		# rmdir can fail for a moment while exiting tasks are released.
		rmdir "$dir" 2>/dev/null && return 0
		sleep 0.1
	done
	_guest_err "cannot remove cgroup $dir (processes: $(tr '\n' ' ' < "$dir/cgroup.procs"))"
	return 1
}

# cgroup_oom_kills DIR
#   Print the number of processes the kernel OOM-killed in cgroup DIR because
#   of its limit (v1: memory.oom_control, v2: memory.events; 0 if unknown).
cgroup_oom_kills() {
	local dir=${1:-} n=
	if [ -f "$dir/memory.events" ]; then
		n=$(awk '$1 == "oom_kill" { print $2 }' "$dir/memory.events")
	elif [ -f "$dir/memory.oom_control" ]; then
		n=$(awk '$1 == "oom_kill" { print $2 }' "$dir/memory.oom_control")
	fi
	echo "${n:-0}"
}

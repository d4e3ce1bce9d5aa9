# shellcheck shell=bash
# tests/lib/libvirt.sh — a private libvirtd (QEMU driver) and test guests
# defined through it, for the libvirt backend's integration tests and demo.
#
#   . tests/lib/libvirt.sh
#   LV=$(mktemp -d /tmp/balloond-lv.XXXXXX)
#   trap 'libvirt_stop "$LV"; rm -rf "$LV"' EXIT
#   libvirt_start "$LV"                 # or: libvirt_start "$LV" "$CG"
#   libvirt_guest_start vm1 512 alloc:300M,hold:30s,idle "$LV"
#   libvirt_guest_wait_ready vm1 "$LV" 90
#   libvirt_virsh "$LV" setmem vm1 300M --live
#   balloond ... --libvirt-uri "$(libvirt_uri "$LV")"
#
# The daemons run as root, in a mount namespace of their own in which
# /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt and
# /var/cache/libvirt are bind mounts of directories under DIR.  A privileged
# libvirtd has no option to read another qemu.conf than
# /etc/libvirt/qemu.conf, nor another state directory than /run/libvirt, so
# this is how it gets a private configuration (user root, no dynamic
# ownership: the guest image is used in place, unchanged) without a file
# of the host's being written, and how a system libvirtd, if any, is left
# alone.  The namespace also sees copies of /etc/passwd and /etc/group
# with a user and group libvirt-qemu, which the QEMU driver insists on
# (see libvirt_start).  Its only client socket is DIR/sock/libvirt-sock (auth none,
# mode 0700); clients reach it with the URI that libvirt_uri prints.
# The empty mount points are created on the host if missing (libvirtd
# itself would create the same directories) and left there: another
# harness may be using them at that moment.
#
# What DIR holds once started:
#   sock/libvirt-sock       the client socket (libvirt_uri)
#   run/qemu/NAME.pid       QEMU's PID (it is /run/libvirt/qemu/NAME.pid
#                           inside the namespace), run/qemu/NAME.xml its
#                           live status XML
#   log/qemu/NAME.log       QEMU's command line and stderr (via virtlogd)
#   NAME.console            the guest's serial console (ttyS0)
#   NAME.xml                the domain XML it was started with
#   libvirtd.log, virtlogd.log   the daemons' warnings and errors
#   libvirtd.pid, virtlogd.pid
#
# The guest image and kernel command line are those of tests/lib/guest.sh
# (GUEST_DIR, GUEST_KERNEL, GUEST_APPEND mean the same); the guest is driven
# the same way, by memload=SPEC on its kernel command line, and reports on
# its serial console.  Other environment:
#   LIBVIRT_BALLOON      "virtio" (default): <memballoon model='virtio'> with
#                        <stats period='1'/>; "nostats": the same without
#                        <stats>; "none": <memballoon model='none'/>
#   LIBVIRT_BALLOON_ATTRS  extra attributes of <memballoon>, e.g.
#                        "autodeflate='on' freePageReporting='on'"
#   LIBVIRT_ON_REBOOT    <on_reboot> action (default "restart")
#   LIBVIRT_VMEM_MIB     a <memory model='virtio-mem'> device of this many
#                        MiB (2 MiB blocks, LIBVIRT_VMEM_REQUESTED_MIB asked
#                        at start, default 0) beside MEM_MIB of boot RAM; the
#                        domain gets the <maxMemory slots> and the NUMA cell
#                        libvirt needs for it, the guest onlines it movable
#   LIBVIRT_CACHE_DIR    where libvirtd keeps its QEMU capabilities cache
#                        (default DIR/cache; a directory kept between runs
#                        saves the probe of QEMU at each libvirt_start)
#   LIBVIRT_CGROUPS      qemu.conf cgroup_controllers, as a space-separated
#                        list (default: libvirt's own default, all of them);
#                        "" for none: QEMU then stays in libvirtd's cgroups
#
# Every function reports problems on stderr and returns non-zero; the
# clean-up functions (libvirt_guest_stop, libvirt_stop) are idempotent and
# accept a missing or empty DIR, so they are safe in EXIT traps.  With
# tests/lib/daemon.sh's test_begin, stop libvirt in test_cleanup_extra
# (it runs before the budget cgroup is removed):
#   test_cleanup_extra() { libvirt_stop "$LV"; rm -rf "$LV"; }
# Guests boot: run the test under flock /tmp/balloond-guests.lock.  The
# daemons do not keep that lock (libvirt_start closes what they inherit).

_lv_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

_lv_err() { echo "libvirt.sh: $*" >&2; }

# The directories libvirtd uses as root, each replaced by DIR/<name>.
_lv_binds=(etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt
	   log:/var/log/libvirt cache:/var/cache/libvirt)

# _lv_pidof FILE CMDNAME: print the PID in FILE if that process is alive,
# not a zombie, and its command name (/proc/PID/comm) is CMDNAME.
_lv_pidof() {
	local pid='' stat comm
	[ -f "$1" ] || return 1
	# libvirt writes its pid files without a final newline.
	read -r pid < "$1" 2>/dev/null || [ -n "$pid" ] || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	read -r stat < "/proc/$pid/stat" 2>/dev/null || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ] || return 1
	read -r comm < "/proc/$pid/comm" 2>/dev/null || return 1
	[ "$comm" = "$2" ] || return 1
	echo "$pid"
}

# _lv_kill PID WHAT: SIGTERM, up to 10 s to exit, then SIGKILL.
_lv_kill() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		[ -d "/proc/$pid" ] || return 0
		sleep 0.1
	done
	_lv_err "$2 (pid $pid) still running 10 s after SIGTERM, killing it"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		[ -d "/proc/$pid" ] || return 0
		sleep 0.1
	done
}

# _lv_memory_cgroup_root: the v1 memory hierarchy's mount point, or nothing.
_lv_memory_cgroup_root() {
	awk '{ split($0, half, " - "); split(half[2], f, " ");
	       if (f[1] == "cgroup" && ("," f[3] ",") ~ /,memory,/) { print $5; exit } }' /proc/self/mountinfo
}

# libvirt_uri DIR
#   Print the URI of the private libvirtd in DIR.
libvirt_uri() {
	echo "qemu:///system?socket=$1/sock/libvirt-sock"
}

# libvirt_virsh DIR ARGS...
#   Run virsh against the private libvirtd in DIR.
libvirt_virsh() {
	local dir=$1
	shift
	virsh -q -c "$(libvirt_uri "$dir")" "$@"
}

# libvirt_start DIR [CGROUP_DIR]
#   Write a private configuration into DIR (an existing, empty directory
#   with a short path: the client socket's must fit in 108 bytes) and start
#   virtlogd and libvirtd with it, both daemonised, in a new mount
#   namespace.  Returns once libvirtd answers on its socket.
#   With CGROUP_DIR (a v1 memory cgroup, e.g. from cgroup_create in
#   tests/lib/guest.sh), both daemons join it and, unless LIBVIRT_CGROUPS
#   says otherwise, libvirt makes no cgroups of its own: every QEMU it
#   starts is then charged to CGROUP_DIR (and so are the daemons, about
#   30 MiB).  Without it, each QEMU lands in libvirt's own
#   /machine/qemu-ID-NAME.libvirt-qemu of every hierarchy.
libvirt_start() {
	local dir=${1:-} cg=${2:-} b src mnt ctl i
	local -a mounts=()
	if [ -z "$dir" ] || [ ! -d "$dir" ]; then
		_lv_err "usage: libvirt_start DIR [CGROUP_DIR] (DIR: an existing directory)"
		return 2
	fi
	if [ -n "$cg" ] && [ ! -f "$cg/cgroup.procs" ]; then
		_lv_err "$cg is not a cgroup directory"
		return 1
	fi
	[ -z "$cg" ] || [ -n "${LIBVIRT_CGROUPS+set}" ] || local LIBVIRT_CGROUPS=
	dir=$(cd "$dir" && pwd) || return 1
	if [ ${#dir} -gt 80 ]; then
		_lv_err "$dir: path too long for the sockets under it"
		return 1
	fi
	if _lv_pidof "$dir/libvirtd.pid" libvirtd >/dev/null; then
		_lv_err "a libvirtd already runs in $dir"
		return 1
	fi
	for b in libvirtd virtlogd unshare; do
		command -v "$b" >/dev/null || { _lv_err "$b not found (scripts/deps.sh)"; return 1; }
	done
	[ "$(id -u)" -eq 0 ] || { _lv_err "libvirtd must run as root"; return 1; }

	for b in "${_lv_binds[@]}"; do
		src=$dir/${b%%:*}
		mnt=${b#*:}
		[ "$src" != "$dir/cache" ] || src=${LIBVIRT_CACHE_DIR:-$src}
		mkdir -p "$src" "$mnt" || return 1
		chmod 0755 "$src"
		mounts+=("$src" "$mnt")
	done
	mkdir -p "$dir/sock" && chmod 0700 "$dir/sock" || return 1

	cat > "$dir/libvirtd.conf" <<-EOF
	unix_sock_dir = "$dir/sock"
	unix_sock_rw_perms = "0700"
	unix_sock_ro_perms = "0700"
	unix_sock_admin_perms = "0700"
	auth_unix_rw = "none"
	auth_unix_ro = "none"
	log_outputs = "3:file:$dir/libvirtd.log"
	EOF
	cat > "$dir/virtlogd.conf" <<-EOF
	log_outputs = "3:file:$dir/virtlogd.log"
	EOF
	{
		echo 'user = "root"'
		echo 'group = "root"'
		echo 'dynamic_ownership = 0'
		echo 'remember_owner = 0'
		echo 'security_driver = "none"'
		if [ -n "${LIBVIRT_CGROUPS+set}" ]; then
			printf 'cgroup_controllers = [ '
			ctl=
			for b in $LIBVIRT_CGROUPS; do
				printf '%s"%s"' "$ctl" "$b"
				ctl=', '
			done
			printf ' ]\n'
		fi
	} > "$dir/etc/qemu.conf"

	# A privileged QEMU driver looks up the user and group libvirt-qemu
	# (Debian's build default) before it reads qemu.conf, and refuses to
	# start without them; libvirt-daemon-system would create them.  So
	# the namespace sees copies of /etc/passwd and /etc/group that have
	# them (unused: qemu.conf says root).
	for b in passwd group; do
		getent "$b" libvirt-qemu >/dev/null && continue
		cp "/etc/$b" "$dir/$b" || return 1
		if [ "$b" = passwd ]; then
			echo "libvirt-qemu:x:64055:64055:balloond test harness:/nonexistent:/usr/sbin/nologin"
		else
			echo "libvirt-qemu:x:64055:"
		fi >> "$dir/$b"
		mounts+=("$dir/$b" "/etc/$b")
	done

	# Which machine cgroups existed before, so that libvirt_stop removes
	# only what this libvirtd made.
	# (Kept from the first start when libvirtd is started again.)
	[ -f "$dir/cgroups.before" ] || _lv_machine_cgroups > "$dir/cgroups.before"

	# The daemons close no descriptor they inherit: they would hold the
	# caller's, such as the flock on /tmp/balloond-guests.lock, for as
	# long as they run.  So close everything above stderr first.
	# shellcheck disable=SC2016  # for that bash
	unshare --mount --propagation private -- bash -c '
		set -e
		for fd in /proc/self/fd/*; do
			fd=${fd##*/}
			[ "$fd" -le 2 ] || eval "exec $fd>&-"
		done 2>/dev/null
		dir=$1 cg=$2; shift 2
		[ -z "$cg" ] || echo $$ > "$cg/cgroup.procs"
		while [ $# -gt 0 ]; do mount --bind "$1" "$2"; shift 2; done
		[ -s "$dir/virtlogd.pid" ] && kill -0 "$(cat "$dir/virtlogd.pid")" 2>/dev/null ||
			virtlogd -d -f "$dir/virtlogd.conf" -p "$dir/virtlogd.pid"
		libvirtd -d -f "$dir/libvirtd.conf" -p "$dir/libvirtd.pid"
	' libvirt_start "$dir" "$cg" "${mounts[@]}" >> "$dir/start.log" 2>&1 || {
		_lv_err "virtlogd or libvirtd did not start; their logs:"
		tail -n 20 "$dir/start.log" "$dir/libvirtd.log" "$dir/virtlogd.log" 2>/dev/null | sed 's/^/    /' >&2
		libvirt_stop "$dir"
		return 1
	}
	for ((i = 0; i < 100; i++)); do
		libvirt_virsh "$dir" version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	_lv_err "libvirtd in $dir does not answer after 10 s; its log:"
	tail -n 20 "$dir/libvirtd.log" 2>/dev/null | sed 's/^/    /' >&2
	libvirt_stop "$dir"
	return 1
}

# _lv_machine_cgroups: list the cgroup directories under any hierarchy's
# machine partition (libvirt's, for QEMU: machine/qemu-ID-NAME.libvirt-qemu
# and the threads' subgroups), deepest first.
_lv_machine_cgroups() {
	local d
	for d in /sys/fs/cgroup/*/machine /sys/fs/cgroup/machine; do
		[ -d "$d" ] || continue
		find "$d" -depth -type d
	done
}

# libvirt_domain_xml NAME MEM_MIB MEMLOAD_SPEC DIR
#   Print the domain XML of test guest NAME: QEMU under TCG, machine q35,
#   MEM_MIB of RAM (maximum and current), one vCPU, direct kernel boot of
#   the test guest image with memload=MEMLOAD_SPEC, serial console to
#   DIR/NAME.console, no disk, no network, a balloon as LIBVIRT_BALLOON
#   says.
libvirt_domain_xml() {
	local name=$1 mem=$2 spec=$3 dir=$4
	local gdir=${GUEST_DIR:-$_lv_repo/build/guest} kernel=${GUEST_KERNEL:-} balloon
	local maxmem='' numa='' vmem='' append=${GUEST_APPEND:-}
	if [ -z "$kernel" ]; then
		kernel=$gdir/vmlinuz
		[ ! -f "$gdir/vmlinux" ] || kernel=$gdir/vmlinux
	fi
	case ${LIBVIRT_BALLOON:-virtio} in
	virtio)  balloon="<memballoon model='virtio' ${LIBVIRT_BALLOON_ATTRS:-}><stats period='1'/></memballoon>" ;;
	nostats) balloon="<memballoon model='virtio' ${LIBVIRT_BALLOON_ATTRS:-}/>" ;;
	none)    balloon="<memballoon model='none'/>" ;;
	*)       _lv_err "LIBVIRT_BALLOON=$LIBVIRT_BALLOON: use virtio, nostats or none"; return 2 ;;
	esac
	if [ -n "${LIBVIRT_VMEM_MIB:-}" ]; then
		maxmem="<maxMemory slots='1' unit='MiB'>$((mem + LIBVIRT_VMEM_MIB))</maxMemory>"
		numa="<cpu><numa><cell id='0' cpus='0' memory='$mem' unit='MiB'/></numa></cpu>"
		vmem="<memory model='virtio-mem'><target><size unit='MiB'>$LIBVIRT_VMEM_MIB</size><node>0</node>"
		vmem+="<block unit='MiB'>2</block><requested unit='MiB'>${LIBVIRT_VMEM_REQUESTED_MIB:-0}</requested>"
		vmem+="</target></memory>"
		append="memhp_default_state=online_movable${append:+ $append}"
	fi
	cat <<-EOF
	<domain type='qemu'>
	  <name>$name</name>
	  $maxmem
	  <memory unit='MiB'>$mem</memory>
	  <currentMemory unit='MiB'>$mem</currentMemory>
	  <vcpu>1</vcpu>
	  $numa
	  <os>
	    <type arch='x86_64' machine='q35'>hvm</type>
	    <kernel>$kernel</kernel>
	    <initrd>$gdir/initrd.img</initrd>
	    <cmdline>console=ttyS0 quiet memload=$spec${append:+ $append}</cmdline>
	  </os>
	  <features><acpi/></features>
	  <on_poweroff>destroy</on_poweroff>
	  <on_reboot>${LIBVIRT_ON_REBOOT:-restart}</on_reboot>
	  <on_crash>destroy</on_crash>
	  <devices>
	    <emulator>$(command -v qemu-system-x86_64)</emulator>
	    <controller type='usb' model='none'/>
	    <serial type='file'>
	      <source path='$dir/$name.console'/>
	      <target port='0'/>
	    </serial>
	    <video><model type='none'/></video>
	    $balloon
	    $vmem
	  </devices>
	</domain>
	EOF
}

# libvirt_guest_start NAME MEM_MIB MEMLOAD_SPEC DIR [persistent]
#   Start test guest NAME (libvirt_domain_xml) on the libvirtd in DIR:
#   transient (virsh create) by default, or defined first and then started
#   with "persistent".  Returns once QEMU runs; the guest is still booting
#   (libvirt_guest_wait_ready).
libvirt_guest_start() {
	if [ $# -lt 4 ] || [ $# -gt 5 ]; then
		_lv_err "usage: libvirt_guest_start NAME MEM_MIB MEMLOAD_SPEC DIR [persistent]"
		return 2
	fi
	local name=$1 mem=$2 spec=$3 dir=$4 mode=${5:-transient}
	local gdir=${GUEST_DIR:-$_lv_repo/build/guest}
	if ! [[ $name =~ ^[A-Za-z0-9._-]+$ ]]; then
		_lv_err "guest name '$name': use letters, digits, '.', '_' and '-' only"
		return 2
	fi
	[[ $mem =~ ^[0-9]+$ ]] || { _lv_err "$name: memory '$mem' is not a number of MiB"; return 2; }
	if [[ $spec =~ [[:space:]\"\'\<\>\&] ]]; then
		_lv_err "$name: memload spec '$spec' must not contain spaces, quotes or XML specials"
		return 2
	fi
	if [ ! -f "$gdir/initrd.img" ]; then
		_lv_err "$name: no guest image in $gdir (run guest/build.sh $gdir)"
		return 1
	fi
	dir=$(cd "$dir" && pwd) || return 1
	rm -f "$dir/$name.console"
	libvirt_domain_xml "$name" "$mem" "$spec" "$dir" > "$dir/$name.xml" || return 1
	case $mode in
	transient)
		libvirt_virsh "$dir" create "$dir/$name.xml" >/dev/null ;;
	persistent)
		libvirt_virsh "$dir" define "$dir/$name.xml" >/dev/null &&
			libvirt_virsh "$dir" start "$name" >/dev/null ;;
	*)
		_lv_err "$name: mode '$mode': use transient or persistent"
		return 2 ;;
	esac || {
		_lv_err "$name: libvirt could not start it; QEMU's log:"
		tail -n 20 "$dir/log/qemu/$name.log" 2>/dev/null | sed 's/^/    /' >&2
		return 1
	}
}

# libvirt_guest_pid NAME DIR
#   Print the PID of guest NAME's QEMU (from libvirt's pid file, checked
#   against the process's command line); false if it is not running.
libvirt_guest_pid() {
	local pid args
	pid=$(_lv_pidof "$2/run/qemu/$1.pid" qemu-system-x86) || return 1
	args=$(tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $'\n'$args$'\n' == *$'\n'"guest=$1,"* ]] || return 1
	echo "$pid"
}

# libvirt_guest_wait_ready NAME DIR TIMEOUT_S
#   Wait until guest NAME's console shows "memload: start".  Non-zero, with
#   the end of the console, on timeout or if QEMU is gone.
libvirt_guest_wait_ready() {
	local name=$1 dir=$2 timeout=$3 i
	for ((i = 0; i < timeout * 10; i++)); do
		grep -qs 'memload: start' "$dir/$name.console" && return 0
		if ! libvirt_guest_pid "$name" "$dir" >/dev/null; then
			_lv_err "$name: QEMU is gone before the guest was ready; console and log:"
			tail -n 20 "$dir/$name.console" "$dir/log/qemu/$name.log" 2>/dev/null | sed 's/^/    /' >&2
			return 1
		fi
		sleep 0.1
	done
	_lv_err "$name: not ready after ${timeout}s; end of console:"
	tail -n 20 "$dir/$name.console" 2>/dev/null | sed 's/^/    /' >&2
	return 1
}

# libvirt_guest_rss_kib NAME DIR
#   Print the resident set size (VmRSS, KiB) of guest NAME's QEMU.
libvirt_guest_rss_kib() {
	local pid
	pid=$(libvirt_guest_pid "$1" "$2") || { _lv_err "$1: not running"; return 1; }
	pid_rss_kib "$pid" "$1"   # tests/lib/guest.sh
}

# libvirt_guest_cgroup NAME DIR
#   Print the v1 memory cgroup directory guest NAME's QEMU is in.
libvirt_guest_cgroup() {
	local pid root path
	pid=$(libvirt_guest_pid "$1" "$2") || { _lv_err "$1: not running"; return 1; }
	root=$(_lv_memory_cgroup_root)
	[ -n "$root" ] || { _lv_err "no v1 memory cgroup hierarchy"; return 1; }
	path=$(awk -F: '("," $2 ",") ~ /,memory,/ { print $3; exit }' "/proc/$pid/cgroup")
	echo "$root$path"
}

# libvirt_guest_oom_count NAME DIR
#   Print how many console lines of guest NAME report an OOM kill (see
#   guest_oom_count in tests/lib/guest.sh).
libvirt_guest_oom_count() {
	local n
	n=$(grep -cE 'Out of memory|oom-kill|Killed process' "$2/$1.console" 2>/dev/null) || true
	echo "${n:-0}"
}

# libvirt_guest_stop NAME DIR
#   Destroy guest NAME (and undefine it if it is persistent).  Does nothing
#   if there is no such domain.
libvirt_guest_stop() {
	local name=${1:-} dir=${2:-}
	[ -n "$name" ] && [ -n "$dir" ] || return 0
	_lv_pidof "$dir/libvirtd.pid" libvirtd >/dev/null || return 0
	libvirt_virsh "$dir" destroy "$name" >/dev/null 2>&1 || true
	libvirt_virsh "$dir" undefine "$name" >/dev/null 2>&1 || true
	return 0
}

# libvirt_events_start DIR FILE
#   Run `virsh event --all --loop --timestamp` against the libvirtd in DIR
#   in the background, appending to FILE, until libvirt_stop.
libvirt_events_start() {
	local dir=$1 file=$2
	# Not holding the caller's descriptors (a flock) if it is left behind.
	# shellcheck disable=SC2016  # for that bash
	bash -c '
		for fd in /proc/self/fd/*; do
			fd=${fd##*/}
			[ "$fd" -le 2 ] || eval "exec $fd>&-"
		done 2>/dev/null
		exec virsh -q -c "$1" event --all --loop --timestamp
	' libvirt_events "$(libvirt_uri "$dir")" < /dev/null >> "$file" 2>&1 &
	echo $! >> "$dir/events.pids"
}

# libvirt_restart DIR
#   Stop libvirtd alone (SIGCONT first, in case it was stopped, then
#   SIGTERM) and start it again on the same configuration; its domains'
#   QEMUs keep running and the new libvirtd takes them back, as on a host
#   where libvirtd is restarted. virtlogd keeps running.
libvirt_restart() {
	local dir=$1 pid
	if pid=$(_lv_pidof "$dir/libvirtd.pid" libvirtd); then
		kill -CONT "$pid" 2>/dev/null
		_lv_kill "$pid" libvirtd
	fi
	rm -f "$dir/libvirtd.pid"
	libvirt_start "$dir" "${2:-}"
}

# libvirt_test_begin TAG
#   For an integration test (after tests/lib/daemon.sh's test_begin is
#   known): test_begin TAG 0, then LV, a directory for a private libvirtd
#   that test_end stops and removes whatever happens.
libvirt_test_begin() {
	test_begin "$1" 0
	LV=$(mktemp -d /tmp/bd-lv.XXXXXX)
	test_cleanup_extra() { libvirt_stop "$LV"; rm -rf "$LV"; }
}

# libvirt_stop DIR
#   Destroy every domain of the libvirtd in DIR, stop libvirtd and then
#   virtlogd (SIGTERM, then SIGKILL after 10 s), kill any QEMU of theirs
#   still left, and remove the machine cgroups that appeared since
#   libvirt_start.  Does nothing where nothing runs.
libvirt_stop() {
	local dir=${1:-} pid name f cg
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	if [ -f "$dir/events.pids" ]; then
		while read -r pid; do
			kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
		done < "$dir/events.pids"
		rm -f "$dir/events.pids"
	fi
	if _lv_pidof "$dir/libvirtd.pid" libvirtd >/dev/null; then
		# A stopped (SIGSTOP) libvirtd would hang virsh for good.
		kill -CONT "$(cat "$dir/libvirtd.pid")" 2>/dev/null || true
		while read -r name; do
			[ -n "$name" ] || continue
			timeout 20 virsh -q -c "$(libvirt_uri "$dir")" destroy "$name" >/dev/null 2>&1 || true
			timeout 20 virsh -q -c "$(libvirt_uri "$dir")" undefine "$name" >/dev/null 2>&1 || true
		done < <(timeout 20 virsh -q -c "$(libvirt_uri "$dir")" list --all --name 2>/dev/null)
	fi
	if pid=$(_lv_pidof "$dir/libvirtd.pid" libvirtd); then
		_lv_kill "$pid" libvirtd
	fi
	# QEMU outlives libvirtd: any left now is stray, kill it.
	for f in "$dir"/run/qemu/*.pid; do
		[ -e "$f" ] || continue
		if pid=$(_lv_pidof "$f" qemu-system-x86); then
			_lv_kill "$pid" "QEMU of ${f##*/}"
		fi
	done
	if pid=$(_lv_pidof "$dir/virtlogd.pid" virtlogd); then
		_lv_kill "$pid" virtlogd
	fi
	rm -f "$dir/libvirtd.pid" "$dir/virtlogd.pid"
	if [ -f "$dir/cgroups.before" ]; then
		while read -r cg; do
			grep -qxF "$cg" "$dir/cgroups.before" || rmdir "$cg" 2>/dev/null ||
				_lv_err "cannot remove cgroup $cg"
		done < <(_lv_machine_cgroups)
		rm -f "$dir/cgroups.before"
	fi
	return 0
}

# shellcheck shell=bash disable=SC2034  # GUESTS_* are read by the scripts that source this
# scripts/guests.sh — the guests of `make demo` and `make bench` on either of
# balloond's backends, so that one script runs both:
#   qmp      QEMU processes, each with its QMP socket in RUN/qmp
#            (tests/lib/guest.sh); balloond finds them in socket_dir
#   libvirt  transient domains of a private libvirtd (tests/lib/libvirt.sh)
#            started in RUN/lv; balloond reaches it with backend = libvirt
# GUESTS_BACKEND chooses (default qmp).  Source after tests/lib/guest.sh and
# tests/lib/daemon.sh.
#
#   guests_begin RUN CG              # libvirt: libvirtd + virtlogd join CG
#   daemon_config "$RUN" "$CG" "${GUESTS_CONF[@]}" ...
#   guests_start NAME MEM_MIB MEMLOAD_SPEC
#   guests_wait_ready NAME TIMEOUT_S
#   guests_pid NAME; guests_rss_kib NAME; guests_oom_count NAME
#   "$GUESTS_DIR/NAME.console"       # the serial console, either backend
#   guests_end                       # idempotent, for EXIT traps
#
# With libvirt, the budget cgroup CG holds libvirtd and virtlogd too, and
# every QEMU inherits it from libvirtd (libvirt makes no cgroups of its own:
# tests/lib/libvirt.sh); guests_start checks that each QEMU is in CG, so that
# the budget means the same on both backends.  libvirtd keeps its QEMU
# capabilities cache in LIBVIRT_CACHE_DIR (default BUILD/libvirt-cache),
# which saves probing QEMU again at every start.

# shellcheck source=tests/lib/libvirt.sh
source tests/lib/libvirt.sh

GUESTS_BACKEND=${GUESTS_BACKEND:-qmp}
GUESTS_RUN=
GUESTS_CG=
GUESTS_DIR=
GUESTS_KIND=
GUESTS_CONF=()

# guests_begin RUN CG: set GUESTS_DIR, GUESTS_CONF (balloond.conf lines of
# the [host] section) and GUESTS_KIND (what the guests are, for titles);
# start libvirtd for the libvirt backend.
guests_begin() {
	GUESTS_RUN=$1 GUESTS_CG=$2
	case $GUESTS_BACKEND in
	qmp)
		GUESTS_DIR=$GUESTS_RUN
		GUESTS_KIND="QEMU processes, QMP sockets"
		GUESTS_CONF=()
		;;
	libvirt)
		GUESTS_DIR=$GUESTS_RUN/lv
		mkdir -p "$GUESTS_DIR" || return 1
		export LIBVIRT_CACHE_DIR=${LIBVIRT_CACHE_DIR:-$(cd "$BUILD" && pwd)/libvirt-cache}
		libvirt_start "$GUESTS_DIR" "$GUESTS_CG" || return 1
		GUESTS_KIND="libvirt domains, private libvirtd"
		GUESTS_CONF=("backend = libvirt" "libvirt_uri = $(libvirt_uri "$GUESTS_DIR")")
		;;
	*)
		echo "GUESTS_BACKEND=$GUESTS_BACKEND: use qmp or libvirt" >&2
		return 2
		;;
	esac
}

# guests_start NAME MEM_MIB MEMLOAD_SPEC: boot a guest; QEMU in GUESTS_CG.
guests_start() {
	local cg
	if [ "$GUESTS_BACKEND" = qmp ]; then
		guest_start "$1" "$2" "$3" "$GUESTS_RUN/qmp" "$GUESTS_RUN" "$GUESTS_CG"
		return
	fi
	libvirt_guest_start "$1" "$2" "$3" "$GUESTS_DIR" || return 1
	[ -n "$GUESTS_CG" ] || return 0
	cg=$(libvirt_guest_cgroup "$1" "$GUESTS_DIR") || return 1
	if [ "$cg" != "$GUESTS_CG" ]; then
		echo "$1: libvirt started its QEMU in $cg, not in the budget cgroup $GUESTS_CG" >&2
		return 1
	fi
}

guests_wait_ready() {
	if [ "$GUESTS_BACKEND" = qmp ]; then guest_wait_ready "$1" "$GUESTS_DIR" "$2"
	else libvirt_guest_wait_ready "$1" "$GUESTS_DIR" "$2"; fi
}

guests_pid() {
	if [ "$GUESTS_BACKEND" = qmp ]; then guest_pid "$1" "$GUESTS_DIR"
	else libvirt_guest_pid "$1" "$GUESTS_DIR"; fi
}

guests_rss_kib() {
	if [ "$GUESTS_BACKEND" = qmp ]; then guest_rss_kib "$1" "$GUESTS_DIR"
	else libvirt_guest_rss_kib "$1" "$GUESTS_DIR"; fi
}

guests_oom_count() {
	if [ "$GUESTS_BACKEND" = qmp ]; then guest_oom_count "$1" "$GUESTS_DIR"
	else libvirt_guest_oom_count "$1" "$GUESTS_DIR"; fi
}

# guests_end: stop every guest (and libvirtd, virtlogd); call before the
# budget cgroup is removed.
guests_end() {
	[ -n "$GUESTS_DIR" ] || return 0
	if [ "$GUESTS_BACKEND" = qmp ]; then guest_stop_all "$GUESTS_DIR"
	else libvirt_stop "$GUESTS_DIR"; fi
	GUESTS_DIR=
}

#!/usr/bin/env bash
# libvirt on balloond's sd-event loop (lv_loop, lv_worker) against a real,
# private libvirtd serving its test driver over RPC: lifecycle events come
# through the loop; with libvirtd SIGSTOPped and an RPC hanging on the
# worker, the loop keeps its timer and keepalive (2 s, 3) closes the
# connection in bounded time; after SIGCONT a new connection works.
# No guests. Needs root (libvirtd) and Debian's libvirt-daemon.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
LVCHECK=$BUILD/tests/lvcheck
# Long enough for keepalive to give up (2 s * (3 + 1)) with room to spare.
STOP_S=12

pass() { echo "  ok: $*"; }
fail() { echo "  FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root to start a private libvirtd"
command -v libvirtd >/dev/null || fail "libvirtd missing: run make deps"
[ -x "$LVCHECK" ] || fail "$LVCHECK missing: run make $LVCHECK"

T=$(mktemp -d /tmp/balloond-test-lv.XXXXXX)
PID=
cleanup() {
    # Only the libvirtd this test started, by its pid; continued first in
    # case the test stopped it.
    if [ -n "$PID" ]; then
        kill -CONT "$PID" 2>/dev/null
        kill -TERM "$PID" 2>/dev/null
        for _ in $(seq 50); do alive "$PID" || break; sleep 0.1; done
        alive "$PID" && kill -KILL "$PID" 2>/dev/null
    fi
    rm -rf "$T"
}
trap cleanup EXIT
# A daemonized libvirtd is nobody's child here: once dead it may stay a
# zombie until init reaps it.
alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }

mkdir -p "$T/sock" "$T/nodrivers"
cat >"$T/libvirtd.conf" <<EOF
listen_tls = 0
listen_tcp = 0
unix_sock_dir = "$T/sock"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$T/libvirtd.log"
EOF
# No loadable drivers (qemu, network, storage ...): the test driver is
# built into libvirt.so, and nothing on the host is touched.
(cd "$T" && LIBVIRT_DRIVER_DIR="$T/nodrivers" libvirtd -d -f "$T/libvirtd.conf" -p "$T/libvirtd.pid") ||
    fail "libvirtd did not start"
for _ in $(seq 50); do [ -s "$T/libvirtd.pid" ] && [ -S "$T/sock/libvirt-sock" ] && break; sleep 0.1; done
PID=$(cat "$T/libvirtd.pid" 2>/dev/null)
[ -n "$PID" ] && alive "$PID" || fail "libvirtd did not start: $(cat "$T/libvirtd.log" 2>/dev/null)"
pass "private libvirtd running, pid $PID"

# test+unix: the remote driver (the real RPC client) to the test driver
# inside that libvirtd.
URI="test+unix:///default?socket=$T/sock/libvirt-sock"
"$LVCHECK" "$URI" "$PID" "$STOP_S" | tee "$T/out"
rc=${PIPESTATUS[0]}
alive "$PID" || fail "libvirtd died"
[ "$rc" -eq 0 ] || fail "lvcheck: $(grep -c FAIL "$T/out") check(s) failed"
grep -q "ok: suspend and resume events came through sd-event" "$T/out" || fail "no lifecycle events"
pass "lifecycle events through the loop; the loop kept its timer through a ${STOP_S} s stall; keepalive closed the connection; a new one works"
echo PASS

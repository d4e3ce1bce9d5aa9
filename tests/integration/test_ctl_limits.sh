#!/usr/bin/env bash
# (issue 9.6) The control socket under abuse: a request with a NUL byte
# gets an error reply; `vm set` with 6000 keys is refused at once; many
# held connections with few descriptors left neither spin the daemon nor
# starve host sampling, and balloonctl works again once they are gone.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/daemon.sh

FAKE=
test_cleanup_extra() { [ -n "$FAKE" ] && kill "$FAKE" 2>/dev/null && wait "$FAKE" 2>/dev/null; }
test_begin ctl-limits 0
daemon_config "$RUN" ""
"$BUILD/tests/fakeqmp" silent "$RUN/qmp/fake1" & FAKE=$!

# The daemon under a descriptor limit of 64, as if it were managing many VMs.
rm -f "$RUN/ctl.sock"
prlimit --nofile=64:64 "$BUILD/balloond" -c "$RUN/balloond.conf" --no-host-tuning >>"$RUN/balloond.log" 2>&1 &
echo $! >"$RUN/balloond.pid"
wait_until 5 "control socket" test -S "$RUN/ctl.sock" || fail "balloond did not start"
wait_until 5 "fake1 listed" vm_listed "$RUN" fake1 || fail "fake1 not listed"

# raw PYTHON_BYTES_EXPR: sends the bytes, prints "MS REPLY" (the time to
# the reply line, in ms, then the line; nothing on a timeout).
raw() {
    python3 - "$RUN/ctl.sock" "$1" <<'PY'
import socket, sys, time
data = eval(sys.argv[2])
s = socket.socket(socket.AF_UNIX)
s.settimeout(3)
s.connect(sys.argv[1])
t = time.monotonic()
s.sendall(data)
try:
    line = s.makefile("rb").readline().decode(errors="replace").strip()
    print(int((time.monotonic() - t) * 1000), line)
except socket.timeout:
    print(int((time.monotonic() - t) * 1000), "")
PY
}

reply=$(raw "b'{\"version\":1,\"command\":\"status\"}\\x00junk\\n'")
echo "  NUL byte: $reply"
[[ "$reply" == *'"ok":false'*NUL* ]] || fail "a request with a NUL byte got no error reply: '$reply'"
pass "a request with a NUL byte gets an error reply"

reply=$(raw "(__import__('json').dumps({'version':1,'command':'vm-set','vm':'fake1','settings':['k%d=1' % i for i in range(6000)]}) + '\\n').encode()")
ms=${reply%% *}
echo "  vm set with 6000 keys: ${ms} ms: $reply"
[[ "$reply" == *'"ok":false'*"at most"* ]] || fail "vm set with 6000 keys not refused as too many: '$reply'"
[ "$ms" -lt 500 ] || fail "vm set with 6000 keys took $ms ms"
pass "vm set with 6000 keys is refused at once ($ms ms)"

# 200 connections held 4 s while the daemon has 64 descriptors.
pid=$(cat "$RUN/balloond.pid")
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
python3 - "$RUN/ctl.sock" <<'PY' &
import socket, sys, time
held, end = [], time.monotonic() + 1.5
while len(held) < 200 and time.monotonic() < end:
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(False)
    try:
        s.connect(sys.argv[1])
        held.append(s)
    except OSError:  # the backlog is full until balloond accepts
        s.close()
        time.sleep(0.002)
time.sleep(4)
PY
HOLDER=$!
sleep 1.5
c0=$(cpu); sleep 3; c1=$(cpu)
wait "$HOLDER"
ticks=$((c1 - c0))
echo "  CPU while 200 clients held: $ticks ticks in 3 s"
[ "$ticks" -lt 60 ] || fail "balloond spun while clients were held: $ticks ticks of 300 in 3 s"
pass "held clients with few descriptors left do not spin the daemon ($ticks ticks / 3 s)"
grep -q "cannot sample memory" "$RUN/balloond.log" && fail "host sampling failed: $(grep 'cannot sample' "$RUN/balloond.log" | head -1)"
pass "host sampling kept working"
sleep 1
"$BUILD/balloonctl" -s "$RUN/ctl.sock" status >/dev/null || fail "balloonctl status fails after the clients left"
pass "balloonctl works again once they are gone"
n=$(grep -c "control socket:" "$RUN/balloond.log")
echo "  control socket log lines: $n"
[ "$n" -le 25 ] || fail "$n control socket lines logged"
daemon_alive "$RUN" || fail "balloond died"

#!/usr/bin/env bash
# (issue 9.10) What a peer can repeat at will is logged at a bounded rate,
# with a count of what was held back: a RESET storm from one QMP peer, and
# thousands of sockets coming and going. No guest needed.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/daemon.sh

FAKES=()
test_cleanup_extra() { for p in "${FAKES[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
test_begin log-floods 0
daemon_config "$RUN" ""
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"

# 50,000 RESET events per connection; the peer then answers nothing, so
# balloond reconnects after a timeout and gets 50,000 more.
start=$(date +%s)
"$BUILD/tests/fakeqmp" resets "$RUN/qmp/storm" & FAKES+=($!)
# The count of the held back goes out with the first reset logged in a
# later 10 s window, i.e. on a reconnect.
wait_until 40 "a count of suppressed resets" \
    grep -q "vm storm: guest reset ([0-9]* similar messages suppressed)" "$RUN/balloond.log"
secs=$(( $(date +%s) - start ))
kill "${FAKES[0]}"; wait "${FAKES[0]}" 2>/dev/null; FAKES=()
n=$(grep -c "vm storm: guest reset" "$RUN/balloond.log")
echo "  'guest reset' lines in $secs s of RESET storm: $n"
grep -m1 "vm storm: guest reset (.*suppressed)" "$RUN/balloond.log" || fail "no count of the suppressed resets"
# 10 a window of 10 s, and a window just begun.
[ "$n" -le $(( (secs / 10 + 2) * 10 )) ] || fail "$n 'guest reset' lines logged in $secs s"
pass "a RESET storm logs $n lines in $secs s, with a count of the rest"
daemon_alive "$RUN" || fail "balloond died in the RESET storm"

# 3000 sockets, each bound and removed again after a moment.
before=$(wc -l <"$RUN/balloond.log")
python3 - "$RUN/qmp" <<'PY'
import os, socket, sys, time
d = sys.argv[1]
live = []
for i in range(3000):
    s = socket.socket(socket.AF_UNIX)
    p = os.path.join(d, "churn%d" % i)
    s.bind(p)
    live.append((s, p))
    if len(live) > 20:
        s0, p0 = live.pop(0)
        os.unlink(p0)
        s0.close()
    time.sleep(0.002)
for s, p in live:
    os.unlink(p)
    s.close()
PY
sleep 2
lines=$(( $(wc -l <"$RUN/balloond.log") - before ))
echo "  log lines for 3000 sockets coming and going: $lines"
[ "$lines" -le 250 ] || fail "$lines lines logged for 3000 sockets coming and going"
pass "socket churn logs $lines lines"
"$BUILD/balloonctl" -s "$RUN/ctl.sock" status >/dev/null || fail "status fails after the churn"
daemon_alive "$RUN" || fail "balloond died"

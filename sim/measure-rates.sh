#!/usr/bin/env bash
# sim/measure-rates.sh — measures the guest model's balloon rates on a real
# guest (sim/README.md, "Measuring the guest model").  One 512 MiB TCG test
# guest, managed by balloond; its target is pinned with balloonctl to SIZE
# (inflation) and back to 512M (deflation) while a second QMP monitor on the
# same QEMU is asked query-balloon every 50 ms (balloond's own view of
# "actual" follows QEMU's BALLOON_CHANGE events, which QEMU throttles to one
# a second).  Prints actual over time and the rates, in MiB/s, between 10%
# and 90% of each swing.  Needs root, the guest image (make guest) and
# python3 (for the QMP sampler only).
#
#   sim/measure-rates.sh [BUILD_DIR] [LOW_SIZE]     (default: build 200M)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export BUILD=${1:-build}
LOW=${2:-200M}
source tests/lib/guest.sh
source tests/lib/daemon.sh

command -v python3 >/dev/null || { echo "python3 is needed for the QMP sampler" >&2; exit 1; }
test_begin rates 0
MON=$RUN/monitor.sock
export GUEST_QEMU_ARGS="-qmp unix:$MON,server=on,wait=off"
daemon_config "$RUN" ""
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
guest_start rate 512 "idle" "$RUN/qmp" "$RUN" || fail "guest did not start"
guest_wait_ready rate "$RUN" 120 || fail "guest did not boot"
wait_until 30 "rate managed" vm_is "$RUN" rate state managed || fail "not managed"
CTL=("$BUILD/balloonctl" -s "$RUN/ctl.sock")

# sample SECONDS: query-balloon every 50 ms, "t_ms actual_bytes" per line.
sample() {
	python3 - "$MON" "$1" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
def cmd(c):
    f.write(json.dumps({"execute": c}) + "\n"); f.flush()
    while True:
        m = json.loads(f.readline())
        if "return" in m or "error" in m: return m
json.loads(f.readline()); cmd("qmp_capabilities")
t0 = time.monotonic()
while time.monotonic() - t0 < float(sys.argv[2]):
    m = cmd("query-balloon")
    if "return" in m: print(int((time.monotonic() - t0) * 1000), m["return"]["actual"], flush=True)
    time.sleep(0.05)
PY
}

# rate FILE FROM TO: MiB/s between 10% and 90% of the swing FROM -> TO.
rate() {
	awk -v a="$2" -v b="$3" 'function abs(x) { return x < 0 ? -x : x }
		{ d = abs($2 - a) / abs(b - a) }
		d >= 0.1 && t1 == "" { t1 = $1; x1 = $2 } d >= 0.9 && t2 == "" { t2 = $1; x2 = $2 }
		END { if (t2 > t1) printf "%.0f MiB/s (%.0f MiB in %d ms)\n", abs(x2 - x1) / 1048576 / ((t2 - t1) / 1000), abs(x2 - x1) / 1048576, t2 - t1; else print "n/a" }' "$1"
}

"${CTL[@]}" vm target rate 512M >/dev/null || fail "cannot pin"
sleep 3
from=$(vm_field "$RUN" rate actual_bytes)
sample 8 >"$RUN/inflate.txt" &
sp=$!
sleep 0.5
"${CTL[@]}" vm target rate "$LOW" >/dev/null || fail "cannot pin $LOW"
wait "$sp"
low=$(tail -1 "$RUN/inflate.txt" | cut -d' ' -f2)
sample 6 >"$RUN/deflate.txt" &
sp=$!
sleep 0.5
"${CTL[@]}" vm target rate 512M >/dev/null || fail "cannot pin 512M"
wait "$sp"
high=$(tail -1 "$RUN/deflate.txt" | cut -d' ' -f2)

echo "inflation $(mib "$from") -> $(mib "$low") MiB:"
awk '{ printf "  %5d ms  %4d MiB\n", $1, $2 / 1048576 }' "$RUN/inflate.txt" | uniq -f 2 | head -40
echo "deflation $(mib "$low") -> $(mib "$high") MiB:"
awk '{ printf "  %5d ms  %4d MiB\n", $1, $2 / 1048576 }' "$RUN/deflate.txt" | uniq -f 2 | head -40
echo "inflation rate: $(rate "$RUN/inflate.txt" "$from" "$low")"
echo "deflation rate: $(rate "$RUN/deflate.txt" "$low" "$high")"

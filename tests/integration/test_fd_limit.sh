#!/usr/bin/env bash
# (issue 12.5) balloond with too few descriptors for its VMs: 80 QMP
# peers (two manyqmp processes: 20 "a", 60 "b") and RLIMIT_NOFILE 64.
# The VMs past the limit are told once, with their count and the cure;
# balloonctl still answers and host sampling still works; when the "b"
# peers go, every "a" VM connects and that is told once too.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/daemon.sh

A= B=
test_cleanup_extra() {
    local p
    for p in $A $B; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
}
test_begin fd-limit 0
daemon_config "$RUN" ""
"$BUILD/tests/manyqmp" "$RUN/qmp" a 20 >"$RUN/a.out" & A=$!
"$BUILD/tests/manyqmp" "$RUN/qmp" b 60 >"$RUN/b.out" & B=$!
wait_until 5 "peers listening" grep -q ready "$RUN/a.out" "$RUN/b.out" || fail "manyqmp did not start"

rm -f "$RUN/ctl.sock"
prlimit --nofile=64:64 "$BUILD/balloond" -c "$RUN/balloond.conf" --no-host-tuning >>"$RUN/balloond.log" 2>&1 &
echo $! >"$RUN/balloond.pid"
wait_until 5 "control socket" test -S "$RUN/ctl.sock" || fail "balloond did not start"
grep -q "descriptors: RLIMIT_NOFILE 64 " "$RUN/balloond.log" || fail "the limit is not logged at start"
pass "at start: $(grep -o 'descriptors: RLIMIT_NOFILE 64 ([^)]*)' "$RUN/balloond.log")"

# counts: "MANAGED STARVED LISTED" from the status.
counts() {
    status_json "$RUN" | jq -r '[([.vms[] | select(.state == "managed")] | length),
        ([.vms[] | select((.error // "") | test("out of file descriptors"))] | length), (.vms | length)] | join(" ")'
}
settled() { read -r m s l <<<"$(counts)"; [ "$l" -eq 80 ] && [ $((m + s)) -eq 80 ] && [ "$m" -gt 0 ]; }
wait_until 10 "every VM managed or out of descriptors" settled || fail "not settled: $(counts)"
# Through a few retries (backoff 1, 2, 4 s): the count holds, nothing more is said.
sleep 8
read -r managed starved listed <<<"$(counts)"
echo "  $listed VMs: $managed managed, $starved out of descriptors"
msg=$(grep "not connected: out of file descriptors" "$RUN/balloond.log")
n=$(printf '%s\n' "$msg" | grep -c .)
echo "  said: ${msg#balloond\[warning\]: }"
[ "$n" -eq 1 ] || fail "the shortage was said $n times"
[[ "$msg" == *"80 QMP sockets, "*" not connected: out of file descriptors (RLIMIT_NOFILE 64"*"raise LimitNOFILE"* ]] ||
    fail "the message does not give the count and the cure: $msg"
# The count said is the one of its tick; a balloonctl client holding a
# descriptor at a VM's retry moves it by one or two, not worth a new line.
told=$(printf '%s\n' "$msg" | sed 's/.*80 QMP sockets, \([0-9]*\) not connected.*/\1/')
[ $((told - starved)) -le 2 ] && [ $((starved - told)) -le 2 ] ||
    fail "said $told not connected; the status counts $starved"
pass "said once: 80 QMP sockets, $told not connected (the status counts $starved)"
per_vm=$(grep -c "cannot connect" "$RUN/balloond.log")
[ "$per_vm" -eq 0 ] || fail "$per_vm per-VM 'cannot connect' lines besides"
pass "no per-VM line for the VMs out of descriptors"

for i in 1 2 3 4 5; do
    "$BUILD/balloonctl" -s "$RUN/ctl.sock" status --top 3 >/dev/null || fail "balloonctl status failed (try $i)"
done
why=$("$BUILD/balloonctl" -s "$RUN/ctl.sock" --json status | jq -r '[.vms[] | select(.state != "managed")][0].error')
echo "  a VM out of descriptors, in status: $why"
pass "balloonctl status answers (5 of 5) with every VM slot taken"
grep -q "cannot sample memory" "$RUN/balloond.log" && fail "host sampling failed: $(grep -m1 'cannot sample' "$RUN/balloond.log")"
pass "host sampling kept working"
"$BUILD/balloonctl" -s "$RUN/ctl.sock" vm set a1 buffer=30 >/dev/null || fail "vm set failed"
wait_until 10 "the state file written" grep -q '"a1"' "$RUN/state.json" || fail "the state file was not written"
pass "vm set is kept in the state file"
daemon_alive "$RUN" || fail "balloond died"

# The "b" peers leave: 20 sockets, each of them can have a descriptor.
kill "$B" && wait "$B" 2>/dev/null
B=
all_a() { read -r m s l <<<"$(counts)"; [ "$l" -eq 20 ] && [ "$m" -eq 20 ] && [ "$s" -eq 0 ]; }
wait_until 40 "the 20 a VMs managed" all_a || fail "the a VMs did not all connect: $(counts)"
sleep 2
back=$(grep -c "QMP sockets, all connected again" "$RUN/balloond.log")
[ "$back" -eq 1 ] || fail "the recovery was said $back times"
pass "said once: $(grep -o '[0-9]* QMP sockets, all connected again' "$RUN/balloond.log")"
# On the way back the count falls by a lot (59 -> 16 as the "b" VMs go,
# the "a" ones waiting for their backoff), which may be said once more.
n=$(grep -c "not connected: out of file descriptors" "$RUN/balloond.log")
[ "$n" -le 2 ] || fail "the shortage was said $n times"
pass "the shortage said $n times in all, the recovery once"
daemon_alive "$RUN" || fail "balloond died"

#!/usr/bin/env bash
# (d) Sockets that never greet, speak garbage, send endless lines, nest too
# deep or are not QMP do not disturb a real guest beside them; each is
# reported by name and set aside; a socket that goes away is detached.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/guest.sh
source tests/lib/daemon.sh

FAKES=()
test_cleanup_extra() {
    for p in "${FAKES[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
test_begin d 2048

daemon_config "$RUN" "$CG"
for mode in silent garbage hugeline deep notqmp; do
    "$BUILD/tests/fakeqmp" "$mode" "$RUN/qmp/bad-$mode" &
    FAKES+=($!)
done
touch "$RUN/qmp/not-a-socket"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
# 25 MiB/s: a rise balloond follows; a full-speed 300 MiB would be a burst
# the guest keeps room for while the host has plenty (estimate.h).
guest_start good1 512 "alloc:300M@25M,hold:3s,free:all,idle" "$RUN/qmp" "$RUN" "$CG" || fail "guest did not start"
guest_wait_ready good1 "$RUN" 90 || fail "guest did not boot"

wait_until 20 "good1 managed" vm_is "$RUN" good1 state managed \
    || fail "good1 not managed beside the bad peers: $(build/balloonctl -s "$RUN/ctl.sock" status)"
pass "the real guest is managed beside five bad peers"
inflated() {
    local t
    t=$(vm_field "$RUN" good1 target_bytes)
    [ "$t" != null ] && [ "$t" -lt $((400 * 1048576)) ]
}
wait_until 60 "good1 inflated" inflated || fail "good1 never inflated"
pass "the real guest is inflated as usual: target $(mib "$(vm_field "$RUN" good1 target_bytes)") MiB"

build/balloonctl -s "$RUN/ctl.sock" status
for mode in silent garbage hugeline deep notqmp; do
    st=$(vm_field "$RUN" "bad-$mode" state)
    err=$(vm_field "$RUN" "bad-$mode" error)
    [ "$st" = retrying ] || [ "$st" = connecting ] || fail "bad-$mode is $st, expected retrying"
    case $mode in
    silent) want="no QMP greeting" ;; garbage) want="not JSON" ;; hugeline) want="longer than 1 MiB" ;;
    deep) want="nested too deeply" ;; notqmp) want="not a QMP message" ;;
    esac
    [[ "$err" == *"$want"* ]] || fail "bad-$mode: error \"$err\" does not say \"$want\""
    [ "$err" != null ] || fail "bad-$mode has no error reported"
    grep -q "vm bad-$mode: " "$RUN/balloond.log" || fail "nothing logged for bad-$mode"
    echo "  bad-$mode: $err"
done
pass "every bad peer is reported by name"
grep -q "not-a-socket" <(status_json "$RUN") && fail "a plain file was taken for a VM"
pass "a plain file in the directory is ignored"

# A socket that goes away is detached within a tick or two.
kill "${FAKES[0]}"; wait "${FAKES[0]}" 2>/dev/null
wait_until 5 "bad-silent detached" eval "! vm_listed $RUN bad-silent" \
    || fail "bad-silent still listed after its socket went away"
pass "a vanished socket is detached"
n=$(grep -c "vm bad-garbage: " "$RUN/balloond.log")
echo "  log lines about bad-garbage: $n (repeats of one failure are not logged again)"
[ "$n" -le 3 ] || fail "the log is flooded about bad-garbage"
daemon_alive "$RUN" || fail "balloond died"
pass "balloond still running"

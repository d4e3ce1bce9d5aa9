#!/usr/bin/env bash
# backend = both: a QMP-socket guest (q1) and a libvirt domain (l1) managed
# side by side. Then libvirtd is stopped (SIGSTOP) for 20 s: the control
# socket, /metrics and the QMP guest keep answering every second, and l1's
# target is neither squeezed nor released; after SIGCONT and after a
# restart of libvirtd, balloond reconnects and l1 is managed again from
# the target it had.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/guest.sh
source tests/lib/daemon.sh
source tests/lib/libvirt.sh

libvirt_test_begin lvhang
PORT=$((20000 + $$ % 20000))
export METRICS=127.0.0.1:$PORT

libvirt_start "$LV" || fail "libvirtd did not start"
libvirt_guest_start l1 512 "alloc:250M@25M,hold:5s,free:all,idle" "$LV" || fail "l1 did not start"
daemon_config "$RUN" "" "backend = both" "libvirt_uri = $(libvirt_uri "$LV")"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
guest_start q1 512 "alloc:250M@25M,hold:5s,free:all,idle" "$RUN/qmp" "$RUN" || fail "q1 did not start"
libvirt_guest_wait_ready l1 "$LV" 120 || fail "l1 did not boot"
guest_wait_ready q1 "$RUN" 120 || fail "q1 did not boot"

settled() {
    local t
    t=$(vm_field "$RUN" "$1" target_bytes)
    [ "$t" != null ] && [ "$t" -lt $((256 * 1048576)) ]
}
wait_until 60 "l1 reclaimed" settled l1 || fail "l1 not reclaimed: $("$BUILD/balloonctl" -s "$RUN/ctl.sock" status)"
wait_until 30 "q1 reclaimed" settled q1 || fail "q1 not reclaimed"
sleep 3
t_l1=$(vm_field "$RUN" l1 target_bytes)
pass "both backends: l1 (libvirt) at $(mib "$t_l1") MiB, q1 (QMP) at $(mib "$(vm_field "$RUN" q1 target_bytes)") MiB"

lvpid=$(cat "$LV/libvirtd.pid")
kill -STOP "$lvpid" || fail "cannot stop libvirtd"
ok_ctl=0 ok_metrics=0 ok_q1=0 worst_ms=0 changed=0
for i in $(seq 20); do
    t0=$(date +%s%N)
    s=$(timeout 2 "$BUILD/balloonctl" -s "$RUN/ctl.sock" --json status) && ok_ctl=$((ok_ctl + 1))
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ "$ms" -gt "$worst_ms" ] && worst_ms=$ms
    # The body first, then grep: `curl | grep -q` fails under pipefail
    # whenever grep has stopped reading before curl has written it all.
    body=$(timeout 2 curl -sf "http://$METRICS/metrics") && grep -q '^balloond_host_' <<<"$body" && ok_metrics=$((ok_metrics + 1))
    [ "$(jq -r '.vms[] | select(.name=="q1") | .state' <<<"$s")" = managed ] && ok_q1=$((ok_q1 + 1))
    t=$(jq -r '.vms[] | select(.name=="l1") | .target_bytes' <<<"$s")
    [ "$t" = "$t_l1" ] || changed=$((changed + 1))
    sleep 1
done
kill -CONT "$lvpid"
echo "  libvirtd stopped 20 s: status answered $ok_ctl/20 (slowest ${worst_ms} ms), /metrics $ok_metrics/20, q1 managed $ok_q1/20, l1's target changed in $changed/20"
[ "$ok_ctl" -eq 20 ] && [ "$ok_metrics" -eq 20 ] && [ "$ok_q1" -eq 20 ] || fail "the loop stalled while libvirtd was stopped"
[ "$changed" -eq 0 ] || fail "l1's target moved while libvirtd was stopped"
pass "libvirtd stopped for 20 s: control socket, /metrics and the QMP guest kept answering; l1 held"

back() { vm_is "$RUN" l1 state managed; }
wait_until 60 "l1 managed after SIGCONT" back || fail "l1 not managed again: $(tail -5 "$RUN/balloond.log")"
t=$(vm_field "$RUN" l1 target_bytes)
[ "$t" = "$t_l1" ] || fail "l1's target $(mib "$t_l1") MiB became $(mib "$t") MiB after libvirtd resumed"
pass "after SIGCONT: l1 managed, target still $(mib "$t") MiB"

libvirt_restart "$LV" || fail "libvirtd did not restart"
gone_seen() { grep -q "libvirt.*connection lost" "$RUN/balloond.log"; }
wait_until 20 "the lost connection noticed" gone_seen || fail "balloond did not notice libvirtd's restart"
wait_until 60 "l1 managed after libvirtd restarted" back || fail "l1 not managed again: $(tail -5 "$RUN/balloond.log")"
sleep 3
t=$(vm_field "$RUN" l1 target_bytes)
[ "$t" = "$t_l1" ] || fail "l1's target $(mib "$t_l1") MiB became $(mib "$t") MiB after libvirtd restarted"
grep -q "l1: target .*adopted at its current size" <(sed -n '/connection lost/,$p' "$RUN/balloond.log") &&
    fail "l1 was adopted anew after the reconnect"
pass "libvirtd restarted: reconnected, l1 managed from its target $(mib "$t") MiB"
[ "$(vm_field "$RUN" q1 state)" = managed ] || fail "q1 not managed at the end"
daemon_alive "$RUN" || fail "balloond died"

echo "  libvirt lines of balloond.log:"; grep -i "libvirt" "$RUN/balloond.log" | sed "s/^/    /" | tail -12

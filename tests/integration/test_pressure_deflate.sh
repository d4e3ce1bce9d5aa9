#!/usr/bin/env bash
# (b) A guest squeezed while idle whose load then rises is deflated by
# balloond in time: memload gets all it asks for, no OOM in its console.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/guest.sh
source tests/lib/daemon.sh

test_begin b 2048

daemon_config "$RUN" "$CG"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
# 20 MiB, idle for 40 s (squeezed meanwhile), then +330 MiB at 20 MiB/s.
guest_start rise1 512 "alloc:20M,hold:40s,alloc:330M@20M,idle" "$RUN/qmp" "$RUN" "$CG" || fail "guest did not start"
guest_wait_ready rise1 "$RUN" 90 || fail "guest did not boot"

squeezed() {
    local t
    t=$(vm_field "$RUN" rise1 target_bytes)
    [ "$t" != null ] && [ "$t" -le $((256 * 1048576)) ]
}
wait_until 40 "rise1 squeezed to <= 256 MiB" squeezed || fail "never squeezed: $(build/balloonctl -s "$RUN/ctl.sock" status)"
if grep -q "phase=alloc held_mib=[1-9][0-9][0-9]" "$RUN/rise1.console"; then
    fail "the load rose before the guest was squeezed; the test proves nothing"
fi
low=$(vm_field "$RUN" rise1 target_bytes)
pass "squeezed while idle: target $(mib "$low") MiB"

# Follow the rise, one line a second.
echo "  t  actual target  used  avail  memload"
for i in $(seq 90); do
    s=$(status_json "$RUN" | jq -r '.vms[] | select(.name=="rise1") | "\(.actual_bytes/1048576|floor) \(.target_bytes/1048576|floor) \((.used_bytes // 0)/1048576|floor) \((.available_bytes // 0)/1048576|floor)"')
    held=$(grep -o "held_mib=[0-9]*" "$RUN/rise1.console" | tail -1)
    printf '  %-3s %s %s\n' "$i" "$s" "$held"
    grep -q "phase=idle" "$RUN/rise1.console" && break
    guest_pid rise1 "$RUN" >/dev/null || break
    sleep 1
done
grep -q "phase=idle" "$RUN/rise1.console" || fail "memload did not finish its allocation"
grep -q "held_mib=350" "$RUN/rise1.console" || fail "memload did not reach 350 MiB"
[ "$(guest_oom_count rise1 "$RUN")" -eq 0 ] || { grep -iE "out of memory|killed process" "$RUN/rise1.console"; fail "OOM in the guest"; }
pass "memload reached 350 MiB, no OOM in the guest"
high=$(vm_field "$RUN" rise1 target_bytes)
[ "$high" -gt $((350 * 1048576)) ] || fail "target $(mib "$high") MiB does not cover the load"
pass "deflated from $(mib "$low") MiB to $(mib "$high") MiB"
grep -E "vm rise1: target .*(needs more|pressure)" "$RUN/balloond.log" | head -8
daemon_alive "$RUN" || fail "balloond died"

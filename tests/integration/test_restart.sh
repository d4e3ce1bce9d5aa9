#!/usr/bin/env bash
# (c) balloond restarted mid-run: the balloons stay where they are while it
# is down, and it resumes from the same targets.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/guest.sh
source tests/lib/daemon.sh

test_begin c 3072

daemon_config "$RUN" "$CG" "[defaults]" "min = 200M"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
guest_start r1 512 "alloc:30M,idle" "$RUN/qmp" "$RUN" "$CG" || fail "guest r1 did not start"
guest_start r2 512 "alloc:150M,idle" "$RUN/qmp" "$RUN" "$CG" || fail "guest r2 did not start"
guest_wait_ready r1 "$RUN" 90 && guest_wait_ready r2 "$RUN" 90 || fail "guests did not boot"

settled() {
    local n
    n=$(status_json "$RUN" | jq '[.vms[] | select(.target_bytes != null and .target_bytes < 536870912 and .decision == "steady")] | length')
    [ "$n" -eq 2 ]
}
wait_until 60 "both guests inflated and steady" settled || fail "not settled: $(build/balloonctl -s "$RUN/ctl.sock" status)"
sleep 3
before=$(status_json "$RUN" | jq -c '[.vms[] | {name, target_bytes}] | sort_by(.name)')
actual_before=$(status_json "$RUN" | jq -c '[.vms[] | {name, actual_bytes}] | sort_by(.name)')
echo "  before: $before"

daemon_stop "$RUN"
pass "balloond stopped"
sleep 5
# While it is down, QEMU still holds the balloon: query it through a fresh
# daemon in dry-run mode would attach; instead read the state file, then
# restart and compare.
jq -c '.vms | to_entries | map({name: .key, target_bytes: .value.target_bytes}) | sort_by(.name)' "$RUN/state.json" >"$RUN/saved.json"
echo "  saved:  $(cat "$RUN/saved.json")"
[ "$(cat "$RUN/saved.json")" = "$before" ] || fail "state file does not hold the targets"

daemon_start "$RUN" --no-host-tuning || fail "balloond did not restart"
restored() {
    [ "$(status_json "$RUN" | jq '[.vms[] | select(.target_bytes != null)] | length')" -eq 2 ]
}
wait_until 30 "targets after restart" restored || fail "no targets after restart"
after=$(status_json "$RUN" | jq -c '[.vms[] | {name, target_bytes}] | sort_by(.name)')
actual_after=$(status_json "$RUN" | jq -c '[.vms[] | {name, actual_bytes}] | sort_by(.name)')
echo "  after:  $after"
echo "  actual before: $actual_before"
echo "  actual after:  $actual_after"
[ "$after" = "$before" ] || fail "targets changed across the restart"
grep -q "vm r1: target .*restored from the state file" "$RUN/balloond.log" || fail "r1 not restored from the state file"
sleep 5
after5=$(status_json "$RUN" | jq -c '[.vms[] | {name, target_bytes}] | sort_by(.name)')
[ "$after5" = "$before" ] || fail "targets moved after the restart: $after5"
pass "targets unchanged across the restart, and 5 s later"

# A QEMU started anew under the same name is not given the old target.
guest_stop r1 "$RUN"
sleep 2
guest_start r1 512 "alloc:30M,idle" "$RUN/qmp" "$RUN" "$CG" || fail "guest r1 did not restart"
guest_wait_ready r1 "$RUN" 90 || fail "r1 did not boot again"
wait_until 20 "new r1 adopted" grep -q "vm r1: target 512 MiB (adopted at its current size)" "$RUN/balloond.log" \
    || fail "a new QEMU process under an old name was not adopted at its own size"
pass "a new QEMU under the same name is adopted at its size, not the old target"
daemon_alive "$RUN" || fail "balloond died"

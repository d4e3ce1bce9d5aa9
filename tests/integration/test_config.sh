#!/usr/bin/env bash
# The config file's errors name file:line; a bad file refuses start-up; a
# bad reload keeps the running configuration; bad CLI use is told apart.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/daemon.sh

test_begin config 0

daemon_config "$RUN" "" "[defaults]" "buffer = 25"
out=$("$BUILD/balloond" -t -c "$RUN/balloond.conf" 2>&1) || fail "a good config was refused: $out"
pass "balloond -t accepts a good file"

cp "$RUN/balloond.conf" "$RUN/good.conf"
printf '[vm web1]\nmin = 12Q\n' >>"$RUN/balloond.conf"
out=$("$BUILD/balloond" -t -c "$RUN/balloond.conf" 2>&1) && fail "a bad config was accepted"
echo "  $out" | head -3
line=$(grep -n "12Q" "$RUN/balloond.conf" | cut -d: -f1)
echo "$out" | grep -q "$RUN/balloond.conf:$line:" || fail "the error does not name file:line ($line)"
pass "a bad size is reported at file:line and start-up is refused"
"$BUILD/balloond" -c "$RUN/balloond.conf" >/dev/null 2>&1 && fail "balloond started with a bad config"
"$BUILD/balloond" -c "$RUN/missing.conf" >/dev/null 2>&1 && fail "balloond started with a missing config"
pass "balloond refuses to start on a bad or missing file"

cp "$RUN/good.conf" "$RUN/balloond.conf"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
printf 'nonsense line\n' >>"$RUN/balloond.conf"
kill -HUP "$(cat "$RUN/balloond.pid")"
sleep 1
daemon_alive "$RUN" || fail "balloond died on a bad reload"
grep -q "keeping the running configuration" "$RUN/balloond.log" || fail "bad reload not reported"
pass "a bad reload is reported and the running config kept"
cp "$RUN/good.conf" "$RUN/balloond.conf"
sed -i 's/buffer = 25/buffer = 30/' "$RUN/balloond.conf"
"$BUILD/balloonctl" -s "$RUN/ctl.sock" reload >/dev/null || fail "balloonctl reload failed"
sleep 0.5
grep -q "reload: .* applied" "$RUN/balloond.log" || fail "good reload not applied"
pass "balloonctl reload applies a good file"

"$BUILD/balloonctl" -s "$RUN/ctl.sock" frobnicate >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || fail "unknown command: exit $rc, expected 2"
"$BUILD/balloonctl" -s "$RUN/nope.sock" status >/dev/null 2>&1; rc=$?
[ "$rc" -eq 3 ] || fail "unreachable daemon: exit $rc, expected 3"
"$BUILD/balloonctl" -s "$RUN/ctl.sock" status >/dev/null || fail "status failed"
pass "balloonctl exit codes: 0 ok, 2 usage, 3 unreachable"

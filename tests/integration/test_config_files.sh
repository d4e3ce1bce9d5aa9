#!/usr/bin/env bash
# (issue 9.9, 9.10) A config path that is a FIFO or a device is refused at
# once, naming the file, without blocking the loop; a garbage config logs
# a bounded number of lines per reload. No guest needed.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/daemon.sh

test_begin config-files 0
daemon_config "$RUN" ""
cp "$RUN/balloond.conf" "$RUN/good.conf"

out=$(timeout 5 "$BUILD/balloond" -t -c /dev/zero 2>&1); rc=$?
echo "  balloond -t -c /dev/zero: rc $rc: $(echo "$out" | head -1)"
[ "$rc" -ne 124 ] || fail "balloond -t -c /dev/zero still reading after 5 s"
[ "$rc" -ne 0 ] && [[ "$out" == */dev/zero*"not a regular file"* ]] || fail "/dev/zero not refused by name: $out"
pass "a device as config is refused at once, by name"

daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
pid=$(cat "$RUN/balloond.pid")

# A garbage file (900 KB, under the size cap) on reload.
head -c 675000 /dev/urandom | base64 >"$RUN/balloond.conf"
before=$(wc -l <"$RUN/balloond.log")
kill -HUP "$pid"
wait_until 10 "reload refused" grep -q "keeping the running configuration" "$RUN/balloond.log" \
    || fail "garbage reload not reported"
sleep 0.5
lines=$(( $(wc -l <"$RUN/balloond.log") - before ))
echo "  log lines for one reload of a 900 KB garbage config: $lines"
[ "$lines" -le 30 ] || fail "$lines lines logged for one garbage reload"
grep -q "and [0-9]* more errors" "$RUN/balloond.log" || fail "the errors not logged are not counted"
pass "a garbage config logs $lines lines per reload, the rest counted"

# A FIFO in place of the config: the reload must not wait for a writer.
rm -f "$RUN/balloond.conf"
mkfifo "$RUN/balloond.conf"
kill -HUP "$pid"
sleep 0.5
start=$(date +%s%N)
timeout 4 "$BUILD/balloonctl" -s "$RUN/ctl.sock" status >/dev/null || fail "status unreachable after a reload of a FIFO config"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q "balloond.conf: cannot open: not a regular file" "$RUN/balloond.log" || fail "the FIFO is not named in the log"
pass "a FIFO config is refused on reload; status answered in $ms ms"
rm -f "$RUN/balloond.conf"
cp "$RUN/good.conf" "$RUN/balloond.conf"
daemon_alive "$RUN" || fail "balloond died"

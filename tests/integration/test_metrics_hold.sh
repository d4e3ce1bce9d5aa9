#!/usr/bin/env bash
# (issue 9.6) A local user holding /metrics connections open, idle or
# half-closed, cannot take the endpoint down: scrapes are answered while
# they are held and after they are dropped. No guest needed.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/daemon.sh

test_begin metrics-hold 0
PORT=$((20000 + $$ % 20000))
METRICS=127.0.0.1:$PORT daemon_config "$RUN" ""
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"

scrape() {
    curl -s -m 3 -o /dev/null -w '%{http_code} %{time_total}' "http://127.0.0.1:$PORT/metrics"
}
# hold N HALF SECONDS: opens N connections (HALF of them half-closed:
# shutdown(SHUT_WR), no request), scrapes once while they are held, keeps
# them SECONDS, then drops them. Prints the scrape's "code seconds".
hold() {
    python3 - "$PORT" "$@" <<'PY'
import socket, subprocess, sys, time
port, n, half, secs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
for s in held[:half]:
    s.shutdown(socket.SHUT_WR)
t = time.time()
r = subprocess.run(["curl", "-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                    "http://127.0.0.1:%d/metrics" % port], capture_output=True, text=True)
print(r.stdout)
time.sleep(max(0.0, secs - (time.time() - t)))
for s in held:
    s.close()
PY
}

[[ "$(scrape)" == 200* ]] || fail "no scrape before the test"
# 20 idle + 4 half-closed, held longer than any idle timeout (10 s before).
during=$(hold 24 4 12)
echo "  scrape with 24 held connections: $during"
[[ "$during" == 200* ]] || fail "scrape not answered while 24 connections are held: $during"
sleep 0.5
after=$(scrape)
echo "  scrape after they were dropped: $after"
[[ "$after" == 200* ]] || fail "scrape not answered after held connections were dropped: $after"
pass "24 held connections neither block a scrape nor break later ones"

# Beyond every limit: 100 connections held 5 s.
hold 100 10 5 >/dev/null
sleep 0.5
for i in 1 2 3; do
    after=$(scrape)
    [[ "$after" == 200* ]] || fail "scrape $i not answered after 100 held connections: $after"
done
pass "after 100 held connections, scrapes are answered: $after"
n=$(ss -tan state close-wait "( sport = :$PORT )" | tail -n +2 | wc -l)
[ "$n" -eq 0 ] || fail "$n connections left in CLOSE-WAIT"
pass "no connection left in CLOSE-WAIT"
daemon_alive "$RUN" || fail "balloond died"

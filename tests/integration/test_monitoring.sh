#!/usr/bin/env bash
# (issue 14.3) The fleet monitoring shipped in monitoring/: the Prometheus
# rules load (promtool check rules) and their unit tests pass (promtool
# test rules: every alert fires where it must and not on a near miss); every
# alert has a test; and every metric that the rules and the Grafana
# dashboard read is one that a live balloond really exports on /metrics
# (a daemon with a budget cgroup, so that the cgroup's counter is there
# too). No guest needed: the exposition declares every family (# TYPE) with
# or without VMs. A few seconds.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/guest.sh
source tests/lib/daemon.sh

RULES=monitoring/balloond-rules.yml
TESTS=monitoring/balloond-rules.test.yml
DASH=monitoring/grafana-balloond.json
command -v promtool >/dev/null || fail "promtool is missing (scripts/deps.sh installs Debian's prometheus)"

out=$(promtool check rules "$RULES" 2>&1) || fail "promtool check rules: $out"
pass "promtool check rules: $(echo "$out" | grep -o 'SUCCESS.*')"
out=$(cd monitoring && promtool test rules "$(basename "$TESTS")" 2>&1) || fail "promtool test rules: $out"
pass "promtool test rules $TESTS: SUCCESS"

for a in $(sed -n 's/^ *- alert: *//p' "$RULES"); do
    grep -q "alertname: $a\$" "$TESTS" || fail "alert $a has no test in $TESTS"
done
pass "every alert ($(grep -c -- '- alert:' "$RULES")) has a promtool test"

test_begin monitoring 1024
PORT=$((20000 + $$ % 20000))
METRICS=127.0.0.1:$PORT daemon_config "$RUN" "$CG"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
# The host's families appear once the first tick has sampled the host.
scraped() {
    curl -sf -o "$RUN/metrics.txt" "http://127.0.0.1:$PORT/metrics" &&
        grep -q '^balloond_host_used_bytes ' "$RUN/metrics.txt"
}
wait_until 10 "a scrape with the host sampled" scraped || fail "no host metrics on port $PORT"
out=$(python3 monitoring/metric_names.py "$RULES" "$DASH" "$RUN/metrics.txt") ||
    fail "the rules or the dashboard read metrics balloond does not export: $out"
pass "$out"

# The check itself: a name balloond does not export is caught.
sed 's/balloond_vm_rss_bytes/balloond_vm_rss_kib/' "$DASH" >"$RUN/bad.json"
python3 monitoring/metric_names.py "$RULES" "$RUN/bad.json" "$RUN/metrics.txt" >"$RUN/bad.out" &&
    fail "a dashboard reading balloond_vm_rss_kib passed the check"
grep -q "not exported by balloond: balloond_vm_rss_kib" "$RUN/bad.out" || fail "the check did not name the bad metric"
pass "a misspelt metric in the dashboard is named: $(head -1 "$RUN/bad.out")"

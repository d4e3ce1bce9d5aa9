#!/usr/bin/env bash
# backend = libvirt with a URI that cannot be opened (no libvirtd behind
# its socket): the message names the URI and libvirt's reason, once, and
# balloond keeps running and answering while it retries with a backoff.
# No guests.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/guest.sh
source tests/lib/daemon.sh

test_begin lvbad 0
uri="qemu:///system?socket=$RUN/no-such-libvirt-sock"
daemon_config "$RUN" "" "backend = libvirt" "libvirt_uri = $uri"
daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
sleep 8
n=$(grep -c "libvirt $uri: cannot connect" "$RUN/balloond.log")
grep "cannot connect" "$RUN/balloond.log" | head -2 | sed 's/^/    /'
[ "$n" -eq 1 ] || fail "the failure was logged $n times in 8 s (once expected)"
grep -q "no-such-libvirt-sock" <(grep "cannot connect" "$RUN/balloond.log") || fail "libvirt's reason does not name the socket"
status_json "$RUN" | jq -e '.vms == []' >/dev/null || fail "status does not answer"
daemon_alive "$RUN" || fail "balloond died"
pass "bad URI: named once with libvirt's reason; balloond runs and answers"

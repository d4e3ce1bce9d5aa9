#!/usr/bin/env bash
# (issue 9.7) A QMP socket served by another local user's process is not
# spoken to: one it owns is refused before connecting (logged once, not
# listed); one whose file is root's but whose server is not is refused
# after connecting (SO_PEERCRED). Naming the user as qemu_user admits it.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/daemon.sh

USER_NAME=bdtest$$
FAKES=()
test_cleanup_extra() {
    for p in "${FAKES[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    id "$USER_NAME" >/dev/null 2>&1 && userdel "$USER_NAME"
}
test_begin qmp-owner 0
useradd --system --no-create-home --shell /usr/sbin/nologin "$USER_NAME" || fail "cannot create a user"
uid=$(id -u "$USER_NAME")
daemon_config "$RUN" ""
chmod 755 "$RUN"
chmod 1777 "$RUN/qmp"
mkdir -m 777 "$RUN/private"

# as_user CMD...: runs CMD as the test user, in the background.
as_user() {
    setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@" &
    FAKES+=($!)
}
as_user "$BUILD/tests/fakeqmp" silent "$RUN/qmp/theirs"
# Served by the user, but the file made root's and moved in by root.
as_user "$BUILD/tests/fakeqmp" silent "$RUN/private/rootfile"
wait_until 5 "the user's sockets" test -S "$RUN/private/rootfile" -a -S "$RUN/qmp/theirs" \
    || fail "the user's fake QMP servers did not start"
chown root:root "$RUN/private/rootfile"
mv "$RUN/private/rootfile" "$RUN/qmp/rootfile"
"$BUILD/tests/fakeqmp" silent "$RUN/qmp/mine" & FAKES+=($!)

daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
wait_until 5 "mine listed" vm_listed "$RUN" mine || fail "root's own socket is not listed"
sleep 3  # three ticks: three scans of the directory
"$BUILD/balloonctl" -s "$RUN/ctl.sock" status
vm_listed "$RUN" theirs && fail "a socket owned by uid $uid is listed as a VM"
grep "theirs" "$RUN/balloond.log"
n=$(grep -c "socket $RUN/qmp/theirs: owned by uid $uid ($USER_NAME).*refused" "$RUN/balloond.log")
[ "$n" -eq 1 ] || fail "the refusal of theirs is logged $n times, not once with its path and owner"
pass "a socket owned by $USER_NAME is refused before connecting, logged once"

err=$(vm_field "$RUN" rootfile error)
echo "  rootfile: $err"
[[ "$err" == *"served by uid $uid ($USER_NAME)"*refused* ]] \
    || fail "a root-owned socket served by $USER_NAME is not refused: state $(vm_field "$RUN" rootfile state), error '$err'"
n=$(grep -c "vm rootfile: QMP socket served by" "$RUN/balloond.log")
[ "$n" -eq 1 ] || fail "the refusal of rootfile is logged $n times"
pass "a root-owned socket served by $USER_NAME is refused after connecting (SO_PEERCRED)"

echo "qemu_user = $USER_NAME" >>"$RUN/balloond.conf"
"$BUILD/balloonctl" -s "$RUN/ctl.sock" reload >/dev/null || fail "reload with qemu_user failed"
wait_until 5 "theirs listed" vm_listed "$RUN" theirs || fail "theirs not admitted as qemu_user"
pass "qemu_user = $USER_NAME admits its socket"
daemon_alive "$RUN" || fail "balloond died"

# Helpers for integration tests: run balloond on a private socket
# directory, read its status, wait for conditions. Source after guest.sh.

BUILD=${BUILD:-build}

# daemon_config RUN [CGROUP_DIR] [EXTRA...]: writes RUN/balloond.conf for a
# daemon whose sockets, state and control live under RUN. EXTRA lines are
# appended (e.g. a [defaults] section).
daemon_config() {
    local run=$1 cg=${2:-}
    shift 2 || shift $#
    mkdir -p "$run/qmp"
    {
        echo "[host]"
        echo "interval = 1s"
        echo "socket_dir = $run/qmp"
        echo "control_socket = $run/ctl.sock"
        echo "state_file = $run/state.json"
        echo "metrics = ${METRICS:-off}"
        [ -n "$cg" ] && echo "cgroup = $cg"
        printf '%s\n' "$@"
    } >"$run/balloond.conf"
}

# daemon_start RUN [ARGS...]: starts balloond in the background, logging to
# RUN/balloond.log (appended), and waits for its control socket.
daemon_start() {
    local run=$1
    shift
    rm -f "$run/ctl.sock"
    "$BUILD/balloond" -c "$run/balloond.conf" "$@" >>"$run/balloond.log" 2>&1 &
    echo $! >"$run/balloond.pid"
    for _ in $(seq 50); do
        [ -S "$run/ctl.sock" ] && return 0
        kill -0 "$(cat "$run/balloond.pid")" 2>/dev/null || break
        sleep 0.1
    done
    echo "balloond did not start; its log:" >&2
    cat "$run/balloond.log" >&2
    return 1
}

daemon_alive() {
    [ -f "$1/balloond.pid" ] && kill -0 "$(cat "$1/balloond.pid")" 2>/dev/null
}

# daemon_stop RUN: SIGTERM by PID and wait; idempotent.
daemon_stop() {
    local run=$1 pid
    [ -f "$run/balloond.pid" ] || return 0
    pid=$(cat "$run/balloond.pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    wait "$pid" 2>/dev/null
    rm -f "$run/balloond.pid"
}

status_json() {
    "$BUILD/balloonctl" -s "$1/ctl.sock" --json status
}

# vm_field RUN VM FIELD: one field of a VM in the status, "null" if none.
vm_field() {
    status_json "$1" | jq -r --arg n "$2" --arg f "$3" '.vms[] | select(.name == $n) | .[$f]'
}

mib() { echo $(($1 / 1048576)); }

# wait_until TIMEOUT_S DESCRIPTION COMMAND...: polls every second.
wait_until() {
    local timeout=$1 what=$2
    shift 2
    for _ in $(seq "$timeout"); do
        if "$@"; then return 0; fi
        sleep 1
    done
    echo "timed out after ${timeout}s waiting for: $what" >&2
    return 1
}

# test_begin TAG BUDGET_MIB: sets RUN (a private directory) and CG (a
# budget cgroup of BUDGET_MIB, or none for 0); at exit, whatever happens,
# balloond and the guests are stopped, then both are removed. A test that
# starts more defines test_cleanup_extra.
test_begin() {
    RUN=$(mktemp -d /tmp/balloond-test.XXXXXX)
    CG=
    if [ "$2" -gt 0 ]; then
        CG=$(cgroup_create "balloond-test-$1-$$" $(($2 * 1048576))) || fail "cannot create the budget cgroup"
    fi
    trap test_end EXIT
}

test_end() {
    local rc=$?
    # A failed test shows what balloond said last, before its run is removed.
    if [ "$rc" -ne 0 ] && [ -s "$RUN/balloond.log" ]; then
        echo "  --- last lines of balloond.log:" >&2
        tail -n 25 "$RUN/balloond.log" >&2
    fi
    declare -F test_cleanup_extra >/dev/null && test_cleanup_extra
    daemon_stop "$RUN"
    declare -F guest_stop_all >/dev/null && guest_stop_all "$RUN"
    [ -n "$CG" ] && cgroup_remove "$CG"
    rm -rf "$RUN"
}

pass() { echo "  ok: $*"; }
fail() { echo "  FAIL: $*" >&2; exit 1; }

# vm_is RUN VM FIELD VALUE: true when the VM's status field equals VALUE.
vm_is() {
    [ "$(vm_field "$1" "$2" "$3")" = "$4" ]
}

# vm_listed RUN VM: true when the daemon lists the VM.
vm_listed() {
    status_json "$1" | jq -e --arg n "$2" 'any(.vms[]; .name == $n)' >/dev/null
}

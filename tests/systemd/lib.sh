# Helpers of tests/systemd/check.sh: the cached Debian 12 root and the
# container booted from it with systemd-nspawn.

# sd_root ROOT: a debootstrapped bookworm with systemd, balloond's runtime
# libraries, QEMU (the guest runs inside, as on a real host) and libvirtd.
# Made once (about 3 minutes, from deb.debian.org) and kept: ROOT/.complete.
sd_root() {
    local root=$1
    [ -e "$root/.complete" ] && return 0
    rm -rf "$root.tmp"
    echo "check-systemd: debootstrap bookworm into $root (cached for the next runs)"
    debootstrap --variant=minbase \
        --include=systemd,systemd-sysv,dbus,libjson-c5,libinih1,libmicrohttpd12,libvirt0,libsystemd0,procps,jq \
        bookworm "$root.tmp" http://deb.debian.org/debian >"$root.log" 2>&1 ||
        { tail -n 20 "$root.log" >&2; return 1; }
    # Not booted: --pipe runs one command.
    systemd-nspawn -q -D "$root.tmp" --register=no --keep-unit --pipe /bin/sh -c \
        'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients && apt-get clean' \
        >>"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; return 1; }
    touch "$root.tmp/.complete"
    mv "$root.tmp" "$root"
}

# sd_boot ROOT LOG BIND...: boots ROOT with systemd-nspawn --boot on a
# throw-away overlay (--volatile=overlay: the cached root stays clean) and
# sets SD_NSPAWN (its PID) and SD_LEADER (the container's systemd, PID 1
# inside). --register=no --keep-unit: this host has no systemd or D-Bus to
# register a machine or make a scope with (without them nspawn fails:
# "Failed to open system bus").
sd_boot() {
    local root=$1 log=$2
    shift 2
    systemd-nspawn -q -D "$root" --boot --register=no --keep-unit --volatile=overlay \
        --console=passive -M balloond-check "$@" >"$log" 2>&1 &
    SD_NSPAWN=$!
    SD_LEADER=
    for _ in $(seq 100); do
        SD_LEADER=$(pgrep -P "$SD_NSPAWN" -x systemd | head -1)
        [ -n "$SD_LEADER" ] && break
        kill -0 "$SD_NSPAWN" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$SD_LEADER" ] || { cat "$log" >&2; return 1; }
}

# sd_shutdown: poweroff of the container, by its nspawn PID; idempotent.
sd_shutdown() {
    [ -n "${SD_NSPAWN:-}" ] || return 0
    if kill -0 "$SD_NSPAWN" 2>/dev/null; then
        kill -TERM "$SD_NSPAWN"
        for _ in $(seq 150); do kill -0 "$SD_NSPAWN" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$SD_NSPAWN" 2>/dev/null && kill -KILL "$SD_NSPAWN"
    fi
    wait "$SD_NSPAWN" 2>/dev/null
    SD_NSPAWN=
}

# ex CMD...: runs CMD in the container (all its namespaces).
ex() { nsenter -t "$SD_LEADER" -a "$@"; }

# qmp_actual SOCKET: the balloon's actual size in bytes, over QMP from the
# host (the container's socket through /proc/PID/root), once balloond has
# let go of the socket (one client at a time).
qmp_actual() {
    python3 - "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile("rw")
json.loads(f.readline())
for cmd in ({"execute": "qmp_capabilities"}, {"execute": "query-balloon", "id": 1}):
    f.write(json.dumps(cmd) + "\n"); f.flush()
    while True:
        m = json.loads(f.readline())
        if "return" in m or "error" in m:
            break
print(m["return"]["actual"])
PY
}

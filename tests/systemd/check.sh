#!/usr/bin/env bash
# make check-systemd (issue 14.2): the Debian package under a real systemd.
# A Debian 12 root made with debootstrap (cached in BUILD/systemd/root) is
# booted with systemd-nspawn --boot; the package from make deb is installed
# there with dpkg (its postinst enables and starts the unit, as on a real
# host); a real TCG guest runs inside the container with its QMP socket in
# /run/balloond/qmp, and a libvirtd runs there too. Checked: the unit reaches
# active through Type=notify, the watchdog is fed, reload applies a good
# config and refuses a bad one (the service stays up), journalctl -u
# balloond has its messages with their priorities, stop leaves the balloon
# where it is, and the hardening lets balloond read the cgroup, /proc and
# write /sys/kernel/mm/ksm (the host's, bound into the container; saved and
# restored here), reach the QMP sockets and libvirt's socket.
# Usage: tests/systemd/check.sh BUILD   (under flock /tmp/balloond-guests.lock)
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/systemd/lib.sh
BUILD=${1:-build}
pass() { echo "  ok: $*"; }
fail() { echo "  FAIL: $*" >&2; exit 1; }

root=$BUILD/systemd/root
deb=$(ls -t "$BUILD"/deb/balloond_*_amd64.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no package in $BUILD/deb (make deb)"
[ -f "$BUILD/guest/initrd.img" ] || fail "no guest image in $BUILD/guest (make guest)"
sd_root "$root" || fail "cannot make the Debian 12 root"

RUN=$(mktemp -d /tmp/balloond-systemd.XXXXXX)
ksm=/sys/kernel/mm/ksm
declare -A ksm_saved=()
for k in run pages_to_scan sleep_millisecs advisor_mode advisor_target_scan_time advisor_max_cpu; do
    [ -w "$ksm/$k" ] && ksm_saved[$k]=$(sed 's/.*\[\(.*\)\].*/\1/' "$ksm/$k")
done
cleanup() {
    local rc=$?
    if [ "$rc" -ne 0 ] && [ -n "${SD_LEADER:-}" ]; then
        echo "  --- journalctl -u balloond (last 30):" >&2
        ex journalctl -u balloond --no-pager -n 30 >&2 2>/dev/null
    fi
    [ -n "${SD_LEADER:-}" ] && ex systemctl stop guest-g1 libvirtd-check >/dev/null 2>&1
    sd_shutdown
    for k in "${!ksm_saved[@]}"; do echo "${ksm_saved[$k]}" >"$ksm/$k" 2>/dev/null; done
    rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mkdir -p "$RUN/deb" && cp "$deb" "$RUN/deb/"
t0=$SECONDS
sd_boot "$root" "$RUN/nspawn.log" --bind-ro="$RUN/deb:/mnt/deb" \
    --bind-ro="$(cd "$BUILD/guest" && pwd):/mnt/guest" --bind="$ksm:$ksm" || fail "systemd-nspawn --boot failed"
# Its bus needs a moment after PID 1 appears.
for _ in $(seq 60); do
    state=$(ex systemctl is-system-running --wait 2>&1)
    [ "$state" = running ] || [ "$state" = degraded ] && break
    sleep 0.5
done
[ "$state" = running ] || [ "$state" = degraded ] || fail "the container's systemd: $state"
pass "booted $(ex systemctl --version | head -1) in a container (nspawn $SD_NSPAWN, its PID 1 is $SD_LEADER here): $state in $((SECONDS - t0)) s"

# libvirtd first (backend = both talks to it), then the package.
# QEMU as root; the QEMU driver still insists on a libvirt-qemu user, which
# libvirt-daemon-system would add (with the system services and a network).
ex useradd --system --user-group --no-create-home libvirt-qemu || fail "useradd libvirt-qemu"
printf 'user = "root"\ngroup = "root"\ndynamic_ownership = 0\n' | ex sh -c 'cat > /etc/libvirt/qemu.conf'
ex systemd-run -q --unit=libvirtd-check /usr/sbin/libvirtd || fail "cannot start libvirtd"
for _ in $(seq 50); do ex test -S /run/libvirt/libvirt-sock && break; sleep 0.2; done
ex test -S /run/libvirt/libvirt-sock || { ex journalctl -u libvirtd-check --no-pager | tail; fail "libvirtd did not start"; }
ex env DEBIAN_FRONTEND=noninteractive dpkg -i "/mnt/deb/$(basename "$deb")" >"$RUN/dpkg.log" 2>&1 ||
    { cat "$RUN/dpkg.log"; fail "dpkg -i"; }
[ "$(ex systemctl is-enabled balloond)" = enabled ] || fail "balloond.service not enabled by the package"
for _ in $(seq 50); do [ "$(ex systemctl is-active balloond)" = active ] && break; sleep 0.2; done
show() { ex systemctl show balloond -P "$1"; }
[ "$(show ActiveState)/$(show SubState)" = active/running ] || fail "not active after install: $(show ActiveState)/$(show SubState)"
[ "$(show Type)" = notify ] || fail "Type is $(show Type)"
pass "dpkg -i $(basename "$deb"): enabled, started by its postinst, active/running (Type=notify: READY=1 received)"

# The operator's config: QMP and libvirt, a 640 MiB budget read from a
# cgroup, KSM on, the metrics port.
cat >"$RUN/balloond.conf" <<'CONF'
[host]
backend = both
cgroup = /sys/fs/cgroup/memory
budget = 640M
ksm = on
zswap = off
metrics = 127.0.0.1:9781
CONF
ex sh -c 'cat > /etc/balloond/balloond.conf' <"$RUN/balloond.conf"
# A short watchdog so that a missing WATCHDOG=1 shows within the test.
ex mkdir -p /etc/systemd/system/balloond.service.d
printf '[Service]\nWatchdogSec=2s\n' | ex sh -c 'cat > /etc/systemd/system/balloond.service.d/watchdog.conf'
ex systemctl daemon-reload && ex systemctl restart balloond || fail "restart with the new config"
pid=$(show MainPID)

# A real guest in the container, its QMP socket where the unit expects it.
ex systemd-run -q --unit=guest-g1 qemu-system-x86_64 -name g1 -accel tcg -m 384 -smp 1 \
    -nodefaults -display none -no-reboot -kernel /mnt/guest/vmlinux -initrd /mnt/guest/initrd.img \
    -append "console=ttyS0 quiet memload=alloc:64M,hold:3s,free:all,idle" -serial file:/tmp/g1.console \
    -device virtio-balloon-pci,id=balloon0 -qmp unix:/run/balloond/qmp/g1,server=on,wait=off ||
    fail "cannot start the guest"
st() { ex balloonctl --json status 2>/dev/null; }
vm() { st | jq -r ".vms[] | select(.name == \"g1\") | .$1"; }
for _ in $(seq 120); do [ "$(vm state)" = managed ] && break; sleep 1; done
[ "$(vm state)" = managed ] || fail "g1 not managed: $(st | jq -c '.vms')"
pass "guest g1 (384 MiB, TCG) managed through /run/balloond/qmp/g1"

# The watchdog: 2 s, and after 8 s still the same process, never restarted.
w1=$(show WatchdogTimestampMonotonic); sleep 8; w2=$(show WatchdogTimestampMonotonic)
[ "$(show MainPID)" = "$pid" ] && [ "$(show NRestarts)" = 0 ] && [ "$(show ActiveState)" = active ] ||
    fail "watchdog: MainPID $(show MainPID) (was $pid), NRestarts $(show NRestarts), $(show ActiveState)"
[ "$w2" -gt "$w1" ] || fail "WatchdogTimestamp did not move in 8 s ($w1 -> $w2)"
pass "watchdog fed: WatchdogUSec=$(show WatchdogUSec), last ping moved by $(( (w2 - w1) / 1000 )) ms in 8 s, NRestarts=0, same PID $pid"

# Hardening: what balloond reads and writes.
[ "$(st | jq -r .host.cgroup)" = /sys/fs/cgroup/memory ] || fail "cgroup not read: $(st | jq -c .host)"
rss=$(vm rss_bytes)
[ "$rss" != null ] && [ "$rss" -gt 0 ] || fail "QEMU's RSS not read from /proc: $rss"
out=$(ex journalctl -u balloond -b --no-pager -o cat | grep -iE 'ksm|libvirt|cgroup|denied|read-only' | sort | uniq -c | head -12)
echo "$out" | grep -qiE 'permission denied|read-only file system|operation not permitted' && fail "hardening blocks: $out"
echo "$out" | grep -q 'libvirt qemu:///system: connected' || fail "libvirt's socket not reached: $out"
pass "hardening lets through: cgroup $(st | jq -r .host.cgroup) (budget $(( $(st | jq .host.budget_bytes) >> 20 )) MiB), /proc (g1's QEMU RSS $((rss >> 20)) MiB), libvirt's socket; journal on these:"
echo "$out" | sed 's/^/      /'

# Reload: a good config is applied, a bad one refused, the service stays up.
ex sed -i 's/^budget = 640M/budget = 700M/' /etc/balloond/balloond.conf
ex systemctl reload balloond || fail "systemctl reload"
for _ in $(seq 20); do [ "$(st | jq .host.budget_bytes)" = $((700 << 20)) ] && break; sleep 0.5; done
[ "$(st | jq .host.budget_bytes)" = $((700 << 20)) ] || fail "reload did not apply budget = 700M: $(st | jq .host.budget_bytes)"
pass "systemctl reload: budget 640M -> 700M applied"
ex sed -i 's/^budget = 700M/budget = banana/' /etc/balloond/balloond.conf
ex systemctl reload balloond || fail "systemctl reload (bad config)"
sleep 2
[ "$(show ActiveState)" = active ] && [ "$(show MainPID)" = "$pid" ] || fail "a bad config took the service down"
[ "$(st | jq .host.budget_bytes)" = $((700 << 20)) ] || fail "a refused config changed the budget"
bad=$(ex journalctl -u balloond -b --no-pager -p err -o cat | grep 'balloond.conf:' | tail -2)
[ -n "$bad" ] || fail "the refused reload is not in the journal at priority err"
pass "a bad config is refused, still active, same PID, budget kept; journal (-p err):"
echo "$bad" | sed 's/^/      /'
ex sed -i 's/^budget = banana/budget = 700M/' /etc/balloond/balloond.conf

# The journal: balloond's messages, each with its own priority.
prios=$(ex journalctl -u balloond -b --no-pager -o json | jq -r 'select(._COMM == "balloond") | .PRIORITY' | sort | uniq -c | tr -s ' \n' ' ')
for p in 3 5 6; do echo " $prios" | grep -q " [0-9]* $p\b" || fail "no balloond message at priority $p: $prios"; done
pass "journalctl -u balloond: messages by priority (count priority): $prios"

# Stop leaves the balloon where it is: wait for an inflation first.
for _ in $(seq 90); do
    a=$(vm actual_bytes)
    [ "$a" != null ] && [ "$a" -lt $((384 << 20)) ] && break
    sleep 1
done
a=$(vm actual_bytes)
[ "$a" != null ] && [ "$a" -lt $((384 << 20)) ] || fail "g1 was never inflated: actual $a"
sleep 3; a=$(vm actual_bytes)
ex systemctl stop balloond || fail "systemctl stop"
[ "$(show ActiveState)" = inactive ] || fail "not inactive after stop: $(show ActiveState)"
sleep 3
after=$(qmp_actual "/proc/$SD_LEADER/root/run/balloond/qmp/g1") || fail "cannot ask g1's QEMU"
diff=$(( after > a ? after - a : a - after ))
[ "$diff" -le $((8 << 20)) ] || fail "stop moved the balloon: actual $((a >> 20)) MiB before, $((after >> 20)) MiB after"
pass "systemctl stop: inactive; g1 stays at $((after >> 20)) MiB of 384 (was $((a >> 20)) MiB before stop, QMP query-balloon)"
ex test -S /run/balloond/qmp/g1 || fail "stop removed the QMP socket directory"
pass "RuntimeDirectoryPreserve: /run/balloond/qmp/g1 still there after stop"
echo "check-systemd: all passed in $((SECONDS - t0)) s"

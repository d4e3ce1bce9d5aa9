#!/usr/bin/env bash
# (issue 14.1) The Debian package installs, upgrades and purges cleanly.
# Two real builds (scripts/mkdeb.sh: dpkg-buildpackage; the second with a
# higher version, incremental, so only the packaging runs again) are
# installed with dpkg into a throw-away copy of this host: an overlay whose
# lower layer is / and whose upper layer is a tmpfs, in a private mount
# namespace, chrooted. So the real dpkg database and maintainer scripts
# run, and the host itself is untouched (the namespace and its tmpfs vanish
# when the test ends, whatever happens). A policy-rc.d denies starts; there
# is no systemd in the chroot (make check-systemd runs the package under a
# real one). Checked: the files, the conffile, the unit enabled, the
# operator's balloond.conf made once; an upgrade keeps balloond.conf, the
# state file and an edited conffile; remove keeps them; purge leaves no file
# of balloond anywhere (the overlay's upper layer is every change made).
# About 60 s on a fresh clone (one compile), 20 s after.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/daemon.sh

for tool in dpkg-buildpackage dh unshare; do
    command -v "$tool" >/dev/null || fail "$tool not found (scripts/deps.sh installs it)"
done
RUN=$(mktemp -d /tmp/balloond-test.XXXXXX)
trap 'rm -rf "$RUN"' EXIT
out=$BUILD/deb-test

deb1=$(scripts/mkdeb.sh -i -L "$out" | tail -1) || fail "the first build failed"
v1=$(dpkg-deb -f "$deb1" Version)
deb2=$(scripts/mkdeb.sh -i -L -v "$v1+upgrade1" "$out" | tail -1) || fail "the second build failed"
v2=$(dpkg-deb -f "$deb2" Version)
dpkg --compare-versions "$v2" gt "$v1" || fail "second build $v2 is not newer than $v1"
pass "two builds: $(basename "$deb1"), $(basename "$deb2")"
cp "$deb1" "$RUN/v1.deb" && cp "$deb2" "$RUN/v2.deb"

# Everything below runs in the private mount namespace; its own output
# lines are "ok: ..." or "FAIL: ...".
unshare -m --propagation private bash -s "$RUN" "$v1" "$v2" <<'INNER'
set -uo pipefail
run=$1 v1=$2 v2=$3
ok() { echo "  ok: $*"; }
no() { echo "  FAIL: $*" >&2; exit 1; }
mkdir -p "$run/ov" && mount -t tmpfs -o size=512m balloond-deb "$run/ov" || no "cannot mount a tmpfs"
mkdir -p "$run/ov/upper" "$run/ov/work" "$run/ov/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$run/ov/upper,workdir=$run/ov/work" "$run/ov/root" || no "cannot mount the overlay"
root=$run/ov/root up=$run/ov/upper
mount -t proc proc "$root/proc" && mount --bind /dev "$root/dev" || no "proc, dev"
mkdir -p "$root/run" && mount -t tmpfs tmpfs "$root/run"   # no systemd there
cp "$run/v1.deb" "$run/v2.deb" "$root/tmp/" || no "copy"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 0755 "$root/usr/sbin/policy-rc.d"
ch() { chroot "$root" "$@"; }
if ch dpkg-query -W -f='${Status}' balloond 2>/dev/null | grep -q 'ok installed'; then
    no "balloond is installed on this host: the test would install over it"
fi
inst() { DEBIAN_FRONTEND=noninteractive ch dpkg -i "/tmp/$1" >"$run/dpkg.$1.log" 2>&1 || { cat "$run/dpkg.$1.log" >&2; no "dpkg -i $1"; }; }
sum() { (cd "$root" && sha256sum etc/balloond/balloond.conf etc/balloond/balloond.conf.example var/lib/balloond/state.json); }

inst v1.deb
[ "$(ch dpkg-query -W -f='${Version}' balloond)" = "$v1" ] || no "version after install"
for f in /usr/sbin/balloond /usr/bin/balloonctl /lib/systemd/system/balloond.service \
         /usr/share/man/man8/balloond.8.gz /usr/share/man/man5/balloond.conf.5.gz \
         /usr/share/bash-completion/completions/balloonctl /etc/balloond/balloond.conf.example; do
    [ -e "$root$f" ] || no "$f not installed"
done
ch balloond --version | grep -q '^balloond ' || no "balloond does not run: $(ch balloond --version 2>&1)"
ch dpkg-query -W -f='${Conffiles}\n' balloond | grep -q '^ /etc/balloond/balloond.conf.example ' || no "the example is not a conffile"
ch dpkg-query -W -f='${Conffiles}\n' balloond | grep -q 'balloond.conf ' && no "balloond.conf must not be a conffile"
[ "$(readlink "$root/etc/systemd/system/multi-user.target.wants/balloond.service")" = /lib/systemd/system/balloond.service ] || no "the unit is not enabled"
ch balloond -t -c /etc/balloond/balloond.conf >/dev/null 2>&1 || no "the balloond.conf made by postinst does not pass balloond -t"
ch dpkg-deb -f /tmp/v1.deb Depends | grep -Eq 'qemu|cmocka|prometheus|libvirt-daemon' && no "Depends pulls in a test tool"
ok "v$v1 installed: files, conffile, unit enabled, balloond.conf made ($(ch dpkg-deb -f /tmp/v1.deb Depends))"

# The operator's changes, and a state file as balloond writes it.
printf 'budget = 3G\n' >>"$root/etc/balloond/balloond.conf"
printf '# edited by the operator\n' >>"$root/etc/balloond/balloond.conf.example"
mkdir -p -m 0700 "$root/var/lib/balloond"
printf '{"version":1,"vms":{"web1":{"target_bytes":1073741824}}}\n' >"$root/var/lib/balloond/state.json"
before=$(sum)

inst v2.deb
[ "$(ch dpkg-query -W -f='${Version}' balloond)" = "$v2" ] || no "version after upgrade"
[ "$(sum)" = "$before" ] || no "upgrade changed the config, the example or the state: $(sum)"
[ -L "$root/etc/systemd/system/multi-user.target.wants/balloond.service" ] || no "upgrade disabled the unit"
ok "upgrade to v$v2 keeps balloond.conf, the edited conffile and state.json; still enabled"

DEBIAN_FRONTEND=noninteractive ch dpkg -r balloond >"$run/dpkg.r.log" 2>&1 || no "dpkg -r: $(cat "$run/dpkg.r.log")"
[ ! -e "$root/usr/sbin/balloond" ] || no "remove left the binary"
[ "$(sum)" = "$before" ] || no "remove lost the config or the state"
ok "remove: programs gone, config and state kept"

DEBIAN_FRONTEND=noninteractive ch dpkg -P balloond >"$run/dpkg.p.log" 2>&1 || no "dpkg -P: $(cat "$run/dpkg.p.log")"
ch dpkg-query -W -f='${Status}' balloond 2>/dev/null | grep -q installed && no "still known to dpkg after purge"
left=$(cd "$up" && find . -name '*balloond*' ! -path './tmp/*' | sort)
[ -z "$left" ] || no "purge left: $left"
ok "purge: no file of balloond left (overlay upper layer searched: $(cd "$up" && find . -type f | wc -l) files changed, none of balloond)"
INNER
rc=$?
[ "$rc" -eq 0 ] || fail "install/upgrade/purge (see above)"

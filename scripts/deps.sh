#!/usr/bin/env bash
# Installs what building, testing and the demo need, from Debian's
# packages. Idempotent: installs only what is missing.
#
# Starts no service, and leaves none to start at the next boot. Several of
# these packages ship daemons: prometheus (a server on :9090, enabled by its
# postinst; we only want promtool), systemd-container (systemd-machined), the
# libvirt packages (libvirtd, virtlogd). While apt-get runs, a policy-rc.d
# that denies every action (exit 101) is in place: both invoke-rc.d and
# deb-systemd-invoke (what dh_installsystemd's postinst snippets call) ask it
# before starting anything. It is removed when this script ends, whatever
# happens (EXIT trap; a policy-rc.d that was there before is put back).
# Then the units that the packages installed here enabled are disabled again
# (deb-systemd-helper, so that an upgrade keeps them disabled), so a reboot
# of a systemd host does not start them either. The tests run their own
# private libvirtd (tests/lib/libvirt.sh) and promtool, never the services.
#
# `scripts/deps.sh fuzz` adds clang's libFuzzer, for make fuzz only (the
# replay of the fuzz corpora in make check builds with gcc).
# `scripts/deps.sh systemd` adds debootstrap and systemd-nspawn, for make
# check-systemd only.
set -euo pipefail

pkgs=(
    build-essential pkg-config
    libjson-c-dev libinih-dev libsystemd-dev libcmocka-dev libmicrohttpd-dev
    qemu-system-x86 busybox-static cpio gzip xz-utils kmod
    gnuplot-nox jq curl prometheus man-db groff-base mandoc systemd
    python3 python3-yaml iproute2 util-linux passwd
    # The libvirt backend: headers, and libvirtd + virtlogd with the QEMU
    # driver and virsh for tests/lib/libvirt.sh. Not libvirt-daemon-system:
    # it would add the system services, users and a default network.
    libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
    # make deb (dpkg-buildpackage, dh) and lintian on the result.
    dpkg-dev debhelper lintian
    # make bench-ksm runs Debian's real ksmtuned (the shell script, as a
    # foreground process it starts and stops by PID; its service is never
    # started: policy-rc.d below, and its unit is disabled again after).
    ksmtuned
)

case "${1:-}" in
fuzz) pkgs+=(clang libclang-rt-14-dev) ;;
systemd) pkgs+=(debootstrap systemd-container debian-archive-keyring) ;;
"") ;;
*) echo "deps: unknown set '$1' (known: fuzz, systemd)" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
((${#missing[@]})) || exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages and not root: run as root, or install: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive

# invoke-rc.d and deb-systemd-invoke ask policy-rc.d before they start,
# restart or reload anything; 101 = action forbidden.
policy=/usr/sbin/policy-rc.d
saved=
policy_restore() {
    rm -f "$policy"
    [ -n "$saved" ] && mv -f "$saved" "$policy"
    return 0
}
if [ -e "$policy" ]; then
    saved=$(mktemp "$policy.balloond-deps.XXXXXX")
    cp -a "$policy" "$saved"
fi
trap policy_restore EXIT
trap 'exit 130' INT TERM HUP
printf '#!/bin/sh\n# from balloond scripts/deps.sh, removed when it ends\nexit 101\n' >"$policy"
chmod 0755 "$policy"

# The units enabled before, so that only what this install enabled is undone.
enabled_units() {
    find /etc/systemd/system -path '*.wants/*' -printf '%f\n' 2>/dev/null | sort -u
}
before=$(enabled_units)

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Daemons (services, sockets) of the packages just installed that their
# postinst enabled; systemd's own units are left alone. (The s command's
# delimiter is # : with | the \| of the alternation would be a literal |.)
ours=$(printf '%s\n' "${missing[@]}" | grep -v '^systemd' | xargs -r dpkg -L 2>/dev/null |
    sed -n 's#^/lib/systemd/system/\([^/]*\.\(service\|socket\)\)$#\1#p' | sort -u || true)
for unit in $(comm -13 <(echo "$before") <(enabled_units) | grep -Fxf <(echo "$ours") || true); do
    echo "deps: disabling $unit (installed for its tools, not to run)"
    # deb-systemd-helper exits at once ("was not called from dpkg") unless
    # it is told which package's maintainer script it serves.
    pkg=$(dpkg -S "/lib/systemd/system/$unit" 2>/dev/null | cut -d: -f1 | head -1)
    DPKG_MAINTSCRIPT_PACKAGE=${pkg:-balloond-deps} deb-systemd-helper disable "$unit" >/dev/null 2>&1 ||
        echo "deps: could not disable $unit" >&2
    # The SysV link of a non-systemd host (update-rc.d's S links).
    svc=${unit%.service}
    [ -x "/etc/init.d/$svc" ] && update-rc.d "$svc" disable >/dev/null 2>&1 || true
done

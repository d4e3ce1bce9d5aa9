#!/usr/bin/env bash
# Installs what building, testing and the demo need, from Debian's
# packages. Idempotent: installs only what is missing. Starts no service:
# while apt-get runs, a policy-rc.d that denies everything (exit 101) is in
# place, so the libvirt packages' maintainer scripts start no daemon (the
# tests run a private libvirtd, tests/lib/libvirt.sh).
# `scripts/deps.sh fuzz` adds clang's libFuzzer, for make fuzz only (the
# replay of the fuzz corpora in make check builds with gcc).
set -euo pipefail

pkgs=(
    build-essential pkg-config
    libjson-c-dev libinih-dev libsystemd-dev libcmocka-dev libmicrohttpd-dev
    qemu-system-x86 busybox-static cpio gzip xz-utils kmod
    gnuplot-nox jq curl prometheus man-db groff-base mandoc systemd
    python3 iproute2 util-linux passwd
    # The libvirt backend: headers, and libvirtd + virtlogd with the QEMU
    # driver and virsh for tests/lib/libvirt.sh. Not libvirt-daemon-system:
    # it would add the system services, users and a default network.
    libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
)

if [ "${1:-}" = fuzz ]; then
    pkgs+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing packages and not root: run as root, or install: ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # invoke-rc.d asks policy-rc.d before it starts anything; 101 = denied.
    # Removed afterwards, and only if it was ours.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        trap 'rm -f "$policy"' EXIT
        trap 'exit 130' INT TERM HUP
        printf '#!/bin/sh\n# from balloond scripts/deps.sh, removed when it ends\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

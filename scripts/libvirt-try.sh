#!/usr/bin/env bash
# Try the libvirt backend by hand: a private libvirtd (tests/lib/libvirt.sh)
# with test guests, kept until Ctrl-C, then everything is removed.
#
#   scripts/libvirt-try.sh [-m MIB] [-l MEMLOAD_SPEC] NAME...
#
# Prints the URI to give balloond or virsh (virsh -c URI domstats --balloon).
# Holds /tmp/balloond-guests.lock while guests run (one guest user at a time).
set -euo pipefail
cd "$(dirname "$0")/.."

mem=512 spec=idle
while getopts m:l: opt; do
    case $opt in
    m) mem=$OPTARG ;;
    l) spec=$OPTARG ;;
    *) echo "usage: $0 [-m MIB] [-l MEMLOAD_SPEC] NAME..." >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: $0 [-m MIB] [-l MEMLOAD_SPEC] NAME..." >&2; exit 2; }

# shellcheck source=tests/lib/libvirt.sh
. tests/lib/libvirt.sh

exec 9>/tmp/balloond-guests.lock
echo "waiting for /tmp/balloond-guests.lock ..." >&2
flock 9

LV=$(mktemp -d /tmp/balloond-lv.XXXXXX)
trap 'libvirt_stop "$LV"; rm -rf "$LV"' EXIT
trap 'exit 130' INT TERM HUP
libvirt_start "$LV"
for name in "$@"; do
    libvirt_guest_start "$name" "$mem" "$spec" "$LV"
done
for name in "$@"; do
    libvirt_guest_wait_ready "$name" "$LV" 120
done
echo "URI:      $(libvirt_uri "$LV")"
echo "consoles: $LV/*.console"
echo "Ctrl-C to destroy the guests and stop libvirtd."
while :; do sleep 3600 & wait $!; done

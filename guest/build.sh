#!/bin/bash
# Build the test guest image: guest/build.sh OUTDIR
#
# Produces OUTDIR/vmlinuz (Debian's current amd64 kernel), OUTDIR/vmlinux (the
# same kernel uncompressed, which boots twice as fast under TCG; see below) and
# OUTDIR/initrd.img (gzip'd cpio newc: static busybox, the virtio modules the
# balloon needs, guest/init as /init, and the static memload).  See guest/init
# for what the guest prints on its console.
#
# The kernel package is fetched with `apt-get download` into OUTDIR/cache and
# unpacked with `dpkg-deb -x`; it is never installed (installing would rebuild
# the host's initramfs, which is slow, and touch the host's boot setup).
#
# Fast and quiet when nothing changed: the outputs are rebuilt only when older
# than guest/*.c, guest/init or this script, or when the kernel package that
# linux-image-amd64 points to has changed.
set -euo pipefail

usage() { echo "usage: $0 OUTDIR" >&2; exit 2; }
[ $# -eq 1 ] || usage

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
cache=$out/cache

# One build at a time per OUTDIR (make and a test may both call this).
exec 9>"$out/.build.lock"
flock 9

log() { echo "guest/build.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- host packages -----------------------------------------------------------

# Install the Debian packages given that are missing; apt-get update only if
# something must be installed.
ensure_packages() {
	local p missing=()
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_packages busybox-static cpio gzip gcc libc6-dev

# Inputs older than the outputs?
inputs_older() {
	local f
	[ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ] && [ -f "$out/kernel.stamp" ] || return 1
	for f in "$here"/*.c "$here/init" "$here/build.sh"; do
		[ "$f" -ot "$out/initrd.img" ] || return 1
	done
}

# Fast path, without asking apt (apt-cache takes about a second per call):
# the kernel package behind linux-image-amd64 can only have changed if apt's
# package lists did since the last build.
if inputs_older && [ -z "$(find /var/lib/apt/lists -maxdepth 1 -type f -newer "$out/kernel.stamp" -print -quit 2>/dev/null)" ]; then
	exit 0
fi

# ---- which kernel ------------------------------------------------------------

# The package linux-image-amd64 currently depends on, e.g. linux-image-6.1.0-56-amd64.
resolve_kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }'
}
kpkg=$(resolve_kernel_pkg || true)
if [ -z "$kpkg" ]; then
	apt-get update -qq
	kpkg=$(resolve_kernel_pkg || true)
fi
[ -n "$kpkg" ] || die "cannot resolve the kernel package behind linux-image-amd64 (apt-cache depends)"
kver_pkg=$(apt-cache show "$kpkg" | awk '$1 == "Version:" { print $2; exit }')
[ -n "$kver_pkg" ] || die "apt-cache show $kpkg gives no version"
stamp_want="$kpkg $kver_pkg"

if inputs_older && [ "$(cat "$out/kernel.stamp")" = "$stamp_want" ]; then
	touch "$out/kernel.stamp"   # remember that these apt lists were checked
	exit 0
fi

# ---- kernel: download (cached) and unpack ---------------------------------

mkdir -p "$cache"
# apt-get download names the file PKG_VERSION_ARCH.deb, with ':' escaped as %3a.
deb=$cache/${kpkg}_${kver_pkg//:/%3a}_amd64.deb
if [ ! -s "$deb" ]; then
	log "downloading $kpkg $kver_pkg"
	# Sandbox user root: the cache is usually not writable by apt's _apt user.
	(cd "$cache" && apt-get download -qq -o APT::Sandbox::User=root "$kpkg=$kver_pkg")
	[ -s "$deb" ] || die "apt-get download did not produce $deb"
fi

kroot=$cache/kernel
if [ "$(cat "$kroot/.unpacked" 2>/dev/null || true)" != "$stamp_want" ]; then
	log "unpacking $(basename "$deb")"
	rm -rf "$kroot"
	mkdir -p "$kroot"
	dpkg-deb -x "$deb" "$kroot"
	echo "$stamp_want" > "$kroot/.unpacked"
fi

vmlinuz=
for f in "$kroot"/boot/vmlinuz-*; do
	[ -f "$f" ] && vmlinuz=$f && break
done
[ -n "$vmlinuz" ] || die "no boot/vmlinuz-* in $deb"
kver=${vmlinuz##*/vmlinuz-}
moddir=$kroot/lib/modules/$kver
[ -d "$moddir" ] || die "no lib/modules/$kver in $deb"

# ---- modules: resolve dependencies -----------------------------------------

# The package ships no modules.dep (depmod runs at install time), so the
# dependencies come from each module's own modinfo "depends=" field, which is
# what depmod reads too.  Modules listed in modules.builtin are part of the
# kernel image and need no loading.

declare -A modfile=()    # name (with underscores) -> path of .ko[.xz|.zst]
while IFS= read -r -d '' f; do
	n=${f##*/}
	n=${n%%.ko*}
	modfile[${n//-/_}]=$f
done < <(find "$moddir/kernel" \( -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' \) -print0)

declare -A builtin=()
if [ -f "$moddir/modules.builtin" ]; then
	while IFS= read -r f; do
		n=${f##*/}
		n=${n%%.ko*}
		builtin[${n//-/_}]=1
	done < "$moddir/modules.builtin"
fi

# Print a module's uncompressed contents on stdout.
module_bytes() {
	case "$1" in
	*.ko.xz)  ensure_packages xz-utils; xz -dc "$1" ;;
	*.ko.zst) ensure_packages zstd; zstd -dcq "$1" ;;
	*)        cat "$1" ;;
	esac
}

# The .modinfo section is a run of NUL-terminated key=value strings.
module_depends() {
	module_bytes "${modfile[$1]}" | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '
}

declare -A visited=()
load_order=()
# Depth-first: dependencies are appended before the module that needs them.
add_module() {
	local m=${1//-/_} d
	[ -z "${visited[$m]:-}" ] || return 0
	visited[$m]=1
	if [ -n "${builtin[$m]:-}" ]; then
		return 0
	fi
	[ -n "${modfile[$m]:-}" ] || die "module $m is neither built in nor shipped in $kpkg"
	for d in $(module_depends "$m"); do
		add_module "$d"
	done
	load_order+=("$m")
}
# The balloon is a PCI device (-device virtio-balloon-pci): it needs the
# virtio PCI transport as well as the balloon driver itself; virtio_mem
# drives a virtio-mem-pci device when the guest has one (issue 13), and is
# idle otherwise.
for m in virtio_pci virtio_balloon virtio_mem; do
	add_module "$m"
done

# ---- uncompressed kernel for a fast boot -----------------------------------

# Under TCG, decompressing Debian's xz bzImage takes about 5 s of a 10 s boot.
# QEMU can boot the uncompressed ELF vmlinux directly through its PVH entry
# point (the kernel has CONFIG_PVH=y), which skips that work entirely.  So
# take the payload out of the bzImage once, here; tests/lib/guest.sh boots
# vmlinux when it exists and vmlinuz otherwise.

# Read an unsigned little-endian integer of $3 bytes at offset $2 of file $1.
read_le() { od -An -tu"$3" -j"$2" -N"$3" "$1" | tr -d ' '; }

# Write vmlinux ($2) from bzImage ($1); false if that is not possible.
extract_vmlinux() {
	local bz=$1 dst=$2 setup_sects pm_start off len magic
	# Boot protocol (Documentation/x86/boot.rst): "HdrS" at 0x202; the
	# setup code is setup_sects (0x1f1) + 1 sectors long, and the payload
	# lies at payload_offset (0x248) from the end of it, payload_length
	# (0x24c) bytes long.
	[ "$(od -An -c -j$((0x202)) -N4 "$bz" | tr -d ' ')" = HdrS ] || return 1
	setup_sects=$(read_le "$bz" $((0x1f1)) 1)
	[ "$setup_sects" -ne 0 ] || setup_sects=4
	pm_start=$(( (setup_sects + 1) * 512 ))
	off=$(read_le "$bz" $((0x248)) 4)
	len=$(read_le "$bz" $((0x24c)) 4)
	[ "$off" -gt 0 ] && [ "$len" -gt 0 ] || return 1
	magic=$(od -An -tx1 -j$((pm_start + off)) -N4 "$bz" | tr -d ' ')
	# The payload ends with the uncompressed size (4 bytes), which the
	# decompressors below either ignore or only warn about.
	case "$magic" in
	fd377a58) ensure_packages xz-utils
		  tail -c +$((pm_start + off + 1)) "$bz" | head -c "$len" |
			xz -dc --single-stream > "$dst" 2>/dev/null || true ;;
	28b52ffd) ensure_packages zstd
		  tail -c +$((pm_start + off + 1)) "$bz" | head -c "$len" |
			zstd -dcq > "$dst" 2>/dev/null || true ;;
	1f8b08*)  tail -c +$((pm_start + off + 1)) "$bz" | head -c "$len" |
			gzip -dc > "$dst" 2>/dev/null || true ;;
	*)        return 1 ;;
	esac
	# An ELF with a PVH entry note (Xen note type 18) is bootable.
	[ "$(od -An -c -N4 "$dst" | tr -d ' ')" = '177ELF' ] || return 1
	local notes
	notes=$(LC_ALL=C readelf -n "$dst" 2>/dev/null) || return 1
	[[ $notes == *"(0x00000012)"* ]]
}

rm -f "$out/vmlinux.tmp"
if extract_vmlinux "$vmlinuz" "$out/vmlinux.tmp"; then
	have_vmlinux=yes
else
	log "warning: cannot extract a PVH-bootable vmlinux; guests will boot the slower vmlinuz"
	rm -f "$out/vmlinux.tmp" "$out/vmlinux"
	have_vmlinux=no
fi

# ---- memload ---------------------------------------------------------------

log "kernel $kver ($kpkg $kver_pkg); modules: ${load_order[*]:-none}"
gcc -static -O2 -Wall -Wextra -Werror -o "$out/memload" "$here/memload.c"

# ---- initramfs -------------------------------------------------------------

busybox=/bin/busybox
file_is_static() {
	local h
	h=$(LC_ALL=C readelf -l "$1" 2>/dev/null) || return 1
	[[ $h != *"program interpreter"* ]]
}
if [ ! -x "$busybox" ] || ! file_is_static "$busybox"; then
	die "$busybox is missing or not static (busybox-static)"
fi

stage=$out/initramfs.tmp
rm -rf "$stage"
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,lib/modules}
cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
done
ln -s bin "$stage/sbin"
cp "$out/memload" "$stage/bin/memload"
install -m 0755 "$here/init" "$stage/init"
for m in "${load_order[@]}"; do
	module_bytes "${modfile[$m]}" > "$stage/lib/modules/$m.ko"
	echo "$m"
done > "$stage/lib/modules/load-order"
# The kernel opens /dev/console for init before anything is mounted.
mknod -m 600 "$stage/dev/console" c 5 1

(cd "$stage" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet) | gzip -9n > "$out/initrd.img.tmp"
rm -rf "$stage"

cp "$vmlinuz" "$out/vmlinuz.tmp"
mv -f "$out/vmlinuz.tmp" "$out/vmlinuz"
[ "$have_vmlinux" = no ] || mv -f "$out/vmlinux.tmp" "$out/vmlinux"
mv -f "$out/initrd.img.tmp" "$out/initrd.img"
printf '%s\n' "${load_order[@]}" > "$out/modules.txt"
echo "$kver" > "$out/kernel.version"
echo "$stamp_want" > "$out/kernel.stamp"
built="vmlinuz, initrd.img ($(du -k "$out/initrd.img" | cut -f1) KiB)"
[ "$have_vmlinux" = no ] || built="$built, vmlinux"
log "built in $out: $built"

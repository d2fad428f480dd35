#!/usr/bin/env bash
# Build the test guest's initramfs for one kernel: busybox, the real kmod
# tools with their libraries, the test programs from build/tests (with the
# lib group's preload shim and the dynamic preload_test), the mshare
# module at its DKMS path with a depmod'ed module tree, and scripts/guest-init.sh
# as /init.
# Usage: build-guest.sh KVER [MODULE.ko]   (default: the DKMS-installed module)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kver=${1:?usage: build-guest.sh KVER [MODULE.ko]}
module=${2:-}
kr=$(kroot "$kver")	# the kernel's build root, or nothing
if [ -z "$module" ]; then
	module=$(ls "$kr"/lib/modules/"$kver"/updates/dkms/mshare.ko* 2>/dev/null | head -n 1 || true)
	[ -n "$module" ] || die "mshare is not DKMS-installed for $kver (scripts/dkms-install.sh)"
fi
[ -d "$build/tests" ] || die "test programs not built (make tests)"

out=$guests/$kver
root=$out/root
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,etc/modprobe.d,proc,sys,dev,tmp,tests,root} \
	"$root/lib/modules/$kver/updates/dkms"

# busybox for the shell and the usual commands ...
cp /bin/busybox "$root/bin/"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
done
# ... but the real kmod for everything about modules.
cp "$(command -v kmod)" "$root/sbin/kmod"
for t in modprobe insmod rmmod lsmod depmod modinfo; do
	rm -f "$root/bin/$t"
	ln -s kmod "$root/sbin/$t"
done

cp "$build"/tests/* "$top"/tests/*.sh "$top"/bench/*.sh "$root/tests/"
# stress-ng for the load group (its libraries follow below, as for kmod)
cp "$(command -v stress-ng)" "$root/tests/"

# Shared libraries of the dynamic binaries, at their host paths.
for f in "$root/sbin/kmod" "$root"/tests/*; do
	{ ldd "$f" 2>/dev/null || true; } | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
done | sort -u | while read -r lib; do
	cp -L --parents "$lib" "$root"
done

cp "$module" "$root/lib/modules/$kver/updates/dkms/"
# The test-only module of the notify group (tests/mncount: counts mmu
# notifier callbacks), built for this kernel; notify_test insmods it.
"$top/scripts/build-mncount.sh" "$kver"
cp "$build/mncount/$kver/mncount.ko" "$build/mncount/$kver/mndirect.ko" "$root/tests/"
# A block device (brd, a RAM disk) and a disk filesystem (ext4) for the
# O_DIRECT and file-object tests, and overlayfs for the security group's
# nesting attack, and zram for the fuzz group's swap, and 9p for the pg
# group's host userland (tests/pg-guest.sh), and vfat (the access group's
# stand-in for FUSE), and virtio_blk (make bench-pg's scratch disk), and
# fuse (the stall group's attacker; a module on 6.1, built in later), with
# their dependencies.
for m in brd ext4 overlay zram 9p 9pnet_virtio virtio_pci virtio_blk vfat \
	nls_cp437 nls_ascii nls_utf8 fuse; do
	modprobe -d "${kr:-/}" --show-depends -S "$kver" "$m" |
		awk '$1 == "insmod" {print $2}'
done | sort -u | while read -r ko; do
	ko=${ko#"$kr"}
	mkdir -p "$root$(dirname "$ko")"
	cp "$kr$ko" "$root$ko"
done
for f in modules.order modules.builtin modules.builtin.modinfo; do
	[ -f "$kr/lib/modules/$kver/$f" ] && cp "$kr/lib/modules/$kver/$f" "$root/lib/modules/$kver/"
done
depmod -b "$root" "$kver"

cp "$top/etc/modprobe.d/mshare.conf" "$root/etc/modprobe.d/"
install -m 0755 "$top/scripts/guest-init.sh" "$root/init"

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initrd.gz"
echo "guest: $out/initrd.gz ($(du -h "$out/initrd.gz" | cut -f1), module $(basename "$module"))"

# Shared helpers of the mshare scripts (sourced, not run).
# shellcheck shell=bash

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$top/build"
# Guest initramfs trees; MSHARE_GUEST_DIR keeps a developer's quick runs
# apart from a make check running at the same time.
guests=${MSHARE_GUEST_DIR:-$build/guest}

# Build roots: Debian releases newer than the machine's (trixie) whose
# kernels need their own compiler and libc to build modules.  Each is a
# debootstrap tree, cached outside the repository (scripts/build-root.sh);
# its kernels' images, headers and modules live inside it.
roots=/var/cache/mshare/roots

# The build root that holds kernel KVER, or nothing for the machine's own
kroot() {
	local r
	[ -d "/lib/modules/$1" ] && return 0
	for r in "$roots"/*; do
		[ -d "$r/lib/modules/$1" ] && { echo "$r"; return 0; }
	done
	return 0
}

# Run make for kernel KVER where its compiler is: in its build root (with
# the build directory mounted at /mshare-build, so that M= paths are the
# same build/ files), or here.  Usage: kmake KVER DIR [make args...]
kmake() {
	local kver=$1 dir=$2 r
	shift 2
	r=$(kroot "$kver")
	if [ -z "$r" ]; then
		make -s -C "/lib/modules/$kver/build" M="$dir" "$@"
		return
	fi
	root_mount "$r"
	chroot "$r" make -s -C "/lib/modules/$kver/build" \
		M="/mshare-build${dir#"$build"}" "$@"
}

# The mounts a build root needs: /proc, and build/ at /mshare-build.
root_mount() {
	mkdir -p "$1/mshare-build" "$build"
	mountpoint -q "$1/proc" || mount -t proc proc "$1/proc"
	mountpoint -q "$1/mshare-build" || mount --bind "$build" "$1/mshare-build"
}

mshare_version() {
	sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf"
}

# Installed kernels of a series, by glob, newest last: kernels_of 6.1
kernels_of() {
	local d
	for d in /lib/modules/"$1".*; do
		case "$d" in *-mshare-debug) continue ;; esac	# check-debug's
		[ -f "$d/build/Makefile" ] && [ -f "/boot/vmlinuz-${d##*/}" ] &&
			echo "${d##*/}"
	done | sort -V
}

# The newest 6.1 and 6.12 of this machine (bench and lint use these)
host_kernels() {
	local s k
	for s in 6.1 6.12; do
		k=$(kernels_of "$s" | tail -n 1)
		[ -n "$k" ] && echo "$k"
	done
	return 0
}

# Kernels of a series in the build roots (with image and headers), newest
# last: root_kernels_of 6.12
root_kernels_of() {
	local d r
	for d in "$roots"/*/lib/modules/"$1".*; do
		r=${d%/lib/modules/*}
		[ -f "$d/build/Makefile" ] && [ -f "$r/boot/vmlinuz-${d##*/}" ] &&
			echo "${d##*/}"
	done | sort -V
}

# The kernels the test matrix covers: the newest 6.1 (bookworm) and 6.12
# (bookworm-backports) of this machine, and the newest 6.12 of the trixie
# build root (Debian 13's kernel, built with its gcc-14).
matrix_kernels() {
	local k
	host_kernels
	k=$(root_kernels_of 6.12 | tail -n 1)
	[ -n "$k" ] && echo "$k"
	return 0
}

die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

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
# this checkout's build directory mounted inside it, so that M= paths are
# the same build/ files), or here.  Usage: kmake KVER DIR [make args...]
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
		M="$(root_build)${dir#"$build"}" "$@"
}

# Where this checkout's build/ appears inside a build root: one mount point
# per checkout (named by a hash of its path), so that two checkouts on one
# machine (a developer's and CI's) never build into each other's tree.
root_build() {
	echo "/mshare-build/$(printf %s "$build" | md5sum | cut -c1-12)"
}

# The mounts a build root needs: /proc, and build/ at $(root_build).  A
# mount point that holds another directory (a stale mount) is remounted.
root_mount() {
	local m
	m=$1$(root_build)
	# before 2026-12 one checkout's build/ was mounted at /mshare-build
	! mountpoint -q "$1/mshare-build" || umount "$1/mshare-build"
	mkdir -p "$m" "$build"
	mountpoint -q "$1/proc" || mount -t proc proc "$1/proc"
	if mountpoint -q "$m" &&
		[ "$(stat -c %d:%i "$m")" != "$(stat -c %d:%i "$build")" ]; then
		umount "$m"
	fi
	mountpoint -q "$m" || mount --bind "$build" "$m"
}

# Undo root_mount for every checkout (before a root is removed).
root_umount() {
	local m
	for m in "$1"/mshare-build/* "$1/mshare-build" "$1/proc"; do
		mountpoint -q "$m" 2>/dev/null && umount "$m"
	done
	return 0
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
# last: root_kernels_of 6.12.  The generic flavour only: a PREEMPT_RT or
# cloud kernel of the same version is not what the matrix tests.
root_kernels_of() {
	local d r
	for d in "$roots"/*/lib/modules/"$1".*; do
		case "$d" in *-rt-amd64 | *-cloud-amd64) continue ;; esac
		r=${d%/lib/modules/*}
		[ -f "$d/build/Makefile" ] && [ -f "$r/boot/vmlinuz-${d##*/}" ] &&
			echo "${d##*/}"
	done | sort -V
}

# The kernel series of the trixie build root that the matrix covers:
# Debian 13's own 6.12 and trixie-backports' 7.3 (the lines dkms.conf
# accepts besides 6.1).
root_series="6.12 7.3"

# The kernels make check boots: the matrix without bookworm-backports'
# 6.12 (scripts/check.sh says why).
check_kernels() {
	matrix_kernels | grep -v -e '^6\.12\..*+deb12-' || true
}

# The kernels the test matrix covers: the newest 6.1 (bookworm) and 6.12
# (bookworm-backports) of this machine, and the newest 6.12 and 7.3 of the
# trixie build root (built with its gcc-14).
matrix_kernels() {
	local k s
	host_kernels
	for s in $root_series; do
		k=$(root_kernels_of "$s" | tail -n 1)
		[ -n "$k" ] && echo "$k"
	done
	return 0
}

die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

# This machine's Debian archive and its signing key, printed as "URI KEY":
# the first non-security URIs: of its deb822 debian.sources, else the first
# non-security deb line of its sources.list.  Other suites
# (bookworm-backports, trixie) are reached through that archive; the
# repository names none itself.
apt_archive() {
	local src=/etc/apt/sources.list.d/debian.sources uri="" key=""
	if [ -f "$src" ]; then
		uri=$(awk '/^URIs:/ && !/security/ { print $2; exit }' "$src")
		key=$(awk '/^Signed-By:/ { print $2; exit }' "$src")
	fi
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(awk '$1 == "deb" && !/security/ {
			for (i = 2; i <= NF; i++)
				if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
	fi
	[ -n "$uri" ] || die "no Debian archive in this machine's apt sources ($src, /etc/apt/sources.list)"
	echo "$uri ${key:-/usr/share/keyrings/debian-archive-keyring.gpg}"
}

# Shared helpers of the mshare scripts (sourced, not run).
# shellcheck shell=bash

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$top/build"
# Guest initramfs trees; MSHARE_GUEST_DIR keeps a developer's quick runs
# apart from a make check running at the same time.
guests=${MSHARE_GUEST_DIR:-$build/guest}

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

# The kernels the test matrix covers: the newest 6.1 and the newest 6.12.
matrix_kernels() {
	local s k
	for s in 6.1 6.12; do
		k=$(kernels_of "$s" | tail -n 1)
		[ -n "$k" ] && echo "$k"
	done
}

die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

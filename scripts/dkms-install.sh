#!/usr/bin/env bash
# Register the working tree with DKMS and build + install it for the given
# kernels (default: the newest installed 6.1 and 6.12), exactly as a user's
# `make install` would for the running kernel.
# Usage: dkms-install.sh [KVER...]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v dkms >/dev/null || die "dkms is not installed (make setup)"
ver=$(mshare_version)
src=/usr/src/mshare-$ver
if [ $# -gt 0 ]; then
	kernels=("$@")
else
	mapfile -t kernels < <(matrix_kernels)
fi
[ ${#kernels[@]} -gt 0 ] || die "no kernel with headers installed"

# Register the current tree as mshare/VERSION in the DKMS of root R ("" for
# this machine), replacing any earlier registration of this version.
register() {
	local r=$1
	if [ -n "$(${r:+chroot "$r"} dkms status -m mshare -v "$ver" 2>/dev/null)" ]; then
		${r:+chroot "$r"} dkms remove "mshare/$ver" --all >/dev/null
	fi
	rm -rf "$r$src"
	mkdir -p "$r$src"
	(cd "$top" && find Kbuild Makefile dkms.conf src include probes -type f \
		\( -name '*.[ch]' -o -name Kbuild -o -name Makefile -o -name dkms.conf \) \
		-print0 | xargs -0 cp --parents -t "$r$src")
	${r:+chroot "$r"} dkms add "mshare/$ver" >/dev/null
}

mkdir -p "$build"
registered=" "
for k in "${kernels[@]}"; do
	# Kernels of a build root (trixie) build with its compiler, in its DKMS.
	r=$(kroot "$k")
	[ -z "$r" ] || root_mount "$r"
	case "$registered" in
	*" ${r:-host} "*) ;;
	*) register "$r"; registered="$registered${r:-host} " ;;
	esac
	if ! ${r:+chroot "$r"} dkms build "mshare/$ver" -k "$k" >"$build/dkms-$k.log" 2>&1 ||
		! ${r:+chroot "$r"} dkms install "mshare/$ver" -k "$k" --force >>"$build/dkms-$k.log" 2>&1; then
		cat "$build/dkms-$k.log" >&2
		find "$r"/var/lib/dkms/mshare/"$ver"/build -name make.log -exec cat {} + >&2 || true
		die "dkms failed for $k"
	fi
	echo "dkms: mshare/$ver installed for $k: $(ls "$r"/lib/modules/"$k"/updates/dkms/mshare.ko*)"
done

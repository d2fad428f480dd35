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

# Replace any earlier registration of this version by the current tree.
if [ -n "$(dkms status -m mshare -v "$ver" 2>/dev/null)" ]; then
	dkms remove "mshare/$ver" --all >/dev/null
fi
rm -rf "$src"
mkdir -p "$src"
(cd "$top" && find Kbuild Makefile dkms.conf src include -type f \
	\( -name '*.[ch]' -o -name Kbuild -o -name Makefile -o -name dkms.conf \) \
	-print0 | xargs -0 cp --parents -t "$src")

mkdir -p "$build"
dkms add "mshare/$ver" >/dev/null
for k in "${kernels[@]}"; do
	if ! dkms build "mshare/$ver" -k "$k" >"$build/dkms-$k.log" 2>&1 ||
		! dkms install "mshare/$ver" -k "$k" --force >>"$build/dkms-$k.log" 2>&1; then
		cat "$build/dkms-$k.log" >&2
		find /var/lib/dkms/mshare/"$ver"/build -name make.log -exec cat {} + >&2 || true
		die "dkms failed for $k"
	fi
	echo "dkms: mshare/$ver installed for $k: $(ls /lib/modules/"$k"/updates/dkms/mshare.ko*)"
done

#!/usr/bin/env bash
# Build mshare.ko for one kernel in build/kbuild/KVER (a copy of the sources,
# so builds for several kernels never share object files), in the kernel's
# build root if it has one (lib.sh: kmake).
# Usage: build-module.sh KVER [extra kbuild arguments, e.g. C=2]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kver=${1:?usage: build-module.sh KVER [make args]}
shift
kdir=$(kroot "$kver")/lib/modules/$kver/build
[ -f "$kdir/Makefile" ] || die "no headers for $kver in $kdir (make setup installs them)"

out=$build/kbuild/$kver
mkdir -p "$out"
# Copy only sources, keeping timestamps, so rebuilds stay incremental.
(cd "$top" && find Kbuild dkms.conf src include probes -type f \
	\( -name '*.[ch]' -o -name Kbuild -o -name dkms.conf \) -print0 |
	xargs -0 cp -p --parents -t "$out")
kmake "$kver" "$out" modules "$@"

#!/usr/bin/env bash
# Build the test-only module tests/mncount (mncount.ko, which counts mmu
# notifier callbacks for tests/notify_test.c) for one kernel in
# build/mncount/KVER, from a copy of its sources like build-module.sh.
# Usage: build-mncount.sh KVER [extra kbuild arguments]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kver=${1:?usage: build-mncount.sh KVER [make args]}
shift
kdir=$(kroot "$kver")/lib/modules/$kver/build
[ -f "$kdir/Makefile" ] || die "no headers for $kver in $kdir (make setup installs them)"

out=$build/mncount/$kver
mkdir -p "$out"
cp -p "$top"/tests/mncount/{Kbuild,mncount.c,mncount.h,mndirect.c} "$out/"
kmake "$kver" "$out" modules "$@"

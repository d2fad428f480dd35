#!/usr/bin/env bash
# make fuzz: the fuzz group alone, MSHARE_FUZZ seconds (default 600) in one
# boot (4-level paging, two NUMA nodes) of each kernel: the newest 6.1 and
# 6.12, then the debug kernel (scripts/build-debug-kernel.sh builds it once;
# later runs take it from the cache).  MSHARE_FUZZ_SEED replays a seed.
# Prints TAP and ends with "N passed, M failed", as make check does.
#
# The debug kernel's brd is built in: the RAM disk sizes go on the command
# line, where kmod also hands them to the Debian kernels' brd module.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

secs=${MSHARE_FUZZ:-600}
debug=$("$top/scripts/build-debug-kernel.sh")
MSHARE_KERNELS="$(matrix_kernels | tr '\n' ' ')$debug" \
MSHARE_GROUPS=fuzz MSHARE_BOOTS=no5lvl MSHARE_FIRST_BOOT_GROUPS= \
MSHARE_FUZZ=$secs MSHARE_KERNEL_ARGS="brd.rd_nr=2 brd.rd_size=65536" \
MSHARE_VM_TIMEOUT=$((secs + 900)) exec "$top/scripts/check.sh"

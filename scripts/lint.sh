#!/usr/bin/env bash
# Kernel-style lint of the module: checkpatch.pl (from Debian's
# linux-source-6.1 tarball) on every kernel source and header, then a sparse
# build (C=2) against every installed target kernel.  Exit 1 on any finding.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n 1 || true)
[ -n "$tarball" ] || die "linux-source-6.1 is not installed (make setup)"
command -v sparse >/dev/null || die "sparse is not installed (make setup)"

cp_dir=$build/checkpatch
if [ ! -x "$cp_dir/scripts/checkpatch.pl" ]; then
	mkdir -p "$cp_dir"
	src=$(basename "$tarball" | sed 's/\.tar\..*//')
	tar -C "$cp_dir" --strip-components=1 -xf "$tarball" \
		"$src/scripts/checkpatch.pl" "$src/scripts/spelling.txt" \
		"$src/scripts/const_structs.checkpatch"
fi

checkpatch() {
	(cd "$top" && "$cp_dir/scripts/checkpatch.pl" --no-tree --strict \
		--terse --show-types --quiet "$@")
}

fail=0
files=$(cd "$top" && ls src/*.[ch] include/uapi/linux/*.h probes/*.c)
echo "lint: checkpatch --strict on src/, include/ and probes/"
# shellcheck disable=SC2086
checkpatch -f $files || fail=1
# Kernel differences are feature probes (probes/, Kbuild), never versions.
if grep -n 'LINUX_VERSION_CODE\|KERNEL_VERSION(' "$top"/src/*.[ch]; then
	echo "lint: test a feature probe (probes/), not the kernel version"
	fail=1
fi

for k in $(host_kernels); do
	echo "lint: sparse against $k"
	out=$("$top/scripts/build-module.sh" "$k" C=2 2>&1 | grep -v 'Skipping BTF' || true)
	if echo "$out" | grep -qE 'warning|error'; then
		echo "$out"
		fail=1
	fi
done

[ "$fail" -eq 0 ] && echo "lint: clean"
exit "$fail"

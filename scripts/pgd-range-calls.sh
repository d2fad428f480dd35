#!/usr/bin/env bash
# Rule K (docs/host-change-redesign.md) would hook free_pgd_range() with
# ftrace.  The hook sees only calls that reach the function's own entry: a
# copy inlined into a caller, or a compiler clone (free_pgd_range.part.N,
# .isra.N, .constprop.N) that callers use instead, would bypass it.  Reading
# the sources cannot settle that; the distribution's binary can.  Debian
# ships each kernel's vmlinux with symbols in linux-image-<release>-dbg
# (about 1 GB): this downloads it (not installed), extracts vmlinux and
# prints the symbols named free_pgd_range* and every function that calls
# or jumps to free_pgd_range.
#
# Usage: scripts/pgd-range-calls.sh RELEASE [DIR]
#   RELEASE  e.g. 6.1.0-57-amd64 or 6.12.95+deb12-amd64
#   DIR      download and extraction directory (default
#            /var/cache/mshare/dbg-vmlinux); the package is removed after
#            extraction, vmlinux is kept for a second run.
set -euo pipefail

rel=${1:?usage: pgd-range-calls.sh RELEASE [DIR]}
dir=${2:-/var/cache/mshare/dbg-vmlinux}
vml="$dir/vmlinux-$rel"

mkdir -p "$dir"
if [ ! -f "$vml" ]; then
	(cd "$dir" && apt-get download "linux-image-$rel-dbg" >&2)
	deb=$(ls "$dir"/linux-image-"$rel"-dbg_*.deb)
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xO "./usr/lib/debug/boot/vmlinux-$rel" >"$vml.tmp"
	mv "$vml.tmp" "$vml"
	rm -f "$deb"
fi

echo "# $rel: symbols named free_pgd_range*"
nm "$vml" | grep -E ' free_pgd_range' || echo "(none)"
addr=$(nm "$vml" | awk '$3 == "free_pgd_range" { print $1 }')
[ -n "$addr" ] || { echo "# no out-of-line free_pgd_range"; exit 1; }
echo "# $rel: callers of free_pgd_range ($addr), with the number of calls"
objdump -d --no-show-raw-insn -j .text "$vml" |
	awk -v a="$addr" '
		/^[0-9a-f]+ <.*>:$/ { fn = $2 }
		$0 ~ ("(call|jmp) +" a " ") { n[fn]++ }
		END { for (f in n) printf "%d %s\n", n[f], f }' | sort -k2

#!/usr/bin/env bash
# Rule K (docs/host-change-redesign.md) would hook free_pgd_range() with
# ftrace.  The hook sees only calls that reach the function's own entry: a
# copy inlined into a caller, or a compiler clone (free_pgd_range.part.N,
# .isra.N, .constprop.N) that callers use instead, would bypass it.  Reading
# the sources cannot settle that; the distribution's binary can.  Debian
# ships each kernel's vmlinux with symbols in linux-image-<release>-dbg
# (about 1 GB): this downloads it (not installed), extracts vmlinux and
# prints the symbols named free_pgd_range* and, for each, every function
# that calls or jumps to it.  A kernel of a build root (trixie's, see
# scripts/build-root.sh) is downloaded by that root's apt.
#
# Usage: scripts/pgd-range-calls.sh RELEASE [DIR]
#   RELEASE  e.g. 6.1.0-57-amd64, 6.12.95+deb12-amd64, 7.3.4+deb13-amd64
#   DIR      download and extraction directory (default
#            /var/cache/mshare/dbg-vmlinux); the package is removed after
#            extraction, vmlinux is kept for a second run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rel=${1:?usage: pgd-range-calls.sh RELEASE [DIR]}
dir=${2:-/var/cache/mshare/dbg-vmlinux}
vml="$dir/vmlinux-$rel"

mkdir -p "$dir"
if [ ! -f "$vml" ]; then
	r=$(kroot "$rel")
	if [ -n "$r" ]; then
		chroot "$r" sh -c "cd /tmp && apt-get download linux-image-$rel-dbg" >&2
		mv "$r"/tmp/linux-image-"$rel"-dbg_*.deb "$dir"/
	else
		(cd "$dir" && apt-get download "linux-image-$rel-dbg" >&2)
	fi
	deb=$(ls "$dir"/linux-image-"$rel"-dbg_*.deb)
	# 6.x packages hold boot/vmlinux-RELEASE, 7.x lib/modules/RELEASE/vmlinux:
	# the package's md5sums list says which.
	path=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./md5sums |
		awk '$2 ~ /\/vmlinux(-.*)?$/ { print $2; exit }')
	[ -n "$path" ] || die "no vmlinux in $deb"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "./$path" >"$vml.tmp"
	[ -s "$vml.tmp" ] || die "extracting $path from $deb gave nothing"
	mv "$vml.tmp" "$vml"
	rm -f "$deb"
fi

echo "# $rel: symbols named free_pgd_range*"
syms=$(nm "$vml" | awk '$3 ~ /^free_pgd_range($|\.)/ { print $1, $3 }')
[ -n "$syms" ] || { echo "(none)"; exit 1; }
echo "$syms"
# A .cold part is the function's own slow path; it is harmless when only
# free_pgd_range itself jumps there.  A clone reached from anywhere else
# bypasses a hook on the entry.
echo "# $rel: every call or jump to those symbols: count, target, from"
objdump -d --no-show-raw-insn -j .text "$vml" |
	awk -v syms="$syms" '
		BEGIN {
			n = split(syms, f, "\n")
			for (i = 1; i <= n; i++) { split(f[i], p, " "); name[p[1]] = p[2] }
		}
		/^[0-9a-f]+ <.*>:$/ { fn = $2; next }
		$2 ~ /^(call|j[a-z]+)$/ && ($3 in name) { c[name[$3] " " fn]++ }
		END { for (k in c) printf "%d %s\n", c[k], k }' | sort -k2

#!/bin/sh
# The narrated part of `make demo`, run inside the guest by /init: one
# process fills a shared object, many processes attach it, and the page
# tables and faults of plain sharing and of mshare are compared.
# mshare_demo_n / mshare_demo_mb on the kernel command line change the
# number of processes and the object size.
mnt=/sys/fs/mshare
B=/tests/mshare_bench
n=${mshare_demo_n:-200}
mb=${mshare_demo_mb:-256}
say() { printf '\n# %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; sh -c "$*" 2>&1; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$2"; }

say "mshare demo on Linux $(uname -r) (QEMU guest, $(nproc) vCPUs, $(($(sed -n 's/MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024)) MiB)"
say "modprobe loaded the DKMS-built module; its modprobe.d line mounted msharefs:"
run "grep msharefs /proc/mounts"
say "A region is a file here. Its size is a multiple of 512 GiB, the span of one top-level page-table entry:"
run "cat $mnt/mshare_info"
say "A process creates a region, sizes it (ftruncate), places memory in it (ioctl MSHAREFS_CREATE_MAPPING) and fills it; any process may then mmap it."

say "1/2  Plain sharing: $n processes mmap one ${mb} MiB memfd (MAP_SHARED) and read all of it."
MSHARE_BENCH_SAY=1 $B pt plain "$mb" "$n" 1 >/tmp/plain.txt
say "2/2  mshare: the same ${mb} MiB placed in a region; $n processes mmap the region and read all of it."
MSHARE_BENCH_SAY=1 $B pt mshare "$mb" "$n" 1 >/tmp/mshare.txt

p=/tmp/plain.txt
m=/tmp/mshare.txt
if ! grep -q '^RESULT' $p || ! grep -q '^RESULT' $m; then
	echo "demo: a measurement failed" >&2
	cat $p $m >&2
	exit 1
fi
awk -v n="$n" -v mb="$mb" \
	-v ppt="$(field pt_kb_per_proc $p)" -v mpt="$(field pt_kb_per_proc $m)" \
	-v pown="$(field creator_pt_kb $p)" -v mown="$(field creator_pt_kb $m)" \
	-v pf="$(field faults_per_proc $p)" -v mf="$(field faults_per_proc $m)" \
	-v pt="$(field attach_touch_us $p)" -v mt="$(field attach_touch_us $m)" \
	-v pw="$(field wrong_pages $p)" -v mw="$(field wrong_pages $m)" '
BEGIN {
	ptot = pown + n * ppt; mtot = mown + n * mpt
	printf "\n# Side by side: %d processes sharing %d MiB\n\n", n, mb
	printf "  %-44s %16s %16s\n", "", "plain MAP_SHARED", "mshare"
	printf "  %-44s %13.1f kB %13.1f kB\n", "page tables added per process", ppt, mpt
	printf "  %-44s %12.1f MiB %12.1f MiB\n", "page tables in all (the filler'\''s included)", ptot / 1024, mtot / 1024
	printf "  %-44s %16.0f %16.0f\n", "page faults per process to read it all", pf, mf
	printf "  %-44s %13.1f ms %13.1f ms\n", "attach + read all, per process (emulated)", pt / 1000, mt / 1000
	printf "  %-44s %16d %16d\n", "pages read with the wrong data", pw, mw
	printf "\n# Headline: mshare used %.0fx less page-table memory (%.1f MiB instead of %.1f MiB)\n", ptot / (mtot > 0 ? mtot : 1), mtot / 1024, ptot / 1024
	printf "# and %.0fx fewer page faults per process (%.0f instead of %.0f).\n", pf / (mf > 0 ? mf : 1), mf, pf
	printf "# With mshare the page tables of the region exist once, in the module'\''s host mm;\n"
	printf "# a process links to them through one top-level entry.\n"
}'
[ "$(field wrong_pages $p)" = 0 ] && [ "$(field wrong_pages $m)" = 0 ]

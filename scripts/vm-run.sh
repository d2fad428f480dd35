#!/usr/bin/env bash
# Boot one kernel under QEMU TCG with the test initramfs, run test groups,
# and print their TAP lines labelled with the run, plus the harness's own
# verdicts: the guest finished, and its kernel log is clean.
# Numbering and the final count are left to scripts/tap-summary.awk.
#
# Usage: vm-run.sh KVER LABEL GROUPS [KERNEL-ARGS...]
#   GROUPS: comma-separated test groups (fs,kmod), or "shell" for an
#           interactive guest on this terminal.
# Environment: MSHARE_VM_MEM (default 2G), MSHARE_VM_TIMEOUT (s, default 600),
# MSHARE_VM_NUMA=1 (two NUMA nodes, one CPU and half the memory each: NUMA
# balancing and page migration between nodes for the fuzz group),
# MSHARE_VM_DISK (a raw image file the guest sees as /dev/vda),
# MSHARE_VM_ICOUNT=1 (one vCPU whose clock counts instructions: guest
# nanoseconds are instructions, for make bench-icount),
# MSHARE_VM_MEMDEBUG (the allocator-debugging arguments; see below).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kver=${1:?usage: vm-run.sh KVER LABEL GROUPS [KERNEL-ARGS...]}
label=${2:?}
groups=${3:?}
shift 3
initrd=$guests/$kver/initrd.gz
[ -f "$initrd" ] || die "no initramfs for $kver (scripts/build-guest.sh $kver)"

# secretmem.enable=1: memfd_secret() is off by default on 6.1 (the
# security group checks that such objects are refused)
# slub_debug and page_poison make the tests' use-after-frees loud; the
# instruction-counted benchmarks measure what users run, without them
# (page poisoning alone checks 4 KiB on every page allocation, and
# slub_debug's U saves a stack trace on every slab allocation and free).
# The debug kernel checks the same ground more strictly without them:
# KASAN at the very access to a freed or overrun object (with the
# allocation and free stacks), DEBUG_PAGEALLOC by unmapping every free
# page; together they cost its fuzz group 27% of its operations (52/s
# instead of 71/s on one seed).  MSHARE_VM_MEMDEBUG overrides the choice.
memdebug="slub_debug=FZPU page_poison=1"
if [ "${MSHARE_VM_ICOUNT:-0}" = 1 ]; then
	memdebug=""
fi
case "$kver" in *-mshare-debug) memdebug="" ;; esac
memdebug=${MSHARE_VM_MEMDEBUG-$memdebug}
append="console=ttyS0 panic=-1 $memdebug secretmem.enable=1 mshare_groups=$groups $*"
qemu=(qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2
	-m "${MSHARE_VM_MEM:-2G}" -nodefaults -display none -no-reboot
	-kernel "$(kroot "$kver")/boot/vmlinuz-$kver" -initrd "$initrd")
if [ "${MSHARE_VM_ICOUNT:-0}" = 1 ]; then
	# icount needs the single-threaded TCG; one vCPU, so that the clock
	# counts only the measured CPU's instructions
	[ "${MSHARE_VM_NUMA:-0}" != 1 ] || die "MSHARE_VM_ICOUNT and MSHARE_VM_NUMA exclude each other"
	qemu[2]=tcg,thread=single
	qemu[6]=1
	qemu+=(-icount shift=0,sleep=off)
fi
if [ "${MSHARE_VM_NUMA:-0}" = 1 ]; then
	mem=${MSHARE_VM_MEM:-2G}
	case "$mem" in
	*G) half=$((${mem%G} * 512))M ;;
	*M) half=$((${mem%M} / 2))M ;;
	*) die "MSHARE_VM_NUMA needs MSHARE_VM_MEM in M or G (got $mem)" ;;
	esac
	# one socket per node: a shared last-level cache across nodes is a
	# topology the kernel warns about
	qemu[6]=2,sockets=2
	qemu+=(-object "memory-backend-ram,id=m0,size=$half"
		-object "memory-backend-ram,id=m1,size=$half"
		-numa node,nodeid=0,cpus=0,memdev=m0
		-numa node,nodeid=1,cpus=1,memdev=m1)
fi

# The pg group runs the host's own userland (PostgreSQL) on the tested
# kernel: the host's root, read-only over virtio-9p (tests/pg-guest.sh).
case ",$groups," in
*,pg,*|*,bench-pg,*)
	qemu+=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap") ;;
esac
# MSHARE_VM_DISK=FILE: a scratch disk (raw image; the guest's /dev/vda)
if [ -n "${MSHARE_VM_DISK:-}" ]; then
	qemu+=(-drive "file=$MSHARE_VM_DISK,if=virtio,format=raw,cache=unsafe")
fi

if [ "$groups" = shell ]; then
	exec "${qemu[@]}" -append "$append" -serial mon:stdio
fi

out=$build/runs/$label
rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)
rc=0
timeout -k 10 "${MSHARE_VM_TIMEOUT:-600}" "${qemu[@]}" -append "$append" \
	-monitor none -serial "file:$out/console.log" -serial "file:$out/tap.log" \
	>"$out/qemu.log" 2>&1 || rc=$?
secs=$(($(date +%s) - start))
touch "$out/console.log" "$out/tap.log"
tr -d '\r' <"$out/tap.log" >"$out/tap.txt"
tr -d '\r' <"$out/console.log" >"$out/console.txt"
sed -n '/^### dmesg-begin$/,/^### dmesg-end$/p' "$out/tap.txt" >"$out/dmesg.txt"

# The tests' own lines, labelled; plans are dropped (the summary renumbers).
sed '/^### dmesg-begin$/,$d' "$out/tap.txt" | awk -v l="[$label]" '
	/^(not )?ok([ \t]|$)/ {
		st = ($1 == "ok") ? "ok" : "not ok"
		sub(/^(not )?ok[ \t]*[0-9]*[ \t]*-?[ \t]*/, "")
		print st " - " l " " $0
		next
	}
	/^1\.\.[0-9]+/ || /^###/ || /^[ \t]*$/ { next }
	/^#/ { print; next }
	{ print "# " $0 }'

if grep -q '^### done$' "$out/tap.txt"; then
	echo "ok - [$label] guest ran to the end (${secs}s)"
else
	echo "not ok - [$label] guest ran to the end (qemu exit $rc after ${secs}s; hang, panic or timeout)"
	tail -n 40 "$out/console.txt" | sed 's/^/#   console: /'
fi

# Anything the kernel says when it is unhappy fails the run.
bad='WARNING:|\bBUG\b|Oops|general protection|KFENCE|Bad rss-counter|Bad page|'
bad+='blocked for more than|Kernel panic|refcount_t:|UBSAN|soft lockup|'
bad+='hard LOCKUP|rcu: INFO|detected stall|Call Trace|corruption|'
bad+='Poison overwritten|Redzone|Object padding|still has objects|'
bad+='Unable to handle|stack-protector|double fault|invalid opcode|'
bad+='kernel stack overflow|leaked|Memory leak|'
# 7.x: work queued on a deprecated workqueue (system_wq) is logged once
bad+='enqueued on deprecated workqueue|'
# Page-table corruption (mm/pgtable-generic.c prints these without a stack
# trace) and the module's own alarms.
bad+='\bbad p(gd|4d|ud|md)\b|mshare: ALARM:'
if cat "$out/console.txt" "$out/dmesg.txt" | grep -E "$bad" >"$out/bad.txt"; then
	echo "not ok - [$label] guest kernel log clean"
	sort -u "$out/bad.txt" | head -n 20 | sed 's/^/#   log: /'
	grep -E -B2 -A25 "$bad" "$out/console.txt" | head -n 80 | sed 's/^/#   console: /'
else
	echo "ok - [$label] guest kernel log clean"
fi

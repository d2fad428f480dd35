#!/bin/sh
# The `make bench` sequence, run inside the guest by /init (group "bench").
# Prints RESULT lines (see mshare_bench.c); the host turns them into
# docs/benchmarks.md.  mshare_bench_reps (kernel command line) sets the
# repetitions, mshare_bench_max the largest N, mshare_bench_limit the cap
# of the "as many attachers as memory allows" runs (0: skip them),
# mshare_bench_limit_methods the methods of those runs (comma-separated,
# default plain,mshare).
fail=0
# One measurement: its RESULT lines pass through; a failed run, or one
# that saw wrong pages, fails the group at the end (after the rest ran).
B() {
	out=$(/tests/mshare_bench "$@") || fail=1
	echo "$out"
	case "$out" in *wrong_pages=[1-9]*) fail=1 ;; esac
}
reps=${mshare_bench_reps:-5}
max=${mshare_bench_max:-1000}
limit=${mshare_bench_limit:-3000}
limit_methods=$(echo "${mshare_bench_limit_methods:-plain,mshare}" | tr ',' ' ')
stamp() { echo "# $(cut -d' ' -f1 /proc/uptime) s: $*"; }

# 1 GiB hugetlb objects: 512 pages, one object alive at a time.
echo 600 > /proc/sys/vm/nr_hugepages
echo "# hugepages: $(grep HugePages_Total /proc/meminfo)"
echo "# memory: $(grep MemTotal /proc/meminfo)"

for size in 64 1024; do
	for n in 1 10 100 1000; do
		[ "$n" -le "$max" ] || continue
		stamp "pt, $size MiB, N=$n"
		# plain sharing of 1 GiB by 1000 processes: ~16 M faults under
		# emulation; the limit runs below show how far plain goes.
		for m in mshare hugetlb plain; do
			if [ "$m" = plain ] && [ "$size" -ge 1024 ] && [ "$n" -ge 1000 ]; then
				continue
			fi
			B pt "$m" "$size" "$n" "$reps"
		done
	done
done
stamp "first touch"
for m in plain mshare; do
	B touch "$m" 64 "$reps"
done
stamp "replace"
for n in 1 10 100; do
	[ "$n" -le "$max" ] && B replace "$n" "$reps"
done
# Loaded and not loaded alternate, so that drift of the emulator's speed
# during the run weighs on both sides alike; the report takes medians.
stamp "micro"
i=0
while [ "$i" -lt "$reps" ]; do
	B micro 1 >/tmp/micro	# not in a pipe: B must set fail here
	sed 's/^RESULT micro/RESULT micro module=loaded/' /tmp/micro
	/sbin/modprobe -r mshare
	B micro 1 >/tmp/micro
	sed 's/^RESULT micro/RESULT micro module=unloaded/' /tmp/micro
	/sbin/modprobe mshare
	i=$((i + 1))
done
# Where plain sharing runs out: attach 1 GiB sharers until less than
# 256 MiB is available (no OOM killer: the count stays exact).
echo 0 > /proc/sys/vm/nr_hugepages
if [ "$limit" -gt 0 ]; then
	for m in $limit_methods; do
		stamp "limit $m"
		B limit "$m" 1024 "$limit" 256
	done
fi
stamp "done"
if [ "$fail" != 0 ]; then
	echo "# bench: a measurement failed or saw wrong pages (see above)"
	exit 1
fi

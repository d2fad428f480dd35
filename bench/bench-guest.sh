#!/bin/sh
# The `make bench` sequence, run inside the guest by /init (group "bench").
# Prints RESULT lines (see mshare_bench.c); the host turns them into
# docs/benchmarks.md.  mshare_bench_reps (kernel command line) sets the
# repetitions, mshare_bench_max the largest N.
B=/tests/mshare_bench
reps=${mshare_bench_reps:-5}
max=${mshare_bench_max:-1000}
echo 1200 > /proc/sys/vm/nr_hugepages
echo "# hugepages: $(grep HugePages_Total /proc/meminfo)"
echo "# memory: $(grep MemTotal /proc/meminfo)"

for size in 64 1024; do
	for n in 1 10 100 1000; do
		[ "$n" -le "$max" ] || continue
		# plain sharing of 1 GiB by 1000 processes: ~16 M faults under
		# emulation; the limit run below shows where it stands.
		for m in mshare hugetlb plain; do
			if [ "$m" = plain ] && [ "$size" -ge 1024 ] && [ "$n" -ge 1000 ]; then
				continue
			fi
			$B pt "$m" "$size" "$n" "$reps"
		done
	done
done
for m in plain mshare; do
	$B touch "$m" 64 "$reps"
done
for n in 1 10 100; do
	$B replace "$n" "$reps"
done
echo "# micro: module loaded"
$B micro "$reps" | sed 's/^RESULT micro/RESULT micro module=loaded/'
/sbin/modprobe -r mshare
echo "# micro: module not loaded"
$B micro "$reps" | sed 's/^RESULT micro/RESULT micro module=unloaded/'
/sbin/modprobe mshare

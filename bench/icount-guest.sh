#!/bin/sh
# The `make bench-icount` sequence, run inside an instruction-counted guest
# by /init (group "bench-icount").  Prints the RESULT lines of
# icount_bench (bench/icount_bench.c); the host writes
# docs/benchmarks-icount.md from them.  Kernel command line:
# mshare_icount_reps (repetitions per figure, default 15),
# mshare_icount_rounds (unloaded/loaded alternations, default 3),
# mshare_icount_max (the largest number of attachers, default 10000).
reps=${mshare_icount_reps:-15}
rounds=${mshare_icount_rounds:-3}
max=${mshare_icount_max:-10000}
fail=0
B() { # B LABEL ARGS...: one measurement, its RESULT lines labelled
	label=$1
	shift
	/tests/icount_bench "$@" >/tmp/icount || fail=1
	sed "s/^RESULT icount /RESULT icount $label /" /tmp/icount
}
stamp() { echo "# $(cut -d' ' -f1 /proc/uptime) s: $*"; }
echo "# memory: $(grep MemTotal /proc/meminfo)"
# 10,000 attachers are 20,000 tasks with their shells' children: room
echo 65536 > /proc/sys/kernel/pid_max
echo 200000 > /proc/sys/kernel/threads-max

# Not loaded and loaded alternate in one boot, the unloaded run first.
i=0
while [ "$i" -lt "$rounds" ]; do
	stamp "unrelated, round $i"
	/sbin/modprobe -r mshare || fail=1
	B module=unloaded unrelated "$reps"
	/sbin/modprobe mshare || fail=1
	B module=loaded unrelated "$reps"
	i=$((i + 1))
done
stamp "mshare fault, attach"
B module=loaded fault "$reps"
B module=loaded attach "$reps"
for n in 1 10 100 1000 10000; do
	[ "$n" -le "$max" ] || continue
	stamp "host change, $n attachers"
	B module=loaded change "$n" "$reps"
done
stamp "done"
if [ "$fail" != 0 ]; then
	echo "# bench-icount: a measurement failed (see above)"
	exit 1
fi

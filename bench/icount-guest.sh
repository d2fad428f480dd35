#!/bin/sh
# The `make bench-icount` sequence, run inside an instruction-counted guest
# by /init (group "bench-icount").  Prints the RESULT lines of
# icount_bench (bench/icount_bench.c); the host writes
# docs/benchmarks-icount.md from them.  Kernel command line:
# mshare_icount_reps (repetitions per figure, default 15),
# mshare_icount_rounds (unloaded/loaded alternations, default 3),
# mshare_icount_max (the largest number of attachers, default 10000),
# mshare_icount_profile (the attachers of the host-change profile, default
# 1000; 0 skips it).
reps=${mshare_icount_reps:-15}
rounds=${mshare_icount_rounds:-3}
max=${mshare_icount_max:-10000}
profile=${mshare_icount_profile:-1000}
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

# Where a host change's instructions go: the function graph tracer times
# one function at a time (alone in the filter, so no traced callee adds
# the tracer's own cost to it) over the timed changes only, with 1
# attacher and with $profile.  Each function's time includes its callees;
# mshare_host_to_attach, a few instructions, shows what the tracer adds to
# each call.  Prints RESULT profile fn=F n=N changes=C calls=K ns=T (T:
# instruction-ns in F over all C changes).
PROFILE_FNS="mshare_host_op_exec mshare_host_change_begin_fast
mshare_host_change_begin mshare_attach_unlink
mshare_flush_mm down_write_killable mtree_load queue_delayed_work_on
cancel_delayed_work_sync mshare_host_forward
mshare_flush_attachers mshare_host_to_attach vm_munmap vm_mmap_pgoff"
T=/sys/kernel/tracing
preps=5
if [ "$profile" -gt 0 ] && [ "$profile" -le "$max" ]; then
	grep -qs " $T tracefs " /proc/mounts || mount -t tracefs nodev "$T"
	echo 0 > $T/tracing_on
	echo 16384 > $T/buffer_size_kb
	# a call split by a sleep ends in "} /* F */", not a bare "}"
	echo 1 > $T/options/funcgraph-tail
	for n in 1 "$profile"; do
		stamp "profile, $n attachers"
		for fn in $PROFILE_FNS; do
			if ! echo "$fn" > $T/set_ftrace_filter 2>/dev/null; then
				echo "# profile: $fn cannot be traced here"
				continue
			fi
			echo function_graph > $T/current_tracer
			echo > $T/trace
			MSHARE_ICOUNT_TRACE=1 /tests/icount_bench change "$n" \
				"$preps" >/dev/null || fail=1
			awk -v fn="$fn" -v n="$n" -v c="$preps" '
				# a module function reads "F [mshare]()"
				index($0, " " fn "();") ||
				index($0, " " fn " [mshare]();") ||
				index($0, "/* " fn " */") ||
				index($0, "/* " fn " [mshare] */") {
					if (match($0, /[0-9]+\.[0-9]+ us/)) {
						ns += substr($0, RSTART, RLENGTH - 3) * 1000
						k++
					}
				}
				END { printf "RESULT profile fn=%s n=%d changes=%d calls=%d ns=%.0f\n", fn, n, c, k, ns }
			' $T/trace
			grep -q 'LOST\|overrun' $T/trace && echo "# profile: $fn: events lost"
			echo nop > $T/current_tracer
		done
		echo > $T/set_ftrace_filter
	done
	echo 0 > $T/options/funcgraph-tail
fi
stamp "done"
if [ "$fail" != 0 ]; then
	echo "# bench-icount: a measurement failed (see above)"
	exit 1
fi

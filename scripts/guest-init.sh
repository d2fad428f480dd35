#!/bin/sh
# /init of the mshare test guest (busybox + real kmod).
#
# The kernel log goes to the console (ttyS0); TAP lines, diagnostics and a
# final dmesg dump go to the second serial port (ttyS1), which the host
# reads.  Settings come from the kernel command line, which the kernel hands
# to init as environment variables:
#   mshare_groups=fs,kmod   test groups to run (or "shell" for a prompt)
#   mshare_cycles=N         load/unload cycles of the kmod group
#   mshare_fuzz=SECONDS     length of the fuzz group (mshare_fuzz_seed=N
#                           replays a seed, mshare_fuzz_workers=N)
export PATH=/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm

groups=${mshare_groups:-fs,kmod}
cycles=${mshare_cycles:-200}
mnt=/sys/fs/mshare

finish() {
	echo "### dmesg-begin" >&3
	dmesg >&3
	echo "### dmesg-end" >&3
	echo "### done" >&3
	sync
	poweroff -f
}

tap() { # tap STATUS DESCRIPTION: one TAP line from init itself
	if [ "$1" -eq 0 ]; then echo "ok - $2" >&3; else echo "not ok - $2" >&3; fi
}

mounted() { grep -qs " $mnt msharefs " /proc/mounts; }

if [ "$groups" = shell ]; then
	exec 3>/dev/null
	echo "mshare guest $(uname -r): '/sbin/modprobe mshare' (kmod) loads and mounts; 'poweroff -f' quits"
	setsid cttyhack sh
	poweroff -f
fi

exec 3>/dev/ttyS1
echo "### start $(uname -r) groups=$groups cmdline: $(cat /proc/cmdline)" >&3

# Load exactly as a user would: kmod's modprobe, the DKMS-installed module,
# the modprobe.d install line that mounts msharefs.
/sbin/modprobe mshare
tap $? "modprobe mshare loads the module"
path=$(/sbin/modinfo -n mshare 2>/dev/null)
case "$path" in
*/lib/modules/$(uname -r)/updates/dkms/mshare.ko*) tap 0 "modprobe found the DKMS-installed module ($path)" ;;
*) tap 1 "modprobe found the DKMS-installed module (got '$path')" ;;
esac
mounted
tap $? "modprobe.d install line mounted msharefs on $mnt"
mounted || { finish; exit; }

# Each group's time goes to the log: make check's budget is planned by it.
uptime_s() { cut -d. -f1 /proc/uptime; }
for g in $(echo "$groups" | tr ',' ' '); do
	echo "# group $g" >&3
	t0=$(uptime_s)
	case "$g" in
	fs)	/tests/msharefs_test "$mnt" >&3 2>&1 ;;
	kmod)	# mncount.ko, the test module, is the control: what any module
		# load and unload costs the kernel is not counted against mshare
		/tests/kmod_cycle -n "$cycles" -d "$mnt" -c /tests/mncount.ko >&3 2>&1 ;;
	demo)	sh /tests/demo-guest.sh >&3 2>&1 ;;
	bench)	sh /tests/bench-guest.sh >&3 2>&1 ;;
	bench-icount) # make bench-icount (an instruction-counted guest)
		sh /tests/icount-guest.sh >&3 2>&1 ;;
	share)	/tests/share_test "$mnt" >&3 2>&1 ;;
	gup)	/tests/gup_test "$mnt" >&3 2>&1 ;;
	stress)	/tests/stress_test "$mnt" "${mshare_stress:-60}" >&3 2>&1 ;;
	unload)	/tests/unload_test "$mnt" >&3 2>&1 ;;
	security) /tests/security_test "$mnt" >&3 2>&1 ;;
	sync)	/tests/sync_test "$mnt" >&3 2>&1 ;;
	placement) /tests/placement_test "$mnt" >&3 2>&1 ;;
	churn)	/tests/churn_test "$mnt" >&3 2>&1 ;;
	tables)	/tests/tables_test "$mnt" >&3 2>&1 ;;
	hwpoison) # poisons a huge page for good: make check runs it last
		/tests/hwpoison_test "$mnt" >&3 2>&1 ;;
	access)	/tests/access_test "$mnt" >&3 2>&1 ;;
	stall)	# an attacher's own stalled mmap lock (FUSE, uid 65534)
		/tests/stall_test "$mnt" >&3 2>&1 ;;
	lib)	# libmshare, and the preload shim with preload_test
		/tests/lib_test "$mnt" >&3 2>&1 ;;
	pg)	# PostgreSQL from the host's userland (over 9p), pool in mshare
		sh /tests/pg-guest.sh "${mshare_pg:-both}" >&3 2>&1 ;;
	bench-pg) # make bench-pg (scripts/bench-pg.sh); settings as PGB_*
		sh /tests/pg-guest.sh bench >&3 2>&1 ;;
	load)	# share and 30 s of stress while stress-ng loads the guest
		# with its vm, mmap, madvise, fork and page-fault stressors, as
		# uid 65534: as root its madvise stressor injects memory
		# failures (MADV_HWPOISON), which the log rule rightly fails;
		# at nice 19, as khugepaged: at nice 0 its five CPU hogs starved
		# khugepaged preempted inside an RCU read section for 21 s on
		# 7.3 (PREEMPT_LAZY, no RCU boosting) on a loaded host, an RCU
		# stall report that says nothing about mshare
		mkdir -p /tmp/sng && chmod 1777 /tmp/sng
		sh -c 'renice -n 19 -p $$ >/dev/null && exec "$@"' sng \
			/tests/asuser 65534 /tests/stress-ng --temp-path /tmp/sng --vm 1 \
			--vm-bytes 96M --mmap 1 --mmap-bytes 48M --madvise 1 \
			--fork 1 --fault 1 --timeout 600s --metrics-brief \
			>/tmp/stress-ng.log 2>&1 &
		sng=$!
		mshare_load=1 /tests/share_test "$mnt" >&3 2>&1
		r1=$?
		/tests/stress_test "$mnt" 30 >&3 2>&1
		r2=$?
		kill -INT "$sng" 2>/dev/null
		wait "$sng"
		r3=$?
		sed 's/^/# /' /tmp/stress-ng.log >&3
		echo "# load: share $r1, stress $r2, stress-ng $r3" >&3
		[ "$r1" = 0 ] && [ "$r2" = 0 ] && [ "$r3" = 0 ] ;;
	notify)	/tests/notify_test "$mnt" >&3 2>&1 ;;
	kept)	/tests/kept_test "$mnt" >&3 2>&1 ;;
	tracers) # the hook beside the function tracers and kprobes
		sh /tests/tracers.sh "$mnt" "${mshare_tracers:-gup_test}" \
			"${mshare_tracers_cycles:-0}" >&3 2>&1 ;;
	refusal) # the GUP-fast entry differs by kernel: kallsyms says which
		gf=gup_fast_fallback
		grep -q ' internal_get_user_pages_fast$' /proc/kallsyms &&
			gf=internal_get_user_pages_fast
		sh /tests/refusal-guest.sh "$gf" >&3 2>&1 ;;
	fuzz)	# mshare_fuzz=SECONDS (default 60), mshare_fuzz_seed=N to replay
		/tests/fuzz_test "$mnt" "${mshare_fuzz:-60}" >&3 2>&1 ;;
	*)	# any other test program, by name (developers' scratch tests)
		if [ -x "/tests/$g" ]; then
			"/tests/$g" "$mnt" >&3 2>&1
		else
			echo "# unknown group $g" >&3
			false
		fi ;;
	esac
	tap $? "group $g: test program exited with status 0"
	echo "# group $g took $(($(uptime_s) - t0)) s" >&3
done

# Unload exactly as a user would: the modprobe.d remove line unmounts first.
# The last group's regions may still be on their way out (deferred file
# release, RCU): a few retries, counted, before removal counts as failed.
tries=0
until /sbin/modprobe -r mshare 2>/tmp/rmmod.err; do
	tries=$((tries + 1))
	[ "$tries" -lt 20 ] || break
	sleep 0.5
done
[ "$tries" -eq 0 ] || { echo "# modprobe -r needed $tries retries: $(cat /tmp/rmmod.err)" >&3; cat /sys/module/mshare/refcnt 2>/dev/null | sed 's/^/# refcnt /' >&3; }
[ "$tries" -lt 20 ]
tap $? "modprobe -r mshare unmounts and unloads"
[ ! -e /sys/module/mshare ] && [ ! -e "$mnt" ]
tap $? "after unload neither /sys/module/mshare nor $mnt exists"
finish

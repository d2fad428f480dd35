#!/bin/sh
# refusal group: on a kernel that lacks one of mshare's hook points the
# module must refuse to load with a one-line reason in dmesg, leave nothing
# behind (no module, no mount), and never oops.  A missing function is
# simulated with the test-only parameter test_missing=NAME, for a function
# of each kind mshare looks up: the GUP-fast entry, a generic walker
# callback, the notifier-registration hook, and a call gate.  Then a plain
# modprobe must work again.  Prints TAP; exit status 0 if every check passed.
mnt=/sys/fs/mshare
n=0
bad=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); bad=$((bad + 1)); echo "not ok $n - $1"; }

/sbin/modprobe -r mshare || { notok "modprobe -r mshare before the refusals"; }
for f in "$1" madvise_cold_or_pageout_pte_range mm_take_all_locks mm_alloc; do
	[ -n "$f" ] || continue
	before=$(dmesg | wc -l)
	if /sbin/modprobe mshare test_missing="$f" 2>/tmp/refusal.err; then
		notok "modprobe mshare refuses to load without $f (it loaded)"
		/sbin/modprobe -r mshare
		continue
	fi
	new=$(dmesg | tail -n +"$((before + 1))" | grep 'mshare' || true)
	lines=$(printf '%s\n' "$new" | grep -c . || true)
	echo "# without $f: modprobe said: $(head -n 1 /tmp/refusal.err)"
	printf '%s\n' "$new" | sed 's/^/# dmesg: /'
	if [ "$lines" -eq 1 ] && printf '%s\n' "$new" | grep -q "$f"; then
		ok "without $f: modprobe fails, and dmesg says why in one line"
	else
		notok "without $f: one dmesg line naming $f (got $lines lines)"
	fi
	if [ ! -e /sys/module/mshare ] && ! grep -qs " $mnt msharefs " /proc/mounts; then
		ok "without $f: nothing is left loaded or mounted"
	else
		notok "without $f: nothing is left loaded or mounted"
	fi
done
/sbin/modprobe mshare && grep -qs " $mnt msharefs " /proc/mounts
if [ $? -eq 0 ]; then ok "a plain modprobe mshare loads and mounts again"; else notok "a plain modprobe mshare loads and mounts again"; fi

# A module's function with a kernel function's name is never taken for it:
# the test module has a decoy named gup_fast_fallback (the 6.8+ GUP-fast
# entry; on 6.1 the kernel has no function of that name, only the module).
/sbin/modprobe -r mshare && insmod /tests/mncount.ko && /sbin/modprobe mshare
if [ $? -eq 0 ]; then ok "mshare loads after a module with a decoy gup_fast_fallback"; else notok "mshare loads after a module with a decoy gup_fast_fallback"; fi
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
hooked=$(cat /sys/kernel/tracing/enabled_functions)
echo "$hooked" | sed 's/^/# hooked: /'
# Only the first field names the hooked function: a trampoline may be
# symbolized into mncount's freed init text ("tramp: mnc_init+0x0 [mncount]").
if echo "$hooked" | grep -q "^$1 " &&
	! echo "$hooked" | grep -q "^gup_fast_fallback \[mncount\]"; then
	ok "the kernel's $1 is hooked, the module's decoy is not"
else
	notok "the kernel's $1 is hooked, the module's decoy is not"
fi
rmmod mncount
echo "1..$n"
[ "$bad" -eq 0 ]

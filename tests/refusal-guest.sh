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
grep -qs " /sys/kernel/tracing tracefs " /proc/mounts ||
	mount -t tracefs nodev /sys/kernel/tracing
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

# handle_mm_fault's one direct-call slot (livepatch and BPF trampolines
# need it too; the test module mndirect stands in for them): whoever comes
# second is refused, and a refused mshare leaves nothing hooked.
T=/sys/kernel/tracing
if insmod /tests/mndirect.ko 2>/tmp/refusal.err; then
	notok "another direct call on handle_mm_fault is refused beside mshare (it loaded)"
	rmmod mndirect
else
	echo "# insmod mndirect beside mshare: $(head -n 1 /tmp/refusal.err)"
	ok "another direct call on handle_mm_fault is refused beside mshare"
fi
if /sbin/modprobe -r mshare && insmod /tests/mndirect.ko; then
	ok "the direct call loads once mshare is gone"
	before=$(dmesg | wc -l)
	if /sbin/modprobe mshare 2>/tmp/refusal.err; then
		notok "modprobe mshare refuses to load beside another direct call on handle_mm_fault (it loaded)"
		/sbin/modprobe -r mshare
	else
		new=$(dmesg | tail -n +"$((before + 1))" | grep 'mshare' || true)
		lines=$(printf '%s\n' "$new" | grep -c . || true)
		printf '%s\n' "$new" | sed 's/^/# dmesg: /'
		if [ "$lines" -eq 1 ] && printf '%s\n' "$new" | grep -q 'handle_mm_fault hook: -16'; then
			ok "beside another direct call: modprobe mshare fails (EBUSY), and dmesg says why in one line"
		else
			notok "beside another direct call: one dmesg line naming the handle_mm_fault hook and -16 (got $lines lines)"
		fi
	fi
	if [ ! -e /sys/module/mshare ] && ! grep -qs " $mnt msharefs " /proc/mounts &&
		! grep -q '\[mshare\]' "$T/enabled_functions"; then
		ok "beside another direct call: nothing is left loaded, mounted or hooked"
	else
		grep '\[mshare\]' "$T/enabled_functions" | sed 's/^/# left: /'
		notok "beside another direct call: nothing is left loaded, mounted or hooked"
	fi
	rmmod mndirect
else
	notok "the direct call loads once mshare is gone"
fi
/sbin/modprobe mshare && grep -qs " $mnt msharefs " /proc/mounts
if [ $? -eq 0 ]; then ok "modprobe mshare loads again once the other direct call is gone"; else notok "modprobe mshare loads again once the other direct call is gone"; fi
echo "1..$n"
[ "$bad" -eq 0 ]

#!/usr/bin/env bash
# The whole test matrix: DKMS-install the working tree for the newest 6.1 of
# this machine (bookworm) and the newest 6.12 and 7.3 of the trixie build
# root (Debian 13 and trixie-backports, built with gcc-14), build a guest
# for each, and boot:
#   6.1:  5-level paging (the default under -cpu max) and no5lvl pti=on
#   6.12: no5lvl (MSHARE_ROOT_BOOTS): 4-level paging without PTI, the one
#         mode the other lines' boots leave out; Debian 13's kernel
#   7.3:  5-level and no5lvl pti=on (MSHARE_NEW_BOOTS): a line of its own
# bookworm-backports' 6.12 (this machine's, gcc-12) is left out: trixie's
# 6.12 is the same line, newer, and is what Debian 13 users run; it stays
# the kernel of make test, bench and lint (MSHARE_KERNELS adds it back).
# Five boots put every paging mode on at least one line, PTI and 5-level
# on both the oldest and the newest, and keep a fresh machine's .ci/run
# near an hour (with six, 6.1 no5lvl without PTI included, CI took 76 min).
# Prints TAP and ends with "N passed, M failed"; exit status 1 on failure.
#
# The first boot of each kernel also runs the 60 s stress group, the
# load group (share and stress beside stress-ng) and the stall group (two
# 30 s waits: once per kernel is enough), the last boot of the first
# kernel runs the pg group (PostgreSQL, about 3 minutes) and the tracers
# group (the hook beside the function tracers and kprobes, about 3 minutes;
# 6.1 is the kernel whose ftrace_regs has no accessors), apart from the
# first boot's extra groups, so that no boot gets too long; and each
# kmod group cycles the module 200 times (the leak check: its limits come
# from its own noise; at 100 cycles one transient 256 kB step of other
# pages hid a page per cycle on 7.3, and the run failed as blind).  Cycles
# are slow under the emulator (7.3, 5-level: 0.24 s for the control
# module's, 0.92 s for mshare's): 1000 cycles in each first boot were
# 1165 s of a 1571 s boot, and pushed CI past its 90 minutes.
#
# A boot may take up to MSHARE_VM_TIMEOUT seconds (default here 1800: a
# first boot, with stress, load, stall and 200 kmod cycles, takes about
# 10 minutes on an idle 2-core machine, and more than 20 on a loaded one).
# Each group's time is in the log ("# group G took N s").
#
# Every boot has two NUMA nodes (MSHARE_VM_NUMA=1) and runs the fuzz group
# for MSHARE_FUZZ seconds (default 60; MSHARE_FUZZ_SEED replays a seed).
#
# Environment: MSHARE_KERNELS (space-separated kernel releases, default: the
# matrix), MSHARE_BOOTS (names from the table below; MSHARE_ROOT_BOOTS
# and MSHARE_NEW_BOOTS for trixie's 6.12 and for 7.3), MSHARE_GROUPS
# (default: every group), MSHARE_CYCLES (the kmod group's cycles, default 200),
# MSHARE_KERNEL_ARGS (added to every boot's command line).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

declare -A boot_args=(
	[5level]=""
	[no5lvl]="no5lvl"
	[no5lvl-pti]="no5lvl pti=on"
)
boots=${MSHARE_BOOTS:-5level no5lvl-pti}
root_boots=${MSHARE_ROOT_BOOTS:-${MSHARE_BOOTS:-no5lvl}}
once=${MSHARE_ONCE_GROUPS-,pg,tracers}	# the first kernel's last boot only
new_boots=${MSHARE_NEW_BOOTS:-${MSHARE_BOOTS:-5level no5lvl-pti}}
groups=${MSHARE_GROUPS:-fs,kmod,share,gup,unload,security,notify,sync,placement,churn,tables,access,lib,refusal,fuzz,hwpoison,kept}
fuzz="mshare_fuzz=${MSHARE_FUZZ:-60}"
[ -z "${MSHARE_FUZZ_SEED:-}" ] || fuzz="$fuzz mshare_fuzz_seed=$MSHARE_FUZZ_SEED"
export MSHARE_VM_NUMA=${MSHARE_VM_NUMA:-1}
kernels=${MSHARE_KERNELS:-$(check_kernels | tr '\n' ' ')}
[ -n "$kernels" ] || die "no kernels installed (make setup)"

# Without MSHARE_KERNELS the matrix is every series: a missing one fails the
# run instead of quietly shrinking it.
missing=
if [ -z "${MSHARE_KERNELS:-}" ]; then
	[ -n "$(kernels_of 6.1)" ] || missing="$missing 6.1"
	for s in $root_series; do
		[ -n "$(root_kernels_of "$s")" ] || missing="$missing trixie-$s"
	done
fi

# DKMS refuses a kernel outside the supported lines or configurations
# (dkms.conf BUILD_EXCLUSIVE_*) in one message, with exit status 77, before
# compiling: a version it does not know, and the PREEMPT_RT flavour of the
# newest line (headers in the trixie build root; no transparent huge pages).
dkms_refusal() { # dkms_refusal KVER ROOT WHAT
	local k=$1 r=$2 out rc=0
	out=$(${r:+chroot "$r"} dkms build "mshare/$(mshare_version)" -k "$k" 2>&1) || rc=$?
	if [ "$rc" -eq 77 ] && grep -q 'BUILD_EXCLUSIVE' <<<"$out"; then
		echo "ok - harness: dkms build for $k ($3) stops before compiling, exit 77"
	else
		echo "not ok - harness: dkms build for $k ($3) stops before compiling, exit 77 (got $rc)"
		sed 's/^/#   /' <<<"$out"
	fi
}

dkms_refusals() {
	local r rt
	# in the DKMS the first kernel under test was installed with
	# shellcheck disable=SC2086
	r=$(kroot $(echo $kernels | cut -d' ' -f1))
	dkms_refusal 5.10.0-99-amd64 "$r" "not a supported line"
	[ -n "${MSHARE_KERNELS:-}" ] && return
	rt=$(ls -d "$roots"/trixie/usr/src/linux-headers-*-rt-amd64 2>/dev/null |
		sort -V | tail -n 1)
	if [ -z "$rt" ]; then
		echo "not ok - harness: the build root has PREEMPT_RT headers (make setup)"
		return
	fi
	dkms_refusal "${rt##*/linux-headers-}" "$roots/trixie" "PREEMPT_RT flavour"
}

# last_group G LIST: the comma-separated LIST with G moved to its end
last_group() {
	local out= x IFS=,
	for x in $2; do
		[ "$x" = "$1" ] || out=$out${out:+,}$x
	done
	case ",$2," in
	*",$1,"*) out=$out${out:+,}$1 ;;
	esac
	echo "$out"
}

run() {
	local k b kb extra list rc planned=0 ran=0 cycles=${MSHARE_CYCLES:-200}
	for k in $missing; do
		echo "not ok - harness: no $k kernel installed (make setup)"
	done
	# shellcheck disable=SC2086
	"$top/scripts/dkms-install.sh" $kernels | sed 's/^/# /' || return
	dkms_refusals
	for k in $kernels; do
		"$top/scripts/build-guest.sh" "$k" | sed 's/^/# /' || return
	done
	for k in $kernels; do
		extra=${MSHARE_FIRST_BOOT_GROUPS-,stress,load,stall}
		kb=$boots
		case "$k" in
		7.*)	kb=$new_boots ;;
		*)	[ -z "$(kroot "$k")" ] || kb=$root_boots ;;
		esac
		for b in $kb; do
			[ -n "${boot_args[$b]+set}" ] || die "unknown boot $b"
			# the once-only groups go to the first kernel's last
			# boot, which has none of the first boot's extra groups
			if [ "$b" = "${kb##* }" ]; then
				extra=$extra$once
				once=
			fi
			# hwpoison loses a huge page until reboot: last
			list=$(last_group hwpoison "$groups$extra")
			echo "# boot $k $b"
			planned=$((planned + 1))
			rc=0
			# shellcheck disable=SC2086
			MSHARE_VM_TIMEOUT=${MSHARE_VM_TIMEOUT:-1800} \
			"$top/scripts/vm-run.sh" "$k" "$k-$b" "$list" \
				mshare_cycles="$cycles" mshare_strict=1 $fuzz \
				${boot_args[$b]} ${MSHARE_KERNEL_ARGS:-} || rc=$?
			# run() is on the left of ||, so set -e is off here: a
			# boot that dies before its verdicts must still fail.
			if [ "$rc" -eq 0 ]; then
				ran=$((ran + 1))
			else
				echo "not ok - [$k-$b] vm-run.sh stopped early (exit $rc)"
			fi
			extra=
		done
	done
	if [ "$ran" -eq "$planned" ]; then
		echo "ok - harness: all $planned planned boots reported"
	else
		echo "not ok - harness: $ran of $planned planned boots reported"
	fi
}

# mawk (Debian's awk) reads its input in blocks unless told otherwise, which
# would hide the progress of a long run.
awk=(awk)
if awk -W version 2>&1 | grep -q mawk; then
	awk=(awk -W interactive)
fi

# A failing build or setup step is a failed test, not a silent stop.
{ run || echo "not ok - harness: a build step failed (exit $?)"; } 2>&1 |
	"${awk[@]}" -f "$top/scripts/tap-summary.awk"

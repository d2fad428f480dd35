#!/usr/bin/env bash
# `make bench-icount`: DKMS-install mshare for the kernels of the test
# matrix, boot each in an instruction-counted guest (MSHARE_VM_ICOUNT=1:
# one vCPU, -icount shift=0,sleep=off, 4 GiB), run bench/icount-guest.sh
# and write docs/benchmarks-icount.md.
#
# Environment: MSHARE_KERNELS (default: the matrix of make check),
# MSHARE_ICOUNT_REPS (repetitions per figure, default 15),
# MSHARE_ICOUNT_ROUNDS (not loaded / loaded alternations, default 3),
# MSHARE_ICOUNT_MAX (the most attachers of the host-change run, default
# 10000), MSHARE_ICOUNT_PROFILE (the attachers of the host-change profile,
# default 1000; 0 skips it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernels=${MSHARE_KERNELS:-$(check_kernels | tr '\n' ' ')}
reps=${MSHARE_ICOUNT_REPS:-15}
rounds=${MSHARE_ICOUNT_ROUNDS:-3}
max=${MSHARE_ICOUNT_MAX:-10000}
profile=${MSHARE_ICOUNT_PROFILE:-1000}
out=$build/bench-icount
mkdir -p "$out"

# shellcheck disable=SC2086
"$top/scripts/dkms-install.sh" $kernels
runs=()
for k in $kernels; do
	"$top/scripts/build-guest.sh" "$k"
	echo "bench-icount: $k, $reps repetitions, $rounds rounds, up to $max attachers"
	t0=$(date +%s)
	MSHARE_VM_ICOUNT=1 MSHARE_VM_MEM=4G MSHARE_VM_TIMEOUT=5400 \
		"$top/scripts/vm-run.sh" "$k" "icount-$k" bench-icount \
		mshare_icount_reps="$reps" mshare_icount_rounds="$rounds" \
		mshare_icount_max="$max" mshare_icount_profile="$profile" \
		>"$out/verdict-$k.txt"
	secs=$(($(date +%s) - t0))
	cat "$out/verdict-$k.txt"
	if grep -q '^not ok' "$out/verdict-$k.txt"; then
		die "the $k run failed; see $build/runs/icount-$k/"
	fi
	{
		echo "# kernel $k seconds $secs command MSHARE_KERNELS=$k MSHARE_ICOUNT_REPS=$reps MSHARE_ICOUNT_ROUNDS=$rounds MSHARE_ICOUNT_MAX=$max MSHARE_ICOUNT_PROFILE=$profile make bench-icount"
		grep -E '^(RESULT|# )' "$build/runs/icount-$k/tap.txt" | sed '/^### dmesg/,$d'
	} >"$out/results-$k.txt"
	runs+=("$out/results-$k.txt")
done
python3 "$top/scripts/bench-icount-report.py" "$top/docs/benchmarks-icount.md" "${runs[@]}"
echo "bench-icount: wrote docs/benchmarks-icount.md"

#!/usr/bin/env bash
# `make bench`: DKMS-install mshare for the newest 6.1 and 6.12 kernels, boot
# each with a 4 GiB guest, run bench/bench-guest.sh, and write
# docs/benchmarks.md and docs/pagetables.png from the results.
#
# Environment: MSHARE_KERNELS (default: the matrix), MSHARE_BENCH_REPS
# (default 5), MSHARE_BENCH_MAX (largest N, default 1000),
# MSHARE_BENCH_LIMIT (cap of the "as many sharers as memory allows" runs,
# default 3000; 0 skips them), MSHARE_BENCH_LIMIT_METHODS (the methods of
# those runs, default "plain mshare").
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernels=${MSHARE_KERNELS:-$(host_kernels | tr '\n' ' ')}
reps=${MSHARE_BENCH_REPS:-5}
max=${MSHARE_BENCH_MAX:-1000}
limit=${MSHARE_BENCH_LIMIT:-3000}
limit_methods=${MSHARE_BENCH_LIMIT_METHODS:-plain mshare}
mem=4G
out=$build/bench
mkdir -p "$out"

# shellcheck disable=SC2086
"$top/scripts/dkms-install.sh" $kernels
runs=()
for k in $kernels; do
	"$top/scripts/build-guest.sh" "$k"
	echo "bench: $k, $mem guest, $reps repetitions, N up to $max, limit runs up to $limit (this takes a while under emulation)"
	t0=$(date +%s)
	MSHARE_VM_MEM=$mem MSHARE_VM_TIMEOUT=5400 \
		"$top/scripts/vm-run.sh" "$k" "bench-$k" bench \
		mshare_bench_reps="$reps" mshare_bench_max="$max" \
		mshare_bench_limit="$limit" \
		mshare_bench_limit_methods="${limit_methods// /,}" >"$out/verdict-$k.txt"
	secs=$(($(date +%s) - t0))
	cat "$out/verdict-$k.txt"
	if grep -q '^not ok' "$out/verdict-$k.txt"; then
		die "the $k run failed; see $build/runs/bench-$k/"
	fi
	{
		echo "# kernel $k memory $mem seconds $secs command MSHARE_BENCH_REPS=$reps MSHARE_BENCH_MAX=$max MSHARE_BENCH_LIMIT=$limit make bench"
		grep -E '^(RESULT|# )' "$build/runs/bench-$k/tap.txt" | sed '/^### dmesg/,$d'
	} >"$out/results-$k.txt"
	grep '^RESULT' "$out/results-$k.txt"
	runs+=("$out/results-$k.txt")
done
python3 "$top/scripts/bench-report.py" "$top/docs/benchmarks.md" \
	"$top/docs/pagetables.png" "${runs[@]}"
echo "bench: wrote docs/benchmarks.md and docs/pagetables.png"

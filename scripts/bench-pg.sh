#!/usr/bin/env bash
# `make bench-pg`: PostgreSQL's buffer pool plain, in hugetlb and in mshare,
# side by side, in a 4 GiB guest of one kernel (tests/pg-bench.sh does the
# work); writes docs/postgresql.md and docs/postgresql.png.
#
# The guest runs the host's PostgreSQL (make setup installs postgresql-15)
# from the host's root over virtio-9p, the DKMS-installed module, and a
# scratch disk image for the cluster (build/bench-pg/disk.img, sparse).
# Environment: MSHARE_KERNEL (default: the newest 6.12 of this machine),
# PGB_CLIENTS (default 50,200,400), PGB_POOL (1GB), PGB_FILL (75, percent of
# the pool that every backend reads), PGB_SCALE (pgbench scale, 5),
# PGB_SECS (20, each timed pgbench run), PGB_REPS (3 rounds of them),
# PGB_CONFIGS (plain,hugetlb,mshare), PGB_APPEND=1 (add this run's results
# to the previous run's instead of replacing them: larger client counts
# for some configurations only).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

k=${MSHARE_KERNEL:-$(host_kernels | tail -n 1)}
clients=${PGB_CLIENTS:-50,200,400}
args=(no5lvl "mshare_pgb_clients=$clients"
	"mshare_pgb_pool=${PGB_POOL:-1GB}" "mshare_pgb_fill=${PGB_FILL:-75}"
	"mshare_pgb_scale=${PGB_SCALE:-5}" "mshare_pgb_secs=${PGB_SECS:-20}"
	"mshare_pgb_reps=${PGB_REPS:-3}"
	"mshare_pgb_configs=${PGB_CONFIGS:-plain,hugetlb,mshare}")
out=$build/bench-pg
mkdir -p "$out"
[ -d /usr/lib/postgresql ] || die "PostgreSQL is not installed (make setup)"

"$top/scripts/dkms-install.sh" "$k"
"$top/scripts/build-guest.sh" "$k"
rm -f "$out/disk.img"
truncate -s 8G "$out/disk.img"
echo "bench-pg: $k, 4 GiB guest, ${args[*]} (this takes a while under emulation)"
t0=$(date +%s)
MSHARE_VM_MEM=4G MSHARE_VM_DISK=$out/disk.img MSHARE_VM_TIMEOUT=7200 \
	"$top/scripts/vm-run.sh" "$k" "bench-pg-$k" bench-pg "${args[@]}" |
	tee "$out/verdict.txt" | grep -v '^# RESULT'
secs=$(($(date +%s) - t0))
rm -f "$out/disk.img"
grep -q '^not ok' "$out/verdict.txt" &&
	die "the run failed; see $build/runs/bench-pg-$k/"
[ "${PGB_APPEND:-0}" = 1 ] || rm -f "$out/results.txt"
{
	echo "# kernel $k memory 4G seconds $secs command PGB_CONFIGS=${PGB_CONFIGS:-plain,hugetlb,mshare} PGB_CLIENTS=$clients PGB_POOL=${PGB_POOL:-1GB} PGB_FILL=${PGB_FILL:-75} PGB_SCALE=${PGB_SCALE:-5} PGB_SECS=${PGB_SECS:-20} PGB_REPS=${PGB_REPS:-3} make bench-pg"
	grep -E '^(RESULT|table size:|# )' "$build/runs/bench-pg-$k/tap.txt" | sed '/^### dmesg/,$d'
} >>"$out/results.txt"
python3 "$top/scripts/bench-pg-report.py" "$top/docs/postgresql.md" \
	"$top/docs/postgresql.png" "$out/results.txt"
echo "bench-pg: wrote docs/postgresql.md and docs/postgresql.png ($secs s)"

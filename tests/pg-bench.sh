#!/bin/bash
# make bench-pg, guest side, inside the host-userland root (pg-guest.sh):
# PostgreSQL, unmodified, with a buffer pool of pgb_pool (default 1GB) in
# three configurations side by side: plain shared memory, huge_pages=on
# (hugetlb) and mshare (the preload shim on the postmaster).  The cluster
# lives on the guest's scratch disk (/dev/vda, made by scripts/bench-pg.sh)
# so that its files cost no guest memory once they are in the pool.
#
# The data: a table "wide" of two ~4 kB rows per 8 kB page that fills
# pgb_fill percent of the pool (default 75), and pgbench's tables (scale
# pgb_scale).  Both are prewarmed into the pool (pg_prewarm).
#
# Per configuration and client count N (pgb_clients, default 50,200,400):
#   touch: pgbench -t 1 with N clients; each client's backend reads every
#     row of "wide" (a sequential scan that reads both rows' headers and
#     lengths, so both 4 kB halves of every page), recording its own /proc/self counters
#     before and after, then waits on an advisory lock the driver holds, so
#     that all N backends are alive when the driver reads PageTables.
#     Reported: the time to connect all clients (pgbench's "initial
#     connection time"), the time until all N had scanned, PageTables at
#     that moment (minus the idle server's), and per backend the minor
#     faults, the page-table growth (VmPTE) and the pool memory it mapped
#     (RssShmem, or HugetlbPages) during its scan.
#   tps: pgbench -T pgb_secs (default 20) with N new clients of a read
#     script: the rows' lengths over a random range of 1/64 of "wide" by its
#     index (the heap, not an index-only scan),
#     mshare_pgb_reps rounds.
# Then per configuration a read-write run (pgbench's TPC-B-like script) and
# amcheck on pgbench's indexes.  One line per measurement:
#   RESULT pg config=C clients=N ...      RESULT pgrw config=C ...
# and TAP lines for what must hold.
# Settings come from the guest's kernel command line (the environment):
# mshare_pgb_configs (default plain,hugetlb,mshare), mshare_pgb_pool,
# mshare_pgb_fill, mshare_pgb_scale, mshare_pgb_clients, mshare_pgb_secs,
# mshare_pgb_reps (rounds of range reads, default 3).
set -u
list() { echo "$1" | tr , ' '; }
configs=$(list "${mshare_pgb_configs:-plain,hugetlb,mshare}")
pool=${mshare_pgb_pool:-1GB}
fill=${mshare_pgb_fill:-75}
scale=${mshare_pgb_scale:-5}
clients=$(list "${mshare_pgb_clients:-50,200,400}")
secs=${mshare_pgb_secs:-20}
reps=${mshare_pgb_reps:-3}
pgver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
bin=/usr/lib/postgresql/$pgver/bin
disk=/dev/vda
top=/var/lib/pgb
data=$top/data
shim=/tests/libmshare-preload.so
rdir=/sys/fs/mshare/pg
work=/tmp/pgb
n=0 failed=0

tap() { # tap STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - bench-pg: $2"
	else echo "not ok $n - bench-pg: $2"; failed=$((failed + 1)); fi
	return "$1"
}
diag() { sed 's/^/# /'; }
as_pg() { runuser -u postgres -- "$@"; }
sql() { as_pg "$bin/psql" -h /run/postgresql -X -q -At -P pager=off -v ON_ERROR_STOP=1 -c "$1" postgres; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
t0=$(now)

mkdir -p "$work" "$top"
chmod 1777 "$work"
mkfs.ext4 -q -F "$disk" >"$work/mkfs.log" 2>&1 && mount "$disk" "$top"
tap $? "the scratch disk is an ext4 file system ($disk)" ||
	{ diag <"$work/mkfs.log"; echo "1..$n"; exit 1; }
mkdir -p "$data" && chown postgres: "$data" /run/postgresql
as_pg "$bin/initdb" -D "$data" -A trust --no-sync -E UTF8 --locale=C \
	>"$work/initdb.log" 2>&1
tap $? "initdb ($pgver, $(since "$t0") s)" || diag <"$work/initdb.log"
maxn=$(echo "$clients" | tr ' ' '\n' | sort -n | tail -n 1)
cat >>"$data/postgresql.conf" <<EOF
shared_buffers = $pool
max_connections = $((maxn + 10))
listen_addresses = ''
unix_socket_directories = '/run/postgresql'
fsync = off
synchronous_commit = off
full_page_writes = off
max_parallel_workers_per_gather = 0
jit = off
EOF
mkdir -p "$rdir" && chown postgres: "$rdir" && chmod 0700 "$rdir"

# Each backend's own counters: minor faults (/proc/self/stat field 10),
# page-table bytes, shared memory and hugetlb pages mapped (kB).
cat >"$work/setup.sql" <<'EOF'
CREATE EXTENSION pg_prewarm;
CREATE EXTENSION amcheck;
CREATE UNLOGGED TABLE bstat (pid int, phase int, minflt bigint, pte_kb bigint,
	shm_kb bigint, huge_kb bigint, t timestamptz);
CREATE FUNCTION snap(ph int) RETURNS void LANGUAGE sql AS $$
	INSERT INTO bstat SELECT pg_backend_pid(), ph,
		split_part(split_part(pg_read_file('/proc/self/stat'), ') ', 2),
			' ', 8)::bigint,
		substring(s from 'VmPTE:\s+(\d+)')::bigint,
		substring(s from 'RssShmem:\s+(\d+)')::bigint,
		substring(s from 'HugetlbPages:\s+(\d+)')::bigint,
		clock_timestamp()
	FROM pg_read_file('/proc/self/status') s $$;
EOF
cat >"$work/touch.sql" <<'EOF'
SELECT snap(0);
SELECT sum(octet_length(pad)) FROM wide;
SELECT snap(1);
SELECT pg_advisory_lock_shared(42);
SELECT pg_advisory_unlock_shared(42);
EOF

start() { # start CONFIG
	local env=() hp=off
	case "$1" in
	mshare) env=("LD_PRELOAD=$shim" "MSHARE_PRELOAD_DIR=$rdir") ;;
	hugetlb) hp=on ;;
	esac
	sed -i '/^huge_pages = /d' "$data/postgresql.conf"
	echo "huge_pages = $hp" >>"$data/postgresql.conf"
	as_pg env "${env[@]}" "$bin/pg_ctl" -D "$data" -l "$work/pg.log" -w \
		-t 600 start >/dev/null
	tap $? "$1: the server starts ($(since "$t0") s)" || diag <"$work/pg.log"
}

stop() { # stop CONFIG
	as_pg "$bin/pg_ctl" -D "$data" -w -t 600 stop >/dev/null
	tap $? "$1: the server stops ($(since "$t0") s)" || diag <"$work/pg.log"
}

# huge pages for the pool and PostgreSQL's other shared memory
hugepages() { # hugepages COUNT
	sync
	echo 3 >/proc/sys/vm/drop_caches
	echo 1 >/proc/sys/vm/compact_memory
	echo "$1" >/proc/sys/vm/nr_hugepages
	[ "$(cat /proc/sys/vm/nr_hugepages)" -ge "$1" ]
}

# touch CONFIG N: see the header
touch_run() {
	local c=$1 nc=$2 base pt avail t1 got=0 r conn pgb touch_s holder
	sql "TRUNCATE bstat"
	# the barrier: the driver holds the lock the backends wait on
	coproc HOLD { as_pg "$bin/psql" -h /run/postgresql -X -q -At postgres; }
	holder=$HOLD_PID
	echo "SELECT pg_advisory_lock(42);" >&"${HOLD[1]}"
	read -r -t 60 r <&"${HOLD[0]}"
	base=$(meminfo PageTables)
	t1=$(now)
	as_pg "$bin/pgbench" -h /run/postgresql -n -c "$nc" -j 2 -t 1 \
		-f "$work/touch.sql" postgres >"$work/touch.log" 2>&1 &
	pgb=$!
	for _ in $(seq 1800); do
		got=$(sql "SELECT count(*) FROM bstat WHERE phase = 1")
		[ "$got" -ge "$nc" ] && break
		kill -0 $pgb 2>/dev/null || break
		sleep 1
	done
	touch_s=$(since "$t1")
	pt=$(meminfo PageTables)
	avail=$(meminfo MemAvailable)
	echo "SELECT pg_advisory_unlock(42);" >&"${HOLD[1]}"
	echo '\q' >&"${HOLD[1]}"
	wait $pgb
	tap $? "$c: $nc clients each read all of the pool's table ($got of $nc, $touch_s s)" ||
		diag <"$work/touch.log"
	wait "$holder" 2>/dev/null
	conn=$(sed -n 's/^initial connection time = \([0-9.]*\) ms$/\1/p' "$work/touch.log")
	# per backend, over its scan: faults, page-table and mapped-pool growth
	r=$(sql "SELECT round(avg(b.minflt - a.minflt)), max(b.minflt - a.minflt),
		round(avg(b.pte_kb - a.pte_kb)), round(avg(b.shm_kb - a.shm_kb)),
		round(avg(b.huge_kb - a.huge_kb)), round(avg(b.pte_kb))
		FROM bstat a JOIN bstat b USING (pid)
		WHERE a.phase = 0 AND b.phase = 1" | tr '|' ' ')
	set -- $r
	echo "RESULT pg config=$c clients=$nc connect_ms=${conn:-?} touch_s=$touch_s" \
		"pt_base_kb=$base pt_peak_kb=$pt pt_per_backend_kb=$(((pt - base) / nc))" \
		"faults_per_backend=$1 faults_max=$2 pte_growth_kb=$3 vmpte_kb=$6" \
		"shm_touched_kb=$4 huge_touched_kb=$5 mem_available_kb=$avail" |
		tee -a "$work/results"
}

tps_run() { # tps_run CONFIG N
	as_pg "$bin/pgbench" -h /run/postgresql -n -c "$2" -j 2 -T "$secs" \
		-D rows="$rows" -f "$work/range.sql" postgres >"$work/tps.log" 2>&1
	tap $? "$1: $2 clients, $secs s of range reads" || diag <"$work/tps.log"
	local tps conn
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$work/tps.log")
	conn=$(sed -n 's/^initial connection time = \([0-9.]*\) ms$/\1/p' "$work/tps.log")
	echo "RESULT pgtps config=$1 clients=$2 secs=$secs tps=${tps:-?} connect_ms=${conn:-?}" |
		tee -a "$work/results"
}

rw_run() { # rw_run CONFIG
	as_pg "$bin/pgbench" -h /run/postgresql -n -c 10 -j 2 -T "$secs" postgres \
		>"$work/rw.log" 2>&1
	tap $? "$1: pgbench read-write, 10 clients, $secs s" || diag <"$work/rw.log"
	local tps r
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$work/rw.log")
	r=$(sql "SELECT count(bt_index_parent_check(c.oid, true)) FROM pg_class c
		 WHERE c.relname LIKE 'pgbench_%pkey'" 2>&1)
	[ "$r" = 3 ]
	tap $? "$1: amcheck finds the 3 pgbench indexes consistent after it" ||
		echo "$r" | diag
	echo "RESULT pgrw config=$1 clients=10 secs=$secs tps=${tps:-?} amcheck=$([ "$r" = 3 ] && echo clean || echo FAILED)" |
		tee -a "$work/results"
}

first=1
for c in $configs; do
	if [ "$c" = hugetlb ]; then
		# the pool plus PostgreSQL's other shared memory, in 2 MiB pages
		mb=$(numfmt --from=iec "${pool%B}")
		hp=$((mb / 2097152 + 64))
		hugepages "$hp"
		tap $? "hugetlb: $hp huge pages reserved ($(cat /proc/sys/vm/nr_hugepages))" ||
			continue
	fi
	start "$c"
	if [ $first = 1 ]; then
		as_pg "$bin/psql" -h /run/postgresql -X -q -P pager=off -v ON_ERROR_STOP=1 \
			-f "$work/setup.sql" postgres >"$work/setup.log" 2>&1
		tap $? "the bench's extensions and functions" || diag <"$work/setup.log"
		as_pg "$bin/pgbench" -h /run/postgresql -i -s "$scale" -q postgres \
			>"$work/init.log" 2>&1
		tap $? "pgbench -i -s $scale ($(since "$t0") s)" || diag <"$work/init.log"
		# two rows of 3950 bytes fill an 8 kB page (storage plain: no
		# compression, no TOAST)
		buffers=$(sql "SELECT setting::bigint FROM pg_settings WHERE name = 'shared_buffers'")
		rows=$((buffers * fill / 100 * 2))
		sql "CREATE UNLOGGED TABLE wide (id int, pad text);
			ALTER TABLE wide ALTER pad SET STORAGE PLAIN;
			INSERT INTO wide SELECT g, repeat('x', 3950)
				FROM generate_series(1, $rows) g;
			CREATE INDEX ON wide (id)" >"$work/wide.log" 2>&1 &&
			sql "VACUUM ANALYZE wide" >>"$work/wide.log" 2>&1
		tap $? "table wide: $rows rows ($(since "$t0") s)" ||
			{ diag <"$work/wide.log"; echo "1..$n"; exit 1; }
		sql "SELECT 'table size: wide is ' ||
			pg_size_pretty(pg_relation_size('wide')) || ' (' ||
			pg_relation_size('wide') / 8192 || ' pages of 8 kB) in a pool of ' ||
			$buffers || ' buffers (' || pg_size_pretty($buffers * 8192::bigint) || ').'"

		cat >"$work/range.sql" <<EOF
\set lo random(1, :rows - :rows / 64)
SELECT sum(octet_length(pad)) FROM wide WHERE id BETWEEN :lo AND :lo + :rows / 64;
EOF
		first=0
	fi
	sql "SELECT pg_prewarm('wide'), pg_prewarm('wide_id_idx'),
		pg_prewarm('pgbench_accounts'), pg_prewarm('pgbench_accounts_pkey')" >/dev/null
	tap $? "$c: prewarmed into the pool"
	sync
	echo 1 >/proc/sys/vm/drop_caches	# the files' page cache: not needed now
	if [ "$c" = mshare ]; then
		p=$(pgrep -u postgres -o -f '^postgres: checkpointer')
		grep -q " $rdir/.* (deleted)$" "/proc/$p/maps"
		tap $? "mshare: the buffer pool is an attachment of an unlinked region"
	fi
	for nc in $clients; do
		touch_run "$c" "$nc"
		for _ in $(seq "$reps"); do
			tps_run "$c" "$nc"
		done
	done
	rw_run "$c"
	stop "$c"
	[ "$c" = hugetlb ] && echo 0 >/proc/sys/vm/nr_hugepages
done
echo "# bench-pg: $(since "$t0") s in all"
echo "1..$n"
[ "$failed" -eq 0 ]

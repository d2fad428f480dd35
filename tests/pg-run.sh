#!/bin/bash
# pg group, inside the host-userland root (tests/pg-guest.sh): PostgreSQL,
# unmodified, once plain and once with its buffer pool in mshare through
# the preload shim (LD_PRELOAD=libmshare-preload.so on the postmaster).
# Output is TAP.
#
# Each run prewarms pgbench's accounts table and its index into the pool,
# and 20 clients each scan the whole table through the index, so that every
# backend touches all of it, then read their backend's page-table bytes
# (VmPTE); with mshare, 40 more clients then do the same, and their mean
# must be no higher.  Plain, a backend pays about 8 bytes per 4 KiB of pool
# it touched; with mshare it pays nothing for the pool.  Then the mshare
# server runs pgbench's read-write script, amcheck checks its indexes, and
# after the server stops its region must be gone.
# Usage: pg-run.sh [both|mshare|plain]
set -u
modes=${1:-both}
[ "$modes" = both ] && modes="plain mshare"
pgver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
bin=/usr/lib/postgresql/$pgver/bin
data=/var/tmp/pgdata
shim=/tests/libmshare-preload.so
rdir=/sys/fs/mshare/pg		# where the postgres user may create regions
clients=20
scale=${PG_SCALE:-2}
n=0 failed=0

tap() { # tap STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - pg: $2"
	else echo "not ok $n - pg: $2"; failed=$((failed + 1)); fi
	return "$1"
}
diag() { sed 's/^/# /'; }
as_pg() { runuser -u postgres -- "$@"; }
sql() { as_pg "$bin/psql" -h /run/postgresql -X -q -At -v ON_ERROR_STOP=1 -c "$1" postgres; }
t0=$(date +%s.%N)
el() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
modref() { cat /sys/module/mshare/refcnt; }

mkdir -p "$data" && chown postgres: "$data" /run/postgresql
as_pg "$bin/initdb" -D "$data" -A trust --no-sync -E UTF8 --locale=C \
	>/tmp/initdb.log 2>&1
tap $? "initdb ($pgver, $(el) s)" || diag </tmp/initdb.log
cat >>"$data/postgresql.conf" <<EOF
shared_buffers = 256MB
max_connections = 60
listen_addresses = ''
unix_socket_directories = '/run/postgresql'
fsync = off
synchronous_commit = off
full_page_writes = off
huge_pages = off
EOF
# A place the database user may create regions in, not the root.
mkdir -p "$rdir" && chown postgres: "$rdir" && chmod 0700 "$rdir"

start() { # start MODE
	local env=()
	[ "$1" = mshare ] && env=("LD_PRELOAD=$shim" "MSHARE_PRELOAD_DIR=$rdir")
	as_pg env "${env[@]}" "$bin/pg_ctl" -D "$data" -l /tmp/pg.log -w -t 300 \
		start >/dev/null
	tap $? "$1: the server starts ($(el) s)" || diag </tmp/pg.log
}

stop() {
	as_pg "$bin/pg_ctl" -D "$data" -w -t 300 stop >/dev/null
	tap $? "$1: the server stops ($(el) s)" || diag </tmp/pg.log
}

# The touching workload: each of N clients scans the whole of
# pgbench_accounts through its index (every page of both), then reads its
# own backend's VmPTE (kB).  Their mean goes to /tmp/pte.MODE.N.
touch_run() { # touch_run MODE N
	local i f=0 sum=0 cnt=0 v
	for i in $(seq "$2"); do
		as_pg "$bin/psql" -h /run/postgresql -X -q -At -v ON_ERROR_STOP=1 \
			-c "SET enable_seqscan = off; SET enable_bitmapscan = off" \
			-c "SELECT sum(abalance) FROM pgbench_accounts WHERE aid > 0" \
			-c "SELECT substring(pg_read_file('/proc/self/status') from 'VmPTE:\\s+(\\d+) kB')" \
			postgres >"/tmp/touch.$i" 2>&1 &
	done
	wait
	for i in $(seq "$2"); do
		v=$(tail -n 1 "/tmp/touch.$i")
		case "$v" in
		''|*[!0-9]*) f=1; diag <"/tmp/touch.$i" ;;
		*) sum=$((sum + v)); cnt=$((cnt + 1)) ;;
		esac
	done
	tap $f "$1: $2 clients each scanned the whole table through its index ($(el) s)"
	if [ $cnt -gt 0 ]; then
		echo "$1: backends' mean VmPTE $((sum / cnt)) kB over $cnt backends" | diag
		echo $((sum / cnt)) >"/tmp/pte.$1.$2"
	fi
}

before=$(modref)
first=1
for m in $modes; do
	start "$m"
	if [ $first = 1 ]; then
		as_pg "$bin/pgbench" -h /run/postgresql -i -s "$scale" -q postgres \
			>/tmp/init.log 2>&1
		tap $? "pgbench -i -s $scale ($(el) s)" || diag </tmp/init.log
		sql "CREATE EXTENSION pg_prewarm; CREATE EXTENSION amcheck"
		# 8 bytes per 4 KiB page of what each backend reads: table + index
		kb=$(sql "SELECT (pg_relation_size('pgbench_accounts') +
			pg_relation_size('pgbench_accounts_pkey')) / 4096 * 8 / 1024")
		first=0
	fi
	sql "SELECT pg_prewarm('pgbench_accounts'), pg_prewarm('pgbench_accounts_pkey')" >/dev/null
	if [ "$m" = mshare ]; then
		# the pool: the backends map an msharefs file (unlinked at once)
		p=$(pgrep -u postgres -o -f '^postgres: checkpointer')
		grep -q " $rdir/.* (deleted)$" "/proc/$p/maps"
		tap $? "mshare: the buffer pool is an attachment of an unlinked region" ||
			grep -v '\.so' "/proc/$p/maps" | diag
		ls -A "$rdir" | diag
	fi
	touch_run "$m" "$clients"
	if [ "$m" = mshare ]; then
		# as clients are added, a backend's page tables stay the same:
		# twice as many, each reading all of the pool, cost each no more
		touch_run "$m" $((clients * 2))
		a=$(cat "/tmp/pte.$m.$clients" 2>/dev/null || echo 0)
		b=$(cat "/tmp/pte.$m.$((clients * 2))" 2>/dev/null || echo 999999)
		[ "$a" -gt 0 ] && [ "$b" -le $((a + 8)) ]
		tap $? "mshare: page tables per backend stay flat as clients are added ($clients clients: $a kB, $((clients * 2)): $b kB)"
	fi
	if [ "$m" = mshare ]; then
		as_pg "$bin/pgbench" -h /run/postgresql -n -c 10 -j 2 -T 10 postgres \
			>/tmp/rw.log 2>&1
		tap $? "mshare: pgbench read-write, 10 clients ($(el) s)" || diag </tmp/rw.log
		grep -E '^(tps|number of transactions)' /tmp/rw.log | diag
		r=$(sql "SELECT count(bt_index_parent_check(c.oid, true)) FROM pg_class c
			 WHERE c.relname LIKE 'pgbench_%pkey'" 2>&1)
		[ "$r" = 3 ]
		tap $? "mshare: amcheck finds the 3 pgbench indexes consistent" ||
			echo "$r" | diag
	fi
	stop "$m"
done
if [ -s "/tmp/pte.plain.$clients" ] && [ -s "/tmp/pte.mshare.$clients" ]; then
	plain=$(cat "/tmp/pte.plain.$clients") ms=$(cat "/tmp/pte.mshare.$clients")
	[ "${kb:-0}" -gt 0 ] && [ $((plain - ms)) -ge $((kb / 2)) ]
	tap $? "page tables per backend: plain $plain kB, mshare $ms kB (what the pool costs a backend plain: ~${kb:-?} kB)"
fi
if [[ " $modes " = *" mshare "* ]]; then
	sleep 1
	[ -z "$(ls -A "$rdir")" ] && [ "$(modref)" = "$before" ]
	tap $? "mshare: after the server stopped, its region is gone (module references $before -> $(modref))"
fi
echo "1..$n"
[ "$failed" -eq 0 ]

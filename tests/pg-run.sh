#!/bin/bash
# pg group, inside the host-userland root (tests/pg-guest.sh): PostgreSQL,
# unmodified, with its buffer pool in mshare through the preload shim, and
# a short pgbench.  Output is TAP.
# Usage: pg-run.sh [plain|mshare]
set -u
mode=${1:-mshare}
pgver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
bin=/usr/lib/postgresql/$pgver/bin
data=/var/tmp/pgdata
pool=${PG_POOL:-256MB}
n=0 failed=0

tap() { # tap STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - pg: $2"
	else echo "not ok $n - pg: $2"; failed=$((failed + 1)); fi
}
diag() { sed 's/^/# /'; }
as_pg() { runuser -u postgres -- "$@"; }
t0=$(date +%s.%N)
el() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

mkdir -p "$data" && chown postgres: "$data" /run/postgresql
as_pg "$bin/initdb" -D "$data" -A trust --no-sync -E UTF8 --locale=C \
	>/tmp/initdb.log 2>&1
tap $? "initdb ($pgver, $(el) s)" || diag </tmp/initdb.log
cat >>"$data/postgresql.conf" <<EOF
shared_buffers = $pool
max_connections = 120
listen_addresses = ''
unix_socket_directories = '/run/postgresql'
fsync = off
synchronous_commit = off
full_page_writes = off
huge_pages = off
EOF

as_pg "$bin/pg_ctl" -D "$data" -l /tmp/pg.log -w -t 120 start >/dev/null
tap $? "the server starts ($mode, $(el) s)" || diag </tmp/pg.log
as_pg "$bin/pgbench" -h /run/postgresql -i -s 2 -q postgres >/tmp/init.log 2>&1
tap $? "pgbench -i -s 2 ($(el) s)" || diag </tmp/init.log
as_pg "$bin/pgbench" -h /run/postgresql -c 20 -j 2 -T 10 -S postgres \
	>/tmp/bench.log 2>&1
tap $? "pgbench -c 20 -T 10 -S ($(el) s)"
diag </tmp/bench.log
grep -m1 PageTables /proc/meminfo | diag
as_pg "$bin/pg_ctl" -D "$data" -w -t 120 stop >/dev/null
tap $? "the server stops ($(el) s)" || diag </tmp/pg.log
echo "1..$n"
[ "$failed" -eq 0 ]

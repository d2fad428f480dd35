#!/usr/bin/env python3
"""Turn the RESULT lines of a `make bench-pg` run into docs/postgresql.md and
docs/postgresql.png.  Usage: bench-pg-report.py OUT.md PNG RUN-FILE
The RUN-FILE's first line is '# kernel KVER memory M seconds S command C';
then come the guest's lines (tests/pg-bench.sh)."""
import statistics
import subprocess
import sys

CONFIGS = ('plain', 'hugetlb', 'mshare')


def parse(path):
    meta, rows, notes = {}, [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith('# kernel '):
                # one per run; runs appended (PGB_APPEND=1) add up
                parts = line[2:].split(' ', 7)
                cmd = parts[7] if len(parts) > 7 else ''
                if meta:
                    meta['seconds'] = str(int(meta['seconds']) +
                                          int(parts[5]))
                    meta['command'] += '` and `PGB_APPEND=1 ' + cmd
                else:
                    meta = {'kernel': parts[1], 'memory': parts[3],
                            'seconds': parts[5], 'command': cmd}
                continue
            if line.startswith('# '):
                line = line[2:]
            if line.startswith('RESULT '):
                words = line.split()
                row = {'kind': words[1]}
                for w in words[2:]:
                    k, _, v = w.partition('=')
                    row[k] = v
                rows.append(row)
            elif line.startswith('table size:') and not notes:
                notes.append('In this run, ' + line[len('table size: '):])
    return meta, rows, notes


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def mib(kb):
    v = num(kb)
    return '–' if v is None else '%.1f MiB' % (v / 1024)


def spread(vals, fmt):
    """median (min–max) of the values that are numbers"""
    v = [x for x in (num(a) for a in vals) if x is not None]
    if not v:
        return '–'
    if len(v) == 1:
        return fmt % v[0]
    return (fmt + ' (' + fmt + '–' + fmt + ')') % (statistics.median(v), min(v), max(v))


def ratio(x, base):
    x, base = num(x), num(base)
    if x is None or not base:
        return '–'
    return '%.2f×' % (x / base)


def table(out, header, lines):
    out += ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    out += ['| ' + ' | '.join(str(c) for c in line) + ' |' for line in lines]
    out.append('')


def clients(rows):
    return sorted({int(r['clients']) for r in rows if r['kind'] == 'pg'})


def pick(rows, kind, config, n=None):
    return [r for r in rows if r['kind'] == kind and r.get('config') == config
            and (n is None or r.get('clients') == str(n))]


def rounds(rows):
    n = {}
    for r in rows:
        if r['kind'] == 'pgtps':
            key = (r['config'], r['clients'])
            n[key] = n.get(key, 0) + 1
    return max(n.values()) if n else 0


def chart(meta, rows, png):
    ns = clients(rows)
    series = []
    for c in CONFIGS:
        pts = [(n, num(pick(rows, 'pg', c, n)[0]['pt_peak_kb']) -
                num(pick(rows, 'pg', c, n)[0]['pt_base_kb']))
               for n in ns if pick(rows, 'pg', c, n)]
        if pts:
            series.append((c, pts))
    if not series:
        return False
    script = ['set terminal png size 1000,520', "set output '%s'" % png,
              "set title 'PostgreSQL, %s pool: page tables of all backends after each read the pool (%s)'"
              % (meta.get('pool', '1 GiB'), meta.get('kernel', '')),
              "set xlabel 'clients (backends)'",
              "set ylabel 'page tables added (MiB)'",
              'set key left top', 'set grid', 'set yrange [0:*]']
    script.append('plot ' + ', '.join("'-' with linespoints title '%s'" % c
                                      for c, _ in series))
    for _, pts in series:
        script += ['%d %.2f' % (n, kb / 1024) for n, kb in pts] + ['e']
    try:
        subprocess.run(['gnuplot'], input='\n'.join(script) + '\n',
                       text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


def headline(rows, ns):
    """The largest run side by side, and how many backends of each
    configuration the guest would still hold: what was still available,
    divided by what a backend cost between the two largest runs (an
    extrapolation, labelled as one)."""
    if not ns:
        return []
    top = ns[-1]
    out = ['## Headline (%d clients)' % top, '',
           '| | plain | hugetlb | mshare |', '|---|---|---|---|']
    cells = {c: (pick(rows, 'pg', c, top) or [None])[0] for c in CONFIGS}

    def row(name, fn):
        out.append('| %s | %s |' % (name, ' | '.join(
            fn(cells[c]) if cells[c] else '–' for c in CONFIGS)))

    row('page tables of all backends, at peak',
        lambda r: mib(num(r['pt_peak_kb']) - num(r['pt_base_kb'])))
    row('of which the pool, per backend (growth while it read the pool)',
        lambda r: '%s kB' % r['pte_growth_kb'])
    row('minor faults per backend while it read the pool',
        lambda r: r['faults_per_backend'])
    row('time until all had read the pool', lambda r: '%s s' % r['touch_s'])
    if len(ns) > 1:
        prev = ns[-2]

        def more(r):
            p = pick(rows, 'pg', r['config'], prev)
            if not p:
                return '–'
            per = (num(p[0]['mem_available_kb']) -
                   num(r['mem_available_kb'])) / (top - prev)
            if per <= 0:
                return '–'
            return '~%d (%.1f MiB each)' % (
                top + num(r['mem_available_kb']) / per, per / 1024)
        row('backends the guest would hold (extrapolated from memory still '
            'available and the cost per backend from %d to %d clients)'
            % (prev, top), more)
    out += ['', 'How to read it: plain, every backend maps what it reads of the '
            'pool with 4 KiB entries of its own, 8 bytes per page (1.5 MiB '
            'for the 768 MiB table), and takes one minor fault per page. '
            'hugetlb maps 2 MiB pages, faults once per huge page and shares '
            'PMD tables where the pool covers whole 1 GiB-aligned blocks. With '
            'mshare the pool\'s tables are the region\'s, built once: a '
            'backend\'s page tables do not grow when it reads the pool, and '
            'its faults are those of its own memory (the hugetlb backends\' '
            'count less their ~388 huge pages leaves about the same). What is '
            'left per backend in every configuration (~125 kB) is its private '
            'memory\'s page tables. tps and times are the emulator\'s: '
            'compare them within a row group, not with hardware.', '']
    return out


def main():
    out_md, png, run = sys.argv[1], sys.argv[2], sys.argv[3]
    meta, rows, notes = parse(run)
    ns = clients(rows)
    cmd = meta.get('command', 'make bench-pg')
    out = ['# PostgreSQL: the buffer pool plain, in hugetlb and in mshare', '',
           'Written by `make bench-pg` (scripts/bench-pg.sh, guest side '
           'tests/pg-bench.sh); do not edit by hand.', '',
           'PostgreSQL 15 (Debian\'s, unmodified) runs in a 4 GiB QEMU TCG '
           'guest of %s (2 vCPUs, software emulation: times are the '
           'emulator\'s, far slower than hardware, and only comparable within '
           'this page). The run took %s s. Re-run: `%s`.' % (
               meta.get('kernel', '?'), meta.get('seconds', '?'), cmd), '',
           'Three configurations of the same cluster, one after the other: '
           '**plain** (PostgreSQL\'s own `MAP_SHARED|MAP_ANONYMOUS` pool, '
           '`huge_pages=off`), **hugetlb** (`huge_pages=on`, 2 MiB pages) and '
           '**mshare** (`huge_pages=off`, the postmaster started with '
           '`LD_PRELOAD=libmshare-preload.so`: the pool is an mshare region, '
           'docs/libmshare.md).', '',
           'The data: a table `wide` of two ~4 kB rows per 8 kB page that '
           'fills three quarters of the pool, and pgbench\'s tables, all '
           'prewarmed into the pool (`pg_prewarm`). '
           + ' '.join(notes), '',
           '**Touch**: N clients connect at once (pgbench `-t 1`); each '
           'backend reads every row of `wide` (a sequential scan over the '
           'pool), records its own counters from `/proc/self` before and '
           'after, and waits until all N have read it; then PageTables is '
           'read from `/proc/meminfo`. **Range reads**: N fresh clients for '
           'a fixed time, each transaction summing a random 1/64 of `wide` '
           'through its index (tps, %d rounds). **Read-write**: pgbench\'s '
           'TPC-B-like script, 10 clients, then `amcheck` on pgbench\'s '
           'indexes.' % rounds(rows), '']
    out += headline(rows, ns)
    out += ['## Page tables and faults', '']
    lines = []
    for n in ns:
        for c in CONFIGS:
            r = pick(rows, 'pg', c, n)
            if not r:
                continue
            r = r[0]
            touched = r['shm_touched_kb'] if c == 'plain' else (
                r['huge_touched_kb'] if c == 'hugetlb' else '')
            lines.append((n, c, mib(num(r['pt_peak_kb']) - num(r['pt_base_kb'])),
                          '%s kB' % r['pt_per_backend_kb'],
                          '%s kB' % r['pte_growth_kb'],
                          r['faults_per_backend'],
                          mib(touched) if touched else 'none (the region\'s tables)',
                          '%.1f s' % (num(r['connect_ms']) / 1000)
                          if num(r['connect_ms']) is not None else '–',
                          '%s s' % r['touch_s'],
                          mib(r.get('mem_available_kb'))))
    table(out, ['clients', 'config', 'page tables added (all backends, at peak)',
                'per backend', 'growth of a backend\'s page tables while it read the pool',
                'minor faults of a backend while it read the pool',
                'pool memory the backend mapped', 'connect all clients',
                'until all had read the pool', 'memory still available then'],
          lines)
    out += ['## Throughput', '']
    lines = []
    for n in ns:
        plain = [r['tps'] for r in pick(rows, 'pgtps', 'plain', n)]
        for c in CONFIGS:
            rs = pick(rows, 'pgtps', c, n)
            if not rs:
                continue
            tps = [r['tps'] for r in rs]
            med = statistics.median([num(t) for t in tps if num(t) is not None] or [0])
            pmed = statistics.median([num(t) for t in plain if num(t) is not None] or [0])
            lines.append((n, c, spread(tps, '%.2f'),
                          ratio(med, pmed) if c != 'plain' else '',
                          spread([r['connect_ms'] for r in rs], '%.0f ms')))
    table(out, ['clients', 'config', 'tps, range reads (median, min–max of rounds)',
                'vs plain', 'connect time (pgbench\'s, median and range)'], lines)
    rw = [r for r in rows if r['kind'] == 'pgrw']
    if rw:
        out += ['Read-write (TPC-B-like, 10 clients) and PostgreSQL\'s own '
                'consistency check after it:', '']
        table(out, ['config', 'tps', 'amcheck'],
              [(r['config'], '%.1f' % num(r['tps']) if num(r['tps']) else '–',
                r['amcheck']) for r in rw])
    if chart(meta, rows, png):
        out += ['![page tables vs clients](%s)' % png.split('/')[-1], '']
    with open(out_md, 'w') as f:
        f.write('\n'.join(out))


if __name__ == '__main__':
    main()

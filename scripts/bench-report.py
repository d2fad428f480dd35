#!/usr/bin/env python3
"""Turn the RESULT lines of `make bench` runs into docs/benchmarks.md and
docs/pagetables.png.  Usage: bench-report.py OUT.md PNG RUN-FILE...
Each RUN-FILE holds one guest run: a first line '# kernel KVER memory M
command C', then the guest's output."""
import subprocess
import sys


def parse(path):
    meta, rows = {}, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith('# kernel '):
                parts = line[2:].split(' ', 5)
                meta = {'kernel': parts[1], 'memory': parts[3],
                        'command': parts[5] if len(parts) > 5 else ''}
            elif line.startswith('RESULT '):
                words = line.split()
                row = {'kind': words[1]}
                for w in words[2:]:
                    k, _, v = w.partition('=')
                    row[k] = v
                rows.append(row)
    return meta, rows


def ratio(x, base):
    try:
        return '%.3g×' % (float(x) / float(base)) if float(base) else '–'
    except ValueError:
        return '–'


def pt_table(rows, out):
    pts = [r for r in rows if r['kind'] == 'pt']
    out.append('| object | N | method | page tables / process | faults / process | attach+touch / process | detach+exit / process |')
    out.append('|---|---|---|---|---|---|---|')
    plain = {(r['size_mb'], r['n']): r for r in pts if r['method'] == 'plain'}
    for r in pts:
        p = plain.get((r['size_mb'], r['n']))
        rel = lambda k: (' (%s plain)' % ratio(r[k], p[k])) if p and r is not p else ''
        out.append('| %s MiB | %s | %s | %s kB%s | %s%s | %s µs%s | %s µs%s |' % (
            r['size_mb'], r['n'], r['method'],
            r['pt_kb_per_proc'], rel('pt_kb_per_proc'),
            r['faults_per_proc'], rel('faults_per_proc'),
            r['attach_touch_us'], rel('attach_touch_us'),
            r['detach_exit_us'], rel('detach_exit_us')))


def other_tables(rows, out):
    touch = {r['method']: r for r in rows if r['kind'] == 'touch'}
    if touch:
        out.append('')
        out.append('First touch of a fresh 64 MiB object by one process (population cost):')
        out.append('')
        out.append('| method | µs per page | vs plain |')
        out.append('|---|---|---|')
        for m, r in touch.items():
            out.append('| %s | %s | %s |' % (m, r['us_per_page'],
                       ratio(r['us_per_page'], touch.get('plain', r)['us_per_page'])))
    rep = [r for r in rows if r['kind'] == 'replace']
    if rep:
        out.append('')
        out.append('Host-side change (UNMAP + CREATE_MAPPING of a 2 MiB object) with N attached processes: the TLB shootdown price:')
        out.append('')
        out.append('| N attachers | µs per change |')
        out.append('|---|---|')
        for r in rep:
            out.append('| %s | %s |' % (r['n'], r['us']))
    micro = {r.get('module'): r for r in rows if r['kind'] == 'micro'}
    if 'loaded' in micro and 'unloaded' in micro:
        a, b = micro['loaded'], micro['unloaded']
        out.append('')
        out.append('Unrelated work, module loaded vs not loaded (same boot):')
        out.append('')
        out.append('| workload | not loaded | loaded | loaded / not loaded |')
        out.append('|---|---|---|---|')
        for k, name in (('anon_fault_us', 'anonymous page fault (µs/page)'),
                        ('mmap_munmap_us', 'mmap + touch + munmap (µs)'),
                        ('fork_exit_us', 'fork + exit (µs)')):
            out.append('| %s | %s | %s | %s |' % (name, b[k], a[k], ratio(a[k], b[k])))


def chart(runs, png):
    """Page-table memory vs N, one line per method and object size."""
    data = []
    for meta, rows in runs[:1]:
        for r in rows:
            if r['kind'] == 'pt':
                data.append(r)
    if not data:
        return False
    script = ['set terminal png size 900,520',
              "set output '%s'" % png,
              "set title 'Page-table memory of N processes sharing one populated object (%s)'" % runs[0][0].get('kernel', ''),
              "set xlabel 'N (processes)'", "set ylabel 'page tables added by the N processes (kB; 0 drawn at 0.1)'",
              'set logscale xy', 'set key left top', 'set grid']
    series = []
    for size in sorted({r['size_mb'] for r in data}, key=int):
        for m in ('plain', 'hugetlb', 'mshare'):
            pts = [(int(r['n']), max(float(r['pt_kb_per_proc']) * int(r['n']), 0.1))
                   for r in data if r['method'] == m and r['size_mb'] == size]
            if pts:
                series.append(('%s, %s MiB' % (m, size), pts))
    plots = ', '.join("'-' with linespoints title '%s'" % t for t, _ in series)
    script.append('plot ' + plots)
    for _, pts in series:
        script += ['%d %g' % p for p in sorted(pts)] + ['e']
    try:
        subprocess.run(['gnuplot'], input='\n'.join(script) + '\n',
                       text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


def main():
    out_md, png = sys.argv[1], sys.argv[2]
    runs = [parse(p) for p in sys.argv[3:]]
    out = ['# mshare benchmarks', '',
           'Generated by `make bench` (scripts/bench.sh) from the runs below; '
           'do not edit by hand.', '',
           'Page-table bytes and fault counts are exact. Timings come from '
           'QEMU software emulation (TCG): only their ratios within one run '
           'mean something, not their absolute values. Each figure is the '
           'median of the repetitions given.', '']
    if chart(runs, png):
        out += ['![page-table memory vs N](%s)' % png.split('/')[-1], '']
    for meta, rows in runs:
        out.append('## Kernel %s' % meta.get('kernel', '?'))
        out.append('')
        out.append('Guest: %s of memory, 2 vCPUs. Command: `%s`.' % (
            meta.get('memory', '?'), meta.get('command', '')))
        out.append('')
        pt_table(rows, out)
        other_tables(rows, out)
        lim = [r for r in rows if r['kind'] == 'limit']
        for r in lim:
            out.append('')
            out.append('Attachers of a %s MiB object (%s): %s of %s started, page tables %s kB.' % (
                r['size_mb'], r['method'], r['attached'], r['max'], r['page_tables_kb']))
        out.append('')
    with open(out_md, 'w') as f:
        f.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    main()

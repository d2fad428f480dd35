#!/usr/bin/env python3
"""Turn the RESULT lines of `make bench-icount` runs into
docs/benchmarks-icount.md.  Usage: bench-icount-report.py OUT.md RUN-FILE...
Each RUN-FILE holds one guest run: a first line '# kernel KVER seconds S
command C', then the guest's output (RESULT icount module=... what=... n=N
reps=R median=X min=Y max=Z, see bench/icount_bench.c)."""
import statistics
import sys

UNRELATED = [
    ('anon_fault', 'anonymous page fault (per page)'),
    ('file_fault', 'file read fault, page cache hit (per fault; fault-around maps 16 pages)'),
    ('fork_exit', 'fork + exit + wait'),
    ('mmap_munmap', 'mmap + touch + munmap of one page'),
    ('gup_fast', 'vmsplice of 16 pages (GUP-fast) + read'),
]


def parse(path):
    meta, rows, prof = {}, [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith('# kernel '):
                parts = line[2:].split(' ', 5)
                meta = {'kernel': parts[1], 'seconds': parts[3],
                        'command': parts[5] if len(parts) > 5 else ''}
            elif line.startswith('RESULT icount '):
                row = {}
                for w in line.split()[2:]:
                    k, _, v = w.partition('=')
                    row[k] = v
                for k in ('median', 'min', 'max'):
                    row[k] = float(row[k])
                row['n'] = int(row['n'])
                row['reps'] = int(row['reps'])
                rows.append(row)
            elif line.startswith('RESULT profile '):
                row = dict(w.partition('=')[::2] for w in line.split()[2:])
                for k in ('n', 'changes', 'calls'):
                    row[k] = int(row[k])
                row['ns'] = float(row['ns'])
                prof.append(row)
    meta['profile'] = prof
    return meta, rows


def pick(rows, what, module='loaded', n=None):
    return [r for r in rows if r['what'] == what and
            r.get('module') == module and (n is None or r['n'] == n)]


def fmt(x):
    return '{:,.2f}'.format(x) if x < 100 else '{:,.0f}'.format(x)


def overhead(rows, what):
    """Per round: loaded median / unloaded median - 1 (the rounds alternate,
    so round i's pair ran side by side)."""
    un, lo = pick(rows, what, 'unloaded'), pick(rows, what)
    pairs = list(zip(un, lo))
    if not pairs:
        return None
    ratios = [l['median'] / u['median'] - 1 for u, l in pairs]
    return (statistics.median(r['median'] for r in un),
            min(r['min'] for r in un), max(r['max'] for r in un),
            statistics.median(r['median'] for r in lo),
            min(r['min'] for r in lo), max(r['max'] for r in lo),
            statistics.median(ratios), min(ratios), max(ratios), len(pairs))


def section(meta, rows, out, heads):
    k = meta['kernel']
    out.append('## Kernel %s' % k)
    out.append('')
    out.append('The guest run took %s s. Command: `%s`.' %
               (meta['seconds'], meta['command']))
    out.append('')
    out.append('### Unrelated work: module loaded vs not loaded')
    out.append('')
    out.append('Not loaded and loaded alternate in one boot; each cell is '
               'the median of all repetitions\' per-operation counts of '
               'that state, with the lowest and highest repetition. The '
               'overhead is the median over the rounds of loaded / not '
               'loaded, with the rounds\' lowest and highest.')
    out.append('')
    out.append('| workload | not loaded | loaded | overhead |')
    out.append('|---|---|---|---|')
    for what, label in UNRELATED:
        o = overhead(rows, what)
        if not o:
            continue
        out.append('| %s | %s (%s–%s) | %s (%s–%s) | %+.2f%% (%+.2f … %+.2f%%, %d rounds) |' %
                   (label, fmt(o[0]), fmt(o[1]), fmt(o[2]), fmt(o[3]),
                    fmt(o[4]), fmt(o[5]), 100 * o[6], 100 * o[7],
                    100 * o[8], o[9]))
        if what == 'anon_fault':
            heads.append((k, 'loaded-module overhead on an anonymous fault ≤ 0.3%',
                          '%+.2f%% (%s → %s)' % (100 * o[6], fmt(o[0]), fmt(o[3]))))
    out.append('')
    fp, fm = pick(rows, 'first_touch_plain'), pick(rows, 'first_touch_mshare')
    at, rt = pick(rows, 'attach_touch'), pick(rows, 'retouch')
    out.append('### mshare\'s own paths')
    out.append('')
    out.append('| what | median (lowest–highest) | ratio |')
    out.append('|---|---|---|')
    if fp and fm:
        p, m = fp[0], fm[0]
        out.append('| first-touch write fault, plain MAP_SHARED\\|MAP_ANONYMOUS (per page) | %s (%s–%s) | 1 |' %
                   (fmt(p['median']), fmt(p['min']), fmt(p['max'])))
        out.append('| first-touch write fault, mshare object (per page) | %s (%s–%s) | %.3f× plain |' %
                   (fmt(m['median']), fmt(m['min']), fmt(m['max']),
                    m['median'] / p['median']))
    if at and rt:
        a, r = at[0], rt[0]
        out.append('| read every page of a populated 1 GiB object again (the floor, per page) | %s (%s–%s) | 1 |' %
                   (fmt(r['median']), fmt(r['min']), fmt(r['max'])))
        out.append('| attach, then read every page (per page) | %s (%s–%s) | %.3f× the floor |' %
                   (fmt(a['median']), fmt(a['min']), fmt(a['max']),
                    a['median'] / r['median']))
        aq, rq = pick(rows, 'attach_touch_quiet'), pick(rows, 'retouch_quiet')
        for label, q in (('the floor', rq), ('attach + read', aq)):
            if q:
                out.append('| %s, repetitions without an interrupt in the window (%d of %s) | %s (%s–%s) | %.3f× the floor |' %
                           (label, q[0]['reps'], a['reps'], fmt(q[0]['median']),
                            fmt(q[0]['min']), fmt(q[0]['max']),
                            q[0]['median'] / (rq or [r])[0]['median']))
        if aq and rq:
            how = ('medians of the repetitions without an interrupt in the '
                   'window: %d and %d of %s; all: %.3f×' %
                   (aq[0]['reps'], rq[0]['reps'], a['reps'],
                    a['median'] / r['median']))
            a, r = aq[0], rq[0]
        else:
            how = ('medians of all %s repetitions: every attach window '
                   'took an interrupt' % a['reps'])
        heads.append((k, 'attach+touch of a populated 1 GiB object ≤ 1.1× the re-touch floor',
                      '%.3f× (%s)' % (a['median'] / r['median'], how)))
    mm, lf = pick(rows, 'attach_mmap'), pick(rows, 'link_fault')
    if mm and lf:
        out.append('| the attach alone: mmap() of the region (per attach) | %s (%s–%s) | |' %
                   (fmt(mm[0]['median']), fmt(mm[0]['min']), fmt(mm[0]['max'])))
        out.append('| the attach alone: the fault that links the slot (per attach) | %s (%s–%s) | %.1f%% of mmap + link |' %
                   (fmt(lf[0]['median']), fmt(lf[0]['min']), fmt(lf[0]['max']),
                    100 * lf[0]['median'] / (lf[0]['median'] + mm[0]['median'])))
    out.append('')
    ch = sorted(pick(rows, 'host_change'), key=lambda r: r['n'])
    if ch:
        base = ch[0]['median']
        out.append('### Host change (UNMAP + CREATE_MAPPING of 2 MiB) against the number of attachers')
        out.append('')
        out.append('Before every change (not timed) each attacher reads the '
                   'current object, so its slot is linked and every change '
                   'has every attacher\'s link to cut.')
        out.append('')
        out.append('| attachers | per change (lowest–highest) | vs %d attacher | added per attacher beyond the first |' %
                   ch[0]['n'])
        out.append('|---|---|---|---|')
        for r in ch:
            per = ((r['median'] - base) / (r['n'] - ch[0]['n'])
                   if r['n'] > ch[0]['n'] else 0)
            out.append('| %s | %s (%s–%s) | %.2f× | %s |' %
                       ('{:,}'.format(r['n']), fmt(r['median']), fmt(r['min']),
                        fmt(r['max']), r['median'] / base,
                        fmt(per) if r['n'] > ch[0]['n'] else '–'))
        out.append('')
        thousand = [r for r in ch if r['n'] == 1000]
        if thousand:
            heads.append((k, 'host change, 1 → 1,000 attachers ≤ 2×',
                          '%.2f×' % (thousand[0]['median'] / base)))
        profile(meta['profile'], out)
        big = ch[-1]
        heads.append((k, 'host change with %s attachers' % fmt(big['n']),
                      '%s instruction-ns (%.1f× one attacher)' %
                      (fmt(big['median']), big['median'] / base)))


PROFILE = [
    ('mshare_host_op_exec', 'the whole change, from the ioctl (thread start, begin, host work, end)'),
    ('mshare_host_change_begin_fast', 'begin of a fast change: host_busy, the host lock drained'),
    ('mshare_host_change_begin', 'begin of a slow change (none here): per attacher its mmap write lock, its VMA looked up, write-locked, links cut'),
    ('mshare_attach_unlink', '  of which: cut the links'),
    ('mshare_flush_mm', '  of which: the attacher\'s TLB flush after the cut'),
    ('down_write_killable', 'mmap write locks: the host mm\'s (its drain, its mmap and munmap)'),
    ('mtree_load', 'maple tree lookups: each attachment\'s VMA in begin, and any other'),
    ('queue_delayed_work_on', 'begin: arm the 30 s lock timer (once per change), and other delayed work'),
    ('cancel_delayed_work_sync', 'begin: disarm it (once per change)'),
    ('vm_munmap', 'host work: munmap in the host (includes forwarding and flushes)'),
    ('vm_mmap_pgoff', 'host work: mmap in the host (includes forwarding and flushes)'),
    ('mshare_host_forward', 'notifier forwarding to the attachers whose mm may have another subscriber (start and end)'),
    ('mshare_flush_attachers', 'host TLB flush reaching every attacher'),
    ('mshare_host_to_attach', 'a few-instruction function: the tracer\'s own cost per call'),
]


def profile(prof, out):
    """The function-graph profile of the host change (icount-guest.sh):
    instruction-ns per change in each function, with 1 attacher and with
    the most profiled, and what each attacher beyond the first adds."""
    ns = sorted({r['n'] for r in prof})
    if len(ns) < 2:
        return
    lo, hi = ns[0], ns[-1]
    by = {(r['fn'], r['n']): r for r in prof}
    out.append('#### Where a host change\'s instructions go (function-graph profile)')
    out.append('')
    out.append('Each function is traced alone over 5 timed changes (the '
               'function graph tracer, its filter holding only that '
               'function), with %d and with %s linked attachers. A '
               'function\'s figure includes its callees; rows that say '
               '"of which" are parts of the row above. Every traced call also carries the '
               'tracer\'s own cost (below the table).' %
               (lo, '{:,}'.format(hi)))
    out.append('')
    # The tracer's cost per call: a function of a few instructions called
    # per attacher.  mshare_host_to_attach is called only for attachments
    # that forwarding tells, which the benchmark's attachers are not; then
    # the uncontended down_write_killable stands in, an upper bound.
    cal_fn = 'mshare_host_to_attach'
    cal = by.get((cal_fn, hi))
    if not (cal and cal['calls']):
        cal_fn = 'down_write_killable'
        cal = by.get((cal_fn, hi))
    per_call = cal['ns'] / cal['calls'] if cal and cal['calls'] else None
    out.append('| function | what it is | calls per change (%d / %s) | per change, %d attacher | per change, %s attachers | added per attacher | the same, less the tracer\'s cost per call |' %
               (lo, '{:,}'.format(hi), lo, '{:,}'.format(hi)))
    out.append('|---|---|---|---|---|---|---|')
    for fn, label in PROFILE:
        a, b = by.get((fn, lo)), by.get((fn, hi))
        if (not a or not b or not a['changes'] or not b['changes'] or
                not b['calls']):
            continue
        pa, pb = a['ns'] / a['changes'], b['ns'] / b['changes']
        ca, cb = a['calls'] / a['changes'], b['calls'] / b['changes']
        net = ('–' if per_call is None or fn == cal_fn else
               fmt(((pb - cb * per_call) - (pa - ca * per_call)) / (hi - lo)))
        out.append('| `%s` | %s | %s / %s | %s | %s | %s | %s |' %
                   (fn, label.strip(), fmt(ca), fmt(cb), fmt(pa), fmt(pb),
                    fmt((pb - pa) / (hi - lo)), net))
    out.append('')
    if per_call is not None and cal_fn == 'mshare_host_to_attach':
        out.append('The tracer\'s cost per traced call is taken as the '
                   'time of `mshare_host_to_attach` per call (%s), a '
                   'function of a few instructions; the last column '
                   'subtracts it from every call.' % fmt(per_call))
    elif per_call is not None:
        out.append('`mshare_host_to_attach` was not called (it runs only '
                   'for attachers whose mm may have a subscriber other '
                   'than mshare\'s own, and these have none), so the '
                   'tracer\'s cost per traced call is taken as the time '
                   'of `down_write_killable` per call (%s): uncontended, '
                   'its own body is a few dozen instructions, so this '
                   'over-estimates the tracer\'s cost and the last column '
                   'is a lower bound.' % fmt(per_call))
    else:
        out.append('No module function was traced in this run, so the '
                   'tracer\'s cost per call is not known here: the figures '
                   'include it.')
    out.append('')


def main():
    out_md, runs = sys.argv[1], sys.argv[2:]
    body, heads = [], []
    for path in runs:
        meta, rows = parse(path)
        section(meta, rows, body, heads)
    out = ['# mshare instruction-counted benchmarks', '',
           'Generated by `make bench-icount` (scripts/bench-icount.sh) '
           'from the runs below; do not edit by hand.', '',
           'The guests run under QEMU with `-icount shift=0,sleep=off` and '
           'one vCPU: the guest clock advances by exactly one nanosecond '
           'per guest instruction, so every figure is **instructions per '
           'operation** ("instruction-ns"), not time. Repetitions agree to '
           'a fraction of a percent whatever the host is doing, which is '
           'what resolving a 0.3% effect needs. Instructions are not '
           'cycles: a cache miss or a serialising instruction counts as '
           'one. Wall-clock figures (page-table bytes, faults, sharers '
           'per GiB, emulated times) are in [benchmarks.md](benchmarks.md).',
           '',
           'How to read them: the loaded module\'s cost to unrelated work '
           'is what the hook adds to every fault: the ftrace direct call '
           'on handle_mm_fault, a few instructions that return at once '
           'for a VMA that is not an attachment (see '
           '[architecture.md](architecture.md) §4). mshare\'s own '
           'first-touch fault pays the redirect, and on kernels with '
           'per-VMA locks (6.12, 7.3) the retry under the mmap lock. '
           'A host change is a fast one (the host keeps its page tables, '
           'so no attacher is locked or cut: architecture.md, invariant '
           '1): what it pays per attacher is the host TLB flush reaching '
           'each attacher (a generation bump and its CPU mask, for each '
           'flush of the change), and the forwarding of the invalidation '
           'into its notifier chain only if its mm may have a subscriber '
           'other than mshare\'s own, which the benchmark\'s attachers '
           'have not: still linear in the attachers, at a few dozen '
           'instructions each; each kernel\'s profile below says how much '
           'each part costs. The fault '
           'that links a slot is about a tenth of an attach (mmap + link) '
           'and under 0.2% of attaching and reading 1 GiB, so linking at '
           'mmap time would save little. Attach + touch is measured over a '
           'window of about 1.3 M instructions, and a timer tick (every '
           '4 M instructions at HZ=250) adds 0.09–0.27 M instructions to '
           'the repetitions it falls in, and not to the others: the target uses the '
           'repetitions whose window took no interrupt (the `intr` count '
           'of /proc/stat, read before and after it), and the table gives '
           'all repetitions too.',
           '', '## Targets', '', '| kernel | target | measured |',
           '|---|---|---|']
    for k, t, m in heads:
        out.append('| %s | %s | %s |' % (k, t, m))
    out.append('')
    with open(out_md, 'w') as f:
        f.write('\n'.join(out + body) + '\n')


if __name__ == '__main__':
    main()

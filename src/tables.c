// SPDX-License-Identifier: GPL-2.0
/*
 * Rule K: no host page table under a region is freed while the region
 * lives (docs/architecture.md, "Kept tables").
 *
 * A change that frees host tables must first make sure no attacher walks
 * them: take every attacher's mmap lock and cut its links, a cost that
 * grows with the attachers (host.c's slow path).  If the host never frees
 * a table, a walker that read a link, or any upper-level entry below it,
 * before a change always reaches a live table of the same address, whose
 * entries change only under its split locks, as a process's own tables
 * do under truncation or reclaim; so a change needs no attacher lock.
 *
 * Every table free of a VMA range goes through free_pgd_range() (munmap,
 * MAP_FIXED replacement, mmap's error paths, hugetlb's too).  The hook
 * (hook.c) sends a call for a live host to an empty function unless the
 * calling task is a change thread that has said frees are safe (host.c,
 * mshare_host_clear_tables()).  exit_mmap() runs with mm_users at zero and
 * frees as usual; mshare_tables_release() first gives every gap a VMA, so
 * that it reaches the tables kept under gaps too.
 *
 * Limits: ftrace skips every callback of an ops whose recursion guard it
 * finds taken; no caller of free_pgd_range() runs inside an ftrace
 * callback.  The self-test covers the non-hugetlb call in free_pgtables();
 * a compiler clone used only by hugetlb's call would pass it
 * (scripts/pgd-range-calls.sh checks each kernel of the matrix).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/sched/mm.h>

#include "mshare.h"

/* Set once by the self-test at load: kept tables work on this kernel. */
bool mshare_tables_kept_ok __read_mostly;

/*
 * A live host's frees go through only for a change thread that asked for
 * them (host.c, mshare_host_clear_tables(): the slow path, every attacher
 * locked out, and floor and ceiling pinned so that no kept table outside
 * the range is orphaned).
 */
static bool mshare_tables_may_free(void)
{
	struct mshare_tables_task *t;

	if (kthread_func(current) != mshare_host_op_thread)  /* NULL: no kthread */
		return false;
	t = kthread_data(current);
	return READ_ONCE(t->free_tables);
}

/*
 * Called from the hook on free_pgd_range(tlb->mm, ...) for every process
 * on the machine: the first test is one load and one bit.  Host mms carry
 * VM_WIPEONFORK in def_flags (host.c), which no process's can.
 */
bool mshare_host_keeps_tables(struct mm_struct *mm)
{
	if (likely(!(mm->def_flags & VM_WIPEONFORK)))
		return false;
	if (!atomic_read(&mm->mm_users))
		return false;		/* exit_mmap(): nothing walks it now */
	return !mshare_tables_may_free();
}

/*
 * Work in a host mm needs a kernel thread (kthread_use_mm()).  One worker,
 * made at load: a thread made at each destroy could fail (kthread_run()
 * returns -EINTR to a caller with SIGKILL pending, as at exit), and a
 * workqueue item would give lockdep a false cycle through the mmap_lock
 * class.  Its work never drops a file, so it never waits for deferred
 * fput()s (on 7.x flush_delayed_fput() waits for the fput worker, which
 * may be the very task waiting for this work).
 */
static struct kthread_worker *mshare_tables_worker;

struct mshare_tables_work {
	struct kthread_work	work;
	struct mm_struct	*mm;
	unsigned long		len;		/* the region's size */
	bool			selftest;
	bool			kept;		/* self-test: tables stayed */
	bool			filled;		/* every gap has a VMA */
};

#define MSHARE_SELFTEST_LEN	(4UL << 20)

/*
 * exit_mmap() frees the tables under VMAs only, and free_pgtables() frees
 * an upper-level table once no VMA is left in its span, orphaning any
 * table below it that a gap still holds.  So before the host's last
 * mmput(): a PROT_NONE reserve in every gap of the region (MAP_FIXED on a
 * range with no VMA: nothing is unmapped, no file dropped); with every
 * address under a VMA, exit_mmap() visits every table.  NORESERVE and
 * PROT_NONE: no commit charge.  If a gap cannot be filled (no memory for
 * a VMA, or the host is at its map count), every object is unmapped first
 * (tables kept: this is a live host) and one reserve covers the region;
 * the objects' files are then closed by the deferred fput() worker, a
 * little later.
 */
static bool mshare_tables_fill_gaps(struct mm_struct *mm, unsigned long len)
{
	unsigned long addr = MSHARE_HOST_BASE, end = MSHARE_HOST_BASE + len;
	struct vm_area_struct *vma;
	unsigned long gap_end, r;

	while (addr < end) {
		mmap_read_lock(mm);
		vma = find_vma(mm, addr);
		gap_end = vma ? min(vma->vm_start, end) : end;
		if (gap_end <= addr) {
			addr = vma->vm_end;
			mmap_read_unlock(mm);
			continue;
		}
		mmap_read_unlock(mm);
		r = vm_mmap(NULL, addr, gap_end - addr, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
			    MAP_NORESERVE, 0);
		if (IS_ERR_VALUE(r))
			return false;
		addr = gap_end;
	}
	return true;
}

static void mshare_tables_reserve(struct mshare_tables_work *w)
{
	unsigned long r;

	w->filled = mshare_tables_fill_gaps(w->mm, w->len);
	if (w->filled)
		return;
	vm_munmap(MSHARE_HOST_BASE, w->len);
	r = vm_mmap(NULL, MSHARE_HOST_BASE, w->len, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
		    0);
	w->filled = !IS_ERR_VALUE(r);
}

/* The self-test: does a munmap in a live host keep its tables here? */
static void mshare_tables_selftest_run(struct mshare_tables_work *w)
{
	unsigned long r, before;

	r = vm_mmap(NULL, MSHARE_HOST_BASE, MSHARE_SELFTEST_LEN,
		    PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE, 0);
	if (IS_ERR_VALUE(r))
		return;
	before = mm_pgtables_bytes(w->mm);
	vm_munmap(MSHARE_HOST_BASE, MSHARE_SELFTEST_LEN);
	w->kept = before && mm_pgtables_bytes(w->mm) == before;
}

static void mshare_tables_work_fn(struct kthread_work *work)
{
	struct mshare_tables_work *w = container_of(work,
						    struct mshare_tables_work,
						    work);

	kthread_use_mm(w->mm);
	if (w->selftest)
		mshare_tables_selftest_run(w);
	mshare_tables_reserve(w);
	kthread_unuse_mm(w->mm);
}

static void mshare_tables_run(struct mshare_tables_work *w)
{
	kthread_init_work(&w->work, mshare_tables_work_fn);
	kthread_queue_work(mshare_tables_worker, &w->work);
	kthread_flush_work(&w->work);
}

/*
 * Make every table of a host that no attacher can reach any more (the
 * region's last reference is gone) reachable by its exit_mmap(), before
 * the last mmput().  What cannot be made so leaks, which the kernel
 * reports at the mm's free; never a wrong free.
 */
void mshare_tables_release(struct mm_struct *host, u64 size)
{
	struct mshare_tables_work w = { .mm = host, .len = size };

	mshare_tables_run(&w);
	if (!w.filled)
		pr_err("cannot map a reserve over a region being destroyed: its page tables under unmapped ranges leak\n");
}

/*
 * At load, after the hooks: keep tables only where the kernel lets the
 * hook see every free.  A compiler copy of free_pgd_range() that callers
 * use instead of the hooked one would free under attachers' walkers; the
 * self-test finds that (no table kept) and every change then takes the
 * slow path, which needs no kept table.  The scratch host is then torn
 * down like a region's: a leak there is reported at load.
 */
int mshare_tables_init(void)
{
	struct mshare_tables_work w = { .selftest = true,
					.len = MSHARE_ALIGN };

	mshare_tables_worker = kthread_create_worker(0, "mshare-tables");
	if (IS_ERR(mshare_tables_worker))
		return PTR_ERR(mshare_tables_worker);
	if (!current->mm)
		goto out;
	w.mm = mshare_mm_alloc();
	if (!w.mm)
		goto out;
	mshare_copy_mmap_layout(w.mm, current->mm);
	/* No THP: a huge PMD's deposited table is freed by its zap. */
	w.mm->def_flags |= VM_WIPEONFORK | VM_NOHUGEPAGE;
	mshare_tables_run(&w);
	mshare_tables_kept_ok = w.kept && w.filled;
	mmput(w.mm);
out:
	if (!mshare_tables_kept_ok)
		pr_warn("page tables of regions cannot be kept on this kernel (self-test: kept %d, reserve %d): every change takes the slow path\n",
			w.kept, w.filled);
	return 0;
}

void mshare_tables_exit(void)
{
	kthread_destroy_worker(mshare_tables_worker);
}

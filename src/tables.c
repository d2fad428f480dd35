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
 * calling task is a host change (or this file's own thread) that has said
 * frees are safe: the slow path, after it has cut and locked out every
 * attacher.  exit_mmap() runs with mm_users at zero and frees as usual.
 *
 * Tables kept under gaps with no VMA are visited by nothing at exit, so
 * the host is torn down by mshare_tables_release(): a PROT_NONE reserve
 * over the whole region, unmapped with frees allowed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/sched/mm.h>

#include "mshare.h"

/* Set once by the self-test at load: kept tables work on this kernel. */
bool mshare_tables_kept_ok __read_mostly;

static int mshare_tables_thread(void *data);

/*
 * The task's say on its frees, if it is one of ours: a change thread or
 * this file's.  Both have a struct mshare_tables_task first in their
 * kthread data.
 */
static bool mshare_tables_may_free(void)
{
	void *fn = kthread_func(current);	/* NULL unless a kthread */
	struct mshare_tables_task *t;

	if (fn != mshare_host_op_thread && fn != mshare_tables_thread)
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
 * Work in a host mm that needs a kernel thread of our own: kthread_use_mm()
 * is for kthreads only, and a workqueue item would give lockdep a false
 * cycle through the mmap_lock class (the caller may hold another mm's).
 */
struct mshare_tables_work {
	struct mshare_tables_task task;		/* first: kthread_data() */
	struct completion	done;
	struct mm_struct	*mm;
	unsigned long		len;		/* the region's size */
	bool			selftest;
	bool			kept;		/* self-test: tables stayed */
	unsigned long		left;		/* table bytes after release */
};

#define MSHARE_SELFTEST_LEN	(4UL << 20)

/*
 * The reserve: one PROT_NONE VMA over the whole region, replacing what is
 * placed there, then unmapped with frees allowed: free_pgtables() now
 * visits every table under it, gaps included.  NORESERVE and PROT_NONE:
 * no commit charge.  A failure to map it (no memory for a VMA) leaves the
 * tables under gaps: they leak, which the kernel reports at the mm's
 * free; never a wrong free.
 */
static void mshare_tables_reserve_free(struct mshare_tables_work *w)
{
	unsigned long r = -ENOMEM;
	int tries;

	WRITE_ONCE(w->task.free_tables, true);
	for (tries = 0; tries < 3 && IS_ERR_VALUE(r); tries++) {
		r = vm_mmap(NULL, MSHARE_HOST_BASE, w->len, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
			    MAP_NORESERVE, 0);
		cond_resched();
	}
	vm_munmap(MSHARE_HOST_BASE, w->len);
	w->left = mm_pgtables_bytes(w->mm);
}

/*
 * The self-test: does a munmap in a live host keep its tables on this
 * kernel (the hook is reached), and does the release free them all?
 */
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

static int mshare_tables_thread(void *data)
{
	struct mshare_tables_work *w = data;

	kthread_use_mm(w->mm);
	if (w->selftest)
		mshare_tables_selftest_run(w);
	mshare_tables_reserve_free(w);
	kthread_unuse_mm(w->mm);
	/* A kthread's fput() is deferred: close the objects' files now. */
	flush_delayed_fput();
	complete(&w->done);
	return 0;
}

/* Run w in a thread of its own; false if none could be made. */
static bool mshare_tables_run(struct mshare_tables_work *w)
{
	struct task_struct *tsk;

	init_completion(&w->done);
	tsk = kthread_run(mshare_tables_thread, w, "mshare-release");
	if (IS_ERR(tsk))
		return false;
	wait_for_completion(&w->done);
	return true;
}

/*
 * Free every table of a host that no attacher can reach any more (the
 * region's last reference is gone), before its last mmput().  Whatever
 * is left is reported here; the mm's own check reports it again.
 */
void mshare_tables_release(struct mm_struct *host, u64 size)
{
	struct mshare_tables_work w = { .mm = host, .len = size };

	if (!mshare_tables_run(&w)) {
		pr_err("cannot start a thread to free a region's page tables: those under unmapped ranges leak\n");
		return;
	}
	if (w.left)
		pr_err("a region's page tables were not all freed: %lu bytes leak\n",
		       w.left);
}

/*
 * At load, after the hooks: keep tables only where the kernel lets the
 * hook see every free.  A compiler copy of free_pgd_range() that callers
 * use instead of the hooked one would free under attachers' walkers; the
 * self-test finds that (no table kept) and every change takes the slow
 * path, which needs no kept table.
 */
void mshare_tables_selftest(void)
{
	struct mshare_tables_work w = { .selftest = true,
					.len = MSHARE_ALIGN };

	if (!current->mm)
		return;
	w.mm = mshare_mm_alloc();
	if (!w.mm)
		goto out;
	mshare_copy_mmap_layout(w.mm, current->mm);
	/* No THP: a huge PMD's deposited table is freed by its zap. */
	w.mm->def_flags |= VM_WIPEONFORK | VM_NOHUGEPAGE;
	if (mshare_tables_run(&w))
		mshare_tables_kept_ok = w.kept && !w.left;
	mmput(w.mm);
out:
	if (!mshare_tables_kept_ok)
		pr_warn("page tables of regions cannot be kept on this kernel (self-test: kept %d, %lu bytes left): every change takes the slow path\n",
			w.kept, w.left);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The host mm of a region: a module-owned mm_struct that holds the region's
 * memory objects and their page tables, shared by every attacher.
 *
 * Memory objects are placed with real mmap semantics: a kernel thread per
 * change adopts the host mm (kthread_use_mm) and calls vm_mmap()/vm_munmap()
 * with the *caller's* credentials, memory cgroup and rlimits, so permission
 * checks, LSM hooks (security_mmap_file inside vm_mmap), kernel-memory
 * charges and limits are the caller's.
 *
 * Host changes follow one protocol (mshare_host_change_begin/end) that
 * keeps invariant 1 of the design: before the host may free or replace a
 * page table, no attacher links to it and no attacher walks it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/file.h>
#include <linux/hugetlb.h>
#include <linux/kthread.h>
#include <linux/magic.h>
#include <linux/memcontrol.h>
#include <linux/module.h>
#include <linux/resource.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>

#include "mshare.h"

/*
 * One host change (a vm_mmap() or vm_munmap() in the host mm), run by a
 * kernel thread of its own.  A thread per change, not one shared worker:
 * one region's slow change (a large MAP_POPULATE, a slow file) never
 * delays another region's, and the thread's rlimits can be the caller's.
 * The caller waits killably: the change is refcounted and finishes on its
 * own if the caller dies.
 */
struct mshare_host_op {
	struct mshare_tables_task task;		/* first: kthread_data() */
	refcount_t		ref;		/* the caller and the thread */
	struct completion	done;
	struct mshare_region	*region;
	/* The caller's: whose rights, charges and limits the change has. */
	const struct cred	*cred;
	struct mem_cgroup	*memcg;
	struct rlimit		rlim[3];
	struct file		*file;		/* NULL: anonymous */
	unsigned long		addr, len, prot, flags, offset;
	bool			unmap;
	bool			serial;		/* mshare_hugetlb_lock, late populate */
	unsigned long		result;
};

/* The limits mmap() checks: mlock_future_ok() and may_expand_vm(). */
static const unsigned int mshare_host_rlimits[] = {
	RLIMIT_MEMLOCK, RLIMIT_AS, RLIMIT_DATA,
};

static int mshare_host_object_ok(struct file *file);
static unsigned long mshare_huge_size(struct file *file);

/*
 * hugetlb shares PMD tables between mappings of a file that cover the
 * same 1 GiB-aligned range with equal flags (huge_pmd_share()), and
 * unshares them on truncation, hole punch and migration
 * (huge_pmd_unshare()), outside the host-change protocol: the other mm
 * could then free a table while an attacher's slow walker still reads
 * it.  Host VMAs carry VM_WIPEONFORK (the host mm's def_flags; it means
 * nothing there, a host never forks), which no process's mapping of a
 * file can have, so page_table_shareable() never pairs a host with a
 * process, in either direction.  Another host's VMA could pair with ours:
 * would it?  The test of page_table_shareable() and want_pmd_share(), made
 * conservatively: equal flags but for the lock bits, the same placement
 * modulo 1 GiB, and file ranges that both cover whole 1 GiB-aligned
 * blocks of, overlapping.
 */
static bool mshare_pmd_shareable(const struct vm_area_struct *a,
				 const struct vm_area_struct *b)
{
	const unsigned long lock = VM_LOCKED | VM_LOCKONFAULT;
	unsigned long alo, ahi, blo, bhi;

	if ((a->vm_flags & ~lock) != (b->vm_flags & ~lock))
		return false;
	if (((a->vm_start - (a->vm_pgoff << PAGE_SHIFT)) ^
	     (b->vm_start - (b->vm_pgoff << PAGE_SHIFT))) & ~PUD_MASK)
		return false;
	/* File pages inside whole 1 GiB blocks of each; congruent, so aligned */
	alo = a->vm_pgoff + ((ALIGN(a->vm_start, PUD_SIZE) - a->vm_start) >>
			     PAGE_SHIFT);
	ahi = a->vm_pgoff + ((ALIGN_DOWN(a->vm_end, PUD_SIZE) - a->vm_start) >>
			     PAGE_SHIFT);
	blo = b->vm_pgoff + ((ALIGN(b->vm_start, PUD_SIZE) - b->vm_start) >>
			     PAGE_SHIFT);
	bhi = b->vm_pgoff + ((ALIGN_DOWN(b->vm_end, PUD_SIZE) - b->vm_start) >>
			     PAGE_SHIFT);
	return alo < ahi && blo < bhi && max(alo, blo) < min(ahi, bhi);
}

/*
 * Could another host VMA share a PMD table with our new hugetlb VMA?  One
 * of the same host too: hugetlb pairs VMAs within an mm as well, and once
 * unshared, a table kept under one address (tables.c) would still be
 * reachable by a walker that read the other's entry.
 */
static bool mshare_hugetlb_pairs(struct vm_area_struct *vma)
{
	struct address_space *mapping = vma->vm_file->f_mapping;
	struct rb_node *node;
	bool found = false;

	i_mmap_lock_read(mapping);
	for (node = rb_first_cached(&mapping->i_mmap); node && !found;
	     node = rb_next(node)) {
		struct vm_area_struct *other = rb_entry(node,
							struct vm_area_struct,
							shared.rb);

		found = other != vma &&
			(other->vm_flags & VM_WIPEONFORK) &&
			mshare_pmd_shareable(vma, other);
	}
	i_mmap_unlock_read(mapping);
	return found;
}

/*
 * What a placement mapped, checked in the VMAs themselves: a stacking
 * filesystem (overlayfs) hands mmap its real file, so the checks on the
 * file the caller passed are not enough.  Refused, after the fact:
 *  - raw PFNs (VM_PFNMAP, VM_IO, VM_MIXEDMAP: device memory, /dev/mem,
 *    PCI resource files): no struct page behind some entries, and generic
 *    walkers and GUP in an attacher, which see an ordinary VMA, would take
 *    them for normal pages ("Bad page map");
 *  - the objects mshare_host_object_ok() and mshare_huge_size() refuse,
 *    reached through another file;
 *  - hugetlb VMAs another host could share a PMD table with (above).
 * Runs in the change's thread, in the host mm; undoes the mmap on refusal.
 */
static int mshare_host_check_placed(struct mshare_host_op *op)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	int err = 0;

	mmap_read_lock(mm);
	for (vma = vma_lookup(mm, op->addr); vma && !err &&
	     vma->vm_start < op->addr + op->len;
	     vma = find_vma(mm, vma->vm_end)) {
		if (vma->vm_flags & (VM_PFNMAP | VM_IO | VM_MIXEDMAP)) {
			pr_info_ratelimited("refusing a raw-PFN object (VM_PFNMAP/VM_IO/VM_MIXEDMAP): pages without struct page cannot be shared\n");
			err = -ENODEV;
		} else if (op->file && vma->vm_file != op->file) {
			/* (Anonymous objects: a shmem file of mmap's own.) */
			err = mshare_host_object_ok(vma->vm_file);
			if (!err && mshare_huge_size(vma->vm_file) > PMD_SIZE)
				err = -EINVAL;
		}
		if (!err && is_vm_hugetlb_page(vma) && !op->serial) {
			/* kept PTE tables were not cleared under it */
			mshare_alarm("a hugetlb VMA from a non-hugetlbfs file\n");
			err = -EINVAL;
		}
		if (!err && is_vm_hugetlb_page(vma) &&
		    mshare_hugetlb_pairs(vma)) {
			pr_info_ratelimited("refusing a hugetlbfs object that another region holds alike: the two would share page tables\n");
			err = -EBUSY;
		}
	}
	mmap_read_unlock(mm);
	if (err)
		vm_munmap(op->addr, op->len);
	return err;
}

/*
 * hugetlbfs placements, one at a time machine-wide from the mmap to the
 * check, and populated only once checked: two regions placing the same
 * file at once would otherwise each miss the other, or share a table
 * before the check could refuse it.  Only the mmap and the check are
 * serialised (no pages are touched under the mutex).  Files of stacking
 * filesystems go this way too: their mmap may turn out to map hugetlbfs.
 */
static DEFINE_MUTEX(mshare_hugetlb_lock);

/*
 * Before a hugetlb placement (or one that may turn out to be, through a
 * stacking filesystem): free the page tables kept under its range.  A
 * hugetlb fault BUGs on a PMD entry that points to a PTE table
 * (huge_pte_alloc()), and kept tables may sit under gaps where no VMA
 * would have them freed.  Only a slow change places these
 * (mshare_host_op_fast()), so frees are safe for attachers here; they
 * must not orphan kept tables outside the range either: free_pgtables()
 * frees an upper-level table once no VMA is left in its span, between the
 * neighbours' ends, whatever a gap below it still holds.  So the
 * neighbours are pinned to the range's ends first (a PROT_NONE page where
 * there is none), the range becomes one PROT_NONE reserve (tables kept:
 * every table under it is then under one VMA), and only that is unmapped
 * with frees allowed.  On failure the placement fails, the range possibly
 * unmapped, as after a failed MAP_FIXED mmap().
 */
#define MSHARE_RESERVE	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)

static long mshare_host_clear_tables(struct mshare_host_op *op)
{
	unsigned long lo = op->addr - PAGE_SIZE, hi = op->addr + op->len;
	bool have_lo, have_hi = false;
	unsigned long r;
	long err = 0;

	r = vm_mmap(NULL, lo, PAGE_SIZE, PROT_NONE,
		    MSHARE_RESERVE | MAP_FIXED_NOREPLACE, 0);
	have_lo = !IS_ERR_VALUE(r);
	if (!have_lo && r != -EEXIST)
		return r;
	r = vm_mmap(NULL, hi, PAGE_SIZE, PROT_NONE,
		    MSHARE_RESERVE | MAP_FIXED_NOREPLACE, 0);
	have_hi = !IS_ERR_VALUE(r);
	if (!have_hi && r != -EEXIST) {
		err = r;
		goto out;
	}
	r = vm_mmap(NULL, op->addr, op->len, PROT_NONE,
		    MSHARE_RESERVE | MAP_FIXED, 0);
	if (IS_ERR_VALUE(r)) {
		err = r;
		goto out;
	}
	WRITE_ONCE(op->task.free_tables, true);
	/* (splitting the reserve off a pinned end may fail: no memory) */
	err = vm_munmap(op->addr, op->len);
	WRITE_ONCE(op->task.free_tables, false);
out:
	if (have_hi)
		vm_munmap(hi, PAGE_SIZE);
	if (have_lo)
		vm_munmap(lo, PAGE_SIZE);
	return err;
}

static void mshare_host_map(struct mshare_host_op *op)
{
	unsigned long populate = op->flags & (MAP_POPULATE | MAP_LOCKED);
	long err;

	if (!op->serial) {
		op->result = vm_mmap(op->file, op->addr, op->len, op->prot,
				     op->flags, op->offset);
		if (!IS_ERR_VALUE(op->result)) {
			err = mshare_host_check_placed(op);
			if (err)
				op->result = err;
		}
		return;
	}
	/*
	 * MAP_LOCKED populates (hugetlb VMAs are never VM_LOCKED); its
	 * permission check stays: mmap() would fail with EPERM.
	 */
	if ((op->flags & MAP_LOCKED) && !can_do_mlock()) {
		op->result = -EPERM;
		return;
	}
	op->result = mshare_host_clear_tables(op);
	if (op->result)
		return;
	mutex_lock(&mshare_hugetlb_lock);
	op->result = vm_mmap(op->file, op->addr, op->len, op->prot,
			     op->flags & ~populate, op->offset);
	if (!IS_ERR_VALUE(op->result)) {
		err = mshare_host_check_placed(op);
		if (err)
			op->result = err;
	}
	mutex_unlock(&mshare_hugetlb_lock);
	/* As MAP_POPULATE (populate_vma_page_range()): errors ignored. */
	if (!IS_ERR_VALUE(op->result) && populate)
		get_user_pages_unlocked(op->addr, op->len >> PAGE_SHIFT, NULL,
					op->prot != PROT_NONE ? FOLL_FORCE : 0);
}

/*
 * The change itself, in the host mm, as the caller: its credentials (so
 * permission checks and LSM hooks are the caller's), its memory cgroup
 * for every kernel allocation (VMAs, shmem inodes, files, page tables of
 * MAP_POPULATE: all __GFP_ACCOUNT), and its rlimits (this thread's own
 * signal_struct, so setting them touches no one else).
 */
static void mshare_host_op_run(struct mshare_host_op *op)
{
	struct mm_struct *host = op->region->host;
	struct mem_cgroup *old_memcg;
	const struct cred *old;
	int i;

	task_lock(current->group_leader);
	for (i = 0; i < ARRAY_SIZE(mshare_host_rlimits); i++)
		current->signal->rlim[mshare_host_rlimits[i]] = op->rlim[i];
	task_unlock(current->group_leader);

	old_memcg = set_active_memcg(op->memcg);
	kthread_use_mm(host);
	old = override_creds(op->cred);
	if (op->unmap)
		op->result = vm_munmap(op->addr, op->len);
	else
		mshare_host_map(op);
	revert_creds(old);
	kthread_unuse_mm(host);
	set_active_memcg(old_memcg);
}

static void mshare_host_op_put(struct mshare_host_op *op)
{
	if (!refcount_dec_and_test(&op->ref))
		return;
	if (op->file)
		fput(op->file);
	put_cred(op->cred);
	mem_cgroup_put(op->memcg);
	mshare_region_put(op->region);
	kfree(op);
}

static bool mshare_host_claim(struct mshare_region *region)
{
	bool claimed;

	spin_lock(&region->attach_lock);
	claimed = !region->changing;
	region->changing = true;
	spin_unlock(&region->attach_lock);
	return claimed;
}

static void mshare_host_unclaim(struct mshare_region *region)
{
	spin_lock(&region->attach_lock);
	region->changing = false;
	spin_unlock(&region->attach_lock);
	wake_up_all(&region->change_done);
}

static int mshare_host_change_begin(struct mshare_region *region,
				    bool tracked);
static int mshare_host_change_begin_fast(struct mshare_region *region);
static void mshare_host_change_end(struct mshare_region *region);

/*
 * Fast changes (tables.c, Rule K): on where the load-time self-test showed
 * that host tables can be kept.  Off, every change takes the slow path,
 * which locks out every attacher first (the escape hatch, and what the
 * tests of that path use).
 */
static bool mshare_fast_change = true;
module_param_named(fast_change, mshare_fast_change, bool, 0644);
MODULE_PARM_DESC(fast_change,
		 "host changes that take no attacher lock, where page tables can be kept (default: on)");

/*
 * Does this change place an object whose writes through attachments need
 * dirty tracking?  A writable file that is neither shmem nor hugetlbfs:
 * its filesystem must hear of writes (page_mkwrite) and write back what
 * they dirty.  A file of a stacking filesystem counts, whatever it stacks.
 */
static bool mshare_host_op_tracked(const struct mshare_host_op *op)
{
	unsigned long magic;

	if (op->unmap || !op->file || !(op->prot & PROT_WRITE))
		return false;
	magic = file_inode(op->file)->i_sb->s_magic;
	return magic != TMPFS_MAGIC && magic != HUGETLBFS_MAGIC;
}

/*
 * May this change run without the attachers' locks (with the host's
 * tables kept)?  Not if the self-test failed or the parameter says no;
 * not for a placement that may be hugetlb (serial: kept PTE tables must
 * be freed under its range first, mshare_host_clear_tables()); not for the
 * first tracked object, whose vm_ops must reach every attachment under its
 * mmap lock before the object can be pinned (tracked_all: a slow change
 * got them there; one that gave up with EBUSY did not).  Written only by
 * the region's one running change, this one.
 */
static bool mshare_host_op_fast(const struct mshare_host_op *op, bool tracked)
{
	return READ_ONCE(mshare_fast_change) && mshare_tables_kept_ok &&
	       !op->serial && (!tracked || op->region->tracked_all);
}

int mshare_host_op_thread(void *data)
{
	struct mshare_host_op *op = data;
	struct mshare_region *region = op->region;
	bool tracked = mshare_host_op_tracked(op);
	bool fast = mshare_host_op_fast(op, tracked);
	int err;

	/* The caller made this the region's one running change. */
	if (fast)
		err = mshare_host_change_begin_fast(region);
	else
		err = mshare_host_change_begin(region, tracked);
	if (err) {
		op->result = err;
	} else {
		mshare_host_op_run(op);
		mshare_host_change_end(region);
		/*
		 * A kthread's fput() is deferred.  Finish it, so that when
		 * UNMAP (or a CREATE over an object) returns, the files it
		 * dropped are closed: their filesystem can be unmounted at
		 * once.  After the change's end: on 7.x this waits for the
		 * machine's deferred-fput worker, which faults must not.
		 */
		flush_delayed_fput();
	}
	mshare_host_unclaim(region);
	complete(&op->done);
	mshare_host_op_put(op);
	/* Module text runs until here: the thread holds a module reference. */
	module_put_and_kthread_exit(0);
}

/*
 * Hand a change (req: what to do) to a thread of its own and wait for it,
 * killably.  Returns its result, or -EINTR if the caller was killed (the
 * change then completes without it).
 */
static unsigned long mshare_host_op_exec(struct mshare_region *region,
					 const struct mshare_host_op *req)
{
	struct mshare_host_op *op;
	struct task_struct *tsk;
	unsigned long ret;
	int i;

	/*
	 * One change at a time per region, claimed here, killably, before a
	 * thread is made: a caller killed while waiting leaves nothing
	 * behind, and a region never has more than one change thread.
	 */
	if (wait_event_killable(region->change_done,
				mshare_host_claim(region)))
		return -EINTR;
	op = kmemdup(req, sizeof(*op), GFP_KERNEL_ACCOUNT);
	if (!op) {
		mshare_host_unclaim(region);
		return -ENOMEM;
	}
	refcount_set(&op->ref, 2);
	init_completion(&op->done);
	mshare_region_get(region);
	op->region = region;
	op->cred = get_current_cred();
	op->memcg = get_mem_cgroup_from_mm(current->mm);
	if (op->file)
		get_file(op->file);
	task_lock(current->group_leader);
	for (i = 0; i < ARRAY_SIZE(mshare_host_rlimits); i++)
		op->rlim[i] = current->signal->rlim[mshare_host_rlimits[i]];
	task_unlock(current->group_leader);

	__module_get(THIS_MODULE);
	tsk = kthread_run(mshare_host_op_thread, op, "mshare-change");
	if (IS_ERR(tsk)) {
		module_put(THIS_MODULE);
		refcount_dec(&op->ref);
		mshare_host_op_put(op);
		mshare_host_unclaim(region);
		return PTR_ERR(tsk);
	}
	if (wait_for_completion_killable(&op->done))
		ret = -EINTR;
	else
		ret = op->result;
	mshare_host_op_put(op);
	return ret;
}

static void mshare_host_tlb_flush(struct mmu_notifier *mn,
				  struct mm_struct *mm,
				  unsigned long start, unsigned long end)
{
	mshare_flush_attachers(container_of(mn, struct mshare_region,
					    host_mn), start, end);
}

/*
 * Tell the attachers' notifier chains about a host invalidation, for the
 * attacher's range and with the host's event: KVM, IOMMU SVA, GPU SVM and
 * RDMA ODP cache an attacher's translations, which lead to host pages, and
 * they hear only of their own mm.  Only the attachments on fwd_list: the
 * others' mms have no subscriber but the attachments' own, which ignore
 * forwarded ranges (attach.c, mshare_self_regs).  start and end reach the
 * same set of attachers: while fwd_active is non-zero the list does not
 * change, so it can be walked without attach_lock while the callbacks
 * sleep.
 */
static void mshare_host_forward(struct mshare_region *region,
				const struct mmu_notifier_range *range,
				bool start)
{
	struct mmu_notifier_range r;
	struct mshare_attach *att;
	unsigned long as, ae;

	list_for_each_entry(att, &region->fwd_list, fwd_node) {
		if (!mshare_host_to_attach(att, range->start, range->end,
					   &as, &ae))
			continue;
		mshare_mn_range_init(&r, range, att->mm, as, ae);
		r.owner = MSHARE_FWD_OWNER;
		if (start)
			mshare_mn_start(&r);
		else
			mshare_mn_end(&r, false);
	}
}

/*
 * Host invalidations are always blockable: nothing runs in a host mm, so
 * the OOM reaper, the only non-blocking caller, never picks one.  Should a
 * non-blocking one come all the same, it is refused (the caller then
 * skips the range), since forwarding may have to wait (thaw, below).
 */
static int mshare_host_invalidate_start(struct mmu_notifier *mn,
					const struct mmu_notifier_range *range)
{
	struct mshare_region *region = container_of(mn, struct mshare_region,
						    host_inv_mn);

	if (!mmu_notifier_range_blockable(range))
		return -EAGAIN;
	/*
	 * An attacher's mm is between mm_take_all_locks() and
	 * mm_drop_all_locks() for a notifier registration: wait, or the new
	 * subscriber would hear this range's end but not its start.  It froze
	 * the region only with no forwarding in flight, so this is never a
	 * nested start of this task; and it holds only its own mm's locks,
	 * which no forwarding needs, and drops them right away.
	 */
	spin_lock(&region->attach_lock);
	while (region->frozen) {
		spin_unlock(&region->attach_lock);
		wait_event(region->thaw, !READ_ONCE(region->frozen));
		spin_lock(&region->attach_lock);
	}
	region->fwd_active++;
	spin_unlock(&region->attach_lock);
	mshare_host_forward(region, range, true);
	return 0;
}

static void mshare_host_invalidate_end(struct mmu_notifier *mn,
				       const struct mmu_notifier_range *range)
{
	struct mshare_region *region = container_of(mn, struct mshare_region,
						    host_inv_mn);
	bool idle;

	if (!mmu_notifier_range_blockable(range))
		return;
	mshare_fwd_lockdep_out();
	mshare_host_forward(region, range, false);
	mshare_fwd_lockdep_in();
	spin_lock(&region->attach_lock);
	idle = !--region->fwd_active;
	spin_unlock(&region->attach_lock);
	if (idle) {
		wake_up_all(&region->fwd_idle);
		mshare_fwd_idle_wake();
	}
}

/* 6.12 wants the TLB callback and start/end in separate subscriptions. */
static const struct mmu_notifier_ops mshare_host_mn_ops = {
	.mshare_mn_tlb_flush	= mshare_host_tlb_flush,
};

static const struct mmu_notifier_ops mshare_host_inv_mn_ops = {
	.invalidate_range_start	= mshare_host_invalidate_start,
	.invalidate_range_end	= mshare_host_invalidate_end,
};

/*
 * Called when the region gets its size, in the sizing process.  The host
 * mm's owner (for memory cgroup charging) is the creator's thread-group
 * leader, pinned for the life of the region, so it never dangles.
 */
int mshare_host_create(struct mshare_region *region)
{
	struct mm_struct *host;
	int err;

	if (!current->mm)
		return -EINVAL;
	host = mshare_mm_alloc();
	if (!host)
		return -ENOMEM;
	mshare_copy_mmap_layout(host, current->mm);
	/* Every host VMA is marked: see mshare_pmd_shareable(). */
	host->def_flags |= VM_WIPEONFORK;
	if (MSHARE_RETRACT_FREES_AT_ONCE)
		mshare_mm_flag_set(MSHARE_MMF_NO_THP, host);
	region->owner = get_task_struct(current->group_leader);
	mshare_set_mm_owner(host, region->owner);

	region->host_mn.ops = &mshare_host_mn_ops;
	region->host_inv_mn.ops = &mshare_host_inv_mn_ops;
	err = mmu_notifier_register(&region->host_mn, host);
	if (!err) {
		err = mmu_notifier_register(&region->host_inv_mn, host);
		if (err)
			mmu_notifier_unregister(&region->host_mn, host);
	}
	if (err) {
		mshare_set_mm_owner(host, NULL);
		mmput(host);
		put_task_struct(region->owner);
		region->owner = NULL;
		return err;
	}
	region->host = host;
	return 0;
}

/* The last reference is gone: no attacher, no fd, no name. */
void mshare_host_destroy(struct mshare_region *region)
{
	struct mm_struct *host = region->host;

	if (!host)
		return;
	WARN_ON(!list_empty(&region->attachments));
	WARN_ON(!list_empty(&region->fwd_list));
	mmu_notifier_unregister(&region->host_inv_mn, host);
	mmu_notifier_unregister(&region->host_mn, host);
	/* The objects and every table, those kept under gaps too. */
	mshare_tables_release(host, mshare_region_size(region));
	/* Nothing is charged any more; the owner must not outlive our pin. */
	mshare_set_mm_owner(host, NULL);
	mmput(host);
	put_task_struct(region->owner);
	region->host = NULL;
}

/*
 * One attachment a change must lock and cut, as the region's list had it
 * when links were forbidden (region->mutating): its mm, pinned with
 * mmgrab(), and its VMA's start.  att is only compared, never followed:
 * the attachment may be gone by the time its mm's lock is held.  Only a
 * VMA whose vm_private_data equals it, found under that lock, is followed.
 */
struct mshare_change_target {
	struct mm_struct		*mm;
	unsigned long			start;
	const struct mshare_attach	*att;
};

/*
 * Walkers that hold no mmap lock, only an attachment VMA's read lock
 * (7.3: MADV_DONTNEED/MADV_FREE zaps, /proc/PID/smaps and numa_maps walks,
 * besides the fault path, which fault.c bounces): write-lock the target's
 * VMA.  That waits for those inside and, until the mmap write lock is
 * dropped, sends later ones to the mmap lock.  It also gets the vm_ops the
 * region needs now (tracked or not: GUP reads them under either lock), and
 * its links are cut.  mmap_lock of t->mm held for writing.
 *
 * Only the snapshot's attachments need this, so each is looked up, not
 * found by walking all of its mm's VMAs (a cost per attacher that grew
 * with its other mappings).  Any other mapping of the region has no link:
 *  - an attachment made after the snapshot, because links have been
 *    forbidden since; it read the region's tracking after joining the
 *    list (mshare_attach_new() takes attach_lock), so its vm_ops are right;
 *  - a fork copy whose attachment could not be made (mshare_vm_open()),
 *    which is in the same state as such a copy in an mm the snapshot does
 *    not name at all: its late attach sets its vm_ops under its mm's write
 *    lock before it can link or be pinned (GUP checks vm_ops again after
 *    the fault's retry).
 * The VMA found must still be this attachment's: gone (unmapped, its mm
 * exited) it has nothing linked.  The lookup only ever finds one of t->mm's
 * own VMAs: a fork that failed on 6.8 to 6.x leaves the parent's VMAs in
 * the child's tree only past a zero entry where it stopped (mtree_load()
 * reads that as NULL), and the child's attachments were made by ->open
 * for VMAs copied before it; 7.x tears the child's tree down under its
 * write lock.  A new attachment of the region at the same place is
 * harmless to cut: it has nothing linked either.
 */
static void mshare_host_lock_vma(struct mshare_region *region,
				 const struct mshare_change_target *t)
{
	struct vm_area_struct *vma = vma_lookup(t->mm, t->start);
	struct mshare_attach *att;

	if (!vma || !mshare_is_attachment(vma) ||
	    vma->vm_private_data != t->att ||
	    mshare_inode_region(file_inode(vma->vm_file)) != region)
		return;
	att = vma->vm_private_data;
	mshare_vma_write_lock(vma);
	vma->vm_ops = mshare_attach_vm_ops(region);
	spin_lock(&region->attach_lock);
	mshare_attach_unlink(att, att->start, att->end);
	spin_unlock(&region->attach_lock);
}

/*
 * How long a host change waits for one attacher's mmap_lock.  Any attacher,
 * a read-only one included, can hold its own lock for reading as long as it
 * likes: a read of its own stalled FUSE mapping through /proc/self/mem
 * cannot drop it.  Waiting for ever would hand it the region: the owner's
 * change and every other attacher's fault (which waits for the change)
 * would hang with it.  So the change gives up instead, with EBUSY.
 */
#define MSHARE_LOCK_WAIT	(30 * HZ)

/*
 * The wait is a killable down_write(), which queues like any writer (new
 * readers wait behind it, so a busy attacher cannot starve it); a delayed
 * work ends it with a kernel-sent SIGKILL.  The change thread lets in only
 * kernel-sent signals (allow_kernel_signal(): kill(2) of the thread stays
 * ignored), and this is the only one sent to it.
 *
 * One work serves the whole lock phase, armed once: re-arming and
 * cancelling a timer for each attacher cost a fifth of a change.  Each
 * wait only records when it began; the work, when it runs, kills a wait
 * that has lasted MSHARE_LOCK_WAIT and otherwise comes back when the
 * current (or, between waits, any next) wait could reach it.  It kills
 * only under w->lock while a wait is marked, and the wait unmarks itself
 * under that lock before it drops the signal, so no SIGKILL can reach a
 * later wait.  It runs on system_long_wq, which every supported kernel
 * has: 7.x logs a warning for work queued on the deprecated system_wq.
 */
struct mshare_lock_wait {
	struct delayed_work	work;
	struct task_struct	*task;
	spinlock_t		lock;		/* guards since, waiting, killed */
	unsigned long		since;		/* jiffies: the wait's start */
	bool			waiting;
	bool			killed;
};

static void mshare_lock_wait_expired(struct work_struct *work)
{
	struct mshare_lock_wait *w = container_of(to_delayed_work(work),
						  struct mshare_lock_wait,
						  work);
	unsigned long again = MSHARE_LOCK_WAIT;

	spin_lock(&w->lock);
	if (w->waiting) {
		unsigned long waited = jiffies - w->since;

		if (waited >= MSHARE_LOCK_WAIT) {
			send_sig(SIGKILL, w->task, 1);
			w->killed = true;
		} else {
			again = MSHARE_LOCK_WAIT - waited;
		}
	}
	spin_unlock(&w->lock);
	/* cancel_delayed_work_sync() stops a work that re-queues itself */
	queue_delayed_work(system_long_wq, &w->work, again);
}

static void mshare_lock_wait_init(struct mshare_lock_wait *w)
{
	w->task = current;
	spin_lock_init(&w->lock);
	INIT_DELAYED_WORK_ONSTACK(&w->work, mshare_lock_wait_expired);
	allow_kernel_signal(SIGKILL);
	queue_delayed_work(system_long_wq, &w->work, MSHARE_LOCK_WAIT);
}

static void mshare_lock_wait_done(struct mshare_lock_wait *w)
{
	cancel_delayed_work_sync(&w->work);
	/* a SIGKILL sent as the last wait ended was dropped by that wait */
	disallow_signal(SIGKILL);
	destroy_delayed_work_on_stack(&w->work);
}

static int mshare_host_mmap_lock(struct mshare_lock_wait *w,
				 struct mm_struct *mm)
{
	int err;

	spin_lock(&w->lock);
	w->since = jiffies;
	w->waiting = true;
	spin_unlock(&w->lock);
	err = mmap_write_lock_killable(mm);
	spin_lock(&w->lock);
	w->waiting = false;
	if (w->killed) {
		/* (the lock may have come first: then it is held, err 0) */
		flush_signals(current);
		w->killed = false;
	}
	spin_unlock(&w->lock);
	return err;
}

/*
 * With host_busy set, wait (for at most MSHARE_LOCK_WAIT, w armed) until
 * no fault or ->access is inside the host's mmap_lock: take it for
 * writing and let it go.  Those that come after leave before any I/O
 * (fault.c), so the vm_mmap()/vm_munmap() that follows meets only short
 * holders.  -EBUSY, nothing changed, if the wait was cut short.
 */
static int mshare_host_drain(struct mshare_region *region,
			     struct mshare_lock_wait *w)
{
	if (mshare_host_mmap_lock(w, region->host)) {
		pr_warn_ratelimited("a region change gave up (EBUSY): a fault held the region's lock for %u s\n",
				    MSHARE_LOCK_WAIT / HZ);
		return -EBUSY;
	}
	mmap_write_unlock(region->host);
	return 0;
}

/*
 * Before changing the host: forbid new links, then, for each attachment
 * listed at that moment, take its mm's mmap_lock for writing (and write-lock
 * its VMA) and only then cut its links and flush its TLB.  Slow GUP and
 * page-table walkers hold one of those locks for reading and read an
 * upper-level entry more than once (follow_p4d_mask checks the P4D entry,
 * pud_offset() reads it again), so an entry must never be cleared under
 * them; GUP-fast runs with interrupts off and is fenced by the flush's
 * IPIs.  Afterwards no attacher can reach a host table and attachers
 * relink on their next fault.  If an attacher's lock cannot be had within
 * MSHARE_LOCK_WAIT, nothing in the host has changed yet: the change ends
 * there with -EBUSY (the links already cut come back on the next faults).
 * A change that places a writable object needing dirty tracking (tracked)
 * marks the region first, and its attachments take the vm_ops that say so
 * (mshare_attach_vm_ops()) while their mmap_lock is held.  Then, like a
 * fast change, it drains the host's own lock (host_busy, set only once the
 * links are cut): the time limit covers the whole phase, each wait its own
 * 30 s.
 * The slow path: for the first tracked object and for hugetlb placements
 * (mshare_host_op_fast()), and for all changes where tables cannot be
 * kept or fast_change is off.  Called by the region's one running change;
 * may sleep.
 */
static int mshare_host_change_begin(struct mshare_region *region,
				    bool tracked)
{
	struct mshare_lock_wait w = { };
	struct mshare_change_target *t;
	struct mshare_attach *att;
	unsigned int n, i;
	int err = 0;

	for (;;) {
		n = READ_ONCE(region->nr_attach);
		t = kvmalloc_array(n + 1, sizeof(*t), GFP_KERNEL);
		if (!t)
			return -ENOMEM;
		spin_lock(&region->attach_lock);
		if (region->nr_attach <= n)
			break;
		spin_unlock(&region->attach_lock);
		kvfree(t);
	}
	region->mutating = true;
	if (tracked)
		WRITE_ONCE(region->tracked, true);
	i = 0;
	list_for_each_entry(att, &region->attachments, node) {
		mmgrab(att->mm);
		t[i].mm = att->mm;
		t[i].start = att->start;
		t[i++].att = att;
	}
	spin_unlock(&region->attach_lock);

	mshare_lock_wait_init(&w);
	while (i--) {
		if (!err && mshare_host_mmap_lock(&w, t[i].mm)) {
			pr_warn_ratelimited("a region change gave up (EBUSY): an attacher held its mmap lock for %u s\n",
					    MSHARE_LOCK_WAIT / HZ);
			err = -EBUSY;
		}
		if (!err) {
			mshare_host_lock_vma(region, &t[i]);
			mmap_write_unlock(t[i].mm);
		}
		mmdrop(t[i].mm);
	}
	if (!err) {
		/*
		 * Only now: until the links were cut, faults through them ran
		 * as before (one that cannot retry would fail instead).
		 */
		spin_lock(&region->attach_lock);
		region->host_busy = MSHARE_BUSY_SLOW;
		spin_unlock(&region->attach_lock);
		err = mshare_host_drain(region, &w);
	}
	mshare_lock_wait_done(&w);
	kvfree(t);
	if (err)
		mshare_host_change_end(region);
	else if (READ_ONCE(region->tracked))
		region->tracked_all = true;
	return err;
}

/*
 * A fast change: no attacher lock, no cut; links stay, since the host
 * keeps every table (tables.c) and its entries change only under their
 * split locks, with the host's TLB flushes reaching every attacher's CPUs
 * (tlb.c) and its invalidations every listening secondary MMU (above).
 * New links wait (mutating), for nothing but order.
 *
 * What is left to bound is the host's own mmap_lock: a fault through an
 * attachment that may not drop its locks (GUP without "locked", e.g.
 * /proc/PID/mem) holds the host's for reading for as long as its file's
 * I/O takes, which on FUSE a user controls.  So, as for attachers' locks
 * on the slow path: host_busy sends every fault that takes the host's lock
 * from now on back out before it can start any I/O (fault.c), and the
 * host's lock is taken once for writing, under the same 30 s limit, to
 * wait for the faults already inside.  After that vm_mmap()/vm_munmap()
 * take it again, meeting only short holders (fsync; ->access, which does
 * not fault while host_busy).  A fault that cannot retry waits for the
 * change's end holding its own mmap lock, for at most 30 s (fault.c):
 * nothing here takes an attacher's lock.
 */
static int mshare_host_change_begin_fast(struct mshare_region *region)
{
	struct mshare_lock_wait w = { };
	int err;

	spin_lock(&region->attach_lock);
	region->mutating = true;
	region->host_busy = MSHARE_BUSY_FAST;
	spin_unlock(&region->attach_lock);

	mshare_lock_wait_init(&w);
	err = mshare_host_drain(region, &w);
	mshare_lock_wait_done(&w);
	if (err)
		mshare_host_change_end(region);
	return err;
}

static void mshare_host_change_end(struct mshare_region *region)
{
	spin_lock(&region->attach_lock);
	region->mutating = false;
	region->host_busy = MSHARE_BUSY_NO;
	region->change_seq++;
	spin_unlock(&region->attach_lock);
	wake_up_all(&region->mutation_done);
}

static long mshare_host_change(struct mshare_region *region,
			       struct mshare_host_op *op)
{
	unsigned long ret;

	ret = mshare_host_op_exec(region, op);
	if (IS_ERR_VALUE(ret))
		return ret;
	if (!op->unmap && ret != op->addr) {
		/* MAP_FIXED cannot land elsewhere; never leave it mapped. */
		WARN_ON_ONCE(1);
		return -EINVAL;
	}
	return 0;
}

/* Inside the region, page aligned, not empty. */
static bool mshare_range_ok(struct mshare_region *region, u64 offset, u64 len)
{
	u64 size = mshare_region_size(region);

	return len && PAGE_ALIGNED(offset) && PAGE_ALIGNED(len) &&
	       offset < size && len <= size - offset;
}

/*
 * Objects whose pages are not ordinary struct pages: character devices
 * (device memory, /dev/mem, DRM, fbdev) and DAX files.  Refused before the
 * mapping, so that nothing already placed is replaced by a failed call
 * (what only the mapping shows is refused after it, and leaves the range
 * empty: mshare_host_check_placed()).
 */
static int mshare_host_object_ok(struct file *file)
{
	struct inode *inode = file_inode(file);

	if (MSHARE_RETRACT_FREES_AT_ONCE && mshare_tmpfs_huge(inode->i_sb)) {
		pr_info_ratelimited("refusing a file of a tmpfs that can hold huge pages (huge=): this kernel's khugepaged would free page tables in use\n");
		return -EINVAL;
	}
	/*
	 * memfd_secret(): its pages are out of the kernel's direct map, which
	 * the kernel's accesses through an attachment (GUP, /proc/PID/mem)
	 * would use, and no one but its owner may see them.  The kernel knows
	 * such a VMA by its file; an attachment's is the region file.
	 */
	if (inode->i_sb->s_magic == SECRETMEM_MAGIC) {
		pr_info_ratelimited("refusing a memfd_secret object: its memory is for its owner only\n");
		return -EINVAL;
	}
	if (S_ISCHR(inode->i_mode) || IS_DAX(inode)) {
		pr_info_ratelimited("refusing a %s object: only memory with struct pages can be shared\n",
				    S_ISCHR(inode->i_mode) ? "character-device" : "DAX");
		return -ENODEV;
	}
	return 0;
}

/*
 * The page size of a hugetlbfs file (anonymous MAP_HUGETLB ones live on the
 * kernel's internal hugetlbfs mounts), 0 for other files.  By superblock:
 * is_file_hugepages() needs symbols that 6.1 does not export.
 */
static unsigned long mshare_huge_size(struct file *file)
{
	struct super_block *sb = file_inode(file)->i_sb;

	if (sb->s_magic != HUGETLBFS_MAGIC)
		return 0;
	return huge_page_size(HUGETLBFS_SB(sb)->hstate);
}

#define MSHARE_CREATE_FLAGS	(MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS | \
				 MAP_NORESERVE | MAP_POPULATE | MAP_LOCKED | \
				 MAP_HUGETLB | (MAP_HUGE_MASK << MAP_HUGE_SHIFT))

long mshare_host_create_mapping(struct mshare_region *region,
				const struct mshare_create *req)
{
	struct mshare_host_op op = { };
	unsigned long flags = req->flags;
	struct file *file = NULL;
	long err;

	if (!mshare_range_ok(region, req->region_offset, req->size))
		return -EINVAL;
	if ((flags & MAP_TYPE) != MAP_SHARED || !(flags & MAP_FIXED) ||
	    (flags & ~MSHARE_CREATE_FLAGS))
		return -EINVAL;
	if (req->prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
		return -EINVAL;
	if (!PAGE_ALIGNED(req->offset))
		return -EINVAL;

	if (flags & MAP_ANONYMOUS) {
		if (flags & MAP_HUGETLB) {
			/* As mmap() does it, with the caller's rights. */
			int log = (flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;

			file = mshare_hugetlb_file_setup("anon_hugepage",
							 req->size,
							 MSHARE_HUGETLB_NORESERVE,
							 HUGETLB_ANONHUGE_INODE,
							 log);
			if (IS_ERR(file))
				return PTR_ERR(file);
		}
	} else {
		if (flags & MAP_HUGETLB)
			return -EINVAL;
		file = fget(req->fd);
		if (!file)
			return -EBADF;
		if (file->f_op == &mshare_region_fops) {
			/* Regions never nest (attach.c refuses other paths). */
			fput(file);
			return -EINVAL;
		}
		err = mshare_host_object_ok(file);
		if (err) {
			fput(file);
			return err;
		}
	}
	if (file && mshare_huge_size(file) > PMD_SIZE) {
		/*
		 * A PUD-level leaf in the host would sit right below an
		 * attacher's P4D entry, where walkers that look at the
		 * attacher VMA (not hugetlb) take it for a huge PUD and
		 * split, i.e. clear, it.
		 */
		pr_info_ratelimited("refusing a hugetlb object with pages larger than %lu KiB\n",
				    PMD_SIZE >> 10);
		fput(file);
		return -EINVAL;
	}

	op.file = file;
	op.serial = file && (mshare_huge_size(file) ||
			     file_inode(file)->i_sb->s_stack_depth);
	op.addr = MSHARE_HOST_BASE + req->region_offset;
	op.len = req->size;
	op.prot = req->prot;
	op.flags = flags & ~(MAP_ANONYMOUS | MAP_HUGETLB |
			     (MAP_HUGE_MASK << MAP_HUGE_SHIFT));
	op.offset = file && !(flags & MAP_ANONYMOUS) ? req->offset : 0;
	err = mshare_host_change(region, &op);
	if (file)
		fput(file);
	return err;
}

long mshare_host_unmap(struct mshare_region *region,
		       const struct mshare_unmap *req)
{
	struct mshare_host_op op = { .unmap = true };

	if (!mshare_range_ok(region, req->region_offset, req->size))
		return -EINVAL;
	op.addr = MSHARE_HOST_BASE + req->region_offset;
	op.len = req->size;
	return mshare_host_change(region, &op);
}

/*
 * fsync of a region (and msync(MS_SYNC) of an attachment, which the VFS
 * turns into one): write back the file objects placed in region offsets
 * [start, end], inclusive as in vfs_fsync_range().  Anonymous objects
 * have nothing to write.  One object at a time, with the host's lock
 * dropped while it is written back, as msync() itself does.
 */
int mshare_host_fsync(struct mshare_region *region, loff_t start, loff_t end,
		      int datasync)
{
	struct mm_struct *host = region->host;
	unsigned long addr, last, s, e;
	struct vm_area_struct *vma;
	struct file *file;
	loff_t fstart;
	int err = 0, ret;

	if (!host || start > end)
		return 0;
	end = min_t(u64, end, mshare_region_size(region) - 1);
	addr = MSHARE_HOST_BASE + start;
	last = MSHARE_HOST_BASE + end;
	while (addr <= last) {
		if (mmap_read_lock_killable(host))
			return -EINTR;
		vma = find_vma(host, addr);
		if (!vma || vma->vm_start > last) {
			mmap_read_unlock(host);
			break;
		}
		s = max(addr, vma->vm_start);
		e = min(last, vma->vm_end - 1);
		file = NULL;
		if (vma->vm_file && (vma->vm_flags & VM_SHARED)) {
			file = get_file(vma->vm_file);
			fstart = ((loff_t)vma->vm_pgoff << PAGE_SHIFT) +
				 (s - vma->vm_start);
		}
		mmap_read_unlock(host);
		if (file) {
			ret = vfs_fsync_range(file, fstart, fstart + (e - s),
					      datasync);
			fput(file);
			if (ret && !err)
				err = ret;
		}
		if (e == last)
			break;
		addr = e + 1;
	}
	return err;
}

/* Nothing global: every host change has a thread of its own. */
int mshare_host_init(void)
{
	return 0;
}

void mshare_host_exit(void)
{
}

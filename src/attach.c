// SPDX-License-Identifier: GPL-2.0
/*
 * Attaching: a process maps a region file.  Its VMA covers whole 512 GiB
 * slots; each slot's P4D entry (the PGD entry with 4-level paging) is
 * linked to the host's PUD table for that slot on first fault, so the
 * region's page tables are shared, not copied.
 *
 * No generic mm code may ever walk or free host tables through an attacher
 * (invariant 2).  An mmu_notifier on the attacher mm cuts the links before
 * every walk that could: invalidate_range_start comes before the zap of
 * munmap, MAP_FIXED replacement, MADV_DONTNEED and mremap's move, and
 * release before exit's teardown.  Until the matching range_end no link is
 * made again.  Splits, mprotect and mremap are refused by the vm_ops.
 *
 * A cut is either a clear or a park.  Walkers that hold the mmap lock for
 * reading (slow GUP, page walks) read a P4D entry twice: once to test it,
 * once in pud_offset().  A zap under that same read lock (MADV_DONTNEED,
 * the OOM reaper) must therefore not clear the entry, or a walker in
 * another thread follows the cleared entry to page frame 0.  It parks it
 * instead: the entry is pointed at mshare_empty_pud, a zeroed PUD table
 * owned by this module, so a racing walker sees either the host's table or
 * an empty one.  Only the zaps that go on to free page tables (munmap,
 * mremap's move: MMU_NOTIFY_UNMAP, blockable) clear for real; they run
 * with the mmap lock held for writing or with the VMA already unreachable,
 * and free_pgtables() must find nothing of ours.  Nothing can populate the
 * empty table: every fault in an attachment is redirected to the host.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/file.h>
#include <linux/memcontrol.h>
#include <linux/mempolicy.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>

#include "mshare.h"

/*
 * Read-only attachments, for the GUP-fast check.  GUP-fast tests write
 * permission only at the leaf entry, which is shared with writers, so the
 * RW bit cleared in a read-only attacher's P4D entry does not stop it.
 * Readers walk the list under RCU from the GUP-fast entry hook.
 */
static LIST_HEAD(mshare_ro_list);
static DEFINE_SPINLOCK(mshare_ro_lock);
static atomic_t mshare_ro_count = ATOMIC_INIT(0);

/* The table a parked slot points at; see the top of the file. */
static void *mshare_empty_pud;
static unsigned long mshare_empty_pfn;

/* Would a FOLL_WRITE GUP-fast of this range write a read-only mapping? */
bool mshare_gup_write_denied(unsigned long start, unsigned long nr_pages)
{
	unsigned long end = start + (nr_pages << PAGE_SHIFT);
	struct mm_struct *mm = current->mm;
	struct mshare_attach *att;
	bool denied = false;

	if (!atomic_read(&mshare_ro_count) || end <= start)
		return false;
	rcu_read_lock();
	list_for_each_entry_rcu(att, &mshare_ro_list, ro_node) {
		if (att->mm == mm && start < att->end && end > att->start) {
			denied = true;
			break;
		}
	}
	rcu_read_unlock();
	return denied;
}

/* The attacher's P4D entry for a slot, or NULL if its P4D table is absent. */
static p4d_t *mshare_attach_p4d(struct mshare_attach *att, unsigned long slot)
{
	unsigned long addr = att->start + slot * MSHARE_ALIGN;
	pgd_t *pgd = pgd_offset(att->mm, addr);

	if (pgd_none(*pgd))
		return NULL;
	return p4d_offset(pgd, addr);
}

/*
 * A fresh table entry rather than the host's, copied: under PTI the kernel
 * half of a top-level entry carries NX.  The entry then gets the
 * attacher's own restrictions, which the MMU applies to every access below
 * it, whatever the shared lower levels allow: no RW for a read-only
 * attacher, NX for one that did not map the region PROT_EXEC (otherwise a
 * PROT_READ|PROT_WRITE attachment would run code of a PROT_EXEC object
 * once a read fault had linked the slot).
 */
static void mshare_attach_set(struct mshare_attach *att, p4d_t *p4d,
			      unsigned long pfn)
{
	unsigned long prot = _PAGE_TABLE;

	if (att->readonly)
		prot &= ~_PAGE_RW;
	if (att->noexec)
		prot |= _PAGE_NX & __supported_pte_mask;
	set_p4d(p4d, __p4d(prot | (pfn << PAGE_SHIFT)));
}

static bool mshare_p4d_parked(p4d_t p4d)
{
	return p4d_pfn(p4d) == mshare_empty_pfn;
}

/*
 * Is the slot linked to the host's table (not just parked)?  A hint for
 * the fault path, which rechecks under the locks in mshare_attach_link().
 */
bool mshare_attach_linked(struct mshare_attach *att, unsigned long slot)
{
	p4d_t *p4d;

	if (!test_bit(slot, att->linked))
		return false;
	p4d = mshare_attach_p4d(att, slot);
	return p4d && !mshare_p4d_parked(READ_ONCE(*p4d));
}

/*
 * Link a slot to the host's PUD table.
 * -EBUSY: a host change is under way; -EAGAIN: an invalidation of this
 * attacher's range is; either way, try again later.
 */
int mshare_attach_link(struct mshare_attach *att, unsigned long slot,
		       p4d_t host_entry)
{
	struct mshare_region *region = att->region;
	struct mm_struct *mm = att->mm;
	p4d_t *p4d;
	int err = 0;

	spin_lock(&region->attach_lock);
	if (region->mutating) {
		spin_unlock(&region->attach_lock);
		return -EBUSY;
	}
	spin_lock(&mm->page_table_lock);
	p4d = mshare_attach_p4d(att, slot);
	if (att->invalidating) {
		err = -EAGAIN;
	} else if (test_bit(slot, att->linked)) {
		/* Linked by a racing fault, or parked: relink. */
		if (mshare_p4d_parked(*p4d))
			mshare_attach_set(att, p4d, p4d_pfn(host_entry));
	} else if (!p4d || !p4d_none(*p4d)) {
		/* No P4D table (5-level), or stale tables of the process. */
		err = -EEXIST;
	} else {
		mshare_attach_set(att, p4d, p4d_pfn(host_entry));
		__set_bit(slot, att->linked);
	}
	spin_unlock(&mm->page_table_lock);
	spin_unlock(&region->attach_lock);
	if (err == -EEXIST)
		mshare_alarm("slot %lu of attachment %#lx in %s[%d]: page tables in the way\n",
			     slot, att->start, current->comm,
			     task_pid_nr(current));
	return err;
}

/*
 * Cut the slots that meet [start, end): clear their entries, or only park
 * them (see the top of the file).  A parked slot stays in att->linked, so
 * a later clear finds it.  Parking needs no flush: a CPU that still walks
 * the host's table through a stale cached entry sees what a linked slot
 * shows, and every host change clears and flushes.  Called with
 * mm->page_table_lock held; returns whether an entry was cleared, which
 * the caller must flush once the lock is dropped.
 */
static bool mshare_attach_cut_locked(struct mshare_attach *att,
				     unsigned long start, unsigned long end,
				     bool park)
{
	unsigned long first, last, slot;
	bool cut = false;
	p4d_t *p4d;

	start = max(start, att->start);
	end = min(end, att->end);
	if (start >= end)
		return false;
	first = (start - att->start) / MSHARE_ALIGN;
	last = (end - 1 - att->start) / MSHARE_ALIGN;

	for_each_set_bit_from(first, att->linked, last + 1) {
		slot = first;
		p4d = mshare_attach_p4d(att, slot);
		if (park) {
			if (!mshare_p4d_parked(*p4d))
				mshare_attach_set(att, p4d, mshare_empty_pfn);
			continue;
		}
		p4d_clear(p4d);
		__clear_bit(slot, att->linked);
		cut = true;
	}
	return cut;
}

/*
 * Clear the links of the slots that meet [start, end), and flush.  Only
 * with the mmap lock held for writing, or with nobody left to walk the
 * attachment (the VMA unreachable).
 */
void mshare_attach_unlink(struct mshare_attach *att, unsigned long start,
			  unsigned long end)
{
	struct mm_struct *mm = att->mm;
	bool cut;

	spin_lock(&mm->page_table_lock);
	cut = mshare_attach_cut_locked(att, start, end, false);
	spin_unlock(&mm->page_table_lock);
	if (cut)
		mshare_flush_mm(mm);
}

/*
 * Does an invalidation of the attacher's mm concern its links?  Not those
 * the host forwards (host.c): they are about the host's tables, for the
 * attacher's secondary MMUs.
 */
static bool mshare_range_meets(struct mshare_attach *att,
			       const struct mmu_notifier_range *range)
{
	return range->owner != MSHARE_FWD_OWNER &&
	       range->start < att->end && range->end > att->start;
}

static int
mshare_attach_invalidate_start(struct mmu_notifier *mn,
			       const struct mmu_notifier_range *range)
{
	struct mshare_attach *att = container_of(mn, struct mshare_attach, mn);
	struct mm_struct *mm = att->mm;
	bool park, cut;

	if (!mshare_range_meets(att, range))
		return 0;
	/*
	 * Blockable UNMAP events are munmap's and mremap's zaps, followed by
	 * free_pgtables().  Every other zap may run under the read lock:
	 * MADV_DONTNEED (CLEAR) and the OOM reaper (UNMAP, non-blocking).
	 */
	park = range->event != MMU_NOTIFY_UNMAP ||
	       !mmu_notifier_range_blockable(range);
	spin_lock(&mm->page_table_lock);
	att->invalidating++;
	cut = mshare_attach_cut_locked(att, range->start, range->end, park);
	spin_unlock(&mm->page_table_lock);
	if (cut)
		mshare_flush_mm(mm);
	return 0;
}

static void
mshare_attach_invalidate_end(struct mmu_notifier *mn,
			     const struct mmu_notifier_range *range)
{
	struct mshare_attach *att = container_of(mn, struct mshare_attach, mn);
	bool idle;

	if (!mshare_range_meets(att, range))
		return;
	/*
	 * When one subscriber fails a non-blocking start (the OOM reaper),
	 * the core calls every subscriber's end, ours too, even when our
	 * start was never called: do not count below zero.
	 */
	spin_lock(&att->mm->page_table_lock);
	if (att->invalidating > 0)
		att->invalidating--;
	idle = !att->invalidating;
	spin_unlock(&att->mm->page_table_lock);
	if (idle) {
		/* Pairs with the wait in mshare_attach_release(). */
		smp_mb();
		wake_up_var(&att->invalidating);
	}
}

/*
 * The process exits (or the attachment is being freed): cut everything
 * before exit_mmap() walks its tables, and forbid links for good.
 *
 * exit_mmap() calls this with no mmap lock held, while the OOM reaper or
 * process_mrelease() may be zapping the attachment under the read lock,
 * through a slot it parked: clearing that slot under the reaper's feet is
 * the very race parking exists for.  So wait until no invalidation is in
 * flight, then forbid new ones from touching the entries and clear them
 * in the same page_table_lock section: a reaper that starts later finds
 * nothing linked, and walks past empty entries.
 */
static void mshare_attach_release(struct mmu_notifier *mn,
				  struct mm_struct *mm)
{
	struct mshare_attach *att = container_of(mn, struct mshare_attach, mn);
	bool cut;

	for (;;) {
		spin_lock(&mm->page_table_lock);
		if (!att->invalidating)
			break;
		spin_unlock(&mm->page_table_lock);
		wait_var_event(&att->invalidating,
			       !READ_ONCE(att->invalidating));
	}
	att->invalidating++;	/* for good: the mm is going away */
	cut = mshare_attach_cut_locked(att, att->start, att->end, false);
	spin_unlock(&mm->page_table_lock);
	if (cut)
		mshare_flush_mm(mm);
}

static const struct mmu_notifier_ops mshare_attach_mn_ops = {
	.invalidate_range_start	= mshare_attach_invalidate_start,
	.invalidate_range_end	= mshare_attach_invalidate_end,
	.release		= mshare_attach_release,
};

/*
 * Take attach_lock to change the attachment list, once no host
 * invalidation is being forwarded (see fwd_active in mshare.h).
 */
static void mshare_attach_list_lock(struct mshare_region *region)
	__acquires(&region->attach_lock)
{
	for (;;) {
		spin_lock(&region->attach_lock);
		if (!region->fwd_active)
			return;
		spin_unlock(&region->attach_lock);
		wait_event(region->fwd_idle, !READ_ONCE(region->fwd_active));
	}
}

/*
 * Notifier registration on an attacher's mm, against forwarding.  The
 * kernel keeps a new subscriber from hearing an invalidation's end without
 * its start by taking, in mm_take_all_locks(), every lock its own
 * invalidations of that mm hold.  Forwarded ones (host.c) hold none of the
 * attacher's, so the module hooks mm_take_all_locks(), the one step every
 * registration goes through (__mmu_notifier_register(), interval
 * notifiers included): once it has the locks, each region the mm attaches
 * is frozen, which it can be only with no forwarding in flight, until
 * mm_drop_all_locks().  KVM on 6.1 BUG()s on an unmatched end.
 */
static atomic_t mshare_nr_attach = ATOMIC_INIT(0);
static LIST_HEAD(mshare_frozen_list);
static DEFINE_SPINLOCK(mshare_frozen_lock);	/* -> region attach_lock */
static DECLARE_WAIT_QUEUE_HEAD(mshare_fwd_idle_wq);

/*
 * Which attachments forwarding must tell (att->fwd, region->fwd_list).
 * Telling one whose mm has no subscriber but the attachments' own notifiers
 * is wasted work per attacher on every host change: those ignore forwarded
 * ranges, and have no secondary-TLB callback.  Every other subscriber
 * (KVM, IOMMU SVA, HMM's interval notifiers, mncount) comes through
 * __mmu_notifier_register() under the mm's mmap_lock held for writing, and
 * so through the mm_take_all_locks() hook, which marks every attachment of
 * the mm for good; a later interval notifier needs no registration only
 * if an earlier one, marked the same way, made the mm's subscriptions.
 * The module's own registrations (mshare_attach_new()) mark nothing: the
 * subscriber is an attachment's.  A new attachment is marked if its mm
 * had subscriptions before its own registration, unless the mm has a live
 * unmarked attachment: any other registration since that one's would have
 * marked it, and before it there was none other (inductively), so every
 * subscriber is an attachment's.  A wrong guess is only ever "marked":
 * subscriptions are never freed before the mm, and registrations that
 * failed or ended leave marks behind; both cost work, never a missed
 * invalidation.
 */
struct mshare_self_reg {
	struct list_head	node;
	struct mm_struct	*mm;
};

static LIST_HEAD(mshare_self_regs);	/* under mshare_frozen_lock */

static bool mshare_self_registering(struct mm_struct *mm)
{
	struct mshare_self_reg *self;

	lockdep_assert_held(&mshare_frozen_lock);
	list_for_each_entry(self, &mshare_self_regs, node)
		if (self->mm == mm)
			return true;
	return false;
}

/* Under region->attach_lock, with its fwd_active zero. */
static void mshare_attach_mark_fwd(struct mshare_attach *att)
{
	lockdep_assert_held(&att->region->attach_lock);
	/* Forwarding walks fwd_list without the lock while this is non-zero. */
	if (att->fwd || WARN_ON_ONCE(att->region->fwd_active))
		return;
	att->fwd = true;
	list_add(&att->fwd_node, &att->region->fwd_list);
}

/* Has mm a live attachment that is not marked?  mmap_lock held. */
static bool mshare_mm_has_unmarked(struct mm_struct *mm)
{
	struct vm_area_struct *vma;
	struct mshare_attach *att;

	VMA_ITERATOR(vmi, mm, 0);
	mmap_assert_write_locked(mm);
	for_each_vma(vmi, vma) {
		att = vma->vm_private_data;
		/* att->mm: see mshare_attach_freeze() */
		if (mshare_is_attachment(vma) && att && att->mm == mm &&
		    !att->fwd)
			return true;
	}
	return false;
}

/* A region's forwarding went idle: registrations waiting may retry. */
void mshare_fwd_idle_wake(void)
{
	wake_up_all(&mshare_fwd_idle_wq);
}

/*
 * Unfreeze what mm froze; from the mm_drop_all_locks() hook (process
 * context, preemptible: takes only spinlocks, never sleeps).
 */
void mshare_attach_thaw(struct mm_struct *mm)
{
	struct mshare_attach *att, *tmp;
	struct mshare_region *region;

	spin_lock(&mshare_frozen_lock);
	list_for_each_entry_safe(att, tmp, &mshare_frozen_list, frozen_node) {
		if (att->mm != mm)
			continue;
		list_del(&att->frozen_node);
		region = att->region;
		spin_lock(&region->attach_lock);
		att->frozen = false;
		region->frozen--;
		spin_unlock(&region->attach_lock);
		wake_up_all(&region->thaw);
	}
	spin_unlock(&mshare_frozen_lock);
}

/*
 * Freeze every region mm attaches; false (nothing left frozen) if one of
 * them has forwarding in flight.  mm's mmap_lock is held for writing and
 * all its locks are taken.
 */
static bool mshare_attach_freeze(struct mm_struct *mm)
{
	struct vm_area_struct *vma;
	struct mshare_region *region;
	struct mshare_attach *att;
	bool ok = true, self;

	VMA_ITERATOR(vmi, mm, 0);

	spin_lock(&mshare_frozen_lock);
	self = mshare_self_registering(mm);
	for_each_vma(vmi, vma) {
		att = vma->vm_private_data;
		/*
		 * att->mm: during fork (6.8+), the child's tree still holds
		 * the parent's VMAs, whose attachments are not the child's.
		 */
		if (!mshare_is_attachment(vma) || !att || att->mm != mm ||
		    att->frozen)
			continue;
		region = att->region;
		spin_lock(&region->attach_lock);
		if (region->fwd_active) {
			ok = false;
		} else {
			/* A subscriber that is not ours: tell it from now on. */
			if (!self)
				mshare_attach_mark_fwd(att);
			att->frozen = true;
			region->frozen++;
			list_add(&att->frozen_node, &mshare_frozen_list);
		}
		spin_unlock(&region->attach_lock);
		if (!ok)
			break;
	}
	spin_unlock(&mshare_frozen_lock);
	if (!ok)
		mshare_attach_thaw(mm);
	return ok;
}

/* Does no region that mm attaches have forwarding in flight? */
static bool mshare_attach_fwd_idle(struct mm_struct *mm)
{
	struct vm_area_struct *vma;
	struct mshare_attach *att;

	VMA_ITERATOR(vmi, mm, 0);
	for_each_vma(vmi, vma) {
		att = vma->vm_private_data;
		if (mshare_is_attachment(vma) && att && att->mm == mm &&
		    READ_ONCE(att->region->fwd_active))
			return false;
	}
	return true;
}

/*
 * Stands in for mm_take_all_locks() (hook.c; the real one is entered
 * through a gate).  While a region of mm has forwarding in flight, let go
 * of the locks and wait for it, killably: mm_take_all_locks() may fail
 * with -EINTR anyway.  Only mm's mmap_lock is held while waiting, which
 * forwarding never needs.
 */
static int __mshare_take_all_locks(struct mm_struct *mm)
{
	int err;

	for (;;) {
		err = mshare_gate_take_all_locks(mm);
		if (err || !atomic_read(&mshare_nr_attach))
			return err;
		if (mshare_attach_freeze(mm))
			return 0;
		mshare_gate_drop_all_locks(mm);
		if (wait_event_killable(mshare_fwd_idle_wq,
					mshare_attach_fwd_idle(mm)))
			return -EINTR;
	}
}

/*
 * Any task registering a notifier runs this module text and may sleep in
 * it, which RCU-tasks does not wait for at unload: the hook took a module
 * reference (hook.c), dropped here last; only the return is left then.
 */
int mshare_take_all_locks(struct mm_struct *mm)
{
	int err = __mshare_take_all_locks(mm);

	module_put(THIS_MODULE);
	return err;
}

/* Called with vma->vm_mm's mmap_lock held for writing (mmap, fork). */
static struct mshare_attach *mshare_attach_new(struct mshare_region *region,
					       struct vm_area_struct *vma)
{
	unsigned long slots = (vma->vm_end - vma->vm_start) / MSHARE_ALIGN;
	struct mshare_self_reg self;
	struct mshare_attach *att;
	bool fwd;
	int err;

	att = kzalloc(sizeof(*att), GFP_KERNEL_ACCOUNT);
	if (!att)
		return ERR_PTR(-ENOMEM);
	att->linked = bitmap_zalloc(slots, GFP_KERNEL_ACCOUNT);
	if (!att->linked) {
		kfree(att);
		return ERR_PTR(-ENOMEM);
	}
	att->region = region;
	att->mm = vma->vm_mm;
	att->start = vma->vm_start;
	att->end = vma->vm_end;
	att->readonly = !(vma->vm_flags & VM_WRITE);
	att->noexec = !(vma->vm_flags & VM_EXEC);
	att->mn.ops = &mshare_attach_mn_ops;

	/*
	 * Registration pins the mm_struct (mm_count) until unregistration.
	 * Whether the mm had subscribers is read before it adds ours.
	 */
	fwd = mm_has_notifiers(att->mm);
	self.mm = att->mm;
	spin_lock(&mshare_frozen_lock);
	list_add(&self.node, &mshare_self_regs);
	spin_unlock(&mshare_frozen_lock);
	err = __mmu_notifier_register(&att->mn, att->mm);
	spin_lock(&mshare_frozen_lock);
	list_del(&self.node);
	spin_unlock(&mshare_frozen_lock);
	if (err) {
		bitmap_free(att->linked);
		kfree(att);
		return ERR_PTR(err);
	}
	/*
	 * See mshare_self_regs.  The VMA being attached is not in the tree
	 * yet (mmap) or has no attachment (fork, late attach).
	 */
	fwd = fwd && !mshare_mm_has_unmarked(att->mm);

	mshare_region_get(region);
	mshare_attach_list_lock(region);
	list_add(&att->node, &region->attachments);
	if (fwd)
		mshare_attach_mark_fwd(att);
	region->nr_attach++;
	spin_unlock(&region->attach_lock);
	atomic_inc(&mshare_nr_attach);
	if (att->readonly) {
		spin_lock(&mshare_ro_lock);
		list_add_rcu(&att->ro_node, &mshare_ro_list);
		atomic_inc(&mshare_ro_count);
		spin_unlock(&mshare_ro_lock);
	}
	return att;
}

static void mshare_attach_free(struct mshare_attach *att)
{
	struct mshare_region *region = att->region;

	mshare_attach_list_lock(region);
	list_del(&att->node);
	if (att->fwd)
		list_del(&att->fwd_node);
	region->nr_attach--;
	spin_unlock(&region->attach_lock);
	atomic_dec(&mshare_nr_attach);

	if (att->readonly) {
		spin_lock(&mshare_ro_lock);
		list_del_rcu(&att->ro_node);
		atomic_dec(&mshare_ro_count);
		spin_unlock(&mshare_ro_lock);
	}

	/*
	 * No unlink here: unregistering calls release, which clears what the
	 * notifier left, unless exit_mmap() already called it.
	 */
	mmu_notifier_unregister(&att->mn, att->mm);
	bitmap_free(att->linked);
	kfree_rcu(att, rcu);	/* GUP-fast checks may still look at it */
	mshare_region_put(region);
}

/*
 * fork: the child gets an attachment of its own, linked on its own faults.
 * Registering its notifier takes mm_take_all_locks(), which fails with
 * -EINTR whenever a signal is pending (a server forking under SIGCHLD or
 * an interval timer), and open cannot fail.  So a failure here is not
 * final: the mapping is left without an attachment, and its first fault
 * makes one (mshare_attach_late()).  Until then it has no links, so there
 * is nothing a notifier would have to cut.
 */
static void mshare_vm_open(struct vm_area_struct *vma)
{
	struct mshare_region *region = mshare_inode_region(file_inode(vma->vm_file));
	struct mshare_attach *att;

	/* The copy still points at the parent's attachment. */
	vma->vm_private_data = NULL;
	att = mshare_attach_new(region, vma);
	if (!IS_ERR(att)) {
		vma->vm_private_data = att;
		/*
		 * The copy has the parent's vm_ops, which a change that marked
		 * the region tracked during this fork did not switch: the
		 * child's attachment joined the list after its snapshot.
		 * Read after mshare_attach_new(), as in mshare_attach_mmap().
		 */
		vma->vm_ops = mshare_attach_vm_ops(region);
	}
}

/*
 * Attaching a mapping late, on behalf of a faulting task (below): a
 * request shared by the task and the worker, so that the task can be
 * killed while it waits.
 */
struct mshare_late {
	struct work_struct	work;
	refcount_t		ref;
	struct completion	done;
	struct mm_struct	*mm;
	struct file		*file;
	struct mem_cgroup	*memcg;
	unsigned long		address;
	unsigned int		memalloc;	/* the task's NOFS/NOIO scope */
};

static struct workqueue_struct *mshare_late_wq;

static void mshare_late_put(struct mshare_late *late)
{
	if (!refcount_dec_and_test(&late->ref))
		return;
	fput(late->file);
	mmdrop(late->mm);
	mem_cgroup_put(late->memcg);
	kfree(late);
}

static void mshare_late_work(struct work_struct *work)
{
	struct mshare_late *late = container_of(work, struct mshare_late,
						work);
	struct mm_struct *mm = late->mm;
	unsigned int nofs = 0, noio = 0;
	struct mem_cgroup *old_memcg;
	struct vm_area_struct *vma;
	struct mshare_attach *att;

	/* The faulting task may have been killed, and its mm gone. */
	if (!mmget_not_zero(mm))
		goto out;
	/* As the task would have: its memory cgroup, its reclaim scope. */
	old_memcg = set_active_memcg(late->memcg);
	if (late->memalloc & PF_MEMALLOC_NOFS)
		nofs = memalloc_nofs_save();
	if (late->memalloc & PF_MEMALLOC_NOIO)
		noio = memalloc_noio_save();
	mmap_write_lock(mm);
	vma = vma_lookup(mm, late->address);
	if (vma && vma->vm_file == late->file &&
	    mshare_is_attachment(vma) && !vma->vm_private_data) {
		struct mshare_region *region;

		region = mshare_inode_region(file_inode(late->file));
		att = mshare_attach_new(region, vma);
		if (!IS_ERR(att)) {
			vma->vm_private_data = att;
			/* a fork copy may predate the region's tracking */
			vma->vm_ops = mshare_attach_vm_ops(region);
		}
	}
	mmap_write_unlock(mm);
	if (late->memalloc & PF_MEMALLOC_NOIO)
		memalloc_noio_restore(noio);
	if (late->memalloc & PF_MEMALLOC_NOFS)
		memalloc_nofs_restore(nofs);
	set_active_memcg(old_memcg);
	mmput_async(mm);
out:
	complete(&late->done);
	mshare_late_put(late);
}

/*
 * A fault in a mapping that has no attachment yet (see mshare_vm_open()):
 * make it now, then retry the fault.  Registration needs the mmap lock for
 * writing, so the fault's read lock is dropped first.  It is done by a
 * worker of the module's own workqueue: mm_take_all_locks() fails
 * whenever the registering task has a signal pending, and a faulting task
 * may have one that it cannot take until the fault is done (a kernel-mode
 * fault in a syscall with a non-fatal signal pending is retried, not
 * interrupted); a worker has none.  The task waits killably.  Callers that
 * cannot retry (GUP without a "locked" argument) get SIGBUS, i.e. EFAULT.
 */
vm_fault_t mshare_attach_late(struct vm_area_struct *vma,
			      unsigned long address, unsigned int flags)
{
	struct mshare_late *late;

	if (!(flags & FAULT_FLAG_ALLOW_RETRY) ||
	    (flags & FAULT_FLAG_RETRY_NOWAIT))
		return VM_FAULT_SIGBUS;
	late = kzalloc(sizeof(*late), GFP_KERNEL_ACCOUNT);
	if (!late)
		return VM_FAULT_OOM;
	INIT_WORK(&late->work, mshare_late_work);
	refcount_set(&late->ref, 2);
	init_completion(&late->done);
	late->mm = vma->vm_mm;
	mmgrab(late->mm);
	/* Keeps the region (the inode) and the module alive meanwhile. */
	late->file = get_file(vma->vm_file);
	late->memcg = get_mem_cgroup_from_mm(late->mm);
	late->memalloc = current->flags & (PF_MEMALLOC_NOFS |
					   PF_MEMALLOC_NOIO);
	late->address = address;

	mmap_read_unlock(late->mm);
	queue_work(mshare_late_wq, &late->work);
	/*
	 * Whatever the worker did, the mmap lock is gone: only RETRY may be
	 * returned now (a failed attach is attempted again on the retry).
	 * Killed, the task leaves the worker to finish alone.
	 */
	wait_for_completion_killable(&late->done);
	mshare_late_put(late);
	return VM_FAULT_RETRY;
}

static void mshare_vm_close(struct vm_area_struct *vma)
{
	if (!vma->vm_private_data)
		return;
	mshare_attach_free(vma->vm_private_data);
	/*
	 * A closed VMA can stay in its mm's tree a while (6.12 closes the
	 * old VMA of a MAP_FIXED mmap before the new one's ->mmap, which
	 * registers a notifier): VMA walks must not follow it to the freed
	 * attachment, whatever vm_ops the kernel leaves it.
	 */
	WRITE_ONCE(vma->vm_private_data, NULL);
}

/* A region is attached whole: no splits, no protection changes, no moves. */
static int mshare_vm_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

static int mshare_vm_mprotect(struct vm_area_struct *vma, unsigned long start,
			      unsigned long end, unsigned long newflags)
{
	return -EINVAL;
}

static int mshare_vm_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;
}

#ifdef CONFIG_NUMA
/*
 * NUMA balancing would rewrite the attacher's range with PROT_NONE hinting
 * entries, inside the host's tables.  It skips VMAs whose policy lacks
 * MPOL_F_MOF: a static, never-freed policy without it (no MPOL_F_SHARED, so
 * callers do not drop a reference).  Placement is the host's business.
 */
static struct mempolicy mshare_policy = {
	.refcnt	= ATOMIC_INIT(1),
	.mode	= MPOL_LOCAL,
};

static struct mempolicy *mshare_vm_get_policy(MSHARE_GET_POLICY_ARGS)
{
	return &mshare_policy;
}

/* mbind() would queue pages by walking the attacher's (shared) tables. */
static int mshare_vm_set_policy(struct vm_area_struct *vma,
				struct mempolicy *new)
{
	return -EINVAL;
}
#endif

/* Faults never get here: fault.c redirects them to the host mm. */
static vm_fault_t mshare_vm_fault(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;
}

/*
 * Never called either (write faults go to the host mm too); its presence
 * is what counts: it makes vma_needs_dirty_tracking() true for a writable
 * attachment, so GUP refuses long-term write pins (io_uring fixed buffers,
 * RDMA, vfio) of it as it does on a direct mapping of such a file (6.5+:
 * writable_file_mapping_allowed()).  Through an attachment the file's
 * page_mkwrite would never run and the pinned pages, written behind the
 * filesystem's back, would never be written back.  GUP-fast refuses such
 * pins by the folio (gup_fast_folio_allowed()), which sees the file.
 */
static vm_fault_t mshare_vm_page_mkwrite(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;
}

/*
 * The vm_ops of attachments.  MSHARE_OPS_TRACKED is for attachments of a
 * region that has held a writable object whose filesystem needs dirty
 * tracking (region->tracked): only page_mkwrite differs, which makes GUP
 * refuse long-term write pins.  Regions of shmem, hugetlbfs and anonymous
 * memory keep the plain ops, so long-term write pins of them work as on
 * their own mappings.  One array, so that "is this an attachment?" - asked
 * on every page fault of the machine - is one compare.
 */
const struct vm_operations_struct mshare_vm_ops[MSHARE_OPS_NR] = {
	[MSHARE_OPS_PLAIN] = {
		.open		= mshare_vm_open,
		.close		= mshare_vm_close,
		.may_split	= mshare_vm_may_split,
		.mprotect	= mshare_vm_mprotect,
		.mremap		= mshare_vm_mremap,
		.fault		= mshare_vm_fault,
		.access		= mshare_vm_access,
#ifdef CONFIG_NUMA
		.get_policy	= mshare_vm_get_policy,
		.set_policy	= mshare_vm_set_policy,
#endif
	},
	[MSHARE_OPS_TRACKED] = {
		.open		= mshare_vm_open,
		.close		= mshare_vm_close,
		.may_split	= mshare_vm_may_split,
		.mprotect	= mshare_vm_mprotect,
		.mremap		= mshare_vm_mremap,
		.fault		= mshare_vm_fault,
		.page_mkwrite	= mshare_vm_page_mkwrite,
		.access		= mshare_vm_access,
#ifdef CONFIG_NUMA
		.get_policy	= mshare_vm_get_policy,
		.set_policy	= mshare_vm_set_policy,
#endif
	},
};

int mshare_attach_mmap(struct mshare_region *region, struct vm_area_struct *vma)
{
	u64 size = mshare_region_size(region);
	struct mshare_attach *att;

	if (!size)
		return -EINVAL;
	/*
	 * MAP_SHARED is VM_MAYSHARE: on a read-only fd, mmap() clears
	 * VM_SHARED (and VM_MAYWRITE), which is how read-only attaches look.
	 */
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != size ||
	    !IS_ALIGNED(vma->vm_start, MSHARE_ALIGN) ||
	    !(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	/*
	 * Only a real process attaches, to its own mm.  The one kernel thread
	 * that maps files is the placement worker, into a host mm: a region
	 * file that reached CREATE_MAPPING by another path than its own
	 * f_op (an overlayfs file hands the real file to mmap) would nest one
	 * region's tables in another's, with the outer region's rights, and a
	 * region placed in itself would pin itself forever.
	 */
	if ((current->flags & PF_KTHREAD) || vma->vm_mm != current->mm) {
		pr_info_ratelimited("a region cannot be placed in a region\n");
		return -EINVAL;
	}

	/*
	 * -EINTR (a signal during mm_take_all_locks()) is not a reason to
	 * fail mmap: the first fault attaches instead.
	 */
	att = mshare_attach_new(region, vma);
	if (IS_ERR(att) && PTR_ERR(att) != -EINTR)
		return PTR_ERR(att);

	/*
	 * DONTEXPAND: no growth, no mlock; being VM_SPECIAL it also keeps
	 * device migration out, which would allocate tables under a parked
	 * entry (userfaultfd is kept out below, whatever VM_SPECIAL does
	 * for it on a given kernel).  DONTDUMP: a core dump must not drag the whole region
	 * along.  NOHUGEPAGE: khugepaged stays out.
	 */
	mshare_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP | VM_NOHUGEPAGE);
	/*
	 * No VM_MAYWRITE, even on a writable attachment: userfaultfd refuses
	 * to register any mode (missing, WP, WP-async, minor) on a VMA
	 * without it (EPERM), on every kernel, because uffd ioctls fill and
	 * write-protect page tables, which here are the host's or the empty
	 * table.  VM_WRITE stays, so writes and FOLL_WRITE GUP work; what
	 * VM_MAYWRITE would add (mprotect to writable) is refused anyway.
	 * The kernel takes the writable-mapping count from the VMA's flags
	 * at link and unlink alike, so it stays balanced.
	 */
	mshare_vm_flags_clear(vma, VM_MAYWRITE);
	/*
	 * Read after mshare_attach_new() put att on the list: a change that
	 * marks the region tracked either finds att there (and switches it,
	 * under this mm's mmap_lock, after this mmap) or marked it before.
	 */
	vma->vm_ops = mshare_attach_vm_ops(region);
	vma->vm_private_data = IS_ERR(att) ? NULL : att;
	return 0;
}

/* An address for the whole region, aligned to a slot; a hint rounds up. */
unsigned long mshare_attach_area(unsigned long addr, unsigned long len,
				 unsigned long flags)
{
	unsigned long area;

	/*
	 * Refuse MAP_PRIVATE here, before mmap() charges a private writable
	 * mapping of the region's size against overcommit (ENOMEM).
	 */
	if (!(flags & MAP_SHARED))
		return -EINVAL;
	if (flags & MAP_FIXED)
		return IS_ALIGNED(addr, MSHARE_ALIGN) ? addr : -EINVAL;
	if (len > TASK_SIZE - MSHARE_ALIGN)
		return -ENOMEM;
	if (addr)
		addr = ALIGN(addr, MSHARE_ALIGN);
	area = mshare_free_area(addr, len + MSHARE_ALIGN);
	if (IS_ERR_VALUE(area))
		return area;
	return ALIGN(area, MSHARE_ALIGN);
}

int mshare_attach_init(void)
{
	mshare_late_wq = alloc_workqueue("mshare_late", WQ_UNBOUND, 0);
	if (!mshare_late_wq)
		return -ENOMEM;
	mshare_empty_pud = (void *)get_zeroed_page(GFP_KERNEL);
	if (!mshare_empty_pud) {
		destroy_workqueue(mshare_late_wq);
		return -ENOMEM;
	}
	mshare_empty_pfn = PHYS_PFN(__pa(mshare_empty_pud));
	return 0;
}

/*
 * Make the empty table read-only in the kernel's direct map (the MMU reads
 * it by physical address, unaffected).  Nothing may ever write into it; if
 * a generic path tried to allocate a table under a parked entry, it would
 * fault on the spot instead of corrupting every attachment's parked slots.
 * Needs the call gates (hook.c), so it runs after them.
 */
int mshare_attach_seal(void)
{
	int err = mshare_set_memory_ro((unsigned long)mshare_empty_pud, 1);

	if (err)
		pr_err("cannot make the empty PUD table read-only: %d\n", err);
	return err;
}

void mshare_attach_unseal(void)
{
	mshare_set_memory_rw((unsigned long)mshare_empty_pud, 1);
}

/* Called when no attachment is left, after mshare_attach_unseal(). */
void mshare_attach_exit(void)
{
	/* Late attaches still running hold no module reference any more. */
	destroy_workqueue(mshare_late_wq);
	/* Something wrote into it: leak it rather than free a live table. */
	if (memchr_inv(mshare_empty_pud, 0, PAGE_SIZE)) {
		mshare_alarm("the empty PUD table was written to; not freeing it\n");
		return;
	}
	free_page((unsigned long)mshare_empty_pud);
}

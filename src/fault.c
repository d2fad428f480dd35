// SPDX-License-Identifier: GPL-2.0
/*
 * Fault redirect: a fault in an attacher's mapping is handled in the host
 * VMA, under the host mm's lock, after checking the access against both
 * the attacher's and the host's rights.
 *
 * The direct-call hook on the exported handle_mm_fault() (hook.c) sends
 * faults on mshare VMAs here; this calls the real handle_mm_fault()
 * directly on the host VMA (an exported function: no kallsyms pointer,
 * IBT-safe).
 *
 * Lock order: attacher mmap_lock -> host mmap_lock -> attach_lock ->
 * attacher page_table_lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>

#include "mshare.h"

/* The access the fault asks for, against a VMA's rights. */
static bool mshare_access_ok(struct vm_area_struct *vma, unsigned int flags)
{
	if (flags & FAULT_FLAG_WRITE)
		return vma->vm_flags & VM_WRITE;
	if (flags & FAULT_FLAG_INSTRUCTION)
		return vma->vm_flags & VM_EXEC;
	return vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC);
}

/*
 * Linking is forbidden for a moment: by an invalidation of this attacher's
 * range (-EAGAIN), which ends by itself, or by a host change (-EBUSY),
 * which first waits for every attacher's mmap_lock.  So a fault that holds
 * that lock must not spin on a host change: when it may, it drops the lock,
 * waits and retries; a RETRY_NOWAIT fault is told to retry later, lock
 * kept, as such callers expect; a fault that may not retry at all (GUP
 * without a "locked" argument, e.g. /proc/PID/mem) fails with SIGBUS,
 * i.e. EFAULT, rather than deadlock.  The one exception, in
 * mshare_handle_fault(): such a fault waits, lock kept, for at most 30 s,
 * for a fast change (host_busy), which takes no attacher lock.
 */
static vm_fault_t mshare_fault_wait(struct vm_area_struct *vma,
				    struct mshare_region *region,
				    unsigned int flags, int why)
{
	if (!(flags & FAULT_FLAG_ALLOW_RETRY))
		return why == -EBUSY ? VM_FAULT_SIGBUS : VM_FAULT_NOPAGE;
	if (flags & FAULT_FLAG_RETRY_NOWAIT)
		return why == -EBUSY ? VM_FAULT_RETRY : VM_FAULT_NOPAGE;

	/*
	 * Once the mmap lock is dropped, the VMA and with it the file that
	 * pins the module may go: hold the region and the module while
	 * sleeping here.  A sleeping task is quiescent for RCU-tasks, so
	 * ftrace's unregistration at unload would not wait for it.  After
	 * module_put() only the return is left, which is not a voluntary
	 * sleep, and ftrace's synchronize_rcu_tasks() at unload waits for it.
	 */
	__module_get(THIS_MODULE);
	mshare_region_get(region);
	mmap_read_unlock(vma->vm_mm);	/* vma may be gone from here on */
	wait_event_killable(region->mutation_done,
			    !READ_ONCE(region->mutating));
	mshare_region_put(region);
	module_put(THIS_MODULE);
	return VM_FAULT_RETRY;
}

/* How long a fault that cannot retry waits for a fast change, at most. */
#define MSHARE_FAULT_WAIT	(30 * HZ)

/* Link the slot if the host has a table for it.  Host mmap_lock held. */
static int mshare_fault_link(struct mshare_attach *att, unsigned long slot,
			     struct mm_struct *host, unsigned long haddr)
{
	pgd_t *hpgd = pgd_offset(host, haddr);
	p4d_t *hp4d;

	if (mshare_attach_linked(att, slot))
		return 0;
	/* With 5-level paging the host's P4D table may not exist yet. */
	if (pgd_none(*hpgd))
		return -ENOENT;	/* the host fault below allocates it */
	hp4d = p4d_offset(hpgd, haddr);
	if (p4d_none(*hp4d))
		return -ENOENT;
	return mshare_attach_link(att, slot, *hp4d);
}

vm_fault_t mshare_handle_fault(struct vm_area_struct *vma,
			       unsigned long address, unsigned int flags,
			       struct pt_regs *regs)
{
	struct mshare_attach *att = vma->vm_private_data;
	struct mm_struct *mm = vma->vm_mm;
	struct mshare_region *region;
	struct vm_area_struct *hvma;
	struct mm_struct *host;
	unsigned long haddr, slot;
	unsigned long seq;
	vm_fault_t ret;
	int link;
	u8 busy;

	/* 6.12: retry under the mmap lock, where the host lock nests. */
	if (mshare_fault_drop_vma_lock(vma, flags))
		return VM_FAULT_RETRY;
	if (!mshare_access_ok(vma, flags))
		return VM_FAULT_SIGSEGV;
	if (!att)
		return mshare_attach_late(vma, address, flags);

	region = att->region;
	host = region->host;
	haddr = MSHARE_HOST_BASE + (address - vma->vm_start);
	slot = (address - vma->vm_start) / MSHARE_ALIGN;

again:
	down_read_nested(&host->mmap_lock, SINGLE_DEPTH_NESTING);
	/*
	 * A fast change waits for the faults inside the host's lock, for at
	 * most 30 s, and then for nobody: one that came in after it read
	 * host_busy under that lock, so it leaves before any I/O (host.c).
	 */
	if (READ_ONCE(region->host_busy)) {
		/* which change: the two change together, at its end */
		spin_lock(&region->attach_lock);
		busy = region->host_busy;
		seq = region->change_seq;
		spin_unlock(&region->attach_lock);
		up_read(&host->mmap_lock);
		if (!busy)
			goto again;
		if (busy == MSHARE_BUSY_SLOW || (flags & FAULT_FLAG_ALLOW_RETRY))
			return mshare_fault_wait(vma, region, flags, -EBUSY);
		/*
		 * A fault that may not drop its locks (futex fixups, robust
		 * lists at exit, GUP without "locked"): a fast change takes
		 * no attacher lock, so it can wait for its end, killably,
		 * holding the attacher's lock.  Only for this change (the
		 * next may be slow and want that lock), and for at most
		 * MSHARE_FAULT_WAIT: a change's MAP_POPULATE of a FUSE file
		 * takes as long as its daemon likes, and this task's other
		 * threads queue behind its lock.
		 */
		if (wait_event_killable_timeout(region->mutation_done,
						READ_ONCE(region->change_seq) != seq,
						MSHARE_FAULT_WAIT) <= 0)
			return VM_FAULT_SIGBUS;
		goto again;
	}
	hvma = vma_lookup(host, haddr);
	if (!hvma) {
		/* Nothing placed here (or it was unmapped). */
		up_read(&host->mmap_lock);
		return VM_FAULT_SIGBUS;
	}
	if (!mshare_access_ok(hvma, flags)) {
		up_read(&host->mmap_lock);
		return VM_FAULT_SIGSEGV;
	}
	/*
	 * Regions do not nest (attach.c, host.c), so a host VMA is never an
	 * attachment; the hook would send the call below back here.
	 */
	if (unlikely(mshare_is_attachment(hvma))) {
		up_read(&host->mmap_lock);
		mshare_alarm("an attachment inside a host mm\n");
		return VM_FAULT_SIGBUS;
	}

	link = mshare_fault_link(att, slot, host, haddr);
	if (link == -EAGAIN || link == -EBUSY) {
		up_read(&host->mmap_lock);
		return mshare_fault_wait(vma, region, flags, link);
	}
	if (link == -EEXIST) {
		up_read(&host->mmap_lock);
		return VM_FAULT_SIGBUS;
	}

	ret = handle_mm_fault(hvma, haddr, flags, regs);

	/*
	 * COMPLETED, and RETRY without NOWAIT: the host lock was dropped by
	 * the callee, and the caller expects its own dropped as well.
	 */
	if ((ret & VM_FAULT_COMPLETED) ||
	    ((ret & VM_FAULT_RETRY) && !(flags & FAULT_FLAG_RETRY_NOWAIT))) {
		mmap_read_unlock(mm);
		return ret;
	}
	/* First touch of the slot: the host now has its table. */
	if (link == -ENOENT && !(ret & VM_FAULT_ERROR))
		mshare_fault_link(att, slot, host, haddr);
	up_read(&host->mmap_lock);
	return ret;
}

/*
 * /proc/PID/cmdline and environ read the mm's argument and environment
 * strings with FOLL_ANON, which GUP refuses on an attachment: they read
 * only anonymous memory, so that a reader (ps, for any process) never
 * waits for another user's file I/O.  ->access does not see the flag, and
 * a process moves those ranges at will (prctl(PR_SET_MM_MAP) needs no
 * privilege), so a range check alone cannot hold: it is refused here, and
 * ->access never faults in pages of objects whose I/O a user may control
 * (below).
 */
static bool mshare_in_args(struct mm_struct *mm, unsigned long addr)
{
	bool in;

	spin_lock(&mm->arg_lock);
	in = (addr >= mm->arg_start && addr < mm->arg_end) ||
	     (addr >= mm->env_start && addr < mm->env_end);
	spin_unlock(&mm->arg_lock);
	return in;
}

/*
 * Whether a fault of a host object waits at most for the kernel's own
 * I/O: shmem (anonymous objects, memfd, tmpfs; swap-in), hugetlbfs, and
 * the local disk filesystems that mount only with privilege.  Any other
 * file (FUSE, network filesystems) may wait for I/O that a user controls,
 * which a caller of ->access must never wait for with the attacher's and
 * the host's mmap locks held: those pages are read only if mapped.
 */
static bool mshare_fault_is_local(struct vm_area_struct *hvma)
{
	if (!hvma->vm_file)
		return true;
	switch (file_inode(hvma->vm_file)->i_sb->s_magic) {
	case TMPFS_MAGIC:
	case HUGETLBFS_MAGIC:
	case EXT4_SUPER_MAGIC:		/* ext2, ext3 and ext4 */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
		return true;
	default:
		return false;
	}
}

/*
 * vm_ops->access: what /proc/PID/mem, ptrace and access_process_vm() fall
 * back to when their GUP fails on an attachment.  That GUP has no "locked"
 * argument: it may not let the mmap lock go, so its fault fails (SIGBUS,
 * i.e. EFAULT, then EIO) where the lock must be dropped first: on a
 * mapping that has no attachment yet (mshare_attach_late(): an attach that
 * a signal interrupted, or a fork's), and on a slot that cannot be linked
 * during a host change (mshare_fault_wait()).  Here the bytes go through
 * the host's own page tables, under the host's mmap lock taken inside the
 * attacher's as the fault path does, and nothing is linked: no notifier
 * or host-change rule is involved, and a host change in progress cannot
 * be waited for (it waits for our lock).  The rights are the fault path's:
 * both the attachment and the host object must allow the access, and
 * FOLL_FORCE is not passed on, so a read-only attacher cannot write here.
 * Pages of files whose I/O a user may control are read only if the host
 * has them mapped (FOLL_NOFAULT, mshare_fault_is_local()).
 * Copies at most to the end of the page; returns the bytes copied or an
 * error.
 */
int mshare_vm_access(struct vm_area_struct *vma, unsigned long addr,
		     void *buf, int len, int write)
{
	struct mshare_region *region =
		mshare_inode_region(file_inode(vma->vm_file));
	unsigned int flags = write ? FAULT_FLAG_WRITE : 0;
	struct mm_struct *host = region->host;
	unsigned int gup_flags = 0;
	struct vm_area_struct *hvma;
	unsigned long haddr;
	struct page *page;
	void *maddr;
	long got;
	int n;

	if (addr < vma->vm_start || addr >= vma->vm_end || len <= 0)
		return -EFAULT;
	if (!mshare_access_ok(vma, flags) || mshare_in_args(vma->vm_mm, addr))
		return -EFAULT;
	haddr = MSHARE_HOST_BASE + (addr - vma->vm_start);
	n = min_t(unsigned long, len, PAGE_SIZE - offset_in_page(haddr));

	down_read_nested(&host->mmap_lock, SINGLE_DEPTH_NESTING);
	hvma = vma_lookup(host, haddr);
	if (!hvma || !mshare_access_ok(hvma, flags)) {
		n = -EFAULT;
		goto out;
	}
	if (write)
		gup_flags |= FOLL_WRITE;
	/*
	 * While a change drains the host's lock (host.c), no fault either:
	 * a local file's fault can wait on a folio lock that another task
	 * holds over a stalled FUSE read, and the change would wait with us.
	 * What the host has mapped still reads.
	 */
	if (!mshare_fault_is_local(hvma) || READ_ONCE(region->host_busy))
		gup_flags |= FOLL_NOFAULT;
	got = mshare_gup_remote_page(host, haddr, gup_flags, &page);
	if (got <= 0) {
		n = got ? got : -EFAULT;
		goto out;
	}
	maddr = kmap_local_page(page);
	if (write) {
		copy_to_user_page(hvma, page, haddr,
				  maddr + offset_in_page(haddr), buf, n);
		set_page_dirty_lock(page);
	} else {
		copy_from_user_page(hvma, page, haddr,
				    buf, maddr + offset_in_page(haddr), n);
	}
	kunmap_local(maddr);
	put_page(page);
out:
	up_read(&host->mmap_lock);
	return n;
}

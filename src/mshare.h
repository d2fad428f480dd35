/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mshare: internal interfaces between the parts of the module.
 */
#ifndef MSHARE_H
#define MSHARE_H

#include <linux/cpumask.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

#include <uapi/linux/msharefs.h>

#include "compat.h"

/*
 * The unit of sharing: one P4D entry maps 512 GiB on x86_64 with 4- and
 * 5-level paging alike.  Region sizes and attach addresses are multiples.
 */
#define MSHARE_ALIGN		P4D_SIZE

/* Where a region lives in its host mm: the first slot above address 0. */
#define MSHARE_HOST_BASE	MSHARE_ALIGN

/*
 * State of one region, hung on its inode's i_private.  References: the
 * inode, and every attachment; the last one tears down the host mm, so the
 * memory lives until the name, the last fd and the last mapping are gone.
 */
struct mshare_region {
	refcount_t		ref;
	/* Serialises sizing. */
	struct mutex		lock;
	/*
	 * A host change (CREATE_MAPPING, UNMAP) is running; one at a time
	 * per region, and so at most one change thread per region.  Under
	 * attach_lock; callers wait on change_done, killably.
	 */
	bool			changing;
	wait_queue_head_t	change_done;
	/* 0 until set once by ftruncate/fallocate. */
	u64			size;

	/* The mm that owns the region's page tables; set with the size. */
	struct mm_struct	*host;
	/* Creator's thread-group leader: host->owner, for memcg charging. */
	struct task_struct	*owner;
	struct mmu_notifier	host_mn;		/* TLB flushes */
	struct mmu_notifier	host_inv_mn;		/* start/end */

	/*
	 * attach_lock (a spinlock: TLB-flush callbacks take it) protects the
	 * attachment list, the mutating flag and flush_mask.  Order:
	 * attach_lock -> an attacher's page_table_lock.
	 */
	spinlock_t		attach_lock;
	struct list_head	attachments;
	unsigned int		nr_attach;
	/* A host change is under way: attachers must not link. */
	bool			mutating;
	/*
	 * A change is draining, or has drained, the host's lock (host.c): a
	 * fault may not hold it while the change runs.  MSHARE_BUSY_FAST: the
	 * change takes no attacher lock, so a fault that cannot retry may
	 * wait for it (change_seq moves at its end) without dropping its own.
	 */
	u8			host_busy;
	unsigned long		change_seq;
	/*
	 * Once set, for good: the region has held a writable object whose
	 * filesystem needs dirty tracking, and its attachments have the vm_ops
	 * that make GUP refuse long-term write pins (MSHARE_OPS_TRACKED).
	 */
	bool			tracked;
	/*
	 * A slow change's lock phase completed with tracked set: every
	 * attachment has the tracked vm_ops since.  Only then may a change
	 * that places a tracked object be fast.  By the running change only.
	 */
	bool			tracked_all;
	wait_queue_head_t	mutation_done;
	cpumask_var_t		flush_mask;
	/*
	 * Host invalidations being forwarded to the attachers' notifier
	 * chains, from a start to its end (host.c).  The attachment list
	 * does not change while it is non-zero, so every attacher told
	 * "start" is told "end".  Not a lock: invalidations nest in one
	 * task (a hugetlb or THP split zap inside a zap), so forwarding
	 * never waits; adding or removing an attachment waits (fwd_idle)
	 * until it is zero.  Under attach_lock.
	 */
	unsigned int		fwd_active;
	wait_queue_head_t	fwd_idle;
	/*
	 * The attachments that forwarding tells (att->fwd): those whose mm
	 * may have a subscriber other than the attachments' own notifiers,
	 * which ignore forwarded ranges (attach.c).  Changes under attach_lock
	 * with fwd_active zero, like the attachment list.
	 */
	struct list_head	fwd_list;
	/*
	 * Attachments of this region whose mm is registering an mmu notifier
	 * (attach.c, mshare_take_all_locks()): forwarding waits (thaw) until
	 * it is zero, so a subscriber never hears a forwarded end without
	 * its start.  Under attach_lock.
	 */
	unsigned int		frozen;
	wait_queue_head_t	thaw;
};

enum { MSHARE_BUSY_NO, MSHARE_BUSY_FAST, MSHARE_BUSY_SLOW };

/*
 * The owner of the ranges the host forwards into attachers' chains: the
 * attacher's own notifier ignores them (they are about host tables, not
 * about the attacher's links).
 */
#define MSHARE_FWD_OWNER	((void *)mshare_vm_ops)

/* One mapping of a region in one process (one VMA). */
struct mshare_attach {
	struct list_head	node;		/* in region->attachments */
	struct mshare_region	*region;
	struct mm_struct	*mm;
	unsigned long		start, end;	/* the VMA, whole slots */
	bool			readonly;
	bool			noexec;		/* no VM_EXEC: links carry NX */
	struct mmu_notifier	mn;
	struct list_head	ro_node;	/* in the read-only list */
	struct rcu_head		rcu;
	/*
	 * Under mm->page_table_lock.  linked: the slots whose P4D entry is
	 * ours, linked to the host or parked (attach.c).
	 */
	unsigned long		*linked;
	int			invalidating;	/* notifier ranges in flight */
	/* Counted in region->frozen; on mshare_frozen_list.  attach.c */
	bool			frozen;
	struct list_head	frozen_node;
	/*
	 * On region->fwd_list: mm may have another subscriber.  Set for good,
	 * under attach_lock and mm's mmap_lock held for writing.  attach.c
	 */
	bool			fwd;
	struct list_head	fwd_node;
};

/*
 * Something that must never happen, seen by the module itself: one form,
 * "mshare: ALARM: ...", which the test harness fails a run on.
 */
#define mshare_alarm(fmt, ...) \
	pr_err_ratelimited("ALARM: " fmt, ##__VA_ARGS__)

static inline struct mshare_region *mshare_inode_region(struct inode *inode)
{
	return inode->i_private;
}

/* region.c */
struct mshare_region *mshare_region_alloc(void);
void mshare_region_get(struct mshare_region *region);
void mshare_region_put(struct mshare_region *region);
void mshare_region_check_leaks(void);
u64 mshare_region_max_size(void);
u64 mshare_region_size(struct mshare_region *region);
extern const struct file_operations mshare_region_fops;
extern const struct inode_operations mshare_region_iops;

/*
 * First in the kthread data of every task that may run free_pgd_range() in
 * a live host (tables.c): whether its frees may go through.
 */
struct mshare_tables_task {
	bool			free_tables;
};

/* host.c */
int mshare_host_op_thread(void *data);
int mshare_host_create(struct mshare_region *region);
void mshare_host_destroy(struct mshare_region *region);
long mshare_host_create_mapping(struct mshare_region *region,
				const struct mshare_create *req);
long mshare_host_unmap(struct mshare_region *region,
		       const struct mshare_unmap *req);
int mshare_host_fsync(struct mshare_region *region, loff_t start, loff_t end,
		      int datasync);
int mshare_host_init(void);
void mshare_host_exit(void);

/* tables.c */
extern bool mshare_tables_kept_ok;
bool mshare_host_keeps_tables(struct mm_struct *mm);
void mshare_tables_release(struct mm_struct *host, u64 size);
int mshare_tables_init(void);
void mshare_tables_exit(void);

/* attach.c */
int mshare_attach_mmap(struct mshare_region *region,
		       struct vm_area_struct *vma);
unsigned long mshare_attach_area(unsigned long addr, unsigned long len,
				 unsigned long flags);
int mshare_attach_link(struct mshare_attach *att, unsigned long slot,
		       p4d_t host_entry);
void mshare_attach_unlink(struct mshare_attach *att, unsigned long start,
			  unsigned long end);
bool mshare_attach_linked(struct mshare_attach *att, unsigned long slot);
vm_fault_t mshare_attach_late(struct vm_area_struct *vma,
			      unsigned long address, unsigned int flags);
int mshare_take_all_locks(struct mm_struct *mm);
void mshare_attach_thaw(struct mm_struct *mm);
void mshare_fwd_idle_wake(void);
int mshare_attach_init(void);
int mshare_attach_seal(void);
void mshare_attach_unseal(void);
void mshare_attach_exit(void);
bool mshare_gup_write_denied(unsigned long start, unsigned long nr_pages);
enum { MSHARE_OPS_PLAIN, MSHARE_OPS_TRACKED, MSHARE_OPS_NR };
extern const struct vm_operations_struct mshare_vm_ops[MSHARE_OPS_NR];

/*
 * Is this VMA an attachment (a process's mapping of a region)?  One
 * compare (the hook asks for every page fault): vm_ops points into the
 * array only if it is one of its elements.
 */
static inline bool mshare_is_attachment(const struct vm_area_struct *vma)
{
	return (unsigned long)vma->vm_ops - (unsigned long)mshare_vm_ops <
	       sizeof(mshare_vm_ops);
}

/* The vm_ops an attachment of region must have now. */
static inline const struct vm_operations_struct *
mshare_attach_vm_ops(const struct mshare_region *region)
{
	return &mshare_vm_ops[READ_ONCE(region->tracked) ?
			      MSHARE_OPS_TRACKED : MSHARE_OPS_PLAIN];
}

/* fault.c */
int mshare_vm_access(struct vm_area_struct *vma, unsigned long addr,
		     void *buf, int len, int write);
vm_fault_t mshare_handle_fault(struct vm_area_struct *vma,
			       unsigned long address, unsigned int flags,
			       struct pt_regs *regs);

/* hook.c */
int mshare_hook_init(void);
void mshare_hook_exit(void);

/* tlb.c */
void mshare_flush_mm(struct mm_struct *mm);
void mshare_flush_attachers(struct mshare_region *region,
			    unsigned long start, unsigned long end);
bool mshare_host_to_attach(struct mshare_attach *att, unsigned long start,
			   unsigned long end, unsigned long *astart,
			   unsigned long *aend);

/* ksym.c */
struct ftrace_ops;
int mshare_ksym_init(struct ftrace_ops *ops);
unsigned long mshare_ksym(const char *name);
unsigned long mshare_gate_target(unsigned long ip);
void mshare_ksym_data_init(void);
struct mm_struct *mshare_mm_alloc(void);
int mshare_gate_take_all_locks(struct mm_struct *mm);
void mshare_gate_drop_all_locks(struct mm_struct *mm);
int mshare_set_memory_ro(unsigned long addr, int numpages);
int mshare_set_memory_rw(unsigned long addr, int numpages);
int mshare_mn_start(struct mmu_notifier_range *range);
void mshare_mn_end(struct mmu_notifier_range *range, bool only_end);
void mshare_mn_tlb(struct mm_struct *mm, unsigned long start,
		   unsigned long end);
struct file *mshare_hugetlb_file_setup(const char *name, size_t size,
				       mshare_hugetlb_acct_t acct,
				       int creat_flags, int page_size_log);

/* msharefs.c */
int msharefs_init(void);
void msharefs_exit(void);

#endif /* MSHARE_H */

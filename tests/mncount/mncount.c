// SPDX-License-Identifier: GPL-2.0
/*
 * mncount: a test-only module that counts mmu notifier callbacks.
 *
 * Each open fd of /dev/mncount may register one mmu notifier on the mm of
 * the process that calls MNCOUNT_REGISTER, for a virtual range [start, end).
 * The notifier does nothing but count what a secondary MMU (KVM, an IOMMU)
 * would be told about that range: invalidate_range_start (in total and per
 * event), invalidate_range_end, and the secondary-TLB callback
 * (invalidate_range before 6.6, arch_invalidate_secondary_tlbs from 6.6),
 * plus the union of the addresses they named.  MNCOUNT_GET copies the
 * counters out, MNCOUNT_RESET zeroes them, and closing the fd unregisters
 * the notifier.  MNCOUNT_REGISTER_INTERVAL registers an interval notifier
 * (HMM's kind) instead.  The interface is in mncount.h.
 *
 * Callbacks can run concurrently and the secondary-TLB one under page table
 * spinlocks, so the counters sit under a spinlock that is only ever held
 * for a few stores.
 *
 * From 6.6 the kernel refuses (WARN and -EINVAL) a subscription that has
 * both arch_invalidate_secondary_tlbs and invalidate_range_start/end, so
 * there an fd's notifier is two subscriptions on the same mm: one for
 * start/end (as KVM registers) and one for the TLB callback (as IOMMU SVA
 * does).  Before 6.6 one subscription has all three.
 */
#include <linux/fs.h>
#include <linux/kprobes.h>
#include <linux/miscdevice.h>
#include <linux/mm_types.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/version.h>

#include "mncount.h"

#define MNC_SPLIT_TLB	(LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0))

struct mnc {
	struct mmu_notifier mn;		/* release, start, end (TLB < 6.6) */
	struct mmu_notifier tlb_mn;	/* the TLB callback, from 6.6 */
	struct mmu_interval_notifier isub;	/* or this one, alone */
	struct mutex reg_lock;		/* serializes MNCOUNT_REGISTER(_INTERVAL) */
	bool registered;
	bool interval;			/* registered isub, not mn */
	unsigned long start, end;	/* fixed before registering */
	spinlock_t lock;		/* protects counts */
	struct mncount_counts counts;
};

static void mnc_zero(struct mncount_counts *c)
{
	memset(c, 0, sizeof(*c));
	c->min_start = ~0ULL;
	c->tlb_min = ~0ULL;
}

static bool mnc_overlaps(struct mnc *m, unsigned long start,
			 unsigned long end)
{
	return start < m->end && end > m->start;
}

static struct mnc *to_mnc(struct mmu_notifier *mn)
{
	return container_of(mn, struct mnc, mn);
}

static void mnc_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct mnc *m = to_mnc(mn);
	unsigned long flags;

	spin_lock_irqsave(&m->lock, flags);
	m->counts.releases++;
	spin_unlock_irqrestore(&m->lock, flags);
}

static int mnc_range_start(struct mmu_notifier *mn,
			   const struct mmu_notifier_range *range)
{
	struct mnc *m = to_mnc(mn);
	struct mncount_counts *c = &m->counts;
	unsigned long flags;

	spin_lock_irqsave(&m->lock, flags);
	if (!mnc_overlaps(m, range->start, range->end)) {
		c->outside_starts++;
		goto out;
	}
	c->starts++;
	if ((unsigned int)range->event < MNCOUNT_NEVENTS)
		c->events[range->event]++;
	else
		c->other_events++;
	if (!mmu_notifier_range_blockable(range))
		c->nonblock++;
	c->min_start = min_t(u64, c->min_start, range->start);
	c->max_end = max_t(u64, c->max_end, range->end);
out:
	spin_unlock_irqrestore(&m->lock, flags);
	return 0;
}

static void mnc_range_end(struct mmu_notifier *mn,
			  const struct mmu_notifier_range *range)
{
	struct mnc *m = to_mnc(mn);
	unsigned long flags;

	if (!mnc_overlaps(m, range->start, range->end))
		return;
	spin_lock_irqsave(&m->lock, flags);
	m->counts.ends++;
	spin_unlock_irqrestore(&m->lock, flags);
}

/* Called under page table spinlocks: no sleeping. */
static void mnc_count_tlbs(struct mnc *m, unsigned long start,
			   unsigned long end)
{
	struct mncount_counts *c = &m->counts;
	unsigned long flags;

	spin_lock_irqsave(&m->lock, flags);
	if (mnc_overlaps(m, start, end)) {
		c->tlbs++;
		c->tlb_min = min_t(u64, c->tlb_min, start);
		c->tlb_max = max_t(u64, c->tlb_max, end);
	} else {
		c->outside_tlbs++;
	}
	spin_unlock_irqrestore(&m->lock, flags);
}

#if MNC_SPLIT_TLB
static void mnc_secondary_tlbs(struct mmu_notifier *mn, struct mm_struct *mm,
			       unsigned long start, unsigned long end)
{
	mnc_count_tlbs(container_of(mn, struct mnc, tlb_mn), start, end);
}

static const struct mmu_notifier_ops mnc_tlb_ops = {
	.arch_invalidate_secondary_tlbs = mnc_secondary_tlbs,
};
#else
static void mnc_secondary_tlbs(struct mmu_notifier *mn, struct mm_struct *mm,
			       unsigned long start, unsigned long end)
{
	mnc_count_tlbs(to_mnc(mn), start, end);
}
#endif

static const struct mmu_notifier_ops mnc_ops = {
	.release		= mnc_release,
	.invalidate_range_start	= mnc_range_start,
	.invalidate_range_end	= mnc_range_end,
#if !MNC_SPLIT_TLB
	.invalidate_range	= mnc_secondary_tlbs,
#endif
};

/*
 * An interval notifier is told only of invalidations that overlap its
 * range, once per range, with no end: counted as a start and an end.
 */
static bool mnc_interval_invalidate(struct mmu_interval_notifier *isub,
				    const struct mmu_notifier_range *range,
				    unsigned long cur_seq)
{
	struct mnc *m = container_of(isub, struct mnc, isub);
	struct mncount_counts *c = &m->counts;
	unsigned long flags;

	spin_lock_irqsave(&m->lock, flags);
	mmu_interval_set_seq(isub, cur_seq);
	c->starts++;
	c->ends++;
	if ((unsigned int)range->event < MNCOUNT_NEVENTS)
		c->events[range->event]++;
	else
		c->other_events++;
	if (!mmu_notifier_range_blockable(range))
		c->nonblock++;
	c->min_start = min_t(u64, c->min_start, range->start);
	c->max_end = max_t(u64, c->max_end, range->end);
	spin_unlock_irqrestore(&m->lock, flags);
	return true;
}

static const struct mmu_interval_notifier_ops mnc_iops = {
	.invalidate	= mnc_interval_invalidate,
};

/*
 * MNCOUNT_INTERRUPT: a kprobe on __mmu_notifier_register() sets
 * TIF_NOTIFY_SIGNAL on the armed thread when it gets there.  The flag only
 * makes signal_pending() true until the thread next returns to user mode,
 * where get_signal() clears it (there is no task work to run): nothing else
 * of the thread is touched.  The armed task is held by a reference, and
 * disarmed when the fd that armed it is closed, so that the trap never
 * fires in another task (a kernel thread would never clear the flag).
 */
static DEFINE_SPINLOCK(mnc_arm_lock);
static struct task_struct *mnc_armed;	/* under mnc_arm_lock */
static struct file *mnc_armed_by;
static int mnc_decoy_calls;
static atomic64_t mnc_interrupted = ATOMIC64_INIT(0);

/* Disarm (if armed by file, or always if file is NULL); the old task. */
static struct task_struct *mnc_disarm(struct file *file)
{
	struct task_struct *t = NULL;
	unsigned long flags;

	spin_lock_irqsave(&mnc_arm_lock, flags);
	if (!file || mnc_armed_by == file) {
		t = mnc_armed;
		mnc_armed = NULL;
		mnc_armed_by = NULL;
	}
	spin_unlock_irqrestore(&mnc_arm_lock, flags);
	return t;
}

static void mnc_arm(struct file *file)
{
	struct task_struct *old;
	unsigned long flags;

	spin_lock_irqsave(&mnc_arm_lock, flags);
	old = mnc_armed;
	mnc_armed = get_task_struct(current);
	mnc_armed_by = file;
	spin_unlock_irqrestore(&mnc_arm_lock, flags);
	if (old)
		put_task_struct(old);
}

static int mnc_register_pre(struct kprobe *p, struct pt_regs *regs)
{
	unsigned long flags;
	bool hit;

	if (READ_ONCE(mnc_armed) != current || (current->flags & PF_KTHREAD))
		return 0;
	spin_lock_irqsave(&mnc_arm_lock, flags);
	hit = mnc_armed == current;
	if (hit) {
		mnc_armed = NULL;
		mnc_armed_by = NULL;
	}
	spin_unlock_irqrestore(&mnc_arm_lock, flags);
	if (hit) {
		set_tsk_thread_flag(current, TIF_NOTIFY_SIGNAL);
		atomic64_inc(&mnc_interrupted);
		/* not the last reference: current is running */
		put_task_struct(current);
	}
	return 0;
}

static struct kprobe mnc_register_kp = {
	.symbol_name	= "__mmu_notifier_register",
	.pre_handler	= mnc_register_pre,
};

static int mnc_open(struct inode *inode, struct file *file)
{
	struct mnc *m = kzalloc(sizeof(*m), GFP_KERNEL);

	if (!m)
		return -ENOMEM;
	mutex_init(&m->reg_lock);
	spin_lock_init(&m->lock);
	mnc_zero(&m->counts);
	m->mn.ops = &mnc_ops;
#if MNC_SPLIT_TLB
	m->tlb_mn.ops = &mnc_tlb_ops;
#endif
	file->private_data = m;
	return 0;
}

static int mnc_release_file(struct inode *inode, struct file *file)
{
	struct mnc *m = file->private_data;
	struct task_struct *armed = mnc_disarm(file);

	if (armed)
		put_task_struct(armed);

	/* Waits for callbacks in flight; the mm may already have exited. */
	if (m->registered && m->interval) {
		mmu_interval_notifier_remove(&m->isub);
	} else if (m->registered) {
		if (MNC_SPLIT_TLB)
			mmu_notifier_unregister(&m->tlb_mn, m->tlb_mn.mm);
		mmu_notifier_unregister(&m->mn, m->mn.mm);
	}
	mutex_destroy(&m->reg_lock);
	kfree(m);
	return 0;
}

static long mnc_register(struct mnc *m, void __user *arg, bool interval)
{
	struct mncount_range r;
	int ret;

	if (copy_from_user(&r, arg, sizeof(r)))
		return -EFAULT;
	if (r.start >= r.end || r.end > TASK_SIZE_MAX)
		return -EINVAL;
	if (!current->mm)
		return -EINVAL;
	mutex_lock(&m->reg_lock);
	if (m->registered) {
		ret = -EBUSY;
		goto out;
	}
	m->start = r.start;
	m->end = r.end;
	if (interval) {
		ret = mmu_interval_notifier_insert(&m->isub, current->mm,
						   r.start, r.end - r.start,
						   &mnc_iops);
		m->interval = !ret;
		m->registered = !ret;
		goto out;
	}
	ret = mmu_notifier_register(&m->mn, current->mm);
	if (!ret && MNC_SPLIT_TLB) {
		ret = mmu_notifier_register(&m->tlb_mn, current->mm);
		if (ret)
			mmu_notifier_unregister(&m->mn, current->mm);
	}
	if (!ret)
		m->registered = true;
out:
	mutex_unlock(&m->reg_lock);
	return ret;
}

static long mnc_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mnc *m = file->private_data;
	struct mncount_counts c;
	unsigned long flags;

	switch (cmd) {
	case MNCOUNT_REGISTER:
		return mnc_register(m, (void __user *)arg, false);
	case MNCOUNT_REGISTER_INTERVAL:
		return mnc_register(m, (void __user *)arg, true);
	case MNCOUNT_GET:
		spin_lock_irqsave(&m->lock, flags);
		c = m->counts;
		spin_unlock_irqrestore(&m->lock, flags);
		if (copy_to_user((void __user *)arg, &c, sizeof(c)))
			return -EFAULT;
		return 0;
	case MNCOUNT_INTERRUPT:
		mnc_arm(file);
		return 0;
	case MNCOUNT_INTERRUPTED: {
		u64 n = atomic64_read(&mnc_interrupted);

		return copy_to_user((void __user *)arg, &n, sizeof(n)) ?
			-EFAULT : 0;
	}
	case MNCOUNT_RESET:
		spin_lock_irqsave(&m->lock, flags);
		mnc_zero(&m->counts);
		spin_unlock_irqrestore(&m->lock, flags);
		return 0;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations mnc_fops = {
	.owner		= THIS_MODULE,
	.open		= mnc_open,
	.release	= mnc_release_file,
	.unlocked_ioctl	= mnc_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice mnc_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "mncount",
	.fops	= &mnc_fops,
	.mode	= 0600,
};

/*
 * A decoy for the refusal group: a function of this module with the name of
 * the GUP-fast entry of 6.8 and later (6.1 has none of that name).  mshare
 * looks kernel functions up in the kernel image only: loaded after this
 * module, it must hook the kernel's entry, never this.
 */
static noinline int gup_fast_fallback(void)
{
	return READ_ONCE(mnc_decoy_calls);
}

static int __init mnc_init(void)
{
	int ret = register_kprobe(&mnc_register_kp);

	mnc_decoy_calls = gup_fast_fallback() + 1;

	if (ret)
		return ret;
	ret = misc_register(&mnc_dev);
	if (ret)
		unregister_kprobe(&mnc_register_kp);
	return ret;
}

static void __exit mnc_exit(void)
{
	misc_deregister(&mnc_dev);
	unregister_kprobe(&mnc_register_kp);
	/* every fd is closed by now, and each disarmed what it armed */
	WARN_ON(mnc_disarm(NULL));
}

module_init(mnc_init);
module_exit(mnc_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("mshare tests: count mmu notifier callbacks on a range");

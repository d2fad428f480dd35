// SPDX-License-Identifier: GPL-2.0
/*
 * TLB coherence for shared page tables.
 *
 * No task ever runs a host mm, so the kernel's own flushes of a host mm
 * reach no CPU that caches its translations: those are cached under the
 * attachers' mms (and PCIDs).  Flushing here means, for each attacher mm:
 * bump its TLB generation, so CPUs that switch to it later flush first, and
 * IPI the CPUs in its cpumask (lazy ones included, since page tables may be
 * about to be freed) to flush everything.  flush_tlb_mm_range() is not
 * available to modules; a full local flush (compat.h) and on_each_cpu_mask()
 * are.  Where the CPU has AMD's INVLPGB, every online CPU is flushed
 * instead (compat.h: mshare_tlb_flush_all_cpus()): global ASIDs escape
 * both the cpumask and the TLB generation.
 * The IPIs wait, so when a flush returns no CPU can still use a stale
 * translation or be inside a GUP-fast walk of a table about to be freed.
 */
#include <linux/mm.h>
#include <linux/smp.h>
#include <asm/tlbflush.h>

#include "mshare.h"

static void mshare_flush_local(void *unused)
{
	mshare_flush_tlb_all();
}

/* Flush the CPUs of mask, or every CPU where global ASIDs may exist. */
static void mshare_flush_cpus(const struct cpumask *mask)
{
	if (mshare_tlb_flush_all_cpus())
		on_each_cpu(mshare_flush_local, NULL, true);
	else if (!cpumask_empty(mask))
		on_each_cpu_mask(mask, mshare_flush_local, NULL, true);
}

/* Make every CPU forget the translations of mm. */
void mshare_flush_mm(struct mm_struct *mm)
{
	atomic64_inc_return(&mm->context.tlb_gen);
	mshare_flush_cpus(mm_cpumask(mm));
}

/*
 * The part of the host range [start, end) that an attachment maps, in the
 * attacher's addresses; false if none.
 */
bool mshare_host_to_attach(struct mshare_attach *att, unsigned long start,
			   unsigned long end, unsigned long *astart,
			   unsigned long *aend)
{
	unsigned long size = att->end - att->start;

	start = max(start, MSHARE_HOST_BASE) - MSHARE_HOST_BASE;
	if (end <= MSHARE_HOST_BASE || start >= size)
		return false;
	end = min(end - MSHARE_HOST_BASE, size);
	*astart = att->start + start;
	*aend = att->start + end;
	return true;
}

/*
 * Called by the host mm's notifier inside every TLB flush of the host, under
 * the page-table lock where the caller holds it, before pages or tables are
 * freed: one round of IPIs to the union of the attachers' CPUs.  Secondary
 * MMUs registered on the attachers' mms (IOMMU SVA and the like) get the
 * same callback for the attacher's range, as they would for their own.
 */
void mshare_flush_attachers(struct mshare_region *region,
			    unsigned long start, unsigned long end)
{
	struct mshare_attach *att;
	unsigned long as, ae;

	spin_lock(&region->attach_lock);
	cpumask_clear(region->flush_mask);
	list_for_each_entry(att, &region->attachments, node) {
		atomic64_inc_return(&att->mm->context.tlb_gen);
		cpumask_or(region->flush_mask, region->flush_mask,
			   mm_cpumask(att->mm));
		/* The others have no secondary-TLB subscriber (fwd_list). */
		if (att->fwd && mshare_host_to_attach(att, start, end, &as, &ae))
			mshare_mn_tlb(att->mm, as, ae);
	}
	mshare_flush_cpus(region->flush_mask);
	spin_unlock(&region->attach_lock);
}

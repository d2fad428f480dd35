// SPDX-License-Identifier: GPL-2.0
/* 6.6: invalidate_range became arch_invalidate_secondary_tlbs */
#include <linux/mmu_notifier.h>

static void probe_tlbs(struct mmu_notifier *sub, struct mm_struct *mm,
		       unsigned long start, unsigned long end)
{
}

static const struct mmu_notifier_ops probe_ops __maybe_unused = {
	.arch_invalidate_secondary_tlbs = probe_tlbs,
};

// SPDX-License-Identifier: GPL-2.0
/* 6.3: mmu_notifier_range_init() lost its vma argument */
#include <linux/mmu_notifier.h>

static void __maybe_unused probe(struct mmu_notifier_range *range,
				 struct mm_struct *mm)
{
	mmu_notifier_range_init(range, MMU_NOTIFY_UNMAP, 0, mm, 0, PAGE_SIZE);
}

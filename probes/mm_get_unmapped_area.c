// SPDX-License-Identifier: GPL-2.0
/* 6.10: a free range of a given mm, without any file's placement rules */
#include <linux/mm.h>
#include <linux/sched/mm.h>

static unsigned long __maybe_unused probe(struct mm_struct *mm)
{
	return mm_get_unmapped_area(mm, NULL, 0, PAGE_SIZE, 0, 0);
}

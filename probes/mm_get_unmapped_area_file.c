// SPDX-License-Identifier: GPL-2.0
/* 7.x: mm_get_unmapped_area() lost its mm argument (it is current->mm) */
#include <linux/mm.h>
#include <linux/sched/mm.h>

static void __maybe_unused probe(void)
{
	unsigned long (*fp)(struct file *filp, unsigned long addr,
			    unsigned long len, unsigned long pgoff,
			    unsigned long flags) = mm_get_unmapped_area;

	(void)fp;
}

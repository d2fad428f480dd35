// SPDX-License-Identifier: GPL-2.0
/* 6.4: faults may hold only the VMA's lock (an enum: #ifdef cannot see it) */
#include <linux/mm.h>

static void __maybe_unused probe(struct vm_area_struct *vma)
{
	unsigned int flags = FAULT_FLAG_VMA_LOCK;

	(void)flags;
	vma_end_read(vma);
}

// SPDX-License-Identifier: GPL-2.0
/* 6.4: per-VMA locks; the mmap lock's writer write-locks VMAs too */
#include <linux/mm.h>
#include <linux/mmap_lock.h>

static void __maybe_unused probe(struct vm_area_struct *vma)
{
	vma_start_write(vma);
}

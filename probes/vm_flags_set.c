// SPDX-License-Identifier: GPL-2.0
/* 6.3: vma->vm_flags is read-only; changes go through accessors */
#include <linux/mm.h>

static void __maybe_unused probe(struct vm_area_struct *vma)
{
	vm_flags_set(vma, VM_DONTDUMP);
	vm_flags_clear(vma, VM_DONTDUMP);
}

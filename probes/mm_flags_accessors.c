// SPDX-License-Identifier: GPL-2.0
/* by 7.3: mm->flags is an opaque bitmap behind mm_flags_*() accessors */
#include <linux/mm.h>

static void __maybe_unused probe(struct mm_struct *mm)
{
	if (mm_flags_test(MMF_TOPDOWN, mm))
		mm_flags_set(MMF_TOPDOWN, mm);
}

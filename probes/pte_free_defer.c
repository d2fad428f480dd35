// SPDX-License-Identifier: GPL-2.0
/*
 * 6.6: page tables retracted by khugepaged are freed after an RCU grace
 * period (pte_free_defer() came with that change; compat.h explains why
 * mshare cares)
 */
#include <linux/mm.h>
#include <linux/pgtable.h>

static void __maybe_unused probe(struct mm_struct *mm, pgtable_t pgtable)
{
	pte_free_defer(mm, pgtable);
}

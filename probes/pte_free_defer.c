// SPDX-License-Identifier: GPL-2.0
/*
 * 6.6: page tables retracted by khugepaged are freed after an RCU grace
 * period (pte_free_defer() came with that change; compat.h explains why
 * mshare cares)
 */
#include <linux/mm.h>
#include <linux/pgtable.h>

/*
 * By typed address, not by a call: a call would also compile against an
 * implicit declaration if the flags allowed one, and a false "present"
 * here would let huge-capable tmpfs objects in where tables are freed at
 * once.
 */
static void __maybe_unused probe(void)
{
	void (*fp)(struct mm_struct *mm, pgtable_t pgtable) = pte_free_defer;

	(void)fp;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * 7.x: the tests of software leaf entries moved to linux/leafops.h
 * (pmd_is_migration_entry() for is_pmd_migration_entry(); is_swap_pmd()
 * is gone)
 */
#include <linux/mm.h>
#include <linux/leafops.h>

/* By typed address, not by a call (see pte_free_defer.c). */
static void __maybe_unused probe(void)
{
	bool (*fp)(pmd_t pmd) = pmd_is_migration_entry;

	(void)fp;
}

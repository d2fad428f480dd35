// SPDX-License-Identifier: GPL-2.0
/* 6.5: get_user_pages_remote() lost its vmas argument */
#include <linux/mm.h>

static long __maybe_unused probe(struct mm_struct *mm, struct page **page)
{
	return get_user_pages_remote(mm, 0, 1, 0, page, NULL);
}

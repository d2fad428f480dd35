// SPDX-License-Identifier: GPL-2.0
/*
 * by 7.3: hugetlb_file_setup() takes its accounting flags as a vma_flags_t
 * (a bitmap), not a vm_flags_t
 */
#include <linux/hugetlb.h>

static void __maybe_unused probe(void)
{
	struct file *(*fp)(const char *name, size_t size, vma_flags_t acct,
			   int creat_flags, int page_size_log) =
		hugetlb_file_setup;

	(void)fp;
}

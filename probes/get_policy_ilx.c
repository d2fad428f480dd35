// SPDX-License-Identifier: GPL-2.0
/* 6.7: vm_ops->get_policy() returns an interleave index too */
#include <linux/mm.h>

static struct mempolicy *probe_get_policy(struct vm_area_struct *vma,
					  unsigned long addr, pgoff_t *ilx)
{
	return NULL;
}

static const struct vm_operations_struct probe_ops __maybe_unused = {
	.get_policy = probe_get_policy,
};

// SPDX-License-Identifier: GPL-2.0
/* by 7.3: generic_delete_inode() was renamed inode_just_drop() */
#include <linux/fs.h>

static void __maybe_unused probe(void)
{
	int (*fp)(struct inode *inode) = inode_just_drop;

	(void)fp;
}

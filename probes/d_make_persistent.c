// SPDX-License-Identifier: GPL-2.0
/*
 * by 7.3: pinned dentries of in-memory filesystems are explicit
 * (DCACHE_PERSISTENT, which simple_unlink()/simple_rmdir() expect and the
 * umount unpins); kill_litter_super() is gone
 */
#include <linux/dcache.h>
#include <linux/fs.h>

static void __maybe_unused probe(void)
{
	struct dentry *(*fp)(struct dentry *dentry, struct inode *inode) =
		d_make_persistent;

	(void)fp;
}

// SPDX-License-Identifier: GPL-2.0
/* 6.15: inode_operations.mkdir returns a dentry (NULL: the one passed in) */
#include <linux/fs.h>

static struct dentry *probe_mkdir(struct mnt_idmap *idmap, struct inode *dir,
				  struct dentry *dentry, umode_t mode)
{
	return NULL;
}

static const struct inode_operations probe_ops __maybe_unused = {
	.mkdir = probe_mkdir,
};

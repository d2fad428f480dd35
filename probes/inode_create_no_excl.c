// SPDX-License-Identifier: GPL-2.0
/* by 7.3: inode_operations.create lost its bool excl argument */
#include <linux/fs.h>

static int probe_create(struct mnt_idmap *idmap, struct inode *dir,
			struct dentry *dentry, umode_t mode)
{
	return 0;
}

static const struct inode_operations probe_ops __maybe_unused = {
	.create = probe_create,
};

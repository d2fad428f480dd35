// SPDX-License-Identifier: GPL-2.0
/* 6.3: inode operations take a struct mnt_idmap instead of a user_namespace */
#include <linux/fs.h>
#include <linux/mnt_idmapping.h>

static void __maybe_unused probe(void)
{
	struct mnt_idmap *m = &nop_mnt_idmap;

	(void)m;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place where the differences between the supported kernels
 * (Debian 6.1 LTS and 6.12 LTS) are spelled out.  Everything else in the
 * module is written against the names defined here.
 *
 * This is the only file allowed to test LINUX_VERSION_CODE (scripts/lint.sh
 * tells checkpatch so).
 */
#ifndef MSHARE_COMPAT_H
#define MSHARE_COMPAT_H

#include <linux/version.h>
#include <linux/fs.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
/* 6.3 replaced the user_namespace argument of inode ops by an idmap. */
#define mshare_idmap		mnt_idmap
#define MSHARE_NOP_IDMAP	(&nop_mnt_idmap)
#else
#define mshare_idmap		user_namespace
#define MSHARE_NOP_IDMAP	(&init_user_ns)
#endif

/* 6.6 hid inode timestamps behind accessors; 6.1 still has the fields. */
static inline void mshare_inode_init_ts(struct inode *inode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	simple_inode_init_ts(inode);
#else
	struct timespec64 now = inode_set_ctime_current(inode);

	inode->i_atime = now;
	inode->i_mtime = now;
#endif
}

/* A directory changed: update its mtime and ctime. */
static inline void mshare_dir_touch(struct inode *dir)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	inode_set_mtime_to_ts(dir, inode_set_ctime_current(dir));
#else
	dir->i_mtime = inode_set_ctime_current(dir);
#endif
}

#endif /* MSHARE_COMPAT_H */

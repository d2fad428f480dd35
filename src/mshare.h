/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mshare: internal interfaces between the parts of the module.
 */
#ifndef MSHARE_H
#define MSHARE_H

#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/types.h>

#include "compat.h"

#define MSHARE_NAME	"mshare"

/*
 * The unit of sharing: one P4D entry maps 512 GiB on x86_64 with 4- and
 * 5-level paging alike.  Region sizes and attach addresses are multiples.
 */
#define MSHARE_ALIGN	P4D_SIZE

/*
 * State of one region, hung on its inode's i_private.  The inode holds one
 * reference; later, the host mm and every attachment hold their own, so the
 * region outlives its name and its last open file.
 */
struct mshare_region {
	refcount_t	ref;
	/* Serialises size changes (with the inode lock) and later placement. */
	struct mutex	lock;
	/* 0 until set once by ftruncate/fallocate; never changes afterwards. */
	u64		size;
};

/* region.c */
void mshare_region_check_leaks(void);
struct mshare_region *mshare_region_alloc(void);
void mshare_region_put(struct mshare_region *region);
u64 mshare_region_max_size(void);

extern const struct file_operations mshare_region_fops;
extern const struct inode_operations mshare_region_iops;

/* msharefs.c */
int msharefs_init(void);
void msharefs_exit(void);

static inline struct mshare_region *mshare_inode_region(struct inode *inode)
{
	return inode->i_private;
}

#endif /* MSHARE_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * mshare regions: the per-region state object and the operations on a
 * region file (size once, ioctl, mmap).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "mshare.h"

/*
 * Regions come from kmalloc, not a kmem_cache of their own: on the target
 * kernels every kmem_cache create/destroy pair leaves a sysfs inode and
 * dentry behind, so a module cache would grow the kernel by one of each per
 * load/unload cycle.  Counting live regions keeps leaks just as visible.
 */
static atomic_long_t mshare_regions_live = ATOMIC_LONG_INIT(0);

/* Called at unload, when no region can exist any more. */
void mshare_region_check_leaks(void)
{
	long live = atomic_long_read(&mshare_regions_live);

	WARN(live, "mshare: %ld region(s) leaked\n", live);
}

struct mshare_region *mshare_region_alloc(void)
{
	struct mshare_region *region;

	region = kzalloc(sizeof(*region), GFP_KERNEL_ACCOUNT);
	if (!region)
		return NULL;
	if (!zalloc_cpumask_var(&region->flush_mask, GFP_KERNEL_ACCOUNT)) {
		kfree(region);
		return NULL;
	}
	refcount_set(&region->ref, 1);
	mutex_init(&region->lock);
	spin_lock_init(&region->attach_lock);
	INIT_LIST_HEAD(&region->attachments);
	INIT_LIST_HEAD(&region->fwd_list);
	init_waitqueue_head(&region->mutation_done);
	init_waitqueue_head(&region->change_done);
	init_waitqueue_head(&region->fwd_idle);
	init_waitqueue_head(&region->thaw);
	atomic_long_inc(&mshare_regions_live);
	return region;
}

void mshare_region_get(struct mshare_region *region)
{
	refcount_inc(&region->ref);
}

void mshare_region_put(struct mshare_region *region)
{
	if (!refcount_dec_and_test(&region->ref))
		return;
	mshare_host_destroy(region);
	free_cpumask_var(region->flush_mask);
	atomic_long_dec(&mshare_regions_live);
	kfree(region);
}

/*
 * The largest region that can ever be attached: an aligned range inside the
 * user address space of this boot (4- or 5-level paging).  The first slot
 * holds address 0, which mmap_min_addr keeps unmappable, so it never counts.
 */
u64 mshare_region_max_size(void)
{
	return round_down(TASK_SIZE_MAX, MSHARE_ALIGN) - MSHARE_ALIGN;
}

/* 0 while unsized. */
u64 mshare_region_size(struct mshare_region *region)
{
	/* Pairs with the release in mshare_region_set_size(). */
	return smp_load_acquire(&region->size);
}

/*
 * Give the region its size; allowed exactly once.  Callers hold the inode
 * lock, which also serialises concurrent truncates: exactly one wins.
 */
static int mshare_region_set_size(struct inode *inode, loff_t size)
{
	struct mshare_region *region = mshare_inode_region(inode);
	int err = 0;

	mutex_lock(&region->lock);
	if (region->size)
		err = -EINVAL;		/* the size is set once */
	else if (size <= 0 || !IS_ALIGNED(size, MSHARE_ALIGN))
		err = -EINVAL;
	else if (size > mshare_region_max_size())
		err = -EFBIG;
	else
		err = mshare_host_create(region);
	if (!err) {
		/* Readers that see the size see everything set before it. */
		smp_store_release(&region->size, size);
		i_size_write(inode, size);
	}
	mutex_unlock(&region->lock);
	return err;
}

static int mshare_region_setattr(struct mshare_idmap *idmap,
				 struct dentry *dentry, struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	int err;

	err = setattr_prepare(idmap, dentry, attr);
	if (err)
		return err;

	if (attr->ia_valid & ATTR_SIZE) {
		/*
		 * open(O_TRUNC) must not fail or discard anything: a region's
		 * size is fixed once set, so O_TRUNC is ignored.
		 */
		if (!(attr->ia_valid & ATTR_OPEN)) {
			err = mshare_region_set_size(inode, attr->ia_size);
			if (err)
				return err;
		}
		attr->ia_valid &= ~ATTR_SIZE;
	}

	setattr_copy(idmap, inode, attr);
	return 0;
}

/* fallocate(fd, 0, 0, size) is the other way to size a region. */
static long mshare_region_fallocate(struct file *file, int mode,
				    loff_t offset, loff_t len)
{
	struct inode *inode = file_inode(file);
	int err;

	if (mode)
		return -EOPNOTSUPP;
	if (offset)
		return -EINVAL;

	inode_lock(inode);
	err = mshare_region_set_size(inode, len);
	if (!err)
		inode_set_ctime_current(inode);
	inode_unlock(inode);
	return err;
}

static long mshare_region_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	struct mshare_region *region = mshare_inode_region(file_inode(file));
	void __user *argp = (void __user *)arg;
	struct mshare_create create;
	struct mshare_unmap unmap;

	/*
	 * Both commands change what every attacher sees: they need a fd open
	 * for writing, as ftruncate() does (invariant 5).
	 */
	if ((cmd == MSHAREFS_CREATE_MAPPING || cmd == MSHAREFS_UNMAP) &&
	    !(file->f_mode & FMODE_WRITE))
		return -EBADF;

	switch (cmd) {
	case MSHAREFS_CREATE_MAPPING:
		if (copy_from_user(&create, argp, sizeof(create)))
			return -EFAULT;
		if (!mshare_region_size(region))
			return -EINVAL;
		return mshare_host_create_mapping(region, &create);
	case MSHAREFS_UNMAP:
		if (copy_from_user(&unmap, argp, sizeof(unmap)))
			return -EFAULT;
		if (!mshare_region_size(region))
			return -EINVAL;
		return mshare_host_unmap(region, &unmap);
	default:
		return -ENOTTY;
	}
}

static int mshare_region_fsync(struct file *file, loff_t start, loff_t end,
			       int datasync)
{
	return mshare_host_fsync(mshare_inode_region(file_inode(file)), start,
				 end, datasync);
}

static int mshare_region_mmap(struct file *file, struct vm_area_struct *vma)
{
	return mshare_attach_mmap(mshare_inode_region(file_inode(file)), vma);
}

static unsigned long mshare_region_area(struct file *file, unsigned long addr,
					unsigned long len, unsigned long pgoff,
					unsigned long flags)
{
	return mshare_attach_area(addr, len, flags);
}

/*
 * No read/write/llseek: the VFS then fails read and write with EINVAL and
 * lseek/pread with ESPIPE, which is what a region, not a byte stream, wants.
 */
const struct file_operations mshare_region_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= mshare_region_ioctl,
	.mmap		= mshare_region_mmap,
	.get_unmapped_area = mshare_region_area,
	.fallocate	= mshare_region_fallocate,
	.fsync		= mshare_region_fsync,
};

const struct inode_operations mshare_region_iops = {
	.setattr	= mshare_region_setattr,
	.getattr	= simple_getattr,
};

// SPDX-License-Identifier: GPL-2.0
/*
 * msharefs: the filesystem through which regions are named, sized, shared
 * and attached.  Directories and names behave like ramfs; regular files are
 * regions; the root holds the read-only mshare_info file.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/sysfs.h>

#include <uapi/linux/msharefs.h>

#include "mshare.h"

/* /sys/fs/<this> is the conventional mount point, made at module load. */
#define MSHAREFS_MOUNT_DIR	"mshare"

static const struct inode_operations msharefs_dir_iops;

static struct inode *msharefs_get_inode(struct mshare_idmap *idmap,
					struct super_block *sb,
					const struct inode *dir, umode_t mode)
{
	struct inode *inode = new_inode(sb);

	if (!inode)
		return NULL;

	inode->i_ino = get_next_ino();
	inode_init_owner(idmap, inode, dir, mode);
	mshare_inode_init_ts(inode);

	if (S_ISDIR(mode)) {
		inode->i_op = &msharefs_dir_iops;
		inode->i_fop = &simple_dir_operations;
		inc_nlink(inode);	/* for "." */
	} else {
		inode->i_op = &mshare_region_iops;
		inode->i_fop = &mshare_region_fops;
		/*
		 * A region has no page cache; this mask only makes
		 * vma_migratable() false for attachments (its "cannot
		 * allocate in the policy zone" test), so migrate_pages(),
		 * move_pages() and NUMA balancing leave them alone.  Region
		 * pages are mapped once, by the host, so to the kernel they
		 * never look shared: any attacher, a read-only one included,
		 * could otherwise move the owner's pages between nodes
		 * without CAP_SYS_NICE.
		 */
		mapping_set_gfp_mask(inode->i_mapping, GFP_DMA);
	}
	return inode;
}

/* Regions and directories; no device nodes, fifos or symlinks. */
static int msharefs_mknod(struct mshare_idmap *idmap, struct inode *dir,
			  struct dentry *dentry, umode_t mode)
{
	struct mshare_region *region = NULL;
	struct inode *inode;

	if (S_ISREG(mode)) {
		region = mshare_region_alloc();
		if (!region)
			return -ENOMEM;
	}

	inode = msharefs_get_inode(idmap, dir->i_sb, dir, mode);
	if (!inode) {
		if (region)
			mshare_region_put(region);
		return -ENOMEM;
	}
	/* The inode owns this reference; eviction drops it. */
	inode->i_private = region;

	/* Pin the dentry, as ramfs does: the name is the only thing keeping
	 * the inode alive.  unlink/rmdir or the umount drop the pin.
	 */
	mshare_d_pin(dentry, inode);
	mshare_dir_touch(dir);
	return 0;
}

static int msharefs_create(MSHARE_CREATE_ARGS)
{
	return msharefs_mknod(idmap, dir, dentry, (mode & ~S_IFMT) | S_IFREG);
}

static MSHARE_MKDIR_RET msharefs_mkdir(struct mshare_idmap *idmap,
				       struct inode *dir,
				       struct dentry *dentry, umode_t mode)
{
	int err;

	err = msharefs_mknod(idmap, dir, dentry, (mode & ~S_IFMT) | S_IFDIR);
	if (!err)
		inc_nlink(dir);		/* for the new ".." */
	return MSHARE_MKDIR_RETURN(err);
}

/*
 * mshare_info is S_IMMUTABLE, so the VFS itself refuses to unlink, rename,
 * link, open for writing or chmod it (EPERM); the generic helpers suffice.
 */
static const struct inode_operations msharefs_dir_iops = {
	.create		= msharefs_create,
	.lookup		= simple_lookup,
	.link		= simple_link,
	.unlink		= simple_unlink,
	.mkdir		= msharefs_mkdir,
	.rmdir		= simple_rmdir,
	.rename		= simple_rename,
};

static ssize_t msharefs_info_read(struct file *file, char __user *buf,
				  size_t len, loff_t *ppos)
{
	char text[24];
	int n;

	n = scnprintf(text, sizeof(text), "%llu\n", (u64)MSHARE_ALIGN);
	return simple_read_from_buffer(buf, len, ppos, text, n);
}

static const struct file_operations msharefs_info_fops = {
	.owner	= THIS_MODULE,
	.read	= msharefs_info_read,
	.llseek	= default_llseek,
};

static int msharefs_create_info(struct dentry *root)
{
	struct inode *inode;
	struct dentry *dentry;
	char text[24];

	dentry = d_alloc_name(root, MSHAREFS_INFO_NAME);
	if (!dentry)
		return -ENOMEM;

	inode = msharefs_get_inode(MSHARE_NOP_IDMAP, root->d_sb, NULL,
				   S_IFREG | 0444);
	if (!inode) {
		dput(dentry);
		return -ENOMEM;
	}
	inode->i_fop = &msharefs_info_fops;
	inode->i_flags |= S_IMMUTABLE;
	inode->i_size = scnprintf(text, sizeof(text), "%llu\n",
				  (u64)MSHARE_ALIGN);
	/* Pinned until the umount. */
	mshare_d_pin_new(dentry, inode);
	return 0;
}

static void msharefs_evict_inode(struct inode *inode)
{
	struct mshare_region *region = mshare_inode_region(inode);

	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	if (region)
		mshare_region_put(region);
}

static const struct super_operations msharefs_sops = {
	.statfs		= simple_statfs,
	.drop_inode	= mshare_drop_inode,
	.evict_inode	= msharefs_evict_inode,
};

static int msharefs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct inode *inode;

	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;
	sb->s_magic = MSHAREFS_MAGIC;
	sb->s_op = &msharefs_sops;
	sb->s_time_gran = 1;
	/* Makes the VFS answer EFBIG for sizes no address space can hold. */
	sb->s_maxbytes = mshare_region_max_size();

	inode = msharefs_get_inode(MSHARE_NOP_IDMAP, sb, NULL, S_IFDIR | 0755);
	sb->s_root = d_make_root(inode);
	if (!sb->s_root)
		return -ENOMEM;

	return msharefs_create_info(sb->s_root);
}

static int msharefs_get_tree(struct fs_context *fc)
{
	return get_tree_nodev(fc, msharefs_fill_super);
}

static const struct fs_context_operations msharefs_context_ops = {
	.get_tree	= msharefs_get_tree,
};

static int msharefs_init_fs_context(struct fs_context *fc)
{
	fc->ops = &msharefs_context_ops;
	return 0;
}

static struct file_system_type msharefs_type = {
	.owner			= THIS_MODULE,
	.name			= "msharefs",
	.init_fs_context	= msharefs_init_fs_context,
	.kill_sb		= mshare_kill_sb,
};
MODULE_ALIAS_FS("msharefs");

int msharefs_init(void)
{
	int err;

	err = sysfs_create_mount_point(fs_kobj, MSHAREFS_MOUNT_DIR);
	if (err) {
		pr_err("cannot create /sys/fs/%s: %d\n", MSHAREFS_MOUNT_DIR, err);
		return err;
	}

	err = register_filesystem(&msharefs_type);
	if (err) {
		pr_err("cannot register msharefs: %d\n", err);
		sysfs_remove_mount_point(fs_kobj, MSHAREFS_MOUNT_DIR);
	}
	return err;
}

void msharefs_exit(void)
{
	unregister_filesystem(&msharefs_type);
	sysfs_remove_mount_point(fs_kobj, MSHAREFS_MOUNT_DIR);
}

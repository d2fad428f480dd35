// SPDX-License-Identifier: GPL-2.0
/*
 * mshare: share the page tables of a memory region between processes.
 *
 * Module entry points.  The pieces initialise in dependency order and
 * unwind in reverse.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>

#include "mshare.h"

static int __init mshare_init(void)
{
	int err;

	err = mshare_region_cache_init();
	if (err)
		return err;

	err = msharefs_init();
	if (err)
		goto out_region;

	pr_info("loaded; mount with: mount -t msharefs msharefs /sys/fs/mshare\n");
	return 0;

out_region:
	mshare_region_cache_exit();
	return err;
}

static void __exit mshare_exit(void)
{
	msharefs_exit();
	mshare_region_cache_exit();
	pr_info("unloaded\n");
}

module_init(mshare_init);
module_exit(mshare_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Share page tables of a memory region between processes (msharefs)");
MODULE_AUTHOR("The mshare developers");
MODULE_VERSION(MSHARE_VERSION);

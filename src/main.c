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

	err = msharefs_init();
	if (err)
		return err;

	pr_info("version %s loaded\n", MSHARE_VERSION);
	return 0;
}

static void __exit mshare_exit(void)
{
	msharefs_exit();
	mshare_region_check_leaks();
}

module_init(mshare_init);
module_exit(mshare_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Share page tables of a memory region between processes (msharefs)");
MODULE_AUTHOR("The mshare developers");
MODULE_VERSION(MSHARE_VERSION);

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
#include <asm/cpufeature.h>

#include "mshare.h"

static int __init mshare_init(void)
{
	int err;

	/* Sharing tables across mms breaks Xen PV's page-table pinning. */
	if (cpu_feature_enabled(X86_FEATURE_XENPV)) {
		pr_err("Xen PV guests are not supported\n");
		return -ENODEV;
	}

	err = mshare_attach_init();
	if (err)
		return err;
	err = mshare_host_init();
	if (err)
		goto out_attach;
	err = mshare_hook_init();
	if (err)
		goto out_host;
	/* Needs the hooks; decides between the fast and the slow changes. */
	err = mshare_tables_init();
	if (err)
		goto out_hook;
	err = mshare_attach_seal();
	if (err)
		goto out_tables;
	/* Last: once registered, regions can be made and mapped. */
	err = msharefs_init();
	if (err)
		goto out_seal;

	pr_info("version %s loaded\n", MSHARE_VERSION);
	return 0;

out_seal:
	mshare_attach_unseal();
out_tables:
	mshare_tables_exit();
out_hook:
	mshare_hook_exit();
out_host:
	mshare_host_exit();
out_attach:
	mshare_attach_exit();
	return err;
}

static void __exit mshare_exit(void)
{
	/*
	 * Unload is possible only when nothing is mounted and no region file
	 * is open or mapped (each holds a module reference), so no region and
	 * no fault in progress is left.
	 */
	msharefs_exit();
	mshare_region_check_leaks();
	mshare_attach_unseal();
	mshare_tables_exit();
	mshare_hook_exit();
	mshare_host_exit();
	mshare_attach_exit();
}

module_init(mshare_init);
module_exit(mshare_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Share page tables of a memory region between processes (msharefs)");
MODULE_AUTHOR("The mshare developers");
MODULE_VERSION(MSHARE_VERSION);

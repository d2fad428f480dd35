// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only module for tests/refusal-guest.sh: holds handle_mm_fault()'s
 * ftrace direct-call slot, as livepatch or a BPF trampoline would, with a
 * trampoline that only returns.  mshare must refuse to load beside it (one
 * dmesg line, nothing left), and it must not load beside mshare.
 */
#include <linux/ftrace.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/version.h>
#include <asm/asm-offsets.h>
#include <asm/ibt.h>
#include <asm/linkage.h>
#include <asm/nospec-branch.h>

#ifndef CALL_DEPTH_ACCOUNT
#define CALL_DEPTH_ACCOUNT ""
#endif

void mnd_tramp(void);

asm("	.pushsection .text, \"ax\", @progbits\n"
"	.type mnd_tramp, @function\n"
"mnd_tramp:\n"
	ASM_ENDBR
	CALL_DEPTH_ACCOUNT
	ASM_RET
"	.size mnd_tramp, .-mnd_tramp\n"
"	.popsection\n");

static struct ftrace_ops mnd_ops;

static int __init mnd_init(void)
{
	int err = ftrace_set_filter_ip(&mnd_ops,
				       (unsigned long)handle_mm_fault, 0, 0);

	if (err)
		return err;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	err = register_ftrace_direct(&mnd_ops, (unsigned long)mnd_tramp);
#else
	err = register_ftrace_direct_multi(&mnd_ops, (unsigned long)mnd_tramp);
#endif
	if (err)
		ftrace_free_filter(&mnd_ops);
	return err;
}

static void __exit mnd_exit(void)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	unregister_ftrace_direct(&mnd_ops, (unsigned long)mnd_tramp, true);
#else
	unregister_ftrace_direct_multi(&mnd_ops, (unsigned long)mnd_tramp);
	ftrace_free_filter(&mnd_ops);
#endif
}

module_init(mnd_init);
module_exit(mnd_exit);
MODULE_DESCRIPTION("mshare test: holds handle_mm_fault's direct-call slot");
MODULE_LICENSE("GPL");

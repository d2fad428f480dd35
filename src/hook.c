// SPDX-License-Identifier: GPL-2.0
/*
 * The module's one ftrace hook (IPMODIFY, so the return IP can be changed):
 *  - handle_mm_fault(): faults on mshare VMAs go to mshare_handle_fault();
 *    unrelated faults pay one pointer compare;
 *  - the call-gate stubs of ksym.c: entered, they continue in the kernel
 *    function they stand for.
 * One ops for all of them keeps load and unload to a single ftrace update.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>
#include <linux/mm.h>
#include <linux/module.h>

#include "mshare.h"

static void notrace mshare_hook(unsigned long ip, unsigned long parent_ip,
				struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	struct pt_regs *regs = ftrace_get_regs(fregs);
	struct vm_area_struct *vma = (struct vm_area_struct *)regs->di;
	unsigned long target;

	if (likely(ip - (unsigned long)handle_mm_fault < 16)) {
		/* Our own call on the host VMA has other vm_ops anyway. */
		if (vma->vm_ops == &mshare_vm_ops &&
		    !within_module(parent_ip, THIS_MODULE))
			regs->ip = (unsigned long)mshare_handle_fault;
		return;
	}
	target = mshare_gate_target(ip);
	if (target)
		regs->ip = target;
}

static struct ftrace_ops mshare_hook_ops = {
	.func	= mshare_hook,
	.flags	= FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_IPMODIFY |
		  FTRACE_OPS_FL_RECURSION,
};

int mshare_hook_init(void)
{
	int err;

	err = ftrace_set_filter_ip(&mshare_hook_ops,
				   (unsigned long)handle_mm_fault, 0, 0);
	if (!err)
		err = mshare_ksym_init(&mshare_hook_ops);
	if (!err)
		err = register_ftrace_function(&mshare_hook_ops);
	if (err) {
		ftrace_free_filter(&mshare_hook_ops);
		pr_err("cannot install the ftrace hook: %d (livepatch or another IPMODIFY user on handle_mm_fault?)\n",
		       err);
	}
	return err;
}

void mshare_hook_exit(void)
{
	unregister_ftrace_function(&mshare_hook_ops);
	ftrace_free_filter(&mshare_hook_ops);
}

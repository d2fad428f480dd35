// SPDX-License-Identifier: GPL-2.0
/*
 * The module's one ftrace hook (IPMODIFY, so the return IP can be changed):
 *  - handle_mm_fault(): faults on mshare VMAs go to mshare_handle_fault();
 *    unrelated faults pay one pointer compare;
 *  - the GUP-fast entry (internal_get_user_pages_fast on 6.1,
 *    gup_fast_fallback on 6.12): a FOLL_WRITE request that touches a
 *    read-only attachment fails with EFAULT, as the slow path would;
 *  - the call-gate stubs of ksym.c: entered, they continue in the kernel
 *    function they stand for.
 * One ops for all of them keeps load and unload to a single ftrace update.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>
#include <linux/mm.h>
#include <linux/module.h>

#include "mshare.h"

static unsigned long mshare_gup_fast;

/* Stands in for the GUP-fast entry: same arguments, same int result. */
static int mshare_gup_refuse(unsigned long start, unsigned long nr_pages,
			     unsigned int gup_flags, struct page **pages)
{
	return -EFAULT;
}

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
	if (ip - mshare_gup_fast < 16) {
		/* (start, nr_pages, gup_flags, pages) */
		if ((regs->dx & FOLL_WRITE) &&
		    mshare_gup_write_denied(regs->di, regs->si))
			regs->ip = (unsigned long)mshare_gup_refuse;
		return;
	}
	target = mshare_gate_target(ip);
	if (target)
		regs->ip = target;
}

static struct ftrace_ops mshare_hook_ops = {
	.func	= mshare_hook,
	/*
	 * PERMANENT: "sysctl kernel.ftrace_enabled=0" would otherwise switch
	 * the fault redirect and the read-only GUP-fast check off, and faults
	 * in attachments would build tables inside host tables.  With it, the
	 * sysctl fails (EBUSY) while the module is loaded, and loading fails
	 * while ftrace is disabled.
	 */
	.flags	= FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_IPMODIFY |
		  FTRACE_OPS_FL_RECURSION | FTRACE_OPS_FL_PERMANENT,
};

int mshare_hook_init(void)
{
	int err;

	mshare_gup_fast = mshare_ksym(MSHARE_GUP_FAST_FN);
	if (!mshare_gup_fast) {
		pr_err("cannot find %s\n", MSHARE_GUP_FAST_FN);
		return -ENOENT;
	}
	err = ftrace_set_filter_ip(&mshare_hook_ops,
				   (unsigned long)handle_mm_fault, 0, 0);
	if (!err)
		err = ftrace_set_filter_ip(&mshare_hook_ops, mshare_gup_fast,
					   0, 0);
	if (!err)
		err = mshare_ksym_init(&mshare_hook_ops);
	if (!err)
		err = register_ftrace_function(&mshare_hook_ops);
	if (err) {
		ftrace_free_filter(&mshare_hook_ops);
		pr_err("cannot install the ftrace hook: %d (kernel.ftrace_enabled=0, or livepatch or another IPMODIFY user on handle_mm_fault?)\n",
		       err);
	}
	return err;
}

void mshare_hook_exit(void)
{
	unregister_ftrace_function(&mshare_hook_ops);
	ftrace_free_filter(&mshare_hook_ops);
}

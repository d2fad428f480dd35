// SPDX-License-Identifier: GPL-2.0
/*
 * The module's ftrace hooks.  handle_mm_fault(), which every page fault of
 * the machine enters, has a direct call of its own (below): faults on
 * mshare VMAs go to mshare_handle_fault(), unrelated faults pay one pointer
 * compare.  One IPMODIFY ops (the entry IP can be changed) holds the rest:
 *  - the GUP-fast entry (internal_get_user_pages_fast on 6.1,
 *    gup_fast_fallback on 6.12): a FOLL_WRITE request that touches a
 *    read-only attachment fails with EFAULT, as the slow path would;
 *  - the pmd_entry callbacks of the generic walkers that change entries
 *    (beyond accessed/dirty bits) of what they walk, or misread a
 *    poisoned hugetlb entry: skipped on attachments;
 *  - mm_take_all_locks()/mm_drop_all_locks(): a notifier registration on
 *    an attacher's mm freezes forwarding into it (attach.c);
 *  - the call-gate stubs of ksym.c: entered, they continue in the kernel
 *    function they stand for.
 * One ops for all of them keeps load and unload to a single ftrace update.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pagewalk.h>
#include <linux/sched.h>
#include <asm/asm-offsets.h>	/* CALL_DEPTH_ACCOUNT's per-CPU offset */

#include "mshare.h"

static unsigned long mshare_gup_fast;
static unsigned long mshare_take_all, mshare_drop_all;
static unsigned long mshare_free_pgd;

/*
 * Generic page walkers descend through an attacher's links into the
 * host's tables (HMM, GUP and the /proc readers need them to), and they
 * judge what they find by the attacher's VMA.  Most only read, or set
 * accessed/dirty bits under the split locks that live in the shared
 * tables.  Some pmd_entry callbacks do more, in tables every attacher
 * shares, and take a 2 MiB hugetlb leaf for a transparent huge page; on
 * an attachment they do nothing (SKIP):
 *  - MADV_COLD/MADV_PAGEOUT split a "THP" the range covers part of (on a
 *    hugetlb page: corrupted page lists, a kernel BUG on 6.12); they are
 *    hints, and the pages are the host's to age;
 *  - /proc/PID/clear_refs write-protects every entry for soft-dirty
 *    tracking (PMD leaves through pmdp_invalidate()) and clears accessed
 *    bits: one attacher, read-only or not, would do that to the entries of
 *    all of them.  Soft-dirty tracking of an attachment is not supported;
 *  - mbind(MPOL_MF_STRICT) walks even VMAs it cannot migrate, and takes a
 *    hugetlb hwpoison entry (below) for a THP: pmd_folio() of it is the
 *    struct page of an unrelated pfn (the entry's pfn bits are inverted),
 *    which it reads.  mbind of an attachment fails anyway (EINVAL).
 * A hugetlb page that memory failure hits (a real memory error, or root's
 * MADV_HWPOISON) leaves a hwpoison swap entry in the host's PMD, and a
 * walker of a non-hugetlb VMA expects no swap entry there but a THP
 * migration entry:
 *  - pagemap (any attacher's read of /proc/self/pagemap) asserts that it
 *    is one: a kernel BUG on CONFIG_DEBUG_VM kernels.  Over such an entry
 *    it reports a hole instead (HOLE), as it would for the poisoned page
 *    of a hugetlb mapping of its own: not present.
 * The other walkers and why they are safe: docs/architecture.md, 2.
 */
enum mshare_walk_mode { MSHARE_WALK_SKIP, MSHARE_WALK_HOLE };

static const struct {
	const char *name;
	enum mshare_walk_mode mode;
} mshare_walk_fns[] = {
	{ "madvise_cold_or_pageout_pte_range",	MSHARE_WALK_SKIP },
	{ "clear_refs_pte_range",		MSHARE_WALK_SKIP },
#ifdef CONFIG_NUMA	/* mm/mempolicy.c is built only with NUMA */
	{ "queue_folios_pte_range",		MSHARE_WALK_SKIP },
#endif
	{ "pagemap_pmd_range",			MSHARE_WALK_HOLE },
};

static unsigned long mshare_walk_ip[ARRAY_SIZE(mshare_walk_fns)];

/* Stands in for the SKIP callbacks: same arguments, same int result. */
static int mshare_walk_skip_pmd(pmd_t *pmd, unsigned long addr,
				unsigned long end, struct mm_walk *walk)
{
	return 0;
}

/*
 * Stands in for a HOLE callback over a poisoned entry: the walk's own hole
 * callback fills [addr, end) (pagemap's keeps its output in step with the
 * addresses); 3 is the PMD level's depth.
 */
static int mshare_walk_hole_pmd(pmd_t *pmd, unsigned long addr,
				unsigned long end, struct mm_walk *walk)
{
	if (!walk->ops->pte_hole)
		return 0;
	return walk->ops->pte_hole(addr, end, 3, walk);
}

/* Stands in for the GUP-fast entry: same arguments, same int result. */
/* free_pgd_range() in a live host: the tables stay (tables.c). */
static void mshare_keep_tables(void *tlb, unsigned long addr,
			       unsigned long end, unsigned long floor,
			       unsigned long ceiling)
{
}

static int mshare_gup_refuse(unsigned long start, unsigned long nr_pages,
			     unsigned int gup_flags, struct page **pages)
{
	return -EFAULT;
}

/*
 * Entered from ftrace's argument-only trampoline at the entry of every
 * hooked function: reads arguments and may move the entry elsewhere, with
 * the same arguments.  ftrace calls it without its recursion guard (no
 * FTRACE_OPS_FL_RECURSION): nothing here calls a function this ops hooks,
 * so it cannot recurse, and it is reentrant (NMIs reach the GUP-fast
 * entry).  Preemptible: unregistration waits for preempted tasks
 * (synchronize_rcu_tasks() for module ops).
 */
static void notrace mshare_hook(unsigned long ip, unsigned long parent_ip,
				struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	unsigned long target;
	int i;

	if (ip - mshare_take_all < 16) {
		/*
		 * The module's own call (through the gate) runs as it is.  The
		 * wrapper may sleep in module text: it runs on a module
		 * reference, which it drops last; during unload the original
		 * runs.
		 */
		if (!within_module(parent_ip, THIS_MODULE) &&
		    try_module_get(THIS_MODULE))
			mshare_fregs_set_ip(fregs,
					    (unsigned long)mshare_take_all_locks);
		return;
	}
	if (ip - mshare_drop_all < 16) {
		mshare_attach_thaw((struct mm_struct *)
				   mshare_fregs_arg(fregs, 0));
		return;
	}
	if (ip - mshare_free_pgd < 16) {
		/*
		 * (tlb, addr, end, floor, ceiling).  struct mmu_gather begins
		 * with its mm (asm-generic/tlb.h, 6.1 to 7.3), and x86's
		 * asm/tlb.h cannot be included by a module.
		 */
		struct mm_struct *mm = *(struct mm_struct **)
			mshare_fregs_arg(fregs, 0);

		if (mshare_host_keeps_tables(mm))
			mshare_fregs_set_ip(fregs,
					    (unsigned long)mshare_keep_tables);
		return;
	}
	for (i = 0; i < ARRAY_SIZE(mshare_walk_ip); i++) {
		/* (pmd, addr, end, walk) */
		struct mm_walk *walk = (struct mm_walk *)
			mshare_fregs_arg(fregs, 3);

		if (ip - mshare_walk_ip[i] >= 16)
			continue;
		if (!walk->vma || !mshare_is_attachment(walk->vma))
			return;
		/*
		 * The walker holds the attacher's mmap lock or its VMA's
		 * lock, which keeps the host's tables below its links (host
		 * changes take both).  An entry poisoned after this read
		 * still meets the assertion: a memory failure on that very
		 * page during the read.
		 */
		if (mshare_walk_fns[i].mode == MSHARE_WALK_SKIP)
			mshare_fregs_set_ip(fregs,
					    (unsigned long)mshare_walk_skip_pmd);
		else if (mshare_pmd_poisoned(READ_ONCE(*(pmd_t *)
					mshare_fregs_arg(fregs, 0))))
			mshare_fregs_set_ip(fregs,
					    (unsigned long)mshare_walk_hole_pmd);
		return;
	}
	if (ip - mshare_gup_fast < 16) {
		/* (start, nr_pages, gup_flags, pages) */
		if ((mshare_fregs_arg(fregs, 2) & FOLL_WRITE) &&
		    mshare_gup_write_denied(mshare_fregs_arg(fregs, 0),
					    mshare_fregs_arg(fregs, 1)))
			mshare_fregs_set_ip(fregs,
					    (unsigned long)mshare_gup_refuse);
		return;
	}
	target = mshare_gate_target(ip);
	if (target)
		mshare_fregs_set_ip(fregs, target);
}

/*
 * handle_mm_fault()'s hook.  Every page fault of the machine enters it, so
 * it is an ftrace direct call rather than a callback: ftrace's own
 * trampoline (saving and restoring the argument registers, calling
 * through the ops) costs some 45 instructions a fault, this about 8
 * (docs/benchmarks-icount.md).
 *
 * mshare_fault_entry is called from handle_mm_fault()'s first instruction
 * (or, when tracers share the function, from ftrace's trampoline, with the
 * same stack): the return address at (%rsp) leads back into
 * handle_mm_fault(), its caller's is above it, and the arguments (vma,
 * address, flags, regs) are in %rdi, %rsi, %rdx, %rcx.  It may clobber
 * only what no argument holds: %rax, %r10, %r11.
 *  - vma->vm_ops outside mshare_vm_ops[]: return into handle_mm_fault();
 *  - an attachment: the return address becomes mshare_fault_redirect, a
 *    jump to mshare_handle_fault(), which runs with the same arguments and
 *    returns to handle_mm_fault()'s caller, as if called by it.  A return,
 *    not a jump, so the stack pointer never moves; and not straight to
 *    mshare_handle_fault(): an unwinder looks up a return address's frame
 *    at the byte before it, which here is the last of this entry's final
 *    return, with the entry's frame, rather than the end of an unrelated
 *    function.
 * The module's own handle_mm_fault() on a host VMA passes through: host
 * VMAs are never attachments (regions do not nest; fault.c checks).
 *
 * It does not sleep and is short, but it is preemptible:
 * unregister_ftrace_direct() waits for preempted tasks
 * (synchronize_rcu_tasks() for module ops) before unload frees it.
 *
 * Two offsets come from C (an extended asm, below): the top-level asm
 * that holds the entry cannot take operands, and CALL_DEPTH_ACCOUNT's
 * text (a %gs: operand) cannot go into an extended one.
 */
void mshare_fault_entry(void);

asm("	.pushsection .text, \"ax\", @progbits\n"
"	.type mshare_fault_entry, @function\n"
"mshare_fault_entry:\n"
	ASM_ENDBR
	CALL_DEPTH_ACCOUNT
"	movq mshare_vma_vm_ops(%rdi), %rax\n"
"	leaq mshare_vm_ops(%rip), %r11\n"
"	subq %r11, %rax\n"
"	cmpq $mshare_vm_ops_size, %rax\n"
"	jb 1f\n"
	ASM_RET
"1:	leaq mshare_fault_redirect(%rip), %rax\n"
"	movq %rax, (%rsp)\n"
	ASM_RET
"	.size mshare_fault_entry, .-mshare_fault_entry\n"
"	.type mshare_fault_redirect, @function\n"
"mshare_fault_redirect:\n"
	ASM_ENDBR
"	jmp mshare_handle_fault\n"
"	.size mshare_fault_redirect, .-mshare_fault_redirect\n"
"	.popsection\n");

/* The entry passes handle_mm_fault()'s arguments through untouched. */
static_assert(__same_type(&mshare_handle_fault, &handle_mm_fault));

/* Never called: defines the entry's two constants for the assembler. */
static void __used mshare_fault_entry_consts(void)
{
	asm(".set mshare_vma_vm_ops, %c0\n"
	    ".set mshare_vm_ops_size, %c1\n"
	    : : "i" (offsetof(struct vm_area_struct, vm_ops)),
		"i" (sizeof(mshare_vm_ops)));
}

/*
 * No PERMANENT here (ftrace's direct interface sets its own flags): the
 * IPMODIFY ops below is, which keeps "sysctl kernel.ftrace_enabled=0"
 * from switching this off too.
 */
static struct ftrace_ops mshare_fault_ops;

static struct ftrace_ops mshare_hook_ops = {
	.func	= mshare_hook,
	/*
	 * PERMANENT: "sysctl kernel.ftrace_enabled=0" would otherwise switch
	 * the fault redirect and the read-only GUP-fast check off, and faults
	 * in attachments would build tables inside host tables.  With it, the
	 * sysctl fails (EBUSY) while the module is loaded, and loading fails
	 * while ftrace is disabled.
	 */
	.flags	= FTRACE_OPS_FL_IPMODIFY | FTRACE_OPS_FL_PERMANENT,
};

/* Add a kernel function to the hook; one line saying which on failure. */
static int mshare_hook_ip(unsigned long ip, const char *name)
{
	int err = ftrace_set_filter_ip(&mshare_hook_ops, ip, 0, 0);

	if (err)
		pr_err("cannot hook %s: %d (not traceable on this kernel)\n",
		       name, err);
	return err;
}

int mshare_hook_init(void)
{
	static const char * const gup_fast_fns[] = MSHARE_GUP_FAST_FNS;
	const char *gup_fast_fn = NULL;
	int i, err;

	for (i = 0; !mshare_gup_fast && i < ARRAY_SIZE(gup_fast_fns); i++) {
		mshare_gup_fast = mshare_ksym(gup_fast_fns[i]);
		gup_fast_fn = gup_fast_fns[i];
	}
	if (!mshare_gup_fast) {
		pr_err("cannot find the GUP-fast entry (%s or %s)\n",
		       gup_fast_fns[0], gup_fast_fns[1]);
		return -ENOENT;
	}
	for (i = 0; i < ARRAY_SIZE(mshare_walk_ip); i++) {
		mshare_walk_ip[i] = mshare_ksym(mshare_walk_fns[i].name);
		if (!mshare_walk_ip[i]) {
			pr_err("cannot find %s\n", mshare_walk_fns[i].name);
			return -ENOENT;
		}
	}
	mshare_free_pgd = mshare_ksym("free_pgd_range");
	if (!mshare_free_pgd) {
		pr_err("cannot find free_pgd_range\n");
		return -ENOENT;
	}
	mshare_take_all = mshare_ksym("mm_take_all_locks");
	mshare_drop_all = mshare_ksym("mm_drop_all_locks");
	if (!mshare_take_all || !mshare_drop_all) {
		pr_err("cannot find mm_take_all_locks or mm_drop_all_locks\n");
		return -ENOENT;
	}
	err = mshare_hook_ip(mshare_gup_fast, gup_fast_fn);
	for (i = 0; !err && i < ARRAY_SIZE(mshare_walk_ip); i++)
		err = mshare_hook_ip(mshare_walk_ip[i],
				     mshare_walk_fns[i].name);
	if (!err)
		err = mshare_hook_ip(mshare_take_all, "mm_take_all_locks");
	if (!err)
		err = mshare_hook_ip(mshare_drop_all, "mm_drop_all_locks");
	/*
	 * Into the filter before the ops is registered, like the others: a
	 * filter added to live ops would report success even where ftrace
	 * failed to patch the call site.
	 */
	if (!err)
		err = mshare_hook_ip(mshare_free_pgd, "free_pgd_range");
	if (!err)
		err = mshare_ksym_init(&mshare_hook_ops);	/* says why */
	if (err)
		goto out_free;
	err = register_ftrace_function(&mshare_hook_ops);
	if (err) {
		pr_err("cannot install the ftrace hook: %d (kernel.ftrace_enabled=0, or livepatch or another IPMODIFY user on a hooked function?)\n",
		       err);
		goto out_free;
	}
	/* After the PERMANENT ops: it fails while ftrace is disabled. */
	err = ftrace_set_filter_ip(&mshare_fault_ops,
				   (unsigned long)handle_mm_fault, 0, 0);
	if (err) {
		pr_err("cannot hook handle_mm_fault: %d (not traceable on this kernel)\n",
		       err);
		goto out_unregister;
	}
	err = mshare_direct_register(&mshare_fault_ops,
				     (unsigned long)mshare_fault_entry);
	if (err) {
		pr_err("cannot install the handle_mm_fault hook: %d (livepatch, BPF or another direct call on handle_mm_fault?)\n",
		       err);
		ftrace_free_filter(&mshare_fault_ops);
		goto out_unregister;
	}
	mshare_ksym_data_init();
	return 0;

out_unregister:
	unregister_ftrace_function(&mshare_hook_ops);
out_free:
	ftrace_free_filter(&mshare_hook_ops);
	return err;
}

void mshare_hook_exit(void)
{
	int err, err2;

	err = mshare_direct_unregister(&mshare_fault_ops,
				       (unsigned long)mshare_fault_entry);
	err2 = unregister_ftrace_function(&mshare_hook_ops);
	if (err || err2) {
		/*
		 * ftrace refuses every change once an error has disabled it
		 * (ftrace_kill()), and leaves the hooked functions calling
		 * this module.  Freeing its text would crash the next page
		 * fault on the machine; an unload that never ends does not.
		 * TASK_IDLE: not a hung task, and no signal ends it.
		 */
		pr_crit("cannot remove the ftrace hooks (%d, %d: ftrace disabled itself after an error); this unload will not finish, so that the hooked functions keep valid code to call\n",
			err, err2);
		for (;;)
			schedule_timeout_idle(MAX_SCHEDULE_TIMEOUT);
	}
	ftrace_free_filter(&mshare_hook_ops);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Reaching the few kernel functions mshare needs that are not exported.
 *
 * Addresses come from a kprobe registered on the name (kallsyms_lookup_name
 * itself is not exported).  The functions are then entered through an
 * "ftrace call gate", never through a function pointer: on 6.12 with IBT,
 * unexported functions whose address is never taken are sealed (their ENDBR
 * is poisoned at boot), and an indirect call to one is a #CP and a BUG() on
 * IBT hardware.  A gate is a module stub whose ftrace entry hook rewrites
 * the return IP to the target, so the target is entered by a RET with the
 * stub's arguments and returns straight to the stub's caller.
 *
 * Gated functions: mm_alloc (the host mm of a region), hugetlb_file_setup
 * (anonymous MAP_HUGETLB objects, as mmap() itself makes them), and the
 * three calls that publish an invalidation into an mm's notifier chain
 * (host invalidations are forwarded to the attachers' secondary MMUs), and
 * set_memory_ro/rw (the empty PUD table is read-only to the kernel).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>
#include <linux/hugetlb.h>
#include <linux/kprobes.h>
#include <linux/mm_types.h>
#include <linux/moduleparam.h>
#include <linux/pgtable.h>
#include <linux/string.h>

#include "mshare.h"

/*
 * For tests only: a kernel function named here is treated as missing, so
 * that the refusal to load on a kernel without one of mshare's hook points
 * can be tested on any kernel.  Not visible in sysfs.
 */
static char *mshare_test_missing;
module_param_named(test_missing, mshare_test_missing, charp, 0);
MODULE_PARM_DESC(test_missing,
		 "testing only: treat this kernel function as missing");

/* Start address of a kernel function, or 0. */
unsigned long mshare_ksym(const char *name)
{
	/* Disabled: resolve the address without ever arming the probe. */
	struct kprobe kp = { .symbol_name = name,
			     .flags = KPROBE_FLAG_DISABLED };
	unsigned long addr;

	if (mshare_test_missing && !strcmp(name, mshare_test_missing))
		return 0;
	if (register_kprobe(&kp) < 0)
		return 0;
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);
	/*
	 * The kernel image only: a name it lacks is then looked up among
	 * every loaded module's symbols, static ones included, and a
	 * module's function of that name must never be hooked or called.
	 */
	if (addr >= MODULES_VADDR && addr < MODULES_END)
		return 0;
	return mshare_kprobe_to_sym(addr);
}

struct mshare_gate {
	const char	*name;
	void		*stub;
	unsigned long	target;
};

/*
 * The stubs never run their bodies.  noipa keeps GCC from inlining them or
 * drawing conclusions about their results at the call sites.
 */
__attribute__((noipa)) struct mm_struct *mshare_mm_alloc(void)
{
	WARN_ONCE(1, "mshare: mm_alloc gate not armed\n");
	return NULL;
}

__attribute__((noipa))
struct file *mshare_hugetlb_file_setup(const char *name, size_t size,
				       mshare_hugetlb_acct_t acct,
				       int creat_flags, int page_size_log)
{
	WARN_ONCE(1, "mshare: hugetlb_file_setup gate not armed\n");
	return ERR_PTR(-EOPNOTSUPP);
}

__attribute__((noipa)) int mshare_mn_start(struct mmu_notifier_range *range)
{
	WARN_ONCE(1, "mshare: invalidate_range_start gate not armed\n");
	return 0;
}

/* 6.12's target has no only_end: the extra argument register is ignored. */
__attribute__((noipa)) void mshare_mn_end(struct mmu_notifier_range *range,
					  bool only_end)
{
	WARN_ONCE(1, "mshare: invalidate_range_end gate not armed\n");
}

__attribute__((noipa)) void mshare_mn_tlb(struct mm_struct *mm,
					  unsigned long start,
					  unsigned long end)
{
	WARN_ONCE(1, "mshare: secondary TLB gate not armed\n");
}

__attribute__((noipa))
int mshare_set_memory_ro(unsigned long addr, int numpages)
{
	WARN_ONCE(1, "mshare: set_memory_ro gate not armed\n");
	return -EOPNOTSUPP;
}

__attribute__((noipa))
int mshare_set_memory_rw(unsigned long addr, int numpages)
{
	WARN_ONCE(1, "mshare: set_memory_rw gate not armed\n");
	return -EOPNOTSUPP;
}

__attribute__((noipa)) int mshare_gate_take_all_locks(struct mm_struct *mm)
{
	WARN_ONCE(1, "mshare: mm_take_all_locks gate not armed\n");
	return -EINTR;
}

__attribute__((noipa)) void mshare_gate_drop_all_locks(struct mm_struct *mm)
{
	WARN_ONCE(1, "mshare: mm_drop_all_locks gate not armed\n");
}

static __attribute__((noipa))
unsigned long mshare_kallsyms_lookup_name(const char *name)
{
	WARN_ONCE(1, "mshare: kallsyms_lookup_name gate not armed\n");
	return 0;
}

static struct mshare_gate mshare_gates[] = {
	{ .name = "kallsyms_lookup_name", .stub = mshare_kallsyms_lookup_name },
	{ .name = "mm_take_all_locks", .stub = mshare_gate_take_all_locks },
	{ .name = "mm_drop_all_locks", .stub = mshare_gate_drop_all_locks },
	{ .name = "set_memory_ro", .stub = mshare_set_memory_ro },
	{ .name = "set_memory_rw", .stub = mshare_set_memory_rw },
	{ .name = "mm_alloc", .stub = mshare_mm_alloc },
	{ .name = "hugetlb_file_setup", .stub = mshare_hugetlb_file_setup },
	{ .name = "__mmu_notifier_invalidate_range_start",
	  .stub = mshare_mn_start },
	{ .name = "__mmu_notifier_invalidate_range_end",
	  .stub = mshare_mn_end },
	{ .name = MSHARE_MN_TLB_FN, .stub = mshare_mn_tlb },
};

/*
 * Called from the module's ftrace callback (hook.c) for every entry of a
 * gate stub: ip is the stub's ftrace site, at or just after its start.
 */
unsigned long mshare_gate_target(unsigned long ip)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(mshare_gates); i++)
		if (ip - (unsigned long)mshare_gates[i].stub < 16)
			return mshare_gates[i].target;
	return 0;
}

/* compat.h: lockdep's map of notifier invalidations (lockdep kernels only) */
struct lockdep_map *mshare_mn_lockdep_map;

/*
 * Data symbols, which kprobes cannot resolve: through the kernel's own
 * lookup, entered by its gate, so only once the hook is registered.
 */
void mshare_ksym_data_init(void)
{
	if (IS_ENABLED(CONFIG_LOCKDEP))
		mshare_mn_lockdep_map = (struct lockdep_map *)
			mshare_kallsyms_lookup_name("__mmu_notifier_invalidate_range_start_map");
}

/* Resolve the targets and add the stubs to the hook's filter. */
int mshare_ksym_init(struct ftrace_ops *ops)
{
	struct mshare_gate *gate;
	int i, err;

	for (i = 0; i < ARRAY_SIZE(mshare_gates); i++) {
		gate = &mshare_gates[i];
		gate->target = mshare_ksym(gate->name);
		if (!gate->target) {
			pr_err("cannot find kernel function %s\n", gate->name);
			return -ENOENT;
		}
		err = ftrace_set_filter_ip(ops, (unsigned long)gate->stub, 0, 0);
		if (err) {
			pr_err("cannot hook the %s gate: %d\n", gate->name, err);
			return err;
		}
	}
	return 0;
}

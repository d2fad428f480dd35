/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place where the differences between the supported kernels
 * (Debian 6.1 LTS, 6.12 LTS and trixie-backports' 7.3) are spelled out.
 * Everything else in the module is written against the names defined here.
 *
 * Differences are decided by feature probes, never by version numbers
 * (Debian's stable kernels carry backported mm changes under an old
 * version): each probes/NAME.c that compiles against the target kernel's
 * headers defines MSHARE_HAVE_NAME (Kbuild), and only this file tests them.
 */
#ifndef MSHARE_COMPAT_H
#define MSHARE_COMPAT_H

#include <linux/fs.h>
#include <linux/ftrace.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>
#include <linux/shmem_fs.h>
#include <uapi/linux/magic.h>
#include <asm/ibt.h>
#include <asm/nospec-branch.h>
#include <asm/tlbflush.h>

#ifdef MSHARE_HAVE_MNT_IDMAP
/* 6.3 replaced the user_namespace argument of inode ops by an idmap. */
#define mshare_idmap		mnt_idmap
#define MSHARE_NOP_IDMAP	(&nop_mnt_idmap)
#else
#define mshare_idmap		user_namespace
#define MSHARE_NOP_IDMAP	(&init_user_ns)
#endif

/*
 * msharefs names pin their dentries, as ramfs does.  7.3 makes the pin
 * explicit (DCACHE_PERSISTENT): simple_unlink()/simple_rmdir() drop it and
 * warn without it, the umount drops the remaining ones, and
 * kill_litter_super() is gone.  Before, the pin was a plain extra
 * reference, which kill_litter_super() dropped at the umount.
 */
#ifdef MSHARE_HAVE_D_MAKE_PERSISTENT
/* A negative dentry from the VFS (create, mkdir) */
static inline void mshare_d_pin(struct dentry *dentry, struct inode *inode)
{
	d_make_persistent(dentry, inode);
}

/* A fresh one from d_alloc_name(), whose reference is the caller's */
static inline void mshare_d_pin_new(struct dentry *dentry,
				    struct inode *inode)
{
	d_make_persistent(dentry, inode);
	dput(dentry);
}

#define mshare_kill_sb		kill_anon_super
#else
static inline void mshare_d_pin(struct dentry *dentry, struct inode *inode)
{
	d_instantiate(dentry, inode);
	dget(dentry);
}

/* The reference from d_alloc_name() is the pin. */
static inline void mshare_d_pin_new(struct dentry *dentry,
				    struct inode *inode)
{
	d_add(dentry, inode);
}

#define mshare_kill_sb		kill_litter_super
#endif

/* Inodes die with their last link: renamed in 7.3 */
#ifdef MSHARE_HAVE_INODE_JUST_DROP
#define mshare_drop_inode	inode_just_drop
#else
#define mshare_drop_inode	generic_delete_inode
#endif

/* 7.3's ->create() has no "excl" argument */
#ifdef MSHARE_HAVE_INODE_CREATE_NO_EXCL
#define MSHARE_CREATE_ARGS	struct mshare_idmap *idmap, struct inode *dir, \
				struct dentry *dentry, umode_t mode
#else
#define MSHARE_CREATE_ARGS	struct mshare_idmap *idmap, struct inode *dir, \
				struct dentry *dentry, umode_t mode, bool excl
#endif

/* ->mkdir() returns a dentry since 6.15: NULL for the one passed in */
#ifdef MSHARE_HAVE_INODE_MKDIR_DENTRY
#define MSHARE_MKDIR_RET		struct dentry *
#define MSHARE_MKDIR_RETURN(err)	ERR_PTR(err)
#else
#define MSHARE_MKDIR_RET		int
#define MSHARE_MKDIR_RETURN(err)	(err)
#endif

/* 6.6 hid inode timestamps behind accessors; 6.1 still has the fields. */
static inline void mshare_inode_init_ts(struct inode *inode)
{
#ifdef MSHARE_HAVE_SIMPLE_INODE_INIT_TS
	simple_inode_init_ts(inode);
#else
	struct timespec64 now = inode_set_ctime_current(inode);

	inode->i_atime = now;
	inode->i_mtime = now;
#endif
}

/* A directory changed: update its mtime and ctime. */
static inline void mshare_dir_touch(struct inode *dir)
{
#ifdef MSHARE_HAVE_INODE_SET_MTIME_TO_TS
	inode_set_mtime_to_ts(dir, inode_set_ctime_current(dir));
#else
	dir->i_mtime = inode_set_ctime_current(dir);
#endif
}

/*
 * A kprobe's address skips the function's ENDBR (or the poison of a sealed
 * one) on IBT kernels (6.12, 7.3); the function starts 4 bytes earlier.
 * 7.3's is_endbr() reads through a pointer and is not exported; the inline
 * test of the instruction word is then __is_endbr().
 */
static inline bool mshare_is_endbr(u32 insn)
{
#ifdef MSHARE_HAVE_IS_ENDBR_RAW
	return __is_endbr(insn);
#else
	return is_endbr(insn);
#endif
}

static inline unsigned long mshare_kprobe_to_sym(unsigned long addr)
{
#ifdef CONFIG_X86_KERNEL_IBT
	if (addr && mshare_is_endbr(*(u32 *)(addr - ENDBR_INSN_SIZE)))
		addr -= ENDBR_INSN_SIZE;
#endif
	return addr;
}

/* 6.3 made vm_flags read-only behind accessors. */
static inline void mshare_vm_flags_set(struct vm_area_struct *vma,
				       vm_flags_t flags)
{
#ifdef MSHARE_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

static inline void mshare_vm_flags_clear(struct vm_area_struct *vma,
					 vm_flags_t flags)
{
#ifdef MSHARE_HAVE_VM_FLAGS_SET
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

/*
 * Per-VMA-lock faults (6.4+): true if the fault holds only the VMA's lock,
 * which is then dropped so the caller can retry under the mmap lock.
 */
static inline bool mshare_fault_drop_vma_lock(struct vm_area_struct *vma,
					      unsigned int flags)
{
#ifdef MSHARE_HAVE_FAULT_FLAG_VMA_LOCK
	if (flags & FAULT_FLAG_VMA_LOCK) {
		vma_end_read(vma);
		return true;
	}
#endif
	return false;
}

/* A probe that failed for another reason must not drop the VMA-lock path. */
#if defined(CONFIG_PER_VMA_LOCK) && !defined(MSHARE_HAVE_FAULT_FLAG_VMA_LOCK)
#error "per-VMA locks, but the fault_flag_vma_lock probe failed (see probes/)"
#endif

/*
 * Write-lock a VMA (the mmap lock held for writing): waits for the tasks
 * inside it under its per-VMA read lock alone, and sends later ones to
 * the mmap lock, until that is released.  No per-VMA locks (6.1): the mmap
 * lock already excludes every walker.
 */
static inline void mshare_vma_write_lock(struct vm_area_struct *vma)
{
#ifdef MSHARE_HAVE_VMA_START_WRITE
	vma_start_write(vma);
#endif
}

#if defined(CONFIG_PER_VMA_LOCK) && !defined(MSHARE_HAVE_VMA_START_WRITE)
#error "per-VMA locks, but the vma_start_write probe failed (see probes/)"
#endif

/*
 * A free range of the current process, without any file's placement rules.
 * 7.x's mm_get_unmapped_area() works on current->mm without being told.
 */
static inline unsigned long mshare_free_area(unsigned long addr,
					     unsigned long len)
{
#if defined(MSHARE_HAVE_MM_GET_UNMAPPED_AREA_FILE)
	return mm_get_unmapped_area(NULL, addr, len, 0, 0);
#elif defined(MSHARE_HAVE_MM_GET_UNMAPPED_AREA)
	return mm_get_unmapped_area(current->mm, NULL, addr, len, 0, 0);
#else
	return get_unmapped_area(NULL, addr, len, 0, 0);
#endif
}

/* mm->flags (MMF_*): an opaque bitmap behind accessors in 7.3 */
static inline bool mshare_mm_flag_test(int flag, const struct mm_struct *mm)
{
#ifdef MSHARE_HAVE_MM_FLAGS_ACCESSORS
	return mm_flags_test(flag, mm);
#else
	return test_bit(flag, &mm->flags);
#endif
}

static inline void mshare_mm_flag_set(int flag, struct mm_struct *mm)
{
#ifdef MSHARE_HAVE_MM_FLAGS_ACCESSORS
	mm_flags_set(flag, mm);
#else
	set_bit(flag, &mm->flags);
#endif
}

/*
 * The flag that keeps THP (khugepaged included) out of an mm; 7.3 split
 * MMF_DISABLE_THP into this and MMF_DISABLE_THP_EXCEPT_ADVISED.
 */
#ifdef MSHARE_HAVE_MMF_DISABLE_THP_COMPLETELY
#define MSHARE_MMF_NO_THP	MMF_DISABLE_THP_COMPLETELY
#else
#define MSHARE_MMF_NO_THP	MMF_DISABLE_THP
#endif

/*
 * A fresh mm from mm_alloc() has no mmap layout (that is set at exec); give
 * the host mm the creator's, so mmap code run in it finds its allocator.
 */
static inline void mshare_copy_mmap_layout(struct mm_struct *to,
					   const struct mm_struct *from)
{
#ifdef MSHARE_HAVE_MMF_TOPDOWN
	if (mshare_mm_flag_test(MMF_TOPDOWN, from))
		mshare_mm_flag_set(MMF_TOPDOWN, to);
#else
	to->get_unmapped_area = from->get_unmapped_area;
#endif
	to->mmap_base = from->mmap_base;
	to->mmap_legacy_base = from->mmap_legacy_base;
	to->task_size = from->task_size;
}

/*
 * The common entry of every GUP-fast variant (static; reached by ftrace),
 * named internal_get_user_pages_fast before 6.9: a static function has no
 * header to probe, so hook.c tries each name.
 */
#define MSHARE_GUP_FAST_FNS	{ "gup_fast_fallback", \
				  "internal_get_user_pages_fast" }

/*
 * hugetlb_file_setup() (ksym.c gate) takes its accounting flags as a
 * vma_flags_t bitmap in 7.3: the gate stub has the kernel's prototype.
 */
#ifdef MSHARE_HAVE_HUGETLB_SETUP_VMA_FLAGS
#define mshare_hugetlb_acct_t		vma_flags_t
#define MSHARE_HUGETLB_NORESERVE	mk_vma_flags(VMA_NORESERVE_BIT)
#else
#define mshare_hugetlb_acct_t		vm_flags_t
#define MSHARE_HUGETLB_NORESERVE	VM_NORESERVE
#endif

/* vm_ops->get_policy() gained an interleave-index argument in 6.7. */
#ifdef MSHARE_HAVE_GET_POLICY_ILX
#define MSHARE_GET_POLICY_ARGS	struct vm_area_struct *vma, \
				unsigned long addr, pgoff_t *ilx
#else
#define MSHARE_GET_POLICY_ARGS	struct vm_area_struct *vma, unsigned long addr
#endif

/* The memcg that a host mm's page faults are charged to. */
static inline void mshare_set_mm_owner(struct mm_struct *mm,
				       struct task_struct *owner)
{
#ifdef CONFIG_MEMCG
	rcu_assign_pointer(mm->owner, owner);
#endif
}

/*
 * The mmu_notifier callback that runs inside every TLB flush of an mm: 6.6
 * renamed invalidate_range to arch_invalidate_secondary_tlbs.
 */
#ifdef MSHARE_HAVE_MN_SECONDARY_TLBS
#define mshare_mn_tlb_flush	arch_invalidate_secondary_tlbs
#else
#define mshare_mn_tlb_flush	invalidate_range
#endif

/*
 * Publishing into another mm's notifier chain (mmu_notifier.c; reached
 * through call gates, see ksym.c).  6.1 has a vma in the range and an
 * only_end argument to the end call; 6.6 renamed the secondary-TLB call.
 */
#ifdef MSHARE_HAVE_MN_SECONDARY_TLBS
#define MSHARE_MN_TLB_FN	"__mmu_notifier_arch_invalidate_secondary_tlbs"
#else
#define MSHARE_MN_TLB_FN	"__mmu_notifier_invalidate_range"
#endif

static inline void mshare_mn_range_init(struct mmu_notifier_range *range,
					const struct mmu_notifier_range *from,
					struct mm_struct *mm,
					unsigned long start,
					unsigned long end)
{
#ifdef MSHARE_HAVE_MN_RANGE_INIT_NO_VMA
	mmu_notifier_range_init(range, from->event, from->flags, mm, start,
				end);
#else
	mmu_notifier_range_init(range, from->event, from->flags, NULL, mm,
				start, end);
#endif
}

/*
 * A PMD entry that is neither none, nor present, nor a THP migration
 * entry: in a host, a hugetlb hwpoison entry (hook.c).  7.x moved the
 * tests of such entries to linux/leafops.h, under other names.
 */
#ifdef MSHARE_HAVE_PMD_IS_MIGRATION_ENTRY
#include <linux/leafops.h>
#define mshare_pmd_is_migration(pmd)	pmd_is_migration_entry(pmd)
#else
#include <linux/swap.h>
#include <linux/swapops.h>
#define mshare_pmd_is_migration(pmd)	is_pmd_migration_entry(pmd)
#endif

static inline bool mshare_pmd_poisoned(pmd_t pmd)
{
	return !pmd_none(pmd) && !pmd_present(pmd) &&
	       !mshare_pmd_is_migration(pmd);
}

/*
 * Before 6.6, khugepaged's retract_page_tables() freed the PTE table of
 * every PMD-aligned mapping of a collapsed file at once, under that mm's
 * mmap lock only: for a host mm, attachers' slow GUP and page walks would
 * still be inside it.  6.6 frees it after an RCU grace period, and PTE
 * walkers map tables with pte_offset_map() (RCU, pmd rechecked under the
 * PTE lock), which protects attachers' walkers as it protects the owner's.
 * Older kernels: no THP in host mms (MMF_DISABLE_THP keeps khugepaged out),
 * and no objects from a tmpfs that can hold huge pages, whose collapse in
 * another mm would retract the host's table.
 */
#ifdef MSHARE_HAVE_PTE_FREE_DEFER	/* came with the RCU freeing */
#define MSHARE_RETRACT_FREES_AT_ONCE	false
#else
#define MSHARE_RETRACT_FREES_AT_ONCE	true
#endif

/*
 * Flush this CPU's TLB of everything, every PCID and global pages
 * included, as __flush_tlb_all() does.  7.3 exports that to kvm only
 * (Kbuild's export probe reads Module.symvers); its body is then spelled
 * out here with the paravirt operations it consists of, which modules may
 * call (pv_ops is exported).  Without CONFIG_PARAVIRT these would be
 * direct calls to unexported native functions.
 */
#ifdef MSHARE_HAVE_EXPORT___FLUSH_TLB_ALL
static inline void mshare_flush_tlb_all(void)
{
	__flush_tlb_all();
}
#else
#ifndef CONFIG_PARAVIRT
#error "__flush_tlb_all() is not exported to modules and there is no CONFIG_PARAVIRT"
#endif
static inline void mshare_flush_tlb_all(void)
{
	VM_WARN_ON_ONCE(preemptible());
	if (cpu_feature_enabled(X86_FEATURE_PGE))
		__flush_tlb_global();	/* INVPCID all contexts or CR4.PGE */
	else
		__flush_tlb_local();	/* !PGE: no PCID, a CR3 write is total */
}
#endif

/*
 * AMD broadcast TLB invalidation (INVLPGB, CONFIG_BROADCAST_TLB_FLUSH, in
 * 7.3): an mm busy on several CPUs may get a global ASID, which the kernel
 * keeps coherent by INVLPGB broadcasts alone.  A CPU switching to such an
 * mm does not compare TLB generations (its entries are "always up to
 * date"), and CPUs leave mm_cpumask() without a flush when a flush IPI
 * finds them running another mm.  So a CPU outside an attacher's cpumask
 * may hold its translations and would use them, stale, when it switches
 * back; bumping tlb_gen does not reach it.  Where the kernel may hand out
 * global ASIDs, tlb.c flushes every online CPU instead.
 */
static inline bool mshare_tlb_flush_all_cpus(void)
{
#ifdef CONFIG_BROADCAST_TLB_FLUSH
	return cpu_feature_enabled(X86_FEATURE_INVLPGB);
#else
	return false;
#endif
}

/*
 * Generic page walkers in an attacher (smaps, pagemap, numa_maps, mincore,
 * DAMON) descend into the host's tables, where a hugetlb object has PMD
 * leaves.
 * With THP they read them as transparent huge pages; without it
 * (PREEMPT_RT flavours) pmd_trans_huge() is false, so __pte_offset_map()
 * takes the leaf for a bad PMD and clears it under the host: the hugetlb
 * page stays counted as mapped (seen on 7.3 rt: "bad pmd", "Bad page
 * cache ... still mapped when deleted").  Not supported.
 */
#ifndef CONFIG_TRANSPARENT_HUGEPAGE
#error "kernels without CONFIG_TRANSPARENT_HUGEPAGE are not supported (see compat.h)"
#endif

/*
 * make_device_exclusive() runs GUP with FOLL_SPLIT_PMD, which judges the
 * attacher's VMA (not hugetlb) and would split the host's hugetlb PMD leaf
 * through the attachment as if it were a THP.  Only nouveau's SVM and the
 * HMM test driver call it; Debian builds neither.  Refused where built.
 */
#if IS_ENABLED(CONFIG_DRM_NOUVEAU_SVM) || IS_ENABLED(CONFIG_TEST_HMM)
#error "make_device_exclusive() users (DRM_NOUVEAU_SVM, TEST_HMM): not supported"
#endif

/* A tmpfs (memfd's internal mount included) whose huge= is not "never" */
static inline bool mshare_tmpfs_huge(struct super_block *sb)
{
	const struct shmem_sb_info *sbinfo = sb->s_fs_info;

	return sb->s_magic == TMPFS_MAGIC && sbinfo->huge;
}

/*
 * lockdep models "inside an mmu notifier invalidation" as one lock map for
 * every mm, which __mmu_notifier_invalidate_range_end() takes.  A host's
 * end forwards to each attacher's __mmu_notifier_invalidate_range_end()
 * while it holds the map: two mms, but one map, which lockdep reports as
 * recursive locking.  The forwarding steps out of the host's hold of the
 * map; the attacher's end takes it again, so its subscribers' callbacks
 * are checked as they always are.  (Starts do not nest: the inline
 * mmu_notifier_invalidate_range_start() holds the map, and the
 * __mmu_notifier_invalidate_range_start() forwarded into does not take it.)
 */
/* The map is not exported: ksym.c looks it up (NULL: no annotation). */
extern struct lockdep_map *mshare_mn_lockdep_map;

#ifdef CONFIG_LOCKDEP
static inline void mshare_fwd_lockdep_out(void)
{
	if (mshare_mn_lockdep_map)
		lock_map_release(mshare_mn_lockdep_map);
}

static inline void mshare_fwd_lockdep_in(void)
{
	if (mshare_mn_lockdep_map)
		lock_map_acquire(mshare_mn_lockdep_map);
}
#else
static inline void mshare_fwd_lockdep_out(void) { }
static inline void mshare_fwd_lockdep_in(void) { }
#endif

/* 6.5 dropped the vmas argument of get_user_pages_remote(). */
static inline long mshare_gup_remote_page(struct mm_struct *mm,
					  unsigned long addr,
					  unsigned int gup_flags,
					  struct page **page)
{
#ifdef MSHARE_HAVE_GUP_REMOTE_NO_VMAS
	return get_user_pages_remote(mm, addr, 1, gup_flags, page, NULL);
#else
	return get_user_pages_remote(mm, addr, 1, gup_flags, page, NULL, NULL);
#endif
}

/*
 * The hook reads the hooked functions' arguments and moves their entry
 * through ftrace_regs.  ftrace's argument-only trampoline saves the
 * argument registers and writes the instruction pointer back (livepatch
 * relies on the same), at a fraction of the cost of a full pt_regs frame,
 * which every page fault on the machine would pay.  6.12 added accessors;
 * on 6.1 ftrace_regs is a pt_regs.
 */
#ifndef CONFIG_HAVE_DYNAMIC_FTRACE_WITH_ARGS
#error "mshare needs ftrace with arguments (CONFIG_HAVE_DYNAMIC_FTRACE_WITH_ARGS)"
#endif
#ifdef MSHARE_HAVE_FTRACE_REGS_GET_ARGUMENT
#define mshare_fregs_arg(fregs, n)	ftrace_regs_get_argument(fregs, n)
#define mshare_fregs_set_ip(fregs, ip)	\
	ftrace_regs_set_instruction_pointer(fregs, ip)
#else
#define mshare_fregs_arg(fregs, n)	\
	regs_get_kernel_argument(&(fregs)->regs, n)
#define mshare_fregs_set_ip(fregs, ip)	ftrace_instruction_pointer_set(fregs, ip)
#endif

/*
 * handle_mm_fault()'s hook is an ftrace direct call (hook.c).  6.1 names
 * the ops-based interface *_multi and leaves the filter to the caller.
 */
#ifndef CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS
#error "mshare needs ftrace direct calls (CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS)"
#endif
#ifdef MSHARE_HAVE_FTRACE_DIRECT_OPS
#define mshare_direct_register(ops, addr)	register_ftrace_direct(ops, addr)
#define mshare_direct_unregister(ops, addr)	\
	unregister_ftrace_direct(ops, addr, true)
#else
#define mshare_direct_register(ops, addr)	\
	register_ftrace_direct_multi(ops, addr)
static inline int mshare_direct_unregister(struct ftrace_ops *ops,
					   unsigned long addr)
{
	int err = unregister_ftrace_direct_multi(ops, addr);

	ftrace_free_filter(ops);
	return err;
}
#endif
/*
 * Call depth tracking (6.2+, the "stuff" retbleed mitigation): a direct
 * call's target accounts for the call that reached it.  Nothing to
 * account before.
 */
#ifndef CALL_DEPTH_ACCOUNT
#define CALL_DEPTH_ACCOUNT ""
#endif

#endif /* MSHARE_COMPAT_H */

/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mncount: the interface of the test-only module that counts the mmu
 * notifier callbacks a secondary MMU (KVM, an IOMMU) would receive for one
 * virtual range of the calling process.  Shared by tests/mncount/mncount.c
 * and tests/notify_test.c.
 *
 * Each open fd of /dev/mncount can register one notifier, on the mm of the
 * process that calls MNCOUNT_REGISTER, for [start, end).  Callbacks whose
 * range overlaps [start, end) are counted; the others only in the
 * outside_* counters.  Closing the fd unregisters the notifier.
 *
 * It can also interrupt the caller's next notifier registration
 * (MNCOUNT_INTERRUPT), the rare event that makes mshare attach a mapping
 * late, so that tests can make it happen at will.
 */
#ifndef MNCOUNT_H
#define MNCOUNT_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define MNCOUNT_NEVENTS		8	/* enum mmu_notifier_event 0..7 */

struct mncount_range {
	__u64 start;
	__u64 end;		/* exclusive */
};

struct mncount_counts {
	__u64 starts;		/* invalidate_range_start, overlapping */
	__u64 ends;		/* invalidate_range_end, overlapping */
	__u64 tlbs;		/* invalidate_range (6.1) or
				 * arch_invalidate_secondary_tlbs (>= 6.6),
				 * overlapping
				 */
	__u64 events[MNCOUNT_NEVENTS];	/* overlapping starts by event */
	__u64 other_events;	/* overlapping starts with an event >= 8 */
	__u64 nonblock;		/* overlapping starts that may not block */
	__u64 min_start;	/* union of the overlapping starts' ranges; */
	__u64 max_end;		/* min_start > max_end while there was none */
	__u64 tlb_min;		/* the same for the secondary-TLB callbacks */
	__u64 tlb_max;
	__u64 outside_starts;	/* starts not overlapping [start, end) */
	__u64 outside_tlbs;	/* secondary-TLB calls not overlapping */
	__u64 releases;		/* ->release (the mm is exiting) */
};

#define MNCOUNT_IOC_MAGIC	0xB6
/* register the fd's notifier on current->mm for [start, end); once per fd */
#define MNCOUNT_REGISTER	_IOW(MNCOUNT_IOC_MAGIC, 1, struct mncount_range)
/*
 * register an interval notifier (as HMM users do: mmu_interval_notifier_
 * insert()) instead; its invalidations count as starts and as ends, it has
 * no secondary-TLB callback and no release.  Once per fd, either kind.
 */
#define MNCOUNT_REGISTER_INTERVAL _IOW(MNCOUNT_IOC_MAGIC, 6, struct mncount_range)
/* copy the counters out */
#define MNCOUNT_GET		_IOR(MNCOUNT_IOC_MAGIC, 2, struct mncount_counts)
/* zero the counters */
#define MNCOUNT_RESET		_IO(MNCOUNT_IOC_MAGIC, 3)

/*
 * The calling thread's next __mmu_notifier_register() finds a signal
 * pending (TIF_NOTIFY_SIGNAL, what io_uring's task work sets), so the
 * mm_take_all_locks() in it fails with -EINTR, as it does when a signal
 * arrives during a registration.  One-shot; no fd registration needed.
 */
#define MNCOUNT_INTERRUPT	_IO(MNCOUNT_IOC_MAGIC, 4)
/* how many registrations MNCOUNT_INTERRUPT has interrupted so far */
#define MNCOUNT_INTERRUPTED	_IOR(MNCOUNT_IOC_MAGIC, 5, __u64)

#endif /* MNCOUNT_H */

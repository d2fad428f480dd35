// SPDX-License-Identifier: GPL-2.0
/*
 * hwpoison_test: a memory failure on a region's hugetlb page leaves a
 * hwpoison entry in the host's PMD table, below every attacher's link.
 * Generic page walkers of an attacher meet it through a VMA that is not
 * hugetlb, and must neither crash nor misread it.
 *
 * Usage: hwpoison_test [DIR]		DIR defaults to /sys/fs/mshare
 *
 * Runs as root: it reserves huge pages and poisons one of them with
 * MADV_HWPOISON through its own attachment (the kernel's memory failure
 * handling then unmaps the page from the host).  The poisoned page is never
 * touched by the CPU: that would be a machine-check kill, which the log rule
 * rightly fails.  The page is lost until reboot: run this group last.
 *
 *   1. the poisoned page reads as not present in a read-only attacher's
 *      (uid 65534) /proc/self/pagemap, its neighbour as present; before
 *      the fix it read as swapped, and a CONFIG_DEBUG_VM kernel hit a
 *      BUG (pagemap_pmd_range asserts that a PMD swap entry is a
 *      migration entry)
 *   2. smaps, numa_maps, mincore and PAGEMAP_SCAN (6.7+) of that attacher
 *      read the range without a kernel report; so do the owner's mincore
 *      (which walks the tables only for a caller that may write the file)
 *      and pagemap
 *   3. its mbind(MPOL_MF_STRICT) fails with EINVAL (attachments take no
 *      policy) without reading the struct page of an unrelated pfn (the
 *      hwpoison entry's pfn bits are inverted)
 *   4. GUP of the poisoned page fails (process_vm_readv, /proc/self/mem),
 *      the neighbour's reads its tag
 *   5. MADV_COLD/MADV_PAGEOUT and clear_refs over the range leave the
 *      entry alone: the owner still reads the neighbour's tag, and the
 *      poisoned page is still a hole
 *   6. UNMAP of the object clears the entry; the region is destroyed
 *      cleanly (nothing in the kernel log)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/mempolicy.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "region.h"
#include "tap.h"
#include "util.h"

#define A		REGION_ALIGN
#define RW		(PROT_READ | PROT_WRITE)
#define HPAGE		(2UL << 20)
#define PG		4096UL
#define PM_PRESENT	(1ULL << 63)
#define PM_SWAP		(1ULL << 62)

static const char *mnt = "/sys/fs/mshare";
static char dir[PATH_MAX];

/* The pagemap entry of addr in this process; 0 (with a diag) on error */
static uint64_t pagemap_of(const void *addr)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0 ||
	    pread(fd, &e, sizeof(e), (off_t)((uintptr_t)addr / PG * 8)) != 8)
		diag("pagemap read at %p: %s", addr, errname(errno));
	if (fd >= 0)
		close(fd);
	return e;
}

/*
 * The pagemap entries of both huge pages in one read (the hole must keep
 * the output in step with the addresses): 512 not present nor swapped,
 * then 512 present.
 */
static int pagemap_range_ok(const char *p)
{
	static uint64_t e[2 * HPAGE / PG];
	size_t i, n = 2 * HPAGE / PG;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	ssize_t got = -1;

	if (fd >= 0) {
		got = pread(fd, e, sizeof(e), (off_t)((uintptr_t)p / PG * 8));
		close(fd);
	}
	if (got != (ssize_t)sizeof(e)) {
		diag("pagemap read of %zu entries: %zd (%s)", n, got,
		     errname(errno));
		return 0;
	}
	for (i = 0; i < n; i++) {
		int present = !!(e[i] & PM_PRESENT), swap = !!(e[i] & PM_SWAP);

		if (swap || present != (i >= n / 2)) {
			diag("pagemap entry %zu of %zu: 0x%016llx", i, n,
			     (unsigned long long)e[i]);
			return 0;
		}
	}
	return 1;
}

/* Read a whole /proc file; its length, or -1 */
static long read_all(const char *path)
{
	static char buf[1 << 16];
	long n, total = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	close(fd);
	return n < 0 ? -1 : total;
}

/*
 * The read-only attacher (uid 65534): checks 1 to 4, each reported
 * through its exit code (the number of the first failed check, with a
 * diag line), since a child's check() counts only for itself.
 */
static int reader_child(void *arg)
{
	const char *path = arg;
	unsigned long mask = 1, vec_len = 2 * HPAGE / PG;
	unsigned char vec[2 * HPAGE / PG];
	uint64_t e0, e1;
	struct iovec local, remote;
	char *p, c = 0;
	int fd, mem;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 100;
	p = region_attach(fd, A, PROT_READ);
	if (!p)
		return 101;
	/* setuid() made it undumpable: /proc/self would be root's */
	prctl(PR_SET_DUMPABLE, 1);
	/* links the slot; the poisoned page itself is never touched */
	if (*(volatile char *)(p + HPAGE) != 2) {
		diag("reader: the neighbour reads %d, not its tag 2",
		     p[HPAGE]);
		return 102;
	}

	/* 1. pagemap, one entry at a time and the whole range in one read */
	e0 = pagemap_of(p);
	e1 = pagemap_of(p + HPAGE);
	diag("reader: pagemap entries 0x%016llx (poisoned), 0x%016llx (neighbour)",
	     (unsigned long long)e0, (unsigned long long)e1);
	if (e0 & (PM_PRESENT | PM_SWAP) || !(e1 & PM_PRESENT))
		return 1;
	if (!pagemap_range_ok(p))
		return 1;

	/* 2. the other readers */
	if (read_all("/proc/self/smaps") <= 0 ||
	    read_all("/proc/self/numa_maps") < 0 ||
	    read_all("/proc/self/smaps_rollup") <= 0) {
		diag("reader: a /proc read failed: %s", errname(errno));
		return 2;
	}
	if (mincore(p, 2 * HPAGE, vec)) {
		diag("reader: mincore: %s", errname(errno));
		return 2;
	}
	diag("reader: mincore: %d %d (poisoned, neighbour; %lu pages each)",
	     vec[0] & 1, vec[vec_len / 2] & 1, vec_len / 2);
	mem = open("/proc/self/pagemap", O_RDONLY);
#ifdef PAGEMAP_SCAN
	{
		struct page_region regions[4];
		struct pm_scan_arg sa = {
			.size = sizeof(sa),
			.start = (uintptr_t)p,
			.end = (uintptr_t)p + 2 * HPAGE,
			.vec = (uintptr_t)regions,
			.vec_len = 4,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		};
		long n = ioctl(mem, PAGEMAP_SCAN, &sa);

		if (n < 0 && errno != ENOTTY && errno != EINVAL) {
			diag("reader: PAGEMAP_SCAN: %s", errname(errno));
			return 2;
		}
		diag("reader: PAGEMAP_SCAN: %ld region(s)%s", n,
		     n < 0 ? " (not on this kernel)" : "");
	}
#endif
	close(mem);

	/* 3. mbind with MPOL_MF_STRICT */
	if (syscall(SYS_mbind, p, 2 * HPAGE, MPOL_BIND, &mask,
		    8 * sizeof(mask), MPOL_MF_STRICT) == 0 || errno != EINVAL) {
		diag("reader: mbind(MPOL_MF_STRICT): %s, not EINVAL",
		     errname(errno));
		return 3;
	}

	/* 4. GUP: the poisoned page fails, the neighbour reads */
	local.iov_base = &c;
	local.iov_len = 1;
	remote.iov_base = p;
	remote.iov_len = 1;
	if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) > 0) {
		diag("reader: process_vm_readv read the poisoned page (%d)", c);
		return 4;
	}
	remote.iov_base = p + HPAGE;
	if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != 1 ||
	    c != 2) {
		diag("reader: process_vm_readv of the neighbour: %s (%d)",
		     errname(errno), c);
		return 4;
	}
	mem = open("/proc/self/mem", O_RDONLY);
	if (mem < 0 || pread(mem, &c, 1, (off_t)(uintptr_t)p) > 0) {
		diag("reader: /proc/self/mem of the poisoned page: %s",
		     mem < 0 ? errname(errno) : "read");
		return 4;
	}
	if (pread(mem, &c, 1, (off_t)(uintptr_t)(p + HPAGE)) != 1 ||
	    c != 2) {
		diag("reader: /proc/self/mem of the neighbour: %s (%d)",
		     errname(errno), c);
		return 4;
	}
	close(mem);
	return 0;
}

static const char * const reader_checks[] = {
	"the poisoned page is not present (not swapped) in its pagemap, the neighbour is",
	"its smaps, smaps_rollup, numa_maps, mincore and PAGEMAP_SCAN read the range",
	"its mbind(MPOL_MF_STRICT) fails with EINVAL",
	"GUP of the poisoned page fails (process_vm_readv, /proc/self/mem), the neighbour's reads its tag",
};

int main(int argc, char **argv)
{
	char path[PATH_MAX], buf[32] = "";
	unsigned char vec[2 * HPAGE / PG];
	int fd = -1, st, i, failed, ok;
	char *p = NULL;

	if (argc > 1)
		mnt = argv[1];
	setvbuf(stdout, NULL, _IONBF, 0);
	if (region_dir(mnt, "hwpoison", dir))
		return tap_done();
	if (write_file("/proc/sys/vm/nr_hugepages", "4") ||
	    read_file("/proc/sys/vm/nr_hugepages", buf, sizeof(buf)) < 0 ||
	    atoi(buf) < 2) {
		check(0, "set-up: reserve 4 huge pages (got %d): %s", atoi(buf),
		      errname(errno));
		goto out_dir;
	}
	fd = region_make(dir, "poison", 0644, A, path);
	if (!check(fd >= 0 &&
		   !region_place(fd, 0, 2 * HPAGE, 0, RW,
				 MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS |
				 MAP_HUGETLB | MAP_POPULATE, -1),
		   "set-up: a 2 MiB hugetlb object of two pages placed"))
		goto out;
	p = region_attach(fd, A, RW);
	if (!check(p != NULL, "set-up: the owner attached read-write"))
		goto out;
	p[0] = 1;
	p[HPAGE] = 2;
	/* through the link: GUP finds the host's page, memory failure its rmap */
	if (!check_ok(madvise(p, PG, MADV_HWPOISON), errno,
		      "MADV_HWPOISON of the first huge page through the owner's attachment"))
		goto out;

	st = run_as(NOBODY, reader_child, path);
	failed = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	/* exit code k: checks before k passed; 99 and up: set-up failed */
	for (i = 0; i < 4; i++)
		check(failed == 0 || (failed > i + 1 && failed < 99),
		      "%d. read-only attacher (uid 65534): %s", i + 1,
		      reader_checks[i]);
	if (failed)
		diag("reader: %s", wait_str(st));

	/*
	 * mincore walks the tables only for a caller that could write the
	 * file (can_do_mincore()): the owner, not the reader
	 */
	memset(vec, 0xff, sizeof(vec));
	ok = !mincore(p, 2 * HPAGE, vec);
	/* (after the call: check()'s arguments have no order of evaluation) */
	check(ok && pagemap_range_ok(p) && !(vec[0] & ~1) &&
	      vec[HPAGE / PG] == 1,
	      "the owner's mincore and whole-range pagemap read of the poisoned range (mincore: %d %d)",
	      vec[0], vec[HPAGE / PG]);

	/* 5. the entry-changing walkers stay out; the neighbour is intact */
	madvise(p, 2 * HPAGE, MADV_COLD);
	madvise(p, 2 * HPAGE, MADV_PAGEOUT);
	for (i = 1; i <= 4; i++) {
		char type[2] = { (char)('0' + i), 0 };

		write_file("/proc/self/clear_refs", type);
	}
	check(*(volatile char *)(p + HPAGE) == 2 &&
	      !(pagemap_of(p) & (PM_PRESENT | PM_SWAP)) &&
	      (pagemap_of(p + HPAGE) & PM_PRESENT),
	      "5. after MADV_COLD, MADV_PAGEOUT and clear_refs the owner reads the neighbour's tag, and the poisoned entry is still a hole");

	/* 6. */
	check_ok(region_unmap(fd, 0, 2 * HPAGE), errno,
		 "6. UNMAP of the poisoned object succeeds");
	check(!(pagemap_of(p) & (PM_PRESENT | PM_SWAP)) &&
	      !(pagemap_of(p + HPAGE) & (PM_PRESENT | PM_SWAP)),
	      "6. after UNMAP neither page is mapped");
out:
	if (p)
		munmap(p, A);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	write_file("/proc/sys/vm/nr_hugepages", "0");
out_dir:
	if (rmdir(dir))
		diag("cleanup: rmdir %s: %s", dir, errname(errno));
	return tap_done();
}

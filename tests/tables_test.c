// SPDX-License-Identifier: GPL-2.0
/*
 * tables_test: nobody but the host changes the region's shared page
 * tables, and nobody but the host and its attachers uses them.
 *
 * Usage: tables_test [DIR]		DIR defaults to /sys/fs/mshare
 *
 * Runs as root (it reserves huge pages and sets up regions); the attack
 * in 1 and the reader in 3 run as uid 65534.  Output is TAP; the exit status is 0 if every
 * check passed.
 *
 *   1. /proc/PID/clear_refs of a read-only attacher does not touch the
 *      region's entries: another attacher writes every 4 KiB and 2 MiB
 *      hugetlb page again without a fault.  (Before the hook, soft-dirty
 *      clearing was kept out only because its mmu notifier event parks
 *      the attacher's links first; clearing accessed bits, which sends
 *      none, walked into the host's entries, which no test can see.)
 *   2. a process that maps a placed hugetlbfs file 1 GiB-aligned builds
 *      page tables of its own: hugetlb never shares a PMD table between a
 *      host and a process (its faults count one per page touched; a
 *      shared table would have needed one fault for them all), which
 *      huge_pmd_unshare() would later free outside the host's protocol
 *   3. the same hugetlbfs file is refused (EBUSY) in a second region whose
 *      host could share tables with the first (equal flags, the same
 *      placement modulo 1 GiB), and alike twice in one region too (hugetlb
 *      pairs tables within an mm, and a table the host keeps under one
 *      placement would stay reachable from the other); it may be placed
 *      twice in one region, and in the second, at another alignment, in
 *      the second once the first let go, and a reader's read-only
 *      placement (uid 65534) never blocks the owner's
 *   4. migrate_pages() and move_pages() of a read-only attacher (uid
 *      65534) leave the owner's pages on their node: region pages are
 *      mapped once, by the host, so to the kernel they never look shared,
 *      and without the module's rule any attacher moved them between nodes
 *      without CAP_SYS_NICE (needs two NUMA nodes; make check boots them)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mempolicy.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "region.h"
#include "tap.h"
#include "util.h"

#define A		REGION_ALIGN
#define RW		(PROT_READ | PROT_WRITE)
#define HPAGE		(2UL << 20)
#define GIB		(1UL << 30)
#define SMALL		(64 * 4096UL)	/* the 4 KiB object: 64 pages */
#define PG		4096UL
#define NHUGE		2		/* huge pages of the hugetlb object */
#define TOUCH		4		/* huge pages touched in 2 */

static const char *mnt = "/sys/fs/mshare";
static char dir[PATH_MAX];		/* <mnt>/tables_<pid> */

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* Write n bytes at p and count the faults that took */
static long write_faults(char *p, unsigned long n, char v)
{
	long before = minflt();

	memset(p, v, n);
	return minflt() - before;
}

/* --------------------------------------------------- 1. clear_refs */

/*
 * Child (uid 65534): attach read-only, read every page (links the slot),
 * then write every clear_refs type: accessed bits (1-3), soft-dirty (4),
 * the peak RSS (5).
 */
static int clear_refs_child(void *varg)
{
	const char *path = varg;
	int fd = open(path, O_RDONLY);
	volatile char sum = 0;
	const char *t;
	unsigned long i;
	char *p;

	if (fd < 0)
		return 100;
	p = region_attach(fd, A, PROT_READ);
	if (!p)
		return 101;
	/* setuid() made it undumpable: /proc/self would be root's */
	prctl(PR_SET_DUMPABLE, 1);
	for (t = "12345"; *t; t++) {
		char type[2] = { *t, 0 };

		for (i = 0; i < SMALL; i += 4096)
			sum += p[i];
		for (i = 0; i < NHUGE; i++)
			sum += p[HPAGE + i * HPAGE];
		if (write_file("/proc/self/clear_refs", type))
			return 102;
	}
	return 0;
}

static void test_clear_refs(void)
{
	char path[PATH_MAX];
	long f4, fh;
	int fd, st;
	char *p = NULL;

	diag("1. clear_refs of a read-only attacher (uid 65534)");
	fd = region_make(dir, "refs", 0644, A, path);
	if (!check(fd >= 0 && !region_place_anon(fd, 0, SMALL) &&
		   !region_place(fd, HPAGE, NHUGE * HPAGE, 0, RW,
				 MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS |
				 MAP_HUGETLB | MAP_POPULATE, -1),
		   "clear_refs: a 4 KiB and a 2 MiB hugetlb object placed"))
		goto out;
	p = region_attach(fd, A, RW);
	if (!check(p != NULL, "clear_refs: attached read-write"))
		goto out;
	write_faults(p, SMALL, 1);
	write_faults(p + HPAGE, NHUGE * HPAGE, 2);
	st = run_as(NOBODY, clear_refs_child, path);
	if (!check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "clear_refs: the read-only attacher wrote types 1 to 5 to its clear_refs"))
		diag("child: %s", wait_str(st));
	f4 = write_faults(p, SMALL, 3);
	fh = write_faults(p + HPAGE, NHUGE * HPAGE, 4);
	if (!check(f4 == 0 && fh == 0,
		   "clear_refs: the writer writes every page again without a fault (nothing was write-protected)"))
		diag("faults: %ld on 4 KiB pages, %ld on huge pages", f4, fh);
	/*
	 * The writer's own soft-dirty clearing: its invalidation parks the
	 * link (one fault relinks it), and nothing below is write-protected.
	 */
	if (!check(!write_file("/proc/self/clear_refs", "4"),
		   "clear_refs: the writer's own clear_refs succeeds"))
		goto out;
	f4 = write_faults(p, SMALL, 5);
	fh = write_faults(p + HPAGE, NHUGE * HPAGE, 6);
	if (!check(f4 + fh <= 1,
		   "clear_refs: after its own, the writer faults at most once (the relink)"))
		diag("faults: %ld on 4 KiB pages, %ld on huge pages", f4, fh);
	check(p[SMALL - 1] == 5 && p[HPAGE + NHUGE * HPAGE - 1] == 6,
	      "clear_refs: the data is intact");
out:
	if (p)
		munmap(p, A);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
}

/* ------------------------------------- 2. and 3. hugetlb PMD sharing */

/* A fresh 1 GiB hugetlbfs file (no pages reserved or allocated) */
static int huge_file(void)
{
	int fd = memfd_create("tables", MFD_HUGETLB);

	if (fd >= 0 && ftruncate(fd, GIB)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Place the hugetlbfs file hf at region offset roff, 1 GiB, no reserve */
static int place_huge(int fd, uint64_t roff, int hf)
{
	return region_place(fd, roff, GIB, 0, RW,
			    MAP_SHARED | MAP_FIXED | MAP_NORESERVE, hf);
}

/* Map hf 1 GiB-aligned, as a process of its own would; NULL on failure */
static char *map_huge_aligned(int hf)
{
	char *r = mmap(NULL, 2 * GIB, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *a, *m;

	if (r == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)r + GIB - 1) & ~(GIB - 1));
	m = mmap(a, GIB, RW, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, hf, 0);
	if (a > r)
		munmap(r, a - r);
	if (a + GIB < r + 2 * GIB)
		munmap(a + GIB, r + 2 * GIB - (a + GIB));
	return m == MAP_FAILED ? NULL : m;
}

static void test_pmd_share(void)
{
	char path[PATH_MAX];
	int fd, hf = -1;
	char *p = NULL, *m = NULL;
	long before, faults;
	int i, ok = 1;

	diag("2. hugetlb PMD tables are never shared with a process");
	hf = huge_file();
	fd = region_make(dir, "share", 0600, A, path);
	if (!check(hf >= 0 && fd >= 0 && !place_huge(fd, 0, hf),
		   "pmd share: a 1 GiB hugetlbfs file placed at a 1 GiB-aligned offset"))
		goto out;
	p = region_attach(fd, A, RW);
	if (!check(p != NULL, "pmd share: attached"))
		goto out;
	for (i = 0; i < TOUCH; i++)
		p[i * HPAGE] = (char)(i + 1);
	m = map_huge_aligned(hf);
	if (!check(m != NULL, "pmd share: the file mapped 1 GiB-aligned in this process"))
		goto out;
	before = minflt();
	for (i = 0; i < TOUCH; i++)
		ok &= m[i * HPAGE] == (char)(i + 1);
	faults = minflt() - before;
	check(ok, "pmd share: the process reads what the attacher wrote");
	if (!check(faults == TOUCH,
		   "pmd share: the process faulted once per huge page (tables of its own)"))
		diag("%ld faults for %d pages (1: it used the host's PMD table)",
		     faults, TOUCH);
out:
	if (m)
		munmap(m, GIB);
	if (p)
		munmap(p, A);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	if (hf >= 0)
		close(hf);
}

/* Child (uid 65534): place the file at varg read-only in a region of its own */
static int reader_child(void *varg)
{
	const char *file = varg;
	char path[PATH_MAX];
	int fd, hf;

	hf = open(file, O_RDONLY);
	fd = region_make(dir, "reader", 0600, A, path);
	if (hf < 0 || fd < 0)
		return 100;
	if (region_place(fd, 0, GIB, 0, PROT_READ,
			 MAP_SHARED | MAP_FIXED | MAP_NORESERVE, hf))
		return errno;
	return 0;	/* the region stays, holding the file */
}

static void test_two_regions(void)
{
	char p1[PATH_MAX], p2[PATH_MAX], p3[PATH_MAX], mp[PATH_MAX];
	char file[PATH_MAX + 8], rp[PATH_MAX + 8];
	int fd1 = -1, fd2 = -1, fd3 = -1, hf = -1, r, err, st;
	char *p = NULL;

	diag("3. a hugetlbfs file is placed in one region only (alike)");
	snprintf(mp, sizeof(mp), "/tmp/tables_huge_%d", (int)getpid());
	snprintf(file, sizeof(file), "%s/f", mp);
	if (!check(!mkdir(mp, 0755) &&
		   !mount("none", mp, "hugetlbfs", 0, "pagesize=2M") &&
		   (hf = open(file, O_RDWR | O_CREAT, 0644)) >= 0 &&
		   !ftruncate(hf, GIB),
		   "two regions: a 1 GiB file on a hugetlbfs mount, mode 0644"))
		goto out;
	fd1 = region_make(dir, "one", 0600, A, p1);
	fd2 = region_make(dir, "two", 0600, A, p2);
	fd3 = region_make(dir, "three", 0600, A, p3);
	if (!check(fd1 >= 0 && fd2 >= 0 && fd3 >= 0 &&
		   !place_huge(fd1, 0, hf),
		   "two regions: the file placed in the first"))
		goto out;
	r = place_huge(fd1, GIB, hf);
	err = errno;
	check_err(r, err, EBUSY,
		  "two regions: placing it alike again in the same region fails with EBUSY");
	r = place_huge(fd1, GIB + HPAGE, hf);
	check_ok(r, errno,
		 "two regions: and again in the same region at another offset modulo 1 GiB works");
	p = region_attach(fd1, A, RW);
	if (p)
		p[0] = 9;
	r = place_huge(fd2, 0, hf);
	err = errno;
	check_err(r, err, EBUSY, "two regions: placing it alike in the second fails with EBUSY");
	r = place_huge(fd2, HPAGE, hf);
	check_ok(r, errno, "two regions: placing it in the second at another offset modulo 1 GiB works (no table could pair)");
	check(p && p[0] == 9 && p[GIB + HPAGE] == 9,
	      "two regions: the first region still holds it");
	r = region_unmap(fd1, 0, 3 * GIB);
	check_ok(r, errno, "two regions: the first region unmaps it");
	r = region_unmap(fd2, 0, 2 * GIB);
	check_ok(r, errno, "two regions: so does the second");
	/* A reader's placement (other flags) must not lock the owner out. */
	st = run_as(NOBODY, reader_child, file);
	if (!check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "two regions: uid 65534 places the file read-only in a region of its own"))
		diag("child: %s%s%s", wait_str(st),
		     WIFEXITED(st) && WEXITSTATUS(st) < 100 ? ", " : "",
		     WIFEXITED(st) && WEXITSTATUS(st) < 100 ?
		     errname(WEXITSTATUS(st)) : "");
	r = place_huge(fd3, 0, hf);
	check_ok(r, errno, "two regions: the owner still places it read-write in its own region");
	snprintf(rp, sizeof(rp), "%s/reader", dir);
	unlink(rp);	/* the reader's region, and with it its placement */
	r = region_unmap(fd3, 0, GIB);
	check_ok(r, errno, "two regions: the owner unmaps it");
	r = place_huge(fd2, 0, hf);
	check_ok(r, errno, "two regions: now the second may place it alike");
out:
	if (p)
		munmap(p, A);
	if (fd1 >= 0)
		close(fd1);
	if (fd2 >= 0)
		close(fd2);
	if (fd3 >= 0)
		close(fd3);
	unlink(p1);
	unlink(p2);
	unlink(p3);
	if (hf >= 0)
		close(hf);
	unlink(file);
	umount(mp);
	rmdir(mp);
}

/* How many of the n pages at p are on node 0 and on node 1 (a query). */
static int pages_on_nodes(char *p, unsigned long n, int *cnt)
{
	void *pages[512];
	int status[512];
	unsigned long i;

	cnt[0] = cnt[1] = 0;
	for (i = 0; i < n; i++)
		pages[i] = p + i * PG;
	if (syscall(SYS_move_pages, 0, n, pages, NULL, status, 0))
		return -1;
	for (i = 0; i < n; i++)
		if (status[i] == 0 || status[i] == 1)
			cnt[status[i]]++;
	return 0;
}

struct mover_arg {
	const char *path;
	int to;				/* the node the owner's pages are not on */
};

/* uid 65534, read-only: try to move the region's pages to node to. */
static int mover_child(void *varg)
{
	const struct mover_arg *a = varg;
	unsigned long from = 1UL << (1 - a->to), to = 1UL << a->to, i;
	int fd = open(a->path, O_RDONLY), nodes[512], status[512];
	void *pages[512];
	char *b;

	b = fd < 0 ? NULL : region_attach(fd, REGION_ALIGN, PROT_READ);
	if (!b)
		return 2;
	for (i = 0; i < 512; i++) {
		(void)*(volatile char *)(b + i * PG);	/* links the slot */
		pages[i] = b + i * PG;
		nodes[i] = a->to;
	}
	syscall(SYS_migrate_pages, 0, 8 * sizeof(long), &from, &to);
	syscall(SYS_move_pages, 0, 512, pages, nodes, status, MPOL_MF_MOVE);
	return 0;
}

static void test_migrate(void)
{
	char path[PATH_MAX];
	struct mover_arg a;
	int fd, before[2], after[2], st;
	char *own;

	if (access("/sys/devices/system/node/node1", F_OK)) {
		skip("one NUMA node", "4: migration by a read-only attacher");
		return;
	}
	fd = region_make(dir, "migrate", 0644, REGION_ALIGN, path);
	if (fd < 0 || region_place_anon(fd, 0, 512 * PG)) {
		check(0, "4: set-up: a region with 2 MiB of anonymous memory: %s",
		      errname(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	own = region_attach(fd, REGION_ALIGN, PROT_READ | PROT_WRITE);
	if (!own) {
		check(0, "4: set-up: the owner attaches: %s", errname(errno));
		close(fd);
		unlink(path);
		return;
	}
	memset(own, 0x4d, 512 * PG);
	if (pages_on_nodes(own, 512, before))
		diag("4: move_pages query: %s", errname(errno));
	a.path = path;
	a.to = before[0] >= before[1] ? 1 : 0;
	st = run_as(NOBODY, mover_child, &a);
	pages_on_nodes(own, 512, after);
	check(after[0] == before[0] && after[1] == before[1] &&
	      before[0] + before[1] == 512,
	      "4: a read-only attacher's migrate_pages and move_pages leave the owner's pages on their node (node 0: %d -> %d, node 1: %d -> %d; %s)",
	      before[0], after[0], before[1], after[1], wait_str(st));
	munmap(own, REGION_ALIGN);
	close(fd);
	unlink(path);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		mnt = argv[1];
	setvbuf(stdout, NULL, _IONBF, 0);
	if (region_dir(mnt, "tables", dir))
		return tap_done();
	if (write_file("/proc/sys/vm/nr_hugepages", "8")) {
		check(0, "set-up: reserve 8 huge pages: %s", errname(errno));
		return tap_done();
	}
	test_clear_refs();
	test_pmd_share();
	test_two_regions();
	test_migrate();
	write_file("/proc/sys/vm/nr_hugepages", "0");
	if (rmdir(dir))
		diag("cleanup: rmdir %s: %s", dir, errname(errno));
	return tap_done();
}

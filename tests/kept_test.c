// SPDX-License-Identifier: GPL-2.0
/*
 * kept_test: fast host changes (Rule K, src/tables.c).  A live host keeps
 * every page table it ever had, so a change takes no attacher lock and
 * cuts no link; the tables go when the region does.
 *
 * Usage: kept_test [DIR]		DIR defaults to /sys/fs/mshare
 *
 * Runs as root (it switches the fast_change parameter and reserves huge
 * pages); the racing readers of 5 run as uid 65534.  Output is TAP; the
 * exit status is 0 if every check passed.
 *
 *   1. the load-time self-test passed: fast_change reads Y
 *   2. a change of one object leaves another object's link alone: the
 *      attacher re-reads it without a fault (exactly 0); with
 *      fast_change=0 the same change cuts the link (at least 1 fault)
 *   3. UNMAP keeps the host's tables (PageTables does not drop by the
 *      up to 128 KiB of PTE tables of a touched 64 MiB object: fewer where
 *      shmem maps large folios by PMD, as 7.3 may), on the slow path too; and
 *      destroying the region gives everything back (PageTables within
 *      16 KiB of where it was before the region), with objects and holes
 *      in the region at the end
 *   4. hugetlb over kept tables: a touched 4 MiB object, unmapped (its
 *      PTE tables kept), then a hugetlb object at the same offset; and a
 *      hugetlb object placed with MAP_FIXED straight over a touched one:
 *      both place, read back what was written, and the kernel log stays
 *      clean (a hugetlb fault on a kept PTE table is a kernel BUG)
 *   5. walkers against changes: uid 65534 attaches read-only and reads
 *      the region through /proc/self/mem, process_vm_readv(), pagemap,
 *      smaps, mincore and write() from the mapping, while the owner
 *      replaces the objects (memfd, anonymous, hugetlb) for 10 s; every
 *      tag read is one the owner wrote (or zero), and the log is clean
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "region.h"
#include "tap.h"
#include "util.h"

#define A		REGION_ALIGN
#define RW		(PROT_READ | PROT_WRITE)
#define PG		4096UL
#define HPAGE		(2UL << 20)
#define MIB		(1UL << 20)
#define OBJ		(4 * MIB)	/* one object of 5 */
#define NOBJ		4
#define PARAM		"/sys/module/mshare/parameters/fast_change"

static const char *mnt = "/sys/fs/mshare";
static char dir[PATH_MAX];

static int set_fast(int on)
{
	return write_file(PARAM, on ? "Y" : "N");
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/*
 * PageTables of /proc/meminfo, in KiB; -1 on failure.  Per-CPU counter
 * deltas are folded in first (vm.stat_refresh): unfolded, they hide up to
 * hundreds of KiB.
 */
static long page_tables_kb(void)
{
	char buf[8192], *p;
	ssize_t n;

	write_file("/proc/sys/vm/stat_refresh", "1");
	n = read_file("/proc/meminfo", buf, sizeof(buf) - 1);

	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strstr(buf, "\nPageTables:");
	return p ? strtol(p + 12, NULL, 10) : -1;
}

/* Wait up to 3 s for PageTables to come within slack KiB of want. */
static long page_tables_settle(long want, long slack)
{
	long now = page_tables_kb();
	int i;

	for (i = 0; i < 30 && now > want + slack; i++) {
		usleep(100 * 1000);
		now = page_tables_kb();
	}
	return now;
}

static void test_param(void)
{
	char buf[8] = "";

	diag("1. the self-test at load");
	if (read_file(PARAM, buf, sizeof(buf)) <= 0)
		buf[0] = '?';
	check(buf[0] == 'Y',
	      "fast_change is Y (the load-time self-test kept tables): %c",
	      buf[0]);
}

/* One change of the object at roff: UNMAP, then CREATE (anonymous). */
static int change(int fd, uint64_t roff, uint64_t len)
{
	if (region_unmap(fd, roff, len))
		return -1;
	return region_place_anon(fd, roff, len);
}

static void test_links(void)
{
	char path[PATH_MAX];
	volatile char *p = NULL;
	long before, faults;
	int fd;

	diag("2. links survive a fast change");
	fd = region_make(dir, "links", 0600, A, path);
	if (!check(fd >= 0 && !region_place_anon(fd, 0, OBJ) &&
		   !region_place_anon(fd, 64 * MIB, OBJ) &&
		   (p = (volatile char *)region_attach(fd, A, RW)) != NULL,
		   "links: two objects placed and attached"))
		goto out;
	p[0] = 1;
	p[64 * MIB] = 2;
	check(!change(fd, 64 * MIB, OBJ), "links: the second object replaced");
	before = minflt();
	(void)p[0];
	faults = minflt() - before;
	check(faults == 0 && p[0] == 1,
	      "links: the first object reads again with 0 faults (%ld)", faults);
	if (!check(!set_fast(0), "links: fast_change=0"))
		goto out;
	check(!change(fd, 64 * MIB, OBJ), "links: slow: the second replaced");
	before = minflt();
	(void)p[0];
	faults = minflt() - before;
	check(faults >= 1 && p[0] == 1,
	      "links: slow: the change cut the link, the first reads after %ld fault(s)",
	      faults);
	check(!set_fast(1), "links: fast_change=1 again");
out:
	set_fast(1);
	if (p)
		munmap((void *)p, A);
	if (fd >= 0)
		close(fd);
	unlink(path);
}

/*
 * Touch 64 MiB through an attachment, UNMAP it; returns PageTables
 * before the UNMAP and after in *kept.
 */
static long touch_and_unmap(int fd, long *kept)
{
	char *p = region_attach(fd, A, RW);
	long with;
	size_t i;

	if (!p || region_place_anon(fd, 0, 64 * MIB))
		return -1;
	for (i = 0; i < 64 * MIB; i += PG)
		p[i] = 1;
	munmap(p, A);	/* the attacher's own side: nothing of its own */
	with = page_tables_kb();
	if (region_unmap(fd, 0, 64 * MIB))
		return -1;
	*kept = page_tables_kb();
	return with;
}

static void test_tables(void)
{
	char path[PATH_MAX], path2[PATH_MAX];
	long base, with, kept, after;
	int fd = -1, fd2 = -1;

	diag("3. tables kept by UNMAP, freed at destroy");
	base = page_tables_kb();
	fd = region_make(dir, "tables", 0600, A, path);
	if (!check(fd >= 0 && base >= 0, "tables: region made (PageTables %ld kB)",
		   base))
		goto out;
	with = touch_and_unmap(fd, &kept);
	if (!check(with >= 0, "tables: 64 MiB touched and unmapped"))
		goto out;
	check(with >= base + 64 && kept >= with - 8,
	      "tables: the UNMAP kept the host's tables (%ld kB before it, %ld kB after, %ld kB at the start)",
	      with, kept, base);
	close(fd);
	fd = -1;
	unlink(path);
	after = page_tables_settle(base, 16);
	check(after <= base + 16,
	      "tables: destroying the region freed them (%ld kB, %ld kB at the start)",
	      after, base);

	if (!check(!set_fast(0), "tables: fast_change=0"))
		goto out;
	base = page_tables_kb();
	fd2 = region_make(dir, "tables2", 0600, A, path2);
	with = fd2 >= 0 ? touch_and_unmap(fd2, &kept) : -1;
	check(with >= base + 64 && kept >= with - 8,
	      "tables: slow: the UNMAP kept them too (%ld kB before it, %ld kB after)",
	      with, kept);
	/* objects and holes at the end: the release fills the holes */
	check(fd2 >= 0 && !region_place_anon(fd2, 16 * MIB, MIB) &&
	      !region_place_anon(fd2, 40 * MIB, 3 * MIB),
	      "tables: slow: two objects placed among the kept tables");
	set_fast(1);
	close(fd2);
	fd2 = -1;
	unlink(path2);
	after = page_tables_settle(base, 16);
	check(after <= base + 16, "tables: slow: destroy (%ld kB, %ld kB at the start)",
	      after, base);
out:
	set_fast(1);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	if (fd2 >= 0) {
		close(fd2);
		unlink(path2);
	}
}

static int place_hugetlb(int fd, uint64_t roff, uint64_t len)
{
	return region_place(fd, roff, len, 0, RW,
			    MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS | MAP_HUGETLB,
			    -1);
}

/* Tag each huge page of a fresh hugetlb object; the rest must read 0. */
static int huge_readback(volatile char *p, char tag)
{
	size_t i;
	int ok = 1;

	for (i = 0; i < OBJ; i += HPAGE)
		p[i] = tag;
	for (i = 0; i < OBJ; i += PG)
		ok &= p[i] == (i % HPAGE ? 0 : tag);
	return ok;
}

static void test_hugetlb(void)
{
	char path[PATH_MAX], buf[16] = "";
	char *p = NULL;
	size_t i;
	int fd = -1;

	diag("4. hugetlb over kept tables");
	if (write_file("/proc/sys/vm/nr_hugepages", "8") ||
	    read_file("/proc/sys/vm/nr_hugepages", buf, sizeof(buf)) < 0 ||
	    atoi(buf) < 4) {
		check(0, "hugetlb: reserve 8 huge pages (got %d)", atoi(buf));
		return;
	}
	fd = region_make(dir, "huge", 0600, A, path);
	if (!check(fd >= 0 && !region_place_anon(fd, 0, OBJ) &&
		   (p = region_attach(fd, A, RW)) != NULL,
		   "hugetlb: a 4 MiB object placed and attached"))
		goto out;
	for (i = 0; i < OBJ; i += PG)
		p[i] = 3;
	check(!region_unmap(fd, 0, OBJ), "hugetlb: touched, then unmapped");
	check_ok(place_hugetlb(fd, 0, OBJ), errno,
		 "hugetlb: a 4 MiB hugetlb object at the same offset");
	check(huge_readback(p, 4), "hugetlb: it reads back what was written");
	check(!region_unmap(fd, 0, OBJ) && !region_place_anon(fd, 0, OBJ),
	      "hugetlb: unmapped, a 4 KiB object again");
	for (i = 0; i < OBJ; i += PG)
		p[i] = 5;
	check_ok(place_hugetlb(fd, 0, OBJ), errno,
		 "hugetlb: a hugetlb object with MAP_FIXED over the touched one");
	check(huge_readback(p, 6), "hugetlb: it reads back what was written");
out:
	if (p)
		munmap(p, A);
	if (fd >= 0)
		close(fd);
	unlink(path);
	write_file("/proc/sys/vm/nr_hugepages", "0");
}

/*
 * 5: the readers.  Each object's first 8 bytes hold a tag the owner wrote
 * (TAG_BASE + its generation), or are zero before the first write.
 */
#define TAG_BASE	0x6b65707400000000ULL
#define RACE_SECS	10

static int tag_ok(uint64_t v)
{
	return v == 0 || (v & 0xffffffff00000000ULL) == TAG_BASE;
}

struct race {
	const char *path;
	volatile int *stop;
	volatile long *reads, *bad;
};

static void race_reader(int fd, int kind, struct race *r)
{
	char *p = region_attach(fd, A, PROT_READ);
	int mem = open("/proc/self/mem", O_RDONLY);
	int pm = open("/proc/self/pagemap", O_RDONLY);
	int null = memfd_create("kept_sink", 0);
	unsigned char vec[OBJ / PG];
	char buf[4096];
	uint64_t v, ent[64];
	unsigned int i = 0;

	if (!p || mem < 0 || pm < 0 || null < 0) {
		diag("reader %d: set-up failed (attach %s, mem %d, pagemap %d, sink %d): %s",
		     kind, p ? "ok" : "failed", mem, pm, null, errname(errno));
		_exit(2);
	}
	while (!*r->stop) {
		char *o = p + (i++ % NOBJ) * 64 * MIB;
		struct iovec lv = { &v, 8 }, rv = { o, 8 };
		int got = 0;

		v = 0;
		switch (kind) {
		case 0:
			got = pread(mem, &v, 8, (off_t)(uintptr_t)o) == 8;
			break;
		case 1:
			got = process_vm_readv(getpid(), &lv, 1, &rv, 1, 0) == 8;
			break;
		case 2:
			if (pread(pm, ent, sizeof(ent),
				  (off_t)((uintptr_t)o / PG) * 8) < 0)
				__atomic_add_fetch(r->bad, 1, __ATOMIC_RELAXED);
			break;
		case 3: {
			int s = open("/proc/self/smaps", O_RDONLY);

			while (s >= 0 && read(s, buf, sizeof(buf)) > 0)
				;
			if (s >= 0)
				close(s);
			break;
		}
		case 4:
			mincore(o, OBJ, vec);
			break;
		case 5:
			/* copy_from_user of the mapping: a fault, or EFAULT */
			if (write(null, o, 8) == 8 && pread(null, &v, 8, 0) == 8)
				got = 1;
			lseek(null, 0, SEEK_SET);
			break;
		}
		if (got && !tag_ok(v))
			__atomic_add_fetch(r->bad, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(r->reads, 1, __ATOMIC_RELAXED);
	}
	_exit(0);
}

static int race_child(void *arg)
{
	struct race *r = arg;
	int fd = open(r->path, O_RDONLY);
	pid_t pid[6];
	int k, st, err = 0;

	/* setuid() made us undumpable: /proc/self/mem would be root's */
	prctl(PR_SET_DUMPABLE, 1);

	if (fd < 0) {
		diag("readers: open %s: %s", r->path, errname(errno));
		return 1;
	}
	for (k = 0; k < 6; k++) {
		pid[k] = fork();
		if (pid[k] == 0)
			race_reader(fd, k, r);
	}
	for (k = 0; k < 6; k++)
		if (pid[k] < 0 || waitpid(pid[k], &st, 0) < 0 ||
		    !WIFEXITED(st) || WEXITSTATUS(st))
			err = 1;
	return err;
}

static void test_race(void)
{
	char path[PATH_MAX], buf[16] = "";
	struct race r = { .path = path };
	volatile int *shared;
	uint64_t gen = 0, n;
	unsigned int kinds[3] = { 0 };
	time_t end;
	char *p = NULL;
	int fd = -1, memfd = -1, st, k;
	pid_t child;

	diag("5. walkers in a read-only attacher against changes");
	shared = mmap(NULL, PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return;
	r.stop = shared;
	r.reads = (volatile long *)(shared + 16);
	r.bad = (volatile long *)(shared + 32);
	write_file("/proc/sys/vm/nr_hugepages", "8");
	read_file("/proc/sys/vm/nr_hugepages", buf, sizeof(buf));
	fd = region_make(dir, "race", 0644, A, path);
	memfd = memfd_create("kept", 0);
	if (!check(fd >= 0 && memfd >= 0 && !ftruncate(memfd, OBJ) &&
		   (p = region_attach(fd, A, RW)) != NULL,
		   "race: region (0644) and a memfd"))
		goto out;
	for (k = 0; k < NOBJ; k++)
		region_place_anon(fd, k * 64 * MIB, OBJ);
	child = fork();
	if (child == 0)
		_exit(run_as(NOBODY, race_child, &r) == 0 ? 0 : 1);
	end = time(NULL) + RACE_SECS;
	while (time(NULL) < end) {
		uint64_t roff = (gen % NOBJ) * 64 * MIB;
		int kind = (gen / NOBJ) % 3, err;
		size_t i;

		region_unmap(fd, roff, OBJ);
		if (kind == 0)
			err = region_place(fd, roff, OBJ, 0, RW,
					   MAP_SHARED | MAP_FIXED, memfd);
		else if (kind == 1 || atoi(buf) < 2)
			err = region_place_anon(fd, roff, OBJ);
		else
			err = region_place(fd, roff, OBJ, 0, RW,
					   MAP_SHARED | MAP_FIXED |
					   MAP_ANONYMOUS | MAP_HUGETLB, -1);
		if (!err) {
			kinds[kind]++;
			for (i = 0; i < OBJ; i += 64 * PG)
				*(uint64_t *)(p + roff + i) = TAG_BASE + gen;
		}
		gen++;
	}
	*r.stop = 1;
	n = gen;
	st = 0;
	waitpid(child, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "race: the readers ran and exited (%s)", wait_str(st));
	check(*r.reads > 1000 && *r.bad == 0,
	      "race: %ld reads over %llu changes (memfd %u, anonymous %u, hugetlb %u), %ld bad",
	      *r.reads, (unsigned long long)n, kinds[0], kinds[1], kinds[2],
	      *r.bad);
out:
	if (p)
		munmap(p, A);
	if (memfd >= 0)
		close(memfd);
	if (fd >= 0)
		close(fd);
	unlink(path);
	write_file("/proc/sys/vm/nr_hugepages", "0");
}

int main(int argc, char **argv)
{
	if (argc > 1)
		mnt = argv[1];
	setvbuf(stdout, NULL, _IONBF, 0);
	if (region_dir(mnt, "kept", dir))
		return tap_done();
	test_param();
	test_links();
	test_tables();
	test_hugetlb();
	test_race();
	rmdir(dir);
	return tap_done();
}

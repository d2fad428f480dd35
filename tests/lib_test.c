// SPDX-License-Identifier: GPL-2.0
/*
 * lib_test: libmshare (include/mshare.h, linked from lib/libmshare.a) and
 * its LD_PRELOAD shim libmshare-preload.so.
 *
 * Usage: lib_test [DIR]		DIR defaults to /sys/fs/mshare
 *	  lib_test --peer DIR NAME	(the unrelated process of part 8)
 *
 * Runs as root in the test guest: it mounts a second msharefs and sets
 * vm.nr_hugepages.  The shim checks run preload_test and the shim from the
 * directory of this program.
 *
 *   1. mount points: mshare_align of a mount and of a directory in one,
 *      -ENODEV for a directory without msharefs from every call that
 *      takes one; a second mount
 *   2. mshare_create: rounding to the alignment, mode, O_EXCL, bad sizes,
 *      nothing left behind on failure
 *   3. mshare_open, mshare_size: access modes, close-on-exec, errors
 *   4. mshare_place_anon, _file, _hugetlb: objects and every refusal
 *      (-EBADF for a read-only region, alignment, flags, page sizes)
 *   5. mshare_attach, mshare_detach: any address, fixed, read-only, the
 *      objects' data at base + offset, errors
 *   6. mshare_unmap: refusals, SIGBUS after it, a new object is zeroed
 *   7. mshare_unlink: the region lives on while it is held
 *   8. sharing with a forked child and with an unrelated process
 *   9. mshare_strerror: the C library's text plus the module's reasons
 *  10. the preload shim: a 128 MiB shared anonymous mapping becomes a
 *      region (fork, /proc/self/maps, munmap, refusals said once on
 *      stderr), MAP_HUGETLB, threads, the directory (uid 65534 in its own
 *      directory of another mount) and threshold settings, the fallbacks (no msharefs, a malformed threshold)
 *      that say one line and give a working plain mapping
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mshare.h"
#include "tap.h"
#include "util.h"

#define A		549755813888ULL		/* 512 GiB */
#define KIB		1024ULL
#define MIB		(1024 * KIB)
#define GIB		(1024 * MIB)
#define RW		(PROT_READ | PROT_WRITE)
#define NOT_MSHARE	"/tmp"
#define MISSING		"/tmp/lib_test_missing"
#define MNT2		"/tmp/lib_test_m2"
#define PLAIN		"/tmp/lib_test_plain"
#define NR_HUGE		"/proc/sys/vm/nr_hugepages"
#define NOBODY		65534			/* an unprivileged user */

static const char *mnt = MSHARE_MOUNT;
static char sub[64];		/* this run's directory in the mount */
static uint64_t page;
static int rw = -1, ro = -1, unsized = -1, memfd = -1;
static char *base, *base2, *robase;
static int huge_ok;

/* sub/leaf: a name in this run's directory (used at once, not kept) */
static const char *nm(const char *leaf)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "%s/%s", sub, leaf);
	return buf;
}

/* A library call returned -want */
static int check_fail(long ret, int want, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vcheck(ret == -want, fmt, ap);
	va_end(ap);
	if (ret != -want)
		diag_err(ret < 0 ? -1 : ret, ret < 0 ? (int)-ret : 0, want, 0);
	return ret == -want;
}

/* A library call succeeded (returned >= 0) */
static int check_lib(long ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vcheck(ret >= 0, fmt, ap);
	va_end(ap);
	if (ret < 0)
		diag("failed: %s", mshare_strerror((int)ret));
	return ret >= 0;
}

static int exists(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* The signal a child dies of when it reads (or writes) addr; 0 if none */
static int touch_signal(volatile char *addr, int write)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		if (write)
			*addr = 1;
		else
			(void)*addr;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

/* Every byte of [p, p + len) is v */
static int all(const char *p, uint64_t len, char v)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

/* ------------------------------------------------------- 1. mounts */

static void test_mounts(void)
{
	char info[64], path[PATH_MAX];
	int64_t align;
	int fd;

	diag("---- 1. mount points");
	align = mshare_align(mnt);
	snprintf(path, sizeof(path), "%s/mshare_info", mnt);
	if (read_file(path, info, sizeof(info)) < 0)
		snprintf(info, sizeof(info), "?");
	check(align == (int64_t)A && (uint64_t)align == strtoull(info, NULL, 10),
	      "mshare_align(%s) is 512 GiB, what mshare_info holds (%lld)",
	      mnt, (long long)align);
	if (!strcmp(mnt, MSHARE_MOUNT))
		check(mshare_align(NULL) == align,
		      "mshare_align(NULL) reads " MSHARE_MOUNT);
	snprintf(path, sizeof(path), "%s/%s", mnt, sub);
	check(mshare_align(path) == align,
	      "mshare_align of a directory in the mount finds mshare_info in its root");
	fd = mshare_create(path, "r", 1, 0600);
	check(fd >= 0 && exists(path, "r"),
	      "mshare_create with a directory in the mount as mnt");
	if (fd >= 0)
		close(fd);
	check_lib(mshare_unlink(path, "r"), "mshare_unlink there");
	check_fail(mshare_align(NOT_MSHARE), ENODEV,
		   "mshare_align(" NOT_MSHARE "): ENODEV, no msharefs there");
	check_fail(mshare_align(MISSING), ENODEV,
		   "mshare_align of a missing directory: ENODEV");
	check_fail(mshare_create(NOT_MSHARE, "lib_test_r", A, 0600), ENODEV,
		   "mshare_create in " NOT_MSHARE ": ENODEV");
	check(!exists(NOT_MSHARE, "lib_test_r"),
	      "... and it created no file there");
	check_fail(mshare_open(MISSING, "r", O_RDWR), ENODEV,
		   "mshare_open in a missing directory: ENODEV");
	check_fail(mshare_unlink(NOT_MSHARE, "r"), ENODEV,
		   "mshare_unlink in " NOT_MSHARE ": ENODEV");
	check(strstr(mshare_strerror(-ENODEV), "msharefs") &&
	      strstr(mshare_strerror(-ENODEV), "module loaded"),
	      "mshare_strerror(-ENODEV) says msharefs is not mounted and asks whether the module is loaded");

	/* Any msharefs mount will do: a second, separate instance. */
	if (!check((mkdir(MNT2, 0755) == 0 || errno == EEXIST) &&
		   mount("msharefs", MNT2, "msharefs", 0, NULL) == 0,
		   "mount a second msharefs on " MNT2))
		return;
	check(mshare_align(MNT2) == (int64_t)A, "mshare_align(" MNT2 ")");
	fd = mshare_create(MNT2, "r", 1, 0600);
	check(fd >= 0 && exists(MNT2, "r") && !exists(mnt, "r"),
	      "mshare_create(" MNT2 ", \"r\") makes the region in that mount only");
	if (fd >= 0)
		close(fd);
	check_lib(mshare_unlink(MNT2, "r"), "mshare_unlink(" MNT2 ", \"r\")");
	check(umount(MNT2) == 0, "the second mount unmounts");
	rmdir(MNT2);
}

/* ------------------------------------------------------- 2. create */

static void check_size(int fd, uint64_t want, const char *what)
{
	int64_t size = fd >= 0 ? mshare_size(fd) : fd;

	check(size == (int64_t)want, "%s: the region's size is %llu GiB (%lld)",
	      what, (unsigned long long)(want / GIB), (long long)size);
}

static void test_create(void)
{
	struct stat st;
	int fd;

	diag("---- 2. mshare_create");
	rw = mshare_create(mnt, nm("a"), 1, 0640);
	if (!check_lib(rw, "mshare_create(%s, 1 byte, 0640)", nm("a")))
		return;
	check_size(rw, A, "1 byte");
	if (fstat(rw, &st))
		st.st_mode = 0;
	check((st.st_mode & 0777) == 0640, "the region has mode 0640 (%o)",
	      st.st_mode & 0777);
	check((fcntl(rw, F_GETFL) & O_ACCMODE) == O_RDWR &&
	      (fcntl(rw, F_GETFD) & FD_CLOEXEC),
	      "the fd is read-write and close-on-exec");

	fd = mshare_create(mnt, nm("b"), A + 1, 0666);
	check_size(fd, 2 * A, "512 GiB + 1 byte");
	check(fd >= 0 && !fstat(fd, &st) && (st.st_mode & 0777) == 0644,
	      "mode 0666 less the umask 022 is 0644");
	if (fd >= 0)
		close(fd);
	fd = mshare_create(mnt, nm("c"), A, 0600);
	check_size(fd, A, "exactly 512 GiB");
	if (fd >= 0)
		close(fd);

	check_fail(mshare_create(mnt, nm("a"), A, 0600), EEXIST,
		   "a name that exists: EEXIST");
	check_fail(mshare_create(mnt, nm("z"), 0, 0600), EINVAL,
		   "size 0: EINVAL");
	check_fail(mshare_create(mnt, nm("z"), UINT64_MAX, 0600), EFBIG,
		   "size 2^64 - 1 (rounding overflows): EFBIG");
	check_fail(mshare_create(mnt, nm("z"), 1ULL << 62, 0600), EFBIG,
		   "size 2^62 (beyond the address space; the kernel refuses): EFBIG");
	check(!exists(mnt, nm("z")), "failed creates leave no region behind");
	check_fail(mshare_create(mnt, NULL, A, 0600), EINVAL, "name NULL: EINVAL");
	check_fail(mshare_create(mnt, "", A, 0600), EINVAL, "name \"\": EINVAL");
}

/* --------------------------------------------------- 3. open, size */

static void test_open(void)
{
	char path[PATH_MAX];
	int fd;

	diag("---- 3. mshare_open, mshare_size");
	ro = mshare_open(mnt, nm("a"), O_RDONLY);
	check(ro >= 0 && (fcntl(ro, F_GETFL) & O_ACCMODE) == O_RDONLY &&
	      (fcntl(ro, F_GETFD) & FD_CLOEXEC),
	      "mshare_open(O_RDONLY): a read-only, close-on-exec fd");
	check_size(ro, A, "the read-only fd");
	fd = mshare_open(mnt, nm("a"), O_RDWR);
	check(fd >= 0 && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR,
	      "mshare_open(O_RDWR): a read-write fd");
	if (fd >= 0)
		close(fd);
	check_fail(mshare_open(mnt, nm("a"), O_WRONLY), EINVAL,
		   "mshare_open(O_WRONLY): EINVAL");
	check_fail(mshare_open(mnt, nm("a"), O_RDWR | O_CREAT), EINVAL,
		   "mshare_open(O_RDWR | O_CREAT): EINVAL");
	check_fail(mshare_open(mnt, nm("none"), O_RDWR), ENOENT,
		   "a region that does not exist: ENOENT");

	/* A name that leads out of the mount is no region. */
	fd = open(PLAIN, O_RDWR | O_CREAT, 0600);
	if (fd >= 0)
		close(fd);
	check_fail(mshare_open(mnt, "../../../../.." PLAIN, O_RDWR), ENOTTY,
		   "mshare_open of \"../../../../.." PLAIN "\" (a tmpfs file): ENOTTY");
	unlink(PLAIN);

	memfd = memfd_create("lib_test", MFD_CLOEXEC);
	check_fail(mshare_size(memfd), ENOTTY, "mshare_size of a memfd: ENOTTY");
	check_fail(mshare_size(-1), EBADF, "mshare_size(-1): EBADF");
	snprintf(path, sizeof(path), "%s/%s", mnt, nm("u"));
	unsized = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	check(unsized >= 0 && mshare_size(unsized) == 0,
	      "mshare_size of a region without a size: 0");
}

/* ------------------------------------------------------ 4. place */

static void test_place_anon(void)
{
	check_lib(mshare_place_anon(rw, 0, 2 * MIB, RW, MAP_POPULATE),
		  "place_anon: 2 MiB at offset 0, MAP_POPULATE");
	check_fail(mshare_place_anon(ro, 0, 2 * MIB, RW, 0), EBADF,
		   "place_anon on a read-only fd: EBADF");
	check(strstr(mshare_strerror(-EBADF), "read-only") != NULL,
	      "mshare_strerror(-EBADF) names the read-only region");
	check_fail(mshare_place_anon(rw, 100, page, RW, 0), EINVAL,
		   "place_anon at an unaligned offset: EINVAL");
	check_fail(mshare_place_anon(rw, 8 * MIB, page + 1, RW, 0), EINVAL,
		   "place_anon of an unaligned size: EINVAL");
	check_fail(mshare_place_anon(rw, 8 * MIB, 0, RW, 0), EINVAL,
		   "place_anon of size 0: EINVAL");
	check_fail(mshare_place_anon(rw, A - page, 2 * page, RW, 0), EINVAL,
		   "place_anon beyond the end of the region: EINVAL");
	check_fail(mshare_place_anon(rw, 8 * MIB, page, RW, MAP_PRIVATE),
		   EINVAL, "place_anon with MAP_PRIVATE: EINVAL");
	check_fail(mshare_place_anon(rw, 8 * MIB, page, RW, MAP_HUGETLB),
		   EINVAL, "place_anon with MAP_HUGETLB in flags: EINVAL");
	check_fail(mshare_place_anon(rw, 8 * MIB, page, 0x10, 0), EINVAL,
		   "place_anon with an unknown prot bit: EINVAL");
	check_fail(mshare_place_anon(memfd, 0, page, RW, 0), ENOTTY,
		   "place_anon on a memfd: ENOTTY");
	check_fail(mshare_place_anon(unsized, 0, page, RW, 0), EINVAL,
		   "place_anon in a region without a size: EINVAL");
}

static void test_place_file(void)
{
	char buf[PATH_MAX];
	int i, rofd;

	/* Three pages of 'a', 'b', 'c'; pages 1 and 2 at offset 4 MiB. */
	for (i = 0; i < 3; i++) {
		memset(buf, 'a' + i, sizeof(buf));
		if (pwrite(memfd, buf, page, i * page) != (ssize_t)page)
			break;
	}
	check_lib(mshare_place_file(rw, 4 * MIB, 2 * page, RW, 0, memfd,
				    page),
		  "place_file: pages 1-2 of a memfd at offset 4 MiB");
	check_fail(mshare_place_file(rw, 4 * MIB, page, RW, 0, -1, 0), EBADF,
		   "place_file with fd -1: EBADF");
	check_fail(mshare_place_file(rw, 4 * MIB, page, RW, 0, 999, 0), EBADF,
		   "place_file with a closed fd: EBADF");
	check_fail(mshare_place_file(rw, 4 * MIB, page, RW, 0, memfd, 100),
		   EINVAL, "place_file at an unaligned file offset: EINVAL");
	check_fail(mshare_place_file(rw, 4 * MIB, page, RW, 0, memfd, -(off_t)page),
		   EINVAL, "place_file at a negative file offset: EINVAL");
	check_fail(mshare_place_file(ro, 4 * MIB, page, RW, 0, memfd, 0),
		   EBADF, "place_file on a read-only region fd: EBADF");
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", memfd);
	rofd = open(buf, O_RDONLY);
	check_fail(mshare_place_file(rw, 12 * MIB, page, RW, 0, rofd, 0),
		   EACCES, "place_file PROT_WRITE of a file opened read-only: EACCES");
	check_lib(mshare_place_file(rw, 12 * MIB, page, PROT_READ, 0, rofd, 0),
		  "place_file PROT_READ of it");
	close(rofd);
}

static void test_place_hugetlb(void)
{
	char nr[32];

	if (write_file(NR_HUGE, "80") || read_file(NR_HUGE, nr, sizeof(nr)) < 0 ||
	    atoi(nr) < 80) {
		skip("cannot reserve 80 huge pages", "place_hugetlb");
		return;
	}
	huge_ok = 1;
	check_lib(mshare_place_hugetlb(rw, GIB, 4 * MIB, RW, 0, 0),
		  "place_hugetlb: 4 MiB at 1 GiB, default page size");
	check_lib(mshare_place_hugetlb(rw, GIB + 4 * MIB, 2 * MIB, RW, 0,
				       2 * MIB),
		  "place_hugetlb: 2 MiB at 1 GiB + 4 MiB, 2 MiB pages");
	check_fail(mshare_place_hugetlb(rw, 2 * GIB, GIB, RW, 0, GIB), EINVAL,
		   "place_hugetlb with 1 GiB pages: EINVAL (the module takes 2 MiB pages)");
	check_fail(mshare_place_hugetlb(rw, 2 * GIB, 2 * MIB, RW, 0, 3000),
		   EINVAL, "place_hugetlb with a page size of 3000: EINVAL");
	check_fail(mshare_place_hugetlb(rw, 2 * GIB, 2 * MIB, RW, 0, 2048),
		   EINVAL, "place_hugetlb with a page size below a page: EINVAL");
	check_fail(mshare_place_hugetlb(rw, 2 * GIB + page, 2 * MIB, RW, 0, 0),
		   EINVAL, "place_hugetlb at an offset that is not huge-page aligned: EINVAL");
	check_fail(mshare_place_hugetlb(ro, 2 * GIB, 2 * MIB, RW, 0, 0), EBADF,
		   "place_hugetlb on a read-only fd: EBADF");
}

/* ---------------------------------------------- 5. attach, detach */

static int attach(int fd, void *addr, int prot, int flags, char **where)
{
	void *p = NULL;
	int ret = mshare_attach(fd, addr, prot, flags, &p);

	*where = ret ? NULL : p;
	return ret;
}

static void test_attach(void)
{
	char buf[8], *p;
	void *fixed;

	diag("---- 5. mshare_attach, mshare_detach");
	if (!check_lib(attach(rw, NULL, RW, 0, &base),
		       "mshare_attach at any address"))
		return;
	check((uintptr_t)base % A == 0, "the base %p is aligned to 512 GiB",
	      (void *)base);
	memset(base, 7, 2 * MIB);
	check(base[4 * MIB] == 'b' && base[4 * MIB + page] == 'c' &&
	      base[12 * MIB] == 'a',
	      "the file objects show pages 1, 2 and 0 of the memfd at their offsets");
	base[4 * MIB] = 'X';
	check(pread(memfd, buf, 1, page) == 1 && buf[0] == 'X',
	      "a store through the attachment reaches the file");
	if (huge_ok) {
		memset(base + GIB, 9, 6 * MIB);
		check(all(base + GIB, 6 * MIB, 9),
		      "the hugetlb objects at 1 GiB hold what was written");
	}
	check(touch_signal(base + 8 * MIB, 0) == SIGBUS,
	      "a read where no object is placed: SIGBUS");

	if (check_lib(attach(rw, NULL, RW, 0, &base2), "a second attachment"))
		check(base2 != base && all(base2, 2 * MIB, 7),
		      "... at another address sees the same data");
	if (check_lib(attach(ro, NULL, PROT_READ, 0, &robase),
		      "mshare_attach PROT_READ of the read-only fd"))
		check(all(robase, 2 * MIB, 7) &&
		      touch_signal(robase, 1) == SIGSEGV,
		      "... reads the data and cannot write it (SIGSEGV)");
	check_fail(attach(ro, NULL, RW, 0, &p), EACCES,
		   "mshare_attach PROT_WRITE of the read-only fd: EACCES");
	check_fail(attach(rw, NULL, RW, 0x100, &p), EINVAL,
		   "mshare_attach with an unknown flag: EINVAL");
	check_fail(attach(memfd, NULL, RW, 0, &p), ENOTTY,
		   "mshare_attach of a memfd: ENOTTY");
	check_fail(attach(unsized, NULL, RW, 0, &p), EINVAL,
		   "mshare_attach of a region without a size: EINVAL");

	check_fail(attach(rw, base, RW, MSHARE_FIXED, &p), EEXIST,
		   "MSHARE_FIXED where the region is attached already: EEXIST");
	check_fail(attach(rw, base2 + page, RW, MSHARE_FIXED, &p), EINVAL,
		   "MSHARE_FIXED at an unaligned address: EINVAL");
	fixed = base2;
	if (base2 && check_lib(mshare_detach(base2, A), "mshare_detach"))
		check(touch_signal(fixed, 0) == SIGSEGV,
		      "after detach the range is gone (SIGSEGV)");
	if (check_lib(attach(rw, fixed, RW, MSHARE_FIXED, &base2),
		      "MSHARE_FIXED at the free aligned address %p", fixed))
		check(base2 == fixed && all(base2, 2 * MIB, 7),
		      "... attaches there, with the data");
	check_fail(mshare_detach(base2, A / 2), EINVAL,
		   "mshare_detach of half the attachment: EINVAL");
	check(all(base2, 2 * MIB, 7), "... and the attachment stays whole");
}

/* ---------------------------------------------------------- 6. unmap */

static void test_unmap(void)
{
	diag("---- 6. mshare_unmap");
	check_fail(mshare_unmap(ro, 0, 2 * MIB), EBADF,
		   "mshare_unmap on a read-only fd: EBADF");
	check_fail(mshare_unmap(rw, 100, page), EINVAL,
		   "mshare_unmap at an unaligned offset: EINVAL");
	check_fail(mshare_unmap(rw, A, page), EINVAL,
		   "mshare_unmap beyond the region: EINVAL");
	check_fail(mshare_unmap(memfd, 0, page), ENOTTY,
		   "mshare_unmap on a memfd: ENOTTY");
	if (!check_lib(mshare_unmap(rw, 0, 2 * MIB),
		       "mshare_unmap of the anonymous object"))
		return;
	check(touch_signal(base, 0) == SIGBUS,
	      "a read of the removed object: SIGBUS");
	check_lib(mshare_place_anon(rw, 0, 2 * MIB, RW, 0),
		  "place_anon in its place again");
	check(all(base, 2 * MIB, 0) && all(base2, 2 * MIB, 0),
	      "the new object is zeroed in both attachments");
}

/* ------------------------------------------------------- 7. unlink */

static void test_unlink(void)
{
	diag("---- 7. mshare_unlink");
	check_lib(mshare_unlink(mnt, nm("a")), "mshare_unlink");
	check_fail(mshare_open(mnt, nm("a"), O_RDWR), ENOENT,
		   "the name is gone: mshare_open gives ENOENT");
	check_fail(mshare_unlink(mnt, nm("a")), ENOENT,
		   "mshare_unlink again: ENOENT");
	memset(base, 5, page);
	check(base2[0] == 5, "the attachments still share the region");
	check_lib(mshare_place_anon(rw, 16 * MIB, page, RW, 0),
		  "its fd still places objects");
}

/* ---------------------------------------------------- 9. strerror */

static void test_strerror(void)
{
	static const int errs[] = { ENODEV, ENOTTY, EBADF, EINVAL, EACCES,
				    EEXIST, ENOENT, EFBIG, EBUSY, ENOMEM,
				    EAGAIN };
	char libc[128];
	size_t i;
	int bad = 0;

	diag("---- 9. mshare_strerror");
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		const char *m = mshare_strerror(-errs[i]);

		snprintf(libc, sizeof(libc), "%s: ", strerror(errs[i]));
		if (m != mshare_strerror(errs[i]) ||
		    strncmp(m, libc, strlen(libc)) ||
		    strlen(m) < strlen(libc) + 10) {
			diag("%s: '%s'", errname(errs[i]), m);
			bad++;
		}
	}
	check(!bad, "for each of the module's errors: the C library's text, then the module's reasons; the sign does not matter");
	check(!strcmp(mshare_strerror(-4095), strerror(4095)),
	      "another error: strerror()'s text");
}

/* ---------------------------------------------------- 8. sharing */

/* The unrelated process: attach by name, check, answer */
static int peer(const char *dir, const char *name)
{
	void *p;
	int fd;

	fd = mshare_open(dir, name, O_RDWR);
	if (fd < 0)
		return 2;
	if (mshare_attach(fd, NULL, RW, 0, &p))
		return 3;
	close(fd);
	if (!all(p, 2 * MIB, 21))
		return 4;
	memset(p, 22, 2 * MIB);
	return mshare_detach(p, A) ? 5 : 0;
}

static void test_sharing(void)
{
	char self[PATH_MAX];
	int fd, status;
	void *p;
	pid_t pid;

	diag("---- 8. sharing between processes");
	memset(base, 11, 2 * MIB);
	pid = fork();
	if (pid == 0) {
		if (!all(base, 2 * MIB, 11))
			_exit(1);
		memset(base, 12, 2 * MIB);
		_exit(0);
	}
	check(pid > 0 && waitpid(pid, &status, 0) == pid &&
	      WIFEXITED(status) && !WEXITSTATUS(status) &&
	      all(base, 2 * MIB, 12),
	      "a forked child sees the parent's data and the parent the child's");

	fd = mshare_create(mnt, nm("shared"), A, 0600);
	if (!check_lib(fd, "create region \"shared\"") ||
	    !check_lib(mshare_place_anon(fd, 0, 2 * MIB, RW, 0),
		       "place 2 MiB in it") ||
	    !check_lib(mshare_attach(fd, NULL, RW, 0, &p), "attach it")) {
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	memset(p, 21, 2 * MIB);
	snprintf(self, sizeof(self), "/proc/self/exe");
	pid = fork();
	if (pid == 0) {
		execl(self, "lib_test", "--peer", mnt, nm("shared"), NULL);
		_exit(99);
	}
	check(pid > 0 && waitpid(pid, &status, 0) == pid &&
	      WIFEXITED(status) && !WEXITSTATUS(status) && all(p, 2 * MIB, 22),
	      "an unrelated process (exec'd) opens the region by name, sees the data and its answer arrives (exit %d)",
	      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	mshare_detach(p, A);
	mshare_unlink(mnt, nm("shared"));
}

/* --------------------------------------------------- 10. the shim */

static char here[PATH_MAX];	/* the directory of this program */

/*
 * Run "preload_test MODE" under the shim with the environment settings
 * env (NAME=VALUE or NULL), as uid (0: as root), count its checks as ours (prefixed by what),
 * and check that its stderr has want_lines lines, each from the shim and
 * containing word.
 */
static void run_preload(const char *what, const char *mode, const char *env,
			uid_t uid, int want_lines, const char *word)
{
	char prog[PATH_MAX + 32], shim[PATH_MAX + 32], line[1024], *nl;
	int out[2], err[2], status, lines = 0, bad = 0;
	FILE *f;
	pid_t pid;

	snprintf(prog, sizeof(prog), "%s/preload_test", here);
	snprintf(shim, sizeof(shim), "%s/libmshare-preload.so", here);
	if (pipe(out) || pipe(err)) {
		check(0, "%s: pipes", what);
		return;
	}
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		if (uid && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
			printf("not ok - become uid %d: %s\n", (int)uid,
			       strerror(errno));
		setenv("LD_PRELOAD", shim, 1);
		if (env)
			putenv((char *)env);
		execl(prog, "preload_test", mode, NULL);
		printf("not ok - exec %s: %s\n", prog, strerror(errno));
		_exit(99);
	}
	close(out[1]);
	close(err[1]);
	f = fdopen(out[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "ok - ", 5))
			check(1, "preload %s: %s", what, line + 5);
		else if (!strncmp(line, "not ok - ", 9))
			check(0, "preload %s: %s", what, line + 9);
		else
			diag("%s", line + (strncmp(line, "# ", 2) ? 0 : 2));
	}
	if (f)
		fclose(f);
	f = fdopen(err[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		diag("%s: stderr: %s", what, line);
		lines++;
		bad += strncmp(line, "libmshare-preload: ", 19) ||
		       (word && !strstr(line, word));
	}
	if (f)
		fclose(f);
	check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0,
	      "preload %s: preload_test %s exits 0", what, mode);
	check(lines == want_lines && !bad,
	      "preload %s: %d line%s on stderr%s%s (%d)", what, want_lines,
	      want_lines == 1 ? "" : "s", word ? " saying " : "",
	      word ? word : "", lines);
}

static void test_preload(void)
{
	char direnv[PATH_MAX + 32], *slash;
	ssize_t n;

	diag("---- 10. the preload shim");
	n = readlink("/proc/self/exe", here, sizeof(here) - 1);
	here[n > 0 ? n : 0] = '\0';
	slash = strrchr(here, '/');
	if (slash)
		*slash = '\0';
	snprintf(direnv, sizeof(direnv), "MSHARE_PRELOAD_DIR=%s", mnt);

	/* mprotect, a partial munmap and mremap: one line each */
	run_preload("default", "mshare", strcmp(mnt, MSHARE_MOUNT) ? direnv : NULL,
		    0, 3, "of an mshare mapping failed");
	run_preload("threshold 131072K", "one", "MSHARE_PRELOAD_MIN=131072K",
		    0, 0, NULL);
	run_preload("threshold 256M", "plain", "MSHARE_PRELOAD_MIN=256M", 0,
		    0, NULL);
	run_preload("threshold 32M, threads", "threads",
		    "MSHARE_PRELOAD_MIN=32M", 0, 0, NULL);
	if (huge_ok)
		run_preload("MAP_HUGETLB", "huge", NULL, 0, 0, NULL);
	else
		skip("no huge pages", "preload MAP_HUGETLB");
	/* Another mount, in a directory that an unprivileged user owns */
	if (!mkdir(MNT2, 0755) && !mount("msharefs", MNT2, "msharefs", 0, NULL) &&
	    !mkdir(MNT2 "/pg", 0755) && !chown(MNT2 "/pg", NOBODY, NOBODY)) {
		run_preload("uid 65534, MSHARE_PRELOAD_DIR=" MNT2 "/pg", "one",
			    "MSHARE_PRELOAD_DIR=" MNT2 "/pg", NOBODY, 0, NULL);
		rmdir(MNT2 "/pg");
		umount(MNT2);
	} else {
		check(0, "a directory owned by uid 65534 in an msharefs on " MNT2 ": %s",
		      errname(errno));
	}
	rmdir(MNT2);

	/* The fallbacks: one line, then plain mappings that work */
	run_preload("module absent", "plain", "MSHARE_PRELOAD_DIR=" MISSING,
		    0, 1, "no msharefs at " MISSING);
	run_preload("not msharefs", "plain", "MSHARE_PRELOAD_DIR=" NOT_MSHARE,
		    0, 1, "no msharefs at " NOT_MSHARE);
	run_preload("garbage threshold", "plain", "MSHARE_PRELOAD_MIN=12Q", 0,
		    1, "MSHARE_PRELOAD_MIN=12Q is not a size");
}

int main(int argc, char **argv)
{
	char path[PATH_MAX], old_huge[32] = "0";
	int ret;

	if (argc == 4 && !strcmp(argv[1], "--peer"))
		return peer(argv[2], argv[3]);
	if (argc > 1)
		mnt = argv[1];
	page = (uint64_t)sysconf(_SC_PAGESIZE);
	umask(022);
	read_file(NR_HUGE, old_huge, sizeof(old_huge));
	snprintf(sub, sizeof(sub), "lib_%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/%s", mnt, sub);
	if (mkdir(path, 0755)) {
		check(0, "mkdir %s: %s", path, errname(errno));
		return tap_done();
	}

	test_mounts();
	test_create();
	if (rw >= 0) {
		test_open();
		diag("---- 4. placing objects");
		test_place_anon();
		test_place_file();
		test_place_hugetlb();
		test_attach();
		if (base && base2) {
			test_unmap();
			test_unlink();
			test_sharing();
		}
	}
	test_strerror();

	/* Everything of the library's checks goes before the shim's. */
	if (base)
		mshare_detach(base, A);
	if (base2)
		mshare_detach(base2, A);
	if (robase)
		mshare_detach(robase, A);
	close(rw);
	close(ro);
	close(unsized);
	close(memfd);
	mshare_unlink(mnt, nm("a"));
	mshare_unlink(mnt, nm("b"));
	mshare_unlink(mnt, nm("c"));
	mshare_unlink(mnt, nm("u"));
	ret = rmdir(path);
	check(ret == 0, "this run's directory is empty at the end (%s)",
	      ret ? errname(errno) : "removed");
	test_preload();
	write_file(NR_HUGE, old_huge);
	return tap_done();
}

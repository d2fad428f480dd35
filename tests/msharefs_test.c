// SPDX-License-Identifier: GPL-2.0
/*
 * msharefs_test: userspace checks of the msharefs filesystem interface
 * (everything except mapping memory into a sized region).
 *
 * Usage: msharefs_test [DIR]		DIR defaults to /sys/fs/mshare
 *
 * DIR must be the root of an msharefs mount; the program must run as root.
 * Output is TAP: one "ok N - ..." or "not ok N - ..." line per check,
 * "# ..." diagnostics, and the plan "1..N" at the end.  The exit status is
 * 0 if every check passed, 1 otherwise.
 *
 * Everything the program creates is named "t_<pid>_..." and is removed
 * before it exits, whether the checks passed or not.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/msharefs.h>

#include "tap.h"
#include "util.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE	(1 << 0)
#endif

#define INFO_CONTENT	"549755813888\n"
#define NOBODY_ID	65534
#define NRACERS		8
#define NROUNDS		5
#define NMANY		200
#define CHILD_TIMEOUT	30	/* seconds; a child that takes longer dies */

/* Exit statuses of racing children */
#define RACE_WON	0	/* the operation succeeded */
#define RACE_LOST	1	/* it failed with the expected errno */
#define RACE_SETUP	2	/* the child could not get ready */
#define RACE_ERRNO	3	/* RACE_ERRNO + errno: any other failure */

/* Exit status of a child that could not become uid/gid 65534 */
#define CHILD_SETUP	255

static const off_t align_a = 549755813888LL;	/* 512 GiB */

static const char *mnt = "/sys/fs/mshare";
static char prefix[32];

/* ------------------------------------------------------------- helpers */

/* buf (PATH_MAX bytes) = dir/name */
static void join_path(char *buf, const char *dir, const char *name)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= PATH_MAX)
		diag("path %s/%s is too long", dir, name);
}

static void full_path(char *buf, const char *name)
{
	join_path(buf, mnt, name);
}

/* Path of one of our own names: <mnt>/t_<pid>_<name> */
static void region_path(char *buf, const char *name)
{
	snprintf(buf, PATH_MAX, "%s/%s%s", mnt, prefix, name);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* stat() that zeroes *st and prints a diagnostic on failure */
static int do_stat(const char *path, struct stat *st)
{
	if (stat(path, st) == 0)
		return 0;
	diag("stat(%s) failed: %s (%s)", path, errname(errno),
	     strerror(errno));
	memset(st, 0, sizeof(*st));
	return -1;
}

static int do_fstat(int fd, struct stat *st)
{
	if (fstat(fd, st) == 0)
		return 0;
	diag("fstat(%d) failed: %s (%s)", fd, errname(errno), strerror(errno));
	memset(st, 0, sizeof(*st));
	return -1;
}

/* Size of an open region, or -1 */
static off_t fd_size(int fd)
{
	struct stat st;

	if (do_fstat(fd, &st))
		return -1;
	return st.st_size;
}

static off_t path_size(const char *path)
{
	struct stat st;

	if (do_stat(path, &st))
		return -1;
	return st.st_size;
}

/* A check that a size is what it should be */
static int check_size(off_t size, off_t want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int check_size(off_t size, off_t want, const char *fmt, ...)
{
	int pass = size == want;
	va_list ap;

	va_start(ap, fmt);
	vcheck(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		diag("size is %lld, expected %lld", (long long)size,
		     (long long)want);
	return pass;
}

/*
 * Set-up step, not a check: create a new region with mode 0600 and, if
 * size > 0, size it.  Returns an O_RDWR fd, or -1 with a diagnostic.
 */
static int make_region(const char *path, off_t size)
{
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		diag("setup: creating %s failed: %s (%s)", path,
		     errname(errno), strerror(errno));
		return -1;
	}
	if (size > 0 && ftruncate(fd, size)) {
		diag("setup: ftruncate(%s, %lld) failed: %s (%s)", path,
		     (long long)size, errname(errno), strerror(errno));
	}
	return fd;
}

/* Set-up step: create an unsized region and close it.  0 or -1. */
static int touch_region(const char *path)
{
	int fd = make_region(path, 0);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Does <mnt>/mshare_info hold exactly INFO_CONTENT?  Diagnoses if not. */
static int info_content_ok(const char *path)
{
	char buf[128];
	ssize_t len;
	ssize_t i;

	len = read_file(path, buf, sizeof(buf));
	if (len < 0) {
		diag("reading %s failed: %s (%s)", path, errname(errno),
		     strerror(errno));
		return 0;
	}
	if (len == (ssize_t)strlen(INFO_CONTENT) &&
	    memcmp(buf, INFO_CONTENT, len) == 0)
		return 1;
	for (i = 0; i < len; i++)
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			buf[i] = '.';
	diag("read %zd bytes: \"%s\" (non-printable shown as '.')", len, buf);
	return 0;
}

/* ---------------------------------------------------- directory lists */

struct namelist {
	char **names;
	size_t n;
	size_t cap;
};

static void free_list(struct namelist *nl)
{
	size_t i;

	for (i = 0; i < nl->n; i++)
		free(nl->names[i]);
	free(nl->names);
	nl->names = NULL;
	nl->n = 0;
	nl->cap = 0;
}

/* Read all names of a directory (including "." and "..").  0 or -1. */
static int list_dir(const char *path, struct namelist *nl)
{
	struct dirent *de;
	DIR *d;
	int err;

	nl->names = NULL;
	nl->n = 0;
	nl->cap = 0;
	d = opendir(path);
	if (!d) {
		diag("opendir(%s) failed: %s (%s)", path, errname(errno),
		     strerror(errno));
		return -1;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (nl->n == nl->cap) {
			size_t cap = nl->cap ? nl->cap * 2 : 64;
			char **names = realloc(nl->names, cap * sizeof(*names));

			if (!names)
				goto oom;
			nl->names = names;
			nl->cap = cap;
		}
		nl->names[nl->n] = strdup(de->d_name);
		if (!nl->names[nl->n])
			goto oom;
		nl->n++;
	}
	err = errno;
	closedir(d);
	if (err) {
		diag("readdir(%s) failed: %s (%s)", path, errname(err),
		     strerror(err));
		free_list(nl);
		return -1;
	}
	return 0;
oom:
	diag("out of memory listing %s", path);
	closedir(d);
	free_list(nl);
	return -1;
}

static int list_has(const struct namelist *nl, const char *name)
{
	size_t i;

	for (i = 0; i < nl->n; i++)
		if (strcmp(nl->names[i], name) == 0)
			return 1;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* Are two lists the same set of names?  Sorts both; diagnoses changes. */
static int same_names(struct namelist *before, struct namelist *now)
{
	size_t i = 0, j = 0;
	int shown = 0;
	int same = 1;

	qsort(before->names, before->n, sizeof(char *), cmp_names);
	qsort(now->names, now->n, sizeof(char *), cmp_names);
	while (i < before->n || j < now->n) {
		int c;

		if (i == before->n)
			c = 1;
		else if (j == now->n)
			c = -1;
		else
			c = strcmp(before->names[i], now->names[j]);
		if (c == 0) {
			i++;
			j++;
			continue;
		}
		same = 0;
		if (shown++ < 10) {
			if (c < 0)
				diag("missing now: \"%s\"", before->names[i]);
			else
				diag("new entry: \"%s\"", now->names[j]);
		}
		if (c < 0)
			i++;
		else
			j++;
	}
	return same;
}

/* ------------------------------------------------------------ children */

/* Wait for a child; its exit status, or -1 if it did not exit normally. */
static int wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			diag("waitpid(%d) failed: %s", (int)pid,
			     strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		diag("child %d killed by signal %d", (int)pid,
		     WTERMSIG(status));
	return -1;
}

/*
 * open(path, flags, mode) in a child running as uid/gid 65534 without
 * supplementary groups.  Returns 0 if the open succeeded, its errno if it
 * failed, or -1 if the child could not be run.
 */
static int open_as_nobody(const char *path, int flags, mode_t mode)
{
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		diag("fork failed: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int fd;

		alarm(CHILD_TIMEOUT);
		if (setgroups(0, NULL) || setgid(NOBODY_ID) ||
		    setuid(NOBODY_ID))
			_exit(CHILD_SETUP);
		fd = open(path, flags, mode);
		if (fd < 0)
			_exit(errno > 0 && errno < CHILD_SETUP ? errno : 254);
		close(fd);
		_exit(0);
	}
	status = wait_child(pid);
	if (status == CHILD_SETUP) {
		diag("child could not switch to uid/gid %d", NOBODY_ID);
		return -1;
	}
	return status;
}

/* Explain an unexpected open_as_nobody() result; want 0 = success. */
static void diag_nobody(int res, int want)
{
	if (res < 0)
		diag("the child did not run properly");
	else if (res == 0)
		diag("the open succeeded, expected %s", errname(want));
	else if (want == 0)
		diag("the open failed with %s (%s), expected success",
		     errname(res), strerror(res));
	else
		diag("the open failed with %s (%s), expected %s",
		     errname(res), strerror(res), errname(want));
}

enum race_op {
	RACE_CREATE,	/* open(O_RDWR | O_CREAT | O_EXCL), loser: EEXIST */
	RACE_FTRUNCATE,	/* ftruncate(align_a), loser: EINVAL */
};

struct race_result {
	int won;
	int lost;
	int bad;	/* setup failures, other errors, crashes */
};

/* Body of a racing child; returns its exit status. */
static int racer(enum race_op op, const char *path, int startfd)
{
	char c;
	int fd = -1;

	alarm(CHILD_TIMEOUT);
	if (op == RACE_FTRUNCATE) {
		fd = open(path, O_RDWR);
		if (fd < 0)
			return RACE_SETUP;
	}
	/* Start when every write end of the pipe is closed: read gives 0 */
	if (read(startfd, &c, 1) != 0)
		return RACE_SETUP;

	if (op == RACE_CREATE) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd >= 0) {
			close(fd);
			return RACE_WON;
		}
		if (errno == EEXIST)
			return RACE_LOST;
	} else {
		if (ftruncate(fd, align_a) == 0) {
			close(fd);
			return RACE_WON;
		}
		if (errno == EINVAL)
			return RACE_LOST;
	}
	return errno > 0 && errno < 250 ? RACE_ERRNO + errno : RACE_SETUP;
}

/*
 * Fork NRACERS children doing op on path at (nearly) the same moment and
 * count their outcomes.  All children are reaped before returning.
 */
static void race(enum race_op op, const char *path, struct race_result *res)
{
	pid_t pids[NRACERS];
	int nstarted = 0;
	int pfd[2];
	int i;

	memset(res, 0, sizeof(*res));
	if (pipe(pfd)) {
		diag("pipe failed: %s", strerror(errno));
		res->bad = NRACERS;
		return;
	}
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < NRACERS; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			diag("fork failed: %s", strerror(errno));
			break;
		}
		if (pid == 0) {
			close(pfd[1]);
			_exit(racer(op, path, pfd[0]));
		}
		pids[nstarted++] = pid;
	}
	/* Closing the last write end releases all children at once */
	close(pfd[0]);
	close(pfd[1]);

	res->bad = NRACERS - nstarted;
	for (i = 0; i < nstarted; i++) {
		int status = wait_child(pids[i]);

		if (status == RACE_WON) {
			res->won++;
		} else if (status == RACE_LOST) {
			res->lost++;
		} else {
			res->bad++;
			if (status == RACE_SETUP)
				diag("racer %d could not get ready", i);
			else if (status >= RACE_ERRNO)
				diag("racer %d failed with %s", i,
				     errname(status - RACE_ERRNO));
		}
	}
}

/* --------------------------------------------------------------- tests */

static void test_statfs(void)
{
	struct statfs sfs;
	int r, e;

	r = statfs(mnt, &sfs);
	e = errno;
	if (r) {
		diag("statfs(%s) failed: %s (%s)", mnt, errname(e),
		     strerror(e));
		memset(&sfs, 0, sizeof(sfs));
	}
	if (!check(r == 0 && (unsigned long)sfs.f_type == MSHAREFS_MAGIC,
		   "statfs f_type is MSHAREFS_MAGIC (0x4d534852)"))
		diag("f_type is %#lx", (unsigned long)sfs.f_type);
}

static void test_info(void)
{
	char info[PATH_MAX], other[PATH_MAX], victim[PATH_MAX];
	struct stat st;
	int fd, r, e;

	full_path(info, MSHAREFS_INFO_NAME);
	region_path(other, "info_other");
	region_path(victim, "info_victim");

	r = do_stat(info, &st);
	if (!check(r == 0 && S_ISREG(st.st_mode),
		   "mshare_info is a regular file"))
		diag("st_mode is %#o", (unsigned int)st.st_mode);
	if (!check(r == 0 && (st.st_mode & 07777) == 0444,
		   "mshare_info has mode 0444"))
		diag("mode is %04o", (unsigned int)(st.st_mode & 07777));
	if (!check(r == 0 && st.st_size == 13, "mshare_info st_size is 13"))
		diag("st_size is %lld", (long long)st.st_size);
	check(info_content_ok(info),
	      "mshare_info reads exactly \"549755813888\\n\"");

	fd = open(info, O_WRONLY);
	e = errno;
	check_err(fd, e, EPERM, "open(mshare_info, O_WRONLY) fails EPERM");
	close_fd(&fd);

	fd = open(info, O_RDWR);
	e = errno;
	check_err(fd, e, EPERM, "open(mshare_info, O_RDWR) fails EPERM");
	close_fd(&fd);

	r = rename(info, other);
	e = errno;
	check_err(r, e, EPERM, "rename of mshare_info to a new name fails EPERM");
	if (r == 0 && rename(other, info))
		diag("could not rename mshare_info back: %s", strerror(errno));

	touch_region(victim);
	r = rename(victim, info);
	e = errno;
	check_err(r, e, EPERM, "rename of a region onto mshare_info fails EPERM");
	if (!check(stat(victim, &st) == 0,
		   "the region still exists after renaming it onto mshare_info"))
		diag("stat: %s", strerror(errno));
	unlink(victim);

	r = link(info, other);
	e = errno;
	check_err(r, e, EPERM, "link(mshare_info, new name) fails EPERM");
	if (r == 0)
		unlink(other);

	r = chmod(info, 0644);
	e = errno;
	check_err(r, e, EPERM, "chmod(mshare_info, 0644) fails EPERM");
	if (r == 0)
		chmod(info, 0444);

	r = unlink(info);
	e = errno;
	check_err(r, e, EPERM, "unlink(mshare_info) fails EPERM");

	r = do_stat(info, &st);
	if (!check(r == 0 && S_ISREG(st.st_mode) &&
		   (st.st_mode & 07777) == 0444 && st.st_size == 13,
		   "mshare_info is still a 0444 regular file of size 13"))
		diag("st_mode %#o, st_size %lld", (unsigned int)st.st_mode,
		     (long long)st.st_size);
	check(info_content_ok(info),
	      "mshare_info still reads \"549755813888\\n\" after all that");
}

static void test_create(void)
{
	char path[PATH_MAX], name[300];
	struct stat st;
	size_t len;
	int fd, fd2, r, e;

	region_path(path, "create");
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	e = errno;
	check_ok(fd, e, "open(O_RDWR|O_CREAT|O_EXCL, 0600) creates a region");

	r = do_stat(path, &st);
	if (!check(r == 0 && S_ISREG(st.st_mode),
		   "new region is a regular file"))
		diag("st_mode is %#o", (unsigned int)st.st_mode);
	if (!check(r == 0 && (st.st_mode & 07777) == 0600,
		   "new region has mode 0600"))
		diag("mode is %04o", (unsigned int)(st.st_mode & 07777));
	if (!check(r == 0 && st.st_uid == 0 && st.st_gid == 0,
		   "new region is owned by uid 0, gid 0"))
		diag("uid %u gid %u", (unsigned int)st.st_uid,
		     (unsigned int)st.st_gid);
	if (!check(r == 0 && st.st_size == 0, "new region has st_size 0"))
		diag("st_size is %lld", (long long)st.st_size);

	fd2 = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	e = errno;
	check_err(fd2, e, EEXIST, "second O_CREAT|O_EXCL of the same name fails EEXIST");
	close_fd(&fd2);
	close_fd(&fd);
	unlink(path);

	/* A name of exactly NAME_MAX (255) bytes */
	len = strlen(prefix);
	memcpy(name, prefix, len);
	memset(name + len, 'n', 255 - len);
	name[255] = '\0';
	full_path(path, name);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	e = errno;
	check_ok(fd, e, "a region with a 255-byte name can be created");
	close_fd(&fd);
	r = unlink(path);
	e = errno;
	check_ok(r, e, "the region with the 255-byte name can be unlinked");

	/* 256 bytes */
	name[255] = 'n';
	name[256] = '\0';
	full_path(path, name);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	e = errno;
	check_err(fd, e, ENAMETOOLONG, "creating a 256-byte name fails ENAMETOOLONG");
	if (fd >= 0) {
		close_fd(&fd);
		unlink(path);
	}

	region_path(path, "does_not_exist");
	fd = open(path, O_RDWR);
	e = errno;
	check_err(fd, e, ENOENT, "opening a nonexistent name without O_CREAT fails ENOENT");
	close_fd(&fd);
}

static void test_ftruncate(void)
{
	char path[PATH_MAX];
	int fd, r, e;

	region_path(path, "trunc");
	fd = make_region(path, 0);

	r = ftruncate(fd, 0);
	e = errno;
	check_err(r, e, EINVAL, "ftruncate(0) on an unsized region fails EINVAL");
	r = ftruncate(fd, 4096);
	e = errno;
	check_err(r, e, EINVAL, "ftruncate(4096) fails EINVAL");
	r = ftruncate(fd, align_a + 4096);
	e = errno;
	check_err(r, e, EINVAL, "ftruncate(A + 4096) fails EINVAL");
	r = ftruncate(fd, align_a / 2);
	e = errno;
	check_err(r, e, EINVAL, "ftruncate(A / 2) fails EINVAL");
	r = ftruncate(fd, (off_t)1 << 62);
	e = errno;
	check_err(r, e, EFBIG, "ftruncate(1 << 62) fails EFBIG");
	check_size(fd_size(fd), 0, "the failed ftruncate calls left st_size 0");

	r = ftruncate(fd, align_a);
	e = errno;
	check_ok(r, e, "ftruncate(A) on an unsized region succeeds");
	check_size(fd_size(fd), align_a, "fstat st_size is A after ftruncate(A)");

	r = ftruncate(fd, align_a);
	e = errno;
	check_err(r, e, EINVAL, "a second ftruncate(A) fails EINVAL");
	r = ftruncate(fd, 2 * align_a);
	e = errno;
	check_err(r, e, EINVAL, "ftruncate(2A) on a sized region fails EINVAL");
	check_size(fd_size(fd), align_a, "st_size is still A");
	close_fd(&fd);
	unlink(path);

	region_path(path, "trunc2");
	fd = make_region(path, 0);
	r = ftruncate(fd, 2 * align_a);
	e = errno;
	check_ok(r, e, "ftruncate(2A) on an unsized region succeeds");
	check_size(fd_size(fd), 2 * align_a, "st_size is 2A");
	close_fd(&fd);
	unlink(path);

	region_path(path, "trunc_ro");
	touch_region(path);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		diag("setup: open O_RDONLY failed: %s", strerror(errno));
	r = ftruncate(fd, align_a);
	e = errno;
	check_err(r, e, EINVAL, "ftruncate(A) on an O_RDONLY fd fails EINVAL");
	close_fd(&fd);
	check_size(path_size(path), 0, "the O_RDONLY ftruncate left st_size 0");
	r = truncate(path, align_a);
	e = errno;
	check_ok(r, e, "truncate(path, A) on an unsized region succeeds");
	check_size(path_size(path), align_a, "st_size is A after truncate(path, A)");
	unlink(path);
}

/*
 * 47 or 56: the user address bits of this boot.  Only 5-level paging can
 * place a mapping at 2^50.
 */
static int user_va_bits(void)
{
	void *hint = (void *)(1UL << 50);
	void *p;

	p = mmap(hint, 4096, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return 47;
	munmap(p, 4096);
	return 56;
}

/*
 * The largest region is every aligned slot of the user address space except
 * the first (it holds address 0) and the last (it reaches the top, which is
 * not user space): 254 x 512 GiB with 4-level paging.  One slot more is
 * EFBIG, for ftruncate and fallocate alike.  Only directories and regions
 * can be made: mknod of a fifo and symlink fail EPERM.
 */
static void test_limits(void)
{
	char path[PATH_MAX], target[PATH_MAX];
	int bits = user_va_bits();
	off_t max = ((off_t)1 << bits) - 2 * align_a;
	int fd, r, e;

	diag("%d-bit user address space: largest region %lld slots",
	     bits, (long long)(max / align_a));
	region_path(path, "limit");
	fd = make_region(path, 0);
	r = ftruncate(fd, max + align_a);
	e = errno;
	check_err(r, e, EFBIG, "ftruncate(largest + A) fails EFBIG");
	r = fallocate(fd, 0, 0, max + align_a);
	e = errno;
	check_err(r, e, EFBIG, "fallocate(largest + A) fails EFBIG");
	r = ftruncate(fd, max);
	e = errno;
	check_ok(r, e, "ftruncate(largest region: %lld x A) succeeds",
		 (long long)(max / align_a));
	check_size(fd_size(fd), max, "st_size is the largest size");
	close_fd(&fd);
	unlink(path);

	region_path(path, "fifo");
	r = mknod(path, S_IFIFO | 0600, 0);
	e = errno;
	check_err(r, e, EPERM, "mknod of a fifo fails EPERM");
	region_path(path, "symlink");
	region_path(target, "target");
	r = symlink(target, path);
	e = errno;
	check_err(r, e, EPERM, "symlink fails EPERM");
}

static void test_fallocate(void)
{
	char path[PATH_MAX];
	int fd, r, e;

	region_path(path, "falloc");
	fd = make_region(path, 0);

	r = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, align_a);
	e = errno;
	check_err(r, e, EOPNOTSUPP, "fallocate(KEEP_SIZE, 0, A) fails EOPNOTSUPP");
	r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, align_a);
	e = errno;
	check_err(r, e, EOPNOTSUPP, "fallocate(PUNCH_HOLE|KEEP_SIZE, 0, A) fails EOPNOTSUPP");
	r = fallocate(fd, 0, align_a, align_a);
	e = errno;
	check_err(r, e, EINVAL, "fallocate(0, A, A) (non-zero offset) fails EINVAL");
	r = fallocate(fd, 0, 0, 4096);
	e = errno;
	check_err(r, e, EINVAL, "fallocate(0, 0, 4096) fails EINVAL");
	check_size(fd_size(fd), 0, "the failed fallocate calls left st_size 0");

	r = fallocate(fd, 0, 0, align_a);
	e = errno;
	check_ok(r, e, "fallocate(0, 0, A) on an unsized region succeeds");
	check_size(fd_size(fd), align_a, "st_size is A after fallocate");
	r = fallocate(fd, 0, 0, align_a);
	e = errno;
	check_err(r, e, EINVAL, "a second fallocate(0, 0, A) fails EINVAL");
	r = ftruncate(fd, align_a);
	e = errno;
	check_err(r, e, EINVAL, "ftruncate(A) after fallocate fails EINVAL");
	check_size(fd_size(fd), align_a, "st_size is still A");
	close_fd(&fd);
	unlink(path);

	region_path(path, "falloc_ro");
	touch_region(path);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		diag("setup: open O_RDONLY failed: %s", strerror(errno));
	r = fallocate(fd, 0, 0, align_a);
	e = errno;
	check_err(r, e, EBADF, "fallocate(0, 0, A) on an O_RDONLY fd fails EBADF");
	close_fd(&fd);
	unlink(path);
}

static void test_otrunc(void)
{
	char path[PATH_MAX];
	int fd, e;

	region_path(path, "otrunc");
	fd = make_region(path, align_a);
	close_fd(&fd);

	fd = open(path, O_RDWR | O_TRUNC);
	e = errno;
	check_ok(fd, e, "open(O_RDWR|O_TRUNC) of a sized region succeeds");
	check_size(fd >= 0 ? fd_size(fd) : -1, align_a,
		   "O_TRUNC left st_size at A (fstat)");
	check_size(path_size(path), align_a, "O_TRUNC left st_size at A (stat)");
	close_fd(&fd);
	unlink(path);
}

/* read/write/lseek/pread on an open region */
static void check_rw(int fd, const char *what)
{
	char buf[64];
	ssize_t n;
	off_t off;
	int e;

	memset(buf, 0, sizeof(buf));
	n = read(fd, buf, sizeof(buf));
	e = errno;
	check_err(n, e, EINVAL, "read() on %s region fails EINVAL", what);
	n = write(fd, buf, sizeof(buf));
	e = errno;
	check_err(n, e, EINVAL, "write() on %s region fails EINVAL", what);
	off = lseek(fd, 0, SEEK_SET);
	e = errno;
	check_err(off, e, ESPIPE, "lseek(0, SEEK_SET) on %s region fails ESPIPE", what);
	n = pread(fd, buf, sizeof(buf), 0);
	e = errno;
	check(n == -1 && (e == ESPIPE || e == EINVAL),
	      "pread() on %s region fails ESPIPE or EINVAL", what);
	if (n == -1)
		diag("pread failed with %s", errname(e));
	else
		diag("pread returned %zd", n);
}

static void test_fileops(void)
{
	char path[PATH_MAX], buf[64];
	struct mshare_create mc;
	struct mshare_unmap mu;
	void *p;
	int fd, r, e;

	region_path(path, "ops");
	fd = make_region(path, 0);
	check_rw(fd, "an unsized");

	memset(buf, 0, sizeof(buf));
	r = ioctl(fd, _IO('x', 0x1f), 0);
	e = errno;
	check_err(r, e, ENOTTY, "unknown ioctl _IO('x', 0x1f) fails ENOTTY");
	r = ioctl(fd, 0x5401, buf);
	e = errno;
	check_err(r, e, ENOTTY, "ioctl TCGETS (0x5401) fails ENOTTY");

	p = mmap(NULL, align_a, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	e = errno;
	if (!check(p == MAP_FAILED && e == EINVAL,
		   "mmap(A, MAP_SHARED) of an unsized region fails EINVAL")) {
		if (p == MAP_FAILED)
			diag("expected EINVAL, got %s (%s)", errname(e),
			     strerror(e));
		else
			diag("mmap succeeded at %p", p);
	}
	if (p != MAP_FAILED)
		munmap(p, align_a);

	r = ioctl(fd, MSHAREFS_CREATE_MAPPING, NULL);
	e = errno;
	check_err(r, e, EFAULT, "MSHAREFS_CREATE_MAPPING with a NULL argument fails EFAULT");

	memset(&mc, 0, sizeof(mc));
	mc.region_offset = 0;
	mc.size = 4096;
	mc.offset = 0;
	mc.prot = PROT_READ | PROT_WRITE;
	mc.flags = MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS;
	mc.fd = (__u32)-1;
	r = ioctl(fd, MSHAREFS_CREATE_MAPPING, &mc);
	e = errno;
	check_err(r, e, EINVAL, "MSHAREFS_CREATE_MAPPING on an unsized region fails EINVAL");

	memset(&mu, 0, sizeof(mu));
	mu.region_offset = 0;
	mu.size = 4096;
	r = ioctl(fd, MSHAREFS_UNMAP, &mu);
	e = errno;
	check_err(r, e, EINVAL, "MSHAREFS_UNMAP on an unsized region fails EINVAL");
	close_fd(&fd);
	unlink(path);

	region_path(path, "ops_sized");
	fd = make_region(path, align_a);
	check_rw(fd, "a sized");
	close_fd(&fd);
	unlink(path);
}

static void test_two_fds(void)
{
	char path[PATH_MAX];
	struct stat st1, st2, st3;
	int fd1, fd2, r1, r2, r3, r, e;

	region_path(path, "two");
	fd1 = make_region(path, 0);
	fd2 = open(path, O_RDWR);
	e = errno;
	check_ok(fd2, e, "a second open of a region by path succeeds");
	check(fd_size(fd1) == 0 && fd_size(fd2) == 0,
	      "both fds report st_size 0 before sizing");

	r = ftruncate(fd1, align_a);
	e = errno;
	check_ok(r, e, "ftruncate(A) through the first fd succeeds");
	r1 = do_fstat(fd1, &st1);
	r2 = do_fstat(fd2, &st2);
	r3 = do_stat(path, &st3);
	if (!check(!r1 && !r2 && !r3 && st1.st_size == align_a &&
		   st2.st_size == align_a && st3.st_size == align_a,
		   "fstat of both fds and stat of the path all report st_size A"))
		diag("sizes: fd1 %lld, fd2 %lld, path %lld",
		     (long long)st1.st_size, (long long)st2.st_size,
		     (long long)st3.st_size);
	check(!r1 && !r2 && !r3 && st1.st_ino == st2.st_ino &&
	      st1.st_ino == st3.st_ino,
	      "both fds and the path have the same st_ino");
	close_fd(&fd1);
	close_fd(&fd2);
	unlink(path);
}

static void test_unlink(void)
{
	char path[PATH_MAX];
	struct stat st, st_old;
	int fd, fd_old, fd2, r, e;

	region_path(path, "unl");
	fd = make_region(path, align_a);
	r = unlink(path);
	e = errno;
	check_ok(r, e, "unlink of a sized region with an open fd succeeds");
	r = do_fstat(fd, &st);
	if (!check(r == 0 && st.st_nlink == 0 && st.st_size == align_a,
		   "fstat of the unlinked region's fd works: st_nlink 0, st_size A"))
		diag("fstat returned %d, st_nlink %lu, st_size %lld", r,
		     (unsigned long)st.st_nlink, (long long)st.st_size);
	fd2 = open(path, O_RDWR);
	e = errno;
	check_err(fd2, e, ENOENT, "opening the unlinked name fails ENOENT");
	close_fd(&fd2);
	r = close(fd);
	e = errno;
	fd = -1;
	check_ok(r, e, "closing the unlinked region's fd succeeds");

	region_path(path, "unl2");
	fd_old = make_region(path, align_a);
	if (unlink(path))
		diag("setup: unlink failed: %s", strerror(errno));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	e = errno;
	check_ok(fd, e, "a region can be created under the name of an unlinked, still open one");
	r = do_fstat(fd, &st);
	if (do_fstat(fd_old, &st_old))
		r = -1;
	if (!check(r == 0 && st.st_ino != st_old.st_ino && st.st_size == 0,
		   "the new region is a different inode and unsized"))
		diag("new: ino %lu size %lld; old: ino %lu",
		     (unsigned long)st.st_ino, (long long)st.st_size,
		     (unsigned long)st_old.st_ino);
	if (!check(r == 0 && st_old.st_size == align_a && st_old.st_nlink == 0,
		   "the old region is still sized A with st_nlink 0"))
		diag("old: st_size %lld, st_nlink %lu",
		     (long long)st_old.st_size, (unsigned long)st_old.st_nlink);
	close_fd(&fd);
	close_fd(&fd_old);
	unlink(path);
}

static void test_rename(void)
{
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], d[PATH_MAX], l[PATH_MAX];
	struct stat st, st2;
	ino_t ino = 0;
	long lr;
	int fd, r, r2, e;

	region_path(a, "ren_a");
	region_path(b, "ren_b");
	region_path(c, "ren_c");
	region_path(d, "ren_d");
	region_path(l, "ren_link");

	fd = make_region(a, align_a);
	close_fd(&fd);
	if (do_stat(a, &st) == 0)
		ino = st.st_ino;

	r = rename(a, b);
	e = errno;
	check_ok(r, e, "rename(a, b) succeeds");
	r = do_stat(b, &st);
	if (!check(r == 0 && st.st_size == align_a && st.st_ino == ino,
		   "b is the same region, still sized A"))
		diag("b: ino %lu (a was %lu), st_size %lld",
		     (unsigned long)st.st_ino, (unsigned long)ino,
		     (long long)st.st_size);
	r = stat(a, &st);
	e = errno;
	check_err(r, e, ENOENT, "a is gone after rename(a, b)");

	touch_region(c);
	r = rename(b, c);
	e = errno;
	check_ok(r, e, "rename(b, c) onto an existing unsized region succeeds");
	r = do_stat(c, &st);
	if (!check(r == 0 && st.st_size == align_a && st.st_ino == ino,
		   "c is now the renamed region, sized A"))
		diag("c: ino %lu (expected %lu), st_size %lld",
		     (unsigned long)st.st_ino, (unsigned long)ino,
		     (long long)st.st_size);
	r = stat(b, &st);
	e = errno;
	check_err(r, e, ENOENT, "b is gone after rename(b, c)");

	touch_region(d);
	lr = syscall(SYS_renameat2, AT_FDCWD, c, AT_FDCWD, d,
		     RENAME_NOREPLACE);
	e = errno;
	check_err(lr, e, EEXIST, "renameat2(c, d, RENAME_NOREPLACE) onto an existing name fails EEXIST");
	r = do_stat(c, &st);
	r2 = do_stat(d, &st2);
	if (!check(r == 0 && r2 == 0 && st.st_ino == ino &&
		   st.st_size == align_a && st2.st_size == 0,
		   "after the failed RENAME_NOREPLACE both c (size A) and d (unsized) exist"))
		diag("c: ino %lu size %lld, d: size %lld",
		     (unsigned long)st.st_ino, (long long)st.st_size,
		     (long long)st2.st_size);

	r = link(c, l);
	e = errno;
	check_ok(r, e, "link(c, l) succeeds");
	r = do_stat(c, &st);
	r2 = do_stat(l, &st2);
	if (!check(r == 0 && r2 == 0 && st.st_nlink == 2 &&
		   st2.st_nlink == 2 && st.st_ino == st2.st_ino,
		   "c and l have st_nlink 2 and the same st_ino"))
		diag("c: ino %lu nlink %lu; l: ino %lu nlink %lu",
		     (unsigned long)st.st_ino, (unsigned long)st.st_nlink,
		     (unsigned long)st2.st_ino, (unsigned long)st2.st_nlink);
	r = unlink(c);
	e = errno;
	check_ok(r, e, "unlink(c) succeeds");
	r = do_stat(l, &st2);
	if (!check(r == 0 && st2.st_nlink == 1 && st2.st_size == align_a &&
		   st2.st_ino == ino,
		   "l still exists with st_nlink 1 and st_size A"))
		diag("l: ino %lu nlink %lu size %lld",
		     (unsigned long)st2.st_ino, (unsigned long)st2.st_nlink,
		     (long long)st2.st_size);

	unlink(a);
	unlink(b);
	unlink(c);
	unlink(d);
	unlink(l);
}

static void test_dirs(void)
{
	char sub[PATH_MAX], inner[PATH_MAX], top[PATH_MAX], path[PATH_MAX];
	char name[NAME_MAX + 1];
	struct namelist nl;
	struct stat st;
	int fd, r, e;

	region_path(sub, "dir");
	snprintf(name, sizeof(name), "%sinner", prefix);
	join_path(inner, sub, name);
	region_path(top, "top");

	r = mkdir(sub, 0700);
	e = errno;
	check_ok(r, e, "mkdir(d, 0700) succeeds");
	r = do_stat(sub, &st);
	if (!check(r == 0 && S_ISDIR(st.st_mode) &&
		   (st.st_mode & 07777) == 0700,
		   "d is a directory with mode 0700"))
		diag("st_mode %#o", (unsigned int)st.st_mode);

	fd = open(inner, O_RDWR | O_CREAT | O_EXCL, 0600);
	e = errno;
	check_ok(fd, e, "a region can be created inside d");
	r = ftruncate(fd, align_a);
	e = errno;
	check_ok(r, e, "the region inside d can be sized with ftruncate(A)");
	check_size(fd >= 0 ? fd_size(fd) : -1, align_a,
		   "the region inside d has st_size A");

	r = list_dir(sub, &nl);
	if (!check(r == 0 && list_has(&nl, name) && list_has(&nl, ".") &&
		   list_has(&nl, "..") && nl.n == 3,
		   "readdir(d) lists exactly \".\", \"..\" and the region"))
		diag("readdir(d) returned %zu entries", nl.n);
	free_list(&nl);

	join_path(path, sub, MSHAREFS_INFO_NAME);
	r = stat(path, &st);
	e = errno;
	check_err(r, e, ENOENT, "d/mshare_info does not exist (ENOENT)");

	r = rmdir(sub);
	e = errno;
	check_err(r, e, ENOTEMPTY, "rmdir(d) of a non-empty directory fails ENOTEMPTY");

	touch_region(top);
	r = list_dir(mnt, &nl);
	snprintf(name, sizeof(name), "%sdir", prefix);
	if (!check(r == 0 && list_has(&nl, name) && list_has(&nl, ".") &&
		   list_has(&nl, "..") && list_has(&nl, MSHAREFS_INFO_NAME),
		   "readdir of the mount lists \".\", \"..\", mshare_info and d"))
		diag("readdir returned %zu entries", nl.n);
	snprintf(name, sizeof(name), "%stop", prefix);
	check(r == 0 && list_has(&nl, name),
	      "readdir of the mount lists a newly created region");
	free_list(&nl);

	close_fd(&fd);
	r = unlink(inner);
	e = errno;
	check_ok(r, e, "unlinking the region inside d succeeds");
	r = rmdir(sub);
	e = errno;
	check_ok(r, e, "rmdir(d) succeeds once it is empty");
	r = stat(sub, &st);
	e = errno;
	check_err(r, e, ENOENT, "d is gone after rmdir");

	unlink(top);
	unlink(inner);
	rmdir(sub);
}

static void test_perms(void)
{
	char p600[PATH_MAX], p644[PATH_MAX], pchild[PATH_MAX];
	struct stat st;
	int fd, res, r, e;

	region_path(p600, "perm600");
	region_path(p644, "perm644");
	region_path(pchild, "perm_child");

	fd = open(p600, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		diag("setup: creating %s failed: %s", p600, strerror(errno));
	close_fd(&fd);
	fd = open(p644, O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		diag("setup: creating %s failed: %s", p644, strerror(errno));
	close_fd(&fd);

	res = open_as_nobody(p600, O_RDONLY, 0);
	if (!check(res == EACCES,
		   "uid 65534 cannot open a root-owned 0600 region O_RDONLY (EACCES)"))
		diag_nobody(res, EACCES);

	res = open_as_nobody(p644, O_RDONLY, 0);
	if (!check(res == 0,
		   "uid 65534 can open a root-owned 0644 region O_RDONLY"))
		diag_nobody(res, 0);

	res = open_as_nobody(p644, O_RDWR, 0);
	if (!check(res == EACCES,
		   "uid 65534 cannot open a root-owned 0644 region O_RDWR (EACCES)"))
		diag_nobody(res, EACCES);

	r = do_stat(mnt, &st);
	if (r == 0 && ((st.st_mode & S_IWOTH) ||
		       (st.st_uid == NOBODY_ID && (st.st_mode & S_IWUSR)) ||
		       (st.st_gid == NOBODY_ID && (st.st_mode & S_IWGRP)))) {
		skip("the mount directory is writable by uid 65534",
		     "uid 65534 cannot create a region in the mount directory");
	} else {
		res = open_as_nobody(pchild, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (!check(res == EACCES,
			   "uid 65534 cannot create a region in the mount directory (mode %04o, EACCES)",
			   (unsigned int)(st.st_mode & 07777)))
			diag_nobody(res, EACCES);
	}
	unlink(pchild);

	r = chown(p600, NOBODY_ID, NOBODY_ID);
	e = errno;
	check_ok(r, e, "root can chown a region to 65534:65534");
	r = do_stat(p600, &st);
	if (!check(r == 0 && st.st_uid == NOBODY_ID && st.st_gid == NOBODY_ID,
		   "stat shows uid/gid 65534 after chown"))
		diag("uid %u gid %u", (unsigned int)st.st_uid,
		     (unsigned int)st.st_gid);
	res = open_as_nobody(p600, O_RDWR, 0);
	if (!check(res == 0,
		   "uid 65534 can open its own 0600 region O_RDWR after the chown"))
		diag_nobody(res, 0);

	unlink(p600);
	unlink(p644);
}

static void test_race_create(void)
{
	struct race_result res;
	char path[PATH_MAX], name[32];
	int round;

	for (round = 1; round <= NROUNDS; round++) {
		snprintf(name, sizeof(name), "race_create%d", round);
		region_path(path, name);
		race(RACE_CREATE, path, &res);
		if (!check(res.won == 1 && res.lost == NRACERS - 1 && !res.bad,
			   "round %d: exactly 1 of %d racing O_CREAT|O_EXCL opens succeeds, the rest fail EEXIST",
			   round, NRACERS))
			diag("%d succeeded, %d got EEXIST, %d other",
			     res.won, res.lost, res.bad);
		unlink(path);
	}
}

static void test_race_ftruncate(void)
{
	struct race_result res;
	char path[PATH_MAX], name[32];
	off_t size;
	int round, fd;

	for (round = 1; round <= NROUNDS; round++) {
		snprintf(name, sizeof(name), "race_trunc%d", round);
		region_path(path, name);
		fd = make_region(path, 0);
		race(RACE_FTRUNCATE, path, &res);
		size = fd >= 0 ? fd_size(fd) : -1;
		if (!check(res.won == 1 && res.lost == NRACERS - 1 &&
			   !res.bad && size == align_a,
			   "round %d: exactly 1 of %d racing ftruncate(A) succeeds, the rest fail EINVAL, size is A",
			   round, NRACERS))
			diag("%d succeeded, %d got EINVAL, %d other; st_size %lld",
			     res.won, res.lost, res.bad, (long long)size);
		close_fd(&fd);
		unlink(path);
	}
}

static void test_many(struct namelist *snapshot)
{
	char path[PATH_MAX], name[NAME_MAX + 1];
	struct namelist nl;
	size_t plen, i;
	int nmade = 0, nlisted = 0, nmissing = 0, nunlinked = 0;
	int fd, r;

	for (i = 0; i < NMANY; i++) {
		snprintf(name, sizeof(name), "many%03zu", i);
		region_path(path, name);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd < 0) {
			if (nmade == (int)i)
				diag("creating %s failed: %s", path,
				     strerror(errno));
			continue;
		}
		if (ftruncate(fd, align_a) == 0) {
			nmade++;
		} else if (nmade == (int)i) {
			diag("ftruncate(%s, A) failed: %s", path,
			     strerror(errno));
		}
		close(fd);
	}
	check(nmade == NMANY, "created and sized %d regions", NMANY);

	plen = strlen(prefix);
	r = list_dir(mnt, &nl);
	if (r == 0) {
		for (i = 0; i < nl.n; i++)
			if (strncmp(nl.names[i], prefix, plen) == 0 &&
			    strncmp(nl.names[i] + plen, "many", 4) == 0)
				nlisted++;
		for (i = 0; i < NMANY; i++) {
			snprintf(name, sizeof(name), "%smany%03zu", prefix, i);
			if (!list_has(&nl, name) && nmissing++ < 5)
				diag("readdir does not list %s", name);
		}
	}
	if (!check(r == 0 && nlisted == NMANY && nmissing == 0,
		   "readdir lists each of the %d regions exactly once", NMANY))
		diag("%d listed, %d missing", nlisted, nmissing);
	free_list(&nl);

	for (i = 0; i < NMANY; i++) {
		snprintf(name, sizeof(name), "many%03zu", i);
		region_path(path, name);
		if (unlink(path) == 0)
			nunlinked++;
		else if (nunlinked == (int)i)
			diag("unlink(%s) failed: %s", path, strerror(errno));
	}
	check(nunlinked == NMANY, "unlinked all %d regions", NMANY);

	r = list_dir(mnt, &nl);
	check(r == 0 && snapshot->names && same_names(snapshot, &nl),
	      "readdir of the mount is back to what it was at the start");
	free_list(&nl);
}

/* ------------------------------------------------------------- cleanup */

/*
 * Remove whatever is left of our names: in dir, names starting with our
 * prefix (all names if all is set), descending into directories.
 */
static void sweep(const char *dir, int all)
{
	char path[PATH_MAX];
	struct namelist nl;
	struct stat st;
	size_t i;

	if (list_dir(dir, &nl))
		return;
	for (i = 0; i < nl.n; i++) {
		const char *name = nl.names[i];

		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (!all && strncmp(name, prefix, strlen(prefix)))
			continue;
		join_path(path, dir, name);
		if (lstat(path, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			sweep(path, 1);
			if (rmdir(path))
				diag("cleanup: rmdir(%s) failed: %s", path,
				     strerror(errno));
			else
				diag("cleanup: removed leftover directory %s",
				     path);
		} else {
			if (unlink(path))
				diag("cleanup: unlink(%s) failed: %s", path,
				     strerror(errno));
			else
				diag("cleanup: removed leftover %s", path);
		}
	}
	free_list(&nl);
}

int main(int argc, char **argv)
{
	struct namelist snapshot;

	if (argc > 2) {
		fprintf(stderr, "usage: %s [DIR]\n", argv[0]);
		return 2;
	}
	if (argc == 2)
		mnt = argv[1];
	umask(0);
	snprintf(prefix, sizeof(prefix), "t_%d_", (int)getpid());

	diag("msharefs_test on %s, names start with %s", mnt, prefix);
	if (geteuid() != 0)
		diag("warning: not running as root, many checks will fail");
	if (list_dir(mnt, &snapshot))
		diag("could not take the initial directory snapshot");

	test_statfs();
	test_info();
	test_create();
	test_ftruncate();
	test_fallocate();
	test_limits();
	test_otrunc();
	test_fileops();
	test_two_fds();
	test_unlink();
	test_rename();
	test_dirs();
	test_perms();
	test_race_create();
	test_race_ftruncate();
	test_many(&snapshot);

	sweep(mnt, 0);
	free_list(&snapshot);

	return tap_done();
}

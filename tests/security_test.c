// SPDX-License-Identifier: GPL-2.0
/*
 * security_test: the attacks of the security review (issue 8), one check
 * or a few per item, run as the user who would mount them: an
 * unprivileged user (uid 65534) where the attack is unprivileged.
 *
 * Usage: security_test [DIR]		DIR defaults to /sys/fs/mshare
 *
 * Runs as root (it sets up regions owned by root, loads overlayfs, writes
 * sysctls).  Output is TAP; the exit status is 0 if every check passed.
 *
 *   1. a read-only opener cannot change a region (CREATE, UNMAP, size)
 *   2. a region reached through overlayfs cannot be placed in a region,
 *      neither in another one (the reader would write it) nor in itself
 *   3. an attacher without PROT_EXEC cannot execute a PROT_EXEC object
 *   4. children forked under a 300 us interval timer can use the region
 *   5. kernel.ftrace_enabled=0 cannot switch the fault redirect off (EBUSY;
 *      EOPNOTSUPP where the knob cannot disable ftrace at all, 7.3)
 *   6. raw-PFN objects (/dev/mem, /dev/zero), memfd_secret objects (uid
 *      65534) and 1 GiB hugetlb objects
 *      are refused, and nothing placed before is lost
 *   7. no userfaultfd mode (missing, WP, WP-async, minor) registers on a
 *      read-write attachment
 *   8. before 6.6, no file of a huge=always tmpfs (mounted by uid 65534 in
 *      its own user namespace) can be placed, directly or through an
 *      overlayfs over it; from 6.6 it can
 *   9. MADV_COLD/MADV_PAGEOUT by an attacher over a 2 MiB hugetlb object
 *      (they took its huge pages for THPs and split them: a kernel BUG)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/msharefs.h>
#include <linux/userfaultfd.h>

#include "region.h"
#include "tap.h"
#include "util.h"

#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB	(30 << 26)
#endif

#define A		REGION_ALIGN
#define OBJ		(2UL << 20)
#define RW		(PROT_READ | PROT_WRITE)
#define NFORK		200

static const char *mnt = "/sys/fs/mshare";
static char dir[PATH_MAX];		/* <mnt>/sec_<pid>, mode 01777 */

static void group(const char *title)
{
	diag("---- %s", title);
}

/* A root-owned region of one slot, mode, with a tagged object at 0. */
static int tagged_region(const char *name, mode_t mode, char *path)
{
	char *p;
	int fd;

	fd = region_make(dir, name, mode, A, path);
	if (fd < 0)
		return -1;
	if (region_place_anon(fd, 0, OBJ)) {
		diag("setup: placing the object failed: %s", errname(errno));
		goto fail;
	}
	p = region_attach(fd, A, RW);
	if (!p) {
		diag("setup: attaching failed: %s", errname(errno));
		goto fail;
	}
	strcpy(p, "OWNER-DATA");
	munmap(p, A);
	return fd;
fail:
	close(fd);
	unlink(path);
	return -1;
}

/* Does the region at fd still hold the owner's tag? */
static int tag_intact(int fd)
{
	char *p = region_attach(fd, A, PROT_READ);
	int ok;

	if (!p) {
		diag("attaching to verify failed: %s", errname(errno));
		return 0;
	}
	ok = !strcmp(p, "OWNER-DATA");
	if (!ok)
		diag("the region now holds '%.20s'", p);
	munmap(p, A);
	return ok;
}

/* ------------------------------------------------ 1. read-only opener */

enum ro_op { RO_CREATE, RO_UNMAP, RO_FTRUNCATE, RO_FALLOCATE, RO_MMAP_W,
	     RO_OPEN_W, RO_CHMOD, RO_UNLINK };

struct ro_arg {
	const char *path;
	enum ro_op op;
};

/* Child: returns the errno the operation failed with, 0 if it worked. */
static int ro_child(void *varg)
{
	struct ro_arg *a = varg;
	int fd, r = 0;

	fd = open(a->path, O_RDONLY);
	if (fd < 0)
		return 100;
	switch (a->op) {
	case RO_CREATE:
		r = region_place_anon(fd, 0, OBJ);
		break;
	case RO_UNMAP:
		r = region_unmap(fd, 0, OBJ);
		break;
	case RO_FTRUNCATE:
		r = ftruncate(fd, 2 * A);
		break;
	case RO_FALLOCATE:
		r = fallocate(fd, 0, 0, 2 * A);
		break;
	case RO_MMAP_W:
		r = region_attach(fd, A, RW) ? 0 : -1;
		break;
	case RO_OPEN_W:
		r = open(a->path, O_RDWR);
		r = r < 0 ? -1 : 0;
		break;
	case RO_CHMOD:
		r = fchmod(fd, 0666);
		break;
	case RO_UNLINK:
		r = unlink(a->path);
		break;
	}
	return r ? errno : 0;
}

static void ro_expect(const char *path, enum ro_op op, int want, int want2,
		      const char *what)
{
	struct ro_arg a = { path, op };
	int st = run_as(NOBODY, ro_child, &a);
	int err = WIFEXITED(st) ? WEXITSTATUS(st) : -1;

	if (!check(err == want || (want2 && err == want2),
		   "read-only opener: %s fails with %s", what, errname(want)))
		diag("got %s (%s)", err ? errname(err) : "success",
		     wait_str(st));
}

static void test_readonly(void)
{
	char path[PATH_MAX];
	int fd;

	group("1. a read-only opener (uid 65534, region 0644) cannot change it");
	fd = tagged_region("ro", 0644, path);
	if (!check(fd >= 0, "read-only opener: set-up"))
		return;
	ro_expect(path, RO_UNMAP, EBADF, 0, "MSHAREFS_UNMAP");
	ro_expect(path, RO_CREATE, EBADF, 0, "MSHAREFS_CREATE_MAPPING");
	ro_expect(path, RO_FTRUNCATE, EINVAL, EBADF, "ftruncate");
	ro_expect(path, RO_FALLOCATE, EBADF, 0, "fallocate");
	ro_expect(path, RO_MMAP_W, EACCES, 0, "mmap PROT_WRITE MAP_SHARED");
	ro_expect(path, RO_OPEN_W, EACCES, 0, "open O_RDWR");
	ro_expect(path, RO_CHMOD, EPERM, 0, "fchmod");
	ro_expect(path, RO_UNLINK, EPERM, EACCES, "unlink from a sticky 01777 directory");
	check(tag_intact(fd), "read-only opener: the owner's data is intact");
	close(fd);
	unlink(path);
}

/* ---------------------------------------------- 2. nesting via overlay */

struct nest_arg {
	const char *a_name;	/* root's region, relative to dir */
	char ovl[PATH_MAX];	/* overlay mount point */
	char empty[PATH_MAX];	/* second lower layer */
};

/* Bits of the nesting child's result */
#define NEST_SETUP	1	/* user/mount namespace or overlay failed */
#define NEST_OTHER	2	/* placing A (read-only) in B was accepted */
#define NEST_SELF	4	/* placing B in B was accepted */
#define NEST_WROTE	8	/* and B's attacher could write A */

/*
 * In a child, read (which links the slot) and then write the attachment
 * at m; whether the write went through.  A fault kills only the child.
 */
static int try_write(char *m)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		*(volatile char *)m;
		strcpy(m, "USER-OVERWROTE");
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int nest_child(void *varg)
{
	struct nest_arg *a = varg;
	char bpath[PATH_MAX], cpath[PATH_MAX];
	char p[3 * PATH_MAX], opts[3 * PATH_MAX];
	int bfd, cfd, afd, sfd, res = 0;
	char *m;

	bfd = region_make(dir, "nest_b", 0600, A, bpath);
	cfd = region_make(dir, "nest_c", 0600, A, cpath);
	if (bfd < 0 || cfd < 0)
		return NEST_SETUP;
	/* setuid() made /proc/self root's; the id maps must be ours. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS)) {
		diag("unshare(USER|NS) as uid 65534: %s", errname(errno));
		return NEST_SETUP;
	}
	if (write_file("/proc/self/setgroups", "deny") ||
	    write_file("/proc/self/uid_map", "0 65534 1") ||
	    write_file("/proc/self/gid_map", "0 65534 1")) {
		diag("writing the id maps: %s", errname(errno));
		return NEST_SETUP;
	}
	snprintf(opts, sizeof(opts), "lowerdir=%s:%s", mnt, a->empty);
	if (mount("overlay", a->ovl, "overlay", 0, opts)) {
		diag("mounting overlayfs over %s in a user namespace: %s",
		     mnt, errname(errno));
		return NEST_SETUP;
	}

	snprintf(p, sizeof(p), "%s/%s/%s", a->ovl, strrchr(dir, '/') + 1,
		 a->a_name);
	afd = open(p, O_RDONLY);
	if (afd < 0) {
		diag("opening %s: %s", p, errname(errno));
		return NEST_SETUP;
	}
	/* A region maps whole: the object is all of A, at B's offset 0. */
	if (!region_place(bfd, 0, A, 0, PROT_READ,
			  MAP_SHARED | MAP_FIXED | MAP_POPULATE, afd)) {
		res |= NEST_OTHER;
		m = region_attach(bfd, A, RW);
		if (m && try_write(m))
			res |= NEST_WROTE;
		if (m)
			munmap(m, A);
	} else if (errno != EINVAL) {
		diag("placing the overlay file failed with %s, not EINVAL",
		     errname(errno));
		res |= NEST_OTHER;
	}

	/* Region C, placed in itself through the overlay. */
	snprintf(p, sizeof(p), "%s/%s/nest_c", a->ovl, strrchr(dir, '/') + 1);
	sfd = open(p, O_RDONLY);
	if (sfd < 0) {
		diag("opening %s: %s", p, errname(errno));
		res |= NEST_SETUP;
	} else if (!region_place(cfd, 0, A, 0, PROT_READ,
				 MAP_SHARED | MAP_FIXED, sfd)) {
		res |= NEST_SELF;
	}
	if (sfd >= 0)
		close(sfd);
	close(cfd);
	unlink(cpath);
	close(afd);
	close(bfd);
	unlink(bpath);
	return res;
}

static void test_nesting(void)
{
	struct nest_arg a = { .a_name = "nest_a" };
	char apath[PATH_MAX];
	int fd, st, res;

	group("2. no region in a region, whatever path the file takes (overlayfs)");
	if (system("modprobe overlay 2>/dev/null"))
		diag("modprobe overlay failed (built in?)");
	snprintf(a.ovl, sizeof(a.ovl), "/tmp/sec_ovl_%d", (int)getpid());
	snprintf(a.empty, sizeof(a.empty), "/tmp/sec_empty_%d", (int)getpid());
	if (mkdir(a.ovl, 0777) || mkdir(a.empty, 0777) ||
	    chmod(a.ovl, 0777) || chmod(a.empty, 0777)) {
		check(0, "nesting: set-up of the overlay directories");
		return;
	}
	fd = tagged_region(a.a_name, 0644, apath);
	if (!check(fd >= 0, "nesting: set-up of root's region (0644)"))
		goto out;
	st = run_as(NOBODY, nest_child, &a);
	res = WIFEXITED(st) ? WEXITSTATUS(st) : NEST_SETUP;
	if (!check(!(res & NEST_SETUP),
		   "nesting: uid 65534 mounts overlayfs over msharefs in its own namespaces"))
		diag("child: %s", wait_str(st));
	check(!(res & NEST_OTHER),
	      "nesting: placing root's region, opened read-only through overlayfs, in the user's region fails with EINVAL");
	check(!(res & NEST_SELF),
	      "nesting: placing a region in itself through overlayfs fails");
	check(!(res & NEST_WROTE) && tag_intact(fd),
	      "nesting: root's region is intact (the reader did not write it)");
	close(fd);
	unlink(apath);
out:
	rmdir(a.ovl);
	rmdir(a.empty);
}

/* ------------------------------------------------------------ 3. NX */

static int exec_child(void *varg)
{
	void (*fn)(void) = (void (*)(void))varg;

	/* A read first: the slot is linked before the instruction fetch. */
	*(volatile char *)varg;
	fn();
	return 0;
}

/* Run the code at p in a child (as root); its wait status. */
static int try_exec(char *p)
{
	int st;
	pid_t pid = fork();

	if (pid == 0)
		_exit(exec_child(p));
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

static void test_nx(void)
{
	char path[PATH_MAX];
	char *p, *x;
	int fd, st;

	group("3. an attacher without PROT_EXEC never executes region memory");
	fd = region_make(dir, "nx", 0600, A, path);
	if (!check(fd >= 0, "NX: set-up"))
		return;
	if (!check(!region_place(fd, 0, OBJ, 0, PROT_READ | PROT_WRITE | PROT_EXEC,
				 MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS, -1),
		   "NX: a PROT_READ|PROT_WRITE|PROT_EXEC object is placed"))
		goto out;
	p = region_attach(fd, A, RW);
	x = region_attach(fd, A, PROT_READ | PROT_EXEC);
	if (!check(p && x, "NX: attached read-write and read-exec"))
		goto out;
	p[0] = (char)0xc3;	/* ret; the write links the slot */
	st = try_exec(p);
	if (!check(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
		   "NX: calling into the PROT_READ|PROT_WRITE attachment dies of SIGSEGV"))
		diag("child: %s", wait_str(st));
	st = try_exec(x);
	if (!check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "NX: calling into the PROT_READ|PROT_EXEC attachment of the same object works"))
		diag("child: %s", wait_str(st));
	munmap(p, A);
	munmap(x, A);
out:
	close(fd);
	unlink(path);
}

/* ---------------------------------------------- 4. fork under signals */

static volatile sig_atomic_t ticks;

static void on_tick(int sig)
{
	(void)sig;
	ticks++;
}

static void test_fork_signals(void)
{
	struct itimerval it = { { 0, 300 }, { 0, 300 } };
	struct sigaction sa;
	char path[PATH_MAX];
	int fd, i, st, bad = 0, forked = 0;
	char *p;

	group("4. fork under a 300 us interval timer: every child can use the region");
	fd = tagged_region("fork", 0600, path);
	if (!check(fd >= 0, "fork: set-up"))
		return;
	p = region_attach(fd, A, RW);
	if (!check(p && !strcmp(p, "OWNER-DATA"), "fork: parent attached")) {
		close(fd);
		unlink(path);
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tick;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	for (i = 0; i < NFORK; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			struct itimerval off = { { 0, 0 }, { 0, 0 } };

			setitimer(ITIMER_REAL, &off, NULL);
			_exit(strcmp(p, "OWNER-DATA") ? 1 : 0);
		}
		if (pid < 0)
			continue;
		forked++;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			if (!bad)
				diag("child %d: %s", i, wait_str(st));
			bad++;
		}
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_DFL);
	diag("%d children forked, %d timer signals, %d bad", forked,
	     (int)ticks, bad);
	check(forked == NFORK && bad == 0,
	      "fork: all %d children forked under signals read the region", NFORK);
	munmap(p, A);
	close(fd);
	unlink(path);
}

/* ---------------------------------------------------- 7. userfaultfd */

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY	1
#endif
#define UFFD_WP_ASYNC		(1ULL << 15)	/* UFFD_FEATURE_WP_ASYNC, 6.7+ */

struct uffd_arg {
	const char *path;
	__u64 mode;		/* UFFDIO_REGISTER_MODE_* */
	__u64 features;		/* asked for in UFFDIO_API */
};

/*
 * Child (uid 65534): register an attachment with userfaultfd.  0 if the
 * registration was refused, 1 if it was accepted, 2 if userfaultfd itself
 * is not available in this form (the API call failed).
 */
static int uffd_child(void *varg)
{
	struct uffd_arg *a = varg;
	struct uffdio_api api = { .api = UFFD_API, .features = a->features };
	struct uffdio_register reg;
	int fd, uffd;
	char *p;

	fd = open(a->path, O_RDWR);
	if (fd < 0)
		return 3;
	p = region_attach(fd, A, RW);
	if (!p)
		return 3;
	*(volatile char *)p;	/* linked, as a real user's would be */
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
		return 2;
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (unsigned long)p;
	reg.range.len = OBJ;
	reg.mode = a->mode;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		if (errno != EPERM && errno != EINVAL)
			diag("UFFDIO_REGISTER failed with %s", errname(errno));
		return 0;
	}
	return 1;
}

static void test_uffd(void)
{
	static const struct {
		const char *name;
		__u64 mode, features;
	} modes[] = {
		{ "MISSING", UFFDIO_REGISTER_MODE_MISSING, 0 },
		{ "WP", UFFDIO_REGISTER_MODE_WP, 0 },
		{ "WP with WP_ASYNC", UFFDIO_REGISTER_MODE_WP, UFFD_WP_ASYNC },
		{ "MINOR", UFFDIO_REGISTER_MODE_MINOR, 0 },
	};
	char path[PATH_MAX];
	struct uffd_arg a;
	unsigned int i;
	int fd, st, r;

	group("7. no userfaultfd mode registers on an attachment");
	fd = tagged_region("uffd", 0666, path);
	if (!check(fd >= 0, "uffd: set-up"))
		return;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		a.path = path;
		a.mode = modes[i].mode;
		a.features = modes[i].features;
		st = run_as(NOBODY, uffd_child, &a);
		r = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (r == 2) {
			diag("userfaultfd with features %#llx is not available here",
			     (unsigned long long)a.features);
			continue;
		}
		if (!check(r == 0, "uffd: registering %s on a read-write attachment fails (uid 65534)",
			   modes[i].name))
			diag("child: %s", wait_str(st));
	}
	check(tag_intact(fd), "uffd: the region is intact");
	close(fd);
	unlink(path);
}

/* ------------------------------------------------ 8. huge tmpfs */

struct hugetmpfs_arg {
	const char *where;
	int overlay;	/* reach the file through an overlayfs over the tmpfs */
};

/*
 * Child (uid 65534): mount a huge=always tmpfs in its own namespaces and
 * place a file of it in its own region, directly or as the file of an
 * overlay whose lower layer is the tmpfs (overlayfs hands mmap the real
 * file: checks must look at that one).  The placement's errno, 0 if it
 * worked, 100+ if the set-up failed.
 */
static int hugetmpfs_child(void *varg)
{
	const struct hugetmpfs_arg *a = varg;
	char path[PATH_MAX], lo[PATH_MAX], em[PATH_MAX], ov[PATH_MAX];
	char file[PATH_MAX + 8], opts[2 * PATH_MAX + 32];
	int fd, ffd, r, err;

	fd = region_make(dir, a->overlay ? "hugeovl" : "hugetmpfs", 0600, A,
			 path);
	if (fd < 0)
		return 100;
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) ||
	    write_file("/proc/self/setgroups", "deny") ||
	    write_file("/proc/self/uid_map", "0 65534 1") ||
	    write_file("/proc/self/gid_map", "0 65534 1"))
		return 101;
	if (mount("tmpfs", a->where, "tmpfs", 0, "huge=always,size=16m")) {
		diag("mount tmpfs -o huge=always in a user namespace: %s",
		     errname(errno));
		return 102;
	}
	/* <where>/l/f the file, <where>/e empty, <where>/o the overlay */
	snprintf(lo, sizeof(lo), "%s/l", a->where);
	snprintf(em, sizeof(em), "%s/e", a->where);
	snprintf(ov, sizeof(ov), "%s/o", a->where);
	snprintf(file, sizeof(file), "%s/f", lo);
	if (mkdir(lo, 0700) || mkdir(em, 0700) || mkdir(ov, 0700))
		return 103;
	ffd = open(file, O_RDWR | O_CREAT, 0600);
	if (ffd < 0 || ftruncate(ffd, OBJ))
		return 103;
	if (a->overlay) {
		close(ffd);
		snprintf(opts, sizeof(opts), "lowerdir=%s:%s", lo, em);
		if (mount("overlay", ov, "overlay", 0, opts)) {
			diag("overlay over the tmpfs: %s", errname(errno));
			return 104;
		}
		snprintf(file, sizeof(file), "%s/f", ov);
		ffd = open(file, O_RDONLY);
		if (ffd < 0)
			return 105;
	}
	r = region_place(fd, 0, OBJ, 0, a->overlay ? PROT_READ : RW,
			 MAP_SHARED | MAP_FIXED, ffd);
	err = errno;
	close(ffd);
	close(fd);
	unlink(path);
	return r ? err : 0;
}

static void test_huge_tmpfs(void)
{
	static const char *const how[2] = { "", " through an overlayfs" };
	struct hugetmpfs_arg a;
	char where[PATH_MAX];
	int st, r, unsafe = kernel_version() < 606;

	group("8. tmpfs with huge pages (a user namespace can mount one)");
	snprintf(where, sizeof(where), "/tmp/sec_huge_%d", (int)getpid());
	if (mkdir(where, 0777) || chmod(where, 0777)) {
		check(0, "huge tmpfs: set-up");
		return;
	}
	a.where = where;
	for (a.overlay = 0; a.overlay < 2; a.overlay++) {
		st = run_as(NOBODY, hugetmpfs_child, &a);
		r = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (unsafe) {
			if (!check(r == EINVAL, "huge tmpfs: before 6.6 (khugepaged frees shared tables at once) placing a huge=always tmpfs file%s fails with EINVAL", how[a.overlay]))
				diag("got %s (%s)", r > 0 && r < 100 ? errname(r) : "other", wait_str(st));
		} else {
			if (!check(r == 0, "huge tmpfs: from 6.6 (tables freed after RCU) placing a huge=always tmpfs file%s works", how[a.overlay]))
				diag("got %s (%s)", r > 0 && r < 100 ? errname(r) : "other", wait_str(st));
		}
	}
	rmdir(where);
}

/* ------------------------------------ 9. MADV_COLD over hugetlb */

static int madv_child(void *varg)
{
	const char *path = varg;
	int fd = open(path, O_RDWR), bad = 0;
	char *p;

	if (fd < 0)
		return 100;
	p = region_attach(fd, A, RW);
	if (!p)
		return 101;
	memset(p, 7, 2 * OBJ);
	/* Part of a huge page, then all of them. */
	bad += madvise(p + 4096, 4096, MADV_COLD) != 0;
	bad += madvise(p, 2 * OBJ, MADV_COLD) != 0;
	bad += madvise(p + 4096, 4096, MADV_PAGEOUT) != 0;
	bad += madvise(p, 2 * OBJ, MADV_PAGEOUT) != 0;
	bad += p[4096] != 7 || p[2 * OBJ - 1] != 7;
	return bad;
}

static void test_madv_hugetlb(void)
{
	char path[PATH_MAX];
	int fd, st;

	group("9. MADV_COLD/MADV_PAGEOUT over a 2 MiB hugetlb object (uid 65534)");
	if (write_file("/proc/sys/vm/nr_hugepages", "4")) {
		check(0, "madvise: reserve 4 huge pages");
		return;
	}
	fd = region_make(dir, "madv", 0666, A, path);
	if (!check(fd >= 0 && !region_place(fd, 0, 2 * OBJ, 0, RW,
					    MAP_SHARED | MAP_FIXED |
					    MAP_ANONYMOUS | MAP_HUGETLB |
					    MAP_POPULATE, -1),
		   "madvise: a 4 MiB hugetlb object placed"))
		goto out;
	st = run_as(NOBODY, madv_child, path);
	if (!check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "madvise: MADV_COLD and MADV_PAGEOUT over part of and all of it succeed and keep the data"))
		diag("child: %s", wait_str(st));
out:
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	write_file("/proc/sys/vm/nr_hugepages", "0");
}

/* ------------------------------------------------------ 5. ftrace */

static void test_ftrace(void)
{
	const char *ctl = "/proc/sys/kernel/ftrace_enabled";
	char buf[16];
	int r, err;

	group("5. the fault redirect cannot be switched off through ftrace");
	r = write_file(ctl, "0");
	err = errno;
	if (!r)
		write_file(ctl, "1");	/* the old module: undo it at once */
	/*
	 * EBUSY: the hook's ops are FTRACE_OPS_FL_PERMANENT.  Newer kernels
	 * (7.3) refuse every write of 0 with EOPNOTSUPP: the knob no longer
	 * disables ftrace at all.
	 */
	if (r && err == EOPNOTSUPP)
		diag("this kernel's ftrace_enabled cannot disable ftrace at all (EOPNOTSUPP)");
	check_err2(r, err, EBUSY, EOPNOTSUPP,
		   "ftrace: sysctl kernel.ftrace_enabled=0 fails while mshare is loaded");
	check(read_file(ctl, buf, sizeof(buf)) > 0 && buf[0] == '1',
	      "ftrace: kernel.ftrace_enabled is still 1");
}

/* ------------------------------------------------- 6. object types */

/*
 * uid 65534: a memfd_secret() object must be refused (EINVAL): its pages
 * are out of the kernel's direct map, and the kernel's own accesses through
 * an attachment (/proc/self/mem: an oops) would use it.  Returns 0 if
 * refused, 1 if placed, 2 if memfd_secret() is not available.
 */
static int secret_child(void *arg)
{
	char path[PATH_MAX];
	int fd, sfd, r;

	(void)arg;
	sfd = syscall(SYS_memfd_secret, 0);
	if (sfd < 0 || ftruncate(sfd, 4096))
		return 2;
	fd = region_make(dir, "secret", 0600, REGION_ALIGN, path);
	if (fd < 0)
		return 3;
	r = region_place(fd, 0, 4096, 0, RW, MAP_SHARED | MAP_FIXED, sfd);
	unlink(path);
	return r < 0 && errno == EINVAL ? 0 : 1;
}

static void test_objects(void)
{
	char path[PATH_MAX];
	int fd, dev, r, err;

	group("6. raw-PFN and 1 GiB hugetlb objects are refused");
	fd = tagged_region("obj", 0600, path);
	if (!check(fd >= 0, "objects: set-up"))
		return;
	dev = open("/dev/mem", O_RDWR);
	if (check(dev >= 0, "objects: /dev/mem opens (root)")) {
		r = region_place(fd, 0, 4096, 0, RW, MAP_SHARED | MAP_FIXED, dev);
		err = errno;
		check_err(r, err, ENODEV, "objects: placing /dev/mem over an object fails with ENODEV");
		close(dev);
	}
	dev = open("/dev/zero", O_RDWR);
	if (dev >= 0) {
		r = region_place(fd, OBJ, OBJ, 0, RW, MAP_SHARED | MAP_FIXED, dev);
		err = errno;
		check_err(r, err, ENODEV, "objects: placing /dev/zero (a character device) fails with ENODEV");
		close(dev);
	}
	check(tag_intact(fd), "objects: the object placed before is intact");
	r = run_as(NOBODY, secret_child, NULL);
	if (!check(WIFEXITED(r) && WEXITSTATUS(r) == 0,
		   "objects: a memfd_secret object fails with EINVAL (uid 65534)"))
		diag("child: %s (1: placed, 2: no memfd_secret)", wait_str(r));
	if (access("/sys/kernel/mm/hugepages/hugepages-1048576kB", F_OK))
		diag("this CPU has no 1 GiB pages: the next check cannot tell the old code from the new");
	r = region_place(fd, 1UL << 30, 1UL << 30, 0, RW,
			 MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS | MAP_HUGETLB |
			 MAP_NORESERVE | MAP_HUGE_1GB, -1);
	err = errno;
	check_err(r, err, EINVAL, "objects: an anonymous 1 GiB hugetlb object fails with EINVAL");
	close(fd);
	unlink(path);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		mnt = argv[1];
	setvbuf(stdout, NULL, _IONBF, 0);
	if (region_dir(mnt, "sec", dir))
		return tap_done();
	test_readonly();
	test_nesting();
	test_nx();
	test_fork_signals();
	test_ftrace();
	test_objects();
	test_uffd();
	test_huge_tmpfs();
	test_madv_hugetlb();
	if (rmdir(dir))
		diag("cleanup: rmdir %s: %s", dir, errname(errno));
	return tap_done();
}

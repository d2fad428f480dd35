// SPDX-License-Identifier: GPL-2.0
/*
 * notify_test: a secondary MMU (KVM, an IOMMU with SVA, a GPU or RDMA
 * driver) that caches an attacher's translations hears of changes only
 * through the mmu notifiers of the attacher's own mm.  When the host mm of
 * a region changes, those notifiers must be told, for the attacher's
 * virtual range and with the same event type, just as they are for a plain
 * MAP_SHARED mapping of the same kind of object.
 *
 * Usage: notify_test [DIR]		DIR defaults to /sys/fs/mshare
 *
 * Runs as root: it loads the test-only module /tests/mncount.ko (or
 * $MNCOUNT_KO) if /dev/mncount is absent, and registers counting notifiers
 * (tests/mncount/mncount.h) on its own mm.  Output is TAP; the exit status
 * is 0 if every check passed.
 *
 *   a. baselines on a plain MAP_SHARED memfd mapping: a 1 MiB hole punched
 *      in the 2 MiB memfd, munmap, and an anonymous MAP_FIXED mapping over
 *      it; what the kernel tells the notifier is printed as diag lines
 *   b. the same hole punched in a memfd placed in a region and attached
 *   c. MSHAREFS_UNMAP of the attached object
 *   d. MSHAREFS_CREATE_MAPPING of an anonymous object over the attached one
 *   e. (in b-d) starts == ends, and secondary-TLB callbacks where the plain
 *      mapping had them
 *   f. a second attacher (a forked child) is told of the punch too
 *   h. forwarding skips an attacher whose mm has no subscriber but mshare's
 *      own: in a fresh mm with two attachments, a notifier registered
 *      before both, after both or between them (also interval notifiers,
 *      and before two late attaches) still hears a punch in either object
 *
 * Each step of b-f touches every page of the object through the attachment
 * (reads and writes) before its notifier is registered, and checks that at
 * least one invalidate_range_start arrived, that ends match starts, that
 * the event types are those of the plain mapping, and that the union of
 * the ranges lies in the attacher's mapping of the object and covers what
 * changed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/msharefs.h>

#include "mncount/mncount.h"
#include "region.h"
#include "tap.h"
#include "util.h"

#define A		REGION_ALIGN
#define OBJ		(2UL << 20)	/* the object */
#define HOLE		(1UL << 20)	/* the punched hole: [0, HOLE) */
#define PAGE		4096UL
#define RW		(PROT_READ | PROT_WRITE)

#define EV_UNMAP	0		/* MMU_NOTIFY_UNMAP */
#define EV_OTHER	MNCOUNT_NEVENTS	/* bit for events >= 8 */

static const char *mnt = "/sys/fs/mshare";
static char dir[PATH_MAX];		/* <mnt>/notify_<pid> */

static const char *const ev_names[MNCOUNT_NEVENTS] = {
	"UNMAP", "CLEAR", "PROTECTION_VMA", "PROTECTION_PAGE", "SOFT_DIRTY",
	"RELEASE", "MIGRATE", "EXCLUSIVE",
};

/* What the kernel told the notifier of one plain-mapping baseline. */
struct baseline {
	int valid;
	struct mncount_counts c;
};

static struct baseline base_punch, base_munmap, base_fixed;

static void group(const char *title)
{
	diag("---- %s", title);
}

/* ------------------------------------------------------- the counter */

/*
 * A counting notifier on this process's mm for [start, start + len), with
 * its counters zeroed.  Returns its fd, or -1 with a diag line.
 */
static int watch_as(const void *start, size_t len, unsigned long how)
{
	struct mncount_range r = {
		.start = (uintptr_t)start,
		.end = (uintptr_t)start + len,
	};
	int fd = open(MNCOUNT_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		diag("open %s: %s", MNCOUNT_DEV, errname(errno));
		return -1;
	}
	if (ioctl(fd, how, &r) || ioctl(fd, MNCOUNT_RESET)) {
		diag("registering the notifier failed: %s", errname(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The same with a classic notifier (as KVM and IOMMU SVA register). */
static int watch(const void *start, size_t len)
{
	return watch_as(start, len, MNCOUNT_REGISTER);
}

/* Read the counters of fd and close it.  Returns 0, or -1 with a diag. */
static int collect(int fd, struct mncount_counts *c)
{
	int r = ioctl(fd, MNCOUNT_GET, c);

	if (r)
		diag("MNCOUNT_GET failed: %s", errname(errno));
	close(fd);
	return r ? -1 : 0;
}

/* Bit e set for every event e seen; EV_OTHER for events >= 8. */
static unsigned int ev_mask(const struct mncount_counts *c)
{
	unsigned int m = 0;
	int e;

	for (e = 0; e < MNCOUNT_NEVENTS; e++)
		if (c->events[e])
			m |= 1U << e;
	if (c->other_events)
		m |= 1U << EV_OTHER;
	return m;
}

static const char *ev_str(unsigned int mask)
{
	static char buf[160];
	size_t n = 0;
	int e;

	buf[0] = 0;
	for (e = 0; e <= EV_OTHER; e++) {
		if (!(mask & (1U << e)))
			continue;
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? "," : "",
			      e < MNCOUNT_NEVENTS ? ev_names[e] : ">=8");
	}
	return n ? buf : "none";
}

/* A diag line with everything the notifier saw, addresses relative to b. */
static void dump(const char *what, const struct mncount_counts *c,
		 const void *b)
{
	uint64_t base = (uintptr_t)b;
	char ev[200];
	size_t n = 0;
	int e;

	ev[0] = 0;
	for (e = 0; e < MNCOUNT_NEVENTS; e++)
		if (c->events[e])
			n += snprintf(ev + n, sizeof(ev) - n, " %s=%llu",
				      ev_names[e],
				      (unsigned long long)c->events[e]);
	if (c->other_events)
		snprintf(ev + n, sizeof(ev) - n, " other=%llu",
			 (unsigned long long)c->other_events);
	diag("%s: starts %llu ends %llu secondary-TLB %llu; events:%s; non-blocking %llu",
	     what, (unsigned long long)c->starts,
	     (unsigned long long)c->ends, (unsigned long long)c->tlbs,
	     n ? ev : " none", (unsigned long long)c->nonblock);
	if (c->starts)
		diag("%s: start ranges span [base%+lld, base%+lld)", what,
		     (long long)(c->min_start - base),
		     (long long)(c->max_end - base));
	if (c->tlbs)
		diag("%s: secondary-TLB ranges span [%#llx, %#llx) (base %#llx)",
		     what, (unsigned long long)c->tlb_min,
		     (unsigned long long)c->tlb_max,
		     (unsigned long long)base);
	if (c->outside_starts || c->outside_tlbs || c->releases)
		diag("%s: outside the range: %llu starts, %llu secondary-TLB; releases %llu",
		     what, (unsigned long long)c->outside_starts,
		     (unsigned long long)c->outside_tlbs,
		     (unsigned long long)c->releases);
}

/* -------------------------------------------------------- the objects */

/* A 2 MiB memfd. */
static int memfd(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0) {
		diag("memfd_create: %s", errname(errno));
		return -1;
	}
	if (ftruncate(fd, OBJ)) {
		diag("ftruncate(memfd): %s", errname(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Read, then write, every page of [p, p + OBJ): links and dirties it all. */
static void touch(char *p, char tag)
{
	volatile char *v = p;
	unsigned long off;
	char sum = 0;

	for (off = 0; off < OBJ; off += PAGE)
		sum += v[off];
	for (off = 0; off < OBJ; off += PAGE)
		v[off] = (char)(tag + off / PAGE % 64) | 1;
	(void)sum;
}

/* Did the hole [0, HOLE) become zeros while the rest kept its tags? */
static int hole_intact(const char *p, char tag)
{
	unsigned long off;

	for (off = 0; off < OBJ; off += PAGE) {
		char want = off < HOLE ? 0 : (char)(tag + off / PAGE % 64) | 1;

		if (p[off] != want) {
			diag("byte at +%#lx is %d, want %d", off, p[off], want);
			return 0;
		}
	}
	return 1;
}

static int punch(int fd)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      HOLE)) {
		diag("fallocate(PUNCH_HOLE): %s", errname(errno));
		return -1;
	}
	return 0;
}

/* -------------------------------------------------- a. the baselines */

enum base_op { OP_PUNCH, OP_MUNMAP, OP_FIXED };

static void baseline(enum base_op op, struct baseline *out, const char *what)
{
	char *p = MAP_FAILED, *at = NULL;
	int mfd, nfd = -1, r = -1;

	mfd = memfd("plain");
	if (mfd < 0)
		goto out;
	p = mmap(NULL, OBJ, RW, MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED) {
		diag("mmap(memfd): %s", errname(errno));
		goto out;
	}
	at = p;
	touch(p, 'p');
	nfd = watch(p, OBJ);
	if (nfd < 0)
		goto out;
	switch (op) {
	case OP_PUNCH:
		r = punch(mfd);
		break;
	case OP_MUNMAP:
		r = munmap(p, OBJ);
		if (r)
			diag("munmap: %s", errname(errno));
		else
			p = MAP_FAILED;
		break;
	case OP_FIXED:
		r = mmap(p, OBJ, RW, MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS |
			 MAP_POPULATE, -1, 0) == p ? 0 : -1;
		if (r)
			diag("mmap MAP_FIXED over: %s", errname(errno));
		break;
	}
	if (!r)
		r = collect(nfd, &out->c);
	else
		close(nfd);
	out->valid = !r;
	if (out->valid)
		dump(what, &out->c, at);
out:
	check(out->valid && out->c.starts >= 1,
	      "a: plain mapping, %s: the notifier sees >= 1 invalidate_range_start", what);
	check(out->valid && out->c.ends == out->c.starts,
	      "a: plain mapping, %s: invalidate_range_end calls == starts", what);
	if (p != MAP_FAILED)
		munmap(p, OBJ);
	if (mfd >= 0)
		close(mfd);
}

/* ------------------------------------------- b-f. the attacher checks */

/*
 * The checks of one attacher step: c is what the notifier on
 * [at, at + OBJ) saw, b the plain mapping's baseline; [at + lo, at + hi)
 * must be covered; want_ev >= 0 is an event that must be among them.
 */
static void check_step(const char *step, const struct mncount_counts *c,
		       const struct baseline *b, const char *at,
		       unsigned long lo, unsigned long hi, int want_ev)
{
	uint64_t s = (uintptr_t)at;

	check(c->starts >= 1,
	      "%s: the attacher's notifier sees >= 1 invalidate_range_start", step);
	check(c->ends == c->starts,
	      "e: %s: invalidate_range_end calls (%llu) == starts (%llu)",
	      step, (unsigned long long)c->ends,
	      (unsigned long long)c->starts);
	if (b->valid)
		check(c->starts && ev_mask(c) == ev_mask(&b->c),
		      "%s: the same event types as on a plain mapping (%s)",
		      step, ev_str(ev_mask(&b->c)));
	else
		check(0, "%s: the same event types as on a plain mapping (no baseline)",
		      step);
	if (want_ev >= 0)
		check(c->events[want_ev] >= 1, "%s: event MMU_NOTIFY_%s (%d) seen",
		      step, ev_names[want_ev], want_ev);
	if (!check(c->starts && c->min_start >= s && c->max_end <= s + OBJ &&
		   c->min_start <= s + lo && c->max_end >= s + hi,
		   "%s: the ranges lie in the attacher's mapping of the object and cover [+%#lx, +%#lx)",
		   step, lo, hi) && c->starts)
		diag("%s: got [base%+lld, base%+lld)", step,
		     (long long)(c->min_start - s),
		     (long long)(c->max_end - s));
	if (b->valid && b->c.tlbs)
		check(c->tlbs >= 1,
		      "e: %s: >= 1 secondary-TLB callback (the plain mapping had %llu)",
		      step, (unsigned long long)b->c.tlbs);
	else
		skip("the plain mapping had no secondary-TLB callback",
		     "e: %s: >= 1 secondary-TLB callback", step);
}

/*
 * A region of one slot under dir, with a 2 MiB memfd (*mfd) or, if mfd is
 * NULL, a populated anonymous object placed at 0, attached and touched.
 * Returns the region fd (*at the attachment), or -1 after a failed check.
 */
static int attached(const char *step, const char *name, int *mfd, char **at,
		    char *path)
{
	int fd, r;

	*at = NULL;
	if (mfd)
		*mfd = -1;
	fd = region_make(dir, name, 0600, A, path);
	if (fd < 0)
		goto fail;
	if (mfd) {
		*mfd = memfd(name);
		if (*mfd < 0)
			goto fail;
		r = region_place(fd, 0, OBJ, 0, RW, MAP_SHARED | MAP_FIXED,
				 *mfd);
	} else {
		r = region_place_anon(fd, 0, OBJ);
	}
	if (r) {
		diag("%s: placing the object failed: %s", step, errname(errno));
		goto fail;
	}
	*at = region_attach(fd, A, RW);
	if (!*at) {
		diag("%s: attaching failed: %s", step, errname(errno));
		goto fail;
	}
	touch(*at, 'm');
	return fd;
fail:
	check(0, "%s: set-up", step);
	if (mfd && *mfd >= 0)
		close(*mfd);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	return -1;
}

static void detach(int fd, char *at, int mfd, const char *path)
{
	if (at)
		munmap(at, A);
	if (mfd >= 0)
		close(mfd);
	close(fd);
	unlink(path);
}

static void test_punch(void)
{
	static const char step[] = "b: hole punch";
	struct mncount_counts c;
	char path[PATH_MAX], *at;
	int fd, mfd, nfd;

	group("b. a hole punched in a placed memfd reaches the attacher's notifiers");
	fd = attached(step, "punch", &mfd, &at, path);
	if (fd < 0)
		return;
	nfd = watch(at, OBJ);
	if (!check(nfd >= 0 && !punch(mfd) && !collect(nfd, &c),
		   "%s: set-up", step))
		goto out;
	dump(step, &c, at);
	check_step(step, &c, &base_punch, at, 0, HOLE, -1);
	check(hole_intact(at, 'm'),
	      "%s: through the attachment the hole reads zeros, the rest its data",
	      step);
out:
	detach(fd, at, mfd, path);
}

static void test_unmap(void)
{
	static const char step[] = "c: MSHAREFS_UNMAP";
	struct mncount_counts c;
	char path[PATH_MAX], *at;
	int fd, mfd, nfd;

	group("c. MSHAREFS_UNMAP of an attached object reaches the attacher's notifiers");
	fd = attached(step, "unmap", &mfd, &at, path);
	if (fd < 0)
		return;
	nfd = watch(at, OBJ);
	if (nfd < 0 || region_unmap(fd, 0, OBJ)) {
		if (nfd >= 0)
			diag("%s: MSHAREFS_UNMAP failed: %s", step,
			     errname(errno));
		check(0, "%s: set-up", step);
		if (nfd >= 0)
			close(nfd);
		goto out;
	}
	if (!check(!collect(nfd, &c), "%s: set-up", step))
		goto out;
	dump(step, &c, at);
	check_step(step, &c, &base_munmap, at, 0, OBJ, EV_UNMAP);
out:
	detach(fd, at, mfd, path);
}

static void test_create_over(void)
{
	static const char step[] = "d: CREATE_MAPPING over";
	struct mncount_counts c;
	char path[PATH_MAX], *at;
	int fd, nfd;
	unsigned long off;
	int zero = 1;

	group("d. CREATE_MAPPING over an attached object reaches the attacher's notifiers");
	fd = attached(step, "create", NULL, &at, path);
	if (fd < 0)
		return;
	nfd = watch(at, OBJ);
	if (nfd < 0 || region_place_anon(fd, 0, OBJ)) {
		if (nfd >= 0)
			diag("%s: MSHAREFS_CREATE_MAPPING failed: %s", step,
			     errname(errno));
		check(0, "%s: set-up", step);
		if (nfd >= 0)
			close(nfd);
		goto out;
	}
	if (!check(!collect(nfd, &c), "%s: set-up", step))
		goto out;
	dump(step, &c, at);
	check_step(step, &c, &base_fixed, at, 0, OBJ, -1);
	for (off = 0; off < OBJ && zero; off += PAGE)
		zero = !at[off];
	check(zero, "%s: through the attachment the new object reads zeros",
	      step);
out:
	detach(fd, at, -1, path);
}

/*
 * f: the parent and a forked child (its own attachment, vm_ops->open) both
 * watch; the parent punches; both must be told.
 */
static void test_two(void)
{
	static const char step[] = "f: second attacher";
	struct mncount_counts c, cc;
	char path[PATH_MAX], *at, x;
	int fd, mfd, nfd = -1, ready[2] = { -1, -1 }, go[2] = { -1, -1 };
	int status, got = 0;
	pid_t pid;

	group("f. a second attacher (a forked child) is told of the punch too");
	fd = attached(step, "two", &mfd, &at, path);
	if (fd < 0)
		return;
	if (pipe(ready) || pipe(go)) {
		check(0, "%s: set-up: pipe: %s", step, errname(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		check(0, "%s: set-up: fork: %s", step, errname(errno));
		goto out;
	}
	if (pid == 0) {
		alarm(60);
		close(ready[0]);
		close(go[1]);
		touch(at, 'm');		/* the child's own links */
		nfd = watch(at, OBJ);
		if (nfd < 0)
			_exit(2);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &x, 1) != 1)
			_exit(3);
		if (collect(nfd, &cc))
			_exit(4);
		if (write(ready[1], &cc, sizeof(cc)) != sizeof(cc))
			_exit(5);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	ready[1] = go[0] = -1;
	if (read(ready[0], &x, 1) != 1) {
		check(0, "%s: set-up: the child did not get ready", step);
		goto reap;
	}
	nfd = watch(at, OBJ);
	if (nfd < 0 || punch(mfd) || collect(nfd, &c)) {
		check(0, "%s: set-up", step);
		goto reap;
	}
	got = write(go[1], "g", 1) == 1 &&
	      read(ready[0], &cc, sizeof(cc)) == sizeof(cc);
reap:
	close(go[1]);
	go[1] = -1;
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	if (!check(got && WIFEXITED(status) && !WEXITSTATUS(status),
		   "%s: set-up: the child watched and reported", step)) {
		diag("child: %s", wait_str(status));
		goto out;
	}
	dump("f: parent", &c, at);
	dump("f: child", &cc, at);
	check(c.starts >= 1 && c.ends == c.starts,
	      "%s: the parent's notifier sees >= 1 start and as many ends", step);
	check(cc.starts >= 1 && cc.ends == cc.starts,
	      "%s: the child's notifier sees >= 1 start and as many ends", step);
	check(cc.starts && cc.min_start >= (uintptr_t)at &&
	      cc.max_end <= (uintptr_t)at + OBJ &&
	      cc.min_start <= (uintptr_t)at &&
	      cc.max_end >= (uintptr_t)at + HOLE,
	      "%s: the child's ranges lie in its mapping of the object and cover the hole",
	      step);
out:
	if (ready[0] >= 0)
		close(ready[0]);
	if (ready[1] >= 0)
		close(ready[1]);
	if (go[0] >= 0)
		close(go[0]);
	if (go[1] >= 0)
		close(go[1]);
	detach(fd, at, mfd, path);
}

/*
 * g. Notifiers registered on an attacher while host changes are being
 * forwarded to it: each must hear every end together with its start (KVM
 * BUG()s on 6.1 otherwise).  A child replaces a populated 64 MiB object
 * over and over; this process registers and drops counting notifiers on
 * its attachment meanwhile.
 */
static void test_register_race(void)
{
	struct mncount_range r;
	struct mncount_counts c;
	char path[PATH_MAX + 8];
	int fd, nfd, regs = 0, bad = 0, seen = 0;
	time_t until;
	pid_t pid;
	char *at;

	group("g. registrations during forwarded host changes stay balanced");
	snprintf(path, sizeof(path), "%s/race", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (!check(fd >= 0 && !ftruncate(fd, (off_t)REGION_ALIGN) &&
		   !region_place_anon(fd, 0, 64UL << 20),
		   "g: set-up (a populated 64 MiB object)"))
		goto out;
	at = region_attach(fd, REGION_ALIGN, PROT_READ | PROT_WRITE);
	if (!check(at != NULL, "g: attach"))
		goto out;
	pid = fork();
	if (pid == 0) {
		for (;;) {
			if (region_unmap(fd, 0, 64UL << 20) ||
			    region_place_anon(fd, 0, 64UL << 20))
				_exit(1);
		}
	}
	r.start = (uintptr_t)at;
	r.end = (uintptr_t)at + (64UL << 20);
	until = time(NULL) + 4;
	while (time(NULL) < until) {
		nfd = open(MNCOUNT_DEV, O_RDWR | O_CLOEXEC);
		if (nfd < 0 || ioctl(nfd, MNCOUNT_REGISTER, &r)) {
			if (nfd >= 0)
				close(nfd);
			continue;
		}
		regs++;
		usleep(500);
		if (!ioctl(nfd, MNCOUNT_GET, &c)) {
			seen += c.starts > 0;
			bad += c.ends > c.starts;
		}
		close(nfd);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	diag("g: %d registrations, %d saw host changes, %d saw an end without its start",
	     regs, seen, bad);
	check(regs > 0 && bad == 0,
	      "g: no notifier registered during forwarded host changes heard an end without its start");
	munmap(at, REGION_ALIGN);
out:
	if (fd >= 0)
		close(fd);
	unlink(path);
}

/*
 * h. Only the attachments whose mm may have a subscriber other than
 * mshare's own notifiers are told (src/attach.c, mshare_self_regs), so
 * each way a subscriber can meet attachments must still be heard: marked
 * at the attach because the mm had subscribers (notifier first; the second
 * attach of "between"; the late attaches, made by the module's worker), or
 * by the registration (notifier last; the first attach of "between"; the
 * same with an interval notifier, HMM's kind, whose first insert in an mm
 * registers, and a second interval notifier, which does not register, after
 * two attaches marked by the first).  Last, an attachment replaced by a
 * MAP_FIXED attach of the other region: the new one is told, the old one
 * no more.
 * Each order runs in a forked child, whose mm starts with no subscriber:
 * two regions, each holding a 2 MiB memfd, attached side by side at
 * [base, base + 2 slots), one counting notifier over both; a hole is then
 * punched in each memfd in turn.
 */
enum mark_order {
	WATCH_FIRST, WATCH_LAST, WATCH_BETWEEN, WATCH_FIRST_LATE,
	INTERVAL_BETWEEN,	/* an interval notifier (HMM's kind) */
	INTERVAL_TWICE,		/* one before, then the one counted after */
	WATCH_REPLACE,		/* notifier first; object 1 mapped over 0 */
};

struct mark_report {
	int err;			/* 0, or the child's step that failed */
	uint64_t base;
	uint64_t late;			/* registrations interrupted */
	struct mncount_counts c[2];	/* what each punch made it hear */
};

static void mark_child(enum mark_order order, const int fd[2],
		       const int mfd[2], int out)
{
	struct mark_report rep = { 0 };
	uint64_t late0 = 0;
	char *base, *at;
	int nfd = -1, first = -1, i;

	alarm(60);
	base = mmap(NULL, 3 * A, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	rep.err = 1;
	if (base == MAP_FAILED || munmap(base, 3 * A))
		goto out;
	base = (char *)(((uintptr_t)base + A - 1) & ~(uintptr_t)(A - 1));
	rep.base = (uintptr_t)base;
	rep.err = 2;
	/*
	 * The first interval notifier of an mm registers; a later one
	 * does not, and is told through the marks the first one made.
	 */
	if (order == INTERVAL_TWICE &&
	    (first = watch_as(base, 2 * A, MNCOUNT_REGISTER_INTERVAL)) < 0)
		goto out;
	if ((order == WATCH_FIRST || order == WATCH_FIRST_LATE ||
	     order == WATCH_REPLACE) &&
	    ((nfd = watch(base, 2 * A)) < 0 ||
	     ioctl(nfd, MNCOUNT_INTERRUPTED, &late0)))
		goto out;
	for (i = 0; i < 2; i++) {
		rep.err = 3 + i;
		/* the attach fails to register: the first fault attaches */
		if (order == WATCH_FIRST_LATE && ioctl(nfd, MNCOUNT_INTERRUPT))
			goto out;
		/*
		 * WATCH_REPLACE: the second attach replaces the first
		 * (6.12 closes the old VMA before the new one registers).
		 */
		at = mmap(base + (order == WATCH_REPLACE ? 0 : i * A), A, RW,
			  MAP_SHARED | MAP_FIXED, fd[i], 0);
		if (at == MAP_FAILED)
			goto out;
		touch(at, 'h');
		rep.err = 5;
		if (order == WATCH_BETWEEN && !i &&
		    (nfd = watch(base, 2 * A)) < 0)
			goto out;
		if (order == INTERVAL_BETWEEN && !i &&
		    (nfd = watch_as(base, 2 * A,
				    MNCOUNT_REGISTER_INTERVAL)) < 0)
			goto out;
	}
	rep.err = 6;
	if (order == WATCH_LAST && (nfd = watch(base, 2 * A)) < 0)
		goto out;
	if (order == INTERVAL_TWICE &&
	    (nfd = watch_as(base, 2 * A, MNCOUNT_REGISTER_INTERVAL)) < 0)
		goto out;
	rep.err = 7;
	if (ioctl(nfd, MNCOUNT_INTERRUPTED, &rep.late))
		goto out;
	rep.late -= late0;
	for (i = 0; i < 2; i++) {
		rep.err = 8 + i;
		if (ioctl(nfd, MNCOUNT_RESET) || punch(mfd[i]) ||
		    ioctl(nfd, MNCOUNT_GET, &rep.c[i]))
			goto out;
	}
	rep.err = 0;
out:
	if (write(out, &rep, sizeof(rep)) != sizeof(rep))
		_exit(1);
	_exit(0);
}

static void test_marking(enum mark_order order, const char *step)
{
	const struct baseline *b = &base_punch;
	char path[2][PATH_MAX], name[32];
	int fd[2] = { -1, -1 }, mfd[2] = { -1, -1 }, p[2], i, status;
	struct mark_report rep;
	uint64_t lo;
	pid_t pid;
	int got;

	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "mark%d_%d", (int)order, i);
		fd[i] = region_make(dir, name, 0600, A, path[i]);
		mfd[i] = fd[i] < 0 ? -1 : memfd(name);
		if (mfd[i] < 0 ||
		    region_place(fd[i], 0, OBJ, 0, RW, MAP_SHARED | MAP_FIXED,
				 mfd[i])) {
			check(0, "%s: set-up: region %d", step, i);
			goto out;
		}
	}
	if (pipe(p)) {
		check(0, "%s: set-up: pipe: %s", step, errname(errno));
		goto out;
	}
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		mark_child(order, fd, mfd, p[1]);
	}
	close(p[1]);
	got = pid > 0 && read(p[0], &rep, sizeof(rep)) == sizeof(rep);
	close(p[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		status = -1;
	if (!check(got && !rep.err && WIFEXITED(status) &&
		   !WEXITSTATUS(status), "%s: set-up in the child", step)) {
		diag("%s: child step %d, %s", step, got ? rep.err : -1,
		     wait_str(status));
		goto out;
	}
	if (order == WATCH_FIRST_LATE)
		check(rep.late >= 2,
		      "%s: both attaches were made late, by the module's worker (%llu registrations interrupted)",
		      step, (unsigned long long)rep.late);
	for (i = 0; i < 2; i++) {
		const struct mncount_counts *c = &rep.c[i];

		if (order == WATCH_REPLACE && !i) {
			check(!c->starts,
			      "%s: the replaced object's punch is not told to the mm that no longer attaches it (%llu starts)",
			      step, (unsigned long long)c->starts);
			continue;
		}
		lo = rep.base + (order == WATCH_REPLACE ? 0 : i * A);
		check(c->starts >= 1 && c->ends == c->starts,
		      "%s: a punch in object %d: >= 1 start (%llu) and as many ends (%llu)",
		      step, i, (unsigned long long)c->starts,
		      (unsigned long long)c->ends);
		if (!check(c->starts && c->min_start >= lo &&
			   c->max_end <= lo + OBJ && c->min_start <= lo &&
			   c->max_end >= lo + HOLE,
			   "%s: object %d's ranges lie in its attachment and cover the hole",
			   step, i) && c->starts)
			diag("%s: got [%#llx, %#llx), attachment at %#llx",
			     step, (unsigned long long)c->min_start,
			     (unsigned long long)c->max_end,
			     (unsigned long long)lo);
		if (order == INTERVAL_BETWEEN || order == INTERVAL_TWICE)
			continue;	/* interval notifiers have no TLB callback */
		if (b->valid && b->c.tlbs)
			check(c->tlbs >= 1,
			      "%s: a punch in object %d: >= 1 secondary-TLB callback (the plain mapping had %llu)",
			      step, i, (unsigned long long)b->c.tlbs);
		else
			skip("the plain mapping had no secondary-TLB callback",
			     "%s: a punch in object %d: >= 1 secondary-TLB callback",
			     step, i);
	}
out:
	for (i = 0; i < 2; i++) {
		if (mfd[i] >= 0)
			close(mfd[i]);
		if (fd[i] >= 0) {
			close(fd[i]);
			unlink(path[i]);
		}
	}
}

int main(int argc, char **argv)
{
	int loaded;

	if (argc > 1)
		mnt = argv[1];
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!check(mncount_load(&loaded), "set-up: %s is there (mncount.ko loaded)",
		   MNCOUNT_DEV))
		return tap_done();
	snprintf(dir, sizeof(dir), "%s/notify_%d", mnt, (int)getpid());
	if (mkdir(dir, 0700)) {
		check(0, "set-up: mkdir %s: %s", dir, errname(errno));
		return tap_done();
	}

	group("a. baselines: what the kernel tells a plain MAP_SHARED memfd mapping");
	baseline(OP_PUNCH, &base_punch, "hole punch");
	baseline(OP_MUNMAP, &base_munmap, "munmap");
	baseline(OP_FIXED, &base_fixed, "MAP_FIXED anonymous over");
	test_punch();
	test_unmap();
	test_create_over();
	test_two();
	test_register_race();
	group("h. forwarding reaches every subscriber, however it met the attachments");
	test_marking(WATCH_FIRST, "h: notifier before both attaches");
	test_marking(WATCH_LAST, "h: notifier after both attaches");
	test_marking(WATCH_BETWEEN, "h: notifier between the attaches");
	test_marking(WATCH_FIRST_LATE, "h: notifier before two late attaches");
	test_marking(INTERVAL_BETWEEN, "h: interval notifier between the attaches");
	test_marking(INTERVAL_TWICE, "h: a second interval notifier after the attaches");
	test_marking(WATCH_REPLACE, "h: notifier first, then an attach replaced by MAP_FIXED");

	if (rmdir(dir))
		diag("cleanup: rmdir %s: %s", dir, errname(errno));
	if (loaded && syscall(SYS_delete_module, "mncount", O_NONBLOCK))
		diag("cleanup: unloading mncount: %s", errname(errno));
	return tap_done();
}

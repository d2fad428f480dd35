// SPDX-License-Identifier: GPL-2.0
/*
 * access_test: /proc/PID/mem and ptrace reach an attachment's memory at
 * every moment, with the attachment's rights and no more.
 *
 * Usage: access_test [DIR]		DIR defaults to /sys/fs/mshare
 *
 * Their GUP cannot let the mmap lock go, so it cannot wait for what a
 * fault of an attachment sometimes must: the attachment itself, when the
 * notifier registration at mmap or fork was interrupted by a signal (the
 * mapping is attached late, by its first fault), and a host change in
 * progress.  The module then serves them through vm_ops->access.  The
 * interruption is made at will with the test module's trap
 * (tests/mncount: MNCOUNT_INTERRUPT), which is what a signal or io_uring
 * task work arriving during the registration does.
 *
 * Runs as root; the attack in 3 runs as uid 65534.  Output is TAP; the exit
 * status is 0 if every check passed.
 *
 *   1. an mmap whose registration was interrupted: /proc/self/mem reads
 *      and writes a 4 KiB and a 2 MiB hugetlb object before any CPU touch,
 *      and the CPU sees what was written
 *   2. a fork whose child's registration was interrupted: the child reads
 *      and writes through /proc/self/mem, and its parent through ptrace
 *      (PEEKDATA, POKEDATA), before the child touches anything
 *   3. a read-only attacher (uid 65534) whose registration was
 *      interrupted cannot write through /proc/self/mem (FOLL_FORCE), and
 *      nothing changes; it can read
 *   4. /proc/self/mem reads of an attached object never fail while another
 *      thread places and unmaps another object of the region (each a host
 *      change, which cuts every link for a moment)
 *   5. /proc/self/cmdline of a process whose argument strings were moved
 *      into an attachment (prctl PR_SET_MM_MAP) reads nothing, as for any
 *      mapping that is not anonymous memory: those reads must never wait
 *      for an object's file I/O (FOLL_ANON)
 *   6. nor does a read that only starts before the attachment: the
 *      argument strings end in an anonymous page just below it without a
 *      terminating NUL, so cmdline reads on into the attachment
 *      (setproctitle's rule), where a file object's page is not in memory:
 *      cmdline gives the anonymous bytes, and the page is not read in
 *      (mincore of the file stays 0).  The file is on vfat (a brd RAM
 *      disk), which stands for FUSE and network filesystems: a
 *      filesystem outside mshare's list of local ones
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mncount/mncount.h"
#include "region.h"
#include "tap.h"
#include "util.h"

#define A		REGION_ALIGN
#define RW		(PROT_READ | PROT_WRITE)
#define HPAGE		(2UL << 20)
#define SMALL		(16 * 4096UL)	/* the 4 KiB object at 0 */
#define HOFF		HPAGE		/* the hugetlb object (one page) */
#define CHURN		(1UL << 30)	/* 4.'s changing object */
#define CHANGE_SECS	3		/* how long 4. runs */

static const char *mnt = "/sys/fs/mshare";
static char dir[PATH_MAX];		/* <mnt>/access_<pid> */
static int mnc = -1;			/* /dev/mncount */
static int memfd = -1;			/* /proc/self/mem */

/* The registrations the trap has interrupted so far (-1: unknown). */
static long long interrupted(void)
{
	uint64_t n;

	return ioctl(mnc, MNCOUNT_INTERRUPTED, &n) ? -1 : (long long)n;
}

/* Attach with the registration interrupted; checks that it was. */
static char *attach_interrupted(int fd, int prot, const char *what)
{
	long long before = interrupted();
	char *p;

	if (ioctl(mnc, MNCOUNT_INTERRUPT)) {
		diag("MNCOUNT_INTERRUPT: %s", errname(errno));
		return NULL;
	}
	p = region_attach(fd, A, prot);
	if (!check(p && interrupted() == before + 1,
		   "%s: mmap succeeds with its notifier registration interrupted",
		   what)) {
		diag("mmap: %s; interrupted %lld -> %lld", p ? "ok" : errname(errno),
		     before, interrupted());
		if (p)
			munmap(p, A);
		return NULL;
	}
	return p;
}

static ssize_t mem_read(int fd, void *buf, size_t n, const void *at)
{
	return pread(fd, buf, n, (off_t)(uintptr_t)at);
}

static ssize_t mem_write(int fd, const void *buf, size_t n, void *at)
{
	return pwrite(fd, buf, n, (off_t)(uintptr_t)at);
}

/*
 * Through /proc/self/mem: read the 16 bytes at p (which must hold byte
 * old), write new there, read it back.  Returns 0 or a failing step.
 */
static int mem_rw(void *p, char old, char new, const char **why)
{
	char buf[16], want[16];

	memset(want, old, sizeof(want));
	if (mem_read(memfd, buf, sizeof(buf), p) != sizeof(buf)) {
		*why = "read";
		return -1;
	}
	if (memcmp(buf, want, sizeof(buf))) {
		*why = "read back the wrong bytes";
		return -1;
	}
	memset(want, new, sizeof(want));
	if (mem_write(memfd, want, sizeof(want), p) != sizeof(want)) {
		*why = "write";
		return -1;
	}
	if (mem_read(memfd, buf, sizeof(buf), p) != sizeof(buf) ||
	    memcmp(buf, want, sizeof(buf))) {
		*why = "read after write";
		return -1;
	}
	return 0;
}

/* A region with a 4 KiB object at 0 and a 2 MiB hugetlb one at HOFF. */
static int make_region(const char *name, mode_t mode, char *path)
{
	int fd = region_make(dir, name, mode, A, path);

	if (fd < 0)
		return -1;
	if (region_place_anon(fd, 0, SMALL) ||
	    region_place(fd, HOFF, HPAGE, 0, RW,
			 MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS | MAP_HUGETLB,
			 -1)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Fill the objects through an ordinary attachment: 4 KiB a, huge b. */
static int fill(int fd, char a, char b)
{
	char *p = region_attach(fd, A, RW);

	if (!p)
		return -1;
	memset(p, a, SMALL);
	memset(p + HOFF, b, HPAGE);
	munmap(p, A);
	return 0;
}

/* Detach p (if attached), close fd and remove the region at path (if any). */
static void drop_region(char *p, int fd, const char *path)
{
	if (p)
		munmap(p, A);
	if (fd >= 0)
		close(fd);
	if (path[0])
		unlink(path);
}

/* -------------------------------------------------- 1. a late mmap */

static void test_mmap(void)
{
	char path[PATH_MAX] = "";
	const char *why = "";
	char *p = NULL;
	int fd;

	diag("1. mmap with an interrupted registration");
	fd = make_region("mmap", 0600, path);
	if (!check(fd >= 0 && !fill(fd, 'a', 'b'),
		   "mmap: a 4 KiB and a 2 MiB hugetlb object placed and filled"))
		goto out;
	p = attach_interrupted(fd, RW, "mmap");
	if (!p)
		goto out;
	/* An offset inside the huge page: the subpage must be the right one. */
	if (!check(!mem_rw(p + 4096, 'a', 'c', &why),
		   "mmap: /proc/self/mem reads and writes the 4 KiB object before any touch"))
		diag("failed at: %s (%s)", why, errname(errno));
	if (!check(!mem_rw(p + HOFF + HPAGE / 2 + 100, 'b', 'd', &why),
		   "mmap: /proc/self/mem reads and writes the hugetlb object before any touch"))
		diag("failed at: %s (%s)", why, errname(errno));
	check(p[4096] == 'c' && p[4096 + 15] == 'c' && p[4096 + 16] == 'a' &&
	      p[HOFF + HPAGE / 2 + 100] == 'd' && p[HOFF] == 'b',
	      "mmap: the CPU sees what /proc/self/mem wrote, and only that");
out:
	drop_region(p, fd, path);
}

/* -------------------------------------------------- 2. a late fork */

static void test_fork(void)
{
	char path[PATH_MAX] = "";
	long long before;
	int fd, st, ok;
	char *p = NULL;
	long word;
	pid_t pid;

	diag("2. fork with the child's registration interrupted");
	fd = make_region("fork", 0600, path);
	if (!check(fd >= 0 && !fill(fd, 'e', 'f'),
		   "fork: objects placed and filled"))
		goto out;
	p = region_attach(fd, A, RW);
	if (!check(p != NULL, "fork: attached"))
		goto out;
	before = interrupted();
	if (ioctl(mnc, MNCOUNT_INTERRUPT)) {
		check(0, "fork: MNCOUNT_INTERRUPT: %s", errname(errno));
		goto out;
	}
	pid = fork();
	if (pid == 0) {
		const char *why = "";
		int mfd = open("/proc/self/mem", O_RDWR);

		alarm(60);
		if (mfd < 0)
			_exit(10);
		memfd = mfd;
		if (mem_rw(p, 'e', 'g', &why))
			_exit(11);
		if (mem_rw(p + HOFF + 8192, 'f', 'h', &why))
			_exit(12);
		/* The parent peeks and pokes next; only then touch. */
		raise(SIGSTOP);
		_exit(p[0] == 'g' && p[HOFF + 8192] == 'h' &&
		      p[4096] == 'i' ? 0 : 13);
	}
	if (!check(pid > 0 && interrupted() == before + 1,
		   "fork: the child's registration was interrupted")) {
		diag("interrupted %lld -> %lld", before, interrupted());
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		}
		goto out;
	}
	/* Stopped by its own SIGSTOP: reads and writes went through. */
	ok = waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st);
	if (!check(ok, "fork: the child read and wrote through /proc/self/mem before any touch")) {
		diag("child: %s", wait_str(st));
		goto out;
	}
	ok = !ptrace(PTRACE_SEIZE, pid, 0, 0);
	errno = 0;
	word = ok ? ptrace(PTRACE_PEEKDATA, pid, p + 4096, 0) : -1;
	ok = ok && !errno && (word & 0xff) == 'e';
	ok = ok && !ptrace(PTRACE_POKEDATA, pid, p + 4096,
			   (void *)(0x6969696969696969UL));
	if (!check(ok, "fork: the parent peeks and pokes the child's attachment (ptrace)"))
		diag("ptrace: %s, word %#lx", errname(errno), word);
	kill(pid, SIGCONT);
	ptrace(PTRACE_DETACH, pid, 0, 0);
	while (waitpid(pid, &st, 0) == pid && !WIFEXITED(st) &&
	       !WIFSIGNALED(st))
		;
	if (!check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "fork: the child's CPU sees what was written"))
		diag("child: %s", wait_str(st));
	check(p[0] == 'g' && p[HOFF + 8192] == 'h' && p[4096] == 'i',
	      "fork: the parent sees the child's writes");
out:
	drop_region(p, fd, path);
}

/* ---------------------------------------- 3. a late read-only attacher */

/* uid 65534: attach read-only, late, and try to write through the mem file */
static int ro_child(void *arg)
{
	const char *path = arg;
	char buf[16], junk[16];
	int fd, mfd;
	char *p;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 20;
	if (ioctl(mnc, MNCOUNT_INTERRUPT))
		return 21;
	p = region_attach(fd, A, PROT_READ);
	if (!p)
		return 22;
	/* setuid() made it undumpable: /proc/self would be root's */
	prctl(PR_SET_DUMPABLE, 1);
	mfd = open("/proc/self/mem", O_RDWR);
	if (mfd < 0)
		return 23;
	memset(junk, 'X', sizeof(junk));
	if (mem_write(mfd, junk, sizeof(junk), p) >= 0 ||
	    mem_write(mfd, junk, sizeof(junk), p + HOFF) >= 0)
		return 24;
	if (mem_read(mfd, buf, sizeof(buf), p) != sizeof(buf) || buf[0] != 'k')
		return 25;
	return 0;
}

static void test_readonly(void)
{
	char path[PATH_MAX] = "";
	long long before;
	char *p = NULL;
	int fd, st;

	diag("3. a read-only attacher (uid 65534) with an interrupted registration");
	fd = make_region("ro", 0644, path);
	if (!check(fd >= 0 && !fill(fd, 'k', 'l'),
		   "read-only: objects placed and filled"))
		goto out;
	before = interrupted();
	st = run_as(NOBODY, ro_child, path);
	if (!check(WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
		   interrupted() == before + 1,
		   "read-only: with its registration interrupted, its /proc/self/mem writes fail and reads work"))
		diag("child: %s; interrupted %lld -> %lld", wait_str(st),
		     before, interrupted());
	p = region_attach(fd, A, PROT_READ);
	check(p && p[0] == 'k' && p[15] == 'k' && p[HOFF] == 'l',
	      "read-only: the objects are unchanged");
out:
	drop_region(p, fd, path);
}

/* ------------------------------------------ 4. during host changes */

struct churn {
	int fd;
	volatile int stop;
	long changes, errors;
};

static void *churn_fn(void *arg)
{
	struct churn *c = arg;

	while (!c->stop) {
		if (region_place_anon(c->fd, CHURN, SMALL) ||
		    region_unmap(c->fd, CHURN, SMALL))
			c->errors++;
		else
			c->changes += 2;
	}
	return NULL;
}

static void test_change(void)
{
	struct churn c = { .fd = -1 };
	char path[PATH_MAX] = "", buf[16];
	long reads = 0, fails = 0;
	int first_err = 0;
	struct timespec t0, t;
	pthread_t th;
	char *p = NULL;

	diag("4. /proc/self/mem during host changes");
	c.fd = make_region("change", 0600, path);
	if (!check(c.fd >= 0 && !fill(c.fd, 'm', 'n'),
		   "change: objects placed and filled"))
		goto out;
	p = region_attach(c.fd, A, RW);
	if (!check(p && p[0] == 'm', "change: attached and linked"))
		goto out;
	if (!check(!pthread_create(&th, NULL, churn_fn, &c),
		   "change: the changing thread runs"))
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (mem_read(memfd, buf, sizeof(buf), p + 8192) != sizeof(buf) ||
		    buf[0] != 'm' || buf[15] != 'm') {
			if (!fails++)
				first_err = errno;
		}
		reads++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < CHANGE_SECS);
	c.stop = 1;
	pthread_join(th, NULL);
	if (!check(fails == 0 && c.errors == 0 && c.changes > 0,
		   "change: %ld /proc/self/mem reads during %ld host changes, none failed",
		   reads, c.changes))
		diag("%ld reads failed (first: %s), %ld changes failed", fails,
		     errname(first_err), c.errors);
out:
	drop_region(p, c.fd, path);
}

/* ------------------------------------------------ 5. /proc/PID/cmdline */

/* Point this process's argument strings at [start, start + len). */
static int set_args(char *start, size_t len)
{
	unsigned long long v[52] = { 0 };
	struct prctl_mm_map m;
	char buf[4096], *s;
	int i;

	if (read_file("/proc/self/stat", buf, sizeof(buf)) < 0)
		return -1;
	s = strrchr(buf, ')');
	for (i = 2; i <= 50 && s; i++) {	/* s is before field i + 1 */
		s = strchr(s, ' ');
		if (s)
			v[i + 1] = strtoull(++s, NULL, 10);
	}
	memset(&m, 0, sizeof(m));
	m.start_code = v[26];
	m.end_code = v[27];
	m.start_stack = v[28];
	m.start_data = v[45];
	m.end_data = v[46];
	m.start_brk = v[47];
	m.brk = (unsigned long)sbrk(0);
	m.arg_start = (unsigned long)start;
	m.arg_end = (unsigned long)start + len;
	m.env_start = v[50];
	m.env_end = v[51];
	m.exe_fd = -1;
	return prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof(m), 0);
}

/* Child: args at [p, p + len); the bytes cmdline gives, or 100 + */
static int cmdline_child(char *p, size_t len)
{
	char buf[256];
	ssize_t n;

	if (set_args(p, len))
		return 100;
	n = read_file("/proc/self/cmdline", buf, sizeof(buf));
	return n < 0 ? 101 : (int)n;
}

static int cmdline_of(char *p, size_t len)
{
	pid_t pid = fork();
	int st;

	if (pid == 0)
		_exit(cmdline_child(p, len));
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void test_cmdline(void)
{
	char path[PATH_MAX] = "";
	int fd, mfd, plain, att;
	char *p = NULL, *q = MAP_FAILED;

	diag("5. /proc/self/cmdline of arguments in an attachment");
	mfd = memfd_create("args", 0);
	if (mfd >= 0 && !ftruncate(mfd, 4096))
		q = mmap(NULL, 4096, RW, MAP_SHARED, mfd, 0);
	fd = make_region("cmdline", 0600, path);
	if (fd >= 0)
		p = region_attach(fd, A, RW);
	if (!check(q != MAP_FAILED && p, "cmdline: a shared memfd and an attachment mapped"))
		goto out;
	strcpy(q, "REGIONDATA");
	strcpy(p, "REGIONDATA");
	plain = cmdline_of(q, 11);
	att = cmdline_of(p, 11);
	if (!check(plain == 0 && att == 0,
		   "cmdline: reads nothing of an attachment, as of a shared memfd"))
		diag("bytes read: memfd %d, attachment %d (100: prctl failed: %s)",
		     plain, att, errname(errno));
out:
	if (q != MAP_FAILED)
		munmap(q, 4096);
	if (mfd >= 0)
		close(mfd);
	drop_region(p, fd, path);
}

#define DISK	"/mnt/access"

/* Whether page 0 of the file is in the page cache (mincore: no fault). */
static int resident(int ffd)
{
	unsigned char vec = 0;
	void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ffd, 0);

	if (m == MAP_FAILED)
		return -1;
	if (mincore(m, 4096, &vec))
		vec = 0xff;
	munmap(m, 4096);
	return vec == 0xff ? -1 : (vec & 1);
}

static void test_proctitle(void)
{
	char path[PATH_MAX] = "", buf[4096];
	int fd = -1, ffd = -1, n, before = -1, after = -1;
	char *p = NULL, *below = MAP_FAILED;

	diag("6. cmdline reading on into an attachment's vfat object");
	if (!check(!system("/sbin/modprobe brd rd_nr=1 rd_size=8192 && "
			   "mkdosfs /dev/ram0 >/dev/null 2>&1 && mkdir -p " DISK
			   " && mount -t vfat /dev/ram0 " DISK),
		   "proctitle: vfat on a brd RAM disk"))
		return;
	memset(buf, 'F', sizeof(buf));
	ffd = open(DISK "/object", O_RDWR | O_CREAT, 0600);
	if (ffd < 0 || pwrite(ffd, buf, sizeof(buf), 0) != sizeof(buf) ||
	    fsync(ffd))
		goto out;
	fd = region_make(dir, "title", 0600, A, path);
	if (fd >= 0 && !region_place(fd, 0, 4096, 0, RW, MAP_SHARED | MAP_FIXED, ffd))
		p = region_attach(fd, A, RW);
	if (p)
		below = mmap(p - 4096, 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS |
			     MAP_FIXED_NOREPLACE, -1, 0);
	if (!check(p && below == p - 4096,
		   "proctitle: a vfat object placed and attached, an anonymous page below"))
		goto out;
	memset(below, 'X', 4096);
	write_file("/proc/sys/vm/drop_caches", "3");
	before = resident(ffd);
	n = cmdline_of(p - 16, 16);	/* no NUL at the end: reads on */
	after = resident(ffd);
	if (!check(before == 0 && after == 0 && n >= 16 && n < 100,
		   "proctitle: cmdline gives the anonymous bytes and reads nothing of the object in"))
		diag("object page resident before %d, after %d; cmdline gave %d bytes",
		     before, after, n);
out:
	if (below != MAP_FAILED)
		munmap(below, 4096);
	drop_region(p, fd, path);
	if (ffd >= 0)
		close(ffd);
	if (system("umount " DISK " && /sbin/modprobe -r brd"))
		diag("cleanup: umount or brd removal failed");
}

int main(int argc, char **argv)
{
	int loaded = 0;

	if (argc > 1)
		mnt = argv[1];
	snprintf(dir, sizeof(dir), "%s/access_%d", mnt, (int)getpid());
	if (!check(!mkdir(dir, 0755), "set-up: %s created", dir))
		return tap_done();
	if (!check(!write_file("/proc/sys/vm/nr_hugepages", "8"),
		   "set-up: huge pages reserved"))
		goto out;
	if (!check(mncount_load(&loaded), "set-up: %s is there (mncount.ko loaded)",
		   MNCOUNT_DEV))
		goto out;
	mnc = open(MNCOUNT_DEV, O_RDWR | O_CLOEXEC);
	memfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (!check(mnc >= 0 && memfd >= 0, "set-up: %s and /proc/self/mem open",
		   MNCOUNT_DEV))
		goto out;

	test_mmap();
	test_fork();
	test_readonly();
	test_change();
	test_cmdline();
	test_proctitle();
out:
	if (mnc >= 0)
		close(mnc);
	if (loaded && syscall(SYS_delete_module, "mncount", O_NONBLOCK))
		diag("rmmod mncount: %s", errname(errno));
	write_file("/proc/sys/vm/nr_hugepages", "0");
	rmdir(dir);
	return tap_done();
}

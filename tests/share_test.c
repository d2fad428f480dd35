// SPDX-License-Identifier: GPL-2.0
/*
 * share_test: userspace checks of memory sharing through msharefs regions:
 * placing objects with MSHAREFS_CREATE_MAPPING / MSHAREFS_UNMAP, attaching
 * with mmap, what attached processes see, what is refused, and what it
 * costs in page tables.
 *
 * Usage: share_test [DIR]		DIR defaults to /sys/fs/mshare
 *
 * DIR must be the root of an msharefs mount; the program must run as root
 * (it writes /proc/sys/vm/nr_hugepages and /proc/sys/vm/stat_refresh and
 * restores nr_hugepages).  Output is TAP: one "ok N - ..." or
 * "not ok N - ..." line per check, "# ..." diagnostics, and the plan "1..N"
 * at the end.  The exit status is 0 if every check passed, 1 otherwise.
 *
 * Groups of checks, in order:
 *   1. basic sharing between attached, forked and doubly mapped processes
 *   2. several objects in one region, and in the second slot of a 2*A one
 *   3. file-backed objects (memfd, tmpfs file, O_RDONLY file)
 *   4. hugetlb objects (skipped when huge pages cannot be reserved)
 *   5. refusals (mmap, mprotect, munmap, mremap, CREATE_MAPPING, UNMAP)
 *      and MADV_DONTNEED
 *   6. UNMAP, and re-creating an object at the same offset
 *   7. economy: page tables and page faults of 100 attachers
 *   8. cross-CPU: a reader on CPU 1 sees objects replaced on CPU 0
 *   9. read-only attach: no write path into an O_RDONLY attachment
 *  10. process-shared futexes (mutex and condition variable) in a region
 *  11. leaks: page tables (but for this process's own) and Shmem back to
 *      their start values, to the page
 *
 * Everything the program creates is named "s_<pid>_..." (regions in DIR,
 * one file in /tmp) and is removed before it exits, whether the checks
 * passed or not, and also when the overall time limit fires.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/msharefs.h>

#include "tap.h"
#include "util.h"

#define PAGE_SZ		4096ULL
#define KIB		1024ULL
#define MIB		(1024ULL * KIB)
#define GIB		(1024ULL * MIB)
#define REGION_A	549755813888ULL		/* 512 GiB, the alignment */
#define USER_TOP	0x7ffffffff000ULL	/* top of a 47-bit address space */

#define RW		(PROT_READ | PROT_WRITE)
#define SHFIX		(MAP_SHARED | MAP_FIXED)
#define NO_FD		(-1)

#define TOTAL_TIMEOUT	120	/* seconds; the whole program */
#define CHILD_TIMEOUT	60	/* seconds; a child that takes longer dies */

/* Time limits are multiplied by this: 5 on the debug kernel, else 1. */
static unsigned int slow = 1;
#define REPORT_TIMEOUT	40000	/* ms to wait for reports of children */

#define NECON		100	/* processes of the economy checks */
#define ECON_SIZE	(64 * MIB)
#define NROUNDS_XCPU	20
#define NFUTEX_ITER	10000

/* Exit statuses of children */
#define CHILD_OK	0
#define CHILD_FAIL	1	/* a check in the child failed (it said why) */
#define CHILD_SKIP	2	/* a part could not be attempted */
#define CHILD_SETUP	3	/* the child could not get ready */

static const char *mnt = "/sys/fs/mshare";
static char prefix[32];

/* ---------------------------------------------------------------- output */

static void group(const char *title)
{
	diag("---- %s", title);
}

/* -------------------------------------------- children and the registry */

/*
 * Children still to be reaped and paths still to be removed, so that the
 * SIGALRM handler can clean up if the time limit fires.
 */
#define MAX_LIVE	(NECON + 32)
#define MAX_PATHS	16

static volatile pid_t live[MAX_LIVE];
static char cpaths[MAX_PATHS][PATH_MAX];
static volatile sig_atomic_t cpath_used[MAX_PATHS];

static char old_nr_huge[32];		/* nr_hugepages at the start */
static volatile sig_atomic_t huge_changed;

static void live_add(pid_t pid)
{
	int i;

	for (i = 0; i < MAX_LIVE; i++) {
		if (!live[i]) {
			live[i] = pid;
			return;
		}
	}
}

static void live_del(pid_t pid)
{
	int i;

	for (i = 0; i < MAX_LIVE; i++)
		if (live[i] == pid)
			live[i] = 0;
}

static void reg_path(const char *path)
{
	int i;

	for (i = 0; i < MAX_PATHS; i++) {
		if (!cpath_used[i]) {
			snprintf(cpaths[i], PATH_MAX, "%s", path);
			cpath_used[i] = 1;
			return;
		}
	}
	diag("internal: cleanup registry full, %s not registered", path);
}

static void unreg_path(const char *path)
{
	int i;

	for (i = 0; i < MAX_PATHS; i++)
		if (cpath_used[i] && !strcmp(cpaths[i], path))
			cpath_used[i] = 0;
}

/* Async-signal-safe: put nr_hugepages back if we changed it. */
static void restore_huge_raw(void)
{
	int fd;

	if (!huge_changed)
		return;
	fd = open("/proc/sys/vm/nr_hugepages", O_WRONLY);
	if (fd < 0)
		return;
	if (write(fd, old_nr_huge, strlen(old_nr_huge)) > 0)
		huge_changed = 0;
	close(fd);
}

/* The overall time limit: kill our children, remove our files, bail out. */
static void on_alarm(int sig)
{
	static const char msg[] =
		"Bail out! share_test: time limit reached, cleaned up\n";
	struct timespec ts = { 0, 10000000L };
	int i, tries;

	(void)sig;
	for (i = 0; i < MAX_LIVE; i++)
		if (live[i] > 0)
			kill(live[i], SIGKILL);
	/* Reap them, but give up after about 2 s (one may be stuck) */
	for (tries = 0; tries < 200; tries++) {
		int left = 0;

		for (i = 0; i < MAX_LIVE; i++) {
			if (live[i] > 0 &&
			    waitpid(live[i], NULL, WNOHANG) == 0)
				left++;
			else
				live[i] = 0;
		}
		if (!left)
			break;
		nanosleep(&ts, NULL);
	}
	for (i = 0; i < MAX_PATHS; i++)
		if (cpath_used[i])
			unlink(cpaths[i]);
	restore_huge_raw();
	if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

/*
 * fork() with our house rules: output flushed first; in the child SIGALRM
 * is back to its default, a CHILD_TIMEOUT alarm runs, core dumps are off
 * and the registries are empty (only the top process cleans up).
 */
static pid_t spawn(void)
{
	struct rlimit rl = { 0, 0 };
	pid_t pid;
	int i;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		diag("fork failed: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		for (i = 0; i < MAX_LIVE; i++)
			live[i] = 0;
		for (i = 0; i < MAX_PATHS; i++)
			cpath_used[i] = 0;
		huge_changed = 0;
		signal(SIGALRM, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		signal(SIGSEGV, SIG_DFL);
		alarm(CHILD_TIMEOUT * slow);
		setrlimit(RLIMIT_CORE, &rl);
		return 0;
	}
	live_add(pid);
	return pid;
}

/* Wait for a child; its raw wait status, or -1. */
static int wait_raw(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			diag("waitpid(%d) failed: %s", (int)pid,
			     strerror(errno));
			live_del(pid);
			return -1;
		}
	}
	live_del(pid);
	return status;
}

/* Wait for a child; its exit status, or -1 if it did not exit normally. */
static int wait_child(pid_t pid)
{
	int status = wait_raw(pid);

	if (status == -1)
		return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		diag("child %d killed by signal %d (%s)", (int)pid,
		     WTERMSIG(status), strsignal(WTERMSIG(status)));
	return -1;
}

/* Kill and reap whatever children are left (after a failed check). */
static void reap_all(void)
{
	int i;

	for (i = 0; i < MAX_LIVE; i++) {
		pid_t pid = live[i];

		if (pid > 0) {
			kill(pid, SIGKILL);
			wait_raw(pid);
		}
	}
}

static const char *status_str(int status)
{
	static char buf[64];

	if (status == -1)
		return "not waited for";
	if (WIFEXITED(status))
		snprintf(buf, sizeof(buf), "exited with status %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, sizeof(buf), "killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, sizeof(buf), "status %#x", status);
	return buf;
}

/* Was a raw wait status a death by SIGBUS or SIGSEGV? */
static int died_of_fault(int status)
{
	return status != -1 && WIFSIGNALED(status) &&
	       (WTERMSIG(status) == SIGBUS || WTERMSIG(status) == SIGSEGV);
}

/* ------------------------------------------------------------- helpers */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_pipe(int p[2])
{
	close_fd(&p[0]);
	close_fd(&p[1]);
}

/* pipe() that leaves -1s and diagnoses on failure.  0 or -1. */
static int make_pipe(int p[2])
{
	if (pipe(p) == 0)
		return 0;
	diag("pipe failed: %s", strerror(errno));
	p[0] = p[1] = -1;
	return -1;
}

/* Read exactly len bytes within timeout_ms.  0, or -1 on EOF/timeout. */
static int read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns();
		ssize_t n;
		int r;

		if (now >= deadline)
			return -1;
		r = poll(&pfd, 1, (int)((deadline - now) / 1000000ULL) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static int pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	int r;

	if (fd < 0)
		return -1;
	r = write_full(fd, s, strlen(s));
	close(fd);
	return r;
}

/* Fold the per-CPU vmstat deltas into the global counters (root only). */
static void vm_stat_refresh(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (fd < 0)
		return;
	if (write(fd, "1\n", 2) < 0) {
		/* EINVAL when some counter is negative; it still refreshed */
	}
	close(fd);
}

/* A /proc/meminfo field ("PageTables:"), in its unit (kB); -1 if absent */
static long meminfo(const char *key)
{
	static char buf[16384];
	size_t klen = strlen(key);
	char *p;

	if (read_file("/proc/meminfo", buf, sizeof(buf)) < 0) {
		diag("reading /proc/meminfo failed: %s", strerror(errno));
		return -1;
	}
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, klen))
			return strtol(p + klen, NULL, 10);
	diag("/proc/meminfo has no %s", key);
	return -1;
}

/*
 * Set (mshare_load in the environment) when the load group runs this
 * program beside stress-ng: system-wide counters then move with other
 * processes, so the checks built on them are reported, not judged.
 */
static int under_load;

/* A /proc/self/status field ("VmPTE:") in kB; 0 if absent */
static long status_kb(const char *key)
{
	static char buf[4096];
	size_t klen = strlen(key);
	char *p;

	if (read_file("/proc/self/status", buf, sizeof(buf)) < 0)
		return 0;
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, klen))
			return strtol(p + klen, NULL, 10);
	return 0;
}

static long meminfo_now(const char *key)
{
	vm_stat_refresh();
	return meminfo(key);
}

/*
 * Wait up to 3 s for a meminfo field to be in [lo, hi] (frees can be
 * deferred a little); returns the last value read.
 */
static long meminfo_settle(const char *key, long lo, long hi)
{
	long v = -1;
	int i;

	for (i = 0; i < 30; i++) {
		v = meminfo_now(key);
		if (v >= 0 && v >= lo && v <= hi)
			break;
		sleep_ms(100);
	}
	return v;
}

/*
 * Page tables are counted in a memory cgroup of this program's own when
 * there is one: its memory.stat "pagetables" holds the user page tables
 * charged to it (its processes', and the host mms' of the regions they
 * make, which are charged to their callers).  /proc/meminfo's PageTables
 * also holds the kernel's own page tables on newer kernels (7.3 counts
 * its vmalloc page tables there, which grow for good with vmalloc space,
 * e.g. with the kernel stacks of many children): not a leak, and no page
 * table of an attacher.  Without cgroup2's memory controller: PageTables.
 */
#define CG		"/sys/fs/cgroup"
#define CG_SHARE	CG "/mshare_share"

static int pt_in_memcg;

/*
 * Move into the cgroup, then execute this program again, so that every
 * page table of this process too is charged to the cgroup (those made
 * before the move stay charged where they were).
 */
static void pt_setup(char **argv)
{
	char pid[32];

	if (getenv("mshare_share_memcg")) {
		pt_in_memcg = access(CG_SHARE "/memory.stat", F_OK) == 0;
		diag("page tables are counted in %s",
		     pt_in_memcg ? CG_SHARE "/memory.stat" : "/proc/meminfo");
		return;
	}
	if (access(CG "/cgroup.controllers", F_OK) &&
	    ((mkdir(CG, 0755) && errno != EEXIST) ||
	     mount("cgroup2", CG, "cgroup2", 0, NULL)))
		goto no;
	if ((mkdir(CG_SHARE, 0755) && errno != EEXIST) ||
	    write_file(CG "/cgroup.subtree_control", "+memory") ||
	    access(CG_SHARE "/memory.stat", F_OK))
		goto no;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (write_file(CG_SHARE "/cgroup.procs", pid))
		goto no;
	setenv("mshare_share_memcg", "1", 1);
	fflush(stdout);
	execv("/proc/self/exe", argv);
	diag("re-executing in " CG_SHARE ": %s", errname(errno));
	write_file(CG "/cgroup.procs", pid);
no:
	diag("page tables are counted in /proc/meminfo (no memory cgroup: %s)",
	     errname(errno));
}

static void pt_cleanup(void)
{
	char pid[32];

	if (!pt_in_memcg)
		return;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (write_file(CG "/cgroup.procs", pid) || rmdir(CG_SHARE))
		diag("cleanup of " CG_SHARE ": %s", errname(errno));
}

/* The "pagetables" line of our cgroup's memory.stat, in kB; -1 if none */
static long memcg_pagetables(void)
{
	static char buf[16384];
	char *p;

	if (read_file(CG_SHARE "/memory.stat", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "\npagetables ");
	if (!p && !strncmp(buf, "pagetables ", 11))
		p = buf - 1;
	return p ? strtol(p + 12, NULL, 10) / 1024 : -1;
}

/*
 * An exited process's mm (its top-level page table) lives on as the lazy
 * mm of the last CPU that ran it, until that CPU runs another process; so
 * does a host mm after a change thread used it.  Kernels that count the
 * top-level table (7.3) show one page per such mm.  Run on every CPU in
 * turn, so that the last process each CPU ran is this one.
 */
static void pt_visit_cpus(void)
{
	cpu_set_t all, one;
	int cpu;

	if (sched_getaffinity(0, sizeof(all), &all))
		return;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &all))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (!sched_setaffinity(0, sizeof(one), &one))
			sched_yield();
	}
	sched_setaffinity(0, sizeof(all), &all);
}

/*
 * Page tables now, in kB.  A cgroup's statistics are exact only after
 * the kernel's periodic flush, every 2 s: wait for one.
 */
static long pt_now(void)
{
	pt_visit_cpus();
	if (!pt_in_memcg)
		return meminfo_now("PageTables:");
	sleep_ms(2500);
	return memcg_pagetables();
}

/* Wait up to 8 s for the page tables to be at most hi kB; the last value */
static long pt_settle(long hi)
{
	long v = -1;
	int i;

	if (!pt_in_memcg)
		return meminfo_settle("PageTables:", 0, hi);
	for (i = 0; i < 4; i++) {
		v = pt_now();
		if (v >= 0 && v <= hi)
			break;
	}
	return v;
}

/* ------------------------------------------------------ regions, objects */

static int aligned_a(const void *p)
{
	return ((uintptr_t)p % REGION_A) == 0;
}

/* Set-up: create and size region <mnt>/s_<pid>_<name>.  O_RDWR fd or -1. */
static int region_open(const char *name, uint64_t size, char *path)
{
	int fd;

	snprintf(path, PATH_MAX, "%s/%s%s", mnt, prefix, name);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		diag("setup: creating %s failed: %s (%s)", path,
		     errname(errno), strerror(errno));
		return -1;
	}
	reg_path(path);
	if (ftruncate(fd, (off_t)size)) {
		diag("setup: ftruncate(%s, %llu) failed: %s (%s)", path,
		     (unsigned long long)size, errname(errno),
		     strerror(errno));
		close(fd);
		unlink(path);
		unreg_path(path);
		return -1;
	}
	return fd;
}

static void region_drop(int *fd, const char *path)
{
	close_fd(fd);
	if (unlink(path) && errno != ENOENT)
		diag("cleanup: unlink(%s) failed: %s", path, strerror(errno));
	unreg_path(path);
}

static int create_obj(int fd, uint64_t roff, uint64_t size, uint64_t off,
		      unsigned int prot, unsigned int flags, int objfd)
{
	struct mshare_create mc;

	memset(&mc, 0, sizeof(mc));
	mc.region_offset = roff;
	mc.size = size;
	mc.offset = off;
	mc.prot = prot;
	mc.flags = flags;
	mc.fd = (__u32)objfd;
	return ioctl(fd, MSHAREFS_CREATE_MAPPING, &mc);
}

/* Anonymous shared RW object, optionally prefaulted */
static int create_anon(int fd, uint64_t roff, uint64_t size, int populate)
{
	return create_obj(fd, roff, size, 0, RW,
			  SHFIX | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0),
			  NO_FD);
}

static int unmap_obj(int fd, uint64_t roff, uint64_t size)
{
	struct mshare_unmap mu;

	memset(&mu, 0, sizeof(mu));
	mu.region_offset = roff;
	mu.size = size;
	return ioctl(fd, MSHAREFS_UNMAP, &mu);
}

/* Set-up step with a diagnostic; 0 or -1 */
static int setup_anon(int fd, uint64_t roff, uint64_t size, int populate)
{
	if (create_anon(fd, roff, size, populate) == 0)
		return 0;
	diag("setup: CREATE_MAPPING of %llu bytes anonymous at region offset %#llx failed: %s (%s)",
	     (unsigned long long)size, (unsigned long long)roff,
	     errname(errno), strerror(errno));
	return -1;
}

/* Attach: mmap of the whole region.  Address or NULL (errno set). */
static char *attach(int fd, uint64_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Set-up attach with a diagnostic */
static char *setup_attach(int fd, uint64_t len)
{
	char *p = attach(fd, len, RW);

	if (!p)
		diag("setup: mmap of the region failed: %s (%s)",
		     errname(errno), strerror(errno));
	else if (!aligned_a(p))
		diag("warning: attach address %p is not 512 GiB aligned", p);
	return p;
}

static void detach(char **addr, uint64_t len)
{
	if (*addr && munmap(*addr, len))
		diag("cleanup: munmap(%p) failed: %s", *addr, strerror(errno));
	*addr = NULL;
}

/* Is [lo, hi) free of mappings in this process?  0 if not or unknown. */
static int range_free(uint64_t lo, uint64_t hi)
{
	unsigned long long s, e;
	char line[512];
	FILE *f;
	int free_ = 1;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx", &s, &e) != 2)
			continue;
		if (s < hi && e > lo)
			free_ = 0;
	}
	fclose(f);
	return free_;
}

/* An A-aligned address X with [X, X + len) free and in reach; 0 if none */
static uint64_t find_free_slot(uint64_t len)
{
	uint64_t x;

	if (len > USER_TOP - REGION_A)
		return 0;
	for (x = (USER_TOP - len) / REGION_A * REGION_A; x >= REGION_A;
	     x -= REGION_A)
		if (range_free(x, x + len))
			return x;
	return 0;
}

/* --------------------------------------------------------------- data */

/* Pattern words: first and last 8 bytes of page idx; 0 for seed 0 */
static uint64_t pat(uint64_t seed, uint64_t idx)
{
	return seed ? (seed << 40) ^ (idx + 1) : 0;
}

static uint64_t pat2(uint64_t seed, uint64_t idx)
{
	return seed ? ~pat(seed, idx) : 0;
}

static void fill(char *base, uint64_t len, uint64_t seed, uint64_t idx0)
{
	uint64_t i, n = len / PAGE_SZ;

	for (i = 0; i < n; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(base + i * PAGE_SZ);

		p[0] = pat(seed, idx0 + i);
		p[PAGE_SZ / 8 - 1] = pat2(seed, idx0 + i);
	}
}

/* One page: does it carry the pattern?  Diagnoses (what) if not. */
static int page_ok(const char *base, uint64_t i, uint64_t seed,
		   uint64_t idx0, const char *what)
{
	const volatile uint64_t *p =
		(const volatile uint64_t *)(base + i * PAGE_SZ);
	uint64_t a = p[0], b = p[PAGE_SZ / 8 - 1];

	if (a == pat(seed, idx0 + i) && b == pat2(seed, idx0 + i))
		return 1;
	if (what)
		diag("%s: page %llu holds %#llx/%#llx, expected %#llx/%#llx",
		     what, (unsigned long long)i, (unsigned long long)a,
		     (unsigned long long)b,
		     (unsigned long long)pat(seed, idx0 + i),
		     (unsigned long long)pat2(seed, idx0 + i));
	return 0;
}

/* Number of pages without the pattern; the first one is diagnosed. */
static uint64_t verify(const char *base, uint64_t len, uint64_t seed,
		       uint64_t idx0, const char *what)
{
	uint64_t i, n = len / PAGE_SZ, bad = 0;

	for (i = 0; i < n; i++)
		if (!page_ok(base, i, seed, idx0, bad ? NULL : what))
			bad++;
	if (bad && what)
		diag("%s: %llu of %llu pages wrong", what,
		     (unsigned long long)bad, (unsigned long long)n);
	return bad;
}

/* Pages 0, 1, n/2 and n-1 only: "a few bytes" after each refusal */
static int verify_sample(const char *base, uint64_t len, uint64_t seed,
			 const char *what)
{
	uint64_t n = len / PAGE_SZ;
	uint64_t idx[4] = { 0, 1, n / 2, n - 1 };
	int i, ok = 1;

	for (i = 0; i < 4; i++)
		if (!page_ok(base, idx[i], seed, 0, what))
			ok = 0;
	return ok;
}

/* Is every byte zero?  Diagnoses the first non-zero one. */
static int all_zero(const char *base, uint64_t len, const char *what)
{
	const volatile uint64_t *p = (const volatile uint64_t *)base;
	uint64_t i;

	for (i = 0; i < len / 8; i++) {
		if (p[i]) {
			diag("%s: byte offset %#llx holds %#llx, expected 0",
			     what, (unsigned long long)(i * 8),
			     (unsigned long long)p[i]);
			return 0;
		}
	}
	return 1;
}

static volatile unsigned int sink;

/* Read one byte of every page */
static void touch_pages(const char *base, uint64_t len)
{
	const volatile char *p = base;
	unsigned int s = 0;
	uint64_t off;

	for (off = 0; off < len; off += PAGE_SZ)
		s += (unsigned char)p[off];
	sink = s;
}

/*
 * A child that reads (or writes) one byte at addr.  Returns the raw wait
 * status: the child exits 0 if it survived.
 */
static int touch_in_child(char *addr, int do_write)
{
	pid_t pid = spawn();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (do_write)
			*(volatile char *)addr = 'X';
		else
			sink = *(volatile char *)addr;
		_exit(0);
	}
	return wait_raw(pid);
}

/* What a verifying child does with one object of a region */
struct obj {
	uint64_t off;		/* region offset */
	uint64_t size;
	uint64_t expect;	/* seed to find there */
	uint64_t idx0;		/* pattern index of its first page */
	uint64_t write;		/* seed to write afterwards; 0: none */
};

/*
 * Child body: attach the region itself (len bytes), check every object,
 * then write the new patterns, detach.  Exit status.
 */
static int objs_child(int fd, uint64_t len, const struct obj *o, int n)
{
	char *a = attach(fd, len, RW);
	int i, bad = 0;

	if (!a) {
		diag("child: mmap of the region failed: %s", errname(errno));
		return CHILD_FAIL;
	}
	if (!aligned_a(a)) {
		diag("child: attach address %p is not 512 GiB aligned", a);
		bad = 1;
	}
	for (i = 0; i < n; i++)
		if (verify(a + o[i].off, o[i].size, o[i].expect, o[i].idx0,
			   "child"))
			bad = 1;
	for (i = 0; !bad && i < n; i++)
		if (o[i].write)
			fill(a + o[i].off, o[i].size, o[i].write, o[i].idx0);
	if (munmap(a, len)) {
		diag("child: munmap of its attach failed: %s", errname(errno));
		bad = 1;
	}
	return bad ? CHILD_FAIL : CHILD_OK;
}

static int run_objs_child(int fd, uint64_t len, const struct obj *o, int n)
{
	pid_t pid = spawn();

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(objs_child(fd, len, o, n));
	return wait_child(pid);
}

/* ----------------------------------------------------- 1. basic sharing */

#define BASIC_SIZE	(64 * MIB)

/* MAP_FIXED target for the third child: parent + 2A, else parent - 2A */
static uint64_t pick_fixed(const char *paddr)
{
	uint64_t p = (uint64_t)(uintptr_t)paddr;

	if (p + 3 * REGION_A <= USER_TOP &&
	    range_free(p + 2 * REGION_A, p + 3 * REGION_A))
		return p + 2 * REGION_A;
	if (p >= 3 * REGION_A && range_free(p - 2 * REGION_A, p - REGION_A))
		return p - 2 * REGION_A;
	return 0;
}

/*
 * Attacher child idx (0..2) of the basic check.  It keeps the inherited
 * mapping and attaches again on its own: idx 0 and 1 with mmap(NULL),
 * idx 2 with MAP_FIXED.  All verify seed 1; idx 0 then waits for the
 * parent's go and writes seed 2.
 */
static int basic_attacher(int fd, int idx, char *paddr, int gofd)
{
	int skipped = 0;
	char *a;

	if (idx == 2) {
		uint64_t want = pick_fixed(paddr);

		if (!want) {
			diag("child 3: neither parent+2A nor parent-2A is free");
			skipped = 1;
		} else {
			void *p = mmap((void *)(uintptr_t)want, REGION_A, RW,
				       SHFIX, fd, 0);

			if (p == MAP_FAILED && errno == EINVAL) {
				diag("child 3: MAP_FIXED at %#llx failed with EINVAL",
				     (unsigned long long)want);
				return CHILD_FAIL;
			}
			if (p == MAP_FAILED) {
				diag("child 3: MAP_FIXED at %#llx failed with %s",
				     (unsigned long long)want, errname(errno));
				skipped = 1;
			} else if ((uint64_t)(uintptr_t)p != want) {
				diag("child 3: MAP_FIXED at %#llx returned %p",
				     (unsigned long long)want, p);
				return CHILD_FAIL;
			} else {
				a = p;
				diag("child 3 attached with MAP_FIXED at %p (%s2A from the parent's %p)",
				     a, (char *)a > paddr ? "+" : "-", paddr);
			}
		}
	}
	if (idx != 2 || skipped) {
		a = attach(fd, REGION_A, RW);
		if (!a) {
			diag("child %d: mmap failed: %s", idx + 1,
			     errname(errno));
			return CHILD_FAIL;
		}
		diag("child %d attached at %p (the parent at %p)", idx + 1, a,
		     paddr);
	}
	if (!aligned_a(a)) {
		diag("child %d: attach address %p is not 512 GiB aligned",
		     idx + 1, a);
		return CHILD_FAIL;
	}
	if (verify(a, BASIC_SIZE, 1, 0, "attacher child"))
		return CHILD_FAIL;
	if (idx == 0) {
		char c;

		if (read(gofd, &c, 1) != 1)
			return CHILD_SETUP;
		fill(a, BASIC_SIZE, 2, 0);
	}
	if (munmap(a, REGION_A)) {
		diag("child %d: munmap failed: %s", idx + 1, errname(errno));
		return CHILD_FAIL;
	}
	return skipped ? CHILD_SKIP : CHILD_OK;
}

static void test_basic(void)
{
	char path[PATH_MAX];
	char *addr = NULL, *addr2;
	pid_t pids[3];
	int gofd[2] = { -1, -1 };
	int fd, i, r, e, st;

	group("1. basic sharing: 64 MiB anonymous object at region offset 0");
	fd = region_open("basic", REGION_A, path);
	if (!check(fd >= 0, "basic: create and size a 512 GiB region"))
		return;
	r = create_anon(fd, 0, BASIC_SIZE, 1);
	e = errno;
	if (!check_ok(r, e, "basic: CREATE_MAPPING 64 MiB anonymous RW MAP_POPULATE at region offset 0"))
		goto out;
	addr = attach(fd, REGION_A, RW);
	e = errno;
	if (!check_ok(addr ? 0 : -1, e, "basic: mmap of the whole region succeeds"))
		goto out;
	check(aligned_a(addr), "basic: the attach address %p is 512 GiB aligned",
	      addr);
	fill(addr, BASIC_SIZE, 1, 0);
	check(verify(addr, BASIC_SIZE, 1, 0, "parent") == 0,
	      "basic: the parent reads back the pattern it wrote (16384 pages)");

	if (make_pipe(gofd))
		goto out;
	for (i = 0; i < 3; i++) {
		pids[i] = spawn();
		if (pids[i] == 0) {
			close(gofd[1]);
			_exit(basic_attacher(fd, i, addr, gofd[0]));
		}
	}
	close_fd(&gofd[0]);
	for (i = 1; i < 3; i++) {
		st = pids[i] > 0 ? wait_child(pids[i]) : -1;
		if (i == 1) {
			check(st == CHILD_OK,
			      "basic: child 2 attaches with mmap(NULL) at an aligned address and sees the pattern");
		} else {
			check(st == CHILD_OK || st == CHILD_SKIP,
			      "basic: child 3 attaches and sees the pattern");
			if (st == CHILD_SKIP)
				skip("the range at parent+-2A is not free or MAP_FIXED failed with a non-EINVAL error",
				     "basic: child 3 attaches with MAP_FIXED at another aligned address");
			else
				check(st == CHILD_OK,
				      "basic: child 3 attaches with MAP_FIXED at another aligned address");
		}
	}
	if (write(gofd[1], "g", 1) != 1)
		diag("writing to child 1 failed: %s", strerror(errno));
	close_fd(&gofd[1]);
	st = pids[0] > 0 ? wait_child(pids[0]) : -1;
	check(st == CHILD_OK,
	      "basic: child 1 attaches with mmap(NULL), sees the pattern and writes a new one");
	check(verify(addr, BASIC_SIZE, 2, 0, "parent") == 0,
	      "basic: the parent sees the pattern written by child 1");

	/* A forked child uses the inherited mapping, no mmap of its own */
	pids[0] = spawn();
	if (pids[0] == 0) {
		if (verify(addr, BASIC_SIZE, 2, 0, "forked child"))
			_exit(CHILD_FAIL);
		fill(addr, BASIC_SIZE, 3, 0);
		_exit(CHILD_OK);
	}
	st = pids[0] > 0 ? wait_child(pids[0]) : -1;
	check(st == CHILD_OK,
	      "basic: a forked child sees the data through the inherited mapping");
	check(verify(addr, BASIC_SIZE, 3, 0, "parent") == 0,
	      "basic: the parent sees the writes of the forked child");

	/* The same process attached twice */
	addr2 = attach(fd, REGION_A, RW);
	e = errno;
	if (check_ok(addr2 ? 0 : -1, e,
		     "basic: a second mmap of the region in the same process succeeds")) {
		if (!check(addr2 != addr && aligned_a(addr2),
			   "basic: the second attach address is another 512 GiB aligned one"))
			diag("first %p, second %p", addr, addr2);
		check(verify(addr2, BASIC_SIZE, 3, 0, "second mapping") == 0,
		      "basic: the second mapping shows the same data");
		*(volatile uint64_t *)(addr2 + 8) = 0x5eca11edULL;
		*(volatile uint64_t *)(addr + 16) = 0xf125715eULL;
		check(*(volatile uint64_t *)(addr + 8) == 0x5eca11edULL &&
		      *(volatile uint64_t *)(addr2 + 16) == 0xf125715eULL,
		      "basic: a write through either mapping is seen through the other");
		r = munmap(addr2, REGION_A);
		e = errno;
		check_ok(r, e, "basic: munmap of the whole second mapping succeeds");
	}
	r = munmap(addr, REGION_A);
	e = errno;
	check_ok(r, e, "basic: munmap of the whole first mapping succeeds");
	addr = NULL;
out:
	close_pipe(gofd);
	reap_all();
	detach(&addr, REGION_A);
	region_drop(&fd, path);
}

/* ------------------------------------------------------- 2. two objects */

static void test_objects(void)
{
	static const struct {
		uint64_t off, size, seed;
		const char *where;
	} ob[3] = {
		{ 0, 64 * KIB, 11, "0" },
		{ GIB, 2 * MIB, 12, "1 GiB" },
		{ REGION_A - 2 * MIB, 2 * MIB, 13, "A - 2 MiB" },
	};
	struct obj o[3];
	char path[PATH_MAX];
	char *addr = NULL;
	uint64_t maplen = REGION_A;
	int fd, i, r, e, st, nok = 0;
	void *p;

	group("2. several objects in one region; the second slot of a 2*A region");
	fd = region_open("objects", REGION_A, path);
	if (!check(fd >= 0, "objects: create and size a 512 GiB region"))
		return;
	for (i = 0; i < 3; i++) {
		r = create_anon(fd, ob[i].off, ob[i].size, 0);
		e = errno;
		if (check_ok(r, e, "objects: CREATE_MAPPING %llu KiB anonymous at region offset %s",
			     (unsigned long long)(ob[i].size / KIB), ob[i].where))
			nok++;
	}
	addr = setup_attach(fd, REGION_A);
	if (!addr || nok != 3) {
		check(0, "objects: attach and use the three objects");
		goto out;
	}
	for (i = 0; i < 3; i++)
		fill(addr + ob[i].off, ob[i].size, ob[i].seed, 0);
	for (i = 0; i < 3; i++)
		check(verify(addr + ob[i].off, ob[i].size, ob[i].seed, 0,
			     "parent") == 0,
		      "objects: the object at region offset %s holds its own data",
		      ob[i].where);
	for (i = 0; i < 3; i++) {
		o[i].off = ob[i].off;
		o[i].size = ob[i].size;
		o[i].expect = ob[i].seed;
		o[i].idx0 = 0;
		o[i].write = ob[i].seed + 10;
	}
	st = run_objs_child(fd, REGION_A, o, 3);
	check(st == CHILD_OK,
	      "objects: a child attacher sees all three objects and writes new data");
	for (i = 0; i < 3; i++)
		check(verify(addr + ob[i].off, ob[i].size, ob[i].seed + 10, 0,
			     "parent") == 0,
		      "objects: the parent sees the child's data at region offset %s",
		      ob[i].where);
	detach(&addr, REGION_A);
	region_drop(&fd, path);

	/* A region of two slots: an object in the second one */
	fd = region_open("two", 2 * REGION_A, path);
	if (!check(fd >= 0, "objects: create and size a 2*A (1 TiB) region"))
		return;
	maplen = 2 * REGION_A;
	nok = setup_anon(fd, 0, 64 * KIB, 0) == 0;
	r = create_anon(fd, REGION_A + PAGE_SZ, 64 * KIB, 0);
	e = errno;
	if (!check_ok(r, e, "objects: CREATE_MAPPING 64 KiB at region offset A + 4096 (second slot)") ||
	    !nok)
		goto out;
	p = mmap(NULL, REGION_A, RW, MAP_SHARED, fd, 0);
	e = errno;
	check_err(p == MAP_FAILED ? -1 : 0, e, EINVAL,
		  "objects: mmap of a 2*A region with length A fails with EINVAL");
	if (p != MAP_FAILED)
		munmap(p, REGION_A);
	addr = attach(fd, 2 * REGION_A, RW);
	e = errno;
	if (!check_ok(addr ? 0 : -1, e, "objects: mmap of the whole 2*A region succeeds"))
		goto out;
	check(aligned_a(addr), "objects: the 2*A attach address %p is 512 GiB aligned",
	      addr);
	fill(addr, 64 * KIB, 31, 0);
	fill(addr + REGION_A + PAGE_SZ, 64 * KIB, 32, 0);
	o[0] = (struct obj){ 0, 64 * KIB, 31, 0, 0 };
	o[1] = (struct obj){ REGION_A + PAGE_SZ, 64 * KIB, 32, 0, 33 };
	st = run_objs_child(fd, 2 * REGION_A, o, 2);
	check(st == CHILD_OK,
	      "objects: a child attacher of the 2*A region sees both slots and writes the second");
	check(verify(addr + REGION_A + PAGE_SZ, 64 * KIB, 33, 0, "parent") == 0 &&
	      verify(addr, 64 * KIB, 31, 0, "parent") == 0,
	      "objects: the parent sees the child's write in the second slot, the first slot unchanged");
out:
	reap_all();
	detach(&addr, maplen);
	region_drop(&fd, path);
}

/* --------------------------------------------------------- 3. files */

#define FILE_SIZE	(8 * MIB)
#define TMP_OFF		(2 * MIB)	/* file offset of the tmpfs object */
#define TMP_LEN		(4 * MIB)
#define TMP_IDX0	(TMP_OFF / PAGE_SZ)

/* Set-up: fill a file with pattern seed (page j: index j).  0 or -1. */
static int fill_file(int fd, uint64_t size, uint64_t seed)
{
	char *buf = calloc(1, size);
	int r;

	if (!buf)
		return -1;
	fill(buf, size, seed, 0);
	r = pwrite_full(fd, buf, size, 0);
	free(buf);
	return r;
}

/* Does the file range carry the pattern (first page index idx0)? */
static int file_has(int fd, uint64_t off, uint64_t len, uint64_t seed,
		    uint64_t idx0, const char *what)
{
	char *buf = malloc(len);
	int ok;

	if (!buf)
		return 0;
	if (pread_full(fd, buf, len, (off_t)off)) {
		diag("%s: pread failed: %s", what, strerror(errno));
		free(buf);
		return 0;
	}
	ok = verify(buf, len, seed, idx0, what) == 0;
	free(buf);
	return ok;
}

static void test_files(void)
{
	char path[PATH_MAX], tpath[PATH_MAX];
	char *addr = NULL;
	int fd, mfd = -1, tfd = -1, rofd = -1;
	struct obj o[3];
	uint64_t v;
	int r, e, st, nok;

	group("3. file-backed objects");
	snprintf(tpath, sizeof(tpath), "/tmp/%sfile", prefix);
	fd = region_open("files", REGION_A, path);
	if (!check(fd >= 0, "files: create and size a 512 GiB region"))
		return;

	mfd = memfd_create("x", 0);
	if (mfd < 0 || ftruncate(mfd, FILE_SIZE) || fill_file(mfd, FILE_SIZE, 41)) {
		check(0, "files: set up an 8 MiB memfd with a pattern");
		diag("%s", strerror(errno));
		goto out;
	}
	tfd = open(tpath, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (tfd >= 0)
		reg_path(tpath);
	if (tfd < 0 || ftruncate(tfd, FILE_SIZE) || fill_file(tfd, FILE_SIZE, 42)) {
		check(0, "files: set up an 8 MiB file %s with a pattern", tpath);
		diag("%s", strerror(errno));
		goto out;
	}
	rofd = open(tpath, O_RDONLY);
	if (rofd < 0) {
		check(0, "files: open %s O_RDONLY", tpath);
		goto out;
	}

	r = create_obj(fd, 2 * GIB, FILE_SIZE, 0, RW, SHFIX, mfd);
	e = errno;
	nok = check_ok(r, e, "files: CREATE_MAPPING of the 8 MiB memfd RW at region offset 2 GiB");
	r = create_obj(fd, 3 * GIB, TMP_LEN, TMP_OFF, RW, SHFIX, tfd);
	e = errno;
	nok += check_ok(r, e, "files: CREATE_MAPPING of 4 MiB of the /tmp file (file offset 2 MiB) RW at region offset 3 GiB");
	r = create_obj(fd, 4 * GIB, TMP_LEN, 0, PROT_READ, SHFIX, rofd);
	e = errno;
	nok += check_ok(r, e, "files: CREATE_MAPPING of the O_RDONLY file with PROT_READ at region offset 4 GiB");
	r = create_obj(fd, 5 * GIB, TMP_LEN, 0, RW, SHFIX, rofd);
	e = errno;
	check_err(r, e, EACCES,
		  "files: CREATE_MAPPING of the O_RDONLY file with PROT_READ|PROT_WRITE fails with EACCES");

	if (nok != 3)
		goto out;
	addr = setup_attach(fd, REGION_A);
	if (!addr) {
		check(0, "files: attach the region");
		goto out;
	}
	check(verify(addr + 2 * GIB, FILE_SIZE, 41, 0, "parent, memfd") == 0,
	      "files: the parent sees the memfd contents");
	check(verify(addr + 3 * GIB, TMP_LEN, 42, TMP_IDX0, "parent, /tmp file") == 0,
	      "files: the parent sees the /tmp file contents from file offset 2 MiB");
	check(verify(addr + 4 * GIB, TMP_LEN, 42, 0, "parent, read-only file") == 0,
	      "files: the parent reads the read-only file object");

	o[0] = (struct obj){ 2 * GIB, FILE_SIZE, 41, 0, 43 };
	o[1] = (struct obj){ 3 * GIB, TMP_LEN, 42, TMP_IDX0, 44 };
	o[2] = (struct obj){ 4 * GIB, TMP_LEN, 42, 0, 0 };
	st = run_objs_child(fd, REGION_A, o, 3);
	check(st == CHILD_OK,
	      "files: a child attacher sees all three file objects and writes the two RW ones");
	check(file_has(mfd, 0, FILE_SIZE, 43, 0, "pread of the memfd"),
	      "files: pread on the memfd sees the child's writes");
	check(file_has(tfd, TMP_OFF, TMP_LEN, 44, TMP_IDX0, "pread of the /tmp file") &&
	      file_has(tfd, 0, TMP_OFF, 42, 0, "pread of the /tmp file head") &&
	      file_has(tfd, TMP_OFF + TMP_LEN, FILE_SIZE - TMP_OFF - TMP_LEN, 42,
		       (TMP_OFF + TMP_LEN) / PAGE_SZ, "pread of the /tmp file tail"),
	      "files: pread on the /tmp file sees the child's writes at file offset 2 MiB, the rest unchanged");

	v = 0xf11e0005ULL;
	r = (int)pwrite(mfd, &v, sizeof(v), 5 * PAGE_SZ + 64);
	check(r == (int)sizeof(v) &&
	      *(volatile uint64_t *)(addr + 2 * GIB + 5 * PAGE_SZ + 64) == v,
	      "files: a pwrite to the memfd is seen through the mapping");

	st = touch_in_child(addr + 4 * GIB, 1);
	if (!check(died_of_fault(st),
		   "files: a store into the read-only file object kills the child (SIGSEGV or SIGBUS)"))
		diag("the child %s", status_str(st));
	check(file_has(tfd, 0, PAGE_SZ, 42, 0, "pread of the /tmp file page 0"),
	      "files: the read-only file is unchanged");
out:
	reap_all();
	detach(&addr, REGION_A);
	region_drop(&fd, path);
	close_fd(&mfd);
	close_fd(&tfd);
	close_fd(&rofd);
	if (unlink(tpath) && errno != ENOENT)
		diag("cleanup: unlink(%s) failed: %s", tpath, strerror(errno));
	unreg_path(tpath);
}

/* ------------------------------------------------------- 4. hugetlb */

#define HUGE_SIZE	(8 * MIB)
#define NR_HUGE_WANT	16
#define NR_HUGE_NEED	8

static const char *const huge_checks[] = {
	"hugetlb: CREATE_MAPPING MAP_ANONYMOUS|MAP_HUGETLB 8 MiB at region offset 1 GiB",
	"hugetlb: the parent reads back what it wrote",
	"hugetlb: a child attacher sees the data and writes new data",
	"hugetlb: the parent sees the child's data",
	"hugetlb: UNMAP of the huge object succeeds",
	"hugetlb: HugePages_Free is back to its start value after UNMAP, munmap, close and unlink",
};

static void restore_huge(void)
{
	if (!huge_changed)
		return;
	restore_huge_raw();
	if (huge_changed)
		diag("could not restore nr_hugepages to %s", old_nr_huge);
	else
		diag("hugetlb: nr_hugepages restored to %s", old_nr_huge);
}

static void test_hugetlb(void)
{
	char path[PATH_MAX];
	char *addr = NULL;
	long free0, free1, free2;
	struct obj o;
	size_t i, n = sizeof(huge_checks) / sizeof(huge_checks[0]);
	int fd = -1, r, e, st;
	char *nl;

	group("4. hugetlb objects");
	if (read_file("/proc/sys/vm/nr_hugepages", old_nr_huge,
		      sizeof(old_nr_huge)) < 0) {
		for (i = 0; i < n; i++)
			skip("cannot read /proc/sys/vm/nr_hugepages", "%s",
			     huge_checks[i]);
		return;
	}
	nl = strchr(old_nr_huge, '\n');
	if (nl)
		*nl = '\0';
	if (!old_nr_huge[0])
		snprintf(old_nr_huge, sizeof(old_nr_huge), "0");
	huge_changed = 1;
	if (write_str("/proc/sys/vm/nr_hugepages", "16")) {
		diag("writing 16 to nr_hugepages failed: %s", strerror(errno));
		huge_changed = 0;
	}
	free0 = meminfo_now("HugePages_Free:");
	diag("hugetlb: nr_hugepages was %s, HugePages_Free is now %ld",
	     old_nr_huge, free0);
	if (free0 < NR_HUGE_NEED) {
		for (i = 0; i < n; i++)
			skip("fewer than 8 free huge pages", "%s",
			     huge_checks[i]);
		restore_huge();
		return;
	}

	fd = region_open("huge", REGION_A, path);
	if (fd < 0) {
		check(0, "hugetlb: create and size a region");
		restore_huge();
		return;
	}
	r = create_obj(fd, GIB, HUGE_SIZE, 0, RW,
		       SHFIX | MAP_ANONYMOUS | MAP_HUGETLB, NO_FD);
	e = errno;
	if (!check_ok(r, e, "%s", huge_checks[0]))
		goto out;
	addr = setup_attach(fd, REGION_A);
	if (!addr) {
		check(0, "hugetlb: attach the region");
		goto out;
	}
	fill(addr + GIB, HUGE_SIZE, 51, 0);
	check(verify(addr + GIB, HUGE_SIZE, 51, 0, "parent") == 0, "%s",
	      huge_checks[1]);
	free1 = meminfo_now("HugePages_Free:");
	diag("hugetlb: HugePages_Free %ld while the 8 MiB object is mapped and written (start %ld)",
	     free1, free0);
	o = (struct obj){ GIB, HUGE_SIZE, 51, 0, 52 };
	st = run_objs_child(fd, REGION_A, &o, 1);
	check(st == CHILD_OK, "%s", huge_checks[2]);
	check(verify(addr + GIB, HUGE_SIZE, 52, 0, "parent") == 0, "%s",
	      huge_checks[3]);
	r = unmap_obj(fd, GIB, HUGE_SIZE);
	e = errno;
	check_ok(r, e, "%s", huge_checks[4]);
	detach(&addr, REGION_A);
	region_drop(&fd, path);
	free2 = meminfo_settle("HugePages_Free:", free0, free0);
	if (!check(free2 == free0, "%s", huge_checks[5]))
		diag("HugePages_Free is %ld, it was %ld at the start", free2,
		     free0);
	else
		diag("hugetlb: HugePages_Free back to %ld", free2);
out:
	reap_all();
	detach(&addr, REGION_A);
	region_drop(&fd, path);
	restore_huge();
}

/* ------------------------------------------------------ 5. refusals */

#define REF_SIZE	(4 * MIB)
#define REF_SEED	61

/*
 * After a call that should have been refused succeeded: drop the (possibly
 * changed) mapping and attach again.  The object is unaffected.
 */
static char *reattach(int fd, char *addr)
{
	diag("the call succeeded: dropping the mapping and attaching again");
	if (addr)
		munmap(addr, REGION_A);
	return setup_attach(fd, REGION_A);
}

/* A refusal check: errno as wanted, and the data still intact */
static int refused(long ret, int err, int want, int want2, char **addr,
		   int fd, const char *desc)
{
	int pass = ret == -1 && (err == want || err == want2);

	if (ret != -1)
		*addr = reattach(fd, *addr);
	if (!*addr) {
		check(0, "%s", desc);
		return 0;
	}
	if (!verify_sample(*addr, REF_SIZE, REF_SEED, "data after the refusal"))
		pass = 0;
	check(pass, "%s, and the data stays intact", desc);
	if (ret != -1 || (err != want && err != want2))
		diag_err(ret, err, want, want2);
	return pass;
}

static void test_refusals(void)
{
	char path[PATH_MAX], opath[PATH_MAX];
	char *addr = NULL;
	int fd, ofd = -1, mfd = -1;
	uint64_t slot;
	void *p;
	int r, e;

	group("5. refusals; MADV_DONTNEED keeps data");
	fd = region_open("refuse", REGION_A, path);
	if (!check(fd >= 0, "refusals: create and size a 512 GiB region"))
		return;
	ofd = region_open("other", REGION_A, opath);
	mfd = memfd_create("x", 0);
	if (ofd < 0 || mfd < 0 || ftruncate(mfd, 4 * MIB) ||
	    setup_anon(fd, 0, REF_SIZE, 1)) {
		check(0, "refusals: set up a second region, a memfd and a 4 MiB object");
		goto out;
	}
	addr = setup_attach(fd, REGION_A);
	if (!addr) {
		check(0, "refusals: attach the region");
		goto out;
	}
	fill(addr, REF_SIZE, REF_SEED, 0);

	/* mmap */
	p = mmap(NULL, REGION_A / 2, RW, MAP_SHARED, fd, 0);
	e = errno;
	check_err(p == MAP_FAILED ? -1 : 0, e, EINVAL,
		  "refusals: mmap with length A/2 fails with EINVAL");
	if (p != MAP_FAILED)
		munmap(p, REGION_A / 2);
	p = mmap(NULL, 2 * REGION_A, RW, MAP_SHARED, fd, 0);
	e = errno;
	check_err(p == MAP_FAILED ? -1 : 0, e, EINVAL,
		  "refusals: mmap with length 2*A fails with EINVAL");
	if (p != MAP_FAILED)
		munmap(p, 2 * REGION_A);
	p = mmap(NULL, REGION_A, RW, MAP_PRIVATE, fd, 0);
	e = errno;
	check_err(p == MAP_FAILED ? -1 : 0, e, EINVAL,
		  "refusals: mmap MAP_PRIVATE fails with EINVAL");
	if (p != MAP_FAILED)
		munmap(p, REGION_A);
	slot = find_free_slot(2 * REGION_A);
	if (slot) {
		p = mmap((void *)(uintptr_t)(slot + 2 * MIB), REGION_A, RW,
			 SHFIX, fd, 0);
		e = errno;
		check_err(p == MAP_FAILED ? -1 : 0, e, EINVAL,
			  "refusals: mmap MAP_FIXED at an address that is not 512 GiB aligned fails with EINVAL");
		if (p != MAP_FAILED)
			munmap(p, REGION_A);
	} else {
		skip("no free 1 TiB range", "refusals: mmap MAP_FIXED at an address that is not 512 GiB aligned fails with EINVAL");
	}

	/* CREATE_MAPPING */
	r = create_anon(fd, REGION_A - PAGE_SZ, 2 * PAGE_SZ, 0);
	e = errno;
	check_err(r, e, EINVAL, "refusals: CREATE_MAPPING crossing the end of the region fails with EINVAL");
	r = create_anon(fd, REGION_A, PAGE_SZ, 0);
	e = errno;
	check_err(r, e, EINVAL, "refusals: CREATE_MAPPING at region offset A (just past the end) fails with EINVAL");
	r = create_anon(fd, ~0ULL - PAGE_SZ + 1, 2 * PAGE_SZ, 0);
	e = errno;
	check_err(r, e, EINVAL, "refusals: CREATE_MAPPING whose end wraps around 2^64 fails with EINVAL");
	r = create_anon(fd, 8 * MIB + 100, PAGE_SZ, 0);
	e = errno;
	check_err(r, e, EINVAL, "refusals: CREATE_MAPPING at a region offset that is not page aligned fails with EINVAL");
	r = create_anon(fd, 8 * MIB, 100, 0);
	e = errno;
	check_err(r, e, EINVAL, "refusals: CREATE_MAPPING with a size that is not page aligned fails with EINVAL");
	r = create_obj(fd, 8 * MIB, PAGE_SZ, 100, RW, SHFIX, mfd);
	e = errno;
	check_err(r, e, EINVAL, "refusals: CREATE_MAPPING of a memfd at a file offset that is not page aligned fails with EINVAL");
	r = create_obj(fd, 8 * MIB, PAGE_SZ, 0, RW, MAP_SHARED | MAP_ANONYMOUS, NO_FD);
	e = errno;
	check_err(r, e, EINVAL, "refusals: CREATE_MAPPING without MAP_FIXED fails with EINVAL");
	r = create_obj(fd, 8 * MIB, PAGE_SZ, 0, RW, MAP_FIXED | MAP_ANONYMOUS, NO_FD);
	e = errno;
	check_err(r, e, EINVAL, "refusals: CREATE_MAPPING without MAP_SHARED fails with EINVAL");
	r = create_obj(fd, 8 * MIB, PAGE_SZ, 0, RW,
		       MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, NO_FD);
	e = errno;
	check_err(r, e, EINVAL, "refusals: CREATE_MAPPING with MAP_PRIVATE fails with EINVAL");
	r = create_obj(fd, 8 * MIB, PAGE_SZ, 0, RW, SHFIX, ofd);
	e = errno;
	check_err(r, e, EINVAL, "refusals: CREATE_MAPPING of another msharefs region's fd fails with EINVAL");
	r = create_obj(fd, 8 * MIB, PAGE_SZ, 0, RW, SHFIX, fd);
	e = errno;
	check_err(r, e, EINVAL, "refusals: CREATE_MAPPING of the region's own fd fails with EINVAL");
	r = create_obj(fd, 8 * MIB, PAGE_SZ, 0, RW, SHFIX, 9999);
	e = errno;
	check_err(r, e, EBADF, "refusals: CREATE_MAPPING of fd 9999 fails with EBADF");

	/* UNMAP */
	r = unmap_obj(fd, REGION_A - PAGE_SZ, 2 * PAGE_SZ);
	e = errno;
	check_err(r, e, EINVAL, "refusals: UNMAP crossing the end of the region fails with EINVAL");
	r = unmap_obj(fd, REGION_A, PAGE_SZ);
	e = errno;
	check_err(r, e, EINVAL, "refusals: UNMAP at region offset A (just past the end) fails with EINVAL");
	check(verify(addr, REF_SIZE, REF_SEED, 0, "after CREATE/UNMAP refusals") == 0,
	      "refusals: the existing object is intact after the refused CREATE_MAPPING and UNMAP calls");

	/* mprotect, munmap, mremap on the attached mapping */
	r = mprotect(addr, REGION_A, PROT_READ);
	e = errno;
	refused(r, e, EINVAL, 0, &addr, fd,
		"refusals: mprotect(PROT_READ) of the whole mapping fails with EINVAL");
	if (!addr)
		goto out;
	r = mprotect(addr, PAGE_SZ, PROT_READ);
	e = errno;
	refused(r, e, EINVAL, 0, &addr, fd,
		"refusals: mprotect(PROT_READ) of its first page fails with EINVAL");
	if (!addr)
		goto out;
	r = mprotect(addr + MIB, 2 * PAGE_SZ, PROT_NONE);
	e = errno;
	refused(r, e, EINVAL, 0, &addr, fd,
		"refusals: mprotect(PROT_NONE) of two pages in the middle fails with EINVAL");
	if (!addr)
		goto out;
	r = munmap(addr, PAGE_SZ);
	e = errno;
	refused(r, e, EINVAL, 0, &addr, fd,
		"refusals: munmap of the first page only fails with EINVAL");
	if (!addr)
		goto out;
	r = munmap(addr + MIB, 2 * PAGE_SZ);
	e = errno;
	refused(r, e, EINVAL, 0, &addr, fd,
		"refusals: munmap of two pages in the middle fails with EINVAL");
	if (!addr)
		goto out;
	slot = find_free_slot(REGION_A);
	if (slot) {
		p = mremap(addr, REGION_A, REGION_A,
			   MREMAP_MAYMOVE | MREMAP_FIXED,
			   (void *)(uintptr_t)slot);
		e = errno;
		if (p != MAP_FAILED) {
			munmap(p, REGION_A);
			addr = NULL;
		}
		refused(p == MAP_FAILED ? -1 : 0, e, EINVAL, 0, &addr, fd,
			"refusals: mremap of the whole mapping to another aligned address fails with EINVAL");
		if (!addr)
			goto out;
	} else {
		skip("no free 512 GiB range", "refusals: mremap of the whole mapping to another aligned address fails with EINVAL");
	}
	p = mremap(addr, REGION_A, REGION_A / 2, 0);
	e = errno;
	refused(p == MAP_FAILED ? -1 : 0, e, EINVAL, 0, &addr, fd,
		"refusals: mremap shrinking the mapping to A/2 fails with EINVAL");
	if (!addr)
		goto out;

	/* Still writable after all that */
	fill(addr, REF_SIZE, REF_SEED + 1, 0);
	check(verify(addr, REF_SIZE, REF_SEED + 1, 0, "rewrite") == 0,
	      "refusals: the mapping is still readable and writable after the refusals");

	/* MADV_DONTNEED: allowed, and the data is shared memory: it stays */
	r = madvise(addr, REGION_A, MADV_DONTNEED);
	e = errno;
	check_ok(r, e, "refusals: madvise(MADV_DONTNEED) of the whole mapping succeeds");
	check(verify(addr, REF_SIZE, REF_SEED + 1, 0, "after MADV_DONTNEED") == 0,
	      "refusals: the data is still there after MADV_DONTNEED of the whole mapping");
	r = madvise(addr + MIB, MIB, MADV_DONTNEED);
	e = errno;
	check_ok(r, e, "refusals: madvise(MADV_DONTNEED) of 1 MiB inside the object succeeds");
	check(verify(addr, REF_SIZE, REF_SEED + 1, 0, "after partial MADV_DONTNEED") == 0,
	      "refusals: the data is still there after MADV_DONTNEED of part of it");
out:
	reap_all();
	detach(&addr, REGION_A);
	close_fd(&mfd);
	region_drop(&ofd, opath);
	region_drop(&fd, path);
}

/* --------------------------------------------------------- 6. UNMAP */

static void test_unmap(void)
{
	char path[PATH_MAX];
	char *addr = NULL;
	struct obj o[2];
	int fd, r, e, st;

	group("6. UNMAP and re-creating an object");
	fd = region_open("unmap", REGION_A, path);
	if (!check(fd >= 0, "unmap: create and size a 512 GiB region"))
		return;
	if (setup_anon(fd, 0, 64 * KIB, 0) || setup_anon(fd, GIB, 2 * MIB, 0)) {
		check(0, "unmap: place objects at region offsets 0 and 1 GiB");
		goto out;
	}
	addr = setup_attach(fd, REGION_A);
	if (!addr) {
		check(0, "unmap: attach the region");
		goto out;
	}
	fill(addr, 64 * KIB, 71, 0);
	fill(addr + GIB, 2 * MIB, 72, 0);

	st = touch_in_child(addr + 5 * GIB, 0);
	if (!check(died_of_fault(st),
		   "unmap: a child reading where no object was ever placed dies of SIGBUS/SIGSEGV"))
		diag("the child %s", status_str(st));
	r = unmap_obj(fd, GIB, 2 * MIB);
	e = errno;
	check_ok(r, e, "unmap: UNMAP of the 2 MiB object at region offset 1 GiB succeeds");
	st = touch_in_child(addr + GIB, 0);
	if (!check(died_of_fault(st),
		   "unmap: a child reading the first page of the removed object dies of SIGBUS/SIGSEGV"))
		diag("the child %s", status_str(st));
	st = touch_in_child(addr + GIB + MIB, 1);
	if (!check(died_of_fault(st),
		   "unmap: a child writing the middle of the removed object dies of SIGBUS/SIGSEGV"))
		diag("the child %s", status_str(st));
	check(verify(addr, 64 * KIB, 71, 0, "other object") == 0,
	      "unmap: the object at region offset 0 is intact");

	r = create_anon(fd, GIB, 2 * MIB, 0);
	e = errno;
	if (!check_ok(r, e, "unmap: CREATE_MAPPING of a new anonymous object at the same offset succeeds"))
		goto out;
	check(all_zero(addr + GIB, 2 * MIB, "new object"),
	      "unmap: the new object reads as zeros in the already attached parent (no stale data)");
	fill(addr + GIB, 2 * MIB, 73, 0);
	o[0] = (struct obj){ GIB, 2 * MIB, 73, 0, 74 };
	o[1] = (struct obj){ 0, 64 * KIB, 71, 0, 0 };
	st = run_objs_child(fd, REGION_A, o, 2);
	check(st == CHILD_OK,
	      "unmap: a child attacher sees the parent's writes to the new object and writes its own");
	check(verify(addr + GIB, 2 * MIB, 74, 0, "parent") == 0,
	      "unmap: the parent sees the child's writes to the new object");

	r = unmap_obj(fd, 0, REGION_A);
	e = errno;
	check_ok(r, e, "unmap: UNMAP of the whole region (objects and holes) succeeds");
	st = touch_in_child(addr, 0);
	if (!check(died_of_fault(st),
		   "unmap: after it, a child reading region offset 0 dies of SIGBUS/SIGSEGV"))
		diag("the child %s", status_str(st));
out:
	reap_all();
	detach(&addr, REGION_A);
	region_drop(&fd, path);
}

/* ------------------------------------------------------- 7. economy */

enum econ_mode { ECON_IDLE, ECON_MSHARE, ECON_PLAIN };

struct econ_rep {
	int32_t idx;
	int32_t err;		/* errno of a failed mmap, else 0 */
	int64_t faults;		/* minor + major faults of the touch loop */
};

struct econ_res {
	long pt_before;		/* page tables (kB) before the fork */
	long pt_with;		/* with all children alive and ready */
	int started;		/* children forked */
	int reported;		/* ready reports received */
	int ok;			/* reports without error */
	int exited_ok;		/* children that exited 0 */
	int64_t fmin, fmax, fsum;
};

/* Child of the economy checks: map (or not), touch, report, wait. */
static int econ_child(enum econ_mode mode, int fd, int go, int res, int idx)
{
	struct rusage r0, r1;
	struct econ_rep rep;
	char *a = NULL;
	char c;

	memset(&rep, 0, sizeof(rep));
	memset(&r0, 0, sizeof(r0));
	memset(&r1, 0, sizeof(r1));
	rep.idx = idx;
	if (mode != ECON_IDLE) {
		uint64_t len = mode == ECON_MSHARE ? REGION_A : ECON_SIZE;

		a = mmap(NULL, len, RW, MAP_SHARED, fd, 0);
		if (a == MAP_FAILED) {
			rep.err = errno;
		} else {
			getrusage(RUSAGE_SELF, &r0);
			touch_pages(a, ECON_SIZE);
			getrusage(RUSAGE_SELF, &r1);
			rep.faults = (r1.ru_minflt - r0.ru_minflt) +
				     (r1.ru_majflt - r0.ru_majflt);
		}
	}
	if (write_full(res, &rep, sizeof(rep)))
		return CHILD_SETUP;
	/* Stay alive (mapped) until the parent closes its end */
	while (read(go, &c, 1) < 0 && errno == EINTR)
		;
	return rep.err ? CHILD_FAIL : CHILD_OK;
}

static void econ_round(enum econ_mode mode, int fd, struct econ_res *res)
{
	struct econ_rep reps[NECON];
	pid_t pids[NECON];
	int go[2] = { -1, -1 }, rp[2] = { -1, -1 };
	int i, n = 0, shown = 0;
	size_t got = 0;
	uint64_t deadline;

	memset(res, 0, sizeof(*res));
	if (make_pipe(go) || make_pipe(rp))
		goto out;
	res->pt_before = pt_now();
	for (i = 0; i < NECON; i++) {
		pid_t pid = spawn();

		if (pid < 0)
			break;
		if (pid == 0) {
			close(go[1]);
			close(rp[0]);
			_exit(econ_child(mode, fd, go[0], rp[1], i));
		}
		pids[n++] = pid;
	}
	res->started = n;
	close_fd(&go[0]);
	close_fd(&rp[1]);

	/* Wait for every child to be mapped, touched and waiting */
	deadline = now_ns() + REPORT_TIMEOUT * 1000000ULL;
	while (got < (size_t)n * sizeof(reps[0])) {
		struct pollfd pfd = { .fd = rp[0], .events = POLLIN };
		uint64_t now = now_ns();
		ssize_t k;

		if (now >= deadline)
			break;
		if (poll(&pfd, 1, (int)((deadline - now) / 1000000ULL) + 1) <= 0)
			continue;
		k = read(rp[0], (char *)reps + got,
			 (size_t)n * sizeof(reps[0]) - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	res->reported = (int)(got / sizeof(reps[0]));
	res->pt_with = pt_now();
	if (res->reported < n)
		diag("economy: only %d of %d children reported", res->reported,
		     n);

	res->fmin = -1;
	for (i = 0; i < res->reported; i++) {
		if (reps[i].err) {
			if (!shown++)
				diag("economy: child %d: mmap failed: %s",
				     (int)reps[i].idx, errname(reps[i].err));
			continue;
		}
		res->ok++;
		if (res->fmin < 0 || reps[i].faults < res->fmin)
			res->fmin = reps[i].faults;
		if (reps[i].faults > res->fmax)
			res->fmax = reps[i].faults;
		res->fsum += reps[i].faults;
	}
	if (res->fmin < 0)
		res->fmin = 0;
out:
	close_fd(&go[1]);	/* releases the children */
	for (i = 0; i < n; i++)
		if (wait_child(pids[i]) == CHILD_OK)
			res->exited_ok++;
	close_pipe(go);
	close_pipe(rp);
}

static double per_proc(const struct econ_res *r, const struct econ_res *base)
{
	return ((double)(r->pt_with - r->pt_before) -
		(double)(base->pt_with - base->pt_before)) / NECON;
}

static void test_economy(void)
{
	struct econ_res base, ms, pl;
	char path[PATH_MAX];
	long pt_noregion;
	int fd, mfd = -1;
	double ms_pp = 0, pl_pp = 0;
	char *buf;
	uint64_t off;

	group("7. economy: page tables and page faults of 100 attachers");
	memset(&ms, 0, sizeof(ms));

	/* Baseline: 100 children that map nothing */
	econ_round(ECON_IDLE, -1, &base);
	diag("economy: baseline: 100 idle children: page tables %ld kB -> %ld kB, +%ld kB (%.2f kB per idle process)",
	     base.pt_before, base.pt_with, base.pt_with - base.pt_before,
	     (double)(base.pt_with - base.pt_before) / NECON);
	check(base.started == NECON && base.reported == NECON &&
	      base.exited_ok == NECON,
	      "economy: 100 idle baseline children ran");

	/* mshare: 100 children attach a populated 64 MiB object */
	pt_noregion = pt_now();
	fd = region_open("economy", REGION_A, path);
	if (fd < 0 || setup_anon(fd, 0, ECON_SIZE, 1)) {
		check(0, "economy: region with a populated 64 MiB object");
		goto plain;
	}
	econ_round(ECON_MSHARE, fd, &ms);
	ms_pp = per_proc(&ms, &base);
	diag("economy: the region's own page tables (64 MiB populated, counted once): %ld kB",
	     ms.pt_before - pt_noregion);
	diag("economy: mshare: 100 attachers: page tables %ld kB -> %ld kB, +%ld kB; minus the idle baseline: %.2f kB per process",
	     ms.pt_before, ms.pt_with, ms.pt_with - ms.pt_before, ms_pp);
	diag("economy: mshare: minor faults to touch 64 MiB (16384 pages) per process: min %lld, avg %.1f, max %lld",
	     (long long)ms.fmin, ms.ok ? (double)ms.fsum / ms.ok : 0.0,
	     (long long)ms.fmax);
	check(ms.started == NECON && ms.ok == NECON && ms.exited_ok == NECON,
	      "economy: 100 mshare attachers mapped the region and touched all 16384 pages");
	/*
	 * The claim is 0 kB and 1 fault per attacher, and both are exact:
	 * the limits allow one stray 4 kB table across all 100 processes,
	 * and no second fault in any of them.
	 */
	if (under_load)
		diag("economy: page tables per attacher not judged: under load, other processes move the system-wide count");
	else if (!check(ms.ok == NECON && ms_pp <= 0.04,
			"economy: mshare page tables per attaching process <= 0.04 kB, one table page over all 100 (%.2f kB)",
			ms_pp))
		diag("expected no page table of its own in any attacher");
	check(ms.ok == NECON && ms.fmax <= 1,
	      "economy: an mshare attacher touches 64 MiB with 1 page fault (max %lld)",
	      (long long)ms.fmax);
	region_drop(&fd, path);

plain:
	/* Plain: 100 children map a 64 MiB memfd MAP_SHARED */
	mfd = memfd_create("x", 0);
	buf = calloc(1, MIB);
	if (mfd < 0 || !buf || ftruncate(mfd, ECON_SIZE)) {
		check(0, "economy: a 64 MiB memfd");
		free(buf);
		close_fd(&mfd);
		return;
	}
	for (off = 0; off < ECON_SIZE; off += MIB)
		if (pwrite_full(mfd, buf, MIB, (off_t)off))
			break;
	free(buf);
	econ_round(ECON_PLAIN, mfd, &pl);
	pl_pp = per_proc(&pl, &base);
	diag("economy: plain memfd MAP_SHARED 64 MiB: 100 processes: page tables %ld kB -> %ld kB, +%ld kB; minus the idle baseline: %.2f kB per process",
	     pl.pt_before, pl.pt_with, pl.pt_with - pl.pt_before, pl_pp);
	diag("economy: plain: minor faults to touch 64 MiB (16384 pages) per process: min %lld, avg %.1f, max %lld",
	     (long long)pl.fmin, pl.ok ? (double)pl.fsum / pl.ok : 0.0,
	     (long long)pl.fmax);
	diag("economy: summary: per process, mshare %.2f kB of page tables and %lld faults; plain MAP_SHARED %.2f kB and %lld faults",
	     ms_pp, (long long)ms.fmax, pl_pp, (long long)pl.fmin);
	check(pl.started == NECON && pl.ok == NECON && pl.exited_ok == NECON,
	      "economy: 100 plain memfd mappers mapped and touched 64 MiB");
	if (under_load)
		diag("economy: plain page tables per process not judged under load (%.2f kB)",
		     pl_pp);
	else
		check(pl.ok == NECON && pl_pp > 100.0,
		      "economy: plain MAP_SHARED page tables per process > 100 kB (%.2f kB): the method measures",
		      pl_pp);
	check(pl.ok == NECON && pl.fmin >= 64,
	      "economy: a plain mapper takes >= 64 page faults for 64 MiB (min %lld): the fault count measures",
	      (long long)pl.fmin);
	close_fd(&mfd);
}

/* ----------------------------------------------------- 8. cross-CPU */

#define XCPU_SIZE	(2 * MIB)

struct xctl {
	uint64_t seen;		/* last value the reader read */
	uint64_t reads;
	uint64_t faults;	/* SIGBUS/SIGSEGV caught by the reader */
	int ready;
	int stop;
	int err;
};

static sigjmp_buf rd_env;
static volatile uint64_t *volatile rd_word;
static struct xctl *volatile rd_ctl;

static void rd_fault(int sig)
{
	(void)sig;
	siglongjmp(rd_env, 1);
}

/* The reader child, pinned to CPU 1: spin on word 0 of its own attach */
static int xcpu_reader(int fd, struct xctl *ctl)
{
	struct sigaction sa;
	cpu_set_t set;
	char *a;

	CPU_ZERO(&set);
	CPU_SET(1, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		ctl->err = errno;
		return CHILD_SETUP;
	}
	a = attach(fd, REGION_A, RW);
	if (!a) {
		ctl->err = errno;
		return CHILD_SETUP;
	}
	rd_word = (volatile uint64_t *)a;
	rd_ctl = ctl;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = rd_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	__atomic_store_n(&ctl->ready, 1, __ATOMIC_SEQ_CST);

	if (sigsetjmp(rd_env, 1))
		__atomic_add_fetch(&rd_ctl->faults, 1, __ATOMIC_RELAXED);
	while (!__atomic_load_n(&rd_ctl->stop, __ATOMIC_ACQUIRE)) {
		uint64_t v = *rd_word;

		__atomic_store_n(&rd_ctl->seen, v, __ATOMIC_RELEASE);
		__atomic_add_fetch(&rd_ctl->reads, 1, __ATOMIC_RELAXED);
	}
	return CHILD_OK;
}

/* Wait up to ms for the reader to read val, then to read 1000 more times */
static int wait_seen(struct xctl *ctl, uint64_t val, uint64_t t0,
		     uint64_t ms, uint64_t *lat_ns)
{
	uint64_t limit = t0 + ms * 1000000ULL, reads, now;

	for (;;) {
		now = now_ns();
		if (__atomic_load_n(&ctl->seen, __ATOMIC_ACQUIRE) == val)
			break;
		if (now > limit)
			return 0;
	}
	*lat_ns = now - t0;
	reads = __atomic_load_n(&ctl->reads, __ATOMIC_ACQUIRE);
	limit = now_ns() + 1000000000ULL;
	while (__atomic_load_n(&ctl->reads, __ATOMIC_ACQUIRE) < reads + 1000 &&
	       now_ns() < limit)
		;
	return 1;
}

static void test_crosscpu(void)
{
	static const char *const names[] = {
		"cross-CPU: the reader on CPU 1 sees the initial value written on CPU 0",
		"cross-CPU: 20 rounds of UNMAP + CREATE_MAPPING + write on CPU 0: the reader on CPU 1 sees each new value within 1 s",
		"cross-CPU: the reader survived (it retries after a fault) and exited normally",
	};
	char path[PATH_MAX];
	char *addr = NULL;
	struct xctl *ctl = MAP_FAILED;
	cpu_set_t orig, set;
	uint64_t lat, maxlat = 0, sumlat = 0;
	int pinned = 0, fd = -1, i, st, rounds = 0, fail = 0;
	pid_t pid = -1;

	group("8. cross-CPU: a reader on CPU 1 while CPU 0 replaces the object");
	if (sched_getaffinity(0, sizeof(orig), &orig) ||
	    !CPU_ISSET(0, &orig) || !CPU_ISSET(1, &orig)) {
		for (i = 0; i < 3; i++)
			skip("CPUs 0 and 1 are not both available", "%s",
			     names[i]);
		return;
	}
	ctl = mmap(NULL, PAGE_SZ, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = region_open("xcpu", REGION_A, path);
	if (ctl == MAP_FAILED || fd < 0 || setup_anon(fd, 0, XCPU_SIZE, 1)) {
		check(0, "cross-CPU: set up a region with a 2 MiB object");
		goto out;
	}
	memset(ctl, 0, sizeof(*ctl));
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		check(0, "cross-CPU: pin the parent to CPU 0");
		goto out;
	}
	pinned = 1;
	pid = spawn();
	if (pid == 0)
		_exit(xcpu_reader(fd, ctl));
	addr = setup_attach(fd, REGION_A);
	if (pid < 0 || !addr) {
		check(0, "cross-CPU: start the reader and attach");
		goto out;
	}
	*(volatile uint64_t *)addr = 1;
	if (!check(wait_seen(ctl, 1, now_ns(), 10000, &lat), "%s", names[0])) {
		diag("the reader is %s, its errno %s, it sees %llu",
		     ctl->ready ? "ready" : "not ready", errname(ctl->err),
		     (unsigned long long)ctl->seen);
		goto stop;
	}
	for (i = 0; i < NROUNDS_XCPU; i++) {
		uint64_t v = (uint64_t)i + 2, t0;

		if (unmap_obj(fd, 0, XCPU_SIZE)) {
			diag("round %d: UNMAP failed: %s", i, errname(errno));
			fail = 1;
			break;
		}
		if (create_anon(fd, 0, XCPU_SIZE, 0)) {
			diag("round %d: CREATE_MAPPING failed: %s", i,
			     errname(errno));
			fail = 1;
			break;
		}
		*(volatile uint64_t *)addr = v;
		t0 = now_ns();
		if (!wait_seen(ctl, v, t0, 1000, &lat)) {
			diag("round %d: after 1 s the reader still sees %llu, not %llu",
			     i, (unsigned long long)ctl->seen,
			     (unsigned long long)v);
			fail = 1;
			break;
		}
		rounds++;
		sumlat += lat;
		if (lat > maxlat)
			maxlat = lat;
	}
	diag("cross-CPU: %d rounds, latency of the new value: max %llu us, avg %llu us; the reader read %llu times and caught %llu faults",
	     rounds, (unsigned long long)(maxlat / 1000),
	     (unsigned long long)(rounds ? sumlat / rounds / 1000 : 0),
	     (unsigned long long)ctl->reads, (unsigned long long)ctl->faults);
	check(!fail && rounds == NROUNDS_XCPU, "%s", names[1]);
stop:
	__atomic_store_n(&ctl->stop, 1, __ATOMIC_RELEASE);
	st = wait_child(pid);
	pid = -1;
	if (!check(st == CHILD_OK, "%s", names[2]))
		diag("the reader exited with %d", st);
out:
	if (pid > 0) {
		if (ctl != MAP_FAILED)
			__atomic_store_n(&ctl->stop, 1, __ATOMIC_RELEASE);
		wait_child(pid);
	}
	reap_all();
	if (pinned && sched_setaffinity(0, sizeof(orig), &orig))
		diag("restoring the CPU affinity failed: %s", strerror(errno));
	detach(&addr, REGION_A);
	region_drop(&fd, path);
	if (ctl != MAP_FAILED)
		munmap(ctl, PAGE_SZ);
}

/* ------------------------------------------------- 9. read-only attach */

#define RO_SIZE		(64 * KIB)
#define RO_SEED		91
#define RO_NEWVAL	0x0dd0beefcafeULL
#define RO_NEWOFF	(2 * PAGE_SZ + 8)

struct ro_rep1 {
	uint64_t addr;
	int32_t open_err, mmap_err;
	int32_t aligned, read_ok, kread_ok;
	int32_t rw_ret, rw_err;
	int32_t mp_ret, mp_err;
	int32_t gc_status;
	int32_t pipe_ret, pipe_err;
	int32_t intact;
};

struct ro_rep2 {
	int32_t saw_new;
	int32_t intact;
};

/* Pattern of the RW parent, and zeros between the pattern words of page 0 */
static int ro_intact(const char *a, const char *what)
{
	return verify(a, RO_SIZE, RO_SEED, 0, what) == 0 &&
	       all_zero(a + 8, PAGE_SZ - 16, what);
}

static int ro_child(const char *path, int p2c, int c2p)
{
	static const char junk[16] = "0123456789abcdef";
	struct ro_rep1 rep;
	struct ro_rep2 rep2;
	char buf[16], c;
	int fd, k[2];
	void *p;
	char *a;
	pid_t gc;

	memset(&rep, 0, sizeof(rep));
	memset(&rep2, 0, sizeof(rep2));
	rep.gc_status = -1;
	if (read(p2c, &c, 1) != 1)
		return CHILD_SETUP;
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		rep.open_err = errno;
		write_full(c2p, &rep, sizeof(rep));
		return CHILD_FAIL;
	}
	a = mmap(NULL, REGION_A, PROT_READ, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED) {
		rep.mmap_err = errno;
		write_full(c2p, &rep, sizeof(rep));
		return CHILD_FAIL;
	}
	rep.addr = (uint64_t)(uintptr_t)a;
	rep.aligned = aligned_a(a);
	rep.read_ok = ro_intact(a, "read-only child");

	/* The kernel reads from the RO mapping: write(2) it into a pipe */
	if (pipe(k) == 0) {
		rep.kread_ok = write(k[1], a, 16) == 16 &&
			       read(k[0], buf, 16) == 16 &&
			       !memcmp(buf, a, 16);
		close(k[0]);
		close(k[1]);
	}

	p = mmap(NULL, REGION_A, RW, MAP_SHARED, fd, 0);
	rep.rw_err = errno;
	rep.rw_ret = p == MAP_FAILED ? -1 : 0;
	if (p != MAP_FAILED)
		munmap(p, REGION_A);

	rep.mp_ret = mprotect(a, REGION_A, RW);
	rep.mp_err = errno;

	gc = spawn();
	if (gc == 0) {
		*(volatile char *)(a + 100) = 'X';
		_exit(0);
	}
	if (gc > 0)
		rep.gc_status = wait_raw(gc);

	/* copy_to_user into the RO mapping: read(2) from a pipe */
	rep.pipe_ret = -2;
	if (pipe(k) == 0) {
		if (write(k[1], junk, 16) == 16) {
			rep.pipe_ret = (int32_t)read(k[0], a + 64, 16);
			rep.pipe_err = errno;
		}
		close(k[0]);
		close(k[1]);
	}
	rep.intact = ro_intact(a, "read-only child after the write attempts");
	if (write_full(c2p, &rep, sizeof(rep)))
		return CHILD_SETUP;

	/* The parent tries remote writes, then writes through its RW attach */
	if (read(p2c, &c, 1) != 1)
		return CHILD_SETUP;
	rep2.saw_new = *(volatile uint64_t *)(a + RO_NEWOFF) == RO_NEWVAL;
	rep2.intact = page_ok(a, 0, RO_SEED, 0, "read-only child, page 0") &&
		      all_zero(a + 8, PAGE_SZ - 16, "read-only child, page 0");
	if (write_full(c2p, &rep2, sizeof(rep2)))
		return CHILD_SETUP;
	munmap(a, REGION_A);
	close(fd);
	return CHILD_OK;
}

static void test_readonly(void)
{
	static const char junk[16] = "FEDCBA9876543210";
	char path[PATH_MAX], mpath[64];
	char *addr = NULL;
	struct ro_rep1 rep;
	struct ro_rep2 rep2;
	int p2c[2] = { -1, -1 }, c2p[2] = { -1, -1 };
	int fd, have = 0, have2 = 0, r, e, st, mfd;
	pid_t pid = -1;

	group("9. read-only attach");
	memset(&rep, 0, sizeof(rep));
	memset(&rep2, 0, sizeof(rep2));
	fd = region_open("ro", REGION_A, path);
	if (!check(fd >= 0, "read-only: create and size a 512 GiB region"))
		return;
	if (setup_anon(fd, 0, RO_SIZE, 0) || make_pipe(p2c) || make_pipe(c2p)) {
		check(0, "read-only: set up a 64 KiB object and pipes");
		goto out;
	}
	/* The child exists before the parent attaches: it inherits nothing */
	pid = spawn();
	if (pid == 0) {
		close(fd);
		close(p2c[1]);
		close(c2p[0]);
		_exit(ro_child(path, p2c[0], c2p[1]));
	}
	close_fd(&p2c[0]);
	close_fd(&c2p[1]);
	addr = setup_attach(fd, REGION_A);
	if (pid < 0 || !addr) {
		check(0, "read-only: start the child and attach RW");
		goto out;
	}
	/* Touch every page RW first: the shared tables get writable entries */
	fill(addr, RO_SIZE, RO_SEED, 0);
	if (write(p2c[1], "g", 1) == 1 &&
	    read_full(c2p[0], &rep, sizeof(rep), REPORT_TIMEOUT) == 0)
		have = 1;
	else
		diag("no report from the read-only child");

	if (!check_ok(have && !rep.open_err && !rep.mmap_err ? 0 : -1,
		      rep.open_err ? rep.open_err : rep.mmap_err,
		      "read-only: a child opens the region O_RDONLY and mmaps it PROT_READ MAP_SHARED"))
		have = 0;
	check(have && rep.aligned,
	      "read-only: the read-only attach address %#llx is 512 GiB aligned",
	      (unsigned long long)rep.addr);
	check(have && rep.read_ok,
	      "read-only: the child reads the data the RW parent wrote");
	check(have && rep.kread_ok,
	      "read-only: the kernel reads from the read-only mapping (write(2) into a pipe)");
	check_err(have ? rep.rw_ret : 0, rep.rw_err, EACCES,
		  "read-only: mmap PROT_READ|PROT_WRITE of the O_RDONLY fd fails with EACCES");
	check_err2(have ? rep.mp_ret : 0, rep.mp_err, EINVAL, EACCES,
		   "read-only: mprotect(PROT_READ|PROT_WRITE) of the read-only mapping fails with EINVAL or EACCES");
	if (!check(have && rep.gc_status != -1 && WIFSIGNALED(rep.gc_status) &&
		   WTERMSIG(rep.gc_status) == SIGSEGV,
		   "read-only: a CPU store into the read-only mapping kills the process with SIGSEGV"))
		diag("the grandchild %s", status_str(rep.gc_status));
	check_err(have ? rep.pipe_ret : 0, rep.pipe_err, EFAULT,
		  "read-only: read(2) from a pipe into the read-only mapping (copy_to_user) fails with EFAULT");
	check(have && rep.intact && ro_intact(addr, "RW parent"),
	      "read-only: the data is unchanged after the child's write attempts");

	if (have) {
		struct iovec lv = { (void *)junk, 16 };
		struct iovec rv = { (void *)(uintptr_t)(rep.addr + 128), 16 };

		r = (int)process_vm_writev(pid, &lv, 1, &rv, 1, 0);
		e = errno;
	} else {
		r = 0;
		e = 0;
	}
	check_err(r, e, EFAULT,
		  "read-only: process_vm_writev into the child's read-only mapping fails with EFAULT");
	check(ro_intact(addr, "RW parent"),
	      "read-only: the data is unchanged after process_vm_writev");

	r = 0;
	e = 0;
	if (have) {
		snprintf(mpath, sizeof(mpath), "/proc/%d/mem", (int)pid);
		mfd = open(mpath, O_RDWR);
		if (mfd < 0) {
			diag("open(%s) failed: %s", mpath, strerror(errno));
		} else {
			r = (int)pwrite(mfd, junk, 16, (off_t)(rep.addr + 192));
			e = errno;
			close(mfd);
		}
	}
	check_err2(r, e, EFAULT, EIO,
		   "read-only: writing the child's /proc/PID/mem at its read-only mapping fails with EFAULT or EIO");
	check(ro_intact(addr, "RW parent"),
	      "read-only: the data is unchanged after the /proc/PID/mem write");

	*(volatile uint64_t *)(addr + RO_NEWOFF) = RO_NEWVAL;
	check(*(volatile uint64_t *)(addr + RO_NEWOFF) == RO_NEWVAL,
	      "read-only: the RW attacher still writes");
	if (have && write(p2c[1], "g", 1) == 1 &&
	    read_full(c2p[0], &rep2, sizeof(rep2), REPORT_TIMEOUT) == 0)
		have2 = 1;
	check(have2 && rep2.saw_new && rep2.intact,
	      "read-only: the read-only attacher sees the RW attacher's new write");
	st = wait_child(pid);
	pid = -1;
	check(st == CHILD_OK, "read-only: the read-only child exited normally");
out:
	close_pipe(p2c);
	close_pipe(c2p);
	if (pid > 0)
		kill(pid, SIGKILL);
	reap_all();
	detach(&addr, REGION_A);
	region_drop(&fd, path);
}

/* ---------------------------------------------------------- 10. futex */

struct fx {
	pthread_mutex_t m;
	pthread_cond_t c;
	long count;
	int done;
};

static int fx_work(struct fx *f)
{
	int i;

	for (i = 0; i < NFUTEX_ITER; i++) {
		if (pthread_mutex_lock(&f->m))
			return -1;
		f->count++;
		if (pthread_mutex_unlock(&f->m))
			return -1;
	}
	return 0;
}

/* Child k: wait for the start, count, then signal the parent */
static int fx_child(int fd, struct fx *inherited, int k, int start)
{
	struct fx *f = inherited;
	int ret = CHILD_OK;
	char c;

	if (k == 1) {
		/* Its own attach, at another address: same futexes */
		char *a = attach(fd, REGION_A, RW);

		if (a)
			f = (struct fx *)a;
		else
			diag("futex child: mmap failed: %s, using the inherited mapping",
			     errname(errno));
		ret = a ? CHILD_OK : CHILD_FAIL;
	}
	while (read(start, &c, 1) < 0 && errno == EINTR)
		;
	if (fx_work(f))
		return CHILD_FAIL;
	if (pthread_mutex_lock(&f->m))
		return CHILD_FAIL;
	f->done++;
	pthread_cond_broadcast(&f->c);
	pthread_mutex_unlock(&f->m);
	return ret;
}

static void test_futex(void)
{
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	struct timespec dl;
	char path[PATH_MAX];
	char *addr = NULL;
	struct fx *f;
	pid_t pids[2] = { -1, -1 };
	int start[2] = { -1, -1 };
	int fd, k, st[2], r = 0, timedout = 0, inited = 0;

	group("10. process-shared futexes in a region");
	fd = region_open("futex", REGION_A, path);
	if (!check(fd >= 0, "futex: create and size a 512 GiB region"))
		return;
	if (setup_anon(fd, 0, 64 * KIB, 0) || !(addr = setup_attach(fd, REGION_A)) ||
	    make_pipe(start)) {
		check(0, "futex: set up a 64 KiB object");
		goto out;
	}
	f = (struct fx *)addr;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&f->m, &ma) || pthread_cond_init(&f->c, &ca)) {
		check(0, "futex: initialise a process-shared mutex and condition variable in the region");
		goto out;
	}
	inited = 1;
	f->count = 0;
	f->done = 0;
	for (k = 0; k < 2; k++) {
		pids[k] = spawn();
		if (pids[k] == 0) {
			close(start[1]);
			_exit(fx_child(fd, f, k, start[0]));
		}
	}
	close_pipe(start);	/* read() returns 0 in both children: go */
	if (fx_work(f))
		r = -1;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += 30;
	if (pthread_mutex_lock(&f->m) == 0) {
		while (f->done < 2 && !timedout)
			if (pthread_cond_timedwait(&f->c, &f->m, &dl) ==
			    ETIMEDOUT)
				timedout = 1;
		pthread_mutex_unlock(&f->m);
	} else {
		r = -1;
	}
	for (k = 0; k < 2; k++)
		st[k] = pids[k] > 0 ? wait_child(pids[k]) : -1;
	check(r == 0 && st[0] == CHILD_OK && st[1] == CHILD_OK,
	      "futex: the parent and 2 children (one inherited mapping, one own attach) took the shared mutex 10000 times each");
	if (!check(f->count == 3 * NFUTEX_ITER,
		   "futex: the counter in the region is exactly 30000"))
		diag("the counter is %ld", f->count);
	check(!timedout && f->done == 2,
	      "futex: a process-shared condition variable in the region woke the parent for both children");
out:
	if (inited) {
		pthread_cond_destroy(&f->c);
		pthread_mutex_destroy(&f->m);
	}
	close_pipe(start);
	reap_all();
	detach(&addr, REGION_A);
	region_drop(&fd, path);
}

/* ------------------------------------------------------------- cleanup */

/* Remove whatever is left in the mount with our prefix; how many */
static int sweep(void)
{
	char path[PATH_MAX];
	struct dirent *de;
	int n = 0, i;
	DIR *d;

	for (i = 0; i < MAX_PATHS; i++) {
		if (cpath_used[i]) {
			if (unlink(cpaths[i]) == 0)
				diag("cleanup: removed leftover %s", cpaths[i]);
			cpath_used[i] = 0;
			n++;
		}
	}
	d = opendir(mnt);
	if (!d)
		return n;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", mnt, de->d_name);
		if (unlink(path) == 0)
			diag("cleanup: removed leftover %s", path);
		else
			diag("cleanup: unlink(%s) failed: %s", path,
			     strerror(errno));
		n++;
	}
	closedir(d);
	return n;
}

/* ------------------------------------------------------- fault guard */

/*
 * If the test process itself takes SIGBUS or SIGSEGV (an object that should
 * be there is not), the group is abandoned with a failed check instead of
 * the whole run dying.  Its leftovers are swept at the end.
 */
static sigjmp_buf guard_env;
static volatile sig_atomic_t guard_on;
static void *volatile guard_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!guard_on) {
		signal(sig, SIG_DFL);	/* the access repeats and kills */
		return;
	}
	guard_on = 0;
	guard_addr = si->si_addr;
	siglongjmp(guard_env, sig);
}

static void run_group(void (*const fn)(void), const char *const name,
		      const cpu_set_t *const affinity)
{
	uint64_t t0 = now_ns();
	int sig;

	guard_on = 1;
	sig = sigsetjmp(guard_env, 1);
	if (sig == 0) {
		fn();
	} else {
		check(0, "%s: the test process survives its own accesses", name);
		diag("the test process got signal %d (%s) at address %p; the rest of this group is abandoned",
		     sig, strsignal(sig), guard_addr);
		reap_all();
	}
	guard_on = 0;
	if (affinity)
		sched_setaffinity(0, sizeof(*affinity), affinity);
	diag("%s: %llu ms", name, (unsigned long long)((now_ns() - t0) / 1000000));
}

/* ---------------------------------------------------------- 11. leaks */

static void test_leaks(long pt0, long sh0, long own0)
{
	long pt, sh, own;
	int left;

	group("11. leaks");
	left = sweep();
	check(left == 0, "leaks: no region or file of ours was left to sweep");
	/*
	 * This process's own page tables grew with what it mapped (threads,
	 * buffers): that is not a leak.  Everything else must be back where
	 * it was, to the page.
	 */
	own = status_kb("VmPTE:") - own0;
	pt = pt_settle(pt0 + own);
	sh = meminfo_settle("Shmem:", 0, sh0);
	diag("leaks: page tables %ld kB at the start, %ld kB at the end (%+ld kB, %+ld kB of it this process's own)",
	     pt0, pt, pt - pt0, own);
	diag("leaks: Shmem %ld kB at the start, %ld kB at the end (%+ld kB)",
	     sh0, sh, sh - sh0);
	if (under_load) {
		diag("leaks: not judged: under load, other processes move PageTables and Shmem");
		return;
	}
	check(pt0 >= 0 && pt >= 0 && pt - pt0 - own <= 0,
	      "leaks: page tables are back at their start value but for this process's own growth (%+ld kB)",
	      pt - pt0 - own);
	check(sh0 >= 0 && sh >= 0 && sh <= sh0,
	      "leaks: Shmem is back at its start value (%+ld kB)",
	      sh - sh0);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	cpu_set_t affinity;
	const cpu_set_t *aff = NULL;
	long pt0, sh0, own0;
	unsigned int limit;

	if (argc > 2) {
		fprintf(stderr, "usage: %s [DIR]\n", argv[0]);
		return 2;
	}
	if (argc == 2)
		mnt = argv[1];
	snprintf(prefix, sizeof(prefix), "s_%d_", (int)getpid());
	if (geteuid() == 0)
		pt_setup(argv);	/* may execute this program again */

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	if (sched_getaffinity(0, sizeof(affinity), &affinity) == 0)
		aff = &affinity;
	/* The debug kernel (KASAN, lockdep) under load runs far slower. */
	slow = getenv("mshare_debug_kernel") ? 5 : 1;
	limit = TOTAL_TIMEOUT * slow;
	alarm(limit);

	diag("share_test on %s, names start with %s, time limit %d s",
	     mnt, prefix, limit);
	if (geteuid() != 0)
		diag("warning: not running as root, many checks will fail");
	pt0 = pt_now();
	sh0 = meminfo_now("Shmem:");
	own0 = status_kb("VmPTE:");
	under_load = getenv("mshare_load") != NULL;
	diag("start: page tables %ld kB, Shmem %ld kB", pt0, sh0);

	run_group(test_basic, "basic", aff);
	run_group(test_objects, "objects", aff);
	run_group(test_files, "files", aff);
	run_group(test_hugetlb, "hugetlb", aff);
	run_group(test_refusals, "refusals", aff);
	run_group(test_unmap, "unmap", aff);
	run_group(test_economy, "economy", aff);
	run_group(test_crosscpu, "cross-CPU", aff);
	run_group(test_readonly, "read-only", aff);
	run_group(test_futex, "futex", aff);

	reap_all();
	restore_huge();
	test_leaks(pt0, sh0, own0);
	pt_cleanup();

	alarm(0);
	return tap_done();
}

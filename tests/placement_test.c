// SPDX-License-Identifier: GPL-2.0
/*
 * placement_test: placing objects in a region is charged and limited like
 * the caller's own mmap(), one region's slow placement does not hold up
 * another's, and a caller waiting for a placement can be killed.
 *
 * Usage: placement_test [DIR]		DIR defaults to /sys/fs/mshare
 *
 * Runs as root in the test guest (it mounts cgroup2 and makes a child
 * cgroup with the memory controller); the rlimit checks run as uid 65534.
 *
 *   1. memory cgroup: 1000 placements raise the caller's memory.current
 *   2. rlimits: MAP_LOCKED beyond RLIMIT_MEMLOCK fails with EAGAIN, and a
 *      region beyond RLIMIT_AS with ENOMEM, as mmap() would
 *   3. a small placement in one region completes while another region's
 *      512 MiB MAP_POPULATE is still running
 *   4. a caller killed during its 512 MiB MAP_POPULATE is reaped before
 *      the populate completes
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "region.h"
#include "tap.h"
#include "util.h"

#define A	REGION_ALIGN
#define KIB	1024UL
#define MIB	(1024UL * KIB)
#define RW	(PROT_READ | PROT_WRITE)
#define SHFIX	(MAP_SHARED | MAP_FIXED)
#define BIG	(512 * MIB)
#define NPLACE	1000
#define CG	"/sys/fs/cgroup"
#define CGT	CG "/mshare_placement"

static const char *mnt = "/sys/fs/mshare";
static char dir[PATH_MAX];

static long meminfo_kb(const char *key)
{
	char buf[8192], pat[64], *p;

	if (read_file("/proc/meminfo", buf, sizeof(buf)) < 0)
		return -1;
	snprintf(pat, sizeof(pat), "\n%s:", key);
	p = strstr(buf, pat);
	return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

static long file_long(const char *path)
{
	char buf[64];

	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	return strtol(buf, NULL, 10);
}

/* ------------------------------------------------------ 1. memcg */

static int memcg_child(void *unused)
{
	char path[PATH_MAX], pid[32];
	long before, after;
	int fd, i;

	(void)unused;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (write_file(CGT "/cgroup.procs", pid))
		return 2;
	fd = region_make(dir, "memcg", 0600, A, path);
	if (fd < 0)
		return 2;
	before = file_long(CGT "/memory.current");
	for (i = 0; i < NPLACE; i++)
		if (region_place(fd, (unsigned long)i * 8 * KIB, 4 * KIB, 0,
				 RW, SHFIX | MAP_ANONYMOUS, -1))
			break;
	after = file_long(CGT "/memory.current");
	diag("%d placements: memory.current %ld -> %ld (+%ld kB)", i, before,
	     after, (after - before) / 1024);
	close(fd);
	unlink(path);
	if (i < NPLACE)
		return 3;
	/* Each placement makes a VMA, a shmem inode, a file and a dentry. */
	return after - before >= (long)(NPLACE * KIB) ? 0 : 1;
}

static void test_memcg(void)
{
	int st;

	diag("---- 1. placement is charged to the caller's memory cgroup");
	if (access(CG "/cgroup.controllers", F_OK) &&
	    ((mkdir(CG, 0755) && errno != EEXIST) ||
	     mount("cgroup2", CG, "cgroup2", 0, NULL))) {
		check(0, "memcg: mount cgroup2 on " CG ": %s", errname(errno));
		return;
	}
	if (!check((mkdir(CGT, 0755) == 0 || errno == EEXIST) &&
		   !write_file(CG "/cgroup.subtree_control", "+memory") &&
		   access(CGT "/memory.current", F_OK) == 0,
		   "memcg: a child cgroup with the memory controller"))
		return;
	st = run_as(0, memcg_child, NULL);
	if (!check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "memcg: %d placements raise the caller's memory.current by >= %d kB",
		   NPLACE, NPLACE))
		diag("child: %s", wait_str(st));
	if (rmdir(CGT))
		diag("cleanup: rmdir " CGT ": %s", errname(errno));
}

/* ------------------------------------------------------ 2. rlimits */

struct rl_arg {
	int resource;
	rlim_t limit;
	unsigned long size;
	unsigned int flags;
};

/* Child (uid 65534): the errno of the placement under the limit, or 0. */
static int rlimit_child(void *varg)
{
	struct rl_arg *a = varg;
	struct rlimit rl = { a->limit, a->limit };
	char path[PATH_MAX];
	int fd, r, err;

	fd = region_make(dir, "rlimit", 0600, A, path);
	if (fd < 0)
		return 100;
	if (setrlimit(a->resource, &rl))
		return 101;
	r = region_place(fd, 0, a->size, 0, RW,
			 SHFIX | MAP_ANONYMOUS | a->flags, -1);
	err = errno;
	close(fd);
	unlink(path);
	return r ? err : 0;
}

static void rl_expect(struct rl_arg a, int want, const char *what)
{
	int st = run_as(NOBODY, rlimit_child, &a);
	int err = WIFEXITED(st) ? WEXITSTATUS(st) : -1;

	if (!check(err == want, "rlimits: %s %s", what,
		   want ? errname(want) : "succeeds"))
		diag("got %s (%s)", err > 0 ? errname(err) : "success",
		     wait_str(st));
}

static void test_rlimits(void)
{
	diag("---- 2. placement obeys the caller's rlimits (uid 65534)");
	rl_expect((struct rl_arg){ RLIMIT_MEMLOCK, 64 * KIB, 32 * KIB,
				   MAP_LOCKED }, 0,
		  "a 32 KiB MAP_LOCKED object under RLIMIT_MEMLOCK=64 KiB");
	rl_expect((struct rl_arg){ RLIMIT_MEMLOCK, 64 * KIB, 4 * MIB,
				   MAP_LOCKED }, EAGAIN,
		  "a 4 MiB MAP_LOCKED object under RLIMIT_MEMLOCK=64 KiB fails with");
	rl_expect((struct rl_arg){ RLIMIT_AS, 1024 * MIB, 2048 * MIB,
				   MAP_NORESERVE }, ENOMEM,
		  "a 2 GiB object under RLIMIT_AS=1 GiB fails with");
}

/* ------------------------------------ 3, 4. concurrency, kill */

/* Start a child that places BIG populated bytes in a new region. */
static pid_t start_big(const char *name, char *path)
{
	int fd = region_make(dir, name, 0600, A, path);
	pid_t pid;

	if (fd < 0)
		return -1;
	pid = fork();
	if (pid == 0)
		_exit(region_place(fd, 0, BIG, 0, RW,
				   SHFIX | MAP_ANONYMOUS | MAP_POPULATE, -1) ?
		      1 : 0);
	close(fd);
	return pid;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void test_concurrency(void)
{
	char bigp[PATH_MAX], smallp[PATH_MAX];
	long base, at;
	int fd, st, r;
	pid_t pid;

	diag("---- 3. regions do not wait for each other");
	base = meminfo_kb("Shmem");
	pid = start_big("slow", bigp);
	fd = region_make(dir, "fast", 0600, A, smallp);
	if (!check(pid > 0 && fd >= 0, "concurrency: set-up"))
		return;
	sleep_ms(100);
	r = region_place_anon(fd, 0, 64 * KIB);
	at = meminfo_kb("Shmem") - base;
	check_ok(r, errno, "concurrency: a small placement in another region succeeds");
	diag("Shmem +%ld kB of the slow region's %lu kB when the small placement returned",
	     at, BIG / KIB);
	check(at < (long)(BIG / KIB) * 9 / 10,
	      "concurrency: it returned while the other region's 512 MiB MAP_POPULATE was still running");
	waitpid(pid, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "concurrency: the 512 MiB placement succeeded");
	close(fd);
	unlink(smallp);
	unlink(bigp);

	diag("---- 4. a caller waiting for a placement can be killed");
	sleep_ms(200);		/* let the freed region's memory go */
	base = meminfo_kb("Shmem");
	pid = start_big("killed", bigp);
	if (!check(pid > 0, "kill: set-up"))
		return;
	sleep_ms(100);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	at = meminfo_kb("Shmem") - base;
	diag("Shmem +%ld kB of %lu kB when the killed caller was reaped",
	     at, BIG / KIB);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL &&
	      at < (long)(BIG / KIB) * 9 / 10,
	      "kill: a caller killed during a 512 MiB MAP_POPULATE is reaped before it completes");
	/* The region's next change waits for the orphaned one to finish. */
	fd = open(bigp, O_RDWR);
	if (fd >= 0) {
		check_ok(region_unmap(fd, 0, BIG), errno,
			 "kill: the orphaned placement finishes; UNMAP after it succeeds");
		close(fd);
	}
	unlink(bigp);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		mnt = argv[1];
	setvbuf(stdout, NULL, _IONBF, 0);
	if (region_dir(mnt, "place", dir))
		return tap_done();
	test_memcg();
	test_rlimits();
	test_concurrency();
	if (rmdir(dir))
		diag("cleanup: rmdir %s: %s", dir, errname(errno));
	return tap_done();
}

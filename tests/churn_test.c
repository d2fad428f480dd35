// SPDX-License-Identifier: GPL-2.0
/*
 * churn_test: host changes and host invalidations while processes attach
 * and detach all the time, and first touches with a signal pending.  Each
 * of these hung the module once (a review found them):
 *
 *   1. invalidations that nest in one task (a hugetlb zap inside a zap on
 *      6.1; a THP split inside a hole punch of a huge tmpfs file on 6.12)
 *      while attach and detach wait for the attachment list
 *   2. a kernel-mode first touch (ppoll() reading its fds from the region)
 *      by a child forked under signals, with a signal pending
 *   3. a host change after a process with two attachments forked (6.8+
 *      forks copy the VMA tree first: the parent's attachment was frozen
 *      and never thawed)
 *
 * Usage: churn_test [DIR]		DIR defaults to /sys/fs/mshare
 * Runs as root in the test guest.  A hang is caught by an alarm: the
 * check then fails and the program exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "region.h"
#include "tap.h"
#include "util.h"

#define A	REGION_ALIGN
#define MIB	(1024UL * 1024)
#define RW	(PROT_READ | PROT_WRITE)
#define NCHURN	3
#define ROUNDS	40
#define HUGETMP	"/tmp/churn_huge"

static const char *mnt = "/sys/fs/mshare";
static pid_t churners[NCHURN];

static void on_alarm(int sig)
{
	int i;

	(void)sig;
	for (i = 0; i < NCHURN; i++)
		if (churners[i] > 0)
			kill(churners[i], SIGKILL);
	printf("not ok - churn: hung (the alarm fired)\n");
	_exit(1);
}

/* Processes that attach, touch and detach the region, until killed. */
static void churn_start(const char *path)
{
	int i;

	for (i = 0; i < NCHURN; i++) {
		churners[i] = fork();
		if (churners[i] == 0) {
			int fd = open(path, O_RDWR);
			int null = open("/dev/null", O_WRONLY);

			for (;;) {
				char *p = region_attach(fd, A, RW);

				if (p) {
					/*
					 * Touch (and link) from the kernel: with
					 * nothing placed it fails with EFAULT
					 * instead of a SIGBUS.
					 */
					ssize_t n = write(null, p, 1);

					(void)n;
					munmap(p, A);
				}
			}
		}
	}
}

static void churn_stop(void)
{
	int i;

	for (i = 0; i < NCHURN; i++) {
		if (churners[i] > 0) {
			kill(churners[i], SIGKILL);
			waitpid(churners[i], NULL, 0);
		}
		churners[i] = 0;
	}
}

/* 1a. hugetlb objects replaced over and over (nested zaps on 6.1) */
static void test_hugetlb(void)
{
	char path[PATH_MAX];
	int fd, i, bad = 0;
	char *p;

	diag("---- 1a. hugetlb objects replaced while processes attach and detach");
	if (!check(!write_file("/proc/sys/vm/nr_hugepages", "8"),
		   "hugetlb: reserve 8 huge pages"))
		return;
	fd = region_make(mnt, "churn_hugetlb", 0600, A, path);
	if (!check(fd >= 0, "hugetlb: set-up"))
		return;
	p = region_attach(fd, A, RW);	/* one attacher that stays */
	churn_start(path);
	alarm(120);
	for (i = 0; i < ROUNDS; i++) {
		if (region_place(fd, 0, 4 * MIB, 0, RW,
				 MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS |
				 MAP_HUGETLB | MAP_POPULATE, -1)) {
			bad++;
			continue;
		}
		if (p)
			*(volatile char *)p;	/* links the slot */
		if (region_unmap(fd, 0, 4 * MIB))
			bad++;
	}
	alarm(0);
	churn_stop();
	check(bad == 0, "hugetlb: %d rounds of CREATE + UNMAP of a 4 MiB hugetlb object with %d processes attaching and detaching",
	      ROUNDS, NCHURN);
	if (p)
		munmap(p, A);
	close(fd);
	unlink(path);
	write_file("/proc/sys/vm/nr_hugepages", "0");
}

/* 1b. holes punched in a PMD-mapped huge tmpfs file (THP splits) */
static void test_huge_tmpfs(void)
{
	char path[PATH_MAX], file[PATH_MAX];
	int fd, ffd, i, bad = 0, r;
	char *p;

	diag("---- 1b. holes punched in a huge tmpfs file while processes attach and detach");
	if (!check((mkdir(HUGETMP, 0755) == 0 || errno == EEXIST) &&
		   !mount("tmpfs", HUGETMP, "tmpfs", 0, "huge=always,size=64m"),
		   "huge tmpfs: mount"))
		return;
	snprintf(file, sizeof(file), "%s/f", HUGETMP);
	ffd = open(file, O_RDWR | O_CREAT, 0600);
	fd = region_make(mnt, "churn_tmpfs", 0600, A, path);
	if (!check(ffd >= 0 && !ftruncate(ffd, 16 * MIB) && fd >= 0,
		   "huge tmpfs: set-up"))
		goto out;
	r = region_place(fd, 0, 16 * MIB, 0, RW,
			 MAP_SHARED | MAP_FIXED | MAP_POPULATE, ffd);
	if (kernel_version() < 606) {
		check_err(r, errno, EINVAL, "huge tmpfs: refused before 6.6 (see security_test 8)");
		goto out;
	}
	if (!check_ok(r, errno, "huge tmpfs: a 16 MiB file placed"))
		goto out;
	p = region_attach(fd, A, RW);
	if (p)
		memset(p, 1, 16 * MIB);
	churn_start(path);
	alarm(120);
	for (i = 0; i < 4 * ROUNDS; i++) {
		off_t off = (off_t)(i % 8) * 2 * MIB + 4096 * (i % 16 + 1);

		if (fallocate(ffd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      off, 4096))
			bad++;
		if (p)
			p[(i % 8) * 2 * MIB] = 1;	/* refault the huge page */
	}
	alarm(0);
	churn_stop();
	check(bad == 0, "huge tmpfs: %d 4 KiB holes punched in huge pages with %d processes attaching and detaching",
	      4 * ROUNDS, NCHURN);
	if (p)
		munmap(p, A);
out:
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	if (ffd >= 0)
		close(ffd);
	umount(HUGETMP);
}

/* 2. kernel-mode first touches with a signal pending */
static volatile sig_atomic_t ticks;

static void on_tick(int sig)
{
	(void)sig;
	ticks++;
}

static void test_pending_signal(void)
{
	struct itimerval it = { { 0, 300 }, { 0, 300 } };
	struct sigaction sa;
	char path[PATH_MAX];
	int fd, i, st, bad = 0;
	struct pollfd *pfd;

	diag("---- 2. ppoll() reading its fds from the region, a signal pending, in children forked under signals");
	fd = region_make(mnt, "churn_signal", 0600, A, path);
	if (!check(fd >= 0 && !region_place_anon(fd, 0, 2 * MIB), "signal: set-up"))
		return;
	pfd = (struct pollfd *)region_attach(fd, A, RW);
	if (!check(pfd != NULL, "signal: attach"))
		goto out;
	pfd->fd = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tick;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	for (i = 0; i < 20; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			struct itimerval off = { { 0, 0 }, { 0, 0 } };
			struct timespec ts = { 0, 0 };
			sigset_t block, none;

			setitimer(ITIMER_REAL, &off, NULL);
			signal(SIGALRM, SIG_DFL);
			alarm(10);		/* a hang dies of SIGALRM */
			sigemptyset(&block);
			sigaddset(&block, SIGUSR1);
			sigprocmask(SIG_BLOCK, &block, NULL);
			raise(SIGUSR1);
			sigemptyset(&none);
			/* The first touch of the mapping is in the kernel. */
			ppoll(pfd, 1, &ts, &none);
			_exit(0);
		}
		if (pid < 0)
			continue;
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
	check(bad == 0, "signal: 20 children's ppoll() with a signal pending returned (%d hung or died)", bad);
	munmap(pfd, A);
out:
	close(fd);
	unlink(path);
}

/*
 * 3. A process with two attachments forks (on 6.8+ the child's VMA tree
 * holds the parent's VMAs while the first one's notifier registers), then
 * the region changes: the change must complete.
 */
static void test_fork_two(void)
{
	char path[PATH_MAX];
	int fd, st, i;
	pid_t pid;
	char *a, *b;

	diag("---- 3. fork with two attachments, then a host change");
	fd = region_make(mnt, "churn_fork2", 0600, A, path);
	if (!check(fd >= 0 && !region_place_anon(fd, 0, 2 * MIB),
		   "fork2: set-up"))
		return;
	a = region_attach(fd, A, RW);
	b = region_attach(fd, A, RW);
	if (!check(a && b, "fork2: two attachments"))
		goto out;
	a[0] = 1;
	pid = fork();
	if (pid == 0)
		_exit(b[0] == 1 ? 0 : 1);
	waitpid(pid, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "fork2: the child reads the region through its second attachment");
	/* The change runs in a child: a hang must not take this program. */
	pid = fork();
	if (pid == 0)
		_exit(region_unmap(fd, 0, 2 * MIB) ||
		      region_place_anon(fd, 0, 2 * MIB) ? 1 : 0);
	for (i = 0; i < 200 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(100000);
	if (i == 200) {
		kill(pid, SIGKILL);
		check(0, "fork2: UNMAP + CREATE after the fork completes within 20 s");
	} else {
		check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "fork2: UNMAP + CREATE after the fork completes within 20 s");
	}
	munmap(a, A);
	munmap(b, A);
out:
	close(fd);
	unlink(path);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		mnt = argv[1];
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGALRM, on_alarm);
	test_hugetlb();
	test_huge_tmpfs();
	test_pending_signal();
	test_fork_two();
	return tap_done();
}

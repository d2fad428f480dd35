// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: for SECONDS (default 60) of guest time, worker processes attach a
 * region, read and check its pages, fork children that do the same and
 * exit, detach and exit, and some are killed with SIGKILL mid-work; while a
 * mutator keeps replacing the region's objects (UNMAP, CREATE_MAPPING at
 * the same offset, then tagging every page).
 *
 * Readers also go through /proc/self/mem (GUP that may not retry).
 *
 * Every page's first word is 0 (new object, not tagged yet) or its tag:
 * (generation << 32 | object << 20 | page index).  Anything else means an
 * attacher saw a foreign or freed page; a generation older than one the
 * reader already saw for that object means a stale page: wrong data either
 * way.  Accesses during a replacement may get SIGBUS/SIGSEGV, and reads
 * through /proc/self/mem may fail then; the readers catch those and go on,
 * but count them, with the zero words, in a page shared by all processes:
 * the run fails when most reads fault, fail or see only zeros, since the
 * tag check then proves nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/msharefs.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

#define ALIGN_A		549755813888UL
#define NOBJ		4
#define OBJ_SIZE	(2UL << 20)
#define OBJ_PAGES	(OBJ_SIZE / 4096)
#define OBJ_OFFSET(i)	((uint64_t)(i) << 30)	/* 1 GiB apart */
#define NWORKERS	6

static sigjmp_buf jump;

/* Counters of every reader, in a MAP_SHARED page (main() maps it). */
struct stats {
	long loads;		/* CPU loads attempted */
	long faults;		/* ... that got SIGBUS/SIGSEGV */
	long tagged;		/* reads (either way) that saw a tag */
	long zeros;		/* reads that saw 0 */
	long mem_reads;		/* /proc/self/mem reads attempted */
	long mem_fails;		/* ... that failed */
};
static struct stats *stats;

static void count(long *c)
{
	__atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

static void on_fault(int sig)
{
	(void)sig;
	count(&stats->faults);
	siglongjmp(jump, 1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t tag(uint64_t gen, int obj, int page)
{
	return gen << 32 | (uint64_t)obj << 20 | (uint64_t)page;
}

/* The newest generation this reader has seen of each object */
static uint64_t seen_gen[NOBJ];

static int tag_ok(uint64_t v, int obj, int page, const char *how)
{
	uint64_t gen = v >> 32;

	if (v == 0) {
		count(&stats->zeros);
		return 1;
	}
	count(&stats->tagged);
	if ((v & 0xffffffff) == (tag(0, obj, page) & 0xffffffff) &&
	    gen >= seen_gen[obj]) {
		seen_gen[obj] = gen;
		return 1;
	}
	diag("wrong data (%s): object %d page %d holds %#llx (newest generation seen %llu)",
	     how, obj, page, (unsigned long long)v,
	     (unsigned long long)seen_gen[obj]);
	return 0;
}

/*
 * Exit codes of a reader: 0 fine, 3 wrong data, 4 could not attach.
 * Pages are read by the CPU and, every 8th, through /proc/self/mem: GUP
 * that may not retry, which must neither spin against a host change nor
 * see wrong data (a transient EIO while an object is replaced is fine).
 */
static int check_pages(volatile uint64_t *base, unsigned int seed, int mem)
{
	volatile uint64_t *word;
	volatile int i;		/* survives siglongjmp */
	uint64_t v;
	int obj, page;

	for (i = 0; i < 64; i++) {
		obj = rand_r(&seed) % NOBJ;
		page = rand_r(&seed) % OBJ_PAGES;
		word = base + (OBJ_OFFSET(obj) + (uint64_t)page * 4096) / 8;
		if (mem >= 0 && i % 8 == 0) {
			count(&stats->mem_reads);
			if (pread(mem, &v, sizeof(v), (off_t)(uintptr_t)word) !=
			    sizeof(v))
				count(&stats->mem_fails);
			else if (!tag_ok(v, obj, page, "/proc/self/mem"))
				return 3;
			continue;
		}
		if (sigsetjmp(jump, 1))
			continue;	/* object being replaced */
		count(&stats->loads);
		v = *word;
		if (!tag_ok(v, obj, page, "load"))
			return 3;
	}
	return 0;
}

static int reader(int rfd, unsigned int seed, double until)
{
	struct sigaction sa = { .sa_handler = on_fault };
	volatile uint64_t *base;
	pid_t child;
	int st, err;

	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	int mem = open("/proc/self/mem", O_RDONLY);

	base = mmap(NULL, ALIGN_A, PROT_READ, MAP_SHARED, rfd, 0);
	if (base == MAP_FAILED)
		return 4;
	while (now() < until) {
		err = check_pages(base, seed++, mem);
		if (err)
			return err;
		if (seed % 8 == 0) {
			/* A forked child inherits the attachment. */
			child = fork();
			if (child == 0)
				_exit(check_pages(base, seed * 7, -1));
			if (waitpid(child, &st, 0) == child && WIFEXITED(st) &&
			    WEXITSTATUS(st))
				return WEXITSTATUS(st);
		}
		if (seed % 16 == 0)
			break;		/* detach by exit, and start anew */
	}
	munmap((void *)base, ALIGN_A);
	return 0;
}

static int place(int rfd, int obj)
{
	struct mshare_create mc = {
		.region_offset = OBJ_OFFSET(obj), .size = OBJ_SIZE,
		.prot = PROT_READ | PROT_WRITE,
		.flags = MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS,
		.fd = (__u32)-1,
	};

	return ioctl(rfd, MSHAREFS_CREATE_MAPPING, &mc);
}

static int mutator(int rfd, double until, long *rounds)
{
	struct mshare_unmap mu = { .size = OBJ_SIZE };
	uint64_t gen = 1;
	uint64_t *base;
	int obj;
	long i;

	base = mmap(NULL, ALIGN_A, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	if (base == MAP_FAILED)
		return 4;
	*rounds = 0;
	while (now() < until) {
		obj = *rounds % NOBJ;
		mu.region_offset = OBJ_OFFSET(obj);
		if (ioctl(rfd, MSHAREFS_UNMAP, &mu) || place(rfd, obj))
			return 5;
		gen++;
		for (i = 0; i < (long)OBJ_PAGES; i++)
			base[(OBJ_OFFSET(obj) + i * 4096) / 8] =
				tag(gen, obj, (int)i);
		(*rounds)++;
	}
	munmap(base, ALIGN_A);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/sys/fs/mshare";
	double secs = argc > 2 ? atof(argv[2]) : 60, start, until;
	long spawned = 0, killed = 0, bad = 0, rounds = 0;
	int ok;
	pid_t workers[NWORKERS], mut;
	char path[256];
	int rfd, i, st, pipefd[2];

	alarm((unsigned int)secs + 120);
	stats = mmap(NULL, sizeof(*stats), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (stats == MAP_FAILED) {
		check(0, "stress setup: the shared counters: %s", strerror(errno));
		return tap_done();
	}
	snprintf(path, sizeof(path), "%s/stress_%d", dir, (int)getpid());
	rfd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (rfd < 0 || ftruncate(rfd, ALIGN_A)) {
		check(0, "stress setup: %s", strerror(errno));
		return tap_done();
	}
	for (i = 0; i < NOBJ; i++)
		place(rfd, i);

	start = now();
	until = start + secs;
	if (pipe(pipefd))
		return 1;
	fflush(stdout);
	mut = fork();
	if (mut == 0) {
		int err = mutator(rfd, until, &rounds);

		if (write(pipefd[1], &rounds, sizeof(rounds)) < 0)
			err = 6;
		_exit(err);
	}
	for (i = 0; i < NWORKERS; i++)
		workers[i] = 0;
	while (now() < until) {
		for (i = 0; i < NWORKERS; i++) {
			if (workers[i] &&
			    waitpid(workers[i], &st, WNOHANG) == workers[i]) {
				if (WIFEXITED(st) && WEXITSTATUS(st)) {
					diag("worker exit %d", WEXITSTATUS(st));
					bad++;
				} else if (WIFSIGNALED(st) &&
					   WTERMSIG(st) != SIGKILL) {
					diag("worker died of signal %d",
					     WTERMSIG(st));
					bad++;
				}
				workers[i] = 0;
			}
			if (!workers[i]) {
				fflush(stdout);
				workers[i] = fork();
				if (workers[i] == 0)
					_exit(reader(rfd, spawned * 1000 + i,
						     until));
				spawned++;
			}
		}
		usleep(20000);
		/* Kill one worker now and then, wherever it is. */
		if (spawned % 5 == 0 && workers[spawned % NWORKERS]) {
			kill(workers[spawned % NWORKERS], SIGKILL);
			killed++;
		}
	}
	for (i = 0; i < NWORKERS; i++) {
		if (!workers[i])
			continue;
		waitpid(workers[i], &st, 0);
		if ((WIFEXITED(st) && WEXITSTATUS(st)) ||
		    (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL))
			bad++;
	}
	waitpid(mut, &st, 0);
	if (read(pipefd[0], &rounds, sizeof(rounds)) != sizeof(rounds))
		rounds = -1;
	diag("%.0f s: %ld workers started, %ld killed, %ld object replacements",
	     now() - start, spawned, killed, rounds);
	check(!bad,
	      "stress %.0f s: attach/fault/fork/exit/kill -9 against UNMAP+CREATE, no wrong data (%ld bad workers)",
	      secs, bad);
	check(WIFEXITED(st) && !WEXITSTATUS(st) && rounds > 10,
	      "the mutator ran throughout (%ld replacements, exit %d)",
	      rounds, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	/*
	 * The tag check above proves something only if the reads mostly
	 * worked and saw tags: faults, failed GUP reads and zero words are
	 * each allowed for the short windows of a replacement only.
	 */
	diag("reads: %ld loads (%ld faulted), %ld /proc/self/mem (%ld failed), %ld saw a tag, %ld a zero",
	     stats->loads, stats->faults, stats->mem_reads, stats->mem_fails,
	     stats->tagged, stats->zeros);
	ok = stats->loads > 1000 && stats->faults * 2 < stats->loads &&
	     stats->mem_reads > 100 && stats->mem_fails * 2 < stats->mem_reads &&
	     stats->tagged > 2 * stats->zeros;
	check(ok, "the readers' reads mostly worked and saw tags (fewer than half faulted or failed, tags twice as common as zeros)");
	bad += !ok;
	close(rfd);
	unlink(path);
	/*
	 * Not tap_done()'s status: this one has never counted how the mutator
	 * exited (check 2 does), and guest-init.sh turns it into a TAP line of
	 * its own.
	 */
	tap_done();
	return bad || rounds <= 10;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * preload_test: what a program sees under the LD_PRELOAD shim
 * libmshare-preload.so.  lib_test runs it with the shim and its settings
 * in the environment, reads its lines and judges what it says on stderr.
 * A dynamic program (the shim works only there); its libraries go into
 * the guest with it.
 *
 * Usage: preload_test MODE
 *   mshare   a 128 MiB MAP_SHARED|MAP_ANONYMOUS mapping is an mshare
 *            attachment, shared with a forked child; smaller, private and
 *            PROT_NONE mappings stay plain; mprotect, partial munmap and
 *            mremap are refused (the shim says so on stderr, once each),
 *            madvise(MADV_DONTNEED) keeps the data; munmap of the range
 *            (and of a larger range) detaches the whole region
 *   one      one 128 MiB mapping is an attachment in $MSHARE_PRELOAD_DIR
 *   plain    two 128 MiB mappings are plain ones and work (fallbacks)
 *   huge     a 128 MiB MAP_HUGETLB mapping is an attachment of a hugetlb
 *            object: 64 huge pages in use, free again after munmap
 *   threads  four threads map, use and unmap 32 MiB attachments at once
 *
 * Output: "ok - ..." or "not ok - ..." per check, "# ..." diagnostics;
 * the exit status is the number of failed checks (at most 100).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB		(1024UL * 1024)
#define LEN		(128 * MIB)
#define ALIGN		549755813888UL		/* 512 GiB */
#define RW		(PROT_READ | PROT_WRITE)
#define SHANON		(MAP_SHARED | MAP_ANONYMOUS)
#define NTHREADS	4
#define NROUNDS		3

static const char *dir = "/sys/fs/mshare";
static size_t page;
static int failures;

static int report(int pass, const char *fmt, ...)
{
	va_list ap;

	printf("%sok - ", pass ? "" : "not ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!pass)
		failures++;
	return pass;
}

static char *map(size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, flags, -1, 0);

	if (p == MAP_FAILED) {
		printf("# mmap of %zu bytes, flags %#x: %s\n", len, flags,
		       strerror(errno));
		return NULL;
	}
	return p;
}

/*
 * The /proc/self/maps line that holds p: path (empty for none) and size
 * of the mapping; whether it starts at p.  -1 if no mapping holds p.
 */
static int find_map(const void *p, char *path, size_t pathsize,
		    uintptr_t *size)
{
	uintptr_t a = (uintptr_t)p, start, end;
	char line[1024];
	int ret = -1, n;
	FILE *f;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while (ret < 0 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &start, &end,
			   &n) < 2 || a < start || a >= end)
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(path, pathsize, "%s", line + n);
		*size = end - start;
		ret = start == a;
	}
	fclose(f);
	return ret;
}

/* p is where a region's attachment starts, and the region is unlinked */
static int is_attachment(const char *what, const void *p)
{
	char path[512], want[300];
	uintptr_t size;
	int at = find_map(p, path, sizeof(path), &size);

	snprintf(want, sizeof(want), "%s/preload-", dir);
	printf("# %s: %p in /proc/self/maps: %s (%lu GiB)\n", what, p,
	       at < 0 ? "none" : path, at < 0 ? 0 : size >> 30);
	return report(at == 1 && !strncmp(path, want, strlen(want)) &&
		      strstr(path, "(deleted)") && size % ALIGN == 0,
		      "%s: /proc/self/maps shows the msharefs attachment (%s*, deleted) at the address mmap returned",
		      what, want);
}

/* p is in a plain mapping: shared anonymous memory is "/dev/zero" */
static int is_plain(const char *what, const void *p, const char *want)
{
	char path[512];
	uintptr_t size;
	int at = find_map(p, path, sizeof(path), &size);

	return report(at == 1 && !strcmp(path, want),
		      "%s: a plain mapping ('%s' in /proc/self/maps, got '%s')",
		      what, want, at < 0 ? "no mapping" : path);
}

/* One byte per page: v + page number */
static void fill(char *p, size_t len, unsigned char v)
{
	size_t i;

	for (i = 0; i < len; i += page)
		p[i] = (char)(v + i / page);
}

static int holds(const char *p, size_t len, unsigned char v)
{
	size_t i;

	for (i = 0; i < len; i += page)
		if (p[i] != (char)(v + i / page))
			return 0;
	return 1;
}

/* A forked child sees what the parent wrote; the parent sees its answer. */
static int fork_shares(const char *what, char *p, size_t len)
{
	int status;
	pid_t pid;

	fill(p, len, 1);
	pid = fork();
	if (pid == 0) {
		if (!holds(p, len, 1))
			_exit(1);
		fill(p, len, 2);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return report(0, "%s: fork", what);
	return report(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		      holds(p, len, 2),
		      "%s: a forked child sees the parent's data and the parent the child's (child %s %d)",
		      what, WIFEXITED(status) ? "exit" : "signal",
		      WIFEXITED(status) ? WEXITSTATUS(status) :
		      WTERMSIG(status));
}

/* No region of the shim has a name in the directory */
static int no_names(const char *what)
{
	struct dirent *d;
	int names = 0;
	DIR *dp;

	dp = opendir(dir);
	if (!dp)
		return report(0, "%s: opendir(%s): %s", what, dir,
			      strerror(errno));
	while ((d = readdir(dp)))
		names += !strncmp(d->d_name, "preload-", 8);
	closedir(dp);
	return report(!names, "%s: no preload-* region name left in %s (%d)",
		      what, dir, names);
}

static int unmapped(const char *what, char *p, size_t len)
{
	char path[512];
	uintptr_t size;
	int ret = munmap(p, len);

	return report(!ret && find_map(p, path, sizeof(path), &size) < 0,
		      "%s: munmap(%p, %zu) returns 0 (%s) and nothing is mapped there any more",
		      what, p, len, ret ? strerror(errno) : "ok");
}

static void test_mshare(void)
{
	char *p, *q;
	int ret;

	p = map(LEN, RW, SHANON);
	if (!report(p != NULL, "mmap(NULL, 128 MiB, RW, MAP_SHARED|MAP_ANONYMOUS) succeeds"))
		return;
	is_attachment("128 MiB", p);
	no_names("128 MiB");
	fork_shares("128 MiB", p, LEN);

	q = map(MIB, RW, SHANON);
	if (q) {
		is_plain("1 MiB (below the threshold)", q, "/dev/zero (deleted)");
		munmap(q, MIB);
	}
	q = map(LEN, RW, MAP_PRIVATE | MAP_ANONYMOUS);
	if (q) {
		is_plain("128 MiB MAP_PRIVATE", q, "");
		munmap(q, LEN);
	}
	q = map(LEN, PROT_NONE, SHANON);
	if (q) {
		is_plain("128 MiB PROT_NONE", q, "/dev/zero (deleted)");
		munmap(q, LEN);
	}

	/* Refused by the module: reported once each on stderr. */
	ret = mprotect(p, LEN, PROT_READ);
	report(ret == -1 && errno == EINVAL, "mprotect(PROT_READ) fails with EINVAL (%s)",
	       ret ? strerror(errno) : "succeeded");
	ret = mprotect(p, LEN, PROT_READ);
	report(ret == -1, "a second mprotect fails too (said once)");
	ret = munmap(p + page, page);
	report(ret == -1 && errno == EINVAL && holds(p, LEN, 2),
	       "munmap of one page inside fails with EINVAL and the data stays (%s)",
	       ret ? strerror(errno) : "succeeded");
	ret = madvise(p, LEN, MADV_DONTNEED);
	report(ret == 0 && holds(p, LEN, 2),
	       "madvise(MADV_DONTNEED) succeeds and shared memory keeps its data");
	q = mremap(p, LEN, 2 * LEN, MREMAP_MAYMOVE);
	report(q == MAP_FAILED && holds(p, LEN, 2),
	       "mremap to grow it fails (%s) and the data stays",
	       q == MAP_FAILED ? strerror(errno) : "succeeded");
	unmapped("128 MiB", p, LEN);

	/* A range beyond the object still detaches the region whole. */
	p = map(LEN, RW, SHANON);
	if (p) {
		is_attachment("again", p);
		unmapped("munmap of 128 MiB + 1 page", p, LEN + page);
	}
}

static void test_one(void)
{
	char *p = map(LEN, RW, SHANON);

	if (!report(p != NULL, "mmap of 128 MiB shared anonymous succeeds"))
		return;
	is_attachment("128 MiB", p);
	fork_shares("128 MiB", p, LEN);
	unmapped("128 MiB", p, LEN);
}

static void test_plain(void)
{
	char *p, *q;

	p = map(LEN, RW, SHANON);
	q = map(LEN, RW, SHANON);
	if (!report(p && q, "two mmaps of 128 MiB shared anonymous succeed"))
		return;
	is_plain("128 MiB", p, "/dev/zero (deleted)");
	fork_shares("128 MiB", p, LEN);
	fork_shares("second 128 MiB", q, LEN);
	unmapped("128 MiB", p, LEN);
	unmapped("second 128 MiB", q, LEN);
}

static long huge_free(void)
{
	char line[256];
	long n = -1;
	FILE *f;

	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		sscanf(line, "HugePages_Free: %ld", &n);
	fclose(f);
	return n;
}

static void test_huge(void)
{
	long before = huge_free(), during;
	char *p;

	p = map(LEN, RW, SHANON | MAP_HUGETLB);
	if (!report(p != NULL, "mmap of 128 MiB MAP_SHARED|MAP_ANONYMOUS|MAP_HUGETLB succeeds"))
		return;
	is_attachment("128 MiB hugetlb", p);
	fork_shares("128 MiB hugetlb", p, LEN);
	during = huge_free();
	report(before - during == (long)(LEN / (2 * MIB)),
	       "the object uses 64 huge pages (HugePages_Free %ld -> %ld)",
	       before, during);
	unmapped("128 MiB hugetlb", p, LEN);
	report(huge_free() == before,
	       "after munmap the region is gone and its huge pages free (%ld)",
	       huge_free());
}

static void *thread_fn(void *arg)
{
	char path[512];
	uintptr_t size;
	long bad = 0;
	char *p;
	int i;

	(void)arg;
	for (i = 0; i < NROUNDS; i++) {
		p = map(LEN / 4, RW, SHANON);
		if (!p) {
			bad++;
			continue;
		}
		bad += find_map(p, path, sizeof(path), &size) != 1 ||
		       !strstr(path, "/preload-");
		fill(p, LEN / 4, (unsigned char)i);
		bad += !holds(p, LEN / 4, (unsigned char)i);
		bad += munmap(p, LEN / 4) != 0;
	}
	return (void *)bad;
}

static void test_threads(void)
{
	pthread_t t[NTHREADS];
	long bad = 0;
	void *ret;
	int i, n;

	for (n = 0; n < NTHREADS; n++)
		if (pthread_create(&t[n], NULL, thread_fn, NULL))
			break;
	for (i = 0; i < n; i++) {
		pthread_join(t[i], &ret);
		bad += (long)ret;
	}
	report(n == NTHREADS && !bad,
	       "%d threads map, use and unmap 32 MiB attachments %d times each (%ld failures)",
	       NTHREADS, NROUNDS, bad);
	no_names("threads");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	page = (size_t)sysconf(_SC_PAGESIZE);
	if (getenv("MSHARE_PRELOAD_DIR"))
		dir = getenv("MSHARE_PRELOAD_DIR");
	if (!strcmp(mode, "mshare"))
		test_mshare();
	else if (!strcmp(mode, "one"))
		test_one();
	else if (!strcmp(mode, "plain"))
		test_plain();
	else if (!strcmp(mode, "huge"))
		test_huge();
	else if (!strcmp(mode, "threads"))
		test_threads();
	else
		report(0, "usage: preload_test mshare|one|plain|huge|threads");
	return failures > 100 ? 100 : failures;
}

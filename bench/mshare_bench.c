// SPDX-License-Identifier: GPL-2.0
/*
 * mshare_bench: measurements for `make bench`, run inside the test guest.
 * Every measurement prints one line
 *   RESULT <name> key=value ...
 * that scripts/bench-report.py turns into docs/benchmarks.md.
 *
 * Methods of sharing one object among N processes:
 *   plain    memfd, MAP_SHARED (every process builds its own page tables)
 *   hugetlb  hugetlbfs memfd, 2 MiB pages, 1 GiB-aligned MAP_SHARED mapping
 *            (the kernel's own PMD-table sharing, for whole 1 GiB ranges)
 *   mshare   an msharefs region with the object placed at offset 0
 *
 * Commands:
 *   pt METHOD SIZE_MB N REPS   page tables, faults, attach+touch and detach
 *                              time of N processes touching a populated
 *                              object (medians of REPS)
 *   touch METHOD SIZE_MB REPS  first-touch population of a fresh object by
 *                              one process
 *   replace N REPS             UNMAP + CREATE_MAPPING of a 2 MiB object with
 *                              N attached processes
 *   micro REPS                 unrelated work: anonymous faults, mmap/munmap,
 *                              fork+exit
 *   limit METHOD SIZE_MB MAX MIN_AVAIL_MB
 *                              attach processes (each touching the whole
 *                              object) until MemAvailable falls below
 *                              MIN_AVAIL_MB, one fails, or MAX: how many
 *                              sharers the machine's memory allows
 *
 * With MSHARE_BENCH_SAY=1 in the environment, pt narrates what it does
 * and shows progress ("# ..." lines on stderr): `make demo` uses that.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/msharefs.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ALIGN_A		549755813888UL
#define GIB		(1UL << 30)
#define MSHARE_DIR	"/sys/fs/mshare"

static char region_path[64];

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
	fprintf(stderr, "mshare_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Narration for `make demo`: only with MSHARE_BENCH_SAY=1. */
static int saying;

static void say(const char *fmt, ...)
{
	va_list ap;

	if (!saying)
		return;
	va_start(ap, fmt);
	fputs("# ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* A /proc/meminfo field in kB, per-CPU counter drift folded in first. */
static long meminfo_kb(const char *field)
{
	char line[256], name[64];
	long kb = -1, v;
	FILE *f;
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			kb = -1;
		close(fd);
	}
	f = fopen("/proc/meminfo", "r");
	if (!f)
		die("/proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63[^:]: %ld kB", name, &v) == 2 &&
		    !strcmp(name, field)) {
			kb = v;
			break;
		}
	fclose(f);
	return kb;
}

static long page_tables_kb(void)
{
	return meminfo_kb("PageTables");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The shared object of one method; attach() maps it in a process. */
struct object {
	const char *method;
	size_t size;
	int fd;
};

static void object_make(struct object *o, const char *method, size_t size)
{
	o->method = method;
	o->size = size;
	if (!strcmp(method, "plain") || !strcmp(method, "hugetlb")) {
		o->fd = memfd_create("bench", !strcmp(method, "hugetlb") ?
				     MFD_HUGETLB : 0);
		if (o->fd < 0 || ftruncate(o->fd, size))
			die("memfd");
	} else {
		struct mshare_create mc = {
			.size = size, .prot = PROT_READ | PROT_WRITE,
			.flags = MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS,
			.fd = (__u32)-1,
		};

		snprintf(region_path, sizeof(region_path), "%s/bench_%d",
			 MSHARE_DIR, (int)getpid());
		o->fd = open(region_path, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (o->fd < 0 || ftruncate(o->fd, ALIGN_A) ||
		    ioctl(o->fd, MSHAREFS_CREATE_MAPPING, &mc))
			die("region");
	}
}

static void object_free(struct object *o)
{
	close(o->fd);
	if (!strcmp(o->method, "mshare"))
		unlink(region_path);
}

/*
 * Map the object.  hugetlb needs a 1 GiB-aligned address for the kernel's
 * PMD sharing (it shares whole PUD-sized ranges only).
 */
static char *attach(struct object *o)
{
	size_t len = strcmp(o->method, "mshare") ? o->size : ALIGN_A;
	char *p, *aligned;

	if (strcmp(o->method, "hugetlb"))
		return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			    o->fd, 0);
	p = mmap(NULL, len + GIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return p;
	aligned = (char *)(((uintptr_t)p + GIB - 1) & ~(GIB - 1));
	munmap(p, len + GIB);
	return mmap(aligned, len, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED_NOREPLACE, o->fd, 0);
}

static void detach(struct object *o, char *p)
{
	munmap(p, strcmp(o->method, "mshare") ? o->size : ALIGN_A);
}

/*
 * Touch every page: write 1 to its first byte, or read it and count the
 * pages that do not hold the 1 a populating write left there.
 */
static long touch(char *mem, size_t size, int write)
{
	volatile char *p = mem;
	long wrong = 0;
	size_t i;

	for (i = 0; i < size; i += 4096) {
		if (write)
			p[i] = 1;
		else
			wrong += p[i] != 1;
	}
	return wrong;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

/*
 * A forked child's first writes to its stack fault (copy-on-write), and
 * so does its first use of a text or data page that fork did not copy.
 * A dry run of the measured sequence (attach, touch nothing, detach, read
 * the clock and the counter) takes those faults before counting, so that
 * the count is the object's alone.
 */
static void __attribute__((noinline)) warm_child(struct object *o)
{
	volatile char buf[32768];
	size_t i;
	char *p;

	for (i = 0; i < sizeof(buf); i += 4096)
		buf[i] = 0;
	p = attach(o);
	if (p != MAP_FAILED) {
		touch(p, 0, 0);
		detach(o, p);
	}
	now_us();
	minflt();
}

/* What a child reports through its pipe. */
struct child_report {
	double attach_touch_us;
	long faults;
	long wrong;	/* pages without the populated data */
};

/* PageTables growth of n children that map nothing, all alive at once. */
static long idle_children_kb(int n)
{
	pid_t *pids = calloc(n, sizeof(pid_t));
	long base, with;
	int i, rdy[2], go[2];
	char c;

	if (pipe(rdy) || pipe(go))
		die("pipe");
	base = page_tables_kb();
	for (i = 0; i < n; i++) {
		fflush(stdout);
		pids[i] = fork();
		if (pids[i] == 0) {
			close(go[1]);
			if (write(rdy[1], "x", 1) < 0 || read(go[0], &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
	}
	for (i = 0; i < n; i++)
		if (read(rdy[0], &c, 1) != 1)
			die("idle child");
	with = page_tables_kb();
	close(go[1]);
	for (i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	close(go[0]);
	close(rdy[0]);
	close(rdy[1]);
	free(pids);
	return with - base;
}

/*
 * N children attach and touch the populated object, report, then wait on
 * `go`; the parent measures PageTables with all of them attached, releases
 * them and times their detach + exit.
 */
static void bench_pt(const char *method, size_t size_mb, int n, int reps)
{
	double *pt = calloc(reps, sizeof(double));
	double *at = calloc(reps, sizeof(double));
	double *ex = calloc(reps, sizeof(double));
	double *fl = calloc(reps, sizeof(double));
	pid_t *pids = calloc(n, sizeof(pid_t));
	long wrong = 0, own;
	struct object o;
	int r, i;

	say("%s: one process creates a %zu MiB object and fills it", method,
	    size_mb);
	object_make(&o, method, size_mb << 20);
	{
		long before = page_tables_kb();
		char *p = attach(&o);	/* populate once */

		if (p == MAP_FAILED)
			die("attach");
		touch(p, o.size, 1);
		own = page_tables_kb() - before;
		detach(&o, p);
	}
	say("%s: the filled object is mapped through %ld kB of page tables in its creator",
	    method, own);
	for (r = 0; r < reps; r++) {
		int rep[2], go[2];
		long base, with, idle;
		double sum_at = 0, sum_fl = 0, t0;
		struct child_report cr;

		if (pipe(rep) || pipe(go))
			die("pipe");
		idle = idle_children_kb(n);
		base = page_tables_kb();
		say("%s: %d processes attach it and read every page ...",
		    method, n);
		for (i = 0; i < n; i++) {
			fflush(stdout);
			pids[i] = fork();
			if (pids[i] == 0) {
				char c, *p;
				long f0;
				double t;

				close(go[1]);
				/*
				 * Warm up first: the child's own first writes
				 * to its stack and data after fork() fault too.
				 */
				memset(&cr, 0, sizeof(cr));
				warm_child(&o);
				t = now_us();
				f0 = minflt();
				t = now_us();
				p = attach(&o);
				if (p == MAP_FAILED)
					_exit(2);
				cr.wrong = touch(p, o.size, 0);
				cr.attach_touch_us = now_us() - t;
				cr.faults = minflt() - f0;
				if (write(rep[1], &cr, sizeof(cr)) < 0)
					_exit(3);
				if (read(go[0], &c, 1) < 0)
					_exit(4);
				detach(&o, p);
				_exit(0);
			}
			if (pids[i] < 0)
				die("fork");
		}
		for (i = 0; i < n; i++) {
			if (read(rep[0], &cr, sizeof(cr)) != sizeof(cr))
				die("child report");
			sum_at += cr.attach_touch_us;
			sum_fl += cr.faults;
			wrong += cr.wrong;
			if (n >= 20 && (i + 1) % (n / 4) == 0 && i + 1 < n)
				say("%s:   %d of %d have read it all", method,
				    i + 1, n);
		}
		with = page_tables_kb();
		say("%s: all %d attached: page tables grew by %ld kB, %ld kB of it beyond what %d idle processes take",
		    method, n, with - base, with - base - idle, n);
		t0 = now_us();
		close(go[1]);		/* all children detach and exit */
		for (i = 0; i < n; i++)
			waitpid(pids[i], NULL, 0);
		ex[r] = (now_us() - t0) / n;
		/* What attaching adds beyond a process that maps nothing. */
		pt[r] = (double)(with - base - idle) / n;
		at[r] = sum_at / n;
		fl[r] = sum_fl / n;
		close(rep[0]);
		close(rep[1]);
		close(go[0]);
	}
	printf("RESULT pt method=%s size_mb=%zu n=%d reps=%d pt_kb_per_proc=%.2f faults_per_proc=%.1f attach_touch_us=%.0f detach_exit_us=%.0f wrong_pages=%ld creator_pt_kb=%ld\n",
	       method, size_mb, n, reps, median(pt, reps), median(fl, reps),
	       median(at, reps), median(ex, reps), wrong, own);
	fflush(stdout);
	object_free(&o);
	free(pids);
	free(pt);
	free(at);
	free(ex);
	free(fl);
}

/* One process populates a fresh object by touching (writing) it. */
static void bench_touch(const char *method, size_t size_mb, int reps)
{
	double *t = calloc(reps, sizeof(double));
	struct object o;
	char *p;
	int r;

	for (r = 0; r < reps; r++) {
		double t0;

		object_make(&o, method, size_mb << 20);
		p = attach(&o);
		if (p == MAP_FAILED)
			die("attach");
		t0 = now_us();
		touch(p, o.size, 1);
		t[r] = (now_us() - t0) / (o.size >> 12);
		detach(&o, p);
		object_free(&o);
	}
	printf("RESULT touch method=%s size_mb=%zu reps=%d us_per_page=%.3f\n",
	       method, size_mb, reps, median(t, reps));
	fflush(stdout);
	free(t);
}

/* UNMAP + CREATE_MAPPING with n attached processes (each touched it). */
static void bench_replace(int n, int reps)
{
	struct mshare_unmap mu = { .size = 2 << 20 };
	struct mshare_create mc = {
		.size = 2 << 20, .prot = PROT_READ | PROT_WRITE,
		.flags = MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS,
		.fd = (__u32)-1,
	};
	double *t = calloc(reps, sizeof(double));
	pid_t *pids = calloc(n, sizeof(pid_t));
	struct object o;
	int i, r, rdy[2];
	char c;

	object_make(&o, "mshare", 2 << 20);
	if (pipe(rdy))
		die("pipe");
	for (i = 0; i < n; i++) {
		fflush(stdout);
		pids[i] = fork();
		if (pids[i] == 0) {
			char *p = attach(&o);

			if (p == MAP_FAILED)
				_exit(2);
			touch(p, o.size, 0);
			if (write(rdy[1], "x", 1) < 0)
				_exit(3);
			pause();
			_exit(0);
		}
	}
	for (i = 0; i < n; i++)
		if (read(rdy[0], &c, 1) != 1)
			die("ready");
	for (r = 0; r < reps; r++) {
		double t0 = now_us();

		if (ioctl(o.fd, MSHAREFS_UNMAP, &mu) ||
		    ioctl(o.fd, MSHAREFS_CREATE_MAPPING, &mc))
			die("replace");
		t[r] = now_us() - t0;
	}
	for (i = 0; i < n; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	printf("RESULT replace n=%d reps=%d us=%.0f\n", n, reps,
	       median(t, reps));
	fflush(stdout);
	object_free(&o);
	free(pids);
	free(t);
}

/* Unrelated work, to compare with and without the module loaded. */
static void bench_micro(int reps)
{
	double *fa = calloc(reps, sizeof(double));
	double *mm = calloc(reps, sizeof(double));
	double *fk = calloc(reps, sizeof(double));
	size_t size = 64 << 20;
	int r, i;

	for (r = 0; r < reps; r++) {
		double t0 = now_us();
		char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		madvise(p, size, MADV_NOHUGEPAGE);
		touch(p, size, 1);
		munmap(p, size);
		fa[r] = (now_us() - t0) / (size >> 12);

		t0 = now_us();
		for (i = 0; i < 2000; i++) {
			p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			p[0] = 1;
			munmap(p, 4096);
		}
		mm[r] = (now_us() - t0) / 2000;

		t0 = now_us();
		for (i = 0; i < 100; i++) {
			pid_t pid = fork();

			if (pid == 0)
				_exit(0);
			waitpid(pid, NULL, 0);
		}
		fk[r] = (now_us() - t0) / 100;
	}
	printf("RESULT micro reps=%d anon_fault_us=%.3f mmap_munmap_us=%.2f fork_exit_us=%.0f\n",
	       reps, median(fa, reps), median(mm, reps), median(fk, reps));
	fflush(stdout);
	free(fa);
	free(mm);
	free(fk);
}

/*
 * Attach processes (each touching the whole object) until MemAvailable
 * falls below min_avail_mb, one fails, or max: how many sharers the
 * machine's memory allows.  Stopping at a memory floor, rather than at the
 * OOM killer, keeps the guest's kernel log clean and the count exact.
 */
static void bench_limit(const char *method, size_t size_mb, int max,
			long min_avail_mb)
{
	pid_t *pids = calloc(max, sizeof(pid_t));
	long base, pt, avail = 0;
	int i = 0, started, batch, n = 0, rdy[2];
	const char *why = "max";
	struct object o;
	char c, *p;

	object_make(&o, method, size_mb << 20);
	p = attach(&o);		/* populate once */
	if (p == MAP_FAILED)
		die("attach");
	touch(p, o.size, 1);
	detach(&o, p);
	if (pipe(rdy))
		die("pipe");
	base = page_tables_kb();
	/* Batches of 20 keep both vCPUs busy between memory checks. */
	while (n < max && !strcmp(why, "max")) {
		avail = meminfo_kb("MemAvailable");
		if (avail < min_avail_mb * 1024) {
			why = "memory";
			break;
		}
		batch = max - n < 20 ? max - n : 20;
		for (started = 0; started < batch; started++) {
			fflush(stdout);
			pids[i] = fork();
			if (pids[i] == 0) {
				close(rdy[0]);
				p = attach(&o);
				c = p != MAP_FAILED && !touch(p, o.size, 0) ?
				    'x' : 'f';
				if (write(rdy[1], &c, 1) < 0 || c != 'x')
					_exit(3);
				pause();
				_exit(0);
			}
			if (pids[i] < 0) {
				why = "fork";
				break;
			}
			i++;
		}
		while (started-- > 0) {
			if (read(rdy[0], &c, 1) != 1 || c != 'x')
				why = "child";
			else
				n++;
		}
	}
	pt = page_tables_kb() - base;
	avail = meminfo_kb("MemAvailable");
	while (i-- > 0) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	printf("RESULT limit method=%s size_mb=%zu max=%d attached=%d stopped_by=%s page_tables_kb=%ld mem_available_kb=%ld\n",
	       method, size_mb, max, n, why, pt, avail);
	fflush(stdout);
	object_free(&o);
	free(pids);
}

int main(int argc, char **argv)
{
	const char *env = getenv("MSHARE_BENCH_SAY");

	saying = env && !strcmp(env, "1");
	if (argc >= 6 && !strcmp(argv[1], "pt"))
		bench_pt(argv[2], atol(argv[3]), atoi(argv[4]), atoi(argv[5]));
	else if (argc >= 5 && !strcmp(argv[1], "touch"))
		bench_touch(argv[2], atol(argv[3]), atoi(argv[4]));
	else if (argc >= 4 && !strcmp(argv[1], "replace"))
		bench_replace(atoi(argv[2]), atoi(argv[3]));
	else if (argc >= 3 && !strcmp(argv[1], "micro"))
		bench_micro(atoi(argv[2]));
	else if (argc >= 6 && !strcmp(argv[1], "limit"))
		bench_limit(argv[2], atol(argv[3]), atoi(argv[4]),
			    atol(argv[5]));
	else {
		fprintf(stderr, "usage: see the comment at the top of %s\n",
			__FILE__);
		return 2;
	}
	return 0;
}

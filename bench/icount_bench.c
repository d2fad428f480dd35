// SPDX-License-Identifier: GPL-2.0
/*
 * Instruction-counted micro-benchmarks (make bench-icount).
 *
 * The guest runs under QEMU with -icount shift=0,sleep=off: its clock
 * advances by one nanosecond per guest instruction, so every figure here
 * is "instructions per operation" (the guest's own code and the kernel's,
 * on the calling CPU), and repeated runs agree to a fraction of a percent
 * whatever the host machine is doing.
 *
 *   icount_bench unrelated REPS
 *	anonymous faults, file faults, fork + exit, mmap + touch + munmap and
 *	a GUP-fast path (vmsplice), each REPS times: work that never touches
 *	mshare, to compare the module loaded with not loaded.
 *   icount_bench fault REPS
 *	first-touch (populating) write faults on a fresh 16 MiB shared
 *	object: a plain MAP_SHARED|MAP_ANONYMOUS mapping, then an mshare
 *	anonymous object.
 *   icount_bench attach REPS
 *	a process attaches a populated 1 GiB object and reads every page
 *	(attach + touch), then reads it all again (the re-touch floor: no
 *	fault; under icount a TLB miss is the emulator's work and costs no
 *	guest instruction).  Also the two parts of the attach: the mmap()
 *	alone, and the one fault that links the slot.  The attach + touch
 *	and floor figures are given twice: over every repetition, and over
 *	those whose window took no interrupt (what=..._quiet): a timer tick
 *	in the 1.3 M-instruction window adds 7-20% to the repetition it
 *	falls in, which is the kernel's work, not the attach's.
 *   icount_bench change N REPS
 *	UNMAP + CREATE_MAPPING of a 2 MiB object with N attached processes,
 *	each linked before every change (it has read the current object).
 *	With MSHARE_ICOUNT_TRACE set, tracing is on during the timed changes
 *	only (the profile runs of bench/icount-guest.sh).
 *
 * Each measurement prints one line:
 *   RESULT icount what=NAME n=N reps=R median=X min=Y max=Z
 * in instruction-ns per operation (per page for faults and touches).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/msharefs.h>

#define MSHARE_DIR	"/sys/fs/mshare"
#define PAGE		4096UL
#define ALIGN_A		(512UL << 30)	/* a region's size: one PGD slot */

static void die(const char *what)
{
	fprintf(stderr, "icount_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Guest nanoseconds: instructions under -icount shift=0. */
static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, int n, double *v, int reps)
{
	qsort(v, reps, sizeof(*v), cmp_double);
	printf("RESULT icount what=%s n=%d reps=%d median=%.3f min=%.3f max=%.3f\n",
	       what, n, reps, reps % 2 ? v[reps / 2] :
	       (v[reps / 2 - 1] + v[reps / 2]) / 2, v[0], v[reps - 1]);
	fflush(stdout);
}

/*
 * Interrupts taken so far, all CPUs (the "intr" line of /proc/stat; one
 * vCPU here).  Read outside a timed window, it tells whether an interrupt
 * (the timer tick above all: every 4 M instructions at HZ=250, 90-270 k
 * instructions each) fell inside it.
 */
static unsigned long long irq_count(void)
{
	static char buf[1 << 16];
	unsigned long long n = 0;
	char *line;
	ssize_t len;
	int fd = open("/proc/stat", O_RDONLY);

	if (fd < 0)
		die("/proc/stat");
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		die("/proc/stat");
	buf[len] = '\0';
	line = strstr(buf, "\nintr ");
	if (!line || sscanf(line + 6, "%llu", &n) != 1)
		die("/proc/stat intr");
	return n;
}

static void touch(char *p, size_t len, int write)
{
	volatile char *v = p;
	size_t i;

	for (i = 0; i < len; i += PAGE) {
		if (write)
			v[i] = 1;
		else
			(void)v[i];
	}
}

/* ---- unrelated work ---------------------------------------------------- */

static double anon_faults(void)
{
	size_t len = 16UL << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double t0;

	if (p == MAP_FAILED)
		die("mmap");
	madvise(p, len, MADV_NOHUGEPAGE);
	t0 = now_ns();
	touch(p, len, 1);
	t0 = now_ns() - t0;
	munmap(p, len);
	return t0 / (len / PAGE);
}

/*
 * Read faults on page-cache pages.  Each fault maps the 16 pages around it
 * (fault-around, 64 KiB), so one touch per 64 KiB is one fault.
 */
#define AROUND	(16 * PAGE)
static double file_faults(int fd, size_t len)
{
	char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	volatile char *v = p;
	double t0;
	size_t i;

	if (p == MAP_FAILED)
		die("mmap file");
	t0 = now_ns();
	for (i = 0; i < len; i += AROUND)
		(void)v[i];
	t0 = now_ns() - t0;
	munmap(p, len);
	return t0 / (len / AROUND);
}

static double fork_exit(void)
{
	double t0 = now_ns();
	int i;

	for (i = 0; i < 20; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid < 0)
			die("fork");
		waitpid(pid, NULL, 0);
	}
	return (now_ns() - t0) / 20;
}

static double mmap_munmap(void)
{
	double t0 = now_ns();
	int i;

	for (i = 0; i < 500; i++) {
		char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			die("mmap");
		p[0] = 1;
		munmap(p, PAGE);
	}
	return (now_ns() - t0) / 500;
}

/* vmsplice pins the buffer's pages through GUP-fast; read drains them. */
static double gup_fast(char *buf, size_t len)
{
	static char sink[64 << 10];
	int pfd[2], i;
	double t0;

	if (pipe(pfd) || fcntl(pfd[1], F_SETPIPE_SZ, (int)len) < 0)
		die("pipe");
	t0 = now_ns();
	for (i = 0; i < 200; i++) {
		struct iovec iov = { .iov_base = buf, .iov_len = len };
		size_t got = 0;

		if (vmsplice(pfd[1], &iov, 1, 0) != (ssize_t)len)
			die("vmsplice");
		while (got < len) {
			ssize_t r = read(pfd[0], sink, sizeof(sink));

			if (r <= 0)
				die("read pipe");
			got += r;
		}
	}
	t0 = now_ns() - t0;
	close(pfd[0]);
	close(pfd[1]);
	return t0 / 200;
}

static void bench_unrelated(int reps)
{
	double *v[5];
	size_t flen = 16UL << 20, glen = 64UL << 10;
	char *fbuf, *gbuf;
	int fd, r, i;

	for (i = 0; i < 5; i++)
		v[i] = calloc(reps, sizeof(double));
	fd = memfd_create("icount", 0);
	if (fd < 0 || ftruncate(fd, flen))
		die("memfd");
	fbuf = mmap(NULL, flen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fbuf == MAP_FAILED)
		die("mmap memfd");
	touch(fbuf, flen, 1);	/* in the page cache from now on */
	munmap(fbuf, flen);
	gbuf = mmap(NULL, glen, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (gbuf == MAP_FAILED)
		die("mmap");
	touch(gbuf, glen, 1);
	/* one round unmeasured: caches, slabs and the binary's own faults */
	anon_faults();
	file_faults(fd, flen);
	fork_exit();
	mmap_munmap();
	gup_fast(gbuf, glen);
	for (r = 0; r < reps; r++) {
		v[0][r] = anon_faults();
		v[1][r] = file_faults(fd, flen);
		v[2][r] = fork_exit();
		v[3][r] = mmap_munmap();
		v[4][r] = gup_fast(gbuf, glen);
	}
	report("anon_fault", 1, v[0], reps);
	report("file_fault", 1, v[1], reps);
	report("fork_exit", 1, v[2], reps);
	report("mmap_munmap", 1, v[3], reps);
	report("gup_fast", 1, v[4], reps);
	for (i = 0; i < 5; i++)
		free(v[i]);
	close(fd);
	munmap(gbuf, glen);
}

/* ---- mshare ------------------------------------------------------------ */

static char region_path[64];

/* A region with one anonymous object of len at its start; returns its fd. */
static int region_make(size_t len)
{
	struct mshare_create mc = {
		.size = len, .prot = PROT_READ | PROT_WRITE,
		.flags = MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS,
		.fd = (__u32)-1,
	};
	int fd;

	snprintf(region_path, sizeof(region_path), "%s/icount_%d",
		 MSHARE_DIR, (int)getpid());
	fd = open(region_path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, ALIGN_A) ||
	    ioctl(fd, MSHAREFS_CREATE_MAPPING, &mc))
		die("region");
	unlink(region_path);	/* dies with its last user */
	return fd;
}

static char *region_attach(int fd)
{
	char *p = mmap(NULL, ALIGN_A, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		       0);

	if (p == MAP_FAILED)
		die("attach");
	return p;
}

static void bench_fault(int reps)
{
	double *plain = calloc(reps, sizeof(double));
	double *ms = calloc(reps, sizeof(double));
	size_t len = 16UL << 20;
	int r;

	for (r = 0; r <= reps; r++) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		double t0;
		int fd;

		if (p == MAP_FAILED)
			die("mmap");
		t0 = now_ns();
		touch(p, len, 1);
		t0 = now_ns() - t0;
		munmap(p, len);
		if (r)	/* the first round warms up */
			plain[r - 1] = t0 / (len / PAGE);

		fd = region_make(len);
		p = region_attach(fd);
		t0 = now_ns();
		touch(p, len, 1);
		t0 = now_ns() - t0;
		munmap(p, ALIGN_A);
		close(fd);
		if (r)
			ms[r - 1] = t0 / (len / PAGE);
	}
	report("first_touch_plain", 1, plain, reps);
	report("first_touch_mshare", 1, ms, reps);
	free(plain);
	free(ms);
}

/*
 * The median of the repetitions whose window took no interrupt (quiet[r]),
 * as what=NAME_quiet; nothing if none was quiet.
 */
static void report_quiet(const char *what, double *v, const int *quiet,
			 int reps)
{
	double *q = calloc(reps, sizeof(double));
	char name[64];
	int r, k = 0;

	for (r = 0; r < reps; r++)
		if (quiet[r])
			q[k++] = v[r];
	snprintf(name, sizeof(name), "%s_quiet", what);
	if (k)
		report(name, 1, q, k);
	free(q);
}

static void bench_attach(int reps)
{
	double *v[4];
	int *quiet[2];
	size_t len = 1UL << 30;
	int fd = region_make(len), r, i, pfd[2];
	char *p = region_attach(fd);

	for (i = 0; i < 4; i++)
		v[i] = calloc(reps + 1, sizeof(double));
	for (i = 0; i < 2; i++)
		quiet[i] = calloc(reps + 1, sizeof(int));
	touch(p, len, 1);	/* populated */
	munmap(p, ALIGN_A);
	if (pipe(pfd))
		die("pipe");
	for (r = 0; r <= reps; r++) {
		/* t[4], t[5]: the attach + touch and floor windows were quiet */
		double t[6];
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			unsigned long long irq = irq_count(), irq2;
			double t0 = now_ns();

			/* attach + touch; then the floor */
			p = region_attach(fd);
			touch(p, len, 0);
			t[0] = (now_ns() - t0) / (len / PAGE);
			irq2 = irq_count();
			t[4] = irq2 == irq;
			t0 = now_ns();
			touch(p, len, 0);
			t[1] = (now_ns() - t0) / (len / PAGE);
			t[5] = irq_count() == irq2;
			munmap(p, ALIGN_A);
			/* the parts: mmap, then the linking fault */
			t0 = now_ns();
			p = region_attach(fd);
			t[2] = now_ns() - t0;
			t0 = now_ns();
			touch(p, PAGE, 0);
			t[3] = now_ns() - t0;
			if (write(pfd[1], t, sizeof(t)) != sizeof(t))
				_exit(1);
			_exit(0);
		}
		if (read(pfd[0], t, sizeof(t)) != sizeof(t))
			die("child");
		waitpid(pid, NULL, 0);
		for (i = 0; i < 4; i++)
			v[i][r] = t[i];
		for (i = 0; i < 2; i++)
			quiet[i][r] = t[4 + i] != 0;
	}
	/* round 0 warmed up; report() sorts, so the quiet ones go first */
	report_quiet("attach_touch", v[0] + 1, quiet[0] + 1, reps);
	report_quiet("retouch", v[1] + 1, quiet[1] + 1, reps);
	report("attach_touch", 1, v[0] + 1, reps);
	report("retouch", 1, v[1] + 1, reps);
	report("attach_mmap", 1, v[2] + 1, reps);
	report("link_fault", 1, v[3] + 1, reps);
	close(fd);
	for (i = 0; i < 4; i++)
		free(v[i]);
	for (i = 0; i < 2; i++)
		free(quiet[i]);
}

/*
 * The kernel's tracing switch, for `icount-guest.sh` profile runs: with
 * MSHARE_ICOUNT_TRACE set, the tracer set up by the caller records only
 * the timed changes, not the set-up and tear-down of the attachers.
 */
static void trace_window(int on)
{
	static int fd = -2;

	if (fd == -2)
		fd = getenv("MSHARE_ICOUNT_TRACE") ?
			open("/sys/kernel/tracing/tracing_on", O_WRONLY) : -1;
	if (fd >= 0 && write(fd, on ? "1" : "0", 1) != 1)
		die("tracing_on");
}

static volatile sig_atomic_t relink;

static void on_relink(int sig)
{
	(void)sig;
	relink = 1;
}

/*
 * An attacher: read the object (the fault links the slot), say so, and
 * wait for the next change to have cut the link.  SIGUSR1 is blocked
 * outside sigsuspend(), so a relink request is never lost.
 */
static void change_attacher(int fd, int rdy, const sigset_t *waitmask)
{
	char *p = region_attach(fd);

	for (;;) {
		touch(p, PAGE, 0);
		if (write(rdy, "x", 1) != 1)
			_exit(3);
		while (!relink)
			sigsuspend(waitmask);
		relink = 0;
	}
}

/*
 * Every timed change meets N linked attachers: between two changes (not
 * timed) each attacher reads the new object again, which links its slot,
 * so each change has N links to cut, as in a real server.
 */
static void bench_change(int n, int reps)
{
	struct mshare_unmap mu = { .size = 2 << 20 };
	struct mshare_create mc = {
		.size = 2 << 20, .prot = PROT_READ | PROT_WRITE,
		.flags = MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS,
		.fd = (__u32)-1,
	};
	struct sigaction sa = { .sa_handler = on_relink };
	double *t = calloc(reps + 1, sizeof(double));
	pid_t *pids = calloc(n, sizeof(pid_t));
	int fd = region_make(2 << 20), i, r, rdy[2];
	sigset_t usr1, waitmask;
	char c;

	if (pipe(rdy))
		die("pipe");
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (sigaction(SIGUSR1, &sa, NULL) ||
	    sigprocmask(SIG_BLOCK, &usr1, &waitmask))
		die("SIGUSR1");
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork");
		if (pids[i] == 0)
			change_attacher(fd, rdy[1], &waitmask);
	}
	for (r = 0; r <= reps; r++) {
		double t0;

		for (i = 0; i < n; i++)
			if (read(rdy[0], &c, 1) != 1)
				die("ready");
		trace_window(r > 0);
		t0 = now_ns();
		if (ioctl(fd, MSHAREFS_UNMAP, &mu) ||
		    ioctl(fd, MSHAREFS_CREATE_MAPPING, &mc))
			die("replace");
		t[r] = now_ns() - t0;
		trace_window(0);
		for (i = 0; r < reps && i < n; i++)
			kill(pids[i], SIGUSR1);
	}
	for (i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	report("host_change", n, t + 1, reps);
	close(fd);
	free(pids);
	free(t);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "unrelated"))
		bench_unrelated(atoi(argv[2]));
	else if (argc == 3 && !strcmp(argv[1], "fault"))
		bench_fault(atoi(argv[2]));
	else if (argc == 3 && !strcmp(argv[1], "attach"))
		bench_attach(atoi(argv[2]));
	else if (argc == 4 && !strcmp(argv[1], "change"))
		bench_change(atoi(argv[2]), atoi(argv[3]));
	else {
		fprintf(stderr, "usage: see the comment at the top of %s\n",
			__FILE__);
		return 2;
	}
	return 0;
}

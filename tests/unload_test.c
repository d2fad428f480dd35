// SPDX-License-Identifier: GPL-2.0
/*
 * Unload is refused while a region is still mapped, even with its name
 * unlinked, its fd closed and msharefs lazily unmounted; the mapping keeps
 * working; after munmap the module unloads and loads again.  Also: growing
 * the mapping with mremap fails (the kernel's VM_DONTEXPAND rule, EFAULT).
 * Lifetime: a region outlives its creator (POSIX shm semantics).
 * Unload is refused while a fault that waited for a host change has been
 * woken but has not returned yet (part 3, security review item 11).
 * Leaves mshare loaded and mounted, as it found it.  TAP; root; guest only.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/msharefs.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "region.h"
#include "tap.h"
#include "util.h"

#define ALIGN_A	549755813888UL

/* A check whose failure names the errno, if any, in its description */
static void check_errno(int pass, const char *what, int err)
{
	if (pass || !err)
		check(pass, "%s", what);
	else
		check(pass, "%s (%s)", what, strerror(err));
}

/*
 * POSIX shm semantics: a child creates a region, places an object, writes
 * it and exits, leaving only the name.  The region and its contents live
 * on for the next process (the host mm's memcg owner is pinned, so no
 * dangling owner either: slub_debug/page_poison would catch a use).
 */
static void test_creator_exit(const char *dir)
{
	struct mshare_create mc = {
		.size = 1 << 20, .prot = PROT_READ | PROT_WRITE,
		.flags = MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS,
		.fd = (__u32)-1,
	};
	char path[256], *p;
	int fd, st, ok;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/creator_%d", dir, (int)getpid());
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd < 0 || ftruncate(fd, ALIGN_A) ||
		    ioctl(fd, MSHAREFS_CREATE_MAPPING, &mc))
			_exit(1);
		p = mmap(NULL, ALIGN_A, PROT_READ | PROT_WRITE, MAP_SHARED,
			 fd, 0);
		if (p == MAP_FAILED)
			_exit(2);
		strcpy(p, "left by the creator");
		_exit(0);
	}
	ok = waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st);
	check(ok, "a creator placed an object, wrote it and exited");

	fd = open(path, O_RDWR);
	p = fd < 0 ? MAP_FAILED : mmap(NULL, ALIGN_A, PROT_READ | PROT_WRITE,
				       MAP_SHARED, fd, 0);
	check(p != MAP_FAILED && !strcmp(p, "left by the creator"),
	      "after the creator's exit the region and its data live on");
	if (p != MAP_FAILED) {
		strcpy(p + 4096, "still writable");
		check(!strcmp(p + 4096, "still writable"),
		      "and new faults in it work (memory charged to the pinned owner)");
		munmap(p, ALIGN_A);
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
}

static int remove_module(void)
{
	return syscall(SYS_delete_module, "mshare", O_NONBLOCK);
}

/*
 * Part 3: unload vs a fault that waits for a host change (security review
 * item 11).  A fault on an attachment that finds the region in the middle
 * of a host change drops its mmap lock and sleeps in mshare_fault_wait()
 * until the change ends.  Meanwhile the attacher may unmap and close
 * everything, so the fault holds a module reference of its own until it
 * has left the wait.  The moment that needs it: the change has ended and
 * woken the fault, the change's caller and thread have let go of the
 * module, and the fault has not run yet.  Without its reference (commit
 * c6ab792) the unload goes ahead there: its exit finds the region the
 * fault still holds ("mshare: 1 region(s) leaked" WARNING), and ftrace's
 * teardown (synchronize_rcu_tasks, which waits for a runnable task) lets
 * the fault run its module code only after the module's exit.  With it,
 * unload is refused (EAGAIN) until the fault has returned.
 *
 * To hold the woken fault off, its thread is pinned to CPU 1 and a
 * SCHED_FIFO busy loop occupies CPU 1 from shortly before the change ends
 * until the unload attempts are done, with RT throttling and (6.12) the
 * fair deadline server off meanwhile; the test and everything else it
 * starts run on CPU 0.
 */
#define WAIT_OFF	(1UL << 30)	/* region offset of the big object */
#define WAIT_BIG	(256UL << 20)	/* MAP_POPULATE: the change lasts seconds */
#define RT_RUNTIME	"/proc/sys/kernel/sched_rt_runtime_us"
#define DEBUGFS		"/sys/kernel/debug"
#define FAIR_SERVER	DEBUGFS "/sched/fair_server/cpu1/runtime"

/* Shared (MAP_SHARED) between the test and its children */
struct wait_share {
	atomic_int tid;		/* the faulting thread's tid, once it runs */
	atomic_int go;		/* test -> faulting thread: touch now */
	atomic_int returned;	/* faulting thread: its fault returned */
	atomic_int detach;	/* test -> attacher: drop the attachment */
	atomic_int detached;	/* attacher: 1 dropped, -1 failed */
	atomic_int hog_running;
	atomic_int hog_stop;
	atomic_llong hog_until;	/* CLOCK_MONOTONIC ns: the hog's own end */
};

struct toucher_arg {
	struct wait_share *s;
	volatile char *p;
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Pin a task (0: the calling thread) to one CPU */
static int pin_to(pid_t tid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(tid, sizeof(set), &set);
}

/* Poll until *flag is non-zero, for at most ms milliseconds */
static int wait_flag(atomic_int *flag, int ms)
{
	while (!atomic_load(flag) && ms-- > 0)
		usleep(1000);
	return atomic_load(flag);
}

/* The faulting thread: on CPU 1, touches the attachment when told to */
static void *toucher(void *arg)
{
	struct toucher_arg *a = arg;

	if (pin_to(0, 1))
		return NULL;
	atomic_store(&a->s->tid, (int)gettid());
	if (!wait_flag(&a->s->go, 60000))
		return NULL;
	a->p[0] = 1;	/* sleeps in mshare_fault_wait() during the change */
	atomic_store(&a->s->returned, 1);
	return NULL;
}

/*
 * The attacher: maps the region through the fd it inherits; its second
 * thread faults; when told, it replaces the attachment by anonymous memory
 * (the waiting fault dropped the mmap lock, so this does not wait for it)
 * and closes the fd, so that nothing of it pins the module, and the
 * fault's retry then lands in the anonymous page.  (Each child works with
 * the inherited fd: a copy it kept open would pin the module itself.)
 */
static int attacher(int fd, struct wait_share *s)
{
	struct toucher_arg a = { .s = s };
	pthread_t th;
	void *q;

	/* The change lasts 10-30 s under TCG, 75 s on the debug kernel */
	alarm(getenv("mshare_debug_kernel") ? 600 : 60);
	if (pin_to(0, 0))
		return 2;
	a.p = region_attach(fd, REGION_ALIGN, PROT_READ | PROT_WRITE);
	if (!a.p || pthread_create(&th, NULL, toucher, &a))
		return 3;
	if (wait_flag(&s->detach, 60000)) {
		q = mmap((void *)a.p, REGION_ALIGN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
			 MAP_NORESERVE, -1, 0);
		close(fd);
		atomic_store(&s->detached, q == (void *)a.p ? 1 : -1);
	}
	pthread_join(th, NULL);
	return atomic_load(&s->returned) ? 0 : 4;
}

/* The hog: SCHED_FIFO on CPU 1 until stopped, or its own deadline */
static int hog(struct wait_share *s)
{
	struct sched_param sp = { .sched_priority = 1 };

	if (pin_to(0, 1) || sched_setscheduler(0, SCHED_FIFO, &sp))
		return 2;
	atomic_store(&s->hog_running, 1);
	while (!atomic_load(&s->hog_stop) && now_ns() < atomic_load(&s->hog_until))
		;
	return 0;
}

/*
 * The placing process: a 256 MiB MAP_POPULATE object, a change of seconds.
 * Its fd (inherited) is the last to close, when it exits after the change.
 */
static int placer(int fd)
{
	if (pin_to(0, 0))
		return 2;
	return region_place(fd, WAIT_OFF, WAIT_BIG, 0, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS |
			    MAP_POPULATE, -1) ? 4 : 0;
}

/* fork(), with stdout flushed first (a child must not repeat its lines) */
static pid_t start_child(void)
{
	fflush(stdout);
	return fork();
}

/* Shmem: in /proc/meminfo, in kB; -1 if unreadable */
static long shmem_kb(void)
{
	char buf[8192], *l;
	long kb;

	if (read_file("/proc/meminfo", buf, sizeof(buf)) < 0)
		return -1;
	l = strstr(buf, "\nShmem:");
	if (!l || sscanf(l, "\nShmem: %ld", &kb) != 1)
		return -1;
	return kb;
}

/* A thread's state letter ('D', 'S', ...) and wchan; 0 if unreadable */
static char task_state(pid_t pid, int tid, char *wchan, size_t len)
{
	char path[64], buf[1024], *paren;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", (int)pid, tid);
	if (read_file(path, wchan, len) < 0)
		snprintf(wchan, len, "?");
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, tid);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return 0;
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren[2] : 0;
}

/*
 * The change runs in a kernel thread of the module ("mshare..."), unbound;
 * if it sat on CPU 1 the hog would stall it.  Best effort: move every such
 * thread to CPU 0.
 */
static void pin_module_threads(void)
{
	char path[64], comm[64];
	struct dirent *de;
	DIR *d = opendir("/proc");
	int pid;

	while (d && (de = readdir(d))) {
		pid = atoi(de->d_name);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		if (read_file(path, comm, sizeof(comm)) > 0 &&
		    !strncmp(comm, "mshare", 6))
			pin_to(pid, 0);
	}
	if (d)
		closedir(d);
}

/*
 * 6.12 and later: the fair deadline server runs starved CFS tasks for 50 ms
 * a second even with RT throttling off, which would let the woken fault
 * run under the hog.  Switch it off on CPU 1 (runtime 0, in debugfs,
 * mounted here if need be); old gets the runtime to restore.  Returns 1
 * if this mounted debugfs, 0 if not, -1 if it could not be mounted.
 */
static int fair_server_off(char *old, size_t len)
{
	int mounted = 0;

	old[0] = '\0';
	if (access(DEBUGFS "/sched", F_OK)) {
		if (mount("debugfs", DEBUGFS, "debugfs", 0, NULL)) {
			diag("cannot mount debugfs: %s", errname(errno));
			return -1;
		}
		mounted = 1;
	}
	if (read_file(FAIR_SERVER, old, len) < 0) {
		old[0] = '\0';		/* before 6.12: none */
		if (kernel_version() >= 612)
			diag("no %s: the fair server cannot be switched off (a 6.12 kernel without CONFIG_SCHED_DEBUG), so it may run the woken fault",
			     FAIR_SERVER);
	}
	else if (write_file(FAIR_SERVER, "0"))
		diag("cannot switch the fair server off: %s", errname(errno));
	return mounted;
}

static int fair_server_restore(const char *old, int mounted)
{
	int r = 0;

	if (old[0] && write_file(FAIR_SERVER, old)) {
		diag("cannot restore %s to %s: %s", FAIR_SERVER, old,
		     errname(errno));
		r = -1;
	}
	if (mounted > 0)
		umount(DEBUGFS);
	return r;
}

/* Reap the placing process if it has exited: *pid becomes -1 */
static int placed_early(pid_t *pid, int *st)
{
	if (*pid <= 0 || waitpid(*pid, st, WNOHANG) != *pid)
		return 0;
	*pid = -1;
	return 1;
}

static void reap(pid_t pid, const char *who, int want_ok)
{
	int st;

	if (pid <= 0 || waitpid(pid, &st, 0) != pid)
		return;
	if (want_ok && !(WIFEXITED(st) && !WEXITSTATUS(st)))
		diag("%s: %s", who, wait_str(st));
}

static void test_fault_wait_unload(const char *dir)
{
	struct wait_share *s;
	pid_t att = -1, plc = -1, hg = -1;
	char name[64], path[PATH_MAX], rt_old[32] = "", wchan[128];
	int fd, r, e, i, st = -1, tries, refused = 0, unloaded = 0, waited = 0;
	int before, early = 0, debugfs = 0;
	char fs_old[32] = "", refcnt[32];
	long base, kb = -1;
	long long t0, t_hog = 0, t_end = 0;
	char state = 0;

	alarm(getenv("mshare_debug_kernel") ? 900 : 120);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		skip("needs 2 CPUs", "unload refused while a woken fault waits");
		return;
	}
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED || pin_to(0, 0)) {
		check_errno(0, "fault-wait setup", errno);
		return;
	}
	snprintf(name, sizeof(name), "wait_%d", (int)getpid());
	fd = region_make(dir, name, 0600, REGION_ALIGN, path);
	if (fd < 0 || region_place_anon(fd, 0, 1 << 20)) {
		check_errno(0, "fault-wait setup: region with a small object",
			    errno);
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		return;
	}

	/* The attacher maps the region; its faulting thread waits on CPU 1. */
	att = start_child();
	if (att == 0)
		_exit(attacher(fd, s));
	for (i = 0; i < 5000 && !atomic_load(&s->tid); i++)
		usleep(1000);

	/*
	 * Start the 256 MiB placement and wait until it is populating
	 * (Shmem grows): the host change, and region->mutating, are under
	 * way.  Then the touch must wait for the change.
	 */
	base = shmem_kb();
	t0 = now_ns();
	plc = start_child();
	if (plc == 0)
		_exit(placer(fd));
	for (i = 0; i < 20000 && !placed_early(&plc, &st); i++) {
		kb = shmem_kb();
		if (kb >= base + 32 * 1024)
			break;
		usleep(1000);
	}
	atomic_store(&s->go, 1);
	for (i = 0; i < 2000 && !atomic_load(&s->returned); i++) {
		state = task_state(att, atomic_load(&s->tid), wchan,
				   sizeof(wchan));
		if (state == 'D' && !strncmp(wchan, "mshare_", 7))
			break;
		usleep(1000);
	}
	waited = state == 'D' && !strncmp(wchan, "mshare_", 7) &&
		 !atomic_load(&s->returned);
	diag("fault-wait: placement populating after %lld ms (Shmem +%ld kB); toucher state %c in %s",
	     (now_ns() - t0) / 1000000, kb - base, state ? state : '?', wchan);
	check(waited, "a fault during a 256 MiB MAP_POPULATE placement sleeps in the module (%s)",
	      wchan);

	/* Nothing but the waiting fault and the placement pin the module now. */
	atomic_store(&s->detach, 1);
	wait_flag(&s->detached, 5000);
	check(atomic_load(&s->detached) == 1,
	      "the attacher drops its attachment and fd while its fault waits");
	close(fd);
	unlink(path);
	r = umount2(dir, MNT_DETACH);
	check_errno(r == 0, "lazy umount of msharefs while the fault waits",
		    errno);

	/*
	 * Hold CPU 1 from before the change ends, so that the fault it wakes
	 * cannot run: from when three quarters of the object are populated
	 * (the hog also starves CPU 1's kernel threads, so not for longer
	 * than needed).  RT throttling and the fair server, which would
	 * give the fault CPU time, are off meanwhile; the hog's own deadline
	 * ends it if the test gets stuck.
	 */
	for (i = 0; i < 60000 && !placed_early(&plc, &st); i++) {
		kb = shmem_kb();
		if (kb >= base + (long)(WAIT_BIG >> 10) * 3 / 4)
			break;
		usleep(1000);
	}
	if (read_file(RT_RUNTIME, rt_old, sizeof(rt_old)) < 0 ||
	    write_file(RT_RUNTIME, "-1"))
		diag("cannot switch RT throttling off: %s", errname(errno));
	debugfs = fair_server_off(fs_old, sizeof(fs_old));
	pin_module_threads();
	atomic_store(&s->hog_until, now_ns() + 30000000000LL);
	t_hog = now_ns();
	hg = start_child();
	if (hg == 0)
		_exit(hog(s));
	wait_flag(&s->hog_running, 5000);
	if (plc > 0 && waitpid(plc, &st, 0) == plc)
		plc = -1;
	t_end = now_ns();
	/* An unload that waits for the fault ends when the hog does. */
	atomic_store(&s->hog_until, t_end + 2000000000LL);
	check(plc < 0 && WIFEXITED(st) && !WEXITSTATUS(st),
	      "the 256 MiB placement succeeds (%s, %lld ms, the last %lld ms with CPU 1 held)",
	      wait_str(st), (t_end - t0) / 1000000, (t_end - t_hog) / 1000000);

	/*
	 * The change has ended and woken the fault, whose thread CPU 1 does
	 * not run.  The placement's fd is closed, msharefs is detached, the
	 * change thread is finishing: only the fault's own reference is left,
	 * so every attempt must be refused.
	 */
	for (i = 0; i < 30 && waited; i++) {
		before = atomic_load(&s->returned);
		r = remove_module();
		e = errno;
		if (r == 0) {
			/*
			 * Without the fault's reference: the call returns
			 * (0) only after the hog, as ftrace's teardown waits
			 * for the runnable fault.
			 */
			unloaded = 1;
			early = !before;
			break;
		}
		if (before)
			break;	/* the hog did not hold the fault off */
		if (e == EAGAIN || e == EBUSY) {
			refused++;
			/* Who holds it: the fault alone (refcnt 1) */
			if (refused == 1 &&
			    read_file("/sys/module/mshare/refcnt", refcnt,
				      sizeof(refcnt)) > 0)
				diag("refcnt at the first refusal: %s",
				     strtok(refcnt, "\n"));
		} else
			diag("delete_module: %s", errname(e));
		usleep(10000);
	}
	if (!waited || !atomic_load(&s->hog_running)) {
		skip("the fault did not wait, or no hog",
		     "unload refused while the woken fault has not returned");
	} else if (!refused && !early) {
		skip("the woken fault ran before the first attempt",
		     "unload refused while the woken fault has not returned");
	} else {
		check(!early,
		      "unload refused while the woken fault has not returned (%d refused in %lld ms after the change)",
		      refused, (now_ns() - t_end) / 1000000);
		if (early)
			diag("the module unloaded while the fault had not returned (the call took until %lld ms after the change)",
			     (now_ns() - t_end) / 1000000);
	}

	/* Let the fault run: it returns, retries and lands in its anon page. */
	atomic_store(&s->hog_stop, 1);
	reap(hg, "hog", 1);
	/* The fair server first: its bandwidth counts against the RT limit */
	r = fair_server_restore(fs_old, debugfs);
	if (rt_old[0] && write_file(RT_RUNTIME, rt_old)) {
		diag("cannot restore %s to %s: %s", RT_RUNTIME, rt_old,
		     errname(errno));
		r = -1;
	}
	check(r == 0, "RT throttling (and the fair server) restored");
	wait_flag(&s->returned, 10000);
	check(atomic_load(&s->returned),
	      "the woken fault returns once CPU 1 is free, and its retry succeeds");
	if (!atomic_load(&s->returned) && att > 0)
		kill(att, SIGKILL);
	reap(att, "attacher", 1);
	if (plc > 0) {
		kill(plc, SIGKILL);
		reap(plc, "placer", 0);
	}

	if (!unloaded) {
		for (tries = 0, r = -1; tries < 200 && r < 0; tries++) {
			r = remove_module();
			if (r < 0)
				usleep(10000);
		}
		check_errno(r == 0, "after the fault returned, the module unloads",
			    errno);
	}
	check(access(dir, F_OK) != 0, "and /sys/fs/mshare is gone");
	r = system("/sbin/modprobe mshare");
	check(r == 0 && access(dir, F_OK) == 0,
	      "modprobe loads it again (and remounts)");
	munmap(s, sizeof(*s));
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/sys/fs/mshare";
	struct mshare_create mc = {
		.size = 1 << 20, .prot = PROT_READ | PROT_WRITE,
		.flags = MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS,
		.fd = (__u32)-1,
	};
	char path[256], *p, *q;
	int fd, r, e, i;

	alarm(60);
	test_creator_exit(dir);
	snprintf(path, sizeof(path), "%s/unload_%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, ALIGN_A) ||
	    ioctl(fd, MSHAREFS_CREATE_MAPPING, &mc)) {
		check_errno(0, "setup", errno);
		return 1;
	}
	p = mmap(NULL, ALIGN_A, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		check_errno(0, "attach", errno);
		return 1;
	}
	p[0] = 42;

	q = mremap(p, ALIGN_A, 2 * ALIGN_A, MREMAP_MAYMOVE);
	e = errno;
	check_errno(q == MAP_FAILED && e == EFAULT && p[0] == 42,
		    "mremap growing the mapping fails EFAULT and the data stays", e);

	close(fd);
	unlink(path);
	r = umount2(dir, MNT_DETACH);
	check_errno(r == 0, "lazy umount of msharefs while a region is mapped",
		    errno);
	r = remove_module();
	e = errno;
	check_errno(r < 0 && (e == EAGAIN || e == EBUSY),
		    "unload refused while the unlinked, closed region is mapped", e);
	p[1] = 43;
	check(p[0] == 42 && p[1] == 43,
	      "the mapping still works after the refused unload");

	munmap(p, ALIGN_A);
	for (i = 0, r = -1; i < 100 && r < 0; i++) {
		r = remove_module();
		if (r < 0)
			usleep(10000);
	}
	check_errno(r == 0, "after munmap the module unloads", errno);
	check(access(dir, F_OK) != 0, "and /sys/fs/mshare is gone");
	r = system("/sbin/modprobe mshare");
	check(r == 0, "modprobe loads it again (and remounts)");
	test_fault_wait_unload(dir);
	return tap_done();
}

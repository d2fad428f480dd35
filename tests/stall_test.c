// SPDX-License-Identifier: GPL-2.0
/*
 * stall_test: an attacher that holds its own mmap lock forever cannot
 * stall the owner's host changes or the other attachers (attacker review 5,
 * finding 1).
 *
 * Usage: stall_test [DIR]		DIR defaults to /sys/fs/mshare
 *
 * A host change (UNMAP, CREATE_MAPPING) takes every attacher's mmap lock
 * for writing, and faults of every attacher wait for the change.  Any user
 * can hold their own mmap lock for reading as long as they like: in a user
 * and mount namespace, uid 65534 mounts its own FUSE filesystem (talking to
 * /dev/fuse itself), maps a file of it, and one thread reads that mapping
 * through /proc/self/mem (GUP that cannot drop the mmap lock) while its
 * daemon never answers the READ.  With root's 0644 region attached
 * read-only, that process used to hang the owner's change forever (an
 * uninterruptible mmap_write_lock) and, behind it, every other attacher's
 * fault.  A change now gives up when it cannot take an attacher's lock
 * within 30 seconds: EBUSY, nothing changed, one "mshare: " line in dmesg.
 *
 * Runs as root (it owns the region, chmods /dev/fuse 0666 as udev does,
 * loads fuse.ko where it is a module, and aborts the FUSE connection at
 * the end).  Output is TAP; the exit status is 0 if every check passed.
 * Every wait has a deadline, so the old module fails the checks instead of
 * hanging the guest.
 *
 * A fast change (the module's default, src/tables.c) takes no attacher
 * lock at all, so the stall cannot delay it (1b).  The slow path still
 * takes every attacher's lock (a region's first writable object that
 * needs dirty tracking, hugetlb placements), so parts 2 to 5 run with
 * fast_change=0 and hold it to the promise above.
 *
 *   1. set-up: the attacker (uid 65534) mounts FUSE in its namespaces,
 *      attaches root's region read-only, and its /proc/self/mem reader is
 *      blocked in FUSE holding its mmap lock
 *   2. the owner's UNMAP of the object fails with EBUSY after 28 to 45 s
 *      (not at once, not never); an attacher that attaches and faults
 *      meanwhile (uid 65534) gets the object's data within 45 s; the
 *      object is unchanged; dmesg says why
 *   3. the same for a CREATE_MAPPING over the object
 *   4. once the attacker is killed and its FUSE connection aborted, the
 *      owner's UNMAP and CREATE_MAPPING succeed, and the new object reads
 *      zero
 *   5. each attacher's wait has 30 s of its own, not the change as a
 *      whole: two attackers stall, the one the change waits for first
 *      lets go after 20 s and the other 20 s later; the UNMAP succeeds
 *      after about 40 s, and the next change at once (no SIGKILL meant
 *      for a wait reaches anything after it)
 *   1b. with fast_change=Y, the owner's UNMAP and CREATE_MAPPING succeed
 *      within 5 s while the attacker is stalled
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "region.h"
#include "tap.h"
#include "util.h"

#define A		REGION_ALIGN
#define OBJ		(2UL << 20)
#define FUSE_SIZE	(1UL << 20)
#define TAG		0x5a

/*
 * The module gives up on an attacher's mmap lock after 30 s
 * (MSHARE_LOCK_WAIT): the change must fail between GIVEUP_MIN (earlier:
 * it did not wait) and GIVEUP_MAX (later: it did not give up); a fault
 * that waits for it, within BYSTANDER_MAX of its start.
 */
#define LOCK_WAIT	30.0
#define GIVEUP_MIN	(LOCK_WAIT - 2)
#define GIVEUP_MAX	(LOCK_WAIT * 1.5)
#define CHANGE_WAIT	(GIVEUP_MAX + 10)	/* then we call it hung */
#define BYSTANDER_MAX	(LOCK_WAIT * 1.5)
#define AFTER_KILL_MAX	30.0

static const char *mnt = "/sys/fs/mshare";
static char path[PATH_MAX];		/* root's region */
static char fusedir[PATH_MAX];		/* the attacker's mount point */
static pid_t attacker_pid;
static pid_t blocked_change;		/* an owner's change that did not return */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void group(const char *title)
{
	diag("---- %s", title);
}

/*
 * The last resort: every wait below has its own deadline, so this fires
 * only if one of them was itself blocked.
 */
static void on_alarm(int sig)
{
	(void)sig;
	if (attacker_pid > 0)
		kill(-attacker_pid, SIGKILL);
	printf("not ok - stall: the test itself hung (the alarm fired)\n");
	_exit(1);
}

/*
 * Wait for pid until deadline seconds after start.  1 and *st if it
 * exited, 0 if it is still running.
 */
static int wait_until(pid_t pid, double start, double deadline, int *st)
{
	for (;;) {
		pid_t r = waitpid(pid, st, WNOHANG);

		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return 1;	/* not our child any more */
		if (now() - start >= deadline)
			return 0;
		usleep(50000);
	}
}

/* Print the kernel stack of a task, as diag lines (root only). */
static void diag_stack(pid_t pid, pid_t tid, const char *who)
{
	char file[64], buf[4096], *line, *save;

	snprintf(file, sizeof(file), "/proc/%d/task/%d/stack", (int)pid,
		 (int)tid);
	if (read_file(file, buf, sizeof(buf)) < 0) {
		diag("%s: %s: %s", who, file, errname(errno));
		return;
	}
	diag("%s (task %d), kernel stack:", who, (int)tid);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		diag("    %s", line);
}

/* Every task of pid, its state and kernel stack. */
static void diag_tasks(pid_t pid, const char *who)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
		 "for t in /proc/%d/task/*; do "
		 "echo \"# %s $t: $(sed -n 's/^State:[[:space:]]*//p' $t/status)\"; "
		 "sed 's/^/#     /' $t/stack; done", (int)pid, who);
	fflush(stdout);
	if (system(cmd))
		diag("(could not list the tasks of %d)", (int)pid);
}

/* ------------------------------------------------ the kernel log */

static int kmsg = -1;

/* From now on, collect what the kernel logs. */
static void kmsg_mark(void)
{
	if (kmsg < 0)
		kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
}

/* The number of lines logged since kmsg_mark() starting "mshare: " */
static int kmsg_mshare_lines(void)
{
	char rec[2048];
	int n = 0;

	if (kmsg < 0)
		return -1;
	for (;;) {
		ssize_t len = read(kmsg, rec, sizeof(rec) - 1);
		char *msg, *nl;

		if (len < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (len <= 0)
			break;
		rec[len] = '\0';
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = '\0';
		if (!strncmp(msg, "mshare: ", 8)) {
			diag("dmesg: %s", msg);
			n++;
		}
	}
	return n;
}

/* --------------------------------------------- the FUSE daemon */

static int fusefd;

static void fuse_reply(uint64_t unique, int err, const void *p, size_t n)
{
	char buf[512];
	struct fuse_out_header *h = (void *)buf;

	h->len = sizeof(*h) + n;
	h->error = err;
	h->unique = unique;
	if (n)
		memcpy(buf + sizeof(*h), p, n);
	if (write(fusefd, buf, h->len) < 0)
		return;		/* the request was interrupted or aborted */
}

static void fuse_attr(struct fuse_attr *a, uint64_t ino, int dir)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->mode = dir ? S_IFDIR | 0755 : S_IFREG | 0644;
	a->nlink = dir ? 2 : 1;
	a->size = dir ? 0 : FUSE_SIZE;
	a->blocks = a->size / 512;
	a->blksize = 4096;
}

/* A filesystem of one file, "f": answers everything but READ, never. */
static void fuse_daemon(void)
{
	static char buf[1 << 17];

	for (;;) {
		ssize_t n = read(fusefd, buf, sizeof(buf));
		struct fuse_in_header *in = (void *)buf;

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return;
		}
		switch (in->opcode) {
		case FUSE_INIT: {
			struct fuse_init_in *ii = (void *)(in + 1);
			struct fuse_init_out o;

			memset(&o, 0, sizeof(o));
			o.major = FUSE_KERNEL_VERSION;
			o.minor = ii->minor < FUSE_KERNEL_MINOR_VERSION ?
				  ii->minor : FUSE_KERNEL_MINOR_VERSION;
			o.max_write = 4096;
			o.max_background = 4;
			o.congestion_threshold = 2;
			fuse_reply(in->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out e;

			memset(&e, 0, sizeof(e));
			e.nodeid = 2;
			e.generation = 1;
			e.entry_valid = e.attr_valid = 1000;
			fuse_attr(&e.attr, 2, 0);
			fuse_reply(in->unique, 0, &e, sizeof(e));
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out o;

			memset(&o, 0, sizeof(o));
			o.attr_valid = 1000;
			fuse_attr(&o.attr, in->nodeid, in->nodeid == 1);
			fuse_reply(in->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_OPEN: {
			struct fuse_open_out o;

			memset(&o, 0, sizeof(o));
			o.fh = 1;
			fuse_reply(in->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_READ:
			break;		/* the stall: never answered */
		case FUSE_FLUSH:
		case FUSE_RELEASE:
			fuse_reply(in->unique, 0, NULL, 0);
			break;
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break;
		default:
			fuse_reply(in->unique, -ENOSYS, NULL, 0);
		}
	}
}

/* ------------------------------------------------------ the attacker */

static char *fusemap;
static volatile pid_t stall_tid;

/* GUP without "locked": holds this mm's mmap lock while FUSE waits. */
static void *stall_reader(void *arg)
{
	int mem = open("/proc/self/mem", O_RDONLY);
	char c;

	(void)arg;
	stall_tid = (pid_t)syscall(SYS_gettid);
	if (mem < 0 || pread(mem, &c, 1, (off_t)(uintptr_t)fusemap) < 0)
		diag("attacker: the stalled read ended: %s", errname(errno));
	return NULL;
}

/* Exit codes of the attacker's set-up steps, for the diag line */
static const char *const attacker_step[] = {
	"", "", "unshare(USER|NS)", "id maps", "open /dev/fuse",
	"mount fuse in the user namespace", "fork the daemon",
	"open the FUSE file", "mmap the FUSE file", "open the region O_RDONLY",
	"attach the region", "start the reader", "report to the parent",
};

/*
 * uid 65534: mount FUSE, attach root's region read-only, stall.  Writes
 * the stalled reader's thread id to wfd when it is in place, then waits
 * to be killed.
 */
static int attacker(int wfd)
{
	char opts[128], file[PATH_MAX + 8];
	pthread_t t;
	int fd, f;
	char *att;

	/* setuid() made us non-dumpable: /proc/self/uid_map would be root's */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS))
		return 2;
	if (write_file("/proc/self/setgroups", "deny") ||
	    write_file("/proc/self/uid_map", "0 65534 1") ||
	    write_file("/proc/self/gid_map", "0 65534 1"))
		return 3;
	fusefd = open("/dev/fuse", O_RDWR);
	if (fusefd < 0)
		return 4;
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0",
		 fusefd);
	if (mount("stallfuse", fusedir, "fuse", MS_NOSUID | MS_NODEV, opts))
		return 5;
	/*
	 * The daemon is a process of its own: killing it aborts the
	 * connection, which ends the stalled read (once the READ is sent,
	 * the reader waits until it is answered or aborted).
	 */
	switch (fork()) {
	case -1:
		return 6;
	case 0:
		fuse_daemon();
		_exit(0);
	}
	close(fusefd);
	snprintf(file, sizeof(file), "%s/f", fusedir);
	f = open(file, O_RDONLY);
	if (f < 0)
		return 7;
	fusemap = mmap(NULL, FUSE_SIZE, PROT_READ, MAP_SHARED, f, 0);
	if (fusemap == MAP_FAILED)
		return 8;
	/* the victim: root's region, mode 0644, opened read-only */
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 9;
	att = region_attach(fd, A, PROT_READ);
	if (!att)
		return 10;
	(void)*(volatile char *)att;	/* linked: a full attacher */
	if (pthread_create(&t, NULL, stall_reader, NULL))
		return 11;
	while (!stall_tid)
		usleep(10000);
	sleep(1);		/* the READ is sent and waits */
	if (write(wfd, (const void *)&stall_tid, sizeof(pid_t)) !=
	    sizeof(pid_t))
		return 12;
	for (;;)
		pause();	/* until killed */
}

/* Start the attacker; its stalled reader's tid, or -1. */
static pid_t attacker_start(pid_t *tid)
{
	struct pollfd pf;
	int p[2], st;

	if (pipe(p))
		return -1;
	fflush(stdout);
	attacker_pid = fork();
	if (attacker_pid < 0)
		return -1;
	if (attacker_pid == 0) {
		close(p[0]);
		setpgid(0, 0);	/* the daemon too: killed as a group */
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(99);
		_exit(attacker(p[1]));
	}
	setpgid(attacker_pid, attacker_pid);
	close(p[1]);
	pf.fd = p[0];
	pf.events = POLLIN;
	pf.revents = 0;
	if (poll(&pf, 1, 30000) != 1) {
		diag("attacker: not ready after 30 s");
		diag_tasks(attacker_pid, "attacker");
		close(p[0]);
		return -1;
	}
	if (read(p[0], tid, sizeof(*tid)) != sizeof(*tid)) {
		close(p[0]);
		if (waitpid(attacker_pid, &st, 0) == attacker_pid) {
			int code = WIFEXITED(st) ? WEXITSTATUS(st) : 0;

			diag("attacker: set-up failed at \"%s\" (%s)",
			     code > 1 && code < 13 ? attacker_step[code] :
			     "?", wait_str(st));
			attacker_pid = 0;
		}
		return -1;
	}
	close(p[0]);
	return attacker_pid;
}

/* Abort every FUSE connection (root, through fusectl). */
static void fuse_abort_all(void)
{
	fflush(stdout);
	if (system("mount -t fusectl fusectl /sys/fs/fuse/connections "
		   "2>/dev/null; for c in /sys/fs/fuse/connections/*/abort; do "
		   "[ -e \"$c\" ] && echo 1 >\"$c\"; done; true"))
		diag("aborting the FUSE connections failed");
}

/* Kill the attacker and its daemon, abort FUSE; reaped within a deadline. */
static int attacker_stop(void)
{
	double t0 = now();
	int st;

	if (attacker_pid <= 0)
		return 1;
	kill(-attacker_pid, SIGKILL);
	fuse_abort_all();
	if (!wait_until(attacker_pid, t0, AFTER_KILL_MAX, &st)) {
		diag("attacker: still there %.0f s after SIGKILL", AFTER_KILL_MAX);
		diag_tasks(attacker_pid, "attacker");
		return 0;
	}
	/* its daemon, reparented to init; do not wait for it */
	attacker_pid = 0;
	return 1;
}

/* ---------------------------------------------- owner and bystanders */

enum change { CH_UNMAP, CH_CREATE, CH_CREATE_POPULATE };

/* The owner's change in a child: its errno is the exit code (0: done). */
static pid_t change_start(int fd, enum change ch)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int r;

		if (ch == CH_UNMAP)
			r = region_unmap(fd, 0, OBJ);
		else if (ch == CH_CREATE)	/* over the object: like MAP_FIXED */
			r = region_place(fd, 0, OBJ, 0, PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS,
					 -1);
		else
			r = region_place_anon(fd, 0, OBJ);
		_exit(r ? (errno & 0xff) : 0);
	}
	return pid;
}

/*
 * An attacher (uid 65534, read-only) that attaches and reads every page
 * of the object: exit 0 if every byte is want, 1 if not, signalled on
 * SIGBUS (no object).
 */
static pid_t reader_start(unsigned char want)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		unsigned char *b;
		unsigned long i;
		int fd;

		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(99);
		fd = open(path, O_RDONLY);
		b = fd < 0 ? NULL : (unsigned char *)region_attach(fd, A,
								    PROT_READ);
		if (!b)
			_exit(98);
		for (i = 0; i < OBJ; i++)
			if (b[i] != want)
				_exit(1);
		_exit(0);
	}
	return pid;
}

/* Run a reader and judge it: it must finish within secs and see want. */
static int reader_check(unsigned char want, double secs, const char *what)
{
	double t0 = now();
	pid_t pid = reader_start(want);
	int st = 0, done;

	if (pid < 0)
		return check(0, "%s (fork failed)", what);
	done = wait_until(pid, t0, secs, &st);
	if (!done) {
		check(0, "%s: still waiting after %.0f s", what, secs);
		diag_tasks(pid, "reader");
		kill(pid, SIGKILL);	/* reaped at the end */
		return 0;
	}
	if (!check(WIFEXITED(st) && !WEXITSTATUS(st), "%s (%.1f s)", what,
		   now() - t0))
		diag("reader: %s (exit 1: other data; signal 7: no object)",
		     wait_str(st));
	return 1;
}

/*
 * Part 2 and 3: one change the attacker stalls.  Returns 0 if the change
 * is still blocked (the old module), so the caller stops there.
 */
static int fast_change(int on)
{
	return write_file("/sys/module/mshare/parameters/fast_change",
			  on ? "Y" : "N");
}

static int stalled_change(int fd, enum change ch, const char *name)
{
	double t0, dt = 0, tb, db = 0;
	pid_t owner, by;
	int st = 0, done, bst = 0, bdone, lines;

	kmsg_mark();
	t0 = now();
	owner = change_start(fd, ch);
	if (owner < 0)
		return check(0, "%s: fork", name);
	/* a bystander attacher, while the change waits for the attacker */
	sleep(1);
	tb = now();
	by = reader_start(TAG);
	/* both watched at once: each one's own time is what is judged */
	done = 0;
	bdone = by <= 0;
	for (;;) {
		if (!done && waitpid(owner, &st, WNOHANG) == owner) {
			done = 1;
			dt = now() - t0;
		}
		if (!bdone && waitpid(by, &bst, WNOHANG) == by) {
			bdone = 1;
			db = now() - tb;
		}
		if ((done || now() - t0 >= CHANGE_WAIT) &&
		    (bdone || now() - tb >= BYSTANDER_MAX))
			break;
		usleep(50000);
	}
	if (!done)
		dt = now() - t0;
	if (!bdone)
		db = now() - tb;
	if (!done) {
		check(0, "%s: the owner's %s fails with EBUSY after %.0f to %.0f s (still blocked after %.0f s)",
		      name, name, GIVEUP_MIN, GIVEUP_MAX, dt);
		diag_tasks(owner, "owner's change");
		blocked_change = owner;
	} else if (!WIFEXITED(st) || WEXITSTATUS(st) != EBUSY) {
		check(0, "%s: the owner's %s fails with EBUSY after %.0f to %.0f s",
		      name, name, GIVEUP_MIN, GIVEUP_MAX);
		diag("it ended after %.1f s with %s", dt,
		     WIFEXITED(st) ? (WEXITSTATUS(st) ?
				     errname(WEXITSTATUS(st)) : "success") :
		     wait_str(st));
	} else {
		check(dt >= GIVEUP_MIN && dt <= GIVEUP_MAX,
		      "%s: the owner's %s fails with EBUSY after %.0f to %.0f s (%.1f s)",
		      name, name, GIVEUP_MIN, GIVEUP_MAX, dt);
	}

	if (!check(by > 0 && bdone && WIFEXITED(bst) && !WEXITSTATUS(bst),
		   "%s: another attacher (uid 65534) attaches, faults and reads the object meanwhile, within %.0f s (%.1f s)",
		   name, BYSTANDER_MAX, db)) {
		if (by > 0 && bdone)
			diag("bystander: %s (exit 1: other data; signal 7: no object)",
			     wait_str(bst));
		else if (by > 0) {
			diag_tasks(by, "bystander");
			kill(by, SIGKILL);
		}
	}
	if (!done)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == EBUSY) {
		char what[128];

		snprintf(what, sizeof(what),
			 "%s: after the EBUSY the object is unchanged", name);
		reader_check(TAG, BYSTANDER_MAX, what);
		lines = kmsg_mshare_lines();
		if (lines < 0)
			diag("cannot read /dev/kmsg: %s", errname(errno));
		else
			check(lines >= 1, "%s: dmesg says why, in a line starting \"mshare: \" (%d lines)",
			      name, lines);
	}
	return 1;
}

/*
 * Whether a change is queued for pid's mmap lock: a reader of
 * /proc/PID/smaps_rollup (mmap_read_lock_killable on every kernel; the
 * maps file is read under VMA locks on 7.x) waits behind a queued writer,
 * though the stalled reader's read lock alone would let it in.  1 if the
 * read is still waiting after 2 s, 0 if it finished, -1 if it failed.
 */
static int change_waits_for(pid_t pid)
{
	char file[64], buf[4096];
	double t0 = now();
	pid_t probe;
	int st;

	snprintf(file, sizeof(file), "/proc/%d/smaps_rollup", (int)pid);
	fflush(stdout);
	probe = fork();
	if (probe < 0)
		return -1;
	if (probe == 0)
		_exit(read_file(file, buf, sizeof(buf)) < 0);
	if (wait_until(probe, t0, 2.0, &st))
		return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -1;
	kill(probe, SIGKILL);		/* a killable wait */
	waitpid(probe, &st, 0);
	return 1;
}

/* Kill one attacker and its daemon (which ends its FUSE connection). */
static int attacker_kill(pid_t pid)
{
	double t0 = now();
	int st;

	kill(-pid, SIGKILL);
	if (wait_until(pid, t0, AFTER_KILL_MAX, &st))
		return 1;
	diag("attacker %d: still there %.0f s after SIGKILL", (int)pid,
	     AFTER_KILL_MAX);
	diag_tasks(pid, "attacker");
	return 0;
}

/*
 * Part 5.  Which attacher a change waits for first is the module's
 * business, so the test asks the kernel (change_waits_for) and releases
 * that one first.  A time limit on the whole lock phase instead of on
 * each wait would give up (EBUSY) at 30 s.
 */
#define TURN		20.0	/* each attacker's stall, once waited for */

static void two_stalls(int fd)
{
	pid_t a[2], tid, owner;
	int alive[2] = { 0, 0 };
	int i, k, first = -1, st = 0, lines;
	double t0, dt;

	for (i = 0; i < 2; i++) {
		a[i] = attacker_start(&tid);
		attacker_pid = 0;	/* these two are killed here, by group */
		if (!check(a[i] > 0, "5. set-up: attacker %d (uid 65534) stalls in FUSE, attached read-only",
			   i + 1))
			goto out;
		alive[i] = 1;
	}
	kmsg_mark();
	t0 = now();
	owner = change_start(fd, CH_UNMAP);
	if (owner < 0) {
		check(0, "5. fork");
		goto out;
	}
	/* which attacker's lock the change is queued on */
	while (first < 0 && now() - t0 < 10) {
		for (i = 0; i < 2 && first < 0; i++)
			if (change_waits_for(a[i]) == 1)
				first = i;
		usleep(200000);
	}
	if (!check(first >= 0, "5. the change waits for one attacker's mmap lock (found after %.1f s)",
		   now() - t0))
		goto out_owner;
	while (now() - t0 < TURN)
		usleep(50000);
	alive[first] = 0;
	if (!check(attacker_kill(a[first]), "5. the attacker it waits for lets go after %.0f s",
		   TURN))
		goto out_owner;
	k = 0;
	while (now() - t0 < TURN + 8 &&
	       (k = change_waits_for(a[1 - first])) != 1)
		usleep(200000);
	check(k == 1, "5. the change then waits for the other attacker (%.1f s after it began)",
	      now() - t0);
	while (now() - t0 < 2 * TURN)
		usleep(50000);
	alive[1 - first] = 0;
	check(attacker_kill(a[1 - first]), "5. the other attacker lets go after another %.0f s",
	      TURN);
out_owner:
	if (!wait_until(owner, t0, 2 * TURN + AFTER_KILL_MAX, &st)) {
		check(0, "5. the UNMAP succeeds after about %.0f s (still blocked after %.0f s)",
		      2 * TURN, now() - t0);
		diag_tasks(owner, "owner's change");
		blocked_change = owner;
		goto out;
	}
	dt = now() - t0;
	if (!check(WIFEXITED(st) && !WEXITSTATUS(st) && dt >= 2 * TURN - 2,
		   "5. the UNMAP succeeds after about %.0f s: every wait has %.0f s of its own (%.1f s)",
		   2 * TURN, LOCK_WAIT, dt))
		diag("UNMAP: %s after %.1f s", WIFEXITED(st) ?
		     (WEXITSTATUS(st) ? errname(WEXITSTATUS(st)) : "success") :
		     wait_str(st), dt);
	lines = kmsg_mshare_lines();
	if (lines >= 0)
		check(lines == 0, "5. dmesg has no \"mshare: \" line (%d)", lines);
	t0 = now();
	owner = change_start(fd, CH_CREATE_POPULATE);
	if (!wait_until(owner, t0, AFTER_KILL_MAX, &st)) {
		check(0, "5. the next CREATE_MAPPING succeeds at once (still blocked after %.0f s)",
		      AFTER_KILL_MAX);
		diag_tasks(owner, "owner's change");
		blocked_change = owner;
		goto out;
	}
	dt = now() - t0;
	check(WIFEXITED(st) && !WEXITSTATUS(st) && dt < 5,
	      "5. the next CREATE_MAPPING succeeds at once, not killed (%s, %.1f s)",
	      WIFEXITED(st) ? (WEXITSTATUS(st) ? errname(WEXITSTATUS(st)) :
			       "success") : wait_str(st), dt);
	reader_check(0, BYSTANDER_MAX, "5. an attacher reads the new object: zeros");
out:
	for (i = 0; i < 2; i++)
		if (alive[i])
			attacker_kill(a[i]);
	fuse_abort_all();
}

int main(int argc, char **argv)
{
	double t0;
	pid_t tid, pid;
	int fd, st, blocked = 1;
	char stack[4096], file[64];
	char *own = NULL;

	if (argc > 1)
		mnt = argv[1];
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGALRM, on_alarm);
	alarm(660);

	group("1. uid 65534 holds its own mmap lock in a stalled FUSE read, attached to root's region");
	if (!check(!fast_change(0), "set-up: fast_change=0 (the slow path, which waits for attachers)"))
		return tap_done();
	fd = region_make(mnt, "stall", 0644, A, path);
	if (fd < 0) {
		check(0, "set-up: root's region (0644)");
		return tap_done();
	}
	if (!check(!region_place_anon(fd, 0, OBJ),
		   "set-up: root's region (0644) with a 2 MiB object"))
		goto out;
	own = region_attach(fd, A, PROT_READ | PROT_WRITE);
	if (!check(own != NULL, "set-up: the owner attaches"))
		goto out;
	memset(own, TAG, OBJ);
	if (access("/dev/fuse", F_OK) &&
	    system("/sbin/modprobe fuse"))		/* a module on 6.1 */
		diag("modprobe fuse failed");
	/* as udev makes it on every Debian system (50-udev-default.rules) */
	if (chmod("/dev/fuse", 0666)) {
		check(0, "set-up: /dev/fuse: %s", errname(errno));
		goto out;
	}
	snprintf(fusedir, sizeof(fusedir), "/tmp/stall_fuse_%d", (int)getpid());
	if (mkdir(fusedir, 0777) || chmod(fusedir, 0777)) {
		check(0, "set-up: mkdir %s: %s", fusedir, errname(errno));
		goto out;
	}
	pid = attacker_start(&tid);
	if (!check(pid > 0, "set-up: uid 65534 mounts FUSE in its own user and mount namespace and attaches the region read-only"))
		goto out_attacker;
	snprintf(file, sizeof(file), "/proc/%d/task/%d/stack", (int)pid,
		 (int)tid);
	if (read_file(file, stack, sizeof(stack)) < 0) {
		skip("no kernel stacks", "set-up: the attacker's /proc/self/mem read waits for its FUSE daemon");
	} else if (!check(strstr(stack, "fuse") != NULL,
			  "set-up: the attacker's /proc/self/mem read waits for its FUSE daemon")) {
		diag_stack(pid, tid, "attacker's reader");
		goto out_attacker;
	}

	group("1b. a fast change takes no attacher lock: the stall delays it not at all");
	fast_change(1);
	t0 = now();
	pid = change_start(fd, CH_UNMAP);
	if (!wait_until(pid, t0, 5.0, &st)) {
		check(0, "fast: the owner's UNMAP succeeds within 5 s (still blocked)");
		blocked_change = pid;
		blocked = 1;
		goto out_attacker;
	}
	check(WIFEXITED(st) && !WEXITSTATUS(st),
	      "fast: the owner's UNMAP succeeds within 5 s (%.1f s: %s)",
	      now() - t0, wait_str(st));
	t0 = now();
	pid = change_start(fd, CH_CREATE_POPULATE);
	if (!wait_until(pid, t0, 5.0, &st)) {
		check(0, "fast: the owner's CREATE_MAPPING succeeds within 5 s (still blocked)");
		blocked_change = pid;
		blocked = 1;
		goto out_attacker;
	}
	check(WIFEXITED(st) && !WEXITSTATUS(st),
	      "fast: the owner's CREATE_MAPPING succeeds within 5 s (%.1f s: %s)",
	      now() - t0, wait_str(st));
	memset(own, TAG, OBJ);
	fast_change(0);

	group("2. the owner's UNMAP gives up (EBUSY) instead of waiting forever");
	blocked = !stalled_change(fd, CH_UNMAP, "UNMAP");
	if (!blocked) {
		group("3. the owner's CREATE_MAPPING over the object gives up likewise");
		blocked = !stalled_change(fd, CH_CREATE, "CREATE_MAPPING");
	}

out_attacker:
	group("4. with the attacker gone, the owner's changes go through");
	t0 = now();
	if (!check(attacker_stop(), "the attacker is gone within %.0f s of SIGKILL and the FUSE abort",
		   AFTER_KILL_MAX))
		goto out;
	diag("the attacker was gone %.1f s after SIGKILL", now() - t0);
	if (blocked_change > 0) {
		/* the old module: the change that was blocked goes on now */
		t0 = now();
		if (wait_until(blocked_change, t0, AFTER_KILL_MAX, &st))
			diag("the blocked change ended %.1f s later: %s", now() - t0,
			     WIFEXITED(st) ? (WEXITSTATUS(st) ?
					     errname(WEXITSTATUS(st)) : "success") :
			     wait_str(st));
		else
			diag("the blocked change is still blocked %.0f s later",
			     AFTER_KILL_MAX);
	}
	t0 = now();
	pid = change_start(fd, CH_UNMAP);
	if (!wait_until(pid, t0, AFTER_KILL_MAX, &st)) {
		check(0, "the owner's UNMAP succeeds (still blocked after %.0f s)",
		      AFTER_KILL_MAX);
		diag_tasks(pid, "owner's change");
		goto out;
	}
	if (!check(WIFEXITED(st) && !WEXITSTATUS(st),
		   "the owner's UNMAP succeeds (%.1f s)", now() - t0))
		diag("UNMAP: %s", WIFEXITED(st) ? errname(WEXITSTATUS(st)) :
		     wait_str(st));
	t0 = now();
	pid = change_start(fd, CH_CREATE_POPULATE);
	if (!wait_until(pid, t0, AFTER_KILL_MAX, &st)) {
		check(0, "the owner's CREATE_MAPPING succeeds (still blocked after %.0f s)",
		      AFTER_KILL_MAX);
		diag_tasks(pid, "owner's change");
		goto out;
	}
	if (!check(WIFEXITED(st) && !WEXITSTATUS(st),
		   "the owner's CREATE_MAPPING succeeds (%.1f s)", now() - t0))
		diag("CREATE_MAPPING: %s", WIFEXITED(st) ?
		     errname(WEXITSTATUS(st)) : wait_str(st));
	reader_check(0, BYSTANDER_MAX, "an attacher reads the new object: zeros");
	group("5. each attacher's wait has its own 30 s");
	two_stalls(fd);
out:
	/* readers and changes left behind: reaped if they can be */
	t0 = now();
	for (;;) {
		pid = waitpid(-1, &st, WNOHANG);
		if (pid < 0 || now() - t0 > 10)
			break;		/* none left, or stuck: leave them */
		if (pid == 0)
			usleep(50000);
	}
	if (own)
		munmap(own, A);
	close(fd);
	unlink(path);
	fast_change(1);
	if (fusedir[0] && rmdir(fusedir))
		diag("cleanup: rmdir %s: %s", fusedir, errname(errno));
	alarm(0);
	return tap_done();
}

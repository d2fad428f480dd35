// SPDX-License-Identifier: GPL-2.0
/*
 * kmod_cycle - load, use and unload the mshare module many times.
 *
 * Usage: kmod_cycle [-n CYCLES] [-r REGIONS] [-d DIR] [-c CONTROL.ko]
 *
 * Every cycle loads mshare through libkmod, mounts msharefs, creates and
 * sizes a few regions, checks that the module refuses to go away while it
 * is in use (mounted, or lazily unmounted with a region still open), then
 * unmounts and removes it.  Odd cycles take the lazy-umount path, even
 * cycles a plain umount.  Memory counters (slab, vmalloc, page tables and
 * other pages of the page allocator) sampled every few cycles, and inode
 * and dentry counts, catch per-cycle leaks.  With -c, the same number of
 * load/unload cycles of a control module come first: what loading any
 * module costs this kernel (7.3 keeps a little slab and page-table memory
 * per load) is not counted against mshare.
 *
 * Output is TAP: one line per kind of check (not per cycle), the plan at
 * the end.  It runs as root inside the test VM only: it loads and unloads
 * kernel modules.  If mshare is loaded (and mounted) when it starts, it is
 * loaded (and mounted) again at the end so that later tests still find it.
 *
 * The modprobe.d install/remove commands for mshare are ignored on purpose
 * (KMOD_PROBE_IGNORE_COMMAND); this program mounts and unmounts itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libkmod.h>
#include <limits.h>
#include <math.h>
#include <mntent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#define MODNAME		"mshare"
#define FSTYPE		"msharefs"
#define DEFAULT_DIR	"/sys/fs/mshare"
#define DEFAULT_CYCLES	100
#define DEFAULT_REGIONS	8
#define MAX_CYCLES	1000000
#define MAX_REGIONS	1024

/* From include/uapi/linux/msharefs.h; kept here so the test builds alone. */
#define MSHAREFS_MAGIC	0x4d534852
#define INFO_NAME	"mshare_info"
#define ALIGNMENT	(512ULL << 30)
#define INFO_TEXT	"549755813888\n"

/* Removal right after the last close may race with the final mntput. */
#define REMOVE_RETRIES	50
#define RETRY_SLEEP_MS	10

/*
 * Inodes and dentries may grow by cycles / 2 (so that one leaked object
 * per cycle shows), but by at least OBJ_LIMIT_MIN to absorb noise in short
 * runs.  Memory counters: see report_leaks().
 */
#define OBJ_LIMIT_MIN	8

/* Only the first few failures are described; the rest are only counted. */
#define MAX_DIAG	20

static struct kmod_ctx *ctx;
static struct kmod_module *mod;
static const char *dir = DEFAULT_DIR;
static unsigned int diag_left = MAX_DIAG;
static bool kmod_quiet;

/* ---------------------------------------------------------------- output */

/* Every line is flushed at once: the output goes to a serial console. */
static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static const char *ename(int err)
{
	static char buf[32];
	const char *s;

	if (err < 0)
		err = -err;
	s = strerrorname_np(err);
	if (s)
		return s;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

/*
 * libkmod logs to stderr by default.  Route its messages into TAP comments
 * instead, and drop them around removals: those fail on purpose here and
 * the outcome is reported by the caller (kmod 30 ignores KMOD_REMOVE_NOLOG).
 */
static void kmod_log(void *data, int priority, const char *file, int line,
		     const char *fn, const char *format, va_list args)
{
	(void)data;
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	if (kmod_quiet)
		return;
	fputs("# libkmod: ", stdout);
	vprintf(format, args);
	fflush(stdout);
}

/* ---------------------------------------------------------------- checks */

enum {
	CK_LOAD,
	CK_MOUNT,
	CK_REGIONS,
	CK_BUSY_MOUNTED,
	CK_BUSY_FD,
	CK_UMOUNT,
	CK_REMOVE,
	CK_RELOAD,
	NR_CHECKS
};

struct check {
	const char *unit;	/* what "runs" counts */
	const char *what;
	unsigned int runs;	/* cycles in which the check was made */
	unsigned int fails;	/* cycles in which it failed */
	unsigned int last_fail;	/* cycle last counted in fails */
};

static struct check checks[NR_CHECKS] = {
	[CK_LOAD] = {
		.unit = "cycles",
		.what = "modprobe via libkmod (install command ignored) loads "
			"mshare, initstate live, DIR created as a directory",
	},
	[CK_MOUNT] = {
		.unit = "cycles",
		.what = "msharefs mounts on DIR (f_type MSHR), " INFO_NAME
			" reads 549755813888",
	},
	[CK_REGIONS] = {
		.unit = "cycles",
		.what = "regions create/ftruncate to 512 GiB/fstat size/close/"
			"unlink half, the rest keep their size",
	},
	[CK_BUSY_MOUNTED] = {
		.unit = "cycles",
		.what = "removal refused (EBUSY/EAGAIN) while mounted, module "
			"stays live, refcnt > 0",
	},
	[CK_BUSY_FD] = {
		.unit = "lazy-umount cycles",
		.what = "removal refused while a region fd is open after lazy "
			"umount, module stays live, refcnt > 0",
	},
	[CK_UMOUNT] = {
		.unit = "cycles",
		.what = "umount (lazy with a region fd open that stays usable, "
			"or plain) detaches DIR",
	},
	[CK_REMOVE] = {
		.unit = "cycles",
		.what = "remove succeeds after umount and last close, module "
			"gone, DIR gone",
	},
	[CK_RELOAD] = {
		.unit = "reloads",
		.what = "module can be loaded again after a clean removal",
	},
};

static unsigned int cur_cycle;

static void run(int ck)
{
	checks[ck].runs++;
}

/* Counts a failure of @ck, once per cycle. */
static void count_fail(int ck)
{
	struct check *c = &checks[ck];

	if (c->last_fail != cur_cycle) {
		c->fails++;
		c->last_fail = cur_cycle;
	}
}

/* count_fail() and describe the first few failures; returns false. */
static bool __attribute__((format(printf, 2, 3)))
fail(int ck, const char *fmt, ...)
{
	va_list ap;

	count_fail(ck);
	if (!diag_left)
		return false;
	printf("# cycle %u: ", cur_cycle);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!--diag_left)
		say("# (further failures are only counted)");
	return false;
}

static unsigned int tap_nr;
static bool all_ok = true;

static void __attribute__((format(printf, 3, 4)))
tap(bool ok, const char *skip, const char *fmt, ...)
{
	va_list ap;

	if (!ok && !skip)
		all_ok = false;
	printf("%sok %u - ", ok || skip ? "" : "not ", ++tap_nr);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (skip)
		printf(" # SKIP %s", skip);
	putchar('\n');
	fflush(stdout);
}

static void report_checks(void)
{
	const struct check *c;

	for (c = checks; c < checks + NR_CHECKS; c++) {
		if (!c->runs)
			tap(true, "not reached", "%s", c->what);
		else if (c->fails)
			tap(false, NULL, "%u %s: %s (%u failed)",
			    c->runs, c->unit, c->what, c->fails);
		else
			tap(true, NULL, "%u %s: %s", c->runs, c->unit, c->what);
	}
}

/* ------------------------------------------------------------- helpers */

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Whether @path is a mount point in this namespace (any file system). */
static bool is_mounted(const char *path)
{
	struct mntent *m;
	bool found = false;
	FILE *f;

	f = setmntent("/proc/self/mounts", "r");
	if (!f)
		return false;
	while (!found && (m = getmntent(f)))
		found = !strcmp(m->mnt_dir, path);
	endmntent(f);
	return found;
}

/* 0 if @path is a directory, else a negative errno (-ENOTDIR if not one). */
static int check_dir(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Reads up to @len - 1 bytes of @path, NUL-terminated; -errno on error. */
static ssize_t read_text(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	return n;
}

static int write_text(const char *path, const char *text)
{
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

static void region_path(char *buf, size_t len, unsigned int cycle,
			unsigned int i)
{
	snprintf(buf, len, "%s/kc%u-r%u", dir, cycle, i);
}

/* -------------------------------------------------------------- module */

static int mod_load(void)
{
	/* No install command: it could mount for us and hide bugs. */
	return kmod_module_probe_insert_module(mod, KMOD_PROBE_IGNORE_COMMAND,
					       NULL, NULL, NULL, NULL);
}

/* Name of an initstate, or of the error for a module that is not loaded. */
static const char *state_str(int state)
{
	const char *s;

	if (state < 0)
		return ename(state);
	s = kmod_module_initstate_str(state);
	return s ? s : "unknown";
}

static bool mod_loaded(void)
{
	return kmod_module_get_initstate(mod) >= 0;
}

static bool mod_live(void)
{
	return kmod_module_get_initstate(mod) == KMOD_MODULE_LIVE;
}

static int mod_remove(void)
{
	int err;

	kmod_quiet = true;
	err = kmod_module_remove_module(mod, 0);
	kmod_quiet = false;
	return err;
}

/*
 * delete_module(2) answers a module whose refcount is held with
 * EWOULDBLOCK (== EAGAIN, kernel/module/main.c: try_stop_module), and one
 * that is not live with EBUSY; rmmod calls both "in use".
 */
static bool busy_err(int err)
{
	return err == -EBUSY || err == -EAGAIN;
}

/* Removes the module, retrying while busy; *retries = retries needed. */
static int mod_remove_retry(unsigned int *retries)
{
	unsigned int n;
	int err;

	for (n = 0;; n++) {
		err = mod_remove();
		if (!busy_err(err) || n == REMOVE_RETRIES)
			break;
		sleep_ms(RETRY_SLEEP_MS);
	}
	*retries = n;
	return err;
}

/* Unmounts everything stacked on @dir; false (errno set) if one fails. */
static bool umount_all(int flags, bool *did)
{
	int i;

	for (i = 0; i < 16 && is_mounted(dir); i++) {
		if (umount2(dir, flags))
			return false;
		if (did)
			*did = true;
	}
	return true;
}

static int mount_fs(void)
{
	return mount(FSTYPE, dir, FSTYPE, 0, NULL) ? -errno : 0;
}

/* ------------------------------------------------------------- one cycle */

struct cycle {
	unsigned int nr;
	unsigned int nregions;
	bool lazy;	/* lazy umount with an fd open, else plain umount */
	int fd;		/* region fd held across the lazy umount, or -1 */
	int kept;	/* index of a region that was not unlinked, or -1 */
};

struct retry_stats {
	unsigned int max, max_cycle, total;
};

static struct retry_stats retry_stats[2];	/* [0] plain, [1] lazy */

/* Load; false if the cycle cannot go on. */
static bool step_load(struct cycle *cy)
{
	bool ok = true;
	int err, state;

	run(CK_LOAD);
	if (cy->nr > 1)
		run(CK_RELOAD);
	err = mod_load();
	if (err) {
		if (cy->nr > 1)
			count_fail(CK_RELOAD);
		if (err > 0)	/* blacklist codes are positive */
			return fail(CK_LOAD, "probe-insert returned %d", err);
		return fail(CK_LOAD, "probe-insert: %s", ename(err));
	}
	state = kmod_module_get_initstate(mod);
	if (state != KMOD_MODULE_LIVE)
		ok = fail(CK_LOAD, "initstate after load is %s",
			  state_str(state));
	err = check_dir(dir);
	if (err)
		ok = fail(CK_LOAD, "%s after load: %s", dir, ename(err));
	if (ok && is_mounted(dir)) {
		/* Something mounted it for us: an install command ran. */
		fail(CK_LOAD, "%s is already mounted right after load", dir);
		if (!umount_all(0, NULL))
			ok = fail(CK_LOAD, "umount %s: %s", dir, ename(errno));
	}
	if (!ok && cy->nr > 1)
		count_fail(CK_RELOAD);
	return ok;
}

/* Mount and check the info file; false if the cycle cannot go on. */
static bool step_mount(void)
{
	char path[PATH_MAX], buf[64];
	struct statfs sfs;
	ssize_t n;
	int err;

	run(CK_MOUNT);
	err = mount_fs();
	if (err)
		return fail(CK_MOUNT, "mount %s: %s", dir, ename(err));
	if (statfs(dir, &sfs))
		fail(CK_MOUNT, "statfs %s: %s", dir, ename(errno));
	else if (sfs.f_type != MSHAREFS_MAGIC)
		fail(CK_MOUNT, "f_type is %#lx, not %#x",
		     (unsigned long)sfs.f_type, MSHAREFS_MAGIC);
	snprintf(path, sizeof(path), "%s/%s", dir, INFO_NAME);
	n = read_text(path, buf, sizeof(buf));
	if (n < 0)
		fail(CK_MOUNT, "read %s: %s", path, ename((int)n));
	else if (strcmp(buf, INFO_TEXT))
		fail(CK_MOUNT, "%s reads \"%.*s\", not %s", path,
		     (int)strcspn(buf, "\n"), buf, "549755813888");
	return true;
}

static bool create_region(const char *path)
{
	struct stat st;
	bool ok = true;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(CK_REGIONS, "create %s: %s", path, ename(errno));
	if (ftruncate(fd, ALIGNMENT))
		ok = fail(CK_REGIONS, "ftruncate %s: %s", path, ename(errno));
	else if (fstat(fd, &st))
		ok = fail(CK_REGIONS, "fstat %s: %s", path, ename(errno));
	else if ((unsigned long long)st.st_size != ALIGNMENT)
		ok = fail(CK_REGIONS, "%s has size %lld after ftruncate",
			  path, (long long)st.st_size);
	if (close(fd))
		ok = fail(CK_REGIONS, "close %s: %s", path, ename(errno));
	return ok;
}

/*
 * Create all regions, then unlink the odd ones.  The even ones stay, so
 * that unmounting has to free live regions too; cy->kept is one of them.
 */
static void step_regions(struct cycle *cy)
{
	bool created[MAX_REGIONS];
	char path[PATH_MAX];
	struct stat st;
	unsigned int i;

	run(CK_REGIONS);
	cy->kept = -1;
	for (i = 0; i < cy->nregions; i++) {
		region_path(path, sizeof(path), cy->nr, i);
		created[i] = create_region(path);
	}
	for (i = 0; i < cy->nregions; i++) {
		if (!created[i])
			continue;
		region_path(path, sizeof(path), cy->nr, i);
		if (i % 2) {
			if (unlink(path))
				fail(CK_REGIONS, "unlink %s: %s", path,
				     ename(errno));
			else if (!stat(path, &st) || errno != ENOENT)
				fail(CK_REGIONS, "%s still there after unlink",
				     path);
			continue;
		}
		if (stat(path, &st))
			fail(CK_REGIONS, "stat %s: %s", path, ename(errno));
		else if ((unsigned long long)st.st_size != ALIGNMENT)
			fail(CK_REGIONS, "%s has size %lld after close", path,
			     (long long)st.st_size);
		else if (cy->kept < 0)
			cy->kept = i;
	}
}

/*
 * Try to remove the module while it must be in use.  False only if the
 * removal succeeded: then the module went away under a mounted file
 * system, and nothing that follows means anything.
 */
static bool expect_busy(int ck, const char *when)
{
	int err, refcnt;

	err = mod_remove();
	if (!err)
		return fail(ck, "module removed %s", when);
	if (!busy_err(err))
		fail(ck, "remove %s: %s, not EBUSY/EAGAIN", when, ename(err));
	if (!mod_live())
		fail(ck, "module not live after refused removal %s", when);
	refcnt = kmod_module_get_refcnt(mod);
	if (refcnt < 1)
		fail(ck, "refcnt %s is %d", when, refcnt);
	return true;
}

/* Open a region that was not unlinked into cy->fd. */
static void open_kept(struct cycle *cy)
{
	char path[PATH_MAX];

	if (cy->kept < 0) {
		fail(CK_BUSY_FD, "no region left to hold open");
		return;
	}
	region_path(path, sizeof(path), cy->nr, cy->kept);
	cy->fd = open(path, O_RDWR | O_CLOEXEC);
	if (cy->fd < 0)
		fail(CK_BUSY_FD, "open %s: %s", path, ename(errno));
}

/* Hold a region open, umount lazily, try removal, close. */
static bool step_lazy_umount(struct cycle *cy)
{
	struct stat st;

	run(CK_BUSY_FD);
	run(CK_UMOUNT);
	open_kept(cy);
	if (umount2(dir, MNT_DETACH))
		return fail(CK_UMOUNT, "umount2(%s, MNT_DETACH): %s", dir,
			    ename(errno));
	if (is_mounted(dir))
		fail(CK_UMOUNT, "%s still mounted after lazy umount", dir);
	if (cy->fd < 0)
		return true;
	/* The detached superblock must stay intact while the fd lives. */
	if (fstat(cy->fd, &st))
		fail(CK_UMOUNT, "fstat after lazy umount: %s", ename(errno));
	else if ((unsigned long long)st.st_size != ALIGNMENT)
		fail(CK_UMOUNT, "size %lld after lazy umount",
		     (long long)st.st_size);
	if (!expect_busy(CK_BUSY_FD, "with a region open after lazy umount"))
		return false;
	if (close(cy->fd))
		fail(CK_BUSY_FD, "close region: %s", ename(errno));
	cy->fd = -1;
	return true;
}

static bool step_plain_umount(void)
{
	run(CK_UMOUNT);
	if (umount2(dir, 0))
		return fail(CK_UMOUNT, "umount %s: %s", dir, ename(errno));
	if (is_mounted(dir))
		fail(CK_UMOUNT, "%s still mounted after umount", dir);
	return true;
}

/* Final removal; false if the module could not be removed. */
static bool step_remove(struct cycle *cy)
{
	struct retry_stats *rs = &retry_stats[cy->lazy];
	unsigned int retries;
	int err, state;

	run(CK_REMOVE);
	err = mod_remove_retry(&retries);
	if (err)
		return fail(CK_REMOVE, "remove after %u retries: %s "
			    "(refcnt %d)", retries, ename(err),
			    kmod_module_get_refcnt(mod));
	rs->total += retries;
	if (retries > rs->max) {
		rs->max = retries;
		rs->max_cycle = cy->nr;
	}
	state = kmod_module_get_initstate(mod);
	if (state >= 0)
		fail(CK_REMOVE, "initstate %s after removal",
		     state_str(state));
	err = check_dir(dir);
	if (err != -ENOENT)
		fail(CK_REMOVE, "%s after removal: %s", dir,
		     err ? ename(err) : "still exists");
	return true;
}

/* Best effort back to "not loaded" after a cycle was cut short. */
static void recover(struct cycle *cy)
{
	unsigned int retries;
	int err;

	if (cy->fd >= 0)
		close(cy->fd);
	cy->fd = -1;
	if (!umount_all(0, NULL) && !umount_all(MNT_DETACH, NULL))
		say("# recover: umount %s: %s", dir, ename(errno));
	if (!mod_loaded())
		return;
	err = mod_remove_retry(&retries);
	if (err)
		say("# recover: remove %s: %s (refcnt %d)", MODNAME,
		    ename(err), kmod_module_get_refcnt(mod));
}

/* One full cycle; false if the loop must stop (state is then recovered). */
static bool run_cycle(unsigned int nr, unsigned int nregions)
{
	struct cycle cy = {
		.nr = nr,
		.nregions = nregions,
		.lazy = nr % 2,	/* so that -n 1 takes the harder path */
		.fd = -1,
		.kept = -1,
	};

	cur_cycle = nr;
	if (!step_load(&cy) || !step_mount())
		goto stop;
	step_regions(&cy);
	run(CK_BUSY_MOUNTED);
	if (!expect_busy(CK_BUSY_MOUNTED, "while mounted"))
		goto stop;
	if (cy.lazy ? !step_lazy_umount(&cy) : !step_plain_umount())
		goto stop;
	if (!step_remove(&cy))
		goto stop;
	return true;
stop:
	recover(&cy);
	return false;
}

static void report_retries(void)
{
	static const char *const name[2] = { "plain", "lazy" };
	const struct retry_stats *rs;
	int i;

	for (i = 0; i < 2; i++) {
		rs = &retry_stats[i];
		if (rs->max)
			say("# remove after %s umount needed retries: max %u "
			    "(cycle %u), %u in total", name[i], rs->max,
			    rs->max_cycle, rs->total);
		else
			say("# remove after %s umount needed no retries",
			    name[i]);
	}
}

/* ---------------------------------------------------------------- leaks */

/*
 * Memory counters, in kB, sampled every few cycles.  A leak grows one of
 * them by a fixed amount per cycle, so the check is the least-squares
 * slope over all samples against a limit derived from the scatter of the
 * samples themselves (three standard errors of the slope), not a flat
 * tolerance: one page per cycle must show, and the run says whether the
 * noise let it.
 *  - slab: SUnreclaim;
 *  - vmalloc: VmallocUsed (module text and data live there too);
 *  - page tables: PageTables;
 *  - other kernel pages: what is neither free nor in a pool /proc/meminfo
 *    names (page cache, anonymous, slab, stacks, page tables, vmalloc,
 *    per-CPU, huge pages), i.e. pages taken straight from the page
 *    allocator and never given back.
 */
enum { MEM_SLAB, MEM_VMALLOC, MEM_PGTABLE, MEM_OTHER, NR_MEM };

static const char *const mem_name[NR_MEM] = {
	"slab (SUnreclaim)", "vmalloc (VmallocUsed)", "page tables (PageTables)",
	"other kernel pages (page allocator)",
};

#define MAX_SAMPLES	32
#define PAGE_KB		4

/*
 * Below these (kB per cycle) nothing is called a leak, whatever the
 * noise: a slab object of 256 bytes; for vmalloc a quarter page; for page
 * tables and other pages a whole page every 4 cycles, their steps being
 * coarser (+0.31 kB per cycle with a limit of 0.35 was seen over 50 cycles
 * of a module that leaks nothing).  7.3 counts the kernel's own page
 * tables in PageTables: set_memory_ro() of each load's empty PUD table
 * now and then splits a huge page of the direct map, whose new table
 * stays (+12 tables over 200 cycles, then flat; 6.12 counts those as
 * other pages).  A page per cycle still shows in every counter.
 */
static const double leak_floor_kb[NR_MEM] = { 0.25, 0.25, 1.0, 1.0 };

struct counters {
	long kb[NR_MEM];
	long inodes, dentries;
};

struct samples {
	unsigned int n;
	unsigned int cycle[MAX_SAMPLES];
	struct counters c[MAX_SAMPLES];
};

static long meminfo_kb(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p;

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ':')
			return strtol(p + klen + 1, NULL, 10);
	return 0;	/* a field this kernel does not have */
}

static long first_number(const char *path)
{
	char buf[256];

	if (read_text(path, buf, sizeof(buf)) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

/*
 * Pages on the per-CPU free lists, which MemFree does not count: they
 * come and go in batches (63 pages a time on a 2 GiB guest), which would
 * otherwise read as kernel memory in use.
 */
static long pcp_kb(void)
{
	FILE *f = fopen("/proc/zoneinfo", "re");
	char line[256];
	long pages = 0, n;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %ld", &n) == 1)
			pages += n;
	fclose(f);
	return pages * PAGE_KB;
}

/*
 * Drop clean caches so that only objects somebody still holds are counted.
 * Inodes, dentries and slab objects are freed after an RCU grace period,
 * so wait and drop a second time before reading.
 */
static bool read_counters(struct counters *c)
{
	static const char *const pools[] = {
		"Buffers", "Cached", "SwapCached", "AnonPages", "Slab",
		"KernelStack", "PageTables", "SecPageTables", "VmallocUsed",
		"Percpu", "Hugetlb",
	};
	char m[8192];
	long other;
	size_t i;

	sync();
	for (i = 0; i < 2; i++) {
		int err = write_text("/proc/sys/vm/drop_caches", "3");
		if (err)
			say("# drop_caches: %s", ename(err));
		sleep_ms(200);
	}
	if (read_text("/proc/meminfo", m, sizeof(m)) <= 0)
		return false;
	other = meminfo_kb(m, "MemTotal") - meminfo_kb(m, "MemFree") -
		pcp_kb();
	for (i = 0; i < sizeof(pools) / sizeof(pools[0]); i++)
		other -= meminfo_kb(m, pools[i]);
	c->kb[MEM_SLAB] = meminfo_kb(m, "SUnreclaim");
	c->kb[MEM_VMALLOC] = meminfo_kb(m, "VmallocUsed");
	c->kb[MEM_PGTABLE] = meminfo_kb(m, "PageTables");
	c->kb[MEM_OTHER] = other;
	c->inodes = first_number("/proc/sys/fs/inode-nr");
	c->dentries = first_number("/proc/sys/fs/dentry-state");
	return c->kb[MEM_SLAB] > 0 && c->inodes >= 0 && c->dentries >= 0;
}

static void print_counters(const char *tag, const struct counters *c)
{
	say("# %s SUnreclaim %ld kB, VmallocUsed %ld kB, PageTables %ld kB, "
	    "other %ld kB, inode-nr %ld, dentry-state %ld", tag,
	    c->kb[MEM_SLAB], c->kb[MEM_VMALLOC], c->kb[MEM_PGTABLE],
	    c->kb[MEM_OTHER], c->inodes, c->dentries);
}

/* Take a sample after cycle nr (0: the baseline); false if unreadable. */
static bool sample(struct samples *s, unsigned int nr)
{
	if (s->n == MAX_SAMPLES)
		return true;
	s->cycle[s->n] = nr;
	if (!read_counters(&s->c[s->n]))
		return false;
	s->n++;
	return true;
}

/*
 * Least-squares slope (kB per cycle) of counter k over the samples, and
 * its standard error from the residuals.
 */
static void slope(const struct samples *s, int k, double *b, double *se)
{
	double mx = 0, my = 0, sxx = 0, sxy = 0, sse = 0;
	unsigned int i, from = s->n / 2, n = s->n - from;

	/*
	 * Over the second half of the run: caches that fill up over the first
	 * cycles (seen: +48 kB of other pages in 36 cycles on 6.1, then flat)
	 * are not a leak, which grows the same in every cycle.
	 */
	for (i = from; i < s->n; i++) {
		mx += s->cycle[i];
		my += s->c[i].kb[k];
	}
	mx /= n;
	my /= n;
	for (i = from; i < s->n; i++) {
		sxx += (s->cycle[i] - mx) * (s->cycle[i] - mx);
		sxy += (s->cycle[i] - mx) * (s->c[i].kb[k] - my);
	}
	*b = sxx > 0 ? sxy / sxx : 0;
	for (i = from; i < s->n; i++) {
		double r = s->c[i].kb[k] - my - *b * (s->cycle[i] - mx);

		sse += r * r;
	}
	*se = sxx > 0 && n > 2 ? sqrt(sse / (n - 2) / sxx) : 0;
}

/* The control module's cycles (-c): samples, or NULL */
static const struct samples *control;

static void report_leaks(const struct samples *s, unsigned int done,
			 bool stopped, bool unreadable)
{
	double bc = 0, sec = 0;
	long limit = done / 2 > OBJ_LIMIT_MIN ? done / 2 : OBJ_LIMIT_MIN;
	const struct counters *first = &s->c[0], *last = &s->c[s->n - 1];
	bool blind = false;
	double b, se, lim;
	long d_ino, d_den;
	int k;

	if (stopped || !done || unreadable || s->n < 8) {
		/* The module may still be loaded: the figures mean nothing. */
		const char *why = unreadable ? NULL : "cycles were cut short";

		for (k = 0; k < NR_MEM; k++)
			tap(!unreadable, why, "no %s growth%s", mem_name[k],
			    unreadable ? " (counters unreadable)" : "");
		tap(!unreadable, why, "no inode growth");
		tap(!unreadable, why, "no dentry growth");
		return;
	}
	print_counters("after", last);
	say("# %u samples over %u cycles", s->n, done);
	/*
	 * On the debug kernel (mshare_debug_kernel=1 on its command line)
	 * KASAN's quarantine holds freed slab objects back, up to 1/32 of
	 * memory (+18 MB of SUnreclaim over 50 cycles, in steps): the
	 * memory counters are shown there, judged on distribution kernels.
	 */
	if (getenv("mshare_debug_kernel"))
		say("# debug kernel: memory counters are shown, not judged (KASAN quarantine)");
	for (k = 0; k < NR_MEM; k++) {
		char line[MAX_SAMPLES * 12 + 1] = "";
		unsigned int i;

		for (i = 0; i < s->n; i++)
			snprintf(line + strlen(line), sizeof(line) - strlen(line),
				 " %ld", s->c[i].kb[k]);
		say("# %s, kB:%s", mem_name[k], line);
		slope(s, k, &b, &se);
		if (control) {
			/* mshare's slope less the control's, and both errors */
			slope(control, k, &bc, &sec);
			say("# %s: control module %+.2f kB per cycle (standard error %.2f), mshare %+.2f",
			    mem_name[k], bc, sec, b);
			b -= bc;
			se = sqrt(se * se + sec * sec);
		}
		lim = 3 * se > leak_floor_kb[k] ? 3 * se : leak_floor_kb[k];
		blind |= lim >= PAGE_KB;
		if (getenv("mshare_debug_kernel")) {
			say("# %s: %+.2f kB per cycle over the second half, limit %.2f",
			    mem_name[k], b, lim);
			continue;
		}
		tap(b < lim, NULL,
		    "no %s growth over %u cycles (%+.2f kB per cycle over the second half%s, limit %.2f; first to last %+ld kB)",
		    mem_name[k], done, b,
		    control ? " beyond the control module's" : "", lim,
		    last->kb[k] - first->kb[k]);
	}
	if (!getenv("mshare_debug_kernel"))
		tap(!blind, NULL,
		    "the leak check sees one page per cycle (every limit < %d kB)",
		    PAGE_KB);
	d_ino = last->inodes - first->inodes;
	d_den = last->dentries - first->dentries;
	tap(d_ino <= limit, NULL,
	    "no inode growth after %u cycles (inode-nr %+ld, limit %ld)",
	    done, d_ino, limit);
	tap(d_den <= limit, NULL,
	    "no dentry growth after %u cycles (dentry-state %+ld, limit %ld)",
	    done, d_den, limit);
}

/* ------------------------------------------------------ initial state */

struct initial {
	bool loaded, mounted;
};

/* Remove a preloaded mshare so that every cycle starts from scratch. */
static bool take_over(struct initial *init)
{
	unsigned int retries;
	int state, err;

	state = kmod_module_get_initstate(mod);
	init->loaded = state >= 0;
	init->mounted = false;
	if (state == KMOD_MODULE_BUILTIN) {
		say("Bail out! %s is built into the kernel", MODNAME);
		return false;
	}
	if (!init->loaded)
		return true;
	if (!umount_all(0, &init->mounted)) {
		say("Bail out! umount %s: %s", dir, ename(errno));
		return false;
	}
	err = mod_remove_retry(&retries);
	if (err) {
		say("Bail out! cannot remove the preloaded %s: %s (refcnt %d)",
		    MODNAME, ename(err), kmod_module_get_refcnt(mod));
		return false;
	}
	say("# %s was loaded%s; removed it, will restore it at the end",
	    MODNAME, init->mounted ? " and mounted" : "");
	return true;
}

/* Put back what take_over() found; true if that worked. */
static bool restore(const struct initial *init)
{
	int err;

	if (!init->loaded)
		return !mod_loaded();
	if (!mod_loaded()) {
		err = mod_load();
		if (err) {
			say("# restore: load %s: %s", MODNAME, ename(err));
			return false;
		}
	}
	if (init->mounted && !is_mounted(dir)) {
		err = mount_fs();
		if (err) {
			say("# restore: mount %s: %s", dir, ename(err));
			return false;
		}
	}
	return true;
}

static void report_restore(const struct initial *init)
{
	bool ok = restore(init);

	tap(ok, NULL, "initial state restored (%s)",
	    !init->loaded ? "mshare not loaded" :
	    init->mounted ? "mshare loaded, msharefs mounted on DIR" :
	    "mshare loaded, not mounted");
}

/* ----------------------------------------------------------------- main */

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-n CYCLES] [-r REGIONS] [-d DIR] [-c CONTROL.ko]\n"
		"  -n CYCLES   load/unload cycles (default %d)\n"
		"  -r REGIONS  regions created per cycle (default %d, max %d)\n"
		"  -d DIR      msharefs mount point that the module creates "
		"(default %s)\n"
		"  -c CONTROL  a module loaded and unloaded as many times first:\n"
		"              its memory growth is the kernel's, not mshare's\n",
		prog, DEFAULT_CYCLES, DEFAULT_REGIONS, MAX_REGIONS,
		DEFAULT_DIR);
	exit(2);
}

static unsigned int parse_uint(const char *s, unsigned int max,
			       const char *prog)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > max)
		usage(prog);
	return v;
}

/* Strip trailing slashes so that DIR matches /proc/self/mounts. */
static const char *parse_dir(char *s, const char *prog)
{
	size_t len = strlen(s);

	while (len > 1 && s[len - 1] == '/')
		s[--len] = '\0';
	if (s[0] != '/' || len > PATH_MAX - 64)
		usage(prog);
	return s;
}

static bool setup_kmod(void)
{
	int err;

	ctx = kmod_new(NULL, NULL);
	if (!ctx) {
		say("Bail out! kmod_new failed");
		return false;
	}
	kmod_set_log_fn(ctx, kmod_log, NULL);
	err = kmod_module_new_from_name(ctx, MODNAME, &mod);
	if (err) {
		say("Bail out! kmod_module_new_from_name: %s", ename(err));
		return false;
	}
	return true;
}

/*
 * Load and unload the control module (a path) cycles times, sampled as
 * mshare's cycles are; false if it could not be.
 */
static bool run_control(const char *path, unsigned int cycles,
			unsigned int every, struct samples *cs)
{
	struct kmod_module *cm;
	unsigned int nr;
	int err;

	err = kmod_module_new_from_path(ctx, path, &cm);
	if (err) {
		say("# control module %s: %s", path, ename(err));
		return false;
	}
	if (!sample(cs, 0))
		goto fail;
	for (nr = 1; nr <= cycles; nr++) {
		err = kmod_module_insert_module(cm, 0, NULL);
		if (!err)
			err = kmod_module_remove_module(cm, 0);
		if (err) {
			say("# control module %s, cycle %u: %s", path, nr,
			    ename(err));
			goto fail;
		}
		if ((nr % every == 0 || nr == cycles) && !sample(cs, nr))
			goto fail;
	}
	kmod_module_unref(cm);
	say("# control module %s: %u load/unload cycles", path, cycles);
	return true;
fail:
	kmod_module_unref(cm);
	return false;
}

int main(int argc, char **argv)
{
	static struct samples control_samples;
	const char *control_path = NULL;
	unsigned int cycles = DEFAULT_CYCLES, regions = DEFAULT_REGIONS;
	unsigned int done = 0, nr, every;
	static struct samples samples;
	bool stopped = false, unreadable = false;
	struct initial init;
	int opt;

	while ((opt = getopt(argc, argv, "n:r:d:c:h")) != -1) {
		switch (opt) {
		case 'c':
			control_path = optarg;
			break;
		case 'n':
			cycles = parse_uint(optarg, MAX_CYCLES, argv[0]);
			break;
		case 'r':
			regions = parse_uint(optarg, MAX_REGIONS, argv[0]);
			break;
		case 'd':
			dir = parse_dir(optarg, argv[0]);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);

	say("# kmod_cycle: %u cycles, %u regions per cycle, DIR %s",
	    cycles, regions, dir);
	if (geteuid()) {
		say("Bail out! must run as root");
		return 1;
	}
	if (!setup_kmod())
		return 1;
	if (!take_over(&init)) {
		restore(&init);
		return 1;
	}

	every = cycles / 20 ? cycles / 20 : 1;	/* at most 22 samples */
	if (control_path) {
		if (run_control(control_path, cycles, every, &control_samples))
			control = &control_samples;
		else
			tap(false, NULL, "control module %s loads and unloads %u times",
			    control_path, cycles);
	}
	unreadable = !sample(&samples, 0);
	print_counters("baseline", &samples.c[0]);

	for (nr = 1; nr <= cycles; nr++) {
		if (!run_cycle(nr, regions)) {
			say("# stopping at cycle %u: continuing is pointless",
			    nr);
			stopped = true;
			break;
		}
		done++;
		if (nr % every == 0 || nr == cycles)
			unreadable |= !sample(&samples, nr);
	}
	say("# %u of %u cycles completed", done, cycles);
	report_retries();

	report_checks();
	report_leaks(&samples, done, stopped, unreadable);
	report_restore(&init);
	say("1..%u", tap_nr);

	kmod_module_unref(mod);
	kmod_unref(ctx);
	return all_ok ? 0 : 1;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * libmshare-preload: an LD_PRELOAD shim that backs a program's large shared
 * anonymous mappings with mshare regions, so that the processes of a
 * forking server (PostgreSQL's shared memory) share one set of page tables
 * without a change to the program.
 *
 * A call mmap(addr, len, PROT_READ | PROT_WRITE [| PROT_EXEC],
 * MAP_SHARED | MAP_ANONYMOUS [| MAP_HUGETLB | MAP_HUGE_* | MAP_POPULATE |
 * MAP_NORESERVE | MAP_LOCKED], -1, 0) with len >= MSHARE_PRELOAD_MIN
 * (bytes, K, M or G; default 64M) and without MAP_FIXED becomes a region
 * in MSHARE_PRELOAD_DIR (default /sys/fs/mshare), unlinked at once, that
 * holds an anonymous object of len bytes (hugetlb with MAP_HUGETLB, len
 * rounded up to the huge page) at offset 0; the region is attached and
 * the program gets the attach base, which is the object's address.  Every
 * other call goes to the C library unchanged.  Forked children inherit the
 * attachment.  The region dies with its last attachment.
 *
 * munmap() of a range that covers whole objects detaches their regions; a
 * munmap() that cuts into one goes to the kernel, which refuses it
 * (EINVAL): the mapping stays whole, the program gets the error and one
 * line on stderr says why.  mprotect(), madvise() and mremap() go to the
 * kernel; when it refuses them on a shim range, one line says so, once per
 * call name.  Without msharefs at the directory, with a malformed
 * MSHARE_PRELOAD_MIN, or when a region cannot be made, one line says so
 * and the program gets a plain mapping.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mshare.h"

#define NRANGES		64		/* shim mappings alive at once */
#define DEFAULT_MIN	(64ULL << 20)
#define HUGE_2M		(2ULL << 20)	/* the module's only huge page size */

/* The mmap flags a shared anonymous mapping may have to be shared here */
#define SHARE_FLAGS	(MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | \
			 MAP_HUGE_MASK << MAP_HUGE_SHIFT | MAP_POPULATE | \
			 MAP_NORESERVE | MAP_LOCKED)
#define PLACE_FLAGS	(MAP_POPULATE | MAP_NORESERVE | MAP_LOCKED)

/* What say_once() has said: each kind of trouble once per process tree */
enum {
	SAID_MIN	= 1 << 0,
	SAID_MOUNT	= 1 << 1,
	SAID_FAIL	= 1 << 2,
	SAID_FULL	= 1 << 3,
	SAID_MUNMAP	= 1 << 4,
	SAID_MPROTECT	= 1 << 5,
	SAID_MADVISE	= 1 << 6,
	SAID_MREMAP	= 1 << 7,
};

/* A shim mapping: the program sees [base, base + len) of the attachment */
struct range {
	uintptr_t base;		/* attach base = object address; 0: free */
	uint64_t len;		/* the object's size */
	uint64_t size;		/* the region's (the attachment's) size */
};

static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_munmap)(void *, size_t);
static int (*real_mprotect)(void *, size_t, int);
static int (*real_madvise)(void *, size_t, int);
static void *(*real_mremap)(void *, size_t, size_t, int, ...);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct range ranges[NRANGES];	/* under lock */
static char dir[256];
static uint64_t min_len = DEFAULT_MIN;
static char bad_min[64];		/* a malformed MSHARE_PRELOAD_MIN */
static unsigned int said;
static unsigned int seq;		/* region names */
static uint64_t page_size;

static void say_once(unsigned int what, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	ssize_t n;

	if (__atomic_fetch_or(&said, what, __ATOMIC_RELAXED) & what)
		return;
	strcpy(buf, "libmshare-preload: ");
	va_start(ap, fmt);
	vsnprintf(buf + strlen(buf), sizeof(buf) - strlen(buf) - 1, fmt, ap);
	va_end(ap);
	strcat(buf, "\n");
	n = write(STDERR_FILENO, buf, strlen(buf));
	(void)n;
}

/* Digits with an optional K, M or G (powers of 1024); -1 if malformed */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift)
		end++;
	if (*end || v > UINT64_MAX >> shift)
		return -1;
	*out = v << shift;
	return 0;
}

static void lock_ranges(void)
{
	pthread_mutex_lock(&lock);
}

static void unlock_ranges(void)
{
	pthread_mutex_unlock(&lock);
}

static void init(void)
{
	const char *s;

	real_mmap = dlsym(RTLD_NEXT, "mmap");
	real_munmap = dlsym(RTLD_NEXT, "munmap");
	real_mprotect = dlsym(RTLD_NEXT, "mprotect");
	real_madvise = dlsym(RTLD_NEXT, "madvise");
	real_mremap = dlsym(RTLD_NEXT, "mremap");
	page_size = (uint64_t)sysconf(_SC_PAGESIZE);

	s = getenv("MSHARE_PRELOAD_DIR");
	snprintf(dir, sizeof(dir), "%s", s && *s ? s : MSHARE_MOUNT);
	s = getenv("MSHARE_PRELOAD_MIN");
	if (s && parse_size(s, &min_len))
		snprintf(bad_min, sizeof(bad_min), "%s", s);
	/* A child forked while another thread holds the table gets it free. */
	pthread_atfork(lock_ranges, unlock_ranges, unlock_ranges);
}

static bool shareable(size_t len, int prot, int flags, int fd, off_t off)
{
	if ((flags & MAP_TYPE) != MAP_SHARED || !(flags & MAP_ANONYMOUS) ||
	    (flags & ~SHARE_FLAGS) || fd != -1 || off ||
	    (prot & ~PROT_EXEC) != (PROT_READ | PROT_WRITE))
		return false;
	if (bad_min[0]) {
		say_once(SAID_MIN, "MSHARE_PRELOAD_MIN=%s is not a size (bytes, or a number with K, M or G): plain mappings",
			 bad_min);
		return false;
	}
	return len && len >= min_len && len <= INT64_MAX / 2;
}

static void *failed(int err, size_t len)
{
	if (err == -ENODEV)
		say_once(SAID_MOUNT, "no msharefs at %s (is the mshare module loaded?): plain mappings",
			 dir);
	else
		say_once(SAID_FAIL, "cannot back a %zu-byte mapping with mshare: %s; a plain mapping (further failures are not reported)",
			 len, mshare_strerror(err));
	return NULL;
}

/* Record a new shim mapping; false if the table is full */
static bool add_range(void *base, uint64_t len, uint64_t size)
{
	int i;

	lock_ranges();
	for (i = 0; i < NRANGES; i++) {
		if (!ranges[i].base) {
			ranges[i].base = (uintptr_t)base;
			ranges[i].len = len;
			ranges[i].size = size;
			break;
		}
	}
	unlock_ranges();
	return i < NRANGES;
}

/* The shim mapping for mmap(len, prot, flags), or NULL for a plain one */
static void *share(size_t len, int prot, int flags)
{
	int huge = (flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
	uint64_t unit = flags & MAP_HUGETLB ?
			(huge ? 1ULL << huge : HUGE_2M) : page_size;
	uint64_t olen = (len + unit - 1) / unit * unit;
	int extra = flags & PLACE_FLAGS;
	char name[64];
	int64_t size;
	void *base;
	int fd, err, tries;

	for (tries = 0; tries < 8; tries++) {
		snprintf(name, sizeof(name), "preload-%d-%u", (int)getpid(),
			 __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
		fd = mshare_create(dir, name, olen, 0600);
		if (fd != -EEXIST)
			break;
	}
	if (fd < 0)
		return failed(fd, len);
	/* Nameless, the region lives exactly as long as its attachments. */
	mshare_unlink(dir, name);
	size = mshare_size(fd);
	if (flags & MAP_HUGETLB)
		err = mshare_place_hugetlb(fd, 0, olen, prot, extra,
					   huge ? unit : 0);
	else
		err = mshare_place_anon(fd, 0, olen, prot, extra);
	if (!err)
		err = mshare_attach(fd, NULL, prot, 0, &base);
	close(fd);
	if (err)
		return failed(err, len);
	if (!add_range(base, olen, (uint64_t)size)) {
		real_munmap(base, (size_t)size);
		say_once(SAID_FULL, "more than %d mshare mappings: plain mappings for the others",
			 NRANGES);
		return NULL;
	}
	return base;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p;

	pthread_once(&once, init);
	if (shareable(len, prot, flags, fd, off)) {
		p = share(len, prot, flags);
		if (p)
			return p;
	}
	return real_mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

/* Whether [addr, addr + len) touches an attachment of the shim */
static bool overlaps(void *addr, size_t len)
{
	uintptr_t start = (uintptr_t)addr;
	bool hit = false;
	int i;

	lock_ranges();
	for (i = 0; i < NRANGES; i++)
		if (ranges[i].base && start < ranges[i].base + ranges[i].size &&
		    ranges[i].base < start + len)
			hit = true;
	unlock_ranges();
	return hit;
}

/*
 * ret (and errno) of a call on [addr, addr + len): if it failed on a shim
 * mapping, one line says so (the first time only) and why
 */
static int refusal(int ret, unsigned int what, const char *call, void *addr,
		   size_t len, const char *why)
{
	int err = errno;

	if (ret && overlaps(addr, len))
		say_once(what, "%s(%p, %zu) of an mshare mapping failed: %s (%s)",
			 call, addr, len, strerror(err), why);
	errno = err;
	return ret;
}

/*
 * Regions whose objects [addr, addr + len) covers are detached whole, in
 * the same call that unmaps the rest of the range (the range grows to the
 * end of their attachments, which hold nothing of the program's).
 */
int munmap(void *addr, size_t len)
{
	uintptr_t start = (uintptr_t)addr, end, hi;
	uint64_t covered = 0;
	int i, ret, err;

	pthread_once(&once, init);
	end = start + (len + page_size - 1) / page_size * page_size;
	hi = end;
	lock_ranges();
	for (i = 0; i < NRANGES; i++) {
		struct range *r = &ranges[i];

		if (r->base && r->base >= start && r->base + r->len <= end) {
			covered |= 1ULL << i;
			if (r->base + r->size > hi)
				hi = r->base + r->size;
		}
	}
	ret = real_munmap(addr, covered ? hi - start : len);
	err = errno;
	for (i = 0; i < NRANGES && !ret; i++)
		if (covered & 1ULL << i)
			ranges[i].base = 0;
	unlock_ranges();
	errno = err;
	return refusal(ret, SAID_MUNMAP, "munmap", addr, len,
		       "the module unmaps an attachment only whole");
}

int mprotect(void *addr, size_t len, int prot)
{
	pthread_once(&once, init);
	return refusal(real_mprotect(addr, len, prot), SAID_MPROTECT,
		       "mprotect", addr, len,
		       "the protection of an attachment cannot change");
}

int madvise(void *addr, size_t len, int advice)
{
	pthread_once(&once, init);
	return refusal(real_madvise(addr, len, advice), SAID_MADVISE,
		       "madvise", addr, len,
		       "the module refuses this advice on an attachment");
}

void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	va_list ap;
	void *p;

	pthread_once(&once, init);
	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	p = real_mremap(old, old_len, new_len, flags, new_addr);
	refusal(p == MAP_FAILED, SAID_MREMAP, "mremap", old, old_len,
		"an attachment cannot move, grow or shrink");
	return p;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Unload is refused while a region is still mapped, even with its name
 * unlinked, its fd closed and msharefs lazily unmounted; the mapping keeps
 * working; after munmap the module unloads and loads again.  Also: growing
 * the mapping with mremap fails (the kernel's VM_DONTEXPAND rule, EFAULT).
 * Lifetime: a region outlives its creator (POSIX shm semantics).
 * Leaves mshare loaded and mounted, as it found it.  TAP; root; guest only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/msharefs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

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
	return tap_done();
}

// SPDX-License-Identifier: GPL-2.0
/*
 * region: helpers shared by the topic test programs; see region.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/msharefs.h>

#include "region.h"
#include "tap.h"

int region_make(const char *dir, const char *name, mode_t mode,
		uint64_t size, char *path)
{
	int fd;

	snprintf(path, PATH_MAX, "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, mode);
	if (fd < 0) {
		diag("setup: creating %s failed: %s", path, errname(errno));
		return -1;
	}
	/* The umask must not decide the mode a check relies on. */
	if (fchmod(fd, mode)) {
		diag("setup: fchmod(%s) failed: %s", path, errname(errno));
		goto fail;
	}
	if (size && ftruncate(fd, (off_t)size)) {
		diag("setup: ftruncate(%s) failed: %s", path, errname(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	unlink(path);
	return -1;
}

int region_dir(const char *mnt, const char *prefix, char *dir)
{
	snprintf(dir, PATH_MAX, "%s/%s_%d", mnt, prefix, (int)getpid());
	if (mkdir(dir, 01777) || chmod(dir, 01777)) {
		check(0, "set-up: mkdir %s: %s", dir, errname(errno));
		return -1;
	}
	return 0;
}

int region_place(int fd, uint64_t roff, uint64_t size, uint64_t off,
		 unsigned int prot, unsigned int flags, int objfd)
{
	struct mshare_create mc;

	memset(&mc, 0, sizeof(mc));
	mc.region_offset = roff;
	mc.size = size;
	mc.offset = off;
	mc.prot = prot;
	mc.flags = flags;
	mc.fd = (__u32)objfd;
	return ioctl(fd, MSHAREFS_CREATE_MAPPING, &mc);
}

int region_place_anon(int fd, uint64_t roff, uint64_t size)
{
	return region_place(fd, roff, size, 0, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS |
			    MAP_POPULATE, -1);
}

int region_unmap(int fd, uint64_t roff, uint64_t size)
{
	struct mshare_unmap mu;

	memset(&mu, 0, sizeof(mu));
	mu.region_offset = roff;
	mu.size = size;
	return ioctl(fd, MSHAREFS_UNMAP, &mu);
}

char *region_attach(int fd, uint64_t size, int prot)
{
	void *p = mmap(NULL, size, prot, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

int run_as(uid_t uid, int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		diag("fork failed: %s", errname(errno));
		return -1;
	}
	if (pid == 0) {
		alarm(60);	/* a hung child must not hang the run */
		if (setgroups(0, NULL) || setgid(uid) || setuid(uid)) {
			diag("child: cannot become uid %d: %s", (int)uid,
			     errname(errno));
			_exit(99);
		}
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

const char *wait_str(int status)
{
	static char buf[64];

	if (WIFEXITED(status))
		snprintf(buf, sizeof(buf), "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, sizeof(buf), "signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, sizeof(buf), "status %#x", status);
	return buf;
}

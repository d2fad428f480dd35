// SPDX-License-Identifier: GPL-2.0
/*
 * Unload is refused while a region is still mapped, even with its name
 * unlinked, its fd closed and msharefs lazily unmounted; the mapping keeps
 * working; after munmap the module unloads and loads again.  Also: growing
 * the mapping with mremap fails (the kernel's VM_DONTEXPAND rule, EFAULT).
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
#include <unistd.h>

#define ALIGN_A	549755813888UL

static int test_num, failed;

static void check(int pass, const char *what, int err)
{
	printf("%sok %d - %s", pass ? "" : "not ", ++test_num, what);
	if (!pass && err)
		printf(" (%s)", strerror(err));
	printf("\n");
	fflush(stdout);
	failed += !pass;
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
	snprintf(path, sizeof(path), "%s/unload_%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, ALIGN_A) ||
	    ioctl(fd, MSHAREFS_CREATE_MAPPING, &mc)) {
		check(0, "setup", errno);
		return 1;
	}
	p = mmap(NULL, ALIGN_A, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		check(0, "attach", errno);
		return 1;
	}
	p[0] = 42;

	q = mremap(p, ALIGN_A, 2 * ALIGN_A, MREMAP_MAYMOVE);
	e = errno;
	check(q == MAP_FAILED && e == EFAULT && p[0] == 42,
	      "mremap growing the mapping fails EFAULT and the data stays", e);

	close(fd);
	unlink(path);
	r = umount2(dir, MNT_DETACH);
	check(r == 0, "lazy umount of msharefs while a region is mapped", errno);
	r = remove_module();
	e = errno;
	check(r < 0 && (e == EAGAIN || e == EBUSY),
	      "unload refused while the unlinked, closed region is mapped", e);
	p[1] = 43;
	check(p[0] == 42 && p[1] == 43,
	      "the mapping still works after the refused unload", 0);

	munmap(p, ALIGN_A);
	for (i = 0, r = -1; i < 100 && r < 0; i++) {
		r = remove_module();
		if (r < 0)
			usleep(10000);
	}
	check(r == 0, "after munmap the module unloads", errno);
	check(access(dir, F_OK) != 0, "and /sys/fs/mshare is gone", 0);
	r = system("/sbin/modprobe mshare");
	check(r == 0, "modprobe loads it again (and remounts)", 0);
	printf("1..%d\n", test_num);
	return failed ? 1 : 0;
}

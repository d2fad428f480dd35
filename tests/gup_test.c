// SPDX-License-Identifier: GPL-2.0
/*
 * get_user_pages on attached regions: O_DIRECT reads from a block device
 * (a brd RAM disk) land in a writable attachment and are refused for a
 * read-only one (GUP-fast ignores the read-only top-level entry, so mshare
 * must refuse it itself); a process-shared mutex (futexes) works across
 * processes; a file on a disk filesystem (ext2 through the ext4 driver, on
 * the second RAM disk) placed in a region is written through by attachers
 * and the data reaches the disk.  TAP output; run as root in the test guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/msharefs.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

#define ALIGN_A		549755813888UL
#define OBJ_SIZE	(4UL << 20)
#define DEV		"/dev/ram0"

static char region_path[256];

/* A region with one anonymous object of OBJ_SIZE at offset 0. */
static int make_region(const char *dir)
{
	struct mshare_create mc = {
		.region_offset = 0, .size = OBJ_SIZE,
		.prot = PROT_READ | PROT_WRITE,
		.flags = MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS,
		.fd = (__u32)-1,
	};
	int fd;

	snprintf(region_path, sizeof(region_path), "%s/gup_%d", dir,
		 (int)getpid());
	fd = open(region_path, O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || ftruncate(fd, ALIGN_A) ||
	    ioctl(fd, MSHAREFS_CREATE_MAPPING, &mc)) {
		diag("setup failed: %s", strerror(errno));
		return -1;
	}
	return fd;
}

/* Fill the RAM disk's first MiB with 0xa5 (O_DIRECT wants aligned I/O). */
static int prepare_disk(void)
{
	char *buf;
	int fd, ok;

	if (system("/sbin/modprobe brd rd_nr=2 rd_size=8192") != 0)
		return -1;
	fd = open(DEV, O_RDWR | O_DIRECT);
	if (fd < 0)
		return -1;
	if (posix_memalign((void **)&buf, 4096, 1 << 20))
		return -1;
	memset(buf, 0xa5, 1 << 20);
	ok = pwrite(fd, buf, 1 << 20, 0) == 1 << 20;
	free(buf);
	close(fd);
	return ok ? 0 : -1;
}

static void test_odirect(int rfd)
{
	char *rw, *ro;
	ssize_t n;
	int dfd, rofd, i, intact = 1;

	rw = mmap(NULL, ALIGN_A, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	rofd = open(region_path, O_RDONLY);
	ro = mmap(NULL, ALIGN_A, PROT_READ, MAP_SHARED, rofd, 0);
	if (rw == MAP_FAILED || ro == MAP_FAILED || prepare_disk()) {
		check(0, "O_DIRECT setup (attach, brd RAM disk)");
		return;
	}
	memset(rw, 0x11, 1 << 20);	/* populate: shared leaf PTEs are RW */

	dfd = open(DEV, O_RDONLY | O_DIRECT);
	n = pread(dfd, rw, 1 << 20, 0);
	check(n == 1 << 20 && (unsigned char)rw[0] == 0xa5 &&
	      (unsigned char)rw[(1 << 20) - 1] == 0xa5,
	      "O_DIRECT read from a block device lands in a writable attachment (%zd)",
	      n);
	check((unsigned char)ro[12345] == 0xa5,
	      "a read-only attacher sees the O_DIRECT data");

	memset(rw, 0x22, 1 << 20);
	errno = 0;
	n = pread(dfd, ro, 1 << 20, 0);
	check(n < 0 && errno == EFAULT,
	      "O_DIRECT read into a read-only attachment fails EFAULT (%zd, %s)",
	      n, strerror(errno));
	for (i = 0; i < 1 << 20; i++)
		if (rw[i] != 0x22)
			intact = 0;
	check(intact, "the read-only attachment's data is unchanged");

	n = read(dfd, ro + 4096, 4096);		/* offset 0 again? no: 1 MiB */
	check(n < 0 && errno == EFAULT && rw[4096] == 0x22,
	      "a second O_DIRECT read into it fails EFAULT too");
	close(dfd);
	munmap(ro, ALIGN_A);
	munmap(rw, ALIGN_A);
	close(rofd);
}

/* A step of a longer check: say which one failed. */
static int step(int ok, const char *what)
{
	if (!ok)
		diag("step failed: %s (%s)", what, strerror(errno));
	return ok;
}

/*
 * A file object on a disk filesystem: attachers see the file's data, their
 * stores reach the file, and after fsync the disk itself (O_DIRECT).
 */
static void test_diskfile(int rfd)
{
	struct mshare_create mc = {
		.region_offset = 8UL << 20, .size = 1 << 20,
		.prot = PROT_READ | PROT_WRITE,
		.flags = MAP_SHARED | MAP_FIXED,
	};
	struct mshare_unmap mu = { .region_offset = 8UL << 20, .size = 1 << 20 };
	char *base, *buf;
	int ffd, ok = 1, i;

	if (system("mke2fs -q /dev/ram1 >/dev/null 2>&1 && mkdir -p /mnt/disk && "
		   "mount -t ext4 /dev/ram1 /mnt/disk") != 0) {
		check(0, "disk filesystem setup (mke2fs, mount ext4 on /dev/ram1)");
		return;
	}
	ffd = open("/mnt/disk/object", O_RDWR | O_CREAT, 0600);
	if (posix_memalign((void **)&buf, 4096, 1 << 20)) {	/* O_DIRECT */
		check(0, "disk file setup");
		close(ffd);
		return;
	}
	memset(buf, 0x5a, 1 << 20);
	if (ffd < 0 || pwrite(ffd, buf, 1 << 20, 0) != 1 << 20 || fsync(ffd)) {
		check(0, "disk file setup");
		goto out;
	}
	mc.fd = ffd;
	check(ioctl(rfd, MSHAREFS_CREATE_MAPPING, &mc) == 0,
	      "CREATE_MAPPING of a file on an ext4-driven disk filesystem");
	base = mmap(NULL, ALIGN_A, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	if (base == MAP_FAILED) {
		check(0, "attach");
		goto out;
	}
	for (i = 0; i < 1 << 20; i += 4096)
		ok &= base[(8 << 20) + i] == 0x5a;
	check(ok, "an attacher reads the file's data");
	memset(base + (8 << 20), 0x3c, 1 << 20);
	ok = step(fsync(ffd) == 0, "fsync");
	munmap(base, ALIGN_A);
	close(ffd);
	/* The region's host holds the file until the object is removed. */
	ok = ok && step(ioctl(rfd, MSHAREFS_UNMAP, &mu) == 0, "UNMAP");
	/* umount drops the page cache: the data must come from the disk. */
	ok = ok && step(system("umount /mnt/disk") == 0, "umount");
	ok = ok && step(system("mount -t ext4 /dev/ram1 /mnt/disk") == 0,
			"remount");
	if (ok) {
		ffd = open("/mnt/disk/object", O_RDONLY | O_DIRECT);
		ok = step(ffd >= 0 && pread(ffd, buf, 1 << 20, 0) == 1 << 20,
			  "O_DIRECT read");
		for (i = 0; ok && i < 1 << 20; i++)
			ok = step((unsigned char)buf[i] == 0x3c, "contents");
		close(ffd);
		system("umount /mnt/disk");
	}
	check(ok, "stores through the region reached the disk (fsync, remount, O_DIRECT read)");
	ffd = -1;
out:
	if (ffd >= 0)
		close(ffd);
	free(buf);
	system("umount /mnt/disk 2>/dev/null");
}

struct shared {
	pthread_mutex_t lock;
	long counter;
};

static void test_futex(int rfd)
{
	struct shared *sh;
	pthread_mutexattr_t attr;
	int i, st, ok = 1;
	pid_t pid[2];

	sh = mmap(NULL, ALIGN_A, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	if (sh == MAP_FAILED) {
		check(0, "futex setup");
		return;
	}
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&sh->lock, &attr);
	sh->counter = 0;
	fflush(stdout);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			/* Attach anew: a different address, the same memory. */
			struct shared *mine = mmap(NULL, ALIGN_A,
						   PROT_READ | PROT_WRITE,
						   MAP_SHARED, rfd, 0);
			long k;

			alarm(60);
			if (mine == MAP_FAILED)
				_exit(2);
			for (k = 0; k < 20000; k++) {
				pthread_mutex_lock(&mine->lock);
				mine->counter++;
				pthread_mutex_unlock(&mine->lock);
			}
			_exit(0);
		}
	}
	for (i = 0; i < 20000; i++) {
		pthread_mutex_lock(&sh->lock);
		sh->counter++;
		pthread_mutex_unlock(&sh->lock);
	}
	for (i = 0; i < 2; i++)
		if (waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			ok = 0;
	check(ok && sh->counter == 60000,
	      "a PTHREAD_PROCESS_SHARED mutex in the region works across 3 processes (%ld of 60000)",
	      sh->counter);
	munmap(sh, ALIGN_A);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/sys/fs/mshare";
	int rfd;

	alarm(120);
	rfd = make_region(dir);
	if (rfd >= 0) {
		test_odirect(rfd);
		test_futex(rfd);
		test_diskfile(rfd);
		close(rfd);
	} else {
		check(0, "region setup");
	}
	unlink(region_path);
	system("/sbin/modprobe -r brd 2>/dev/null");
	return tap_done();
}

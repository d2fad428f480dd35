// SPDX-License-Identifier: GPL-2.0
/*
 * sync_test: msync(MS_SYNC) over an attachment and fsync of a region fd
 * write back the file objects placed in the region, as they would for a
 * plain shared mapping of those files; anonymous objects sync as a no-op.
 *
 * Usage: sync_test [DIR]		DIR defaults to /sys/fs/mshare
 *
 * Runs as root in the test guest: it makes an ext2 filesystem (ext4
 * driver) on a brd RAM disk and watches "Dirty:" in /proc/meminfo.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "region.h"
#include "tap.h"
#include "util.h"

#define A	REGION_ALIGN
#define OBJ	(8UL << 20)
#define RW	(PROT_READ | PROT_WRITE)
#define DISK	"/mnt/sync_disk"

static const char *mnt = "/sys/fs/mshare";

/* "Dirty:" of /proc/meminfo in kB, or -1 */
static long dirty_kb(void)
{
	char buf[8192], *p;

	if (read_file("/proc/meminfo", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "\nDirty:");
	return p ? strtol(p + 7, NULL, 10) : -1;
}

static void test_anon(void)
{
	char path[PATH_MAX];
	char *p;
	int fd;

	diag("---- anonymous object");
	fd = region_make(mnt, "sync_anon", 0600, A, path);
	if (!check(fd >= 0 && !region_place_anon(fd, 0, OBJ),
		   "anon: set-up"))
		goto out;
	p = region_attach(fd, A, RW);
	if (!check(p != NULL, "anon: attach"))
		goto out;
	memset(p, 1, OBJ);
	check_ok(msync(p, OBJ, MS_SYNC), errno,
		 "anon: msync(MS_SYNC) over an anonymous object succeeds");
	check_ok(msync(p, A, MS_SYNC), errno,
		 "anon: msync(MS_SYNC) over the whole attachment succeeds");
	check_ok(fsync(fd), errno, "anon: fsync of the region fd succeeds");
	munmap(p, A);
out:
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
}

static void test_file(void)
{
	char path[PATH_MAX];
	long before, written, after;
	int fd = -1, ffd;
	char *p, c = 0;

	diag("---- a file on a disk filesystem");
	if (!check(!system("/sbin/modprobe brd rd_nr=1 rd_size=65536 && "
			   "mke2fs -q /dev/ram0 >/dev/null 2>&1 && "
			   "mkdir -p " DISK " && mount -t ext4 /dev/ram0 " DISK),
		   "file: set-up of ext2 (ext4 driver) on a RAM disk"))
		return;
	ffd = open(DISK "/data", O_RDWR | O_CREAT, 0600);
	if (!check(ffd >= 0 && !ftruncate(ffd, OBJ) && !fsync(ffd),
		   "file: a %lu MiB file", OBJ >> 20))
		goto umount;
	fd = region_make(mnt, "sync_file", 0600, A, path);
	if (!check(fd >= 0 && !region_place(fd, 0, OBJ, 0, RW,
					    MAP_SHARED | MAP_FIXED, ffd),
		   "file: placed in a region"))
		goto out;
	p = region_attach(fd, A, RW);
	if (!check(p != NULL, "file: attach"))
		goto out;

	before = dirty_kb();
	memset(p, 'd', OBJ);
	written = dirty_kb();
	diag("Dirty: %ld kB before, %ld kB after writing %lu kB", before,
	     written, OBJ >> 10);
	check_ok(msync(p, OBJ, MS_SYNC), errno,
		 "file: msync(MS_SYNC) over the object succeeds");
	after = dirty_kb();
	diag("Dirty: %ld kB after msync", after);
	check(written - before >= (long)(OBJ >> 10) / 2 &&
	      after <= before + (long)(OBJ >> 10) / 8,
	      "file: msync wrote the object back (Dirty rose by the write and fell back)");

	memset(p, 'e', OBJ);
	written = dirty_kb();
	check_ok(fsync(fd), errno, "file: fsync of the region fd succeeds");
	after = dirty_kb();
	diag("Dirty: %ld kB after the second write, %ld kB after fsync",
	     written, after);
	check(after <= before + (long)(OBJ >> 10) / 8,
	      "file: fsync of the region fd wrote the object back");
	check_ok(fdatasync(fd), errno, "file: fdatasync of the region fd succeeds");
	check(pread(ffd, &c, 1, OBJ - 1) == 1 && c == 'e',
	      "file: the file reads what the attachment wrote");
	munmap(p, A);
out:
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	if (ffd >= 0)
		close(ffd);
umount:
	if (system("umount " DISK " && /sbin/modprobe -r brd"))
		diag("cleanup: umount or brd removal failed");
}

int main(int argc, char **argv)
{
	if (argc > 1)
		mnt = argv[1];
	setvbuf(stdout, NULL, _IONBF, 0);
	test_anon();
	test_file();
	return tap_done();
}

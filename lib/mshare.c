// SPDX-License-Identifier: GPL-2.0
/*
 * libmshare: the calls of <mshare.h> over the msharefs ABI of
 * <linux/msharefs.h>.  Errors are returned as -errno, never kept.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/msharefs.h>

#include "mshare.h"

/* Extra mmap flags a placement may carry */
#define PLACE_FLAGS	(MAP_POPULATE | MAP_NORESERVE | MAP_LOCKED)

/*
 * 0 if mnt is a directory of an msharefs mount.  A missing directory is
 * the usual sign of a module that is not loaded: -ENODEV like any other
 * directory without msharefs, so that callers see one reason.
 */
static int check_mount(const char *mnt)
{
	struct statfs st;

	if (statfs(mnt, &st))
		return errno == ENOENT || errno == ENOTDIR ? -ENODEV : -errno;
	return st.f_type == MSHAREFS_MAGIC ? 0 : -ENODEV;
}

/* <mnt>/<name> into path (PATH_MAX bytes), if mnt is in an msharefs mount */
static int region_path(const char *mnt, const char *name, char *path)
{
	int err;

	if (!mnt)
		mnt = MSHARE_MOUNT;
	if (!name || !*name)
		return -EINVAL;
	err = check_mount(mnt);
	if (err)
		return err;
	if (snprintf(path, PATH_MAX, "%s/%s", mnt, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * mshare_info is in the root of the mount only: look for it in dir, then
 * in its parents, as long as they are msharefs.
 */
int64_t mshare_align(const char *mnt)
{
	char dir[PATH_MAX], path[PATH_MAX + sizeof(MSHAREFS_INFO_NAME)];
	char buf[32];
	unsigned long long align;
	ssize_t n;
	int fd, err;

	snprintf(dir, sizeof(dir), "%s", mnt ? mnt : MSHARE_MOUNT);
	for (;;) {
		err = check_mount(dir);
		if (err)
			return err;
		snprintf(path, sizeof(path), "%s/%s", dir, MSHAREFS_INFO_NAME);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			break;
		if (strlen(dir) + 3 >= sizeof(dir))
			return -ENAMETOOLONG;
		strcat(dir, "/..");
	}
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	align = strtoull(buf, NULL, 10);
	if (!align || align > INT64_MAX)
		return -EIO;
	return (int64_t)align;
}

int mshare_create(const char *mnt, const char *name, uint64_t size,
		  mode_t mode)
{
	char path[PATH_MAX];
	int64_t align;
	int fd, err;

	align = mshare_align(mnt);
	if (align < 0)
		return (int)align;
	if (!size)
		return -EINVAL;
	if (size > INT64_MAX - (uint64_t)align)
		return -EFBIG;
	size = (size + align - 1) / align * align;
	err = region_path(mnt, name, path);
	if (err)
		return err;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size)) {
		err = -errno;
		unlink(path);
		close(fd);
		return err;
	}
	return fd;
}

/* 0 if fd is a file of an msharefs mount, -ENOTTY if not, or -errno */
static int check_region(int fd)
{
	struct statfs st;

	if (fstatfs(fd, &st))
		return -errno;
	return st.f_type == MSHAREFS_MAGIC ? 0 : -ENOTTY;
}

int mshare_open(const char *mnt, const char *name, int flags)
{
	char path[PATH_MAX];
	int fd, err;

	if (flags != O_RDONLY && flags != O_RDWR)
		return -EINVAL;
	err = region_path(mnt, name, path);
	if (err)
		return err;
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = check_region(fd);	/* a name with ".." may lead elsewhere */
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int mshare_unlink(const char *mnt, const char *name)
{
	char path[PATH_MAX];
	int err;

	err = region_path(mnt, name, path);
	if (err)
		return err;
	return unlink(path) ? -errno : 0;
}

int64_t mshare_size(int fd)
{
	struct stat st;
	int err;

	err = check_region(fd);
	if (err)
		return err;
	if (fstat(fd, &st))
		return -errno;
	return st.st_size;
}

/* MSHAREFS_CREATE_MAPPING with MAP_SHARED | MAP_FIXED added to flags */
static int create_mapping(int fd, uint64_t offset, uint64_t size, int prot,
			  int flags, int file_fd, uint64_t file_offset)
{
	struct mshare_create req = {
		.region_offset = offset,
		.size = size,
		.offset = file_offset,
		.prot = (__u32)prot,
		.flags = (__u32)(flags | MAP_SHARED | MAP_FIXED),
		.fd = (__u32)file_fd,
	};

	return ioctl(fd, MSHAREFS_CREATE_MAPPING, &req) ? -errno : 0;
}

int mshare_place_anon(int fd, uint64_t offset, uint64_t size, int prot,
		      int flags)
{
	if (flags & ~PLACE_FLAGS)
		return -EINVAL;
	return create_mapping(fd, offset, size, prot, flags | MAP_ANONYMOUS,
			      -1, 0);
}

int mshare_place_file(int fd, uint64_t offset, uint64_t size, int prot,
		      int flags, int file_fd, off_t file_offset)
{
	if (file_fd < 0)
		return -EBADF;
	if ((flags & ~PLACE_FLAGS) || file_offset < 0)
		return -EINVAL;
	return create_mapping(fd, offset, size, prot, flags, file_fd,
			      (uint64_t)file_offset);
}

int mshare_place_hugetlb(int fd, uint64_t offset, uint64_t size, int prot,
			 int flags, uint64_t page_size)
{
	int shift = 0;

	if (flags & ~PLACE_FLAGS)
		return -EINVAL;
	if (page_size) {
		/* A power of two, at least a page: its log2 goes in flags */
		if (page_size & (page_size - 1) ||
		    page_size < (uint64_t)sysconf(_SC_PAGESIZE))
			return -EINVAL;
		shift = __builtin_ctzll(page_size);
	}
	return create_mapping(fd, offset, size, prot,
			      flags | MAP_ANONYMOUS | MAP_HUGETLB |
			      shift << MAP_HUGE_SHIFT, -1, 0);
}

int mshare_unmap(int fd, uint64_t offset, uint64_t size)
{
	struct mshare_unmap req = {
		.region_offset = offset,
		.size = size,
	};

	return ioctl(fd, MSHAREFS_UNMAP, &req) ? -errno : 0;
}

int mshare_attach(int fd, void *addr, int prot, int flags, void **base)
{
	int64_t size;
	void *p;

	if (flags & ~MSHARE_FIXED)
		return -EINVAL;
	size = mshare_size(fd);
	if (size <= 0)
		return size ? (int)size : -EINVAL;
	p = mmap(addr, (size_t)size, prot, MAP_SHARED |
		 (flags & MSHARE_FIXED ? MAP_FIXED_NOREPLACE : 0), fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	if ((flags & MSHARE_FIXED) && p != addr) {
		/* a kernel without MAP_FIXED_NOREPLACE took it as a hint */
		munmap(p, (size_t)size);
		return -EEXIST;
	}
	*base = p;
	return 0;
}

int mshare_detach(void *base, uint64_t size)
{
	return munmap(base, (size_t)size) ? -errno : 0;
}

/*
 * The module's reasons for each error, after the C library's text, so that
 * a message says what to change.
 */
static const struct {
	int err;
	const char *msg;
} messages[] = {
	{ ENODEV, "No such device: no msharefs mounted there (is the mshare module loaded?), or an object without ordinary pages (a device or DAX file)" },
	{ ENOTTY, "Inappropriate ioctl for device: the fd is not a region (a file of an msharefs mount)" },
	{ EBADF, "Bad file descriptor: a region opened read-only cannot place or remove objects, or the object's fd is not open" },
	{ EINVAL, "Invalid argument: a size or offset that is not aligned (regions to mshare_info, objects to pages or huge pages, fixed attach addresses to mshare_info), a range outside the region, a region without a size, a part of an attachment, or a flag or page size the module refuses (1 GiB huge pages)" },
	{ EACCES, "Permission denied: the region's or the file's mode, or an fd opened for less than the protection asked for" },
	{ EEXIST, "File exists: a region of that name exists, or something is mapped at the fixed address" },
	{ ENOENT, "No such file or directory: no region of that name" },
	{ EFBIG, "File too large: the size does not fit in the address space" },
	{ EBUSY, "Device or resource busy: the hugetlbfs file is placed alike in another region, or an attacher held its memory map locked for 30 s (nothing changed; retry)" },
	{ ENOMEM, "Cannot allocate memory: no memory, huge pages or address space (RLIMIT_AS) left for it" },
	{ EAGAIN, "Resource temporarily unavailable: MAP_LOCKED beyond RLIMIT_MEMLOCK" },
};

const char *mshare_strerror(int err)
{
	size_t i;

	if (err < 0 && err > INT_MIN)
		err = -err;
	for (i = 0; i < sizeof(messages) / sizeof(messages[0]); i++)
		if (messages[i].err == err)
			return messages[i].msg;
	return strerror(err);
}

/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * msharefs: share page tables of a memory region between processes.
 *
 * User ABI of the mshare module, identical to the upstream "mshare v3"
 * proposal so that programs written for it build unchanged.
 *
 * A region is a file in an msharefs mount (by default /sys/fs/mshare).
 * Its size is set once, with ftruncate() or fallocate(fd, 0, 0, size), to a
 * non-zero multiple of the alignment read from <mount>/mshare_info.
 * Memory objects are placed in it with MSHAREFS_CREATE_MAPPING and removed
 * with MSHAREFS_UNMAP; processes attach by mmap()ing the whole file.
 */
#ifndef _UAPI_LINUX_MSHAREFS_H
#define _UAPI_LINUX_MSHAREFS_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* statfs(2) f_type of an msharefs mount: "MSHR" */
#define MSHAREFS_MAGIC		0x4d534852

/* Name of the read-only file that holds the alignment, in decimal. */
#define MSHAREFS_INFO_NAME	"mshare_info"

/*
 * Place a memory object in the region, like mmap() at
 * region start + region_offset.  flags must contain MAP_SHARED | MAP_FIXED;
 * fd is the file to map, or -1 together with MAP_ANONYMOUS.
 */
struct mshare_create {
	__u64 region_offset;
	__u64 size;
	__u64 offset;
	__u32 prot;
	__u32 flags;
	__u32 fd;
};

/* Remove whatever is mapped in [region_offset, region_offset + size). */
struct mshare_unmap {
	__u64 region_offset;
	__u64 size;
};

#define MSHAREFS_IOCTL_TYPE	'x'
#define MSHAREFS_CREATE_MAPPING	_IOW(MSHAREFS_IOCTL_TYPE, 0, struct mshare_create)
#define MSHAREFS_UNMAP		_IOW(MSHAREFS_IOCTL_TYPE, 1, struct mshare_unmap)

#endif /* _UAPI_LINUX_MSHAREFS_H */

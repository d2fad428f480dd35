/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libmshare: regions of shared page tables, from C.
 *
 * A thin library over the msharefs ABI (<linux/msharefs.h>), in the spirit
 * of the original mshare() proposal: a region is a named file in an
 * msharefs mount, sized once to a multiple of the alignment in
 * <mount>/mshare_info (512 GiB on x86_64); memory objects are placed in it
 * at offsets; processes attach the whole region and see every object at
 * attach base + object offset, through page tables that exist once.
 *
 *	int fd = mshare_create(NULL, "orders", 64UL << 30, 0600);
 *	mshare_place_anon(fd, 0, 64UL << 30, PROT_READ | PROT_WRITE, 0);
 *	mshare_attach(fd, NULL, PROT_READ | PROT_WRITE, 0, &base);
 *
 * Every call returns 0 (or a non-negative value it documents) on success
 * and a negative errno on failure; errno itself is left as the failing
 * system call set it.  mshare_strerror() words an error with the module's
 * reasons for it.  Regions are plain file descriptors (opened O_CLOEXEC):
 * close() them when done; an attachment outlives its fd.
 *
 * Functions that take a mount point mnt take the mount's root or any
 * directory in it (mkdir() makes them: a non-root user needs one it may
 * write), NULL for MSHARE_MOUNT.  A name is a path below mnt.
 * docs/libmshare.md is the reference.
 */
#ifndef MSHARE_H
#define MSHARE_H

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The mount point that loading the module mounts msharefs on */
#define MSHARE_MOUNT	"/sys/fs/mshare"

/* mshare_attach() flags */
#define MSHARE_FIXED	0x1	/* at addr exactly; never over a mapping */

/*
 * The alignment of region sizes and attach addresses, read from the
 * mshare_info of the msharefs mount that mnt is (or is a directory in);
 * -ENODEV if mnt is not in an msharefs mount or does not exist.
 */
int64_t mshare_align(const char *mnt);

/*
 * Create region name (O_EXCL) with mode (less the umask), sized to size
 * rounded up to the alignment, and return a read-write fd.  Nothing is
 * left behind on failure.  -EINVAL for size 0, -EFBIG for a size the
 * address space cannot hold, -EEXIST if name exists.
 */
int mshare_create(const char *mnt, const char *name, uint64_t size,
		  mode_t mode);

/*
 * Open an existing region: flags O_RDONLY (attach read-only, no changes)
 * or O_RDWR.  Returns the fd; -ENOENT if there is no such region.
 */
int mshare_open(const char *mnt, const char *name, int flags);

/* Remove the name; the region lives on while an fd or attachment holds it. */
int mshare_unlink(const char *mnt, const char *name);

/* The region's size (0: not sized); -ENOTTY if fd is not a region. */
int64_t mshare_size(int fd);

/*
 * Place a memory object of size bytes at offset in the region (both page
 * multiples), replacing whatever was there, like mmap(MAP_SHARED |
 * MAP_FIXED) inside the region.  prot: PROT_READ, PROT_WRITE, PROT_EXEC.
 * flags: 0 or any of MAP_POPULATE, MAP_NORESERVE, MAP_LOCKED.  The fd
 * must be open read-write (-EBADF otherwise).
 */
int mshare_place_anon(int fd, uint64_t offset, uint64_t size, int prot,
		      int flags);

/* A file object: size bytes of file_fd from file_offset (a page multiple). */
int mshare_place_file(int fd, uint64_t offset, uint64_t size, int prot,
		      int flags, int file_fd, off_t file_offset);

/*
 * Anonymous hugetlb memory (MAP_HUGETLB) with pages of page_size bytes, 0
 * for the system's default huge page size.  offset and size are multiples
 * of it.  The module takes 2 MiB pages; 1 GiB pages are -EINVAL.
 */
int mshare_place_hugetlb(int fd, uint64_t offset, uint64_t size, int prot,
			 int flags, uint64_t page_size);

/* Remove the objects in [offset, offset + size); later accesses SIGBUS. */
int mshare_unmap(int fd, uint64_t offset, uint64_t size);

/*
 * Attach the whole region with prot (at most what the fd's open mode
 * allows: -EACCES) and store its address in *base.  Without MSHARE_FIXED
 * addr is a hint (rounded up to the alignment, or NULL); with it the
 * region is attached at addr, which must be aligned (-EINVAL), and
 * nothing may be mapped there (-EEXIST).  Children inherit attachments.
 */
int mshare_attach(int fd, void *addr, int prot, int flags, void **base);

/* Detach an attachment: base and the region's size (a part: -EINVAL). */
int mshare_detach(void *base, uint64_t size);

/*
 * A message for err (negative or positive) that names the module's
 * reasons for it, e.g. EBADF: "a region opened read-only cannot place or
 * remove objects".  Never NULL; the string is constant.
 */
const char *mshare_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* MSHARE_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * region: helpers for test programs that make regions, place objects and
 * run parts of a check as another user, over the ABI in
 * <linux/msharefs.h>.  Topic test programs (security_test, ...) use these
 * instead of carrying their own copies.
 */
#ifndef MSHARE_TESTS_REGION_H
#define MSHARE_TESTS_REGION_H

#include <stdint.h>
#include <sys/types.h>

#define REGION_ALIGN	549755813888ULL		/* 512 GiB */
#define NOBODY		65534			/* the unprivileged test user */

/*
 * Create <dir>/<name> with mode, size it to size (0: leave unsized) and
 * return an O_RDWR fd, or -1 with a diag line.  The path is written to
 * path (PATH_MAX bytes).
 */
int region_make(const char *dir, const char *name, mode_t mode,
		uint64_t size, char *path);

/*
 * Make the test's own directory <mnt>/<prefix>_<pid>, mode 01777 (the
 * unprivileged parts create regions in it too), and write its path to
 * dir (PATH_MAX bytes).  0, or -1 after a failed set-up check.
 */
int region_dir(const char *mnt, const char *prefix, char *dir);

/* MSHAREFS_CREATE_MAPPING; the ioctl's result, errno set */
int region_place(int fd, uint64_t roff, uint64_t size, uint64_t off,
		 unsigned int prot, unsigned int flags, int objfd);

/* A populated shared anonymous PROT_READ|PROT_WRITE object */
int region_place_anon(int fd, uint64_t roff, uint64_t size);

/* MSHAREFS_UNMAP; the ioctl's result, errno set */
int region_unmap(int fd, uint64_t roff, uint64_t size);

/* mmap of the whole region; NULL (errno set) on failure */
char *region_attach(int fd, uint64_t size, int prot);

/*
 * Run fn(arg) in a child process as uid/gid (and no supplementary groups)
 * and return its exit status as waitpid() reports it; fn's return value
 * is the child's exit code.  -1 if the child could not be started.
 */
int run_as(uid_t uid, int (*fn)(void *), void *arg);

/* Text for a wait status: "exit 0", "signal 11 (Segmentation fault)" */
const char *wait_str(int status);

#endif /* MSHARE_TESTS_REGION_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * util: small helpers the static test programs share.
 */
#ifndef MSHARE_TESTS_UTIL_H
#define MSHARE_TESTS_UTIL_H

#include <sys/types.h>

/*
 * Read a whole (small) file into buf, NUL-terminated, at most bufsize - 1
 * bytes.  Returns the length, or -1 with errno set.
 */
ssize_t read_file(const char *path, char *buf, size_t bufsize);

/* Write the string s to the file at path (a sysctl, an id map).  0 or -1. */
int write_file(const char *path, const char *s);

/* The running kernel's version as major * 100 + minor (612 for 6.12). */
int kernel_version(void);

/*
 * The test-only module tests/mncount (mmu notifier counter, interruption
 * trap): load MNCOUNT_KO ($MNCOUNT_KO overrides) unless MNCOUNT_DEV
 * exists.  Returns 1 if the device is there, 0 (with a diag line) if not;
 * *loaded says whether this call loaded the module (the caller unloads it).
 */
#define MNCOUNT_DEV	"/dev/mncount"
#define MNCOUNT_KO	"/tests/mncount.ko"
int mncount_load(int *loaded);

#endif /* MSHARE_TESTS_UTIL_H */

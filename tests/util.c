// SPDX-License-Identifier: GPL-2.0
/*
 * util: small helpers the static test programs share; see util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"

ssize_t read_file(const char *path, char *buf, size_t bufsize)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while (len < bufsize - 1) {
		n = read(fd, buf + len, bufsize - 1 - len);
		if (n < 0) {
			int err = errno;

			close(fd);
			errno = err;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

int write_file(const char *path, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	n = write(fd, s, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

int kernel_version(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return 0;
	return major * 100 + minor;
}

int mncount_load(int *loaded)
{
	const char *ko = getenv("MNCOUNT_KO");
	int fd, r, err;

	*loaded = 0;
	if (!access(MNCOUNT_DEV, F_OK))
		return 1;
	if (!ko)
		ko = MNCOUNT_KO;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		diag("open %s: %s", ko, errname(errno));
		return 0;
	}
	r = syscall(SYS_finit_module, fd, "", 0);
	err = errno;
	close(fd);
	if (r && err != EEXIST) {
		diag("finit_module(%s): %s", ko, errname(err));
		return 0;
	}
	*loaded = !r;
	if (access(MNCOUNT_DEV, F_OK)) {
		diag("%s is missing after loading %s", MNCOUNT_DEV, ko);
		return 0;
	}
	return 1;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * util: small helpers the static test programs share; see util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

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

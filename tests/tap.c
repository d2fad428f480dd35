// SPDX-License-Identifier: GPL-2.0
/*
 * tap: TAP output and errno checks for the static test programs.  See
 * tap.h for what each function prints.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static int test_num;
static int nfailed;

/*
 * Symbolic names, because a diag line that says "expected EBUSY, got
 * EINVAL" is what one compares with the documentation; strerror() alone
 * does not say which constant it was.  In errno order; ENOTSUP is left out
 * because on Linux it is EOPNOTSUPP, which is the name the kernel uses.
 */
static const struct {
	int err;
	const char *name;
} errnames[] = {
	{ EPERM, "EPERM" },
	{ ENOENT, "ENOENT" },
	{ ESRCH, "ESRCH" },
	{ EINTR, "EINTR" },
	{ EIO, "EIO" },
	{ ENXIO, "ENXIO" },
	{ EBADF, "EBADF" },
	{ ECHILD, "ECHILD" },
	{ EAGAIN, "EAGAIN" },
	{ ENOMEM, "ENOMEM" },
	{ EACCES, "EACCES" },
	{ EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" },
	{ EEXIST, "EEXIST" },
	{ EXDEV, "EXDEV" },
	{ ENODEV, "ENODEV" },
	{ ENOTDIR, "ENOTDIR" },
	{ EISDIR, "EISDIR" },
	{ EINVAL, "EINVAL" },
	{ ENFILE, "ENFILE" },
	{ EMFILE, "EMFILE" },
	{ ENOTTY, "ENOTTY" },
	{ ETXTBSY, "ETXTBSY" },
	{ EFBIG, "EFBIG" },
	{ ENOSPC, "ENOSPC" },
	{ ESPIPE, "ESPIPE" },
	{ EROFS, "EROFS" },
	{ EMLINK, "EMLINK" },
	{ EPIPE, "EPIPE" },
	{ ERANGE, "ERANGE" },
	{ ENAMETOOLONG, "ENAMETOOLONG" },
	{ ENOSYS, "ENOSYS" },
	{ ENOTEMPTY, "ENOTEMPTY" },
	{ EOVERFLOW, "EOVERFLOW" },
	{ EOPNOTSUPP, "EOPNOTSUPP" },
	{ ETIMEDOUT, "ETIMEDOUT" },
};

const char *errname(int err)
{
	static char buf[32];
	size_t i;

	for (i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].err == err)
			return errnames[i].name;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static void vreport(int pass, const char *skip_reason, const char *fmt,
		    va_list ap)
{
	test_num++;
	if (!pass)
		nfailed++;
	printf("%sok %d - ", pass ? "" : "not ", test_num);
	vprintf(fmt, ap);
	if (skip_reason)
		printf(" # SKIP %s", skip_reason);
	fputc('\n', stdout);
	fflush(stdout);
}

int vcheck(int pass, const char *fmt, va_list ap)
{
	vreport(pass, NULL, fmt, ap);
	return pass;
}

int check(int pass, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vcheck(pass, fmt, ap);
	va_end(ap);
	return pass;
}

/*
 * In make check the harness controls the guest (CPUs, huge pages, the
 * mount's mode), so a check that could not be attempted there hides a
 * regression: with mshare_strict=1 in the environment (the kernel command
 * line of make check's boots hands it to init), a skip is a failure.
 */
void skip(const char *reason, const char *fmt, ...)
{
	const char *strict = getenv("mshare_strict");
	int pass = !(strict && strcmp(strict, "0"));
	va_list ap;

	va_start(ap, fmt);
	vreport(pass, reason, fmt, ap);
	va_end(ap);
	if (!pass)
		diag("a skip fails the run under make check (mshare_strict=1)");
}

void diag_err(long ret, int err, int want, int want2)
{
	if (ret == -1 && want2 && want2 != want)
		diag("expected %s or %s, got %s (%s)", errname(want),
		     errname(want2), errname(err), strerror(err));
	else if (ret == -1)
		diag("expected %s, got %s (%s)", errname(want), errname(err),
		     strerror(err));
	else
		diag("expected failure with %s, but the call returned %ld",
		     errname(want), ret);
}

int check_err(long ret, int err, int want, const char *fmt, ...)
{
	int pass = ret == -1 && err == want;
	va_list ap;

	va_start(ap, fmt);
	vreport(pass, NULL, fmt, ap);
	va_end(ap);
	if (!pass)
		diag_err(ret, err, want, 0);
	return pass;
}

int check_err2(long ret, int err, int want, int want2, const char *fmt, ...)
{
	int pass = ret == -1 && (err == want || err == want2);
	va_list ap;

	va_start(ap, fmt);
	vreport(pass, NULL, fmt, ap);
	va_end(ap);
	if (!pass)
		diag_err(ret, err, want, want2);
	return pass;
}

int check_ok(long ret, int err, const char *fmt, ...)
{
	int pass = ret >= 0;
	va_list ap;

	va_start(ap, fmt);
	vreport(pass, NULL, fmt, ap);
	va_end(ap);
	if (!pass)
		diag("failed with %s (%s)", errname(err), strerror(err));
	return pass;
}

int tap_done(void)
{
	if (nfailed)
		diag("%d of %d checks failed", nfailed, test_num);
	printf("1..%d\n", test_num);
	fflush(stdout);
	return nfailed ? 1 : 0;
}

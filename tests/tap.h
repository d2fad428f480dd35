/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tap: the TAP output the static test programs share, so that every one of
 * them numbers, words and flushes its lines the same way.
 *
 * A check prints "ok N - DESC" or "not ok N - DESC", a skipped one
 * "ok N - DESC # SKIP REASON", a diagnostic "# TEXT".  Every line is
 * flushed at once: the guest's serial port must show a line before a hang
 * or a crash can take it away, and a fork() must not copy unflushed output
 * into its child.
 *
 * The counters are per process: a forked child that reports a check counts
 * it only for itself, so children report through their exit status and
 * diag() instead.
 */
#ifndef MSHARE_TESTS_TAP_H
#define MSHARE_TESTS_TAP_H

#include <stdarg.h>

/* "EINVAL" for EINVAL; "errno N" for one the table does not know */
const char *errname(int err);

void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One check: passes if pass is non-zero.  Returns pass. */
int check(int pass, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* check() for a program's own check helpers that take a format */
int vcheck(int pass, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/*
 * A check that could not be attempted: counts as passed, except under
 * make check (mshare_strict=1 in the environment), where it fails.
 */
void skip(const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A check that a call failed: ret is what it returned, err the errno right
 * after it, want the errno it must have failed with.  On failure a diag
 * line says what happened instead.  Returns whether it passed.
 */
int check_err(long ret, int err, int want, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Like check_err, with two acceptable errnos */
int check_err2(long ret, int err, int want, int want2, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* A check that a call (returning >= 0 on success) succeeded. */
int check_ok(long ret, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * The diag line check_err and check_err2 print when they fail, for checks
 * that decide pass/fail themselves; want2 is 0 when only want will do.
 */
void diag_err(long ret, int err, int want, int want2);

/*
 * The end of the output: a diag line with the number of failed checks, if
 * any, then the plan "1..N".  Returns the exit status: 0 if every check
 * passed, 1 otherwise.
 */
int tap_done(void);

#endif /* MSHARE_TESTS_TAP_H */

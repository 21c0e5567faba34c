/* SPDX-License-Identifier: Apache-2.0 */
/* Test-only LD_PRELOAD allocator that fails the N-th allocation of a request. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Loaded into ztd with LD_PRELOAD, so that every allocation of the process
 * is seen: ztd's own, OpenSSL's (CRYPTO_malloc ends in malloc), libconfig's,
 * tpm2-tss's and glibc's (strdup, getpwuid_r, open_memstream and the rest
 * call the interposed malloc; glibc supports that).  Counting is armed at
 * each connection ztd accepts (accept4 is interposed too), so "the N-th
 * allocation" is the N-th since the client connected: its accept, its
 * request, its answer, and whatever another thread allocates meanwhile.
 *
 *   ZT_FAIL_ALLOC_FILE=PATH   read N from PATH at each accept (0: off)
 *   ZT_FAIL_ALLOC_AFTER=N     N when there is no such file
 *   ZT_FAIL_ALLOC_PERSIST=1   every allocation from the N-th on fails, until
 *                             the next accept (else only the N-th)
 *
 * Each injected failure writes "failalloc: allocation N failed" to stderr
 * (with write(2): no allocation), so a test knows whether a run reached N.
 * Only malloc, calloc and realloc are counted; aligned allocations are not.
 */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static atomic_long threshold;	/* 0: off */
static atomic_long counted;
static atomic_bool armed;
static bool persist;
static const char *control_file;

__attribute__((constructor)) static void
failalloc_init(void)
{
	const char *v;

	control_file = getenv("ZT_FAIL_ALLOC_FILE");
	v = getenv("ZT_FAIL_ALLOC_AFTER");
	if (v != NULL)
		atomic_store(&threshold, strtol(v, NULL, 10));
	v = getenv("ZT_FAIL_ALLOC_PERSIST");
	persist = v != NULL && strcmp(v, "1") == 0;
}

/* N from the control file, read with system calls only. */
static long
read_threshold(void)
{
	char buf[32];
	ssize_t n;
	long value = 0;
	int fd;

	if (control_file == NULL)
		return atomic_load(&threshold);
	fd = (int)syscall(SYS_openat, AT_FDCWD, control_file,
	    O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		value = value * 10 + (buf[i] - '0');
	return value;
}

static void
say_failed(long n)
{
	char text[64], digits[24];
	size_t len = 0, d = 0;

	memcpy(text, "failalloc: allocation ", 22);
	len = 22;
	do {
		digits[d++] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	while (d > 0)
		text[len++] = digits[--d];
	memcpy(text + len, " failed\n", 8);
	len += 8;
	if (write(2, text, len) < 0)
		return;
}

/* Whether this allocation is the one (or, persisting, one of those) to
 * fail. */
static bool
should_fail(void)
{
	long n, limit;

	if (!atomic_load_explicit(&armed, memory_order_relaxed))
		return false;
	limit = atomic_load(&threshold);
	if (limit <= 0)
		return false;
	n = atomic_fetch_add(&counted, 1) + 1;
	if (n < limit)
		return false;
	if (n == limit || persist) {
		if (n == limit)
			say_failed(n);
		if (!persist)
			atomic_store(&armed, false);
		return true;
	}
	return false;
}

void *
malloc(size_t size)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_malloc(size);
}

void *
calloc(size_t n, size_t size)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_calloc(n, size);
}

void *
realloc(void *p, size_t size)
{
	/* realloc(p, 0) frees; failing it would leak, not test anything. */
	if (size > 0 && should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_realloc(p, size);
}

int
accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int r = (int)syscall(SYS_accept4, fd, addr, len, flags);

	if (r >= 0) {
		atomic_store(&armed, false);
		atomic_store(&threshold, read_threshold());
		atomic_store(&counted, 0);
		atomic_store(&armed, true);
	}
	return r;
}

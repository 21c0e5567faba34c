/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading the agent: its memory (process_vm_readv, which the kernel
 * checks against ptrace access) and its descriptors (pidfd_getfd).  What
 * is read may change the moment after: callers check the notification is
 * still alive after every read and never continue a syscall on it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "supervisor_int.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif


bool
agent_call_valid(const struct call *c)
{
	__u64 id = c->req->id;

	return ioctl(c->fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

int
agent_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t n;

	if (len == 0)
		return 0;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	return n == (ssize_t)len ? 0 : -EFAULT;
}

/* A NUL-terminated string at ADDR: its length, -EFAULT, or
 * -ENAMETOOLONG when SIZE - 1 bytes hold no NUL. */
ssize_t
agent_read_str(pid_t pid, uint64_t addr, char *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		/* Up to the page boundary: the next page may be unmapped. */
		size_t chunk = 4096 - ((addr + got) & 4095);
		char *nul;

		if (chunk > size - got)
			chunk = size - got;
		if (agent_read(pid, addr + got, buf + got, chunk) < 0)
			return -EFAULT;
		nul = memchr(buf + got, '\0', chunk);
		if (nul != NULL)
			return nul - buf;
		got += chunk;
	}
	return -ENAMETOOLONG;
}

/* Of the string at ADDR, what SEEN already holds (up to STRIDE bytes
 * and its NUL), copied to OUT: its length, or -1 when SEEN does not hold
 * it whole. */
static ssize_t
seen_str(const struct agent_seen *seen, uint64_t addr, char *out,
    size_t stride)
{
	size_t off, room;
	const char *nul;

	if (seen == NULL || seen->len == 0 || addr < seen->addr ||
	    addr - seen->addr >= seen->len)
		return -1;
	off = (size_t)(addr - seen->addr);
	room = seen->len - off < stride ? seen->len - off : stride;
	if ((nul = memchr(seen->buf + off, '\0', room)) == NULL)
		return -1;
	memcpy(out, seen->buf + off, (size_t)(nul - (seen->buf + off)) + 1);
	return nul - (seen->buf + off);
}

void
agent_read_strs(pid_t pid, const uint64_t *addrs, size_t n, char *buf,
    size_t stride, ssize_t *lens, const struct agent_seen *seen)
{
	struct iovec local[AGENT_STRS_MAX], remote[AGENT_STRS_MAX];
	size_t done, m = 0, which[AGENT_STRS_MAX];
	ssize_t got;

	if (n > AGENT_STRS_MAX)
		n = AGENT_STRS_MAX;
	for (size_t i = 0; i < n; i++) {
		size_t chunk = 4096 - (addrs[i] & 4095);

		/* Read already (the bytes from the same memory, before the
		 * same id check): not read again. */
		if ((lens[i] = seen_str(seen, addrs[i], buf + i * stride,
		    stride)) >= 0)
			continue;
		lens[i] = AGENT_STR_UNREAD;
		which[m] = i;
		local[m].iov_base = buf + i * stride;
		local[m].iov_len = chunk < stride ? chunk : stride;
		remote[m].iov_base = (void *)(uintptr_t)addrs[i];
		remote[m].iov_len = local[m].iov_len;
		m++;
	}
	/* A partial read stops at the first range that faults: what came
	 * before it is whole. */
	got = m > 0 ? process_vm_readv(pid, local, m, remote, m, 0) : 0;
	done = got > 0 ? (size_t)got : 0;
	for (size_t k = 0; k < m && done >= local[k].iov_len; k++) {
		char *nul = memchr(local[k].iov_base, '\0', local[k].iov_len);

		done -= local[k].iov_len;
		if (nul != NULL)
			lens[which[k]] = nul - (char *)local[k].iov_base;
		else if (local[k].iov_len == stride)
			lens[which[k]] = AGENT_STR_LONG;
	}
}

/* How many pointers agent_read_ptrs reads at AT, MAX at most. */
static size_t
ptrs_span(uint64_t at, size_t max)
{
	size_t room = (4096 - (at & 4095)) / 8, n = max;

	if (n > AGENT_STRS_MAX)
		n = AGENT_STRS_MAX;
	if (room == 0)
		room = 1;		/* a pointer across the boundary */
	return n > room ? room : n;
}

/* Of N pointers read: how many count (up to and with the NULL). */
static ssize_t
ptrs_counted(const uint64_t *ptrs, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (ptrs[k] == 0)
			return (ssize_t)k + 1;
	return (ssize_t)n;
}

ssize_t
agent_read_ptrs(pid_t pid, uint64_t addr, size_t i, size_t max,
    uint64_t *ptrs)
{
	uint64_t at = addr + i * 8;
	size_t n = ptrs_span(at, max);

	if (agent_read(pid, at, ptrs, n * 8) < 0)
		return -EFAULT;
	return ptrs_counted(ptrs, n);
}

void
agent_read_heads(pid_t pid, uint64_t str, char *buf, size_t size,
    size_t *got, struct agent_ptrs *arrays, size_t n_arrays, size_t max)
{
	struct iovec local[1 + AGENT_HEAD_ARRAYS];
	struct iovec remote[1 + AGENT_HEAD_ARRAYS];
	size_t n = 0, span[AGENT_HEAD_ARRAYS], want = 0;
	ssize_t r;

	*got = 0;
	if (n_arrays > AGENT_HEAD_ARRAYS)
		n_arrays = AGENT_HEAD_ARRAYS;
	for (size_t i = 0; i < n_arrays; i++)
		arrays[i].n = AGENT_PTRS_UNREAD;
	local[n].iov_base = buf;
	local[n].iov_len = 4096 - (str & 4095);
	if (local[n].iov_len > size)
		local[n].iov_len = size;
	remote[n].iov_base = (void *)(uintptr_t)str;
	remote[n].iov_len = local[n].iov_len;
	want += local[n++].iov_len;
	for (size_t i = 0; i < n_arrays; i++) {
		if (arrays[i].addr == 0)
			continue;
		span[i] = ptrs_span(arrays[i].addr, max);
		local[n].iov_base = arrays[i].ptrs;
		local[n].iov_len = span[i] * 8;
		remote[n].iov_base = (void *)(uintptr_t)arrays[i].addr;
		remote[n].iov_len = local[n].iov_len;
		want += local[n++].iov_len;
	}
	/* All or nothing: after a partial read (a fault) each is read on
	 * its own, which tells which one faulted. */
	r = process_vm_readv(pid, local, n, remote, n, 0);
	if (r < 0 || (size_t)r != want)
		return;
	*got = local[0].iov_len;
	for (size_t i = 0; i < n_arrays; i++)
		if (arrays[i].addr != 0)
			arrays[i].n = ptrs_counted(arrays[i].ptrs, span[i]);
}

/*
 * The agent's descriptor NUMBER in the task that made the call.  A call
 * of the launched process's own thread (its tid the root pid) is taken
 * by the pidfd held for the whole grant (setup.root_pidfd): it names that
 * process, never another that reused its number (then pidfd_getfd fails,
 * ESRCH, and the caller is taken as any other task), so neither a pidfd
 * made per call nor the check that the pid was still the caller's is
 * needed.
 */
int
agent_take_fd(const struct call *c, int number)
{
	const struct supervise_setup *st = &c->s->setup;
	int pidfd, fd;

	if ((pid_t)c->req->pid == st->root_pid && st->root_pidfd >= 0) {
		fd = (int)syscall(SYS_pidfd_getfd, st->root_pidfd, number, 0);
		/* ESRCH: that process is gone and the caller a later holder
		 * of its number, taken as any other task is. */
		if (fd >= 0 || errno != ESRCH)
			return fd < 0 ? -errno : fd;
	}
	pidfd = (int)syscall(SYS_pidfd_open, c->req->pid, PIDFD_THREAD);
	if (pidfd < 0)
		pidfd = (int)syscall(SYS_pidfd_open, c->req->pid, 0);
	if (pidfd < 0)
		return -ESRCH;
	/* The pid is the caller's only while the notification lives. */
	if (!agent_call_valid(c)) {
		close(pidfd);
		return -ESRCH;
	}
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, number, 0);
	fd = fd < 0 ? -errno : fd;
	close(pidfd);
	return fd;
}

/* Our /proc/self/fd, opened once: a link in it is one lookup, not the
 * walk of /proc, self and fd every time. */
static int self_fds = -1;
static pthread_once_t self_fds_once = PTHREAD_ONCE_INIT;

static void
self_fds_open(void)
{
	self_fds = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
}

int
fd_path(int fd, char *out, size_t size)
{
	char link[64];
	ssize_t n;

	pthread_once(&self_fds_once, self_fds_open);
	if (self_fds >= 0) {
		snprintf(link, sizeof(link), "%d", fd);
		n = readlinkat(self_fds, link, out, size - 1);
	} else {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, out, size - 1);
	}
	if (n <= 0 || (size_t)n >= size - 1)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return 0;
}

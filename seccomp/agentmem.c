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
#include <stdio.h>
#include <string.h>
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
	return seccomp_notify_id_valid(c->fd, c->req->id) == 0;
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

/* The agent's descriptor NUMBER in the task that made the call. */
int
agent_take_fd(const struct call *c, int number)
{
	int pidfd, fd;

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

int
fd_path(int fd, char *out, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, size - 1);
	if (n <= 0 || (size_t)n >= size - 1)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return 0;
}

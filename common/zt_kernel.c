/* SPDX-License-Identifier: Apache-2.0 */
/* Probing the kernel features ztgate relies on, and naming the missing. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "zt_kernel.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND() false
#endif

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77			/* Linux 6.5 */
#endif
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83		/* Linux 6.16 */
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#define LANDLOCK_VERSION_FLAG 1u	/* LANDLOCK_CREATE_RULESET_VERSION */
#define LANDLOCK_SCOPE_ABI 6

static const struct {
	const char *name;
	const char *version;
} features[ZT_KF_COUNT] = {
	[ZT_KF_PEERPIDFD] = { "SO_PEERPIDFD", "6.5" },
	[ZT_KF_PIDFD_OPEN] = { "pidfd_open", "5.3" },
	[ZT_KF_PIDFD_SEND_SIGNAL] = { "pidfd_send_signal", "5.1" },
	[ZT_KF_PIDFD_GETFD] = { "pidfd_getfd", "5.6" },
	[ZT_KF_SECCOMP_LISTENER] = { "seccomp user notification", "5.0" },
	[ZT_KF_SECCOMP_CONTINUE] = { "SECCOMP_USER_NOTIF_FLAG_CONTINUE",
	    "5.5" },
	[ZT_KF_SECCOMP_ADDFD_SEND] = { "SECCOMP_ADDFD_FLAG_SEND", "5.14" },
	[ZT_KF_SECCOMP_SYNC_WAKE] = { "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP",
	    "6.6" },
	[ZT_KF_LANDLOCK_SCOPE] = { "Landlock ABI 6 scoping", "6.12" },
	[ZT_KF_PASSRIGHTS] = { "SO_PASSRIGHTS", "6.16" },
};

const char *
zt_kernel_feature_name(enum zt_kernel_feature f)
{
	return (unsigned)f < ZT_KF_COUNT ? features[f].name : NULL;
}

const char *
zt_kernel_feature_version(enum zt_kernel_feature f)
{
	return (unsigned)f < ZT_KF_COUNT ? features[f].version : NULL;
}

/* A syscall that exists answers EBADF for descriptor -1; one that does
 * not, ENOSYS. */
static bool
syscall_exists(long number)
{
	return syscall(number, -1, 0, 0, 0) < 0 && errno == EBADF;
}

/* The socket options, on a socket pair of our own. */
static void
probe_sockets(struct zt_kernel *k, unsigned mask)
{
	int pair[2], pidfd = -1, off = 0;
	socklen_t len = sizeof(pidfd);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		return;
	if ((mask & ZT_KF_BIT(ZT_KF_PEERPIDFD)) &&
	    getsockopt(pair[0], SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 &&
	    pidfd >= 0) {
		k->present[ZT_KF_PEERPIDFD] = true;
		close(pidfd);
	}
	if (mask & ZT_KF_BIT(ZT_KF_PASSRIGHTS))
		k->present[ZT_KF_PASSRIGHTS] = setsockopt(pair[0], SOL_SOCKET,
		    SO_PASSRIGHTS, &off, sizeof(off)) == 0;
	close(pair[0]);
	close(pair[1]);
}

/*
 * The flags on LISTENER, which no notification waits on: notification id
 * 0 names none, so a known flag gets ENOENT and an unknown one EINVAL.
 * The synchronous wake-up is set on it (kept: what zt-exec wants of its
 * listener anyway).  Answers as bits: 2 CONTINUE, 4 SYNC_WAKE, 8
 * ADDFD_SEND.
 */
static int
listener_flags(int listener)
{
	struct seccomp_notif_resp resp;
	struct seccomp_notif_addfd addfd;
	int bits = 0;

	memset(&resp, 0, sizeof(resp));
	resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 &&
	    errno == ENOENT)
		bits |= 2;
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
	    (unsigned long)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0)
		bits |= 4;
	/* A flag it knows and no such notification: ENOENT (an unknown
	 * flag, or no ADDFD at all before 5.9: EINVAL). */
	memset(&addfd, 0, sizeof(addfd));
	addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
	addfd.srcfd = (__u32)listener;
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) < 0 &&
	    errno == ENOENT)
		bits |= 8;
	return bits;
}

static void
set_seccomp(struct zt_kernel *k, int bits)
{
	k->present[ZT_KF_SECCOMP_LISTENER] = (bits & 1) != 0;
	k->present[ZT_KF_SECCOMP_CONTINUE] = (bits & 2) != 0;
	k->present[ZT_KF_SECCOMP_SYNC_WAKE] = (bits & 4) != 0;
	k->present[ZT_KF_SECCOMP_ADDFD_SEND] = (bits & 8) != 0;
}

/*
 * On a thread of its own, which ends with it: no_new_privs and an
 * allow-all filter with a listener are the thread's alone (no TSYNC), so
 * nothing of the caller's other threads changes.  Try the flags on the
 * listener and return the answers as bits in *ARG (1: a listener).
 */
static void *
seccomp_probe(void *arg)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = 1, .filter = &allow };
	int listener, *bits = arg;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return NULL;
	listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
	    SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (listener < 0)
		return NULL;
	*bits = 1 | listener_flags(listener);
	close(listener);
	return NULL;
}

static void
probe_seccomp(struct zt_kernel *k)
{
	pthread_t thread;
	int bits = 0;

	if (pthread_create(&thread, NULL, seccomp_probe, &bits) != 0 ||
	    pthread_join(thread, NULL) != 0)
		return;
	set_seccomp(k, bits);
}

void
zt_kernel_probe(struct zt_kernel *k, unsigned mask)
{
	struct utsname u;
	int abi;

	memset(k, 0, sizeof(*k));
	k->under_valgrind = UNDER_VALGRIND();
	if (uname(&u) == 0)
		snprintf(k->release, sizeof(k->release), "%s", u.release);
	probe_sockets(k, mask);
	if (mask & ZT_KF_BIT(ZT_KF_PIDFD_OPEN)) {
		int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);

		k->present[ZT_KF_PIDFD_OPEN] = fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	if (mask & ZT_KF_BIT(ZT_KF_PIDFD_SEND_SIGNAL))
		k->present[ZT_KF_PIDFD_SEND_SIGNAL] =
		    syscall_exists(SYS_pidfd_send_signal);
	if (mask & ZT_KF_BIT(ZT_KF_PIDFD_GETFD))
		k->present[ZT_KF_PIDFD_GETFD] = syscall_exists(SYS_pidfd_getfd);
	if (mask & (ZT_KF_BIT(ZT_KF_SECCOMP_LISTENER) |
	    ZT_KF_BIT(ZT_KF_SECCOMP_CONTINUE) |
	    ZT_KF_BIT(ZT_KF_SECCOMP_SYNC_WAKE))) {
		probe_seccomp(k);
		for (int f = ZT_KF_SECCOMP_LISTENER;
		    f <= ZT_KF_SECCOMP_SYNC_WAKE; f++)
			k->present[f] = k->present[f] &&
			    (mask & ZT_KF_BIT(f)) != 0;
	}
	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_VERSION_FLAG);
	k->landlock_abi = abi > 0 ? abi : 0;
	k->present[ZT_KF_LANDLOCK_SCOPE] =
	    (mask & ZT_KF_BIT(ZT_KF_LANDLOCK_SCOPE)) != 0 &&
	    k->landlock_abi >= LANDLOCK_SCOPE_ABI;
}

void
zt_kernel_probe_listener(struct zt_kernel *k, unsigned mask, int listener)
{
	set_seccomp(k, 1 | listener_flags(listener));
	for (int f = ZT_KF_SECCOMP_LISTENER; f <= ZT_KF_SECCOMP_SYNC_WAKE; f++)
		k->present[f] = k->present[f] && (mask & ZT_KF_BIT(f)) != 0;
}

int
zt_kernel_missing(const struct zt_kernel *k, unsigned mask, char *msg,
    size_t size)
{
	size_t used = 0;
	int missing = 0;

	if (size > 0)
		msg[0] = '\0';
	for (int f = 0; f < ZT_KF_COUNT; f++) {
		int n;

		if (!(mask & ZT_KF_BIT(f)) || k->present[f])
			continue;
		missing++;
		if (used >= size)
			continue;	/* truncated: counted all the same */
		n = snprintf(msg + used, size - used, "%s%s (Linux %s)",
		    missing > 1 ? ", " : "", features[f].name,
		    features[f].version);
		if (n > 0)
			used += (size_t)n;
	}
	return missing;
}

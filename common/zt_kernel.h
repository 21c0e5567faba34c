/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel features ztgate relies on: probed, named, and the Linux
 * version that brought each. */
#ifndef ZT_KERNEL_H
#define ZT_KERNEL_H

#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>

/* Bookworm's headers predate these (Linux 6.6). */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1ull
#endif

enum zt_kernel_feature {
	ZT_KF_PEERPIDFD,		/* SO_PEERPIDFD: 6.5 */
	ZT_KF_PIDFD_OPEN,		/* pidfd_open: 5.3 */
	ZT_KF_PIDFD_SEND_SIGNAL,	/* pidfd_send_signal: 5.1 */
	ZT_KF_PIDFD_GETFD,		/* pidfd_getfd: 5.6 */
	ZT_KF_SECCOMP_LISTENER,		/* user notification listener: 5.0 */
	ZT_KF_SECCOMP_CONTINUE,		/* SECCOMP_USER_NOTIF_FLAG_CONTINUE: 5.5 */
	ZT_KF_SECCOMP_ADDFD_SEND,	/* SECCOMP_ADDFD_FLAG_SEND: 5.14 */
	ZT_KF_SECCOMP_SYNC_WAKE,	/* SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: 6.6 */
	ZT_KF_LANDLOCK_SCOPE,		/* Landlock ABI 6 (scoping): 6.12 */
	ZT_KF_PASSRIGHTS,		/* SO_PASSRIGHTS: 6.16 */
	ZT_KF_COUNT
};

#define ZT_KF_BIT(f) (1u << (f))

/* What ztd cannot serve without: who a client is (SO_PEERPIDFD, a pidfd
 * that outlives a reused pid) and ending agents' processes. */
#define ZT_KERNEL_ZTD_NEEDS (ZT_KF_BIT(ZT_KF_PEERPIDFD) | \
	ZT_KF_BIT(ZT_KF_PIDFD_OPEN) | ZT_KF_BIT(ZT_KF_PIDFD_SEND_SIGNAL))
/* What zt-exec cannot supervise without. */
#define ZT_KERNEL_ZTEXEC_NEEDS (ZT_KF_BIT(ZT_KF_PIDFD_OPEN) | \
	ZT_KF_BIT(ZT_KF_PIDFD_GETFD) | ZT_KF_BIT(ZT_KF_PIDFD_SEND_SIGNAL) | \
	ZT_KF_BIT(ZT_KF_SECCOMP_LISTENER) | ZT_KF_BIT(ZT_KF_SECCOMP_CONTINUE) | \
	ZT_KF_BIT(ZT_KF_SECCOMP_ADDFD_SEND))
/* What zt-exec works without, weaker or slower (said at start):
 * profiles with landlock = "required" are refused without scoping; an
 * allowed unix peer can pass the agent descriptors without SO_PASSRIGHTS;
 * notifications cost about ten times more without the synchronous
 * wake-up. */
#define ZT_KERNEL_ZTEXEC_WANTS (ZT_KF_BIT(ZT_KF_LANDLOCK_SCOPE) | \
	ZT_KF_BIT(ZT_KF_PASSRIGHTS) | ZT_KF_BIT(ZT_KF_SECCOMP_SYNC_WAKE))
#define ZT_KERNEL_ALL ((1u << ZT_KF_COUNT) - 1)

/* What a probe found. */
struct zt_kernel {
	bool present[ZT_KF_COUNT];
	int landlock_abi;		/* 0: no Landlock */
	char release[65];		/* uname -r */
	/* Running under valgrind, whose syscall table (3.19) lacks the
	 * pidfd calls whatever the kernel has: a missing feature then says
	 * nothing about the kernel (the tests' valgrind run). */
	bool under_valgrind;
};

/*
 * Probe the features in MASK (ZT_KF_BIT()s) on the running kernel, by
 * using each harmlessly: an option read on a socket pair, a syscall on an
 * invalid descriptor (EBADF: it exists), Landlock's version query, and the
 * seccomp flags on a thread of its own that installs an allow-all filter
 * with a listener and ends (so nothing of the caller's other threads
 * changes).  Features
 * not in MASK are reported absent.  An error counts as absent.
 */
void zt_kernel_probe(struct zt_kernel *k, unsigned mask);

/* The features a listener's flags tell (zt_kernel_probe_listener). */
#define ZT_KERNEL_SECCOMP (ZT_KF_BIT(ZT_KF_SECCOMP_LISTENER) | \
	ZT_KF_BIT(ZT_KF_SECCOMP_CONTINUE) | \
	ZT_KF_BIT(ZT_KF_SECCOMP_ADDFD_SEND) | \
	ZT_KF_BIT(ZT_KF_SECCOMP_SYNC_WAKE))

/*
 * The seccomp features of MASK into K (the others untouched) from
 * LISTENER, a seccomp listener the caller holds that no notification
 * waits on (the flags are tried on notification id 0, which names none):
 * zt-exec's, taken from its child between the filter's load and the
 * child's go, instead of a thread that installs a filter of its own for
 * the probe (one thread, its filter and its join less per launch).  The
 * synchronous wake-up, when the kernel has it, stays set on LISTENER.
 */
void zt_kernel_probe_listener(struct zt_kernel *k, unsigned mask,
    int listener);

/* The feature's name ("SO_PEERPIDFD") and the first Linux version that
 * has it ("6.5"); NULL for an unknown feature. */
const char *zt_kernel_feature_name(enum zt_kernel_feature f);
const char *zt_kernel_feature_version(enum zt_kernel_feature f);

/*
 * Say which features of MASK K lacks: "SO_PEERPIDFD (Linux 6.5),
 * pidfd_getfd (Linux 5.6)" into MSG (SIZE bytes, always terminated).
 * Returns how many are missing (0: MSG is "").
 */
int zt_kernel_missing(const struct zt_kernel *k, unsigned mask, char *msg,
    size_t size);

/* Where a Debian 12 host gets a newer kernel (said after the list). */
#define ZT_KERNEL_ADVICE "a newer kernel is needed (Debian 12: " \
	"linux-image-amd64 from bookworm-backports; see the README)"

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The supervisor: gated syscalls decided and performed, execs verified. */
#ifndef ZTX_SUPERVISE_H
#define ZTX_SUPERVISE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "profile.h"
#include "resolver.h"
#include "tunnel.h"
#include "ztconn.h"

#define SUPERVISE_WORKERS 8		/* at most */
#define SUPERVISE_WORKERS_FIRST 2	/* made after the launch exec;
					 * more when every one is busy */
#define SUPERVISE_DIGESTS 64		/* files whose digest is cached */

struct supervisor;
struct zt_digests;

struct supervise_setup {
	int notify_fd;			/* the agent's filter's listener */
	struct ztconn *ztd;
	struct tunnels *tunnels;		/* the grant's mTLS tunnels */
	struct resolver *resolver;	/* NULL: no host rules, no resolver */
	const struct profile *profile;
	pid_t root_pid;			/* the launched agent process */
	int root_pidfd;
	/* The agent's binary as zt-exec opened and checked it at launch:
	 * the first exec of the root process must be this file. */
	dev_t binary_dev;
	ino_t binary_ino;
	uint8_t binary_digest[32];
	/* ztd's socket, never reachable from the agent (0/0: unknown),
	 * and its canonical path ("": unknown), which a ztd restarted since
	 * the launch has bound anew (another inode): a connect the
	 * supervisor made there would carry the supervisor group. */
	dev_t ztd_dev;
	ino_t ztd_ino;
	char ztd_path[PATH_MAX];
	/* Called once on the tracer's thread after its first event (the
	 * launch exec's, let go: the agent starts), or at its end if none
	 * came: what need not run between the child's go and its exec.
	 * NULL: nothing. */
	void (*launched)(void);
};

/* A descriptor the agent starts with (0, 1, 2): when FD is an inet
 * datagram socket, turn IP_RECVERR and IPV6_RECVERR off, and when it has
 * no port, make it deaf, as the sockets the agent makes are (netcall.c).
 * 0, or -errno. */
int supervise_deafen_inherited(int fd);

/*
 * The supervisor, with no thread yet: the caller answers the launch
 * exec's notification itself (supervise_first), and only then are the
 * workers made, while the agent's exec runs (profiled: a worker's
 * pthread_create was 70 us of the parent's path before the child's go,
 * and its start 0.16 ms of CPU beside the child's confinement).
 * DIGESTS (zt_digests_new(SUPERVISE_DIGESTS)) becomes the supervisor's,
 * freed with it or on failure: zt-exec's own digest of the agent made
 * through it at launch is then the launch exec's too.
 */
int supervise_new(struct supervisor **out, struct zt_digests *digests);

/*
 * Let the supervisor work on SETUP (copied; the profile and connection
 * must outlive the supervisor).  Returns 0.
 */
int supervise_start(struct supervisor *s,
    const struct supervise_setup *setup);

/*
 * On the thread that called supervise_start, once the agent may exec:
 * answer the agent's first notification (its launch exec: its one task
 * waits in it, so no other can come first) as a worker would, then make
 * the workers that answer the rest concurrently: SUPERVISE_WORKERS_FIRST
 * of them, and a worker that takes the last idle one's place makes
 * another, up to SUPERVISE_WORKERS (one slow connect never holds the
 * others).  Threads inherit the caller's signal mask and file-system
 * group.  Returns 0, or -1 when no notification came (the agent died
 * first: the tracer then finds it gone).
 */
int supervise_first(struct supervisor *s);

/*
 * The tracer loop, on the thread that PTRACE_SEIZEd the root process:
 * follows every fork, vfork, clone and exec of the agent's tree (all
 * traced with PTRACE_O_EXITKILL), verifies at each exec event that the
 * image now running and its argv are what a worker approved, and kills
 * the process when not; forwards signal-delivery stops.  Returns when the
 * root process has ended, with its wait status.
 */
int supervise_trace(struct supervisor *s);

/* SIGKILL every process and thread of the agent's tree. */
void supervise_kill_tree(struct supervisor *s, const char *why);

/* Peak number of pending exec approvals and traced tasks (tests). */
void supervise_stats(struct supervisor *s, size_t *approvals,
    size_t *tasks);

#endif

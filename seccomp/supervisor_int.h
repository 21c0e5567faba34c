/* SPDX-License-Identifier: Apache-2.0 */
/* The supervisor's shared state and the entry points of its concerns:
 * agentmem.c (reading the agent), netcall.c (network calls), execgate.c
 * (exec approvals and verification), tracer.c (the ptrace loop) and
 * supervise.c (workers and dispatch).  Internal to zt-exec. */
#ifndef ZTX_SUPERVISOR_INT_H
#define ZTX_SUPERVISOR_INT_H

#include <limits.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "supervise.h"
#include "zt_exe.h"

#define APPROVALS_MAX 256
#define APPROVAL_MS 10000		/* an unused exec approval expires */
#define ARGV_MAX 4096			/* arguments of a gated exec */
#define ARGV_BYTES (256 * 1024)
#define ENV_BYTES (1024 * 1024)		/* a new image's environment */
#define TASKS_MAX 65536
#define PINS_MAX 256
#define OBJECT_MAX (PATH_MAX + 16)
/* A handler's answer that lets the syscall continue (exec, and the
 * profile's gated syscalls, whose arguments are registers). */
#define CONTINUE INT64_MAX
/* A handler's answer when it has answered the notification itself
 * (SECCOMP_ADDFD_FLAG_SEND): nothing more is sent. */
#define ANSWERED (INT64_MAX - 1)

struct approval {
	bool used;
	pid_t tid;			/* the thread that asked */
	uint64_t notif_id;		/* the notification it was made for */
	dev_t dev;
	ino_t ino;
	uint8_t digest[32];
	char *argv;			/* NUL-separated, as /proc/PID/cmdline */
	size_t argv_len;
	int64_t expires_ms;
	/* A script's: the path its interpreter opens it by (absolute), the
	 * file and its digest; SCRIPT NULL for a binary. */
	char *script;
	dev_t script_dev;
	ino_t script_ino;
	uint8_t script_digest[32];
};

struct task {
	pid_t pid;
	bool seen;			/* its first stop was seen */
};

/* An exec approved in this grant: the file it was, by path. */
struct pin {
	char *path;
	dev_t dev;
	ino_t ino;
	uint8_t digest[32];
};

/* A worker's notification, answer and handler's buffer. */
struct worker_bufs {
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	char *buf;
};

struct supervisor {
	struct supervise_setup setup;
	pthread_t workers[SUPERVISE_WORKERS];
	atomic_uint n_workers;		/* made */
	atomic_uint idle;		/* waiting for a notification */
	/* The kernel's notification sizes, and the first workers'
	 * buffers (given[0]: the launch exec's, answered by supervise_first
	 * before the first worker takes them over). */
	size_t notif_size, resp_size;
	struct worker_bufs given[SUPERVISE_WORKERS_FIRST];
	unsigned n_started;		/* workers started (under lock) */
	/* The tracer's buffers for a new image's argv and environment. */
	char *trace_blob, *trace_env;
	pthread_mutex_t lock;		/* approvals, tasks, pins */
	pthread_cond_t start;		/* workers wait for the setup */
	bool started;			/* supervise_start has been called */
	bool launch_pending;		/* the root's first exec not yet seen */
	/* The agent's root directory, zt-exec's own "/" (O_PATH): no task of
	 * the agent's tree can change its root or mount namespace (chroot,
	 * pivot_root, unshare, setns, mount and clone's CLONE_NEW* flags are
	 * refused to every profile, filter.c), so one descriptor serves
	 * every exec's resolution instead of a /proc/PID/root opened for
	 * each. */
	int root;
	struct approval approvals[APPROVALS_MAX];
	size_t n_approvals, peak_approvals;
	struct task *tasks;		/* traced tasks */
	size_t n_tasks, peak_tasks;
	struct zt_digests *digests;	/* its own lock */
	struct pin pins[PINS_MAX];	/* a ring: the oldest goes first */
	unsigned pin_next;
	bool passrights_warned;		/* netcall.c: said once, atomically */
	pthread_mutex_t dgram_lock;	/* netcall.c: a datagram socket's
					 * connect, bind or disconnect and
					 * its deafness, as one step */
};

/* One notification being answered by a worker. */
struct call {
	struct supervisor *s;
	int fd;				/* the notify fd */
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
};

/* agentmem.c: every read of the agent's memory is followed by an id
 * check (agent_call_valid) before anything read is acted upon. */
bool agent_call_valid(const struct call *c);
/* LEN bytes at ADDR of task PID: 0 or -EFAULT. */
int agent_read(pid_t pid, uint64_t addr, void *buf, size_t len);
/* A NUL-terminated string at ADDR: its length, -EFAULT, or -ENAMETOOLONG
 * when SIZE - 1 bytes hold no NUL. */
ssize_t agent_read_str(pid_t pid, uint64_t addr, char *buf, size_t size);

/* The most strings agent_read_strs reads in one call. */
#define AGENT_STRS_MAX 64
/* Of a string agent_read_strs read: no NUL within what could be read
 * (the next page may be unmapped, or the read stopped), or none within
 * the whole STRIDE. */
#define AGENT_STR_UNREAD (-1)
#define AGENT_STR_LONG (-2)

/* LEN bytes of the agent's memory at ADDR, read already into BUF. */
struct agent_seen {
	uint64_t addr;
	const char *buf;
	size_t len;
};

/*
 * The first bytes of the N (at most AGENT_STRS_MAX) strings at ADDRS, in
 * one process_vm_readv: string I into BUF + I * STRIDE, up to STRIDE
 * bytes or its page boundary.  LENS[I] is its length when a NUL came
 * within them, else AGENT_STR_LONG (STRIDE bytes read) or
 * AGENT_STR_UNREAD (read it with agent_read_str).  A string SEEN
 * (NULL: none) holds whole, with its NUL, is taken from there instead:
 * the memory read then, before the same id check as this read; with
 * every one there, nothing is read.
 */
void agent_read_strs(pid_t pid, const uint64_t *addrs, size_t n, char *buf,
    size_t stride, ssize_t *lens, const struct agent_seen *seen);

/*
 * Pointers of the NULL-terminated array at ADDR from index I: up to MAX
 * (at most AGENT_STRS_MAX) of them, and no further than ADDR's page, into
 * PTRS.  Returns how many were read (the NULL, when among them, counted),
 * or -EFAULT.
 */
ssize_t agent_read_ptrs(pid_t pid, uint64_t addr, size_t i, size_t max,
    uint64_t *ptrs);

/* The first batch of the pointer array at ADDR, as agent_read_ptrs reads
 * it from index 0: N is what it returns, or AGENT_PTRS_UNREAD. */
struct agent_ptrs {
	uint64_t addr;
	ssize_t n;
	uint64_t ptrs[AGENT_STRS_MAX];
};
#define AGENT_PTRS_UNREAD (-1)
#define AGENT_HEAD_ARRAYS 2

/*
 * What an exec's check reads first, in one process_vm_readv instead of
 * one each: the first bytes of the string at STR into BUF (up to its
 * page's end, SIZE at most; *GOT how many, 0 when not read) and the
 * first batch of each of the N_ARRAYS (at most AGENT_HEAD_ARRAYS)
 * pointer arrays (MAX pointers at most; an ADDR 0 is not read).  When
 * any of them faults none is counted read: the caller reads each on its
 * own (agent_read_str, agent_read_ptrs), which tells which.
 */
void agent_read_heads(pid_t pid, uint64_t str, char *buf, size_t size,
    size_t *got, struct agent_ptrs *arrays, size_t n_arrays, size_t max);
/* The agent's descriptor NUMBER in the calling task, as ours: the new
 * descriptor, or -errno. */
int agent_take_fd(const struct call *c, int number);
/* The canonical path of our open file FD into OUT: 0 or -ENAMETOOLONG. */
int fd_path(int fd, char *out, size_t size);

/* netcall.c: connect, bind, listen, sendto, sendmsg, sendmmsg decided
 * and performed here; -errno or the call's result. */
int64_t netcall_dispatch(const struct call *c, char *buf);
/* socket() of an inet datagram socket: made here, deaf, and handed to the
 * agent: ANSWERED, or -errno. */
int64_t netcall_socket(const struct call *c);

/* filecall.c: chmod, chown, utimes, xattr writers and inotify watches
 * of a profile with files, decided against them and performed here;
 * -errno or the call's result. */
int64_t filecall_dispatch(const struct call *c);

/* Where execpath_replaceable's walk found the file: the canonical path
 * it walked to (absolute, every symlink resolved, in the root walked
 * from) and the identity statx saw there. */
struct execpath_end {
	bool reached;			/* false: the rest is unset */
	dev_t dev;
	ino_t ino;
	char path[PATH_MAX];
};

/* execpath.c: could the agent's account replace the command at PATH, as
 * task PID resolves it (absolute in its root, ROOT: the supervisor's root,
 * open O_PATH; relative to DIRFD, ours, or else its cwd)?  Every
 * directory walked, symlinks' included (at most 40 of them), and the file
 * itself are checked.  1 with WHY (SIZE bytes) when it could, 0 when not,
 * or -errno when the walk failed.  END (or NULL): where the walk found
 * the file, when it got that far. */
int execpath_replaceable(pid_t pid, int root, int dirfd, const char *path,
    char *why, size_t size, struct execpath_end *end);

/* execgate.c */
/* execve/execveat: CONTINUE when approved (verified at the exec event),
 * else -errno. */
int64_t execgate_on_exec(const struct call *c, bool at, char *buf);
/* At PID's exec event (stopped there), its argv and environment strings
 * from the new image's stack: 0 with ARGS (ARGV_BYTES + 2 bytes of room)
 * holding *ARGS_LEN bytes and ENV (ENV_BYTES + 1) *ENV_LEN (then a NUL),
 * or -1 when they must be read from /proc instead. */
int execgate_image_strings(pid_t pid, char *args, size_t *args_len,
    char *env, size_t *env_len);
/* At PID's exec event (FORMER: the thread that called exec): is what runs
 * now what was approved for it?  BLOB: ARGV_BYTES + 2 bytes of room,
 * holding ARGS_LEN bytes of its argv already, or ARGS_LEN -1: read from
 * /proc/PID/cmdline. */
bool execgate_verify(struct supervisor *s, pid_t pid, pid_t former,
    char *blob, ssize_t args_len);
/* At PID's exec event: does the new image's environment (BUF's ENV_LEN
 * bytes, or ENV_LEN -1: read from /proc/PID/environ into BUF) hold no
 * variable that zt_env_is_dangerous and the profile's env does not name?
 * Logs the deny when it does, or when it cannot tell.  BUF: ENV_BYTES + 1
 * bytes. */
bool execgate_environment_ok(struct supervisor *s, pid_t pid, char *buf,
    ssize_t env_len);
/* Forget every approval of task TID (it died, or failed verification). */
void execgate_drop(struct supervisor *s, pid_t tid);
/* Forget every approval (the policy or the trust changed). */
void execgate_drop_all(struct supervisor *s);

#endif

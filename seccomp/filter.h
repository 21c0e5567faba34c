/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's seccomp filter: built and loaded in the child, before exec. */
#ifndef ZTX_FILTER_H
#define ZTX_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"

/* The filter as built, not loaded (libseccomp's context for the rules
 * with conditions, and the BPF prefix that decides setsockopt, ioctl and
 * every syscall with an unconditional rule; opaque here). */
struct filter;
struct sock_filter;

/*
 * Build the agent's filter for P into *FILTERP, every rule added, without
 * loading it.  Returns 0, or -errno with ERROR (160 bytes) set and
 * *FILTERP NULL.  The caller frees *FILTERP with filter_free().
 */
int filter_build(const struct profile *p, struct filter **filterp,
    char *error);

/*
 * The same filter as libseccomp alone made it before setsockopt's and
 * ioctl's decisions and the unconditional rules went into filter_build's
 * BPF prefix (every rule in libseccomp's program, setsockopt's and
 * ioctl's complements as libseccomp rules: 1126 instructions for an inet
 * profile against 365): the reference test_filter checks filter_build's
 * program against, call by call.  Not for loading.
 */
int filter_build_reference(const struct profile *p, struct filter **filterp,
    char *error);

/* Release F; filter_free(NULL) is a no-op. */
void filter_free(struct filter *f);

/*
 * Write F's classic BPF program (the prefix, then libseccomp's), into
 * PROG (room for MAX instructions).  Returns the number of instructions,
 * or -errno with ERROR (160 bytes) set (-E2BIG: more than MAX).
 */
int filter_export_bpf(struct filter *f, struct sock_filter *prog,
    size_t max, char *error);

/* The most instructions a filter may have (the kernel's BPF_MAXINSNS). */
#define FILTER_INSNS_MAX 4096

/*
 * Build P's filter and export its BPF program, as filter_load() would
 * install it, into a new memfd sealed against writes, resizing and
 * further sealing (ztd's compiled filter, handed to zt-exec with a
 * launch).  Returns the descriptor (close-on-exec), or -errno with ERROR
 * (160 bytes) set.
 */
int filter_export_sealed(const struct profile *p, char *error);

/*
 * Read the program in FD, which must be sealed as filter_export_sealed
 * leaves it (-EPERM otherwise), into PROG (room for MAX instructions).
 * Returns the number of instructions, or -errno with ERROR set.
 */
int filter_read_sealed(int fd, struct sock_filter *prog, size_t max,
    char *error);

/*
 * Load PROG (N instructions) into the calling process, which must have
 * set NO_NEW_PRIVS, with a notification listener.  Returns the listener,
 * or -errno with ERROR (160 bytes) set.
 */
int filter_load_bpf(const struct sock_filter *prog, size_t n, char *error);

/*
 * Build (filter_build) and load the agent's filter into the calling
 * process (which must have set NO_NEW_PRIVS) and return the notification
 * descriptor, or -errno with ERROR (160 bytes) set.  The filter, in order
 * of precedence:
 *   - a foreign architecture kills the process, x32 and i386 included;
 *   - gated (SCMP_ACT_NOTIFY): execve, execveat, connect, bind, sendmsg,
 *     sendmmsg, sendto with an address, and P's "gate" syscalls; with
 *     files in P, the path metadata and watch calls (chmod, chown,
 *     utimes, the xattr writers, inotify_add_watch and their siblings);
 *   - EPERM unless P gates them: SysV IPC (msg*, sem*, shmget, shmat,
 *     shmctl) and POSIX message queues (mq_open, mq_unlink);
 *   - EPERM: P's "deny" syscalls and what no agent may do (seccomp,
 *     prctl PR_SET_SECCOMP / PR_SET_DUMPABLE / PR_SET_PTRACER / PR_SET_MM,
 *     ptrace, process_vm_readv/writev, io_uring_*, userfaultfd, unshare,
 *     setns, keyctl, add_key, request_key, bpf, perf_event_open, mount and
 *     the like, module and kexec loading, ioctl TIOCSTI, prlimit64,
 *     setpriority and sched_set* aimed at another process, clone with
 *     namespace flags or CLONE_UNTRACED);
 *   - socket(): only the families P needs (unix with a unix rule or in
 *     learn mode, socketpair() always; netlink route with inet); others
 *     ENOSYS like any syscall not allowed;
 *   - ALLOW: an allowlist of ordinary syscalls;
 *   - everything else, clone3 and numbers libseccomp does not know
 *     included: ENOSYS.
 */
int filter_load(const struct profile *p, char *error);

/* The number of syscall NAME on this architecture, or negative. */
int filter_resolve(const char *name);

/* Is NAME one of the SysV IPC and message queue calls (refused with EPERM,
 * and audited, unless the profile gates it)? */
bool filter_is_ipc(const char *name);

/* The audited object ("setsockopt:SOL_SOCKET:SO_PASSCRED") of a setsockopt
 * option no agent may set, by its LEVEL and NAME (registers, low 32 bits
 * as the kernel reads them), or NULL. */
const char *filter_setsockopt_refused(uint64_t level, uint64_t name);

#endif

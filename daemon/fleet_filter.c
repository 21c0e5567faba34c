/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet client's seccomp allow-list.  zt-exec's filter
 * (seccomp/filter.c) is built from an agent's profile, gates calls to a
 * supervisor and answers ENOSYS; none of that fits a process of ztd's
 * own whose every need is known, so this is its own short list.
 *
 * Found with strace -f on fleet_etcd.sh's clients (TLS to etcd by IP and
 * by name, watches, leases, etcd down and back) and what glibc's resolver
 * and thread start need beside: curl's threaded resolver runs getaddrinfo
 * in a thread for an endpoint given by name.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fleet_filter.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof(*(a)))

/* Unconditional: memory, time, I/O on descriptors it holds, the sockets'
 * own calls (socket() itself is conditional below), threads' upkeep. */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(pread64),
	SCMP_SYS(write), SCMP_SYS(writev),	/* frames, stderr */
	SCMP_SYS(close), SCMP_SYS(lseek), SCMP_SYS(fcntl),
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx),
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(madvise),
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigaction),	/* glibc's first pthread_create */
	SCMP_SYS(sigaltstack),	/* a thread's start under ASan (CI builds it) */
	SCMP_SYS(restart_syscall),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres),
	SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getuid),
	SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(getrandom), SCMP_SYS(uname), SCMP_SYS(sysinfo),
	SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(shutdown),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmmsg),
	/* curl's multi handle wakes itself with a socketpair (7.88) or
	 * an eventfd or pipe (later versions). */
	SCMP_SYS(eventfd2), SCMP_SYS(pipe2),
};

/* The namespaces' clone flags: never, even for a thread. */
#define CLONE_NAMESPACES (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | \
	CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)

static int
add_conditional(scmp_filter_ctx ctx)
{
	static const int families[] = { AF_INET, AF_INET6, AF_UNIX };
	int r = 0;

	/* Files: read-only opens (openssl.cnf, /etc/hosts, resolv.conf,
	 * localtime); nothing is ever created or written. */
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC,
	    O_RDONLY));
	/* No fresh executable memory: PROT_EXEC only on a file mapping
	 * that is not writable (an NSS module dlopen()ed by the resolver;
	 * /dev/zero mapped writable and executable would be anonymous
	 * memory by another name), never added by mprotect. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
		    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 2,
		    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC | PROT_WRITE,
		    PROT_EXEC),
		    SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, 0));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect),
		    1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* Sockets: IP to etcd and DNS, unix for curl's wakeup pair;
	 * netlink route only, for getaddrinfo's interface check. */
	for (size_t i = 0; r == 0 && i < ARRAY_LEN(families); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
		    SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
		    SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair),
		    1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	/* The resolver asks how much a datagram holds. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		    SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	/* Threads (the resolver's) and nothing else: no fork, no
	 * namespace.  clone3's flags are behind a pointer a filter cannot
	 * read: ENOSYS, and glibc falls back to clone. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD | CLONE_VM |
		    CLONE_NAMESPACES, CLONE_THREAD | CLONE_VM));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
		    SCMP_SYS(clone3), 0);
	/* abort() signals itself, and no other process. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	return r;
}

int
fleet_filter_load(void)
{
	scmp_filter_ctx ctx;
	int r;

	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return -EPERM;
	/*
	 * Default: kill the process, not EPERM.  Every call the client
	 * makes is listed; one that is not means a library took a path
	 * nobody checked or the client was taken over.  EPERM would let a
	 * taken-over client keep probing the kernel and a library turn the
	 * error into a quiet misbehaviour; a kill is loud (ztd logs the
	 * client's death with SIGSYS), ends whatever is running there, and
	 * ztd starts a fresh client a moment later while it decides from
	 * its cache.  A foreign architecture (i386, x32) kills too.
	 */
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		return -ENOMEM;
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; r == 0 && i < ARRAY_LEN(allowed); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	if (r == 0)
		r = add_conditional(ctx);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

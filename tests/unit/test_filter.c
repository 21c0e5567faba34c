/* SPDX-License-Identifier: Apache-2.0 */
/* Simulated tests of the agent's seccomp filter: the BPF filter_build()
 * makes, run by a classic BPF interpreter over a table of syscalls. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/fscrypt.h>
#include <linux/fsverity.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "filter.h"
#include "profile.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ERROR_MAX 160
#define PROGRAM_MAX BPF_MAXINSNS
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define X32_BIT 0x40000000u
/* No process has this id (above PID_MAX_LIMIT): harmless if it ran. */
#define OTHER_PID 0x7ffffff0

#define ALLOW SECCOMP_RET_ALLOW
#define NOTIFY SECCOMP_RET_USER_NOTIF
#define EPERM_ (SECCOMP_RET_ERRNO | EPERM)
#define ENOSYS_ (SECCOMP_RET_ERRNO | ENOSYS)
#define ANSWER0 (SECCOMP_RET_ERRNO | 0)	/* returns 0, not run */
#define KILL SECCOMP_RET_KILL_PROCESS
#define SO_PASSRIGHTS_ 83	/* Linux 6.16 */
#define SO_PASSPIDFD_ 76	/* Linux 6.5 */

/* ------------------------------------------------------------ profiles */

enum {
	P_BARE = 1 << 0,	/* files no, no network */
	P_FILES = 1 << 1,	/* files given */
	P_INET = 1 << 2,	/* family inet and inet6 */
	P_LISTS = 1 << 3,	/* deny and gate lists, no network */
};
#define P_ALL (P_BARE | P_FILES | P_INET | P_LISTS)
#define P_NOINET (P_ALL & ~P_INET)
#define P_PLAIN (P_ALL & ~P_LISTS)	/* no deny or gate list */
#define P_UNIX (P_FILES | P_INET)	/* with a unix rule */
#define P_NOUNIX (P_ALL & ~P_UNIX)

static const char *const lists_deny[] = {
	"chmod", "mount", "connect", "listen",
};
static const char *const lists_gate[] = {
	"setuid", "msgget", "mount", "execve",
};

static const struct {
	unsigned bit;
	const char *name;
} profile_names[] = {
	{ P_BARE, "bare" },
	{ P_FILES, "files" },
	{ P_INET, "inet" },
	{ P_LISTS, "lists" },
};

/* Large (PATH_MAX arrays): built in place, one at a time. */
static struct profile profile;

static const struct profile *
profile_make(unsigned bit)
{
	struct profile *p = &profile;

	memset(p, 0, sizeof(*p));
	snprintf(p->agent, sizeof(p->agent), "sim-%u", bit);
	snprintf(p->binary, sizeof(p->binary), "/usr/bin/true");
	p->decision_ttl = 60;
	/* A unix rule in two profiles of the four. */
	p->unix_ = (bit & P_UNIX) != 0;
	switch (bit) {
	case P_FILES:
		p->files_given = true;
		snprintf(p->files[0].path, PATH_MAX, "/srv/data");
		p->files[0].access = PROFILE_R | PROFILE_W;
		snprintf(p->files[1].path, PATH_MAX, "/usr");
		p->files[1].access = PROFILE_R | PROFILE_X;
		p->n_files = 2;
		break;
	case P_INET:
		p->inet = p->inet6 = true;
		break;
	case P_LISTS:
		for (size_t i = 0; i < ARRAY_SIZE(lists_deny); i++)
			snprintf(p->deny[p->n_deny++], 32, "%s", lists_deny[i]);
		for (size_t i = 0; i < ARRAY_SIZE(lists_gate); i++)
			snprintf(p->gate[p->n_gate++], 32, "%s", lists_gate[i]);
		break;
	}
	return p;
}

/* ---------------------------------------------------------------- rows */

/*
 * One syscall and what the filter must answer, for the profiles in
 * PROFILES.  NAME is resolved with filter_resolve() (NULL: NR as given);
 * ARCH 0 is the native one; X32 sets the x32 bit in the number.
 */
struct row {
	int line;
	unsigned profiles;
	const char *name;
	uint32_t expect;
	uint64_t args[6];
	int nr;
	uint32_t arch;
	bool x32;
};
#define ROW(profiles_, name_, expect_, ...) { .line = __LINE__, \
	.profiles = (profiles_), .name = (name_), .expect = (expect_), \
	__VA_ARGS__ }

#define THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | \
	CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS | \
	CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)
/* Garbage in an argument's upper 32 bits (the kernel drops it for int). */
#define HIGH_BITS UINT64_C(0xdeadbeef00000000)

static const struct row rows[] = {
	/* The allowlist. */
	ROW(P_ALL, "read", ALLOW, .args = { 0, 0x1000, 16 }),
	ROW(P_ALL, "write", ALLOW, .args = { 1, 0x1000, 16 }),
	ROW(P_ALL, "close", ALLOW, .args = { 3 }),
	ROW(P_ALL, "openat", ALLOW),
	ROW(P_ALL, "mmap", ALLOW),
	ROW(P_ALL, "exit_group", ALLOW),
	ROW(P_ALL, "recvfrom", ALLOW),
	ROW(P_BARE | P_INET, "chmod", ALLOW),
	ROW(P_PLAIN, "listen", NOTIFY),
	/* setsockopt: never SO_PASSRIGHTS (83), whatever the upper bits: to
	 * the supervisor, which refuses it and has ztd audit it. */
	ROW(P_ALL, "setsockopt", NOTIFY, .args = { 3, SOL_SOCKET, 83 }),
	ROW(P_ALL, "setsockopt", NOTIFY, .args = { 3, HIGH_BITS | SOL_SOCKET,
	    HIGH_BITS | 83 }),
	ROW(P_ALL, "setsockopt", ALLOW, .args = { 3, SOL_SOCKET, SO_REUSEADDR }),
	ROW(P_ALL, "setsockopt", ALLOW, .args = { 3, IPPROTO_TCP, 83 }),
	/* Nor SO_PASSCRED (16) or SO_PASSPIDFD (76): either makes the kernel
	 * bind a unix socket to an abstract address anyone can send to. */
	ROW(P_ALL, "setsockopt", NOTIFY, .args = { 3, SOL_SOCKET, 16 }),
	ROW(P_ALL, "setsockopt", NOTIFY, .args = { 3, HIGH_BITS | SOL_SOCKET,
	    HIGH_BITS | 76 }),
	ROW(P_ALL, "setsockopt", ALLOW, .args = { 3, IPPROTO_TCP, 16 }),
	/* Nor an IPv6 routing header (IPV6_RTHDR 57, IPV6_2292PKTOPTIONS
	 * 6): the kernel would send to its segment, not the destination
	 * decided. */
	ROW(P_ALL, "setsockopt", NOTIFY, .args = { 3, IPPROTO_IPV6, 57 }),
	ROW(P_ALL, "setsockopt", NOTIFY, .args = { 3, HIGH_BITS | IPPROTO_IPV6,
	    HIGH_BITS | 57 }),
	ROW(P_ALL, "setsockopt", NOTIFY, .args = { 3, IPPROTO_IPV6, 6 }),
	ROW(P_ALL, "setsockopt", ALLOW, .args = { 3, IPPROTO_IPV6,
	    IPV6_V6ONLY }),
	ROW(P_ALL, "setsockopt", ALLOW, .args = { 3, IPPROTO_IPV6, 83 }),
	ROW(P_ALL, "setsockopt", ALLOW, .args = { 3, SOL_SOCKET, 57 }),
	ROW(P_ALL, "setsockopt", ALLOW, .args = { 3, IPPROTO_IP, 57 }),
	/* IP_RECVERR (11) and IPV6_RECVERR (25): answered 0 and never set
	 * (ICMP errors from any host would reach the error queue), whatever
	 * the upper bits or the profile's lists. */
	ROW(P_ALL, "setsockopt", ANSWER0, .args = { 3, IPPROTO_IP, 11 }),
	ROW(P_ALL, "setsockopt", ANSWER0, .args = { 3, HIGH_BITS | IPPROTO_IP,
	    HIGH_BITS | 11 }),
	ROW(P_ALL, "setsockopt", ANSWER0, .args = { 3, IPPROTO_IPV6, 25 }),
	ROW(P_ALL, "setsockopt", ALLOW, .args = { 3, IPPROTO_IPV6, 11 }),
	ROW(P_ALL, "setsockopt", ALLOW, .args = { 3, IPPROTO_IP, 25 }),
	/* SysV IPC and message queues: each to the supervisor,
	 * which asks ztd (EPERM and an audit line unless gated). */
	ROW(P_PLAIN, "msgget", NOTIFY),
	ROW(P_ALL, "msgsnd", NOTIFY, .args = { -1ull }),
	ROW(P_ALL, "msgrcv", NOTIFY, .args = { -1ull }),
	ROW(P_ALL, "msgctl", NOTIFY, .args = { -1ull }),
	ROW(P_ALL, "shmget", NOTIFY),
	ROW(P_ALL, "shmat", NOTIFY, .args = { -1ull }),
	ROW(P_ALL, "shmctl", NOTIFY, .args = { -1ull }),
	ROW(P_ALL, "semget", NOTIFY),
	ROW(P_ALL, "semop", NOTIFY, .args = { -1ull }),
	ROW(P_ALL, "semtimedop", NOTIFY, .args = { -1ull }),
	ROW(P_ALL, "semctl", NOTIFY, .args = { -1ull }),
	ROW(P_ALL, "mq_open", NOTIFY),
	ROW(P_ALL, "mq_unlink", NOTIFY),
	ROW(P_ALL, "shmdt", ALLOW),
	/* Path metadata and watches: decided by the supervisor with files,
	 * free without. */
	ROW(P_FILES, "chmod", NOTIFY),
	ROW(P_FILES, "fchmod", NOTIFY),
	ROW(P_FILES, "fchmodat", NOTIFY),
	ROW(P_FILES, "chown", NOTIFY),
	ROW(P_FILES, "fchown", NOTIFY),
	ROW(P_FILES, "lchown", NOTIFY),
	ROW(P_FILES, "fchownat", NOTIFY),
	ROW(P_FILES, "utime", NOTIFY),
	ROW(P_FILES, "utimes", NOTIFY),
	ROW(P_FILES, "futimesat", NOTIFY),
	ROW(P_FILES, "utimensat", NOTIFY),
	ROW(P_FILES, "setxattr", NOTIFY),
	ROW(P_FILES, "lsetxattr", NOTIFY),
	ROW(P_FILES, "fsetxattr", NOTIFY),
	ROW(P_FILES, "removexattr", NOTIFY),
	ROW(P_FILES, "lremovexattr", NOTIFY),
	ROW(P_FILES, "fremovexattr", NOTIFY),
	ROW(P_FILES, "inotify_add_watch", NOTIFY),
	ROW(P_FILES, "getxattr", ALLOW),
	ROW(P_BARE | P_INET, "fchownat", ALLOW),
	ROW(P_BARE | P_INET, "utimensat", ALLOW),
	ROW(P_BARE | P_INET, "fsetxattr", ALLOW),
	ROW(P_BARE | P_INET, "inotify_add_watch", ALLOW),
	ROW(P_PLAIN, "setuid", ALLOW),
	ROW(P_ALL, "setrlimit", ALLOW),
	/* Gated: the supervisor decides. */
	ROW(P_ALL, "execve", NOTIFY),
	ROW(P_ALL, "execveat", NOTIFY),
	ROW(P_PLAIN, "connect", NOTIFY),
	ROW(P_ALL, "bind", NOTIFY),
	ROW(P_ALL, "sendmsg", NOTIFY),
	ROW(P_ALL, "sendmmsg", NOTIFY),
	ROW(P_ALL, "sendto", NOTIFY, .args = { 3, 0x1000, 16, 0, 0x2000, 16 }),
	ROW(P_ALL, "sendto", NOTIFY, .args = { 3, 0x1000, 16, 0, 1ull << 32 }),
	ROW(P_ALL, "sendto", ALLOW, .args = { 3, 0x1000, 16, 0, 0, 0 }),
	/* What no agent may do (harmless arguments, should one run). */
	ROW(P_ALL, "ptrace", EPERM_, .args = { -1ull }),
	ROW(P_ALL, "process_vm_readv", EPERM_, .args = { OTHER_PID }),
	ROW(P_ALL, "process_vm_writev", EPERM_, .args = { OTHER_PID }),
	ROW(P_ALL, "io_uring_setup", EPERM_),
	ROW(P_ALL, "io_uring_enter", EPERM_, .args = { -1ull }),
	ROW(P_ALL, "io_uring_register", EPERM_, .args = { -1ull }),
	ROW(P_ALL, "bpf", EPERM_, .args = { -1ull }),
	ROW(P_ALL, "seccomp", EPERM_, .args = { -1ull }),
	ROW(P_ALL, "userfaultfd", EPERM_, .args = { -1ull }),
	ROW(P_ALL, "unshare", EPERM_, .args = { CLONE_NEWUSER | 1ull << 63 }),
	ROW(P_ALL, "setns", EPERM_, .args = { -1ull }),
	ROW(P_ALL, "keyctl", EPERM_, .args = { -1ull }),
	ROW(P_ALL, "perf_event_open", EPERM_),
	ROW(P_ALL, "mount", EPERM_),
	ROW(P_ALL, "init_module", EPERM_),
	ROW(P_ALL, "kexec_load", EPERM_, .args = { 0, 0, 0, -1ull }),
	ROW(P_ALL, "pidfd_getfd", EPERM_, .args = { -1ull }),
	/* prctl: some options, the dangerous ones refused. */
	ROW(P_ALL, "prctl", EPERM_, .args = { PR_SET_DUMPABLE, 1 }),
	ROW(P_ALL, "prctl", EPERM_, .args = { PR_SET_SECCOMP, -1ull }),
	ROW(P_ALL, "prctl", EPERM_, .args = { PR_SET_PTRACER, 0 }),
	ROW(P_ALL, "prctl", EPERM_, .args = { PR_SET_MM, -1ull }),
	ROW(P_ALL, "prctl", ALLOW, .args = { PR_SET_NAME, 0x1000 }),
	ROW(P_ALL, "prctl", ALLOW, .args = { PR_SET_NO_NEW_PRIVS, 1 }),
	ROW(P_ALL, "prctl", ENOSYS_, .args = { 1000 }),
	/* the kernel reads an int: refused all the same, as unknown */
	ROW(P_ALL, "prctl", ENOSYS_, .args = { HIGH_BITS | PR_SET_DUMPABLE }),
	ROW(P_ALL, "prctl", ENOSYS_, .args = { HIGH_BITS | PR_SET_NAME }),
	/* ioctl: no faking terminal input; the kernel reads cmd as 32 bits. */
	ROW(P_ALL, "ioctl", EPERM_, .args = { 0, TIOCSTI, 0 }),
	ROW(P_ALL, "ioctl", EPERM_, .args = { 0, HIGH_BITS | TIOCSTI, 0 }),
	ROW(P_ALL, "ioctl", ALLOW, .args = { 0, TIOCGWINSZ, 0x1000 }),
	ROW(P_ALL, "ioctl", ALLOW, .args = { 0, FIONREAD, 0x1000 }),
	ROW(P_ALL, "ioctl", ALLOW, .args = { 0, TIOCSTI ^ 1, 0x1000 }),
	ROW(P_ALL, "ioctl", ALLOW, .args = { 0, TIOCSTI ^ 0x80000000u, 0 }),
	ROW(P_ALL, "ioctl", ALLOW, .args = { 0, HIGH_BITS | TCGETS, 0x1000 }),
	/* With files, what changes the file behind a descriptor opened for
	 * reading: decided (filecall.c), or refused. */
	ROW(P_FILES, "ioctl", NOTIFY, .args = { 3, FS_IOC_SETFLAGS, 0x1000 }),
	ROW(P_FILES, "ioctl", NOTIFY,
	    .args = { 3, HIGH_BITS | FS_IOC_SETFLAGS, 0x1000 }),
	ROW(P_FILES, "ioctl", NOTIFY, .args = { 3, FS_IOC32_SETFLAGS, 0 }),
	ROW(P_FILES, "ioctl", NOTIFY, .args = { 3, FS_IOC_SETVERSION, 0 }),
	ROW(P_FILES, "ioctl", NOTIFY, .args = { 3, FS_IOC32_SETVERSION, 0 }),
	ROW(P_FILES, "ioctl", NOTIFY, .args = { 3, FS_IOC_FSSETXATTR, 0 }),
	ROW(P_FILES, "ioctl", EPERM_,
	    .args = { 3, FS_IOC_SET_ENCRYPTION_POLICY, 0 }),
	ROW(P_FILES, "ioctl", EPERM_, .args = { 3, FS_IOC_ENABLE_VERITY, 0 }),
	ROW(P_FILES, "ioctl", EPERM_, .args = { 0, TIOCSTI, 0 }),
	ROW(P_FILES, "ioctl", ALLOW, .args = { 3, FS_IOC_GETFLAGS, 0x1000 }),
	ROW(P_FILES, "ioctl", ALLOW, .args = { 3, FS_IOC_FSGETXATTR, 0 }),
	ROW(P_FILES, "ioctl", ALLOW, .args = { 3, FS_IOC_SETFLAGS ^ 4, 0 }),
	ROW(P_FILES, "ioctl", ALLOW, .args = { 0, TIOCGWINSZ, 0x1000 }),
	ROW(P_BARE | P_INET, "ioctl", ALLOW,
	    .args = { 3, FS_IOC_SETFLAGS, 0x1000 }),
	ROW(P_BARE | P_INET, "ioctl", ALLOW,
	    .args = { 3, FS_IOC_FSSETXATTR, 0x1000 }),
	/* clone: threads and children, not namespaces or untraced. */
	ROW(P_ALL, "clone", ALLOW, .args = { THREAD_FLAGS }),
	ROW(P_ALL, "clone", ALLOW, .args = { SIGCHLD }),
	ROW(P_ALL, "clone", EPERM_, .args = { CLONE_NEWUSER | SIGCHLD }),
	ROW(P_ALL, "clone", EPERM_, .args = { THREAD_FLAGS | CLONE_NEWNET }),
	ROW(P_ALL, "clone", EPERM_, .args = { CLONE_NEWNS }),
	ROW(P_ALL, "clone", EPERM_, .args = { CLONE_NEWPID | CLONE_NEWIPC }),
	ROW(P_ALL, "clone", EPERM_, .args = { CLONE_UNTRACED | SIGCHLD }),
	ROW(P_ALL, "clone", EPERM_, .args = { 0x80 /* CLONE_NEWTIME */ }),
	ROW(P_ALL, "clone", EPERM_, .args = { HIGH_BITS | CLONE_NEWUSER }),
	ROW(P_ALL, "clone3", ENOSYS_),
	/* socket: unix with a unix rule, inet and netlink route with
	 * inet. */
	ROW(P_UNIX, "socket", ALLOW, .args = { AF_UNIX, SOCK_STREAM }),
	ROW(P_NOUNIX, "socket", ENOSYS_, .args = { AF_UNIX, SOCK_STREAM }),
	ROW(P_NOUNIX, "socket", ENOSYS_, .args = { AF_UNIX, SOCK_STREAM |
	    SOCK_CLOEXEC | SOCK_NONBLOCK }),
	ROW(P_NOUNIX, "socket", ENOSYS_, .args = { AF_UNIX, SOCK_SEQPACKET }),
	ROW(P_ALL, "socketpair", ALLOW, .args = { AF_UNIX, SOCK_STREAM }),
	ROW(P_INET, "socket", ALLOW, .args = { AF_INET, SOCK_STREAM }),
	/* An inet datagram socket: made by the supervisor, deaf. */
	ROW(P_INET, "socket", NOTIFY, .args = { AF_INET6, SOCK_DGRAM }),
	ROW(P_INET, "socket", NOTIFY, .args = { AF_INET, SOCK_DGRAM |
	    SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP }),
	ROW(P_INET, "socket", NOTIFY, .args = { AF_INET, SOCK_DGRAM,
	    IPPROTO_ICMP }),
	ROW(P_INET, "socket", ALLOW, .args = { AF_INET6, SOCK_STREAM |
	    SOCK_CLOEXEC }),
	ROW(P_INET, "socket", ALLOW, .args = { AF_INET, 0 }),
	ROW(P_INET, "socket", ALLOW, .args = { AF_INET, SOCK_RAW }),
	ROW(P_INET, "socket", ALLOW, .args = { AF_INET6, SOCK_SEQPACKET }),
	ROW(P_INET, "socket", ALLOW, .args = { AF_INET, SOCK_PACKET }),
	ROW(P_INET, "socket", ALLOW, .args = { AF_INET, 15 }),
	/* Unix datagram sockets always (glibc's __opensock, syslog). */
	ROW(P_ALL, "socket", ALLOW, .args = { AF_UNIX, SOCK_DGRAM }),
	ROW(P_ALL, "socket", ALLOW, .args = { AF_UNIX, SOCK_DGRAM |
	    SOCK_CLOEXEC | SOCK_NONBLOCK }),
	ROW(P_NOUNIX, "socket", ENOSYS_, .args = { AF_UNIX, SOCK_RAW }),
	ROW(P_NOUNIX, "socket", ENOSYS_, .args = { AF_UNIX, 0 }),
	ROW(P_NOUNIX, "socket", ENOSYS_, .args = { AF_UNIX, 10 | SOCK_DGRAM }),
	ROW(P_NOINET, "socket", ENOSYS_, .args = { AF_INET, SOCK_STREAM }),
	ROW(P_NOINET, "socket", ENOSYS_, .args = { AF_INET6, SOCK_DGRAM }),
	ROW(P_INET, "socket", ALLOW,
	    .args = { AF_NETLINK, SOCK_RAW, NETLINK_ROUTE }),
	ROW(P_NOINET, "socket", ENOSYS_,
	    .args = { AF_NETLINK, SOCK_RAW, NETLINK_ROUTE }),
	ROW(P_ALL, "socket", ENOSYS_,
	    .args = { AF_NETLINK, SOCK_RAW, NETLINK_AUDIT }),
	ROW(P_ALL, "socket", ENOSYS_, .args = { AF_PACKET, SOCK_RAW }),
	ROW(P_ALL, "socket", ENOSYS_, .args = { HIGH_BITS | AF_UNIX }),
	/* Aimed at oneself only. */
	ROW(P_ALL, "prlimit64", ALLOW, .args = { 0, RLIMIT_NOFILE }),
	ROW(P_ALL, "prlimit64", EPERM_, .args = { OTHER_PID, RLIMIT_NOFILE }),
	ROW(P_ALL, "prlimit64", EPERM_, .args = { HIGH_BITS }),
	ROW(P_ALL, "setpriority", ALLOW, .args = { PRIO_PROCESS, 0, 5 }),
	ROW(P_ALL, "setpriority", EPERM_, .args = { PRIO_PROCESS, OTHER_PID }),
	ROW(P_ALL, "setpriority", EPERM_, .args = { PRIO_USER, 0, 5 }),
	ROW(P_ALL, "sched_setaffinity", ALLOW, .args = { 0, 8, 0x1000 }),
	ROW(P_ALL, "sched_setaffinity", EPERM_, .args = { OTHER_PID }),
	ROW(P_ALL, "ioprio_set", EPERM_, .args = { 1, OTHER_PID }),
	/* Numbers and architectures. */
	ROW(P_ALL, NULL, ENOSYS_, .nr = 1000),
	ROW(P_ALL, NULL, ENOSYS_, .nr = -1),
	ROW(P_ALL, "read", KILL, .arch = AUDIT_ARCH_I386),
	ROW(P_ALL, "execve", KILL, .arch = AUDIT_ARCH_I386),
	ROW(P_ALL, "read", KILL, .arch = AUDIT_ARCH_AARCH64),
	ROW(P_ALL, "read", KILL, .arch = 0xffffffff),
	/* x32: the same arch word, the number with bit 30 set */
	ROW(P_ALL, "read", KILL, .x32 = true),
	ROW(P_ALL, "ptrace", KILL, .x32 = true),
	ROW(P_ALL, NULL, KILL, .nr = X32_BIT | 520 /* x32 execve */),
	/* The profile's lists: deny first, then gate. */
	ROW(P_LISTS, "chmod", EPERM_),
	ROW(P_LISTS, "mount", EPERM_),
	ROW(P_LISTS, "connect", EPERM_),
	ROW(P_LISTS, "listen", EPERM_),
	ROW(P_LISTS, "setuid", NOTIFY),
	ROW(P_LISTS, "msgget", NOTIFY),
};

/* ----------------------------------------------------------- simulator */

/*
 * Run PROG (N instructions) over D as the kernel would, for the
 * instructions libseccomp emits.  Returns 0 with *RET set, or -1 with
 * WHY (ERROR_MAX bytes) set: an unknown instruction, a jump or load out
 * of bounds, scratch memory read before written, or no RET at the end.
 */
static int
simulate(const struct sock_filter *prog, size_t n,
    const struct seccomp_data *d, uint32_t *ret, char *why)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS];
	unsigned mem_set = 0;
	size_t pc = 0;

	while (pc < n) {
		const struct sock_filter *in = &prog[pc];
		uint32_t k = in->k, word;
		size_t next = pc + 1;

		switch (in->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (k % 4 != 0 || k > sizeof(*d) - 4)
				goto bad_load;
			memcpy(&word, (const char *)d + k, 4);
			a = word;
			break;
		case BPF_LD | BPF_MEM:
		case BPF_LDX | BPF_MEM:
			if (k >= BPF_MEMWORDS || !(mem_set & 1u << k))
				goto bad_load;
			if (BPF_CLASS(in->code) == BPF_LD)
				a = mem[k];
			else
				x = mem[k];
			break;
		case BPF_ST:
		case BPF_STX:
			if (k >= BPF_MEMWORDS)
				goto bad_load;
			mem[k] = BPF_CLASS(in->code) == BPF_ST ? a : x;
			mem_set |= 1u << k;
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			a &= k;
			break;
		case BPF_ALU | BPF_OR | BPF_K:
			a |= k;
			break;
		case BPF_MISC | BPF_TAX:
			x = a;
			break;
		case BPF_MISC | BPF_TXA:
			a = x;
			break;
		case BPF_JMP | BPF_JA:
			if (k >= n - next)
				goto bad_jump;
			next += k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
		case BPF_JMP | BPF_JGT | BPF_K:
		case BPF_JMP | BPF_JGE | BPF_K:
		case BPF_JMP | BPF_JSET | BPF_K: {
			bool taken;

			if (in->jt >= n - next || in->jf >= n - next)
				goto bad_jump;
			switch (BPF_OP(in->code)) {
			case BPF_JEQ:
				taken = a == k;
				break;
			case BPF_JGT:
				taken = a > k;
				break;
			case BPF_JGE:
				taken = a >= k;
				break;
			default:
				taken = (a & k) != 0;
				break;
			}
			next += taken ? in->jt : in->jf;
			break;
		}
		case BPF_RET | BPF_K:
			*ret = k;
			return 0;
		default:
			snprintf(why, ERROR_MAX, "instruction %zu: code %#x "
			    "not simulated", pc, in->code);
			return -1;
		}
		pc = next;
	}
	snprintf(why, ERROR_MAX, "ran off the end (%zu instructions)", n);
	return -1;
bad_load:
	snprintf(why, ERROR_MAX, "instruction %zu: load or store %u out of "
	    "bounds or unset", pc, prog[pc].k);
	return -1;
bad_jump:
	snprintf(why, ERROR_MAX, "instruction %zu: jump beyond the end", pc);
	return -1;
}

static const char *
action_name(uint32_t ret, char buf[32])
{
	uint32_t data = ret & SECCOMP_RET_DATA;

	switch (ret & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_ALLOW:
		return "ALLOW";
	case SECCOMP_RET_USER_NOTIF:
		return "USER_NOTIF";
	case SECCOMP_RET_KILL_PROCESS:
		return "KILL_PROCESS";
	case SECCOMP_RET_KILL_THREAD:
		return "KILL_THREAD";
	case SECCOMP_RET_TRAP:
		return "TRAP";
	case SECCOMP_RET_TRACE:
		return "TRACE";
	case SECCOMP_RET_LOG:
		return "LOG";
	case SECCOMP_RET_ERRNO:
		if (data == EPERM)
			return "ERRNO(EPERM)";
		if (data == ENOSYS)
			return "ERRNO(ENOSYS)";
		snprintf(buf, 32, "ERRNO(%u)", data);
		return buf;
	}
	snprintf(buf, 32, "%#x", ret);
	return buf;
}

/* "name(args) [arch]" for messages; -1 if the name does not resolve. */
static int
row_data(const struct row *row, struct seccomp_data *d, char *desc,
    size_t size)
{
	int nr = row->name != NULL ? filter_resolve(row->name) : row->nr;
	int len;

	if (row->name != NULL && nr < 0) {
		snprintf(desc, size, "%s (unknown syscall name)", row->name);
		return -1;
	}
	memset(d, 0, sizeof(*d));
	d->nr = row->x32 ? (int)((uint32_t)nr | X32_BIT) : nr;
	d->arch = row->arch != 0 ? row->arch : NATIVE_ARCH;
	d->instruction_pointer = 0x401000;
	memcpy(d->args, row->args, sizeof(d->args));
	len = row->name != NULL ? snprintf(desc, size, "%s(", row->name) :
	    snprintf(desc, size, "nr %#x(", (uint32_t)d->nr);
	for (size_t i = 0; i < 6 && len > 0 && (size_t)len < size; i++)
		len += snprintf(desc + len, size - len, "%s%#llx",
		    i > 0 ? ", " : "", (unsigned long long)row->args[i]);
	if (len > 0 && (size_t)len < size)
		snprintf(desc + len, size - len, ")%s%s",
		    row->x32 ? " x32" : "", row->arch == 0 ? "" :
		    row->arch == AUDIT_ARCH_I386 ? " i386" : " foreign arch");
	return 0;
}

/* Build and export the filter of profile BIT; returns its length. */
static size_t
export_profile(unsigned bit, struct sock_filter *prog)
{
	char error[ERROR_MAX] = "";
	struct filter *f;
	int n;

	if (filter_build(profile_make(bit), &f, error) < 0)
		fail_msg("filter_build: %s", error);
	n = filter_export_bpf(f, prog, PROGRAM_MAX, error);
	filter_free(f);
	if (n < 0)
		fail_msg("filter_export_bpf: %s", error);
	return (size_t)n;
}

/* ---------------------------------------------------------------- tests */

static void
test_profile(void **state)
{
	static struct sock_filter prog[PROGRAM_MAX];
	const unsigned bit = *(const unsigned *)*state;
	const char *pname = NULL;
	unsigned checked = 0, failed = 0;
	size_t n;

	for (size_t i = 0; i < ARRAY_SIZE(profile_names); i++)
		if (profile_names[i].bit == bit)
			pname = profile_names[i].name;
	assert_non_null(pname);
	n = export_profile(bit, prog);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *row = &rows[i];
		struct seccomp_data d;
		char desc[256], why[ERROR_MAX], b1[32], b2[32];
		uint32_t got;

		if (!(row->profiles & bit))
			continue;
		checked++;
		if (row_data(row, &d, desc, sizeof(desc)) < 0) {
			print_error("%s:%d: %s\n", __FILE__, row->line, desc);
			failed++;
		} else if (simulate(prog, n, &d, &got, why) < 0) {
			print_error("%s:%d: profile %s: %s: the program is "
			    "broken: %s\n", __FILE__, row->line, pname, desc,
			    why);
			failed++;
		} else if (got != row->expect) {
			print_error("%s:%d: profile %s: %s: expected %s, got "
			    "%s\n", __FILE__, row->line, pname, desc,
			    action_name(row->expect, b1), action_name(got, b2));
			failed++;
		}
	}
	if (failed > 0)
		fail_msg("profile %s: %u of %u rows failed (%zu instructions)",
		    pname, failed, checked, n);
	assert_true(checked > 0);
}

/* One call D of a sweep through PROG (N instructions): does it get EXPECT?
 * The first ten that do not are printed, by NAME and arguments 1 and 2;
 * *FAILED counts them all. */
static void
sweep_check(const struct sock_filter *prog, size_t n,
    const struct seccomp_data *d, uint32_t expect, const char *name,
    unsigned *failed)
{
	char why[ERROR_MAX], b1[32], b2[32];
	uint32_t got;

	if (simulate(prog, n, d, &got, why) < 0 || got != expect) {
		if ((*failed)++ < 10)
			print_error("%s(3, %#llx, %#llx): expected %s, got "
			    "%s\n", name, (unsigned long long)d->args[1],
			    (unsigned long long)d->args[2],
			    action_name(expect, b1), action_name(got, b2));
	}
}

/*
 * ioctl's command, as the kernel reads it (32 bits), swept: each value the
 * filter singles out, its neighbours one bit away and pseudo-random
 * values, under random upper bits, each with the action it must get.
 */
static void
test_ioctl_sweep(void **state)
{
	static struct sock_filter prog[PROGRAM_MAX];
	static const struct {
		uint32_t cmd;
		uint32_t files, bare;
	} special[] = {
		{ TIOCSTI, EPERM_, EPERM_ },
		{ FS_IOC_SETFLAGS, NOTIFY, ALLOW },
		{ FS_IOC32_SETFLAGS, NOTIFY, ALLOW },
		{ FS_IOC_SETVERSION, NOTIFY, ALLOW },
		{ FS_IOC32_SETVERSION, NOTIFY, ALLOW },
		{ FS_IOC_FSSETXATTR, NOTIFY, ALLOW },
		{ FS_IOC_SET_ENCRYPTION_POLICY, EPERM_, ALLOW },
		{ FS_IOC_ENABLE_VERITY, EPERM_, ALLOW },
	};
	static const unsigned bits[] = { P_FILES, P_BARE };
	uint64_t seed = 0x9e3779b97f4a7c15u;
	unsigned failed = 0, checked = 0;

	(void)state;
	for (size_t b = 0; b < ARRAY_SIZE(bits); b++) {
		size_t n = export_profile(bits[b], prog);

		for (unsigned k = 0; k < 4000; k++) {
			struct seccomp_data d = { .nr = filter_resolve("ioctl"),
			    .arch = NATIVE_ARCH };
			uint32_t cmd, expect = ALLOW;

			seed = seed * 6364136223846793005u + 1442695040888963407u;
			if (k < ARRAY_SIZE(special) * 33) {
				cmd = special[k / 33].cmd;
				if (k % 33 != 0)
					cmd ^= 1u << (k % 33 - 1);
			} else
				cmd = (uint32_t)(seed >> 17);
			for (size_t i = 0; i < ARRAY_SIZE(special); i++)
				if (special[i].cmd == cmd) {
					expect = bits[b] == P_FILES ?
					    special[i].files : special[i].bare;
				}
			d.args[1] = (seed & 0xffffffff00000000u) | cmd;
			checked++;
			sweep_check(prog, n, &d, expect, "ioctl", &failed);
		}
	}
	if (failed > 0)
		fail_msg("ioctl sweep: %u of %u commands wrong", failed,
		    checked);
}

/*
 * setsockopt over a sweep of (level, option) pairs: the refused pairs
 * (SO_PASSRIGHTS, SO_PASSCRED, SO_PASSPIDFD, IPV6_RTHDR,
 * IPV6_2292PKTOPTIONS) and those answered 0 (IP_RECVERR, IPV6_RECVERR:
 * the last two), each with its level or
 * option one bit away, other levels and options, pseudo-random ones, all
 * under random upper bits: NOTIFY (the supervisor refuses and audits) for
 * a refused pair only, and the supervisor's table names exactly those;
 * ALLOW for the rest (the filter builds "not in" from per-level rules).
 */
static void
test_setsockopt_sweep(void **state)
{
	static struct sock_filter prog[PROGRAM_MAX];
	static const uint32_t refused[][2] = {
		{ SOL_SOCKET, 83 }, { SOL_SOCKET, 16 }, { SOL_SOCKET, 76 },
		{ IPPROTO_IPV6, 57 }, { IPPROTO_IPV6, 6 },
		{ IPPROTO_IP, 11 }, { IPPROTO_IPV6, 25 },	/* answered 0 */
	};
	static const uint32_t others[][2] = {
		{ IPPROTO_IP, 4 }, { IPPROTO_TCP, 57 }, { IPPROTO_IPV6, 26 },
		{ SOL_SOCKET, 6 }, { IPPROTO_IP, 83 },
	};
	uint64_t seed = 0x2545f4914f6cdd1du;
	unsigned failed = 0, checked = 0;
	size_t n;

	(void)state;
	n = export_profile(P_INET, prog);
	for (unsigned k = 0; k < 6000; k++) {
		struct seccomp_data d = { .nr = filter_resolve("setsockopt"),
		    .arch = NATIVE_ARCH };
		uint32_t level, name, expect = ALLOW;
		unsigned pick = k % 200;

		seed = seed * 6364136223846793005u + 1442695040888963407u;
		if (pick < ARRAY_SIZE(refused) * 26) {
			/* A refused pair, as is or one bit of its level
			 * (pick % 26 in 1..13) or option (14..25) flipped. */
			level = refused[pick / 26][0];
			name = refused[pick / 26][1];
			if (pick % 26 >= 1 && pick % 26 <= 13)
				level ^= 1u << (seed >> 59 & 31);
			else if (pick % 26 >= 14)
				name ^= 1u << (seed >> 59 & 31);
		} else if (k % 2 == 0) {
			level = others[(seed >> 40) % ARRAY_SIZE(others)][0];
			name = others[(seed >> 40) % ARRAY_SIZE(others)][1];
		} else {
			level = (uint32_t)(seed >> 13);
			name = (uint32_t)(seed >> 31);
		}
		for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
			if (refused[i][0] == level && refused[i][1] == name)
				expect = i + 2 < ARRAY_SIZE(refused) ? NOTIFY :
				    ANSWER0;
		d.args[0] = 3;
		d.args[1] = (seed & 0xffffffff00000000u) | level;
		d.args[2] = (seed << 32) | name;
		checked++;
		sweep_check(prog, n, &d, expect, "setsockopt", &failed);
		/* The supervisor refuses exactly what the filter sends it
		 * (a gated setsockopt would otherwise be ztd's to allow). */
		if ((filter_setsockopt_refused(d.args[1], d.args[2]) != NULL) !=
		    (expect == NOTIFY))
			failed++;
	}
	if (failed > 0)
		fail_msg("setsockopt sweep: %u of %u pairs wrong", failed,
		    checked);
}

/*
 * filter_build's program (setsockopt's and ioctl's decisions in its BPF
 * prefix) against filter_build_reference's (libseccomp's rules alone, as
 * the filter was before the prefix), run side by side by the simulator:
 * the same answer for every call of a sweep, in every profile, and in two
 * more (setsockopt gated; setsockopt and ioctl denied).  The sweep: every
 * value either program singles out (the refused setsockopt levels and
 * options, ioctl's commands), each one above and below and with one bit
 * flipped, under upper 32 bits clear, all set or random; other levels and
 * pseudo-random values; the same calls from a foreign architecture and as
 * x32 numbers; and every other syscall number up to 1023 (and x32's) with
 * random arguments.
 */
enum { V_SO_GATED = 1 << 8, V_DENIED = 1 << 9, V_SCATTERED = 1 << 10 };

static void
export_variant(unsigned v, bool reference, struct sock_filter *prog,
    size_t *n)
{
	struct profile *p = (struct profile *)profile_make(v & 0xff);
	char error[ERROR_MAX] = "";
	struct filter *f;
	int r;

	if (v & V_SO_GATED)
		snprintf(p->gate[p->n_gate++], 32, "setsockopt");
	if (v & V_DENIED) {
		snprintf(p->deny[p->n_deny++], 32, "setsockopt");
		snprintf(p->deny[p->n_deny++], 32, "ioctl");
	}
	/* Every odd syscall number denied, as many as a list holds: a
	 * table of hundreds of runs, past what the prefix's jumps reach
	 * (filter_build then leaves those rules to libseccomp). */
	for (int nr = 1; (v & V_SCATTERED) && p->n_deny < PROFILE_ITEMS_MAX &&
	    nr < 1024; nr += 2) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE,
		    nr);

		if (name != NULL)
			snprintf(p->deny[p->n_deny++], 32, "%s", name);
		free(name);
	}
	if ((reference ? filter_build_reference(p, &f, error) :
	    filter_build(p, &f, error)) < 0)
		fail_msg("filter_build%s: %s", reference ? "_reference" : "",
		    error);
	r = filter_export_bpf(f, prog, PROGRAM_MAX, error);
	filter_free(f);
	if (r < 0)
		fail_msg("filter_export_bpf: %s", error);
	*n = (size_t)r;
}

/* Does PROG (N instructions) answer D otherwise than REF (N_REF)?  The
 * first ten differences (FAILED so far) of VARIANT are printed. */
static unsigned
sweep_differs(const struct sock_filter *prog, size_t n,
    const struct sock_filter *ref, size_t n_ref,
    const struct seccomp_data *d, unsigned variant, unsigned failed)
{
	uint32_t got, want;
	char why[ERROR_MAX], b1[32], b2[32];

	if (simulate(ref, n_ref, d, &want, why) < 0)
		fail_msg("reference: %s", why);
	if (simulate(prog, n, d, &got, why) == 0 && got == want)
		return 0;
	if (failed < 10)
		print_error("variant %#x: nr %#x arch %#x (%#llx, %#llx, "
		    "%#llx): reference %s, got %s\n", variant,
		    (unsigned)d->nr, d->arch,
		    (unsigned long long)d->args[0],
		    (unsigned long long)d->args[1],
		    (unsigned long long)d->args[2], action_name(want, b1),
		    action_name(got, b2));
	return 1;
}

/*
 * Whether the kernel's emulation of a new filter (seccomp_cache_prepare,
 * seccomp_is_const_allow) finds PROG (N instructions) allowing syscall NR
 * of the native architecture whatever its arguments: it follows loads of
 * nr and arch, jumps on constants, AND and RET only.  A syscall it finds
 * so never runs the filter again (the ungated syscall figure).
 */
static bool
const_allowed(const struct sock_filter *prog, size_t n, int nr)
{
	uint32_t a = 0;

	for (size_t pc = 0; pc < n; pc++) {
		const struct sock_filter *in = &prog[pc];
		bool taken;

		switch (in->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (in->k == offsetof(struct seccomp_data, nr))
				a = (uint32_t)nr;
			else if (in->k == offsetof(struct seccomp_data, arch))
				a = NATIVE_ARCH;
			else
				return false;
			break;
		case BPF_RET | BPF_K:
			return in->k == SECCOMP_RET_ALLOW;
		case BPF_JMP | BPF_JA:
			pc += in->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
		case BPF_JMP | BPF_JGE | BPF_K:
		case BPF_JMP | BPF_JGT | BPF_K:
		case BPF_JMP | BPF_JSET | BPF_K:
			taken = BPF_OP(in->code) == BPF_JEQ ? a == in->k :
			    BPF_OP(in->code) == BPF_JGE ? a >= in->k :
			    BPF_OP(in->code) == BPF_JGT ? a > in->k :
			    (a & in->k) != 0;
			pc += taken ? in->jt : in->jf;
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			a &= in->k;
			break;
		default:
			return false;
		}
	}
	return false;
}

static void
test_reference_sweep(void **state)
{
	static struct sock_filter prog[PROGRAM_MAX], ref[PROGRAM_MAX];
	static const unsigned variants[] = {
		P_BARE, P_FILES, P_INET, P_LISTS, P_INET | V_SO_GATED,
		P_FILES | V_SO_GATED, P_FILES | V_DENIED, P_INET | V_DENIED,
		P_INET | V_SCATTERED,
	};
	static const uint32_t values[] = {
		/* setsockopt's levels and options */
		SOL_SOCKET, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP,
		IPPROTO_UDP, SO_PASSRIGHTS_, SO_PASSCRED, SO_PASSPIDFD_,
		SO_ATTACH_FILTER, SO_ATTACH_BPF, SO_DETACH_FILTER,
		SO_LOCK_FILTER, IPV6_RTHDR, IPV6_2292PKTOPTIONS, IP_RECVERR,
		IPV6_RECVERR, 0, 0xffffffffu, 0x80000000u,
		/* ioctl's commands */
		TIOCSTI, FS_IOC_SETFLAGS, FS_IOC32_SETFLAGS,
		FS_IOC_SETVERSION, FS_IOC32_SETVERSION, FS_IOC_FSSETXATTR,
		FS_IOC_SET_ENCRYPTION_POLICY, FS_IOC_ENABLE_VERITY,
		FS_IOC_GETFLAGS, FIONREAD, TCGETS,
	};
	static const uint32_t arches[] = { NATIVE_ARCH, AUDIT_ARCH_I386 };
	const int nrs[] = { filter_resolve("setsockopt"),
	    filter_resolve("ioctl") };
	uint64_t seed = 0x853c49e6748fea9bu;
	unsigned failed = 0, checked = 0, checked_nrs = 0;

	(void)state;
	assert_true(nrs[0] > 0 && nrs[1] > 0);
	for (size_t v = 0; v < ARRAY_SIZE(variants); v++) {
		size_t n, n_ref;

		export_variant(variants[v], false, prog, &n);
		export_variant(variants[v], true, ref, &n_ref);
		if (variants[v] == P_INET || variants[v] & V_SCATTERED)
			print_message("%s profile: %zu instructions, "
			    "libseccomp alone %zu\n", variants[v] &
			    V_SCATTERED ? "scattered denials' inet" : "inet",
			    n, n_ref);
		if (!(variants[v] & V_DENIED))
			assert_true(n < n_ref);	/* the point of it */
		/* Allowed syscalls stay off the filter after its load, as
		 * with libseccomp's program. */
		if (!const_allowed(prog, n, filter_resolve("getppid")) ||
		    !const_allowed(prog, n, filter_resolve("read")) ||
		    !const_allowed(ref, n_ref, filter_resolve("getppid")))
			fail_msg("variant %#x: getppid or read not allowed "
			    "by the kernel's emulation of the filter",
			    variants[v]);
		for (unsigned k = 0; k < 60000; k++) {
			struct seccomp_data d = { .arch = NATIVE_ARCH };
			uint32_t a[2];
			uint64_t upper[2];

			for (int j = 0; j < 2; j++) {
				seed = seed * 6364136223846793005u +
				    1442695040888963407u;
				a[j] = seed >> 60 < 12 ?
				    values[(seed >> 20) % ARRAY_SIZE(values)] :
				    (uint32_t)(seed >> 24);
				switch (seed >> 56 & 3) {
				case 0:
					a[j]++;
					break;
				case 1:
					a[j]--;
					break;
				case 2:
					a[j] ^= 1u << (seed >> 8 & 31);
					break;
				}
				switch (seed >> 4 & 3) {
				case 0:
				case 1:
					upper[j] = 0;
					break;
				case 2:
					upper[j] = 0xffffffffu;
					break;
				default:
					upper[j] = seed >> 32;
					break;
				}
			}
			d.nr = k % 8 == 7 ? (int)(seed >> 40) % 1024 :
			    nrs[k % 2];
			if (k % 16 == 5)
				d.nr |= (int)X32_BIT;
			if (k % 32 == 9)
				d.arch = arches[1];
			d.args[0] = 3;
			d.args[1] = upper[0] << 32 | a[0];
			d.args[2] = upper[1] << 32 | a[1];
			d.args[3] = seed;
			d.args[4] = k % 3 == 0 ? 0 : seed >> 3;
			checked++;
			failed += sweep_differs(prog, n, ref, n_ref, &d,
			    variants[v], failed);
		}
		/* Every syscall number below 1024 (the prefix's table and
		 * past it), natively, as x32 and as i386, each with
		 * arguments all zero, small or random: whatever the
		 * number, the same answer as libseccomp's program alone. */
		for (unsigned nr = 0; nr < 1024; nr++)
			for (unsigned k = 0; k < 12; k++) {
				struct seccomp_data d = {
					.arch = k == 10 ? arches[1] :
					    NATIVE_ARCH,
					.nr = (int)(nr | (k == 11 ? X32_BIT :
					    0)),
				};
				for (int i = 0; i < 6; i++) {
					seed = seed * 6364136223846793005u +
					    1442695040888963407u;
					d.args[i] = k == 0 ? 0 : k < 5 ?
					    seed >> 61 : k < 7 ?
					    (uint32_t)(seed >> 32) : seed;
				}
				checked_nrs++;
				failed += sweep_differs(prog, n, ref, n_ref,
				    &d, variants[v], failed);
			}
	}
	if (failed > 0)
		fail_msg("reference sweep: %u of %u calls differ", failed,
		    checked + checked_nrs);
	assert_int_equal(checked, 60000 * ARRAY_SIZE(variants));
	assert_int_equal(checked_nrs, 1024 * 12 * ARRAY_SIZE(variants));
}

/* Every row names at least one profile, and a known one. */
static void
test_rows(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		if (rows[i].profiles == 0 || (rows[i].profiles & ~P_ALL))
			fail_msg("%s:%d: no profile or an unknown one",
			    __FILE__, rows[i].line);
}

/* The simulator refuses what the kernel's checker would. */
static void
test_simulator(void **state)
{
	static const struct {
		const char *what;
		struct sock_filter prog[4];
		size_t n;
		int r;			/* 0: returns RET */
		uint32_t ret;
	} cases[] = {
		{ "ret", { BPF_STMT(BPF_RET | BPF_K, 7) }, 1, 0, 7 },
		{ "load nr", { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 42, 0, 1),
		    BPF_STMT(BPF_RET | BPF_K, 1),
		    BPF_STMT(BPF_RET | BPF_K, 2) }, 4, 0, 1 },
		{ "jset", { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40, 1, 0),
		    BPF_STMT(BPF_RET | BPF_K, 1),
		    BPF_STMT(BPF_RET | BPF_K, 2) }, 4, 0, 1 },
		{ "scratch", { BPF_STMT(BPF_ST, 3),
		    BPF_STMT(BPF_LDX | BPF_MEM, 3),
		    BPF_STMT(BPF_MISC | BPF_TXA, 0),
		    BPF_STMT(BPF_RET | BPF_K, 5) }, 4, 0, 5 },
		{ "no ret", { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0) }, 1, -1,
		    0 },
		{ "load past the end", { BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    sizeof(struct seccomp_data)),
		    BPF_STMT(BPF_RET | BPF_K, 0) }, 2, -1, 0 },
		{ "load misaligned", { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2),
		    BPF_STMT(BPF_RET | BPF_K, 0) }, 2, -1, 0 },
		{ "half-word load", { BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0),
		    BPF_STMT(BPF_RET | BPF_K, 0) }, 2, -1, 0 },
		{ "jump past the end", { BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		    0, 1, 0), BPF_STMT(BPF_RET | BPF_K, 0) }, 2, -1, 0 },
		{ "ja past the end", { BPF_STMT(BPF_JMP | BPF_JA, 0xffffffff),
		    BPF_STMT(BPF_RET | BPF_K, 0) }, 2, -1, 0 },
		{ "scratch unset", { BPF_STMT(BPF_LD | BPF_MEM, 0),
		    BPF_STMT(BPF_RET | BPF_K, 0) }, 2, -1, 0 },
		{ "ret a", { BPF_STMT(BPF_RET | BPF_A, 0) }, 1, -1, 0 },
	};
	struct seccomp_data d = { .nr = 42, .arch = NATIVE_ARCH };

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char why[ERROR_MAX] = "";
		uint32_t ret = 0;
		int r = simulate(cases[i].prog, cases[i].n, &d, &ret, why);

		if (r != cases[i].r || (r == 0 && ret != cases[i].ret))
			fail_msg("simulator, %s: returned %d (%s), ret %u",
			    cases[i].what, r, why, ret);
	}
}

/* A profile may not gate what is refused whatever it says, nor what has
 * conditions: the filter is not built, and the error names the syscall. */
static void
test_ungatable(void **state)
{
	static const char *const names[] = { "ptrace", "process_vm_writev",
	    "clone", "clone3", "socket", "ioctl", "prctl", "io_uring_setup" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct profile *p = (struct profile *)profile_make(P_BARE);
		char error[ERROR_MAX] = "";
		struct filter *f = NULL;

		snprintf(p->gate[p->n_gate++], 32, "%s", names[i]);
		if (filter_build(p, &f, error) != -EPERM)
			fail_msg("gating %s was accepted", names[i]);
		if (f != NULL || strstr(error, names[i]) == NULL)
			fail_msg("gating %s: the error does not name it: %s",
			    names[i], error);
	}
}

/* The program fits the kernel's limit; a short buffer is E2BIG. */
static void
test_export(void **state)
{
	static struct sock_filter prog[PROGRAM_MAX];
	char error[ERROR_MAX] = "";
	struct filter *f;
	size_t n = export_profile(P_INET, prog);

	assert_true(n > 0 && n <= BPF_MAXINSNS);
	assert_int_equal(prog[n - 1].code, BPF_RET | BPF_K);
	assert_int_equal(filter_build(profile_make(P_INET), &f, error), 0);
	assert_int_equal(filter_export_bpf(f, prog, n - 1, error), -E2BIG);
	assert_int_equal(filter_export_bpf(f, prog, n, error), (int)n);
	filter_free(f);
	filter_free(NULL);
}

/*
 * ztd's compiled filter: the sealed memfd holds exactly what
 * filter_export_bpf gives, cannot be written or resized, and
 * filter_read_sealed reads it back; an unsealed memfd, or one whose size
 * is no whole program, is refused.
 */
static void
test_sealed(void **state)
{
	static struct sock_filter want[PROGRAM_MAX], got[PROGRAM_MAX];
	const int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
	    F_SEAL_SEAL;
	char error[ERROR_MAX] = "";
	size_t n = export_profile(P_INET, want);
	int fd, other;

	(void)state;
	fd = filter_export_sealed(profile_make(P_INET), error);
	if (fd < 0)
		fail_msg("filter_export_sealed: %s", error);
	assert_int_equal(fcntl(fd, F_GET_SEALS) & seals, seals);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(filter_read_sealed(fd, got, PROGRAM_MAX, error),
	    (int)n);
	assert_memory_equal(got, want, n * sizeof(*want));
	assert_int_equal(filter_read_sealed(fd, got, n - 1, error), -E2BIG);
	/* Sealed: no writing it, no growing it, no unsealing it. */
	errno = 0;
	assert_int_equal(pwrite(fd, want, sizeof(*want), 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(fd, 0), -1);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, 0), -1);
	close(fd);

	/* The same program unsealed is not taken. */
	other = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(other >= 0);
	assert_int_equal(write(other, want, n * sizeof(*want)),
	    (ssize_t)(n * sizeof(*want)));
	assert_int_equal(filter_read_sealed(other, got, PROGRAM_MAX, error),
	    -EPERM);
	assert_non_null(strstr(error, "seals"));
	/* Sealed, but not a whole number of instructions. */
	assert_int_equal(write(other, "x", 1), 1);
	assert_int_equal(fcntl(other, F_ADD_SEALS, seals), 0);
	assert_int_equal(filter_read_sealed(other, got, PROGRAM_MAX, error),
	    -EPROTO);
	close(other);
}

/*
 * filter_load() installs what filter_build() exported, and so does
 * filter_load_bpf() with the program ztd sends (*STATE true): in a child
 * under the loaded filter, every refused row of the bare profile (an
 * errno, so the kernel never runs the syscall; harmless arguments, should
 * it run) fails with the errno the simulation gave, and the listener is a
 * descriptor.  Skipped without seccomp.
 */
#define SKIP_STATUS 77

static void
test_loaded(void **state)
{
	static struct sock_filter prog[PROGRAM_MAX];
	const bool compiled = *(const bool *)*state;
	size_t n = export_profile(P_BARE, prog);
	int status;
	pid_t pid;

	if ((pid = fork()) < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		char error[ERROR_MAX] = "";
		int checked = 0, failed = 0;

		int listener;

		alarm(10);	/* a gated call would wait for ever */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    (listener = compiled ? filter_load_bpf(prog, n, error) :
		    filter_load(profile_make(P_BARE), error)) < 0) {
			fprintf(stderr, "# no seccomp here: %s\n", error);
			_exit(SKIP_STATUS);
		}
		if (fcntl(listener, F_GETFD) < 0)
			_exit(1);
		for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
			const struct row *row = &rows[i];
			struct seccomp_data d;
			char desc[256], why[ERROR_MAX];
			uint32_t got;
			long r;

			if (!(row->profiles & P_BARE) || row->arch != 0 ||
			    row->x32 ||
			    (row->expect & SECCOMP_RET_ACTION_FULL) !=
			    SECCOMP_RET_ERRNO ||
			    row_data(row, &d, desc, sizeof(desc)) < 0 ||
			    simulate(prog, n, &d, &got, why) < 0 ||
			    got != row->expect)
				continue;	/* test_profile says why */
			checked++;
			errno = 0;
			r = syscall(d.nr, d.args[0], d.args[1], d.args[2],
			    d.args[3], d.args[4], d.args[5]);
			/* An errno of 0 (ANSWER0) is a return of 0. */
			if ((got & SECCOMP_RET_DATA) == 0 ? r != 0 :
			    r != -1 || errno != (int)(got & SECCOMP_RET_DATA)) {
				fprintf(stderr, "%s:%d: loaded filter: %s "
				    "returned %ld, errno %d; simulated %#x\n",
				    __FILE__, row->line, desc, r, errno, got);
				failed++;
			}
		}
		if (checked == 0)
			fprintf(stderr, "%s: no row checked\n", __FILE__);
		_exit(failed > 0 || checked == 0 ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP_STATUS)
		skip();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("the loaded filter differs from the simulation "
		    "(status %#x)", status);
}

int
main(void)
{
#if defined(__x86_64__)
	static unsigned bits[] = { P_BARE, P_FILES, P_INET, P_LISTS };
	static bool loaders[] = { false, true };
#define PROFILE_TEST(name, i) \
	{ "test_profile_" name, test_profile, NULL, NULL, &bits[i] }
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simulator),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_ioctl_sweep),
		cmocka_unit_test(test_setsockopt_sweep),
		cmocka_unit_test(test_reference_sweep),
		cmocka_unit_test(test_export),
		PROFILE_TEST("bare", 0),
		PROFILE_TEST("files", 1),
		PROFILE_TEST("inet", 2),
		PROFILE_TEST("lists", 3),
		cmocka_unit_test(test_sealed),
		{ "test_loaded", test_loaded, NULL, NULL, &loaders[0] },
		{ "test_loaded_compiled", test_loaded, NULL, NULL,
		    &loaders[1] },
		cmocka_unit_test(test_ungatable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
#else
	/* The rows and the architecture checks are x86_64's. */
	printf("1..0 # SKIP not x86_64\n");
	return 0;
#endif
}

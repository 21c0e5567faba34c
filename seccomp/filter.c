/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's seccomp filter (libseccomp, setsockopt's and ioctl's
 * decisions as BPF before its program), allowlist with ENOSYS default. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/fscrypt.h>
#include <linux/fsverity.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/seccomp.h>

#include "filter.h"

#define ERROR_MAX 160

/* Ordinary syscalls, allowed without condition.  Anything that is not
 * here, gated, or conditioned below gets ENOSYS. */
static const char *const allowed[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64",
	"preadv", "pwritev", "preadv2", "pwritev2", "open", "openat",
	"openat2", "close", "close_range", "creat", "stat", "fstat", "lstat",
	"newfstatat", "statx", "statfs", "fstatfs", "poll", "ppoll",
	"select", "pselect6", "lseek", "mmap", "mprotect", "munmap",
	"mremap", "msync", "mincore", "madvise", "brk", "rt_sigaction",
	"rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
	"rt_sigtimedwait", "rt_sigsuspend", "rt_sigqueueinfo",
	"rt_tgsigqueueinfo", "sigaltstack", "access", "faccessat",
	"faccessat2", "pipe", "pipe2", "sched_yield", "sched_getaffinity",
	"sched_getparam", "sched_getscheduler", "sched_get_priority_max",
	"sched_get_priority_min", "sched_rr_get_interval", "sched_getattr",
	"dup", "dup2", "dup3", "pause", "nanosleep", "clock_nanosleep",
	"getitimer", "setitimer", "alarm", "getpid", "getppid", "gettid",
	"sendfile", "socketpair", "accept", "accept4", "recvfrom",
	"recvmsg", "recvmmsg", "shutdown", "getsockname",
	"getpeername", "getsockopt", "fork", "vfork",
	"exit", "exit_group", "wait4", "waitid", "kill", "tkill", "tgkill",
	"uname", "fcntl", "flock", "fsync", "fdatasync", "truncate",
	"ftruncate", "getdents", "getdents64", "getcwd", "chdir", "fchdir",
	"rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir",
	"link", "linkat", "unlink", "unlinkat", "symlink", "symlinkat",
	"readlink", "readlinkat",
	"umask", "gettimeofday",
	"getrlimit", "getrusage", "sysinfo", "times", "getuid", "getgid",
	"geteuid", "getegid", "getresuid", "getresgid", "getgroups",
	"setpgid", "getpgid", "getpgrp", "setsid", "getsid", "getpriority",
	"capget", "mknod",
	"mknodat", "ustat", "sync", "syncfs", "sync_file_range",
	"arch_prctl", "set_tid_address", "set_robust_list",
	"get_robust_list", "futex", "futex_waitv", "clock_gettime",
	"clock_getres", "time", "timer_create", "timer_settime",
	"timer_gettime", "timer_getoverrun", "timer_delete",
	"timerfd_create", "timerfd_settime", "timerfd_gettime",
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "signalfd",
	"signalfd4", "inotify_init", "inotify_init1",
	"inotify_rm_watch", "fadvise64", "fallocate", "splice", "tee",
	"vmsplice", "copy_file_range", "getrandom", "memfd_create",
	"membarrier", "rseq", "mlock", "mlock2", "munlock", "mlockall",
	"munlockall", "get_mempolicy", "getcpu", "restart_syscall",
	"pidfd_open", "pidfd_send_signal", "waitpid",
	"fgetxattr", "flistxattr", "getxattr", "lgetxattr", "listxattr",
	"llistxattr",
	"readahead",
	"mq_timedsend", "mq_timedreceive", "mq_notify",
	"mq_getsetattr", "shmdt",
	"ioprio_get", "landlock_create_ruleset",
	"landlock_add_rule", "landlock_restrict_self", "setuid", "setgid",
	"setreuid", "setregid", "setresuid", "setresgid", "setfsuid",
	"setfsgid", "setgroups", "capset",
};

/* Path metadata and watches, which Landlock has no right for: with a
 * files list, performed by the supervisor after a decision on the file
 * (filecall.c); without one, as free as writes are. */
static const char *const metadata[] = {
	"chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat",
	"utime", "utimes", "utimensat", "futimesat", "setxattr", "lsetxattr",
	"fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
	"inotify_add_watch",
};

/* SysV IPC and POSIX message queues reach objects other accounts use:
 * every call goes to the supervisor, which asks ztd as a syscall: refused
 * (EPERM) and audited unless the profile gates it (syscalls.gate); in
 * learn mode ztd lets through, and audits, what the profile lacks.  shmdt
 * and the mq_* calls on a descriptor need one of these first. */
static const char *const ipc[] = {
	"mq_open", "mq_unlink", "shmget", "shmat", "shmctl", "semget", "semop",
	"semctl", "semtimedop", "msgget", "msgsnd", "msgrcv", "msgctl",
};

/* What no agent may do: EPERM, whatever its profile says. */
static const char *const forbidden[] = {
	"seccomp", "ptrace", "process_vm_readv", "process_vm_writev",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"userfaultfd", "unshare", "setns", "keyctl", "add_key",
	"request_key", "bpf", "perf_event_open", "mount", "umount2",
	"pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
	"fsconfig", "fsmount", "fspick", "mount_setattr", "init_module",
	"finit_module", "delete_module", "kexec_load", "kexec_file_load",
	"reboot", "swapon", "swapoff", "acct", "quotactl", "syslog",
	"open_by_handle_at", "lookup_dcookie", "vhangup", "iopl", "ioperm",
	"modify_ldt", "settimeofday", "clock_settime", "clock_adjtime",
	"adjtimex", "sethostname", "setdomainname", "fanotify_init",
	"kcmp", "pidfd_getfd", "process_madvise", "migrate_pages",
	"move_pages", "mbind", "set_mempolicy",
};

/* Syscalls whose rules have conditions, and clone3 (whose flags cannot be
 * read): a profile may not gate them. */
static const char *const ungatable[] = {
	"clone", "clone3", "socket", "sendto", "ioctl", "prctl", "prlimit64",
	"setpriority", "sched_setaffinity", "sched_setscheduler",
	"sched_setparam", "sched_setattr", "ioprio_set",
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static bool
named(const char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

bool
filter_is_ipc(const char *name)
{
	return named(ipc, ARRAY_LEN(ipc), name);
}

/* Syscalls performed or checked by the supervisor. */
static const char *const gated[] = {
	"execve", "execveat", "connect", "bind", "listen", "sendmsg",
	"sendmmsg",
};

/* prctl options an agent may use (the rest: ENOSYS, the dangerous ones
 * EPERM). */
static const int prctl_allowed[] = {
	PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_NAME,
	PR_GET_NAME, PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS,
	PR_GET_SECCOMP, PR_CAPBSET_READ, PR_SET_TIMERSLACK,
	PR_GET_TIMERSLACK, PR_GET_TID_ADDRESS, PR_SET_THP_DISABLE,
	PR_GET_THP_DISABLE, PR_GET_KEEPCAPS, PR_SET_KEEPCAPS,
	PR_CAP_AMBIENT, PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER,
	PR_MCE_KILL, PR_MCE_KILL_GET, PR_SET_VMA, PR_GET_SECUREBITS,
	PR_SET_TSC, PR_GET_TSC, PR_GET_SPECULATION_CTRL,
	PR_SET_SPECULATION_CTRL,
};

static const int prctl_forbidden[] = {
	PR_SET_SECCOMP, PR_SET_DUMPABLE, PR_SET_PTRACER, PR_SET_MM,
	PR_SET_SECUREBITS,
};

/* Namespace flags, and CLONE_UNTRACED (a child the tracer would not
 * see).  clone's first argument on x86_64 is the flags. */
#define CLONE_REFUSED (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | \
	CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
	CLONE_UNTRACED | 0x00000080 /* CLONE_NEWTIME */)

#define AF_ALLOWED_MAX 4

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83		/* Linux 6.16 */
#endif
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76			/* Linux 6.5 */
#endif

int
filter_resolve(const char *name)
{
	return seccomp_syscall_resolve_name(name);
}

static int
fail(char *error, const char *what, const char *name, int r)
{
	snprintf(error, ERROR_MAX, "seccomp filter: %s %s: %s", what,
	    name != NULL ? name : "", strerror(r < 0 ? -r : r));
	return r < 0 ? r : -r;
}

static bool
listed(const char list[][32], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

/*
 * The filter being built: libseccomp's rules (CTX) and, with TABLE, the
 * unconditional ones in a table by syscall number, which the prefix
 * answers (prefix_build); without it (the reference, and a table too
 * large for the prefix) every rule in libseccomp's program.
 */
#define PREFIX_MAX 512
#define TABLE_NRS 512			/* numbers the table may hold */

struct filter {
	scmp_filter_ctx ctx;
	bool reference;
	bool table;			/* the unconditional rules in HAS */
	bool has[TABLE_NRS];		/* NR has an unconditional rule */
	uint32_t action[TABLE_NRS];	/* its action */
	struct sock_filter prefix[PREFIX_MAX];
	size_t n_prefix;
};

/*
 * The unconditional rule ACTION for NR, as seccomp_rule_add(ctx, ACTION,
 * NR, 0) does it: into F's table unless F keeps none or NR is outside
 * it.  As libseccomp: the same rule again is no error, another
 * action for the same syscall is -EEXIST (the first stays), and the
 * conditional rules of a syscall that has one are void (its number is
 * answered here before libseccomp's program is reached).
 */
static int
rule0(struct filter *f, uint32_t action, int nr)
{
	if (!f->table || nr < 0 || nr >= TABLE_NRS)
		return seccomp_rule_add(f->ctx, action, nr, 0);
	if (f->has[nr])
		return f->action[nr] == action ? 0 : -EEXIST;
	f->has[nr] = true;
	f->action[nr] = action;
	return 0;
}

/* ACTION for each syscall of LIST the profile neither denies nor gates
 * (those have their rule already); names unknown here are skipped. */
static int
add_names(struct filter *f, const struct profile *p,
    const char *const *list, size_t n, uint32_t action, char *error)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(list[i]), r;

		if (nr < 0 || listed(p->deny, p->n_deny, list[i]) ||
		    listed(p->gate, p->n_gate, list[i]))
			continue;
		if ((r = rule0(f, action, nr)) < 0)
			return fail(error, "rule", list[i], r);
	}
	return 0;
}

/*
 * ACTION for every NR whose argument ARG, as the int the kernel reads (its
 * low 32 bits), is none of VALUES, and (ALSO non-NULL) that meets ALSO:
 * libseccomp has no masked "not in" (nor "not equal"), and a 64-bit
 * comparison would let upper bits through that the kernel ignores.  The
 * complement of a set of values is the union of the prefixes that branch
 * off the values' binary trie: for each value and bit, the value's higher
 * bits with that bit flipped, unless another value starts so (then that
 * branch is followed deeper).  At most 32 rules a value, each one masked
 * comparison (and ALSO).
 */
static int
add_low32_not_in(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned arg,
    const uint32_t *values, size_t n, const struct scmp_arg_cmp *also)
{
	for (size_t i = 0; i < n; i++)
		for (int bit = 31; bit >= 0; bit--) {
			uint32_t mask = ~(uint32_t)0 << bit;
			uint32_t prefix = (values[i] ^ (uint32_t)1 << bit) & mask;
			bool inside = false, done = false;
			int r;

			for (size_t j = 0; j < n && !inside; j++)
				inside = (values[j] & mask) == prefix;
			/* An earlier value with these bits: added. */
			for (size_t j = 0; j < i && !done; j++)
				done = (values[j] & mask) == (values[i] & mask);
			if (inside || done)
				continue;
			r = also == NULL ? seccomp_rule_add(ctx, action, nr, 1,
			    SCMP_CMP(arg, SCMP_CMP_MASKED_EQ,
			    (scmp_datum_t)mask, (scmp_datum_t)prefix)) :
			    seccomp_rule_add(ctx, action, nr, 2, SCMP_CMP(arg,
			    SCMP_CMP_MASKED_EQ, (scmp_datum_t)mask,
			    (scmp_datum_t)prefix), *also);
			if (r < 0)
				return r;
		}
	return 0;
}

/*
 * setsockopt options no agent may set, whatever its profile: SO_PASSRIGHTS
 * (the supervisor clears it on every unix socket it connects or sends
 * through, so that no peer passes the agent a descriptor); SO_PASSCRED
 * and SO_PASSPIDFD, with which the kernel binds an unbound unix socket to
 * an abstract address at its first connect or send (unix_autobind): any
 * local process could then send to the agent, unasked; and the IPv6
 * routing header (IPV6_RTHDR, or one in IPV6_2292PKTOPTIONS): a sticky
 * segment routing header (type 4; type 2 with CONFIG_IPV6_MIP6) makes the
 * kernel send every later packet of the socket to the header's segment
 * (fl6_update_dst), not to the destination decided at connect or send;
 * and the socket filter options (SO_ATTACH_FILTER, SO_ATTACH_BPF,
 * SO_DETACH_FILTER, SO_LOCK_FILTER): the supervisor keeps an inet
 * datagram socket deaf with a filter until a decision opens it
 * (netcall.c), which the agent must neither remove, replace nor lock.
 * The IPv4 source route (IP_OPTIONS LSRR/SSRR) needs CAP_NET_RAW.
 *
 * And two options answered 0 by the filter itself and never set (object
 * NULL): IP_RECVERR and IPV6_RECVERR.  With either, the kernel queues
 * every ICMP error whose quoted header names the socket's local port --
 * from any host, with the payload the sender put after that header -- on
 * the socket's error queue (ip_icmp_error, read with MSG_ERRQUEUE): a
 * socket filter does not see it, so a deaf socket would hear anyone that
 * way, and a connected one anyone who names its peer.  Refusing them
 * would break glibc's resolver, which sets IP_RECVERR on its UDP socket
 * and gives up when that fails; without the option a connected socket
 * still learns of a refused port (ECONNREFUSED), as the kernel reports
 * hard errors on it anyway.
 */
static const struct {
	uint32_t level, name;
	const char *object;		/* ztd's syscall object, audited;
					 * NULL: answered 0, not set */
} setsockopt_refused[] = {
	{ SOL_SOCKET, SO_PASSRIGHTS, "setsockopt:SOL_SOCKET:SO_PASSRIGHTS" },
	{ SOL_SOCKET, SO_PASSCRED, "setsockopt:SOL_SOCKET:SO_PASSCRED" },
	{ SOL_SOCKET, SO_PASSPIDFD, "setsockopt:SOL_SOCKET:SO_PASSPIDFD" },
	{ SOL_SOCKET, SO_ATTACH_FILTER,
	    "setsockopt:SOL_SOCKET:SO_ATTACH_FILTER" },
	{ SOL_SOCKET, SO_ATTACH_BPF, "setsockopt:SOL_SOCKET:SO_ATTACH_BPF" },
	{ SOL_SOCKET, SO_DETACH_FILTER,
	    "setsockopt:SOL_SOCKET:SO_DETACH_FILTER" },
	{ SOL_SOCKET, SO_LOCK_FILTER, "setsockopt:SOL_SOCKET:SO_LOCK_FILTER" },
	{ IPPROTO_IPV6, IPV6_RTHDR, "setsockopt:IPPROTO_IPV6:IPV6_RTHDR" },
	{ IPPROTO_IPV6, IPV6_2292PKTOPTIONS,
	    "setsockopt:IPPROTO_IPV6:IPV6_2292PKTOPTIONS" },
	{ IPPROTO_IP, IP_RECVERR, NULL },
	{ IPPROTO_IPV6, IPV6_RECVERR, NULL },
};

const char *
filter_setsockopt_refused(uint64_t level, uint64_t name)
{
	for (size_t i = 0; i < ARRAY_LEN(setsockopt_refused); i++)
		if ((uint32_t)level == setsockopt_refused[i].level &&
		    (uint32_t)name == setsockopt_refused[i].name)
			return setsockopt_refused[i].object;
	return NULL;
}

/*
 * setsockopt: the options above to the supervisor, which refuses them
 * (EPERM) and has ztd audit each as a syscall object
 * "setsockopt:LEVEL:OPTION" that no profile allows (those without an
 * object answered 0 here, whatever the profile); the rest as the
 * profile says
 * (allowed, or gated): a level none of them has, or one of their levels
 * with another option.  The sets are disjoint: libseccomp does not order
 * overlapping rules.  Both the level and the option are ints to the
 * kernel: compared on their low 32 bits.
 */
static int
add_setsockopt(scmp_filter_ctx ctx, const struct profile *p, char *error)
{
	const size_t n = ARRAY_LEN(setsockopt_refused);
	uint32_t rest = listed(p->gate, p->n_gate, "setsockopt") ?
	    SCMP_ACT_NOTIFY : SCMP_ACT_ALLOW;
	uint32_t levels[ARRAY_LEN(setsockopt_refused)];
	size_t n_levels = 0;
	int r;

	if (listed(p->deny, p->n_deny, "setsockopt"))
		return 0;		/* EPERM for all of it already */
	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		/* Refused by the supervisor, which has ztd audit it; or
		 * answered 0 here. */
		if ((r = seccomp_rule_add(ctx,
		    setsockopt_refused[i].object != NULL ? SCMP_ACT_NOTIFY :
		    SCMP_ACT_ERRNO(0),
		    SCMP_SYS(setsockopt), 2, SCMP_A1(SCMP_CMP_MASKED_EQ,
		    0xffffffffu, setsockopt_refused[i].level),
		    SCMP_A2(SCMP_CMP_MASKED_EQ, 0xffffffffu,
		    setsockopt_refused[i].name))) < 0)
			return fail(error, "rule", "setsockopt", r);
		for (size_t j = 0; j < n_levels; j++)
			seen = seen || levels[j] == setsockopt_refused[i].level;
		if (!seen)
			levels[n_levels++] = setsockopt_refused[i].level;
	}
	if ((r = add_low32_not_in(ctx, rest, SCMP_SYS(setsockopt), 1, levels,
	    n_levels, NULL)) < 0)
		return fail(error, "rule", "setsockopt", r);
	for (size_t l = 0; l < n_levels; l++) {
		const struct scmp_arg_cmp level = SCMP_A1(SCMP_CMP_MASKED_EQ,
		    0xffffffffu, levels[l]);
		uint32_t names[ARRAY_LEN(setsockopt_refused)];
		size_t n_names = 0;

		for (size_t i = 0; i < n; i++)
			if (setsockopt_refused[i].level == levels[l])
				names[n_names++] = setsockopt_refused[i].name;
		if ((r = add_low32_not_in(ctx, rest, SCMP_SYS(setsockopt), 2,
		    names, n_names, &level)) < 0)
			return fail(error, "rule", "setsockopt", r);
	}
	return 0;
}

/* ioctls that change the file behind a descriptor the agent may have
 * opened only for reading (Landlock checks no ioctl on a regular file):
 * with files, decided as a write of that file and performed by the
 * supervisor (filecall.c). */
static const uint32_t ioctl_file_changes[] = {
	FS_IOC_SETFLAGS, FS_IOC32_SETFLAGS, FS_IOC_SETVERSION,
	FS_IOC32_SETVERSION, FS_IOC_FSSETXATTR,
};

/* And those the supervisor does not perform (an encryption policy on an
 * empty directory, fs-verity making a file read-only for good): with
 * files, refused. */
static const uint32_t ioctl_file_refused[] = {
	FS_IOC_SET_ENCRYPTION_POLICY, FS_IOC_ENABLE_VERITY,
};

/*
 * ioctl: never TIOCSTI (faking terminal input); with files, the file
 * changes above gated or refused; the rest allowed.  The kernel reads the
 * command as 32 bits; the sets are disjoint (libseccomp does not order
 * overlapping rules).
 */
static int
add_ioctl(scmp_filter_ctx ctx, const struct profile *p, char *error)
{
	uint32_t all[1 + ARRAY_LEN(ioctl_file_changes) +
	    ARRAY_LEN(ioctl_file_refused)];
	size_t n = 0;
	int r;

	if (listed(p->deny, p->n_deny, "ioctl"))
		return 0;		/* EPERM for all of it already */
	all[n++] = TIOCSTI;
	if (p->files_given) {
		for (size_t i = 0; i < ARRAY_LEN(ioctl_file_refused); i++)
			all[n++] = ioctl_file_refused[i];
		for (size_t i = 0; i < ARRAY_LEN(ioctl_file_changes); i++)
			all[n++] = ioctl_file_changes[i];
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t action = i <= ARRAY_LEN(ioctl_file_refused) ?
		    SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_NOTIFY;

		if ((r = seccomp_rule_add(ctx, action, SCMP_SYS(ioctl), 1,
		    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, all[i]))) < 0)
			return fail(error, "rule", "ioctl", r);
	}
	if ((r = add_low32_not_in(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    all, n, NULL)) < 0)
		return fail(error, "rule", "ioctl", r);
	return 0;
}

/*
 * setsockopt's and ioctl's decisions as classic BPF before libseccomp's
 * program.  libseccomp has no "not equal" on the low 32 bits, so their
 * complements cost it 564 instructions (32 masked comparisons a refused
 * value), about 70-100 us of the child's filter load a launch (README,
 * branch launch7); here they are one comparison a value.  Made from the
 * same tables and answering as the libseccomp rules did (what
 * filter_build_reference still builds, and test_filter compares
 * value by value): the native architecture and the exact syscall number
 * are tested first, so that a foreign architecture and an x32 number
 * (nr | 0x40000000) go on to libseccomp's program as before, and so does
 * a syscall the profile denies (its EPERM rule is there).  The level, the
 * option and ioctl's command are compared on their low 32 bits, the int
 * the kernel reads (as the masked libseccomp rules did).
 */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the prefix loads an argument's low word at its own offset"
#endif
#define ARG_LOW(i) ((uint32_t)(offsetof(struct seccomp_data, args) + \
	8 * (i)))

struct prog {
	struct sock_filter *in;
	size_t n;
	bool overflow;
};

/* Append one instruction; its index. */
static size_t
emit(struct prog *g, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
	if (g->n >= PREFIX_MAX) {
		g->overflow = true;
		return g->n;
	}
	g->in[g->n] = (struct sock_filter){ .code = code, .jt = jt, .jf = jf,
	    .k = k };
	return g->n++;
}

/* Point the true (TRUE_ side) or false branch of jump AT here. */
static void
land(struct prog *g, size_t at, bool true_)
{
	size_t off = g->n - at - 1;

	if (g->overflow || at >= g->n || off > 255) {
		g->overflow = true;
		return;
	}
	if (true_)
		g->in[at].jt = (uint8_t)off;
	else
		g->in[at].jf = (uint8_t)off;
}

/* "return ACTION if A == VALUE" */
static void
emit_ret_if(struct prog *g, uint32_t value, uint32_t action)
{
	emit(g, BPF_JMP | BPF_JEQ | BPF_K, value, 0, 1);
	emit(g, BPF_RET | BPF_K, action, 0, 0);
}

/*
 * setsockopt: each refused pair to the supervisor (NOTIFY), which refuses
 * it and has ztd audit it as "setsockopt:LEVEL:OPTION", or answered 0 here
 * (no object); the rest as the profile says (allowed, or gated).
 */
static void
prefix_setsockopt(struct prog *g, const struct profile *p)
{
	const size_t n = ARRAY_LEN(setsockopt_refused);
	uint32_t rest = listed(p->gate, p->n_gate, "setsockopt") ?
	    SCMP_ACT_NOTIFY : SCMP_ACT_ALLOW;
	uint32_t levels[ARRAY_LEN(setsockopt_refused)];
	size_t at[ARRAY_LEN(setsockopt_refused)], n_levels = 0;

	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		for (size_t j = 0; j < n_levels; j++)
			seen = seen || levels[j] == setsockopt_refused[i].level;
		if (!seen)
			levels[n_levels++] = setsockopt_refused[i].level;
	}
	emit(g, BPF_LD | BPF_W | BPF_ABS, ARG_LOW(1), 0, 0);
	for (size_t l = 0; l < n_levels; l++)
		at[l] = emit(g, BPF_JMP | BPF_JEQ | BPF_K, levels[l], 0, 0);
	emit(g, BPF_RET | BPF_K, rest, 0, 0);
	for (size_t l = 0; l < n_levels; l++) {
		land(g, at[l], true);
		emit(g, BPF_LD | BPF_W | BPF_ABS, ARG_LOW(2), 0, 0);
		for (size_t i = 0; i < n; i++)
			if (setsockopt_refused[i].level == levels[l])
				emit_ret_if(g, setsockopt_refused[i].name,
				    setsockopt_refused[i].object != NULL ?
				    SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(0));
		emit(g, BPF_RET | BPF_K, rest, 0, 0);
	}
}

/* ioctl: TIOCSTI refused (EPERM); with files, ioctl_file_refused
 * refused and ioctl_file_changes to the supervisor; the rest allowed. */
static void
prefix_ioctl(struct prog *g, const struct profile *p)
{
	emit(g, BPF_LD | BPF_W | BPF_ABS, ARG_LOW(1), 0, 0);
	emit_ret_if(g, TIOCSTI, SCMP_ACT_ERRNO(EPERM));
	if (p->files_given) {
		for (size_t i = 0; i < ARRAY_LEN(ioctl_file_refused); i++)
			emit_ret_if(g, ioctl_file_refused[i],
			    SCMP_ACT_ERRNO(EPERM));
		for (size_t i = 0; i < ARRAY_LEN(ioctl_file_changes); i++)
			emit_ret_if(g, ioctl_file_changes[i], SCMP_ACT_NOTIFY);
	}
	emit(g, BPF_RET | BPF_K, SCMP_ACT_ALLOW, 0, 0);
}

/* The "ja" instructions to the end of the prefix (libseccomp's program),
 * their offsets set by jump_ends once the prefix is whole. */
#define JUMPS_MAX TABLE_NRS

struct far_jumps {
	size_t at[JUMPS_MAX];
	size_t n;
};

static void
jump_to_end(struct prog *g, struct far_jumps *j)
{
	size_t at = emit(g, BPF_JMP | BPF_JA, 0, 0, 0);

	if (j->n >= JUMPS_MAX)
		g->overflow = true;
	else
		j->at[j->n++] = at;
}

static void
jump_ends(struct prog *g, const struct far_jumps *j)
{
	for (size_t i = 0; i < j->n && !g->overflow; i++)
		g->in[j->at[i]].k = (uint32_t)(g->n - j->at[i] - 1);
}

/* A run of syscall numbers with the same answer in the table: from FIRST
 * to the next run's first; DEFER: no unconditional rule (libseccomp's
 * program decides). */
#define DEFER UINT64_MAX

struct run {
	unsigned first;
	uint64_t action;		/* an action, or DEFER */
};

/*
 * The runs RUNS[LO..HI) by a binary search on the number in A (known to
 * lie within them): each leaf a return of its action, or the jump to
 * libseccomp's program.  Only loads of nr, JGE and RET: the kernel's
 * emulation of a new filter (seccomp_cache_prepare) follows them, so a
 * syscall the table always allows is let through at every later call
 * without running the filter at all, as it was with libseccomp's tree.
 */
static void
table_tree(struct prog *g, struct far_jumps *j, const struct run *runs,
    size_t lo, size_t hi)
{
	size_t mid, at;

	if (hi - lo == 1) {
		if (runs[lo].action == DEFER)
			jump_to_end(g, j);
		else
			emit(g, BPF_RET | BPF_K, (uint32_t)runs[lo].action, 0,
			    0);
		return;
	}
	mid = lo + (hi - lo) / 2;
	at = emit(g, BPF_JMP | BPF_JGE | BPF_K, runs[mid].first, 0, 0);
	table_tree(g, j, runs, lo, mid);
	land(g, at, true);
	table_tree(g, j, runs, mid, hi);
}

/*
 * F's prefix for P, before libseccomp's program (which follows it): for
 * the native architecture, setsockopt and ioctl as above (unless P denies
 * them), then every syscall number below TABLE_NRS answered from F's
 * table by a binary search over its runs (table_tree): about two
 * instructions a run of numbers with the same answer, where libseccomp's
 * tree took about two a syscall (its program for the inet profile was 568
 * of the 603 instructions; each is converted and compiled by the kernel
 * at every launch's filter load).  Everything else -- a foreign
 * architecture, an x32 number, a number past the table, a syscall with
 * conditions or none -- jumps to libseccomp's program, which has only
 * those rules.  -E2BIG when a jump cannot reach (filter_build then builds
 * without the table).
 */
static int
prefix_build(struct filter *f, const struct profile *p, char *error)
{
	struct prog g = { .in = f->prefix };
	struct far_jumps j = { .n = 0 };
	bool so = !listed(p->deny, p->n_deny, "setsockopt");
	bool io = !listed(p->deny, p->n_deny, "ioctl");
	struct run runs[TABLE_NRS];
	size_t arch, so_at = 0, io_at = 0, high, table, n_runs = 0;
	bool any = false;

	f->n_prefix = 0;
	for (unsigned nr = 0; nr < TABLE_NRS; nr++) {
		uint64_t action = f->has[nr] ? f->action[nr] : DEFER;

		any = any || f->has[nr];
		if (n_runs == 0 || runs[n_runs - 1].action != action)
			runs[n_runs++] = (struct run){ nr, action };
	}
	if (!so && !io && !any)
		return 0;
	emit(&g, BPF_LD | BPF_W | BPF_ABS,
	    (uint32_t)offsetof(struct seccomp_data, arch), 0, 0);
	arch = emit(&g, BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native(), 0,
	    0);
	emit(&g, BPF_LD | BPF_W | BPF_ABS,
	    (uint32_t)offsetof(struct seccomp_data, nr), 0, 0);
	if (so)
		so_at = emit(&g, BPF_JMP | BPF_JEQ | BPF_K, __NR_setsockopt,
		    0, 0);
	if (io)
		io_at = emit(&g, BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 0);
	/* Numbers past the table (x32's among them) and a foreign
	 * architecture: libseccomp's program. */
	high = emit(&g, BPF_JMP | BPF_JGE | BPF_K, TABLE_NRS, 0, 0);
	table = emit(&g, BPF_JMP | BPF_JA, 0, 0, 0);	/* k set below */
	land(&g, arch, false);
	land(&g, high, true);
	jump_to_end(&g, &j);
	if (so) {
		land(&g, so_at, true);
		prefix_setsockopt(&g, p);
	}
	if (io) {
		land(&g, io_at, true);
		prefix_ioctl(&g, p);
	}
	g.in[table].k = (uint32_t)(g.n - table - 1);
	table_tree(&g, &j, runs, 0, n_runs);
	jump_ends(&g, &j);
	if (g.overflow)
		return fail(error, "prefix", NULL, -E2BIG);
	f->n_prefix = g.n;
	return 0;
}

/* The rules that are the same for every agent and have conditions;
 * setsockopt's and ioctl's (REFERENCE) only for filter_build_reference. */
static int
add_conditional(struct filter *f, const struct profile *p, char *error)
{
	scmp_filter_ctx ctx = f->ctx;
	const bool reference = f->reference;
	const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	int families[AF_ALLOWED_MAX], n_families = 0, r;

	/* sendto: with an address, the supervisor sends it. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(sendto), 1,
	    SCMP_A4(SCMP_CMP_NE, 0))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 1,
	    SCMP_A4(SCMP_CMP_EQ, 0))) < 0)
		return fail(error, "rule", "sendto", r);
	if (reference && ((r = add_setsockopt(ctx, p, error)) < 0 ||
	    (r = add_ioctl(ctx, p, error)) < 0))
		return r;
	for (size_t i = 0; i < sizeof(prctl_allowed) / sizeof(int); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl),
		    1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)prctl_allowed[i]))) <
		    0)
			return fail(error, "rule", "prctl", r);
	for (size_t i = 0; i < sizeof(prctl_forbidden) / sizeof(int); i++)
		if ((r = seccomp_rule_add(ctx, eperm, SCMP_SYS(prctl), 1,
		    SCMP_A0(SCMP_CMP_EQ,
		    (scmp_datum_t)prctl_forbidden[i]))) < 0)
			return fail(error, "rule", "prctl", r);
	/* Aimed at oneself (0) only. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
	    SCMP_A0(SCMP_CMP_EQ, 0))) < 0 ||
	    (r = seccomp_rule_add(ctx, eperm, SCMP_SYS(prlimit64), 1,
	    SCMP_A0(SCMP_CMP_NE, 0))) < 0 ||
	    (r = rule0(f, SCMP_ACT_ALLOW, SCMP_SYS(setrlimit))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setpriority),
	    2, SCMP_A0(SCMP_CMP_EQ, PRIO_PROCESS),
	    SCMP_A1(SCMP_CMP_EQ, 0))) < 0 ||
	    (r = seccomp_rule_add(ctx, eperm, SCMP_SYS(setpriority), 1,
	    SCMP_A1(SCMP_CMP_NE, 0))) < 0 ||
	    (r = seccomp_rule_add(ctx, eperm, SCMP_SYS(setpriority), 1,
	    SCMP_A0(SCMP_CMP_NE, PRIO_PROCESS))) < 0)
		return fail(error, "rule", "prlimit64/setpriority", r);
	{
		static const char *const sched[] = { "sched_setaffinity",
		    "sched_setscheduler", "sched_setparam", "sched_setattr",
		    "ioprio_set" };

		for (size_t i = 0; i < 5; i++) {
			int nr = seccomp_syscall_resolve_name(sched[i]);
			unsigned arg = i == 4 ? 1 : 0;

			if (nr < 0)
				continue;
			if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
			    SCMP_CMP(arg, SCMP_CMP_EQ, 0))) < 0 ||
			    (r = seccomp_rule_add(ctx, eperm, nr, 1,
			    SCMP_CMP(arg, SCMP_CMP_NE, 0))) < 0)
				return fail(error, "rule", sched[i], r);
		}
	}
	/* clone: threads and children, never namespaces or untraced. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_REFUSED, 0))) < 0)
		return fail(error, "rule", "clone", r);
	for (unsigned bit = 0; bit < 64; bit++) {
		uint64_t flag = UINT64_C(1) << bit;

		if (!(CLONE_REFUSED & flag))
			continue;
		if ((r = seccomp_rule_add(ctx, eperm, SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag))) < 0)
			return fail(error, "rule", "clone", r);
	}
	/* socket: the families the network rules need.  Unix only with a
	 * unix rule (or in learn mode), but for datagram sockets: without a
	 * rule no connect or send of one could be allowed, and glibc's nscd
	 * probes (stream sockets) then fail at socket(), not in a
	 * notification each.  A unix datagram socket stays (as
	 * socketpair() does): glibc's __opensock makes one for
	 * if_nametoindex() and its like, syslog() one to send on (each send
	 * decided as before). */
	if (p->unix_)
		families[n_families++] = AF_UNIX;
	else if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket),
	    2, SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM))) < 0)
		return fail(error, "rule", "socket", r);
	if (p->inet || p->inet6) {
		families[n_families++] = AF_INET;
		families[n_families++] = AF_INET6;
	}
	for (int i = 0; i < n_families; i++) {
		/* An inet datagram socket is made by the supervisor, deaf
		 * until a decision opens it (netcall_socket); every other
		 * type (the low four bits: SOCK_TYPE_MASK) is the kernel's.
		 * The types other than SOCK_DGRAM (2) as disjoint masked
		 * sets: 8-15, 4-7, 0-1 and 3. */
		static const struct { uint32_t mask, value; } not_dgram[] = {
			{ 0x8, 0x8 }, { 0xc, 0x4 }, { 0xe, 0x0 }, { 0xf, 0x3 },
		};
		const scmp_datum_t fam = (scmp_datum_t)families[i];

		if (families[i] != AF_INET && families[i] != AF_INET6) {
			if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ,
			    fam))) < 0)
				return fail(error, "rule", "socket", r);
			continue;
		}
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY,
		    SCMP_SYS(socket), 2, SCMP_A0(SCMP_CMP_EQ, fam),
		    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM))) < 0)
			return fail(error, "rule", "socket", r);
		for (size_t j = 0; j < ARRAY_LEN(not_dgram); j++)
			if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(socket), 2, SCMP_A0(SCMP_CMP_EQ, fam),
			    SCMP_A1(SCMP_CMP_MASKED_EQ, not_dgram[j].mask,
			    not_dgram[j].value))) < 0)
				return fail(error, "rule", "socket", r);
	}
	if ((p->inet || p->inet6) &&
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
	    SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
	    SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE))) < 0)
		return fail(error, "rule", "socket", r);
	return 0;
}

/* TABLE: the unconditional rules in the prefix's table (else in
 * libseccomp's program, as REFERENCE puts every rule). */
static int
build(const struct profile *p, bool reference, bool table,
    struct filter **filterp, char *error)
{
	struct filter *f;
	scmp_filter_ctx ctx;
	int r;

	*filterp = NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return fail(error, "init", NULL, -ENOMEM);
	/* ENOSYS for whatever is not listed: newer syscalls included, and
	 * clone3, so that clone's flags stay checkable. */
	ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
	if (ctx == NULL) {
		free(f);
		return fail(error, "init", NULL, -ENOMEM);
	}
	f->ctx = ctx;
	f->reference = reference;
	f->table = table;
	/* Only the native architecture: i386 (int 0x80) and x32 kill. */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1)) < 0 ||
	    (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0) {
		fail(error, "attribute", NULL, r);
		goto out;
	}
	/* Precedence: the profile's deny, then gates, then the fixed
	 * refusals, then the allowlist (a name is used once). */
	for (size_t i = 0; i < p->n_deny; i++) {
		int nr = seccomp_syscall_resolve_name(p->deny[i]);

		if (nr < 0)
			continue;	/* unknown here: ENOSYS already */
		if ((r = rule0(f, SCMP_ACT_ERRNO(EPERM), nr)) < 0 &&
		    r != -EEXIST) {
			fail(error, "deny", p->deny[i], r);
			goto out;
		}
	}
	for (size_t i = 0; i < p->n_gate; i++) {
		int nr = seccomp_syscall_resolve_name(p->gate[i]);

		if (nr < 0 || listed(p->deny, p->n_deny, p->gate[i]) ||
		    nr == SCMP_SYS(setsockopt))	/* add_setsockopt's */
			continue;
		/* A gate would let ztd's allow continue what is refused
		 * whatever the profile says, or bypass a rule's conditions
		 * (clone's flags, socket's families, clone3 unchecked). */
		if (named(forbidden, ARRAY_LEN(forbidden), p->gate[i]) ||
		    named(ungatable, ARRAY_LEN(ungatable), p->gate[i])) {
			snprintf(error, ERROR_MAX, "seccomp filter: the "
			    "profile gates %s, which no profile may allow",
			    p->gate[i]);
			r = -EPERM;
			goto out;
		}
		if ((r = rule0(f, SCMP_ACT_NOTIFY, nr)) < 0 &&
		    r != -EEXIST) {
			fail(error, "gate", p->gate[i], r);
			goto out;
		}
	}
	for (size_t i = 0; i < sizeof(gated) / sizeof(gated[0]); i++) {
		if (listed(p->deny, p->n_deny, gated[i]))
			continue;
		if ((r = rule0(f, SCMP_ACT_NOTIFY,
		    seccomp_syscall_resolve_name(gated[i]))) < 0) {
			fail(error, "gate", gated[i], r);
			goto out;
		}
	}
	if ((r = add_names(f, p, forbidden, ARRAY_LEN(forbidden),
	    SCMP_ACT_ERRNO(EPERM), error)) < 0 ||
	    (r = add_names(f, p, ipc, ARRAY_LEN(ipc), SCMP_ACT_NOTIFY,
	    error)) < 0 ||
	    (r = add_names(f, p, metadata, ARRAY_LEN(metadata),
	    p->files_given ? SCMP_ACT_NOTIFY : SCMP_ACT_ALLOW, error)) < 0 ||
	    (r = add_conditional(f, p, error)) < 0 ||
	    (r = add_names(f, p, allowed, ARRAY_LEN(allowed), SCMP_ACT_ALLOW,
	    error)) < 0 ||
	    (!reference && (r = prefix_build(f, p, error)) < 0))
		goto out;
	*filterp = f;
	return 0;
out:
	filter_free(f);
	return r;
}

int
filter_build(const struct profile *p, struct filter **filterp, char *error)
{
	int r = build(p, false, true, filterp, error);

	/* A table of more runs than the prefix's 8-bit jumps reach (a
	 * profile denying or gating scattered syscalls by the hundred):
	 * those rules in libseccomp's program, as before the table. */
	if (r == -E2BIG)
		r = build(p, false, false, filterp, error);
	return r;
}

int
filter_build_reference(const struct profile *p, struct filter **filterp,
    char *error)
{
	return build(p, true, false, filterp, error);
}

void
filter_free(struct filter *f)
{
	if (f != NULL) {
		seccomp_release(f->ctx);
		free(f);
	}
}

/*
 * F's program into a new memfd (libseccomp 2.5 exports to a descriptor
 * only) made with MEMFD_FLAGS; *N its instructions, at most MAX.  The
 * descriptor, or -errno with ERROR set.
 */
static int
export_memfd(struct filter *f, unsigned memfd_flags, size_t max, size_t *n,
    char *error)
{
	off_t size;
	int fd, r;

	if ((fd = memfd_create("zt-filter", memfd_flags)) < 0)
		return fail(error, "export", "memfd", -errno);
	/* The prefix, then libseccomp's program (written at the offset). */
	if (f->n_prefix > 0 && write(fd, f->prefix, f->n_prefix *
	    sizeof(f->prefix[0])) != (ssize_t)(f->n_prefix *
	    sizeof(f->prefix[0]))) {
		r = fail(error, "export", "prefix", -EIO);
		goto fail;
	}
	if ((r = seccomp_export_bpf(f->ctx, fd)) < 0) {
		fail(error, "export", NULL, r);
		goto fail;
	}
	if ((size = lseek(fd, 0, SEEK_END)) < 0) {
		r = fail(error, "export", "lseek", -errno);
		goto fail;
	}
	*n = (size_t)size / sizeof(struct sock_filter);
	if (size == 0 || (size_t)size % sizeof(struct sock_filter) != 0) {
		r = fail(error, "export", "size", -EPROTO);
		goto fail;
	}
	if (*n > max) {
		r = fail(error, "export", "size", -E2BIG);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

int
filter_export_bpf(struct filter *f, struct sock_filter *prog, size_t max,
    char *error)
{
	size_t n;
	int fd, r;

	if ((fd = export_memfd(f, MFD_CLOEXEC, max, &n, error)) < 0)
		return fd;
	if (pread(fd, prog, n * sizeof(*prog), 0) != (ssize_t)(n *
	    sizeof(*prog)))
		r = fail(error, "export", "read", -EIO);
	else
		r = (int)n;
	close(fd);
	return r;
}

int
filter_export_sealed(const struct profile *p, char *error)
{
	const int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
	    F_SEAL_SEAL;
	struct filter *f;
	size_t n;
	int fd;

	if ((fd = filter_build(p, &f, error)) < 0)
		return fd;
	fd = export_memfd(f, MFD_CLOEXEC | MFD_ALLOW_SEALING,
	    FILTER_INSNS_MAX, &n, error);
	filter_free(f);
	if (fd >= 0 && fcntl(fd, F_ADD_SEALS, seals) < 0) {
		int e = errno;

		close(fd);
		fd = fail(error, "export", "seal", -e);
	}
	return fd;
}

int
filter_read_sealed(int fd, struct sock_filter *prog, size_t max,
    char *error)
{
	const int needed = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	struct stat st;
	int seals;

	/* Sealed against writes and resizing: what is read here is what
	 * every other holder reads, and stays so. */
	if ((seals = fcntl(fd, F_GET_SEALS)) < 0 ||
	    (seals & needed) != needed)
		return fail(error, "compiled filter", "seals", -EPERM);
	if (fstat(fd, &st) < 0)
		return fail(error, "compiled filter", "fstat", -errno);
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (size_t)st.st_size % sizeof(*prog) != 0)
		return fail(error, "compiled filter", "size", -EPROTO);
	if ((size_t)st.st_size / sizeof(*prog) > max)
		return fail(error, "compiled filter", "size", -E2BIG);
	if (pread(fd, prog, (size_t)st.st_size, 0) != st.st_size)
		return fail(error, "compiled filter", "read", -EIO);
	return (int)((size_t)st.st_size / sizeof(*prog));
}

int
filter_load_bpf(const struct sock_filter *prog, size_t n, char *error)
{
	struct sock_fprog fprog = { .len = (unsigned short)n,
	    .filter = (struct sock_filter *)prog };
	long fd;

	if (n == 0 || n > FILTER_INSNS_MAX)
		return fail(error, "load", "size", -E2BIG);
	/* What seccomp_load does for this filter: NO_NEW_PRIVS is the
	 * caller's, and the listener is the only flag. */
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
	    SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog);
	if (fd < 0)
		return fail(error, "load", NULL, -errno);
	return (int)fd;
}

int
filter_load(const struct profile *p, char *error)
{
	static struct sock_filter prog[FILTER_INSNS_MAX];
	struct filter *f;
	int r;

	if ((r = filter_build(p, &f, error)) < 0)
		return r;
	/* What seccomp_load did (SCMP_FLTATR_CTL_NNP), then the program
	 * with its prefix. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = fail(error, "no_new_privs", NULL, -errno);
	else if ((r = filter_export_bpf(f, prog, FILTER_INSNS_MAX,
	    error)) >= 0)
		r = filter_load_bpf(prog, (size_t)r, error);
	filter_free(f);
	return r;
}

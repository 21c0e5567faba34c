/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zt-attack: a hijacked agent's attempts to leave its profile, run under
 * zt-exec as the agent (tests/attack/run.sh).  Each attempt prints one
 * line "NAME rc=R errno=E [note]"; the driver compares them with what the
 * profile must make of them.  A reviewer's tool, not part of the product.
 *
 *   zt-attack all WORK UGOOD_PORT GOOD_PORT BAD_PORT  UGOOD6_PORT GOOD6_PORT
 *   zt-attack udp-inbound WORK        (binds port 0, waits for a datagram)
 *   zt-attack deaf WORK UGOOD UGOOD6  (inet datagram sockets hearing)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <linux/filter.h>
#include <stddef.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef IPV6_RTHDR
#define IPV6_RTHDR 57
#endif

static const char *work;
static char ebuf[64];

static const char *
ename(int e)
{
	static const struct { int e; const char *n; } t[] = {
		{ 0, "0" }, { EPERM, "EPERM" }, { EACCES, "EACCES" },
		{ ENOSYS, "ENOSYS" }, { EXDEV, "EXDEV" }, { ENOENT, "ENOENT" },
		{ EINVAL, "EINVAL" }, { EBADF, "EBADF" },
		{ EAFNOSUPPORT, "EAFNOSUPPORT" }, { ENETUNREACH, "ENETUNREACH" },
		{ ECONNREFUSED, "ECONNREFUSED" }, { EOPNOTSUPP, "EOPNOTSUPP" },
		{ EPROTONOSUPPORT, "EPROTONOSUPPORT" }, { ESRCH, "ESRCH" },
		{ EAGAIN, "EAGAIN" }, { EINPROGRESS, "EINPROGRESS" },
		{ EDESTADDRREQ, "EDESTADDRREQ" }, { ENOEXEC, "ENOEXEC" },
		{ EFAULT, "EFAULT" }, { ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT" },
		{ EEXIST, "EEXIST" }, { EISCONN, "EISCONN" }, { E2BIG, "E2BIG" },
		{ ENOTTY, "ENOTTY" }, { EROFS, "EROFS" }, { ENODEV, "ENODEV" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].e == e)
			return t[i].n;
	snprintf(ebuf, sizeof(ebuf), "%d", e);
	return ebuf;
}

static void
report(const char *name, long rc, const char *note)
{
	printf("%s rc=%ld errno=%s%s%s\n", name, rc, rc < 0 ? ename(errno) :
	    "0", note ? " " : "", note ? note : "");
	fflush(stdout);
}

#define TRY(name, expr) do { errno = 0; long r_ = (long)(expr); \
	report(name, r_, NULL); } while (0)

static char *
P(const char *rel)
{
	static char b[8][512];
	static int i;
	i = (i + 1) % 8;
	snprintf(b[i], sizeof(b[i]), "%s/%s", work, rel);
	return b[i];
}

/* In a child: what status does CALL end with (a filter may kill it)? */
static void
in_child(const char *name, long (*call)(void))
{
	int st;
	pid_t p = fork();

	if (p == 0) {
		long r = call();
		_exit(r < 0 ? 100 + (errno & 0x7f) % 100 : 0);
	}
	waitpid(p, &st, 0);
	if (WIFSIGNALED(st))
		printf("%s killed=%d\n", name, WTERMSIG(st));
	else
		printf("%s exit=%d%s\n", name, WEXITSTATUS(st),
		    WEXITSTATUS(st) >= 100 ? " (errno-100)" : "");
	fflush(stdout);
}

static long
int80_getpid(void)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "0"(20L) : "memory");
	return r;
}

static long
int80_socket(void)
{
	/* i386 socketcall(SYS_SOCKET, {AF_PACKET, SOCK_RAW, 0}) */
	static unsigned int args[3] = { AF_PACKET, SOCK_RAW, 0 };
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "0"(102L), "b"(1L),
	    "c"((long)(uintptr_t)args) : "memory");
	return r;
}

static long
sysenter_getpid(void)
{
	long r;
	__asm__ volatile("mov %%rsp, %%rbp\n\tsysenter" : "=a"(r) : "0"(20L)
	    : "memory", "rbp", "rcx", "r11");
	return r;
}

static long
x32_getpid(void)
{
	return syscall(0x40000000L | 39);
}

static long
big_nr(void)
{
	return syscall(0x7fffffffL);
}

static long
unshare_user(void)
{
	return syscall(SYS_unshare, CLONE_NEWUSER);
}

static long
clone_newuser(void)
{
	long r = syscall(SYS_clone, (long)(CLONE_NEWUSER | SIGCHLD), 0L, 0L,
	    0L, 0L);
	if (r == 0)
		_exit(0);
	return r;
}

static long
clone_highbits(void)
{
	/* flags as 64 bits with CLONE_NEWUSER set: the kernel's clone takes
	 * an unsigned long */
	long r = syscall(SYS_clone, (long)(0x100000000UL | CLONE_NEWNS |
	    SIGCHLD), 0L, 0L, 0L, 0L);
	if (r == 0)
		_exit(0);
	return r;
}

static long
clone3_user(void)
{
	uint64_t args[11] = { CLONE_NEWUSER, 0, 0, 0, SIGCHLD };
	long r = syscall(435, args, 88);
	if (r == 0)
		_exit(0);
	return r;
}

static void
files(void)
{
	int fd, o;
	char buf[256];

	TRY("fs.link_outside_into_rw", link(P("outside/file"), P("rw/l1")));
	TRY("fs.rename_outside_into_rw", rename(P("outside/file"),
	    P("rw/r1")));
	TRY("fs.renameat2_exchange", syscall(SYS_renameat2, AT_FDCWD,
	    P("rw/x"), AT_FDCWD, P("outside/file"), 2 /* EXCHANGE */));
	TRY("fs.symlink_in_rw", symlink(P("outside/file"), P("rw/s1")));
	TRY("fs.open_w_via_symlink", open(P("rw/s1"), O_WRONLY | O_APPEND));
	TRY("fs.truncate_outside", truncate(P("outside/file"), 0));
	TRY("fs.mknod_fifo_outside", mknod(P("outside/fifo"), S_IFIFO | 0666,
	    0));
	TRY("fs.mkdir_outside", mkdir(P("outside/d"), 0777));
	TRY("fs.creat_outside", open(P("outside/new"), O_CREAT | O_WRONLY,
	    0666));
	fd = open(P("ro/data"), O_RDONLY);
	report("fs.open_ro_data_r", fd, NULL);
	TRY("fs.ftruncate_ro_fd", ftruncate(fd, 0));
	TRY("fs.fallocate_ro_fd", fallocate(fd, 0, 0, 4096));
	TRY("fs.ioctl_setflags_ro_fd", ioctl(fd, 0x40086602, &(long){ 0x10 }));
	TRY("fs.fcntl_setlease_ro", fcntl(fd, F_SETLEASE, F_RDLCK));
	TRY("fs.fcntl_notify", fcntl(fd, F_NOTIFY, DN_MODIFY));
	close(fd);
	TRY("fs.open_ro_data_w", open(P("ro/data"), O_WRONLY));
	o = open(P("outside/file"), O_PATH);
	report("fs.opath_outside", o, NULL);
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", o);
	TRY("fs.reopen_opath_rw", open(buf, O_WRONLY));
	TRY("fs.linkat_opath_follow", linkat(AT_FDCWD, buf, AT_FDCWD,
	    P("rw/l2"), AT_SYMLINK_FOLLOW));
	TRY("fs.linkat_opath_empty", linkat(o, "", AT_FDCWD, P("rw/l3"),
	    AT_EMPTY_PATH));
	TRY("fs.fchmodat_opath_empty", syscall(SYS_fchmodat, o, "", 0666));
	TRY("fs.fchmodat2_empty(452)", syscall(452, o, "", 0666,
	    AT_EMPTY_PATH));
	TRY("fs.fchmodat2_path(452)", syscall(452, AT_FDCWD, P("outside/file"),
	    0666, 0));
	TRY("fs.setxattrat(463)", syscall(463, AT_FDCWD, P("outside/file"),
	    0, "user.x", NULL, 0));
	TRY("fs.file_setattr(469)", syscall(469, AT_FDCWD, P("outside/file"),
	    NULL, 0, 0));
	TRY("fs.open_tree_attr(467)", syscall(467, AT_FDCWD, "/", 0, NULL,
	    0));
	TRY("fs.name_to_handle_at", syscall(SYS_name_to_handle_at, AT_FDCWD,
	    P("ro/data"), buf, &o, 0));
	TRY("fs.open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD,
	    buf, O_RDONLY));
	TRY("fs.chmod_outside", chmod(P("outside/file"), 0666));
	TRY("fs.chmod_via_symlink_in_rw", chmod(P("rw/s1"), 0666));
	TRY("fs.chown_via_symlink_in_rw", chown(P("rw/s1"), -1, getgid()));
	TRY("fs.lchown_symlink_in_rw", lchown(P("rw/s1"), -1, getgid()));
	TRY("fs.setxattr_via_symlink", syscall(SYS_setxattr, P("rw/s1"),
	    "user.zt", "x", 1, 0));
	TRY("fs.utimensat_ro_data", utimensat(AT_FDCWD, P("ro/data"), NULL,
	    0));
	TRY("fs.chmod_proc_self_fd_opath", ({ char m[64];
	    snprintf(m, sizeof(m), "/proc/self/fd/%d", o); chmod(m, 0666); }));
	TRY("fs.chmod_proc_pid_fd_opath", ({ char m[64];
	    snprintf(m, sizeof(m), "/proc/%d/fd/%d", getpid(), o);
	    chmod(m, 0666); }));
	TRY("fs.fchown_opath", fchown(o, -1, getgid()));
	TRY("fs.fchownat_opath_empty", fchownat(o, "", -1, getgid(),
	    AT_EMPTY_PATH));
	TRY("fs.utimensat_opath_empty", utimensat(o, "", NULL,
	    AT_EMPTY_PATH));
	TRY("fs.fsetxattr_opath", syscall(SYS_fsetxattr, o, "user.zt", "x",
	    1, 0));
	TRY("fs.inotify_watch_via_symlink", ({ int i = inotify_init1(0);
	    inotify_add_watch(i, P("rw/s1"), 0xfff); }));
	TRY("fs.chmod_rw_x_allowed", chmod(P("rw/x"), 0640));
	TRY("fs.inotify_watch_secret", ({ int i = inotify_init1(0);
	    inotify_add_watch(i, P("secret"), 0xfff); }));
	TRY("fs.read_secret", open(P("secret/data"), O_RDONLY));
	TRY("fs.proc_attr_current_w", open("/proc/self/attr/current",
	    O_WRONLY));
	TRY("fs.proc_setgroups_w", open("/proc/self/setgroups", O_WRONLY));
	TRY("fs.proc_uid_map_w", open("/proc/self/uid_map", O_WRONLY));
	TRY("fs.proc_oom_score_adj_w", open("/proc/self/oom_score_adj",
	    O_WRONLY));
	TRY("fs.proc_parent_mem_r", ({ snprintf(buf, sizeof(buf),
	    "/proc/%d/mem", getppid()); open(buf, O_RDONLY); }));
	TRY("fs.copy_file_range_secret", ({ int a = open(P("secret/data"),
	    O_RDONLY); int b = open(P("rw/cfr"), O_CREAT | O_WRONLY, 0600);
	    copy_file_range(a, NULL, b, NULL, 100, 0); }));
	{
		pid_t c = fork();
		if (c == 0) {
			pause();
			_exit(0);
		}
		snprintf(buf, sizeof(buf), "/proc/%d/mem", c);
		TRY("fs.proc_child_mem_rw", open(buf, O_RDWR));
		snprintf(buf, sizeof(buf), "/proc/%d/task/%d/mem", c, c);
		TRY("fs.proc_child_task_mem_rw", open(buf, O_RDWR));
		snprintf(buf, sizeof(buf), "/proc/self/root/proc/%d/mem", c);
		TRY("fs.proc_root_child_mem_rw", open(buf, O_RDWR));
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
	}
}

static void
exec_child(const char *name, const char *how, const char *a1)
{
	int st;
	pid_t p = fork();

	if (p == 0) {
		char *argv[] = { (char *)"x", NULL };
		char *envp[] = { (char *)"PATH=/usr/bin:/bin", NULL };
		char *lp[] = { (char *)"PATH=/bin", (char *)"LD_PRELOAD=/x.so",
		    NULL };
		int fd;

		if (strcmp(how, "memfd") == 0) {
			int src = open(a1, O_RDONLY);
			char b[65536];
			ssize_t n;
			fd = memfd_create("x", 0);
			while (src >= 0 && (n = read(src, b, sizeof(b))) > 0)
				write(fd, b, (size_t)n);
			syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
		} else if (strcmp(how, "dirfd") == 0) {
			fd = open("/usr/bin", O_PATH | O_DIRECTORY);
			syscall(SYS_execveat, fd, a1, argv, envp, 0);
		} else if (strcmp(how, "opath") == 0) {
			fd = open(a1, O_PATH);
			syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
		} else if (strcmp(how, "ldpreload") == 0) {
			execve(a1, argv, lp);
		} else if (strcmp(how, "script") == 0) {
			fd = open(P("rw/s.sh"), O_CREAT | O_WRONLY | O_TRUNC,
			    0755);
			dprintf(fd, "#!%s\nexit 9\n", a1);
			close(fd);
			execve(P("rw/s.sh"), argv, envp);
		} else
			execve(a1, argv, envp);
		_exit(100 + (errno & 0x7f) % 100);
	}
	waitpid(p, &st, 0);
	if (WIFSIGNALED(st))
		printf("%s killed=%d\n", name, WTERMSIG(st));
	else if (WEXITSTATUS(st) >= 100)
		printf("%s exec-failed errno=%s\n", name,
		    ename(WEXITSTATUS(st) - 100));
	else
		printf("%s ran exit=%d\n", name, WEXITSTATUS(st));
	fflush(stdout);
}

static void
execs(void)
{
	exec_child("exec.memfd_id", "memfd", "/usr/bin/id");
	exec_child("exec.memfd_exit00", "memfd", P("bin/exit00"));
	exec_child("exec.dirfd_usr_bin_id", "dirfd", "id");
	exec_child("exec.opath_exit00", "opath", P("bin/exit00"));
	exec_child("exec.plain_exit00", "plain", P("bin/exit00"));
	exec_child("exec.dash_denied", "plain", "/usr/bin/dash");
	exec_child("exec.ldpreload_exit00", "ldpreload", P("bin/exit00"));
	exec_child("exec.script_rw", "script", P("bin/exit00"));
}

static void
procs(void)
{
	struct iovec l = { ebuf, 1 }, r = { ebuf, 1 };

	in_child("abi.int80_getpid", int80_getpid);
	in_child("abi.int80_socket_packet", int80_socket);
	in_child("abi.sysenter_getpid", sysenter_getpid);
	in_child("abi.x32_getpid", x32_getpid);
	in_child("abi.nr_0x7fffffff", big_nr);
	in_child("ns.unshare_user", unshare_user);
	in_child("ns.clone_newuser", clone_newuser);
	in_child("ns.clone_highbits_newns", clone_highbits);
	in_child("ns.clone3_newuser", clone3_user);
	TRY("ns.setns", syscall(SYS_setns, open("/proc/self/ns/net",
	    O_RDONLY), 0));
	TRY("proc.personality", syscall(SYS_personality, 0x0400000));
	TRY("proc.prctl_set_dumpable", prctl(PR_SET_DUMPABLE, 1));
	TRY("proc.prctl_set_mm_hibits", syscall(SYS_prctl,
	    0x100000000L | PR_SET_MM, 0L, 0L, 0L, 0L));
	TRY("proc.prctl_set_ptracer", prctl(PR_SET_PTRACER, -1));
	TRY("proc.ptrace_parent", syscall(SYS_ptrace, 16 /* ATTACH */,
	    getppid(), 0, 0));
	TRY("proc.process_vm_writev_parent", syscall(SYS_process_vm_writev,
	    getppid(), &l, 1, &r, 1, 0));
	TRY("proc.pidfd_getfd_parent", ({ int pf = (int)syscall(
	    SYS_pidfd_open, getppid(), 0); syscall(438, pf, 3, 0); }));
	TRY("proc.kill_parent_0", kill(getppid(), 0));
	TRY("proc.kill_init_0", kill(1, 0));
	TRY("proc.pidfd_signal_parent", ({ int pf = (int)syscall(
	    SYS_pidfd_open, getppid(), 0); syscall(424, pf, 0, NULL, 0); }));
	TRY("proc.keyctl", syscall(SYS_keyctl, 0, -3, 0, 0, 0));
	TRY("proc.add_key", syscall(SYS_add_key, "user", "x", "y", 1, -3));
	TRY("proc.bpf", syscall(SYS_bpf, 0, NULL, 0));
	TRY("proc.perf_event_open", syscall(SYS_perf_event_open, ebuf, 0, -1,
	    -1, 0));
	TRY("proc.userfaultfd", syscall(SYS_userfaultfd, 0));
	TRY("proc.io_uring_setup", syscall(SYS_io_uring_setup, 4, ebuf));
	TRY("proc.seccomp_filter", syscall(SYS_seccomp, 1, 0, NULL));
	TRY("proc.msgget", syscall(SYS_msgget, 0, 01666));
	TRY("proc.mq_open", syscall(SYS_mq_open, "x", O_CREAT | O_RDWR, 0600,
	    NULL));
	TRY("proc.setuid0", syscall(SYS_setuid, 0));
	TRY("proc.set_mempolicy", syscall(SYS_set_mempolicy, 0, NULL, 0));
	TRY("proc.ioctl_tiocsti", ioctl(0, 0x5412, "x"));
	TRY("proc.ioctl_tiocsti_hibits", syscall(SYS_ioctl, 0,
	    0x100000000L | 0x5412, "x"));
}

static long
sock(int f, int t, int p)
{
	return socket(f, t, p);
}

static void
udp_send_with_opts(const char *name, const char *hop, int port)
{
	struct sockaddr_in to = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };
	unsigned char opt[8];	/* the hop at opt + 4 */
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	long r;

	/* [LSRR len=7 ptr=4 hop] + EOL, as setsockopt(IP_OPTIONS) takes */
	inet_pton(AF_INET, hop, opt + 4);
	{
		unsigned char o[8] = { 0x83, 7, 4, 0, 0, 0, 0, 0 };
		memcpy(o + 3, opt + 4, 4);
		errno = 0;
		r = setsockopt(s, IPPROTO_IP, IP_OPTIONS, o, sizeof(o));
		report("net.setsockopt_ip_options_lsrr", r, NULL);
	}
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	errno = 0;
	r = sendto(s, "ZTATTACK-LSRR\n", 14, 0, (struct sockaddr *)&to,
	    sizeof(to));
	report(name, r, "(sendto allowed udp dest, first hop forbidden)");
	/* connected, then write() */
	{
		int u = socket(AF_INET, SOCK_DGRAM, 0);
		unsigned char o[8] = { 0x83, 7, 4, 0, 0, 0, 0, 0 };
		memcpy(o + 3, opt + 4, 4);
		errno = 0;
		r = connect(u, (struct sockaddr *)&to, sizeof(to));
		report("net.udp_connect_allowed", r, NULL);
		r = setsockopt(u, IPPROTO_IP, IP_OPTIONS, o, sizeof(o));
		report("net.setsockopt_lsrr_after_connect", r, NULL);
		errno = 0;
		r = write(u, "ZTATTACK-LSRRW\n", 15);
		report("net.udp_write_lsrr", r, "(write on allowed peer)");
	}
}

static void
tcp_connect_with_opts(const char *hop, int port)
{
	struct sockaddr_in to = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };
	unsigned char o[8] = { 0x83, 7, 4, 0, 0, 0, 0, 0 };
	int s = socket(AF_INET, SOCK_STREAM, 0);
	long r;

	inet_pton(AF_INET, hop, o + 3);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	setsockopt(s, IPPROTO_IP, IP_OPTIONS, o, sizeof(o));
	fcntl(s, F_SETFL, O_NONBLOCK);
	errno = 0;
	r = connect(s, (struct sockaddr *)&to, sizeof(to));
	report("net.tcp_connect_lsrr", r, "(connect allowed, hop forbidden)");
	usleep(300000);
}

/* An IPv6 socket of TYPE with a one-segment routing header (type 4) naming
 * SEG, then a send (UDP) or connect (TCP) to [::1]:PORT, which a rule
 * allows: the kernel sends to SEG. */
static void
ipv6_with_srh(int type, const char *seg, int port)
{
	struct sockaddr_in6 to = { .sin6_family = AF_INET6,
	    .sin6_port = htons((uint16_t)port) };
	/* nexthdr, hdrlen 2 (one segment), type 4, segments left 0, last
	 * entry 0, flags, tag; segments[0] */
	unsigned char srh[24] = { 0, 2, 4, 0, 0, 0, 0, 0 };
	bool tcp = type == SOCK_STREAM;
	int s = socket(AF_INET6, type, 0);
	long r;

	inet_pton(AF_INET6, seg, srh + 8);
	inet_pton(AF_INET6, "::1", &to.sin6_addr);
	errno = 0;
	r = setsockopt(s, IPPROTO_IPV6, IPV6_RTHDR, srh, sizeof(srh));
	report(tcp ? "net.setsockopt_ipv6_rthdr_srh_tcp" :
	    "net.setsockopt_ipv6_rthdr_srh", r, NULL);
	if (tcp)
		fcntl(s, F_SETFL, O_NONBLOCK);
	errno = 0;
	r = tcp ? connect(s, (struct sockaddr *)&to, sizeof(to)) :
	    sendto(s, "ZTATTACK-SRH\n", 13, 0, (struct sockaddr *)&to,
	    sizeof(to));
	report(tcp ? "net.tcp6_connect_srh" : "net.udp6_sendto_srh", r,
	    "(to the allowed [::1], the segment forbidden)");
	if (tcp)
		usleep(300000);
}

static void
nets(int ugood, int good, int bad, int ugood6, int good6)
{
	struct sockaddr_in bad4 = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)bad) };
	struct sockaddr_un ab = { .sun_family = AF_UNIX };
	int s;

	inet_pton(AF_INET, "127.0.0.1", &bad4.sin_addr);
	TRY("net.socket_packet", sock(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)));
	TRY("net.socket_packet_dgram", sock(AF_PACKET, SOCK_DGRAM, 0));
	TRY("net.socket_vsock", sock(AF_VSOCK, SOCK_STREAM, 0));
	TRY("net.socket_alg", sock(AF_ALG, SOCK_SEQPACKET, 0));
	TRY("net.socket_xdp", sock(AF_XDP, SOCK_RAW, 0));
	TRY("net.socket_bluetooth", sock(AF_BLUETOOTH, SOCK_RAW, 0));
	TRY("net.socket_netlink_audit", sock(AF_NETLINK, SOCK_RAW, 9));
	TRY("net.socket_netlink_uevent", sock(AF_NETLINK, SOCK_DGRAM, 15));
	TRY("net.socket_netlink_sockdiag", sock(AF_NETLINK, SOCK_RAW, 4));
	TRY("net.socket_key", sock(15, SOCK_RAW, 2));
	TRY("net.socket_inet_raw", sock(AF_INET, SOCK_RAW, IPPROTO_UDP));
	TRY("net.socket_inet6_raw", sock(AF_INET6, SOCK_RAW, IPPROTO_UDP));
	TRY("net.socket_family_hibits", syscall(SYS_socket,
	    0x100000000L | AF_PACKET, SOCK_RAW, 0));
	s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	report("net.socket_ping", s, NULL);
	if (s >= 0)
		TRY("net.ping_sendto_bad", sendto(s, "\x08\0\0\0\0\0\0\0", 8,
		    0, (struct sockaddr *)&bad4, sizeof(bad4)));
	s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE);
	report("net.socket_udplite", s, NULL);
	if (s >= 0)
		TRY("net.udplite_sendto_bad", sendto(s, "x", 1, 0,
		    (struct sockaddr *)&bad4, sizeof(bad4)));
	s = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	report("net.socket_mptcp", s, NULL);
	if (s >= 0)
		TRY("net.mptcp_connect_bad", connect(s, (struct sockaddr *)&bad4,
		    sizeof(bad4)));
	s = socket(AF_INET, SOCK_STREAM, 0);
	TRY("net.tcp_fastopen_sendto_bad", sendto(s, "x\n", 2, MSG_FASTOPEN,
	    (struct sockaddr *)&bad4, sizeof(bad4)));
	s = socket(AF_INET, SOCK_STREAM, 0);
	TRY("net.tcp_fastopen_connect_opt", setsockopt(s, IPPROTO_TCP,
	    TCP_FASTOPEN_CONNECT, &(int){ 1 }, sizeof(int)));
	TRY("net.tcp_connect_bad", connect(s, (struct sockaddr *)&bad4,
	    sizeof(bad4)));
	TRY("net.setsockopt_passrights", setsockopt(s, SOL_SOCKET, 83,
	    &(int){ 1 }, sizeof(int)));
	TRY("net.setsockopt_passrights_hibits", syscall(SYS_setsockopt, s,
	    0x100000000L | SOL_SOCKET, 83L, &(int){ 1 }, sizeof(int)));
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(ab.sun_path, "\0zt-attack", 10);
	TRY("net.unix_abstract_connect", connect(s, (struct sockaddr *)&ab,
	    offsetof(struct sockaddr_un, sun_path) + 10));
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	TRY("net.unix_abstract_sendto", sendto(s, "x", 1, 0,
	    (struct sockaddr *)&ab, offsetof(struct sockaddr_un, sun_path) +
	    10));
	TRY("net.unix_autobind", bind(s, (struct sockaddr *)&ab,
	    sizeof(sa_family_t)));
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(ab.sun_path, sizeof(ab.sun_path), "%s/ztd.sock", work);
	TRY("net.unix_connect_ztd", connect(s, (struct sockaddr *)&ab,
	    sizeof(ab)));
	udp_send_with_opts("net.udp_sendto_lsrr", "127.0.0.9", ugood);
	tcp_connect_with_opts("127.0.0.9", good);
	ipv6_with_srh(SOCK_DGRAM, "fd00:5a7::fd58", ugood6);
	ipv6_with_srh(SOCK_STREAM, "fd00:5a7::fd58", good6);
}

static int
udp_inbound(void)
{
	struct sockaddr_in any = { .sin_family = AF_INET };
	struct sockaddr_in from;
	socklen_t fl = sizeof(from), al = sizeof(any);
	char buf[256];
	int s = socket(AF_INET, SOCK_DGRAM, 0), fd;
	struct pollfd pfd = { .fd = s, .events = POLLIN };
	long r;

	errno = 0;
	r = bind(s, (struct sockaddr *)&any, sizeof(any));
	report("net.udp_bind_port0", r, NULL);
	getsockname(s, (struct sockaddr *)&any, &al);
	fd = open(P("rw/port.tmp"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	dprintf(fd, "%d\n", ntohs(any.sin_port));
	close(fd);
	rename(P("rw/port.tmp"), P("rw/port"));
	if (poll(&pfd, 1, 20000) != 1) {
		report("net.udp_inbound_recv", -1, "(nothing in 20 s)");
		return 0;
	}
	errno = 0;
	r = recvfrom(s, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from,
	    &fl);
	if (r >= 0) {
		buf[r] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(buf + strlen(buf), 64, " from=%s:%d",
		    inet_ntoa(from.sin_addr), ntohs(from.sin_port));
	}
	report("net.udp_inbound_recv", r, r >= 0 ? buf : NULL);
	return 0;
}

/* orphan GOOD_PORT: a child connected to the allowed port outlives the
 * agent and sends "late" 5 s after the agent exited. */
static int
orphan(int port)
{
	struct sockaddr_in to = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };
	pid_t p;

	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	if ((p = fork()) == 0) {
		int s = socket(AF_INET, SOCK_STREAM, 0);

		setsid();
		if (connect(s, (struct sockaddr *)&to, sizeof(to)) < 0)
			_exit(1);
		sleep(5);
		write(s, "ZTATTACK-late\n", 14);
		_exit(0);
	}
	printf("orphan child=%d\n", (int)p);
	return 0;
}

/* unix-passcred PATH: a unix datagram socket with SO_PASSCRED, sent to the
 * allowed PATH (the kernel autobinds it to an abstract name on that send),
 * then waits 10 s for a datagram from anyone. */
static int
unix_passcred(const char *path)
{
	struct sockaddr_un to = { .sun_family = AF_UNIX }, me;
	socklen_t ml = sizeof(me);
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct pollfd pfd = { .fd = s, .events = POLLIN };
	char buf[128];
	long r;

	snprintf(to.sun_path, sizeof(to.sun_path), "%s", path);
	errno = 0;
	r = setsockopt(s, SOL_SOCKET, SO_PASSCRED, &(int){ 1 }, sizeof(int));
	report("net.setsockopt_passcred", r, NULL);
	errno = 0;
	r = sendto(s, "x", 1, 0, (struct sockaddr *)&to, sizeof(to));
	report("net.unix_dgram_sendto_allowed", r, NULL);
	memset(&me, 0, sizeof(me));
	getsockname(s, (struct sockaddr *)&me, &ml);
	printf("net.unix_autobound len=%d abstract=%s\n", (int)ml,
	    ml > 3 && me.sun_path[0] == '\0' ? me.sun_path + 1 : "-");
	fflush(stdout);
	if (ml > 3) {
		int fd = open(P("rw/abstract.tmp"), O_CREAT | O_WRONLY | O_TRUNC,
		    0644);
		write(fd, me.sun_path + 1, ml - 3);
		close(fd);
		rename(P("rw/abstract.tmp"), P("rw/abstract"));
	}
	if (poll(&pfd, 1, 10000) != 1) {
		report("net.unix_autobound_recv", -1, "(nothing in 10 s)");
		return 0;
	}
	errno = 0;
	r = recv(s, buf, sizeof(buf) - 1, 0);
	if (r >= 0)
		buf[r] = '\0';
	report("net.unix_autobound_recv", r, r >= 0 ? buf : NULL);
	return 0;
}

/*
 * cwd-swap: exec the approved script by a relative path ("ok.sh" in
 * WORK/bin) while a process that shares this one's fs_struct (clone
 * CLONE_FS, which exec does not unshare) moves the shared cwd to WORK/rw
 * as soon as the interpreter runs: the interpreter then opens rw/ok.sh.
 */
static int
cwd_swap(void)
{
	char *argv[] = { (char *)"ok.sh", NULL };
	char *envp[] = { (char *)"PATH=/usr/bin:/bin", NULL };
	int fd = open(P("rw/ok.sh"), O_CREAT | O_WRONLY | O_TRUNC, 0755);
	pid_t a = getpid();
	long b;

	dprintf(fd, "#!/usr/bin/bash\necho ZTATTACK-EVIL-SCRIPT-RAN\n");
	close(fd);
	if (chdir(P("bin")) < 0)
		return 1;
	b = syscall(SYS_clone, (long)(CLONE_FS | SIGCHLD), 0L, 0L, 0L, 0L);
	if (b < 0) {
		report("exec.cwd_swap_clone_fs", b, NULL);
		return 1;
	}
	if (b == 0) {
		char link[64], exe[256];

		snprintf(link, sizeof(link), "/proc/%d/exe", (int)a);
		for (int i = 0; i < 2000000; i++) {
			ssize_t n = readlink(link, exe, sizeof(exe) - 1);

			if (n > 0) {
				exe[n] = '\0';
				if (strstr(exe, "bash") != NULL) {
					chdir(P("rw"));
					_exit(0);
				}
			}
		}
		_exit(1);
	}
	usleep(100000);
	execve("ok.sh", argv, envp);
	report("exec.cwd_swap_execve", -1, NULL);
	return 1;
}

/* pym: the approved "python3.11 -m json.tool", run from the agent's rw
 * directory, where it put a package json of its own (python puts the cwd
 * first on sys.path for -m and -c). */
static int
pym(void)
{
	char *argv[] = { (char *)"python3.11", (char *)"-m",
	    (char *)"json.tool", NULL };
	char *envp[] = { (char *)"PATH=/usr/bin:/bin", NULL };
	int fd;

	mkdir(P("rw/json"), 0755);
	fd = open(P("rw/json/__init__.py"), O_CREAT | O_WRONLY | O_TRUNC,
	    0644);
	dprintf(fd, "print('ZTATTACK-EVIL-PY ran inside the approved "
	    "python3.11 -m json.tool')\nraise SystemExit(7)\n");
	close(fd);
	if (chdir(P("rw")) < 0)
		return 1;
	execve("/usr/bin/python3.11", argv, envp);
	report("exec.pym_execve", -1, NULL);
	return 1;
}


/*
 * deaf WORK UGOOD UGOOD6: ways to end up with an inet datagram socket
 * that hears a sender no rule allowed (the review of 7394d28).  Each
 * attempt prints "NAME rc=R errno=E [note]"; each socket that got a port
 * is listed in WORK/rw/deaf.ports ("NAME v4|v6 PORT"); once the driver
 * made WORK/rw/deaf.go (after it sent a datagram and a forged ICMP error
 * to each), every socket says what it heard: "NAME heard=TEXT|nothing
 * errqueue=TEXT|nothing filter=N" (N: socket filter instructions).
 */
#define DEAF_MAX 16
static struct { const char *name; int fd; bool v6; } deaf[DEAF_MAX];
static int n_deaf;
static FILE *deaf_ports;

static void
deaf_keep(const char *name, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	unsigned port;

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    n_deaf == DEAF_MAX)
		return;
	port = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	printf("%s port=%u\n", name, port);
	if (port == 0)
		return;
	deaf[n_deaf].name = name;
	deaf[n_deaf].fd = fd;
	deaf[n_deaf].v6 = ss.ss_family == AF_INET6;
	fprintf(deaf_ports, "%s %s %u\n", name, deaf[n_deaf].v6 ? "v6" : "v4",
	    port);
	n_deaf++;
}

static void
deaf_attempt(const char *name, long rc, const char *note)
{
	printf("%s rc=%ld errno=%s %s\n", name, rc, rc < 0 ? ename(errno) :
	    "0", note);
}

struct race { int fd; struct sockaddr_in to; atomic_int stop; int what; };

static void *
deaf_racer(void *arg)
{
	struct race *r = arg;
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };

	while (!atomic_load(&r->stop)) {
		if (r->what == 0)
			connect(r->fd, (struct sockaddr *)&r->to, sizeof(r->to));
		else if (r->what == 1)
			connect(r->fd, &unspec, sizeof(unspec));
		else if (r->what == 2)
			(void)!write(r->fd, "ZTATTACK-race", 13);
		else
			sendto(r->fd, "ZTATTACK-race", 13, 0,
			    (struct sockaddr *)&r->to, sizeof(r->to));
	}
	return NULL;
}

static int
deaf_mode(int ugood, int ugood6)
{
	struct sockaddr_in good4 = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)ugood),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 mapped = { .sin6_family = AF_INET6,
	    .sin6_port = htons((uint16_t)ugood) };
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	char path[512];
	long r;
	int fd, one = 1, v;
	socklen_t vl;

	(void)ugood6;
	snprintf(path, sizeof(path), "%s/rw/deaf.ports", work);
	if ((deaf_ports = fopen(path, "w")) == NULL)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &mapped.sin6_addr);

	/* UDP-Lite and ICMP echo: other datagram protocols. */
	fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE);
	deaf_attempt("udplite-socket", fd, "");
	if (fd >= 0) {
		r = write(fd, "ZTATTACK", 8);
		deaf_attempt("udplite-write", r, "autobinds");
		deaf_keep("udplite", fd);
	}
	fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	deaf_attempt("ping-socket", fd, "");
	if (fd >= 0) {
		r = connect(fd, (struct sockaddr *)&good4, sizeof(good4));
		deaf_attempt("ping-connect-allowed-addr", r, "refused?");
		r = write(fd, "ZTATTACK", 8);
		deaf_attempt("ping-write", r, "");
		deaf_keep("ping", fd);
	}
	/* The type with upper bits (the kernel reads an int), the domain
	 * with upper bits, type 0 and SOCK_RAW. */
	fd = (int)syscall(SYS_socket, AF_INET, 0xdead000000000000ul | SOCK_DGRAM,
	    0);
	deaf_attempt("type-upper-bits", fd, "");
	if (fd >= 0) {
		r = write(fd, "ZTATTACK", 8);
		deaf_keep("type-hi", fd);
	}
	r = syscall(SYS_socket, 0x100000000ul | AF_INET, SOCK_DGRAM, 0);
	deaf_attempt("domain-upper-bits", r, "");
	r = socket(AF_INET, 0, 0);
	deaf_attempt("type-0", r, "");
	r = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
	deaf_attempt("sock-raw", r, "");
	/* IPV6_ADDRFORM: a v6 socket connected to a v4-mapped allowed peer
	 * turned into an AF_INET one, then disconnected and written. */
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	r = connect(fd, (struct sockaddr *)&mapped, sizeof(mapped));
	deaf_attempt("addrform-connect-mapped", r, "");
	v = AF_INET;
	r = setsockopt(fd, IPPROTO_IPV6, IPV6_ADDRFORM, &v, sizeof(v));
	deaf_attempt("addrform", r, "");
	r = connect(fd, &unspec, sizeof(unspec));
	deaf_attempt("addrform-disconnect", r, "");
	r = write(fd, "ZTATTACK", 8);
	deaf_attempt("addrform-write", r, "");
	deaf_keep("addrform", fd);
	/* A bind denied, then a send without an address. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	{
		struct sockaddr_in any = { .sin_family = AF_INET,
		    .sin_port = htons(4) };
		r = bind(fd, (struct sockaddr *)&any, sizeof(any));
		deaf_attempt("bind-denied", r, "");
	}
	r = send(fd, "ZTATTACK", 8, 0);
	deaf_attempt("bind-denied-send", r, "");
	deaf_keep("bind-denied", fd);
	/* Connected to the allowed peer, then a denied reconnect. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	r = connect(fd, (struct sockaddr *)&good4, sizeof(good4));
	deaf_attempt("connected", r, "");
	{
		struct sockaddr_in bad = good4;

		bad.sin_port = htons(9);
		r = connect(fd, (struct sockaddr *)&bad, sizeof(bad));
		deaf_attempt("reconnect-denied", r, "");
	}
	r = setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	vl = sizeof(v);
	v = -1;
	getsockopt(fd, IPPROTO_IP, IP_RECVERR, &v, &vl);
	printf("recverr-connected rc=%ld errno=%s now=%d\n", r,
	    r < 0 ? ename(errno) : "0", v);
	deaf_keep("connected", fd);
	/* SO_REUSEPORT and SO_REUSEADDR on a socket then autobound: the
	 * driver's datagram goes to the port either way. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	r = write(fd, "ZTATTACK", 8);
	deaf_attempt("reuseport-write", r, "");
	deaf_keep("reuseport", fd);
	/* Four threads: connect, disconnect, write, sendto, for a while;
	 * then whatever state it ends in. */
	for (int round = 0; round < 2; round++) {
		pthread_t t[4];
		struct race rc[4];
		int rfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

		for (int i = 0; i < 4; i++) {
			rc[i].fd = rfd;
			rc[i].to = good4;
			rc[i].what = i;
			atomic_init(&rc[i].stop, 0);
			pthread_create(&t[i], NULL, deaf_racer, &rc[i]);
		}
		usleep(300000);
		for (int i = 0; i < 4; i++)
			atomic_store(&rc[i].stop, 1);
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		/* The second round ends disconnected, then written. */
		if (round == 1) {
			r = connect(rfd, &unspec, sizeof(unspec));
			deaf_attempt("race-disconnect", r, "");
			r = write(rfd, "ZTATTACK", 8);
		}
		deaf_keep(round == 0 ? "race-end" : "race-disconnected", rfd);
	}
	/* RLIMIT_NOFILE reached: socket() fails as the kernel's would. */
	{
		struct rlimit old, lim;
		int top = dup(0);

		getrlimit(RLIMIT_NOFILE, &old);
		lim = old;
		lim.rlim_cur = (rlim_t)top + 1;
		setrlimit(RLIMIT_NOFILE, &lim);
		r = socket(AF_INET, SOCK_DGRAM, 0);
		deaf_attempt("socket-at-rlimit", r, "EMFILE expected");
		setrlimit(RLIMIT_NOFILE, &old);
		close(top);
	}
	fclose(deaf_ports);
	printf("ports-ready\n");
	snprintf(path, sizeof(path), "%s/rw/deaf.go", work);
	for (int i = 0; i < 1200 && access(path, F_OK) != 0; i++)
		usleep(100000);
	for (int i = 0; i < n_deaf; i++) {
		char buf[128], ebuf2[128], control[256];
		struct iovec iov = { .iov_base = ebuf2,
		    .iov_len = sizeof(ebuf2) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
		    .msg_control = control, .msg_controllen = sizeof(control) };
		socklen_t pl = 0;
		ssize_t n, e;

		n = recv(deaf[i].fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		while (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			n = recv(deaf[i].fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		e = recvmsg(deaf[i].fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
		buf[n > 0 ? n : 0] = '\0';
		ebuf2[e > 0 ? e : 0] = '\0';
		getsockopt(deaf[i].fd, SOL_SOCKET, SO_GET_FILTER, NULL, &pl);
		printf("%s heard=%s errqueue=%s filter=%u\n", deaf[i].name,
		    n > 0 ? buf : "nothing", e > 0 ? ebuf2 : "nothing",
		    (unsigned)pl);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "pym") == 0) {
		work = argv[2];
		return pym();
	}
	if (argc == 3 && strcmp(argv[1], "cwd-swap") == 0) {
		work = argv[2];
		return cwd_swap();
	}
	if (argc == 3 && strcmp(argv[1], "orphan") == 0)
		return orphan(atoi(argv[2]));
	if (argc == 4 && strcmp(argv[1], "unix-passcred") == 0) {
		work = argv[2];
		return unix_passcred(argv[3]);
	}
	if (argc >= 3 && strcmp(argv[1], "udp-inbound") == 0) {
		work = argv[2];
		return udp_inbound();
	}
	if (argc == 5 && strcmp(argv[1], "deaf") == 0) {
		work = argv[2];
		return deaf_mode(atoi(argv[3]), atoi(argv[4]));
	}
	if (argc == 8 && strcmp(argv[1], "all") == 0) {
		work = argv[2];
		files();
		execs();
		procs();
		nets(atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
		    atoi(argv[6]), atoi(argv[7]));
		return 0;
	}
	if (argc <= 1) /* as a command: exitNN */
		return 0;
	fprintf(stderr, "usage: zt-attack all WORK UGOOD GOOD BAD UGOOD6 | "
	    "udp-inbound WORK\n");
	return 2;
}

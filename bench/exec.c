/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark: an agent under zt-exec against the same agent bare, under a
 * minimal seccomp notify-and-continue supervisor, under bwrap and sudo.
 *
 * Usage (from the build directory): bench/exec [ZTD [ZT-EXEC]]; the
 * defaults are ./ztd and the zt-exec beside it (./seccomp/zt-exec, else
 * ./zt-exec).  Needs root; exits 77 when it
 * is not root or zt-exec is not built (after the figures it could make).
 *
 * What a run looks like: this process starts ztd (software attestation)
 * with a generated configuration whose one agent is a copy of this very
 * program in a temporary directory, a thread that drains ztd's syslog
 * datagrams and a thread that accepts and closes TCP connections on
 * 127.0.0.1.  The agent, run as the account "daemon", is one of three
 * workloads (--workload syscalls|connect|exec), each printing its timings
 * as one line of numbers; it runs bare, under zt-exec, and for connect
 * also under a minimal supervisor that lives in this file: a libseccomp
 * filter that notifies connect and allows the rest, and a thread that
 * answers each notification with SECCOMP_USER_NOTIF_FLAG_CONTINUE; for
 * exec also under a minimal tracer (bench/exec --tracer, tracer_main),
 * the floor of a design that verifies every exec as zt-exec does, and a
 * lazy tracer (--lazy-tracer[-exe], lazy_main) that attaches only around
 * each exec, the floor of a design that would not follow forks.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/seccomp.h>

#include "common.h"
#include "zt_exe.h"

/* Bookworm's headers predate these (Linux 5.5 and 6.6). */
#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

#define SYSCALL_CALLS 1000000		/* per repetition */
#define SYSCALL_REPS 3			/* per process */
#define SYSCALL_ROUNDS 7		/* processes per setup */
#define CONNECT_WARM 20			/* the first warms ztd and the cache */
#define CONNECTS 600			/* timed, per process */
#define CONNECT_ROUNDS 5		/* processes per setup */
#define EXECS 250			/* timed, per process */
#define EXEC_ROUNDS 4			/* processes per setup */
#define EXEC_WARM 10
#define LAUNCHES 200			/* whole zt-exec launches */
#define WRAPPER_LAUNCHES 1000		/* bwrap and sudo */
#define RUN_TIMEOUT_MS 60000		/* one workload run */
#define NUMBERS_MAX 64

struct state {
	char dir[64];
	char config[128], agent[128];
	char ztd_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char log_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char ztd_err[128];
	char true_path[PATH_MAX];
	const char *ztd_path;
	char zt_exec[PATH_MAX];
	bool have_zt_exec;
	uid_t uid;
	gid_t gid;
	pid_t self, ztd_pid, child;
	int listen_fd;
	uint16_t port;
	struct ztd_launch ztd;
};

static char supervisor_group[32];
static struct state st = { .listen_fd = -1 };
static volatile sig_atomic_t interrupted;
/* The last minimal-supervisor run: SYNC_WAKE_UP taken, notifications. */
static bool minimal_sync_wake_up;
static uint64_t minimal_answered;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* -------------------------------------------------------- workloads */

/*
 * The agent's side, run as AGENT_ACCOUNT (bare or supervised).  Each mode
 * prints one line of numbers to stdout and exits 0, or says why on stderr
 * and exits 1.
 */

/* syscalls N REPS: ns per syscall(SYS_getppid), one number a repetition. */
static int
workload_syscalls(long n, int reps)
{
	for (long i = 0; i < 100000; i++)
		syscall(SYS_getppid);
	for (int r = 0; r < reps; r++) {
		double t0 = now_us();

		for (long i = 0; i < n; i++)
			syscall(SYS_getppid);
		printf("%s%.2f", r > 0 ? " " : "", (now_us() - t0) * 1e3 / n);
	}
	printf("\n");
	return 0;
}

/*
 * connect PORT N: CONNECT_WARM connects, then N timed connect+close to
 * 127.0.0.1:PORT.  Prints the first one's us, the median and the 90th
 * percentile of the timed ones.
 */
static int
workload_connect(int port, long n)
{
	struct sockaddr_in to = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	double *t = calloc((size_t)n, sizeof(*t)), first = 0;

	if (t == NULL)
		return 1;
	for (long i = -CONNECT_WARM; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		double t0;

		if (fd < 0) {
			perror("bench/exec: workload: socket");
			return 1;
		}
		t0 = now_us();
		if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
			perror("bench/exec: workload: connect 127.0.0.1");
			return 1;
		}
		close(fd);
		if (i == -CONNECT_WARM)
			first = now_us() - t0;
		if (i >= 0)
			t[i] = now_us() - t0;
	}
	qsort(t, (size_t)n, sizeof(*t), compare_double);
	printf("%.2f %.2f %.2f\n", first, median(t, (size_t)n),
	    t[(size_t)n * 9 / 10]);
	free(t);
	return 0;
}

/*
 * exec N WARM PATH: WARM, then N timed fork+execve(PATH)+wait.  Prints
 * the median and the mean us.
 */
static int
workload_exec(long n, long warm, const char *path)
{
	extern char **environ;
	char *const argv[] = { (char *)path, NULL };
	double *t = calloc((size_t)n, sizeof(*t)), sum = 0;

	if (t == NULL)
		return 1;
	for (long i = -warm; i < n; i++) {
		double t0 = now_us();
		int status;
		pid_t pid = fork();

		if (pid < 0) {
			perror("bench/exec: workload: fork");
			return 1;
		}
		if (pid == 0) {
			execve(path, argv, environ);
			_exit(127);
		}
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR) {
				perror("bench/exec: workload: waitpid");
				return 1;
			}
		if (i >= 0) {
			t[i] = now_us() - t0;
			sum += t[i];
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "bench/exec: workload: %s: status "
			    "0x%x\n", path, (unsigned)status);
			return 1;
		}
	}
	printf("%.2f %.2f\n", median(t, (size_t)n), sum / n);
	free(t);
	return 0;
}

static int
workload(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[2], "syscalls") == 0)
		return workload_syscalls(atol(argv[3]), atoi(argv[4]));
	if (argc == 5 && strcmp(argv[2], "connect") == 0)
		return workload_connect(atoi(argv[3]), atol(argv[4]));
	if (argc == 6 && strcmp(argv[2], "exec") == 0)
		return workload_exec(atol(argv[3]), atol(argv[4]), argv[5]);
	fprintf(stderr, "usage: bench/exec --workload syscalls N REPS | "
	    "connect PORT N | exec N WARM PATH\n");
	return 2;
}

/* ------------------------------------------------ minimal supervisor */

/*
 * In the child about to become the agent: a filter that notifies NR
 * (connect, or execve for the minimal tracer) and allows everything else
 * (libseccomp sets no_new_privs), and its notify fd sent over SOCK.
 */
static int
load_minimal_filter(int sock, int nr)
{
	char control[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = control, .msg_controllen = sizeof(control) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int fd;

	if (ctx == NULL ||
	    seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 0) < 0 ||
	    seccomp_load(ctx) < 0 || (fd = seccomp_notify_fd(ctx)) < 0)
		return -1;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &msg, 0) != 1)
		return -1;
	close(fd);
	return 0;
}

static int
receive_fd(int sock)
{
	char control[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = control, .msg_controllen = sizeof(control) };
	struct cmsghdr *c;
	int fd;
	ssize_t n;

	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 &&
	    errno == EINTR && !interrupted)
		;
	c = CMSG_FIRSTHDR(&msg);
	if (n != 1 || c == NULL || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

struct supervisor {
	int fd;
	bool sync_wake_up;		/* the kernel took the flag */
	uint64_t answered;
	pthread_t thread;
};

/* The next notification on FD into REQ: 0, or -1 once no task uses the
 * filter. */
static int
next_notification(int fd, struct seccomp_notif *req)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (!(pfd.revents & POLLIN))
			return -1;	/* POLLHUP: no task uses the filter */
		/* libseccomp 2.5.4 does not clear it: EINVAL otherwise. */
		memset(req, 0, sizeof(*req));
		if (seccomp_notify_receive(fd, req) == 0)
			return 0;
		/* ENOENT: the caller is gone */
	}
}

/* Answer every notification with CONTINUE until the agent is gone. */
static void *
run_supervisor(void *arg)
{
	struct supervisor *s = arg;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;

	if (seccomp_notify_alloc(&req, &resp) != 0)
		return NULL;
	while (next_notification(s->fd, req) == 0) {
		memset(resp, 0, sizeof(*resp));
		resp->id = req->id;
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		if (seccomp_notify_respond(s->fd, resp) == 0)
			s->answered++;
	}
	seccomp_notify_free(req, resp);
	return NULL;
}

/* ------------------------------------------------ minimal tracer */

/*
 * Fork the agent ARGV[2...] under a filter that notifies execve (STOP: it
 * stops itself before its exec, until traced; else its exec waits for an
 * answer), and start FN with ARG on its notify fd, which goes to *FD.
 * The agent's pid, or -1.
 */
static pid_t
fork_filtered_agent(char **argv, bool stop, void *(*fn)(void *), void *arg,
    pthread_t *thread, int *fd, bool *sync_wake_up)
{
	int sock[2], status;
	pid_t agent;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0 ||
	    (agent = fork()) < 0)
		return -1;
	if (agent == 0) {
		if (load_minimal_filter(sock[1], SCMP_SYS(execve)) < 0)
			_exit(126);
		if (stop)
			raise(SIGSTOP);		/* until traced */
		execv(argv[2], argv + 2);
		_exit(127);
	}
	close(sock[1]);
	*fd = receive_fd(sock[0]);
	close(sock[0]);
	if (*fd < 0 || (stop && (waitpid(agent, &status, WSTOPPED) != agent ||
	    ptrace(PTRACE_SEIZE, agent, 0, PTRACE_O_TRACEFORK |
	    PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
	    PTRACE_O_EXITKILL) < 0)))
		goto fail;
	*sync_wake_up = ioctl(*fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
	    (unsigned long)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
	if (start_thread(thread, fn, arg) < 0)
		goto fail;
	return agent;
fail:
	kill(agent, SIGKILL);
	return -1;
}

/*
 * bench/exec --tracer AGENT ARGS...: the least a supervisor that verifies
 * every exec needs, as zt-exec's design does: the agent under ptrace with
 * its forks, clones and execs reported (PTRACE_SEIZE, TRACEFORK,
 * TRACEVFORK, TRACECLONE, TRACEEXEC, EXITKILL), every stop continued at
 * once, and a seccomp filter that notifies execve, answered CONTINUE by a
 * thread.  No decision, no digest, no audit: the floor of the exec path's
 * hand-offs.  Runs as the account it was started as; exits as the agent.
 */
static int
tracer_main(int argc, char **argv)
{
	struct supervisor sup = { .fd = -1 };
	int status = 0;
	pid_t agent;

	if (argc < 3)
		return 2;
	if ((agent = fork_filtered_agent(argv, true, run_supervisor, &sup,
	    &sup.thread, &sup.fd, &sup.sync_wake_up)) < 0)
		return 1;
	kill(agent, SIGCONT);
	for (;;) {
		int st_ = 0;
		pid_t p = waitpid(-1, &st_, __WALL);

		if (p < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (WIFEXITED(st_) || WIFSIGNALED(st_)) {
			if (p == agent) {
				status = st_;
				break;
			}
			continue;
		}
		if (WIFSTOPPED(st_)) {
			int sig = WSTOPSIG(st_);

			/* Event stops and the group stop that was ours: go
			 * on; any other signal is delivered. */
			ptrace(PTRACE_CONT, p, 0, (st_ >> 16) != 0 ||
			    sig == SIGSTOP || sig == SIGCONT ||
			    sig == SIGTRAP ? 0 : sig);
		}
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* ------------------------------------------------ lazy tracer */

/*
 * bench/exec --lazy-tracer[-exe] AGENT ARGS...: a tracer that attaches
 * only around each exec, to measure whether that lowers the minimal
 * tracer's floor.  The agent is not seized at its start and no fork or
 * clone is followed; the same filter notifies execve.  For each
 * notification the thread that takes it seizes the calling thread
 * (req->pid) with TRACEEXEC and EXITKILL only, checks that the
 * notification is still valid (so that tid is the one that asked, not a
 * reuse of it), answers CONTINUE, waits for that task's exec event (a
 * signal on its way is delivered, a group stop listened to), with -exe
 * looks at /proc/PID/exe with statx there as zt-exec does, and detaches.
 * ptrace requests must come from the thread that seized, so that thread
 * handles the event.  No decision, no digest, no audit: a floor, as the
 * minimal tracer is.  Bench-only; what a real zt-exec would lose or need
 * with it:
 *
 * - A failed exec (ENOENT, EACCES, ENOEXEC; after the CONTINUE) returns
 *   to user space still traced, and no exec event comes: here the thread
 *   would wait on (the bench's execs do not fail).  A real design waits
 *   for all its tracees in one loop (waitpid(-1, __WALL | __WNOTHREAD) in
 *   the seizing thread), keeps a table of the tasks seized and not yet
 *   let go, and treats a seized task's next notification (already traced
 *   by us: no second SEIZE), signal stop or exit as its exec having
 *   failed; or it sends PTRACE_INTERRUPT right after the CONTINUE, so
 *   that a failed exec traps on its return (PTRACE_EVENT_STOP with no
 *   exec event before it: detach) and a good one at the new image's
 *   first instruction, after the exec event: one more stop per exec.
 *   Either way a notification whose task cannot be seized (EPERM: Yama,
 *   not dumpable; EBUSY) is denied, as every error is.
 * - A non-leader thread's exec takes over the leader's pid: the event
 *   comes as the tgid, the caller's tid in PTRACE_GETEVENTMSG (as
 *   tracer.c handles it), so waiting on the tid alone does not do.
 * - The tree kill.  Today EXITKILL is on every task (all auto-attached
 *   at fork), and the tracer's task list is what supervise_kill_tree
 *   kills (grant end, kill on violation, no signal forwarding); ztd's
 *   second line kills the session's processes of the uid, which a task
 *   that calls setsid (allowed) leaves.  Lazily, only a task inside an
 *   exec is traced: the supervisor's death kills nothing else, and it
 *   knows no list of tasks.  PDEATHSIG alone can be cleared by the agent
 *   and covers only the first process.  What would replace it: a cgroup
 *   made for the agent (by ztd, which is root, delegated or not) with
 *   cgroup.kill for the tree kill and cgroup.procs for the list, which no
 *   task can leave without write access to another cgroup, and which
 *   ztd can kill when the supervisor's connection closes (its exit, as
 *   EXITKILL did); or a pid namespace whose init is the supervisor (its
 *   exit kills every task in it; needs CAP_SYS_ADMIN or a user
 *   namespace, and the agent then sees other pids); PR_SET_CHILD_
 *   SUBREAPER alone is no kill: it only keeps orphans below the
 *   supervisor (a walk of /proc for its descendants, racing forks).
 * - Yama: kernel.yama.ptrace_scope 1 lets a task seize only its
 *   descendants (or those that named it with PR_SET_PTRACER, which the
 *   filter forbids); today only the first SEIZE is checked (the agent is
 *   zt-exec's child) and the rest are auto-attached.  Lazily each exec is
 *   a new SEIZE: a task orphaned by a double fork is reparented to init
 *   and is no longer a descendant, so its execs fail to be seized (and
 *   are denied).  A real design needs PR_SET_CHILD_SUBREAPER on the
 *   supervisor (orphans then stay its descendants) or a pid namespace;
 *   scope 2 (CAP_SYS_PTRACE only) rules it out as it does today's SEIZE.
 *   A task whose image is not readable runs non-dumpable: a same-uid
 *   tracer without CAP_SYS_PTRACE cannot seize it later (today it is
 *   already traced), so such a task could exec nothing.
 * - Signal forwarding (zt-exec's forward_signal to the root by pidfd) is
 *   not ptrace's and stays; the tracer's signal-delivery stops go, but a
 *   task seized for an exec is stopped on every signal until it is let
 *   go, so the seizing thread must serve it promptly.
 * - What depends on every task being traced: the filter refuses ptrace
 *   and CLONE_UNTRACED, so no agent task can hide from or be traced by
 *   another; lazily the agent's tasks are untraced between execs, which
 *   changes nothing the filter does not already refuse, and the exec
 *   check itself keeps its order (SEIZE and ID_VALID before CONTINUE,
 *   the event before the new image's first instruction).  The tracer's
 *   view of the tree (peak tasks in supervise_stats; approvals dropped
 *   at a task's exit, execgate_drop) goes: an approval for a task that
 *   dies before its event must be dropped by the notification's id or a
 *   pidfd instead.
 *
 * Measured (2-core Firecracker VM, cpuidle haltpoll with
 * guest_halt_poll_ns=0; medians of 8 runs at load 0.6-2.2): bare 634 us,
 * minimal tracer 1.31x, lazy 1.13x, lazy with the statx 1.16x, zt-exec
 * 1.55x (1.18x the minimal tracer); 12 context switches per exec under
 * the minimal tracer, 6 under the lazy one, 2 bare.  With the other vCPU
 * kept from halting (a nice 19 spinner) the minimal tracer is 1.10x and
 * the lazy one 1.07x: what lazy attachment saves is mostly the wake-ups
 * of a halted vCPU.  A statx of a new process's /proc/PID/exe costs
 * about 20 us (its /proc entry made), against 3 us for a known one.
 */
struct lazy {
	int fd;
	bool exe;			/* statx /proc/PID/exe at the event */
	bool sync_wake_up;
	uint64_t answered, events, refused;
	pthread_t thread;
};

/*
 * Until the exec event of a task this thread seized: deliver signals,
 * listen to group stops; at the event, look at the image (with EXE) and
 * detach.  0 at the event, -1 when no tracee is left.
 */
static int
lazy_exec_event(bool exe)
{
	for (;;) {
		int status = 0, sig, event;
		pid_t p = waitpid(-1, &status, __WALL | __WNOTHREAD);

		if (p < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (!WIFSTOPPED(status))
			continue;	/* it died before its event */
		sig = WSTOPSIG(status);
		event = (unsigned)status >> 16;
		if (event == PTRACE_EVENT_EXEC) {
			if (exe) {
				char path[64];
				struct statx sx;

				snprintf(path, sizeof(path), "/proc/%d/exe",
				    (int)p);
				if (statx(AT_FDCWD, path, AT_STATX_SYNC_AS_STAT,
				    STATX_BASIC_STATS, &sx) < 0)
					kill(p, SIGKILL);
			}
			ptrace(PTRACE_DETACH, p, 0, 0);
			return 0;
		}
		if (event == PTRACE_EVENT_STOP && (sig == SIGSTOP ||
		    sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU))
			ptrace(PTRACE_LISTEN, p, 0, 0);
		else
			ptrace(PTRACE_CONT, p, 0, event != 0 ? 0 :
			    (void *)(uintptr_t)sig);
	}
}

/* Seize, check, continue, wait for the event, detach: each notification
 * in turn, until the agent is gone. */
static void *
run_lazy(void *arg)
{
	struct lazy *l = arg;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;

	if (seccomp_notify_alloc(&req, &resp) != 0)
		return NULL;
	while (next_notification(l->fd, req) == 0) {
		bool seized = ptrace(PTRACE_SEIZE, req->pid, 0,
		    PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL) == 0;
		memset(resp, 0, sizeof(*resp));
		resp->id = req->id;
		/* The tid seized is the caller's only while its notification
		 * is pending: checked after the SEIZE. */
		if (!seized || seccomp_notify_id_valid(l->fd, req->id) != 0) {
			l->refused++;
			if (!seized) {
				resp->error = -EPERM;
				seccomp_notify_respond(l->fd, resp);
			}
			/* Seized but gone (or its call interrupted, to be
			 * notified again): the bench does not go on. */
			continue;
		}
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		if (seccomp_notify_respond(l->fd, resp) != 0)
			continue;
		l->answered++;
		if (lazy_exec_event(l->exe) == 0)
			l->events++;
	}
	seccomp_notify_free(req, resp);
	return NULL;
}

/* Runs as the account it was started as; exits as the agent, or 1 when
 * an exec went unseen. */
static int
lazy_main(int argc, char **argv, bool exe)
{
	struct lazy l = { .fd = -1, .exe = exe };
	struct pollfd pfd = { .fd = -1, .events = POLLIN };
	int status = 0;
	pid_t agent;

	if (argc < 3)
		return 2;
	if ((agent = fork_filtered_agent(argv, false, run_lazy, &l, &l.thread,
	    &l.fd, &l.sync_wake_up)) < 0)
		return 1;
	/* Its parent's waitpid would take the stops of a task that a
	 * thread of the same process traces (the kernel counts the whole
	 * thread group as the tracer): wait for its end by its pidfd, then
	 * reap it, which lets its filter go (POLLHUP to the thread). */
	pfd.fd = (int)syscall(SYS_pidfd_open, agent, 0);
	while (pfd.fd >= 0 && poll(&pfd, 1, -1) < 0 && errno == EINTR)
		;
	while (waitpid(agent, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	pthread_join(l.thread, NULL);
	if (l.answered == 0 || l.refused > 0 || l.events != l.answered) {
		fprintf(stderr, "bench/exec: lazy tracer: %llu execs answered, "
		    "%llu exec events, %llu refused\n",
		    (unsigned long long)l.answered,
		    (unsigned long long)l.events,
		    (unsigned long long)l.refused);
		return 1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* ------------------------------------------------------ processes */

/* Audit lines ztd sent, by action (zt-exec's local hits included). */
static uint64_t audit_exec, audit_connect;

/* One of ztd's syslog datagrams: count its audit lines. */
static void
count_audit(const char *line)
{
	if (strstr(line, "decision=allow action=exec ") != NULL)
		__atomic_add_fetch(&audit_exec, 1, __ATOMIC_RELAXED);
	else if (strstr(line, "decision=allow action=connect ") != NULL)
		__atomic_add_fetch(&audit_connect, 1, __ATOMIC_RELAXED);
}

static struct log_sink sink = { .fd = -1, .line = count_audit };

enum wrap {
	WRAP_NONE,		/* as root, the command as it is */
	WRAP_BARE,		/* as the agent's account */
	WRAP_MINIMAL,		/* ... under the minimal supervisor */
	WRAP_ZT_EXEC,		/* ... under zt-exec */
	WRAP_BWRAP,		/* ... under bwrap (an unprivileged sandbox) */
	WRAP_TRACER,		/* ... under the minimal tracer */
	WRAP_LAZY,		/* ... under the lazy tracer */
	WRAP_LAZY_EXE,		/* ... which looks at /proc/PID/exe */
};

static const char *const wrap_names[] = { "root", "bare", "minimal",
	"zt-exec", "bwrap", "tracer", "lazy tracer", "lazy tracer (exe)" };
static char bwrap_path[PATH_MAX];	/* "": not installed */
/* >= 0: spawn pins the wrapper and everything it starts to this CPU. */
static int pin_cpu = -1;

/*
 * Fork and exec ARGV (the agent's arguments after the program) under WRAP,
 * stdout to OUT_FD.  For WRAP_MINIMAL, *NOTIFY_FD receives the filter's
 * notify fd.  The child's pid, or -1.
 */
static pid_t
spawn(enum wrap wrap, char *const *args, int out_fd, int *notify_fd)
{
	char *argv[32];
	int n = 0, sock[2] = { -1, -1 };
	pid_t pid;

	if (wrap == WRAP_ZT_EXEC)
		n = zt_exec_argv(argv, st.zt_exec, st.ztd_socket,
		    st.log_socket);
	if (wrap == WRAP_BWRAP) {
		static char *const bwrap_args[] = { "--ro-bind", "/", "/",
		    "--dev", "/dev", "--proc", "/proc" };

		argv[n++] = bwrap_path;
		for (size_t i = 0; i < sizeof(bwrap_args) /
		    sizeof(bwrap_args[0]); i++)
			argv[n++] = bwrap_args[i];
	}
	if (wrap == WRAP_TRACER) {
		argv[n++] = st.agent;		/* this program, as the tracer */
		argv[n++] = "--tracer";
	}
	if (wrap == WRAP_LAZY || wrap == WRAP_LAZY_EXE) {
		argv[n++] = st.agent;
		argv[n++] = wrap == WRAP_LAZY ? "--lazy-tracer" :
		    "--lazy-tracer-exe";
	}
	if (wrap != WRAP_NONE)
		argv[n++] = st.agent;
	for (int i = 0; args[i] != NULL && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (wrap == WRAP_MINIMAL &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0)
		return -1;
	fflush(NULL);
	if ((pid = fork()) < 0) {
		if (sock[0] >= 0) {
			close(sock[0]);
			close(sock[1]);
		}
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(out_fd >= 0 ? out_fd : null, STDOUT_FILENO);
		if (pin_cpu >= 0) {
			cpu_set_t one;

			CPU_ZERO(&one);
			CPU_SET(pin_cpu, &one);
			if (sched_setaffinity(0, sizeof(one), &one) < 0)
				_exit(126);
		}
		if (wrap != WRAP_NONE)
			drop_to_agent("bench/exec", st.uid, st.gid);
		/* After the uid change, which clears it. */
		child_setup(st.self);
		if (wrap == WRAP_MINIMAL &&
		    load_minimal_filter(sock[1], SCMP_SYS(connect)) < 0) {
			perror("bench/exec: minimal supervisor filter");
			_exit(126);
		}
		execv(argv[0], argv);
		fprintf(stderr, "bench/exec: exec %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	st.child = pid;
	if (wrap == WRAP_MINIMAL) {
		close(sock[1]);
		*notify_fd = receive_fd(sock[0]);
		close(sock[0]);
		if (*notify_fd < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			st.child = 0;
			return -1;
		}
	}
	return pid;
}

/* Wait for PID (killed after TIMEOUT_MS, or when interrupted). */
static int
reap(pid_t pid, long timeout_ms, int *status)
{
	if (reap_within(pid, timeout_ms, 2, &interrupted, status) < 0)
		return -1;
	if (st.child == pid)
		st.child = 0;
	return 0;
}

/* VmRSS and VmHWM of PID in KiB; -1 when it is gone. */
static int
read_rss(pid_t pid, long *rss, long *hwm)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		sscanf(line, "VmRSS: %ld", rss);
		sscanf(line, "VmHWM: %ld", hwm);
	}
	fclose(f);
	return 0;
}

struct rss {
	long rss_max, hwm;		/* KiB, -1 when not sampled */
	long agent_rss;			/* the agent's own, for scale */
};

/* The first child of PID (the agent under zt-exec), or 0. */
static pid_t
first_child(pid_t pid)
{
	char path[96];
	long child = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
	    (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(f, "%ld", &child) != 1)
		child = 0;
	fclose(f);
	return (pid_t)child;
}

static double children_cpu_us(void);
static void children_csw(double *vol, double *invol);

/* The CPU the last run_workload took: the wrapper's and that of every
 * process it waited for (the agent and its children), in us. */
static double workload_cpu_us;
/* ... and their context switches (voluntary ones: each a wait, and so
 * a wake-up; involuntary: preempted). */
static double workload_vcsw, workload_ivcsw;

/*
 * Run the workload ARGS under WRAP, and parse the one line it prints into
 * V (up to NUMBERS_MAX numbers).  With RSS, sample the wrapper's (zt-exec's)
 * memory every 20 ms while it runs.  The count of numbers, or -1.
 */
static int
run_workload(enum wrap wrap, char *const *args, double *v, struct rss *rss)
{
	double cpu0 = children_cpu_us(), vcsw0, ivcsw0;
	struct supervisor sup = { .fd = -1 };
	char out[4096];
	size_t got = 0;
	int fds[2], status, n = 0;
	pid_t pid;
	double deadline = now_us() + RUN_TIMEOUT_MS * 1e3;

	children_csw(&vcsw0, &ivcsw0);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid = spawn(wrap, args, fds[1], &sup.fd);
	close(fds[1]);
	if (pid < 0) {
		fprintf(stderr, "bench/exec: cannot start the %s workload\n",
		    wrap_names[wrap]);
		close(fds[0]);
		return -1;
	}
	if (wrap == WRAP_MINIMAL) {
		/* The flags are the argument itself, not a pointer. */
		sup.sync_wake_up = ioctl(sup.fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
		    (unsigned long)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
		if (start_thread(&sup.thread, run_supervisor, &sup) < 0) {
			kill(pid, SIGKILL);
			close(sup.fd);
			sup.fd = -1;
		}
	}
	if (rss != NULL)
		rss->rss_max = rss->hwm = rss->agent_rss = -1;
	for (;;) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		ssize_t r;

		if (rss != NULL) {
			long now = -1, hwm = -1, a = -1, ahwm;
			pid_t agent = first_child(pid);

			if (read_rss(pid, &now, &hwm) == 0 && now >= 0) {
				if (now > rss->rss_max)
					rss->rss_max = now;
				if (hwm > rss->hwm)
					rss->hwm = hwm;
			}
			if (agent > 0 && read_rss(agent, &a, &ahwm) == 0 &&
			    a > rss->agent_rss)
				rss->agent_rss = a;
		}
		if (interrupted || now_us() > deadline) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		r = read(fds[0], out + got, sizeof(out) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == sizeof(out) - 1)
			break;
	}
	close(fds[0]);
	reap(pid, 5000, &status);
	workload_cpu_us = children_cpu_us() - cpu0;
	children_csw(&workload_vcsw, &workload_ivcsw);
	workload_vcsw -= vcsw0;
	workload_ivcsw -= ivcsw0;
	if (sup.fd >= 0) {
		pthread_join(sup.thread, NULL);
		close(sup.fd);
		minimal_sync_wake_up = sup.sync_wake_up;
		minimal_answered = sup.answered;
	}
	out[got] = '\0';
	if (interrupted)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench/exec: the %s workload \"%s\" exited "
		    "with status %d\n", wrap_names[wrap], args[1],
		    exit_code(status));
		return -1;
	}
	if ((n = parse_numbers(out, v, NUMBERS_MAX)) == 0)
		fprintf(stderr, "bench/exec: the %s workload printed \"%s\"\n",
		    wrap_names[wrap], out);
	return n > 0 ? n : -1;
}

/* User + system CPU of the children reaped so far, in us. */
static double
children_cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_CHILDREN, &ru) < 0)
		return 0;
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	    ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* Voluntary and involuntary context switches of the children reaped so
 * far (and of what they reaped). */
static void
children_csw(double *vol, double *invol)
{
	struct rusage ru;

	*vol = *invol = 0;
	if (getrusage(RUSAGE_CHILDREN, &ru) == 0) {
		*vol = (double)ru.ru_nvcsw;
		*invol = (double)ru.ru_nivcsw;
	}
}

/* One whole launch of ARGS under WRAP (stdout to /dev/null): *US from
 * fork to reaped; *CPU_US (unless NULL) the CPU it took, from rusage:
 * the wrapper's and that of every process it waited for (the agent and
 * its child under zt-exec and bwrap alike). */
static int
launch_once(enum wrap wrap, char *const *args, double *us, double *cpu_us)
{
	double t0 = now_us(), cpu0 = children_cpu_us();
	int status;
	pid_t pid = spawn(wrap, args, -1, NULL);

	if (pid < 0 || reap(pid, 10000, &status) < 0 || interrupted)
		return -1;
	*us = now_us() - t0;
	if (cpu_us != NULL)
		*cpu_us = children_cpu_us() - cpu0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench/exec: %s (%s) exited with status %d\n",
		    args[0], wrap_names[wrap], exit_code(status));
		return -1;
	}
	return 0;
}

/*
 * N whole launches of ARGS under each of the N_WRAPS WRAPS, taking turns
 * (so that drift hits them alike); MEDIAN_US[i] is WRAPS[i]'s median, and
 * CPU_US[i] (unless CPU_US is NULL) the median of its CPU per launch.
 */
static int
launches_interleaved(const enum wrap *wraps, int n_wraps, char *const *args,
    int n, double *median_us, double *cpu_us)
{
	double *t = calloc((size_t)(2 * n * n_wraps), sizeof(*t));
	double *c = t + n * n_wraps;
	int r = 0;

	if (t == NULL)
		return -1;
	for (int i = 0; i < n && r == 0; i++)
		for (int w = 0; w < n_wraps && r == 0; w++)
			r = launch_once(wraps[w], args, &t[w * n + i],
			    &c[w * n + i]);
	for (int w = 0; w < n_wraps && r == 0; w++) {
		median_us[w] = median(t + w * n, (size_t)n);
		if (cpu_us != NULL)
			cpu_us[w] = median(c + w * n, (size_t)n);
	}
	free(t);
	return r;
}

/* N whole launches of ARGS under WRAP; the median us from fork to reaped. */
static int
launches(enum wrap wrap, char *const *args, int n, double *median_us)
{
	return launches_interleaved(&wrap, 1, args, n, median_us, NULL);
}

/* ------------------------------------------------------------ setup */

/*
 * One agent on AGENT_ACCOUNT whose binary is the copy of this program: a
 * low-risk /usr/bin/true and TCP to the listener's port.  No files list:
 * the agent has no Landlock confinement (the figures are the gate's).
 */
static int
write_config(const char *digest)
{
	FILE *f;
	int fd, r = 0;

	fd = open(st.config, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(f,
	    "ztd: { state_dir = \"%s/state\"; supervisor_group = \"%s\"; "
	    "};\n"
	    "attestation: { mode = \"software\"; session_max_age = 3600; };\n"
	    "agents = (\n"
	    "  {\n"
	    "    name = \"bench\";\n"
	    "    accounts = [\"" AGENT_ACCOUNT "\"];\n"
	    "    pam_services = [\"zt-exec\"];\n"
	    "    binary = \"%s\";\n"
	    "    sha256 = [\"%s\"];\n"
	    "    session_ttl = 600;\n"
	    "    decision_ttl = 60;\n"
	    "    commands = ( { path = \"%s\"; risk = \"low\"; } );\n"
	    "    network = ( { to = \"127.0.0.1/32\"; ports = \"%u\"; "
	    "proto = \"tcp\"; } );\n"
	    "  }\n"
	    ");\n", st.dir, supervisor_group, st.agent, digest, st.true_path,
	    (unsigned)st.port);
	if (ferror(f))
		r = -1;
	if (fclose(f) != 0)
		r = -1;
	return r;
}

static void
print_ztd_stderr(void)
{
	char title[64];

	snprintf(title, sizeof(title), "bench/exec: ztd's stderr (last %d "
	    "bytes)", TAIL_KEEP);
	print_file_tail(st.ztd_err, title);
}

/* Stop what was started, by pid, and remove the temporary directory. */
static void
teardown(bool failed)
{
	int status;

	if (st.child > 0) {
		kill(st.child, SIGKILL);
		waitpid(st.child, NULL, 0);
		st.child = 0;
	}
	if (st.ztd_pid > 0 &&
	    waitpid(st.ztd_pid, &status, WNOHANG) == st.ztd_pid) {
		fprintf(stderr, "bench/exec: ztd had exited (status %d)\n",
		    exit_code(status));
		st.ztd_pid = 0;
		failed = true;
	}
	if (st.ztd_pid > 0) {
		kill(st.ztd_pid, SIGTERM);
		if (reap(st.ztd_pid, 5000, &status) == 0 && failed)
			print_ztd_stderr();
		st.ztd_pid = 0;
	} else if (failed && st.dir[0] != '\0') {
		print_ztd_stderr();
	}
	supervisor_remove(supervisor_group);
	if (st.dir[0] != '\0')
		remove_tree("bench/exec", st.dir);
	st.dir[0] = '\0';
}

static int
prepare(void)
{
	char digest[65];
	int r;

	snprintf(st.dir, sizeof(st.dir), "/tmp/zt-bench-exec.XXXXXX");
	if (mkdtemp(st.dir) == NULL) {
		fprintf(stderr, "bench/exec: mkdtemp: %s\n", strerror(errno));
		st.dir[0] = '\0';
		return -1;
	}
	/* The agent's account reaches ztd's socket and its binary. */
	if (chmod(st.dir, 0755) < 0)
		return -1;
	if (st.have_zt_exec && supervisor_install("bench/exec", st.dir,
	    st.zt_exec, sizeof(st.zt_exec), supervisor_group) < 0)
		return -1;
	snprintf(st.config, sizeof(st.config), "%s/ztd.conf", st.dir);
	snprintf(st.ztd_socket, sizeof(st.ztd_socket), "%s/ztd.sock", st.dir);
	snprintf(st.log_socket, sizeof(st.log_socket), "%s/log.sock", st.dir);
	snprintf(st.agent, sizeof(st.agent), "%s/agent", st.dir);
	snprintf(st.ztd_err, sizeof(st.ztd_err), "%s/ztd.err", st.dir);
	st.ztd = (struct ztd_launch){ .who = "bench/exec",
	    .path = st.ztd_path, .config = st.config, .socket = st.ztd_socket,
	    .log_socket = st.log_socket, .err_path = st.ztd_err,
	    .parent = st.self, .stop = &interrupted };
	if ((r = copy_file("/proc/self/exe", st.agent, 0755)) < 0) {
		fprintf(stderr, "bench/exec: copy the agent: %s\n",
		    strerror(-r));
		return -1;
	}
	if (sha256_of(st.agent, digest) < 0) {
		fprintf(stderr, "bench/exec: sha256sum %s failed\n", st.agent);
		return -1;
	}
	if ((st.listen_fd = listen_loopback(4096, &st.port)) < 0 ||
	    (sink.fd = bind_log_socket(st.log_socket)) < 0) {
		fprintf(stderr, "bench/exec: sockets: %s\n", strerror(errno));
		return -1;
	}
	if (write_config(digest) < 0) {
		fprintf(stderr, "bench/exec: %s: %s\n", st.config,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------- figures */

/*
 * ROUNDS rounds, each running bare, the one-rule filter and zt-exec in
 * turn (so drift hits them alike); the median over every repetition.
 */
static int
figure_syscalls(void)
{
	char calls[32], reps[32];
	char *args[] = { "--workload", "syscalls", calls, reps, NULL };
	enum wrap wraps[3] = { WRAP_BARE, WRAP_MINIMAL, WRAP_ZT_EXEC };
	double v[3][SYSCALL_ROUNDS * SYSCALL_REPS], m[3];
	size_t n[3] = { 0, 0, 0 };

	snprintf(calls, sizeof(calls), "%d", SYSCALL_CALLS);
	snprintf(reps, sizeof(reps), "%d", SYSCALL_REPS);
	for (int round = 0; round < SYSCALL_ROUNDS; round++)
		for (int i = 0; i < 3; i++) {
			double got[NUMBERS_MAX];
			int k;

			if (wraps[i] == WRAP_ZT_EXEC && !st.have_zt_exec)
				continue;
			if ((k = run_workload(wraps[i], args, got, NULL)) < 0)
				return -1;
			for (int j = 0; j < k && j < SYSCALL_REPS; j++)
				v[i][n[i]++] = got[j];
		}
	for (int i = 0; i < 3; i++)
		m[i] = median(v[i], n[i]);
	printf("exec.syscall bare: median %.0f ns/call; ", m[0]);
	if (st.have_zt_exec)
		printf("zt-exec: %.0f ns/call (%+.0f ns, goal <= 60)", m[2],
		    m[2] - m[0]);
	else
		printf("zt-exec: skipped (not built)");
	printf("; a one-rule libseccomp filter: %.0f ns/call (%+.0f ns)\n",
	    m[1], m[1] - m[0]);
	return 0;
}

/*
 * CONNECT_ROUNDS rounds, each running bare, the minimal supervisor and
 * zt-exec in turn; each figure is the median of the rounds' medians.
 */
static int
figure_connect(struct rss *rss)
{
	char port[16], count[32];
	char *args[] = { "--workload", "connect", port, count, NULL };
	enum wrap wraps[3] = { WRAP_BARE, WRAP_MINIMAL, WRAP_ZT_EXEC };
	double p50[3][CONNECT_ROUNDS], p90[3][CONNECT_ROUNDS];
	double first[CONNECT_ROUNDS], m[3], m90[3];
	int n = 0;

	snprintf(port, sizeof(port), "%u", (unsigned)st.port);
	snprintf(count, sizeof(count), "%d", CONNECTS);
	for (int round = 0; round < CONNECT_ROUNDS; round++, n++)
		for (int i = 0; i < 3; i++) {
			double v[NUMBERS_MAX];

			if (wraps[i] == WRAP_ZT_EXEC && !st.have_zt_exec)
				continue;
			if (run_workload(wraps[i], args, v,
			    wraps[i] == WRAP_ZT_EXEC ? rss : NULL) < 3)
				return -1;
			if (wraps[i] == WRAP_MINIMAL &&
			    minimal_answered < CONNECT_WARM + CONNECTS) {
				fprintf(stderr, "bench/exec: the minimal "
				    "supervisor answered %llu notifications, "
				    "not %d\n",
				    (unsigned long long)minimal_answered,
				    CONNECT_WARM + CONNECTS);
				return -1;
			}
			if (wraps[i] == WRAP_ZT_EXEC)
				first[round] = v[0];
			p50[i][round] = v[1];
			p90[i][round] = v[2];
		}
	for (int i = 0; i < 3; i++) {
		m[i] = median(p50[i], (size_t)n);
		m90[i] = median(p90[i], (size_t)n);
	}
	printf("exec.connect bare %.1f us; minimal supervisor %.1f us (%.2fx "
	    "bare, SYNC_WAKE_UP %s); ", m[0], m[1], m[1] / m[0],
	    minimal_sync_wake_up ? "on" : "refused by the kernel");
	if (st.have_zt_exec)
		printf("zt-exec cached %.1f us (%.2fx minimal, goal <= 1.5x; "
		    "p90 %.1f us against %.1f us; a process's first connect "
		    "%.0f us)\n", m[2], m[2] / m[1], m90[2], m90[1],
		    median(first, (size_t)n));
	else
		printf("zt-exec skipped (not built)\n");
	return 0;
}

/*
 * The same runs with the wrapper and all it starts on one CPU (the last
 * this process may use): every hand-off between the agent, its child and
 * the supervisor's threads (ptrace's stops, the notification) is then a
 * switch on that CPU, never the wake-up of a task on the other one (an
 * IPI, and on a VM whose idle vCPU halts, the host waking it).  Not the
 * goal's figure (an agent is not pinned): it tells the work of the
 * hand-offs from where the scheduler put them.
 */
static int
figure_exec_one_cpu(char **args)
{
	enum wrap wraps[5] = { WRAP_BARE, WRAP_TRACER, WRAP_LAZY,
		WRAP_LAZY_EXE, WRAP_ZT_EXEC };
	double v[5][EXEC_ROUNDS], got[NUMBERS_MAX];
	cpu_set_t set;
	int n = st.have_zt_exec ? 5 : 4, cpu = -1;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -1;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			cpu = i;
	pin_cpu = cpu;
	for (int round = 0; round < EXEC_ROUNDS; round++)
		for (int i = 0; i < n; i++) {
			if (run_workload(wraps[i], args, got, NULL) < 2) {
				pin_cpu = -1;
				return -1;
			}
			v[i][round] = got[0];
		}
	pin_cpu = -1;
	printf("exec.exec all on CPU %d (every hand-off a switch on one CPU; "
	    "not the goal's figure): bare %.0f us; minimal tracer %.0f us "
	    "(%.2fx)", cpu, median(v[0], EXEC_ROUNDS),
	    median(v[1], EXEC_ROUNDS),
	    median(v[1], EXEC_ROUNDS) / median(v[0], EXEC_ROUNDS));
	printf("; lazy tracer %.0f us (%.2fx), with statx %.0f us (%.2fx)",
	    median(v[2], EXEC_ROUNDS),
	    median(v[2], EXEC_ROUNDS) / median(v[0], EXEC_ROUNDS),
	    median(v[3], EXEC_ROUNDS),
	    median(v[3], EXEC_ROUNDS) / median(v[0], EXEC_ROUNDS));
	if (n == 5)
		printf("; zt-exec %.0f us (%.2fx, %.2fx the minimal tracer)",
		    median(v[4], EXEC_ROUNDS),
		    median(v[4], EXEC_ROUNDS) / median(v[0], EXEC_ROUNDS),
		    median(v[4], EXEC_ROUNDS) / median(v[1], EXEC_ROUNDS));
	printf("\n");
	return 0;
}

/*
 * EXEC_ROUNDS rounds of bare and zt-exec in turn (the median of the
 * rounds' medians), then whole launches of true under bwrap and sudo.
 */
static int
figure_exec(void)
{
	char count[32], warm[32], bwrap[PATH_MAX], sudo[PATH_MAX];
	char *args[] = { "--workload", "exec", count, warm, st.true_path,
		NULL };
	char *bwrap_args[] = { bwrap, "--ro-bind", "/", "/", "--dev", "/dev",
		"--proc", "/proc", st.true_path, NULL };
	char *sudo_args[] = { sudo, "-u", "nobody", st.true_path, NULL };
	/* The lazy tracers after the minimal one, zt-exec last, as before. */
	enum wrap wraps[5] = { WRAP_BARE, WRAP_TRACER, WRAP_LAZY,
		WRAP_LAZY_EXE, WRAP_ZT_EXEC };
	double v[5][EXEC_ROUNDS], cpu[5][EXEC_ROUNDS], vcsw[5][EXEC_ROUNDS],
	    ivcsw[5][EXEC_ROUNDS], med[5], b, t;
	int n = st.have_zt_exec ? 5 : 4;

	snprintf(count, sizeof(count), "%d", EXECS);
	snprintf(warm, sizeof(warm), "%d", EXEC_WARM);
	for (int round = 0; round < EXEC_ROUNDS; round++)
		for (int i = 0; i < n; i++) {
			double got[NUMBERS_MAX];

			if (run_workload(wraps[i], args, got, NULL) < 2)
				return -1;
			v[i][round] = got[0];
			cpu[i][round] = workload_cpu_us / (EXECS + EXEC_WARM);
			vcsw[i][round] = workload_vcsw / (EXECS + EXEC_WARM);
			ivcsw[i][round] = workload_ivcsw / (EXECS + EXEC_WARM);
		}
	for (int i = 0; i < n; i++)
		med[i] = median(v[i], EXEC_ROUNDS);
	b = med[0];
	printf("exec.exec bare %.0f us; minimal tracer %.0f us (%.2fx: "
	    "ptrace's fork and exec stops and an execve notification, the "
	    "floor of this design)", b, med[1], med[1] / b);
	if (st.have_zt_exec)
		printf("; zt-exec %.0f us (%.2fx, goal <= 1.3x; %.2fx the "
		    "minimal tracer)", med[4], med[4] / b, med[4] / med[1]);
	else
		printf("; zt-exec skipped (not built)");
	if (!find_program("bwrap", bwrap, sizeof(bwrap)))
		printf("; bwrap skipped (not installed)");
	else if (launches(WRAP_NONE, bwrap_args, WRAPPER_LAUNCHES, &t) < 0)
		return -1;
	else
		printf("; bwrap %.0f us (%.1fx)", t, t / b);
	if (!find_program("sudo", sudo, sizeof(sudo)))
		printf("; sudo skipped (not installed)");
	else if (launches(WRAP_NONE, sudo_args, WRAPPER_LAUNCHES, &t) < 0)
		return -1;
	else
		printf("; sudo %.0f us (%.1fx)", t, t / b);
	printf("\n");
	/* CPU is what load on the machine changes least: the same work is
	 * done however long it waits for a CPU. */
	printf("exec.exec lazy tracer %.0f us (%.2fx, %.2fx the minimal "
	    "tracer: seized at each execve notification, let go at its exec "
	    "event, no fork tracing); with a statx of /proc/PID/exe at the "
	    "event %.0f us (%.2fx)\n", med[2], med[2] / b, med[2] / med[1],
	    med[3], med[3] / b);
	/* CPU is what load on the machine changes least: the same work is
	 * done however long it waits for a CPU. */
	printf("exec.exec CPU per exec (rusage of the wrapper, the agent and "
	    "its children over a run, its start included, / %d): bare %.0f us;"
	    " minimal tracer %.0f us; lazy tracer %.0f us, with statx %.0f us",
	    EXECS + EXEC_WARM, median(cpu[0], EXEC_ROUNDS),
	    median(cpu[1], EXEC_ROUNDS), median(cpu[2], EXEC_ROUNDS),
	    median(cpu[3], EXEC_ROUNDS));
	if (st.have_zt_exec)
		printf("; zt-exec %.0f us (%.2fx bare, %.2fx the minimal "
		    "tracer)", median(cpu[4], EXEC_ROUNDS),
		    median(cpu[4], EXEC_ROUNDS) / median(cpu[0], EXEC_ROUNDS),
		    median(cpu[4], EXEC_ROUNDS) / median(cpu[1], EXEC_ROUNDS));
	printf("\n");
	/* A voluntary switch is a wait, so one wake-up; the same rusage
	 * (ztd's not counted). */
	printf("exec.exec context switches per exec, voluntary/involuntary "
	    "(the same rusage): ");
	for (int i = 0; i < n; i++)
		printf("%s%s %.1f/%.1f", i > 0 ? "; " : "", wrap_names[wraps[i]],
		    median(vcsw[i], EXEC_ROUNDS), median(ivcsw[i], EXEC_ROUNDS));
	printf("\n");
	return figure_exec_one_cpu(args);
}

/*
 * Whole launches of an agent that execs true once, taking turns: bare,
 * under bwrap (the peer baseline: a sandbox launching the same agent as
 * the same account) and under zt-exec.
 */
static int
figure_launch(void)
{
	char *args[] = { "--workload", "exec", "1", "0", st.true_path, NULL };
	enum wrap wraps[3] = { WRAP_BARE, WRAP_ZT_EXEC, WRAP_BWRAP };
	double m[3], cpu[3];
	int n_wraps = 3;

	if (!st.have_zt_exec) {
		printf("exec.launch skipped (zt-exec not built)\n");
		return 0;
	}
	/* ztd and zt-exec cache a file's digest only once its last change
	 * is a few seconds old (ZT_DIGEST_SETTLE_SECONDS, 2, in
	 * common/zt_exe.h): an agent installed just now is hashed at every
	 * launch, twice by ztd.  The figure is of an installed agent, as in
	 * a full run, where this comes tens of seconds after the copy. */
	settle(st.agent, ZT_DIGEST_SETTLE_SECONDS + 1, &interrupted);
	/* bwrap as an unprivileged account needs user namespaces. */
	if (!find_program("bwrap", bwrap_path, sizeof(bwrap_path)) ||
	    launch_once(WRAP_BWRAP, args, &m[2], NULL) < 0) {
		if (interrupted)
			return -1;
		n_wraps = 2;
	}
	if (launches_interleaved(wraps, n_wraps, args, LAUNCHES, m, cpu) < 0)
		return -1;
	printf("exec.launch bare %.0f us; zt-exec %.0f us (%.2fx bare, %+.0f "
	    "us)", m[0], m[1], m[1] / m[0], m[1] - m[0]);
	if (n_wraps == 3)
		printf("; bwrap %.0f us; zt-exec %.2fx bwrap (goal <= 1x: %s)",
		    m[2], m[1] / m[2], m[1] <= m[2] ? "met" : "not met");
	else
		printf("; bwrap skipped (not installed, or it cannot run as "
		    "\"" AGENT_ACCOUNT "\" here)");
	printf(" per whole launch of an agent that execs true once, as \""
	    AGENT_ACCOUNT "\"\n");
	/* The wall time above counts waits for a CPU on a loaded machine;
	 * the CPU each launch took does not. */
	printf("exec.launch CPU per launch (rusage of the wrapper and what "
	    "it waited for; ztd's not counted): bare %.0f us; zt-exec %.0f "
	    "us", cpu[0], cpu[1]);
	if (n_wraps == 3)
		printf("; bwrap %.0f us (zt-exec %.2fx bwrap)", cpu[2],
		    cpu[1] / cpu[2]);
	printf("\n");
	return 0;
}

/*
 * How many allows ztd's audit lines showed, against those asked under
 * zt-exec (its local hits are reported within a second).
 */
static void
print_audit_note(void)
{
	uint64_t execs, connects;
	long asked_execs = EXEC_ROUNDS * (EXECS + EXEC_WARM) + LAUNCHES;
	long asked_connects = CONNECT_ROUNDS * (CONNECTS + CONNECT_WARM);
	long qlen = -1;
	FILE *f;

	sleep_ms(1500);
	execs = __atomic_load_n(&audit_exec, __ATOMIC_RELAXED);
	connects = __atomic_load_n(&audit_connect, __ATOMIC_RELAXED);
	printf("# audit: the sink received %llu exec allows (%ld asked under "
	    "zt-exec) and %llu connect allows (%ld asked)",
	    (unsigned long long)execs, asked_execs,
	    (unsigned long long)connects, asked_connects);
	if ((f = fopen("/proc/sys/net/unix/max_dgram_qlen", "re")) != NULL) {
		if (fscanf(f, "%ld", &qlen) != 1)
			qlen = -1;
		fclose(f);
	}
	if ((long)execs < asked_execs || (long)connects < asked_connects)
		printf("; short: ztd sends its syslog datagrams without "
		    "waiting, and a datagram socket queues "
		    "net.unix.max_dgram_qlen = %ld", qlen);
	printf("\n");
}

int
main(int argc, char **argv)
{
	struct utsname un;
	struct rss rss = { -1, -1, -1 };
	pthread_t thread;
	double t0;
	int status = 1, r;

	if (argc >= 2 && strcmp(argv[1], "--workload") == 0)
		return workload(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "--tracer") == 0)
		return tracer_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "--lazy-tracer") == 0)
		return lazy_main(argc, argv, false);
	if (argc >= 2 && strcmp(argv[1], "--lazy-tracer-exe") == 0)
		return lazy_main(argc, argv, true);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 3 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: bench/exec [ZTD [ZT-EXEC]]\n");
		return 2;
	}
	st.ztd_path = argc >= 2 ? argv[1] : "./ztd";
	if ((r = check_agent_bench("bench/exec", st.ztd_path, &st.uid,
	    &st.gid)) != 0)
		return r;
	find_zt_exec(st.ztd_path, argc == 3 ? argv[2] : NULL, st.zt_exec,
	    sizeof(st.zt_exec));
	st.have_zt_exec = access(st.zt_exec, X_OK) == 0;
	if (!st.have_zt_exec)
		fprintf(stderr, "bench/exec: %s: %s; its figures are "
		    "skipped\n", st.zt_exec, strerror(errno));
	else {
		/* The agent's account runs it: an absolute path. */
		make_absolute(st.zt_exec, sizeof(st.zt_exec));
	}
	/* Merged /usr: ztd's exec rule is on the resolved path. */
	if (realpath("/bin/true", st.true_path) == NULL) {
		fprintf(stderr, "bench/exec: skipped: /bin/true: %s\n",
		    strerror(errno));
		return 77;
	}
	st.self = getpid();
	umask(022);
	catch_signals(on_signal);

	t0 = now_us();
	if (prepare() < 0 ||
	    start_thread(&thread, run_accept_close, &st.listen_fd) < 0 ||
	    start_thread(&thread, run_log_sink, &sink) < 0 ||
	    start_ztd(&st.ztd, &st.ztd_pid) < 0)
		goto out;
	uname(&un);
	printf("# bench/exec: Linux %s, %d CPUs, nothing pinned; the agent "
	    "(a copy of this program) runs as \"" AGENT_ACCOUNT "\", bare, "
	    "under a minimal notify-and-continue supervisor (a thread of "
	    "the bench) or a minimal tracer (exec), and under zt-exec with "
	    "ztd in software "
	    "attestation mode\n", un.release, count_cpus());
	printf("# syscall: median of %d processes x %d x %d getppid(); "
	    "connect: median of %d processes' medians of %d connect+close "
	    "to 127.0.0.1 after %d warm-up ones; exec: median of %d "
	    "processes' medians of %d fork+execve(%s)+wait, bwrap/sudo: "
	    "median of %d whole launches of %s; launch: median of %d\n",
	    SYSCALL_ROUNDS, SYSCALL_REPS, SYSCALL_CALLS, CONNECT_ROUNDS,
	    CONNECTS, CONNECT_WARM, EXEC_ROUNDS, EXECS, st.true_path,
	    WRAPPER_LAUNCHES, st.true_path, LAUNCHES);
	if ((figure_wanted("syscall") && figure_syscalls() < 0) ||
	    (figure_wanted("connect") && figure_connect(&rss) < 0) ||
	    (figure_wanted("exec") && figure_exec() < 0) ||
	    (figure_wanted("launch") && figure_launch() < 0))
		goto out;
	if (!st.have_zt_exec)
		printf("exec.rss skipped (zt-exec not built)\n");
	else if (!figure_wanted("connect"))
		;
	else if (rss.rss_max < 0)
		printf("exec.rss supervisor: not sampled\n");
	else
		printf("exec.rss supervisor VmRSS %.1f MiB, VmHWM %.1f MiB "
		    "(during the connect loop; the agent itself %.1f MiB)\n",
		    rss.rss_max / 1024.0, rss.hwm / 1024.0,
		    rss.agent_rss / 1024.0);
	if (st.have_zt_exec && figure_wanted("syscall") &&
	    figure_wanted("connect") && figure_wanted("exec") &&
	    figure_wanted("launch"))
		print_audit_note();
	printf("# bench/exec: %.0f s\n", (now_us() - t0) / 1e6);
	status = st.have_zt_exec ? 0 : 77;
out:
	if (interrupted) {
		fprintf(stderr, "bench/exec: interrupted\n");
		status = 1;
	}
	teardown(status == 1 && !interrupted);
	return status;
}

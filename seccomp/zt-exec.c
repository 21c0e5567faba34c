/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zt-exec: launch an agent under its profile.  ztd checks the binary and
 * the host and hands out a grant and the profile; the child applies
 * Landlock and the seccomp filter and waits; the parent seizes it with
 * ptrace, takes the filter's listener and supervises until the agent ends.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filter.h"
#include "lazylib.h"
#include "landlock.h"
#include "profile.h"
#include "supervise.h"
#include "tunnel.h"
#include "zt_client.h"
#include "zt_clock.h"
#include "zt_envcheck.h"
#include "zt_err.h"
#include "zt_exe.h"
#include "zt_kernel.h"
#include "zt_log.h"
#include "zt_msg.h"
#include "ztconn.h"

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83		/* Linux 6.16 */
#endif

#define EXIT_FAILED 125		/* zt-exec itself */
#define EXIT_DENIED 126
#define EXIT_NOT_FOUND 127
#define LAUNCH_TIMEOUT_MS 10000
#define LAUNCH_BUSY (-1)	/* ask_launch: ztd busy, ask again */
#define BUSY_WAIT_MS 10000	/* how long a busy ztd is asked again */


#ifdef __SANITIZE_ADDRESS__
/*
 * Sanitizer builds only (tests): zt-exec runs setgid, so the sanitizer
 * ignores ASAN_OPTIONS (secure mode) and LeakSanitizer, which must ptrace
 * the process at exit, fails on a non-dumpable one.  Memory errors stay
 * checked, and abort.
 */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "detect_leaks=0:abort_on_error=1";
}
#endif

static struct profile profile;
/* ztd's compiled filter for the profile (n_program 0: none came, the
 * child builds it with libseccomp). */
static struct sock_filter program[FILTER_INSNS_MAX];
static size_t n_program;
static struct supervisor *supervisor;
static struct tunnels *tunnels;
static struct resolver *resolver;	/* NULL: the profile has no host rules */
static int root_pidfd = -1;
/* supervise_start has run: ztd's reader thread may end the grant (and
 * kill the agent's tree, on_grant_end) from ztconn_start on. */
static atomic_bool supervising;

static void
usage(FILE *out)
{
	fprintf(out, "usage: zt-exec [--socket PATH] [--agent NAME] "
	    "[--syslog-socket PATH] [--] COMMAND [ARGS...]\n");
}

static int
denied(const char *detail)
{
	fprintf(stderr, "zt-exec: denied: %s\n", detail);
	zt_log(LOG_WARNING, "launch denied: %s", detail);
	return EXIT_DENIED;
}

/* COMMAND as execvp would find it, canonical, into OUT; exit code on
 * failure. */
static int
find_command(const char *command, char *out)
{
	char candidate[PATH_MAX];
	const char *path = getenv("PATH");

	if (strchr(command, '/') != NULL) {
		if (realpath(command, out) == NULL) {
			fprintf(stderr, "zt-exec: %s: %s\n", command,
			    strerror(errno));
			return errno == ENOENT ? EXIT_NOT_FOUND : EXIT_DENIED;
		}
		return 0;
	}
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path != '\0') {
		size_t n = strcspn(path, ":");

		if (n > 0 && (size_t)snprintf(candidate, sizeof(candidate),
		    "%.*s/%s", (int)n, path, command) < sizeof(candidate) &&
		    access(candidate, X_OK) == 0 &&
		    realpath(candidate, out) != NULL)
			return 0;
		path += n + (path[n] == ':');
	}
	fprintf(stderr, "zt-exec: %s: command not found\n", command);
	return EXIT_NOT_FOUND;
}

/* zt-exec's own digest of the binary it opened, made while ztd checks the
 * file (after the request left), through the supervisor's digest cache
 * (empty at first: this is a real pass over the file), which then
 * answers the launch exec's check from it while the file stays the
 * same. */
struct own_digest {
	struct zt_digests *cache;
	int fd;
	int result;
	uint8_t digest[32];
};

/* The kernel's features, probed once (check_kernel_start). */
static void check_kernel_first(void);

struct launch {
	char grant[33];
	int64_t expires_ms;		/* CLOCK_BOOTTIME */
	uint8_t digest[32];
	int filter_fd;			/* ztd's compiled filter, or -1 */
};

/*
 * Ask ztd for a grant to run COMMAND, and its profile INTO; exit code on
 * failure, or LAUNCH_BUSY (nothing said) when ztd was too busy to take
 * the request.  While ztd checks the binary, OWN is made.
 */
static int
ask_launch(int fd, const char *command, const char *agent,
    struct own_digest *own, struct launch *out, struct profile *into)
{
	struct zt_record record;
	char error[160];
	struct zt_msg *req = calloc(2, sizeof(struct zt_msg)), *reply;
	const char *grant = getenv("ZT_GRANT"), *text = "", *s;
	const void *digest;
	uint32_t decision = 0;
	uint64_t expires = 0;
	size_t size = 0;
	int r, code = EXIT_FAILED;

	out->filter_fd = -1;
	if (req == NULL)
		return EXIT_FAILED;
	reply = req + 1;
	if ((r = zt_msg_init(req, ZT_MSG_LAUNCH, 1)) < 0 ||
	    (r = zt_msg_put_str(req, ZT_F_OBJECT, command)) < 0 ||
	    (agent != NULL &&
	    (r = zt_msg_put_str(req, ZT_F_AGENT, agent)) < 0) ||
	    (grant != NULL && grant[0] != '\0' &&
	    (r = zt_msg_put_str(req, ZT_F_GRANT, grant)) < 0) ||
	    (r = zt_client_send(fd, req, -1, LAUNCH_TIMEOUT_MS)) < 0)
		goto unasked;
	/* While ztd checks the binary: the kernel's features (about 20
	 * us of system calls, which the path to the request no longer
	 * waits for), and our own digest. */
	check_kernel_first();
	own->result = zt_digests_get(own->cache, own->fd, own->digest, NULL);
	if ((r = zt_client_wait_reply(fd, req->request_id, reply,
	    &out->filter_fd, LAUNCH_TIMEOUT_MS)) < 0) {
unasked:
		if (r == ZT_E_BUSY)
			code = LAUNCH_BUSY;
		else
			fprintf(stderr, "zt-exec: asking ztd: %s\n",
			    zt_strerror(r));
		goto out;
	}
	if ((r = zt_client_reply_error(reply, ZT_MSG_DECISION, &text)) != 0) {
		if (r == ZT_E_BUSY)
			code = LAUNCH_BUSY;
		else if (r == ZT_E_NOT_AGENT || r == ZT_E_PERM)
			code = denied(r == ZT_E_NOT_AGENT ? "this account "
			    "is no agent's in ztd's policy" : text);
		else
			fprintf(stderr, "zt-exec: ztd: %s%s%s\n",
			    zt_strerror(r), text[0] ? ": " : "", text);
		goto out;
	}
	zt_msg_get_u32(reply, ZT_F_DECISION, &decision);
	if (decision != ZT_DECISION_ALLOW) {
		zt_msg_get_str(reply, ZT_F_REASON, &text);
		code = denied(text);
		goto out;
	}
	if (zt_msg_get_str(reply, ZT_F_GRANT, &s) < 0 ||
	    zt_msg_get_u64(reply, ZT_F_EXPIRES_MS, &expires) < 0 ||
	    zt_msg_get_bytes(reply, ZT_F_SHA256, &digest, &size) < 0 ||
	    size != 32 || zt_msg_get_record(reply, ZT_F_PROFILE, &record) < 0) {
		fprintf(stderr, "zt-exec: ztd's launch reply is incomplete\n");
		goto out;
	}
	if (profile_from_record(&record, into, error) < 0) {
		fprintf(stderr, "zt-exec: %s\n", error);
		goto out;
	}
	snprintf(out->grant, sizeof(out->grant), "%s", s);
	out->expires_ms = ztconn_now_ms() + (int64_t)expires;
	memcpy(out->digest, digest, 32);
	code = 0;
out:
	if (code != 0 && out->filter_fd >= 0) {
		close(out->filter_fd);
		out->filter_fd = -1;
	}
	free(req);
	return code;
}

/*
 * Name the agent's session to ztd, which kills it with the grant and when
 * this supervisor exits (EXITKILL's second line): sent as soon as the
 * child leads its session (ztd checks that), answered while the child
 * confines itself; the answer, taken by ztd's reader thread in its turn
 * (ztconn_start), is awaited before the agent may exec (ahead_taken).
 * M: the request, whose id the reader looks for.
 */
static int
agent_pid_report(int fd, const char *grant, pid_t pid, struct zt_msg *m)
{
	int r;

	if ((r = zt_msg_init(m, ZT_MSG_AGENT_PID, 2)) < 0 ||
	    (r = zt_msg_put_str(m, ZT_F_GRANT, grant)) < 0 ||
	    (r = zt_msg_put_u32(m, ZT_F_PID, (uint32_t)pid)) < 0 ||
	    (r = zt_client_send(fd, m, -1, LAUNCH_TIMEOUT_MS)) < 0) {
		fprintf(stderr, "zt-exec: ztd did not take the agent's pid: "
		    "%s\n", zt_strerror(r));
		return EXIT_FAILED;
	}
	return 0;
}

/* ztd's answer to AGENT_PID, taken by the reader: 0 or an exit code. */
static int
ahead_taken(struct ztconn *ztd)
{
	char why[320];

	if (ztconn_take_ahead(ztd, LAUNCH_TIMEOUT_MS, why, sizeof(why)) == 0)
		return 0;
	fprintf(stderr, "zt-exec: ztd did not take the agent's pid: %s\n",
	    why);
	return EXIT_FAILED;
}

static void
on_grant_end(const char *why)
{
	zt_log(LOG_NOTICE, "agent %s: grant ended (%s): every gated action "
	    "is denied from now on", profile.agent, why);
	if (tunnels != NULL)
		tunnels_close_all(tunnels, why);
	if (resolver != NULL)
		resolver_close_all(resolver);
	if (!profile.kill_on_violation)
		return;
	/* Until supervise_start has given the supervisor its setup, the
	 * child (not yet the agent: it waits for G) is the only task. */
	if (supervisor != NULL && atomic_load(&supervising))
		supervise_kill_tree(supervisor, why);
	else if (root_pidfd >= 0)
		syscall(SYS_pidfd_send_signal, root_pidfd, SIGKILL, NULL, 0);
}

static sigset_t forwarded;

static void
forward_signal(int sig)
{
	int e = errno;

	if (root_pidfd >= 0)
		syscall(SYS_pidfd_send_signal, root_pidfd, sig, NULL, 0);
	errno = e;
}

/*
 * From G on, each forwarded signal is sent on to the agent by a handler
 * on this (the main) thread, the only one that takes them: every other
 * thread was made with them blocked, and those that came before stay
 * pending until now.  No thread of its own: one less to start while the
 * agent execs, and to end at zt-exec's exit (profiled: each thread alive
 * at the exit is a wake-up before the parent sees it).  SA_RESTART: the
 * tracer's waitpid goes on.
 */
static int
forward_signals(void)
{
	struct sigaction sa = { .sa_handler = forward_signal,
	    .sa_flags = SA_RESTART };

	sigfillset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&forwarded, sig) == 1 &&
		    sigaction(sig, &sa, NULL) < 0)
			return -1;
	return pthread_sigmask(SIG_UNBLOCK, &forwarded, NULL) != 0 ? -1 : 0;
}

/* The launch, for launched(): its grant, the agent's pid, its Landlock ABI. */
static struct launch launch;
static pid_t launch_pid;
static int launch_abi;

/*
 * Once the launch exec's event is let go (supervise_setup.launched): the
 * signals forwarded from now on, and the launch logged.  Not between G
 * and the exec, where they kept the main thread busy 80-100 us while the
 * child, woken by G, waited for a CPU (profiled: G to the child's read
 * 100-140 us).  Signals that come first stay pending.  Forwarding that
 * cannot be set up ends the agent (its signals would be lost).
 */
static void
launched(void)
{
	if (forward_signals() < 0) {
		zt_log(LOG_ERR, "agent %s: cannot forward signals: ending it",
		    profile.agent);
		supervise_kill_tree(supervisor, "no signal forwarding");
	}
	zt_log(LOG_NOTICE, "agent %s: pid %d under grant %s (landlock ABI %d)",
	    profile.agent, (int)launch_pid, launch.grant, launch_abi);
}

/*
 * The agent's environment (sudo's env_reset): of ours, the safe base
 * (zt_env_is_base) and the variables the profile's env names; ZT_GRANT,
 * which this launch consumed, never.  NULL when out of memory.
 */
static char **
agent_environment(void)
{
	extern char **environ;
	static char res_options[4096];
	const char *options = NULL;
	size_t n = 0, k = 0;
	char **out;

	while (environ[n] != NULL)
		n++;
	if ((out = calloc(n + 2, sizeof(*out))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *e = environ[i];
		size_t name = strcspn(e, "=");

		if (e[name] != '=' || (name == 8 &&
		    strncmp(e, "ZT_GRANT", 8) == 0))
			continue;
		if (!zt_env_is_base(e, name) && !zt_env_named(profile.env_names,
		    profile.n_env, e, name))
			continue;
		if (profile.dns && name == 11 &&
		    strncmp(e, "RES_OPTIONS", 11) == 0) {
			options = e + 12;	/* extended below */
			continue;
		}
		out[k++] = environ[i];
	}
	/* Host rules: glibc's resolver over TCP (use-vc), where zt-exec's
	 * resolver for the grant answers it. */
	if (profile.dns) {
		snprintf(res_options, sizeof(res_options), "RES_OPTIONS=%s%s"
		    "use-vc", options != NULL ? options : "",
		    options != NULL && options[0] != '\0' ? " " : "");
		out[k++] = res_options;
	}
	return out;
}

/* The parent's Landlock ruleset to the child over its socket: "L" and
 * the ABI, with the ruleset (SCM_RIGHTS; none when there is nothing to
 * enforce), sent by zt_msg_send_wire. */
struct ruleset_msg {
	char tag;
	int abi;
};

/* The child's side: the ruleset (-1: none) and *ABI; nothing came (the
 * parent gave up the launch, or died): _exit. */
static int
ruleset_take(int sock, int *abi)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct ruleset_msg m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *c;
	int fd = -1;

	if (recvmsg(sock, &msg, MSG_WAITALL | MSG_CMSG_CLOEXEC) !=
	    (ssize_t)sizeof(m) || m.tag != 'L' ||
	    (msg.msg_flags & MSG_CTRUNC))
		_exit(EXIT_FAILED);
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)) && fd < 0)
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	*abi = m.abi;
	return fd;
}

/* The child: confine itself, hand over its listener, wait, exec. */
static void __attribute__((noreturn))
child(int sock, pid_t parent, char **argv)
{
	char msg[256], go = 0, **envp;
	sigset_t none;
	int abi, nfd, ruleset;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(EXIT_FAILED);
	/* S: the session is ours (the parent names it to ztd now). */
	if (write(sock, "S", 1) != 1)
		_exit(EXIT_FAILED);
	if (sock != 3) {
		if (dup2(sock, 3) < 0)
			_exit(EXIT_FAILED);
		sock = 3;
	}
	/* Nothing inherited beyond the standard three. */
	if (syscall(SYS_close_range, 4, ~0u, 0) < 0)
		_exit(EXIT_FAILED);
	fcntl(sock, F_SETFD, FD_CLOEXEC);
	if ((envp = agent_environment()) == NULL)
		_exit(EXIT_FAILED);
	/* A standard descriptor that is a unix socket (a service's journal
	 * stream, a caller's socketpair) must not bring the agent
	 * descriptors from its peer either (SO_PASSRIGHTS, Linux 6.16: an
	 * older kernel has no such option, and the peer is trusted). */
	for (int std = 0; std <= 2; std++) {
		int domain = 0, off = 0;
		socklen_t dl = sizeof(domain);

		if (getsockopt(std, SOL_SOCKET, SO_DOMAIN, &domain, &dl) == 0 &&
		    domain == AF_UNIX &&
		    setsockopt(std, SOL_SOCKET, SO_PASSRIGHTS, &off,
		    sizeof(off)) < 0 && errno != ENOPROTOOPT)
			_exit(EXIT_FAILED);
		/* Nor one that is an inet datagram socket with no port
		 * yet hear anyone once the kernel gives it one. */
		if (supervise_deafen_inherited(std) < 0)
			_exit(EXIT_FAILED);
	}
	/* The supervisor group is zt-exec's, never the agent's. */
	if (setresgid(getgid(), getgid(), getgid()) < 0 ||
	    getegid() != getgid())
		_exit(EXIT_FAILED);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(msg, sizeof(msg), "Eno_new_privs: %s",
		    strerror(errno));
		goto fail;
	}
	/* The Landlock ruleset the parent made while this process started
	 * (landlock_prepare), enforced here. */
	ruleset = ruleset_take(sock, &abi);
	msg[0] = 'E';
	if (landlock_enforce(ruleset, msg + 1) < 0)
		goto fail;
	/* Started from a setgid image, this process is not dumpable, and
	 * its parent (no CAP_SYS_PTRACE) could not trace it: it is the
	 * agent's own now, confined, with the group dropped. */
	if (prctl(PR_SET_DUMPABLE, 1) < 0)
		_exit(EXIT_FAILED);
	if ((nfd = n_program > 0 ? filter_load_bpf(program, n_program,
	    msg + 1) : filter_load(&profile, msg + 1)) < 0) {
		msg[0] = 'F';
		goto fail;
	}
	/* From here on under the filter: only plain read/write/close. */
	snprintf(msg, sizeof(msg), "N%d %d", nfd, abi);
	if (write(sock, msg, strlen(msg)) < 0 || read(sock, &go, 1) != 1 ||
	    go != 'G')
		_exit(EXIT_FAILED);
	close(nfd);
	execve(profile.binary, argv, envp);
	_exit(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_DENIED);
fail:
	if (write(sock, msg, strlen(msg)) < 0)
		_exit(EXIT_FAILED);
	_exit(msg[0] == 'E' ? EXIT_DENIED : EXIT_FAILED);
}

/*
 * ztd takes zt-exec for a supervisor only by its group (SO_PEERCRED's gid,
 * supervisor_group), which the setgid bit gives it: the kernel then also
 * ignores loader variables, refuses the exec under an unprivileged tracer
 * and keeps the process non-dumpable, so nothing else of the agent's uid
 * can speak for it.  Without the bit, or under NO_NEW_PRIVS (which makes
 * the kernel ignore it), ztd would refuse the launch: say why here.
 */
static int
check_supervisor(void)
{
	if (getuid() == 0)
		return 0;		/* root is root to ztd */
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) {
		fprintf(stderr, "zt-exec: runs under NO_NEW_PRIVS, so the "
		    "kernel ignored its setgid bit and ztd cannot tell it "
		    "from the agent: start it from a process without "
		    "no_new_privs (systemd: NoNewPrivileges=no)\n");
		return EXIT_FAILED;
	}
	if (getegid() == getgid()) {
		fprintf(stderr, "zt-exec: not running setgid to ztd's "
		    "supervisor_group (install it root:zt-exec, mode 2755): "
		    "ztd accepts launches only from that group\n");
		return EXIT_FAILED;
	}
	return 0;
}


static int
exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_FAILED;
}

/*
 * Every kernel feature supervision relies on, or a refusal (exit 125)
 * naming the missing ones and the Linux version that has each; what only
 * weakens or slows supervision is logged.  The seccomp features are
 * tried on the agent's own listener, once the child has loaded its
 * filter and before it may exec (check_listener): a probe of their own
 * (a thread installing a filter with a listener, 0.3-0.55 ms of every
 * launch with its start and join, profiled) is made only when the
 * launch fails, so that a kernel that lacks a feature is still the one
 * reason given (failed).  The others are cheap, and probed while ztd
 * checks the launch (ask_launch).
 */
#define PROBED_FIRST ((ZT_KERNEL_ZTEXEC_NEEDS | ZT_KERNEL_ZTEXEC_WANTS) & \
	~ZT_KERNEL_SECCOMP)

static struct {
	struct zt_kernel k;
	unsigned known;			/* the features probed so far */
	unsigned said;			/* the missing wants logged */
	int code;			/* EXIT_FAILED: refused */
} kernel_check;

static void
check_kernel_start(void)
{
	zt_kernel_probe(&kernel_check.k, PROBED_FIRST);
	kernel_check.known = PROBED_FIRST;
}

/* Probed on the main thread after its group change (setfsgid is the
 * calling thread's alone), once, whatever busy answers ask again. */
static void
check_kernel_first(void)
{
	if (!(kernel_check.known & PROBED_FIRST))
		check_kernel_start();
}

static int check_kernel(void);

/* The verdict on the features known so far: 0, or EXIT_FAILED with the
 * refusal said and logged (naming every missing feature: the seccomp
 * ones are probed first when one is missing and they are not known). */
static int
kernel_verdict(void)
{
	char missing[512], why[768];
	unsigned wants = ZT_KERNEL_ZTEXEC_WANTS & kernel_check.known &
	    ~kernel_check.said;

	if (kernel_check.code != 0)
		return kernel_check.code;
	if (!(kernel_check.known & ZT_KERNEL_SECCOMP) &&
	    zt_kernel_missing(&kernel_check.k, ZT_KERNEL_ZTEXEC_NEEDS &
	    kernel_check.known, NULL, 0) > 0)
		return check_kernel();
	if (zt_kernel_missing(&kernel_check.k, ZT_KERNEL_ZTEXEC_NEEDS &
	    kernel_check.known, missing, sizeof(missing)) > 0) {
		snprintf(why, sizeof(why), "this kernel (%s) lacks what "
		    "zt-exec cannot supervise without: %s; " ZT_KERNEL_ADVICE,
		    kernel_check.k.release, missing);
		fprintf(stderr, "zt-exec: %s\n", why);
		zt_log(LOG_ERR, "%s", why);
		return kernel_check.code = EXIT_FAILED;
	}
	if (zt_kernel_missing(&kernel_check.k, wants, missing,
	    sizeof(missing)) > 0)
		zt_log(LOG_WARNING, "this kernel (%s) lacks %s: see "
		    "zt-exec(1) for what is weaker without it",
		    kernel_check.k.release, missing);
	kernel_check.said |= wants;
	return 0;
}

/* The whole verdict, the seccomp features probed on a thread of their
 * own if the agent's listener has not told them. */
static int
check_kernel(void)
{
	if (!(kernel_check.known & ZT_KERNEL_SECCOMP)) {
		struct zt_kernel k;

		if (!(kernel_check.known & PROBED_FIRST))
			check_kernel_start();
		zt_kernel_probe(&k, ZT_KERNEL_SECCOMP);
		for (int f = 0; f < ZT_KF_COUNT; f++)
			if (ZT_KERNEL_SECCOMP & ZT_KF_BIT(f))
				kernel_check.k.present[f] = k.present[f];
		kernel_check.known |= ZT_KERNEL_SECCOMP;
	}
	return kernel_verdict();
}

/* The seccomp features, from the agent's LISTENER (no notification can
 * wait on it yet: the child only reads until G); its synchronous wake-up
 * is set by the way. */
static int
check_listener(int listener)
{
	zt_kernel_probe_listener(&kernel_check.k, ZT_KERNEL_SECCOMP, listener);
	kernel_check.known |= ZT_KERNEL_SECCOMP;
	return kernel_verdict();
}

/* CODE, unless the kernel's verdict refuses first. */
static int
failed(int code)
{
	int k = check_kernel();

	return k != 0 ? k : code;
}

/*
 * ztd's connection to its reader thread (*ZTD; AHEAD_ID: AGENT_PID's
 * request, whose answer, with the allows ztd decided ahead, the reader
 * takes), the libraries tunnel or
 * host rules need (loaded now, so that a missing one refuses the launch
 * rather than ends the agent), the tunnels and the resolver: 0, or an
 * exit code.
 */
static int
launch_services(int fd, const char *socket_path, const struct launch *l,
    uint32_t ahead_id, struct ztconn **ztd)
{
	char error[256];

	/* The agent runs as our uid: it must not ptrace us nor write our
	 * memory through /proc. */
	prctl(PR_SET_DUMPABLE, 0);
	if (ztconn_start(ztd, fd, socket_path, l->grant, l->expires_ms,
	    profile.decision_ttl, ahead_id, on_grant_end) < 0)
		return EXIT_FAILED;
	if ((profile.tunnel || profile.dns) &&
	    lazylib_load(error, sizeof(error)) < 0) {
		fprintf(stderr, "zt-exec: %s\n", error);
		return EXIT_FAILED;
	}
	if (tunnels_new(&tunnels, *ztd, profile.agent) < 0 ||
	    (profile.dns && resolver_new(&resolver, *ztd, &profile) < 0))
		return EXIT_FAILED;
	/* The grant's certificate asked for now, on its own thread, with
	 * the key tunnels_warm made: ready before the agent's first
	 * connect, or sooner for it. */
	if (profile.tunnel)
		tunnels_prepare(tunnels, profile.tunnel_cas,
		    profile.n_tunnel_cas);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "agent", required_argument, NULL, 'a' },
		{ "syslog-socket", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = ZT_DEFAULT_SOCKET, *agent = NULL;
	const char *log_socket = "/dev/log";
	char command[PATH_MAX], error[256], msg[256];
	struct supervise_setup setup = { .notify_fd = -1 };
	static struct own_digest own;
	static struct zt_msg pid_msg;		/* AGENT_PID */
	struct ztconn *ztd = NULL;
	struct stat st;
	int opt, code, fd, bin, sp[2], nfd_child, abi = 0, status, ruleset;
	int64_t busy_until;
	ssize_t n;
	pid_t pid;

	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (opt) {
		case 's': socket_path = optarg; break;
		case 'a': agent = optarg; break;
		case 'l': log_socket = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("zt-exec %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return EXIT_FAILED;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_FAILED;
	}
	zt_log_open_syslog("zt-exec", log_socket, LOG_AUTHPRIV, 0);
	signal(SIGPIPE, SIG_IGN);
	if ((code = check_supervisor()) != 0)
		return failed(code);
	/* The supervisor group is for ztd's eyes only (SO_PEERCRED reports
	 * the effective gid): every file access and /proc check this
	 * process and its threads make for the agent uses the agent's own
	 * group (fsgid), so /proc/PID of the agent stays ours to read and
	 * nothing is created or chowned with the supervisor group. */
	setfsgid(getgid());
	if ((gid_t)setfsgid((gid_t)-1) != getgid()) {
		fprintf(stderr, "zt-exec: cannot set its file-system group\n");
		return failed(EXIT_FAILED);
	}
	if ((code = find_command(argv[optind], command)) != 0)
		return failed(code);

	/* Forwarded signals are blocked in every thread, and taken by this
	 * one from G on (forward_signals). */
	sigemptyset(&forwarded);
	for (int sig = SIGHUP; sig <= SIGUSR2 + 4; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD &&
		    sig != SIGPIPE && sig != SIGSEGV && sig != SIGBUS &&
		    sig != SIGFPE && sig != SIGILL && sig != SIGTRAP &&
		    sig != SIGABRT && sig != SIGTSTP && sig != SIGTTIN &&
		    sig != SIGTTOU)
			sigaddset(&forwarded, sig);
	sigaddset(&forwarded, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &forwarded, NULL);

	/* The binary as it is now; ztd's digest must be of this file.  Our
	 * own digest of it is made while we wait for ztd. */
	bin = open(command, O_RDONLY | O_CLOEXEC);
	if (bin < 0 || fstat(bin, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "zt-exec: %s: not a readable file\n", command);
		return failed(EXIT_DENIED);
	}
	setup.binary_dev = st.st_dev;
	setup.binary_ino = st.st_ino;
	own.fd = bin;
	if ((own.cache = zt_digests_new(SUPERVISE_DIGESTS)) == NULL) {
		fprintf(stderr, "zt-exec: out of memory\n");
		return failed(EXIT_FAILED);
	}
	/* A busy ztd (its backlog full, or its pool for this uid: every
	 * local user can make it so) is asked again for BUSY_WAIT_MS, in
	 * naps growing to 200 ms, before the launch fails. */
	busy_until = zt_monotonic_ms() + BUSY_WAIT_MS;
	for (int nap = 5;; nap = nap < 100 ? nap * 2 : 200) {
		if ((fd = zt_client_connect_within(socket_path,
		    (int)(busy_until - zt_monotonic_ms()))) < 0) {
			if ((code = check_kernel()) != 0)
				return code;
			fprintf(stderr, "zt-exec: ztd unreachable at %s: %s\n",
			    socket_path, zt_strerror(fd));
			return EXIT_FAILED;
		}
		code = ask_launch(fd, command, agent, &own, &launch,
		    &profile);
		if (code != LAUNCH_BUSY || zt_monotonic_ms() >= busy_until)
			break;
		close(fd);
		poll(NULL, 0, nap);
	}
	if (code == LAUNCH_BUSY) {
		fprintf(stderr, "zt-exec: ztd: %s for %d s\n",
		    zt_strerror(ZT_E_BUSY), BUSY_WAIT_MS / 1000);
		code = EXIT_FAILED;
	}
	if (code != 0)
		return failed(code);
	/* The kernel's verdict before the child is made, but for the
	 * seccomp features, tried on the child's listener before it may
	 * exec (check_listener); any failure from here on is given the
	 * whole verdict first (failed). */
	if ((code = kernel_verdict()) != 0)
		return code;
	/* Our own comparison, before the child may exec: it guards the
	 * gap between ztd's check and the exec. */
	if (strcmp(profile.binary, command) != 0 || own.result < 0 ||
	    memcmp(own.digest, launch.digest, sizeof(own.digest)) != 0)
		return denied("the binary is not the one ztd checked "
		    "(changed since?)");
	memcpy(setup.binary_digest, own.digest, sizeof(own.digest));
	close(bin);
	if (launch.filter_fd >= 0) {
		int r = filter_read_sealed(launch.filter_fd, program,
		    FILTER_INSNS_MAX, error);

		close(launch.filter_fd);
		if (r < 0) {
			fprintf(stderr, "zt-exec: ztd's %s\n", error);
			return EXIT_FAILED;
		}
		n_program = (size_t)r;
	}
	if (stat(socket_path, &st) == 0) {
		setup.ztd_dev = st.st_dev;
		setup.ztd_ino = st.st_ino;
	}
	if (realpath(socket_path, setup.ztd_path) == NULL)
		setup.ztd_path[0] = '\0';

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		fprintf(stderr, "zt-exec: socketpair: %s\n", strerror(errno));
		return EXIT_FAILED;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "zt-exec: fork: %s\n", strerror(errno));
		return EXIT_FAILED;
	}
	if (pid == 0) {
		close(sp[0]);
		close(fd);
		child(sp[1], getppid(), argv + optind);
	}
	close(sp[1]);
	/* The agent's Landlock ruleset, made here while the child starts
	 * and leads its session, and handed over: the child only enforces
	 * it (its walk of / was 0.1 ms of the child's path, the longer one
	 * from the fork to G; profiled). */
	if ((code = landlock_prepare(&profile, &ruleset, &abi, error)) < 0 ||
	    zt_msg_send_wire(sp[0], &(struct ruleset_msg){ .tag = 'L',
	    .abi = abi }, sizeof(struct ruleset_msg), ruleset) < 0) {
		int e = code;

		kill(pid, SIGKILL);
		waitpid(pid, &status, __WALL);
		if ((code = check_kernel()) != 0)
			return code;
		if (e < 0)
			return denied(error);
		fprintf(stderr, "zt-exec: the agent's process died at its "
		    "start\n");
		return EXIT_FAILED;
	}
	if (ruleset >= 0)
		close(ruleset);
	/* While the agent's process is confined and reported: zt-exec
	 * forks no more, so a thread may now hold locks. */
	if (profile.tunnel)
		tunnels_warm(profile.tunnel_cas, profile.n_tunnel_cas);
	/* The agent's process by its pidfd, and the supervisor (which takes
	 * our digest cache over; its workers come after the launch exec,
	 * supervise_first), made while the child starts and leads its
	 * session. */
	root_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (root_pidfd >= 0 && supervise_new(&supervisor, own.cache) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, __WALL);
		if ((code = check_kernel()) != 0)
			return code;
		fprintf(stderr, "zt-exec: cannot start the supervisor\n");
		return EXIT_FAILED;
	}
	if (read(sp[0], msg, 1) != 1 || msg[0] != 'S' ||
	    (code = agent_pid_report(fd, launch.grant, pid, &pid_msg)) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, __WALL);
		if (code == 0 && (code = check_kernel()) == 0)
			fprintf(stderr, "zt-exec: the agent's process died "
			    "at its start\n");
		return failed(code != 0 ? code : EXIT_FAILED);
	}
	/* While ztd answers AGENT_PID and the child confines itself
	 * (Landlock and the filter: 0.3 ms and more): ztd's connection handed
	 * to its reader thread, which takes that answer in its turn (0.1 ms
	 * of thread start no longer after it), and what tunnel or host rules
	 * need (the libraries' load for such a profile); then the answer,
	 * before the child may exec.  A grant that ends from here on kills
	 * the child by its pidfd until supervise_start (on_grant_end). */
	if (root_pidfd < 0 || (code = launch_services(fd, socket_path,
	    &launch, pid_msg.request_id, &ztd)) != 0 ||
	    (code = ahead_taken(ztd)) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, __WALL);
		return failed(code != 0 ? code : EXIT_FAILED);
	}
	/* The child is confined (and dumpable again) when it says N: only
	 * then can it be traced.  It waits for G before it execs. */
	n = read(sp[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	if (n <= 0 || msg[0] != 'N' ||
	    sscanf(msg + 1, "%d %d", &nfd_child, &abi) != 2) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, __WALL);
		if ((code = check_kernel()) != 0)
			return code;
		if (n > 0 && msg[0] == 'E')
			return denied(msg + 1);
		fprintf(stderr, "zt-exec: the agent could not be confined: "
		    "%s\n", n > 1 ? msg + 1 : "it died");
		return EXIT_FAILED;
	}
	if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACEFORK |
	    PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
	    PTRACE_O_EXITKILL) < 0) {
		int e = errno;

		kill(pid, SIGKILL);
		if ((code = check_kernel()) != 0)
			return code;
		fprintf(stderr, "zt-exec: cannot trace the agent: %s%s\n",
		    strerror(e), e == EPERM ? " (kernel.yama."
		    "ptrace_scope above 1?)" : "");
		return EXIT_FAILED;
	}
	/* The filter gates sendmsg, so the child cannot pass its listener
	 * with SCM_RIGHTS before a supervisor runs: take it, under the
	 * kernel's ptrace access check. */
	setup.notify_fd = (int)syscall(SYS_pidfd_getfd, root_pidfd, nfd_child,
	    0);
	if (setup.notify_fd < 0) {
		int e = errno;

		kill(pid, SIGKILL);
		if ((code = check_kernel()) != 0)
			return code;
		fprintf(stderr, "zt-exec: cannot take the agent's seccomp "
		    "listener: %s\n", strerror(e));
		return EXIT_FAILED;
	}
	/* The listener's flags the supervisor needs, before the child may
	 * exec; and the supervisor woken on the agent's CPU (Linux 6.6+). */
	if ((code = check_listener(setup.notify_fd)) != 0) {
		kill(pid, SIGKILL);
		return code;
	}
	setup.ztd = ztd;
	setup.tunnels = tunnels;
	setup.resolver = resolver;
	setup.profile = &profile;
	setup.root_pid = pid;
	setup.root_pidfd = root_pidfd;
	setup.launched = launched;
	if (supervise_start(supervisor, &setup) < 0) {
		kill(pid, SIGKILL);
		return failed(EXIT_FAILED);
	}
	atomic_store(&supervising, true);
	if (write(sp[0], "G", 1) != 1) {
		kill(pid, SIGKILL);
		return EXIT_FAILED;
	}
	close(sp[0]);
	launch_pid = pid;
	launch_abi = abi;
	/* The launch exec answered here, then the workers made while the
	 * agent's exec runs; then the tracer waits for its event. */
	supervise_first(supervisor);
	status = supervise_trace(supervisor);
	tunnels_close_all(tunnels, "the agent ended");
	if (resolver != NULL)
		resolver_close_all(resolver);
	ztconn_stop(ztd);
	zt_log(LOG_NOTICE, "agent %s: pid %d ended (status %d); grant %s "
	    "closed", profile.agent, (int)pid, exit_code(status),
	    launch.grant);
	/*
	 * Everything is said: the cache hits' records and SESSION_CLOSE
	 * handed to ztd (ztconn_stop), the end logged.  The status goes to
	 * the parent at once: exit_group, with no exit handlers or library
	 * destructors run (zt-exec registers none that matter: OpenSSL is
	 * initialised without its atexit clean-up, lazylib.c), the threads
	 * killed where they wait, and the rest of the agent's tree killed
	 * by the kernel as the tracer goes (PTRACE_O_EXITKILL) and by ztd
	 * when this connection closes, as on any exit.
	 */
	fflush(NULL);
	_exit(status < 0 ? EXIT_FAILED : exit_code(status));
}

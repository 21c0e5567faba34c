/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark: ztd's decisions over its real socket against a bare echo. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zt_client.h"
#include "zt_err.h"
#include "zt_msg.h"

#include "common.h"

/*
 * What a run looks like: ztd, a syslog sink and an echo server are child
 * processes of this one; every figure forks its client processes, which
 * connect, open their sessions and prime the cache, report ready, and are
 * then released together.  Each runs a warm-up, then a window in which
 * every request's round trip is recorded (CLOCK_MONOTONIC) into memory
 * shared with this process.  Latency is over every request in the window;
 * throughput is the median over SLICES equal slices of the window.
 */
#define CLIENTS_MAX 16
#define SAMPLES_MAX (1u << 19)		/* latencies kept per client */
#define SLICES 10			/* throughput: median of these */
#define WARMUP_NS 250000000LL
#define WINDOW_NS 1500000000LL
#define FILL_ENTRIES 65536		/* the RSS figure's cached entries */
#define CALL_TIMEOUT_MS 5000
#define SESSION_TIMEOUT_MS 15000	/* the first may await attestation */
#define READY_TIMEOUT_MS 60000		/* the fill takes a few seconds */
#define LOG_KEEP 4096			/* bytes of ztd's stderr kept */

/* The wire numbers of daemon/policy.h's enum action used here. */
#define ACTION_EXEC 2
#define ACTION_CONNECT 3

#define AGENT_SERVICE "zt-agent"
#define CACHED_OBJECT "/usr/bin/rsync"
#define CACHED_REASON "cached allow"	/* daemon/decide.c, on a hit */

enum kind {
	KIND_ECHO,		/* a DECIDE's bytes to the echo server */
	KIND_AUDIT_ECHO,	/* ... to the echo server that logs each */
	KIND_CACHED,		/* the same object again: a cache hit */
	KIND_UNCACHED,		/* a new object each time: a miss */
	KIND_FILL,		/* FILL_ENTRIES misses before ready */
};

struct client_result {
	uint64_t decisions;		/* sessions and DECIDEs asked */
	uint64_t echoed;		/* answers of the audited echo */
	uint64_t measured;		/* requests inside the window */
	uint64_t n_samples;
	uint64_t slices[SLICES];
};

/* Memory shared by this process and its children. */
struct shared {
	int64_t t0, t_end;		/* the window, CLOCK_MONOTONIC ns */
	struct client_result clients[CLIENTS_MAX];
	uint64_t sink_datagrams;	/* written by the sink only */
	uint64_t echo_sink_datagrams;	/* the audited echo's sink's */
	uint64_t sink_audit;		/* of which audit lines */
	uint64_t stderr_bytes;		/* ztd's, counted by the sink */
	char head[LOG_KEEP];		/* ztd's first stderr bytes */
	char tail[LOG_KEEP];		/* its last ones, a ring */
};

struct figure {
	double p50_us, p99_us, rate;
};

struct bench {
	char dir[64];
	char config[128], ztd_socket[128], echo_socket[128];
	char log_socket[128], agent_binary[128], state_dir[128];
	char audit_echo_socket[128], echo_log_socket[128];
	const char *ztd_path;
	uid_t agent_uid;
	pid_t parent, ztd_pid, echo_pid, sink_pid;
	pid_t audit_echo_pid, echo_sink_pid;	/* the audited echo's */
	struct shared *shared;
	uint32_t *samples;		/* CLIENTS_MAX * SAMPLES_MAX */
	pid_t clients[CLIENTS_MAX];
	int n_clients;
	int ready_fd, go_fd;		/* the clients' pipes, our ends */
	uint64_t decisions;		/* asked of ztd, all figures */
	uint64_t echoed;		/* answered by the audited echo */
	int cpus[CLIENTS_MAX];		/* the CPUs we may use */
	int n_cpus;
	int server_cpu;			/* ztd's and the echo server's */
	char digest[65];		/* the agent binary's */
	bool audit_file;		/* ztd writes STATE_DIR/audit.log */
	pid_t holder_pid;		/* holds LIVE_GRANTS sessions */
};

#define LIVE_GRANTS 10000		/* the live-grants figure's */

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Run on CPU only (children inherit it, ztd's threads too). */
static void
pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* The CPUs allowed to this process (at most CLIENTS_MAX of them). */
static void
find_cpus(struct bench *b)
{
	cpu_set_t set;

	b->n_cpus = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int cpu = 0; cpu < CPU_SETSIZE &&
		    b->n_cpus < CLIENTS_MAX; cpu++)
			if (CPU_ISSET(cpu, &set))
				b->cpus[b->n_cpus++] = cpu;
	if (b->n_cpus == 0)
		b->cpus[b->n_cpus++] = 0;
	b->server_cpu = b->cpus[b->n_cpus - 1];
}

static int
path_in(const struct bench *b, char *out, size_t size, const char *name)
{
	int n = snprintf(out, size, "%s/%s", b->dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ------------------------------------------------------------ setup */

/*
 * The configuration: one agent on the account "daemon" whose binary is a
 * private, pinned copy of /bin/true; a low-risk command (the cached
 * figure) and all of 10.0.0.0/8 (fresh objects for the uncached one).
 * Syslog only, or with B->audit_file the hash-chained audit file too
 * (each record fdatasync'd, the head replaced).  ztd's syslog lines go
 * through its log relay (audit.relay, the default), or from its own loop
 * when BENCH_NO_RELAY is set in the environment (the comparison).
 */
static int
write_config(const struct bench *b, const char *digest)
{
	char audit[200] = "";
	FILE *f;
	int fd, r = 0;

	if (b->audit_file)
		snprintf(audit, sizeof(audit), " file = \"%s/audit.log\";",
		    b->state_dir);
	if (getenv("BENCH_NO_RELAY") != NULL)
		strcat(audit, " relay = false;");
	unlink(b->config);
	fd = open(b->config, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0644) < 0 || (f = fdopen(fd, "w")) == NULL) {
		r = -errno;
		close(fd);
		return r;
	}
	fprintf(f,
	    "ztd: {\n"
	    "  state_dir = \"%s\";\n"
	    "  max_clients = 1024;\n"
	    "  audit: { require = true;%s };\n"
	    "  cache: { max_entries = %d; };\n"
	    "};\n"
	    "attestation: { mode = \"software\"; };\n"
	    "agents = (\n"
	    "  {\n"
	    "    name = \"bench\";\n"
	    "    accounts = [\"" AGENT_ACCOUNT "\"];\n"
	    "    pam_services = [\"" AGENT_SERVICE "\"];\n"
	    "    binary = \"%s\";\n"
	    "    sha256 = [\"%s\"];\n"
	    "    session_ttl = 3600;\n"
	    "    decision_ttl = 3600;\n"
	    "    commands = (\n"
	    "      { path = \"" CACHED_OBJECT "\"; risk = \"low\"; },\n"
	    "      { path = \"/usr/bin/psql\"; risk = \"high\"; },\n"
	    "      { path = \"/bin/sh\"; risk = \"deny\"; }\n"
	    "    );\n"
	    "    network = (\n"
	    "      { to = \"10.0.0.0/8\"; ports = \"1-65535\"; "
	    "proto = \"tcp\"; }\n"
	    "    );\n"
	    "  }\n"
	    ");\n", b->state_dir, audit, FILL_ENTRIES, b->agent_binary,
	    digest);
	if (ferror(f))
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	return r;
}

static int
bind_unix(const char *path, int type)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    (type == SOCK_SEQPACKET && listen(fd, SOMAXCONN) < 0)) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* ------------------------------------------------- sink and echo */

static void
keep_stderr(struct shared *sh, const char *data, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t at = sh->stderr_bytes + i;

		if (at < LOG_KEEP)
			sh->head[at] = data[i];
		sh->tail[at % LOG_KEEP] = data[i];
	}
	__atomic_store_n(&sh->stderr_bytes, sh->stderr_bytes + n,
	    __ATOMIC_RELEASE);
}

/* Read every datagram queued on LOG_FD, counting them and the audit lines. */
static void
drain_log(struct shared *sh, int log_fd)
{
	char buf[8192];
	ssize_t n;

	while ((n = recv(log_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) >= 0) {
		buf[n] = '\0';
		if (strstr(buf, " decision=") != NULL)
			__atomic_store_n(&sh->sink_audit, sh->sink_audit + 1,
			    __ATOMIC_RELAXED);
		__atomic_store_n(&sh->sink_datagrams, sh->sink_datagrams + 1,
		    __ATOMIC_RELAXED);
	}
}

/*
 * The syslog daemon's part: drain the datagram socket ztd sends its log and
 * audit lines to, counting them, and drain ztd's stderr (a pipe, as under
 * systemd's journal), keeping its first and last bytes for a failure
 * report.  Ends when ztd's stderr closes (ztd has exited).
 */
static void __attribute__((noreturn))
run_sink(struct shared *sh, int log_fd, int stderr_fd)
{
	struct pollfd pfd[2] = {
		{ .fd = log_fd, .events = POLLIN },
		{ .fd = stderr_fd, .events = POLLIN },
	};
	char buf[8192];

	for (;;) {
		ssize_t n;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			_exit(1);
		drain_log(sh, log_fd);
		if (pfd[1].revents == 0)
			continue;
		n = read(stderr_fd, buf, sizeof(buf));
		if (n > 0)
			keep_stderr(sh, buf, (size_t)n);
		else if (n == 0 || errno != EINTR)
			break;
	}
	/* ztd is gone: what it sent last is still queued. */
	drain_log(sh, log_fd);
	_exit(0);
}

/* As long as ztd's audit line for the cached figure's decision. */
static const char echo_audit_line[] =
    "<110>Dec  6 14:51:19 ztd[12345]: decision=allow action=exec "
    "agent=\"bench\" account=\"daemon\" uid=1 pid=12345 "
    "object=\"/usr/bin/rsync\" reason=\"cached allow\" "
    "grant=0123456789abcdef0123456789abcdef cache=hit attest=software "
    "seq=123456 chain=0123456789abcdef";

/*
 * The audited echo's syslog daemon: read, count and drop every datagram,
 * blocking as a syslog daemon does (LOG_FD was made non-blocking).
 */
static void __attribute__((noreturn))
run_echo_sink(struct shared *sh, int log_fd)
{
	char buf[8192];

	if (fcntl(log_fd, F_SETFL, fcntl(log_fd, F_GETFL) & ~O_NONBLOCK) < 0)
		_exit(1);
	for (;;) {
		if (recv(log_fd, buf, sizeof(buf), 0) >= 0)
			__atomic_store_n(&sh->echo_sink_datagrams,
			    sh->echo_sink_datagrams + 1, __ATOMIC_RELAXED);
		else if (errno != EINTR)
			_exit(0);
	}
}

/*
 * The baseline: a minimal SEQPACKET server shaped like ztd's loop (one
 * process, one thread, epoll, one datagram read per wake-up) that sends
 * every datagram back as it came.
 */
static void __attribute__((noreturn))
run_echo(int listen_fd, int log_fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = listen_fd };
	struct epoll_event events[64];
	char buf[ZT_MSG_MAX];
	int epoll_fd = epoll_create1(EPOLL_CLOEXEC);

	if (epoll_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd,
	    &ev) < 0)
		_exit(1);
	for (;;) {
		int n = epoll_wait(epoll_fd, events, 64, -1);

		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			ssize_t got;

			if (fd == listen_fd) {
				while ((fd = accept4(listen_fd, NULL, NULL,
				    SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
					ev = (struct epoll_event){
					    .events = EPOLLIN, .data.fd = fd };
					if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD,
					    fd, &ev) < 0)
						close(fd);
				}
				continue;
			}
			got = recv(fd, buf, sizeof(buf), 0);
			/* The audited echo: a line the size of ztd's audit
			 * line handed to the kernel before the answer. */
			if (got > 0 && log_fd >= 0)
				send(log_fd, echo_audit_line,
				    sizeof(echo_audit_line) - 1, MSG_NOSIGNAL);
			if (got > 0)
				send(fd, buf, (size_t)got,
				    MSG_DONTWAIT | MSG_NOSIGNAL);
			else if (got == 0 || errno != EAGAIN)
				close(fd);
		}
	}
}

/* ------------------------------------------------------------ ztd */

/* Fork ztd, pinned, its stdout and stderr to STDERR_FD. */
static int
spawn_ztd(struct bench *b, int stderr_fd)
{
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		child_setup(b->parent);
		pin_to(b->server_cpu);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(stderr_fd, STDOUT_FILENO);
		dup2(stderr_fd, STDERR_FILENO);
		execl(b->ztd_path, "ztd", "--foreground", "--config",
		    b->config, "--socket", b->ztd_socket, "--syslog-socket",
		    b->log_socket, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", b->ztd_path, strerror(errno));
		_exit(127);
	}
	b->ztd_pid = pid;
	return 0;
}

/* One STATUS call: the version, ztd's pid and its cache entries. */
static int
ztd_status(const struct bench *b, char *version, size_t size, uint32_t *pid,
    uint64_t *entries)
{
	struct zt_msg request, reply;
	const char *v;
	int fd, r;

	if ((fd = zt_client_connect(b->ztd_socket)) < 0)
		return fd;
	if ((r = zt_msg_init(&request, ZT_MSG_STATUS, 1)) == 0 &&
	    (r = zt_client_call(fd, &request, &reply, CALL_TIMEOUT_MS)) == 0)
		r = zt_client_reply_error(&reply, ZT_MSG_STATUS_REPLY, NULL);
	close(fd);
	if (r < 0)
		return r;
	if ((r = zt_msg_get_str(&reply, ZT_F_VERSION, &v)) < 0 ||
	    (r = zt_msg_get_u32(&reply, ZT_F_PID, pid)) < 0 ||
	    (r = zt_msg_get_u64(&reply, ZT_F_CACHE_ENTRIES, entries)) < 0)
		return r;
	snprintf(version, size, "%s", v);
	return 0;
}

/* Wait until ztd answers STATUS (10 s), or has exited. */
static int
wait_for_ztd(struct bench *b, char *version, size_t size)
{
	uint64_t entries;
	uint32_t pid;
	int status;

	for (int i = 0; i < 1000 && !interrupted; i++) {
		if (waitpid(b->ztd_pid, &status, WNOHANG) == b->ztd_pid) {
			fprintf(stderr, "bench/decide: ztd exited at start "
			    "(status %d)\n", exit_code(status));
			b->ztd_pid = 0;
			return -1;
		}
		if (ztd_status(b, version, size, &pid, &entries) == 0) {
			if (pid != (uint32_t)b->ztd_pid) {
				fprintf(stderr, "bench/decide: the ztd at %s "
				    "is pid %u, not ours\n", b->ztd_socket,
				    (unsigned)pid);
				return -1;
			}
			return 0;
		}
		sleep_ms(10);
	}
	fprintf(stderr, "bench/decide: ztd did not answer on %s\n",
	    b->ztd_socket);
	return -1;
}

/* ztd's resident set in KiB (VmRSS), or -1. */
static long
rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* SIGTERM, then SIGKILL after TIMEOUT_MS; the exit status, or -1. */
static int
stop_process(pid_t *pid, long timeout_ms)
{
	int status = 0;

	if (*pid <= 0)
		return 0;
	kill(*pid, SIGTERM);
	for (long waited = 0;; waited += 10) {
		pid_t r = waitpid(*pid, &status, WNOHANG);

		if (r == *pid)
			break;
		if (r < 0 && errno != EINTR) {
			status = -1;
			break;
		}
		if (waited >= timeout_ms) {
			kill(*pid, SIGKILL);
			while (waitpid(*pid, &status, 0) < 0 && errno == EINTR)
				;
			status = -1;
			break;
		}
		sleep_ms(10);
	}
	*pid = 0;
	if (status < 0)
		return -1;
	return exit_code(status);
}

/* Print what ztd wrote to stderr: its first bytes and its last. */
static void
print_ztd_stderr(const struct shared *sh)
{
	uint64_t total = __atomic_load_n(&sh->stderr_bytes, __ATOMIC_ACQUIRE);
	uint64_t from;

	if (total == 0)
		return;
	fprintf(stderr, "bench/decide: ztd's stderr:\n");
	fwrite(sh->head, 1, total < LOG_KEEP ? total : LOG_KEEP, stderr);
	if (total <= LOG_KEEP)
		return;
	from = total - LOG_KEEP > LOG_KEEP ? total - LOG_KEEP : LOG_KEEP;
	if (from > LOG_KEEP)
		fprintf(stderr, "\n[... %llu bytes ...]\n",
		    (unsigned long long)(from - LOG_KEEP));
	for (uint64_t at = from; at < total; at++)
		fputc(sh->tail[at % LOG_KEEP], stderr);
}

/* -------------------------------------------------------- clients */

static int
build_decide(struct zt_msg *m, uint32_t id, uint32_t action,
    const char *object, const char *grant)
{
	int r;

	if ((r = zt_msg_init(m, ZT_MSG_DECIDE, id)) < 0 ||
	    (r = zt_msg_put_u32(m, ZT_F_ACTION, action)) < 0 ||
	    (r = zt_msg_put_str(m, ZT_F_OBJECT, object)) < 0 ||
	    (r = zt_msg_put_str(m, ZT_F_GRANT, grant)) < 0)
		return r;
	return zt_msg_check_complete(m);
}

/*
 * A fresh connect object for client INDEX: "tcp:10.I.X.Y:PORT", distinct
 * for every SEQ below 60000 * 65536.
 */
static void
connect_object(char *out, size_t size, int index, uint64_t seq)
{
	uint64_t address = seq / 60000;

	snprintf(out, size, "tcp:10.%d.%u.%u:%u", index + 1,
	    (unsigned)(address >> 8) & 255, (unsigned)address & 255,
	    (unsigned)(1024 + seq % 60000));
}

/*
 * Is REPLY what KIND expects?  The echo of a DECIDE, or an allow that was
 * (KIND_CACHED) or was not (otherwise) a cache hit.  Else fills WHY.
 */
static int
check_reply(enum kind kind, const struct zt_msg *reply, char *why,
    size_t size)
{
	const char *reason = "";
	uint32_t decision = 0;
	int r;

	if (kind == KIND_ECHO || kind == KIND_AUDIT_ECHO) {
		if (reply->type == ZT_MSG_DECIDE)
			return 0;
		snprintf(why, size, "the echo came back as %s",
		    zt_msg_type_name(reply->type));
		return -1;
	}
	if ((r = zt_client_reply_error(reply, ZT_MSG_DECISION,
	    &reason)) < 0) {
		snprintf(why, size, "%s: %s", zt_strerror(r), reason);
		return -1;
	}
	zt_msg_get_u32(reply, ZT_F_DECISION, &decision);
	zt_msg_get_str(reply, ZT_F_REASON, &reason);
	if (decision != ZT_DECISION_ALLOW) {
		snprintf(why, size, "deny: %s", reason);
		return -1;
	}
	if ((kind == KIND_CACHED) != (strcmp(reason, CACHED_REASON) == 0)) {
		snprintf(why, size, "expected a cache %s, got \"%s\"",
		    kind == KIND_CACHED ? "hit" : "miss", reason);
		return -1;
	}
	return 0;
}

/* SESSION_OPEN for the agent's account: this process supervises GRANT. */
static int
open_session(const struct bench *b, int fd, uint32_t *id, char *grant,
    size_t size, char *why, size_t why_size)
{
	struct zt_msg request, reply;
	const char *reason = "", *g;
	uint32_t decision = 0;
	int r;

	if ((r = zt_msg_init(&request, ZT_MSG_SESSION_OPEN, (*id)++)) < 0 ||
	    (r = zt_msg_put_u32(&request, ZT_F_UID, b->agent_uid)) < 0 ||
	    (r = zt_msg_put_str(&request, ZT_F_SERVICE, AGENT_SERVICE)) < 0 ||
	    (r = zt_client_call(fd, &request, &reply,
	    SESSION_TIMEOUT_MS)) < 0 ||
	    (r = zt_client_reply_error(&reply, ZT_MSG_DECISION,
	    &reason)) < 0) {
		snprintf(why, why_size, "session open: %s%s%s", zt_strerror(r),
		    reason[0] != '\0' ? ": " : "", reason);
		return -1;
	}
	zt_msg_get_u32(&reply, ZT_F_DECISION, &decision);
	zt_msg_get_str(&reply, ZT_F_REASON, &reason);
	if (decision != ZT_DECISION_ALLOW ||
	    zt_msg_get_str(&reply, ZT_F_GRANT, &g) < 0) {
		snprintf(why, why_size, "session open denied: %s", reason);
		return -1;
	}
	snprintf(grant, size, "%s", g);
	return 0;
}

static void
close_session(int fd, uint32_t id, const char *grant)
{
	struct zt_msg request, reply;

	if (zt_msg_init(&request, ZT_MSG_SESSION_CLOSE, id) == 0 &&
	    zt_msg_put_str(&request, ZT_F_GRANT, grant) == 0)
		zt_client_call(fd, &request, &reply, CALL_TIMEOUT_MS);
}

/* One request and its check; 0, or -1 with WHY filled. */
static int
call_checked(enum kind kind, int fd, const struct zt_msg *request,
    struct zt_msg *reply, char *why, size_t size)
{
	int r = zt_client_call(fd, request, reply, CALL_TIMEOUT_MS);

	if (r < 0) {
		snprintf(why, size, "call: %s", zt_strerror(r));
		return -1;
	}
	return check_reply(kind, reply, why, size);
}

/*
 * One client process.  Connects (to ztd, or to the echo server), opens its
 * session and primes the cache, writes 'r' to the ready pipe (or 'x' on
 * failure), waits for the go pipe to close, then asks until the window
 * ends.  Exits 0, or 1 having said why on stderr.
 */
static void __attribute__((noreturn))
run_client(struct bench *b, enum kind kind, int index)
{
	struct client_result *res = &b->shared->clients[index];
	uint32_t *samples = b->samples + (size_t)index * SAMPLES_MAX;
	struct zt_msg request, reply;
	char grant[64] = "", object[64], why[300] = "";
	uint32_t id = 1;
	uint64_t seq = 0, n_samples = 0;
	int64_t t0, t_end;
	bool ready = false, echo;
	char byte;
	int fd;

	echo = kind == KIND_ECHO || kind == KIND_AUDIT_ECHO;
	fd = zt_client_connect(kind == KIND_ECHO ? b->echo_socket :
	    kind == KIND_AUDIT_ECHO ? b->audit_echo_socket : b->ztd_socket);
	if (fd < 0) {
		snprintf(why, sizeof(why), "connect: %s", zt_strerror(fd));
		goto fail;
	}
	if (!echo) {
		if (open_session(b, fd, &id, grant, sizeof(grant), why,
		    sizeof(why)) < 0)
			goto fail;
		res->decisions++;
	}
	if (echo) {
		/* A DECIDE as the cached figure sends it, bytes for bytes. */
		if (build_decide(&request, id, ACTION_EXEC, CACHED_OBJECT,
		    "0123456789abcdef0123456789abcdef") < 0)
			goto fail;
	} else if (kind == KIND_CACHED) {
		if (build_decide(&request, id++, ACTION_EXEC, CACHED_OBJECT,
		    grant) < 0)
			goto fail;
		res->decisions++;
		if (call_checked(KIND_UNCACHED, fd, &request, &reply, why,
		    sizeof(why)) < 0)
			goto fail;
		if (build_decide(&request, id++, ACTION_EXEC, CACHED_OBJECT,
		    grant) < 0)
			goto fail;
	} else if (kind == KIND_FILL) {
		for (seq = 0; seq < FILL_ENTRIES; seq++) {
			connect_object(object, sizeof(object), 200, seq);
			if (build_decide(&request, id++, ACTION_CONNECT,
			    object, grant) < 0)
				goto fail;
			res->decisions++;
			if (call_checked(KIND_FILL, fd, &request, &reply, why,
			    sizeof(why)) < 0)
				goto fail;
		}
	}
	if (write(b->ready_fd, "r", 1) != 1)
		_exit(1);
	ready = true;
	while (read(b->go_fd, &byte, 1) < 0 && errno == EINTR)
		;
	if (kind == KIND_FILL) {
		close_session(fd, id, grant);
		_exit(0);
	}
	t0 = b->shared->t0;
	t_end = b->shared->t_end;
	for (;;) {
		int64_t start, done;

		if (kind == KIND_UNCACHED) {
			connect_object(object, sizeof(object), index, seq++);
			if (build_decide(&request, id++, ACTION_CONNECT,
			    object, grant) < 0)
				goto fail;
		}
		start = now_ns();
		if (start >= t_end)
			break;
		if (!echo)
			res->decisions++;
		if (call_checked(kind, fd, &request, &reply, why,
		    sizeof(why)) < 0)
			goto fail;
		if (kind == KIND_AUDIT_ECHO)
			res->echoed++;
		done = now_ns();
		if (start < t0 || done >= t_end)
			continue;
		if (n_samples < SAMPLES_MAX) {
			int64_t ns = done - start;

			samples[n_samples++] = ns > UINT32_MAX ? UINT32_MAX :
			    (uint32_t)ns;
		}
		res->slices[(done - t0) * SLICES / (t_end - t0)]++;
		res->measured++;
	}
	res->n_samples = n_samples;
	if (!echo)
		close_session(fd, id, grant);
	_exit(0);
fail:
	fprintf(stderr, "bench/decide: client %d: %s\n", index,
	    why[0] != '\0' ? why : "cannot build the request");
	if (!ready && write(b->ready_fd, "x", 1) != 1)
		_exit(1);
	_exit(1);
}

static void
kill_clients(struct bench *b)
{
	for (int i = 0; i < b->n_clients; i++) {
		kill(b->clients[i], SIGKILL);
		while (waitpid(b->clients[i], NULL, 0) < 0 && errno == EINTR)
			;
	}
	b->n_clients = 0;
	if (b->ready_fd >= 0)
		close(b->ready_fd);
	if (b->go_fd >= 0)
		close(b->go_fd);
	b->ready_fd = b->go_fd = -1;
}

/*
 * Fork N clients of KIND, client I on CPU I modulo the CPUs allowed, or
 * all on the servers' CPU (SAME_CPU), and wait until every one is ready.
 */
static int
spawn_clients(struct bench *b, enum kind kind, int n, bool same_cpu)
{
	int ready[2], go[2], got = 0;
	int64_t deadline;

	memset(b->shared->clients, 0, sizeof(b->shared->clients));
	if (pipe2(ready, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(go, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		return -errno;
	}
	fflush(NULL);
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			fprintf(stderr, "bench/decide: fork: %s\n",
			    strerror(errno));
			break;
		}
		if (pid == 0) {
			child_setup(b->parent);
			pin_to(same_cpu ? b->server_cpu :
			    b->cpus[i % b->n_cpus]);
			close(ready[0]);
			close(go[1]);
			b->ready_fd = ready[1];
			b->go_fd = go[0];
			run_client(b, kind, i);
		}
		b->clients[b->n_clients++] = pid;
	}
	close(ready[1]);
	close(go[0]);
	b->ready_fd = ready[0];
	b->go_fd = go[1];
	if (b->n_clients < n)
		goto fail;
	deadline = now_ns() + (int64_t)READY_TIMEOUT_MS * 1000000;
	while (got < n) {
		struct pollfd pfd = { .fd = b->ready_fd, .events = POLLIN };
		int64_t left = (deadline - now_ns()) / 1000000;
		char bytes[CLIENTS_MAX];
		ssize_t r;

		if (interrupted)
			goto fail;
		if (left <= 0) {
			fprintf(stderr, "bench/decide: clients not ready "
			    "after %d ms\n", READY_TIMEOUT_MS);
			goto fail;
		}
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		r = read(b->ready_fd, bytes, sizeof(bytes));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		for (ssize_t i = 0; i < r; i++)
			if (bytes[i] != 'r')
				goto fail;
		got += (int)r;
	}
	return 0;
fail:
	kill_clients(b);
	return -1;
}

/* Release the ready clients (the go pipe closes) and wait for them all. */
static int
release_and_reap(struct bench *b)
{
	bool failed = false;

	close(b->go_fd);
	b->go_fd = -1;
	for (int i = 0; i < b->n_clients; i++) {
		int status;

		while (waitpid(b->clients[i], &status, 0) < 0) {
			if (errno != EINTR || interrupted) {
				kill_clients(b);
				return -1;
			}
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = true;
		b->clients[i] = 0;
	}
	for (int i = 0; i < b->n_clients; i++) {
		b->decisions += b->shared->clients[i].decisions;
		b->echoed += b->shared->clients[i].echoed;
	}
	b->n_clients = 0;
	close(b->ready_fd);
	b->ready_fd = -1;
	return failed ? -1 : 0;
}

static int
compare_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

/* The nearest-rank PERCENT percentile of N sorted values. */
static uint32_t
percentile(const uint32_t *sorted, size_t n, unsigned percent)
{
	size_t rank = (n * percent + 99) / 100;

	return sorted[rank > 0 ? rank - 1 : 0];
}

/* One figure: N clients of KIND over one window. */
static int
measure(struct bench *b, enum kind kind, int n, bool same_cpu,
    struct figure *f)
{
	struct shared *sh = b->shared;
	double rates[SLICES];
	uint32_t *all;
	size_t total = 0;

	if (spawn_clients(b, kind, n, same_cpu) < 0)
		return -1;
	sh->t0 = now_ns() + WARMUP_NS;
	sh->t_end = sh->t0 + WINDOW_NS;
	if (release_and_reap(b) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		total += sh->clients[i].n_samples;
	if (total == 0) {
		fprintf(stderr, "bench/decide: no request completed in the "
		    "window\n");
		return -1;
	}
	if ((all = malloc(total * sizeof(*all))) == NULL)
		return -ENOMEM;
	total = 0;
	for (int i = 0; i < n; i++) {
		memcpy(all + total, b->samples + (size_t)i * SAMPLES_MAX,
		    sh->clients[i].n_samples * sizeof(*all));
		total += sh->clients[i].n_samples;
	}
	qsort(all, total, sizeof(*all), compare_u32);
	f->p50_us = percentile(all, total, 50) / 1e3;
	f->p99_us = percentile(all, total, 99) / 1e3;
	free(all);
	for (int s = 0; s < SLICES; s++) {
		uint64_t count = 0;

		for (int i = 0; i < n; i++)
			count += sh->clients[i].slices[s];
		rates[s] = count / (WINDOW_NS / 1e9 / SLICES);
	}
	qsort(rates, SLICES, sizeof(rates[0]), compare_double);
	f->rate = (rates[(SLICES - 1) / 2] + rates[SLICES / 2]) / 2;
	return 0;
}

static const char *
format_us(char *buf, size_t size, double us)
{
	snprintf(buf, size, us < 10 ? "%.1f" : "%.0f", us);
	return buf;
}

static void
print_figure(const char *what, const char *setup, const struct figure *f,
    const struct figure *base)
{
	char p50[32], p99[32];

	printf("%s, %s: p50 %s us, p99 %s us, %.0f/s", what, setup,
	    format_us(p50, sizeof(p50), f->p50_us),
	    format_us(p99, sizeof(p99), f->p99_us), f->rate);
	if (base == NULL)
		printf(" (the baseline)\n");
	else
		printf("; ratio to bare echo: p50 %.2fx, p99 %.2fx, "
		    "rate %.2fx\n", f->p50_us / base->p50_us,
		    f->p99_us / base->p99_us, f->rate / base->rate);
}

/* F against BASE, another baseline than the bare echo. */
static void
print_ratio(const char *what, const char *base_name, const struct figure *f,
    const struct figure *base)
{
	printf("  %s against %s: p50 %.2fx, p99 %.2fx, rate %.2fx\n", what,
	    base_name, f->p50_us / base->p50_us, f->p99_us / base->p99_us,
	    f->rate / base->rate);
}

/*
 * ztd's RSS before and after one client fills the cache with FILL_ENTRIES
 * distinct allows, read while that client's grant still lives, with the
 * count of entries from STATUS to prove they are in.
 */
static int
measure_rss(struct bench *b)
{
	long before, after;
	uint64_t entries = 0;
	uint32_t pid;
	char version[64];
	int r;

	if ((before = rss_kib(b->ztd_pid)) < 0)
		return -1;
	if (spawn_clients(b, KIND_FILL, 1, false) < 0)
		return -1;
	after = rss_kib(b->ztd_pid);
	r = ztd_status(b, version, sizeof(version), &pid, &entries);
	if (release_and_reap(b) < 0 || after < 0)
		return -1;
	if (r < 0) {
		fprintf(stderr, "bench/decide: status: %s\n", zt_strerror(r));
		return -1;
	}
	printf("ztd RSS with %llu cached entries: %.1f MiB (+%.1f MiB); "
	    "ratio to before filling (%.1f MiB) %.2fx\n",
	    (unsigned long long)entries, after / 1024.0,
	    (after - before) / 1024.0, before / 1024.0,
	    (double)after / (double)before);
	return 0;
}

/* ------------------------------------------------------------ main */

/* How many of the decisions' audit lines the sink received. */
static void
print_audit_note(const struct bench *b)
{
	uint64_t got = __atomic_load_n(&b->shared->sink_audit,
	    __ATOMIC_RELAXED);
	long qlen = -1;
	FILE *f = fopen("/proc/sys/net/unix/max_dgram_qlen", "re");

	if (f != NULL) {
		if (fscanf(f, "%ld", &qlen) != 1)
			qlen = -1;
		fclose(f);
	}
	printf("# audit: the sink received %llu audit lines for %llu "
	    "decisions asked", (unsigned long long)got,
	    (unsigned long long)b->decisions);
	if (got < b->decisions)
		printf(", %.1f%% lost (ztd sends without waiting; a datagram "
		    "socket queues net.unix.max_dgram_qlen = %ld)",
		    100.0 * (double)(b->decisions - got) /
		    (double)b->decisions, qlen);
	printf("\n");
	got = __atomic_load_n(&b->shared->echo_sink_datagrams,
	    __ATOMIC_RELAXED);
	printf("# audited echo: its sink received %llu datagrams for %llu "
	    "answers%s\n", (unsigned long long)got,
	    (unsigned long long)b->echoed, got < b->echoed ?
	    " (fewer: the audited echo's figures are not valid)" : "");
}

static void reap_sink(struct bench *b);

/*
 * Stop everything started, by pid, and remove the temporary directory.
 * Returns -1 when ztd did not stop cleanly, else 0.
 */
static int
teardown(struct bench *b, bool failed)
{
	int r = 0, status;

	kill_clients(b);
	status = stop_process(&b->ztd_pid, 5000);
	if (status != 0) {
		fprintf(stderr, "bench/decide: ztd exited with status %d\n",
		    status);
		failed = true;
		r = -1;
	}
	stop_process(&b->echo_pid, 1000);
	stop_process(&b->audit_echo_pid, 1000);
	stop_process(&b->echo_sink_pid, 1000);
	stop_process(&b->holder_pid, 1000);
	/* The sink ends by itself once ztd's stderr is closed. */
	reap_sink(b);
	if (failed && b->shared != NULL)
		print_ztd_stderr(b->shared);
	if (b->dir[0] != '\0')
		remove_tree("bench/decide", b->dir);
	return r;
}

/* The temporary directory, the agent's binary, the configuration. */
static int
prepare(struct bench *b)
{
	char *digest = b->digest;
	int r;

	snprintf(b->dir, sizeof(b->dir), "/tmp/zt-bench.XXXXXX");
	if (mkdtemp(b->dir) == NULL) {
		fprintf(stderr, "bench/decide: mkdtemp: %s\n", strerror(errno));
		b->dir[0] = '\0';
		return -1;
	}
	if (path_in(b, b->config, sizeof(b->config), "ztd.conf") < 0 ||
	    path_in(b, b->ztd_socket, sizeof(b->ztd_socket), "ztd.sock") < 0 ||
	    path_in(b, b->echo_socket, sizeof(b->echo_socket),
	    "echo.sock") < 0 ||
	    path_in(b, b->log_socket, sizeof(b->log_socket), "log.sock") < 0 ||
	    path_in(b, b->audit_echo_socket, sizeof(b->audit_echo_socket),
	    "audit-echo.sock") < 0 ||
	    path_in(b, b->echo_log_socket, sizeof(b->echo_log_socket),
	    "echo-log.sock") < 0 ||
	    path_in(b, b->agent_binary, sizeof(b->agent_binary),
	    "agent-bin") < 0 ||
	    path_in(b, b->state_dir, sizeof(b->state_dir), "state") < 0)
		return -1;
	if ((r = copy_file("/bin/true", b->agent_binary, 0755)) < 0) {
		fprintf(stderr, "bench/decide: copy /bin/true: %s\n",
		    strerror(-r));
		return -1;
	}
	if (sha256_of(b->agent_binary, digest) < 0) {
		fprintf(stderr, "bench/decide: sha256sum %s failed\n",
		    b->agent_binary);
		return -1;
	}
	if ((r = write_config(b, digest)) < 0) {
		fprintf(stderr, "bench/decide: %s: %s\n", b->config,
		    strerror(-r));
		return -1;
	}
	return 0;
}

/* The syslog sink on LOG_FD (closed here) and ztd, child processes. */
static int
start_sink_ztd(struct bench *b, int log_fd)
{
	int pipe_fds[2], r;

	/* ztd's stderr: a pipe only the sink reads and only ztd writes. */
	if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
		fprintf(stderr, "bench/decide: pipe: %s\n", strerror(errno));
		close(log_fd);
		return -1;
	}
	if ((b->sink_pid = fork()) == 0) {
		child_setup(b->parent);
		close(pipe_fds[1]);
		run_sink(b->shared, log_fd, pipe_fds[0]);
	}
	close(log_fd);
	close(pipe_fds[0]);
	if (b->sink_pid < 0) {
		b->sink_pid = 0;
		close(pipe_fds[1]);
		return -1;
	}
	r = spawn_ztd(b, pipe_fds[1]);
	close(pipe_fds[1]);
	if (r < 0) {
		fprintf(stderr, "bench/decide: fork: %s\n", strerror(-r));
		return -1;
	}
	return 0;
}

/*
 * The audited echo: an echo server that hands the kernel one datagram of an
 * audit line's size for each request before it answers, to a socket a
 * process of its own drains, as ztd does with its audit; a peer for ztd's
 * figures beside the bare echo (child processes; the server pinned as ztd).
 */
static int
start_audit_echo(struct bench *b)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int listen_fd, sink_fd, log_fd;

	if ((listen_fd = bind_unix(b->audit_echo_socket,
	    SOCK_SEQPACKET)) < 0)
		return listen_fd;
	if ((sink_fd = bind_unix(b->echo_log_socket, SOCK_DGRAM)) < 0) {
		close(listen_fd);
		return sink_fd;
	}
	if (strlen(b->echo_log_socket) >= sizeof(addr.sun_path)) {
		close(listen_fd);
		close(sink_fd);
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, b->echo_log_socket,
	    strlen(b->echo_log_socket) + 1);
	log_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (log_fd < 0 || connect(log_fd, (struct sockaddr *)&addr,
	    sizeof(addr)) < 0) {
		int e = errno;

		if (log_fd >= 0)
			close(log_fd);
		close(listen_fd);
		close(sink_fd);
		return -e;
	}
	fflush(NULL);
	if ((b->echo_sink_pid = fork()) == 0) {
		child_setup(b->parent);
		close(listen_fd);
		close(log_fd);
		run_echo_sink(b->shared, sink_fd);
	}
	close(sink_fd);
	if (b->echo_sink_pid > 0 && (b->audit_echo_pid = fork()) == 0) {
		child_setup(b->parent);
		pin_to(b->server_cpu);
		run_echo(listen_fd, log_fd);
	}
	close(listen_fd);
	close(log_fd);
	if (b->echo_sink_pid < 0 || b->audit_echo_pid < 0) {
		int e = errno;

		b->echo_sink_pid = b->echo_sink_pid < 0 ? 0 : b->echo_sink_pid;
		b->audit_echo_pid = 0;
		return -e;
	}
	return 0;
}

/* The echo servers, the syslog sink, and ztd, each a child process. */
static int
start_servers(struct bench *b)
{
	int echo_fd, log_fd, r;

	if ((echo_fd = bind_unix(b->echo_socket, SOCK_SEQPACKET)) < 0 ||
	    (log_fd = bind_unix(b->log_socket, SOCK_DGRAM)) < 0) {
		fprintf(stderr, "bench/decide: bind: %s\n",
		    strerror(-(echo_fd < 0 ? echo_fd : log_fd)));
		if (echo_fd >= 0)
			close(echo_fd);
		return -1;
	}
	fflush(NULL);
	if ((b->echo_pid = fork()) == 0) {
		child_setup(b->parent);
		pin_to(b->server_cpu);
		close(log_fd);
		run_echo(echo_fd, -1);
	}
	close(echo_fd);
	if (b->echo_pid < 0) {
		fprintf(stderr, "bench/decide: fork: %s\n", strerror(errno));
		b->echo_pid = 0;
		close(log_fd);
		return -1;
	}
	if ((r = start_audit_echo(b)) < 0) {
		fprintf(stderr, "bench/decide: the audited echo: %s\n",
		    strerror(-r));
		close(log_fd);
		return -1;
	}
	return start_sink_ztd(b, log_fd);
}

/* Wait up to 2 s for the sink, which ends with ztd's stderr. */
static void
reap_sink(struct bench *b)
{
	for (int i = 0; i < 200 && b->sink_pid > 0; i++) {
		if (waitpid(b->sink_pid, NULL, WNOHANG) == b->sink_pid)
			b->sink_pid = 0;
		else
			sleep_ms(10);
	}
	stop_process(&b->sink_pid, 1000);
}

/*
 * ztd again (and its sink), on the configuration as B now says: the
 * audit lines counted so far stay counted.
 */
static int
restart_ztd(struct bench *b)
{
	char version[64];
	int log_fd, status;

	if ((status = stop_process(&b->ztd_pid, 5000)) != 0) {
		fprintf(stderr, "bench/decide: ztd exited with status %d\n",
		    status);
		return -1;
	}
	reap_sink(b);
	unlink(b->log_socket);
	if (write_config(b, b->digest) < 0 ||
	    (log_fd = bind_unix(b->log_socket, SOCK_DGRAM)) < 0) {
		fprintf(stderr, "bench/decide: cannot restart ztd\n");
		return -1;
	}
	fflush(NULL);
	if (start_sink_ztd(b, log_fd) < 0)
		return -1;
	return wait_for_ztd(b, version, sizeof(version));
}

/*
 * A process of its own opens LIVE_GRANTS sessions (each a live grant it
 * supervises), says so on a pipe and keeps them until killed.
 */
static int
hold_grants(struct bench *b)
{
	int fds[2];
	char byte = 0;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	if ((b->holder_pid = fork()) == 0) {
		char grant[64], why[300];
		uint32_t id = 1;
		int fd = zt_client_connect(b->ztd_socket);

		child_setup(b->parent);
		close(fds[0]);
		/* A session ztd refused because the sink fell behind
		 * (audit.require) is asked again, a few times. */
		for (int i = 0, tries = 0; fd >= 0 && i < LIVE_GRANTS; i++)
			if (open_session(b, fd, &id, grant, sizeof(grant), why,
			    sizeof(why)) < 0) {
				if (++tries < 10) {
					sleep_ms(20);
					i--;
					continue;
				}
				fprintf(stderr, "bench/decide: grant %d: %s\n",
				    i, why);
				_exit(1);
			}
		if (fd < 0 || write(fds[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	if (b->holder_pid < 0 || read(fds[0], &byte, 1) != 1) {
		close(fds[0]);
		if (b->holder_pid > 0)
			stop_process(&b->holder_pid, 1000);
		b->holder_pid = 0;
		return -1;
	}
	close(fds[0]);
	b->decisions += LIVE_GRANTS;
	return 0;
}

int
main(int argc, char **argv)
{
	/* One client on the servers' CPU, then on another, then many. */
	static const struct setup {
		int clients;
		bool same_cpu;
		const char *name;
		const char *figure;	/* its name in BENCH_FIGURES */
	} setups[] = {
		{ 1, true, "1 client on the server's CPU", "1same" },
		{ 1, false, "1 client on another CPU", "1other" },
		{ 4, false, "4 clients", "4" },
		{ 16, false, "16 clients", "16" },
	};
	struct bench b = { .ready_fd = -1, .go_fd = -1 };
	struct figure echoes[sizeof(setups) / sizeof(setups[0])];
	struct sigaction sa = { .sa_handler = on_signal };
	const char *env;
	struct passwd *pw;
	struct utsname un;
	char version[64];
	size_t samples_size;
	int status = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2) {
		fprintf(stderr, "usage: bench/decide [ZTD]\n"
		    "BENCH_FIGURES=rss,1same,1other,4,16,grants,file runs "
		    "some figures (grants and file need 1same and 4)\n");
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench/decide: skipped: needs root (a session "
		    "is opened by uid 0, as a PAM stack would)\n");
		return 77;
	}
	if ((pw = getpwnam(AGENT_ACCOUNT)) == NULL) {
		fprintf(stderr, "bench/decide: skipped: no account \""
		    AGENT_ACCOUNT "\" for the agent\n");
		return 77;
	}
	b.agent_uid = pw->pw_uid;
	env = secure_getenv("ZTD");
	b.ztd_path = argc == 2 ? argv[1] : env != NULL ? env : "./ztd";
	if (access(b.ztd_path, X_OK) < 0) {
		fprintf(stderr, "bench/decide: %s: %s (run from the build "
		    "directory, or pass ztd's path)\n", b.ztd_path,
		    strerror(errno));
		return 1;
	}
	b.parent = getpid();
	umask(022);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	samples_size = (size_t)CLIENTS_MAX * SAMPLES_MAX * sizeof(uint32_t);
	b.shared = mmap(NULL, sizeof(*b.shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	b.samples = mmap(NULL, samples_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (b.shared == MAP_FAILED || b.samples == MAP_FAILED) {
		fprintf(stderr, "bench/decide: mmap: %s\n", strerror(errno));
		return 1;
	}

	find_cpus(&b);
	if (prepare(&b) < 0 || start_servers(&b) < 0 ||
	    wait_for_ztd(&b, version, sizeof(version)) < 0)
		goto out;

	uname(&un);
	printf("# bench/decide: ztd %s on Linux %s, %d CPUs; %lld ms "
	    "warm-up, then %lld ms per figure\n", version, un.release,
	    b.n_cpus, WARMUP_NS / 1000000, WINDOW_NS / 1000000);
	printf("# ztd and the echo server pinned to CPU %d, client i to CPU "
	    "i mod %d unless said; each client a process with its own "
	    "connection (and, against ztd, its own session); p50/p99 over "
	    "every request in the window, rate = median of %d slices\n",
	    b.server_cpu, b.n_cpus, SLICES);
	printf("# audit: one syslog datagram per decision to a sink the "
	    "bench drains; ztd's stderr is a pipe the bench drains (ztd "
	    "copies lines there only when it is a terminal)\n");

	if (figure_wanted("rss") && measure_rss(&b) < 0)
		goto out;
	for (size_t i = 0; i < sizeof(setups) / sizeof(setups[0]); i++) {
		const struct setup *u = &setups[i];
		struct figure cached, uncached, audited, *echo = &echoes[i];

		/* With one CPU, "another CPU" is the same one again. */
		if ((!u->same_cpu && u->clients == 1 && b.n_cpus == 1) ||
		    !figure_wanted(u->figure))
			continue;
		if (measure(&b, KIND_ECHO, u->clients, u->same_cpu,
		    echo) < 0)
			goto out;
		print_figure("bare SEQPACKET echo", u->name, echo, NULL);
		if (measure(&b, KIND_AUDIT_ECHO, u->clients, u->same_cpu,
		    &audited) < 0)
			goto out;
		print_figure("echo + one audit datagram", u->name, &audited,
		    echo);
		if (measure(&b, KIND_CACHED, u->clients, u->same_cpu,
		    &cached) < 0)
			goto out;
		print_figure("decide cached", u->name, &cached, echo);
		print_ratio("decide cached", "the audited echo", &cached,
		    &audited);
		if (measure(&b, KIND_UNCACHED, u->clients, u->same_cpu,
		    &uncached) < 0)
			goto out;
		print_figure("decide uncached", u->name, &uncached, echo);
	}
	/* The live grants' and the audit file's figures are against the
	 * echoes of the 1same and 4 figures. */
	if (!figure_wanted("grants") && !figure_wanted("file"))
		goto done;
	if (!figure_wanted("1same") || !figure_wanted("4")) {
		fprintf(stderr, "bench/decide: BENCH_FIGURES: grants and file "
		    "need 1same and 4 (their baselines)\n");
		goto out;
	}
	/* With LIVE_GRANTS other grants live: against the same echoes. */
	if (figure_wanted("grants") && hold_grants(&b) < 0) {
		fprintf(stderr, "bench/decide: cannot hold %d grants\n",
		    LIVE_GRANTS);
		goto out;
	}
	for (size_t i = 0; i < 3 && figure_wanted("grants"); i += 2) {
		struct figure cached;
		char what[64];

		snprintf(what, sizeof(what), "decide cached, %d live grants",
		    LIVE_GRANTS);
		if (measure(&b, KIND_CACHED, setups[i].clients,
		    setups[i].same_cpu, &cached) < 0)
			goto out;
		print_figure(what, setups[i].name, &cached, &echoes[i]);
	}
	stop_process(&b.holder_pid, 1000);
	if (!figure_wanted("file"))
		goto done;
	/* ztd again, with the hash-chained audit file. */
	b.audit_file = true;
	if (restart_ztd(&b) < 0)
		goto out;
	for (size_t i = 0; i < 3; i += 2) {
		struct figure cached;

		if (measure(&b, KIND_CACHED, setups[i].clients,
		    setups[i].same_cpu, &cached) < 0)
			goto out;
		print_figure("decide cached, audit file (fdatasync)",
		    setups[i].name, &cached, &echoes[i]);
	}
done:
	status = 0;
out:
	if (interrupted) {
		fprintf(stderr, "bench/decide: interrupted\n");
		status = 1;
	}
	/* ztd's stderr helps with a failure, not with an interruption. */
	if (teardown(&b, status != 0 && !interrupted) < 0)
		status = 1;
	if (status == 0)
		print_audit_note(&b);
	return status;
}

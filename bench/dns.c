/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark: resolve + connect by name through zt-exec's resolver for the
 * grant against the same done bare, both by glibc over TCP (RES_OPTIONS
 * use-vc) to the same DNS server on loopback.
 *
 * Usage (from the build directory): bench/dns [ZTD [ZT-EXEC]]; the
 * defaults are ./ztd and the zt-exec beside it (./seccomp/zt-exec, else
 * ./zt-exec).  Needs root, the account "daemon", zt-exec and unbound(8);
 * exits 77 without them.
 *
 * What a run looks like: this process starts unbound on port 53 of an
 * address of its own in 127.0.0.0/8 (an authoritative zone: NAME A
 * 127.0.0.1, TTL 300), a thread that accepts and closes TCP connections on
 * 127.0.0.1, and ztd (software attestation) whose one agent, a copy of
 * this very program, has one rule: host = NAME, private = true (the
 * answer is in 127.0.0.0/8), the listener's port; dns.upstream is that
 * unbound.  The agent runs as "daemon" in a mount namespace of its own
 * where /etc/resolv.conf names that unbound and /etc/nsswitch.conf says
 * "hosts: files dns", bare (RES_OPTIONS=use-vc set here) and under zt-exec
 * (which sets use-vc itself and carries every TCP connect to port 53 to
 * its resolver, which asks ztd, then unbound on a TCP connection it keeps,
 * then tells ztd the answer unless ztd holds that answer already).
 * Each launch times LATER + 1 rounds of getaddrinfo(NAME, AF_INET) and a
 * TCP connect to the address (and close); the first is the grant's first
 * resolution of NAME (under zt-exec: ztd decides the question and the
 * connect), the later ones are of a remembered name (the address answered
 * within its TTL: the question and the connect decided from zt-exec's
 * cache, each hit reported to ztd and audited; the answer from the
 * resolver's note of what ztd kept, without unbound -- bare asks unbound
 * every time -- for 10 s or half the TTL after each LEARN).  ROUNDS
 * launches of each, taking turns.  What the first round adds is the
 * median of the ROUNDS pairs' differences (zt-exec's launch and the bare
 * one just before it): a slow spell of the machine, which moved the bare
 * median from 258 to 368 us between runs, falls on both of a pair, and
 * the median of the differences of one run is the figure's own.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define NAME "svc.bench.test"
#define ROUNDS 61			/* launches each, bare and zt-exec */
#define LATER 40			/* a launch's rounds after its first */
#define RUN_TIMEOUT_MS 60000		/* one launch */
#define NUMBERS_MAX 64

struct state {
	char dir[64];
	char config[128], agent[128], zone[128], unbound_conf[128];
	char resolv_conf[128], nsswitch_conf[128], unbound_err[128];
	char ztd_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char log_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char ztd_err[128];
	char dns_addr[32];		/* unbound's, port 53 */
	const char *ztd_path;
	char zt_exec[PATH_MAX], unbound[PATH_MAX];
	uid_t uid;
	gid_t gid;
	pid_t self, ztd_pid, unbound_pid, child;
	int listen_fd;
	uint16_t port;
	struct ztd_launch ztd;
};

static char supervisor_group[32];
static struct state st = { .listen_fd = -1 };
static volatile sig_atomic_t interrupted;
static uint64_t audit_resolve, audit_named;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* -------------------------------------------------------- workload */

/*
 * resolve PORT N: N + 1 rounds of getaddrinfo(NAME, AF_INET) and a TCP
 * connect to the first address; prints the first round's us (resolve +
 * connect, and resolve alone), then the medians of the others.
 */
static int
workload_resolve(const char *port, int n)
{
	struct addrinfo hints = { .ai_family = AF_INET,
	    .ai_socktype = SOCK_STREAM };
	double *all = calloc((size_t)n + 1, sizeof(*all));
	double *res = calloc((size_t)n + 1, sizeof(*res));

	if (all == NULL || res == NULL)
		return 1;
	for (int i = 0; i <= n; i++) {
		struct addrinfo *ai = NULL;
		double t0 = now_us(), t1;
		int r = getaddrinfo(NAME, port, &hints, &ai), fd;

		t1 = now_us();
		if (r != 0) {
			fprintf(stderr, "bench/dns: workload: getaddrinfo "
			    NAME ": %s\n", gai_strerror(r));
			return 1;
		}
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			perror("bench/dns: workload: connect");
			return 1;
		}
		close(fd);
		freeaddrinfo(ai);
		all[i] = now_us() - t0;
		res[i] = t1 - t0;
	}
	printf("%.1f %.1f %.1f %.1f\n", all[0], res[0],
	    median(all + 1, (size_t)n), median(res + 1, (size_t)n));
	return 0;
}

static int
workload(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[2], "resolve") == 0)
		return workload_resolve(argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: bench/dns --workload resolve PORT N\n");
	return 2;
}

/* ------------------------------------------------------ processes */

/* One of ztd's syslog datagrams: count the allows by name. */
static void
count_audit(const char *line)
{
	if (strstr(line, "decision=allow action=resolve ") != NULL)
		__atomic_add_fetch(&audit_resolve, 1, __ATOMIC_RELAXED);
	else if (strstr(line, "decision=allow action=connect ") != NULL &&
	    strstr(line, " name=\"" NAME "\"") != NULL)
		__atomic_add_fetch(&audit_named, 1, __ATOMIC_RELAXED);
}

static struct log_sink sink = { .fd = -1, .line = count_audit };

/* In the agent's child, still root: this run's resolv.conf and
 * nsswitch.conf in a mount namespace of its own. */
static void
private_resolver_files(void)
{
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(st.resolv_conf, "/etc/resolv.conf", NULL, MS_BIND,
	    NULL) < 0 ||
	    mount(st.nsswitch_conf, "/etc/nsswitch.conf", NULL, MS_BIND,
	    NULL) < 0) {
		perror("bench/dns: the agent's resolver files");
		_exit(126);
	}
}

/*
 * One launch of the workload, bare or under zt-exec, its line parsed into
 * V (up to NUMBERS_MAX numbers).  Their count, or -1.
 */
static int
run_agent(bool zt, double *v)
{
	char port[16], later[16], out[1024];
	char *argv[16];
	size_t got = 0;
	int fds[2], n = 0, status;
	pid_t pid;
	double deadline = now_us() + RUN_TIMEOUT_MS * 1e3;

	snprintf(port, sizeof(port), "%u", (unsigned)st.port);
	snprintf(later, sizeof(later), "%d", LATER);
	if (zt)
		n = zt_exec_argv(argv, st.zt_exec, st.ztd_socket,
		    st.log_socket);
	argv[n++] = st.agent;
	argv[n++] = "--workload";
	argv[n++] = "resolve";
	argv[n++] = port;
	argv[n++] = later;
	argv[n] = NULL;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		private_resolver_files();
		/* Bare, glibc asks over TCP as under zt-exec. */
		setenv("RES_OPTIONS", "use-vc", 1);
		drop_to_agent("bench/dns", st.uid, st.gid);
		child_setup(st.self);
		execv(argv[0], argv);
		fprintf(stderr, "bench/dns: exec %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	st.child = pid;
	close(fds[1]);
	while (!interrupted && now_us() < deadline && got < sizeof(out) - 1) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		r = read(fds[0], out + got, sizeof(out) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fds[0]);
	out[got] = '\0';
	reap_within(pid, 5000, 2, &interrupted, &status);
	st.child = 0;
	if (interrupted)
		return -1;
	if (exit_code(status) != 0) {
		fprintf(stderr, "bench/dns: the %s workload exited with status "
		    "%d\n", zt ? "zt-exec" : "bare", exit_code(status));
		return -1;
	}
	return parse_numbers(out, v, NUMBERS_MAX);
}

/* ------------------------------------------------------------ setup */

/* Write TEXT (a printf format and its arguments) to the new file PATH. */
static int __attribute__((format(printf, 2, 3)))
write_file(const char *path, const char *format, ...)
{
	va_list ap;
	FILE *f;
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		fprintf(stderr, "bench/dns: %s: %s\n", path, strerror(errno));
		return -1;
	}
	va_start(ap, format);
	vfprintf(f, format, ap);
	va_end(ap);
	if (ferror(f))
		r = -1;
	if (fclose(f) != 0)
		r = -1;
	if (r < 0)
		fprintf(stderr, "bench/dns: cannot write %s\n", path);
	return r;
}

static int
write_files(const char *digest)
{
	if (write_file(st.zone,
	    "$ORIGIN bench.test.\n$TTL 300\n"
	    "@ IN SOA ns.bench.test. admin.bench.test. 1 3600 600 86400 300\n"
	    "@ IN NS ns.bench.test.\nns IN A %s\nsvc IN A 127.0.0.1\n",
	    st.dns_addr) < 0 ||
	    write_file(st.unbound_conf,
	    "server:\n  interface: %s@53\n  do-daemonize: no\n"
	    "  chroot: \"\"\n  username: \"\"\n  directory: \"%s\"\n"
	    "  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n"
	    "  verbosity: 0\n  do-ip6: no\n"
	    "  access-control: 127.0.0.0/8 allow\n"
	    "  local-zone: \"test.\" nodefault\n"
	    "auth-zone:\n  name: \"bench.test.\"\n  zonefile: \"%s\"\n"
	    "  for-downstream: yes\n  for-upstream: no\n"
	    "remote-control:\n  control-enable: no\n",
	    st.dns_addr, st.dir, st.zone) < 0 ||
	    write_file(st.resolv_conf, "nameserver %s\n", st.dns_addr) < 0 ||
	    write_file(st.nsswitch_conf, "hosts: files dns\n") < 0)
		return -1;
	return write_file(st.config,
	    "ztd: { state_dir = \"%s/state\"; supervisor_group = \"%s\";\n"
	    "  dns: { upstream = [\"%s:53\"]; }; };\n"
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
	    "    network = ( { host = \"" NAME "\"; private = true; "
	    "ports = \"%u\"; } );\n"
	    "  }\n"
	    ");\n", st.dir, supervisor_group, st.dns_addr, st.agent, digest,
	    (unsigned)st.port);
}

/* Does unbound answer a TCP connection on port 53? */
static bool
unbound_listening(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(53) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	inet_pton(AF_INET, st.dns_addr, &a.sin_addr);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static int
start_unbound(void)
{
	fflush(NULL);
	if ((st.unbound_pid = fork()) < 0) {
		st.unbound_pid = 0;
		return -1;
	}
	if (st.unbound_pid == 0) {
		int err = open(st.unbound_err, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0600);

		child_setup(st.self);
		if (err >= 0) {
			dup2(err, STDOUT_FILENO);
			dup2(err, STDERR_FILENO);
		}
		execl(st.unbound, "unbound", "-d", "-c", st.unbound_conf,
		    (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000 && !interrupted; i++) {
		int status;

		if (waitpid(st.unbound_pid, &status, WNOHANG) ==
		    st.unbound_pid) {
			st.unbound_pid = 0;
			break;
		}
		if (unbound_listening())
			return 0;
		sleep_ms(10);
	}
	fprintf(stderr, "bench/dns: unbound did not answer on %s:53\n",
	    st.dns_addr);
	print_file_tail(st.unbound_err, "bench/dns: unbound's stderr");
	return -1;
}

static void
stop(pid_t *pid)
{
	int status;

	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	reap_within(*pid, 5000, 5, &interrupted, &status);
	*pid = 0;
}

/* Stop what was started, by pid, and remove the temporary directory. */
static void
teardown(bool failed)
{
	if (st.child > 0) {
		kill(st.child, SIGKILL);
		waitpid(st.child, NULL, 0);
		st.child = 0;
	}
	stop(&st.ztd_pid);
	stop(&st.unbound_pid);
	if (failed && st.dir[0] != '\0')
		print_file_tail(st.ztd_err, "bench/dns: ztd's stderr");
	supervisor_remove(supervisor_group);
	if (st.dir[0] != '\0')
		remove_tree("bench/dns", st.dir);
	st.dir[0] = '\0';
}

static int
prepare(void)
{
	char digest[65];
	pthread_t thread;
	int r;

	snprintf(st.dir, sizeof(st.dir), "/tmp/zt-bench-dns.XXXXXX");
	if (mkdtemp(st.dir) == NULL) {
		fprintf(stderr, "bench/dns: mkdtemp: %s\n", strerror(errno));
		st.dir[0] = '\0';
		return -1;
	}
	/* The agent's account reaches ztd's socket and its binary. */
	if (chmod(st.dir, 0755) < 0 ||
	    supervisor_install("bench/dns", st.dir, st.zt_exec,
	    sizeof(st.zt_exec), supervisor_group) < 0)
		return -1;
	/* An address of this run's own: port 53 on it is free. */
	snprintf(st.dns_addr, sizeof(st.dns_addr), "127.%u.%u.53",
	    (unsigned)st.self % 200 + 20, (unsigned)st.self / 200 % 250 + 1);
	snprintf(st.config, sizeof(st.config), "%s/ztd.conf", st.dir);
	snprintf(st.ztd_socket, sizeof(st.ztd_socket), "%s/ztd.sock", st.dir);
	snprintf(st.log_socket, sizeof(st.log_socket), "%s/log.sock", st.dir);
	snprintf(st.agent, sizeof(st.agent), "%s/agent", st.dir);
	snprintf(st.ztd_err, sizeof(st.ztd_err), "%s/ztd.err", st.dir);
	snprintf(st.zone, sizeof(st.zone), "%s/bench.zone", st.dir);
	snprintf(st.unbound_conf, sizeof(st.unbound_conf), "%s/unbound.conf",
	    st.dir);
	snprintf(st.unbound_err, sizeof(st.unbound_err), "%s/unbound.err",
	    st.dir);
	snprintf(st.resolv_conf, sizeof(st.resolv_conf), "%s/resolv.conf",
	    st.dir);
	snprintf(st.nsswitch_conf, sizeof(st.nsswitch_conf),
	    "%s/nsswitch.conf", st.dir);
	st.ztd = (struct ztd_launch){ .who = "bench/dns",
	    .path = st.ztd_path, .config = st.config, .socket = st.ztd_socket,
	    .log_socket = st.log_socket, .err_path = st.ztd_err,
	    .parent = st.self, .stop = &interrupted };
	if ((r = copy_file("/proc/self/exe", st.agent, 0755)) < 0) {
		fprintf(stderr, "bench/dns: copy the agent: %s\n",
		    strerror(-r));
		return -1;
	}
	if (sha256_of(st.agent, digest) < 0) {
		fprintf(stderr, "bench/dns: sha256sum %s failed\n", st.agent);
		return -1;
	}
	if ((st.listen_fd = listen_loopback(4096, &st.port)) < 0 ||
	    (sink.fd = bind_log_socket(st.log_socket)) < 0) {
		fprintf(stderr, "bench/dns: sockets: %s\n", strerror(errno));
		return -1;
	}
	if (write_files(digest) < 0 ||
	    start_thread(&thread, run_accept_close, &st.listen_fd) < 0 ||
	    start_thread(&thread, run_log_sink, &sink) < 0 ||
	    start_unbound() < 0 || start_ztd(&st.ztd, &st.ztd_pid) < 0)
		return -1;
	return 0;
}

/* ---------------------------------------------------------- figures */

static int
figure_resolve(void)
{
	/* [0] bare, [1] zt-exec: per launch, the first round (resolve +
	 * connect, resolve) and the medians of the later ones. */
	double first[2][ROUNDS], first_res[2][ROUNDS];
	double later[2][ROUNDS], later_res[2][ROUNDS], m[2][4];
	double added[ROUNDS], gap;

	for (int round = 0; round < ROUNDS; round++)
		for (int zt = 0; zt < 2; zt++) {
			double v[NUMBERS_MAX];

			if (run_agent(zt, v) < 4)
				return -1;
			first[zt][round] = v[0];
			first_res[zt][round] = v[1];
			later[zt][round] = v[2];
			later_res[zt][round] = v[3];
		}
	for (int round = 0; round < ROUNDS; round++)
		added[round] = first[1][round] - first[0][round];
	gap = median(added, ROUNDS);
	for (int zt = 0; zt < 2; zt++) {
		m[zt][0] = median(first[zt], ROUNDS);
		m[zt][1] = median(first_res[zt], ROUNDS);
		m[zt][2] = median(later[zt], ROUNDS);
		m[zt][3] = median(later_res[zt], ROUNDS);
	}
	printf("dns.remembered bare %.1f us; zt-exec %.1f us (%.2fx bare, "
	    "goal <= 1.5x) per resolve + connect of a name answered within "
	    "its TTL\n", m[0][2], m[1][2], m[1][2] / m[0][2]);
	printf("dns.first bare %.1f us; zt-exec %.1f us (%+.2f ms, goal <= "
	    "+0.3 ms: the median of the %d launch pairs' differences) per a "
	    "grant's first resolve + connect of the name\n", m[0][0],
	    m[1][0], gap / 1e3, ROUNDS);
	printf("# dns.first: the difference of the two medians %+.2f ms\n",
	    (m[1][0] - m[0][0]) / 1e3);
	printf("# resolve alone (getaddrinfo): remembered bare %.1f us, "
	    "zt-exec %.1f us; first bare %.1f us, zt-exec %.1f us\n",
	    m[0][3], m[1][3], m[0][1], m[1][1]);
	return 0;
}

int
main(int argc, char **argv)
{
	struct utsname un;
	double t0;
	int status = 1, r;

	if (argc >= 2 && strcmp(argv[1], "--workload") == 0)
		return workload(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 3 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: bench/dns [ZTD [ZT-EXEC]]\n");
		return 2;
	}
	st.ztd_path = argc >= 2 ? argv[1] : "./ztd";
	if ((r = check_agent_bench("bench/dns", st.ztd_path, &st.uid,
	    &st.gid)) != 0)
		return r;
	if ((r = need_zt_exec("bench/dns", st.ztd_path, argc == 3 ?
	    argv[2] : NULL, st.zt_exec, sizeof(st.zt_exec))) != 0)
		return r;
	if (!find_program("unbound", st.unbound, sizeof(st.unbound))) {
		fprintf(stderr, "bench/dns: skipped: no unbound(8) for the DNS "
		    "server\n");
		return 77;
	}
	st.self = getpid();
	umask(022);
	catch_signals(on_signal);

	t0 = now_us();
	if (prepare() < 0)
		goto out;
	uname(&un);
	printf("# bench/dns: Linux %s, %d CPUs, nothing pinned; the agent (a "
	    "copy of this program) runs as \"" AGENT_ACCOUNT "\", bare and "
	    "under zt-exec with ztd in software attestation mode; glibc "
	    "getaddrinfo(" NAME ", AF_INET) over TCP to unbound on %s:53, "
	    "then a TCP connect to 127.0.0.1\n", un.release, count_cpus(),
	    st.dns_addr);
	printf("# medians of %d launches each (taking turns): the first "
	    "round of a launch, and the median of its %d later rounds\n",
	    ROUNDS, LATER);
	if (figure_resolve() < 0)
		goto out;
	sleep_ms(1500);		/* the last launch's audit lines */
	printf("# audit: the sink received %llu resolve allows and %llu "
	    "connect allows naming " NAME " (%d resolve + connect under "
	    "zt-exec)\n", (unsigned long long)__atomic_load_n(&audit_resolve,
	    __ATOMIC_RELAXED), (unsigned long long)__atomic_load_n(
	    &audit_named, __ATOMIC_RELAXED), ROUNDS * (LATER + 1));
	printf("# bench/dns: %.0f s\n", (now_us() - t0) / 1e6);
	status = 0;
out:
	if (interrupted) {
		fprintf(stderr, "bench/dns: interrupted\n");
		status = 1;
	}
	teardown(status == 1 && !interrupted);
	return status;
}

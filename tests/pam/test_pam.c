/* SPDX-License-Identifier: Apache-2.0 */
/* pam_zt.so through a real PAM stack against a real ztd and fake servers. */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <security/pam_appl.h>
#include <security/pam_modules.h>

#include "zt_msg.h"

#define LOG_MAX (1024 * 1024)
#define PATH_SIZE 256		/* the paths the fixture keeps */
#define LINE_SIZE 1024		/* paths and options built from them */

enum fake_mode {
	FAKE_ALLOW,		/* a well-formed allow (the control case) */
	FAKE_DENY_VALUE,	/* DECISION 1: not the allow constant */
	FAKE_SILENT,		/* accepts, reads, never answers */
	FAKE_CLOSE,		/* reads the request, then hangs up */
	FAKE_TRUNCATED,		/* an allow cut short */
	FAKE_OVERSIZED,		/* an allow padded past ZT_MSG_MAX */
	FAKE_VERSION,		/* an allow of protocol version 2 */
	FAKE_TRAILING,		/* an allow with bytes after its fields */
	FAKE_WRONG_ID,		/* an allow for another request */
	FAKE_WRONG_TYPE,	/* a valid message of another type */
	FAKE_NO_GRANT,		/* an allow with no grant id (session open) */
	FAKE_NOT_ROOT,		/* a well-formed allow, from uid 65534 */
};

/*
 * What libpam logs, for this process: pam_syslog() (libpam's and the
 * module's) ends in syslog(), which Debian's libpam, built with
 * _FORTIFY_SOURCE, calls as __syslog_chk.  This definition interposes it,
 * so a test can assert that a session logs no error.
 */
static char pam_logged[64 * 1024];

void __syslog_chk(int priority, int flag, const char *format, ...);

void
__syslog_chk(int priority, int flag, const char *format, ...)
{
	size_t used = strlen(pam_logged);
	va_list ap;

	(void)priority;
	(void)flag;
	if (used + LINE_SIZE + 2 > sizeof(pam_logged))
		used = 0;
	va_start(ap, format);
	vsnprintf(pam_logged + used, LINE_SIZE, format, ap);
	va_end(ap);
	strcat(pam_logged + used, "\n");
}

/* Everything the tests share: one ztd, one log sink, one directory. */
static struct {
	char dir[64];
	char confdir[PATH_SIZE];
	char sock[PATH_SIZE];
	char log_sock[PATH_SIZE];
	char agent_bin[PATH_SIZE];
	char module[PATH_SIZE];
	char ztd[PATH_SIZE];
	char ztctl[PATH_SIZE];
	pid_t ztd_pid;
	pid_t own_pid;		/* a test's own ztd while it runs, or -1 */
	int log_fd;
	char *log;		/* every datagram received, one per line */
	size_t log_used;
	uid_t agent_uid;
} g = { .ztd_pid = -1, .own_pid = -1, .log_fd = -1 };

/* ------------------------------------------------------------ helpers */

static void
die(const char *what)
{
	fprintf(stderr, "test_pam: %s: %s\n", what, strerror(errno));
	exit(99);
}

static void
write_file(const char *path, mode_t mode, const char *fmt, ...)
{
	va_list ap;
	FILE *f = fopen(path, "w");

	if (f == NULL)
		die(path);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) != 0 || chmod(path, mode) != 0)
		die(path);
}

/* A PAM service file NAME in the test's confdir. */
static void
service(const char *name, const char *fmt, ...)
{
	char path[LINE_SIZE];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", g.confdir, name);
	if ((f = fopen(path, "w")) == NULL)
		die(path);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) != 0)
		die(path);
}

/*
 * The service the agent may use, "zt-agent", as the tests normally have
 * it: pam_zt.so at the shared ztd with EXTRA options, then pam_permit.
 */
static void
agent_service(const char *extra)
{
	service("zt-agent",
	    "account [success=ok ignore=ignore default=die] %s socket=%s%s\n"
	    "account required pam_permit.so\n"
	    "session [success=ok ignore=ignore default=die] %s socket=%s%s\n"
	    "session required pam_permit.so\n",
	    g.module, g.sock, extra, g.module, g.sock, extra);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run a shell command; its exit status, its output in OUT (may be NULL). */
static int
run(char *out, size_t size, const char *fmt, ...)
{
	char command[2048];
	size_t used = 0;
	va_list ap;
	FILE *p;
	int status;

	va_start(ap, fmt);
	vsnprintf(command, sizeof(command), fmt, ap);
	va_end(ap);
	if ((p = popen(command, "r")) == NULL)
		die("popen");
	if (out != NULL && size > 0) {
		size_t n;

		while (used + 1 < size &&
		    (n = fread(out + used, 1, size - 1 - used, p)) > 0)
			used += n;
		out[used] = '\0';
	}
	{
		char sink[256];

		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Read every datagram waiting at the log sink into g.log. */
static void
drain_log(void)
{
	char line[8192];
	ssize_t n;

	while ((n = recv(g.log_fd, line, sizeof(line) - 1, MSG_DONTWAIT)) >
	    0) {
		if (g.log_used + (size_t)n + 2 > LOG_MAX)
			g.log_used = 0;
		memcpy(g.log + g.log_used, line, (size_t)n);
		g.log_used += (size_t)n;
		g.log[g.log_used++] = '\n';
		g.log[g.log_used] = '\0';
	}
}

/*
 * Has TEXT reached the log?  Waited for (ztd's records come through its
 * relay, late on a busy machine), up to 10 s.
 */
static bool
log_has(const char *text)
{
	for (int i = 0; i < 1000; i++) {
		drain_log();
		if (strstr(g.log, text) != NULL)
			return true;
		usleep(10000);
	}
	return false;
}

/* After drain_log: has ztd PID sent a line holding TEXT? */
static bool
logged_by(pid_t pid, const char *text)
{
	char ident[32];
	const char *line = g.log;

	drain_log();
	snprintf(ident, sizeof(ident), " ztd[%ld]: ", (long)pid);
	while (*line != '\0') {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);

		if (memmem(line, len, ident, strlen(ident)) != NULL &&
		    memmem(line, len, text, strlen(text)) != NULL)
			return true;
		if (end == NULL)
			break;
		line = end + 1;
	}
	return false;
}

static bool
wait_socket(const char *path)
{
	struct stat st;

	for (int i = 0; i < 200; i++) {
		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			return true;
		usleep(25000);
	}
	return false;
}

/* The ztd configuration: agent "worker" for "daemon", SERVICES allowed. */
static void
write_config(const char *path, const char *state, const char *attestation)
{
	char digest[128] = "";

	if (run(digest, sizeof(digest), "sha256sum '%s'", g.agent_bin) != 0)
		die("sha256sum");
	digest[64] = '\0';
	if (mkdir(state, 0700) != 0 && errno != EEXIST)
		die(state);
	write_file(path, 0644,
	    "ztd: { state_dir = \"%s\"; cache: { max_entries = 64; }; };\n"
	    "attestation: { %s };\n"
	    "agents = (\n"
	    "  {\n"
	    "    name = \"worker\";\n"
	    "    accounts = [\"daemon\"];\n"
	    "    pam_services = [\"zt-agent\"];\n"
	    "    binary = \"%s\";\n"
	    "    sha256 = [\"%s\"];\n"
	    "    session_ttl = 60;\n"
	    "    decision_ttl = 30;\n"
	    "    commands = (\n"
	    "      { path = \"/usr/bin/rsync\"; risk = \"low\"; }\n"
	    "    );\n"
	    "  }\n"
	    ");\n", state, attestation, g.agent_bin, digest);
}

static pid_t
start_ztd(const char *config, const char *sock)
{
	char err[LINE_SIZE];
	pid_t pid;

	snprintf(err, sizeof(err), "%s/ztd.stderr", g.dir);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int fd = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(g.ztd, "ztd", "--foreground", "--config", config,
		    "--socket", sock, "--syslog-socket", g.log_sock,
		    (char *)NULL);
		_exit(127);
	}
	if (!wait_socket(sock)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fprintf(stderr, "test_pam: ztd did not start (see %s)\n", err);
		exit(99);
	}
	/* Its first measurement done (the host trusted or not): until then
	 * a request may wait for it (up to 5 s, ATTEST_WAIT_MS) longer than
	 * pam_zt waits (3 s) on a loaded machine.  The status says when; the
	 * bound (far beyond any load) only keeps a hung ztd from hanging the
	 * test. */
	for (int64_t give_up = now_ms() + 300000;;) {
		char out[LINE_SIZE * 4];

		if (run(out, sizeof(out), "'%s' --socket '%s' status", g.ztctl,
		    sock) == 0 && strstr(out, "attestation:") != NULL &&
		    strstr(out, "not measured yet") == NULL)
			break;		/* trusted or not: measured */
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			fprintf(stderr, "test_pam: ztd ended at its start "
			    "(see %s)\n", err);
			exit(99);
		}
		if (now_ms() > give_up) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fprintf(stderr, "test_pam: ztd never measured the host "
			    "(see %s)\n", err);
			exit(99);
		}
		usleep(20000);
	}
	return pid;
}

/* A ztd of a test's own: CONFIG ztd-NAME.conf, state-NAME, SOCK NAME.sock. */
static pid_t
own_ztd(const char *name, char config[LINE_SIZE], char sock[LINE_SIZE])
{
	char statedir[LINE_SIZE];

	snprintf(config, LINE_SIZE, "%s/ztd-%s.conf", g.dir, name);
	snprintf(statedir, LINE_SIZE, "%s/state-%s", g.dir, name);
	snprintf(sock, LINE_SIZE, "%s/%s.sock", g.dir, name);
	write_config(config, statedir, "mode = \"software\";");
	return start_ztd(config, sock);
}

static void
stop_pid(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int
no_conversation(int n, const struct pam_message **msg,
    struct pam_response **resp, void *data)
{
	(void)n;
	(void)msg;
	(void)resp;
	(void)data;
	return PAM_CONV_ERR;
}

static pam_handle_t *
pam_begin(const char *service_name, const char *user)
{
	static const struct pam_conv conv = { no_conversation, NULL };
	pam_handle_t *pamh = NULL;

	assert_int_equal(pam_start_confdir(service_name, user, &conv,
	    g.confdir, &pamh), PAM_SUCCESS);
	assert_non_null(pamh);
	return pamh;
}

/* One account check through SERVICE_NAME for USER; the stack's result. */
static int
account(const char *service_name, const char *user)
{
	pam_handle_t *pamh = pam_begin(service_name, user);
	int rc = pam_acct_mgmt(pamh, PAM_SILENT);

	pam_end(pamh, rc);
	return rc;
}

/* Call one of the module's entry points directly on a real handle. */
static int
module_call(const char *symbol, pam_handle_t *pamh, int argc,
    const char **argv)
{
	int (*fn)(pam_handle_t *, int, int, const char **);
	void *lib = dlopen(g.module, RTLD_NOW | RTLD_LOCAL);
	int rc;

	assert_non_null(lib);
	*(void **)&fn = dlsym(lib, symbol);
	assert_non_null(fn);
	rc = fn(pamh, PAM_SILENT, argc, argv);
	dlclose(lib);
	return rc;
}

/* The grant id ZT_GRANT=... in the handle's environment list, or "". */
static void
grant_of(pam_handle_t *pamh, char grant[33])
{
	char **env = pam_getenvlist(pamh);

	grant[0] = '\0';
	assert_non_null(env);
	for (char **e = env; *e != NULL; e++) {
		if (strncmp(*e, "ZT_GRANT=", 9) == 0)
			snprintf(grant, 33, "%s", *e + 9);
		free(*e);
	}
	free(env);
}

static bool
grant_listed(const char *grant)
{
	char out[8192];

	if (run(out, sizeof(out), "'%s' --socket '%s' grants", g.ztctl,
	    g.sock) != 0)
		return false;
	return grant[0] != '\0' && strstr(out, grant) != NULL;
}

static int
ztctl_check_grant(const char *grant)
{
	return run(NULL, 0, "'%s' --socket '%s' check --agent worker "
	    "--action exec --object /usr/bin/rsync --grant %s", g.ztctl,
	    g.sock, grant);
}

/* The supervisor pid ztd at SOCK lists for GRANT (`ztctl grants`), or -1. */
static long
grant_supervisor(const char *sock, const char *grant)
{
	char out[8192], *line;
	long pid;

	if (grant[0] == '\0' || run(out, sizeof(out), "'%s' --socket '%s' "
	    "grants", g.ztctl, sock) != 0 || (line = strstr(out, grant)) ==
	    NULL)
		return -1;
	/* GRANT AGENT ACCOUNT UID PID ... */
	if (sscanf(line, "%*32s %*s %*s %*u %ld", &pid) != 1)
		return -1;
	return pid;
}

/* Is the module under test mapped in this process (/proc/self/maps)? */
static bool
module_mapped(void)
{
	char line[LINE_SIZE];
	bool mapped = false;
	FILE *f = fopen("/proc/self/maps", "r");

	if (f == NULL)
		die("/proc/self/maps");
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, g.module) != NULL)
			mapped = true;
	fclose(f);
	return mapped;
}

/* How many sockets process PID (0: this one) has open (/proc/PID/fd). */
static int
sockets_of(pid_t pid)
{
	char dir[64], link[64], path[PATH_SIZE];
	struct dirent *e;
	int n = 0;
	DIR *d;

	if (pid == 0)
		snprintf(dir, sizeof(dir), "/proc/self/fd");
	else
		snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)pid);
	if ((d = opendir(dir)) == NULL)
		die(dir);
	while ((e = readdir(d)) != NULL) {
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%.32s", dir, e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len > 0 && strncmp(link, "socket:", 7) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static int
sockets_open(void)
{
	return sockets_of(0);
}

/* ------------------------------------------------------- fake servers */

/* Does something accept connections at PATH? */
static bool
socket_listens(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool ok;

	memcpy(addr.sun_path, path, strlen(path) + 1);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&addr,
	    sizeof(addr)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Listen at PATH and answer every request according to MODE (a child). */
static pid_t
start_fake(const char *path, enum fake_mode mode)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;
	pid_t pid;

	unlink(path);
	if (strlen(path) >= sizeof(addr.sun_path))
		die("fake socket path");
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    (mode != FAKE_NOT_ROOT && listen(fd, 16) < 0))
		die("fake server");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid > 0) {
		close(fd);
		if (mode == FAKE_NOT_ROOT) {
			/* Listening as 65534 before the module connects. */
			for (int i = 0; i < 2000 && !socket_listens(path); i++)
				usleep(5000);
		}
		return pid;
	}
	/* The peer credentials a client sees are the listener's at
	 * listen(): drop to nobody before it. */
	if (mode == FAKE_NOT_ROOT && (setgid(65534) < 0 || setuid(65534) < 0 ||
	    listen(fd, 16) < 0))
		_exit(1);
	for (;;) {
		uint8_t in[ZT_MSG_MAX + 64], out[ZT_MSG_MAX + 64];
		struct zt_msg m;
		uint32_t id;
		size_t size;
		ssize_t n;
		int c = accept(fd, NULL, NULL);

		if (c < 0)
			continue;
		n = recv(c, in, sizeof(in), 0);
		if (n < 16) {
			close(c);
			continue;
		}
		memcpy(&id, in + 8, 4);
		id = ntohl(id);
		if (mode == FAKE_SILENT)
			continue;	/* keep it open, never answer */
		if (mode == FAKE_CLOSE) {
			close(c);
			continue;
		}
		if (mode == FAKE_WRONG_TYPE) {
			zt_msg_init(&m, ZT_MSG_RELOAD_REPLY, id);
			zt_msg_put_u64(&m, ZT_F_GENERATION, 7);
		} else {
			zt_msg_init(&m, ZT_MSG_DECISION,
			    mode == FAKE_WRONG_ID ? id + 1 : id);
			zt_msg_put_u32(&m, ZT_F_DECISION,
			    mode == FAKE_DENY_VALUE ? 1 : ZT_DECISION_ALLOW);
			zt_msg_put_str(&m, ZT_F_REASON, "fake");
			if (mode != FAKE_NO_GRANT)
				zt_msg_put_str(&m, ZT_F_GRANT,
				    "0123456789abcdef0123456789abcdef");
		}
		memcpy(out, m.wire, m.size);
		size = m.size;
		switch (mode) {
		case FAKE_TRUNCATED:
			size -= 3;
			break;
		case FAKE_OVERSIZED:
			memset(out + size, 'A', sizeof(out) - size);
			size = ZT_MSG_MAX + 32;
			break;
		case FAKE_VERSION:
			out[5] = 2;
			break;
		case FAKE_TRAILING:
			memcpy(out + size, "\0\0\0\0", 4);
			size += 4;
			break;
		default:
			break;
		}
		send(c, out, size, MSG_NOSIGNAL);
		/* the connection stays open: the client hangs up */
	}
}

/*
 * The module under test: $ZT_PAM_MODULE, else the libtool build's
 * TOP/pam_module/.libs/pam_zt.so, else TOP/.libs/pam_zt.so.
 */
static void
module_path(char *path, size_t size, const char *top, const char *override)
{
	struct stat st;

	if (override != NULL && override[0] != '\0') {
		snprintf(path, size, "%s", override);
		return;
	}
	snprintf(path, size, "%s/pam_module/.libs/pam_zt.so", top);
	if (stat(path, &st) != 0)
		snprintf(path, size, "%s/.libs/pam_zt.so", top);
}

/* --------------------------------------------------- setup, teardown */

static int
setup_all(void **state)
{
	const char *top = getenv("top_builddir");
	const char *override = getenv("ZT_PAM_MODULE");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char config[LINE_SIZE], statedir[LINE_SIZE];
	struct passwd *pw;

	(void)state;
	if (top == NULL)
		top = ".";
	module_path(g.module, sizeof(g.module), top, override);
	snprintf(g.ztd, sizeof(g.ztd), "%s/ztd", top);
	snprintf(g.ztctl, sizeof(g.ztctl), "%s/ztctl", top);
	if (g.module[0] != '/') {
		char cwd[PATH_MAX], copy[LINE_SIZE];

		if (getcwd(cwd, sizeof(cwd)) == NULL)
			die("getcwd");
		snprintf(copy, sizeof(copy), "%s", g.module);
		snprintf(g.module, sizeof(g.module), "%.120s/%.120s", cwd,
		    copy);
	}
	if ((pw = getpwnam("daemon")) == NULL)
		die("no account daemon");
	g.agent_uid = pw->pw_uid;

	snprintf(g.dir, sizeof(g.dir), "/tmp/zt-pam.XXXXXX");
	if (mkdtemp(g.dir) == NULL || chmod(g.dir, 0755) != 0)
		die("mkdtemp");
	snprintf(g.confdir, sizeof(g.confdir), "%s/pam.d", g.dir);
	if (mkdir(g.confdir, 0755) != 0)
		die(g.confdir);
	snprintf(g.sock, sizeof(g.sock), "%s/ztd.sock", g.dir);
	snprintf(g.log_sock, sizeof(g.log_sock), "%s/log.sock", g.dir);
	snprintf(g.agent_bin, sizeof(g.agent_bin), "%s/agent-bin", g.dir);
	if (run(NULL, 0, "cp /bin/sleep '%s' && chmod 0755 '%s'",
	    g.agent_bin, g.agent_bin) != 0)
		die("cp");

	g.log = calloc(1, LOG_MAX);
	if (g.log == NULL)
		die("calloc");
	if (strlen(g.log_sock) >= sizeof(addr.sun_path))
		die("log socket path");
	memcpy(addr.sun_path, g.log_sock, strlen(g.log_sock) + 1);
	g.log_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (g.log_fd < 0 ||
	    bind(g.log_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("log socket");
	{
		int size = 4 * 1024 * 1024;

		setsockopt(g.log_fd, SOL_SOCKET, SO_RCVBUF, &size,
		    sizeof(size));
	}

	snprintf(config, sizeof(config), "%s/ztd.conf", g.dir);
	snprintf(statedir, sizeof(statedir), "%s/state", g.dir);
	write_config(config, statedir, "mode = \"software\";");
	g.ztd_pid = start_ztd(config, g.sock);

	/* The stacks every test uses; "other", as every pam.d has it (else
	 * libpam logs its absence at each pam_start). */
	service("other", "auth required pam_deny.so\n"
	    "account required pam_deny.so\n"
	    "session required pam_deny.so\n");
	agent_service("");
	service("zt-other",
	    "account [success=ok ignore=ignore default=die] %s socket=%s\n"
	    "account required pam_permit.so\n"
	    "session [success=ok ignore=ignore default=die] %s socket=%s\n"
	    "session required pam_permit.so\n",
	    g.module, g.sock, g.module, g.sock);
	return 0;
}

static int
teardown_all(void **state)
{
	(void)state;
	stop_pid(g.ztd_pid);
	stop_pid(g.own_pid);	/* a test that failed before stopping it */
	if (g.log_fd >= 0)
		close(g.log_fd);
	free(g.log);
	if (getenv("ZT_KEEP") == NULL && g.dir[0] != '\0')
		run(NULL, 0, "rm -rf '%s'", g.dir);
	return 0;
}

/* ------------------------------------------------------------- tests */

/* allow: account, then a session whose grant ztd lists and ends. */
static void
test_allow_session_grant(void **state)
{
	char grant[33];
	pam_handle_t *pamh;
	int rc;

	(void)state;
	assert_int_equal(account("zt-agent", "daemon"), PAM_SUCCESS);

	pamh = pam_begin("zt-agent", "daemon");
	assert_int_equal(pam_open_session(pamh, PAM_SILENT), PAM_SUCCESS);
	grant_of(pamh, grant);
	assert_int_equal(strlen(grant), 32);
	assert_true(grant_listed(grant));
	assert_int_equal(ztctl_check_grant(grant), 0);
	rc = pam_close_session(pamh, PAM_SILENT);
	assert_int_equal(rc, PAM_SUCCESS);
	assert_null(pam_getenv(pamh, "ZT_GRANT"));
	pam_end(pamh, rc);
	assert_false(grant_listed(grant));
	assert_int_equal(ztctl_check_grant(grant), 1);

	/* The decision was audited with the service and the account. */
	assert_true(log_has("decision=allow action=session "
	    "agent=\"worker\" account=\"daemon\""));
	assert_true(log_has("object=\"zt-agent\""));
}

/* auth never grants by itself: an allow is PAM_IGNORE. */
static void
test_auth_never_grants(void **state)
{
	const char *argv[] = { NULL };
	char option[LINE_SIZE];
	pam_handle_t *pamh;

	(void)state;
	snprintf(option, sizeof(option), "socket=%s", g.sock);
	argv[0] = option;
	pamh = pam_begin("zt-agent", "daemon");
	assert_int_equal(module_call("pam_sm_authenticate", pamh, 1, argv),
	    PAM_IGNORE);
	assert_int_equal(module_call("pam_sm_setcred", pamh, 1, argv),
	    PAM_IGNORE);
	pam_end(pamh, PAM_SUCCESS);
	pamh = pam_begin("zt-other", "daemon");
	assert_int_equal(module_call("pam_sm_authenticate", pamh, 1, argv),
	    PAM_PERM_DENIED);
	pam_end(pamh, PAM_SUCCESS);

	/* "auth sufficient pam_zt.so" followed by pam_deny: still denied. */
	service("zt-auth", "auth sufficient %s socket=%s\n"
	    "auth required pam_deny.so\n", g.module, g.sock);
	pamh = pam_begin("zt-auth", "daemon");
	assert_int_equal(pam_authenticate(pamh, PAM_SILENT), PAM_AUTH_ERR);
	pam_end(pamh, PAM_AUTH_ERR);
}

/* deny: the agent's account may not use this PAM service. */
static void
test_deny_service(void **state)
{
	pam_handle_t *pamh;

	(void)state;
	assert_int_equal(account("zt-other", "daemon"), PAM_PERM_DENIED);
	pamh = pam_begin("zt-other", "daemon");
	assert_int_equal(pam_open_session(pamh, PAM_SILENT), PAM_PERM_DENIED);
	assert_null(pam_getenv(pamh, "ZT_GRANT"));
	pam_end(pamh, PAM_PERM_DENIED);
	assert_true(log_has("decision=deny action=session "
	    "agent=\"worker\""));
}

/* deny: the agent's binary no longer has its pinned digest. */
static void
test_deny_binary_changed(void **state)
{
	char saved[LINE_SIZE];
	int rc;

	(void)state;
	snprintf(saved, sizeof(saved), "%s.orig", g.agent_bin);
	assert_int_equal(run(NULL, 0, "cp -p '%s' '%s' && printf x >>'%s'",
	    g.agent_bin, saved, g.agent_bin), 0);
	rc = account("zt-agent", "daemon");
	assert_int_equal(run(NULL, 0, "cp '%s' '%s'", saved, g.agent_bin), 0);
	assert_int_equal(rc, PAM_PERM_DENIED);
	/* restored: allowed again */
	assert_int_equal(account("zt-agent", "daemon"), PAM_SUCCESS);
}

/* deny: the host's attestation cannot be trusted (no golden values). */
static void
test_deny_attestation(void **state)
{
	char config[LINE_SIZE], statedir[LINE_SIZE], sock[LINE_SIZE];
	char measured[PATH_SIZE], attestation[3 * LINE_SIZE];
	pam_handle_t *pamh;
	pid_t pid;
	int rc;

	(void)state;
	snprintf(config, sizeof(config), "%s/ztd-untrusted.conf", g.dir);
	snprintf(statedir, sizeof(statedir), "%s/state-untrusted", g.dir);
	snprintf(sock, sizeof(sock), "%s/untrusted.sock", g.dir);
	snprintf(measured, sizeof(measured), "%s/measured", g.dir);
	write_file(measured, 0644, "kernel\n");
	snprintf(attestation, sizeof(attestation), "mode = \"software\"; "
	    "files = [\"%s\"]; golden = \"%s/golden\";", measured, statedir);
	write_config(config, statedir, attestation);
	pid = start_ztd(config, sock);
	/* the same service name, now pointing at the untrusted ztd */
	service("zt-agent", "account [success=ok ignore=ignore default=die] "
	    "%s socket=%s\naccount required pam_permit.so\n"
	    "session [success=ok ignore=ignore default=die] %s socket=%s\n"
	    "session required pam_permit.so\n", g.module, sock, g.module,
	    sock);
	rc = account("zt-agent", "daemon");
	pamh = pam_begin("zt-agent", "daemon");
	assert_int_equal(pam_open_session(pamh, PAM_SILENT), PAM_PERM_DENIED);
	pam_end(pamh, PAM_PERM_DENIED);
	stop_pid(pid);
	agent_service("");
	assert_int_equal(rc, PAM_PERM_DENIED);
	assert_true(log_has("host untrusted"));
}

/*
 * A session that has no ZT_GRANT logs no error: the module removes the
 * variable only when it is set (libpam logs "delete non-existent entry"
 * otherwise), for agents and for every other account.
 */
static void
test_session_logs_no_putenv_error(void **state)
{
	pam_handle_t *pamh;
	int rc;

	(void)state;
	pam_logged[0] = '\0';
	pamh = pam_begin("zt-agent", "daemon");
	assert_int_equal(pam_open_session(pamh, PAM_SILENT), PAM_SUCCESS);
	rc = pam_close_session(pamh, PAM_SILENT);
	assert_int_equal(rc, PAM_SUCCESS);
	assert_null(pam_getenv(pamh, "ZT_GRANT"));
	pam_end(pamh, rc);
	pamh = pam_begin("zt-agent", "root");
	rc = pam_open_session(pamh, PAM_SILENT);
	pam_close_session(pamh, PAM_SILENT);
	pam_end(pamh, rc);
	if (strstr(pam_logged, "non-existent") != NULL)
		fail_msg("libpam logged: %s", pam_logged);
}

/* Not an agent's account: the module ignores it, the stack decides. */
static void
test_not_agent(void **state)
{
	const char *argv[1];
	char option[LINE_SIZE];
	pam_handle_t *pamh;

	(void)state;
	snprintf(option, sizeof(option), "socket=%s", g.sock);
	argv[0] = option;
	assert_int_equal(account("zt-agent", "root"), PAM_SUCCESS);
	assert_int_equal(account("zt-other", "root"), PAM_SUCCESS);
	pamh = pam_begin("zt-agent", "root");
	assert_int_equal(module_call("pam_sm_acct_mgmt", pamh, 1, argv),
	    PAM_IGNORE);
	assert_int_equal(module_call("pam_sm_open_session", pamh, 1, argv),
	    PAM_IGNORE);
	assert_null(pam_getenv(pamh, "ZT_GRANT"));
	assert_int_equal(module_call("pam_sm_close_session", pamh, 1, argv),
	    PAM_IGNORE);
	pam_end(pamh, PAM_SUCCESS);
	/* while the agent's account, through the same file, is denied */
	assert_int_equal(account("zt-other", "daemon"), PAM_PERM_DENIED);
}

/* No ztd at the socket path: PAM_AUTHINFO_UNAVAIL, never success. */
static void
test_ztd_absent(void **state)
{
	pam_handle_t *pamh;

	(void)state;
	service("zt-absent",
	    "account [success=ok ignore=ignore default=die] %s "
	    "socket=%s/nobody.sock\naccount required pam_permit.so\n"
	    "session [success=ok ignore=ignore default=die] %s "
	    "socket=%s/nobody.sock\nsession required pam_permit.so\n",
	    g.module, g.dir, g.module, g.dir);
	assert_int_equal(account("zt-absent", "daemon"),
	    PAM_AUTHINFO_UNAVAIL);
	/* even for root: the module cannot know it is not an agent's */
	assert_int_equal(account("zt-absent", "root"), PAM_AUTHINFO_UNAVAIL);
	pamh = pam_begin("zt-absent", "daemon");
	assert_int_equal(pam_open_session(pamh, PAM_SILENT),
	    PAM_AUTHINFO_UNAVAIL);
	pam_end(pamh, PAM_AUTHINFO_UNAVAIL);
}

/*
 * group=NAME while ztd cannot answer, in every hook that asks (auth,
 * account, session open), by the real /etc/passwd and /etc/group: with
 * group=daemon, daemon (primary group daemon) is refused, root (no member)
 * passes; with a group the files lack, both are refused (doubt).  Nothing
 * on the system is changed: daemon and its group are Debian's own.
 */
static int
hook_without_ztd(const char *service_name, const char *user, char hook)
{
	pam_handle_t *pamh = pam_begin(service_name, user);
	int rc;

	if (hook == 'a')
		rc = pam_authenticate(pamh, PAM_SILENT);
	else if (hook == 'm')
		rc = pam_acct_mgmt(pamh, PAM_SILENT);
	else if ((rc = pam_open_session(pamh, PAM_SILENT)) == PAM_SUCCESS)
		rc = pam_close_session(pamh, PAM_SILENT);
	pam_end(pamh, rc);
	return rc;
}

static void
test_ztd_absent_group(void **state)
{
	static const char hooks[] = "ams";
	struct group *daemon_group = getgrnam("daemon");
	struct passwd *daemon_user = getpwnam("daemon");
	char missing[64];

	(void)state;
	/* Precondition: daemon's primary group is daemon, root is no member. */
	assert_non_null(daemon_group);
	assert_non_null(daemon_user);
	assert_int_equal(daemon_user->pw_gid, daemon_group->gr_gid);
	for (char **m = daemon_group->gr_mem; *m != NULL; m++)
		assert_string_not_equal(*m, "root");
	snprintf(missing, sizeof(missing), "ztmiss%ld", (long)getpid());
	assert_null(getgrnam(missing));
	for (int with_missing = 0; with_missing <= 1; with_missing++) {
		const char *group = with_missing ? missing : "daemon";

		service("zt-absent-group",
		    "auth [success=ok ignore=ignore default=die] %s "
		    "socket=%s/nobody.sock group=%s\n"
		    "auth required pam_permit.so\n"
		    "account [success=ok ignore=ignore default=die] %s "
		    "socket=%s/nobody.sock group=%s\n"
		    "account required pam_permit.so\n"
		    "session [success=ok ignore=ignore default=die] %s "
		    "socket=%s/nobody.sock group=%s\n"
		    "session required pam_permit.so\n",
		    g.module, g.dir, group, g.module, g.dir, group,
		    g.module, g.dir, group);
		for (const char *h = hooks; *h != '\0'; h++) {
			int member = hook_without_ztd("zt-absent-group",
			    "daemon", *h);
			int other = hook_without_ztd("zt-absent-group",
			    "root", *h);

			if (member != PAM_AUTHINFO_UNAVAIL)
				fail_msg("group=%s, hook %c: daemon got %d, "
				    "want PAM_AUTHINFO_UNAVAIL", group, *h,
				    member);
			if (other != (with_missing ? PAM_AUTHINFO_UNAVAIL :
			    PAM_SUCCESS))
				fail_msg("group=%s, hook %c: root got %d",
				    group, *h, other);
		}
	}
}

/* Run one account check against a fake server in MODE; the result. */
static int
against_fake(enum fake_mode mode, const char *timeout, bool session,
    int64_t *elapsed_ms)
{
	char path[LINE_SIZE];
	pam_handle_t *pamh;
	int64_t start;
	pid_t pid;
	int rc;

	snprintf(path, sizeof(path), "%s/fake.sock", g.dir);
	pid = start_fake(path, mode);
	service("zt-fake",
	    "account [success=ok ignore=ignore default=die] %s socket=%s%s%s\n"
	    "account required pam_permit.so\n"
	    "session [success=ok ignore=ignore default=die] %s socket=%s%s%s\n"
	    "session required pam_permit.so\n",
	    g.module, path, timeout ? " timeout=" : "", timeout ? timeout : "",
	    g.module, path, timeout ? " timeout=" : "", timeout ? timeout : "");
	pamh = pam_begin("zt-fake", "daemon");
	start = now_ms();
	rc = session ? pam_open_session(pamh, PAM_SILENT) :
	    pam_acct_mgmt(pamh, PAM_SILENT);
	if (elapsed_ms != NULL)
		*elapsed_ms = now_ms() - start;
	pam_end(pamh, rc);
	stop_pid(pid);
	unlink(path);
	return rc;
}

/* A well-formed allow from the fake server is an allow: the framing works. */
static void
test_fake_control(void **state)
{
	(void)state;
	assert_int_equal(against_fake(FAKE_ALLOW, NULL, false, NULL),
	    PAM_SUCCESS);
	assert_int_equal(against_fake(FAKE_ALLOW, NULL, true, NULL),
	    PAM_SUCCESS);
	assert_int_equal(against_fake(FAKE_DENY_VALUE, NULL, false, NULL),
	    PAM_PERM_DENIED);
}

/* The same allow from a server that is not root: not ztd, refused. */
static void
test_peer_not_root(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(against_fake(FAKE_ALLOW, NULL, false, NULL),
	    PAM_SUCCESS);
	assert_int_equal(against_fake(FAKE_NOT_ROOT, NULL, false, NULL),
	    PAM_AUTHINFO_UNAVAIL);
	assert_int_equal(against_fake(FAKE_NOT_ROOT, NULL, true, NULL),
	    PAM_AUTHINFO_UNAVAIL);
}

/* ztd accepts but never answers: AUTHINFO_UNAVAIL within the timeout. */
static void
test_never_answers(void **state)
{
	int64_t elapsed;

	(void)state;
	assert_int_equal(against_fake(FAKE_SILENT, "300", false, &elapsed),
	    PAM_AUTHINFO_UNAVAIL);
	print_message("# no answer: %lld ms (timeout=300)\n",
	    (long long)elapsed);
	assert_in_range(elapsed, 300, 1000);
	assert_int_equal(against_fake(FAKE_SILENT, "300", true, &elapsed),
	    PAM_AUTHINFO_UNAVAIL);
	assert_in_range(elapsed, 300, 1000);
	/* a reply to another request id is no answer either */
	assert_int_equal(against_fake(FAKE_WRONG_ID, "300", false, &elapsed),
	    PAM_AUTHINFO_UNAVAIL);
	assert_in_range(elapsed, 300, 1000);
}

/* ztd gone mid-request (reads the request and hangs up). */
static void
test_killed_mid_request(void **state)
{
	int64_t elapsed;

	(void)state;
	assert_int_equal(against_fake(FAKE_CLOSE, "3000", false, &elapsed),
	    PAM_AUTHINFO_UNAVAIL);
	assert_in_range(elapsed, 0, 1000);
	assert_int_equal(against_fake(FAKE_CLOSE, "3000", true, NULL),
	    PAM_AUTHINFO_UNAVAIL);
}

/* The real ztd stopped (SIGSTOP) while asked, then killed. */
static void
test_real_ztd_stopped(void **state)
{
	char config[LINE_SIZE], sock[LINE_SIZE];
	pam_handle_t *pamh;
	int64_t start, elapsed;
	pid_t pid;
	int rc;

	(void)state;
	pid = own_ztd("stop", config, sock);
	service("zt-agent", "account [success=ok ignore=ignore default=die] "
	    "%s socket=%s timeout=300\naccount required pam_permit.so\n",
	    g.module, sock);
	assert_int_equal(account("zt-agent", "daemon"), PAM_SUCCESS);
	kill(pid, SIGSTOP);
	pamh = pam_begin("zt-agent", "daemon");
	start = now_ms();
	rc = pam_acct_mgmt(pamh, PAM_SILENT);
	elapsed = now_ms() - start;
	pam_end(pamh, rc);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_int_equal(account("zt-agent", "daemon"), PAM_AUTHINFO_UNAVAIL);
	agent_service("");
	assert_int_equal(rc, PAM_AUTHINFO_UNAVAIL);
	assert_in_range(elapsed, 300, 1000);
}

/*
 * The real ztd killed with the request in it: stopped (SIGSTOP), asked,
 * and killed once the module's connection is there (a socket more in
 * this process) and its request sent.  The hangup is a deny at once, long
 * before the module's timeout (60 s here): PAM_AUTHINFO_UNAVAIL.
 */
static void
test_real_ztd_killed_mid_request(void **state)
{
	char config[LINE_SIZE], sock[LINE_SIZE];
	int64_t start, elapsed;
	pid_t killer, parent = getpid();
	int before, rc;

	(void)state;
	g.own_pid = own_ztd("killed", config, sock);
	service("zt-agent", "account [success=ok ignore=ignore default=die] "
	    "%s socket=%s timeout=60000\naccount required pam_permit.so\n",
	    g.module, sock);
	/* Precondition: this ztd answers, allows, and its audit line is
	 * in (none of its lines may reach the tests that count them). */
	assert_int_equal(account("zt-agent", "daemon"), PAM_SUCCESS);
	for (int i = 0; i < 1000 && !logged_by(g.own_pid,
	    "decision=allow action=session"); i++)
		usleep(10000);
	assert_true(logged_by(g.own_pid, "decision=allow action=session"));
	before = sockets_open();
	kill(g.own_pid, SIGSTOP);
	killer = fork();
	if (killer < 0)
		die("fork");
	if (killer == 0) {
		/* up to 60 s for the connection, then 200 ms for the send */
		for (int i = 0; i < 6000 && sockets_of(parent) <= before; i++)
			usleep(10000);
		usleep(200000);
		_exit(kill(g.own_pid, SIGKILL) == 0 ? 0 : 1);
	}
	start = now_ms();
	rc = account("zt-agent", "daemon");
	elapsed = now_ms() - start;
	print_message("# ztd killed mid-request: %lld ms\n",
	    (long long)elapsed);
	{
		int status = -1;

		assert_int_equal(waitpid(killer, &status, 0), killer);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	waitpid(g.own_pid, NULL, 0);
	g.own_pid = -1;
	agent_service("");
	assert_int_equal(rc, PAM_AUTHINFO_UNAVAIL);
	/* by the hangup, not the timeout */
	assert_in_range(elapsed, 0, 59000);
}

/* Malformed replies are never an allow. */
static void
test_malformed_replies(void **state)
{
	static const enum fake_mode modes[] = {
		FAKE_TRUNCATED, FAKE_OVERSIZED, FAKE_VERSION, FAKE_TRAILING,
		FAKE_WRONG_TYPE,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(against_fake(modes[i], "1000", false, NULL),
		    PAM_AUTHINFO_UNAVAIL);
		assert_int_equal(against_fake(modes[i], "1000", true, NULL),
		    PAM_AUTHINFO_UNAVAIL);
	}
	/* an allow without a grant id cannot open a session */
	assert_int_equal(against_fake(FAKE_NO_GRANT, "1000", true, NULL),
	    PAM_AUTHINFO_UNAVAIL);
}

/*
 * What libpam logged for pam_zt since pam_logged was emptied (TESTING.md
 * items 1 and 4: "a clear error"): at least one message, each one line of
 * printable ASCII starting "pam_zt(" (a raw newline in a message would
 * start a line of its own, a forged one), at most MAX bytes, and one of
 * them holding WANT.
 */
static void
assert_logged_clean(const char *want, size_t max)
{
	const char *line = pam_logged;
	bool found = false;

	if (pam_logged[0] == '\0')
		fail_msg("nothing logged, want \"%s\"", want);
	while (*line != '\0') {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);

		if (strncmp(line, "pam_zt(", 7) != 0)
			fail_msg("a line not pam_zt's: %.*s", (int)len, line);
		if (len > max)
			fail_msg("a line of %zu bytes (at most %zu): %.80s...",
			    len, max, line);
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)line[i] < 0x20 ||
			    (unsigned char)line[i] > 0x7e)
				fail_msg("byte 0x%02x at %zu of: %.*s",
				    (unsigned char)line[i], i, (int)len, line);
		if (memmem(line, len, want, strlen(want)) != NULL)
			found = true;
		if (end == NULL)
			break;
		line = end + 1;
	}
	if (!found)
		fail_msg("no line holds \"%s\": %s", want, pam_logged);
}

/*
 * Hostile user names: 64 KiB, control characters, invalid UTF-8, format
 * directives: each refused, and said in one escaped line of bounded
 * length.  (An embedded NUL cannot reach a module: PAM's user is a C
 * string; the wire's strings are test_msg's.)
 */
static void
test_hostile_user_names(void **state)
{
	static const char *const names[] = {
		"daemon\n\rdecision=allow", "\xff\xfe\xc3(daemon", "daemon ",
		"%n%n%n%s",
	};
	size_t size = 64 * 1024;
	char *name = malloc(size + 1);

	(void)state;
	/* Precondition: the same stack allows the agent's real name, and
	 * says nothing of it. */
	pam_logged[0] = '\0';
	assert_int_equal(account("zt-agent", "daemon"), PAM_SUCCESS);
	assert_string_equal(pam_logged, "");
	assert_non_null(name);
	memset(name, 'a', size);
	name[size] = '\0';
	assert_int_equal(account("zt-agent", name), PAM_USER_UNKNOWN);
	assert_logged_clean("is too long", 300);
	pam_logged[0] = '\0';
	memset(name, '\x1b', 300);
	name[300] = '\0';
	assert_int_equal(account("zt-agent", name), PAM_USER_UNKNOWN);
	assert_logged_clean("is too long", 300);
	free(name);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		pam_logged[0] = '\0';
		assert_int_equal(account("zt-agent", names[i]),
		    PAM_USER_UNKNOWN);
		assert_logged_clean("no such account", 300);
	}
}

/* After drain_log: the lines of g.log holding both A and B. */
static size_t
lines_with(const char *a, const char *b)
{
	size_t n = 0;

	drain_log();
	for (const char *line = g.log; *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);

		if (memmem(line, len, a, strlen(a)) != NULL &&
		    memmem(line, len, b, strlen(b)) != NULL)
			n++;
		line += len + (end != NULL);
	}
	return n;
}

/* Control characters in PAM_RHOST and PAM_TTY: allowed, one audit line. */
static void
test_control_characters_in_items(void **state)
{
	char big[4096], grant[33];
	pam_handle_t *pamh;
	size_t evil, cut;
	const char *p;
	int rc;

	(void)state;
	/* This test's records are told apart by their rhost (others' may
	 * still be on their way): none yet. */
	assert_int_equal(lines_with("action=session", "rhost=evil"), 0);
	assert_int_equal(lines_with("action=session", "rhost=hhhh"), 0);
	memset(big, 'h', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pamh = pam_begin("zt-agent", "daemon");
	assert_int_equal(pam_set_item(pamh, PAM_RHOST,
	    "evil\nhost\r\x1b[2Jdecision=allow"), PAM_SUCCESS);
	assert_int_equal(pam_set_item(pamh, PAM_TTY, "tty\n\x7f\x01"),
	    PAM_SUCCESS);
	assert_int_equal(pam_open_session(pamh, PAM_SILENT), PAM_SUCCESS);
	grant_of(pamh, grant);
	assert_int_equal(strlen(grant), 32);
	rc = pam_close_session(pamh, PAM_SILENT);
	assert_int_equal(rc, PAM_SUCCESS);
	pam_end(pamh, rc);

	/* an item far over the bound still works (cut to 255 bytes) */
	pamh = pam_begin("zt-agent", "daemon");
	assert_int_equal(pam_set_item(pamh, PAM_RHOST, big), PAM_SUCCESS);
	assert_int_equal(pam_acct_mgmt(pamh, PAM_SILENT), PAM_SUCCESS);
	pam_end(pamh, PAM_SUCCESS);

	/* One record for the session, one for the account check: waited
	 * for (records reach the log through ztd's relay, late on a busy
	 * machine), then a pause in which no second one of either came. */
	for (int i = 0; i < 1000 && (lines_with("action=session",
	    "rhost=evil") < 1 || lines_with("action=session",
	    "rhost=hhhh") < 1); i++)
		usleep(10000);
	usleep(100000);
	evil = lines_with("action=session", "rhost=evil");
	cut = lines_with("action=session", "rhost=hhhh");
	assert_int_equal(evil, 1);
	assert_int_equal(cut, 1);
	/* no datagram carried a raw control character or the forged field */
	for (p = g.log; *p != '\0'; p++)
		assert_true(*p == '\n' || (unsigned char)*p >= 0x20);
	assert_null(strstr(g.log, "\nhost"));
}

/* Unknown or malformed options: PAM_SERVICE_ERR, never success. */
static void
test_bad_options(void **state)
{
	static const char *const options[] = {
		"nosuchoption", "timeout=0", "timeout=60001", "timeout=-5",
		"timeout=12x", "timeout=", "socket=relative.sock", "socket=",
		"debug=1", "DEBUG", "group=", "group=1abc", "group=a:b",
		"group=a b", "group=abcdefghijklmnopqrstuvwxyz0123456",
	};
	const char *argv[2];
	char option[LINE_SIZE];
	pam_handle_t *pamh;
	int rc;

	(void)state;
	/* Precondition: the stack without the bad option allows, quietly. */
	pam_logged[0] = '\0';
	assert_int_equal(account("zt-agent", "daemon"), PAM_SUCCESS);
	assert_string_equal(pam_logged, "");
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		const char *word = strrchr(options[i], ' ');
		char said[LINE_SIZE];

		service("zt-badopt",
		    "account [success=ok ignore=ignore default=die] %s "
		    "socket=%s %s\naccount required pam_permit.so\n",
		    g.module, g.sock, options[i]);
		/* Logged, naming the option as written (none has a byte
		 * to escape); PAM splits "group=a b" into group=a, a good
		 * one, and b, the one named. */
		snprintf(said, sizeof(said), "option \"%s\": ",
		    word != NULL ? word + 1 : options[i]);
		pam_logged[0] = '\0';
		assert_int_equal(account("zt-badopt", "daemon"),
		    PAM_SERVICE_ERR);
		assert_logged_clean(said, 300);
		pam_logged[0] = '\0';
		assert_int_equal(account("zt-badopt", "root"),
		    PAM_SERVICE_ERR);
		assert_logged_clean(said, 300);
	}
	snprintf(option, sizeof(option), "socket=%s", g.sock);
	argv[0] = option;
	argv[1] = "bogus";
	pamh = pam_begin("zt-agent", "daemon");
	assert_int_equal(module_call("pam_sm_acct_mgmt", pamh, 2, argv),
	    PAM_SERVICE_ERR);
	assert_int_equal(module_call("pam_sm_open_session", pamh, 2, argv),
	    PAM_SERVICE_ERR);
	assert_int_equal(module_call("pam_sm_close_session", pamh, 2, argv),
	    PAM_SERVICE_ERR);
	assert_int_equal(module_call("pam_sm_authenticate", pamh, 2, argv),
	    PAM_SERVICE_ERR);
	pam_end(pamh, PAM_SUCCESS);
	/* good options with debug and a timeout are accepted */
	agent_service(" timeout=60000 debug");
	rc = account("zt-agent", "daemon");
	agent_service("");
	assert_int_equal(rc, PAM_SUCCESS);
}

/* The calling process's environment changes nothing. */
static void
test_hostile_environment(void **state)
{
	char grant[33], other[33];
	const char *argv[1];
	char option[LINE_SIZE];
	pam_handle_t *pamh, *second;
	struct stat st;

	(void)state;
	snprintf(option, sizeof(option), "socket=%s", g.sock);
	argv[0] = option;
	/* a live grant, held by its own handle */
	pamh = pam_begin("zt-agent", "daemon");
	assert_int_equal(pam_open_session(pamh, PAM_SILENT), PAM_SUCCESS);
	grant_of(pamh, grant);
	assert_int_equal(strlen(grant), 32);

	setenv("ZT_GRANT", grant, 1);
	setenv("LD_PRELOAD", "/nonexistent/lib.so", 1);
	setenv("ZT_SOCKET", "/nonexistent/ztd.sock", 1);
	setenv("ZTD_SOCKET", "/nonexistent/ztd.sock", 1);
	setenv("ZT_PAM_TIMEOUT", "1", 1);
	setenv("ZT_CONFIG", "/nonexistent/ztd.conf", 1);

	/* still allowed, through the socket option only */
	assert_int_equal(account("zt-agent", "daemon"), PAM_SUCCESS);
	/* closing a fresh handle does not take ZT_GRANT from getenv() */
	second = pam_begin("zt-agent", "daemon");
	assert_int_equal(module_call("pam_sm_close_session", second, 1, argv),
	    PAM_IGNORE);
	pam_end(second, PAM_SUCCESS);
	assert_true(grant_listed(grant));
	/* a session opened now gets its own grant, not the environment's */
	second = pam_begin("zt-agent", "daemon");
	assert_int_equal(pam_open_session(second, PAM_SILENT), PAM_SUCCESS);
	grant_of(second, other);
	assert_int_equal(strlen(other), 32);
	assert_string_not_equal(other, grant);
	assert_int_equal(pam_close_session(second, PAM_SILENT), PAM_SUCCESS);
	pam_end(second, PAM_SUCCESS);
	assert_true(grant_listed(grant));
	/* ZT_SOCKET does not lead the default socket to our ztd */
	if (stat("/run/zt/ztd.sock", &st) != 0) {
		setenv("ZT_SOCKET", g.sock, 1);
		setenv("ZTD_SOCKET", g.sock, 1);
		service("zt-default", "account [success=ok ignore=ignore "
		    "default=die] %s\naccount required pam_permit.so\n",
		    g.module);
		assert_int_equal(account("zt-default", "daemon"),
		    PAM_AUTHINFO_UNAVAIL);
	}
	unsetenv("ZT_GRANT");
	unsetenv("LD_PRELOAD");
	unsetenv("ZT_SOCKET");
	unsetenv("ZTD_SOCKET");
	unsetenv("ZT_PAM_TIMEOUT");
	unsetenv("ZT_CONFIG");

	/* a handle that opened nothing ends no grant, whatever ZT_GRANT its
	 * PAM environment holds */
	second = pam_begin("zt-agent", "daemon");
	snprintf(option, sizeof(option), "ZT_GRANT=%s", grant);
	assert_int_equal(pam_putenv(second, option), PAM_SUCCESS);
	assert_int_equal(pam_close_session(second, PAM_SILENT), PAM_SUCCESS);
	pam_end(second, PAM_SUCCESS);
	assert_true(grant_listed(grant));

	/* a ZT_GRANT planted in the PAM environment before open is dropped */
	second = pam_begin("zt-agent", "root");
	snprintf(option, sizeof(option), "ZT_GRANT=%s", grant);
	assert_int_equal(pam_putenv(second, option), PAM_SUCCESS);
	assert_int_equal(pam_open_session(second, PAM_SILENT), PAM_SUCCESS);
	assert_null(pam_getenv(second, "ZT_GRANT"));
	assert_int_equal(pam_close_session(second, PAM_SILENT), PAM_SUCCESS);
	pam_end(second, PAM_SUCCESS);
	assert_true(grant_listed(grant));

	assert_int_equal(pam_close_session(pamh, PAM_SILENT), PAM_SUCCESS);
	pam_end(pamh, PAM_SUCCESS);
	assert_false(grant_listed(grant));
}

/* A grant revoked behind the session's back: close reports it, no crash. */
static void
test_close_after_revoke(void **state)
{
	char grant[33];
	pam_handle_t *pamh;
	int rc;

	(void)state;
	pamh = pam_begin("zt-agent", "daemon");
	assert_int_equal(pam_open_session(pamh, PAM_SILENT), PAM_SUCCESS);
	grant_of(pamh, grant);
	assert_int_equal(run(NULL, 0, "'%s' --socket '%s' revoke %s >/dev/null",
	    g.ztctl, g.sock, grant), 0);
	assert_false(grant_listed(grant));
	rc = pam_close_session(pamh, PAM_SILENT);
	assert_int_not_equal(rc, PAM_SUCCESS);
	pam_end(pamh, rc);
}

/*
 * One connection to ztd per PAM handle: kept from auth to account to
 * session open and close, yet each call asks for its own decision; a ztd
 * restarted in between is met by one reconnect and the call decided by
 * the new ztd (a grant the old one made is no grant of the new one: the
 * close is refused); a ztd gone for good is a deny.
 */
static void
test_connection_kept_across_restart(void **state)
{
	char config[LINE_SIZE], sock[LINE_SIZE], grant[33];
	pam_handle_t *pamh;
	int before, rc;

	(void)state;
	g.own_pid = own_ztd("restart", config, sock);
	service("zt-agent",
	    "auth [success=ok ignore=ignore default=die] %s socket=%s\n"
	    "auth required pam_permit.so\n"
	    "account [success=ok ignore=ignore default=die] %s socket=%s\n"
	    "account required pam_permit.so\n"
	    "session [success=ok ignore=ignore default=die] %s socket=%s\n"
	    "session required pam_permit.so\n",
	    g.module, sock, g.module, sock, g.module, sock);
	before = sockets_open();

	pamh = pam_begin("zt-agent", "daemon");
	assert_int_equal(pam_authenticate(pamh, PAM_SILENT), PAM_SUCCESS);
	assert_int_equal(sockets_open(), before + 1);
	assert_int_equal(pam_acct_mgmt(pamh, PAM_SILENT), PAM_SUCCESS);
	assert_int_equal(sockets_open(), before + 1);	/* the same one */
	drain_log();
	g.log_used = 0;
	g.log[0] = '\0';

	/* Restarted between account and session: decided by the new ztd. */
	stop_pid(g.own_pid);
	g.own_pid = start_ztd(config, sock);
	assert_int_equal(pam_open_session(pamh, PAM_SILENT), PAM_SUCCESS);
	grant_of(pamh, grant);
	assert_int_equal(strlen(grant), 32);
	assert_int_equal(grant_supervisor(sock, grant), (long)getpid());
	assert_int_equal(sockets_open(), before + 1);
	assert_true(log_has("decision=allow action=session "
	    "agent=\"worker\" account=\"daemon\""));

	/* Restarted with the session open: the new ztd has no such grant,
	 * so the close is refused (never a success it did not give). */
	stop_pid(g.own_pid);
	g.own_pid = start_ztd(config, sock);
	rc = pam_close_session(pamh, PAM_SILENT);
	assert_int_equal(rc, PAM_SESSION_ERR);
	pam_end(pamh, rc);
	assert_int_equal(sockets_open(), before);

	/* Gone for good between account and session: denied. */
	pamh = pam_begin("zt-agent", "daemon");
	assert_int_equal(pam_acct_mgmt(pamh, PAM_SILENT), PAM_SUCCESS);
	stop_pid(g.own_pid);
	g.own_pid = -1;
	rc = pam_open_session(pamh, PAM_SILENT);
	pam_end(pamh, rc);
	assert_int_equal(rc, PAM_AUTHINFO_UNAVAIL);
	assert_int_equal(sockets_open(), before);
	agent_service("");
}

/*
 * A fork between calls (sshd's privilege separation) never inherits the
 * parent's connection (root's, to ztd: a child that drops to the user's
 * uid must not hold it): it is closed in the child at the fork, the
 * child's session is its own, supervised by the child, and the parent's
 * connection still serves the parent.
 */
static void
test_fork_gets_own_connection(void **state)
{
	char grant[33], child_grant[33] = "", inherited = 'x';
	int to_parent[2], to_child[2], status, rc, before;
	pam_handle_t *pamh;
	ssize_t n;
	pid_t child;

	(void)state;
	before = sockets_open();
	pamh = pam_begin("zt-agent", "daemon");
	assert_int_equal(pam_acct_mgmt(pamh, PAM_SILENT), PAM_SUCCESS);
	assert_int_equal(sockets_open(), before + 1);	/* kept */
	assert_true(module_mapped());
	if (pipe(to_parent) != 0 || pipe(to_child) != 0)
		die("pipe");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		char go;

		/* Is the parent's connection still open here? */
		inherited = sockets_open() == before ? 'n' : 'y';
		close(to_parent[0]);
		close(to_child[1]);
		rc = pam_open_session(pamh, PAM_SILENT);
		grant_of(pamh, grant);
		if (rc != PAM_SUCCESS)
			grant[0] = '\0';
		if (write(to_parent[1], &inherited, 1) != 1 ||
		    write(to_parent[1], grant, sizeof(grant)) !=
		    (ssize_t)sizeof(grant) || read(to_child[0], &go, 1) != 1)
			_exit(2);
		rc = rc == PAM_SUCCESS ? pam_close_session(pamh, PAM_SILENT) :
		    rc;
		pam_end(pamh, rc);
		_exit(rc == PAM_SUCCESS ? 0 : 1);
	}
	close(to_parent[1]);
	close(to_child[0]);
	assert_int_equal(read(to_parent[0], &inherited, 1), 1);
	assert_int_equal(inherited, 'n');
	n = read(to_parent[0], child_grant, sizeof(child_grant));
	assert_int_equal(n, sizeof(child_grant));
	assert_int_equal(strlen(child_grant), 32);
	assert_int_equal(grant_supervisor(g.sock, child_grant), (long)child);

	/* The parent's own session, on its own connection. */
	assert_int_equal(pam_open_session(pamh, PAM_SILENT), PAM_SUCCESS);
	grant_of(pamh, grant);
	assert_int_equal(strlen(grant), 32);
	assert_string_not_equal(grant, child_grant);
	assert_int_equal(grant_supervisor(g.sock, grant), (long)getpid());
	rc = pam_close_session(pamh, PAM_SILENT);
	assert_int_equal(rc, PAM_SUCCESS);
	pam_end(pamh, rc);

	assert_int_equal(write(to_child[1], "x", 1), 1);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_false(grant_listed(child_grant));
	close(to_parent[0]);
	close(to_child[1]);

	/* The module stays loaded after its last handle (linked -z
	 * nodelete: loaded once per process), its fork handler with it, and
	 * holds no connection past the handle: a fork now is a plain fork. */
	assert_true(module_mapped());
	assert_int_equal(sockets_open(), before);
	child = fork();
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_session_grant),
		cmocka_unit_test(test_auth_never_grants),
		cmocka_unit_test(test_deny_service),
		cmocka_unit_test(test_deny_binary_changed),
		cmocka_unit_test(test_deny_attestation),
		cmocka_unit_test(test_not_agent),
		cmocka_unit_test(test_session_logs_no_putenv_error),
		cmocka_unit_test(test_ztd_absent),
		cmocka_unit_test(test_ztd_absent_group),
		cmocka_unit_test(test_fake_control),
		cmocka_unit_test(test_peer_not_root),
		cmocka_unit_test(test_never_answers),
		cmocka_unit_test(test_killed_mid_request),
		cmocka_unit_test(test_real_ztd_stopped),
		cmocka_unit_test(test_real_ztd_killed_mid_request),
		cmocka_unit_test(test_malformed_replies),
		cmocka_unit_test(test_hostile_user_names),
		cmocka_unit_test(test_control_characters_in_items),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_hostile_environment),
		cmocka_unit_test(test_close_after_revoke),
		cmocka_unit_test(test_connection_kept_across_restart),
		cmocka_unit_test(test_fork_gets_own_connection),
	};
	struct stat st;
	char module[LINE_SIZE];
	const char *top = getenv("top_builddir");
	const char *override = getenv("ZT_PAM_MODULE");

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (ztd answers root only)\n");
		return 0;
	}
	module_path(module, sizeof(module), top != NULL ? top : ".", override);
	if (stat(module, &st) != 0) {
		printf("1..0 # SKIP %s is not built\n", module);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("pam_zt", tests, setup_all,
	    teardown_all);
}

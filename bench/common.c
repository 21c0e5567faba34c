/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the benchmarks: time, processes, files, ztd. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int
compare_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

double
median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), compare_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void
sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
	    .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

void
settle(const char *path, int seconds, const volatile sig_atomic_t *stop)
{
	struct stat sb;
	struct timespec now;

	while ((stop == NULL || !*stop) && stat(path, &sb) == 0 &&
	    clock_gettime(CLOCK_REALTIME, &now) == 0 &&
	    now.tv_sec < sb.st_ctim.tv_sec + seconds)
		sleep_ms(100);
}

int
exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status);
}

int
parse_numbers(const char *line, double *v, int max)
{
	const char *p = line;
	char *end;
	int n = 0;

	for (; n < max; p = end) {
		double x = strtod(p, &end);

		if (end == p)
			break;
		v[n++] = x;
	}
	return n;
}

int
check_agent_bench(const char *who, const char *ztd_path, uid_t *uid,
    gid_t *gid)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		fprintf(stderr, "%s: skipped: needs root (runs the agent as "
		    "\"" AGENT_ACCOUNT "\")\n", who);
		return 77;
	}
	if ((pw = getpwnam(AGENT_ACCOUNT)) == NULL) {
		fprintf(stderr, "%s: skipped: no account \"" AGENT_ACCOUNT
		    "\" for the agent\n", who);
		return 77;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (access(ztd_path, X_OK) < 0) {
		fprintf(stderr, "%s: skipped: %s: %s (run from the build "
		    "directory, or pass ztd's path)\n", who, ztd_path,
		    strerror(errno));
		return 77;
	}
	return 0;
}

void
beside_ztd(const char *ztd_path, const char *name, char *out, size_t size)
{
	const char *slash = strrchr(ztd_path, '/');
	int n = slash != NULL ? (int)(slash - ztd_path + 1) : 0;

	snprintf(out, size, "%.*s%s", n, ztd_path, name);
}

void
find_zt_exec(const char *ztd_path, const char *given, char *out,
    size_t size)
{
	if (given != NULL) {
		snprintf(out, size, "%s", given);
		return;
	}
	beside_ztd(ztd_path, "seccomp/zt-exec", out, size);
	if (access(out, X_OK) < 0)
		beside_ztd(ztd_path, "zt-exec", out, size);
}

int
need_zt_exec(const char *who, const char *ztd_path, const char *given,
    char *out, size_t size)
{
	find_zt_exec(ztd_path, given, out, size);
	if (access(out, X_OK) < 0) {
		fprintf(stderr, "%s: skipped: %s: %s\n", who, out,
		    strerror(errno));
		return 77;
	}
	make_absolute(out, size);
	return 0;
}

void
catch_signals(void (*handler)(int))
{
	struct sigaction sa = { .sa_handler = handler };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int
zt_exec_argv(char **argv, char *zt_exec, char *ztd_socket, char *log_socket)
{
	int n = 0;

	argv[n++] = zt_exec;
	argv[n++] = "--socket";
	argv[n++] = ztd_socket;
	argv[n++] = "--syslog-socket";
	argv[n++] = log_socket;
	argv[n++] = "--";
	return n;
}

/* ------------------------------------------------------ processes */

int
start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t set, old;
	pthread_t own;
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	r = pthread_create(t != NULL ? t : &own, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0 && t == NULL)
		pthread_detach(own);
	return r == 0 ? 0 : -1;
}

void
child_setup(pid_t parent)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t none;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
}

void
drop_to_agent(const char *who, uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		fprintf(stderr, "%s: drop to " AGENT_ACCOUNT ": %s\n", who,
		    strerror(errno));
		_exit(126);
	}
}

int
reap_within(pid_t pid, long timeout_ms, long poll_ms,
    const volatile sig_atomic_t *stop, int *status)
{
	double deadline = now_us() + timeout_ms * 1e3;
	/* Woken by the exit itself (a pidfd is readable when the process
	 * ends), so the time measured ends at the exit, not at the next
	 * poll: polling every POLL_MS added up to that much to each figure
	 * (on average half of it), and woke the bench as often.  A signal
	 * (*STOP) ends the poll at once; POLL_MS is the fallback's period
	 * where pidfd_open fails. */
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), result = 0;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			result = -1;
			break;
		}
		if (*stop || now_us() > deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		if (pidfd >= 0) {
			struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

			poll(&pfd, 1, 100);
		} else
			sleep_ms(poll_ms);
	}
	if (pidfd >= 0)
		close(pidfd);
	return result;
}

/* ---------------------------------------------------------- files */

/* Run ARGV (a shadow tool) and wait: 0 when it exited 0. */
static int
run_tool(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int
supervisor_install(const char *who, const char *dir, char *zt_exec,
    size_t size, char group[32])
{
	char copy[PATH_MAX];
	char *add[] = { "groupadd", "--system", group, NULL };
	struct group *g;
	int r;

	snprintf(group, 32, "ztbench%d", (int)getpid());
	if (run_tool(add) < 0 || (g = getgrnam(group)) == NULL) {
		fprintf(stderr, "%s: groupadd %s failed\n", who, group);
		group[0] = '\0';
		return -1;
	}
	snprintf(copy, sizeof(copy), "%s/zt-exec", dir);
	/* chown clears the setgid bit: the mode comes after it. */
	if ((r = copy_file(zt_exec, copy, 0755)) < 0 ||
	    chown(copy, 0, g->gr_gid) < 0 || chmod(copy, 02755) < 0) {
		fprintf(stderr, "%s: %s: %s\n", who, copy,
		    strerror(r < 0 ? -r : errno));
		return -1;
	}
	snprintf(zt_exec, size, "%s", copy);
	return 0;
}

void
supervisor_remove(char group[32])
{
	char *del[] = { "groupdel", group, NULL };

	if (group[0] != '\0')
		run_tool(del);
	group[0] = '\0';
}

int
copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in, out, r = 0;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) < 0) {
		r = -errno;
		close(in);
		return r;
	}
	while (r == 0 && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			r = -errno;
			break;
		}
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));

			if (w < 0) {
				r = -errno;
				break;
			}
			done += w;
		}
	}
	if (r == 0 && fchmod(out, mode) < 0)
		r = -errno;
	if (close(out) < 0 && r == 0)
		r = -errno;
	close(in);
	return r;
}

/* The SHA-256 of PATH as 64 hex digits, by sha256sum(1). */
int
sha256_of(const char *path, char hex[65])
{
	char command[256];
	FILE *p;
	int ok;

	snprintf(command, sizeof(command), "sha256sum -- '%s'", path);
	if ((p = popen(command, "re")) == NULL)
		return -1;
	ok = fscanf(p, "%64s", hex) == 1 && strlen(hex) == 64 &&
	    strspn(hex, "0123456789abcdef") == 64;
	return pclose(p) == 0 && ok ? 0 : -1;
}

/* remove_tree()'s WHO, for remove_entry() (nftw(3) passes no argument). */
static const char *remove_who;

static int
remove_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) < 0)
		fprintf(stderr, "%s: remove %s: %s\n", remove_who, path,
		    strerror(errno));
	return 0;
}

void
remove_tree(const char *who, const char *dir)
{
	remove_who = who;
	if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		fprintf(stderr, "%s: cannot remove %s: %s\n", who, dir,
		    strerror(errno));
}

bool
find_program(const char *program, char *full, size_t size)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:"
	    "/usr/bin:/sbin:/bin";

	while (*path != '\0') {
		size_t n = strcspn(path, ":");

		snprintf(full, size, "%.*s/%s", (int)n, path, program);
		if (access(full, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

int
count_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return (int)sysconf(_SC_NPROCESSORS_ONLN);
	return CPU_COUNT(&set);
}

void
make_absolute(char *path, size_t size)
{
	char full[PATH_MAX];

	if (path[0] != '/' && realpath(path, full) != NULL)
		snprintf(path, size, "%s", full);
}

void
print_file_tail(const char *path, const char *title)
{
	char buf[TAIL_KEEP + 1];
	ssize_t n;
	off_t size;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > TAIL_KEEP ? size - TAIL_KEEP : 0, SEEK_SET);
	if ((n = read(fd, buf, TAIL_KEEP)) > 0) {
		buf[n] = '\0';
		fprintf(stderr, "%s:\n%s\n", title, buf);
	}
	close(fd);
}

/* -------------------------------------------------------- sockets */

int
listen_loopback(int backlog, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, backlog) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

void *
run_accept_close(void *arg)
{
	int fd = *(int *)arg;

	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0)
			close(c);
		else if (errno != EINTR && errno != ECONNABORTED &&
		    errno != EMFILE && errno != ENFILE)
			return NULL;
	}
}

int
bind_log_socket(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (fd < 0)
		return -1;
	/* zt-exec, as the agent's account, may log there too. */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    chmod(path, 0666) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

void *
run_log_sink(void *sink)
{
	const struct log_sink *s = sink;
	char buf[8192];

	for (;;) {
		ssize_t n = recv(s->fd, buf, sizeof(buf) - 1, 0);

		if (n < 0 && errno != EINTR)
			return NULL;
		if (n <= 0)
			continue;
		buf[n] = '\0';
		s->line(buf);
	}
}

/* ------------------------------------------------------------ ztd */

bool
ztd_listening(const char *socket_path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool ok;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&addr,
	    sizeof(addr)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

int
start_ztd(const struct ztd_launch *z, pid_t *pid)
{
	int status;

	fflush(NULL);
	if ((*pid = fork()) < 0) {
		*pid = 0;
		return -1;
	}
	if (*pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int err = open(z->err_path, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0600);

		child_setup(z->parent);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		if (err >= 0) {
			dup2(err, STDOUT_FILENO);
			dup2(err, STDERR_FILENO);
		}
		execl(z->path, "ztd", "--foreground", "--config", z->config,
		    "--socket", z->socket, "--syslog-socket", z->log_socket,
		    (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", z->path, strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < 1000 && !*z->stop; i++) {
		if (waitpid(*pid, &status, WNOHANG) == *pid) {
			fprintf(stderr, "%s: ztd exited at start\n", z->who);
			*pid = 0;
			return -1;
		}
		if (ztd_listening(z->socket))
			return 0;
		sleep_ms(10);
	}
	fprintf(stderr, "%s: ztd did not answer on %s\n", z->who, z->socket);
	return -1;
}

bool
figure_wanted(const char *figure)
{
	const char *list = getenv("BENCH_FIGURES");
	size_t len = strlen(figure);

	if (list == NULL || list[0] == '\0')
		return true;
	for (const char *p = list; *p != '\0'; p += strcspn(p, ",")) {
		p += *p == ',';
		if (strncmp(p, figure, len) == 0 &&
		    (p[len] == ',' || p[len] == '\0'))
			return true;
	}
	return false;
}

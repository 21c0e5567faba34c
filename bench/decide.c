/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark: ztd decisions over the real socket against a bare echo server. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zt_client.h"
#include "zt_err.h"
#include "zt_msg.h"

#define RUN_SECONDS 1.0
#define SAMPLES_MAX 400000	/* latencies kept per client */
#define CLIENTS_MAX 16

enum mode { ECHO, CACHED, UNCACHED };

static char dir[64], ztd_sock[128], echo_sock[128], log_sock[128];
static pid_t ztd_pid = -1;

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A datagram sink standing in for syslog, and a SEQPACKET echo server. */
static void *
sink(void *arg)
{
	char buf[4096];
	int fd = *(int *)arg;

	for (;;)
		if (recv(fd, buf, sizeof(buf), 0) < 0 && errno != EINTR)
			return NULL;
}

static void *
echo_one(void *arg)
{
	char buf[ZT_MSG_MAX];
	int fd = (int)(intptr_t)arg;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		send(fd, buf, (size_t)n, MSG_NOSIGNAL);
	close(fd);
	return NULL;
}

static void *
echo_server(void *arg)
{
	int fd = *(int *)arg;

	for (;;) {
		pthread_t t;
		int c = accept(fd, NULL, NULL);

		if (c < 0)
			continue;
		pthread_create(&t, NULL, echo_one, (void *)(intptr_t)c);
		pthread_detach(t);
	}
	return NULL;
}

static int
bind_socket(const char *path, int type)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    (type == SOCK_SEQPACKET && listen(fd, 64) < 0)) {
		perror(path);
		exit(1);
	}
	return fd;
}

static int
call(int fd, struct zt_msg *request, struct zt_msg *reply)
{
	int r = zt_client_call(fd, request, reply, 10000);

	if (r < 0) {
		fprintf(stderr, "decide: call: %s\n", zt_strerror(r));
		_exit(1);
	}
	return 0;
}

/* One client: a session (its own grant), then requests for RUN_SECONDS. */
static void
client(enum mode mode, int id, double *samples, size_t *count)
{
	struct zt_msg request, reply;
	char grant[40] = "", object[64];
	uint32_t rid = 1, decision;
	const char *g;
	double end;
	size_t n = 0;
	int fd = zt_client_connect(mode == ECHO ? echo_sock : ztd_sock);

	if (fd < 0) {
		fprintf(stderr, "decide: connect: %s\n", zt_strerror(fd));
		_exit(1);
	}
	/* The echo client blocks in recv (ztd's calls poll with a deadline). */
	if (mode == ECHO)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (mode != ECHO) {
		zt_msg_init(&request, ZT_MSG_SESSION_OPEN, rid++);
		zt_msg_put_u32(&request, ZT_F_UID, 1);	/* daemon */
		zt_msg_put_str(&request, ZT_F_SERVICE, "zt-agent");
		call(fd, &request, &reply);
		if (zt_msg_get_str(&reply, ZT_F_GRANT, &g) < 0) {
			fprintf(stderr, "decide: no grant\n");
			_exit(1);
		}
		snprintf(grant, sizeof(grant), "%s", g);
	}
	end = now_us() + RUN_SECONDS * 1e6;
	for (unsigned i = 0; n < SAMPLES_MAX; i++) {
		double start;

		if (mode == UNCACHED)
			snprintf(object, sizeof(object), "tcp:10.%u.%u.%u:443",
			    id, (i >> 8) & 255, i & 255);
		else
			snprintf(object, sizeof(object), "tcp:10.0.0.1:443");
		zt_msg_init(&request, ZT_MSG_DECIDE, rid++);
		zt_msg_put_u32(&request, ZT_F_ACTION, 3);	/* connect */
		zt_msg_put_str(&request, ZT_F_OBJECT, object);
		zt_msg_put_str(&request, ZT_F_GRANT, mode == ECHO ?
		    "00000000000000000000000000000000" : grant);
		start = now_us();
		if (mode == ECHO) {
			uint8_t buf[ZT_MSG_MAX];

			send(fd, request.wire, request.size, MSG_NOSIGNAL);
			recv(fd, buf, sizeof(buf), 0);
		} else {
			call(fd, &request, &reply);
			if (zt_msg_get_u32(&reply, ZT_F_DECISION, &decision) < 0 ||
			    decision != ZT_DECISION_ALLOW) {
				fprintf(stderr, "decide: not allowed\n");
				_exit(1);
			}
		}
		samples[n++] = now_us() - start;
		if (samples[n - 1] + start > end)
			break;
	}
	*count = n;
	close(fd);
}

struct result {
	double p50, p99, rate;
};

static struct result
run(enum mode mode, int clients)
{
	size_t per = SAMPLES_MAX;
	double *all = mmap(NULL, sizeof(double) * per * clients + 4096,
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	size_t *counts = (size_t *)(all + per * clients), total = 0;
	double *merged, start = now_us(), seconds;
	struct result r;

	for (int c = 0; c < clients; c++)
		if (fork() == 0) {
			client(mode, c, all + per * c, &counts[c]);
			_exit(0);
		}
	for (int c = 0; c < clients; c++) {
		int status;

		wait(&status);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			exit(1);
	}
	seconds = (now_us() - start) / 1e6;
	merged = malloc(sizeof(double) * per * clients);
	for (int c = 0; c < clients; c++) {
		memcpy(merged + total, all + per * c, counts[c] * sizeof(double));
		total += counts[c];
	}
	qsort(merged, total, sizeof(double), compare);
	r.p50 = merged[total / 2];
	r.p99 = merged[total * 99 / 100];
	r.rate = total / (seconds > RUN_SECONDS ? RUN_SECONDS : seconds);
	free(merged);
	munmap(all, sizeof(double) * per * clients + 4096);
	return r;
}

static long
rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void
cleanup(void)
{
	char command[128];

	if (ztd_pid > 0) {
		kill(ztd_pid, SIGTERM);
		waitpid(ztd_pid, NULL, 0);
	}
	snprintf(command, sizeof(command), "rm -rf '%s'", dir);
	if (dir[0] != '\0' && system(command) != 0)
		fprintf(stderr, "decide: cannot remove %s\n", dir);
}

int
main(int argc, char **argv)
{
	const char *ztd = argc > 1 ? argv[1] : "./ztd";
	static const int counts[] = { 1, 4, 16 };
	char path[256], command[512];
	struct result echo[3];
	pthread_t t;
	FILE *f;
	int log_fd, echo_fd;

	if (geteuid() != 0) {
		fprintf(stderr, "decide: needs root (sessions are opened as "
		    "a PAM stack would)\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/zt-bench.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	chmod(dir, 0755);
	atexit(cleanup);
	snprintf(ztd_sock, sizeof(ztd_sock), "%s/ztd.sock", dir);
	snprintf(echo_sock, sizeof(echo_sock), "%s/echo.sock", dir);
	snprintf(log_sock, sizeof(log_sock), "%s/log.sock", dir);
	log_fd = bind_socket(log_sock, SOCK_DGRAM);
	echo_fd = bind_socket(echo_sock, SOCK_SEQPACKET);
	pthread_create(&t, NULL, sink, &log_fd);
	pthread_create(&t, NULL, echo_server, &echo_fd);

	snprintf(command, sizeof(command), "cp /bin/true %s/agent", dir);
	if (system(command) != 0)
		return 1;
	snprintf(path, sizeof(path), "%s/ztd.conf", dir);
	f = fopen(path, "w");
	snprintf(command, sizeof(command), "sha256sum %s/agent", dir);
	{
		FILE *p = popen(command, "r");
		char digest[65] = "";

		if (p == NULL || fscanf(p, "%64s", digest) != 1)
			return 1;
		pclose(p);
		fprintf(f, "ztd: { state_dir = \"%s/state\"; "
		    "cache: { max_entries = 65536; }; };\n"
		    "attestation: { mode = \"software\"; };\n"
		    "agents = ( { name = \"bench\"; accounts = [\"daemon\"];\n"
		    "  pam_services = [\"zt-agent\"]; binary = \"%s/agent\";\n"
		    "  sha256 = [\"%s\"]; session_ttl = 3600; "
		    "decision_ttl = 3600;\n"
		    "  network = ( { to = \"10.0.0.0/8\"; ports = \"1-65535\"; "
		    "proto = \"tcp\"; } ); } );\n", dir, dir, digest);
	}
	fclose(f);
	chmod(path, 0644);
	if ((ztd_pid = fork()) == 0) {
		/* ztd in the foreground echoes every line to stderr: not
		 * what is measured. */
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDERR_FILENO);
		execl(ztd, "ztd", "--foreground", "--config", path, "--socket",
		    ztd_sock, "--syslog-socket", log_sock, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && access(ztd_sock, F_OK) != 0; i++)
		usleep(50000);

	printf("# decide: %d-core machine, %.0f s per figure, audit lines to a "
	    "datagram sink, no audit file\n", (int)sysconf(_SC_NPROCESSORS_ONLN),
	    RUN_SECONDS);
	for (int i = 0; i < 3; i++) {
		echo[i] = run(ECHO, counts[i]);
		printf("bare SEQPACKET echo, %2d clients: p50 %.1f us, p99 %.1f us, "
		    "%.0f/s\n", counts[i], echo[i].p50, echo[i].p99,
		    echo[i].rate);
	}
	for (int m = CACHED; m <= UNCACHED; m++)
		for (int i = 0; i < 3; i++) {
			struct result r = run((enum mode)m, counts[i]);

			printf("decide %-8s %2d clients: p50 %.1f us (%.2fx echo), "
			    "p99 %.1f us (%.2fx), %.0f/s (%.2fx echo)\n",
			    m == CACHED ? "cached," : "uncached,", counts[i], r.p50,
			    r.p50 / echo[i].p50, r.p99, r.p99 / echo[i].p99,
			    r.rate, r.rate / echo[i].rate);
		}
	{
		long before = rss_kib(ztd_pid), after;
		struct zt_msg request, reply;
		uint64_t entries = 0;
		char grant[40], object[64];
		const char *g;
		int fd = zt_client_connect(ztd_sock);

		zt_msg_init(&request, ZT_MSG_SESSION_OPEN, 1);
		zt_msg_put_u32(&request, ZT_F_UID, 1);
		zt_msg_put_str(&request, ZT_F_SERVICE, "zt-agent");
		call(fd, &request, &reply);
		zt_msg_get_str(&reply, ZT_F_GRANT, &g);
		snprintf(grant, sizeof(grant), "%s", g);
		for (unsigned i = 0; i < 65536; i++) {
			snprintf(object, sizeof(object), "tcp:10.200.%u.%u:%u",
			    i >> 8, i & 255, 1000 + (i % 5000));
			zt_msg_init(&request, ZT_MSG_DECIDE, 2 + i);
			zt_msg_put_u32(&request, ZT_F_ACTION, 3);
			zt_msg_put_str(&request, ZT_F_OBJECT, object);
			zt_msg_put_str(&request, ZT_F_GRANT, grant);
			call(fd, &request, &reply);
		}
		zt_msg_init(&request, ZT_MSG_STATUS, 1 << 30);
		call(fd, &request, &reply);
		zt_msg_get_u64(&reply, ZT_F_CACHE_ENTRIES, &entries);
		after = rss_kib(ztd_pid);
		printf("ztd RSS with %llu cached entries: %.1f MiB (%.1f MiB "
		    "before filling: +%.1f MiB)\n", (unsigned long long)entries,
		    after / 1024.0, before / 1024.0, (after - before) / 1024.0);
		close(fd);
	}
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark: a PAM session cycle with pam_zt.so against pam_permit.so. */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "zt_exe.h"

#define CYCLES 500

static char dir[64];
static pid_t ztd_pid = -1;

static int
no_conversation(int n, const struct pam_message **m, struct pam_response **r,
    void *data)
{
	(void)n;
	(void)m;
	(void)r;
	(void)data;
	return PAM_CONV_ERR;
}

/* Drain ztd's syslog datagrams (one per decision). */
static void *
sink(void *arg)
{
	char buf[4096];
	int fd = *(int *)arg;

	for (;;)
		if (recv(fd, buf, sizeof(buf), 0) < 0)
			return NULL;
}

/* Median microseconds of CYCLES start/open/close/end cycles of SERVICE. */
static double
cycle(const char *service)
{
	static const struct pam_conv conv = { no_conversation, NULL };
	double t[CYCLES];

	for (int i = 0; i < CYCLES; i++) {
		pam_handle_t *h = NULL;
		double start = now_us();
		int r = pam_start_confdir(service, "daemon", &conv, dir, &h);

		if (r == PAM_SUCCESS)
			r = pam_open_session(h, 0);
		if (r == PAM_SUCCESS)
			r = pam_close_session(h, 0);
		pam_end(h, r);
		t[i] = now_us() - start;
		if (r != PAM_SUCCESS) {
			fprintf(stderr, "pam: %s: cycle failed: %d\n", service,
			    r);
			exit(1);
		}
	}
	return median(t, CYCLES);
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
		fprintf(stderr, "pam: cannot remove %s\n", dir);
}

int
main(int argc, char **argv)
{
	const char *ztd = argc > 1 ? argv[1] : "./ztd";
	const char *module = argc > 2 ? argv[2] : "pam_module/.libs/pam_zt.so";
	char path[256], sock[100], log[100], modpath[4096], digest[65] = "";
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	double with, without;
	pthread_t t;
	FILE *f, *p;
	int log_fd;

	if (geteuid() != 0) {
		fprintf(stderr, "pam: needs root (sessions as a PAM stack)\n");
		return 77;
	}
	if (realpath(module, modpath) == NULL) {
		perror(module);
		return 1;
	}
	snprintf(dir, sizeof(dir), "/tmp/zt-bench-pam.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	chmod(dir, 0755);
	atexit(cleanup);
	snprintf(sock, sizeof(sock), "%s/ztd.sock", dir);
	snprintf(log, sizeof(log), "%s/log.sock", dir);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", log);
	log_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (log_fd < 0 || bind(log_fd, (struct sockaddr *)&addr,
	    sizeof(addr)) < 0)
		return 1;
	pthread_create(&t, NULL, sink, &log_fd);

	snprintf(path, sizeof(path), "cp /bin/true %s/agent && sha256sum "
	    "%s/agent", dir, dir);
	if ((p = popen(path, "r")) == NULL || fscanf(p, "%64s", digest) != 1)
		return 1;
	pclose(p);
	/*
	 * An agent installed just now is hashed at every session: ztd caches
	 * a file's digest only once its last change is
	 * ZT_DIGEST_SETTLE_SECONDS old.  The figure is of an installed agent
	 * (its digest cached, as the attestation is).
	 */
	snprintf(path, sizeof(path), "%s/agent", dir);
	settle(path, ZT_DIGEST_SETTLE_SECONDS + 1, NULL);
	snprintf(path, sizeof(path), "%s/ztd.conf", dir);
	f = fopen(path, "w");
	fprintf(f, "ztd: { state_dir = \"%s/state\"; };\n"
	    "attestation: { mode = \"software\"; session_max_age = 3600; };\n"
	    "agents = ( { name = \"bench\"; accounts = [\"daemon\"];\n"
	    "  pam_services = [\"zt-bench\"]; binary = \"%s/agent\";\n"
	    "  sha256 = [\"%s\"]; } );\n", dir, dir, digest);
	fclose(f);
	chmod(path, 0644);
	if ((ztd_pid = fork()) == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDERR_FILENO);
		execl(ztd, "ztd", "--foreground", "--config", path, "--socket",
		    sock, "--syslog-socket", log, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && access(sock, F_OK) != 0; i++)
		usleep(50000);

	/* The same stack twice: pam_zt.so, and pam_permit.so in its place. */
	snprintf(path, sizeof(path), "%s/zt-bench", dir);
	f = fopen(path, "w");
	fprintf(f, "account [success=ok ignore=ignore default=die] %s "
	    "socket=%s\nsession [success=ok ignore=ignore default=die] %s "
	    "socket=%s\n", modpath, sock, modpath, sock);
	fclose(f);
	snprintf(path, sizeof(path), "%s/zt-permit", dir);
	f = fopen(path, "w");
	fprintf(f, "account required pam_permit.so\n"
	    "session required pam_permit.so\n");
	fclose(f);

	cycle("zt-bench");	/* warm-up: the first quote and digest */
	without = cycle("zt-permit");
	with = cycle("zt-bench");
	printf("# pam: %d start/open_session/close_session/end cycles each, "
	    "pam_start_confdir, software attestation cached\n", CYCLES);
	printf("pam cycle with pam_permit.so (baseline): %.1f us\n", without);
	printf("pam cycle with pam_zt.so (grant opened and closed by ztd): "
	    "%.1f us (%.2fx, +%.3f ms; goal <= +0.3 ms)\n", with,
	    with / without, (with - without) / 1000);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark: TPM quotes in-process, through ztd, by tpm2-tools, and sessions. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest_tpm.h"
#include "quote_verify.h"
#include "zt_client.h"
#include "zt_err.h"
#include "zt_msg.h"

#define QUOTES 200		/* in-process and ztd quotes */
#define QUOTE_BLOCKS 4		/* ... taking turns in this many blocks */
#define TOOL_QUOTES 30		/* tpm2_quote + tpm2_checkquote runs */
#define SESSIONS 200		/* session opens per figure */
#define SESSION_BLOCKS 8	/* ... of tpm-cached and software taking turns */
#define AK_HANDLE "0x81010001"	/* tpm2-tools' AK, persistent: no RM here */

static const unsigned pcrs[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 14 };
#define NPCRS (sizeof(pcrs) / sizeof(pcrs[0]))
#define PCR_LIST "0,1,2,3,4,5,6,7,8,9,11,14"

static char dir[64], ztd_sock[108], log_sock[108], tcti[64];
static char ztd_path[256], ztctl_path[512], conf_path[128];
static pid_t ztd_pid = -1, swtpm_pid = -1;
static int port;

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

static double
median(double *samples, size_t n)
{
	qsort(samples, n, sizeof(double), compare);
	return samples[n / 2];
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "attest: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Run a shell command in DIR, its output discarded; die if it fails. */
static void
run(const char *fmt, ...)
{
	char command[1024], full[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(command, sizeof(command), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd '%s' && { %s; } >/dev/null 2>&1", dir,
	    command);
	if (system(full) != 0)
		die("failed: %s", command);
}

static void
random_nonce(uint8_t nonce[32], char hex[65])
{
	if (getrandom(nonce, 32, 0) != 32)
		die("getrandom: %s", strerror(errno));
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", nonce[i]);
}

static int
port_free(int p)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	    .sin_port = htons((uint16_t)p) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	ok = fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void
start_swtpm(void)
{
	char path[128];
	FILE *f;

	port = 20000 + getpid() % 20000;
	while (!port_free(port) || !port_free(port + 1))
		port += 2;
	snprintf(tcti, sizeof(tcti), "swtpm:host=127.0.0.1,port=%d", port);
	setenv("TPM2TOOLS_TCTI", tcti, 1);
	run("mkdir tpm && swtpm socket --tpm2 --tpmstate dir=%s/tpm "
	    "--server type=tcp,port=%d --ctrl type=tcp,port=%d "
	    "--flags not-need-init,startup-clear --daemon "
	    "--pid file=%s/tpm/swtpm.pid", dir, port, port + 1, dir);
	snprintf(path, sizeof(path), "%s/tpm/swtpm.pid", dir);
	for (int i = 0; i < 100 && swtpm_pid <= 0; i++) {
		int pid;

		if ((f = fopen(path, "r")) != NULL) {
			if (fscanf(f, "%d", &pid) == 1)
				swtpm_pid = pid;
			fclose(f);
		}
		if (swtpm_pid <= 0)
			usleep(20000);
	}
	if (swtpm_pid <= 0)
		die("swtpm did not start");
}

static void
stop_ztd(void)
{
	if (ztd_pid > 0) {
		kill(ztd_pid, SIGTERM);
		waitpid(ztd_pid, NULL, 0);
		ztd_pid = -1;
	}
}

static void
cleanup(void)
{
	char command[128];

	stop_ztd();
	if (swtpm_pid > 0) {
		kill(swtpm_pid, SIGTERM);
		swtpm_pid = -1;
	}
	snprintf(command, sizeof(command), "rm -rf '%s'", dir);
	if (dir[0] != '\0' && system(command) != 0)
		fprintf(stderr, "attest: cannot remove %s\n", dir);
}

static void *
sink(void *arg)
{
	char buf[4096];
	int fd = *(int *)arg;

	for (;;)
		if (recv(fd, buf, sizeof(buf), 0) < 0 && errno != EINTR)
			return NULL;
}

static void
on_signal(int sig)
{
	(void)sig;
	exit(1);	/* runs cleanup */
}

/* (a) pcr_read + quote + verify with the project's own code, in-process:
 * N into SAMPLES. */
static void
in_process_quote(double *samples, int n)
{
	uint8_t spki[TPM_PUBLIC_MAX], pub[TPM_PUBLIC_MAX], nonce[32];
	size_t spki_len = sizeof(spki), pub_len = sizeof(pub);
	char why[TPM_REASON_MAX], qwhy[QUOTE_REASON_MAX], hex[65];
	struct quote_facts facts;
	const unsigned char *p = spki;
	struct tpm *tpm;
	EVP_PKEY *ak;
	int r;

	if ((r = tpm_open(tcti, &tpm, why)) < 0)
		die("tpm_open: %s", why);
	if (tpm_ak_public(tpm, spki, &spki_len, pub, &pub_len) < 0 ||
	    (ak = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL)
		die("cannot read the AK's public key");
	for (int i = 0; i < n; i++) {
		struct tpm_pcrs values;
		struct tpm_quote quote;
		enum quote_failure failure;
		double start = now_us();

		random_nonce(nonce, hex);
		if (tpm_pcr_read(tpm, pcrs, NPCRS, &values, why) < 0)
			die("tpm_pcr_read: %s", why);
		if (tpm_quote(tpm, nonce, pcrs, NPCRS, &quote, why) < 0)
			die("tpm_quote: %s", why);
		if (quote_verify(ak, quote.attest, quote.attest_len,
		    quote.signature, quote.signature_len, nonce, pcrs, NPCRS,
		    (const uint8_t (*)[32])values.value, i > 0 ? &facts : NULL,
		    &facts, &failure, qwhy) != 0)
			die("quote_verify: %s", qwhy);
		samples[i] = now_us() - start;
	}
	EVP_PKEY_free(ak);
	tpm_close(tpm);
}

/* (c) tpm2_quote + tpm2_checkquote as processes, AK made once. */
static double
tool_quote(void)
{
	static double samples[TOOL_QUOTES];
	uint8_t nonce[32];
	char hex[65];

	run("tpm2_createprimary -C e -G ecc256:ecdsa-sha256:null -a "
	    "'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|"
	    "restricted|sign' -c ak.ctx");
	run("tpm2_evictcontrol -C o -c ak.ctx " AK_HANDLE);
	run("tpm2_flushcontext -t");
	run("tpm2_readpublic -c " AK_HANDLE " -o ak.pub -f pem");
	for (int i = 0; i < TOOL_QUOTES; i++) {
		double start;

		random_nonce(nonce, hex);
		start = now_us();
		run("tpm2_quote -c " AK_HANDLE " -l sha256:" PCR_LIST
		    " -q %s -m msg -s sig -o pcrs -g sha256 && "
		    "tpm2_checkquote -u ak.pub -m msg -s sig -f pcrs "
		    "-g sha256 -q %s", hex, hex);
		samples[i] = now_us() - start;
	}
	run("tpm2_evictcontrol -C o -c " AK_HANDLE);
	return median(samples, TOOL_QUOTES);
}

static void
write_config(int tpm, unsigned session_max_age)
{
	char command[256], digest[65] = "";
	FILE *f, *p;

	snprintf(command, sizeof(command), "sha256sum %s/agent", dir);
	if ((p = popen(command, "r")) == NULL ||
	    fscanf(p, "%64s", digest) != 1)
		die("cannot hash the agent");
	pclose(p);
	if ((f = fopen(conf_path, "w")) == NULL)
		die("%s: %s", conf_path, strerror(errno));
	fprintf(f, "ztd: { state_dir = \"%s/state\"; };\n", dir);
	if (tpm)
		fprintf(f, "attestation: { mode = \"tpm\"; tcti = \"%s\";\n"
		    "  pcrs = [" PCR_LIST "];\n"
		    "  golden = \"%s/state/golden.pcrs\"; quote_interval = 3600;\n"
		    "  session_max_age = %u; };\n", tcti, dir, session_max_age);
	else
		fprintf(f, "attestation: { mode = \"software\"; files = [];\n"
		    "  session_max_age = %u; };\n", session_max_age);
	fprintf(f, "agents = ( { name = \"bench\"; accounts = [\"daemon\"];\n"
	    "  pam_services = [\"zt-agent\"]; binary = \"%s/agent\";\n"
	    "  sha256 = [\"%s\"]; session_ttl = 3600; decision_ttl = 3600;\n"
	    "  network = ( { to = \"10.0.0.0/8\"; ports = \"1-65535\"; "
	    "proto = \"tcp\"; } ); } );\n", dir, digest);
	fclose(f);
	chmod(conf_path, 0644);
}

static void
start_ztd(int tpm, unsigned session_max_age)
{
	stop_ztd();
	unlink(ztd_sock);
	write_config(tpm, session_max_age);
	if ((ztd_pid = fork()) == 0) {
		/* ztd in the foreground echoes every line to stderr: not
		 * what is measured. */
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDERR_FILENO);
		execl(ztd_path, "ztd", "--foreground", "--config", conf_path,
		    "--socket", ztd_sock, "--syslog-socket", log_sock,
		    (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && access(ztd_sock, F_OK) != 0; i++) {
		if (waitpid(ztd_pid, NULL, WNOHANG) == ztd_pid) {
			ztd_pid = -1;
			die("ztd exited at start (config %s)", conf_path);
		}
		usleep(25000);
	}
	if (access(ztd_sock, F_OK) != 0)
		die("ztd did not create %s", ztd_sock);
}

static void
call(int fd, struct zt_msg *request, struct zt_msg *reply)
{
	int r = zt_client_call(fd, request, reply, 10000);
	uint32_t decision;
	const char *reason = "";

	if (r < 0)
		die("call: %s", zt_strerror(r));
	if (zt_msg_get_u32(reply, ZT_F_DECISION, &decision) < 0 ||
	    decision != ZT_DECISION_ALLOW) {
		zt_msg_get_str(reply, ZT_F_REASON, &reason);
		die("%s not allowed: %s", zt_msg_type_name(request->type),
		    reason);
	}
}

static int
connect_ztd(void)
{
	int fd = zt_client_connect(ztd_sock);

	if (fd < 0)
		die("connect: %s", zt_strerror(fd));
	return fd;
}

/* (b) ATTEST requests: each one makes ztd quote and verify now: N into
 * SAMPLES. */
static void
ztd_quote(double *samples, int n)
{
	struct zt_msg request, reply;
	uint32_t rid = 1;
	int fd = connect_ztd();

	for (int i = -1; i < n; i++) {	/* one warm-up */
		double start;

		zt_msg_init(&request, ZT_MSG_ATTEST, rid++);
		start = now_us();
		call(fd, &request, &reply);
		if (i >= 0)
			samples[i] = now_us() - start;
	}
	close(fd);
}

/* (d) SESSION_OPEN timed, SESSION_CLOSE not: N into SAMPLES. */
static void
session_open(uid_t uid, double *samples, int n)
{
	struct zt_msg request, reply;
	uint32_t rid = 1;
	int fd = connect_ztd();

	for (int i = -1; i < n; i++) {	/* one warm-up */
		char grant[40];
		const char *g;
		double start;

		zt_msg_init(&request, ZT_MSG_SESSION_OPEN, rid++);
		zt_msg_put_u32(&request, ZT_F_UID, (uint32_t)uid);
		zt_msg_put_str(&request, ZT_F_SERVICE, "zt-agent");
		start = now_us();
		call(fd, &request, &reply);
		if (i >= 0)
			samples[i] = now_us() - start;
		if (zt_msg_get_str(&reply, ZT_F_GRANT, &g) < 0)
			die("no grant");
		snprintf(grant, sizeof(grant), "%s", g);
		zt_msg_init(&request, ZT_MSG_SESSION_CLOSE, rid++);
		zt_msg_put_str(&request, ZT_F_GRANT, grant);
		call(fd, &request, &reply);
	}
	close(fd);
}

int
main(int argc, char **argv)
{
	const char *ztd = argc > 1 ? argv[1] : "./ztd";
	double in_process, via_ztd, tools, cached, fresh, software;
	char copy[256];
	struct passwd *pw;
	uid_t uid;
	int log_fd;

	if (geteuid() != 0) {
		fprintf(stderr, "attest: needs root (sessions are opened as "
		    "a PAM stack would)\n");
		return 77;
	}
	if ((pw = getpwnam("daemon")) == NULL)
		die("no account daemon");
	uid = pw->pw_uid;
	if (realpath(ztd, ztd_path) == NULL)
		die("%s: %s", ztd, strerror(errno));
	snprintf(copy, sizeof(copy), "%s", ztd_path);
	snprintf(ztctl_path, sizeof(ztctl_path), "%s/ztctl", dirname(copy));
	snprintf(dir, sizeof(dir), "/tmp/zt-bench.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	chmod(dir, 0755);
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	snprintf(ztd_sock, sizeof(ztd_sock), "%s/ztd.sock", dir);
	snprintf(log_sock, sizeof(log_sock), "%s/log.sock", dir);
	snprintf(conf_path, sizeof(conf_path), "%s/ztd.conf", dir);
	{
		/* A datagram sink standing in for syslog. */
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		pthread_t t;

		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", log_sock);
		log_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (log_fd < 0 || bind(log_fd, (struct sockaddr *)&addr,
		    sizeof(addr)) < 0)
			die("%s: %s", log_sock, strerror(errno));
		pthread_create(&t, NULL, sink, &log_fd);
	}
	run("cp /bin/true agent");
	start_swtpm();

	printf("# attest: %d-core machine, swtpm over TCP, PCRs sha256:%s, "
	    "medians\n", (int)sysconf(_SC_NPROCESSORS_ONLN), PCR_LIST);
	fflush(stdout);
	/* swtpm serves one connection at a time: the in-process quotes and
	 * ztd's take turns, in QUOTE_BLOCKS blocks each (ztd stopped while
	 * the bench has the TPM), so that both see the same swtpm and
	 * machine: a slow spell falls on both, not on one figure. */
	{
		static double own[QUOTES], zts[QUOTES];
		const int per = QUOTES / QUOTE_BLOCKS;

		for (int b = 0; b < QUOTE_BLOCKS; b++) {
			stop_ztd();
			in_process_quote(own + b * per, per);
			start_ztd(1, 60);
			if (b == 0)
				run("'%s' --socket '%s' enroll-host",
				    ztctl_path, ztd_sock);
			ztd_quote(zts + b * per, per);
		}
		stop_ztd();
		in_process = median(own, QUOTES);
		via_ztd = median(zts, QUOTES);
	}
	printf("in-process ESAPI pcr_read + quote + verify (%d): %.2f ms "
	    "(baseline)\n", QUOTES, in_process / 1e3);
	printf("ztd ATTEST, quote + verify now (%d, in %d blocks taking turns "
	    "with the baseline's): %.2f ms (%.2fx in-process; goal <= 1.2x)\n",
	    QUOTES, QUOTE_BLOCKS, via_ztd / 1e3, via_ztd / in_process);
	fflush(stdout);
	tools = tool_quote();
	start_ztd(1, 60);
	printf("tpm2_quote + tpm2_checkquote processes (%d): %.2f ms "
	    "(%.2fx in-process)\n", TOOL_QUOTES, tools / 1e3,
	    tools / in_process);
	fflush(stdout);
	/* The cached tpm figure and its software baseline take turns in
	 * SESSION_BLOCKS blocks each (each a ztd of its own), so that a
	 * slow spell of the machine falls on both, not on one. */
	{
		static double tpm_s[SESSIONS], soft_s[SESSIONS];
		const int per = SESSIONS / SESSION_BLOCKS;

		for (int b = 0; b < SESSION_BLOCKS; b++) {
			if (b > 0)
				start_ztd(1, 60);
			session_open(uid, tpm_s + b * per, per);
			start_ztd(0, 60);
			session_open(uid, soft_s + b * per, per);
		}
		cached = median(tpm_s, SESSIONS);
		software = median(soft_s, SESSIONS);
	}

	{
		static double fresh_s[SESSIONS];

		start_ztd(1, 0);
		session_open(uid, fresh_s, SESSIONS);
		fresh = median(fresh_s, SESSIONS);
	}
	printf("session open, software attestation, cached (%d): %.1f us "
	    "(baseline)\n", SESSIONS, software);
	printf("session open, tpm attestation cached, session_max_age 60 (%d, "
	    "in %d blocks taking turns with the baseline's): %.1f us (%.2fx "
	    "software; goal <= 1.1x)\n", SESSIONS, SESSION_BLOCKS, cached,
	    cached / software);
	printf("session open, tpm fresh quote, session_max_age 0 (%d): %.2f ms "
	    "(%.2fx software, %.2fx cached tpm, %.2fx in-process quote)\n",
	    SESSIONS, fresh / 1e3, fresh / software, fresh / cached,
	    fresh / in_process);
	return 0;
}

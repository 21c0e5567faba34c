/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark: zt-exec's mutual-TLS tunnel against TLS 1.3 done directly
 * (an OpenSSL client in this process, and `openssl s_client`).
 *
 * Usage (from the build directory): bench/tunnel [ZTD [ZT-EXEC]]; the
 * defaults are ./ztd and the zt-exec beside it (./seccomp/zt-exec, else
 * ./zt-exec).  Needs root, the account "daemon", zt-exec and openssl(1);
 * exits 77 without them.
 *
 * What a run looks like: this process makes a test CA, a server
 * certificate for "bench.test" and a client certificate (EC P-256, in
 * memory; the CA and the client's pair are written to a temporary
 * directory for s_client), starts ztd (software attestation) with one
 * agent, a copy of this very program, whose one network rule is a tunnel
 * rule (server_name "bench.test", ca the test CA) for the port of a TLS 1.3
 * server run by this process: a few threads written with OpenSSL that
 * demand a client certificate from ztd's CA (`ztctl ca show`) or the test
 * CA.  A connection's first byte says what it wants: 'x' one byte echoed,
 * then close; 't' THROUGHPUT_BYTES more bytes counted (the time from the
 * first to the last is taken in the server), then a 'k' back.  The agent,
 * run as "daemon" under zt-exec, connects with plain TCP sockets (the
 * supervisor wraps them in TLS); the direct clients use the test CA's
 * client certificate.  Every TLS connection is a full handshake (neither
 * the tunnel nor the direct clients resume sessions).
 *
 * The figures: tunnel.throughput, THROUGHPUT_ROUNDS rounds each of the
 * in-process client, s_client fed through a pipe and the agent under
 * zt-exec sending THROUGHPUT_BYTES (MiB/s as the server counts them, and
 * the CPU each side spent); tunnel.relay, in the same rounds, the same
 * agent run bare through a minimal relay in this process (plain TCP read,
 * SSL_write: what carrying plaintext into TLS costs at the least without
 * kernel TLS, which this kernel lacks), and a one-byte tunnel's launch,
 * so that the tunnel's CPU for carrying bytes is set beside the minimal
 * relay's (issue 14's account of the extra loopback hop); tunnel.setup,
 * SETUP_ROUNDS rounds each of
 * in-process handshakes, s_client launches and zt-exec launches (a new
 * grant each) whose agent times its first connection and SETUP_LATER more
 * (connect() to a byte echoed back); then what a cold OpenSSL costs a
 * fresh process (the agent's copy run bare), the one-time part of a
 * grant's first connection.  About 10 s in all.  BENCH_FIGURES (a
 * comma-separated list of throughput, setup, cold) picks some.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common.h"

#define SERVER_NAME "bench.test"
#define TRUST_DOMAIN "tunnel.bench"
#define THROUGHPUT_BYTES (256ull << 20)
#define THROUGHPUT_ROUNDS 5		/* each: direct, s_client, tunnel */
#define CHUNK (256 * 1024)		/* the clients' writes */
/* ztd keeps every unexpired certificate for revocation, CA_ISSUED_MAX
 * (48) at most: the launches here (2 * THROUGHPUT_ROUNDS -- the transfer
 * and the one-byte tunnel -- + SETUP_ROUNDS * SETUP_LAUNCHES, one
 * certificate each) stay under it. */
#define CA_ISSUED_MAX_ 48		/* daemon/ca.c's */
#define SETUP_ROUNDS 7			/* each runs the following */
#define SETUP_DIRECT 20			/* in-process handshakes */
#define SETUP_SCLIENT 5			/* s_client launches */
#define SETUP_LAUNCHES 5		/* zt-exec launches (new grants) */
#define SETUP_LATER 4			/* a launch's later connections */
_Static_assert(2 * THROUGHPUT_ROUNDS + SETUP_ROUNDS * SETUP_LAUNCHES <=
    CA_ISSUED_MAX_, "more tunnel launches than ztd keeps certificates for");
#define SETUP_WARM 10			/* in-process, untimed, at first */
#define SERVER_THREADS 4
#define IO_TIMEOUT_S 10			/* every socket of ours */
#define RUN_TIMEOUT_MS 30000		/* one agent or s_client run */
#define RESULT_TIMEOUT_MS 30000
#define NUMBERS_MAX 64
#define LOG_KEEP 4			/* tunnel warnings kept from syslog */

struct state {
	char dir[64];
	char config[128], agent[128];
	char ca_pem[128], client_pem[128], client_key[128];
	char ztd_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char log_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char ztd_err[128], sclient_err[128];
	const char *ztd_path;
	char ztctl[PATH_MAX], zt_exec[PATH_MAX], openssl[PATH_MAX];
	uid_t uid;
	gid_t gid;
	pid_t self, ztd_pid, child;
	int listen_fd;
	uint16_t port;
	int relay_fd;			/* the minimal relay's, plain TCP */
	uint16_t relay_port;
	struct ztd_launch ztd;
	/* The test PKI and ztd's CA. */
	EVP_PKEY *ca_key, *server_key, *client_key_pair;
	X509 *ca_cert, *server_cert, *client_cert, *ztd_ca;
	SSL_CTX *server_ctx, *client_ctx;
};

static char supervisor_group[32];
static struct state st = { .listen_fd = -1, .relay_fd = -1 };
static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* CPU seconds (user + system) of WHO (RUSAGE_SELF, _THREAD, _CHILDREN). */
static double
cpu_s(int who)
{
	struct rusage ru;

	if (getrusage(who, &ru) < 0)
		return 0;
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static bool
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR && !interrupted)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* A plain TCP connection to 127.0.0.1:PORT, or -1 with errno set. */
static int
tcp_connect(int port)
{
	struct sockaddr_in to = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* -------------------------------------------------------- workloads */

/*
 * The agent's side, run as AGENT_ACCOUNT under zt-exec: plain TCP, the
 * supervisor puts it in TLS.  Each mode prints one line of numbers to
 * stdout and exits 0, or says why on stderr and exits 1.
 */

/*
 * setup PORT LATER: 1 + LATER connections one after the other, each timed
 * from connect() to the echo of one byte read back; prints the us of each
 * (the first is the grant's first: key, certificate and handshake).
 */
static int
workload_setup(int port, int later)
{
	for (int i = 0; i <= later; i++) {
		double t0 = now_us();
		int fd = tcp_connect(port);
		char c = 'x';

		if (fd < 0) {
			fprintf(stderr, "bench/tunnel: workload: connect "
			    "127.0.0.1:%d: %s\n", port, strerror(errno));
			return 1;
		}
		if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1 ||
		    c != 'x') {
			fprintf(stderr, "bench/tunnel: workload: no echo: %s\n",
			    strerror(errno));
			return 1;
		}
		printf("%s%.1f", i > 0 ? " " : "", now_us() - t0);
		close(fd);
		sleep_ms(1);
	}
	printf("\n");
	return 0;
}

/*
 * send PORT: connect, then 't' and THROUGHPUT_BYTES, and wait for the
 * server's 'k'.  Prints the connect's us and the us from the first write
 * to the 'k'.
 */
static int
workload_send(int port)
{
	char *buf = malloc(CHUNK), c = 0;
	unsigned long long left = THROUGHPUT_BYTES + 1;
	double t0 = now_us(), t1;
	int fd = tcp_connect(port);

	if (buf == NULL || fd < 0) {
		fprintf(stderr, "bench/tunnel: workload: connect 127.0.0.1:%d: "
		    "%s\n", port, strerror(errno));
		return 1;
	}
	t1 = now_us();
	memset(buf, 0x5a, CHUNK);
	buf[0] = 't';		/* rides with the first chunk */
	while (left > 0) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;

		if (!write_all(fd, buf, n))
			break;
		left -= n;
		buf[0] = 0x5a;
	}
	if (left > 0 || read(fd, &c, 1) != 1 || c != 'k') {
		fprintf(stderr, "bench/tunnel: workload: the transfer failed "
		    "(%llu bytes unsent): %s\n", left, strerror(errno));
		return 1;
	}
	printf("%.1f %.1f %.4f\n", t1 - t0, now_us() - t1,
	    cpu_s(RUSAGE_SELF));
	close(fd);
	free(buf);
	return 0;
}

/*
 * openssl-cold CA_FILE: what zt-exec's first tunnel connect pays for in a
 * process whose OpenSSL is untouched: a P-256 key, a signed CSR, a client
 * SSL_CTX with CA_FILE loaded.  Prints the us of each step and the total.
 */
static int
workload_openssl_cold(const char *ca_file)
{
	double t0 = now_us(), t1, t2, t3;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	unsigned char *der = NULL;
	SSL_CTX *ctx;

	t1 = now_us();
	if (key == NULL || req == NULL || !X509_REQ_set_version(req, 0) ||
	    !X509_REQ_set_pubkey(req, key) ||
	    !X509_REQ_sign(req, key, EVP_sha256()) ||
	    i2d_X509_REQ(req, &der) <= 0)
		return 1;
	t2 = now_us();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || SSL_CTX_load_verify_file(ctx, ca_file) != 1)
		return 1;
	t3 = now_us();
	printf("%.1f %.1f %.1f %.1f\n", t1 - t0, t2 - t1, t3 - t2, t3 - t0);
	return 0;
}

static int
workload(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[2], "setup") == 0)
		return workload_setup(atoi(argv[3]), atoi(argv[4]));
	if (argc == 4 && strcmp(argv[2], "send") == 0)
		return workload_send(atoi(argv[3]));
	if (argc == 4 && strcmp(argv[2], "openssl-cold") == 0)
		return workload_openssl_cold(argv[3]);
	fprintf(stderr, "usage: bench/tunnel --workload setup PORT LATER | "
	    "send PORT | openssl-cold CA_FILE\n");
	return 2;
}

/* -------------------------------------------------------------- PKI */

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

enum cert_kind { CERT_CA, CERT_SERVER, CERT_CLIENT };

/* A certificate for KEY named CN, signed by ISSUER (NULL: self-signed). */
static X509 *
make_cert(enum cert_kind kind, EVP_PKEY *key, const char *cn, X509 *issuer,
    EVP_PKEY *issuer_key)
{
	unsigned char raw[16];
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	bool ok;

	if (x == NULL || RAND_bytes(raw, sizeof(raw)) != 1)
		goto fail;
	raw[0] = (raw[0] & 0x7f) | 0x40;
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	ok = bn != NULL && X509_set_version(x, 2) &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) &&
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) &&
	    X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ?
	    issuer : x)) &&
	    X509_set_pubkey(x, key);
	BN_free(bn);
	if (!ok)
		goto fail;
	if (issuer == NULL)
		issuer = x;
	switch (kind) {
	case CERT_CA:
		ok = add_ext(x, issuer, NID_basic_constraints,
		    "critical,CA:TRUE,pathlen:0") == 0 &&
		    add_ext(x, issuer, NID_key_usage,
		    "critical,keyCertSign,cRLSign") == 0 &&
		    add_ext(x, issuer, NID_subject_key_identifier, "hash") == 0;
		break;
	case CERT_SERVER:
		ok = add_ext(x, issuer, NID_basic_constraints,
		    "critical,CA:FALSE") == 0 &&
		    add_ext(x, issuer, NID_key_usage,
		    "critical,digitalSignature") == 0 &&
		    add_ext(x, issuer, NID_ext_key_usage, "serverAuth") == 0 &&
		    add_ext(x, issuer, NID_subject_alt_name,
		    "DNS:" SERVER_NAME) == 0;
		break;
	case CERT_CLIENT:
		ok = add_ext(x, issuer, NID_basic_constraints,
		    "critical,CA:FALSE") == 0 &&
		    add_ext(x, issuer, NID_key_usage,
		    "critical,digitalSignature") == 0 &&
		    add_ext(x, issuer, NID_ext_key_usage, "clientAuth") == 0 &&
		    add_ext(x, issuer, NID_subject_alt_name,
		    "URI:spiffe://" TRUST_DOMAIN "/direct") == 0;
		break;
	}
	if (ok && X509_sign(x, issuer_key != NULL ? issuer_key : key,
	    EVP_sha256()) > 0)
		return x;
fail:
	X509_free(x);
	return NULL;
}

static int
write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    key != NULL ? 0600 : 0644);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	bool ok;

	if (f == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL,
	    NULL) : PEM_write_X509(f, cert);
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* The test CA, the server's and the direct client's certificates. */
static int
make_pki(void)
{
	st.ca_key = EVP_EC_gen("P-256");
	st.server_key = EVP_EC_gen("P-256");
	st.client_key_pair = EVP_EC_gen("P-256");
	if (st.ca_key == NULL || st.server_key == NULL ||
	    st.client_key_pair == NULL ||
	    (st.ca_cert = make_cert(CERT_CA, st.ca_key, "bench/tunnel test "
	    "CA", NULL, NULL)) == NULL ||
	    (st.server_cert = make_cert(CERT_SERVER, st.server_key,
	    SERVER_NAME, st.ca_cert, st.ca_key)) == NULL ||
	    (st.client_cert = make_cert(CERT_CLIENT, st.client_key_pair,
	    "bench/tunnel direct client", st.ca_cert, st.ca_key)) == NULL) {
		ERR_print_errors_fp(stderr);
		return -1;
	}
	if (write_pem(st.ca_pem, st.ca_cert, NULL) < 0 ||
	    write_pem(st.client_pem, st.client_cert, NULL) < 0 ||
	    write_pem(st.client_key, NULL, st.client_key_pair) < 0) {
		fprintf(stderr, "bench/tunnel: cannot write the test PKI in "
		    "%s\n", st.dir);
		return -1;
	}
	return 0;
}

/* The in-process direct client: TLS 1.3, the test client certificate,
 * the server verified by the test CA and its name (as the tunnel does). */
static int
make_client_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL ||
	    !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_use_certificate(ctx, st.client_cert) ||
	    !SSL_CTX_use_PrivateKey(ctx, st.client_key_pair) ||
	    !X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), st.ca_cert)) {
		ERR_print_errors_fp(stderr);
		SSL_CTX_free(ctx);
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	st.client_ctx = ctx;
	return 0;
}

/* The server: TLS 1.3, a client certificate from ztd's CA or the test's. */
static int
make_server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	X509_STORE *store;

	if (ctx == NULL ||
	    !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_use_certificate(ctx, st.server_cert) ||
	    !SSL_CTX_use_PrivateKey(ctx, st.server_key) ||
	    (store = SSL_CTX_get_cert_store(ctx)) == NULL ||
	    !X509_STORE_add_cert(store, st.ca_cert) ||
	    !X509_STORE_add_cert(store, st.ztd_ca)) {
		ERR_print_errors_fp(stderr);
		SSL_CTX_free(ctx);
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	st.server_ctx = ctx;
	return 0;
}

/* ----------------------------------------------------------- server */

/* What the server saw of one connection. */
struct result {
	char kind;			/* 'x', 't', or 0: it failed */
	bool ztd_client;		/* the client's certificate is ztd's */
	double echo_us;			/* 'x': from accept to the echo sent */
	double secs;			/* 't': first byte to the last */
	unsigned long long bytes;
	double cpu;			/* 't': the server thread's CPU s */
	unsigned long long reads;	/* 't': SSL_reads (one record each) */
	char cipher[64], group[32];
};

static pthread_mutex_t result_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t result_cond = PTHREAD_COND_INITIALIZER;
static uint64_t result_gen, handshake_failures, ztd_clients;
static struct result last_result;
static char last_failure[256];
/* 'x' connections with ztd's certificates, as the server saw them (us
 * from accept to the echo sent): a grant's first (a serial not seen
 * before) and its later ones. */
#define SEEN_MAX 512
static double seen_first[SEEN_MAX], seen_later[SEEN_MAX];
static size_t n_seen_first, n_seen_later;
static ASN1_INTEGER *seen_serial;

/* Note the echo of a ztd client PEER (result_lock held). */
static void
note_ztd_echo(X509 *peer, double us)
{
	const ASN1_INTEGER *serial = X509_get0_serialNumber(peer);

	if (seen_serial == NULL || ASN1_INTEGER_cmp(seen_serial, serial) != 0) {
		ASN1_INTEGER_free(seen_serial);
		seen_serial = ASN1_INTEGER_dup(serial);
		if (n_seen_first < SEEN_MAX)
			seen_first[n_seen_first++] = us;
	} else if (n_seen_later < SEEN_MAX)
		seen_later[n_seen_later++] = us;
}

static void
publish(const struct result *r)
{
	pthread_mutex_lock(&result_lock);
	last_result = *r;
	result_gen++;
	if (r->kind == 0)
		handshake_failures++;
	if (r->ztd_client)
		ztd_clients++;
	pthread_cond_broadcast(&result_cond);
	pthread_mutex_unlock(&result_lock);
}

static uint64_t
current_gen(void)
{
	uint64_t g;

	pthread_mutex_lock(&result_lock);
	g = result_gen;
	pthread_mutex_unlock(&result_lock);
	return g;
}

/* The first result after generation GEN (within TIMEOUT_MS); 0 or -1. */
static int
wait_result(uint64_t gen, long timeout_ms, struct result *out)
{
	struct timespec deadline;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&result_lock);
	while (result_gen <= gen && r == 0 && !interrupted)
		r = pthread_cond_timedwait(&result_cond, &result_lock,
		    &deadline);
	if (result_gen > gen)
		*out = last_result;
	else
		r = -1;
	pthread_mutex_unlock(&result_lock);
	return r == 0 ? 0 : -1;
}

static void
serve(int fd, unsigned char *buf, size_t size)
{
	struct result res = { 0 };
	double t_accept = now_us(), t0;
	SSL *ssl = SSL_new(st.server_ctx);
	X509 *peer = NULL;
	int n, nid;

	set_timeouts(fd);
	if (ssl == NULL || !SSL_set_fd(ssl, fd) || SSL_accept(ssl) != 1) {
		char why[200] = "";

		ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
		ERR_clear_error();
		pthread_mutex_lock(&result_lock);
		snprintf(last_failure, sizeof(last_failure), "%s", why);
		pthread_mutex_unlock(&result_lock);
		publish(&res);
		goto out;
	}
	if ((peer = SSL_get0_peer_certificate(ssl)) != NULL)
		res.ztd_client = X509_check_issued(st.ztd_ca, peer) ==
		    X509_V_OK;
	snprintf(res.cipher, sizeof(res.cipher), "%s",
	    SSL_get_cipher_name(ssl));
	nid = SSL_get_negotiated_group(ssl);
	snprintf(res.group, sizeof(res.group), "%s",
	    nid != NID_undef ? OBJ_nid2sn(nid) : "?");
	if ((n = SSL_read(ssl, buf, (int)size)) <= 0) {
		publish(&res);
		goto out;
	}
	if (buf[0] == 'x') {
		if (SSL_write(ssl, "x", 1) == 1) {
			res.echo_us = now_us() - t_accept;
			res.kind = 'x';
			if (res.ztd_client) {
				pthread_mutex_lock(&result_lock);
				note_ztd_echo(peer, res.echo_us);
				pthread_mutex_unlock(&result_lock);
			}
		}
	} else if (buf[0] == 't') {
		t0 = now_us();
		res.cpu = cpu_s(RUSAGE_THREAD);
		res.bytes = (unsigned long long)n - 1;
		res.reads = 1;
		while (res.bytes < THROUGHPUT_BYTES &&
		    (n = SSL_read(ssl, buf, (int)size)) > 0) {
			res.bytes += (unsigned long long)n;
			res.reads++;
		}
		res.secs = (now_us() - t0) / 1e6;
		res.cpu = cpu_s(RUSAGE_THREAD) - res.cpu;
		if (res.bytes == THROUGHPUT_BYTES && SSL_write(ssl, "k", 1) == 1)
			res.kind = 't';
	}
	publish(&res);
	/* close_notify, and wait for the client's close. */
	if (SSL_shutdown(ssl) == 0)
		while (SSL_read(ssl, buf, (int)size) > 0)
			;
out:
	ERR_clear_error();
	SSL_free(ssl);
	close(fd);
}

/* One of SERVER_THREADS threads accepting on the server's port. */
static void *
run_server(void *arg)
{
	unsigned char *buf = malloc(64 * 1024);

	(void)arg;
	if (buf == NULL)
		return NULL;
	for (;;) {
		int fd = accept4(st.listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0)
			serve(fd, buf, 64 * 1024);
		else if (errno != EINTR && errno != ECONNABORTED &&
		    errno != EMFILE && errno != ENFILE)
			break;
	}
	free(buf);
	return NULL;
}

/* ---------------------------------------------------- minimal relay */

/*
 * The peer of zt-exec's relay: what carrying an agent's plain TCP into TLS
 * costs at the least, without kernel TLS (this kernel has none: the
 * plaintext must come up to user space to be encrypted).  One thread
 * accepts a plain connection on RELAY_PORT, opens a direct TLS connection
 * to the server (the test CA's client certificate), and copies both ways
 * with a buffer as large as zt-exec's, polling both ends as zt-exec does.
 * Its CPU for each connection is published for the figure.
 */
#define MIN_RELAY_BUF (256 * 1024)	/* as seccomp/tunnel.c's RELAY_BUF */

static SSL *direct_open(int *fd_out);
static void direct_close(SSL *ssl, int fd);

static pthread_mutex_t relay_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t relay_cond = PTHREAD_COND_INITIALIZER;
static uint64_t relay_gen;
static double relay_cpu;		/* the last connection's CPU s */

static bool
ssl_write_whole(SSL *ssl, const char *buf, size_t len)
{
	while (len > 0) {
		int n = SSL_write(ssl, buf, (int)len);

		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Copy between the plain LOCAL and the TLS SSL (on UPSTREAM) until
 * either end closes. */
static void
min_relay_copy(int local, SSL *ssl, int upstream, char *buf)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = local, .events = POLLIN },
			{ .fd = upstream, .events = POLLIN },
		};

		if (SSL_pending(ssl) == 0 && poll(pfd, 2, IO_TIMEOUT_S *
		    1000) <= 0)
			return;
		if (SSL_pending(ssl) > 0 || pfd[1].revents != 0) {
			int n = SSL_read(ssl, buf, MIN_RELAY_BUF);

			/* A record with no data (a session ticket) reads as
			 * WANT_READ: without AUTO_RETRY, poll again. */
			if (n <= 0 && SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ)
				return;
			if (n > 0 && !write_all(local, buf, (size_t)n))
				return;
		}
		if (pfd[0].revents != 0) {
			ssize_t m = read(local, buf, MIN_RELAY_BUF);

			if (m <= 0 || !ssl_write_whole(ssl, buf, (size_t)m))
				return;
		}
	}
}

static void *
run_min_relay(void *arg)
{
	char *buf = malloc(MIN_RELAY_BUF);

	(void)arg;
	while (buf != NULL) {
		int local = accept4(st.relay_fd, NULL, NULL, SOCK_CLOEXEC);
		int upstream;
		double cpu;
		SSL *ssl;

		if (local < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;
		}
		set_timeouts(local);
		cpu = cpu_s(RUSAGE_THREAD);
		if ((ssl = direct_open(&upstream)) != NULL) {
			SSL_clear_mode(ssl, SSL_MODE_AUTO_RETRY);
			min_relay_copy(local, ssl, upstream, buf);
			direct_close(ssl, upstream);
		}
		cpu = cpu_s(RUSAGE_THREAD) - cpu;
		close(local);
		pthread_mutex_lock(&relay_lock);
		relay_cpu = cpu;
		relay_gen++;
		pthread_cond_broadcast(&relay_cond);
		pthread_mutex_unlock(&relay_lock);
	}
	free(buf);
	return NULL;
}

/* The minimal relay's CPU for the connection after generation GEN; -1
 * when it does not end within RESULT_TIMEOUT_MS. */
static double
min_relay_cpu(uint64_t gen)
{
	struct timespec until;
	double cpu = -1;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += RESULT_TIMEOUT_MS / 1000;
	pthread_mutex_lock(&relay_lock);
	while (relay_gen == gen && pthread_cond_timedwait(&relay_cond,
	    &relay_lock, &until) == 0)
		;
	if (relay_gen != gen)
		cpu = relay_cpu;
	pthread_mutex_unlock(&relay_lock);
	return cpu;
}

static uint64_t
min_relay_gen(void)
{
	uint64_t gen;

	pthread_mutex_lock(&relay_lock);
	gen = relay_gen;
	pthread_mutex_unlock(&relay_lock);
	return gen;
}

/* Tunnel lines from the syslog sink: opens counted, warnings kept. */
static uint64_t tunnel_opens;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_kept[LOG_KEEP][512];
static unsigned log_next;

/* One of ztd's or zt-exec's syslog datagrams. */
static void
note_tunnel_line(const char *line)
{
	if (strstr(line, "tunnel open: ") != NULL)
		__atomic_add_fetch(&tunnel_opens, 1, __ATOMIC_RELAXED);
	else if (strstr(line, "tunnel to ") != NULL ||
	    strstr(line, "denied") != NULL) {
		pthread_mutex_lock(&log_lock);
		snprintf(log_kept[log_next++ % LOG_KEEP], sizeof(log_kept[0]),
		    "%.500s", line);
		pthread_mutex_unlock(&log_lock);
	}
}

static struct log_sink sink = { .fd = -1, .line = note_tunnel_line };

static void
print_kept_log(void)
{
	pthread_mutex_lock(&log_lock);
	for (unsigned i = 0; i < LOG_KEEP; i++) {
		const char *line = log_kept[(log_next + i) % LOG_KEEP];

		if (line[0] != '\0')
			fprintf(stderr, "bench/tunnel: syslog: %s\n", line);
	}
	pthread_mutex_unlock(&log_lock);
	pthread_mutex_lock(&result_lock);
	if (last_failure[0] != '\0')
		fprintf(stderr, "bench/tunnel: the server's last failed "
		    "handshake: %s\n", last_failure);
	pthread_mutex_unlock(&result_lock);
}

/* ------------------------------------------------------ processes */

/*
 * Fork and exec ARGV with stdin IN_FD, stdout OUT_FD and stderr ERR_PATH
 * (-1 or NULL: /dev/null, the bench's stderr); AS_AGENT drops to
 * AGENT_ACCOUNT first.  The child's pid, or -1.
 */
static pid_t
spawn(char *const *argv, int in_fd, int out_fd, const char *err_path,
    bool as_agent)
{
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		dup2(in_fd >= 0 ? in_fd : null, STDIN_FILENO);
		dup2(out_fd >= 0 ? out_fd : null, STDOUT_FILENO);
		if (err_path != NULL) {
			int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC |
			    O_CLOEXEC, 0600);

			if (err >= 0)
				dup2(err, STDERR_FILENO);
		}
		if (as_agent)
			drop_to_agent("bench/tunnel", st.uid, st.gid);
		/* After the uid change, which clears it. */
		child_setup(st.self);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], argv);
		fprintf(stderr, "bench/tunnel: exec %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	st.child = pid;
	return pid;
}

/* Wait for PID (killed after TIMEOUT_MS, or when interrupted). */
static int
reap(pid_t pid, long timeout_ms, int *status)
{
	if (reap_within(pid, timeout_ms, 1, &interrupted, status) < 0)
		return -1;
	if (st.child == pid)
		st.child = 0;
	return 0;
}

/*
 * Run ARGV (stdout captured into OUT, SIZE bytes, NUL-terminated) within
 * RUN_TIMEOUT_MS; its exit code, or -1.
 */
static int
run_capture(char *const *argv, bool as_agent, char *out, size_t size)
{
	double deadline = now_us() + RUN_TIMEOUT_MS * 1e3;
	size_t got = 0;
	int fds[2], status = 0;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid = spawn(argv, -1, fds[1], NULL, as_agent);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		ssize_t r;

		if (interrupted || now_us() > deadline) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		r = read(fds[0], out + got, size - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == size - 1)
			break;
	}
	close(fds[0]);
	out[got] = '\0';
	if (reap(pid, 5000, &status) < 0)
		return -1;
	return exit_code(status);
}

/* The workload ARGS (after --workload) as the agent, under zt-exec or
 * BARE. */
static int
run_agent(char *const *args, double *v, bool bare)
{
	char *argv[16], out[4096];
	int n = 0, rc, k;

	if (!bare)
		n = zt_exec_argv(argv, st.zt_exec, st.ztd_socket,
		    st.log_socket);
	argv[n++] = st.agent;
	argv[n++] = "--workload";
	for (int i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	rc = run_capture(argv, true, out, sizeof(out));
	if (interrupted)
		return -1;
	if (rc != 0) {
		fprintf(stderr, "bench/tunnel: the agent's \"%s\"%s exited "
		    "with status %d\n", args[0], bare ? "" : " under zt-exec",
		    rc);
		print_kept_log();
		return -1;
	}
	if ((k = parse_numbers(out, v, NUMBERS_MAX)) == 0)
		fprintf(stderr, "bench/tunnel: the agent printed \"%s\"\n",
		    out);
	return k > 0 ? k : -1;
}

/* The end of WHAT's stderr, kept in PATH. */
static void
print_stderr_of(const char *what, const char *path)
{
	char title[64];

	snprintf(title, sizeof(title), "bench/tunnel: %s's stderr (its end)",
	    what);
	print_file_tail(path, title);
}

/* openssl s_client to the server with the test's client certificate. */
static pid_t
spawn_sclient(int in_fd, int out_fd)
{
	char connect[64];
	char *argv[] = { st.openssl, "s_client", "-connect", connect,
		"-tls1_3", "-quiet", "-cert", st.client_pem, "-key",
		st.client_key, "-CAfile", st.ca_pem, "-servername", SERVER_NAME,
		"-verify_hostname", SERVER_NAME, "-verify_return_error", NULL };

	snprintf(connect, sizeof(connect), "127.0.0.1:%u", (unsigned)st.port);
	return spawn(argv, in_fd, out_fd, st.sclient_err, false);
}

/* ------------------------------------------------- direct, in-process */

/* A TLS 1.3 connection of the direct client; the SSL, or NULL. */
static SSL *
direct_open(int *fd_out)
{
	int fd = tcp_connect(st.port);
	SSL *ssl;

	if (fd < 0)
		return NULL;
	set_timeouts(fd);
	ssl = SSL_new(st.client_ctx);
	if (ssl == NULL || !SSL_set_fd(ssl, fd) ||
	    !SSL_set_tlsext_host_name(ssl, SERVER_NAME) ||
	    !SSL_set1_host(ssl, SERVER_NAME) || SSL_connect(ssl) != 1) {
		if (!interrupted)
			ERR_print_errors_fp(stderr);
		ERR_clear_error();
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	*fd_out = fd;
	return ssl;
}

static void
direct_close(SSL *ssl, int fd)
{
	SSL_shutdown(ssl);
	SSL_free(ssl);
	ERR_clear_error();
	close(fd);
}

/* One connect + handshake + echo of a byte, in us (*SERVER_US: as the
 * server saw it); -1 on failure. */
static double
direct_setup(double *server_us)
{
	struct result res;
	uint64_t gen = current_gen();
	double t0 = now_us(), t;
	char c = 'x';
	int fd;
	SSL *ssl = direct_open(&fd);

	if (ssl == NULL)
		return -1;
	if (SSL_write(ssl, &c, 1) != 1 || SSL_read(ssl, &c, 1) != 1 ||
	    c != 'x') {
		direct_close(ssl, fd);
		return -1;
	}
	t = now_us() - t0;
	direct_close(ssl, fd);
	if (wait_result(gen, RESULT_TIMEOUT_MS, &res) < 0 || res.kind != 'x')
		return -1;
	*server_us = res.echo_us;
	sleep_ms(1);
	return t;
}

/* The direct client sends 't' and THROUGHPUT_BYTES; the server's view,
 * and the client's CPU s in *CPU. */
static int
direct_send(struct result *res, double *cpu)
{
	char *buf = malloc(CHUNK), c = 0;
	unsigned long long left = THROUGHPUT_BYTES;
	uint64_t gen = current_gen();
	int fd, r = -1;
	SSL *ssl;

	if (buf == NULL || (ssl = direct_open(&fd)) == NULL) {
		free(buf);
		return -1;
	}
	*cpu = cpu_s(RUSAGE_THREAD);
	memset(buf, 0x5a, CHUNK);
	buf[0] = 't';
	if (SSL_write(ssl, buf, CHUNK) == CHUNK) {
		left -= CHUNK - 1;
		buf[0] = 0x5a;
		while (left > 0 && !interrupted) {
			int n = left < CHUNK ? (int)left : CHUNK;

			if (SSL_write(ssl, buf, n) != n)
				break;
			left -= (unsigned long long)n;
		}
	}
	*cpu = cpu_s(RUSAGE_THREAD) - *cpu;
	if (left == 0 && SSL_read(ssl, &c, 1) == 1 && c == 'k' &&
	    wait_result(gen, RESULT_TIMEOUT_MS, res) == 0 && res->kind == 't')
		r = 0;
	direct_close(ssl, fd);
	free(buf);
	return r;
}

/* ------------------------------------------------------- s_client */

/* One s_client launch to the echo of 'x'; *LAUNCH_US from fork to the
 * echo on its stdout, *SERVER_US from accept to the echo sent. */
static int
sclient_setup(double *launch_us, double *server_us)
{
	struct result res;
	int in[2], out[2], status, r = -1;
	uint64_t gen = current_gen();
	double t0, deadline;
	char c = 0;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	/* stdin stays open until it exits (no EOF: -quiet ignores it by
	 * spinning on it). */
	if (write(in[1], "x", 1) != 1)
		goto out;
	t0 = now_us();
	deadline = t0 + RUN_TIMEOUT_MS * 1e3;
	if ((pid = spawn_sclient(in[0], out[1])) < 0)
		goto out;
	close(out[1]);
	out[1] = -1;
	while (!interrupted && now_us() < deadline) {
		struct pollfd pfd = { .fd = out[0], .events = POLLIN };

		if (poll(&pfd, 1, 100) > 0) {
			if (read(out[0], &c, 1) == 1 && c == 'x')
				*launch_us = now_us() - t0;
			break;
		}
	}
	if (reap(pid, 5000, &status) == 0 && c == 'x' &&
	    wait_result(gen, RESULT_TIMEOUT_MS, &res) == 0 &&
	    res.kind == 'x') {
		*server_us = res.echo_us;
		r = 0;
	} else if (!interrupted) {
		fprintf(stderr, "bench/tunnel: s_client did not get the echo "
		    "(status %d)\n", exit_code(status));
		print_stderr_of("s_client", st.sclient_err);
	}
out:
	close(in[0]);
	close(in[1]);
	close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	return r;
}

/* 't' and THROUGHPUT_BYTES into s_client's stdin; the server's view,
 * and s_client's CPU s in *CPU. */
static int
sclient_send(struct result *res, double *cpu)
{
	char *buf = malloc(CHUNK);
	unsigned long long left = THROUGHPUT_BYTES + 1;
	uint64_t gen = current_gen();
	int in[2], status, r = -1;
	pid_t pid;

	if (buf == NULL || pipe2(in, O_CLOEXEC) < 0) {
		free(buf);
		return -1;
	}
	*cpu = cpu_s(RUSAGE_CHILDREN);
	if ((pid = spawn_sclient(in[0], -1)) < 0)
		goto out;
	memset(buf, 0x5a, CHUNK);
	buf[0] = 't';
	while (left > 0 && !interrupted) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;

		if (!write_all(in[1], buf, n))
			break;
		left -= n;
		buf[0] = 0x5a;
	}
	if (left == 0 && wait_result(gen, RESULT_TIMEOUT_MS, res) == 0 &&
	    res->kind == 't')
		r = 0;
	/* The server closes after its 'k'; s_client ends with it. */
	reap(pid, 5000, &status);
	*cpu = cpu_s(RUSAGE_CHILDREN) - *cpu;
	if (r < 0 && !interrupted) {
		fprintf(stderr, "bench/tunnel: s_client's transfer failed "
		    "(status %d)\n", exit_code(status));
		print_stderr_of("s_client", st.sclient_err);
	}
out:
	close(in[0]);
	close(in[1]);
	free(buf);
	return r;
}

/* ------------------------------------------------------------ setup */

/*
 * One agent on AGENT_ACCOUNT whose binary is the copy of this program;
 * its one network rule: the server's port, through the tunnel.
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
	    "ztd: { state_dir = \"%s/state\"; trust_domain = \"" TRUST_DOMAIN
	    "\"; supervisor_group = \"%s\"; };\n"
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
	    "    network = ( { to = \"127.0.0.1/32\"; ports = \"%u\"; "
	    "proto = \"tcp\"; tunnel = true; server_name = \"" SERVER_NAME
	    "\"; ca = \"%s\"; } );\n"
	    "  }\n"
	    ");\n", st.dir, supervisor_group, st.agent, digest,
	    (unsigned)st.port, st.ca_pem);
	if (ferror(f))
		r = -1;
	if (fclose(f) != 0)
		r = -1;
	return r;
}

/* ztd's tunnel CA: `ztctl ca show`, else STATE_DIR/ca.pem. */
static int
load_ztd_ca(const char **how)
{
	char pem[16384], path[256];
	char *argv[] = { st.ztctl, "--socket", st.ztd_socket, "ca", "show",
		NULL };
	BIO *bio = NULL;

	*how = "ztctl ca show";
	if (access(st.ztctl, X_OK) == 0 &&
	    run_capture(argv, false, pem, sizeof(pem)) == 0 &&
	    (bio = BIO_new_mem_buf(pem, -1)) != NULL)
		st.ztd_ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (st.ztd_ca == NULL) {
		FILE *f;

		*how = "state_dir/ca.pem (no ztctl beside ztd)";
		snprintf(path, sizeof(path), "%s/state/ca.pem", st.dir);
		if ((f = fopen(path, "re")) != NULL) {
			st.ztd_ca = PEM_read_X509(f, NULL, NULL, NULL);
			fclose(f);
		}
	}
	if (st.ztd_ca == NULL) {
		fprintf(stderr, "bench/tunnel: cannot get ztd's tunnel CA\n");
		return -1;
	}
	return 0;
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
		/* A terminal's ^C reaches ztd too. */
		if (!interrupted) {
			fprintf(stderr, "bench/tunnel: ztd had exited (status "
			    "%d)\n", exit_code(status));
			failed = true;
		}
		st.ztd_pid = 0;
	}
	if (st.ztd_pid > 0) {
		kill(st.ztd_pid, SIGTERM);
		reap(st.ztd_pid, 5000, &status);
		st.ztd_pid = 0;
	}
	if (failed && st.dir[0] != '\0')
		print_stderr_of("ztd", st.ztd_err);
	if (st.listen_fd >= 0) {
		/* Wakes the server's threads (they end with the process). */
		shutdown(st.listen_fd, SHUT_RDWR);
	}
	if (st.relay_fd >= 0)
		shutdown(st.relay_fd, SHUT_RDWR);
	supervisor_remove(supervisor_group);
	if (st.dir[0] != '\0')
		remove_tree("bench/tunnel", st.dir);
	st.dir[0] = '\0';
}

static int
prepare(void)
{
	char digest[65];
	const char *how;
	int r;

	snprintf(st.dir, sizeof(st.dir), "/tmp/zt-bench-tunnel.XXXXXX");
	if (mkdtemp(st.dir) == NULL) {
		fprintf(stderr, "bench/tunnel: mkdtemp: %s\n", strerror(errno));
		st.dir[0] = '\0';
		return -1;
	}
	/* The agent's account reaches ztd's socket, its binary, the CA. */
	if (chmod(st.dir, 0755) < 0)
		return -1;
	if (supervisor_install("bench/tunnel", st.dir, st.zt_exec,
	    sizeof(st.zt_exec), supervisor_group) < 0)
		return -1;
	snprintf(st.config, sizeof(st.config), "%s/ztd.conf", st.dir);
	snprintf(st.ztd_socket, sizeof(st.ztd_socket), "%s/ztd.sock", st.dir);
	snprintf(st.log_socket, sizeof(st.log_socket), "%s/log.sock", st.dir);
	snprintf(st.agent, sizeof(st.agent), "%s/agent", st.dir);
	snprintf(st.ztd_err, sizeof(st.ztd_err), "%s/ztd.err", st.dir);
	st.ztd = (struct ztd_launch){ .who = "bench/tunnel",
	    .path = st.ztd_path, .config = st.config, .socket = st.ztd_socket,
	    .log_socket = st.log_socket, .err_path = st.ztd_err,
	    .parent = st.self, .stop = &interrupted };
	snprintf(st.sclient_err, sizeof(st.sclient_err), "%s/s_client.err",
	    st.dir);
	snprintf(st.ca_pem, sizeof(st.ca_pem), "%s/test-ca.pem", st.dir);
	snprintf(st.client_pem, sizeof(st.client_pem), "%s/client.pem",
	    st.dir);
	snprintf(st.client_key, sizeof(st.client_key), "%s/client.key",
	    st.dir);
	if ((r = copy_file("/proc/self/exe", st.agent, 0755)) < 0) {
		fprintf(stderr, "bench/tunnel: copy the agent: %s\n",
		    strerror(-r));
		return -1;
	}
	if (sha256_of(st.agent, digest) < 0) {
		fprintf(stderr, "bench/tunnel: cannot hash %s\n", st.agent);
		return -1;
	}
	if (make_pki() < 0 || make_client_ctx() < 0)
		return -1;
	if ((st.listen_fd = listen_loopback(128, &st.port)) < 0 ||
	    (st.relay_fd = listen_loopback(8, &st.relay_port)) < 0 ||
	    (sink.fd = bind_log_socket(st.log_socket)) < 0) {
		fprintf(stderr, "bench/tunnel: sockets: %s\n", strerror(errno));
		return -1;
	}
	if (write_config(digest) < 0) {
		fprintf(stderr, "bench/tunnel: %s: %s\n", st.config,
		    strerror(errno));
		return -1;
	}
	if (start_thread(NULL, run_log_sink, &sink) < 0 ||
	    start_ztd(&st.ztd, &st.ztd_pid) < 0 ||
	    load_ztd_ca(&how) < 0 || make_server_ctx() < 0)
		return -1;
	for (int i = 0; i < SERVER_THREADS; i++)
		if (start_thread(NULL, run_server, NULL) < 0)
			return -1;
	if (start_thread(NULL, run_min_relay, NULL) < 0)
		return -1;
	printf("# ztd's CA from %s; the server: this program's own TLS 1.3 "
	    "server (OpenSSL %s, %d threads) demanding a client certificate "
	    "from ztd's CA or the test CA\n", how,
	    OpenSSL_version(OPENSSL_VERSION_STRING), SERVER_THREADS);
	return 0;
}

/* ---------------------------------------------------------- figures */

static double
mib_per_s(const struct result *r)
{
	return r->secs > 0 ? (double)r->bytes / (1 << 20) / r->secs : 0;
}

static int
figure_throughput(void)
{
	enum { R = THROUGHPUT_ROUNDS };
	char port[16], relay_port[16];
	char *args[] = { "send", port, NULL };
	char *relay_args[] = { "send", relay_port, NULL };
	char *one_byte[] = { "setup", port, "0", NULL };
	double d[R], s[R], t[R], tc[R], m[R];
	double cpu_d[R], cpu_s_[R], cpu_agent[R], cpu_zt[R], cpu_srv[R];
	double cpu_writer[R], cpu_relay[R], cpu_min[R], cpu_tun[R];
	double cpu_launch[R], cpu_carry[R];
	double rec[3][R];
	struct result res[4] = { { 0 } };
	double md, ms, mt, mm;

	snprintf(port, sizeof(port), "%u", (unsigned)st.port);
	snprintf(relay_port, sizeof(relay_port), "%u",
	    (unsigned)st.relay_port);
	for (int round = 0; round < R; round++) {
		double v[NUMBERS_MAX], children;
		uint64_t gen, rgen;

		if (direct_send(&res[0], &cpu_d[round]) < 0) {
			if (!interrupted)
				fprintf(stderr, "bench/tunnel: the direct "
				    "transfer failed\n");
			return -1;
		}
		d[round] = mib_per_s(&res[0]);
		rec[0][round] = (double)res[0].bytes / res[0].reads;
		if (sclient_send(&res[1], &cpu_s_[round]) < 0)
			return -1;
		s[round] = mib_per_s(&res[1]);
		rec[1][round] = (double)res[1].bytes / res[1].reads;
		gen = current_gen();
		children = cpu_s(RUSAGE_CHILDREN);
		if (run_agent(args, v, false) < 3 ||
		    wait_result(gen, RESULT_TIMEOUT_MS, &res[2]) < 0 ||
		    res[2].kind != 't' || !res[2].ztd_client) {
			if (!interrupted)
				fprintf(stderr, "bench/tunnel: the tunnel's "
				    "transfer failed\n");
			return -1;
		}
		t[round] = mib_per_s(&res[2]);
		rec[2][round] = (double)res[2].bytes / res[2].reads;
		/* The agent's own view: first write to the 'k'. */
		tc[round] = (double)THROUGHPUT_BYTES / (1 << 20) / (v[1] / 1e6);
		/* zt-exec (the relay, and its start) = the launch less the
		 * agent's own CPU. */
		cpu_agent[round] = v[2];
		cpu_zt[round] = cpu_s(RUSAGE_CHILDREN) - children - v[2];
		cpu_tun[round] = cpu_agent[round] + cpu_zt[round];
		cpu_srv[round] = res[2].cpu;
		/* The same agent, bare, through the minimal relay. */
		gen = current_gen();
		rgen = min_relay_gen();
		if (run_agent(relay_args, v, true) < 3 ||
		    wait_result(gen, RESULT_TIMEOUT_MS, &res[3]) < 0 ||
		    res[3].kind != 't' ||
		    (cpu_relay[round] = min_relay_cpu(rgen)) < 0) {
			if (!interrupted)
				fprintf(stderr, "bench/tunnel: the minimal "
				    "relay's transfer failed\n");
			return -1;
		}
		m[round] = mib_per_s(&res[3]);
		cpu_writer[round] = v[2];
		cpu_min[round] = cpu_writer[round] + cpu_relay[round];
		/* What a tunnel costs that is not carrying bytes: a launch
		 * whose agent sends one byte through a tunnel (the launch,
		 * the grant's key, CSR and handshake), agent and zt-exec. */
		gen = current_gen();
		children = cpu_s(RUSAGE_CHILDREN);
		if (run_agent(one_byte, v, false) < 1 ||
		    wait_result(gen, RESULT_TIMEOUT_MS, &res[2]) < 0 ||
		    res[2].kind != 'x') {
			if (!interrupted)
				fprintf(stderr, "bench/tunnel: the one-byte "
				    "tunnel failed\n");
			return -1;
		}
		cpu_launch[round] = cpu_s(RUSAGE_CHILDREN) - children;
		cpu_carry[round] = cpu_tun[round] - cpu_launch[round];
	}
	md = median(d, R);
	ms = median(s, R);
	mt = median(t, R);
	mm = median(m, R);
	printf("tunnel.throughput direct %.0f MiB/s; tunnel %.0f MiB/s "
	    "(%.2fx, goal >= 0.8x); openssl s_client %.0f MiB/s (tunnel "
	    "%.2fx it)\n", md, mt, mt / md, ms, mt / ms);
	printf("tunnel.relay minimal relay %.0f MiB/s (%.2fx direct), tunnel "
	    "%.2fx it; CPU s per %llu MiB (medians): minimal relay %.3f (the "
	    "writer %.3f, the relay %.3f), tunnel %.3f of which carrying the "
	    "bytes %.3f (%.2fx the minimal relay, goal <= 1.10x) and the rest "
	    "%.3f (launch, key, CSR, handshake: a one-byte tunnel's launch); "
	    "direct client %.3f, so the loopback hop and its copies cost "
	    "%+.3f\n", mm, mm / md, mt / mm, THROUGHPUT_BYTES >> 20,
	    median(cpu_min, R), median(cpu_writer, R), median(cpu_relay, R),
	    median(cpu_tun, R), median(cpu_carry, R),
	    median(cpu_carry, R) / median(cpu_min, R), median(cpu_launch, R),
	    median(cpu_d, R), median(cpu_min, R) - median(cpu_d, R));
	printf("# throughput: median of %d rounds of %llu MiB each, as the "
	    "server counts them (first byte to last); direct = an OpenSSL "
	    "client in this process writing %d KiB at a time, s_client fed "
	    "through a pipe, tunnel = the agent's plain TCP writes of %d KiB "
	    "under zt-exec (%.0f MiB/s by its own clock, to the server's "
	    "ack); minimal relay = the same agent run bare, its plain TCP "
	    "carried into TLS by one thread of this process (poll, read, "
	    "SSL_write with a %d KiB buffer: the least a relay without kernel "
	    "TLS does); ciphers: direct %s/%s, s_client %s/%s, tunnel %s/%s\n",
	    R, THROUGHPUT_BYTES >> 20, CHUNK / 1024, CHUNK / 1024,
	    median(tc, R), MIN_RELAY_BUF / 1024, res[0].cipher, res[0].group,
	    res[1].cipher, res[1].group, res[2].cipher, res[2].group);
	printf("# throughput CPU seconds per %llu MiB (medians): direct "
	    "client %.3f; s_client %.3f; tunnel: the agent %.3f + zt-exec "
	    "%.3f (its whole launch) = %.3f; the server's thread %.3f; mean TLS record "
	    "(plaintext bytes per server SSL_read): direct %.0f, s_client "
	    "%.0f, tunnel %.0f\n", THROUGHPUT_BYTES >> 20,
	    median(cpu_d, R), median(cpu_s_, R), median(cpu_agent, R),
	    median(cpu_zt, R), median(cpu_agent, R) + median(cpu_zt, R),
	    median(cpu_srv, R), median(rec[0], R), median(rec[1], R),
	    median(rec[2], R));
	return 0;
}

/*
 * What part of a grant's first connection a cold OpenSSL is: the steps
 * zt-exec takes at its first tunnel connect (key, CSR, context), timed in
 * fresh processes (the agent's copy run bare).
 */
static int
figure_cold(void)
{
	enum { N = 9 };
	char *args[] = { "openssl-cold", st.ca_pem, NULL };
	double key[N], csr[N], ctx[N], all[N];

	for (int i = 0; i < N; i++) {
		double v[NUMBERS_MAX];

		if (run_agent(args, v, true) < 4)
			return -1;
		key[i] = v[0];
		csr[i] = v[1];
		ctx[i] = v[2];
		all[i] = v[3];
	}
	printf("# a first connection's OpenSSL work in a fresh process "
	    "(medians of %d): P-256 key %.2f ms, signed CSR %.2f ms, client "
	    "SSL_CTX + CA file %.2f ms; %.2f ms in all (the same again in a "
	    "warm process: well under 0.5 ms)\n", N, median(key, N) / 1e3,
	    median(csr, N) / 1e3, median(ctx, N) / 1e3, median(all, N) / 1e3);
	return 0;
}

static int
figure_setup(void)
{
	enum { N_DIRECT = SETUP_ROUNDS * SETUP_DIRECT,
	    N_SCLIENT = SETUP_ROUNDS * SETUP_SCLIENT,
	    N_FIRST = SETUP_ROUNDS * SETUP_LAUNCHES,
	    N_LATER = N_FIRST * SETUP_LATER };
	static double direct[N_DIRECT], direct_srv[N_DIRECT];
	static double sc_launch[N_SCLIENT], sc_srv[N_SCLIENT];
	static double first[N_FIRST], later[N_LATER];
	char port[16], later_count[16];
	char *args[] = { "setup", port, later_count, NULL };
	size_t nd = 0, ns = 0, nf = 0, nl = 0;
	uint64_t opens0 = __atomic_load_n(&tunnel_opens, __ATOMIC_RELAXED);
	uint64_t ztd0, fail0;
	double d, f, l, s, sl, ds;

	snprintf(port, sizeof(port), "%u", (unsigned)st.port);
	snprintf(later_count, sizeof(later_count), "%d", SETUP_LATER);
	for (int i = 0; i < SETUP_WARM; i++) {
		double ignored;

		if (direct_setup(&ignored) < 0)
			return -1;
	}
	pthread_mutex_lock(&result_lock);
	ztd0 = ztd_clients;
	fail0 = handshake_failures;
	pthread_mutex_unlock(&result_lock);
	for (int round = 0; round < SETUP_ROUNDS; round++) {
		for (int i = 0; i < SETUP_DIRECT; i++, nd++)
			if ((direct[nd] = direct_setup(&direct_srv[nd])) < 0) {
				if (!interrupted)
					fprintf(stderr, "bench/tunnel: a "
					    "direct handshake failed\n");
				return -1;
			}
		for (int i = 0; i < SETUP_SCLIENT; i++, ns++)
			if (sclient_setup(&sc_launch[ns], &sc_srv[ns]) < 0)
				return -1;
		for (int i = 0; i < SETUP_LAUNCHES; i++) {
			double v[NUMBERS_MAX];

			if (run_agent(args, v, false) != SETUP_LATER + 1)
				return -1;
			first[nf++] = v[0];
			for (int j = 1; j <= SETUP_LATER; j++)
				later[nl++] = v[j];
		}
	}
	d = median(direct, nd) / 1e3;
	ds = median(direct_srv, nd) / 1e3;
	s = median(sc_srv, ns) / 1e3;
	sl = median(sc_launch, ns) / 1e3;
	f = median(first, nf) / 1e3;
	l = median(later, nl) / 1e3;
	printf("tunnel.setup direct %.2f ms; first of a grant %.2f ms "
	    "(%+.2f ms, goal <= +2 ms); later %.2f ms (%+.2f ms, goal <= "
	    "+0.5 ms); openssl s_client %.2f ms as the server sees it "
	    "(direct %.2f ms seen so; %.1f ms from its launch to the echo)\n",
	    d, f, f - d, l, l - d, s, ds, sl);
	sleep_ms(300);		/* the last launch's syslog lines */
	pthread_mutex_lock(&result_lock);
	printf("# setup: connect() to a 1-byte echo read back, full "
	    "handshakes; medians of %zu in-process direct ones (after %d "
	    "warm-up), %zu zt-exec launches' first connections (each launch "
	    "a new grant: key, CSR, ztd's signature, handshake) and %zu "
	    "later ones (%d a launch), %zu s_client launches; the server "
	    "saw %llu ztd client certificates, %llu failed handshakes; the "
	    "sink counted %llu tunnel opens\n", nd, SETUP_WARM, nf, nl,
	    SETUP_LATER, ns, (unsigned long long)(ztd_clients - ztd0),
	    (unsigned long long)(handshake_failures - fail0),
	    (unsigned long long)(__atomic_load_n(&tunnel_opens,
	    __ATOMIC_RELAXED) - opens0));
	printf("# setup as the server saw it (accept to the echo sent): "
	    "direct %.2f ms; tunnel first of a grant %.2f ms, later %.2f ms "
	    "(the rest of the agent's time is its connect's trip through "
	    "the supervisor and ztd before the upstream TCP connect, and the "
	    "echo's way back through the relay)\n", ds,
	    median(seen_first, n_seen_first) / 1e3,
	    median(seen_later, n_seen_later) / 1e3);
	pthread_mutex_unlock(&result_lock);
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
		fprintf(stderr, "usage: bench/tunnel [ZTD [ZT-EXEC]]\n");
		return 2;
	}
	st.ztd_path = argc >= 2 ? argv[1] : "./ztd";
	if ((r = check_agent_bench("bench/tunnel", st.ztd_path, &st.uid,
	    &st.gid)) != 0)
		return r;
	beside_ztd(st.ztd_path, "ztctl", st.ztctl, sizeof(st.ztctl));
	if ((r = need_zt_exec("bench/tunnel", st.ztd_path, argc == 3 ?
	    argv[2] : NULL, st.zt_exec, sizeof(st.zt_exec))) != 0)
		return r;
	if (!find_program("openssl", st.openssl, sizeof(st.openssl))) {
		fprintf(stderr, "bench/tunnel: skipped: no openssl(1) for the "
		    "s_client baseline\n");
		return 77;
	}
	st.self = getpid();
	umask(022);
	catch_signals(on_signal);

	t0 = now_us();
	uname(&un);
	printf("# bench/tunnel: Linux %s, %d CPUs, nothing pinned; the agent "
	    "(a copy of this program) runs as \"" AGENT_ACCOUNT "\" under "
	    "zt-exec with ztd in software attestation mode; TLS 1.3 to "
	    "127.0.0.1\n", un.release, count_cpus());
	/* BENCH_FIGURES: throughput, setup, cold. */
	if (prepare() < 0 ||
	    (figure_wanted("throughput") && figure_throughput() < 0) ||
	    (figure_wanted("setup") && figure_setup() < 0) ||
	    (figure_wanted("cold") && figure_cold() < 0))
		goto out;
	printf("# bench/tunnel: %.0f s\n", (now_us() - t0) / 1e6);
	status = 0;
out:
	if (interrupted) {
		fprintf(stderr, "bench/tunnel: interrupted\n");
		status = 1;
	}
	teardown(status == 1 && !interrupted);
	return status;
}

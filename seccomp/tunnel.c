/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mutual-TLS tunnel (OpenSSL 3).  One key pair and one certificate of
 * the grant at a time, in memory only, renewed (a new key, a new
 * certificate from ztd) once two thirds of its life have passed, for the
 * tunnels opened from then on; one relay thread per connection at a time,
 * kept for the grant's next connection once it ends (two kept at most).  A
 * connection ends when either side closes or when the grant ends
 * (tunnels_close_all shuts every socket down, which wakes the relays),
 * whatever the life of the certificate it was opened with: its expiry
 * matters at the handshake only.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tunnel.h"
#include "zt_client.h"
#include "zt_clock.h"
#include "zt_log.h"
#include "lazylib.h"		/* last: after the libraries' headers */

#define CONTEXTS_MAX 16			/* one per CA file */
#define CERT_MAX 2048
#define HANDSHAKE_MS 5000
#define ACCEPT_MS 1000
#define BRIDGE_BACKLOG 16		/* a bridge listener's queue */
#define RELAY_BUF (256 * 1024)
#define RELAY_IDLE_MAX 2		/* relay threads kept waiting */

struct context {
	char ca_file[4096];
	SSL_CTX *ctx;
};

/* A destination's last tunnel: what tunnel_early_begin expects its next
 * allow to name. */
#define REMEMBERED_MAX 8
struct remembered {
	char object[300];
	char server_name[256];
	char ca_file[4096];
};

struct relay {
	struct tunnels *t;
	int local;			/* our end of the agent's connection */
	int upstream;			/* TCP to the destination */
	SSL *ssl;
	char object[300];
	unsigned long long in, out;	/* bytes to the agent, from it */
	struct relay *prev, *next;
	struct relay *next_pending;	/* waiting for an idle thread */
};

struct tunnels {
	pthread_mutex_t lock;
	pthread_cond_t gone;		/* a relay left the list */
	struct ztconn *ztd;
	char agent[65];
	bool closed;			/* the grant ended */
	char closed_why[128];
	EVP_PKEY *key;			/* the grant's key pair */
	X509 *cert;			/* its certificate, from ztd */
	char serial[33];
	int64_t not_after;		/* unix time */
	int64_t renew_ms;		/* CLOCK_BOOTTIME: ask for the next */
	int64_t expires_ms;		/* CLOCK_BOOTTIME: no new tunnel with
					 * it from then on */
	struct context contexts[CONTEXTS_MAX];
	size_t n_contexts;
	struct remembered remembered[REMEMBERED_MAX];
	unsigned n_remembered;		/* of them in use */
	unsigned next_remembered;	/* the next replaced */
	struct relay *relays;
	unsigned closing;		/* relays out of the list, still logging */
	/* Relay threads kept between connections (RELAY_IDLE_MAX at most):
	 * a connection is handed to one waiting on WORK rather than to a
	 * thread made for it. */
	pthread_cond_t work;		/* a job pending, or the grant ended */
	struct relay *pending, **pending_tail;
	unsigned n_pending;
	unsigned idle;			/* threads waiting on WORK */
};

/*
 * Made ahead (tunnels_warm), on a thread of its own while the agent's
 * process is being confined: libcrypto loaded, the grant's first key pair
 * and its signed request (handed over as soon as they are made: ztd's
 * signature is asked for while the rest goes on), libssl loaded, a
 * context for each CA file of the profile, and what the first handshake
 * would set up lazily (warm_handshake).  In a fresh process a cold
 * OpenSSL takes about 4.5 ms for the libraries, key, request and context
 * (bench/tunnel's openssl-cold figure), and its first handshake took
 * ~1.7 ms more than the next one under load; the grant's first tunnel
 * waited for both.  One grant per process: module state, taken once by
 * the first identity (warm_take_key, then warm_wait for the contexts), or
 * freed when the grant ends first.
 */
#define WARM_CONTEXTS 8
static struct {
	pthread_t thread;
	bool started;			/* not yet joined */
	pthread_mutex_t lock;		/* made, with step */
	pthread_cond_t step;
	enum { WARM_NOTHING, WARM_KEY, WARM_CONTEXTS_MADE } made;
	EVP_PKEY *key;
	unsigned char *der;		/* its request, signed */
	int der_len;
	size_t n;
	char ca_files[WARM_CONTEXTS][4096];
	SSL_CTX *ctx[WARM_CONTEXTS];	/* CA loaded, no certificate yet */
} warm = { .lock = PTHREAD_MUTEX_INITIALIZER,
    .step = PTHREAD_COND_INITIALIZER };

int
tunnels_new(struct tunnels **out, struct ztconn *ztd, const char *agent)
{
	struct tunnels *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->gone, NULL);
	pthread_cond_init(&t->work, NULL);
	t->pending_tail = &t->pending;
	t->ztd = ztd;
	snprintf(t->agent, sizeof(t->agent), "%s", agent);
	*out = t;
	return 0;
}

static void
log_ssl_error(const char *what, const char *object)
{
	char buf[256] = "";
	unsigned long e = ERR_get_error();

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	zt_log(LOG_WARNING, "tunnel to %s: %s%s%s", object, what,
	    buf[0] ? ": " : "", buf);
}

/*
 * The P-256 public key K into REQ, as its SubjectPublicKeyInfo: the
 * algorithm and curve by OID and the point as the key's own encoding
 * gives it (X9.62 uncompressed, 65 bytes).  X509_REQ_set_pubkey does the
 * same through OpenSSL's encoders, whose first use in a process costs
 * ~0.6 ms (profiled: 590 against 25 us cold) on the way to the grant's
 * first certificate.  1, or 0.
 */
static int
set_request_key(X509_REQ *req, EVP_PKEY *k)
{
	unsigned char point[65], *penc;
	size_t len = 0;

	if (!EVP_PKEY_get_octet_string_param(k,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof(point), &len) ||
	    len != sizeof(point) || point[0] != 0x04 ||
	    (penc = OPENSSL_malloc(len)) == NULL)
		return 0;
	memcpy(penc, point, len);
	if (!X509_PUBKEY_set0_param(X509_REQ_get_X509_PUBKEY(req),
	    OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
	    OBJ_nid2obj(NID_X9_62_prime256v1), penc, (int)len)) {
		OPENSSL_free(penc);
		return 0;
	}
	return 1;			/* penc is the request's now */
}

/* A new P-256 key pair (*KEY) and its request, signed, DER in *DER
 * (*LEN bytes; OPENSSL_free): 0, or -1 with OpenSSL's error queued. */
static int
make_request(EVP_PKEY **key, unsigned char **der, int *len)
{
	X509_REQ *req = X509_REQ_new();
	EVP_PKEY *k = EVP_EC_gen("P-256");
	int n = -1;

	*der = NULL;
	if (k != NULL && req != NULL &&
	    X509_REQ_set_version(req, 0) &&
	    set_request_key(req, k) &&
	    X509_REQ_sign(req, k, EVP_sha256()))
		n = i2d_X509_REQ(req, der);
	X509_REQ_free(req);
	if (n <= 0) {
		/* EVP_PKEY_free clears the private scalar before freeing it. */
		EVP_PKEY_free(k);
		OPENSSL_free(*der);
		*der = NULL;
		return -1;
	}
	*key = k;
	*len = n;
	return 0;
}

/* A client context for CA_FILE: TLS 1.3 only, the server verified against
 * that CA alone; no certificate yet.  NULL with OpenSSL's error queued. */
static SSL_CTX *
new_context(const char *ca_file)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL ||
	    !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    SSL_CTX_load_verify_file(ctx, ca_file) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
	return ctx;
}

/* Wait until the warm thread has made WHAT (a few ms at most; nothing it
 * does waits on anyone), or has ended. */
static void
warm_wait(int what)
{
	pthread_mutex_lock(&warm.lock);
	while (warm.started && (int)warm.made < what)
		pthread_cond_wait(&warm.step, &warm.lock);
	pthread_mutex_unlock(&warm.lock);
}

/* Set what the warm thread has made, and say so. */
static void
warm_made(int what)
{
	pthread_mutex_lock(&warm.lock);
	warm.made = what;
	pthread_cond_broadcast(&warm.step);
	pthread_mutex_unlock(&warm.lock);
}

/* The key pair and request made ahead, once made (the warm thread goes on
 * with the contexts): into *KEY, *DER, *LEN and true, or false when there
 * are none (not made ahead, taken already, or failed).  The lock of the
 * grant's tunnels serialises callers. */
static bool
warm_take_key(EVP_PKEY **key, unsigned char **der, int *len)
{
	warm_wait(WARM_KEY);
	if (warm.key == NULL)
		return false;
	*key = warm.key;
	*der = warm.der;
	*len = warm.der_len;
	warm.key = NULL;
	warm.der = NULL;
	return true;
}

/*
 * What a process's first TLS 1.3 handshake sets up lazily and the key and
 * request have not: the X25519 key exchange (one key made and derived
 * with, thrown away), TLS 1.3's key schedule (its KDFs) and the Finished
 * MAC, fetched once from the provider and cached by OpenSSL.  Fetches,
 * one X25519 key and one derivation: well under a millisecond of CPU,
 * unlike a whole handshake in memory, which was tried and whose CPU (two
 * P-256 keys, four signatures and their checks) delayed the launch on a
 * loaded 2-core machine more than it saved.  Nothing reaches a socket and
 * nothing is kept.
 */
static void
warm_handshake(void)
{
	EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	EVP_PKEY_CTX *d = x != NULL ? EVP_PKEY_CTX_new(x, NULL) : NULL;
	unsigned char secret[32];
	size_t len = sizeof(secret);
	static const char *const kdfs[] = { "TLS13-KDF", "HKDF" };

	if (d != NULL && EVP_PKEY_derive_init(d) == 1 &&
	    EVP_PKEY_derive_set_peer(d, x) == 1)
		EVP_PKEY_derive(d, secret, &len);
	explicit_bzero(secret, sizeof(secret));
	EVP_PKEY_CTX_free(d);
	EVP_PKEY_free(x);
	for (size_t i = 0; i < sizeof(kdfs) / sizeof(kdfs[0]); i++)
		EVP_KDF_free(EVP_KDF_fetch(NULL, kdfs[i], NULL));
	EVP_MAC_free(EVP_MAC_fetch(NULL, "HMAC", NULL));
	ERR_clear_error();		/* nothing of it is anyone's error */
}

static void *
warm_main(void *arg)
{
	char error[256];
	bool loaded;

	(void)arg;
	/* A library that cannot be loaded: the launch says so (zt-exec's
	 * own lazylib_load), and the first connect makes its own. */
	loaded = lazylib_load_crypto(error, sizeof(error)) == 0;
	if (loaded && make_request(&warm.key, &warm.der, &warm.der_len) < 0)
		log_ssl_error("cannot make a key and request ahead",
		    "(launch)");
	warm_made(WARM_KEY);
	/* libssl (and libldns) only now: the key goes to ztd meanwhile. */
	if (!loaded || lazylib_load(error, sizeof(error)) < 0) {
		warm_made(WARM_CONTEXTS_MADE);	/* none: never wait */
		return NULL;
	}
	for (size_t i = 0; i < warm.n; i++)
		if ((warm.ctx[i] = new_context(warm.ca_files[i])) == NULL)
			log_ssl_error("cannot set up TLS ahead", warm.ca_files[i]);
	warm_made(WARM_CONTEXTS_MADE);
	warm_handshake();
	return NULL;
}

/* libssl (and libldns) loaded beside the key's making (the loader and
 * the key's arithmetic do not wait on each other): ready when the warm
 * thread and zt-exec's own check (lazylib_load) come to need them. */
static void *
warm_libraries_main(void *arg)
{
	char error[256];

	(void)arg;
	lazylib_load(error, sizeof(error));	/* the launch reports it */
	return NULL;
}

void
tunnels_warm(const char (*ca_files)[4096], size_t n_ca_files)
{
	pthread_attr_t attr;
	pthread_t thread;

	if (warm.started)
		return;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, warm_libraries_main, NULL) != 0)
		zt_log(LOG_INFO, "libssl not loaded ahead: no thread");
	pthread_attr_destroy(&attr);
	warm.n = 0;
	for (size_t i = 0; i < n_ca_files && i < WARM_CONTEXTS; i++)
		snprintf(warm.ca_files[warm.n++], sizeof(warm.ca_files[0]),
		    "%s", ca_files[i]);
	if (pthread_create(&warm.thread, NULL, warm_main, NULL) == 0)
		warm.started = true;
	else
		zt_log(LOG_WARNING, "tunnel identity not made ahead: no "
		    "thread");
}

/* Free what was made ahead and not taken (the grant's end). */
static void
warm_free(void)
{
	if (warm.started) {
		pthread_join(warm.thread, NULL);
		warm.started = false;
	}
	/* Only what is there: nothing made ahead loads no library to free
	 * it (lazylib.h).  EVP_PKEY_free clears the private scalar. */
	if (warm.key != NULL)
		EVP_PKEY_free(warm.key);
	warm.key = NULL;
	if (warm.der != NULL)
		OPENSSL_free(warm.der);
	warm.der = NULL;
	for (size_t i = 0; i < warm.n; i++) {
		if (warm.ctx[i] != NULL)
			SSL_CTX_free(warm.ctx[i]);
		warm.ctx[i] = NULL;
	}
}

/* Forget the TLS contexts (lock held): they hold the old certificate.
 * Relays keep theirs through their SSL's reference. */
static void
drop_contexts(struct tunnels *t)
{
	for (size_t i = 0; i < t->n_contexts; i++) {
		SSL_CTX_free(t->contexts[i].ctx);
		t->contexts[i].ctx = NULL;
	}
	t->n_contexts = 0;
}

/*
 * A key and a certificate for a new tunnel (lock held): made on first use,
 * made again once two thirds of the certificate's life have passed.  When
 * the renewal fails the certificate in hand serves until it expires.
 */
static int
ensure_identity(struct tunnels *t, const char *object)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	unsigned char *der = NULL, cert_der[CERT_MAX];
	const unsigned char *p = cert_der;
	size_t cert_size = sizeof(cert_der);
	char why[256], serial[33];
	int64_t not_after, lifetime_ms, asked = ztconn_now_ms();
	int n, r = -EACCES;

	if (t->cert != NULL && asked < t->renew_ms)
		return 0;
	/* The first: made ahead (its contexts may still be in the making,
	 * while ztd signs). */
	if (!warm_take_key(&key, &der, &n) &&
	    make_request(&key, &der, &n) < 0) {
		log_ssl_error("cannot make a key and request", object);
		goto out;
	}
	if (ztconn_sign(t->ztd, der, (size_t)n, cert_der, &cert_size, serial,
	    &not_after, &lifetime_ms, why, sizeof(why)) < 0) {
		zt_log(LOG_WARNING, "tunnel to %s: no %scertificate: %s",
		    object, t->cert != NULL ? "new " : "", why);
		goto out;
	}
	cert = d2i_X509(NULL, &p, (long)cert_size);
	if (cert == NULL || X509_check_private_key(cert, key) != 1) {
		log_ssl_error("ztd's certificate does not match the key",
		    object);
		goto out;
	}
	zt_log(LOG_NOTICE, "agent %s: tunnel certificate %s%s, valid until "
	    "%lld (unix time), %lld ms; its key lives in memory only",
	    t->agent, serial, t->cert != NULL ? " (renewed)" : "",
	    (long long)not_after, (long long)lifetime_ms);
	/* EVP_PKEY_free clears the private scalar before freeing it. */
	EVP_PKEY_free(t->key);
	X509_free(t->cert);
	drop_contexts(t);
	t->key = key;
	t->cert = cert;
	key = NULL;
	cert = NULL;
	snprintf(t->serial, sizeof(t->serial), "%s", serial);
	t->not_after = not_after;
	/* From when it was asked for: the reply's delay only shortens it. */
	t->expires_ms = asked + lifetime_ms;
	t->renew_ms = asked + lifetime_ms * 2 / 3;
	r = 0;
out:
	OPENSSL_free(der);
	X509_free(cert);
	EVP_PKEY_free(key);
	/* A renewal that failed: the certificate in hand, while it lasts. */
	if (r < 0 && t->cert != NULL && ztconn_now_ms() < t->expires_ms)
		r = 0;
	return r;
}

/* The TLS context made for CA_FILE, or NULL (lock held). */
static SSL_CTX *
find_context(const struct tunnels *t, const char *ca_file)
{
	for (size_t i = 0; i < t->n_contexts; i++)
		if (strcmp(t->contexts[i].ca_file, ca_file) == 0)
			return t->contexts[i].ctx;
	return NULL;
}

/* The TLS context for CA_FILE (lock held), made on first use: TLS 1.3
 * only, the grant's certificate, the server verified against that CA
 * alone. */
static SSL_CTX *
context_for(struct tunnels *t, const char *ca_file, const char *object)
{
	SSL_CTX *ctx = find_context(t, ca_file);

	if (ctx != NULL)
		return ctx;
	if (t->n_contexts == CONTEXTS_MAX)
		return NULL;
	/* One made ahead for this CA file, or a new one. */
	warm_wait(WARM_CONTEXTS_MADE);
	ctx = NULL;
	for (size_t i = 0; i < warm.n && ctx == NULL; i++)
		if (warm.ctx[i] != NULL &&
		    strcmp(warm.ca_files[i], ca_file) == 0) {
			ctx = warm.ctx[i];
			warm.ctx[i] = NULL;
		}
	if (ctx == NULL)
		ctx = new_context(ca_file);
	if (ctx == NULL ||
	    !SSL_CTX_use_certificate(ctx, t->cert) ||
	    !SSL_CTX_use_PrivateKey(ctx, t->key)) {
		log_ssl_error("cannot set up TLS", object);
		SSL_CTX_free(ctx);
		return NULL;
	}
	snprintf(t->contexts[t->n_contexts].ca_file, sizeof(t->contexts[0].
	    ca_file), "%s", ca_file);
	t->contexts[t->n_contexts++].ctx = ctx;
	return ctx;
}

/* A TCP socket for FAMILY, non-blocking, no Nagle: the fd, or -errno. */
static int
upstream_socket(int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
	    one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* A client SSL of CTX for SERVER_NAME (its SNI and the name its
 * certificate must have), or NULL with OpenSSL's error queued. */
static SSL *
new_ssl(SSL_CTX *ctx, const char *server_name)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL || !SSL_set_tlsext_host_name(ssl, server_name) ||
	    !SSL_set1_host(ssl, server_name)) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

/* Write the first flight SSL made into its memory BIO (tunnel_early_make)
 * to FD, connected, by DEADLINE: true, or false. */
static bool
send_first_flight(SSL *ssl, int fd, int64_t deadline)
{
	char *p = NULL;
	long n = BIO_get_mem_data(SSL_get_wbio(ssl), &p);

	while (n > 0) {
		ssize_t w = send(fd, p, (size_t)n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= w;
		} else if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
		    (w < 0 && errno == EAGAIN &&
		    zt_poll_until(fd, POLLOUT, deadline) < 0) || w == 0)
			return false;
	}
	return n == 0;
}

/*
 * TCP to DEST, then the TLS handshake; the SSL or NULL with *ERR set.
 * EARLY (or NULL) holds a socket and an SSL whose first flight is made
 * (tunnel_early_make): taken from it when there.
 */
static SSL *
open_upstream(SSL_CTX *ctx, struct tunnel_early *early,
    const struct sockaddr *dest, socklen_t len, const char *server_name,
    const char *object, int *fd_out, int *err)
{
	int64_t deadline = zt_monotonic_ms() + HANDSHAKE_MS;
	int fd, r;
	SSL *ssl = NULL;

	*err = -ECONNREFUSED;
	if (early != NULL && early->fd >= 0) {
		fd = early->fd;
		early->fd = -1;
	} else if ((fd = upstream_socket(dest->sa_family)) < 0) {
		*err = fd;
		return NULL;
	}
	if (connect(fd, dest, len) < 0) {
		int e = 0;
		socklen_t l = sizeof(e);

		if (errno != EINPROGRESS ||
		    zt_poll_until(fd, POLLOUT, deadline) < 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0 || e != 0) {
			*err = e != 0 ? -e : -ETIMEDOUT;
			close(fd);
			return NULL;
		}
	}
	if (early != NULL && early->ssl != NULL) {
		/* The first flight made while ztd decided: sent as it is,
		 * the handshake then goes on on the socket. */
		ssl = early->ssl;
		early->ssl = NULL;
		if (!send_first_flight(ssl, fd, deadline)) {
			zt_log(LOG_WARNING, "tunnel to %s: the TLS handshake "
			    "could not be sent", object);
			SSL_free(ssl);
			close(fd);
			return NULL;
		}
		if (!SSL_set_fd(ssl, fd)) {
			log_ssl_error("cannot start TLS", object);
			SSL_free(ssl);
			close(fd);
			return NULL;
		}
	} else if ((ssl = new_ssl(ctx, server_name)) == NULL ||
	    !SSL_set_fd(ssl, fd)) {
		log_ssl_error("cannot start TLS", object);
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	while ((r = SSL_connect(ssl)) != 1) {
		int e = SSL_get_error(ssl, r);

		if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
		    zt_poll_until(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
		    deadline) < 0) {
			long v = SSL_get_verify_result(ssl);

			if (v != X509_V_OK)
				zt_log(LOG_WARNING, "tunnel to %s: the server "
				    "is not %s by its CA: %s", object,
				    server_name,
				    X509_verify_cert_error_string(v));
			else
				log_ssl_error("TLS handshake failed", object);
			SSL_free(ssl);
			close(fd);
			return NULL;
		}
	}
	*fd_out = fd;
	return ssl;
}

void
tunnel_early_init(struct tunnel_early *e)
{
	e->t = NULL;
	e->ctx = NULL;
	e->ssl = NULL;
	e->fd = -1;
}

void
tunnel_early_free(struct tunnel_early *e)
{
	/* SSL_free frees the key share (its private half cleared). */
	if (e->ssl != NULL)
		SSL_free(e->ssl);
	if (e->ctx != NULL)
		SSL_CTX_free(e->ctx);
	if (e->fd >= 0)
		close(e->fd);
	tunnel_early_init(e);
}

/* The last tunnel to OBJECT (lock held), or NULL. */
static struct remembered *
remembered_for(struct tunnels *t, const char *object)
{
	for (unsigned i = 0; i < t->n_remembered; i++)
		if (strcmp(t->remembered[i].object, object) == 0)
			return &t->remembered[i];
	return NULL;
}

/* OBJECT's tunnel went to SERVER_NAME, verified by CA_FILE (lock held). */
static void
remember(struct tunnels *t, const char *object, const char *server_name,
    const char *ca_file)
{
	struct remembered *m = remembered_for(t, object);

	if (m == NULL) {
		m = &t->remembered[t->next_remembered];
		t->next_remembered = (t->next_remembered + 1) % REMEMBERED_MAX;
		if (t->n_remembered < REMEMBERED_MAX)
			t->n_remembered++;
	}
	snprintf(m->object, sizeof(m->object), "%s", object);
	snprintf(m->server_name, sizeof(m->server_name), "%s", server_name);
	snprintf(m->ca_file, sizeof(m->ca_file), "%s", ca_file);
}

bool
tunnel_early_begin(struct tunnels *t, struct tunnel_early *e,
    const char *object, int family)
{
	const struct remembered *m;
	SSL_CTX *ctx = NULL;

	tunnel_early_init(e);
	pthread_mutex_lock(&t->lock);
	/* Only with the certificate in hand and not yet due for renewal:
	 * a renewal is ztd's to answer, after the allow. */
	if (!t->closed && t->cert != NULL &&
	    ztconn_now_ms() < t->renew_ms &&
	    (m = remembered_for(t, object)) != NULL &&
	    (ctx = find_context(t, m->ca_file)) != NULL) {
		SSL_CTX_up_ref(ctx);
		e->t = t;
		e->ctx = ctx;
		e->family = family;
		snprintf(e->server_name, sizeof(e->server_name), "%s",
		    m->server_name);
		snprintf(e->ca_file, sizeof(e->ca_file), "%s", m->ca_file);
	}
	pthread_mutex_unlock(&t->lock);
	return ctx != NULL;
}

void
tunnel_early_make(void *arg)
{
	struct tunnel_early *e = arg;
	BIO *in = NULL, *out = NULL;
	SSL *ssl;
	int r;

	if (e->ctx == NULL)
		return;
	e->fd = upstream_socket(e->family);
	if ((ssl = new_ssl(e->ctx, e->server_name)) == NULL ||
	    (in = BIO_new(BIO_s_mem())) == NULL ||
	    (out = BIO_new(BIO_s_mem())) == NULL) {
		BIO_free(in);
		SSL_free(ssl);
		ERR_clear_error();
		return;			/* made after the answer, then */
	}
	/* Nothing to read yet (an empty memory BIO asks to retry): the
	 * first flight is made into OUT, and the handshake stops there. */
	SSL_set_bio(ssl, in, out);
	r = SSL_connect(ssl);
	if (r == 1 || SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) {
		SSL_free(ssl);
		ERR_clear_error();
		return;
	}
	e->ssl = ssl;
}

int
tunnel_bridge_listener(int domain)
{
	struct sockaddr_storage lis;
	socklen_t l;
	int lfd;

	memset(&lis, 0, sizeof(lis));
	if (domain == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&lis;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		l = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&lis;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		l = sizeof(*in);
	}
	lfd = socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&lis, l) < 0) {
		int e = errno;

		close(lfd);
		return -e;
	}
	return lfd;
}

int
tunnel_bridge_agent_via(int sfd, int lfd)
{
	struct sockaddr_storage lis, mine, peer;
	socklen_t l = sizeof(lis);
	int64_t deadline = zt_monotonic_ms() + ACCEPT_MS;
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	int fd, afd = -1;

	/* It listens for this bridge only, on a port the kernel picks
	 * anew each time: a listener on loopback is open to every local
	 * user, so none is left for anyone to find and fill. */
	if (listen(lfd, BRIDGE_BACKLOG) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&lis, &l) < 0)
		return -errno;
	if (connect(sfd, (struct sockaddr *)&lis, l) < 0 &&
	    errno != EINPROGRESS) {
		afd = -errno;
		goto out;
	}
	/* On loopback the blocking connect returns with the connection
	 * queued: accepted at once, waited for only when it is not. */
	for (;;) {
		socklen_t ml = sizeof(mine), pl = sizeof(peer);

		fd = accept4(lfd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
		if (fd < 0) {
			if ((errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED) ||
			    zt_poll_until(lfd, POLLIN, deadline) < 0)
				break;
			continue;
		}
		/* Anyone else who raced to our port is shown the door. */
		if (getsockname(sfd, (struct sockaddr *)&mine, &ml) == 0 &&
		    ml == pl && memcmp(&mine, &peer, pl) == 0) {
			afd = fd;
			break;
		}
		close(fd);
	}
	if (afd < 0)
		afd = -ECONNREFUSED;
out:
	/* It stops listening (its queue, anyone else's, dropped) and lets
	 * its port go; it stays on the loopback address for the next. */
	if (connect(lfd, &unspec, sizeof(unspec)) < 0 && afd >= 0) {
		close(afd);
		afd = -errno;
	}
	return afd;
}

int
tunnel_bridge_agent(int sfd)
{
	int domain, lfd, r;
	socklen_t dl = sizeof(domain);

	if (getsockopt(sfd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0)
		return -errno;
	if ((lfd = tunnel_bridge_listener(domain)) < 0)
		return lfd;
	r = tunnel_bridge_agent_via(sfd, lfd);
	close(lfd);
	return r;
}

static void *relay_idle_main(void *arg);

struct prepare {
	struct tunnels *t;
	size_t n;
	char ca_files[8][4096];
};

static void *
prepare_main(void *arg)
{
	struct prepare *p = arg;
	struct tunnels *t = p->t;

	pthread_mutex_lock(&t->lock);
	if (!t->closed && ensure_identity(t, "(prepared at launch)") == 0)
		for (size_t i = 0; i < p->n; i++)
			context_for(t, p->ca_files[i], "(prepared at launch)");
	pthread_mutex_unlock(&t->lock);
	free(p);
	/* Then the grant's first relay thread, made already: it waits
	 * for the first connection. */
	return relay_idle_main(t);
}

void
tunnels_prepare(struct tunnels *t, const char (*ca_files)[4096],
    size_t n_ca_files)
{
	struct prepare *p = calloc(1, sizeof(*p));
	pthread_attr_t attr;
	pthread_t thread;

	if (p == NULL)
		return;
	p->t = t;
	for (size_t i = 0; i < n_ca_files && i < 8; i++)
		snprintf(p->ca_files[p->n++], sizeof(p->ca_files[0]), "%s",
		    ca_files[i]);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, prepare_main, p) != 0) {
		zt_log(LOG_WARNING, "agent %s: tunnel identity not prepared",
		    t->agent);
		free(p);
	}
	pthread_attr_destroy(&attr);
}

static void
unlink_relay(struct relay *r)
{
	struct tunnels *t = r->t;

	pthread_mutex_lock(&t->lock);
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		t->relays = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	pthread_mutex_unlock(&t->lock);
}

/* Write all of BUF to the TLS side; false when it is gone. */
static bool
ssl_write_all(struct relay *r, const char *buf, size_t len)
{
	while (len > 0) {
		int n = SSL_write(r->ssl, buf, (int)len), e;

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		e = SSL_get_error(r->ssl, n);
		if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
		    zt_poll_until(r->upstream, e == SSL_ERROR_WANT_READ ? POLLIN :
		    POLLOUT, zt_monotonic_ms() + 30000) < 0)
			return false;
	}
	return true;
}

static bool
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Relay R both ways with BUF (RELAY_BUF bytes; NULL: none, R ends at
 * once) until either end closes or the grant ends; then log and free R. */
static void
relay_run(struct relay *r, char *buf)
{
	struct tunnels *t = r->t;
	const char *why = "the agent closed it";

	while (buf != NULL) {
		struct pollfd pfd[2] = {
			{ .fd = r->local, .events = POLLIN },
			{ .fd = r->upstream, .events = POLLIN },
		};
		int n;

		if (SSL_pending(r->ssl) == 0 && poll(pfd, 2, 60000) <= 0)
			continue;
		if (SSL_pending(r->ssl) > 0 || pfd[1].revents != 0) {
			n = SSL_read(r->ssl, buf, RELAY_BUF);
			if (n > 0) {
				r->in += (unsigned long long)n;
				if (!write_all(r->local, buf, (size_t)n)) {
					why = "the agent's end failed";
					break;
				}
			} else {
				int e = SSL_get_error(r->ssl, n);

				if (e != SSL_ERROR_WANT_READ &&
				    e != SSL_ERROR_WANT_WRITE) {
					why = e == SSL_ERROR_ZERO_RETURN ?
					    "the server closed it" :
					    "the server's end failed";
					break;
				}
			}
		}
		if (pfd[0].revents != 0) {
			ssize_t m = read(r->local, buf, RELAY_BUF);
			bool stop = false;

			if (m <= 0) {
				if (m < 0 && errno == EINTR)
					continue;
				break;		/* the agent closed it */
			}
			/* Drain what is queued before polling again: one
			 * wake-up per burst, not per buffer. */
			for (int burst = 0; m > 0; burst++) {
				r->out += (unsigned long long)m;
				if (!ssl_write_all(r, buf, (size_t)m)) {
					why = "the server's end failed";
					stop = true;
					break;
				}
				if (burst == 15)
					break;	/* let the other way run */
				m = recv(r->local, buf, RELAY_BUF, MSG_DONTWAIT);
			}
			if (stop || m == 0)
				break;		/* m == 0: the agent closed it */
		}
	}
	/* Out of the list first: tunnels_close_all must never shut down a
	 * descriptor number this thread has closed (it may be reused). */
	unlink_relay(r);
	pthread_mutex_lock(&t->lock);
	if (t->closed)
		why = t->closed_why;
	t->closing++;
	pthread_mutex_unlock(&t->lock);
	SSL_shutdown(r->ssl);
	SSL_free(r->ssl);
	shutdown(r->local, SHUT_RDWR);
	close(r->local);
	close(r->upstream);
	zt_log(LOG_NOTICE, "tunnel close: agent=\"%s\" object=\"%s\" "
	    "bytes_out=%llu bytes_in=%llu reason=\"%s\"", t->agent, r->object,
	    r->out, r->in, why);
	free(r);
	pthread_mutex_lock(&t->lock);
	t->closing--;
	pthread_cond_broadcast(&t->gone);
	pthread_mutex_unlock(&t->lock);
}

/*
 * The next connection for a relay thread of T that has finished one (or
 * that has just started idle): handed over by tunnel_connect, waited
 * for; NULL when the thread is to end (the grant ended, or enough
 * threads wait already).
 */
static struct relay *
relay_next(struct tunnels *t)
{
	struct relay *r = NULL;

	pthread_mutex_lock(&t->lock);
	if (t->pending == NULL && (t->closed || t->idle >= RELAY_IDLE_MAX)) {
		pthread_mutex_unlock(&t->lock);
		return NULL;
	}
	t->idle++;
	while (t->pending == NULL && !t->closed)
		pthread_cond_wait(&t->work, &t->lock);
	t->idle--;
	/* A connection handed over before the end is still served: its
	 * sockets were shut down with the others, it ends and logs. */
	if ((r = t->pending) != NULL) {
		t->pending = r->next_pending;
		if (t->pending == NULL)
			t->pending_tail = &t->pending;
		t->n_pending--;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* Relay R (NULL: wait for the first), then the next connections of T
 * handed over, with one buffer (its first page touched before any
 * connection waits on it). */
static void
relay_serve(struct tunnels *t, struct relay *r)
{
	char *buf = malloc(RELAY_BUF);

	if (buf != NULL)
		buf[0] = 0;
	if (r == NULL)
		r = relay_next(t);
	for (; r != NULL; r = relay_next(t))
		relay_run(r, buf);
	free(buf);
}

/* A relay thread made ahead of any connection (ARG: the grant's
 * tunnels). */
static void *
relay_idle_main(void *arg)
{
	relay_serve(arg, NULL);
	return NULL;
}

/* A relay thread made for ARG's connection (a struct relay). */
static void *
relay_main(void *arg)
{
	struct relay *r = arg;

	relay_serve(r->t, r);
	return NULL;
}

int
tunnel_connect(struct tunnels *t, int sfd, const struct sockaddr *dest,
    socklen_t len, const char *server_name, const char *ca_file,
    const char *object, struct tunnel_early *early)
{
	struct relay *r;
	pthread_attr_t attr;
	pthread_t thread;
	SSL_CTX *ctx;
	SSL *ssl;
	char serial[sizeof(t->serial)];
	int upstream = -1, local, err;

	if (server_name[0] == '\0' || ca_file[0] == '\0') {
		zt_log(LOG_WARNING, "tunnel to %s: the rule names no "
		    "server_name or ca", object);
		if (early != NULL)
			tunnel_early_free(early);
		return -EACCES;
	}
	pthread_mutex_lock(&t->lock);
	if (t->closed || ensure_identity(t, object) < 0 ||
	    (ctx = context_for(t, ca_file, object)) == NULL) {
		pthread_mutex_unlock(&t->lock);
		if (early != NULL)
			tunnel_early_free(early);
		return -EACCES;
	}
	SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&t->lock);
	/* What was made while ztd decided serves only this allow's server
	 * name and CA, with the certificate of now (a renewal made a new
	 * context). */
	if (early != NULL && (early->t != t || early->ctx != ctx ||
	    early->family != dest->sa_family ||
	    strcmp(early->server_name, server_name) != 0 ||
	    strcmp(early->ca_file, ca_file) != 0))
		tunnel_early_free(early);
	ssl = open_upstream(ctx, early, dest, len, server_name, object,
	    &upstream, &err);
	SSL_CTX_free(ctx);
	if (early != NULL)
		tunnel_early_free(early);
	if (ssl == NULL)
		return err;
	if ((local = tunnel_bridge_agent(sfd)) < 0 ||
	    (r = calloc(1, sizeof(*r))) == NULL) {
		SSL_free(ssl);
		close(upstream);
		if (local >= 0)
			close(local);
		return local < 0 ? local : -ENOMEM;
	}
	r->t = t;
	r->local = local;
	r->upstream = upstream;
	r->ssl = ssl;
	snprintf(r->object, sizeof(r->object), "%s", object);
	pthread_mutex_lock(&t->lock);
	if (t->closed) {
		pthread_mutex_unlock(&t->lock);
		SSL_free(ssl);
		close(upstream);
		close(local);
		free(r);
		return -EACCES;
	}
	r->next = t->relays;
	if (t->relays != NULL)
		t->relays->prev = r;
	t->relays = r;
	remember(t, object, server_name, ca_file);
	snprintf(serial, sizeof(serial), "%s", t->serial);
	pthread_mutex_unlock(&t->lock);
	/* Before a relay has it (its close line comes after, and its SSL
	 * may be gone once it runs). */
	zt_log(LOG_NOTICE, "tunnel open: agent=\"%s\" object=\"%s\" "
	    "server_name=\"%s\" cert_serial=%s tls=%s", t->agent, object,
	    server_name, serial, SSL_get_version(ssl));
	/* To a relay thread that waits for one, or to a new one. */
	pthread_mutex_lock(&t->lock);
	if (t->idle > t->n_pending) {
		*t->pending_tail = r;
		t->pending_tail = &r->next_pending;
		t->n_pending++;
		pthread_cond_signal(&t->work);
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	pthread_mutex_unlock(&t->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, relay_main, r) != 0) {
		pthread_attr_destroy(&attr);
		unlink_relay(r);
		zt_log(LOG_NOTICE, "tunnel close: agent=\"%s\" object=\"%s\" "
		    "bytes_out=0 bytes_in=0 reason=\"no relay thread\"",
		    t->agent, object);
		SSL_free(ssl);
		close(upstream);
		close(local);
		free(r);
		return -EAGAIN;
	}
	pthread_attr_destroy(&attr);
	return 0;
}

void
tunnels_close_all(struct tunnels *t, const char *why)
{
	pthread_mutex_lock(&t->lock);
	if (!t->closed)		/* the first reason is the reason */
		snprintf(t->closed_why, sizeof(t->closed_why), "%s", why);
	t->closed = true;
	/* Shutting the sockets down wakes each relay, which ends itself;
	 * the TCP side closes at once, both ways. */
	for (struct relay *r = t->relays; r != NULL; r = r->next) {
		shutdown(r->upstream, SHUT_RDWR);
		shutdown(r->local, SHUT_RDWR);
	}
	pthread_cond_broadcast(&t->work);	/* idle relay threads end */
	drop_contexts(t);
	warm_free();
	/* EVP_PKEY_free clears the private scalar before freeing it.  Only
	 * what is there: a grant that made no tunnel never loads libcrypto
	 * (lazylib.h), not even to free nothing at its end. */
	if (t->key != NULL)
		EVP_PKEY_free(t->key);
	t->key = NULL;
	if (t->cert != NULL)
		X509_free(t->cert);
	t->cert = NULL;
	/* Let the relays finish and write their close lines (the process
	 * may exit right after), for at most a second. */
	{
		struct timespec deadline;

		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 1;
		while ((t->relays != NULL || t->closing > 0) &&
		    pthread_cond_timedwait(&t->gone, &t->lock, &deadline) == 0)
			;
	}
	pthread_mutex_unlock(&t->lock);
}

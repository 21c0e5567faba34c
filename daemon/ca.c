/* SPDX-License-Identifier: Apache-2.0 */
/* The tunnel CA, with OpenSSL 3: a file-held EC P-256 key. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "zt_err.h"
#include "zt_log.h"
#include "ztd.h"

#define CA_DAYS 3650
#define SERIAL_BYTES 16
/*
 * Serials recorded ahead, CA_RESERVE at a time: one rewrite and fsync of
 * ca-issued serves that many certificates instead of one each (about a
 * millisecond of a grant's first tunnel).  A reserved line names no grant
 * (32 zeros) and a notAfter CA_RESERVE_WINDOW seconds past the longest
 * certificate that could be issued now; a reserved serial is used only
 * while the certificate's notAfter is within it, so the line on disk
 * always covers the certificate.  A ztd that ends before writing the line
 * again leaves it unrevoked, and the next one revokes it at its start, as
 * every unrevoked line: a serial used or not, it is never forgotten.
 * Reserved when a certificate needs one, never at start (a ztd restarted
 * again and again, with no tunnel, would fill CA_ISSUED_MAX with serials
 * revoked unused), and for a short window: what a restart leaves unused
 * stays in the CRL no longer than an issued certificate would by much.
 */
#define CA_RESERVE 4
#define CA_RESERVE_WINDOW 60

/* A certificate issued and not yet expired by both clocks. */
struct issued {
	unsigned char serial[SERIAL_BYTES];
	char grant[33];
	time_t not_after;		/* wall clock, as in the certificate */
	int64_t expires_ms;		/* CLOCK_BOOTTIME */
	time_t revoked_at;		/* 0: its grant lives (or ended after
					 * it expired) */
	bool reserved;			/* recorded ahead, not issued yet */
};

/* The grant of a reserved line. */
static const char reserved_grant[33] = "00000000000000000000000000000000";

struct ca {
	EVP_PKEY *key;
	X509 *cert;
	char trust_domain[256];
	char issued_path[4096];		/* state_dir/ca-issued */
	struct issued issued[CA_ISSUED_MAX];
	size_t n_issued;
	uint64_t crl_number;		/* the last CRL's */
};

static int __attribute__((format(printf, 3, 4)))
fail(char *error, int r, const char *fmt, ...)
{
	char what[CA_ERROR_MAX - 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(error, CA_ERROR_MAX, "tunnel CA: %s", what);
	return r;
}

/*
 * What ztd issued, kept across its restarts: a certificate whose grant
 * ended with the previous ztd (every grant does) must stay in the CRL.
 * One line each, "SERIAL GRANT NOT_AFTER REVOKED_AT" (hex, hex, unix
 * times; 0: not revoked), in state_dir/ca-issued, 0600, rewritten whole
 * (a new file renamed over it, after fsync) when a certificate is issued
 * (before it leaves) and when one is revoked.
 */
static int
save_issued(const struct ca *ca)
{
	char tmp[sizeof(ca->issued_path) + 8];
	FILE *f;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.new", ca->issued_path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		return -errno;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return -ENOMEM;
	}
	ok = 1;
	for (size_t i = 0; i < ca->n_issued && ok; i++) {
		const struct issued *e = &ca->issued[i];

		for (size_t j = 0; j < SERIAL_BYTES && ok; j++)
			ok = fprintf(f, "%02x", e->serial[j]) == 2;
		ok = ok && fprintf(f, " %s %lld %lld\n", e->grant,
		    (long long)e->not_after, (long long)e->revoked_at) > 0;
	}
	ok = ok && fflush(f) == 0 && fsync(fd) == 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, ca->issued_path) < 0) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

static int
hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
	    c - 'a' + 10 : -1;
}

/* One line of ca-issued into E; false when it is not one. */
static bool
parse_issued(const char *line, struct issued *e)
{
	long long not_after, revoked_at;
	char serial[2 * SERIAL_BYTES + 1], grant[33], tail;

	memset(e, 0, sizeof(*e));
	if (sscanf(line, "%32s %32s %lld %lld%c", serial, grant, &not_after,
	    &revoked_at, &tail) != 5 || tail != '\n' ||
	    strlen(serial) != 2 * SERIAL_BYTES || strlen(grant) != 32 ||
	    not_after <= 0 || revoked_at < 0 || revoked_at > not_after)
		return false;
	for (size_t i = 0; i < SERIAL_BYTES; i++) {
		int hi = hex_value(serial[2 * i]), lo = hex_value(serial[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		e->serial[i] = (unsigned char)(hi << 4 | lo);
	}
	for (size_t i = 0; i < 32; i++)
		if (hex_value(grant[i]) < 0)
			return false;
	memcpy(e->grant, grant, sizeof(grant));
	e->not_after = (time_t)not_after;
	e->revoked_at = (time_t)revoked_at;
	return true;
}

/*
 * Read ca-issued (absent: nothing issued yet).  Each certificate still
 * valid by the wall clock is revoked as of now if it was not (its grant
 * ended with the ztd that issued it), and kept at least CA_LIFETIME_MAX
 * seconds on this boot's clock, which no longer knows when it was issued.
 * A file ztd cannot read or trust refuses the CA: a revocation forgotten
 * would keep a certificate of an ended grant valid.
 */
static int
load_issued(struct ca *ca, char *error)
{
	char line[160];
	struct stat st;
	time_t now = time(NULL);
	int64_t keep_until = ztd_now_ms() + (int64_t)CA_LIFETIME_MAX * 1000;
	unsigned n = 0, revoked = 0, ahead = 0;
	FILE *f;
	int fd = open(ca->issued_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return fail(error, -errno, "cannot open %.200s",
		    ca->issued_path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		close(fd);
		return fail(error, ZT_E_UNSAFE, "%.160s must be a regular file "
		    "of ztd's user, mode 0600", ca->issued_path);
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return fail(error, -ENOMEM, "%s", "fdopen");
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct issued e;

		n++;
		if (!parse_issued(line, &e) || ca->n_issued == CA_ISSUED_MAX) {
			fclose(f);
			return fail(error, -EBADMSG, "%.200s line %u is not "
			    "one of ztd's issued certificates", ca->issued_path,
			    n);
		}
		if (now > e.not_after)
			continue;	/* expired: no CRL needs it */
		/* A serial recorded ahead may have been used since. */
		if (e.revoked_at == 0) {
			e.revoked_at = now;
			if (strcmp(e.grant, reserved_grant) == 0)
				ahead++;
			else
				revoked++;
		}
		e.expires_ms = keep_until;
		ca->issued[ca->n_issued++] = e;
	}
	fclose(f);
	if (revoked + ahead > 0) {
		zt_log(LOG_NOTICE, "tunnel CA: %u unexpired certificates of "
		    "grants that ended with the previous ztd revoked, and %u "
		    "serials it had recorded ahead (used or not)", revoked,
		    ahead);
		if (save_issued(ca) < 0)
			zt_log(LOG_ERR, "tunnel CA: cannot record revocations "
			    "in %s", ca->issued_path);
	}
	return 0;
}

/* Drop what has expired by both clocks. */
static void
forget_expired(struct ca *ca)
{
	time_t now = time(NULL);
	int64_t boot = ztd_now_ms();
	size_t kept = 0;

	for (size_t i = 0; i < ca->n_issued; i++) {
		const struct issued *e = &ca->issued[i];

		if (now > e->not_after && boot >= e->expires_ms)
			continue;
		ca->issued[kept++] = *e;
	}
	ca->n_issued = kept;
}


/* A random positive 128-bit serial into RAW. */
static int
random_serial(unsigned char raw[SERIAL_BYTES])
{
	if (RAND_bytes(raw, SERIAL_BYTES) != 1)
		return -EIO;
	raw[0] &= 0x7f;			/* positive, as DER wants */
	raw[0] |= 0x40;			/* and 16 bytes long */
	return 0;
}

/* The serial RAW set into X, and (HEX not NULL) written as hex. */
static int
set_serial(X509 *x, const unsigned char raw[SERIAL_BYTES],
    char hex[CA_SERIAL_HEX])
{
	BIGNUM *bn;
	int ok;

	bn = BN_bin2bn(raw, SERIAL_BYTES, NULL);
	ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) !=
	    NULL;
	BN_free(bn);
	if (!ok)
		return -ENOMEM;
	if (hex != NULL)
		for (size_t i = 0; i < SERIAL_BYTES; i++)
			snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/*
 * Record up to CA_RESERVE new serials ahead (as many as CA_ISSUED_MAX
 * leaves room for), on disk before any is used.  0, ZT_E_BUSY when there
 * is no room, or the error of writing ca-issued (nothing reserved then).
 */
static int
reserve_serials(struct ca *ca)
{
	size_t before = ca->n_issued, room = CA_ISSUED_MAX - ca->n_issued;
	time_t now = time(NULL);
	int64_t boot = ztd_now_ms();
	int r;

	if (room == 0)
		return ZT_E_BUSY;
	for (size_t i = 0; i < CA_RESERVE && i < room; i++) {
		struct issued *e = &ca->issued[ca->n_issued];

		memset(e, 0, sizeof(*e));
		if ((r = random_serial(e->serial)) < 0) {
			ca->n_issued = before;
			return r;
		}
		memcpy(e->grant, reserved_grant, sizeof(e->grant));
		e->reserved = true;
		e->not_after = now + CA_LIFETIME_MAX + CA_RESERVE_WINDOW;
		e->expires_ms = boot +
		    (int64_t)(CA_LIFETIME_MAX + CA_RESERVE_WINDOW) * 1000;
		ca->n_issued++;
	}
	if ((r = save_issued(ca)) < 0)
		ca->n_issued = before;
	return r;
}

/* A reserved serial whose line covers a certificate valid until
 * NOT_AFTER, or NULL. */
static struct issued *
take_reserved(struct ca *ca, time_t not_after)
{
	for (size_t i = 0; i < ca->n_issued; i++)
		if (ca->issued[i].reserved &&
		    not_after <= ca->issued[i].not_after)
			return &ca->issued[i];
	return NULL;
}

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -EINVAL;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -ENOMEM;
}

static int
create(struct ca *ca, const char *key_path, const char *cert_path,
    char *error)
{
	X509_NAME *name;
	unsigned char raw[SERIAL_BYTES];
	char cn[300];
	FILE *f;
	int fd, r;

	ca->key = EVP_EC_gen("P-256");
	ca->cert = X509_new();
	if (ca->key == NULL || ca->cert == NULL)
		return fail(error, -ENOMEM, "%s", "cannot make a key");
	snprintf(cn, sizeof(cn), "ztgate tunnel CA %s", ca->trust_domain);
	name = X509_get_subject_name(ca->cert);
	if (!X509_set_version(ca->cert, 2) ||
	    random_serial(raw) < 0 || set_serial(ca->cert, raw, NULL) < 0 ||
	    !X509_gmtime_adj(X509_getm_notBefore(ca->cert), -300) ||
	    !X509_gmtime_adj(X509_getm_notAfter(ca->cert),
	    (long)CA_DAYS * 86400) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(ca->cert, name) ||
	    !X509_set_pubkey(ca->cert, ca->key) ||
	    add_ext(ca->cert, ca->cert, NID_basic_constraints,
	    "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(ca->cert, ca->cert, NID_key_usage,
	    "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(ca->cert, ca->cert, NID_subject_key_identifier,
	    "hash") < 0 ||
	    !X509_sign(ca->cert, ca->key, EVP_sha256()))
		return fail(error, -EINVAL, "%s", "cannot make the certificate");
	/* The key: created 0600, never anything else. */
	fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0)
		return fail(error, -errno, "cannot create %.200s", key_path);
	f = fdopen(fd, "w");
	r = f != NULL && PEM_write_PrivateKey(f, ca->key, NULL, NULL, 0,
	    NULL, NULL) && fflush(f) == 0 && fsync(fd) == 0;
	if (f != NULL)
		fclose(f);
	else
		close(fd);
	if (!r) {
		unlink(key_path);
		return fail(error, -EIO, "cannot write %.200s", key_path);
	}
	f = fopen(cert_path, "we");
	r = f != NULL && PEM_write_X509(f, ca->cert) && fflush(f) == 0;
	if (f != NULL)
		fclose(f);
	if (!r)
		return fail(error, -EIO, "cannot write %.200s", cert_path);
	chmod(cert_path, 0644);
	return 0;
}

static int
load(struct ca *ca, const char *key_path, const char *cert_path,
    char *error)
{
	struct stat st;
	FILE *f;
	int fd;

	fd = open(key_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return fail(error, -errno, "cannot open %.200s", key_path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		close(fd);
		return fail(error, ZT_E_UNSAFE, "%.160s must be a regular file of "
		    "ztd's user, mode 0600", key_path);
	}
	f = fdopen(fd, "r");
	if (f == NULL) {
		close(fd);
		return fail(error, -ENOMEM, "%s", "fdopen");
	}
	ca->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	f = fopen(cert_path, "re");
	if (f != NULL) {
		ca->cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (ca->key == NULL || ca->cert == NULL ||
	    X509_check_private_key(ca->cert, ca->key) != 1)
		return fail(error, -EBADMSG, "%.160s and its certificate do not "
		    "match (or cannot be read)", key_path);
	return 0;
}

int
ca_open(const char *state_dir, const char *trust_domain, struct ca **out,
    char *error)
{
	char key_path[4096], cert_path[4096];
	struct ca *ca = calloc(1, sizeof(*ca));
	int r;

	if (ca == NULL)
		return fail(error, -ENOMEM, "%s", "out of memory");
	snprintf(ca->trust_domain, sizeof(ca->trust_domain), "%s",
	    trust_domain);
	snprintf(key_path, sizeof(key_path), "%s/ca.key", state_dir);
	snprintf(cert_path, sizeof(cert_path), "%s/ca.pem", state_dir);
	snprintf(ca->issued_path, sizeof(ca->issued_path), "%s/ca-issued",
	    state_dir);
	if (access(key_path, F_OK) == 0)
		r = load(ca, key_path, cert_path, error);
	else
		r = create(ca, key_path, cert_path, error);
	if (r == 0)
		r = load_issued(ca, error);
	if (r < 0) {
		ca_free(ca);
		return r;
	}
	*out = ca;
	return 0;
}

void
ca_free(struct ca *ca)
{
	if (ca == NULL)
		return;
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	free(ca);
}

int
ca_pem(const struct ca *ca, char *buf, size_t size)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int r = -ENOSPC;

	if (bio == NULL)
		return -ENOMEM;
	if (PEM_write_bio_X509(bio, ca->cert) &&
	    (n = BIO_get_mem_data(bio, &data)) > 0 && (size_t)n < size) {
		memcpy(buf, data, (size_t)n);
		buf[n] = '\0';
		r = 0;
	}
	BIO_free(bio);
	return r;
}

int
ca_issue(struct ca *ca, const uint8_t *csr, size_t csr_size,
    const char *agent, const char *grant_id, unsigned lifetime,
    uint8_t *out, size_t *out_size, char serial[CA_SERIAL_HEX],
    time_t *not_after, char *error)
{
	const unsigned char *p = csr;
	X509_REQ *req = NULL;
	EVP_PKEY *key;
	X509 *cert = NULL;
	struct issued *slot;
	char san[600], group[32] = "";
	unsigned char *der = NULL;
	unsigned of_grant = 0;
	size_t glen = 0;
	time_t now = time(NULL), cert_not_after = now + (time_t)lifetime;
	int n, r = -EINVAL;

	if (lifetime < 1 || lifetime > CA_LIFETIME_MAX)
		return fail(error, -EINVAL, "a lifetime of %u s", lifetime);
	forget_expired(ca);
	for (size_t i = 0; i < ca->n_issued; i++)
		if (strcmp(ca->issued[i].grant, grant_id) == 0)
			of_grant++;
	if (of_grant >= CA_PER_GRANT_MAX)
		return fail(error, ZT_E_BUSY, "grant %.40s already holds %u "
		    "unexpired certificates", grant_id, of_grant);
	/* Its serial on disk before it leaves: one recorded ahead. */
	if ((slot = take_reserved(ca, cert_not_after)) == NULL) {
		r = reserve_serials(ca);
		if (r == ZT_E_BUSY)
			return fail(error, r, "%u unexpired certificates are "
			    "kept for revocation, the most there may be",
			    (unsigned)ca->n_issued);
		if (r < 0 || (slot = take_reserved(ca, cert_not_after)) ==
		    NULL)
			return fail(error, r < 0 ? r : -EIO, "cannot record "
			    "the certificate in %.200s: not issued",
			    ca->issued_path);
	}
	req = d2i_X509_REQ(NULL, &p, (long)csr_size);
	if (req == NULL || p != csr + csr_size) {
		r = fail(error, -EBADMSG, "%s", "the request is not one DER "
		    "certificate request");
		goto out;
	}
	key = X509_REQ_get0_pubkey(req);
	if (key == NULL || X509_REQ_verify(req, key) != 1) {
		r = fail(error, -EBADMSG, "%s", "the request's signature does "
		    "not verify");
		goto out;
	}
	if (!EVP_PKEY_is_a(key, "EC") ||
	    !EVP_PKEY_get_group_name(key, group, sizeof(group), &glen) ||
	    strcmp(group, "prime256v1") != 0) {
		r = fail(error, -EINVAL, "%s", "the key must be EC P-256");
		goto out;
	}
	snprintf(san, sizeof(san), "URI:spiffe://%s/agent/%s,"
	    "URI:urn:ztgate:grant:%s", ca->trust_domain, agent, grant_id);
	cert = X509_new();
	if (cert == NULL ||
	    !X509_set_version(cert, 2) ||
	    set_serial(cert, slot->serial, serial) < 0 ||
	    !ASN1_TIME_set(X509_getm_notBefore(cert), now - CA_BACKDATE) ||
	    !ASN1_TIME_set(X509_getm_notAfter(cert), cert_not_after) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN",
	    MBSTRING_UTF8, (const unsigned char *)agent, -1, -1, 0) ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(ca->cert)) ||
	    !X509_set_pubkey(cert, key) ||
	    add_ext(cert, ca->cert, NID_basic_constraints,
	    "critical,CA:FALSE") < 0 ||
	    add_ext(cert, ca->cert, NID_key_usage,
	    "critical,digitalSignature") < 0 ||
	    add_ext(cert, ca->cert, NID_ext_key_usage, "clientAuth") < 0 ||
	    add_ext(cert, ca->cert, NID_subject_alt_name, san) < 0 ||
	    add_ext(cert, ca->cert, NID_authority_key_identifier,
	    "keyid:always") < 0 ||
	    !X509_sign(cert, ca->key, EVP_sha256())) {
		r = fail(error, -EINVAL, "%s", "cannot make the certificate");
		goto out;
	}
	n = i2d_X509(cert, &der);
	if (n <= 0 || (size_t)n > CA_CERT_MAX) {
		r = fail(error, -ENOSPC, "%s", "the certificate is too large");
		goto out;
	}
	memcpy(out, der, (size_t)n);
	*out_size = (size_t)n;
	*not_after = cert_not_after;
	/* Its serial was on disk before: a grant ending from now on revokes
	 * it here, this ztd's end at the next one's start.  ca-issued has
	 * its grant and notAfter from the next time it is written. */
	snprintf(slot->grant, sizeof(slot->grant), "%s", grant_id);
	slot->not_after = cert_not_after;
	slot->expires_ms = ztd_now_ms() + (int64_t)lifetime * 1000;
	slot->reserved = false;
	r = 0;
out:
	OPENSSL_free(der);
	X509_free(cert);
	X509_REQ_free(req);
	return r;
}

unsigned
ca_grant_ended(struct ca *ca, const char *grant_id)
{
	time_t now = time(NULL);
	unsigned count = 0;

	if (ca == NULL)
		return 0;
	forget_expired(ca);
	for (size_t i = 0; i < ca->n_issued; i++) {
		struct issued *e = &ca->issued[i];

		if (e->revoked_at != 0 || strcmp(e->grant, grant_id) != 0)
			continue;
		/* A second of notAfter left still counts: the revocation
		 * date must not be after notAfter, so it is clamped. */
		e->revoked_at = now < e->not_after ? now : e->not_after;
		count++;
	}
	/* Revoked in memory already (this CRL has it); on disk so that the
	 * next ztd's has it, which a failure here only delays: every
	 * certificate not revoked on disk is revoked when ztd starts. */
	if (count > 0 && save_issued(ca) < 0)
		zt_log(LOG_ERR, "tunnel CA: cannot record revocations in %s",
		    ca->issued_path);
	return count;
}

/* One CRL entry: SERIAL revoked at WHEN, reason cessationOfOperation. */
static int
add_revoked(X509_CRL *crl, const struct issued *e)
{
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_INTEGER *serial = NULL;
	ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();
	ASN1_TIME *when = ASN1_TIME_set(NULL, e->revoked_at);
	BIGNUM *bn = BN_bin2bn(e->serial, sizeof(e->serial), NULL);
	int ok;

	ok = rev != NULL && reason != NULL && when != NULL && bn != NULL &&
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	    X509_REVOKED_set_serialNumber(rev, serial) &&
	    X509_REVOKED_set_revocationDate(rev, when) &&
	    ASN1_ENUMERATED_set(reason, CRL_REASON_CESSATION_OF_OPERATION) &&
	    X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0, 0) &&
	    X509_CRL_add0_revoked(crl, rev);
	if (ok)
		rev = NULL;		/* the CRL's now */
	X509_REVOKED_free(rev);
	ASN1_INTEGER_free(serial);
	ASN1_ENUMERATED_free(reason);
	ASN1_TIME_free(when);
	BN_free(bn);
	return ok ? 0 : -ENOMEM;
}

int
ca_crl(struct ca *ca, char *buf, size_t size, char *error)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *this_update = NULL, *next_update = NULL;
	ASN1_INTEGER *number = ASN1_INTEGER_new();
	X509_EXTENSION *aki = NULL;
	X509V3_CTX ctx;
	BIO *bio = NULL;
	time_t now = time(NULL);
	unsigned revoked = 0;
	char *data;
	long n;
	int r = -ENOMEM;

	forget_expired(ca);
	/* Grows with every CRL, and across restarts with the clock. */
	ca->crl_number = ca->crl_number + 1 > (uint64_t)now ?
	    ca->crl_number + 1 : (uint64_t)now;
	if (crl == NULL || number == NULL ||
	    (this_update = ASN1_TIME_set(NULL, now)) == NULL ||
	    (next_update = ASN1_TIME_set(NULL, now +
	    CA_CRL_NEXT_UPDATE)) == NULL ||
	    !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) ||
	    !X509_CRL_set1_lastUpdate(crl, this_update) ||
	    !X509_CRL_set1_nextUpdate(crl, next_update) ||
	    !ASN1_INTEGER_set_uint64(number, ca->crl_number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0)) {
		r = fail(error, -ENOMEM, "%s", "cannot make the CRL");
		goto out;
	}
	X509V3_set_ctx(&ctx, ca->cert, NULL, NULL, crl, 0);
	aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
	    "keyid:always");
	if (aki == NULL || !X509_CRL_add_ext(crl, aki, -1)) {
		r = fail(error, -ENOMEM, "%s", "cannot make the CRL");
		goto out;
	}
	for (size_t i = 0; i < ca->n_issued; i++) {
		if (ca->issued[i].revoked_at == 0)
			continue;
		if ((r = add_revoked(crl, &ca->issued[i])) < 0) {
			fail(error, r, "%s", "cannot add a CRL entry");
			goto out;
		}
		revoked++;
	}
	if (!X509_CRL_sort(crl) || !X509_CRL_sign(crl, ca->key, EVP_sha256()) ||
	    (bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509_CRL(bio, crl)) {
		r = fail(error, -ENOMEM, "%s", "cannot sign the CRL");
		goto out;
	}
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || (size_t)n >= size) {
		r = fail(error, -ENOSPC, "the CRL of %u revoked certificates "
		    "(%ld bytes) does not fit a message", revoked, n);
		goto out;
	}
	memcpy(buf, data, (size_t)n);
	buf[n] = '\0';
	r = 0;
out:
	BIO_free(bio);
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(number);
	ASN1_TIME_free(this_update);
	ASN1_TIME_free(next_update);
	X509_CRL_free(crl);
	return r;
}

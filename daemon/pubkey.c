/* SPDX-License-Identifier: Apache-2.0 */
/* Signing keys: which types are accepted, and signatures over messages. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "pubkey.h"

#define ED25519_SIGNATURE_SIZE 64

/* KEY is Ed25519 or EC on P-256; else -EKEYREJECTED with WHY. */
static int
check_type(EVP_PKEY *key, char *why)
{
	char group[64];

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_ED25519:
		return 0;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(key, group, sizeof(group),
		    NULL) != 1)
			snprintf(group, sizeof(group), "an unnamed curve");
		if (strcmp(group, "prime256v1") == 0 ||
		    strcmp(group, "P-256") == 0)
			return 0;
		snprintf(why, PUBKEY_WHY_MAX, "is EC on %.40s: only P-256 is "
		    "accepted", group);
		return -EKEYREJECTED;
	default:
		/* OpenSSL's own names: "RSA", "DSA", "ED448", "X25519"... */
		snprintf(why, PUBKEY_WHY_MAX, "is %.16s: only Ed25519 and "
		    "ECDSA P-256 are accepted",
		    EVP_PKEY_get0_type_name(key) != NULL ?
		    EVP_PKEY_get0_type_name(key) : "of another type");
		return -EKEYREJECTED;
	}
}

static int
from_pem(const void *pem, size_t len, bool private, EVP_PKEY **out,
    char *why)
{
	EVP_PKEY *key;
	BIO *bio;
	int r;

	*out = NULL;
	why[0] = '\0';
	if (len > PUBKEY_FILE_MAX) {
		snprintf(why, PUBKEY_WHY_MAX, "is larger than %d bytes",
		    PUBKEY_FILE_MAX);
		return -EBADMSG;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return -ENOMEM;
	key = private ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) :
	    PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (key == NULL) {
		snprintf(why, PUBKEY_WHY_MAX, "is not a PEM %s key",
		    private ? "private" : "public");
		return -EBADMSG;
	}
	if ((r = check_type(key, why)) < 0) {
		EVP_PKEY_free(key);
		return r;
	}
	*out = key;
	return 0;
}

int
pubkey_from_pem(const void *pem, size_t len, EVP_PKEY **out, char *why)
{
	return from_pem(pem, len, false, out, why);
}

int
pubkey_private_from_pem(const void *pem, size_t len, EVP_PKEY **out,
    char *why)
{
	return from_pem(pem, len, true, out, why);
}

int
pubkey_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t used = 0;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if (st.st_size < 0 || (size_t)st.st_size > max) {
		r = -EFBIG;
		goto out;
	}
	/* One more byte than allowed shows a file that grew meanwhile. */
	if ((buf = malloc(max + 2)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	while (used <= max) {
		n = pread(fd, buf + used, max + 1 - used, (off_t)used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			free(buf);
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used > max) {
		free(buf);
		r = -EFBIG;
		goto out;
	}
	buf[used] = '\0';
	*out = buf;
	*len = used;
	r = 0;
out:
	close(fd);
	return r;
}

int
pubkey_verify(EVP_PKEY *key, const void *message, size_t len,
    const uint8_t *signature, size_t signature_len, bool *good)
{
	EVP_MD_CTX *ctx;
	bool ed25519 = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;

	*good = false;
	if (ed25519 && signature_len != ED25519_SIGNATURE_SIZE)
		return 0;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -ENOMEM;
	/* Ed25519 hashes the message itself: no digest named. */
	*good = EVP_DigestVerifyInit(ctx, NULL, ed25519 ? NULL : EVP_sha256(),
	    NULL, key) == 1 && EVP_DigestVerify(ctx, signature, signature_len,
	    message, len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return 0;
}

int
pubkey_sign(EVP_PKEY *key, const void *message, size_t len,
    uint8_t *signature, size_t *signature_len)
{
	EVP_MD_CTX *ctx;
	bool ed25519 = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;
	size_t n = PUBKEY_SIGNATURE_MAX;
	int r = -EIO;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -ENOMEM;
	if (EVP_DigestSignInit(ctx, NULL, ed25519 ? NULL : EVP_sha256(), NULL,
	    key) == 1 && EVP_DigestSign(ctx, signature, &n, message,
	    len) == 1) {
		*signature_len = n;
		r = 0;
	}
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Signing keys: Ed25519 or ECDSA P-256 only, for publishers and the fleet. */
#ifndef ZTD_PUBKEY_H
#define ZTD_PUBKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evp_pkey_st;		/* OpenSSL's EVP_PKEY */

#define PUBKEY_WHY_MAX 128
#define PUBKEY_FILE_MAX (64 * 1024)	/* a PEM key is < 1 KiB */
#define PUBKEY_SIGNATURE_MAX 80		/* Ed25519 64, ECDSA DER <= 72 */

/*
 * The PEM public key in PEM (LEN bytes): Ed25519 or EC on P-256, nothing
 * else.  Returns 0 and *OUT (EVP_PKEY_free it); -EBADMSG (not a PEM public
 * key) or -EKEYREJECTED (another type or curve), with WHY (PUBKEY_WHY_MAX
 * bytes) ending a sentence that begins with the key's name, e.g. "is RSA:
 * only Ed25519 and ECDSA P-256 are accepted"; -ENOMEM.
 */
int pubkey_from_pem(const void *pem, size_t len, struct evp_pkey_st **out,
    char *why);

/* The same for a private key (the fleet administrator's, in ztctl). */
int pubkey_private_from_pem(const void *pem, size_t len,
    struct evp_pkey_st **out, char *why);

/*
 * Read the regular file at PATH (at most MAX bytes) into a new buffer
 * with a NUL after its LEN bytes.  Returns 0, -errno, -EINVAL (not a
 * regular file) or -EFBIG.
 */
int pubkey_read_file(const char *path, size_t max, uint8_t **out,
    size_t *len);

/*
 * Is SIGNATURE a good signature of MESSAGE by KEY?  Ed25519: the raw 64
 * bytes over the message; ECDSA: DER over its SHA-256.  *GOOD false for
 * any bad or malformed signature.  Returns 0, or -ENOMEM.
 */
int pubkey_verify(struct evp_pkey_st *key, const void *message, size_t len,
    const uint8_t *signature, size_t signature_len, bool *good);

/* Sign MESSAGE with the private KEY as pubkey_verify checks it; SIGNATURE
 * holds PUBKEY_SIGNATURE_MAX bytes.  Returns 0 or -EIO/-ENOMEM. */
int pubkey_sign(struct evp_pkey_st *key, const void *message, size_t len,
    uint8_t *signature, size_t *signature_len);

#endif

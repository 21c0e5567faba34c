/* SPDX-License-Identifier: Apache-2.0 */
/* The tunnel CA: per-grant client certificates for mutual TLS. */
#ifndef ZTD_CA_H
#define ZTD_CA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CA_ERROR_MAX 256
#define CA_CERT_MAX 2048		/* DER of one issued certificate */
#define CA_SERIAL_HEX 33		/* 128 bits in hex and a NUL */

struct ca;

/*
 * Open the CA in STATE_DIR: ca.key (EC P-256, PEM, 0600) and ca.pem (its
 * self-signed certificate, 10 years, CN "ztgate tunnel CA <TRUST_DOMAIN>"),
 * created when absent.  The key is a file, not a TPM object: issuing
 * happens on a connection's path, and a hardware TPM signs in hundreds of
 * milliseconds; state_dir is root's alone (0700), where the audit chain
 * head and golden values live too.  A key file that is not a regular file
 * owned by ztd's euid, or readable by group or others, is refused.
 * Returns 0 or -errno / ZT_E_UNSAFE with ERROR set.
 */
int ca_open(const char *state_dir, const char *trust_domain, struct ca **out,
    char *error);

void ca_free(struct ca *ca);

/* The CA certificate as PEM, NUL-terminated, in BUF.  0 or -ENOSPC. */
int ca_pem(const struct ca *ca, char *buf, size_t size);

/*
 * Issue a client certificate for the key in CSR (DER; its signature must
 * verify and the key must be EC P-256; nothing else of the request is
 * used): subject CN = AGENT, URI SANs spiffe://TRUST_DOMAIN/agent/AGENT and
 * urn:ztgate:grant:GRANT_ID, clientAuth only, not a CA, a random 128-bit
 * serial, valid from now until NOT_AFTER (unix time).  Writes the DER to
 * OUT (CA_CERT_MAX bytes) and its size to *OUT_SIZE, the serial in hex to
 * SERIAL.  Returns 0, or an error with ERROR set (a bad request:
 * -EINVAL / -EBADMSG).
 */
int ca_issue(struct ca *ca, const uint8_t *csr, size_t csr_size,
    const char *agent, const char *grant_id, time_t not_after,
    uint8_t *out, size_t *out_size, char serial[CA_SERIAL_HEX], char *error);

#endif

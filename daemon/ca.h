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
 * Certificates live at most CA_LIFETIME_MAX seconds (ztd.cert_lifetime,
 * ztd.conf(5)); notBefore is backdated CA_BACKDATE seconds for clock skew.
 * Every certificate issued is kept (serial, grant, notAfter) until it has
 * expired by both clocks (wall time past notAfter and its lifetime past on
 * CLOCK_BOOTTIME: a wall-clock step backwards must not let a revoked
 * certificate drop out of the CRL while relying parties still accept it),
 * in memory and in STATE_DIR/ca-issued: its serial is on disk before the
 * certificate leaves (issuing fails when it cannot be), recorded ahead
 * CA_RESERVE at a time (ca.c) with a notAfter that covers any certificate
 * issued with it, its grant written with the next write.  When ztd
 * starts, every certificate of that file still valid by the wall clock is
 * revoked (its grant ended with the previous ztd) and kept
 * CA_LIFETIME_MAX seconds.
 * At most CA_ISSUED_MAX are kept, CA_PER_GRANT_MAX of one grant: then
 * issuing is refused, never a revocation forgotten.  CA_ISSUED_MAX is
 * chosen so that a CRL revoking all of them fits one message.
 */
#define CA_LIFETIME_MAX 300
#define CA_LIFETIME_MIN 2
#define CA_BACKDATE 60
#define CA_ISSUED_MAX 48
#define CA_PER_GRANT_MAX 3
#define CA_CRL_NEXT_UPDATE 60		/* seconds a CRL is current */

/*
 * Issue a client certificate for the key in CSR (DER; its signature must
 * verify and the key must be EC P-256; nothing else of the request is
 * used): subject CN = AGENT, URI SANs spiffe://TRUST_DOMAIN/agent/AGENT and
 * urn:ztgate:grant:GRANT_ID, clientAuth only, not a CA, a random 128-bit
 * serial, valid from CA_BACKDATE seconds ago for LIFETIME seconds
 * (1..CA_LIFETIME_MAX; the caller bounds it by the grant's remaining life
 * on CLOCK_BOOTTIME) from now.  Records it for ca_grant_ended.  Writes the
 * DER to OUT (CA_CERT_MAX bytes) and its size to *OUT_SIZE, the serial in
 * hex to SERIAL and notAfter (unix time) to *NOT_AFTER.  Returns 0, or an
 * error with ERROR set: a bad request -EINVAL / -EBADMSG; ZT_E_BUSY when
 * CA_ISSUED_MAX unexpired certificates are kept or GRANT_ID has
 * CA_PER_GRANT_MAX.
 */
int ca_issue(struct ca *ca, const uint8_t *csr, size_t csr_size,
    const char *agent, const char *grant_id, unsigned lifetime,
    uint8_t *out, size_t *out_size, char serial[CA_SERIAL_HEX],
    time_t *not_after, char *error);

/*
 * GRANT_ID ended: its certificates that have not expired are revoked as
 * of now (reason cessationOfOperation).  Returns how many.
 */
unsigned ca_grant_ended(struct ca *ca, const char *grant_id);

/*
 * The CRL, PEM, NUL-terminated, in BUF: X.509 v2, signed by the CA key,
 * thisUpdate now, nextUpdate now + CA_CRL_NEXT_UPDATE, a crlNumber that
 * grows, the authority key id, and one entry per revoked certificate not
 * yet expired (revocationDate: its grant's end).  Returns 0, or an error
 * with ERROR set (-ENOSPC when it does not fit SIZE).
 */
int ca_crl(struct ca *ca, char *buf, size_t size, char *error);

#endif

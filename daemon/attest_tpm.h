/* SPDX-License-Identifier: Apache-2.0 */
/* The TPM side of host attestation: the attestation key, PCR reads, quotes. */
#ifndef ZTD_ATTEST_TPM_H
#define ZTD_ATTEST_TPM_H

#include <stddef.h>
#include <stdint.h>

#define TPM_REASON_MAX 200
#define TPM_PCR_COUNT 24
#define TPM_ATTEST_MAX 1024	/* a marshalled TPMS_ATTEST fits */
#define TPM_SIGNATURE_MAX 256	/* a marshalled TPMT_SIGNATURE fits */
#define TPM_PUBLIC_MAX 512	/* a marshalled TPM2B_PUBLIC fits */

struct tpm;

/* PCR values of the sha256 bank, in the order asked. */
struct tpm_pcrs {
	size_t n;
	unsigned index[TPM_PCR_COUNT];
	uint8_t value[TPM_PCR_COUNT][32];
	uint32_t update_counter;	/* pcrUpdateCounter of the read */
};

/* A quote as the TPM returned it, marshalled (tss2-mu). */
struct tpm_quote {
	uint8_t attest[TPM_ATTEST_MAX];		/* TPMS_ATTEST */
	size_t attest_len;
	uint8_t signature[TPM_SIGNATURE_MAX];	/* TPMT_SIGNATURE */
	size_t signature_len;
};

/*
 * Connect through the TCTI loader (TCTI as in the configuration:
 * "device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=2321", "tabrmd"; NULL
 * or "" for the loader's default) and create the attestation key: an ECC
 * NIST P-256 restricted signing key (ECDSA/SHA-256) from a fixed template
 * under the endorsement hierarchy, so every start on the same TPM gives
 * the same key.  Returns 0 and *TPM (freed by tpm_close), or a negative
 * errno with WHY (TPM_REASON_MAX bytes) and *TPM NULL.  Every transient
 * handle is flushed on every path out (tpm_close too).
 *
 * Errors of all the functions below: -EINVAL (bad arguments, nothing
 * sent), -EIO (the TPM or the stack refused; WHY has Tss2_RC_Decode's
 * text), -ETIMEDOUT (no answer within 5 s, where the TCTI can wait with a
 * timeout: device yes, swtpm no: it blocks until the TPM answers or the
 * connection drops), -EAGAIN (PCRs kept changing during a read),
 * -ENOMEM.  After -EIO from the transport or -ETIMEDOUT the handle only
 * answers -EIO: close it and open again.  One thread at a time per handle.
 */
int tpm_open(const char *tcti, struct tpm **tpm, char *why);
/* Flush the AK and disconnect; tpm_close(NULL) is a no-op. */
void tpm_close(struct tpm *tpm);

/*
 * The AK's public key as DER SubjectPublicKeyInfo (for OpenSSL and for
 * `tpm2_checkquote -u` as PEM) and as a marshalled TPM2B_PUBLIC (which
 * `tpm2_checkquote -u` also reads).  Lengths in and out.  Returns 0 or
 * -ENOSPC.
 */
int tpm_ak_public(const struct tpm *tpm, uint8_t *spki, size_t *spki_len,
    uint8_t *tpm2b_public, size_t *public_len);

/*
 * Read PCRS (N distinct indexes below TPM_PCR_COUNT, any order; sha256
 * bank) into OUT, values in the order of PCRS.  More than 8 take several
 * TPM2_PCR_Read commands; if pcrUpdateCounter moves between them the read
 * starts over (a bounded number of times).  Returns 0 or a negative errno
 * with WHY.
 */
int tpm_pcr_read(struct tpm *tpm, const unsigned *pcrs, size_t n,
    struct tpm_pcrs *out, char *why);

/*
 * Quote PCRS (as for tpm_pcr_read) with NONCE (32 bytes, qualifyingData)
 * by the AK, in its own scheme (ECDSA/SHA-256).  Returns 0 and OUT, or a
 * negative errno with WHY; TPM_RC_RETRY/YIELDED/TESTING are retried a
 * bounded number of times.
 */
int tpm_quote(struct tpm *tpm, const uint8_t nonce[32], const unsigned *pcrs,
    size_t n, struct tpm_quote *out, char *why);

/*
 * PCRS in the "serialized" form `tpm2_checkquote -f` reads (tpm2-tools'
 * host-order dump of TPML_PCR_SELECTION, a UINT32 count and that many
 * TPML_DIGEST, the values in ascending PCR order).  *LEN in and out.
 * Returns 0 or -ENOSPC.
 */
int tpm_pcrs_serialize(const struct tpm_pcrs *pcrs, uint8_t *out,
    size_t *len);

#endif

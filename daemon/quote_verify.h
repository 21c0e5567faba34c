/* SPDX-License-Identifier: Apache-2.0 */
/* Verifying a TPM quote: every field, with OpenSSL; no TPM needed. */
#ifndef ZTD_QUOTE_VERIFY_H
#define ZTD_QUOTE_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#define QUOTE_REASON_MAX 200

/* Why a quote was refused; each check has its own. */
enum quote_failure {
	QUOTE_OK = 0,
	QUOTE_MALFORMED,	/* attest or signature does not unmarshal */
	QUOTE_MAGIC,		/* magic != TPM_GENERATED_VALUE */
	QUOTE_TYPE,		/* type != TPM_ST_ATTEST_QUOTE */
	QUOTE_NONCE,		/* extraData != the nonce we sent */
	QUOTE_SELECTION,	/* PCR selection != the configured one */
	QUOTE_DIGEST,		/* pcrDigest != SHA-256 of the values read */
	QUOTE_SIGNATURE,	/* not signed by the AK (or not ECDSA/SHA-256) */
	QUOTE_RESET,		/* resetCount or restartCount changed */
};

/* What a verified quote says about the TPM's clock. */
struct quote_facts {
	uint64_t clock;
	uint32_t reset_count;
	uint32_t restart_count;
	uint8_t safe;
};

/*
 * Verify the marshalled TPMS_ATTEST (ATTEST, ATTEST_LEN) and TPMT_SIGNATURE
 * (SIG, SIG_LEN) against: the AK public key AK; NONCE (32 bytes); the
 * sha256 PCR selection PCRS (N indexes, any order); the PCR values VALUES
 * (N, in the order of PCRS) read just before the quote; and, when PREVIOUS
 * is not NULL, the facts of the last good quote (reset/restart counters
 * must be unchanged).  Checks in this order: unmarshal, magic, type,
 * signature, nonce, selection, digest, counters.  Returns 0 and FACTS, or
 * ZT_E_PERM with *FAILURE and WHY (QUOTE_REASON_MAX bytes) set.  Never
 * reads past the given lengths; never allocates by a length in the data.
 */
int quote_verify(EVP_PKEY *ak, const uint8_t *attest, size_t attest_len,
    const uint8_t *sig, size_t sig_len, const uint8_t nonce[32],
    const unsigned *pcrs, size_t n, const uint8_t (*values)[32],
    const struct quote_facts *previous, struct quote_facts *facts,
    enum quote_failure *failure, char *why);

/* A short name for a failure ("nonce", "magic", ...). */
const char *quote_failure_name(enum quote_failure failure);

#endif

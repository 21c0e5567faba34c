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
	QUOTE_DIGEST,		/* pcrDigest != SHA-256 of the values */
	QUOTE_SIGNATURE,	/* not signed by the AK with ECDSA P-256 */
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
 * (SIG, SIG_LEN) against: the AK public key AK (EC P-256 only); NONCE (32
 * bytes); the sha256 PCR selection PCRS (N distinct indexes below 24, any
 * order); the PCR values VALUES (N, in the order of PCRS) read just before
 * the quote; and, when PREVIOUS is not NULL, the facts of the last good
 * quote (reset/restart counters must be unchanged).
 *
 * Checks in this order, each with its failure: both structures unmarshal
 * to their exact lengths (MALFORMED); magic (MAGIC); type (TYPE); an
 * ECDSA/SHA-256 signature by AK over ATTEST as received (SIGNATURE);
 * extraData is NONCE (NONCE); one sha256 bank, a 3- or 4-byte bitmap,
 * exactly the PCRS (SELECTION); pcrDigest is SHA-256 of VALUES concatenated
 * in ascending PCR order (DIGEST); counters (RESET).  A caller that sees
 * RESET should trust the host again only after a quote whose PCRs match
 * the golden values, and take that quote as its new PREVIOUS.
 *
 * Returns 0, *FAILURE = QUOTE_OK, WHY = "" and FACTS from clockInfo
 * (PREVIOUS may point to FACTS).  Otherwise FACTS is untouched, *FAILURE
 * and WHY (QUOTE_REASON_MAX bytes, NUL-terminated, saying what differed)
 * are set, and it returns ZT_E_PERM for a refused quote, -EINVAL for a
 * caller's mistake (AK, NONCE, FACTS or VALUES NULL; PCRS empty, too long,
 * out of range or repeated; *FAILURE and WHY still set when not NULL), or
 * -ENOMEM.  Never reads past the given lengths; never allocates by a
 * length in the data; does not log (the caller decides what a refusal
 * means).
 */
int quote_verify(EVP_PKEY *ak, const uint8_t *attest, size_t attest_len,
    const uint8_t *sig, size_t sig_len, const uint8_t nonce[32],
    const unsigned *pcrs, size_t n, const uint8_t (*values)[32],
    const struct quote_facts *previous, struct quote_facts *facts,
    enum quote_failure *failure, char *why);

/* A short name for a failure ("nonce", "magic", ...). */
const char *quote_failure_name(enum quote_failure failure);

#endif

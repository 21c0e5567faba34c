/* SPDX-License-Identifier: Apache-2.0 */
/* Verifying a TPM quote: unmarshal it, then check every field we asked for. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "quote_verify.h"
#include "zt_err.h"

#define DIGEST_SIZE 32		/* SHA-256: PCR values, pcrDigest */
#define NONCE_SIZE 32
#define PCR_COUNT 24		/* PCRs of a PC-client TPM bank */
#define SELECT_MIN 3		/* TPM_PCR_SELECT_MIN: 24 PCRs */
#define SELECT_MAX 4		/* TPM2_PCR_SELECT_MAX in tpm2-tss */
#define ECC_P256_SIZE 32	/* r and s of a P-256 signature */
#define ECDSA_DER_MAX 80	/* SEQUENCE of two INTEGERs of <= 33 bytes */
#define GROUP_NAME_MAX 64
#define PCR_LIST_MAX 96		/* "0,2,4,...,30" is 48 characters */

/* The largest marshalled structures a TPM can send: a cap before parsing. */
#define ATTEST_MAX sizeof(((TPM2B_ATTEST *)NULL)->attestationData)
#define SIGNATURE_MAX sizeof(TPMT_SIGNATURE)

static int
refuse(enum quote_failure *failure, char *why, enum quote_failure what,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Set *FAILURE and WHY; the quote is refused. */
static int
refuse(enum quote_failure *failure, char *why, enum quote_failure what,
    const char *fmt, ...)
{
	va_list ap;

	*failure = what;
	va_start(ap, fmt);
	vsnprintf(why, QUOTE_REASON_MAX, fmt, ap);
	va_end(ap);
	return ZT_E_PERM;
}

/* A caller's mistake rather than a bad quote: still a refusal, and why. */
static int
invalid(enum quote_failure *failure, char *why, enum quote_failure what,
    const char *text)
{
	*failure = what;
	snprintf(why, QUOTE_REASON_MAX, "%s", text);
	return -EINVAL;
}

/* The name of a TPM hash or signature algorithm, for reasons. */
static const char *
algorithm_name(TPM2_ALG_ID alg, char *buf, size_t size)
{
	switch (alg) {
	case TPM2_ALG_SHA1:
		return "sha1";
	case TPM2_ALG_SHA256:
		return "sha256";
	case TPM2_ALG_SHA384:
		return "sha384";
	case TPM2_ALG_SHA512:
		return "sha512";
	case TPM2_ALG_SM3_256:
		return "sm3_256";
	case TPM2_ALG_NULL:
		return "null";
	case TPM2_ALG_RSASSA:
		return "RSASSA";
	case TPM2_ALG_RSAPSS:
		return "RSAPSS";
	case TPM2_ALG_ECDSA:
		return "ECDSA";
	case TPM2_ALG_ECDAA:
		return "ECDAA";
	case TPM2_ALG_SM2:
		return "SM2";
	case TPM2_ALG_ECSCHNORR:
		return "ECSCHNORR";
	case TPM2_ALG_HMAC:
		return "HMAC";
	default:
		snprintf(buf, size, "0x%04x", (unsigned)alg);
		return buf;
	}
}

/* PCR set BITS as "0-9,11,14" ("none" when empty). */
static void
format_pcrs(uint32_t bits, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < 32 && used < size; i++) {
		unsigned last = i;
		int w;

		if (!(bits & (UINT32_C(1) << i)))
			continue;
		while (last + 1 < 32 && (bits & (UINT32_C(1) << (last + 1))))
			last++;
		if (last == i)
			w = snprintf(out + used, size - used, "%s%u",
			    used ? "," : "", i);
		else
			w = snprintf(out + used, size - used, "%s%u-%u",
			    used ? "," : "", i, last);
		if (w < 0)
			break;
		used += (size_t)w;
		i = last;
	}
	if (used == 0)
		snprintf(out, size, "none");
}

/* The PCR bitmap of one selection: bit I is PCR I. */
static uint32_t
selection_bits(const TPMS_PCR_SELECTION *s)
{
	uint32_t bits = 0;

	for (unsigned i = 0; i < s->sizeofSelect && i < SELECT_MAX; i++)
		bits |= (uint32_t)s->pcrSelect[i] << (8 * i);
	return bits;
}

/* ECDSA P-256 with SHA-256 over ATTEST as received, by AK. */
static int
check_signature(EVP_PKEY *ak, const TPMT_SIGNATURE *sig,
    const uint8_t *attest, size_t attest_len, enum quote_failure *failure,
    char *why)
{
	const TPMS_SIGNATURE_ECDSA *ecdsa = &sig->signature.ecdsa;
	char group[GROUP_NAME_MAX], name[8];
	size_t group_len = 0;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	EVP_MD_CTX *ctx = NULL;
	uint8_t der[ECDSA_DER_MAX], *end = der;
	const char *type;
	int der_len, verified, ret;

	if (sig->sigAlg != TPM2_ALG_ECDSA)
		return refuse(failure, why, QUOTE_SIGNATURE,
		    "the signature is %s, not ECDSA",
		    algorithm_name(sig->sigAlg, name, sizeof(name)));
	if (ecdsa->hash != TPM2_ALG_SHA256)
		return refuse(failure, why, QUOTE_SIGNATURE,
		    "the signature hash is %s, not sha256",
		    algorithm_name(ecdsa->hash, name, sizeof(name)));
	if (ecdsa->signatureR.size == 0 ||
	    ecdsa->signatureR.size > ECC_P256_SIZE ||
	    ecdsa->signatureS.size == 0 ||
	    ecdsa->signatureS.size > ECC_P256_SIZE)
		return refuse(failure, why, QUOTE_SIGNATURE,
		    "the signature's r and s are %u and %u bytes, not 1 to %d",
		    ecdsa->signatureR.size, ecdsa->signatureS.size,
		    ECC_P256_SIZE);
	if (!EVP_PKEY_is_a(ak, "EC")) {
		type = EVP_PKEY_get0_type_name(ak);
		return refuse(failure, why, QUOTE_SIGNATURE,
		    "the attestation key is %.20s, not EC P-256",
		    type != NULL ? type : "of an unknown type");
	}
	if (EVP_PKEY_get_utf8_string_param(ak, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), &group_len) != 1) {
		ERR_clear_error();
		return refuse(failure, why, QUOTE_SIGNATURE,
		    "the attestation key is on an unnamed curve, not P-256");
	}
	if (strcmp(group, SN_X9_62_prime256v1) != 0)
		return refuse(failure, why, QUOTE_SIGNATURE,
		    "the attestation key is on %.40s, not P-256", group);

	/* The TPM sends r and s; OpenSSL verifies a DER Ecdsa-Sig-Value. */
	ret = -ENOMEM;
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(ecdsa->signatureR.buffer, ecdsa->signatureR.size,
	    NULL)) == NULL ||
	    (s = BN_bin2bn(ecdsa->signatureS.buffer, ecdsa->signatureS.size,
	    NULL)) == NULL ||
	    ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;		/* es owns them now */
	der_len = i2d_ECDSA_SIG(es, NULL);
	if (der_len <= 0 || (size_t)der_len > sizeof(der) ||
	    i2d_ECDSA_SIG(es, &end) != der_len)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, ak) != 1) {
		ret = refuse(failure, why, QUOTE_SIGNATURE,
		    "OpenSSL cannot verify with the attestation key");
		goto out;
	}
	verified = EVP_DigestVerify(ctx, der, (size_t)der_len, attest,
	    attest_len);
	if (verified == 1)
		ret = 0;
	else
		ret = refuse(failure, why, QUOTE_SIGNATURE,
		    "the signature does not verify with the attestation key");
out:
	if (ret == -ENOMEM) {
		*failure = QUOTE_SIGNATURE;
		snprintf(why, QUOTE_REASON_MAX,
		    "out of memory verifying the signature");
	}
	if (ret != 0)
		ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	ECDSA_SIG_free(es);
	BN_free(r);
	BN_free(s);
	return ret;
}

/* The quote's PCR selection: one sha256 bank of exactly CONFIGURED. */
static int
check_selection(const TPML_PCR_SELECTION *list, uint32_t configured,
    enum quote_failure *failure, char *why)
{
	const TPMS_PCR_SELECTION *s = &list->pcrSelections[0];
	char quoted_text[PCR_LIST_MAX], configured_text[PCR_LIST_MAX];
	char name[8];
	uint32_t quoted;

	if (list->count != 1)
		return refuse(failure, why, QUOTE_SELECTION,
		    "PCR selection has %u banks, not one (sha256)",
		    (unsigned)list->count);
	if (s->hash != TPM2_ALG_SHA256)
		return refuse(failure, why, QUOTE_SELECTION,
		    "PCR selection is of the %s bank, not sha256",
		    algorithm_name(s->hash, name, sizeof(name)));
	if (s->sizeofSelect < SELECT_MIN || s->sizeofSelect > SELECT_MAX)
		return refuse(failure, why, QUOTE_SELECTION,
		    "PCR selection bitmap is %u bytes, not %d or %d",
		    s->sizeofSelect, SELECT_MIN, SELECT_MAX);
	quoted = selection_bits(s);
	if (quoted != configured) {
		/* Bits 24-31 (sizeofSelect 4) are never configured. */
		format_pcrs(quoted, quoted_text, sizeof(quoted_text));
		format_pcrs(configured, configured_text,
		    sizeof(configured_text));
		return refuse(failure, why, QUOTE_SELECTION,
		    "PCR selection differs: quote has %s, configured %s",
		    quoted_text, configured_text);
	}
	return 0;
}

/*
 * pcrDigest against SHA-256 of VALUES concatenated in ascending PCR index
 * order, which is the order the TPM hashes them in whatever order PCRS
 * lists them.
 */
static int
check_digest(const TPM2B_DIGEST *digest, const unsigned *pcrs, size_t n,
    const uint8_t (*values)[DIGEST_SIZE], enum quote_failure *failure,
    char *why)
{
	uint8_t all[PCR_COUNT * DIGEST_SIZE], md[DIGEST_SIZE];
	size_t used = 0;

	if (digest->size != DIGEST_SIZE)
		return refuse(failure, why, QUOTE_DIGEST,
		    "pcrDigest is %u bytes, not %d (sha256)", digest->size,
		    DIGEST_SIZE);
	/* PCRS holds distinct indexes below PCR_COUNT (checked before). */
	for (unsigned index = 0; index < PCR_COUNT; index++)
		for (size_t i = 0; i < n; i++)
			if (pcrs[i] == index) {
				memcpy(all + used, values[i], DIGEST_SIZE);
				used += DIGEST_SIZE;
			}
	if (EVP_Digest(all, used, md, NULL, EVP_sha256(), NULL) != 1) {
		ERR_clear_error();
		*failure = QUOTE_DIGEST;
		snprintf(why, QUOTE_REASON_MAX,
		    "cannot compute SHA-256 of the PCR values");
		return -ENOMEM;
	}
	if (CRYPTO_memcmp(md, digest->buffer, DIGEST_SIZE) != 0)
		return refuse(failure, why, QUOTE_DIGEST,
		    "pcrDigest does not match the PCR values read");
	return 0;
}

int
quote_verify(EVP_PKEY *ak, const uint8_t *attest, size_t attest_len,
    const uint8_t *sig, size_t sig_len, const uint8_t nonce[32],
    const unsigned *pcrs, size_t n, const uint8_t (*values)[32],
    const struct quote_facts *previous, struct quote_facts *facts,
    enum quote_failure *failure, char *why)
{
	TPMS_ATTEST a;
	TPMT_SIGNATURE s;
	const TPMS_CLOCK_INFO *clock;
	uint32_t configured = 0;
	size_t offset;
	TSS2_RC rc;
	int r;

	if (failure == NULL || why == NULL)
		return -EINVAL;
	*failure = QUOTE_OK;
	why[0] = '\0';

	/* The caller's side first: a refusal, but not the TPM's fault. */
	if (ak == NULL)
		return invalid(failure, why, QUOTE_SIGNATURE,
		    "no attestation key to verify the quote with");
	if (nonce == NULL || facts == NULL ||
	    (attest == NULL && attest_len > 0) ||
	    (sig == NULL && sig_len > 0))
		return invalid(failure, why, QUOTE_MALFORMED,
		    "quote_verify called without its inputs");
	if (n == 0 || n > PCR_COUNT || pcrs == NULL || values == NULL)
		return invalid(failure, why, QUOTE_SELECTION,
		    "the configured PCR list is empty or too long");
	for (size_t i = 0; i < n; i++) {
		if (pcrs[i] >= PCR_COUNT)
			return invalid(failure, why, QUOTE_SELECTION,
			    "a configured PCR is not below 24");
		if (configured & (UINT32_C(1) << pcrs[i]))
			return invalid(failure, why, QUOTE_SELECTION,
			    "a configured PCR is listed twice");
		configured |= UINT32_C(1) << pcrs[i];
	}

	/* Both structures, exactly: nothing before, inside or after. */
	if (attest_len == 0 || attest_len > ATTEST_MAX)
		return refuse(failure, why, QUOTE_MALFORMED,
		    "attest is %zu bytes, not 1 to %zu", attest_len,
		    ATTEST_MAX);
	offset = 0;
	rc = Tss2_MU_TPMS_ATTEST_Unmarshal(attest, attest_len, &offset, &a);
	if (rc != TSS2_RC_SUCCESS)
		return refuse(failure, why, QUOTE_MALFORMED,
		    "attest (%zu bytes) is not a TPMS_ATTEST (tss2 0x%x)",
		    attest_len, (unsigned)rc);
	if (offset != attest_len)
		return refuse(failure, why, QUOTE_MALFORMED,
		    "attest has trailing bytes (%zu) after its TPMS_ATTEST",
		    attest_len - offset);
	if (sig_len == 0 || sig_len > SIGNATURE_MAX)
		return refuse(failure, why, QUOTE_MALFORMED,
		    "signature is %zu bytes, not 1 to %zu", sig_len,
		    SIGNATURE_MAX);
	offset = 0;
	rc = Tss2_MU_TPMT_SIGNATURE_Unmarshal(sig, sig_len, &offset, &s);
	if (rc != TSS2_RC_SUCCESS)
		return refuse(failure, why, QUOTE_MALFORMED,
		    "signature (%zu bytes) is not a TPMT_SIGNATURE "
		    "(tss2 0x%x)", sig_len, (unsigned)rc);
	if (offset != sig_len)
		return refuse(failure, why, QUOTE_MALFORMED,
		    "signature has trailing bytes (%zu) after its "
		    "TPMT_SIGNATURE", sig_len - offset);

	if (a.magic != TPM2_GENERATED_VALUE)
		return refuse(failure, why, QUOTE_MAGIC,
		    "magic is 0x%08x, not TPM_GENERATED_VALUE (0x%08x): "
		    "not made by a TPM", (unsigned)a.magic,
		    (unsigned)TPM2_GENERATED_VALUE);
	if (a.type != TPM2_ST_ATTEST_QUOTE)
		return refuse(failure, why, QUOTE_TYPE,
		    "type is 0x%04x, not TPM_ST_ATTEST_QUOTE (0x%04x)",
		    (unsigned)a.type, (unsigned)TPM2_ST_ATTEST_QUOTE);

	/* Everything below is the TPM's word only once this holds. */
	if ((r = check_signature(ak, &s, attest, attest_len, failure,
	    why)) < 0)
		return r;

	if (a.extraData.size != NONCE_SIZE)
		return refuse(failure, why, QUOTE_NONCE,
		    "extraData is %u bytes, not the %d-byte nonce sent",
		    a.extraData.size, NONCE_SIZE);
	if (CRYPTO_memcmp(a.extraData.buffer, nonce, NONCE_SIZE) != 0)
		return refuse(failure, why, QUOTE_NONCE,
		    "extraData is not the nonce sent: a replayed or "
		    "foreign quote");

	if ((r = check_selection(&a.attested.quote.pcrSelect, configured,
	    failure, why)) < 0)
		return r;
	if ((r = check_digest(&a.attested.quote.pcrDigest, pcrs, n, values,
	    failure, why)) < 0)
		return r;

	clock = &a.clockInfo;
	if (previous != NULL && clock->resetCount != previous->reset_count)
		return refuse(failure, why, QUOTE_RESET,
		    "resetCount changed %u -> %u: the TPM was reset",
		    (unsigned)previous->reset_count,
		    (unsigned)clock->resetCount);
	if (previous != NULL &&
	    clock->restartCount != previous->restart_count)
		return refuse(failure, why, QUOTE_RESET,
		    "restartCount changed %u -> %u: the TPM was restarted",
		    (unsigned)previous->restart_count,
		    (unsigned)clock->restartCount);

	/* PREVIOUS may be FACTS: written only now. */
	facts->clock = clock->clock;
	facts->reset_count = clock->resetCount;
	facts->restart_count = clock->restartCount;
	facts->safe = clock->safe;
	return 0;
}

const char *
quote_failure_name(enum quote_failure failure)
{
	switch (failure) {
	case QUOTE_OK:
		return "ok";
	case QUOTE_MALFORMED:
		return "malformed";
	case QUOTE_MAGIC:
		return "magic";
	case QUOTE_TYPE:
		return "type";
	case QUOTE_NONCE:
		return "nonce";
	case QUOTE_SELECTION:
		return "selection";
	case QUOTE_DIGEST:
		return "digest";
	case QUOTE_SIGNATURE:
		return "signature";
	case QUOTE_RESET:
		return "reset";
	}
	return "unknown";
}

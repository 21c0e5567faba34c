/* SPDX-License-Identifier: Apache-2.0 */
/* A libFuzzer harness for the quote verifier: any bytes, split in two. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "quote_verify.h"
#include "zt_err.h"

/*
 * Input: FLAGS (1 byte), the configured PCRs as a 3-byte TPM bitmap (all
 * zero: 0-9,11,14), the attest's length (2 bytes, big-endian; cut to what
 * is left), the attest, and the signature (the rest).
 *
 * A signature the fuzzer writes never verifies (the key is made afresh
 * each run), so every check after the signature would stay out of reach:
 * with FLAG_SIGN the harness signs the attest itself, as a TPM would sign
 * whatever it was made to.
 */
#define FLAG_SIGN 0x01		/* replace the signature by a good one */
#define FLAG_PREVIOUS 0x02	/* pass PREVIOUS (resetCount 3, restart 1) */
#define FLAG_WRONG_KEY 0x04	/* verify with a P-384 key */
#define HEADER_SIZE 6

#define PCR_COUNT 24
#define DEFAULT_PCRS 0x004bffu	/* 0-9, 11, 14 */
#define PREVIOUS_RESET_COUNT 3
#define PREVIOUS_RESTART_COUNT 1

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static EVP_PKEY *signer;	/* P-256, private: the "TPM" */
static EVP_PKEY *ak;		/* its public half, as ztd holds it */
static EVP_PKEY *p384;

/* The nonce every quote must carry: 32 bytes 0x4e ("N"). */
static const uint8_t nonce[32] = {
	0x4e, 0x4e, 0x4e, 0x4e, 0x4e, 0x4e, 0x4e, 0x4e,
	0x4e, 0x4e, 0x4e, 0x4e, 0x4e, 0x4e, 0x4e, 0x4e,
	0x4e, 0x4e, 0x4e, 0x4e, 0x4e, 0x4e, 0x4e, 0x4e,
	0x4e, 0x4e, 0x4e, 0x4e, 0x4e, 0x4e, 0x4e, 0x4e,
};

/* The value read from PCR INDEX: 32 bytes of INDEX. */
static void
pcr_value(unsigned index, uint8_t value[32])
{
	memset(value, (int)index, 32);
}

static EVP_PKEY *
public_half(EVP_PKEY *key)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub;
	int len;

	len = i2d_PUBKEY(key, &der);
	CHECK(len > 0);
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	CHECK(pub != NULL);
	return pub;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* tss2-mu logs every selector it refuses: millions of lines. */
	setenv("TSS2_LOG", "all+none", 1);
	signer = EVP_EC_gen("P-256");
	p384 = EVP_EC_gen("P-384");
	CHECK(signer != NULL && p384 != NULL);
	ak = public_half(signer);
	return 0;
}

/* Sign ATTEST as the TPM would: a marshalled ECDSA TPMT_SIGNATURE. */
static size_t
sign(const uint8_t *attest, size_t attest_len, uint8_t *out, size_t size)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t der[128];
	const uint8_t *p = der;
	size_t der_len = sizeof(der), offset = 0;
	const BIGNUM *r, *s;
	TPMT_SIGNATURE sig;
	ECDSA_SIG *es;

	CHECK(ctx != NULL);
	CHECK(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, signer) == 1);
	CHECK(EVP_DigestSign(ctx, der, &der_len, attest, attest_len) == 1);
	EVP_MD_CTX_free(ctx);
	CHECK((es = d2i_ECDSA_SIG(NULL, &p, (long)der_len)) != NULL);
	ECDSA_SIG_get0(es, &r, &s);
	memset(&sig, 0, sizeof(sig));
	sig.sigAlg = TPM2_ALG_ECDSA;
	sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
	sig.signature.ecdsa.signatureR.size = 32;
	sig.signature.ecdsa.signatureS.size = 32;
	CHECK(BN_bn2binpad(r, sig.signature.ecdsa.signatureR.buffer, 32) ==
	    32);
	CHECK(BN_bn2binpad(s, sig.signature.ecdsa.signatureS.buffer, 32) ==
	    32);
	ECDSA_SIG_free(es);
	CHECK(Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, out, size, &offset) ==
	    TSS2_RC_SUCCESS);
	return offset;
}

/* What a quote the verifier accepted must say, checked independently. */
static void
check_accepted(const uint8_t *attest, size_t attest_len, uint32_t pcrs,
    const uint8_t (*values)[32], size_t n, const struct quote_facts *facts)
{
	const TPMS_PCR_SELECTION *s;
	uint8_t all[PCR_COUNT * 32], md[32];
	uint32_t bits = 0;
	size_t offset = 0, used = 0;
	TPMS_ATTEST a;

	CHECK(Tss2_MU_TPMS_ATTEST_Unmarshal(attest, attest_len, &offset,
	    &a) == TSS2_RC_SUCCESS);
	CHECK(offset == attest_len);
	CHECK(a.magic == TPM2_GENERATED_VALUE);
	CHECK(a.type == TPM2_ST_ATTEST_QUOTE);
	CHECK(a.extraData.size == 32);
	CHECK(memcmp(a.extraData.buffer, nonce, 32) == 0);
	CHECK(a.attested.quote.pcrSelect.count == 1);
	s = &a.attested.quote.pcrSelect.pcrSelections[0];
	CHECK(s->hash == TPM2_ALG_SHA256);
	CHECK(s->sizeofSelect == 3 || s->sizeofSelect == 4);
	for (unsigned i = 0; i < s->sizeofSelect; i++)
		bits |= (uint32_t)s->pcrSelect[i] << (8 * i);
	CHECK(bits == pcrs);
	/* VALUES are in descending PCR order: hash them backwards. */
	for (size_t i = n; i-- > 0;) {
		memcpy(all + used, values[i], 32);
		used += 32;
	}
	CHECK(EVP_Digest(all, used, md, NULL, EVP_sha256(), NULL) == 1);
	CHECK(a.attested.quote.pcrDigest.size == 32);
	CHECK(memcmp(a.attested.quote.pcrDigest.buffer, md, 32) == 0);
	CHECK(facts->clock == a.clockInfo.clock);
	CHECK(facts->reset_count == a.clockInfo.resetCount);
	CHECK(facts->restart_count == a.clockInfo.restartCount);
	CHECK(facts->safe == a.clockInfo.safe);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct quote_facts canary = { 0x5a5a5a5a5a5a5a5aULL,
		0x5a5a5a5au, 0x5a5a5a5au, 0x5a };
	const struct quote_facts previous = { 0, PREVIOUS_RESET_COUNT,
		PREVIOUS_RESTART_COUNT, 1 };
	struct quote_facts facts = canary;
	enum quote_failure failure = (enum quote_failure)-1;
	uint8_t values[PCR_COUNT][32];
	unsigned index[PCR_COUNT];
	uint8_t *attest, *sig, flags;
	size_t attest_len, sig_len, n = 0, why_len;
	char why[QUOTE_REASON_MAX + 1];
	uint32_t pcrs;
	int r;

	if (size < HEADER_SIZE)
		return 0;
	flags = data[0];
	pcrs = (uint32_t)data[1] | (uint32_t)data[2] << 8 |
	    (uint32_t)data[3] << 16;
	if (pcrs == 0)
		pcrs = DEFAULT_PCRS;
	attest_len = (size_t)data[4] << 8 | data[5];
	data += HEADER_SIZE;
	size -= HEADER_SIZE;
	if (attest_len > size)
		attest_len = size;

	/* Exactly sized copies: a read past either end is an ASan error. */
	attest = malloc(attest_len ? attest_len : 1);
	CHECK(attest != NULL);
	memcpy(attest, data, attest_len);
	if (flags & FLAG_SIGN) {
		uint8_t buf[sizeof(TPMT_SIGNATURE)];

		sig_len = sign(attest, attest_len, buf, sizeof(buf));
		sig = malloc(sig_len);
		CHECK(sig != NULL);
		memcpy(sig, buf, sig_len);
	} else {
		sig_len = size - attest_len;
		sig = malloc(sig_len ? sig_len : 1);
		CHECK(sig != NULL);
		memcpy(sig, data + attest_len, sig_len);
	}

	/* Listed in descending order: the verifier must sort them. */
	for (unsigned i = PCR_COUNT; i-- > 0;)
		if (pcrs & (UINT32_C(1) << i)) {
			index[n] = i;
			pcr_value(i, values[n]);
			n++;
		}

	why[QUOTE_REASON_MAX] = '\0';
	memset(why, 'x', QUOTE_REASON_MAX);
	r = quote_verify((flags & FLAG_WRONG_KEY) ? p384 : ak, attest,
	    attest_len, sig, sig_len, nonce, index, n,
	    (const uint8_t (*)[32])values,
	    (flags & FLAG_PREVIOUS) ? &previous : NULL, &facts, &failure,
	    why);

	why_len = strnlen(why, QUOTE_REASON_MAX);
	CHECK(why_len < QUOTE_REASON_MAX);
	CHECK(strcmp(quote_failure_name(failure), "unknown") != 0);
	if (r == 0) {
		CHECK(failure == QUOTE_OK);
		CHECK(why_len == 0);
		/* Nobody forges an ECDSA signature or passes P-384. */
		CHECK(flags & FLAG_SIGN);
		CHECK(!(flags & FLAG_WRONG_KEY));
		check_accepted(attest, attest_len, pcrs,
		    (const uint8_t (*)[32])values, n, &facts);
		if (flags & FLAG_PREVIOUS) {
			CHECK(facts.reset_count == PREVIOUS_RESET_COUNT);
			CHECK(facts.restart_count == PREVIOUS_RESTART_COUNT);
		}
	} else {
		CHECK(r == ZT_E_PERM);
		CHECK(failure != QUOTE_OK);
		CHECK(why_len > 0);
		CHECK(memcmp(&facts.clock, &canary.clock, sizeof(facts.clock))
		    == 0);
		CHECK(facts.reset_count == canary.reset_count);
		CHECK(facts.restart_count == canary.restart_count);
		CHECK(facts.safe == canary.safe);
		/* Past the signature only what the TPM really signed. */
		if (failure == QUOTE_NONCE || failure == QUOTE_SELECTION ||
		    failure == QUOTE_DIGEST || failure == QUOTE_RESET)
			CHECK((flags & FLAG_SIGN) &&
			    !(flags & FLAG_WRONG_KEY));
		if (failure == QUOTE_RESET)
			CHECK(flags & FLAG_PREVIOUS);
	}
	free(attest);
	free(sig);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Quote verifier tests: quotes made here, one flaw each; swtpm captures. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "quote_verify.h"
#include "zt_err.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define PCR_COUNT 24
#define ATTEST_BUFFER (2 * sizeof(TPMS_ATTEST))	/* room for oversized */
#define SIGNATURE_BUFFER (2 * sizeof(TPMT_SIGNATURE))
#define FIXTURE_MAX 4096	/* the captured files are < 1 KiB */

/* The quote every case starts from. */
#define CLOCK 123456789
#define RESET_COUNT 3
#define RESTART_COUNT 1
#define FIRMWARE 0x2011111100000000ULL

/* ------------------------------------------------------------ keys */

/* Generated once for the whole run (group_setup). */
static struct {
	EVP_PKEY *signer;	/* the "TPM's" AK, private */
	EVP_PKEY *ak;		/* its public half only, as ztd holds it */
	EVP_PKEY *other;	/* another P-256 key: an unknown TPM's */
	EVP_PKEY *rsa;
	EVP_PKEY *p384;
	EVP_PKEY *ed25519;
} keys;

static EVP_PKEY *
public_half(EVP_PKEY *key)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub;
	int len;

	len = i2d_PUBKEY(key, &der);
	assert_true(len > 0);
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	assert_non_null(pub);
	return pub;
}

static int
group_setup(void **state)
{
	(void)state;
	keys.signer = EVP_EC_gen("P-256");
	keys.other = EVP_EC_gen("P-256");
	keys.p384 = EVP_EC_gen("P-384");
	/* Only refused, never used: the smallest size OpenSSL makes. */
	keys.rsa = EVP_RSA_gen(1024);
	keys.ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (keys.signer == NULL || keys.other == NULL || keys.p384 == NULL ||
	    keys.rsa == NULL || keys.ed25519 == NULL)
		return -1;
	keys.ak = public_half(keys.signer);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(keys.signer);
	EVP_PKEY_free(keys.ak);
	EVP_PKEY_free(keys.other);
	EVP_PKEY_free(keys.rsa);
	EVP_PKEY_free(keys.p384);
	EVP_PKEY_free(keys.ed25519);
	return 0;
}

/* ------------------------------------------------------------ quotes */

/* What the TPM is asked to quote, or what the verifier is given. */
struct input {
	EVP_PKEY *ak;
	uint8_t nonce[32];
	unsigned pcrs[PCR_COUNT];
	uint8_t values[PCR_COUNT][32];
	size_t n;
	struct quote_facts previous;
	bool have_previous;
};

/* A marshalled quote, as tpm_quote() hands it over. */
struct quote {
	uint8_t attest[ATTEST_BUFFER];
	size_t attest_len;
	uint8_t sig[SIGNATURE_BUFFER];
	size_t sig_len;
};

static const unsigned default_pcrs[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11,
	14 };

static void
fresh_nonce(uint8_t nonce[32])
{
	for (unsigned i = 0; i < 32; i++)
		nonce[i] = (uint8_t)(7 * i + 1);
}

static void
old_nonce(uint8_t nonce[32])
{
	for (unsigned i = 0; i < 32; i++)
		nonce[i] = (uint8_t)(0xee ^ i);
}

/* The value of PCR INDEX: distinct for each PCR, so order matters. */
static void
pcr_value(unsigned index, uint8_t value[32])
{
	for (unsigned i = 0; i < 32; i++)
		value[i] = (uint8_t)(index * 16 + i);
}

static void
default_input(struct input *in)
{
	memset(in, 0, sizeof(*in));
	in->ak = keys.ak;
	fresh_nonce(in->nonce);
	in->n = ARRAY_SIZE(default_pcrs);
	for (size_t i = 0; i < in->n; i++) {
		in->pcrs[i] = default_pcrs[i];
		pcr_value(in->pcrs[i], in->values[i]);
	}
	in->previous.clock = CLOCK - 1000;
	in->previous.reset_count = RESET_COUNT;
	in->previous.restart_count = RESTART_COUNT;
	in->previous.safe = 1;
	in->have_previous = true;
}

/* SHA-256 of IN's values, in ascending PCR order or in IN's order. */
static void
pcr_digest(const struct input *in, bool ascending, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	if (ascending) {
		for (unsigned index = 0; index < PCR_COUNT; index++)
			for (size_t i = 0; i < in->n; i++)
				if (in->pcrs[i] == index)
					assert_int_equal(EVP_DigestUpdate(ctx,
					    in->values[i], 32), 1);
	} else {
		for (size_t i = 0; i < in->n; i++)
			assert_int_equal(EVP_DigestUpdate(ctx, in->values[i],
			    32), 1);
	}
	assert_int_equal(EVP_DigestFinal_ex(ctx, out, NULL), 1);
	EVP_MD_CTX_free(ctx);
}

/* The TPMS_ATTEST a TPM would return when asked to quote IN. */
static void
build_attest(TPMS_ATTEST *a, const struct input *in)
{
	TPMS_PCR_SELECTION *s;

	memset(a, 0, sizeof(*a));
	a->magic = TPM2_GENERATED_VALUE;
	a->type = TPM2_ST_ATTEST_QUOTE;
	a->qualifiedSigner.size = 0;
	a->extraData.size = 32;
	memcpy(a->extraData.buffer, in->nonce, 32);
	a->clockInfo.clock = CLOCK;
	a->clockInfo.resetCount = RESET_COUNT;
	a->clockInfo.restartCount = RESTART_COUNT;
	a->clockInfo.safe = 1;
	a->firmwareVersion = FIRMWARE;
	a->attested.quote.pcrSelect.count = 1;
	s = &a->attested.quote.pcrSelect.pcrSelections[0];
	s->hash = TPM2_ALG_SHA256;
	s->sizeofSelect = 3;
	for (size_t i = 0; i < in->n; i++)
		s->pcrSelect[in->pcrs[i] / 8] |=
		    (uint8_t)(1u << (in->pcrs[i] % 8));
	a->attested.quote.pcrDigest.size = 32;
	pcr_digest(in, true, a->attested.quote.pcrDigest.buffer);
}

static size_t
marshal_attest(const TPMS_ATTEST *a, uint8_t *buf, size_t size)
{
	size_t offset = 0;

	assert_int_equal(Tss2_MU_TPMS_ATTEST_Marshal(a, buf, size, &offset),
	    TSS2_RC_SUCCESS);
	return offset;
}

static size_t
marshal_signature(const TPMT_SIGNATURE *s, uint8_t *buf, size_t size)
{
	size_t offset = 0;

	assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(s, buf, size,
	    &offset), TSS2_RC_SUCCESS);
	return offset;
}

/* ECDSA/SHA-256 over DATA by KEY, as the TPM's TPMT_SIGNATURE. */
static void
sign_ecdsa(EVP_PKEY *key, const uint8_t *data, size_t len,
    TPMT_SIGNATURE *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t der[128];
	const uint8_t *p = der;
	size_t der_len = sizeof(der);
	const BIGNUM *r, *s;
	ECDSA_SIG *es;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
	    key), 1);
	assert_int_equal(EVP_DigestSign(ctx, der, &der_len, data, len), 1);
	EVP_MD_CTX_free(ctx);
	es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	assert_non_null(es);
	ECDSA_SIG_get0(es, &r, &s);

	memset(out, 0, sizeof(*out));
	out->sigAlg = TPM2_ALG_ECDSA;
	out->signature.ecdsa.hash = TPM2_ALG_SHA256;
	out->signature.ecdsa.signatureR.size = 32;
	out->signature.ecdsa.signatureS.size = 32;
	assert_int_equal(BN_bn2binpad(r,
	    out->signature.ecdsa.signatureR.buffer, 32), 32);
	assert_int_equal(BN_bn2binpad(s,
	    out->signature.ecdsa.signatureS.buffer, 32), 32);
	ECDSA_SIG_free(es);
}

/* ------------------------------------------------------------ cases */

/*
 * Each case changes one thing; every step that can change the signed
 * bytes comes before the signature, so a case fails for its own reason
 * and not because the signature broke.
 */
struct quote_case {
	const char *name;
	enum quote_failure expect;
	const char *reason;	/* a part of WHY, or NULL */
	/* What the TPM was asked (the verifier gets the same). */
	void (*edit_input)(struct input *in);
	/* The TPMS_ATTEST before it is marshalled. */
	void (*edit_attest)(TPMS_ATTEST *a, const struct input *in);
	/* The marshalled attest, before it is signed. */
	void (*edit_signed_bytes)(struct quote *q);
	EVP_PKEY **signer;	/* NULL: keys.signer */
	/* The TPMT_SIGNATURE before it is marshalled. */
	void (*edit_signature)(TPMT_SIGNATURE *s);
	/* The finished quote, signed bytes or not. */
	void (*edit_quote)(struct quote *q);
	/* What the verifier is given besides the quote. */
	void (*edit_verifier)(struct input *in);
};

/* Build the quote of case C and what its verifier is given. */
static void
make_case(const struct quote_case *c, struct quote *q, struct input *v,
    TPMS_ATTEST *a)
{
	struct input in;
	TPMT_SIGNATURE s;

	default_input(&in);
	if (c->edit_input != NULL)
		c->edit_input(&in);
	build_attest(a, &in);
	if (c->edit_attest != NULL)
		c->edit_attest(a, &in);
	memset(q, 0, sizeof(*q));
	q->attest_len = marshal_attest(a, q->attest, sizeof(q->attest));
	if (c->edit_signed_bytes != NULL)
		c->edit_signed_bytes(q);
	sign_ecdsa(c->signer != NULL ? *c->signer : keys.signer, q->attest,
	    q->attest_len, &s);
	if (c->edit_signature != NULL)
		c->edit_signature(&s);
	q->sig_len = marshal_signature(&s, q->sig, sizeof(q->sig));
	if (c->edit_quote != NULL)
		c->edit_quote(q);
	*v = in;
	if (c->edit_verifier != NULL)
		c->edit_verifier(v);
}

/* --- what the TPM is asked */

static void
input_old_nonce(struct input *in)
{
	old_nonce(in->nonce);
}

static void
input_reversed(struct input *in)
{
	for (size_t i = 0, j = in->n - 1; i < j; i++, j--) {
		unsigned index = in->pcrs[i];
		uint8_t value[32];

		in->pcrs[i] = in->pcrs[j];
		in->pcrs[j] = index;
		memcpy(value, in->values[i], 32);
		memcpy(in->values[i], in->values[j], 32);
		memcpy(in->values[j], value, 32);
	}
}

/* 14, 0, 9, 3, ...: neither ascending nor descending. */
static void
input_shuffled(struct input *in)
{
	static const unsigned order[] = { 11, 0, 9, 3, 14, 1, 8, 2, 7, 4, 6,
		5 };

	assert_int_equal(in->n, ARRAY_SIZE(order));
	for (size_t i = 0; i < in->n; i++) {
		in->pcrs[i] = order[i];
		pcr_value(order[i], in->values[i]);
	}
}

static void
input_one_pcr(struct input *in)
{
	in->n = 1;
	in->pcrs[0] = 23;
	pcr_value(23, in->values[0]);
}

static void
input_all_pcrs(struct input *in)
{
	in->n = PCR_COUNT;
	for (unsigned i = 0; i < PCR_COUNT; i++) {
		in->pcrs[i] = PCR_COUNT - 1 - i;
		pcr_value(in->pcrs[i], in->values[i]);
	}
}

/* --- the TPMS_ATTEST */

static void
attest_magic_zero(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	a->magic = 0;
}

static void
attest_magic_off_by_one(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	a->magic = TPM2_GENERATED_VALUE + 1;
}

/* What TPM2_Certify returns, signed by the same AK. */
static void
attest_type_certify(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	memset(&a->attested, 0, sizeof(a->attested));
	a->type = TPM2_ST_ATTEST_CERTIFY;
	a->attested.certify.name.size = 34;
	a->attested.certify.qualifiedName.size = 34;
}

static void
attest_type_time(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	memset(&a->attested, 0, sizeof(a->attested));
	a->type = TPM2_ST_ATTEST_TIME;
	a->attested.time.time.time = 42;
}

/* A type the unmarshaller takes with no body at all. */
static void
attest_type_null(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	memset(&a->attested, 0, sizeof(a->attested));
	a->type = TPM2_ALG_NULL;
}

static void
attest_nonce_short(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	a->extraData.size = 31;
}

static void
attest_nonce_long(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	a->extraData.size = 33;
	a->extraData.buffer[32] = 0;
}

static void
attest_nonce_empty(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	a->extraData.size = 0;
}

static void
attest_nonce_last_byte(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	a->extraData.buffer[31] ^= 0x01;
}

static TPMS_PCR_SELECTION *
selection(TPMS_ATTEST *a)
{
	return &a->attested.quote.pcrSelect.pcrSelections[0];
}

static void
attest_select_0_7(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	selection(a)->pcrSelect[0] = 0xff;
	selection(a)->pcrSelect[1] = 0;
	selection(a)->pcrSelect[2] = 0;
}

static void
attest_select_plus_15(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	selection(a)->pcrSelect[1] |= 0x80;
}

static void
attest_select_4_bytes(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	selection(a)->sizeofSelect = 4;
	selection(a)->pcrSelect[3] = 0;
}

static void
attest_select_bit_24(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	selection(a)->sizeofSelect = 4;
	selection(a)->pcrSelect[3] = 0x01;
}

static void
attest_select_bit_31(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	selection(a)->sizeofSelect = 4;
	selection(a)->pcrSelect[3] = 0x80;
}

/* 0-9,11,14 fits in two bytes, but a TPM always sends three or more. */
static void
attest_select_2_bytes(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	selection(a)->sizeofSelect = 2;
}

static void
attest_select_empty_bitmap(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	memset(selection(a)->pcrSelect, 0, sizeof(selection(a)->pcrSelect));
}

static void
attest_two_banks(TPMS_ATTEST *a, const struct input *in)
{
	TPML_PCR_SELECTION *list = &a->attested.quote.pcrSelect;

	(void)in;
	list->count = 2;
	list->pcrSelections[1] = list->pcrSelections[0];
	list->pcrSelections[1].hash = TPM2_ALG_SHA1;
}

static void
attest_sha256_twice(TPMS_ATTEST *a, const struct input *in)
{
	TPML_PCR_SELECTION *list = &a->attested.quote.pcrSelect;

	(void)in;
	list->count = 2;
	list->pcrSelections[1] = list->pcrSelections[0];
}

static void
attest_sha1_bank(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	selection(a)->hash = TPM2_ALG_SHA1;
}

static void
attest_sha384_bank(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	selection(a)->hash = TPM2_ALG_SHA384;
}

static void
attest_no_bank(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	memset(&a->attested.quote.pcrSelect, 0,
	    sizeof(a->attested.quote.pcrSelect));
}

/* The digest a verifier gets wrong when it forgets to sort. */
static void
attest_digest_in_list_order(TPMS_ATTEST *a, const struct input *in)
{
	pcr_digest(in, false, a->attested.quote.pcrDigest.buffer);
}

static void
attest_digest_20_bytes(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	a->attested.quote.pcrDigest.size = 20;
}

static void
attest_digest_empty(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	a->attested.quote.pcrDigest.size = 0;
}

static void
attest_reset_4(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	a->clockInfo.resetCount = RESET_COUNT + 1;
}

static void
attest_restart_2(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	a->clockInfo.restartCount = RESTART_COUNT + 1;
}

static void
attest_reset_back(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	a->clockInfo.resetCount = RESET_COUNT - 1;
}

/* The counters as a TPM reset sets them; the clock goes on. */
static void
attest_after_reset(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	a->clockInfo.resetCount = RESET_COUNT + 1;
	a->clockInfo.restartCount = 0;
}

static void
attest_unsafe_clock(TPMS_ATTEST *a, const struct input *in)
{
	(void)in;
	a->clockInfo.safe = 0;
	a->clockInfo.clock = 7;
}

static void
attest_magic_and_selection(TPMS_ATTEST *a, const struct input *in)
{
	attest_magic_zero(a, in);
	attest_select_0_7(a, in);
	attest_digest_20_bytes(a, in);
	attest_reset_4(a, in);
}

static void
attest_selection_and_digest(TPMS_ATTEST *a, const struct input *in)
{
	attest_select_0_7(a, in);
	attest_digest_20_bytes(a, in);
}

static void
attest_digest_and_reset(TPMS_ATTEST *a, const struct input *in)
{
	attest_digest_20_bytes(a, in);
	attest_reset_4(a, in);
}

/* --- the marshalled attest, signed afterwards */

/* Offsets into a marshalled TPMS_ATTEST with an empty qualifiedSigner. */
#define OFFSET_TYPE 4
#define OFFSET_EXTRA_SIZE 8

static void
bytes_unknown_type(struct quote *q)
{
	q->attest[OFFSET_TYPE] = 0x12;
	q->attest[OFFSET_TYPE + 1] = 0x34;
}

/* extraData claims more than the whole structure. */
static void
bytes_extra_size_huge(struct quote *q)
{
	q->attest[OFFSET_EXTRA_SIZE] = 0xff;
	q->attest[OFFSET_EXTRA_SIZE + 1] = 0xff;
}

static void
bytes_count_huge(struct quote *q)
{
	/* pcrSelect.count follows firmwareVersion: 4+2+2+2+32+17+8. */
	q->attest[67] = 0x7f;
}

static void
bytes_truncated_signed(struct quote *q)
{
	q->attest_len -= 1;
}

static void
bytes_trailing_signed(struct quote *q)
{
	q->attest[q->attest_len++] = 0;
}

/* --- the signature */

static void
signature_r_flipped(TPMT_SIGNATURE *s)
{
	s->signature.ecdsa.signatureR.buffer[5] ^= 0x20;
}

static void
signature_s_flipped(TPMT_SIGNATURE *s)
{
	s->signature.ecdsa.signatureS.buffer[31] ^= 0x01;
}

static void
signature_swapped(TPMT_SIGNATURE *s)
{
	TPM2B_ECC_PARAMETER r = s->signature.ecdsa.signatureR;

	s->signature.ecdsa.signatureR = s->signature.ecdsa.signatureS;
	s->signature.ecdsa.signatureS = r;
}

static void
signature_sha1_label(TPMT_SIGNATURE *s)
{
	s->signature.ecdsa.hash = TPM2_ALG_SHA1;
}

static void
signature_rsassa(TPMT_SIGNATURE *s)
{
	memset(s, 0, sizeof(*s));
	s->sigAlg = TPM2_ALG_RSASSA;
	s->signature.rsassa.hash = TPM2_ALG_SHA256;
	s->signature.rsassa.sig.size = 256;
	memset(s->signature.rsassa.sig.buffer, 0x5a, 256);
}

static void
signature_ecschnorr(TPMT_SIGNATURE *s)
{
	s->sigAlg = TPM2_ALG_ECSCHNORR;
}

static void
signature_null(TPMT_SIGNATURE *s)
{
	memset(s, 0, sizeof(*s));
	s->sigAlg = TPM2_ALG_NULL;
}

/* The same number with a leading zero byte: no TPM sends that. */
static void
signature_r_33_bytes(TPMT_SIGNATURE *s)
{
	TPM2B_ECC_PARAMETER *r = &s->signature.ecdsa.signatureR;

	memmove(r->buffer + 1, r->buffer, 32);
	r->buffer[0] = 0;
	r->size = 33;
}

static void
signature_s_empty(TPMT_SIGNATURE *s)
{
	s->signature.ecdsa.signatureS.size = 0;
}

static void
signature_r_zero(TPMT_SIGNATURE *s)
{
	memset(s->signature.ecdsa.signatureR.buffer, 0, 32);
}

/* --- the finished quote */

static void
quote_digest_byte_changed(struct quote *q)
{
	q->attest[q->attest_len - 1] ^= 0x01;
}

/* firmwareVersion: after 4+2+2+(2+32)+17 bytes. */
static void
quote_firmware_changed(struct quote *q)
{
	q->attest[59 + 4] ^= 0x80;
}

static void
quote_attest_truncated(struct quote *q)
{
	q->attest_len -= 1;
}

static void
quote_attest_header_only(struct quote *q)
{
	q->attest_len = 6;
}

static void
quote_attest_empty(struct quote *q)
{
	q->attest_len = 0;
}

static void
quote_attest_trailing(struct quote *q)
{
	q->attest[q->attest_len++] = 0;
}

static void
quote_attest_oversized(struct quote *q)
{
	memset(q->attest + q->attest_len, 0,
	    sizeof(q->attest) - q->attest_len);
	q->attest_len = sizeof(TPMS_ATTEST) + 1;
}

static void
quote_attest_garbage(struct quote *q)
{
	memset(q->attest, 0xa5, q->attest_len);
}

static void
quote_signature_truncated(struct quote *q)
{
	q->sig_len -= 1;
}

static void
quote_signature_trailing(struct quote *q)
{
	q->sig[q->sig_len++] = 0;
}

static void
quote_signature_empty(struct quote *q)
{
	q->sig_len = 0;
}

static void
quote_signature_garbage(struct quote *q)
{
	memset(q->sig, 0xa5, q->sig_len);
}

static void
quote_signature_oversized(struct quote *q)
{
	memset(q->sig + q->sig_len, 0, sizeof(q->sig) - q->sig_len);
	q->sig_len = sizeof(TPMT_SIGNATURE) + 1;
}

/* The signature's r grows past the structure's end. */
static void
quote_signature_r_size_huge(struct quote *q)
{
	/* sigAlg, hash, then r's size. */
	q->sig[4] = 0x01;
	q->sig[5] = 0x00;
}

static void
quote_swapped(struct quote *q)
{
	uint8_t attest[sizeof(q->sig)];
	size_t attest_len = q->attest_len;

	assert_true(q->attest_len <= sizeof(attest));
	memcpy(attest, q->attest, attest_len);
	memcpy(q->attest, q->sig, q->sig_len);
	q->attest_len = q->sig_len;
	memcpy(q->sig, attest, attest_len);
	q->sig_len = attest_len;
}

/* --- what the verifier is given */

static void
verifier_fresh_nonce(struct input *in)
{
	fresh_nonce(in->nonce);
}

static void
verifier_value_changed(struct input *in)
{
	in->values[in->n - 1][0] ^= 0x01;	/* PCR 14 */
}

/* The values the TPM quoted, listed in another order than their PCRs. */
static void
verifier_values_misordered(struct input *in)
{
	uint8_t value[32];

	memcpy(value, in->values[0], 32);
	memcpy(in->values[0], in->values[1], 32);
	memcpy(in->values[1], value, 32);
}

static void
verifier_reversed(struct input *in)
{
	input_reversed(in);
}

static void
verifier_without_14(struct input *in)
{
	in->n--;
}

static void
verifier_plus_15(struct input *in)
{
	in->pcrs[in->n] = 15;
	pcr_value(15, in->values[in->n]);
	in->n++;
}

static void
verifier_no_previous(struct input *in)
{
	in->have_previous = false;
}

static void
verifier_previous_clock_ahead(struct input *in)
{
	in->previous.clock = CLOCK + 1000000;
	in->previous.safe = 0;
}

static void
verifier_other_key(struct input *in)
{
	in->ak = keys.other;
}

static void
verifier_rsa_key(struct input *in)
{
	in->ak = keys.rsa;
}

static void
verifier_p384_key(struct input *in)
{
	in->ak = keys.p384;
}

static void
verifier_ed25519_key(struct input *in)
{
	in->ak = keys.ed25519;
}

/* The private key verifies as well as its public half. */
static void
verifier_private_key(struct input *in)
{
	in->ak = keys.signer;
}

static void
verifier_other_nonce(struct input *in)
{
	in->nonce[0] ^= 0x80;
}

static const struct quote_case cases[] = {
	/* Good quotes. */
	{ .name = "good", .expect = QUOTE_OK },
	{ .name = "good, no previous quote", .expect = QUOTE_OK,
	  .edit_verifier = verifier_no_previous },
	{ .name = "good, no previous quote, counters moved",
	  .expect = QUOTE_OK, .edit_attest = attest_after_reset,
	  .edit_verifier = verifier_no_previous },
	{ .name = "good, PCRs listed in reverse", .expect = QUOTE_OK,
	  .edit_input = input_reversed },
	{ .name = "good, PCRs listed shuffled", .expect = QUOTE_OK,
	  .edit_input = input_shuffled },
	{ .name = "good, verifier lists PCRs in another order than asked",
	  .expect = QUOTE_OK, .edit_verifier = verifier_reversed },
	{ .name = "good, one PCR (23)", .expect = QUOTE_OK,
	  .edit_input = input_one_pcr },
	{ .name = "good, all 24 PCRs", .expect = QUOTE_OK,
	  .edit_input = input_all_pcrs },
	{ .name = "good, 4-byte bitmap", .expect = QUOTE_OK,
	  .edit_attest = attest_select_4_bytes },
	{ .name = "good, clock not safe and behind (only counters count)",
	  .expect = QUOTE_OK, .edit_attest = attest_unsafe_clock,
	  .edit_verifier = verifier_previous_clock_ahead },
	{ .name = "good, verified with the private key",
	  .expect = QUOTE_OK, .edit_verifier = verifier_private_key },

	/* Unmarshalling. */
	{ .name = "attest truncated", .expect = QUOTE_MALFORMED,
	  .reason = "not a TPMS_ATTEST",
	  .edit_quote = quote_attest_truncated },
	{ .name = "attest truncated, signed so", .expect = QUOTE_MALFORMED,
	  .reason = "not a TPMS_ATTEST",
	  .edit_signed_bytes = bytes_truncated_signed },
	{ .name = "attest of magic and type only",
	  .expect = QUOTE_MALFORMED, .edit_quote = quote_attest_header_only },
	{ .name = "attest empty", .expect = QUOTE_MALFORMED,
	  .reason = "attest is 0 bytes", .edit_quote = quote_attest_empty },
	{ .name = "attest trailing byte", .expect = QUOTE_MALFORMED,
	  .reason = "attest has trailing bytes (1)",
	  .edit_quote = quote_attest_trailing },
	{ .name = "attest trailing byte, signed so",
	  .expect = QUOTE_MALFORMED, .reason = "trailing",
	  .edit_signed_bytes = bytes_trailing_signed },
	{ .name = "attest longer than any TPMS_ATTEST",
	  .expect = QUOTE_MALFORMED, .edit_quote = quote_attest_oversized },
	{ .name = "attest garbage", .expect = QUOTE_MALFORMED,
	  .edit_quote = quote_attest_garbage },
	{ .name = "attest of an unknown type", .expect = QUOTE_MALFORMED,
	  .edit_signed_bytes = bytes_unknown_type },
	{ .name = "attest extraData size past the end",
	  .expect = QUOTE_MALFORMED,
	  .edit_signed_bytes = bytes_extra_size_huge },
	{ .name = "attest with a huge bank count", .expect = QUOTE_MALFORMED,
	  .edit_signed_bytes = bytes_count_huge },
	{ .name = "signature truncated", .expect = QUOTE_MALFORMED,
	  .reason = "not a TPMT_SIGNATURE",
	  .edit_quote = quote_signature_truncated },
	{ .name = "signature trailing byte", .expect = QUOTE_MALFORMED,
	  .reason = "signature has trailing bytes (1)",
	  .edit_quote = quote_signature_trailing },
	{ .name = "signature empty", .expect = QUOTE_MALFORMED,
	  .edit_quote = quote_signature_empty },
	{ .name = "signature garbage", .expect = QUOTE_MALFORMED,
	  .edit_quote = quote_signature_garbage },
	{ .name = "signature longer than any TPMT_SIGNATURE",
	  .expect = QUOTE_MALFORMED,
	  .edit_quote = quote_signature_oversized },
	{ .name = "signature r size past the end",
	  .expect = QUOTE_MALFORMED,
	  .edit_quote = quote_signature_r_size_huge },
	{ .name = "attest and signature swapped", .expect = QUOTE_MALFORMED,
	  .edit_quote = quote_swapped },

	/* Magic and type. */
	{ .name = "magic zero", .expect = QUOTE_MAGIC,
	  .reason = "magic is 0x00000000", .edit_attest = attest_magic_zero },
	{ .name = "magic off by one", .expect = QUOTE_MAGIC,
	  .reason = "magic is 0xff544348",
	  .edit_attest = attest_magic_off_by_one },
	{ .name = "type certify", .expect = QUOTE_TYPE,
	  .reason = "type is 0x8017", .edit_attest = attest_type_certify },
	{ .name = "type time", .expect = QUOTE_TYPE,
	  .reason = "type is 0x8019", .edit_attest = attest_type_time },
	{ .name = "type ALG_NULL with no body", .expect = QUOTE_TYPE,
	  .reason = "type is 0x0010", .edit_attest = attest_type_null },

	/* Signature. */
	{ .name = "signed by another key", .expect = QUOTE_SIGNATURE,
	  .reason = "does not verify", .signer = &keys.other },
	{ .name = "verified with another key", .expect = QUOTE_SIGNATURE,
	  .reason = "does not verify", .edit_verifier = verifier_other_key },
	{ .name = "signature over other bytes (pcrDigest)",
	  .expect = QUOTE_SIGNATURE, .reason = "does not verify",
	  .edit_quote = quote_digest_byte_changed },
	{ .name = "signature over other bytes (firmwareVersion)",
	  .expect = QUOTE_SIGNATURE, .reason = "does not verify",
	  .edit_quote = quote_firmware_changed },
	{ .name = "signature r changed", .expect = QUOTE_SIGNATURE,
	  .reason = "does not verify", .edit_signature = signature_r_flipped },
	{ .name = "signature s changed", .expect = QUOTE_SIGNATURE,
	  .edit_signature = signature_s_flipped },
	{ .name = "signature r and s swapped", .expect = QUOTE_SIGNATURE,
	  .edit_signature = signature_swapped },
	{ .name = "signature r zero", .expect = QUOTE_SIGNATURE,
	  .edit_signature = signature_r_zero },
	{ .name = "signature r of 33 bytes", .expect = QUOTE_SIGNATURE,
	  .reason = "33 and 32 bytes",
	  .edit_signature = signature_r_33_bytes },
	{ .name = "signature s empty", .expect = QUOTE_SIGNATURE,
	  .reason = "32 and 0 bytes", .edit_signature = signature_s_empty },
	{ .name = "signature labelled sha1", .expect = QUOTE_SIGNATURE,
	  .reason = "hash is sha1", .edit_signature = signature_sha1_label },
	{ .name = "signature RSASSA", .expect = QUOTE_SIGNATURE,
	  .reason = "RSASSA, not ECDSA", .edit_signature = signature_rsassa },
	{ .name = "signature ECSCHNORR", .expect = QUOTE_SIGNATURE,
	  .reason = "ECSCHNORR, not ECDSA",
	  .edit_signature = signature_ecschnorr },
	{ .name = "signature algorithm NULL", .expect = QUOTE_SIGNATURE,
	  .reason = "null, not ECDSA", .edit_signature = signature_null },
	{ .name = "RSA key given", .expect = QUOTE_SIGNATURE,
	  .reason = "key is RSA", .edit_verifier = verifier_rsa_key },
	{ .name = "P-384 key given", .expect = QUOTE_SIGNATURE,
	  .reason = "secp384r1", .edit_verifier = verifier_p384_key },
	{ .name = "Ed25519 key given", .expect = QUOTE_SIGNATURE,
	  .reason = "ED25519", .edit_verifier = verifier_ed25519_key },

	/* Nonce. */
	{ .name = "replayed nonce", .expect = QUOTE_NONCE,
	  .reason = "replayed", .edit_input = input_old_nonce,
	  .edit_verifier = verifier_fresh_nonce },
	{ .name = "nonce differs in its last byte", .expect = QUOTE_NONCE,
	  .edit_attest = attest_nonce_last_byte },
	{ .name = "nonce differs in its first byte", .expect = QUOTE_NONCE,
	  .edit_verifier = verifier_other_nonce },
	{ .name = "extraData 31 bytes", .expect = QUOTE_NONCE,
	  .reason = "31 bytes", .edit_attest = attest_nonce_short },
	{ .name = "extraData 33 bytes", .expect = QUOTE_NONCE,
	  .reason = "33 bytes", .edit_attest = attest_nonce_long },
	{ .name = "extraData empty", .expect = QUOTE_NONCE,
	  .reason = "0 bytes", .edit_attest = attest_nonce_empty },

	/* PCR selection. */
	{ .name = "selection 0-7", .expect = QUOTE_SELECTION,
	  .reason = "PCR selection differs: quote has 0-7, configured "
	  "0-9,11,14", .edit_attest = attest_select_0_7 },
	{ .name = "selection with PCR 15 added", .expect = QUOTE_SELECTION,
	  .reason = "quote has 0-9,11,14-15, configured 0-9,11,14",
	  .edit_attest = attest_select_plus_15 },
	{ .name = "selection with bit 24 set", .expect = QUOTE_SELECTION,
	  .reason = "quote has 0-9,11,14,24",
	  .edit_attest = attest_select_bit_24 },
	{ .name = "selection with bit 31 set", .expect = QUOTE_SELECTION,
	  .reason = "quote has 0-9,11,14,31",
	  .edit_attest = attest_select_bit_31 },
	{ .name = "selection of no PCR", .expect = QUOTE_SELECTION,
	  .reason = "quote has none",
	  .edit_attest = attest_select_empty_bitmap },
	{ .name = "selection bitmap of 2 bytes", .expect = QUOTE_SELECTION,
	  .reason = "2 bytes", .edit_attest = attest_select_2_bytes },
	{ .name = "verifier configured without 14",
	  .expect = QUOTE_SELECTION,
	  .reason = "quote has 0-9,11,14, configured 0-9,11",
	  .edit_verifier = verifier_without_14 },
	{ .name = "verifier configured with 15 too",
	  .expect = QUOTE_SELECTION,
	  .reason = "configured 0-9,11,14-15",
	  .edit_verifier = verifier_plus_15 },
	{ .name = "two banks (sha256, sha1)", .expect = QUOTE_SELECTION,
	  .reason = "2 banks", .edit_attest = attest_two_banks },
	{ .name = "the sha256 bank twice", .expect = QUOTE_SELECTION,
	  .reason = "2 banks", .edit_attest = attest_sha256_twice },
	{ .name = "sha1 bank", .expect = QUOTE_SELECTION,
	  .reason = "sha1 bank", .edit_attest = attest_sha1_bank },
	{ .name = "sha384 bank", .expect = QUOTE_SELECTION,
	  .reason = "sha384 bank", .edit_attest = attest_sha384_bank },
	{ .name = "no bank", .expect = QUOTE_SELECTION,
	  .reason = "0 banks", .edit_attest = attest_no_bank },

	/* PCR digest. */
	{ .name = "a PCR value differs from the one quoted",
	  .expect = QUOTE_DIGEST, .reason = "pcrDigest does not match",
	  .edit_verifier = verifier_value_changed },
	{ .name = "values given in another order than their PCRs",
	  .expect = QUOTE_DIGEST,
	  .edit_verifier = verifier_values_misordered },
	{ .name = "pcrDigest over the list order, not ascending",
	  .expect = QUOTE_DIGEST, .edit_input = input_shuffled,
	  .edit_attest = attest_digest_in_list_order },
	{ .name = "pcrDigest of 20 bytes", .expect = QUOTE_DIGEST,
	  .reason = "20 bytes", .edit_attest = attest_digest_20_bytes },
	{ .name = "pcrDigest empty", .expect = QUOTE_DIGEST,
	  .reason = "0 bytes", .edit_attest = attest_digest_empty },

	/* Counters. */
	{ .name = "resetCount changed", .expect = QUOTE_RESET,
	  .reason = "resetCount changed 3 -> 4: the TPM was reset",
	  .edit_attest = attest_reset_4 },
	{ .name = "resetCount went back", .expect = QUOTE_RESET,
	  .reason = "resetCount changed 3 -> 2",
	  .edit_attest = attest_reset_back },
	{ .name = "restartCount changed", .expect = QUOTE_RESET,
	  .reason = "restartCount changed 1 -> 2",
	  .edit_attest = attest_restart_2 },
	{ .name = "after a reset (restartCount back to 0)",
	  .expect = QUOTE_RESET, .reason = "resetCount changed 3 -> 4",
	  .edit_attest = attest_after_reset },

	/* The order of the checks. */
	{ .name = "order: magic before selection, digest, counters",
	  .expect = QUOTE_MAGIC, .edit_attest = attest_magic_and_selection,
	  .edit_verifier = verifier_other_nonce },
	{ .name = "order: signature before nonce", .expect = QUOTE_SIGNATURE,
	  .signer = &keys.other, .edit_verifier = verifier_other_nonce },
	{ .name = "order: nonce before selection", .expect = QUOTE_NONCE,
	  .edit_attest = attest_select_0_7,
	  .edit_verifier = verifier_other_nonce },
	{ .name = "order: selection before digest",
	  .expect = QUOTE_SELECTION,
	  .edit_attest = attest_selection_and_digest },
	{ .name = "order: digest before counters", .expect = QUOTE_DIGEST,
	  .edit_attest = attest_digest_and_reset },
};

/* A canary: FACTS must not change when a quote is refused. */
static const struct quote_facts untouched = {
	.clock = 0xa5a5a5a5a5a5a5a5ULL, .reset_count = 0xa5a5a5a5u,
	.restart_count = 0xa5a5a5a5u, .safe = 0xa5
};

/* Field by field: the struct has padding. */
static void
assert_facts_equal(const struct quote_facts *a, const struct quote_facts *b)
{
	assert_int_equal(a->clock, b->clock);
	assert_int_equal(a->reset_count, b->reset_count);
	assert_int_equal(a->restart_count, b->restart_count);
	assert_int_equal(a->safe, b->safe);
}

static int
verify(const struct quote *q, const struct input *v,
    struct quote_facts *facts, enum quote_failure *failure, char *why)
{
	*facts = untouched;
	*failure = (enum quote_failure)-1;
	memset(why, 'x', QUOTE_REASON_MAX);
	return quote_verify(v->ak, q->attest, q->attest_len, q->sig,
	    q->sig_len, v->nonce, v->pcrs, v->n,
	    (const uint8_t (*)[32])v->values,
	    v->have_previous ? &v->previous : NULL, facts, failure, why);
}

/* What every refusal must look like. */
static void
assert_refused(int r, const struct quote_facts *facts,
    enum quote_failure failure, const char *why)
{
	size_t len = strnlen(why, QUOTE_REASON_MAX);

	assert_int_equal(r, ZT_E_PERM);
	assert_int_not_equal(failure, QUOTE_OK);
	assert_true(len > 0 && len < QUOTE_REASON_MAX);
	assert_facts_equal(facts, &untouched);
}

static void
test_case(void **state)
{
	const struct quote_case *c = *state;
	static struct quote q;
	struct input v;
	struct quote_facts facts;
	enum quote_failure failure;
	char why[QUOTE_REASON_MAX];
	TPMS_ATTEST a;
	int r;

	make_case(c, &q, &v, &a);
	r = verify(&q, &v, &facts, &failure, why);
	if (failure != c->expect)
		fail_msg("%s: refused as \"%s\", expected \"%s\" (%.*s)",
		    c->name, quote_failure_name(failure),
		    quote_failure_name(c->expect), QUOTE_REASON_MAX, why);
	if (c->expect == QUOTE_OK) {
		assert_int_equal(r, 0);
		assert_string_equal(why, "");
		assert_int_equal(facts.clock, a.clockInfo.clock);
		assert_int_equal(facts.reset_count, a.clockInfo.resetCount);
		assert_int_equal(facts.restart_count,
		    a.clockInfo.restartCount);
		assert_int_equal(facts.safe, a.clockInfo.safe);
		return;
	}
	assert_refused(r, &facts, failure, why);
	if (c->reason != NULL && strstr(why, c->reason) == NULL)
		fail_msg("%s: reason \"%s\" does not say \"%s\"", c->name, why,
		    c->reason);
}

/* ------------------------------------------------------------ more */

static void
test_failure_names(void **state)
{
	static const char *const names[] = { "ok", "malformed", "magic",
		"type", "nonce", "selection", "digest", "signature", "reset" };

	(void)state;
	for (int f = QUOTE_OK; f <= QUOTE_RESET; f++)
		assert_string_equal(
		    quote_failure_name((enum quote_failure)f), names[f]);
	assert_string_equal(quote_failure_name((enum quote_failure)99),
	    "unknown");
	assert_string_equal(quote_failure_name((enum quote_failure)-1),
	    "unknown");
}

/* A caller's mistake: -EINVAL, a failure and a reason, never success. */
static void
test_invalid_arguments(void **state)
{
	static struct quote q;
	struct quote_case good = { .name = "good" };
	struct input v, bad;
	struct quote_facts facts;
	enum quote_failure failure;
	char why[QUOTE_REASON_MAX];
	TPMS_ATTEST a;

	(void)state;
	make_case(&good, &q, &v, &a);

	bad = v;
	bad.n = 0;
	assert_int_equal(verify(&q, &bad, &facts, &failure, why), -EINVAL);
	assert_int_equal(failure, QUOTE_SELECTION);
	assert_true(why[0] != '\0');
	assert_facts_equal(&facts, &untouched);

	bad = v;
	bad.n = PCR_COUNT + 1;
	assert_int_equal(verify(&q, &bad, &facts, &failure, why), -EINVAL);
	assert_int_equal(failure, QUOTE_SELECTION);

	bad = v;
	bad.pcrs[3] = 24;
	assert_int_equal(verify(&q, &bad, &facts, &failure, why), -EINVAL);
	assert_int_equal(failure, QUOTE_SELECTION);
	assert_non_null(strstr(why, "below 24"));

	bad = v;
	bad.pcrs[3] = bad.pcrs[2];
	assert_int_equal(verify(&q, &bad, &facts, &failure, why), -EINVAL);
	assert_int_equal(failure, QUOTE_SELECTION);
	assert_non_null(strstr(why, "twice"));

	bad = v;
	bad.ak = NULL;
	assert_int_equal(verify(&q, &bad, &facts, &failure, why), -EINVAL);
	assert_int_equal(failure, QUOTE_SIGNATURE);

	facts = untouched;
	assert_int_equal(quote_verify(v.ak, NULL, 10, q.sig, q.sig_len,
	    v.nonce, v.pcrs, v.n, (const uint8_t (*)[32])v.values, NULL,
	    &facts, &failure, why), -EINVAL);
	assert_int_equal(failure, QUOTE_MALFORMED);
	assert_int_equal(quote_verify(v.ak, q.attest, q.attest_len, q.sig,
	    q.sig_len, NULL, v.pcrs, v.n, (const uint8_t (*)[32])v.values,
	    NULL, &facts, &failure, why), -EINVAL);
	assert_int_equal(quote_verify(v.ak, q.attest, q.attest_len, q.sig,
	    q.sig_len, v.nonce, v.pcrs, v.n, NULL, NULL, &facts, &failure,
	    why), -EINVAL);
	assert_int_equal(quote_verify(v.ak, q.attest, q.attest_len, q.sig,
	    q.sig_len, v.nonce, v.pcrs, v.n, (const uint8_t (*)[32])v.values,
	    NULL, NULL, &failure, why), -EINVAL);
	assert_int_equal(quote_verify(v.ak, q.attest, q.attest_len, q.sig,
	    q.sig_len, v.nonce, v.pcrs, v.n, (const uint8_t (*)[32])v.values,
	    NULL, &facts, NULL, why), -EINVAL);
	assert_int_equal(quote_verify(v.ak, q.attest, q.attest_len, q.sig,
	    q.sig_len, v.nonce, v.pcrs, v.n, (const uint8_t (*)[32])v.values,
	    NULL, &facts, &failure, NULL), -EINVAL);
	assert_facts_equal(&facts, &untouched);

	/* A zero-length quote may come without a buffer: just malformed. */
	assert_int_equal(quote_verify(v.ak, NULL, 0, q.sig, q.sig_len,
	    v.nonce, v.pcrs, v.n, (const uint8_t (*)[32])v.values, NULL,
	    &facts, &failure, why), ZT_E_PERM);
	assert_int_equal(failure, QUOTE_MALFORMED);
	assert_int_equal(quote_verify(v.ak, q.attest, q.attest_len, NULL, 0,
	    v.nonce, v.pcrs, v.n, (const uint8_t (*)[32])v.values, NULL,
	    &facts, &failure, why), ZT_E_PERM);
	assert_int_equal(failure, QUOTE_MALFORMED);
}

/* ztd passes its baseline as PREVIOUS and may write the result there. */
static void
test_facts_may_be_previous(void **state)
{
	static struct quote q;
	struct quote_case good = { .name = "good" };
	struct input v;
	struct quote_facts facts;
	enum quote_failure failure;
	char why[QUOTE_REASON_MAX];
	TPMS_ATTEST a;

	(void)state;
	make_case(&good, &q, &v, &a);
	facts = v.previous;
	assert_int_equal(quote_verify(v.ak, q.attest, q.attest_len, q.sig,
	    q.sig_len, v.nonce, v.pcrs, v.n, (const uint8_t (*)[32])v.values,
	    &facts, &facts, &failure, why), 0);
	assert_int_equal(failure, QUOTE_OK);
	assert_int_equal(facts.clock, CLOCK);
	assert_int_equal(facts.reset_count, RESET_COUNT);
	assert_int_equal(facts.restart_count, RESTART_COUNT);
	assert_int_equal(facts.safe, 1);
}

/*
 * Any single bit of the quote flipped: refused, by a check that comes no
 * later than the signature's (everything after it is the TPM's word).
 */
static void
check_flips(const struct quote *good, const struct input *v)
{
	static struct quote q;
	struct quote_facts facts;
	enum quote_failure failure;
	char why[QUOTE_REASON_MAX];
	int r;

	for (size_t part = 0; part < 2; part++) {
		size_t len = part == 0 ? good->attest_len : good->sig_len;

		for (size_t i = 0; i < len * 8; i++) {
			q = *good;
			if (part == 0)
				q.attest[i / 8] ^= (uint8_t)(1u << (i % 8));
			else
				q.sig[i / 8] ^= (uint8_t)(1u << (i % 8));
			r = verify(&q, v, &facts, &failure, why);
			if (failure != QUOTE_MALFORMED &&
			    failure != QUOTE_MAGIC && failure != QUOTE_TYPE &&
			    failure != QUOTE_SIGNATURE)
				fail_msg("%s bit %zu: %s (%.*s)",
				    part == 0 ? "attest" : "signature", i,
				    quote_failure_name(failure),
				    QUOTE_REASON_MAX, why);
			assert_refused(r, &facts, failure, why);
		}
	}
}

static void
test_every_bit_flipped(void **state)
{
	static struct quote q;
	struct quote_case good = { .name = "good" };
	struct input v;
	TPMS_ATTEST a;

	(void)state;
	make_case(&good, &q, &v, &a);
	check_flips(&q, &v);
}

/* Every prefix of the attest and of the signature: malformed. */
static void
test_every_truncation(void **state)
{
	static struct quote good, q;
	struct quote_case c = { .name = "good" };
	struct input v;
	struct quote_facts facts;
	enum quote_failure failure;
	char why[QUOTE_REASON_MAX];
	TPMS_ATTEST a;
	int r;

	(void)state;
	make_case(&c, &good, &v, &a);
	for (size_t len = 0; len < good.attest_len; len++) {
		q = good;
		q.attest_len = len;
		r = verify(&q, &v, &facts, &failure, why);
		assert_int_equal(failure, QUOTE_MALFORMED);
		assert_refused(r, &facts, failure, why);
	}
	for (size_t len = 0; len < good.sig_len; len++) {
		q = good;
		q.sig_len = len;
		r = verify(&q, &v, &facts, &failure, why);
		assert_int_equal(failure, QUOTE_MALFORMED);
		assert_refused(r, &facts, failure, why);
	}
}

/* ------------------------------------------------------------ captures */

static const char *
top_srcdir(void)
{
	const char *dir = secure_getenv("top_srcdir");

	return dir != NULL && dir[0] != '\0' ? dir : ".";
}

/* Read tests/data/quotes/NAME into BUF; false when it does not exist. */
static bool
read_fixture(const char *name, uint8_t *buf, size_t size, size_t *len)
{
	char path[4096];
	FILE *f;

	assert_true((size_t)snprintf(path, sizeof(path),
	    "%s/tests/data/quotes/%s", top_srcdir(), name) < sizeof(path));
	if ((f = fopen(path, "rb")) == NULL) {
		assert_int_equal(errno, ENOENT);
		return false;
	}
	*len = fread(buf, 1, size, f);
	assert_false(ferror(f));
	assert_true(feof(f));	/* all of it fitted */
	fclose(f);
	return true;
}

static EVP_PKEY *
load_key(const char *name)
{
	uint8_t der[FIXTURE_MAX];
	const uint8_t *p = der;
	size_t len;
	EVP_PKEY *key;

	assert_true(read_fixture(name, der, sizeof(der), &len));
	key = d2i_PUBKEY(NULL, &p, (long)len);
	assert_non_null(key);
	return key;
}

/* "INDEX HEX" lines, in the order the PCRs were read. */
static void
load_pcrs(const char *name, struct input *in)
{
	char text[FIXTURE_MAX + 1], *line, *save = NULL;
	size_t len;

	assert_true(read_fixture(name, (uint8_t *)text, sizeof(text) - 1,
	    &len));
	text[len] = '\0';
	in->n = 0;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		unsigned index;
		char hex[65];

		assert_true(in->n < PCR_COUNT);
		assert_int_equal(sscanf(line, "%u %64s", &index, hex), 2);
		assert_int_equal(strlen(hex), 64);
		in->pcrs[in->n] = index;
		for (unsigned i = 0; i < 32; i++) {
			unsigned byte;

			assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
			in->values[in->n][i] = (uint8_t)byte;
		}
		in->n++;
	}
	assert_true(in->n > 0);
}

/* One capture: its quote, and the inputs it verifies with. */
struct capture {
	struct quote q;
	struct input in;
	TPMS_ATTEST a;		/* unmarshalled: the facts expected */
};

static bool
load_capture(const char *suffix, struct capture *c)
{
	char name[64];
	uint8_t nonce[64];
	size_t len, offset = 0;

	memset(c, 0, sizeof(*c));
	snprintf(name, sizeof(name), "attest%s.bin", suffix);
	if (!read_fixture(name, c->q.attest, sizeof(c->q.attest),
	    &c->q.attest_len))
		return false;
	snprintf(name, sizeof(name), "sig%s.bin", suffix);
	assert_true(read_fixture(name, c->q.sig, sizeof(c->q.sig),
	    &c->q.sig_len));
	snprintf(name, sizeof(name), "nonce%s.bin", suffix);
	assert_true(read_fixture(name, nonce, sizeof(nonce), &len));
	assert_int_equal(len, sizeof(c->in.nonce));
	memcpy(c->in.nonce, nonce, sizeof(c->in.nonce));
	snprintf(name, sizeof(name), "pcrs%s.txt", suffix);
	load_pcrs(name, &c->in);
	snprintf(name, sizeof(name), "ak%s.der", suffix);
	c->in.ak = load_key(name);
	assert_int_equal(Tss2_MU_TPMS_ATTEST_Unmarshal(c->q.attest,
	    c->q.attest_len, &offset, &c->a), TSS2_RC_SUCCESS);
	return true;
}

static int
verify_capture(const struct capture *c, const struct input *v,
    struct quote_facts *facts, enum quote_failure *failure, char *why)
{
	return verify(&c->q, v, facts, failure, why);
}

static void
expect_refusal(const struct capture *c, const struct input *v,
    enum quote_failure expect, const char *what)
{
	struct quote_facts facts;
	enum quote_failure failure;
	char why[QUOTE_REASON_MAX];
	int r;

	r = verify_capture(c, v, &facts, &failure, why);
	if (failure != expect)
		fail_msg("%s: \"%s\", expected \"%s\" (%.*s)", what,
		    quote_failure_name(failure), quote_failure_name(expect),
		    QUOTE_REASON_MAX, why);
	assert_refused(r, &facts, failure, why);
}

static void
test_swtpm_capture(void **state)
{
	static struct capture one, two;
	struct input v;
	struct quote_facts facts, first;
	enum quote_failure failure;
	char why[QUOTE_REASON_MAX];
	size_t n14 = PCR_COUNT;

	(void)state;
	if (!load_capture("", &one)) {
		skip();
		return;
	}
	assert_true(load_capture("2", &two));

	/* As captured. */
	assert_int_equal(verify_capture(&one, &one.in, &facts, &failure,
	    why), 0);
	assert_int_equal(failure, QUOTE_OK);
	assert_int_equal(facts.clock, one.a.clockInfo.clock);
	assert_int_equal(facts.reset_count, one.a.clockInfo.resetCount);
	assert_int_equal(facts.restart_count, one.a.clockInfo.restartCount);
	assert_int_equal(facts.safe, one.a.clockInfo.safe);
	first = facts;
	assert_int_equal(verify_capture(&two, &two.in, &facts, &failure,
	    why), 0);

	/* With itself as the previous quote, and PCRs listed reversed. */
	v = one.in;
	v.previous = first;
	v.have_previous = true;
	input_reversed(&v);
	assert_int_equal(verify_capture(&one, &v, &facts, &failure, why), 0);
	assert_facts_equal(&facts, &first);

	v = one.in;
	v.nonce[0] ^= 0x01;
	expect_refusal(&one, &v, QUOTE_NONCE, "flipped nonce");
	v = one.in;
	memcpy(v.nonce, two.in.nonce, 32);
	expect_refusal(&one, &v, QUOTE_NONCE, "the other capture's nonce");

	v = one.in;
	v.ak = two.in.ak;
	expect_refusal(&one, &v, QUOTE_SIGNATURE, "ak2.der");
	v = two.in;
	v.ak = one.in.ak;
	expect_refusal(&two, &v, QUOTE_SIGNATURE, "attest2 with ak.der");

	v = one.in;
	for (size_t i = 0; i < v.n; i++)
		if (v.pcrs[i] == 14)
			n14 = i;
	assert_true(n14 < v.n);
	memset(v.values[n14], 0, 32);
	expect_refusal(&one, &v, QUOTE_DIGEST, "PCR 14 zeroed");

	v = one.in;
	v.pcrs[n14] = v.pcrs[v.n - 1];
	memcpy(v.values[n14], v.values[v.n - 1], 32);
	v.n--;
	expect_refusal(&one, &v, QUOTE_SELECTION, "selection without 14");

	v = one.in;
	v.have_previous = true;
	v.previous.reset_count = one.a.clockInfo.resetCount - 1;
	v.previous.restart_count = one.a.clockInfo.restartCount;
	expect_refusal(&one, &v, QUOTE_RESET, "previous resetCount");
	v.previous.reset_count = one.a.clockInfo.resetCount;
	v.previous.restart_count = one.a.clockInfo.restartCount + 1;
	expect_refusal(&one, &v, QUOTE_RESET, "previous restartCount");

	check_flips(&one.q, &one.in);

	EVP_PKEY_free(one.in.ak);
	EVP_PKEY_free(two.in.ak);
}

/* ------------------------------------------------------------ main */

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_failure_names),
		cmocka_unit_test(test_invalid_arguments),
		cmocka_unit_test(test_facts_may_be_previous),
		cmocka_unit_test(test_every_bit_flipped),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_swtpm_capture),
	};
	static struct CMUnitTest tests[ARRAY_SIZE(fixed) + ARRAY_SIZE(cases)];
	static char names[ARRAY_SIZE(cases)][96];
	size_t n = 0;

	/* tss2-mu logs each refused selector; the reasons say it already. */
	setenv("TSS2_LOG", "all+none", 0);
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		tests[n++] = fixed[i];
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(names[i], sizeof(names[i]), "%s: %s",
		    quote_failure_name(cases[i].expect), cases[i].name);
		tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(
		    test_case, (void *)&cases[i]);
		tests[n++].name = names[i];
	}
	return _cmocka_run_group_tests("quote", tests, n, group_setup,
	    group_teardown);
}

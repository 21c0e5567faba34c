/* SPDX-License-Identifier: Apache-2.0 */
/* The TPM side of host attestation: the attestation key, PCR reads, quotes. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "attest_tpm.h"

/*
 * How long one command may take, all resubmissions included.  A hardware
 * TPM quotes in hundreds of milliseconds and creates an ECC primary in a
 * second or two; 5 s is far above both and still bounds a TPM that stops
 * answering.
 */
#define TPM_TIMEOUT_MS 5000
#define TPM_TRIES 5		/* sends of one command that RETRY/YIELDED */
#define TPM_RETRY_PAUSE_MS 20	/* between those sends */
#define PCR_READ_TRIES 5	/* reads restarted because a PCR changed */
#define PCR_SELECT_SIZE 3	/* 24 PCRs, TPM_PCR_SELECT_MIN */
#define ECC_P256_SIZE 32
#define SPKI_MAX 128		/* a P-256 SubjectPublicKeyInfo is 91 bytes */
/* TPM2_TRANSIENT_FIRST, which the 3.2.1 header computes as an int shift
 * that overflows. */
#define TRANSIENT_FIRST 0x80000000u

struct tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR ak;		/* transient; ESYS_TR_NONE when not loaded */
	bool broken;		/* unanswered or transport error: only close */
	TSS2_RC last_rc;	/* of the last command execute() ran */
	uint8_t spki[SPKI_MAX];
	size_t spki_len;
	uint8_t public[TPM_PUBLIC_MAX];	/* marshalled TPM2B_PUBLIC */
	size_t public_len;
};

/*
 * One ESYS command: its inputs, and what its _Finish hands back (owned by
 * the caller, freed by call_free()).  The synchronous Esys_* functions set
 * the context's timeout to "forever" around their _Finish loop, so
 * Esys_SetTimeout() would change nothing for them; every command is sent
 * with its _Async function and collected with _Finish under a deadline
 * instead (see await()).
 */
struct call {
	TPM2_CC code;
	const char *what;		/* for WHY */
	/* CreatePrimary */
	const TPM2B_PUBLIC *template;
	ESYS_TR object;
	TPM2B_PUBLIC *public;
	/* PCR_Read and Quote */
	const TPML_PCR_SELECTION *selection;
	UINT32 update_counter;
	TPML_PCR_SELECTION *selection_out;
	TPML_DIGEST *digests;
	/* Quote */
	const TPM2B_DATA *qualifying_data;
	TPM2B_ATTEST *attest;
	TPMT_SIGNATURE *signature;
	/* FlushContext */
	ESYS_TR flush;
	/* GetCapability (transient handles) */
	TPMS_CAPABILITY_DATA *capability;
	/* ReadPublic, through Esys_TR_FromTPMPublic */
	TPM2_HANDLE handle;
};

static void
call_free(struct call *c)
{
	Esys_Free(c->public);
	Esys_Free(c->selection_out);
	Esys_Free(c->digests);
	Esys_Free(c->attest);
	Esys_Free(c->signature);
	Esys_Free(c->capability);
	c->capability = NULL;
	c->public = NULL;
	c->selection_out = NULL;
	c->digests = NULL;
	c->attest = NULL;
	c->signature = NULL;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* TRY_AGAIN from any layer of the stack (the TPM's own codes have none). */
static bool
is_try_again(TSS2_RC rc)
{
	return (rc & TSS2_RC_LAYER_MASK) != 0 &&
	    (rc & ~TSS2_RC_LAYER_MASK) == TSS2_BASE_RC_TRY_AGAIN;
}

/* The TPM asks for the command again (ESYS has resubmitted it already). */
static bool
is_busy(TSS2_RC rc)
{
	return rc == TPM2_RC_RETRY || rc == TPM2_RC_YIELDED ||
	    rc == TPM2_RC_TESTING;
}

/* Fixed inputs; ESYS copies or marshals what it keeps. */
static const TPM2B_SENSITIVE_CREATE no_sensitive;
static const TPM2B_DATA no_outside_info;
static const TPML_PCR_SELECTION no_creation_pcrs;
static const TPMT_SIG_SCHEME key_scheme = { .scheme = TPM2_ALG_NULL };

static TSS2_RC
send_call(struct tpm *t, struct call *c)
{
	switch (c->code) {
	case TPM2_CC_CreatePrimary:
		return Esys_CreatePrimary_Async(t->esys, ESYS_TR_RH_ENDORSEMENT,
		    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &no_sensitive,
		    c->template, &no_outside_info, &no_creation_pcrs);
	case TPM2_CC_PCR_Read:
		return Esys_PCR_Read_Async(t->esys, ESYS_TR_NONE, ESYS_TR_NONE,
		    ESYS_TR_NONE, c->selection);
	case TPM2_CC_Quote:
		/* TPM2_ALG_NULL: the key's own scheme, ECDSA/SHA-256. */
		return Esys_Quote_Async(t->esys, t->ak, ESYS_TR_PASSWORD,
		    ESYS_TR_NONE, ESYS_TR_NONE, c->qualifying_data, &key_scheme,
		    c->selection);
	case TPM2_CC_FlushContext:
		return Esys_FlushContext_Async(t->esys, c->flush);
	case TPM2_CC_GetCapability:
		return Esys_GetCapability_Async(t->esys, ESYS_TR_NONE,
		    ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
		    TRANSIENT_FIRST, TPM2_MAX_CAP_HANDLES);
	case TPM2_CC_ReadPublic:
		return Esys_TR_FromTPMPublic_Async(t->esys, c->handle,
		    ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE);
	default:
		return TSS2_ESYS_RC_NOT_IMPLEMENTED;
	}
}

static TSS2_RC
finish_call(struct tpm *t, struct call *c)
{
	switch (c->code) {
	case TPM2_CC_CreatePrimary:
		return Esys_CreatePrimary_Finish(t->esys, &c->object,
		    &c->public, NULL, NULL, NULL);
	case TPM2_CC_PCR_Read:
		return Esys_PCR_Read_Finish(t->esys, &c->update_counter,
		    &c->selection_out, &c->digests);
	case TPM2_CC_Quote:
		return Esys_Quote_Finish(t->esys, &c->attest, &c->signature);
	case TPM2_CC_FlushContext:
		return Esys_FlushContext_Finish(t->esys);
	case TPM2_CC_GetCapability: {
		TPMI_YES_NO more;

		return Esys_GetCapability_Finish(t->esys, &more,
		    &c->capability);
	}
	case TPM2_CC_ReadPublic:
		return Esys_TR_FromTPMPublic_Finish(t->esys, &c->object);
	default:
		return TSS2_ESYS_RC_NOT_IMPLEMENTED;
	}
}

/*
 * Collect the answer to the command sent, by DEADLINE.  Each _Finish waits
 * at most the time left: Esys_SetTimeout reaches the TCTI's receive, and
 * the device TCTI (/dev/tpmrm0) poll()s with it, returning TRY_AGAIN when
 * it runs out.  The swtpm and cmd TCTIs of tpm2-tss 3.2.1 ignore it and
 * block in read() until the TPM answers or the connection drops; nothing
 * short of a signal gets a thread out of that, so the callers keep TPM
 * work off the event loop.  TRY_AGAIN also comes back when ESYS resubmits
 * a command the TPM answered RETRY/YIELDED/TESTING to; those are collected
 * within the same deadline.
 */
static TSS2_RC
await(struct tpm *t, struct call *c, int64_t deadline)
{
	TSS2_RC rc;

	for (;;) {
		int64_t left = deadline - now_ms();

		if (left <= 0)
			return TSS2_ESYS_RC_TRY_AGAIN;
		Esys_SetTimeout(t->esys, (int32_t)left);
		rc = finish_call(t, c);
		if (!is_try_again(rc))
			return rc;
	}
}

/*
 * Whether ESYS can still send after RC.  The TPM's own errors (and a
 * resource manager's on its behalf) leave the context ready for the next
 * command; a TCTI, SYS or ESYS error leaves it in an internal-error state
 * where every later call answers BAD_SEQUENCE.
 */
static bool
context_usable(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

	return layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER;
}

/*
 * Run C: send, collect, and send again (TPM_TRIES in all) while the TPM
 * answers RETRY, YIELDED or TESTING beyond what ESYS resubmits by itself.
 * Returns 0, or a negative errno with WHY: -ETIMEDOUT when the TPM did not
 * answer within TPM_TIMEOUT_MS, -EIO otherwise.  After a timeout or a
 * transport error T is marked broken: it can only be closed.
 */
static int
execute(struct tpm *t, struct call *c, char *why)
{
	int64_t deadline = now_ms() + TPM_TIMEOUT_MS;
	TSS2_RC rc = TSS2_RC_SUCCESS;

	if (t->broken) {
		snprintf(why, TPM_REASON_MAX, "%s: the TPM connection failed "
		    "earlier; reopen it", c->what);
		return -EIO;
	}
	for (int tries = 0; tries < TPM_TRIES; tries++) {
		if (tries > 0)
			pause_ms(TPM_RETRY_PAUSE_MS);
		if ((rc = send_call(t, c)) != TSS2_RC_SUCCESS)
			break;
		rc = await(t, c, deadline);
		if (is_try_again(rc)) {
			t->broken = true;
			snprintf(why, TPM_REASON_MAX, "%s: no answer from the "
			    "TPM within %d ms", c->what, TPM_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
		if (!is_busy(rc) || now_ms() >= deadline)
			break;
	}
	t->last_rc = rc;
	if (rc == TSS2_RC_SUCCESS)
		return 0;
	if (!context_usable(rc))
		t->broken = true;
	snprintf(why, TPM_REASON_MAX, "%s: %s (0x%x)", c->what,
	    Tss2_RC_Decode(rc), (unsigned)rc);
	return -EIO;
}

/*
 * The attestation key's template: an ECC NIST P-256 restricted signing key,
 * ECDSA with SHA-256, that only the TPM holds (fixedTPM, fixedParent,
 * sensitiveDataOrigin) and that needs no authorisation value (userWithAuth,
 * empty auth).  Restricted: it signs only what the TPM itself produced
 * (quotes, certifications), never a digest someone hands it, so a quote
 * cannot be forged by asking it to sign arbitrary bytes.
 *
 * It is a primary key with an empty unique field, and a primary key is
 * derived from the hierarchy's seed and the template alone: every
 * CreatePrimary on the same TPM gives the same key, so there is no need to
 * make it persistent with EvictControl.  That choice means no NV writes
 * (NV wears, and EvictControl needs owner authorisation), no persistent
 * handle that could collide with another user's (0x81010001 and friends),
 * the same key after a restart of ztd or of the machine, and nothing left
 * on the TPM to clean up: the transient copy is flushed when we close.
 * The key changes only with the endorsement seed (TPM2_ChangeEPS, or a new
 * TPM), which is exactly when re-enrolment is due.
 */
static const TPM2B_PUBLIC ak_template = {
	.publicArea = {
		.type = TPM2_ALG_ECC,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPMA_OBJECT_FIXEDTPM |
		    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
		    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED |
		    TPMA_OBJECT_SIGN_ENCRYPT,
		.authPolicy = { .size = 0 },
		.parameters.eccDetail = {
			.symmetric = { .algorithm = TPM2_ALG_NULL },
			.scheme = {
				.scheme = TPM2_ALG_ECDSA,
				.details.ecdsa.hashAlg = TPM2_ALG_SHA256,
			},
			.curveID = TPM2_ECC_NIST_P256,
			.kdf = { .scheme = TPM2_ALG_NULL },
		},
		.unique.ecc = { .x = { .size = 0 }, .y = { .size = 0 } },
	},
};

/* Left-pad a TPM2B_ECC_PARAMETER to the P-256 coordinate size. */
static bool
put_coordinate(uint8_t out[ECC_P256_SIZE], const TPM2B_ECC_PARAMETER *p)
{
	if (p->size == 0 || p->size > ECC_P256_SIZE)
		return false;
	memset(out, 0, ECC_P256_SIZE);
	memcpy(out + ECC_P256_SIZE - p->size, p->buffer, p->size);
	return true;
}

/* DER SubjectPublicKeyInfo of the P-256 point (X, Y) into T->spki. */
static int
make_spki(struct tpm *t, const TPMS_ECC_POINT *point, char *why)
{
	uint8_t octets[1 + 2 * ECC_P256_SIZE];
	OSSL_PARAM_BLD *build = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	unsigned char *p;
	int len, r = -EIO;

	octets[0] = 0x04;	/* uncompressed: 04 || x || y */
	if (!put_coordinate(octets + 1, &point->x) ||
	    !put_coordinate(octets + 1 + ECC_P256_SIZE, &point->y)) {
		snprintf(why, TPM_REASON_MAX, "the attestation key's point has "
		    "coordinates of %u and %u bytes", point->x.size,
		    point->y.size);
		return -EIO;
	}
	if ((build = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(build, OSSL_PKEY_PARAM_GROUP_NAME,
	    "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(build, OSSL_PKEY_PARAM_PUB_KEY,
	    octets, sizeof(octets)) ||
	    (params = OSSL_PARAM_BLD_to_param(build)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		/* fromdata checks that the point is on the curve. */
		snprintf(why, TPM_REASON_MAX, "the attestation key is not a "
		    "valid P-256 public key");
		goto out;
	}
	if ((len = i2d_PUBKEY(key, NULL)) <= 0 || (size_t)len > SPKI_MAX) {
		snprintf(why, TPM_REASON_MAX, "cannot encode the attestation "
		    "key");
		goto out;
	}
	p = t->spki;
	t->spki_len = (size_t)i2d_PUBKEY(key, &p);
	r = 0;
out:
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(build);
	return r;
}

/* Create the AK (transient, in T->ak) and keep its public part. */
static int
create_ak(struct tpm *t, char *why)
{
	struct call c = { .code = TPM2_CC_CreatePrimary,
		.what = "creating the attestation key (CreatePrimary)",
		.template = &ak_template, .object = ESYS_TR_NONE };
	const TPMT_PUBLIC *area;
	size_t offset = 0;
	TSS2_RC rc;
	int r;

	if ((r = execute(t, &c, why)) < 0)
		return r;
	t->ak = c.object;
	area = &c.public->publicArea;
	if (area->type != TPM2_ALG_ECC ||
	    area->parameters.eccDetail.curveID != TPM2_ECC_NIST_P256) {
		snprintf(why, TPM_REASON_MAX, "the TPM returned a key of type "
		    "0x%x, curve 0x%x for the attestation key template",
		    area->type, area->parameters.eccDetail.curveID);
		r = -EIO;
		goto out;
	}
	if ((r = make_spki(t, &area->unique.ecc, why)) < 0)
		goto out;
	rc = Tss2_MU_TPM2B_PUBLIC_Marshal(c.public, t->public,
	    sizeof(t->public), &offset);
	if (rc != TSS2_RC_SUCCESS) {
		snprintf(why, TPM_REASON_MAX, "cannot marshal the attestation "
		    "key: %s", Tss2_RC_Decode(rc));
		r = -EIO;
		goto out;
	}
	t->public_len = offset;
out:
	call_free(&c);
	return r;
}

/* Flush the AK if it is loaded; quietly, since nothing can be done. */
static void
flush_ak(struct tpm *t)
{
	struct call c = { .code = TPM2_CC_FlushContext,
		.what = "flushing the attestation key", .flush = t->ak };
	char why[TPM_REASON_MAX];

	if (t->ak == ESYS_TR_NONE)
		return;
	/*
	 * A broken context cannot send (ESYS answers BAD_SEQUENCE); a
	 * resource manager (tpmrm0, tabrmd) flushes the object when we
	 * disconnect, and a bare TPM that stopped answering or went away has
	 * bigger problems (a restarted swtpm has lost its transient objects).
	 */
	if (!t->broken)
		(void)execute(t, &c, why);
	else
		(void)Esys_TR_Close(t->esys, &t->ak);
	t->ak = ESYS_TR_NONE;
}

/*
 * Flush every transient object of the TPM.  Called only when the TPM has
 * no room left for our AK: without a resource manager (swtpm, /dev/tpm0)
 * the AKs of connections that were cut (the TPM lost mid-quote, ztd
 * killed) stay loaded, and after three of them CreatePrimary answers
 * TPM_RC_OBJECT_MEMORY for good.  A resource manager (tpmrm0, tabrmd)
 * flushes them itself and never lets it come to this.
 */
static int
flush_stale_transients(struct tpm *t, char *why)
{
	struct call list = { .code = TPM2_CC_GetCapability,
		.what = "listing transient objects (GetCapability)" };
	int r;

	if ((r = execute(t, &list, why)) < 0)
		return r;
	for (UINT32 i = 0; i < list.capability->data.handles.count; i++) {
		struct call load = { .code = TPM2_CC_ReadPublic,
			.what = "naming a stale object (ReadPublic)",
			.handle = list.capability->data.handles.handle[i],
			.object = ESYS_TR_NONE };
		struct call flush = { .code = TPM2_CC_FlushContext,
			.what = "flushing a stale object (FlushContext)" };

		if ((r = execute(t, &load, why)) < 0)
			break;
		flush.flush = load.object;
		if ((r = execute(t, &flush, why)) < 0)
			break;
	}
	call_free(&list);
	return r;
}

void
tpm_close(struct tpm *t)
{
	if (t == NULL)
		return;
	if (t->esys != NULL) {
		flush_ak(t);
		Esys_Finalize(&t->esys);
	}
	if (t->tcti != NULL)
		Tss2_TctiLdr_Finalize(&t->tcti);
	free(t);
}

int
tpm_open(const char *tcti, struct tpm **tpm, char *why)
{
	/* NULL or "" picks the loader's default (tabrmd, then tpmrm0). */
	const char *conf = tcti != NULL && tcti[0] != '\0' ? tcti : NULL;
	const char *name = conf != NULL ? conf : "(default)";
	struct tpm *t;
	TSS2_RC rc;
	int r;

	*tpm = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(why, TPM_REASON_MAX, "out of memory");
		return -ENOMEM;
	}
	t->ak = ESYS_TR_NONE;
	rc = Tss2_TctiLdr_Initialize(conf, &t->tcti);
	if (rc == TSS2_TCTI_RC_NOT_SUPPORTED) {
		snprintf(why, TPM_REASON_MAX, "no TCTI module for \"%s\": %s",
		    name, Tss2_RC_Decode(rc));
		r = -EIO;
		goto fail;
	}
	if (rc != TSS2_RC_SUCCESS) {
		/* The device and swtpm TCTIs connect here. */
		snprintf(why, TPM_REASON_MAX, "cannot reach the TPM through "
		    "\"%s\": %s", name, Tss2_RC_Decode(rc));
		r = -EIO;
		goto fail;
	}
	rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		snprintf(why, TPM_REASON_MAX, "cannot initialise ESYS on "
		    "\"%s\": %s", name, Tss2_RC_Decode(rc));
		r = -EIO;
		goto fail;
	}
	/*
	 * No TPM2_Startup: firmware has done it on a real machine, swtpm
	 * with startup-clear does it itself.  CreatePrimary is the first
	 * command, so a TPM that does not answer fails here.
	 */
	if ((r = create_ak(t, why)) < 0 &&
	    t->last_rc == TPM2_RC_OBJECT_MEMORY && !t->broken &&
	    flush_stale_transients(t, why) == 0)
		r = create_ak(t, why);
	if (r < 0)
		goto fail;
	*tpm = t;
	return 0;
fail:
	tpm_close(t);
	return r;
}

int
tpm_ak_public(const struct tpm *t, uint8_t *spki, size_t *spki_len,
    uint8_t *tpm2b_public, size_t *public_len)
{
	if (*spki_len < t->spki_len || *public_len < t->public_len)
		return -ENOSPC;
	memcpy(spki, t->spki, t->spki_len);
	*spki_len = t->spki_len;
	memcpy(tpm2b_public, t->public, t->public_len);
	*public_len = t->public_len;
	return 0;
}

/*
 * The sha256 selection of PCRS (N indexes).  Returns 0, or -EINVAL with WHY
 * for none, too many, an index past 23 or one given twice.
 */
static int
make_selection(const unsigned *pcrs, size_t n, TPML_PCR_SELECTION *sel,
    char *why)
{
	TPMS_PCR_SELECTION *s = &sel->pcrSelections[0];

	memset(sel, 0, sizeof(*sel));
	if (n == 0 || n > TPM_PCR_COUNT) {
		snprintf(why, TPM_REASON_MAX, "%zu PCRs asked (1 to %d)", n,
		    TPM_PCR_COUNT);
		return -EINVAL;
	}
	sel->count = 1;
	s->hash = TPM2_ALG_SHA256;
	s->sizeofSelect = PCR_SELECT_SIZE;
	for (size_t i = 0; i < n; i++) {
		uint8_t bit;

		if (pcrs[i] >= TPM_PCR_COUNT) {
			snprintf(why, TPM_REASON_MAX, "no PCR %u", pcrs[i]);
			return -EINVAL;
		}
		bit = (uint8_t)(1u << (pcrs[i] % 8));
		if (s->pcrSelect[pcrs[i] / 8] & bit) {
			snprintf(why, TPM_REASON_MAX, "PCR %u asked twice",
			    pcrs[i]);
			return -EINVAL;
		}
		s->pcrSelect[pcrs[i] / 8] |= bit;
	}
	return 0;
}

static bool
selection_empty(const TPMS_PCR_SELECTION *s)
{
	for (unsigned i = 0; i < s->sizeofSelect; i++)
		if (s->pcrSelect[i] != 0)
			return false;
	return true;
}

/*
 * Take the PCRs that GOT says were returned, with their DIGESTS (ascending
 * PCR order), out of LEFT and into VALUES (indexed by PCR).  Returns how
 * many, or 0 when the answer does not fit the question.
 */
static size_t
take_values(const TPML_PCR_SELECTION *got, const TPML_DIGEST *digests,
    TPMS_PCR_SELECTION *left, uint8_t values[TPM_PCR_COUNT][32])
{
	const TPMS_PCR_SELECTION *s = &got->pcrSelections[0];
	size_t k = 0;

	if (got->count != 1 || s->hash != TPM2_ALG_SHA256 ||
	    s->sizeofSelect > PCR_SELECT_SIZE)
		return 0;
	for (unsigned pcr = 0; pcr < 8u * s->sizeofSelect; pcr++) {
		uint8_t bit = (uint8_t)(1u << (pcr % 8));

		if (!(s->pcrSelect[pcr / 8] & bit))
			continue;
		if (!(left->pcrSelect[pcr / 8] & bit) ||
		    k >= digests->count || digests->digests[k].size != 32)
			return 0;
		memcpy(values[pcr], digests->digests[k].buffer, 32);
		left->pcrSelect[pcr / 8] &= (uint8_t)~bit;
		k++;
	}
	return k == digests->count ? k : 0;
}

/*
 * One pass over the selection WANT: TPM2_PCR_Read answers at most 8
 * digests (TPML_DIGEST), so read, take the PCRs it says it returned out of
 * what is left, and read the rest.  Returns 0, -EAGAIN if the update
 * counter moved between two reads (a PCR was extended meanwhile), or
 * another negative errno with WHY.
 */
static int
read_pass(struct tpm *t, const TPML_PCR_SELECTION *want,
    uint8_t values[TPM_PCR_COUNT][32], UINT32 *counter, char *why)
{
	TPML_PCR_SELECTION left = *want;
	bool first = true;
	int r;

	while (!selection_empty(&left.pcrSelections[0])) {
		struct call c = { .code = TPM2_CC_PCR_Read,
			.what = "reading PCRs (PCR_Read)", .selection = &left };
		size_t taken;

		if ((r = execute(t, &c, why)) < 0)
			return r;
		if (!first && c.update_counter != *counter) {
			call_free(&c);
			return -EAGAIN;
		}
		first = false;
		*counter = c.update_counter;
		taken = take_values(c.selection_out, c.digests,
		    &left.pcrSelections[0], values);
		call_free(&c);
		if (taken == 0) {
			/* No progress: the bank or a PCR is not there. */
			snprintf(why, TPM_REASON_MAX, "the TPM returned no "
			    "usable sha256 PCR values (is the sha256 bank "
			    "allocated?)");
			return -EIO;
		}
	}
	return 0;
}

int
tpm_pcr_read(struct tpm *t, const unsigned *pcrs, size_t n,
    struct tpm_pcrs *out, char *why)
{
	uint8_t values[TPM_PCR_COUNT][32];
	TPML_PCR_SELECTION want;
	UINT32 counter = 0;
	int r;

	if ((r = make_selection(pcrs, n, &want, why)) < 0)
		return r;
	for (int tries = 0; tries < PCR_READ_TRIES; tries++) {
		r = read_pass(t, &want, values, &counter, why);
		if (r != -EAGAIN)
			break;
	}
	if (r == -EAGAIN) {
		snprintf(why, TPM_REASON_MAX, "PCRs kept changing while read "
		    "(%d tries)", PCR_READ_TRIES);
		return r;
	}
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	out->n = n;
	out->update_counter = counter;
	for (size_t i = 0; i < n; i++) {
		out->index[i] = pcrs[i];
		memcpy(out->value[i], values[pcrs[i]], 32);
	}
	return 0;
}

int
tpm_quote(struct tpm *t, const uint8_t nonce[32], const unsigned *pcrs,
    size_t n, struct tpm_quote *out, char *why)
{
	TPM2B_DATA qualifying = { .size = 32 };
	TPML_PCR_SELECTION selection;
	struct call c = { .code = TPM2_CC_Quote,
		.what = "quoting PCRs (Quote)", .selection = &selection,
		.qualifying_data = &qualifying };
	size_t offset = 0;
	TSS2_RC rc;
	int r;

	if ((r = make_selection(pcrs, n, &selection, why)) < 0)
		return r;
	memcpy(qualifying.buffer, nonce, 32);
	if ((r = execute(t, &c, why)) < 0)
		return r;
	/* attestationData is the marshalled TPMS_ATTEST the TPM signed. */
	if (c.attest->size > sizeof(out->attest)) {
		snprintf(why, TPM_REASON_MAX, "a quote of %u bytes",
		    c.attest->size);
		r = -EIO;
		goto out;
	}
	memcpy(out->attest, c.attest->attestationData, c.attest->size);
	out->attest_len = c.attest->size;
	rc = Tss2_MU_TPMT_SIGNATURE_Marshal(c.signature, out->signature,
	    sizeof(out->signature), &offset);
	if (rc != TSS2_RC_SUCCESS) {
		snprintf(why, TPM_REASON_MAX, "cannot marshal the quote's "
		    "signature: %s", Tss2_RC_Decode(rc));
		r = -EIO;
		goto out;
	}
	out->signature_len = offset;
out:
	call_free(&c);
	return r;
}

int
tpm_pcrs_serialize(const struct tpm_pcrs *pcrs, uint8_t *out, size_t *len)
{
	TPML_PCR_SELECTION selection;
	TPML_DIGEST digests;
	UINT32 count = (UINT32)((pcrs->n + 7) / 8);
	size_t need = sizeof(selection) + sizeof(count) +
	    count * sizeof(digests), used;

	if (*len < need)
		return -ENOSPC;
	memset(&selection, 0, sizeof(selection));
	selection.count = 1;
	selection.pcrSelections[0].hash = TPM2_ALG_SHA256;
	selection.pcrSelections[0].sizeofSelect = 3;
	for (size_t i = 0; i < pcrs->n; i++)
		selection.pcrSelections[0].pcrSelect[pcrs->index[i] / 8] |=
		    (uint8_t)(1u << (pcrs->index[i] % 8));
	memcpy(out, &selection, sizeof(selection));
	used = sizeof(selection);
	memcpy(out + used, &count, sizeof(count));
	used += sizeof(count);
	/* Digests in ascending PCR order, eight to a TPML_DIGEST. */
	memset(&digests, 0, sizeof(digests));
	for (unsigned index = 0; index < TPM_PCR_COUNT; index++)
		for (size_t i = 0; i < pcrs->n; i++) {
			if (pcrs->index[i] != index)
				continue;
			digests.digests[digests.count].size = 32;
			memcpy(digests.digests[digests.count].buffer,
			    pcrs->value[i], 32);
			if (++digests.count == 8) {
				memcpy(out + used, &digests, sizeof(digests));
				used += sizeof(digests);
				memset(&digests, 0, sizeof(digests));
			}
			break;
		}
	if (digests.count > 0) {
		memcpy(out + used, &digests, sizeof(digests));
		used += sizeof(digests);
	}
	*len = used;
	return 0;
}

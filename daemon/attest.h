/* SPDX-License-Identifier: Apache-2.0 */
/* Host attestation: a worker thread measures, the event loop asks. */
#ifndef ZTD_ATTEST_H
#define ZTD_ATTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "ztd_config.h"

#define ATTEST_REASON_MAX 200
#define ATTEST_WAIT_MS 5000	/* longest a request waits for a measurement */

/*
 * The host is measured off the event loop, by one worker thread that alone
 * talks to the TPM: at start, every quote_interval, and whenever a request
 * needs a younger result than the last.  Mode "tpm": a fresh 32-byte nonce,
 * PCR read, quote by the attestation key, every field verified
 * (quote_verify.c), then the PCRs compared with the golden file.  Mode
 * "software": the configured files' SHA-256 against the golden file.  Any
 * failure (drift, bad quote, TPM gone, golden missing) makes the host
 * untrusted at once, until a good measurement returns.
 */
struct attest;

/* What the loop knows of the last measurement. */
struct attest_view {
	bool measured;			/* at least one measurement completed */
	bool trusted;
	int64_t last_good_ms;		/* CLOCK_BOOTTIME, 0 never */
	uint64_t completed;		/* measurements completed */
	char reason[ATTEST_REASON_MAX];	/* why not trusted */
	bool nothing_measured;		/* trusted, software mode, no files */
	char pcrs[1024];		/* "0:hex 1:hex ..." of the last quote */
	uint64_t export_seq;		/* the last measurement asked to
					 * export its quote (0: none) */
	bool exported;			/* ... and it did */
	char export_why[ATTEST_REASON_MAX];	/* why not */
};

enum attest_answer { ATTEST_YES, ATTEST_NO, ATTEST_WAIT };

/*
 * Software mode with attestation.files empty (the shipped default without
 * a TPM) measures nothing and trusts the host: every place that says
 * "trusted" says this too.
 */
#define ATTEST_NOTHING_MEASURED \
	"nothing measured (software mode, attestation.files is empty)"

/*
 * Start attestation for CONFIG.  Mode "tpm" (or "auto" where /dev/tpmrm0
 * exists) with no TPM reachable is an error here, never a fallback.
 * Returns 0 and *ATTEST, or a negative code with WHY.
 */
int attest_new(const struct ztd_config *config, struct attest **attest,
    char *why);
void attest_free(struct attest *attest);

/* Readable (an eventfd) when a measurement completed. */
int attest_event_fd(const struct attest *attest);

/* After attest_event_fd is readable: true when the trust changed. */
bool attest_collect(struct attest *attest);

/* Take the new configuration's settings (reload) and measure again. */
void attest_reconfigure(struct attest *attest,
    const struct ztd_config *config);

/*
 * Is the host trusted by a measurement no older than MAX_AGE seconds
 * (0: one started after this call)?  ATTEST_WAIT: a measurement was asked
 * for; *TICKET is what attest_ready() waits for.  WAITED (non-zero: the
 * ticket a resumed request waited for) never gives WAIT: that measurement
 * decides, and if it has not completed the answer is NO.  *AGE is the age
 * in seconds of the measurement used (-1 none); WHY says why not.
 */
enum attest_answer attest_require(struct attest *attest, unsigned max_age,
    uint64_t waited, long *age, uint64_t *ticket, char *why);

/* The trust as the loop last collected it (no lock, no waiting). */
bool attest_trusted(const struct attest *attest);

/* Has the measurement TICKET completed? */
bool attest_ready(const struct attest *attest, uint64_t ticket);

/* Ask for a measurement that also records the golden values; *TICKET. */
void attest_request_enroll(struct attest *attest, uint64_t *ticket);

/* The result of the last enrollment: 0 or an error with WHY. */
int attest_enroll_result(const struct attest *attest, char *why);

/* Ask for a measurement now (ztctl attest); *TICKET. */
void attest_request(struct attest *attest, uint64_t *ticket);

/*
 * attest_request, and that measurement, when it makes a good quote,
 * exports it for tpm2_checkquote: a new directory STATE_DIR/quote.<time>
 * holding msg, sig, pcrs and nonce, and the symbolic link
 * STATE_DIR/quote switched to it in one rename (files are never
 * rewritten; the 15 exports before stay).  Quotes are not exported
 * otherwise.  The view's export_seq, exported and export_why tell how it
 * went.
 */
void attest_request_export(struct attest *attest, uint64_t *ticket);

void attest_get_view(const struct attest *attest, struct attest_view *view);

/* Whether the host is trusted, as last collected, with nothing measured
 * (loop thread only, like attest_trusted). */
bool attest_nothing_measured(const struct attest *attest);

/* "tpm" or "software": the audit line's attest= value. */
const char *attest_name(const struct attest *attest);

#endif

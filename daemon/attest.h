/* SPDX-License-Identifier: Apache-2.0 */
/* The host's attestation state: is this host still the one enrolled? */
#ifndef ZTD_ATTEST_H
#define ZTD_ATTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "ztd_config.h"

#define ATTEST_REASON_MAX 200

/*
 * This build implements the software mode only: the configured files are
 * measured (SHA-256) against the golden file.  Mode "tpm" (and "auto" where
 * /dev/tpmrm0 exists) is reported as untrusted with the reason that TPM
 * quotes are not built yet: every decision that needs attestation is then
 * denied, never allowed on a weaker check than the one configured.
 */
struct attest {
	enum attest_mode effective;	/* ATTEST_TPM or ATTEST_SOFTWARE */
	bool trusted;
	int64_t last_good_ms;		/* CLOCK_BOOTTIME; 0 never */
	char reason[ATTEST_REASON_MAX];	/* why not trusted */
};

/* Decide the effective mode and measure once.  Never fails. */
void attest_init(struct attest *attest, const struct ztd_config *config);

/* Measure now; the state changes to trusted or not.  Returns true when
 * the trust changed (the caller then invalidates caches). */
bool attest_refresh(struct attest *attest, const struct ztd_config *config);

/*
 * Is the host trusted by an attestation no older than MAX_AGE seconds?
 * Measures again first when the last one is older.  *AGE is the age in
 * seconds of the attestation used (-1 when none); WHY (ATTEST_REASON_MAX)
 * says why not.  *CHANGED is set when the trust changed.
 */
bool attest_fresh(struct attest *attest, const struct ztd_config *config,
    unsigned max_age, long *age, char *why, bool *changed);

/* "tpm" or "software": the audit line's attest= value. */
const char *attest_name(const struct attest *attest);

/*
 * Record the current measurements as the golden values (written atomically,
 * 0600, to config->golden) and measure again.  Software mode only.
 * Returns 0 or a negative code with WHY set.
 */
int attest_enroll(struct attest *attest, const struct ztd_config *config,
    char *why);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The decision path: policy, attestation, cache and audit for one action. */
#ifndef ZTD_DECIDE_H
#define ZTD_DECIDE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"

struct ztd;
struct grant;

/* Who acts and on whose behalf, as ztd established it (never as claimed). */
struct subject {
	const struct agent *agent;
	const char *account;
	uid_t uid;
	pid_t pid;
	struct grant *grant;	/* NULL: no caching */
	bool identity_proven;	/* the acting binary was recognised just now */
	const char *detail;	/* untrusted context for the audit reason
				 * (PAM items), or NULL */
	/* An exec's argv[1], argv[2], ... each ending in NUL (ZT_F_ARGV,
	 * ARGV_LEN bytes), NULL when none came; ARGV_CUT: only the first
	 * ones (the rest did not fit the message). */
	const char *argv;
	size_t argv_len;
	bool argv_cut;
	/* Asked by a peer other than root, of uid PEER_UID: a deny it
	 * causes under no grant is rate-limited by that uid's bucket, as a
	 * grant's denies are by the grant's (decide_audit). */
	bool peer_limited;
	uid_t peer_uid;
};

struct decision {
	uint32_t decision;	/* DECISION_ALLOW or DECISION_DENY */
	enum risk risk;
	bool cached;		/* served from the cache */
	bool local;		/* served from a supervisor's cache (REPORT) */
	bool violation;		/* the profile forbids it (on_violation) */
	bool unenforced;	/* learn mode: the profile does not allow it,
				 * yet it is allowed; audited decision=deny
				 * enforced=no, never cached */
	uint64_t wait_ticket;	/* non-zero: no decision yet, it waits for
				 * this attestation (answer ZT_E_WAIT) */
	uint32_t ttl_ms;	/* how long the caller may cache the allow */
	bool tunnel;		/* connect: only through the mutual-TLS
				 * tunnel, to prove SERVER_NAME by CA */
	const char *server_name, *ca;	/* the configuration's, or NAME */
	char name[256];		/* "" or the DNS name a connect's address was
				 * answered for (a host rule allowed it) */
	char reason[POLICY_REASON_MAX + 64];
};

/*
 * Decide ACTION on OBJECT_TEXT for SUBJECT.  DRY_RUN (ztctl check): no
 * cache, no audit record, no waiting.  Every error ends in a deny with its
 * reason.  OUT->wait_ticket set: no decision yet (nothing audited); the
 * request is to be asked again once that attestation completed, with
 * RESUME_TICKET set to it (0: the first time asked).
 */
void decide(struct ztd *ztd, uint64_t resume_ticket,
    const struct subject *subject, enum action action,
    const char *object_text, bool dry_run, struct decision *out);

/*
 * Decide ACTION on OBJECT_TEXT for SUBJECT (a grant's) ahead of the
 * action, so that the grant's supervisor may keep the allow in its cache
 * before it is asked (what a LEARN's answer makes likely next): true only
 * for a low-risk allow decide() would let the supervisor cache (OUT's
 * ttl_ms > 0) on the policy and trust as they stand, never by waiting for
 * an attestation.  Nothing is audited nor kept in ztd's cache: no action
 * happened; each use of the allow is (REPORT, cache=local).
 */
bool decide_ahead(struct ztd *ztd, const struct subject *subject,
    enum action action, const char *object_text, struct decision *out);

/*
 * An allow served from a cache (REPORT's hits) of a connect to an address
 * GRANT's tree was answered for a name: that name into D->name for the
 * audit line (D->name "" otherwise).
 */
void decide_name_cached(struct ztd *ztd, struct grant *grant,
    enum action action, const char *object_text, struct decision *d);

/*
 * Write the audit record of a decision; false when it must become a deny
 * (audit.require and the record could not be written).  A deny under a
 * grant (what an agent can cause) is written only while the grant's
 * bucket (ztd.audit.deny_rate, deny_burst) has a token; otherwise it is
 * held: counted, and written later as one record with suppressed=N
 * (decide_write_held), never dropped.  So is a deny under no grant that a
 * peer other than root caused (SUBJECT's peer_limited), by the bucket of
 * its uid.  The answer is a deny either way.
 */
bool decide_audit(struct ztd *ztd, const struct subject *subject,
    const char *action, const char *object, const struct decision *d,
    long age);

/* Write GRANT's held denies now as one suppressed=N record, if it holds
 * any (its bucket refilled, or the grant ends), and unlist it. */
void decide_write_held(struct ztd *ztd, struct grant *grant);

/*
 * Write the held denies of every grant, and every peer's bucket, that has
 * a token again.  Returns the milliseconds until the next one will, or -1
 * when none holds any (the event loop's timeout).
 */
int decide_flush_held(struct ztd *ztd);

/* ztd stops: write what every peer's bucket holds, free the buckets. */
void decide_stop_peers(struct ztd *ztd);

#endif

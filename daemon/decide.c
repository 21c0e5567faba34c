/* SPDX-License-Identifier: Apache-2.0 */
/* One decision: parse, policy, attestation, cache, audit; deny on any error. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "attest.h"
#include "audit.h"
#include "cache.h"
#include "decide.h"
#include "grant.h"
#include "zt_log.h"
#include "ztd.h"

bool
decide_audit(struct ztd *ztd, const struct subject *s, const char *action,
    const char *object, const struct decision *d, long age)
{
	struct audit_event e = {
		.allow = d->decision == DECISION_ALLOW,
		.action = action,
		.agent = s->agent != NULL ? s->agent->name : "-",
		.account = s->account != NULL ? s->account : "-",
		.uid = s->uid,
		.pid = s->pid,
		.object = object,
		.reason = d->reason,
		.grant = s->grant != NULL ? s->grant->id : "-",
		.cache = d->cached ? "hit" : "miss",
		.attest = attest_name(&ztd->attest),
		.age = age,
	};

	return audit_write(ztd->audit, &e) == 0;
}

void
decide(struct ztd *ztd, const struct subject *s, enum action action,
    const char *object_text, bool dry_run, struct decision *d)
{
	const struct ztd_config *c = ztd->config;
	struct policy_object object;
	struct policy_verdict v;
	char why[ATTEST_REASON_MAX];
	long age = -1;
	bool changed;

	memset(d, 0, sizeof(*d));
	d->decision = DECISION_DENY;
	if (policy_parse_object(action, object_text, &object, d->reason) < 0)
		goto audit;

	/* A cached low-risk allow under a live grant, still trusted. */
	if (!dry_run && s->grant != NULL && ztd->attest.trusted &&
	    cache_lookup(ztd->cache, s->grant->id, action, object.text)) {
		d->decision = DECISION_ALLOW;
		d->risk = RISK_LOW;
		d->cached = true;
		snprintf(d->reason, sizeof(d->reason), "cached allow");
		goto audit;
	}

	policy_decide(s->agent, &object, &v);
	snprintf(d->reason, sizeof(d->reason), "%s", v.reason);
	if (v.decision != DECISION_ALLOW) {
		d->violation = true;
		goto audit;
	}
	/* Before every high-risk action the agent re-proves who it is. */
	if (!dry_run && (action == ACTION_SESSION || v.risk == RISK_HIGH) &&
	    !s->identity_proven) {
		snprintf(d->reason, sizeof(d->reason), "%.100s, and the acting "
		    "process did not re-prove its identity (no pidfd)",
		    v.reason);
		goto audit;
	}

	/* Sessions and high-risk actions need a young attestation; every
	 * other allow needs the host trusted at its last measurement. */
	if (action == ACTION_SESSION || v.risk == RISK_HIGH) {
		unsigned max_age = action == ACTION_SESSION ?
		    c->session_max_age : c->high_risk_max_age;

		if (!attest_fresh(&ztd->attest, c, max_age, &age, why,
		    &changed)) {
			snprintf(d->reason, sizeof(d->reason), "%s", why);
			goto invalidate;
		}
	} else if (!ztd->attest.trusted) {
		snprintf(d->reason, sizeof(d->reason), "host untrusted: %s",
		    ztd->attest.reason);
		goto audit;
	} else if (ztd->attest.last_good_ms > 0)
		age = (long)((ztd_now_ms() - ztd->attest.last_good_ms) / 1000);

	d->decision = DECISION_ALLOW;
	d->risk = v.risk;
	if (!dry_run && s->grant != NULL && v.risk == RISK_LOW &&
	    s->agent->decision_ttl > 0) {
		int64_t ttl = (int64_t)s->agent->decision_ttl * 1000;
		int64_t left = grant_remaining_ms(s->grant);

		if (left < ttl)
			ttl = left;
		d->ttl_ms = (uint32_t)ttl;
		if (ttl > 0)
			cache_insert(ztd->cache, s->grant->id, action,
			    object.text, ztd_now_ms() + ttl);
	}
	goto audit;

invalidate:
	if (changed)
		cache_invalidate(ztd->cache);
audit:
	if (dry_run)
		return;
	if (!decide_audit(ztd, s, policy_action_name(action) ?
	    policy_action_name(action) : "unknown", object_text, d, age) &&
	    d->decision == DECISION_ALLOW) {
		d->decision = DECISION_DENY;
		d->ttl_ms = 0;
		snprintf(d->reason, sizeof(d->reason), "audit record could not "
		    "be written (audit.require)");
		decide_audit(ztd, s, policy_action_name(action), object_text,
		    d, age);
	}
}

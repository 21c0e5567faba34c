/* SPDX-License-Identifier: Apache-2.0 */
/* One decision: parse, policy, attestation, cache, audit; deny on any error. */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "attest.h"
#include "audit.h"
#include "cache.h"
#include "fleet.h"
#include "decide.h"
#include "grant.h"
#include "zt_log.h"
#include "ztd.h"

/* Put G on (or take it off) the list of grants holding denies. */
static void
set_holding(struct ztd *ztd, struct grant *g, bool holding)
{
	if (g->holding == holding)
		return;
	if (holding) {
		g->holding_prev = NULL;
		g->holding_next = ztd->holding;
		if (ztd->holding != NULL)
			ztd->holding->holding_prev = g;
		ztd->holding = g;
	} else {
		if (g->holding_prev != NULL)
			g->holding_prev->holding_next = g->holding_next;
		else
			ztd->holding = g->holding_next;
		if (g->holding_next != NULL)
			g->holding_next->holding_prev = g->holding_prev;
		g->holding_next = g->holding_prev = NULL;
	}
	g->holding = holding;
}

/* WHY: " (the grant ended)" or "". */
static void
write_held(struct ztd *ztd, struct grant *g, const char *why)
{
	const struct ztd_config *c = ztd->config;
	struct audit_limit *l = &g->deny_limit;
	char reason[256];
	struct audit_event e = {
		.allow = false,
		.action = "suppressed",
		.agent = g->agent,
		.account = g->account,
		.uid = g->uid,
		.object = NULL,
		.reason = reason,
		.grant = g->id,
		.cache = NULL,
		.attest = attest_name(ztd->attest),
		.age = -1,
	};

	if (l->held == 0) {
		set_holding(ztd, g, false);
		return;
	}
	e.pid = l->last_pid;
	e.suppressed = l->held;
	snprintf(reason, sizeof(reason), "%llu denies of this grant since %s "
	    "held back by the audit rate limit (ztd.audit.deny_rate = %g "
	    "per second, deny_burst = %u)%s; pid= is the last one's",
	    (unsigned long long)l->held, l->since,
	    c->audit_deny_rate_milli / 1000.0, c->audit_deny_burst, why);
	l->held = 0;
	set_holding(ztd, g, false);
	/* A failure is logged by audit.c; these were denies already. */
	audit_write(ztd->audit, &e);
}

void
decide_write_held(struct ztd *ztd, struct grant *g)
{
	write_held(ztd, g, " (the grant ended)");
}

int
decide_flush_held(struct ztd *ztd)
{
	const struct ztd_config *c = ztd->config;
	int64_t now = ztd_now_ms(), soonest = -1;
	struct grant *g = ztd->holding, *next;

	for (; g != NULL; g = next) {
		next = g->holding_next;
		if (audit_limit_take(&g->deny_limit, now,
		    c->audit_deny_rate_milli, c->audit_deny_burst)) {
			write_held(ztd, g, "");
			continue;
		}
		{
			int64_t wait = audit_limit_wait_ms(&g->deny_limit, now,
			    c->audit_deny_rate_milli);

			if (soonest < 0 || wait < soonest)
				soonest = wait;
		}
	}
	if (soonest > INT32_MAX)
		soonest = INT32_MAX;
	return (int)soonest;
}

/*
 * May this deny of grant G be written now?  Denies held earlier go first
 * (as their suppressed=N record) when a token is there; while any are
 * held, a new one is held too, so that the trail keeps their order.
 */
static bool
deny_admitted(struct ztd *ztd, struct grant *g, pid_t pid)
{
	const struct ztd_config *c = ztd->config;
	int64_t now = ztd_now_ms();

	if (g->deny_limit.held > 0 && audit_limit_take(&g->deny_limit, now,
	    c->audit_deny_rate_milli, c->audit_deny_burst))
		write_held(ztd, g, "");
	if (g->deny_limit.held == 0 && audit_limit_take(&g->deny_limit, now,
	    c->audit_deny_rate_milli, c->audit_deny_burst))
		return true;
	audit_limit_hold(ztd->audit, &g->deny_limit, pid);
	set_holding(ztd, g, true);
	return false;
}

bool
decide_audit(struct ztd *ztd, const struct subject *s, const char *action,
    const char *object, const struct decision *d, long age)
{
	char reason[POLICY_REASON_MAX + 64 + 512];
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
		.cache = d->local ? "local" : d->cached ? "hit" : "miss",
		.attest = attest_name(ztd->attest),
		.age = age,
	};

	if (!e.allow && s->grant != NULL &&
	    !deny_admitted(ztd, s->grant, s->pid))
		return true;	/* held: counted, written later */
	/* Untrusted context rides in the reason, which audit.c escapes;
	 * so does an allow on a host whose attestation measured nothing. */
	if (s->detail != NULL || (e.allow &&
	    attest_nothing_measured(ztd->attest))) {
		snprintf(reason, sizeof(reason), "%s%s%s%s", d->reason,
		    s->detail != NULL ? "; " : "",
		    s->detail != NULL ? s->detail : "",
		    e.allow && attest_nothing_measured(ztd->attest) ?
		    "; host " ATTEST_NOTHING_MEASURED : "");
		e.reason = reason;
	}
	return audit_write(ztd->audit, &e) == 0;
}

void
decide(struct ztd *ztd, uint64_t resume_ticket, const struct subject *s,
    enum action action, const char *object_text, bool dry_run,
    struct decision *d)
{
	const struct ztd_config *c = ztd->config;
	struct policy_object object;
	struct policy_verdict v;
	char why[ATTEST_REASON_MAX];
	long age = -1;

	memset(d, 0, sizeof(*d));
	d->decision = DECISION_DENY;
	if (policy_parse_object(action, object_text, &object, d->reason) < 0)
		goto audit;

	/* A cached low-risk allow under a live grant, still trusted. */
	if (!dry_run && s->grant != NULL && attest_trusted(ztd->attest) &&
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
	/* Disabled across the fleet, or too long out of its sync. */
	if (fleet_refuses(ztd, s->agent->name, action == ACTION_SESSION ||
	    v.risk == RISK_HIGH, d->reason, sizeof(d->reason)))
		goto audit;
	/* Before every high-risk action the agent re-proves who it is. */
	if (!dry_run && (action == ACTION_SESSION || v.risk == RISK_HIGH) &&
	    !s->identity_proven) {
		snprintf(d->reason, sizeof(d->reason), "%.100s, and the acting "
		    "process did not re-prove its identity (no pidfd)",
		    v.reason);
		goto audit;
	}

	/*
	 * Sessions and high-risk actions need a young attestation, every
	 * other allow the host trusted by its last measurement.  A result
	 * too old asks the worker for a new one and the request waits
	 * (parked by the server, never blocking the loop).  A dry run only
	 * reports the trust as it stands.
	 */
	if (dry_run) {
		if (!attest_trusted(ztd->attest)) {
			snprintf(d->reason, sizeof(d->reason), "%.100s, but the "
			    "host is not trusted by its last measurement",
			    v.reason);
			goto audit;
		}
	} else {
		unsigned max_age = action == ACTION_SESSION ?
		    c->session_max_age : v.risk == RISK_HIGH ?
		    c->high_risk_max_age : UINT_MAX;
		uint64_t ticket = 0;

		switch (attest_require(ztd->attest, max_age, resume_ticket,
		    &age, &ticket, why)) {
		case ATTEST_YES:
			break;
		case ATTEST_WAIT:
			d->wait_ticket = ticket;
			return;		/* decided when the measurement is in */
		case ATTEST_NO:
		default:
			snprintf(d->reason, sizeof(d->reason), "%s", why);
			goto audit;
		}
	}

	d->decision = DECISION_ALLOW;
	d->risk = v.risk;
	if (v.tunnel && v.rule != NULL) {
		d->tunnel = true;
		d->server_name = v.rule->server_name;
		d->ca = v.rule->ca;
	}
	/* A tunnel allow is never cached: a hit would carry no tunnel. */
	if (!dry_run && s->grant != NULL && v.risk == RISK_LOW &&
	    !d->tunnel && s->agent->decision_ttl > 0) {
		int64_t ttl = (int64_t)s->agent->decision_ttl * 1000;
		int64_t left = grant_remaining_ms(s->grant);

		if (left < ttl)
			ttl = left;
		d->ttl_ms = (uint32_t)ttl;
		if (ttl > 0)
			cache_insert(ztd->cache, s->grant->id, action,
			    object.text, ztd_now_ms() + ttl);
	}
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

/* SPDX-License-Identifier: Apache-2.0 */
/* One decision: parse, policy, attestation, cache, audit; deny on any error. */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "attest.h"
#include "audit.h"
#include "cache.h"
#include "fleet.h"
#include "decide.h"
#include "disable.h"
#include "grant.h"
#include "learned.h"
#include "zt_addr.h"
#include "zt_log.h"
#include "ztd.h"

/*
 * An exec's object as the audit shows it: the path, then each argument
 * after a NUL (escaped as \x00), so that arguments with spaces stay
 * apart; *LEN its length.  OBJECT itself for anything else.
 */
static const char *
audit_object(const struct subject *s, const char *action, const char *object,
    char *buf, size_t size, size_t *len)
{
	size_t n, copy;

	*len = 0;
	if (object == NULL || s->argv == NULL || s->argv_len == 0 ||
	    action == NULL || strcmp(action, "exec") != 0)
		return object;
	n = strlen(object);
	if (n + 1 >= size)
		return object;
	memcpy(buf, object, n);
	buf[n++] = '\0';
	/* argv ends in a NUL, which is not shown; audit.c cuts what does
	 * not fit its bound with "...". */
	copy = s->argv_len - 1 < size - n ? s->argv_len - 1 : size - n;
	memcpy(buf + n, s->argv, copy);
	*len = n + copy;
	return buf;
}

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

/*
 * One suppressed=N record of what the bucket L held back (nothing when it
 * held none): of grant GRANT (agent, account, uid its), or, GRANT NULL,
 * of the peer UID under no grant.  WHY: "" or why it is written now.
 */
static void
write_summary(struct ztd *ztd, struct audit_limit *l, const struct grant *g,
    uid_t uid, const char *why)
{
	const struct ztd_config *c = ztd->config;
	char reason[256], whose[64];
	struct audit_event e = {
		.allow = false,
		.action = "suppressed",
		.agent = g != NULL ? g->agent : "-",
		.account = g != NULL ? g->account : "-",
		.uid = g != NULL ? g->uid : uid,
		.object = NULL,
		.reason = reason,
		.grant = g != NULL ? g->id : "-",
		.cache = NULL,
		.attest = attest_name(ztd->attest),
		.age = -1,
	};

	if (l->held == 0)
		return;
	if (g != NULL)
		snprintf(whose, sizeof(whose), "of this grant");
	else
		snprintf(whose, sizeof(whose), "caused by uid %u under no "
		    "grant", (unsigned)uid);
	e.pid = l->last_pid;
	e.suppressed = l->held;
	snprintf(reason, sizeof(reason), "%llu denies %s since %s held back "
	    "by the audit rate limit (ztd.audit.deny_rate = %g per second, "
	    "deny_burst = %u)%s; pid= is the last one's",
	    (unsigned long long)l->held, whose, l->since,
	    c->audit_deny_rate_milli / 1000.0, c->audit_deny_burst, why);
	l->held = 0;
	/* A failure is logged by audit.c; these were denies already. */
	audit_write(ztd->audit, &e);
}

/* WHY: " (the grant ended)" or "". */
static void
write_held(struct ztd *ztd, struct grant *g, const char *why)
{
	write_summary(ztd, &g->deny_limit, g, g->uid, why);
	set_holding(ztd, g, false);
}

void
decide_write_held(struct ztd *ztd, struct grant *g)
{
	write_held(ztd, g, " (the grant ended)");
}

/*
 * The buckets of denies that peers other than root cause under no grant
 * (a request only a supervisor may send, a process that is not its
 * agent's binary, a launch refused): one per uid, so that no local user
 * can write audit records at will, nor have another's held back.  At most
 * PEER_LIMITS_MAX uids; beyond them the bucket idle longest is reused,
 * what it held written first.
 */
#define PEER_LIMITS_MAX 64
struct peer_limit {
	uid_t uid;
	bool used;
	struct audit_limit limit;
};
struct peer_limits {
	unsigned holding;		/* buckets with held > 0 */
	struct peer_limit at[PEER_LIMITS_MAX];
};

/* Write P's held denies (WHY as write_summary's). */
static void
write_peer_held(struct ztd *ztd, struct peer_limit *p, const char *why)
{
	if (p->limit.held == 0)
		return;
	write_summary(ztd, &p->limit, NULL, p->uid, why);
	ztd->peer_limits->holding--;
}

/*
 * UID's bucket, made (full) when it has none; NULL without memory.
 * Buckets are taken in order and never given up but to be reused, so the
 * used ones come first: the first free one ends the search.  A full table
 * reuses the bucket idle longest, one holding nothing before one holding.
 */
static struct peer_limit *
peer_limit(struct ztd *ztd, uid_t uid, int64_t now)
{
	struct peer_limits *t = ztd->peer_limits;
	struct peer_limit *p = NULL;

	if (t == NULL && (t = ztd->peer_limits = calloc(1, sizeof(*t))) ==
	    NULL)
		return NULL;
	for (size_t i = 0; i < PEER_LIMITS_MAX; i++) {
		struct peer_limit *q = &t->at[i];

		if (!q->used) {
			p = q;
			break;
		}
		if (q->uid == uid)
			return q;
		if (p == NULL || (q->limit.held == 0 && p->limit.held > 0) ||
		    ((q->limit.held == 0) == (p->limit.held == 0) &&
		    q->limit.updated_ms < p->limit.updated_ms))
			p = q;
	}
	if (p->used)
		write_peer_held(ztd, p, " (its bucket given to another uid)");
	p->used = true;
	p->uid = uid;
	audit_limit_init(&p->limit, now, ztd->config->audit_deny_burst);
	return p;
}

/* Has the bucket L, which holds denies, a token for them at NOW (taken)?
 * Else into *SOONEST the ms until it will, when sooner. */
static bool
bucket_due(const struct ztd_config *c, struct audit_limit *l, int64_t now,
    int64_t *soonest)
{
	int64_t wait;

	if (audit_limit_take(l, now, c->audit_deny_rate_milli,
	    c->audit_deny_burst))
		return true;
	wait = audit_limit_wait_ms(l, now, c->audit_deny_rate_milli);
	if (*soonest < 0 || wait < *soonest)
		*soonest = wait;
	return false;
}

/* Write the held denies of every peer bucket with a token again (ALL:
 * every one); into *SOONEST the ms until the next has one. */
static void
flush_peers(struct ztd *ztd, int64_t now, bool all, int64_t *soonest)
{
	const struct ztd_config *c = ztd->config;
	struct peer_limits *t = ztd->peer_limits;

	if (t == NULL || t->holding == 0)
		return;
	for (size_t i = 0; i < PEER_LIMITS_MAX; i++) {
		struct peer_limit *p = &t->at[i];

		if (!p->used || p->limit.held == 0)
			continue;
		if (all)
			write_peer_held(ztd, p, " (ztd stopped)");
		else if (bucket_due(c, &p->limit, now, soonest))
			write_peer_held(ztd, p, "");
	}
}

void
decide_stop_peers(struct ztd *ztd)
{
	int64_t soonest = -1;

	flush_peers(ztd, ztd_now_ms(), true, &soonest);
	free(ztd->peer_limits);
	ztd->peer_limits = NULL;
}

int
decide_flush_held(struct ztd *ztd)
{
	const struct ztd_config *c = ztd->config;
	int64_t now, soonest = -1;
	struct grant *g = ztd->holding, *next;

	/* Once a loop pass: no clock read while nothing holds denies. */
	if (g == NULL && (ztd->peer_limits == NULL ||
	    ztd->peer_limits->holding == 0))
		return -1;
	now = ztd_now_ms();
	for (; g != NULL; g = next) {
		next = g->holding_next;
		if (bucket_due(c, &g->deny_limit, now, &soonest))
			write_held(ztd, g, "");
	}
	flush_peers(ztd, now, false, &soonest);
	if (soonest > INT32_MAX)
		soonest = INT32_MAX;
	return (int)soonest;
}

/*
 * May this deny of grant G be written now (G NULL: of the peer UID under
 * no grant, by its bucket)?  Denies held earlier go first (as their
 * suppressed=N record) when a token is there; while any are held, a new
 * one is held too, so that the trail keeps their order.
 */
static bool
deny_admitted(struct ztd *ztd, struct grant *g, uid_t uid, pid_t pid)
{
	const struct ztd_config *c = ztd->config;
	int64_t now = ztd_now_ms();
	struct peer_limit *p = g == NULL ? peer_limit(ztd, uid, now) : NULL;
	struct audit_limit *l = g != NULL ? &g->deny_limit : p != NULL ?
	    &p->limit : NULL;

	if (l == NULL)
		return true;	/* written: never lost for want of memory */
	if (l->held > 0 && audit_limit_take(l, now,
	    c->audit_deny_rate_milli, c->audit_deny_burst)) {
		if (g != NULL)
			write_held(ztd, g, "");
		else
			write_peer_held(ztd, p, "");
	}
	if (l->held == 0 && audit_limit_take(l, now,
	    c->audit_deny_rate_milli, c->audit_deny_burst))
		return true;
	if (g != NULL)
		set_holding(ztd, g, true);
	else if (l->held == 0)
		ztd->peer_limits->holding++;
	audit_limit_hold(ztd->audit, l, pid);
	return false;
}

/* The N PARTS one after the other into DST (SIZE bytes, SIZE > 0), cut
 * where they do not fit, as snprintf("%s%s...") would. */
static void
join(char *dst, size_t size, const char *const *parts, size_t n)
{
	size_t at = 0;

	for (size_t i = 0; i < n && at < size - 1; i++) {
		size_t len = strlen(parts[i]);

		if (len > size - 1 - at)
			len = size - 1 - at;
		memcpy(dst + at, parts[i], len);
		at += len;
	}
	dst[at] = '\0';
}

bool
decide_audit(struct ztd *ztd, const struct subject *s, const char *action,
    const char *object, const struct decision *d, long age)
{
	char reason[POLICY_REASON_MAX + 64 + 512];
	char object_args[2048];
	struct audit_event e = {
		.allow = d->decision == DECISION_ALLOW && !d->unenforced,
		.unenforced = d->unenforced,
		.action = action,
		.agent = s->agent != NULL ? s->agent->name : "-",
		.account = s->account != NULL ? s->account : "-",
		.uid = s->uid,
		.pid = s->pid,
		.object = object,
		.name = d->name[0] != '\0' ? d->name : NULL,
		.reason = d->reason,
		.grant = s->grant != NULL ? s->grant->id : "-",
		.cache = d->local ? "local" : d->cached ? "hit" : "miss",
		.attest = attest_name(ztd->attest),
		.age = age,
	};

	/* A learn-mode line (decision=deny enforced=no) is no deny the rate
	 * limit holds back: the action went through, and ztctl profile
	 * suggest needs every one of them to propose the rules that allow
	 * it.  Each is written, and none takes a token of the bucket. */
	if (!e.allow && !e.unenforced &&
	    (s->grant != NULL || s->peer_limited) &&
	    !deny_admitted(ztd, s->grant, s->peer_uid, s->pid))
		return true;	/* held: counted, written later */
	e.object = audit_object(s, action, object, object_args,
	    sizeof(object_args), &e.object_len);
	/* Untrusted context rides in the reason, which audit.c escapes;
	 * so does an allow on a host whose attestation measured nothing
	 * (an unenforced one was no allow of the profile's). */
	if (s->detail != NULL || (e.allow &&
	    attest_nothing_measured(ztd->attest))) {
		/* Copies, not a format: this is every allow of a host in
		 * software mode. */
		const char *parts[] = { d->reason,
		    s->detail != NULL ? "; " : "",
		    s->detail != NULL ? s->detail : "",
		    e.allow && attest_nothing_measured(ztd->attest) ?
		    "; host " ATTEST_NOTHING_MEASURED : "" };

		join(reason, sizeof(reason), parts,
		    sizeof(parts) / sizeof(parts[0]));
		e.reason = reason;
	}
	return audit_write(ztd->audit, &e) == 0;
}

/*
 * Learn mode: a deny the profile made only because it lists nothing that
 * allows the action (V->learnable) becomes an unenforced allow of low
 * risk while AGENT learns; explicit denies never do.  The rest of the
 * path (a disable before, the host's attestation after) still holds.
 * True when V was turned into an allow (D says so).
 */
static bool
learn(const struct agent *agent, struct policy_verdict *v,
    struct decision *d)
{
	char until[32];

	if (!v->learnable || !policy_learning_now(agent))
		return false;
	policy_format_time(agent->learn_until, until, sizeof(until));
	v->decision = DECISION_ALLOW;
	v->risk = RISK_LOW;
	v->tunnel = false;
	d->unenforced = true;
	snprintf(d->reason, sizeof(d->reason), "learn mode until %s, not "
	    "enforced: %.150s", until, v->reason);
	return true;
}

/*
 * A connect no address rule allows, to an address the grant's resolver
 * was answered for a name: the host rules decide, for each name it was
 * answered for (live), the first allow winning.  V is replaced when a
 * name is known; *UNTIL the answer's expiry (CLOCK_BOOTTIME ms).
 */
static void
decide_learned(struct ztd *ztd, const struct subject *s,
    const struct policy_object *o, struct policy_verdict *v,
    struct decision *d, int64_t *until)
{
	const char *names[LEARNED_NAMES_MAX];
	int64_t expires[LEARNED_NAMES_MAX], now = ztd_now_ms();
	struct grant *root = grant_root(ztd, s->grant);
	bool private_addr = zt_addr_private(o->family, o->addr);
	size_t n = learned_find(root->learned, o->family, o->addr, now, names,
	    expires);

	for (size_t i = 0; i < n; i++) {
		struct policy_verdict named;

		policy_decide_named(s->agent, o, names[i], private_addr, &named);
		*v = named;
		snprintf(d->name, sizeof(d->name), "%s", names[i]);
		if (named.decision == DECISION_ALLOW) {
			*until = expires[i];
			return;
		}
	}
}

/* The name a live answer gave O's address in GRANT's tree, into NAME
 * (256 bytes; "" when none, or when an address rule allows O anyway). */
static void
learned_name(struct ztd *ztd, struct grant *grant,
    const struct policy_object *o, char name[256])
{
	const char *names[LEARNED_NAMES_MAX];
	int64_t expires[LEARNED_NAMES_MAX];
	const struct agent *a;
	struct policy_verdict v;

	name[0] = '\0';
	if (grant == NULL || o->action != ACTION_CONNECT ||
	    (o->family != AF_INET && o->family != AF_INET6) ||
	    (a = config_find_agent(ztd->config, grant->agent)) == NULL)
		return;
	policy_decide(a, o, &v);
	if (v.decision == DECISION_ALLOW)
		return;
	if (learned_find(grant_root(ztd, grant)->learned, o->family, o->addr,
	    ztd_now_ms(), names, expires) > 0)
		snprintf(name, 256, "%s", names[0]);
}

void
decide_name_cached(struct ztd *ztd, struct grant *grant, enum action action,
    const char *object_text, struct decision *d)
{
	struct policy_object *o = malloc(sizeof(*o));
	char error[POLICY_REASON_MAX];

	d->name[0] = '\0';
	if (o != NULL && policy_parse_object(action, object_text, o,
	    error) == 0)
		learned_name(ztd, grant, o, d->name);
	free(o);
}

#define CACHED_REASON "cached allow"
_Static_assert(sizeof(CACHED_REASON) <=
    sizeof(((struct decision *)0)->reason), "the reason fits");

/* How decide_in goes: for real (cached, audited, may wait), a dry run
 * (ztctl check), or ahead of the action (decide_ahead). */
enum decide_mode { DECIDE_REAL, DECIDE_DRY, DECIDE_AHEAD };

static void
decide_in(struct ztd *ztd, uint64_t resume_ticket, const struct subject *s,
    enum action action, const char *object_text, enum decide_mode mode,
    struct decision *d)
{
	bool dry_run = mode == DECIDE_DRY;
	const struct ztd_config *c = ztd->config;
	struct policy_object object;
	struct policy_verdict v;
	char why[ATTEST_REASON_MAX];
	int64_t dns_until = 0;
	long age = -1;
	bool named = false;

	memset(d, 0, sizeof(*d));
	d->decision = DECISION_DENY;
	if (policy_parse_object(action, object_text, &object, d->reason) < 0) {
		/* ztctl check may ask about a connect to a name. */
		if (!dry_run || action != ACTION_CONNECT ||
		    policy_parse_named_connect(object_text, &object, why) < 0)
			goto audit;
		named = true;
	}
	if (action == ACTION_EXEC && s->argv != NULL &&
	    policy_set_argv(&object, s->argv, s->argv_len, s->argv_cut) < 0) {
		snprintf(d->reason, sizeof(d->reason), "exec: the argument "
		    "list does not end in a NUL");
		goto audit;
	}

	/* A disabled agent gets nothing, whatever its profile says. */
	if (s->agent != NULL && disabled_reason(ztd->disabled,
	    s->agent->name) != NULL) {
		snprintf(d->reason, sizeof(d->reason), "agent %s is disabled "
		    "(ztctl disable): %.160s", s->agent->name,
		    disabled_reason(ztd->disabled, s->agent->name));
		goto audit;
	}

	/* A cached low-risk allow under a live grant, still trusted. */
	if (mode == DECIDE_REAL && s->grant != NULL &&
	    attest_trusted(ztd->attest) &&
	    cache_lookup(ztd->cache, s->grant->id, action, object.text)) {
		d->decision = DECISION_ALLOW;
		d->risk = RISK_LOW;
		d->cached = true;
		memcpy(d->reason, CACHED_REASON, sizeof(CACHED_REASON));
		/* An allow by name says which, from a hit too. */
		learned_name(ztd, s->grant, &object, d->name);
		goto audit;
	}

	if (named) {
		policy_decide_named(s->agent, &object, object.name, false, &v);
		snprintf(d->name, sizeof(d->name), "%s", object.name);
	} else {
		policy_decide(s->agent, &object, &v);
		if (v.decision != DECISION_ALLOW &&
		    action == ACTION_CONNECT && s->grant != NULL &&
		    object.family != AF_UNIX) {
			/* No address rule allows it: learn mode may lift a
			 * deny by the host rules as it would the address's. */
			bool learnable = v.learnable;

			decide_learned(ztd, s, &object, &v, d, &dns_until);
			v.learnable = v.learnable || learnable;
		}
	}
	snprintf(d->reason, sizeof(d->reason), "%s", v.reason);
	if (v.decision != DECISION_ALLOW && !learn(s->agent, &v, d)) {
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
	if (mode == DECIDE_AHEAD && v.risk != RISK_LOW) {
		snprintf(d->reason, sizeof(d->reason), "not low-risk");
		return;		/* decided when it is asked */
	}
	if (mode != DECIDE_REAL) {
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
		/* A host rule's server defaults to the name answered. */
		d->server_name = v.rule->server_name != NULL ||
		    d->name[0] == '\0' ? v.rule->server_name : d->name;
		d->ca = v.rule->ca;
	}
	/* A tunnel allow is never cached: a hit would carry no tunnel; nor
	 * one decided on the arguments, which the cache key does not hold;
	 * nor one learn mode let through, each of which is audited. */
	if (!dry_run && s->grant != NULL && v.risk == RISK_LOW &&
	    !d->tunnel && !v.per_argv && !d->unenforced &&
	    s->agent->decision_ttl > 0) {
		int64_t ttl = (int64_t)s->agent->decision_ttl * 1000;
		int64_t left = grant_remaining_ms(s->grant);

		if (left < ttl)
			ttl = left;
		/* An allow by name lives no longer than the DNS answer. */
		if (dns_until != 0 && dns_until - ztd_now_ms() < ttl)
			ttl = dns_until - ztd_now_ms();
		if (ttl < 0)
			ttl = 0;
		d->ttl_ms = (uint32_t)ttl;
		if (ttl > 0 && mode == DECIDE_REAL)
			cache_insert(ztd->cache, s->grant->id, action,
			    object.text, ztd_now_ms() + ttl);
	}
audit:
	if (mode != DECIDE_REAL)
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

void
decide(struct ztd *ztd, uint64_t resume_ticket, const struct subject *s,
    enum action action, const char *object_text, bool dry_run,
    struct decision *d)
{
	decide_in(ztd, resume_ticket, s, action, object_text, dry_run ?
	    DECIDE_DRY : DECIDE_REAL, d);
}

bool
decide_ahead(struct ztd *ztd, const struct subject *s, enum action action,
    const char *object_text, struct decision *d)
{
	decide_in(ztd, 0, s, action, object_text, DECIDE_AHEAD, d);
	return d->decision == DECISION_ALLOW && d->ttl_ms > 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Which peer may ask what, and the answer to each request type. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest.h"
#include "attest_agent.h"
#include "audit.h"
#include "cache.h"
#include "decide.h"
#include "grant.h"
#include "server.h"
#include "zt_err.h"
#include "zt_log.h"
#include "zt_msg.h"
#include "ztd.h"

/* Administrators: root, or the uid ztd itself runs as (tests). */
static bool
is_admin(const struct client *c)
{
	return c->uid == 0 || c->uid == geteuid();
}

/* Park the request until the attestation TICKET is in (server.c). */
static int
wait_for_attestation(struct ztd *ztd, uint64_t ticket)
{
	ztd->wait_ticket = ticket;
	return ZT_E_WAIT;
}

static int
answer_status(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd,
    struct zt_msg *reply)
{
	const struct ztd_config *config = ztd->config;
	int64_t uptime = (ztd_now_ms() - ztd->started_ms) / 1000;
	int r;

	(void)c;
	if ((r = zt_msg_init(reply, ZT_MSG_STATUS_REPLY,
	    request->request_id)) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_VERSION, PACKAGE_VERSION)) < 0 ||
	    (r = zt_msg_put_u64(reply, ZT_F_UPTIME, (uint64_t)uptime)) < 0 ||
	    (r = zt_msg_put_u64(reply, ZT_F_GENERATION,
	    ztd->generation)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_AGENTS,
	    (uint32_t)config->n_agents)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_CLIENTS,
	    ztd->server.n_clients)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_MAX_CLIENTS,
	    config->max_clients)) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_CONFIG, config->path)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_PID, (uint32_t)getpid())) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_ATTEST_MODE,
	    attest_name(ztd->attest))) < 0)
		return r;
	{
		struct cache_stats cs;
		struct attest_view view;
		int64_t now = ztd_now_ms();

		cache_get_stats(ztd->cache, &cs);
		attest_get_view(ztd->attest, &view);
		if ((r = zt_msg_put_u64(reply, ZT_F_CACHE_ENTRIES,
		    cs.entries)) < 0 ||
		    (r = zt_msg_put_u64(reply, ZT_F_CACHE_HITS, cs.hits)) < 0 ||
		    (r = zt_msg_put_u64(reply, ZT_F_CACHE_MISSES,
		    cs.misses)) < 0 ||
		    (r = zt_msg_put_u32(reply, ZT_F_GRANTS,
		    (uint32_t)ztd->n_grants)) < 0 ||
		    (r = zt_msg_put_str(reply, ZT_F_ATTEST_STATE,
		    !view.measured ? "not measured yet" : view.trusted ?
		    "trusted" : view.reason)) < 0 ||
		    (r = zt_msg_put_u64(reply, ZT_F_AUDIT_SEQ,
		    audit_last_seq(ztd->audit))) < 0)
			return r;
		if (view.last_good_ms > 0 &&
		    (r = zt_msg_put_u64(reply, ZT_F_ATTEST_AGE,
		    (uint64_t)(now - view.last_good_ms) / 1000)) < 0)
			return r;
	}
	if (ztd->reload_error[0] != '\0' &&
	    (r = zt_msg_put_str(reply, ZT_F_RELOAD_ERROR,
	    ztd->reload_error)) < 0)
		return r;
	return 0;
}

static int
answer_reload(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd,
    struct zt_msg *reply)
{
	int r;

	zt_log(LOG_NOTICE, "reload requested by uid %u pid %d",
	    (unsigned)c->uid, (int)c->pid);
	if ((r = ztd_reload(ztd)) < 0) {
		zt_msg_error(reply, request->request_id, r, ztd->reload_error);
		return 0;
	}
	if ((r = zt_msg_init(reply, ZT_MSG_RELOAD_REPLY,
	    request->request_id)) < 0 ||
	    (r = zt_msg_put_u64(reply, ZT_F_GENERATION, ztd->generation)) < 0)
		return r;
	return 0;
}

/* Fill a DECISION reply from D. */
static int
put_decision(struct zt_msg *reply, uint32_t request_id,
    const struct decision *d, const struct grant *g)
{
	int r;

	if ((r = zt_msg_init(reply, ZT_MSG_DECISION, request_id)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_DECISION,
	    d->decision == DECISION_ALLOW ? ZT_DECISION_ALLOW : 0)) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_REASON, d->reason)) < 0)
		return r;
	if (d->decision == DECISION_ALLOW &&
	    ((r = zt_msg_put_u32(reply, ZT_F_RISK, d->risk)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_TTL_MS, d->ttl_ms)) < 0))
		return r;
	if (g != NULL &&
	    ((r = zt_msg_put_str(reply, ZT_F_GRANT, g->id)) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_AGENT, g->agent)) < 0 ||
	    (r = zt_msg_put_u64(reply, ZT_F_EXPIRES_MS,
	    (uint64_t)grant_remaining_ms(g))) < 0))
		return r;
	return 0;
}

static enum action
get_action(const struct zt_msg *request)
{
	uint32_t action;

	if (zt_msg_get_u32(request, ZT_F_ACTION, &action) < 0 ||
	    action == ACTION_NONE || action >= ACTION_MAX)
		return ACTION_NONE;
	return (enum action)action;
}

/* The agent that owns ACCOUNT, or NULL. */
static const struct agent *
agent_of_account(const struct ztd_config *c, const char *account)
{
	for (size_t i = 0; i < c->n_agents; i++)
		for (size_t j = 0; j < c->agents[i].n_accounts; j++)
			if (strcmp(c->agents[i].accounts[j], account) == 0)
				return &c->agents[i];
	return NULL;
}

static bool
agent_has_account(const struct agent *a, const char *account)
{
	for (size_t j = 0; j < a->n_accounts; j++)
		if (strcmp(a->accounts[j], account) == 0)
			return true;
	return false;
}

/* The user name of UID, from the passwd database, into NAME (33 bytes). */
static int
account_of_uid(uid_t uid, char name[33])
{
	struct passwd pw, *found = NULL;
	char buf[4096];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) != 0 ||
	    found == NULL || strlen(pw.pw_name) > 32)
		return -ENOENT;
	snprintf(name, 33, "%s", pw.pw_name);
	return 0;
}

static int
answer_check(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd,
    struct zt_msg *reply)
{
	const char *agent_name, *object, *account = NULL, *grant_id = NULL;
	struct subject s = { .uid = c->uid, .pid = c->pid };
	struct decision d = { .decision = DECISION_DENY };
	enum action action = get_action(request);

	(void)c;
	zt_msg_get_str(request, ZT_F_AGENT, &agent_name);
	zt_msg_get_str(request, ZT_F_OBJECT, &object);
	if (zt_msg_get_str(request, ZT_F_ACCOUNT, &account) < 0)
		account = NULL;
	if (zt_msg_get_str(request, ZT_F_GRANT, &grant_id) < 0)
		grant_id = NULL;
	s.agent = config_find_agent(ztd->config, agent_name);
	if (action == ACTION_NONE)
		snprintf(d.reason, sizeof(d.reason), "unknown action");
	else if (s.agent == NULL)
		snprintf(d.reason, sizeof(d.reason), "no agent named %.64s in "
		    "the policy", agent_name);
	else if (account != NULL && !agent_has_account(s.agent, account))
		snprintf(d.reason, sizeof(d.reason), "account %.32s is not "
		    "one of agent %s's accounts", account, s.agent->name);
	else if (grant_id != NULL &&
	    ((s.grant = grant_find(ztd, grant_id)) == NULL ||
	    strcmp(s.grant->agent, s.agent->name) != 0))
		snprintf(d.reason, sizeof(d.reason), "grant %.32s is not a "
		    "live grant of agent %s", grant_id, s.agent->name);
	else {
		s.account = account != NULL ? account :
		    s.grant != NULL ? s.grant->account : s.agent->accounts[0];
		decide(ztd, &s, action, object, true, &d);
	}
	return put_decision(reply, request->request_id, &d, NULL);
}

/*
 * The process PIDFD (passed by a grant's supervisor) must be a live
 * process running S's agent binary as the grant's uid.  Sets
 * S->identity_proven and S->pid; otherwise fills REASON.
 */
static int
prove_subject(struct ztd *ztd, struct subject *s, int pidfd, char *reason,
    size_t size)
{
	char why[IDENTITY_REASON_MAX];
	long pid = -1;
	uid_t uid;
	int r;

	if ((r = identity_pidfd_pid(pidfd, &pid)) < 0 || pid <= 0) {
		snprintf(reason, size, "the descriptor passed is no pidfd of "
		    "a live process");
		return r < 0 ? r : -ESRCH;
	}
	s->pid = (pid_t)pid;
	if ((r = identity_check_process(ztd->identity, ztd->config, s->agent,
	    pidfd, (pid_t)pid, &uid, why)) < 0) {
		snprintf(reason, size, "identity: %s", why);
		return r;
	}
	if (uid != s->uid) {
		snprintf(reason, size, "identity: process %ld runs as uid %u, "
		    "not the grant's %u", pid, (unsigned)uid,
		    (unsigned)s->uid);
		return ZT_E_PERM;
	}
	s->identity_proven = true;
	return 0;
}

/*
 * DECIDE: on a grant's behalf only from the grant's supervisor (the very
 * process that holds it, whatever connection it uses); without a grant, a
 * process may ask only about itself, recognised from the kernel's facts.
 */
static int
answer_decide(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd, struct zt_msg *reply)
{
	struct subject s = { .uid = c->uid, .pid = c->pid };
	struct decision d = { .decision = DECISION_DENY };
	enum action action = get_action(request);
	const char *object, *grant_id;
	char account[33], why[IDENTITY_REASON_MAX];
	int r;

	zt_msg_get_str(request, ZT_F_OBJECT, &object);
	if (action == ACTION_NONE) {
		snprintf(d.reason, sizeof(d.reason), "unknown action");
		return put_decision(reply, request->request_id, &d, NULL);
	}
	if (zt_msg_get_str(request, ZT_F_GRANT, &grant_id) == 0) {
		s.grant = grant_find(ztd, grant_id);
		if (s.grant == NULL || s.grant->supervisor_pid != c->pid ||
		    (s.agent = config_find_agent(ztd->config,
		    s.grant->agent)) == NULL) {
			/* The same answer whether the grant ended or is
			 * someone else's: nothing to learn by probing. */
			snprintf(d.reason, sizeof(d.reason), "no live grant "
			    "%.32s supervised by this process", grant_id);
			s.grant = NULL;
			s.agent = NULL;
			decide_audit(ztd, &s, policy_action_name(action),
			    object, &d, -1);
			return put_decision(reply, request->request_id, &d,
			    NULL);
		}
		s.account = s.grant->account;
		s.uid = s.grant->uid;
		/* The supervisor names the acting process by its pidfd: it
		 * must be the agent's binary, running as the grant's uid. */
		if (passed_fd >= 0 &&
		    prove_subject(ztd, &s, passed_fd, d.reason,
		    sizeof(d.reason)) < 0) {
			decide_audit(ztd, &s, policy_action_name(action),
			    object, &d, -1);
			return put_decision(reply, request->request_id, &d,
			    s.grant);
		}
		decide(ztd, &s, action, object, false, &d);
		if (d.wait_ticket != 0)
			return wait_for_attestation(ztd, d.wait_ticket);
		r = put_decision(reply, request->request_id, &d, s.grant);
		if (d.violation && s.agent->on_violation == VIOLATION_KILL)
			grant_end(ztd, s.grant, "violation: on_violation = "
			    "kill", true);
		return r;
	}
	if (c->pidfd < 0 || account_of_uid(c->uid, account) < 0 ||
	    (s.agent = agent_of_account(ztd->config, account)) == NULL)
		return ZT_E_NOT_AGENT;
	s.account = account;
	if (identity_check_process(ztd->identity, ztd->config, s.agent,
	    c->pidfd, c->pid, &s.uid, why) < 0) {
		snprintf(d.reason, sizeof(d.reason), "identity: %s", why);
		decide_audit(ztd, &s, policy_action_name(action), object, &d,
		    -1);
		return put_decision(reply, request->request_id, &d, NULL);
	}
	s.identity_proven = true;
	decide(ztd, &s, action, object, false, &d);
	if (d.wait_ticket != 0)
		return wait_for_attestation(ztd, d.wait_ticket);
	return put_decision(reply, request->request_id, &d, NULL);
}

/*
 * SESSION_OPEN, from a PAM stack (a root process): the account named by
 * UID must be an agent's, allowed this service, its binary on disk still
 * recognised, the host attested recently; then a grant supervised by the
 * asking process.
 */
static int
answer_session_open(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd,
    struct zt_msg *reply)
{
	struct subject s = { .pid = c->pid };
	struct decision d = { .decision = DECISION_DENY };
	const char *service, *claimed = NULL;
	char detail[256];
	char account[33], why[IDENTITY_REASON_MAX];
	struct grant *g = NULL;
	uint32_t uid, flags = 0;
	int r;

	zt_msg_get_u32(request, ZT_F_UID, &uid);
	zt_msg_get_str(request, ZT_F_SERVICE, &service);
	zt_msg_get_u32(request, ZT_F_FLAGS, &flags);
	if (zt_msg_get_str(request, ZT_F_ACCOUNT, &claimed) < 0)
		claimed = NULL;
	{
		const char *rhost = "", *tty = "";

		zt_msg_get_str(request, ZT_F_RHOST, &rhost);
		zt_msg_get_str(request, ZT_F_TTY, &tty);
		/* PAM items are the client's words: data, cut, escaped by
		 * the audit, never used to decide. */
		snprintf(detail, sizeof(detail), "pam user=%.64s rhost=%.64s "
		    "tty=%.64s", claimed != NULL ? claimed : "-",
		    rhost[0] ? rhost : "-", tty[0] ? tty : "-");
		s.detail = detail;
	}
	s.uid = (uid_t)uid;
	if (account_of_uid(s.uid, account) < 0 ||
	    (s.agent = agent_of_account(ztd->config, account)) == NULL)
		return ZT_E_NOT_AGENT;
	s.account = account;
	if (c->pidfd < 0) {
		snprintf(d.reason, sizeof(d.reason), "no pidfd for the "
		    "asking process: cannot supervise a grant");
		decide_audit(ztd, &s, "session", service, &d, -1);
	} else if (identity_check_file(ztd->identity, ztd->config, s.agent,
	    s.agent->binary, why) < 0) {
		snprintf(d.reason, sizeof(d.reason), "identity: %s", why);
		decide_audit(ztd, &s, "session", service, &d, -1);
	} else {
		s.identity_proven = true;
		decide(ztd, &s, ACTION_SESSION, service, false, &d);
		if (d.wait_ticket != 0)
			return wait_for_attestation(ztd, d.wait_ticket);
	}
	if (d.decision == DECISION_ALLOW && !(flags & ZT_SESSION_CHECK_ONLY)) {
		r = grant_create(ztd, s.agent, account, s.uid, service, c->pid,
		    c->pidfd, &g);
		if (r < 0) {
			d.decision = DECISION_DENY;
			snprintf(d.reason, sizeof(d.reason), "no grant: %s",
			    zt_strerror(r));
		} else {
			if (ztd->next_expiry_ms == 0 ||
			    g->expires_ms < ztd->next_expiry_ms)
				ztd->next_expiry_ms = g->expires_ms;
			zt_log(LOG_NOTICE, "grant %s: agent %s account %s "
			    "service %s supervisor pid %d, %u s", g->id,
			    g->agent, g->account, g->service, (int)c->pid,
			    s.agent->session_ttl);
		}
	}
	return put_decision(reply, request->request_id, &d, g);
}

static int
answer_session_close(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd,
    struct zt_msg *reply)
{
	struct decision d = { .decision = DECISION_DENY };
	const char *grant_id;
	struct grant *g;

	zt_msg_get_str(request, ZT_F_GRANT, &grant_id);
	g = grant_find(ztd, grant_id);
	if (g == NULL)
		snprintf(d.reason, sizeof(d.reason), "no live grant %.32s",
		    grant_id);
	else if (!is_admin(c) && g->supervisor_pid != c->pid)
		return ZT_E_PERM;
	else {
		grant_end(ztd, g, "session closed", false);
		d.decision = DECISION_ALLOW;
		snprintf(d.reason, sizeof(d.reason), "grant ended");
	}
	return put_decision(reply, request->request_id, &d, NULL);
}

#define GRANT_LINE_MAX 200

static int
answer_grants(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd,
    struct zt_msg *reply)
{
	char list[ZT_MSG_MAX - 256];
	uint32_t offset = 0, index = 0, count = 0;
	size_t used = 0;
	struct grant *g;
	int r;

	(void)c;
	zt_msg_get_u32(request, ZT_F_OFFSET, &offset);
	list[0] = '\0';
	for (g = ztd->grants; g != NULL; g = g->next, index++) {
		char line[GRANT_LINE_MAX];
		int n;

		if (index < offset)
			continue;
		n = snprintf(line, sizeof(line), "%s %s %s %u %d %lld %s\n",
		    g->id, g->agent, g->account, (unsigned)g->uid,
		    (int)g->supervisor_pid,
		    (long long)(grant_remaining_ms(g) / 1000), g->service);
		if (n < 0 || used + (size_t)n >= sizeof(list))
			break;
		memcpy(list + used, line, (size_t)n + 1);
		used += (size_t)n;
		count++;
	}
	if ((r = zt_msg_init(reply, ZT_MSG_GRANTS_REPLY,
	    request->request_id)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_COUNT, count)) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_LIST, list)) < 0)
		return r;
	if (g != NULL && (r = zt_msg_put_u32(reply, ZT_F_OFFSET,
	    offset + count)) < 0)
		return r;
	return 0;
}

static int
answer_revoke(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd,
    struct zt_msg *reply)
{
	const char *grant_id = NULL, *agent = NULL, *account = NULL;
	uint32_t flags = 0, count = 0;
	struct grant *g;
	char why[96];
	int r, given = 0;

	given += zt_msg_get_str(request, ZT_F_GRANT, &grant_id) == 0;
	given += zt_msg_get_str(request, ZT_F_AGENT, &agent) == 0;
	given += zt_msg_get_str(request, ZT_F_ACCOUNT, &account) == 0;
	zt_msg_get_u32(request, ZT_F_FLAGS, &flags);
	if (given != 1)
		return ZT_E_PROTOCOL;
	snprintf(why, sizeof(why), "revoked by uid %u pid %d",
	    (unsigned)c->uid, (int)c->pid);
	g = ztd->grants;
	while (g != NULL) {
		struct grant *after = g->next;

		if ((grant_id != NULL && strcmp(g->id, grant_id) == 0) ||
		    (agent != NULL && strcmp(g->agent, agent) == 0) ||
		    (account != NULL && strcmp(g->account, account) == 0)) {
			const struct agent *a = config_find_agent(ztd->config,
			    g->agent);
			bool kill = (flags & ZT_REVOKE_KILL) ||
			    (a != NULL && a->on_violation == VIOLATION_KILL);

			grant_end(ztd, g, why, kill);
			count++;
		}
		g = after;
	}
	if (count > 0)
		cache_invalidate(ztd->cache);
	if ((r = zt_msg_init(reply, ZT_MSG_REVOKE_REPLY,
	    request->request_id)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_COUNT, count)) < 0)
		return r;
	return 0;
}

static int
answer_enroll_host(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd, struct zt_msg *reply)
{
	struct decision d = { .decision = DECISION_DENY };
	char why[ATTEST_REASON_MAX];
	uint64_t ticket;
	int r;

	if (ztd->resume_ticket == 0) {
		zt_log(LOG_NOTICE, "enroll-host requested by uid %u pid %d",
		    (unsigned)c->uid, (int)c->pid);
		attest_request_enroll(ztd->attest, &ticket);
		return wait_for_attestation(ztd, ticket);
	}
	if (!attest_ready(ztd->attest, ztd->resume_ticket)) {
		zt_msg_error(reply, request->request_id, ZT_E_TIMEOUT,
		    "the measurement did not complete in time");
		return 0;
	}
	if ((r = attest_enroll_result(ztd->attest, why)) < 0) {
		zt_msg_error(reply, request->request_id, r, why);
		return 0;
	}
	d.decision = DECISION_ALLOW;
	snprintf(d.reason, sizeof(d.reason), "golden values recorded in "
	    "%.100s (%s)", ztd->config->golden, attest_name(ztd->attest));
	zt_log(LOG_NOTICE, "enrolled: golden values recorded in %s",
	    ztd->config->golden);
	return put_decision(reply, request->request_id, &d, NULL);
}

/* ATTEST: measure now, then report the verdict, the PCRs and the age. */
static int
answer_attest(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd, struct zt_msg *reply)
{
	struct decision d = { .decision = DECISION_DENY };
	struct attest_view view;
	uint64_t ticket;
	int r;

	(void)c;
	if (ztd->resume_ticket == 0) {
		attest_request(ztd->attest, &ticket);
		return wait_for_attestation(ztd, ticket);
	}
	attest_get_view(ztd->attest, &view);
	if (!attest_ready(ztd->attest, ztd->resume_ticket))
		snprintf(d.reason, sizeof(d.reason), "no measurement within "
		    "%d ms", ATTEST_WAIT_MS);
	else if (!view.trusted)
		snprintf(d.reason, sizeof(d.reason), "host untrusted: %.170s",
		    view.reason);
	else {
		d.decision = DECISION_ALLOW;
		snprintf(d.reason, sizeof(d.reason), "host trusted (%s)",
		    attest_name(ztd->attest));
	}
	if ((r = put_decision(reply, request->request_id, &d, NULL)) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_LIST, view.pcrs)) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_ATTEST_MODE,
	    attest_name(ztd->attest))) < 0)
		return r;
	if (view.last_good_ms > 0 &&
	    (r = zt_msg_put_u64(reply, ZT_F_ATTEST_AGE,
	    (uint64_t)(ztd_now_ms() - view.last_good_ms) / 1000)) < 0)
		return r;
	return 0;
}

typedef int (*answer_fn)(struct ztd *, const struct client *,
    const struct zt_msg *, int, struct zt_msg *);

static const struct {
	answer_fn answer;
	bool admin_only;
} handlers[ZT_MSG_TYPE_MAX] = {
	[ZT_MSG_STATUS] = { answer_status, true },
	[ZT_MSG_RELOAD] = { answer_reload, true },
	[ZT_MSG_CHECK] = { answer_check, true },
	[ZT_MSG_DECIDE] = { answer_decide, false },
	[ZT_MSG_SESSION_OPEN] = { answer_session_open, true },
	[ZT_MSG_SESSION_CLOSE] = { answer_session_close, false },
	[ZT_MSG_GRANTS] = { answer_grants, true },
	[ZT_MSG_REVOKE] = { answer_revoke, true },
	[ZT_MSG_ENROLL_HOST] = { answer_enroll_host, true },
	[ZT_MSG_ATTEST] = { answer_attest, true },
};

int
requests_dispatch(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd, struct zt_msg *reply)
{
	unsigned type = request->type;

	if (type >= ZT_MSG_TYPE_MAX || handlers[type].answer == NULL)
		return ZT_E_PROTOCOL;	/* a reply type sent as a request */
	if (handlers[type].admin_only && !is_admin(c)) {
		zt_log(LOG_NOTICE, "uid %u pid %d may not ask %s",
		    (unsigned)c->uid, (int)c->pid, zt_msg_type_name(type));
		return ZT_E_PERM;
	}
	/* Only DECIDE takes a descriptor (the subject's pidfd). */
	if (passed_fd >= 0 && type != ZT_MSG_DECIDE)
		return ZT_E_PROTOCOL;
	return handlers[type].answer(ztd, c, request, passed_fd, reply);
}

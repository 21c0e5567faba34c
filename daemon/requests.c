/* SPDX-License-Identifier: Apache-2.0 */
/* Which peer may ask what, and the answer to each request type. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attest.h"
#include "attest_agent.h"
#include "audit.h"
#include "ca.h"
#include "cache.h"
#include "decide.h"
#include "disable.h"
#include "digest.h"
#include "fleet.h"
#include "grant.h"
#include "launchfilter.h"
#include "learned.h"
#include "requests.h"
#include "server.h"
#include "token.h"
#include "zt_addr.h"
#include "zt_err.h"
#include "zt_exe.h"
#include "zt_group.h"
#include "zt_log.h"
#include "zt_msg.h"
#include "ztd.h"

/* Administrators: root, or the uid ztd itself runs as (server.c). */
static bool
is_admin(const struct client *c)
{
	return c->class == CLIENT_ROOT;
}

/* The live grant ID when the process that sent RQ supervises it, else
 * NULL: the same answer whether it ended or is someone else's. */
static struct grant *
own_grant(const struct request *rq, const char *id)
{
	struct grant *g = grant_find(rq->ztd, id);

	return g != NULL && g->supervisor_pid == rq->client->pid ? g : NULL;
}

/*
 * The subject of what RQ's peer asks, as far as the kernel says: its uid
 * and pid.  A deny it causes under no grant is rate-limited by its uid
 * unless it is root (decide_audit): every local uid may connect, and
 * must not write audit records at will.
 */
static struct subject
peer_subject(const struct request *rq)
{
	const struct client *c = rq->client;

	return (struct subject){ .uid = c->uid, .pid = c->pid,
	    .peer_limited = c->class != CLIENT_ROOT, .peer_uid = c->uid };
}

/* Park the request until the attestation TICKET is in (server.c). */
static int
wait_for_attestation(struct request *rq, uint64_t ticket)
{
	rq->wait_ticket = ticket;
	return ZT_E_WAIT;
}

/*
 * How the agents' accounts stand against agent_group now (pam_zt's
 * group= rule when ztd cannot answer), into OUT: "" when the check is
 * off, else a line for ztctl status.  Read from /etc/passwd and
 * /etc/group at every call: an account removed from the group since the
 * policy was loaded is drift.
 */
static void
agent_group_state(const struct ztd_config *c, char *out, size_t size)
{
	size_t used = 0, drift = 0;
	gid_t gid;
	int n;

	out[0] = '\0';
	if (c->agent_group[0] == '\0')
		return;
	if (zt_group_gid(ZT_GROUP_FILE, c->agent_group, &gid) == -ENOENT) {
		snprintf(out, size, "%s is not in /etc/group: pam_zt's group= "
		    "refuses every account while ztd is down",
		    c->agent_group);
		return;
	}
	n = snprintf(out, size, "%s: ", c->agent_group);
	used = n > 0 && (size_t)n < size ? (size_t)n : 0;
	for (size_t i = 0; i < c->n_agents; i++)
		for (size_t j = 0; j < c->agents[i].n_accounts; j++) {
			const char *a = c->agents[i].accounts[j];

			if (zt_group_member(ZT_PASSWD_FILE, ZT_GROUP_FILE, a,
			    c->agent_group) == 1)
				continue;
			n = snprintf(out + used, size - used, "%s%s", drift ?
			    ", " : "DRIFT: not a member now: ", a);
			if (n > 0 && (size_t)n < size - used)
				used += (size_t)n;
			drift++;
		}
	if (drift == 0)
		snprintf(out + used, size - used, "every agent account a "
		    "member");
}

/*
 * STATUS_REPLY's AGENT_STATES: "disabled NAME WHY" and "learning NAME
 * UNTIL" lines, as many as fit (a last "... N more" line otherwise).
 */
static int
put_agent_states(struct ztd *ztd, struct zt_msg *reply)
{
	const struct ztd_config *c = ztd->config;
	char text[2048];
	size_t used = 0, total = 0, shown = 0;

	text[0] = '\0';
	for (size_t i = 0; i < disabled_count(ztd->disabled); i++) {
		const char *name, *why;
		int n;

		disabled_get(ztd->disabled, i, &name, &why);
		total++;
		n = snprintf(text + used, sizeof(text) - used,
		    "disabled %s %s\n", name, why);
		if (n > 0 && (size_t)n < sizeof(text) - used - 32) {
			used += (size_t)n;
			shown++;
		} else
			text[used] = '\0';
	}
	for (size_t i = 0; i < c->n_agents; i++) {
		const struct agent *a = &c->agents[i];
		char until[32];
		int n;

		if (!policy_learning_now(a))
			continue;
		total++;
		policy_format_time(a->learn_until, until, sizeof(until));
		n = snprintf(text + used, sizeof(text) - used,
		    "learning %s %s\n", a->name, until);
		if (n > 0 && (size_t)n < sizeof(text) - used - 32) {
			used += (size_t)n;
			shown++;
		} else
			text[used] = '\0';
	}
	if (total > shown)
		snprintf(text + used, sizeof(text) - used, "... %zu more\n",
		    total - shown);
	if (text[0] == '\0')
		return 0;
	return zt_msg_put_str(reply, ZT_F_AGENT_STATES, text);
}

/* STATUS: how many addresses the grants' resolvers were answered and
 * ztd remembers now (expired ones not yet replaced included). */
static int
put_learned_count(struct ztd *ztd, struct zt_msg *reply)
{
	size_t n = 0;

	for (struct grant *g = grant_first(ztd); g != NULL; g = grant_next(g))
		n += learned_count(g->learned);
	return zt_msg_put_u32(reply, ZT_F_COUNT,
	    n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);
}

static int
answer_status(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	const struct ztd_config *config = ztd->config;
	int64_t uptime = (ztd_now_ms() - ztd->started_ms) / 1000;
	int r;

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
		char state[512];

		agent_group_state(config, state, sizeof(state));
		if (state[0] != '\0' &&
		    (r = zt_msg_put_str(reply, ZT_F_TEXT, state)) < 0)
			return r;
	}
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
		    (uint32_t)grant_count(ztd))) < 0 ||
		    (r = zt_msg_put_str(reply, ZT_F_ATTEST_STATE,
		    !view.measured ? "not measured yet" : !view.trusted ?
		    view.reason : view.nothing_measured ?
		    "trusted (" ATTEST_NOTHING_MEASURED ")" : "trusted")) < 0 ||
		    (r = zt_msg_put_u64(reply, ZT_F_AUDIT_SEQ,
		    audit_last_seq(ztd->audit))) < 0)
			return r;
		if (view.last_good_ms > 0 &&
		    (r = zt_msg_put_u64(reply, ZT_F_ATTEST_AGE,
		    (uint64_t)(now - view.last_good_ms) / 1000)) < 0)
			return r;
	}
	if ((r = put_agent_states(ztd, reply)) < 0)
		return r;
	if (ztd->reload_error[0] != '\0' &&
	    (r = zt_msg_put_str(reply, ZT_F_RELOAD_ERROR,
	    ztd->reload_error)) < 0)
		return r;
	{
		char fleet[512];

		if (fleet_status_text(ztd, fleet, sizeof(fleet)) &&
		    (r = zt_msg_put_str(reply, ZT_F_FLEET, fleet)) < 0)
			return r;
	}
	return put_learned_count(ztd, reply);
}

static int
answer_reload(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct client *c = rq->client;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	int r;

	zt_log(LOG_NOTICE, "reload requested by uid %u pid %d",
	    (unsigned)c->uid, (int)c->pid);
	if ((r = ztd_reload(ztd)) < 0) {
		/* A file that cannot be read is as bad a file as one that
		 * does not parse: ztctl reload exits 1 (systemctl reload
		 * fails) for both, as ztd's start exits 1 for both. */
		zt_msg_error(reply, request->request_id,
		    r == ZT_E_UNSAFE || r == -ENOMEM ? r : ZT_E_CONFIG,
		    ztd->reload_error);
		return 0;
	}
	if ((r = zt_msg_init(reply, ZT_MSG_RELOAD_REPLY,
	    request->request_id)) < 0 ||
	    (r = zt_msg_put_u64(reply, ZT_F_GENERATION, ztd->generation)) < 0)
		return r;
	return 0;
}

/*
 * AUDIT_REOPEN (ztctl audit reopen, logrotate's postrotate): a new audit
 * file at the configured path, its first record chained to the old one's
 * last.  A failure keeps the old file in use and says why.
 */
static int
answer_audit_reopen(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct client *c = rq->client;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	char why[96], error[512];
	int r;

	snprintf(why, sizeof(why), "ztctl audit reopen by uid %u pid %d",
	    (unsigned)c->uid, (int)c->pid);
	if ((r = audit_reopen(ztd->audit, why, error, sizeof(error))) < 0) {
		zt_log(LOG_ERR, "audit: reopen failed: %s", error);
		zt_msg_error(reply, request->request_id, r, error);
		return 0;
	}
	if ((r = zt_msg_init(reply, ZT_MSG_AUDIT_REOPEN_REPLY,
	    request->request_id)) < 0 ||
	    (r = zt_msg_put_u64(reply, ZT_F_AUDIT_SEQ,
	    audit_last_seq(ztd->audit))) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_TEXT,
	    audit_path(ztd->audit))) < 0)
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
	if (d->decision == DECISION_ALLOW && d->tunnel &&
	    ((r = zt_msg_put_u32(reply, ZT_F_TUNNEL, 1)) < 0 ||
	    (d->server_name != NULL && (r = zt_msg_put_str(reply,
	    ZT_F_SERVER_NAME, d->server_name)) < 0) ||
	    (d->ca != NULL && (r = zt_msg_put_str(reply, ZT_F_CA,
	    d->ca)) < 0)))
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

/*
 * The user name of UID, from the passwd database, into NAME (33 bytes):
 * 0, -ENOENT when the database has no such uid (or a name too long to be
 * an agent's), or another negative errno when it could not say (a lookup
 * that failed: out of memory, a directory service down).
 */
static int
account_of_uid(uid_t uid, char name[33])
{
	struct passwd pw, *found = NULL;
	char buf[4096];
	int e = getpwuid_r(uid, &pw, buf, sizeof(buf), &found);

	if (found == NULL)
		return e == 0 || e == ENOENT || e == ESRCH || e == EBADF ||
		    e == EPERM ? -ENOENT : -e;
	if (strlen(pw.pw_name) > 32)
		return -ENOENT;
	snprintf(name, 33, "%s", pw.pw_name);
	return 0;
}

/* What agent_of_uid looks for among the other names of a uid. */
struct uid_agent {
	const struct ztd_config *config;
	const struct agent *agent;
	char *account;
};

static bool
names_agent(const char *name, gid_t gid, void *arg)
{
	struct uid_agent *u = arg;

	(void)gid;
	if (strlen(name) > 32 ||
	    (u->agent = agent_of_account(u->config, name)) == NULL)
		return false;
	snprintf(u->account, 33, "%s", name);
	return true;
}

/*
 * The agent whose account UID is into *AGENT (NULL: definitely none), its
 * account name into ACCOUNT (33 bytes); 0, or a negative errno when that
 * cannot be told (a lookup failed): never "no agent" on an error, which
 * pam_zt would let through.  Agents are matched by uid: the name the
 * passwd database gives UID first, else any other name /etc/passwd has
 * for it (one uid, several lines: to the kernel, and to the session PAM
 * opens, they are one account; a name listed before the agent's must not
 * make the uid no agent's).
 */
static int
agent_of_uid(const struct ztd_config *c, uid_t uid, char account[33],
    const struct agent **agent)
{
	struct uid_agent u = { .config = c, .account = account };
	int r, first;

	*agent = NULL;
	if ((first = account_of_uid(uid, account)) == 0 &&
	    (*agent = agent_of_account(c, account)) != NULL)
		return 0;
	if ((r = zt_passwd_uid_each(ZT_PASSWD_FILE, uid, names_agent,
	    &u)) < 0)
		return r;
	*agent = u.agent;
	return r == 0 && first < 0 && first != -ENOENT ? first : 0;
}

/* An exec's arguments (ZT_F_ARGV, and FLAGS' ZT_DECIDE_ARGV_CUT) into S,
 * for decide() to check and audit. */
static void
subject_argv(const struct zt_msg *request, struct subject *s)
{
	const void *argv;
	uint32_t flags = 0;
	size_t len;

	if (zt_msg_get_bytes(request, ZT_F_ARGV, &argv, &len) < 0)
		return;
	zt_msg_get_u32(request, ZT_F_FLAGS, &flags);
	s->argv = argv;
	s->argv_len = len;
	s->argv_cut = (flags & ZT_DECIDE_ARGV_CUT) != 0;
}

static int
answer_check(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct client *c = rq->client;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	const char *agent_name, *object, *account = NULL, *grant_id = NULL;
	struct subject s = { .uid = c->uid, .pid = c->pid };
	struct decision d = { .decision = DECISION_DENY };
	enum action action = get_action(request);

	zt_msg_get_str(request, ZT_F_AGENT, &agent_name);
	zt_msg_get_str(request, ZT_F_OBJECT, &object);
	if (zt_msg_get_str(request, ZT_F_ACCOUNT, &account) < 0)
		account = NULL;
	if (zt_msg_get_str(request, ZT_F_GRANT, &grant_id) < 0)
		grant_id = NULL;
	subject_argv(request, &s);
	s.agent = config_find_agent(ztd->config, agent_name);
	if (s.agent == NULL) {
		/* A dry run naming no agent is the asker's mistake, not a
		 * decision: an error, so that ztctl exits 2, not 1. */
		snprintf(d.reason, sizeof(d.reason), "no agent named %.64s in "
		    "the policy", agent_name);
		zt_msg_error(reply, request->request_id, ZT_E_UNKNOWN,
		    d.reason);
		return 0;
	}
	if (action == ACTION_NONE)
		snprintf(d.reason, sizeof(d.reason), "unknown action");
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
		decide(ztd, rq->resume_ticket, &s, action, object, true, &d);
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

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

/*
 * Is PID a process of GRANT's agent: traced by the grant's supervisor
 * (zt-exec traces every process of its agent's tree), alive from before
 * the check to after it (a pidfd: a pid reused meanwhile fails)?
 */
static bool
acts_for(const struct grant *grant, pid_t pid)
{
	pid_t tracer = 0;
	int pidfd;
	bool ok;

	if (pid <= 1 || grant->supervisor_pid <= 0)
		return false;
	/* PID may be a thread (a notification names the thread). */
	if ((pidfd = (int)syscall(SYS_pidfd_open, pid, PIDFD_THREAD)) < 0 &&
	    (pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0)
		return false;
	ok = zt_proc_tracer(pid, &tracer) == 0 &&
	    tracer == grant->supervisor_pid &&
	    syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
	close(pidfd);
	return ok;
}

/*
 * The token of G's cacheable allow of ACTION on OBJECT for TTL_MS
 * (grant, ACTION, the canonical OBJECT into CANONICAL, the
 * CLOCK_BOOTTIME ms it ends into *UNTIL), so that each hit its supervisor
 * reports can be checked (token.h).  0, or < 0 (logged): the supervisor
 * then does not cache the allow; a MAC that cannot be made only costs
 * round trips.
 */
static int
make_token(struct ztd *ztd, const struct grant *g, enum action action,
    const char *object, uint32_t ttl_ms, struct policy_object *canonical,
    uint8_t token[ZT_TOKEN_SIZE], int64_t *until)
{
	char why[POLICY_REASON_MAX];
	int r;

	*until = ztd_now_ms() + ttl_ms;
	if ((r = policy_parse_object(action, object, canonical, why)) < 0 ||
	    (r = token_make(ztd->token, g->id, (uint32_t)action,
	    canonical->text, *until, token)) < 0)
		zt_log(LOG_WARNING, "grant %s: no cache token for a %s allow: "
		    "%s", g->id, policy_action_name(action), zt_strerror(r));
	return r;
}

/* Into REPLY, the token of G's cacheable allow (make_token) and its end. */
static void
put_token(struct ztd *ztd, struct zt_msg *reply, const struct grant *g,
    enum action action, const char *object, uint32_t ttl_ms)
{
	struct policy_object canonical;
	uint8_t token[ZT_TOKEN_SIZE];
	int64_t until;

	if (make_token(ztd, g, action, object, ttl_ms, &canonical, token,
	    &until) == 0 && (zt_msg_put_bytes(reply, ZT_F_TOKEN, token,
	    sizeof(token)) < 0 || zt_msg_put_u64(reply, ZT_F_CACHE_UNTIL,
	    (uint64_t)until) < 0))
		zt_log(LOG_WARNING, "grant %s: no room for a cache token",
		    g->id);
}

/* Does some host rule of A name NAME?  With PRIVATE_OK, one that says
 * private = true. */
static bool
host_rule_names(const struct agent *a, const char *name, bool private_ok)
{
	for (size_t i = 0; i < a->n_network; i++)
		if (policy_host_matches(&a->network[i], name) &&
		    (!private_ok || a->network[i].private_ok))
			return true;
	return false;
}

/* Does LEARN keep the addresses NAME owns in an answer, a name of a chain
 * it keeps (kept_chain)? */
static bool
learn_keeps(const struct agent *a, const char *name)
{
	return policy_is_host_name(name) && host_rule_names(a, name, false);
}

/*
 * ZT_RESOLVE_* of A's allow of the question OBJECT ("dns:NAME"): what
 * LEARN will keep of the addresses NAME itself owns in its answer
 * (learn_answer), told with the allow so that the grant's resolver gives
 * the agent only those, without waiting for LEARN's reply.
 */
static uint32_t
resolve_flags(const struct agent *a, const char *object)
{
	if (strncmp(object, "dns:", 4) != 0 || !learn_keeps(a, object + 4))
		return 0;
	return ZT_RESOLVE_NAMED | (host_rule_names(a, object + 4, true) ?
	    ZT_RESOLVE_PRIVATE : 0);
}

/*
 * DECIDE: on a grant's behalf only from the grant's supervisor (the very
 * process that holds it, whatever connection it uses); without a grant, a
 * process may ask only about itself, recognised from the kernel's facts.
 */
static int
answer_decide(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct client *c = rq->client;
	const struct zt_msg *request = rq->msg;
	int passed_fd = rq->passed_fd;
	struct zt_msg *reply = rq->reply;
	struct subject s = peer_subject(rq);
	struct decision d = { .decision = DECISION_DENY };
	enum action action = get_action(request);
	const char *object, *grant_id;
	char account[33], why[IDENTITY_REASON_MAX];
	uint32_t actor;
	int r;

	zt_msg_get_str(request, ZT_F_OBJECT, &object);
	subject_argv(request, &s);
	if (action == ACTION_NONE) {
		snprintf(d.reason, sizeof(d.reason), "unknown action");
		return put_decision(reply, request->request_id, &d, NULL);
	}
	if (zt_msg_get_str(request, ZT_F_GRANT, &grant_id) == 0) {
		s.grant = own_grant(rq, grant_id);
		if (s.grant == NULL || (s.agent = config_find_agent(ztd->config,
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
			if (zt_msg_get_u32(request, ZT_F_PID, &actor) == 0)
				s.pid = (pid_t)actor;
			decide_audit(ztd, &s, policy_action_name(action),
			    object, &d, -1);
			return put_decision(reply, request->request_id, &d,
			    s.grant);
		}
		/* The acting process it names must be of its grant: traced
		 * by it (zt-exec traces its agent's whole tree), checked
		 * through a pidfd so that a reused pid does not pass. */
		if (zt_msg_get_u32(request, ZT_F_PID, &actor) == 0) {
			if (!acts_for(s.grant, (pid_t)actor)) {
				snprintf(d.reason, sizeof(d.reason), "the "
				    "acting process %u named is not one of "
				    "this grant's (not traced by its "
				    "supervisor)", actor);
				decide_audit(ztd, &s,
				    policy_action_name(action), object, &d,
				    -1);
				return put_decision(reply,
				    request->request_id, &d, s.grant);
			}
			s.pid = (pid_t)actor;
		}
		decide(ztd, rq->resume_ticket, &s, action, object, false, &d);
		if (d.wait_ticket != 0)
			return wait_for_attestation(rq, d.wait_ticket);
		r = put_decision(reply, request->request_id, &d, s.grant);
		if (r == 0 && d.decision == DECISION_ALLOW &&
		    action == ACTION_RESOLVE)
			r = zt_msg_put_u32(reply, ZT_F_FLAGS,
			    resolve_flags(s.agent, object));
		if (r == 0 && d.decision == DECISION_ALLOW && d.ttl_ms > 0)
			put_token(ztd, reply, s.grant, action, object,
			    d.ttl_ms);
		if (d.violation && s.agent->on_violation == VIOLATION_KILL)
			grant_end(ztd, s.grant, "violation: on_violation = "
			    "kill", true);
		return r;
	}
	if (c->pidfd < 0)
		return ZT_E_NOT_AGENT;
	if ((r = agent_of_uid(ztd->config, c->uid, account, &s.agent)) < 0)
		return r;
	if (s.agent == NULL)
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
	decide(ztd, rq->resume_ticket, &s, action, object, false, &d);
	if (d.wait_ticket != 0)
		return wait_for_attestation(rq, d.wait_ticket);
	return put_decision(reply, request->request_id, &d, NULL);
}

/*
 * SESSION_OPEN, from a PAM stack (a root process): the account named by
 * UID must be an agent's, allowed this service, its binary on disk still
 * recognised, the host attested recently; then a grant supervised by the
 * asking process.
 */
static int
answer_session_open(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct client *c = rq->client;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
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
	if ((r = agent_of_uid(ztd->config, s.uid, account, &s.agent)) < 0)
		return r;
	if (s.agent == NULL)
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
		decide(ztd, rq->resume_ticket, &s, ACTION_SESSION, service,
		    false, &d);
		if (d.wait_ticket != 0)
			return wait_for_attestation(rq, d.wait_ticket);
	}
	if (d.decision == DECISION_ALLOW && !(flags & ZT_SESSION_CHECK_ONLY)) {
		r = grant_create(ztd, s.agent, account, s.uid, service, c->pid,
		    c->pidfd, &g);
		if (r < 0) {
			d.decision = DECISION_DENY;
			snprintf(d.reason, sizeof(d.reason), "no grant: %s",
			    zt_strerror(r));
		} else {
			zt_log(LOG_NOTICE, "grant %s: agent %s account %s "
			    "service %s supervisor pid %d, %u s", g->id,
			    g->agent, g->account, g->service, (int)c->pid,
			    s.agent->session_ttl);
		}
	}
	return put_decision(reply, request->request_id, &d, g);
}

static int
answer_session_close(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct client *c = rq->client;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	struct decision d = { .decision = DECISION_DENY };
	const char *grant_id;
	struct grant *g;

	zt_msg_get_str(request, ZT_F_GRANT, &grant_id);
	g = grant_find(ztd, grant_id);
	if (g == NULL)
		snprintf(d.reason, sizeof(d.reason), "no live grant %.32s",
		    grant_id);
	else if (!is_admin(c) && own_grant(rq, grant_id) != g)
		return ZT_E_PERM;
	else {
		/* The reply tells the asker: no event on its connection as
		 * well (the supervisor's other connections get theirs). */
		ztd->server.told = c;
		ztd->server.told_grant = g->id;
		grant_end(ztd, g, "session closed", false);
		ztd->server.told = NULL;
		ztd->server.told_grant = NULL;
		d.decision = DECISION_ALLOW;
		snprintf(d.reason, sizeof(d.reason), "grant ended");
	}
	return put_decision(reply, request->request_id, &d, NULL);
}

/* Is PID a descendant of ANCESTOR (by /proc's parent links, bounded)? */
static bool
descends_from(pid_t pid, pid_t ancestor)
{
	for (int depth = 0; depth < 64 && pid > 1; depth++) {
		pid_t ppid;

		if (zt_proc_ppid(pid, &ppid) < 0)
			return false;
		if (ppid == ancestor)
			return true;
		pid = ppid;
	}
	return false;
}

/*
 * LAUNCH, from zt-exec running as an agent's account: the command must be
 * the agent's binary, recognised on disk now, and the host attested as for
 * a session.  Without GRANT it is a session through the service "zt-exec",
 * which the agent's pam_services must list.  With GRANT (ZT_GRANT of a PAM
 * session) that grant must be live, of the caller's uid and agent, and the
 * caller a descendant of the grant's supervisor; the new grant lives under
 * it and ends with it.  Either way the grant is supervised by the caller.
 */
static int
answer_launch(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct client *c = rq->client;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	struct subject s = peer_subject(rq);
	struct decision d = { .decision = DECISION_DENY };
	const char *command, *wanted = NULL, *parent_id = NULL;
	const char *service = "zt-exec";
	char account[33], why[IDENTITY_REASON_MAX];
	uint8_t digest[32];
	struct grant *parent = NULL, *g = NULL;
	unsigned held = 0;
	int r;

	zt_msg_get_str(request, ZT_F_OBJECT, &command);
	zt_msg_get_str(request, ZT_F_AGENT, &wanted);
	zt_msg_get_str(request, ZT_F_GRANT, &parent_id);
	if (c->pidfd < 0)
		return ZT_E_NOT_AGENT;
	if ((r = agent_of_uid(ztd->config, c->uid, account, &s.agent)) < 0)
		return r;
	if (s.agent == NULL)
		return ZT_E_NOT_AGENT;
	s.account = account;
	if (wanted != NULL && strcmp(wanted, s.agent->name) != 0) {
		snprintf(d.reason, sizeof(d.reason), "account %s belongs to "
		    "agent %s, not %.64s", account, s.agent->name, wanted);
		goto denied;
	}
	if (strcmp(command, s.agent->binary) != 0) {
		snprintf(d.reason, sizeof(d.reason), "the command is not "
		    "agent %s's binary", s.agent->name);
		goto denied;
	}
	if (parent_id != NULL) {
		parent = grant_find(ztd, parent_id);
		if (parent == NULL || parent->uid != c->uid ||
		    strcmp(parent->agent, s.agent->name) != 0 ||
		    !descends_from(c->pid, parent->supervisor_pid)) {
			snprintf(d.reason, sizeof(d.reason), "ZT_GRANT %.32s "
			    "is no live grant of this agent's session",
			    parent_id);
			goto denied;
		}
		service = parent->service;
	}
	/* The digest sent back is the one checked: of the version of the
	 * file the check read, on its one descriptor (zt-exec compares it
	 * with its own of the file it execs). */
	why[0] = '\0';
	if ((r = identity_check_file_digest(ztd->identity, ztd->config,
	    s.agent, s.agent->binary, digest, why)) < 0) {
		snprintf(d.reason, sizeof(d.reason), "identity: %s",
		    why[0] ? why : zt_strerror(r));
		goto denied;
	}
	/* Checked at load; again here, where it decides. */
	if (!policy_profile_fits(s.agent, &ztd->config->dns)) {
		snprintf(d.reason, sizeof(d.reason), "agent %s's profile does "
		    "not fit a message", s.agent->name);
		goto denied;
	}
	s.identity_proven = true;
	/* Before the decision (which audits an allow): a uid at its
	 * max_supervisors_per_uid is busy, as a full pool is, and zt-exec
	 * asks again for a while. */
	if (!server_launch_room(ztd, c->uid, &held)) {
		char busy[256];

		snprintf(busy, sizeof(busy), "agent %s account %s "
		    "supervises %u grants already (max_supervisors_per_uid "
		    "%u)", s.agent->name, account, held,
		    ztd->config->max_supervisors_per_uid);
		server_log_refusal(ztd, "launch", c->uid, c->pid, busy);
		return ZT_E_BUSY;
	}
	decide(ztd, rq->resume_ticket, &s, ACTION_SESSION, service, false,
	    &d);
	if (d.wait_ticket != 0)
		return wait_for_attestation(rq, d.wait_ticket);
	if (d.decision != DECISION_ALLOW)
		return put_decision(reply, request->request_id, &d, NULL);
	/* Room was checked in this same turn: nothing launched since.
	 * Taken before the grant is made, which moves the connection out
	 * of the uid's pending count (and would let its slot go). */
	server_launch_take(ztd, c->uid);
	if ((r = grant_create(ztd, s.agent, account, s.uid, service, c->pid,
	    c->pidfd, &g)) < 0) {
		server_launch_give(ztd, c->uid);
		snprintf(d.reason, sizeof(d.reason), "no grant: %s",
		    zt_strerror(r));
		goto denied;
	}
	g->launch_slot = true;
	if (parent != NULL)
		grant_set_parent(ztd, g, parent);
	zt_log(LOG_NOTICE, "grant %s: agent %s account %s launched by "
	    "zt-exec pid %d%s%s", g->id, g->agent, g->account, (int)c->pid,
	    parent != NULL ? " under grant " : "",
	    parent != NULL ? parent->id : "");
	if ((r = put_decision(reply, request->request_id, &d, g)) < 0 ||
	    (r = policy_put_profile(reply, s.agent, &ztd->config->dns)) < 0 ||
	    (r = zt_msg_put_bytes(reply, ZT_F_SHA256, digest,
	    sizeof(digest))) < 0) {
		grant_end(ztd, g, "launch reply could not be built", false);
		return r;
	}
	/* The profile's filter, compiled once: zt-exec builds it itself
	 * when none comes. */
	if ((rq->reply_fd = launchfilters_get(ztd->launchfilters, s.agent,
	    &ztd->config->dns, why)) < 0) {
		zt_log(LOG_WARNING, "agent %s: no compiled filter to send: %s",
		    s.agent->name, why);
		rq->reply_fd = -1;
	}
	return 0;
denied:
	decide_audit(ztd, &s, "session", service, &d, -1);
	return put_decision(reply, request->request_id, &d, NULL);
}

/*
 * Is RECORD, reported under grant G at NOW, a hit of an allow ztd made?
 * Its token must be the one ztd sent with that allow (same grant, action,
 * canonical object and end) and the hit no later than that end.  Fills
 * ACTION (ACTION_NONE when not one) and OBJECT (for the audit, as
 * reported) either way; 0, or ZT_E_PERM with WHY naming the forgery.
 */
static int
check_record(struct ztd *ztd, const struct grant *g,
    const struct zt_record *record, int64_t now, enum action *action,
    const char **object, char *why, size_t size)
{
	struct policy_object canonical;
	char error[POLICY_REASON_MAX];
	const void *token = NULL;
	uint32_t number = 0, age = 0;
	uint64_t until = 0;
	size_t token_size = 0;
	int r;

	*action = ACTION_NONE;
	*object = "";
	/* ACTION, OBJECT and AGE_MS are the record schema's to require. */
	zt_record_get_u32(record, ZT_F_ACTION, &number);
	zt_record_get_str(record, ZT_F_OBJECT, object);
	zt_record_get_u32(record, ZT_F_AGE_MS, &age);
	if (number == ACTION_NONE || number >= ACTION_MAX) {
		snprintf(why, size, "forged report: unknown action %u", number);
		return ZT_E_PERM;
	}
	*action = (enum action)number;
	if (zt_record_get_bytes(record, ZT_F_TOKEN, &token,
	    &token_size) < 0) {
		snprintf(why, size, "forged report: the record carries no "
		    "token");
		return ZT_E_PERM;
	}
	if (zt_record_get_u64(record, ZT_F_CACHE_UNTIL, &until) < 0 ||
	    until > INT64_MAX) {
		snprintf(why, size, "forged report: the record carries no "
		    "expiry");
		return ZT_E_PERM;
	}
	if (policy_parse_object(*action, *object, &canonical, error) < 0) {
		snprintf(why, size, "forged report: the object does not "
		    "parse: %.100s", error);
		return ZT_E_PERM;
	}
	if ((r = token_check(ztd->token, g->id, number, canonical.text,
	    (int64_t)until, token, token_size)) < 0) {
		snprintf(why, size, "forged report: %s", r == ZT_E_PERM ?
		    "token does not match (not this grant's allow of this "
		    "object, or from before ztd restarted)" :
		    "token could not be verified");
		return ZT_E_PERM;
	}
	if ((int64_t)age > now - ztd->started_ms ||
	    now - (int64_t)age > (int64_t)until) {
		snprintf(why, size, "forged report: a hit %u ms ago is "
		    "outside the allow's lifetime", age);
		return ZT_E_PERM;
	}
	snprintf(why, size, "allowed from zt-exec's cache %u ms before this "
	    "report", age);
	return 0;
}

/*
 * REPORT: allows a supervisor served from its own cache, each written as
 * an audit line with cache=local.  Only the grant's supervisor may report,
 * and only hits that carry the token of the allow they served: any other
 * record is refused and audited as a forgery attempt, never as an allow.
 */
static int
answer_report(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct client *c = rq->client;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	struct subject s = { .uid = c->uid, .pid = c->pid };
	struct zt_record records, record;
	const char *grant_id;
	size_t cursor = 0;
	uint32_t written = 0, forged = 0, lost = 0, flags = 0;
	int64_t now = ztd_now_ms();
	bool ended = false;
	int r;

	zt_msg_get_str(request, ZT_F_GRANT, &grant_id);
	/* Hits its supervisor served before it read the grant's end are
	 * reported after it: still audited, by what ztd kept of it. */
	if ((s.grant = own_grant(rq, grant_id)) == NULL) {
		if ((s.grant = grant_find_ended(ztd, grant_id)) == NULL ||
		    s.grant->supervisor_pid != c->pid)
			return ZT_E_PERM;
		ended = true;
	}
	s.agent = config_find_agent(ztd->config, s.grant->agent);
	s.account = s.grant->account;
	s.uid = s.grant->uid;
	if (zt_msg_get_record(request, ZT_F_RECORDS, &records) < 0)
		return ZT_E_PROTOCOL;
	while (zt_record_next(&records, ZT_F_RECORD, &cursor, &record) == 0) {
		struct decision d = { .decision = DECISION_DENY,
		    .local = true };
		enum action action;
		const char *object;
		uint32_t actor;

		/* The process zt-exec served, as the kernel's notification
		 * named it (it may have exited since); else zt-exec's. */
		s.pid = zt_record_get_u32(&record, ZT_F_PID, &actor) == 0 &&
		    actor > 0 && actor <= INT32_MAX ? (pid_t)actor : c->pid;

		if (check_record(ztd, s.grant, &record, now, &action, &object,
		    d.reason, sizeof(d.reason)) == 0) {
			size_t n = strlen(d.reason);

			if (ended)
				snprintf(d.reason + n, sizeof(d.reason) - n,
				    ", reported after the grant ended");
			d.decision = DECISION_ALLOW;
			decide_name_cached(ztd, s.grant, action, object, &d);
		} else
			forged++;
		if (lost > 0 || !decide_audit(ztd, &s, action == ACTION_NONE ?
		    "unknown" : policy_action_name(action), object, &d, -1))
			lost++;	/* syslog is stuck: do not wait on each */
		else if (d.decision == DECISION_ALLOW)
			written++;
	}
	if (forged > 0)
		server_log_peer(ztd, c, LOG_WARNING, "grant %s: %u forged "
		    "cache-hit records from pid %d refused", s.grant->id,
		    forged, (int)c->pid);
	if (lost > 0) {
		/* Its cache must stop answering: what it would serve next
		 * could not be audited either; ztd decides (and denies under
		 * audit.require) until the audit works again. */
		zt_log(LOG_ERR, "grant %s: %u cache-hit records of zt-exec "
		    "could not be audited; its cache is dropped", s.grant->id,
		    lost);
		server_push_event(ztd, c->pid, ZT_EVENT_INVALIDATE, s.grant->id,
		    "audit records could not be written");
	}
	if ((r = zt_msg_init(reply, ZT_MSG_REPORT_REPLY,
	    request->request_id)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_COUNT, written)) < 0)
		return r;
	if (zt_msg_get_u32(request, ZT_F_FLAGS, &flags) == 0 &&
	    (flags & ZT_REPORT_NO_REPLY))
		rq->no_reply = true;
	return 0;
}

static void put_allows_ahead(struct ztd *ztd, struct zt_msg *reply,
    struct grant *g);

/*
 * AGENT_PID: the agent a grant's supervisor just forked, once per grant:
 * its child still, of the grant's uid, and the leader of its own session
 * (the session is the grant's to kill).
 */
static int
answer_agent_pid(struct request *rq)
{
	const struct client *c = rq->client;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	const char *grant_id;
	struct grant *g;
	uint32_t agent_pid = 0;
	int r;

	zt_msg_get_str(request, ZT_F_GRANT, &grant_id);
	zt_msg_get_u32(request, ZT_F_PID, &agent_pid);
	if ((g = own_grant(rq, grant_id)) == NULL)
		return ZT_E_PERM;
	if (agent_pid <= 1 || agent_pid > INT_MAX || g->agent_sid != 0 ||
	    !descends_from((pid_t)agent_pid, c->pid) ||
	    getsid((pid_t)agent_pid) != (pid_t)agent_pid)
		return ZT_E_PERM;
	g->agent_sid = (pid_t)agent_pid;
	if ((r = zt_msg_init(reply, ZT_MSG_REPORT_REPLY,
	    request->request_id)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_COUNT, 1)) < 0)
		return r;
	put_allows_ahead(rq->ztd, reply, g);
	return 0;
}

/*
 * The CNAME chain of LIST (one name a line, the question first) into
 * CHAIN: how many of its names, from the first, a host rule of A names
 * (the chain is cut at the first it does not).
 */
static size_t
kept_chain(const struct agent *a, const char *list,
    char chain[ZT_ANSWERS_MAX][256], size_t max)
{
	size_t n = 0;

	while (n < max && *list != '\0') {
		size_t len = strcspn(list, "\n");

		if (len >= 256)
			break;
		memcpy(chain[n], list, len);
		chain[n][len] = '\0';
		if (!learn_keeps(a, chain[n]))
			break;
		n++;
		list += len;
		if (*list == '\n')
			list++;
	}
	return n;
}

/* One ANSWER of LEARN: remember its address for the question when its
 * owner is a name of the kept chain.  True when remembered. */
static bool
learn_answer(struct ztd *ztd, struct grant *root, const struct agent *a,
    const struct zt_record *answer, char chain[][256], size_t n_chain)
{
	const struct dns_config *dc = &ztd->config->dns;
	const char *owner;
	const void *addr;
	size_t size, k;
	uint32_t ttl_ms;
	int64_t ttl, now = ztd_now_ms();
	int family;

	zt_record_get_str(answer, ZT_F_NAME, &owner);
	zt_record_get_bytes(answer, ZT_F_ADDRESS, &addr, &size);
	zt_record_get_u32(answer, ZT_F_TTL_MS, &ttl_ms);
	if (size != 4 && size != 16)
		return false;
	family = size == 4 ? AF_INET : AF_INET6;
	for (k = 0; k < n_chain && strcmp(chain[k], owner) != 0; k++)
		;
	if (k == n_chain)
		return false;
	/* No rebinding into the host or the LAN without private = true on
	 * a rule that names the question. */
	if (zt_addr_private(family, addr) &&
	    !host_rule_names(a, chain[0], true))
		return false;
	ttl = ttl_ms / 1000;
	if (ttl < dc->min_ttl)
		ttl = dc->min_ttl;
	if (ttl > dc->max_ttl)
		ttl = dc->max_ttl;
	return learned_add(&root->learned, dc->max_entries, family, addr,
	    chain[0], now + ttl * 1000, now) == 0;
}

/*
 * A LEARN that keeps nothing: the question (allowed when asked) names no
 * host rule now, the policy having changed while it was upstream.  The
 * resolver answers it REFUSED; audited as the deny it now is.
 */
static void
learn_refused(struct request *rq, struct grant *g, const struct agent *a,
    const char *object)
{
	struct subject s = { .grant = g, .agent = a, .account = g->account,
	    .uid = g->uid, .pid = rq->client->pid };
	struct decision d = { .decision = DECISION_DENY };

	snprintf(d.reason, sizeof(d.reason), "no host rule names %.120s any "
	    "more: the policy changed while it was asked upstream",
	    object + 4);
	decide_audit(rq->ztd, &s, "resolve", object, &d, -1);
}

/*
 * One allow decided ahead (decide_ahead) for S's grant, ACTION on OBJECT,
 * into the ALLOWS record open in REPLY, with its token; false when none
 * was put (not allowed so, or no room: nothing half-written stays).
 */
static bool
put_allow_ahead(struct ztd *ztd, struct zt_msg *reply,
    const struct subject *s, enum action action, const char *object)
{
	static struct policy_object canonical;	/* 8 KiB; ztd has one thread */
	struct decision d;
	uint8_t token[ZT_TOKEN_SIZE];
	int64_t until;

	if (!decide_ahead(ztd, s, action, object, &d) ||
	    make_token(ztd, s->grant, action, object, d.ttl_ms, &canonical,
	    token, &until) < 0)
		return false;
	if (zt_msg_begin_record(reply, ZT_F_ALLOW) < 0)
		return false;
	if (zt_msg_put_u32(reply, ZT_F_ACTION, (uint32_t)action) < 0 ||
	    zt_msg_put_str(reply, ZT_F_OBJECT, canonical.text) < 0 ||
	    zt_msg_put_u32(reply, ZT_F_TTL_MS, d.ttl_ms) < 0 ||
	    zt_msg_put_bytes(reply, ZT_F_TOKEN, token, sizeof(token)) < 0 ||
	    zt_msg_put_u64(reply, ZT_F_CACHE_UNTIL, (uint64_t)until) < 0 ||
	    (action == ACTION_RESOLVE && zt_msg_put_u32(reply, ZT_F_FLAGS,
	    resolve_flags(s->agent, canonical.text)) < 0) ||
	    zt_msg_end_record(reply) < 0) {
		zt_msg_cancel_record(reply);
		return false;
	}
	return true;
}

/*
 * Into LEARN's REPLY: the connects to the addresses of ANSWERS that ztd
 * kept (KEPT, by index) for QUESTION, decided ahead on every port a host
 * rule naming QUESTION lists by itself (not a range, no tunnel), so that
 * the connect the agent makes next is served from its supervisor's cache
 * (each use audited when reported) instead of one more round trip to
 * ztd.  At most ZT_ALLOWS_MAX; none when the reply has no room.
 */
static void
put_connects_ahead(struct ztd *ztd, struct zt_msg *reply, struct grant *g,
    const struct agent *a, const char *question,
    const struct zt_record *answers, uint32_t kept)
{
	struct subject s = { .grant = g, .agent = a, .account = g->account,
	    .uid = g->uid };
	struct zt_record answer;
	size_t cursor = 0;
	unsigned n = 0;

	if (kept == 0 || zt_msg_begin_record(reply, ZT_F_ALLOWS) < 0)
		return;
	for (unsigned i = 0; i < ZT_ANSWERS_MAX && zt_record_next(answers,
	    ZT_F_ANSWER, &cursor, &answer) == 0; i++) {
		char text[INET6_ADDRSTRLEN], object[INET6_ADDRSTRLEN + 16];
		const void *addr;
		size_t size;

		if (!(kept & 1u << i) || zt_record_get_bytes(&answer,
		    ZT_F_ADDRESS, &addr, &size) < 0 ||
		    inet_ntop(size == 4 ? AF_INET : AF_INET6, addr, text,
		    sizeof(text)) == NULL)
			continue;
		for (size_t k = 0; k < a->n_network; k++) {
			const struct network_rule *rule = &a->network[k];

			if (rule->host == NULL || rule->tunnel ||
			    !policy_host_matches(rule, question))
				continue;
			for (size_t j = 0; j < rule->n_ports &&
			    n < ZT_ALLOWS_MAX; j++) {
				if (rule->ports[j].first !=
				    rule->ports[j].last)
					continue;
				snprintf(object, sizeof(object), size == 4 ?
				    "%s:%s:%u" : "%s:[%s]:%u",
				    rule->proto == PROTO_UDP ? "udp" : "tcp",
				    text, (unsigned)rule->ports[j].first);
				if (put_allow_ahead(ztd, reply, &s,
				    ACTION_CONNECT, object))
					n++;
			}
		}
	}
	if (n == 0 || zt_msg_end_record(reply) < 0)
		zt_msg_cancel_record(reply);
}

/*
 * Into AGENT_PID's REPLY, the last ztd sends G's supervisor before it
 * reads every event itself (none can be missed after it), decided ahead
 * so that the grant's first use of each is served from zt-exec's cache
 * (audited when reported) instead of one more round trip to ztd: the
 * questions for each name a host rule names exactly (no wildcard), then
 * the execs of the commands rules name (a path is exact; one with args is
 * decided on its arguments, never ahead: decide_ahead keeps only what ztd
 * would let zt-exec cache).  At most ZT_ALLOWS_MAX in all, in the order
 * of the profile; none when the reply has no room.
 */
static void
put_allows_ahead(struct ztd *ztd, struct zt_msg *reply, struct grant *g)
{
	const struct agent *a = config_find_agent(ztd->config, g->agent);
	struct subject s = { .grant = g, .agent = a, .account = g->account,
	    .uid = g->uid };
	char object[4 + 256];		/* "dns:" and a name */
	unsigned n = 0;

	if (a == NULL || zt_msg_begin_record(reply, ZT_F_ALLOWS) < 0)
		return;
	for (size_t k = 0; k < a->n_network && n < ZT_ALLOWS_MAX; k++) {
		const struct network_rule *rule = &a->network[k];

		if (rule->host == NULL || rule->wildcard)
			continue;
		snprintf(object, sizeof(object), "dns:%s", rule->host);
		if (put_allow_ahead(ztd, reply, &s, ACTION_RESOLVE, object))
			n++;
	}
	for (size_t k = 0; k < a->n_commands && n < ZT_ALLOWS_MAX; k++) {
		const struct command_rule *rule = &a->commands[k];

		if (rule->risk == RISK_LOW && rule->n_args == 0 &&
		    put_allow_ahead(ztd, reply, &s, ACTION_EXEC, rule->path))
			n++;
	}
	if (n == 0 || zt_msg_end_record(reply) < 0)
		zt_msg_cancel_record(reply);
}

/*
 * LEARN: what the grant's resolver was answered for a question ztd
 * allowed (DECIDE resolve).  Only the grant's supervisor may send it (the
 * sender's pid, from the kernel, as for REPORT); ztd trusts nothing it
 * says about the policy: every name of the chain is checked against the
 * host rules here, private answers too, and TTLs clamped.  The addresses
 * kept are the top-level grant's, shared by every zt-exec under it.
 */
static int
answer_learn(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	char chain[ZT_ANSWERS_MAX][256];
	const char *grant_id, *object, *list;
	const struct agent *a;
	struct zt_record answers, answer;
	struct grant *g, *root;
	size_t n_chain, cursor = 0;
	uint32_t kept = 0;
	int r;

	zt_msg_get_str(request, ZT_F_GRANT, &grant_id);
	zt_msg_get_str(request, ZT_F_OBJECT, &object);
	zt_msg_get_str(request, ZT_F_LIST, &list);
	if ((g = own_grant(rq, grant_id)) == NULL ||
	    (a = config_find_agent(ztd->config, g->agent)) == NULL)
		return ZT_E_PERM;
	root = grant_root(ztd, g);
	n_chain = kept_chain(a, list, chain, 8);
	/* The chain starts at the question asked. */
	if (n_chain > 0 && (strncmp(object, "dns:", 4) != 0 ||
	    strcmp(object + 4, chain[0]) != 0))
		n_chain = 0;
	if (n_chain == 0 && strncmp(object, "dns:", 4) == 0)
		learn_refused(rq, g, a, object);
	if (n_chain > 0 &&
	    zt_msg_get_record(request, ZT_F_ANSWERS, &answers) == 0)
		for (unsigned i = 0; i < ZT_ANSWERS_MAX &&
		    zt_record_next(&answers, ZT_F_ANSWER, &cursor,
		    &answer) == 0; i++)
			if (learn_answer(ztd, root, a, &answer, chain,
			    n_chain))
				kept |= 1u << i;
	if ((r = zt_msg_init(reply, ZT_MSG_REPORT_REPLY,
	    request->request_id)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_COUNT, (uint32_t)n_chain)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_FLAGS, kept)) < 0)
		return r;
	if (n_chain > 0)
		put_connects_ahead(ztd, reply, g, a, chain[0], &answers,
		    kept);
	return 0;
}

/* A CA_REPLY carrying PEM (the CA's certificate, or its CRL). */
static int
pem_reply(struct request *rq, const char *pem)
{
	int r;

	if ((r = zt_msg_init(rq->reply, ZT_MSG_CA_REPLY,
	    rq->msg->request_id)) < 0 ||
	    (r = zt_msg_put_str(rq->reply, ZT_F_TEXT, pem)) < 0)
		return r;
	return 0;
}

/* CA_SHOW: the tunnel CA certificate is public; anyone may ask. */
static int
answer_ca_show(struct request *rq)
{
	char pem[ZT_MSG_MAX - 64];
	int r;

	if ((r = ca_pem(rq->ztd->ca, pem, sizeof(pem))) < 0)
		return r;
	return pem_reply(rq, pem);
}

/*
 * SIGN: a tunnel client certificate of a grant, for the key of the CSR,
 * asked by the grant's supervisor, and only when the grant's agent has a
 * tunnel rule.  It lives ztd.cert_lifetime (at most 300 s) or what the
 * grant has left on CLOCK_BOOTTIME, whichever is shorter; zt-exec asks
 * again before it expires, for new tunnels.
 */
static int
answer_sign(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct client *c = rq->client;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	struct subject s = { .uid = c->uid, .pid = c->pid };
	struct decision d = { .decision = DECISION_DENY };
	const char *grant_id;
	const void *csr;
	char why[CA_ERROR_MAX], serial[CA_SERIAL_HEX];
	uint8_t der[CA_CERT_MAX];
	size_t csr_size, der_size;
	bool tunnel = false;
	struct grant *g;
	time_t not_after;
	int64_t left;
	unsigned lifetime;
	int r;

	zt_msg_get_str(request, ZT_F_GRANT, &grant_id);
	zt_msg_get_bytes(request, ZT_F_CSR, &csr, &csr_size);
	g = own_grant(rq, grant_id);
	if (g == NULL || (s.agent = config_find_agent(ztd->config, g->agent)) == NULL)
		return ZT_E_PERM;
	s.grant = g;
	s.account = g->account;
	for (size_t i = 0; i < s.agent->n_network; i++)
		tunnel = tunnel || s.agent->network[i].tunnel;
	left = grant_remaining_ms(g) / 1000;
	if (left > (int64_t)ztd->config->cert_lifetime)
		left = ztd->config->cert_lifetime;
	if (left > (int64_t)s.agent->session_ttl)
		left = s.agent->session_ttl;
	lifetime = left > 0 ? (unsigned)left : 0;
	if (!tunnel)
		snprintf(d.reason, sizeof(d.reason), "agent %s has no tunnel "
		    "rule: no tunnel certificate for it", s.agent->name);
	else if (lifetime == 0)
		snprintf(d.reason, sizeof(d.reason), "the grant ends within "
		    "a second: no tunnel certificate for it");
	else if ((r = ca_issue(ztd->ca, csr, csr_size, g->agent, g->id,
	    lifetime, der, &der_size, serial, &not_after, why)) < 0)
		snprintf(d.reason, sizeof(d.reason), "%.200s", why);
	else
		d.decision = DECISION_ALLOW;
	if (d.decision != DECISION_ALLOW) {
		server_log_peer(ztd, c, LOG_WARNING, "grant %s: tunnel "
		    "certificate request of agent %s refused: %s", g->id,
		    g->agent, d.reason);
		decide_audit(ztd, &s, "sign", "tunnel-certificate", &d, -1);
		zt_msg_error(reply, request->request_id, ZT_E_PERM, d.reason);
		return 0;
	}
	snprintf(g->cert_serial, sizeof(g->cert_serial), "%s", serial);
	g->cert_not_after = (int64_t)not_after;
	zt_log(LOG_NOTICE, "grant %s: tunnel certificate %s issued to agent "
	    "%s, valid %u s", g->id, serial, g->agent, lifetime);
	if ((r = zt_msg_init(reply, ZT_MSG_SIGN_REPLY,
	    request->request_id)) < 0 ||
	    (r = zt_msg_put_bytes(reply, ZT_F_CERT, der, der_size)) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_SERIAL, serial)) < 0 ||
	    (r = zt_msg_put_u64(reply, ZT_F_NOT_AFTER,
	    (uint64_t)not_after)) < 0 ||
	    (r = zt_msg_put_u64(reply, ZT_F_EXPIRES_MS,
	    (uint64_t)lifetime * 1000)) < 0)
		return r;
	return 0;
}

/*
 * CA_CRL (root): the CRL of the tunnel certificates whose grant ended
 * before they expired, for the services to check clients against.
 */
static int
answer_ca_crl(struct request *rq)
{
	char pem[ZT_MSG_MAX - 64], why[CA_ERROR_MAX];
	int r;

	if ((r = ca_crl(rq->ztd->ca, pem, sizeof(pem), why)) < 0) {
		zt_log(LOG_ERR, "%s", why);
		zt_msg_error(rq->reply, rq->msg->request_id, r, why);
		return 0;
	}
	return pem_reply(rq, pem);
}

/* One GRANT_INFO record of G in REPLY's open GRANT_LIST, leaving REPLY
 * at most LIMIT bytes; otherwise nothing of it (ZT_E_NOSPACE). */
static int
put_grant_info(struct zt_msg *reply, const struct grant *g, size_t limit)
{
	int64_t left = grant_remaining_ms(g);
	int r;

	if ((r = zt_msg_begin_record(reply, ZT_F_GRANT_INFO)) < 0)
		return r;
	if ((r = zt_msg_put_str(reply, ZT_F_GRANT, g->id)) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_AGENT, g->agent)) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_ACCOUNT, g->account)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_UID, (uint32_t)g->uid)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_PID,
	    (uint32_t)g->supervisor_pid)) < 0 ||
	    (r = zt_msg_put_u64(reply, ZT_F_EXPIRES_MS,
	    (uint64_t)(left > 0 ? left : 0))) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_SERVICE, g->service)) < 0 ||
	    (g->cert_serial[0] != '\0' &&
	    ((r = zt_msg_put_str(reply, ZT_F_SERIAL, g->cert_serial)) < 0 ||
	    (r = zt_msg_put_u64(reply, ZT_F_NOT_AFTER,
	    (uint64_t)g->cert_not_after)) < 0)) ||
	    (r = reply->size <= limit ? 0 : ZT_E_NOSPACE) < 0 ||
	    (r = zt_msg_end_record(reply)) < 0) {
		zt_msg_cancel_record(reply);
		return r;
	}
	return 0;
}

/* GRANTS: a page of live grants from OFFSET, as many as fit. */
static int
answer_grants(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	uint32_t offset = 0, index = 0, count = 0;
	struct grant *g;
	int r;

	zt_msg_get_u32(request, ZT_F_OFFSET, &offset);
	if ((r = zt_msg_init(reply, ZT_MSG_GRANTS_REPLY,
	    request->request_id)) < 0 ||
	    (r = zt_msg_begin_record(reply, ZT_F_GRANT_LIST)) < 0)
		return r;
	for (g = grant_first(ztd); g != NULL; g = grant_next(g), index++) {
		if (index < offset)
			continue;
		/* Room kept for COUNT and OFFSET, 8 bytes each. */
		if (put_grant_info(reply, g, ZT_MSG_MAX - 16) < 0)
			break;
		count++;
	}
	if ((r = zt_msg_end_record(reply)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_COUNT, count)) < 0)
		return r;
	if (g != NULL && (r = zt_msg_put_u32(reply, ZT_F_OFFSET,
	    offset + count)) < 0)
		return r;
	return 0;
}

/* A REVOKE_REPLY with COUNT. */
static int
put_count(struct zt_msg *reply, uint32_t request_id, uint32_t count)
{
	int r;

	if ((r = zt_msg_init(reply, ZT_MSG_REVOKE_REPLY, request_id)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_COUNT, count)) < 0)
		return r;
	return 0;
}

static int
answer_revoke(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct client *c = rq->client;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	const char *grant_id = NULL, *agent = NULL, *account = NULL;
	uint32_t flags = 0, count = 0;
	char why[96];
	int given = 0;

	given += zt_msg_get_str(request, ZT_F_GRANT, &grant_id) == 0;
	given += zt_msg_get_str(request, ZT_F_AGENT, &agent) == 0;
	given += zt_msg_get_str(request, ZT_F_ACCOUNT, &account) == 0;
	zt_msg_get_u32(request, ZT_F_FLAGS, &flags);
	if (given != 1)
		return ZT_E_PROTOCOL;
	snprintf(why, sizeof(why), "revoked by uid %u pid %d",
	    (unsigned)c->uid, (int)c->pid);
	count = grant_revoke(ztd, grant_id, agent, account,
	    (flags & ZT_REVOKE_KILL) != 0, why);
	if (count > 0)
		cache_invalidate(ztd->cache);
	return put_count(reply, request->request_id, count);
}

/* Audit an administrator's disable or enable of AGENT (a name ACTION of
 * the audit, decision deny for a disable, allow for an enable). */
static void
audit_disable(struct request *rq, const char *agent, bool disable,
    const char *why)
{
	const struct client *c = rq->client;
	struct subject s = { .uid = c->uid, .pid = c->pid };
	struct decision d = { .decision = disable ? DECISION_DENY :
	    DECISION_ALLOW };

	s.agent = config_find_agent(rq->ztd->config, agent);
	snprintf(d.reason, sizeof(d.reason), "%s by uid %u pid %d%s%.160s",
	    disable ? "disabled" : "enabled", (unsigned)c->uid, (int)c->pid,
	    why != NULL ? ": " : "", why != NULL ? why : "");
	decide_audit(rq->ztd, &s, disable ? "disable" : "enable", agent, &d,
	    -1);
}

/* The state file of VERB (disable, enable) on AGENT failed with R: the
 * set is unchanged, the administrator told so. */
static int
state_not_written(struct request *rq, const char *verb, const char *agent,
    int r)
{
	zt_log(LOG_ERR, "%s %s: the state file could not be written: %s",
	    verb, agent, strerror(-r));
	zt_msg_error(rq->reply, rq->msg->request_id, r, "the state file could "
	    "not be written: nothing changed");
	return 0;
}

/*
 * DISABLE (root): AGENT is denied everything from now on, across
 * restarts, its grants end and their processes are killed.  An agent the
 * policy does not hold is ZT_E_UNKNOWN (ztctl exits 2).
 */
static int
answer_disable(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	const char *agent, *why = NULL;
	char text[128];
	unsigned count;
	int r;

	zt_msg_get_str(request, ZT_F_AGENT, &agent);
	if (zt_msg_get_str(request, ZT_F_TEXT, &why) < 0)
		why = NULL;
	if (config_find_agent(ztd->config, agent) == NULL) {
		zt_msg_error(reply, request->request_id, ZT_E_UNKNOWN,
		    "no agent of that name in the policy");
		return 0;
	}
	if ((r = disabled_set(ztd->disabled, agent, why)) < 0)
		return state_not_written(rq, "disable", agent, r);
	audit_disable(rq, agent, true, disabled_reason(ztd->disabled, agent));
	snprintf(text, sizeof(text), "agent disabled by uid %u",
	    (unsigned)rq->client->uid);
	count = grant_revoke(ztd, NULL, agent, NULL, true, text);
	cache_invalidate(ztd->cache);
	zt_log(LOG_NOTICE, "agent %s disabled: %u grants ended, their "
	    "processes killed", agent, count);
	return put_count(reply, request->request_id, count);
}

/* ENABLE (root): lift a local disable; COUNT 1 when there was one. */
static int
answer_enable(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	const char *agent;
	bool was = false;
	int r;

	zt_msg_get_str(request, ZT_F_AGENT, &agent);
	if (config_find_agent(ztd->config, agent) == NULL &&
	    disabled_reason(ztd->disabled, agent) == NULL) {
		zt_msg_error(reply, request->request_id, ZT_E_UNKNOWN,
		    "no agent of that name in the policy");
		return 0;
	}
	if ((r = disabled_clear(ztd->disabled, agent, &was)) < 0)
		return state_not_written(rq, "enable", agent, r);
	if (was) {
		audit_disable(rq, agent, false, NULL);
		zt_log(LOG_NOTICE, "agent %s enabled again", agent);
	}
	return put_count(reply, request->request_id, was ? 1 : 0);
}

static int
answer_enroll_host(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct client *c = rq->client;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	struct decision d = { .decision = DECISION_DENY };
	char why[ATTEST_REASON_MAX];
	uint64_t ticket;
	int r;

	if (rq->resume_ticket == 0) {
		zt_log(LOG_NOTICE, "enroll-host requested by uid %u pid %d",
		    (unsigned)c->uid, (int)c->pid);
		attest_request_enroll(ztd->attest, &ticket);
		return wait_for_attestation(rq, ticket);
	}
	if (!attest_ready(ztd->attest, rq->resume_ticket)) {
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
answer_attest(struct request *rq)
{
	struct ztd *ztd = rq->ztd;
	const struct zt_msg *request = rq->msg;
	struct zt_msg *reply = rq->reply;
	struct decision d = { .decision = DECISION_DENY };
	struct attest_view view;
	uint32_t flags = 0;
	uint64_t ticket;
	int r;

	zt_msg_get_u32(request, ZT_F_FLAGS, &flags);
	if (rq->resume_ticket == 0) {
		if (flags & ZT_ATTEST_EXPORT)
			attest_request_export(ztd->attest, &ticket);
		else
			attest_request(ztd->attest, &ticket);
		return wait_for_attestation(rq, ticket);
	}
	attest_get_view(ztd->attest, &view);
	if (!attest_ready(ztd->attest, rq->resume_ticket))
		snprintf(d.reason, sizeof(d.reason), "no measurement within "
		    "%d ms", ATTEST_WAIT_MS);
	else if (!view.trusted)
		snprintf(d.reason, sizeof(d.reason), "host untrusted: %.170s",
		    view.reason);
	else {
		d.decision = DECISION_ALLOW;
		snprintf(d.reason, sizeof(d.reason), "host trusted (%s)%s%s",
		    attest_name(ztd->attest), view.nothing_measured ?
		    ": " : "", view.nothing_measured ?
		    ATTEST_NOTHING_MEASURED : "");
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
	/* Asked to export: where the quote is now, or why not. */
	if ((flags & ZT_ATTEST_EXPORT) && (r = zt_msg_put_str(reply,
	    ZT_F_OBJECT, view.export_seq < rq->resume_ticket ?
	    "no measurement exported" : view.exported ? "" :
	    view.export_why)) < 0)
		return r;
	return 0;
}

/* The peer classes a row permits: bits of enum client_class. */
#define P_ROOT (1u << CLIENT_ROOT)
#define P_SUPERVISOR (1u << CLIENT_SUPERVISOR)
#define P_OTHER (1u << CLIENT_OTHER)
#define P_ANY (P_ROOT | P_SUPERVISOR | P_OTHER)

/* Properties of a request type. */
#define TAKES_FD 1u		/* may come with a descriptor (SCM_RIGHTS) */
#define MAY_WAIT 2u		/* may wait for an attestation */

/*
 * Who may ask what.  PERMIT: the classes that may send the type;
 * ON_GRANT: the classes that may send it naming a grant (ZT_F_GRANT),
 * where that is narrower.  Supervisors are connections of
 * supervisor_group (the setgid zt-exec); root includes the PAM callers,
 * whose sessions' grants they supervise.  Handlers never check the class
 * again; what they check is the request's object (this grant is this
 * caller's, this process is of this grant).
 */
static const struct {
	int (*answer)(struct request *rq);
	unsigned permit, on_grant;
	unsigned flags;
} table[ZT_MSG_TYPE_MAX] = {
	[ZT_MSG_STATUS] = { answer_status, P_ROOT, 0, 0 },
	[ZT_MSG_RELOAD] = { answer_reload, P_ROOT, 0, 0 },
	[ZT_MSG_CHECK] = { answer_check, P_ROOT, 0, 0 },
	[ZT_MSG_DECIDE] = { answer_decide, P_ANY, P_ROOT | P_SUPERVISOR,
	    TAKES_FD | MAY_WAIT },
	[ZT_MSG_SESSION_OPEN] = { answer_session_open, P_ROOT, 0, MAY_WAIT },
	[ZT_MSG_SESSION_CLOSE] = { answer_session_close,
	    P_ROOT | P_SUPERVISOR, 0, 0 },
	[ZT_MSG_GRANTS] = { answer_grants, P_ROOT, 0, 0 },
	[ZT_MSG_REVOKE] = { answer_revoke, P_ROOT, 0, 0 },
	[ZT_MSG_ENROLL_HOST] = { answer_enroll_host, P_ROOT, 0, MAY_WAIT },
	[ZT_MSG_ATTEST] = { answer_attest, P_ROOT, 0, MAY_WAIT },
	[ZT_MSG_LAUNCH] = { answer_launch, P_ROOT | P_SUPERVISOR, 0,
	    MAY_WAIT },
	[ZT_MSG_REPORT] = { answer_report, P_ROOT | P_SUPERVISOR, 0, 0 },
	[ZT_MSG_CA_SHOW] = { answer_ca_show, P_ANY, 0, 0 },
	[ZT_MSG_SIGN] = { answer_sign, P_ROOT | P_SUPERVISOR, 0, 0 },
	[ZT_MSG_AGENT_PID] = { answer_agent_pid, P_ROOT | P_SUPERVISOR, 0,
	    0 },
	[ZT_MSG_CA_CRL] = { answer_ca_crl, P_ROOT, 0, 0 },
	[ZT_MSG_AUDIT_REOPEN] = { answer_audit_reopen, P_ROOT, 0, 0 },
	[ZT_MSG_DISABLE] = { answer_disable, P_ROOT, 0, 0 },
	[ZT_MSG_ENABLE] = { answer_enable, P_ROOT, 0, 0 },
	[ZT_MSG_LEARN] = { answer_learn, P_ROOT | P_SUPERVISOR, 0, 0 },
};

static const char *const class_names[] = {
	[CLIENT_ROOT] = "root",
	[CLIENT_SUPERVISOR] = "supervisor",
	[CLIENT_OTHER] = "unprivileged",
};

/* Log and audit a request its sender's class may not send. */
static void
refuse_class(struct request *rq, bool on_grant)
{
	const struct client *c = rq->client;
	const char *type = zt_msg_type_name(rq->msg->type);
	struct subject s = peer_subject(rq);
	struct decision d = { .decision = DECISION_DENY };

	snprintf(d.reason, sizeof(d.reason), "a%s %s peer may not send "
	    "%s%s%s", c->class == CLIENT_OTHER ? "n" : "",
	    class_names[c->class], type, on_grant ? " naming a grant" : "",
	    table[rq->msg->type].permit & P_SUPERVISOR ? ": only a "
	    "supervisor (setgid zt-exec) or root may" : ": root only");
	server_log_peer(rq->ztd, c, LOG_NOTICE, "uid %u gid %u pid %d: %s",
	    (unsigned)c->uid, (unsigned)c->gid, (int)c->pid, d.reason);
	/* What a supervisor may send, asked by anyone else, is a forgery
	 * attempt: it goes to the audit trail as a deny. */
	if (table[rq->msg->type].permit & P_SUPERVISOR)
		decide_audit(rq->ztd, &s, "request", type, &d, -1);
}

int
requests_dispatch(struct request *rq)
{
	unsigned type = rq->msg->type, permit;
	const char *grant;
	bool on_grant;
	int r;

	if (type >= ZT_MSG_TYPE_MAX || table[type].answer == NULL)
		return ZT_E_PROTOCOL;	/* a reply type sent as a request */
	on_grant = table[type].on_grant != 0 &&
	    zt_msg_get_str(rq->msg, ZT_F_GRANT, &grant) == 0;
	permit = on_grant ? table[type].on_grant : table[type].permit;
	if (!(permit & (1u << rq->client->class))) {
		refuse_class(rq, on_grant);
		return ZT_E_PERM;
	}
	if (rq->passed_fd >= 0 && !(table[type].flags & TAKES_FD))
		return ZT_E_PROTOCOL;
	r = table[type].answer(rq);
	if (r == ZT_E_WAIT && !(table[type].flags & MAY_WAIT))
		return ZT_E_TIMEOUT;	/* cannot happen: a deny all the same */
	return r;
}

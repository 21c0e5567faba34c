/* SPDX-License-Identifier: Apache-2.0 */
/* Which peer may ask what, and the answer to each request type. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <sys/socket.h>
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
#include "digest.h"
#include "grant.h"
#include "server.h"
#include "zt_err.h"
#include "zt_exe.h"
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
	uint32_t actor;
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
			if (zt_msg_get_u32(request, ZT_F_PID, &actor) == 0)
				s.pid = (pid_t)actor;
			decide_audit(ztd, &s, policy_action_name(action),
			    object, &d, -1);
			return put_decision(reply, request->request_id, &d,
			    s.grant);
		}
		/* Its word, for the audit line only: the grant's supervisor
		 * is trusted with the grant already. */
		if (zt_msg_get_u32(request, ZT_F_PID, &actor) == 0)
			s.pid = (pid_t)actor;
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

static const char *const access_names[8] = {
	"-", "r", "w", "rw", "x", "rx", "wx", "rwx",
};

/* Append "KEY VALUE\n" to the profile; false when it does not fit or the
 * value holds a control byte (a line per entry is the format). */
static bool
profile_line(char *buf, size_t size, size_t *used, const char *key,
    const char *value)
{
	int n;

	for (const char *p = value; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	n = snprintf(buf + *used, size - *used, "%s %s\n", key, value);
	if (n < 0 || (size_t)n >= size - *used)
		return false;
	*used += (size_t)n;
	return true;
}

/*
 * The profile zt-exec enforces itself (the filter, Landlock, what to gate);
 * everything else it asks about action by action.  One "key value" per
 * line, documented in seccomp/profile.h.
 */
static int
build_profile(const struct agent *a, char *buf, size_t size)
{
	bool inet = false, inet6 = false, unix_ = false, tunnel = false;
	bool ok = true;
	char number[24];
	size_t used = 0;

	buf[0] = '\0';
	snprintf(number, sizeof(number), "%u", a->decision_ttl);
	ok = profile_line(buf, size, &used, "agent", a->name) &&
	    profile_line(buf, size, &used, "binary", a->binary) &&
	    profile_line(buf, size, &used, "on_violation",
	    a->on_violation == VIOLATION_KILL ? "kill" : "deny") &&
	    profile_line(buf, size, &used, "landlock",
	    a->landlock == LANDLOCK_OPTIONAL ? "optional" : "required") &&
	    profile_line(buf, size, &used, "decision_ttl", number) &&
	    profile_line(buf, size, &used, "files",
	    a->files_given ? "yes" : "no");
	for (size_t i = 0; ok && i < a->n_files; i++) {
		char line[PATH_MAX + 8];

		snprintf(line, sizeof(line), "%s %s",
		    access_names[a->files[i].access & 7], a->files[i].path);
		ok = profile_line(buf, size, &used, "file", line);
	}
	for (size_t i = 0; ok && i < a->n_commands; i++)
		if (a->commands[i].risk != RISK_DENY)
			ok = profile_line(buf, size, &used, "command",
			    a->commands[i].path);
	for (size_t i = 0; ok && i < a->n_syscalls_deny; i++)
		ok = profile_line(buf, size, &used, "deny",
		    a->syscalls_deny[i]);
	for (size_t i = 0; ok && i < a->n_syscalls_gate; i++)
		ok = profile_line(buf, size, &used, "gate",
		    a->syscalls_gate[i]);
	for (size_t i = 0; ok && i < a->n_env; i++)
		ok = profile_line(buf, size, &used, "env", a->env[i]);
	for (size_t i = 0; i < a->n_network; i++) {
		inet |= a->network[i].family == AF_INET;
		inet6 |= a->network[i].family == AF_INET6;
		unix_ |= a->network[i].family == 0;
		tunnel |= a->network[i].tunnel;
	}
	if (ok && tunnel)
		ok = profile_line(buf, size, &used, "tunnel", "yes");
	/* Their CA files, so that zt-exec readies the contexts at launch. */
	for (size_t i = 0; ok && i < a->n_network; i++)
		if (a->network[i].tunnel && a->network[i].ca != NULL)
			ok = profile_line(buf, size, &used, "tunnel_ca",
			    a->network[i].ca);
	if (ok && inet)
		ok = profile_line(buf, size, &used, "family", "inet");
	if (ok && inet6)
		ok = profile_line(buf, size, &used, "family", "inet6");
	if (ok && unix_)
		ok = profile_line(buf, size, &used, "family", "unix");
	return ok ? 0 : ZT_E_NOSPACE;
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
answer_launch(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd, struct zt_msg *reply)
{
	struct subject s = { .uid = c->uid, .pid = c->pid };
	struct decision d = { .decision = DECISION_DENY };
	const char *command, *wanted = NULL, *parent_id = NULL;
	const char *service = "zt-exec";
	char account[33], why[IDENTITY_REASON_MAX];
	char profile[ZT_MSG_MAX - 512];
	uint8_t digest[32], again[32];
	struct grant *parent = NULL, *g = NULL;
	int r;

	(void)passed_fd;
	zt_msg_get_str(request, ZT_F_OBJECT, &command);
	zt_msg_get_str(request, ZT_F_AGENT, &wanted);
	zt_msg_get_str(request, ZT_F_GRANT, &parent_id);
	if (c->pidfd < 0 || account_of_uid(c->uid, account) < 0 ||
	    (s.agent = agent_of_account(ztd->config, account)) == NULL)
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
	/* The digest sent back is the one checked: hashed before and after
	 * the check, and the two must agree (a swap in between shows). */
	why[0] = '\0';
	if ((r = digest_file(s.agent->binary, digest)) < 0 ||
	    (r = identity_check_file(ztd->identity, ztd->config, s.agent,
	    s.agent->binary, why)) < 0 ||
	    (r = digest_file(s.agent->binary, again)) < 0 ||
	    (r = memcmp(digest, again, sizeof(digest)) == 0 ? 0 :
	    -EAGAIN) < 0) {
		snprintf(d.reason, sizeof(d.reason), "identity: %s",
		    why[0] ? why : zt_strerror(r));
		goto denied;
	}
	if (build_profile(s.agent, profile, sizeof(profile)) < 0) {
		snprintf(d.reason, sizeof(d.reason), "agent %s's profile does "
		    "not fit a message (or holds a control byte)",
		    s.agent->name);
		goto denied;
	}
	s.identity_proven = true;
	decide(ztd, &s, ACTION_SESSION, service, false, &d);
	if (d.wait_ticket != 0)
		return wait_for_attestation(ztd, d.wait_ticket);
	if (d.decision != DECISION_ALLOW)
		return put_decision(reply, request->request_id, &d, NULL);
	if ((r = grant_create(ztd, s.agent, account, s.uid, service, c->pid,
	    c->pidfd, &g)) < 0) {
		snprintf(d.reason, sizeof(d.reason), "no grant: %s",
		    zt_strerror(r));
		goto denied;
	}
	if (parent != NULL) {
		snprintf(g->parent, sizeof(g->parent), "%s", parent->id);
		if (parent->expires_ms < g->expires_ms)
			g->expires_ms = parent->expires_ms;
	}
	if (ztd->next_expiry_ms == 0 || g->expires_ms < ztd->next_expiry_ms)
		ztd->next_expiry_ms = g->expires_ms;
	zt_log(LOG_NOTICE, "grant %s: agent %s account %s launched by "
	    "zt-exec pid %d%s%s", g->id, g->agent, g->account, (int)c->pid,
	    parent != NULL ? " under grant " : "",
	    parent != NULL ? parent->id : "");
	if ((r = put_decision(reply, request->request_id, &d, g)) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_PROFILE, profile)) < 0 ||
	    (r = zt_msg_put_bytes(reply, ZT_F_SHA256, digest,
	    sizeof(digest))) < 0) {
		grant_end(ztd, g, "launch reply could not be built", false);
		return r;
	}
	return 0;
denied:
	decide_audit(ztd, &s, "session", service, &d, -1);
	return put_decision(reply, request->request_id, &d, NULL);
}

/*
 * REPORT: allows a supervisor served from its own cache, each written as
 * an audit line with cache=local.  Only the grant's supervisor may report,
 * and only objects that parse; the records are its account of what it did,
 * audited as such.
 */
static int
answer_report(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd, struct zt_msg *reply)
{
	struct subject s = { .uid = c->uid, .pid = c->pid };
	struct decision d = { .decision = DECISION_ALLOW, .local = true };
	const char *grant_id;
	const uint8_t *p = NULL;
	size_t size = 0, at = 0;
	uint32_t written = 0, lost = 0, agent_pid;
	int r;

	(void)passed_fd;
	zt_msg_get_str(request, ZT_F_GRANT, &grant_id);
	s.grant = grant_find(ztd, grant_id);
	if (s.grant == NULL || s.grant->supervisor_pid != c->pid)
		return ZT_E_PERM;
	s.agent = config_find_agent(ztd->config, s.grant->agent);
	s.account = s.grant->account;
	s.uid = s.grant->uid;
	if (zt_msg_get_u32(request, ZT_F_PID, &agent_pid) == 0) {
		/* The agent zt-exec just forked: its child still, of the
		 * grant's uid, and the leader of its own session. */
		if (agent_pid <= 1 || s.grant->agent_sid != 0 ||
		    !descends_from((pid_t)agent_pid, c->pid) ||
		    getsid((pid_t)agent_pid) != (pid_t)agent_pid)
			return ZT_E_PERM;
		s.grant->agent_sid = (pid_t)agent_pid;
	}
	if (zt_msg_get_bytes(request, ZT_F_RECORDS, (const void **)&p,
	    &size) < 0)
		size = 0;
	while (at + 10 <= size) {
		uint32_t action = (uint32_t)p[at] << 24 |
		    (uint32_t)p[at + 1] << 16 | (uint32_t)p[at + 2] << 8 |
		    p[at + 3];
		uint32_t ago = (uint32_t)p[at + 4] << 24 |
		    (uint32_t)p[at + 5] << 16 | (uint32_t)p[at + 6] << 8 |
		    p[at + 7];
		size_t len = (size_t)p[at + 8] << 8 | p[at + 9];
		char object[POLICY_OBJECT_MAX];

		at += 10;
		if (len >= sizeof(object) || at + len > size ||
		    action == ACTION_NONE || action >= ACTION_MAX)
			return ZT_E_PROTOCOL;
		memcpy(object, p + at, len);
		object[len] = '\0';
		at += len;
		if (memchr(object, '\0', len) != NULL)
			return ZT_E_PROTOCOL;
		snprintf(d.reason, sizeof(d.reason), "allowed from zt-exec's "
		    "cache %u ms before this report", ago);
		if (lost > 0 || !decide_audit(ztd, &s,
		    policy_action_name((enum action)action), object, &d, -1))
			lost++;	/* syslog is stuck: do not wait on each */
		else
			written++;
	}
	if (at != size)
		return ZT_E_PROTOCOL;
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
	return 0;
}

/* CA_SHOW: the tunnel CA certificate is public; anyone may ask. */
static int
answer_ca_show(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd, struct zt_msg *reply)
{
	char pem[ZT_MSG_MAX - 64];
	int r;

	(void)c;
	(void)passed_fd;
	if ((r = ca_pem(ztd->ca, pem, sizeof(pem))) < 0 ||
	    (r = zt_msg_init(reply, ZT_MSG_CA_REPLY,
	    request->request_id)) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_TEXT, pem)) < 0)
		return r;
	return 0;
}

/*
 * SIGN: a tunnel client certificate of a grant, for the key of the CSR,
 * asked by the grant's supervisor, and only when the grant's agent has a
 * tunnel rule.  It lives ztd.cert_lifetime (at most 300 s) or what the
 * grant has left on CLOCK_BOOTTIME, whichever is shorter; zt-exec asks
 * again before it expires, for new tunnels.
 */
static int
answer_sign(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd, struct zt_msg *reply)
{
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

	(void)passed_fd;
	zt_msg_get_str(request, ZT_F_GRANT, &grant_id);
	zt_msg_get_bytes(request, ZT_F_CSR, &csr, &csr_size);
	g = grant_find(ztd, grant_id);
	if (g == NULL || g->supervisor_pid != c->pid ||
	    (s.agent = config_find_agent(ztd->config, g->agent)) == NULL)
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
		zt_log(LOG_WARNING, "grant %s: tunnel certificate request of "
		    "agent %s refused: %s", g->id, g->agent, d.reason);
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
answer_ca_crl(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, int passed_fd, struct zt_msg *reply)
{
	char pem[ZT_MSG_MAX - 64], why[CA_ERROR_MAX];
	int r;

	(void)c;
	(void)passed_fd;
	if ((r = ca_crl(ztd->ca, pem, sizeof(pem), why)) < 0) {
		zt_log(LOG_ERR, "%s", why);
		zt_msg_error(reply, request->request_id, r, why);
		return 0;
	}
	if ((r = zt_msg_init(reply, ZT_MSG_CA_REPLY,
	    request->request_id)) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_TEXT, pem)) < 0)
		return r;
	return 0;
}

#define GRANT_LINE_MAX 300

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
		n = snprintf(line, sizeof(line), "%s %s %s %u %d %lld %s %s "
		    "%lld\n", g->id, g->agent, g->account, (unsigned)g->uid,
		    (int)g->supervisor_pid,
		    (long long)(grant_remaining_ms(g) / 1000), g->service,
		    g->cert_serial[0] ? g->cert_serial : "-",
		    (long long)g->cert_not_after);
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
	[ZT_MSG_LAUNCH] = { answer_launch, false },
	[ZT_MSG_REPORT] = { answer_report, false },
	[ZT_MSG_CA_SHOW] = { answer_ca_show, false },
	[ZT_MSG_SIGN] = { answer_sign, false },
	[ZT_MSG_CA_CRL] = { answer_ca_crl, true },
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

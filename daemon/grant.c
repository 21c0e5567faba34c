/* SPDX-License-Identifier: Apache-2.0 */
/* Creating, finding, expiring and ending grants; telling supervisors. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ca.h"
#include "decide.h"
#include "grant.h"
#include "learned.h"
#include "zt_err.h"
#include "zt_exe.h"
#include "zt_log.h"
#include "zt_msg.h"
#include "ztd.h"

static int
new_id(char id[GRANT_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t random[GRANT_ID_LEN / 2];

	if (getrandom(random, sizeof(random), 0) != (ssize_t)sizeof(random))
		return -EIO;
	for (size_t i = 0; i < sizeof(random); i++) {
		id[2 * i] = hex[random[i] >> 4];
		id[2 * i + 1] = hex[random[i] & 15];
	}
	id[GRANT_ID_LEN] = '\0';
	return 0;
}

int
grant_create(struct ztd *ztd, const struct agent *agent, const char *account,
    uid_t uid, const char *service, pid_t supervisor_pid,
    int supervisor_pidfd, struct grant **out)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct grant *g;
	int r;

	if (grantset_count(&ztd->grants) >= GRANTS_MAX)
		return ZT_E_BUSY;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return -ENOMEM;
	g->watch.kind = WATCH_GRANT;
	if ((r = new_id(g->id)) < 0) {
		free(g);
		return r;
	}
	snprintf(g->agent, sizeof(g->agent), "%s", agent->name);
	snprintf(g->account, sizeof(g->account), "%s", account);
	snprintf(g->service, sizeof(g->service), "%s", service);
	g->uid = uid;
	g->supervisor_pid = supervisor_pid;
	g->supervisor_pidfd = fcntl(supervisor_pidfd, F_DUPFD_CLOEXEC, 3);
	if (g->supervisor_pidfd < 0) {
		r = -errno;
		free(g);
		return r;
	}
	ev.data.ptr = g;
	if (epoll_ctl(ztd->server.epoll_fd, EPOLL_CTL_ADD, g->supervisor_pidfd,
	    &ev) < 0) {
		r = -errno;
		close(g->supervisor_pidfd);
		free(g);
		return r;
	}
	g->created_ms = ztd_now_ms();
	audit_limit_init(&g->deny_limit, g->created_ms,
	    ztd->config->audit_deny_burst);
	g->expires_ms = g->created_ms + (int64_t)agent->session_ttl * 1000;
	if ((r = grantset_add(&ztd->grants, g)) < 0) {
		epoll_ctl(ztd->server.epoll_fd, EPOLL_CTL_DEL,
		    g->supervisor_pidfd, NULL);
		close(g->supervisor_pidfd);
		free(g);
		return r;
	}
	/* Its supervisor's connections are a grant's now, not pending. */
	server_supervisor_granted(ztd, supervisor_pid);
	*out = g;
	return 0;
}

int64_t
grant_remaining_ms(const struct grant *g)
{
	int64_t left = g->expires_ms - ztd_now_ms();

	return left > 0 ? left : 0;
}

/* Forget the ended grants kept longer than NOW allows (all: INT64_MAX). */
static void
prune_ended(struct ztd *ztd, int64_t now)
{
	struct grant *t;

	while ((t = grantset_soonest(&ztd->ended)) != NULL &&
	    t->expires_ms <= now) {
		grantset_remove(&ztd->ended, t);
		decide_write_held(ztd, t);
		learned_free(t->learned);
		free(t);
	}
}

/*
 * Keep what REPORT needs of G, which ends now: its supervisor may have
 * served hits of G's allows from its cache before it read the end, and
 * their records are still on their way.  The names G's resolver learned
 * go with it (the audit names them).  Without memory, not kept: such a
 * report is then refused, and logged as such.
 */
static void
keep_ended(struct ztd *ztd, struct grant *g)
{
	int64_t now = ztd_now_ms();
	const struct agent *a;
	struct grant *t;

	prune_ended(ztd, now);
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		zt_log(LOG_ERR, "grant %s: out of memory; cache hits reported "
		    "after its end will be refused", g->id);
		return;
	}
	memcpy(t->id, g->id, sizeof(t->id));
	memcpy(t->agent, g->agent, sizeof(t->agent));
	memcpy(t->account, g->account, sizeof(t->account));
	memcpy(t->service, g->service, sizeof(t->service));
	memcpy(t->parent, g->parent, sizeof(t->parent));
	t->uid = g->uid;
	t->supervisor_pid = g->supervisor_pid;
	t->supervisor_pidfd = -1;
	t->created_ms = g->created_ms;
	/* The last allow cached for it lives at most decision_ttl. */
	a = config_find_agent(ztd->config, g->agent);
	t->expires_ms = now + (a != NULL ? (int64_t)a->decision_ttl * 1000 :
	    0) + ENDED_KEPT_SLACK_MS;
	audit_limit_init(&t->deny_limit, now, ztd->config->audit_deny_burst);
	t->learned = g->learned;
	if (grantset_add(&ztd->ended, t) < 0) {
		zt_log(LOG_ERR, "grant %s: too many ended grants kept; cache "
		    "hits reported after its end will be refused", g->id);
		free(t);
		return;
	}
	g->learned = NULL;
}

struct grant *
grant_find_ended(struct ztd *ztd, const char *id)
{
	if (id == NULL || strlen(id) != GRANT_ID_LEN)
		return NULL;
	prune_ended(ztd, ztd_now_ms());
	return grantset_find(&ztd->ended, id);
}

struct grant *
grant_find(struct ztd *ztd, const char *id)
{
	struct grant *g;

	if (id == NULL || strlen(id) != GRANT_ID_LEN)
		return NULL;
	g = grantset_find(&ztd->grants, id);
	return g != NULL && grant_remaining_ms(g) > 0 ? g : NULL;
}

bool
grant_supervised_by(struct ztd *ztd, pid_t pid)
{
	return grantset_by_supervisor(&ztd->grants, pid) != NULL;
}

void
grant_set_parent(struct ztd *ztd, struct grant *child, struct grant *parent)
{
	snprintf(child->parent, sizeof(child->parent), "%s", parent->id);
	grantset_adopt(parent, child);
	if (parent->expires_ms < child->expires_ms)
		grantset_set_expiry(&ztd->grants, child, parent->expires_ms);
}

size_t
grant_count(struct ztd *ztd)
{
	return grantset_count(&ztd->grants);
}

struct grant *
grant_first(struct ztd *ztd)
{
	return grantset_first(&ztd->grants);
}

struct grant *
grant_next(struct grant *g)
{
	return grantset_next(g);
}

/* The session id of PID, from /proc/PID/stat, or -1. */
static pid_t
session_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd, sid = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) state ppid pgrp session ...": comm may hold anything. */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %*c %*d %*d %d", &sid) != 1)
		return -1;
	return sid;
}

/* PID's real uid, or -1. */
static uid_t
uid_of(pid_t pid)
{
	uid_t uid;

	return zt_proc_uid(pid, &uid) < 0 ? (uid_t)-1 : uid;
}

/* SIGKILL the supervisor, then its session's processes of the grant's uid. */
static unsigned
kill_grant(const struct grant *g)
{
	pid_t sid = g->agent_sid > 0 ? g->agent_sid :
	    session_of(g->supervisor_pid);
	unsigned killed = 0;
	struct dirent *e;
	DIR *proc;

	if (syscall(SYS_pidfd_send_signal, g->supervisor_pidfd, SIGKILL, NULL,
	    0) == 0)
		killed++;
	if (sid <= 1 || (proc = opendir("/proc")) == NULL)
		return killed;
	while ((e = readdir(proc)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		int pidfd;

		if (*end != '\0' || pid <= 1 || pid == getpid())
			continue;
		/* Through a pidfd: the process checked is the one killed. */
		pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
		if (pidfd < 0)
			continue;
		if (session_of((pid_t)pid) == sid && uid_of((pid_t)pid) == g->uid &&
		    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0)
			killed++;
		close(pidfd);
	}
	closedir(proc);
	return killed;
}

void
grant_end(struct ztd *ztd, struct grant *g, const char *why, bool kill)
{
	unsigned killed = 0, revoked;
	struct grant *c;

	/* Grants living under this one end first, with it (and theirs
	 * with them). */
	while ((c = grantset_first_child(g)) != NULL)
		grant_end(ztd, c, "its session's grant ended", kill);
	/* Denies held back from the audit are written now, whatever the
	 * rate: the count never goes with the grant. */
	decide_write_held(ztd, g);
	grantset_remove(&ztd->grants, g);
	/* Its zt-exec may run on: counted as pending before its launch is
	 * given back, so that the uid's slot stays. */
	server_supervisor_ungranted(ztd, g->supervisor_pid);
	if (g->launch_slot) {
		server_launch_give(ztd, g->uid);
		g->launch_slot = false;
	}
	keep_ended(ztd, g);
	server_push_event(ztd, g->supervisor_pid, ZT_EVENT_GRANT_ENDED, g->id,
	    why);
	if (kill)
		killed = kill_grant(g);
	zt_log(LOG_NOTICE, "grant %s (agent %s, account %s) ended: %s%s",
	    g->id, g->agent, g->account, why, kill ? " (processes killed)" : "");
	if (kill)
		zt_log(LOG_NOTICE, "grant %s: %u processes killed", g->id,
		    killed);
	/* Its certificates that outlive it go into the CRL. */
	if ((revoked = ca_grant_ended(ztd->ca, g->id)) > 0)
		zt_log(LOG_NOTICE, "grant %s (agent %s): %u unexpired tunnel "
		    "certificates revoked (ztctl ca crl)", g->id, g->agent,
		    revoked);
	/* Explicitly: the pidfd is a dup of the client's, and epoll keeps a
	 * registration while any descriptor of its file is open. */
	epoll_ctl(ztd->server.epoll_fd, EPOLL_CTL_DEL, g->supervisor_pidfd,
	    NULL);
	close(g->supervisor_pidfd);
	learned_free(g->learned);
	g->learned = NULL;
	server_bury(&ztd->server, &g->watch);
}

struct grant *
grant_root(struct ztd *ztd, struct grant *g)
{
	struct grant *up;

	/* A parent ends its children with it: a live child's is live. */
	for (int depth = 0; depth < 8 && g->parent[0] != '\0' &&
	    (up = grant_find(ztd, g->parent)) != NULL; depth++)
		g = up;
	return g;
}

int
grant_expire(struct ztd *ztd)
{
	int64_t now = ztd_now_ms(), next;
	struct grant *g;

	while ((g = grantset_soonest(&ztd->grants)) != NULL &&
	    g->expires_ms <= now)
		grant_end(ztd, g, "expired", false);
	if (g == NULL)
		return -1;
	next = g->expires_ms - now;
	return next > INT32_MAX ? INT32_MAX : (int)next;
}

/*
 * End every grant MATCH chooses (setting *KILL for grant_end).  Ending a
 * grant ends those under it, all newer than it: the one before it stays,
 * and the walk goes on after that one.
 */
static unsigned
end_matching(struct ztd *ztd,
    bool (*match)(struct ztd *ztd, const struct grant *g, const void *arg,
    bool *kill), const void *arg, const char *why)
{
	struct grant *g = grantset_first(&ztd->grants);
	unsigned count = 0;

	while (g != NULL) {
		struct grant *before;
		bool kill = false;

		if (!match(ztd, g, arg, &kill)) {
			g = grantset_next(g);
			continue;
		}
		before = grantset_prev(g);
		grant_end(ztd, g, why, kill);
		count++;
		g = before != NULL ? grantset_next(before) :
		    grantset_first(&ztd->grants);
	}
	return count;
}

struct revoke_match {
	const char *id, *agent, *account;
	bool kill;
};

static bool
revoke_matches(struct ztd *ztd, const struct grant *g, const void *arg,
    bool *kill)
{
	const struct revoke_match *m = arg;
	const struct agent *a;

	if (!((m->id != NULL && strcmp(g->id, m->id) == 0) ||
	    (m->agent != NULL && strcmp(g->agent, m->agent) == 0) ||
	    (m->account != NULL && strcmp(g->account, m->account) == 0)))
		return false;
	a = config_find_agent(ztd->config, g->agent);
	*kill = m->kill || (a != NULL && a->on_violation == VIOLATION_KILL);
	return true;
}

unsigned
grant_revoke(struct ztd *ztd, const char *id, const char *agent,
    const char *account, bool kill, const char *why)
{
	const struct revoke_match m = { id, agent, account, kill };

	return end_matching(ztd, revoke_matches, &m, why);
}

static bool
agent_unknown(struct ztd *ztd, const struct grant *g, const void *arg,
    bool *kill)
{
	(void)arg;
	*kill = false;
	return config_find_agent(ztd->config, g->agent) == NULL;
}

void
grant_end_unknown_agents(struct ztd *ztd, const char *why)
{
	end_matching(ztd, agent_unknown, NULL, why);
}

void
grant_clamp_learned(struct ztd *ztd, int64_t until)
{
	for (struct grant *g = grantset_first(&ztd->grants); g != NULL;
	    g = grantset_next(g))
		learned_clamp(g->learned, until);
	for (struct grant *g = grantset_first(&ztd->ended); g != NULL;
	    g = grantset_next(g))
		learned_clamp(g->learned, until);
}

void
grant_end_all(struct ztd *ztd, const char *why)
{
	struct grant *g;

	while ((g = grantset_first(&ztd->grants)) != NULL)
		grant_end(ztd, g, why, false);
	prune_ended(ztd, INT64_MAX);
}

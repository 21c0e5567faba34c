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
#include "grant.h"
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

	if (ztd->n_grants >= GRANTS_MAX)
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
	g->expires_ms = g->created_ms + (int64_t)agent->session_ttl * 1000;
	g->next = ztd->grants;
	if (ztd->grants != NULL)
		ztd->grants->prev = g;
	ztd->grants = g;
	ztd->n_grants++;
	*out = g;
	return 0;
}

int64_t
grant_remaining_ms(const struct grant *g)
{
	int64_t left = g->expires_ms - ztd_now_ms();

	return left > 0 ? left : 0;
}

struct grant *
grant_find(struct ztd *ztd, const char *id)
{
	if (strlen(id) != GRANT_ID_LEN)
		return NULL;
	for (struct grant *g = ztd->grants; g != NULL; g = g->next)
		if (strcmp(g->id, id) == 0)
			return grant_remaining_ms(g) > 0 ? g : NULL;
	return NULL;
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

	if (g->prev != NULL)
		g->prev->next = g->next;
	else
		ztd->grants = g->next;
	if (g->next != NULL)
		g->next->prev = g->prev;
	ztd->n_grants--;
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
	server_bury(&ztd->server, &g->watch);
	/* Grants living under this one end with it (one level: a child's
	 * own children would be found by the same walk). */
	for (struct grant *c = ztd->grants; c != NULL;) {
		if (strcmp(c->parent, g->id) == 0) {
			grant_end(ztd, c, "its session's grant ended", kill);
			c = ztd->grants;
		} else
			c = c->next;
	}
}

int
grant_expire(struct ztd *ztd)
{
	int64_t now = ztd_now_ms(), next = -1;
	struct grant *g = ztd->grants;

	while (g != NULL) {
		struct grant *after = g->next;

		if (g->expires_ms <= now)
			grant_end(ztd, g, "expired", false);
		else if (next < 0 || g->expires_ms - now < next)
			next = g->expires_ms - now;
		g = after;
	}
	return next > INT32_MAX ? INT32_MAX : (int)next;
}

void
grant_end_all(struct ztd *ztd, const char *why)
{
	while (ztd->grants != NULL)
		grant_end(ztd, ztd->grants, why, false);
}

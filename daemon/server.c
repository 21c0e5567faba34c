/* SPDX-License-Identifier: Apache-2.0 */
/* Accepting clients, learning who they are from the kernel, serving them. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attest.h"
#include "audit.h"
#include "requests.h"
#include "rundir.h"
#include "grant.h"
#include "server.h"
#include "zt_client.h"
#include "zt_err.h"
#include "zt_exe.h"
#include "zt_log.h"
#include "zt_msg.h"
#include "ztd.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76			/* Linux 6.5 */
#endif
#ifndef PID_FS_MAGIC
#define PID_FS_MAGIC 0x50494446		/* pidfs, Linux 6.9 */
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define ACCEPT_BURST 64
/* Descriptors kept for root's connections and ztd's own files beyond what
 * the supervisor and other pools can hold (two each: socket, pidfd). */
#define ROOT_RESERVE 256

/*
 * Raise the soft descriptor limit to what the pools need, so that no
 * local user filling them leaves root (PAM, ztctl) without a descriptor.
 */
static void
reserve_descriptors(unsigned max_clients)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_clients * 2 * 2 + 64 + ROOT_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want)
		zt_log(LOG_WARNING, "the descriptor limit (%llu) is below "
		    "what %u clients per pool and root's reserve need (%llu): "
		    "root may be refused when the pools are full",
		    (unsigned long long)rl.rlim_cur, max_clients,
		    (unsigned long long)want);
}

/* Serve LISTEN_FD (set in S), the socket at SOCKET_PATH. */
static int
serve_socket(struct server *s, const char *socket_path, char *error,
    size_t size)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int r, on = 1;

	/* Every message of every connection then carries its sender's
	 * credentials, from the first: an accepted socket inherits it at
	 * accept, before its connector can send one without them. */
	if (setsockopt(s->listen_fd, SOL_SOCKET, SO_PASSCRED, &on,
	    sizeof(on)) < 0) {
		r = -errno;
		snprintf(error, size, "SO_PASSCRED: %s", strerror(errno));
		server_close(s, socket_path);
		return r;
	}
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ev.data.ptr = &s->listen_watch;
	if (s->epoll_fd < 0 || s->reserve_fd < 0 ||
	    epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &ev) < 0) {
		r = -errno;
		snprintf(error, size, "epoll: %s", strerror(errno));
		server_close(s, socket_path);
		return r;
	}
	return 0;
}

static void
server_init(struct server *s, unsigned max_clients)
{
	reserve_descriptors(max_clients);
	memset(s, 0, sizeof(*s));
	s->listen_fd = s->lock_fd = s->epoll_fd = s->reserve_fd = -1;
	s->listen_watch.kind = WATCH_LISTEN;
}

static const char *const identity_names[] = {
	[IDENTITY_PIDFD] = "pidfd",
	[IDENTITY_PIDFS] = "pidfs",
};

/* PIDFD's inode in pidfs into *DEV, *INO: 0, or -1 when it has none of
 * its own (before Linux 6.9 every pidfd shares one anonymous inode). */
static int
pidfs_inode(int pidfd, dev_t *dev, ino_t *ino)
{
	struct statfs fs;
	struct stat st;

	if (fstatfs(pidfd, &fs) < 0 || fs.f_type != PID_FS_MAGIC ||
	    fstat(pidfd, &st) < 0)
		return -1;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

/*
 * The strongest identity this kernel gives, each way tried on a socket
 * pair of ztd's own: SO_PEERPIDFD names this process; with SO_PASSPIDFD a
 * message comes with its sender's pidfd (SCM_PIDFD), whose pidfs inode
 * must be SO_PEERPIDFD's.  -1 without SO_PEERPIDFD (before Linux 6.5,
 * where ztd does not start: check_kernel).
 */
static int
identity_probe(void)
{
	int best = -1;
	int pair[2], peer = -1, sender = -1, passed, on = 1;
	socklen_t len = sizeof(peer);
	dev_t peer_dev, sender_dev;
	ino_t peer_ino, sender_ino;
	struct zt_msg m, got;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
		return best;
	if (getsockopt(pair[1], SOL_SOCKET, SO_PEERPIDFD, &peer, &len) == 0 &&
	    peer >= 0) {
		best = IDENTITY_PIDFD;
		if (pidfs_inode(peer, &peer_dev, &peer_ino) == 0 &&
		    setsockopt(pair[1], SOL_SOCKET, SO_PASSPIDFD, &on,
		    sizeof(on)) == 0 &&
		    zt_msg_init(&m, ZT_MSG_STATUS, 1) == 0 &&
		    zt_msg_send(pair[0], &m) == 0 &&
		    zt_msg_recv_from(pair[1], &got, &passed, NULL,
		    &sender) == 0 && sender >= 0 &&
		    pidfs_inode(sender, &sender_dev, &sender_ino) == 0 &&
		    sender_dev == peer_dev && sender_ino == peer_ino)
			best = IDENTITY_PIDFS;
		if (sender >= 0)
			close(sender);
		close(peer);
	}
	close(pair[0]);
	close(pair[1]);
	return best;
}

/*
 * Choose once how messages are tied to their connection's connector: the
 * strongest way the kernel has, or a weaker one ZTD_TEST_IDENTITY names
 * (for tests: the older kernels' ways on this one).  Logs which.
 */
static int
identity_setup(struct server *s, char *error, size_t size)
{
	static const char *const how[] = {
		[IDENTITY_PIDFD] = "the connector's pidfd (SO_PEERPIDFD), no "
		    "pidfs (Linux 6.9): once a connector exited, its "
		    "connection's messages are refused",
		[IDENTITY_PIDFS] = "the connector's pidfd (SO_PEERPIDFD); "
		    "once it exited, each message's sender by its pidfd "
		    "(SCM_PIDFD) and pidfs inode",
	};
	const char *forced = getenv("ZTD_TEST_IDENTITY");
	int probed = identity_probe();
	enum server_identity best = (enum server_identity)probed, chosen;

	if (probed < 0) {
		snprintf(error, size, "the kernel gives no connector's pidfd "
		    "(SO_PEERPIDFD, Linux 6.5): connections cannot be tied "
		    "to their processes");
		return -ENOSYS;
	}
	chosen = best;
	if (forced != NULL) {
		for (chosen = IDENTITY_PIDFD; chosen < best &&
		    strcmp(forced, identity_names[chosen]) != 0; chosen++)
			;
		if (strcmp(forced, identity_names[chosen]) != 0) {
			snprintf(error, size, "ZTD_TEST_IDENTITY=%s: not a "
			    "way this kernel has (%s at most)", forced,
			    identity_names[best]);
			return -EINVAL;
		}
	}
	s->identity = chosen;
	zt_log(chosen == IDENTITY_PIDFS ? LOG_INFO : LOG_WARNING,
	    "connection identity: %s, %s%s%s",
	    identity_names[chosen], how[chosen],
	    chosen != best ? "; chosen by ZTD_TEST_IDENTITY, the kernel has "
	    : "", chosen != best ? identity_names[best] : "");
	return 0;
}

int
server_open(struct server *s, const char *socket_path, unsigned max_clients,
    char *error, size_t size)
{
	int r;

	server_init(s, max_clients);
	if ((r = identity_setup(s, error, size)) < 0)
		return r;
	if ((r = rundir_listen(socket_path, &s->listen_fd, &s->lock_fd, error,
	    size)) < 0)
		return r;
	return serve_socket(s, socket_path, error, size);
}

int
server_adopt(struct server *s, const char *socket_path, int listen_fd,
    unsigned max_clients, char *error, size_t size)
{
	int r;

	server_init(s, max_clients);
	s->listen_fd = listen_fd;
	s->adopted = true;
	if ((r = identity_setup(s, error, size)) < 0)
		return r;
	/* Listening already: this sets the backlog, shallow as ours. */
	if (rundir_backlog(listen_fd) < 0)
		zt_log(LOG_WARNING, "%s: listen: %s: the backlog stays as "
		    "systemd made it", socket_path, strerror(errno));
	return serve_socket(s, socket_path, error, size);
}

static void
unlink_client(struct server *s, struct client *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		s->tail = c->prev;
	c->prev = c->next = NULL;
}

/*
 * Every client gets the same idle timeout, so appending keeps the list in
 * deadline order.  (After a reload that shortens the timeout, a client
 * behind an older one may be closed up to the old timeout late.)
 */
static void
touch_client(struct ztd *ztd, struct client *c)
{
	struct server *s = &ztd->server;

	if (s->head == c || c->prev != NULL)
		unlink_client(s, c);
	c->deadline_ms = ztd_now_ms() + ztd->config->idle_timeout * 1000LL;
	c->prev = s->tail;
	if (s->tail != NULL)
		s->tail->next = c;
	else
		s->head = c;
	s->tail = c;
}

void
server_bury(struct server *s, struct watch *w)
{
	w->dead = true;
	w->next_buried = s->buried;
	s->buried = w;
}

void
server_free_buried(struct server *s)
{
	while (s->buried != NULL) {
		struct watch *w = s->buried;

		s->buried = w->next_buried;
		free(w);
	}
}

/* The slot counts of UID (created at 0 when ADD), or NULL. */
static struct uid_count *
uid_slot(struct server *s, uid_t uid, bool add)
{
	struct uid_count *u;

	for (size_t i = 0; i < s->n_uids; i++)
		if (s->uids[i].uid == uid)
			return &s->uids[i];
	if (!add)
		return NULL;
	if (s->n_uids == s->cap_uids) {
		size_t cap = s->cap_uids ? 2 * s->cap_uids : 16;

		u = realloc(s->uids, cap * sizeof(*u));
		if (u == NULL)
			return NULL;
		s->uids = u;
		s->cap_uids = cap;
	}
	u = &s->uids[s->n_uids++];
	u->uid = uid;
	u->count = 0;
	u->pending = 0;
	u->launched = 0;
	return u;
}

/* U (of S's table) goes once it counts nothing. */
static void
drop_if_empty(struct server *s, struct uid_count *u)
{
	if (u->count == 0 && u->pending == 0 && u->launched == 0)
		*u = s->uids[--s->n_uids];
}

/* C leaves its uid's counts (NULL-safe for a uid with none). */
static void
release_uid(struct server *s, const struct client *c)
{
	struct uid_count *u = uid_slot(s, c->uid, false);

	if (u == NULL)
		return;
	if (c->pending)
		u->pending--;
	else
		u->count--;
	drop_if_empty(s, u);
}

bool
server_launch_room(struct ztd *ztd, uid_t uid, unsigned *held)
{
	/* Made here, so that server_launch_take cannot fail. */
	struct uid_count *u = uid_slot(&ztd->server, uid, true);

	*held = u != NULL ? u->launched : 0;
	return u != NULL && u->launched < ztd->config->max_supervisors_per_uid;
}

void
server_launch_take(struct ztd *ztd, uid_t uid)
{
	struct uid_count *u = uid_slot(&ztd->server, uid, false);

	if (u != NULL)
		u->launched++;
}

void
server_launch_give(struct ztd *ztd, uid_t uid)
{
	struct server *s = &ztd->server;
	struct uid_count *u = uid_slot(s, uid, false);

	if (u == NULL || u->launched == 0)
		return;
	u->launched--;
	drop_if_empty(s, u);
}

/* Give back C's slot in its pool. */
static void
release_slot(struct server *s, const struct client *c)
{
	s->n_class[c->class]--;
	if (c->class == CLIENT_OTHER || c->pending)
		release_uid(s, c);
}

void
server_supervisor_granted(struct ztd *ztd, pid_t pid)
{
	struct server *s = &ztd->server;

	for (struct client *c = s->head; c != NULL; c = c->next)
		if (c->pid == pid && c->pending && !c->watch.dead) {
			release_uid(s, c);
			c->pending = false;
		}
}

/*
 * May a connection of CLASS and UID, from process PID, take a slot?  Root
 * always may (its descriptors are reserved: see server_open); a
 * supervisor while fewer than max_clients supervisors are connected and,
 * unless PID supervises a grant already, while its uid holds fewer than
 * max_clients_per_uid supervisors' connections that supervise none (any
 * local uid can run the setgid zt-exec: the ones no agent's, or not let
 * through, must not fill the pool and lock agents' launches out); anyone
 * else while its uid holds fewer than max_clients_per_uid and all of them
 * fewer than max_clients.  NULL and a reason when not.  *PENDING: the
 * connection counts as a pending supervisor's.
 */
static const char *
slot_refused(struct ztd *ztd, enum client_class class, uid_t uid, pid_t pid,
    bool *pending)
{
	const struct server *s = &ztd->server;
	const struct ztd_config *cf = ztd->config;
	struct uid_count *u;

	*pending = false;
	switch (class) {
	case CLIENT_ROOT:
		return NULL;
	case CLIENT_SUPERVISOR:
		if (s->n_class[class] >= cf->max_clients)
			return "too many supervisors";
		if (grant_supervised_by(ztd, pid))
			return NULL;
		*pending = true;
		u = uid_slot(&ztd->server, uid, false);
		return u != NULL && u->pending >= cf->max_clients_per_uid ?
		    "too many supervisors supervising no grant for this uid" :
		    NULL;
	case CLIENT_OTHER:
		if (s->n_class[class] >= cf->max_clients)
			return "too many clients";
		u = uid_slot(&ztd->server, uid, false);
		return u != NULL && u->count >= cf->max_clients_per_uid ?
		    "too many connections for this uid" : NULL;
	}
	return "unknown client";
}

static void
close_client(struct server *s, struct client *c)
{
	/* Once only: a request's own handling may close it (an event it
	 * could not take), and the caller then finds it closed. */
	if (c->watch.dead)
		return;
	unlink_client(s, c);
	epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->parked != NULL) {
		free(c->parked);
		c->parked = NULL;
		s->n_parked--;
	}
	if (c->parked_fd >= 0)
		close(c->parked_fd);
	if (c->pidfd >= 0)
		close(c->pidfd);
	s->n_clients--;
	release_slot(s, c);
	server_bury(s, &c->watch);
}

void
server_supervisor_ungranted(struct ztd *ztd, pid_t pid)
{
	struct server *s = &ztd->server;

	if (grant_supervised_by(ztd, pid))
		return;
	for (struct client *c = s->head, *after; c != NULL; c = after) {
		struct uid_count *u;

		after = c->next;
		if (c->pid != pid || c->class != CLIENT_SUPERVISOR ||
		    c->pending || c->watch.dead)
			continue;
		/* Its place counted, or not kept: every error a deny. */
		if ((u = uid_slot(s, c->uid, true)) == NULL) {
			zt_log(LOG_WARNING, "uid %u pid %d: out of memory to "
			    "count a supervisor whose grant ended: closed",
			    (unsigned)c->uid, (int)c->pid);
			close_client(s, c);
			continue;
		}
		u->pending++;
		c->pending = true;
	}
}

void
server_close(struct server *s, const char *socket_path)
{
	while (s->head != NULL)
		close_client(s, s->head);
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->reserve_fd >= 0)
		close(s->reserve_fd);
	server_free_buried(s);
	free(s->held);
	s->held = NULL;
	s->holding = false;
	s->n_held = 0;
	free(s->uids);
	s->uids = NULL;
	s->n_uids = s->cap_uids = 0;
	if (s->adopted && s->listen_fd >= 0)
		close(s->listen_fd);	/* systemd's socket file stays */
	else if (!s->adopted)
		rundir_release(socket_path, s->listen_fd, s->lock_fd);
	s->adopted = false;
	s->listen_fd = s->lock_fd = s->epoll_fd = s->reserve_fd = -1;
}

/* Tell a connection we cannot take it, then drop it. */
static void
refuse(int fd, int code, const char *why)
{
	struct zt_msg reply;

	zt_msg_error(&reply, 0, code, why);
	send(fd, reply.wire, reply.size, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

/*
 * May a line limited by L (RATE_MILLI thousandths of a line a second after
 * BURST) be written now?  Then into *UNLOGGED how many were not since the
 * last one; else it is counted.
 */
static bool
line_due(struct line_limit *l, unsigned rate_milli, unsigned burst,
    uint64_t *unlogged)
{
	int64_t now = zt_monotonic_ms();

	if (!l->started) {
		audit_limit_init(&l->bucket, now, burst);
		l->started = true;
	}
	if (!audit_limit_take(&l->bucket, now, rate_milli, burst)) {
		l->unlogged++;
		return false;
	}
	*unlogged = l->unlogged;
	l->unlogged = 0;
	return true;
}

void
server_log_refusal(struct ztd *ztd, const char *what, uid_t uid, pid_t pid,
    const char *why)
{
	uint64_t unlogged;

	/* One a second. */
	if (!line_due(&ztd->server.refusal_lines, 1000, 1, &unlogged))
		return;
	zt_log(LOG_WARNING, "%s of uid %u pid %d refused: %s"
	    " (%llu more refused since the last such line)", what,
	    (unsigned)uid, (int)pid, why, (unsigned long long)unlogged);
}

void
server_log_peer(struct ztd *ztd, const struct client *c, int priority,
    const char *fmt, ...)
{
	char text[ZT_LOG_LINE_MAX];
	uint64_t unlogged = 0;
	va_list ap;

	if (c->class != CLIENT_ROOT &&
	    !line_due(&ztd->server.peer_lines[c->class],
	    SERVER_PEER_LINES_RATE * 1000, SERVER_PEER_LINES_BURST,
	    &unlogged))
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (unlogged == 0)
		zt_log(priority, "%s", text);
	else
		zt_log(priority, "%s (%llu more lines of %s peers not logged "
		    "before it: ztd's limit of %u a second)", text,
		    (unsigned long long)unlogged,
		    c->class == CLIENT_SUPERVISOR ? "supervisor" :
		    "unprivileged", SERVER_PEER_LINES_RATE);
}

/*
 * Whether PIDFD's process is still running: its pidfd is not readable (it
 * has not exited; a zombie's is), so its pid number is nobody else's.
 * One poll, no more, per message while it runs.
 */
static bool
pidfd_running(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return pidfd >= 0 && poll(&p, 1, 0) == 0;
}

static void
add_client(struct ztd *ztd, int fd)
{
	struct server *s = &ztd->server;
	struct epoll_event ev = { .events = EPOLLIN };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	enum client_class class;
	const char *why;
	struct client *c;
	int pidfd = -1, on = 1;
	bool pending;

	/* Identity comes from the kernel at connect time, nothing else; and
	 * each message then comes with its sender's credentials
	 * (server_client_ready checks them): the kernel attaches them to
	 * what is sent before accept, and the listener's SO_PASSCRED
	 * (serve_socket) is the accepted socket's from accept on.  Set here
	 * too, should the listener's not have been. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    len != sizeof(cred) ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0) {
		zt_log(LOG_WARNING, "client without peer credentials: %s",
		    strerror(errno));
		close(fd);
		return;
	}
	/* Root, or ztd's own uid (a test's unprivileged ztd). */
	class = cred.uid == 0 || cred.uid == geteuid() ? CLIENT_ROOT :
	    cred.gid == ztd->config->supervisor_gid ? CLIENT_SUPERVISOR :
	    CLIENT_OTHER;
	if ((why = slot_refused(ztd, class, cred.uid, cred.pid,
	    &pending)) != NULL || ((class == CLIENT_OTHER || pending) &&
	    uid_slot(s, cred.uid, true) == NULL)) {
		why = why != NULL ? why : "out of memory";
		s->refused++;
		server_log_refusal(ztd, "connection", cred.uid, cred.pid, why);
		refuse(fd, ZT_E_BUSY, why);
		return;
	}
	/* The connector's pidfd names the process that called connect()
	 * even if its pid was taken since.  Without it (the kernel would not
	 * give it), the connection's messages are refused. */
	len = sizeof(pidfd);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
		pidfd = -1;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		if (pidfd >= 0)
			close(pidfd);
		refuse(fd, -ENOMEM, "out of memory");
		return;
	}
	c->watch.kind = WATCH_CLIENT;
	c->fd = fd;
	c->class = class;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	c->pidfd = pidfd;
	c->parked_fd = -1;
	c->pending = pending;
	ev.data.ptr = c;
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		zt_log(LOG_ERR, "epoll_ctl: %s", strerror(errno));
		if (pidfd >= 0)
			close(pidfd);
		close(fd);
		free(c);
		return;
	}
	s->n_clients++;
	s->n_class[class]++;
	if (pending)
		uid_slot(s, cred.uid, false)->pending++;
	else if (class == CLIENT_OTHER)
		uid_slot(s, cred.uid, false)->count++;
	touch_client(ztd, c);
}

void
server_accept(struct ztd *ztd)
{
	struct server *s = &ztd->server;

	for (int i = 0; i < ACCEPT_BURST; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL,
		    SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0) {
			add_client(ztd, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE) {
			/* Out of descriptors: use the spare one to tell the
			 * waiting peer no, instead of spinning on it. */
			struct ucred cred = { .pid = 0 };
			socklen_t len = sizeof(cred);

			s->refused++;
			close(s->reserve_fd);
			fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred,
				    &len);
				server_log_refusal(ztd, "connection", cred.uid,
				    cred.pid, "out of descriptors");
				refuse(fd, ZT_E_BUSY, "out of descriptors");
			}
			s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			/* Without the spare, nothing more can be taken off
			 * the backlog: stop until the next event. */
			if (fd < 0 || s->reserve_fd < 0)
				return;
			continue;
		}
		if (errno != EAGAIN)
			zt_log(LOG_ERR, "accept: %s", strerror(errno));
		return;
	}
}

static void answer(struct ztd *ztd, struct client *c,
    const struct zt_msg *request, int passed_fd, uint64_t resume_ticket);

/* One answer held for the group commit. */
struct held_reply {
	struct client *client;
	uint32_t request_id;
	bool audited;			/* a record was written for it */
	int fd;				/* our own copy (closed once sent),
					 * or -1 */
	size_t size;
	uint8_t wire[ZT_MSG_MAX];
};

void
server_hold(struct ztd *ztd)
{
	struct server *s = &ztd->server;

	if (s->held == NULL)
		s->held = malloc(SERVER_HELD_MAX * sizeof(*s->held));
	if (s->held == NULL)
		return;		/* answers go at once, records too */
	s->holding = true;
	audit_hold(ztd->audit, true);
}

/* Send the encoded reply, SIZE bytes at WIRE (with FD), to C, or drop C. */
static void
send_wire(struct ztd *ztd, struct client *c, const void *wire, size_t size,
    int fd)
{
	int r;

	/* A client whose queue is full is not reading: drop it. */
	if ((r = zt_msg_send_wire(c->fd, wire, size, fd)) < 0) {
		server_log_peer(ztd, c, LOG_NOTICE,
		    "uid %u pid %d: cannot reply: %s", (unsigned)c->uid,
		    (int)c->pid, zt_strerror(r));
		close_client(&ztd->server, c);
	}
}

/* Send the reply M (with FD) to C, or drop C. */
static void
send_reply(struct ztd *ztd, struct client *c, const struct zt_msg *m,
    int fd)
{
	send_wire(ztd, c, m->wire, m->size, fd);
}

/*
 * Into M, what H becomes when its record could not be written (with
 * audit.require): an allow a deny, as decide() makes it when the record
 * fails at once; a deny stays what it was; any other answer an error.
 */
static void
audit_failed(struct zt_msg *m, const struct held_reply *h)
{
	static const char why[] = "audit record could not be written "
	    "(audit.require)";
	uint32_t decision = 0;

	if (zt_msg_decode(m, h->wire, h->size) == 0 &&
	    m->type == ZT_MSG_DECISION &&
	    zt_msg_get_u32(m, ZT_F_DECISION, &decision) == 0) {
		if (decision != ZT_DECISION_ALLOW)
			return;		/* a deny as it was */
		if (zt_msg_init(m, ZT_MSG_DECISION, h->request_id) == 0 &&
		    zt_msg_put_u32(m, ZT_F_DECISION, 0) == 0 &&
		    zt_msg_put_str(m, ZT_F_REASON, why) == 0)
			return;
	}
	zt_msg_error(m, h->request_id, -EIO, why);
}

void
server_flush(struct ztd *ztd)
{
	struct server *s = &ztd->server;
	static struct zt_msg m;
	unsigned n = s->n_held;
	int r;

	if (!s->holding)
		return;
	/* The records first: no answer before its record. */
	r = audit_flush(ztd->audit);
	s->n_held = 0;
	for (unsigned i = 0; i < n; i++) {
		struct held_reply *h = &s->held[i];

		if (h->client->watch.dead)
			;
		else if (r < 0 && h->audited) {
			audit_failed(&m, h);
			send_reply(ztd, h->client, &m, -1);
		} else
			send_wire(ztd, h->client, h->wire, h->size, h->fd);
		if (h->fd >= 0)
			close(h->fd);
	}
}

/* Hold REPLY (with FD) to C until server_flush. */
static void
hold_reply(struct ztd *ztd, struct client *c, const struct zt_msg *reply,
    int fd, bool audited)
{
	struct server *s = &ztd->server;
	struct held_reply *h;

	if (s->n_held == SERVER_HELD_MAX)
		server_flush(ztd);
	h = &s->held[s->n_held++];
	h->client = c;
	h->request_id = reply->request_id;
	h->audited = audited;
	/* A copy: the lender may close its own before the flush (a filter
	 * evicted), and a reused number must never go out. */
	h->fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	h->size = reply->size;
	memcpy(h->wire, reply->wire, reply->size);
}


/*
 * From now on, C's messages come with their sender's pidfd (SO_PASSPIDFD),
 * compared with the connector's pidfs inode: for when the connector has
 * exited and its pid number may be another's.  The kernel attaches the
 * pidfd when ztd reads, so messages queued before count too, and (Linux
 * 6.16) names a sender that has exited and been reaped since.  False when
 * the kernel cannot (not IDENTITY_PIDFS).
 */
static bool
identify_by_pidfd(const struct server *s, struct client *c)
{
	int on = 1;

	if (c->by_pidfd)
		return true;
	if (s->identity != IDENTITY_PIDFS || c->pidfd < 0 ||
	    pidfs_inode(c->pidfd, &c->pidfs_dev, &c->pidfs_ino) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_PASSPIDFD, &on, sizeof(on)) < 0)
		return false;
	c->by_pidfd = true;
	return true;
}

/* Whether SENDER_PIDFD (SCM_PIDFD) is C's connector itself. */
static bool
sent_by_connector(const struct client *c, int sender_pidfd)
{
	struct stat st;

	return sender_pidfd >= 0 && fstat(sender_pidfd, &st) == 0 &&
	    st.st_dev == c->pidfs_dev && st.st_ino == c->pidfs_ino;
}

void
server_client_ready(struct ztd *ztd, struct client *c, uint32_t events)
{
	struct server *s = &ztd->server;
	struct zt_msg request, reply;
	struct ucred sender;
	int r, passed_fd, sender_pidfd = -1;
	bool same;

	if (!(events & EPOLLIN)) {
		close_client(s, c);
		return;
	}
	/*
	 * Who sent what is about to be read.  Asked before the read: epoll
	 * said a message was queued, so the one read was sent before this
	 * question (ztd alone reads the connection; server_drain_pid, which
	 * reads on without epoll, identifies by pidfd first).  A connector
	 * still running then held its pid number all along, from before its
	 * connect: a message whose credentials carry that number is its
	 * own.  A connector that exited is no proof: each message's own
	 * pidfd decides, or (kernels without pidfs) it is refused.  The
	 * question may have been asked for the whole pass
	 * (server_check_connectors, after the epoll_wait that saw this
	 * message): then for the pass's first read only, which reads a
	 * message queued before it; any later read asks again.
	 */
	same = !c->by_pidfd && (c->running_pass == s->pass ||
	    pidfd_running(c->pidfd));
	c->running_pass = 0;
	if (!same)
		identify_by_pidfd(s, c);
	r = zt_msg_recv_from(c->fd, &request, &passed_fd, &sender,
	    c->by_pidfd ? &sender_pidfd : NULL);
	if (c->by_pidfd)
		same = sent_by_connector(c, sender_pidfd);
	if (sender_pidfd >= 0)
		close(sender_pidfd);
	if (r < 0 && passed_fd >= 0) {
		close(passed_fd);
		passed_fd = -1;
	}
	if (r == -EAGAIN)
		return;
	if (r == ZT_E_CLOSED || r == -ECONNRESET) {
		close_client(s, c);
		return;
	}
	s->requests++;
	if (r < 0) {
		/* A peer that speaks garbage gets one error and is dropped. */
		server_log_peer(ztd, c, LOG_NOTICE,
		    "uid %u pid %d: bad request: %s", (unsigned)c->uid,
		    (int)c->pid, zt_strerror(r));
		zt_msg_error(&reply, request.request_id, r, zt_strerror(r));
		zt_msg_send(c->fd, &reply);
		close_client(s, c);
		return;
	}
	/*
	 * A connection is its connector's: every message must come from the
	 * process that connected -- the process itself (above), and the
	 * kernel's credentials of the message against SO_PEERCRED's at
	 * connect -- with the real uid of its first message.  A descriptor
	 * that reached another process (inherited, passed), one that took
	 * the pid number of a connector that exited, or a process that gave
	 * up its uid in place, is refused and the connection closed:
	 * identity is never carried over.  Every message carries
	 * credentials (the listener's SO_PASSCRED); a pid of 0 (none
	 * attached, or a sender outside ztd's pid namespace) proves nothing:
	 * only the sender's own pidfd can then prove it the connector.
	 */
	bool unknown = sender.pid == 0 && c->pid != 0;

	if (!same || (unknown ? !c->by_pidfd : sender.pid != c->pid) ||
	    (c->sender_seen && sender.uid != c->sender_uid)) {
		server_log_peer(ztd, c, LOG_WARNING,
		    "uid %u gid %u pid %d: a message from "
		    "pid %d (real uid %u) on its connection refused, the "
		    "connection closed: a connection is its connector's%s",
		    (unsigned)c->uid, (unsigned)c->gid, (int)c->pid,
		    (int)sender.pid, (unsigned)sender.uid, same ? "" :
		    c->by_pidfd ? " (its connector exited; the sender is "
		    "another process)" : " (its connector exited)");
		if (passed_fd >= 0)
			close(passed_fd);
		zt_msg_error(&reply, request.request_id, ZT_E_PERM,
		    "not the connection's process");
		zt_msg_send(c->fd, &reply);
		close_client(s, c);
		return;
	}
	if (!c->sender_seen) {
		c->sender_seen = true;
		c->sender_uid = sender.uid;
	}
	touch_client(ztd, c);
	answer(ztd, c, &request, passed_fd, 0);
}

void
server_check_connectors(struct ztd *ztd, const struct epoll_event *events,
    int n)
{
	struct server *s = &ztd->server;
	struct pollfd pfd[SERVER_EVENTS_MAX];
	struct client *who[SERVER_EVENTS_MAX];
	unsigned k = 0;

	s->pass++;
	for (int i = 0; i < n && k < SERVER_EVENTS_MAX; i++) {
		struct watch *w = events[i].data.ptr;
		struct client *c = (struct client *)w;

		if (w->kind != WATCH_CLIENT || w->dead ||
		    !(events[i].events & EPOLLIN) || c->by_pidfd ||
		    c->pidfd < 0)
			continue;
		pfd[k] = (struct pollfd){ .fd = c->pidfd, .events = POLLIN };
		who[k++] = c;
	}
	/* One is asked at its read, as it would be here. */
	if (k < 2 || poll(pfd, k, 0) < 0)
		return;
	for (unsigned i = 0; i < k; i++)
		if (pfd[i].revents == 0)
			who[i]->running_pass = s->pass;
}

/*
 * Answer what the connections of process PID have sent and ztd has not
 * read yet (each until it would block, a parked one not), before their
 * grant ends with PID: a supervisor's last reports (its cache's uses) are
 * in the kernel before it exits, and must be audited, not refused for a
 * grant that ended first.
 */
#define DRAIN_CLIENTS 8
#define DRAIN_MESSAGES 64
void
server_drain_pid(struct ztd *ztd, pid_t pid)
{
	struct server *s = &ztd->server;
	struct client *found[DRAIN_CLIENTS];
	unsigned n = 0;

	/* Taken first: answering reorders the list. */
	for (struct client *c = s->head; c != NULL && n < DRAIN_CLIENTS;
	    c = c->next)
		if (c->pid == pid && !c->watch.dead)
			found[n++] = c;
	for (unsigned i = 0; i < n; i++) {
		/* Read on past what epoll saw: each message's sender by its
		 * own pidfd (or refused, without pidfs). */
		identify_by_pidfd(s, found[i]);
		for (unsigned m = 0; m < DRAIN_MESSAGES; m++) {
			uint64_t before = s->requests;

			if (found[i]->watch.dead || found[i]->parked != NULL)
				break;
			server_client_ready(ztd, found[i], EPOLLIN);
			if (s->requests == before)
				break;		/* nothing more to read */
		}
	}
}

/*
 * Dispatch REQUEST and send the answer; a request that must wait for an
 * attestation is parked instead (the client is not read from meanwhile),
 * keeping PASSED_FD.  Otherwise PASSED_FD is closed here.  RESUME_TICKET:
 * the attestation a parked request waited for (0: asked the first time).
 */
static void
answer(struct ztd *ztd, struct client *c, const struct zt_msg *request,
    int passed_fd, uint64_t resume_ticket)
{
	struct server *s = &ztd->server;
	struct epoll_event ev = { .events = 0, .data.ptr = c };
	struct zt_msg reply;
	struct request rq = {
		.ztd = ztd, .client = c, .msg = request,
		.passed_fd = passed_fd, .reply = &reply, .reply_fd = -1,
		.resume_ticket = resume_ticket,
	};
	uint64_t seq = audit_last_seq(ztd->audit);
	int r;

	r = requests_dispatch(&rq);
	if (c->watch.dead) {	/* closed while answering: nobody to tell */
		if (passed_fd >= 0)
			close(passed_fd);
		return;
	}
	if (r == ZT_E_WAIT && resume_ticket == 0 && c->parked == NULL) {
		c->parked = malloc(sizeof(*c->parked));
		/* Decoded again from its bytes: the fields point into the
		 * message that holds them. */
		if (c->parked != NULL &&
		    zt_msg_decode(c->parked, request->wire, request->size) < 0) {
			free(c->parked);
			c->parked = NULL;
		}
		if (c->parked != NULL) {
			c->parked_fd = passed_fd;
			c->parked_ticket = rq.wait_ticket;
			c->parked_until_ms = ztd_now_ms() + ATTEST_WAIT_MS;
			s->n_parked++;
			epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
			return;
		}
		r = -ENOMEM;
	}
	if (r == ZT_E_WAIT)	/* waited already: no second wait */
		r = ZT_E_TIMEOUT;
	if (passed_fd >= 0)
		close(passed_fd);
	if (r == 0 && rq.no_reply)
		return;		/* its records go with the pass's flush */
	if (r < 0) {
		zt_msg_error(&reply, request->request_id, r, zt_strerror(r));
		rq.reply_fd = -1;
	}
	if (s->holding)
		hold_reply(ztd, c, &reply, rq.reply_fd,
		    audit_last_seq(ztd->audit) != seq);
	else
		send_reply(ztd, c, &reply, rq.reply_fd);
}

/* Answer C's parked request again, now that it need not wait. */
static void
resume(struct ztd *ztd, struct client *c)
{
	struct server *s = &ztd->server;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	struct zt_msg *request = c->parked;
	int passed_fd = c->parked_fd;

	c->parked = NULL;
	c->parked_fd = -1;
	s->n_parked--;
	epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
	answer(ztd, c, request, passed_fd, c->parked_ticket);
	free(request);
}

void
server_attestation_ready(struct ztd *ztd)
{
	struct client *c = ztd->server.head;

	while (c != NULL && ztd->server.n_parked > 0) {
		struct client *after = c->next;

		if (c->parked != NULL && !c->watch.dead &&
		    attest_ready(ztd->attest, c->parked_ticket))
			resume(ztd, c);
		c = after;
	}
}

/* Is C to be sent EVENT about GRANT, meant for process PID? */
static bool
takes_event(const struct server *s, const struct client *c, pid_t pid,
    uint32_t event, const char *grant)
{
	/* pid -1: every client (a policy-wide event). */
	if (pid >= 0 && c->pid != pid)
		return false;
	/* The asker of the end learns it from its reply. */
	return !(c == s->told && event == ZT_EVENT_GRANT_ENDED &&
	    grant != NULL && s->told_grant != NULL &&
	    strcmp(grant, s->told_grant) == 0);
}

void
server_push_event(struct ztd *ztd, pid_t pid, uint32_t event,
    const char *grant, const char *reason)
{
	struct server *s = &ztd->server;
	struct zt_msg m;
	struct client *c;

	for (c = s->head; c != NULL; c = c->next)
		if (takes_event(s, c, pid, event, grant))
			break;
	if (c == NULL)
		return;		/* nobody to tell: nothing to flush either */
	/* Nothing overtakes an answer held for its record. */
	server_flush(ztd);
	c = s->head;
	zt_msg_init(&m, ZT_MSG_EVENT, 0);
	zt_msg_put_u32(&m, ZT_F_EVENT, event);
	if (grant != NULL)
		zt_msg_put_str(&m, ZT_F_GRANT, grant);
	if (reason != NULL)
		zt_msg_put_str(&m, ZT_F_REASON, reason);
	while (c != NULL) {
		struct client *after = c->next;

		if (takes_event(s, c, pid, event, grant) &&
		    zt_msg_send(c->fd, &m) < 0) {
			server_log_peer(ztd, c, LOG_WARNING, "uid %u pid %d: "
			    "cannot take an event: dropped", (unsigned)c->uid,
			    (int)c->pid);
			close_client(s, c);
		}
		c = after;
	}
}

int
server_expire(struct ztd *ztd)
{
	struct server *s = &ztd->server;
	int64_t now = ztd_now_ms();

	int64_t next = -1;

	/* Parked requests past their wait are answered (a deny). */
	for (struct client *c = s->head, *after; c != NULL &&
	    s->n_parked > 0; c = after) {
		after = c->next;
		if (c->parked == NULL)
			continue;
		if (c->parked_until_ms <= now)
			resume(ztd, c);
		else if (next < 0 || c->parked_until_ms - now < next)
			next = c->parked_until_ms - now;
	}
	while (s->head != NULL && s->head->deadline_ms <= now) {
		/* A grant's supervisor keeps its connection while the grant
		 * lives: it waits for events, not for answers. */
		if (grant_supervised_by(ztd, s->head->pid)) {
			touch_client(ztd, s->head);
			continue;
		}
		zt_log(LOG_INFO, "uid %u pid %d: idle too long, closed",
		    (unsigned)s->head->uid, (int)s->head->pid);
		close_client(s, s->head);
	}
	if (s->head != NULL &&
	    (next < 0 || s->head->deadline_ms - now < next))
		next = s->head->deadline_ms - now;
	return next < 0 ? -1 : next > INT32_MAX ? INT32_MAX : (int)next;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Accepting clients, learning who they are from the kernel, serving them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attest.h"
#include "rundir.h"
#include "grant.h"
#include "server.h"
#include "zt_err.h"
#include "zt_log.h"
#include "zt_msg.h"
#include "ztd.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

#define ACCEPT_BURST 64

int
server_open(struct server *s, const char *socket_path, char *error,
    size_t size)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int r;

	memset(s, 0, sizeof(*s));
	s->listen_fd = s->lock_fd = s->epoll_fd = s->reserve_fd = -1;
	s->listen_watch.kind = WATCH_LISTEN;
	if ((r = rundir_listen(socket_path, &s->listen_fd, &s->lock_fd, error,
	    size)) < 0)
		return r;
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
static bool
supervises_grant(const struct ztd *ztd, pid_t pid)
{
	for (const struct grant *g = ztd->grants; g != NULL; g = g->next)
		if (g->supervisor_pid == pid)
			return true;
	return false;
}

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
	server_bury(s, &c->watch);
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
	rundir_release(socket_path, s->listen_fd, s->lock_fd);
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

static void
add_client(struct ztd *ztd, int fd)
{
	struct server *s = &ztd->server;
	struct epoll_event ev = { .events = EPOLLIN };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct client *c;
	int pidfd = -1;

	if (s->n_clients >= ztd->config->max_clients) {
		s->refused++;
		refuse(fd, ZT_E_BUSY, "too many clients");
		return;
	}
	/* Identity comes from the kernel at connect time, nothing else. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    len != sizeof(cred)) {
		zt_log(LOG_WARNING, "client without peer credentials: %s",
		    strerror(errno));
		close(fd);
		return;
	}
	len = sizeof(pidfd);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
		pidfd = -1;	/* old kernel: requests needing it are denied */
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		if (pidfd >= 0)
			close(pidfd);
		refuse(fd, -ENOMEM, "out of memory");
		return;
	}
	c->watch.kind = WATCH_CLIENT;
	c->fd = fd;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	c->pidfd = pidfd;
	c->parked_fd = -1;
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
			s->refused++;
			close(s->reserve_fd);
			fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				refuse(fd, ZT_E_BUSY, "out of descriptors");
			s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			zt_log(LOG_WARNING, "out of file descriptors: "
			    "refusing connections");
			continue;
		}
		if (errno != EAGAIN)
			zt_log(LOG_ERR, "accept: %s", strerror(errno));
		return;
	}
}

static void answer(struct ztd *ztd, struct client *c,
    const struct zt_msg *request, int passed_fd);

void
server_client_ready(struct ztd *ztd, struct client *c, uint32_t events)
{
	struct server *s = &ztd->server;
	struct zt_msg request, reply;
	int r, passed_fd;

	if (!(events & EPOLLIN)) {
		close_client(s, c);
		return;
	}
	r = zt_msg_recv_fd(c->fd, &request, &passed_fd);
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
		zt_log(LOG_NOTICE, "uid %u pid %d: bad request: %s",
		    (unsigned)c->uid, (int)c->pid, zt_strerror(r));
		zt_msg_error(&reply, request.request_id, r, zt_strerror(r));
		zt_msg_send(c->fd, &reply);
		close_client(s, c);
		return;
	}
	touch_client(ztd, c);
	answer(ztd, c, &request, passed_fd);
}

/*
 * Dispatch REQUEST and send the answer; a request that must wait for an
 * attestation is parked instead (the client is not read from meanwhile),
 * keeping PASSED_FD.  Otherwise PASSED_FD is closed here.
 */
static void
answer(struct ztd *ztd, struct client *c, const struct zt_msg *request,
    int passed_fd)
{
	struct server *s = &ztd->server;
	struct epoll_event ev = { .events = 0, .data.ptr = c };
	struct zt_msg reply;
	int r;

	ztd->wait_ticket = 0;
	r = requests_dispatch(ztd, c, request, passed_fd, &reply);
	if (c->watch.dead) {	/* closed while answering: nobody to tell */
		if (passed_fd >= 0)
			close(passed_fd);
		return;
	}
	if (r == ZT_E_WAIT && ztd->resume_ticket == 0 && c->parked == NULL) {
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
			c->parked_ticket = ztd->wait_ticket;
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
	if (r < 0)
		zt_msg_error(&reply, request->request_id, r, zt_strerror(r));
	/* A client whose queue is full is not reading: drop it. */
	if ((r = zt_msg_send(c->fd, &reply)) < 0) {
		zt_log(LOG_NOTICE, "uid %u pid %d: cannot reply: %s",
		    (unsigned)c->uid, (int)c->pid, zt_strerror(r));
		close_client(s, c);
	}
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
	ztd->resume_ticket = c->parked_ticket;
	answer(ztd, c, request, passed_fd);
	ztd->resume_ticket = 0;
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

void
server_push_event(struct ztd *ztd, pid_t pid, uint32_t event,
    const char *grant, const char *reason)
{
	struct server *s = &ztd->server;
	struct zt_msg m;
	struct client *c = s->head;

	zt_msg_init(&m, ZT_MSG_EVENT, 0);
	zt_msg_put_u32(&m, ZT_F_EVENT, event);
	if (grant != NULL)
		zt_msg_put_str(&m, ZT_F_GRANT, grant);
	if (reason != NULL)
		zt_msg_put_str(&m, ZT_F_REASON, reason);
	while (c != NULL) {
		struct client *after = c->next;

		/* pid -1: every client (a policy-wide event). */
		if ((pid < 0 || c->pid == pid) && zt_msg_send(c->fd, &m) < 0) {
			zt_log(LOG_WARNING, "pid %d: cannot take an event: "
			    "dropped", (int)pid);
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
		if (supervises_grant(ztd, s->head->pid)) {
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

/* SPDX-License-Identifier: Apache-2.0 */
/* zt-exec's connection to ztd: one reader thread, callers wait on slots. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "zt_client.h"
#include "zt_clock.h"
#include "zt_err.h"
#include "zt_log.h"
#include "zt_msg.h"
#include "ztconn.h"

#define CACHE_SLOTS 512		/* a multiple of 64 (cache_used) */
#define CACHE_OBJECT_MAX 256		/* longer objects are not cached */
#define WAIT_SLOTS 64
_Static_assert(WAIT_SLOTS <= 64, "struct ztconn's learning has a bit a slot");
#define REPORT_QUEUE_MAX ZT_REPORT_RECORDS_MAX	/* hits waiting */
#define REPORT_DELAY_MS 800		/* flushed within 1 s of a hit */
#define CATCH_UP_MS 1000		/* waited for the reader at most */
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000

/* A cached allow, with what ztd sent to prove it in a report. */
struct cache_entry {
	uint32_t action;
	int64_t expires_ms;		/* 0: empty */
	char object[CACHE_OBJECT_MAX];
	uint8_t token[ZT_TOKEN_SIZE];	/* ztd's, for this allow */
	uint64_t until_ms;		/* the allow's end, as ztd sent it */
	bool ahead;			/* decided before it was asked: used
					 * only while caught_up */
	bool unrecorded;		/* ahead, and no use reported yet */
	uint32_t flags;			/* a resolve's: ZT_RESOLVE_* */
};

/* A hit waiting to be reported: the entry's proof and when it was. */
struct report_hit {
	uint32_t action;
	pid_t actor;			/* the process served (0: none named) */
	int64_t hit_ms;
	char object[CACHE_OBJECT_MAX];
	uint8_t token[ZT_TOKEN_SIZE];
	uint64_t until_ms;
};

struct wait_slot {
	bool busy, done;
	bool learn;			/* a LEARN's: its connects decided
					 * ahead are kept as it is read */
	uint64_t epoch;			/* learn: the cache's when sent */
	uint32_t id;
	int status;			/* 0: reply is a reply */
	struct zt_msg reply;
	/* Work of the asker's own, done (once, without the lock) while the
	 * reply is not yet in, instead of after it; NULL: none. */
	void (*meanwhile)(void *arg);
	void *meanwhile_arg;
};

struct ztconn {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* CLOCK_MONOTONIC */
	pthread_t reader;
	bool stopping;
	/* AGENT_PID's request id while its answer is awaited in slots[0]
	 * (0: none), and the cache's epoch when it was sent. */
	uint32_t ahead_id;
	uint64_t ahead_epoch;
	int fd;				/* -1 while disconnected */
	char socket_path[108];
	char grant[33];
	bool grant_live;
	char grant_end_why[128];
	int64_t expires_ms;
	unsigned decision_ttl;
	void (*on_grant_end)(const char *why);
	void (*on_event)(void *arg);	/* any event from ztd */
	void *on_event_arg;
	uint32_t next_id;
	unsigned catching_up;		/* threads waiting in catch_up */
	uint32_t direct;		/* the request whose waiter takes its
					 * reply off the connection itself
					 * (take_reply), 0: none */
	int direct_wake;		/* an eventfd: the reader read it */
	struct wait_slot slots[WAIT_SLOTS];
	uint64_t learning;		/* bit i: slots[i] a LEARN sent and not
					 * finished (a bit each, so that no
					 * page of a slot never used is
					 * touched: 64 faults, profiled) */
	struct cache_entry cache[CACHE_SLOTS];
	/* The slots ever filled since the last drop: a drop clears these
	 * only, so that it writes no page of the cache a grant never used
	 * (160 KiB, zero pages until then: clearing them all faulted each
	 * in, 0.13 ms of every launch's end, profiled). */
	uint64_t cache_used[CACHE_SLOTS / 64];
	uint64_t cache_epoch;		/* + 1 at every drop */
	struct report_hit report[REPORT_QUEUE_MAX];
	unsigned report_count;
	int64_t report_first_ms;
	struct zt_msg scratch;		/* reader's receive buffer */
	struct zt_msg out;		/* sends, under the lock */
};

int64_t
ztconn_now_ms(void)
{
	return zt_boottime_ms();
}

static uint64_t
hash_key(uint32_t action, const char *object)
{
	uint64_t h = 1469598103934665603ull ^ action;

	for (; *object != '\0'; object++)
		h = (h ^ (unsigned char)*object) * 1099511628211ull;
	return h;
}

static void
cache_drop(struct ztconn *z)
{
	for (size_t w = 0; w < CACHE_SLOTS / 64; w++) {
		for (uint64_t bits = z->cache_used[w]; bits != 0;
		    bits &= bits - 1)
			z->cache[w * 64 + (size_t)__builtin_ctzll(bits)]
			    .expires_ms = 0;
		z->cache_used[w] = 0;
	}
	/* An answer read before the drop, but whose caller takes the lock
	 * back after it, was decided before the event: not to be kept. */
	z->cache_epoch++;
}

/* One hit as a RECORD of z->out's open RECORDS, at NOW.  0, or < 0 with
 * nothing of it in the message. */
static int
put_record(struct ztconn *z, const struct report_hit *h, int64_t now)
{
	int64_t age = now - h->hit_ms;
	int r;

	if (age < 0)
		age = 0;
	if (age > UINT32_MAX)
		age = UINT32_MAX;
	if ((r = zt_msg_begin_record(&z->out, ZT_F_RECORD)) < 0)
		return r;
	if ((r = zt_msg_put_u32(&z->out, ZT_F_ACTION, h->action)) < 0 ||
	    (r = zt_msg_put_str(&z->out, ZT_F_OBJECT, h->object)) < 0 ||
	    (r = zt_msg_put_u32(&z->out, ZT_F_AGE_MS, (uint32_t)age)) < 0 ||
	    (r = zt_msg_put_bytes(&z->out, ZT_F_TOKEN, h->token,
	    sizeof(h->token))) < 0 ||
	    (r = zt_msg_put_u64(&z->out, ZT_F_CACHE_UNTIL, h->until_ms)) < 0 ||
	    (h->actor > 0 && (r = zt_msg_put_u32(&z->out, ZT_F_PID,
	    (uint32_t)h->actor)) < 0) ||
	    (r = zt_msg_end_record(&z->out)) < 0) {
		zt_msg_cancel_record(&z->out);
		return r;
	}
	return 0;
}

/* Send the queued cache-hit records (lock held), as many as one REPORT
 * holds, oldest first.  Returns 0 or < 0; what could not be sent stays
 * queued. */
static int
report_flush(struct ztconn *z)
{
	int64_t now = ztconn_now_ms();
	unsigned sent = 0;
	int r;

	if (z->report_count == 0)
		return 0;
	if (z->fd < 0)
		return ZT_E_CLOSED;
	/* Nobody waits for the answer: ztd sends none. */
	if ((r = zt_msg_init(&z->out, ZT_MSG_REPORT, ++z->next_id)) < 0 ||
	    (r = zt_msg_put_str(&z->out, ZT_F_GRANT, z->grant)) < 0 ||
	    (r = zt_msg_put_u32(&z->out, ZT_F_FLAGS,
	    ZT_REPORT_NO_REPLY)) < 0 ||
	    (r = zt_msg_begin_record(&z->out, ZT_F_RECORDS)) < 0)
		return r;
	while (sent < z->report_count &&
	    put_record(z, &z->report[sent], now) == 0)
		sent++;
	if (sent == 0)
		return ZT_E_NOSPACE;	/* cannot happen: one always fits */
	if ((r = zt_msg_end_record(&z->out)) < 0 ||
	    (r = zt_msg_send(z->fd, &z->out)) < 0)
		return r;
	memmove(z->report, z->report + sent,
	    (z->report_count - sent) * sizeof(z->report[0]));
	z->report_count -= sent;
	if (z->report_count > 0)
		z->report_first_ms = z->report[0].hit_ms;
	return 0;
}

/* Queue a hit of cache entry E by ACTOR (> 0, or 0: none named) for
 * ztd's audit (lock held).  False when it can be neither queued nor
 * flushed: the caller then asks ztd. */
static bool
report_add(struct ztconn *z, const struct cache_entry *e, pid_t actor)
{
	struct report_hit *h;

	if (z->report_count >= REPORT_QUEUE_MAX &&
	    (report_flush(z) < 0 || z->report_count >= REPORT_QUEUE_MAX))
		return false;
	h = &z->report[z->report_count];
	h->action = e->action;
	h->actor = actor > 0 ? actor : 0;
	h->hit_ms = ztconn_now_ms();
	memcpy(h->object, e->object, sizeof(h->object));
	memcpy(h->token, e->token, sizeof(h->token));
	h->until_ms = e->until_ms;
	if (z->report_count == 0)
		z->report_first_ms = h->hit_ms;
	z->report_count++;
	return true;
}

/* Close the connection (lock held, one open): deny everything waiting,
 * forget every cached allow. */
static void
close_connection(struct ztconn *z)
{
	close(z->fd);
	z->fd = -1;
	cache_drop(z);
	for (size_t i = 0; i < WAIT_SLOTS; i++)
		if (z->slots[i].busy && !z->slots[i].done) {
			z->slots[i].done = true;
			z->slots[i].status = ZT_E_CLOSED;
		}
	pthread_cond_broadcast(&z->cond);
	if (z->direct != 0 && z->direct_wake >= 0 &&
	    eventfd_write(z->direct_wake, 1) < 0)
		zt_log(LOG_DEBUG, "cannot wake a waiter: %s", strerror(errno));
}

/* The connection is gone (lock held): close_connection, and say so. */
static void
lose_connection(struct ztconn *z, const char *why)
{
	if (z->fd < 0)
		return;
	close_connection(z);
	zt_log(LOG_WARNING, "connection to ztd lost (%s): gated actions are "
	    "denied until it is back", why);
}

static void
grant_over(struct ztconn *z, const char *why, bool *call)
{
	if (!z->grant_live)
		return;
	z->grant_live = false;
	snprintf(z->grant_end_why, sizeof(z->grant_end_why), "%s", why);
	cache_drop(z);
	*call = true;
}

static void cache_keep_ahead(struct ztconn *z, const struct zt_msg *reply,
    uint64_t epoch, enum action only);

/* One datagram from ztd (lock held). */
static void
handle_message(struct ztconn *z, const struct zt_msg *m, bool *ended,
    bool *event_seen)
{
	if (m->request_id == 0) {
		uint32_t event = 0;
		const char *grant = "", *reason = "";

		if (m->type == ZT_MSG_ERROR) {
			lose_connection(z, "ztd refused the connection");
			return;
		}
		if (m->type != ZT_MSG_EVENT ||
		    zt_msg_get_u32(m, ZT_F_EVENT, &event) < 0)
			return;
		zt_msg_get_str(m, ZT_F_GRANT, &grant);
		zt_msg_get_str(m, ZT_F_REASON, &reason);
		cache_drop(z);	/* any event: start over */
		*event_seen = true;
		if (event == ZT_EVENT_GRANT_ENDED &&
		    strcmp(grant, z->grant) == 0)
			grant_over(z, reason[0] ? reason : "grant ended",
			    ended);
		return;
	}
	for (size_t i = 0; i < WAIT_SLOTS; i++) {
		struct wait_slot *s = &z->slots[i];

		if (s->busy && !s->done && s->id == m->request_id) {
			/* Decoded again from its bytes, not copied: a copy's
			 * fields would still point into the reader's buffer,
			 * which the next datagram overwrites. */
			s->status = zt_msg_decode(&s->reply, m->wire, m->size);
			s->done = true;
			/* A LEARN's connects decided ahead, kept as its answer
			 * is read, in its turn: a connect waiting for it
			 * (learn_wait) finds them then. */
			if (s->learn && s->status == 0)
				cache_keep_ahead(z, &s->reply, s->epoch,
				    ACTION_CONNECT);
			/* AGENT_PID's answer, in its turn: what it allows
			 * ahead is kept before any later event is read. */
			if (z->ahead_id != 0 && s->id == z->ahead_id) {
				const char *text;

				z->ahead_id = 0;
				if (s->status == 0 && zt_client_reply_error(
				    &s->reply, ZT_MSG_REPORT_REPLY, &text) == 0) {
					cache_keep_ahead(z, &s->reply,
					    z->ahead_epoch, ACTION_RESOLVE);
					cache_keep_ahead(z, &s->reply,
					    z->ahead_epoch, ACTION_EXEC);
				}
			}
			pthread_cond_broadcast(&z->cond);
			/* Its waiter may be polling the connection: the reply
			 * is gone from there. */
			if (s->id == z->direct && z->direct_wake >= 0 &&
			    eventfd_write(z->direct_wake, 1) < 0)
				zt_log(LOG_DEBUG, "cannot wake a waiter: %s",
				    strerror(errno));
			return;
		}
	}
	/* A late reply, or a REPORT's: nothing waits for it. */
}

static void *
reader_main(void *arg)
{
	struct ztconn *z = arg;
	int backoff = BACKOFF_MIN_MS;

	pthread_mutex_lock(&z->lock);
	while (!z->stopping) {
		struct pollfd pfd;
		bool ended = false, event_seen = false;
		int r, fd = z->fd;

		if (fd < 0) {
			pthread_mutex_unlock(&z->lock);
			poll(NULL, 0, backoff);
			fd = zt_client_connect(z->socket_path);
			pthread_mutex_lock(&z->lock);
			if (fd >= 0 && !z->stopping) {
				z->fd = fd;
				backoff = BACKOFF_MIN_MS;
				zt_log(LOG_NOTICE, "reconnected to ztd");
				/* ztd may have restarted with a new token
				 * key: start with no cached allow, so no hit
				 * it could not verify is made from now on. */
				cache_drop(z);
				report_flush(z);
			} else {
				if (fd >= 0)
					close(fd);
				backoff = backoff * 2 > BACKOFF_MAX_MS ?
				    BACKOFF_MAX_MS : backoff * 2;
			}
			continue;
		}
		pthread_mutex_unlock(&z->lock);
		pfd.fd = fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, 100);
		pthread_mutex_lock(&z->lock);
		if (z->fd != fd || z->stopping)
			continue;
		if (r > 0 && pfd.revents != 0) {
			r = zt_msg_recv(fd, &z->scratch);
			if (r == 0)
				handle_message(z, &z->scratch, &ended,
				    &event_seen);
			else if (r != -EAGAIN && r != -EINTR)
				lose_connection(z, zt_strerror(r));
			if (z->catching_up > 0 || z->direct != 0)
				pthread_cond_broadcast(&z->cond);
		}
		if (z->report_count > 0 &&
		    ztconn_now_ms() - z->report_first_ms >= REPORT_DELAY_MS)
			report_flush(z);
		if (z->grant_live && ztconn_now_ms() >= z->expires_ms)
			grant_over(z, "grant expired", &ended);
		if (event_seen && z->on_event != NULL) {
			void (*fn)(void *) = z->on_event;
			void *event_arg = z->on_event_arg;

			pthread_mutex_unlock(&z->lock);
			fn(event_arg);
			pthread_mutex_lock(&z->lock);
		}
		if (ended && z->on_grant_end != NULL) {
			char why[128];

			snprintf(why, sizeof(why), "%s", z->grant_end_why);
			pthread_mutex_unlock(&z->lock);
			z->on_grant_end(why);
			pthread_mutex_lock(&z->lock);
		}
	}
	pthread_mutex_unlock(&z->lock);
	/* Stopped: zt-exec's exit comes next (ztconn_stop) and kills this
	 * thread where it waits.  Not ended here: a thread's own end
	 * (glibc gives its stack back with madvise, then the exit) is CPU
	 * on the way to that exit (profiled with the workers, 2b50d0b). */
	for (;;)
		pause();
	return NULL;
}

int
ztconn_start(struct ztconn **out, int fd, const char *socket_path,
    const char *grant, int64_t expires_ms, unsigned decision_ttl,
    uint32_t ahead_id, void (*on_grant_end)(const char *why))
{
	pthread_condattr_t attr;
	struct ztconn *z;
	int r;

	z = calloc(1, sizeof(*z));
	if (z == NULL)
		return -ENOMEM;
	pthread_mutex_init(&z->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&z->cond, &attr);
	pthread_condattr_destroy(&attr);
	z->fd = fd;
	snprintf(z->socket_path, sizeof(z->socket_path), "%s", socket_path);
	snprintf(z->grant, sizeof(z->grant), "%s", grant);
	z->grant_live = true;
	z->expires_ms = expires_ms;
	z->decision_ttl = decision_ttl;
	z->on_grant_end = on_grant_end;
	z->next_id = 1000;
	/* AGENT_PID's answer, taken by the reader in its turn (it carries
	 * questions and execs allowed ahead). */
	if (ahead_id != 0) {
		z->ahead_id = ahead_id;
		z->ahead_epoch = z->cache_epoch;
		z->slots[0].busy = true;
		z->slots[0].done = false;
		z->slots[0].id = ahead_id;
	}
	/* Without it replies reach their waiters through the reader only. */
	z->direct_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if ((r = pthread_create(&z->reader, NULL, reader_main, z)) != 0) {
		if (z->direct_wake >= 0)
			close(z->direct_wake);
		free(z);
		return -r;
	}
	*out = z;
	return 0;
}

int
ztconn_take_ahead(struct ztconn *z, int timeout_ms, char *why, size_t size)
{
	struct wait_slot *slot = &z->slots[0];
	struct timespec deadline;
	const char *text = "";
	int r = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&z->lock);
	while (!slot->done)
		if (pthread_cond_timedwait(&z->cond, &z->lock, &deadline) ==
		    ETIMEDOUT)
			break;
	if (!slot->done) {
		snprintf(why, size, "%s", zt_strerror(ZT_E_TIMEOUT));
		r = ZT_E_TIMEOUT;
	} else if (slot->status != 0) {
		snprintf(why, size, "%s", zt_strerror(slot->status));
		r = slot->status;
	} else if ((r = zt_client_reply_error(&slot->reply,
	    ZT_MSG_REPORT_REPLY, &text)) != 0)
		snprintf(why, size, "%s%s%s", zt_strerror(r),
		    text[0] ? ": " : "", text);
	/* A late answer is nobody's: its allows are not kept. */
	z->ahead_id = 0;
	slot->busy = false;
	pthread_mutex_unlock(&z->lock);
	return r;
}

void
ztconn_on_event(struct ztconn *z, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&z->lock);
	z->on_event = fn;
	z->on_event_arg = arg;
	pthread_mutex_unlock(&z->lock);
}

static struct cache_entry *
cache_slot(struct ztconn *z, uint32_t action, const char *object)
{
	return &z->cache[hash_key(action, object) % CACHE_SLOTS];
}

/* Reserve a slot and start z->out as a request of TYPE (lock held). */
static int
ask_begin(struct ztconn *z, enum zt_msg_type type, struct wait_slot **out)
{
	struct wait_slot *slot = NULL;

	for (size_t i = 0; i < WAIT_SLOTS && slot == NULL; i++)
		if (!z->slots[i].busy)
			slot = &z->slots[i];
	if (slot == NULL)
		return -EBUSY;
	slot->busy = true;
	slot->done = false;
	slot->learn = false;
	slot->meanwhile = NULL;
	slot->id = ++z->next_id;
	if (slot->id == 0)
		slot->id = ++z->next_id;
	*out = slot;
	return zt_msg_init(&z->out, type, slot->id);
}

/*
 * Wait for SLOT's reply until DEADLINE (lock held; released while
 * waiting), taking it off the connection itself when it is the next
 * message there: the reader thread would read it and then wake this one,
 * one more wake-up on the answer's path.  Only the reply this thread waits
 * for is taken here, and under the lock as the reader takes every
 * message, so the order in which ztd's messages are applied is
 * unchanged: anything before it (an event, another thread's reply) is
 * the reader's, waited for.  One thread at a time does so; the others,
 * and this one when the connection changes, wait for the reader.
 */
static void
take_reply(struct ztconn *z, struct wait_slot *slot,
    const struct timespec *deadline)
{
	bool direct = z->direct == 0 && z->direct_wake >= 0;
	uint32_t id = slot->id;
	int fd = z->fd;

	if (direct) {
		eventfd_t ignored;

		z->direct = slot->id;
		eventfd_read(z->direct_wake, &ignored);	/* a stale one */
	}
	/* Until it is answered, or freed and taken again by its owner (a
	 * LEARN waited for by a connect, learn_wait_all). */
	while (!slot->done && slot->busy && slot->id == id) {
		struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
		    { .fd = z->direct_wake, .events = POLLIN } };
		struct timespec now;
		uint8_t head[12];
		ssize_t n;
		int64_t left;

		if (slot->meanwhile != NULL && (!direct || recv(fd, head,
		    sizeof(head), MSG_PEEK | MSG_DONTWAIT) < 0)) {
			/* Nothing to read yet: the asker's own work now,
			 * then look again. */
			void (*fn)(void *) = slot->meanwhile;

			slot->meanwhile = NULL;
			pthread_mutex_unlock(&z->lock);
			fn(slot->meanwhile_arg);
			pthread_mutex_lock(&z->lock);
			continue;
		}
		if (!direct || z->fd != fd || fd < 0 || z->stopping) {
			if (pthread_cond_timedwait(&z->cond, &z->lock,
			    deadline) == ETIMEDOUT)
				break;
			continue;
		}
		n = recv(fd, head, sizeof(head), MSG_PEEK | MSG_DONTWAIT);
		if (n == (ssize_t)sizeof(head) &&
		    ((uint32_t)head[8] << 24 | (uint32_t)head[9] << 16 |
		    (uint32_t)head[10] << 8 | head[11]) == id) {
			bool ended = false, event_seen = false;
			int r = zt_msg_recv(fd, &z->scratch);

			/* As the reader does with what it reads. */
			if (r == 0)
				handle_message(z, &z->scratch, &ended,
				    &event_seen);
			else if (r != -EAGAIN && r != -EINTR)
				lose_connection(z, zt_strerror(r));
			continue;
		}
		if (n >= 0 || (errno != EAGAIN && errno != EINTR)) {
			/* Another message first, an end, an error: the
			 * reader's; it broadcasts once it applied one. */
			if (pthread_cond_timedwait(&z->cond, &z->lock,
			    deadline) == ETIMEDOUT)
				break;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (deadline->tv_sec - now.tv_sec) * 1000 +
		    (deadline->tv_nsec - now.tv_nsec) / 1000000;
		if (left <= 0)
			break;
		/* In slices: the connection may be closed and its number
		 * reused meanwhile (the loop then sees z->fd change). */
		pthread_mutex_unlock(&z->lock);
		poll(pfd, 2, left < 100 ? (int)left : 100);
		pthread_mutex_lock(&z->lock);
	}
	if (direct)
		z->direct = 0;
}

/*
 * Send z->out (with PIDFD, -1: none) and wait for SLOT's reply of type
 * EXPECTED (lock held; released while waiting).  0, or a reason in WHY.
 */
static int await_reply(struct ztconn *z, struct wait_slot *slot,
    enum zt_msg_type expected, char *why, size_t size);

static int
ask_finish(struct ztconn *z, struct wait_slot *slot, int pidfd,
    enum zt_msg_type expected, char *why, size_t size)
{
	int r;

	if ((r = zt_msg_send_fd(z->fd, &z->out, pidfd)) < 0) {
		snprintf(why, size, "could not ask ztd: %s", zt_strerror(r));
		return r;
	}
	return await_reply(z, slot, expected, why, size);
}

/* Wait for SLOT's reply, sent, of type EXPECTED (lock held; released
 * while waiting): 0, or a reason in WHY. */
static int
await_reply(struct ztconn *z, struct wait_slot *slot,
    enum zt_msg_type expected, char *why, size_t size)
{
	struct timespec deadline;
	const char *text = "";
	int r;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ZTCONN_WAIT_MS / 1000;
	take_reply(z, slot, &deadline);
	if (!slot->done) {
		snprintf(why, size, "ztd did not answer in time");
		return ZT_E_TIMEOUT;
	}
	if (slot->status != 0) {
		snprintf(why, size, "the connection to ztd was lost");
		return slot->status;
	}
	if ((r = zt_client_reply_error(&slot->reply, expected, &text)) != 0) {
		snprintf(why, size, "ztd: %s%s%s", zt_strerror(r),
		    text[0] ? ": " : "", text);
		return r;
	}
	return 0;
}

/* Is the grant still usable (lock held)?  Otherwise WHY says why. */
static bool
usable(struct ztconn *z, char *why, size_t size)
{
	if (z->grant_live && ztconn_now_ms() >= z->expires_ms) {
		bool ignored = false;

		grant_over(z, "grant expired", &ignored);
	}
	if (!z->grant_live) {
		snprintf(why, size, "the grant is over: %s", z->grant_end_why);
		return false;
	}
	if (z->fd < 0) {
		snprintf(why, size, "ztd is unreachable");
		return false;
	}
	return true;
}

/*
 * ARGV (LEN bytes, argv[1..] each ending in NUL) into the DECIDE being
 * built: the whole arguments that fit what room the message has left,
 * and ZT_DECIDE_ARGV_CUT when not all did (ztd then matches no args
 * alternative).
 */
static int
put_argv(struct zt_msg *m, const char *argv, size_t len)
{
	/* A field header each for ARGV and FLAGS, and FLAGS' value. */
	size_t need = 2 * ZT_MSG_FIELD_HEADER_SIZE + 4;
	size_t room = m->size + need < ZT_MSG_MAX ? ZT_MSG_MAX - m->size -
	    need : 0;
	size_t fit = len;
	int r;

	if (fit > room) {
		fit = room;
		while (fit > 0 && argv[fit - 1] != '\0')
			fit--;
	}
	if ((r = zt_msg_put_bytes(m, ZT_F_ARGV, argv, fit)) < 0)
		return r;
	return fit < len ? zt_msg_put_u32(m, ZT_F_FLAGS, ZT_DECIDE_ARGV_CUT) :
	    0;
}

/*
 * Has the reader thread applied every message ztd has sent so far (lock
 * held)?  It reads and applies each one under the lock, so nothing unread
 * on the connection means yes; anything unread (an event, another
 * thread's answer), a hang-up or an error means perhaps not.
 */
static bool
caught_up(struct ztconn *z)
{
	struct pollfd pfd = { .fd = z->fd, .events = POLLIN };

	return z->fd >= 0 && poll(&pfd, 1, 0) == 0;
}

/*
 * Wait (lock held, let go meanwhile) until the reader thread has applied
 * what ztd sent, CATCH_UP_MS at most: caught_up's answer then.  Something
 * unread on the connection is most often a reply that only the reader's
 * turn on the CPU separates from being read (one to another thread's
 * request, ztd's certificate of a launch); asking ztd instead would wait
 * for the reader to read that message and then the answer.  An event it
 * applies drops the cache: the caller looks again.
 */
static bool
catch_up(struct ztconn *z)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += CATCH_UP_MS / 1000;
	z->catching_up++;
	while (!z->stopping && !caught_up(z) && z->fd >= 0)
		if (pthread_cond_timedwait(&z->cond, &z->lock, &until) ==
		    ETIMEDOUT)
			break;
	z->catching_up--;
	return caught_up(z);
}

/*
 * Keep ztd's allow of ACTION on OBJECT for TTL ms in the cache (lock
 * held): no longer than the profile's decision_ttl, the grant, nor the end
 * UNTIL_MS its TOKEN (TOKEN_SIZE bytes) proves; nothing without a token,
 * which every hit reported needs.
 */
static void
cache_keep(struct ztconn *z, uint32_t action, const char *object,
    uint32_t ttl, const void *token, size_t token_size, uint64_t until_ms,
    bool ahead, uint32_t flags)
{
	struct cache_entry *e = cache_slot(z, action, object);
	int64_t now = ztconn_now_ms(), until = now + ttl;

	if (ttl == 0 || token_size != ZT_TOKEN_SIZE ||
	    strlen(object) >= CACHE_OBJECT_MAX)
		return;
	if (until > now + (int64_t)z->decision_ttl * 1000)
		until = now + (int64_t)z->decision_ttl * 1000;
	if (until > z->expires_ms)
		until = z->expires_ms;
	/* Never past the end the token proves (same clock). */
	if (until_ms < (uint64_t)INT64_MAX && until > (int64_t)until_ms)
		until = (int64_t)until_ms;
	z->cache_used[(size_t)(e - z->cache) / 64] |=
	    1ull << ((size_t)(e - z->cache) % 64);
	e->action = action;
	snprintf(e->object, sizeof(e->object), "%s", object);
	memcpy(e->token, token, sizeof(e->token));
	e->until_ms = until_ms;
	e->expires_ms = until;
	e->ahead = ahead;
	e->unrecorded = ahead;
	e->flags = flags;
}

/*
 * The allows of ACTION ztd decided ahead (ZT_F_ALLOWS of REPLY, see
 * zt_msg.h) into the cache, as decide() keeps the allow it asked for
 * (lock held), only when no invalidation came since EPOCH, when the
 * request was sent.
 */
static void
cache_keep_ahead(struct ztconn *z, const struct zt_msg *reply, uint64_t epoch,
    enum action only)
{
	struct zt_record allows, allow;
	size_t cursor = 0;

	if (epoch != z->cache_epoch ||
	    zt_msg_get_record(reply, ZT_F_ALLOWS, &allows) < 0)
		return;
	while (zt_record_next(&allows, ZT_F_ALLOW, &cursor, &allow) == 0) {
		uint32_t action = 0, ttl = 0, flags = 0;
		uint64_t until_ms = 0;
		const char *object = "";
		const void *token = NULL;
		size_t token_size = 0;

		/* The schema requires every field of an ALLOW. */
		zt_record_get_u32(&allow, ZT_F_ACTION, &action);
		zt_record_get_str(&allow, ZT_F_OBJECT, &object);
		zt_record_get_u32(&allow, ZT_F_TTL_MS, &ttl);
		zt_record_get_bytes(&allow, ZT_F_TOKEN, &token, &token_size);
		zt_record_get_u64(&allow, ZT_F_CACHE_UNTIL, &until_ms);
		zt_record_get_u32(&allow, ZT_F_FLAGS, &flags);
		if (action == (uint32_t)only)
			cache_keep(z, action, object, ttl, token, token_size,
			    until_ms, true, flags);
	}
}

/*
 * Wait (lock held, let go meanwhile) until no LEARN sent is unanswered,
 * ZTCONN_WAIT_MS at most: the grant's resolver answers the agent as soon
 * as LEARN is sent, and the connect that follows is allowed ahead by its
 * answer (kept in the cache as it is read).  Asking ztd instead would be
 * answered after the LEARN anyway (one connection, read in order), one
 * round trip later.  Nothing is allowed here: only what ztd sent is.
 */
static void
learn_wait_all(struct ztconn *z)
{
	struct timespec deadline;
	bool timed = false;

	while (!z->stopping && z->fd >= 0) {
		struct wait_slot *slot = NULL;

		for (uint64_t bits = z->learning; bits != 0 && slot == NULL;
		    bits &= bits - 1)
			if (!z->slots[__builtin_ctzll(bits)].done)
				slot = &z->slots[__builtin_ctzll(bits)];
		if (slot == NULL)
			break;
		if (!timed) {
			clock_gettime(CLOCK_MONOTONIC, &deadline);
			deadline.tv_sec += ZTCONN_WAIT_MS / 1000;
			timed = true;
		}
		/* Taken off the connection here when it is next there (the
		 * resolver's thread is most often still giving the agent
		 * its reply): the reader's wake-up saved. */
		take_reply(z, slot, &deadline);
		if (!slot->done && slot->busy && slot->learn)
			break;		/* timed out */
	}
}

/* ztconn_decide, from the local cache too when CACHED (and then what
 * ztd allows is kept there) -- when CURRENT, only while caught_up --, else
 * always by ztd; MEANWHILE (non-NULL) as ztconn_decide_meanwhile's. */
static void
decide(struct ztconn *z, enum action action, const char *object,
    const char *argv, size_t argv_len, int pidfd, pid_t actor, bool cached,
    bool current, void (*meanwhile)(void *), void *meanwhile_arg,
    struct ztconn_verdict *out)
{
	struct cache_entry *e = cache_slot(z, (uint32_t)action, object);
	struct wait_slot *slot = NULL;
	uint32_t decision = 0, ttl = 0, risk = 1, tunnel = 0, flags = 0;
	const char *text = "";
	const void *token = NULL;
	size_t token_size = 0;
	uint64_t until_ms = 0, epoch;
	int r;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&z->lock);
	if (!usable(z, out->reason, sizeof(out->reason)))
		goto out;
	/* A LEARN sent before may bring this connect's allow: its answer is
	 * waited for first (the resolver answers the agent before it). */
	if (cached && action == ACTION_CONNECT)
		learn_wait_all(z);
	if (cached && e->expires_ms > ztconn_now_ms() &&
	    e->action == (uint32_t)action &&
	    strcmp(e->object, object) == 0 &&
	    (!(current || e->ahead) || caught_up(z) || catch_up(z)) &&
	    /* Caught up, the entry may have been dropped meanwhile. */
	    e->expires_ms > ztconn_now_ms() &&
	    e->action == (uint32_t)action &&
	    strcmp(e->object, object) == 0 &&
	    report_add(z, e, actor)) {
		/*
		 * An allow decided ahead has no record until it is used:
		 * its first use is sent to ztd now, before the answer
		 * leaves (not waited for: ztd audits it as it reads it),
		 * as ztd writes its own records before its answers.  One
		 * that cannot be sent is not used.
		 */
		if (e->unrecorded && report_flush(z) < 0) {
			z->report_count--;	/* still queued: ours last */
			goto ask;
		}
		e->unrecorded = false;
		out->allow = true;
		out->local = true;
		out->resolve_flags = e->flags;
		out->epoch = z->cache_epoch;
		snprintf(out->reason, sizeof(out->reason), "cached allow");
		goto out;
	}
ask:
	if ((r = ask_begin(z, ZT_MSG_DECIDE, &slot)) < 0 ||
	    (r = zt_msg_put_u32(&z->out, ZT_F_ACTION, (uint32_t)action)) < 0 ||
	    (r = zt_msg_put_str(&z->out, ZT_F_OBJECT, object)) < 0 ||
	    (r = zt_msg_put_str(&z->out, ZT_F_GRANT, z->grant)) < 0 ||
	    (actor > 0 && (r = zt_msg_put_u32(&z->out, ZT_F_PID,
	    (uint32_t)actor)) < 0) ||
	    (argv != NULL && (r = put_argv(&z->out, argv, argv_len)) < 0)) {
		snprintf(out->reason, sizeof(out->reason), "could not ask "
		    "ztd: %s", zt_strerror(r));
		goto free_slot;
	}
	epoch = z->cache_epoch;
	slot->meanwhile = meanwhile;
	slot->meanwhile_arg = meanwhile_arg;
	if (ask_finish(z, slot, pidfd, ZT_MSG_DECISION, out->reason,
	    sizeof(out->reason)) < 0)
		goto free_slot;
	zt_msg_get_u32(&slot->reply, ZT_F_DECISION, &decision);
	zt_msg_get_str(&slot->reply, ZT_F_REASON, &text);
	zt_msg_get_u32(&slot->reply, ZT_F_TTL_MS, &ttl);
	zt_msg_get_u32(&slot->reply, ZT_F_RISK, &risk);
	snprintf(out->reason, sizeof(out->reason), "%s", text);
	out->allow = decision == ZT_DECISION_ALLOW;
	if (out->allow && action == ACTION_RESOLVE &&
	    zt_msg_get_u32(&slot->reply, ZT_F_FLAGS, &flags) == 0)
		out->resolve_flags = flags;
	out->epoch = epoch;		/* an event since: no longer it */
	if (out->allow && zt_msg_get_u32(&slot->reply, ZT_F_TUNNEL,
	    &tunnel) == 0 && tunnel != 0) {
		out->tunnel = true;
		text = "";
		zt_msg_get_str(&slot->reply, ZT_F_SERVER_NAME, &text);
		snprintf(out->server_name, sizeof(out->server_name), "%s",
		    text);
		text = "";
		zt_msg_get_str(&slot->reply, ZT_F_CA, &text);
		snprintf(out->ca, sizeof(out->ca), "%s", text);
	}
	/* Only low-risk allows with a TTL, within the grant, are kept; a
	 * tunnel's never (the next connect needs its tunnel too); and only
	 * with ztd's token, without which no hit could be reported. */
	if (cached && epoch == z->cache_epoch && out->allow && risk == 0 &&
	    !out->tunnel &&
	    zt_msg_get_bytes(&slot->reply, ZT_F_TOKEN, &token,
	    &token_size) == 0 &&
	    zt_msg_get_u64(&slot->reply, ZT_F_CACHE_UNTIL, &until_ms) == 0)
		cache_keep(z, (uint32_t)action, object, ttl, token, token_size,
		    until_ms, false, out->resolve_flags);
free_slot:
	if (slot != NULL)
		slot->busy = false;
out:
	pthread_mutex_unlock(&z->lock);
}

void
ztconn_decide(struct ztconn *z, enum action action, const char *object,
    int pidfd, pid_t actor, struct ztconn_verdict *out)
{
	decide(z, action, object, NULL, 0, pidfd, actor, true, false, NULL,
	    NULL, out);
}

void
ztconn_decide_meanwhile(struct ztconn *z, enum action action,
    const char *object, pid_t actor, void (*meanwhile)(void *), void *arg,
    struct ztconn_verdict *out)
{
	decide(z, action, object, NULL, 0, -1, actor, true, false, meanwhile,
	    arg, out);
}

void
ztconn_decide_exec(struct ztconn *z, enum action action, const char *object,
    const char *argv, size_t argv_len, int pidfd, pid_t actor,
    struct ztconn_verdict *out)
{
	decide(z, action, object, argv, argv_len, pidfd, actor, true, false,
	    NULL, NULL, out);
}

void
ztconn_decide_current(struct ztconn *z, enum action action,
    const char *object, pid_t actor, struct ztconn_verdict *out)
{
	decide(z, action, object, NULL, 0, -1, actor, true, true, NULL, NULL,
	    out);
}

int
ztconn_sign(struct ztconn *z, const void *csr, size_t csr_size,
    uint8_t *cert, size_t *cert_size, char serial[33], int64_t *not_after,
    int64_t *lifetime_ms, char *why, size_t size)
{
	struct wait_slot *slot = NULL;
	const void *der;
	const char *hex;
	uint64_t until, ms;
	size_t n;
	int r;

	pthread_mutex_lock(&z->lock);
	if (!usable(z, why, size)) {
		r = ZT_E_PERM;
		goto out;
	}
	if ((r = ask_begin(z, ZT_MSG_SIGN, &slot)) < 0 ||
	    (r = zt_msg_put_str(&z->out, ZT_F_GRANT, z->grant)) < 0 ||
	    (r = zt_msg_put_bytes(&z->out, ZT_F_CSR, csr, csr_size)) < 0) {
		snprintf(why, size, "could not ask ztd: %s", zt_strerror(r));
		goto out;
	}
	if ((r = ask_finish(z, slot, -1, ZT_MSG_SIGN_REPLY, why, size)) < 0)
		goto out;
	zt_msg_get_bytes(&slot->reply, ZT_F_CERT, &der, &n);
	zt_msg_get_str(&slot->reply, ZT_F_SERIAL, &hex);
	zt_msg_get_u64(&slot->reply, ZT_F_NOT_AFTER, &until);
	zt_msg_get_u64(&slot->reply, ZT_F_EXPIRES_MS, &ms);
	if (ms > INT32_MAX) {
		snprintf(why, size, "ztd's certificate lifetime is out of "
		    "range");
		r = ZT_E_PROTOCOL;
		goto out;
	}
	if (n > *cert_size) {
		snprintf(why, size, "the certificate is too large");
		r = -ENOSPC;
		goto out;
	}
	memcpy(cert, der, n);
	*cert_size = n;
	snprintf(serial, 33, "%s", hex);
	*not_after = (int64_t)until;
	*lifetime_ms = (int64_t)ms;
out:
	if (slot != NULL)
		slot->busy = false;
	pthread_mutex_unlock(&z->lock);
	return r;
}

/* The LEARN request for the question CHAIN[0] into z->out (lock held). */
static int
put_learn(struct ztconn *z, const char (*chain)[256], size_t n_chain,
    const struct ztconn_answer *addrs, size_t n_addrs)
{
	char object[260], list[8 * 256 + 8];
	size_t used = 0;
	int r;

	snprintf(object, sizeof(object), "dns:%s", chain[0]);
	list[0] = '\0';
	for (size_t i = 0; i < n_chain && i < 8; i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used,
		    "%s%s", i > 0 ? "\n" : "", chain[i]);
	if ((r = zt_msg_put_str(&z->out, ZT_F_GRANT, z->grant)) < 0 ||
	    (r = zt_msg_put_str(&z->out, ZT_F_OBJECT, object)) < 0 ||
	    (r = zt_msg_put_str(&z->out, ZT_F_LIST, list)) < 0)
		return r;
	if (n_addrs == 0)
		return 0;
	if ((r = zt_msg_begin_record(&z->out, ZT_F_ANSWERS)) < 0)
		return r;
	for (size_t i = 0; i < n_addrs && i < ZT_ANSWERS_MAX; i++) {
		const struct ztconn_answer *a = &addrs[i];
		uint32_t ttl_ms = a->ttl > UINT32_MAX / 1000 ? UINT32_MAX :
		    a->ttl * 1000;

		if (a->owner >= n_chain)
			return -EINVAL;
		if ((r = zt_msg_begin_record(&z->out, ZT_F_ANSWER)) < 0)
			return r == ZT_E_NOSPACE ? zt_msg_end_record(&z->out) : r;
		if ((r = zt_msg_put_str(&z->out, ZT_F_NAME,
		    chain[a->owner])) < 0 ||
		    (r = zt_msg_put_bytes(&z->out, ZT_F_ADDRESS, a->addr,
		    a->family == AF_INET ? 4 : 16)) < 0 ||
		    (r = zt_msg_put_u32(&z->out, ZT_F_TTL_MS, ttl_ms)) < 0 ||
		    (r = zt_msg_end_record(&z->out)) < 0) {
			/* What does not fit in one message is not learned
			 * (long names): the bits of ztd's reply say so. */
			if (r != ZT_E_NOSPACE || zt_msg_cancel_record(&z->out) < 0)
				return r;
			break;
		}
	}
	return zt_msg_end_record(&z->out);
}

int
ztconn_learn_send(struct ztconn *z, const char (*chain)[256], size_t n_chain,
    const struct ztconn_answer *addrs, size_t n_addrs, uint32_t *id,
    char *why, size_t size)
{
	struct wait_slot *slot = NULL;
	int r;

	*id = 0;
	pthread_mutex_lock(&z->lock);
	if (!usable(z, why, size)) {
		r = ZT_E_PERM;
		goto out;
	}
	if ((r = ask_begin(z, ZT_MSG_LEARN, &slot)) < 0 ||
	    (r = put_learn(z, chain, n_chain, addrs, n_addrs)) < 0) {
		snprintf(why, size, "could not tell ztd: %s", zt_strerror(r));
		goto out;
	}
	slot->learn = true;
	slot->epoch = z->cache_epoch;
	if ((r = zt_msg_send(z->fd, &z->out)) < 0) {
		snprintf(why, size, "could not tell ztd: %s", zt_strerror(r));
		goto out;
	}
	*id = slot->id;
	z->learning |= 1ull << (slot - z->slots);
	slot = NULL;			/* learn_finish's */
out:
	if (slot != NULL) {
		slot->learn = false;
		slot->busy = false;
	}
	pthread_mutex_unlock(&z->lock);
	return r;
}

int
ztconn_learn_finish(struct ztconn *z, uint32_t id, size_t n_chain,
    size_t *kept_chain, uint32_t *kept, char *why, size_t size)
{
	struct wait_slot *slot = NULL;
	uint32_t count = 0, flags = 0;
	int r;

	*kept_chain = 0;
	*kept = 0;
	pthread_mutex_lock(&z->lock);
	for (uint64_t bits = z->learning; bits != 0 && slot == NULL;
	    bits &= bits - 1)
		if (z->slots[__builtin_ctzll(bits)].id == id)
			slot = &z->slots[__builtin_ctzll(bits)];
	if (slot == NULL) {
		snprintf(why, size, "no LEARN %u is waiting", id);
		r = ZT_E_PROTOCOL;
		goto out;
	}
	if ((r = await_reply(z, slot, ZT_MSG_REPORT_REPLY, why, size)) == 0) {
		/* Its connects decided ahead were kept as it was read. */
		zt_msg_get_u32(&slot->reply, ZT_F_COUNT, &count);
		zt_msg_get_u32(&slot->reply, ZT_F_FLAGS, &flags);
		*kept_chain = count < n_chain ? count : n_chain;
		*kept = flags;
	}
	/* Answered, failed or timed out: no connect waits for it any more
	 * (one that asks ztd now is asked after it on the connection). */
	z->learning &= ~(1ull << (slot - z->slots));
	slot->learn = false;
	slot->busy = false;
	pthread_cond_broadcast(&z->cond);
out:
	pthread_mutex_unlock(&z->lock);
	return r;
}

int
ztconn_learn(struct ztconn *z, const char (*chain)[256], size_t n_chain,
    const struct ztconn_answer *addrs, size_t n_addrs, size_t *kept_chain,
    uint32_t *kept, char *why, size_t size)
{
	uint32_t id;
	int r;

	*kept_chain = 0;
	*kept = 0;
	if ((r = ztconn_learn_send(z, chain, n_chain, addrs, n_addrs, &id,
	    why, size)) < 0)
		return r;
	return ztconn_learn_finish(z, id, n_chain, kept_chain, kept, why,
	    size);
}

void
ztconn_warm(struct ztconn *z)
{
	pthread_mutex_lock(&z->lock);
	/* ask_begin takes the first free slot. */
	for (size_t i = 0; i < WAIT_SLOTS; i++)
		if (!z->slots[i].busy) {
			memset(&z->slots[i].reply, 0, sizeof(z->slots[i].reply));
			break;
		}
	for (size_t i = z->report_count; i < z->report_count + 2 &&
	    i < REPORT_QUEUE_MAX; i++)
		memset(&z->report[i], 0, sizeof(z->report[i]));
	/* Built and sent under the lock only: free now. */
	memset(&z->out, 0, sizeof(z->out));
	pthread_mutex_unlock(&z->lock);
}

uint64_t
ztconn_epoch(struct ztconn *z)
{
	uint64_t epoch;

	pthread_mutex_lock(&z->lock);
	epoch = (caught_up(z) || catch_up(z)) &&
	    z->cache_epoch != ZTCONN_EPOCH_UNSURE ? z->cache_epoch :
	    ZTCONN_EPOCH_UNSURE;
	pthread_mutex_unlock(&z->lock);
	return epoch;
}

bool
ztconn_connected(struct ztconn *z)
{
	bool up;

	pthread_mutex_lock(&z->lock);
	up = z->fd >= 0;
	pthread_mutex_unlock(&z->lock);
	return up;
}

/* The connection ztconn_stop ended, kept for late callers. */
static struct ztconn *stopped;

void
ztconn_stop(struct ztconn *z)
{
	pthread_mutex_lock(&z->lock);
	z->stopping = true;
	report_flush(z);
	if (z->fd >= 0 && z->grant_live &&
	    zt_msg_init(&z->out, ZT_MSG_SESSION_CLOSE, ++z->next_id) == 0 &&
	    zt_msg_put_str(&z->out, ZT_F_GRANT, z->grant) == 0)
		zt_msg_send(z->fd, &z->out);
	/*
	 * From here on every decision is denied at once, by this process
	 * (a thread still asking: a resolver or tunnel thread, a worker on
	 * a notification of a task that outlived the root), as the closed
	 * connection denied them.  The connection, the reader and the cache
	 * end with the process, whose exit comes next: ztd reads what the
	 * connection holds before its end (and, when the exit comes first,
	 * before it acts on it: server_drain_pid), not waiting for its
	 * answer to the close.  Neither the reader woken and joined nor the
	 * cache dropped on the way out: 0.10-0.19 ms of every launch's end,
	 * profiled (the reader's wake-up and exit, the main thread's wait,
	 * the drop), where the exit's own kill of the threads goes on beside
	 * the rest of the exit.
	 */
	z->grant_live = false;
	snprintf(z->grant_end_why, sizeof(z->grant_end_why),
	    "the agent ended");
	pthread_mutex_unlock(&z->lock);
	/* Not freed: those threads are detached and may still come (zt-exec
	 * exits next); they are denied.  Kept where a leak check sees it
	 * reachable. */
	stopped = z;
}

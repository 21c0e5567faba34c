/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The grant's resolver.  Each TCP connection of the agent to port 53 is
 * bridged here and served by one of the resolver's threads (made when no
 * thread is free, up to RESOLVER_CONNS_MAX, then kept for the next
 * connection: glibc opens one per lookup), one length-prefixed message at
 * a time (RFC 1035 4.2.2):
 *   - a malformed query gets FORMERR (or NOTIMP), one that is no query
 *     ends the connection;
 *   - the name is a resolve decision of ztd's (audited there, allow or
 *     deny), from zt-exec's cache only while nothing ztd sent is left
 *     unapplied (ztconn_decide_current), so that after a reload the next
 *     question is decided by the new policy; a name no host rule names
 *     gets REFUSED and never leaves the host, and so does any question
 *     but A and AAAA;
 *   - an allowed question goes upstream over TCP with a fresh random id,
 *     and only an answer to that id and that question is taken; the TCP
 *     connection is kept for the next question (at most UPSTREAM_POOL
 *     idle ones) when its exchange was clean, closed on any error, any
 *     foreign message or a timeout, and one whose reuse fails before any
 *     answer byte (the server closed it while idle) is replaced by a new
 *     one, once; one idle for UPSTREAM_IDLE_MS is closed (by a waiting
 *     thread of the resolver, or when next taken): a server's TCP slots
 *     are few (unbound's incoming-num-tcp: 10 by default);
 *   - ztd is told the CNAME chain and the addresses (LEARN), checks them
 *     against the policy and says which it remembers; the agent's answer
 *     holds those only, TTLs cut to dns.max_ttl.  When ztd's allow of the
 *     question said what LEARN keeps (ZT_RESOLVE_*: a host rule names it,
 *     one says private = true) and the answer has no CNAME, the agent is
 *     answered right after LEARN is sent, with the addresses ztd will
 *     keep (zt_addr_private, ztd's own test), and LEARN's reply taken
 *     after (learn_settle); the connect to such an address waits for that
 *     reply in ztconn, and is allowed only by what ztd sent.  What ztd kept is noted
 *     here (MEMO_SLOTS questions): while nothing ztd pushed has come
 *     since (ztconn_epoch), the same answer again, whose TTLs would not
 *     shorten what ztd remembers, is answered with what ztd kept without
 *     telling ztd again, its TTLs cut to what ztd still remembers (ztd's
 *     memory is only left to run out sooner, never made longer); past
 *     half of it, or MEMO_MAX_MS after the LEARN, ztd is told again.
 *     Within those bounds the note answers an allowed question itself,
 *     without the upstream (memo_answer), as a cache: never past a kept
 *     record's TTL (cut to max_ttl) nor what ztd remembers.
 * Each agent connection is bridged through a loopback socket kept from
 * one to the next (by family; tunnel_bridge_agent_via: it listens for
 * that bridge only, on a new port, and only the agent's socket is taken).
 * The resolver's first thread starts with it and, while the agent starts,
 * makes what the first question would wait for: a connection to the
 * first upstream (in the pool as any idle one, nothing sent on it before a
 * question ztd allowed), the IPv4 bridge socket and the pages the first
 * answers write (the notes, the first connection slots, ztconn's first
 * reply and report); each
 * serving thread, as it starts, readies ldns (its code, the dynamic
 * linker's binding, the thread's malloc arena) and its stack.
 * Memory is bounded by RESOLVER_CONNS_MAX connections and their buffers,
 * UPSTREAM_POOL upstream connections and MEMO_SLOTS notes.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dnsmsg.h"
#include "resolver.h"
#include "tunnel.h"
#include "zt_addr.h"
#include "zt_clock.h"
#include "zt_log.h"
#include "zt_msg.h"

#define UPSTREAMS_MAX 8
#define IDLE_MS 30000			/* a silent agent connection ends */
#define READ_MS 5000			/* the rest of a message */
#define UPSTREAM_MS 5000		/* one upstream's whole exchange */
#define RESOLV_CONF "/etc/resolv.conf"
#define DNS_REPLY_MAX 8192		/* our replies: a chain and 32
					 * addresses at most */
#define UPSTREAM_POOL 4			/* idle upstream connections kept */
#define UPSTREAM_IDLE_MS 5000		/* an idle one is closed after it */
#define MEMO_SLOTS 32			/* questions whose LEARN is noted */
#define STACK_WARM (32 * 1024)	/* a serving thread's stack made ready */
#define CONNS_WARM 2			/* connection slots made ready */
#define MEMO_MAX_MS 10000		/* a note is recalled this long at most:
					 * ztd may have to drop what it kept
					 * (dns.max_entries, only ever filled
					 * by the grant's own agents) */

/* An idle upstream connection, its exchanges all clean. */
struct upconn {
	int fd;				/* -1: none */
	size_t server;			/* an index into upstream[] */
	int64_t idle_since;		/* zt_monotonic_ms() */
};

/*
 * What ztd kept of the answer to a question (LEARN), while no event of
 * ztd's has come since (EPOCH): the answer, and when ztd forgets each
 * address at the earliest (EXPIRES_MS, CLOCK_BOOTTIME: the LEARN's send
 * plus the TTL ztd was told, cut to max_ttl; ztd keeps it that long at
 * least).
 */
struct memo {
	bool used;
	uint64_t epoch;
	uint16_t type;
	int64_t learned_ms, until_ms;	/* until: the earliest expiry */
	size_t kept_chain;
	uint32_t kept;
	struct dns_answer answer;
	int64_t expires_ms[DNS_ADDRS_MAX];
};

struct resolver {
	struct ztconn *ztd;
	char agent[65];
	unsigned max_ttl;
	struct sockaddr_storage upstream[UPSTREAMS_MAX];
	socklen_t upstream_len[UPSTREAMS_MAX];
	size_t n_upstream;
	pthread_mutex_t lock;
	pthread_cond_t ready;		/* a connection is queued, or closed */
	pthread_cond_t opened;		/* OPENING went false */
	bool opening;			/* the first thread is opening the
					 * first upstream's first connection */
	bool closed;
	struct conn *conns;		/* RESOLVER_CONNS_MAX, made once */
	struct conn *queue[RESOLVER_CONNS_MAX];	/* bridged, unserved */
	size_t queued, threads, waiting;
	size_t untimed;			/* of those waiting: with no timer */
	struct upconn pool[UPSTREAM_POOL];
	struct memo *memos;		/* MEMO_SLOTS, made once */
	/* The loopback socket agent connections are bridged through, by
	 * family (AF_INET, AF_INET6), kept from one to the next (-1: none
	 * yet), and whether a bridge uses it now (then another makes a
	 * one-shot listener of its own). */
	int bridge_lfd[2];
	bool bridging[2];
};

/* One agent connection's state and buffers: a fixed slot, so that what
 * the resolver holds never grows with the names asked. */
struct conn {
	struct resolver *r;
	int fd;				/* our end; -1 free, -2 being set up,
					 * -3 being closed */
	pid_t actor;
	uint16_t ids[32];		/* random ids for upstream questions,
					 * each used once */
	size_t n_ids;
	struct dns_answer answer;
	/* A LEARN sent for ANSWER, the reply already given (learn_settle):
	 * its id (0: none), question, epoch, send time, what was given. */
	uint32_t learn_id;
	struct dns_question learn_q;
	uint64_t learn_epoch;
	int64_t learn_ms;
	uint32_t learn_given;
	uint8_t in[DNS_QUERY_MAX];
	uint8_t up[DNS_ANSWER_MAX];
	uint8_t out[DNS_REPLY_MAX + 2];
};

/* "ADDR:PORT", "[ADDR6]:PORT" or a bare address (port 53) into SS. */
static bool
parse_server(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL, *close;
	unsigned long v = 53;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (text[0] == '[' && (close = strchr(text, ']')) != NULL) {
		n = (size_t)(close - text - 1);
		text++;
		port = close[1] == ':' ? close + 2 : NULL;
	} else if (strchr(text, ':') != NULL &&
	    strchr(text, ':') == strrchr(text, ':')) {
		n = (size_t)(strchr(text, ':') - text);
		port = text + n + 1;
	} else
		n = strlen(text);
	if (n >= sizeof(host))
		return false;
	memcpy(host, text, n);
	host[n] = '\0';
	if (port != NULL) {
		char *end;

		v = strtoul(port, &end, 10);
		if (*end != '\0' || end == port || v < 1 || v > 65535)
			return false;
	}
	if (inet_pton(AF_INET, host,
	    &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)v);
		*len = sizeof(struct sockaddr_in);
		return true;
	}
	if (inet_pton(AF_INET6, host,
	    &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)v);
		*len = sizeof(struct sockaddr_in6);
		return true;
	}
	return false;
}

static void
add_server(struct resolver *r, const char *text)
{
	if (r->n_upstream < UPSTREAMS_MAX &&
	    parse_server(text, &r->upstream[r->n_upstream],
	    &r->upstream_len[r->n_upstream]))
		r->n_upstream++;
	else
		zt_log(LOG_WARNING, "agent %s: resolver: ignoring DNS server "
		    "\"%.64s\"", r->agent, text);
}

/* The "nameserver ADDR" lines of /etc/resolv.conf. */
static void
read_resolv_conf(struct resolver *r)
{
	FILE *f = fopen(RESOLV_CONF, "re");
	char line[512];

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *word = strtok(line, " \t\r\n"), *addr;

		if (word == NULL || strcmp(word, "nameserver") != 0 ||
		    (addr = strtok(NULL, " \t\r\n")) == NULL)
			continue;
		/* A scoped address ("fe80::1%eth0") is not supported. */
		if (strchr(addr, '%') == NULL && strchr(addr, ':') != NULL) {
			char bracketed[INET6_ADDRSTRLEN + 3];

			snprintf(bracketed, sizeof(bracketed), "[%s]", addr);
			add_server(r, bracketed);
		} else
			add_server(r, addr);
	}
	fclose(f);
}

static void start_first_thread(struct resolver *r);

int
resolver_new(struct resolver **out, struct ztconn *ztd,
    const struct profile *p)
{
	struct resolver *r = calloc(1, sizeof(*r));
	pthread_condattr_t attr;

	if (r == NULL || (r->conns = calloc(RESOLVER_CONNS_MAX,
	    sizeof(*r->conns))) == NULL ||
	    (r->memos = calloc(MEMO_SLOTS, sizeof(*r->memos))) == NULL) {
		if (r != NULL)
			free(r->conns);
		free(r);
		return -ENOMEM;
	}
	r->ztd = ztd;
	snprintf(r->agent, sizeof(r->agent), "%s", p->agent);
	r->max_ttl = p->dns_max_ttl != 0 ? p->dns_max_ttl : 300;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&r->ready, &attr);
	pthread_cond_init(&r->opened, &attr);
	pthread_condattr_destroy(&attr);
	for (size_t i = 0; i < UPSTREAM_POOL; i++)
		r->pool[i].fd = -1;
	r->bridge_lfd[0] = r->bridge_lfd[1] = -1;
	for (size_t i = 0; i < RESOLVER_CONNS_MAX; i++) {
		r->conns[i].r = r;
		r->conns[i].fd = -1;
	}
	for (size_t i = 0; i < p->n_dns_upstream; i++)
		add_server(r, p->dns_upstream[i]);
	if (p->n_dns_upstream == 0)
		read_resolv_conf(r);
	if (r->n_upstream == 0)
		zt_log(LOG_WARNING, "agent %s: resolver: no DNS server to ask "
		    "(dns.upstream, %s): every allowed name fails (SERVFAIL)",
		    r->agent, RESOLV_CONF);
	start_first_thread(r);
	*out = r;
	return 0;
}

/* Read (WRITE false) or write exactly LEN bytes of FD by DEADLINE: 0, or
 * -1.  Each step is tried first and waited for only when FD is not ready
 * (a query or an answer is usually there whole: no poll for it). */
static int
transfer(int fd, uint8_t *buf, size_t len, bool write, int64_t deadline)
{
	while (len > 0) {
		ssize_t n = write ? send(fd, buf, len, MSG_DONTWAIT |
		    MSG_NOSIGNAL) : recv(fd, buf, len, MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (zt_poll_until(fd, write ? POLLOUT : POLLIN,
			    deadline) < 0)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
read_exact(int fd, uint8_t *buf, size_t len, int64_t deadline)
{
	return transfer(fd, buf, len, false, deadline);
}

static int
write_exact(int fd, const uint8_t *buf, size_t len, int64_t deadline)
{
	return transfer(fd, (uint8_t *)buf, len, true, deadline);
}

/* A new TCP connection to the upstream I, connected by DEADLINE (0:
 * connecting still, not waited for): its fd, or -1. */
static int
upstream_open(struct resolver *r, size_t i, int64_t deadline)
{
	int fd, one = 1;

	fd = socket(r->upstream[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&r->upstream[i],
	    r->upstream_len[i]) < 0) {
		int e = 0;
		socklen_t l = sizeof(e);

		if (errno == EINPROGRESS && deadline == 0)
			return fd;
		if (errno != EINPROGRESS ||
		    zt_poll_until(fd, POLLOUT, deadline) < 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0 || e != 0) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Close the connections idle for UPSTREAM_IDLE_MS by NOW (lock held):
 * when the next of the others is to be closed, or 0 (none left). */
static int64_t
upstream_reap(struct resolver *r, int64_t now)
{
	int64_t next = 0;

	for (size_t k = 0; k < UPSTREAM_POOL; k++) {
		int64_t end = r->pool[k].idle_since + UPSTREAM_IDLE_MS;

		if (r->pool[k].fd < 0)
			continue;
		if (now >= end) {
			close(r->pool[k].fd);
			r->pool[k].fd = -1;
		} else if (next == 0 || end < next)
			next = end;
	}
	return next;
}

/*
 * An idle connection to the upstream I from the pool (*REUSED true), else
 * a new one (by DEADLINE): its fd, or -1.  One the server has closed or
 * written to while idle (readable: an end, or a message nobody asked for)
 * is closed here, never used.
 */
static int
upstream_take(struct resolver *r, size_t i, int64_t deadline, bool *reused)
{
	for (;;) {
		struct pollfd pfd = { .fd = -1, .events = POLLIN };

		pthread_mutex_lock(&r->lock);
		/* The first thread's connection is the one to take, not a
		 * second (a server may serve one at a time); it is there
		 * in a moment. */
		while (r->opening && i == 0 && zt_monotonic_ms() < deadline) {
			struct timespec until = {
				.tv_sec = deadline / 1000,
				.tv_nsec = deadline % 1000 * 1000000 };

			pthread_cond_timedwait(&r->opened, &r->lock, &until);
		}
		upstream_reap(r, zt_monotonic_ms());
		for (size_t k = 0; k < UPSTREAM_POOL && pfd.fd < 0; k++)
			if (r->pool[k].fd >= 0 && r->pool[k].server == i) {
				pfd.fd = r->pool[k].fd;
				r->pool[k].fd = -1;
			}
		pthread_mutex_unlock(&r->lock);
		if (pfd.fd < 0)
			break;
		if (poll(&pfd, 1, 0) == 0) {
			*reused = true;
			return pfd.fd;
		}
		close(pfd.fd);
	}
	*reused = false;
	return upstream_open(r, i, deadline);
}

/* FD, to the upstream I, its last exchange clean: kept for the next
 * question while the pool has room and the resolver is open, else
 * closed. */
static void
upstream_give(struct resolver *r, size_t i, int fd)
{
	pthread_mutex_lock(&r->lock);
	for (size_t k = 0; k < UPSTREAM_POOL && fd >= 0; k++)
		if (!r->closed && r->pool[k].fd < 0) {
			r->pool[k].fd = fd;
			r->pool[k].server = i;
			r->pool[k].idle_since = zt_monotonic_ms();
			fd = -1;
			/* A waiting thread closes it when idle too long.  One
			 * waiting with a timer wakes by it and then counts
			 * this one too; a thread is woken here only when some
			 * wait without one (the pool was empty when they
			 * began), not after every question: a thread woken
			 * for nothing on the answer's path. */
			if (r->untimed > 0)
				pthread_cond_signal(&r->ready);
		}
	pthread_mutex_unlock(&r->lock);
	if (fd >= 0)
		close(fd);
}

/* One exchange's end: its answer, a failure, or a failure before any byte
 * of an answer was read (the connection was gone). */
enum exchange { EXCHANGE_OK, EXCHANGE_FAILED, EXCHANGE_NOTHING };

/*
 * Ask Q on FD with a random id by DEADLINE: EXCHANGE_OK with the answer's
 * length in *SIZE (in C->up) and A filled; *CLEAN false when anything
 * else came on FD (another id, another question, a malformed message),
 * which is then not to be reused.
 */
static enum exchange
exchange(struct conn *c, int fd, const struct dns_question *q,
    struct dns_answer *a, int64_t deadline, size_t *size, bool *clean)
{
	uint8_t query[DNS_QUERY_MAX + 2], len[2];
	bool got = false;
	uint16_t id;
	int n;

	*clean = true;
	if (c->n_ids == 0 && getrandom(c->ids, sizeof(c->ids), 0) ==
	    (ssize_t)sizeof(c->ids))
		c->n_ids = sizeof(c->ids) / sizeof(c->ids[0]);
	if (c->n_ids == 0)
		return EXCHANGE_FAILED;
	id = c->ids[--c->n_ids];
	if ((n = dns_build_query(q, id, query + 2, sizeof(query) - 2)) < 0)
		return EXCHANGE_FAILED;
	query[0] = (uint8_t)(n >> 8);
	query[1] = (uint8_t)n;
	if (write_exact(fd, query, (size_t)n + 2, deadline) < 0)
		return EXCHANGE_NOTHING;
	/* Answers to other ids or questions are skipped, not taken. */
	while (read_exact(fd, len, 2, deadline) == 0) {
		got = true;
		*size = (size_t)(len[0] << 8 | len[1]);
		if (*size == 0 || read_exact(fd, c->up, *size, deadline) < 0)
			break;
		if (dns_parse_answer(c->up, *size, id, q, a) == 0)
			return EXCHANGE_OK;
		*clean = false;
	}
	*clean = false;
	return got ? EXCHANGE_FAILED : EXCHANGE_NOTHING;
}

/*
 * Ask the upstream I for Q over TCP: the answer's length in C->up, or -1
 * (no connection, timeout, or nothing that answers our id and question
 * within UPSTREAM_MS), with A filled on success.  A kept connection whose
 * exchange ends before any answer byte is replaced by a new one, once
 * (with a new id).
 */
static int
ask_upstream(struct conn *c, size_t i, const struct dns_question *q,
    struct dns_answer *a)
{
	struct resolver *r = c->r;
	int64_t deadline = zt_monotonic_ms() + UPSTREAM_MS;

	for (int attempt = 0; attempt < 2; attempt++) {
		enum exchange e;
		bool reused, clean;
		size_t size = 0;
		int fd = upstream_take(r, i, deadline, &reused);

		if (fd < 0)
			return -1;
		e = exchange(c, fd, q, a, deadline, &size, &clean);
		if (e == EXCHANGE_OK) {
			if (clean)
				upstream_give(r, i, fd);
			else
				close(fd);
			return (int)size;
		}
		close(fd);
		if (e != EXCHANGE_NOTHING || !reused)
			break;
	}
	return -1;
}

/* The memo for a question of TYPE for NAME, or NULL (lock held). */
static struct memo *
memo_find(struct resolver *r, uint16_t type, const char *name)
{
	for (size_t i = 0; i < MEMO_SLOTS; i++) {
		struct memo *m = &r->memos[i];

		if (m->used && m->type == type &&
		    strcmp(m->answer.chain[0], name) == 0)
			return m;
	}
	return NULL;
}

/*
 * Is A (the upstream's answer to Q, just taken) the answer noted for Q
 * under EPOCH within MEMO_MAX_MS, with ztd still remembering what it kept
 * of it for at least half the time it was told to, and no TTL of A
 * shorter (by more than a second, ztd's rounding) than what ztd
 * remembers?  Then true, with what ztd kept (*KEPT_CHAIN, *KEPT by A's
 * indexes) and *TTL, the seconds ztd still remembers it at the least.
 */
static bool
memo_recall(struct resolver *r, const struct dns_question *q,
    const struct dns_answer *a, uint64_t epoch, int64_t now,
    size_t *kept_chain, uint32_t *kept, uint32_t *ttl)
{
	const struct memo *m;
	uint32_t matched = 0;
	bool ok = false;

	*kept = 0;
	pthread_mutex_lock(&r->lock);
	m = memo_find(r, q->type, q->name);
	if (m == NULL || m->epoch != epoch || a->rcode != m->answer.rcode ||
	    (m->until_ms - now) * 2 < m->until_ms - m->learned_ms ||
	    now - m->learned_ms > MEMO_MAX_MS ||
	    m->until_ms - now < 1000 || a->n_chain != m->answer.n_chain ||
	    a->n_addrs != m->answer.n_addrs)
		goto out;
	for (size_t i = 0; i < a->n_chain; i++)
		if (strcmp(a->chain[i], m->answer.chain[i]) != 0)
			goto out;
	for (size_t i = 0; i < a->n_addrs; i++) {
		const struct dns_addr *x = &a->addrs[i];
		uint32_t t = x->ttl < r->max_ttl ? x->ttl : r->max_ttl;
		size_t j;

		for (j = 0; j < m->answer.n_addrs; j++) {
			const struct dns_addr *y = &m->answer.addrs[j];

			if (!(matched & 1u << j) && x->family == y->family &&
			    x->owner == y->owner && memcmp(x->addr, y->addr,
			    x->family == AF_INET ? 4 : 16) == 0)
				break;
		}
		if (j == m->answer.n_addrs)
			goto out;
		matched |= 1u << j;
		if (!(m->kept & 1u << j))
			continue;
		if (now + (int64_t)t * 1000 + 1000 < m->expires_ms[j])
			goto out;	/* ztd would now forget it sooner */
		*kept |= 1u << i;
	}
	*kept_chain = m->kept_chain;
	*ttl = (uint32_t)((m->until_ms - now) / 1000);
	ok = true;
out:
	pthread_mutex_unlock(&r->lock);
	return ok;
}

/*
 * Note what ztd kept (KEPT_CHAIN, KEPT) of A, the answer to Q, told it
 * at SENT_MS under EPOCH; a LEARN that kept no address forgets the note.
 */
static void
memo_note(struct resolver *r, const struct dns_question *q,
    const struct dns_answer *a, uint64_t epoch, int64_t sent_ms,
    size_t kept_chain, uint32_t kept)
{
	struct memo *m;

	pthread_mutex_lock(&r->lock);
	if ((m = memo_find(r, q->type, q->name)) == NULL && kept != 0) {
		/* A free slot, else the one ztd forgets first. */
		m = &r->memos[0];
		for (size_t i = 0; i < MEMO_SLOTS && m->used; i++)
			if (!r->memos[i].used ||
			    r->memos[i].until_ms < m->until_ms)
				m = &r->memos[i];
	}
	if (m == NULL)
		goto out;
	m->used = kept != 0 && kept_chain > 0 && a->n_chain > 0;
	if (!m->used)
		goto out;
	m->epoch = epoch;
	m->type = q->type;
	m->learned_ms = sent_ms;
	m->until_ms = INT64_MAX;
	m->kept_chain = kept_chain;
	m->kept = kept;
	m->answer = *a;
	for (size_t j = 0; j < a->n_addrs; j++) {
		uint32_t t = a->addrs[j].ttl < r->max_ttl ? a->addrs[j].ttl :
		    r->max_ttl;

		m->expires_ms[j] = sent_ms + (int64_t)t * 1000;
		if ((kept & 1u << j) && m->expires_ms[j] < m->until_ms)
			m->until_ms = m->expires_ms[j];
	}
	m->used = m->until_ms != INT64_MAX;	/* an address of A kept */
out:
	pthread_mutex_unlock(&r->lock);
}

/*
 * Answer Q from its note without asking the upstream: while nothing ztd
 * pushed has come since (EPOCH) and within what memo_recall would accept
 * of the same answer (MEMO_MAX_MS after the LEARN, more than half of
 * what ztd remembers still ahead), the noted answer into *A with what
 * ztd kept of it, and *TTL, the seconds until the first of its kept
 * records runs out (a CNAME of the chain's, an address; each cut to
 * max_ttl), at least 1: then true.  An answer is never given past its
 * records' TTL nor past what ztd remembers, as a cache's.
 */
static bool
memo_answer(struct resolver *r, const struct dns_question *q,
    uint64_t epoch, int64_t now, struct dns_answer *a, size_t *kept_chain,
    uint32_t *kept, uint32_t *ttl)
{
	const struct memo *m;
	int64_t until;
	bool ok = false;

	pthread_mutex_lock(&r->lock);
	m = memo_find(r, q->type, q->name);
	if (m == NULL || m->epoch != epoch ||
	    (m->until_ms - now) * 2 < m->until_ms - m->learned_ms ||
	    now - m->learned_ms > MEMO_MAX_MS)
		goto out;
	until = m->until_ms;
	/* The CNAMEs given: those owned by the kept chain's names but its
	 * last (dns_build_reply). */
	for (size_t i = 0; i + 1 < m->kept_chain; i++) {
		uint32_t t = m->answer.chain_ttl[i] < r->max_ttl ?
		    m->answer.chain_ttl[i] : r->max_ttl;

		if (m->learned_ms + (int64_t)t * 1000 < until)
			until = m->learned_ms + (int64_t)t * 1000;
	}
	if (until - now < 1000)
		goto out;
	*a = m->answer;
	*kept_chain = m->kept_chain;
	*kept = m->kept;
	*ttl = (uint32_t)((until - now) / 1000);
	ok = true;
out:
	pthread_mutex_unlock(&r->lock);
	return ok;
}

/*
 * What LEARN keeps of A when ztd allowed its question with FLAGS
 * (ZT_RESOLVE_*), known before its reply: the addresses the question owns
 * itself (no CNAME), each unless it is private (zt_addr_private, ztd's
 * own test) and no rule naming it says private = true.  True with *KEPT
 * when that is all A holds; false (a chain, a name no rule names) when
 * only LEARN's reply can say.
 */
static bool
given_ahead(const struct dns_answer *a, uint32_t flags, uint32_t *kept)
{
	*kept = 0;
	if (!(flags & ZT_RESOLVE_NAMED) || a->n_chain != 1)
		return false;
	for (size_t i = 0; i < a->n_addrs; i++) {
		if (a->addrs[i].owner != 0)
			return false;
		if ((flags & ZT_RESOLVE_PRIVATE) ||
		    !zt_addr_private(a->addrs[i].family, a->addrs[i].addr))
			*kept |= 1u << i;
	}
	return true;
}

/*
 * Tell ztd what A, the answer to Q, holds (LEARN), or recall what it kept
 * of the same answer before: 0 with *KEPT_CHAIN, *KEPT and *TTL (the
 * reply's TTLs at most), or -1 (not remembered: SERVFAIL).  When ztd's
 * allow of Q said what LEARN keeps (FLAGS, given_ahead), the LEARN is
 * sent and its answer left to learn_settle, after the agent's reply: the
 * reply holds what ztd keeps, and the connect to an address of it waits
 * for LEARN's answer in ztconn (allowed only by what ztd sent; ztd reads
 * the LEARN before any later request on the connection anyway).
 */
static int
learn(struct conn *c, const struct dns_question *q,
    const struct dns_answer *a, const struct ztconn_verdict *v,
    size_t *kept_chain, uint32_t *kept, uint32_t *ttl)
{
	struct resolver *r = c->r;
	struct ztconn_answer addrs[DNS_ADDRS_MAX];
	uint64_t epoch = ztconn_epoch(r->ztd);
	int64_t now = ztconn_now_ms();
	uint32_t given;
	char why[160];

	*ttl = r->max_ttl;
	/* Not while an event from ztd may be unread: LEARN, so that ztd
	 * sees (and audits) the answer under the policy now in force. */
	if (epoch != ZTCONN_EPOCH_UNSURE &&
	    memo_recall(r, q, a, epoch, now, kept_chain, kept, ttl)) {
		if (*ttl > r->max_ttl)
			*ttl = r->max_ttl;
		return 0;
	}
	for (size_t i = 0; i < a->n_addrs; i++)
		addrs[i] = (struct ztconn_answer){
			.family = a->addrs[i].family,
			.addr = a->addrs[i].addr,
			.ttl = a->addrs[i].ttl,
			.owner = a->addrs[i].owner,
		};
	/* Answered ahead of LEARN's reply only when no event of ztd's came
	 * (and none is unread) since the question's allow V, which said
	 * what LEARN keeps: a reload while the question was upstream is
	 * LEARNed and answered as before (what ztd now keeps, or REFUSED). */
	if (epoch != ZTCONN_EPOCH_UNSURE && epoch == v->epoch &&
	    given_ahead(a, v->resolve_flags, &given)) {
		if (ztconn_learn_send(r->ztd, (const char (*)[256])a->chain,
		    a->n_chain, addrs, a->n_addrs, &c->learn_id, why,
		    sizeof(why)) < 0) {
			zt_log(LOG_WARNING, "agent %s: resolver: dns:%s not "
			    "remembered: %s", r->agent, q->name, why);
			memo_note(r, q, a, epoch, now, 0, 0);
			return -1;
		}
		c->learn_q = *q;
		c->learn_epoch = epoch;
		c->learn_ms = now;
		c->learn_given = given;
		*kept_chain = 1;
		*kept = given;
		return 0;
	}
	if (ztconn_learn(r->ztd, (const char (*)[256])a->chain, a->n_chain,
	    addrs, a->n_addrs, kept_chain, kept, why, sizeof(why)) < 0) {
		zt_log(LOG_WARNING, "agent %s: resolver: dns:%s not "
		    "remembered: %s", r->agent, q->name, why);
		memo_note(r, q, a, epoch, now, 0, 0);
		return -1;
	}
	memo_note(r, q, a, epoch, now, *kept_chain, *kept);
	return 0;
}

/*
 * The answer to the LEARN learn() sent for C's last question, once its
 * reply is given: noted as learn() notes it.  An address given that ztd
 * did not keep (a reload between the allow and the LEARN, no memory) is
 * not remembered by ztd: a connect to it is refused there.
 */
static void
learn_settle(struct conn *c)
{
	struct resolver *r = c->r;
	size_t kept_chain;
	uint32_t kept;
	char why[160];

	if (c->learn_id == 0)
		return;
	if (ztconn_learn_finish(r->ztd, c->learn_id, c->answer.n_chain,
	    &kept_chain, &kept, why, sizeof(why)) < 0) {
		zt_log(LOG_WARNING, "agent %s: resolver: dns:%s answered but "
		    "not remembered (connects to it are refused): %s",
		    r->agent, c->learn_q.name, why);
		kept_chain = 0;
		kept = 0;
	} else if ((c->learn_given & ~kept) != 0 || kept_chain == 0)
		zt_log(LOG_NOTICE, "agent %s: resolver: ztd kept less of "
		    "dns:%s than was answered (the policy changed?): connects "
		    "to the rest are refused", r->agent, c->learn_q.name);
	c->learn_id = 0;
	memo_note(r, &c->learn_q, &c->answer, c->learn_epoch, c->learn_ms,
	    kept_chain, kept & c->learn_given);
}

/* The reply to the query of LEN bytes in C->in, into C->out + 2: its
 * length, or -1 to end the connection. */
static int
answer(struct conn *c, size_t len)
{
	struct resolver *r = c->r;
	struct dns_question q;
	struct dns_answer *a = &c->answer;
	struct ztconn_verdict v;
	char object[DNS_NAME_MAX + 8];
	size_t kept_chain = 0;
	uint32_t kept = 0, ttl = r->max_ttl;
	uint64_t epoch;
	int rcode, n = -1;

	rcode = dns_parse_query(c->in, len, &q);
	if (rcode < 0)
		return -1;
	if (rcode > 0) {
		q.name[0] = '\0';	/* FORMERR, NOTIMP: no question */
		return dns_build_reply(&q, rcode, NULL, 0, 0, r->max_ttl,
		    c->out + 2, sizeof(c->out) - 2);
	}
	snprintf(object, sizeof(object), "dns:%s", q.name);
	/* A question is the one thing that leaves the host: from zt-exec's
	 * cache only while every event ztd sent is applied, so that after a
	 * reload the next one is decided on the new policy, on a connection
	 * held open across it too. */
	ztconn_decide_current(r->ztd, ACTION_RESOLVE, object, c->actor, &v);
	if (!v.allow || (q.type != DNS_TYPE_A && q.type != DNS_TYPE_AAAA))
		return dns_build_reply(&q, DNS_RCODE_REFUSED, NULL, 0, 0,
		    r->max_ttl, c->out + 2, sizeof(c->out) - 2);
	/* A remembered name: from the note, as long as a cache may. */
	epoch = ztconn_epoch(r->ztd);
	if (epoch != ZTCONN_EPOCH_UNSURE && memo_answer(r, &q, epoch,
	    ztconn_now_ms(), a, &kept_chain, &kept, &ttl))
		return dns_build_reply(&q, a->rcode, a, kept_chain, kept, ttl,
		    c->out + 2, sizeof(c->out) - 2);
	rcode = DNS_RCODE_SERVFAIL;
	for (size_t i = 0; i < r->n_upstream; i++)
		if (ask_upstream(c, i, &q, a) > 0) {
			rcode = a->rcode;
			break;
		}
	if (rcode != DNS_RCODE_SERVFAIL) {
		if (learn(c, &q, a, &v, &kept_chain, &kept, &ttl) < 0)
			rcode = DNS_RCODE_SERVFAIL;
		else if (kept_chain == 0)
			rcode = DNS_RCODE_REFUSED;
	}
	n = dns_build_reply(&q, rcode, rcode == DNS_RCODE_SERVFAIL ||
	    rcode == DNS_RCODE_REFUSED ? NULL : a, kept_chain, kept,
	    ttl, c->out + 2, sizeof(c->out) - 2);
	return n;
}

/* Serve the agent's connection C until it ends, then free its slot. */
static void
serve(struct conn *c)
{
	struct resolver *r = c->r;
	int fd;

	for (;;) {
		uint8_t len[2];
		size_t size;
		int n;

		if (read_exact(c->fd, len, 2, zt_monotonic_ms() + IDLE_MS) < 0)
			break;
		size = (size_t)(len[0] << 8 | len[1]);
		if (size < DNS_HEADER_SIZE || size > DNS_QUERY_MAX ||
		    read_exact(c->fd, c->in, size, zt_monotonic_ms() +
		    READ_MS) < 0)
			break;		/* FORMERR needs the header: drop */
		if ((n = answer(c, size)) >= 0) {
			c->out[0] = (uint8_t)(n >> 8);
			c->out[1] = (uint8_t)n;
			n = write_exact(c->fd, c->out, (size_t)n + 2,
			    zt_monotonic_ms() + READ_MS);
		}
		/* The reply given, LEARN's answer (every one sent). */
		learn_settle(c);
		if (n < 0)
			break;
	}
	/* Out of resolver_close_all's reach before the number is closed
	 * (it could be reused), free for the next connection after. */
	pthread_mutex_lock(&r->lock);
	fd = c->fd;
	c->fd = -3;
	pthread_mutex_unlock(&r->lock);
	close(fd);
	pthread_mutex_lock(&r->lock);
	c->fd = -1;
	pthread_mutex_unlock(&r->lock);
}

/* One of the resolver's threads: serves the queued connections, one at a
 * time, waiting for the next (and closing idle upstream connections
 * meanwhile); ends once the resolver is closed. */
static void warm_up(struct resolver *r);

static void *
serve_main(void *arg)
{
	struct resolver *r = arg;

	warm_up(r);
	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct conn *c;

		while (r->queued == 0 && !r->closed) {
			int64_t at = upstream_reap(r, zt_monotonic_ms());
			struct timespec until = { .tv_sec = at / 1000,
			    .tv_nsec = at % 1000 * 1000000 };

			r->waiting++;
			if (at == 0) {
				r->untimed++;
				pthread_cond_wait(&r->ready, &r->lock);
				r->untimed--;
			} else
				pthread_cond_timedwait(&r->ready, &r->lock,
				    &until);
			r->waiting--;
		}
		if (r->queued == 0)
			break;		/* closed, nothing left */
		c = r->queue[0];
		memmove(r->queue, r->queue + 1, --r->queued *
		    sizeof(r->queue[0]));
		pthread_mutex_unlock(&r->lock);
		serve(c);
		pthread_mutex_lock(&r->lock);
	}
	r->threads--;
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* A detached thread running FN(R): 0, or an error number. */
static int
start_thread(struct resolver *r, void *(*fn)(void *))
{
	pthread_attr_t attr;
	pthread_t thread;
	int e;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&thread, &attr, fn, r);
	pthread_attr_destroy(&attr);
	return e;
}

/* Queue C (bridged) for a thread: a waiting one, else a new one (lock
 * held); one more is made when none would be left waiting (to close idle
 * upstream connections, and take the next agent connection at once).  0,
 * or -EAGAIN (C not queued) when no thread could be made.  The caller
 * signals r->ready once it has let the lock go: a thread woken while it
 * is still held would only wait for it again (one more wake-up). */
static int
queue_conn(struct resolver *r, struct conn *c)
{
	/* Every thread serves one connection and the slots are
	 * RESOLVER_CONNS_MAX: with that many threads one is free or about
	 * to be. */
	if (r->waiting <= r->queued + 1 && r->threads < RESOLVER_CONNS_MAX) {
		if (start_thread(r, serve_main) == 0)
			r->threads++;
		else if (r->threads == 0)
			return -EAGAIN;
	}
	r->queue[r->queued++] = c;
	return 0;
}

/*
 * Ready this thread for its first question (the profile of a grant's
 * first resolution found ~28 page faults on its path, ~1 us each, and
 * ldns's first use): ldns's code and this thread's malloc arena, by a
 * query, a reply and an answer made and parsed, and the stack an answer
 * reaches down to.  Nothing leaves the thread.
 */
static void __attribute__((noinline))
warm_up(struct resolver *r)
{
	volatile uint8_t stack[STACK_WARM];
	struct dns_question q = { .type = DNS_TYPE_A }, parsed;
	struct dns_answer answer;
	uint8_t wire[512];
	int n;

	for (size_t i = 0; i < sizeof(stack); i += 4096)
		stack[i] = 0;
	snprintf(q.name, sizeof(q.name), "ready.invalid");
	if ((n = dns_build_query(&q, 0, wire, sizeof(wire))) > 0)
		dns_parse_query(wire, (size_t)n, &parsed);
	if ((n = dns_build_reply(&q, DNS_RCODE_NXDOMAIN, NULL, 0, 0,
	    r->max_ttl, wire, sizeof(wire))) > 0)
		dns_parse_answer(wire, (size_t)n, 0, &q, &answer);
}

/* The resolver's first thread: readies what the first question would
 * wait for (the first upstream's connection, the pages the first
 * answers use), then serves. */
static void *
first_main(void *arg)
{
	struct resolver *r = arg;
	int fd;

	/* The connection first: a question may wait for it. */
	if (r->n_upstream > 0 && (fd = upstream_open(r, 0, 0)) >= 0)
		upstream_give(r, 0, fd);
	/* The IPv4 bridge socket, unless the first connection made it. */
	if ((fd = tunnel_bridge_listener(AF_INET)) >= 0) {
		pthread_mutex_lock(&r->lock);
		if (r->bridge_lfd[0] < 0 && !r->bridging[0] && !r->closed) {
			r->bridge_lfd[0] = fd;
			fd = -1;
		}
		pthread_mutex_unlock(&r->lock);
		if (fd >= 0)
			close(fd);
	}
	pthread_mutex_lock(&r->lock);
	r->opening = false;
	pthread_cond_broadcast(&r->opened);
	/* Written once now, not faulted in page by page on the first
	 * answers: the notes (each question scans them) and the first
	 * connection slots' state and the start of their buffers (glibc
	 * opens a connection per lookup, and the lowest free slot is
	 * taken; one taken already is its thread's).  Zero, as calloc made
	 * them, and free ones only: a slot is taken under the lock. */
	for (size_t i = 0; i < MEMO_SLOTS; i++)
		if (!r->memos[i].used)
			memset(&r->memos[i], 0, sizeof(r->memos[i]));
	for (size_t i = 0; i < CONNS_WARM; i++) {
		struct conn *c = &r->conns[i];

		if (c->fd != -1)
			continue;	/* taken: its thread's */
		memset(&c->answer, 0, sizeof(c->answer));
		memset(c->in, 0, sizeof(c->in));
		memset(c->up, 0, 4096);
		memset(c->out, 0, sizeof(c->out));
	}
	pthread_mutex_unlock(&r->lock);
	ztconn_warm(r->ztd);
	/* A second, so that one is left waiting while one serves. */
	pthread_mutex_lock(&r->lock);
	if (r->threads < 2 && start_thread(r, serve_main) == 0)
		r->threads++;
	pthread_mutex_unlock(&r->lock);
	return serve_main(r);
}

static void
start_first_thread(struct resolver *r)
{
	r->threads = 1;			/* before it could end */
	r->opening = true;
	if (start_thread(r, first_main) != 0) {
		r->threads = 0;
		r->opening = false;
	}
}

/*
 * Bridge the agent's socket SFD (tunnel_bridge_agent) through the
 * resolver's socket of its family, kept from one connection to the next
 * (made here the first time), which listens during a bridge only: no
 * socket made and closed on the connect's path.  One bridge uses it at a
 * time; another meanwhile makes its own.  One a bridge failed on is
 * closed, not kept.
 */
static int
bridge(struct resolver *r, int sfd)
{
	int domain, i, lfd = -1, fd;
	socklen_t dl = sizeof(domain);
	bool mine = false;

	if (getsockopt(sfd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0)
		return -errno;
	if (domain != AF_INET && domain != AF_INET6)
		return tunnel_bridge_agent(sfd);
	i = domain == AF_INET6;
	pthread_mutex_lock(&r->lock);
	if (!r->bridging[i] && !r->closed) {
		r->bridging[i] = mine = true;
		lfd = r->bridge_lfd[i];
		r->bridge_lfd[i] = -1;
	}
	pthread_mutex_unlock(&r->lock);
	if (!mine)
		return tunnel_bridge_agent(sfd);
	if (lfd < 0 && (lfd = tunnel_bridge_listener(domain)) < 0)
		fd = lfd;
	else
		fd = tunnel_bridge_agent_via(sfd, lfd);
	pthread_mutex_lock(&r->lock);
	if (fd >= 0 && !r->closed) {
		r->bridge_lfd[i] = lfd;
		lfd = -1;
	}
	r->bridging[i] = false;
	pthread_mutex_unlock(&r->lock);
	if (lfd >= 0)
		close(lfd);
	return fd;
}

int
resolver_connect(struct resolver *r, int sfd, pid_t actor)
{
	struct conn *c = NULL;
	int fd, e = 0;

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < RESOLVER_CONNS_MAX && c == NULL; i++)
		if (r->conns[i].fd == -1)
			c = &r->conns[i];
	if (r->closed || c == NULL) {
		pthread_mutex_unlock(&r->lock);
		return -ECONNREFUSED;
	}
	c->fd = -2;			/* taken */
	pthread_mutex_unlock(&r->lock);
	if ((fd = bridge(r, sfd)) < 0) {
		e = fd;
		goto free_slot;
	}
	c->actor = actor;
	pthread_mutex_lock(&r->lock);
	c->fd = fd;
	if (r->closed)
		shutdown(fd, SHUT_RDWR);
	if ((e = queue_conn(r, c)) == 0) {
		pthread_mutex_unlock(&r->lock);
		pthread_cond_signal(&r->ready);
		return 0;
	}
	pthread_mutex_unlock(&r->lock);
	close(fd);
free_slot:
	pthread_mutex_lock(&r->lock);
	c->fd = -1;
	pthread_mutex_unlock(&r->lock);
	return e;
}

void
resolver_close_all(struct resolver *r)
{
	pthread_mutex_lock(&r->lock);
	r->closed = true;
	for (size_t i = 0; i < RESOLVER_CONNS_MAX; i++)
		if (r->conns[i].fd >= 0)
			shutdown(r->conns[i].fd, SHUT_RDWR);
	for (size_t i = 0; i < UPSTREAM_POOL; i++)
		if (r->pool[i].fd >= 0) {
			close(r->pool[i].fd);
			r->pool[i].fd = -1;
		}
	for (size_t i = 0; i < 2; i++)
		if (r->bridge_lfd[i] >= 0) {
			close(r->bridge_lfd[i]);
			r->bridge_lfd[i] = -1;
		}
	pthread_cond_broadcast(&r->ready);
	pthread_mutex_unlock(&r->lock);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The grant's resolver.  Each TCP connection of the agent to port 53 is
 * bridged here and served on its own thread, one length-prefixed message
 * at a time (RFC 1035 4.2.2):
 *   - a malformed query gets FORMERR (or NOTIMP), one that is no query
 *     ends the connection;
 *   - the name goes to ztd as a resolve decision (audited there, allow or
 *     deny), every time: never from zt-exec's cache, so that after a
 *     reload the next question is decided by the new policy; a name no
 *     host rule names gets REFUSED and never leaves the host, and so does
 *     any question but A and AAAA;
 *   - an allowed question goes upstream over TCP with a fresh random id,
 *     and only an answer to that id and that question is taken;
 *   - ztd is told the CNAME chain and the addresses (LEARN), checks them
 *     against the policy and says which it remembers; the agent's answer
 *     holds those only, TTLs cut to dns.max_ttl.
 * Nothing is kept here between questions: memory is bounded by
 * RESOLVER_CONNS_MAX connections and their buffers.
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
#include "zt_clock.h"
#include "zt_log.h"

#define UPSTREAMS_MAX 8
#define IDLE_MS 30000			/* a silent agent connection ends */
#define READ_MS 5000			/* the rest of a message */
#define UPSTREAM_MS 5000		/* one upstream's whole exchange */
#define RESOLV_CONF "/etc/resolv.conf"
#define DNS_REPLY_MAX 8192		/* our replies: a chain and 32
					 * addresses at most */

struct resolver {
	struct ztconn *ztd;
	char agent[65];
	unsigned max_ttl;
	struct sockaddr_storage upstream[UPSTREAMS_MAX];
	socklen_t upstream_len[UPSTREAMS_MAX];
	size_t n_upstream;
	pthread_mutex_t lock;
	bool closed;
	struct conn *conns;		/* RESOLVER_CONNS_MAX, made once */
};

/* One agent connection's state and buffers: a fixed slot, so that what
 * the resolver holds never grows with the names asked. */
struct conn {
	struct resolver *r;
	int fd;				/* our end; -1 free, -2 being set up,
					 * -3 being closed */
	pid_t actor;
	struct dns_answer answer;
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

int
resolver_new(struct resolver **out, struct ztconn *ztd,
    const struct profile *p)
{
	struct resolver *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->conns = calloc(RESOLVER_CONNS_MAX,
	    sizeof(*r->conns))) == NULL) {
		free(r);
		return -ENOMEM;
	}
	r->ztd = ztd;
	snprintf(r->agent, sizeof(r->agent), "%s", p->agent);
	r->max_ttl = p->dns_max_ttl != 0 ? p->dns_max_ttl : 300;
	pthread_mutex_init(&r->lock, NULL);
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
	*out = r;
	return 0;
}

/* Wait for FD to be ready for EVENTS until DEADLINE; 0 or -ETIMEDOUT. */
static int
wait_until(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left = deadline - zt_monotonic_ms();
	int n;

	if (left <= 0)
		return -ETIMEDOUT;
	n = poll(&pfd, 1, (int)left);
	return n > 0 ? 0 : n == 0 ? -ETIMEDOUT : -errno;
}

/* Read (WRITE false) or write exactly LEN bytes of FD by DEADLINE: 0, or
 * -1. */
static int
transfer(int fd, uint8_t *buf, size_t len, bool write, int64_t deadline)
{
	while (len > 0) {
		ssize_t n;

		if (wait_until(fd, write ? POLLOUT : POLLIN, deadline) < 0)
			return -1;
		n = write ? send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) :
		    recv(fd, buf, len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
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

/*
 * Ask the upstream I for Q over TCP with a random id: the answer's length
 * in C->up, or -1 (no connection, timeout, or nothing that answers our
 * id and question within UPSTREAM_MS), with A filled on success.
 */
static int
ask_upstream(struct conn *c, size_t i, const struct dns_question *q,
    struct dns_answer *a)
{
	struct resolver *r = c->r;
	int64_t deadline = zt_monotonic_ms() + UPSTREAM_MS;
	uint8_t query[DNS_QUERY_MAX + 2], len[2];
	uint16_t id;
	int fd, n, one = 1, result = -1;
	size_t size;

	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		return -1;
	if ((n = dns_build_query(q, id, query + 2, sizeof(query) - 2)) < 0)
		return -1;
	query[0] = (uint8_t)(n >> 8);
	query[1] = (uint8_t)n;
	fd = socket(r->upstream[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&r->upstream[i],
	    r->upstream_len[i]) < 0) {
		int e = 0;
		socklen_t l = sizeof(e);

		if (errno != EINPROGRESS ||
		    wait_until(fd, POLLOUT, deadline) < 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0 || e != 0)
			goto out;
	}
	if (write_exact(fd, query, (size_t)n + 2, deadline) < 0)
		goto out;
	/* Answers to other ids (none expected on our own connection) are
	 * skipped, not taken. */
	while (read_exact(fd, len, 2, deadline) == 0) {
		size = (size_t)(len[0] << 8 | len[1]);
		if (size == 0 || read_exact(fd, c->up, size, deadline) < 0)
			break;
		if (dns_parse_answer(c->up, size, id, q, a) == 0) {
			result = (int)size;
			break;
		}
	}
out:
	close(fd);
	return result;
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
	struct ztconn_answer addrs[DNS_ADDRS_MAX];
	char object[DNS_NAME_MAX + 8], why[160];
	size_t kept_chain = 0;
	uint32_t kept = 0;
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
	/* Never from zt-exec's cache: a question is the one thing that
	 * leaves the host, and after a reload the next one is decided on
	 * the new policy, on a connection held open across it too. */
	ztconn_decide_fresh(r->ztd, ACTION_RESOLVE, object, c->actor, &v);
	if (!v.allow || (q.type != DNS_TYPE_A && q.type != DNS_TYPE_AAAA))
		return dns_build_reply(&q, DNS_RCODE_REFUSED, NULL, 0, 0,
		    r->max_ttl, c->out + 2, sizeof(c->out) - 2);
	rcode = DNS_RCODE_SERVFAIL;
	for (size_t i = 0; i < r->n_upstream; i++)
		if (ask_upstream(c, i, &q, a) > 0) {
			rcode = a->rcode;
			break;
		}
	if (rcode != DNS_RCODE_SERVFAIL) {
		for (size_t i = 0; i < a->n_addrs; i++)
			addrs[i] = (struct ztconn_answer){
				.family = a->addrs[i].family,
				.addr = a->addrs[i].addr,
				.ttl = a->addrs[i].ttl,
				.owner = a->addrs[i].owner,
			};
		if (ztconn_learn(r->ztd, (const char (*)[256])a->chain,
		    a->n_chain, addrs, a->n_addrs, &kept_chain, &kept, why,
		    sizeof(why)) < 0) {
			zt_log(LOG_WARNING, "agent %s: resolver: %s not "
			    "remembered: %s", r->agent, object, why);
			rcode = DNS_RCODE_SERVFAIL;
		} else if (kept_chain == 0)
			rcode = DNS_RCODE_REFUSED;
	}
	n = dns_build_reply(&q, rcode, rcode == DNS_RCODE_SERVFAIL ||
	    rcode == DNS_RCODE_REFUSED ? NULL : a, kept_chain, kept,
	    r->max_ttl, c->out + 2, sizeof(c->out) - 2);
	return n;
}

static void *
serve(void *arg)
{
	struct conn *c = arg;
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
		if ((n = answer(c, size)) < 0)
			break;
		c->out[0] = (uint8_t)(n >> 8);
		c->out[1] = (uint8_t)n;
		if (write_exact(c->fd, c->out, (size_t)n + 2,
		    zt_monotonic_ms() + READ_MS) < 0)
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
	return NULL;
}

int
resolver_connect(struct resolver *r, int sfd, pid_t actor)
{
	struct conn *c = NULL;
	pthread_attr_t attr;
	pthread_t thread;
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
	if ((fd = tunnel_bridge_agent(sfd)) < 0) {
		e = fd;
		goto free_slot;
	}
	c->actor = actor;
	pthread_mutex_lock(&r->lock);
	c->fd = fd;
	if (r->closed)
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&r->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, serve, c) != 0) {
		close(fd);
		e = -EAGAIN;
	}
	pthread_attr_destroy(&attr);
	if (e == 0)
		return 0;
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
	pthread_mutex_unlock(&r->lock);
}

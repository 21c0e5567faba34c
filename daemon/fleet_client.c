/* SPDX-License-Identifier: Apache-2.0 */
/* The fleet client process: etcd's watches, lease and report, for ztd. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"
#include "fleet_client.h"
#include "fleet_filter.h"
#include "fleet_proto.h"
#include "zt_clock.h"
#include "zt_log.h"

#define RETRY_MS 1000

/* The two watches, in the order they are opened (their indexes). */
enum { WATCH_POLICY, WATCH_DISABLED, WATCHES };

struct client {
	int fd;
	struct fleet_reader reader;
	struct etcd *etcd;
	char *prefix, *host;
	unsigned heartbeat;
	char policy_key[256], disabled_key[256], disabled_end[256];
	char host_key[256];
	/* Per watch, the revision its keys were seen at: its read's, then
	 * its events'.  Each watch goes on from its own: the two reads are
	 * at two revisions, and two streams deliver each at its own pace,
	 * so that one revision for both skipped what the other had not
	 * yet carried.  0: read everything. */
	int64_t revision[WATCHES];
	int64_t lease;
	char *report;		/* the latest from ztd, or NULL */
	bool in_sync;
	char said[ETCD_WHY_MAX];	/* the last state sent */
	bool stop;
};

/* ------------------------------------------------------------ lockdown */

/* TEXT, decimal digits only, as an id below 2^32 - 1: 0, or -EINVAL. */
static int
parse_id(const char *text, unsigned long *id)
{
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	*id = strtoul(text, &end, 10);
	return errno != 0 || *end != '\0' || *id >= 0xffffffffUL ? -EINVAL :
	    0;
}

/*
 * Become UID_TEXT and GID_TEXT (never root), no supplementary group,
 * before anything is read.  The change of uid after the exec leaves the
 * process not dumpable (suid_dumpable; said again with PR_SET_DUMPABLE):
 * no process of the new uid may ptrace it or open its memory, which holds
 * etcd's credentials and decides what ztd is told.  The uid change also
 * cleared the parent-death signal fleet.c set: set again, then the
 * parent checked to be ztd still (it may have died in between).
 */
static int
become(const char *uid_text, const char *gid_text)
{
	unsigned long uid, gid;
	pid_t parent = getppid();

	if (parse_id(uid_text, &uid) < 0 || parse_id(gid_text, &gid) < 0 ||
	    uid == 0 || gid == 0)
		return -EINVAL;
	if (setgroups(0, NULL) < 0 || setresgid((gid_t)gid, (gid_t)gid,
	    (gid_t)gid) < 0 || setresuid((uid_t)uid, (uid_t)uid,
	    (uid_t)uid) < 0)
		return -errno;
	if (getuid() == 0 || geteuid() == 0 || getgid() == 0 ||
	    getegid() == 0)
		return -EPERM;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return -errno;
	if (getppid() != parent)
		return -ESRCH;
	return 0;
}

/*
 * The first step, before anything is read: not root, no_new_privs set by
 * fleet.c, no core file, no file growth.  The seccomp allow-list follows
 * once the client is set up (fleet_filter_load, in fleet_client_main).
 */
static int
lock_down(void)
{
	struct rlimit zero = { 0, 0 };

	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 || getuid() == 0 ||
	    geteuid() == 0)
		return -EPERM;	/* fleet.c drops privileges before exec */
	if (setrlimit(RLIMIT_CORE, &zero) < 0 ||
	    setrlimit(RLIMIT_FSIZE, &zero) < 0)
		return -errno;
	/* A log line to a stderr that is a regular file (ztd in the
	 * foreground, redirected) then fails with EFBIG; it must not kill. */
	signal(SIGXFSZ, SIG_IGN);
	return 0;
}

/* ------------------------------------------------------------ to ztd */

static void
send_frame(struct client *c, uint8_t type, size_t n, const void *const *p,
    const size_t *l)
{
	if (fleet_frame_send(c->fd, type, n, p, l, false) < 0)
		c->stop = true;	/* ztd is gone */
}

static void
send_state(struct client *c, bool in_sync, const char *why)
{
	const void *p[2] = { in_sync ? "1" : "0", why };
	size_t l[2] = { 1, strlen(why) };

	/* In sync: every heartbeat (ztd takes silence for an outage).
	 * Out of it: once per change, an outage is one line. */
	if (!in_sync && !c->in_sync && strcmp(why, c->said) == 0)
		return;
	c->in_sync = in_sync;
	snprintf(c->said, sizeof(c->said), "%s", why);
	send_frame(c, FLEET_STATE, 2, p, l);
}

/* A key of ours: which kind, and the name after the prefix. */
static void
send_kv(struct client *c, const struct etcd_kv *kv)
{
	const char *kind, *name;
	char rev[24];

	if (strcmp(kv->key, c->policy_key) == 0) {
		kind = "policy";
		name = "";
	} else if (strncmp(kv->key, c->disabled_key,
	    strlen(c->disabled_key)) == 0) {
		kind = "disabled";
		name = kv->key + strlen(c->disabled_key);
	} else
		return;
	snprintf(rev, sizeof(rev), "%" PRId64, kv->mod_revision);
	if (kv->deleted) {
		const void *p[2] = { kind, name };
		size_t l[2] = { strlen(kind), strlen(name) };

		send_frame(c, FLEET_DELETED, 2, p, l);
	} else {
		const void *p[4] = { kind, name, kv->value, rev };
		size_t l[4] = { strlen(kind), strlen(name), kv->value_len,
		    strlen(rev) };

		send_frame(c, FLEET_ENTRY, 4, p, l);
	}
}

static void
on_watch(void *arg, int watch, const struct etcd_watch_message *m)
{
	struct client *c = arg;

	for (size_t i = 0; i < m->events.n; i++) {
		send_kv(c, &m->events.kv[i]);
		if (watch >= 0 && watch < WATCHES &&
		    m->events.kv[i].mod_revision > c->revision[watch])
			c->revision[watch] = m->events.kv[i].mod_revision;
	}
	if (m->compact_revision > 0)	/* read everything again */
		c->revision[WATCH_POLICY] = c->revision[WATCH_DISABLED] = 0;
}

/* ------------------------------------------------------------ etcd */

static int
put_report(struct client *c, char *why)
{
	int64_t ttl = 0;
	int r;

	if (c->report == NULL)
		return 0;
	if (c->lease != 0 && (r = etcd_lease_keepalive(c->etcd, c->lease,
	    &ttl, why)) < 0)
		return r;
	if (ttl == 0) {
		/* None yet, or it expired: a new one of three heartbeats. */
		if ((r = etcd_lease_grant(c->etcd, 3 * (int64_t)c->heartbeat,
		    &c->lease, why)) < 0)
			return r;
	}
	return etcd_put(c->etcd, c->host_key, c->report, strlen(c->report),
	    c->lease, why);
}

/* Read the state (when nothing was seen yet) and watch from there on. */
static int
connect_etcd(struct client *c, char *why)
{
	struct etcd_kvs kvs;
	int r;

	etcd_watch_close_all(c->etcd);
	/* Also finds an endpoint that answers, for the watches. */
	if ((r = etcd_range(c->etcd, c->policy_key, NULL, &kvs, why)) < 0)
		return r;
	/* A revision seen beyond the store's own (a member that lied, a
	 * cluster restored from an older snapshot): watches from there would
	 * wait for ever, in sync.  Everything is read again instead. */
	if (c->revision[WATCH_POLICY] > kvs.revision ||
	    c->revision[WATCH_DISABLED] > kvs.revision) {
		zt_log(LOG_WARNING, "etcd is at revision %" PRId64 ", below "
		    "the %" PRId64 " seen: reading everything again",
		    kvs.revision, c->revision[WATCH_POLICY] >
		    c->revision[WATCH_DISABLED] ? c->revision[WATCH_POLICY] :
		    c->revision[WATCH_DISABLED]);
		c->revision[WATCH_POLICY] = c->revision[WATCH_DISABLED] = 0;
	}
	if (c->revision[WATCH_POLICY] > 0 && c->revision[WATCH_DISABLED] > 0)
		etcd_kvs_clear(&kvs);
	else {
		c->revision[WATCH_POLICY] = kvs.revision;
		for (size_t i = 0; i < kvs.n; i++)
			send_kv(c, &kvs.kv[i]);
		etcd_kvs_clear(&kvs);
		if ((r = etcd_range(c->etcd, c->disabled_key, c->disabled_end,
		    &kvs, why)) < 0) {
			c->revision[WATCH_POLICY] = 0;
			return r;
		}
		for (size_t i = 0; i < kvs.n; i++)
			send_kv(c, &kvs.kv[i]);
		c->revision[WATCH_DISABLED] = kvs.revision;
		etcd_kvs_clear(&kvs);
	}
	/* Each from the revision after its own read or last event: nothing
	 * written between is missed (a write between the two reads is in
	 * the second, and the policy's watch still starts after the
	 * first). */
	if ((r = etcd_watch_open(c->etcd, c->policy_key, NULL,
	    c->revision[WATCH_POLICY] + 1, why)) != WATCH_POLICY ||
	    (r = etcd_watch_open(c->etcd, c->disabled_key, c->disabled_end,
	    c->revision[WATCH_DISABLED] + 1, why)) != WATCH_DISABLED) {
		if (r >= 0)
			snprintf(why, ETCD_WHY_MAX, "a watch opened out of "
			    "order");
		return r < 0 ? r : -EPROTO;
	}
	c->lease = 0;
	return put_report(c, why);
}

/* ------------------------------------------------------------ from ztd */

static int
configure(struct client *c, const struct fleet_frame *f)
{
	struct etcd_options o = { .timeout_ms = 3000 };
	char *s[FLEET_PARTS_MAX] = { 0 };
	int r = -EBADMSG;

	if (f->type != FLEET_CONFIG || f->n < 9)
		return -EBADMSG;
	for (size_t i = 0; i < f->n; i++)
		if ((s[i] = fleet_frame_string(f, i)) == NULL)
			goto out;
	c->prefix = strdup(s[0]);
	c->host = strdup(s[1]);
	c->heartbeat = (unsigned)strtoul(s[2], NULL, 10);
	if (c->prefix == NULL || c->host == NULL || c->heartbeat == 0 ||
	    strlen(c->prefix) > 200 || strlen(c->host) > 64)
		goto out;
	snprintf(c->policy_key, sizeof(c->policy_key), "%s/policy",
	    c->prefix);
	snprintf(c->disabled_key, sizeof(c->disabled_key), "%s/disabled/",
	    c->prefix);
	etcd_prefix_end(c->disabled_key, c->disabled_end,
	    sizeof(c->disabled_end));
	snprintf(c->host_key, sizeof(c->host_key), "%s/hosts/%s", c->prefix,
	    c->host);
	o.ca_pem = s[3][0] ? s[3] : NULL;
	o.cert_pem = s[4][0] ? s[4] : NULL;
	o.key_pem = s[5][0] ? s[5] : NULL;
	o.user = s[6][0] ? s[6] : NULL;
	o.password = s[7][0] ? s[7] : NULL;
	o.endpoints = (const char *const *)&s[8];
	o.n_endpoints = f->n - 8;
	c->etcd = etcd_new(&o);
	r = c->etcd != NULL ? 0 : -ENOMEM;
out:
	for (size_t i = 0; i < f->n; i++) {
		if (s[i] != NULL)
			explicit_bzero(s[i], strlen(s[i]));
		free(s[i]);
	}
	return r;
}

/* Take every frame ztd sent; the newest report replaces the last. */
static void
read_ztd(struct client *c, bool *report_due)
{
	struct fleet_frame f;
	int r;

	r = fleet_reader_fill(&c->reader, c->fd);
	if (r == 0 || (r < 0 && r != -EAGAIN)) {
		c->stop = true;
		return;
	}
	while ((r = fleet_reader_next(&c->reader, &f)) == 1) {
		if (f.type == FLEET_REPORT && f.n == 1) {
			free(c->report);
			c->report = fleet_frame_string(&f, 0);
			*report_due = true;
		}
	}
	if (r < 0)
		c->stop = true;
}

static int
wait_config(struct client *c)
{
	struct fleet_frame f;
	int r;

	for (;;) {
		if ((r = fleet_reader_next(&c->reader, &f)) == 1)
			return configure(c, &f);
		if (r < 0)
			return r;
		if ((r = fleet_reader_fill(&c->reader, c->fd)) <= 0)
			return r == 0 ? -EPIPE : r;
	}
}

int
fleet_client_main(int fd, const char *uid, const char *gid)
{
	struct client c = { .fd = fd };
	char why[ETCD_WHY_MAX];
	int64_t next_beat = 0, retry_at = 0;
	bool connected = false;
	int r;

	zt_log_open_stderr("ztd-fleet");
	if ((r = become(uid, gid)) < 0) {
		zt_log(LOG_ERR, "cannot drop to uid %.16s gid %.16s: %s", uid,
		    gid, strerror(-r));
		return 1;
	}
	if ((r = lock_down()) < 0) {
		zt_log(LOG_ERR, "cannot lock the fleet client down: %s",
		    strerror(-r));
		return 1;
	}
	if ((r = wait_config(&c)) < 0) {
		zt_log(LOG_ERR, "no configuration from ztd: %s", strerror(-r));
		return 1;
	}
	/* Set up: curl and OpenSSL initialised (openssl.cnf read), the TLS
	 * material in memory, the time zone read for log stamps.  From
	 * here on only the allow-list, before the first word to etcd. */
	tzset();
	if ((r = fleet_filter_load()) < 0) {
		zt_log(LOG_ERR, "cannot load the fleet client's seccomp "
		    "filter: %s", strerror(-r));
		return 1;
	}
	while (!c.stop) {
		int64_t now = zt_monotonic_ms();
		bool report_due = false;

		if (!connected && now >= retry_at) {
			if ((r = connect_etcd(&c, why)) < 0) {
				etcd_watch_close_all(c.etcd);
				send_state(&c, false, why);
				retry_at = now + RETRY_MS;
			} else {
				connected = true;
				send_state(&c, true, etcd_endpoint(c.etcd));
				next_beat = now + c.heartbeat * 1000LL;
			}
			continue;
		}
		if (!connected) {
			struct pollfd p = { .fd = c.fd, .events = POLLIN };

			if (poll(&p, 1, (int)(retry_at - now)) > 0)
				read_ztd(&c, &report_due);
			continue;
		}
		r = etcd_watch_poll(c.etcd, (int)(next_beat > now ?
		    next_beat - now : 0), c.fd, on_watch, &c, why);
		if (r == 1)
			read_ztd(&c, &report_due);
		now = zt_monotonic_ms();
		if (r >= 0 && (report_due || now >= next_beat)) {
			/* The lease's keep-alive is the heartbeat, and it
			 * vouches for the watches only when it went to their
			 * member: one that did not answer it (stopped, cut
			 * off from its leader) may hold their streams open
			 * and never send another event. */
			if ((r = put_report(&c, why)) == 0 &&
			    !etcd_watches_current(c.etcd)) {
				snprintf(why, sizeof(why), "the heartbeat went "
				    "to %.100s, not to the member the watches "
				    "are on: watching from there",
				    etcd_endpoint(c.etcd));
				r = -ECONNRESET;
			}
			if (r == 0) {
				send_state(&c, true, etcd_endpoint(c.etcd));
				next_beat = now + c.heartbeat * 1000LL;
			}
		}
		if (r < 0) {
			connected = false;
			etcd_watch_close_all(c.etcd);
			send_state(&c, false, why);
			/* Another endpoint at once, but never a busy loop. */
			retry_at = zt_monotonic_ms() + RETRY_MS / 5;
		}
	}
	etcd_free(c.etcd);
	free(c.report);
	free(c.prefix);
	free(c.host);
	fleet_reader_free(&c.reader);
	return 0;
}

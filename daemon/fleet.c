/* SPDX-License-Identifier: Apache-2.0 */
/* ztd's side of the fleet: what etcd says, checked, applied and cached. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "attest.h"
#include "audit.h"
#include "cache.h"
#include "digest.h"
#include "etcd.h"
#include "fleet.h"
#include "fleet_client.h"
#include "fleet_entry.h"
#include "fleet_proto.h"
#include "grant.h"
#include "pubkey.h"
#include "server.h"
#include "zt_err.h"
#include "zt_log.h"
#include "zt_msg.h"
#include "ztd.h"

#define FLEET_USER "zt-fleet"
#define RESTART_MS 1000
#define SECRET_FILE_MAX (64 * 1024)
#define DISABLED_MAX 4096
#define PATH_LEN 4200
#define FRAMES_PER_TURN 32
#define REFUSED_KEPT 16

struct disabled {
	char agent[FLEET_AGENT_MAX + 1];
	uint64_t serial;
	bool disabled;
	char why[FLEET_WHY_MAX + 1];
	uint8_t sha256[DIGEST_SIZE];	/* of the entry applied */
};

struct fleet {
	struct watch watch;		/* first: epoll data points here */
	int fd;				/* the client's socket, -1 none */
	pid_t pid;			/* the client, 0 none */
	struct fleet_reader reader;
	EVP_PKEY *admin;
	char dir[2048];			/* state_dir/fleet */
	/* The policy in force (NULL: the file's own agents). */
	uint8_t *policy_value;
	size_t policy_len;
	uint64_t policy_serial;
	char policy_sha256[DIGEST_HEX_SIZE];
	char *policy_text;
	char policy_name[64];
	/* The newest policy signed by the administrator that this host has
	 * seen, in force or not (one that did not load here, now or at a
	 * start): no older one may replace what is in force.  Kept in
	 * state_dir/fleet/policy.seen.  0: none. */
	uint64_t seen_serial;
	uint8_t seen_sha[DIGEST_SIZE];	/* of that entry */
	struct disabled *set;
	size_t n_set;
	/* Sync, on CLOCK_BOOTTIME but counted from a wall time kept in
	 * state_dir/fleet/last_sync across restarts. */
	bool in_sync;
	bool offline_said;
	bool denying_said;		/* past max_offline, logged */
	bool pending;			/* frames read but not yet taken */
	int64_t last_sync_ms;
	int64_t last_saved_ms;
	char endpoint[128];
	char error[FLEET_ERROR_MAX];	/* the last refusal, for the report */
	/* Entries refused lately, by SHA-256: seen again (a client restart
	 * reads everything again, a replay may be repeated), they are not
	 * checked and audited again. */
	uint8_t refused[REFUSED_KEPT][DIGEST_SIZE];
	size_t n_refused, next_refused;
	int64_t next_report_ms;
	int64_t restart_ms;		/* 0: running */
};

static int
failf(char *why, size_t size, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
failf(char *why, size_t size, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return r;
}

/* ------------------------------------------------------------ files */

/*
 * PATH's content, all or nothing: written to ".NAME.new" beside it, then
 * renamed.  The dot keeps it apart from every cache file: agent names
 * (disabled/AGENT) never start with one, and may hold ".new" anywhere
 * else.
 */
static int
write_atomic(const char *path, const void *data, size_t len)
{
	char tmp[PATH_LEN + 8];
	const char *base = strrchr(path, '/');
	ssize_t w;
	int fd, r = 0;

	base = base != NULL ? base + 1 : path;
	snprintf(tmp, sizeof(tmp), "%.*s.%s.new", (int)(base - path), path,
	    base);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		return -errno;
	w = write(fd, data, len);
	if (w != (ssize_t)len || fsync(fd) < 0)
		r = w < 0 || w == (ssize_t)len ? -errno : -ENOSPC;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

static int64_t
wall_now(void)
{
	return (int64_t)time(NULL);
}

static void
save_last_sync(struct fleet *f, int64_t now_ms)
{
	char path[PATH_LEN], text[32];
	int64_t wall = wall_now() - (now_ms - f->last_sync_ms) / 1000;
	int n = snprintf(text, sizeof(text), "%" PRId64 "\n", wall);

	snprintf(path, sizeof(path), "%s/last_sync", f->dir);
	if (write_atomic(path, text, (size_t)n) < 0)
		zt_log(LOG_WARNING, "fleet: cannot write %s: %s", path,
		    strerror(errno));
	f->last_saved_ms = now_ms;
}

/* The last sync as a CLOCK_BOOTTIME time: now less the wall time since
 * the one kept (a clock set back counts as no time passed). */
static void
load_last_sync(struct fleet *f)
{
	char path[PATH_LEN];
	uint8_t *text = NULL;
	size_t len;
	int64_t now = ztd_now_ms(), wall, ago;
	char *end;

	snprintf(path, sizeof(path), "%s/last_sync", f->dir);
	if (pubkey_read_file(path, 64, &text, &len) < 0) {
		/* Never in sync: max_offline counts from this first start. */
		f->last_sync_ms = now;
		save_last_sync(f, now);
		return;
	}
	wall = strtoll((char *)text, &end, 10);
	free(text);
	ago = wall_now() - wall;
	if (ago < 0)
		ago = 0;
	if (ago > INT64_MAX / 2000)
		ago = INT64_MAX / 2000;
	f->last_sync_ms = now - ago * 1000;
	f->last_saved_ms = now;
}

/* ------------------------------------------------------------ audit */

static void
fleet_audit(struct ztd *ztd, bool applied, const char *agent,
    const char *object, const char *reason)
{
	struct audit_event e = {
		.allow = applied,
		.action = "fleet",
		.agent = agent != NULL && agent[0] ? agent : "-",
		.account = "-",
		.uid = 0,
		.pid = ztd->fleet->pid,
		.object = object,
		.reason = reason,
		.grant = "-",
		.cache = "miss",
		.attest = attest_name(ztd->attest),
		.age = -1,
	};

	audit_write(ztd->audit, &e);
	zt_log(applied ? LOG_NOTICE : LOG_WARNING, "fleet: %s %s: %s",
	    applied ? "applied" : "refused", object, reason);
}

/* ------------------------------------------------------------ entries */

/*
 * Parse VALUE and check its signature by the administrator's key.
 * 0 with *E, or an error with WHY.
 */
static int
check_entry(struct fleet *f, const uint8_t *value, size_t len,
    struct fleet_entry *e, char *why, size_t size)
{
	char text[FLEET_WHY_MAX + 64];
	bool good;
	int r;

	if ((r = fleet_entry_parse(value, len, e, text)) < 0)
		return failf(why, size, r, "%s", text);
	if ((r = fleet_entry_verify(value, e, f->admin, &good)) < 0)
		return failf(why, size, r, "cannot check the signature: %s",
		    zt_strerror(r));
	if (!good)
		return failf(why, size, ZT_E_PERM, "bad signature: not signed "
		    "by the fleet administrator's key (admin_key)");
	return 0;
}

static struct disabled *
find_disabled(const struct fleet *f, const char *agent)
{
	for (size_t i = 0; i < f->n_set; i++)
		if (strcmp(f->set[i].agent, agent) == 0)
			return &f->set[i];
	return NULL;
}

/* Is E, for OBJECT, newer than what was applied (SERIAL, SHA of the entry
 * applied)?  0 when newer; 1 when it is the very entry applied (nothing
 * to do); ZT_E_PERM with WHY for a replay or rollback. */
static int
check_serial(const struct fleet_entry *e, uint64_t serial,
    const uint8_t *applied_sha, const uint8_t *sha, char *why, size_t size)
{
	if (e->serial > serial)
		return 0;
	if (e->serial == serial && applied_sha != NULL &&
	    memcmp(applied_sha, sha, DIGEST_SIZE) == 0)
		return 1;
	return failf(why, size, ZT_E_PERM, "serial %" PRIu64 " is at or "
	    "below %" PRIu64 ", the last applied: a replay or rollback",
	    e->serial, serial);
}

static void
sha256(const void *data, size_t len, uint8_t out[DIGEST_SIZE])
{
	EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL);
}

static bool
refused_before(const struct fleet *f, const uint8_t sha[DIGEST_SIZE])
{
	for (size_t i = 0; i < f->n_refused; i++)
		if (memcmp(f->refused[i], sha, DIGEST_SIZE) == 0)
			return true;
	return false;
}

static void
set_error(struct fleet *f, const char *object, const char *why,
    const uint8_t sha[DIGEST_SIZE])
{
	memcpy(f->refused[f->next_refused], sha, DIGEST_SIZE);
	f->next_refused = (f->next_refused + 1) % REFUSED_KEPT;
	if (f->n_refused < REFUSED_KEPT)
		f->n_refused++;
	snprintf(f->error, sizeof(f->error), "%.100s: %.380s", object, why);
}

/* Replace the configuration with the file's sections and TEXT's policy. */
static int
load_policy(struct ztd *ztd, const char *name, const char *text,
    struct ztd_config **out, char *why, size_t size)
{
	char error[CONFIG_ERROR_MAX];
	int r;

	r = config_load_with_policy(ztd->config_path, name, text, out, error);
	if (r < 0)
		return failf(why, size, r, "%s", error);
	return 0;
}

/* Keep VALUE (a checked entry E) as the policy in force. */
static int
keep_policy(struct fleet *f, const uint8_t *value, size_t len,
    const struct fleet_entry *e)
{
	uint8_t *copy = malloc(len + 1), digest[DIGEST_SIZE];
	char *text = malloc(e->body_len + 1);

	if (copy == NULL || text == NULL) {
		free(copy);
		free(text);
		return -ENOMEM;
	}
	memcpy(copy, value, len);
	copy[len] = '\0';
	memcpy(text, e->body, e->body_len);
	text[e->body_len] = '\0';
	free(f->policy_value);
	free(f->policy_text);
	f->policy_value = copy;
	f->policy_len = len;
	f->policy_text = text;
	f->policy_serial = e->serial;
	sha256(e->body, e->body_len, digest);
	digest_hex(digest, DIGEST_SIZE, f->policy_sha256);
	snprintf(f->policy_name, sizeof(f->policy_name),
	    "fleet policy serial %" PRIu64, e->serial);
	return 0;
}

/* E (the checked VALUE, of SHA) is a signed policy: the newest seen
 * when its serial is above the last; kept in state_dir when PERSIST. */
static void
note_seen(struct fleet *f, const uint8_t *value, size_t len,
    const struct fleet_entry *e, const uint8_t sha[DIGEST_SIZE],
    bool persist)
{
	char path[PATH_LEN];
	int r;

	if (e->serial <= f->seen_serial)
		return;
	f->seen_serial = e->serial;
	memcpy(f->seen_sha, sha, DIGEST_SIZE);
	if (!persist)
		return;
	snprintf(path, sizeof(path), "%s/policy.seen", f->dir);
	if ((r = write_atomic(path, value, len)) < 0)
		zt_log(LOG_ERR, "fleet: cannot keep %s: %s (a restart "
		    "without etcd would not know policy serial %" PRIu64 ")",
		    path, strerror(-r), e->serial);
}

static void
apply_policy(struct ztd *ztd, const uint8_t *value, size_t len)
{
	struct fleet *f = ztd->fleet;
	struct fleet_entry e;
	struct ztd_config *fresh;
	char why[CONFIG_ERROR_MAX + 64], object[64], name[64], path[PATH_LEN];
	uint8_t sha[DIGEST_SIZE], applied[DIGEST_SIZE];
	int r;

	sha256(value, len, sha);
	if (refused_before(f, sha))
		return;
	r = check_entry(f, value, len, &e, why, sizeof(why));
	/* The serial it claims, when it has one: said, not trusted. */
	snprintf(object, sizeof(object), e.serial ? "policy serial %" PRIu64 :
	    "policy", e.serial);
	if (r < 0)
		goto refused;
	if (e.kind != FLEET_KIND_POLICY) {
		snprintf(why, sizeof(why), "a %s entry under the policy key",
		    fleet_kind_name(e.kind));
		goto refused;
	}
	/* Below the newest signed policy seen, applied or not, is a
	 * rollback too; that very entry, if it never loaded, may be tried
	 * again (a local cause may have gone). */
	if (f->seen_serial != 0 && check_serial(&e, f->seen_serial,
	    f->seen_sha, sha, why, sizeof(why)) < 0)
		goto refused;
	if (f->policy_value != NULL)
		sha256(f->policy_value, f->policy_len, applied);
	if ((r = check_serial(&e, f->policy_serial, f->policy_value != NULL ?
	    applied : NULL, sha, why, sizeof(why))) == 1)
		return;
	if (r < 0)
		goto refused;
	/* Signed and newer: seen, before it is validated (an invalid one
	 * still says that the administrator replaced the ones before). */
	note_seen(f, value, len, &e, sha, true);
	snprintf(name, sizeof(name), "fleet policy serial %" PRIu64,
	    e.serial);
	{
		char *text = strndup((const char *)e.body, e.body_len);

		if (text == NULL)
			abort();
		r = load_policy(ztd, name, text, &fresh, why, sizeof(why));
		free(text);
	}
	if (r < 0)
		goto refused;
	if (keep_policy(f, value, len, &e) < 0)
		abort();	/* the daemon treats out-of-memory as fatal */
	snprintf(path, sizeof(path), "%s/policy", f->dir);
	if ((r = write_atomic(path, value, len)) < 0)
		zt_log(LOG_ERR, "fleet: cannot keep the policy in %s: %s "
		    "(applied, but a restart without etcd would not have it)",
		    path, strerror(-r));
	ztd_apply_config(ztd, fresh, name);
	f->error[0] = '\0';
	fleet_audit(ztd, true, NULL, object, "signed by the fleet "
	    "administrator; applied");
	return;
refused:
	set_error(f, object, why, sha);
	fleet_audit(ztd, false, NULL, object, why);
}

/* Set AGENT's state from the checked entry E (VALUE); PERSIST it. */
static int
set_disabled(struct ztd *ztd, const struct fleet_entry *e,
    const uint8_t *value, size_t len, const uint8_t sha[DIGEST_SIZE],
    bool persist)
{
	struct fleet *f = ztd->fleet;
	struct disabled *d = find_disabled(f, e->agent);
	char path[PATH_LEN];
	int r;

	if (d == NULL) {
		struct disabled *set;

		if (f->n_set == DISABLED_MAX)
			return -ENOSPC;
		set = realloc(f->set, (f->n_set + 1) * sizeof(*set));
		if (set == NULL)
			abort();
		f->set = set;
		d = &f->set[f->n_set++];
		memset(d, 0, sizeof(*d));
		snprintf(d->agent, sizeof(d->agent), "%s", e->agent);
	}
	d->serial = e->serial;
	d->disabled = e->kind == FLEET_KIND_DISABLE;
	snprintf(d->why, sizeof(d->why), "%s", e->why);
	memcpy(d->sha256, sha, DIGEST_SIZE);
	if (!persist)
		return 0;
	snprintf(path, sizeof(path), "%s/disabled/%s", f->dir, e->agent);
	if ((r = write_atomic(path, value, len)) < 0)
		zt_log(LOG_ERR, "fleet: cannot keep %s: %s", path,
		    strerror(-r));
	return 0;
}

static void
apply_disabled(struct ztd *ztd, const char *name, const uint8_t *value,
    size_t len)
{
	struct fleet *f = ztd->fleet;
	struct fleet_entry e;
	struct disabled *d;
	char why[FLEET_ERROR_MAX], object[128], text[FLEET_WHY_MAX + 128];
	uint8_t sha[DIGEST_SIZE];
	unsigned ended;
	int r;

	sha256(value, len, sha);
	if (refused_before(f, sha))
		return;
	r = check_entry(f, value, len, &e, why, sizeof(why));
	if (e.serial)
		snprintf(object, sizeof(object), "disabled/%.64s serial %"
		    PRIu64, name, e.serial);
	else
		snprintf(object, sizeof(object), "disabled/%.64s", name);
	if (r < 0)
		goto refused;
	if (e.kind == FLEET_KIND_POLICY || strcmp(e.agent, name) != 0) {
		snprintf(why, sizeof(why), "the entry names %s %s, not this "
		    "key's agent", fleet_kind_name(e.kind),
		    e.agent[0] ? e.agent : "the policy");
		goto refused;
	}
	d = find_disabled(f, e.agent);
	if ((r = check_serial(&e, d != NULL ? d->serial : 0,
	    d != NULL ? d->sha256 : NULL, sha, why, sizeof(why))) == 1)
		return;
	if (r < 0)
		goto refused;
	if (set_disabled(ztd, &e, value, len, sha, true) < 0) {
		snprintf(why, sizeof(why), "more than %d agents in the "
		    "disabled set", DISABLED_MAX);
		goto refused;
	}
	if (e.kind == FLEET_KIND_DISABLE) {
		snprintf(text, sizeof(text), "disabled by the fleet "
		    "administrator%s%s", e.why[0] ? ": " : "", e.why);
		ended = grant_revoke(ztd, NULL, e.agent, NULL, true, text);
		/* Nothing cached may outlive the disable. */
		cache_invalidate(ztd->cache);
		server_push_event(ztd, -1, ZT_EVENT_INVALIDATE, NULL, text);
		snprintf(text, sizeof(text), "agent disabled on this host%s%s; "
		    "%u grants ended", e.why[0] ? ": " : "", e.why, ended);
	} else
		snprintf(text, sizeof(text), "agent enabled again");
	fleet_audit(ztd, true, e.agent, object, text);
	return;
refused:
	set_error(f, object, why, sha);
	fleet_audit(ztd, false, name, object, why);
}

/* ------------------------------------------------------------ the cache */

/* FILE of state_dir/fleet, when it holds a policy signed by the
 * administrator: 0 with *VALUE (free it), *LEN and *E; else -1 (logged
 * unless absent). */
static int
cached_policy(struct fleet *f, const char *file, uint8_t **value,
    size_t *len, struct fleet_entry *e)
{
	char path[PATH_LEN], text[CONFIG_ERROR_MAX + 64];
	int r;

	snprintf(path, sizeof(path), "%s/%s", f->dir, file);
	if ((r = pubkey_read_file(path, ETCD_VALUE_MAX, value, len)) < 0) {
		if (r != -ENOENT)
			zt_log(LOG_ERR, "fleet: cannot read %s: %s", path,
			    strerror(-r));
		return -1;
	}
	if (check_entry(f, *value, *len, e, text, sizeof(text)) == 0) {
		if (e->kind == FLEET_KIND_POLICY)
			return 0;
		snprintf(text, sizeof(text), "not a policy");
	}
	zt_log(LOG_ERR, "fleet: cached policy %s refused: %s", path, text);
	free(*value);
	*value = NULL;
	return -1;
}

/*
 * A cached entry of state_dir/fleet/disabled/NAME that failed its check:
 * whether it is to be kept as a disable of NAME (*E, its agent NAME).  A
 * disable of NAME that parses keeps its serial and reason; one that does
 * not parse at all is a disable of serial 0 (any signed enable lifts it);
 * only an entry that parses as an enable, or names another agent or a
 * policy, is dropped.
 */
static bool
unverified_disable(const uint8_t *value, size_t len, const char *name,
    struct fleet_entry *e)
{
	char text[FLEET_WHY_MAX + 64];

	if (strlen(name) > FLEET_AGENT_MAX)
		return false;
	if (fleet_entry_parse(value, len, e, text) == 0)
		return e->kind == FLEET_KIND_DISABLE &&
		    strcmp(e->agent, name) == 0;
	memset(e, 0, sizeof(*e));
	e->kind = FLEET_KIND_DISABLE;
	snprintf(e->agent, sizeof(e->agent), "%s", name);
	snprintf(e->why, sizeof(e->why), "a cached disable that cannot be "
	    "read");
	return true;
}

static int
load_cache(struct ztd *ztd, char *why, size_t size)
{
	struct fleet *f = ztd->fleet;
	char path[PATH_LEN], text[CONFIG_ERROR_MAX + 64];
	struct fleet_entry e;
	struct ztd_config *fresh;
	uint8_t *value, sha[DIGEST_SIZE];
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/disabled", f->dir);
	if (mkdir(f->dir, 0700) < 0 && errno != EEXIST)
		return failf(why, size, -errno, "%s: %s", f->dir,
		    strerror(errno));
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return failf(why, size, -errno, "%s: %s", path,
		    strerror(errno));
	{
		DIR *dir = opendir(path);
		struct dirent *de;

		while (dir != NULL && (de = readdir(dir)) != NULL) {
			char file[PATH_LEN + 300];

			/* ".", "..", and write_atomic's ".AGENT.new". */
			if (de->d_name[0] == '.')
				continue;
			snprintf(file, sizeof(file), "%s/%s", path,
			    de->d_name);
			if (pubkey_read_file(file, ETCD_VALUE_MAX, &value,
			    &len) < 0)
				continue;
			text[0] = '\0';
			r = check_entry(f, value, len, &e, text, sizeof(text));
			if (r == 0 && (e.kind == FLEET_KIND_POLICY ||
			    strcmp(e.agent, de->d_name) != 0))
				snprintf(text, sizeof(text), "not a disable or "
				    "enable of %.64s", de->d_name);
			sha256(value, len, sha);
			if (text[0] == '\0')
				set_disabled(ztd, &e, value, len, sha, false);
			else if (r < 0 && unverified_disable(value, len,
			    de->d_name, &e)) {
				/* ztd wrote it (state_dir is root's) once the
				 * key then in force had signed it: what no
				 * longer verifies -- admin_key rotated, the
				 * file damaged -- is no enable.  Fail closed:
				 * disabled until admin_key signs an enable
				 * (serials are times: above this one). */
				zt_log(LOG_WARNING, "fleet: cached disable %s "
				    "no longer verifies (%s): %s stays "
				    "disabled until an enable signed by "
				    "admin_key", file, text, e.agent);
				set_disabled(ztd, &e, value, len, sha, false);
			} else
				zt_log(LOG_ERR, "fleet: cached %s refused: %s",
				    file, text);
			free(value);
		}
		if (dir != NULL)
			closedir(dir);
	}
	/* The newest signed policy seen, then the one in force: both are
	 * the floor below which no policy from etcd is taken. */
	if (cached_policy(f, "policy.seen", &value, &len, &e) == 0) {
		sha256(value, len, sha);
		note_seen(f, value, len, &e, sha, false);
		free(value);
	}
	if (cached_policy(f, "policy", &value, &len, &e) < 0)
		return 0;
	sha256(value, len, sha);
	note_seen(f, value, len, &e, sha, false);
	if ((r = load_policy(ztd, "cached fleet policy",
	    (const char *)value + e.body_offset, &fresh, text,
	    sizeof(text))) < 0) {
		/* The file's own agents then, until etcd says more: a newer
		 * policy, or this one again. */
		zt_log(LOG_ERR, "fleet: cached policy %s/policy (serial %"
		    PRIu64 ") refused: %s", f->dir, e.serial, text);
		free(value);
		return 0;
	}
	if (keep_policy(f, value, len, &e) < 0)
		abort();
	free(value);
	config_free(ztd->config);
	ztd->config = fresh;
	zt_log(LOG_NOTICE, "fleet: cached policy serial %" PRIu64 " in force "
	    "(%zu agents)", f->policy_serial, fresh->n_agents);
	return 0;
}

int
fleet_new(struct ztd *ztd, char *why, size_t size)
{
	const struct fleet_config *fc = &ztd->config->fleet;
	char text[PUBKEY_WHY_MAX];
	struct fleet *f;
	uint8_t *pem;
	size_t len;
	int r;

	ztd->fleet = NULL;
	if (!fc->enabled)
		return 0;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -ENOMEM;
	f->watch.kind = WATCH_FLEET;
	f->fd = -1;
	ztd->fleet = f;
	if ((r = pubkey_read_file(fc->admin_key, PUBKEY_FILE_MAX, &pem,
	    &len)) < 0)
		return failf(why, size, r, "fleet.admin_key %s: %s",
		    fc->admin_key, zt_strerror(r));
	r = pubkey_from_pem(pem, len, &f->admin, text);
	free(pem);
	if (r < 0)
		return failf(why, size, r, "fleet.admin_key %s %s",
		    fc->admin_key, text);
	snprintf(f->dir, sizeof(f->dir), "%s/fleet", ztd->config->state_dir);
	if ((r = load_cache(ztd, why, size)) < 0)
		return r;
	load_last_sync(f);
	return 0;
}

/* ------------------------------------------------------------ the client */

/* Stop the client: SIGKILL (nothing when it is dead already) and reap
 * it; its wait status into *STATUS when not NULL (0: none). */
static void
stop_client_status(struct ztd *ztd, int *status)
{
	struct fleet *f = ztd->fleet;
	int st = 0;

	if (f->fd >= 0) {
		epoll_ctl(ztd->server.epoll_fd, EPOLL_CTL_DEL, f->fd, NULL);
		close(f->fd);
		f->fd = -1;
	}
	if (f->pid > 0) {
		kill(f->pid, SIGKILL);
		while (waitpid(f->pid, &st, 0) < 0 && errno == EINTR)
			;
		f->pid = 0;
	}
	fleet_reader_free(&f->reader);
	f->pending = false;
	if (status != NULL)
		*status = st;
}

static void
stop_client(struct ztd *ztd)
{
	stop_client_status(ztd, NULL);
}

/* Read FILE (a secret: wiped by the caller) or "" for NULL. */
static int
read_secret(const char *path, char **out, char *why, size_t size)
{
	uint8_t *data;
	size_t len;
	int r;

	if (path == NULL) {
		*out = strdup("");
		return *out != NULL ? 0 : -ENOMEM;
	}
	if ((r = pubkey_read_file(path, SECRET_FILE_MAX, &data, &len)) < 0)
		return failf(why, size, r, "fleet: %s: %s", path,
		    zt_strerror(r));
	/* A password file's final newline is not part of it. */
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	*out = (char *)data;
	return 0;
}

/* The uid and gid the client runs as: zt-fleet, else nobody. */
static int
client_user(uid_t *uid, gid_t *gid)
{
	struct passwd pw, *found = NULL;
	char buf[2048];

	if ((getpwnam_r(FLEET_USER, &pw, buf, sizeof(buf), &found) != 0 ||
	    found == NULL) &&
	    (getpwnam_r("nobody", &pw, buf, sizeof(buf), &found) != 0 ||
	    found == NULL))
		return -ENOENT;
	if (found->pw_uid == 0 || found->pw_gid == 0)
		return -EPERM;
	*uid = found->pw_uid;
	*gid = found->pw_gid;
	return 0;
}

/*
 * In the child: keep only SOCK as fd 3, exec ztd as the client, which
 * drops to UID/GID itself before it reads anything (fleet_client_main):
 * a process that changes its uid after its exec is not dumpable, where
 * one execed under the new uid is, from the exec until it could say so,
 * open to every process of that uid.  Never returns.
 */
static void
exec_client(int exe, int sock, uid_t uid, gid_t gid)
{
	char uid_text[16], gid_text[16];
	char *argv[] = { (char *)"ztd-fleet", (char *)FLEET_CLIENT_ARG,
	    uid_text, gid_text, NULL };
	char *envp[] = { NULL };
	sigset_t none;
	int s, null;

	snprintf(uid_text, sizeof(uid_text), "%u", (unsigned)uid);
	snprintf(gid_text, sizeof(gid_text), "%u", (unsigned)gid);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Nothing of ztd's but stderr, for the client's log lines. */
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 ||
	    dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
	    (s = fcntl(sock, F_DUPFD, 10)) < 0 ||
	    dup2(s, FLEET_CLIENT_FD) < 0 ||
	    syscall(SYS_close_range, FLEET_CLIENT_FD + 1, ~0U,
	    CLOSE_RANGE_CLOEXEC) < 0)
		_exit(126);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		_exit(126);
	syscall(SYS_execveat, exe, "", argv, envp, AT_EMPTY_PATH);
	_exit(127);
}

static int
spawn(struct ztd *ztd, char *why, size_t size)
{
	const struct fleet_config *fc = &ztd->config->fleet;
	struct fleet *f = ztd->fleet;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &f->watch };
	char *secret[5] = { 0 }, beat[16];
	const void *parts[FLEET_PARTS_MAX];
	size_t lens[FLEET_PARTS_MAX], n = 0;
	int sv[2] = { -1, -1 }, exe, r;
	uid_t uid;
	gid_t gid;
	pid_t pid;

	if ((r = client_user(&uid, &gid)) < 0)
		return failf(why, size, r, "fleet: no user %s or nobody to run "
		    "the fleet client as", FLEET_USER);
	if ((r = read_secret(fc->ca, &secret[0], why, size)) < 0 ||
	    (r = read_secret(fc->cert, &secret[1], why, size)) < 0 ||
	    (r = read_secret(fc->key, &secret[2], why, size)) < 0 ||
	    (r = read_secret(fc->password_file, &secret[3], why, size)) < 0)
		goto out;
	if ((exe = open("/proc/self/exe", O_PATH | O_CLOEXEC)) < 0) {
		r = failf(why, size, -errno, "fleet: /proc/self/exe: %s",
		    strerror(errno));
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = failf(why, size, -errno, "fleet: socketpair: %s",
		    strerror(errno));
		close(exe);
		goto out;
	}
	if ((pid = fork()) < 0) {
		r = failf(why, size, -errno, "fleet: fork: %s",
		    strerror(errno));
		close(exe);
		close(sv[0]);
		close(sv[1]);
		goto out;
	}
	if (pid == 0)
		exec_client(exe, sv[1], uid, gid);
	close(exe);
	close(sv[1]);
	f->pid = pid;
	f->fd = sv[0];
	snprintf(beat, sizeof(beat), "%u", fc->heartbeat);
#define PART(s) do { parts[n] = (s); lens[n] = strlen(s); n++; } while (0)
	PART(fc->prefix);
	PART(fc->host);
	PART(beat);
	PART(secret[0]);
	PART(secret[1]);
	PART(secret[2]);
	PART(fc->user != NULL ? fc->user : "");
	PART(secret[3]);
	for (size_t i = 0; i < fc->n_endpoints; i++)
		PART(fc->endpoints[i]);
#undef PART
	if ((r = fleet_frame_send(f->fd, FLEET_CONFIG, n, parts, lens,
	    false)) < 0 ||
	    fcntl(f->fd, F_SETFL, O_NONBLOCK) < 0 ||
	    epoll_ctl(ztd->server.epoll_fd, EPOLL_CTL_ADD, f->fd, &ev) < 0) {
		r = failf(why, size, r < 0 ? r : -errno, "fleet: cannot start "
		    "the client: %s", zt_strerror(r < 0 ? r : -errno));
		stop_client(ztd);
		goto out;
	}
	zt_log(LOG_INFO, "fleet: client pid %d (uid %u) for %zu etcd "
	    "endpoints", (int)pid, (unsigned)uid, fc->n_endpoints);
	r = 0;
out:
	for (size_t i = 0; i < 4; i++)
		if (secret[i] != NULL) {
			OPENSSL_cleanse(secret[i], strlen(secret[i]));
			free(secret[i]);
		}
	return r;
}

int
fleet_start(struct ztd *ztd, char *why, size_t size)
{
	if (ztd->fleet == NULL)
		return 0;
	ztd->fleet->next_report_ms = ztd_now_ms();
	return spawn(ztd, why, size);
}

/* ------------------------------------------------------------ frames */

static void
on_state(struct ztd *ztd, const struct fleet_frame *fr)
{
	struct fleet *f = ztd->fleet;
	bool sync = fr->n >= 1 && fr->len[0] == 1 && fr->part[0][0] == '1';
	char text[128];
	size_t len = fr->n >= 2 ? fr->len[1] : 0;
	int64_t now = ztd_now_ms();

	if (len >= sizeof(text))
		len = sizeof(text) - 1;
	memcpy(text, len ? (const char *)fr->part[1] : "", len);
	text[len] = '\0';
	for (char *c = text; *c != '\0'; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	if (sync) {
		if (!f->in_sync)
			zt_log(LOG_NOTICE, "fleet: in sync with etcd (%s)",
			    text);
		f->in_sync = true;
		f->offline_said = false;
		f->last_sync_ms = now;
		snprintf(f->endpoint, sizeof(f->endpoint), "%s", text);
		if (now - f->last_saved_ms >= 1000LL *
		    ztd->config->fleet.heartbeat)
			save_last_sync(f, now);
		return;
	}
	if (f->in_sync || f->endpoint[0] != '\0' || !f->offline_said)
		zt_log(LOG_WARNING, "fleet: etcd unreachable (%s): deciding "
		    "from the cached policy (serial %" PRIu64 ") and disabled "
		    "set", text, f->policy_serial);
	f->in_sync = false;
	f->endpoint[0] = '\0';
	f->offline_said = true;
}

static void
on_frame(struct ztd *ztd, const struct fleet_frame *fr)
{
	char kind[16], name[FLEET_AGENT_MAX + 1], shown[4 * 64 + 1];

	if (fr->type == FLEET_STATE) {
		on_state(ztd, fr);
		return;
	}
	if ((fr->type != FLEET_ENTRY || fr->n != 4) &&
	    (fr->type != FLEET_DELETED || fr->n != 2))
		return;
	/* The client's words: a kind we know, a name that is an agent's. */
	if (fr->len[0] >= sizeof(kind) || fr->len[1] >= sizeof(name)) {
		zt_log(LOG_WARNING, "fleet: an entry under a key that names "
		    "no agent: ignored");
		return;
	}
	memcpy(kind, fr->part[0], fr->len[0]);
	kind[fr->len[0]] = '\0';
	memcpy(name, fr->part[1], fr->len[1]);
	name[fr->len[1]] = '\0';
	if (strcmp(kind, "disabled") == 0 && (strlen(name) != fr->len[1] ||
	    !config_is_name(name))) {
		zt_escape(shown, sizeof(shown), (const char *)fr->part[1],
		    fr->len[1]);
		zt_log(LOG_WARNING, "fleet: disabled/%s names no agent: "
		    "ignored", shown);
		return;
	}
	if (fr->type == FLEET_DELETED) {
		/* A delete carries no signature: it changes nothing. */
		zt_log(LOG_WARNING, "fleet: a %s entry %s was deleted in "
		    "etcd: ignored (only a signed entry changes anything)",
		    strcmp(kind, "policy") == 0 ? "policy" : "disabled",
		    name);
		return;
	}
	if (strcmp(kind, "policy") == 0)
		apply_policy(ztd, fr->part[2], fr->len[2]);
	else if (strcmp(kind, "disabled") == 0)
		apply_disabled(ztd, name, fr->part[2], fr->len[2]);
}

void
fleet_ready(struct ztd *ztd)
{
	struct fleet *f = ztd->fleet;
	struct fleet_frame fr;
	int r = 0;

	/* Stopped earlier in this epoll batch (a reload): nothing to read. */
	if (f->fd < 0)
		return;
	/* A few frames at a time: a client that floods ztd with entries to
	 * check (each a signature, maybe a policy to validate) does not hold
	 * the loop; the rest waits for fleet_tick. */
	for (unsigned taken = 0;; ) {
		if (!f->pending) {
			r = fleet_reader_fill(&f->reader, f->fd);
			if (r == -EAGAIN)
				return;
			if (r <= 0)
				break;
		}
		f->pending = false;
		while (taken < FRAMES_PER_TURN &&
		    (r = fleet_reader_next(&f->reader, &fr)) == 1) {
			on_frame(ztd, &fr);
			taken++;
		}
		if (r < 0)
			break;
		if (taken == FRAMES_PER_TURN) {
			f->pending = true;
			return;
		}
	}
	f->pending = false;
	{
		int st;

		/* Closed by the client: it is gone or in its exit, whose
		 * status a SIGKILL no longer changes (SIGSYS: a call outside
		 * its seccomp allow-list). */
		stop_client_status(ztd, &st);
		if (r == 0 && WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL)
			zt_log(LOG_WARNING, "fleet: the client was killed by "
			    "signal %d (%s)%s; restarting it", WTERMSIG(st),
			    strsignal(WTERMSIG(st)), WTERMSIG(st) == SIGSYS ?
			    ": a system call outside its seccomp allow-list" :
			    "");
		else
			zt_log(LOG_WARNING, "fleet: the client %s; restarting "
			    "it", r == 0 ? "exited" : "broke the protocol");
	}
	if (f->in_sync)
		zt_log(LOG_WARNING, "fleet: out of sync until the client is "
		    "back");
	f->in_sync = false;
	f->restart_ms = ztd_now_ms() + RESTART_MS;
}

/* ------------------------------------------------------------ report */

/* S as a JSON string's content (escaped, cut to fit). */
static void
json_text(char *out, size_t size, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c > 0x7e)
			n += (size_t)snprintf(out + n, size - n, "\\u%04x", c);
		else
			out[n++] = (char)c;
	}
	out[n] = '\0';
}

static bool
offline_too_long(const struct ztd *ztd, int64_t now)
{
	const struct fleet *f = ztd->fleet;

	return !f->in_sync && now - f->last_sync_ms >
	    1000LL * ztd->config->fleet.max_offline;
}

bool
fleet_status_text(const struct ztd *ztd, char *out, size_t size)
{
	const struct fleet *f = ztd->fleet;
	int64_t now = ztd_now_ms();
	size_t disabled = 0;

	if (f == NULL)
		return false;
	for (size_t i = 0; i < f->n_set; i++)
		disabled += f->set[i].disabled;
	snprintf(out, size, "%d %" PRId64 " %" PRIu64 " %zu %d %u %s %s",
	    f->in_sync, wall_now() - (now - f->last_sync_ms) / 1000,
	    f->policy_serial, disabled, offline_too_long(ztd, now),
	    ztd->config->fleet.max_offline, ztd->config->fleet.host,
	    f->in_sync ? f->endpoint : "");
	return true;
}

static void
send_report(struct ztd *ztd, int64_t now)
{
	struct fleet *f = ztd->fleet;
	struct attest_view view;
	char report[4096], error[FLEET_ERROR_MAX * 2], host[160];
	char disabled[1024] = "";
	const void *part[1];
	size_t len[1], used = 0;
	int n, r;

	attest_get_view(ztd->attest, &view);
	for (size_t i = 0; i < f->n_set && used + 80 < sizeof(disabled); i++)
		if (f->set[i].disabled)
			used += (size_t)snprintf(disabled + used,
			    sizeof(disabled) - used, "%s\"%s\"",
			    used ? "," : "", f->set[i].agent);
	json_text(error, sizeof(error), f->error);
	json_text(host, sizeof(host), ztd->config->fleet.host);
	n = snprintf(report, sizeof(report), "{\"host\":\"%s\","
	    "\"version\":\"%s\",\"time\":%" PRId64 ","
	    "\"attestation\":{\"mode\":\"%s\",\"trusted\":%s,"
	    "\"quote_age\":%" PRId64 "},"
	    "\"policy\":{\"serial\":%" PRIu64 ",\"sha256\":\"%s\"},"
	    "\"grants\":%zu,\"disabled\":[%s],\"offline_denying\":%s,"
	    "\"error\":\"%s\"}", host, PACKAGE_VERSION, wall_now(),
	    attest_name(ztd->attest), view.trusted ? "true" : "false",
	    view.last_good_ms > 0 ? (now - view.last_good_ms) / 1000 :
	    (int64_t)-1, f->policy_serial,
	    f->policy_value != NULL ? f->policy_sha256 : "",
	    grant_count(ztd), disabled,
	    offline_too_long(ztd, now) ? "true" : "false", error);
	if (n < 0 || (size_t)n >= sizeof(report))
		return;
	part[0] = report;
	len[0] = (size_t)n;
	/* Never block the loop: a client that does not read misses one. */
	if ((r = fleet_frame_send(f->fd, FLEET_REPORT, 1, part, len,
	    true)) < 0 && r != -EAGAIN) {
		zt_log(LOG_WARNING, "fleet: cannot reach the client: %s",
		    zt_strerror(r));
		stop_client(ztd);
		f->in_sync = false;
		f->restart_ms = now + RESTART_MS;
	}
}

int
fleet_tick(struct ztd *ztd)
{
	struct fleet *f = ztd->fleet;
	int64_t now = ztd_now_ms(), beat, next;
	char why[FLEET_ERROR_MAX];

	if (f == NULL)
		return -1;
	beat = 1000LL * ztd->config->fleet.heartbeat;
	if (f->pid == 0 && f->restart_ms != 0 && now >= f->restart_ms) {
		f->restart_ms = 0;
		if (spawn(ztd, why, sizeof(why)) < 0) {
			zt_log(LOG_ERR, "%s", why);
			f->restart_ms = now + RESTART_MS;
		}
	}
	/* The client says "in sync" every heartbeat; silence is not. */
	if (f->in_sync && now - f->last_sync_ms > 3 * beat) {
		zt_log(LOG_WARNING, "fleet: no word from the fleet client for "
		    "%" PRId64 " s: out of sync", (now - f->last_sync_ms) /
		    1000);
		f->in_sync = false;
	}
	if (offline_too_long(ztd, now) != f->denying_said) {
		f->denying_said = !f->denying_said;
		if (f->denying_said)
			zt_log(LOG_WARNING, "fleet: no sync with etcd for %"
			    PRId64 " s (max_offline %u s): new sessions and "
			    "high-risk actions are denied (fleet unreachable)",
			    (now - f->last_sync_ms) / 1000,
			    ztd->config->fleet.max_offline);
		else
			zt_log(LOG_NOTICE, "fleet: in sync again: sessions "
			    "and high-risk actions decided as usual");
	}
	if (f->pending)
		fleet_ready(ztd);
	if (f->fd >= 0 && now >= f->next_report_ms) {
		send_report(ztd, now);
		f->next_report_ms = now + beat;
	}
	next = f->pending ? 0 : f->next_report_ms - now;
	if (f->restart_ms != 0 && f->restart_ms - now < next)
		next = f->restart_ms - now;
	return next < 0 ? 0 : next > INT32_MAX ? INT32_MAX : (int)next;
}

const char *
fleet_policy_text(const struct fleet *f)
{
	return f != NULL ? f->policy_text : NULL;
}

const char *
fleet_policy_name(const struct fleet *f)
{
	return f != NULL ? f->policy_name : NULL;
}

bool
fleet_refuses(const struct ztd *ztd, const char *agent, bool session_or_high,
    char *reason, size_t size)
{
	const struct fleet *f = ztd->fleet;
	const struct disabled *d;
	int64_t now;

	if (f == NULL)
		return false;
	if ((d = find_disabled(f, agent)) != NULL && d->disabled) {
		snprintf(reason, size, "agent disabled by the fleet "
		    "administrator (serial %" PRIu64 ")%s%s", d->serial,
		    d->why[0] ? ": " : "", d->why);
		return true;
	}
	now = ztd_now_ms();
	if (session_or_high && offline_too_long(ztd, now)) {
		snprintf(reason, size, "fleet unreachable: no sync with etcd "
		    "for %" PRId64 " s (max_offline %u s)",
		    (now - f->last_sync_ms) / 1000,
		    ztd->config->fleet.max_offline);
		return true;
	}
	return false;
}

void
fleet_reconfigure(struct ztd *ztd)
{
	const struct fleet_config *fc = &ztd->config->fleet;
	struct fleet *f = ztd->fleet;
	char why[PUBKEY_WHY_MAX];
	EVP_PKEY *key;
	uint8_t *pem;
	size_t len;
	int r;

	if ((f != NULL) != fc->enabled) {
		zt_log(LOG_WARNING, "fleet: the fleet section was %s: that "
		    "takes effect at the next start", f != NULL ? "removed" :
		    "added");
		return;
	}
	if (f == NULL)
		return;
	if ((r = pubkey_read_file(fc->admin_key, PUBKEY_FILE_MAX, &pem,
	    &len)) < 0)
		snprintf(why, sizeof(why), "%s", zt_strerror(r));
	else {
		r = pubkey_from_pem(pem, len, &key, why);
		free(pem);
	}
	if (r < 0)
		zt_log(LOG_ERR, "fleet: admin_key %s: %s: keeping the key read "
		    "before", fc->admin_key, why);
	else {
		EVP_PKEY_free(f->admin);
		f->admin = key;
	}
	/* A policy refused under the old file may be valid under this one. */
	f->n_refused = f->next_refused = 0;
	/* The client as the section now says: endpoints, credentials. */
	stop_client(ztd);
	f->in_sync = false;
	f->restart_ms = ztd_now_ms();
}

void
fleet_free(struct ztd *ztd)
{
	struct fleet *f = ztd->fleet;

	if (f == NULL)
		return;
	stop_client(ztd);
	if (f->in_sync)
		save_last_sync(f, ztd_now_ms());
	EVP_PKEY_free(f->admin);
	free(f->policy_value);
	free(f->policy_text);
	free(f->set);
	free(f);
	ztd->fleet = NULL;
}

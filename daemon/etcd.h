/* SPDX-License-Identifier: Apache-2.0 */
/* etcd's v3 HTTP/JSON gateway: range, put, leases, watches (libcurl, jansson). */
#ifndef ZTD_ETCD_H
#define ZTD_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETCD_KEY_MAX 512		/* bytes of a key */
#define ETCD_VALUE_MAX (2 * 1024 * 1024) /* bytes of a value */
#define ETCD_KVS_MAX 4096		/* pairs in one range answer */
#define ETCD_REPLY_MAX (32 * 1024 * 1024) /* bytes of one JSON answer */
#define ETCD_WHY_MAX 256
#define ETCD_WATCHES_MAX 2

/* One key and its value (both may hold any byte; NUL-terminated too). */
struct etcd_kv {
	char *key;
	size_t key_len;
	uint8_t *value;
	size_t value_len;
	int64_t mod_revision;
	bool deleted;		/* a watch's DELETE event: no value */
};

struct etcd_kvs {
	int64_t revision;	/* the store's, when answered */
	struct etcd_kv *kv;
	size_t n;
};

void etcd_kvs_clear(struct etcd_kvs *kvs);

/* What one message of a watch stream says. */
struct etcd_watch_message {
	int64_t revision;	/* header.revision */
	bool created;
	bool canceled;
	int64_t compact_revision;	/* > 0: the start was compacted */
	struct etcd_kvs events;	/* in order; deleted ones flagged */
	char error[ETCD_WHY_MAX];	/* "" or the gateway's error */
};

/*
 * The parsers of what etcd sends (untrusted: fuzzed by fuzz_etcd).  Each
 * takes JSON text of LEN bytes (no NUL needed), checks every type and
 * size against the caps above, decodes base64.  0, or -EBADMSG with WHY.
 */
int etcd_parse_range(const char *json, size_t len, struct etcd_kvs *out,
    char *why);
int etcd_parse_watch(const char *json, size_t len,
    struct etcd_watch_message *out, char *why);
/* A lease grant's or keep-alive's answer: *ID and *TTL (0: expired). */
int etcd_parse_lease(const char *json, size_t len, int64_t *id,
    int64_t *ttl, char *why);
/* An authenticate answer: its token, a new string. */
int etcd_parse_token(const char *json, size_t len, char **token, char *why);

/* Standard base64 with padding; 0, or -EBADMSG. OUT has LEN*3/4+3 bytes. */
int etcd_base64_decode(const char *in, size_t len, uint8_t *out,
    size_t *out_len);

/* What a client needs, PEM texts held in memory (copied by etcd_new). */
struct etcd_options {
	const char *const *endpoints;
	size_t n_endpoints;
	const char *ca_pem;		/* NULL: no https */
	const char *cert_pem, *key_pem;	/* NULL: no client certificate */
	const char *user, *password;	/* NULL: no etcd auth */
	long timeout_ms;		/* one request's budget */
};

struct etcd;

/* A client over the endpoints, none contacted yet; NULL on ENOMEM. */
struct etcd *etcd_new(const struct etcd_options *options);
void etcd_free(struct etcd *etcd);

/* The endpoint in use (requests move on to the next one when it fails). */
const char *etcd_endpoint(const struct etcd *etcd);

/*
 * Unary calls, trying each endpoint once from the current one (and
 * logging in first when a user is set).  0, or -errno with WHY:
 * -EHOSTUNREACH when no endpoint answered, -EBADMSG a bad answer,
 * -EPERM etcd refused.
 */
int etcd_range(struct etcd *etcd, const char *key, const char *range_end,
    struct etcd_kvs *out, char *why);
int etcd_put(struct etcd *etcd, const char *key, const void *value,
    size_t len, int64_t lease, char *why);
int etcd_lease_grant(struct etcd *etcd, int64_t ttl, int64_t *id,
    char *why);
int etcd_lease_keepalive(struct etcd *etcd, int64_t id, int64_t *ttl,
    char *why);

/*
 * Open a watch of [KEY, RANGE_END) from START_REVISION on the current
 * endpoint (at most ETCD_WATCHES_MAX at once).  Returns its index >= 0.
 */
int etcd_watch_open(struct etcd *etcd, const char *key,
    const char *range_end, int64_t start_revision, char *why);

/*
 * Are the open watches on the member the unary calls now go to?  A call
 * moves on to the next endpoint when its member does not answer (stopped,
 * cut off from its cluster's leader), but the watches stay where they
 * were opened, on a stream that may stay open and never carry another
 * event: the caller must then open them again.  true without watches.
 */
bool etcd_watches_current(const struct etcd *etcd);

/* Close every watch (before opening them again elsewhere). */
void etcd_watch_close_all(struct etcd *etcd);

typedef void (*etcd_watch_fn)(void *arg, int watch,
    const struct etcd_watch_message *message);

/*
 * Wait up to TIMEOUT_MS for watch data or for EXTRA_FD (-1: none) to be
 * readable, calling FN for every complete message.  Returns 1 when
 * EXTRA_FD is readable, 0 on a timeout or after messages, or -errno with
 * WHY when a watch ended or sent garbage (close them all and reopen).
 */
int etcd_watch_poll(struct etcd *etcd, int timeout_ms, int extra_fd,
    etcd_watch_fn fn, void *arg, char *why);

/* JSON text that must be an object, again as compact ASCII-only JSON
 * with its keys sorted (a new string), or NULL. */
char *etcd_json_canonical(const char *json, size_t len);

/* Prefix end for a range over every key starting with PREFIX. */
void etcd_prefix_end(const char *prefix, char *out, size_t size);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* etcd's v3 gateway over libcurl and jansson: the only file that sees them. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "etcd.h"

#define URL_MAX 512
#define CONNECT_TIMEOUT_MS 2000L

struct buffer {
	char *data;
	size_t len, cap, max;
	bool overflow;
};

struct watch {
	CURL *easy;
	char *request;			/* its JSON body, alive while it runs */
	struct buffer in;
	bool done;
	size_t endpoint;		/* the member it was opened on */
};

struct etcd {
	char **endpoints;
	size_t n_endpoints, current;
	char *ca_pem, *cert_pem, *key_pem, *user, *password;
	long timeout_ms;
	char *token;			/* etcd auth's, NULL until logged in */
	/* The one-shot requests' handle, kept so that its connections are
	 * too: a login, a read and a write are one TLS handshake per
	 * member, not three.  NULL after a request that failed. */
	CURL *easy;
	CURLM *multi;
	struct watch watches[ETCD_WATCHES_MAX];
	size_t n_watches;
	struct curl_slist *watch_headers;
};

/* ------------------------------------------------------------ parsing */

static int
bad(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
bad(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, ETCD_WHY_MAX, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

int
etcd_base64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	size_t n = 0, pad = 0;

	if (len % 4 != 0)
		return -EBADMSG;
	for (size_t i = 0; i < len; i++) {
		const char *p;

		if (in[i] == '=') {
			/* Only at the end, at most two. */
			if (i < len - 2)
				return -EBADMSG;
			pad++;
			acc <<= 6;
		} else {
			if (pad > 0 || in[i] == '\0' ||
			    (p = strchr(alphabet, in[i])) == NULL)
				return -EBADMSG;
			acc = (acc << 6) | (uint32_t)(p - alphabet);
		}
		if (i % 4 == 3) {
			out[n++] = (uint8_t)(acc >> 16);
			out[n++] = (uint8_t)(acc >> 8);
			out[n++] = (uint8_t)acc;
			acc = 0;
		}
	}
	*out_len = n - pad;
	return 0;
}

/* A base64 string member NAME of OBJ (absent: empty) into a new buffer
 * of at most MAX bytes, NUL-terminated. */
static int
get_bytes(json_t *obj, const char *name, size_t max, uint8_t **out,
    size_t *out_len, char *why)
{
	json_t *v = json_object_get(obj, name);
	const char *s = "";
	size_t len = 0;
	uint8_t *buf;

	if (v != NULL) {
		if (!json_is_string(v))
			return bad(why, "%s is not a string", name);
		s = json_string_value(v);
		len = json_string_length(v);
	}
	if (len / 4 * 3 > max + 2)
		return bad(why, "%s is too long", name);
	if ((buf = malloc(len / 4 * 3 + 3)) == NULL)
		return -ENOMEM;
	if (etcd_base64_decode(s, len, buf, out_len) < 0 || *out_len > max) {
		free(buf);
		return bad(why, "%s is not base64 of a short enough value",
		    name);
	}
	buf[*out_len] = '\0';
	*out = buf;
	return 0;
}

/* An int64 member (etcd writes them as strings); absent: 0. */
static int
get_int64(json_t *obj, const char *name, int64_t *out, char *why)
{
	json_t *v = json_object_get(obj, name);
	const char *s;
	char *end;
	long long n;

	*out = 0;
	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return bad(why, "%s is not a number", name);
	s = json_string_value(v);
	errno = 0;
	n = strtoll(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 ||
	    (s[0] != '-' && (s[0] < '0' || s[0] > '9')))
		return bad(why, "%s is not a number", name);
	*out = (int64_t)n;
	return 0;
}

static bool
get_bool(json_t *obj, const char *name)
{
	return json_is_true(json_object_get(obj, name));
}

/* JSON of LEN bytes, which must be an object. */
static json_t *
load(const char *json, size_t len, char *why)
{
	json_error_t error;
	json_t *root;

	if (len > ETCD_REPLY_MAX) {
		snprintf(why, ETCD_WHY_MAX, "answer larger than %d bytes",
		    ETCD_REPLY_MAX);
		return NULL;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &error);
	if (root == NULL) {
		snprintf(why, ETCD_WHY_MAX, "not JSON: %.80s", error.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		snprintf(why, ETCD_WHY_MAX, "not a JSON object");
		return NULL;
	}
	return root;
}

/* The gateway's {"error": ..., "code": N}: etcd refused. */
static int
gateway_error(json_t *root, char *why)
{
	json_t *e = json_object_get(root, "error");
	json_t *m = json_object_get(root, "message");
	int64_t code = 0;
	char tmp[ETCD_WHY_MAX];

	if (e == NULL)
		return 0;
	get_int64(root, "code", &code, tmp);
	snprintf(why, ETCD_WHY_MAX, "etcd: %.200s (code %" PRId64 ")",
	    json_is_string(m) ? json_string_value(m) :
	    json_is_string(e) ? json_string_value(e) : "error", code);
	/* gRPC codes: 7 permission denied, 16 unauthenticated. */
	return code == 7 || code == 16 ? -EPERM : -EPROTO;
}

static void
kv_clear(struct etcd_kv *kv)
{
	free(kv->key);
	if (kv->value != NULL)
		OPENSSL_cleanse(kv->value, kv->value_len);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

void
etcd_kvs_clear(struct etcd_kvs *kvs)
{
	for (size_t i = 0; i < kvs->n; i++)
		kv_clear(&kvs->kv[i]);
	free(kvs->kv);
	memset(kvs, 0, sizeof(*kvs));
}

static int
parse_kv(json_t *o, struct etcd_kv *kv, char *why)
{
	uint8_t *key = NULL;
	int r;

	if (!json_is_object(o))
		return bad(why, "a %s is not an object", "kv");
	if ((r = get_bytes(o, "key", ETCD_KEY_MAX, &key, &kv->key_len,
	    why)) < 0)
		return r;
	kv->key = (char *)key;
	if (kv->key_len == 0 || memchr(kv->key, '\0', kv->key_len) != NULL)
		return bad(why, "a key is empty or holds a NUL%s", "");
	if ((r = get_bytes(o, "value", ETCD_VALUE_MAX, &kv->value,
	    &kv->value_len, why)) < 0 ||
	    (r = get_int64(o, "mod_revision", &kv->mod_revision, why)) < 0)
		return r;
	return 0;
}

/* The kvs array ARRAY (NULL: none) into OUT. */
static int
parse_kvs(json_t *array, bool events, struct etcd_kvs *out, char *why)
{
	size_t n;
	int r;

	if (array == NULL)
		return 0;
	if (!json_is_array(array))
		return bad(why, "%s is not an array", events ? "events" : "kvs");
	n = json_array_size(array);
	if (n > ETCD_KVS_MAX)
		return bad(why, "more than 4096 %s", events ? "events" : "kvs");
	if (n == 0)
		return 0;
	if ((out->kv = calloc(n, sizeof(*out->kv))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(array, i), *type;

		out->n++;
		if (events) {
			if (!json_is_object(o))
				return bad(why, "an %s is not an object",
				    "event");
			type = json_object_get(o, "type");
			if (type != NULL && (!json_is_string(type) ||
			    (strcmp(json_string_value(type), "PUT") != 0 &&
			    strcmp(json_string_value(type), "DELETE") != 0)))
				return bad(why, "an event's type is not PUT "
				    "or DELETE%s", "");
			out->kv[i].deleted = type != NULL &&
			    strcmp(json_string_value(type), "DELETE") == 0;
			o = json_object_get(o, "kv");
		}
		if ((r = parse_kv(o, &out->kv[i], why)) < 0)
			return r;
	}
	return 0;
}

static int
header_revision(json_t *root, int64_t *revision, char *why)
{
	json_t *h = json_object_get(root, "header");

	*revision = 0;
	if (h == NULL)
		return 0;
	if (!json_is_object(h))
		return bad(why, "header is not an object%s", "");
	return get_int64(h, "revision", revision, why);
}

int
etcd_parse_range(const char *json, size_t len, struct etcd_kvs *out,
    char *why)
{
	json_t *root;
	int r;

	memset(out, 0, sizeof(*out));
	if ((root = load(json, len, why)) == NULL)
		return -EBADMSG;
	if ((r = gateway_error(root, why)) == 0 &&
	    (r = header_revision(root, &out->revision, why)) == 0)
		r = parse_kvs(json_object_get(root, "kvs"), false, out, why);
	json_decref(root);
	if (r < 0)
		etcd_kvs_clear(out);
	return r;
}

int
etcd_parse_watch(const char *json, size_t len,
    struct etcd_watch_message *out, char *why)
{
	json_t *root, *result, *e;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if ((root = load(json, len, why)) == NULL)
		return -EBADMSG;
	result = json_object_get(root, "result");
	if ((e = json_object_get(root, "error")) != NULL) {
		/* The stream's end, said by the gateway. */
		json_t *m = json_is_object(e) ? json_object_get(e, "message") :
		    e;

		snprintf(out->error, sizeof(out->error), "%.200s",
		    json_is_string(m) ? json_string_value(m) : "error");
	} else if (!json_is_object(result)) {
		r = bad(why, "a watch message without result%s", "");
	} else if ((r = header_revision(result, &out->revision, why)) == 0 &&
	    (r = get_int64(result, "compact_revision",
	    &out->compact_revision, why)) == 0) {
		out->created = get_bool(result, "created");
		out->canceled = get_bool(result, "canceled");
		r = parse_kvs(json_object_get(result, "events"), true,
		    &out->events, why);
	}
	json_decref(root);
	if (r < 0)
		etcd_kvs_clear(&out->events);
	return r;
}

int
etcd_parse_lease(const char *json, size_t len, int64_t *id, int64_t *ttl,
    char *why)
{
	json_t *root, *result;
	int r;

	*id = *ttl = 0;
	if ((root = load(json, len, why)) == NULL)
		return -EBADMSG;
	if ((r = gateway_error(root, why)) == 0) {
		/* keepalive wraps its answer in result; grant does not. */
		result = json_object_get(root, "result");
		if (result == NULL)
			result = root;
		if (!json_is_object(result))
			r = bad(why, "result is not an object%s", "");
		else if ((r = get_int64(result, "ID", id, why)) == 0 &&
		    (r = get_int64(result, "TTL", ttl, why)) == 0 &&
		    (*id == 0 || *ttl < 0))
			r = bad(why, "no lease in the answer%s", "");
	}
	json_decref(root);
	return r;
}

int
etcd_parse_token(const char *json, size_t len, char **token, char *why)
{
	json_t *root, *t;
	int r;

	*token = NULL;
	if ((root = load(json, len, why)) == NULL)
		return -EBADMSG;
	if ((r = gateway_error(root, why)) == 0) {
		t = json_object_get(root, "token");
		if (!json_is_string(t) || json_string_length(t) == 0 ||
		    json_string_length(t) > 1024 ||
		    strpbrk(json_string_value(t), "\r\n") != NULL)
			r = bad(why, "no token in the answer%s", "");
		else if ((*token = strdup(json_string_value(t))) == NULL)
			r = -ENOMEM;
	}
	json_decref(root);
	return r;
}

char *
etcd_json_canonical(const char *json, size_t len)
{
	char why[ETCD_WHY_MAX];
	json_t *root = load(json, len, why);
	char *out;

	if (root == NULL)
		return NULL;
	out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_ENSURE_ASCII);
	json_decref(root);
	return out;
}

void
etcd_prefix_end(const char *prefix, char *out, size_t size)
{
	size_t len = strlen(prefix);

	snprintf(out, size, "%s", prefix);
	/* The key after every key that starts with PREFIX. */
	while (len > 0 && (unsigned char)out[len - 1] == 0xff)
		out[--len] = '\0';
	if (len > 0)
		out[len - 1] = (char)((unsigned char)out[len - 1] + 1);
}

/* ------------------------------------------------------------ client */

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static void
free_secret(char *s)
{
	if (s != NULL)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

struct etcd *
etcd_new(const struct etcd_options *o)
{
	struct etcd *e;

	if (o->n_endpoints == 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
	e->endpoints = calloc(o->n_endpoints, sizeof(char *));
	if (e->endpoints == NULL)
		goto fail;
	for (size_t i = 0; i < o->n_endpoints; i++) {
		size_t len = strlen(o->endpoints[i]);

		if ((e->endpoints[i] = strdup(o->endpoints[i])) == NULL)
			goto fail;
		e->n_endpoints++;
		/* "https://h:p/" and "https://h:p" alike. */
		if (len > 0 && e->endpoints[i][len - 1] == '/')
			e->endpoints[i][len - 1] = '\0';
	}
	e->ca_pem = dup_or_null(o->ca_pem);
	e->cert_pem = dup_or_null(o->cert_pem);
	e->key_pem = dup_or_null(o->key_pem);
	e->user = dup_or_null(o->user);
	e->password = dup_or_null(o->password);
	if ((o->ca_pem && !e->ca_pem) || (o->cert_pem && !e->cert_pem) ||
	    (o->key_pem && !e->key_pem) || (o->user && !e->user) ||
	    (o->password && !e->password) ||
	    (e->multi = curl_multi_init()) == NULL)
		goto fail;
	return e;
fail:
	etcd_free(e);
	return NULL;
}

void
etcd_free(struct etcd *e)
{
	if (e == NULL)
		return;
	etcd_watch_close_all(e);
	if (e->easy != NULL)
		curl_easy_cleanup(e->easy);
	if (e->multi != NULL)
		curl_multi_cleanup(e->multi);
	for (size_t i = 0; i < e->n_endpoints; i++)
		free(e->endpoints[i]);
	free(e->endpoints);
	free(e->ca_pem);
	free(e->cert_pem);
	free_secret(e->key_pem);
	free(e->user);
	free_secret(e->password);
	free_secret(e->token);
	free(e);
}

const char *
etcd_endpoint(const struct etcd *e)
{
	return e->endpoints[e->current];
}

static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
	struct buffer *b = arg;
	size_t len = size * n;

	if (b->len + len > b->max) {
		b->overflow = true;
		return 0;	/* curl stops the transfer */
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *d;

		while (cap < b->len + len + 1)
			cap *= 2;
		if ((d = realloc(b->data, cap)) == NULL)
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

static struct curl_slist *
headers(const struct etcd *e)
{
	struct curl_slist *h = NULL, *t;
	char auth[1100];

	if ((h = curl_slist_append(NULL, "Content-Type: application/json"))
	    == NULL)
		return NULL;
	if (e->token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: %s", e->token);
		t = curl_slist_append(h, auth);
		OPENSSL_cleanse(auth, sizeof(auth));
		if (t == NULL) {
			curl_slist_free_all(h);
			return NULL;
		}
		h = t;
	}
	return h;
}

/* An easy handle for POST ENDPOINT PATH with BODY, answers into IN. */
static CURL *
make_easy(const struct etcd *e, size_t endpoint, const char *path,
    const char *body, struct buffer *in, struct curl_slist *h, bool stream,
    CURL *reuse)
{
	char url[URL_MAX];
	struct curl_blob blob;
	CURL *c;

	if ((size_t)snprintf(url, sizeof(url), "%s%s", e->endpoints[endpoint],
	    path) >= sizeof(url) || (c = reuse != NULL ? reuse :
	    curl_easy_init()) == NULL)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, in);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	if (!stream)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, e->timeout_ms);
	else {
		/* A watch lives on; a dead peer shows by TCP keep-alive. */
		curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 5L);
		curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 2L);
	}
	if (e->ca_pem != NULL) {
		blob = (struct curl_blob){ e->ca_pem, strlen(e->ca_pem),
		    CURL_BLOB_COPY };
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (e->cert_pem != NULL) {
		blob = (struct curl_blob){ e->cert_pem, strlen(e->cert_pem),
		    CURL_BLOB_COPY };
		curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
		blob = (struct curl_blob){ e->key_pem, strlen(e->key_pem),
		    CURL_BLOB_COPY };
		curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	return c;
}

/*
 * POST BODY to PATH on ENDPOINT.  0 with IN holding a 200 answer; -EPROTO
 * with IN holding etcd's error answer; -EHOSTUNREACH when the endpoint
 * did not answer (WHY says why).
 */
static int
post_one(struct etcd *e, size_t endpoint, const char *path, const char *body,
    struct buffer *in, char *why)
{
	struct curl_slist *h = headers(e);
	long status = 0;
	CURLcode rc;
	CURL *c;

	in->len = 0;
	in->overflow = false;
	in->max = ETCD_REPLY_MAX;
	if (h == NULL || (c = make_easy(e, endpoint, path, body, in, h,
	    false, e->easy)) == NULL) {
		curl_slist_free_all(h);
		return -ENOMEM;
	}
	e->easy = c;
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	/* The handle keeps its connections for the next request, but none
	 * of this one's pointers (the headers and the body are freed). */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		/* A fresh handle, and fresh connections, next time. */
		curl_easy_cleanup(c);
		e->easy = NULL;
		snprintf(why, ETCD_WHY_MAX, "%s: %s", e->endpoints[endpoint],
		    in->overflow ? "answer too large" : curl_easy_strerror(rc));
		return -EHOSTUNREACH;
	}
	if (in->data == NULL)
		on_data("", 0, 0, in);
	if (status == 200)
		return 0;
	snprintf(why, ETCD_WHY_MAX, "%s: HTTP %ld", e->endpoints[endpoint],
	    status);
	/* 503: this member has no leader (or is leaving): try another. */
	return status >= 500 && status != 501 ? -EHOSTUNREACH : -EPROTO;
}

static int
login(struct etcd *e, size_t endpoint, struct buffer *in, char *why)
{
	json_t *req;
	char *body;
	int r;

	free_secret(e->token);
	e->token = NULL;
	req = json_pack("{s:s, s:s}", "name", e->user, "password",
	    e->password);
	body = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (body == NULL)
		return -ENOMEM;
	r = post_one(e, endpoint, "/v3/auth/authenticate", body, in, why);
	free_secret(body);
	if (r == 0 || r == -EPROTO) {
		int p = etcd_parse_token(in->data, in->len, &e->token, why);

		if (p < 0)
			r = p;
	}
	return r;
}

/*
 * POST BODY to PATH, from the current endpoint on, each once; logged in
 * first when a user is set.  0 with IN holding the answer, or -errno.
 */
static int
post(struct etcd *e, const char *path, const char *body, struct buffer *in,
    char *why)
{
	int r = -EHOSTUNREACH;

	snprintf(why, ETCD_WHY_MAX, "no endpoint");
	for (size_t i = 0; i < e->n_endpoints; i++) {
		size_t at = (e->current + i) % e->n_endpoints;

		if (e->user != NULL && e->token == NULL &&
		    (r = login(e, at, in, why)) < 0) {
			if (r == -EHOSTUNREACH)
				continue;
			return r;
		}
		r = post_one(e, at, path, body, in, why);
		if (r == -EHOSTUNREACH)
			continue;
		e->current = at;
		if (r == -EPROTO) {
			json_t *root = load(in->data, in->len, why);

			if (root == NULL) {
				/* Not the gateway's JSON: say what it said. */
				snprintf(why, ETCD_WHY_MAX, "etcd: %.160s",
				    in->data);
				for (char *c = why; *c != '\0'; c++)
					if (*c < 0x20 || *c > 0x7e)
						*c = ' ';
				return -EPROTO;
			}
			r = gateway_error(root, why);
			json_decref(root);
			if (r == 0)
				r = -EPROTO;
			/* An expired token: log in again, once. */
			if (r == -EPERM && e->user != NULL &&
			    strstr(why, "token") != NULL) {
				if ((r = login(e, at, in, why)) == 0)
					r = post_one(e, at, path, body, in,
					    why);
				if (r == -EPROTO)
					r = -EPERM;
			}
		}
		return r;
	}
	return r;
}

static char *
base64(const void *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* A JSON body {"key": b64(KEY), "range_end": b64(END)} (END may be NULL). */
static json_t *
key_request(const char *key, const char *range_end)
{
	char *k = base64(key, strlen(key));
	char *end = range_end != NULL ? base64(range_end,
	    strlen(range_end)) : NULL;
	json_t *req = NULL;

	if (k != NULL && (range_end == NULL || end != NULL)) {
		req = json_pack("{s:s}", "key", k);
		if (req != NULL && end != NULL &&
		    json_object_set_new(req, "range_end",
		    json_string(end)) < 0) {
			json_decref(req);
			req = NULL;
		}
	}
	free(k);
	free(end);
	return req;
}

static int
call(struct etcd *e, const char *path, json_t *req, struct buffer *in,
    char *why)
{
	char *body;
	int r;

	if (req == NULL)
		return -ENOMEM;
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (body == NULL)
		return -ENOMEM;
	r = post(e, path, body, in, why);
	free_secret(body);
	return r;
}

int
etcd_range(struct etcd *e, const char *key, const char *range_end,
    struct etcd_kvs *out, char *why)
{
	struct buffer in = { 0 };
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = call(e, "/v3/kv/range", key_request(key, range_end), &in,
	    why)) == 0)
		r = etcd_parse_range(in.data, in.len, out, why);
	free(in.data);
	return r;
}

int
etcd_put(struct etcd *e, const char *key, const void *value, size_t len,
    int64_t lease, char *why)
{
	struct buffer in = { 0 };
	json_t *req = key_request(key, NULL);
	char *v = base64(value, len), lease_text[24];
	int r;

	if (req == NULL || v == NULL ||
	    json_object_set_new(req, "value", json_string(v)) < 0) {
		json_decref(req);
		free(v);
		return -ENOMEM;
	}
	free(v);
	snprintf(lease_text, sizeof(lease_text), "%" PRId64, lease);
	if (lease != 0 && json_object_set_new(req, "lease",
	    json_string(lease_text)) < 0) {
		json_decref(req);
		return -ENOMEM;
	}
	r = call(e, "/v3/kv/put", req, &in, why);
	free(in.data);
	return r;
}

int
etcd_lease_grant(struct etcd *e, int64_t ttl, int64_t *id, char *why)
{
	struct buffer in = { 0 };
	int64_t granted;
	int r;

	if ((r = call(e, "/v3/lease/grant", json_pack("{s:I}", "TTL",
	    (json_int_t)ttl), &in, why)) == 0)
		r = etcd_parse_lease(in.data, in.len, id, &granted, why);
	free(in.data);
	return r;
}

int
etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl, char *why)
{
	struct buffer in = { 0 };
	char text[24];
	int64_t got;
	int r;

	snprintf(text, sizeof(text), "%" PRId64, id);
	if ((r = call(e, "/v3/lease/keepalive", json_pack("{s:s}", "ID",
	    text), &in, why)) == 0)
		r = etcd_parse_lease(in.data, in.len, &got, ttl, why);
	free(in.data);
	return r;
}

/* ------------------------------------------------------------ watches */

int
etcd_watch_open(struct etcd *e, const char *key, const char *range_end,
    int64_t start_revision, char *why)
{
	struct watch *w;
	json_t *create = key_request(key, range_end), *req;

	if (e->n_watches == ETCD_WATCHES_MAX) {
		json_decref(create);
		snprintf(why, ETCD_WHY_MAX, "too many watches");
		return -EBUSY;
	}
	if (create == NULL || json_object_set_new(create, "start_revision",
	    json_integer(start_revision)) < 0 ||
	    json_object_set_new(create, "progress_notify", json_true()) < 0) {
		json_decref(create);
		return -ENOMEM;
	}
	/* "o" takes the reference, also when it fails. */
	if ((req = json_pack("{s:o}", "create_request", create)) == NULL)
		return -ENOMEM;
	/* A simple token is known to the member that issued it only: log
	 * in where the watches go. */
	if (e->user != NULL && e->n_watches == 0) {
		struct buffer in = { 0 };
		int r = login(e, e->current, &in, why);

		free(in.data);
		if (r < 0) {
			json_decref(req);
			return r;
		}
	}
	w = &e->watches[e->n_watches];
	memset(w, 0, sizeof(*w));
	w->request = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	w->in.max = ETCD_REPLY_MAX;
	w->endpoint = e->current;
	if (e->watch_headers == NULL)
		e->watch_headers = headers(e);
	if (w->request == NULL || e->watch_headers == NULL ||
	    (w->easy = make_easy(e, e->current, "/v3/watch", w->request,
	    &w->in, e->watch_headers, true, NULL)) == NULL ||
	    curl_multi_add_handle(e->multi, w->easy) != CURLM_OK) {
		if (w->easy != NULL)
			curl_easy_cleanup(w->easy);
		free(w->request);
		memset(w, 0, sizeof(*w));
		return -ENOMEM;
	}
	return (int)e->n_watches++;
}

bool
etcd_watches_current(const struct etcd *e)
{
	for (size_t i = 0; i < e->n_watches; i++)
		if (e->watches[i].endpoint != e->current)
			return false;
	return true;
}

void
etcd_watch_close_all(struct etcd *e)
{
	for (size_t i = 0; i < e->n_watches; i++) {
		struct watch *w = &e->watches[i];

		curl_multi_remove_handle(e->multi, w->easy);
		curl_easy_cleanup(w->easy);
		free(w->request);
		free(w->in.data);
		memset(w, 0, sizeof(*w));
	}
	e->n_watches = 0;
	curl_slist_free_all(e->watch_headers);
	e->watch_headers = NULL;
}

/* Hand every complete line of W's input to FN. */
static int
deliver(struct watch *w, int index, etcd_watch_fn fn, void *arg, char *why)
{
	size_t start = 0;
	int r = 0;

	while (start < w->in.len) {
		char *nl = memchr(w->in.data + start, '\n', w->in.len - start);
		struct etcd_watch_message m;
		size_t len;

		if (nl == NULL)
			break;
		len = (size_t)(nl - (w->in.data + start));
		if (len > 0) {
			if ((r = etcd_parse_watch(w->in.data + start, len, &m,
			    why)) < 0)
				break;
			fn(arg, index, &m);
			etcd_kvs_clear(&m.events);
			if (m.error[0] != '\0' || m.canceled) {
				snprintf(why, ETCD_WHY_MAX, "watch ended: %.200s",
				    m.error[0] ? m.error : m.compact_revision ?
				    "compacted" : "canceled");
				r = -ECONNRESET;
				start = (size_t)(nl - w->in.data) + 1;
				break;
			}
		}
		start = (size_t)(nl - w->in.data) + 1;
	}
	if (start > 0) {
		memmove(w->in.data, w->in.data + start, w->in.len - start);
		w->in.len -= start;
	}
	return r;
}

int
etcd_watch_poll(struct etcd *e, int timeout_ms, int extra_fd,
    etcd_watch_fn fn, void *arg, char *why)
{
	struct curl_waitfd extra = { .fd = extra_fd, .events = CURL_WAIT_POLLIN };
	int running = 0, queued, numfds = 0, r;
	CURLMsg *msg;

	if (curl_multi_poll(e->multi, extra_fd >= 0 ? &extra : NULL,
	    extra_fd >= 0 ? 1 : 0, timeout_ms, &numfds) != CURLM_OK)
		return -EIO;
	curl_multi_perform(e->multi, &running);
	for (size_t i = 0; i < e->n_watches; i++)
		if ((r = deliver(&e->watches[i], (int)i, fn, arg, why)) < 0)
			return r;
	while ((msg = curl_multi_info_read(e->multi, &queued)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		for (size_t i = 0; i < e->n_watches; i++)
			if (e->watches[i].easy == msg->easy_handle) {
			{
				struct watch *w = &e->watches[i];

				/* What the gateway said last, if anything. */
				snprintf(why, ETCD_WHY_MAX, "watch on %s "
				    "ended: %s%s%.100s", e->endpoints[e->current],
				    w->in.overflow ? "message too large" :
				    curl_easy_strerror(msg->data.result),
				    w->in.len ? ": " : "",
				    w->in.len ? w->in.data : "");
				for (char *c = why; *c != '\0'; c++)
					if (*c < 0x20 || *c > 0x7e)
						*c = ' ';
			}
				return -ECONNRESET;
			}
	}
	return extra_fd >= 0 && (extra.revents & CURL_WAIT_POLLIN) ? 1 : 0;
}

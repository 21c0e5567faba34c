/* SPDX-License-Identifier: Apache-2.0 */
/* The signed entries of a fleet: their form, their signature. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "etcd.h"
#include "fleet_entry.h"
#include "ztd_config.h"

#define MAGIC "ztgate-fleet 1\n"
#define SIGNED_TAG "ztgate fleet entry\n"

static const char *const kinds[] = { "policy", "disable", "enable" };

const char *
fleet_kind_name(enum fleet_kind kind)
{
	return kinds[kind];
}

static bool
is_why(const char *s)
{
	if (strlen(s) > FLEET_WHY_MAX)
		return false;
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

/* The line at *AT starting with NAME and a space: its value, cut at '\n'
 * (at most MAX bytes) into OUT.  false when absent or too long. */
static bool
line(const uint8_t *v, size_t len, size_t *at, const char *name, char *out,
    size_t max)
{
	size_t n = strlen(name), start, end;

	if (len - *at < n + 1 || memcmp(v + *at, name, n) != 0 ||
	    v[*at + n] != ' ')
		return false;
	start = *at + n + 1;
	for (end = start; end < len && v[end] != '\n'; end++)
		if (v[end] == '\0' || end - start >= max)
			return false;
	if (end == len)
		return false;
	memcpy(out, v + start, end - start);
	out[end - start] = '\0';
	*at = end + 1;
	return true;
}

static int
bad(char *why, const char *what)
{
	snprintf(why, FLEET_WHY_MAX + 56, "not a fleet entry: %s", what);
	return -EBADMSG;
}

int
fleet_entry_parse(const uint8_t *v, size_t len, struct fleet_entry *e,
    char *why)
{
	char kind[16], agent[FLEET_AGENT_MAX + 2], serial[24];
	char text[FLEET_WHY_MAX + 2], sig[4 * PUBKEY_SIGNATURE_MAX];
	size_t at = sizeof(MAGIC) - 1, n;
	char *end;
	int k;

	memset(e, 0, sizeof(*e));
	if (len < at || memcmp(v, MAGIC, at) != 0)
		return bad(why, "no \"ztgate-fleet 1\" line");
	if (!line(v, len, &at, "kind", kind, sizeof(kind) - 1))
		return bad(why, "no kind line");
	for (k = 0; k < 3; k++)
		if (strcmp(kind, kinds[k]) == 0)
			break;
	if (k == 3)
		return bad(why, "kind is not policy, disable or enable");
	e->kind = (enum fleet_kind)k;
	if (!line(v, len, &at, "agent", agent, sizeof(agent) - 1))
		return bad(why, "no agent line");
	if (e->kind == FLEET_KIND_POLICY ? strcmp(agent, "-") != 0 :
	    !config_is_name(agent))
		return bad(why, "agent is not a name (or '-' for a policy)");
	if (e->kind != FLEET_KIND_POLICY)
		memcpy(e->agent, agent, strlen(agent) + 1);
	if (!line(v, len, &at, "serial", serial, sizeof(serial) - 1))
		return bad(why, "no serial line");
	errno = 0;
	e->serial = strtoull(serial, &end, 10);
	if (!isdigit((unsigned char)serial[0]) || *end != '\0' ||
	    errno != 0 || e->serial == 0 || e->serial > INT64_MAX)
		return bad(why, "serial is not a number from 1");
	if (!line(v, len, &at, "why", text, sizeof(text) - 1) ||
	    !is_why(text))
		return bad(why, "no why line of printable text");
	if (strcmp(text, "-") != 0)
		memcpy(e->why, text, strlen(text) + 1);
	e->header_len = at;
	if (!line(v, len, &at, "signature", sig, sizeof(sig) - 1))
		return bad(why, "no signature line");
	n = strlen(sig);
	{
		uint8_t raw[sizeof(sig)];

		if (etcd_base64_decode(sig, n, raw, &e->signature_len) < 0 ||
		    e->signature_len == 0 ||
		    e->signature_len > PUBKEY_SIGNATURE_MAX)
			return bad(why, "signature is not base64 of a "
			    "signature");
		memcpy(e->signature, raw, e->signature_len);
	}
	if (at >= len || v[at] != '\n')
		return bad(why, "no empty line after the signature");
	e->body_offset = at + 1;
	e->body = v + e->body_offset;
	e->body_len = len - e->body_offset;
	if (e->kind != FLEET_KIND_POLICY && e->body_len != 0)
		return bad(why, "a disable or enable has a body");
	if (memchr(e->body, '\0', e->body_len) != NULL)
		return bad(why, "the body holds a NUL byte");
	return 0;
}

/* The bytes the signature covers, in a new buffer. */
static uint8_t *
signed_bytes(const uint8_t *header, size_t header_len, const uint8_t *body,
    size_t body_len, size_t *len)
{
	size_t tag = sizeof(SIGNED_TAG) - 1;
	uint8_t *m = malloc(tag + header_len + 1 + body_len + 1);

	if (m == NULL)
		return NULL;
	memcpy(m, SIGNED_TAG, tag);
	memcpy(m + tag, header, header_len);
	m[tag + header_len] = '\n';
	if (body_len > 0)
		memcpy(m + tag + header_len + 1, body, body_len);
	*len = tag + header_len + 1 + body_len;
	return m;
}

int
fleet_entry_verify(const uint8_t *v, const struct fleet_entry *e,
    EVP_PKEY *key, bool *good)
{
	size_t len;
	uint8_t *m = signed_bytes(v, e->header_len, e->body, e->body_len,
	    &len);
	int r;

	*good = false;
	if (m == NULL)
		return -ENOMEM;
	r = pubkey_verify(key, m, len, e->signature, e->signature_len, good);
	free(m);
	return r;
}

int
fleet_entry_build(enum fleet_kind kind, const char *agent, uint64_t serial,
    const char *why, const void *body, size_t body_len, EVP_PKEY *key,
    char **out, size_t *out_len)
{
	char header[512], b64[4 * PUBKEY_SIGNATURE_MAX];
	uint8_t sig[PUBKEY_SIGNATURE_MAX], *m;
	size_t header_len, m_len, sig_len, total;
	char *v;
	int r;

	if ((kind == FLEET_KIND_POLICY) != (agent == NULL) ||
	    (agent != NULL && !config_is_name(agent)) ||
	    (why != NULL && (!is_why(why) || why[0] == '\0')) ||
	    serial == 0 || serial > INT64_MAX ||
	    (kind != FLEET_KIND_POLICY && body_len != 0) ||
	    (body_len != 0 && memchr(body, '\0', body_len) != NULL))
		return -EINVAL;
	header_len = (size_t)snprintf(header, sizeof(header), MAGIC
	    "kind %s\nagent %s\nserial %" PRIu64 "\nwhy %s\n", kinds[kind],
	    agent != NULL ? agent : "-", serial, why != NULL ? why : "-");
	if ((m = signed_bytes((const uint8_t *)header, header_len, body,
	    body_len, &m_len)) == NULL)
		return -ENOMEM;
	r = pubkey_sign(key, m, m_len, sig, &sig_len);
	free(m);
	if (r < 0)
		return r;
	EVP_EncodeBlock((unsigned char *)b64, sig, (int)sig_len);
	total = header_len + strlen("signature ") + strlen(b64) + 2 +
	    body_len;
	if ((v = malloc(total + 1)) == NULL)
		return -ENOMEM;
	snprintf(v, total + 1, "%ssignature %s\n\n", header, b64);
	if (body_len > 0)
		memcpy(v + total - body_len, body, body_len);
	v[total] = '\0';
	*out = v;
	*out_len = total;
	return 0;
}

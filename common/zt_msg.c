/* SPDX-License-Identifier: Apache-2.0 */
/* The wire codec: schemas, encoder, strict decoder, datagram I/O. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "zt_err.h"
#include "zt_msg.h"

#define BIT(tag) (UINT64_C(1) << (tag))

_Static_assert(ZT_F_TAG_MAX <= 64, "field masks are 64 bits");

static const enum zt_field_kind field_kind[ZT_F_TAG_MAX] = {
	[ZT_F_CODE] = ZT_FK_U32,
	[ZT_F_TEXT] = ZT_FK_STRING,
	[ZT_F_VERSION] = ZT_FK_STRING,
	[ZT_F_UPTIME] = ZT_FK_U64,
	[ZT_F_GENERATION] = ZT_FK_U64,
	[ZT_F_AGENTS] = ZT_FK_U32,
	[ZT_F_CLIENTS] = ZT_FK_U32,
	[ZT_F_MAX_CLIENTS] = ZT_FK_U32,
	[ZT_F_CONFIG] = ZT_FK_STRING,
	[ZT_F_PID] = ZT_FK_U32,
	[ZT_F_ATTEST_MODE] = ZT_FK_STRING,
	[ZT_F_RELOAD_ERROR] = ZT_FK_STRING,
	[ZT_F_AGENT] = ZT_FK_STRING,
	[ZT_F_ACTION] = ZT_FK_U32,
	[ZT_F_OBJECT] = ZT_FK_STRING,
	[ZT_F_ACCOUNT] = ZT_FK_STRING,
	[ZT_F_GRANT] = ZT_FK_STRING,
	[ZT_F_DECISION] = ZT_FK_U32,
	[ZT_F_RISK] = ZT_FK_U32,
	[ZT_F_REASON] = ZT_FK_STRING,
	[ZT_F_TTL_MS] = ZT_FK_U32,
	[ZT_F_UID] = ZT_FK_U32,
	[ZT_F_SERVICE] = ZT_FK_STRING,
	[ZT_F_RHOST] = ZT_FK_STRING,
	[ZT_F_TTY] = ZT_FK_STRING,
	[ZT_F_OFFSET] = ZT_FK_U32,
	[ZT_F_COUNT] = ZT_FK_U32,
	[ZT_F_LIST] = ZT_FK_STRING,
	[ZT_F_FLAGS] = ZT_FK_U32,
	[ZT_F_CACHE_ENTRIES] = ZT_FK_U64,
	[ZT_F_CACHE_HITS] = ZT_FK_U64,
	[ZT_F_CACHE_MISSES] = ZT_FK_U64,
	[ZT_F_GRANTS] = ZT_FK_U32,
	[ZT_F_ATTEST_STATE] = ZT_FK_STRING,
	[ZT_F_ATTEST_AGE] = ZT_FK_U64,
	[ZT_F_EVENT] = ZT_FK_U32,
	[ZT_F_EXPIRES_MS] = ZT_FK_U64,
	[ZT_F_AUDIT_SEQ] = ZT_FK_U64,
	[ZT_F_PROFILE] = ZT_FK_STRING,
	[ZT_F_SHA256] = ZT_FK_BYTES,
	[ZT_F_RECORDS] = ZT_FK_BYTES,
	[ZT_F_CSR] = ZT_FK_BYTES,
	[ZT_F_CERT] = ZT_FK_BYTES,
	[ZT_F_SERIAL] = ZT_FK_STRING,
	[ZT_F_NOT_AFTER] = ZT_FK_U64,
	[ZT_F_TUNNEL] = ZT_FK_U32,
	[ZT_F_SERVER_NAME] = ZT_FK_STRING,
	[ZT_F_CA] = ZT_FK_STRING,
};

static const struct schema {
	const char *name;
	uint64_t allowed;
	uint64_t required;
} schemas[ZT_MSG_TYPE_MAX] = {
	[ZT_MSG_ERROR] = { "error",
	    BIT(ZT_F_CODE) | BIT(ZT_F_TEXT),
	    BIT(ZT_F_CODE) },
	[ZT_MSG_STATUS] = { "status", 0, 0 },
	[ZT_MSG_STATUS_REPLY] = { "status-reply",
	    BIT(ZT_F_VERSION) | BIT(ZT_F_UPTIME) | BIT(ZT_F_GENERATION) |
	    BIT(ZT_F_AGENTS) | BIT(ZT_F_CLIENTS) | BIT(ZT_F_MAX_CLIENTS) |
	    BIT(ZT_F_CONFIG) | BIT(ZT_F_PID) | BIT(ZT_F_ATTEST_MODE) |
	    BIT(ZT_F_RELOAD_ERROR) | BIT(ZT_F_CACHE_ENTRIES) |
	    BIT(ZT_F_CACHE_HITS) | BIT(ZT_F_CACHE_MISSES) | BIT(ZT_F_GRANTS) |
	    BIT(ZT_F_ATTEST_STATE) | BIT(ZT_F_ATTEST_AGE) |
	    BIT(ZT_F_AUDIT_SEQ),
	    BIT(ZT_F_VERSION) | BIT(ZT_F_UPTIME) | BIT(ZT_F_GENERATION) |
	    BIT(ZT_F_AGENTS) | BIT(ZT_F_CLIENTS) | BIT(ZT_F_MAX_CLIENTS) |
	    BIT(ZT_F_CONFIG) | BIT(ZT_F_PID) | BIT(ZT_F_ATTEST_MODE) },
	[ZT_MSG_RELOAD] = { "reload", 0, 0 },
	[ZT_MSG_RELOAD_REPLY] = { "reload-reply",
	    BIT(ZT_F_GENERATION), BIT(ZT_F_GENERATION) },
	[ZT_MSG_CHECK] = { "check",
	    BIT(ZT_F_AGENT) | BIT(ZT_F_ACTION) | BIT(ZT_F_OBJECT) |
	    BIT(ZT_F_ACCOUNT) | BIT(ZT_F_GRANT),
	    BIT(ZT_F_AGENT) | BIT(ZT_F_ACTION) | BIT(ZT_F_OBJECT) },
	[ZT_MSG_DECISION] = { "decision",
	    BIT(ZT_F_DECISION) | BIT(ZT_F_REASON) | BIT(ZT_F_RISK) |
	    BIT(ZT_F_GRANT) | BIT(ZT_F_AGENT) | BIT(ZT_F_TTL_MS) |
	    BIT(ZT_F_EXPIRES_MS) | BIT(ZT_F_AUDIT_SEQ) | BIT(ZT_F_LIST) |
	    BIT(ZT_F_ATTEST_AGE) | BIT(ZT_F_ATTEST_MODE) |
	    BIT(ZT_F_PROFILE) | BIT(ZT_F_SHA256) | BIT(ZT_F_TUNNEL) |
	    BIT(ZT_F_SERVER_NAME) | BIT(ZT_F_CA),
	    BIT(ZT_F_DECISION) | BIT(ZT_F_REASON) },
	[ZT_MSG_DECIDE] = { "decide",
	    BIT(ZT_F_ACTION) | BIT(ZT_F_OBJECT) | BIT(ZT_F_GRANT) |
	    BIT(ZT_F_PID),
	    BIT(ZT_F_ACTION) | BIT(ZT_F_OBJECT) },
	[ZT_MSG_SESSION_OPEN] = { "session-open",
	    BIT(ZT_F_UID) | BIT(ZT_F_SERVICE) | BIT(ZT_F_ACCOUNT) |
	    BIT(ZT_F_RHOST) | BIT(ZT_F_TTY) | BIT(ZT_F_FLAGS),
	    BIT(ZT_F_UID) | BIT(ZT_F_SERVICE) },
	[ZT_MSG_SESSION_CLOSE] = { "session-close",
	    BIT(ZT_F_GRANT), BIT(ZT_F_GRANT) },
	[ZT_MSG_GRANTS] = { "grants", BIT(ZT_F_OFFSET), 0 },
	[ZT_MSG_GRANTS_REPLY] = { "grants-reply",
	    BIT(ZT_F_COUNT) | BIT(ZT_F_LIST) | BIT(ZT_F_OFFSET),
	    BIT(ZT_F_COUNT) | BIT(ZT_F_LIST) },
	[ZT_MSG_REVOKE] = { "revoke",
	    BIT(ZT_F_GRANT) | BIT(ZT_F_AGENT) | BIT(ZT_F_ACCOUNT) |
	    BIT(ZT_F_FLAGS), 0 },
	[ZT_MSG_REVOKE_REPLY] = { "revoke-reply",
	    BIT(ZT_F_COUNT), BIT(ZT_F_COUNT) },
	[ZT_MSG_ENROLL_HOST] = { "enroll-host", 0, 0 },
	[ZT_MSG_ATTEST] = { "attest", 0, 0 },
	[ZT_MSG_EVENT] = { "event",
	    BIT(ZT_F_EVENT) | BIT(ZT_F_GRANT) | BIT(ZT_F_REASON),
	    BIT(ZT_F_EVENT) },
	[ZT_MSG_LAUNCH] = { "launch",
	    BIT(ZT_F_OBJECT) | BIT(ZT_F_AGENT) | BIT(ZT_F_GRANT),
	    BIT(ZT_F_OBJECT) },
	[ZT_MSG_REPORT] = { "report",
	    BIT(ZT_F_GRANT) | BIT(ZT_F_RECORDS) | BIT(ZT_F_PID),
	    BIT(ZT_F_GRANT) },
	[ZT_MSG_REPORT_REPLY] = { "report-reply",
	    BIT(ZT_F_COUNT), BIT(ZT_F_COUNT) },
	[ZT_MSG_CA_SHOW] = { "ca-show", 0, 0 },
	[ZT_MSG_CA_REPLY] = { "ca-reply", BIT(ZT_F_TEXT), BIT(ZT_F_TEXT) },
	[ZT_MSG_SIGN] = { "sign",
	    BIT(ZT_F_GRANT) | BIT(ZT_F_CSR), BIT(ZT_F_GRANT) | BIT(ZT_F_CSR) },
	[ZT_MSG_SIGN_REPLY] = { "sign-reply",
	    BIT(ZT_F_CERT) | BIT(ZT_F_SERIAL) | BIT(ZT_F_NOT_AFTER) |
	    BIT(ZT_F_EXPIRES_MS),
	    BIT(ZT_F_CERT) | BIT(ZT_F_SERIAL) | BIT(ZT_F_NOT_AFTER) |
	    BIT(ZT_F_EXPIRES_MS) },
	[ZT_MSG_CA_CRL] = { "ca-crl", 0, 0 },
};

static const struct schema *
schema_of(unsigned type)
{
	if (type == 0 || type >= ZT_MSG_TYPE_MAX || schemas[type].name == NULL)
		return NULL;
	return &schemas[type];
}

enum zt_field_kind
zt_msg_field_kind(unsigned tag)
{
	return tag < ZT_F_TAG_MAX ? field_kind[tag] : ZT_FK_NONE;
}

const char *
zt_msg_type_name(unsigned type)
{
	const struct schema *s = schema_of(type);

	return s != NULL ? s->name : "unknown";
}

static void
put_be16(uint8_t *p, uint16_t v)
{
	v = htons(v);
	memcpy(p, &v, 2);
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint16_t
get_be16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return ntohs(v);
}

static uint32_t
get_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

static const struct zt_field *
find_field(const struct zt_msg *m, unsigned tag)
{
	for (size_t i = 0; i < m->n_fields; i++)
		if (m->fields[i].tag == tag)
			return &m->fields[i];
	return NULL;
}

int
zt_msg_init(struct zt_msg *m, enum zt_msg_type type, uint32_t request_id)
{
	memset(m, 0, offsetof(struct zt_msg, wire));
	if (schema_of(type) == NULL)
		return ZT_E_TYPE;
	m->type = (uint16_t)type;
	m->request_id = request_id;
	put_be32(m->wire, ZT_MSG_MAGIC);
	put_be16(m->wire + 4, ZT_MSG_VERSION);
	put_be16(m->wire + 6, (uint16_t)type);
	put_be32(m->wire + 8, request_id);
	put_be32(m->wire + 12, 0);
	m->size = ZT_MSG_HEADER_SIZE;
	return 0;
}

static int
put_field(struct zt_msg *m, unsigned tag, enum zt_field_kind kind,
    const void *value, size_t size)
{
	const struct schema *s = schema_of(m->type);
	uint8_t *at;

	if (s == NULL)
		return ZT_E_TYPE;
	if (tag >= ZT_F_TAG_MAX || !(s->allowed & BIT(tag)) ||
	    field_kind[tag] != kind)
		return ZT_E_FIELD;
	if (find_field(m, tag) != NULL)
		return ZT_E_DUPLICATE;
	if (m->n_fields >= ZT_MSG_FIELDS_MAX)
		return ZT_E_TOO_MANY;
	if (size > ZT_MSG_MAX ||
	    m->size + ZT_MSG_FIELD_HEADER_SIZE + size > ZT_MSG_MAX)
		return ZT_E_NOSPACE;
	at = m->wire + m->size;
	put_be16(at, (uint16_t)tag);
	put_be16(at + 2, (uint16_t)size);
	if (size > 0)
		memcpy(at + ZT_MSG_FIELD_HEADER_SIZE, value, size);
	m->fields[m->n_fields] = (struct zt_field){
		.tag = (uint16_t)tag,
		.size = (uint16_t)size,
		.value = at + ZT_MSG_FIELD_HEADER_SIZE,
	};
	if (kind == ZT_FK_STRING) {
		/* Each string's field header (4 bytes) pays for its NUL. */
		char *copy = m->text + m->text_used;

		if (memchr(value, '\0', size) != NULL)
			return ZT_E_STRING;
		memcpy(copy, value, size);
		copy[size] = '\0';
		m->text_used += size + 1;
		m->fields[m->n_fields].value = copy;
	}
	m->n_fields++;
	m->size += ZT_MSG_FIELD_HEADER_SIZE + size;
	put_be32(m->wire + 12, (uint32_t)(m->size - ZT_MSG_HEADER_SIZE));
	return 0;
}

int
zt_msg_put_u32(struct zt_msg *m, enum zt_field_tag tag, uint32_t value)
{
	uint8_t be[4];

	put_be32(be, value);
	return put_field(m, tag, ZT_FK_U32, be, sizeof(be));
}

int
zt_msg_put_u64(struct zt_msg *m, enum zt_field_tag tag, uint64_t value)
{
	uint8_t be[8];

	put_be32(be, (uint32_t)(value >> 32));
	put_be32(be + 4, (uint32_t)value);
	return put_field(m, tag, ZT_FK_U64, be, sizeof(be));
}

int
zt_msg_put_str(struct zt_msg *m, enum zt_field_tag tag, const char *value)
{
	size_t size = strlen(value);

	if (size > ZT_MSG_MAX)
		return ZT_E_NOSPACE;
	return put_field(m, tag, ZT_FK_STRING, value, size);
}

int
zt_msg_put_bytes(struct zt_msg *m, enum zt_field_tag tag, const void *value,
    size_t size)
{
	return put_field(m, tag, ZT_FK_BYTES, value, size);
}

int
zt_msg_check_complete(const struct zt_msg *m)
{
	const struct schema *s = schema_of(m->type);
	uint64_t present = 0;

	if (s == NULL)
		return ZT_E_TYPE;
	for (size_t i = 0; i < m->n_fields; i++)
		present |= BIT(m->fields[i].tag);
	return (present & s->required) == s->required ? 0 : ZT_E_MISSING;
}

int
zt_msg_decode(struct zt_msg *m, const void *data, size_t size)
{
	const struct schema *s;
	const uint8_t *p;
	size_t payload, offset;
	uint64_t present = 0;
	unsigned type;

	memset(m, 0, offsetof(struct zt_msg, wire));
	if (size > ZT_MSG_MAX)
		return ZT_E_OVERSIZED;
	if (size < 4)
		return ZT_E_TRUNCATED;
	memcpy(m->wire, data, size);
	m->size = size;
	p = m->wire;
	if (get_be32(p) != ZT_MSG_MAGIC)
		return ZT_E_MAGIC;
	if (size < ZT_MSG_HEADER_SIZE)
		return ZT_E_TRUNCATED;
	m->request_id = get_be32(p + 8);
	if (get_be16(p + 4) != ZT_MSG_VERSION)
		return ZT_E_VERSION;
	type = get_be16(p + 6);
	if ((s = schema_of(type)) == NULL)
		return ZT_E_TYPE;
	payload = get_be32(p + 12);
	if (payload > ZT_MSG_MAX - ZT_MSG_HEADER_SIZE)
		return ZT_E_OVERSIZED;
	if (size < ZT_MSG_HEADER_SIZE + payload)
		return ZT_E_TRUNCATED;
	if (size > ZT_MSG_HEADER_SIZE + payload)
		return ZT_E_TRAILING;

	for (offset = ZT_MSG_HEADER_SIZE; offset < size;) {
		unsigned tag;
		size_t vsize;
		const uint8_t *value;
		struct zt_field *f;

		if (size - offset < ZT_MSG_FIELD_HEADER_SIZE)
			return ZT_E_TRUNCATED;
		tag = get_be16(p + offset);
		vsize = get_be16(p + offset + 2);
		value = p + offset + ZT_MSG_FIELD_HEADER_SIZE;
		offset += ZT_MSG_FIELD_HEADER_SIZE;
		if (tag >= ZT_F_TAG_MAX || !(s->allowed & BIT(tag)))
			return ZT_E_FIELD;
		if (vsize > size - offset)
			return ZT_E_TRUNCATED;
		offset += vsize;
		switch (field_kind[tag]) {
		case ZT_FK_U32:
			if (vsize != 4)
				return ZT_E_FIELD_SIZE;
			break;
		case ZT_FK_U64:
			if (vsize != 8)
				return ZT_E_FIELD_SIZE;
			break;
		case ZT_FK_STRING:
			if (memchr(value, '\0', vsize) != NULL)
				return ZT_E_STRING;
			/* Each string's header (4 bytes) pays for its NUL. */
			memcpy(m->text + m->text_used, value, vsize);
			m->text[m->text_used + vsize] = '\0';
			value = (const uint8_t *)m->text + m->text_used;
			m->text_used += vsize + 1;
			break;
		case ZT_FK_BYTES:
			break;
		case ZT_FK_NONE:
		default:
			return ZT_E_FIELD;
		}
		if (present & BIT(tag))
			return ZT_E_DUPLICATE;
		if (m->n_fields >= ZT_MSG_FIELDS_MAX)
			return ZT_E_TOO_MANY;
		present |= BIT(tag);
		f = &m->fields[m->n_fields++];
		f->tag = (uint16_t)tag;
		f->size = (uint16_t)vsize;
		f->value = value;
	}
	if ((present & s->required) != s->required)
		return ZT_E_MISSING;
	m->type = (uint16_t)type;
	return 0;
}

static const struct zt_field *
get_field(const struct zt_msg *m, enum zt_field_tag tag,
    enum zt_field_kind kind)
{
	const struct zt_field *f = find_field(m, tag);

	if (f == NULL || zt_msg_field_kind(tag) != kind)
		return NULL;
	return f;
}

int
zt_msg_get_u32(const struct zt_msg *m, enum zt_field_tag tag, uint32_t *value)
{
	const struct zt_field *f = get_field(m, tag, ZT_FK_U32);

	if (f == NULL)
		return ZT_E_MISSING;
	*value = get_be32(f->value);
	return 0;
}

int
zt_msg_get_u64(const struct zt_msg *m, enum zt_field_tag tag, uint64_t *value)
{
	const struct zt_field *f = get_field(m, tag, ZT_FK_U64);
	const uint8_t *p;

	if (f == NULL)
		return ZT_E_MISSING;
	p = f->value;
	*value = (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
	return 0;
}

int
zt_msg_get_str(const struct zt_msg *m, enum zt_field_tag tag,
    const char **value)
{
	const struct zt_field *f = get_field(m, tag, ZT_FK_STRING);

	if (f == NULL)
		return ZT_E_MISSING;
	*value = f->value;
	return 0;
}

int
zt_msg_get_bytes(const struct zt_msg *m, enum zt_field_tag tag,
    const void **value, size_t *size)
{
	const struct zt_field *f = get_field(m, tag, ZT_FK_BYTES);

	if (f == NULL)
		return ZT_E_MISSING;
	*value = f->value;
	*size = f->size;
	return 0;
}

void
zt_msg_error(struct zt_msg *m, uint32_t request_id, int code,
    const char *text)
{
	char cut[1024];

	zt_msg_init(m, ZT_MSG_ERROR, request_id);
	zt_msg_put_u32(m, ZT_F_CODE, (uint32_t)code);
	if (text != NULL) {
		snprintf(cut, sizeof(cut), "%s", text);
		zt_msg_put_str(m, ZT_F_TEXT, cut);
	}
}

int
zt_msg_send_fd(int fd, const struct zt_msg *m, int pass_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = (void *)m->wire, .iov_len = m->size };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (pass_fd >= 0) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &pass_fd, sizeof(int));
	}
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == m->size ? 0 : -EMSGSIZE;
}

int
zt_msg_send(int fd, const struct zt_msg *m)
{
	return zt_msg_send_fd(fd, m, -1);
}

int
zt_msg_recv_fd(int fd, struct zt_msg *m, int *passed_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	uint8_t buf[ZT_MSG_MAX];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg;
	ssize_t n;

	*passed_fd = -1;
	do
		n = recvmsg(fd, &msg, MSG_TRUNC | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* Take whatever descriptors came, so none leaks, before judging. */
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; (i + 1) * sizeof(int) <=
		    cmsg->cmsg_len - CMSG_LEN(0); i++) {
			int passed;

			memcpy(&passed, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			if (*passed_fd < 0)
				*passed_fd = passed;
			else
				close(passed);
		}
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		/* More than one descriptor: the kernel dropped the rest. */
		if (*passed_fd >= 0)
			close(*passed_fd);
		*passed_fd = -1;
		memset(m, 0, offsetof(struct zt_msg, wire));
		return ZT_E_PROTOCOL;
	}
	if (n == 0) {
		if (*passed_fd >= 0)
			close(*passed_fd);
		*passed_fd = -1;
		return ZT_E_CLOSED;
	}
	if ((size_t)n > sizeof(buf)) {
		memset(m, 0, offsetof(struct zt_msg, wire));
		return ZT_E_OVERSIZED;
	}
	return zt_msg_decode(m, buf, (size_t)n);
}

int
zt_msg_recv(int fd, struct zt_msg *m)
{
	int passed, r = zt_msg_recv_fd(fd, m, &passed);

	/* A caller that takes no descriptor never keeps one. */
	if (passed >= 0)
		close(passed);
	return r;
}

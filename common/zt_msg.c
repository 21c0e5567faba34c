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

#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04			/* Linux 6.5 */
#endif

#include "zt_err.h"
#include "zt_msg.h"

#define BIT(tag) ((zt_tagmask)1 << (tag))

_Static_assert(ZT_F_TAG_MAX <= 128, "field masks are 128 bits");

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
	[ZT_F_PROFILE] = ZT_FK_RECORD,
	[ZT_F_SHA256] = ZT_FK_BYTES,
	[ZT_F_RECORDS] = ZT_FK_RECORD,
	[ZT_F_CSR] = ZT_FK_BYTES,
	[ZT_F_CERT] = ZT_FK_BYTES,
	[ZT_F_SERIAL] = ZT_FK_STRING,
	[ZT_F_NOT_AFTER] = ZT_FK_U64,
	[ZT_F_TUNNEL] = ZT_FK_U32,
	[ZT_F_SERVER_NAME] = ZT_FK_STRING,
	[ZT_F_CA] = ZT_FK_STRING,
	[ZT_F_TOKEN] = ZT_FK_BYTES,
	[ZT_F_CACHE_UNTIL] = ZT_FK_U64,
	[ZT_F_RECORD] = ZT_FK_RECORD,
	[ZT_F_AGE_MS] = ZT_FK_U32,
	[ZT_F_GRANT_LIST] = ZT_FK_RECORD,
	[ZT_F_GRANT_INFO] = ZT_FK_RECORD,
	[ZT_F_BINARY] = ZT_FK_STRING,
	[ZT_F_DECISION_TTL] = ZT_FK_U32,
	[ZT_F_FILE] = ZT_FK_RECORD,
	[ZT_F_PATH] = ZT_FK_STRING,
	[ZT_F_ACCESS] = ZT_FK_U32,
	[ZT_F_COMMAND] = ZT_FK_STRING,
	[ZT_F_SYSCALL_DENY] = ZT_FK_STRING,
	[ZT_F_SYSCALL_GATE] = ZT_FK_STRING,
	[ZT_F_ENV] = ZT_FK_STRING,
	[ZT_F_NAME] = ZT_FK_STRING,
	[ZT_F_ADDRESS] = ZT_FK_BYTES,
	[ZT_F_ANSWERS] = ZT_FK_RECORD,
	[ZT_F_ANSWER] = ZT_FK_RECORD,
	[ZT_F_DNS_UPSTREAM] = ZT_FK_STRING,
	[ZT_F_ARGV] = ZT_FK_BYTES,
	[ZT_F_AGENT_STATES] = ZT_FK_STRING,
	[ZT_F_FLEET] = ZT_FK_STRING,
	[ZT_F_ALLOWS] = ZT_FK_RECORD,
	[ZT_F_ALLOW] = ZT_FK_RECORD,
};

/*
 * The schema of each record field: the sub-fields it takes and needs, and
 * those that may repeat, at most max_repeat times in all.  A record field
 * without a row here cannot be sent or received.
 */
static const struct record_schema {
	zt_tagmask allowed;
	zt_tagmask required;
	zt_tagmask repeatable;
	unsigned max_repeat;
} record_schemas[ZT_F_TAG_MAX] = {
	[ZT_F_RECORDS] = {
	    BIT(ZT_F_RECORD), 0, BIT(ZT_F_RECORD), ZT_REPORT_RECORDS_MAX },
	[ZT_F_RECORD] = {
	    BIT(ZT_F_ACTION) | BIT(ZT_F_OBJECT) | BIT(ZT_F_AGE_MS) |
	    BIT(ZT_F_TOKEN) | BIT(ZT_F_CACHE_UNTIL) | BIT(ZT_F_PID),
	    BIT(ZT_F_ACTION) | BIT(ZT_F_OBJECT) | BIT(ZT_F_AGE_MS), 0, 0 },
	[ZT_F_GRANT_LIST] = {
	    BIT(ZT_F_GRANT_INFO), 0, BIT(ZT_F_GRANT_INFO),
	    ZT_GRANT_INFOS_MAX },
	[ZT_F_GRANT_INFO] = {
	    BIT(ZT_F_GRANT) | BIT(ZT_F_AGENT) | BIT(ZT_F_ACCOUNT) |
	    BIT(ZT_F_UID) | BIT(ZT_F_PID) | BIT(ZT_F_EXPIRES_MS) |
	    BIT(ZT_F_SERVICE) | BIT(ZT_F_SERIAL) | BIT(ZT_F_NOT_AFTER),
	    BIT(ZT_F_GRANT) | BIT(ZT_F_AGENT) | BIT(ZT_F_ACCOUNT) |
	    BIT(ZT_F_UID) | BIT(ZT_F_PID) | BIT(ZT_F_EXPIRES_MS) |
	    BIT(ZT_F_SERVICE), 0, 0 },
	[ZT_F_PROFILE] = {
	    BIT(ZT_F_AGENT) | BIT(ZT_F_BINARY) | BIT(ZT_F_FLAGS) |
	    BIT(ZT_F_DECISION_TTL) | BIT(ZT_F_FILE) | BIT(ZT_F_COMMAND) |
	    BIT(ZT_F_SYSCALL_DENY) | BIT(ZT_F_SYSCALL_GATE) | BIT(ZT_F_ENV) |
	    BIT(ZT_F_CA) | BIT(ZT_F_TTL_MS) | BIT(ZT_F_DNS_UPSTREAM),
	    BIT(ZT_F_AGENT) | BIT(ZT_F_BINARY) | BIT(ZT_F_FLAGS) |
	    BIT(ZT_F_DECISION_TTL),
	    BIT(ZT_F_FILE) | BIT(ZT_F_COMMAND) | BIT(ZT_F_SYSCALL_DENY) |
	    BIT(ZT_F_SYSCALL_GATE) | BIT(ZT_F_ENV) | BIT(ZT_F_CA) |
	    BIT(ZT_F_DNS_UPSTREAM),
	    ZT_PROFILE_ITEMS_MAX },
	[ZT_F_FILE] = {
	    BIT(ZT_F_PATH) | BIT(ZT_F_ACCESS),
	    BIT(ZT_F_PATH) | BIT(ZT_F_ACCESS), 0, 0 },
	[ZT_F_ANSWERS] = {
	    BIT(ZT_F_ANSWER), 0, BIT(ZT_F_ANSWER), ZT_ANSWERS_MAX },
	[ZT_F_ALLOWS] = {
	    BIT(ZT_F_ALLOW), 0, BIT(ZT_F_ALLOW), ZT_ALLOWS_MAX },
	[ZT_F_ALLOW] = {
	    BIT(ZT_F_ACTION) | BIT(ZT_F_OBJECT) | BIT(ZT_F_TTL_MS) |
	    BIT(ZT_F_TOKEN) | BIT(ZT_F_CACHE_UNTIL) | BIT(ZT_F_FLAGS),
	    BIT(ZT_F_ACTION) | BIT(ZT_F_OBJECT) | BIT(ZT_F_TTL_MS) |
	    BIT(ZT_F_TOKEN) | BIT(ZT_F_CACHE_UNTIL), 0, 0 },
	[ZT_F_ANSWER] = {
	    BIT(ZT_F_NAME) | BIT(ZT_F_ADDRESS) | BIT(ZT_F_TTL_MS),
	    BIT(ZT_F_NAME) | BIT(ZT_F_ADDRESS) | BIT(ZT_F_TTL_MS), 0, 0 },
};

static const struct schema {
	const char *name;
	zt_tagmask allowed;
	zt_tagmask required;
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
	    BIT(ZT_F_AUDIT_SEQ) | BIT(ZT_F_TEXT) | BIT(ZT_F_COUNT) |
	    BIT(ZT_F_AGENT_STATES) | BIT(ZT_F_FLEET),
	    BIT(ZT_F_VERSION) | BIT(ZT_F_UPTIME) | BIT(ZT_F_GENERATION) |
	    BIT(ZT_F_AGENTS) | BIT(ZT_F_CLIENTS) | BIT(ZT_F_MAX_CLIENTS) |
	    BIT(ZT_F_CONFIG) | BIT(ZT_F_PID) | BIT(ZT_F_ATTEST_MODE) },
	[ZT_MSG_RELOAD] = { "reload", 0, 0 },
	[ZT_MSG_RELOAD_REPLY] = { "reload-reply",
	    BIT(ZT_F_GENERATION), BIT(ZT_F_GENERATION) },
	[ZT_MSG_CHECK] = { "check",
	    BIT(ZT_F_AGENT) | BIT(ZT_F_ACTION) | BIT(ZT_F_OBJECT) |
	    BIT(ZT_F_ACCOUNT) | BIT(ZT_F_GRANT) | BIT(ZT_F_ARGV),
	    BIT(ZT_F_AGENT) | BIT(ZT_F_ACTION) | BIT(ZT_F_OBJECT) },
	[ZT_MSG_DECISION] = { "decision",
	    BIT(ZT_F_DECISION) | BIT(ZT_F_REASON) | BIT(ZT_F_RISK) |
	    BIT(ZT_F_GRANT) | BIT(ZT_F_AGENT) | BIT(ZT_F_TTL_MS) |
	    BIT(ZT_F_EXPIRES_MS) | BIT(ZT_F_AUDIT_SEQ) | BIT(ZT_F_LIST) |
	    BIT(ZT_F_ATTEST_AGE) | BIT(ZT_F_ATTEST_MODE) |
	    BIT(ZT_F_PROFILE) | BIT(ZT_F_SHA256) | BIT(ZT_F_TUNNEL) |
	    BIT(ZT_F_SERVER_NAME) | BIT(ZT_F_CA) | BIT(ZT_F_TOKEN) |
	    BIT(ZT_F_CACHE_UNTIL) | BIT(ZT_F_OBJECT) | BIT(ZT_F_FLAGS),
	    BIT(ZT_F_DECISION) | BIT(ZT_F_REASON) },
	[ZT_MSG_DECIDE] = { "decide",
	    BIT(ZT_F_ACTION) | BIT(ZT_F_OBJECT) | BIT(ZT_F_GRANT) |
	    BIT(ZT_F_PID) | BIT(ZT_F_ARGV) | BIT(ZT_F_FLAGS),
	    BIT(ZT_F_ACTION) | BIT(ZT_F_OBJECT) },
	[ZT_MSG_SESSION_OPEN] = { "session-open",
	    BIT(ZT_F_UID) | BIT(ZT_F_SERVICE) | BIT(ZT_F_ACCOUNT) |
	    BIT(ZT_F_RHOST) | BIT(ZT_F_TTY) | BIT(ZT_F_FLAGS),
	    BIT(ZT_F_UID) | BIT(ZT_F_SERVICE) },
	[ZT_MSG_SESSION_CLOSE] = { "session-close",
	    BIT(ZT_F_GRANT), BIT(ZT_F_GRANT) },
	[ZT_MSG_GRANTS] = { "grants", BIT(ZT_F_OFFSET), 0 },
	[ZT_MSG_GRANTS_REPLY] = { "grants-reply",
	    BIT(ZT_F_COUNT) | BIT(ZT_F_GRANT_LIST) | BIT(ZT_F_OFFSET),
	    BIT(ZT_F_COUNT) | BIT(ZT_F_GRANT_LIST) },
	[ZT_MSG_REVOKE] = { "revoke",
	    BIT(ZT_F_GRANT) | BIT(ZT_F_AGENT) | BIT(ZT_F_ACCOUNT) |
	    BIT(ZT_F_FLAGS), 0 },
	[ZT_MSG_REVOKE_REPLY] = { "revoke-reply",
	    BIT(ZT_F_COUNT), BIT(ZT_F_COUNT) },
	[ZT_MSG_ENROLL_HOST] = { "enroll-host", 0, 0 },
	[ZT_MSG_ATTEST] = { "attest", BIT(ZT_F_FLAGS), 0 },
	[ZT_MSG_EVENT] = { "event",
	    BIT(ZT_F_EVENT) | BIT(ZT_F_GRANT) | BIT(ZT_F_REASON),
	    BIT(ZT_F_EVENT) },
	[ZT_MSG_LAUNCH] = { "launch",
	    BIT(ZT_F_OBJECT) | BIT(ZT_F_AGENT) | BIT(ZT_F_GRANT),
	    BIT(ZT_F_OBJECT) },
	[ZT_MSG_REPORT] = { "report",
	    BIT(ZT_F_GRANT) | BIT(ZT_F_RECORDS) | BIT(ZT_F_FLAGS),
	    BIT(ZT_F_GRANT) | BIT(ZT_F_RECORDS) },
	[ZT_MSG_REPORT_REPLY] = { "report-reply",
	    BIT(ZT_F_COUNT) | BIT(ZT_F_FLAGS) | BIT(ZT_F_ALLOWS),
	    BIT(ZT_F_COUNT) },
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
	[ZT_MSG_AGENT_PID] = { "agent-pid",
	    BIT(ZT_F_GRANT) | BIT(ZT_F_PID), BIT(ZT_F_GRANT) | BIT(ZT_F_PID) },
	[ZT_MSG_AUDIT_REOPEN] = { "audit-reopen", 0, 0 },
	[ZT_MSG_AUDIT_REOPEN_REPLY] = { "audit-reopen-reply",
	    BIT(ZT_F_AUDIT_SEQ) | BIT(ZT_F_TEXT), BIT(ZT_F_AUDIT_SEQ) },
	[ZT_MSG_LEARN] = { "learn",
	    BIT(ZT_F_GRANT) | BIT(ZT_F_OBJECT) | BIT(ZT_F_LIST) |
	    BIT(ZT_F_ANSWERS),
	    BIT(ZT_F_GRANT) | BIT(ZT_F_OBJECT) | BIT(ZT_F_LIST) },
	[ZT_MSG_DISABLE] = { "disable",
	    BIT(ZT_F_AGENT) | BIT(ZT_F_TEXT), BIT(ZT_F_AGENT) },
	[ZT_MSG_ENABLE] = { "enable", BIT(ZT_F_AGENT), BIT(ZT_F_AGENT) },
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
find_in(const struct zt_field *fields, size_t n, unsigned tag)
{
	for (size_t i = 0; i < n; i++)
		if (fields[i].tag == tag)
			return &fields[i];
	return NULL;
}

static const struct zt_field *
find_field(const struct zt_msg *m, unsigned tag)
{
	return find_in(m->fields, m->n_fields, tag);
}

static const struct record_schema *
record_schema_of(unsigned tag)
{
	if (tag >= ZT_F_TAG_MAX || field_kind[tag] != ZT_FK_RECORD ||
	    record_schemas[tag].allowed == 0)
		return NULL;
	return &record_schemas[tag];
}

/*
 * Empty M: its counts, not its arrays (about 9 KiB), which every reader
 * and writer takes only below n_fields, n_sub, depth, size and text_used.
 */
static void
msg_reset(struct zt_msg *m)
{
	m->type = 0;
	m->request_id = 0;
	m->n_fields = 0;
	m->n_sub = 0;
	m->depth = 0;
	m->size = 0;
	m->text_used = 0;
}

int
zt_msg_init(struct zt_msg *m, enum zt_msg_type type, uint32_t request_id)
{
	msg_reset(m);
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

/*
 * May a field TAG of KIND go where the encoder is now (the innermost open
 * record, or the message)?  0, or the error a put returns.
 */
static int
put_allowed(const struct zt_msg *m, unsigned tag, enum zt_field_kind kind)
{
	const struct schema *s = schema_of(m->type);
	const struct record_schema *rs;
	const struct zt_msg_open *o;

	if (s == NULL)
		return ZT_E_TYPE;
	if (tag >= ZT_F_TAG_MAX || field_kind[tag] != kind)
		return ZT_E_FIELD;
	if (kind == ZT_FK_RECORD && record_schema_of(tag) == NULL)
		return ZT_E_FIELD;
	if (m->depth == 0) {
		if (!(s->allowed & BIT(tag)))
			return ZT_E_FIELD;
		if (find_field(m, tag) != NULL)
			return ZT_E_DUPLICATE;
		if (m->n_fields >= ZT_MSG_FIELDS_MAX)
			return ZT_E_TOO_MANY;
		return 0;
	}
	o = &m->open[m->depth - 1];
	rs = &record_schemas[o->tag];
	if (!(rs->allowed & BIT(tag)))
		return ZT_E_FIELD;
	if (rs->repeatable & BIT(tag))
		return o->repeats >= rs->max_repeat ? ZT_E_TOO_MANY : 0;
	return (o->present & BIT(tag)) ? ZT_E_DUPLICATE : 0;
}

/* Note a field TAG put in the innermost open record. */
static void
put_note(struct zt_msg *m, unsigned tag)
{
	struct zt_msg_open *o = &m->open[m->depth - 1];

	o->present |= BIT(tag);
	if (record_schemas[o->tag].repeatable & BIT(tag))
		o->repeats++;
}

static int
put_field(struct zt_msg *m, unsigned tag, enum zt_field_kind kind,
    const void *value, size_t size)
{
	uint8_t *at;
	int r;

	if ((r = put_allowed(m, tag, kind)) < 0)
		return r;
	if (size > ZT_MSG_MAX ||
	    m->size + ZT_MSG_FIELD_HEADER_SIZE + size > ZT_MSG_MAX)
		return ZT_E_NOSPACE;
	if (kind == ZT_FK_STRING && memchr(value, '\0', size) != NULL)
		return ZT_E_STRING;
	at = m->wire + m->size;
	put_be16(at, (uint16_t)tag);
	put_be16(at + 2, (uint16_t)size);
	if (size > 0)
		memcpy(at + ZT_MSG_FIELD_HEADER_SIZE, value, size);
	if (m->depth > 0) {
		/* Read back by the decoder when the outermost record ends. */
		put_note(m, tag);
	} else {
		m->fields[m->n_fields] = (struct zt_field){
			.tag = (uint16_t)tag,
			.size = (uint16_t)size,
			.value = at + ZT_MSG_FIELD_HEADER_SIZE,
		};
		if (kind == ZT_FK_STRING) {
			/* Each string's field header (4 bytes) pays for its
			 * NUL. */
			char *copy = m->text + m->text_used;

			memcpy(copy, value, size);
			copy[size] = '\0';
			m->text_used += size + 1;
			m->fields[m->n_fields].value = copy;
		}
		m->n_fields++;
	}
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
zt_msg_begin_record(struct zt_msg *m, enum zt_field_tag tag)
{
	struct zt_msg_open *o;
	int r;

	if ((r = put_allowed(m, tag, ZT_FK_RECORD)) < 0)
		return r;
	if (m->depth >= ZT_MSG_DEPTH_MAX)
		return ZT_E_TOO_MANY;
	if (m->size + ZT_MSG_FIELD_HEADER_SIZE > ZT_MSG_MAX)
		return ZT_E_NOSPACE;
	o = &m->open[m->depth++];
	*o = (struct zt_msg_open){
		.tag = (uint16_t)tag,
		.at = m->size,
		.n_fields = m->n_fields,
		.n_sub = m->n_sub,
		.text_used = m->text_used,
	};
	put_be16(m->wire + m->size, (uint16_t)tag);
	put_be16(m->wire + m->size + 2, 0);
	m->size += ZT_MSG_FIELD_HEADER_SIZE;
	put_be32(m->wire + 12, (uint32_t)(m->size - ZT_MSG_HEADER_SIZE));
	return 0;
}

static int decode_record(struct zt_msg *, struct zt_field *, unsigned);

int
zt_msg_end_record(struct zt_msg *m)
{
	struct zt_msg_open *o;
	struct zt_field *f;
	size_t size;
	int r;

	if (m->depth == 0)
		return ZT_E_PROTOCOL;
	o = &m->open[m->depth - 1];
	if ((o->present & record_schemas[o->tag].required) !=
	    record_schemas[o->tag].required)
		return ZT_E_MISSING;
	size = m->size - o->at - ZT_MSG_FIELD_HEADER_SIZE;
	put_be16(m->wire + o->at + 2, (uint16_t)size);
	if (m->depth > 1) {
		m->depth--;
		put_note(m, o->tag);
		return 0;
	}
	/* The outermost record is read back by the one reader, which fills
	 * the views of every record in it. */
	f = &m->fields[m->n_fields];
	*f = (struct zt_field){
		.tag = o->tag,
		.size = (uint16_t)size,
		.value = m->wire + o->at + ZT_MSG_FIELD_HEADER_SIZE,
	};
	if ((r = decode_record(m, f, 1)) < 0)
		return r;
	m->n_fields++;
	m->depth--;
	return 0;
}

int
zt_msg_cancel_record(struct zt_msg *m)
{
	struct zt_msg_open *o;

	if (m->depth == 0)
		return ZT_E_PROTOCOL;
	o = &m->open[--m->depth];
	m->size = o->at;
	m->n_fields = o->n_fields;
	m->n_sub = o->n_sub;
	m->text_used = o->text_used;
	put_be32(m->wire + 12, (uint32_t)(m->size - ZT_MSG_HEADER_SIZE));
	return 0;
}

int
zt_msg_check_complete(const struct zt_msg *m)
{
	const struct schema *s = schema_of(m->type);
	zt_tagmask present = 0;

	if (s == NULL)
		return ZT_E_TYPE;
	if (m->depth > 0)
		return ZT_E_MISSING;
	for (size_t i = 0; i < m->n_fields; i++)
		present |= BIT(m->fields[i].tag);
	return (present & s->required) == s->required ? 0 : ZT_E_MISSING;
}

/*
 * What a run of fields may hold: the tags it takes and needs, those that
 * may repeat (at most MAX_REPEAT in all), and where it goes: OUT, with
 * room for CAP.
 */
struct rules {
	zt_tagmask allowed, required, repeatable;
	unsigned max_repeat;
	struct zt_field *out;
	size_t cap;
};

/*
 * The one reader: the SIZE bytes at P are a run of fields by RULES.  Each
 * field's header, size, kind and repeats are checked before the next is
 * read; strings are copied, NUL-terminated, into M->text.  *COUNT: fields
 * read.  Returns 0 or the decode error.
 */
static int
read_fields(struct zt_msg *m, const uint8_t *p, size_t size,
    const struct rules *rules, size_t *count)
{
	zt_tagmask present = 0;
	unsigned repeats = 0;
	size_t offset = 0, n = 0;

	while (offset < size) {
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
		if (tag >= ZT_F_TAG_MAX || !(rules->allowed & BIT(tag)))
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
		case ZT_FK_RECORD:
			if (record_schema_of(tag) == NULL)
				return ZT_E_FIELD;
			break;	/* its fields: read once this run is */
		case ZT_FK_NONE:
		default:
			return ZT_E_FIELD;
		}
		if (rules->repeatable & BIT(tag)) {
			if (repeats++ >= rules->max_repeat)
				return ZT_E_TOO_MANY;
		} else if (present & BIT(tag))
			return ZT_E_DUPLICATE;
		if (n >= rules->cap)
			return ZT_E_TOO_MANY;
		present |= BIT(tag);
		f = &rules->out[n++];
		*f = (struct zt_field){
			.tag = (uint16_t)tag,
			.size = (uint16_t)vsize,
			.value = value,
		};
	}
	*count = n;
	if ((present & rules->required) != rules->required)
		return ZT_E_MISSING;
	return 0;
}

/*
 * Read the fields of record F (its bytes on the wire) into M->sub, at
 * DEPTH (1: a field of the message): its own fields side by side, then
 * the fields of each record among them.
 */
static int
decode_record(struct zt_msg *m, struct zt_field *f, unsigned depth)
{
	const struct record_schema *rs = record_schema_of(f->tag);
	struct rules rules;
	size_t first = m->n_sub, n = 0;
	int r;

	if (rs == NULL)
		return ZT_E_FIELD;
	if (depth > ZT_MSG_DEPTH_MAX)
		return ZT_E_TOO_MANY;
	rules = (struct rules){
		.allowed = rs->allowed,
		.required = rs->required,
		.repeatable = rs->repeatable,
		.max_repeat = rs->max_repeat,
		.out = m->sub + first,
		.cap = ZT_MSG_SUBFIELDS_MAX - first,
	};
	if ((r = read_fields(m, f->value, f->size, &rules, &n)) < 0)
		return r;
	m->n_sub += n;
	f->first_sub = (uint16_t)first;
	f->n_sub = (uint16_t)n;
	for (size_t i = first; i < first + n; i++)
		if (field_kind[m->sub[i].tag] == ZT_FK_RECORD &&
		    (r = decode_record(m, &m->sub[i], depth + 1)) < 0)
			return r;
	return 0;
}

int
zt_msg_decode(struct zt_msg *m, const void *data, size_t size)
{
	const struct schema *s;
	const uint8_t *p;
	struct rules rules;
	size_t payload, n = 0;
	unsigned type;
	int r;

	msg_reset(m);
	if (size > ZT_MSG_MAX)
		return ZT_E_OVERSIZED;
	if (size < 4)
		return ZT_E_TRUNCATED;
	if (data != m->wire)	/* received in place: nothing to copy */
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

	rules = (struct rules){
		.allowed = s->allowed,
		.required = s->required,
		.out = m->fields,
		.cap = ZT_MSG_FIELDS_MAX,
	};
	r = read_fields(m, p + ZT_MSG_HEADER_SIZE, payload, &rules, &n);
	m->n_fields = n;
	for (size_t i = 0; r == 0 && i < n; i++)
		if (field_kind[m->fields[i].tag] == ZT_FK_RECORD)
			r = decode_record(m, &m->fields[i], 1);
	if (r < 0)
		return r;
	m->type = (uint16_t)type;
	return 0;
}

void
zt_msg_fields(const struct zt_msg *m, struct zt_record *out)
{
	*out = (struct zt_record){
		.fields = m->fields,
		.n_fields = m->n_fields,
		.sub = m->sub,
	};
}

static const struct zt_field *
get_in(const struct zt_record *r, enum zt_field_tag tag,
    enum zt_field_kind kind)
{
	const struct zt_field *f = find_in(r->fields, r->n_fields, tag);

	if (f == NULL || zt_msg_field_kind(tag) != kind)
		return NULL;
	return f;
}

int
zt_record_next(const struct zt_record *r, enum zt_field_tag tag,
    size_t *cursor, struct zt_record *out)
{
	if (zt_msg_field_kind(tag) != ZT_FK_RECORD)
		return ZT_E_MISSING;
	for (; *cursor < r->n_fields; (*cursor)++) {
		const struct zt_field *f = &r->fields[*cursor];

		if (f->tag != tag)
			continue;
		*out = (struct zt_record){
			.fields = r->sub + f->first_sub,
			.n_fields = f->n_sub,
			.sub = r->sub,
		};
		(*cursor)++;
		return 0;
	}
	return ZT_E_MISSING;
}

int
zt_msg_get_record(const struct zt_msg *m, enum zt_field_tag tag,
    struct zt_record *out)
{
	struct zt_record top;
	size_t cursor = 0;

	zt_msg_fields(m, &top);
	return zt_record_next(&top, tag, &cursor, out);
}

size_t
zt_record_count(const struct zt_record *r, enum zt_field_tag tag)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_fields; i++)
		n += r->fields[i].tag == tag;
	return n;
}

int
zt_record_get_u32(const struct zt_record *r, enum zt_field_tag tag,
    uint32_t *value)
{
	const struct zt_field *f = get_in(r, tag, ZT_FK_U32);

	if (f == NULL)
		return ZT_E_MISSING;
	*value = get_be32(f->value);
	return 0;
}

int
zt_record_get_u64(const struct zt_record *r, enum zt_field_tag tag,
    uint64_t *value)
{
	const struct zt_field *f = get_in(r, tag, ZT_FK_U64);
	const uint8_t *p;

	if (f == NULL)
		return ZT_E_MISSING;
	p = f->value;
	*value = (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
	return 0;
}

int
zt_record_get_str(const struct zt_record *r, enum zt_field_tag tag,
    const char **value)
{
	const struct zt_field *f = get_in(r, tag, ZT_FK_STRING);

	if (f == NULL)
		return ZT_E_MISSING;
	*value = f->value;
	return 0;
}

int
zt_record_get_bytes(const struct zt_record *r, enum zt_field_tag tag,
    const void **value, size_t *size)
{
	const struct zt_field *f = get_in(r, tag, ZT_FK_BYTES);

	if (f == NULL)
		return ZT_E_MISSING;
	*value = f->value;
	*size = f->size;
	return 0;
}

int
zt_msg_get_u32(const struct zt_msg *m, enum zt_field_tag tag, uint32_t *value)
{
	struct zt_record top;

	zt_msg_fields(m, &top);
	return zt_record_get_u32(&top, tag, value);
}

int
zt_msg_get_u64(const struct zt_msg *m, enum zt_field_tag tag, uint64_t *value)
{
	struct zt_record top;

	zt_msg_fields(m, &top);
	return zt_record_get_u64(&top, tag, value);
}

int
zt_msg_get_str(const struct zt_msg *m, enum zt_field_tag tag,
    const char **value)
{
	struct zt_record top;

	zt_msg_fields(m, &top);
	return zt_record_get_str(&top, tag, value);
}

int
zt_msg_get_bytes(const struct zt_msg *m, enum zt_field_tag tag,
    const void **value, size_t *size)
{
	struct zt_record top;

	zt_msg_fields(m, &top);
	return zt_record_get_bytes(&top, tag, value, size);
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
	if (m->depth > 0)
		return -EINVAL;	/* a record still open */
	return zt_msg_send_wire(fd, m->wire, m->size, pass_fd);
}

int
zt_msg_send_wire(int fd, const void *wire, size_t size, int pass_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = (void *)wire, .iov_len = size };
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
	/* Without a descriptor, send(): the kernel then copies no msghdr
	 * and no iovec in (every answer of ztd's goes this way). */
	do
		n = pass_fd >= 0 ? sendmsg(fd, &msg, MSG_NOSIGNAL) :
		    send(fd, wire, size, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == size ? 0 : -EMSGSIZE;
}

int
zt_msg_send(int fd, const struct zt_msg *m)
{
	return zt_msg_send_fd(fd, m, -1);
}

int
zt_msg_recv_from(int fd, struct zt_msg *m, int *passed_fd,
    struct ucred *sender, int *sender_pidfd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int)) +
		    CMSG_SPACE(sizeof(struct ucred)) +
		    CMSG_SPACE(sizeof(int))];
	} control;
	/* Received in place: decoding reads the wire where it lies. */
	struct iovec iov = { .iov_base = m->wire, .iov_len = sizeof(m->wire) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg;
	unsigned passed_count = 0;
	int pidfd = -1;
	ssize_t n;

	*passed_fd = -1;
	if (sender != NULL)
		memset(sender, 0, sizeof(*sender));
	if (sender_pidfd != NULL)
		*sender_pidfd = -1;
	do
		n = recvmsg(fd, &msg, MSG_TRUNC | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* Take whatever descriptors came, so none leaks, before judging. */
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET)
			continue;
		if (cmsg->cmsg_type == SCM_CREDENTIALS && sender != NULL &&
		    cmsg->cmsg_len == CMSG_LEN(sizeof(*sender))) {
			memcpy(sender, CMSG_DATA(cmsg), sizeof(*sender));
			continue;
		}
		/* The kernel's, never the peer's (it cannot send one): a
		 * descriptor, or -errno when it could make none (a sender
		 * reaped before Linux 6.16). */
		if (cmsg->cmsg_type == SCM_PIDFD &&
		    cmsg->cmsg_len == CMSG_LEN(sizeof(int))) {
			int got;

			memcpy(&got, CMSG_DATA(cmsg), sizeof(int));
			if (got >= 0 && pidfd >= 0)
				close(got);
			else if (got >= 0)
				pidfd = got;
			continue;
		}
		if (cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; (i + 1) * sizeof(int) <=
		    cmsg->cmsg_len - CMSG_LEN(0); i++) {
			int passed;

			memcpy(&passed, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			passed_count++;
			if (*passed_fd < 0)
				*passed_fd = passed;
			else
				close(passed);
		}
	}
	if (pidfd >= 0 && sender_pidfd != NULL)
		*sender_pidfd = pidfd;
	else if (pidfd >= 0)
		close(pidfd);
	/* More than one descriptor, kept (room for the credentials and the
	 * sender's pidfd holds more) or dropped by the kernel: refused, none
	 * kept; the sender's pidfd stays the caller's, to judge the sender
	 * by. */
	if (passed_count > 1 || (msg.msg_flags & MSG_CTRUNC)) {
		if (*passed_fd >= 0)
			close(*passed_fd);
		*passed_fd = -1;
		msg_reset(m);
		return ZT_E_PROTOCOL;
	}
	if (n == 0) {
		if (*passed_fd >= 0)
			close(*passed_fd);
		*passed_fd = -1;
		return ZT_E_CLOSED;
	}
	if ((size_t)n > sizeof(m->wire)) {
		msg_reset(m);
		return ZT_E_OVERSIZED;
	}
	return zt_msg_decode(m, m->wire, (size_t)n);
}

int
zt_msg_recv_fd(int fd, struct zt_msg *m, int *passed_fd)
{
	return zt_msg_recv_from(fd, m, passed_fd, NULL, NULL);
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

/* SPDX-License-Identifier: Apache-2.0 */
/* A libFuzzer harness for the wire decoder: decode, read back, re-encode
 * (records too, through the one reader and writer). */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zt_err.h"
#include "zt_log.h"
#include "zt_msg.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort, so that libFuzzer keeps the input, when a property fails. */
#define CHECK(condition) do { \
	if (!(condition)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #condition); \
		abort(); \
	} \
} while (0)

/* The errors zt_msg_decode is documented to return. */
static int
is_decode_error(int r)
{
	switch (r) {
	case ZT_E_OVERSIZED:
	case ZT_E_TRUNCATED:
	case ZT_E_MAGIC:
	case ZT_E_VERSION:
	case ZT_E_TYPE:
	case ZT_E_TRAILING:
	case ZT_E_FIELD:
	case ZT_E_FIELD_SIZE:
	case ZT_E_DUPLICATE:
	case ZT_E_STRING:
	case ZT_E_TOO_MANY:
	case ZT_E_MISSING:
		return 1;
	default:
		return 0;
	}
}

/* The strings a record's schema lets repeat (PROFILE's lists). */
static int
repeatable_string(unsigned tag)
{
	return tag == ZT_F_COMMAND || tag == ZT_F_SYSCALL_DENY ||
	    tag == ZT_F_SYSCALL_GATE || tag == ZT_F_ENV || tag == ZT_F_CA;
}

/*
 * Read every tag (known or not) of record R (or a message's top level)
 * through every getter: exactly the getter of the tag's kind finds a
 * field that is present, and what it returns is the field as decoded;
 * records are walked with zt_record_next, each read back the same way.
 */
static void
read_back(const struct zt_record *r, unsigned depth)
{
	static const unsigned extra[] = { ZT_F_TAG_MAX, 31, 32, 40, 0xffff };

	CHECK(depth <= ZT_MSG_DEPTH_MAX);
	for (unsigned i = 0; i < ZT_F_TAG_MAX + sizeof(extra) /
	    sizeof(extra[0]); i++) {
		unsigned tag = i < ZT_F_TAG_MAX ? i : extra[i - ZT_F_TAG_MAX];
		enum zt_field_kind kind = zt_msg_field_kind(tag);
		const struct zt_field *f = NULL;
		struct zt_record sub;
		uint32_t u32;
		uint64_t u64;
		const char *str;
		const void *bytes;
		size_t size, count = 0, cursor = 0, walked = 0;
		int rc;

		for (size_t j = 0; j < r->n_fields; j++)
			if (r->fields[j].tag == tag) {
				if (f == NULL)
					f = &r->fields[j];
				count++;
			}
		CHECK(f == NULL || kind != ZT_FK_NONE);
		/* Only records and PROFILE's lists repeat. */
		CHECK(count <= 1 || kind == ZT_FK_RECORD ||
		    (depth > 0 && repeatable_string(tag)));
		CHECK(zt_record_count(r, tag) == count);

		rc = zt_record_get_u32(r, tag, &u32);
		CHECK(rc == (f != NULL && kind == ZT_FK_U32 ? 0 :
		    ZT_E_MISSING));
		rc = zt_record_get_u64(r, tag, &u64);
		CHECK(rc == (f != NULL && kind == ZT_FK_U64 ? 0 :
		    ZT_E_MISSING));
		rc = zt_record_get_bytes(r, tag, &bytes, &size);
		CHECK(rc == (f != NULL && kind == ZT_FK_BYTES ? 0 :
		    ZT_E_MISSING));
		if (rc == 0)
			CHECK(size == f->size);
		rc = zt_record_get_str(r, tag, &str);
		CHECK(rc == (f != NULL && kind == ZT_FK_STRING ? 0 :
		    ZT_E_MISSING));
		if (rc == 0) {
			/* Escaped, any string is one printable line. */
			char line[256];

			CHECK(strlen(str) == f->size);
			zt_escape(line, sizeof(line), str, f->size);
			CHECK(strlen(line) < sizeof(line));
			for (const char *p = line; *p != '\0'; p++)
				CHECK(*p >= 0x20 && *p <= 0x7e);
		}
		while (zt_record_next(r, tag, &cursor, &sub) == 0) {
			CHECK(kind == ZT_FK_RECORD);
			CHECK(sub.n_fields <= ZT_MSG_SUBFIELDS_MAX);
			read_back(&sub, depth + 1);
			walked++;
		}
		CHECK(walked == (kind == ZT_FK_RECORD ? count : 0));
	}
}

static uint32_t
be32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
}

/* Put field F (of a decoded message whose sub-fields are SUB) into TO,
 * with the put_* of its kind; a record field with everything in it. */
static int
put_like(struct zt_msg *to, const struct zt_field *sub,
    const struct zt_field *f)
{
	enum zt_field_tag tag = f->tag;
	int r;

	switch (zt_msg_field_kind(tag)) {
	case ZT_FK_U32:
		CHECK(f->size == 4);
		return zt_msg_put_u32(to, tag, be32(f->value));
	case ZT_FK_U64:
		CHECK(f->size == 8);
		return zt_msg_put_u64(to, tag, (uint64_t)be32(f->value) << 32 |
		    be32((const uint8_t *)f->value + 4));
	case ZT_FK_STRING:
		CHECK(strlen(f->value) == f->size);
		return zt_msg_put_str(to, tag, f->value);
	case ZT_FK_BYTES:
		return zt_msg_put_bytes(to, tag, f->value, f->size);
	case ZT_FK_RECORD:
		if ((r = zt_msg_begin_record(to, tag)) < 0)
			return r;
		for (size_t i = 0; i < f->n_sub; i++)
			if ((r = put_like(to, sub, &sub[f->first_sub + i])) < 0)
				return r;
		return zt_msg_end_record(to);
	case ZT_FK_NONE:
	default:
		/* The decoder accepted a field of no kind. */
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zt_msg m, again, sorted, back;
	int r, in_tag_order = 1;

	r = zt_msg_decode(&m, data, size);
	CHECK(strcmp(zt_strerror(r), "unknown error") != 0);
	if (r < 0) {
		CHECK(is_decode_error(r));
		CHECK(size <= ZT_MSG_MAX || r == ZT_E_OVERSIZED);
		CHECK(m.type == 0);
		return 0;
	}
	CHECK(r == 0);
	CHECK(size >= ZT_MSG_HEADER_SIZE && size <= ZT_MSG_MAX);
	CHECK(m.size == size && memcmp(m.wire, data, size) == 0);
	CHECK(strcmp(zt_msg_type_name(m.type), "unknown") != 0);
	CHECK(m.n_fields <= ZT_MSG_FIELDS_MAX);
	CHECK(m.text_used <= sizeof(m.text));
	CHECK(m.n_sub <= ZT_MSG_SUBFIELDS_MAX);
	CHECK(zt_msg_check_complete(&m) == 0);
	{
		struct zt_record top, rec;

		zt_msg_fields(&m, &top);
		read_back(&top, 0);
		/* What zt-exec makes of a profile: read, or refused. */
		if (zt_msg_get_record(&m, ZT_F_PROFILE, &rec) == 0) {
			static struct profile p;
			char error[160];

			r = profile_from_record(&rec, &p, error);
			CHECK(r == 0 || r == -EINVAL);
			CHECK(r != 0 || (p.agent[0] != '\0' &&
			    p.binary[0] == '/' && p.n_env <= ZT_ENV_NAMES_MAX));
		}
	}

	/* Re-encoded in the same order, the fields give the same bytes. */
	CHECK(zt_msg_init(&again, m.type, m.request_id) == 0);
	for (size_t i = 0; i < m.n_fields; i++)
		CHECK(put_like(&again, m.sub, &m.fields[i]) == 0);
	CHECK(zt_msg_check_complete(&again) == 0);
	CHECK(again.size == size && memcmp(again.wire, data, size) == 0);

	/*
	 * In ascending tag order they give a message that decodes to the same
	 * values, and the same bytes exactly when the input was in that order.
	 */
	CHECK(zt_msg_init(&sorted, m.type, m.request_id) == 0);
	for (unsigned tag = 0; tag < ZT_F_TAG_MAX; tag++)
		for (size_t i = 0; i < m.n_fields; i++)
			if (m.fields[i].tag == tag)
				CHECK(put_like(&sorted, m.sub,
				    &m.fields[i]) == 0);
	for (size_t i = 1; i < m.n_fields; i++)
		if (m.fields[i - 1].tag > m.fields[i].tag)
			in_tag_order = 0;
	CHECK(sorted.size == size);
	CHECK((memcmp(sorted.wire, data, size) == 0) == in_tag_order);
	CHECK(zt_msg_decode(&back, sorted.wire, sorted.size) == 0);
	CHECK(back.type == m.type && back.request_id == m.request_id);
	CHECK(back.n_fields == m.n_fields);
	for (size_t i = 0; i < back.n_fields; i++) {
		const struct zt_field *f = &back.fields[i];
		const struct zt_field *g = NULL;

		for (size_t j = 0; j < m.n_fields; j++)
			if (m.fields[j].tag == f->tag)
				g = &m.fields[j];
		CHECK(g != NULL && g->size == f->size);
		CHECK(memcmp(g->value, f->value, f->size) == 0);
	}
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the wire codec, error text, escaping and the client call. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zt_client.h"
#include "zt_err.h"
#include "zt_log.h"
#include "zt_msg.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The request id every hand-built header carries. */
#define TEST_ID UINT32_C(0x01020304)

/* The longest TEXT an ERROR with a CODE can carry: 4096 - 16 - 8 - 4. */
#define ERROR_TEXT_MAX \
	(ZT_MSG_MAX - ZT_MSG_HEADER_SIZE - 2 * ZT_MSG_FIELD_HEADER_SIZE - 4)

/* The client's deadline in the timeout tests, and the slack allowed. */
#define CALL_TIMEOUT_MS 200
#define CALL_SLACK_MS 500

/* Times the racy refusal is tried. */
#define REFUSALS 50

/* ------------------------------------------------------------ helpers */

/* Fail at the caller's line, naming both codes, when they differ. */
#define assert_code(actual, expected) \
	check_code((actual), (expected), __FILE__, __LINE__)

static void
check_code(int actual, int expected, const char *file, int line)
{
	if (actual == expected)
		return;
	print_error("got %d (%s), expected %d (%s)\n", actual,
	    zt_strerror(actual), expected, zt_strerror(expected));
	_fail(file, line);
}

/* Milliseconds on CLOCK_MONOTONIC, truncated like the client's clock. */
static int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every byte of S is printable ASCII: no raw control or high bytes. */
static void
assert_printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			fail_msg("raw byte 0x%02x at offset %td", *p,
			    (const char *)p - s);
}

/* ------------------------------------------------------- byte builder */

/*
 * A datagram built by hand, byte by byte, independently of the encoder.
 * It has room for more than ZT_MSG_MAX on purpose.
 */
struct bytes {
	uint8_t data[ZT_MSG_MAX + 256];
	size_t size;
};

static void
add_raw(struct bytes *b, const void *data, size_t size)
{
	assert_true(size <= sizeof(b->data) - b->size);
	memcpy(b->data + b->size, data, size);
	b->size += size;
}

static void
add_be16(struct bytes *b, uint16_t v)
{
	uint8_t p[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	add_raw(b, p, sizeof(p));
}

static void
add_be32(struct bytes *b, uint32_t v)
{
	add_be16(b, (uint16_t)(v >> 16));
	add_be16(b, (uint16_t)v);
}

static void
add_be64(struct bytes *b, uint64_t v)
{
	add_be32(b, (uint32_t)(v >> 32));
	add_be32(b, (uint32_t)v);
}

/* A header with request id TEST_ID. */
static void
add_header(struct bytes *b, uint32_t magic, uint16_t version, uint16_t type,
    uint32_t length)
{
	add_be32(b, magic);
	add_be16(b, version);
	add_be16(b, type);
	add_be32(b, TEST_ID);
	add_be32(b, length);
}

/* A good header for TYPE; finish() fills its length in. */
static void
start(struct bytes *b, uint16_t type)
{
	add_header(b, ZT_MSG_MAGIC, ZT_MSG_VERSION, type, 0);
}

static void
set_length(struct bytes *b, uint32_t length)
{
	assert_true(b->size >= ZT_MSG_HEADER_SIZE);
	b->data[12] = (uint8_t)(length >> 24);
	b->data[13] = (uint8_t)(length >> 16);
	b->data[14] = (uint8_t)(length >> 8);
	b->data[15] = (uint8_t)length;
}

/* Make the header's length say exactly what follows it. */
static void
finish(struct bytes *b)
{
	set_length(b, (uint32_t)(b->size - ZT_MSG_HEADER_SIZE));
}

/* A field header declaring SIZE, then PRESENT bytes of VALUE. */
static void
add_field(struct bytes *b, uint16_t tag, uint16_t size, const void *value,
    size_t present)
{
	add_be16(b, tag);
	add_be16(b, size);
	add_raw(b, value, present);
}

static void
add_u32(struct bytes *b, uint16_t tag, uint32_t v)
{
	add_be16(b, tag);
	add_be16(b, 4);
	add_be32(b, v);
}

static void
add_u64(struct bytes *b, uint16_t tag, uint64_t v)
{
	add_be16(b, tag);
	add_be16(b, 8);
	add_be64(b, v);
}

static void
add_str(struct bytes *b, uint16_t tag, const char *s)
{
	size_t len = strlen(s);

	add_field(b, tag, (uint16_t)len, s, len);
}

/* A string field of SIZE bytes of 'x'. */
static void
add_fill(struct bytes *b, uint16_t tag, size_t size)
{
	add_be16(b, tag);
	add_be16(b, (uint16_t)size);
	assert_true(size <= sizeof(b->data) - b->size);
	memset(b->data + b->size, 'x', size);
	b->size += size;
}

/* Every field of a STATUS_REPLY, in tag order; PID unless WITHOUT_PID. */
static void
add_status_fields(struct bytes *b, int without_pid)
{
	add_str(b, ZT_F_VERSION, "0.1.0");
	add_u64(b, ZT_F_UPTIME, 86400);
	add_u64(b, ZT_F_GENERATION, 3);
	add_u32(b, ZT_F_AGENTS, 2);
	add_u32(b, ZT_F_CLIENTS, 1);
	add_u32(b, ZT_F_MAX_CLIENTS, 256);
	add_str(b, ZT_F_CONFIG, "/etc/zt/ztd.conf");
	if (!without_pid)
		add_u32(b, ZT_F_PID, 4242);
	add_str(b, ZT_F_ATTEST_MODE, "tpm");
	add_str(b, ZT_F_RELOAD_ERROR, "ztd.conf:12: unknown key");
}

/* --------------------------------------------- hand-built decode cases */

static void
build_good_status(struct bytes *b)
{
	start(b, ZT_MSG_STATUS);
	finish(b);
}

static void
build_good_error(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_u32(b, ZT_F_CODE, (uint32_t)ZT_E_PERM);
	add_str(b, ZT_F_TEXT, "denied");
	finish(b);
}

static void
build_good_error_empty_text(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_str(b, ZT_F_TEXT, "");
	add_u32(b, ZT_F_CODE, 0);
	finish(b);
}

static void
build_good_status_reply(struct bytes *b)
{
	start(b, ZT_MSG_STATUS_REPLY);
	add_status_fields(b, 0);
	finish(b);
}

static void
build_good_reload(struct bytes *b)
{
	start(b, ZT_MSG_RELOAD);
	finish(b);
}

static void
build_good_reload_reply(struct bytes *b)
{
	start(b, ZT_MSG_RELOAD_REPLY);
	add_u64(b, ZT_F_GENERATION, UINT64_MAX);
	finish(b);
}

/* Exactly ZT_MSG_MAX bytes: the largest datagram that may be decoded. */
static void
build_good_max_size(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_u32(b, ZT_F_CODE, 1);
	add_fill(b, ZT_F_TEXT, ERROR_TEXT_MAX);
	finish(b);
}

/* A perfect message, except that it is one byte over ZT_MSG_MAX. */
static void
build_oversized_datagram(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_u32(b, ZT_F_CODE, 1);
	add_fill(b, ZT_F_TEXT, ERROR_TEXT_MAX + 1);
	finish(b);
}

static void
build_oversized_length_huge(struct bytes *b)
{
	start(b, ZT_MSG_STATUS);
	set_length(b, UINT32_MAX);
}

static void
build_oversized_length_by_one(struct bytes *b)
{
	start(b, ZT_MSG_STATUS);
	set_length(b, ZT_MSG_MAX - ZT_MSG_HEADER_SIZE + 1);
}

/* The largest length allowed, on a datagram that does not hold it. */
static void
build_truncated_length_max(struct bytes *b)
{
	start(b, ZT_MSG_STATUS);
	set_length(b, ZT_MSG_MAX - ZT_MSG_HEADER_SIZE);
}

static void
build_truncated_empty(struct bytes *b)
{
	(void)b;
}

static void
build_truncated_3_bytes(struct bytes *b)
{
	add_raw(b, "ZTG", 3);
}

static void
build_truncated_magic_only(struct bytes *b)
{
	add_be32(b, ZT_MSG_MAGIC);
}

static void
build_truncated_header(struct bytes *b)
{
	start(b, ZT_MSG_STATUS);
	b->size = ZT_MSG_HEADER_SIZE - 1;
}

static void
build_truncated_payload(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_u32(b, ZT_F_CODE, 1);
	finish(b);
	b->size -= 4;
}

static void
build_truncated_field_header(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_be16(b, ZT_F_CODE);
	finish(b);
}

static void
build_truncated_field_value(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_field(b, ZT_F_CODE, 4, "\0\0", 2);
	finish(b);
}

static void
build_truncated_string_value(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_u32(b, ZT_F_CODE, 1);
	add_field(b, ZT_F_TEXT, 10, "abc", 3);
	finish(b);
}

static void
build_bad_magic(struct bytes *b)
{
	add_header(b, 0x5a544732, ZT_MSG_VERSION, ZT_MSG_STATUS, 0);
}

static void
build_bad_magic_swapped(struct bytes *b)
{
	add_header(b, 0x3147545a, ZT_MSG_VERSION, ZT_MSG_STATUS, 0);
}

/* The magic is checked first: a short datagram of junk is junk. */
static void
build_bad_magic_short(struct bytes *b)
{
	add_raw(b, "GET / HT", 8);
}

static void
build_bad_magic_zeros(struct bytes *b)
{
	add_header(b, 0, 0, 0, 0);
}

static void
build_version_0(struct bytes *b)
{
	add_header(b, ZT_MSG_MAGIC, 0, ZT_MSG_STATUS, 0);
}

static void
build_version_2(struct bytes *b)
{
	add_header(b, ZT_MSG_MAGIC, ZT_MSG_VERSION + 1, ZT_MSG_STATUS, 0);
}

static void
build_version_ffff(struct bytes *b)
{
	add_header(b, ZT_MSG_MAGIC, 0xffff, ZT_MSG_STATUS, 0);
}

static void
build_type_0(struct bytes *b)
{
	start(b, 0);
	finish(b);
}

static void
build_type_max(struct bytes *b)
{
	start(b, ZT_MSG_TYPE_MAX);
	finish(b);
}

static void
build_type_ffff(struct bytes *b)
{
	start(b, 0xffff);
	finish(b);
}

static void
build_trailing_byte(struct bytes *b)
{
	start(b, ZT_MSG_STATUS);
	finish(b);
	add_raw(b, "", 1);
}

/* A whole field the length does not count. */
static void
build_trailing_field(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_u32(b, ZT_F_CODE, 1);
	finish(b);
	add_str(b, ZT_F_TEXT, "smuggled");
}

static void
build_status_with_code(struct bytes *b)
{
	start(b, ZT_MSG_STATUS);
	add_u32(b, ZT_F_CODE, 1);
	finish(b);
}

static void
build_reload_with_generation(struct bytes *b)
{
	start(b, ZT_MSG_RELOAD);
	add_u64(b, ZT_F_GENERATION, 1);
	finish(b);
}

static void
build_error_with_generation(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_u32(b, ZT_F_CODE, 1);
	add_u64(b, ZT_F_GENERATION, 1);
	finish(b);
}

static void
build_reload_reply_with_code(struct bytes *b)
{
	start(b, ZT_MSG_RELOAD_REPLY);
	add_u64(b, ZT_F_GENERATION, 1);
	add_u32(b, ZT_F_CODE, 1);
	finish(b);
}

static void
build_unknown_tag_0(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_u32(b, ZT_F_CODE, 1);
	add_field(b, 0, 0, "", 0);
	finish(b);
}

static void
build_unknown_tag_max(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_u32(b, ZT_F_CODE, 1);
	add_u32(b, ZT_F_TAG_MAX, 1);
	finish(b);
}

/* Beyond the 32-bit field masks: must not be shifted into one. */
static void
build_unknown_tag_40(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_u32(b, ZT_F_CODE, 1);
	add_u32(b, 40, 1);
	finish(b);
}

static void
build_unknown_tag_ffff(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_u32(b, ZT_F_CODE, 1);
	add_u32(b, 0xffff, 1);
	finish(b);
}

static void
build_u32_size_0(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_field(b, ZT_F_CODE, 0, "", 0);
	finish(b);
}

static void
build_u32_size_3(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_field(b, ZT_F_CODE, 3, "\xff\xff\xff", 3);
	finish(b);
}

static void
build_u32_size_8(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_field(b, ZT_F_CODE, 8, "\0\0\0\0\0\0\0\1", 8);
	finish(b);
}

static void
build_u64_size_4(struct bytes *b)
{
	start(b, ZT_MSG_RELOAD_REPLY);
	add_field(b, ZT_F_GENERATION, 4, "\0\0\0\1", 4);
	finish(b);
}

static void
build_u64_size_9(struct bytes *b)
{
	start(b, ZT_MSG_RELOAD_REPLY);
	add_field(b, ZT_F_GENERATION, 9, "\0\0\0\0\0\0\0\1\0", 9);
	finish(b);
}

static void
build_duplicate_code(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_u32(b, ZT_F_CODE, (uint32_t)ZT_E_PERM);
	add_u32(b, ZT_F_CODE, 0);
	finish(b);
}

static void
build_duplicate_text(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_u32(b, ZT_F_CODE, 1);
	add_str(b, ZT_F_TEXT, "one");
	add_str(b, ZT_F_TEXT, "two");
	finish(b);
}

static void
build_duplicate_generation(struct bytes *b)
{
	start(b, ZT_MSG_RELOAD_REPLY);
	add_u64(b, ZT_F_GENERATION, 1);
	add_u64(b, ZT_F_GENERATION, 2);
	finish(b);
}

/* All ten STATUS_REPLY fields, then an eleventh: it can only repeat one. */
static void
build_eleven_fields(struct bytes *b)
{
	start(b, ZT_MSG_STATUS_REPLY);
	add_status_fields(b, 0);
	add_u32(b, ZT_F_PID, 1);
	finish(b);
}

/* More fields than ZT_MSG_FIELDS_MAX: the repeat is caught first. */
static void
build_33_fields(struct bytes *b)
{
	start(b, ZT_MSG_STATUS_REPLY);
	add_status_fields(b, 0);
	for (int i = 10; i < ZT_MSG_FIELDS_MAX + 1; i++)
		add_u32(b, ZT_F_AGENTS, (uint32_t)i);
	finish(b);
}

static void
build_string_nul_middle(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_u32(b, ZT_F_CODE, 1);
	add_field(b, ZT_F_TEXT, 3, "a\0b", 3);
	finish(b);
}

static void
build_string_nul_only(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_u32(b, ZT_F_CODE, 1);
	add_field(b, ZT_F_TEXT, 1, "", 1);
	finish(b);
}

static void
build_string_nul_last(struct bytes *b)
{
	start(b, ZT_MSG_STATUS_REPLY);
	add_field(b, ZT_F_VERSION, 6, "0.1.0", 6);
	finish(b);
}

static void
build_error_empty(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	finish(b);
}

static void
build_error_text_only(struct bytes *b)
{
	start(b, ZT_MSG_ERROR);
	add_str(b, ZT_F_TEXT, "no code");
	finish(b);
}

static void
build_reload_reply_empty(struct bytes *b)
{
	start(b, ZT_MSG_RELOAD_REPLY);
	finish(b);
}

static void
build_status_reply_empty(struct bytes *b)
{
	start(b, ZT_MSG_STATUS_REPLY);
	finish(b);
}

static void
build_status_reply_without_pid(struct bytes *b)
{
	start(b, ZT_MSG_STATUS_REPLY);
	add_status_fields(b, 1);
	finish(b);
}

/* How a hand-built datagram decodes. */
enum header {
	NO_ID,		/* the header was not readable: request_id stays 0 */
	ID,		/* decode reports TEST_ID */
};

/* ------------------------------------------------- records (REPORT, GRANTS) */

#define GRANT_ID "0123456789abcdef0123456789abcdef"

/* A RECORD's fields: one cache hit, with a token unless TOKEN is NULL. */
static void
add_hit_fields(struct bytes *r, uint32_t action, const char *object,
    const char *token)
{
	add_u32(r, ZT_F_ACTION, action);
	add_str(r, ZT_F_OBJECT, object);
	add_u32(r, ZT_F_AGE_MS, 120);
	if (token != NULL) {
		add_field(r, ZT_F_TOKEN, (uint16_t)strlen(token), token,
		    strlen(token));
		add_u64(r, ZT_F_CACHE_UNTIL, 987654321);
	}
}

/* Put the bytes of INNER into B as record field TAG. */
static void
add_record(struct bytes *b, uint16_t tag, const struct bytes *inner)
{
	add_field(b, tag, (uint16_t)inner->size, inner->data, inner->size);
}

/* A REPORT whose RECORDS holds N hits (short ones without token after the
 * first two, so that many fit). */
static void
build_report_n(struct bytes *b, size_t n)
{
	static struct bytes records, hit;

	records.size = 0;
	for (size_t i = 0; i < n; i++) {
		hit.size = 0;
		add_hit_fields(&hit, 3, "udp:8.8.8.8:53",
		    i < 2 ? "0123456789abcdef" : NULL);
		add_record(&records, ZT_F_RECORD, &hit);
	}
	start(b, ZT_MSG_REPORT);
	add_str(b, ZT_F_GRANT, GRANT_ID);
	add_record(b, ZT_F_RECORDS, &records);
	finish(b);
}

static void
build_report_one(struct bytes *b)
{
	build_report_n(b, 1);
}

static void
build_report_empty(struct bytes *b)
{
	build_report_n(b, 0);
}

static void
build_report_max(struct bytes *b)
{
	build_report_n(b, ZT_REPORT_RECORDS_MAX);
}

static void
build_report_max_plus_one(struct bytes *b)
{
	build_report_n(b, ZT_REPORT_RECORDS_MAX + 1);
}

/* A REPORT of one record whose fields are HIT as given. */
static void
build_report_of(struct bytes *b, const struct bytes *hit)
{
	static struct bytes records;

	records.size = 0;
	add_record(&records, ZT_F_RECORD, hit);
	start(b, ZT_MSG_REPORT);
	add_str(b, ZT_F_GRANT, GRANT_ID);
	add_record(b, ZT_F_RECORDS, &records);
	finish(b);
}

static void
build_record_duplicate(struct bytes *b)
{
	static struct bytes hit;

	hit.size = 0;
	add_hit_fields(&hit, 3, "tcp:10.0.0.5:5432", "0123456789abcdef");
	add_u32(&hit, ZT_F_ACTION, 2);
	build_report_of(b, &hit);
}

static void
build_record_duplicate_token(struct bytes *b)
{
	static struct bytes hit;

	hit.size = 0;
	add_hit_fields(&hit, 3, "tcp:10.0.0.5:5432", "0123456789abcdef");
	add_field(&hit, ZT_F_TOKEN, 16, "fedcba9876543210", 16);
	build_report_of(b, &hit);
}

static void
build_record_unknown_sub(struct bytes *b)
{
	static struct bytes hit;

	hit.size = 0;
	add_hit_fields(&hit, 3, "tcp:10.0.0.5:5432", NULL);
	add_u32(&hit, ZT_F_CODE, 1);	/* a tag, but not a record's */
	build_report_of(b, &hit);
}

static void
build_record_unknown_tag(struct bytes *b)
{
	static struct bytes hit;

	hit.size = 0;
	add_hit_fields(&hit, 3, "tcp:10.0.0.5:5432", NULL);
	add_u32(&hit, 0xffff, 1);
	build_report_of(b, &hit);
}

static void
build_record_missing_age(struct bytes *b)
{
	static struct bytes hit;

	hit.size = 0;
	add_u32(&hit, ZT_F_ACTION, 3);
	add_str(&hit, ZT_F_OBJECT, "tcp:10.0.0.5:5432");
	build_report_of(b, &hit);
}

static void
build_record_action_size(struct bytes *b)
{
	static struct bytes hit;

	hit.size = 0;
	add_field(&hit, ZT_F_ACTION, 3, "\0\0\3", 3);
	add_str(&hit, ZT_F_OBJECT, "x");
	add_u32(&hit, ZT_F_AGE_MS, 1);
	build_report_of(b, &hit);
}

static void
build_record_object_nul(struct bytes *b)
{
	static struct bytes hit;

	hit.size = 0;
	add_u32(&hit, ZT_F_ACTION, 3);
	add_field(&hit, ZT_F_OBJECT, 3, "a\0b", 3);
	add_u32(&hit, ZT_F_AGE_MS, 1);
	build_report_of(b, &hit);
}

/* The last sub-field says more bytes than the record holds. */
static void
build_record_truncated_sub(struct bytes *b)
{
	static struct bytes hit;

	hit.size = 0;
	add_hit_fields(&hit, 3, "tcp:10.0.0.5:5432", NULL);
	add_field(&hit, ZT_F_TOKEN, 16, "0123", 4);
	build_report_of(b, &hit);
}

/* Three bytes of a sub-field header at the record's end. */
static void
build_record_truncated_header(struct bytes *b)
{
	static struct bytes hit;

	hit.size = 0;
	add_hit_fields(&hit, 3, "tcp:10.0.0.5:5432", NULL);
	add_raw(&hit, "\0\x31\0", 3);
	build_report_of(b, &hit);
}

/* RECORDS says its RECORD is longer than RECORDS itself. */
static void
build_records_truncated(struct bytes *b)
{
	static struct bytes records, hit;

	hit.size = 0;
	add_hit_fields(&hit, 3, "tcp:10.0.0.5:5432", NULL);
	records.size = 0;
	add_field(&records, ZT_F_RECORD, (uint16_t)(hit.size + 1), hit.data,
	    hit.size);
	start(b, ZT_MSG_REPORT);
	add_str(b, ZT_F_GRANT, GRANT_ID);
	add_record(b, ZT_F_RECORDS, &records);
	finish(b);
}

/* A RECORD straight in the message: only RECORDS holds them. */
static void
build_record_at_top(struct bytes *b)
{
	static struct bytes hit;

	hit.size = 0;
	add_hit_fields(&hit, 3, "tcp:10.0.0.5:5432", NULL);
	start(b, ZT_MSG_REPORT);
	add_str(b, ZT_F_GRANT, GRANT_ID);
	add_record(b, ZT_F_RECORD, &hit);
	finish(b);
}

/* A RECORD inside a RECORD: no schema takes it. */
static void
build_record_in_record(struct bytes *b)
{
	static struct bytes hit, outer;

	hit.size = 0;
	add_hit_fields(&hit, 3, "tcp:10.0.0.5:5432", NULL);
	outer.size = 0;
	add_hit_fields(&outer, 3, "tcp:10.0.0.5:5432", NULL);
	add_record(&outer, ZT_F_RECORD, &hit);
	build_report_of(b, &outer);
}

/* Two RECORDS fields: the list itself does not repeat. */
static void
build_records_twice(struct bytes *b)
{
	static struct bytes records, hit;

	hit.size = 0;
	add_hit_fields(&hit, 3, "tcp:10.0.0.5:5432", NULL);
	records.size = 0;
	add_record(&records, ZT_F_RECORD, &hit);
	start(b, ZT_MSG_REPORT);
	add_str(b, ZT_F_GRANT, GRANT_ID);
	add_record(b, ZT_F_RECORDS, &records);
	add_record(b, ZT_F_RECORDS, &records);
	finish(b);
}

static void
build_report_without_records(struct bytes *b)
{
	start(b, ZT_MSG_REPORT);
	add_str(b, ZT_F_GRANT, GRANT_ID);
	finish(b);
}

/* The old REPORT carrying the agent's pid: now a type of its own. */
static void
build_report_with_pid(struct bytes *b)
{
	static struct bytes records;

	records.size = 0;
	start(b, ZT_MSG_REPORT);
	add_str(b, ZT_F_GRANT, GRANT_ID);
	add_record(b, ZT_F_RECORDS, &records);
	add_u32(b, ZT_F_PID, 4242);
	finish(b);
}

static void
build_agent_pid(struct bytes *b)
{
	start(b, ZT_MSG_AGENT_PID);
	add_str(b, ZT_F_GRANT, GRANT_ID);
	add_u32(b, ZT_F_PID, 4242);
	finish(b);
}

static void
add_grant_info(struct bytes *list, unsigned i, bool certificate)
{
	static struct bytes info;

	info.size = 0;
	add_str(&info, ZT_F_GRANT, GRANT_ID);
	add_str(&info, ZT_F_AGENT, "backup");
	add_str(&info, ZT_F_ACCOUNT, "svc-backup");
	add_u32(&info, ZT_F_UID, 1001);
	add_u32(&info, ZT_F_PID, 100 + i);
	add_u64(&info, ZT_F_EXPIRES_MS, 3600000);
	add_str(&info, ZT_F_SERVICE, "cron");
	if (certificate) {
		add_str(&info, ZT_F_SERIAL, "0a0b0c");
		add_u64(&info, ZT_F_NOT_AFTER, 1700000000);
	}
	add_record(list, ZT_F_GRANT_INFO, &info);
}

static void
build_grants_n(struct bytes *b, size_t n)
{
	static struct bytes list;

	list.size = 0;
	for (size_t i = 0; i < n; i++)
		add_grant_info(&list, (unsigned)i, i % 2 == 0);
	start(b, ZT_MSG_GRANTS_REPLY);
	add_u32(b, ZT_F_COUNT, (uint32_t)n);
	add_record(b, ZT_F_GRANT_LIST, &list);
	finish(b);
}

static void
build_grants_two(struct bytes *b)
{
	build_grants_n(b, 2);
}

static void
build_grants_max(struct bytes *b)
{
	build_grants_n(b, ZT_GRANT_INFOS_MAX);
}

static void
build_grants_max_plus_one(struct bytes *b)
{
	build_grants_n(b, ZT_GRANT_INFOS_MAX + 1);
}

/* A grant without its service: required by GRANT_INFO's schema. */
static void
build_grant_info_missing(struct bytes *b)
{
	static struct bytes list, info;

	info.size = 0;
	add_str(&info, ZT_F_GRANT, GRANT_ID);
	add_str(&info, ZT_F_AGENT, "backup");
	add_str(&info, ZT_F_ACCOUNT, "svc-backup");
	add_u32(&info, ZT_F_UID, 1001);
	add_u32(&info, ZT_F_PID, 100);
	add_u64(&info, ZT_F_EXPIRES_MS, 3600000);
	list.size = 0;
	add_record(&list, ZT_F_GRANT_INFO, &info);
	start(b, ZT_MSG_GRANTS_REPLY);
	add_u32(b, ZT_F_COUNT, 1);
	add_record(b, ZT_F_GRANT_LIST, &list);
	finish(b);
}

/* The text list of old: no longer a field of GRANTS_REPLY. */
static void
build_grants_text_list(struct bytes *b)
{
	start(b, ZT_MSG_GRANTS_REPLY);
	add_u32(b, ZT_F_COUNT, 1);
	add_str(b, ZT_F_LIST, "a backup svc-backup 12 3600\n");
	finish(b);
}

/* A launch reply with PROFILE: its head, N_FILES file rules and N_CMDS
 * commands; BAD_FILE: the last file rule without its ACCESS. */
static void
build_launch_profile(struct bytes *b, size_t n_files, size_t n_cmds,
    bool bad_file, bool profile_text)
{
	static struct bytes profile, file;

	profile.size = 0;
	add_str(&profile, ZT_F_AGENT, "backup");
	add_str(&profile, ZT_F_BINARY, "/opt/agents/backup-agent");
	add_u32(&profile, ZT_F_FLAGS, ZT_PROFILE_FILES | ZT_PROFILE_INET);
	add_u32(&profile, ZT_F_DECISION_TTL, 30);
	for (size_t i = 0; i < n_files; i++) {
		file.size = 0;
		add_str(&file, ZT_F_PATH, "/srv/backup");
		if (!(bad_file && i + 1 == n_files))
			add_u32(&file, ZT_F_ACCESS, ZT_ACCESS_R | ZT_ACCESS_W);
		add_record(&profile, ZT_F_FILE, &file);
	}
	for (size_t i = 0; i < n_cmds; i++)
		add_str(&profile, ZT_F_COMMAND, "/a");
	add_str(&profile, ZT_F_SYSCALL_GATE, "ptrace");
	add_str(&profile, ZT_F_ENV, "LANG");
	start(b, ZT_MSG_DECISION);
	add_u32(b, ZT_F_DECISION, ZT_DECISION_ALLOW);
	add_str(b, ZT_F_REASON, "pam service zt-exec is in pam_services");
	add_str(b, ZT_F_GRANT, GRANT_ID);
	if (profile_text)
		add_str(b, ZT_F_PROFILE, "agent backup\nbinary /opt/a\n");
	else
		add_record(b, ZT_F_PROFILE, &profile);
	finish(b);
}

static void
build_profile_good(struct bytes *b)
{
	build_launch_profile(b, 3, 2, false, false);
}

static void
build_profile_file_without_access(struct bytes *b)
{
	build_launch_profile(b, 2, 0, true, false);
}

/* The text profile of old: a record now. */
static void
build_profile_text(struct bytes *b)
{
	build_launch_profile(b, 0, 0, false, true);
}

/* More repeated fields than ZT_PROFILE_ITEMS_MAX: the message's bound on
 * sub-fields (ZT_MSG_SUBFIELDS_MAX) or the record's, whichever first. */
static void
build_profile_too_many(struct bytes *b)
{
	build_launch_profile(b, 0, ZT_MSG_SUBFIELDS_MAX, false, false);
}

static const struct decode_case {
	const char *name;
	void (*build)(struct bytes *b);
	int expected;
	enum header header;
} decode_cases[] = {
	/* Near misses of the cases below, so the builder itself is proven. */
	{ "good-status", build_good_status, 0, ID },
	{ "good-error", build_good_error, 0, ID },
	{ "good-error-empty-text", build_good_error_empty_text, 0, ID },
	{ "good-status-reply", build_good_status_reply, 0, ID },
	{ "good-reload", build_good_reload, 0, ID },
	{ "good-reload-reply", build_good_reload_reply, 0, ID },
	{ "good-max-size", build_good_max_size, 0, ID },

	{ "oversized-datagram", build_oversized_datagram, ZT_E_OVERSIZED,
	    NO_ID },
	{ "oversized-length-huge", build_oversized_length_huge,
	    ZT_E_OVERSIZED, ID },
	{ "oversized-length-by-one", build_oversized_length_by_one,
	    ZT_E_OVERSIZED, ID },

	{ "truncated-length-max", build_truncated_length_max, ZT_E_TRUNCATED,
	    ID },
	{ "truncated-empty", build_truncated_empty, ZT_E_TRUNCATED, NO_ID },
	{ "truncated-3-bytes", build_truncated_3_bytes, ZT_E_TRUNCATED,
	    NO_ID },
	{ "truncated-magic-only", build_truncated_magic_only, ZT_E_TRUNCATED,
	    NO_ID },
	{ "truncated-header", build_truncated_header, ZT_E_TRUNCATED, NO_ID },
	{ "truncated-payload", build_truncated_payload, ZT_E_TRUNCATED, ID },
	{ "truncated-field-header", build_truncated_field_header,
	    ZT_E_TRUNCATED, ID },
	{ "truncated-field-value", build_truncated_field_value,
	    ZT_E_TRUNCATED, ID },
	{ "truncated-string-value", build_truncated_string_value,
	    ZT_E_TRUNCATED, ID },

	{ "bad-magic", build_bad_magic, ZT_E_MAGIC, NO_ID },
	{ "bad-magic-swapped", build_bad_magic_swapped, ZT_E_MAGIC, NO_ID },
	{ "bad-magic-short", build_bad_magic_short, ZT_E_MAGIC, NO_ID },
	{ "bad-magic-zeros", build_bad_magic_zeros, ZT_E_MAGIC, NO_ID },

	{ "version-0", build_version_0, ZT_E_VERSION, ID },
	{ "version-2", build_version_2, ZT_E_VERSION, ID },
	{ "version-ffff", build_version_ffff, ZT_E_VERSION, ID },

	{ "type-0", build_type_0, ZT_E_TYPE, ID },
	{ "type-max", build_type_max, ZT_E_TYPE, ID },
	{ "type-ffff", build_type_ffff, ZT_E_TYPE, ID },

	{ "trailing-byte", build_trailing_byte, ZT_E_TRAILING, ID },
	{ "trailing-field", build_trailing_field, ZT_E_TRAILING, ID },

	{ "status-with-code", build_status_with_code, ZT_E_FIELD, ID },
	{ "reload-with-generation", build_reload_with_generation, ZT_E_FIELD,
	    ID },
	{ "error-with-generation", build_error_with_generation, ZT_E_FIELD,
	    ID },
	{ "reload-reply-with-code", build_reload_reply_with_code, ZT_E_FIELD,
	    ID },
	/* zt_msg.h has no code of its own for an unknown tag: ZT_E_FIELD. */
	{ "unknown-tag-0", build_unknown_tag_0, ZT_E_FIELD, ID },
	{ "unknown-tag-max", build_unknown_tag_max, ZT_E_FIELD, ID },
	{ "unknown-tag-40", build_unknown_tag_40, ZT_E_FIELD, ID },
	{ "unknown-tag-ffff", build_unknown_tag_ffff, ZT_E_FIELD, ID },

	{ "u32-size-0", build_u32_size_0, ZT_E_FIELD_SIZE, ID },
	{ "u32-size-3", build_u32_size_3, ZT_E_FIELD_SIZE, ID },
	{ "u32-size-8", build_u32_size_8, ZT_E_FIELD_SIZE, ID },
	{ "u64-size-4", build_u64_size_4, ZT_E_FIELD_SIZE, ID },
	{ "u64-size-9", build_u64_size_9, ZT_E_FIELD_SIZE, ID },

	{ "duplicate-code", build_duplicate_code, ZT_E_DUPLICATE, ID },
	{ "duplicate-text", build_duplicate_text, ZT_E_DUPLICATE, ID },
	{ "duplicate-generation", build_duplicate_generation, ZT_E_DUPLICATE,
	    ID },
	/*
	 * ZT_E_TOO_MANY cannot be reached: the largest schema (STATUS_REPLY)
	 * allows ten tags, a repeat is ZT_E_DUPLICATE and any other tag is
	 * ZT_E_FIELD, both checked before the count, and ten is below
	 * ZT_MSG_FIELDS_MAX (test_schema_capacity proves the bound).  What is
	 * reachable is what more fields than that give:
	 */
	{ "eleven-fields", build_eleven_fields, ZT_E_DUPLICATE, ID },
	{ "33-fields", build_33_fields, ZT_E_DUPLICATE, ID },

	{ "string-nul-middle", build_string_nul_middle, ZT_E_STRING, ID },
	{ "string-nul-only", build_string_nul_only, ZT_E_STRING, ID },
	{ "string-nul-last", build_string_nul_last, ZT_E_STRING, ID },

	{ "missing-error-empty", build_error_empty, ZT_E_MISSING, ID },
	{ "missing-error-code", build_error_text_only, ZT_E_MISSING, ID },
	{ "missing-reload-reply-generation", build_reload_reply_empty,
	    ZT_E_MISSING, ID },
	{ "missing-status-reply-all", build_status_reply_empty, ZT_E_MISSING,
	    ID },
	{ "missing-status-reply-pid", build_status_reply_without_pid,
	    ZT_E_MISSING, ID },

	/* Records: one reader for REPORT's hits and GRANTS' list. */
	{ "record-report-one", build_report_one, 0, ID },
	{ "record-report-empty", build_report_empty, 0, ID },
	{ "record-report-max", build_report_max, 0, ID },
	{ "record-report-max-plus-one", build_report_max_plus_one,
	    ZT_E_TOO_MANY, ID },
	{ "record-duplicate", build_record_duplicate, ZT_E_DUPLICATE, ID },
	{ "record-duplicate-token", build_record_duplicate_token,
	    ZT_E_DUPLICATE, ID },
	{ "record-unknown-sub-field", build_record_unknown_sub, ZT_E_FIELD,
	    ID },
	{ "record-unknown-tag", build_record_unknown_tag, ZT_E_FIELD, ID },
	{ "record-missing-age", build_record_missing_age, ZT_E_MISSING, ID },
	{ "record-action-size", build_record_action_size, ZT_E_FIELD_SIZE,
	    ID },
	{ "record-object-nul", build_record_object_nul, ZT_E_STRING, ID },
	{ "record-truncated-sub-field", build_record_truncated_sub,
	    ZT_E_TRUNCATED, ID },
	{ "record-truncated-sub-header", build_record_truncated_header,
	    ZT_E_TRUNCATED, ID },
	{ "record-truncated-in-list", build_records_truncated,
	    ZT_E_TRUNCATED, ID },
	{ "record-at-top-level", build_record_at_top, ZT_E_FIELD, ID },
	{ "record-in-record", build_record_in_record, ZT_E_FIELD, ID },
	{ "record-list-twice", build_records_twice, ZT_E_DUPLICATE, ID },
	{ "record-report-without-records", build_report_without_records,
	    ZT_E_MISSING, ID },
	{ "record-report-with-pid", build_report_with_pid, ZT_E_FIELD, ID },
	{ "agent-pid", build_agent_pid, 0, ID },
	{ "record-grants-two", build_grants_two, 0, ID },
	{ "record-grants-max", build_grants_max, 0, ID },
	{ "record-grants-max-plus-one", build_grants_max_plus_one,
	    ZT_E_TOO_MANY, ID },
	{ "record-grant-info-missing", build_grant_info_missing,
	    ZT_E_MISSING, ID },
	{ "record-grants-text-list", build_grants_text_list, ZT_E_FIELD, ID },
	{ "record-profile", build_profile_good, 0, ID },
	{ "record-profile-file-without-access",
	    build_profile_file_without_access, ZT_E_MISSING, ID },
	{ "record-profile-text", build_profile_text, ZT_E_FIELD, ID },
	{ "record-profile-too-many", build_profile_too_many, ZT_E_TOO_MANY,
	    ID },
};

static void
test_decode(void **state)
{
	const struct decode_case *c = *state;
	struct bytes b = { .size = 0 };
	struct zt_msg m;

	c->build(&b);
	/* The decoder must not depend on what the struct held before. */
	memset(&m, 0xa5, sizeof(m));
	assert_code(zt_msg_decode(&m, b.data, b.size), c->expected);
	assert_int_equal(m.request_id, c->header == ID ? TEST_ID : 0);
	if (c->expected == 0) {
		assert_int_equal(m.type, b.data[6] << 8 | b.data[7]);
		assert_int_equal(m.size, b.size);
		assert_code(zt_msg_check_complete(&m), 0);
	} else {
		/* A caller that ignores the error sees no message type. */
		assert_int_equal(m.type, 0);
	}
}

/* ---------------------------------------------------------- round trips */

/* A field's value: NUMBER for u32/u64, TEXT (or FILL x 'x') for strings. */
struct value {
	enum zt_field_tag tag;		/* 0 ends a list */
	uint64_t number;
	const char *text;
	size_t fill;
};

/* The string a value stands for, in BUF when it is a fill. */
static const char *
value_text(const struct value *v, char *buf, size_t size)
{
	if (v->fill == 0)
		return v->text;
	assert_true(v->fill < size);
	memset(buf, 'x', v->fill);
	buf[v->fill] = '\0';
	return buf;
}

/* Put V with the put_* function for KIND (not necessarily the tag's). */
static int
put_value(struct zt_msg *m, const struct value *v, enum zt_field_kind kind)
{
	char buf[2 * ZT_MSG_MAX];
	const char *text;

	switch (kind) {
	case ZT_FK_U32:
		return zt_msg_put_u32(m, v->tag, (uint32_t)v->number);
	case ZT_FK_U64:
		return zt_msg_put_u64(m, v->tag, v->number);
	case ZT_FK_STRING:
		return zt_msg_put_str(m, v->tag,
		    value_text(v, buf, sizeof(buf)));
	case ZT_FK_BYTES:
		text = value_text(v, buf, sizeof(buf));
		return zt_msg_put_bytes(m, v->tag, text, strlen(text));
	case ZT_FK_NONE:
	default:
		return zt_msg_put_u32(m, v->tag, (uint32_t)v->number);
	}
}

static size_t
count_values(const struct value *values, size_t max)
{
	size_t n = 0;

	while (n < max && values[n].tag != 0)
		n++;
	return n;
}

/* Start a TYPE message and put every value, each of which must succeed. */
static void
encode(struct zt_msg *m, enum zt_msg_type type, uint32_t id,
    const struct value *values, size_t max)
{
	assert_code(zt_msg_init(m, type, id), 0);
	for (size_t i = 0; i < count_values(values, max); i++)
		assert_code(put_value(m, &values[i],
		    zt_msg_field_kind(values[i].tag)), 0);
}

/*
 * M holds exactly VALUES, in that order; every getter of another kind, and
 * every getter of any tag not among VALUES, says ZT_E_MISSING.
 */
static void
assert_values(const struct zt_msg *m, const struct value *values,
    size_t max)
{
	size_t n = count_values(values, max);
	char buf[2 * ZT_MSG_MAX];

	assert_int_equal(m->n_fields, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(m->fields[i].tag, values[i].tag);
	for (unsigned tag = 0; tag <= ZT_F_TAG_MAX + 1; tag++) {
		const struct value *v = NULL;
		enum zt_field_kind kind = zt_msg_field_kind(tag);
		uint32_t u32;
		uint64_t u64;
		const char *str;
		const void *bytes;
		size_t size;

		for (size_t i = 0; i < n; i++)
			if (values[i].tag == tag)
				v = &values[i];
		if (v != NULL && kind == ZT_FK_U32) {
			assert_code(zt_msg_get_u32(m, tag, &u32), 0);
			assert_int_equal(u32, (uint32_t)v->number);
		} else
			assert_code(zt_msg_get_u32(m, tag, &u32),
			    ZT_E_MISSING);
		if (v != NULL && kind == ZT_FK_U64) {
			assert_code(zt_msg_get_u64(m, tag, &u64), 0);
			assert_true(u64 == v->number);
		} else
			assert_code(zt_msg_get_u64(m, tag, &u64),
			    ZT_E_MISSING);
		if (v != NULL && kind == ZT_FK_STRING) {
			assert_code(zt_msg_get_str(m, tag, &str), 0);
			assert_string_equal(str,
			    value_text(v, buf, sizeof(buf)));
		} else
			assert_code(zt_msg_get_str(m, tag, &str),
			    ZT_E_MISSING);
		if (v != NULL && kind == ZT_FK_BYTES) {
			const char *want = value_text(v, buf, sizeof(buf));

			assert_code(zt_msg_get_bytes(m, tag, &bytes, &size), 0);
			assert_int_equal(size, strlen(want));
			assert_memory_equal(bytes, want, size);
		} else
			assert_code(zt_msg_get_bytes(m, tag, &bytes, &size),
			    ZT_E_MISSING);
	}
}

#define ALL_STATUS_FIELDS(version, config, attest, reload_error) \
	{ ZT_F_VERSION, 0, version, 0 }, \
	{ ZT_F_UPTIME, 86400, NULL, 0 }, \
	{ ZT_F_GENERATION, 3, NULL, 0 }, \
	{ ZT_F_AGENTS, 2, NULL, 0 }, \
	{ ZT_F_CLIENTS, 1, NULL, 0 }, \
	{ ZT_F_MAX_CLIENTS, 256, NULL, 0 }, \
	{ ZT_F_CONFIG, 0, config, 0 }, \
	{ ZT_F_PID, 4242, NULL, 0 }, \
	{ ZT_F_ATTEST_MODE, 0, attest, 0 }, \
	{ ZT_F_RELOAD_ERROR, 0, reload_error, 0 }

static const struct roundtrip_case {
	const char *name;
	enum zt_msg_type type;
	uint32_t request_id;
	struct value values[ZT_F_TAG_MAX];
} roundtrip_cases[] = {
	{ "error", ZT_MSG_ERROR, 1, {
		{ ZT_F_CODE, (uint32_t)ZT_E_PERM, NULL, 0 },
		{ ZT_F_TEXT, 0, "permission denied: \"uid 1000\"", 0 } } },
	{ "error-code-only", ZT_MSG_ERROR, 2, {
		{ ZT_F_CODE, (uint32_t)-ENOENT, NULL, 0 } } },
	{ "error-empty-text", ZT_MSG_ERROR, 3, {
		{ ZT_F_TEXT, 0, "", 0 },
		{ ZT_F_CODE, 0, NULL, 0 } } },
	{ "error-max-values", ZT_MSG_ERROR, UINT32_MAX, {
		{ ZT_F_CODE, UINT32_MAX, NULL, 0 },
		{ ZT_F_TEXT, 0, "\x7f\x01\xff control \r\n bytes", 0 } } },
	{ "error-max-size", ZT_MSG_ERROR, 4, {
		{ ZT_F_CODE, 1, NULL, 0 },
		{ ZT_F_TEXT, 0, NULL, ERROR_TEXT_MAX } } },
	{ "status", ZT_MSG_STATUS, 5, { { 0, 0, NULL, 0 } } },
	{ "status-id-0", ZT_MSG_STATUS, 0, { { 0, 0, NULL, 0 } } },
	{ "status-id-max", ZT_MSG_STATUS, UINT32_MAX, { { 0, 0, NULL, 0 } } },
	{ "status-reply", ZT_MSG_STATUS_REPLY, 6, {
		ALL_STATUS_FIELDS("0.1.0", "/etc/zt/ztd.conf", "tpm",
		    "ztd.conf:12: unknown key") } },
	{ "status-reply-empty-strings", ZT_MSG_STATUS_REPLY, 7, {
		ALL_STATUS_FIELDS("", "", "", "") } },
	{ "status-reply-max-values", ZT_MSG_STATUS_REPLY, UINT32_MAX, {
		{ ZT_F_VERSION, 0, "v", 0 },
		{ ZT_F_UPTIME, UINT64_MAX, NULL, 0 },
		{ ZT_F_GENERATION, UINT64_MAX, NULL, 0 },
		{ ZT_F_AGENTS, UINT32_MAX, NULL, 0 },
		{ ZT_F_CLIENTS, UINT32_MAX, NULL, 0 },
		{ ZT_F_MAX_CLIENTS, UINT32_MAX, NULL, 0 },
		{ ZT_F_CONFIG, 0, "c", 0 },
		{ ZT_F_PID, UINT32_MAX, NULL, 0 },
		{ ZT_F_ATTEST_MODE, 0, "a", 0 } } },
	{ "status-reply-zero-values", ZT_MSG_STATUS_REPLY, 8, {
		{ ZT_F_VERSION, 0, "", 0 },
		{ ZT_F_UPTIME, 0, NULL, 0 },
		{ ZT_F_GENERATION, 0, NULL, 0 },
		{ ZT_F_AGENTS, 0, NULL, 0 },
		{ ZT_F_CLIENTS, 0, NULL, 0 },
		{ ZT_F_MAX_CLIENTS, 0, NULL, 0 },
		{ ZT_F_CONFIG, 0, "", 0 },
		{ ZT_F_PID, 0, NULL, 0 },
		{ ZT_F_ATTEST_MODE, 0, "", 0 } } },
	/* The decoder keeps the order the sender chose. */
	{ "status-reply-reversed", ZT_MSG_STATUS_REPLY, 9, {
		{ ZT_F_RELOAD_ERROR, 0, "none", 0 },
		{ ZT_F_ATTEST_MODE, 0, "software", 0 },
		{ ZT_F_PID, 1, NULL, 0 },
		{ ZT_F_CONFIG, 0, "/tmp/ztd.conf", 0 },
		{ ZT_F_MAX_CLIENTS, 1024, NULL, 0 },
		{ ZT_F_CLIENTS, 10, NULL, 0 },
		{ ZT_F_AGENTS, 20, NULL, 0 },
		{ ZT_F_GENERATION, UINT64_C(0x0102030405060708), NULL, 0 },
		{ ZT_F_UPTIME, UINT64_C(0x8000000000000001), NULL, 0 },
		{ ZT_F_VERSION, 0, "0.1.0~rc1", 0 } } },
	{ "reload", ZT_MSG_RELOAD, 10, { { 0, 0, NULL, 0 } } },
	{ "check", ZT_MSG_CHECK, 30, {
		{ ZT_F_AGENT, 0, "backup", 0 },
		{ ZT_F_ACTION, 3, NULL, 0 },
		{ ZT_F_OBJECT, 0, "tcp:10.0.0.5:5432", 0 },
		{ ZT_F_ACCOUNT, 0, "svc-backup", 0 },
		{ ZT_F_GRANT, 0, "0123456789abcdef0123456789abcdef", 0 } } },
	{ "decision", ZT_MSG_DECISION, 31, {
		{ ZT_F_DECISION, ZT_DECISION_ALLOW, NULL, 0 },
		{ ZT_F_REASON, 0, "network rule line 14", 0 },
		{ ZT_F_RISK, 1, NULL, 0 },
		{ ZT_F_GRANT, 0, "0123456789abcdef0123456789abcdef", 0 },
		{ ZT_F_AGENT, 0, "backup", 0 },
		{ ZT_F_TTL_MS, 30000, NULL, 0 },
		{ ZT_F_EXPIRES_MS, UINT64_MAX, NULL, 0 },
		{ ZT_F_AUDIT_SEQ, 77, NULL, 0 } } },
	{ "decide", ZT_MSG_DECIDE, 32, {
		{ ZT_F_ACTION, 2, NULL, 0 },
		{ ZT_F_OBJECT, 0, "/usr/bin/rsync", 0 },
		{ ZT_F_GRANT, 0, "ffffffffffffffffffffffffffffffff", 0 } } },
	{ "session-open", ZT_MSG_SESSION_OPEN, 33, {
		{ ZT_F_UID, 1001, NULL, 0 },
		{ ZT_F_SERVICE, 0, "cron", 0 },
		{ ZT_F_ACCOUNT, 0, "svc-backup", 0 },
		{ ZT_F_RHOST, 0, "\r\nforged", 0 },
		{ ZT_F_TTY, 0, "/dev/pts/3", 0 } } },
	{ "session-close", ZT_MSG_SESSION_CLOSE, 34, {
		{ ZT_F_GRANT, 0, "0123456789abcdef0123456789abcdef", 0 } } },
	{ "grants", ZT_MSG_GRANTS, 35, { { ZT_F_OFFSET, 40, NULL, 0 } } },
	{ "revoke", ZT_MSG_REVOKE, 37, {
		{ ZT_F_AGENT, 0, "backup", 0 },
		{ ZT_F_FLAGS, ZT_REVOKE_KILL, NULL, 0 } } },
	{ "revoke-reply", ZT_MSG_REVOKE_REPLY, 38, {
		{ ZT_F_COUNT, 3, NULL, 0 } } },
	{ "enroll-host", ZT_MSG_ENROLL_HOST, 39, { { 0, 0, NULL, 0 } } },
	{ "event", ZT_MSG_EVENT, 0, {
		{ ZT_F_EVENT, ZT_EVENT_GRANT_ENDED, NULL, 0 },
		{ ZT_F_GRANT, 0, "0123456789abcdef0123456789abcdef", 0 },
		{ ZT_F_REASON, 0, "revoked by uid 0", 0 } } },
	{ "reload-reply", ZT_MSG_RELOAD_REPLY, 11, {
		{ ZT_F_GENERATION, 1, NULL, 0 } } },
	{ "launch", ZT_MSG_LAUNCH, 41, {
		{ ZT_F_OBJECT, 0, "/opt/agents/backup-agent", 0 },
		{ ZT_F_AGENT, 0, "backup", 0 },
		{ ZT_F_GRANT, 0, "0123456789abcdef0123456789abcdef", 0 } } },
	{ "launch-command-only", ZT_MSG_LAUNCH, 42, {
		{ ZT_F_OBJECT, 0, "/opt/agents/backup-agent", 0 } } },
	{ "launch-reply", ZT_MSG_DECISION, 43, {
		{ ZT_F_DECISION, ZT_DECISION_ALLOW, NULL, 0 },
		{ ZT_F_REASON, 0, "pam service zt-exec is in pam_services", 0 },
		{ ZT_F_GRANT, 0, "0123456789abcdef0123456789abcdef", 0 },
		{ ZT_F_EXPIRES_MS, 3600000, NULL, 0 },
		{ ZT_F_SHA256, 0, NULL, 32 } } },
	{ "decision-cacheable", ZT_MSG_DECISION, 47, {
		{ ZT_F_DECISION, ZT_DECISION_ALLOW, NULL, 0 },
		{ ZT_F_REASON, 0, "network rule line 3", 0 },
		{ ZT_F_RISK, 0, NULL, 0 },
		{ ZT_F_TTL_MS, 30000, NULL, 0 },
		{ ZT_F_TOKEN, 0, NULL, ZT_TOKEN_SIZE },
		{ ZT_F_CACHE_UNTIL, 123456789, NULL, 0 } } },
	{ "agent-pid", ZT_MSG_AGENT_PID, 46, {
		{ ZT_F_GRANT, 0, "0123456789abcdef0123456789abcdef", 0 },
		{ ZT_F_PID, 4242, NULL, 0 } } },
	{ "report-reply", ZT_MSG_REPORT_REPLY, 45, {
		{ ZT_F_COUNT, 12, NULL, 0 } } },
	{ "report-reply-flags", ZT_MSG_REPORT_REPLY, 48, {
		{ ZT_F_COUNT, 2, NULL, 0 },
		{ ZT_F_FLAGS, 0x80000001u, NULL, 0 } } },
	{ "learn-no-answers", ZT_MSG_LEARN, 49, {
		{ ZT_F_GRANT, 0, "0123456789abcdef0123456789abcdef", 0 },
		{ ZT_F_OBJECT, 0, "dns:api.example.com", 0 },
		{ ZT_F_LIST, 0, "api.example.com\ncdn.example.net", 0 } } },
	{ "reload-reply-generation-0", ZT_MSG_RELOAD_REPLY, 12, {
		{ ZT_F_GENERATION, 0, NULL, 0 } } },
	{ "reload-reply-generation-max", ZT_MSG_RELOAD_REPLY, 13, {
		{ ZT_F_GENERATION, UINT64_MAX, NULL, 0 } } },
	{ "audit-reopen", ZT_MSG_AUDIT_REOPEN, 48, { { 0, 0, NULL, 0 } } },
	{ "audit-reopen-reply", ZT_MSG_AUDIT_REOPEN_REPLY, 49, {
		{ ZT_F_AUDIT_SEQ, 1042, NULL, 0 },
		{ ZT_F_TEXT, 0, "/var/log/zt/audit.log", 0 } } },
};

/* LEARN's answers: records of NAME, ADDRESS and TTL_MS, at most
 * ZT_ANSWERS_MAX, each complete; read back in order. */
static void
test_learn_answers(void **state)
{
	static const uint8_t v4[4] = { 192, 0, 2, 1 }, v6[16] = { 0x20, 1 };
	struct zt_msg *m = malloc(2 * sizeof(*m));
	struct zt_record answers, answer;
	const void *addr;
	const char *name;
	size_t cursor = 0, size;
	uint32_t ttl;

	(void)state;
	assert_non_null(m);
	assert_code(zt_msg_init(&m[0], ZT_MSG_LEARN, 7), 0);
	assert_code(zt_msg_put_str(&m[0], ZT_F_GRANT,
	    "0123456789abcdef0123456789abcdef"), 0);
	assert_code(zt_msg_put_str(&m[0], ZT_F_OBJECT, "dns:a.example"), 0);
	assert_code(zt_msg_put_str(&m[0], ZT_F_LIST, "a.example"), 0);
	assert_code(zt_msg_begin_record(&m[0], ZT_F_ANSWERS), 0);
	for (int i = 0; i < 2; i++) {
		assert_code(zt_msg_begin_record(&m[0], ZT_F_ANSWER), 0);
		assert_code(zt_msg_put_str(&m[0], ZT_F_NAME, "a.example"), 0);
		assert_code(zt_msg_put_bytes(&m[0], ZT_F_ADDRESS,
		    i == 0 ? v4 : v6, i == 0 ? 4 : 16), 0);
		assert_code(zt_msg_put_u32(&m[0], ZT_F_TTL_MS, 1000u * (i + 1)),
		    0);
		assert_code(zt_msg_end_record(&m[0]), 0);
	}
	/* An answer without its address is incomplete. */
	assert_code(zt_msg_begin_record(&m[0], ZT_F_ANSWER), 0);
	assert_code(zt_msg_put_str(&m[0], ZT_F_NAME, "a.example"), 0);
	assert_code(zt_msg_end_record(&m[0]), ZT_E_MISSING);
	assert_code(zt_msg_cancel_record(&m[0]), 0);
	assert_code(zt_msg_end_record(&m[0]), 0);
	assert_code(zt_msg_check_complete(&m[0]), 0);
	assert_code(zt_msg_decode(&m[1], m[0].wire, m[0].size), 0);
	assert_code(zt_msg_get_record(&m[1], ZT_F_ANSWERS, &answers), 0);
	assert_int_equal(zt_record_count(&answers, ZT_F_ANSWER), 2);
	for (int i = 0; i < 2; i++) {
		assert_code(zt_record_next(&answers, ZT_F_ANSWER, &cursor,
		    &answer), 0);
		assert_code(zt_record_get_str(&answer, ZT_F_NAME, &name), 0);
		assert_string_equal(name, "a.example");
		assert_code(zt_record_get_bytes(&answer, ZT_F_ADDRESS, &addr,
		    &size), 0);
		assert_int_equal(size, i == 0 ? 4 : 16);
		assert_code(zt_record_get_u32(&answer, ZT_F_TTL_MS, &ttl), 0);
		assert_int_equal(ttl, 1000u * (i + 1));
	}
	assert_code(zt_record_next(&answers, ZT_F_ANSWER, &cursor, &answer),
	    ZT_E_MISSING);

	/* ZT_ANSWERS_MAX, and no more. */
	assert_code(zt_msg_init(&m[0], ZT_MSG_LEARN, 8), 0);
	assert_code(zt_msg_begin_record(&m[0], ZT_F_ANSWERS), 0);
	for (int i = 0; i < ZT_ANSWERS_MAX; i++) {
		assert_code(zt_msg_begin_record(&m[0], ZT_F_ANSWER), 0);
		assert_code(zt_msg_put_str(&m[0], ZT_F_NAME, "b"), 0);
		assert_code(zt_msg_put_bytes(&m[0], ZT_F_ADDRESS, v4, 4), 0);
		assert_code(zt_msg_put_u32(&m[0], ZT_F_TTL_MS, 1), 0);
		assert_code(zt_msg_end_record(&m[0]), 0);
	}
	assert_code(zt_msg_begin_record(&m[0], ZT_F_ANSWER), ZT_E_TOO_MANY);
	free(m);
}

/* One ALLOW with every field into the ALLOWS record open in M (TTL_MS
 * 60000, CACHE_UNTIL UNTIL), and FLAGS when FLAGS is not 0. */
static void
put_allow(struct zt_msg *m, uint32_t action, const char *object,
    const uint8_t token[ZT_TOKEN_SIZE], uint64_t until, uint32_t flags)
{
	assert_code(zt_msg_begin_record(m, ZT_F_ALLOW), 0);
	assert_code(zt_msg_put_u32(m, ZT_F_ACTION, action), 0);
	assert_code(zt_msg_put_str(m, ZT_F_OBJECT, object), 0);
	assert_code(zt_msg_put_u32(m, ZT_F_TTL_MS, 60000), 0);
	assert_code(zt_msg_put_bytes(m, ZT_F_TOKEN, token, ZT_TOKEN_SIZE), 0);
	assert_code(zt_msg_put_u64(m, ZT_F_CACHE_UNTIL, until), 0);
	if (flags != 0)
		assert_code(zt_msg_put_u32(m, ZT_F_FLAGS, flags), 0);
	assert_code(zt_msg_end_record(m), 0);
}

/* ALLOWS: LEARN's and AGENT_PID's answers (REPORT_REPLY) carry allows
 * decided ahead, each with every field; ZT_ALLOWS_MAX at most; nowhere
 * else. */
static void
test_allows_ahead(void **state)
{
	static const uint8_t token[ZT_TOKEN_SIZE] = { 1, 2, 3 };
	struct zt_msg *m = malloc(2 * sizeof(*m));
	struct zt_record allows, allow;
	const char *object;
	const void *got;
	size_t cursor = 0, size;
	uint64_t until;
	uint32_t action, ttl;

	(void)state;
	assert_non_null(m);
	assert_code(zt_msg_init(&m[0], ZT_MSG_REPORT_REPLY, 9), 0);
	assert_code(zt_msg_put_u32(&m[0], ZT_F_COUNT, 1), 0);
	assert_code(zt_msg_begin_record(&m[0], ZT_F_ALLOWS), 0);
	put_allow(&m[0], 6, "tcp:192.0.2.1:443", token, 123456789, 0);
	/* An allow without its token is incomplete. */
	assert_code(zt_msg_begin_record(&m[0], ZT_F_ALLOW), 0);
	assert_code(zt_msg_put_u32(&m[0], ZT_F_ACTION, 6), 0);
	assert_code(zt_msg_put_str(&m[0], ZT_F_OBJECT, "tcp:192.0.2.2:443"),
	    0);
	assert_code(zt_msg_put_u32(&m[0], ZT_F_TTL_MS, 60000), 0);
	assert_code(zt_msg_put_u64(&m[0], ZT_F_CACHE_UNTIL, 123456789), 0);
	assert_code(zt_msg_end_record(&m[0]), ZT_E_MISSING);
	assert_code(zt_msg_cancel_record(&m[0]), 0);
	assert_code(zt_msg_end_record(&m[0]), 0);
	assert_code(zt_msg_decode(&m[1], m[0].wire, m[0].size), 0);
	assert_code(zt_msg_get_record(&m[1], ZT_F_ALLOWS, &allows), 0);
	assert_int_equal(zt_record_count(&allows, ZT_F_ALLOW), 1);
	assert_code(zt_record_next(&allows, ZT_F_ALLOW, &cursor, &allow), 0);
	assert_code(zt_record_get_u32(&allow, ZT_F_ACTION, &action), 0);
	assert_int_equal(action, 6);
	assert_code(zt_record_get_str(&allow, ZT_F_OBJECT, &object), 0);
	assert_string_equal(object, "tcp:192.0.2.1:443");
	assert_code(zt_record_get_u32(&allow, ZT_F_TTL_MS, &ttl), 0);
	assert_int_equal(ttl, 60000);
	assert_code(zt_record_get_bytes(&allow, ZT_F_TOKEN, &got, &size), 0);
	assert_int_equal(size, sizeof(token));
	assert_memory_equal(got, token, sizeof(token));
	assert_code(zt_record_get_u64(&allow, ZT_F_CACHE_UNTIL, &until), 0);
	assert_int_equal(until, 123456789);

	/* ZT_ALLOWS_MAX, and no more. */
	assert_code(zt_msg_init(&m[0], ZT_MSG_REPORT_REPLY, 10), 0);
	assert_code(zt_msg_begin_record(&m[0], ZT_F_ALLOWS), 0);
	for (int i = 0; i < ZT_ALLOWS_MAX; i++) {
		assert_code(zt_msg_begin_record(&m[0], ZT_F_ALLOW), 0);
		assert_code(zt_msg_put_u32(&m[0], ZT_F_ACTION, 9), 0);
		assert_code(zt_msg_put_str(&m[0], ZT_F_OBJECT, "dns:a.b"), 0);
		assert_code(zt_msg_put_u32(&m[0], ZT_F_TTL_MS, 1), 0);
		assert_code(zt_msg_put_bytes(&m[0], ZT_F_TOKEN, token,
		    sizeof(token)), 0);
		assert_code(zt_msg_put_u64(&m[0], ZT_F_CACHE_UNTIL, 1), 0);
		assert_code(zt_msg_end_record(&m[0]), 0);
	}
	assert_code(zt_msg_begin_record(&m[0], ZT_F_ALLOW), ZT_E_TOO_MANY);

	/* A DECIDE cannot carry them, nor a message hold ALLOW bare. */
	assert_code(zt_msg_init(&m[0], ZT_MSG_DECIDE, 11), 0);
	assert_true(zt_msg_begin_record(&m[0], ZT_F_ALLOWS) < 0);
	assert_code(zt_msg_init(&m[0], ZT_MSG_REPORT_REPLY, 12), 0);
	assert_true(zt_msg_begin_record(&m[0], ZT_F_ALLOW) < 0);
	free(m);
}

/* A resolve's allow says what LEARN will keep (ZT_RESOLVE_*, FLAGS): in
 * a DECISION, and in an ALLOW decided ahead (optional there). */
static void
test_resolve_flags(void **state)
{
	static const uint8_t token[ZT_TOKEN_SIZE] = { 4, 5, 6 };
	struct zt_msg *m = malloc(2 * sizeof(*m));
	struct zt_record allows, allow;
	size_t cursor = 0;
	uint32_t flags = 0;

	(void)state;
	assert_non_null(m);
	assert_code(zt_msg_init(&m[0], ZT_MSG_DECISION, 13), 0);
	assert_code(zt_msg_put_u32(&m[0], ZT_F_DECISION, ZT_DECISION_ALLOW),
	    0);
	assert_code(zt_msg_put_str(&m[0], ZT_F_REASON, "host rule"), 0);
	assert_code(zt_msg_put_u32(&m[0], ZT_F_FLAGS,
	    ZT_RESOLVE_NAMED | ZT_RESOLVE_PRIVATE), 0);
	assert_code(zt_msg_decode(&m[1], m[0].wire, m[0].size), 0);
	assert_code(zt_msg_get_u32(&m[1], ZT_F_FLAGS, &flags), 0);
	assert_int_equal(flags, ZT_RESOLVE_NAMED | ZT_RESOLVE_PRIVATE);

	assert_code(zt_msg_init(&m[0], ZT_MSG_REPORT_REPLY, 14), 0);
	assert_code(zt_msg_put_u32(&m[0], ZT_F_COUNT, 1), 0);
	assert_code(zt_msg_begin_record(&m[0], ZT_F_ALLOWS), 0);
	put_allow(&m[0], 9, "dns:api.example", token, 42, ZT_RESOLVE_NAMED);
	/* Without FLAGS (a connect's): complete too. */
	put_allow(&m[0], 6, "tcp:192.0.2.1:443", token, 42, 0);
	assert_code(zt_msg_end_record(&m[0]), 0);
	assert_code(zt_msg_decode(&m[1], m[0].wire, m[0].size), 0);
	assert_code(zt_msg_get_record(&m[1], ZT_F_ALLOWS, &allows), 0);
	assert_code(zt_record_next(&allows, ZT_F_ALLOW, &cursor, &allow), 0);
	flags = 0;
	assert_code(zt_record_get_u32(&allow, ZT_F_FLAGS, &flags), 0);
	assert_int_equal(flags, ZT_RESOLVE_NAMED);
	assert_code(zt_record_next(&allows, ZT_F_ALLOW, &cursor, &allow), 0);
	assert_true(zt_record_get_u32(&allow, ZT_F_FLAGS, &flags) < 0);
	free(m);
}

static void
test_roundtrip(void **state)
{
	const struct roundtrip_case *c = *state;
	struct zt_msg sent, received;
	uint8_t copy[ZT_MSG_MAX];

	encode(&sent, c->type, c->request_id, c->values, ZT_F_TAG_MAX);
	assert_code(zt_msg_check_complete(&sent), 0);
	assert_values(&sent, c->values, ZT_F_TAG_MAX);

	memcpy(copy, sent.wire, sent.size);
	memset(&received, 0x5a, sizeof(received));
	assert_code(zt_msg_decode(&received, copy, sent.size), 0);
	/* The decoded message keeps no pointer into the caller's buffer. */
	memset(copy, 0xee, sizeof(copy));
	assert_int_equal(received.type, c->type);
	assert_int_equal(received.request_id, c->request_id);
	assert_int_equal(received.size, sent.size);
	assert_memory_equal(received.wire, sent.wire, sent.size);
	assert_values(&received, c->values, ZT_F_TAG_MAX);
	assert_code(zt_msg_check_complete(&received), 0);
}

/* The encoder's bytes, pinned: the wire format is an interface. */
static void
test_golden_wire(void **state)
{
	static const uint8_t status[] = {
		'Z', 'T', 'G', '1', 0, 1, 0, 2, 1, 2, 3, 4, 0, 0, 0, 0,
	};
	static const uint8_t reload_reply[] = {
		'Z', 'T', 'G', '1', 0, 1, 0, 5, 0, 0, 0, 42, 0, 0, 0, 12,
		0, 5, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,
	};
	static const uint8_t error[] = {
		'Z', 'T', 'G', '1', 0, 1, 0, 1, 0xff, 0xff, 0xff, 0xff,
		0, 0, 0, 14,
		0, 1, 0, 4, 0xff, 0xff, 0xd8, 0xec,
		0, 2, 0, 2, 'n', 'o',
	};
	struct zt_msg m;
	struct bytes b = { .size = 0 };

	(void)state;
	assert_code(zt_msg_init(&m, ZT_MSG_STATUS, TEST_ID), 0);
	assert_int_equal(m.size, sizeof(status));
	assert_memory_equal(m.wire, status, sizeof(status));

	assert_code(zt_msg_init(&m, ZT_MSG_RELOAD_REPLY, 42), 0);
	assert_code(zt_msg_put_u64(&m, ZT_F_GENERATION,
	    UINT64_C(0x0102030405060708)), 0);
	assert_int_equal(m.size, sizeof(reload_reply));
	assert_memory_equal(m.wire, reload_reply, sizeof(reload_reply));

	zt_msg_error(&m, UINT32_MAX, ZT_E_TRUNCATED, "no");
	assert_int_equal(m.size, sizeof(error));
	assert_memory_equal(m.wire, error, sizeof(error));

	/* And the hand builder agrees with the encoder. */
	build_good_error(&b);
	assert_code(zt_msg_init(&m, ZT_MSG_ERROR, TEST_ID), 0);
	assert_code(zt_msg_put_u32(&m, ZT_F_CODE, (uint32_t)ZT_E_PERM), 0);
	assert_code(zt_msg_put_str(&m, ZT_F_TEXT, "denied"), 0);
	assert_int_equal(m.size, b.size);
	assert_memory_equal(m.wire, b.data, b.size);
}

/* -------------------------------------------------------- error replies */

static char long_text[5000];

static const struct error_case {
	const char *name;
	uint32_t request_id;
	int code;
	const char *text;	/* NULL: no TEXT; long_text: 5000 bytes */
	int reply_error;	/* what zt_client_reply_error makes of it */
} error_cases[] = {
	{ "error-reply", 7, ZT_E_PERM, "not root", ZT_E_PERM },
	{ "error-reply-no-text", 0, ZT_E_BUSY, NULL, ZT_E_BUSY },
	{ "error-reply-empty-text", UINT32_MAX, -ENOENT, "", -ENOENT },
	{ "error-reply-long-text", 9, ZT_E_CONFIG, long_text, ZT_E_CONFIG },
	{ "error-reply-hostile-text", 10, ZT_E_STRING, "a\nb\r\"%n\\\xff",
	    ZT_E_STRING },
	/* An ERROR that claims success must never read as success. */
	{ "error-reply-code-0", 11, 0, "fine", ZT_E_PROTOCOL },
	{ "error-reply-code-positive", 12, 5, NULL, ZT_E_PROTOCOL },
	{ "error-reply-code-int-min", 13, INT_MIN, NULL, INT_MIN },
};

static void
test_error_reply(void **state)
{
	const struct error_case *c = *state;
	struct zt_msg sent, received;
	const char *text;
	uint32_t code;

	zt_msg_error(&sent, c->request_id, c->code, c->text);
	assert_code(zt_msg_check_complete(&sent), 0);
	assert_code(zt_msg_decode(&received, sent.wire, sent.size), 0);
	assert_int_equal(received.type, ZT_MSG_ERROR);
	assert_int_equal(received.request_id, c->request_id);
	assert_code(zt_msg_get_u32(&received, ZT_F_CODE, &code), 0);
	assert_int_equal(code, (uint32_t)c->code);
	if (c->text == NULL) {
		assert_code(zt_msg_get_str(&received, ZT_F_TEXT, &text),
		    ZT_E_MISSING);
		assert_int_equal(received.n_fields, 1);
	} else if (c->text == long_text) {
		/* Cut, not refused: zt_msg_error never fails. */
		assert_code(zt_msg_get_str(&received, ZT_F_TEXT, &text), 0);
		assert_in_range(strlen(text), 1, sizeof(long_text) - 2);
		assert_memory_equal(text, long_text, strlen(text));
	} else {
		assert_code(zt_msg_get_str(&received, ZT_F_TEXT, &text), 0);
		assert_string_equal(text, c->text);
	}

	assert_code(zt_client_reply_error(&received, ZT_MSG_STATUS_REPLY,
	    &text), c->reply_error);
	if (c->reply_error < 0 && c->text != NULL &&
	    c->text != long_text)
		assert_string_equal(text, c->text);
	assert_code(zt_client_reply_error(&received, ZT_MSG_STATUS_REPLY,
	    NULL), c->reply_error);
	assert_code(zt_client_reply_error(&received, ZT_MSG_ERROR, &text), 0);
}

/* A reply of another type than expected is a protocol error. */
static void
test_reply_error_other_type(void **state)
{
	struct zt_msg m;
	const char *text = NULL;

	(void)state;
	assert_code(zt_msg_init(&m, ZT_MSG_RELOAD_REPLY, 1), 0);
	assert_code(zt_msg_put_u64(&m, ZT_F_GENERATION, 1), 0);
	assert_code(zt_client_reply_error(&m, ZT_MSG_STATUS_REPLY, &text),
	    ZT_E_PROTOCOL);
	assert_non_null(text);
	assert_code(zt_client_reply_error(&m, ZT_MSG_RELOAD_REPLY, &text), 0);

	/* A struct a failed decode left behind is no reply either. */
	assert_code(zt_msg_decode(&m, "ZTG1", 4), ZT_E_TRUNCATED);
	assert_code(zt_client_reply_error(&m, ZT_MSG_STATUS_REPLY, NULL),
	    ZT_E_PROTOCOL);
}

/* ------------------------------------------------------- encoder errors */

static const struct encoder_case {
	const char *name;
	enum zt_msg_type type;
	struct value before[3];		/* put first; each must succeed */
	struct value put;		/* then this one... */
	enum zt_field_kind via;		/* ...with this kind's put_* */
	int expected;
} encoder_cases[] = {
	{ "put-code-in-status", ZT_MSG_STATUS, { { 0, 0, NULL, 0 } },
	    { ZT_F_CODE, 1, NULL, 0 }, ZT_FK_U32, ZT_E_FIELD },
	{ "put-generation-in-reload", ZT_MSG_RELOAD, { { 0, 0, NULL, 0 } },
	    { ZT_F_GENERATION, 1, NULL, 0 }, ZT_FK_U64, ZT_E_FIELD },
	{ "put-generation-in-error", ZT_MSG_ERROR, { { 0, 0, NULL, 0 } },
	    { ZT_F_GENERATION, 1, NULL, 0 }, ZT_FK_U64, ZT_E_FIELD },
	{ "put-text-in-reload-reply", ZT_MSG_RELOAD_REPLY,
	    { { 0, 0, NULL, 0 } },
	    { ZT_F_TEXT, 0, "x", 0 }, ZT_FK_STRING, ZT_E_FIELD },
	{ "put-code-as-string", ZT_MSG_ERROR, { { 0, 0, NULL, 0 } },
	    { ZT_F_CODE, 0, "1", 0 }, ZT_FK_STRING, ZT_E_FIELD },
	{ "put-code-as-u64", ZT_MSG_ERROR, { { 0, 0, NULL, 0 } },
	    { ZT_F_CODE, 1, NULL, 0 }, ZT_FK_U64, ZT_E_FIELD },
	{ "put-generation-as-u32", ZT_MSG_RELOAD_REPLY, { { 0, 0, NULL, 0 } },
	    { ZT_F_GENERATION, 1, NULL, 0 }, ZT_FK_U32, ZT_E_FIELD },
	{ "put-text-as-bytes", ZT_MSG_ERROR, { { 0, 0, NULL, 0 } },
	    { ZT_F_TEXT, 0, "x", 0 }, ZT_FK_BYTES, ZT_E_FIELD },
	{ "put-tag-0", ZT_MSG_ERROR, { { 0, 0, NULL, 0 } },
	    { 0, 1, NULL, 0 }, ZT_FK_U32, ZT_E_FIELD },
	{ "put-tag-max", ZT_MSG_ERROR, { { 0, 0, NULL, 0 } },
	    { ZT_F_TAG_MAX, 1, NULL, 0 }, ZT_FK_U32, ZT_E_FIELD },
	{ "put-tag-ffff", ZT_MSG_ERROR, { { 0, 0, NULL, 0 } },
	    { (enum zt_field_tag)0xffff, 1, NULL, 0 }, ZT_FK_U32,
	    ZT_E_FIELD },
	{ "put-duplicate-code", ZT_MSG_ERROR,
	    { { ZT_F_CODE, 1, NULL, 0 } },
	    { ZT_F_CODE, 2, NULL, 0 }, ZT_FK_U32, ZT_E_DUPLICATE },
	{ "put-duplicate-text", ZT_MSG_ERROR,
	    { { ZT_F_CODE, 1, NULL, 0 }, { ZT_F_TEXT, 0, "a", 0 } },
	    { ZT_F_TEXT, 0, "", 0 }, ZT_FK_STRING, ZT_E_DUPLICATE },
	{ "put-duplicate-generation", ZT_MSG_RELOAD_REPLY,
	    { { ZT_F_GENERATION, 1, NULL, 0 } },
	    { ZT_F_GENERATION, 1, NULL, 0 }, ZT_FK_U64, ZT_E_DUPLICATE },
	{ "put-text-fits-exactly", ZT_MSG_ERROR,
	    { { ZT_F_CODE, 1, NULL, 0 } },
	    { ZT_F_TEXT, 0, NULL, ERROR_TEXT_MAX }, ZT_FK_STRING, 0 },
	{ "put-text-one-byte-over", ZT_MSG_ERROR,
	    { { ZT_F_CODE, 1, NULL, 0 } },
	    { ZT_F_TEXT, 0, NULL, ERROR_TEXT_MAX + 1 }, ZT_FK_STRING,
	    ZT_E_NOSPACE },
	{ "put-text-of-max", ZT_MSG_ERROR, { { 0, 0, NULL, 0 } },
	    { ZT_F_TEXT, 0, NULL, ZT_MSG_MAX }, ZT_FK_STRING, ZT_E_NOSPACE },
	{ "put-text-over-max", ZT_MSG_ERROR, { { 0, 0, NULL, 0 } },
	    { ZT_F_TEXT, 0, NULL, ZT_MSG_MAX + 904 }, ZT_FK_STRING,
	    ZT_E_NOSPACE },
	{ "put-u32-into-full", ZT_MSG_STATUS_REPLY,
	    { { ZT_F_VERSION, 0, NULL,
		ZT_MSG_MAX - ZT_MSG_HEADER_SIZE - ZT_MSG_FIELD_HEADER_SIZE } },
	    { ZT_F_PID, 1, NULL, 0 }, ZT_FK_U32, ZT_E_NOSPACE },
	{ "put-empty-string-into-full", ZT_MSG_STATUS_REPLY,
	    { { ZT_F_VERSION, 0, NULL,
		ZT_MSG_MAX - ZT_MSG_HEADER_SIZE - ZT_MSG_FIELD_HEADER_SIZE } },
	    { ZT_F_CONFIG, 0, "", 0 }, ZT_FK_STRING, ZT_E_NOSPACE },
	{ "put-u64-into-nearly-full", ZT_MSG_STATUS_REPLY,
	    { { ZT_F_VERSION, 0, NULL, ZT_MSG_MAX - ZT_MSG_HEADER_SIZE -
		2 * ZT_MSG_FIELD_HEADER_SIZE - 7 } },
	    { ZT_F_UPTIME, 1, NULL, 0 }, ZT_FK_U64, ZT_E_NOSPACE },
};

static void
test_encoder(void **state)
{
	const struct encoder_case *c = *state;
	struct zt_msg m, before, decoded;

	encode(&m, c->type, TEST_ID, c->before, ARRAY_SIZE(c->before));
	memcpy(&before, &m, sizeof(m));
	assert_code(put_value(&m, &c->put, c->via), c->expected);
	if (c->expected < 0) {
		/* A refused put leaves the message as it was. */
		assert_int_equal(m.size, before.size);
		assert_int_equal(m.n_fields, before.n_fields);
		assert_int_equal(m.text_used, before.text_used);
		assert_memory_equal(m.wire, before.wire, m.size);
	} else {
		assert_int_equal(m.n_fields, before.n_fields + 1);
	}
	assert_true(m.size <= ZT_MSG_MAX);
	/* Whatever the encoder holds decodes the same way it checks. */
	assert_code(zt_msg_decode(&decoded, m.wire, m.size),
	    zt_msg_check_complete(&m));
}

static const struct complete_case {
	const char *name;
	enum zt_msg_type type;
	struct value values[ZT_F_TAG_MAX];
	int expected;
} complete_cases[] = {
	{ "complete-error-empty", ZT_MSG_ERROR, { { 0, 0, NULL, 0 } },
	    ZT_E_MISSING },
	{ "complete-error-text-only", ZT_MSG_ERROR,
	    { { ZT_F_TEXT, 0, "x", 0 } }, ZT_E_MISSING },
	{ "complete-error-code-only", ZT_MSG_ERROR,
	    { { ZT_F_CODE, 1, NULL, 0 } }, 0 },
	{ "complete-status", ZT_MSG_STATUS, { { 0, 0, NULL, 0 } }, 0 },
	{ "complete-reload", ZT_MSG_RELOAD, { { 0, 0, NULL, 0 } }, 0 },
	{ "complete-reload-reply-empty", ZT_MSG_RELOAD_REPLY,
	    { { 0, 0, NULL, 0 } }, ZT_E_MISSING },
	{ "complete-status-reply-empty", ZT_MSG_STATUS_REPLY,
	    { { 0, 0, NULL, 0 } }, ZT_E_MISSING },
	{ "complete-status-reply-without-pid", ZT_MSG_STATUS_REPLY, {
		{ ZT_F_VERSION, 0, "v", 0 },
		{ ZT_F_UPTIME, 1, NULL, 0 },
		{ ZT_F_GENERATION, 1, NULL, 0 },
		{ ZT_F_AGENTS, 1, NULL, 0 },
		{ ZT_F_CLIENTS, 1, NULL, 0 },
		{ ZT_F_MAX_CLIENTS, 1, NULL, 0 },
		{ ZT_F_CONFIG, 0, "c", 0 },
		{ ZT_F_ATTEST_MODE, 0, "a", 0 } }, ZT_E_MISSING },
	{ "complete-status-reply-without-reload-error", ZT_MSG_STATUS_REPLY, {
		{ ZT_F_VERSION, 0, "v", 0 },
		{ ZT_F_UPTIME, 1, NULL, 0 },
		{ ZT_F_GENERATION, 1, NULL, 0 },
		{ ZT_F_AGENTS, 1, NULL, 0 },
		{ ZT_F_CLIENTS, 1, NULL, 0 },
		{ ZT_F_MAX_CLIENTS, 1, NULL, 0 },
		{ ZT_F_CONFIG, 0, "c", 0 },
		{ ZT_F_PID, 1, NULL, 0 },
		{ ZT_F_ATTEST_MODE, 0, "a", 0 } }, 0 },
};

static void
test_complete(void **state)
{
	const struct complete_case *c = *state;
	struct zt_msg m, decoded;

	encode(&m, c->type, TEST_ID, c->values, ZT_F_TAG_MAX);
	assert_code(zt_msg_check_complete(&m), c->expected);
	/* The decoder applies the same schema. */
	assert_code(zt_msg_decode(&decoded, m.wire, m.size), c->expected);
}

static void
test_init_unknown_type(void **state)
{
	static const unsigned types[] = { 0, ZT_MSG_TYPE_MAX, 0x7f, 0xffff,
	    UINT_MAX };
	struct zt_msg m;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		memset(&m, 0x5a, sizeof(m));
		assert_code(zt_msg_init(&m, (enum zt_msg_type)types[i], 1),
		    ZT_E_TYPE);
		/* Nothing can be built on it, and it is never complete. */
		assert_code(zt_msg_put_u32(&m, ZT_F_CODE, 1), ZT_E_TYPE);
		assert_code(zt_msg_put_str(&m, ZT_F_TEXT, "x"), ZT_E_TYPE);
		assert_code(zt_msg_check_complete(&m), ZT_E_TYPE);
		assert_string_equal(zt_msg_type_name(types[i]), "unknown");
	}
}

/*
 * ZT_E_TOO_MANY is unreachable (see decode_cases): prove that no schema
 * takes more distinct tags than ZT_MSG_FIELDS_MAX, by putting every tag
 * into every type with the put_* of its kind, and that once a message holds
 * all it takes, a further put is refused for another reason.
 */
static void
test_schema_capacity(void **state)
{
	(void)state;
	for (unsigned type = 1; type < ZT_MSG_TYPE_MAX; type++) {
		struct zt_msg m;
		size_t taken = 0;

		assert_code(zt_msg_init(&m, type, 1), 0);
		for (unsigned tag = 0; tag < ZT_F_TAG_MAX; tag++) {
			struct value v = { tag, 1, "s", 0 };
			enum zt_field_kind kind = zt_msg_field_kind(tag);
			int r = put_value(&m, &v, kind);

			assert_true(r == 0 || r == ZT_E_FIELD);
			taken += r == 0;
		}
		assert_int_equal(m.n_fields, taken);
		assert_true(taken <= ZT_MSG_FIELDS_MAX);
		for (unsigned tag = 0; tag < ZT_F_TAG_MAX + 2; tag++) {
			struct value v = { tag, 1, "s", 0 };
			int r = put_value(&m, &v, zt_msg_field_kind(tag));

			assert_true(r == ZT_E_FIELD || r == ZT_E_DUPLICATE);
		}
		assert_int_equal(m.n_fields, taken);
	}
}

/*
 * The tunnel CA's messages: CA_CRL takes no field and is answered by
 * CA_REPLY (TEXT, PEM); SIGN_REPLY must say how long the certificate lives
 * in ms (EXPIRES_MS), which zt-exec renews by, and reads back intact.
 */
static void
test_ca_messages(void **state)
{
	struct zt_msg m, back;
	const char *text;
	uint64_t ms;

	(void)state;
	assert_code(zt_msg_init(&m, ZT_MSG_CA_CRL, 7), 0);
	assert_code(zt_msg_put_str(&m, ZT_F_TEXT, "x"), ZT_E_FIELD);
	assert_code(zt_msg_check_complete(&m), 0);
	assert_code(zt_msg_decode(&back, m.wire, m.size), 0);
	assert_int_equal(back.type, ZT_MSG_CA_CRL);
	assert_int_equal(back.n_fields, 0);

	assert_code(zt_msg_init(&m, ZT_MSG_CA_REPLY, 7), 0);
	assert_code(zt_msg_put_str(&m, ZT_F_TEXT,
	    "-----BEGIN X509 CRL-----\n"), 0);
	assert_code(zt_msg_decode(&back, m.wire, m.size), 0);
	assert_code(zt_msg_get_str(&back, ZT_F_TEXT, &text), 0);
	assert_string_equal(text, "-----BEGIN X509 CRL-----\n");

	assert_code(zt_msg_init(&m, ZT_MSG_SIGN_REPLY, 8), 0);
	assert_code(zt_msg_put_bytes(&m, ZT_F_CERT, "\x30\x00", 2), 0);
	assert_code(zt_msg_put_str(&m, ZT_F_SERIAL, "4a"), 0);
	assert_code(zt_msg_put_u64(&m, ZT_F_NOT_AFTER, 1700000000), 0);
	assert_code(zt_msg_check_complete(&m), ZT_E_MISSING);
	assert_code(zt_msg_decode(&back, m.wire, m.size), ZT_E_MISSING);
	assert_code(zt_msg_put_u64(&m, ZT_F_EXPIRES_MS, 300000), 0);
	assert_code(zt_msg_check_complete(&m), 0);
	assert_code(zt_msg_decode(&back, m.wire, m.size), 0);
	assert_code(zt_msg_get_u64(&back, ZT_F_EXPIRES_MS, &ms), 0);
	assert_true(ms == 300000);
}

static void
test_names_and_kinds(void **state)
{
	static const struct {
		unsigned type;
		const char *name;
	} names[] = {
		{ ZT_MSG_ERROR, "error" },
		{ ZT_MSG_STATUS, "status" },
		{ ZT_MSG_STATUS_REPLY, "status-reply" },
		{ ZT_MSG_RELOAD, "reload" },
		{ ZT_MSG_RELOAD_REPLY, "reload-reply" },
		{ ZT_MSG_LAUNCH, "launch" },
		{ ZT_MSG_REPORT, "report" },
		{ ZT_MSG_REPORT_REPLY, "report-reply" },
		{ ZT_MSG_AGENT_PID, "agent-pid" },
		{ ZT_MSG_SIGN_REPLY, "sign-reply" },
		{ ZT_MSG_CA_CRL, "ca-crl" },
		{ ZT_MSG_AUDIT_REOPEN, "audit-reopen" },
		{ ZT_MSG_AUDIT_REOPEN_REPLY, "audit-reopen-reply" },
		{ ZT_MSG_LEARN, "learn" },
		{ ZT_MSG_DISABLE, "disable" },
		{ ZT_MSG_ENABLE, "enable" },
		{ 0, "unknown" },
		{ ZT_MSG_TYPE_MAX, "unknown" },
		{ 0xffff, "unknown" },
	};
	static const struct {
		unsigned tag;
		enum zt_field_kind kind;
	} kinds[] = {
		{ 0, ZT_FK_NONE },
		{ ZT_F_CODE, ZT_FK_U32 },
		{ ZT_F_TEXT, ZT_FK_STRING },
		{ ZT_F_VERSION, ZT_FK_STRING },
		{ ZT_F_UPTIME, ZT_FK_U64 },
		{ ZT_F_GENERATION, ZT_FK_U64 },
		{ ZT_F_AGENTS, ZT_FK_U32 },
		{ ZT_F_CLIENTS, ZT_FK_U32 },
		{ ZT_F_MAX_CLIENTS, ZT_FK_U32 },
		{ ZT_F_CONFIG, ZT_FK_STRING },
		{ ZT_F_PID, ZT_FK_U32 },
		{ ZT_F_ATTEST_MODE, ZT_FK_STRING },
		{ ZT_F_RELOAD_ERROR, ZT_FK_STRING },
		{ ZT_F_PROFILE, ZT_FK_RECORD },
		{ ZT_F_FILE, ZT_FK_RECORD },
		{ ZT_F_ACCESS, ZT_FK_U32 },
		{ ZT_F_ENV, ZT_FK_STRING },
		{ ZT_F_SHA256, ZT_FK_BYTES },
		{ ZT_F_RECORDS, ZT_FK_RECORD },
		{ ZT_F_RECORD, ZT_FK_RECORD },
		{ ZT_F_GRANT_LIST, ZT_FK_RECORD },
		{ ZT_F_GRANT_INFO, ZT_FK_RECORD },
		{ ZT_F_TOKEN, ZT_FK_BYTES },
		{ ZT_F_CACHE_UNTIL, ZT_FK_U64 },
		{ ZT_F_AGE_MS, ZT_FK_U32 },
		{ ZT_F_NAME, ZT_FK_STRING },
		{ ZT_F_ADDRESS, ZT_FK_BYTES },
		{ ZT_F_ANSWERS, ZT_FK_RECORD },
		{ ZT_F_ANSWER, ZT_FK_RECORD },
		{ ZT_F_DNS_UPSTREAM, ZT_FK_STRING },
		{ ZT_F_ARGV, ZT_FK_BYTES },
		{ ZT_F_AGENT_STATES, ZT_FK_STRING },
		{ ZT_F_TAG_MAX, ZT_FK_NONE },
		{ 100, ZT_FK_NONE },
		{ 127, ZT_FK_NONE },
		{ 0xffff, ZT_FK_NONE },
		{ UINT_MAX, ZT_FK_NONE },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		assert_string_equal(zt_msg_type_name(names[i].type),
		    names[i].name);
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		assert_int_equal(zt_msg_field_kind(kinds[i].tag),
		    kinds[i].kind);
}

/* ----------------------------------------------------------- zt_strerror */

static void
test_strerror(void **state)
{
	static const int unknown[] = { 1, 4096, INT_MAX, -4096, -9999,
	    ZT_E_BASE, ZT_E_LAST, ZT_E_LAST - 1, INT_MIN };

	(void)state;
	for (int code = ZT_E_BASE - 1; code > ZT_E_LAST; code--) {
		const char *text = zt_strerror(code);

		assert_non_null(text);
		if (strcmp(text, "unknown error") == 0 || text[0] == '\0')
			fail_msg("code %d has no text", code);
		assert_string_not_equal(text, "success");
		for (int other = ZT_E_BASE - 1; other > code; other--)
			if (strcmp(text, zt_strerror(other)) == 0)
				fail_msg("codes %d and %d share \"%s\"", code,
				    other, text);
	}
	assert_string_equal(zt_strerror(0), "success");
	assert_string_equal(zt_strerror(-ENOENT), strerror(ENOENT));
	assert_string_not_equal(zt_strerror(-ENOENT), "unknown error");
	assert_string_equal(zt_strerror(-EPIPE), strerror(EPIPE));
	for (size_t i = 0; i < ARRAY_SIZE(unknown); i++)
		assert_string_equal(zt_strerror(unknown[i]), "unknown error");
}

/* ------------------------------------------------------------- zt_escape */

/*
 * Parse S as zt_escape's output: '"', then printable bytes other than '"'
 * and '\', or \" \\ \xHH, optionally "..." when cut, then '"' and the end.
 * Put the bytes it stands for in OUT; return how many; *CUT says if cut.
 */
static size_t
unescape(const char *s, uint8_t *out, size_t out_size, int *cut)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	assert_printable(s);
	assert_int_equal(s[0], '"');
	*cut = 0;
	for (s++;;) {
		assert_true(n < out_size);
		if (strcmp(s, "\"") == 0)
			return n;
		if (strcmp(s, "...\"") == 0) {
			*cut = 1;
			return n;
		}
		if (s[0] == '\\' && (s[1] == '"' || s[1] == '\\')) {
			out[n++] = (uint8_t)s[1];
			s += 2;
		} else if (s[0] == '\\') {
			const char *hi, *lo;

			assert_int_equal(s[1], 'x');
			assert_true(s[2] != '\0' && s[3] != '\0');
			hi = strchr(hex, s[2]);
			lo = strchr(hex, s[3]);
			assert_non_null(hi);
			assert_non_null(lo);
			out[n] = (uint8_t)((hi - hex) << 4 | (lo - hex));
			/* Only what needs escaping is escaped. */
			assert_true(out[n] < 0x20 || out[n] > 0x7e);
			n++;
			s += 4;
		} else {
			assert_true(s[0] != '"' && s[0] != '\0');
			out[n++] = (uint8_t)*s++;
		}
	}
}

/* Escape IN into SIZE bytes and check the result is a bounded, whole line. */
static void
check_escape(const char *in, size_t len, size_t size)
{
	char *out = malloc(size + 1);
	uint8_t *back = malloc(len + 1);
	size_t n;
	int cut;

	assert_non_null(out);
	assert_non_null(back);
	/* A canary past SIZE: zt_escape must not write there. */
	out[size] = '#';
	assert_ptr_equal(zt_escape(out, size, in, len), out);
	assert_int_equal(out[size], '#');
	if (size < 8) {
		if (size > 0)
			assert_string_equal(out, "");
		free(out);
		free(back);
		return;
	}
	assert_true(strlen(out) < size);
	n = unescape(out, back, len + 1, &cut);
	assert_true(n <= len);
	assert_memory_equal(back, in, n);
	if (!cut)
		assert_int_equal(n, len);
	else
		assert_true(n < len);
	free(out);
	free(back);
}

/* A string literal and its length, which may count NUL bytes inside it. */
#define S(literal) literal, sizeof(literal) - 1

static const struct escape_case {
	const char *name;
	const char *in;
	size_t len;
	size_t size;
	const char *out;
} escape_cases[] = {
	{ "plain", S("alice"), 64, "\"alice\"" },
	{ "empty", S(""), 64, "\"\"" },
	{ "newline", S("a\nb"), 64, "\"a\\x0ab\"" },
	{ "cr", S("a\rb"), 64, "\"a\\x0db\"" },
	{ "forged-record", S("x\r\nzt: decision=allow"), 64,
	    "\"x\\x0d\\x0azt: decision=allow\"" },
	{ "quote", S("say \"hi\""), 64, "\"say \\\"hi\\\"\"" },
	{ "backslash", S("C:\\dir\\"), 64, "\"C:\\\\dir\\\\\"" },
	{ "percent-n", S("%n%s%x%%"), 64, "\"%n%s%x%%\"" },
	{ "ff", S("\xff\xfe\x80"), 64, "\"\\xff\\xfe\\x80\"" },
	{ "nul", S("a\0b"), 64, "\"a\\x00b\"" },
	{ "tab-esc-del", S("\t\x1b[0m\x7f"), 64,
	    "\"\\x09\\x1b[0m\\x7f\"" },
	{ "size-8-fits", S("ab"), 8, "\"ab\"" },
	/* Nothing to escape, and it fills SIZE to the last byte. */
	{ "size-8-exact", S("abcde"), 8, "\"abcde\"" },
	{ "plain-then-escape", S("abcd\""), 64, "\"abcd\\\"\"" },
	{ "size-8-cut", S("abcdef"), 8, "\"ab...\"" },
	/* A cut never splits an escape sequence. */
	{ "cut-whole-escape", S("\n\n\n\n"), 12, "\"\\x0a...\"" },
	{ "size-7", S("abc"), 7, "" },
	{ "size-1", S("abc"), 1, "" },
};

static void
test_escape(void **state)
{
	const struct escape_case *c = *state;
	char out[64];

	assert_true(c->size <= sizeof(out));
	memset(out, '#', sizeof(out));
	zt_escape(out, c->size, c->in, c->len);
	assert_string_equal(out, c->out);
	if (c->size < sizeof(out))
		assert_int_equal(out[c->size], '#');
	check_escape(c->in, c->len, c->size);
}

/* Log forging: 8 KiB of hostile text becomes one bounded, escaped line. */
static void
test_escape_8k(void **state)
{
	static const char pattern[] = "user\n%n\r\"\\\xff\x01 ";
	char in[8192], out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = pattern[i % (sizeof(pattern) - 1)];
	zt_escape(out, sizeof(out), in, sizeof(in));
	assert_true(strlen(out) < sizeof(out));
	assert_true(strlen(out) > sizeof(out) - 8);
	assert_int_equal(out[0], '"');
	assert_string_equal(out + strlen(out) - 4, "...\"");
	assert_null(strchr(out, '\n'));
	assert_null(strchr(out, '\r'));
	assert_printable(out);
	check_escape(in, sizeof(in), sizeof(out));

	memset(in, '\n', sizeof(in));
	zt_escape(out, sizeof(out), in, sizeof(in));
	assert_string_equal(out + strlen(out) - 4, "...\"");
	check_escape(in, sizeof(in), sizeof(out));
}

/* Every byte value, and every buffer size from 0 up, give a valid line. */
static void
test_escape_sweep(void **state)
{
	static const char *const inputs[] = { "", "a", "\"", "\\", "\n",
	    "\xff", "plain text", "\"\\\n\r\t\x7f\x80\xff%n", "x\"y\\z\x01w" };
	char all[256];

	(void)state;
	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (char)i;
	for (size_t size = 0; size <= 48; size++) {
		for (size_t i = 0; i < ARRAY_SIZE(inputs); i++)
			check_escape(inputs[i], strlen(inputs[i]), size);
		check_escape(all, sizeof(all), size);
	}
	check_escape(all, sizeof(all), 4 * sizeof(all) + 2);
}

/* ------------------------------------------------------------ socket I/O */

/* A SOCK_SEQPACKET pair, and the child serving its far end, if any. */
struct pair {
	int fd[2];
	pid_t child;
};

static int
pair_setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p->fd) < 0) {
		free(p);
		return -1;
	}
	p->child = -1;
	*state = p;
	return 0;
}

/* Stop the child by its pid, even when the test failed. */
static int
pair_teardown(void **state)
{
	struct pair *p = *state;

	if (p->child > 0) {
		kill(p->child, SIGKILL);
		waitpid(p->child, NULL, 0);
	}
	for (int i = 0; i < 2; i++)
		if (p->fd[i] >= 0)
			close(p->fd[i]);
	free(p);
	return 0;
}

static void
close_end(struct pair *p, int end)
{
	assert_int_equal(close(p->fd[end]), 0);
	p->fd[end] = -1;
}

static void
set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	assert_true(flags >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, flags | O_NONBLOCK), 0);
}

/* Run SERVE on the pair's far end in a child; the test keeps fd[0]. */
static void
start_server(struct pair *p, void (*serve)(int fd))
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p->fd[0]);
		serve(p->fd[1]);
		_exit(0);
	}
	p->child = pid;
	close_end(p, 1);
}

/* Wait for the child; return its exit status (-1 unless it exited). */
static int
reap(struct pair *p)
{
	int status;

	assert_int_equal(waitpid(p->child, &status, 0), p->child);
	p->child = -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
make_status_reply(struct zt_msg *m, uint32_t id)
{
	static const struct value values[] = {
		ALL_STATUS_FIELDS("0.1.0", "/etc/zt/ztd.conf", "software", "")
	};

	encode(m, ZT_MSG_STATUS_REPLY, id, values, ARRAY_SIZE(values));
}

static void
test_send_recv(void **state)
{
	static const struct value max_error[] = {
		{ ZT_F_CODE, 1, NULL, 0 },
		{ ZT_F_TEXT, 0, NULL, ERROR_TEXT_MAX },
	};
	struct pair *p = *state;
	struct zt_msg sent, received;

	make_status_reply(&sent, 77);
	assert_code(zt_msg_send(p->fd[0], &sent), 0);
	assert_code(zt_msg_recv(p->fd[1], &received), 0);
	assert_int_equal(received.type, ZT_MSG_STATUS_REPLY);
	assert_int_equal(received.request_id, 77);
	assert_int_equal(received.size, sent.size);
	assert_memory_equal(received.wire, sent.wire, sent.size);

	/* The largest message crosses whole. */
	encode(&sent, ZT_MSG_ERROR, 78, max_error, ARRAY_SIZE(max_error));
	assert_int_equal(sent.size, ZT_MSG_MAX);
	assert_code(zt_msg_send(p->fd[1], &sent), 0);
	assert_code(zt_msg_recv(p->fd[0], &received), 0);
	assert_int_equal(received.request_id, 78);
	assert_memory_equal(received.wire, sent.wire, sent.size);
}

static void
test_recv_oversized(void **state)
{
	struct pair *p = *state;
	static uint8_t big[ZT_MSG_MAX + 100];
	struct bytes b = { .size = 0 };
	struct zt_msg m;

	/* A good header, so only the size can be wrong. */
	build_good_status(&b);
	memcpy(big, b.data, b.size);
	assert_int_equal(send(p->fd[0], big, sizeof(big), 0), sizeof(big));
	memset(&m, 0x5a, sizeof(m));
	assert_code(zt_msg_recv(p->fd[1], &m), ZT_E_OVERSIZED);
	assert_int_equal(m.type, 0);
	assert_int_equal(m.request_id, 0);

	/* One byte over, too; and each datagram was consumed whole. */
	b.size = 0;
	build_oversized_datagram(&b);
	assert_int_equal(b.size, ZT_MSG_MAX + 1);
	assert_int_equal(send(p->fd[0], b.data, b.size, 0), b.size);
	make_status_reply(&m, 3);
	assert_code(zt_msg_send(p->fd[0], &m), 0);
	assert_code(zt_msg_recv(p->fd[1], &m), ZT_E_OVERSIZED);
	assert_code(zt_msg_recv(p->fd[1], &m), 0);
	assert_int_equal(m.request_id, 3);
}

/* A malformed datagram is consumed and reported; the next one is fine. */
static void
test_recv_malformed(void **state)
{
	struct pair *p = *state;
	struct bytes b = { .size = 0 };
	struct zt_msg m;

	build_trailing_field(&b);
	assert_int_equal(send(p->fd[0], b.data, b.size, 0), b.size);
	assert_int_equal(send(p->fd[0], "ZT", 2, 0), 2);
	make_status_reply(&m, 4);
	assert_code(zt_msg_send(p->fd[0], &m), 0);

	assert_code(zt_msg_recv(p->fd[1], &m), ZT_E_TRAILING);
	assert_int_equal(m.request_id, TEST_ID);
	assert_code(zt_msg_recv(p->fd[1], &m), ZT_E_TRUNCATED);
	assert_code(zt_msg_recv(p->fd[1], &m), 0);
	assert_int_equal(m.request_id, 4);

	set_nonblocking(p->fd[1]);
	assert_code(zt_msg_recv(p->fd[1], &m), -EAGAIN);
}

static void
test_recv_closed(void **state)
{
	struct pair *p = *state;
	struct zt_msg m;

	make_status_reply(&m, 5);
	assert_code(zt_msg_send(p->fd[0], &m), 0);
	close_end(p, 0);
	/* What was queued before the close is still delivered. */
	assert_code(zt_msg_recv(p->fd[1], &m), 0);
	assert_int_equal(m.request_id, 5);
	assert_code(zt_msg_recv(p->fd[1], &m), ZT_E_CLOSED);
	assert_code(zt_msg_recv(p->fd[1], &m), ZT_E_CLOSED);
}

/* Sending to a closed peer is -EPIPE, not a SIGPIPE that kills us. */
static void
test_send_closed(void **state)
{
	struct pair *p = *state;
	struct zt_msg m;

	close_end(p, 1);
	assert_code(zt_msg_init(&m, ZT_MSG_STATUS, 1), 0);
	assert_code(zt_msg_send(p->fd[0], &m), -EPIPE);
}

/* ----------------------------------------------------------- zt_client */

static void
make_reload_reply(struct zt_msg *m, uint32_t id, uint64_t generation)
{
	if (zt_msg_init(m, ZT_MSG_RELOAD_REPLY, id) < 0 ||
	    zt_msg_put_u64(m, ZT_F_GENERATION, generation) < 0)
		_exit(3);
}

/* Children: no cmocka asserts here, only an exit status. */
static void
serve_other_ids_first(int fd)
{
	struct zt_msg request, reply;

	if (zt_msg_recv(fd, &request) < 0 || request.type != ZT_MSG_RELOAD)
		_exit(1);
	make_reload_reply(&reply, request.request_id + 1, 666);
	if (zt_msg_send(fd, &reply) < 0)
		_exit(2);
	make_reload_reply(&reply, 0, 667);
	if (zt_msg_send(fd, &reply) < 0)
		_exit(2);
	usleep(20 * 1000);
	make_reload_reply(&reply, request.request_id, 7);
	if (zt_msg_send(fd, &reply) < 0)
		_exit(2);
	/* Stay until the client hangs up. */
	if (zt_msg_recv(fd, &request) != ZT_E_CLOSED)
		_exit(4);
}

/* Replies, but never to the request asked. */
static void
serve_chatter(int fd)
{
	struct zt_msg request, reply;

	if (zt_msg_recv(fd, &request) < 0)
		_exit(1);
	for (;;) {
		make_reload_reply(&reply, request.request_id - 1, 1);
		if (zt_msg_send(fd, &reply) < 0)
			_exit(0);
		usleep(20 * 1000);
	}
}

static void
serve_hang_up(int fd)
{
	struct zt_msg request;

	if (zt_msg_recv(fd, &request) < 0)
		_exit(1);
}

static void
serve_garbage(int fd)
{
	struct zt_msg request;

	if (zt_msg_recv(fd, &request) < 0)
		_exit(1);
	if (send(fd, "ZTG1\0\1\0\5", 8, 0) != 8)
		_exit(2);
	zt_msg_recv(fd, &request);
}

/* Refuse the connection with the request left unread, as a busy ztd does. */
static void
serve_refuse_unread(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct zt_msg error;

	if (poll(&pfd, 1, 5000) != 1)
		_exit(1);
	zt_msg_error(&error, 0, ZT_E_BUSY, "too many clients");
	if (zt_msg_send(fd, &error) < 0)
		_exit(2);
	close(fd);
}

/* An ERROR for id 0 about the connection, among skipped datagrams. */
static void
serve_connection_error(int fd)
{
	struct zt_msg request, reply;

	if (zt_msg_recv(fd, &request) < 0)
		_exit(1);
	make_reload_reply(&reply, 0, 1);
	if (zt_msg_send(fd, &reply) < 0)
		_exit(2);
	zt_msg_error(&reply, 0, ZT_E_BUSY, "shutting down");
	if (zt_msg_send(fd, &reply) < 0)
		_exit(2);
	zt_msg_recv(fd, &request);
}

static void
test_client_timeout(void **state)
{
	struct pair *p = *state;
	struct zt_msg request, reply;
	int64_t begin, elapsed;

	set_nonblocking(p->fd[0]);
	assert_code(zt_msg_init(&request, ZT_MSG_STATUS, 21), 0);
	begin = monotonic_ms();
	assert_code(zt_client_call(p->fd[0], &request, &reply,
	    CALL_TIMEOUT_MS), ZT_E_TIMEOUT);
	elapsed = monotonic_ms() - begin;
	assert_in_range(elapsed, CALL_TIMEOUT_MS,
	    CALL_TIMEOUT_MS + CALL_SLACK_MS);
	/* The request did go out. */
	assert_code(zt_msg_recv(p->fd[1], &reply), 0);
	assert_int_equal(reply.type, ZT_MSG_STATUS);
	assert_int_equal(reply.request_id, 21);
}

/* Datagrams for other ids do not push the deadline back. */
static void
test_client_timeout_despite_chatter(void **state)
{
	struct pair *p = *state;
	struct zt_msg request, reply;
	int64_t begin, elapsed;

	set_nonblocking(p->fd[0]);
	start_server(p, serve_chatter);
	assert_code(zt_msg_init(&request, ZT_MSG_RELOAD, 22), 0);
	begin = monotonic_ms();
	assert_code(zt_client_call(p->fd[0], &request, &reply,
	    CALL_TIMEOUT_MS), ZT_E_TIMEOUT);
	elapsed = monotonic_ms() - begin;
	assert_in_range(elapsed, CALL_TIMEOUT_MS,
	    CALL_TIMEOUT_MS + CALL_SLACK_MS);
}

static void
test_client_skips_other_ids(void **state)
{
	struct pair *p = *state;
	struct zt_msg request, reply;
	uint64_t generation;

	set_nonblocking(p->fd[0]);
	start_server(p, serve_other_ids_first);
	assert_code(zt_msg_init(&request, ZT_MSG_RELOAD, 23), 0);
	assert_code(zt_client_call(p->fd[0], &request, &reply, 5000), 0);
	assert_int_equal(reply.type, ZT_MSG_RELOAD_REPLY);
	assert_int_equal(reply.request_id, 23);
	assert_code(zt_msg_get_u64(&reply, ZT_F_GENERATION, &generation), 0);
	assert_int_equal(generation, 7);
	close_end(p, 0);
	assert_int_equal(reap(p), 0);
}

static void
test_client_closed(void **state)
{
	struct pair *p = *state;
	struct zt_msg request, reply;

	set_nonblocking(p->fd[0]);
	start_server(p, serve_hang_up);
	assert_code(zt_msg_init(&request, ZT_MSG_STATUS, 24), 0);
	assert_code(zt_client_call(p->fd[0], &request, &reply, 5000),
	    ZT_E_CLOSED);
	assert_int_equal(reap(p), 0);
	/* Closed before the request could even be sent. */
	assert_code(zt_client_call(p->fd[0], &request, &reply, 5000),
	    ZT_E_CLOSED);
}

static void
test_client_bad_reply(void **state)
{
	struct pair *p = *state;
	struct zt_msg request, reply;

	set_nonblocking(p->fd[0]);
	start_server(p, serve_garbage);
	assert_code(zt_msg_init(&request, ZT_MSG_STATUS, 25), 0);
	assert_code(zt_client_call(p->fd[0], &request, &reply, 5000),
	    ZT_E_TRUNCATED);
	close_end(p, 0);
	assert_int_equal(reap(p), 0);
}

/* The daemon's refusal reaches the caller, not just "closed". */
static void
test_client_refused_before_send(void **state)
{
	struct pair *p = *state;
	struct zt_msg request, reply;
	const char *text;

	set_nonblocking(p->fd[0]);
	zt_msg_error(&reply, 0, ZT_E_BUSY, "too many clients");
	assert_code(zt_msg_send(p->fd[1], &reply), 0);
	close_end(p, 1);
	assert_code(zt_msg_init(&request, ZT_MSG_STATUS, 26), 0);
	assert_code(zt_client_call(p->fd[0], &request, &reply, 5000), 0);
	assert_int_equal(reply.type, ZT_MSG_ERROR);
	assert_int_equal(reply.request_id, 0);
	assert_code(zt_client_reply_error(&reply, ZT_MSG_STATUS_REPLY, &text),
	    ZT_E_BUSY);
	assert_string_equal(text, "too many clients");
}

/*
 * A peer that closes with our request unread makes the kernel report
 * ECONNRESET once, to the next send or read, ahead of the refusal the peer
 * had queued: the call still returns the refusal.  (All queued before the
 * call, so no race decides the path.)
 */
static void
test_client_refused_reset(void **state)
{
	struct pair *p = *state;
	struct zt_msg request, reply;

	set_nonblocking(p->fd[0]);
	assert_code(zt_msg_init(&request, ZT_MSG_STATUS, 29), 0);
	assert_code(zt_msg_send(p->fd[0], &request), 0);
	zt_msg_error(&reply, 0, ZT_E_BUSY, "too many clients");
	assert_code(zt_msg_send(p->fd[1], &reply), 0);
	close_end(p, 1);
	assert_code(zt_client_call(p->fd[0], &request, &reply, 5000), 0);
	assert_int_equal(reply.type, ZT_MSG_ERROR);
	assert_int_equal(reply.request_id, 0);
	assert_code(zt_client_reply_error(&reply, ZT_MSG_STATUS_REPLY, NULL),
	    ZT_E_BUSY);
}

/*
 * The same, as it happens: whether the client reads the refusal before or
 * after the peer's close is a race, so run it often enough to meet both.
 */
static void
test_client_refused_request_unread(void **state)
{
	struct pair *p = *state;
	struct zt_msg request, reply;

	for (int i = 0; i < REFUSALS; i++) {
		if (i > 0) {
			close_end(p, 0);
			assert_int_equal(socketpair(AF_UNIX,
			    SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p->fd), 0);
		}
		set_nonblocking(p->fd[0]);
		start_server(p, serve_refuse_unread);
		assert_code(zt_msg_init(&request, ZT_MSG_STATUS, 27), 0);
		assert_code(zt_client_call(p->fd[0], &request, &reply, 5000),
		    0);
		assert_int_equal(reply.type, ZT_MSG_ERROR);
		assert_int_equal(reply.request_id, 0);
		assert_code(zt_client_reply_error(&reply, ZT_MSG_STATUS_REPLY,
		    NULL), ZT_E_BUSY);
		assert_int_equal(reap(p), 0);
	}
}

static void
test_client_connection_error(void **state)
{
	struct pair *p = *state;
	struct zt_msg request, reply;

	set_nonblocking(p->fd[0]);
	start_server(p, serve_connection_error);
	assert_code(zt_msg_init(&request, ZT_MSG_STATUS, 28), 0);
	assert_code(zt_client_call(p->fd[0], &request, &reply, 5000), 0);
	assert_int_equal(reply.type, ZT_MSG_ERROR);
	assert_int_equal(reply.request_id, 0);
	assert_code(zt_client_reply_error(&reply, ZT_MSG_STATUS_REPLY, NULL),
	    ZT_E_BUSY);
	close_end(p, 0);
	assert_int_equal(reap(p), 0);
}

/* Read the hits of REPORT M back: both objects, in order, with tokens. */
static void
assert_report(const struct zt_msg *m)
{
	static const char *const objects[] = {
		"tcp:10.0.0.5:5432", "/usr/bin/rsync",
	};
	struct zt_record records, hit;
	size_t cursor = 0, n = 0;

	assert_code(zt_msg_get_record(m, ZT_F_RECORDS, &records), 0);
	assert_int_equal(zt_record_count(&records, ZT_F_RECORD), 2);
	while (zt_record_next(&records, ZT_F_RECORD, &cursor, &hit) == 0) {
		const char *object;
		const void *token;
		size_t size;
		uint32_t action, age;
		uint64_t until;

		assert_true(n < 2);
		assert_code(zt_record_get_u32(&hit, ZT_F_ACTION, &action), 0);
		assert_int_equal(action, 3 - n);
		assert_code(zt_record_get_str(&hit, ZT_F_OBJECT, &object), 0);
		assert_string_equal(object, objects[n]);
		assert_code(zt_record_get_u32(&hit, ZT_F_AGE_MS, &age), 0);
		assert_int_equal(age, 10 * n);
		assert_code(zt_record_get_bytes(&hit, ZT_F_TOKEN, &token,
		    &size), 0);
		assert_int_equal(size, ZT_TOKEN_SIZE);
		assert_memory_equal(token, "0123456789abcdef", size);
		assert_code(zt_record_get_u64(&hit, ZT_F_CACHE_UNTIL, &until),
		    0);
		assert_true(until == UINT64_MAX - n);
		/* Not a field of the hit, nor of another kind. */
		assert_code(zt_record_get_str(&hit, ZT_F_GRANT, &object),
		    ZT_E_MISSING);
		assert_code(zt_record_get_u64(&hit, ZT_F_ACTION, &until),
		    ZT_E_MISSING);
		n++;
	}
	assert_int_equal(n, 2);
	assert_code(zt_record_next(&records, ZT_F_RECORD, &cursor, &hit),
	    ZT_E_MISSING);
}

/*
 * The record writer: what it writes the reader reads back, from the
 * encoded message and from the datagram; what a record's schema refuses
 * is refused at the put; a cancelled record leaves nothing.
 */
static void
test_records(void **state)
{
	struct zt_msg m, received;
	size_t before;
	int fd[2];

	(void)state;
	assert_code(zt_msg_init(&m, ZT_MSG_REPORT, TEST_ID), 0);
	assert_code(zt_msg_put_str(&m, ZT_F_GRANT, GRANT_ID), 0);
	/* A record cannot be put as a value, nor a value begun as one. */
	assert_code(zt_msg_put_bytes(&m, ZT_F_RECORDS, "", 0), ZT_E_FIELD);
	assert_code(zt_msg_begin_record(&m, ZT_F_GRANT), ZT_E_FIELD);
	assert_code(zt_msg_begin_record(&m, ZT_F_RECORD), ZT_E_FIELD);
	assert_code(zt_msg_end_record(&m), ZT_E_PROTOCOL);
	assert_code(zt_msg_begin_record(&m, ZT_F_RECORDS), 0);
	assert_code(zt_msg_check_complete(&m), ZT_E_MISSING);
	assert_code(zt_msg_put_str(&m, ZT_F_OBJECT, "x"), ZT_E_FIELD);
	for (unsigned i = 0; i < 2; i++) {
		assert_code(zt_msg_begin_record(&m, ZT_F_RECORD), 0);
		assert_code(zt_msg_put_u32(&m, ZT_F_ACTION, 3 - i), 0);
		assert_code(zt_msg_put_u32(&m, ZT_F_ACTION, 3 - i),
		    ZT_E_DUPLICATE);
		assert_code(zt_msg_put_u32(&m, ZT_F_CODE, 1), ZT_E_FIELD);
		assert_code(zt_msg_begin_record(&m, ZT_F_RECORD), ZT_E_FIELD);
		assert_code(zt_msg_put_str(&m, ZT_F_OBJECT, i == 0 ?
		    "tcp:10.0.0.5:5432" : "/usr/bin/rsync"), 0);
		assert_code(zt_msg_end_record(&m), ZT_E_MISSING);
		assert_code(zt_msg_put_u32(&m, ZT_F_AGE_MS, 10 * i), 0);
		assert_code(zt_msg_put_bytes(&m, ZT_F_TOKEN,
		    "0123456789abcdef", ZT_TOKEN_SIZE), 0);
		assert_code(zt_msg_put_u64(&m, ZT_F_CACHE_UNTIL,
		    UINT64_MAX - i), 0);
		assert_code(zt_msg_end_record(&m), 0);
	}
	/* A third, cancelled half-way: nothing of it stays. */
	before = m.size;
	assert_code(zt_msg_begin_record(&m, ZT_F_RECORD), 0);
	assert_code(zt_msg_put_u32(&m, ZT_F_ACTION, 1), 0);
	assert_code(zt_msg_cancel_record(&m), 0);
	assert_int_equal(m.size, before);
	assert_int_equal(m.depth, 1);
	/* A record still open is never sent. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fd), 0);
	assert_code(zt_msg_send(fd[0], &m), -EINVAL);
	assert_code(zt_msg_end_record(&m), 0);
	assert_code(zt_msg_check_complete(&m), 0);
	assert_report(&m);

	assert_code(zt_msg_send(fd[0], &m), 0);
	assert_code(zt_msg_recv(fd[1], &received), 0);
	close(fd[0]);
	close(fd[1]);
	assert_int_equal(received.size, m.size);
	assert_memory_equal(received.wire, m.wire, m.size);
	assert_report(&received);

	/* The bound on repeats holds for the writer too. */
	assert_code(zt_msg_init(&m, ZT_MSG_REPORT, TEST_ID), 0);
	assert_code(zt_msg_begin_record(&m, ZT_F_RECORDS), 0);
	for (unsigned i = 0; i < ZT_REPORT_RECORDS_MAX; i++) {
		assert_code(zt_msg_begin_record(&m, ZT_F_RECORD), 0);
		assert_code(zt_msg_put_u32(&m, ZT_F_ACTION, 1), 0);
		assert_code(zt_msg_put_str(&m, ZT_F_OBJECT, ""), 0);
		assert_code(zt_msg_put_u32(&m, ZT_F_AGE_MS, 0), 0);
		assert_code(zt_msg_end_record(&m), 0);
	}
	assert_code(zt_msg_begin_record(&m, ZT_F_RECORD), ZT_E_TOO_MANY);
	assert_code(zt_msg_end_record(&m), 0);
	assert_code(zt_msg_get_record(&m, ZT_F_RECORDS, &(struct zt_record){
	    0 }), 0);
}

/* Send M on FD with N_FDS descriptors (copies of stdin) attached. */
static void
send_with_fds(int fd, const struct zt_msg *m, int n_fds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(3 * sizeof(int))];
	} control;
	int fds[3] = { 0, 0, 0 };
	struct iovec iov = { .iov_base = (void *)m->wire, .iov_len = m->size };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;

	if (n_fds > 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
		memcpy(CMSG_DATA(cmsg), fds, n_fds * sizeof(int));
	}
	assert_true(sendmsg(fd, &msg, MSG_NOSIGNAL) == (ssize_t)m->size);
}

/*
 * zt_msg_recv_from: the sender's credentials of each message, when the
 * receiver has SO_PASSCRED (ztd: a connection is its connector's); a
 * second descriptor still refuses the message although the room kept for
 * the credentials could hold it.
 */
static void
test_recv_from(void **state)
{
	struct pair *p = *state;
	struct zt_msg m, got;
	struct ucred sender;
	int on = 1, passed = -2;

	assert_code(zt_msg_init(&m, ZT_MSG_STATUS, TEST_ID), 0);
	/* Without SO_PASSCRED: no credentials, pid 0. */
	send_with_fds(p->fd[0], &m, 0);
	assert_code(zt_msg_recv_from(p->fd[1], &got, &passed, &sender, NULL), 0);
	assert_int_equal(passed, -1);
	assert_int_equal(sender.pid, 0);
	assert_int_equal(setsockopt(p->fd[1], SOL_SOCKET, SO_PASSCRED, &on,
	    sizeof(on)), 0);
	/* With it: this process, its real uid; one descriptor kept. */
	send_with_fds(p->fd[0], &m, 1);
	assert_code(zt_msg_recv_from(p->fd[1], &got, &passed, &sender, NULL), 0);
	assert_int_equal(sender.pid, getpid());
	assert_int_equal(sender.uid, getuid());
	assert_true(passed >= 0);
	close(passed);
	/* Two descriptors (both fit beside the credentials): refused, and
	 * none kept. */
	send_with_fds(p->fd[0], &m, 2);
	assert_code(zt_msg_recv_from(p->fd[1], &got, &passed, &sender, NULL),
	    ZT_E_PROTOCOL);
	assert_int_equal(passed, -1);
	/* Three (the kernel truncates): refused too. */
	send_with_fds(p->fd[0], &m, 3);
	assert_code(zt_msg_recv_from(p->fd[1], &got, &passed, &sender, NULL),
	    ZT_E_PROTOCOL);
	assert_int_equal(passed, -1);
}

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif

/* The lowest free descriptor number: a descriptor leaked moves it up. */
static int
lowest_free_fd(void)
{
	int fd = dup(0);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

/* Whether PIDFD is a pidfd of process PID (its fdinfo says "Pid:"). */
static bool
pidfd_of(int pidfd, pid_t pid)
{
	char path[64], line[128];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Pid:", 4) == 0)
			found = strtol(line + 4, NULL, 10) == (long)pid;
	fclose(f);
	return found;
}

/*
 * zt_msg_recv_from with SO_PASSPIDFD: the sender's pidfd (SCM_PIDFD) comes
 * beside the credentials and a passed descriptor, both kept; a caller that
 * asks for no pidfd has it closed; a refused message (two descriptors)
 * still hands the caller the pidfd and keeps no passed one.
 */
static void
test_recv_from_pidfd(void **state)
{
	struct pair *p = *state;
	struct zt_msg m, got;
	struct ucred sender;
	int on = 1, passed = -2, pidfd = -2, lowest;

	if (setsockopt(p->fd[1], SOL_SOCKET, SO_PASSPIDFD, &on,
	    sizeof(on)) < 0)
		skip();			/* before Linux 6.5 */
	assert_int_equal(setsockopt(p->fd[1], SOL_SOCKET, SO_PASSCRED, &on,
	    sizeof(on)), 0);
	assert_code(zt_msg_init(&m, ZT_MSG_STATUS, TEST_ID), 0);
	lowest = lowest_free_fd();
	/* A descriptor passed and the sender's pidfd: both. */
	send_with_fds(p->fd[0], &m, 1);
	assert_code(zt_msg_recv_from(p->fd[1], &got, &passed, &sender,
	    &pidfd), 0);
	assert_int_equal(sender.pid, getpid());
	assert_true(passed >= 0);
	assert_true(pidfd >= 0);
	assert_true(pidfd != passed);
	assert_true(pidfd_of(pidfd, getpid()));
	assert_false(pidfd_of(passed, getpid()));
	assert_true(fcntl(pidfd, F_GETFD) & FD_CLOEXEC);
	close(passed);
	close(pidfd);
	assert_int_equal(lowest_free_fd(), lowest);
	/* Without a descriptor passed: the pidfd alone. */
	send_with_fds(p->fd[0], &m, 0);
	assert_code(zt_msg_recv_from(p->fd[1], &got, &passed, &sender,
	    &pidfd), 0);
	assert_int_equal(passed, -1);
	assert_true(pidfd_of(pidfd, getpid()));
	close(pidfd);
	/* Not asked for: closed, none leaks (nor the passed one's). */
	send_with_fds(p->fd[0], &m, 1);
	assert_code(zt_msg_recv_from(p->fd[1], &got, &passed, &sender, NULL),
	    0);
	assert_true(passed >= 0);
	close(passed);
	send_with_fds(p->fd[0], &m, 0);
	assert_code(zt_msg_recv_fd(p->fd[1], &got, &passed), 0);
	assert_int_equal(passed, -1);
	assert_int_equal(lowest_free_fd(), lowest);
	/* Two descriptors beside the pidfd: refused, neither kept; the
	 * pidfd handed over all the same. */
	send_with_fds(p->fd[0], &m, 2);
	assert_code(zt_msg_recv_from(p->fd[1], &got, &passed, &sender,
	    &pidfd), ZT_E_PROTOCOL);
	assert_int_equal(passed, -1);
	assert_true(pidfd_of(pidfd, getpid()));
	close(pidfd);
	/* Three: the kernel truncates, refused too; nothing left open. */
	send_with_fds(p->fd[0], &m, 3);
	assert_code(zt_msg_recv_from(p->fd[1], &got, &passed, &sender,
	    &pidfd), ZT_E_PROTOCOL);
	assert_int_equal(passed, -1);
	if (pidfd >= 0)
		close(pidfd);
	assert_int_equal(lowest_free_fd(), lowest);
}

/* ------------------------------------------------------------------ main */

static const struct CMUnitTest single_tests[] = {
	cmocka_unit_test(test_golden_wire),
	cmocka_unit_test(test_records),
	cmocka_unit_test(test_learn_answers),
	cmocka_unit_test(test_allows_ahead),
	cmocka_unit_test(test_resolve_flags),
	cmocka_unit_test(test_reply_error_other_type),
	cmocka_unit_test(test_init_unknown_type),
	cmocka_unit_test(test_schema_capacity),
	cmocka_unit_test(test_names_and_kinds),
	cmocka_unit_test(test_ca_messages),
	cmocka_unit_test(test_strerror),
	cmocka_unit_test(test_escape_8k),
	cmocka_unit_test(test_escape_sweep),
	cmocka_unit_test_setup_teardown(test_send_recv, pair_setup,
	    pair_teardown),
	cmocka_unit_test_setup_teardown(test_recv_from_pidfd, pair_setup,
	    pair_teardown),
	cmocka_unit_test_setup_teardown(test_recv_from, pair_setup,
	    pair_teardown),
	cmocka_unit_test_setup_teardown(test_recv_oversized, pair_setup,
	    pair_teardown),
	cmocka_unit_test_setup_teardown(test_recv_malformed, pair_setup,
	    pair_teardown),
	cmocka_unit_test_setup_teardown(test_recv_closed, pair_setup,
	    pair_teardown),
	cmocka_unit_test_setup_teardown(test_send_closed, pair_setup,
	    pair_teardown),
	cmocka_unit_test_setup_teardown(test_client_timeout, pair_setup,
	    pair_teardown),
	cmocka_unit_test_setup_teardown(test_client_timeout_despite_chatter,
	    pair_setup, pair_teardown),
	cmocka_unit_test_setup_teardown(test_client_skips_other_ids,
	    pair_setup, pair_teardown),
	cmocka_unit_test_setup_teardown(test_client_closed, pair_setup,
	    pair_teardown),
	cmocka_unit_test_setup_teardown(test_client_bad_reply, pair_setup,
	    pair_teardown),
	cmocka_unit_test_setup_teardown(test_client_refused_before_send,
	    pair_setup, pair_teardown),
	cmocka_unit_test_setup_teardown(test_client_refused_reset,
	    pair_setup, pair_teardown),
	cmocka_unit_test_setup_teardown(test_client_refused_request_unread,
	    pair_setup, pair_teardown),
	cmocka_unit_test_setup_teardown(test_client_connection_error,
	    pair_setup, pair_teardown),
};

#define N_TESTS (ARRAY_SIZE(decode_cases) + ARRAY_SIZE(roundtrip_cases) + \
	ARRAY_SIZE(error_cases) + ARRAY_SIZE(encoder_cases) + \
	ARRAY_SIZE(complete_cases) + ARRAY_SIZE(escape_cases) + \
	ARRAY_SIZE(single_tests))

/* One cmocka test per table row, named "TABLE: ROW", the row its state. */
#define ADD_ROWS(table, prefix, function) \
	for (size_t i = 0; i < ARRAY_SIZE(table); i++) \
		add_row(tests, &n, prefix, table[i].name, function, \
		    &table[i])

static char test_names[N_TESTS][96];

static void
add_row(struct CMUnitTest *tests, size_t *n, const char *prefix,
    const char *name, CMUnitTestFunction function, const void *row)
{
	snprintf(test_names[*n], sizeof(test_names[*n]), "%s: %s", prefix,
	    name);
	tests[*n] = (struct CMUnitTest){
		.name = test_names[*n],
		.test_func = function,
		.initial_state = (void *)row,
	};
	(*n)++;
}

int
main(void)
{
	struct CMUnitTest tests[N_TESTS];
	size_t n = 0;

	memset(long_text, 'y', sizeof(long_text) - 1);
	ADD_ROWS(roundtrip_cases, "roundtrip", test_roundtrip);
	ADD_ROWS(error_cases, "roundtrip", test_error_reply);
	ADD_ROWS(decode_cases, "decode", test_decode);
	ADD_ROWS(encoder_cases, "encode", test_encoder);
	ADD_ROWS(complete_cases, "encode", test_complete);
	ADD_ROWS(escape_cases, "escape", test_escape);
	for (size_t i = 0; i < ARRAY_SIZE(single_tests); i++)
		tests[n++] = single_tests[i];
	if (n != N_TESTS)
		return 99;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

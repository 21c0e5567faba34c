/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the fleet's signed entries and of the client's frames. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "fleet_entry.h"
#include "fleet_proto.h"

#define WHY_SIZE (FLEET_WHY_MAX + 64)
#define POLICY "agents = ( );\n"

static EVP_PKEY *
make_key(const char *type)
{
	EVP_PKEY *key = strcmp(type, "ed25519") == 0 ?
	    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") :
	    EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	assert_non_null(key);
	return key;
}

/* Signed by one key: parsed back the same, good under it, bad under
 * another, bad once any byte of what it covers changes. */
static void
round_trip(const char *type)
{
	EVP_PKEY *key = make_key(type), *other = make_key(type);
	struct fleet_entry e;
	char why[WHY_SIZE], *v;
	size_t len;
	bool good;

	assert_int_equal(fleet_entry_build(FLEET_KIND_POLICY, NULL, 42, NULL,
	    POLICY, strlen(POLICY), key, &v, &len), 0);
	assert_int_equal(fleet_entry_parse((uint8_t *)v, len, &e, why), 0);
	assert_int_equal(e.kind, FLEET_KIND_POLICY);
	assert_int_equal(e.serial, 42);
	assert_string_equal(e.agent, "");
	assert_int_equal(e.body_len, strlen(POLICY));
	assert_memory_equal(e.body, POLICY, e.body_len);
	assert_int_equal(fleet_entry_verify((uint8_t *)v, &e, key, &good), 0);
	assert_true(good);
	assert_int_equal(fleet_entry_verify((uint8_t *)v, &e, other, &good), 0);
	assert_false(good);
	/* Every byte but the signature line's is covered. */
	for (size_t i = 0; i < len; i++) {
		struct fleet_entry t;

		if (i >= e.header_len && i < e.body_offset - 1)
			continue;
		v[i] ^= 0x01;
		if (fleet_entry_parse((uint8_t *)v, len, &t, why) == 0) {
			assert_int_equal(fleet_entry_verify((uint8_t *)v, &t,
			    key, &good), 0);
			assert_false(good);
		}
		v[i] ^= 0x01;
	}
	free(v);

	assert_int_equal(fleet_entry_build(FLEET_KIND_DISABLE, "agent-1", 7,
	    "key leaked", NULL, 0, key, &v, &len), 0);
	assert_int_equal(fleet_entry_parse((uint8_t *)v, len, &e, why), 0);
	assert_int_equal(e.kind, FLEET_KIND_DISABLE);
	assert_string_equal(e.agent, "agent-1");
	assert_string_equal(e.why, "key leaked");
	assert_int_equal(e.body_len, 0);
	assert_int_equal(fleet_entry_verify((uint8_t *)v, &e, key, &good), 0);
	assert_true(good);
	free(v);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static void
test_ed25519(void **state)
{
	round_trip("ed25519");
}

static void
test_p256(void **state)
{
	round_trip("p256");
}

static void
test_build_refuses(void **state)
{
	EVP_PKEY *key = make_key("ed25519");
	char *v = NULL;
	size_t len;

	assert_int_equal(fleet_entry_build(FLEET_KIND_DISABLE, "a b", 1,
	    NULL, NULL, 0, key, &v, &len), -EINVAL);
	assert_int_equal(fleet_entry_build(FLEET_KIND_DISABLE, "a", 1,
	    "two\nlines", NULL, 0, key, &v, &len), -EINVAL);
	assert_int_equal(fleet_entry_build(FLEET_KIND_POLICY, "a", 1, NULL,
	    POLICY, strlen(POLICY), key, &v, &len), -EINVAL);
	assert_int_equal(fleet_entry_build(FLEET_KIND_ENABLE, "a", 0, NULL,
	    NULL, 0, key, &v, &len), -EINVAL);
	assert_int_equal(fleet_entry_build(FLEET_KIND_ENABLE, "a", 1, NULL,
	    "x", 1, key, &v, &len), -EINVAL);
	assert_null(v);
	EVP_PKEY_free(key);
}

#define SIG "signature " \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
	"AAAAAAAAAAAAAAAAAAAA\n"
#define HEAD(kind, agent, serial, why) "ztgate-fleet 1\nkind " kind \
	"\nagent " agent "\nserial " serial "\nwhy " why "\n"

struct bad {
	const char *text;
	const char *why;
};

static const struct bad bad_entries[] = {
	{ "", "no \"ztgate-fleet 1\" line" },
	{ "ztgate-fleet 2\n", "no \"ztgate-fleet 1\" line" },
	{ HEAD("revoke", "a", "1", "-") SIG "\n", "kind is not policy, "
	  "disable or enable" },
	{ HEAD("disable", "-", "1", "-") SIG "\n", "agent is not a name (or "
	  "'-' for a policy)" },
	{ HEAD("policy", "a", "1", "-") SIG "\n", "agent is not a name (or "
	  "'-' for a policy)" },
	{ HEAD("disable", "a", "0", "-") SIG "\n", "serial is not a number "
	  "from 1" },
	{ HEAD("disable", "a", "-1", "-") SIG "\n", "serial is not a number "
	  "from 1" },
	{ HEAD("disable", "a", "99999999999999999999", "-") SIG "\n",
	  "serial is not a number from 1" },
	{ HEAD("disable", "a", "1", "tab\there") SIG "\n", "no why line of "
	  "printable text" },
	{ HEAD("disable", "a", "1", "-") "signature !!!!\n\n", "signature is "
	  "not base64 of a signature" },
	{ HEAD("disable", "a", "1", "-") SIG, "no empty line after the "
	  "signature" },
	{ HEAD("disable", "a", "1", "-") SIG "\nbody", "a disable or enable "
	  "has a body" },
	{ HEAD("disable", "a", "1", "-"), "no signature line" },
};

static void
test_parse_refuses(void **state)
{
	char why[WHY_SIZE], expected[WHY_SIZE];
	struct fleet_entry e;

	for (size_t i = 0; i < sizeof(bad_entries) / sizeof(*bad_entries);
	    i++) {
		const struct bad *b = &bad_entries[i];

		snprintf(expected, sizeof(expected), "not a fleet entry: %s",
		    b->why);
		assert_int_equal(fleet_entry_parse((const uint8_t *)b->text,
		    strlen(b->text), &e, why), -EBADMSG);
		assert_string_equal(why, expected);
	}
	/* A NUL inside the body. */
	{
		static const char text[] = HEAD("policy", "-", "1", "-") SIG
		    "\nab\0cd";

		assert_int_equal(fleet_entry_parse((const uint8_t *)text,
		    sizeof(text) - 1, &e, why), -EBADMSG);
		assert_string_equal(why, "not a fleet entry: the body holds a "
		    "NUL byte");
	}
}

/* Frames written on one end of a socketpair read back whole, in parts. */
static void
test_frames(void **state)
{
	const void *parts[3] = { "policy", "", "value\0with NUL" };
	size_t lens[3] = { 6, 0, 14 };
	struct fleet_reader rd = { 0 };
	struct fleet_frame f;
	char *s;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fleet_frame_send(sv[0], FLEET_ENTRY, 3, parts, lens,
	    false), 0);
	assert_int_equal(fleet_frame_send(sv[0], FLEET_STATE, 0, NULL, NULL,
	    false), 0);
	close(sv[0]);
	assert_int_equal(fleet_reader_fill(&rd, sv[1]), 1);
	assert_int_equal(fleet_reader_next(&rd, &f), 1);
	assert_int_equal(f.type, FLEET_ENTRY);
	assert_int_equal(f.n, 3);
	assert_int_equal(f.len[2], 14);
	assert_memory_equal(f.part[2], "value\0with NUL", 14);
	s = fleet_frame_string(&f, 0);
	assert_string_equal(s, "policy");
	free(s);
	assert_null(fleet_frame_string(&f, 2));	/* holds a NUL */
	assert_null(fleet_frame_string(&f, 3));	/* no such part */
	assert_int_equal(fleet_reader_next(&rd, &f), 1);
	assert_int_equal(f.type, FLEET_STATE);
	assert_int_equal(f.n, 0);
	assert_int_equal(fleet_reader_next(&rd, &f), 0);
	assert_int_equal(fleet_reader_fill(&rd, sv[1]), 0);	/* the end */
	close(sv[1]);
	fleet_reader_free(&rd);
}

static void
test_frames_refused(void **state)
{
	/* total 10: type, 1 part of length 20 (past the end). */
	static const uint8_t past[] = { 10, 0, 0, 0, FLEET_ENTRY, 1,
	    20, 0, 0, 0, 'a', 'b', 'c', 'd' };
	/* total 2, but 1 part announced and no room for its length. */
	static const uint8_t no_room[] = { 2, 0, 0, 0, FLEET_ENTRY, 1 };
	/* total 7 with a part of 0: one byte left over. */
	static const uint8_t trailing[] = { 7, 0, 0, 0, FLEET_ENTRY, 1,
	    0, 0, 0, 0, 'x' };
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0x7f, 1, 0 };
	static const uint8_t short_frame[] = { 10, 0, 0, 0, FLEET_ENTRY };
	struct fleet_frame f;
	size_t used;

	assert_int_equal(fleet_frame_parse(past, sizeof(past), &f, &used),
	    -EBADMSG);
	assert_int_equal(fleet_frame_parse(no_room, sizeof(no_room), &f,
	    &used), -EBADMSG);
	assert_int_equal(fleet_frame_parse(trailing, sizeof(trailing), &f,
	    &used), -EBADMSG);
	assert_int_equal(fleet_frame_parse(huge, sizeof(huge), &f, &used),
	    -EBADMSG);
	assert_int_equal(fleet_frame_parse(short_frame, sizeof(short_frame),
	    &f, &used), 0);	/* more is needed */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_p256),
		cmocka_unit_test(test_build_refuses),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_frames_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of zt_utf8_escape: valid UTF-8 out, whatever comes in. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zt_utf8.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct escape_case {
	const char *name;
	const char *in;
	size_t len;		/* 0: strlen(in) */
	const char *out;
};

/* Strings with a length, for inputs holding NUL bytes. */
#define BYTES(s) (s), sizeof(s) - 1

static const struct escape_case cases[] = {
	{ "empty", "", 0, "" },
	{ "plain ASCII", "backup /usr/bin/rsync", 0, "backup /usr/bin/rsync" },
	{ "a backslash doubled", "a\\b", 0, "a\\\\b" },
	{ "the text \\xFF differs from the byte", "\\xFF", 0, "\\\\xFF" },
	{ "a lone 0xFF byte", "a\xff" "b", 0, "a\\xFFb" },
	{ "a NUL byte", BYTES("a\0b"), "a\\x00b" },
	{ "control characters stay (JSON escapes them)", "a\tb\n", 0,
	    "a\tb\n" },
	{ "DEL stays", "\x7f", 0, "\x7f" },
	{ "two-byte sequence (é)", "caf\xc3\xa9", 0, "caf\xc3\xa9" },
	{ "three-byte sequence (€)", "\xe2\x82\xac", 0, "\xe2\x82\xac" },
	{ "four-byte sequence (U+1F600)", "\xf0\x9f\x98\x80", 0,
	    "\xf0\x9f\x98\x80" },
	{ "U+10FFFF, the last code point", "\xf4\x8f\xbf\xbf", 0,
	    "\xf4\x8f\xbf\xbf" },
	{ "U+D7FF, below the surrogates", "\xed\x9f\xbf", 0, "\xed\x9f\xbf" },
	{ "U+E000, above the surrogates", "\xee\x80\x80", 0, "\xee\x80\x80" },
	{ "overlong NUL (C0 80)", "\xc0\x80", 0, "\\xC0\\x80" },
	{ "overlong '/' (C1 AF)", "\xc1\xaf", 0, "\\xC1\\xAF" },
	{ "overlong three-byte (E0 80 AF)", "\xe0\x80\xaf", 0,
	    "\\xE0\\x80\\xAF" },
	{ "overlong four-byte (F0 8F BF BF)", "\xf0\x8f\xbf\xbf", 0,
	    "\\xF0\\x8F\\xBF\\xBF" },
	{ "a surrogate (ED A0 80)", "\xed\xa0\x80", 0, "\\xED\\xA0\\x80" },
	{ "above U+10FFFF (F4 90 80 80)", "\xf4\x90\x80\x80", 0,
	    "\\xF4\\x90\\x80\\x80" },
	{ "F5 is never UTF-8", "\xf5\x80\x80\x80", 0,
	    "\\xF5\\x80\\x80\\x80" },
	{ "a lone continuation byte", "a\x80", 0, "a\\x80" },
	{ "a sequence cut at the end", "ok\xe2\x82", 0, "ok\\xE2\\x82" },
	{ "a sequence cut by ASCII", "\xe2\x82" "a", 0, "\\xE2\\x82a" },
	{ "a sequence cut by a NUL", BYTES("\xc3\0"), "\\xC3\\x00" },
	{ "valid after invalid", "\xff\xc3\xa9", 0, "\\xFF\xc3\xa9" },
	{ "a backslash and 0xFF, as in the --json test", "ag\xff\\nt", 0,
	    "ag\\xFF\\\\nt" },
};

static void
test_escape_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct escape_case *c = &cases[i];
		size_t len = c->len != 0 ? c->len : strlen(c->in);
		char *out = zt_utf8_escape(c->in, len);

		assert_non_null(out);
		if (strcmp(out, c->out) != 0)
			fail_msg("%s: got \"%s\", expected \"%s\"", c->name,
			    out, c->out);
		free(out);
	}
}

/* Inputs that differ in one byte give outputs that differ. */
static void
test_distinct_inputs_stay_distinct(void **state)
{
	static const char *const pairs[][2] = {
		{ "\\xFF", "\xff" },
		{ "\\\\", "\\" },
		{ "\\x00", "" },
		{ "a\\", "a\\\\" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
		char *a = zt_utf8_escape(pairs[i][0], strlen(pairs[i][0]));
		char *b = zt_utf8_escape(pairs[i][1], strlen(pairs[i][1]));

		assert_non_null(a);
		assert_non_null(b);
		assert_string_not_equal(a, b);
		free(a);
		free(b);
	}
}

/* Every one of the 256 single bytes: UTF-8 itself (ASCII but NUL) or
 * its \xNN. */
static void
test_every_single_byte(void **state)
{
	(void)state;
	for (unsigned b = 0; b < 256; b++) {
		char in = (char)b, want[8];
		char *out = zt_utf8_escape(&in, 1);

		assert_non_null(out);
		if (b == '\\')
			strcpy(want, "\\\\");
		else if (b == 0 || b >= 0x80)
			snprintf(want, sizeof(want), "\\x%02X", b);
		else
			snprintf(want, sizeof(want), "%c", b);
		if (strcmp(out, want) != 0)
			fail_msg("byte 0x%02x: got \"%s\", expected \"%s\"", b,
			    out, want);
		free(out);
	}
}

static void
test_too_long(void **state)
{
	(void)state;
	errno = 0;
	assert_null(zt_utf8_escape("", ZT_UTF8_ESCAPE_MAX + 1));
	assert_int_equal(errno, E2BIG);
}

static void
test_sequence_lengths(void **state)
{
	(void)state;
	assert_int_equal(zt_utf8_sequence((const unsigned char *)"a", 1), 1);
	assert_int_equal(zt_utf8_sequence(
	    (const unsigned char *)"\xc3\xa9", 2), 2);
	/* AVAIL is respected: the second byte is not read. */
	assert_int_equal(zt_utf8_sequence(
	    (const unsigned char *)"\xc3\xa9", 1), 0);
	assert_int_equal(zt_utf8_sequence(
	    (const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
	assert_int_equal(zt_utf8_sequence(
	    (const unsigned char *)"\xf0\x9f\x98\x80", 3), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_table),
		cmocka_unit_test(test_distinct_inputs_stay_distinct),
		cmocka_unit_test(test_every_single_byte),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_sequence_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of a grant's learned addresses (daemon/learned.c). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "learned.h"

static const uint8_t a1[4] = { 192, 0, 2, 1 }, a2[4] = { 192, 0, 2, 2 };
static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

static void
test_add_find(void **state)
{
	struct learned *l = NULL;
	const char *names[LEARNED_NAMES_MAX];
	int64_t expires[LEARNED_NAMES_MAX];

	(void)state;
	assert_int_equal(learned_find(l, AF_INET, a1, 0, names, expires), 0);
	assert_int_equal(learned_add(&l, 8, AF_INET, a1, "a.example", 1000,
	    0), 0);
	assert_int_equal(learned_add(&l, 8, AF_INET, a1, "b.example", 2000,
	    0), 0);
	assert_int_equal(learned_add(&l, 8, AF_INET6, a6, "a.example", 1000,
	    0), 0);
	assert_int_equal(learned_find(l, AF_INET, a1, 500, names, expires), 2);
	assert_string_equal(names[0], "a.example");
	assert_int_equal(expires[1], 2000);
	assert_int_equal(learned_find(l, AF_INET, a2, 500, names, expires), 0);
	assert_int_equal(learned_find(l, AF_INET6, a6, 500, names, expires),
	    1);
	/* Past its TTL a name is not found; answered again, it is. */
	assert_int_equal(learned_find(l, AF_INET, a1, 1500, names, expires),
	    1);
	assert_string_equal(names[0], "b.example");
	assert_int_equal(learned_add(&l, 8, AF_INET, a1, "a.example", 3000,
	    1500), 0);
	assert_int_equal(learned_count(l), 3);
	assert_int_equal(learned_find(l, AF_INET, a1, 2500, names, expires),
	    1);
	assert_string_equal(names[0], "a.example");
	assert_int_equal(learned_add(&l, 8, AF_UNIX, a1, "a.example", 1, 0),
	    -EINVAL);
	learned_free(l);
}

/* At its bound the table takes an expired entry's place, else the one
 * expiring first; it never grows past it. */
static void
test_bounded(void **state)
{
	struct learned *l = NULL;
	const char *names[LEARNED_NAMES_MAX];
	int64_t expires[LEARNED_NAMES_MAX];
	char name[32];

	(void)state;
	for (int i = 0; i < 1000; i++) {
		uint8_t addr[4] = { 198, 51, (uint8_t)(i >> 8), (uint8_t)i };

		snprintf(name, sizeof(name), "n%d.example", i);
		assert_int_equal(learned_add(&l, 100, AF_INET, addr, name,
		    10000 + i, 0), 0);
		assert_true(learned_count(l) <= 100);
	}
	assert_int_equal(learned_count(l), 100);
	/* The latest 100 stayed. */
	{
		uint8_t last[4] = { 198, 51, 999 >> 8, 999 & 0xff };
		uint8_t first[4] = { 198, 51, 0, 0 };

		assert_int_equal(learned_find(l, AF_INET, last, 0, names,
		    expires), 1);
		assert_int_equal(learned_find(l, AF_INET, first, 0, names,
		    expires), 0);
	}
	learned_free(l);
}

/* A clamp cuts what lives longer, and leaves the rest. */
static void
test_clamp(void **state)
{
	struct learned *l = NULL;
	const char *names[LEARNED_NAMES_MAX];
	int64_t expires[LEARNED_NAMES_MAX];

	(void)state;
	learned_clamp(l, 0);		/* none yet: nothing to do */
	assert_int_equal(learned_add(&l, 8, AF_INET, a1, "a.example", 600000,
	    0), 0);
	assert_int_equal(learned_add(&l, 8, AF_INET, a2, "b.example", 2000,
	    0), 0);
	learned_clamp(l, 3000);
	assert_int_equal(learned_find(l, AF_INET, a1, 2500, names, expires),
	    1);
	assert_int_equal(expires[0], 3000);
	assert_int_equal(learned_find(l, AF_INET, a2, 1500, names, expires),
	    1);
	assert_int_equal(expires[0], 2000);
	assert_int_equal(learned_find(l, AF_INET, a1, 3000, names, expires),
	    0);
	learned_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_find),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_clamp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

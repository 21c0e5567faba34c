/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the grant set: by id, by supervisor pid, expiry, order. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grant.h"
#include "grantset.h"
#include "zt_err.h"

/* Random operations of the run against the model. */
#define RANDOM_OPERATIONS 200000
#define RANDOM_POOL 2048

/* ------------------------------------------------------------ helpers */

/* A deterministic generator: a failure replays. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A grant with a random id (its number in the low bits, so ids are
 * distinct), supervisor PID, expiring at EXPIRES. */
static struct grant *
new_grant(unsigned number, pid_t pid, int64_t expires)
{
	struct grant *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	snprintf(g->id, sizeof(g->id), "%016llx%08x%08x",
	    (unsigned long long)rng(), (unsigned)(rng() & 0xffffffffu),
	    number);
	g->supervisor_pid = pid;
	g->expires_ms = expires;
	return g;
}

static struct grantset *
new_set(void)
{
	struct grantset *set = malloc(sizeof(*set));

	assert_non_null(set);
	assert_int_equal(grantset_init(set), 0);
	return set;
}

static void
free_set(struct grantset *set)
{
	struct grant *g;

	while ((g = grantset_first(set)) != NULL) {
		grantset_remove(set, g);
		free(g);
	}
	grantset_free(set);
	free(set);
}

/* Every grant of PID, counted through the pid index. */
static size_t
count_of_pid(const struct grantset *set, pid_t pid)
{
	size_t n = 0;

	for (struct grant *g = grantset_by_supervisor(set, pid); g != NULL;
	    g = grantset_same_supervisor(g)) {
		assert_int_equal(g->supervisor_pid, pid);
		n++;
	}
	return n;
}

/* ------------------------------------------------------------ tests */

static void
test_insert_find_remove(void **state)
{
	struct grantset *set = new_set();
	struct grant *a = new_grant(1, 100, 5000);
	struct grant *b = new_grant(2, 200, 3000);
	char missing[GRANT_ID_LEN + 1];

	(void)state;
	assert_null(grantset_find(set, a->id));
	assert_null(grantset_soonest(set));
	assert_null(grantset_by_supervisor(set, 100));
	assert_int_equal(grantset_add(set, a), 0);
	assert_int_equal(grantset_add(set, b), 0);
	assert_int_equal(grantset_count(set), 2);
	assert_ptr_equal(grantset_find(set, a->id), a);
	assert_ptr_equal(grantset_find(set, b->id), b);
	/* A near miss (one digit changed) is no grant. */
	memcpy(missing, a->id, sizeof(missing));
	missing[0] = missing[0] == '0' ? '1' : '0';
	assert_null(grantset_find(set, missing));
	assert_null(grantset_find(set, ""));
	assert_ptr_equal(grantset_by_supervisor(set, 100), a);
	assert_ptr_equal(grantset_by_supervisor(set, 200), b);
	assert_null(grantset_by_supervisor(set, 300));
	assert_ptr_equal(grantset_soonest(set), b);
	/* Creation order, oldest first. */
	assert_ptr_equal(grantset_first(set), a);
	assert_ptr_equal(grantset_next(a), b);
	assert_null(grantset_next(b));
	assert_ptr_equal(grantset_prev(b), a);

	grantset_remove(set, b);
	assert_int_equal(grantset_count(set), 1);
	assert_null(grantset_find(set, b->id));
	assert_null(grantset_by_supervisor(set, 200));
	assert_ptr_equal(grantset_soonest(set), a);
	assert_ptr_equal(grantset_first(set), a);
	assert_null(grantset_next(a));
	grantset_remove(set, a);
	assert_int_equal(grantset_count(set), 0);
	assert_null(grantset_first(set));
	assert_null(grantset_soonest(set));
	assert_null(grantset_find(set, a->id));
	free(a);
	free(b);
	free_set(set);
}

/* GRANTS_MAX grants: each found, the next one refused, half removed. */
static void
test_many_grants(void **state)
{
	struct grantset *set = new_set();
	struct grant **all = calloc(GRANTS_MAX, sizeof(*all));
	struct grant *extra = new_grant(GRANTS_MAX, 1, 1);
	size_t n = 0;

	(void)state;
	assert_non_null(all);
	for (unsigned i = 0; i < GRANTS_MAX; i++) {
		all[i] = new_grant(i, (pid_t)(1000 + i % 5000),
		    (int64_t)(rng() % 1000000));
		assert_int_equal(grantset_add(set, all[i]), 0);
	}
	assert_int_equal(grantset_count(set), GRANTS_MAX);
	assert_int_equal(grantset_add(set, extra), ZT_E_BUSY);
	assert_int_equal(grantset_count(set), GRANTS_MAX);
	assert_null(grantset_find(set, extra->id));
	for (unsigned i = 0; i < GRANTS_MAX; i++)
		assert_ptr_equal(grantset_find(set, all[i]->id), all[i]);
	/* Each of the 5000 pids holds 13 or 14 grants. */
	for (pid_t pid = 1000; pid < 6000; pid++)
		n += count_of_pid(set, pid);
	assert_int_equal(n, GRANTS_MAX);
	for (unsigned i = 0; i < GRANTS_MAX; i += 2) {
		grantset_remove(set, all[i]);
		free(all[i]);
		all[i] = NULL;
	}
	assert_int_equal(grantset_count(set), GRANTS_MAX / 2);
	for (unsigned i = 1; i < GRANTS_MAX; i += 2)
		assert_ptr_equal(grantset_find(set, all[i]->id), all[i]);
	/* Room again. */
	assert_int_equal(grantset_add(set, extra), 0);
	assert_ptr_equal(grantset_find(set, extra->id), extra);
	free(all);
	free_set(set);
}

static int
compare_expiry(const void *a, const void *b)
{
	int64_t x = (*(struct grant *const *)a)->expires_ms;
	int64_t y = (*(struct grant *const *)b)->expires_ms;

	return x < y ? -1 : x > y;
}

/* The soonest grant comes first, also after expiries are changed. */
static void
test_expiry_order(void **state)
{
	enum { N = 5000 };
	struct grantset *set = new_set();
	struct grant *model[N];
	int64_t want[N], last = INT64_MIN;

	(void)state;
	for (unsigned i = 0; i < N; i++) {
		/* Few distinct values: ties too. */
		model[i] = new_grant(i, 42, (int64_t)(rng() % 997));
		assert_int_equal(grantset_add(set, model[i]), 0);
	}
	/* A parent shortens a child's expiry; some get longer, too. */
	for (unsigned i = 0; i < N; i += 3)
		grantset_set_expiry(set, model[i],
		    model[i]->expires_ms / 2 + (int64_t)(rng() % 600));
	qsort(model, N, sizeof(model[0]), compare_expiry);
	/* Ties leave in any order: compare times, not grants. */
	for (unsigned i = 0; i < N; i++)
		want[i] = model[i]->expires_ms;
	for (unsigned i = 0; i < N; i++) {
		struct grant *g = grantset_soonest(set);

		assert_non_null(g);
		assert_true(g->expires_ms >= last);
		assert_int_equal(g->expires_ms, want[i]);
		last = g->expires_ms;
		grantset_remove(set, g);
		free(g);
	}
	assert_null(grantset_soonest(set));
	free_set(set);
}

/* Several grants of one supervisor (PAM callers open many): each found
 * through the pid, whichever leaves first. */
static void
test_supervisor_pid(void **state)
{
	enum { N = 300 };
	struct grantset *set = new_set();
	struct grant *mine[N], *other;

	(void)state;
	other = new_grant(N, 7, 100);
	assert_int_equal(grantset_add(set, other), 0);
	for (unsigned i = 0; i < N; i++) {
		mine[i] = new_grant(i, 4242, 100 + i);
		assert_int_equal(grantset_add(set, mine[i]), 0);
	}
	assert_int_equal(count_of_pid(set, 4242), N);
	assert_int_equal(count_of_pid(set, 7), 1);
	assert_int_equal(count_of_pid(set, 4243), 0);
	/* The first of the pid (the chain's head) leaves: the rest stay
	 * found; then one from the middle, then the last. */
	grantset_remove(set, mine[0]);
	assert_int_equal(count_of_pid(set, 4242), N - 1);
	grantset_remove(set, mine[N / 2]);
	assert_int_equal(count_of_pid(set, 4242), N - 2);
	grantset_remove(set, mine[N - 1]);
	assert_int_equal(count_of_pid(set, 4242), N - 3);
	assert_int_equal(count_of_pid(set, 7), 1);
	for (unsigned i = 1; i < N - 1; i++)
		if (i != N / 2)
			grantset_remove(set, mine[i]);
	assert_null(grantset_by_supervisor(set, 4242));
	assert_ptr_equal(grantset_by_supervisor(set, 7), other);
	for (unsigned i = 0; i < N; i++)
		free(mine[i]);
	free_set(set);
}

/* Children: found from the parent, unlinked when they go. */
static void
test_children(void **state)
{
	struct grantset *set = new_set();
	struct grant *p = new_grant(1, 1, 100), *c1 = new_grant(2, 2, 100);
	struct grant *c2 = new_grant(3, 3, 100);

	(void)state;
	assert_int_equal(grantset_add(set, p), 0);
	assert_int_equal(grantset_add(set, c1), 0);
	assert_int_equal(grantset_add(set, c2), 0);
	grantset_adopt(p, c1);
	grantset_adopt(p, c2);
	assert_ptr_equal(grantset_parent(c1), p);
	assert_ptr_equal(grantset_first_child(p), c2);
	assert_ptr_equal(grantset_next_sibling(c2), c1);
	grantset_remove(set, c2);
	free(c2);
	assert_ptr_equal(grantset_first_child(p), c1);
	assert_null(grantset_next_sibling(c1));
	grantset_remove(set, p);
	free(p);
	assert_null(grantset_parent(c1));
	free_set(set);
}

/*
 * Random adds, removes, expiry changes and lookups, checked against a
 * plain array after every step that changes the set.
 */
static void
test_random_against_model(void **state)
{
	struct grantset *set = new_set();
	struct grant *pool[RANDOM_POOL] = { NULL };
	unsigned number = 0;

	(void)state;
	for (unsigned op = 0; op < RANDOM_OPERATIONS; op++) {
		size_t i = rng() % RANDOM_POOL, live = 0;
		struct grant *g = pool[i], *soonest;
		int64_t min = INT64_MAX;

		switch (rng() % 4) {
		case 0:
		case 1:
			if (g != NULL) {
				grantset_remove(set, g);
				assert_null(grantset_find(set, g->id));
				free(g);
				pool[i] = NULL;
			} else {
				pool[i] = new_grant(number++,
				    (pid_t)(rng() % 64), (int64_t)(rng() %
				    100000));
				assert_int_equal(grantset_add(set, pool[i]),
				    0);
			}
			break;
		case 2:
			if (g != NULL)
				grantset_set_expiry(set, g,
				    (int64_t)(rng() % 100000));
			break;
		case 3:
			if (g != NULL) {
				assert_ptr_equal(grantset_find(set, g->id), g);
				assert_true(count_of_pid(set,
				    g->supervisor_pid) >= 1);
			}
			continue;
		}
		if (op % 97 != 0)
			continue;
		for (size_t j = 0; j < RANDOM_POOL; j++)
			if (pool[j] != NULL) {
				live++;
				if (pool[j]->expires_ms < min)
					min = pool[j]->expires_ms;
			}
		assert_int_equal(grantset_count(set), live);
		soonest = grantset_soonest(set);
		if (live == 0)
			assert_null(soonest);
		else
			assert_int_equal(soonest->expires_ms, min);
	}
	free_set(set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_find_remove),
		cmocka_unit_test(test_many_grants),
		cmocka_unit_test(test_expiry_order),
		cmocka_unit_test(test_supervisor_pid),
		cmocka_unit_test(test_children),
		cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

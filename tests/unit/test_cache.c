/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the decision cache: expiry, LRU bound, generations, stats. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "cache.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The largest cache cache_new() accepts (CACHE_ENTRIES_MAX in cache.c). */
#define LARGEST_CACHE ((size_t)1 << 24)

/* The size the memory figure is asked for, and its budget. */
#define FILL_ENTRIES 65536
#define FILL_BUDGET ((size_t)32 << 20)

/* Operations of the random run and of the timing loop. */
#define RANDOM_OPERATIONS 1000000
#define TIMED_LOOKUPS 1000000

/* ------------------------------------------------------------ helpers */

/* The fake clock every test but one runs on. */
static int64_t fake_now;

static int64_t
fake_clock(void)
{
	return fake_now;
}

static struct cache *
new_cache(size_t max_entries)
{
	struct cache *cache;

	fake_now = 0;
	cache = cache_new(max_entries, fake_clock);
	assert_non_null(cache);
	return cache;
}

static struct cache_stats
stats_of(const struct cache *cache)
{
	struct cache_stats st;

	cache_get_stats(cache, &st);
	return st;
}

/* Fail at the caller's line when any counter differs from what is given. */
#define assert_stats(cache, entries_, hits_, misses_, inserts_, \
    evictions_, generation_) \
	do { \
		struct cache_stats st_ = stats_of(cache); \
		assert_int_equal(st_.entries, (entries_)); \
		assert_int_equal(st_.hits, (hits_)); \
		assert_int_equal(st_.misses, (misses_)); \
		assert_int_equal(st_.inserts, (inserts_)); \
		assert_int_equal(st_.evictions, (evictions_)); \
		assert_int_equal(st_.generation, (generation_)); \
	} while (0)

/* Key number N, spread over several grants and actions. */
static void
numbered_key(unsigned n, char grant[32], unsigned *action, char object[64])
{
	snprintf(grant, 32, "grant-%u", n % 13);
	*action = n % 7;
	snprintf(object, 64, "/srv/data/file-%u", n);
}

static void
insert_numbered(struct cache *cache, unsigned n, int64_t expires_ms)
{
	char grant[32], object[64];
	unsigned action;

	numbered_key(n, grant, &action, object);
	cache_insert(cache, grant, action, object, expires_ms);
}

static bool
lookup_numbered(struct cache *cache, unsigned n)
{
	char grant[32], object[64];
	unsigned action;

	numbered_key(n, grant, &action, object);
	return cache_lookup(cache, grant, action, object);
}

/* Resident pages of this process, from /proc/self/statm. */
static size_t
resident_bytes(void)
{
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "re");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%lu %lu", &size, &resident), 2);
	fclose(f);
	return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static int64_t
monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A deterministic generator (splitmix64), so a failure can be replayed. */
static uint64_t
next_random(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* ------------------------------------------------------------- tests */

static void
test_bad_sizes(void **state)
{
	(void)state;
	errno = 0;
	assert_null(cache_new(0, fake_clock));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(cache_new(LARGEST_CACHE + 1, NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(cache_new(SIZE_MAX, NULL));
	cache_free(NULL);
}

/* The largest cache is accepted and costs memory only as it is used. */
static void
test_largest_cache(void **state)
{
	struct cache *cache;
	size_t before, after;

	(void)state;
	before = resident_bytes();
	cache = new_cache(LARGEST_CACHE);
	insert_numbered(cache, 1, 10);
	assert_true(lookup_numbered(cache, 1));
	assert_false(lookup_numbered(cache, 2));
	after = resident_bytes();
	assert_int_equal(stats_of(cache).max_entries, LARGEST_CACHE);
	printf("# %zu-entry cache: resident delta %zu KiB\n", LARGEST_CACHE,
	    (after - before) >> 10);
	/* Valgrind zeroes calloc()ed memory by hand, touching every page. */
	if (!RUNNING_ON_VALGRIND)
		assert_true(after - before < (size_t)8 << 20);
	cache_free(cache);
}

static void
test_expiry(void **state)
{
	struct cache *cache = new_cache(8);

	(void)state;
	cache_insert(cache, "g1", 1, "/etc/hosts", 100);
	assert_true(cache_lookup(cache, "g1", 1, "/etc/hosts"));
	fake_now = 99;
	assert_true(cache_lookup(cache, "g1", 1, "/etc/hosts"));
	assert_int_equal(stats_of(cache).entries, 1);
	fake_now = 100;
	assert_false(cache_lookup(cache, "g1", 1, "/etc/hosts"));
	/* The expired slot was freed when met. */
	assert_int_equal(stats_of(cache).entries, 0);
	fake_now = 101;
	assert_false(cache_lookup(cache, "g1", 1, "/etc/hosts"));

	/* Found only after its expiry: a miss as well. */
	cache_insert(cache, "g1", 1, "/etc/passwd", 200);
	fake_now = 5000;
	assert_false(cache_lookup(cache, "g1", 1, "/etc/passwd"));
	assert_stats(cache, 0, 2, 3, 2, 0, 0);
	cache_free(cache);
}

/* An expiry already reached stores nothing and ends an existing entry. */
static void
test_insert_expired(void **state)
{
	struct cache *cache = new_cache(4);

	(void)state;
	fake_now = 1000;
	cache_insert(cache, "g", 1, "x", 1000);
	cache_insert(cache, "g", 1, "y", INT64_MIN);
	assert_false(cache_lookup(cache, "g", 1, "x"));
	assert_false(cache_lookup(cache, "g", 1, "y"));
	assert_stats(cache, 0, 0, 2, 0, 0, 0);

	cache_insert(cache, "g", 1, "x", 2000);
	assert_true(cache_lookup(cache, "g", 1, "x"));
	cache_insert(cache, "g", 1, "x", 999);
	assert_false(cache_lookup(cache, "g", 1, "x"));
	assert_stats(cache, 0, 1, 3, 1, 0, 0);

	cache_insert(cache, "g", 1, "z", INT64_MAX);
	fake_now = INT64_MAX - 1;
	assert_true(cache_lookup(cache, "g", 1, "z"));
	cache_free(cache);
}

/* Re-inserting a key moves its expiry, either way, and makes it newest. */
static void
test_reinsert(void **state)
{
	struct cache *cache = new_cache(3);

	(void)state;
	cache_insert(cache, "g", 1, "a", 100);
	cache_insert(cache, "g", 1, "b", 100);
	cache_insert(cache, "g", 1, "c", 100);
	cache_insert(cache, "g", 1, "a", 300);
	assert_int_equal(stats_of(cache).entries, 3);
	/* Now b is the least recently used. */
	cache_insert(cache, "g", 1, "d", 300);
	assert_false(cache_lookup(cache, "g", 1, "b"));
	fake_now = 200;
	assert_true(cache_lookup(cache, "g", 1, "a"));
	assert_true(cache_lookup(cache, "g", 1, "d"));
	assert_false(cache_lookup(cache, "g", 1, "c"));
	cache_insert(cache, "g", 1, "a", 250);
	fake_now = 250;
	assert_false(cache_lookup(cache, "g", 1, "a"));
	assert_stats(cache, 1, 2, 3, 6, 1, 0);
	cache_free(cache);
}

/* A full cache drops its least recently used entry, never a used one. */
static void
test_eviction(void **state)
{
	const unsigned max = 16;
	struct cache *cache = new_cache(max);

	(void)state;
	for (unsigned n = 0; n < max; n++)
		insert_numbered(cache, n, 1000);
	assert_int_equal(stats_of(cache).entries, max);
	/* Key 0 is the oldest insert; a lookup makes it the newest. */
	assert_true(lookup_numbered(cache, 0));
	insert_numbered(cache, max, 1000);
	assert_int_equal(stats_of(cache).entries, max);
	assert_int_equal(stats_of(cache).evictions, 1);
	assert_false(lookup_numbered(cache, 1));
	assert_true(lookup_numbered(cache, 0));
	for (unsigned n = 2; n <= max; n++)
		assert_true(lookup_numbered(cache, n));

	/* Another max inserts replace every entry, oldest first. */
	for (unsigned n = max + 1; n <= 2 * max; n++) {
		insert_numbered(cache, n, 1000);
		assert_int_equal(stats_of(cache).entries, max);
	}
	for (unsigned n = 0; n <= max; n++)
		assert_false(lookup_numbered(cache, n));
	for (unsigned n = max + 1; n <= 2 * max; n++)
		assert_true(lookup_numbered(cache, n));
	assert_int_equal(stats_of(cache).evictions, 1 + max);
	cache_free(cache);
}

static void
test_single_entry(void **state)
{
	struct cache *cache = new_cache(1);

	(void)state;
	cache_insert(cache, "g", 1, "a", 10);
	assert_true(cache_lookup(cache, "g", 1, "a"));
	cache_insert(cache, "g", 1, "a", 20);
	assert_stats(cache, 1, 1, 0, 2, 0, 0);
	cache_insert(cache, "g", 1, "b", 20);
	assert_false(cache_lookup(cache, "g", 1, "a"));
	assert_true(cache_lookup(cache, "g", 1, "b"));
	assert_stats(cache, 1, 2, 1, 3, 1, 0);
	cache_invalidate(cache);
	assert_false(cache_lookup(cache, "g", 1, "b"));
	cache_insert(cache, "g", 1, "c", 20);
	assert_true(cache_lookup(cache, "g", 1, "c"));
	fake_now = 20;
	assert_false(cache_lookup(cache, "g", 1, "c"));
	cache_insert(cache, "g", 1, "d", 30);
	assert_true(cache_lookup(cache, "g", 1, "d"));
	assert_stats(cache, 1, 4, 3, 5, 1, 1);
	cache_free(cache);
}

/* After invalidation every entry is a miss; the cache then works anew. */
static void
test_invalidate(void **state)
{
	const unsigned max = 100;
	struct cache *cache = new_cache(max);

	(void)state;
	for (unsigned n = 0; n < max; n++)
		insert_numbered(cache, n, 1000);
	cache_invalidate(cache);
	assert_int_equal(stats_of(cache).generation, 1);
	/* Stale slots stay until met: half are met here. */
	assert_int_equal(stats_of(cache).entries, max);
	for (unsigned n = 0; n < max / 2; n++)
		assert_false(lookup_numbered(cache, n));
	assert_int_equal(stats_of(cache).entries, max / 2);

	/* The rest are reclaimed by eviction, oldest first. */
	for (unsigned n = max; n < 2 * max; n++)
		insert_numbered(cache, n, 1000);
	assert_int_equal(stats_of(cache).entries, max);
	assert_int_equal(stats_of(cache).evictions, max / 2);
	for (unsigned n = 0; n < max; n++)
		assert_false(lookup_numbered(cache, n));
	for (unsigned n = max; n < 2 * max; n++)
		assert_true(lookup_numbered(cache, n));

	/* Re-inserting a stale key makes it live again. */
	cache_invalidate(cache);
	cache_invalidate(cache);
	insert_numbered(cache, max, 1000);
	assert_true(lookup_numbered(cache, max));
	assert_false(lookup_numbered(cache, max + 1));
	assert_stats(cache, max - 1, max + 1, 3 * max / 2 + 1, 2 * max + 1,
	    max / 2, 3);
	cache_free(cache);
}

/*
 * Keys that share bytes once run together must stay distinct: every one
 * is inserted alone and looked up against all the others.
 */
static const struct {
	const char *grant;
	unsigned action;
	const char *object;
} distinct_keys[] = {
	{ "a", 1, "bc" },
	{ "ab", 1, "c" },
	{ "abc", 1, "" },
	{ "", 1, "abc" },
	{ "a", 2, "bc" },
	{ "a", 0, "bc" },
	{ "a", 0x100, "bc" },
	{ "a", 0x10000, "bc" },
	{ "a", 0x1000000, "bc" },
	{ "a", UINT32_MAX, "bc" },
	{ "a", 1, "b" },
	{ "a", 1, "bc\x01" },
	{ "a\x01", 1, "bc" },
	{ "", 0, "" },
	{ "", 1, "" },
	{ "1", 0, "" },
	{ "", 0, "1" },
	{ "g1", 12, "x" },
	{ "g1", 1, "2x" },
	{ "g11", 2, "x" },
	/* Lengths either side of SipHash's 8-byte words. */
	{ "1234567", 1, "" },
	{ "12345678", 1, "" },
	{ "1234567", 1, "8" },
	{ "", 1, "12345678" },
	{ "", 1, "123456789" },
};

static void
test_distinct_keys(void **state)
{
	const size_t count = ARRAY_SIZE(distinct_keys);
	struct cache *all = new_cache(count);

	(void)state;
	for (size_t i = 0; i < count; i++) {
		struct cache *one = new_cache(count);

		cache_insert(one, distinct_keys[i].grant,
		    distinct_keys[i].action, distinct_keys[i].object, 10);
		for (size_t j = 0; j < count; j++) {
			bool hit = cache_lookup(one, distinct_keys[j].grant,
			    distinct_keys[j].action, distinct_keys[j].object);

			if (hit != (i == j))
				fail_msg("key %zu inserted, key %zu %s", i, j,
				    hit ? "hits" : "misses");
		}
		cache_free(one);
		cache_insert(all, distinct_keys[i].grant,
		    distinct_keys[i].action, distinct_keys[i].object, 10);
	}
	assert_int_equal(stats_of(all).entries, count);
	for (size_t i = 0; i < count; i++)
		assert_true(cache_lookup(all, distinct_keys[i].grant,
		    distinct_keys[i].action, distinct_keys[i].object));
	assert_int_equal(stats_of(all).evictions, 0);
	cache_free(all);
}

/* Every counter, step by step. */
static void
test_stats(void **state)
{
	struct cache *cache = new_cache(2);

	(void)state;
	assert_stats(cache, 0, 0, 0, 0, 0, 0);
	assert_int_equal(stats_of(cache).max_entries, 2);
	assert_false(cache_lookup(cache, "g", 1, "A"));
	assert_stats(cache, 0, 0, 1, 0, 0, 0);
	cache_insert(cache, "g", 1, "A", 10);
	assert_stats(cache, 1, 0, 1, 1, 0, 0);
	assert_true(cache_lookup(cache, "g", 1, "A"));
	assert_stats(cache, 1, 1, 1, 1, 0, 0);
	cache_insert(cache, "g", 1, "B", 10);
	assert_stats(cache, 2, 1, 1, 2, 0, 0);
	cache_insert(cache, "g", 1, "C", 10);	/* evicts A */
	assert_stats(cache, 2, 1, 1, 3, 1, 0);
	assert_false(cache_lookup(cache, "g", 1, "A"));
	assert_stats(cache, 2, 1, 2, 3, 1, 0);
	cache_insert(cache, "g", 1, "C", 20);	/* a refresh */
	assert_stats(cache, 2, 1, 2, 4, 1, 0);
	fake_now = 10;
	assert_false(cache_lookup(cache, "g", 1, "B"));	/* expired */
	assert_stats(cache, 1, 1, 3, 4, 1, 0);
	cache_invalidate(cache);
	assert_stats(cache, 1, 1, 3, 4, 1, 1);
	assert_false(cache_lookup(cache, "g", 1, "C"));	/* stale */
	assert_stats(cache, 0, 1, 4, 4, 1, 1);
	cache_insert(cache, "g", 1, "A", 5);	/* already expired */
	assert_stats(cache, 0, 1, 4, 4, 1, 1);
	assert_int_equal(stats_of(cache).max_entries, 2);
	cache_free(cache);
}

/* With no clock given the cache runs on CLOCK_BOOTTIME milliseconds. */
static void
test_boottime_clock(void **state)
{
	struct cache *cache = cache_new(4, NULL);
	struct timespec ts;
	int64_t now;

	(void)state;
	assert_non_null(cache);
	assert_int_equal(clock_gettime(CLOCK_BOOTTIME, &ts), 0);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	cache_insert(cache, "g", 1, "later", now + 60000);
	cache_insert(cache, "g", 1, "past", now - 1);
	assert_true(cache_lookup(cache, "g", 1, "later"));
	assert_false(cache_lookup(cache, "g", 1, "past"));
	cache_free(cache);
}

/* 65,536 entries: all found, none invented, and the memory they take. */
static void
test_fill_memory(void **state)
{
	struct cache *cache;
	size_t before, after;

	(void)state;
	before = resident_bytes();
	cache = new_cache(FILL_ENTRIES);
	for (unsigned n = 0; n < FILL_ENTRIES; n++)
		insert_numbered(cache, n, 1000);
	after = resident_bytes();
	assert_int_equal(stats_of(cache).entries, FILL_ENTRIES);
	printf("# %u entries: resident delta %zu KiB, %zu bytes/entry\n",
	    FILL_ENTRIES, (after - before) >> 10,
	    (after - before) / FILL_ENTRIES);
	assert_true(after - before < FILL_BUDGET);
	for (unsigned n = 0; n < FILL_ENTRIES; n++)
		if (!lookup_numbered(cache, n))
			fail_msg("key %u lost", n);
	for (unsigned n = FILL_ENTRIES; n < 2 * FILL_ENTRIES; n++)
		if (lookup_numbered(cache, n))
			fail_msg("key %u never inserted but found", n);
	assert_stats(cache, FILL_ENTRIES, FILL_ENTRIES, FILL_ENTRIES,
	    FILL_ENTRIES, 0, 0);
	cache_free(cache);
}

/*
 * A million random operations against a model written the slow, obvious
 * way: every answer and every counter must agree, and entries <= max.
 */
#define MODEL_KEYS 128
#define MODEL_MAX 64

struct model {
	bool present[MODEL_KEYS];
	int64_t expires_ms[MODEL_KEYS];
	uint64_t generation[MODEL_KEYS];
	uint64_t used[MODEL_KEYS];	/* when last inserted or hit */
	uint64_t tick;
	uint64_t now_generation;
	size_t entries;
	uint64_t hits, misses, inserts, evictions;
};

static void
model_remove(struct model *m, unsigned k)
{
	m->present[k] = false;
	m->entries--;
}

static bool
model_lookup(struct model *m, unsigned k)
{
	if (!m->present[k]) {
		m->misses++;
		return false;
	}
	if (m->generation[k] != m->now_generation ||
	    fake_now >= m->expires_ms[k]) {
		model_remove(m, k);
		m->misses++;
		return false;
	}
	m->used[k] = ++m->tick;
	m->hits++;
	return true;
}

static void
model_insert(struct model *m, unsigned k, int64_t expires_ms)
{
	if (fake_now >= expires_ms) {
		if (m->present[k])
			model_remove(m, k);
		return;
	}
	if (!m->present[k] && m->entries == MODEL_MAX) {
		unsigned oldest = MODEL_KEYS;

		for (unsigned i = 0; i < MODEL_KEYS; i++)
			if (m->present[i] && (oldest == MODEL_KEYS ||
			    m->used[i] < m->used[oldest]))
				oldest = i;
		model_remove(m, oldest);
		m->evictions++;
	}
	if (!m->present[k]) {
		m->present[k] = true;
		m->entries++;
	}
	m->expires_ms[k] = expires_ms;
	m->generation[k] = m->now_generation;
	m->used[k] = ++m->tick;
	m->inserts++;
}

static void
test_random_against_model(void **state)
{
	static struct model m;
	struct cache *cache = new_cache(MODEL_MAX);
	uint64_t seed = UINT64_C(0x5eed0fcace), rng = seed;
	struct cache_stats st;

	(void)state;
	memset(&m, 0, sizeof(m));
	for (unsigned op = 0; op < RANDOM_OPERATIONS; op++) {
		uint64_t r = next_random(&rng);
		unsigned k = (unsigned)(r >> 32) % MODEL_KEYS;
		unsigned what = (unsigned)(r & 0xffff) % 1000;
		int64_t ttl = (int64_t)((r >> 16) & 0xff) - 8;

		if (what < 500) {
			bool hit = lookup_numbered(cache, k);

			if (hit != model_lookup(&m, k))
				fail_msg("seed %#" PRIx64 " op %u: key %u %s",
				    seed, op, k, hit ? "hit" : "missed");
		} else if (what < 950) {
			insert_numbered(cache, k, fake_now + ttl);
			model_insert(&m, k, fake_now + ttl);
		} else if (what < 999) {
			fake_now += (int64_t)(r >> 60);
		} else {
			cache_invalidate(cache);
			m.now_generation++;
		}
		cache_get_stats(cache, &st);
		if (st.entries > MODEL_MAX || st.entries != m.entries)
			fail_msg("seed %#" PRIx64 " op %u: %zu entries, "
			    "model %zu", seed, op, st.entries, m.entries);
	}
	assert_stats(cache, m.entries, m.hits, m.misses, m.inserts,
	    m.evictions, m.now_generation);
	printf("# random run: %" PRIu64 " hits, %" PRIu64 " misses, %" PRIu64
	    " inserts, %" PRIu64 " evictions, generation %" PRIu64 "\n",
	    st.hits, st.misses, st.inserts, st.evictions, st.generation);
	cache_free(cache);
}

/* Time lookups of one hot key with a 100-byte object. */
static void
time_hot_lookups(const char *name, cache_clock_fn clock)
{
	static const char object[] =
	    "/home/agent/projects/ztgate/build/tests/unit/fixtures/"
	    "decision-cache/hot-object-0000000000000000.txt";
	struct cache *cache;
	unsigned hits = 0;
	int64_t start, elapsed;

	_Static_assert(sizeof(object) - 1 == 100, "a 100-byte object");
	fake_now = 0;
	cache = cache_new(FILL_ENTRIES, clock);
	assert_non_null(cache);
	for (unsigned n = 0; n < 1000; n++)
		insert_numbered(cache, n, INT64_MAX);
	cache_insert(cache, "0123456789abcdef0123456789abcdef", 3, object,
	    INT64_MAX);
	start = monotonic_ns();
	for (unsigned i = 0; i < TIMED_LOOKUPS; i++)
		hits += cache_lookup(cache,
		    "0123456789abcdef0123456789abcdef", 3, object);
	elapsed = monotonic_ns() - start;
	assert_int_equal(hits, TIMED_LOOKUPS);
	printf("# hot lookup, 100-byte object, %s clock: %.1f ns/lookup\n",
	    name, (double)elapsed / TIMED_LOOKUPS);
	cache_free(cache);
}

static void
test_lookup_time(void **state)
{
	(void)state;
	time_hot_lookups("fake", fake_clock);
	time_hot_lookups("CLOCK_BOOTTIME", NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test(test_largest_cache),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_insert_expired),
		cmocka_unit_test(test_reinsert),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_single_entry),
		cmocka_unit_test(test_invalidate),
		cmocka_unit_test(test_distinct_keys),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_boottime_clock),
		cmocka_unit_test(test_fill_memory),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_lookup_time),
	};

	return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}

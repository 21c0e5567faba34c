/* SPDX-License-Identifier: Apache-2.0 */
/* The decision cache: short-lived low-risk allows, bounded, revocable at once. */
#ifndef ZTD_CACHE_H
#define ZTD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds on CLOCK_BOOTTIME; injectable for tests. */
typedef int64_t (*cache_clock_fn)(void);

struct cache_stats {
	size_t entries;		/* live slots (some may be stale) */
	size_t max_entries;
	uint64_t hits, misses, inserts, evictions;
	uint64_t generation;
};

struct cache;

/*
 * A cache of at most MAX_ENTRIES allows (>= 1).  Memory is allocated once
 * here and never grows: a full cache evicts its least recently used entry.
 * CLOCK may be NULL (CLOCK_BOOTTIME).  Returns NULL on out-of-memory.
 */
struct cache *cache_new(size_t max_entries, cache_clock_fn clock);
void cache_free(struct cache *cache);

/*
 * Is there a live allow for (GRANT, ACTION, OBJECT)?  GRANT is the grant id
 * (a NUL-terminated string), ACTION a small integer, OBJECT the canonical
 * object text.  An entry is live while now < its expiry and it was inserted
 * in the current generation.  Counts a hit or a miss.
 */
bool cache_lookup(struct cache *cache, const char *grant, unsigned action,
    const char *object);

/*
 * Remember an allow until EXPIRES_MS (on the cache's clock; the caller has
 * already bounded it by decision_ttl and the grant's remaining life).  Only
 * low-risk allows may be inserted: the caller never inserts anything else.
 */
void cache_insert(struct cache *cache, const char *grant, unsigned action,
    const char *object, int64_t expires_ms);

/* Forget every entry at once (reload, revoke, attestation change): O(1). */
void cache_invalidate(struct cache *cache);

void cache_get_stats(const struct cache *cache, struct cache_stats *stats);

#endif

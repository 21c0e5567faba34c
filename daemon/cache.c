/* SPDX-License-Identifier: Apache-2.0 */
/* The decision cache: a fixed table of keyed digests with LRU and expiry. */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cache.h"
#include "zt_clock.h"

/*
 * The largest cache cache_new() accepts.  Slot numbers are 32-bit and slot
 * 0 is the LRU list's head, so this is far from any limit; it bounds what a
 * mistaken configuration can reserve (about 0.9 GB of address space, touched
 * only as entries arrive).
 */
#define CACHE_ENTRIES_MAX ((size_t)1 << 24)

/* No slot: an empty bucket, the end of a chain or of the free list. */
#define NIL 0

/*
 * One entry.  The key is kept only as its 128-bit keyed digest, never as
 * text: the chance that two keys among 2^24 share a digest is below 2^-80,
 * and without the random key nobody can search for such a pair.
 */
struct slot {
	uint64_t digest[2];
	int64_t expires_ms;
	uint64_t generation;
	uint32_t newer, older;	/* LRU list, a circle through slot 0 */
	uint32_t chain;		/* next in its bucket or the free list */
};

struct cache {
	struct slot *slots;	/* max_entries + 1; slot 0 heads the LRU */
	uint32_t *buckets;	/* chain heads, a power of two >= max */
	size_t mask;		/* number of buckets - 1 */
	size_t max_entries;
	size_t entries;
	uint32_t fresh;		/* the first slot never used yet */
	uint32_t free_list;	/* slots given back, linked through chain */
	uint64_t generation;
	uint64_t hits, misses, inserts, evictions;
	cache_clock_fn clock;
	uint64_t key[2];	/* the SipHash key, from getrandom() */
};

/* ------------------------------------------------------------ SipHash */

/*
 * SipHash-2-4 with its 128-bit output (Aumasson and Bernstein's reference
 * siphash.c with outlen 16), fed in pieces so the key's three parts are
 * hashed where they lie, without a copy.
 */
struct siphash {
	uint64_t v0, v1, v2, v3;
	uint64_t tail;		/* the bytes of an unfinished word, LE */
	size_t length;		/* bytes absorbed so far */
};

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static inline void
sip_round(struct siphash *s)
{
	s->v0 += s->v1;
	s->v1 = ROTL(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = ROTL(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = ROTL(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = ROTL(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = ROTL(s->v2, 32);
}

static inline void
sip_compress(struct siphash *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

static inline void
sip_init(struct siphash *s, const uint64_t key[2])
{
	s->v0 = UINT64_C(0x736f6d6570736575) ^ key[0];
	s->v1 = UINT64_C(0x646f72616e646f6d) ^ key[1] ^ 0xee;
	s->v2 = UINT64_C(0x6c7967656e657261) ^ key[0];
	s->v3 = UINT64_C(0x7465646279746573) ^ key[1];
	s->tail = 0;
	s->length = 0;
}

static inline void
sip_update(struct siphash *s, const void *data, size_t size)
{
	const unsigned char *p = data;
	unsigned fill = s->length & 7;
	uint64_t word;

	s->length += size;
	if (fill != 0) {
		for (; fill < 8 && size > 0; fill++, size--)
			s->tail |= (uint64_t)*p++ << (8 * fill);
		if (fill < 8)
			return;
		sip_compress(s, s->tail);
		s->tail = 0;
	}
	for (; size >= 8; p += 8, size -= 8) {
		memcpy(&word, p, 8);
		sip_compress(s, le64toh(word));
	}
	for (unsigned i = 0; i < size; i++)
		s->tail |= (uint64_t)p[i] << (8 * i);
}

static inline void
sip_final(struct siphash *s, uint64_t out[2])
{
	sip_compress(s, s->tail | (uint64_t)s->length << 56);
	s->v2 ^= 0xee;
	for (int i = 0; i < 4; i++)
		sip_round(s);
	out[0] = s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
	s->v1 ^= 0xdd;
	for (int i = 0; i < 4; i++)
		sip_round(s);
	out[1] = s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

/*
 * The digest of GRANT '\0' ACTION(8 bytes, LE) OBJECT.  The encoding is
 * unambiguous: the grant ends at its NUL, the action has a fixed width, and
 * the object is the rest ("a"+"bc" and "ab"+"c" differ).
 */
static void
digest_key(const struct cache *cache, const char *grant, unsigned action,
    const char *object, uint64_t digest[2])
{
	struct siphash s;
	uint64_t action_le = htole64(action);

	sip_init(&s, cache->key);
	sip_update(&s, grant, strlen(grant) + 1);
	sip_update(&s, &action_le, sizeof(action_le));
	sip_update(&s, object, strlen(object));
	sip_final(&s, digest);
}

/* -------------------------------------------------------------- table */


static inline uint32_t *
bucket_of(struct cache *cache, const uint64_t digest[2])
{
	return &cache->buckets[digest[0] & cache->mask];
}

/*
 * The slot holding DIGEST, or NIL; *LINK is set to the chain link that
 * points at it, so that it can be unlinked without another walk.
 */
static uint32_t
find(struct cache *cache, const uint64_t digest[2], uint32_t **link)
{
	uint32_t *l = bucket_of(cache, digest);

	for (; *l != NIL; l = &cache->slots[*l].chain) {
		const struct slot *s = &cache->slots[*l];

		if (s->digest[0] == digest[0] && s->digest[1] == digest[1])
			break;
	}
	*link = l;
	return *l;
}

static inline void
lru_unlink(struct cache *cache, uint32_t i)
{
	struct slot *s = &cache->slots[i];

	cache->slots[s->newer].older = s->older;
	cache->slots[s->older].newer = s->newer;
}

/*
 * Make slot I the most recently used.  Slot 0 closes the circle: the
 * newest entry's newer is 0 and the oldest's older is 0, so slot 0's older
 * is the newest entry and its newer the oldest.
 */
static inline void
lru_push(struct cache *cache, uint32_t i)
{
	struct slot *head = &cache->slots[0];
	struct slot *s = &cache->slots[i];

	s->older = head->older;
	s->newer = 0;
	cache->slots[head->older].newer = i;
	head->older = i;
}

/* Forget slot I, which LINK points at, and put it on the free list. */
static void
drop(struct cache *cache, uint32_t *link, uint32_t i)
{
	struct slot *s = &cache->slots[i];

	*link = s->chain;
	lru_unlink(cache, i);
	s->chain = cache->free_list;
	cache->free_list = i;
	cache->entries--;
}

/* Drop the least recently used slot, whatever its state, to make room. */
static void
evict(struct cache *cache)
{
	uint32_t victim = cache->slots[0].newer;
	uint32_t *link = bucket_of(cache, cache->slots[victim].digest);

	while (*link != victim)
		link = &cache->slots[*link].chain;
	drop(cache, link, victim);
	cache->evictions++;
}

/* A slot to fill: a freed one, else a never-used one, else the LRU one. */
static uint32_t
take_slot(struct cache *cache)
{
	uint32_t i;

	if (cache->free_list == NIL) {
		if (cache->fresh <= cache->max_entries)
			return cache->fresh++;
		evict(cache);
	}
	i = cache->free_list;
	cache->free_list = cache->slots[i].chain;
	return i;
}

/* ---------------------------------------------------------------- API */

struct cache *
cache_new(size_t max_entries, cache_clock_fn clock)
{
	struct cache *cache;
	size_t buckets = 1;
	ssize_t n;

	if (max_entries < 1 || max_entries > CACHE_ENTRIES_MAX) {
		errno = EINVAL;
		return NULL;
	}
	while (buckets < max_entries)
		buckets <<= 1;
	cache = calloc(1, sizeof(*cache));
	if (cache == NULL)
		return NULL;
	/*
	 * calloc() of this size maps fresh zero pages: memory is committed
	 * only as slots and buckets are first written.  All zeroes is already
	 * the right start: empty buckets, an empty LRU list through slot 0.
	 */
	cache->slots = calloc(max_entries + 1, sizeof(*cache->slots));
	cache->buckets = calloc(buckets, sizeof(*cache->buckets));
	if (cache->slots == NULL || cache->buckets == NULL)
		goto free_cache;
	do
		n = getrandom(cache->key, sizeof(cache->key), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(cache->key)) {
		if (n >= 0)
			errno = EIO;
		goto free_cache;
	}
	cache->mask = buckets - 1;
	cache->max_entries = max_entries;
	cache->fresh = 1;
	cache->clock = clock != NULL ? clock : zt_boottime_ms;
	return cache;

free_cache:
	cache_free(cache);
	return NULL;
}

void
cache_free(struct cache *cache)
{
	if (cache == NULL)
		return;
	explicit_bzero(cache->key, sizeof(cache->key));
	free(cache->buckets);
	free(cache->slots);
	free(cache);
}

bool
cache_lookup(struct cache *cache, const char *grant, unsigned action,
    const char *object)
{
	uint64_t digest[2];
	uint32_t *link, i;
	struct slot *s;

	digest_key(cache, grant, action, object, digest);
	i = find(cache, digest, &link);
	if (i == NIL) {
		cache->misses++;
		return false;
	}
	s = &cache->slots[i];
	/* Dead entries, stale or expired, are reclaimed when met. */
	if (s->generation != cache->generation ||
	    cache->clock() >= s->expires_ms) {
		drop(cache, link, i);
		cache->misses++;
		return false;
	}
	lru_unlink(cache, i);
	lru_push(cache, i);
	cache->hits++;
	return true;
}

/*
 * An expiry already reached stores nothing and forgets any entry for the
 * key (the caller's latest word is that it is over); it is not counted.
 * Anything else counts as an insert, refreshing an existing entry or not.
 */
void
cache_insert(struct cache *cache, const char *grant, unsigned action,
    const char *object, int64_t expires_ms)
{
	uint64_t digest[2];
	uint32_t *link, i;
	struct slot *s;

	digest_key(cache, grant, action, object, digest);
	i = find(cache, digest, &link);
	if (cache->clock() >= expires_ms) {
		if (i != NIL)
			drop(cache, link, i);
		return;
	}
	if (i != NIL) {
		lru_unlink(cache, i);
	} else {
		/* Taking a slot may evict and so rewrite chains: no LINK. */
		i = take_slot(cache);
		link = bucket_of(cache, digest);
		s = &cache->slots[i];
		s->digest[0] = digest[0];
		s->digest[1] = digest[1];
		s->chain = *link;
		*link = i;
		cache->entries++;
	}
	s = &cache->slots[i];
	s->expires_ms = expires_ms;
	s->generation = cache->generation;
	lru_push(cache, i);
	cache->inserts++;
}

/* Older generations are dead from now on; their slots go when met. */
void
cache_invalidate(struct cache *cache)
{
	cache->generation++;
}

void
cache_get_stats(const struct cache *cache, struct cache_stats *stats)
{
	*stats = (struct cache_stats){
		.entries = cache->entries,
		.max_entries = cache->max_entries,
		.hits = cache->hits,
		.misses = cache->misses,
		.inserts = cache->inserts,
		.evictions = cache->evictions,
		.generation = cache->generation,
	};
}

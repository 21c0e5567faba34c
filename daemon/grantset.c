/* SPDX-License-Identifier: Apache-2.0 */
/* The set of live grants: hash tables by id and pid, an expiry heap. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "grant.h"
#include "grantset.h"
#include "zt_err.h"

#define BUCKETS_MIN 64

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t
mix(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

/*
 * Ids are ztd's own 128 random bits, so no peer can choose what lands in
 * one chain; the seed makes chains unpredictable all the same.
 */
static size_t
id_bucket(const struct grantset *set, const char *id)
{
	uint64_t h = set->seed ^ 0xcbf29ce484222325ull;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 0x100000001b3ull;
	return (size_t)(mix(h) & (set->n_buckets - 1));
}

static size_t
pid_bucket(const struct grantset *set, pid_t pid)
{
	return (size_t)(mix(set->seed ^ (uint64_t)(uint32_t)pid) &
	    (set->n_buckets - 1));
}

int
grantset_init(struct grantset *set)
{
	memset(set, 0, sizeof(*set));
	if (getrandom(&set->seed, sizeof(set->seed), 0) !=
	    (ssize_t)sizeof(set->seed))
		return -EIO;
	return 0;
}

void
grantset_free(struct grantset *set)
{
	free(set->by_id);
	free(set->by_pid);
	free(set->heap);
	memset(set, 0, sizeof(*set));
}

/* ------------------------------------------------------------ by id */

static void
id_link(struct grantset *set, struct grant *g)
{
	size_t b = id_bucket(set, g->id);

	g->links.id_next = set->by_id[b];
	set->by_id[b] = g;
}

static void
id_unlink(struct grantset *set, struct grant *g)
{
	struct grant **at = &set->by_id[id_bucket(set, g->id)];

	while (*at != NULL && *at != g)
		at = &(*at)->links.id_next;
	if (*at == g)
		*at = g->links.id_next;
	g->links.id_next = NULL;
}

struct grant *
grantset_find(const struct grantset *set, const char *id)
{
	if (set->n_buckets == 0)
		return NULL;
	for (struct grant *g = set->by_id[id_bucket(set, id)]; g != NULL;
	    g = g->links.id_next)
		if (strcmp(g->id, id) == 0)
			return g;
	return NULL;
}

/* ------------------------------------------------------------ by pid */

/*
 * A chain holds the first grant of each pid (its pid_prev is NULL); the
 * others of that pid hang off it by pid_next, so a lookup walks distinct
 * pids only, however many grants one process holds.
 */
static struct grant **
pid_head(const struct grantset *set, pid_t pid)
{
	struct grant **at = &set->by_pid[pid_bucket(set, pid)];

	while (*at != NULL && (*at)->supervisor_pid != pid)
		at = &(*at)->links.pid_chain;
	return at;
}

static void
pid_link(struct grantset *set, struct grant *g)
{
	struct grant **at = pid_head(set, g->supervisor_pid);
	struct grant *head = *at;

	g->links.pid_prev = NULL;
	g->links.pid_chain = NULL;
	if (head == NULL) {
		g->links.pid_next = NULL;
		*at = g;
		return;
	}
	/* After the head: the head keeps its place in the chain. */
	g->links.pid_prev = head;
	g->links.pid_next = head->links.pid_next;
	if (head->links.pid_next != NULL)
		head->links.pid_next->links.pid_prev = g;
	head->links.pid_next = g;
}

static void
pid_unlink(struct grantset *set, struct grant *g)
{
	struct grant *next = g->links.pid_next;

	if (g->links.pid_prev != NULL) {
		g->links.pid_prev->links.pid_next = next;
		if (next != NULL)
			next->links.pid_prev = g->links.pid_prev;
	} else {
		struct grant **at = pid_head(set, g->supervisor_pid);

		/* The head leaves: the next of its pid takes its place. */
		if (next != NULL) {
			next->links.pid_prev = NULL;
			next->links.pid_chain = g->links.pid_chain;
			*at = next;
		} else
			*at = g->links.pid_chain;
	}
	g->links.pid_prev = g->links.pid_next = g->links.pid_chain = NULL;
}

struct grant *
grantset_by_supervisor(const struct grantset *set, pid_t pid)
{
	if (set->n_buckets == 0)
		return NULL;
	return *pid_head(set, pid);
}

struct grant *
grantset_same_supervisor(const struct grant *g)
{
	return g->links.pid_next;
}

/* Twice the buckets when there are more grants than buckets.  Failing to
 * grow only makes chains longer. */
static void
maybe_grow(struct grantset *set)
{
	struct grant **by_id, **by_pid;
	size_t n = set->n_buckets * 2;

	if (set->count < set->n_buckets)
		return;
	by_id = calloc(n, sizeof(*by_id));
	by_pid = calloc(n, sizeof(*by_pid));
	if (by_id == NULL || by_pid == NULL) {
		free(by_id);
		free(by_pid);
		return;
	}
	free(set->by_id);
	free(set->by_pid);
	set->by_id = by_id;
	set->by_pid = by_pid;
	set->n_buckets = n;
	for (struct grant *g = set->oldest; g != NULL; g = g->links.newer)
		id_link(set, g);
	/* The oldest of each pid becomes its head again. */
	for (struct grant *g = set->oldest; g != NULL; g = g->links.newer) {
		g->links.pid_next = NULL;
		pid_link(set, g);
	}
}

/* ------------------------------------------------------------ by expiry */

static void
heap_place(struct grantset *set, size_t i, struct grant *g)
{
	set->heap[i] = g;
	g->links.heap_index = i;
}

static void
sift_up(struct grantset *set, size_t i)
{
	struct grant *g = set->heap[i];

	while (i > 0) {
		size_t up = (i - 1) / 2;

		if (set->heap[up]->expires_ms <= g->expires_ms)
			break;
		heap_place(set, i, set->heap[up]);
		i = up;
	}
	heap_place(set, i, g);
}

static void
sift_down(struct grantset *set, size_t i)
{
	struct grant *g = set->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= set->count)
			break;
		if (child + 1 < set->count && set->heap[child + 1]->expires_ms <
		    set->heap[child]->expires_ms)
			child++;
		if (g->expires_ms <= set->heap[child]->expires_ms)
			break;
		heap_place(set, i, set->heap[child]);
		i = child;
	}
	heap_place(set, i, g);
}

void
grantset_set_expiry(struct grantset *set, struct grant *g,
    int64_t expires_ms)
{
	size_t i = g->links.heap_index;

	g->expires_ms = expires_ms;
	sift_up(set, i);
	sift_down(set, g->links.heap_index);
}

struct grant *
grantset_soonest(const struct grantset *set)
{
	return set->count > 0 ? set->heap[0] : NULL;
}

/* ------------------------------------------------------------ the set */

int
grantset_add(struct grantset *set, struct grant *g)
{
	if (set->count >= GRANTS_MAX)
		return ZT_E_BUSY;
	/* Everything that can fail first: then the links cannot. */
	if (set->count == set->heap_size) {
		size_t n = set->heap_size == 0 ? BUCKETS_MIN :
		    set->heap_size * 2;
		struct grant **heap = reallocarray(set->heap, n,
		    sizeof(*heap));

		if (heap == NULL)
			return -ENOMEM;
		set->heap = heap;
		set->heap_size = n;
	}
	if (set->n_buckets == 0) {
		set->by_id = calloc(BUCKETS_MIN, sizeof(*set->by_id));
		set->by_pid = calloc(BUCKETS_MIN, sizeof(*set->by_pid));
		if (set->by_id == NULL || set->by_pid == NULL) {
			free(set->by_id);
			free(set->by_pid);
			set->by_id = set->by_pid = NULL;
			return -ENOMEM;
		}
		set->n_buckets = BUCKETS_MIN;
	}
	memset(&g->links, 0, sizeof(g->links));
	id_link(set, g);
	pid_link(set, g);
	g->links.older = set->newest;
	if (set->newest != NULL)
		set->newest->links.newer = g;
	else
		set->oldest = g;
	set->newest = g;
	heap_place(set, set->count, g);
	set->count++;
	sift_up(set, set->count - 1);
	maybe_grow(set);
	return 0;
}

void
grantset_remove(struct grantset *set, struct grant *g)
{
	struct grant *last;
	size_t i = g->links.heap_index;

	id_unlink(set, g);
	pid_unlink(set, g);
	if (g->links.older != NULL)
		g->links.older->links.newer = g->links.newer;
	else
		set->oldest = g->links.newer;
	if (g->links.newer != NULL)
		g->links.newer->links.older = g->links.older;
	else
		set->newest = g->links.older;
	g->links.older = g->links.newer = NULL;
	/* Out of its parent's children; its own children are orphans. */
	if (g->links.parent != NULL) {
		if (g->links.sibling_prev != NULL)
			g->links.sibling_prev->links.sibling_next =
			    g->links.sibling_next;
		else
			g->links.parent->links.first_child =
			    g->links.sibling_next;
		if (g->links.sibling_next != NULL)
			g->links.sibling_next->links.sibling_prev =
			    g->links.sibling_prev;
	}
	g->links.parent = g->links.sibling_prev = g->links.sibling_next = NULL;
	for (struct grant *c = g->links.first_child, *after; c != NULL;
	    c = after) {
		after = c->links.sibling_next;
		c->links.parent = NULL;
		c->links.sibling_prev = c->links.sibling_next = NULL;
	}
	g->links.first_child = NULL;
	/* The last leaf of the heap fills the hole. */
	set->count--;
	last = set->heap[set->count];
	if (i < set->count) {
		heap_place(set, i, last);
		sift_up(set, i);
		sift_down(set, last->links.heap_index);
	}
}

void
grantset_adopt(struct grant *parent, struct grant *child)
{
	child->links.parent = parent;
	child->links.sibling_prev = NULL;
	child->links.sibling_next = parent->links.first_child;
	if (parent->links.first_child != NULL)
		parent->links.first_child->links.sibling_prev = child;
	parent->links.first_child = child;
}

struct grant *
grantset_parent(const struct grant *g)
{
	return g->links.parent;
}

struct grant *
grantset_first_child(const struct grant *g)
{
	return g->links.first_child;
}

struct grant *
grantset_next_sibling(const struct grant *g)
{
	return g->links.sibling_next;
}

struct grant *
grantset_first(const struct grantset *set)
{
	return set->oldest;
}

struct grant *
grantset_next(const struct grant *g)
{
	return g->links.newer;
}

struct grant *
grantset_prev(const struct grant *g)
{
	return g->links.older;
}

size_t
grantset_count(const struct grantset *set)
{
	return set->count;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The set of live grants: by id, by supervisor pid, by expiry, by age. */
#ifndef ZTD_GRANTSET_H
#define ZTD_GRANTSET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct grant;

/*
 * Where a grant sits in the set (a member of struct grant; only
 * grantset.c reads or writes it).
 */
struct grant_links {
	struct grant *id_next;		/* hash chain by id */
	struct grant *pid_chain;	/* hash chain of the first grant of
					 * each supervisor pid */
	struct grant *pid_prev, *pid_next; /* grants of the same pid */
	struct grant *older, *newer;	/* by creation */
	struct grant *parent;		/* the grant this one lives under */
	struct grant *first_child;
	struct grant *sibling_prev, *sibling_next;
	size_t heap_index;		/* in the expiry heap */
};

/*
 * Lookups by id and by supervisor pid are hash tables (expected O(1),
 * hashed with a per-process random seed); the soonest expiry is the top
 * of a binary min-heap; creation order is a list, for listings and admin
 * walks.  The set never frees a grant.
 */
struct grantset {
	uint64_t seed;
	struct grant **by_id;		/* n_buckets chains */
	struct grant **by_pid;		/* n_buckets chains */
	size_t n_buckets;		/* a power of two, or 0 */
	struct grant **heap;		/* by expires_ms, soonest first */
	size_t heap_size;		/* allocated slots */
	size_t count;
	struct grant *oldest, *newest;
};

/* Seed SET's hashes; it is empty.  Returns 0 or -errno. */
int grantset_init(struct grantset *set);

/* Free SET's tables (not the grants it holds). */
void grantset_free(struct grantset *set);

/*
 * Add G (its id, supervisor_pid and expires_ms set, its id not in SET),
 * as the newest.  Returns 0, ZT_E_BUSY at GRANTS_MAX, or -ENOMEM (SET is
 * then as it was).
 */
int grantset_add(struct grantset *set, struct grant *g);

/* Take G out of SET; its children, if any, lose their parent link. */
void grantset_remove(struct grantset *set, struct grant *g);

/* The grant with ID (expired or not), or NULL. */
struct grant *grantset_find(const struct grantset *set, const char *id);

/* A grant supervised by PID, or NULL; grantset_same_supervisor(g) gives
 * the next one of that pid. */
struct grant *grantset_by_supervisor(const struct grantset *set, pid_t pid);
struct grant *grantset_same_supervisor(const struct grant *g);

/* Set G's expires_ms (G in SET). */
void grantset_set_expiry(struct grantset *set, struct grant *g,
    int64_t expires_ms);

/* The grant that expires first, or NULL when SET is empty. */
struct grant *grantset_soonest(const struct grantset *set);

/* Record that CHILD lives under PARENT (both in the set, CHILD newer). */
void grantset_adopt(struct grant *parent, struct grant *child);

/* The parent of G, or NULL; the first child of G, the next sibling. */
struct grant *grantset_parent(const struct grant *g);
struct grant *grantset_first_child(const struct grant *g);
struct grant *grantset_next_sibling(const struct grant *g);

/* The oldest grant, or NULL; the one created after G, or NULL. */
struct grant *grantset_first(const struct grantset *set);
struct grant *grantset_next(const struct grant *g);
/* The one created before G, or NULL. */
struct grant *grantset_prev(const struct grant *g);

/* How many grants SET holds. */
size_t grantset_count(const struct grantset *set);

#endif

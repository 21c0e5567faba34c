/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The learned addresses of a grant: an array of at most dns.max_entries
 * (4096 by default) entries, scanned linearly -- a lookup per connect to
 * an address no CIDR rule allows, a few microseconds at that bound.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "learned.h"

struct entry {
	int family;
	uint8_t addr[16];
	char name[254];
	int64_t expires_ms;
};

struct learned {
	struct entry *entries;
	size_t n, room;
};

static bool
same_address(const struct entry *e, int family, const uint8_t *addr)
{
	return e->family == family &&
	    memcmp(e->addr, addr, family == AF_INET ? 4 : 16) == 0;
}

/* The entry to overwrite in a full table: an expired one, else the one
 * that expires first. */
static struct entry *
victim(struct learned *l, int64_t now)
{
	struct entry *best = &l->entries[0];

	for (size_t i = 0; i < l->n; i++) {
		if (l->entries[i].expires_ms <= now)
			return &l->entries[i];
		if (l->entries[i].expires_ms < best->expires_ms)
			best = &l->entries[i];
	}
	return best;
}

int
learned_add(struct learned **lp, size_t max, int family, const uint8_t *addr,
    const char *name, int64_t expires_ms, int64_t now)
{
	struct learned *l = *lp;
	struct entry *e = NULL;

	if (strlen(name) >= sizeof(e->name) || max == 0 ||
	    (family != AF_INET && family != AF_INET6))
		return -EINVAL;
	if (l == NULL) {
		if ((l = calloc(1, sizeof(*l))) == NULL)
			return -ENOMEM;
		*lp = l;
	}
	for (size_t i = 0; i < l->n; i++)
		if (same_address(&l->entries[i], family, addr) &&
		    strcmp(l->entries[i].name, name) == 0) {
			e = &l->entries[i];
			break;
		}
	if (e == NULL && l->n < max) {
		if (l->n == l->room) {
			size_t room = l->room == 0 ? 16 : l->room * 2;
			struct entry *grown;

			if (room > max)
				room = max;
			grown = realloc(l->entries, room * sizeof(*grown));
			if (grown == NULL)
				return -ENOMEM;
			l->entries = grown;
			l->room = room;
		}
		e = &l->entries[l->n++];
	} else if (e == NULL)
		e = victim(l, now);
	memset(e, 0, sizeof(*e));
	e->family = family;
	memcpy(e->addr, addr, family == AF_INET ? 4 : 16);
	strcpy(e->name, name);
	e->expires_ms = expires_ms;
	return 0;
}

size_t
learned_find(const struct learned *l, int family, const uint8_t *addr,
    int64_t now, const char *names[LEARNED_NAMES_MAX],
    int64_t expires[LEARNED_NAMES_MAX])
{
	size_t n = 0;

	if (l == NULL)
		return 0;
	for (size_t i = 0; i < l->n && n < LEARNED_NAMES_MAX; i++) {
		const struct entry *e = &l->entries[i];

		if (e->expires_ms > now && same_address(e, family, addr)) {
			names[n] = e->name;
			expires[n++] = e->expires_ms;
		}
	}
	return n;
}

void
learned_clamp(struct learned *l, int64_t until)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		if (l->entries[i].expires_ms > until)
			l->entries[i].expires_ms = until;
}

size_t
learned_count(const struct learned *l)
{
	return l != NULL ? l->n : 0;
}

void
learned_free(struct learned *l)
{
	if (l == NULL)
		return;
	free(l->entries);
	free(l);
}

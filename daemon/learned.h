/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Addresses a grant's resolver was answered, by name, until their TTL:
 * what a connect by a host rule is checked against.  One table per
 * top-level grant (shared by every zt-exec under it), bounded.
 */
#ifndef ZTD_LEARNED_H
#define ZTD_LEARNED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEARNED_NAMES_MAX 8	/* names looked at for one address */

struct learned;

/*
 * Remember that NAME was answered with ADDR (FAMILY AF_INET: 4 bytes, or
 * AF_INET6: 16) until EXPIRES_MS (CLOCK_BOOTTIME); the same pair again
 * moves its expiry.  At MAX entries, expired ones go first, then the one
 * that expires soonest.  *L is made on first use.  0, or -ENOMEM.
 */
int learned_add(struct learned **l, size_t max, int family,
    const uint8_t *addr, const char *name, int64_t expires_ms, int64_t now);

/*
 * The names ADDR was answered for that live at NOW: at most
 * LEARNED_NAMES_MAX into NAMES (pointers into the table, valid until the
 * next learned_add or learned_free) with their expiries; how many.
 */
size_t learned_find(const struct learned *l, int family, const uint8_t *addr,
    int64_t now, const char *names[LEARNED_NAMES_MAX],
    int64_t expires[LEARNED_NAMES_MAX]);

/* No entry lives past UNTIL (CLOCK_BOOTTIME ms): a reload that lowered
 * dns.max_ttl holds for what was remembered before it too. */
void learned_clamp(struct learned *l, int64_t until);

/* Entries held (live or not yet dropped). */
size_t learned_count(const struct learned *l);

void learned_free(struct learned *l);

#endif

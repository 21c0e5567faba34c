/* SPDX-License-Identifier: Apache-2.0 */
/* Address classes, once for ztd and zt-exec. */
#ifndef ZT_ADDR_H
#define ZT_ADDR_H

#include <stdbool.h>
#include <stdint.h>

/* The first 96 bits of every v4-mapped IPv6 address (::ffff:0:0/96). */
extern const uint8_t zt_addr_v4_mapped_prefix[12];

/* Are the first BITS bits of A and B equal? */
bool zt_addr_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits);

/*
 * Is the address (AF_INET: 4 bytes, AF_INET6: 16) one an answer may hold
 * only for a host rule with private = true: unspecified, loopback, private
 * (RFC 1918), shared (100.64.0.0/10), link-local, unique-local,
 * multicast or reserved, site-local (fec0::/10), IPv4-compatible (::/96)
 * or local-use NAT64 (64:ff9b:1::/48); a v4-mapped, NAT64 (64:ff9b::/96)
 * or 6to4 (2002::/16) address by its IPv4 part?  ztd's LEARN keeps such an address only for such a rule,
 * and zt-exec's resolver gives the agent only what ztd will keep: one
 * function for both.
 */
bool zt_addr_private(int family, const uint8_t *addr);

#endif

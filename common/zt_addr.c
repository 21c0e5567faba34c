/* SPDX-License-Identifier: Apache-2.0 */
/* Address classes, once for ztd and zt-exec. */
#include "config.h"

#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "zt_addr.h"

const uint8_t zt_addr_v4_mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
};

bool
zt_addr_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	size_t whole = bits / 8;
	unsigned rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ b[whole]) & (uint8_t)(0xff00u >> rest)) == 0;
}

bool
zt_addr_private(int family, const uint8_t *addr)
{
	static const struct {
		uint8_t p[4];
		unsigned len;
	} v4[] = {
		{ { 0 }, 8 }, { { 10 }, 8 }, { { 100, 64 }, 10 },
		{ { 127 }, 8 }, { { 169, 254 }, 16 }, { { 172, 16 }, 12 },
		{ { 192, 0, 0 }, 24 }, { { 192, 168 }, 16 },
		{ { 198, 18 }, 15 }, { { 224 }, 4 }, { { 240 }, 4 },
	};
	static const struct {
		uint8_t p[16];
		unsigned len;
	} v6[] = {
		/* ::/96: :: and ::1, and the IPv4-compatible addresses a
		 * sit device tunnels to their IPv4 address */
		{ { 0 }, 96 },
		{ { 0, 0x64, 0xff, 0x9b, 0, 1 }, 48 },	/* local NAT64 */
		{ { 0xfc }, 7 }, { { 0xfe, 0x80 }, 10 },
		{ { 0xfe, 0xc0 }, 10 },			/* site-local */
		{ { 0xff }, 8 },
	};
	static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b };

	if (family == AF_INET6) {
		if (memcmp(addr, zt_addr_v4_mapped_prefix, 12) == 0 ||
		    memcmp(addr, nat64, 12) == 0)
			return zt_addr_private(AF_INET, addr + 12);
		/* 6to4 (2002::/16): the IPv4 address it is tunnelled to */
		if (addr[0] == 0x20 && addr[1] == 0x02 &&
		    zt_addr_private(AF_INET, addr + 2))
			return true;
		/* Teredo (2001::/32): a Teredo client on this host sends to
		 * the server's IPv4 address (bits 32-63) and to the client's
		 * (bits 96-127, inverted) */
		if (addr[0] == 0x20 && addr[1] == 0x01 && addr[2] == 0 &&
		    addr[3] == 0) {
			uint8_t client[4];

			for (size_t i = 0; i < 4; i++)
				client[i] = (uint8_t)~addr[12 + i];
			if (zt_addr_private(AF_INET, addr + 4) ||
			    zt_addr_private(AF_INET, client))
				return true;
		}
		for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++)
			if (zt_addr_prefix_equal(addr, v6[i].p, v6[i].len))
				return true;
		return false;
	}
	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
		if (zt_addr_prefix_equal(addr, v4[i].p, v4[i].len))
			return true;
	return false;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the resolver's DNS messages (seccomp/dnsmsg.c). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "dnsmsg.h"

static uint8_t buf[DNS_ANSWER_MAX];

/* Append NAME in wire form (no compression) at *AT. */
static void
put_name(uint8_t *m, size_t *at, const char *name)
{
	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t n = dot != NULL ? (size_t)(dot - name) : strlen(name);

		m[(*at)++] = (uint8_t)n;
		memcpy(m + *at, name, n);
		*at += n;
		name += n + (dot != NULL);
	}
	m[(*at)++] = 0;
}

static void
put16(uint8_t *m, size_t *at, unsigned v)
{
	m[(*at)++] = (uint8_t)(v >> 8);
	m[(*at)++] = (uint8_t)v;
}

static size_t
header(uint8_t *m, unsigned id, unsigned flags, unsigned qd, unsigned an,
    unsigned ar)
{
	size_t at = 0;

	put16(m, &at, id);
	put16(m, &at, flags);
	put16(m, &at, qd);
	put16(m, &at, an);
	put16(m, &at, 0);
	put16(m, &at, ar);
	return at;
}

static size_t
query(uint8_t *m, unsigned id, const char *name, unsigned type,
    unsigned class)
{
	size_t at = header(m, id, 0x0100, 1, 0, 0);

	put_name(m, &at, name);
	put16(m, &at, type);
	put16(m, &at, class);
	return at;
}

static void
test_query(void **state)
{
	uint8_t m[512];
	struct dns_question q;
	size_t n;

	(void)state;
	n = query(m, 0x1234, "API.Example.COM", DNS_TYPE_A, 1);
	assert_int_equal(dns_parse_query(m, n, &q), 0);
	assert_int_equal(q.id, 0x1234);
	assert_string_equal(q.name, "api.example.com");
	assert_int_equal(q.type, DNS_TYPE_A);
	assert_true(q.rd);
	assert_false(q.edns);
	/* Truncated: FORMERR with the id. */
	assert_int_equal(dns_parse_query(m, n - 3, &q), DNS_RCODE_FORMERR);
	assert_int_equal(q.id, 0x1234);
	/* Shorter than a header, or a response: nothing to answer. */
	assert_int_equal(dns_parse_query(m, 11, &q), -1);
	m[2] |= 0x80;
	assert_int_equal(dns_parse_query(m, n, &q), -1);
	/* Class CH: FORMERR. */
	n = query(m, 1, "version.bind", 16, 3);
	assert_int_equal(dns_parse_query(m, n, &q), DNS_RCODE_FORMERR);
	/* Another opcode (STATUS): NOTIMP. */
	n = query(m, 1, "example.com", 1, 1);
	m[2] = 0x10;
	assert_int_equal(dns_parse_query(m, n, &q), DNS_RCODE_NOTIMP);
}

static void
test_query_malformed(void **state)
{
	uint8_t m[512];
	struct dns_question q;
	size_t at;

	(void)state;
	/* Two questions. */
	at = header(m, 2, 0x0100, 2, 0, 0);
	put_name(m, &at, "a.example.com");
	put16(m, &at, 1);
	put16(m, &at, 1);
	put_name(m, &at, "b.example.com");
	put16(m, &at, 1);
	put16(m, &at, 1);
	assert_int_equal(dns_parse_query(m, at, &q), DNS_RCODE_FORMERR);
	/* A name that is a pointer to itself. */
	at = header(m, 3, 0x0100, 1, 0, 0);
	m[at++] = 0xc0;
	m[at++] = 12;
	put16(m, &at, 1);
	put16(m, &at, 1);
	assert_int_equal(dns_parse_query(m, at, &q), DNS_RCODE_FORMERR);
	/* Oversized. */
	memset(m, 0, sizeof(m));
	assert_int_equal(dns_parse_query(buf, DNS_QUERY_MAX + 1, &q),
	    DNS_RCODE_FORMERR);
}

static void
test_query_edns(void **state)
{
	uint8_t m[512], out[512];
	struct dns_question q;
	struct dns_answer a;
	size_t at = header(m, 7, 0x0100, 1, 0, 1);
	int n;

	(void)state;
	put_name(m, &at, "www.example.com");
	put16(m, &at, DNS_TYPE_AAAA);
	put16(m, &at, 1);
	m[at++] = 0;			/* OPT: root owner */
	put16(m, &at, 41);
	put16(m, &at, 1232);
	put16(m, &at, 0);
	put16(m, &at, 0);
	put16(m, &at, 0);
	assert_int_equal(dns_parse_query(m, at, &q), 0);
	assert_true(q.edns);
	n = dns_build_reply(&q, DNS_RCODE_REFUSED, NULL, 0, 0, 300, out,
	    sizeof(out));
	assert_true(n > 12);
	assert_int_equal(out[3] & 0x0f, DNS_RCODE_REFUSED);
	assert_int_equal(out[11], 1);	/* ARCOUNT: the OPT */
	assert_int_equal(dns_parse_answer(out, (size_t)n, 7, &q, &a), 0);
	assert_int_equal(a.rcode, DNS_RCODE_REFUSED);
}

/* example.com CNAME cdn.example.net, cdn.example.net A 10.0.0.1 and
 * 10.0.0.2, other.example.org A 10.9.9.9 (not in the chain). */
static size_t
answer(uint8_t *m, unsigned id)
{
	static const struct {
		const char *owner;
		unsigned type, ttl;
		const char *target;
		uint8_t addr[4];
	} rrs[] = {
		{ "example.com", 5, 60, "cdn.example.net", { 0 } },
		{ "CDN.example.net", 1, 30, NULL, { 10, 0, 0, 1 } },
		{ "cdn.example.net", 1, 3000, NULL, { 10, 0, 0, 2 } },
		{ "other.example.org", 1, 30, NULL, { 10, 9, 9, 9 } },
	};
	size_t at = header(m, id, 0x8180, 1, 4, 0);

	put_name(m, &at, "example.com");
	put16(m, &at, 1);
	put16(m, &at, 1);
	for (size_t i = 0; i < 4; i++) {
		uint8_t rd[64];
		size_t n = 0;

		put_name(m, &at, rrs[i].owner);
		put16(m, &at, rrs[i].type);
		put16(m, &at, 1);
		put16(m, &at, rrs[i].ttl >> 16);
		put16(m, &at, rrs[i].ttl & 0xffff);
		if (rrs[i].target != NULL)
			put_name(rd, &n, rrs[i].target);
		else {
			memcpy(rd, rrs[i].addr, 4);
			n = 4;
		}
		put16(m, &at, (unsigned)n);
		memcpy(m + at, rd, n);
		at += n;
	}
	return at;
}

static void
test_answer_chain(void **state)
{
	uint8_t m[1024], out[1024];
	struct dns_question q = { .id = 99, .type = DNS_TYPE_A, .rd = true };
	struct dns_answer a, b;
	size_t n = answer(m, 0x4242);
	int len;

	(void)state;
	strcpy(q.name, "example.com");
	assert_int_equal(dns_parse_answer(m, n, 0x4242, &q, &a), 0);
	assert_int_equal(a.rcode, 0);
	assert_int_equal(a.n_chain, 2);
	assert_string_equal(a.chain[0], "example.com");
	assert_string_equal(a.chain[1], "cdn.example.net");
	assert_int_equal(a.chain_ttl[0], 60);
	assert_int_equal(a.n_addrs, 2);
	assert_int_equal(a.addrs[0].family, AF_INET);
	assert_int_equal(a.addrs[0].owner, 1);
	assert_int_equal(a.addrs[0].addr[3], 1);
	assert_int_equal(a.addrs[1].ttl, 3000);
	/* Another id, another question, or a query: not the answer. */
	assert_int_equal(dns_parse_answer(m, n, 0x4243, &q, &a), -1);
	q.type = DNS_TYPE_AAAA;
	assert_int_equal(dns_parse_answer(m, n, 0x4242, &q, &a), -1);
	q.type = DNS_TYPE_A;
	strcpy(q.name, "example.org");
	assert_int_equal(dns_parse_answer(m, n, 0x4242, &q, &a), -1);
	strcpy(q.name, "example.com");
	m[2] &= 0x7f;
	assert_int_equal(dns_parse_answer(m, n, 0x4242, &q, &a), -1);
	m[2] |= 0x80;
	m[2] |= 0x02;			/* TC */
	assert_int_equal(dns_parse_answer(m, n, 0x4242, &q, &a), -1);
	m[2] &= (uint8_t)~0x02;
	assert_int_equal(dns_parse_answer(m, n, 0x4242, &q, &a), 0);

	/* The reply keeps only the question's own name (chain of 1): no
	 * CNAME, no address of the target; TTLs cut to max_ttl. */
	len = dns_build_reply(&q, 0, &a, 1, 0xffffffffu, 300, out,
	    sizeof(out));
	assert_true(len > 0);
	assert_int_equal(dns_parse_answer(out, (size_t)len, 99, &q, &b), 0);
	assert_int_equal(b.n_chain, 1);
	assert_int_equal(b.n_addrs, 0);
	/* The whole chain, the second address only. */
	len = dns_build_reply(&q, 0, &a, 2, 2u, 300, out, sizeof(out));
	assert_true(len > 0);
	assert_int_equal(dns_parse_answer(out, (size_t)len, 99, &q, &b), 0);
	assert_int_equal(b.n_chain, 2);
	assert_int_equal(b.n_addrs, 1);
	assert_int_equal(b.addrs[0].addr[3], 2);
	assert_int_equal(b.addrs[0].ttl, 300);
}

static void
test_query_build(void **state)
{
	struct dns_question q = { .type = DNS_TYPE_AAAA }, back;
	uint8_t out[512];
	int n;

	(void)state;
	strcpy(q.name, "api.example.com");
	n = dns_build_query(&q, 0xbeef, out, sizeof(out));
	assert_true(n > 12);
	assert_int_equal(dns_parse_query(out, (size_t)n, &back), 0);
	assert_int_equal(back.id, 0xbeef);
	assert_string_equal(back.name, "api.example.com");
	assert_int_equal(back.type, DNS_TYPE_AAAA);
	assert_true(back.rd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_query_malformed),
		cmocka_unit_test(test_query_edns),
		cmocka_unit_test(test_answer_chain),
		cmocka_unit_test(test_query_build),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

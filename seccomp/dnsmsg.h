/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS messages of the grant's resolver, parsed and built with ldns: the
 * agent's queries and the upstream's answers are untrusted input.
 */
#ifndef ZTX_DNSMSG_H
#define ZTX_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_SIZE 12
#define DNS_QUERY_MAX 4096		/* a larger query is FORMERR */
#define DNS_ANSWER_MAX 65535		/* a TCP message at most */
#define DNS_RECORDS_MAX 256		/* records in an answer we read */
#define DNS_NAME_MAX 256		/* presentation form, NUL included */
#define DNS_CHAIN_MAX 8			/* the question and 7 CNAMEs */
#define DNS_ADDRS_MAX 32		/* addresses of one answer kept */

#define DNS_TYPE_A 1
#define DNS_TYPE_AAAA 28
#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_FORMERR 1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP 4
#define DNS_RCODE_REFUSED 5

struct dns_question {
	uint16_t id;			/* the asker's */
	char name[DNS_NAME_MAX];	/* lower case, no trailing dot, ldns's
					 * escapes for other bytes ("\\000") */
	uint16_t type;
	bool rd;			/* recursion desired */
	bool edns;			/* the query carried an OPT record */
};

struct dns_addr {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint32_t ttl;			/* seconds, as answered */
	unsigned owner;			/* its owner: chain[owner] */
};

struct dns_answer {
	uint8_t rcode;
	/* chain[0] is the question; chain[i + 1] the target of the CNAME
	 * owned by chain[i], with that record's TTL in chain_ttl[i]. */
	char chain[DNS_CHAIN_MAX][DNS_NAME_MAX];
	uint32_t chain_ttl[DNS_CHAIN_MAX];
	size_t n_chain;
	struct dns_addr addrs[DNS_ADDRS_MAX];
	size_t n_addrs;
};

/*
 * An agent's query of LEN bytes.  0 with Q filled: one question, class IN,
 * opcode QUERY, no answer or authority records.  Otherwise the rcode to
 * answer with (FORMERR: malformed, truncated, oversized, compression
 * loops, not one question, wrong class; NOTIMP: another opcode) with
 * Q->id set, or -1 when nothing can be answered (shorter than a header,
 * or a response rather than a query): the caller drops the connection.
 */
int dns_parse_query(const uint8_t *wire, size_t len, struct dns_question *q);

/*
 * The upstream's answer of LEN bytes to our query ID for Q: 0 with OUT
 * (the rcode, the CNAME chain from Q's name within the answer section,
 * and the A/AAAA records of Q's type owned by a name of the chain), or -1
 * when it is not that answer (malformed, another id, not a response,
 * truncated, another question, more than DNS_RECORDS_MAX records): the
 * caller drops it.
 */
int dns_parse_answer(const uint8_t *wire, size_t len, uint16_t id,
    const struct dns_question *q, struct dns_answer *out);

/* The query we send upstream for Q, with ID and RD: its length in OUT
 * (SIZE bytes), or -1. */
int dns_build_query(const struct dns_question *q, uint16_t id, uint8_t *out,
    size_t size);

/*
 * The reply to the agent's Q: RCODE, and from A (NULL: none) the chain's
 * CNAMEs up to the last name KEPT_CHAIN (chain[0..kept_chain-1]) and the
 * addresses whose bit is set in KEPT (bit i: a->addrs[i]), TTLs cut to
 * MAX_TTL; with an OPT record when Q had one.  Its length in OUT (SIZE
 * bytes), or -1.
 */
int dns_build_reply(const struct dns_question *q, int rcode,
    const struct dns_answer *a, size_t kept_chain, uint32_t kept,
    uint32_t max_ttl, uint8_t *out, size_t size);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A libFuzzer harness for the grant resolver's DNS messages (seccomp/
 * dnsmsg.c): every input is read as an agent's query and, after its first
 * byte (which picks the question: A or AAAA of "example.com", or the
 * question the input itself parsed to), as an upstream's answer; what
 * parses is built back into a reply, which must parse again as the answer
 * to its own question.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static uint8_t reply[DNS_ANSWER_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_question q, asked;
	struct dns_answer a, again;
	int r, n;

	/* The input as an agent's query. */
	r = dns_parse_query(data, size, &q);
	CHECK(r == -1 || r == 0 || r == DNS_RCODE_FORMERR ||
	    r == DNS_RCODE_NOTIMP);
	if (r == 0) {
		CHECK(q.name[0] != '\0' && strlen(q.name) < DNS_NAME_MAX);
		n = dns_build_reply(&q, DNS_RCODE_REFUSED, NULL, 0, 0, 300,
		    reply, sizeof(reply));
		/* A name ldns printed, it reads back (escapes included). */
		CHECK(n > 0);
	} else if (r > 0) {
		/* FORMERR and NOTIMP carry no question. */
		q.name[0] = '\0';
		CHECK(dns_build_reply(&q, r, NULL, 0, 0, 300, reply,
		    sizeof(reply)) > 0);
	}

	/* The input after its first byte as an upstream's answer. */
	if (size < 1)
		return 0;
	if (r == 0 && (data[0] & 1) && (q.type == DNS_TYPE_A ||
	    q.type == DNS_TYPE_AAAA))
		asked = q;
	else {
		memset(&asked, 0, sizeof(asked));
		snprintf(asked.name, sizeof(asked.name), "example.com");
		asked.type = (data[0] & 2) ? DNS_TYPE_AAAA : DNS_TYPE_A;
	}
	asked.id = size > 2 ? (uint16_t)(data[1] << 8 | data[2]) : 0;
	if (dns_parse_answer(data + 1, size - 1, asked.id, &asked, &a) != 0)
		return 0;
	CHECK(a.n_chain >= 1 && a.n_chain <= DNS_CHAIN_MAX);
	CHECK(a.n_addrs <= DNS_ADDRS_MAX);
	for (size_t i = 0; i < a.n_addrs; i++)
		CHECK(a.addrs[i].owner < a.n_chain);
	n = dns_build_reply(&asked, a.rcode, &a, a.n_chain, 0xffffffffu, 300,
	    reply, sizeof(reply));
	if (n <= 0)
		return 0;	/* a chain name ldns cannot read back */
	CHECK(dns_parse_answer(reply, (size_t)n, asked.id, &asked,
	    &again) == 0);
	CHECK(again.n_addrs == a.n_addrs);
	return 0;
}

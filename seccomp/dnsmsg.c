/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS messages with ldns (wire2pkt, pkt2wire): no name, pointer or length
 * is read by hand.  ldns bounds names to 255 bytes and compression
 * pointers to a fixed count (loops end there); what is checked here is
 * the shape a message must have, before ldns is given it (sizes, record
 * counts from the header) and after (sections, question, classes).
 */
#include "config.h"

#include <ctype.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsmsg.h"
#include "lazylib.h"		/* last: after the libraries' headers */

static uint16_t
header_u16(const uint8_t *wire, size_t at)
{
	return (uint16_t)(wire[at] << 8 | wire[at + 1]);
}

/* NAME (a dname rdf) as lower-case text without the trailing dot; false
 * when it does not fit or is the root. */
static bool
name_text(const ldns_rdf *name, char out[DNS_NAME_MAX])
{
	char *s;
	size_t n;

	if (name == NULL || ldns_rdf_get_type(name) != LDNS_RDF_TYPE_DNAME ||
	    (s = ldns_rdf2str(name)) == NULL)
		return false;
	n = strlen(s);
	if (n > 0 && s[n - 1] == '.')
		s[--n] = '\0';
	if (n == 0 || n >= DNS_NAME_MAX) {
		free(s);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[n] = '\0';
	free(s);
	return true;
}

int
dns_parse_query(const uint8_t *wire, size_t len, struct dns_question *q)
{
	ldns_pkt *pkt = NULL;
	ldns_rr *rr;
	int r = DNS_RCODE_FORMERR;

	memset(q, 0, sizeof(*q));
	if (len < DNS_HEADER_SIZE || (wire[2] & 0x80) != 0)
		return -1;		/* no header, or a response */
	q->id = header_u16(wire, 0);
	q->rd = (wire[2] & 0x01) != 0;
	if (len > DNS_QUERY_MAX || header_u16(wire, 4) != 1 ||
	    header_u16(wire, 6) != 0 || header_u16(wire, 8) != 0 ||
	    header_u16(wire, 10) > 1)
		return DNS_RCODE_FORMERR;	/* one question, an OPT at most */
	if (((wire[2] >> 3) & 0x0f) != LDNS_PACKET_QUERY)
		return DNS_RCODE_NOTIMP;
	if (ldns_wire2pkt(&pkt, wire, len) != LDNS_STATUS_OK)
		return DNS_RCODE_FORMERR;
	if (ldns_pkt_qdcount(pkt) != 1 ||
	    ldns_rr_list_rr_count(ldns_pkt_question(pkt)) != 1 ||
	    ldns_rr_list_rr_count(ldns_pkt_additional(pkt)) != 0)
		goto out;
	rr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
	    !name_text(ldns_rr_owner(rr), q->name))
		goto out;
	q->type = (uint16_t)ldns_rr_get_type(rr);
	q->edns = ldns_pkt_edns(pkt);
	r = 0;
out:
	ldns_pkt_free(pkt);
	return r;
}

/* Is RR of class IN, owned by the name OWNER? */
static bool
owned_by(const ldns_rr *rr, const ldns_rdf *owner)
{
	return ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
	    ldns_dname_compare(ldns_rr_owner(rr), owner) == 0;
}

/* The CNAME chain from the question through ANSWER, into OUT; the rdf of
 * each link in LINKS (borrowed from ANSWER). */
static void
follow_chain(const ldns_rr_list *answer, const ldns_rdf *qname,
    struct dns_answer *out, const ldns_rdf *links[DNS_CHAIN_MAX])
{
	links[0] = qname;
	out->n_chain = 1;
	while (out->n_chain < DNS_CHAIN_MAX) {
		const ldns_rdf *target = NULL;
		uint32_t ttl = 0;

		for (size_t i = 0; i < ldns_rr_list_rr_count(answer); i++) {
			ldns_rr *rr = ldns_rr_list_rr(answer, i);

			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME &&
			    ldns_rr_rd_count(rr) == 1 &&
			    owned_by(rr, links[out->n_chain - 1])) {
				target = ldns_rr_rdf(rr, 0);
				ttl = ldns_rr_ttl(rr);
				break;
			}
		}
		if (target == NULL ||
		    !name_text(target, out->chain[out->n_chain]))
			return;
		/* A loop back to a name of the chain ends it. */
		for (size_t k = 0; k < out->n_chain; k++)
			if (ldns_dname_compare(links[k], target) == 0)
				return;
		out->chain_ttl[out->n_chain - 1] = ttl;
		links[out->n_chain++] = target;
	}
}

/* The A or AAAA record RR (of the question's TYPE) owned by a chain name,
 * appended to OUT. */
static void
take_address(const ldns_rr *rr, uint16_t type,
    const ldns_rdf *const links[DNS_CHAIN_MAX], struct dns_answer *out)
{
	const ldns_rdf *rd;
	size_t want = type == DNS_TYPE_A ? 4 : 16;

	if (ldns_rr_get_type(rr) != type || ldns_rr_rd_count(rr) != 1 ||
	    out->n_addrs == DNS_ADDRS_MAX)
		return;
	rd = ldns_rr_rdf(rr, 0);
	if (ldns_rdf_size(rd) != want)
		return;
	for (size_t k = 0; k < out->n_chain; k++) {
		struct dns_addr *a;

		if (!owned_by(rr, links[k]))
			continue;
		a = &out->addrs[out->n_addrs++];
		a->family = type == DNS_TYPE_A ? AF_INET : AF_INET6;
		memcpy(a->addr, ldns_rdf_data(rd), want);
		a->ttl = ldns_rr_ttl(rr);
		a->owner = (unsigned)k;
		return;
	}
}

int
dns_parse_answer(const uint8_t *wire, size_t len, uint16_t id,
    const struct dns_question *q, struct dns_answer *out)
{
	const ldns_rdf *links[DNS_CHAIN_MAX];
	ldns_pkt *pkt = NULL;
	ldns_rr_list *answer;
	ldns_rr *question;
	char qname[DNS_NAME_MAX];
	unsigned records;
	int r = -1;

	memset(out, 0, sizeof(*out));
	if (len < DNS_HEADER_SIZE || len > DNS_ANSWER_MAX ||
	    header_u16(wire, 0) != id || (wire[2] & 0x80) == 0 ||
	    (wire[2] & 0x02) != 0 || header_u16(wire, 4) != 1)
		return -1;		/* not ours, not an answer, truncated */
	records = (unsigned)header_u16(wire, 6) + header_u16(wire, 8) +
	    header_u16(wire, 10);
	if (records > DNS_RECORDS_MAX ||
	    ldns_wire2pkt(&pkt, wire, len) != LDNS_STATUS_OK)
		return -1;
	if (ldns_pkt_get_opcode(pkt) != LDNS_PACKET_QUERY ||
	    ldns_rr_list_rr_count(ldns_pkt_question(pkt)) != 1)
		goto out;
	question = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	if (ldns_rr_get_class(question) != LDNS_RR_CLASS_IN ||
	    ldns_rr_get_type(question) != q->type ||
	    !name_text(ldns_rr_owner(question), qname) ||
	    strcmp(qname, q->name) != 0)
		goto out;
	out->rcode = (uint8_t)ldns_pkt_get_rcode(pkt);
	snprintf(out->chain[0], sizeof(out->chain[0]), "%s", q->name);
	answer = ldns_pkt_answer(pkt);
	follow_chain(answer, ldns_rr_owner(question), out, links);
	if (q->type == DNS_TYPE_A || q->type == DNS_TYPE_AAAA)
		for (size_t i = 0; i < ldns_rr_list_rr_count(answer); i++)
			take_address(ldns_rr_list_rr(answer, i), q->type, links,
			    out);
	r = 0;
out:
	ldns_pkt_free(pkt);
	return r;
}

/* A record of TYPE owned by NAME (text), TTL, with RDATA (owned by it
 * from then on; NULL for a question), pushed into SECTION of PKT. */
static bool
push_record(ldns_pkt *pkt, ldns_pkt_section section, const char *name,
    ldns_rr_type type, uint32_t ttl, ldns_rdf *rdata)
{
	ldns_rdf *owner = ldns_dname_new_frm_str(name);
	ldns_rr *rr = ldns_rr_new();

	if (owner == NULL || rr == NULL) {
		ldns_rdf_deep_free(owner);
		ldns_rdf_deep_free(rdata);
		ldns_rr_free(rr);
		return false;
	}
	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	if (rdata == NULL)
		ldns_rr_set_question(rr, true);
	else {
		ldns_rr_set_ttl(rr, ttl);
		if (!ldns_rr_push_rdf(rr, rdata)) {
			ldns_rdf_deep_free(rdata);
			ldns_rr_free(rr);
			return false;
		}
	}
	if (!ldns_pkt_push_rr(pkt, section, rr)) {
		ldns_rr_free(rr);
		return false;
	}
	return true;
}

/* PKT on the wire into OUT (SIZE bytes): its length, or -1. */
static int
to_wire(ldns_pkt *pkt, uint8_t *out, size_t size)
{
	uint8_t *wire = NULL;
	size_t n = 0;
	int r = -1;

	if (ldns_pkt2wire(&wire, pkt, &n) == LDNS_STATUS_OK && n <= size &&
	    n <= 65535) {
		memcpy(out, wire, n);
		r = (int)n;
	}
	free(wire);
	return r;
}

/* A packet with Q's question and header bits; NULL on failure. */
static ldns_pkt *
packet_for(const struct dns_question *q, uint16_t id, bool response)
{
	ldns_pkt *pkt = ldns_pkt_new();

	if (pkt == NULL)
		return NULL;
	ldns_pkt_set_id(pkt, id);
	ldns_pkt_set_opcode(pkt, LDNS_PACKET_QUERY);
	ldns_pkt_set_qr(pkt, response);
	ldns_pkt_set_rd(pkt, response ? q->rd : true);
	ldns_pkt_set_ra(pkt, response);
	if (q->name[0] != '\0' && !push_record(pkt, LDNS_SECTION_QUESTION,
	    q->name, (ldns_rr_type)q->type, 0, NULL)) {
		ldns_pkt_free(pkt);
		return NULL;
	}
	return pkt;
}

int
dns_build_query(const struct dns_question *q, uint16_t id, uint8_t *out,
    size_t size)
{
	ldns_pkt *pkt = packet_for(q, id, false);
	int r;

	if (pkt == NULL)
		return -1;
	r = to_wire(pkt, out, size);
	ldns_pkt_free(pkt);
	return r;
}

int
dns_build_reply(const struct dns_question *q, int rcode,
    const struct dns_answer *a, size_t kept_chain, uint32_t kept,
    uint32_t max_ttl, uint8_t *out, size_t size)
{
	ldns_pkt *pkt = packet_for(q, q->id, true);
	bool ok = pkt != NULL;
	int r = -1;

	if (!ok)
		return -1;
	ldns_pkt_set_rcode(pkt, (uint8_t)rcode);
	if (q->edns)
		ldns_pkt_set_edns_udp_size(pkt, 1232);
	if (a != NULL) {
		if (kept_chain > a->n_chain)
			kept_chain = a->n_chain;
		for (size_t i = 0; ok && i + 1 < kept_chain; i++)
			ok = push_record(pkt, LDNS_SECTION_ANSWER, a->chain[i],
			    LDNS_RR_TYPE_CNAME, a->chain_ttl[i] < max_ttl ?
			    a->chain_ttl[i] : max_ttl,
			    ldns_dname_new_frm_str(a->chain[i + 1]));
		for (size_t i = 0; ok && i < a->n_addrs && i < 32; i++) {
			const struct dns_addr *d = &a->addrs[i];

			if (!(kept & (1u << i)) || d->owner >= kept_chain)
				continue;
			ok = push_record(pkt, LDNS_SECTION_ANSWER,
			    a->chain[d->owner], d->family == AF_INET ?
			    LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA,
			    d->ttl < max_ttl ? d->ttl : max_ttl,
			    ldns_rdf_new_frm_data(d->family == AF_INET ?
			    LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA,
			    d->family == AF_INET ? 4 : 16, d->addr));
		}
	}
	if (ok)
		r = to_wire(pkt, out, size);
	ldns_pkt_free(pkt);
	return r;
}

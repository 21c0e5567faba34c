/* SPDX-License-Identifier: Apache-2.0 */
/* The signed entries of a fleet: policy, disable, enable (ztd and ztctl). */
#ifndef ZTD_FLEET_ENTRY_H
#define ZTD_FLEET_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pubkey.h"

#define FLEET_WHY_MAX 200	/* printable ASCII */
#define FLEET_AGENT_MAX 64

/*
 * An entry, as stored in etcd:
 *
 *   ztgate-fleet 1
 *   kind policy|disable|enable
 *   agent NAME|-
 *   serial N
 *   why TEXT|-
 *   signature BASE64
 *   (an empty line)
 *   BODY (the policy text; empty for disable and enable)
 *
 * The signature (pubkey_verify) covers "ztgate fleet entry\n", the five
 * lines before it, the empty line and the body: everything but itself.
 */
enum fleet_kind { FLEET_KIND_POLICY, FLEET_KIND_DISABLE, FLEET_KIND_ENABLE };

struct fleet_entry {
	enum fleet_kind kind;
	char agent[FLEET_AGENT_MAX + 1];	/* "" for a policy */
	uint64_t serial;			/* >= 1 */
	char why[FLEET_WHY_MAX + 1];		/* "" when none */
	const uint8_t *body;			/* into the value */
	size_t body_len;
	uint8_t signature[PUBKEY_SIGNATURE_MAX];
	size_t signature_len;
	size_t header_len;			/* bytes before "signature" */
	size_t body_offset;
};

/* Parse VALUE (LEN bytes, untrusted; fuzzed): 0, or -EBADMSG with WHY
 * (FLEET_WHY_MAX + 56 bytes).  Checks the form only, not the signature. */
int fleet_entry_parse(const uint8_t *value, size_t len,
    struct fleet_entry *entry, char *why);

/* Is ENTRY (parsed from VALUE) signed by KEY?  0 and *GOOD, or -ENOMEM. */
int fleet_entry_verify(const uint8_t *value, const struct fleet_entry *entry,
    struct evp_pkey_st *key, bool *good);

/*
 * A new entry signed with the private KEY: *OUT (free it) of *OUT_LEN
 * bytes.  AGENT NULL for a policy; WHY NULL for none.  0, -EINVAL (a bad
 * name or why), -ENOMEM or -EIO.
 */
int fleet_entry_build(enum fleet_kind kind, const char *agent,
    uint64_t serial, const char *why, const void *body, size_t body_len,
    struct evp_pkey_st *key, char **out, size_t *out_len);

const char *fleet_kind_name(enum fleet_kind kind);

#endif

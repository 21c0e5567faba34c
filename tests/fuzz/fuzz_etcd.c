/* SPDX-License-Identifier: Apache-2.0 */
/* A libFuzzer harness for what the fleet client and ztd read from others:
 * etcd's JSON answers, the signed entries, and the frames between them. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "fleet_entry.h"
#include "fleet_proto.h"

/*
 * Input: one byte choosing the parser (its value modulo 6), then what it
 * parses.  Besides not crashing, each parser's promises are checked: a
 * pair's key is 1..ETCD_KEY_MAX bytes without a NUL and NUL-terminated, a
 * value within ETCD_VALUE_MAX; an entry's parts lie inside the input, in
 * order; a frame's parts lie inside what it consumed.
 */
static void
check_kvs(const struct etcd_kvs *kvs)
{
	if (kvs->n > ETCD_KVS_MAX)
		abort();
	for (size_t i = 0; i < kvs->n; i++) {
		const struct etcd_kv *kv = &kvs->kv[i];

		if (kv->key_len == 0 || kv->key_len > ETCD_KEY_MAX ||
		    kv->key[kv->key_len] != '\0' ||
		    strlen(kv->key) != kv->key_len ||
		    kv->value_len > ETCD_VALUE_MAX ||
		    kv->value[kv->value_len] != '\0')
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[FLEET_WHY_MAX + 64 > ETCD_WHY_MAX ? FLEET_WHY_MAX + 64 :
	    ETCD_WHY_MAX];
	const char *json;
	size_t len;

	if (size < 1)
		return 0;
	json = (const char *)data + 1;
	len = size - 1;
	switch (data[0] % 6) {
	case 0: {
		struct etcd_kvs kvs;

		if (etcd_parse_range(json, len, &kvs, why) == 0)
			check_kvs(&kvs);
		else if (kvs.n != 0 || kvs.kv != NULL)
			abort();	/* an error leaves nothing behind */
		etcd_kvs_clear(&kvs);
		break;
	}
	case 1: {
		struct etcd_watch_message m;

		if (etcd_parse_watch(json, len, &m, why) == 0)
			check_kvs(&m.events);
		etcd_kvs_clear(&m.events);
		break;
	}
	case 2: {
		int64_t id, ttl;
		char *token = NULL;

		if (etcd_parse_lease(json, len, &id, &ttl, why) == 0 &&
		    (id == 0 || ttl < 0))
			abort();
		if (etcd_parse_token(json, len, &token, why) == 0 &&
		    (token == NULL || token[0] == '\0' ||
		    strpbrk(token, "\r\n") != NULL))
			abort();
		free(token);
		break;
	}
	case 3: {
		struct fleet_entry e;

		if (fleet_entry_parse(data + 1, len, &e, why) == 0 &&
		    (e.serial == 0 || e.header_len >= e.body_offset ||
		    e.body_offset + e.body_len != len ||
		    e.body != data + 1 + e.body_offset ||
		    e.signature_len == 0 ||
		    e.signature_len > PUBKEY_SIGNATURE_MAX ||
		    (e.kind == FLEET_KIND_POLICY) != (e.agent[0] == '\0')))
			abort();
		break;
	}
	case 4: {
		struct fleet_frame f;
		size_t consumed = 0;

		if (fleet_frame_parse(data + 1, len, &f, &consumed) == 1) {
			if (consumed > len || f.n > FLEET_PARTS_MAX)
				abort();
			for (size_t i = 0; i < f.n; i++)
				if (f.part[i] < data + 1 || f.part[i] +
				    f.len[i] > data + 1 + consumed)
					abort();
		}
		break;
	}
	default: {
		uint8_t *out = malloc(len / 4 * 3 + 3);
		size_t n = 0;

		if (out != NULL && etcd_base64_decode(json, len, out,
		    &n) == 0 && n > len / 4 * 3)
			abort();
		free(out);
		break;
	}
	}
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Tokens of cacheable allows: ztd's MAC, so that a REPORT cannot lie. */
#ifndef ZTD_TOKEN_H
#define ZTD_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "zt_msg.h"

/*
 * A cacheable allow ztd sends carries a token: HMAC-SHA256, cut to
 * ZT_TOKEN_SIZE bytes, under a key drawn at random when ztd starts and
 * kept in memory only, over the grant id, the action, the canonical
 * object and the CLOCK_BOOTTIME millisecond the allow ends.  A supervisor
 * reporting a hit of its cache must send back the token of the allow it
 * served; no one without the key can make one, and a token says nothing
 * about any other grant, action, object or expiry.  A restart draws a new
 * key, so tokens of an earlier ztd fail (its grants are gone too).
 */
struct token;

/* A new key, from the system's random generator.  0 or -ENOMEM / -EIO. */
int token_new(struct token **out);

/* Wipe the key and free T; token_free(NULL) is a no-op. */
void token_free(struct token *t);

/* The token of (GRANT, ACTION, OBJECT, UNTIL_MS) into OUT.  0 or -EIO. */
int token_make(const struct token *t, const char *grant, uint32_t action,
    const char *object, int64_t until_ms, uint8_t out[ZT_TOKEN_SIZE]);

/*
 * Is TOKEN (SIZE bytes, as received) the token of (GRANT, ACTION, OBJECT,
 * UNTIL_MS)?  Compared in constant time.  0, or ZT_E_PERM when it is not
 * (or has the wrong size), -EIO when no MAC could be computed.
 */
int token_check(const struct token *t, const char *grant, uint32_t action,
    const char *object, int64_t until_ms, const void *token, size_t size);

#endif

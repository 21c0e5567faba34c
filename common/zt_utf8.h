/* SPDX-License-Identifier: Apache-2.0 */
/* Untrusted bytes made into valid UTF-8 text, reversibly (for JSON output). */
#ifndef ZT_UTF8_H
#define ZT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The longest input zt_utf8_escape takes (1 MiB): far above any string a
 * ztd message can carry (ZT_MSG_MAX), and low enough that the output size
 * (four bytes out per byte in, at most) cannot overflow.
 */
#define ZT_UTF8_ESCAPE_MAX (1024 * 1024)

/*
 * Copy the LEN bytes at IN into a new NUL-terminated string that is valid
 * UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF): a byte that is not part of a valid UTF-8 sequence, and a NUL
 * byte, become the four characters \xNN (NN: the byte in uppercase hex);
 * a backslash becomes two backslashes; everything else is copied as it is.
 * Since every backslash of the output starts one of those escapes,
 * distinct inputs give distinct outputs (tests/fuzz/fuzz_utf8.c checks
 * that reading the escapes back gives the input).
 * Returns the string, which the caller frees with free(), or NULL with
 * errno ENOMEM (out of memory) or E2BIG (LEN above ZT_UTF8_ESCAPE_MAX).
 */
char *zt_utf8_escape(const char *in, size_t len);

/*
 * The length of the valid UTF-8 sequence at IN (1 to 4; AVAIL bytes are
 * readable there), or 0 when the bytes there do not start one.  A NUL byte
 * is a valid sequence of length 1.
 */
size_t zt_utf8_sequence(const unsigned char *in, size_t avail);

#endif

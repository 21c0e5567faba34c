/* SPDX-License-Identifier: Apache-2.0 */
/* Untrusted bytes made into valid UTF-8 text, reversibly (for JSON output). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "zt_utf8.h"

size_t
zt_utf8_sequence(const unsigned char *in, size_t avail)
{
	unsigned char c = in[0];
	/* The second byte's range. */
	unsigned char low = 0x80, high = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			low = 0xa0;		/* no overlong forms */
		else if (c == 0xed)
			high = 0x9f;		/* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			low = 0x90;		/* no overlong forms */
		else if (c == 0xf4)
			high = 0x8f;		/* nothing above U+10FFFF */
	} else
		return 0;	/* a continuation byte, C0, C1, F5..FF */
	if (avail < n || in[1] < low || in[1] > high)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (in[i] < 0x80 || in[i] > 0xbf)
			return 0;
	return n;
}

char *
zt_utf8_escape(const char *in, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)in;
	char *out, *o;
	size_t i = 0;

	if (len > ZT_UTF8_ESCAPE_MAX) {
		errno = E2BIG;
		return NULL;
	}
	/* At most four bytes out per byte in, and the NUL. */
	out = malloc(4 * len + 1);
	if (out == NULL)
		return NULL;
	o = out;
	while (i < len) {
		size_t n = zt_utf8_sequence(s + i, len - i);

		if (n == 1 && s[i] == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else if (n == 0 || s[i] == '\0') {
			n = 1;
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[s[i] >> 4];
			*o++ = hex[s[i] & 0xf];
		} else {
			for (size_t k = 0; k < n; k++)
				*o++ = (char)s[i + k];
		}
		i += n;
	}
	*o = '\0';
	return out;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* A libFuzzer harness for zt_utf8_escape: whatever the bytes, the output is
 * valid UTF-8 (as jansson, which ztctl hands it to, checks it), holds no
 * NUL, and reading its escapes back gives the input (so distinct inputs
 * stay distinct). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "zt_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort, so that libFuzzer keeps the input, when a property fails. */
#define CHECK(condition) do { \
	if (!(condition)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #condition); \
		abort(); \
	} \
} while (0)

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;	/* lowercase is never written */
}

/*
 * The inverse of the escaping, written apart from it: "\\" is a
 * backslash, "\xNN" the byte NN, anything else itself.  Returns the
 * length written to OUT, or -1 when TEXT holds a backslash that starts
 * neither (the escaping must never write one).
 */
static long
unescape(const char *text, unsigned char *out)
{
	long n = 0;

	while (*text != '\0') {
		if (*text != '\\') {
			out[n++] = (unsigned char)*text++;
			continue;
		}
		if (text[1] == '\\') {
			out[n++] = '\\';
			text += 2;
		} else if (text[1] == 'x' && hex_value(text[2]) >= 0 &&
		    hex_value(text[3]) >= 0) {
			out[n++] = (unsigned char)(hex_value(text[2]) * 16 +
			    hex_value(text[3]));
			text += 4;
		} else
			return -1;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = zt_utf8_escape((const char *)data, size);
	unsigned char *back;
	json_t *string;
	size_t len;

	CHECK(out != NULL);	/* the harness's inputs are below the cap */
	len = strlen(out);
	/* Four bytes out per byte in at most. */
	CHECK(len <= 4 * size);
	string = json_stringn(out, len);
	CHECK(string != NULL);
	json_decref(string);
	back = malloc(len + 1);
	CHECK(back != NULL);
	CHECK(unescape(out, back) == (long)size);
	CHECK(size == 0 || memcmp(back, data, size) == 0);
	/* Valid UTF-8 without a backslash or NUL comes out unchanged. */
	if (memchr(data, '\\', size) == NULL && memchr(data, '\0', size) ==
	    NULL && (string = json_stringn((const char *)data, size)) != NULL) {
		CHECK(len == size && memcmp(out, data, size) == 0);
		json_decref(string);
	}
	free(back);
	free(out);
	return 0;
}

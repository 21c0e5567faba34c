/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A libFuzzer harness for reading audit records back (ztctl profile
 * suggest): any bytes, split into lines, through zt_audit_parse_line and
 * the suggestion built from them.  Properties, beyond not crashing: a
 * parsed object is NUL-terminated at its length; every argument of an
 * exec, escaped for fnmatch, matches itself and only needs that escape;
 * its libconfig quoting is printable ASCII inside its quotes; the rules
 * printed are bounded.
 */
#include "config.h"

#include <fnmatch.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "suggest.h"
#include "zt_auditline.h"

static void
check_argument(const char *arg, size_t len)
{
	static char pattern[2 * ZT_AUDIT_VALUE_MAX + 2];
	static char quoted[4 * 2 * ZT_AUDIT_VALUE_MAX + 8];
	int n;

	/* The room is twice the value's. */
	CHECK(zt_fnmatch_escape(pattern, sizeof(pattern), arg, len) >= 0);
	/* The escaped pattern must match itself. */
	CHECK(fnmatch(pattern, arg, 0) == 0);
	n = zt_config_quote(quoted, sizeof(quoted), pattern, strlen(pattern));
	CHECK(n >= 2 && quoted[0] == '"' && quoted[n - 1] == '"');
	for (int i = 0; i < n; i++)
		CHECK((unsigned char)quoted[i] >= 0x20 &&
		    (unsigned char)quoted[i] <= 0x7e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct zt_audit_record r;
	const char *text = (const char *)data, *end = text + size;
	struct suggest *s = suggest_new("probe");
	FILE *out;
	char *printed = NULL;
	size_t printed_size = 0;

	if (s == NULL)
		return 0;
	while (text < end) {
		const char *eol = memchr(text, '\n', (size_t)(end - text));
		size_t len = eol != NULL ? (size_t)(eol - text) :
		    (size_t)(end - text);

		if (zt_audit_parse_line(text, len, &r) == 0) {
			const char *arg;

			CHECK(r.object_len < sizeof(r.object) &&
			    r.object[r.object_len] == '\0');
			/* An exec's arguments follow its path after NULs. */
			arg = r.object + strlen(r.object);
			while (arg < r.object + r.object_len) {
				size_t n = strlen(arg + 1);

				check_argument(arg + 1, n);
				arg += n + 1;
			}
			suggest_add(s, &r, NULL);
		}
		text += len + (eol != NULL);
	}
	out = open_memstream(&printed, &printed_size);
	if (out != NULL) {
		suggest_print(s, out);
		fclose(out);
	}
	free(printed);
	suggest_free(s);
	return 0;
}

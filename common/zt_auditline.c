/* SPDX-License-Identifier: Apache-2.0 */
/* Reading ztd's audit records back, and quoting what was read for reuse. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "zt_auditline.h"
#include "zt_err.h"

int
zt_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The value starting at *AT (before END): a bare word up to a blank, or a
 * quoted string, unescaped into OUT (SIZE bytes, NUL added); *LEN its
 * length, *CUT whether it ended in "..." inside its quotes.  *AT moves
 * past it.  0 or -1.
 */
static int
read_value(const char **at, const char *end, char *out, size_t size,
    size_t *len, bool *cut)
{
	const char *p = *at;
	size_t n = 0;

	*cut = false;
	if (p < end && *p == '"') {
		p++;
		for (;;) {
			char c;

			if (p >= end)
				return -1;	/* no closing quote */
			c = *p++;
			if (c == '"')
				break;
			if (c == '\\') {
				int hi, lo;

				if (p >= end)
					return -1;
				c = *p++;
				if (c == 'x') {
					if (end - p < 2 ||
					    (hi = zt_hex_value(p[0])) < 0 ||
					    (lo = zt_hex_value(p[1])) < 0)
						return -1;
					c = (char)(hi << 4 | lo);
					p += 2;
				} else if (c != '"' && c != '\\')
					return -1;
			} else if ((unsigned char)c < 0x20 ||
			    (unsigned char)c > 0x7e)
				return -1;	/* zt_escape never leaves one */
			if (n + 1 >= size)
				return -1;
			out[n++] = c;
		}
		/* zt_escape's mark of a cut value: the bare "..." before
		 * the closing quote (an escaped value cannot end so
		 * otherwise unless it did hold "..."; both read as cut). */
		*cut = p - *at >= 5 && memcmp(p - 4, "...", 3) == 0;
		if (p < end && *p != ' ')
			return -1;
	} else {
		while (p < end && *p != ' ') {
			if ((unsigned char)*p <= 0x20 ||
			    (unsigned char)*p > 0x7e || *p == '"' ||
			    n + 1 >= size)
				return -1;
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	*len = n;
	*at = p;
	return 0;
}

int
zt_audit_parse_line(const char *line, size_t len, struct zt_audit_record *out)
{
	const char *end, *at;
	unsigned seen = 0;
	enum { DECISION = 1, ACTION = 2, AGENT = 4, OBJECT = 8, CACHE = 16,
	    ENFORCED = 32, TIME = 64 };

	memset(out, 0, sizeof(*out));
	if (len > ZT_AUDIT_LINE_MAX || line == NULL)
		return ZT_E_PROTOCOL;
	end = line + len;
	/* A syslog prefix ("... ztd[PID]: ") ends where the record starts:
	 * at its first key, decision= or the time= before it. */
	at = NULL;
	for (const char *p = line; p + 9 <= end && at == NULL; p++)
		if ((p == line || p[-1] == ' ') &&
		    (memcmp(p, "decision=", 9) == 0 ||
		    memcmp(p, "time=", 5) == 0))
			at = p;
	if (at == NULL)
		return ZT_E_PROTOCOL;
	while (at < end) {
		const char *eq = memchr(at, '=', (size_t)(end - at));
		char scratch[ZT_AUDIT_VALUE_MAX], *dst = scratch;
		size_t key_len, size = sizeof(scratch), n;
		unsigned bit = 0;
		bool cut;

		if (eq == NULL || eq == at || memchr(at, ' ',
		    (size_t)(eq - at)) != NULL)
			return ZT_E_PROTOCOL;
		key_len = (size_t)(eq - at);
#define KEY(name) (key_len == sizeof(name) - 1 && \
	memcmp(at, name, key_len) == 0)
		if (KEY("decision")) {
			bit = DECISION;
			dst = out->decision;
			size = sizeof(out->decision);
		} else if (KEY("action")) {
			bit = ACTION;
			dst = out->action;
			size = sizeof(out->action);
		} else if (KEY("agent")) {
			bit = AGENT;
			dst = out->agent;
			size = sizeof(out->agent);
		} else if (KEY("object")) {
			bit = OBJECT;
			dst = out->object;
			size = sizeof(out->object);
		} else if (KEY("cache")) {
			bit = CACHE;
			dst = out->cache;
			size = sizeof(out->cache);
		} else if (KEY("enforced"))
			bit = ENFORCED;
		else if (KEY("time"))
			bit = TIME;
#undef KEY
		if (seen & bit)
			return ZT_E_PROTOCOL;
		seen |= bit;
		at = eq + 1;
		if (read_value(&at, end, dst, size, &n, &cut) < 0)
			return ZT_E_PROTOCOL;
		if (bit == OBJECT) {
			out->object_len = n;
			out->object_cut = cut;
		} else if (bit == ENFORCED)
			out->unenforced = strcmp(scratch, "no") == 0;
		else if (bit == TIME)
			out->has_time = zt_time_parse_utc(scratch, true,
			    &out->time) == 0;
		else if (dst != scratch && strlen(dst) != n)
			return ZT_E_PROTOCOL;	/* a NUL inside a name */
		while (at < end && *at == ' ')
			at++;
	}
	if ((seen & (DECISION | ACTION | AGENT)) != (DECISION | ACTION | AGENT))
		return ZT_E_PROTOCOL;
	return 0;
}

int
zt_time_parse_utc(const char *text, bool fraction_ok, int64_t *out)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	struct tm tm;
	const char *rest = text + sizeof(shape) - 1;
	time_t t;

	if (strnlen(text, sizeof(shape)) < sizeof(shape) - 1)
		return -1;
	for (size_t i = 0; i < sizeof(shape) - 1; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)text[i]) :
		    text[i] != shape[i])
			return -1;
	if (*rest == '.' && fraction_ok) {
		size_t digits = 0;

		while (isdigit((unsigned char)rest[1 + digits]))
			digits++;
		if (digits == 0 || digits > 9)
			return -1;
		rest += 1 + digits;
	}
	if (strcmp(rest, "Z") != 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6 ||
	    tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 ||
	    tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*out = (int64_t)t;
	return 0;
}

int
zt_config_quote(char *out, size_t size, const char *text, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (size < 3)
		goto too_long;
	out[n++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (n + 4 + 2 > size)
			goto too_long;
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c > 0x7e) {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		} else
			out[n++] = (char)c;
	}
	out[n++] = '"';
	out[n] = '\0';
	return (int)n;
too_long:
	if (size > 0)
		out[0] = '\0';
	return -1;
}

int
zt_fnmatch_escape(char *out, size_t size, const char *text, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (n + 3 > size) {
			if (size > 0)
				out[0] = '\0';
			return -1;
		}
		if (strchr("*?[\\", text[i]) != NULL && text[i] != '\0')
			out[n++] = '\\';
		out[n++] = text[i];
	}
	if (n + 1 > size)
		return -1;
	out[n] = '\0';
	return (int)n;
}

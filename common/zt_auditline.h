/* SPDX-License-Identifier: Apache-2.0 */
/* Reading ztd's audit records back (untrusted text: the file may be anyone's). */
#ifndef ZT_AUDITLINE_H
#define ZT_AUDITLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZT_AUDIT_LINE_MAX 8192		/* longer lines are no records */
#define ZT_AUDIT_VALUE_MAX 4096		/* a value, unescaped */
#define ZT_AUDIT_WORD_MAX 40		/* decision=, action=, cache= */

/* The value of hex digit C (either case), or -1. */
int zt_hex_value(char c);

/* What one record says, as far as suggesting a profile needs it. */
struct zt_audit_record {
	char decision[ZT_AUDIT_WORD_MAX];	/* "allow" or "deny" */
	char action[ZT_AUDIT_WORD_MAX];		/* "exec", "connect", ... */
	char cache[ZT_AUDIT_WORD_MAX];		/* "miss", "hit", "local", or "" */
	bool unenforced;			/* enforced=no */
	char agent[ZT_AUDIT_VALUE_MAX];		/* unescaped, NUL-terminated */
	/* Unescaped; may hold NULs (an exec's arguments follow its path,
	 * each after a NUL); OBJECT_LEN bytes, NUL-terminated after. */
	char object[ZT_AUDIT_VALUE_MAX];
	size_t object_len;
	bool object_cut;			/* it ended in "..." (cut) */
	bool has_time;				/* time= was there */
	int64_t time;				/* its unix seconds */
};

/*
 * Parse one audit record LINE (LEN bytes, without its '\n'): a line of
 * ztd's audit file or its syslog text, from "decision=" on (anything
 * before it, such as a syslog prefix, is skipped).  Values are bare words
 * or double-quoted with \" \\ and \xHH escapes, as zt_escape() writes
 * them; a quoted value ending in "..." was cut (OBJECT_CUT for object=).
 * Unknown keys are skipped; a key twice, a value longer than its room, a
 * bad escape, an unterminated quote, or a record without decision=,
 * action= and agent= is refused.  Returns 0 and fills OUT, or
 * ZT_E_PROTOCOL (OUT then holds nothing usable).
 */
int zt_audit_parse_line(const char *line, size_t len,
    struct zt_audit_record *out);

/*
 * "YYYY-MM-DDTHH:MM:SS[.FRACTION]Z" (RFC 3339, UTC; FRACTION 1-9 digits
 * and only when FRACTION_OK) as unix seconds (the fraction dropped): 0 and
 * *OUT, or -1.
 */
int zt_time_parse_utc(const char *text, bool fraction_ok, int64_t *out);

/*
 * TEXT (LEN bytes) as a libconfig string literal with its quotes into OUT
 * (SIZE bytes): '"' and '\' escaped, every byte outside printable ASCII
 * as \xHH, so that libconfig reads back exactly TEXT.  Returns the length
 * written, or -1 when it does not fit (OUT then holds "").
 */
int zt_config_quote(char *out, size_t size, const char *text, size_t len);

/*
 * TEXT (LEN bytes) as an fnmatch(3) pattern (flags 0) that matches TEXT
 * and nothing else: '*', '?', '[' and '\' get a backslash before them.
 * Returns the length written (OUT NUL-terminated), or -1 when it does not
 * fit in SIZE bytes.
 */
int zt_fnmatch_escape(char *out, size_t size, const char *text, size_t len);

#endif

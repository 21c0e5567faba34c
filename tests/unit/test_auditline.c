/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common/zt_auditline.c against daemon/audit.c: what audit_write puts in
 * the file reads back the same (an exec's arguments after NULs, hostile
 * bytes, enforced=no, a cut object, a connect's name=); malformed lines
 * are refused; the quoting helpers' output.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "zt_auditline.h"
#include "zt_err.h"
#include "zt_log.h"

/* The last line of the file at PATH into LINE (SIZE bytes). */
static void
last_line(const char *path, char *line, size_t size)
{
	FILE *f = fopen(path, "re");
	char buf[ZT_AUDIT_LINE_MAX + 2];

	assert_non_null(f);
	line[0] = '\0';
	while (fgets(buf, sizeof(buf), f) != NULL)
		snprintf(line, size, "%s", buf);
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
}

static void
test_round_trip(void **state)
{
	static const char object[] = "/usr/bin/git\0push\0--force\0"
	    "it's \"q\" \\ *?[\n\t\xc3\xa9\x7f";
	char dir[] = "/tmp/zt-auditline.XXXXXX", path[64], head[64];
	char error[256], line[ZT_AUDIT_LINE_MAX + 2];
	struct zt_audit_record r;
	struct audit *a = NULL;
	struct audit_event e = {
		.allow = false, .action = "exec", .agent = "probe",
		.account = "svc", .uid = 990, .pid = 42, .object = object,
		.object_len = sizeof(object) - 1, .reason = "learn mode",
		.grant = "-", .cache = "miss", .attest = "software",
		.age = 1, .unenforced = true,
	};
	char big[1500];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	snprintf(head, sizeof(head), "%s/audit.head", dir);
	zt_log_open_stderr("test_auditline");
	assert_int_equal(audit_open(path, head, true, &a, error,
	    sizeof(error)), 0);
	assert_int_equal(audit_write(a, &e), 0);
	last_line(path, line, sizeof(line));
	/* time= and host= first, enforced=no just before seq=, as audit.h
	 * says; time= is what --since reads. */
	assert_memory_equal(line, "time=", 5);
	assert_non_null(strstr(line, "Z host="));
	assert_non_null(strstr(line, " enforced=no seq=1 "));
	assert_int_equal(zt_audit_parse_line(line, strlen(line), &r), 0);
	assert_true(r.has_time);
	assert_true(r.time > 1700000000);
	assert_string_equal(r.decision, "deny");
	assert_string_equal(r.action, "exec");
	assert_string_equal(r.agent, "probe");
	assert_string_equal(r.cache, "miss");
	assert_true(r.unenforced);
	assert_false(r.object_cut);
	assert_int_equal(r.object_len, sizeof(object) - 1);
	assert_memory_equal(r.object, object, sizeof(object) - 1);

	/* An allow has no enforced=; a cut object is flagged cut. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	e.allow = true;
	e.unenforced = false;
	e.object = big;
	e.object_len = 0;
	assert_int_equal(audit_write(a, &e), 0);
	last_line(path, line, sizeof(line));
	assert_null(strstr(line, "enforced="));
	assert_int_equal(zt_audit_parse_line(line, strlen(line), &r), 0);
	assert_string_equal(r.decision, "allow");
	assert_false(r.unenforced);
	assert_true(r.object_cut);
	assert_true(r.object_len < sizeof(big) - 1);

	/* A connect by name learn mode let through: name= (dns's) sits
	 * between object= and reason=, enforced=no still before seq=; the
	 * object reads back whole. */
	e.allow = false;
	e.unenforced = true;
	e.action = "connect";
	e.object = "tcp:127.0.0.1:8443";
	e.name = "api.example.com";
	assert_int_equal(audit_write(a, &e), 0);
	last_line(path, line, sizeof(line));
	assert_non_null(strstr(line, " object=\"tcp:127.0.0.1:8443\" "
	    "name=\"api.example.com\" reason="));
	assert_non_null(strstr(line, " enforced=no seq=3 "));
	assert_int_equal(zt_audit_parse_line(line, strlen(line), &r), 0);
	assert_string_equal(r.action, "connect");
	assert_true(r.unenforced);
	assert_string_equal(r.object, "tcp:127.0.0.1:8443");
	assert_int_equal(r.object_len, strlen("tcp:127.0.0.1:8443"));
	audit_free(a);
	unlink(path);
	unlink(head);
	rmdir(dir);
}

static void
test_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"garbage",
		"decision=allow action=exec",			/* no agent= */
		"decision=allow action=exec agent=\"a",		/* no quote */
		"decision=allow action=exec agent=\"a\\q\"",	/* escape */
		"decision=allow action=exec agent=\"a\\x4\"",	/* short hex */
		"decision=allow action=exec agent=a agent=b",	/* twice */
		"decision=allow action=exec agent=\"a\"b",	/* after quote */
		"decision=allow action=exec agent=\"a\\x00b\"",	/* NUL in name */
		"decision=allow action=exec agent=a object=\"\x01\"",
		"decision=allow action=exec agent=a =x",
		"decision=allow action=exec agent=a novalue",
	};
	struct zt_audit_record r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (zt_audit_parse_line(bad[i], strlen(bad[i]), &r) !=
		    ZT_E_PROTOCOL)
			fail_msg("accepted: %s", bad[i]);
	/* A syslog prefix is skipped; time= read with its fraction. */
	{
		const char *ok = "<86>Dec  6 11:00:00 ztd[1]: time=2026-12-06T"
		    "11:00:00.123456Z host=web decision=allow action=connect "
		    "agent=\"p\" object=\"tcp:1.2.3.4:80\" cache=hit";

		assert_int_equal(zt_audit_parse_line(ok, strlen(ok), &r), 0);
		assert_true(r.has_time);
		assert_int_equal(r.time, 1796554800);
		assert_string_equal(r.object, "tcp:1.2.3.4:80");
		assert_string_equal(r.cache, "hit");
	}
}

static void
test_quoting(void **state)
{
	static const char *const args[] = {
		"*", "a?b", "[x]", "back\\slash", "plain", "", "\\*",
	};
	char pattern[64], quoted[256];
	int64_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
		assert_true(zt_fnmatch_escape(pattern, sizeof(pattern),
		    args[i], strlen(args[i])) >= 0);
		assert_int_equal(fnmatch(pattern, args[i], 0), 0);
		if (strcmp(args[i], "plain") != 0 && args[i][0] != '\0')
			assert_int_not_equal(fnmatch(pattern, "zz", 0), 0);
	}
	assert_int_equal(zt_fnmatch_escape(pattern, sizeof(pattern), "*?[\\",
	    4), 8);
	assert_string_equal(pattern, "\\*\\?\\[\\\\");
	assert_int_equal(zt_config_quote(quoted, sizeof(quoted),
	    "a\"b\\c\n\xff", 7), 17);
	assert_string_equal(quoted, "\"a\\\"b\\\\c\\x0a\\xff\"");
	assert_int_equal(zt_config_quote(quoted, 4, "abcdef", 6), -1);
	assert_string_equal(quoted, "");
	assert_int_equal(zt_time_parse_utc("2026-12-31T00:00:00Z", false, &t),
	    0);
	assert_int_equal(t, 1798675200);
	assert_int_equal(zt_time_parse_utc("2026-12-31T00:00:00.5Z", false,
	    &t), -1);
	assert_int_equal(zt_time_parse_utc("2026-13-31T00:00:00Z", false,
	    &t), -1);
	assert_int_equal(zt_time_parse_utc("2026-12-31 00:00:00Z", false,
	    &t), -1);
	assert_int_equal(zt_time_parse_utc("2026-12-31T00:00:00+00:00", false,
	    &t), -1);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_quoting),
	};

	return cmocka_run_group_tests_name("auditline", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of zt_group_member and zt_group_gid: the local files' answer
 * pam_zt's group= rule acts on while ztd cannot answer (issue 13: no
 * lockout, any doubt refuses).  A member, or any doubt (the account or the
 * group missing, a file unreadable, a line too long), must not come out as
 * 0 ("definitely no member"), which is what lets an account through.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zt_group.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static char dir[64];
static char passwd[128], group[128];

static const char passwd_text[] =
	"root:x:0:0:root:/root:/bin/bash\n"
	"svc-backup:x:990:990::/nonexistent:/usr/sbin/nologin\n"
	"svc-primary:x:991:980::/nonexistent:/usr/sbin/nologin\n"
	"alice:x:1000:1000::/home/alice:/bin/bash\n"
	"malformed line without colons\n"
	"bob:x:1001:1001::/home/bob:/bin/bash\n"
	/* Other names of an agent's uid: by primary gid, by member list. */
	"backup-alias:x:990:1000::/nonexistent:/usr/sbin/nologin\n"
	"primary-alias:x:991:1000::/nonexistent:/usr/sbin/nologin\n";

static const char group_text[] =
	"root:x:0:\n"
	"zt-agents:x:980:svc-backup,carol\n"
	"svc-backup:x:990:\n"
	"alice:x:1000:\n"
	"not a group line\n"
	"wheel:x:10:alice\n";

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/zt-group.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(passwd, sizeof(passwd), "%s/passwd", dir);
	snprintf(group, sizeof(group), "%s/group", dir);
	write_file(passwd, passwd_text);
	write_file(group, group_text);
	return 0;
}

static int
teardown(void **state)
{
	char path[160];

	(void)state;
	snprintf(path, sizeof(path), "%s/long", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	unlink(passwd);
	unlink(group);
	rmdir(dir);
	return 0;
}

struct member_case {
	const char *what;
	const char *user;
	const char *group;
	int want;
};

static const struct member_case member_cases[] = {
	{ "in the group's member list", "svc-backup", "zt-agents", 1 },
	{ "the group is its primary group", "svc-primary", "zt-agents", 1 },
	{ "in passwd, not in the group: definitely no member", "alice",
	    "zt-agents", 0 },
	{ "root is no member", "root", "zt-agents", 0 },
	{ "after a malformed passwd line, still found", "bob", "zt-agents",
	    0 },
	{ "listed in the group but not in passwd: doubt", "carol",
	    "zt-agents", -ENOENT },
	{ "not in passwd at all: doubt", "mallory", "zt-agents", -ENOENT },
	{ "the group missing: doubt, for root too", "root", "zt-missing",
	    -ENOENT },
	{ "the group missing: doubt", "alice", "zt-missing", -ENOENT },
	{ "a group after a malformed group line", "alice", "wheel", 1 },
	{ "a name is not a prefix match", "svc", "zt-agents", -ENOENT },
	{ "a group name is not a prefix match", "svc-backup", "zt-agent",
	    -ENOENT },
	{ "another name of a member's uid (member list): a member",
	    "backup-alias", "zt-agents", 1 },
	{ "another name of a member's uid (primary gid): a member",
	    "primary-alias", "zt-agents", 1 },
};

static void
test_member_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(member_cases); i++) {
		const struct member_case *c = &member_cases[i];
		int r = zt_group_member(passwd, group, c->user, c->group);

		if (r != c->want)
			fail_msg("%s: %s in %s: got %d, want %d", c->what,
			    c->user, c->group, r, c->want);
	}
}

/* An unreadable file is doubt (a negative errno), never 0. */
static void
test_unreadable_files(void **state)
{
	char missing[160], sub[160];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/nosuch", dir);
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	/* Precondition: with both files readable, alice is no member. */
	assert_int_equal(zt_group_member(passwd, group, "alice", "zt-agents"),
	    0);
	assert_int_equal(zt_group_member(passwd, missing, "alice",
	    "zt-agents"), -ENOENT);
	assert_true(zt_group_member(passwd, sub, "alice", "zt-agents") < 0);
	assert_int_equal(zt_group_member(missing, group, "alice",
	    "zt-agents"), -ENOENT);
	assert_true(zt_group_member(sub, group, "alice", "zt-agents") < 0);
	assert_true(zt_group_member(passwd, sub, "root", "zt-agents") < 0);
	/* Mode 000 keeps out only a process without CAP_DAC_OVERRIDE. */
	if (geteuid() != 0) {
		assert_int_equal(chmod(group, 0), 0);
		assert_int_equal(zt_group_member(passwd, group, "alice",
		    "zt-agents"), -EACCES);
		assert_int_equal(chmod(group, 0644), 0);
	}
}

/* A group line longer than the reader's buffer is an error, not a skip. */
static void
test_line_too_long(void **state)
{
	char path[160];
	size_t n = 20000;
	char *line = malloc(n + 64);
	FILE *f;

	(void)state;
	assert_non_null(line);
	snprintf(path, sizeof(path), "%s/long", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("big:x:5:", f);
	memset(line, 'a', n);
	line[n] = '\0';
	fputs(line, f);
	fputs("\nzt-agents:x:980:svc-backup\n", f);
	assert_int_equal(fclose(f), 0);
	free(line);
	/* Precondition: the same group file without the long line says 0. */
	assert_int_equal(zt_group_member(passwd, group, "alice", "zt-agents"),
	    0);
	assert_int_equal(zt_group_member(passwd, path, "svc-backup", "big"),
	    -ERANGE);
	/* zt-agents comes after it: alice is not said to be no member. */
	assert_true(zt_group_member(passwd, path, "alice", "zt-agents") < 0);
}

static void
test_group_gid(void **state)
{
	gid_t gid = 12345;

	(void)state;
	assert_int_equal(zt_group_gid(group, "zt-agents", &gid), 0);
	assert_int_equal(gid, 980);
	gid = 12345;
	assert_int_equal(zt_group_gid(group, "zt-missing", &gid), -ENOENT);
	assert_int_equal(gid, 12345);
	assert_true(zt_group_gid("/nonexistent/group", "root", &gid) < 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_member_table),
		cmocka_unit_test(test_unreadable_files),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_group_gid),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* daemon/disable.c: the set of disabled agents and its state file. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "disable.h"
#include "zt_err.h"

struct fixture {
	char dir[64];
	char path[96];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/zt-disable.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, DISABLE_FILE);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char tmp[128];

	unlink(f->path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	unlink(tmp);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static struct disabled *
open_ok(const struct fixture *f)
{
	struct disabled *d = NULL;
	char error[256];

	if (disabled_open(f->dir, &d, error, sizeof(error)) != 0)
		fail_msg("%s", error);
	assert_non_null(d);
	return d;
}

/* Absent file: nobody disabled.  Set, clear, and what a restart reads. */
static void
test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct disabled *d = open_ok(f);
	const char *name, *why;
	struct stat st;
	bool was = true;

	assert_int_equal(disabled_count(d), 0);
	assert_null(disabled_reason(d, "backup"));
	assert_int_equal(disabled_set(d, "backup", "key\nleak\x7f"), 0);
	assert_int_equal(disabled_set(d, "other", NULL), 0);
	assert_string_equal(disabled_reason(d, "backup"), "key?leak?");
	assert_string_equal(disabled_reason(d, "other"), "no reason given");
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	disabled_free(d);

	d = open_ok(f);
	assert_int_equal(disabled_count(d), 2);
	disabled_get(d, 0, &name, &why);
	assert_string_equal(name, "backup");
	assert_string_equal(why, "key?leak?");
	/* Disabling again replaces the reason. */
	assert_int_equal(disabled_set(d, "backup", "again"), 0);
	assert_int_equal(disabled_count(d), 2);
	assert_int_equal(disabled_clear(d, "backup", &was), 0);
	assert_true(was);
	assert_null(disabled_reason(d, "backup"));
	assert_int_equal(disabled_clear(d, "backup", &was), 0);
	assert_false(was);
	disabled_free(d);

	d = open_ok(f);
	assert_int_equal(disabled_count(d), 1);
	assert_null(disabled_reason(d, "backup"));
	assert_string_equal(disabled_reason(d, "other"), "no reason given");
	assert_int_equal(disabled_set(d, "bad name", "x"), -EINVAL);
	assert_int_equal(disabled_set(d, "", "x"), -EINVAL);
	disabled_free(d);
	disabled_free(NULL);
}

/* A file that is there but wrong keeps the set from opening. */
static void
test_refused(void **state)
{
	static const char *const bad[] = {
		"backup\n",			/* no reason */
		"backup ok\n" "x\n",		/* a good line, then a bad one */
		"backup reason\x01\n",		/* control byte */
		"backup reason",		/* cut write */
		" reason\n",			/* empty name */
		"b/ckup reason\n",		/* not an agent name */
	};
	struct fixture *f = *state;
	struct disabled *d;
	char error[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(f->path, bad[i], 0600);
		d = (struct disabled *)1;
		assert_int_equal(disabled_open(f->dir, &d, error,
		    sizeof(error)), ZT_E_PROTOCOL);
		assert_null(d);
		assert_non_null(strstr(error, f->path));
	}
	write_file(f->path, "backup why\n", 0666);
	assert_int_equal(disabled_open(f->dir, &d, error, sizeof(error)),
	    ZT_E_UNSAFE);
	unlink(f->path);
	assert_int_equal(symlink("/etc/passwd", f->path), 0);
	assert_true(disabled_open(f->dir, &d, error, sizeof(error)) < 0);
	assert_null(d);
	unlink(f->path);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	};

	return cmocka_run_group_tests_name("disable", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* common/zt_exe.c and zt_envcheck.c: the "#!" parser against a table and
 * against the kernel itself, the /proc readers, the environment lists. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "zt_envcheck.h"
#include "zt_exe.h"

struct shebang_case {
	const char *text;
	size_t len;		/* 0: strlen(text) */
	int result;
	const char *interpreter;
	const char *argument;	/* NULL: none */
};

#define L(s) s, sizeof(s) - 1

static const struct shebang_case shebang_cases[] = {
	{ L("#!/bin/sh\n"), 1, "/bin/sh", NULL },
	{ L("#!/bin/sh"), 1, "/bin/sh", NULL },	/* no newline, short */
	{ L("#! /bin/sh\n"), 1, "/bin/sh", NULL },
	{ L("#!\t /bin/sh \t\n"), 1, "/bin/sh", NULL },
	{ L("#!/bin/sh -e\n"), 1, "/bin/sh", "-e" },
	{ L("#!/bin/sh   -e  -x \t\n"), 1, "/bin/sh", "-e  -x" },
	{ L("#!/usr/bin/env python3 -u\nprint()\n"), 1, "/usr/bin/env",
	    "python3 -u" },
	/* '\r' is no blank for the kernel: part of the name, the argument */
	{ L("#!/bin/sh\r\n"), 1, "/bin/sh\r", NULL },
	{ L("#!/bin/sh -e\r\n"), 1, "/bin/sh", "-e\r" },
	{ L("#!/bin/sh \r\n"), 1, "/bin/sh", "\r" },
	/* a NUL ends the line, and the search for its newline */
	{ L("#!/bin/sh\0 -e\n"), 1, "/bin/sh", NULL },
	/* a blank then the end of a short file: an empty argument */
	{ L("#!/bin/sh "), 1, "/bin/sh", "" },
	{ L("#!/bin/sh \0-e\n"), 1, "/bin/sh", "" },
	{ L("#!relative arg\n"), 1, "relative", "arg" },
	{ L("#!\n"), -ENOEXEC, NULL, NULL },
	{ L("#!  \t\n"), -ENOEXEC, NULL, NULL },
	{ L("#!"), -ENOEXEC, NULL, NULL },
	{ L("#"), 0, NULL, NULL },
	{ L(""), 0, NULL, NULL },
	{ L("\x7f" "ELF"), 0, NULL, NULL },
	{ L(" #!/bin/sh\n"), 0, NULL, NULL },
};

static void
test_shebang_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(shebang_cases) /
	    sizeof(shebang_cases[0]); i++) {
		const struct shebang_case *c = &shebang_cases[i];
		struct zt_shebang sb;
		int r = zt_shebang_parse(c->text, c->len, &sb);

		print_message("case %zu\n", i);
		assert_int_equal(r, c->result);
		if (r != 1)
			continue;
		assert_string_equal(sb.interpreter, c->interpreter);
		assert_int_equal(sb.has_argument, c->argument != NULL);
		if (c->argument != NULL)
			assert_string_equal(sb.argument, c->argument);
	}
}

/* Lines as long as the kernel's buffer, and longer. */
static void
test_shebang_long(void **state)
{
	char buf[400];
	struct zt_shebang sb;

	(void)state;
	/* The name does not end within 256 bytes: refused. */
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "#!/", 3);
	assert_int_equal(zt_shebang_parse(buf, sizeof(buf), &sb),
	    -ENAMETOOLONG);
	/* It ends at byte 255 exactly: accepted, no argument. */
	buf[255] = ' ';
	assert_int_equal(zt_shebang_parse(buf, sizeof(buf), &sb), 1);
	assert_int_equal(strlen(sb.interpreter), 255 - 2);
	assert_false(sb.has_argument);
	/* A complete name and a long argument: cut at byte 254. */
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "#!/bin/sh ", 10);
	assert_int_equal(zt_shebang_parse(buf, sizeof(buf), &sb), 1);
	assert_string_equal(sb.interpreter, "/bin/sh");
	assert_true(sb.has_argument);
	assert_int_equal(strlen(sb.argument), 255 - 10);
	/* A newline within the buffer: the whole line. */
	buf[200] = '\n';
	assert_int_equal(zt_shebang_parse(buf, sizeof(buf), &sb), 1);
	assert_int_equal(strlen(sb.argument), 200 - 10);
}

/*
 * What the kernel does with the same lines: a script whose interpreter is
 * a copy of the test's helper (this program, run with ZT_ARGV_OUT set,
 * writes its argv there), exec'd; its argv must be the parser's answer
 * followed by the script's path.
 */
static char dir[PATH_MAX];

static void
kernel_argv(const char *line, size_t len, char *out, size_t size,
    size_t *out_len)
{
	char script[PATH_MAX + 16], argv_file[PATH_MAX + 16];
	int fd, status;
	ssize_t n;
	pid_t pid;

	snprintf(script, sizeof(script), "%s/script", dir);
	snprintf(argv_file, sizeof(argv_file), "%s/argv", dir);
	unlink(argv_file);
	unlink(script);
	fd = open(script, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, line, len), (ssize_t)len);
	close(fd);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = { script, (char *)"tail", NULL };
		char env[PATH_MAX + 32];
		char *envp[] = { env, NULL };

		snprintf(env, sizeof(env), "ZT_ARGV_OUT=%s", argv_file);
		execve(script, argv, envp);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	*out_len = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return;
	fd = open(argv_file, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, out, size);
	close(fd);
	assert_true(n >= 0);
	*out_len = (size_t)n;
}

/* The kernel's argv for LINE must be the parser's answer, the script's
 * path and the one argument given. */
static void
compare_with_kernel(const char *line, size_t len)
{
	char script[PATH_MAX + 16], got[4096], want[4096];
	size_t got_len, want_len = 0;
	struct zt_shebang sb;

	assert_int_equal(zt_shebang_parse(line, len, &sb), 1);
	snprintf(script, sizeof(script), "%s/script", dir);
	memcpy(want, sb.interpreter, strlen(sb.interpreter) + 1);
	want_len += strlen(sb.interpreter) + 1;
	if (sb.has_argument) {
		memcpy(want + want_len, sb.argument, strlen(sb.argument) + 1);
		want_len += strlen(sb.argument) + 1;
	}
	memcpy(want + want_len, script, strlen(script) + 1);
	want_len += strlen(script) + 1;
	memcpy(want + want_len, "tail", 5);
	want_len += 5;
	kernel_argv(line, len, got, sizeof(got), &got_len);
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
}

static void
test_shebang_kernel(void **state)
{
	/* Lines whose interpreter is "@" (the helper) and what follows. */
	static const char *const tails[] = {
		"\n", " -e\n", "   -e  -x \t\n", " -e\r\n", " \r\n",
		"\t\t-a b\n", "", " ", " \0-e\n", "\0 -e\n", " -q",
	};
	static const size_t tail_lens[] = {
		1, 4, 11, 5, 3, 7, 0, 1, 5, 5, 3,
	};
	char helper[PATH_MAX + 16], self[PATH_MAX], line[PATH_MAX * 2];
	char got[4096];
	size_t got_len, len;
	ssize_t n;
	int in, out;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/zt-test-exe.XXXXXX");
	assert_non_null(mkdtemp(dir));
	/* A copy of this program, so that the path has no blank. */
	snprintf(helper, sizeof(helper), "%s/helper", dir);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	in = open(self, O_RDONLY | O_CLOEXEC);
	out = open(helper, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, got, sizeof(got))) > 0)
		assert_int_equal(write(out, got, (size_t)n), n);
	close(in);
	close(out);
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		len = (size_t)snprintf(line, sizeof(line), "#!%s", helper);
		memcpy(line + len, tails[i], tail_lens[i]);
		len += tail_lens[i];
		print_message("kernel case %zu\n", i);
		compare_with_kernel(line, len);
	}
	/* No newline in the buffer, a complete name: the argument cut. */
	len = (size_t)snprintf(line, sizeof(line), "#!%s ", helper);
	memset(line + len, 'a', 400);
	compare_with_kernel(line, len + 400);
	/* What the parser refuses, the kernel does not run either (a name
	 * longer than the buffer: ENOEXEC, the helper never runs). */
	memset(line, 'x', 300);
	len = (size_t)snprintf(line, sizeof(line), "#!%s", helper);
	line[len] = 'x';
	kernel_argv(line, 300, got, sizeof(got), &got_len);
	assert_int_equal(got_len, 0);
	unlink(helper);
	snprintf(line, sizeof(line), "%s/script", dir);
	unlink(line);
	snprintf(line, sizeof(line), "%s/argv", dir);
	unlink(line);
	rmdir(dir);
}

static void
test_proc(void **state)
{
	pid_t tgid = 0, ppid = 0;
	uid_t uid = 0;

	(void)state;
	assert_int_equal(zt_proc_tgid(getpid(), &tgid), 0);
	assert_int_equal(tgid, getpid());
	assert_int_equal(zt_proc_ppid(getpid(), &ppid), 0);
	assert_int_equal(ppid, getppid());
	assert_int_equal(zt_proc_uid(getpid(), &uid), 0);
	assert_int_equal(uid, getuid());
	assert_true(zt_proc_tgid(0, &tgid) < 0);
	assert_true(zt_proc_uid(INT32_MAX, &uid) < 0);
}

static void
test_env_lists(void **state)
{
	static const char *const dangerous[] = {
		"LD_PRELOAD", "LD_AUDIT", "LD_LIBRARY_PATH", "GCONV_PATH",
		"GLIBC_TUNABLES", "MALLOC_CHECK_", "PYTHONPATH",
		"PYTHONSTARTUP", "PERL5OPT", "PERL5LIB", "RUBYOPT",
		"NODE_OPTIONS", "BASH_ENV", "ENV", "BASH_FUNC_ls%%",
		"SHELLOPTS", "PS4", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS",
		"CLASSPATH", "GIT_SSH_COMMAND", "GIT_CONFIG_COUNT",
		"GIT_CONFIG_KEY_0", "OPENSSL_CONF", "LUA_INIT", "IFS",
		"EDITOR", "PAGER", "LESSOPEN", "npm_config_script_shell",
	};
	static const char *const harmless[] = {
		"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TERM", "HTTPS_PROXY",
		"NLSPATH", "TMPDIR", "RES_OPTIONS", "LD", "PYTHO", "ENVX",
		"GIT_AUTHOR_NAME", "",
	};
	const char *const allowed[] = { "LANG", "PYTHON*", "LD_AUDIT" };
	static const char blob[] = "PATH=/bin\0PYTHONPATH=/x\0LD_AUDIT=a\0"
	    "LD_PRELOAD=/tmp/x.so\0LC_ALL=C";
	size_t name_len = 0;
	const char *hit;

	(void)state;
	for (size_t i = 0; i < sizeof(dangerous) / sizeof(*dangerous); i++) {
		print_message("%s\n", dangerous[i]);
		assert_true(zt_env_is_dangerous(dangerous[i],
		    strlen(dangerous[i])));
	}
	for (size_t i = 0; i < sizeof(harmless) / sizeof(*harmless); i++) {
		print_message("%s\n", harmless[i]);
		assert_false(zt_env_is_dangerous(harmless[i],
		    strlen(harmless[i])));
	}
	assert_true(zt_env_is_base("LC_TIME", 7));
	assert_true(zt_env_is_base("PATH", 4));
	assert_false(zt_env_is_base("PATHX", 5));
	assert_false(zt_env_is_base("LD_PRELOAD", 10));
	assert_true(zt_env_pattern_valid("LANG"));
	assert_true(zt_env_pattern_valid("LC_*"));
	assert_true(zt_env_pattern_valid("_x9"));
	assert_false(zt_env_pattern_valid("9X"));
	assert_false(zt_env_pattern_valid("*"));
	assert_false(zt_env_pattern_valid("A*B"));
	assert_false(zt_env_pattern_valid("A=B"));
	assert_false(zt_env_pattern_valid(""));
	assert_true(zt_env_named(allowed, 3, "PYTHONPATH", 10));
	assert_false(zt_env_named(allowed, 3, "LANGX", 5));
	hit = zt_env_find_refused(blob, sizeof(blob) - 1, allowed, 3,
	    &name_len);
	assert_non_null(hit);
	assert_int_equal(name_len, 10);
	assert_memory_equal(hit, "LD_PRELOAD", 10);
	/* An entry with no '=' is judged by its whole text. */
	assert_non_null(zt_env_find_refused("LD_PRELOAD", 10, NULL, 0,
	    &name_len));
	assert_null(zt_env_find_refused("A=1\0B=2", 7, NULL, 0, &name_len));
}

int
main(int argc, char **argv)
{
	const char *out = getenv("ZT_ARGV_OUT");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shebang_table),
		cmocka_unit_test(test_shebang_long),
		cmocka_unit_test(test_shebang_kernel),
		cmocka_unit_test(test_proc),
		cmocka_unit_test(test_env_lists),
	};

	/* Run as a script's interpreter: write argv, NUL-separated. */
	if (out != NULL) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);

		if (fd < 0)
			return 1;
		for (int i = 0; i < argc; i++)
			if (write(fd, argv[i], strlen(argv[i]) + 1) < 0)
				return 1;
		close(fd);
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}

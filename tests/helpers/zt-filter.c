/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper: run a command under a seccomp filter, to show ztd under
 * ztd.service's SystemCallFilter= or a kernel that lacks a feature. */
#include "config.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
	const char *name;
	int value;
} errnos[] = {
	{ "EPERM", EPERM }, { "ENOSYS", ENOSYS }, { "EINVAL", EINVAL },
	{ "ENOPROTOOPT", ENOPROTOOPT }, { "EOPNOTSUPP", EOPNOTSUPP },
};

static int
errno_value(const char *name)
{
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (strcmp(errnos[i].name, name) == 0)
			return errnos[i].value;
	return -1;
}

/* allow FILE: every syscall named in FILE (one a line) is allowed, any
 * other fails with EPERM (SystemCallErrorNumber=EPERM). */
static int
allow_file(scmp_filter_ctx ctx, const char *path)
{
	char line[128];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		int nr;

		line[strcspn(line, " \t\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		nr = seccomp_syscall_resolve_name(line);
		if (nr == __NR_SCMP_ERROR)
			continue;	/* not a syscall of this architecture */
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0) {
			fprintf(stderr, "zt-filter: %s: cannot allow\n", line);
			fclose(f);
			return -1;
		}
		n++;
	}
	fclose(f);
	return n > 0 ? 0 : -1;
}

/* NAME[:ARG=VALUE]:ERRNO: NAME fails with ERRNO (when its argument ARG
 * is VALUE), as on a kernel without it. */
static int
deny_spec(scmp_filter_ctx ctx, char *spec)
{
	char *name = spec, *last = strrchr(spec, ':'), *cond;
	int nr, err;

	if (last == NULL)
		return -1;
	*last = '\0';
	err = errno_value(last + 1);
	cond = strchr(name, ':');
	if (cond != NULL)
		*cond++ = '\0';
	nr = seccomp_syscall_resolve_name(name);
	if (err < 0 || nr == __NR_SCMP_ERROR)
		return -1;
	if (cond != NULL) {
		unsigned arg;
		unsigned long long value;

		if (sscanf(cond, "%u=%llu", &arg, &value) != 2 || arg > 5)
			return -1;
		return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), nr, 1,
		    SCMP_CMP(arg, SCMP_CMP_EQ, value));
	}
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), nr, 0);
}

int
main(int argc, char **argv)
{
	scmp_filter_ctx ctx;
	int i = 2;

	if (argc < 5 || (strcmp(argv[1], "allow") != 0 &&
	    strcmp(argv[1], "deny") != 0)) {
		fprintf(stderr, "usage: zt-filter allow FILE -- COMMAND...\n"
		    "       zt-filter deny NAME[:ARG=VALUE]:ERRNO... -- "
		    "COMMAND...\n");
		return 2;
	}
	ctx = seccomp_init(strcmp(argv[1], "allow") == 0 ?
	    SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_ALLOW);
	if (ctx == NULL)
		return 2;
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if ((strcmp(argv[1], "allow") == 0 ?
		    allow_file(ctx, argv[i]) : deny_spec(ctx, argv[i])) < 0) {
			fprintf(stderr, "zt-filter: bad rule '%s'\n", argv[i]);
			return 2;
		}
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "zt-filter: no command after --\n");
		return 2;
	}
	/* As root no NO_NEW_PRIVS is needed (CAP_SYS_ADMIN), so a setgid
	 * program still runs as installed; otherwise set it. */
	if (geteuid() != 0 && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1) < 0)
		return 2;
	if (geteuid() == 0 && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0)
		return 2;
	if (seccomp_load(ctx) < 0) {
		fprintf(stderr, "zt-filter: cannot load the filter\n");
		return 2;
	}
	seccomp_release(ctx);
	execvp(argv[i + 1], argv + i + 1);
	fprintf(stderr, "zt-filter: %s: %s\n", argv[i + 1], strerror(errno));
	return 127;
}

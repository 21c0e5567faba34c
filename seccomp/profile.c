/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing the profile ztd sends with a launch grant. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

#define ERROR_MAX 160

static int
fail(char *error, unsigned line, const char *what)
{
	snprintf(error, ERROR_MAX, "profile line %u: %s", line, what);
	return -EINVAL;
}

static int
copy(char *dst, size_t size, const char *value)
{
	size_t n = strlen(value);

	if (n == 0 || n >= size)
		return -1;
	memcpy(dst, value, n + 1);
	return 0;
}

static int
parse_access(const char *mode, unsigned *access)
{
	*access = 0;
	if (*mode == '\0' || strcmp(mode, "-") == 0)
		return 0;
	for (; *mode != '\0'; mode++) {
		unsigned bit = *mode == 'r' ? PROFILE_R : *mode == 'w' ?
		    PROFILE_W : *mode == 'x' ? PROFILE_X : 0;

		if (bit == 0 || (*access & bit))
			return -1;
		*access |= bit;
	}
	return 0;
}

static int
parse_line(struct profile *p, char *key, char *value, unsigned line,
    char *error)
{
	if (strcmp(key, "agent") == 0) {
		if (copy(p->agent, sizeof(p->agent), value) < 0)
			return fail(error, line, "bad agent name");
	} else if (strcmp(key, "binary") == 0) {
		if (value[0] != '/' ||
		    copy(p->binary, sizeof(p->binary), value) < 0)
			return fail(error, line, "bad binary");
	} else if (strcmp(key, "on_violation") == 0) {
		if (strcmp(value, "kill") != 0 && strcmp(value, "deny") != 0)
			return fail(error, line, "bad on_violation");
		p->kill_on_violation = strcmp(value, "kill") == 0;
	} else if (strcmp(key, "landlock") == 0) {
		if (strcmp(value, "optional") != 0 &&
		    strcmp(value, "required") != 0)
			return fail(error, line, "bad landlock");
		p->landlock_optional = strcmp(value, "optional") == 0;
	} else if (strcmp(key, "decision_ttl") == 0) {
		char *end;
		unsigned long v = strtoul(value, &end, 10);

		if (*end != '\0' || end == value || v > 86400)
			return fail(error, line, "bad decision_ttl");
		p->decision_ttl = (unsigned)v;
	} else if (strcmp(key, "files") == 0) {
		p->files_given = strcmp(value, "yes") == 0;
	} else if (strcmp(key, "file") == 0) {
		char *path = strchr(value, ' ');
		struct profile_file *f;

		if (p->n_files == PROFILE_ITEMS_MAX)
			return fail(error, line, "too many files");
		f = &p->files[p->n_files];
		if (path == NULL)
			return fail(error, line, "file: MODE PATH");
		*path++ = '\0';
		if (parse_access(value, &f->access) < 0 || path[0] != '/' ||
		    copy(f->path, sizeof(f->path), path) < 0)
			return fail(error, line, "bad file rule");
		p->n_files++;
	} else if (strcmp(key, "command") == 0) {
		if (p->n_commands == PROFILE_ITEMS_MAX || value[0] != '/' ||
		    copy(p->commands[p->n_commands], PATH_MAX, value) < 0)
			return fail(error, line, "bad command");
		p->n_commands++;
	} else if (strcmp(key, "deny") == 0 || strcmp(key, "gate") == 0) {
		bool deny = key[0] == 'd';
		size_t *n = deny ? &p->n_deny : &p->n_gate;
		char (*list)[32] = deny ? p->deny : p->gate;

		if (*n == PROFILE_ITEMS_MAX || copy(list[*n], 32, value) < 0)
			return fail(error, line, "bad syscall name");
		(*n)++;
	} else if (strcmp(key, "tunnel") == 0) {
		p->tunnel = strcmp(value, "yes") == 0;
	} else if (strcmp(key, "learn") == 0) {
		p->learn = strcmp(value, "yes") == 0;
	} else if (strcmp(key, "tunnel_ca") == 0) {
		/* Only a head start: beyond 8, contexts are made on use. */
		if (p->n_tunnel_cas < 8 && copy(p->tunnel_cas[p->n_tunnel_cas],
		    PATH_MAX, value) == 0)
			p->n_tunnel_cas++;
	} else if (strcmp(key, "env") == 0) {
		if (p->n_env == ZT_ENV_NAMES_MAX ||
		    !zt_env_pattern_valid(value) ||
		    copy(p->env[p->n_env], sizeof(p->env[0]), value) < 0)
			return fail(error, line, "bad env name");
		p->env_names[p->n_env] = p->env[p->n_env];
		p->n_env++;
	} else if (strcmp(key, "family") == 0) {
		if (strcmp(value, "inet") == 0)
			p->inet = true;
		else if (strcmp(value, "inet6") == 0)
			p->inet6 = true;
		else if (strcmp(value, "unix") == 0)
			p->unix_ = true;
		else
			return fail(error, line, "bad family");
	} else
		return fail(error, line, "unknown key");
	return 0;
}

int
profile_parse(const char *text, struct profile *p, char *error)
{
	char line[PATH_MAX + 64];
	unsigned n = 0;

	memset(p, 0, sizeof(*p));
	while (*text != '\0') {
		const char *eol = strchr(text, '\n');
		size_t len = eol != NULL ? (size_t)(eol - text) : strlen(text);
		char *space;
		int r;

		n++;
		if (len >= sizeof(line))
			return fail(error, n, "too long");
		memcpy(line, text, len);
		line[len] = '\0';
		text += len + (eol != NULL);
		if ((space = strchr(line, ' ')) == NULL)
			return fail(error, n, "no value");
		*space = '\0';
		if ((r = parse_line(p, line, space + 1, n, error)) < 0)
			return r;
	}
	if (p->agent[0] == '\0' || p->binary[0] == '\0')
		return fail(error, n, "no agent or binary");
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the profile ztd sends with a launch grant. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "zt_msg.h"

#define ERROR_MAX 160

static int
fail(char *error, const char *what)
{
	snprintf(error, ERROR_MAX, "ztd's profile: %s", what);
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

/* The strings of tag TAG in R into LIST (at most MAX of SIZE bytes);
 * false on one too long, empty, or past MAX. */
static bool
get_list(const struct zt_record *r, enum zt_field_tag tag, char *list,
    size_t size, size_t max, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < r->n_fields; i++) {
		const struct zt_field *f = &r->fields[i];

		if (f->tag != tag)
			continue;
		if (*n == max || copy(list + *n * size, size, f->value) < 0)
			return false;
		(*n)++;
	}
	return true;
}

int
profile_from_record(const struct zt_record *r, struct profile *p,
    char *error)
{
	const char *agent, *binary;
	uint32_t flags, ttl;
	struct zt_record file;
	size_t cursor = 0, n;

	memset(p, 0, offsetof(struct profile, files));
	if (zt_record_get_str(r, ZT_F_AGENT, &agent) < 0 ||
	    zt_record_get_str(r, ZT_F_BINARY, &binary) < 0 ||
	    zt_record_get_u32(r, ZT_F_FLAGS, &flags) < 0 ||
	    zt_record_get_u32(r, ZT_F_DECISION_TTL, &ttl) < 0)
		return fail(error, "agent, binary, flags or decision_ttl "
		    "missing");
	if (copy(p->agent, sizeof(p->agent), agent) < 0)
		return fail(error, "bad agent name");
	if (binary[0] != '/' || copy(p->binary, sizeof(p->binary), binary) < 0)
		return fail(error, "bad binary");
	if (flags & ~ZT_PROFILE_FLAGS_ALL)
		return fail(error, "unknown flags");
	if (ttl > 86400)
		return fail(error, "bad decision_ttl");
	p->decision_ttl = ttl;
	p->kill_on_violation = flags & ZT_PROFILE_KILL;
	p->landlock_optional = flags & ZT_PROFILE_LANDLOCK_OPTIONAL;
	p->files_given = flags & ZT_PROFILE_FILES;
	p->tunnel = flags & ZT_PROFILE_TUNNEL;
	p->inet = flags & ZT_PROFILE_INET;
	p->inet6 = flags & ZT_PROFILE_INET6;
	p->unix_ = flags & ZT_PROFILE_UNIX;
	while (zt_record_next(r, ZT_F_FILE, &cursor, &file) == 0) {
		struct profile_file *f;
		const char *path;
		uint32_t access;

		if (p->n_files == PROFILE_ITEMS_MAX)
			return fail(error, "too many files");
		f = &p->files[p->n_files];
		if (zt_record_get_str(&file, ZT_F_PATH, &path) < 0 ||
		    zt_record_get_u32(&file, ZT_F_ACCESS, &access) < 0 ||
		    (access & ~(PROFILE_R | PROFILE_W | PROFILE_X)) ||
		    path[0] != '/' || copy(f->path, sizeof(f->path), path) < 0)
			return fail(error, "bad file rule");
		f->access = access;
		p->n_files++;
	}
	if (!get_list(r, ZT_F_COMMAND, p->commands[0], PATH_MAX,
	    PROFILE_ITEMS_MAX, &p->n_commands))
		return fail(error, "bad command");
	for (size_t i = 0; i < p->n_commands; i++)
		if (p->commands[i][0] != '/')
			return fail(error, "bad command");
	if (!get_list(r, ZT_F_SYSCALL_DENY, p->deny[0], 32, PROFILE_ITEMS_MAX,
	    &p->n_deny) ||
	    !get_list(r, ZT_F_SYSCALL_GATE, p->gate[0], 32, PROFILE_ITEMS_MAX,
	    &p->n_gate))
		return fail(error, "bad syscall name");
	if (!get_list(r, ZT_F_ENV, p->env[0], sizeof(p->env[0]),
	    ZT_ENV_NAMES_MAX, &p->n_env))
		return fail(error, "bad env name");
	for (size_t i = 0; i < p->n_env; i++) {
		if (!zt_env_pattern_valid(p->env[i]))
			return fail(error, "bad env name");
		p->env_names[i] = p->env[i];
	}
	/* Only a head start: beyond 8, contexts are made on use. */
	n = 0;
	for (size_t i = 0; i < r->n_fields && n < 8; i++)
		if (r->fields[i].tag == ZT_F_CA &&
		    copy(p->tunnel_cas[n], PATH_MAX, r->fields[i].value) == 0)
			n++;
	p->n_tunnel_cas = n;
	return 0;
}

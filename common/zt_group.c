/* SPDX-License-Identifier: Apache-2.0 */
/* Reading /etc/passwd and /etc/group directly (fget*ent_r), never NSS. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "zt_group.h"

/*
 * Find group NAME in the group file PATH: 0 with *G (pointing into BUF),
 * -ENOENT, or -errno (-ERANGE: a line longer than BUF, which glibc rewinds
 * to, so it cannot be skipped: an error, not a guess).
 */
static int
find_group(const char *path, const char *name, struct group *g, char *buf,
    size_t size)
{
	struct group *found;
	FILE *f = fopen(path, "re");
	int r = -ENOENT;

	if (f == NULL)
		return -errno;
	for (;;) {
		int e = fgetgrent_r(f, g, buf, size, &found);

		if (e == ENOENT)
			break;			/* the end of the file */
		if (e != 0) {
			r = -e;
			break;
		}
		if (strcmp(found->gr_name, name) == 0) {
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

int
zt_group_gid(const char *path, const char *name, gid_t *gid)
{
	char buf[16384];
	struct group g;
	int r;

	if ((r = find_group(path, name, &g, buf, sizeof(buf))) == 0)
		*gid = g.gr_gid;
	return r;
}

/*
 * Each line of the passwd file PATH to FN (with ARG) until FN returns
 * true: 1 then, 0 at the end, or a negative errno (the file unreadable, a
 * line longer than glibc's buffer here).
 */
static int
passwd_walk(const char *path, bool (*fn)(const struct passwd *pw,
    void *arg), void *arg)
{
	char buf[4096];
	struct passwd pw, *found = NULL;
	FILE *f;
	int r = 0;

	if ((f = fopen(path, "re")) == NULL)
		return -errno;
	for (;;) {
		int e = fgetpwent_r(f, &pw, buf, sizeof(buf), &found);

		if (e == ENOENT)
			break;			/* the end of the file */
		if (e != 0) {
			r = -e;
			break;
		}
		if (fn(found, arg)) {
			r = 1;
			break;
		}
	}
	fclose(f);
	return r;
}

struct uid_walk {
	uid_t uid;
	bool (*fn)(const char *name, gid_t gid, void *arg);
	void *arg;
};

static bool
uid_line(const struct passwd *pw, void *arg)
{
	const struct uid_walk *w = arg;

	return pw->pw_uid == w->uid && w->fn(pw->pw_name, pw->pw_gid, w->arg);
}

int
zt_passwd_uid_each(const char *path, uid_t uid,
    bool (*fn)(const char *name, gid_t gid, void *arg), void *arg)
{
	struct uid_walk w = { .uid = uid, .fn = fn, .arg = arg };

	return passwd_walk(path, uid_line, &w);
}

/* Is NAME (primary gid GID) a member of the group ARG? */
static bool
in_group(const char *name, gid_t gid, void *arg)
{
	const struct group *g = arg;

	if (gid == g->gr_gid)
		return true;
	for (char **p = g->gr_mem; p != NULL && *p != NULL; p++)
		if (strcmp(*p, name) == 0)
			return true;
	return false;
}

/* The line of the user named in ARG's NAME: its uid into ARG. */
struct named {
	const char *name;
	uid_t uid;
};

static bool
named_line(const struct passwd *pw, void *arg)
{
	struct named *n = arg;

	if (strcmp(pw->pw_name, n->name) != 0)
		return false;
	n->uid = pw->pw_uid;
	return true;
}

int
zt_group_member(const char *passwd_path, const char *group_path,
    const char *user, const char *group)
{
	char gbuf[16384];
	struct named n = { .name = user };
	struct group g;
	int r;

	if ((r = passwd_walk(passwd_path, named_line, &n)) <= 0)
		return r < 0 ? r : -ENOENT;	/* unreadable, or not there */
	if ((r = find_group(group_path, group, &g, gbuf, sizeof(gbuf))) < 0)
		return r;
	/* Every name of USER's uid, USER's own line among them. */
	return zt_passwd_uid_each(passwd_path, n.uid, in_group, &g);
}

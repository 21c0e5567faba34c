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

int
zt_group_member(const char *passwd_path, const char *group_path,
    const char *user, const char *group)
{
	char pbuf[4096], gbuf[16384];
	struct passwd pw, *found = NULL;
	struct group g;
	bool seen = false;
	FILE *f;
	int r = -ENOENT;

	if ((f = fopen(passwd_path, "re")) == NULL)
		return -errno;
	for (;;) {
		int e = fgetpwent_r(f, &pw, pbuf, sizeof(pbuf), &found);

		if (e == ENOENT)
			break;
		if (e != 0) {
			r = -e;
			break;
		}
		if (strcmp(found->pw_name, user) == 0) {
			seen = true;
			r = 0;
			break;
		}
	}
	fclose(f);
	if (!seen)
		return r;		/* not in the file, or unreadable */
	if ((r = find_group(group_path, group, &g, gbuf, sizeof(gbuf))) < 0)
		return r;
	if (found->pw_gid == g.gr_gid)
		return 1;
	for (char **m = g.gr_mem; m != NULL && *m != NULL; m++)
		if (strcmp(*m, user) == 0)
			return 1;
	return 0;
}

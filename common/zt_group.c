/* SPDX-License-Identifier: Apache-2.0 */
/* Reading /etc/group directly (fgetgrent_r), never through NSS. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>

#include "zt_group.h"

int
zt_group_gid(const char *path, const char *name, gid_t *gid)
{
	char buf[16384];
	struct group g, *found;
	FILE *f = fopen(path, "re");
	int r = -ENOENT;

	if (f == NULL)
		return -errno;
	for (;;) {
		int e = fgetgrent_r(f, &g, buf, sizeof(buf), &found);

		if (e == ENOENT)
			break;			/* the end of the file */
		if (e != 0) {
			/* ERANGE: a line longer than BUF (glibc rewinds to
			 * it, so it cannot be skipped): an error, not a
			 * guess. */
			r = -e;
			break;
		}
		if (strcmp(found->gr_name, name) == 0) {
			*gid = found->gr_gid;
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

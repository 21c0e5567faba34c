/* SPDX-License-Identifier: Apache-2.0 */
/* Groups as the local file says (/etc/group), never through NSS. */
#ifndef ZT_GROUP_H
#define ZT_GROUP_H

#include <stdbool.h>
#include <sys/types.h>

#define ZT_GROUP_FILE "/etc/group"

/*
 * The gid of group NAME in the group file PATH (ZT_GROUP_FILE): 0 with
 * *GID set, -ENOENT when no line names it, or another -errno (the file
 * unreadable; -ERANGE: a line longer than 16 KiB).  A malformed line is
 * skipped, as glibc's files backend does.  No NSS module is asked: the
 * local file is the authority, so the answer holds when a directory
 * service is down.
 */
int zt_group_gid(const char *path, const char *name, gid_t *gid);

#endif

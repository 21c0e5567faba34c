/* SPDX-License-Identifier: Apache-2.0 */
/* Groups as the local file says (/etc/group), never through NSS. */
#ifndef ZT_GROUP_H
#define ZT_GROUP_H

#include <stdbool.h>
#include <sys/types.h>

#define ZT_GROUP_FILE "/etc/group"
#define ZT_PASSWD_FILE "/etc/passwd"

/*
 * The gid of group NAME in the group file PATH (ZT_GROUP_FILE): 0 with
 * *GID set, -ENOENT when no line names it, or another -errno (the file
 * unreadable; -ERANGE: a line longer than 16 KiB).  A malformed line is
 * skipped, as glibc's files backend does.  No NSS module is asked: the
 * local file is the authority, so the answer holds when a directory
 * service is down.
 */
int zt_group_gid(const char *path, const char *name, gid_t *gid);

/*
 * Is USER a member of GROUP by the local files alone: its primary gid in
 * PASSWD_PATH is GROUP's gid, or its name is in GROUP's member list in
 * GROUP_PATH?  1 a member, 0 definitely not, or a negative errno when the
 * files cannot say (-ENOENT: USER not in the passwd file, or no such
 * group; another: a file unreadable or a line too long).  Callers that
 * must fail closed treat every negative answer as "a member".
 */
int zt_group_member(const char *passwd_path, const char *group_path,
    const char *user, const char *group);

#endif

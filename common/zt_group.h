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
 * Each line of the passwd file PATH whose uid is UID, its name and primary
 * gid given to FN (with ARG) until FN returns true: 1 then, 0 when none
 * did, or a negative errno (the file unreadable, a line too long).  The
 * local file alone: one uid may have several names there.
 */
int zt_passwd_uid_each(const char *path, uid_t uid,
    bool (*fn)(const char *name, gid_t gid, void *arg), void *arg);

/*
 * Is USER a member of GROUP by the local files alone: the uid USER has in
 * PASSWD_PATH is a member by any of its names there -- a line of that uid
 * whose primary gid is GROUP's gid, or whose name is in GROUP's member
 * list in GROUP_PATH (another name of the uid is the same account to the
 * kernel)?  1 a member, 0 definitely not, or a negative errno when the
 * files cannot say (-ENOENT: USER not in the passwd file, or no such
 * group; another: a file unreadable or a line too long).  Callers that
 * must fail closed treat every negative answer as "a member".
 */
int zt_group_member(const char *passwd_path, const char *group_path,
    const char *user, const char *group);

#endif

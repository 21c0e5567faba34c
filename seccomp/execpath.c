/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Could the agent's account replace a command?  A file it owns or may
 * write, or one in a directory it owns or may write (not sticky), on the
 * path as given or at any symlink met while resolving it, can be swapped
 * between the decision and the moment the kernel (or a script's
 * interpreter, which opens the script again by path) reads it.  The
 * supervisor runs with the agent's real uid and groups, so the kernel's
 * access check (mode bits, ACLs, read-only mounts) answers for it.  A
 * path through a FUSE file system counts as replaceable whoever owns it:
 * its server decides what each read returns.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "supervisor_int.h"

#define SYMLINKS_MAX 40			/* as the kernel's MAXSYMLINKS */
#define FUSE_MAGIC 0x65735546		/* FUSE_SUPER_MAGIC */
#define EXT4_MAGIC 0xEF53		/* ext2, ext3, ext4 */
#define XFS_MAGIC 0x58465342
#define BTRFS_MAGIC 0x9123683E
#define TMPFS_MAGIC 0x01021994
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U	/* Linux 6.8 */
#endif
#define MOUNTS_KNOWN 32

/*
 * The file system type (statfs's f_type) of mounts met, by their unique
 * id: a mount keeps its file system for life, and a unique id is never
 * given to another mount while the system runs, so an entry cannot go
 * stale.  A ring: the oldest goes first.
 */
static struct {
	uint64_t id;
	long type;
} mounts[MOUNTS_KNOWN];
static size_t mounts_next;
static pthread_mutex_t mounts_lock = PTHREAD_MUTEX_INITIALIZER;

/* What the walk knows of one object: statx's answer, and the type of the
 * file system it is on (FUSE_MAGIC when that could not be told). */
struct node {
	struct statx stx;
	long fs_type;
};

/*
 * Look at the object at PATH under ROOT ("": ROOT itself), a final symlink
 * not followed: 0, or -errno.  Every directory PATH passes through was
 * looked at before, by the walk, and is no symlink.
 */
static int
look(int root, const char *path, struct node *n)
{
	const unsigned need = STATX_TYPE | STATX_MODE | STATX_UID |
	    STATX_INO;
	int empty = path[0] == '\0' ? AT_EMPTY_PATH : 0, fd, r;
	struct statfs sf;
	bool unique;

	if (statx(root, path, empty | AT_SYMLINK_NOFOLLOW |
	    AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_MNT_ID_UNIQUE,
	    &n->stx) < 0)
		return errno == ENOENT || errno == ENOTDIR ||
		    errno == ENAMETOOLONG ? -errno : -EACCES;
	if ((n->stx.stx_mask & need) != need)
		return -EACCES;
	unique = (n->stx.stx_mask & STATX_MNT_ID_UNIQUE) != 0 &&
	    n->stx.stx_mnt_id != 0;
	if (unique) {
		pthread_mutex_lock(&mounts_lock);
		for (size_t i = 0; i < MOUNTS_KNOWN; i++)
			if (mounts[i].id == n->stx.stx_mnt_id) {
				n->fs_type = mounts[i].type;
				pthread_mutex_unlock(&mounts_lock);
				return 0;
			}
		pthread_mutex_unlock(&mounts_lock);
	}
	/* A mount not met before: its type through an O_PATH descriptor of
	 * the object.  A failure counts as FUSE, and is not kept. */
	fd = empty ? root : openat(root, path, O_PATH | O_NOFOLLOW |
	    O_CLOEXEC);
	r = fd >= 0 ? fstatfs(fd, &sf) : -1;
	if (fd >= 0 && fd != root)
		close(fd);
	if (r != 0) {
		n->fs_type = FUSE_MAGIC;
		return 0;
	}
	n->fs_type = (long)sf.f_type;
	if (unique) {
		pthread_mutex_lock(&mounts_lock);
		mounts[mounts_next % MOUNTS_KNOWN].id = n->stx.stx_mnt_id;
		mounts[mounts_next % MOUNTS_KNOWN].type = n->fs_type;
		mounts_next++;
		pthread_mutex_unlock(&mounts_lock);
	}
	return 0;
}

/* Is N on a FUSE file system?  Its server (a process, the account's own
 * if it mounted it) answers every read as it likes: the digest check can
 * be served one file and the kernel's exec another. */
static bool
on_fuse(const struct node *n)
{
	return n->fs_type == FUSE_MAGIC;
}

/* Does the kernel decide who may write on N's file system by the mode
 * bits and POSIX ACLs alone (generic_permission), whose named entries the
 * group bits bound (the ACL mask)? */
static bool
mode_bits_decide(const struct node *n)
{
	return n->fs_type == EXT4_MAGIC || n->fs_type == XFS_MAGIC ||
	    n->fs_type == BTRFS_MAGIC || n->fs_type == TMPFS_MAGIC;
}

/* Is the object at PATH under ROOT (as look), N, the account's to replace
 * or write?  DIR: a directory, whose entries are what could be replaced.
 * UID: the agent's, zt-exec's real uid. */
static bool
replaceable(int root, const char *path, const struct node *n, bool dir,
    uid_t uid)
{
	if (n->stx.stx_uid == uid)
		return true;
	/* Neither group nor others may write, where the mode bits decide:
	 * faccessat would say no (for a real uid other than root it counts
	 * no capability), so it is not asked. */
	if (uid != 0 && !(n->stx.stx_mode & 022) && mode_bits_decide(n))
		return false;
	/* Real ids: the agent's (zt-exec's setgid group is not).  Only the
	 * kernel's "no" is a no: any other failure counts as writable. */
	if (faccessat(root, path, W_OK, path[0] == '\0' ? AT_EMPTY_PATH :
	    AT_SYMLINK_NOFOLLOW) != 0 &&
	    (errno == EACCES || errno == EROFS || errno == EPERM ||
	    errno == ETXTBSY))
		return false;
	return !dir || !(n->stx.stx_mode & S_ISVTX);
}

/* Drop PREFIX's last component (*LEN its length). */
static void
prefix_up(char *prefix, size_t *len)
{
	char *slash = memrchr(prefix, '/', *len);

	*len = slash != NULL ? (size_t)(slash - prefix) : 0;
	prefix[*len] = '\0';
}

/*
 * The walk goes by path, one statx per component, each from ROOT along
 * PREFIX, the directories walked so far (none a symlink: a symlink met is
 * read and its target walked instead), rather than by a descriptor opened
 * per component: the kernel resolves the same objects, since each
 * directory on PREFIX was checked not to be the account's to change
 * before anything under it was looked at -- the walk stops at the first
 * one that is -- and only the account is the attacker.
 */
int
execpath_replaceable(pid_t pid, int root, int dirfd, const char *path,
    char *why, size_t size, struct execpath_end *end)
{
	char where[64], rest[PATH_MAX * 2], target[PATH_MAX];
	char prefix[PATH_MAX] = "";
	struct node st;
	int links = 0, r;
	size_t at = 0, plen = 0;
	uid_t uid = getuid();

	if (end != NULL)
		end->reached = false;
	if (root < 0 || look(root, "", &st) < 0) {
		r = -EACCES;
		goto out;
	}
	if (path[0] != '/') {
		/* Relative: the walk starts at the agent's root too, along
		 * the canonical path of its start (any directory above it
		 * could be renamed away). */
		char start[PATH_MAX];

		if (dirfd >= 0)
			r = fd_path(dirfd, start, sizeof(start));
		else {
			ssize_t n;

			snprintf(where, sizeof(where), "/proc/%d/cwd",
			    (int)pid);
			n = readlink(where, start, sizeof(start) - 1);
			r = n > 0 && start[0] == '/' ? 0 : -EACCES;
			start[n > 0 ? n : 0] = '\0';
		}
		if (r < 0 || (size_t)snprintf(rest, sizeof(rest), "%s/%s",
		    start, path) >= sizeof(rest)) {
			r = -EACCES;
			goto out;
		}
	} else if ((size_t)snprintf(rest, sizeof(rest), "%s", path) >=
	    sizeof(rest)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	if (on_fuse(&st))
		goto yes_fuse;
	if (replaceable(root, "", &st, true, uid))
		goto yes_dir;
	for (;;) {
		size_t len;

		while (rest[at] == '/')
			at++;
		if (rest[at] == '\0') {
			r = -EISDIR;	/* the path names a directory */
			goto out;
		}
		len = strcspn(rest + at, "/");
		if (len > NAME_MAX) {
			r = -ENAMETOOLONG;
			goto out;
		}
		if (len == 1 && rest[at] == '.') {
			at += len;
			continue;
		}
		if (len == 2 && rest[at] == '.' && rest[at + 1] == '.') {
			/* A directory walked, no symlink: its parent.  Not
			 * above the agent's root. */
			at += len;
			prefix_up(prefix, &plen);
			continue;
		}
		if (plen + 1 + len >= sizeof(prefix)) {
			r = -ENAMETOOLONG;
			goto out;
		}
		if (plen > 0)
			prefix[plen++] = '/';
		memcpy(prefix + plen, rest + at, len);
		plen += len;
		prefix[plen] = '\0';
		at += len;
		if ((r = look(root, prefix, &st)) < 0)
			goto out;
		if (S_ISLNK(st.stx.stx_mode)) {
			ssize_t n;

			/* Its directory was checked on the way in. */
			n = readlinkat(root, prefix, target, sizeof(target) - 1);
			if (++links > SYMLINKS_MAX) {
				r = -ELOOP;
				goto out;
			}
			if (n <= 0 || (size_t)n >= sizeof(target) - 1 ||
			    (size_t)n + strlen(rest + at) + 2 >
			    sizeof(rest)) {
				r = -EACCES;
				goto out;
			}
			target[n] = '\0';
			memmove(rest + n + 1, rest + at, strlen(rest + at) + 1);
			memcpy(rest, target, (size_t)n);
			rest[n] = '/';
			at = 0;
			/* From the root, or from the symlink's directory. */
			if (target[0] == '/') {
				plen = 0;
				prefix[0] = '\0';
			} else
				prefix_up(prefix, &plen);
			continue;
		}
		if (on_fuse(&st))
			goto yes_fuse;
		if (S_ISDIR(st.stx.stx_mode)) {
			if (replaceable(root, prefix, &st, true, uid))
				goto yes_dir;
			continue;
		}
		/* The file: the last component. */
		while (rest[at] == '/')
			at++;
		if (rest[at] != '\0') {
			r = -ENOTDIR;
			goto out;
		}
		/* The prefix is the canonical path walked to: every
		 * symlink resolved, each ".." one of a directory walked. */
		if (end != NULL && (size_t)snprintf(end->path,
		    sizeof(end->path), "/%s", prefix) < sizeof(end->path)) {
			end->dev = makedev(st.stx.stx_dev_major,
			    st.stx.stx_dev_minor);
			end->ino = (ino_t)st.stx.stx_ino;
			end->reached = true;
		}
		if (replaceable(root, prefix, &st, false, uid)) {
			snprintf(why, size, "the agent's account can write "
			    "or owns the file");
			r = 1;
		} else
			r = 0;
		goto out;
	}
yes_fuse:
	snprintf(why, size, "the command's path is on a FUSE file system, "
	    "whose server can serve the check one file and the exec another");
	r = 1;
	goto out;
yes_dir:
	snprintf(why, size, "the agent's account can replace entries of the "
	    "directory /%.200s on its path", prefix);
	r = 1;
out:
	return r;
}

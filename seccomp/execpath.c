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
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "supervisor_int.h"

#define SYMLINKS_MAX 40			/* as the kernel's MAXSYMLINKS */
#define FUSE_MAGIC 0x65735546		/* FUSE_SUPER_MAGIC */

/* Is FD on a FUSE file system?  Its server (a process, the account's own
 * if it mounted it) answers every read as it likes: the digest check can
 * be served one file and the kernel's exec another.  A failure counts as
 * yes. */
static bool
on_fuse(int fd)
{
	struct statfs sf;

	return fstatfs(fd, &sf) != 0 || sf.f_type == FUSE_MAGIC;
}

/* Is the object open at FD (O_PATH) the account's to replace or write?
 * DIR: a directory, whose entries are what could be replaced. */
static bool
replaceable(int fd, const struct stat *st, bool dir)
{
	if (st->st_uid == getuid())
		return true;
	/* Real ids: the agent's (zt-exec's setgid group is not).  Only the
	 * kernel's "no" is a no: any other failure counts as writable. */
	if (faccessat(fd, "", W_OK, AT_EMPTY_PATH) != 0 &&
	    (errno == EACCES || errno == EROFS || errno == EPERM ||
	    errno == ETXTBSY))
		return false;
	return !dir || !(st->st_mode & S_ISVTX);
}

/* The same file? */
static bool
same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int
execpath_replaceable(pid_t pid, int root, int dirfd, const char *path,
    char *why, size_t size)
{
	char where[64], rest[PATH_MAX * 2], target[PATH_MAX];
	struct stat root_st, st;
	int cur = -1, next, links = 0, r;
	size_t at = 0;

	if (root < 0 || fstat(root, &root_st) < 0) {
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
	if ((cur = dup(root)) < 0) {
		r = -errno;
		goto out;
	}
	st = root_st;
	if (on_fuse(cur))
		goto yes_fuse;
	if (replaceable(cur, &st, true))
		goto yes_dir;
	for (;;) {
		char name[NAME_MAX + 1];
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
		memcpy(name, rest + at, len);
		name[len] = '\0';
		at += len;
		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0 && same_inode(&st, &root_st))
			continue;		/* not above the agent's root */
		next = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 || fstat(next, &st) < 0) {
			r = next < 0 ? -errno : -EACCES;
			if (next >= 0)
				close(next);
			goto out;
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t n;

			/* Its directory was checked on the way in. */
			n = readlinkat(next, "", target, sizeof(target) - 1);
			close(next);
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
			if (target[0] == '/') {
				close(cur);
				if ((cur = dup(root)) < 0) {
					r = -errno;
					goto out;
				}
				st = root_st;
			} else if (fstat(cur, &st) < 0) {
				r = -EACCES;
				goto out;
			}
			continue;
		}
		close(cur);
		cur = next;
		if (on_fuse(cur))
			goto yes_fuse;
		if (S_ISDIR(st.st_mode)) {
			if (replaceable(cur, &st, true))
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
		if (replaceable(cur, &st, false)) {
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
	{
		char dir[PATH_MAX];

		if (fd_path(cur, dir, sizeof(dir)) < 0)
			snprintf(dir, sizeof(dir), "?");
		snprintf(why, size, "the agent's account can replace entries "
		    "of the directory %.200s on its path", dir);
		r = 1;
	}
out:
	if (cur >= 0)
		close(cur);
	return r;
}

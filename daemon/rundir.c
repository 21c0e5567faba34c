/* SPDX-License-Identifier: Apache-2.0 */
/* Creating ztd's run directory and socket without trusting what is there. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rundir.h"
#include "zt_client.h"
#include "zt_err.h"

/*
 * One accept burst deep (ACCEPT_BURST in server.c), not as deep as the
 * kernel allows: a connect finds no room in a full backlog and waits (in
 * the kernel's line: zt_client_connect_within) until ztd takes one off
 * it, but one that did find room waits behind every connection queued
 * before it, each of them accepted, checked and answered first.  Any
 * local user's processes connecting in a loop keep the backlog full: at
 * SOMAXCONN (4096) root's and PAM's connects waited behind 4096 of them,
 * 0.7-3.7 s with 32 such processes on 2 CPUs (PAM's budget is 3 s); at 64,
 * 0.1-0.3 s, what the same processes cost by their CPU alone.
 */
#define LISTEN_BACKLOG 64

static int
say(char *error, size_t size, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

int
rundir_backlog(int listen_fd)
{
	return listen(listen_fd, LISTEN_BACKLOG);
}

/* Put the reason in ERROR and return CODE. */
static int
say(char *error, size_t size, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error, size, fmt, ap);
	va_end(ap);
	return code;
}

static bool
owned_by_us(const struct stat *st)
{
	return st->st_uid == 0 || st->st_uid == geteuid();
}

/* The length of the default socket's directory ("/run/zt"). */
static int
default_directory_length(void)
{
	return (int)(strrchr(ZT_DEFAULT_SOCKET, '/') - ZT_DEFAULT_SOCKET);
}

/* Whether DIR is the default socket's directory, the one ztd creates. */
static bool
is_default_directory(const char *dir)
{
	size_t len = (size_t)default_directory_length();

	return strlen(dir) == len && strncmp(dir, ZT_DEFAULT_SOCKET, len) == 0;
}

static int
prepare_directory(const char *dir, char *error, size_t size)
{
	struct stat st;

	/* Only the default directory is ours to create (0755, root); any
	 * other is the administrator's, and a typo must not become a tree
	 * of new directories. */
	if (is_default_directory(dir) && mkdir(dir, 0755) < 0 &&
	    errno != EEXIST)
		return say(error, size, -errno, "%s: cannot create: %s", dir,
		    strerror(errno));
	if (lstat(dir, &st) < 0) {
		if (errno == ENOENT)
			return say(error, size, -ENOENT, "%s: no such "
			    "directory: create it first (ztd creates only "
			    "%.*s)", dir, default_directory_length(),
			    ZT_DEFAULT_SOCKET);
		return say(error, size, -errno, "%s: %s", dir, strerror(errno));
	}
	if (S_ISLNK(st.st_mode))
		return say(error, size, ZT_E_UNSAFE,
		    "%s: is a symbolic link: refusing to use it", dir);
	if (!S_ISDIR(st.st_mode))
		return say(error, size, ZT_E_UNSAFE,
		    "%s: is not a directory", dir);
	if (!owned_by_us(&st))
		return say(error, size, ZT_E_UNSAFE,
		    "%s: not owned by root: refusing to use it", dir);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return say(error, size, ZT_E_UNSAFE,
		    "%s: writable by group or others: refusing to use it",
		    dir);
	return 0;
}

/* Remove a leftover socket at PATH only when it is provably ours. */
static int
remove_stale(const char *path, char *error, size_t size)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return say(error, size, -errno, "%s: %s", path,
		    strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return say(error, size, ZT_E_UNSAFE,
		    "%s: exists and is not a socket: refusing to remove it",
		    path);
	if (!owned_by_us(&st))
		return say(error, size, ZT_E_UNSAFE,
		    "%s: socket not owned by root: refusing to remove it",
		    path);
	/* We hold the lock, so no ztd of ours listens; anyone else? */
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return say(error, size, -errno, "%s: socket: %s", path,
		    strerror(errno));
	r = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	close(fd);
	if (r == 0 || errno == EAGAIN)
		return say(error, size, ZT_E_UNSAFE,
		    "%s: another process listens on it", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return say(error, size, -errno, "%s: cannot remove: %s", path,
		    strerror(errno));
	return 0;
}

/* Whether LOCK_PATH names the very file LOCK_FD is open on. */
static bool
names_file(const char *lock_path, int lock_fd)
{
	struct stat held, named;

	return fstat(lock_fd, &held) == 0 && lstat(lock_path, &named) == 0 &&
	    S_ISREG(named.st_mode) && named.st_uid == geteuid() &&
	    held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

/*
 * Open and lock LOCK_PATH.  A stopping ztd removes its lock file while it
 * still holds it, so a lock taken on a file opened just before that
 * removal locks a file no path names any more, and proves nothing: such a
 * lock is dropped and the path opened again.
 */
static int
take_lock(const char *lock_path, const char *socket_path, int *lock_fd,
    char *error, size_t size)
{
	int lock, r, tries;

	for (tries = 0; tries < 3; tries++) {
		lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC |
		    O_NOFOLLOW | O_NOCTTY, 0600);
		if (lock < 0)
			return say(error, size, -errno, "%s: %s", lock_path,
			    strerror(errno));
		if (flock(lock, LOCK_EX | LOCK_NB) < 0) {
			r = errno == EWOULDBLOCK ?
			    say(error, size, ZT_E_BUSY,
			    "%s: another ztd holds this socket", socket_path) :
			    say(error, size, -errno, "%s: flock: %s",
			    lock_path, strerror(errno));
			close(lock);
			return r;
		}
		if (names_file(lock_path, lock)) {
			*lock_fd = lock;
			return 0;
		}
		close(lock);
	}
	return say(error, size, ZT_E_BUSY, "%s: the lock file keeps being "
	    "replaced: another ztd is starting or stopping", lock_path);
}

int
rundir_listen(const char *socket_path, int *listen_fd, int *lock_fd,
    char *error, size_t size)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char dir_buf[PATH_MAX], lock_path[PATH_MAX];
	size_t len = strlen(socket_path);
	int fd = -1, lock = -1, r;
	mode_t old_umask;

	*listen_fd = *lock_fd = -1;
	if (socket_path[0] != '/' || len >= sizeof(addr.sun_path))
		return say(error, size, -ENAMETOOLONG,
		    "%s: must be an absolute path shorter than 108 bytes",
		    socket_path);
	snprintf(dir_buf, sizeof(dir_buf), "%s", socket_path);
	if ((r = prepare_directory(dirname(dir_buf), error, size)) < 0)
		return r;

	snprintf(lock_path, sizeof(lock_path), "%s.lock", socket_path);
	if ((r = take_lock(lock_path, socket_path, &lock, error, size)) < 0)
		return r;
	if ((r = remove_stale(socket_path, error, size)) < 0)
		goto close_lock;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = say(error, size, -errno, "%s: socket: %s", socket_path,
		    strerror(errno));
		goto close_lock;
	}
	memcpy(addr.sun_path, socket_path, len + 1);
	/* Created 0666 directly: no window with other permissions. */
	old_umask = umask(0111);
	r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_umask);
	if (r < 0) {
		r = say(error, size, -errno, "%s: bind: %s", socket_path,
		    strerror(errno));
		goto close_socket;
	}
	if (rundir_backlog(fd) < 0) {
		r = say(error, size, -errno, "%s: listen: %s", socket_path,
		    strerror(errno));
		unlink(socket_path);
		goto close_socket;
	}
	*listen_fd = fd;
	*lock_fd = lock;
	return 0;

close_socket:
	close(fd);
close_lock:
	close(lock);
	return r;
}

void
rundir_release(const char *socket_path, int listen_fd, int lock_fd)
{
	char lock_path[PATH_MAX];

	/* Unlink while still holding the lock: no other ztd's socket. */
	if (listen_fd >= 0) {
		unlink(socket_path);
		close(listen_fd);
	}
	if (lock_fd < 0)
		return;
	/* The lock file too, while held, and only when its path still names
	 * the file we hold (regular, ours): a ztd starting now finds it gone
	 * or a new one (take_lock). */
	snprintf(lock_path, sizeof(lock_path), "%s.lock", socket_path);
	if (names_file(lock_path, lock_fd))
		unlink(lock_path);
	close(lock_fd);
}

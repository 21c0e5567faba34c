/* SPDX-License-Identifier: Apache-2.0 */
/* ztd's run directory and listening socket, created and cleaned safely. */
#ifndef ZTD_RUNDIR_H
#define ZTD_RUNDIR_H

#include <stddef.h>

/*
 * Make sure the directory holding SOCKET_PATH is safe: a real directory (not a symlink), owned by root (or the
 * euid running ztd), not writable by group or others.  Only the default
 * socket's directory (/run/zt) is created (0755) when absent; another
 * missing directory is an error (-ENOENT).  Then take the lock
 * file "SOCKET_PATH.lock" (0600, flock) that proves no other ztd serves
 * this path, remove a stale socket that is provably ours (a socket, owned
 * by us, nobody listening, and we hold the lock), and bind and listen
 * (socket mode 0666: every local uid may connect; what it may ask is
 * decided per request).
 *
 * Returns 0 with *LISTEN_FD (non-blocking SOCK_SEQPACKET) and *LOCK_FD, or
 * a negative code with ERROR (SIZE bytes) saying why.
 */
int rundir_listen(const char *socket_path, int *listen_fd, int *lock_fd,
    char *error, size_t size);

/* listen() on LISTEN_FD with ztd's backlog (rundir.c, LISTEN_BACKLOG):
 * on an adopted socket too, whatever its unit's Backlog= says.  0 or -1
 * (errno). */
int rundir_backlog(int listen_fd);

/* Remove the socket and the lock file, then release the lock (on a clean
 * stop); the lock file only while its path names the file LOCK_FD holds. */
void rundir_release(const char *socket_path, int listen_fd, int lock_fd);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* ztd and systemd: the socket it passes (socket activation) and what ztd
 * tells it (readiness, reload, stop).  Without systemd, none of it. */
#ifndef ZTD_SYSTEMD_H
#define ZTD_SYSTEMD_H

#include <stddef.h>

/*
 * The listening socket systemd passed for SOCKET_PATH (LISTEN_FDS, only
 * when LISTEN_PID is ours; the variables are then removed from the
 * environment).  Returns 1 with *FD (non-blocking, close-on-exec), 0 when
 * none was passed (*FD -1), or a negative code with ERROR saying why the
 * passed sockets cannot be used (more than one, not a listening
 * SOCK_SEQPACKET socket bound to SOCKET_PATH): ztd then refuses to start
 * rather than serve another socket than the one named.
 */
int systemd_listen_fd(const char *socket_path, int *fd, char *error,
    size_t size);

/* Tell systemd STATE ("READY=1", "RELOADING=1", ...; printf format) when
 * NOTIFY_SOCKET names it; nothing otherwise.  Failures are logged once at
 * debug level: systemd times a start out on its own. */
void systemd_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

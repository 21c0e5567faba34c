/* SPDX-License-Identifier: Apache-2.0 */
/* The one file that sees libsystemd: socket activation and sd_notify. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "systemd.h"
#include "zt_err.h"
#include "zt_log.h"

int
systemd_listen_fd(const char *socket_path, int *fd, char *error,
    size_t size)
{
	int n, r, flags;

	*fd = -1;
	n = sd_listen_fds(1);
	if (n < 0) {
		snprintf(error, size, "socket activation: %s", strerror(-n));
		return n;
	}
	if (n == 0)
		return 0;
	if (n != 1) {
		snprintf(error, size, "socket activation: systemd passed %d "
		    "sockets; ztd takes exactly one, %s", n, socket_path);
		return -EINVAL;
	}
	r = sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_SEQPACKET, 1,
	    socket_path, 0);
	if (r <= 0) {
		snprintf(error, size, "socket activation: the socket systemd "
		    "passed is not a listening SOCK_SEQPACKET socket bound to "
		    "%s (ListenSequentialPacket= of ztd.socket and ztd's "
		    "socket must be the same path)", socket_path);
		return r < 0 ? r : -EINVAL;
	}
	flags = fcntl(SD_LISTEN_FDS_START, F_GETFL);
	if (flags < 0 ||
	    fcntl(SD_LISTEN_FDS_START, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(SD_LISTEN_FDS_START, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(error, size, "socket activation: %s", strerror(errno));
		return -errno;
	}
	*fd = SD_LISTEN_FDS_START;
	return 1;
}

void
systemd_notify(const char *fmt, ...)
{
	static int failed_logged;
	char state[512];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(state, sizeof(state), fmt, ap);
	va_end(ap);
	r = sd_notify(0, state);
	if (r < 0 && !failed_logged) {
		failed_logged = 1;
		zt_log(LOG_DEBUG, "sd_notify: %s", strerror(-r));
	}
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Connecting to ztd and making one call with a deadline. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "zt_client.h"
#include "zt_err.h"

/*
 * Wait, in the listener's queue, for room in its full backlog and connect
 * FD (non-blocking, its connect just refused with EAGAIN) to ADDR, until
 * DEADLINE: the kernel wakes a blocking connect when the daemon takes a
 * connection off the backlog, so this one is in line with the others that
 * wait, not in a race with them (naps and tries again lost it to any
 * local user's processes connecting in a loop, and the backlog that
 * emptied was refilled ahead of it).  0, ZT_E_BUSY once DEADLINE passed,
 * or -errno.  FD is non-blocking again on success.
 */
static int
wait_for_room(int fd, const struct sockaddr_un *addr, int64_t deadline)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
		return -errno;
	for (;;) {
		int64_t left = deadline - zt_monotonic_ms();
		struct timeval tv = { .tv_sec = left / 1000,
		    .tv_usec = (left % 1000) * 1000 };

		/* SO_SNDTIMEO bounds a blocking connect (0: no bound). */
		if (left <= 0)
			return ZT_E_BUSY;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
		    sizeof(tv)) < 0)
			return -errno;
		if (connect(fd, (const struct sockaddr *)addr,
		    sizeof(*addr)) == 0)
			break;
		if (errno == EAGAIN)
			return ZT_E_BUSY;
		if (errno != EINTR)
			return -errno;
	}
	return fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

/*
 * Connect to PATH: at once (TIMEOUT_MS <= 0), or, while the daemon's
 * backlog is full, waiting for room for up to TIMEOUT_MS.
 */
static int
connect_to(const char *path, int timeout_ms)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	struct ucred cred;
	socklen_t cred_len = sizeof(cred);
	int64_t deadline = zt_monotonic_ms() + timeout_ms;
	int fd, r = 0;

	if (len == 0 || len >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		r = errno != EAGAIN ? -errno : timeout_ms > 0 ?
		    wait_for_room(fd, &addr, deadline) : ZT_E_BUSY;
	if (r < 0) {
		close(fd);
		return r;
	}
	/* Only root's ztd is ztd: a socket another uid bound there (a
	 * planted path, a socket= option pointing elsewhere) is not. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) < 0 ||
	    cred.uid != 0) {
		close(fd);
		return ZT_E_PEER;
	}
	return fd;
}

int
zt_client_connect(const char *path)
{
	return connect_to(path, 0);
}

int
zt_client_connect_within(const char *path, int timeout_ms)
{
	return connect_to(path, timeout_ms);
}

/* Wait for EVENTS on FD until DEADLINE; 0, ZT_E_TIMEOUT or -errno. */
static int
wait_for(int fd, short events, int64_t deadline)
{
	int r = zt_poll_until(fd, events, deadline);

	return r == -ETIMEDOUT ? ZT_E_TIMEOUT : r;
}

/*
 * A peer that closes with our request unread makes the kernel report
 * ECONNRESET once, ahead of the datagrams it had sent (its error reply):
 * read on past it.  *REPLY_FD (when not NULL) receives a descriptor that
 * came with the datagram, else -1; without REPLY_FD none is kept.
 */
static int
recv_reply(int fd, struct zt_msg *reply, int *reply_fd)
{
	int passed = -1, r = zt_msg_recv_fd(fd, reply, &passed);

	if (r == -ECONNRESET) {
		if (passed >= 0)
			close(passed);
		r = zt_msg_recv_fd(fd, reply, &passed);
	}
	if (reply_fd != NULL && r == 0)
		*reply_fd = passed;
	else if (passed >= 0)
		close(passed);
	return r;
}

int
zt_client_call(int fd, const struct zt_msg *request, struct zt_msg *reply,
    int timeout_ms)
{
	return zt_client_call_fd(fd, request, -1, reply, timeout_ms);
}

int
zt_client_send(int fd, const struct zt_msg *request, int pass_fd,
    int timeout_ms)
{
	int64_t deadline = zt_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int r;

	for (;;) {
		r = zt_msg_send_fd(fd, request, pass_fd);
		if (r != -EAGAIN)
			break;
		if ((r = wait_for(fd, POLLOUT, deadline)) < 0)
			return r;
	}
	/* Refused before we spoke: the daemon may have said why, which
	 * zt_client_wait_reply reads. */
	if (r == -EPIPE || r == -ECONNRESET)
		return 0;
	return r;
}

int
zt_client_wait_reply(int fd, uint32_t request_id, struct zt_msg *reply,
    int *reply_fd, int timeout_ms)
{
	int64_t deadline = zt_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int r, passed = -1;

	if (reply_fd != NULL)
		*reply_fd = -1;
	for (;;) {
		if ((r = wait_for(fd, POLLIN, deadline)) < 0)
			return r;
		r = recv_reply(fd, reply, &passed);
		if (r == -EAGAIN)
			continue;
		if (r == -ECONNRESET)
			return ZT_E_CLOSED;
		if (r < 0)
			return r;
		/* An error for id 0 is about the connection (e.g. busy). */
		if (reply->request_id == request_id ||
		    (reply->request_id == 0 && reply->type == ZT_MSG_ERROR)) {
			if (reply_fd != NULL)
				*reply_fd = passed;
			else if (passed >= 0)
				close(passed);
			return 0;
		}
		if (passed >= 0)
			close(passed);
		passed = -1;
	}
}

int
zt_client_call_fd(int fd, const struct zt_msg *request, int pass_fd,
    struct zt_msg *reply, int timeout_ms)
{
	int64_t deadline = zt_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int r;

	if ((r = zt_client_send(fd, request, pass_fd, timeout_ms)) < 0)
		return r;
	r = (int)(deadline - zt_monotonic_ms());
	return zt_client_wait_reply(fd, request->request_id, reply, NULL,
	    r > 0 ? r : 1);
}

int
zt_client_reply_error(const struct zt_msg *reply, unsigned expected_type,
    const char **text)
{
	uint32_t code;

	if (text != NULL)
		*text = "";
	if (reply->type == expected_type)
		return 0;
	if (reply->type != ZT_MSG_ERROR)
		return ZT_E_PROTOCOL;
	if (text != NULL && zt_msg_get_str(reply, ZT_F_TEXT, text) < 0)
		*text = "";
	if (zt_msg_get_u32(reply, ZT_F_CODE, &code) < 0 || (int32_t)code >= 0)
		return ZT_E_PROTOCOL;
	return (int32_t)code;
}

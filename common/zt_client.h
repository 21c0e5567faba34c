/* SPDX-License-Identifier: Apache-2.0 */
/* The client side of ztd's socket: connect, send, wait with a deadline. */
#ifndef ZT_CLIENT_H
#define ZT_CLIENT_H

#include <stdint.h>

#include "zt_clock.h"
#include "zt_msg.h"

/* Where ztd listens unless told otherwise. */
#define ZT_DEFAULT_SOCKET "/run/zt/ztd.sock"

/*
 * Connect to the SOCK_SEQPACKET socket at PATH without blocking.  Returns a
 * non-blocking, close-on-exec descriptor (>= 0), -ENAMETOOLONG, ZT_E_BUSY
 * when the daemon's backlog is full, ZT_E_PEER when the process listening
 * there is not uid 0 (SO_PEERCRED), or another -errno (-ENOENT: nobody
 * listens there; -ECONNREFUSED: a stale socket).
 */
int zt_client_connect(const char *path);

/*
 * zt_client_connect(), waiting while the daemon's backlog is full (a
 * burst of other clients: it drains as ztd accepts or refuses them) for
 * up to TIMEOUT_MS; then ZT_E_BUSY.  The wait is a blocking connect,
 * woken by the kernel when the daemon makes room, in line with the
 * others waiting: not tries in a loop, which any local user's processes
 * connecting in a loop win.
 */
int zt_client_connect_within(const char *path, int timeout_ms);

/*
 * Send REQUEST on FD and wait until TIMEOUT_MS (measured on
 * CLOCK_MONOTONIC from the call) for the reply carrying its request id;
 * datagrams for other ids (pushed events, late replies) are skipped,
 * except an ZT_MSG_ERROR for id 0, which is about the whole connection
 * (the daemon refusing it) and is returned as the reply.
 * Returns 0 with REPLY decoded (possibly an ZT_MSG_ERROR reply: check
 * reply->type), ZT_E_TIMEOUT, ZT_E_CLOSED, a decode error, or -errno.
 */
int zt_client_call(int fd, const struct zt_msg *request,
    struct zt_msg *reply, int timeout_ms);

/* The same, passing PASS_FD (-1: none) with the request (SCM_RIGHTS). */
int zt_client_call_fd(int fd, const struct zt_msg *request, int pass_fd,
    struct zt_msg *reply, int timeout_ms);

/*
 * zt_client_call_fd in two halves, so that a caller can work while the
 * daemon answers.  zt_client_send sends REQUEST (with PASS_FD, -1: none),
 * waiting up to TIMEOUT_MS while the socket is full; a peer that has
 * already closed is not an error here (its reason, if it gave one, is the
 * reply zt_client_wait_reply returns).  zt_client_wait_reply waits up to
 * TIMEOUT_MS for the reply carrying REQUEST_ID (or a connection-wide
 * error), skipping others, as zt_client_call does; *REPLY_FD (when not
 * NULL) receives the descriptor that came with that reply (close-on-exec;
 * the caller closes it), or -1.  Returns as zt_client_call.
 */
int zt_client_send(int fd, const struct zt_msg *request, int pass_fd,
    int timeout_ms);
int zt_client_wait_reply(int fd, uint32_t request_id, struct zt_msg *reply,
    int *reply_fd, int timeout_ms);

/*
 * The error a reply stands for: 0 when REPLY has type EXPECTED_TYPE; the
 * reply's code when it is an ZT_MSG_ERROR (*TEXT then points at its text or
 * ""), ZT_E_PROTOCOL for any other type.  TEXT may be NULL.
 */
int zt_client_reply_error(const struct zt_msg *reply, unsigned expected_type,
    const char **text);


#endif

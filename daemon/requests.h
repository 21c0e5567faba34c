/* SPDX-License-Identifier: Apache-2.0 */
/* One request being answered, and the table of who may ask what. */
#ifndef ZTD_REQUESTS_H
#define ZTD_REQUESTS_H

#include <stdint.h>

struct client;
struct ztd;
struct zt_msg;

/*
 * What a handler gets: the request, who sent it (as the kernel said at
 * connect time, sorted into a class by server.c), and its state across a
 * wait for an attestation.  Nothing of it lives in struct ztd.
 */
struct request {
	struct ztd *ztd;
	const struct client *client;
	const struct zt_msg *msg;
	int passed_fd;			/* -1: none; the caller closes it */
	struct zt_msg *reply;
	int reply_fd;			/* -1, or a descriptor to send with the
					 * reply: borrowed, the server never
					 * closes it */
	uint64_t resume_ticket;		/* non-zero: asked again, now that
					 * this attestation is in */
	uint64_t wait_ticket;		/* set with ZT_E_WAIT: park until
					 * this attestation is in */
	bool no_reply;			/* set by a handler: a success is not
					 * answered (REPORT's NO_REPLY) */
};

/*
 * Answer RQ->msg into RQ->reply.  The table in requests.c says, per
 * request type, which peer classes may send it (a request that names a
 * grant may have a narrower set), whether it may carry a descriptor and
 * whether it may wait for an attestation; the dispatcher enforces that
 * before any handler runs, and logs and audits a refusal.  Returns 0 when
 * the reply is to be sent, ZT_E_WAIT with RQ->wait_ticket set, or a
 * negative code to send as an error.
 */
int requests_dispatch(struct request *rq);

#endif

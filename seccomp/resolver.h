/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The grant's resolver: the agent's DNS over TCP, answered here, only
 * questions a host rule names sent upstream, what was answered told to
 * ztd (which decides connects by it).
 */
#ifndef ZTX_RESOLVER_H
#define ZTX_RESOLVER_H

#include <sys/types.h>

#include "profile.h"
#include "ztconn.h"

#define RESOLVER_CONNS_MAX 16		/* agent connections served at once */

struct resolver;

/*
 * A resolver for the grant of ZTD, asking the profile's dns_upstream
 * servers, or else the nameservers of /etc/resolv.conf.  0, or -errno
 * (-ENOENT: no server to ask) with the reason logged.
 */
int resolver_new(struct resolver **out, struct ztconn *ztd,
    const struct profile *profile);

/*
 * The agent's TCP socket SFD (our copy) connected to port 53 of any
 * address: connect it to the resolver instead (through a loopback
 * listener the resolver keeps, tunnel_bridge_agent_via) and
 * serve it on a thread of its own.  ACTOR is the process that connected
 * (named in ztd's audit of its questions).  0 (the agent's connect
 * succeeds) or -errno (-ECONNREFUSED beyond RESOLVER_CONNS_MAX, or after
 * resolver_close_all).
 */
int resolver_connect(struct resolver *r, int sfd, pid_t actor);

/* End every connection (the grant ended) and refuse new ones. */
void resolver_close_all(struct resolver *r);

#endif

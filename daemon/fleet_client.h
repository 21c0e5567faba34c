/* SPDX-License-Identifier: Apache-2.0 */
/* The fleet client: the unprivileged process that talks to etcd for ztd. */
#ifndef ZTD_FLEET_CLIENT_H
#define ZTD_FLEET_CLIENT_H

/* ztd's argv[1] that makes it the fleet client (execed by fleet.c). */
#define FLEET_CLIENT_ARG "--fleet-client"
/* The descriptor of its socketpair end. */
#define FLEET_CLIENT_FD 3

/*
 * Run as the fleet client on FD, execed by ztd as root with no_new_privs
 * (ztd's argv[2] and argv[3]: UID and GID, decimal): become UID and GID
 * with no supplementary group before anything is read -- which leaves the
 * process not dumpable, so that no process of that uid may ptrace it or
 * open its memory, as it could have from the exec on had ztd dropped them
 * before it -- then lock itself down (no_new_privs checked, no core, no
 * file growth), read FLEET_CONFIG, load its seccomp allow-list
 * (fleet_filter.h), and keep etcd and ztd in touch until ztd closes FD.
 * Returns an exit status.
 */
int fleet_client_main(int fd, const char *uid, const char *gid);

#endif

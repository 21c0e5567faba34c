/* SPDX-License-Identifier: Apache-2.0 */
/* The fleet client: the unprivileged process that talks to etcd for ztd. */
#ifndef ZTD_FLEET_CLIENT_H
#define ZTD_FLEET_CLIENT_H

/* ztd's argv[1] that makes it the fleet client (execed by fleet.c). */
#define FLEET_CLIENT_ARG "--fleet-client"
/* The descriptor of its socketpair end. */
#define FLEET_CLIENT_FD 3

/*
 * Run as the fleet client on FD: lock itself down (no_new_privs checked,
 * no core, no file growth), read FLEET_CONFIG, load its seccomp
 * allow-list (fleet_filter.h), then keep etcd and ztd in touch until ztd
 * closes FD.  Returns an exit
 * status.
 */
int fleet_client_main(int fd);

#endif

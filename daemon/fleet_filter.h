/* SPDX-License-Identifier: Apache-2.0 */
/* The fleet client's seccomp allow-list. */
#ifndef ZTD_FLEET_FILTER_H
#define ZTD_FLEET_FILTER_H

/*
 * Load the fleet client's allow-list into the calling process, which must
 * have set NO_NEW_PRIVS (-EPERM otherwise) and be single-threaded.  Meant
 * for after its setup (curl and OpenSSL initialised, their configuration
 * read, the TLS material in memory) and before it talks to etcd: from
 * then on, only the system calls a curl/OpenSSL HTTPS client, glibc's
 * resolver and the talk with ztd need are allowed; any other, and any
 * other architecture, kills the process.  0 or -errno.
 */
int fleet_filter_load(void);

#endif

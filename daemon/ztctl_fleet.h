/* SPDX-License-Identifier: Apache-2.0 */
/* ztctl fleet: the administrator's side of the fleet, straight to etcd. */
#ifndef ZTD_ZTCTL_FLEET_H
#define ZTD_ZTCTL_FLEET_H

#include <stdbool.h>

#define FLEET_FAILURE_MAX 600

/*
 * ztctl fleet push|disable|enable|status ...; ARGV[0] is "fleet".
 * Returns ztctl's exit status; when it is not 0, FAILURE
 * (FLEET_FAILURE_MAX bytes) says why, or is "" when that was printed.
 */
int ztctl_fleet(int argc, char **argv, bool json, char *failure);

#endif

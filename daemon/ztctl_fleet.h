/* SPDX-License-Identifier: Apache-2.0 */
/* ztctl fleet: the administrator's side of the fleet, straight to etcd. */
#ifndef ZTD_ZTCTL_FLEET_H
#define ZTD_ZTCTL_FLEET_H

#include <stdbool.h>

/* ztctl fleet push|disable|enable|status ...; ARGV[0] is "fleet".
 * Returns ztctl's exit status. */
int ztctl_fleet(int argc, char **argv, bool json);

#endif

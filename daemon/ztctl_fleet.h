/* SPDX-License-Identifier: Apache-2.0 */
/* ztctl fleet: the administrator's side of the fleet, straight to etcd. */
#ifndef ZTD_ZTCTL_FLEET_H
#define ZTD_ZTCTL_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#define FLEET_FAILURE_MAX 600

/* What push, disable or enable wrote, for ztctl to print (text or JSON). */
struct fleet_written {
	bool done;			/* an entry was written */
	const char *what;		/* "policy", "disable" or "enable" */
	uint64_t serial;
	char key[512];			/* the etcd key written */
};

/*
 * ztctl fleet push|disable|enable|status ...; ARGV[0] is "fleet".
 * Returns ztctl's exit status; when it is not 0, FAILURE
 * (FLEET_FAILURE_MAX bytes) says why, or is "" when that was printed.
 * status prints its hosts itself; push, disable and enable print nothing
 * and fill WRITTEN (done set) once the entry is in etcd.
 */
int ztctl_fleet(int argc, char **argv, bool json, char *failure,
    struct fleet_written *written);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The options of pam_zt.so: socket=PATH timeout=MS group=NAME debug. */
#ifndef PAM_ZT_ARGS_H
#define PAM_ZT_ARGS_H

#include <stdbool.h>

#include <security/pam_modules.h>

#define ZT_PAM_TIMEOUT_DEFAULT 3000	/* ms */
#define ZT_PAM_TIMEOUT_MIN 1
#define ZT_PAM_TIMEOUT_MAX 60000

struct zt_pam_args {
	const char *socket;	/* points into argv or a constant */
	int timeout_ms;
	const char *group;	/* NULL: none; points into argv */
	bool debug;
};

/*
 * Fill ARGS from the module's ARGC/ARGV, starting from the defaults
 * (ZT_DEFAULT_SOCKET, ZT_PAM_TIMEOUT_DEFAULT, no group, no debug).  Returns 0, or
 * -EINVAL for an unknown or malformed option, which it logs with
 * pam_syslog; the caller then returns PAM_SERVICE_ERR.  Reads nothing but
 * ARGV: no environment variable changes the result.
 */
int args_parse(pam_handle_t *pamh, int argc, const char **argv,
    struct zt_pam_args *args);

#endif

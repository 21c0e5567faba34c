/* SPDX-License-Identifier: Apache-2.0 */
/* The part of an agent's profile zt-exec enforces itself, as ztd sent it. */
#ifndef ZTX_PROFILE_H
#define ZTX_PROFILE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "zt_envcheck.h"
#include "zt_msg.h"

#define PROFILE_ITEMS_MAX ZT_PROFILE_LIST_MAX

/*
 * What ZT_F_PROFILE says (its schema: common/zt_msg.h).  Anything outside
 * it, or past a bound here, is an error: the launch is denied.
 */
struct profile_file {
	char path[PATH_MAX];
	unsigned access;		/* PROFILE_R | PROFILE_W | PROFILE_X */
};

#define PROFILE_R 1u
#define PROFILE_W 2u
#define PROFILE_X 4u

/*
 * The head (up to files) is cleared by profile_from_record; of each list below
 * it, only the first n_* entries are set (a new struct's zero pages are
 * never touched: the lists take a megabyte).
 */
struct profile {
	char agent[65];
	char binary[PATH_MAX];
	bool kill_on_violation;
	bool landlock_optional;
	unsigned decision_ttl;
	bool files_given;
	bool inet, inet6, unix_;
	bool tunnel;
	size_t n_files;
	size_t n_commands;
	size_t n_deny;
	size_t n_gate;
	size_t n_tunnel_cas;
	size_t n_env;
	struct profile_file files[PROFILE_ITEMS_MAX];
	char commands[PROFILE_ITEMS_MAX][PATH_MAX];
	char deny[PROFILE_ITEMS_MAX][32];
	char gate[PROFILE_ITEMS_MAX][32];
	char tunnel_cas[8][PATH_MAX];	/* readied at launch (the first 8) */
	char env[ZT_ENV_NAMES_MAX][ZT_ENV_NAME_MAX + 1];
	const char *env_names[ZT_ENV_NAMES_MAX];	/* into env */
};

/* Read R, a ZT_F_PROFILE record, into P.  Returns 0, or -EINVAL with
 * ERROR (160 bytes) set. */
struct zt_record;
int profile_from_record(const struct zt_record *r, struct profile *p,
    char *error);

#endif

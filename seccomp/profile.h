/* SPDX-License-Identifier: Apache-2.0 */
/* The part of an agent's profile zt-exec enforces itself, as ztd sent it. */
#ifndef ZTX_PROFILE_H
#define ZTX_PROFILE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "zt_envcheck.h"

#define PROFILE_ITEMS_MAX 128

/*
 * The text of ZT_F_PROFILE: one "KEY VALUE" per line, keys in any order:
 *   agent NAME            binary PATH           decision_ttl SECONDS
 *   on_violation deny|kill                      landlock required|optional
 *   files yes|no          (no: the profile confines no files)
 *   file MODE PATH        (MODE: r w x rw rx wx rwx; several lines)
 *   command PATH          (a command the profile may allow: Landlock x)
 *   deny SYSCALL          gate SYSCALL
 *   family inet|inet6|unix (the socket families the network rules need)
 *   tunnel yes            (a network rule wants the mutual-TLS tunnel)
 *   learn yes             (learn mode: SysV IPC and message queues are
 *                         gated, asked about, instead of refused)
 *   tunnel_ca PATH        (the CA file of such a rule; several lines)
 *   env NAME              (a variable passed to the agent besides the safe
 *                         base, and allowed in an exec's environment even
 *                         when zt_env_is_dangerous; NAME or PREFIX*;
 *                         several lines, at most ZT_ENV_NAMES_MAX)
 * An unknown key or a malformed line is an error: the launch is denied.
 */
struct profile_file {
	char path[PATH_MAX];
	unsigned access;		/* PROFILE_R | PROFILE_W | PROFILE_X */
};

#define PROFILE_R 1u
#define PROFILE_W 2u
#define PROFILE_X 4u

struct profile {
	char agent[65];
	char binary[PATH_MAX];
	bool kill_on_violation;
	bool landlock_optional;
	unsigned decision_ttl;
	bool files_given;
	struct profile_file files[PROFILE_ITEMS_MAX];
	size_t n_files;
	char commands[PROFILE_ITEMS_MAX][PATH_MAX];
	size_t n_commands;
	char deny[PROFILE_ITEMS_MAX][32];
	size_t n_deny;
	char gate[PROFILE_ITEMS_MAX][32];
	size_t n_gate;
	bool inet, inet6, unix_;
	bool tunnel;
	bool learn;			/* learn mode: IPC gated, not refused */
	char tunnel_cas[8][PATH_MAX];	/* readied at launch (the first 8) */
	size_t n_tunnel_cas;
	char env[ZT_ENV_NAMES_MAX][ZT_ENV_NAME_MAX + 1];
	const char *env_names[ZT_ENV_NAMES_MAX];	/* into env */
	size_t n_env;
};

/* Parse TEXT into P.  Returns 0, or -EINVAL with ERROR (160 bytes) set. */
int profile_parse(const char *text, struct profile *p, char *error);

#endif

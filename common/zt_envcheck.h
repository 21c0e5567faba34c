/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Environment variables that make a program load or run other code, and
 * the safe base an agent starts with: the one list ztd's configuration,
 * zt-exec's launch and its exec checks all use.
 */
#ifndef ZT_ENVCHECK_H
#define ZT_ENVCHECK_H

#include <stdbool.h>
#include <stddef.h>

#define ZT_ENV_NAMES_MAX 64		/* names in a profile's env */
#define ZT_ENV_NAME_MAX 64		/* bytes of one, without the NUL */

/*
 * Is the variable NAME (LEN bytes: an environment entry up to its first
 * '=', or the whole entry when it has none) one that makes a program load
 * or run code other than its own image -- a path to shared objects,
 * modules or startup scripts, an option string an interpreter obeys, or
 * a command line a tool runs (the list in zt-exec(1))?
 */
bool zt_env_is_dangerous(const char *name, size_t len);

/* Is NAME (LEN bytes) in the base environment every agent starts with:
 * PATH HOME USER LOGNAME SHELL TERM LANG LC_* TZ? */
bool zt_env_is_base(const char *name, size_t len);

/* Is PATTERN a valid profile env entry: a name [A-Za-z_][A-Za-z0-9_]*,
 * optionally ending in '*' (a prefix), at most ZT_ENV_NAME_MAX bytes? */
bool zt_env_pattern_valid(const char *pattern);

/* Does one of the N profile PATTERNS (NAME, or PREFIX*) name NAME (LEN
 * bytes)? */
bool zt_env_named(const char *const *patterns, size_t n, const char *name,
    size_t len);

/*
 * The first entry of the environment block BLOB (LEN bytes of
 * NUL-terminated "NAME=VALUE" entries, as /proc/PID/environ; a last entry
 * without its NUL counts too) whose name is dangerous and not named by the
 * N PATTERNS: a pointer to it inside BLOB with *NAME_LEN its name's length,
 * or NULL when there is none.
 */
const char *zt_env_find_refused(const char *blob, size_t len,
    const char *const *patterns, size_t n, size_t *name_len);

#endif

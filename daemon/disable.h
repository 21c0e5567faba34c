/* SPDX-License-Identifier: Apache-2.0 */
/* Agents disabled locally (ztctl disable), kept in state_dir across restarts. */
#ifndef ZTD_DISABLE_H
#define ZTD_DISABLE_H

#include <stdbool.h>
#include <stddef.h>

#define DISABLE_WHY_MAX 200	/* bytes of a reason kept */
#define DISABLE_AGENTS_MAX 4096	/* agents disabled at once */
#define DISABLE_FILE "disabled"	/* in state_dir */

struct disabled;

/*
 * Read the set of disabled agents from STATE_DIR/disabled (absent: none).
 * The file is one "NAME WHY" per line, NAME an agent name, WHY printable
 * text; it must be a regular file (not a symbolic link) owned by us and
 * writable by no one else.  A file that is there but cannot be read or is
 * malformed is an error: ztd does not start rather than enable an agent
 * an administrator switched off.  Returns 0 and *OUT (free with
 * disabled_free), or -errno / ZT_E_UNSAFE / ZT_E_PROTOCOL with ERROR
 * (SIZE bytes) saying what and where.
 */
int disabled_open(const char *state_dir, struct disabled **out, char *error,
    size_t size);
void disabled_free(struct disabled *d);

/* Why AGENT is disabled, or NULL when it is not. */
const char *disabled_reason(const struct disabled *d, const char *agent);

/*
 * Disable AGENT for WHY (control bytes become '?', cut to
 * DISABLE_WHY_MAX; NULL or empty: "no reason given"), or enable it again;
 * the file is replaced atomically (temporary file, fsync, rename, fsync of
 * the directory) before the set in memory changes, so what is in force is
 * always what a restart reads.  disabled_clear sets *WAS (may be NULL)
 * to whether it was disabled.  Return 0 or -errno (the set unchanged).
 */
int disabled_set(struct disabled *d, const char *agent, const char *why);
int disabled_clear(struct disabled *d, const char *agent, bool *was);

/* The number of disabled agents, and the I-th (0-based) name and why. */
size_t disabled_count(const struct disabled *d);
void disabled_get(const struct disabled *d, size_t i, const char **agent,
    const char **why);

#endif

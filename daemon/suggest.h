/* SPDX-License-Identifier: Apache-2.0 */
/* ztctl profile suggest: the rules that would have allowed what the audit saw. */
#ifndef ZTD_SUGGEST_H
#define ZTD_SUGGEST_H

#include <stdbool.h>
#include <stdio.h>

#include "zt_auditline.h"

#define SUGGEST_COMMANDS_MAX 1024	/* distinct command paths */
#define SUGGEST_ALTERNATIVES_MAX 64	/* argv lists of one command; more:
					 * the rule takes any arguments */
#define SUGGEST_DESTINATIONS_MAX 1024	/* distinct addresses or paths */
#define SUGGEST_SYSCALLS_MAX 128

struct suggest;

/* A collection for AGENT's records; NULL when out of memory. */
struct suggest *suggest_new(const char *agent);
void suggest_free(struct suggest *s);

/*
 * Take record R into account: only AGENT's allows and the denies learn
 * mode let through (enforced=no), of an exec, connect, listen or syscall;
 * an exec's arguments (after NULs in its object) become an args
 * alternative (a cut object: the whole arguments before the cut, then
 * "**"); an exec whose arguments are not known (an allow served from a
 * cache) makes the rule take any.  Returns true when R was used; false
 * when it was not this agent's or of another kind, or when it is
 * malformed (an object no rule could name) or past a limit (then
 * *SKIPPED, may be NULL, says so).
 */
bool suggest_add(struct suggest *s, const struct zt_audit_record *r,
    bool *skipped);

/*
 * Print the commands, network and syscalls lists in ztd.conf syntax,
 * sorted, every string quoted for libconfig and every argument escaped
 * for fnmatch: one rule per destination with its ports (contiguous ones
 * as ranges), shells and interpreters as risk "high", never "low".
 * Returns how many rules were printed.
 */
size_t suggest_print(const struct suggest *s, FILE *out);

/* Is PATH's file name a shell or an interpreter (sh, bash, python3.11,
 * perl, node, env ...), which runs whatever it is given? */
bool suggest_is_interpreter(const char *path);

#endif

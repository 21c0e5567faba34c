/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's Landlock domain: files from the profile, network, scoping. */
#ifndef ZTX_LANDLOCK_H
#define ZTX_LANDLOCK_H

#include "profile.h"

/*
 * The ruleset (*RULESET, -1 when there is nothing to enforce) that
 * restricts a process with the best Landlock ABI the kernel offers, made
 * by any process of the agent's file-system identity and enforced by the
 * agent's own process before its exec (landlock_enforce):
 *   - scoping (ABI >= 6): signals and abstract unix sockets cannot reach
 *     any process outside the domain (the supervisor, the agent account's
 *     other processes) — always, even without "files";
 *   - TCP bind and connect (ABI >= 4) are refused outright: the agent
 *     never performs them, the supervisor does, after deciding;
 *   - with "files" in the profile, only these paths, with rights:
 *       r  READ_FILE READ_DIR
 *       w  WRITE_FILE TRUNCATE MAKE_REG MAKE_DIR MAKE_SYM MAKE_SOCK
 *          MAKE_FIFO REMOVE_FILE REMOVE_DIR REFER IOCTL_DEV
 *       x  EXECUTE
 *     plus the agent's binary and the profile's commands (r x), and a
 *     baseline every process needs: r x on /lib, /lib64, /usr/lib,
 *     /usr/lib64 (the dynamic loader and libraries); r on /etc/ld.so.cache,
 *     /etc/localtime, /usr/share/zoneinfo, /etc/nsswitch.conf,
 *     /etc/passwd, /etc/group, /etc/hosts, /etc/resolv.conf, /etc/gai.conf,
 *     /dev/urandom, /dev/random, /proc; r w on /dev/null, /dev/zero,
 *     /dev/full, /dev/tty;
 *   - without "files", WRITE_FILE everywhere but under /proc (every entry
 *     of / but proc): no agent process opens another's /proc/PID/mem or
 *     any other /proc file for writing.
 * When the kernel lacks what the profile needs (Landlock at all, or
 * scoping), returns -EOPNOTSUPP unless the profile says landlock =
 * "optional", in which case what exists is applied.  *ABI receives the
 * ABI version used (0: none).  Returns 0 or -errno with ERROR (160 bytes).
 * What the rules name is resolved now, in the caller's view of the file
 * system (the agent's process shares it: no namespace of its own).
 */
int landlock_prepare(const struct profile *p, int *ruleset, int *abi,
    char *error);

/* Restrict the calling process (NO_NEW_PRIVS already set) to RULESET
 * (-1: nothing, as landlock_prepare may say) and close it.  0, or -errno
 * with ERROR (160 bytes) set. */
int landlock_enforce(int ruleset, char *error);

#endif

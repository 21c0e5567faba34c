/* SPDX-License-Identifier: Apache-2.0 */
/* The policy engine: one agent's profile against one action, nothing else. */
#ifndef ZTD_POLICY_H
#define ZTD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ztd_config.h"

/*
 * Decisions are never a boolean: deny is zero and allow is a distinct
 * multi-bit constant compared by equality, so that a corrupted or
 * uninitialised value is a deny.
 */
#define DECISION_DENY 0u
#define DECISION_ALLOW 0xa11c7e57u

enum action {
	ACTION_NONE = 0,
	ACTION_SESSION,		/* object: a PAM service name */
	ACTION_EXEC,		/* object: an absolute path */
	ACTION_CONNECT,		/* object: [tcp:|udp:]ADDR:PORT, [ADDR6]:PORT,
				 * or unix:/path */
	ACTION_OPEN,		/* object: /path:r|w|rw|x|rx|wx|rwx */
	ACTION_SYSCALL,		/* object: a syscall name */
	ACTION_LISTEN,		/* object: [tcp:|udp:]ADDR:PORT or [ADDR6]:PORT,
				 * the local address an inbound socket takes */
	ACTION_MAX,
};

#define POLICY_OBJECT_MAX 4096		/* object texts are shorter than this */
#define POLICY_REASON_MAX 160

/* An action's object, parsed and normalised (see policy_parse_object). */
struct policy_object {
	enum action action;
	char text[POLICY_OBJECT_MAX];	/* canonical text (cache key, audit) */
	/* ACTION_SESSION: text is the service.  ACTION_EXEC: text is the
	 * path.  ACTION_SYSCALL: text is the name. */
	/* ACTION_CONNECT and ACTION_LISTEN */
	int family;			/* AF_INET, AF_INET6 or AF_UNIX */
	uint8_t addr[16];		/* v4-mapped v6 is stored as AF_INET */
	uint16_t port;
	enum proto proto;
	char path[POLICY_OBJECT_MAX];	/* ACTION_OPEN, and AF_UNIX */
	unsigned access;		/* ACTION_OPEN: ACCESS_* bits */
};

struct policy_verdict {
	uint32_t decision;		/* DECISION_ALLOW or DECISION_DENY */
	enum risk risk;			/* of an allow: RISK_LOW or RISK_HIGH */
	bool tunnel;			/* connect: the rule wants mutual TLS */
	const struct network_rule *rule;	/* connect: the matching rule */
	char reason[POLICY_REASON_MAX];	/* names the rule, or its absence */
};

/* "session", "exec", ... or NULL; and back (ACTION_NONE if unknown). */
const char *policy_action_name(enum action action);
enum action policy_action_from_name(const char *name);

/*
 * Parse TEXT as the object of ACTION into OUT.  Strict: a connect address
 * must be a literal (no names), the port 1-65535; a path must be absolute,
 * at most PATH_MAX, without "." or ".." components, "//" or a trailing
 * "/" (the caller resolves paths; the engine never guesses); a syscall must
 * be a name this architecture knows; a session service a PAM service name.
 * For every action the text is shorter than POLICY_OBJECT_MAX and holds no
 * control byte (0x01-0x1f, 0x7f).
 *
 * OUT->text is the canonical form, the same for every spelling of one
 * object (cache key, audit):
 *   connect  "tcp:10.0.0.5:5432", "udp:[2001:db8::1]:53" (inet_ntop form),
 *            "unix:/run/x.sock".  The protocol defaults to tcp.  A
 *            v4-mapped address (::ffff:a.b.c.d) becomes AF_INET a.b.c.d;
 *            other IPv6 forms (::a.b.c.d, 64:ff9b::/96) stay IPv6.  A port
 *            is decimal digits without sign or leading zero; a unix path
 *            fits sockaddr_un (at most 107 bytes) and is not "/".
 *   open     "PATH:MODE", split at the last ':' (PATH may hold one); MODE
 *            is r, w, x, rw, rx, wx or rwx, in that letter order.  PATH may
 *            be "/" (a directory one can open), unlike any other path.
 *   listen   as connect, without unix: "tcp:127.0.0.1:8080",
 *            "tcp:[::]:8080" (the any-address is itself, not a block).
 *   exec, syscall, session: TEXT itself.
 *
 * Returns 0 with OUT->action set, or ZT_E_PROTOCOL with OUT zeroed
 * (action ACTION_NONE) and ERROR (POLICY_REASON_MAX bytes) saying, after
 * "ACTION: ", what is wrong; ERROR never quotes the input's bytes.
 */
int policy_parse_object(enum action action, const char *text,
    struct policy_object *out, char *error);

/*
 * Decide OBJECT (from policy_parse_object) for AGENT, as the profile alone
 * says (attestation, grants and identity are the caller's).  Minimum
 * trust: whatever no rule allows is denied.  Always fills VERDICT, which
 * starts as a deny (risk RISK_DENY, no tunnel, no rule); never fails.
 *   session: allowed when the service is in pam_services (risk high: a
 *            session needs a young attestation).
 *   exec:    the command rule with that exact path decides (low/high
 *            allow, deny), even for the agent's own binary; without one,
 *            the agent's own binary is a low-risk allow.
 *   connect: the first rule, in the file's order, whose family, prefix,
 *            protocol and port range match; its tunnel flag and the rule
 *            itself go into VERDICT.  A rule written as v4-mapped IPv6
 *            (::ffff:a.b.c.d/N, N >= 96) is the IPv4 block a.b.c.d/(N-96);
 *            a shorter IPv6 prefix, ::/0 included, covers IPv6 only.
 *            unix: a rule with that exact path.  Allows are low risk.
 *            Listen rules never allow a connect.
 *   listen:  the same matching over the listen rules only (a rule's
 *            `listen` block, never a `to` block): the local address and
 *            port an agent's socket may be bound to and accept on.  A
 *            socket on the any-address (0.0.0.0, ::) matches only a rule
 *            whose block holds that address (0.0.0.0/0, ::/0, or the
 *            address itself).  Allows are low risk.
 *   open:    without a files list, allowed (no file confinement: reason
 *            says so); with one, the most specific (longest) rule whose
 *            path is the object or a parent directory of it ("/" is the
 *            parent of every path; a trailing '/' in a rule is ignored)
 *            must grant every bit asked.  Allows are low risk.
 *   syscall: in deny: denied; in gate: allowed with risk high; otherwise
 *            denied (not gated by this profile).
 * VERDICT->reason names the deciding rule and its line, or says that none
 * applies ("command /usr/bin/psql (line 12) is high risk", "network rule
 * line 14 allows tcp:10.0.0.5:5432", "no files rule covers /etc/shadow");
 * paths in it are cut to 96 bytes with "...".  Rules are compared as
 * written: config paths are not normalised, so only a rule path in the
 * canonical form (see policy_parse_object) can match.
 */
void policy_decide(const struct agent *agent,
    const struct policy_object *object, struct policy_verdict *verdict);

/*
 * Put agent A's profile, the part zt-exec enforces itself (its filter,
 * Landlock, what it gates), into M as a ZT_F_PROFILE record (zt_msg.h
 * gives its schema).  0 or a zt_err code (ZT_E_NOSPACE: too large).
 */
struct zt_msg;
int policy_put_profile(struct zt_msg *m, const struct agent *a);

/*
 * Whether A's launch reply (a decision with the longest reason, a grant,
 * the digest and the profile) fits one message: checked when the policy
 * is loaded, so that no agent's launch fails on it.
 */
bool policy_profile_fits(const struct agent *a);

#endif

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
	ACTION_RESOLVE,		/* object: dns:NAME (or NAME, any case;
				 * canonical lower case), a question the
				 * grant's resolver would send upstream */
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
	/* ACTION_EXEC: argv[1], argv[2], ... each NUL-terminated, one after
	 * the other (ARGV_LEN bytes, ARGC of them; see policy_set_argv);
	 * NULL: no argument list given (matched as an empty one).
	 * ARGV_CUT: only the first ones came (the rest did not fit). */
	const char *argv;
	size_t argv_len, argc;
	bool argv_cut;
	char name[256];			/* ACTION_RESOLVE, and a connect to a
					 * name (policy_parse_named_connect):
					 * lower case, no trailing dot */
};

struct policy_verdict {
	uint32_t decision;		/* DECISION_ALLOW or DECISION_DENY */
	enum risk risk;			/* of an allow: RISK_LOW or RISK_HIGH */
	bool tunnel;			/* connect: the rule wants mutual TLS */
	const struct network_rule *rule;	/* connect: the matching rule */
	bool learnable;			/* a deny because the profile lists
					 * nothing that allows it (no rule, or
					 * no args alternative), not an
					 * explicit deny: learn mode may allow
					 * it */
	bool per_argv;			/* an exec allowed by an args
					 * alternative: it holds for this argv
					 * only (never cached) */
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
 *   resolve  "dns:api.example.com": the name lower-cased, a DNS name of
 *            labels of [a-z0-9_-] without a trailing dot (policy_is_host_
 *            name); "dns:" may be left out.
 *   exec, syscall, session: TEXT itself.
 *
 * Returns 0 with OUT->action set, or ZT_E_PROTOCOL with OUT zeroed
 * (action ACTION_NONE) and ERROR (POLICY_REASON_MAX bytes) saying, after
 * "ACTION: ", what is wrong; ERROR never quotes the input's bytes.
 */
int policy_parse_object(enum action action, const char *text,
    struct policy_object *out, char *error);

/*
 * Attach an exec's arguments to OBJECT (ACTION_EXEC, parsed): ARGV holds
 * argv[1], argv[2], ... each ending in a NUL (LEN bytes, kept by the
 * caller while OBJECT is used); CUT says more followed that did not fit.
 * Returns 0, or ZT_E_PROTOCOL when ARGV does not end in a NUL or OBJECT
 * is no exec.
 */
int policy_set_argv(struct policy_object *object, const char *argv,
    size_t len, bool cut);

/*
 * Decide OBJECT (from policy_parse_object) for AGENT, as the profile alone
 * says (attestation, grants and identity are the caller's).  Minimum
 * trust: whatever no rule allows is denied.  Always fills VERDICT, which
 * starts as a deny (risk RISK_DENY, no tunnel, no rule); never fails.
 *   session: allowed when the service is in pam_services (risk high: a
 *            session needs a young attestation).
 *   exec:    the command rule with that exact path decides (low/high
 *            allow, deny), even for the agent's own binary; without one,
 *            the agent's own binary is a low-risk allow.  A rule with
 *            args allows only when one alternative matches the object's
 *            argv (policy_set_argv) pattern by pattern (fnmatch, flags
 *            0), a final "**" matching whatever remains; a cut argv
 *            matches no alternative.
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
 *   resolve: the first host rule whose name (or wildcard) matches: low
 *            risk allow (the question may go upstream).  Connects by name
 *            are policy_decide_named's.
 * VERDICT->learnable marks the denies learn mode may lift: an exec,
 * connect or listen no rule allows, an exec whose arguments no args
 * alternative matches, a syscall the profile does not gate; never an
 * explicit deny (risk "deny", syscalls.deny), a session or a file.
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
 * Is AGENT in learn mode at NOW (unix time): enforce = false and NOW
 * before its learn_until?  After it, the profile enforces by itself.
 */
bool policy_learning(const struct agent *agent, int64_t now);

/* The same now: the one reader of the wall clock among the decision's
 * files, for learn_until is a calendar date (a step of the clock moves
 * it, as it would move any date). */
bool policy_learning_now(const struct agent *agent);

/* Unix time T as RFC 3339 UTC ("2026-12-31T00:00:00Z") into OUT (SIZE
 * bytes, at least 21). */
void policy_format_time(int64_t t, char *out, size_t size);

/*
 * Put agent A's profile, the part zt-exec enforces itself (its filter,
 * Landlock, what it gates), into M as a ZT_F_PROFILE record (zt_msg.h
 * gives its schema).  With host rules, ZT_PROFILE_DNS and DNS's upstreams
 * and max_ttl (DNS NULL: none, the resolver asks /etc/resolv.conf's).
 * 0 or a zt_err code (ZT_E_NOSPACE: too large).
 */
struct zt_msg;
int policy_put_profile(struct zt_msg *m, const struct agent *a,
    const struct dns_config *dns);

/*
 * Whether A's launch reply (a decision with the longest reason, a grant,
 * the digest and the profile with DNS's upstreams) fits one message:
 * checked when the policy is loaded, so that no agent's launch fails on
 * it.
 */
bool policy_profile_fits(const struct agent *a, const struct dns_config *dns);

/* Does the host rule RULE match NAME (lower-case, no trailing dot)?  A
 * wildcard rule matches names strictly under its suffix. */
bool policy_host_matches(const struct network_rule *rule, const char *name);

/*
 * Is NAME a name a host rule can match: labels of [a-z0-9_-], 1-63 bytes,
 * at most 253 in all, no trailing dot?  (Anything else a resolver may be
 * asked, escapes and upper case included, never matches.)
 */
bool policy_is_host_name(const char *name);

/*
 * A connect OBJECT (tcp or udp, inet, parsed) to an address answered for
 * NAME in this grant: allowed by the first host rule, in the file's order,
 * that matches NAME, the protocol and the port, and, when PRIVATE_ADDR,
 * says private = true.  Port 53 is never allowed by a host rule (DNS goes
 * through the grant's resolver; UDP to a server needs a CIDR rule).
 * Fills VERDICT as policy_decide does (rule, tunnel, reason naming NAME).
 */
void policy_decide_named(const struct agent *agent,
    const struct policy_object *object, const char *name, bool private_addr,
    struct policy_verdict *verdict);

/*
 * "[tcp:|udp:]NAME:PORT" (ztctl check: may a connect to an address
 * answered for NAME be allowed?) into OUT: action ACTION_CONNECT, family
 * 0, NAME lower-cased in out->name, text canonical
 * ("tcp:api.example.com:443").  0,
 * or ZT_E_PROTOCOL with ERROR.
 */
int policy_parse_named_connect(const char *text, struct policy_object *out,
    char *error);

#endif

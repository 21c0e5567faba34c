/* SPDX-License-Identifier: Apache-2.0 */
/* Grants: who may act for which agent, until when, watched by whom. */
#ifndef ZTD_GRANT_H
#define ZTD_GRANT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit.h"
#include "grantset.h"
#include "server.h"

#define GRANT_ID_LEN 32		/* hex digits of 128 random bits */
#define GRANTS_MAX 65536
/* How long past decision_ttl an ended grant's REPORTs are still taken:
 * zt-exec batches its reports up to a second, and a loaded host delays. */
#define ENDED_KEPT_SLACK_MS 10000

struct ztd;
struct agent;

struct grant {
	struct watch watch;		/* first: the supervisor's pidfd */
	char id[GRANT_ID_LEN + 1];
	char agent[65];			/* names: copies, a reload may drop */
	char account[33];
	char service[65];
	char parent[GRANT_ID_LEN + 1];	/* "" or the grant this one lives
					 * under (zt-exec in a PAM session) */
	uid_t uid;
	pid_t supervisor_pid;
	pid_t agent_sid;		/* 0, or the session zt-exec started
					 * its agent in: killed with the grant
					 * and when the supervisor exits */
	int supervisor_pidfd;		/* readable when the supervisor exits */
	char cert_serial[33];		/* "" or its tunnel certificate's */
	int64_t cert_not_after;		/* unix time */
	int64_t created_ms;		/* CLOCK_BOOTTIME */
	int64_t expires_ms;		/* set through grant.c only: the
					 * expiry heap is ordered by it */
	struct grant_links links;	/* its place in the grant set */
	struct learned *learned;	/* addresses its resolver was answered
					 * (top-level grants only: those under
					 * it share it), or NULL */
	struct audit_limit deny_limit;	/* its denies' audit rate */
	/* In ztd->holding while its deny_limit holds denies (decide.c). */
	struct grant *holding_next, *holding_prev;
	bool holding;
	/* It holds one of its uid's max_supervisors_per_uid launches
	 * (server_launch_take), given back when it ends. */
	bool launch_slot;
};

/*
 * Create a grant for AGENT and ACCOUNT (uid UID), supervised by the process
 * SUPERVISOR_PIDFD (duplicated here; its exit ends the grant), lasting
 * the agent's session_ttl.  Returns 0 and *OUT, ZT_E_BUSY at GRANTS_MAX, or
 * -errno.
 */
int grant_create(struct ztd *ztd, const struct agent *agent,
    const char *account, uid_t uid, const char *service, pid_t supervisor_pid,
    int supervisor_pidfd, struct grant **out);

/* The live grant with ID, or NULL (also NULL once expired).  O(1). */
struct grant *grant_find(struct ztd *ztd, const char *id);

/*
 * The grant ID that ended at most decision_ttl (plus ENDED_KEPT_SLACK_MS)
 * ago, or NULL: what it was (id, agent, account, uid, supervisor, parent,
 * the names its resolver learned), for REPORTs of cache hits its
 * supervisor served before it read the end, which must still be audited.
 * Never a live grant; nothing may be decided for it.
 */
struct grant *grant_find_ended(struct ztd *ztd, const char *id);

/* Does process PID supervise a grant (live or not yet expired by
 * grant_expire)?  O(1). */
bool grant_supervised_by(struct ztd *ztd, pid_t pid);

/*
 * CHILD lives under PARENT (zt-exec launched in a PAM session): it ends
 * with PARENT and never outlives it.
 */
void grant_set_parent(struct ztd *ztd, struct grant *child,
    struct grant *parent);

/* The grant G lives under at the top (G itself when it has no parent):
 * whose learned addresses G's supervisors share. */
struct grant *grant_root(struct ztd *ztd, struct grant *g);

/* How many grants there are. */
size_t grant_count(struct ztd *ztd);

/* Oldest first, for listings: the first grant, the next after G. */
struct grant *grant_first(struct ztd *ztd);
struct grant *grant_next(struct grant *g);

/*
 * End every grant that is grant ID, or of AGENT, or of ACCOUNT (the others
 * NULL), logging WHY; with KILL, or when the agent's policy says
 * on_violation = kill, its processes are killed (grant_end).  Returns how
 * many were named (those under them end too).  Linear: administrators'.
 */
unsigned grant_revoke(struct ztd *ztd, const char *id, const char *agent,
    const char *account, bool kill, const char *why);

/* End the grants of agents the configuration no longer names (reload). */
void grant_end_unknown_agents(struct ztd *ztd, const char *why);

/* No address any grant remembers lives past UNTIL (a reload lowered
 * dns.max_ttl). */
void grant_clamp_learned(struct ztd *ztd, int64_t until);

/*
 * End GRANT now: forget it, tell every connected supervisor of it
 * (ZT_EVENT_GRANT_ENDED), log WHY, and with KILL send SIGKILL to its
 * supervisor and every process of the supervisor's session running as the
 * grant's uid.  Frees GRANT.
 */
void grant_end(struct ztd *ztd, struct grant *grant, const char *why,
    bool kill);

/* End expired grants (without looking at the others); return ms until
 * the next expiry, or -1 when there is no grant. */
int grant_expire(struct ztd *ztd);

/* End every grant (shutdown). */
void grant_end_all(struct ztd *ztd, const char *why);

/* Milliseconds GRANT still has (0 when expired). */
int64_t grant_remaining_ms(const struct grant *grant);

#endif

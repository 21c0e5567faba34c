/* SPDX-License-Identifier: Apache-2.0 */
/* ztd as one host of a fleet: signed policy and disables, report, offline. */
#ifndef ZTD_FLEET_H
#define ZTD_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ztd;
struct fleet;

#define FLEET_ERROR_MAX 512

/*
 * With a fleet section: load the administrator's key, the cached disabled
 * set and the cached policy from state_dir/fleet (each checked again:
 * signature, then the policy as a configuration, which replaces
 * ztd->config when valid), and the time of the last sync.  ztd->fleet
 * stays NULL without a fleet section.  0, or -errno with WHY.
 */
int fleet_new(struct ztd *ztd, char *why, size_t size);

/*
 * Start the fleet client (a separate, unprivileged process: fleet_client.h)
 * and watch its socket in ztd's epoll.  0, or -errno with WHY.
 */
int fleet_start(struct ztd *ztd, char *why, size_t size);

/* The client's socket is readable: take what it says. */
void fleet_ready(struct ztd *ztd);

/* Periodic work (report, restart, outage); ms until it is due again, or
 * -1 without a fleet. */
int fleet_tick(struct ztd *ztd);

/* The body of the fleet policy in force, or NULL (for a reload). */
const char *fleet_policy_text(const struct fleet *fleet);
const char *fleet_policy_name(const struct fleet *fleet);

/*
 * Must ztd deny AGENT's action for the fleet's sake?  A disabled agent:
 * everything; after max_offline without a sync: sessions and high-risk
 * actions (SESSION_OR_HIGH).  true with REASON (SIZE bytes) set.
 */
bool fleet_refuses(const struct ztd *ztd, const char *agent,
    bool session_or_high, char *reason, size_t size);

/*
 * After a reload (ztd->config is the new configuration): read admin_key
 * again (the old one stays when the new one cannot be read) and restart
 * the client with the fleet section as it now is.  A fleet section added
 * or removed takes effect at the next start only (logged).
 */
void fleet_reconfigure(struct ztd *ztd);

/*
 * The fleet's state for ztctl status, as ZT_F_FLEET's text (zt_msg.h)
 * into OUT (SIZE bytes); false without a fleet section.
 */
bool fleet_status_text(const struct ztd *ztd, char *out, size_t size);

/* Stop the client and free everything (NULL: nothing). */
void fleet_free(struct ztd *ztd);

#endif

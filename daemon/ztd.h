/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's context: everything ztd knows, passed explicitly. */
#ifndef ZTD_H
#define ZTD_H

#include <stdbool.h>
#include <stdint.h>

#include "attest.h"
#include "grantset.h"
#include "server.h"
#include "ztd_config.h"

struct audit;
struct disabled;
struct cache;
struct fleet;
struct grant;
struct identity;
struct launchfilters;
struct peer_limits;
struct token;

struct ztd {
	const char *config_path;
	struct ztd_config *config;	/* the last good configuration */
	uint64_t generation;		/* +1 for every configuration loaded */
	char reload_error[CONFIG_ERROR_MAX]; /* why the last reload failed */
	int64_t started_ms;		/* CLOCK_BOOTTIME */
	bool stopping;
	struct server server;
	struct attest *attest;
	struct cache *cache;		/* low-risk allows, by grant */
	struct audit *audit;
	struct identity *identity;	/* digests of agent binaries */
	struct ca *ca;			/* the tunnel CA (state_dir/ca.key) */
	struct token *token;		/* the key of cacheable allows'
					 * tokens (token.h), this run's */
	struct grantset grants;		/* live grants (grant.c's) */
	struct grantset ended;		/* what REPORT needs of grants that
					 * ended lately (grant.c's) */
	struct disabled *disabled;	/* agents disabled locally, kept in
					 * state_dir (disable.h) */
	struct fleet *fleet;		/* NULL: no fleet section */
	struct launchfilters *launchfilters; /* compiled seccomp filters */
	struct grant *holding;		/* grants with denies held back from
					 * the audit (decide.c's list) */
	struct peer_limits *peer_limits; /* the audit buckets of denies
					 * caused under no grant, by uid
					 * (decide.c's) */
};

/*
 * Load the configuration file again; swap it in only when it is valid.
 * Returns 0, or an error with ztd->reload_error saying why (the old
 * configuration stays).  Logs the outcome.
 */
int ztd_reload(struct ztd *ztd);

/*
 * Put FRESH (valid, complete) in force instead of ztd->config, as a reload
 * does: a new generation, every cached decision dropped, supervisors told,
 * grants of agents it no longer names ended.  WHAT names it in the log.
 */
void ztd_apply_config(struct ztd *ztd, struct ztd_config *fresh,
    const char *what);

/* Milliseconds on CLOCK_BOOTTIME (wall-clock steps do not move it). */
int64_t ztd_now_ms(void);

#endif

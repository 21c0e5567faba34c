/* SPDX-License-Identifier: Apache-2.0 */
/* The compiled seccomp filters ztd hands zt-exec with a launch. */
#ifndef ZTD_LAUNCHFILTER_H
#define ZTD_LAUNCHFILTER_H

/* Profiles whose filter is kept (one per agent, and a reload's new ones). */
#define LAUNCHFILTERS_MAX 32
#define LAUNCHFILTER_ERROR_MAX 160

struct launchfilters;

/* An empty set, or NULL when out of memory; _free(NULL) does nothing. */
struct launchfilters *launchfilters_new(void);
void launchfilters_free(struct launchfilters *l);

struct agent;

/*
 * The sealed memfd (filter.h, filter_export_sealed) holding the filter of
 * AGENT's profile as the launch sends it (policy_put_profile) and zt-exec
 * reads and builds it (profile_from_record, filter_build): compiled the
 * first time that record is seen, then kept in memory, keyed by the whole
 * encoded record (a reload that changes a profile changes its record; the
 * oldest of LAUNCHFILTERS_MAX is forgotten).  The descriptor stays the
 * set's: the caller sends it and never closes it.  Returns it, or -errno
 * with ERROR (LAUNCHFILTER_ERROR_MAX bytes) set.
 */
int launchfilters_get(struct launchfilters *l, const struct agent *agent,
    char *error);

#endif

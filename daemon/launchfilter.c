/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Launch filters: the seccomp filter of each profile ztd sends, compiled
 * once (libseccomp takes milliseconds per build) and handed to zt-exec
 * with every launch as a sealed memfd.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter.h"
#include "launchfilter.h"
#include "policy.h"
#include "profile.h"
#include "zt_msg.h"

struct launchfilter_entry {
	uint8_t *key;			/* the profile record, encoded */
	size_t key_len;
	int fd;				/* its sealed filter */
};

struct launchfilters {
	struct launchfilter_entry entries[LAUNCHFILTERS_MAX];
	size_t next;			/* the slot to fill (and evict) next */
};

struct launchfilters *
launchfilters_new(void)
{
	struct launchfilters *l = calloc(1, sizeof(*l));

	if (l != NULL)
		for (size_t i = 0; i < LAUNCHFILTERS_MAX; i++)
			l->entries[i].fd = -1;
	return l;
}

static void
entry_clear(struct launchfilter_entry *e)
{
	free(e->key);
	e->key = NULL;
	e->key_len = 0;
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}

void
launchfilters_free(struct launchfilters *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < LAUNCHFILTERS_MAX; i++)
		entry_clear(&l->entries[i]);
	free(l);
}

/* The filter of the profile in M (a message holding only AGENT's
 * ZT_F_PROFILE record), as zt-exec reads and builds it. */
static int
compile(struct zt_msg *m, char *error)
{
	struct zt_msg *decoded = malloc(sizeof(*decoded));
	struct profile *p = malloc(sizeof(*p));
	struct zt_record record;
	int fd;

	if (decoded == NULL || p == NULL) {
		snprintf(error, LAUNCHFILTER_ERROR_MAX, "out of memory");
		fd = -ENOMEM;
	} else if (zt_msg_decode(decoded, m->wire, m->size) < 0 ||
	    zt_msg_get_record(decoded, ZT_F_PROFILE, &record) < 0) {
		snprintf(error, LAUNCHFILTER_ERROR_MAX, "the profile record "
		    "does not decode");
		fd = -EPROTO;
	} else if ((fd = profile_from_record(&record, p, error)) >= 0)
		fd = filter_export_sealed(p, error);
	free(p);
	free(decoded);
	return fd;
}

int
launchfilters_get(struct launchfilters *l, const struct agent *agent,
    char *error)
{
	struct launchfilter_entry *e;
	struct zt_msg *m = malloc(sizeof(*m));
	uint8_t *key;
	int fd;

	/* The key: the profile record exactly as the launch sends it. */
	if (m == NULL || zt_msg_init(m, ZT_MSG_DECISION, 0) < 0 ||
	    policy_put_profile(m, agent) < 0) {
		free(m);
		snprintf(error, LAUNCHFILTER_ERROR_MAX, "the profile does not "
		    "encode");
		return -ENOMEM;
	}
	for (size_t i = 0; i < LAUNCHFILTERS_MAX; i++)
		if (l->entries[i].key != NULL &&
		    l->entries[i].key_len == m->size &&
		    memcmp(l->entries[i].key, m->wire, m->size) == 0) {
			free(m);
			return l->entries[i].fd;
		}
	if ((key = malloc(m->size)) == NULL) {
		free(m);
		snprintf(error, LAUNCHFILTER_ERROR_MAX, "out of memory");
		return -ENOMEM;
	}
	memcpy(key, m->wire, m->size);
	if ((fd = compile(m, error)) < 0) {
		free(key);
		free(m);
		return fd;
	}
	e = &l->entries[l->next];
	l->next = (l->next + 1) % LAUNCHFILTERS_MAX;
	entry_clear(e);
	e->key = key;
	e->key_len = m->size;
	e->fd = fd;
	free(m);
	return fd;
}

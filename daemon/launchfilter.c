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
#include "profile.h"

struct launchfilter_entry {
	char *text;			/* the profile, exactly as sent */
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
	free(e->text);
	e->text = NULL;
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

int
launchfilters_get(struct launchfilters *l, const char *profile_text,
    char *error)
{
	struct launchfilter_entry *e;
	struct profile *p;
	char *copy;
	int fd;

	for (size_t i = 0; i < LAUNCHFILTERS_MAX; i++)
		if (l->entries[i].text != NULL &&
		    strcmp(l->entries[i].text, profile_text) == 0)
			return l->entries[i].fd;
	/* The parser zt-exec uses, so that the filter is the one it would
	 * build from the same text. */
	if ((p = malloc(sizeof(*p))) == NULL ||
	    (copy = strdup(profile_text)) == NULL) {
		free(p);
		snprintf(error, LAUNCHFILTER_ERROR_MAX, "out of memory");
		return -ENOMEM;
	}
	if ((fd = profile_parse(profile_text, p, error)) >= 0)
		fd = filter_export_sealed(p, error);
	free(p);
	if (fd < 0) {
		free(copy);
		return fd;
	}
	e = &l->entries[l->next];
	l->next = (l->next + 1) % LAUNCHFILTERS_MAX;
	entry_clear(e);
	e->text = copy;
	e->fd = fd;
	return fd;
}

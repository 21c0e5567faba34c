/* SPDX-License-Identifier: Apache-2.0 */
/* Agents disabled locally (ztctl disable), kept in state_dir across restarts. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disable.h"
#include "zt_err.h"
#include "zt_file.h"

#define NAME_LEN_MAX 64
#define FILE_SIZE_MAX (DISABLE_AGENTS_MAX * (NAME_LEN_MAX + DISABLE_WHY_MAX + 2))

struct entry {
	char name[NAME_LEN_MAX + 1];
	char why[DISABLE_WHY_MAX + 1];
};

struct disabled {
	char *path;
	struct entry *entries;
	size_t n;
};

/* An agent name as config.c admits them: 1-64 of A-Z a-z 0-9 _ . - */
static bool
valid_name(const char *s, size_t len)
{
	if (len == 0 || len > NAME_LEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_.-", s[i]) == NULL || s[i] == '\0')
			return false;
	return true;
}

/* WHY made one printable line of at most DISABLE_WHY_MAX bytes. */
static void
clean_why(char out[DISABLE_WHY_MAX + 1], const char *why)
{
	size_t n = 0;

	if (why == NULL || why[0] == '\0')
		why = "no reason given";
	for (; why[n] != '\0' && n < DISABLE_WHY_MAX; n++)
		out[n] = (unsigned char)why[n] < 0x20 || why[n] == 0x7f ?
		    '?' : why[n];
	out[n] = '\0';
}

/* ZT_E_PROTOCOL, with ERROR saying that line LINE of PATH is WHAT. */
static int
bad_line(char *error, size_t size, const char *path, unsigned line,
    const char *what)
{
	snprintf(error, size, "%s:%u: %s", path, line, what);
	return ZT_E_PROTOCOL;
}

/* Parse TEXT (LEN bytes) into D; a malformed line is an error. */
static int
parse(struct disabled *d, char *text, size_t len, char *error, size_t size)
{
	unsigned line = 0;
	char *at = text;

	if (len > 0 && text[len - 1] != '\n') {
		snprintf(error, size, "%s: the last line does not end (a cut "
		    "write?)", d->path);
		return ZT_E_PROTOCOL;
	}
	while (at < text + len) {
		char *eol = memchr(at, '\n', (size_t)(text + len - at));
		char *space = memchr(at, ' ', (size_t)(eol - at));
		struct entry *e;

		line++;
		if (space == NULL || !valid_name(at, (size_t)(space - at)) ||
		    (size_t)(eol - space - 1) > DISABLE_WHY_MAX ||
		    d->n == DISABLE_AGENTS_MAX)
			return bad_line(error, size, d->path, line,
			    "not \"AGENT WHY\"");
		for (char *c = space + 1; c < eol; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return bad_line(error, size, d->path, line,
				    "a control character");
		e = &d->entries[d->n++];
		memcpy(e->name, at, (size_t)(space - at));
		e->name[space - at] = '\0';
		memcpy(e->why, space + 1, (size_t)(eol - space - 1));
		e->why[eol - space - 1] = '\0';
		at = eol + 1;
	}
	return 0;
}

int
disabled_open(const char *state_dir, struct disabled **out, char *error,
    size_t size)
{
	struct disabled *d = calloc(1, sizeof(*d));
	char *text = NULL;
	struct stat st;
	ssize_t n = 0;
	int fd = -1, r;

	*out = NULL;
	if (d == NULL || (d->entries = calloc(DISABLE_AGENTS_MAX,
	    sizeof(*d->entries))) == NULL ||
	    asprintf(&d->path, "%s/%s", state_dir, DISABLE_FILE) < 0) {
		if (d != NULL)
			d->path = NULL;
		snprintf(error, size, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	fd = open(d->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0 && errno == ENOENT) {
		r = 0;
		goto done;
	}
	if (fd < 0) {
		r = -errno;
		snprintf(error, size, "%s: %s", d->path, strerror(-r));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 022) ||
	    st.st_size > FILE_SIZE_MAX) {
		snprintf(error, size, "%s: not a regular file of ztd's, "
		    "writable by no one else, at most %d bytes", d->path,
		    FILE_SIZE_MAX);
		r = ZT_E_UNSAFE;
		goto out;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
		r = -ENOMEM;
		snprintf(error, size, "%s: out of memory", d->path);
		goto out;
	}
	while (n < st.st_size) {
		ssize_t got = read(fd, text + n, (size_t)(st.st_size - n));

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			r = got < 0 ? -errno : -EIO;
			snprintf(error, size, "%s: %s", d->path, strerror(-r));
			goto out;
		}
		n += got;
	}
	if ((r = parse(d, text, (size_t)n, error, size)) < 0)
		goto out;
done:
	*out = d;
	d = NULL;
out:
	if (fd >= 0)
		close(fd);
	free(text);
	disabled_free(d);
	return r;
}

void
disabled_free(struct disabled *d)
{
	if (d == NULL)
		return;
	free(d->path);
	free(d->entries);
	free(d);
}

static struct entry *
find(const struct disabled *d, const char *agent)
{
	for (size_t i = 0; d != NULL && agent != NULL && i < d->n; i++)
		if (strcmp(d->entries[i].name, agent) == 0)
			return &d->entries[i];
	return NULL;
}

const char *
disabled_reason(const struct disabled *d, const char *agent)
{
	const struct entry *e = find(d, agent);

	return e != NULL ? e->why : NULL;
}

/* Write the set as it would be with ENTRIES (N of them). */
static int
save(const struct disabled *d, const struct entry *entries, size_t n)
{
	char *text = malloc(FILE_SIZE_MAX + 1);
	size_t len = 0;
	int r;

	if (text == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, FILE_SIZE_MAX + 1 - len,
		    "%s %s\n", entries[i].name, entries[i].why);
	r = zt_file_replace(d->path, text, len, 0600);
	free(text);
	return r;
}

int
disabled_set(struct disabled *d, const char *agent, const char *why)
{
	struct entry *e = find(d, agent), fresh;
	size_t n = d->n;
	int r;

	if (agent == NULL || !valid_name(agent, strlen(agent)))
		return -EINVAL;
	if (e == NULL && n == DISABLE_AGENTS_MAX)
		return -ENOSPC;
	snprintf(fresh.name, sizeof(fresh.name), "%s", agent);
	clean_why(fresh.why, why);
	if (e == NULL)
		e = &d->entries[n++];
	/* The old entry is kept in FRESH's place until the file is written. */
	{
		struct entry old = *e;

		*e = fresh;
		if ((r = save(d, d->entries, n)) < 0) {
			*e = old;
			return r;
		}
	}
	d->n = n;
	return 0;
}

int
disabled_clear(struct disabled *d, const char *agent, bool *was)
{
	struct entry *e = find(d, agent), old;
	int r;

	if (was != NULL)
		*was = e != NULL;
	if (e == NULL)
		return 0;
	old = *e;
	*e = d->entries[d->n - 1];
	if ((r = save(d, d->entries, d->n - 1)) < 0) {
		d->entries[d->n - 1] = *e;
		*e = old;
		return r;
	}
	d->n--;
	return 0;
}

size_t
disabled_count(const struct disabled *d)
{
	return d != NULL ? d->n : 0;
}

void
disabled_get(const struct disabled *d, size_t i, const char **agent,
    const char **why)
{
	*agent = d->entries[i].name;
	*why = d->entries[i].why;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Programs as ztd and zt-exec see them: "#!" lines, /proc facts, digests. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * SHA-256 through OpenSSL's one-shot SHA256_* functions, which 3.0 marks
 * deprecated in favour of EVP: the same assembly (SHA-NI, AVX2), but the
 * EVP path starts the provider machinery and reads openssl.cnf at its
 * first use, 1-2 ms of CPU (measured: a process's first EVP_MD_fetch of
 * SHA256 took 0.5-1.5 ms, the whole process 3.3 ms of CPU against 1.1 ms
 * without it), which every zt-exec launch paid before its first digest.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "zt_exe.h"

/* pread size while hashing: a buffer on the caller's stack, reused pass
 * after pass.  A 1 MiB one was malloc'd (an mmap, a page fault for every
 * 4 KiB read into it, an munmap that other threads' CPUs are interrupted
 * for) at every digest: at a launch, zt-exec's own digest of a 142 KiB
 * agent took 185-205 us, about 85 of them SHA-256 (profiled). */
#define HASH_CHUNK (64 * 1024)
#define PROC_STATUS_MAX (64 * 1024)	/* long Groups: lines */
#define NONE 0u				/* cache links hold index + 1 */

/* ------------------------------------------------------------ scripts */

static bool
blank(char c)
{
	return c == ' ' || c == '\t';
}

int
zt_shebang_parse(const char *buf, size_t len, struct zt_shebang *sb)
{
	char line[ZT_SHEBANG_MAX];
	const char *end, *last, *name, *name_end, *arg;

	memset(sb, 0, sizeof(*sb));
	if (len > sizeof(line))
		len = sizeof(line);
	if (len < 2 || buf[0] != '#' || buf[1] != '!')
		return 0;
	/* The kernel's buffer: the file's first bytes, zero padded. */
	memset(line, 0, sizeof(line));
	memcpy(line, buf, len);
	last = line + sizeof(line) - 1;
	/* The line ends at '\n'; a NUL before it ends the search. */
	end = memchr(line, '\n', strnlen(line, sizeof(line)));
	if (end == NULL) {
		/* No newline: only a complete interpreter name will do,
		 * one followed by a blank or a NUL within the buffer. */
		for (name = line + 2; name <= last && blank(*name); name++)
			;
		if (name > last)
			return -ENOEXEC;
		for (end = name; end <= last && !blank(*end) && *end != '\0';
		    end++)
			;
		if (end > last)
			return -ENAMETOOLONG;
		end = last;	/* the last byte is cut */
	}
	while (end > line + 2 && blank(end[-1]))
		end--;
	for (name = line + 2; name < end && blank(*name); name++)
		;
	if (name == end || *name == '\0')
		return -ENOEXEC;
	for (name_end = name; name_end < end && !blank(*name_end) &&
	    *name_end != '\0'; name_end++)
		;
	memcpy(sb->interpreter, name, (size_t)(name_end - name));
	if (name_end < end && *name_end != '\0') {
		for (arg = name_end; arg < end && blank(*arg); arg++)
			;
		if (arg < end) {
			/* C strings: a NUL inside cuts the argument. */
			sb->has_argument = true;
			memcpy(sb->argument, arg, strnlen(arg,
			    (size_t)(end - arg)));
		}
	}
	return 1;
}

int
zt_shebang_read(int fd, struct zt_shebang *sb)
{
	char buf[ZT_SHEBANG_MAX];
	ssize_t n = zt_read_at(fd, buf, sizeof(buf), 0);

	if (n < 0) {
		memset(sb, 0, sizeof(*sb));
		return (int)n;
	}
	return zt_shebang_parse(buf, (size_t)n, sb);
}

/* ------------------------------------------------------------ /proc */

ssize_t
zt_read_at(int fd, void *buf, size_t len, off_t offset)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
		    offset + (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t
zt_proc_read(const char *path, char *buf, size_t size, bool *truncated)
{
	size_t done = 0;
	int fd, r = 0;
	char extra;

	if (truncated != NULL)
		*truncated = false;
	if (size == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	while (done < size - 1) {
		ssize_t n = read(fd, buf + done, size - 1 - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	if (r == 0 && done == size - 1 && truncated != NULL)
		*truncated = read(fd, &extra, 1) > 0;
	close(fd);
	buf[done] = '\0';
	return r < 0 ? r : (ssize_t)done;
}

/* The first number after "NAME:\t" at the start of a line of PID's
 * status (Uid's first is the real uid), which must be in MIN..MAX. */
static int
status_field(pid_t pid, const char *name, long min, long max, long *value)
{
	char path[64], *buf, *line, *end;
	size_t name_len = strlen(name);
	ssize_t n;
	int r = -EIO;

	if (pid <= 0)
		return -ESRCH;
	if ((buf = malloc(PROC_STATUS_MAX)) == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((n = zt_proc_read(path, buf, PROC_STATUS_MAX, NULL)) < 0) {
		r = (int)n;
		goto out;
	}
	/* Lines start at real newlines; the Name line escapes its own. */
	for (line = buf; line != NULL && *line != '\0';
	    line = (end = strchr(line, '\n')) ? end + 1 : NULL) {
		if (strncmp(line, name, name_len) != 0 ||
		    line[name_len] != ':' || line[name_len + 1] != '\t')
			continue;
		line += name_len + 2;
		errno = 0;
		*value = strtol(line, &end, 10);
		if (errno == 0 && end != line && *value >= min &&
		    *value <= max &&
		    (*end == '\t' || *end == '\n' || *end == '\0'))
			r = 0;
		break;
	}
out:
	free(buf);
	return r;
}

int
zt_proc_tgid(pid_t pid, pid_t *tgid)
{
	long v = 0;
	int r = status_field(pid, "Tgid", 1, INT32_MAX, &v);

	*tgid = (pid_t)v;
	return r;
}

int
zt_proc_ppid(pid_t pid, pid_t *ppid)
{
	long v = 0;
	int r = status_field(pid, "PPid", 0, INT32_MAX, &v);

	*ppid = (pid_t)v;
	return r;
}

int
zt_proc_tracer(pid_t pid, pid_t *tracer)
{
	long v = 0;
	int r = status_field(pid, "TracerPid", 0, INT32_MAX, &v);

	*tracer = (pid_t)v;
	return r;
}

int
zt_proc_uid(pid_t pid, uid_t *uid)
{
	long v = 0;
	int r = status_field(pid, "Uid", 0, (long)(uid_t)-2, &v);

	*uid = (uid_t)v;
	return r;
}

/* ------------------------------------------------------------ file keys */

int
zt_file_key_get(int fd, struct zt_file_key *key, bool *complete)
{
	return zt_file_key_get_at(fd, "", AT_EMPTY_PATH, key, complete);
}

int
zt_file_key_get_at(int dirfd, const char *path, int flags,
    struct zt_file_key *key, bool *complete)
{
	const unsigned need = STATX_TYPE | STATX_INO | STATX_SIZE |
	    STATX_MTIME | STATX_CTIME;
	struct statx stx;

	if (statx(dirfd, path, flags | AT_STATX_SYNC_AS_STAT,
	    STATX_BASIC_STATS | STATX_MTIME | STATX_CTIME | STATX_BTIME,
	    &stx) < 0)
		return -errno;
	if (!(stx.stx_mask & STATX_TYPE))
		return -EIO;
	if (S_ISDIR(stx.stx_mode))
		return -EISDIR;
	if (!S_ISREG(stx.stx_mode))
		return -EINVAL;
	memset(key, 0, sizeof(*key));
	key->dev_major = stx.stx_dev_major;
	key->dev_minor = stx.stx_dev_minor;
	key->ino = stx.stx_ino;
	key->size = stx.stx_size;
	key->mtime_sec = stx.stx_mtime.tv_sec;
	key->mtime_nsec = stx.stx_mtime.tv_nsec;
	key->ctime_sec = stx.stx_ctime.tv_sec;
	key->ctime_nsec = stx.stx_ctime.tv_nsec;
	if (stx.stx_mask & STATX_BTIME) {
		key->btime_sec = stx.stx_btime.tv_sec;
		key->btime_nsec = stx.stx_btime.tv_nsec;
	}
	key->uid = stx.stx_uid;
	key->mode = stx.stx_mode;
	*complete = (stx.stx_mask & need) == need;
	return 0;
}

bool
zt_file_key_equal(const struct zt_file_key *a, const struct zt_file_key *b)
{
	return a->dev_major == b->dev_major && a->dev_minor == b->dev_minor &&
	    a->ino == b->ino && a->size == b->size &&
	    a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
	    a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec &&
	    a->btime_sec == b->btime_sec && a->btime_nsec == b->btime_nsec &&
	    a->uid == b->uid && a->mode == b->mode;
}

/*
 * Was the file's last change at least ZT_DIGEST_SETTLE_SECONDS before
 * BEFORE (a time taken before its key was read)?  Any later change then
 * gives a ctime after BEFORE - tick >= the cached one, even on a file
 * system whose timestamps are a tick of up to ZT_DIGEST_SETTLE_SECONDS.
 * ctime, unlike mtime, cannot be set by the file's owner.
 */
static bool
file_key_settled(const struct zt_file_key *key, const struct timespec *before)
{
	int64_t limit = (int64_t)before->tv_sec - ZT_DIGEST_SETTLE_SECONDS;

	return key->ctime_sec < limit || (key->ctime_sec == limit &&
	    key->ctime_nsec <= (uint32_t)before->tv_nsec);
}

/* ------------------------------------------------------------ the cache */

struct entry {
	struct zt_file_key key;
	uint8_t digest[32];
	uint8_t tag[32];
	bool has_tag;
	bool running;		/* hashed from a running image */
	uint32_t chain;		/* next entry in the same bucket */
	uint32_t newer, older;	/* least-recently-used list */
};

struct zt_digests {
	pthread_mutex_t lock;
	struct entry *entries;		/* max_entries, filled from 0 */
	uint32_t *buckets;		/* n_buckets chains, index + 1 */
	size_t max_entries, n_entries;
	size_t bucket_mask;
	uint32_t newest, oldest;
	uint64_t seed;
	struct zt_digest_stats stats;
};

static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 31);
}

static size_t
bucket_of(const struct zt_digests *d, const struct zt_file_key *key)
{
	uint64_t h = d->seed;

	h = mix(h, ((uint64_t)key->dev_major << 32) | key->dev_minor);
	h = mix(h, key->ino);
	h = mix(h, key->size);
	h = mix(h, (uint64_t)key->mtime_sec ^ ((uint64_t)key->mtime_nsec << 32));
	h = mix(h, (uint64_t)key->ctime_sec ^ ((uint64_t)key->ctime_nsec << 32));
	return (size_t)h & d->bucket_mask;
}

static struct entry *
entry_at(struct zt_digests *d, uint32_t link)
{
	return &d->entries[link - 1];
}

/* The entry for KEY (index + 1), or NONE; the lock is held. */
static uint32_t
cache_find(struct zt_digests *d, const struct zt_file_key *key)
{
	uint32_t link;

	if (d->max_entries == 0)
		return NONE;
	for (link = d->buckets[bucket_of(d, key)]; link != NONE;
	    link = entry_at(d, link)->chain)
		if (zt_file_key_equal(&entry_at(d, link)->key, key))
			return link;
	return NONE;
}

static void
lru_unlink(struct zt_digests *d, uint32_t link)
{
	struct entry *e = entry_at(d, link);

	if (e->newer != NONE)
		entry_at(d, e->newer)->older = e->older;
	else
		d->newest = e->older;
	if (e->older != NONE)
		entry_at(d, e->older)->newer = e->newer;
	else
		d->oldest = e->newer;
	e->newer = e->older = NONE;
}

static void
lru_push(struct zt_digests *d, uint32_t link)
{
	struct entry *e = entry_at(d, link);

	e->newer = NONE;
	e->older = d->newest;
	if (d->newest != NONE)
		entry_at(d, d->newest)->newer = link;
	d->newest = link;
	if (d->oldest == NONE)
		d->oldest = link;
}

static void
chain_unlink(struct zt_digests *d, uint32_t link)
{
	uint32_t *at = &d->buckets[bucket_of(d, &entry_at(d, link)->key)];

	while (*at != NONE && *at != link)
		at = &entry_at(d, *at)->chain;
	if (*at == link)
		*at = entry_at(d, link)->chain;
}

/* The lock is held. */
static void
cache_insert(struct zt_digests *d, const struct zt_file_key *key,
    const uint8_t digest[32], bool running)
{
	struct entry *e;
	uint32_t link;
	size_t bucket;

	if (d->max_entries == 0)
		return;
	if ((link = cache_find(d, key)) != NONE) {
		lru_unlink(d, link);
		e = entry_at(d, link);
	} else {
		if (d->n_entries < d->max_entries) {
			link = (uint32_t)++d->n_entries;
		} else {
			/* Full: the least recently used entry makes room. */
			link = d->oldest;
			lru_unlink(d, link);
			chain_unlink(d, link);
			d->stats.evictions++;
		}
		e = entry_at(d, link);
		e->key = *key;
		e->has_tag = false;
		bucket = bucket_of(d, key);
		e->chain = d->buckets[bucket];
		d->buckets[bucket] = link;
	}
	/* The same file's tag vouches for the digest it was set with. */
	if (memcmp(e->digest, digest, 32) != 0)
		e->has_tag = false;
	memcpy(e->digest, digest, 32);
	e->running = running;
	lru_push(d, link);
	d->stats.inserts++;
}

struct zt_digests *
zt_digests_new(size_t max_entries)
{
	struct zt_digests *d;
	size_t n_buckets = 1;

	if (max_entries > ZT_DIGESTS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->max_entries = max_entries;
	while (n_buckets < max_entries)
		n_buckets <<= 1;
	d->bucket_mask = n_buckets - 1;
	/* NONE is 0, so calloc's zero pages are empty chains and entries. */
	d->entries = calloc(max_entries ? max_entries : 1,
	    sizeof(*d->entries));
	d->buckets = calloc(n_buckets, sizeof(*d->buckets));
	if (d->entries == NULL || d->buckets == NULL ||
	    pthread_mutex_init(&d->lock, NULL) != 0) {
		free(d->entries);
		free(d->buckets);
		free(d);
		errno = ENOMEM;
		return NULL;
	}
	if (getrandom(&d->seed, sizeof(d->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(d->seed))
		d->seed = (uint64_t)(uintptr_t)d ^ (uint64_t)time(NULL);
	d->stats.max_entries = max_entries;
	return d;
}

void
zt_digests_free(struct zt_digests *d)
{
	if (d == NULL)
		return;
	pthread_mutex_destroy(&d->lock);
	free(d->entries);
	free(d->buckets);
	free(d);
}

/* SHA-256 of everything FD holds; *TOTAL is how many bytes that was. */
static int
hash_fd(int fd, uint8_t out[32], uint64_t *total)
{
	uint8_t buf[HASH_CHUNK];
	SHA256_CTX ctx;
	uint64_t offset = 0;

	if (SHA256_Init(&ctx) != 1)
		return -EIO;
	for (;;) {
		ssize_t n = zt_read_at(fd, buf, HASH_CHUNK, (off_t)offset);

		if (n < 0)
			return (int)n;
		if (offset + (uint64_t)n > ZT_DIGEST_FILE_MAX)
			return -EFBIG;
		if (n > 0 && SHA256_Update(&ctx, buf, (size_t)n) != 1)
			return -EIO;
		offset += (uint64_t)n;
		if (n < HASH_CHUNK)
			break;
	}
	if (SHA256_Final(out, &ctx) != 1)
		return -EIO;
	*total = offset;
	return 0;
}

/* zt_digests_get_keyed; RUNNING: FD is a running image (an entry made
 * otherwise is no hit, and the one made is marked so). */
static int
get_keyed(struct zt_digests *d, int fd, const struct zt_file_key *key_in,
    bool complete, const struct timespec *before_in, uint8_t out[32],
    bool running)
{
	struct zt_file_key key, after;
	struct timespec before;
	bool complete_after;
	uint64_t total = 0;
	uint32_t link;
	int r;

	if (d == NULL || fd < 0 || key_in == NULL || before_in == NULL ||
	    out == NULL)
		return -EINVAL;
	key = *key_in;
	before = *before_in;
	pthread_mutex_lock(&d->lock);
	if (complete && (link = cache_find(d, &key)) != NONE &&
	    (!running || entry_at(d, link)->running)) {
		memcpy(out, entry_at(d, link)->digest, 32);
		lru_unlink(d, link);
		lru_push(d, link);
		d->stats.hits++;
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	d->stats.misses++;
	pthread_mutex_unlock(&d->lock);
	if (key.size > ZT_DIGEST_FILE_MAX)
		return -EFBIG;
	r = hash_fd(fd, out, &total);
	pthread_mutex_lock(&d->lock);
	d->stats.bytes_read += total;
	if (r == 0 && (r = zt_file_key_get(fd, &after,
	    &complete_after)) == 0) {
		if (!zt_file_key_equal(&key, &after) || total != key.size) {
			d->stats.changed++;
			r = -EAGAIN;
		} else if (complete && complete_after &&
		    file_key_settled(&key, &before))
			cache_insert(d, &key, out, running);
		else
			d->stats.unsettled++;
	}
	pthread_mutex_unlock(&d->lock);
	return r;
}

int
zt_digests_get_keyed(struct zt_digests *d, int fd,
    const struct zt_file_key *key, bool complete,
    const struct timespec *before, uint8_t out[32])
{
	return get_keyed(d, fd, key, complete, before, out, false);
}

bool
zt_digest_cacheable(uid_t uid, mode_t mode, uid_t owner)
{
	return (uid == 0 || uid == owner) && !(mode & (S_IWGRP | S_IWOTH));
}

int
zt_digest_fresh(int fd, uint8_t out[32], struct zt_file_key *key)
{
	struct zt_file_key first, after;
	uint64_t total = 0;
	bool complete;
	int r;

	if (fd < 0 || out == NULL)
		return -EINVAL;
	if ((r = zt_file_key_get(fd, &first, &complete)) < 0)
		return r;
	if (first.size > ZT_DIGEST_FILE_MAX)
		return -EFBIG;
	if ((r = hash_fd(fd, out, &total)) < 0 ||
	    (r = zt_file_key_get(fd, &after, &complete)) < 0)
		return r;
	if (!zt_file_key_equal(&first, &after) || total != first.size)
		return -EAGAIN;		/* changed while it was read */
	if (key != NULL)
		*key = first;
	return 0;
}

/* zt_digests_get, zt_digests_get_owned: OWNER NULL for no owner rule. */
static int
get_fd(struct zt_digests *d, int fd, const uid_t *owner, bool running,
    uint8_t out[32], struct zt_file_key *key_out)
{
	struct zt_file_key key;
	struct timespec before;
	bool complete;
	int r;

	if (d == NULL || fd < 0 || out == NULL)
		return -EINVAL;
	clock_gettime(CLOCK_REALTIME, &before);
	if ((r = zt_file_key_get(fd, &key, &complete)) < 0)
		return r;
	if (owner != NULL && !zt_digest_cacheable(key.uid, key.mode, *owner))
		return zt_digest_fresh(fd, out, key_out);
	if (key_out != NULL)
		*key_out = key;
	return get_keyed(d, fd, &key, complete, &before, out, running);
}

int
zt_digests_get(struct zt_digests *d, int fd, uint8_t out[32],
    struct zt_file_key *key_out)
{
	return get_fd(d, fd, NULL, false, out, key_out);
}

int
zt_digests_get_owned(struct zt_digests *d, int fd, uid_t owner, bool running,
    uint8_t out[32], struct zt_file_key *key_out)
{
	return get_fd(d, fd, &owner, running, out, key_out);
}

int
zt_digests_get_running(struct zt_digests *d, int fd, uid_t owner,
    uint8_t out[32], struct zt_file_key *key_out)
{
	return zt_digests_get_owned(d, fd, owner, true, out, key_out);
}

bool
zt_digests_find_running(struct zt_digests *d, const struct zt_file_key *key,
    bool complete, uid_t owner, uint8_t out[32])
{
	uint32_t link;
	bool hit = false;

	if (d == NULL || key == NULL || out == NULL || !complete ||
	    !zt_digest_cacheable(key->uid, key->mode, owner))
		return false;
	pthread_mutex_lock(&d->lock);
	if ((link = cache_find(d, key)) != NONE &&
	    entry_at(d, link)->running) {
		memcpy(out, entry_at(d, link)->digest, 32);
		lru_unlink(d, link);
		lru_push(d, link);
		d->stats.hits++;
		hit = true;
	}
	pthread_mutex_unlock(&d->lock);
	return hit;
}

void
zt_digests_set_tag(struct zt_digests *d, const struct zt_file_key *key,
    const uint8_t tag[32])
{
	uint32_t link;

	pthread_mutex_lock(&d->lock);
	if ((link = cache_find(d, key)) != NONE) {
		memcpy(entry_at(d, link)->tag, tag, 32);
		entry_at(d, link)->has_tag = true;
	}
	pthread_mutex_unlock(&d->lock);
}

bool
zt_digests_has_tag(struct zt_digests *d, const struct zt_file_key *key,
    const uint8_t tag[32])
{
	uint32_t link;
	bool found;

	pthread_mutex_lock(&d->lock);
	link = cache_find(d, key);
	/* Tags stand for secrets no more than digests do: plain compare. */
	found = link != NONE && entry_at(d, link)->has_tag &&
	    memcmp(entry_at(d, link)->tag, tag, 32) == 0;
	pthread_mutex_unlock(&d->lock);
	return found;
}

void
zt_digests_stats(struct zt_digests *d, struct zt_digest_stats *stats)
{
	pthread_mutex_lock(&d->lock);
	*stats = d->stats;
	stats->entries = d->n_entries;
	pthread_mutex_unlock(&d->lock);
}

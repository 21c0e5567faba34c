/* SPDX-License-Identifier: Apache-2.0 */
/* Agent identity: cached file digests, publisher signatures, live processes. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest_agent.h"
#include "digest.h"
#include "zt_err.h"
#include "zt_log.h"

#define HASH_CHUNK (1024 * 1024)	/* pread size while hashing */
#define SIGNATURE_FILE_MAX 1024
#define KEY_FILE_MAX (64 * 1024)	/* a PEM public key is < 1 KiB */
#define SHEBANG_MAX 256			/* the kernel's BINPRM_BUF_SIZE */
#define PROC_STATUS_MAX (64 * 1024)
#define CMDLINE_MAX (3 * PATH_MAX)	/* interpreter, argument, script */
#define SHOWN_MAX 64			/* an escaped path inside a reason */
#define ED25519_SIGNATURE_SIZE 64
#define NONE 0u				/* cache links hold index + 1 */

/* What statx says about a file's identity and version. */
struct file_key {
	uint64_t ino, size;
	int64_t mtime_sec, ctime_sec, btime_sec;
	uint32_t dev_major, dev_minor;
	uint32_t mtime_nsec, ctime_nsec, btime_nsec;
};

struct entry {
	struct file_key key;
	uint8_t digest[32];
	uint8_t verified[32];	/* tag of the last signature found good */
	bool has_verified;
	uint32_t chain;		/* next entry in the same bucket */
	uint32_t newer, older;	/* least-recently-used list */
};

struct identity {
	struct entry *entries;		/* max_entries, filled from 0 */
	uint32_t *buckets;		/* n_buckets chains, index + 1 */
	size_t max_entries, n_entries;
	size_t bucket_mask;
	uint32_t newest, oldest;
	uint64_t seed;			/* so a local user cannot pick chains */
	EVP_MD *sha256;
	uint8_t *buffer;		/* HASH_CHUNK, on the first miss */
	struct identity_stats stats;
};

/* The first line of a script, parsed the way the kernel does. */
struct shebang {
	bool script;
	char interpreter[SHEBANG_MAX];
	bool has_argument;
	char argument[SHEBANG_MAX];
};

/* What a file check learnt, for the process check. */
struct file_facts {
	struct stat st;
	struct shebang shebang;
	struct stat interpreter;	/* when shebang.script */
};

static int
fail(char *reason, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Say why in REASON and return CODE. */
static int
fail(char *reason, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, IDENTITY_REASON_MAX, fmt, ap);
	va_end(ap);
	return code;
}

/* PATH as a quoted, escaped token short enough for a reason. */
static const char *
show(char shown[SHOWN_MAX], const char *path)
{
	return zt_escape(shown, SHOWN_MAX, path, strlen(path));
}

/* Read up to LEN bytes at OFFSET; short only at end of file. */
static ssize_t
read_at(int fd, void *buf, size_t len, off_t offset)
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

/* Read a /proc file (no pread there) of at most SIZE - 1 bytes, NUL ended. */
static ssize_t
read_proc(const char *path, char *buf, size_t size)
{
	size_t done = 0;
	int fd, r = 0;

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
	close(fd);
	buf[done] = '\0';
	return r < 0 ? r : (ssize_t)done;
}

/* ------------------------------------------------------------ file keys */

/*
 * The key of the regular file at FD.  *COMPLETE is false when the file
 * system did not report every field the key needs: such a file is never
 * cached.
 */
static int
file_key_get(int fd, struct file_key *key, bool *complete)
{
	const unsigned need = STATX_TYPE | STATX_INO | STATX_SIZE |
	    STATX_MTIME | STATX_CTIME;
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT,
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
	*complete = (stx.stx_mask & need) == need;
	return 0;
}

static bool
file_key_equal(const struct file_key *a, const struct file_key *b)
{
	return a->dev_major == b->dev_major && a->dev_minor == b->dev_minor &&
	    a->ino == b->ino && a->size == b->size &&
	    a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
	    a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec &&
	    a->btime_sec == b->btime_sec && a->btime_nsec == b->btime_nsec;
}

/*
 * Was the file's last change at least IDENTITY_SETTLE_SECONDS before
 * BEFORE (a time taken before its key was read)?  Any later change then
 * gives a ctime after BEFORE - tick >= the cached one, even on a file
 * system whose timestamps are a tick of up to IDENTITY_SETTLE_SECONDS.
 * ctime, unlike mtime, cannot be set by the file's owner.
 */
static bool
file_key_settled(const struct file_key *key, const struct timespec *before)
{
	int64_t limit = (int64_t)before->tv_sec - IDENTITY_SETTLE_SECONDS;

	return key->ctime_sec < limit || (key->ctime_sec == limit &&
	    key->ctime_nsec <= (uint32_t)before->tv_nsec);
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* ------------------------------------------------------------ the cache */

static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 31);
}

static size_t
bucket_of(const struct identity *identity, const struct file_key *key)
{
	uint64_t h = identity->seed;

	h = mix(h, ((uint64_t)key->dev_major << 32) | key->dev_minor);
	h = mix(h, key->ino);
	h = mix(h, key->size);
	h = mix(h, (uint64_t)key->mtime_sec ^ ((uint64_t)key->mtime_nsec << 32));
	h = mix(h, (uint64_t)key->ctime_sec ^ ((uint64_t)key->ctime_nsec << 32));
	return (size_t)h & identity->bucket_mask;
}

static struct entry *
entry_at(struct identity *identity, uint32_t link)
{
	return &identity->entries[link - 1];
}

/* The entry for KEY (index + 1), or NONE. */
static uint32_t
cache_find(struct identity *identity, const struct file_key *key)
{
	uint32_t link;

	if (identity->max_entries == 0)
		return NONE;
	for (link = identity->buckets[bucket_of(identity, key)]; link != NONE;
	    link = entry_at(identity, link)->chain)
		if (file_key_equal(&entry_at(identity, link)->key, key))
			return link;
	return NONE;
}

static void
lru_unlink(struct identity *identity, uint32_t link)
{
	struct entry *e = entry_at(identity, link);

	if (e->newer != NONE)
		entry_at(identity, e->newer)->older = e->older;
	else
		identity->newest = e->older;
	if (e->older != NONE)
		entry_at(identity, e->older)->newer = e->newer;
	else
		identity->oldest = e->newer;
	e->newer = e->older = NONE;
}

static void
lru_push(struct identity *identity, uint32_t link)
{
	struct entry *e = entry_at(identity, link);

	e->newer = NONE;
	e->older = identity->newest;
	if (identity->newest != NONE)
		entry_at(identity, identity->newest)->newer = link;
	identity->newest = link;
	if (identity->oldest == NONE)
		identity->oldest = link;
}

static void
chain_unlink(struct identity *identity, uint32_t link)
{
	uint32_t *at = &identity->buckets[bucket_of(identity,
	    &entry_at(identity, link)->key)];

	while (*at != NONE && *at != link)
		at = &entry_at(identity, *at)->chain;
	if (*at == link)
		*at = entry_at(identity, link)->chain;
}

static void
cache_insert(struct identity *identity, const struct file_key *key,
    const uint8_t digest[32])
{
	struct entry *e;
	uint32_t link;
	size_t bucket;

	if (identity->max_entries == 0)
		return;
	if ((link = cache_find(identity, key)) != NONE) {
		lru_unlink(identity, link);
		e = entry_at(identity, link);
	} else {
		if (identity->n_entries < identity->max_entries) {
			link = (uint32_t)++identity->n_entries;
		} else {
			/* Full: the least recently used entry makes room. */
			link = identity->oldest;
			lru_unlink(identity, link);
			chain_unlink(identity, link);
			identity->stats.evictions++;
		}
		e = entry_at(identity, link);
		e->key = *key;
		bucket = bucket_of(identity, key);
		e->chain = identity->buckets[bucket];
		identity->buckets[bucket] = link;
	}
	memcpy(e->digest, digest, 32);
	e->has_verified = false;
	lru_push(identity, link);
	identity->stats.inserts++;
}

/* Remember that the file of KEY has a good signature with tag TAG. */
static void
cache_mark_verified(struct identity *identity, const struct file_key *key,
    const uint8_t tag[32])
{
	uint32_t link = cache_find(identity, key);

	if (link != NONE) {
		memcpy(entry_at(identity, link)->verified, tag, 32);
		entry_at(identity, link)->has_verified = true;
	}
}

static bool
cache_is_verified(struct identity *identity, const struct file_key *key,
    const uint8_t tag[32])
{
	uint32_t link = cache_find(identity, key);

	return link != NONE && entry_at(identity, link)->has_verified &&
	    CRYPTO_memcmp(entry_at(identity, link)->verified, tag, 32) == 0;
}

struct identity *
identity_new(size_t max_entries)
{
	struct identity *identity;
	size_t n_buckets = 1;

	if (max_entries > IDENTITY_CACHE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	identity = calloc(1, sizeof(*identity));
	if (identity == NULL)
		return NULL;
	identity->max_entries = max_entries;
	while (n_buckets < max_entries)
		n_buckets <<= 1;
	identity->bucket_mask = n_buckets - 1;
	/* NONE is 0, so calloc's zero pages are empty chains and entries. */
	identity->entries = calloc(max_entries ? max_entries : 1,
	    sizeof(*identity->entries));
	identity->buckets = calloc(n_buckets, sizeof(*identity->buckets));
	identity->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (identity->entries == NULL || identity->buckets == NULL ||
	    identity->sha256 == NULL) {
		identity_free(identity);
		errno = ENOMEM;
		return NULL;
	}
	if (getrandom(&identity->seed, sizeof(identity->seed),
	    GRND_NONBLOCK) != (ssize_t)sizeof(identity->seed))
		identity->seed = (uint64_t)(uintptr_t)identity ^
		    (uint64_t)time(NULL);
	identity->stats.max_entries = max_entries;
	return identity;
}

void
identity_free(struct identity *identity)
{
	if (identity == NULL)
		return;
	free(identity->entries);
	free(identity->buckets);
	free(identity->buffer);
	EVP_MD_free(identity->sha256);
	free(identity);
}

void
identity_get_stats(const struct identity *identity,
    struct identity_stats *stats)
{
	*stats = identity->stats;
	stats->entries = identity->n_entries;
}

/* ------------------------------------------------------------ digests */

/* SHA-256 of everything FD holds; *TOTAL is how many bytes that was. */
static int
hash_fd(struct identity *identity, int fd, uint8_t out[32], uint64_t *total)
{
	EVP_MD_CTX *ctx;
	uint64_t offset = 0;
	int r = 0;

	if (identity->buffer == NULL &&
	    (identity->buffer = malloc(HASH_CHUNK)) == NULL)
		return -ENOMEM;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, identity->sha256, NULL) != 1) {
		r = -EIO;
		goto out;
	}
	for (;;) {
		ssize_t n = read_at(fd, identity->buffer, HASH_CHUNK,
		    (off_t)offset);

		if (n < 0) {
			r = (int)n;
			goto out;
		}
		if (offset + (uint64_t)n > IDENTITY_FILE_MAX) {
			r = -EFBIG;
			goto out;
		}
		identity->stats.bytes_read += (uint64_t)n;
		if (n > 0 && EVP_DigestUpdate(ctx, identity->buffer,
		    (size_t)n) != 1) {
			r = -EIO;
			goto out;
		}
		offset += (uint64_t)n;
		if (n < HASH_CHUNK)
			break;
	}
	if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		r = -EIO;
	*total = offset;
out:
	if (r < 0)
		ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return r;
}

/* The digest of FD through the cache, and the key it belongs to. */
static int
cached_digest(struct identity *identity, int fd, uint8_t out[32],
    struct file_key *key)
{
	struct file_key after;
	struct timespec before;
	bool complete, complete_after;
	uint64_t total = 0;
	uint32_t link;
	int r;

	clock_gettime(CLOCK_REALTIME, &before);
	if ((r = file_key_get(fd, key, &complete)) < 0)
		return r;
	if (complete && (link = cache_find(identity, key)) != NONE) {
		memcpy(out, entry_at(identity, link)->digest, 32);
		lru_unlink(identity, link);
		lru_push(identity, link);
		identity->stats.hits++;
		return 0;
	}
	identity->stats.misses++;
	if (key->size > IDENTITY_FILE_MAX)
		return -EFBIG;
	if ((r = hash_fd(identity, fd, out, &total)) < 0)
		return r;
	if ((r = file_key_get(fd, &after, &complete_after)) < 0)
		return r;
	if (!file_key_equal(key, &after) || total != key->size) {
		identity->stats.changed++;
		return -EAGAIN;
	}
	if (complete && complete_after && file_key_settled(key, &before))
		cache_insert(identity, key, out);
	else
		identity->stats.unsettled++;
	return 0;
}

int
identity_digest_fd(struct identity *identity, int fd, uint8_t out[32])
{
	struct file_key key;

	if (identity == NULL || fd < 0 || out == NULL)
		return -EINVAL;
	return cached_digest(identity, fd, out, &key);
}

static bool
digest_pinned(const struct agent *agent, const uint8_t digest[32])
{
	bool found = false;

	/* Every entry is compared, in constant time each. */
	for (size_t i = 0; i < agent->n_sha256; i++)
		found |= CRYPTO_memcmp(agent->sha256[i], digest, 32) == 0;
	return found;
}

/* Why a digest could not be had, for the file shown as SHOWN. */
static int
fail_digest(char *reason, int r, const char *shown)
{
	if (r == -EAGAIN)
		return fail(reason, r, "%s changed while it was read", shown);
	if (r == -EFBIG)
		return fail(reason, r, "%s is larger than %llu MiB", shown,
		    IDENTITY_FILE_MAX >> 20);
	if (r == -EINVAL || r == -EISDIR)
		return fail(reason, ZT_E_PERM, "%s is not a regular file",
		    shown);
	return fail(reason, r, "cannot read %s: %s", shown, zt_strerror(r));
}

/* ------------------------------------------------------------ scripts */

/*
 * Parse the "#!" line at the start of FD as binfmt_script does: the
 * interpreter is the first word after "#!" (blanks are spaces and tabs),
 * the rest of the line, trimmed, is one optional argument.
 */
static int
read_shebang(int fd, const char *shown, struct shebang *sb, char *reason)
{
	char buf[SHEBANG_MAX];
	const char *p, *end, *word;
	bool whole_line;
	ssize_t n;

	memset(sb, 0, sizeof(*sb));
	if ((n = read_at(fd, buf, sizeof(buf) - 1, 0)) < 0)
		return fail(reason, (int)n, "cannot read %s: %s", shown,
		    zt_strerror((int)n));
	buf[n] = '\0';
	if (n < 2 || buf[0] != '#' || buf[1] != '!')
		return 0;
	sb->script = true;
	end = buf + strlen(buf);	/* a NUL ends the line too */
	if ((p = memchr(buf, '\n', (size_t)(end - buf))) != NULL)
		end = p;
	whole_line = p != NULL || end < buf + n || (size_t)n < sizeof(buf) - 1;
	while (end > buf + 2 && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (p = buf + 2; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	for (word = p; p < end && *p != ' ' && *p != '\t'; p++)
		;
	if (p == word)
		return fail(reason, ZT_E_PERM,
		    "script %s names no interpreter", shown);
	if (p == end && !whole_line)
		return fail(reason, ZT_E_PERM,
		    "the #! line of script %s is too long", shown);
	if (*word != '/')
		return fail(reason, ZT_E_PERM, "the interpreter of script %s "
		    "is not an absolute path", shown);
	memcpy(sb->interpreter, word, (size_t)(p - word));
	for (; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	if (p < end) {
		sb->has_argument = true;
		memcpy(sb->argument, p, (size_t)(end - p));
	}
	return 0;
}

/*
 * The digest of FD and its "#!" line, of the same version of the file:
 * the key read before the line is the one the digest belongs to.
 */
static int
digest_and_shebang(struct identity *identity, int fd, const char *shown,
    uint8_t digest[32], struct file_key *key, struct shebang *sb,
    char *reason)
{
	struct file_key first;
	bool complete;
	int r;

	if ((r = file_key_get(fd, &first, &complete)) < 0)
		return fail_digest(reason, r, shown);
	if ((r = read_shebang(fd, shown, sb, reason)) < 0)
		return r;
	if ((r = cached_digest(identity, fd, digest, key)) < 0)
		return fail_digest(reason, r, shown);
	if (!file_key_equal(&first, key))
		return fail_digest(reason, -EAGAIN, shown);
	return 0;
}

/* The interpreter of the script shown as SCRIPT must be pinned itself. */
static int
check_interpreter(struct identity *identity, const struct agent *agent,
    const char *interpreter, const char *script, struct stat *st,
    char *reason)
{
	char shown[SHOWN_MAX];
	struct shebang sb;
	struct file_key key;
	uint8_t digest[32];
	int fd, r;

	show(shown, interpreter);
	fd = open(interpreter, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		return fail(reason, r, "cannot open interpreter %s of script "
		    "%s: %s", shown, script, zt_strerror(r));
	}
	if (fstat(fd, st) < 0) {
		r = fail(reason, -errno, "cannot stat interpreter %s: %s",
		    shown, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		r = fail(reason, ZT_E_PERM, "interpreter %s of script %s is "
		    "not a regular file", shown, script);
		goto out;
	}
	if ((r = digest_and_shebang(identity, fd, shown, digest, &key, &sb,
	    reason)) < 0)
		goto out;
	if (!digest_pinned(agent, digest)) {
		r = fail(reason, ZT_E_PERM, "interpreter %s of script %s is "
		    "not pinned", shown, script);
		goto out;
	}
	/* The kernel would run its interpreter in turn: unpinned. */
	if (sb.script)
		r = fail(reason, ZT_E_PERM, "interpreter %s of script %s is "
		    "itself a script", shown, script);
out:
	close(fd);
	return r;
}

/* ------------------------------------------------------------ signatures */

/*
 * Read the regular file at PATH (at most MAX bytes) into a new buffer.
 * Returns 0, -errno, -EINVAL (not a regular file) or -EFBIG.
 */
static int
read_small_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if (st.st_size < 0 || (size_t)st.st_size > max) {
		r = -EFBIG;
		goto out;
	}
	/* One more byte than allowed shows a file that grew meanwhile. */
	if ((buf = malloc(max + 1)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if ((n = read_at(fd, buf, max + 1, 0)) < 0 || (size_t)n > max) {
		r = n < 0 ? (int)n : -EFBIG;
		free(buf);
		goto out;
	}
	*out = buf;
	*len = (size_t)n;
	r = 0;
out:
	close(fd);
	return r;
}

/* The publisher NAME's key: Ed25519 or EC on P-256, nothing else. */
static int
load_publisher_key(const struct ztd_config *config, const char *name,
    EVP_PKEY **out, char *reason)
{
	const struct publisher *publisher = NULL;
	char shown[SHOWN_MAX], group[64];
	uint8_t *pem = NULL;
	EVP_PKEY *pkey = NULL;
	size_t len = 0;
	BIO *bio;
	int r;

	for (size_t i = 0; i < config->n_publishers; i++)
		if (strcmp(config->publishers[i].name, name) == 0)
			publisher = &config->publishers[i];
	if (publisher == NULL)
		return fail(reason, -ENOKEY, "publisher %.64s is not defined",
		    name);
	show(shown, publisher->key);
	if ((r = read_small_file(publisher->key, KEY_FILE_MAX, &pem,
	    &len)) < 0)
		return fail(reason, r, "publisher %s key %s: %s", name, shown,
		    r == -EINVAL ? "not a regular file" : zt_strerror(r));
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		free(pem);
		return fail(reason, -ENOMEM, "out of memory");
	}
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	free(pem);
	ERR_clear_error();
	if (pkey == NULL)
		return fail(reason, -EBADMSG, "publisher %s key %s is not a "
		    "PEM public key", name, shown);
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_ED25519:
		*out = pkey;
		return 0;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group),
		    NULL) != 1)
			snprintf(group, sizeof(group), "an unnamed curve");
		if (strcmp(group, "prime256v1") == 0 ||
		    strcmp(group, "P-256") == 0) {
			*out = pkey;
			return 0;
		}
		r = fail(reason, -EKEYREJECTED, "publisher %s key %s is EC on "
		    "%.40s: only P-256 is accepted", name, shown, group);
		break;
	default:
		/* OpenSSL's own names: "RSA", "DSA", "ED448", "X25519"... */
		r = fail(reason, -EKEYREJECTED, "publisher %s key %s is %.16s: "
		    "only Ed25519 and ECDSA P-256 are accepted", name, shown,
		    EVP_PKEY_get0_type_name(pkey) != NULL ?
		    EVP_PKEY_get0_type_name(pkey) : "of another type");
		break;
	}
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	return r;
}

/*
 * What a good verification is remembered by: the key and the signature.
 * With the file's key (which stands for its content), that fixes the
 * outcome, so a later check of the same three needs no verification.
 */
static int
signature_tag(struct identity *identity, EVP_PKEY *pkey,
    const uint8_t *signature, size_t signature_len, uint8_t tag[32])
{
	unsigned char *der = NULL;
	EVP_MD_CTX *ctx;
	int der_len, r = -EIO;

	if ((der_len = i2d_PUBKEY(pkey, &der)) <= 0)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if (EVP_DigestInit_ex(ctx, identity->sha256, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, "ztgate signature tag", 20) == 1 &&
	    EVP_DigestUpdate(ctx, der, (size_t)der_len) == 1 &&
	    EVP_DigestUpdate(ctx, signature, signature_len) == 1 &&
	    EVP_DigestFinal_ex(ctx, tag, NULL) == 1)
		r = 0;
	EVP_MD_CTX_free(ctx);
out:
	OPENSSL_free(der);
	ERR_clear_error();
	return r;
}

/*
 * The whole of FD, whose key was KEY, in a new buffer: Ed25519 signs the
 * message itself, in one pass.  -EAGAIN when it changed meanwhile.
 */
static int
read_whole(struct identity *identity, int fd, const struct file_key *key,
    uint8_t **out)
{
	struct file_key after;
	bool complete;
	uint8_t *buf, extra;
	ssize_t n;
	int r;

	if (key->size > IDENTITY_ED25519_FILE_MAX)
		return -EFBIG;
	if ((buf = malloc(key->size ? (size_t)key->size : 1)) == NULL)
		return -ENOMEM;
	if ((n = read_at(fd, buf, (size_t)key->size, 0)) < 0) {
		r = (int)n;
		goto fail;
	}
	identity->stats.bytes_read += (uint64_t)n;
	if ((uint64_t)n != key->size || read_at(fd, &extra, 1,
	    (off_t)key->size) != 0) {
		r = -EAGAIN;
		goto fail;
	}
	if ((r = file_key_get(fd, &after, &complete)) < 0)
		goto fail;
	if (!file_key_equal(key, &after)) {
		r = -EAGAIN;
		goto fail;
	}
	*out = buf;
	return 0;
fail:
	free(buf);
	return r;
}

/* Is SIGNATURE good for the file at FD (KEY, DIGEST) under PKEY? */
static int
verify(struct identity *identity, EVP_PKEY *pkey, int fd,
    const struct file_key *key, const uint8_t digest[32],
    const uint8_t *signature, size_t signature_len, bool *good)
{
	EVP_MD_CTX *md_ctx = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t *content = NULL;
	int r = 0;

	*good = false;
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
		if (signature_len != ED25519_SIGNATURE_SIZE)
			return 0;
		if ((r = read_whole(identity, fd, key, &content)) < 0)
			return r;
		if ((md_ctx = EVP_MD_CTX_new()) == NULL) {
			r = -ENOMEM;
			goto out;
		}
		/* No digest: Ed25519 hashes the message itself. */
		*good = EVP_DigestVerifyInit(md_ctx, NULL, NULL, NULL,
		    pkey) == 1 && EVP_DigestVerify(md_ctx, signature,
		    signature_len, content, (size_t)key->size) == 1;
	} else {
		/*
		 * ECDSA signs SHA-256 of the file, which is DIGEST: the same
		 * as EVP_DigestVerify with SHA-256 over the content, without
		 * reading the file again.
		 */
		if ((ctx = EVP_PKEY_CTX_new(pkey, NULL)) == NULL) {
			r = -ENOMEM;
			goto out;
		}
		*good = EVP_PKEY_verify_init(ctx) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(ctx, identity->sha256) == 1 &&
		    EVP_PKEY_verify(ctx, signature, signature_len, digest,
		    32) == 1;
	}
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md_ctx);
	EVP_PKEY_CTX_free(ctx);
	free(content);
	return r;
}

/*
 * The file at FD (KEY, DIGEST; shown as SHOWN) is not pinned: is
 * SIGNED_PATH.sig a good signature of it by AGENT's publisher?
 */
static int
check_signature(struct identity *identity, const struct ztd_config *config,
    const struct agent *agent, int fd, const struct file_key *key,
    const uint8_t digest[32], const char *signed_path, const char *shown,
    char *reason)
{
	char sig_path[PATH_MAX], sig_shown[SHOWN_MAX];
	uint8_t *signature = NULL, tag[32];
	EVP_PKEY *pkey = NULL;
	size_t signature_len = 0;
	bool good;
	int r;

	if ((size_t)snprintf(sig_path, sizeof(sig_path), "%s.sig",
	    signed_path) >= sizeof(sig_path))
		return fail(reason, -ENAMETOOLONG, "%s: the path of its "
		    "signature is too long", shown);
	show(sig_shown, sig_path);
	if ((r = load_publisher_key(config, agent->publisher, &pkey,
	    reason)) < 0)
		return r;
	if ((r = read_small_file(sig_path, SIGNATURE_FILE_MAX, &signature,
	    &signature_len)) < 0) {
		if (r == -ENOENT)
			r = fail(reason, ZT_E_PERM, "%s is not pinned and has "
			    "no signature %s", shown, sig_shown);
		else if (r == -EFBIG || r == -EINVAL)
			r = fail(reason, ZT_E_PERM, "signature %s is %s",
			    sig_shown, r == -EFBIG ? "larger than 1 KiB" :
			    "not a regular file");
		else
			r = fail(reason, r, "cannot read signature %s: %s",
			    sig_shown, zt_strerror(r));
		goto out;
	}
	if ((r = signature_tag(identity, pkey, signature, signature_len,
	    tag)) < 0) {
		r = fail(reason, r, "cannot hash signature %s", sig_shown);
		goto out;
	}
	if (cache_is_verified(identity, key, tag)) {
		identity->stats.signature_hits++;
		goto out;
	}
	if ((r = verify(identity, pkey, fd, key, digest, signature,
	    signature_len, &good)) < 0) {
		if (r == -EFBIG)
			r = fail(reason, r, "%s is larger than %llu MiB, too "
			    "large to check an Ed25519 signature", shown,
			    IDENTITY_ED25519_FILE_MAX >> 20);
		else
			r = fail_digest(reason, r, shown);
		goto out;
	}
	if (!good) {
		r = fail(reason, ZT_E_PERM, "signature %s is not a good "
		    "signature by publisher %s", sig_shown, agent->publisher);
		goto out;
	}
	cache_mark_verified(identity, key, tag);
out:
	free(signature);
	EVP_PKEY_free(pkey);
	return r;
}

/* ------------------------------------------------------------ files */

/*
 * The shared check: is the file open at FD the binary of AGENT?  PATH is
 * where it was found (reasons; PATH.sig is its signature).
 */
static int
check_fd(struct identity *identity, const struct ztd_config *config,
    const struct agent *agent, int fd, const char *path,
    struct file_facts *facts, char *reason)
{
	char shown[SHOWN_MAX], hex[17];
	struct file_key key;
	uint8_t digest[32];
	int r;

	show(shown, path);
	if (fstat(fd, &facts->st) < 0)
		return fail(reason, -errno, "cannot stat %s: %s", shown,
		    strerror(errno));
	if (!S_ISREG(facts->st.st_mode))
		return fail(reason, ZT_E_PERM, "%s is not a regular file",
		    shown);
	if ((r = digest_and_shebang(identity, fd, shown, digest, &key,
	    &facts->shebang, reason)) < 0)
		return r;
	if (!digest_pinned(agent, digest)) {
		if (agent->publisher == NULL) {
			digest_hex(digest, 8, hex);
			return fail(reason, ZT_E_PERM, "%s (sha256 %s...) is "
			    "not pinned for agent %s", shown, hex,
			    agent->name);
		}
		if ((r = check_signature(identity, config, agent, fd, &key,
		    digest, path, shown, reason)) < 0)
			return r;
	}
	if (facts->shebang.script)
		return check_interpreter(identity, agent,
		    facts->shebang.interpreter, shown, &facts->interpreter,
		    reason);
	return 0;
}

int
identity_check_file(struct identity *identity,
    const struct ztd_config *config, const struct agent *agent,
    const char *path, char *reason)
{
	struct file_facts facts;
	char shown[SHOWN_MAX];
	int fd, r;

	if (reason == NULL)
		return -EINVAL;
	reason[0] = '\0';
	if (identity == NULL || config == NULL || agent == NULL ||
	    path == NULL)
		return fail(reason, -EINVAL, "invalid arguments");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		return fail(reason, r, "cannot open %s: %s", show(shown, path),
		    zt_strerror(r));
	}
	r = check_fd(identity, config, agent, fd, path, &facts, reason);
	close(fd);
	if (r == 0)
		reason[0] = '\0';
	return r;
}

/* ------------------------------------------------------------ processes */

int
identity_pidfd_pid(int pidfd, long *pid)
{
	char path[64], buf[4096], *line, *end;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	if ((n = read_proc(path, buf, sizeof(buf))) < 0)
		return (int)n;
	for (line = buf; line != NULL && *line != '\0';
	    line = (end = strchr(line, '\n')) ? end + 1 : NULL) {
		if (strncmp(line, "Pid:", 4) != 0)
			continue;
		errno = 0;
		*pid = strtol(line + 4, &end, 10);
		if (errno != 0 || end == line + 4)
			return -EIO;
		return 0;
	}
	return -EBADF;		/* not a pidfd */
}

/* 1 while PIDFD's process exists (a zombie too), 0 once gone, or -errno. */
static int
process_alive(int pidfd)
{
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0)
		return 1;
	if (errno == ESRCH)
		return 0;
	/* Permission is checked after existence: EPERM means it is there. */
	if (errno == EPERM)
		return 1;
	return -errno;
}

/* The real uid, from the "Uid:\treal\teffective\tsaved\tfs" line. */
static int
read_real_uid(pid_t pid, uid_t *uid)
{
	char path[64], *buf, *line, *end;
	unsigned long value;
	ssize_t n;
	int r = -EIO;

	if ((buf = malloc(PROC_STATUS_MAX)) == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((n = read_proc(path, buf, PROC_STATUS_MAX)) < 0) {
		r = (int)n;
		goto out;
	}
	/* Lines start at real newlines; the Name line escapes its own. */
	for (line = buf; line != NULL && *line != '\0';
	    line = (end = strchr(line, '\n')) ? end + 1 : NULL) {
		if (strncmp(line, "Uid:\t", 5) != 0)
			continue;
		errno = 0;
		value = strtoul(line + 5, &end, 10);
		if (errno == 0 && end != line + 5 && *end == '\t' &&
		    value <= (uid_t)-1 - 1) {
			*uid = (uid_t)value;
			r = 0;
		}
		break;
	}
out:
	free(buf);
	return r;
}

/*
 * The script a script agent's process runs: argv[1] (argv[2] after the
 * "#!" line's argument, which must be there verbatim) must be the text
 * agent->binary and still name the file BINARY.
 */
static int
check_script_argument(pid_t pid, const char *binary,
    const struct shebang *sb, const struct stat *script, char *reason)
{
	char path[64], shown[SHOWN_MAX], *buf, *arg[3], *p, *end;
	struct stat st;
	size_t want = sb->has_argument ? 3 : 2, n_args = 0;
	ssize_t n;
	int fd, r;

	show(shown, binary);
	if ((buf = malloc(CMDLINE_MAX)) == NULL)
		return fail(reason, -ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((n = read_proc(path, buf, CMDLINE_MAX)) < 0) {
		r = fail(reason, (int)n, "cannot read the command line of "
		    "process %d: %s", (int)pid, zt_strerror((int)n));
		goto out;
	}
	/* NUL-separated; the read ended in a NUL of our own. */
	for (p = buf, end = buf + n; p < end && n_args < want;
	    p += strlen(p) + 1)
		arg[n_args++] = p;
	if (n_args < want) {
		r = fail(reason, ZT_E_PERM, "process %d does not run script "
		    "%s: too few arguments", (int)pid, shown);
		goto out;
	}
	if (sb->has_argument && strcmp(arg[1], sb->argument) != 0) {
		r = fail(reason, ZT_E_PERM, "process %d does not run script "
		    "%s: its first argument is not the #! line's", (int)pid,
		    shown);
		goto out;
	}
	if (strcmp(arg[want - 1], binary) != 0) {
		char arg_shown[SHOWN_MAX];

		r = fail(reason, ZT_E_PERM, "process %d runs script %s, not "
		    "%s", (int)pid, show(arg_shown, arg[want - 1]), shown);
		goto out;
	}
	fd = open(binary, O_PATH | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = fail(reason, -errno, "cannot stat %s: %s", shown,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	r = same_file(&st, script) ? 0 : fail(reason, ZT_E_PERM,
	    "script %s was replaced during the check", shown);
out:
	free(buf);
	return r;
}

/* Everything identity_check_process reads, before the liveness check. */
static int
check_process(struct identity *identity, const struct ztd_config *config,
    const struct agent *agent, pid_t pid, uid_t *uid, char *reason)
{
	char path[64], shown[SHOWN_MAX];
	struct file_facts facts;
	struct stat exe_st, bin_st, again_st;
	struct shebang sb;
	int exe_fd = -1, bin_fd = -1, again_fd, r;

	show(shown, agent->binary);
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	/* Opening (not readlink) gives the file executed, even if renamed. */
	exe_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (exe_fd < 0 || fstat(exe_fd, &exe_st) < 0) {
		r = -errno;
		if (r == -ENOENT)
			r = fail(reason, r, "process %d has no executable "
			    "(a zombie or a kernel thread)", (int)pid);
		else
			r = fail(reason, r, "cannot open %s: %s", path,
			    zt_strerror(r));
		goto out;
	}
	if ((r = read_real_uid(pid, uid)) < 0) {
		r = fail(reason, r, "cannot read the uid of process %d: %s",
		    (int)pid, zt_strerror(r));
		goto out;
	}
	bin_fd = open(agent->binary, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK);
	if (bin_fd < 0 || fstat(bin_fd, &bin_st) < 0) {
		r = -errno;
		r = fail(reason, r, "cannot open agent binary %s: %s", shown,
		    zt_strerror(r));
		goto out;
	}
	if (!S_ISREG(bin_st.st_mode)) {
		r = fail(reason, ZT_E_PERM, "agent binary %s is not a regular "
		    "file", shown);
		goto out;
	}
	if ((r = read_shebang(bin_fd, shown, &sb, reason)) < 0)
		goto out;
	if (!sb.script) {
		/* The file executed must be the configured one. */
		if (!same_file(&exe_st, &bin_st)) {
			r = fail(reason, ZT_E_PERM, "process %d does not run "
			    "%s (another file, a copy, or a replaced one)",
			    (int)pid, shown);
			goto out;
		}
		r = check_fd(identity, config, agent, exe_fd, agent->binary,
		    &facts, reason);
		if (r == 0 && facts.shebang.script)
			r = fail(reason, ZT_E_PERM, "%s became a script "
			    "during the check", shown);
		if (r < 0)
			goto out;
	} else {
		char interpreter_shown[SHOWN_MAX];

		if ((r = check_fd(identity, config, agent, bin_fd,
		    agent->binary, &facts, reason)) < 0)
			goto out;
		show(interpreter_shown, facts.shebang.interpreter);
		if (!facts.shebang.script ||
		    !same_file(&exe_st, &facts.interpreter)) {
			r = fail(reason, ZT_E_PERM, "process %d does not run "
			    "interpreter %s of script %s", (int)pid,
			    interpreter_shown, shown);
			goto out;
		}
		if ((r = check_script_argument(pid, agent->binary,
		    &facts.shebang, &bin_st, reason)) < 0)
			goto out;
	}
	/* An exec since the first open would leave exe another file. */
	again_fd = open(path, O_PATH | O_CLOEXEC);
	if (again_fd < 0 || fstat(again_fd, &again_st) < 0 ||
	    !same_file(&again_st, &exe_st))
		r = fail(reason, ZT_E_PERM, "process %d executed another "
		    "program, or exited, during the check", (int)pid);
	if (again_fd >= 0)
		close(again_fd);
out:
	if (exe_fd >= 0)
		close(exe_fd);
	if (bin_fd >= 0)
		close(bin_fd);
	return r;
}

int
identity_check_process(struct identity *identity,
    const struct ztd_config *config, const struct agent *agent, int pidfd,
    pid_t pid, uid_t *uid, char *reason)
{
	uid_t real_uid = (uid_t)-1;
	long fd_pid = 0;
	int alive, r;

	if (reason == NULL)
		return -EINVAL;
	reason[0] = '\0';
	if (identity == NULL || config == NULL || agent == NULL ||
	    uid == NULL || pidfd < 0 || pid <= 0)
		return fail(reason, -EINVAL, "invalid arguments");
	if ((r = identity_pidfd_pid(pidfd, &fd_pid)) < 0)
		return fail(reason, r, "descriptor %d is not a pidfd: %s",
		    pidfd, zt_strerror(r));
	if (fd_pid == -1)
		return fail(reason, -ESRCH, "process %d exited", (int)pid);
	if (fd_pid != pid)
		return fail(reason, -EINVAL, "the pidfd is of process %ld, "
		    "not %d", fd_pid, (int)pid);

	r = check_process(identity, config, agent, pid, &real_uid, reason);

	/*
	 * Whatever /proc/PID showed was this process's only if it is still
	 * there now: while it exists, even as a zombie, PID is not reused.
	 */
	if ((alive = process_alive(pidfd)) == 0)
		return fail(reason, -ESRCH, "process %d exited", (int)pid);
	if (alive < 0)
		return fail(reason, alive, "cannot signal process %d: %s",
		    (int)pid, zt_strerror(alive));
	if (r < 0)
		return r;
	reason[0] = '\0';
	*uid = real_uid;
	return 0;
}

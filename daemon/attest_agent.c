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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest_agent.h"
#include "digest.h"
#include "pubkey.h"
#include "zt_exe.h"
#include "zt_err.h"
#include "zt_log.h"

#define SIGNATURE_FILE_MAX 1024
#define KEY_FILE_MAX (64 * 1024)	/* a PEM public key is < 1 KiB */
#define CMDLINE_MAX (3 * PATH_MAX)	/* interpreter, argument, script */
#define SHOWN_MAX 64			/* an escaped path inside a reason */
#define ED25519_SIGNATURE_SIZE 64

struct identity {
	struct zt_digests *digests;
	EVP_MD *sha256;			/* signature tags, ECDSA */
	uint64_t bytes_read;		/* read for signatures */
	uint64_t signature_hits;
};

/* The first line of a script, parsed the way the kernel does. */
struct shebang {
	bool script;
	struct zt_shebang line;
};

/* What a file check learnt, for the process check. */
struct file_facts {
	struct stat st;
	struct shebang shebang;
	struct stat interpreter;	/* when shebang.script */
	uint8_t digest[32];		/* the file's, as checked */
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

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

struct identity *
identity_new(size_t max_entries)
{
	struct identity *identity;

	if (max_entries > IDENTITY_CACHE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if ((identity = calloc(1, sizeof(*identity))) == NULL)
		return NULL;
	identity->digests = zt_digests_new(max_entries);
	identity->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (identity->digests == NULL || identity->sha256 == NULL) {
		identity_free(identity);
		errno = ENOMEM;
		return NULL;
	}
	return identity;
}

void
identity_free(struct identity *identity)
{
	if (identity == NULL)
		return;
	zt_digests_free(identity->digests);
	EVP_MD_free(identity->sha256);
	free(identity);
}

void
identity_get_stats(const struct identity *identity,
    struct identity_stats *stats)
{
	zt_digests_stats(identity->digests, &stats->digests);
	stats->digests.bytes_read += identity->bytes_read;
	stats->signature_hits = identity->signature_hits;
}

/* ------------------------------------------------------------ digests */

/*
 * The digest of the regular file at FD (and its key into KEY, may be
 * NULL).  RUNNING: FD is a running process's image, opened through
 * /proc/PID/exe (zt_digests_get_running: served only from entries hashed
 * the same way).  Otherwise through the cache only for a file
 * zt_digest_cacheable allows (ztd's own user trusted): a file its owner
 * may write (an agent's account, a self-updating install), or its group
 * or others, is hashed anew each time (ztd_identity_remap.sh: a write
 * through a shared mapping made earlier leaves the key as it was).  Such
 * an entry is only as good as its key (see zt_exe.h) and serves checks
 * by path (a session's binary before it runs, a script); what runs is
 * checked by its image.  Errors as zt_digests_get's.
 */
static int
file_digest(struct identity *identity, int fd, bool running,
    uint8_t out[32], struct zt_file_key *key)
{
	return zt_digests_get_owned(identity->digests, fd, geteuid(), running,
	    out, key);
}

int
identity_digest_fd(struct identity *identity, int fd, uint8_t out[32])
{
	if (identity == NULL)
		return -EINVAL;
	return file_digest(identity, fd, false, out, NULL);
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

/* The "#!" line of FD, as the kernel splits it (zt_shebang_parse). */
static int
read_shebang(int fd, const char *shown, struct shebang *sb, char *reason)
{
	int r = zt_shebang_read(fd, &sb->line);

	sb->script = r != 0;
	if (r == -ENOEXEC)
		return fail(reason, ZT_E_PERM,
		    "script %s names no interpreter", shown);
	if (r == -ENAMETOOLONG)
		return fail(reason, ZT_E_PERM,
		    "the #! line of script %s is too long", shown);
	if (r < 0)
		return fail(reason, r, "cannot read %s: %s", shown,
		    zt_strerror(r));
	if (sb->script && sb->line.interpreter[0] != '/')
		return fail(reason, ZT_E_PERM, "the interpreter of script %s "
		    "is not an absolute path", shown);
	return 0;
}

/*
 * The digest of FD and its "#!" line, of the same version of the file:
 * the key read before the line is the one the digest belongs to.
 */
static int
digest_and_shebang(struct identity *identity, int fd, bool running,
    const char *shown, uint8_t digest[32], struct zt_file_key *key,
    struct shebang *sb, char *reason)
{
	struct zt_file_key first;
	bool complete;
	int r;

	if ((r = zt_file_key_get(fd, &first, &complete)) < 0)
		return fail_digest(reason, r, shown);
	if ((r = read_shebang(fd, shown, sb, reason)) < 0)
		return r;
	if ((r = file_digest(identity, fd, running, digest, key)) < 0)
		return fail_digest(reason, r, shown);
	if (!zt_file_key_equal(&first, key))
		return fail_digest(reason, -EAGAIN, shown);
	return 0;
}

/*
 * The interpreter of the script shown as SCRIPT must be pinned itself.
 * IMAGE: -1, or a process's running image (/proc/PID/exe), which must be
 * that interpreter: then the digest is the image's, under the running
 * rule (file_digest), for a digest cached from the file opened by path
 * may predate a write through a mapping that changed no part of its key.
 */
static int
check_interpreter(struct identity *identity, const struct agent *agent,
    const char *interpreter, const char *script, int image,
    struct stat *st, char *reason)
{
	char shown[SHOWN_MAX];
	struct shebang sb;
	struct zt_file_key key;
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
	if (image >= 0) {
		struct stat image_st;

		if (fstat(image, &image_st) < 0) {
			r = fail(reason, -errno, "cannot stat the running "
			    "image of interpreter %s: %s", shown,
			    strerror(errno));
			goto out;
		}
		if (!same_file(&image_st, st)) {
			r = fail(reason, ZT_E_PERM, "the process does not run "
			    "interpreter %s of script %s", shown, script);
			goto out;
		}
	}
	if ((r = digest_and_shebang(identity, image >= 0 ? image : fd,
	    image >= 0, shown, digest, &key, &sb, reason)) < 0)
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

/* The publisher NAME's key (a path, or inline PEM from a fleet policy):
 * Ed25519 or EC on P-256, nothing else (pubkey.c). */
static int
load_publisher_key(const struct ztd_config *config, const char *name,
    EVP_PKEY **out, char *reason)
{
	const struct publisher *publisher = NULL;
	char shown[SHOWN_MAX], why[PUBKEY_WHY_MAX];
	uint8_t *pem = NULL;
	size_t len = 0;
	int r;

	for (size_t i = 0; i < config->n_publishers; i++)
		if (strcmp(config->publishers[i].name, name) == 0)
			publisher = &config->publishers[i];
	if (publisher == NULL)
		return fail(reason, -ENOKEY, "publisher %.64s is not defined",
		    name);
	if (config_key_is_inline(publisher->key)) {
		snprintf(shown, sizeof(shown), "(inline)");
		r = pubkey_from_pem(publisher->key, strlen(publisher->key),
		    out, why);
	} else {
		show(shown, publisher->key);
		if ((r = pubkey_read_file(publisher->key, KEY_FILE_MAX, &pem,
		    &len)) < 0)
			return fail(reason, r, "publisher %s key %s: %s", name,
			    shown, r == -EINVAL ? "not a regular file" :
			    zt_strerror(r));
		r = pubkey_from_pem(pem, len, out, why);
		free(pem);
	}
	if (r == -ENOMEM)
		return fail(reason, r, "out of memory");
	if (r < 0)
		return fail(reason, r, "publisher %s key %s %s", name, shown,
		    why);
	return 0;
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
read_whole(struct identity *identity, int fd, const struct zt_file_key *key,
    uint8_t **out)
{
	struct zt_file_key after;
	bool complete;
	uint8_t *buf, extra;
	ssize_t n;
	int r;

	if (key->size > IDENTITY_ED25519_FILE_MAX)
		return -EFBIG;
	if ((buf = malloc(key->size ? (size_t)key->size : 1)) == NULL)
		return -ENOMEM;
	if ((n = zt_read_at(fd, buf, (size_t)key->size, 0)) < 0) {
		r = (int)n;
		goto fail;
	}
	identity->bytes_read += (uint64_t)n;
	if ((uint64_t)n != key->size || zt_read_at(fd, &extra, 1,
	    (off_t)key->size) != 0) {
		r = -EAGAIN;
		goto fail;
	}
	if ((r = zt_file_key_get(fd, &after, &complete)) < 0)
		goto fail;
	if (!zt_file_key_equal(key, &after)) {
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
    const struct zt_file_key *key, const uint8_t digest[32],
    const uint8_t *signature, size_t signature_len, bool *good)
{
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t *content = NULL;
	int r = 0;

	*good = false;
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
		if (signature_len != ED25519_SIGNATURE_SIZE)
			return 0;
		if ((r = read_whole(identity, fd, key, &content)) < 0)
			return r;
		r = pubkey_verify(pkey, content, (size_t)key->size,
		    signature, signature_len, good);
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
    const struct agent *agent, int fd, const struct zt_file_key *key,
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
	if ((r = pubkey_read_file(sig_path, SIGNATURE_FILE_MAX, &signature,
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
	if (zt_digests_has_tag(identity->digests, key, tag)) {
		identity->signature_hits++;
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
	zt_digests_set_tag(identity->digests, key, tag);
out:
	free(signature);
	EVP_PKEY_free(pkey);
	return r;
}

/* ------------------------------------------------------------ files */

/*
 * The shared check: is the file open at FD the binary of AGENT?  PATH is
 * where it was found (reasons; PATH.sig is its signature); RUNNING: FD is
 * a running process's image (file_digest).  IMAGE: -1, or the running
 * image of a process that must run FD as a script (check_interpreter).
 */
static int
check_fd(struct identity *identity, const struct ztd_config *config,
    const struct agent *agent, int fd, bool running, int image,
    const char *path, struct file_facts *facts, char *reason)
{
	char shown[SHOWN_MAX], hex[17];
	struct zt_file_key key;
	uint8_t digest[32];
	int r;

	show(shown, path);
	if (fstat(fd, &facts->st) < 0)
		return fail(reason, -errno, "cannot stat %s: %s", shown,
		    strerror(errno));
	if (!S_ISREG(facts->st.st_mode))
		return fail(reason, ZT_E_PERM, "%s is not a regular file",
		    shown);
	if ((r = digest_and_shebang(identity, fd, running, shown, digest,
	    &key, &facts->shebang, reason)) < 0)
		return r;
	memcpy(facts->digest, digest, sizeof(facts->digest));
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
		    facts->shebang.line.interpreter, shown, image,
		    &facts->interpreter, reason);
	return 0;
}

int
identity_check_file(struct identity *identity,
    const struct ztd_config *config, const struct agent *agent,
    const char *path, char *reason)
{
	uint8_t digest[32];

	return identity_check_file_digest(identity, config, agent, path,
	    digest, reason);
}

int
identity_check_file_digest(struct identity *identity,
    const struct ztd_config *config, const struct agent *agent,
    const char *path, uint8_t digest[32], char *reason)
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
	r = check_fd(identity, config, agent, fd, false, -1, path, &facts,
	    reason);
	close(fd);
	if (r == 0) {
		reason[0] = '\0';
		memcpy(digest, facts.digest, sizeof(facts.digest));
	}
	return r;
}

/* ------------------------------------------------------------ processes */

int
identity_pidfd_pid(int pidfd, long *pid)
{
	char path[64], buf[4096], *line, *end;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	if ((n = zt_proc_read(path, buf, sizeof(buf), NULL)) < 0)
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
	size_t want = sb->line.has_argument ? 3 : 2, n_args = 0;
	ssize_t n;
	int fd, r;

	show(shown, binary);
	if ((buf = malloc(CMDLINE_MAX)) == NULL)
		return fail(reason, -ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((n = zt_proc_read(path, buf, CMDLINE_MAX, NULL)) < 0) {
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
	if (sb->line.has_argument && strcmp(arg[1], sb->line.argument) != 0) {
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
	if ((r = zt_proc_uid(pid, uid)) < 0) {
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
		r = check_fd(identity, config, agent, exe_fd, true, -1,
		    agent->binary, &facts, reason);
		if (r == 0 && facts.shebang.script)
			r = fail(reason, ZT_E_PERM, "%s became a script "
			    "during the check", shown);
		if (r < 0)
			goto out;
	} else {
		char interpreter_shown[SHOWN_MAX];

		if ((r = check_fd(identity, config, agent, bin_fd, false,
		    exe_fd, agent->binary, &facts, reason)) < 0)
			goto out;
		show(interpreter_shown, facts.shebang.line.interpreter);
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

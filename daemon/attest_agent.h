/* SPDX-License-Identifier: Apache-2.0 */
/* Agent identity: is this file, or this live process, the agent it claims? */
#ifndef ZTD_ATTEST_AGENT_H
#define ZTD_ATTEST_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zt_exe.h"
#include "ztd_config.h"

#define IDENTITY_REASON_MAX 160

/* Most digest cache entries identity_new accepts (as ztd.cache). */
#define IDENTITY_CACHE_MAX ZT_DIGESTS_MAX
/* Largest file hashed: anything longer is refused with -EFBIG. */
#define IDENTITY_FILE_MAX ZT_DIGEST_FILE_MAX
/* Largest file checked against an Ed25519 signature (one-shot: in memory). */
#define IDENTITY_ED25519_FILE_MAX (256ull * 1024 * 1024)
/* Files changed more recently are hashed but not cached (zt_exe.h). */
#define IDENTITY_SETTLE_SECONDS ZT_DIGEST_SETTLE_SECONDS

struct identity;

/* Counters of the digest cache, for ztctl status and for tests. */
struct identity_stats {
	struct zt_digest_stats digests;	/* bytes_read: signatures' too */
	uint64_t signature_hits;	/* signatures known good, not redone */
};

/*
 * A digest cache of at most MAX_ENTRIES files (0: no cache; at most
 * IDENTITY_CACHE_MAX): zt_digests_new (common/zt_exe.h), which zt-exec
 * shares, with signatures found good remembered beside the digests.
 * Not thread-safe: ztd calls it from its event loop.
 * Returns NULL on out-of-memory, or with errno EINVAL when MAX_ENTRIES is
 * too large.
 */
struct identity *identity_new(size_t max_entries);
void identity_free(struct identity *identity);

void identity_get_stats(const struct identity *identity,
    struct identity_stats *stats);

/*
 * SHA-256 of the regular file open at FD (read from offset 0 with pread,
 * up to IDENTITY_FILE_MAX bytes), through the cache.  A file that changes
 * while it is read gives -EAGAIN and is not cached: the bytes read may
 * mix two versions, so the digest describes no file that ever existed.
 * Returns 0, or -errno (-EINVAL/-EISDIR: not a regular file, -EFBIG).
 */
int identity_digest_fd(struct identity *identity, int fd, uint8_t out[32]);

/*
 * Is the file at PATH the binary of AGENT?  Opens it (O_RDONLY|O_CLOEXEC|
 * O_NOCTTY|O_NONBLOCK, refusing anything but a regular file), then: its
 * digest is one of agent->sha256, or PATH.sig (a regular file of at most
 * 1 KiB) is a valid detached signature of it by the agent's publisher key
 * (CONFIG->publishers: a PEM public key, Ed25519 or ECDSA P-256 only; an
 * Ed25519 signature is the raw 64 bytes over the whole file, which must be
 * at most IDENTITY_ED25519_FILE_MAX; an ECDSA one is DER over its SHA-256).
 * For a script (the file starts with "#!"), the interpreter named on that
 * line must be an absolute path, not itself a script, and pinned (its
 * digest in agent->sha256) as well.
 * Returns 0 when recognised; ZT_E_PERM when not (unpinned, no or a bad
 * signature, interpreter not pinned, not a regular file); or -errno when
 * the check could not be made (-ENOENT, -EAGAIN changed while read,
 * -EFBIG, -EKEYREJECTED a publisher key of another type, -EBADMSG a key
 * file that is not a PEM public key).  REASON (IDENTITY_REASON_MAX bytes)
 * says why, with paths escaped (never a control byte); "" on success.
 */
int identity_check_file(struct identity *identity,
    const struct ztd_config *config, const struct agent *agent,
    const char *path, char *reason);

/*
 * identity_check_file, and on success DIGEST is the SHA-256 of the very
 * version of the file that was checked (read through the digest cache on
 * the one descriptor the check used: a file replaced or modified since is
 * keyed anew and hashed again).
 */
int identity_check_file_digest(struct identity *identity,
    const struct ztd_config *config, const struct agent *agent,
    const char *path, uint8_t digest[32], char *reason);

/*
 * Is the live process PIDFD (pid PID) running AGENT's binary?  PIDFD must
 * be a pidfd of PID (its fdinfo says so).  Opens /proc/PID/exe (the file
 * actually executed, even if its path was since replaced) and reads the
 * real uid from /proc/PID/status, then:
 *   a binary agent: exe is the very file at agent->binary (same dev and
 *     inode: a copy elsewhere, or the old file of a replaced binary, is
 *     not the agent), recognised as identity_check_file says, with the
 *     signature looked up at agent->binary.sig;
 *   a script agent (the file at agent->binary starts with "#!"): the
 *     script is recognised as identity_check_file says, exe is the
 *     interpreter its "#!" line names, and the script argument in
 *     /proc/PID/cmdline (after the "#!" line's argument, if any, which
 *     must be there verbatim) is agent->binary itself: the same text and
 *     the same file.  The path must be the configured one because any
 *     other path (relative, or under a directory the caller controls) can
 *     be made to name the agent after the interpreter opened another file.
 * Only then does it confirm, through PIDFD, that the process is still
 * alive: a pid cannot be reused while its process exists, so everything
 * read from /proc/PID belonged to it.  *UID is its real uid.
 * Returns 0 when recognised; ZT_E_PERM when not; -ESRCH when the process
 * has exited (before or during the check); or -errno, with REASON.
 */
int identity_check_process(struct identity *identity,
    const struct ztd_config *config, const struct agent *agent, int pidfd,
    pid_t pid, uid_t *uid, char *reason);

/*
 * The pid the pidfd PIDFD refers to, from /proc/self/fdinfo: *PID is -1
 * once the process has exited, 0 when it is outside our pid namespace.
 * Returns 0, -EBADF when PIDFD is no pidfd, or -errno.
 */
int identity_pidfd_pid(int pidfd, long *pid);

#endif

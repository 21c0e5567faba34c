/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What ztd and zt-exec both need to know about programs: the "#!" line of a
 * script as the kernel splits it, a process's facts from /proc, and the
 * SHA-256 of a file through a cache keyed by the file's identity and
 * version.  One implementation, so that the two never disagree.
 */
#ifndef ZT_EXE_H
#define ZT_EXE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* ------------------------------------------------------------ scripts */

#define ZT_SHEBANG_MAX 256		/* the kernel's BINPRM_BUF_SIZE */

/* The "#!" line of a script, split as binfmt_script does. */
struct zt_shebang {
	char interpreter[ZT_SHEBANG_MAX];
	bool has_argument;
	char argument[ZT_SHEBANG_MAX];
};

/*
 * Split the first LEN bytes of a file (the kernel reads ZT_SHEBANG_MAX;
 * fewer means the file is that short) as Linux 5.1+ binfmt_script does:
 * "#!", optional blanks (space and tab only: '\r' is no blank and stays
 * part of the name or argument), the interpreter up to a blank, then the
 * rest of the line, trimmed of blanks on both ends, as ONE optional
 * argument.  The line ends at '\n' or at a NUL; without either in the
 * buffer, the line is accepted (the argument cut at 255 bytes) only when
 * the interpreter's name ends within it.  Returns 1 and fills SB for a
 * script; 0 when the bytes do not start with "#!"; -ENOEXEC when the line
 * names no interpreter; -ENAMETOOLONG when the name does not end within
 * the buffer.  The interpreter need not be absolute: callers decide.
 */
int zt_shebang_parse(const char *buf, size_t len, struct zt_shebang *sb);

/* zt_shebang_parse on the first ZT_SHEBANG_MAX bytes of the file at FD
 * (pread: the offset is untouched).  Also -errno when it cannot be read. */
int zt_shebang_read(int fd, struct zt_shebang *sb);

/* ------------------------------------------------------------ /proc */

/*
 * Facts about process (or thread) PID from /proc/PID/status: its thread
 * group, its parent's pid, the pid of its tracer (0: none), its real uid.  Returns 0, -ENOENT/-ESRCH when
 * it is gone, -EIO when the field is missing or malformed, or -errno.
 * A pid can be reused: callers confirm liveness (a pidfd, a notification
 * id) after reading when it matters.
 */
int zt_proc_tgid(pid_t pid, pid_t *tgid);
int zt_proc_ppid(pid_t pid, pid_t *ppid);
int zt_proc_tracer(pid_t pid, pid_t *tracer);
int zt_proc_uid(pid_t pid, uid_t *uid);

/*
 * Read the file at PATH (a /proc file: no pread there) into BUF, at most
 * SIZE - 1 bytes, NUL-terminated after them.  Returns the length or
 * -errno.  *TRUNCATED (when not NULL) tells whether more was there.
 */
ssize_t zt_proc_read(const char *path, char *buf, size_t size,
    bool *truncated);

/* Read up to LEN bytes at OFFSET, retrying short reads; short only at end
 * of file.  Returns the count or -errno. */
ssize_t zt_read_at(int fd, void *buf, size_t len, off_t offset);

/* ------------------------------------------------------------ digests */

/* Most entries zt_digests_new accepts. */
#define ZT_DIGESTS_MAX (16u * 1024 * 1024)
/* Largest file hashed: anything longer is refused with -EFBIG. */
#define ZT_DIGEST_FILE_MAX (1024ull * 1024 * 1024)
/*
 * A file whose ctime is less than this many seconds old is hashed but not
 * cached: a change within one timestamp tick (up to 2 s on FAT; one jiffy
 * on ext4) could otherwise leave its key unchanged.
 */
#define ZT_DIGEST_SETTLE_SECONDS 2

/* What statx says about a file's identity and version. */
struct zt_file_key {
	uint64_t ino, size;
	int64_t mtime_sec, ctime_sec, btime_sec;
	uint32_t dev_major, dev_minor;
	uint32_t mtime_nsec, ctime_nsec, btime_nsec;
	uint32_t uid, mode;		/* a change of either is a new ctime */
};

/*
 * The key of the regular file at FD.  *COMPLETE is false when the file
 * system did not report every field the key needs (such a file is never
 * cached).  Returns 0, -EISDIR, -EINVAL (not a regular file) or -errno.
 */
int zt_file_key_get(int fd, struct zt_file_key *key, bool *complete);
/* The same for PATH relative to DIRFD, statx's FLAGS (AT_EMPTY_PATH,
 * AT_SYMLINK_NOFOLLOW) added. */
int zt_file_key_get_at(int dirfd, const char *path, int flags,
    struct zt_file_key *key, bool *complete);
bool zt_file_key_equal(const struct zt_file_key *a,
    const struct zt_file_key *b);

struct zt_digest_stats {
	size_t entries;			/* digests held now */
	size_t max_entries;
	uint64_t hits;			/* digests served without reading */
	uint64_t misses;		/* digests computed */
	uint64_t inserts, evictions;
	uint64_t unsettled;		/* computed, not cached: too recent */
	uint64_t changed;		/* modified while read: -EAGAIN */
	uint64_t bytes_read;		/* hashed */
};

struct zt_digests;

/*
 * A digest cache of at most MAX_ENTRIES files (0: no cache), keyed by
 * (dev, inode, size, mtime, ctime and btime with nanoseconds, from statx
 * on the open descriptor), so that an unchanged file is hashed once and a
 * replaced or modified one is always hashed again.  A full cache forgets
 * its least recently used entry; buckets are seeded at random, so that a
 * local user cannot pick chains.  Thread-safe (hashing runs outside the
 * lock).  Returns NULL with errno EINVAL (MAX_ENTRIES above
 * ZT_DIGESTS_MAX) or ENOMEM.  zt_digests_free(NULL) does nothing.
 */
struct zt_digests *zt_digests_new(size_t max_entries);
void zt_digests_free(struct zt_digests *d);

/*
 * SHA-256 (OpenSSL EVP) of the regular file open at FD, read from offset
 * 0 with pread, up to ZT_DIGEST_FILE_MAX bytes, through the cache.  A file
 * that changes while it is read gives -EAGAIN and is not cached: the bytes
 * read may mix two versions.  KEY (may be NULL) receives the key the
 * digest belongs to.  Returns 0, or -errno (-EINVAL/-EISDIR: not a
 * regular file, -EFBIG).
 */
int zt_digests_get(struct zt_digests *d, int fd, uint8_t out[32],
    struct zt_file_key *key);

/*
 * The digest cache knows a file by its key, and a write through a shared
 * mapping made while the writer could still open the file for writing
 * leaves the key as it was (the kernel updates the times at a page's
 * write fault only: never on tmpfs, on ext4 once per writeback).  Such a
 * mapping may outlive the writer's right to write (a chmod or chown
 * after it), so an entry made from a file opened by path vouches for the
 * bytes of that moment only.  A running image is different: exec refuses
 * a file open for writing (ETXTBSY), and no one may open it for writing
 * while it runs, so a digest read from it is what runs, and for a file
 * no one else could open for writing since (zt_digest_cacheable; any
 * change of owner or mode gives a new ctime, so a new key) it stays true
 * for as long as the key does.
 *
 * zt_digest_cacheable: owned by root or OWNER (a trusted user: ztd's
 * own; (uid_t)-1 for none) and neither group nor others may write it (a
 * POSIX ACL's mask shows in the group bits).
 */
bool zt_digest_cacheable(uid_t uid, mode_t mode, uid_t owner);

/*
 * SHA-256 of the file open at FD as it reads now, no cache, its key
 * (before and after the read: -EAGAIN if they differ) into KEY (may be
 * NULL): 0, or -errno (-EFBIG past ZT_DIGEST_FILE_MAX).
 */
int zt_digest_fresh(int fd, uint8_t out[32], struct zt_file_key *key);

/*
 * zt_digests_get for a file zt_digest_cacheable(OWNER) allows; any other
 * is hashed anew (zt_digest_fresh).  RUNNING: as zt_digests_get_running.
 */
int zt_digests_get_owned(struct zt_digests *d, int fd, uid_t owner,
    bool running, uint8_t out[32], struct zt_file_key *key);

/*
 * zt_digests_get for FD, the image of a process running now (opened
 * through /proc/PID/exe while it ran): a file zt_digest_cacheable(OWNER)
 * allows is served only from an entry hashed the same way, and cached as
 * such; any other is hashed anew (zt_digest_fresh).  Same results.
 */
int zt_digests_get_running(struct zt_digests *d, int fd, uid_t owner,
    uint8_t out[32], struct zt_file_key *key);

/*
 * The digest of KEY (COMPLETE as zt_file_key_get said: a running image's,
 * through its /proc/PID/exe link) from an entry zt_digests_get_running
 * made, for a file zt_digest_cacheable(OWNER) allows: true, or false
 * (nothing read: the caller opens the image and asks
 * zt_digests_get_running).
 */
bool zt_digests_find_running(struct zt_digests *d,
    const struct zt_file_key *key, bool complete, uid_t owner,
    uint8_t out[32]);

/*
 * zt_digests_get for a caller that has read FD's key itself (KEY and
 * COMPLETE from zt_file_key_get, called after BEFORE was read from
 * CLOCK_REALTIME): one statx serves the caller's own look at the file and
 * the cache.  Same results.
 */
int zt_digests_get_keyed(struct zt_digests *d, int fd,
    const struct zt_file_key *key, bool complete,
    const struct timespec *before, uint8_t out[32]);

/* Attach TAG (a caller's fact about that content, e.g. a good signature)
 * to the cached file of KEY; zt_digests_has_tag tells whether it is the
 * tag attached.  A file not in the cache holds no tag. */
void zt_digests_set_tag(struct zt_digests *d, const struct zt_file_key *key,
    const uint8_t tag[32]);
bool zt_digests_has_tag(struct zt_digests *d, const struct zt_file_key *key,
    const uint8_t tag[32]);

void zt_digests_stats(struct zt_digests *d, struct zt_digest_stats *stats);

#endif

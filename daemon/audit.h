/* SPDX-License-Identifier: Apache-2.0 */
/* The audit trail: one syslog line per decision, and a hash-chained file. */
#ifndef ZTD_AUDIT_H
#define ZTD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* What one decision was, as the decision path knows it. */
struct audit_event {
	bool allow;
	const char *action;	/* "exec", "connect", ... trusted */
	const char *agent;	/* untrusted text (may be a client's) */
	const char *account;	/* untrusted */
	uid_t uid;
	pid_t pid;
	const char *object;	/* untrusted */
	size_t object_len;	/* its bytes (it may hold NULs: an exec's
				 * arguments); 0: up to its NUL */
	const char *name;	/* NULL, or the DNS name a connect's address
				 * was answered for (name= after object=) */
	const char *reason;	/* untrusted (may quote a client's text) */
	const char *grant;	/* "-" when none */
	const char *cache;	/* "hit", "miss" or "local" */
	const char *attest;	/* "tpm", "software" or "none" */
	long age;		/* seconds since the attestation, -1 none */
	uint64_t suppressed;	/* > 0: this record stands for that many
				 * denies the rate limit held back
				 * (suppressed=N in the line) */
	bool unenforced;	/* learn mode: a deny the profile made, let
				 * through (enforced=no; ALLOW is false);
				 * never held back by the rate limit */
};

struct audit;

/* "2026-12-06T10:31:14.123456Z" and its NUL, with room for years > 9999. */
#define AUDIT_TIME_SIZE 40

/*
 * The file holds one record per line, the syslog line without chain=
 * followed by the chain fields:
 *   time=... host=... decision=... seq=N prev=<64 hex> hash=<64 hex>
 * time= is the wall clock (RFC 3339, UTC, microseconds) and host= the
 * host's name (audit_set_host), both covered by the hash.  A record is a
 * decision (decision=...) or an event of the trail itself: "event=reopen
 * file=... reason=..." starts a file audit_reopen() (or a start on an
 * empty file) opened, its prev= the last hash of the file before.
 * Records written before time= existed start with decision= and are read
 * all the same.
 * hash = SHA-256(prev as 32 bytes || the line up to the end of prev=);
 * the first record's prev is 64 zeros and seq is the record's position
 * in the chain (going on across restarts); chain= in syslog is the first
 * 16 hex digits of hash.  The head file holds "SEQ HASH\n" of the last
 * record, replaced (temp file, fsync, rename) after each one.
 *
 * Start auditing.  FILE (NULL: syslog only; the chain is then kept in
 * memory from seq 1, so that syslog lines still carry chain=, and
 * HEAD_PATH is not used) is opened O_APPEND|O_CREAT 0600, created with
 * its directory 0700 (one level) when absent; it must be a regular file,
 * not a symbolic link, owned by us and writable by no one else.  The head
 * is read from HEAD_PATH (STATE_DIR/audit.head; NULL: none) and must
 * agree with the file's last record.  When the file ends before the head
 * (or differs at its seq), it was cut or edited: that is logged (LOG_ERR)
 * and the chain goes on from what the head says (the gap stays visible to
 * `ztctl audit verify`).  When the file goes on past the head (a stop
 * between a record and its head, or head writes that failed) that is
 * logged and the chain goes on from the file, which never forks it.  A
 * missing or malformed head is logged and the file's end is used; a file
 * whose last line is no record, with no valid head, is refused.  A file
 * that ends inside a line (a cut write) gets the next record on a new
 * line.  REQUIRE: a record that cannot be written makes audit_write
 * return an error.  Returns 0 and *AUDIT, or a negative code (-errno,
 * ZT_E_UNSAFE, ZT_E_PROTOCOL) with ERROR (SIZE bytes) and *AUDIT NULL.
 */
int audit_open(const char *file, const char *head_path, bool require,
    struct audit **audit, char *error, size_t size);
/* Close the file; audit_free(NULL) does nothing. */
void audit_free(struct audit *audit);

/*
 * Write EVENT: one line to syslog (authpriv.notice) of the form
 *   time=2026-12-06T10:31:14.123456Z host=web-01 decision=allow
 *   action=exec agent="backup" account="svc-backup" uid=N pid=N
 *   object="..." [name="..."] reason="..." grant=... cache=miss
 *   attest=none age=- [suppressed=N] [enforced=no] seq=N chain=HEX16
 * agent, account, object and reason escaped and quoted by zt_escape() and
 * bounded (255, 255, 767 and 383 bytes with quotes; name, the DNS name
 * an address was answered for, only when set, 255), so that the line is
 * always under ZT_LOG_LINE_MAX; a NULL string is -; the trusted words
 * (action, grant, cache, attest) go bare when they are one word of at
 * most 39 characters and are escaped like the rest otherwise.  With a
 * file, the record is appended with one write() and fdatasync()ed, then
 * the head replaced.  seq increases by one per record, even when the file
 * misses one (the hole then shows in the file).  Returns 0, or a negative
 * code when the file record or the head could not be written and REQUIRE
 * is set (the caller then denies; the syslog line was still sent).  The
 * first failure and the recovery are logged, not every lost record.
 */
int audit_write(struct audit *audit, const struct audit_event *event);

/*
 * Group commit.  While held (HOLD true), audit_write formats and chains
 * each record as above, but its syslog line and file record are kept
 * (zt_log_audit_hold) and audit_write returns 0; audit_flush hands every
 * kept line to syslog in order (sendmmsg), appends every kept record with
 * one write() and one fdatasync(), and replaces the head once.  It
 * returns 0, or with REQUIRE a negative code when a line or the records
 * could not be written: the caller sends no answer whose decision was
 * audited since the last flush before audit_flush, and answers those
 * with an error when it fails.
 */
void audit_hold(struct audit *audit, bool hold);
int audit_flush(struct audit *audit);

/* The file's path as opened ("" without a file). */
const char *audit_path(const struct audit *audit);

/* The last sequence number written (0 before any). */
uint64_t audit_last_seq(const struct audit *audit);

/*
 * host= of every record from now on: NAME (the fleet's name for this host,
 * once there is a fleet), or NULL for the system's host name
 * (gethostname; "-" when it has none).  A name that is not one plain word
 * is escaped and quoted like an untrusted value, and bounded (255 bytes).
 * audit_open() starts with NULL.
 */
void audit_set_host(struct audit *audit, const char *name);

/* The wall clock of time= (tests: a fixed one); NULL: CLOCK_REALTIME. */
void audit_set_clock(struct audit *audit, void (*now)(struct timespec *ts));

/* Now as time= writes it, into OUT. */
void audit_time_now(const struct audit *audit, char out[AUDIT_TIME_SIZE]);

/*
 * Start a new file at the configured path (logrotate renamed the old one,
 * then ran `ztctl audit reopen`): open the path as audit_open() does (a
 * file there must be empty, or end with this chain's last record: a file
 * of another chain is refused, and the old one kept), close the old file
 * and write "event=reopen file=PATH reason=WHY" as the new file's first
 * record, chained to the old file's last (seq goes on).  The same file
 * still at the path (not rotated) just gets the record.  Returns 0, or a
 * negative code with ERROR (SIZE bytes): ZT_E_CONFIG without a file,
 * ZT_E_UNSAFE or ZT_E_PROTOCOL for a file that cannot be ours, -errno;
 * or the record's error under REQUIRE (the new file is in use then).
 */
int audit_reopen(struct audit *audit, const char *why, char *error,
    size_t size);

/*
 * Denies an agent can cause are written one by one at RATE_MILLI / 1000
 * per second with a burst of BURST (a token bucket, one per grant); the
 * ones beyond are held: counted, and written later as one record with
 * suppressed=N.  Milliseconds are CLOCK_BOOTTIME's.  RATE_MILLI 0: no
 * limit.  BURST is at most 1000000.
 */
struct audit_limit {
	int64_t microtokens;	/* tokens x 1000000 */
	int64_t updated_ms;
	uint64_t held;		/* denies held since the last summary */
	pid_t last_pid;		/* of the last one held */
	char since[AUDIT_TIME_SIZE];	/* time= of the first one held */
};

/* A full bucket at NOW_MS. */
void audit_limit_init(struct audit_limit *limit, int64_t now_ms,
    unsigned burst);
/* Take a token at NOW_MS: true when there was one (always, RATE 0). */
bool audit_limit_take(struct audit_limit *limit, int64_t now_ms,
    unsigned rate_milli, unsigned burst);
/* Milliseconds from NOW_MS until a token is there (0: now). */
int64_t audit_limit_wait_ms(const struct audit_limit *limit, int64_t now_ms,
    unsigned rate_milli);
/* Count one held deny of process PID (the first one's time kept). */
void audit_limit_hold(const struct audit *audit, struct audit_limit *limit,
    pid_t pid);

/*
 * Check the hash chain of the audit file PATH from its first line: every
 * line a record (at most 8192 bytes, printable ASCII), seq 1, 2, ...,
 * each prev= the hash before, each hash= right.  With HEAD_PATH (may be
 * NULL) also that its end is the head recorded there (truncation of the
 * tail; a file one record past its head, chained to it, is a stop between
 * the two and passes).  Returns 0 when intact ("20 records intact, head
 * seq 20"), ZT_E_PROTOCOL when not, -errno when it cannot be read; REPORT
 * (SIZE bytes) says what was checked or the first record that is wrong
 * ("record 7 (line 7): hash does not match: the record was edited").
 * The chain has no key: it shows cuts and edits, not a rewrite of the
 * whole file and head by someone who can write both; the syslog copy is
 * what such a rewrite cannot reach.
 */
int audit_verify(const char *path, const char *head_path, char *report,
    size_t size);

/*
 * The same over N files given oldest first (rotated files, then the
 * current one): one chain, seq without a gap across them, each file's
 * first record chained to the last of the file before.  The chain may
 * start at seq 1, or at an event=reopen record (the older files are gone:
 * the report says from which seq).  Every file is opened before any is
 * checked: one that cannot be read returns its -errno ("PATH: error"),
 * nothing being checked.  A break is reported as "PATH: record K (line
 * L): what" (K counts across the files).
 */
int audit_verify_files(const char *const *paths, size_t n,
    const char *head_path, char *report, size_t size);

/*
 * The same over one file PATH that may be a part of the chain cut from
 * it anywhere (`tail` of the audit file): its first record's seq and prev=
 * are taken as they are, every later one must follow from it.  What it
 * proves is that the lines are one piece of a chain, as ztd writes them
 * to its file and nobody else may; a syslog copy, where any user's line
 * can stand among ztd's, is no chain (ztctl profile suggest).
 */
int audit_verify_piece(const char *path, char *report, size_t size);

#endif

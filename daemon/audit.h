/* SPDX-License-Identifier: Apache-2.0 */
/* The audit trail: one syslog line per decision, and a hash-chained file. */
#ifndef ZTD_AUDIT_H
#define ZTD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
	const char *reason;	/* untrusted (may quote a client's text) */
	const char *grant;	/* "-" when none */
	const char *cache;	/* "hit", "miss" or "local" */
	const char *attest;	/* "tpm", "software" or "none" */
	long age;		/* seconds since the attestation, -1 none */
	bool unenforced;	/* learn mode: a deny the profile made, let
				 * through (enforced=no; ALLOW is false) */
};

struct audit;

/*
 * The file holds one record per line, the syslog line without chain=
 * followed by the chain fields:
 *   decision=... seq=N prev=<64 hex> hash=<64 hex>
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
 *   decision=allow action=exec agent="backup" account="svc-backup" uid=N
 *   pid=N object="..." reason="..." grant=... cache=miss attest=none age=-
 *   [enforced=no] seq=N chain=HEX16
 * agent, account, object and reason escaped and quoted by zt_escape() and
 * bounded (255, 255, 767 and 383 bytes with quotes), so that the line is
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

/* The last sequence number written (0 before any). */
uint64_t audit_last_seq(const struct audit *audit);

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

#endif

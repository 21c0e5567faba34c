/* SPDX-License-Identifier: Apache-2.0 */
/* The audit trail: syslog lines, the hash-chained file and head, verify. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit.h"
#include "digest.h"
#include "zt_err.h"
#include "zt_log.h"

#define HASH_SIZE 32			/* SHA-256 */
#define HEX_SIZE (2 * HASH_SIZE)
#define CHAIN_HEX 16			/* hex digits of chain= in syslog */

/*
 * Room for each value once escaped by zt_escape(), with its quotes and
 * NUL: longer values are cut and end in "...".  The sum, with the fixed
 * text and the widest numbers, keeps the syslog line under
 * ZT_LOG_LINE_MAX (checked below), so zt_log never cuts it.
 */
#define NAME_ESCAPED_MAX 256		/* agent=, account= */
#define OBJECT_ESCAPED_MAX 768		/* object= */
#define REASON_ESCAPED_MAX 384		/* reason= */
#define TOKEN_MAX 40		/* action=, grant=, cache=, attest= */

/* Every key with its '=' and separating space, "allow" the longer word. */
#define LINE_KEYS "decision=allow action= agent= account= uid= pid= " \
	"object= reason= grant= cache= attest= age= enforced=no seq= chain="
/* uid (10), pid (11), age (19), seq (20) and chain= at their widest. */
#define LINE_NUMBERS (10 + 11 + 19 + 20 + CHAIN_HEX)
#define LINE_MAX_LEN (sizeof(LINE_KEYS) - 1 + LINE_NUMBERS + \
	2 * (NAME_ESCAPED_MAX - 1) + OBJECT_ESCAPED_MAX - 1 + \
	REASON_ESCAPED_MAX - 1 + 4 * (TOKEN_MAX - 1))
_Static_assert(LINE_MAX_LEN < ZT_LOG_LINE_MAX,
    "an audit line must fit in one log line");
/* The line without " chain=HEX16": what the file record starts with. */
#define BODY_MAX_LEN (LINE_MAX_LEN - (sizeof(" chain=") - 1) - CHAIN_HEX)
_Static_assert(sizeof(uid_t) <= 4 && sizeof(pid_t) <= 4,
    "uid= and pid= widths");

/* " prev=<64 hex> hash=<64 hex>" ends each record in the file. */
#define PREV_KEY " prev="
#define HASH_KEY " hash="
#define KEY_LEN 6
#define SUFFIX_LEN (2 * (KEY_LEN + HEX_SIZE))

/* audit_verify() and audit_open() refuse longer lines as malformed. */
#define RECORD_LINE_MAX 8192
_Static_assert(LINE_MAX_LEN + SUFFIX_LEN < RECORD_LINE_MAX,
    "every record written is one verify accepts");

/* "SEQ HASH\n" in the head file. */
#define HEAD_TEXT_MAX (20 + 1 + HEX_SIZE + 1)

struct audit {
	char *file;		/* NULL: syslog only */
	char *head;		/* NULL: no head file */
	char *head_temp;	/* HEAD.tmp, renamed over HEAD */
	bool require;
	int fd;			/* the file (O_APPEND), or -1 */
	int dir_fd;		/* the head's directory, synced */
	bool newline_owed;	/* the file ends inside a line */
	bool failing;		/* records are being lost: said once */
	uint64_t lost;		/* records lost since failing */
	uint64_t seq;		/* of the last record; 0 before it */
	uint8_t hash[HASH_SIZE]; /* of the last record, or zeros */
	EVP_MD_CTX *md;
};

/* One record of the file, as parse_record() reads it. */
struct record {
	uint64_t seq;
	uint8_t prev[HASH_SIZE];
	uint8_t hash[HASH_SIZE];
	size_t hashed_len;	/* the text up to the end of prev= */
};

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Lower-case hex only: the one spelling a record is written in. */
static bool
from_hex(const char *in, uint8_t *out, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		int high = hex_digit(in[2 * i]), low = hex_digit(in[2 * i + 1]);

		if (high < 0 || low < 0)
			return false;
		out[i] = (uint8_t)(high << 4 | low);
	}
	return true;
}

/* Decimal without sign or leading zero, 1 .. UINT64_MAX. */
static bool
parse_seq(const char *s, size_t len, uint64_t *seq)
{
	uint64_t v = 0;

	if (len == 0 || len > 20 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*seq = v;
	return true;
}

/* SHA-256(PREV || TEXT): the hash of one record. */
static int
chain_hash(EVP_MD_CTX *md, const uint8_t prev[HASH_SIZE], const char *text,
    size_t len, uint8_t out[HASH_SIZE])
{
	unsigned int n = 0;

	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, prev, HASH_SIZE) != 1 ||
	    EVP_DigestUpdate(md, text, len) != 1 ||
	    EVP_DigestFinal_ex(md, out, &n) != 1 || n != HASH_SIZE)
		return -ENOMEM;
	return 0;
}

/*
 * Read LINE (LEN bytes, without its newline) as a record.  Only the frame
 * is checked here (printable ASCII, "decision=", seq= last, then prev= and
 * hash=); the hash covers the rest.  Returns NULL, or what is wrong.
 */
static const char *
parse_record(const char *line, size_t len, struct record *r)
{
	const char *suffix, *end;
	size_t digits = 0;

	if (len <= SUFFIX_LEN)
		return "not an audit record";
	for (size_t i = 0; i < len; i++)
		if (line[i] < 0x20 || line[i] > 0x7e)
			return "a byte that is not printable ASCII";
	if (strncmp(line, "decision=allow ", 15) != 0 &&
	    strncmp(line, "decision=deny ", 14) != 0)
		return "not an audit record";
	suffix = line + len - SUFFIX_LEN;
	if (memcmp(suffix, PREV_KEY, KEY_LEN) != 0 ||
	    memcmp(suffix + KEY_LEN + HEX_SIZE, HASH_KEY, KEY_LEN) != 0 ||
	    !from_hex(suffix + KEY_LEN, r->prev, HASH_SIZE) ||
	    !from_hex(suffix + 2 * KEY_LEN + HEX_SIZE, r->hash, HASH_SIZE))
		return "no prev= and hash= at the end";
	/* seq= is the last field before prev=: digits after " seq=". */
	end = suffix;
	while (end - digits > line && end[-1 - (ptrdiff_t)digits] >= '0' &&
	    end[-1 - (ptrdiff_t)digits] <= '9')
		digits++;
	if ((size_t)(end - digits - line) < 5 ||
	    memcmp(end - digits - 5, " seq=", 5) != 0 ||
	    !parse_seq(end - digits, digits, &r->seq))
		return "no valid seq= before prev=";
	r->hashed_len = len - KEY_LEN - HEX_SIZE;
	return NULL;
}

/*
 * Read the head file PATH ("SEQ HASH\n").  Returns 1 with *SEQ and HASH,
 * 0 when there is none, ZT_E_PROTOCOL when it is malformed, or -errno.
 */
static int
head_read(const char *path, uint64_t *seq, uint8_t hash[HASH_SIZE])
{
	char text[HEAD_TEXT_MAX + 2];
	size_t len = 0;
	const char *space;
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	while (len < sizeof(text) - 1) {
		n = read(fd, text + len, sizeof(text) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (r < 0)
		return r;
	text[len] = '\0';
	space = memchr(text, ' ', len);
	/* UINT64_MAX would leave no seq to go on with. */
	if (space == NULL || len != (size_t)(space - text) + 1 + HEX_SIZE + 1 ||
	    text[len - 1] != '\n' ||
	    !parse_seq(text, (size_t)(space - text), seq) ||
	    *seq == UINT64_MAX || !from_hex(space + 1, hash, HASH_SIZE))
		return ZT_E_PROTOCOL;
	return 1;
}

/* mkdir the directory that holds PATH (one level, 0700) if it is absent. */
static int
make_parent(const char *path)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t len;

	if (slash == NULL)
		return 0;
	len = slash == path ? 1 : (size_t)(slash - path);
	if (len >= sizeof(parent))
		return -ENAMETOOLONG;
	memcpy(parent, path, len);
	parent[len] = '\0';
	if (mkdir(parent, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Open the directory holding PATH, creating it (0700) when absent. */
static int
open_parent(const char *path)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t len;
	int fd, r;

	if (slash == NULL)
		snprintf(parent, sizeof(parent), ".");
	else {
		len = slash == path ? 1 : (size_t)(slash - path);
		if (len >= sizeof(parent))
			return -ENAMETOOLONG;
		memcpy(parent, path, len);
		parent[len] = '\0';
		if ((r = make_parent(path)) < 0)
			return r;
	}
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * Open the audit file for appending (and reading its tail), creating it
 * 0600 and its directory 0700.  It must be a regular file, not a link,
 * owned by us and writable by no one else.
 */
static int
open_file(struct audit *a, char *error, size_t size)
{
	struct stat st;
	int r;

	a->fd = open(a->file, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW | O_NOCTTY, 0600);
	if (a->fd < 0 && errno == ENOENT) {
		if ((r = make_parent(a->file)) < 0) {
			snprintf(error, size, "%s: cannot create its "
			    "directory: %s", a->file, strerror(-r));
			return r;
		}
		a->fd = open(a->file, O_RDWR | O_APPEND | O_CREAT |
		    O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	}
	if (a->fd < 0) {
		r = -errno;
		if (r == -ELOOP) {
			snprintf(error, size, "%s: a symbolic link", a->file);
			return ZT_E_UNSAFE;
		}
		snprintf(error, size, "%s: %s", a->file, strerror(-r));
		return r;
	}
	if (fstat(a->fd, &st) < 0) {
		r = -errno;
		snprintf(error, size, "%s: %s", a->file, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(error, size, "%s: not a regular file", a->file);
		return ZT_E_UNSAFE;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
		snprintf(error, size, "%s: writable by another user",
		    a->file);
		return ZT_E_UNSAFE;
	}
	return 0;
}

/* What the end of the audit file holds. */
enum tail {
	TAIL_EMPTY,
	TAIL_RECORD,
	TAIL_BAD,
};

/*
 * Read the last line of the file (never more than RECORD_LINE_MAX + 1
 * bytes).  Sets a->newline_owed when the file ends inside a line.
 * Returns a tail kind (*WHY says what is wrong with TAIL_BAD) or -errno.
 */
static int
read_tail(struct audit *a, struct record *r, const char **why)
{
	char buffer[RECORD_LINE_MAX + 2];
	struct stat st;
	size_t want, got = 0;
	off_t start;
	char *line;
	size_t len;
	ssize_t n;

	if (fstat(a->fd, &st) < 0)
		return -errno;
	if (st.st_size == 0)
		return TAIL_EMPTY;
	want = (uintmax_t)st.st_size < sizeof(buffer) ?
	    (size_t)st.st_size : sizeof(buffer);
	start = st.st_size - (off_t)want;
	while (got < want) {
		n = pread(a->fd, buffer + got, want - got, start + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;	/* cut under us: judge what we have */
		got += (size_t)n;
	}
	if (got == 0)
		return TAIL_EMPTY;
	if (buffer[got - 1] != '\n') {
		a->newline_owed = true;
		*why = "the last line has no newline (a record cut short)";
		return TAIL_BAD;
	}
	len = got - 1;
	line = memrchr(buffer, '\n', len);
	if (line != NULL)
		line++;
	else if (start > 0) {
		*why = "the last line is longer than 8192 bytes";
		return TAIL_BAD;
	} else
		line = buffer;
	len -= (size_t)(line - buffer);
	if ((*why = parse_record(line, len, r)) != NULL)
		return TAIL_BAD;
	return TAIL_RECORD;
}

/*
 * Find where the chain goes on from: the head and the file's last record
 * should agree.  When the file ends before the head, or elsewhere at the
 * head's seq, it was cut or edited: that is logged, and the chain goes on
 * from the head, so that `ztctl audit verify` shows the gap instead of it
 * being papered over.  When the file goes on past the head, the head was
 * not updated (a stop between a record and its head, said at NOTICE when
 * the file is one record ahead and chained to the head; or head writes
 * that failed, said at ERR): going on from the head would fork the chain
 * and repeat seq numbers, so the file's end is used.  Without a head the
 * file's end is used, and a file whose end is not a record is refused.
 */
static int
resume(struct audit *a, char *error, size_t size)
{
	struct record last;
	uint8_t head_hash[HASH_SIZE];
	char hex[HEX_SIZE + 1], head_hex[HEX_SIZE + 1];
	const char *why = NULL;
	uint64_t head_seq = 0;
	int tail, head = 0;

	tail = read_tail(a, &last, &why);
	if (tail < 0) {
		snprintf(error, size, "%s: %s", a->file, strerror(-tail));
		return tail;
	}
	if (a->head != NULL) {
		head = head_read(a->head, &head_seq, head_hash);
		if (head < 0 && head != ZT_E_PROTOCOL) {
			snprintf(error, size, "%s: %s", a->head,
			    strerror(-head));
			return head;
		}
	}
	if (tail == TAIL_RECORD)
		digest_hex(last.hash, HASH_SIZE, hex);
	if (head == 1)
		digest_hex(head_hash, HASH_SIZE, head_hex);

	if (head == 1 && tail == TAIL_RECORD && last.seq == head_seq &&
	    memcmp(last.hash, head_hash, HASH_SIZE) == 0)
		; /* the usual case */
	else if (head == 1 && tail == TAIL_RECORD &&
	    last.seq == head_seq + 1 &&
	    memcmp(last.prev, head_hash, HASH_SIZE) == 0) {
		zt_log(LOG_NOTICE, "audit: %s ends one record after the head "
		    "%s (seq %" PRIu64 "): stopped between the two; going on "
		    "from the file", a->file, a->head, head_seq);
		head = 0;
	} else if (head == 1 && tail == TAIL_RECORD && last.seq > head_seq) {
		zt_log(LOG_ERR, "audit: %s goes on to seq %" PRIu64 " past the "
		    "head %s at seq %" PRIu64 ": the head was not updated (or "
		    "records were added); going on from the file", a->file,
		    last.seq, a->head, head_seq);
		head = 0;
	} else if (head == 1) {
		if (tail == TAIL_RECORD)
			zt_log(LOG_ERR, "audit: %s ends at seq %" PRIu64
			    " (hash %.16s) but the head %s is at seq %" PRIu64
			    " (hash %.16s): the file was cut or edited; going "
			    "on from the head", a->file, last.seq, hex, a->head,
			    head_seq, head_hex);
		else
			zt_log(LOG_ERR, "audit: %s: %s but the head %s is at "
			    "seq %" PRIu64 ": the file was cut or edited; "
			    "going on from the head", a->file,
			    tail == TAIL_EMPTY ? "the file is empty" : why,
			    a->head, head_seq);
	} else if (tail == TAIL_BAD) {
		snprintf(error, size, "%s: %s, and there is no valid head to "
		    "go on from: check it with `ztctl audit verify` and move "
		    "it aside", a->file, why);
		return ZT_E_PROTOCOL;
	} else if (a->head != NULL && tail == TAIL_RECORD)
		zt_log(LOG_ERR, "audit: the head %s is %s but %s ends at seq "
		    "%" PRIu64 ": going on from the file", a->head,
		    head == 0 ? "missing" : "malformed", a->file, last.seq);
	else if (head == ZT_E_PROTOCOL)
		zt_log(LOG_ERR, "audit: the head %s is malformed and %s is "
		    "empty: starting a new chain", a->head, a->file);

	if (head == 1) {
		a->seq = head_seq;
		memcpy(a->hash, head_hash, HASH_SIZE);
	} else if (tail == TAIL_RECORD) {
		a->seq = last.seq;
		memcpy(a->hash, last.hash, HASH_SIZE);
	}
	if (a->seq == UINT64_MAX) {
		snprintf(error, size, "%s: seq %" PRIu64 " leaves no seq to "
		    "go on with", a->file, a->seq);
		return ZT_E_PROTOCOL;
	}
	if (a->newline_owed)
		zt_log(LOG_ERR, "audit: %s ends inside a line: the next "
		    "record starts on a new one", a->file);
	return 0;
}

int
audit_open(const char *file, const char *head_path, bool require,
    struct audit **audit, char *error, size_t size)
{
	struct audit *a;
	int r;

	*audit = NULL;
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(error, size, "out of memory");
		return -ENOMEM;
	}
	a->fd = -1;
	a->dir_fd = -1;
	a->require = require;
	a->md = EVP_MD_CTX_new();
	if (a->md == NULL)
		goto oom;
	/* Without a file the chain lives in memory only: the head (which
	 * names a record of the file) is neither read nor written. */
	if (file == NULL) {
		*audit = a;
		return 0;
	}
	a->file = strdup(file);
	if (a->file == NULL)
		goto oom;
	if (head_path != NULL) {
		size_t len = strlen(head_path);

		a->head = strdup(head_path);
		a->head_temp = malloc(len + sizeof(".tmp"));
		if (a->head == NULL || a->head_temp == NULL)
			goto oom;
		memcpy(a->head_temp, head_path, len);
		memcpy(a->head_temp + len, ".tmp", sizeof(".tmp"));
		a->dir_fd = open_parent(head_path);
		if (a->dir_fd < 0) {
			r = a->dir_fd;
			snprintf(error, size, "%s: its directory: %s",
			    head_path, strerror(-r));
			goto fail;
		}
	}
	if ((r = open_file(a, error, size)) < 0 ||
	    (r = resume(a, error, size)) < 0)
		goto fail;
	*audit = a;
	return 0;

oom:
	snprintf(error, size, "out of memory");
	r = -ENOMEM;
fail:
	audit_free(a);
	return r;
}

void
audit_free(struct audit *audit)
{
	if (audit == NULL)
		return;
	if (audit->fd >= 0)
		close(audit->fd);
	if (audit->dir_fd >= 0)
		close(audit->dir_fd);
	EVP_MD_CTX_free(audit->md);
	free(audit->file);
	free(audit->head);
	free(audit->head_temp);
	free(audit);
}

uint64_t
audit_last_seq(const struct audit *audit)
{
	return audit != NULL ? audit->seq : 0;
}

/* An untrusted value, escaped, quoted and bounded; NULL is "-". */
static const char *
quote(char *dst, size_t size, const char *value)
{
	if (value == NULL)
		return "-";
	return zt_escape(dst, size, value, strlen(value));
}

/*
 * A trusted word (action, grant id, cache, attest) as it is, or escaped
 * like an untrusted value when it is not one word: a caller's slip never
 * splits or forges a line.  NULL or empty is "-".
 */
static const char *
word(char *dst, size_t size, const char *value)
{
	size_t len;

	if (value == NULL || value[0] == '\0')
		return "-";
	len = strlen(value);
	if (len < size && strspn(value, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/@+-") == len)
		return value;
	return zt_escape(dst, size, value, len);
}

/* Write all of BUFFER to FD (the small head file). */
static int
write_all(int fd, const char *buffer, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buffer, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buffer += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Replace the head with the chain's end: temp file, fsync, rename. */
static int
head_write(struct audit *a)
{
	char text[HEAD_TEXT_MAX + 1], hex[HEX_SIZE + 1];
	int fd, n, r = 0;

	digest_hex(a->hash, HASH_SIZE, hex);
	n = snprintf(text, sizeof(text), "%" PRIu64 " %s\n", a->seq, hex);
	fd = open(a->head_temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0 ||
	    (r = write_all(fd, text, (size_t)n)) < 0 || fsync(fd) < 0)
		r = r < 0 ? r : -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(a->head_temp, a->head) < 0)
		r = -errno;
	if (r < 0) {
		unlink(a->head_temp);
		return r;
	}
	/* The rename itself must survive a crash, or the head lags. */
	if (fsync(a->dir_fd) < 0)
		return -errno;
	return 0;
}

/*
 * Append RECORD (LEN bytes) with one write(): O_APPEND keeps it whole
 * against other appenders.  fdatasync() before the head names it, so the
 * head is never ahead of the file after a crash.  Returns 0 or -errno,
 * and *WHAT for the log.
 */
static int
append_record(struct audit *a, const char *record, size_t len,
    const char **what)
{
	ssize_t n;

	do
		n = write(a->fd, record, len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		*what = "write";
		return -errno;
	}
	if (n > 0)
		a->newline_owed = record[n - 1] != '\n';
	if ((size_t)n < len) {
		*what = "short write";
		return -EIO;
	}
	if (fdatasync(a->fd) < 0) {
		*what = "fdatasync";
		return -errno;
	}
	return 0;
}

int
audit_write(struct audit *audit, const struct audit_event *event)
{
	char agent[NAME_ESCAPED_MAX], account[NAME_ESCAPED_MAX];
	char object[OBJECT_ESCAPED_MAX], reason[REASON_ESCAPED_MAX];
	char action[TOKEN_MAX], grant[TOKEN_MAX], cache[TOKEN_MAX];
	char attest[TOKEN_MAX], age[24];
	/* An owed '\n', the line, prev= and hash=, '\n' and NUL. */
	char record[1 + BODY_MAX_LEN + SUFFIX_LEN + 2];
	char *line = record + 1, hex[HEX_SIZE + 1];
	uint8_t hash[HASH_SIZE];
	const char *what = NULL;
	size_t body, len;
	uint64_t seq;
	int n, r, sent;

	if (audit == NULL || event == NULL)
		return -EINVAL;
	seq = audit->seq + 1;
	if (event->age < 0)
		snprintf(age, sizeof(age), "-");
	else
		snprintf(age, sizeof(age), "%ld", event->age);
	n = snprintf(line, BODY_MAX_LEN + 1, "decision=%s action=%s agent=%s "
	    "account=%s uid=%lu pid=%ld object=%s reason=%s grant=%s "
	    "cache=%s attest=%s age=%s%s seq=%" PRIu64,
	    event->allow ? "allow" : "deny",
	    word(action, sizeof(action), event->action),
	    quote(agent, sizeof(agent), event->agent),
	    quote(account, sizeof(account), event->account),
	    (unsigned long)event->uid, (long)event->pid,
	    event->object != NULL && event->object_len > 0 ?
	    zt_escape(object, sizeof(object), event->object,
	    event->object_len) : quote(object, sizeof(object), event->object),
	    quote(reason, sizeof(reason), event->reason),
	    word(grant, sizeof(grant), event->grant),
	    word(cache, sizeof(cache), event->cache),
	    word(attest, sizeof(attest), event->attest), age,
	    event->unenforced ? " enforced=no" : "", seq);
	if (n < 0 || (size_t)n > BODY_MAX_LEN)
		return -EINVAL;	/* impossible: see LINE_MAX_LEN */
	body = (size_t)n;

	/* The hash covers the line without chain= (which is the hash). */
	len = body;
	memcpy(line + len, PREV_KEY, KEY_LEN);
	len += KEY_LEN;
	digest_hex(audit->hash, HASH_SIZE, line + len);
	len += HEX_SIZE;
	r = chain_hash(audit->md, audit->hash, line, len, hash);
	if (r < 0) {
		/* Still one line per decision; the chain does not move. */
		zt_log_audit("%.*s chain=-", (int)body, line);
		zt_log(LOG_ERR, "audit: record seq %" PRIu64 " not chained: "
		    "%s", seq, strerror(-r));
		return audit->fd >= 0 && audit->require ? r : 0;
	}
	digest_hex(hash, HASH_SIZE, hex);
	sent = zt_log_audit("%.*s chain=%.*s", (int)body, line, CHAIN_HEX,
	    hex);

	/* The chain moves on even when the file misses the record: seq
	 * stays one per syslog line, and the hole shows in the file. */
	audit->seq = seq;
	memcpy(audit->hash, hash, HASH_SIZE);
	/* With audit.require a decision whose syslog line was lost is a
	 * deny too: every decision is audited, or refused. */
	if (audit->fd < 0)
		return sent < 0 && audit->require ? sent : 0;

	memcpy(line + len, HASH_KEY, KEY_LEN);
	len += KEY_LEN;
	memcpy(line + len, hex, HEX_SIZE);
	len += HEX_SIZE;
	line[len++] = '\n';
	if (audit->newline_owed) {
		record[0] = '\n';
		line = record;
		len++;
	}
	r = append_record(audit, line, len, &what);
	/* The head follows the chain even past a lost record, so that a
	 * restart goes on after it and the loss stays visible. */
	if (audit->head != NULL) {
		int h = head_write(audit);

		if (h < 0 && r == 0) {
			r = h;
			what = "head";
		}
	}
	if (r < 0) {
		if (!audit->failing)
			zt_log(LOG_ERR, "audit: %s: record seq %" PRIu64 " not "
			    "written (%s: %s); records are lost until it works "
			    "again", strcmp(what, "head") == 0 ? audit->head :
			    audit->file, seq, what, strerror(-r));
		audit->failing = true;
		audit->lost++;
		return audit->require ? r : 0;
	}
	if (audit->failing) {
		zt_log(LOG_NOTICE, "audit: %s written again from seq %" PRIu64
		    " after %" PRIu64 " lost records", audit->file, seq,
		    audit->lost);
		audit->failing = false;
		audit->lost = 0;
	}
	return sent < 0 && audit->require ? sent : 0;
}

/* Reads lines of at most RECORD_LINE_MAX bytes, whatever the file says. */
struct line_reader {
	FILE *f;
	char line[RECORD_LINE_MAX + 1];
	size_t len;
};

enum line_kind {
	LINE_END,		/* no more lines */
	LINE_OK,		/* a line, newline stripped */
	LINE_LONG,		/* longer than RECORD_LINE_MAX */
	LINE_UNTERMINATED,	/* the last line has no newline */
};

/* Returns a line kind, or -errno. */
static int
next_line(struct line_reader *lr)
{
	int c;

	lr->len = 0;
	while ((c = getc_unlocked(lr->f)) != EOF && c != '\n') {
		if (lr->len == RECORD_LINE_MAX)
			return LINE_LONG;
		lr->line[lr->len++] = (char)c;
	}
	if (c == EOF && ferror(lr->f))
		return errno != 0 ? -errno : -EIO;
	if (c == EOF)
		return lr->len == 0 ? LINE_END : LINE_UNTERMINATED;
	return LINE_OK;
}

/* Compare the end of the chain (COUNT records, LAST) with the head. */
static int
verify_head(const char *head_path, uint64_t count, const struct record *last,
    char *report, size_t size)
{
	uint8_t hash[HASH_SIZE];
	uint64_t seq = 0;
	int r;

	r = head_read(head_path, &seq, hash);
	if (r < 0 && r != ZT_E_PROTOCOL) {
		snprintf(report, size, "%s: %s", head_path, strerror(-r));
		return r;
	}
	if (r == ZT_E_PROTOCOL) {
		snprintf(report, size, "the head %s is malformed", head_path);
		return ZT_E_PROTOCOL;
	}
	if (r == 0) {
		if (count == 0) {
			snprintf(report, size, "0 records intact, head seq 0");
			return 0;
		}
		snprintf(report, size, "the head %s is missing (the file has "
		    "%" PRIu64 " records)", head_path, count);
		return ZT_E_PROTOCOL;
	}
	if (count == seq && count > 0 &&
	    memcmp(hash, last->hash, HASH_SIZE) == 0) {
		snprintf(report, size, "%" PRIu64 " records intact, head seq "
		    "%" PRIu64, count, seq);
		return 0;
	}
	/* ztd stops or is read between a record and its head. */
	if (count > 0 && count - 1 == seq &&
	    memcmp(hash, last->prev, HASH_SIZE) == 0) {
		snprintf(report, size, "%" PRIu64 " records intact, head seq "
		    "%" PRIu64 " (the last record is newer than the head)",
		    count, seq);
		return 0;
	}
	if (seq > count)
		snprintf(report, size, "the file ends at record %" PRIu64
		    " but the head is at seq %" PRIu64 ": records were cut "
		    "from the end", count, seq);
	else if (seq < count)
		snprintf(report, size, "the file goes on to record %" PRIu64
		    " past the head at seq %" PRIu64 ": records were added "
		    "after it", count, seq);
	else
		snprintf(report, size, "record %" PRIu64 " (line %" PRIu64
		    "): its hash is not the head's: the chain was rewritten",
		    count, count);
	return ZT_E_PROTOCOL;
}

/*
 * Check one line LR of the chain, record COUNT + 1, against PREV (the hash
 * of the record before).  Returns 0 with *REC, ZT_E_PROTOCOL with WHY
 * (SIZE bytes), or a negative code.
 */
static int
check_line(EVP_MD_CTX *md, const struct line_reader *lr, int kind,
    uint64_t count, const uint8_t prev[HASH_SIZE], struct record *rec,
    char *why, size_t size)
{
	uint8_t hash[HASH_SIZE];
	const char *malformed;
	int r;

	if (kind == LINE_LONG)
		malformed = "a line longer than 8192 bytes";
	else if (kind == LINE_UNTERMINATED)
		malformed = "no newline at the end (a record cut short)";
	else
		malformed = parse_record(lr->line, lr->len, rec);
	if (malformed != NULL) {
		snprintf(why, size, "malformed: %s", malformed);
		return ZT_E_PROTOCOL;
	}
	if (rec->seq != count + 1) {
		snprintf(why, size, "seq %" PRIu64 " where %" PRIu64 " was "
		    "expected: %s", rec->seq, count + 1, rec->seq > count + 1 ?
		    "records before it were removed" :
		    "records are out of order or repeated");
		return ZT_E_PROTOCOL;
	}
	if (memcmp(rec->prev, prev, HASH_SIZE) != 0) {
		snprintf(why, size, "%s", count == 0 ?
		    "prev= of the first record is not zero" :
		    "prev= is not the hash of the record before it: a record "
		    "was removed, moved or edited");
		return ZT_E_PROTOCOL;
	}
	if ((r = chain_hash(md, prev, lr->line, rec->hashed_len, hash)) < 0) {
		snprintf(why, size, "%s", strerror(-r));
		return r;
	}
	if (memcmp(hash, rec->hash, HASH_SIZE) != 0) {
		snprintf(why, size, "hash does not match: the record was "
		    "edited");
		return ZT_E_PROTOCOL;
	}
	return 0;
}

int
audit_verify(const char *path, const char *head_path, char *report,
    size_t size)
{
	struct line_reader *lr;
	struct record rec = { 0 }, last = { 0 };
	uint8_t prev[HASH_SIZE] = { 0 };
	EVP_MD_CTX *md;
	uint64_t count = 0;
	char why[256];
	int r, kind;

	lr = calloc(1, sizeof(*lr));
	md = EVP_MD_CTX_new();
	if (lr == NULL || md == NULL) {
		snprintf(report, size, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	lr->f = fopen(path, "re");
	if (lr->f == NULL) {
		r = -errno;
		snprintf(report, size, "%s: %s", path, strerror(-r));
		goto out;
	}
	for (;;) {
		errno = 0;
		kind = next_line(lr);
		if (kind < 0) {
			r = kind;
			snprintf(report, size, "%s: %s", path, strerror(-r));
			goto out;
		}
		if (kind == LINE_END)
			break;
		/* Every line is a record: record N is line N. */
		r = check_line(md, lr, kind, count, prev, &rec, why,
		    sizeof(why));
		if (r < 0) {
			snprintf(report, size, "record %" PRIu64 " (line %"
			    PRIu64 "): %s", count + 1, count + 1, why);
			goto out;
		}
		count++;
		memcpy(prev, rec.hash, HASH_SIZE);
		last = rec;
	}
	if (head_path != NULL)
		r = verify_head(head_path, count, &last, report, size);
	else {
		snprintf(report, size, "%" PRIu64 " records intact, head seq "
		    "%" PRIu64, count, count);
		r = 0;
	}
out:
	if (lr != NULL && lr->f != NULL)
		fclose(lr->f);
	free(lr);
	EVP_MD_CTX_free(md);
	return r;
}

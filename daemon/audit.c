/* SPDX-License-Identifier: Apache-2.0 */
/* The audit trail: syslog lines, the hash-chained file and head, verify. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
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
#define OBJECT_ESCAPED_MAX 768		/* object=, file= */
#define DNSNAME_ESCAPED_MAX 256		/* name= (a DNS name: 253 bytes) */
#define REASON_ESCAPED_MAX 384		/* reason= */
#define HOST_ESCAPED_MAX 256		/* host= */
#define TOKEN_MAX 40		/* action=, grant=, cache=, attest= */

/* Every key with its '=' and separating space, "allow" the longer word. */
#define LINE_KEYS "time= host= decision=allow action= agent= account= " \
	"uid= pid= object= name= reason= grant= cache= attest= age= " \
	"suppressed= enforced=no seq= chain="
/* uid (10), pid (11), age (19), suppressed and seq (20), chain= at their
 * widest, and time=. */
#define LINE_NUMBERS (10 + 11 + 19 + 20 + 20 + CHAIN_HEX + \
	AUDIT_TIME_SIZE - 1)
#define LINE_MAX_LEN (sizeof(LINE_KEYS) - 1 + LINE_NUMBERS + \
	HOST_ESCAPED_MAX - 1 + 2 * (NAME_ESCAPED_MAX - 1) + \
	OBJECT_ESCAPED_MAX - 1 + DNSNAME_ESCAPED_MAX - 1 + \
	REASON_ESCAPED_MAX - 1 + 4 * (TOKEN_MAX - 1))
_Static_assert(LINE_MAX_LEN < ZT_LOG_LINE_MAX,
    "an audit line must fit in one log line");
/* An event=reopen line is shorter: file= and reason= only. */
_Static_assert(sizeof("event=reopen file= reason=") <
    sizeof("decision=allow action= object= reason=") + 2 * TOKEN_MAX,
    "an event line fits where a decision line does");
/* The line without " chain=HEX16": what the file record starts with. */
#define BODY_MAX_LEN (LINE_MAX_LEN - (sizeof(" chain=") - 1) - CHAIN_HEX)
/* What goes between "host=... " and " seq=N". */
#define FIELDS_MAX_LEN (BODY_MAX_LEN - (sizeof("time= host= seq=") - 1) - \
	(AUDIT_TIME_SIZE - 1) - (HOST_ESCAPED_MAX - 1) - 20)
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
	/* HASH in hex (the next record's prev=), made with the record;
	 * HEX_OF is the hash it was made from, checked before use. */
	uint8_t hex_of[HASH_SIZE];
	char hash_hex[HEX_SIZE + 1];
	bool hex_made;
	EVP_MD_CTX *md;
	/* Group commit (audit_hold): records held for the file, written by
	 * audit_flush with one write, one fdatasync and one head. */
	bool hold;
	char *held;
	size_t held_len, held_size;
	uint64_t held_seq;	/* the last held record's */
	uint64_t held_count;	/* records held */
	char host[HOST_ESCAPED_MAX];	/* host=, as written */
	void (*clock)(struct timespec *ts);	/* time=; NULL: realtime */
};

/* One record of the file, as parse_record() reads it. */
struct record {
	bool reopen;		/* an event=reopen record */
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

/* SHA-256, fetched once: EVP_sha256() in every record's init fetched it
 * from the provider each time (perf: 3 % of ztd's time per decision). */
static EVP_MD *chain_sha256;
static pthread_once_t chain_sha256_once = PTHREAD_ONCE_INIT;

static void
fetch_chain_sha256(void)
{
	chain_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* SHA-256(PREV || TEXT): the hash of one record. */
static int
chain_hash(EVP_MD_CTX *md, const uint8_t prev[HASH_SIZE], const char *text,
    size_t len, uint8_t out[HASH_SIZE])
{
	unsigned int n = 0;

	pthread_once(&chain_sha256_once, fetch_chain_sha256);
	if (chain_sha256 == NULL ||
	    EVP_DigestInit_ex(md, chain_sha256, NULL) != 1 ||
	    EVP_DigestUpdate(md, prev, HASH_SIZE) != 1 ||
	    EVP_DigestUpdate(md, text, len) != 1 ||
	    EVP_DigestFinal_ex(md, out, &n) != 1 || n != HASH_SIZE)
		return -ENOMEM;
	return 0;
}

/*
 * Past the value at P (bare, or quoted with \" and \\ inside), at
 * most END; NULL when it does not end before END.
 */
static const char *
skip_value(const char *p, const char *end)
{
	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++)
			if (*p == '\\')
				p++;
		return p < end ? p + 1 : NULL;
	}
	while (p < end && *p != ' ')
		p++;
	return p;
}

/*
 * Read LINE (LEN bytes, without its newline) as a record.  Only the frame
 * is checked here (printable ASCII, "time=T host=H " and then
 * "decision=" or "event=reopen ", or a record from before time= starting
 * with "decision=", seq= last, then prev= and hash=); the hash covers the
 * rest.  Returns NULL, or what is wrong.
 */
static const char *
parse_record(const char *line, size_t len, struct record *r)
{
	const char *suffix, *end, *kind = line;
	size_t digits = 0;

	if (len <= SUFFIX_LEN)
		return "not an audit record";
	for (size_t i = 0; i < len; i++)
		if (line[i] < 0x20 || line[i] > 0x7e)
			return "a byte that is not printable ASCII";
	suffix = line + len - SUFFIX_LEN;
	if (strncmp(line, "time=", 5) == 0) {
		kind = skip_value(line + 5, suffix);
		if (kind == NULL || suffix - kind < 6 ||
		    strncmp(kind, " host=", 6) != 0 ||
		    (kind = skip_value(kind + 6, suffix)) == NULL ||
		    kind == suffix || *kind++ != ' ')
			return "no time= and host= at the start";
	}
	r->reopen = kind != line && (size_t)(suffix - kind) > 13 &&
	    strncmp(kind, "event=reopen ", 13) == 0;
	if (!r->reopen && strncmp(kind, "decision=allow ", 15) != 0 &&
	    strncmp(kind, "decision=deny ", 14) != 0)
		return "not an audit record";
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
	bool started_empty = false;
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
		else if (tail == TAIL_EMPTY) {
			zt_log(LOG_WARNING, "audit: %s is empty but the head "
			    "%s is at seq %" PRIu64 ": a file rotated while "
			    "ztd was stopped (or one emptied); the chain goes "
			    "on from the head with an event=reopen record",
			    a->file, a->head, head_seq);
			started_empty = true;
		} else
			zt_log(LOG_ERR, "audit: %s: %s but the head %s is at "
			    "seq %" PRIu64 ": the file was cut or edited; "
			    "going on from the head", a->file, why, a->head,
			    head_seq);
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
	return started_empty ? 1 : 0;
}

static int write_reopen(struct audit *audit, const char *why);

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
	audit_set_host(a, NULL);
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
	/* A new file that goes on from the head says so first. */
	if (r == 1 && (r = write_reopen(a, "ztd started on an empty file: "
	    "the chain goes on from the head")) < 0) {
		snprintf(error, size, "%s: the reopen record could not be "
		    "written: %s", a->file, zt_strerror(r));
		goto fail;
	}
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
	free(audit->held);
	free(audit->file);
	free(audit->head);
	free(audit->head_temp);
	free(audit);
}

const char *
audit_path(const struct audit *audit)
{
	return audit != NULL && audit->file != NULL ? audit->file : "";
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

/* A-Z a-z 0-9 . _ : / @ + -: a word's characters (a test, not strspn's
 * table built anew on each call: four words a record). */
static bool
word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
	    c == '/' || c == '@' || c == '+' || c == '-';
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
	for (len = 0; value[len] != '\0' && word_char(value[len]); len++)
		;
	if (value[len] == '\0' && len < size)
		return value;
	return zt_escape(dst, size, value, len + strlen(value + len));
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

void
audit_time_now(const struct audit *audit, char out[AUDIT_TIME_SIZE])
{
	/* The seconds' part is made once a second, not once a record. */
	static __thread time_t stamped = (time_t)-1;
	static __thread char second[AUDIT_TIME_SIZE];
	static __thread size_t second_len;
	struct timespec ts = { 0 };
	long us;

	if (audit != NULL && audit->clock != NULL)
		audit->clock(&ts);
	else
		clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != stamped || stamped == (time_t)-1) {
		struct tm tm;
		size_t n;

		if (gmtime_r(&ts.tv_sec, &tm) == NULL ||
		    (n = strftime(second, sizeof(second), "%Y-%m-%dT%H:%M:%S",
		    &tm)) == 0 || n + sizeof(".000000Z") > AUDIT_TIME_SIZE) {
			stamped = (time_t)-1;
			snprintf(out, AUDIT_TIME_SIZE, "-");
			return;
		}
		second_len = n;
		stamped = ts.tv_sec;
	}
	memcpy(out, second, second_len);
	out[second_len] = '.';
	us = ts.tv_nsec / 1000;
	for (int i = 6; i >= 1; i--, us /= 10)
		out[second_len + (size_t)i] = (char)('0' + us % 10);
	memcpy(out + second_len + 7, "Z", 2);
}

void
audit_set_clock(struct audit *audit, void (*now)(struct timespec *ts))
{
	if (audit != NULL)
		audit->clock = now;
}

void
audit_set_host(struct audit *audit, const char *name)
{
	char system[HOST_ESCAPED_MAX];
	const char *value;

	if (audit == NULL)
		return;
	if (name == NULL) {
		if (gethostname(system, sizeof(system)) < 0)
			system[0] = '\0';
		system[sizeof(system) - 1] = '\0';
		name = system;
	}
	value = word(audit->host, sizeof(audit->host), name);
	if (value != audit->host)
		snprintf(audit->host, sizeof(audit->host), "%s", value);
}

/* A line put together by copies (no format): cut is set, and nothing more
 * goes in, once a piece would not fit with its NUL. */
struct out {
	char *p;
	size_t size, len;
	bool cut;
};

static void
put(struct out *o, const char *text, size_t len)
{
	if (o->cut || len >= o->size - o->len) {
		o->cut = true;
		return;
	}
	memcpy(o->p + o->len, text, len);
	o->len += len;
	o->p[o->len] = '\0';
}

static void
put_str(struct out *o, const char *text)
{
	put(o, text, strlen(text));
}

static void
put_u64(struct out *o, uint64_t v)
{
	char digits[24];
	size_t i = sizeof(digits);

	do
		digits[--i] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	put(o, digits + i, sizeof(digits) - i);
}

static void
put_i64(struct out *o, int64_t v)
{
	if (v < 0) {
		put(o, "-", 1);
		put_u64(o, (uint64_t)0 - (uint64_t)v);
	} else
		put_u64(o, (uint64_t)v);
}

static int write_records(struct audit *audit, const char *records,
    size_t len, uint64_t seq, uint64_t count);
static int hold_record(struct audit *audit, const char *line, size_t len,
    uint64_t seq);

/*
 * Write one record: "time=T host=H FIELDS seq=N" to syslog with chain=,
 * and with prev= and hash= to the file, moving the chain on (see
 * audit_write for the failure rules).  FIELDS (LEN bytes) is formatted.
 */
static int
write_record(struct audit *audit, const char *fields, size_t fields_len)
{
	char stamp[AUDIT_TIME_SIZE];
	/* An owed '\n', the line, prev= and hash=, '\n' and NUL. */
	char record[1 + BODY_MAX_LEN + SUFFIX_LEN + 2];
	char *line = record + 1, hex[HEX_SIZE + 1];
	/* The syslog line: the body and chain=. */
	char syslog_line[BODY_MAX_LEN + sizeof(" chain=") + CHAIN_HEX];
	uint8_t hash[HASH_SIZE];
	struct out o;
	size_t body, len;
	uint64_t seq;
	int r, sent;

	if (fields_len > FIELDS_MAX_LEN)
		return -EINVAL;	/* impossible: see LINE_MAX_LEN */
	seq = audit->seq + 1;
	audit_time_now(audit, stamp);
	/* "time=T host=H FIELDS seq=N" (FIELDS_MAX_LEN leaves room). */
	o = (struct out){ .p = line, .size = BODY_MAX_LEN + 1 };
	put(&o, "time=", 5);
	put_str(&o, stamp);
	put(&o, " host=", 6);
	put_str(&o, audit->host);
	put(&o, " ", 1);
	put(&o, fields, fields_len);
	put(&o, " seq=", 5);
	put_u64(&o, seq);
	if (o.cut)
		return -EINVAL;	/* impossible: see LINE_MAX_LEN */
	body = o.len;

	/* The hash covers the line without chain= (which is the hash). */
	len = body;
	memcpy(line + len, PREV_KEY, KEY_LEN);
	len += KEY_LEN;
	if (!audit->hex_made ||
	    memcmp(audit->hex_of, audit->hash, HASH_SIZE) != 0)
		digest_hex(audit->hash, HASH_SIZE, line + len);
	else
		memcpy(line + len, audit->hash_hex, HEX_SIZE);
	len += HEX_SIZE;
	r = chain_hash(audit->md, audit->hash, line, len, hash);
	if (r < 0) {
		/* Still one line per decision; the chain does not move. */
		o = (struct out){ .p = syslog_line,
		    .size = sizeof(syslog_line) };
		put(&o, line, body);
		put(&o, " chain=-", 8);
		zt_log_audit(syslog_line, o.len);
		zt_log(LOG_ERR, "audit: record seq %" PRIu64 " not chained: "
		    "%s", seq, strerror(-r));
		return audit->fd >= 0 && audit->require ? r : 0;
	}
	digest_hex(hash, HASH_SIZE, hex);
	o = (struct out){ .p = syslog_line, .size = sizeof(syslog_line) };
	put(&o, line, body);
	put(&o, " chain=", 7);
	put(&o, hex, CHAIN_HEX);
	sent = zt_log_audit(syslog_line, o.len);

	/* The chain moves on even when the file misses the record: seq
	 * stays one per syslog line, and the hole shows in the file. */
	audit->seq = seq;
	memcpy(audit->hash, hash, HASH_SIZE);
	memcpy(audit->hex_of, hash, HASH_SIZE);
	memcpy(audit->hash_hex, hex, sizeof(audit->hash_hex));
	audit->hex_made = true;
	/* With audit.require a decision whose syslog line was lost is a
	 * deny too: every decision is audited, or refused. */
	if (audit->fd < 0)
		return sent < 0 && audit->require ? sent : 0;

	memcpy(line + len, HASH_KEY, KEY_LEN);
	len += KEY_LEN;
	memcpy(line + len, hex, HEX_SIZE);
	len += HEX_SIZE;
	line[len++] = '\n';
	if (audit->hold && hold_record(audit, line, len, seq) == 0)
		return 0;	/* written by audit_flush */
	if (audit->newline_owed) {
		record[0] = '\n';
		line = record;
		len++;
	}
	r = write_records(audit, line, len, seq, 1);
	return (r < 0 || sent < 0) && audit->require ? (r < 0 ? r : sent) :
	    0;
}

/*
 * Append RECORDS (LEN bytes, COUNT whole lines ending at seq SEQ) to the
 * file, then the head.  0, or -errno (logged once while it fails).
 */
static int
write_records(struct audit *audit, const char *records, size_t len,
    uint64_t seq, uint64_t count)
{
	const char *what = NULL;
	int r = append_record(audit, records, len, &what);

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
		audit->lost += count;
		return r;
	}
	if (audit->failing) {
		zt_log(LOG_NOTICE, "audit: %s written again from seq %" PRIu64
		    " after %" PRIu64 " lost records", audit->file,
		    seq - count + 1, audit->lost);
		audit->failing = false;
		audit->lost = 0;
	}
	return 0;
}

/* Keep the file record LINE (LEN bytes, seq SEQ) for audit_flush.  0, or
 * -ENOMEM (then it is written at once). */
static int
hold_record(struct audit *audit, const char *line, size_t len, uint64_t seq)
{
	/* An owed newline goes first, once. */
	size_t need = audit->held_len + len + 1;

	if (need > audit->held_size) {
		size_t size = audit->held_size ? audit->held_size * 2 : 65536;
		char *grown;

		while (size < need)
			size *= 2;
		if ((grown = realloc(audit->held, size)) == NULL)
			return -ENOMEM;
		audit->held = grown;
		audit->held_size = size;
	}
	if (audit->held_len == 0 && audit->newline_owed)
		audit->held[audit->held_len++] = '\n';
	memcpy(audit->held + audit->held_len, line, len);
	audit->held_len += len;
	audit->held_seq = seq;
	audit->held_count++;
	return 0;
}

void
audit_hold(struct audit *audit, bool hold)
{
	if (audit == NULL)
		return;
	zt_log_audit_hold(hold);
	audit->hold = hold;
}

int
audit_flush(struct audit *audit)
{
	int sent, r = 0;

	if (audit == NULL)
		return 0;
	sent = zt_log_audit_flush();
	if (audit->held_count > 0) {
		r = write_records(audit, audit->held, audit->held_len,
		    audit->held_seq, audit->held_count);
		audit->held_len = 0;
		audit->held_count = 0;
	}
	if (!audit->require)
		return 0;
	return r < 0 ? r : sent < 0 ? sent : 0;
}

int
audit_write(struct audit *audit, const struct audit_event *event)
{
	char agent[NAME_ESCAPED_MAX], account[NAME_ESCAPED_MAX];
	char object[OBJECT_ESCAPED_MAX], reason[REASON_ESCAPED_MAX];
	char action[TOKEN_MAX], grant[TOKEN_MAX], cache[TOKEN_MAX];
	char name[DNSNAME_ESCAPED_MAX + sizeof(" name=")];
	char attest[TOKEN_MAX];
	char fields[FIELDS_MAX_LEN + 1];
	struct out o;

	if (audit == NULL || event == NULL)
		return -EINVAL;
	name[0] = '\0';
	if (event->name != NULL) {
		memcpy(name, " name=", 6);
		quote(name + 6, DNSNAME_ESCAPED_MAX, event->name);
	}
	/* Put together by copies: no format pass over the values. */
	o = (struct out){ .p = fields, .size = sizeof(fields) };
	put_str(&o, event->allow ? "decision=allow action=" :
	    "decision=deny action=");
	put_str(&o, word(action, sizeof(action), event->action));
	put_str(&o, " agent=");
	put_str(&o, quote(agent, sizeof(agent), event->agent));
	put_str(&o, " account=");
	put_str(&o, quote(account, sizeof(account), event->account));
	put_str(&o, " uid=");
	put_u64(&o, (unsigned long)event->uid);
	put_str(&o, " pid=");
	put_i64(&o, (long)event->pid);
	put_str(&o, " object=");
	put_str(&o, event->object != NULL && event->object_len > 0 ?
	    zt_escape(object, sizeof(object), event->object,
	    event->object_len) : quote(object, sizeof(object), event->object));
	put_str(&o, name);
	put_str(&o, " reason=");
	put_str(&o, quote(reason, sizeof(reason), event->reason));
	put_str(&o, " grant=");
	put_str(&o, word(grant, sizeof(grant), event->grant));
	put_str(&o, " cache=");
	put_str(&o, word(cache, sizeof(cache), event->cache));
	put_str(&o, " attest=");
	put_str(&o, word(attest, sizeof(attest), event->attest));
	put_str(&o, " age=");
	if (event->age < 0)
		put_str(&o, "-");
	else
		put_i64(&o, event->age);
	if (event->suppressed > 0) {
		put_str(&o, " suppressed=");
		put_u64(&o, event->suppressed);
	}
	if (event->unenforced)
		put_str(&o, " enforced=no");
	if (o.cut)
		return -EINVAL;	/* impossible: see LINE_MAX_LEN */
	return write_record(audit, fields, o.len);
}

/* "event=reopen file=PATH reason=WHY": a file starts here. */
static int
write_reopen(struct audit *audit, const char *why)
{
	char file[OBJECT_ESCAPED_MAX], reason[REASON_ESCAPED_MAX];
	char fields[FIELDS_MAX_LEN + 1];
	int n;

	n = snprintf(fields, sizeof(fields), "event=reopen file=%s reason=%s",
	    quote(file, sizeof(file), audit->file),
	    quote(reason, sizeof(reason), why));
	if (n < 0 || (size_t)n >= sizeof(fields))
		return -EINVAL;
	return write_record(audit, fields, (size_t)n);
}

int
audit_reopen(struct audit *audit, const char *why, char *error, size_t size)
{
	struct audit fresh = { .fd = -1 };
	struct stat old_st, new_st;
	struct record last;
	const char *bad = NULL;
	int tail, r;

	if (audit == NULL || audit->file == NULL) {
		snprintf(error, size, "no audit file is configured "
		    "(ztd.audit.file): nothing to reopen");
		return ZT_E_CONFIG;
	}
	fresh.file = audit->file;
	if ((r = open_file(&fresh, error, size)) < 0)
		goto refuse;
	if (fstat(audit->fd, &old_st) == 0 && fstat(fresh.fd, &new_st) == 0 &&
	    old_st.st_dev == new_st.st_dev && old_st.st_ino == new_st.st_ino) {
		/* Not rotated: the same file goes on. */
		close(fresh.fd);
		fresh.fd = -1;
	} else {
		tail = read_tail(&fresh, &last, &bad);
		if (tail < 0) {
			r = tail;
			snprintf(error, size, "%s: %s", audit->file,
			    strerror(-r));
			goto refuse;
		}
		/* Only an empty file, or one ending where this chain is (a
		 * copy put back), may go on: never fork the chain. */
		if (tail == TAIL_BAD || (tail == TAIL_RECORD &&
		    (last.seq != audit->seq ||
		    memcmp(last.hash, audit->hash, HASH_SIZE) != 0))) {
			snprintf(error, size, "%s is not empty and does not "
			    "end with this chain's last record (seq %" PRIu64
			    "): move it aside and reopen again; records go "
			    "on into the old file", audit->file, audit->seq);
			r = ZT_E_PROTOCOL;
			goto refuse;
		}
		/* What was written is on disk before the file is let go. */
		if (fdatasync(audit->fd) < 0)
			zt_log(LOG_ERR, "audit: fdatasync of the old file: %s",
			    strerror(errno));
		close(audit->fd);
		audit->fd = fresh.fd;
		audit->newline_owed = fresh.newline_owed;
	}
	zt_log(LOG_NOTICE, "audit: %s reopened at seq %" PRIu64 ": %s",
	    audit->file, audit->seq + 1, why);
	if ((r = write_reopen(audit, why)) < 0)
		snprintf(error, size, "%s: the reopen record could not be "
		    "written: %s", audit->file, zt_strerror(r));
	return r;
refuse:
	if (fresh.fd >= 0)
		close(fresh.fd);
	return r;
}

#define TOKEN 1000000		/* a token in microtokens */

void
audit_limit_init(struct audit_limit *limit, int64_t now_ms, unsigned burst)
{
	memset(limit, 0, sizeof(*limit));
	limit->microtokens = (int64_t)burst * TOKEN;
	limit->updated_ms = now_ms;
}

/*
 * Add what RATE_MILLI (thousandths of a token per second, which is
 * microtokens per millisecond) gave since the last update, up to BURST.
 */
static void
limit_refill(struct audit_limit *limit, int64_t now_ms, unsigned rate_milli,
    unsigned burst)
{
	int64_t elapsed = now_ms - limit->updated_ms;
	int64_t full = (int64_t)burst * TOKEN;

	if (elapsed <= 0)
		return;
	limit->updated_ms = now_ms;
	/* Without overflow: a long quiet time fills the bucket. */
	if (elapsed > full / rate_milli)
		limit->microtokens = full;
	else
		limit->microtokens += elapsed * (int64_t)rate_milli;
	if (limit->microtokens > full)
		limit->microtokens = full;
}

bool
audit_limit_take(struct audit_limit *limit, int64_t now_ms,
    unsigned rate_milli, unsigned burst)
{
	if (rate_milli == 0)
		return true;
	limit_refill(limit, now_ms, rate_milli, burst);
	if (limit->microtokens < TOKEN)
		return false;
	limit->microtokens -= TOKEN;
	return true;
}

int64_t
audit_limit_wait_ms(const struct audit_limit *limit, int64_t now_ms,
    unsigned rate_milli)
{
	int64_t elapsed = now_ms - limit->updated_ms, need;

	if (rate_milli == 0)
		return 0;
	need = TOKEN - limit->microtokens;
	if (need <= 0)
		return 0;
	need = (need + rate_milli - 1) / rate_milli;	/* ms from the update */
	return need > elapsed ? need - (elapsed > 0 ? elapsed : 0) : 0;
}

void
audit_limit_hold(const struct audit *audit, struct audit_limit *limit,
    pid_t pid)
{
	if (limit->held++ == 0)
		audit_time_now(audit, limit->since);
	limit->last_pid = pid;
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
    const char *intact, char *report, size_t size)
{
	uint8_t hash[HASH_SIZE];
	uint64_t seq = 0, last_seq = count > 0 ? last->seq : 0;
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
		snprintf(report, size, "the head %s is missing (the files "
		    "have %" PRIu64 " records)", head_path, count);
		return ZT_E_PROTOCOL;
	}
	if (last_seq == seq && count > 0 &&
	    memcmp(hash, last->hash, HASH_SIZE) == 0) {
		snprintf(report, size, "%s, head seq %" PRIu64, intact, seq);
		return 0;
	}
	/* ztd stops or is read between a record and its head. */
	if (count > 0 && last_seq - 1 == seq &&
	    memcmp(hash, last->prev, HASH_SIZE) == 0) {
		snprintf(report, size, "%s, head seq %" PRIu64 " (the last "
		    "record is newer than the head)", intact, seq);
		return 0;
	}
	if (seq > last_seq)
		snprintf(report, size, "the file ends at record %" PRIu64
		    " but the head is at seq %" PRIu64 ": records were cut "
		    "from the end", last_seq, seq);
	else if (seq < last_seq)
		snprintf(report, size, "the file goes on to record %" PRIu64
		    " past the head at seq %" PRIu64 ": records were added "
		    "after it", last_seq, seq);
	else
		snprintf(report, size, "record %" PRIu64 " (seq %" PRIu64
		    "): its hash is not the head's: the chain was rewritten",
		    count, last_seq);
	return ZT_E_PROTOCOL;
}

/*
 * Check one line LR of the chain, record COUNT + 1, against the record
 * before (*LAST; none when COUNT is 0).  The first record of all is seq 1
 * with a zero prev=, or an event=reopen record (the older files are not
 * given).  Returns 0 with *REC, ZT_E_PROTOCOL with WHY (SIZE bytes), or a
 * negative code.
 */
static int
check_line(EVP_MD_CTX *md, const struct line_reader *lr, int kind,
    uint64_t count, bool piece, const struct record *last,
    struct record *rec, char *why, size_t size)
{
	static const uint8_t zero[HASH_SIZE];
	uint8_t hash[HASH_SIZE];
	const char *malformed;
	uint64_t want;
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
	want = count == 0 ? piece ? rec->seq : 1 : last->seq + 1;
	if (rec->seq != want && !(count == 0 && rec->reopen)) {
		snprintf(why, size, "seq %" PRIu64 " where %" PRIu64 " was "
		    "expected: %s", rec->seq, want, rec->seq > want ?
		    count == 0 ? "the start of the chain is missing (give the "
		    "older files first)" : "records before it were removed" :
		    "records are out of order or repeated (files given in "
		    "the wrong order?)");
		return ZT_E_PROTOCOL;
	}
	if (count == 0 && rec->seq == 1 &&
	    memcmp(rec->prev, zero, HASH_SIZE) != 0) {
		snprintf(why, size, "prev= of the first record is not zero");
		return ZT_E_PROTOCOL;
	}
	if (count > 0 && memcmp(rec->prev, last->hash, HASH_SIZE) != 0) {
		snprintf(why, size, "prev= is not the hash of the record "
		    "before it: a record was removed, moved or edited");
		return ZT_E_PROTOCOL;
	}
	if ((r = chain_hash(md, rec->prev, lr->line, rec->hashed_len,
	    hash)) < 0) {
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

static int
verify_files(const char *const *paths, size_t n, const char *head_path,
    bool piece, char *report, size_t size)
{
	struct line_reader *lr;
	struct record rec = { 0 }, last = { 0 }, first = { 0 };
	EVP_MD_CTX *md;
	FILE **files;
	uint64_t count = 0;
	char why[256], intact[256], hex[HEX_SIZE + 1];
	int r = 0, kind;

	if (n == 0) {
		snprintf(report, size, "no file given");
		return -EINVAL;
	}
	lr = calloc(1, sizeof(*lr));
	md = EVP_MD_CTX_new();
	files = calloc(n, sizeof(*files));
	if (lr == NULL || md == NULL || files == NULL) {
		snprintf(report, size, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	/* Every file first: one missing means no verdict at all. */
	for (size_t i = 0; i < n; i++) {
		files[i] = fopen(paths[i], "re");
		if (files[i] == NULL) {
			r = -errno;
			snprintf(report, size, "%s: %s", paths[i],
			    strerror(-r));
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t line = 0;

		lr->f = files[i];
		for (;;) {
			errno = 0;
			kind = next_line(lr);
			if (kind < 0) {
				r = kind;
				snprintf(report, size, "%s: %s", paths[i],
				    strerror(-r));
				goto out;
			}
			/* A piece may be ztd's live file: its last record
			 * may be half written yet (and is not read). */
			if (kind == LINE_END ||
			    (piece && kind == LINE_UNTERMINATED))
				break;
			line++;
			r = check_line(md, lr, kind, count, piece, &last,
			    &rec, why, sizeof(why));
			if (r < 0) {
				snprintf(report, size, "%s: record %" PRIu64
				    " (line %" PRIu64 "): %s", paths[i],
				    count + 1, line, why);
				goto out;
			}
			if (count++ == 0)
				first = rec;
			last = rec;
		}
	}
	if (piece)
		snprintf(intact, sizeof(intact), "%" PRIu64 " records intact "
		    "(seq %" PRIu64 " to %" PRIu64 ", a piece of a chain)",
		    count, first.seq, last.seq);
	else if (count > 0 && first.seq != 1) {
		digest_hex(first.prev, HASH_SIZE, hex);
		snprintf(intact, sizeof(intact), "%" PRIu64 " records intact "
		    "(seq %" PRIu64 " to %" PRIu64 "; the chain starts at an "
		    "event=reopen record after seq %" PRIu64 ", prev %.16s, "
		    "in a file not given)", count, first.seq, last.seq,
		    first.seq - 1, hex);
	} else
		snprintf(intact, sizeof(intact), "%" PRIu64 " records intact",
		    count);
	if (n > 1) {
		size_t used = strlen(intact);

		snprintf(intact + used, sizeof(intact) - used, " in %zu files",
		    n);
	}
	if (head_path != NULL)
		r = verify_head(head_path, count, &last, intact, report, size);
	else {
		snprintf(report, size, "%s, head seq %" PRIu64, intact,
		    count > 0 ? last.seq : 0);
		r = 0;
	}
out:
	if (files != NULL)
		for (size_t i = 0; i < n; i++)
			if (files[i] != NULL)
				fclose(files[i]);
	free(files);
	free(lr);
	EVP_MD_CTX_free(md);
	return r;
}

int
audit_verify_files(const char *const *paths, size_t n,
    const char *head_path, char *report, size_t size)
{
	return verify_files(paths, n, head_path, false, report, size);
}

int
audit_verify_piece(const char *path, char *report, size_t size)
{
	return verify_files(&path, 1, NULL, true, report, size);
}

int
audit_verify(const char *path, const char *head_path, char *report,
    size_t size)
{
	return audit_verify_files(&path, 1, head_path, report, size);
}

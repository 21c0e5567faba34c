/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the audit trail: syslog lines, forging, the chain, verify. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit.h"
#include "zt_err.h"
#include "zt_log.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* authpriv.notice (10 * 8 + 5) and daemon.err / daemon.notice. */
#define PRI_AUDIT (LOG_AUTHPRIV | LOG_NOTICE)	/* 85 */
#define PRI_ERR (LOG_DAEMON | LOG_ERR)		/* 27 */
#define PRI_NOTICE (LOG_DAEMON | LOG_NOTICE)	/* 29 */
#define PRI_WARNING (LOG_DAEMON | LOG_WARNING)	/* 28 */

/* The bounds audit.c promises for escaped values (quotes included). */
#define NAME_BOUND 255
#define OBJECT_BOUND 767
#define REASON_BOUND 383
#define TOKEN_BOUND 39

#define HEX64 64
#define BIG 8192		/* the 8 KiB values of TESTING.md item 19 */

/* The longest line: every key, the widest numbers, every value full. */
/* time= and host= of records written through open_quiet(). */
#define TEST_TIME "2026-12-06T10:31:14.123456Z"
#define TEST_HOST "testhost"
#define TEST_PREFIX "time=" TEST_TIME " host=" TEST_HOST " "

/* The longest line: every key, the widest numbers, every value full. */
#define LINE_LONGEST (sizeof(TEST_PREFIX "decision=allow action= agent= " \
	"account= uid= pid= object= reason= grant= cache= attest= age= " \
	"seq= chain=") - 1 + 10 + 11 + 19 + 20 + 16 + 2 * NAME_BOUND + \
	OBJECT_BOUND + REASON_BOUND + 4 * TOKEN_BOUND)

static const char *const line_keys[] = {
	"time", "host", "decision", "action", "agent", "account", "uid",
	"pid", "object", "reason", "grant", "cache", "attest", "age", "seq",
	"chain",
};
#define N_KEYS ARRAY_SIZE(line_keys)
enum { K_TIME, K_HOST, K_DECISION, K_ACTION, K_AGENT, K_ACCOUNT, K_UID,
	K_PID, K_OBJECT, K_REASON, K_GRANT, K_CACHE, K_ATTEST, K_AGE, K_SEQ,
	K_CHAIN };

/* 2026-12-06T10:31:14.123456Z, always. */
static void
fixed_clock(struct timespec *ts)
{
	ts->tv_sec = 1796553074;
	ts->tv_nsec = 123456789;
}

/* The group's syslog socket, bound in a private directory. */
static char base_dir[64];
static char socket_path[80];
static int log_fd = -1;
static unsigned fixture_count;

/* One test's directory, with the audit file and head inside. */
struct fixture {
	char dir[256];
	char file[PATH_MAX];
	char head[PATH_MAX];
	const void *param;
};

/* One datagram read back from the socket. */
struct datagram {
	char text[ZT_LOG_LINE_MAX + 512];
	size_t len;		/* its real length (MSG_TRUNC) */
	int pri;
	const char *message;	/* after "ztd[PID]: " */
};

/* A line cut into its key=value fields; quoted values decoded. */
struct fields {
	size_t n;
	char key[N_KEYS + 4][16];
	const char *raw[N_KEYS + 4];
	size_t raw_len[N_KEYS + 4];
	char *value[N_KEYS + 4];
	size_t value_len[N_KEYS + 4];
	bool quoted[N_KEYS + 4];
};

/* --------------------------------------------------------------- helpers */

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Every datagram waiting on the socket, at most MAX. */
static size_t
receive(struct datagram *d, size_t max)
{
	char prefix[64];
	size_t n = 0;

	snprintf(prefix, sizeof(prefix), " ztd[%ld]: ", (long)getpid());
	for (;;) {
		struct datagram *g;
		ssize_t r;
		char *end;

		if (n == max) {
			char spare[16];

			/* More than the caller allowed for: a failure. */
			r = recv(log_fd, spare, sizeof(spare), MSG_DONTWAIT);
			assert_true(r < 0);
			break;
		}
		g = &d[n];
		r = recv(log_fd, g->text, sizeof(g->text) - 1,
		    MSG_DONTWAIT | MSG_TRUNC);
		if (r < 0) {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			break;
		}
		g->len = (size_t)r;
		assert_true(g->len < sizeof(g->text) - 1);
		g->text[g->len] = '\0';
		assert_int_equal(strlen(g->text), g->len);
		assert_true(g->text[0] == '<');
		g->pri = (int)strtol(g->text + 1, &end, 10);
		assert_true(*end == '>');
		/* "<PRI>Mmm dd hh:mm:ss ztd[PID]: " */
		assert_true(strlen(end + 1) > 15 + strlen(prefix));
		assert_memory_equal(end + 1 + 15, prefix, strlen(prefix));
		g->message = end + 1 + 15 + strlen(prefix);
		n++;
	}
	return n;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void
fields_free(struct fields *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->value[i]);
	f->n = 0;
}

/*
 * Cut LINE into fields: key=bare or key="..." with only \" \\ \xHH
 * inside, one space between.  Returns 0, or -1 on anything else.
 */
static int
fields_parse(const char *line, struct fields *f)
{
	const char *p = line;

	memset(f, 0, sizeof(*f));
	while (*p != '\0') {
		size_t i = f->n, k = 0;
		char *out;

		if (i == ARRAY_SIZE(f->key))
			return -1;
		while (*p >= 'a' && *p <= 'z' && k < sizeof(f->key[0]) - 1)
			f->key[i][k++] = *p++;
		if (k == 0 || *p++ != '=')
			return -1;
		f->raw[i] = p;
		out = f->value[i] = malloc(strlen(p) + 1);
		assert_non_null(out);
		f->n++;
		if (*p == '"') {
			f->quoted[i] = true;
			p++;
			while (*p != '"') {
				if (*p == '\0')
					return -1;
				if (*p != '\\') {
					*out++ = *p++;
					continue;
				}
				p++;
				if (*p == '"' || *p == '\\')
					*out++ = *p++;
				else if (*p == 'x' && hex_value(p[1]) >= 0 &&
				    hex_value(p[2]) >= 0) {
					*out++ = (char)(hex_value(p[1]) << 4 |
					    hex_value(p[2]));
					p += 3;
				} else
					return -1;
			}
			p++;
		} else {
			while (*p != ' ' && *p != '\0') {
				if (*p == '"' || *p == '=')
					return -1;
				*out++ = *p++;
			}
		}
		f->raw_len[i] = (size_t)(p - f->raw[i]);
		f->value_len[i] = (size_t)(out - f->value[i]);
		*out = '\0';
		if (*p == ' ' && p[1] != '\0')
			p++;
		else if (*p != '\0')
			return -1;
	}
	return 0;
}

/* The fields of an audit line, every key in its place. */
static void
parse_audit_line(const char *line, struct fields *f)
{
	assert_int_equal(fields_parse(line, f), 0);
	assert_int_equal(f->n, N_KEYS);
	for (size_t i = 0; i < N_KEYS; i++)
		assert_string_equal(f->key[i], line_keys[i]);
}

static void
sha256_chain(const uint8_t prev[32], const char *text, size_t len,
    uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int n = 0;

	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(md, prev, 32), 1);
	assert_int_equal(EVP_DigestUpdate(md, text, len), 1);
	assert_int_equal(EVP_DigestFinal_ex(md, out, &n), 1);
	assert_int_equal(n, 32);
	EVP_MD_CTX_free(md);
}

static void
hex_encode(const uint8_t *in, size_t size, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < size; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * size] = '\0';
}

static void
hex_decode(const char *in, uint8_t *out, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		int high = hex_value(in[2 * i]), low = hex_value(in[2 * i + 1]);

		assert_true(high >= 0 && low >= 0);
		out[i] = (uint8_t)(high << 4 | low);
	}
}

/* A whole file, NUL-terminated (it may hold NULs of its own). */
struct text {
	char *data;
	size_t len;
};

static void
text_read(const char *path, struct text *t)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	t->len = (size_t)st.st_size;
	t->data = malloc(t->len + 1);
	assert_non_null(t->data);
	n = read(fd, t->data, t->len);
	assert_int_equal(n, (ssize_t)t->len);
	t->data[t->len] = '\0';
	close(fd);
}

static void
text_write(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void
text_append(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static size_t
text_lines(const struct text *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->len; i++)
		n += t->data[i] == '\n';
	return n;
}

/* Where line NUMBER (1-based) starts, and its length with the newline. */
static const char *
text_line(const struct text *t, size_t number, size_t *len)
{
	const char *p = t->data, *end = t->data + t->len, *nl;

	for (size_t i = 1; i < number; i++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		assert_non_null(nl);
		p = nl + 1;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	assert_non_null(nl);
	*len = (size_t)(nl - p) + 1;
	return p;
}

/* Line NUMBER of PATH without its newline (caller frees). */
static char *
file_line(const char *path, size_t number)
{
	struct text t;
	const char *p;
	size_t len;
	char *line;

	text_read(path, &t);
	p = text_line(&t, number, &len);
	line = strndup(p, len - 1);
	assert_non_null(line);
	free(t.data);
	return line;
}

static uint64_t
file_line_count(const char *path)
{
	struct text t;
	size_t n;

	text_read(path, &t);
	n = text_lines(&t);
	free(t.data);
	return n;
}

/* A copy of PATH as DST with lines in ORDER (1-based numbers). */
static void
copy_lines(const char *path, const char *dst, const size_t *order, size_t n)
{
	struct text t, out = { 0 };

	text_read(path, &t);
	out.data = malloc(2 * t.len + 1);	/* a line may come twice */
	assert_non_null(out.data);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *p = text_line(&t, order[i], &len);

		memcpy(out.data + out.len, p, len);
		out.len += len;
	}
	text_write(dst, out.data, out.len);
	free(out.data);
	free(t.data);
}

static void
copy_file(const char *path, const char *dst)
{
	struct text t;

	text_read(path, &t);
	text_write(dst, t.data, t.len);
	free(t.data);
}

/* A sample event; the object names I so that records differ. */
static struct audit_event
sample_event(unsigned i, char *object, size_t size)
{
	snprintf(object, size, "/usr/bin/rsync -a /srv/%u /backup", i);
	return (struct audit_event){
		.allow = i % 3 != 0,
		.action = "exec",
		.agent = "backup",
		.account = "svc-backup",
		.uid = 1001,
		.pid = (pid_t)(4000 + i),
		.object = object,
		.reason = i % 3 != 0 ? "rule backup.exec.1" : "no rule",
		.grant = "0123456789abcdef0123456789abcdef",
		.cache = "miss",
		.attest = "tpm",
		.age = (long)i,
	};
}

/*
 * Write COUNT sample records, each seen as exactly one audit datagram
 * with seq= FIRST, FIRST + 1, ...; CHAINS (may be NULL) gets chain=.
 */
static void
write_records(struct audit *a, unsigned first, unsigned count,
    char (*chains)[17])
{
	struct datagram *d = malloc(2 * sizeof(*d));

	assert_non_null(d);
	for (unsigned i = 0; i < count; i++) {
		struct audit_event e;
		struct fields f;
		char object[64], seq[24];

		e = sample_event(first + i, object, sizeof(object));
		assert_int_equal(audit_write(a, &e), 0);
		assert_int_equal(receive(d, 2), 1);
		assert_int_equal(d[0].pri, PRI_AUDIT);
		parse_audit_line(d[0].message, &f);
		snprintf(seq, sizeof(seq), "%u", first + i);
		assert_string_equal(f.value[K_SEQ], seq);
		assert_int_equal(strlen(f.value[K_CHAIN]), 16);
		if (chains != NULL)
			memcpy(chains[i], f.value[K_CHAIN], 17);
		fields_free(&f);
		assert_int_equal(audit_last_seq(a), first + i);
	}
	free(d);
}

/* Open FX's file and head; say nothing on the log. */
static struct audit *
open_quiet(struct fixture *fx, bool require)
{
	struct audit *a = NULL;
	struct datagram d[2];
	char error[512];

	assert_int_equal(audit_open(fx->file, fx->head, require, &a, error,
	    sizeof(error)), 0);
	assert_non_null(a);
	assert_int_equal(receive(d, 2), 0);
	audit_set_clock(a, fixed_clock);
	audit_set_host(a, TEST_HOST);
	return a;
}

/* A chain of N records in FX's file and head. */
static void
make_chain(struct fixture *fx, unsigned n)
{
	struct audit *a = open_quiet(fx, true);

	write_records(a, 1, n, NULL);
	audit_free(a);
}

/* audit_verify() must give RC and a report starting with PREFIX. */
static void
expect_verify(const char *path, const char *head, int rc, const char *prefix)
{
	char report[512];
	int r;

	memset(report, 'X', sizeof(report));
	r = audit_verify(path, head, report, sizeof(report));
	/* A break is reported as "PATH: record ...": PREFIX is the rest. */
	if (strncmp(report, path, strlen(path)) == 0 &&
	    strncmp(report + strlen(path), ": record ", 9) == 0)
		memmove(report, report + strlen(path) + 2,
		    strlen(report + strlen(path) + 2) + 1);
	if (r != rc || strncmp(report, prefix, strlen(prefix)) != 0)
		print_error("verify %s (head %s): %d \"%s\", expected %d "
		    "\"%s...\"\n", path, head != NULL ? head : "none", r,
		    report, rc, prefix);
	assert_int_equal(r, rc);
	assert_true(strncmp(report, prefix, strlen(prefix)) == 0);
}

/* Receive exactly one datagram of priority PRI whose message holds TEXT. */
static void
expect_log(int pri, const char *text)
{
	struct datagram d[2];

	assert_int_equal(receive(d, 2), 1);
	assert_int_equal(d[0].pri, pri);
	if (strstr(d[0].message, text) == NULL)
		print_error("log \"%s\" lacks \"%s\"\n", d[0].message, text);
	assert_non_null(strstr(d[0].message, text));
}

/* ------------------------------------------- reopen, files, the limit */

/* The hash= of line N of PATH, as text. */
static void
line_hash(const char *path, size_t n, char out[HEX64 + 1])
{
	char *line = file_line(path, n);

	assert_true(strlen(line) > HEX64);
	memcpy(out, line + strlen(line) - HEX64, HEX64 + 1);
	free(line);
}

/* audit_verify_files() must give RC and a report starting with PREFIX. */
static void
expect_verify_files(const char *const *paths, size_t n, const char *head,
    int rc, const char *prefix)
{
	char report[1024];
	int r = audit_verify_files(paths, n, head, report, sizeof(report));

	if (r != rc || strncmp(report, prefix, strlen(prefix)) != 0)
		print_error("verify: %d \"%s\", expected %d \"%s...\"\n", r,
		    report, rc, prefix);
	assert_int_equal(r, rc);
	assert_true(strncmp(report, prefix, strlen(prefix)) == 0);
}

/* Rotated by rename, then reopened: one chain over both files. */
static void
test_reopen_rotated(void **state)
{
	struct fixture *fx = *state;
	char old[PATH_MAX + 8], last[HEX64 + 1], error[512], *line;
	const char *both[2], *reversed[2];
	struct datagram d[3];
	struct audit *a = open_quiet(fx, true);
	struct stat st;

	write_records(a, 1, 3, NULL);
	snprintf(old, sizeof(old), "%s.1", fx->file);
	assert_int_equal(rename(fx->file, old), 0);
	/* Still appended to the renamed file until reopened. */
	write_records(a, 4, 1, NULL);
	line_hash(old, 4, last);
	assert_int_equal(audit_reopen(a, "rotated", error, sizeof(error)), 0);
	assert_int_equal(receive(d, 3), 2);
	assert_int_equal(d[0].pri, PRI_NOTICE);
	assert_non_null(strstr(d[0].message, "reopened at seq 5: rotated"));
	assert_int_equal(d[1].pri, PRI_AUDIT);
	assert_string_equal(audit_path(a), fx->file);
	write_records(a, 6, 2, NULL);
	audit_free(a);

	assert_int_equal(stat(fx->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(file_line_count(old), 4);
	assert_int_equal(file_line_count(fx->file), 3);
	line = file_line(fx->file, 1);
	assert_memory_equal(line, TEST_PREFIX "event=reopen file=\"", 
	    strlen(TEST_PREFIX "event=reopen file=\""));
	assert_non_null(strstr(line, "\" reason=\"rotated\" seq=5 prev="));
	assert_memory_equal(strstr(line, " prev=") + 6, last, HEX64);
	free(line);

	both[0] = old;
	both[1] = fx->file;
	expect_verify_files(both, 2, fx->head, 0,
	    "7 records intact in 2 files, head seq 7");
	/* The newer file alone: from its event=reopen record, said so. */
	expect_verify(fx->file, fx->head, 0, "3 records intact (seq 5 to 7; "
	    "the chain starts at an event=reopen record after seq 4");
	reversed[0] = fx->file;
	reversed[1] = old;
	expect_verify_files(reversed, 2, NULL, ZT_E_PROTOCOL, "");
	{
		char report[512];

		audit_verify_files(reversed, 2, NULL, report, sizeof(report));
		assert_non_null(strstr(report, ": record 4 (line 1): seq 1 "
		    "where 8 was expected: records are out of order"));
		assert_memory_equal(report, old, strlen(old));
	}
	/* A file missing: no verdict, its error. */
	both[1] = "/nonexistent/audit.log";
	expect_verify_files(both, 2, NULL, -ENOENT, "/nonexistent/audit.log: ");
}

/* The same file still at the path gets the record; a file of another
 * chain there is refused and the old file kept. */
static void
test_reopen_refusals(void **state)
{
	struct fixture *fx = *state;
	char old[PATH_MAX + 8], error[512];
	struct datagram d[3];
	struct audit *a = open_quiet(fx, true), *none = NULL;

	write_records(a, 1, 2, NULL);
	assert_int_equal(audit_reopen(a, "not rotated", error,
	    sizeof(error)), 0);
	assert_int_equal(receive(d, 3), 2);
	assert_int_equal(file_line_count(fx->file), 3);
	expect_verify(fx->file, fx->head, 0, "3 records intact, head seq 3");

	snprintf(old, sizeof(old), "%s.old", fx->file);
	assert_int_equal(rename(fx->file, old), 0);
	text_write(fx->file, "not a record\n", 13);
	assert_int_equal(audit_reopen(a, "x", error, sizeof(error)),
	    ZT_E_PROTOCOL);
	assert_non_null(strstr(error, "does not end with this chain's last "
	    "record (seq 3)"));
	write_records(a, 4, 1, NULL);
	assert_int_equal(file_line_count(old), 4);
	/* A copy of the chain's end put back may go on. */
	assert_int_equal(rename(old, fx->file), 0);
	assert_int_equal(audit_reopen(a, "copy", error, sizeof(error)), 0);
	assert_int_equal(receive(d, 3), 2);
	audit_free(a);
	expect_verify(fx->file, fx->head, 0, "5 records intact, head seq 5");

	assert_int_equal(audit_open(NULL, NULL, true, &none, error,
	    sizeof(error)), 0);
	assert_int_equal(audit_reopen(none, "x", error, sizeof(error)),
	    ZT_E_CONFIG);
	assert_string_equal(audit_path(none), "");
	audit_free(none);
}

/* suppressed=N before seq=, and host= escaped when it is not one word. */
static void
test_suppressed_and_host(void **state)
{
	struct fixture *fx = *state;
	char object[64];
	struct audit_event e = sample_event(3, object, sizeof(object));
	struct datagram d[2];
	struct audit *a = open_quiet(fx, true);
	char host[300];

	e.suppressed = 495;
	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(receive(d, 2), 1);
	assert_non_null(strstr(d[0].message, " age=3 suppressed=495 seq=1 "
	    "chain="));
	audit_set_host(a, "web 01\n\"x\"");
	e.suppressed = 0;
	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(receive(d, 2), 1);
	assert_memory_equal(d[0].message, "time=" TEST_TIME " host=\"web "
	    "01\\x0a\\\"x\\\"\" decision=deny ", 63);
	assert_null(strstr(d[0].message, "suppressed="));
	/* Bounded: a 299-byte name is cut inside its quotes. */
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	audit_set_host(a, host);
	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(receive(d, 2), 1);
	assert_non_null(strstr(d[0].message, "hhh...\" decision=deny "));
	audit_set_host(a, NULL);
	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(receive(d, 2), 1);
	{
		char name[256], want[300];

		assert_int_equal(gethostname(name, sizeof(name)), 0);
		snprintf(want, sizeof(want), " host=%s decision=", name);
		assert_non_null(strstr(d[0].message, want));
	}
	audit_free(a);
	expect_verify(fx->file, fx->head, 0, "4 records intact, head seq 4");
}

/* name= (the DNS name a connect's address was answered for) right after
 * object=, escaped and bounded like the rest, under the hash; absent
 * when unset. */
static void
test_name_field(void **state)
{
	struct fixture *fx = *state;
	char object[64], name[300];
	struct audit_event e = sample_event(3, object, sizeof(object));
	struct datagram d[2];
	struct fields f;
	struct audit *a = open_quiet(fx, true);

	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(receive(d, 2), 1);
	assert_null(strstr(d[0].message, " name="));
	e.name = "api.example.com";
	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(receive(d, 2), 1);
	assert_int_equal(fields_parse(d[0].message, &f), 0);
	assert_int_equal(f.n, N_KEYS + 1);
	assert_string_equal(f.key[K_OBJECT], "object");
	assert_string_equal(f.key[K_OBJECT + 1], "name");
	assert_string_equal(f.value[K_OBJECT + 1], "api.example.com");
	assert_string_equal(f.key[K_OBJECT + 2], "reason");
	fields_free(&f);
	/* Untrusted bytes are escaped; 299 bytes are cut inside quotes. */
	e.name = "a\" seq=9 x.example\n";
	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(receive(d, 2), 1);
	assert_non_null(strstr(d[0].message, " name=\"a\\\" seq=9 "
	    "x.example\\x0a\" reason="));
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	e.name = name;
	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(receive(d, 2), 1);
	assert_int_equal(fields_parse(d[0].message, &f), 0);
	assert_int_equal(f.raw_len[K_OBJECT + 1], NAME_BOUND);
	fields_free(&f);
	audit_free(a);
	expect_verify(fx->file, fx->head, 0, "4 records intact, head seq 4");
}

/* The token bucket: a burst, then one per 1/RATE, never past the burst. */
static void
test_limit_bucket(void **state)
{
	struct audit_limit l;
	struct audit *a = NULL;
	char error[128];

	(void)state;
	audit_limit_init(&l, 1000, 3);
	for (int i = 0; i < 3; i++)
		assert_true(audit_limit_take(&l, 1000, 2000, 3));
	assert_false(audit_limit_take(&l, 1000, 2000, 3));
	/* 2 per second: one every 500 ms. */
	assert_int_equal(audit_limit_wait_ms(&l, 1000, 2000), 500);
	assert_int_equal(audit_limit_wait_ms(&l, 1300, 2000), 200);
	assert_false(audit_limit_take(&l, 1499, 2000, 3));
	assert_true(audit_limit_take(&l, 1500, 2000, 3));
	assert_false(audit_limit_take(&l, 1500, 2000, 3));
	/* A long quiet time fills it to the burst, not past it. */
	for (int i = 0; i < 3; i++)
		assert_true(audit_limit_take(&l, INT64_MAX / 2, 2000, 3));
	assert_false(audit_limit_take(&l, INT64_MAX / 2, 2000, 3));
	/* 0.001 per second: 1000 s for the next. */
	audit_limit_init(&l, 0, 1);
	assert_true(audit_limit_take(&l, 0, 1, 1));
	assert_int_equal(audit_limit_wait_ms(&l, 0, 1), 1000000);
	assert_false(audit_limit_take(&l, 999999, 1, 1));
	assert_true(audit_limit_take(&l, 1000000, 1, 1));
	/* Rate 0: no limit. */
	audit_limit_init(&l, 0, 1);
	for (int i = 0; i < 1000; i++)
		assert_true(audit_limit_take(&l, 0, 0, 1));
	assert_int_equal(audit_limit_wait_ms(&l, 0, 0), 0);
	/* Holding counts, and keeps the first one's time. */
	assert_int_equal(audit_open(NULL, NULL, true, &a, error,
	    sizeof(error)), 0);
	audit_set_clock(a, fixed_clock);
	audit_limit_hold(a, &l, 42);
	audit_limit_hold(a, &l, 43);
	assert_int_equal(l.held, 2);
	assert_int_equal(l.last_pid, 43);
	assert_string_equal(l.since, TEST_TIME);
	audit_free(a);
}

/* --------------------------------------------------------------- fixtures */

static int
group_setup(void **state)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	(void)state;
	snprintf(base_dir, sizeof(base_dir), "/tmp/zt-audit-XXXXXX");
	if (mkdtemp(base_dir) == NULL)
		return -1;
	snprintf(socket_path, sizeof(socket_path), "%s/log", base_dir);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path);
	log_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (log_fd < 0 ||
	    bind(log_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -1;
	if (zt_log_open_syslog("ztd", socket_path, LOG_DAEMON, 0) < 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	zt_log_close();
	if (log_fd >= 0)
		close(log_fd);
	remove_tree(base_dir);
	return 0;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	fx->param = *state;
	snprintf(fx->dir, sizeof(fx->dir), "%s/t%u", base_dir,
	    ++fixture_count);
	if (mkdir(fx->dir, 0700) < 0) {
		free(fx);
		return -1;
	}
	snprintf(fx->file, sizeof(fx->file), "%s/audit.log", fx->dir);
	snprintf(fx->head, sizeof(fx->head), "%s/audit.head", fx->dir);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char spare[ZT_LOG_LINE_MAX + 512];

	/* What a failed test left on the socket is not the next one's. */
	while (recv(log_fd, spare, sizeof(spare), MSG_DONTWAIT) >= 0)
		;
	remove_tree(fx->dir);
	free(fx);
	return 0;
}

/* ------------------------------------------------------------ syslog line */

/* Every field of two lines, PRI <85>, the file record behind them. */
static void
test_line_fields(void **state)
{
	struct fixture *fx = *state;
	struct audit_event allow = {
		.allow = true, .action = "exec", .agent = "backup",
		.account = "svc-backup", .uid = 1001, .pid = 4242,
		.object = "/usr/bin/rsync -a /srv /backup",
		.reason = "rule backup.exec.1",
		.grant = "0123456789abcdef0123456789abcdef", .cache = "miss",
		.attest = "tpm", .age = 3,
	}, deny = {
		.allow = false, .action = "connect", .agent = "backup",
		.account = "svc-backup", .uid = 0, .pid = 1,
		.object = "tcp:10.0.0.1:22", .reason = "no rule",
		.grant = "-", .cache = "local", .attest = "none", .age = -1,
	};
	static const char *const expected[] = {
		TEST_PREFIX "decision=allow action=exec agent=\"backup\" "
		"account=\"svc-backup\" uid=1001 pid=4242 "
		"object=\"/usr/bin/rsync -a /srv /backup\" "
		"reason=\"rule backup.exec.1\" "
		"grant=0123456789abcdef0123456789abcdef cache=miss attest=tpm "
		"age=3 seq=1",
		TEST_PREFIX "decision=deny action=connect agent=\"backup\" "
		"account=\"svc-backup\" uid=0 pid=1 "
		"object=\"tcp:10.0.0.1:22\" reason=\"no rule\" grant=- "
		"cache=local attest=none age=- seq=2",
	};
	const struct audit_event *events[] = { &allow, &deny };
	uint8_t prev[32] = { 0 }, hash[32];
	char prev_hex[HEX64 + 1], hash_hex[HEX64 + 1], head[PATH_MAX];
	struct datagram d[2];
	struct audit *a = open_quiet(fx, true);
	struct stat st;
	struct text t;

	for (size_t i = 0; i < 2; i++) {
		size_t body = strlen(expected[i]);
		char *line, *hashed;

		assert_int_equal(audit_write(a, events[i]), 0);
		assert_int_equal(receive(d, 2), 1);
		assert_int_equal(d[0].pri, 85);
		assert_memory_equal(d[0].text, "<85>", 4);
		/* The message: the body, then chain=, nothing else. */
		assert_int_equal(strlen(d[0].message), body + 7 + 16);
		assert_memory_equal(d[0].message, expected[i], body);
		assert_memory_equal(d[0].message + body, " chain=", 7);

		/* The file record: body prev= hash=, hash over the rest. */
		line = file_line(fx->file, i + 1);
		hex_encode(prev, 32, prev_hex);
		assert_int_equal(strlen(line), body + 6 + 64 + 6 + 64);
		assert_memory_equal(line, expected[i], body);
		assert_memory_equal(line + body, " prev=", 6);
		assert_memory_equal(line + body + 6, prev_hex, 64);
		assert_memory_equal(line + body + 70, " hash=", 6);
		hashed = strndup(line, body + 70);
		assert_non_null(hashed);
		sha256_chain(prev, hashed, strlen(hashed), hash);
		hex_encode(hash, 32, hash_hex);
		assert_string_equal(line + body + 76, hash_hex);
		/* chain= is the first 16 hex digits of that hash. */
		assert_memory_equal(d[0].message + body + 7, hash_hex, 16);
		memcpy(prev, hash, 32);
		free(hashed);
		free(line);
		assert_int_equal(audit_last_seq(a), i + 1);
	}
	audit_free(a);

	/* Head "2 HASH\n" 0600, no temporary left; the file is 0600. */
	text_read(fx->head, &t);
	snprintf(head, sizeof(head), "2 %s\n", hash_hex);
	assert_string_equal(t.data, head);
	free(t.data);
	assert_int_equal(stat(fx->head, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(fx->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(head, sizeof(head), "%s/audit.head.tmp", fx->dir);
	assert_int_equal(access(head, F_OK), -1);
	expect_verify(fx->file, fx->head, 0, "2 records intact, head seq 2");
}

/* NULL strings become "-"; a misused trusted word is escaped, not bare. */
static void
test_line_null_and_words(void **state)
{
	struct fixture *fx = *state;
	struct audit_event e = { .allow = false, .uid = 7, .pid = -1,
	    .age = 0 };
	struct audit_event bad = { .allow = true, .action = "exec now",
	    .agent = "a", .account = "b", .object = "o", .reason = "r",
	    .grant = "x=y", .cache = "hit\n", .attest = "tpm\"",
	    .age = LONG_MAX };
	struct datagram d[2];
	struct fields f;
	struct audit *a = open_quiet(fx, true);

	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(receive(d, 2), 1);
	parse_audit_line(d[0].message, &f);
	for (size_t k = K_ACTION; k <= K_ATTEST; k++) {
		if (k == K_UID || k == K_PID)
			continue;
		assert_int_equal(f.raw_len[k], 1);
		assert_int_equal(f.raw[k][0], '-');
	}
	assert_string_equal(f.value[K_UID], "7");
	assert_string_equal(f.value[K_PID], "-1");
	assert_string_equal(f.value[K_AGE], "0");
	fields_free(&f);

	assert_int_equal(audit_write(a, &bad), 0);
	assert_int_equal(receive(d, 2), 1);
	parse_audit_line(d[0].message, &f);
	assert_true(f.quoted[K_ACTION]);
	assert_string_equal(f.value[K_ACTION], "exec now");
	assert_string_equal(f.value[K_GRANT], "x=y");
	assert_string_equal(f.value[K_CACHE], "hit\n");
	assert_string_equal(f.value[K_ATTEST], "tpm\"");
	assert_string_equal(f.value[K_AGE], "9223372036854775807");
	assert_string_equal(f.value[K_SEQ], "2");
	fields_free(&f);
	audit_free(a);
	expect_verify(fx->file, fx->head, 0, "2 records intact, head seq 2");
}

/* Twenty records: seq 1..20, chain= is each file record's hash. */
static void
test_chain_matches_file(void **state)
{
	struct fixture *fx = *state;
	char chains[20][17];
	uint8_t prev[32] = { 0 };
	struct audit *a = open_quiet(fx, true);

	write_records(a, 1, 20, chains);
	audit_free(a);
	assert_int_equal(file_line_count(fx->file), 20);
	for (size_t i = 0; i < 20; i++) {
		char *line = file_line(fx->file, i + 1), *p, seq[32];
		uint8_t prev_here[32];

		p = strstr(line, " prev=");
		assert_non_null(p);
		hex_decode(p + 6, prev_here, 32);
		assert_memory_equal(prev_here, prev, 32);
		snprintf(seq, sizeof(seq), " seq=%zu prev=", i + 1);
		assert_non_null(strstr(line, seq));
		assert_memory_equal(line + strlen(line) - 64, chains[i], 16);
		hex_decode(line + strlen(line) - 64, prev, 32);
		free(line);
	}
	expect_verify(fx->file, NULL, 0, "20 records intact, head seq 20");
	expect_verify(fx->file, fx->head, 0, "20 records intact, head seq 20");
}

/* With no file the chain is still computed, in memory, the same way. */
static void
test_chain_without_file(void **state)
{
	struct fixture *fx = *state;
	struct audit *a = NULL;
	uint8_t prev[32] = { 0 };
	struct datagram d[2];
	char error[256];

	assert_int_equal(audit_open(NULL, fx->head, true, &a, error,
	    sizeof(error)), 0);
	for (unsigned i = 1; i <= 3; i++) {
		struct audit_event e;
		char object[64], text[ZT_LOG_LINE_MAX + 80], hex[HEX64 + 1];
		const char *chain;
		uint8_t hash[32];

		e = sample_event(i, object, sizeof(object));
		assert_int_equal(audit_write(a, &e), 0);
		assert_int_equal(receive(d, 2), 1);
		chain = strstr(d[0].message, " chain=");
		assert_non_null(chain);
		hex_encode(prev, 32, hex);
		snprintf(text, sizeof(text), "%.*s prev=%s",
		    (int)(chain - d[0].message), d[0].message, hex);
		sha256_chain(prev, text, strlen(text), hash);
		hex_encode(hash, 32, hex);
		assert_memory_equal(chain + 7, hex, 16);
		assert_int_equal(strlen(chain + 7), 16);
		memcpy(prev, hash, 32);
		assert_int_equal(audit_last_seq(a), i);
	}
	audit_free(a);
	/* The head names a record of a file: without one it is not kept. */
	assert_int_equal(access(fx->head, F_OK), -1);
}

/* ---------------------------------------------------------- log forging */

/* An untrusted value that must come out as one escaped, bounded value. */
struct forge_value {
	const char *name;
	const char *text;	/* NULL: BIG bytes of FILL */
	char fill;
};

static const struct forge_value forge_values[] = {
	{ "newline", "\n", 0 },
	{ "carriage return", "\r", 0 },
	{ "forged record", "x\ndecision=allow action=exec agent=\"root\"", 0 },
	{ "CRLF", "a\r\nb\r\n", 0 },
	{ "quotes", "\"quoted\" \"", 0 },
	{ "backslashes", "back\\slash\\", 0 },
	{ "escape lookalike", "\\x0a\\\"", 0 },
	{ "format directives", "%n%s%s%n%x%p%%", 0 },
	{ "0xff bytes", "\xff\xfe\x80\xff", 0 },
	{ "terminal escape", "\x1b[2J\x1b]0;owned\x07", 0 },
	{ "tab and DEL", "\t\x7f", 0 },
	{ "fields inside", "a\" seq=99 chain=0000000000000000 x=\"", 0 },
	{ "empty", "", 0 },
	{ "8 KiB of text", NULL, 'A' },
	{ "8 KiB of newlines", NULL, '\n' },
	{ "8 KiB of quotes", NULL, '"' },
	{ "8 KiB of 0xff", NULL, '\xff' },
};

static const struct {
	const char *name;
	int key;
	size_t bound;
} forge_fields[] = {
	{ "agent", K_AGENT, NAME_BOUND },
	{ "account", K_ACCOUNT, NAME_BOUND },
	{ "object", K_OBJECT, OBJECT_BOUND },
	{ "reason", K_REASON, REASON_BOUND },
	{ "action", K_ACTION, TOKEN_BOUND },
	{ "grant", K_GRANT, TOKEN_BOUND },
};

struct forge_case {
	char name[80];
	size_t value;		/* in forge_values */
	size_t field;		/* in forge_fields */
};

static struct forge_case forge_cases[ARRAY_SIZE(forge_values) *
    ARRAY_SIZE(forge_fields)];

/* The datagram is one bounded line of printable ASCII ending in chain=. */
static void
check_one_line(const struct datagram *d)
{
	size_t len = strlen(d->message);

	assert_int_equal(d->pri, PRI_AUDIT);
	for (size_t i = 0; i < d->len; i++)
		assert_true(d->text[i] >= 0x20 && d->text[i] <= 0x7e);
	assert_true(len < ZT_LOG_LINE_MAX);
	assert_true(len > 23);
	assert_memory_equal(d->message + len - 23, " chain=", 7);
	for (size_t i = len - 16; i < len; i++)
		assert_true(hex_value(d->message[i]) >= 0);
}

static void
test_forge(void **state)
{
	struct fixture *fx = *state;
	const struct forge_case *c = fx->param;
	const struct forge_value *v = &forge_values[c->value];
	size_t key = (size_t)forge_fields[c->field].key;
	size_t bound = forge_fields[c->field].bound;
	struct audit_event e;
	struct datagram d[3];
	struct fields f;
	char object[64], *value;
	size_t len;
	const char **slot;
	struct audit *a = open_quiet(fx, true);

	if (v->text != NULL) {
		value = strdup(v->text);
		assert_non_null(value);
	} else {
		value = malloc(BIG + 1);
		assert_non_null(value);
		memset(value, v->fill, BIG);
		value[BIG] = '\0';
	}
	len = strlen(value);
	e = sample_event(1, object, sizeof(object));
	slot = key == K_AGENT ? &e.agent : key == K_ACCOUNT ? &e.account :
	    key == K_OBJECT ? &e.object : key == K_REASON ? &e.reason :
	    key == K_ACTION ? &e.action : &e.grant;
	*slot = value;
	assert_int_equal(audit_write(a, &e), 0);

	/* Exactly one datagram: nothing split it, nothing else was said. */
	assert_int_equal(receive(d, 3), 1);
	check_one_line(&d[0]);
	parse_audit_line(d[0].message, &f);
	assert_true(f.raw_len[key] <= bound);
	if (key == K_ACTION || key == K_GRANT) {
		if (len == 0)
			assert_string_equal(f.value[key], "-");
		else
			assert_true(f.quoted[key]);
	} else
		assert_true(f.quoted[key]);
	if (f.quoted[key] && f.raw_len[key] >= 5 &&
	    memcmp(f.raw[key] + f.raw_len[key] - 4, "...\"", 4) == 0 &&
	    f.value_len[key] - 3 < len) {
		/* Cut: a prefix of the value, then "...". */
		assert_true(len > f.value_len[key] - 3);
		assert_memory_equal(f.value[key], value, f.value_len[key] - 3);
	} else if (len > 0) {
		assert_int_equal(f.value_len[key], len);
		assert_memory_equal(f.value[key], value, len);
	}
	/* The other untrusted fields are untouched. */
	if (key != K_AGENT)
		assert_string_equal(f.value[K_AGENT], "backup");
	if (key != K_OBJECT)
		assert_string_equal(f.value[K_OBJECT], object);
	assert_string_equal(f.value[K_SEQ], "1");
	fields_free(&f);
	audit_free(a);
	free(value);

	/* One record in the file, which verifies. */
	assert_int_equal(file_line_count(fx->file), 1);
	expect_verify(fx->file, fx->head, 0, "1 records intact, head seq 1");
}

/* Every value at its worst at once: still one line, never cut by zt_log. */
static void
test_forge_everything_at_once(void **state)
{
	struct fixture *fx = *state;
	char *big = malloc(BIG + 1), word[64];
	struct audit_event e;
	struct datagram d[3];
	struct fields f;
	struct audit *a;
	char head[128];

	assert_non_null(big);
	memset(big, 'A', BIG);
	big[BIG] = '\0';
	memset(word, 'w', TOKEN_BOUND);
	word[TOKEN_BOUND] = '\0';
	/* The widest seq: the chain goes on from a head near the end. */
	snprintf(head, sizeof(head), "%" PRIu64 " %064d\n",
	    UINT64_MAX - 1 - 2, 0);
	text_write(fx->head, head, strlen(head));
	assert_int_equal(audit_open(fx->file, fx->head, true, &a, head,
	    sizeof(head)), 0);
	/* The empty file starts with an event=reopen record. */
	assert_int_equal(receive(d, 3), 2);
	assert_int_equal(d[0].pri, PRI_WARNING);
	assert_non_null(strstr(d[1].message, " seq=18446744073709551613 "));
	audit_set_clock(a, fixed_clock);
	audit_set_host(a, TEST_HOST);
	e = (struct audit_event){
		.allow = false, .action = word, .agent = big, .account = big,
		.uid = (uid_t)-2, .pid = INT32_MIN, .object = big,
		.reason = big, .grant = word, .cache = word, .attest = word,
		.age = LONG_MAX,
	};
	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(receive(d, 3), 1);
	check_one_line(&d[0]);
	parse_audit_line(d[0].message, &f);
	assert_string_equal(f.value[K_SEQ], "18446744073709551614");
	assert_string_equal(f.value[K_PID], "-2147483648");
	assert_string_equal(f.value[K_UID], "4294967294");
	assert_string_equal(f.value[K_ACTION], word);
	/* One-byte characters fill each value to its bound exactly. */
	assert_int_equal(f.raw_len[K_AGENT], NAME_BOUND);
	assert_int_equal(f.raw_len[K_ACCOUNT], NAME_BOUND);
	assert_int_equal(f.raw_len[K_OBJECT], OBJECT_BOUND);
	assert_int_equal(f.raw_len[K_REASON], REASON_BOUND);
	/* The longest line there is ("deny" is one shorter than "allow"). */
	assert_int_equal(strlen(d[0].message), LINE_LONGEST - 1);
	fields_free(&f);

	/* Four-byte escapes are cut on a token, inside the bound. */
	memset(big, '\xff', BIG);
	e.allow = true;
	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(receive(d, 3), 1);
	check_one_line(&d[0]);
	parse_audit_line(d[0].message, &f);
	for (size_t k = K_AGENT; k <= K_REASON; k++) {
		if (k == K_UID || k == K_PID)
			continue;
		assert_true(f.raw_len[k] <= (k == K_OBJECT ? OBJECT_BOUND :
		    k == K_REASON ? REASON_BOUND : NAME_BOUND));
		assert_memory_equal(f.raw[k] + f.raw_len[k] - 8, "\\xff...\"",
		    8);
	}
	fields_free(&f);
	/* And with the longest host= and suppressed= there are, and
	 * enforced=no (learn mode's, which LINE_KEYS counts too): still
	 * written, one line under ZT_LOG_LINE_MAX. */
	audit_set_host(a, big);
	e.suppressed = UINT64_MAX;
	e.unenforced = true;
	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(receive(d, 3), 1);
	check_one_line(&d[0]);
	assert_non_null(strstr(d[0].message, " suppressed=18446744073709551615 "
	    "enforced=no seq="));
	/* And name= at its longest too. */
	e.name = big;
	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(receive(d, 3), 1);
	check_one_line(&d[0]);
	assert_non_null(strstr(d[0].message, "...\" reason="));
	audit_free(a);
	free(big);
}

/* ------------------------------------------------------------ tampering */

/* Every one-byte edit of record 7 is found at record 7. */
static void
test_verify_edit_every_byte(void **state)
{
	struct fixture *fx = *state;
	char copy[PATH_MAX], prefix[64];
	struct text t;
	const char *line;
	size_t len;

	make_chain(fx, 20);
	snprintf(copy, sizeof(copy), "%s/copy", fx->dir);
	text_read(fx->file, &t);
	line = text_line(&t, 7, &len);
	snprintf(prefix, sizeof(prefix), "record 7 (line 7): ");
	for (size_t i = 0; i + 1 < len; i++) {
		size_t at = (size_t)(line - t.data) + i;
		char saved = t.data[at];

		t.data[at] = (char)(saved ^ 1);
		text_write(copy, t.data, t.len);
		expect_verify(copy, NULL, ZT_E_PROTOCOL, prefix);
		expect_verify(copy, fx->head, ZT_E_PROTOCOL, prefix);
		t.data[at] = saved;
	}
	/* And a few edits by name, with what the report says. */
	memcpy(strstr(line, "/srv/7") + 5, "9", 1);
	text_write(copy, t.data, t.len);
	expect_verify(copy, NULL, ZT_E_PROTOCOL, "record 7 (line 7): hash "
	    "does not match: the record was edited");
	memcpy(strstr(line, "/srv/9") + 5, "7", 1);
	memcpy(strstr(line, " seq=7") + 5, "9", 1);
	text_write(copy, t.data, t.len);
	expect_verify(copy, NULL, ZT_E_PROTOCOL, "record 7 (line 7): seq 9 "
	    "where 7 was expected");
	memcpy(strstr(line, " seq=9") + 5, "7", 1);
	text_write(copy, t.data, t.len);
	expect_verify(copy, fx->head, 0, "20 records intact, head seq 20");
	free(t.data);
}

/* An edit whose hash is made again is found at the next record. */
static void
test_verify_edit_rehashed(void **state)
{
	struct fixture *fx = *state;
	char copy[PATH_MAX], hex[HEX64 + 1];
	uint8_t prev[32], hash[32];
	struct text t;
	char *line;
	size_t len;

	make_chain(fx, 20);
	snprintf(copy, sizeof(copy), "%s/copy", fx->dir);
	text_read(fx->file, &t);
	line = (char *)text_line(&t, 7, &len);
	memcpy(strstr(line, "/srv/7") + 5, "8", 1);
	hex_decode(line + len - 1 - 64 - 6 - 64, prev, 32);
	sha256_chain(prev, line, len - 1 - 6 - 64, hash);
	hex_encode(hash, 32, hex);
	memcpy(line + len - 1 - 64, hex, 64);
	text_write(copy, t.data, t.len);
	free(t.data);
	expect_verify(copy, NULL, ZT_E_PROTOCOL, "record 8 (line 8): prev= "
	    "is not the hash of the record before it");
}

/* An attacker who rewrites the whole chain is caught only by the head. */
static void
test_verify_rewritten_chain(void **state)
{
	struct fixture *fx = *state;
	char copy[PATH_MAX], hex[HEX64 + 1];
	uint8_t prev[32] = { 0 }, hash[32];
	struct text t;

	make_chain(fx, 20);
	snprintf(copy, sizeof(copy), "%s/copy", fx->dir);
	text_read(fx->file, &t);
	for (size_t i = 1; i <= 20; i++) {
		size_t len;
		char *line = (char *)text_line(&t, i, &len);

		if (i == 7)
			memcpy(strstr(line, "/srv/7") + 5, "8", 1);
		hex_encode(prev, 32, hex);
		memcpy(line + len - 1 - 64 - 6 - 64, hex, 64);
		sha256_chain(prev, line, len - 1 - 6 - 64, hash);
		hex_encode(hash, 32, hex);
		memcpy(line + len - 1 - 64, hex, 64);
		memcpy(prev, hash, 32);
	}
	text_write(copy, t.data, t.len);
	free(t.data);
	expect_verify(copy, NULL, 0, "20 records intact, head seq 20");
	expect_verify(copy, fx->head, ZT_E_PROTOCOL, "record 20 (seq 20): "
	    "its hash is not the head's");
}

static void
test_verify_delete(void **state)
{
	struct fixture *fx = *state;
	size_t order[19], n = 0;
	char copy[PATH_MAX];

	make_chain(fx, 20);
	snprintf(copy, sizeof(copy), "%s/copy", fx->dir);
	for (size_t i = 1; i <= 20; i++)
		if (i != 7)
			order[n++] = i;
	copy_lines(fx->file, copy, order, n);
	expect_verify(copy, NULL, ZT_E_PROTOCOL, "record 7 (line 7): seq 8 "
	    "where 7 was expected: records before it were removed");
	expect_verify(copy, fx->head, ZT_E_PROTOCOL, "record 7 (line 7): ");
	/* The first record too. */
	copy_lines(fx->file, copy, (size_t[]){ 2, 3 }, 2);
	expect_verify(copy, NULL, ZT_E_PROTOCOL, "record 1 (line 1): seq 2 "
	    "where 1 was expected");
}

static void
test_verify_swap(void **state)
{
	struct fixture *fx = *state;
	size_t order[20];
	char copy[PATH_MAX];

	make_chain(fx, 20);
	snprintf(copy, sizeof(copy), "%s/copy", fx->dir);
	for (size_t i = 0; i < 20; i++)
		order[i] = i + 1;
	order[6] = 8;
	order[7] = 7;
	copy_lines(fx->file, copy, order, 20);
	expect_verify(copy, NULL, ZT_E_PROTOCOL, "record 7 (line 7): seq 8 "
	    "where 7 was expected");
	expect_verify(copy, fx->head, ZT_E_PROTOCOL, "record 7 (line 7): ");
}

static void
test_verify_repeat(void **state)
{
	struct fixture *fx = *state;
	size_t order[21], n = 0;
	char copy[PATH_MAX];

	make_chain(fx, 20);
	snprintf(copy, sizeof(copy), "%s/copy", fx->dir);
	for (size_t i = 1; i <= 20; i++) {
		order[n++] = i;
		if (i == 7)
			order[n++] = 7;
	}
	copy_lines(fx->file, copy, order, n);
	expect_verify(copy, NULL, ZT_E_PROTOCOL, "record 8 (line 8): seq 7 "
	    "where 8 was expected: records are out of order or repeated");
}

/* Cutting whole records off the end shows only against the head. */
static void
test_verify_truncate_tail(void **state)
{
	struct fixture *fx = *state;
	size_t order[17];
	char copy[PATH_MAX];
	struct text t;
	size_t len;

	make_chain(fx, 20);
	snprintf(copy, sizeof(copy), "%s/copy", fx->dir);
	for (size_t i = 0; i < 17; i++)
		order[i] = i + 1;
	copy_lines(fx->file, copy, order, 17);
	expect_verify(copy, NULL, 0, "17 records intact, head seq 17");
	expect_verify(copy, fx->head, ZT_E_PROTOCOL, "the file ends at "
	    "record 17 but the head is at seq 20: records were cut from the "
	    "end");
	/* Everything cut. */
	text_write(copy, "", 0);
	expect_verify(copy, NULL, 0, "0 records intact, head seq 0");
	expect_verify(copy, fx->head, ZT_E_PROTOCOL, "the file ends at "
	    "record 0 but the head is at seq 20");
	/* Cut inside the last record. */
	text_read(fx->file, &t);
	text_line(&t, 20, &len);
	text_write(copy, t.data, t.len - len / 2);
	free(t.data);
	expect_verify(copy, NULL, ZT_E_PROTOCOL, "record 20 (line 20): "
	    "malformed: no newline at the end");
}

static void
test_verify_appended_garbage(void **state)
{
	struct fixture *fx = *state;
	char copy[PATH_MAX], *line;
	const struct {
		const char *text;
		size_t len;
		const char *report;
	} cases[] = {
		{ "garbage\n", 8, "malformed: not an audit record" },
		{ "\n", 1, "malformed: not an audit record" },
		{ "decision=allow action=exec seq=21 prev=00 hash=00\n", 51,
		    "malformed: not an audit record" },
	};

	make_chain(fx, 20);
	snprintf(copy, sizeof(copy), "%s/copy", fx->dir);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char report[128];

		copy_file(fx->file, copy);
		text_append(copy, cases[i].text, cases[i].len);
		snprintf(report, sizeof(report), "record 21 (line 21): %s",
		    cases[i].report);
		expect_verify(copy, NULL, ZT_E_PROTOCOL, report);
		expect_verify(copy, fx->head, ZT_E_PROTOCOL, report);
	}
	/* A record with its suffix in place but a byte off is malformed. */
	line = file_line(fx->file, 20);
	line[strlen(line) - 64 - 6 + 1] = 'H';		/* " Hash=" */
	copy_file(fx->file, copy);
	text_append(copy, line, strlen(line));
	text_append(copy, "\n", 1);
	expect_verify(copy, NULL, ZT_E_PROTOCOL, "record 21 (line 21): "
	    "malformed: no prev= and hash= at the end");
	/* A NUL or a raw control byte inside a record. */
	line[strlen(line) - 64 - 6 + 1] = 'h';
	for (size_t i = 0; i < 2; i++) {
		line[20] = i == 0 ? '\0' : '\x1b';
		copy_file(fx->file, copy);
		text_append(copy, line, strlen(line + 21) + 21);
		text_append(copy, "\n", 1);
		expect_verify(copy, NULL, ZT_E_PROTOCOL, "record 21 (line 21): "
		    "malformed: a byte that is not printable ASCII");
	}
	free(line);
}

/* 8 KiB is the longest line read; longer is malformed, never allocated. */
static void
test_verify_long_line(void **state)
{
	struct fixture *fx = *state;
	char copy[PATH_MAX], *big = malloc(4 * BIG + 2);

	assert_non_null(big);
	make_chain(fx, 20);
	snprintf(copy, sizeof(copy), "%s/copy", fx->dir);

	memset(big, 'x', BIG);
	big[BIG] = '\n';
	copy_file(fx->file, copy);
	text_append(copy, big, BIG + 1);
	expect_verify(copy, NULL, ZT_E_PROTOCOL, "record 21 (line 21): "
	    "malformed: not an audit record");

	memset(big, 'x', BIG + 1);
	big[BIG + 1] = '\n';
	copy_file(fx->file, copy);
	text_append(copy, big, BIG + 2);
	expect_verify(copy, NULL, ZT_E_PROTOCOL, "record 21 (line 21): "
	    "malformed: a line longer than 8192 bytes");

	/* No newline at all, far past the bound. */
	memset(big, 'x', 4 * BIG);
	copy_file(fx->file, copy);
	text_append(copy, big, 4 * BIG);
	expect_verify(copy, fx->head, ZT_E_PROTOCOL, "record 21 (line 21): "
	    "malformed: a line longer than 8192 bytes");
	free(big);
}

/* The head: missing, malformed, edited, or one record behind. */
static void
test_verify_head(void **state)
{
	struct fixture *fx = *state;
	char missing[PATH_MAX], head[160], hex19[HEX64 + 1];
	char *line;

	make_chain(fx, 20);
	snprintf(missing, sizeof(missing), "%s/none", fx->dir);
	expect_verify(fx->file, missing, ZT_E_PROTOCOL, "the head ");
	text_write(fx->head, "20 xyz\n", 7);
	expect_verify(fx->file, fx->head, ZT_E_PROTOCOL, "the head ");
	text_write(fx->head, "", 0);
	expect_verify(fx->file, fx->head, ZT_E_PROTOCOL, "the head ");

	/* Stopped between record 20 and its head. */
	line = file_line(fx->file, 19);
	memcpy(hex19, line + strlen(line) - 64, 65);
	free(line);
	snprintf(head, sizeof(head), "19 %s\n", hex19);
	text_write(fx->head, head, strlen(head));
	expect_verify(fx->file, fx->head, 0, "20 records intact, head seq 19 "
	    "(the last record is newer than the head)");
	/* Two behind is not that. */
	line = file_line(fx->file, 18);
	snprintf(head, sizeof(head), "18 %s\n", line + strlen(line) - 64);
	free(line);
	text_write(fx->head, head, strlen(head));
	expect_verify(fx->file, fx->head, ZT_E_PROTOCOL, "the file goes on "
	    "to record 20 past the head at seq 18");
	/* Empty file, no head: intact. */
	text_write(fx->file, "", 0);
	expect_verify(fx->file, missing, 0, "0 records intact, head seq 0");
}

static void
test_verify_unreadable(void **state)
{
	struct fixture *fx = *state;
	char report[512], missing[PATH_MAX];

	snprintf(missing, sizeof(missing), "%s/none", fx->dir);
	assert_int_equal(audit_verify(missing, NULL, report, sizeof(report)),
	    -ENOENT);
	assert_non_null(strstr(report, missing));
	assert_int_equal(audit_verify(fx->dir, NULL, report, sizeof(report)),
	    -EISDIR);
	/* A head that is a directory cannot be read either. */
	make_chain(fx, 2);
	assert_int_equal(audit_verify(fx->file, fx->dir, report,
	    sizeof(report)), -EISDIR);
	/* A tiny report is cut, not overrun. */
	memset(report, 'X', sizeof(report));
	assert_int_equal(audit_verify(fx->file, NULL, report, 8), 0);
	assert_string_equal(report, "2 recor");
	assert_int_equal(report[8], 'X');
}

/* ------------------------------------------------------------- restarts */

/* A restart goes on with seq and chain; verify passes over both runs. */
static void
test_restart_continues(void **state)
{
	struct fixture *fx = *state;
	char chains[10][17], *line;
	struct audit *a;

	a = open_quiet(fx, true);
	assert_int_equal(audit_last_seq(a), 0);
	write_records(a, 1, 5, chains);
	audit_free(a);

	a = open_quiet(fx, true);
	assert_int_equal(audit_last_seq(a), 5);
	write_records(a, 6, 5, chains + 5);
	audit_free(a);

	line = file_line(fx->file, 6);
	assert_non_null(strstr(line, " seq=6 prev="));
	assert_memory_equal(strstr(line, " prev=") + 6, chains[4], 16);
	free(line);
	assert_int_equal(file_line_count(fx->file), 10);
	expect_verify(fx->file, fx->head, 0, "10 records intact, head seq 10");

	/* Without a head the file's last record is where it goes on. */
	a = NULL;
	{
		char error[256];

		assert_int_equal(audit_open(fx->file, NULL, true, &a, error,
		    sizeof(error)), 0);
	}
	assert_int_equal(audit_last_seq(a), 10);
	write_records(a, 11, 1, NULL);
	audit_free(a);
	expect_verify(fx->file, NULL, 0, "11 records intact, head seq 11");
}

/* A file cut behind the daemon's back: said, and the gap stays. */
static void
test_restart_after_cut(void **state)
{
	struct fixture *fx = *state;
	size_t order[17];
	char error[256];
	struct audit *a;

	make_chain(fx, 20);
	for (size_t i = 0; i < 17; i++)
		order[i] = i + 1;
	copy_lines(fx->file, fx->file, order, 17);
	assert_int_equal(audit_open(fx->file, fx->head, true, &a, error,
	    sizeof(error)), 0);
	expect_log(PRI_ERR, "ends at seq 17");
	assert_int_equal(audit_last_seq(a), 20);
	write_records(a, 21, 1, NULL);
	audit_free(a);
	expect_verify(fx->file, fx->head, ZT_E_PROTOCOL, "record 18 (line "
	    "18): seq 21 where 18 was expected: records before it were "
	    "removed");

	/* Emptied (or rotated while stopped): from the head, saying so in
	 * the log and in the file's first record, chained to seq 21. */
	text_write(fx->file, "", 0);
	assert_int_equal(audit_open(fx->file, fx->head, true, &a, error,
	    sizeof(error)), 0);
	{
		struct datagram d[3];

		assert_int_equal(receive(d, 3), 2);
		assert_int_equal(d[0].pri, PRI_WARNING);
		assert_non_null(strstr(d[0].message, "is empty but the head"));
		assert_int_equal(d[1].pri, PRI_AUDIT);
		assert_non_null(strstr(d[1].message, " event=reopen file=\""));
		assert_non_null(strstr(d[1].message, " seq=22 chain="));
	}
	assert_int_equal(audit_last_seq(a), 22);
	audit_free(a);
	expect_verify(fx->file, fx->head, 0, "1 records intact (seq 22 to 22; "
	    "the chain starts at an event=reopen record after seq 21");
}

/* Stopped after a record but before its head: go on from the file. */
static void
test_restart_head_behind(void **state)
{
	struct fixture *fx = *state;
	char head[160], *line;
	struct audit *a;

	make_chain(fx, 5);
	line = file_line(fx->file, 4);
	snprintf(head, sizeof(head), "4 %s\n", line + strlen(line) - 64);
	free(line);
	text_write(fx->head, head, strlen(head));
	assert_int_equal(audit_open(fx->file, fx->head, true, &a, head,
	    sizeof(head)), 0);
	expect_log(PRI_NOTICE, "one record after the head");
	assert_int_equal(audit_last_seq(a), 5);
	write_records(a, 6, 1, NULL);
	audit_free(a);
	expect_verify(fx->file, fx->head, 0, "6 records intact, head seq 6");
}

/* A head left behind (its writes failed): go on from the file. */
static void
test_restart_head_far_behind(void **state)
{
	struct fixture *fx = *state;
	char head[160], *line;
	struct audit *a;

	make_chain(fx, 5);
	line = file_line(fx->file, 2);
	snprintf(head, sizeof(head), "2 %s\n", line + strlen(line) - 64);
	free(line);
	text_write(fx->head, head, strlen(head));
	assert_int_equal(audit_open(fx->file, fx->head, true, &a, head,
	    sizeof(head)), 0);
	expect_log(PRI_ERR, "goes on to seq 5 past the head");
	assert_int_equal(audit_last_seq(a), 5);
	write_records(a, 6, 1, NULL);
	audit_free(a);
	expect_verify(fx->file, fx->head, 0, "6 records intact, head seq 6");

	/* A file at the very last seq cannot go on. */
	line = file_line(fx->file, 6);
	snprintf(head, sizeof(head), "18446744073709551615 %s\n",
	    line + strlen(line) - 64);
	free(line);
	text_write(fx->head, head, strlen(head));
	expect_verify(fx->file, fx->head, ZT_E_PROTOCOL, "the head ");
}

/* Head missing or malformed: said, and the file's end is used. */
static void
test_restart_bad_head(void **state)
{
	struct fixture *fx = *state;
	char error[256];
	struct audit *a;

	make_chain(fx, 3);
	unlink(fx->head);
	assert_int_equal(audit_open(fx->file, fx->head, true, &a, error,
	    sizeof(error)), 0);
	expect_log(PRI_ERR, "is missing but");
	assert_int_equal(audit_last_seq(a), 3);
	write_records(a, 4, 1, NULL);
	audit_free(a);

	text_write(fx->head, "4 nothex\n", 9);
	assert_int_equal(audit_open(fx->file, fx->head, true, &a, error,
	    sizeof(error)), 0);
	expect_log(PRI_ERR, "is malformed but");
	assert_int_equal(audit_last_seq(a), 4);
	write_records(a, 5, 1, NULL);
	audit_free(a);
	expect_verify(fx->file, fx->head, 0, "5 records intact, head seq 5");
}

/* A file ending inside a line: the next record starts on a new line. */
static void
test_restart_cut_mid_record(void **state)
{
	struct fixture *fx = *state;
	char error[256], *line;
	struct datagram d[3];
	struct audit *a;
	struct text t;
	size_t len;

	make_chain(fx, 5);
	text_read(fx->file, &t);
	text_line(&t, 5, &len);
	text_write(fx->file, t.data, t.len - 10);
	free(t.data);
	assert_int_equal(audit_open(fx->file, fx->head, true, &a, error,
	    sizeof(error)), 0);
	assert_int_equal(receive(d, 3), 2);
	assert_int_equal(d[0].pri, PRI_ERR);
	assert_non_null(strstr(d[0].message, "no newline"));
	assert_non_null(strstr(d[0].message, "cut or edited"));
	assert_int_equal(d[1].pri, PRI_ERR);
	assert_non_null(strstr(d[1].message, "ends inside a line"));
	assert_int_equal(audit_last_seq(a), 5);
	write_records(a, 6, 1, NULL);
	audit_free(a);
	assert_int_equal(file_line_count(fx->file), 6);
	line = file_line(fx->file, 6);
	assert_memory_equal(line, "time=", 5);
	assert_non_null(strstr(line, " seq=6 prev="));
	free(line);
	expect_verify(fx->file, fx->head, ZT_E_PROTOCOL, "record 5 (line 5): "
	    "malformed: no prev= and hash= at the end");

	/* No head to go on from, and a last line that is no record. */
	unlink(fx->head);
	text_append(fx->file, "junk\n", 5);
	a = (struct audit *)&a;
	assert_int_equal(audit_open(fx->file, fx->head, true, &a, error,
	    sizeof(error)), ZT_E_PROTOCOL);
	assert_null(a);
	assert_non_null(strstr(error, "ztctl audit verify"));
}

/* ------------------------------------------------------- write failures */

/*
 * Writes fail for real through RLIMIT_FSIZE (root writes anywhere, and a
 * directory or /dev/full is refused by audit_open).  LIMIT_EXTRA is how
 * far past the file's current end a write may go.
 */
static void
limit_file_size(const char *path, long extra, struct rlimit *saved)
{
	struct rlimit rl;
	struct stat st;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, saved), 0);
	assert_int_equal(stat(path, &st), 0);
	rl = *saved;
	rl.rlim_cur = (rlim_t)(st.st_size + extra);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void
check_failure(struct fixture *fx, bool require)
{
	struct datagram d[3];
	struct audit_event e;
	struct rlimit saved;
	struct fields f;
	char object[64];
	struct audit *a = open_quiet(fx, require);
	int r;

	write_records(a, 1, 2, NULL);
	limit_file_size(fx->file, 0, &saved);
	for (unsigned i = 3; i <= 4; i++) {
		e = sample_event(i, object, sizeof(object));
		r = audit_write(a, &e);
		if (require)
			assert_int_equal(r, -EFBIG);
		else
			assert_int_equal(r, 0);
		/* The syslog line went out all the same (and, once, why). */
		assert_int_equal(receive(d, 3), i == 3 ? 2 : 1);
		check_one_line(&d[0]);
		parse_audit_line(d[0].message, &f);
		assert_int_equal(strtoul(f.value[K_SEQ], NULL, 10), i);
		fields_free(&f);
		if (i == 3) {
			assert_int_equal(d[1].pri, PRI_ERR);
			assert_non_null(strstr(d[1].message, "record seq 3 "
			    "not written"));
		}
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	e = sample_event(5, object, sizeof(object));
	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(receive(d, 3), 2);
	assert_int_equal(d[0].pri, PRI_AUDIT);
	assert_int_equal(d[1].pri, PRI_NOTICE);
	assert_non_null(strstr(d[1].message, "after 2 lost records"));
	audit_free(a);
	/* The file shows the hole where seq 3 and 4 were lost. */
	assert_int_equal(file_line_count(fx->file), 3);
	expect_verify(fx->file, fx->head, ZT_E_PROTOCOL, "record 3 (line 3): "
	    "seq 5 where 3 was expected: records before it were removed");
}

static void
test_failure_required(void **state)
{
	check_failure(*state, true);
}

static void
test_failure_not_required(void **state)
{
	check_failure(*state, false);
}

/*
 * Group commit: held records reach neither syslog nor the file until
 * audit_flush, which sends every line in order and appends every record
 * at once; the chain verifies and goes on after the batch.  A flush that
 * cannot write (audit.require) is an error, and the next one recovers.
 */
static void
test_held_records(void **state)
{
	struct fixture *fx = *state;
	struct datagram d[8];
	struct audit_event e;
	struct rlimit saved;
	char object[64], report[512];
	struct audit *a = open_quiet(fx, true);

	write_records(a, 1, 2, NULL);
	audit_hold(a, true);
	for (unsigned i = 3; i <= 7; i++) {
		e = sample_event(i, object, sizeof(object));
		assert_int_equal(audit_write(a, &e), 0);
		assert_int_equal(audit_last_seq(a), i);
	}
	assert_int_equal(receive(d, 8), 0);
	assert_int_equal(file_line_count(fx->file), 2);
	assert_int_equal(audit_flush(a), 0);
	assert_int_equal(receive(d, 8), 5);
	for (unsigned i = 0; i < 5; i++) {
		char seq[32];

		snprintf(seq, sizeof(seq), " seq=%u chain=", i + 3);
		assert_int_equal(d[i].pri, PRI_AUDIT);
		assert_non_null(strstr(d[i].message, seq));
	}
	assert_int_equal(file_line_count(fx->file), 7);
	assert_int_equal(audit_verify(fx->file, fx->head, report,
	    sizeof(report)), 0);
	assert_int_equal(audit_flush(a), 0);	/* nothing held: nothing */
	assert_int_equal(receive(d, 8), 0);
	/* The file cannot grow: the flush fails, the next one recovers. */
	limit_file_size(fx->file, 0, &saved);
	e = sample_event(8, object, sizeof(object));
	assert_int_equal(audit_write(a, &e), 0);
	assert_true(audit_flush(a) < 0);
	assert_true(receive(d, 8) >= 1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	e = sample_event(9, object, sizeof(object));
	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(audit_flush(a), 0);
	audit_hold(a, false);
	audit_free(a);
	assert_int_equal(file_line_count(fx->file), 8);
	while (receive(d, 8) > 0)
		;
}

/* A short write: an error, and the next record on a line of its own. */
static void
test_failure_short_write(void **state)
{
	struct fixture *fx = *state;
	struct datagram d[3];
	struct audit_event e;
	struct rlimit saved;
	char object[64], *line;
	struct audit *a = open_quiet(fx, true);

	write_records(a, 1, 2, NULL);
	limit_file_size(fx->file, 10, &saved);
	e = sample_event(3, object, sizeof(object));
	assert_int_equal(audit_write(a, &e), -EIO);
	assert_int_equal(receive(d, 3), 2);
	check_one_line(&d[0]);
	assert_non_null(strstr(d[1].message, "short write"));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	e = sample_event(4, object, sizeof(object));
	assert_int_equal(audit_write(a, &e), 0);
	assert_int_equal(receive(d, 3), 2);
	assert_int_equal(d[1].pri, PRI_NOTICE);
	audit_free(a);
	assert_int_equal(file_line_count(fx->file), 4);
	line = file_line(fx->file, 3);
	assert_string_equal(line, "time=2026-");	/* cut after 10 bytes */
	free(line);
	line = file_line(fx->file, 4);
	assert_non_null(strstr(line, " seq=4 prev="));
	free(line);
	expect_verify(fx->file, fx->head, ZT_E_PROTOCOL, "record 3 (line 3): "
	    "malformed: not an audit record");
}

/* What audit_open refuses, and what it creates. */
static void
test_open_paths(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX], head[PATH_MAX], error[512];
	struct audit *a;
	struct stat st;
	int fd;

	/* A directory where the file should be. */
	a = (struct audit *)&a;
	assert_int_equal(audit_open(fx->dir, fx->head, true, &a, error,
	    sizeof(error)), -EISDIR);
	assert_null(a);
	assert_non_null(strstr(error, fx->dir));
	/* Not a regular file. */
	assert_int_equal(audit_open("/dev/full", fx->head, true, &a, error,
	    sizeof(error)), ZT_E_UNSAFE);
	assert_non_null(strstr(error, "not a regular file"));
	/* A symbolic link. */
	snprintf(path, sizeof(path), "%s/link", fx->dir);
	assert_int_equal(symlink(fx->file, path), 0);
	assert_int_equal(audit_open(path, fx->head, true, &a, error,
	    sizeof(error)), ZT_E_UNSAFE);
	assert_non_null(strstr(error, "symbolic link"));
	/* Writable by others. */
	fd = open(fx->file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0622), 0);
	close(fd);
	assert_int_equal(audit_open(fx->file, fx->head, true, &a, error,
	    sizeof(error)), ZT_E_UNSAFE);
	/* Two levels missing: only one is made. */
	snprintf(path, sizeof(path), "%s/a/b/audit.log", fx->dir);
	assert_int_equal(audit_open(path, fx->head, true, &a, error,
	    sizeof(error)), -ENOENT);

	/* Directories made 0700, the file and head 0600. */
	snprintf(path, sizeof(path), "%s/log/audit.log", fx->dir);
	snprintf(head, sizeof(head), "%s/state/audit.head", fx->dir);
	assert_int_equal(audit_open(path, head, true, &a, error,
	    sizeof(error)), 0);
	write_records(a, 1, 1, NULL);
	audit_free(a);
	snprintf(error, sizeof(error), "%s/log", fx->dir);
	assert_int_equal(stat(error, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(error, sizeof(error), "%s/state", fx->dir);
	assert_int_equal(stat(error, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(head, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	expect_verify(path, head, 0, "1 records intact, head seq 1");
}

static void
test_null_arguments(void **state)
{
	struct audit_event e = { .allow = true };

	(void)state;
	audit_free(NULL);
	assert_int_equal(audit_last_seq(NULL), 0);
	assert_int_equal(audit_write(NULL, &e), -EINVAL);
}

/* ------------------------------------------------------------------ main */

/* Drop every datagram waiting on the sink; how many. */
static size_t
drain_sink(void)
{
	char spare[64];
	size_t n = 0;

	while (recv(log_fd, spare, sizeof(spare), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

static double
elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* A reader that makes room in the sink's queue after 20 ms. */
static void *
read_one_later(void *arg)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	char spare[64];

	(void)arg;
	nanosleep(&pause, NULL);
	if (recv(log_fd, spare, sizeof(spare), 0) < 0)
		return (void *)1;
	return NULL;
}

/*
 * A syslog receiver that does not read: an audit line waits for room in
 * its queue (net.unix.max_dgram_qlen when the sink was made) for about
 * 100 ms, then fails with EAGAIN (the caller denies with audit.require);
 * room made while it waits sends the line.
 */
static void
test_full_queue(void **state)
{
	struct timespec t0;
	pthread_t reader;
	void *failed;
	size_t depth = 0;
	int r;

	(void)state;
	drain_sink();
	/* Fill it: every line that fits goes at once. */
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if ((r = zt_log_audit("fill", 4)) < 0)
			break;
		depth++;
		assert_true(depth <= 100000);
	}
	assert_int_equal(r, -EAGAIN);
	assert_true(depth >= 1);
	/* The refusal came after the wait, not at once. */
	assert_true(elapsed_ms(&t0) >= 90);

	/* Room made while it waits: sent, and the last in the queue. */
	assert_int_equal(pthread_create(&reader, NULL, read_one_later, NULL),
	    0);
	assert_int_equal(zt_log_audit("after room", 10), 0);
	assert_int_equal(pthread_join(reader, &failed), 0);
	assert_null(failed);
	assert_int_equal(drain_sink(), depth);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		TEST(test_line_fields),
		TEST(test_line_null_and_words),
		TEST(test_chain_matches_file),
		TEST(test_chain_without_file),
		TEST(test_forge_everything_at_once),
		TEST(test_verify_edit_every_byte),
		TEST(test_verify_edit_rehashed),
		TEST(test_verify_rewritten_chain),
		TEST(test_verify_delete),
		TEST(test_verify_swap),
		TEST(test_verify_repeat),
		TEST(test_verify_truncate_tail),
		TEST(test_verify_appended_garbage),
		TEST(test_verify_long_line),
		TEST(test_verify_head),
		TEST(test_verify_unreadable),
		TEST(test_restart_continues),
		TEST(test_restart_after_cut),
		TEST(test_restart_head_behind),
		TEST(test_restart_head_far_behind),
		TEST(test_restart_bad_head),
		TEST(test_restart_cut_mid_record),
		TEST(test_failure_required),
		TEST(test_failure_not_required),
		TEST(test_failure_short_write),
		TEST(test_held_records),
		TEST(test_open_paths),
		TEST(test_reopen_rotated),
		TEST(test_reopen_refusals),
		TEST(test_suppressed_and_host),
		TEST(test_name_field),
		cmocka_unit_test(test_limit_bucket),
		cmocka_unit_test(test_null_arguments),
		cmocka_unit_test(test_full_queue),
	};
	static struct CMUnitTest tests[ARRAY_SIZE(fixed) +
	    ARRAY_SIZE(forge_cases)];
	size_t n = 0;

	/* A write past RLIMIT_FSIZE must fail with EFBIG, not kill us. */
	signal(SIGXFSZ, SIG_IGN);
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		tests[n++] = fixed[i];
	for (size_t v = 0; v < ARRAY_SIZE(forge_values); v++)
		for (size_t k = 0; k < ARRAY_SIZE(forge_fields); k++) {
			struct forge_case *c = &forge_cases[v *
			    ARRAY_SIZE(forge_fields) + k];

			snprintf(c->name, sizeof(c->name), "forge %s: %s",
			    forge_fields[k].name, forge_values[v].name);
			c->value = v;
			c->field = k;
			tests[n++] = (struct CMUnitTest){
				.name = c->name, .test_func = test_forge,
				.setup_func = setup,
				.teardown_func = teardown,
				.initial_state = c,
			};
		}
	return _cmocka_run_group_tests("audit", tests, n, group_setup,
	    group_teardown);
}

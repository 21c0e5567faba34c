/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the policy engine: the case table, the parser, the reasons. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"
#include "zt_addr.h"
#include "zt_err.h"
#include "zt_msg.h"
#include "ztd_config.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CONFIG_NAME "tests/data/policy.conf"
#define CASES_NAME "tests/data/policy-cases.txt"
#define CASES_AGENT "backup"
#define CASES_MIN 70
/* policy.conf is a template: its state_dir is this placeholder. */
#define STATE_PLACEHOLDER "@STATE@"
#define STATE_DIR "/var/lib/zt-test"

enum expect { EXPECT_ALLOW, EXPECT_DENY, EXPECT_ERROR };

/* One line of policy-cases.txt. */
struct policy_case {
	int line;
	char *name;		/* "policy-cases.txt:LINE: the line" */
	enum action action;
	char *object;
	enum expect expect;
	enum risk risk;		/* of an allow */
	const char *malformed;	/* what is wrong with the line, or NULL */
};

/*
 * What every test reads: the policy and its text (for line numbers).
 * Loaded by the group setup, so that a broken file fails every test.
 */
static struct {
	struct ztd_config *config;
	char *text;
} loaded;

/* ------------------------------------------------------------ helpers */

static const char *
top_srcdir(void)
{
	const char *dir = secure_getenv("top_srcdir");

	return dir != NULL && dir[0] != '\0' ? dir : ".";
}

static void
source_path(char *path, size_t size, const char *name)
{
	int n = snprintf(path, size, "%s/%s", top_srcdir(), name);

	assert_true(n > 0 && (size_t)n < size);
}

/* The whole of PATH as a string, or NULL (errno set). */
static char *
read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t size = 0, used = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (size - used < 4096) {
			char *more;

			size = size ? 2 * size : 65536;
			more = realloc(text, size + 1);
			if (more == NULL) {
				free(text);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			text = more;
		}
		n = fread(text + used, 1, size - used, f);
		used += n;
	} while (n > 0);
	text[used] = '\0';
	fclose(f);
	return text;
}

/* The line of the policy text on which NEEDLE first appears. */
static int
line_of(const char *needle)
{
	const char *at = strstr(loaded.text, needle);
	int line = 1;

	if (at == NULL)
		fail_msg("%s has no \"%s\"", CONFIG_NAME, needle);
	for (const char *c = loaded.text; c < at; c++)
		if (*c == '\n')
			line++;
	return line;
}

static const struct agent *
agent_named(const char *name)
{
	const struct agent *a = config_find_agent(loaded.config, name);

	if (a == NULL)
		fail_msg("%s has no agent \"%s\"", CONFIG_NAME, name);
	return a;
}

/* Printable and short enough for an audit line: checked on every text. */
static void
check_message(const char *s)
{
	size_t len = strnlen(s, POLICY_REASON_MAX);

	assert_true(len > 0);
	assert_true(len < POLICY_REASON_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			fail_msg("control byte 0x%02x in \"%s\"",
			    (unsigned char)s[i], s);
}

/* Parse TEXT, which must be valid, into *OBJECT (caller frees). */
static struct policy_object *
parse_ok(enum action action, const char *text)
{
	struct policy_object *o = malloc(sizeof(*o));
	char error[POLICY_REASON_MAX];
	int r;

	assert_non_null(o);
	r = policy_parse_object(action, text, o, error);
	if (r != 0) {
		free(o);
		fail_msg("%s %.80s: refused: %s", policy_action_name(action),
		    text, error);
	}
	assert_string_equal(error, "");
	assert_int_equal(o->action, action);
	return o;
}

/* Decide TEXT for AGENT; the verdict must be DECISION and carry REASON. */
static void
check_verdict(const char *agent, enum action action, const char *text,
    uint32_t decision, enum risk risk, const char *reason)
{
	struct policy_object *o = parse_ok(action, text);
	struct policy_verdict v;

	policy_decide(agent_named(agent), o, &v);
	free(o);
	check_message(v.reason);
	if (reason != NULL)
		assert_string_equal(v.reason, reason);
	if (v.decision != decision)
		fail_msg("%s %s: decision %#x, wanted %#x (%s)",
		    policy_action_name(action), text, v.decision, decision,
		    v.reason);
	assert_int_equal(v.risk, decision == DECISION_ALLOW ? risk : RISK_DENY);
}

/* ------------------------------------------------------------ setup */

/* TEXT with every STATE_PLACEHOLDER replaced by STATE_DIR (new string). */
static char *
fill_template(const char *text)
{
	size_t from = strlen(STATE_PLACEHOLDER), to = strlen(STATE_DIR);
	size_t count = 0, used = 0;
	const char *at, *rest = text;
	char *filled;

	for (at = strstr(text, STATE_PLACEHOLDER); at != NULL;
	    at = strstr(at + from, STATE_PLACEHOLDER))
		count++;
	filled = malloc(strlen(text) + count * to + 1);
	assert_non_null(filled);
	while ((at = strstr(rest, STATE_PLACEHOLDER)) != NULL) {
		memcpy(filled + used, rest, (size_t)(at - rest));
		used += (size_t)(at - rest);
		memcpy(filled + used, STATE_DIR, to);
		used += to;
		rest = at + from;
	}
	memcpy(filled + used, rest, strlen(rest) + 1);
	return filled;
}

/* TEXT into a new 0644 file, whatever the umask; its name in PATH. */
static int
write_temporary(const char *text, char *path, size_t size)
{
	const char *dir = secure_getenv("TMPDIR");
	size_t len = strlen(text);
	int fd;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	if (snprintf(path, size, "%s/test_policy.XXXXXX", dir) >= (int)size)
		return -1;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0644) < 0 || write(fd, text, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		return -1;
	}
	return close(fd);
}

static int
load_policy(void **state)
{
	char path[PATH_MAX], copy[PATH_MAX], error[CONFIG_ERROR_MAX];
	char *text;
	int r;

	(void)state;
	source_path(path, sizeof(path), CONFIG_NAME);
	text = read_text(path);
	if (text == NULL) {
		print_error("%s: %s\n", path, strerror(errno));
		return -1;
	}
	/* Lines are kept: the line numbers of rules are those of PATH. */
	loaded.text = fill_template(text);
	free(text);
	/* Through the real loader, from a file with a safe mode: a checkout
	 * made with umask 002 is group-writable, and the text is a template. */
	if (write_temporary(loaded.text, copy, sizeof(copy)) < 0) {
		print_error("cannot write a copy of %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	r = config_load(copy, &loaded.config, error);
	unlink(copy);
	if (r < 0) {
		print_error("%s (a copy of %s)\n", error, path);
		return -1;
	}
	if (strcmp(loaded.config->state_dir, STATE_DIR) != 0) {
		print_error("%s: state_dir is not %s\n", path,
		    STATE_PLACEHOLDER);
		return -1;
	}
	return 0;
}

static int
unload_policy(void **state)
{
	(void)state;
	config_free(loaded.config);
	free(loaded.text);
	loaded.config = NULL;
	loaded.text = NULL;
	return 0;
}

/* ------------------------------------------------------------ the table */

static void
parse_case_line(struct policy_case *pc, char *line)
{
	char *words[5], *save = NULL, *w;
	size_t n = 0;

	for (w = strtok_r(line, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save)) {
		if (n == ARRAY_SIZE(words)) {
			pc->malformed = "more than four words";
			return;
		}
		words[n++] = w;
	}
	if (n < 3) {
		pc->malformed = "fewer than three words";
		return;
	}
	pc->action = policy_action_from_name(words[0]);
	pc->object = strdup(words[1]);
	assert_non_null(pc->object);
	if (pc->action == ACTION_NONE)
		pc->malformed = "unknown action";
	else if (strcmp(words[2], "allow") == 0)
		pc->expect = EXPECT_ALLOW;
	else if (strcmp(words[2], "deny") == 0)
		pc->expect = EXPECT_DENY;
	else if (strcmp(words[2], "error") == 0)
		pc->expect = EXPECT_ERROR;
	else
		pc->malformed = "EXPECT is not allow, deny or error";
	if (pc->malformed != NULL)
		return;
	if (pc->expect != EXPECT_ALLOW) {
		if (n != 3)
			pc->malformed = "only an allow takes a RISK";
		return;
	}
	if (n != 4)
		pc->malformed = "an allow needs a RISK (low or high)";
	else if (strcmp(words[3], "low") == 0)
		pc->risk = RISK_LOW;
	else if (strcmp(words[3], "high") == 0)
		pc->risk = RISK_HIGH;
	else
		pc->malformed = "RISK is not low or high";
}

/* Every case of TEXT (modified), in *CASES; returns how many. */
static size_t
parse_cases(char *text, struct policy_case **cases)
{
	size_t n = 0, size = 0;
	char *line = text, *next;

	*cases = NULL;
	for (int number = 1; line != NULL && *line != '\0'; number++,
	    line = next) {
		struct policy_case *pc;
		size_t len;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (line[strspn(line, " \t")] == '\0' || line[0] == '#')
			continue;
		if (n == size) {
			size = size ? 2 * size : 256;
			*cases = realloc(*cases, size * sizeof(**cases));
			assert_non_null(*cases);
		}
		pc = &(*cases)[n++];
		memset(pc, 0, sizeof(*pc));
		pc->line = number;
		if (asprintf(&pc->name, "policy-cases.txt:%d: %s", number,
		    line) < 0)
			abort();
		parse_case_line(pc, line);
	}
	return n;
}

static void
free_cases(struct policy_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(cases[i].name);
		free(cases[i].object);
	}
	free(cases);
}

/* One line of policy-cases.txt against agent "backup". */
static void
test_case(void **state)
{
	const struct policy_case *pc = *state;
	struct policy_object *o, *again;
	struct policy_verdict v, v_again;
	char error[POLICY_REASON_MAX];
	int r;

	if (pc->malformed != NULL)
		fail_msg("line %d: %s", pc->line, pc->malformed);
	o = malloc(sizeof(*o));
	assert_non_null(o);
	r = policy_parse_object(pc->action, pc->object, o, error);
	if (pc->expect == EXPECT_ERROR) {
		if (r != ZT_E_PROTOCOL)
			fail_msg("accepted (rc %d) as %s", r, o->text);
		check_message(error);
		assert_int_equal(o->action, ACTION_NONE);
		free(o);
		return;
	}
	if (r != 0)
		fail_msg("refused: %s", error);
	assert_string_equal(error, "");

	policy_decide(agent_named(CASES_AGENT), o, &v);
	check_message(v.reason);
	if (pc->expect == EXPECT_ALLOW) {
		if (v.decision != DECISION_ALLOW)
			fail_msg("denied: %s", v.reason);
		if (v.risk != pc->risk)
			fail_msg("risk %s: %s", v.risk == RISK_LOW ? "low" :
			    v.risk == RISK_HIGH ? "high" : "deny", v.reason);
	} else {
		if (v.decision != DECISION_DENY)
			fail_msg("allowed: %s", v.reason);
		assert_int_equal(v.risk, RISK_DENY);
	}

	/* The canonical text is itself an object, canonical, and the same
	 * decision. */
	again = parse_ok(pc->action, o->text);
	assert_string_equal(again->text, o->text);
	policy_decide(agent_named(CASES_AGENT), again, &v_again);
	assert_int_equal(v_again.decision, v.decision);
	assert_int_equal(v_again.risk, v.risk);
	assert_string_equal(v_again.reason, v.reason);
	free(again);
	free(o);
}

struct table {
	struct policy_case *cases;
	size_t n;
};

/* The table is long and covers every action and every outcome. */
static void
test_case_coverage(void **state)
{
	const struct table *t = *state;
	unsigned seen[ACTION_MAX][3] = { { 0 } };
	unsigned allow_high = 0, allow_low = 0;

	if (t->n < CASES_MIN)
		fail_msg("%s has %zu cases, fewer than %d", CASES_NAME, t->n,
		    CASES_MIN);
	for (size_t i = 0; i < t->n; i++) {
		const struct policy_case *pc = &t->cases[i];

		if (pc->malformed != NULL)
			continue;
		seen[pc->action][pc->expect]++;
		if (pc->expect == EXPECT_ALLOW)
		{
			if (pc->risk == RISK_HIGH)
				allow_high++;
			else
				allow_low++;
		}
	}
	for (int a = ACTION_NONE + 1; a < ACTION_MAX; a++)
		for (int e = EXPECT_ALLOW; e <= EXPECT_ERROR; e++)
			if (seen[a][e] == 0)
				fail_msg("no %s case expects %s",
				    policy_action_name((enum action)a),
				    e == EXPECT_ALLOW ? "allow" :
				    e == EXPECT_DENY ? "deny" : "error");
	assert_true(allow_high > 0);
	assert_true(allow_low > 0);
}

/* ------------------------------------------------------------ names */

static void
test_action_names(void **state)
{
	static const char *const names[] = {
		"session", "exec", "connect", "open", "syscall", "listen",
		"resolve",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		enum action a = policy_action_from_name(names[i]);

		assert_int_not_equal(a, ACTION_NONE);
		assert_string_equal(policy_action_name(a), names[i]);
	}
	assert_int_equal(policy_action_from_name("Exec"), ACTION_NONE);
	assert_int_equal(policy_action_from_name(""), ACTION_NONE);
	assert_int_equal(policy_action_from_name("none"), ACTION_NONE);
	assert_int_equal(policy_action_from_name(NULL), ACTION_NONE);
	assert_null(policy_action_name(ACTION_NONE));
	assert_null(policy_action_name(ACTION_MAX));
	assert_null(policy_action_name((enum action)-1));
	/* The wire's allow is the engine's allow, and neither is a bool. */
	assert_int_equal(DECISION_ALLOW, ZT_DECISION_ALLOW);
	assert_int_equal(DECISION_DENY, 0);
	assert_true(__builtin_popcount(DECISION_ALLOW) > 8);
}

/* ------------------------------------------------------------ parsing */

struct canonical_case {
	enum action action;
	const char *text;
	const char *canonical;
	int family;		/* connect */
	const char *address;	/* connect: in the family's own form */
	uint16_t port;
	enum proto proto;
	const char *path;	/* open, exec, unix */
	unsigned access;	/* open */
};

/* Bytes above 0x7f are names' business; dots are only "." and "..". */
#define UTF8_PATH "/srv/caf\xc3\xa9/.x/..y/..."

static const struct canonical_case canonical_cases[] = {
	{ ACTION_CONNECT, "10.0.0.5:5432", "tcp:10.0.0.5:5432", AF_INET,
	    "10.0.0.5", 5432, PROTO_TCP, NULL, 0 },
	{ ACTION_CONNECT, "tcp:10.0.0.5:1", "tcp:10.0.0.5:1", AF_INET,
	    "10.0.0.5", 1, PROTO_TCP, NULL, 0 },
	{ ACTION_CONNECT, "udp:255.255.255.255:65535",
	    "udp:255.255.255.255:65535", AF_INET, "255.255.255.255", 65535,
	    PROTO_UDP, NULL, 0 },
	{ ACTION_CONNECT, "udp:[2001:DB8:0:0::1]:53", "udp:[2001:db8::1]:53",
	    AF_INET6, "2001:db8::1", 53, PROTO_UDP, NULL, 0 },
	{ ACTION_CONNECT, "[::]:80", "tcp:[::]:80", AF_INET6, "::", 80,
	    PROTO_TCP, NULL, 0 },
	{ ACTION_CONNECT, "[::1]:22", "tcp:[::1]:22", AF_INET6, "::1", 22,
	    PROTO_TCP, NULL, 0 },
	/* v4-mapped: stored and written as IPv4 */
	{ ACTION_CONNECT, "[::ffff:10.0.0.5]:5432", "tcp:10.0.0.5:5432",
	    AF_INET, "10.0.0.5", 5432, PROTO_TCP, NULL, 0 },
	{ ACTION_CONNECT, "udp:[::FFFF:7f00:1]:53", "udp:127.0.0.1:53",
	    AF_INET, "127.0.0.1", 53, PROTO_UDP, NULL, 0 },
	{ ACTION_CONNECT, "[0:0:0:0:0:ffff:0:0]:9", "tcp:0.0.0.0:9", AF_INET,
	    "0.0.0.0", 9, PROTO_TCP, NULL, 0 },
	/* not v4-mapped: IPv4-compatible and NAT64 stay IPv6 */
	{ ACTION_CONNECT, "[::a00:5]:80", "tcp:[::10.0.0.5]:80", AF_INET6,
	    "::10.0.0.5", 80, PROTO_TCP, NULL, 0 },
	{ ACTION_CONNECT, "[64:ff9b::10.0.0.5]:80", "tcp:[64:ff9b::a00:5]:80",
	    AF_INET6, "64:ff9b::a00:5", 80, PROTO_TCP, NULL, 0 },
	{ ACTION_CONNECT, "[::fffe:10.0.0.5]:80", "tcp:[::fffe:a00:5]:80",
	    AF_INET6, "::fffe:a00:5", 80, PROTO_TCP, NULL, 0 },
	{ ACTION_CONNECT, "unix:/run/x.sock", "unix:/run/x.sock", AF_UNIX,
	    NULL, 0, PROTO_TCP, "/run/x.sock", 0 },
	{ ACTION_EXEC, "/usr/bin/psql", "/usr/bin/psql", 0, NULL, 0,
	    PROTO_TCP, "/usr/bin/psql", 0 },
	{ ACTION_EXEC, "/opt/a b/c:d", "/opt/a b/c:d", 0, NULL, 0,
	    PROTO_TCP, "/opt/a b/c:d", 0 },
	{ ACTION_EXEC, UTF8_PATH, UTF8_PATH, 0, NULL, 0, PROTO_TCP, UTF8_PATH,
	    0 },
	{ ACTION_OPEN, "/var/backups/a:b:rw", "/var/backups/a:b:rw", 0, NULL,
	    0, PROTO_TCP, "/var/backups/a:b", ACCESS_READ | ACCESS_WRITE },
	{ ACTION_OPEN, "/:r", "/:r", 0, NULL, 0, PROTO_TCP, "/",
	    ACCESS_READ },
	{ ACTION_OPEN, "/x:w", "/x:w", 0, NULL, 0, PROTO_TCP, "/x",
	    ACCESS_WRITE },
	{ ACTION_OPEN, "/x:x", "/x:x", 0, NULL, 0, PROTO_TCP, "/x",
	    ACCESS_EXEC },
	{ ACTION_OPEN, "/x:rx", "/x:rx", 0, NULL, 0, PROTO_TCP, "/x",
	    ACCESS_READ | ACCESS_EXEC },
	{ ACTION_OPEN, "/x:wx", "/x:wx", 0, NULL, 0, PROTO_TCP, "/x",
	    ACCESS_WRITE | ACCESS_EXEC },
	{ ACTION_OPEN, "/x:rwx", "/x:rwx", 0, NULL, 0, PROTO_TCP, "/x",
	    ACCESS_READ | ACCESS_WRITE | ACCESS_EXEC },
	{ ACTION_SYSCALL, "mount", "mount", 0, NULL, 0, PROTO_TCP, NULL, 0 },
	{ ACTION_SESSION, "zt-agent", "zt-agent", 0, NULL, 0, PROTO_TCP, NULL,
	    0 },
	{ ACTION_SESSION, "A.b_c-9", "A.b_c-9", 0, NULL, 0, PROTO_TCP, NULL,
	    0 },
};

static void
test_canonical(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(canonical_cases); i++) {
		const struct canonical_case *cc = &canonical_cases[i];
		struct policy_object *o = parse_ok(cc->action, cc->text);

		if (strcmp(o->text, cc->canonical) != 0)
			fail_msg("%s: canonical \"%s\", wanted \"%s\"",
			    cc->text, o->text, cc->canonical);
		if (cc->action == ACTION_CONNECT) {
			assert_int_equal(o->family, cc->family);
			assert_int_equal(o->port, cc->port);
			assert_int_equal(o->proto, cc->proto);
		}
		if (cc->address != NULL) {
			uint8_t want[16] = { 0 };

			assert_int_equal(inet_pton(cc->family, cc->address,
			    want), 1);
			assert_memory_equal(o->addr, want, sizeof(want));
		}
		if (cc->path != NULL)
			assert_string_equal(o->path, cc->path);
		assert_int_equal(o->access, cc->access);
		free(o);
	}
}

struct error_case {
	enum action action;
	const char *text;
	const char *message;
};

static const struct error_case error_cases[] = {
	{ ACTION_CONNECT, "10.0.0.5:0",
	    "connect: the port is out of range 1-65535" },
	{ ACTION_CONNECT, "10.0.0.5:65536",
	    "connect: the port is out of range 1-65535" },
	{ ACTION_CONNECT, "10.0.0.5:4294967297",
	    "connect: the port is out of range 1-65535" },
	{ ACTION_CONNECT, "10.0.0.5:00080",
	    "connect: the port has a leading zero" },
	{ ACTION_CONNECT, "10.0.0.5:+80",
	    "connect: the port must be a decimal number" },
	{ ACTION_CONNECT, "10.0.0.5:8 0",
	    "connect: the port must be a decimal number" },
	{ ACTION_CONNECT, "10.0.0.5",
	    "connect: the port is missing (ADDRESS:PORT)" },
	{ ACTION_CONNECT, "10.0.0.5:",
	    "connect: the port is missing (ADDRESS:PORT)" },
	{ ACTION_CONNECT, "[::1]",
	    "connect: the port is missing ([IPV6]:PORT)" },
	{ ACTION_CONNECT, "[::1]80", "connect: expected ':PORT' after ']'" },
	{ ACTION_CONNECT, "[::1:80", "connect: '[' without ']' ([IPV6]:PORT)" },
	{ ACTION_CONNECT, "[]:80",
	    "connect: not a literal IPv6 address in [ ]" },
	{ ACTION_CONNECT, "[db.internal]:80",
	    "connect: not a literal IPv6 address in [ ]" },
	{ ACTION_CONNECT,
	    "[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]:80",
	    "connect: not a literal IPv6 address in [ ]" },
	{ ACTION_CONNECT, "db.internal:5432",
	    "connect: not a literal IPv4 address (names are not resolved)" },
	{ ACTION_CONNECT, ":5432",
	    "connect: not a literal IPv4 address (names are not resolved)" },
	{ ACTION_CONNECT, "::1:80", "connect: expected "
	    "[tcp:|udp:]ADDRESS:PORT, [IPV6]:PORT or unix:PATH" },
	{ ACTION_CONNECT, "sctp:10.0.0.5:80", "connect: expected "
	    "[tcp:|udp:]ADDRESS:PORT, [IPV6]:PORT or unix:PATH" },
	{ ACTION_CONNECT, "unix:run/x",
	    "connect: the unix socket path is not an absolute path" },
	{ ACTION_CONNECT, "unix:/",
	    "connect: the unix socket path is the root directory" },
	{ ACTION_CONNECT, "unix:/run/x/../y",
	    "connect: the unix socket path has a '.' or '..' component" },
	{ ACTION_EXEC, "usr/bin/rsync",
	    "exec: the path is not an absolute path" },
	{ ACTION_EXEC, "/", "exec: the path is the root directory" },
	{ ACTION_EXEC, "/usr/bin/", "exec: the path ends with '/'" },
	{ ACTION_EXEC, "/usr//bin", "exec: the path contains '//'" },
	{ ACTION_EXEC, "/.", "exec: the path has a '.' or '..' component" },
	{ ACTION_EXEC, "/..", "exec: the path has a '.' or '..' component" },
	{ ACTION_EXEC, "/a/./b",
	    "exec: the path has a '.' or '..' component" },
	{ ACTION_EXEC, "/a/..", "exec: the path has a '.' or '..' component" },
	{ ACTION_OPEN, "/var/backups", "open: expected PATH:MODE" },
	{ ACTION_OPEN, "/var/backups:",
	    "open: the mode must be r, w, x, rw, rx, wx or rwx" },
	{ ACTION_OPEN, "/var/backups:wr",
	    "open: the mode must be r, w, x, rw, rx, wx or rwx" },
	{ ACTION_OPEN, "/var/backups:rwxr",
	    "open: the mode must be r, w, x, rw, rx, wx or rwx" },
	{ ACTION_OPEN, ":r", "open: the path is not an absolute path" },
	{ ACTION_OPEN, "/var/../etc:r",
	    "open: the path has a '.' or '..' component" },
	{ ACTION_OPEN, "/var/:r", "open: the path ends with '/'" },
	{ ACTION_SYSCALL, "notasyscall",
	    "syscall: notasyscall is not a syscall of this architecture" },
	{ ACTION_SYSCALL, "Mount", "syscall: not a syscall name" },
	{ ACTION_SYSCALL, "mount;", "syscall: not a syscall name" },
	{ ACTION_SESSION, "ss hd",
	    "session: a PAM service name takes only A-Z a-z 0-9 _ . -" },
	{ ACTION_SESSION, "caf\xc3\xa9",
	    "session: a PAM service name takes only A-Z a-z 0-9 _ . -" },
	{ ACTION_SESSION, "", "session: the object is empty" },
	{ ACTION_EXEC, "", "exec: the object is empty" },
	{ ACTION_NONE, "/usr/bin/rsync", "unknown action" },
	{ ACTION_MAX, "/usr/bin/rsync", "unknown action" },
};

static void
test_parse_errors(void **state)
{
	struct policy_object *o = malloc(sizeof(*o));

	(void)state;
	assert_non_null(o);
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++) {
		const struct error_case *ec = &error_cases[i];
		char error[POLICY_REASON_MAX];

		/* What a parser that forgot to reset *OUT would leave. */
		memset(o, 0x5a, sizeof(*o));
		o->action = ACTION_EXEC;
		memset(error, 'x', sizeof(error));
		if (policy_parse_object(ec->action, ec->text, o, error) !=
		    ZT_E_PROTOCOL)
			fail_msg("\"%s\" was accepted as \"%s\"", ec->text,
			    o->text);
		check_message(error);
		assert_string_equal(error, ec->message);
		assert_int_equal(o->action, ACTION_NONE);
		assert_string_equal(o->text, "");
	}
	free(o);
}

static void
test_null_text(void **state)
{
	struct policy_object *o = malloc(sizeof(*o));
	char error[POLICY_REASON_MAX];

	(void)state;
	assert_non_null(o);
	assert_int_equal(policy_parse_object(ACTION_EXEC, NULL, o, error),
	    ZT_E_PROTOCOL);
	assert_string_equal(error, "exec: the object is empty");
	free(o);
}

/* A buffer of LEN bytes: "/" then 'a's, then SUFFIX (included in LEN). */
static char *
make_path(size_t len, const char *suffix)
{
	size_t suffix_len = strlen(suffix);
	char *p = malloc(len + 1);

	assert_non_null(p);
	assert_true(len > suffix_len);
	p[0] = '/';
	memset(p + 1, 'a', len - 1 - suffix_len);
	memcpy(p + len - suffix_len, suffix, suffix_len + 1);
	/* Components within NAME_MAX, like a real path. */
	for (size_t i = 200; i + 1 < len - suffix_len; i += 200)
		p[i] = '/';
	return p;
}

static void
test_long_paths(void **state)
{
	struct policy_object *o = malloc(sizeof(*o));
	char error[POLICY_REASON_MAX];
	struct policy_verdict v;
	char *p;

	(void)state;
	assert_non_null(o);

	/* The longest object: PATH_MAX - 1 bytes of path. */
	p = make_path(POLICY_OBJECT_MAX - 1, "");
	assert_int_equal(strlen(p), PATH_MAX - 1);
	assert_int_equal(policy_parse_object(ACTION_EXEC, p, o, error), 0);
	assert_string_equal(o->path, p);
	assert_string_equal(o->text, p);
	/* The reason quotes it shortened, and still names what it is. */
	policy_decide(agent_named(CASES_AGENT), o, &v);
	check_message(v.reason);
	assert_int_equal(v.decision, DECISION_DENY);
	assert_non_null(strstr(v.reason, "... is not in commands"));
	assert_int_equal(strncmp(v.reason, "command /aaaa", 13), 0);
	free(p);

	/* One byte more is refused, before anything else is looked at. */
	p = make_path(POLICY_OBJECT_MAX, "");
	assert_int_equal(policy_parse_object(ACTION_EXEC, p, o, error),
	    ZT_E_PROTOCOL);
	assert_string_equal(error, "exec: the object is longer than 4095 "
	    "bytes");
	free(p);
	p = make_path(64 * 1024, "");
	assert_int_equal(policy_parse_object(ACTION_EXEC, p, o, error),
	    ZT_E_PROTOCOL);
	free(p);

	/* open: the mode counts in the object's length. */
	p = make_path(POLICY_OBJECT_MAX - 1, ":rw");
	assert_int_equal(policy_parse_object(ACTION_OPEN, p, o, error), 0);
	assert_int_equal(strlen(o->path), POLICY_OBJECT_MAX - 4);
	assert_string_equal(o->text, p);
	policy_decide(agent_named(CASES_AGENT), o, &v);
	check_message(v.reason);
	assert_int_equal(strncmp(v.reason, "no files rule covers /aaa", 25), 0);
	free(p);
	p = make_path(POLICY_OBJECT_MAX, ":rw");
	assert_int_equal(policy_parse_object(ACTION_OPEN, p, o, error),
	    ZT_E_PROTOCOL);
	free(p);

	/* A covered long path: the reason names the rule, not the object. */
	p = make_path(POLICY_OBJECT_MAX - 1, ":rw");
	memcpy(p, "/var/backups/", 13);
	assert_int_equal(policy_parse_object(ACTION_OPEN, p, o, error), 0);
	policy_decide(agent_named(CASES_AGENT), o, &v);
	assert_int_equal(v.decision, DECISION_ALLOW);
	check_message(v.reason);
	free(p);

	/* unix: a socket path fits sockaddr_un. */
	p = make_path(107 + 5, "");
	memcpy(p, "unix:/", 6);
	assert_int_equal(policy_parse_object(ACTION_CONNECT, p, o, error), 0);
	assert_int_equal(strlen(o->path), 107);
	free(p);
	p = make_path(108 + 5, "");
	memcpy(p, "unix:/", 6);
	assert_int_equal(policy_parse_object(ACTION_CONNECT, p, o, error),
	    ZT_E_PROTOCOL);
	assert_string_equal(error, "connect: the unix socket path is longer "
	    "than 107 bytes");
	free(p);

	/* session: 64 characters at most. */
	p = make_path(65, "");
	memset(p, 's', 65);
	p[64] = '\0';
	assert_int_equal(policy_parse_object(ACTION_SESSION, p, o, error), 0);
	p[64] = 's';
	assert_int_equal(policy_parse_object(ACTION_SESSION, p, o, error),
	    ZT_E_PROTOCOL);
	free(p);
	free(o);
}

/* A path shortened in a reason is cut between characters, not inside. */
static void
test_reason_utf8(void **state)
{
	/* "/" then 100 two-byte characters: cut at an odd offset. */
	char path[1 + 200 + 1];
	struct policy_object *o;
	struct policy_verdict v;
	const char *quoted, *end;

	(void)state;
	path[0] = '/';
	for (size_t i = 0; i < 100; i++)
		memcpy(path + 1 + 2 * i, "\xc3\xa9", 2);
	path[sizeof(path) - 1] = '\0';
	o = parse_ok(ACTION_EXEC, path);
	policy_decide(agent_named(CASES_AGENT), o, &v);
	free(o);
	check_message(v.reason);
	quoted = v.reason + strlen("command /");
	end = strstr(quoted, "...");
	assert_non_null(end);
	assert_int_equal((end - quoted) % 2, 0);
	for (const char *c = quoted; c < end; c += 2)
		assert_memory_equal(c, "\xc3\xa9", 2);
}

static void
test_control_bytes(void **state)
{
	static const char bytes[] = {
		0x01, '\t', '\n', '\r', 0x1b, 0x1f, 0x7f,
	};
	static const struct {
		enum action action;
		const char *text;	/* '#' is where the byte goes */
	} objects[] = {
		{ ACTION_EXEC, "/usr/bin/rs#ync" },
		{ ACTION_EXEC, "/usr/bin/rsync#" },
		{ ACTION_OPEN, "/var/backups/#:r" },
		{ ACTION_OPEN, "/var/backups/x:r#" },
		{ ACTION_CONNECT, "unix:/run/#.sock" },
		{ ACTION_CONNECT, "10.0.0.5:5432#" },
		{ ACTION_CONNECT, "#10.0.0.5:5432" },
		{ ACTION_CONNECT, "[::1#]:22" },
		{ ACTION_SESSION, "cron#" },
		{ ACTION_SYSCALL, "mount#" },
	};
	struct policy_object *o = malloc(sizeof(*o));

	(void)state;
	assert_non_null(o);
	for (size_t i = 0; i < ARRAY_SIZE(objects); i++)
		for (size_t j = 0; j < ARRAY_SIZE(bytes); j++) {
			char text[64], error[POLICY_REASON_MAX], want[96];

			snprintf(text, sizeof(text), "%s", objects[i].text);
			*strchr(text, '#') = bytes[j];
			assert_int_equal(policy_parse_object(objects[i].action,
			    text, o, error), ZT_E_PROTOCOL);
			check_message(error);
			snprintf(want, sizeof(want), "%s: the object contains "
			    "a control character",
			    policy_action_name(objects[i].action));
			assert_string_equal(error, want);
		}
	free(o);
}

/* Random objects: whatever is accepted is canonical and decided. */
static void
test_random_objects(void **state)
{
	static const char *const pieces[] = {
		"tcp:", "udp:", "unix:", "[", "]", ":", "::", "ffff", "10.0",
		".0.5", "0", "1", "5432", "65535", "65536", "/", "//", ".",
		"..", "var", "backups", "r", "w", "x", "rw", "a", "\xc3",
		"\xa9", "-", "_",
	};
	struct policy_object *o = malloc(sizeof(*o)), *again;
	uint64_t seed = 0x5eed5eed5eedull;
	unsigned accepted = 0;

	(void)state;
	assert_non_null(o);
	for (unsigned round = 0; round < 50000; round++) {
		enum action action = (enum action)(1 + round % 5);
		char text[128] = "", error[POLICY_REASON_MAX];
		struct policy_verdict v;
		size_t len = 0;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		for (unsigned k = 0, n = (unsigned)(seed >> 60); k <= n; k++) {
			const char *piece = pieces[(seed >> (4 * k % 56)) %
			    ARRAY_SIZE(pieces)];
			size_t piece_len = strlen(piece);

			if (len + piece_len >= sizeof(text))
				break;
			memcpy(text + len, piece, piece_len + 1);
			len += piece_len;
		}
		if (policy_parse_object(action, text, o, error) < 0) {
			check_message(error);
			continue;
		}
		accepted++;
		again = parse_ok(action, o->text);
		assert_string_equal(again->text, o->text);
		free(again);
		policy_decide(agent_named(CASES_AGENT), o, &v);
		assert_true(v.decision == DECISION_ALLOW ||
		    v.decision == DECISION_DENY);
		check_message(v.reason);
	}
	assert_true(accepted > 100);
	free(o);
}

/* ------------------------------------------------------------ verdicts */

static void
test_reasons_backup(void **state)
{
	char want[POLICY_REASON_MAX];

	(void)state;
	snprintf(want, sizeof(want), "command /usr/bin/psql (line %d) is "
	    "high risk", line_of("\"/usr/bin/psql\""));
	check_verdict("backup", ACTION_EXEC, "/usr/bin/psql", DECISION_ALLOW,
	    RISK_HIGH, want);
	snprintf(want, sizeof(want), "command /usr/bin/rsync (line %d) is "
	    "low risk", line_of("\"/usr/bin/rsync\""));
	check_verdict("backup", ACTION_EXEC, "/usr/bin/rsync", DECISION_ALLOW,
	    RISK_LOW, want);
	snprintf(want, sizeof(want), "command /bin/sh (line %d) is denied",
	    line_of("\"/bin/sh\""));
	check_verdict("backup", ACTION_EXEC, "/bin/sh", DECISION_DENY, 0,
	    want);
	check_verdict("backup", ACTION_EXEC, "/opt/agents/backup-agent",
	    DECISION_ALLOW, RISK_LOW,
	    "/opt/agents/backup-agent is the agent's own binary");
	check_verdict("backup", ACTION_EXEC, "/usr/bin/curl", DECISION_DENY, 0,
	    "command /usr/bin/curl is not in commands");

	snprintf(want, sizeof(want), "network rule line %d allows "
	    "tcp:10.0.0.5:5432", line_of("\"10.0.0.5/32\""));
	check_verdict("backup", ACTION_CONNECT, "[::ffff:10.0.0.5]:5432",
	    DECISION_ALLOW, RISK_LOW, want);
	snprintf(want, sizeof(want), "network rule line %d allows "
	    "tcp:192.168.10.7:8443 (tunnel)",
	    line_of("\"192.168.10.0/24\"; ports = \"443"));
	check_verdict("backup", ACTION_CONNECT, "192.168.10.7:8443",
	    DECISION_ALLOW, RISK_LOW, want);
	snprintf(want, sizeof(want), "network rule line %d allows "
	    "udp:192.168.10.7:53",
	    line_of("\"192.168.10.0/24\"; ports = \"53"));
	check_verdict("backup", ACTION_CONNECT, "udp:192.168.10.7:53",
	    DECISION_ALLOW, RISK_LOW, want);
	snprintf(want, sizeof(want), "network rule line %d allows "
	    "tcp:172.31.0.1:873", line_of("\"::ffff:172.16.0.0/108\""));
	check_verdict("backup", ACTION_CONNECT, "172.31.0.1:873",
	    DECISION_ALLOW, RISK_LOW, want);
	snprintf(want, sizeof(want), "network rule line %d allows "
	    "udp:[2001:db8::53]:53", line_of("\"2001:db8::53\""));
	check_verdict("backup", ACTION_CONNECT, "udp:[2001:db8::53]:53",
	    DECISION_ALLOW, RISK_LOW, want);
	snprintf(want, sizeof(want), "network rule line %d allows "
	    "unix:/run/postgresql/.s.PGSQL.5432",
	    line_of("unix = \"/run/postgresql"));
	check_verdict("backup", ACTION_CONNECT,
	    "unix:/run/postgresql/.s.PGSQL.5432", DECISION_ALLOW, RISK_LOW,
	    want);
	check_verdict("backup", ACTION_CONNECT, "udp:[::1]:53", DECISION_DENY,
	    0, "no network rule allows udp:[::1]:53");
	check_verdict("backup", ACTION_CONNECT, "[::ffff:10.0.0.6]:5432",
	    DECISION_DENY, 0, "no network rule allows tcp:10.0.0.6:5432");
	/* Inbound: listen rules alone, named as such. */
	snprintf(want, sizeof(want), "listen rule line %d allows "
	    "tcp:127.0.0.1:8080", line_of("listen = \"127.0.0.1/32\""));
	check_verdict("backup", ACTION_LISTEN, "127.0.0.1:8080",
	    DECISION_ALLOW, RISK_LOW, want);
	check_verdict("backup", ACTION_LISTEN, "0.0.0.0:8080", DECISION_DENY,
	    0, "no listen rule allows tcp:0.0.0.0:8080");
	check_verdict("backup", ACTION_LISTEN, "10.0.0.5:5432", DECISION_DENY,
	    0, "no listen rule allows tcp:10.0.0.5:5432");
	check_verdict("backup", ACTION_CONNECT, "127.0.0.1:8080",
	    DECISION_DENY, 0, "no network rule allows tcp:127.0.0.1:8080");

	snprintf(want, sizeof(want), "files rule /var/backups (line %d) "
	    "grants rw", line_of("\"/var/backups\""));
	check_verdict("backup", ACTION_OPEN, "/var/backups/db.dump:rw",
	    DECISION_ALLOW, RISK_LOW, want);
	snprintf(want, sizeof(want), "files rule /var/backups/keys (line %d) "
	    "grants r, not w", line_of("\"/var/backups/keys\""));
	check_verdict("backup", ACTION_OPEN, "/var/backups/keys/k1:w",
	    DECISION_DENY, 0, want);
	snprintf(want, sizeof(want), "files rule /usr/local/bin (line %d) "
	    "grants r, not rx", line_of("\"/usr/local/bin\""));
	check_verdict("backup", ACTION_OPEN, "/usr/local/bin/tool:rx",
	    DECISION_DENY, 0, want);
	check_verdict("backup", ACTION_OPEN, "/etc/shadow:r", DECISION_DENY,
	    0, "no files rule covers /etc/shadow");
	check_verdict("backup", ACTION_OPEN, "/var/backupsX:r", DECISION_DENY,
	    0, "no files rule covers /var/backupsX");

	check_verdict("backup", ACTION_SYSCALL, "mount", DECISION_DENY, 0,
	    "syscall mount is denied by the profile");
	check_verdict("backup", ACTION_SYSCALL, "setuid", DECISION_ALLOW,
	    RISK_HIGH, "syscall setuid is gated by the profile");
	check_verdict("backup", ACTION_SYSCALL, "openat", DECISION_DENY, 0,
	    "syscall openat is not gated by the profile");
	check_verdict("backup", ACTION_SESSION, "sshd", DECISION_DENY, 0,
	    "pam service sshd is not in pam_services");
	check_verdict("backup", ACTION_SESSION, "cron", DECISION_ALLOW,
	    RISK_HIGH, "pam service cron is in pam_services");
}

/* The verdict of a connect names its rule and says whether to tunnel. */
static void
test_connect_rule(void **state)
{
	const struct agent *a = agent_named(CASES_AGENT);
	struct policy_object *o;
	struct policy_verdict v;

	(void)state;
	o = parse_ok(ACTION_CONNECT, "192.168.10.255:8450");
	policy_decide(a, o, &v);
	free(o);
	assert_int_equal(v.decision, DECISION_ALLOW);
	assert_true(v.tunnel);
	assert_ptr_equal(v.rule, &a->network[1]);
	assert_string_equal(v.rule->server_name, "db.internal");

	o = parse_ok(ACTION_CONNECT, "udp:192.168.10.255:53");
	policy_decide(a, o, &v);
	free(o);
	assert_int_equal(v.decision, DECISION_ALLOW);
	assert_false(v.tunnel);
	assert_ptr_equal(v.rule, &a->network[2]);

	o = parse_ok(ACTION_CONNECT, "192.168.10.255:8451");
	policy_decide(a, o, &v);
	free(o);
	assert_int_equal(v.decision, DECISION_DENY);
	assert_false(v.tunnel);
	assert_null(v.rule);
}

/* A connect to an address answered for a name: host rules, their ports
 * and protocol, private = true, never port 53; names in ztctl check. */
static void
test_host_rules(void **state)
{
	const struct agent *a = agent_named(CASES_AGENT);
	static const struct {
		const char *object, *name;
		bool private_addr, allow;
	} cases[] = {
		{ "tcp:203.0.113.7:443", "api.example.com", false, true },
		{ "tcp:203.0.113.7:80", "api.example.com", false, false },
		{ "udp:203.0.113.7:443", "api.example.com", false, false },
		{ "tcp:10.1.2.3:443", "api.example.com", true, false },
		{ "tcp:10.1.2.3:443", "a.pkg.example.org", true, true },
		{ "tcp:[2001:db8::1]:80", "a.pkg.example.org", false, true },
		{ "tcp:203.0.113.7:443", "pkg.example.org", false, false },
		{ "tcp:203.0.113.7:53", "a.pkg.example.org", false, false },
	};
	char error[POLICY_REASON_MAX];
	struct policy_object *o, named;
	struct policy_verdict v;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		o = parse_ok(ACTION_CONNECT, cases[i].object);
		policy_decide_named(a, o, cases[i].name, cases[i].private_addr,
		    &v);
		free(o);
		check_message(v.reason);
		if (cases[i].allow != (v.decision == DECISION_ALLOW))
			fail_msg("%s for %s: %s", cases[i].object,
			    cases[i].name, v.reason);
		if (cases[i].allow) {
			assert_non_null(v.rule);
			assert_non_null(strstr(v.reason, cases[i].name));
		}
	}
	/* The address rules alone never allow by name. */
	o = parse_ok(ACTION_CONNECT, "tcp:203.0.113.7:443");
	policy_decide(a, o, &v);
	free(o);
	assert_int_equal(v.decision, DECISION_DENY);

	assert_int_equal(policy_parse_named_connect("api.example.com:443",
	    &named, error), 0);
	assert_string_equal(named.text, "tcp:api.example.com:443");
	assert_string_equal(named.name, "api.example.com");
	assert_int_equal(policy_parse_named_connect("udp:a.b:53", &named,
	    error), 0);
	assert_int_equal(named.proto, PROTO_UDP);
	assert_int_equal(policy_parse_named_connect("Api.Example.com:443",
	    &named, error), 0);
	assert_string_equal(named.text, "tcp:api.example.com:443");
	assert_int_equal(policy_parse_named_connect("api.example.com.:443",
	    &named, error), ZT_E_PROTOCOL);
	assert_int_equal(policy_parse_named_connect("api.example.com:0",
	    &named, error), ZT_E_PROTOCOL);
	assert_int_equal(policy_parse_named_connect("api.example.com",
	    &named, error), ZT_E_PROTOCOL);
}

/* The ranges an answer may hold only for a rule with private = true. */
static void
test_private_addresses(void **state)
{
	static const struct {
		const char *text;
		bool private_addr;
	} cases[] = {
		{ "127.0.0.1", true }, { "10.255.0.1", true },
		{ "172.16.0.1", true }, { "172.31.255.255", true },
		{ "172.32.0.1", false }, { "192.168.1.1", true },
		{ "169.254.169.254", true }, { "100.64.0.1", true },
		{ "100.128.0.1", false }, { "0.0.0.0", true },
		{ "224.0.0.1", true }, { "255.255.255.255", true },
		{ "8.8.8.8", false }, { "203.0.113.7", false },
		{ "::1", true }, { "::", true }, { "fc00::1", true },
		{ "fd12:3456::1", true }, { "fe80::1", true }, { "ff02::1", true },
		{ "::ffff:10.0.0.1", true }, { "::ffff:8.8.8.8", false },
		{ "64:ff9b::a00:1", true }, { "64:ff9b::808:808", false },
		{ "2001:db8::1", false }, { "2606:4700::1111", false },
		/* Forms that reach an IPv4 address, or stay on site */
		{ "::a00:1", true }, { "::808:808", true },
		{ "64:ff9b:1::a00:1", true }, { "2002:a00:1::1", true },
		{ "2002:c0a8:101::1", true }, { "2002:808:808::1", false },
		{ "fec0::1", true },
		/* Teredo: server 8.8.8.8 or 10.0.0.1, client (inverted)
		 * 8.8.8.8 (f7f7:f7f7) or 192.168.1.1 (3f57:fefe) */
		{ "2001:0:808:808:0:0:f7f7:f7f7", false },
		{ "2001:0:808:808:0:0:3f57:fefe", true },
		{ "2001:0:a00:1:0:0:f7f7:f7f7", true },
		{ "2001:1::1", false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t addr[16];
		int family = strchr(cases[i].text, ':') != NULL ? AF_INET6 :
		    AF_INET;

		assert_int_equal(inet_pton(family, cases[i].text, addr), 1);
		if (zt_addr_private(family, addr) !=
		    cases[i].private_addr)
			fail_msg("%s: expected %s", cases[i].text,
			    cases[i].private_addr ? "private" : "public");
	}
}

/* "/" covers everything, and a more specific rule narrows or widens it. */
static void
test_reporter(void **state)
{
	char want[POLICY_REASON_MAX];
	int root = line_of("path = \"/\";"), tmp = line_of("\"/tmp\"");

	(void)state;
	snprintf(want, sizeof(want), "files rule / (line %d) grants r", root);
	check_verdict("reporter", ACTION_OPEN, "/etc/passwd:r",
	    DECISION_ALLOW, RISK_LOW, want);
	check_verdict("reporter", ACTION_OPEN, "/:r", DECISION_ALLOW,
	    RISK_LOW, want);
	check_verdict("reporter", ACTION_OPEN, "/tmpfoo:r", DECISION_ALLOW,
	    RISK_LOW, want);
	snprintf(want, sizeof(want), "files rule / (line %d) grants r, not w",
	    root);
	check_verdict("reporter", ACTION_OPEN, "/etc/passwd:w", DECISION_DENY,
	    0, want);
	check_verdict("reporter", ACTION_OPEN, "/tmpfoo:w", DECISION_DENY, 0,
	    want);
	snprintf(want, sizeof(want), "files rule /tmp (line %d) grants rw",
	    tmp);
	check_verdict("reporter", ACTION_OPEN, "/tmp:rw", DECISION_ALLOW,
	    RISK_LOW, want);
	check_verdict("reporter", ACTION_OPEN, "/tmp/x/y:rw", DECISION_ALLOW,
	    RISK_LOW, want);
	snprintf(want, sizeof(want), "files rule /tmp (line %d) grants rw, "
	    "not x", tmp);
	check_verdict("reporter", ACTION_OPEN, "/tmp/x:x", DECISION_DENY, 0,
	    want);

	/* ::ffff:0.0.0.0/96 is all of IPv4; ::/0 is IPv6 only. */
	snprintf(want, sizeof(want), "network rule line %d allows "
	    "tcp:1.2.3.4:80", line_of("\"::ffff:0.0.0.0/96\""));
	check_verdict("reporter", ACTION_CONNECT, "1.2.3.4:80",
	    DECISION_ALLOW, RISK_LOW, want);
	check_verdict("reporter", ACTION_CONNECT, "[::ffff:1.2.3.4]:80",
	    DECISION_ALLOW, RISK_LOW, want);
	check_verdict("reporter", ACTION_CONNECT, "udp:1.2.3.4:80",
	    DECISION_DENY, 0, "no network rule allows udp:1.2.3.4:80");
	check_verdict("reporter", ACTION_CONNECT, "[2001:db8::1]:80",
	    DECISION_DENY, 0, "no network rule allows tcp:[2001:db8::1]:80");
	check_verdict("reporter", ACTION_CONNECT, "1.2.3.4:443",
	    DECISION_DENY, 0, "no network rule allows tcp:1.2.3.4:443");
	check_verdict("reporter", ACTION_CONNECT, "[::ffff:1.2.3.4]:443",
	    DECISION_DENY, 0, "no network rule allows tcp:1.2.3.4:443");
	snprintf(want, sizeof(want), "network rule line %d allows "
	    "tcp:[2001:db8::1]:443", line_of("\"::/0\""));
	check_verdict("reporter", ACTION_CONNECT, "[2001:db8::1]:443",
	    DECISION_ALLOW, RISK_LOW, want);
	check_verdict("reporter", ACTION_CONNECT, "[::]:443",
	    DECISION_ALLOW, RISK_LOW, NULL);

	/* An explicit command rule wins over "the agent's own binary". */
	snprintf(want, sizeof(want), "command /opt/agents/reporter (line %d) "
	    "is denied", line_of("path = \"/opt/agents/reporter\""));
	check_verdict("reporter", ACTION_EXEC, "/opt/agents/reporter",
	    DECISION_DENY, 0, want);
	check_verdict("reporter", ACTION_SESSION, "cron", DECISION_DENY, 0,
	    "pam service cron is not in pam_services");
	check_verdict("reporter", ACTION_SYSCALL, "mount", DECISION_DENY, 0,
	    "syscall mount is not gated by the profile");
}

/*
 * Rules as config.c may hand them over, built by hand: a trailing '/' on a
 * files rule is the same directory; on equal length the first rule wins;
 * a rule path that is not absolute matches nothing.
 */
static void
test_files_rules_as_written(void **state)
{
	struct file_rule files[] = {
		{ .path = (char *)"srv", .access = ACCESS_READ, .line = 1 },
		{ .path = (char *)"/srv/", .access = ACCESS_WRITE, .line = 2 },
		{ .path = (char *)"/srv", .access = ACCESS_READ, .line = 3 },
		{ .path = (char *)"/srv/a//", .access = ACCESS_EXEC,
		    .line = 4 },
		{ .path = (char *)"//", .access = ACCESS_READ, .line = 5 },
	};
	struct agent a = {
		.name = (char *)"hand-made",
		.binary = (char *)"/opt/hand-made",
		.files = files,
		.n_files = ARRAY_SIZE(files),
		.files_given = true,
	};
	static const struct {
		const char *object;
		uint32_t decision;
		const char *reason;
	} cases[] = {
		{ "/srv:w", DECISION_ALLOW,
		    "files rule /srv/ (line 2) grants w" },
		{ "/srv/x:w", DECISION_ALLOW,
		    "files rule /srv/ (line 2) grants w" },
		{ "/srv/x:r", DECISION_DENY,
		    "files rule /srv/ (line 2) grants w, not r" },
		{ "/srv/a/b:x", DECISION_ALLOW,
		    "files rule /srv/a// (line 4) grants x" },
		{ "/srvx:r", DECISION_ALLOW,
		    "files rule // (line 5) grants r" },
		{ "/:r", DECISION_ALLOW, "files rule // (line 5) grants r" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct policy_object *o = parse_ok(ACTION_OPEN,
		    cases[i].object);
		struct policy_verdict v;

		policy_decide(&a, o, &v);
		free(o);
		assert_string_equal(v.reason, cases[i].reason);
		assert_int_equal(v.decision, cases[i].decision);
	}
}

/* No rules: nothing but opens, which nothing confines. */
static void
test_idle(void **state)
{
	(void)state;
	check_verdict("idle", ACTION_OPEN, "/etc/shadow:rwx", DECISION_ALLOW,
	    RISK_LOW, "no files list: the agent has no file confinement");
	check_verdict("idle", ACTION_EXEC, "/opt/agents/idle", DECISION_ALLOW,
	    RISK_LOW, "/opt/agents/idle is the agent's own binary");
	check_verdict("idle", ACTION_EXEC, "/usr/bin/rsync", DECISION_DENY, 0,
	    "command /usr/bin/rsync is not in commands");
	check_verdict("idle", ACTION_CONNECT, "10.0.0.5:5432", DECISION_DENY,
	    0, "no network rule allows tcp:10.0.0.5:5432");
	check_verdict("idle", ACTION_CONNECT, "unix:/run/x", DECISION_DENY, 0,
	    "no network rule allows unix:/run/x");
	check_verdict("idle", ACTION_SESSION, "zt-agent", DECISION_DENY, 0,
	    "pam service zt-agent is not in pam_services");
	check_verdict("idle", ACTION_SYSCALL, "setuid", DECISION_DENY, 0,
	    "syscall setuid is not gated by the profile");
}

/* Every deny path starts from deny, whatever the verdict held. */
static void
test_verdict_reset(void **state)
{
	const struct agent *a = agent_named(CASES_AGENT);
	struct policy_object *o = parse_ok(ACTION_EXEC, "/bin/sh");
	struct policy_verdict v;

	(void)state;
	memset(&v, 0xff, sizeof(v));
	v.decision = DECISION_ALLOW;
	v.risk = RISK_LOW;
	v.tunnel = true;
	policy_decide(a, o, &v);
	assert_int_equal(v.decision, DECISION_DENY);
	assert_int_equal(v.risk, RISK_DENY);
	assert_false(v.tunnel);
	assert_null(v.rule);
	check_message(v.reason);

	/* An object that was never parsed is no action at all. */
	memset(o, 0, sizeof(*o));
	v.decision = DECISION_ALLOW;
	policy_decide(a, o, &v);
	assert_int_equal(v.decision, DECISION_DENY);
	assert_string_equal(v.reason, "unknown action");
	o->action = ACTION_MAX;
	policy_decide(a, o, &v);
	assert_int_equal(v.decision, DECISION_DENY);

	v.decision = DECISION_ALLOW;
	policy_decide(NULL, o, &v);
	assert_int_equal(v.decision, DECISION_DENY);
	check_message(v.reason);
	v.decision = DECISION_ALLOW;
	policy_decide(a, NULL, &v);
	assert_int_equal(v.decision, DECISION_DENY);
	free(o);
}

/* ------------------------------------------------------------ args */

#define ARGS_CONF \
	"ztd: { state_dir = \"/nonexistent\"; agent_group = \"\"; };\n" \
	"agents = ( {\n" \
	"  name = \"git\"; accounts = [\"svc-git\"]; binary = \"/opt/a\";\n" \
	"  sha256 = [\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"];\n" \
	"  commands = (\n" \
	"    { path = \"/usr/bin/git\"; risk = \"low\";\n" \
	"      args = ([\"fetch\", \"origin\"], [\"pull\", \"--ff-only\", \"**\"],\n" \
	"              [\"log\", \"-n\", \"[0-9]*\"], [], [\"\\\\*\"]); },\n" \
	"    { path = \"/usr/bin/psql\"; risk = \"high\"; args = ([\"-c\", \"*\"]); },\n" \
	"    { path = \"/bin/sh\"; risk = \"deny\"; }\n" \
	"  );\n" \
	"} );\n"

/* One exec and its arguments ("|"-separated; NULL: none given). */
static const struct args_case {
	const char *path, *args;
	bool cut;
	uint32_t decision;
	bool learnable;
	bool per_argv;
} args_cases[] = {
	{ "/usr/bin/git", "fetch|origin", false, DECISION_ALLOW, false, true },
	{ "/usr/bin/git", "fetch|origin|main", false, DECISION_DENY, true, false },
	{ "/usr/bin/git", "fetch", false, DECISION_DENY, true, false },
	{ "/usr/bin/git", "pull|--ff-only", false, DECISION_ALLOW, false, true },
	{ "/usr/bin/git", "pull|--ff-only|origin|main", false, DECISION_ALLOW,
	    false, true },
	{ "/usr/bin/git", "pull|--rebase", false, DECISION_DENY, true, false },
	{ "/usr/bin/git", "log|-n|10", false, DECISION_ALLOW, false, true },
	{ "/usr/bin/git", "log|-n|x10", false, DECISION_DENY, true, false },
	/* flags 0: '*' crosses '/', but a pattern sees one argument */
	{ "/usr/bin/psql", "-c|select 1; -- a/b", false, DECISION_ALLOW,
	    false, true },
	{ "/usr/bin/psql", "-c|a|b", false, DECISION_DENY, true, false },
	/* the empty alternative: no arguments; none given is none */
	{ "/usr/bin/git", "", false, DECISION_ALLOW, false, true },
	{ "/usr/bin/git", NULL, false, DECISION_ALLOW, false, true },
	/* an escaped '*' matches only itself */
	{ "/usr/bin/git", "*", false, DECISION_ALLOW, false, true },
	{ "/usr/bin/git", "x", false, DECISION_DENY, true, false },
	/* a cut argv matches nothing, even "**" */
	{ "/usr/bin/git", "pull|--ff-only", true, DECISION_DENY, true, false },
	/* risk deny is no learnable deny; an unlisted command is */
	{ "/bin/sh", "-c|true", false, DECISION_DENY, false, false },
	{ "/usr/bin/curl", "x", false, DECISION_DENY, true, false },
};

static void
test_args(void **state)
{
	struct ztd_config *c = NULL;
	char error[CONFIG_ERROR_MAX];
	const struct agent *a;

	(void)state;
	if (config_parse("args.conf", ARGS_CONF, &c, error) != 0)
		fail_msg("%s", error);
	a = config_find_agent(c, "git");
	assert_non_null(a);
	for (size_t i = 0; i < ARRAY_SIZE(args_cases); i++) {
		const struct args_case *t = &args_cases[i];
		struct policy_object *o = parse_ok(ACTION_EXEC, t->path);
		struct policy_verdict v;
		char argv[256];
		size_t len = 0;

		if (t->args != NULL && t->args[0] != '\0') {
			len = strlen(t->args) + 1;
			memcpy(argv, t->args, len);
			for (size_t j = 0; j < len; j++)
				if (argv[j] == '|')
					argv[j] = '\0';
		}
		if (t->args != NULL)
			assert_int_equal(policy_set_argv(o, argv, len, t->cut),
			    0);
		policy_decide(a, o, &v);
		if (v.decision != t->decision || v.learnable != t->learnable ||
		    v.per_argv != t->per_argv)
			fail_msg("case %zu (%s %s): decision %s learnable %d "
			    "per_argv %d: %s", i, t->path,
			    t->args ? t->args : "(none)",
			    v.decision == DECISION_ALLOW ? "allow" : "deny",
			    v.learnable, v.per_argv, v.reason);
		check_message(v.reason);
		free(o);
	}
	config_free(c);
}

/* An argv that does not end in NUL, or on anything but an exec. */
static void
test_args_malformed(void **state)
{
	struct policy_object *o = parse_ok(ACTION_EXEC, "/usr/bin/git");
	struct policy_object *n = parse_ok(ACTION_SYSCALL, "setuid");

	(void)state;
	assert_int_equal(policy_set_argv(o, "abc", 3, false), ZT_E_PROTOCOL);
	assert_int_equal(policy_set_argv(n, "a", 2, false), ZT_E_PROTOCOL);
	assert_int_equal(policy_set_argv(o, "a\0b", 4, false), 0);
	assert_int_equal(o->argc, 2);
	free(o);
	free(n);
}

/* ------------------------------------------------------------ main */

static struct CMUnitTest
named_test(const char *name, CMUnitTestFunction function, void *state)
{
	return (struct CMUnitTest){
		.name = name,
		.test_func = function,
		.initial_state = state,
	};
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_action_names),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_null_text),
		cmocka_unit_test(test_long_paths),
		cmocka_unit_test(test_reason_utf8),
		cmocka_unit_test(test_control_bytes),
		cmocka_unit_test(test_random_objects),
		cmocka_unit_test(test_reasons_backup),
		cmocka_unit_test(test_connect_rule),
		cmocka_unit_test(test_host_rules),
		cmocka_unit_test(test_private_addresses),
		cmocka_unit_test(test_reporter),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_files_rules_as_written),
		cmocka_unit_test(test_verdict_reset),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_args_malformed),
	};
	char path[PATH_MAX], *text;
	struct table table = { NULL, 0 };
	struct CMUnitTest *tests;
	size_t n = 0;
	int failed;

	source_path(path, sizeof(path), CASES_NAME);
	text = read_text(path);
	if (text != NULL) {
		table.n = parse_cases(text, &table.cases);
		free(text);
	} else
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
	tests = calloc(ARRAY_SIZE(fixed) + 1 + table.n, sizeof(*tests));
	assert_non_null(tests);
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		tests[n++] = fixed[i];
	/* With no table at all, this one fails. */
	tests[n++] = named_test("policy-cases.txt: coverage",
	    test_case_coverage, &table);
	for (size_t i = 0; i < table.n; i++)
		tests[n++] = named_test(table.cases[i].name, test_case,
		    &table.cases[i]);
	/* The count is known only now: call what cmocka_run_group_tests()
	 * expands to, for one group and one TAP plan. */
	failed = _cmocka_run_group_tests("policy", tests, n, load_policy,
	    unload_policy);
	free(tests);
	free_cases(table.cases, table.n);
	return failed;
}

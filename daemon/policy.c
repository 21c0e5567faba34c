/* SPDX-License-Identifier: Apache-2.0 */
/* The policy engine: parse an action's object, decide it for one agent. */
#include "config.h"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "policy.h"
#include "syscalls.h"
#include "zt_addr.h"
#include "zt_err.h"
#include "zt_envcheck.h"
#include "zt_msg.h"

#define SERVICE_MAX 64		/* longest PAM service name */
#define SYSCALL_NAME_MAX 64	/* longest syscall name */
#define UNIX_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define SHORT_MAX 96		/* longest quotation of a path in a reason */

static const char *const action_names[ACTION_MAX] = {
	[ACTION_SESSION] = "session",
	[ACTION_EXEC] = "exec",
	[ACTION_CONNECT] = "connect",
	[ACTION_OPEN] = "open",
	[ACTION_SYSCALL] = "syscall",
	[ACTION_LISTEN] = "listen",
	[ACTION_RESOLVE] = "resolve",
};

/* Open modes, each in the one order the object may spell it. */
static const char *const mode_names[8] = {
	[ACCESS_READ] = "r",
	[ACCESS_WRITE] = "w",
	[ACCESS_EXEC] = "x",
	[ACCESS_READ | ACCESS_WRITE] = "rw",
	[ACCESS_READ | ACCESS_EXEC] = "rx",
	[ACCESS_WRITE | ACCESS_EXEC] = "wx",
	[ACCESS_READ | ACCESS_WRITE | ACCESS_EXEC] = "rwx",
};

static const char *
mode_name(unsigned access)
{
	if (access == 0 || access > 7)
		return "nothing";
	return mode_names[access];
}

const char *
policy_action_name(enum action action)
{
	if (action <= ACTION_NONE || action >= ACTION_MAX)
		return NULL;
	return action_names[action];
}

enum action
policy_action_from_name(const char *name)
{
	if (name == NULL)
		return ACTION_NONE;
	for (int a = ACTION_NONE + 1; a < ACTION_MAX; a++)
		if (strcmp(name, action_names[a]) == 0)
			return (enum action)a;
	return ACTION_NONE;
}

/* ------------------------------------------------------------ parsing */

static int
parse_error(char *error, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Set ERROR and return ZT_E_PROTOCOL; messages never quote the input. */
static int
parse_error(char *error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error, POLICY_REASON_MAX, fmt, ap);
	va_end(ap);
	return ZT_E_PROTOCOL;
}

static bool
is_control(unsigned char ch)
{
	return ch < 0x20 || ch == 0x7f;
}

static bool
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/*
 * What is wrong with PATH as a resolved absolute path, or NULL.  "/"
 * itself passes only when ROOT_OK.  Control bytes were refused before.
 */
static const char *
path_problem(const char *path, bool root_ok)
{
	size_t len = strlen(path);

	if (path[0] != '/')
		return "is not an absolute path";
	if (len > PATH_MAX - 1)
		return "is longer than PATH_MAX";
	if (len == 1)
		return root_ok ? NULL : "is the root directory";
	if (path[len - 1] == '/')
		return "ends with '/'";
	if (strstr(path, "//") != NULL)
		return "contains '//'";
	for (const char *c = path; c != NULL; c = strchr(c + 1, '/')) {
		/* C is at a '/': the component runs to the next one. */
		size_t n = strcspn(c + 1, "/");

		if ((n == 1 && c[1] == '.') ||
		    (n == 2 && c[1] == '.' && c[2] == '.'))
			return "has a '.' or '..' component";
	}
	return NULL;
}

/* PORT_TEXT must be 1-65535 in decimal: digits only, no leading zero.
 * WHAT names the action in ERROR. */
static int
parse_port(const char *what, const char *text, uint16_t *port, char *error)
{
	size_t len = strlen(text);
	unsigned long value = 0;
	/* A listen may be on port 0: a UDP bind to port 0, whose ephemeral
	 * port would hear anyone (zt-exec(1)); a connect never is. */
	unsigned long low = strcmp(what, "listen") == 0 ? 0 : 1;

	if (len == 0)
		return parse_error(error, "%s: the port is missing "
		    "(ADDRESS:PORT)", what);
	for (size_t i = 0; i < len; i++)
		if (!is_digit(text[i]))
			return parse_error(error, "%s: the port must be a "
			    "decimal number", what);
	if (len > 1 && text[0] == '0')
		return parse_error(error, "%s: the port has a leading "
		    "zero", what);
	if (len > 5)
		return parse_error(error, "%s: the port is out of range "
		    "%lu-65535", what, low);
	for (size_t i = 0; i < len; i++)
		value = value * 10 + (unsigned long)(text[i] - '0');
	if (value < low || value > 65535)
		return parse_error(error, "%s: the port is out of range "
		    "%lu-65535", what, low);
	*port = (uint16_t)value;
	return 0;
}

static int
parse_unix(const char *path, struct policy_object *out, char *error)
{
	const char *why = path_problem(path, false);

	if (why != NULL)
		return parse_error(error, "connect: the unix socket path %s",
		    why);
	if (strlen(path) > UNIX_PATH_MAX)
		return parse_error(error, "connect: the unix socket path is "
		    "longer than %zu bytes", UNIX_PATH_MAX);
	out->family = AF_UNIX;
	snprintf(out->path, sizeof(out->path), "%s", path);
	snprintf(out->text, sizeof(out->text), "unix:%s", path);
	return 0;
}

/*
 * "[tcp:|udp:]A.B.C.D:PORT" or "[tcp:|udp:][V6]:PORT", the object of
 * ACTION (connect or listen, named in errors); a connect may also be
 * "unix:/path".
 */
static int
parse_inet(enum action action, const char *text, struct policy_object *out,
    char *error)
{
	const char *what = action_names[action];
	char address[INET6_ADDRSTRLEN];
	const char *p = text, *port_text;
	size_t len;

	if (strncmp(p, "unix:", 5) == 0) {
		if (action != ACTION_CONNECT)
			return parse_error(error, "%s: only a connect may name "
			    "a unix socket", what);
		return parse_unix(p + 5, out, error);
	}
	out->proto = PROTO_TCP;
	if (strncmp(p, "tcp:", 4) == 0)
		p += 4;
	else if (strncmp(p, "udp:", 4) == 0) {
		out->proto = PROTO_UDP;
		p += 4;
	}
	if (*p == '[') {
		const char *close = strchr(p, ']');

		if (close == NULL)
			return parse_error(error, "%s: '[' without ']' "
			    "([IPV6]:PORT)", what);
		len = (size_t)(close - (p + 1));
		if (len == 0 || len >= sizeof(address))
			return parse_error(error, "%s: not a literal "
			    "IPv6 address in [ ]", what);
		memcpy(address, p + 1, len);
		address[len] = '\0';
		if (inet_pton(AF_INET6, address, out->addr) != 1)
			return parse_error(error, "%s: not a literal "
			    "IPv6 address in [ ]", what);
		out->family = AF_INET6;
		if (close[1] == '\0')
			return parse_error(error, "%s: the port is "
			    "missing ([IPV6]:PORT)", what);
		if (close[1] != ':')
			return parse_error(error, "%s: expected ':PORT' "
			    "after ']'", what);
		port_text = close + 2;
	} else {
		const char *colon = strrchr(p, ':');

		if (colon == NULL)
			return parse_error(error, "%s: the port is "
			    "missing (ADDRESS:PORT)", what);
		len = (size_t)(colon - p);
		if (memchr(p, ':', len) != NULL)
			return parse_error(error, "%s: expected "
			    "[tcp:|udp:]ADDRESS:PORT, [IPV6]:PORT or "
			    "unix:PATH", what);
		if (len == 0 || len >= sizeof(address))
			return parse_error(error, "%s: not a literal IPv4 "
			    "address (names are not resolved)", what);
		memcpy(address, p, len);
		address[len] = '\0';
		if (inet_pton(AF_INET, address, out->addr) != 1)
			return parse_error(error, "%s: not a literal IPv4 "
			    "address (names are not resolved)", what);
		out->family = AF_INET;
		port_text = colon + 1;
	}
	if (parse_port(what, port_text, &out->port, error) < 0)
		return ZT_E_PROTOCOL;
	/* ::ffff:a.b.c.d reaches a.b.c.d: it meets the IPv4 rules. */
	if (out->family == AF_INET6 && memcmp(out->addr,
	    zt_addr_v4_mapped_prefix, sizeof(zt_addr_v4_mapped_prefix)) == 0) {
		memmove(out->addr, out->addr + 12, 4);
		memset(out->addr + 4, 0, sizeof(out->addr) - 4);
		out->family = AF_INET;
	}
	if (inet_ntop(out->family, out->addr, address, sizeof(address)) == NULL)
		return parse_error(error, "%s: cannot format the address",
		    what);
	snprintf(out->text, sizeof(out->text),
	    out->family == AF_INET6 ? "%s:[%s]:%u" : "%s:%s:%u",
	    out->proto == PROTO_UDP ? "udp" : "tcp", address,
	    (unsigned)out->port);
	return 0;
}

static int
parse_exec(const char *text, struct policy_object *out, char *error)
{
	const char *why = path_problem(text, false);
	size_t len;

	if (why != NULL)
		return parse_error(error, "exec: the path %s", why);
	/* policy_parse_object checked that TEXT fits. */
	len = strlen(text) + 1;
	memcpy(out->path, text, len);
	memcpy(out->text, text, len);
	return 0;
}

/* "PATH:MODE", split at the last ':' (a path may hold a ':'). */
static int
parse_open(const char *text, struct policy_object *out, char *error)
{
	const char *colon = strrchr(text, ':'), *why;
	unsigned access;

	if (colon == NULL)
		return parse_error(error, "open: expected PATH:MODE");
	for (access = 1; access < 8; access++)
		if (strcmp(colon + 1, mode_names[access]) == 0)
			break;
	if (access == 8)
		return parse_error(error, "open: the mode must be r, w, x, "
		    "rw, rx, wx or rwx");
	/* The whole text is shorter than POLICY_OBJECT_MAX: this fits. */
	memcpy(out->path, text, (size_t)(colon - text));
	out->path[colon - text] = '\0';
	/* "/" itself is a directory one may open (and list). */
	if ((why = path_problem(out->path, true)) != NULL)
		return parse_error(error, "open: the path %s", why);
	out->access = access;
	/* The mode is spelt one way only: the text is already canonical. */
	snprintf(out->text, sizeof(out->text), "%s", text);
	return 0;
}

static int
parse_syscall(const char *text, struct policy_object *out, char *error)
{
	const char *colon = strchr(text, ':');
	size_t len = strlen(text), name_len = colon != NULL ?
	    (size_t)(colon - text) : len;
	char name[SYSCALL_NAME_MAX + 1];

	if (name_len == 0 || len > SYSCALL_NAME_MAX)
		return parse_error(error, "syscall: not a syscall name");
	for (size_t i = 0; i < name_len; i++)
		if (!((text[i] >= 'a' && text[i] <= 'z') || is_digit(text[i]) ||
		    text[i] == '_'))
			return parse_error(error,
			    "syscall: not a syscall name");
	/* NAME:WHAT, a call zt-exec refuses whatever the profile says
	 * (setsockopt:SOL_SOCKET:SO_PASSCRED): WHAT in capitals. */
	if (colon != NULL && (colon[1] == '\0' || strspn(colon + 1,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:") != strlen(colon + 1)))
		return parse_error(error, "syscall: not NAME or NAME:WHAT "
		    "(capitals, digits, '_' and ':')");
	memcpy(name, text, name_len);
	name[name_len] = '\0';
	if (!syscall_name_known(name))
		return parse_error(error, "syscall: %s is not a syscall of "
		    "this architecture", name);
	snprintf(out->text, sizeof(out->text), "%s", text);
	return 0;
}

/* PAM service names: [A-Za-z0-9_.-]{1,64}. */
static int
parse_session(const char *text, struct policy_object *out, char *error)
{
	size_t len = strlen(text);

	if (len == 0 || len > SERVICE_MAX)
		return parse_error(error, "session: a PAM service name is 1 "
		    "to %d characters", SERVICE_MAX);
	for (size_t i = 0; i < len; i++) {
		char ch = text[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    is_digit(ch) || ch == '_' || ch == '.' || ch == '-'))
			return parse_error(error, "session: a PAM service name "
			    "takes only A-Z a-z 0-9 _ . -");
	}
	snprintf(out->text, sizeof(out->text), "%s", text);
	return 0;
}

bool
policy_is_host_name(const char *name)
{
	size_t len = strlen(name);
	const char *label = name;

	if (len == 0 || len > 253 ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != len)
		return false;
	for (;;) {
		size_t n = strcspn(label, ".");

		if (n == 0 || n > 63)
			return false;
		if (label[n] == '\0')
			return true;
		label += n + 1;
	}
}

/* TEXT (LEN bytes) lower-cased into NAME (256 bytes), if it fits and is
 * then a host name. */
static bool
lower_name(const char *text, size_t len, char name[256])
{
	if (len >= 256)
		return false;
	for (size_t i = 0; i < len; i++)
		name[i] = text[i] >= 'A' && text[i] <= 'Z' ?
		    (char)(text[i] - 'A' + 'a') : text[i];
	name[len] = '\0';
	return policy_is_host_name(name);
}

/* "dns:NAME" or "NAME", in any case: canonical "dns:name". */
static int
parse_resolve(const char *text, struct policy_object *out, char *error)
{
	const char *name = strncmp(text, "dns:", 4) == 0 ? text + 4 : text;

	if (!lower_name(name, strlen(name), out->name))
		return parse_error(error, "resolve: not a DNS name (labels of "
		    "letters, digits, '-' and '_', no trailing dot)");
	snprintf(out->text, sizeof(out->text), "dns:%s", out->name);
	return 0;
}

/*
 * OUT as a zeroed object reads: every field zero, each text empty.  The
 * three texts (8.5 KiB of the struct) are only ever read up to their NUL,
 * so only their first byte is cleared: this runs on every decision,
 * cache hits included, and a memset of the whole struct was most of it.
 */
static void
object_reset(struct policy_object *out)
{
	memset(out, 0, offsetof(struct policy_object, text));
	out->text[0] = '\0';
	memset(&out->family, 0, offsetof(struct policy_object, path) -
	    offsetof(struct policy_object, family));
	out->path[0] = '\0';
	memset(&out->access, 0, offsetof(struct policy_object, name) -
	    offsetof(struct policy_object, access));
	out->name[0] = '\0';
}
_Static_assert(offsetof(struct policy_object, name) +
    sizeof(((struct policy_object *)0)->name) +
    _Alignof(struct policy_object) > sizeof(struct policy_object),
    "object_reset: a field after name[] would not be cleared");
_Static_assert(offsetof(struct policy_object, text) <
    offsetof(struct policy_object, family) &&
    offsetof(struct policy_object, family) <
    offsetof(struct policy_object, path) &&
    offsetof(struct policy_object, path) <
    offsetof(struct policy_object, access) &&
    offsetof(struct policy_object, access) <
    offsetof(struct policy_object, name),
    "object_reset: the fields in the order it clears them");

int
policy_parse_named_connect(const char *text, struct policy_object *out,
    char *error)
{
	const char *colon;
	int r;

	memset(out, 0, sizeof(*out));
	out->proto = PROTO_TCP;
	if (strncmp(text, "tcp:", 4) == 0)
		text += 4;
	else if (strncmp(text, "udp:", 4) == 0) {
		out->proto = PROTO_UDP;
		text += 4;
	}
	colon = strrchr(text, ':');
	if (colon == NULL)
		return parse_error(error, "connect: expected NAME:PORT");
	if (!lower_name(text, (size_t)(colon - text), out->name))
		return parse_error(error, "connect: not a DNS name (labels of "
		    "letters, digits, '-' and '_', no trailing dot)");
	if ((r = parse_port("connect", colon + 1, &out->port, error)) < 0)
		return r;
	snprintf(out->text, sizeof(out->text), "%s:%s:%u",
	    out->proto == PROTO_UDP ? "udp" : "tcp", out->name, out->port);
	out->action = ACTION_CONNECT;
	return 0;
}

int
policy_parse_object(enum action action, const char *text,
    struct policy_object *out, char *error)
{
	size_t len;
	int r;

	object_reset(out);
	error[0] = '\0';
	if (policy_action_name(action) == NULL)
		return parse_error(error, "unknown action");
	if (text == NULL || text[0] == '\0')
		return parse_error(error, "%s: the object is empty",
		    action_names[action]);
	len = strnlen(text, POLICY_OBJECT_MAX);
	if (len >= POLICY_OBJECT_MAX)
		return parse_error(error, "%s: the object is longer than %d "
		    "bytes", action_names[action], POLICY_OBJECT_MAX - 1);
	for (size_t i = 0; i < len; i++)
		if (is_control((unsigned char)text[i]))
			return parse_error(error, "%s: the object contains a "
			    "control character", action_names[action]);
	switch (action) {
	case ACTION_SESSION: r = parse_session(text, out, error); break;
	case ACTION_EXEC: r = parse_exec(text, out, error); break;
	case ACTION_CONNECT:
	case ACTION_LISTEN: r = parse_inet(action, text, out, error); break;
	case ACTION_OPEN: r = parse_open(text, out, error); break;
	case ACTION_SYSCALL: r = parse_syscall(text, out, error); break;
	case ACTION_RESOLVE: r = parse_resolve(text, out, error); break;
	default: r = parse_error(error, "unknown action"); break;
	}
	if (r < 0) {
		object_reset(out);
		return r;
	}
	out->action = action;
	return 0;
}

/* ------------------------------------------------------------ deciding */

static void
set_reason(struct policy_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_reason(struct policy_verdict *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
}

static void
allow(struct policy_verdict *v, enum risk risk)
{
	v->decision = DECISION_ALLOW;
	v->risk = risk;
}

/*
 * S bounded to SHORT_MAX bytes for a reason: cut at a character boundary
 * with "..." when longer, and any control byte (none is expected: the
 * strings quoted come from a parsed object) shown as '?'.
 */
static const char *
shorten(const char *s, char buffer[SHORT_MAX + 1])
{
	size_t len = strnlen(s, SHORT_MAX + 1);

	if (len > SHORT_MAX) {
		len = SHORT_MAX - 3;
		/* Do not split a UTF-8 sequence. */
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
		memcpy(buffer, s, len);
		memcpy(buffer + len, "...", 4);
	} else
		memcpy(buffer, s, len + 1);
	for (char *c = buffer; *c != '\0'; c++)
		if (is_control((unsigned char)*c))
			*c = '?';
	return buffer;
}

static void
decide_session(const struct agent *a, const struct policy_object *o,
    struct policy_verdict *v)
{
	char service[SHORT_MAX + 1];

	shorten(o->text, service);
	for (size_t i = 0; i < a->n_pam_services; i++)
		if (strcmp(a->pam_services[i], o->text) == 0) {
			/* A session needs a young attestation. */
			allow(v, RISK_HIGH);
			set_reason(v, "pam service %s is in pam_services",
			    service);
			return;
		}
	set_reason(v, "pam service %s is not in pam_services", service);
}

int
policy_set_argv(struct policy_object *o, const char *argv, size_t len,
    bool cut)
{
	size_t argc = 0;

	if (o->action != ACTION_EXEC || (len > 0 && argv[len - 1] != '\0'))
		return ZT_E_PROTOCOL;
	for (size_t i = 0; i < len; i++)
		argc += argv[i] == '\0';
	o->argv = argv;
	o->argv_len = len;
	o->argc = argc;
	o->argv_cut = cut;
	return 0;
}

/* Does alternative ALT match the object's argv[1..]? */
static bool
alternative_matches(const struct args_alternative *alt,
    const struct policy_object *o)
{
	const char *arg = o->argv != NULL ? o->argv : "";

	if (o->argv_cut || o->argc < alt->n_patterns ||
	    (!alt->rest && o->argc != alt->n_patterns))
		return false;
	for (size_t i = 0; i < alt->n_patterns; i++) {
		if (fnmatch(alt->patterns[i], arg, 0) != 0)
			return false;
		arg += strlen(arg) + 1;
	}
	return true;
}

/*
 * Command rule C (risk low or high) names the object's path: with args,
 * one alternative must match.  Allows (per argv when args decided) or
 * denies, learnably, naming the rule either way.
 */
static void
decide_command_args(const struct command_rule *c,
    const struct policy_object *o, const char *path,
    struct policy_verdict *v)
{
	const char *risk = c->risk == RISK_HIGH ? "high" : "low";

	if (c->n_args == 0) {
		allow(v, c->risk);
		set_reason(v, "command %s (line %d) is %s risk", path, c->line,
		    risk);
		return;
	}
	for (size_t i = 0; i < c->n_args; i++)
		if (alternative_matches(&c->args[i], o)) {
			allow(v, c->risk);
			v->per_argv = true;
			set_reason(v, "command %s (line %d) is %s risk, its "
			    "arguments match args alternative %zu (line %d)",
			    path, c->line, risk, i + 1, c->args[i].line);
			return;
		}
	v->learnable = true;
	set_reason(v, o->argv_cut ? "command %s (line %d): its arguments are "
	    "too long to be matched against args" : "command %s (line %d): "
	    "its %zu arguments match none of its %zu args alternatives",
	    path, c->line, o->argc, c->n_args);
}

static void
decide_exec(const struct agent *a, const struct policy_object *o,
    struct policy_verdict *v)
{
	char path[SHORT_MAX + 1];

	shorten(o->path, path);
	/* An explicit rule wins, even over the agent's own binary. */
	for (size_t i = 0; i < a->n_commands; i++) {
		const struct command_rule *c = &a->commands[i];

		if (strcmp(c->path, o->path) != 0)
			continue;
		switch (c->risk) {
		case RISK_LOW:
		case RISK_HIGH:
			decide_command_args(c, o, path, v);
			return;
		case RISK_DENY:
		default:
			set_reason(v, "command %s (line %d) is denied", path,
			    c->line);
			return;
		}
	}
	if (a->binary != NULL && strcmp(a->binary, o->path) == 0) {
		allow(v, RISK_LOW);
		set_reason(v, "%s is the agent's own binary", path);
		return;
	}
	v->learnable = true;
	set_reason(v, "command %s is not in commands", path);
}

static bool
address_matches(const struct network_rule *rule, const struct policy_object *o)
{
	if (rule->family == o->family) {
		unsigned max = o->family == AF_INET ? 32 : 128;

		return rule->prefix <= max &&
		    zt_addr_prefix_equal(rule->addr, o->addr, rule->prefix);
	}
	/*
	 * A rule written as ::ffff:a.b.c.d/N (N >= 96) is the IPv4 block
	 * a.b.c.d/(N - 96), and objects are normalised to AF_INET.  A shorter
	 * IPv6 prefix (::/0 too) covers IPv6 destinations only.
	 */
	if (rule->family == AF_INET6 && o->family == AF_INET &&
	    rule->prefix >= 96 && rule->prefix <= 128 &&
	    memcmp(rule->addr, zt_addr_v4_mapped_prefix,
	    sizeof(zt_addr_v4_mapped_prefix)) == 0)
		return zt_addr_prefix_equal(rule->addr + 12, o->addr,
		    rule->prefix - 96);
	return false;
}

static bool
port_listed(const struct network_rule *rule, uint16_t port)
{
	for (size_t i = 0; i < rule->n_ports && i < CONFIG_PORT_RANGES_MAX;
	    i++)
		if (port >= rule->ports[i].first && port <= rule->ports[i].last)
			return true;
	return false;
}

static bool
rule_matches(const struct network_rule *rule, const struct policy_object *o)
{
	if (o->family == AF_UNIX)
		return rule->family == 0 && rule->unix_path != NULL &&
		    strcmp(rule->unix_path, o->path) == 0;
	/* A listen rule allows only a listen, a destination only a connect. */
	if (rule->family == 0 || rule->listen != (o->action == ACTION_LISTEN) ||
	    rule->proto != o->proto || !address_matches(rule, o))
		return false;
	return port_listed(rule, o->port);
}

/* A connect or a listen: the first matching rule of its kind. */
static void
decide_network(const struct agent *a, const struct policy_object *o,
    struct policy_verdict *v)
{
	const char *kind = o->action == ACTION_LISTEN ? "listen" : "network";
	char text[SHORT_MAX + 1];

	shorten(o->text, text);
	/* Rule order decides: the first match says whether to tunnel. */
	for (size_t i = 0; i < a->n_network; i++) {
		const struct network_rule *rule = &a->network[i];

		if (!rule_matches(rule, o))
			continue;
		allow(v, RISK_LOW);
		v->tunnel = rule->tunnel;
		v->rule = rule;
		set_reason(v, "%s rule line %d allows %s%s", kind, rule->line,
		    text, rule->tunnel ? " (tunnel)" : "");
		return;
	}
	v->learnable = true;
	set_reason(v, "no %s rule allows %s", kind, text);
}

/*
 * The length of a files rule path as a directory prefix: a trailing '/'
 * is not counted, and "/" is 0 (it covers everything).
 */
static size_t
rule_prefix_length(const char *path)
{
	size_t len = strlen(path);

	while (len > 0 && path[len - 1] == '/')
		len--;
	return len;
}

static void
decide_open(const struct agent *a, const struct policy_object *o,
    struct policy_verdict *v)
{
	const struct file_rule *best = NULL;
	size_t best_length = 0;
	char path[SHORT_MAX + 1];

	if (!a->files_given) {
		allow(v, RISK_LOW);
		set_reason(v, "no files list: the agent has no file "
		    "confinement");
		return;
	}
	for (size_t i = 0; i < a->n_files; i++) {
		const struct file_rule *f = &a->files[i];
		size_t n = rule_prefix_length(f->path);

		if (f->path[0] != '/' || strncmp(f->path, o->path, n) != 0 ||
		    (o->path[n] != '\0' && o->path[n] != '/'))
			continue;
		/* The longest wins; on equal length, the first. */
		if (best == NULL || n > best_length) {
			best = f;
			best_length = n;
		}
	}
	if (best == NULL) {
		set_reason(v, "no files rule covers %s",
		    shorten(o->path, path));
		return;
	}
	/* The rule path is a prefix of the object's: as clean as it is. */
	shorten(best->path, path);
	if ((o->access & ~best->access) != 0) {
		set_reason(v, "files rule %s (line %d) grants %s, not %s", path,
		    best->line, mode_name(best->access),
		    mode_name(o->access));
		return;
	}
	allow(v, RISK_LOW);
	set_reason(v, "files rule %s (line %d) grants %s", path, best->line,
	    mode_name(o->access));
}

static bool
listed(char *const *names, size_t count, const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

static void
decide_syscall(const struct agent *a, const struct policy_object *o,
    struct policy_verdict *v)
{
	char name[SHORT_MAX + 1];

	shorten(o->text, name);
	if (strchr(o->text, ':') != NULL) {
		/* Refused by zt-exec's filter in every profile, asked only
		 * to be audited: never allowed, never learned. */
		set_reason(v, "%s is refused whatever the profile says", name);
		return;
	}
	if (listed(a->syscalls_deny, a->n_syscalls_deny, o->text)) {
		set_reason(v, "syscall %s is denied by the profile", name);
		return;
	}
	if (listed(a->syscalls_gate, a->n_syscalls_gate, o->text)) {
		allow(v, RISK_HIGH);
		set_reason(v, "syscall %s is gated by the profile", name);
		return;
	}
	v->learnable = true;
	set_reason(v, "syscall %s is not gated by the profile", name);
}

/* A question: the first host rule naming it lets it go upstream. */
static void
decide_resolve(const struct agent *a, const struct policy_object *o,
    struct policy_verdict *v)
{
	char text[SHORT_MAX + 1];

	shorten(o->text, text);
	for (size_t i = 0; i < a->n_network; i++) {
		const struct network_rule *rule = &a->network[i];

		if (!policy_host_matches(rule, o->name))
			continue;
		allow(v, RISK_LOW);
		v->rule = rule;
		set_reason(v, "network rule line %d allows %s", rule->line,
		    text);
		return;
	}
	set_reason(v, "no host rule names %s", text);
}

void
policy_decide_named(const struct agent *a, const struct policy_object *o,
    const char *name, bool private_addr, struct policy_verdict *v)
{
	char text[SHORT_MAX + 1], host[SHORT_MAX + 1];

	memset(v, 0, sizeof(*v));
	v->decision = DECISION_DENY;
	v->risk = RISK_DENY;
	shorten(o->text, text);
	shorten(name, host);
	if (o->action != ACTION_CONNECT || o->family == AF_UNIX) {
		set_reason(v, "a host rule allows connects only");
		return;
	}
	if (o->port == 53) {
		set_reason(v, "no host rule allows port 53 (DNS goes through "
		    "the grant's resolver)");
		return;
	}
	for (size_t i = 0; i < a->n_network; i++) {
		const struct network_rule *rule = &a->network[i];

		if (!policy_host_matches(rule, name) ||
		    rule->proto != o->proto || !port_listed(rule, o->port))
			continue;
		if (private_addr && !rule->private_ok) {
			set_reason(v, "network rule line %d names %s but not "
			    "a private address (private = true)", rule->line,
			    host);
			continue;
		}
		allow(v, RISK_LOW);
		v->tunnel = rule->tunnel;
		v->rule = rule;
		set_reason(v, "network rule line %d allows %s, answered for "
		    "%s%s", rule->line, text, host,
		    rule->tunnel ? " (tunnel)" : "");
		return;
	}
	if (v->reason[0] == '\0')
		set_reason(v, "no host rule allows %s for %s", text, host);
}

void
policy_decide(const struct agent *agent, const struct policy_object *object,
    struct policy_verdict *verdict)
{
	memset(verdict, 0, sizeof(*verdict));
	verdict->decision = DECISION_DENY;
	verdict->risk = RISK_DENY;
	if (agent == NULL || object == NULL) {
		set_reason(verdict, "no agent or no object");
		return;
	}
	switch (object->action) {
	case ACTION_SESSION: decide_session(agent, object, verdict); break;
	case ACTION_EXEC: decide_exec(agent, object, verdict); break;
	case ACTION_CONNECT:
	case ACTION_LISTEN: decide_network(agent, object, verdict); break;
	case ACTION_OPEN: decide_open(agent, object, verdict); break;
	case ACTION_SYSCALL: decide_syscall(agent, object, verdict); break;
	case ACTION_RESOLVE: decide_resolve(agent, object, verdict); break;
	default: set_reason(verdict, "unknown action"); break;
	}
}

bool
policy_learning(const struct agent *agent, int64_t now)
{
	return agent != NULL && agent->learn && now < agent->learn_until;
}

bool
policy_learning_now(const struct agent *agent)
{
	return policy_learning(agent, (int64_t)time(NULL));
}

void
policy_format_time(int64_t t, char *out, size_t size)
{
	time_t when = (time_t)t;
	struct tm tm;

	if (gmtime_r(&when, &tm) == NULL ||
	    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, size, "?");
}

/* The resolver's part of a profile with host rules (record open). */
static int
put_profile_dns(struct zt_msg *m, const struct dns_config *dns)
{
	int r = 0;

	if (dns == NULL)
		return 0;
	for (size_t i = 0; r == 0 && i < dns->n_upstream; i++)
		r = zt_msg_put_str(m, ZT_F_DNS_UPSTREAM, dns->upstream[i]);
	return r < 0 ? r : zt_msg_put_u32(m, ZT_F_TTL_MS,
	    dns->max_ttl > UINT32_MAX / 1000 ? UINT32_MAX :
	    dns->max_ttl * 1000);
}

int
policy_put_profile(struct zt_msg *m, const struct agent *a,
    const struct dns_config *dns)
{
	uint32_t flags = 0;
	int r;

	flags |= a->on_violation == VIOLATION_KILL ? ZT_PROFILE_KILL : 0;
	flags |= a->landlock == LANDLOCK_OPTIONAL ?
	    ZT_PROFILE_LANDLOCK_OPTIONAL : 0;
	flags |= a->files_given ? ZT_PROFILE_FILES : 0;
	for (size_t i = 0; i < a->n_network; i++) {
		flags |= a->network[i].family == AF_INET ? ZT_PROFILE_INET :
		    a->network[i].family == AF_INET6 ? ZT_PROFILE_INET6 :
		    a->network[i].unix_path != NULL ? ZT_PROFILE_UNIX : 0;
		flags |= a->network[i].tunnel ? ZT_PROFILE_TUNNEL : 0;
		/* A name may be answered with either family. */
		flags |= a->network[i].host != NULL ? ZT_PROFILE_DNS |
		    ZT_PROFILE_INET | ZT_PROFILE_INET6 : 0;
	}
	/* Learn mode: sockets of every family, and SysV IPC and message
	 * queues asked about rather than refused, so that what the profile
	 * lacks reaches ztd to be allowed and audited. */
	if (policy_learning_now(a))
		flags |= ZT_PROFILE_INET | ZT_PROFILE_INET6 | ZT_PROFILE_UNIX |
		    ZT_PROFILE_LEARN;
	if ((r = zt_msg_begin_record(m, ZT_F_PROFILE)) < 0)
		return r;
	if ((r = zt_msg_put_str(m, ZT_F_AGENT, a->name)) < 0 ||
	    (r = zt_msg_put_str(m, ZT_F_BINARY, a->binary)) < 0 ||
	    (r = zt_msg_put_u32(m, ZT_F_FLAGS, flags)) < 0 ||
	    (r = zt_msg_put_u32(m, ZT_F_DECISION_TTL, a->decision_ttl)) < 0)
		goto out;
	for (size_t i = 0; i < a->n_files; i++)
		if ((r = zt_msg_begin_record(m, ZT_F_FILE)) < 0 ||
		    (r = zt_msg_put_str(m, ZT_F_PATH, a->files[i].path)) < 0 ||
		    (r = zt_msg_put_u32(m, ZT_F_ACCESS,
		    a->files[i].access & 7)) < 0 ||
		    (r = zt_msg_end_record(m)) < 0)
			goto out;
	/* A command denied whatever its arguments needs no Landlock x. */
	for (size_t i = 0; i < a->n_commands; i++)
		if (a->commands[i].risk != RISK_DENY &&
		    (r = zt_msg_put_str(m, ZT_F_COMMAND,
		    a->commands[i].path)) < 0)
			goto out;
	for (size_t i = 0; i < a->n_syscalls_deny; i++)
		if ((r = zt_msg_put_str(m, ZT_F_SYSCALL_DENY,
		    a->syscalls_deny[i])) < 0)
			goto out;
	for (size_t i = 0; i < a->n_syscalls_gate; i++)
		if ((r = zt_msg_put_str(m, ZT_F_SYSCALL_GATE,
		    a->syscalls_gate[i])) < 0)
			goto out;
	for (size_t i = 0; i < a->n_env; i++)
		if ((r = zt_msg_put_str(m, ZT_F_ENV, a->env[i])) < 0)
			goto out;
	/* The tunnel rules' CA files, so that zt-exec readies the TLS
	 * contexts at launch. */
	for (size_t i = 0; i < a->n_network; i++)
		if (a->network[i].tunnel && a->network[i].ca != NULL &&
		    (r = zt_msg_put_str(m, ZT_F_CA, a->network[i].ca)) < 0)
			goto out;
	if ((flags & ZT_PROFILE_DNS) && (r = put_profile_dns(m, dns)) < 0)
		goto out;
	if ((r = zt_msg_end_record(m)) == 0)
		return 0;
out:
	while (zt_msg_cancel_record(m) == 0)
		;
	return r;
}

bool
policy_profile_fits(const struct agent *a, const struct dns_config *dns)
{
	static const uint8_t digest[32];
	char reason[POLICY_REASON_MAX + 64];
	struct zt_msg *m = malloc(sizeof(*m));
	bool fits;

	if (m == NULL)
		return false;
	/* zt-exec's bounds, each list on its own. */
	if (a->n_files > ZT_PROFILE_LIST_MAX ||
	    a->n_commands > ZT_PROFILE_LIST_MAX ||
	    a->n_syscalls_deny > ZT_PROFILE_LIST_MAX ||
	    a->n_syscalls_gate > ZT_PROFILE_LIST_MAX ||
	    a->n_env > ZT_ENV_NAMES_MAX) {
		free(m);
		return false;
	}
	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	fits = zt_msg_init(m, ZT_MSG_DECISION, UINT32_MAX) == 0 &&
	    zt_msg_put_u32(m, ZT_F_DECISION, ZT_DECISION_ALLOW) == 0 &&
	    zt_msg_put_str(m, ZT_F_REASON, reason) == 0 &&
	    zt_msg_put_u32(m, ZT_F_RISK, 1) == 0 &&
	    zt_msg_put_u32(m, ZT_F_TTL_MS, UINT32_MAX) == 0 &&
	    zt_msg_put_str(m, ZT_F_GRANT,
	    "00000000000000000000000000000000") == 0 &&
	    zt_msg_put_str(m, ZT_F_AGENT, a->name) == 0 &&
	    zt_msg_put_u64(m, ZT_F_EXPIRES_MS, UINT64_MAX) == 0 &&
	    zt_msg_put_bytes(m, ZT_F_SHA256, digest, sizeof(digest)) == 0 &&
	    policy_put_profile(m, a, dns) == 0;
	free(m);
	return fits;
}

bool
policy_host_matches(const struct network_rule *rule, const char *name)
{
	size_t n, h;

	if (rule->host == NULL)
		return false;
	if (!rule->wildcard)
		return strcmp(rule->host, name) == 0;
	n = strlen(name);
	h = strlen(rule->host);
	/* Strictly under: at least one label before ".HOST". */
	return n > h + 1 && name[n - h - 1] == '.' &&
	    strcmp(name + n - h, rule->host) == 0;
}

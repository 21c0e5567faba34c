/* SPDX-License-Identifier: Apache-2.0 */
/* ztctl profile suggest: the rules that would have allowed what the audit saw. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "suggest.h"
#include "interp.h"

#define PORTS 65536
#define ADDR_TEXT_MAX 64
#define UNIX_PATH_MAX 107
_Static_assert(UNIX_PATH_MAX + 1 >= ADDR_TEXT_MAX, "a destination's addr");

struct alternative {
	char *args;			/* argv[1..], each ending in NUL */
	size_t len;
	bool rest;			/* ends in "**" (the argv was cut) */
};

struct command {
	char *path;
	bool any_args;			/* seen with arguments not known */
	struct alternative *alts;
	size_t n_alts;
};

enum destination_kind { DEST_CONNECT, DEST_LISTEN, DEST_UNIX };

struct destination {
	enum destination_kind kind;
	bool udp;
	int family;			/* AF_INET or AF_INET6 */
	/* inet_ntop form (< ADDR_TEXT_MAX); unix: the path, up to
	 * UNIX_PATH_MAX bytes */
	char addr[UNIX_PATH_MAX + 1];
	uint8_t *ports;			/* PORTS bits */
};

struct suggest {
	char *agent;
	struct command commands[SUGGEST_COMMANDS_MAX];
	size_t n_commands;
	struct destination destinations[SUGGEST_DESTINATIONS_MAX];
	size_t n_destinations;
	char syscalls[SUGGEST_SYSCALLS_MAX][32];
	size_t n_syscalls;
};

struct suggest *
suggest_new(const char *agent)
{
	struct suggest *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->agent = strdup(agent)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void
suggest_free(struct suggest *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_commands; i++) {
		for (size_t j = 0; j < s->commands[i].n_alts; j++)
			free(s->commands[i].alts[j].args);
		free(s->commands[i].alts);
		free(s->commands[i].path);
	}
	for (size_t i = 0; i < s->n_destinations; i++)
		free(s->destinations[i].ports);
	free(s->agent);
	free(s);
}

bool
suggest_is_interpreter(const char *path)
{
	static const char *const exact[] = {
		"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "pdksh",
		"csh", "tcsh", "fish", "rbash", "busybox", "env", "nice",
		"nohup", "timeout", "xargs", "sudo", "su", "doas", "setsid",
		"stdbuf", "awk", "gawk", "mawk", "nawk", "sed", "find",
		"expect", "wish", "java", "Rscript", "R", "pwsh", "osascript",
		"node", "nodejs", "deno", "bun", "gdb", "make", "vim", "vi",
		"emacs", "less", "more", "man", "git-shell", "ssh", "script",
	};
	static const char *const prefix[] = {
		"python", "perl", "ruby", "php", "lua", "tclsh", "jshell",
		"irb", "guile", "racket", "ocaml", "ghci", "julia",
	};
	const char *base = strrchr(path, '/');

	base = base != NULL ? base + 1 : path;
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strcmp(base, exact[i]) == 0)
			return true;
	for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (strncmp(base, prefix[i], strlen(prefix[i])) == 0)
			return true;
	return false;
}

/* A path a command or unix rule could name, as config.c admits them:
 * absolute, without "." or ".." components, "//", a trailing '/' or
 * control bytes. */
static bool
plain_path(const char *p, size_t len)
{
	if (len < 2 || p[0] != '/' || p[len - 1] == '/' || len > 4095)
		return false;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return false;
		if (p[i] == '/' && (p[i + 1] == '/' || (p[i + 1] == '.' &&
		    (p[i + 2] == '/' || p[i + 2] == '\0' || (p[i + 2] == '.' &&
		    (p[i + 3] == '/' || p[i + 3] == '\0'))))))
			return false;
	}
	return true;
}

static struct command *
command_for(struct suggest *s, const char *path)
{
	for (size_t i = 0; i < s->n_commands; i++)
		if (strcmp(s->commands[i].path, path) == 0)
			return &s->commands[i];
	if (s->n_commands == SUGGEST_COMMANDS_MAX)
		return NULL;
	if ((s->commands[s->n_commands].path = strdup(path)) == NULL)
		return NULL;
	return &s->commands[s->n_commands++];
}

/* An exec: OBJECT is the path, then each argument after a NUL. */
static bool
add_exec(struct suggest *s, const struct zt_audit_record *r, bool *skipped)
{
	size_t path_len = strlen(r->object);
	/* After the path: "\0arg1\0arg2", ARGS_LEN bytes. */
	const char *args = r->object + path_len;
	size_t args_len = r->object_len - path_len;
	struct alternative alt = { NULL, 0, false };
	struct command *c;

	/* A cut path names no file. */
	if (!plain_path(r->object, path_len) ||
	    (r->object_cut && args_len == 0) ||
	    (c = command_for(s, r->object)) == NULL)
		goto skip;
	/* Only a decision ztd made itself (cache=miss) saw the arguments;
	 * a cached one came from a rule without args. */
	if (strcmp(r->cache, "miss") != 0) {
		c->any_args = true;
		return true;
	}
	if (r->object_cut) {
		/* The last argument was cut: the whole ones, then "**". */
		size_t k = args_len;

		while (k > 0 && args[k - 1] != '\0')
			k--;
		args_len = k > 0 ? k - 1 : 0;
		alt.rest = true;
	}
	/* Kept as "arg1\0arg2\0": the same length. */
	alt.len = args_len;
	if (alt.len > 0) {
		if ((alt.args = malloc(alt.len)) == NULL)
			goto skip;
		memcpy(alt.args, args + 1, alt.len - 1);
		alt.args[alt.len - 1] = '\0';
	}
	for (size_t i = 0; i < c->n_alts; i++)
		if (c->alts[i].len == alt.len && c->alts[i].rest == alt.rest &&
		    (alt.len == 0 ||
		    memcmp(c->alts[i].args, alt.args, alt.len) == 0)) {
			free(alt.args);
			return true;
		}
	if (c->n_alts == SUGGEST_ALTERNATIVES_MAX) {
		free(alt.args);
		c->any_args = true;	/* too many to list: any */
		return true;
	}
	{
		struct alternative *more = realloc(c->alts,
		    (c->n_alts + 1) * sizeof(*more));

		if (more == NULL) {
			free(alt.args);
			goto skip;
		}
		c->alts = more;
		c->alts[c->n_alts++] = alt;
	}
	return true;
skip:
	if (skipped != NULL)
		*skipped = true;
	return false;
}

/* "tcp:ADDR:PORT", "udp:[ADDR6]:PORT" or "unix:/path". */
static bool
add_network(struct suggest *s, const struct zt_audit_record *r,
    bool listen, bool *skipped)
{
	struct destination d = { .kind = listen ? DEST_LISTEN : DEST_CONNECT };
	const char *o = r->object, *colon, *addr;
	char text[ADDR_TEXT_MAX];
	uint8_t bin[16];
	unsigned long port = 0;
	size_t addr_len;
	char *end;

	if (strlen(o) != r->object_len || r->object_cut)
		goto skip;
	if (!listen && strncmp(o, "unix:", 5) == 0) {
		if (!plain_path(o + 5, strlen(o + 5)) ||
		    strlen(o + 5) > UNIX_PATH_MAX)
			goto skip;
		d.kind = DEST_UNIX;
		memcpy(d.addr, o + 5, strlen(o + 5) + 1);
	} else {
		if (strncmp(o, "tcp:", 4) == 0)
			d.udp = false;
		else if (strncmp(o, "udp:", 4) == 0)
			d.udp = true;
		else
			goto skip;
		o += 4;
		if ((colon = strrchr(o, ':')) == NULL)
			goto skip;
		addr = o;
		addr_len = (size_t)(colon - o);
		if (addr_len > 2 && addr[0] == '[' && addr[addr_len - 1] == ']') {
			addr++;
			addr_len -= 2;
		}
		if (addr_len == 0 || addr_len >= sizeof(text))
			goto skip;
		memcpy(text, addr, addr_len);
		text[addr_len] = '\0';
		if (inet_pton(AF_INET, text, bin) == 1)
			d.family = AF_INET;
		else if (inet_pton(AF_INET6, text, bin) == 1)
			d.family = AF_INET6;
		else
			goto skip;
		/* ::ffff:a.b.c.d is the IPv4 address, as ztd decides it. */
		if (d.family == AF_INET6 &&
		    IN6_IS_ADDR_V4MAPPED((struct in6_addr *)bin)) {
			memmove(bin, bin + 12, 4);
			d.family = AF_INET;
		}
		if (inet_ntop(d.family, bin, d.addr, sizeof(d.addr)) == NULL ||
		    colon[1] < '1' || colon[1] > '9')
			goto skip;
		port = strtoul(colon + 1, &end, 10);
		if (*end != '\0' || port == 0 || port > 65535)
			goto skip;
	}
	for (size_t i = 0; i < s->n_destinations; i++) {
		struct destination *e = &s->destinations[i];

		if (e->kind == d.kind && e->udp == d.udp &&
		    strcmp(e->addr, d.addr) == 0) {
			if (e->ports != NULL)
				e->ports[port / 8] |= (uint8_t)(1u << port % 8);
			return true;
		}
	}
	if (s->n_destinations == SUGGEST_DESTINATIONS_MAX)
		goto skip;
	if (d.kind != DEST_UNIX) {
		if ((d.ports = calloc(PORTS / 8, 1)) == NULL)
			goto skip;
		d.ports[port / 8] |= (uint8_t)(1u << port % 8);
	}
	s->destinations[s->n_destinations++] = d;
	return true;
skip:
	if (skipped != NULL)
		*skipped = true;
	return false;
}

static bool
add_syscall(struct suggest *s, const struct zt_audit_record *r,
    bool *skipped)
{
	size_t len = strlen(r->object);

	if (len == 0 || len >= sizeof(s->syscalls[0]) ||
	    len != r->object_len ||
	    strspn(r->object, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
		goto skip;
	for (size_t i = 0; i < s->n_syscalls; i++)
		if (strcmp(s->syscalls[i], r->object) == 0)
			return true;
	if (s->n_syscalls == SUGGEST_SYSCALLS_MAX)
		goto skip;
	memcpy(s->syscalls[s->n_syscalls++], r->object, len + 1);
	return true;
skip:
	if (skipped != NULL)
		*skipped = true;
	return false;
}

bool
suggest_add(struct suggest *s, const struct zt_audit_record *r,
    bool *skipped)
{
	if (strcmp(r->agent, s->agent) != 0 ||
	    !(strcmp(r->decision, "allow") == 0 ||
	    (strcmp(r->decision, "deny") == 0 && r->unenforced)))
		return false;
	if (strcmp(r->action, "exec") == 0)
		return add_exec(s, r, skipped);
	if (strcmp(r->action, "connect") == 0)
		return add_network(s, r, false, skipped);
	if (strcmp(r->action, "listen") == 0)
		return add_network(s, r, true, skipped);
	if (strcmp(r->action, "syscall") == 0)
		return add_syscall(s, r, skipped);
	return false;
}

/* ------------------------------------------------------------ printing */

static int
compare_commands(const void *a, const void *b)
{
	return strcmp(((const struct command *)a)->path,
	    ((const struct command *)b)->path);
}

static int
compare_alternatives(const void *a, const void *b)
{
	const struct alternative *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = n > 0 ? memcmp(x->args, y->args, n) : 0;

	if (c != 0)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return (int)x->rest - (int)y->rest;
}

static int
compare_destinations(const void *a, const void *b)
{
	const struct destination *x = a, *y = b;
	int c;

	if (x->kind != y->kind)
		return (int)x->kind - (int)y->kind;
	if (x->udp != y->udp)
		return (int)x->udp - (int)y->udp;
	if (x->family != y->family)
		return x->family - y->family;
	c = strcmp(x->addr, y->addr);
	return c;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* TEXT (LEN bytes) quoted for libconfig; "" when it cannot be (never for
 * what suggest_add kept: every value is bounded by the audit's). */
static void
print_quoted(FILE *out, const char *text, size_t len)
{
	char buf[4 * ZT_AUDIT_VALUE_MAX + 8];

	if (zt_config_quote(buf, sizeof(buf), text, len) < 0)
		snprintf(buf, sizeof(buf), "\"\"");
	fputs(buf, out);
}

/*
 * Would ztd refuse alternative A of a Python command, as printed, because
 * it lets Python import first from the directory it runs in
 * (interp_python_unsafe)?  Out of memory: yes.
 */
static bool
python_unsafe(const struct alternative *a)
{
	struct args_alternative alt = { .rest = a->rest };
	const char *arg = a->args;
	size_t n = 0;
	bool unsafe = true;

	for (size_t i = 0; i < a->len; i++)
		n += a->args[i] == '\0';
	if ((alt.patterns = calloc(n + 1, sizeof(char *))) == NULL)
		return true;
	for (; arg != NULL && arg < a->args + a->len; arg += strlen(arg) + 1) {
		size_t len = strlen(arg), size = 2 * len + 1;
		char *pattern = malloc(size);

		if (pattern == NULL ||
		    zt_fnmatch_escape(pattern, size, arg, len) < 0) {
			free(pattern);
			goto out;
		}
		alt.patterns[alt.n_patterns++] = pattern;
	}
	unsafe = interp_python_unsafe(&alt) != NULL;
out:
	for (size_t i = 0; i < alt.n_patterns; i++)
		free(alt.patterns[i]);
	free(alt.patterns);
	return unsafe;
}

/* ISOLATE: "-I" first (a Python alternative ztd would refuse without). */
static void
print_alternative(FILE *out, const struct alternative *a, bool isolate)
{
	char pattern[2 * ZT_AUDIT_VALUE_MAX + 2];
	const char *arg = a->args;
	bool first = !isolate;

	fputs(isolate ? "[\"-I\"" : "[", out);
	while (arg != NULL && arg < a->args + a->len) {
		size_t n = strlen(arg);

		fputs(first ? "" : ", ", out);
		if (zt_fnmatch_escape(pattern, sizeof(pattern), arg, n) < 0)
			pattern[0] = '\0';
		print_quoted(out, pattern, strlen(pattern));
		arg += n + 1;
		first = false;
	}
	if (a->rest)
		fputs(first ? "\"**\"" : ", \"**\"", out);
	fputc(']', out);
}

/* "80-81,443": the set ports, contiguous ones as ranges. */
static void
print_ports(FILE *out, const uint8_t *ports)
{
	bool first = true;

	for (unsigned p = 1; p < PORTS; p++) {
		unsigned last = p;

		if (!(ports[p / 8] & (1u << p % 8)))
			continue;
		while (last + 1 < PORTS &&
		    (ports[(last + 1) / 8] & (1u << (last + 1) % 8)))
			last++;
		fprintf(out, first ? "%u" : ",%u", p);
		if (last > p)
			fprintf(out, "-%u", last);
		first = false;
		p = last;
	}
}

size_t
suggest_print(const struct suggest *cs, FILE *out)
{
	struct suggest *s = (struct suggest *)cs;	/* sorted in place */
	size_t rules = 0;

	qsort(s->commands, s->n_commands, sizeof(s->commands[0]),
	    compare_commands);
	qsort(s->destinations, s->n_destinations, sizeof(s->destinations[0]),
	    compare_destinations);
	qsort(s->syscalls, s->n_syscalls, sizeof(s->syscalls[0]),
	    compare_names);
	fputs("commands = (\n", out);
	for (size_t i = 0; i < s->n_commands; i++) {
		struct command *c = &s->commands[i];

		bool python = !c->any_args && interp_is_python(c->path);
		bool isolated = false;

		for (size_t j = 0; python && j < c->n_alts; j++)
			isolated |= python_unsafe(&c->alts[j]);
		/* ztd refuses the rule as run: the agent must pass -I. */
		if (isolated)
			fputs("  # Python: \"-I\" added first where the agent ran "
			    "it without; ztd refuses -m, -c or standard input "
			    "without it (the agent's own modules in its working "
			    "directory would run): run it with -I\n", out);
		fputs("  { path = ", out);
		print_quoted(out, c->path, strlen(c->path));
		/* A shell or an interpreter runs whatever it is given. */
		fprintf(out, "; risk = \"%s\";", suggest_is_interpreter(c->path) ?
		    "high" : "low");
		if (!c->any_args && c->n_alts > 0) {
			qsort(c->alts, c->n_alts, sizeof(c->alts[0]),
			    compare_alternatives);
			fputs("\n    args = (", out);
			for (size_t j = 0; j < c->n_alts; j++) {
				fputs(j > 0 ? ",\n      " : "", out);
				print_alternative(out, &c->alts[j], python &&
				    python_unsafe(&c->alts[j]));
			}
			fputs(");", out);
		}
		fputs(i + 1 < s->n_commands ? " },\n" : " }\n", out);
		rules++;
	}
	fputs(");\nnetwork = (\n", out);
	for (size_t i = 0; i < s->n_destinations; i++) {
		const struct destination *d = &s->destinations[i];

		if (d->kind == DEST_UNIX) {
			fputs("  { unix = ", out);
			print_quoted(out, d->addr, strlen(d->addr));
			fputs("; }", out);
		} else {
			fprintf(out, "  { %s = \"%s/%u\"; ports = \"",
			    d->kind == DEST_LISTEN ? "listen" : "to", d->addr,
			    d->family == AF_INET ? 32 : 128);
			print_ports(out, d->ports);
			fprintf(out, "\"; proto = \"%s\"; }",
			    d->udp ? "udp" : "tcp");
		}
		fputs(i + 1 < s->n_destinations ? ",\n" : "\n", out);
		rules++;
	}
	fputs(");\n", out);
	if (s->n_syscalls > 0) {
		fputs("syscalls = { gate = [", out);
		for (size_t i = 0; i < s->n_syscalls; i++)
			fprintf(out, "%s\"%s\"", i > 0 ? ", " : "",
			    s->syscalls[i]);
		fputs("]; };\n", out);
		rules += s->n_syscalls;
	}
	return rules;
}

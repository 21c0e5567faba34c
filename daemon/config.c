/* SPDX-License-Identifier: Apache-2.0 */
/* Reading and validating ztd.conf: the only file that sees libconfig. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <libconfig.h>
#include <libpsl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ca.h"
#include "interp.h"
#include "policy.h"
#include "syscalls.h"
#include "zt_auditline.h"
#include "zt_client.h"
#include "zt_envcheck.h"
#include "zt_err.h"
#include "zt_group.h"
#include "zt_msg.h"
#include "ztd_config.h"

#define PATH_MAX_LEN 4095
#define NAME_MAX_LEN 64

struct parser {
	const char *path;
	char *error;
	struct ztd_config *c;
	bool policy;		/* parsing a fleet policy: keys inline */
};

static int
fail(struct parser *p, const config_setting_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record "PATH:LINE: message" (the first error wins) and return an error. */
static int
fail(struct parser *p, const config_setting_t *at, const char *fmt, ...)
{
	char message[CONFIG_ERROR_MAX / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (at != NULL && config_setting_source_line(at) > 0)
		snprintf(p->error, CONFIG_ERROR_MAX, "%s:%u: %s", p->path,
		    config_setting_source_line(at), message);
	else
		snprintf(p->error, CONFIG_ERROR_MAX, "%s: %s", p->path,
		    message);
	return ZT_E_CONFIG;
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL)
		abort();	/* the daemon treats out-of-memory as fatal */
	return p;
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		abort();
	return d;
}

/* ------------------------------------------------------------ checks */

static bool
is_absolute_path(const char *s)
{
	size_t len = strlen(s);

	return s[0] == '/' && len <= PATH_MAX_LEN;
}

/*
 * A path as the policy engine compares it (policy_parse_object): no
 * control bytes, no "." or ".." components, no "//", no trailing '/'
 * ("/" itself only where ROOT_OK).  A rule path in any other form could
 * never match: refuse it rather than keep a rule that silently does nothing.
 */
static bool
is_canonical_path(const char *s, bool root_ok)
{
	size_t len = strlen(s);

	if (!is_absolute_path(s))
		return false;
	if (len == 1)
		return root_ok;
	if (s[len - 1] == '/' || strstr(s, "//") != NULL)
		return false;
	for (const char *c = s; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return false;
	for (const char *c = s; c != NULL; c = strchr(c + 1, '/')) {
		size_t n = strcspn(c + 1, "/");

		if ((n == 1 && c[1] == '.') ||
		    (n == 2 && c[1] == '.' && c[2] == '.'))
			return false;
	}
	return true;
}

/* Names of agents and publishers: [A-Za-z0-9_.-]{1,64}, no leading dot. */
static bool
is_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > NAME_MAX_LEN || s[0] == '.' || s[0] == '-')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' &&
		    *s != '-')
			return false;
	return true;
}

/* User names as shadow-utils accepts them: [a-z_][a-z0-9_.-]*[$]?, <= 32. */
static bool
is_account_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 32)
		return false;
	if (!(islower((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (islower(ch) || isdigit(ch) || ch == '_' || ch == '-' ||
		    ch == '.')
			continue;
		if (ch == '$' && i == len - 1)
			continue;
		return false;
	}
	return true;
}

/*
 * DNS names: labels of 1..63, the whole at most 253, no trailing dot.
 * A configured name: letters (either case), digits and '-' not at a
 * label's ends.  A name asked (QUESTION): lower-case letters, digits, '-'
 * and '_' anywhere (what resolvers pass on), nothing else.
 */
static bool
dns_name_ok(const char *s, bool question)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '.' || ch == '\0') {
			if (label == 0 || label > 63 ||
			    (!question && s[i - 1] == '-'))
				return false;
			label = 0;
			continue;
		}
		if (question ? !((ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_') :
		    !(isalnum(ch) || (ch == '-' && label > 0)))
			return false;
		label++;
	}
	return true;
}

static bool
is_dns_name(const char *s)
{
	return dns_name_ok(s, false);
}

static int
hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool
parse_sha256(const char *s, uint8_t out[32])
{
	if (strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 32; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* "10.0.0.0/8", "2001:db8::/32", or an address alone (a host). */
static const char *
parse_cidr(const char *s, struct network_rule *rule)
{
	char address[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t len = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned max, prefix;

	if (len == 0 || len >= sizeof(address))
		return "not an IPv4 or IPv6 address";
	memcpy(address, s, len);
	address[len] = '\0';
	if (inet_pton(AF_INET, address, rule->addr) == 1) {
		rule->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, address, rule->addr) == 1) {
		rule->family = AF_INET6;
		max = 128;
	} else
		return "not an IPv4 or IPv6 address";
	prefix = max;
	if (slash != NULL) {
		const char *digits = slash + 1;
		char *end;
		unsigned long v;

		if (!isdigit((unsigned char)digits[0]) || strlen(digits) > 3)
			return "prefix length is not a number";
		errno = 0;
		v = strtoul(digits, &end, 10);
		if (*end != '\0' || errno != 0)
			return "prefix length is not a number";
		if (v > max)
			return "prefix length out of range";
		prefix = (unsigned)v;
	}
	rule->prefix = prefix;
	/* Host bits set mean the administrator meant something else. */
	for (unsigned bit = prefix; bit < max; bit++)
		if (rule->addr[bit / 8] & (0x80 >> (bit % 8)))
			return "address has bits set beyond the prefix length";
	return NULL;
}

/* "22", "443,8443-8450": ranges of 1..65535, at most 64 items; a listen
 * rule may name port 0 (a UDP bind to port 0, zt-exec(1)). */
static const char *
parse_ports(const char *s, struct network_rule *rule)
{
	const char *p = s;
	unsigned long low = rule->listen ? 0 : 1;

	rule->n_ports = 0;
	for (;;) {
		unsigned long first, last;
		char *end;

		while (*p == ' ')
			p++;
		if (!isdigit((unsigned char)*p))
			return "expected a port number";
		first = strtoul(p, &end, 10);
		p = end;
		last = first;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return "expected a port number after '-'";
			last = strtoul(p, &end, 10);
			p = end;
		}
		if (first < low || first > 65535 || last < low || last > 65535)
			return rule->listen ? "port out of range 0-65535" :
			    "port out of range 1-65535";
		if (first > last)
			return "port range is reversed";
		if (rule->n_ports >= CONFIG_PORT_RANGES_MAX)
			return "too many port ranges";
		rule->ports[rule->n_ports++] = (struct port_range){
			.first = (uint16_t)first, .last = (uint16_t)last,
		};
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return NULL;
		if (*p != ',')
			return "expected ',' between ports";
		p++;
	}
}

static const char *
parse_access(const char *s, unsigned *access)
{
	*access = 0;
	if (*s == '\0')
		return "access is empty";
	for (; *s != '\0'; s++) {
		unsigned bit;

		switch (*s) {
		case 'r': bit = ACCESS_READ; break;
		case 'w': bit = ACCESS_WRITE; break;
		case 'x': bit = ACCESS_EXEC; break;
		default: return "access takes only the letters r, w and x";
		}
		if (*access & bit)
			return "access repeats a letter";
		*access |= bit;
	}
	return NULL;
}

/* ------------------------------------------------------------ walking */

static const char *
type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "a group { }";
	case CONFIG_TYPE_INT: case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array [ ]";
	case CONFIG_TYPE_LIST: return "a list ( )";
	default: return "nothing";
	}
}

/* Every member of GROUP must be named in ALLOWED (NULL-terminated). */
static int
check_keys(struct parser *p, const config_setting_t *group,
    const char *what, const char *const *allowed)
{
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(group, i);
		const char *name = config_setting_name(s);
		const char *const *a;

		for (a = allowed; *a != NULL; a++)
			if (name != NULL && strcmp(name, *a) == 0)
				break;
		if (*a == NULL)
			return fail(p, s, "unknown key '%s' in %s",
			    name != NULL ? name : "?", what);
	}
	return 0;
}

static int
expect_type(struct parser *p, const config_setting_t *s, const char *key,
    int type)
{
	int t = config_setting_type(s);

	if (t == type || (type == CONFIG_TYPE_INT && t == CONFIG_TYPE_INT64))
		return 0;
	return fail(p, s, "%s must be %s, not %s", key, type_name(type),
	    type_name(t));
}

/* The member KEY of GROUP, checked for TYPE; NULL (and 0) when absent. */
static int
member(struct parser *p, const config_setting_t *group, const char *key,
    int type, config_setting_t **out)
{
	*out = group != NULL ? config_setting_get_member(group, key) : NULL;
	if (*out == NULL)
		return 0;
	return expect_type(p, *out, key, type);
}

static int
get_string(struct parser *p, const config_setting_t *group, const char *key,
    bool required, char **out)
{
	config_setting_t *s;
	int r;

	if ((r = member(p, group, key, CONFIG_TYPE_STRING, &s)) < 0)
		return r;
	if (s == NULL) {
		if (required)
			return fail(p, group, "%s is required", key);
		return 0;
	}
	free(*out);
	*out = xstrdup(config_setting_get_string(s));
	return 0;
}

static int
get_path(struct parser *p, const config_setting_t *group, const char *key,
    bool required, char **out)
{
	int r;

	if ((r = get_string(p, group, key, required, out)) < 0)
		return r;
	if (*out != NULL && !is_absolute_path(*out))
		return fail(p, config_setting_get_member(group, key),
		    "%s must be an absolute path", key);
	return 0;
}

static int
get_uint(struct parser *p, const config_setting_t *group, const char *key,
    long long min, long long max, unsigned *out)
{
	config_setting_t *s;
	long long v;
	int r;

	if ((r = member(p, group, key, CONFIG_TYPE_INT, &s)) < 0 || s == NULL)
		return r;
	v = config_setting_get_int64(s);
	if (v < min || v > max)
		return fail(p, s, "%s must be between %lld and %lld, not %lld",
		    key, min, max, v);
	*out = (unsigned)v;
	return 0;
}

/*
 * A rate per second, an integer or a decimal (0.5: one every two
 * seconds), MIN..MAX, kept in thousandths (*OUT_MILLI).
 */
static int
get_rate(struct parser *p, const config_setting_t *group, const char *key,
    double min, double max, unsigned *out_milli)
{
	config_setting_t *s;
	double v;

	s = group != NULL ? config_setting_get_member(group, key) : NULL;
	if (s == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64)
		v = (double)config_setting_get_int64(s);
	else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		v = config_setting_get_float(s);
	else
		return fail(p, s, "%s must be a number", key);
	if (!(v >= min && v <= max))
		return fail(p, s, "%s must be between %g and %g", key, min,
		    max);
	*out_milli = (unsigned)(v * 1000.0 + 0.5);
	if (v > 0 && *out_milli == 0)
		return fail(p, s, "%s must be 0 or at least 0.001", key);
	return 0;
}

static int
get_bool(struct parser *p, const config_setting_t *group, const char *key,
    bool *out)
{
	config_setting_t *s;
	int r;

	if ((r = member(p, group, key, CONFIG_TYPE_BOOL, &s)) < 0 || s == NULL)
		return r;
	*out = config_setting_get_bool(s) != 0;
	return 0;
}

/* A string member that must be one of CHOICES; *OUT is its index. */
static int
get_choice(struct parser *p, const config_setting_t *group, const char *key,
    const char *const *choices, int *out)
{
	char *value = NULL;
	int r;

	if ((r = get_string(p, group, key, false, &value)) < 0 || value == NULL)
		return r;
	for (int i = 0; choices[i] != NULL; i++)
		if (strcmp(value, choices[i]) == 0) {
			*out = i;
			free(value);
			return 0;
		}
	free(value);
	return fail(p, config_setting_get_member(group, key),
	    "%s must be one of %s%s%s%s%s", key, choices[0],
	    choices[1] ? ", " : "", choices[1] ? choices[1] : "",
	    choices[1] && choices[2] ? ", " : "",
	    choices[1] && choices[2] ? choices[2] : "");
}

/* Either an array [ ] or a list ( ) of scalars. */
static int
get_sequence(struct parser *p, const config_setting_t *group, const char *key,
    config_setting_t **out)
{
	config_setting_t *s;
	int n;

	*out = NULL;
	if (group == NULL || (s = config_setting_get_member(group, key)) == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return fail(p, s, "%s must be an array [ ], not %s", key,
		    type_name(config_setting_type(s)));
	n = config_setting_length(s);
	if (n > CONFIG_LIST_MAX)
		return fail(p, s, "%s has more than %d entries", key,
		    CONFIG_LIST_MAX);
	*out = s;
	return 0;
}

typedef bool (*string_check)(const char *);

/* An array of strings, each passing CHECK (explained by RULE), unique. */
static int
get_strings(struct parser *p, const config_setting_t *group, const char *key,
    string_check check, const char *rule, char ***out, size_t *count)
{
	config_setting_t *s;
	int n, r;

	if ((r = get_sequence(p, group, key, &s)) < 0 || s == NULL)
		return r;
	n = config_setting_length(s);
	*out = xcalloc((size_t)n, sizeof(char *));
	*count = 0;
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, i);
		const char *v;

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return fail(p, e, "%s[%d] must be a string", key, i);
		v = config_setting_get_string(e);
		if (check != NULL && !check(v))
			return fail(p, e, "%s[%d] \"%.64s\" is not %s", key, i,
			    v, rule);
		for (size_t j = 0; j < *count; j++)
			if (strcmp((*out)[j], v) == 0)
				return fail(p, e, "%s lists \"%.64s\" twice",
				    key, v);
		(*out)[(*count)++] = xstrdup(v);
	}
	return 0;
}

static bool
check_absolute(const char *s)
{
	return is_absolute_path(s);
}

/* ------------------------------------------------------------ sections */

static const char *const ztd_keys[] = {
	"socket", "state_dir", "max_clients", "max_clients_per_uid",
	"max_supervisors_per_uid", "supervisor_group", "agent_group", "idle_timeout", "trust_domain",
	"cert_lifetime",
	"audit", "cache", "dns", NULL,
};
static const char *const audit_keys[] = {
	"file", "require", "deny_rate", "deny_burst", "relay", NULL,
};
static const char *const cache_keys[] = { "max_entries", NULL };

/* supervisor_group's gid, from /etc/group itself (NSS may be what is
 * down).  A group that is not there leaves supervisors without a pool of
 * their own: (gid_t)-1, which no peer has. */
static int
resolve_supervisor_group(struct parser *p, const config_setting_t *root)
{
	struct ztd_config *c = p->c;
	int r;

	c->supervisor_gid = (gid_t)-1;
	if (c->supervisor_group[0] == '\0' ||
	    (r = zt_group_gid(ZT_GROUP_FILE, c->supervisor_group,
	    &c->supervisor_gid)) == 0 || r == -ENOENT) {
		if (c->supervisor_gid == 0)
			return fail(p, root, "supervisor_group %s is root's "
			    "group", c->supervisor_group);
		return 0;
	}
	return fail(p, root, "supervisor_group: reading %s: %s",
	    ZT_GROUP_FILE, strerror(-r));
}

/* Is agent_group configured and present in /etc/group?  An unreadable
 * file counts as present: then every account check fails, closed. */
static bool
agent_group_present(struct parser *p)
{
	gid_t gid;

	return p->c->agent_group[0] != '\0' &&
	    zt_group_gid(ZT_GROUP_FILE, p->c->agent_group, &gid) != -ENOENT;
}

static int parse_dns(struct parser *p, const config_setting_t *ztd_group);

static int
parse_ztd(struct parser *p, const config_setting_t *root)
{
	struct ztd_config *c = p->c;
	config_setting_t *g, *sub;
	int r;

	if ((r = member(p, root, "ztd", CONFIG_TYPE_GROUP, &g)) < 0)
		return r;
	if (g == NULL)
		return 0;
	if ((r = check_keys(p, g, "ztd", ztd_keys)) < 0 ||
	    (r = get_path(p, g, "socket", false, &c->socket)) < 0 ||
	    (r = get_path(p, g, "state_dir", false, &c->state_dir)) < 0 ||
	    (r = get_uint(p, g, "max_clients", 1, 65536,
	    &c->max_clients)) < 0 ||
	    (r = get_uint(p, g, "max_clients_per_uid", 1, 65536,
	    &c->max_clients_per_uid)) < 0 ||
	    (r = get_uint(p, g, "max_supervisors_per_uid", 1, 65536,
	    &c->max_supervisors_per_uid)) < 0 ||
	    (r = get_string(p, g, "supervisor_group", false,
	    &c->supervisor_group)) < 0 ||
	    (r = get_string(p, g, "agent_group", false,
	    &c->agent_group)) < 0 ||
	    (r = get_uint(p, g, "idle_timeout", 1, 86400,
	    &c->idle_timeout)) < 0 ||
	    (r = get_string(p, g, "trust_domain", false,
	    &c->trust_domain)) < 0 ||
	    (r = get_uint(p, g, "cert_lifetime", CA_LIFETIME_MIN,
	    CA_LIFETIME_MAX, &c->cert_lifetime)) < 0)
		return r;
	if (strlen(c->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return fail(p, config_setting_get_member(g, "socket"),
		    "socket path is longer than %zu bytes",
		    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	if (!is_dns_name(c->trust_domain))
		return fail(p, config_setting_get_member(g, "trust_domain"),
		    "trust_domain must be a DNS name (letters, digits, '-', '.')");

	if ((r = member(p, g, "audit", CONFIG_TYPE_GROUP, &sub)) < 0)
		return r;
	if (sub != NULL &&
	    ((r = check_keys(p, sub, "ztd.audit", audit_keys)) < 0 ||
	    (r = get_path(p, sub, "file", false, &c->audit_file)) < 0 ||
	    (r = get_bool(p, sub, "require", &c->audit_require)) < 0 ||
	    (r = get_bool(p, sub, "relay", &c->audit_relay)) < 0 ||
	    (r = get_rate(p, sub, "deny_rate", 0, 100000,
	    &c->audit_deny_rate_milli)) < 0 ||
	    (r = get_uint(p, sub, "deny_burst", 1, 1000000,
	    &c->audit_deny_burst)) < 0))
		return r;
	if ((r = member(p, g, "cache", CONFIG_TYPE_GROUP, &sub)) < 0)
		return r;
	if (sub != NULL &&
	    ((r = check_keys(p, sub, "ztd.cache", cache_keys)) < 0 ||
	    (r = get_uint(p, sub, "max_entries", 1, 16777216,
	    &c->cache_max_entries)) < 0))
		return r;
	return parse_dns(p, g);
}

static const char *const attestation_keys[] = {
	"mode", "tcti", "pcrs", "golden", "quote_interval", "session_max_age",
	"high_risk_max_age", "files", NULL,
};
static const char *const attest_modes[] = { "auto", "tpm", "software", NULL };

static int
parse_attestation(struct parser *p, const config_setting_t *root)
{
	struct ztd_config *c = p->c;
	config_setting_t *g, *pcrs;
	int mode = (int)c->attest_mode, r;

	if ((r = member(p, root, "attestation", CONFIG_TYPE_GROUP, &g)) < 0)
		return r;
	if (g == NULL)
		return 0;
	if ((r = check_keys(p, g, "attestation", attestation_keys)) < 0 ||
	    (r = get_choice(p, g, "mode", attest_modes, &mode)) < 0 ||
	    (r = get_string(p, g, "tcti", false, &c->tcti)) < 0 ||
	    (r = get_path(p, g, "golden", false, &c->golden)) < 0 ||
	    (r = get_uint(p, g, "quote_interval", 1, 86400,
	    &c->quote_interval)) < 0 ||
	    (r = get_uint(p, g, "session_max_age", 0, 86400,
	    &c->session_max_age)) < 0 ||
	    (r = get_uint(p, g, "high_risk_max_age", 0, 86400,
	    &c->high_risk_max_age)) < 0 ||
	    (r = get_strings(p, g, "files", check_absolute,
	    "an absolute path", &c->measured_files,
	    &c->n_measured_files)) < 0)
		return r;
	c->attest_mode = (enum attest_mode)mode;
	if (c->tcti[0] == '\0' || strlen(c->tcti) > 256)
		return fail(p, config_setting_get_member(g, "tcti"),
		    "tcti must be 1 to 256 characters");

	if ((r = get_sequence(p, g, "pcrs", &pcrs)) < 0)
		return r;
	if (pcrs != NULL) {
		int n = config_setting_length(pcrs);
		uint32_t seen = 0;

		if (n == 0)
			return fail(p, pcrs, "pcrs must not be empty");
		if (n > CONFIG_PCR_MAX)
			return fail(p, pcrs, "pcrs has more than %d entries",
			    CONFIG_PCR_MAX);
		c->n_pcrs = 0;
		for (int i = 0; i < n; i++) {
			config_setting_t *e = config_setting_get_elem(pcrs, i);
			long long v;

			if (config_setting_type(e) != CONFIG_TYPE_INT &&
			    config_setting_type(e) != CONFIG_TYPE_INT64)
				return fail(p, e, "pcrs[%d] must be an integer",
				    i);
			v = config_setting_get_int64(e);
			if (v < 0 || v >= CONFIG_PCR_MAX)
				return fail(p, e,
				    "pcrs[%d] must be between 0 and 23, not %lld",
				    i, v);
			if (seen & (UINT32_C(1) << v))
				return fail(p, e, "pcrs lists %lld twice", v);
			seen |= UINT32_C(1) << v;
			c->pcrs[c->n_pcrs++] = (unsigned)v;
		}
	}
	return 0;
}

static const char *const publisher_keys[] = { "name", "key", NULL };

static int
parse_publishers(struct parser *p, const config_setting_t *root)
{
	struct ztd_config *c = p->c;
	config_setting_t *list;
	int n, r;

	if ((r = member(p, root, "publishers", CONFIG_TYPE_LIST, &list)) < 0 ||
	    list == NULL)
		return r;
	n = config_setting_length(list);
	if (n > CONFIG_LIST_MAX)
		return fail(p, list, "too many publishers");
	c->publishers = xcalloc((size_t)n, sizeof(*c->publishers));
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(list, i);
		struct publisher *pub = &c->publishers[c->n_publishers];

		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return fail(p, g, "publishers[%d] must be a group { }",
			    i);
		c->n_publishers++;
		pub->line = (int)config_setting_source_line(g);
		if ((r = check_keys(p, g, "a publisher", publisher_keys)) < 0 ||
		    (r = get_string(p, g, "name", true, &pub->name)) < 0 ||
		    (r = get_string(p, g, "key", true, &pub->key)) < 0)
			return r;
		/* A fleet policy carries its keys; a file names them. */
		if (p->policy ? !config_key_is_inline(pub->key) :
		    !is_absolute_path(pub->key))
			return fail(p, config_setting_get_member(g, "key"),
			    p->policy ? "key must be a PEM public key inline "
			    "(-----BEGIN PUBLIC KEY-----) in a fleet policy" :
			    "key must be an absolute path");
		if (!is_name(pub->name))
			return fail(p, config_setting_get_member(g, "name"),
			    "publisher name \"%.64s\" must be 1-64 of "
			    "A-Z a-z 0-9 _ . -", pub->name);
		for (size_t j = 0; j + 1 < c->n_publishers; j++)
			if (strcmp(c->publishers[j].name, pub->name) == 0)
				return fail(p, g,
				    "publisher \"%s\" is defined twice "
				    "(first at line %d)", pub->name,
				    c->publishers[j].line);
	}
	return 0;
}

static const char *const command_keys[] = { "path", "risk", "args", NULL };

#define ARGS_PATTERN_MAX 4096		/* bytes of one args pattern */

/*
 * A command's args: a list ( ) of alternatives, each an array [ ] (or a
 * list) of fnmatch patterns, "**" only as the last one.  An empty
 * alternative allows the command without arguments.
 */
static int
parse_args(struct parser *p, const config_setting_t *g,
    struct command_rule *cmd)
{
	config_setting_t *list = config_setting_get_member(g, "args");
	int n;

	if (list == NULL)
		return 0;
	if (config_setting_type(list) != CONFIG_TYPE_LIST)
		return fail(p, list, "args must be a list ( ) of arrays [ ] "
		    "of patterns, not %s", type_name(config_setting_type(list)));
	n = config_setting_length(list);
	if (n == 0)
		return fail(p, list, "args lists no alternative (leave args "
		    "out to allow any arguments)");
	if (n > CONFIG_LIST_MAX)
		return fail(p, list, "args has more than %d alternatives",
		    CONFIG_LIST_MAX);
	cmd->args = xcalloc((size_t)n, sizeof(*cmd->args));
	for (int i = 0; i < n; i++) {
		config_setting_t *alt = config_setting_get_elem(list, i);
		struct args_alternative *a = &cmd->args[cmd->n_args];
		int m;

		if (config_setting_type(alt) != CONFIG_TYPE_ARRAY &&
		    config_setting_type(alt) != CONFIG_TYPE_LIST)
			return fail(p, alt, "args[%d] must be an array [ ] of "
			    "patterns", i);
		m = config_setting_length(alt);
		if (m > CONFIG_LIST_MAX)
			return fail(p, alt, "args[%d] has more than %d "
			    "patterns", i, CONFIG_LIST_MAX);
		cmd->n_args++;
		a->line = (int)config_setting_source_line(alt);
		if (a->line == 0)
			a->line = cmd->line;
		a->patterns = xcalloc((size_t)m + 1, sizeof(char *));
		for (int j = 0; j < m; j++) {
			config_setting_t *e = config_setting_get_elem(alt, j);
			const char *v;

			if (config_setting_type(e) != CONFIG_TYPE_STRING)
				return fail(p, e, "args[%d][%d] must be a "
				    "string", i, j);
			v = config_setting_get_string(e);
			if (strlen(v) > ARGS_PATTERN_MAX)
				return fail(p, e, "args[%d][%d] is longer than "
				    "%d bytes", i, j, ARGS_PATTERN_MAX);
			if (strcmp(v, "**") == 0) {
				if (j + 1 != m)
					return fail(p, e, "args[%d]: \"**\" "
					    "may only be the last pattern", i);
				a->rest = true;
				break;
			}
			a->patterns[a->n_patterns++] = xstrdup(v);
		}
	}
	return 0;
}

/* Any arguments: no args, or an alternative that is "**" alone. */
static bool
any_arguments(const struct command_rule *cmd)
{
	if (cmd->n_args == 0)
		return true;
	for (size_t i = 0; i < cmd->n_args; i++)
		if (cmd->args[i].n_patterns == 0 && cmd->args[i].rest)
			return true;
	return false;
}

/*
 * A Python command whose args would restrict what it runs, but let it
 * import from where the agent runs it: refused (the restriction is void).
 * One with any arguments approves any code anyway: a warning
 * (config_warnings).
 */
static int
check_python_args(struct parser *p, const config_setting_t *g,
    const struct command_rule *cmd)
{
	const char *why;

	if (cmd->risk == RISK_DENY || any_arguments(cmd) ||
	    !interp_is_python(cmd->path))
		return 0;
	for (size_t i = 0; i < cmd->n_args; i++)
		if ((why = interp_python_unsafe(&cmd->args[i])) != NULL)
			return fail(p, config_setting_get_elem(
			    config_setting_get_member(g, "args"), (int)i),
			    "args[%zu] of a Python command: %s, so Python "
			    "imports first from the directory it runs in, "
			    "where the agent can put modules of its own; "
			    "begin the alternative with \"-I\" (or \"-P\")",
			    i, why);
	return 0;
}

static const char *const risks[] = { "low", "high", "deny", NULL };

static int
parse_commands(struct parser *p, const config_setting_t *agent_group,
    struct agent *a)
{
	config_setting_t *list;
	int n, r;

	if ((r = member(p, agent_group, "commands", CONFIG_TYPE_LIST,
	    &list)) < 0 || list == NULL)
		return r;
	n = config_setting_length(list);
	if (n > CONFIG_LIST_MAX)
		return fail(p, list, "too many commands");
	a->commands = xcalloc((size_t)n, sizeof(*a->commands));
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(list, i);
		struct command_rule *cmd = &a->commands[a->n_commands];
		int risk = -1;

		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return fail(p, g, "commands[%d] must be a group { }", i);
		a->n_commands++;
		cmd->line = (int)config_setting_source_line(g);
		if ((r = check_keys(p, g, "a command", command_keys)) < 0 ||
		    (r = get_path(p, g, "path", true, &cmd->path)) < 0 ||
		    (r = get_choice(p, g, "risk", risks, &risk)) < 0)
			return r;
		if (!is_canonical_path(cmd->path, false))
			return fail(p, config_setting_get_member(g, "path"),
			    "path must be a plain absolute path (no '.', "
			    "'..', '//', trailing '/' or control characters)");
		if (risk < 0)
			return fail(p, g, "risk is required (low, high or deny)");
		cmd->risk = (enum risk)risk;
		if ((r = parse_args(p, g, cmd)) < 0)
			return r;
		if (cmd->n_args > 0 && risk == RISK_DENY)
			return fail(p, config_setting_get_member(g, "args"),
			    "args on a command whose risk is deny: it is "
			    "denied whatever its arguments");
		if ((r = check_python_args(p, g, cmd)) < 0)
			return r;
		for (size_t j = 0; j + 1 < a->n_commands; j++)
			if (strcmp(a->commands[j].path, cmd->path) == 0)
				return fail(p, g, "command %s is listed twice",
				    cmd->path);
	}
	return 0;
}

static const char *const network_keys[] = {
	"to", "listen", "ports", "proto", "tunnel", "server_name", "ca",
	"unix", "host", "private", NULL,
};
static const char *const protos[] = { "tcp", "udp", NULL };

/* What address and name rules share: ports, proto, tunnel, server_name,
 * ca (read, not yet checked against each other). */
static int
parse_rule_ports(struct parser *p, config_setting_t *g,
    struct network_rule *rule)
{
	char *ports = NULL;
	const char *why;
	int proto = PROTO_TCP, r;

	if ((r = get_string(p, g, "ports", true, &ports)) < 0)
		goto out;
	if ((why = parse_ports(ports, rule)) != NULL) {
		r = fail(p, config_setting_get_member(g, "ports"),
		    "ports \"%.64s\": %s", ports, why);
		goto out;
	}
	if ((r = get_choice(p, g, "proto", protos, &proto)) < 0 ||
	    (r = get_bool(p, g, "tunnel", &rule->tunnel)) < 0 ||
	    (r = get_string(p, g, "server_name", false,
	    &rule->server_name)) < 0 ||
	    (r = get_path(p, g, "ca", false, &rule->ca)) < 0)
		goto out;
	rule->proto = (enum proto)proto;
out:
	free(ports);
	return r;
}

/* ---- host rules (names in network rules) ---- */

bool
config_is_host_name(const char *s)
{
	return dns_name_ok(s, true);
}

/*
 * HOST as written: a DNS name, or "*." and a suffix.  Stored lower-cased
 * without the "*.".  A wildcard's suffix must not be a public suffix
 * (libpsl's built-in list, its implicit "*" rule included, so that a
 * single-label suffix is refused too): "*.co.uk" or "*.com" would admit
 * every registrable domain under it.  NULL, or what is wrong.
 */
static const char *
parse_host(const char *host, struct network_rule *rule)
{
	const char *name = host;
	char *lower;

	if (strcmp(host, "*") == 0 || strcmp(host, "*.") == 0)
		return "a bare '*' would admit every name";
	if (strncmp(host, "*.", 2) == 0) {
		rule->wildcard = true;
		name = host + 2;
	}
	if (strchr(name, '*') != NULL)
		return "'*' is allowed only as the whole first label (\"*.\")";
	lower = xstrdup(name);
	for (char *c = lower; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	rule->host = lower;
	if (!is_dns_name(lower))
		return "not a DNS name (labels of letters, digits and '-', "
		    "1-63 bytes each, at most 253 in all, no trailing '.')";
	if (rule->wildcard && psl_is_public_suffix2(psl_builtin(), lower,
	    PSL_TYPE_ANY) != 0)
		return "a wildcard directly under a public suffix would admit "
		    "every domain registered there";
	return NULL;
}

/* A network rule with host = "...": ports, proto, private, tunnel. */
static int
parse_host_rule(struct parser *p, config_setting_t *g,
    struct network_rule *rule)
{
	char *host = NULL;
	const char *why;
	int r;

	for (const char *const *k = (const char *const[]){ "to", "listen",
	    NULL }; *k != NULL; k++)
		if (config_setting_get_member(g, *k) != NULL)
			return fail(p, config_setting_get_member(g, *k),
			    "a host rule takes no '%s' (a name, not an "
			    "address block)", *k);
	if ((r = get_string(p, g, "host", true, &host)) < 0)
		goto out;
	if ((why = parse_host(host, rule)) != NULL) {
		r = fail(p, config_setting_get_member(g, "host"),
		    "host \"%.64s\": %s", host, why);
		goto out;
	}
	if ((r = parse_rule_ports(p, g, rule)) < 0 ||
	    (r = get_bool(p, g, "private", &rule->private_ok)) < 0)
		goto out;
	/* server_name defaults to the name answered (the rule's own name,
	 * or for a wildcard the name the address was answered for). */
	if (rule->tunnel) {
		if (rule->proto != PROTO_TCP)
			r = fail(p, g, "a tunnel needs proto = \"tcp\"");
		else if (rule->ca == NULL)
			r = fail(p, g, "a tunnel needs ca");
		else if (rule->server_name != NULL &&
		    !is_dns_name(rule->server_name))
			r = fail(p, config_setting_get_member(g, "server_name"),
			    "server_name must be a DNS name");
	} else if (rule->server_name != NULL || rule->ca != NULL)
		r = fail(p, g, "server_name and ca go with tunnel = true");
out:
	free(host);
	return r;
}

/* A CIDR destination block this wide makes a name rule beside it moot. */
static bool
broad_block(const struct network_rule *rule)
{
	return !rule->listen && ((rule->family == AF_INET && rule->prefix <= 8) ||
	    (rule->family == AF_INET6 && rule->prefix <= 32));
}

static bool
ports_overlap(const struct network_rule *a, const struct network_rule *b)
{
	for (size_t i = 0; i < a->n_ports; i++)
		for (size_t j = 0; j < b->n_ports; j++)
			if (a->ports[i].first <= b->ports[j].last &&
			    b->ports[j].first <= a->ports[i].last)
				return true;
	return false;
}

unsigned
config_warnings(const struct ztd_config *c,
    void (*warn)(const char *text, void *arg), void *arg)
{
	unsigned n = 0;

	for (size_t i = 0; i < c->n_agents; i++) {
		const struct agent *a = &c->agents[i];

		for (size_t k = 0; k < a->n_commands; k++) {
			const struct command_rule *cmd = &a->commands[k];
			char text[CONFIG_ERROR_MAX];

			if (cmd->risk == RISK_DENY || !any_arguments(cmd) ||
			    !interp_is_python(cmd->path))
				continue;
			snprintf(text, sizeof(text), "%s:%d: command %s of "
			    "agent %s runs Python with any arguments: it "
			    "approves any code the agent writes (-c, a script, "
			    "modules in the directory it runs in); list args "
			    "beginning with \"-I\" to approve one program",
			    c->path, cmd->line, cmd->path, a->name);
			warn(text, arg);
			n++;
		}
		for (size_t h = 0; h < a->n_network; h++) {
			const struct network_rule *host = &a->network[h];

			if (host->host == NULL)
				continue;
			for (size_t k = 0; k < a->n_network; k++) {
				const struct network_rule *cidr =
				    &a->network[k];
				char text[CONFIG_ERROR_MAX];

				if (cidr->family == 0 || !broad_block(cidr) ||
				    cidr->proto != host->proto ||
				    !ports_overlap(cidr, host))
					continue;
				snprintf(text, sizeof(text), "%s:%d: host rule "
				    "\"%s%s\" of agent %s is moot on the "
				    "ports it shares with the network rule at "
				    "line %d (a /%u block allows those "
				    "addresses whatever their name)", c->path,
				    host->line, host->wildcard ? "*." : "",
				    host->host, a->name, cidr->line,
				    cidr->prefix);
				warn(text, arg);
				n++;
			}
		}
	}
	return n;
}

/* ---- ztd.dns ---- */

static const char *const dns_keys[] = {
	"upstream", "min_ttl", "max_ttl", "max_entries", NULL,
};

/* "ADDR", "ADDR:PORT", "[ADDR6]:PORT" or "ADDR6": canonical "ADDR:PORT" /
 * "[ADDR6]:PORT" into OUT (64 bytes), or false. */
static bool
parse_upstream(const char *s, char *out, size_t size)
{
	char host[INET6_ADDRSTRLEN + 1], text[INET6_ADDRSTRLEN];
	const char *port = NULL;
	unsigned char bin[16];
	size_t len;
	unsigned long v = 53;
	int family;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return false;
		len = (size_t)(close - s - 1);
		if (len >= sizeof(host))
			return false;
		memcpy(host, s + 1, len);
		host[len] = '\0';
		port = close[1] == ':' ? close + 2 : NULL;
	} else if (strchr(s, ':') != NULL && strchr(s, ':') == strrchr(s, ':')) {
		len = (size_t)(strchr(s, ':') - s);
		if (len >= sizeof(host))
			return false;
		memcpy(host, s, len);
		host[len] = '\0';
		port = s + len + 1;
	} else {
		if (strlen(s) >= sizeof(host))
			return false;
		snprintf(host, sizeof(host), "%s", s);
	}
	if (port != NULL) {
		char *end;

		if (!isdigit((unsigned char)port[0]) || strlen(port) > 5)
			return false;
		v = strtoul(port, &end, 10);
		if (*end != '\0' || v < 1 || v > 65535)
			return false;
	}
	if (inet_pton(AF_INET, host, bin) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, host, bin) == 1)
		family = AF_INET6;
	else
		return false;
	inet_ntop(family, bin, text, sizeof(text));
	snprintf(out, size, family == AF_INET6 ? "[%s]:%lu" : "%s:%lu", text,
	    v);
	return true;
}

static int
parse_dns(struct parser *p, const config_setting_t *ztd_group)
{
	struct dns_config *d = &p->c->dns;
	config_setting_t *g, *list;
	int r;

	if ((r = member(p, ztd_group, "dns", CONFIG_TYPE_GROUP, &g)) < 0 ||
	    g == NULL)
		return r;
	if ((r = check_keys(p, g, "ztd.dns", dns_keys)) < 0 ||
	    (r = get_uint(p, g, "min_ttl", 0, 86400, &d->min_ttl)) < 0 ||
	    (r = get_uint(p, g, "max_ttl", 1, 86400, &d->max_ttl)) < 0 ||
	    (r = get_uint(p, g, "max_entries", 1, 1048576,
	    &d->max_entries)) < 0 ||
	    (r = get_sequence(p, g, "upstream", &list)) < 0)
		return r;
	if (d->min_ttl > d->max_ttl)
		return fail(p, g, "dns.min_ttl (%u) is above dns.max_ttl (%u)",
		    d->min_ttl, d->max_ttl);
	if (list == NULL)
		return 0;
	if (config_setting_length(list) > CONFIG_DNS_UPSTREAMS_MAX)
		return fail(p, list, "dns.upstream lists more than %d servers",
		    CONFIG_DNS_UPSTREAMS_MAX);
	for (int i = 0; i < config_setting_length(list); i++) {
		config_setting_t *e = config_setting_get_elem(list, i);
		char canon[64];

		if (config_setting_type(e) != CONFIG_TYPE_STRING ||
		    !parse_upstream(config_setting_get_string(e), canon,
		    sizeof(canon)))
			return fail(p, e, "dns.upstream[%d] must be \"ADDR\", "
			    "\"ADDR:PORT\" or \"[ADDR6]:PORT\"", i);
		d->upstream[d->n_upstream++] = xstrdup(canon);
	}
	return 0;
}

static int
parse_network_rule(struct parser *p, config_setting_t *g,
    struct network_rule *rule)
{
	char *to = NULL, *local = NULL;
	const char *why, *block_key;
	int r;

	rule->line = (int)config_setting_source_line(g);
	if ((r = check_keys(p, g, "a network rule", network_keys)) < 0 ||
	    (r = get_path(p, g, "unix", false, &rule->unix_path)) < 0)
		return r;
	if (rule->unix_path != NULL) {
		static const char *const others[] = {
			"to", "listen", "ports", "proto", "tunnel",
			"server_name", "ca", "host", "private", NULL,
		};

		for (const char *const *k = others; *k != NULL; k++)
			if (config_setting_get_member(g, *k) != NULL)
				return fail(p, config_setting_get_member(g, *k),
				    "a unix rule takes no '%s'", *k);
		if (strlen(rule->unix_path) >=
		    sizeof(((struct sockaddr_un *)0)->sun_path))
			return fail(p, g, "unix socket path is too long");
		if (!is_canonical_path(rule->unix_path, false))
			return fail(p, config_setting_get_member(g, "unix"),
			    "unix must be a plain absolute path (no '.', "
			    "'..', '//', trailing '/' or control characters)");
		/* zt-exec connects for the agent with the supervisor group,
		 * which ztd takes for a supervisor's: never its socket. */
		if (strcmp(rule->unix_path, p->c->socket) == 0 ||
		    strcmp(rule->unix_path, ZT_DEFAULT_SOCKET) == 0)
			return fail(p, config_setting_get_member(g, "unix"),
			    "unix names ztd's own socket, which no agent may "
			    "reach");
		return 0;
	}
	if (config_setting_get_member(g, "host") != NULL)
		return parse_host_rule(p, g, rule);
	if (config_setting_get_member(g, "private") != NULL)
		return fail(p, config_setting_get_member(g, "private"),
		    "private goes with host (a name rule)");
	if ((r = get_string(p, g, "to", false, &to)) < 0 ||
	    (r = get_string(p, g, "listen", false, &local)) < 0)
		goto out;
	if (to != NULL && local != NULL) {
		r = fail(p, g, "a network rule takes 'to' (outbound) or "
		    "'listen' (inbound), not both");
		goto out;
	}
	if (to == NULL && local == NULL) {
		r = fail(p, g, "a network rule needs 'to' (an address block), "
		    "'listen' (a local address block) or 'unix' (a socket "
		    "path)");
		goto out;
	}
	rule->listen = local != NULL;
	block_key = rule->listen ? "listen" : "to";
	if ((why = parse_cidr(rule->listen ? local : to, rule)) != NULL) {
		r = fail(p, config_setting_get_member(g, block_key),
		    "%s \"%.64s\": %s", block_key, rule->listen ? local : to,
		    why);
		goto out;
	}
	if ((r = parse_rule_ports(p, g, rule)) < 0)
		goto out;
	if (rule->tunnel && rule->listen)
		r = fail(p, config_setting_get_member(g, "tunnel"),
		    "a listen rule takes no tunnel (it filters inbound "
		    "sockets)");
	else if (rule->tunnel) {
		if (rule->proto != PROTO_TCP)
			r = fail(p, g, "a tunnel needs proto = \"tcp\"");
		else if (rule->server_name == NULL || rule->ca == NULL)
			r = fail(p, g, "a tunnel needs server_name and ca");
		else if (!is_dns_name(rule->server_name))
			r = fail(p, config_setting_get_member(g, "server_name"),
			    "server_name must be a DNS name");
	} else if (rule->server_name != NULL || rule->ca != NULL)
		r = fail(p, g, "server_name and ca go with tunnel = true");
out:
	free(to);
	free(local);
	return r;
}

static int
parse_network(struct parser *p, const config_setting_t *agent_group,
    struct agent *a)
{
	config_setting_t *list;
	int n, r;

	if ((r = member(p, agent_group, "network", CONFIG_TYPE_LIST,
	    &list)) < 0 || list == NULL)
		return r;
	n = config_setting_length(list);
	if (n > CONFIG_LIST_MAX)
		return fail(p, list, "too many network rules");
	a->network = xcalloc((size_t)n, sizeof(*a->network));
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(list, i);

		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return fail(p, g, "network[%d] must be a group { }", i);
		a->n_network++;
		if ((r = parse_network_rule(p, g, &a->network[i])) < 0)
			return r;
	}
	return 0;
}

static const char *const file_keys[] = { "path", "access", NULL };

static int
parse_files(struct parser *p, const config_setting_t *agent_group,
    struct agent *a)
{
	config_setting_t *list;
	int n, r;

	if ((r = member(p, agent_group, "files", CONFIG_TYPE_LIST, &list)) < 0 ||
	    list == NULL)
		return r;
	a->files_given = true;
	n = config_setting_length(list);
	if (n > CONFIG_LIST_MAX)
		return fail(p, list, "too many file rules");
	a->files = xcalloc((size_t)n, sizeof(*a->files));
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(list, i);
		struct file_rule *f = &a->files[a->n_files];
		char *access = NULL;
		const char *why;

		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return fail(p, g, "files[%d] must be a group { }", i);
		a->n_files++;
		f->line = (int)config_setting_source_line(g);
		if ((r = check_keys(p, g, "a file rule", file_keys)) < 0 ||
		    (r = get_path(p, g, "path", true, &f->path)) < 0 ||
		    (r = get_string(p, g, "access", true, &access)) < 0)
			return r;
		if (!is_canonical_path(f->path, true)) {
			free(access);
			return fail(p, config_setting_get_member(g, "path"),
			    "path must be a plain absolute path (no '.', "
			    "'..', '//', trailing '/' or control characters)");
		}
		why = parse_access(access, &f->access);
		free(access);
		if (why != NULL)
			return fail(p, config_setting_get_member(g, "access"),
			    "%s", why);
		for (size_t j = 0; j + 1 < a->n_files; j++)
			if (strcmp(a->files[j].path, f->path) == 0)
				return fail(p, g, "file %s is listed twice",
				    f->path);
	}
	return 0;
}

static const char *const syscall_keys[] = { "deny", "gate", NULL };

static bool
check_syscall(const char *s)
{
	return strlen(s) <= 64 && syscall_name_known(s);
}

static int
parse_syscalls(struct parser *p, const config_setting_t *agent_group,
    struct agent *a)
{
	config_setting_t *g;
	int r;

	if ((r = member(p, agent_group, "syscalls", CONFIG_TYPE_GROUP, &g)) < 0 ||
	    g == NULL)
		return r;
	if ((r = check_keys(p, g, "syscalls", syscall_keys)) < 0 ||
	    (r = get_strings(p, g, "deny", check_syscall,
	    "a syscall of this architecture", &a->syscalls_deny,
	    &a->n_syscalls_deny)) < 0 ||
	    (r = get_strings(p, g, "gate", check_syscall,
	    "a syscall of this architecture", &a->syscalls_gate,
	    &a->n_syscalls_gate)) < 0)
		return r;
	for (size_t i = 0; i < a->n_syscalls_deny; i++)
		for (size_t j = 0; j < a->n_syscalls_gate; j++)
			if (strcmp(a->syscalls_deny[i], a->syscalls_gate[j]) == 0)
				return fail(p, g,
				    "syscall %s is both denied and gated",
				    a->syscalls_deny[i]);
	return 0;
}

static bool
check_account(const char *s)
{
	return is_account_name(s);
}

static bool
check_service(const char *s)
{
	return is_name(s);
}

static bool
check_env_name(const char *s)
{
	return zt_env_pattern_valid(s);
}

static const char *const agent_keys[] = {
	"name", "accounts", "pam_services", "binary", "sha256", "publisher",
	"session_ttl", "decision_ttl", "on_violation", "landlock", "commands",
	"network", "files", "syscalls", "env", "enforce", "learn_until", NULL,
};
static const char *const violations[] = { "deny", "kill", NULL };
static const char *const landlock_needs[] = { "required", "optional", NULL };

/* enforce = false (learn mode) and its required learn_until. */
static int
parse_learning(struct parser *p, config_setting_t *g, struct agent *a)
{
	config_setting_t *until;
	bool enforce = true;
	int r;

	if ((r = get_bool(p, g, "enforce", &enforce)) < 0 ||
	    (r = member(p, g, "learn_until", CONFIG_TYPE_STRING, &until)) < 0)
		return r;
	if (enforce) {
		if (until != NULL)
			return fail(p, until, "learn_until is only for "
			    "enforce = false (learn mode)");
		return 0;
	}
	if (until == NULL)
		return fail(p, config_setting_get_member(g, "enforce"),
		    "enforce = false (learn mode) requires learn_until "
		    "(\"YYYY-MM-DDTHH:MM:SSZ\", UTC): the date it enforces "
		    "again");
	if (zt_time_parse_utc(config_setting_get_string(until), false,
	    &a->learn_until) < 0)
		return fail(p, until, "learn_until must be "
		    "\"YYYY-MM-DDTHH:MM:SSZ\" (RFC 3339, UTC)");
	a->learn = true;
	return 0;
}

static int
parse_agent(struct parser *p, config_setting_t *g, struct agent *a)
{
	const struct ztd_config *c = p->c;
	config_setting_t *digests;
	int violation = VIOLATION_DENY, landlock = LANDLOCK_REQUIRED, r;

	a->line = (int)config_setting_source_line(g);
	a->session_ttl = 3600;
	a->decision_ttl = 30;
	if ((r = check_keys(p, g, "an agent", agent_keys)) < 0 ||
	    (r = get_string(p, g, "name", true, &a->name)) < 0)
		return r;
	if (!is_name(a->name))
		return fail(p, config_setting_get_member(g, "name"),
		    "agent name \"%.64s\" must be 1-64 of A-Z a-z 0-9 _ . -",
		    a->name);
	for (const struct agent *o = c->agents; o < a; o++)
		if (strcmp(o->name, a->name) == 0)
			return fail(p, g, "agent \"%s\" is defined twice "
			    "(first at line %d)", a->name, o->line);
	if ((r = get_strings(p, g, "accounts", check_account,
	    "a user name", &a->accounts, &a->n_accounts)) < 0 ||
	    (r = get_strings(p, g, "pam_services", check_service,
	    "a PAM service name", &a->pam_services,
	    &a->n_pam_services)) < 0 ||
	    (r = get_path(p, g, "binary", true, &a->binary)) < 0 ||
	    (r = get_string(p, g, "publisher", false, &a->publisher)) < 0 ||
	    (r = get_uint(p, g, "session_ttl", 1, 604800,
	    &a->session_ttl)) < 0 ||
	    (r = get_uint(p, g, "decision_ttl", 0, 3600,
	    &a->decision_ttl)) < 0 ||
	    (r = get_choice(p, g, "on_violation", violations, &violation)) < 0 ||
	    (r = get_choice(p, g, "landlock", landlock_needs, &landlock)) < 0 ||
	    (r = get_strings(p, g, "env", check_env_name, "a variable name "
	    "([A-Za-z_][A-Za-z0-9_]*, up to 63, a final * for a prefix)",
	    &a->env, &a->n_env)) < 0)
		return r;
	if (a->n_env > ZT_ENV_NAMES_MAX)
		return fail(p, config_setting_get_member(g, "env"), "env lists "
		    "more than %d names", ZT_ENV_NAMES_MAX);
	a->on_violation = (enum violation)violation;
	a->landlock = (enum landlock_need)landlock;
	if (a->n_accounts == 0)
		return fail(p, g, "agent \"%s\" needs accounts (at least one)",
		    a->name);
	/* Agents are matched by uid, by any name of it: a name of uid 0
	 * would make every root session an agent's (and root a member of
	 * agent_group while ztd is down).  Never lock root out. */
	for (size_t j = 0; j < a->n_accounts; j++) {
		struct passwd pw, *found = NULL;
		char buf[4096];

		if (getpwnam_r(a->accounts[j], &pw, buf, sizeof(buf),
		    &found) == 0 && found != NULL && pw.pw_uid == 0)
			return fail(p, config_setting_get_member(g,
			    "accounts"), "account %s of agent \"%s\" has uid "
			    "0: root, by any name, is never an agent's account "
			    "(its sessions would all be the agent's, and "
			    "refused while ztd is down)", a->accounts[j],
			    a->name);
	}
	/* pam_zt's group= rule lets through, when ztd cannot answer, only
	 * accounts outside agent_group: every agent's account must be in it
	 * (by the local files, as pam_zt reads them).  A group that is not
	 * there at all lets nobody through (pam_zt's doubt refuses), so
	 * there is nothing to check then; status says so. */
	for (size_t j = 0; agent_group_present(p) && j < a->n_accounts;
	    j++) {
		int m = zt_group_member(ZT_PASSWD_FILE, ZT_GROUP_FILE,
		    a->accounts[j], c->agent_group);

		if (m != 1)
			return fail(p, config_setting_get_member(g,
			    "accounts"), "account %s of agent \"%s\" is %s "
			    "group %s (agent_group) by /etc/passwd and "
			    "/etc/group: pam_zt would let it through while "
			    "ztd is down (usermod -a -G %s %s, or agent_group "
			    "= \"\" without pam_zt's group=)", a->accounts[j],
			    a->name, m == 0 ? "not in" : m == -ENOENT ?
			    "missing from /etc/passwd, or there is no" :
			    "unreadable in", c->agent_group, c->agent_group,
			    a->accounts[j]);
	}
	for (const struct agent *o = c->agents; o < a; o++)
		for (size_t i = 0; i < o->n_accounts; i++)
			for (size_t j = 0; j < a->n_accounts; j++)
				if (strcmp(o->accounts[i], a->accounts[j]) == 0)
					return fail(p,
					    config_setting_get_member(g,
					    "accounts"), "account %s already "
					    "belongs to agent \"%s\"",
					    a->accounts[j], o->name);
	if (a->decision_ttl > a->session_ttl) {
		/* The default shrinks to a short session; a value given is
		 * the administrator's mistake. */
		if (config_setting_get_member(g, "decision_ttl") == NULL)
			a->decision_ttl = a->session_ttl;
		else
			return fail(p, config_setting_get_member(g,
			    "decision_ttl"), "decision_ttl (%u) must not "
			    "exceed session_ttl (%u)", a->decision_ttl,
			    a->session_ttl);
	}

	if ((r = get_sequence(p, g, "sha256", &digests)) < 0)
		return r;
	if (digests != NULL) {
		int n = config_setting_length(digests);

		a->sha256 = xcalloc((size_t)n, sizeof(*a->sha256));
		for (int i = 0; i < n; i++) {
			config_setting_t *e = config_setting_get_elem(digests, i);

			if (config_setting_type(e) != CONFIG_TYPE_STRING ||
			    !parse_sha256(config_setting_get_string(e),
			    a->sha256[i]))
				return fail(p, e, "sha256[%d] must be 64 hex "
				    "digits", i);
			a->n_sha256++;
		}
	}
	if (a->publisher != NULL) {
		size_t i;

		for (i = 0; i < c->n_publishers; i++)
			if (strcmp(c->publishers[i].name, a->publisher) == 0)
				break;
		if (i == c->n_publishers)
			return fail(p, config_setting_get_member(g, "publisher"),
			    "publisher \"%.64s\" is not defined in publishers",
			    a->publisher);
	}
	if (a->n_sha256 == 0 && a->publisher == NULL)
		return fail(p, g, "agent \"%s\" needs sha256 or publisher: "
		    "an agent is recognised by its binary", a->name);
	if ((r = parse_learning(p, g, a)) < 0 ||
	    (r = parse_commands(p, g, a)) < 0 ||
	    (r = parse_network(p, g, a)) < 0 ||
	    (r = parse_files(p, g, a)) < 0 ||
	    (r = parse_syscalls(p, g, a)) < 0)
		return r;
	if (!policy_profile_fits(a, &p->c->dns))
		return fail(p, g, "agent \"%s\"'s profile does not fit zt-exec's "
		    "launch message (%d bytes; at most %d files, commands, "
		    "syscalls.deny or syscalls.gate each): fewer or shorter "
		    "entries", a->name, ZT_MSG_MAX, ZT_PROFILE_LIST_MAX);
	return 0;
}

static int
parse_agents(struct parser *p, const config_setting_t *root)
{
	struct ztd_config *c = p->c;
	config_setting_t *list;
	int n, r;

	if ((r = member(p, root, "agents", CONFIG_TYPE_LIST, &list)) < 0 ||
	    list == NULL)
		return r;
	n = config_setting_length(list);
	if (n > CONFIG_LIST_MAX)
		return fail(p, list, "too many agents");
	c->agents = xcalloc((size_t)n, sizeof(*c->agents));
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(list, i);

		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return fail(p, g, "agents[%d] must be a group { }", i);
		c->n_agents++;
		if ((r = parse_agent(p, g, &c->agents[i])) < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------ fleet */

static const char *const fleet_keys[] = {
	"etcd", "prefix", "host", "ca", "cert", "key", "user",
	"password_file", "admin_key", "heartbeat", "max_offline", NULL,
};

/* Is HOST (as written in a URL, IPv6 without brackets) loopback? */
static bool
is_loopback_host(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

/*
 * An etcd endpoint: "https://HOST:PORT" or "http://HOST:PORT", HOST a DNS
 * name, an IPv4 address or [IPv6], nothing after the port.  *HTTPS and
 * *LOOPBACK say which.  NULL when good, else what is wrong.
 */
static const char *
parse_endpoint(const char *url, bool *https, bool *loopback)
{
	char host[FLEET_URL_MAX];
	const char *h, *colon;
	size_t len;
	char *end;
	long port;

	if (strlen(url) >= FLEET_URL_MAX)
		return "is too long";
	if (strncmp(url, "https://", 8) == 0) {
		*https = true;
		h = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		*https = false;
		h = url + 7;
	} else
		return "must start with https:// (or http:// to loopback)";
	if (h[0] == '[') {
		const char *close = strchr(h, ']');

		if (close == NULL || close[1] != ':')
			return "must be https://[IPV6]:PORT";
		len = (size_t)(close - h - 1);
		memcpy(host, h + 1, len);
		host[len] = '\0';
		colon = close + 1;
		if (inet_pton(AF_INET6, host, &(struct in6_addr){ 0 }) != 1)
			return "names no IPv6 address in [ ]";
	} else {
		colon = strchr(h, ':');
		if (colon == NULL)
			return "needs a port (https://HOST:PORT)";
		len = (size_t)(colon - h);
		memcpy(host, h, len);
		host[len] = '\0';
		if (!is_dns_name(host) && inet_pton(AF_INET, host,
		    &(struct in_addr){ 0 }) != 1)
			return "names no host (a DNS name or an address)";
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!isdigit((unsigned char)colon[1]) || errno != 0 || port < 1 ||
	    port > 65535 || (*end != '\0' && strcmp(end, "/") != 0))
		return "needs a port from 1 to 65535 and nothing after it";
	*loopback = is_loopback_host(host);
	return NULL;
}

/* A key prefix: '/' then [A-Za-z0-9_.-/], no "//", no "..", no final '/'. */
static bool
is_fleet_prefix(const char *s)
{
	size_t len = strlen(s);

	if (len < 2 || len > FLEET_PREFIX_MAX || s[0] != '/' ||
	    s[len - 1] == '/' || strstr(s, "//") != NULL ||
	    strstr(s, "..") != NULL)
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("_.-/", *s) == NULL)
			return false;
	return true;
}

static int
parse_fleet(struct parser *p, const config_setting_t *root)
{
	struct fleet_config *f = &p->c->fleet;
	config_setting_t *g;
	bool any_https = false;
	int r;

	if ((r = member(p, root, "fleet", CONFIG_TYPE_GROUP, &g)) < 0 ||
	    g == NULL)
		return r;
	f->enabled = true;
	if ((r = check_keys(p, g, "fleet", fleet_keys)) < 0 ||
	    (r = get_strings(p, g, "etcd", NULL, NULL, &f->endpoints,
	    &f->n_endpoints)) < 0 ||
	    (r = get_string(p, g, "prefix", false, &f->prefix)) < 0 ||
	    (r = get_string(p, g, "host", false, &f->host)) < 0 ||
	    (r = get_path(p, g, "ca", false, &f->ca)) < 0 ||
	    (r = get_path(p, g, "cert", false, &f->cert)) < 0 ||
	    (r = get_path(p, g, "key", false, &f->key)) < 0 ||
	    (r = get_string(p, g, "user", false, &f->user)) < 0 ||
	    (r = get_path(p, g, "password_file", false,
	    &f->password_file)) < 0 ||
	    (r = get_path(p, g, "admin_key", true, &f->admin_key)) < 0 ||
	    (r = get_uint(p, g, "heartbeat", 1, 3600, &f->heartbeat)) < 0 ||
	    (r = get_uint(p, g, "max_offline", 1, 30 * 86400,
	    &f->max_offline)) < 0)
		return r;
	if (f->n_endpoints == 0)
		return fail(p, g, "fleet.etcd must list at least one endpoint");
	if (f->n_endpoints > FLEET_ENDPOINTS_MAX)
		return fail(p, config_setting_get_member(g, "etcd"),
		    "fleet.etcd lists more than %d endpoints",
		    FLEET_ENDPOINTS_MAX);
	for (size_t i = 0; i < f->n_endpoints; i++) {
		bool https, loopback;
		const char *why = parse_endpoint(f->endpoints[i], &https,
		    &loopback);

		if (why == NULL && !https && !loopback)
			why = "is plain http to a host that is not loopback: "
			    "use https:// with ca";
		if (why != NULL)
			return fail(p, config_setting_get_member(g, "etcd"),
			    "fleet.etcd[%zu] \"%.80s\" %s", i,
			    f->endpoints[i], why);
		any_https |= https;
	}
	if (any_https && f->ca == NULL)
		return fail(p, g, "fleet.ca is required for https:// "
		    "endpoints (the CA that signed etcd's certificates)");
	if ((f->cert == NULL) != (f->key == NULL))
		return fail(p, g, "fleet.cert and fleet.key go together");
	if ((f->user == NULL) != (f->password_file == NULL))
		return fail(p, g, "fleet.user and fleet.password_file go "
		    "together");
	if (f->user != NULL && !is_name(f->user))
		return fail(p, config_setting_get_member(g, "user"),
		    "fleet.user must be 1-64 of A-Z a-z 0-9 _ . -");
	if (!is_fleet_prefix(f->prefix))
		return fail(p, config_setting_get_member(g, "prefix"),
		    "fleet.prefix must start with '/' and hold only A-Z a-z "
		    "0-9 _ . - / (no \"//\", \"..\" or final '/')");
	if (!is_name(f->host))
		return fail(p, config_setting_get_member(g, "host"),
		    "fleet.host \"%.64s\" must be 1-64 of A-Z a-z 0-9 _ . - "
		    "(set it: the host name is not one)", f->host);
	return 0;
}

const char *
config_host_name(const struct ztd_config *c)
{
	return c != NULL && c->fleet.enabled ? c->fleet.host : NULL;
}

bool
config_is_name(const char *s)
{
	return is_name(s);
}

bool
config_key_is_inline(const char *key)
{
	return strncmp(key, "-----BEGIN PUBLIC KEY-----", 26) == 0;
}

static const char *const root_keys[] = {
	"ztd", "attestation", "fleet", "publishers", "agents", NULL,
};
static const char *const policy_keys[] = { "publishers", "agents", NULL };

static void
set_defaults(struct ztd_config *c)
{
	static const unsigned default_pcrs[] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 14,
	};
	char host[256];

	c->socket = xstrdup(ZT_DEFAULT_SOCKET);
	c->state_dir = xstrdup("/var/lib/zt");
	c->max_clients = 1024;
	c->max_clients_per_uid = 8;
	c->max_supervisors_per_uid = 256;
	c->supervisor_group = xstrdup("zt-exec");
	c->agent_group = xstrdup("zt-agents");
	c->idle_timeout = 30;
	c->cert_lifetime = CA_LIFETIME_MAX;
	if (gethostname(host, sizeof(host)) < 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	for (char *h = host; *h != '\0'; h++)
		*h = (char)tolower((unsigned char)*h);
	c->trust_domain = xstrdup(is_dns_name(host) ? host : "localhost");
	c->audit_require = true;
	c->audit_relay = true;
	c->audit_deny_rate_milli = 20000;
	c->audit_deny_burst = 100;
	c->cache_max_entries = 65536;
	c->dns.min_ttl = 5;
	c->dns.max_ttl = 300;
	c->dns.max_entries = 4096;
	c->attest_mode = ATTEST_AUTO;
	c->tcti = xstrdup("device:/dev/tpmrm0");
	memcpy(c->pcrs, default_pcrs, sizeof(default_pcrs));
	c->n_pcrs = sizeof(default_pcrs) / sizeof(default_pcrs[0]);
	c->golden = xstrdup("/var/lib/zt/golden.pcrs");
	c->quote_interval = 30;
	c->session_max_age = 60;
	c->high_risk_max_age = 5;
	c->fleet.prefix = xstrdup("/ztgate");
	c->fleet.host = xstrdup(host[0] != '\0' ? host : "-");
	c->fleet.heartbeat = 5;
	c->fleet.max_offline = 300;
}

/* libconfig 1.5 has no hook to vet included files, so @include is refused. */
static int
refuse_include(struct parser *p, const char *text)
{
	unsigned line = 1;

	for (const char *s = text; *s != '\0'; line++) {
		const char *t = s + strspn(s, " \t");

		if (strncmp(t, "@include", 8) == 0) {
			snprintf(p->error, CONFIG_ERROR_MAX, "%s:%u: @include "
			    "is not allowed: keep the whole policy in one "
			    "root-owned file", p->path, line);
			return ZT_E_CONFIG;
		}
		s = strchr(s, '\n');
		if (s == NULL)
			break;
		s++;
	}
	return 0;
}

/* TEXT parsed into *CFG, errors said in ERROR as PATH:LINE. */
static int
read_text(const char *path, const char *text, config_t *cfg, char *error)
{
	struct parser p = { .path = path, .error = error };
	int r;

	if (strlen(text) > CONFIG_FILE_MAX) {
		snprintf(error, CONFIG_ERROR_MAX, "%s: larger than %d bytes",
		    path, CONFIG_FILE_MAX);
		return ZT_E_CONFIG;
	}
	if ((r = refuse_include(&p, text)) < 0)
		return r;
	config_init(cfg);
	if (config_read_string(cfg, text) != CONFIG_TRUE) {
		snprintf(error, CONFIG_ERROR_MAX, "%s:%d: %s", path,
		    config_error_line(cfg), config_error_text(cfg));
		config_destroy(cfg);
		return ZT_E_CONFIG;
	}
	return 0;
}

int
config_parse_with_policy(const char *path, const char *text,
    const char *policy_name, const char *policy_text,
    struct ztd_config **out, char *error)
{
	struct parser p = { .path = path, .error = error };
	config_t cfg, policy_cfg;
	config_setting_t *root, *policy_root;
	int r;

	*out = NULL;
	error[0] = '\0';
	if ((r = read_text(path, text, &cfg, error)) < 0)
		return r;
	if (policy_text != NULL && (r = read_text(policy_name, policy_text,
	    &policy_cfg, error)) < 0) {
		config_destroy(&cfg);
		return r;
	}
	p.c = xcalloc(1, sizeof(*p.c));
	p.c->path = xstrdup(path);
	set_defaults(p.c);
	root = config_root_setting(&cfg);
	if ((r = check_keys(&p, root, "the file", root_keys)) < 0 ||
	    (r = parse_ztd(&p, root)) < 0 ||
	    (r = resolve_supervisor_group(&p, root)) < 0 ||
	    (r = parse_attestation(&p, root)) < 0 ||
	    (r = parse_fleet(&p, root)) < 0)
		goto out;
	if (policy_text != NULL) {
		/* The fleet's publishers and agents replace the file's. */
		p.path = policy_name;
		p.policy = true;
		p.c->fleet_policy = true;
		policy_root = config_root_setting(&policy_cfg);
		if ((r = check_keys(&p, policy_root, "a fleet policy (only "
		    "publishers and agents)", policy_keys)) < 0)
			goto out;
		root = policy_root;
	}
	if ((r = parse_publishers(&p, root)) < 0 ||
	    (r = parse_agents(&p, root)) < 0)
		goto out;
out:
	config_destroy(&cfg);
	if (policy_text != NULL)
		config_destroy(&policy_cfg);
	if (r < 0) {
		config_free(p.c);
		return r;
	}
	*out = p.c;
	return 0;
}

int
config_parse(const char *path, const char *text, struct ztd_config **out,
    char *error)
{
	return config_parse_with_policy(path, text, NULL, NULL, out, error);
}

int
config_load(const char *path, struct ztd_config **out, char *error)
{
	return config_load_with_policy(path, NULL, NULL, out, error);
}

int
config_load_with_policy(const char *path, const char *policy_name,
    const char *policy_text, struct ztd_config **out, char *error)
{
	struct stat st;
	char *text;
	ssize_t n;
	size_t used = 0;
	int fd, r;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		snprintf(error, CONFIG_ERROR_MAX, "%s: cannot open: %s", path,
		    strerror(errno));
		return r;
	}
	/* Checked on the open descriptor: what is read is what was vetted. */
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(error, CONFIG_ERROR_MAX, "%s: cannot stat: %s", path,
		    strerror(errno));
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode))
		r = snprintf(error, CONFIG_ERROR_MAX,
		    "%s: not a regular file", path);
	else if (st.st_uid != 0 && st.st_uid != geteuid())
		r = snprintf(error, CONFIG_ERROR_MAX,
		    "%s: owned by uid %u, must be owned by root", path,
		    (unsigned)st.st_uid);
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		r = snprintf(error, CONFIG_ERROR_MAX,
		    "%s: writable by group or others (mode %04o): "
		    "chmod go-w it", path, (unsigned)(st.st_mode & 07777));
	else if (st.st_size > CONFIG_FILE_MAX)
		r = snprintf(error, CONFIG_ERROR_MAX,
		    "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
	else
		r = 0;
	if (r != 0) {
		close(fd);
		return ZT_E_UNSAFE;
	}
	text = xcalloc(1, (size_t)st.st_size + 2);
	while (used <= (size_t)st.st_size) {
		n = read(fd, text + used, (size_t)st.st_size + 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	if (used > (size_t)st.st_size || memchr(text, '\0', used) != NULL) {
		snprintf(error, CONFIG_ERROR_MAX, "%s: %s", path,
		    used > (size_t)st.st_size ? "changed while being read" :
		    "contains a NUL byte");
		free(text);
		return ZT_E_CONFIG;
	}
	r = config_parse_with_policy(path, text, policy_name, policy_text,
	    out, error);
	free(text);
	return r;
}

static void
free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
free_agent(struct agent *a)
{
	free(a->name);
	free_strings(a->accounts, a->n_accounts);
	free_strings(a->pam_services, a->n_pam_services);
	free_strings(a->env, a->n_env);
	free(a->binary);
	free(a->sha256);
	free(a->publisher);
	for (size_t i = 0; i < a->n_commands; i++) {
		free(a->commands[i].path);
		for (size_t j = 0; j < a->commands[i].n_args; j++)
			free_strings(a->commands[i].args[j].patterns,
			    a->commands[i].args[j].n_patterns);
		free(a->commands[i].args);
	}
	free(a->commands);
	for (size_t i = 0; i < a->n_network; i++) {
		free(a->network[i].server_name);
		free(a->network[i].ca);
		free(a->network[i].unix_path);
		free(a->network[i].host);
	}
	free(a->network);
	for (size_t i = 0; i < a->n_files; i++)
		free(a->files[i].path);
	free(a->files);
	free_strings(a->syscalls_deny, a->n_syscalls_deny);
	free_strings(a->syscalls_gate, a->n_syscalls_gate);
}

void
config_free(struct ztd_config *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->socket);
	free(c->state_dir);
	free(c->trust_domain);
	free(c->supervisor_group);
	free(c->agent_group);
	free(c->audit_file);
	free(c->tcti);
	free(c->golden);
	for (size_t i = 0; i < c->dns.n_upstream; i++)
		free(c->dns.upstream[i]);
	free_strings(c->measured_files, c->n_measured_files);
	free_strings(c->fleet.endpoints, c->fleet.n_endpoints);
	free(c->fleet.prefix);
	free(c->fleet.host);
	free(c->fleet.ca);
	free(c->fleet.cert);
	free(c->fleet.key);
	free(c->fleet.user);
	free(c->fleet.password_file);
	free(c->fleet.admin_key);
	for (size_t i = 0; i < c->n_publishers; i++) {
		free(c->publishers[i].name);
		free(c->publishers[i].key);
	}
	free(c->publishers);
	/* Agents may be partly filled when parsing stopped at an error. */
	for (size_t i = 0; i < c->n_agents; i++)
		free_agent(&c->agents[i]);
	free(c->agents);
	free(c);
}

const struct agent *
config_find_agent(const struct ztd_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_agents; i++)
		if (strcmp(c->agents[i].name, name) == 0)
			return &c->agents[i];
	return NULL;
}

const char *
config_attest_mode_name(enum attest_mode mode)
{
	return attest_modes[mode];
}

/* SPDX-License-Identifier: Apache-2.0 */
/* ztctl: the administrator's command line to ztd. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "digest.h"
#include "grant.h"
#include "policy.h"
#include "suggest.h"
#include "ztctl_fleet.h"
#include "zt_client.h"
#include "zt_err.h"
#include "zt_exe.h"
#include "zt_kernel.h"
#include "zt_log.h"
#include "zt_msg.h"
#include "zt_utf8.h"

/* Exit codes: 0 done, 1 refused (a "no" from ztd), 2 error. */
#define EXIT_NO 1
#define EXIT_ERROR 2

#define CALL_TIMEOUT_MS 10000

static const char *arg_socket = ZT_DEFAULT_SOCKET;
static bool arg_json;

static void
usage(FILE *to)
{
	fprintf(to,
	    "usage: ztctl [--socket PATH] [--json] COMMAND\n"
	    "\n"
	    "commands:\n"
	    "  status                 version, uptime, policy, cache, grants, attestation\n"
	    "  reload                 reload the configuration\n"
	    "  check --agent NAME --action session|exec|connect|listen|open|syscall\n"
	    "        --object OBJ [--account USER] [--grant ID] [--arg ARG]...\n"
	    "                         dry-run decision (exit 0 allow, 1 deny);\n"
	    "                         --arg once per argument of an exec\n"
	    "  grants                 live grants\n"
	    "  revoke GRANT | --agent NAME | --account USER  [--kill]\n"
	    "  disable AGENT [--why TEXT]\n"
	    "                         end the agent's grants, kill its processes and\n"
	    "                         deny it everything until enabled (kept across\n"
	    "                         restarts)\n"
	    "  enable AGENT           lift a local disable\n"
	    "  profile suggest AGENT --audit FILE [--since SECONDS] "
	    "[--unverified]\n"
	    "                         print the commands, network and syscalls rules\n"
	    "                         that would have allowed what the audit shows\n"
	    "  enroll-agent BINARY    print a config stanza with the binary's sha256\n"
	    "  enroll-host            record the current PCRs (software mode: the\n"
	    "                         measured files' digests) as the golden values\n"
	    "  attest [--export]      measure now; print verdict, PCRs and age (exit 0/1);\n"
	    "                         --export: the new quote to state_dir/quote/\n"
	    "  audit verify FILE... [--head PATH]\n"
	    "                         check the hash chain across the audit files,\n"
	    "                         oldest first (exit 0 intact, 1 not, 2 unreadable)\n"
	    "  audit reopen           make ztd start a new audit file (logrotate)\n"
	    "  ca show                print the tunnel CA certificate (PEM)\n"
	    "  ca crl                 print the CRL of tunnel certificates whose\n"
	    "                         grant ended before they expired (PEM)\n"
	    "  fleet push POLICY --key KEY [--config FILE]\n"
	    "  fleet disable AGENT [--why TEXT] --key KEY [--config FILE]\n"
	    "  fleet enable AGENT --key KEY [--config FILE]\n"
	    "                         sign with the fleet administrator's KEY and\n"
	    "                         write to etcd (FILE's fleet section)\n"
	    "  fleet status [--config FILE]\n"
	    "                         every host's own report, from etcd\n"
	    "\n"
	    "exit status: 0 done (allow), 1 refused or denied, 2 error\n");
}

/* Longest text of a failure (ztd's error text fits: ZT_MSG_MAX). */
#define FAILURE_MAX 8192

static int fail(int code, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Say what went wrong: "ztctl: TEXT" on stderr and, with --json, the
 * object {"error": TEXT} on stdout.  Returns CODE, the exit status.
 */
static int
fail(int code, const char *format, ...)
{
	char text[FAILURE_MAX];
	char *escaped;
	json_t *error;
	va_list ap;

	va_start(ap, format);
	vsnprintf(text, sizeof(text), format, ap);
	va_end(ap);
	fprintf(stderr, "ztctl: %s\n", text);
	if (!arg_json)
		return code;
	escaped = zt_utf8_escape(text, strlen(text));
	error = escaped != NULL ? json_pack("{s:s}", "error", escaped) : NULL;
	free(escaped);
	if (error == NULL || json_dumpf(error, stdout, JSON_COMPACT) < 0)
		fputs("{\"error\":\"out of memory\"}", stdout);
	json_decref(error);
	putchar('\n');
	fflush(stdout);
	return code;
}

/*
 * TEXT, untrusted bytes, as a JSON string: valid UTF-8 whatever TEXT
 * holds, a byte that is not part of UTF-8 as \xNN and a backslash as \\
 * (zt_utf8_escape).  A new reference, or NULL when out of memory.
 */
static json_t *
json_text(const char *text)
{
	char *escaped = zt_utf8_escape(text, strlen(text));
	json_t *value;

	if (escaped == NULL)
		return NULL;
	value = json_string(escaped);
	free(escaped);
	return value;
}

/* json_text, or null for NULL. */
static json_t *
json_text_or_null(const char *text)
{
	return text != NULL ? json_text(text) : json_null();
}

/* A count as a JSON number (jansson's integers are signed 64-bit). */
static json_t *
json_count(uint64_t n)
{
	return json_integer(n > INT64_MAX ? INT64_MAX : (json_int_t)n);
}

/*
 * Print VALUE, a new reference this takes (NULL: building it failed), as
 * one line of compact JSON.  Returns 0, or EXIT_ERROR once said.
 */
static int
emit(json_t *value)
{
	int r;

	if (value == NULL)
		return fail(EXIT_ERROR, "out of memory building the output");
	r = json_dumpf(value, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(value);
	if (r < 0 || putchar('\n') == EOF || fflush(stdout) == EOF) {
		fprintf(stderr, "ztctl: cannot write the output: %s\n",
		    strerror(errno));
		return EXIT_ERROR;
	}
	return 0;
}

/* What getopt_long's '?' or ':' (OPT) about ARGV means, into OUT. */
static void
describe_bad_option(int opt, char **argv, char *out, size_t size)
{
	const char *given = argv[optind - 1];
	char letter[3] = { '-', (char)optopt, '\0' };

	/* A long option is named as given; a short one, perhaps inside a
	 * group ("-jx"), by its letter. */
	if (strncmp(given, "--", 2) != 0 && optopt != 0)
		given = letter;
	snprintf(out, size, "%s %s", opt == ':' ? "missing the argument of" :
	    "unknown option", given);
}

/* A bad option of COMMAND: said, exit status 2. */
static int
bad_option(const char *command, int opt, char **argv)
{
	char what[256];

	describe_bad_option(opt, argv, what, sizeof(what));
	return fail(EXIT_ERROR, "%s: %s", command, what);
}

static uint32_t
next_request_id(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(ts.tv_nsec ^ getpid()) | 1;
}

/* REQUEST, one reply of EXPECTED type; prints ztd's error itself. */
static int
call_with(struct zt_msg *request, enum zt_msg_type expected,
    struct zt_msg *reply)
{
	unsigned type = request->type;
	const char *text;
	int fd, r;

	fd = zt_client_connect_within(arg_socket, CALL_TIMEOUT_MS);
	if (fd < 0)
		return fail(EXIT_ERROR, "cannot reach ztd at %s: %s",
		    arg_socket, zt_strerror(fd));
	r = zt_client_call(fd, request, reply, CALL_TIMEOUT_MS);
	close(fd);
	if (r < 0)
		return fail(EXIT_ERROR, "%s: %s", zt_msg_type_name(type),
		    zt_strerror(r));
	r = zt_client_reply_error(reply, expected, &text);
	/* ztd's text is often its code's own words: say them once. */
	if (r < 0 && strcmp(text, zt_strerror(r)) == 0)
		text = "";
	if (r == ZT_E_PERM && text[0] == '\0')
		/* Every request ztctl sends is root's but "ca show". */
		return fail(EXIT_ERROR, "ztd refused %s: %s (root only)",
		    zt_msg_type_name(type), zt_strerror(r));
	if (r < 0)
		return fail(r == ZT_E_CONFIG || r == ZT_E_UNSAFE ? EXIT_NO :
		    EXIT_ERROR, "%s: %s%s%s", zt_msg_type_name(type),
		    zt_strerror(r), text[0] != '\0' ? ": " : "", text);
	return 0;
}

/* A request without fields. */
static int
call(enum zt_msg_type type, enum zt_msg_type expected, struct zt_msg *reply)
{
	struct zt_msg request;

	zt_msg_init(&request, type, next_request_id());
	return call_with(&request, expected, reply);
}

/*
 * STATUS_REPLY's AGENT_STATES ("disabled NAME WHY" and "learning NAME
 * UNTIL" lines), those of kind K (0 disabled, 1 learning): printed as lines
 * of text, or, with ARRAY, appended to it as {"agent": NAME, "why" or
 * "until": REST} objects.  0, or -1 when out of memory.
 */
static int
agent_states(const char *states, size_t k, json_t *array)
{
	static const char *const kinds[] = { "disabled", "learning" };
	const char *line = states;
	size_t kind = strlen(kinds[k]);

	while (*line != '\0') {
		const char *eol = strchr(line, '\n');
		size_t len = eol != NULL ? (size_t)(eol - line) : strlen(line);
		char item[1024], *name, *rest;

		snprintf(item, sizeof(item), "%.*s", (int)len, line);
		line += len + (eol != NULL);
		if (strncmp(item, kinds[k], kind) != 0 || item[kind] != ' ')
			continue;
		name = item + kind + 1;
		rest = strchr(name, ' ');
		if (rest != NULL)
			*rest++ = '\0';
		if (array == NULL)
			printf(k == 0 ? "disabled:     %s (%s)\n" :
			    "learning:     %s, enforcing from %s\n",
			    name, rest != NULL ? rest : "");
		else if (json_array_append_new(array, json_pack("{s:o,s:o}",
		    "agent", json_text(name), k == 0 ? "why" : "until",
		    json_text(rest != NULL ? rest : ""))) < 0)
			return -1;
	}
	return 0;
}

/* agent_states of kind K as a JSON array; NULL when out of memory. */
static json_t *
agent_states_json(const char *states, size_t k)
{
	json_t *array = json_array();

	if (array != NULL && agent_states(states, k, array) < 0) {
		json_decref(array);
		array = NULL;
	}
	return array;
}

/* Who relies on kernel feature bit BIT. */
static const char *
kernel_feature_use(unsigned bit)
{
	return bit & ZT_KERNEL_ZTD_NEEDS & ZT_KERNEL_ZTEXEC_NEEDS ?
	    "needed by ztd and zt-exec" :
	    bit & ZT_KERNEL_ZTD_NEEDS ? "needed by ztd" :
	    bit & ZT_KERNEL_ZTEXEC_NEEDS ? "needed by zt-exec" :
	    "used by zt-exec when present";
}

/* The kernel features ztd and zt-exec rely on, as this host has them (the
 * same kernel ztd runs on): printed, or as a JSON object. */
static json_t *
kernel_features(bool json)
{
	struct zt_kernel k;
	json_t *features = json ? json_object() : NULL;

	zt_kernel_probe(&k, ZT_KERNEL_ALL);
	if (!json)
		printf("kernel:       %s, Landlock ABI %d\n", k.release,
		    k.landlock_abi);
	for (int f = 0; f < ZT_KF_COUNT; f++) {
		const char *use = kernel_feature_use(ZT_KF_BIT(f));
		char name[64];

		if (json) {
			json_object_set_new(features,
			    zt_kernel_feature_name(f), json_pack("{s:b,s:s,s:s}",
			    "present", k.present[f],
			    "linux", zt_kernel_feature_version(f),
			    "use", use));
			continue;
		}
		snprintf(name, sizeof(name), "%s (Linux %s)",
		    zt_kernel_feature_name(f), zt_kernel_feature_version(f));
		printf("  %-46s %-8s %s\n", name,
		    k.present[f] ? "present" : "MISSING", use);
	}
	return json ? json_pack("{s:o,s:I,s:o}", "release",
	    json_text(k.release), "landlock_abi", (json_int_t)k.landlock_abi,
	    "features", features) : NULL;
}

/*
 * ztd's fleet state (ZT_F_FLEET's text, zt_msg.h): printed as the status'
 * fleet line, or as a JSON object when JSON; NULL when printed, or when
 * TEXT is malformed (said as such in the text output).
 */
static json_t *
fleet_state(const char *text, bool json)
{
	int sync = 0, denying = 0, host_end = 0, n;
	long long last_sync = 0;
	unsigned long long serial = 0;
	size_t disabled = 0;
	unsigned max_offline = 0;
	char when[64] = "";
	const char *host, *endpoint;
	char host_buf[128];
	struct tm tm;
	time_t t;

	n = sscanf(text, "%d %lld %llu %zu %d %u %n", &sync, &last_sync,
	    &serial, &disabled, &denying, &max_offline, &host_end);
	if (n != 6 || host_end == 0 || (sync != 0 && sync != 1) ||
	    (denying != 0 && denying != 1)) {
		if (json)
			return json_pack("{s:o}", "malformed", json_text(text));
		printf("fleet:        (malformed state from ztd: %s)\n", text);
		return NULL;
	}
	host = text + host_end;
	endpoint = strchr(host, ' ');
	snprintf(host_buf, sizeof(host_buf), "%.*s", endpoint != NULL ?
	    (int)(endpoint - host) : (int)strlen(host), host);
	endpoint = endpoint != NULL && endpoint[1] != '\0' ? endpoint + 1 :
	    NULL;
	t = (time_t)last_sync;
	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (json)
		return json_pack("{s:o,s:b,s:o,s:o,s:I,s:o,s:I,s:b,s:I}",
		    "host", json_text(host_buf),
		    "in_sync", sync,
		    "endpoint", json_text_or_null(endpoint),
		    "offline_since", sync ? json_null() : json_text(when),
		    "last_sync", (json_int_t)last_sync,
		    "policy_serial", serial ? json_count(serial) : json_null(),
		    "disabled", (json_int_t)disabled,
		    "offline_denying", denying,
		    "max_offline", (json_int_t)max_offline);
	if (sync)
		printf("fleet:        host %s, in sync with %s", host_buf,
		    endpoint != NULL ? endpoint : "etcd");
	else
		printf("fleet:        host %s, OFFLINE since %s%s", host_buf,
		    when, denying ? " (past max_offline: denying sessions "
		    "and high-risk actions)" : "");
	if (serial)
		printf(", policy serial %llu", serial);
	else
		printf(", no fleet policy (the file's agents)");
	printf(", %zu disabled\n", disabled);
	return NULL;
}

static int
command_status(void)
{
	const char *agent_group = NULL;
	struct zt_msg reply;
	uint64_t uptime = 0, generation = 0;
	uint32_t agents = 0, clients = 0, max_clients = 0, pid = 0;
	const char *version = "", *config = "", *mode = "", *reload_error = NULL;
	const char *attest_state = "", *fleet = NULL;
	uint64_t cache_entries = 0, cache_hits = 0, cache_misses = 0;
	uint64_t audit_seq = 0, attest_age = 0;
	uint32_t grants = 0, dns_addresses = 0;
	const char *states = "";
	bool has_age;
	int r;

	if ((r = call(ZT_MSG_STATUS, ZT_MSG_STATUS_REPLY, &reply)) != 0)
		return r;
	zt_msg_get_str(&reply, ZT_F_AGENT_STATES, &states);
	zt_msg_get_str(&reply, ZT_F_VERSION, &version);
	zt_msg_get_u64(&reply, ZT_F_UPTIME, &uptime);
	zt_msg_get_u64(&reply, ZT_F_GENERATION, &generation);
	zt_msg_get_u32(&reply, ZT_F_AGENTS, &agents);
	zt_msg_get_u32(&reply, ZT_F_CLIENTS, &clients);
	zt_msg_get_u32(&reply, ZT_F_MAX_CLIENTS, &max_clients);
	zt_msg_get_str(&reply, ZT_F_CONFIG, &config);
	zt_msg_get_u32(&reply, ZT_F_PID, &pid);
	zt_msg_get_str(&reply, ZT_F_ATTEST_MODE, &mode);
	if (zt_msg_get_str(&reply, ZT_F_RELOAD_ERROR, &reload_error) < 0)
		reload_error = NULL;
	zt_msg_get_u64(&reply, ZT_F_CACHE_ENTRIES, &cache_entries);
	zt_msg_get_u64(&reply, ZT_F_CACHE_HITS, &cache_hits);
	zt_msg_get_u64(&reply, ZT_F_CACHE_MISSES, &cache_misses);
	zt_msg_get_u32(&reply, ZT_F_GRANTS, &grants);
	zt_msg_get_str(&reply, ZT_F_ATTEST_STATE, &attest_state);
	zt_msg_get_u64(&reply, ZT_F_AUDIT_SEQ, &audit_seq);
	has_age = zt_msg_get_u64(&reply, ZT_F_ATTEST_AGE, &attest_age) == 0;
	if (zt_msg_get_str(&reply, ZT_F_TEXT, &agent_group) < 0)
		agent_group = NULL;
	zt_msg_get_u32(&reply, ZT_F_COUNT, &dns_addresses);
	if (zt_msg_get_str(&reply, ZT_F_FLEET, &fleet) < 0)
		fleet = NULL;

	if (arg_json)
		return emit(json_pack("{s:o,s:I,s:o,s:o,s:o,s:I,s:I,s:I,"
		    "s:{s:o,s:b,s:o,s:o},s:{s:o,s:o,s:o},s:I,s:I,s:o,s:o,s:o,"
		    "s:o,s:o,s:o,s:o}",
		    "version", json_text(version),
		    "pid", (json_int_t)pid,
		    "uptime", json_count(uptime),
		    "generation", json_count(generation),
		    "config", json_text(config),
		    "agents", (json_int_t)agents,
		    "clients", (json_int_t)clients,
		    "max_clients", (json_int_t)max_clients,
		    "attestation",
		    "mode", json_text(mode),
		    "trusted", strncmp(attest_state, "trusted", 7) == 0 &&
		    (attest_state[7] == '\0' || attest_state[7] == ' '),
		    "state", json_text(attest_state),
		    "age", has_age ? json_count(attest_age) : json_null(),
		    "cache",
		    "entries", json_count(cache_entries),
		    "hits", json_count(cache_hits),
		    "misses", json_count(cache_misses),
		    "grants", (json_int_t)grants,
		    "dns_addresses", (json_int_t)dns_addresses,
		    "audit_seq", json_count(audit_seq),
		    "reload_error", json_text_or_null(reload_error),
		    "agent_group", json_text_or_null(agent_group),
		    "disabled", agent_states_json(states, 0),
		    "learning", agent_states_json(states, 1),
		    "fleet", fleet != NULL ? fleet_state(fleet, true) :
		    json_null(),
		    "kernel", kernel_features(true)));
	printf("ztd %s (pid %" PRIu32 "), up %" PRIu64 " s\n", version, pid,
	    uptime);
	printf("policy:       generation %" PRIu64 ", %" PRIu32 " agents, "
	    "from %s\n", generation, agents, config);
	if (reload_error != NULL)
		printf("last reload:  FAILED, old policy kept: %s\n",
		    reload_error);
	printf("clients:      %" PRIu32 " of %" PRIu32 "\n", clients,
	    max_clients);
	if (has_age)
		printf("attestation:  %s, %s, last good %" PRIu64 " s ago\n",
		    mode, attest_state, attest_age);
	else
		printf("attestation:  %s, %s\n", mode, attest_state);
	printf("cache:        %" PRIu64 " entries, %" PRIu64 " hits, %" PRIu64
	    " misses\n", cache_entries, cache_hits, cache_misses);
	printf("grants:       %" PRIu32 " live\n", grants);
	printf("names:        %" PRIu32 " addresses answered for host rules, "
	    "remembered\n", dns_addresses);
	printf("audit:        last record %" PRIu64 "\n", audit_seq);
	if (agent_group != NULL)
		printf("agent_group:  %s\n", agent_group);
	agent_states(states, 0, NULL);
	agent_states(states, 1, NULL);
	if (fleet != NULL)
		fleet_state(fleet, false);
	kernel_features(false);
	return 0;
}

static int
command_enroll_host(void)
{
	struct zt_msg reply;
	const char *reason = "";
	uint32_t decision = 0;
	int r;

	if ((r = call(ZT_MSG_ENROLL_HOST, ZT_MSG_DECISION, &reply)) != 0)
		return r;
	zt_msg_get_u32(&reply, ZT_F_DECISION, &decision);
	zt_msg_get_str(&reply, ZT_F_REASON, &reason);
	if (arg_json && (r = emit(json_pack("{s:b,s:b,s:o}", "enrolled", 1,
	    "trusted", decision == ZT_DECISION_ALLOW,
	    "reason", json_text(reason)))) != 0)
		return r;
	if (!arg_json)
		printf("enrolled: %s\n", reason);
	return decision == ZT_DECISION_ALLOW ? 0 : EXIT_NO;
}

/*
 * ztd's PCR list, "INDEX:HEX INDEX:HEX ..." (empty in software mode), as
 * a JSON array of {"index": N, "sha256": "HEX"}; NULL when it is
 * malformed (or out of memory).
 */
static json_t *
pcr_list(const char *text)
{
	json_t *list = json_array();

	while (list != NULL && *text != '\0') {
		size_t digits = strspn(text, "0123456789"), hex;
		unsigned long index;
		char value[65];

		if (digits == 0 || digits > 2 || text[digits] != ':')
			break;
		index = strtoul(text, NULL, 10);
		text += digits + 1;
		hex = strspn(text, "0123456789abcdef");
		if (index > 23 || hex != 64 || (text[hex] != ' ' &&
		    text[hex] != '\0'))
			break;
		memcpy(value, text, hex);
		value[hex] = '\0';
		text += hex + (text[hex] == ' ');
		if (json_array_append_new(list, json_pack("{s:I,s:s}",
		    "index", (json_int_t)index, "sha256", value)) < 0) {
			json_decref(list);
			return NULL;
		}
	}
	if (list != NULL && *text != '\0') {
		json_decref(list);
		return NULL;
	}
	return list;
}

static int
command_attest(int argc, char **argv)
{
	struct zt_msg request, reply;
	const char *reason = "", *pcrs = "", *mode = "", *export = NULL;
	bool want_export = argc == 2 && strcmp(argv[1], "--export") == 0;
	uint32_t decision = 0;
	uint64_t age = 0;
	bool has_age;
	int r;

	if (argc > 2 || (argc == 2 && !want_export))
		return fail(EXIT_ERROR, "usage: ztctl attest [--export]");
	zt_msg_init(&request, ZT_MSG_ATTEST, next_request_id());
	if (want_export && (r = zt_msg_put_u32(&request, ZT_F_FLAGS,
	    ZT_ATTEST_EXPORT)) < 0)
		return EXIT_ERROR;
	if ((r = call_with(&request, ZT_MSG_DECISION, &reply)) != 0)
		return r;
	if (want_export && zt_msg_get_str(&reply, ZT_F_OBJECT, &export) < 0)
		export = "ztd did not say";
	zt_msg_get_u32(&reply, ZT_F_DECISION, &decision);
	zt_msg_get_str(&reply, ZT_F_REASON, &reason);
	zt_msg_get_str(&reply, ZT_F_LIST, &pcrs);
	zt_msg_get_str(&reply, ZT_F_ATTEST_MODE, &mode);
	has_age = zt_msg_get_u64(&reply, ZT_F_ATTEST_AGE, &age) == 0;
	if (arg_json) {
		json_t *list = pcr_list(pcrs), *out;

		if (list == NULL)
			return fail(EXIT_ERROR, "attest: ztd sent a malformed "
			    "PCR list");
		out = json_pack("{s:b,s:o,s:o,s:o,s:o}",
		    "trusted", decision == ZT_DECISION_ALLOW,
		    "mode", json_text(mode),
		    "reason", json_text(reason),
		    "age", has_age ? json_count(age) : json_null(),
		    "pcrs", list);
		if (out != NULL && export != NULL &&
		    (json_object_set_new(out, "exported",
		    json_boolean(export[0] == '\0')) < 0 ||
		    (export[0] != '\0' && json_object_set_new(out,
		    "export_error", json_text(export)) < 0))) {
			json_decref(out);
			out = NULL;
		}
		if ((r = emit(out)) != 0)
			return r;
	} else {
		printf("%s: %s\n", decision == ZT_DECISION_ALLOW ? "trusted" :
		    "UNTRUSTED", reason);
		if (has_age)
			printf("last good measurement: %" PRIu64 " s ago\n", age);
		if (pcrs[0] != '\0') {
			char *copy = strdup(pcrs), *item, *save = NULL;

			for (item = copy ? strtok_r(copy, " ", &save) : NULL;
			    item != NULL; item = strtok_r(NULL, " ", &save))
				printf("  pcr %s\n", item);
			free(copy);
		}
		if (export != NULL && export[0] == '\0')
			printf("quote exported to state_dir/quote/ (msg, sig, "
			    "pcrs, nonce)\n");
		else if (export != NULL)
			printf("quote not exported: %s\n", export);
	}
	/* An export asked for and not made is no success. */
	if (export != NULL && export[0] != '\0')
		return EXIT_NO;
	return decision == ZT_DECISION_ALLOW ? 0 : EXIT_NO;
}

static int
command_reload(void)
{
	struct zt_msg reply;
	uint64_t generation = 0;
	int r;

	if ((r = call(ZT_MSG_RELOAD, ZT_MSG_RELOAD_REPLY, &reply)) != 0)
		return r;
	zt_msg_get_u64(&reply, ZT_F_GENERATION, &generation);
	if (arg_json)
		return emit(json_pack("{s:b,s:o}", "reloaded", 1,
		    "generation", json_count(generation)));
	else
		printf("reloaded: policy generation %" PRIu64 "\n", generation);
	return 0;
}

static int
command_check(int argc, char **argv)
{
	static const struct option options[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "action", required_argument, NULL, 'A' },
		{ "object", required_argument, NULL, 'o' },
		{ "account", required_argument, NULL, 'u' },
		{ "grant", required_argument, NULL, 'g' },
		{ "arg", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *agent = NULL, *object = NULL, *account = NULL, *grant = NULL;
	char args[ZT_MSG_MAX];
	size_t args_len = 0;
	bool args_given = false;
	const char *reason = "";
	enum action action = ACTION_NONE;
	struct zt_msg request, reply;
	uint32_t decision = 0, risk = 0;
	bool allow;
	int opt, r;

	optind = 0;	/* 0: glibc starts over, permuting again */
	while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (opt) {
		case 'a': agent = optarg; break;
		case 'A':
			action = policy_action_from_name(optarg);
			if (action == ACTION_NONE)
				return fail(EXIT_ERROR, "check: unknown action "
				    "'%s'", optarg);
			break;
		case 'o': object = optarg; break;
		case 'u': account = optarg; break;
		case 'g': grant = optarg; break;
		case 'r':
			/* --arg, once per argument: argv[1], argv[2], ... */
			if (strlen(optarg) + 1 > sizeof(args) - args_len)
				return fail(EXIT_ERROR, "check: the arguments "
				    "are longer than a message holds");
			memcpy(args + args_len, optarg, strlen(optarg) + 1);
			args_len += strlen(optarg) + 1;
			args_given = true;
			break;
		default: return bad_option("check", opt, argv);
		}
	}
	if (agent == NULL || action == ACTION_NONE || object == NULL ||
	    optind != argc)
		return fail(EXIT_ERROR, "check needs --agent, --action and "
		    "--object");
	zt_msg_init(&request, ZT_MSG_CHECK, next_request_id());
	if ((r = zt_msg_put_str(&request, ZT_F_AGENT, agent)) < 0 ||
	    (r = zt_msg_put_u32(&request, ZT_F_ACTION, action)) < 0 ||
	    (r = zt_msg_put_str(&request, ZT_F_OBJECT, object)) < 0 ||
	    (account != NULL &&
	    (r = zt_msg_put_str(&request, ZT_F_ACCOUNT, account)) < 0) ||
	    (grant != NULL &&
	    (r = zt_msg_put_str(&request, ZT_F_GRANT, grant)) < 0) ||
	    (args_given &&
	    (r = zt_msg_put_bytes(&request, ZT_F_ARGV, args, args_len)) < 0))
		return fail(EXIT_ERROR, "check: %s", zt_strerror(r));
	if ((r = call_with(&request, ZT_MSG_DECISION, &reply)) != 0)
		return r;
	zt_msg_get_u32(&reply, ZT_F_DECISION, &decision);
	zt_msg_get_u32(&reply, ZT_F_RISK, &risk);
	zt_msg_get_str(&reply, ZT_F_REASON, &reason);
	allow = decision == ZT_DECISION_ALLOW;
	if (arg_json) {
		if ((r = emit(json_pack("{s:s,s:o,s:s?,s:o,s:s,s:o,s:o,s:o}",
		    "decision", allow ? "allow" : "deny",
		    "reason", json_text(reason),
		    "risk", !allow ? NULL : risk ? "high" : "low",
		    "agent", json_text(agent),
		    "action", policy_action_name(action),
		    "object", json_text(object),
		    "account", json_text_or_null(account),
		    "grant", json_text_or_null(grant)))) != 0)
			return r;
	} else if (allow)
		printf("allow (%s risk): %s\n", risk ? "high" : "low", reason);
	else
		printf("deny: %s\n", reason);
	return allow ? 0 : EXIT_NO;
}

/* disable AGENT [--why TEXT] | enable AGENT */
static int
command_disable(int argc, char **argv, bool disable)
{
	static const struct option options[] = {
		{ "why", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *why = NULL, *agent;
	struct zt_msg request, reply;
	uint32_t count = 0;
	int opt, r;

	optind = 0;	/* 0: glibc starts over, permuting again */
	while ((opt = getopt_long(argc, argv, ":", disable ? options :
	    options + 1, NULL)) != -1) {
		if (opt != 'w')
			return bad_option(argv[0], opt, argv);
		why = optarg;
	}
	if (optind + 1 != argc)
		return fail(EXIT_ERROR, "usage: %s", disable ?
		    "disable AGENT [--why TEXT]" : "enable AGENT");
	agent = argv[optind];
	zt_msg_init(&request, disable ? ZT_MSG_DISABLE : ZT_MSG_ENABLE,
	    next_request_id());
	if ((r = zt_msg_put_str(&request, ZT_F_AGENT, agent)) < 0 ||
	    (why != NULL &&
	    (r = zt_msg_put_str(&request, ZT_F_TEXT, why)) < 0))
		return fail(EXIT_ERROR, "%s: %s", argv[0], zt_strerror(r));
	if ((r = call_with(&request, ZT_MSG_REVOKE_REPLY, &reply)) != 0)
		return r;
	zt_msg_get_u32(&reply, ZT_F_COUNT, &count);
	if (arg_json && disable)
		return emit(json_pack("{s:o,s:b,s:I}", "agent",
		    json_text(agent), "disabled", true, "grants_ended",
		    (json_int_t)count));
	if (arg_json)
		return emit(json_pack("{s:o,s:b,s:b}", "agent",
		    json_text(agent), "disabled", false, "was_disabled",
		    count != 0));
	if (disable)
		printf("agent %s disabled: %" PRIu32 " grants ended, their "
		    "processes killed\n", agent, count);
	else
		printf(count ? "agent %s enabled\n" : "agent %s was not "
		    "disabled here\n", agent);
	return 0;
}

/* Does LINE (N bytes) hold an event= record (event=reopen), no decision? */
static bool
is_event_line(const char *line, size_t n)
{
	return memmem(line, n, " event=", 7) != NULL &&
	    memmem(line, n, " decision=", 10) == NULL;
}

/*
 * profile suggest AGENT --audit FILE [--since SECONDS] [--unverified]:
 * the rules that would have allowed what AGENT did, from ztd's audit
 * file.  The file's hash chain is verified first (audit_verify_piece: the
 * file or a part of it, each record following from the one before): any
 * local user can write a line that looks like
 * ztd's into syslog (logger -t ztd), and a suggestion is pasted into a
 * policy, so a file whose chain does not verify -- a syslog copy, an
 * edited file -- is refused (exit 1) unless --unverified says to read it
 * anyway, and then the suggestion says it is unverified.  Every line is
 * still untrusted text, parsed by zt_audit_parse_line.  With --json,
 * {agent, verified, lines, used, skipped, untimed, rules, suggestion}.
 */
static int
command_profile(int argc, char **argv)
{
	static const struct option options[] = {
		{ "audit", required_argument, NULL, 'a' },
		{ "since", required_argument, NULL, 's' },
		{ "unverified", no_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *agent;
	char report[1024], fd_path[64];
	bool unverified = false, verified;
	struct stat st;
	unsigned long since = 0;
	size_t used = 0, skipped = 0, untimed = 0, records = 0, rules;
	struct zt_audit_record *record;
	struct suggest *s;
	char *line = NULL, *end, *text = NULL;
	size_t cap = 0, text_size = 0;
	ssize_t n;
	int64_t now = (int64_t)time(NULL);
	FILE *f, *out;
	int opt, r;

	optind = 0;	/* 0: glibc starts over, permuting again */
	while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (opt) {
		case 'a': file = optarg; break;
		case 's':
			errno = 0;
			since = strtoul(optarg, &end, 10);
			if (*end != '\0' || end == optarg || optarg[0] == '-' ||
			    errno != 0 || since == 0 ||
			    since > 100UL * 365 * 86400)
				return fail(EXIT_ERROR, "profile suggest: "
				    "--since takes a number of seconds");
			break;
		case 'u': unverified = true; break;
		default: return bad_option("profile suggest", opt, argv);
		}
	}
	if (optind + 2 != argc || strcmp(argv[optind], "suggest") != 0)
		return fail(EXIT_ERROR, "usage: profile suggest AGENT --audit "
		    "FILE [--since SECONDS] [--unverified]");
	agent = argv[optind + 1];
	if (file == NULL)
		return fail(EXIT_ERROR, "profile suggest: give --audit FILE, "
		    "ztd's audit file (ztd.audit.file): ztd keeps no audit in "
		    "memory to read");
	if ((f = fopen(file, "re")) == NULL)
		return fail(EXIT_ERROR, "profile suggest: %s: %s", file,
		    strerror(errno));
	/*
	 * The chain first: what it cannot vouch for is not suggested.  The
	 * very file read (through its descriptor), and only one whose
	 * contents no one but root (or this caller) can change between the
	 * check and the reading: a chain proves nothing of a file another
	 * user may rewrite, or write from scratch.
	 */
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fileno(f));
	if (fstat(fileno(f), &st) < 0) {
		r = errno;
		fclose(f);
		return fail(EXIT_ERROR, "profile suggest: %s: %s", file,
		    strerror(r));
	}
	if ((st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(report, sizeof(report), "uid %u owns it, mode %04o: "
		    "others than root may write it", (unsigned)st.st_uid,
		    (unsigned)(st.st_mode & 07777));
		r = ZT_E_PROTOCOL;
	} else
		r = audit_verify_piece(fd_path, report, sizeof(report));
	/* The report names the descriptor's path: the file's instead. */
	if (strncmp(report, fd_path, strlen(fd_path)) == 0 &&
	    strncmp(report + strlen(fd_path), ": ", 2) == 0)
		memmove(report, report + strlen(fd_path) + 2,
		    strlen(report + strlen(fd_path) + 2) + 1);
	if (r < 0 && r != ZT_E_PROTOCOL) {
		fclose(f);
		return fail(EXIT_ERROR, "profile suggest: %s: cannot read: "
		    "%s", file, report);
	}
	verified = r == 0;
	if (!verified && !unverified) {
		fclose(f);
		return fail(EXIT_NO, "profile suggest: %s is not an intact "
		    "audit chain (%s): its lines could be anyone's (any user "
		    "can send a line like ztd's to syslog); give ztd's audit "
		    "file (ztd.audit.file), or --unverified to read it anyway",
		    file, report);
	}
	if (!verified)
		fprintf(stderr, "ztctl: profile suggest: %s is not an intact "
		    "audit chain (%s): read anyway (--unverified)\n", file,
		    report);
	record = malloc(sizeof(*record));
	s = suggest_new(agent);
	if (record == NULL || s == NULL) {
		fclose(f);
		free(record);
		suggest_free(s);
		return fail(EXIT_ERROR, "out of memory");
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		bool bad = false;

		/* ztd ends every record with a newline: a last line without
		 * one is being written (the live file), as verified. */
		if (line[n - 1] != '\n')
			break;
		n--;
		records++;
		if (zt_audit_parse_line(line, (size_t)n, record) < 0) {
			/* A file's event=reopen record is no decision. */
			skipped += !is_event_line(line, (size_t)n);
			continue;
		}
		/* Every record ztd writes has time= (RFC 3339 UTC). */
		if (since > 0 && (!record->has_time ||
		    record->time < now - (int64_t)since)) {
			untimed += !record->has_time;
			continue;
		}
		if (suggest_add(s, record, &bad))
			used++;
		skipped += bad;
	}
	r = ferror(f) ? errno : 0;
	free(line);
	free(record);
	fclose(f);
	if (r != 0) {
		suggest_free(s);
		return fail(EXIT_ERROR, "profile suggest: %s: %s", file,
		    strerror(r));
	}
	out = arg_json ? open_memstream(&text, &text_size) : stdout;
	if (out == NULL) {
		suggest_free(s);
		return fail(EXIT_ERROR, "out of memory");
	}
	fprintf(out, "# ztctl profile suggest %s: from %zu of the %zu lines "
	    "of the audit file\n# (its allows and the denies learn mode let "
	    "through); review, then paste into\n# the agent's profile\n",
	    agent, used, records);
	if (!verified)
		fprintf(out, "# UNVERIFIED: the file's hash chain does not "
		    "verify (--unverified);\n# any local user could have "
		    "written these lines\n");
	rules = suggest_print(s, out);
	suggest_free(s);
	if (skipped > 0)
		fprintf(stderr, "ztctl: profile suggest: %zu lines skipped "
		    "(not audit records, or objects no rule could name)\n",
		    skipped);
	if (untimed > 0)
		fprintf(stderr, "ztctl: profile suggest: %zu records carry no "
		    "time= and were left out by --since\n", untimed);
	if (used == 0)
		fprintf(stderr, "ztctl: profile suggest: no record of agent "
		    "%s was used: the lists are empty\n", agent);
	if (arg_json) {
		if (fclose(out) != 0) {
			free(text);
			return fail(EXIT_ERROR, "out of memory");
		}
		r = emit(json_pack("{s:o,s:b,s:I,s:I,s:I,s:I,s:I,s:o}",
		    "agent", json_text(agent),
		    "verified", verified,
		    "lines", (json_int_t)records,
		    "used", (json_int_t)used,
		    "skipped", (json_int_t)skipped,
		    "untimed", (json_int_t)untimed,
		    "rules", (json_int_t)rules,
		    "suggestion", json_text(text)));
		free(text);
		if (r != 0)
			return r;
	}
	return rules > 0 ? 0 : EXIT_NO;
}

/*
 * ca show: the tunnel CA's certificate, for the services to trust.
 * ca crl: its CRL (root), for the services to refresh every minute.
 */
static int
command_ca(int argc, char **argv)
{
	struct zt_msg reply;
	const char *pem = "";
	bool crl;
	int r;

	if (argc != 2 || (strcmp(argv[1], "show") != 0 &&
	    strcmp(argv[1], "crl") != 0))
		return fail(EXIT_ERROR, "usage: ca show | ca crl");
	crl = strcmp(argv[1], "crl") == 0;
	if ((r = call(crl ? ZT_MSG_CA_CRL : ZT_MSG_CA_SHOW, ZT_MSG_CA_REPLY,
	    &reply)) != 0)
		return r;
	zt_msg_get_str(&reply, ZT_F_TEXT, &pem);
	if (arg_json)
		return emit(json_pack("{s:o}", crl ? "crl" : "ca",
		    json_text(pem)));
	fputs(pem, stdout);
	return 0;
}

static int
command_grants(void)
{
	struct zt_msg request, reply;
	uint32_t offset = 0, total = 0;
	json_t *all = NULL;
	int r;

	/* With --json, the list is built whole and printed at the end, so
	 * that a failure on a later page prints the error object only. */
	if (arg_json && (all = json_array()) == NULL)
		return emit(NULL);
	if (!arg_json)
		printf("%-32s %-16s %-16s %6s %8s %8s %-10s %-32s %s\n",
		    "GRANT", "AGENT", "ACCOUNT", "UID", "PID", "EXPIRES",
		    "SERVICE", "CERT SERIAL", "CERT EXPIRES (UTC)");
	for (;;) {
		struct zt_record list, info;
		uint32_t count = 0, next;
		size_t cursor = 0;

		zt_msg_init(&request, ZT_MSG_GRANTS, next_request_id());
		zt_msg_put_u32(&request, ZT_F_OFFSET, offset);
		if ((r = call_with(&request, ZT_MSG_GRANTS_REPLY,
		    &reply)) != 0) {
			json_decref(all);
			return r;
		}
		zt_msg_get_u32(&reply, ZT_F_COUNT, &count);
		/* GRANT_LIST is required: the decoder checked it is there. */
		zt_msg_get_record(&reply, ZT_F_GRANT_LIST, &list);
		while (zt_record_next(&list, ZT_F_GRANT_INFO, &cursor,
		    &info) == 0) {
			const char *id = "", *agent = "", *account = "";
			const char *service = "", *serial = "-";
			char until[32] = "-";
			uint32_t uid = 0, pid = 0;
			uint64_t left_ms = 0, not_after = 0;
			long long left;
			bool cert;

			/* Every field but the certificate's is required by
			 * the GRANT_INFO schema. */
			zt_record_get_str(&info, ZT_F_GRANT, &id);
			zt_record_get_str(&info, ZT_F_AGENT, &agent);
			zt_record_get_str(&info, ZT_F_ACCOUNT, &account);
			zt_record_get_u32(&info, ZT_F_UID, &uid);
			zt_record_get_u32(&info, ZT_F_PID, &pid);
			zt_record_get_u64(&info, ZT_F_EXPIRES_MS, &left_ms);
			zt_record_get_str(&info, ZT_F_SERVICE, &service);
			cert = zt_record_get_str(&info, ZT_F_SERIAL,
			    &serial) == 0;
			zt_record_get_u64(&info, ZT_F_NOT_AFTER, &not_after);
			left = (long long)(left_ms / 1000);
			if (not_after > 0 && not_after < (uint64_t)INT64_MAX) {
				time_t t = (time_t)not_after;
				struct tm tm;

				gmtime_r(&t, &tm);
				strftime(until, sizeof(until),
				    "%Y-%m-%dT%H:%M:%SZ", &tm);
			}
			total++;
			if (arg_json && json_array_append_new(all,
			    json_pack("{s:o,s:o,s:o,s:I,s:I,s:I,s:o,s:o,s:o}",
			    "grant", json_text(id),
			    "agent", json_text(agent),
			    "account", json_text(account),
			    "uid", (json_int_t)uid,
			    "pid", (json_int_t)pid,
			    "expires_in", (json_int_t)left,
			    "service", json_text(service),
			    "cert_serial", cert ? json_text(serial) :
			    json_null(),
			    "cert_not_after", cert ? json_count(not_after) :
			    json_null())) < 0) {
				json_decref(all);
				return emit(NULL);
			}
			if (!arg_json)
				printf("%-32s %-16s %-16s %6u %8u %7llds %-10s "
				    "%-32s %s\n", id, agent, account, uid, pid,
				    left, service, serial, until);
		}
		if (zt_msg_get_u32(&reply, ZT_F_OFFSET, &next) < 0 ||
		    count == 0 || next <= offset)
			break;
		offset = next;
	}
	if (arg_json)
		return emit(json_pack("{s:o}", "grants", all));
	if (total == 0)
		printf("(no live grants)\n");
	return 0;
}

/* A grant id as ztd makes them: GRANT_ID_LEN lowercase hex digits. */
static bool
is_grant_id(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (!isxdigit((unsigned char)s[n]) ||
		    isupper((unsigned char)s[n]))
			return false;
	return n == GRANT_ID_LEN;
}

static int
command_revoke(int argc, char **argv)
{
	static const struct option options[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "account", required_argument, NULL, 'u' },
		{ "kill", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *agent = NULL, *account = NULL, *grant = NULL;
	struct zt_msg request, reply;
	uint32_t flags = 0, count = 0;
	int opt, r = 0, given;

	optind = 0;	/* 0: glibc starts over, permuting again */
	while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (opt) {
		case 'a': agent = optarg; break;
		case 'u': account = optarg; break;
		case 'k': flags |= ZT_REVOKE_KILL; break;
		default: return bad_option("revoke", opt, argv);
		}
	}
	if (optind < argc)
		grant = argv[optind++];
	given = (agent != NULL) + (account != NULL) + (grant != NULL);
	if (given != 1 || optind != argc)
		return fail(EXIT_ERROR, "revoke takes one of GRANT, --agent "
		    "NAME, --account USER");
	if (grant != NULL && !is_grant_id(grant))
		return fail(EXIT_ERROR, "revoke: '%s' is no grant id (%d hex "
		    "digits)", grant, GRANT_ID_LEN);
	zt_msg_init(&request, ZT_MSG_REVOKE, next_request_id());
	if (grant != NULL)
		r = zt_msg_put_str(&request, ZT_F_GRANT, grant);
	else if (agent != NULL)
		r = zt_msg_put_str(&request, ZT_F_AGENT, agent);
	else
		r = zt_msg_put_str(&request, ZT_F_ACCOUNT, account);
	if (r == 0)
		r = zt_msg_put_u32(&request, ZT_F_FLAGS, flags);
	if (r < 0)
		return fail(EXIT_ERROR, "revoke: %s", zt_strerror(r));
	if ((r = call_with(&request, ZT_MSG_REVOKE_REPLY, &reply)) != 0)
		return r;
	zt_msg_get_u32(&reply, ZT_F_COUNT, &count);
	if (arg_json && (r = emit(json_pack("{s:I}", "revoked",
	    (json_int_t)count))) != 0)
		return r;
	if (!arg_json)
		printf("revoked %" PRIu32 " grant%s%s\n", count,
		    count == 1 ? "" : "s",
		    count > 0 && (flags & ZT_REVOKE_KILL) ?
		    " (processes killed)" : "");
	return count > 0 ? 0 : EXIT_NO;
}

/* Print a config stanza for BINARY with its digest (no daemon needed). */
/*
 * Is PATH a script ("#!")?  Returns 0 when not; 1 with its INTERPRETER
 * and the interpreter's digest in HEX; or EXIT_ERROR, having said why
 * (ztd would refuse it at launch: no interpreter, not an absolute path,
 * itself a script, unreadable).
 */
static int
script_interpreter(const char *path, char interpreter[ZT_SHEBANG_MAX],
    char hex[DIGEST_HEX_SIZE])
{
	struct zt_shebang sb, inner;
	uint8_t digest[DIGEST_SIZE];
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fail(EXIT_ERROR, "%s: %s", path, strerror(errno));
	r = zt_shebang_read(fd, &sb);
	close(fd);
	if (r == 0)
		return 0;
	if (r < 0)
		return fail(EXIT_ERROR, "%s: %s", path, r == -ENOEXEC ?
		    "its #! line names no interpreter" : r == -ENAMETOOLONG ?
		    "its #! line is too long" : zt_strerror(r));
	if (sb.interpreter[0] != '/')
		return fail(EXIT_ERROR, "%s: its interpreter %s is not an "
		    "absolute path (ztd refuses it at launch)", path,
		    sb.interpreter);
	fd = open(sb.interpreter, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK);
	if (fd < 0)
		return fail(EXIT_ERROR, "%s: its interpreter %s: %s", path,
		    sb.interpreter, strerror(errno));
	if ((r = zt_shebang_read(fd, &inner)) != 0 ||
	    (r = digest_fd(fd, digest)) < 0) {
		close(fd);
		return fail(EXIT_ERROR, "%s: its interpreter %s %s", path,
		    sb.interpreter, r == 1 ? "is itself a script (ztd "
		    "refuses it at launch)" : zt_strerror(r));
	}
	close(fd);
	snprintf(interpreter, ZT_SHEBANG_MAX, "%s", sb.interpreter);
	digest_hex(digest, sizeof(digest), hex);
	return 1;
}

static int
command_enroll_agent(int argc, char **argv)
{
	uint8_t digest[DIGEST_SIZE];
	char hex[DIGEST_HEX_SIZE], *path, name[65], *stanza;
	char interpreter[ZT_SHEBANG_MAX], interpreter_hex[DIGEST_HEX_SIZE];
	char pins[2 * DIGEST_HEX_SIZE + ZT_SHEBANG_MAX + 64];
	const char *base;
	size_t n = 0;
	int r, script;

	if (argc != 2)
		return fail(EXIT_ERROR, "usage: enroll-agent BINARY");
	path = realpath(argv[1], NULL);
	if (path == NULL)
		return fail(EXIT_ERROR, "%s: %s", argv[1], strerror(errno));
	if ((r = digest_file(path, digest)) < 0) {
		r = fail(EXIT_ERROR, "%s: %s", path, zt_strerror(r));
		free(path);
		return r;
	}
	digest_hex(digest, sizeof(digest), hex);
	/* A script runs its interpreter, which ztd checks at launch as the
	 * agent's binary too: it must be pinned beside the script. */
	if ((script = script_interpreter(path, interpreter,
	    interpreter_hex)) == EXIT_ERROR) {
		free(path);
		return EXIT_ERROR;
	}
	if (script == 1)
		snprintf(pins, sizeof(pins), "\"%s\",\n"
		    "              \"%s\"   # its interpreter %s\n"
		    "             ", hex, interpreter_hex, interpreter);
	else
		snprintf(pins, sizeof(pins), "\"%s\"", hex);
	base = strrchr(path, '/') + 1;
	for (const char *p = base; *p != '\0' && n < sizeof(name) - 1; p++)
		name[n++] = isalnum((unsigned char)*p) || *p == '-' ||
		    *p == '_' ? *p : '-';
	name[n] = '\0';
	if (n == 0)
		snprintf(name, sizeof(name), "agent");
	if (asprintf(&stanza, "  {\n"
	    "    name = \"%s\";\n"
	    "    accounts = [\"svc-%s\"];          # the service account(s)\n"
	    "    pam_services = [\"zt-agent\"];\n"
	    "    binary = \"%s\";\n"
	    "    sha256 = [%s];\n"
	    "    session_ttl = 3600;\n"
	    "    decision_ttl = 30;\n"
	    "    on_violation = \"deny\";\n"
	    "    commands = ( );                  # nothing is allowed until listed\n"
	    "    network = ( );\n"
	    "    files = ( );\n"
	    "  }\n", name, name, path, pins) < 0) {
		free(path);
		return fail(EXIT_ERROR, "enroll-agent: out of memory");
	}
	r = 0;
	if (arg_json)
		r = emit(json_pack("{s:s,s:[s+],s:[s],s:o,s:o,s:o}",
		    "name", name,
		    "accounts", "svc-", name,
		    "pam_services", "zt-agent",
		    "binary", json_text(path),
		    "sha256", script == 1 ?
		    json_pack("[s,s]", hex, interpreter_hex) :
		    json_pack("[s]", hex),
		    "stanza", json_text(stanza)));
	else
		fputs(stanza, stdout);
	free(stanza);
	free(path);
	return r;
}

/* audit reopen: ztd starts a new file (logrotate's postrotate). */
static int
command_audit_reopen(void)
{
	struct zt_msg reply;
	uint64_t seq = 0;
	const char *file = "";
	int r;

	if ((r = call(ZT_MSG_AUDIT_REOPEN, ZT_MSG_AUDIT_REOPEN_REPLY,
	    &reply)) != 0)
		return r;
	zt_msg_get_u64(&reply, ZT_F_AUDIT_SEQ, &seq);
	zt_msg_get_str(&reply, ZT_F_TEXT, &file);
	if (arg_json)
		return emit(json_pack("{s:o,s:o}", "file", json_text(file),
		    "seq", json_count(seq)));
	printf("audit file %s reopened: its first record is seq %" PRIu64
	    "\n", file, seq);
	return 0;
}

/* audit verify FILE... [--head PATH]: exit 0 intact, 1 not, 2 unreadable. */
static int
command_audit_verify(int argc, char **argv)
{
	const char **files;
	const char *head = NULL;
	char report[1024];
	size_t n = 0;
	int r;

	files = calloc((size_t)argc, sizeof(*files));
	if (files == NULL)
		return fail(EXIT_ERROR, "out of memory");
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--head") == 0 && i + 1 < argc &&
		    head == NULL)
			head = argv[++i];
		else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			n = 0;
			break;
		} else
			files[n++] = argv[i];
	}
	if (n == 0) {
		free(files);
		return fail(EXIT_ERROR, "usage: audit verify FILE... "
		    "[--head PATH] (the files oldest first)");
	}
	r = audit_verify_files(files, n, head, report, sizeof(report));
	free(files);
	if (r < 0 && r != ZT_E_PROTOCOL)
		/* Nothing was checked: no verdict on the chain. */
		return fail(EXIT_ERROR, "audit verify: cannot read %s", report);
	if (arg_json) {
		int e = emit(json_pack("{s:b,s:o}", "intact", r == 0,
		    "report", json_text(report)));

		if (e != 0)
			return e;
	} else
		printf("%s: %s\n", r == 0 ? "intact" : "NOT INTACT", report);
	return r == 0 ? 0 : EXIT_NO;
}

static int
command_audit(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "verify") == 0)
		return command_audit_verify(argc, argv);
	if (argc == 2 && strcmp(argv[1], "reopen") == 0)
		return command_audit_reopen();
	return fail(EXIT_ERROR, "usage: audit verify FILE... [--head PATH] | "
	    "audit reopen");
}

/*
 * fleet push|disable|enable|status: status prints its hosts itself; what
 * the others wrote is printed here, as text or as one JSON object.
 */
static int
command_fleet(int argc, char **argv)
{
	char failure[FLEET_FAILURE_MAX];
	struct fleet_written w;
	int r = ztctl_fleet(argc, argv, arg_json, failure, &w);

	if (failure[0] != '\0')
		return fail(r, "%s", failure);
	if (r != 0 || !w.done)
		return r;
	if (arg_json)
		return emit(json_pack("{s:s,s:o,s:o}", "written", w.what,
		    "serial", json_count(w.serial), "key", json_text(w.key)));
	printf("%s serial %" PRIu64 " written to %s\n", w.what, w.serial,
	    w.key);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *command;
	char bad[256] = "";
	int opt;

	zt_log_open_stderr("ztctl");
	opterr = 0;	/* said by fail(), in JSON too */
	/* After a bad option, read on: a later --json still applies. */
	while ((opt = getopt_long(argc, argv, "+:s:jh", options, NULL)) != -1) {
		switch (opt) {
		case 's': arg_socket = optarg; break;
		case 'j': arg_json = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("ztctl %s\n", PACKAGE_VERSION); return 0;
		default:
			if (bad[0] == '\0')
				describe_bad_option(opt, argv, bad,
				    sizeof(bad));
			break;
		}
	}
	if (bad[0] != '\0' || optind >= argc) {
		usage(stderr);
		return fail(EXIT_ERROR, "%s", bad[0] != '\0' ? bad :
		    "no command given");
	}
	command = argv[optind];
	argc -= optind;
	argv += optind;
	if (strcmp(command, "check") == 0)
		return command_check(argc, argv);
	if (strcmp(command, "revoke") == 0)
		return command_revoke(argc, argv);
	if (strcmp(command, "enroll-agent") == 0)
		return command_enroll_agent(argc, argv);
	if (strcmp(command, "audit") == 0)
		return command_audit(argc, argv);
	if (strcmp(command, "ca") == 0)
		return command_ca(argc, argv);
	if (strcmp(command, "fleet") == 0)
		return command_fleet(argc, argv);
	if (strcmp(command, "attest") == 0)
		return command_attest(argc, argv);
	if (strcmp(command, "profile") == 0)
		return command_profile(argc, argv);
	if (strcmp(command, "disable") == 0 || strcmp(command, "enable") == 0)
		return command_disable(argc, argv, command[0] == 'd');
	if (argc != 1)
		return fail(EXIT_ERROR, "%s takes no arguments", command);
	if (strcmp(command, "status") == 0)
		return command_status();
	if (strcmp(command, "reload") == 0)
		return command_reload();
	if (strcmp(command, "grants") == 0)
		return command_grants();
	if (strcmp(command, "enroll-host") == 0)
		return command_enroll_host();
	usage(stderr);
	return fail(EXIT_ERROR, "unknown command '%s'", command);
}

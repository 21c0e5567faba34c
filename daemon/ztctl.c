/* SPDX-License-Identifier: Apache-2.0 */
/* ztctl: the administrator's command line to ztd. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "digest.h"
#include "grant.h"
#include "policy.h"
#include "ztctl_fleet.h"
#include "zt_client.h"
#include "zt_err.h"
#include "zt_log.h"
#include "zt_msg.h"

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
	    "        --object OBJ [--account USER] [--grant ID]\n"
	    "                         dry-run decision (exit 0 allow, 1 deny)\n"
	    "  grants                 live grants\n"
	    "  revoke GRANT | --agent NAME | --account USER  [--kill]\n"
	    "  enroll-agent BINARY    print a config stanza with the binary's sha256\n"
	    "  enroll-host            record the current PCRs (software mode: the\n"
	    "                         measured files' digests) as the golden values\n"
	    "  attest                 measure now; print verdict, PCRs and age (exit 0/1)\n"
	    "  audit verify FILE [--head PATH]\n"
	    "                         check the audit file's hash chain (exit 0/1)\n"
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

/* Print S as a JSON string. */
static void
json_string(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
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
	if (fd < 0) {
		fprintf(stderr, "ztctl: cannot reach ztd at %s: %s\n",
		    arg_socket, zt_strerror(fd));
		return EXIT_ERROR;
	}
	r = zt_client_call(fd, request, reply, CALL_TIMEOUT_MS);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "ztctl: %s: %s\n", zt_msg_type_name(type),
		    zt_strerror(r));
		return EXIT_ERROR;
	}
	r = zt_client_reply_error(reply, expected, &text);
	/* ztd's text is often its code's own words: say them once. */
	if (r < 0 && strcmp(text, zt_strerror(r)) == 0)
		text = "";
	if (r == ZT_E_PERM && text[0] == '\0') {
		/* Every request ztctl sends is root's but "ca show". */
		fprintf(stderr, "ztctl: ztd refused %s: %s (root only)\n",
		    zt_msg_type_name(type), zt_strerror(r));
		return EXIT_ERROR;
	}
	if (r < 0) {
		fprintf(stderr, "ztctl: %s: %s%s%s\n", zt_msg_type_name(type),
		    zt_strerror(r), text[0] != '\0' ? ": " : "", text);
		return r == ZT_E_CONFIG || r == ZT_E_UNSAFE ? EXIT_NO :
		    EXIT_ERROR;
	}
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

static int
command_status(void)
{
	const char *agent_group;
	struct zt_msg reply;
	uint64_t uptime = 0, generation = 0;
	uint32_t agents = 0, clients = 0, max_clients = 0, pid = 0;
	const char *version = "", *config = "", *mode = "", *reload_error = NULL;
	const char *attest_state = "";
	uint64_t cache_entries = 0, cache_hits = 0, cache_misses = 0;
	uint64_t audit_seq = 0, attest_age = 0;
	uint32_t grants = 0;
	bool has_age;
	int r;

	if ((r = call(ZT_MSG_STATUS, ZT_MSG_STATUS_REPLY, &reply)) != 0)
		return r;
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

	if (arg_json) {
		printf("{\"version\":");
		json_string(version);
		printf(",\"pid\":%" PRIu32 ",\"uptime\":%" PRIu64
		    ",\"generation\":%" PRIu64 ",\"config\":", pid, uptime,
		    generation);
		json_string(config);
		printf(",\"agents\":%" PRIu32 ",\"clients\":%" PRIu32
		    ",\"max_clients\":%" PRIu32 ",\"attestation\":{\"mode\":",
		    agents, clients, max_clients);
		json_string(mode);
		printf(",\"trusted\":%s,\"state\":",
		    strncmp(attest_state, "trusted", 7) == 0 &&
		    (attest_state[7] == '\0' || attest_state[7] == ' ') ?
		    "true" : "false");
		json_string(attest_state);
		if (has_age)
			printf(",\"age\":%" PRIu64, attest_age);
		else
			printf(",\"age\":null");
		printf("},\"cache\":{\"entries\":%" PRIu64 ",\"hits\":%" PRIu64
		    ",\"misses\":%" PRIu64 "},\"grants\":%" PRIu32
		    ",\"audit_seq\":%" PRIu64 ",\"reload_error\":",
		    cache_entries, cache_hits, cache_misses, grants, audit_seq);
		if (reload_error != NULL)
			json_string(reload_error);
		else
			printf("null");
		printf("}\n");
		return 0;
	}
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
	printf("audit:        last record %" PRIu64 "\n", audit_seq);
	if (zt_msg_get_str(&reply, ZT_F_TEXT, &agent_group) == 0)
		printf("agent_group:  %s\n", agent_group);
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
	if (arg_json) {
		printf("{\"enrolled\":true,\"trusted\":%s,\"reason\":",
		    decision == ZT_DECISION_ALLOW ? "true" : "false");
		json_string(reason);
		printf("}\n");
	} else
		printf("enrolled: %s\n", reason);
	return decision == ZT_DECISION_ALLOW ? 0 : EXIT_NO;
}

static int
command_attest(void)
{
	struct zt_msg reply;
	const char *reason = "", *pcrs = "", *mode = "";
	uint32_t decision = 0;
	uint64_t age = 0;
	bool has_age;
	int r;

	if ((r = call(ZT_MSG_ATTEST, ZT_MSG_DECISION, &reply)) != 0)
		return r;
	zt_msg_get_u32(&reply, ZT_F_DECISION, &decision);
	zt_msg_get_str(&reply, ZT_F_REASON, &reason);
	zt_msg_get_str(&reply, ZT_F_LIST, &pcrs);
	zt_msg_get_str(&reply, ZT_F_ATTEST_MODE, &mode);
	has_age = zt_msg_get_u64(&reply, ZT_F_ATTEST_AGE, &age) == 0;
	if (arg_json) {
		printf("{\"trusted\":%s,\"mode\":", decision ==
		    ZT_DECISION_ALLOW ? "true" : "false");
		json_string(mode);
		printf(",\"reason\":");
		json_string(reason);
		if (has_age)
			printf(",\"age\":%" PRIu64, age);
		printf(",\"pcrs\":");
		json_string(pcrs);
		printf("}\n");
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
	}
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
		printf("{\"reloaded\":true,\"generation\":%" PRIu64 "}\n",
		    generation);
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
		{ NULL, 0, NULL, 0 },
	};
	const char *agent = NULL, *object = NULL, *account = NULL, *grant = NULL;
	const char *reason = "";
	enum action action = ACTION_NONE;
	struct zt_msg request, reply;
	uint32_t decision = 0, risk = 0;
	bool allow;
	int opt, r;

	optind = 0;	/* 0: glibc starts over, permuting again */
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'a': agent = optarg; break;
		case 'A':
			action = policy_action_from_name(optarg);
			if (action == ACTION_NONE) {
				fprintf(stderr, "ztctl: check: unknown action "
				    "'%s'\n", optarg);
				return EXIT_ERROR;
			}
			break;
		case 'o': object = optarg; break;
		case 'u': account = optarg; break;
		case 'g': grant = optarg; break;
		default: return EXIT_ERROR;
		}
	}
	if (agent == NULL || action == ACTION_NONE || object == NULL ||
	    optind != argc) {
		fprintf(stderr, "ztctl: check needs --agent, --action and "
		    "--object\n");
		return EXIT_ERROR;
	}
	zt_msg_init(&request, ZT_MSG_CHECK, next_request_id());
	if ((r = zt_msg_put_str(&request, ZT_F_AGENT, agent)) < 0 ||
	    (r = zt_msg_put_u32(&request, ZT_F_ACTION, action)) < 0 ||
	    (r = zt_msg_put_str(&request, ZT_F_OBJECT, object)) < 0 ||
	    (account != NULL &&
	    (r = zt_msg_put_str(&request, ZT_F_ACCOUNT, account)) < 0) ||
	    (grant != NULL &&
	    (r = zt_msg_put_str(&request, ZT_F_GRANT, grant)) < 0)) {
		fprintf(stderr, "ztctl: check: %s\n", zt_strerror(r));
		return EXIT_ERROR;
	}
	if ((r = call_with(&request, ZT_MSG_DECISION, &reply)) != 0)
		return r;
	zt_msg_get_u32(&reply, ZT_F_DECISION, &decision);
	zt_msg_get_u32(&reply, ZT_F_RISK, &risk);
	zt_msg_get_str(&reply, ZT_F_REASON, &reason);
	allow = decision == ZT_DECISION_ALLOW;
	if (arg_json) {
		printf("{\"decision\":\"%s\",", allow ? "allow" : "deny");
		if (allow)
			printf("\"risk\":\"%s\",", risk ? "high" : "low");
		printf("\"reason\":");
		json_string(reason);
		printf("}\n");
	} else if (allow)
		printf("allow (%s risk): %s\n", risk ? "high" : "low", reason);
	else
		printf("deny: %s\n", reason);
	return allow ? 0 : EXIT_NO;
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
	    strcmp(argv[1], "crl") != 0)) {
		fprintf(stderr, "ztctl: usage: ca show | ca crl\n");
		return EXIT_ERROR;
	}
	crl = strcmp(argv[1], "crl") == 0;
	if ((r = call(crl ? ZT_MSG_CA_CRL : ZT_MSG_CA_SHOW, ZT_MSG_CA_REPLY,
	    &reply)) != 0)
		return r;
	zt_msg_get_str(&reply, ZT_F_TEXT, &pem);
	if (arg_json) {
		printf("{\"%s\":", crl ? "crl" : "ca");
		json_string(pem);
		printf("}\n");
	} else
		fputs(pem, stdout);
	return 0;
}

static int
command_grants(void)
{
	struct zt_msg request, reply;
	uint32_t offset = 0, total = 0;
	bool first = true;
	int r;

	if (arg_json)
		printf("[");
	else
		printf("%-32s %-16s %-16s %6s %8s %8s %-10s %-32s %s\n",
		    "GRANT", "AGENT", "ACCOUNT", "UID", "PID", "EXPIRES",
		    "SERVICE", "CERT SERIAL", "CERT EXPIRES (UTC)");
	for (;;) {
		struct zt_record list, info;
		uint32_t count = 0, next;
		size_t cursor = 0;

		zt_msg_init(&request, ZT_MSG_GRANTS, next_request_id());
		zt_msg_put_u32(&request, ZT_F_OFFSET, offset);
		if ((r = call_with(&request, ZT_MSG_GRANTS_REPLY, &reply)) != 0)
			return r;
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

			/* Every field but the certificate's is required by
			 * the GRANT_INFO schema. */
			zt_record_get_str(&info, ZT_F_GRANT, &id);
			zt_record_get_str(&info, ZT_F_AGENT, &agent);
			zt_record_get_str(&info, ZT_F_ACCOUNT, &account);
			zt_record_get_u32(&info, ZT_F_UID, &uid);
			zt_record_get_u32(&info, ZT_F_PID, &pid);
			zt_record_get_u64(&info, ZT_F_EXPIRES_MS, &left_ms);
			zt_record_get_str(&info, ZT_F_SERVICE, &service);
			zt_record_get_str(&info, ZT_F_SERIAL, &serial);
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
			if (arg_json) {
				printf("%s{\"grant\":", first ? "" : ",");
				json_string(id);
				printf(",\"agent\":");
				json_string(agent);
				printf(",\"account\":");
				json_string(account);
				printf(",\"uid\":%u,\"pid\":%u,\"expires_in\":"
				    "%lld,\"service\":", uid, pid, left);
				json_string(service);
				printf(",\"cert_serial\":");
				if (strcmp(serial, "-") == 0)
					printf("null");
				else
					json_string(serial);
				printf(",\"cert_not_after\":%llu}",
				    (unsigned long long)not_after);
			} else
				printf("%-32s %-16s %-16s %6u %8u %7llds %-10s "
				    "%-32s %s\n", id, agent, account, uid, pid,
				    left, service, serial, until);
			first = false;
		}
		if (zt_msg_get_u32(&reply, ZT_F_OFFSET, &next) < 0 ||
		    count == 0 || next <= offset)
			break;
		offset = next;
	}
	if (arg_json)
		printf("]\n");
	else if (total == 0)
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
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'a': agent = optarg; break;
		case 'u': account = optarg; break;
		case 'k': flags |= ZT_REVOKE_KILL; break;
		default: return EXIT_ERROR;
		}
	}
	if (optind < argc)
		grant = argv[optind++];
	given = (agent != NULL) + (account != NULL) + (grant != NULL);
	if (given != 1 || optind != argc) {
		fprintf(stderr, "ztctl: revoke takes one of GRANT, --agent NAME, "
		    "--account USER\n");
		return EXIT_ERROR;
	}
	if (grant != NULL && !is_grant_id(grant)) {
		fprintf(stderr, "ztctl: revoke: '%s' is no grant id (%d hex "
		    "digits)\n", grant, GRANT_ID_LEN);
		return EXIT_ERROR;
	}
	zt_msg_init(&request, ZT_MSG_REVOKE, next_request_id());
	if (grant != NULL)
		r = zt_msg_put_str(&request, ZT_F_GRANT, grant);
	else if (agent != NULL)
		r = zt_msg_put_str(&request, ZT_F_AGENT, agent);
	else
		r = zt_msg_put_str(&request, ZT_F_ACCOUNT, account);
	if (r == 0)
		r = zt_msg_put_u32(&request, ZT_F_FLAGS, flags);
	if (r < 0) {
		fprintf(stderr, "ztctl: revoke: %s\n", zt_strerror(r));
		return EXIT_ERROR;
	}
	if ((r = call_with(&request, ZT_MSG_REVOKE_REPLY, &reply)) != 0)
		return r;
	zt_msg_get_u32(&reply, ZT_F_COUNT, &count);
	if (arg_json)
		printf("{\"revoked\":%" PRIu32 "}\n", count);
	else
		printf("revoked %" PRIu32 " grant%s%s\n", count,
		    count == 1 ? "" : "s",
		    count > 0 && (flags & ZT_REVOKE_KILL) ?
		    " (processes killed)" : "");
	return count > 0 ? 0 : EXIT_NO;
}

/* Print a config stanza for BINARY with its digest (no daemon needed). */
static int
command_enroll_agent(int argc, char **argv)
{
	uint8_t digest[DIGEST_SIZE];
	char hex[DIGEST_HEX_SIZE], *path, name[65];
	const char *base;
	size_t n = 0;
	int r;

	if (argc != 2) {
		fprintf(stderr, "ztctl: enroll-agent BINARY\n");
		return EXIT_ERROR;
	}
	path = realpath(argv[1], NULL);
	if (path == NULL) {
		fprintf(stderr, "ztctl: %s: %s\n", argv[1], strerror(errno));
		return EXIT_ERROR;
	}
	if ((r = digest_file(path, digest)) < 0) {
		fprintf(stderr, "ztctl: %s: %s\n", path, zt_strerror(r));
		free(path);
		return EXIT_ERROR;
	}
	digest_hex(digest, sizeof(digest), hex);
	base = strrchr(path, '/') + 1;
	for (const char *p = base; *p != '\0' && n < sizeof(name) - 1; p++)
		name[n++] = isalnum((unsigned char)*p) || *p == '-' ||
		    *p == '_' ? *p : '-';
	name[n] = '\0';
	if (n == 0)
		snprintf(name, sizeof(name), "agent");
	printf("  {\n"
	    "    name = \"%s\";\n"
	    "    accounts = [\"svc-%s\"];          # the service account(s)\n"
	    "    pam_services = [\"zt-agent\"];\n"
	    "    binary = \"%s\";\n"
	    "    sha256 = [\"%s\"];\n"
	    "    session_ttl = 3600;\n"
	    "    decision_ttl = 30;\n"
	    "    on_violation = \"deny\";\n"
	    "    commands = ( );                  # nothing is allowed until listed\n"
	    "    network = ( );\n"
	    "    files = ( );\n"
	    "  }\n", name, name, path, hex);
	free(path);
	return 0;
}

static int
command_audit(int argc, char **argv)
{
	const char *file = NULL, *head = NULL;
	char report[512];
	int r;

	if (argc >= 3 && strcmp(argv[1], "verify") == 0) {
		file = argv[2];
		if (argc == 5 && strcmp(argv[3], "--head") == 0)
			head = argv[4];
		else if (argc != 3)
			file = NULL;
	}
	if (file == NULL) {
		fprintf(stderr, "ztctl: audit verify FILE [--head PATH]\n");
		return EXIT_ERROR;
	}
	r = audit_verify(file, head, report, sizeof(report));
	if (r < 0 && r != ZT_E_PROTOCOL) {
		/* Nothing was checked: no verdict on the chain. */
		if (arg_json) {
			printf("{\"error\":");
			json_string(report);
			printf("}\n");
		}
		fprintf(stderr, "ztctl: audit verify: cannot read %s\n",
		    report);
		return EXIT_ERROR;
	}
	if (arg_json) {
		printf("{\"intact\":%s,\"report\":", r == 0 ? "true" : "false");
		json_string(report);
		printf("}\n");
	} else
		printf("%s: %s\n", r == 0 ? "intact" : "NOT INTACT", report);
	return r == 0 ? 0 : EXIT_NO;
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
	int opt;

	zt_log_open_stderr("ztctl");
	while ((opt = getopt_long(argc, argv, "+s:jh", options, NULL)) != -1) {
		switch (opt) {
		case 's': arg_socket = optarg; break;
		case 'j': arg_json = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("ztctl %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return EXIT_ERROR;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_ERROR;
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
		return ztctl_fleet(argc, argv, arg_json);
	if (argc != 1) {
		fprintf(stderr, "ztctl: %s takes no arguments\n", command);
		return EXIT_ERROR;
	}
	if (strcmp(command, "status") == 0)
		return command_status();
	if (strcmp(command, "reload") == 0)
		return command_reload();
	if (strcmp(command, "grants") == 0)
		return command_grants();
	if (strcmp(command, "enroll-host") == 0)
		return command_enroll_host();
	if (strcmp(command, "attest") == 0)
		return command_attest();
	fprintf(stderr, "ztctl: unknown command '%s'\n", command);
	usage(stderr);
	return EXIT_ERROR;
}

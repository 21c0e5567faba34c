/* SPDX-License-Identifier: Apache-2.0 */
/* ztctl: the administrator's command line to ztd. */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
	    "  status    version, uptime, policy generation, clients, attestation\n"
	    "  reload    reload the configuration (root only)\n"
	    "\n"
	    "exit status: 0 done, 1 refused by ztd, 2 error\n");
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

/* One request, one reply of EXPECTED type; prints ztd's error itself. */
static int
call(enum zt_msg_type type, enum zt_msg_type expected, struct zt_msg *reply)
{
	struct zt_msg request;
	const char *text;
	int fd, r;

	zt_msg_init(&request, type, next_request_id());
	fd = zt_client_connect(arg_socket);
	if (fd < 0) {
		fprintf(stderr, "ztctl: cannot reach ztd at %s: %s\n",
		    arg_socket, zt_strerror(fd));
		return EXIT_ERROR;
	}
	r = zt_client_call(fd, &request, reply, CALL_TIMEOUT_MS);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "ztctl: %s: %s\n", zt_msg_type_name(type),
		    zt_strerror(r));
		return EXIT_ERROR;
	}
	r = zt_client_reply_error(reply, expected, &text);
	if (r < 0) {
		fprintf(stderr, "ztctl: %s: %s%s%s\n", zt_msg_type_name(type),
		    zt_strerror(r), text[0] != '\0' ? ": " : "", text);
		return r == ZT_E_CONFIG || r == ZT_E_UNSAFE ? EXIT_NO :
		    EXIT_ERROR;
	}
	return 0;
}

static int
command_status(void)
{
	struct zt_msg reply;
	uint64_t uptime = 0, generation = 0;
	uint32_t agents = 0, clients = 0, max_clients = 0, pid = 0;
	const char *version = "", *config = "", *mode = "", *reload_error = NULL;
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
		printf(",\"active\":false},\"reload_error\":");
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
	printf("attestation:  mode %s, not active in this version\n", mode);
	return 0;
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
	command = argv[optind++];
	if (optind != argc) {
		fprintf(stderr, "ztctl: %s takes no arguments\n", command);
		return EXIT_ERROR;
	}
	if (strcmp(command, "status") == 0)
		return command_status();
	if (strcmp(command, "reload") == 0)
		return command_reload();
	fprintf(stderr, "ztctl: unknown command '%s' (this version has: "
	    "status, reload)\n", command);
	return EXIT_ERROR;
}

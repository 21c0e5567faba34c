/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing and checking pam_zt.so's options from the PAM stack line. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/un.h>
#include <syslog.h>

#include <security/pam_ext.h>

#include "args.h"
#include "zt_client.h"
#include "zt_log.h"

/* Longest option text quoted in a log line. */
#define OPTION_LOG_MAX 96

static int
bad_option(pam_handle_t *pamh, const char *option, const char *why)
{
	char quoted[OPTION_LOG_MAX];

	zt_escape(quoted, sizeof(quoted), option, strlen(option));
	pam_syslog(pamh, LOG_ERR, "option %s: %s", quoted, why);
	return -EINVAL;
}

/* Decimal digits only, no sign, no spaces; 0 or -EINVAL. */
static int
parse_timeout(const char *text, int *value)
{
	long n = 0;

	if (*text == '\0' || strlen(text) > 5)
		return -EINVAL;
	for (; *text != '\0'; text++) {
		if (*text < '0' || *text > '9')
			return -EINVAL;
		n = n * 10 + (*text - '0');
	}
	if (n < ZT_PAM_TIMEOUT_MIN || n > ZT_PAM_TIMEOUT_MAX)
		return -EINVAL;
	*value = (int)n;
	return 0;
}

/* A name as groupadd takes it (and /etc/group can hold). */
static bool
is_group_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 32 || !(isalpha((unsigned char)name[0]) ||
	    name[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' &&
		    name[i] != '.' && name[i] != '-')
			return false;
	return true;
}

int
args_parse(pam_handle_t *pamh, int argc, const char **argv,
    struct zt_pam_args *args)
{
	struct sockaddr_un addr;

	args->socket = ZT_DEFAULT_SOCKET;
	args->timeout_ms = ZT_PAM_TIMEOUT_DEFAULT;
	args->debug = false;
	args->group = NULL;
	for (int i = 0; i < argc; i++) {
		const char *option = argv[i];

		if (option == NULL)
			return bad_option(pamh, "(null)", "missing");
		if (strcmp(option, "debug") == 0) {
			args->debug = true;
		} else if (strncmp(option, "socket=", 7) == 0) {
			const char *path = option + 7;

			if (path[0] != '/')
				return bad_option(pamh, option,
				    "the socket must be an absolute path");
			if (strlen(path) >= sizeof(addr.sun_path))
				return bad_option(pamh, option,
				    "the socket path is too long");
			args->socket = path;
		} else if (strncmp(option, "group=", 6) == 0) {
			if (!is_group_name(option + 6))
				return bad_option(pamh, option,
				    "the group must be a group name "
				    "([A-Za-z_][A-Za-z0-9_.-]*, at most 32)");
			args->group = option + 6;
		} else if (strncmp(option, "timeout=", 8) == 0) {
			if (parse_timeout(option + 8, &args->timeout_ms) < 0)
				return bad_option(pamh, option,
				    "the timeout must be 1..60000 ms");
		} else {
			return bad_option(pamh, option, "unknown option");
		}
	}
	return 0;
}

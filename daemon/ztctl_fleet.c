/* SPDX-License-Identifier: Apache-2.0 */
/* ztctl fleet: sign and write policy and disables, read hosts' reports. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "etcd.h"
#include "fleet_entry.h"
#include "pubkey.h"
#include "zt_err.h"
#include "ztctl_fleet.h"
#include "ztd_config.h"

#define EXIT_NO 1
#define EXIT_ERROR 2
#define SECRET_MAX (64 * 1024)

struct admin {
	char *failure;			/* FLEET_FAILURE_MAX bytes: why */
	struct ztd_config *config;
	struct etcd *etcd;
	EVP_PKEY *public_key;		/* fleet.admin_key: what hosts check */
	struct fleet_written *written;	/* what push/disable/enable wrote */
};

static int
say(char *failure, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Say why in FAILURE (ztctl prints it, as JSON with --json) and return
 * CODE. */
static int
say(char *failure, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(failure, FLEET_FAILURE_MAX, fmt, ap);
	va_end(ap);
	return code;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ztctl fleet push POLICY --key KEY [--config FILE]\n"
	    "       ztctl fleet disable AGENT [--why TEXT] --key KEY "
	    "[--config FILE]\n"
	    "       ztctl fleet enable AGENT --key KEY [--config FILE]\n"
	    "       ztctl [--json] fleet status [--config FILE]\n");
}

/* FILE's text, "" for NULL; wiped by the caller when a secret. */
static char *
read_text(const char *path, const char *what, char *failure)
{
	uint8_t *data;
	size_t len;
	int r;

	if (path == NULL)
		return strdup("");
	if ((r = pubkey_read_file(path, SECRET_MAX, &data, &len)) < 0) {
		say(failure, EXIT_ERROR, "%s %s: %s", what, path,
		    zt_strerror(r));
		return NULL;
	}
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	return (char *)data;
}

static void
wipe(char *s)
{
	if (s != NULL)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/*
 * The fleet section of CONFIG_PATH (with POLICY_TEXT as its policy, to
 * validate it as every host will) and a client for its etcd.
 */
static int
open_admin(const char *config_path, const char *policy_name,
    const char *policy_text, struct admin *a)
{
	char error[CONFIG_ERROR_MAX], why[PUBKEY_WHY_MAX];
	const struct fleet_config *fc;
	char *ca = NULL, *cert = NULL, *key = NULL, *password = NULL;
	struct etcd_options o = { .timeout_ms = 5000 };
	uint8_t *pem;
	size_t len;
	int r;

	if ((r = config_load_with_policy(config_path, policy_name,
	    policy_text, &a->config, error)) < 0)
		return say(a->failure, EXIT_ERROR, "%s", error);
	fc = &a->config->fleet;
	if (!fc->enabled) {
		return say(a->failure, EXIT_ERROR, "%s has no fleet section: "
		    "name one "
		    "with --config", config_path);
	}
	if ((r = pubkey_read_file(fc->admin_key, PUBKEY_FILE_MAX, &pem,
	    &len)) < 0) {
		return say(a->failure, EXIT_ERROR, "fleet.admin_key %s: %s",
		    fc->admin_key, zt_strerror(r));
	}
	r = pubkey_from_pem(pem, len, &a->public_key, why);
	free(pem);
	if (r < 0) {
		return say(a->failure, EXIT_ERROR, "fleet.admin_key %s %s",
		    fc->admin_key, why);
	}
	if ((ca = read_text(fc->ca, "fleet.ca", a->failure)) == NULL ||
	    (cert = read_text(fc->cert, "fleet.cert", a->failure)) == NULL ||
	    (key = read_text(fc->key, "fleet.key", a->failure)) == NULL ||
	    (password = read_text(fc->password_file,
	    "fleet.password_file", a->failure)) == NULL) {
		r = EXIT_ERROR;
		goto out;
	}
	o.endpoints = (const char *const *)fc->endpoints;
	o.n_endpoints = fc->n_endpoints;
	o.ca_pem = ca[0] ? ca : NULL;
	o.cert_pem = cert[0] ? cert : NULL;
	o.key_pem = key[0] ? key : NULL;
	o.user = fc->user;
	o.password = fc->user != NULL ? password : NULL;
	if ((a->etcd = etcd_new(&o)) == NULL) {
		r = say(a->failure, EXIT_ERROR, "out of memory");
		goto out;
	}
	r = 0;
out:
	free(ca);
	free(cert);
	wipe(key);
	wipe(password);
	return r;
}

static void
close_admin(struct admin *a)
{
	etcd_free(a->etcd);
	EVP_PKEY_free(a->public_key);
	config_free(a->config);
}

/*
 * The serial for a new entry at KEY: above the one there (when the
 * administrator's key signed it; anything else there counts for
 * nothing), and at least the time in milliseconds, so that serials grow
 * without any state on this side.
 */
static int
next_serial(struct admin *a, const char *key, uint64_t *serial)
{
	struct etcd_kvs kvs;
	struct timespec ts;
	char why[ETCD_WHY_MAX + FLEET_WHY_MAX];
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	*serial = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if ((r = etcd_range(a->etcd, key, NULL, &kvs, why)) < 0) {
		return say(a->failure, EXIT_ERROR, "etcd: %s", why);
	}
	for (size_t i = 0; i < kvs.n; i++) {
		struct fleet_entry e;
		bool good = false;

		if (fleet_entry_parse(kvs.kv[i].value, kvs.kv[i].value_len,
		    &e, why) == 0 && fleet_entry_verify(kvs.kv[i].value, &e,
		    a->public_key, &good) == 0 && good &&
		    e.serial >= *serial)
			*serial = e.serial + 1;
	}
	etcd_kvs_clear(&kvs);
	return 0;
}

/* Sign and write one entry at PREFIX/SUFFIX. */
static int
sign_and_put(struct admin *a, const char *key_path, enum fleet_kind kind,
    const char *agent, const char *why_text, const char *body,
    const char *suffix)
{
	char key[512], why[ETCD_WHY_MAX + FLEET_WHY_MAX], text[PUBKEY_WHY_MAX];
	char *value = NULL;
	EVP_PKEY *private = NULL;
	uint8_t *pem;
	size_t len, value_len;
	uint64_t serial;
	struct fleet_entry e;
	bool good = false;
	int r;

	snprintf(key, sizeof(key), "%s/%s", a->config->fleet.prefix, suffix);
	if ((r = pubkey_read_file(key_path, PUBKEY_FILE_MAX, &pem,
	    &len)) < 0) {
		return say(a->failure, EXIT_ERROR, "--key %s: %s", key_path,
		    zt_strerror(r));
	}
	r = pubkey_private_from_pem(pem, len, &private, text);
	OPENSSL_cleanse(pem, len);
	free(pem);
	if (r < 0) {
		return say(a->failure, EXIT_ERROR, "--key %s %s", key_path,
		    text);
	}
	if ((r = next_serial(a, key, &serial)) != 0)
		goto out;
	if ((r = fleet_entry_build(kind, agent, serial, why_text, body,
	    body != NULL ? strlen(body) : 0, private, &value,
	    &value_len)) < 0) {
		r = say(a->failure, EXIT_ERROR, "cannot sign: %s",
		    r == -EINVAL ?
		    "--why must be printable text of at most 200 characters" :
		    zt_strerror(r));
		goto out;
	}
	/* What every host will check: refuse to write what they refuse. */
	if (fleet_entry_parse((uint8_t *)value, value_len, &e, why) < 0 ||
	    fleet_entry_verify((uint8_t *)value, &e, a->public_key,
	    &good) < 0 || !good) {
		r = say(a->failure, EXIT_ERROR, "--key %s is not the private "
		    "half of "
		    "fleet.admin_key %s: hosts would refuse it", key_path,
		    a->config->fleet.admin_key);
		goto out;
	}
	if ((r = etcd_put(a->etcd, key, value, value_len, 0, why)) < 0) {
		r = say(a->failure, r == -EPERM ? EXIT_NO : EXIT_ERROR,
		    "etcd: %s", why);
		goto out;
	}
	a->written->what = kind == FLEET_KIND_POLICY ? "policy" :
	    fleet_kind_name(kind);
	a->written->serial = serial;
	snprintf(a->written->key, sizeof(a->written->key), "%s", key);
	a->written->done = true;
	r = 0;
out:
	free(value);
	EVP_PKEY_free(private);
	return r;
}

/*
 * The hosts' own reports.  With --json, one object through jansson:
 * {"note": ..., "hosts": [{"key": HOST, "report": {...}}, ...]}, each
 * report the JSON the host wrote, parsed (a value that is not JSON is
 * skipped, as in text).
 */
static int
status(struct admin *a, bool json)
{
	char key[512], end[512], why[ETCD_WHY_MAX];
	struct etcd_kvs kvs;
	json_t *out = NULL, *hosts = NULL;
	size_t shown = 0;
	int r = 0;

	snprintf(key, sizeof(key), "%s/hosts/", a->config->fleet.prefix);
	etcd_prefix_end(key, end, sizeof(end));
	if (etcd_range(a->etcd, key, end, &kvs, why) < 0) {
		return say(a->failure, EXIT_ERROR, "etcd: %s", why);
	}
	if (json) {
		hosts = json_array();
		out = json_pack("{s:s, s:o}", "note", "each host's own report "
		    "of itself, not verified", "hosts", hosts);
		if (out == NULL) {
			etcd_kvs_clear(&kvs);
			return say(a->failure, EXIT_ERROR, "out of memory");
		}
	} else
		printf("hosts' own reports of themselves (not verified), "
		    "from %s:\n", etcd_endpoint(a->etcd));
	for (size_t i = 0; i < kvs.n; i++) {
		const char *host = kvs.kv[i].key + strlen(key);
		char *report = etcd_json_canonical((char *)kvs.kv[i].value,
		    kvs.kv[i].value_len);
		bool printable = true;
		json_t *parsed = NULL;

		for (const char *c = host; *c != '\0'; c++)
			if (*c < 0x21 || *c > 0x7e || *c == '"' || *c == '\\')
				printable = false;
		if (report != NULL && printable && json)
			parsed = json_loads(report, JSON_REJECT_DUPLICATES,
			    NULL);
		if (report == NULL || !printable || (json && parsed == NULL)) {
			fprintf(stderr, "ztctl: %s%s: not a report "
			    "(skipped)\n", key, printable ? host : "?");
			free(report);
			continue;
		}
		if (json) {
			if (json_array_append_new(hosts, json_pack("{s:s, s:o}",
			    "key", host, "report", parsed)) < 0) {
				free(report);
				r = say(a->failure, EXIT_ERROR,
				    "out of memory");
				break;
			}
		} else
			printf("%s %s\n", host, report);
		shown++;
		free(report);
	}
	if (json && r == 0) {
		if (json_dumpf(out, stdout, JSON_COMPACT |
		    JSON_PRESERVE_ORDER) < 0)
			r = say(a->failure, EXIT_ERROR, "cannot print");
		else
			printf("\n");
	} else if (!json && shown == 0)
		printf("(no host reports)\n");
	json_decref(out);
	etcd_kvs_clear(&kvs);
	return r;
}

int
ztctl_fleet(int argc, char **argv, bool json, char *failure,
    struct fleet_written *written)
{
	static const struct option options[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "why", required_argument, NULL, 'w' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = ZT_DEFAULT_CONFIG, *key = NULL;
	const char *why = NULL, *command, *arg = NULL;
	char *policy = NULL, suffix[128];
	struct admin a = { .failure = failure, .written = written };
	int opt, r;

	failure[0] = '\0';
	written->done = false;
	if (argc < 2) {
		usage();
		return say(failure, EXIT_ERROR, "fleet: which command?");
	}
	command = argv[1];
	/* From "fleet COMMAND"'s arguments on; optind 0 starts getopt anew. */
	argc--;
	argv++;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'k': key = optarg; break;
		case 'w': why = optarg; break;
		case 'c': config_path = optarg; break;
		default:
			usage();
			return say(failure, EXIT_ERROR, "fleet: bad arguments");
		}
	}
	if (optind < argc)
		arg = argv[optind++];
	if (optind != argc || (strcmp(command, "status") == 0) !=
	    (arg == NULL) || (strcmp(command, "status") != 0 && key == NULL) ||
	    (why != NULL && strcmp(command, "disable") != 0)) {
		usage();
		return say(failure, EXIT_ERROR, "fleet %.16s: bad arguments",
		    command);
	}
	if (strcmp(command, "push") == 0) {
		uint8_t *text;
		size_t len;

		if ((r = pubkey_read_file(arg, CONFIG_FILE_MAX, &text,
		    &len)) < 0)
			return say(failure, EXIT_ERROR, "%s: %s", arg,
			    zt_strerror(r));
		policy = (char *)text;
		if (memchr(policy, '\0', len) != NULL) {
			free(policy);
			return say(failure, EXIT_ERROR, "%s holds a NUL byte",
			    arg);
		}
	} else if (strcmp(command, "disable") != 0 &&
	    strcmp(command, "enable") != 0 && strcmp(command, "status") != 0) {
		usage();
		return say(failure, EXIT_ERROR, "fleet: unknown command "
		    "'%.32s'", command);
	}
	/* A policy is validated as every host will, before it is signed. */
	if ((r = open_admin(config_path, policy != NULL ? arg : NULL, policy,
	    &a)) != 0) {
		/* What it opened before failing (the configuration, the
		 * key) is closed here too. */
		free(policy);
		close_admin(&a);
		return r;
	}
	if (strcmp(command, "status") == 0)
		r = status(&a, json);
	else if (policy != NULL)
		r = sign_and_put(&a, key, FLEET_KIND_POLICY, NULL, NULL, policy,
		    "policy");
	else {
		snprintf(suffix, sizeof(suffix), "disabled/%.64s", arg);
		r = sign_and_put(&a, key, strcmp(command, "disable") == 0 ?
		    FLEET_KIND_DISABLE : FLEET_KIND_ENABLE, arg, why, NULL,
		    suffix);
	}
	free(policy);
	close_admin(&a);
	return r;
}

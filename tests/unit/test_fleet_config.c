/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of ztd.conf's fleet section and of a fleet policy's text. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "zt_err.h"
#include "ztd_config.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define FLEET(body) "fleet = {\n" body "};\n"
#define ADMIN "  admin_key = \"/etc/zt/fleet-admin.pub\";\n"
#define TLS "  ca = \"/etc/zt/etcd-ca.pem\";\n"

struct fleet_case {
	const char *name;
	const char *text;
	const char *error;	/* NULL: valid */
};

static const struct fleet_case cases[] = {
	{ "minimal loopback http",
	  FLEET("  etcd = [\"http://127.0.0.1:2379\"];\n" ADMIN), NULL },
	{ "https with ca, cert, key, user",
	  FLEET("  etcd = [\"https://10.0.0.1:2379\", "
	      "\"https://[fd00::2]:2379\", \"https://etcd-3.example:2379/\"];\n"
	      TLS "  cert = \"/etc/zt/etcd.pem\";\n"
	      "  key = \"/etc/zt/etcd.key\";\n"
	      "  user = \"host-web-01\";\n"
	      "  password_file = \"/etc/zt/etcd.password\";\n"
	      "  host = \"web-01\";\n  prefix = \"/ztgate/prod\";\n"
	      "  heartbeat = 2;\n  max_offline = 60;\n" ADMIN), NULL },
	{ "plain http to another host",
	  FLEET("  etcd = [\"http://10.0.0.1:2379\"];\n" ADMIN),
	  "t.conf:2: fleet.etcd[0] \"http://10.0.0.1:2379\" is plain http to "
	  "a host that is not loopback: use https:// with ca" },
	{ "https without ca",
	  FLEET("  etcd = [\"https://10.0.0.1:2379\"];\n" ADMIN),
	  "t.conf:1: fleet.ca is required for https:// endpoints (the CA "
	  "that signed etcd's certificates)" },
	{ "no endpoint",
	  FLEET("  etcd = [];\n" ADMIN),
	  "t.conf:1: fleet.etcd must list at least one endpoint" },
	{ "no admin key",
	  FLEET("  etcd = [\"http://[::1]:2379\"];\n"),
	  "t.conf:1: admin_key is required" },
	{ "a path after the port",
	  FLEET("  etcd = [\"https://10.0.0.1:2379/v3\"];\n" TLS ADMIN),
	  "t.conf:2: fleet.etcd[0] \"https://10.0.0.1:2379/v3\" needs a port "
	  "from 1 to 65535 and nothing after it" },
	{ "no port",
	  FLEET("  etcd = [\"https://etcd.example\"];\n" TLS ADMIN),
	  "t.conf:2: fleet.etcd[0] \"https://etcd.example\" needs a port "
	  "(https://HOST:PORT)" },
	{ "another scheme",
	  FLEET("  etcd = [\"unix:///run/etcd.sock\"];\n" ADMIN),
	  "t.conf:2: fleet.etcd[0] \"unix:///run/etcd.sock\" must start with "
	  "https:// (or http:// to loopback)" },
	{ "cert without key",
	  FLEET("  etcd = [\"https://10.0.0.1:2379\"];\n" TLS
	      "  cert = \"/etc/zt/etcd.pem\";\n" ADMIN),
	  "t.conf:1: fleet.cert and fleet.key go together" },
	{ "user without password",
	  FLEET("  etcd = [\"http://127.0.0.1:2379\"];\n"
	      "  user = \"h1\";\n" ADMIN),
	  "t.conf:1: fleet.user and fleet.password_file go together" },
	{ "bad prefix",
	  FLEET("  etcd = [\"http://127.0.0.1:2379\"];\n"
	      "  prefix = \"/zt/../x\";\n" ADMIN),
	  "t.conf:3: fleet.prefix must start with '/' and hold only A-Z a-z "
	  "0-9 _ . - / (no \"//\", \"..\" or final '/')" },
	{ "bad host",
	  FLEET("  etcd = [\"http://127.0.0.1:2379\"];\n"
	      "  host = \"web 01\";\n" ADMIN),
	  "t.conf:3: fleet.host \"web 01\" must be 1-64 of A-Z a-z 0-9 _ . - "
	  "(set it: the host name is not one)" },
	{ "unknown key",
	  FLEET("  etcd = [\"http://127.0.0.1:2379\"];\n"
	      "  endpoints = 1;\n" ADMIN),
	  "t.conf:3: unknown key 'endpoints' in fleet" },
	{ "heartbeat zero",
	  FLEET("  etcd = [\"http://127.0.0.1:2379\"];\n"
	      "  heartbeat = 0;\n" ADMIN),
	  "t.conf:3: heartbeat must be between 1 and 3600, not 0" },
};

static void
test_case(void **state)
{
	const struct fleet_case *fc = *state;
	struct ztd_config *c = NULL;
	char error[CONFIG_ERROR_MAX];
	int r;

	r = config_parse("t.conf", fc->text, &c, error);
	if (fc->error == NULL) {
		assert_int_equal(r, 0);
		assert_non_null(c);
		assert_true(c->fleet.enabled);
		assert_true(c->fleet.n_endpoints >= 1);
		config_free(c);
		return;
	}
	assert_int_equal(r, ZT_E_CONFIG);
	assert_null(c);
	assert_string_equal(error, fc->error);
}

/* Every value of the full case, and the defaults of the minimal one. */
static void
test_values(void **state)
{
	struct ztd_config *c = NULL;
	char error[CONFIG_ERROR_MAX];

	assert_int_equal(config_parse("t.conf", cases[1].text, &c, error), 0);
	assert_int_equal(c->fleet.n_endpoints, 3);
	assert_string_equal(c->fleet.endpoints[1], "https://[fd00::2]:2379");
	assert_string_equal(c->fleet.prefix, "/ztgate/prod");
	assert_string_equal(c->fleet.host, "web-01");
	assert_string_equal(c->fleet.ca, "/etc/zt/etcd-ca.pem");
	assert_string_equal(c->fleet.cert, "/etc/zt/etcd.pem");
	assert_string_equal(c->fleet.key, "/etc/zt/etcd.key");
	assert_string_equal(c->fleet.user, "host-web-01");
	assert_string_equal(c->fleet.password_file, "/etc/zt/etcd.password");
	assert_string_equal(c->fleet.admin_key, "/etc/zt/fleet-admin.pub");
	assert_int_equal(c->fleet.heartbeat, 2);
	assert_int_equal(c->fleet.max_offline, 60);
	assert_string_equal(config_host_name(c), "web-01");
	config_free(c);

	assert_int_equal(config_parse("t.conf", cases[0].text, &c, error), 0);
	assert_string_equal(c->fleet.prefix, "/ztgate");
	assert_int_equal(c->fleet.heartbeat, 5);
	assert_int_equal(c->fleet.max_offline, 300);
	assert_null(c->fleet.ca);
	config_free(c);

	assert_int_equal(config_parse("t.conf", "", &c, error), 0);
	assert_false(c->fleet.enabled);
	assert_null(config_host_name(c));
	config_free(c);
}

#define PEM "-----BEGIN PUBLIC KEY-----\n" \
	"MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n" \
	"-----END PUBLIC KEY-----\n"
#define POLICY_AGENT \
	"agents = (\n" \
	"  { name = \"fleet-agent\"; accounts = [\"svc-fleet\"];\n" \
	"    binary = \"/opt/agents/fleet\"; publisher = \"acme\"; }\n" \
	");\n"
#define LOCAL \
	"publishers = ( { name = \"local\"; key = \"/etc/zt/l.pem\"; } );\n" \
	"agents = ( { name = \"local-agent\"; accounts = [\"svc-local\"];\n" \
	"  binary = \"/opt/l\"; publisher = \"local\"; } );\n"

/* A fleet policy's publishers and agents replace the file's. */
static void
test_policy(void **state)
{
	struct ztd_config *c = NULL;
	char error[CONFIG_ERROR_MAX];
	int r;

	r = config_parse_with_policy("t.conf", LOCAL, "fleet policy",
	    "publishers = ( { name = \"acme\"; key = \"" PEM "\"; } );\n"
	    POLICY_AGENT, &c, error);
	assert_int_equal(r, 0);
	assert_true(c->fleet_policy);
	assert_int_equal(c->n_agents, 1);
	assert_string_equal(c->agents[0].name, "fleet-agent");
	assert_null(config_find_agent(c, "local-agent"));
	assert_int_equal(c->n_publishers, 1);
	assert_true(config_key_is_inline(c->publishers[0].key));
	config_free(c);

	/* Without a policy the file's own stand. */
	assert_int_equal(config_parse_with_policy("t.conf", LOCAL, NULL, NULL,
	    &c, error), 0);
	assert_non_null(config_find_agent(c, "local-agent"));
	config_free(c);

	/* A ztd section in a policy is refused: it stays local. */
	r = config_parse_with_policy("t.conf", LOCAL, "fleet policy",
	    "ztd = { socket = \"/tmp/x\"; };\n" POLICY_AGENT, &c, error);
	assert_int_equal(r, ZT_E_CONFIG);
	assert_null(c);
	assert_string_equal(error, "fleet policy:1: unknown key 'ztd' in a "
	    "fleet policy (only publishers and agents)");

	/* A key by path is the file's way, not a policy's. */
	r = config_parse_with_policy("t.conf", "", "fleet policy",
	    "publishers = ( { name = \"acme\"; key = \"/etc/k.pem\"; } );\n"
	    POLICY_AGENT, &c, error);
	assert_int_equal(r, ZT_E_CONFIG);
	assert_string_equal(error, "fleet policy:1: key must be a PEM public "
	    "key inline (-----BEGIN PUBLIC KEY-----) in a fleet policy");

	/* ... and inline PEM is the policy's way, not a file's. */
	r = config_parse("t.conf",
	    "publishers = ( { name = \"acme\"; key = \"" PEM "\"; } );\n",
	    &c, error);
	assert_int_equal(r, ZT_E_CONFIG);
	assert_string_equal(error, "t.conf:1: key must be an absolute path");

	/* A policy validated like a file: an agent's error, its line. */
	r = config_parse_with_policy("t.conf", "", "fleet policy",
	    "agents = (\n  { name = \"x\"; binary = \"/opt/x\"; }\n);\n",
	    &c, error);
	assert_int_equal(r, ZT_E_CONFIG);
	assert_non_null(strstr(error, "fleet policy:2: "));
}

int
main(void)
{
	static struct CMUnitTest tests[ARRAY_SIZE(cases) + 2];
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		tests[n++] = (struct CMUnitTest){
			.name = cases[i].name,
			.test_func = test_case,
			.initial_state = (void *)&cases[i],
		};
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_values);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_policy);
	return _cmocka_run_group_tests("fleet_config", tests, n, NULL, NULL);
}

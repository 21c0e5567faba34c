/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the ztd.conf loader: defaults, every key, and broken files. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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
#include "profile.h"
#include "zt_err.h"
#include "zt_msg.h"
#include "ztd_config.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* sha256 of the empty string: a real digest, and easy to check by hand. */
#define DIGEST \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
static const uint8_t digest_bytes[32] = {
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
	0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
	0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

/* Where a loader that forgot to set *CONFIG would leave it. */
static struct ztd_config poison_config;
#define POISON (&poison_config)

enum file_kind {
	KIND_TEXT,		/* a regular file holding TEXT */
	KIND_MISSING,		/* nothing at the path */
	KIND_DIRECTORY,		/* a directory at the path */
};

/* What config_parse() does with the same text. */
enum parse_expect {
	PARSE_SAME,		/* config_load()'s code and message */
	PARSE_VALID,		/* only the file is wrong: the text loads */
	PARSE_CONFIG,		/* the same message, as ZT_E_CONFIG */
	PARSE_NONE,		/* there is no C string to give it */
};

struct config_case {
	const char *name;
	const char *text;
	mode_t file_mode;
	int expected_rc;
	const char *expected_message_format;	/* "%s": the path */
	/* Optional; zero means the usual. */
	size_t text_size;		/* TEXT holds a NUL byte */
	char *(*make_text)(size_t *size);	/* made at run time */
	enum file_kind kind;
	enum parse_expect parse;
	bool message_is_prefix;		/* only its start is known */
};

/* One case at run time: its temporary directory, file and result. */
struct fixture {
	const struct config_case *cc;
	char dir[64];
	char path[96];
	char *made_text;
	const char *text;
	size_t text_size;
	struct ztd_config *config;
	char error[CONFIG_ERROR_MAX];
};

/* ------------------------------------------------------------ texts */

/* An agent that would be valid; lines 1-6, the cases append from line 7. */
#define AGENT_START \
	"agents = (\n" \
	"  {\n" \
	"    name = \"backup\";\n" \
	"    accounts = [\"svc-backup\"];\n" \
	"    binary = \"/opt/agents/backup-agent\";\n"
#define AGENT_HEAD AGENT_START \
	"    sha256 = [\"" DIGEST "\"];\n"
#define AGENT_TAIL \
	"  }\n" \
	");\n"
/* One network rule, on line 8. */
#define NETWORK(rule) AGENT_HEAD \
	"    network = (\n" \
	"      " rule "\n" \
	"    );\n" \
	AGENT_TAIL
/* One file rule, on line 8. */
#define FILES(rule) AGENT_HEAD \
	"    files = (\n" \
	"      " rule "\n" \
	"    );\n" \
	AGENT_TAIL

#define NUL_TEXT "ztd: {\n  max_clients = 8;\n};\n# \0 a NUL\n"
#define SAFE_TEXT "ztd: { max_clients = 8; };\n"

/* Every key of INTERFACES.md, with values moved off their defaults. */
static const char full_text[] =
	"ztd: {\n"
	"  socket = \"/run/zt-test/ztd.sock\";\n"
	"  state_dir = \"/var/lib/zt-test\";\n"
	"  max_clients = 512;\n"
	"  trust_domain = \"host.example\";\n"
	"  audit: {\n"
	"    file = \"/var/log/zt/audit.log\";\n"
	"    require = false;\n"
	"    deny_rate = 0.5;\n"
	"    deny_burst = 7;\n"
	"  };\n"
	"  cache: { max_entries = 4096; };\n"
	"};\n"
	"\n"
	"attestation: {\n"
	"  mode = \"software\";\n"
	"  tcti = \"swtpm:host=127.0.0.1,port=2321\";\n"
	"  pcrs = [0, 1, 2, 3, 4, 5, 6, 7];\n"
	"  golden = \"/var/lib/zt-test/golden.pcrs\";\n"
	"  quote_interval = 15;\n"
	"  session_max_age = 120;\n"
	"  high_risk_max_age = 0;\n"
	"  files = [\"/boot/vmlinuz\", \"/boot/initrd.img\"];\n"
	"};\n"
	"\n"
	"publishers = (\n"
	"  { name = \"acme\"; key = \"/etc/zt/keys/acme.pub\"; }\n"
	");\n"
	"\n"
	"agents = (\n"
	"  {\n"
	"    name = \"backup\";\n"
	"    accounts = [\"svc-backup\"];\n"
	"    pam_services = [\"cron\", \"zt-agent\"];\n"
	"    binary = \"/opt/agents/backup-agent\";\n"
	"    sha256 = [\"" DIGEST "\"];\n"
	"    publisher = \"acme\";\n"
	"    session_ttl = 7200;\n"
	"    decision_ttl = 45;\n"
	"    on_violation = \"kill\";\n"
	"    landlock = \"optional\";\n"
	"    commands = (\n"
	"      { path = \"/usr/bin/rsync\"; risk = \"low\"; },\n"
	"      { path = \"/usr/bin/psql\";  risk = \"high\"; },\n"
	"      { path = \"/bin/sh\";        risk = \"deny\"; }\n"
	"    );\n"
	"    network = (\n"
	"      { to = \"10.0.0.5/32\"; ports = \"5432\"; proto = \"tcp\"; },\n"
	"      { to = \"192.168.10.0/24\"; ports = \"443,8443-8450\";"
	" proto = \"tcp\";\n"
	"        tunnel = true; server_name = \"db.internal\";"
	" ca = \"/etc/zt/ca/db.pem\"; },\n"
	"      { to = \"2001:db8::/32\"; ports = \"53\"; proto = \"udp\"; },\n"
	"      { unix = \"/run/postgresql/.s.PGSQL.5432\"; }\n"
	"    );\n"
	"    files = (\n"
	"      { path = \"/var/backups\"; access = \"rw\"; },\n"
	"      { path = \"/usr\"; access = \"rx\"; }\n"
	"    );\n"
	"    syscalls = { deny = [\"ptrace\", \"mount\", \"bpf\"];"
	" gate = [\"setuid\"]; };\n"
	"  },\n"
	"  {\n"
	"    name = \"monitor\";\n"
	"    accounts = [\"svc-monitor\"];\n"
	"    binary = \"/opt/agents/monitor\";\n"
	"    publisher = \"acme\";\n"
	"  }\n"
	");\n";

static char *
xmalloc(size_t size)
{
	char *p = malloc(size);

	assert_non_null(p);
	return p;
}

/* CONFIG_FILE_MAX + 1 bytes of comment lines. */
static char *
make_big_text(size_t *size)
{
	char *text;

	*size = CONFIG_FILE_MAX + 1;
	text = xmalloc(*size + 1);
	memset(text, '#', *size);
	for (size_t i = 63; i < *size; i += 64)
		text[i] = '\n';
	text[*size] = '\0';
	return text;
}

/* "a = { a = { ... }; };" or the same with lists, DEPTH deep, one line. */
static char *
make_nested(size_t depth, const char *open, const char *close, size_t *size)
{
	size_t open_len = strlen(open), close_len = strlen(close);
	char *text, *p;

	*size = depth * (open_len + close_len) + 1;
	p = text = xmalloc(*size + 1);
	for (size_t i = 0; i < depth; i++, p += open_len)
		memcpy(p, open, open_len);
	for (size_t i = 0; i < depth; i++, p += close_len)
		memcpy(p, close, close_len);
	memcpy(p, "\n", 2);
	return text;
}

static char *
make_deep_groups(size_t *size)
{
	return make_nested(5000, "a = { ", "}; ", size);
}

static char *
make_deep_lists(size_t *size)
{
	return make_nested(5000, "a = ( ", "); ", size);
}

/* Deep, but within what libconfig parses: the checks must cope too. */
static char *
make_nested_100(size_t *size)
{
	return make_nested(100, "a = { ", "}; ", size);
}

/* attestation.files with CONFIG_LIST_MAX + 1 distinct paths, on line 2. */
static char *
make_long_list(size_t *size)
{
	size_t cap = 64 + (CONFIG_LIST_MAX + 1) * 16, used;
	char *text = xmalloc(cap);

	used = (size_t)snprintf(text, cap, "attestation: {\n  files = [");
	for (int i = 0; i <= CONFIG_LIST_MAX; i++)
		used += (size_t)snprintf(text + used, cap - used, "%s\"/f%d\"",
		    i > 0 ? ", " : "", i);
	used += (size_t)snprintf(text + used, cap - used, "];\n};\n");
	assert_true(used < cap);
	*size = used;
	return text;
}

/* An agent (on line 2) with N files rules of paths of LEN bytes. */
static char *
make_files(size_t n, size_t len, size_t *size)
{
	size_t cap = 512 + n * (len + 48), used;
	char *text = xmalloc(cap);

	used = (size_t)snprintf(text, cap, "%s", AGENT_HEAD "    files = (\n");
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(text + used, cap - used,
		    "%s{ path = \"/%0*zu\"; access = \"r\"; }", i > 0 ?
		    ",\n" : "", (int)len - 1, i);
	used += (size_t)snprintf(text + used, cap - used, "\n    );\n%s",
	    AGENT_TAIL);
	assert_true(used < cap);
	*size = used;
	return text;
}

#define PROFILE_TOO_BIG "%s:2: agent \"backup\"'s profile does not fit " \
	"zt-exec's launch message (4096 bytes; at most 128 files, commands, " \
	"syscalls.deny or syscalls.gate each): fewer or shorter entries"

/* One files rule more than zt-exec takes, each short. */
static char *
make_files_129(size_t *size)
{
	return make_files(ZT_PROFILE_LIST_MAX + 1, 4, size);
}

/* 80 rules of 64-byte paths: more than a launch message holds. */
static char *
make_files_long(size_t *size)
{
	return make_files(80, 64, size);
}

/* 128 short ones: as many as it takes, and they fit. */
static char *
make_files_128(size_t *size)
{
	return make_files(ZT_PROFILE_LIST_MAX, 4, size);
}

/* ------------------------------------------------------------ the table */

static struct config_case bad_configs[] = {
	/* libconfig's own errors */
	{
		.name = "syntax error",
		.text = "ztd: {\n"
		    "  socket = \"/run/zt/ztd.sock\";\n"
		    "  max_clients = = 5;\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:3: syntax error",
	},
	{
		.name = "the same key twice in a group",
		.text = "ztd: {\n"
		    "  max_clients = 5;\n"
		    "  max_clients = 6;\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:3: duplicate setting name",
	},
	/* types and ranges */
	{
		.name = "wrong type: a string for an integer",
		.text = "ztd: {\n"
		    "  max_clients = \"many\";\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:2: max_clients must be an integer, not a string",
	},
	{
		.name = "wrong type: a float for an integer",
		.text = "attestation: {\n"
		    "  quote_interval = 1.5;\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:2: quote_interval must be an integer, not a float",
	},
	{
		.name = "wrong type: a list for a group",
		.text = "ztd = ( );\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:1: ztd must be a group { }, not a list ( )",
	},
	{
		.name = "wrong type: a group for the agents list",
		.text = "\n"
		    "agents = { };\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:2: agents must be a list ( ), not a group { }",
	},
	{
		.name = "out of range: max_clients = 0",
		.text = "ztd: {\n"
		    "  max_clients = 0;\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:2: max_clients must be between 1 and 65536, not 0",
	},
	{
		.name = "out of range: max_clients = 70000",
		.text = "ztd: {\n"
		    "  max_clients = 70000;\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:2: max_clients must be between 1 and 65536, not 70000",
	},
	{
		.name = "out of range: audit.deny_rate = -1",
		.text = "ztd: {\n"
		    "  audit: { deny_rate = -1; };\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:2: deny_rate must be between 0 and 100000",
	},
	{
		.name = "too fine: audit.deny_rate = 0.0001",
		.text = "ztd: {\n"
		    "  audit: { deny_rate = 0.0001; };\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:2: deny_rate must be 0 or at least 0.001",
	},
	{
		.name = "wrong type: audit.deny_rate = \"fast\"",
		.text = "ztd: {\n"
		    "  audit: { deny_rate = \"fast\"; };\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:2: deny_rate must be a number",
	},
	{
		.name = "out of range: audit.deny_burst = 0",
		.text = "ztd: {\n"
		    "  audit: { deny_burst = 0; };\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:2: deny_burst must be between 1 and 1000000, not 0",
	},
	{
		.name = "out of range: cert_lifetime = 1",
		.text = "ztd: {\n"
		    "  cert_lifetime = 1;\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:2: cert_lifetime must be between 2 and 300, not 1",
	},
	{
		.name = "out of range: cert_lifetime = 301",
		.text = "ztd: {\n"
		    "  cert_lifetime = 301;\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:2: cert_lifetime must be between 2 and 300, not 301",
	},
	{
		.name = "out of range: pcr 24",
		.text = "attestation: {\n"
		    "  pcrs = [0,\n"
		    "          24];\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:3: pcrs[1] must be between 0 and 23, not 24",
	},
	{
		.name = "a pcr listed twice",
		.text = "attestation: {\n"
		    "  pcrs = [7, 0, 7];\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:2: pcrs lists 7 twice",
	},
	{
		.name = "an empty pcrs list",
		.text = "attestation: {\n"
		    "  pcrs = [];\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:2: pcrs must not be empty",
	},
	{
		.name = "an unknown attestation mode",
		.text = "attestation: {\n"
		    "  mode = \"hardware\";\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:2: mode must be one of auto, tpm, software",
	},
	{
		.name = "a relative socket path",
		.text = "ztd: {\n"
		    "  socket = \"run/zt/ztd.sock\";\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:2: socket must be an absolute path",
	},
	{
		.name = "a trust domain that is not a DNS name",
		.text = "ztd: {\n"
		    "  max_clients = 8;\n"
		    "  trust_domain = \"host example\";\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:3: trust_domain must be a DNS "
		    "name (letters, digits, '-', '.')",
	},
	{
		.name = "more than CONFIG_LIST_MAX measured files",
		.make_text = make_long_list,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:2: files has more than 4096 entries",
	},
	{
		.name = "a profile with more files rules than zt-exec takes",
		.make_text = make_files_129,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = PROFILE_TOO_BIG,
	},
	{
		.name = "a profile larger than a launch message",
		.make_text = make_files_long,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = PROFILE_TOO_BIG,
	},
	/* unknown keys */
	{
		.name = "unknown key at top level",
		.text = "ztd: {\n"
		    "  max_clients = 8;\n"
		    "};\n"
		    "logging = true;\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:4: unknown key 'logging' in the file",
	},
	{
		.name = "unknown key in ztd.audit",
		.text = "ztd: {\n"
		    "  audit: {\n"
		    "    syslog = true;\n"
		    "  };\n"
		    "};\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:3: unknown key 'syslog' in ztd.audit",
	},
	/* learn mode and args (issue 16) */
	{
		.name = "enforce = false without learn_until",
		.text = AGENT_HEAD
		    "    enforce = false;\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:7: enforce = false (learn "
		    "mode) requires learn_until (\"YYYY-MM-DDTHH:MM:SSZ\", "
		    "UTC): the date it enforces again",
	},
	{
		.name = "learn_until without enforce = false",
		.text = AGENT_HEAD
		    "    learn_until = \"2030-01-01T00:00:00Z\";\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:7: learn_until is only for "
		    "enforce = false (learn mode)",
	},
	{
		.name = "learn_until not RFC 3339 UTC",
		.text = AGENT_HEAD
		    "    enforce = false;\n"
		    "    learn_until = \"2030-01-01 00:00:00+02:00\";\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: learn_until must be "
		    "\"YYYY-MM-DDTHH:MM:SSZ\" (RFC 3339, UTC)",
	},
	{
		.name = "args: \"**\" before the last pattern",
		.text = AGENT_HEAD
		    "    commands = ( { path = \"/usr/bin/git\"; risk = \"low\";\n"
		    "      args = ([\"**\", \"x\"]); } );\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: args[0]: \"**\" may only "
		    "be the last pattern",
	},
	{
		.name = "args: not a list of arrays",
		.text = AGENT_HEAD
		    "    commands = ( { path = \"/usr/bin/git\"; risk = \"low\";\n"
		    "      args = [\"fetch\"]; } );\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: args must be a list ( ) of "
		    "arrays [ ] of patterns, not an array [ ]",
	},
	{
		.name = "args on a denied command",
		.text = AGENT_HEAD
		    "    commands = ( { path = \"/usr/bin/git\"; risk = \"deny\";\n"
		    "      args = ([\"push\"]); } );\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: args on a command whose "
		    "risk is deny: it is denied whatever its arguments",
	},
	{
		.name = "python: -m before -I (the attack's rule)",
		.text = AGENT_HEAD
		    "    commands = ( { path = \"/usr/bin/python3.11\"; risk = \"low\";\n"
		    "      args = ([\"-m\", \"json.tool\", \"**\"]); } );\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: "
		    "args[0] of a Python command: -m comes before -I, so Python"
		    " imports first from the directory it runs in, where the ag"
		    "ent can put modules of its own; begin the alternative with"
		    " \"-I\" (or \"-P\")",
	},
	{
		.name = "python: -E -s do not keep the cwd out",
		.text = AGENT_HEAD
		    "    commands = ( { path = \"/usr/bin/python3\"; risk = \"high\"; args = (\n"
		    "      [\"-I\", \"-m\", \"json.tool\"],\n"
		    "      [\"-E\", \"-s\", \"-c\", \"print(1)\"]); } );\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:9: "
		    "args[1] of a Python command: -c comes before -I, so Python"
		    " imports first from the directory it runs in, where the ag"
		    "ent can put modules of its own; begin the alternative with"
		    " \"-I\" (or \"-P\")",
	},
	{
		.name = "python: a pattern that matches -c",
		.text = AGENT_HEAD
		    "    commands = ( { path = \"/opt/py/bin/python\"; risk = \"low\";\n"
		    "      args = ([\"*\", \"x\"]); } );\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: "
		    "args[0] of a Python command: a pattern that matches -c or "
		    "-m comes before -I, so Python imports first from the direc"
		    "tory it runs in, where the agent can put modules of its ow"
		    "n; begin the alternative with \"-I\" (or \"-P\")",
	},
	{
		.name = "python: \"**\" after options",
		.text = AGENT_HEAD
		    "    commands = ( { path = \"/usr/bin/python3.12\"; risk = \"low\";\n"
		    "      args = ([\"-B\", \"**\"]); } );\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: "
		    "args[0] of a Python command: \"**\" matches -c or -m, so P"
		    "ython imports first from the directory it runs in, where t"
		    "he agent can put modules of its own; begin the alternative"
		    " with \"-I\" (or \"-P\")",
	},
	{
		.name = "python: no script, standard input",
		.text = AGENT_HEAD
		    "    commands = ( { path = \"/usr/bin/python2\"; risk = \"low\";\n"
		    "      args = ([]); } );\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: "
		    "args[0] of a Python command: without a script it reads the"
		    " program from standard input, so Python imports first from"
		    " the directory it runs in, where the agent can put modules"
		    " of its own; begin the alternative with \"-I\" (or \"-P\")",
	},
	{
		.name = "unknown key in an agent",
		.text = AGENT_HEAD
		    "    shell = \"/bin/sh\";\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:7: unknown key 'shell' in an agent",
	},
	/* publishers and agents */
	{
		.name = "duplicate publisher",
		.text = "publishers = (\n"
		    "  { name = \"acme\"; key = \"/etc/zt/keys/acme.pub\"; },\n"
		    "  { name = \"acme\"; key = \"/etc/zt/keys/other.pub\"; }\n"
		    ");\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:3: publisher \"acme\" is "
		    "defined twice (first at line 2)",
	},
	{
		.name = "duplicate agent name",
		.text = AGENT_HEAD
		    "  },\n"
		    "  {\n"
		    "    name = \"backup\";\n"
		    "    accounts = [\"svc-other\"];\n"
		    "    binary = \"/opt/agents/other\";\n"
		    "    sha256 = [\"" DIGEST "\"];\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: agent \"backup\" is "
		    "defined twice (first at line 2)",
	},
	{
		.name = "a bad agent name",
		.text = "agents = (\n"
		    "  {\n"
		    "    name = \"../etc\";\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:3: agent name \"../etc\" must "
		    "be 1-64 of A-Z a-z 0-9 _ . -",
	},
	{
		.name = "an agent without binary",
		.text = "agents = (\n"
		    "  {\n"
		    "    name = \"backup\";\n"
		    "    accounts = [\"svc-backup\"];\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:2: binary is required",
	},
	{
		.name = "an agent account of uid 0",
		.text = "agents = (\n"
		    "  {\n"
		    "    name = \"backup\";\n"
		    "    accounts = [\"root\"];\n"
		    "    binary = \"/opt/agents/backup-agent\";\n"
		    "    sha256 = [\"" DIGEST "\"];\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:4: account root of agent "
		    "\"backup\" has uid 0: root, by any name, is never an "
		    "agent's account (its sessions would all be the agent's, "
		    "and refused while ztd is down)",
	},
	{
		.name = "an agent without accounts",
		.text = "agents = (\n"
		    "  {\n"
		    "    name = \"backup\";\n"
		    "    accounts = [];\n"
		    "    binary = \"/opt/agents/backup-agent\";\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:2: agent \"backup\" needs "
		    "accounts (at least one)",
	},
	{
		.name = "a bad account name",
		.text = "agents = (\n"
		    "  {\n"
		    "    name = \"backup\";\n"
		    "    accounts = [\"svc-backup\", \"Root\"];\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:4: accounts[1] \"Root\" is not a user name",
	},
	{
		.name = "a bad env name",
		.text = AGENT_HEAD
		    "    env = [\"LANG\", \"LD_PRELOAD=x\"];\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:7: env[1] \"LD_PRELOAD=x\" is not a variable name "
		    "([A-Za-z_][A-Za-z0-9_]*, up to 63, a final * for a "
		    "prefix)",
	},
	{
		.name = "a lone * in env",
		.text = AGENT_HEAD
		    "    env = [\"*\"];\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:7: env[0] \"*\" is not a variable name "
		    "([A-Za-z_][A-Za-z0-9_]*, up to 63, a final * for a "
		    "prefix)",
	},
	{
		.name = "an account in two agents",
		.text = AGENT_HEAD
		    "  },\n"
		    "  {\n"
		    "    name = \"restore\";\n"
		    "    accounts = [\"svc-restore\", \"svc-backup\"];\n"
		    "    binary = \"/opt/agents/restore\";\n"
		    "    sha256 = [\"" DIGEST "\"];\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:10: account svc-backup already "
		    "belongs to agent \"backup\"",
	},
	{
		.name = "an agent without sha256 or publisher",
		.text = AGENT_START
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:2: agent \"backup\" needs "
		    "sha256 or publisher: an agent is recognised by its binary",
	},
	{
		.name = "a short sha256",
		.text = AGENT_START
		    "    sha256 = [\"e3b0c442\"];\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:6: sha256[0] must be 64 hex digits",
	},
	{
		.name = "a sha256 that is not hex",
		.text = AGENT_START
		    "    sha256 = [\"" DIGEST "\",\n"
		    "              \"e3b0c44298fc1c149afbf4c8996fb924"
		    "27ae41e4649b934ca495991b7852b85g\"];\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:7: sha256[1] must be 64 hex digits",
	},
	{
		.name = "an unknown publisher",
		.text = AGENT_START
		    "    publisher = \"nobody\";\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:6: publisher \"nobody\" is not "
		    "defined in publishers",
	},
	{
		.name = "decision_ttl above session_ttl",
		.text = AGENT_HEAD
		    "    session_ttl = 300;\n"
		    "    decision_ttl = 600;\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: decision_ttl (600) must not "
		    "exceed session_ttl (300)",
	},
	{
		.name = "an unknown on_violation",
		.text = AGENT_HEAD
		    "    on_violation = \"warn\";\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:7: on_violation must be one of deny, kill",
	},
	{
		.name = "a command without risk",
		.text = AGENT_HEAD
		    "    commands = (\n"
		    "      { path = \"/usr/bin/rsync\"; risk = \"low\"; },\n"
		    "      { path = \"/usr/bin/psql\"; }\n"
		    "    );\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:9: risk is required (low, high or deny)",
	},
	/* network rules */
	{
		.name = "bad CIDR: not an address",
		.text = NETWORK("{ to = \"10.0.0.300/32\"; ports = \"22\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: to \"10.0.0.300/32\": not an "
		    "IPv4 or IPv6 address",
	},
	{
		.name = "bad CIDR: IPv4 prefix too long",
		.text = NETWORK("{ to = \"10.0.0.0/33\"; ports = \"22\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: to \"10.0.0.0/33\": prefix "
		    "length out of range",
	},
	{
		.name = "bad CIDR: IPv6 prefix too long",
		.text = NETWORK("{ to = \"2001:db8::/129\"; ports = \"22\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: to \"2001:db8::/129\": "
		    "prefix length out of range",
	},
	{
		.name = "bad CIDR: prefix not a number",
		.text = NETWORK("{ to = \"10.0.0.0/8x\"; ports = \"22\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: to \"10.0.0.0/8x\": prefix "
		    "length is not a number",
	},
	{
		.name = "bad CIDR: host bits set",
		.text = NETWORK("{ to = \"10.0.0.1/24\"; ports = \"22\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: to \"10.0.0.1/24\": address "
		    "has bits set beyond the prefix length",
	},
	{
		.name = "bad ports: 0",
		.text = NETWORK("{ to = \"10.0.0.5\"; ports = \"0\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:8: ports \"0\": port out of range 1-65535",
	},
	{
		.name = "bad ports: 65536 in a listen rule (0 is allowed there)",
		.text = NETWORK("{ listen = \"127.0.0.1/32\"; ports = "
		    "\"0,65536\"; proto = \"udp\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:8: ports \"0,65536\": port out of range 0-65535",
	},
	{
		.name = "bad ports: 65536",
		.text = NETWORK("{ to = \"10.0.0.5\"; ports = \"22,65536\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:8: ports \"22,65536\": port out of range 1-65535",
	},
	{
		.name = "bad ports: reversed range 10-5",
		.text = NETWORK("{ to = \"10.0.0.5\"; ports = \"10-5\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:8: ports \"10-5\": port range is reversed",
	},
	{
		.name = "bad ports: trailing comma",
		.text = NETWORK("{ to = \"10.0.0.5\"; ports = \"80,\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:8: ports \"80,\": expected a port number",
	},
	{
		.name = "bad ports: abc",
		.text = NETWORK("{ to = \"10.0.0.5\"; ports = \"abc\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:8: ports \"abc\": expected a port number",
	},
	{
		.name = "bad ports: open range",
		.text = NETWORK("{ to = \"10.0.0.5\"; ports = \"80-\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:8: ports \"80-\": expected a port number after '-'",
	},
	{
		.name = "bad ports: wrong separator",
		.text = NETWORK("{ to = \"10.0.0.5\"; ports = \"80;443\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:8: ports \"80;443\": expected ',' between ports",
	},
	{
		.name = "a network rule without to or unix",
		.text = NETWORK("{ ports = \"80\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: a network rule needs 'to' "
		    "(an address block), 'listen' (a local address block) or "
		    "'unix' (a socket path)",
	},
	{
		.name = "a network rule with both to and listen",
		.text = NETWORK("{ to = \"10.0.0.5\"; listen = \"127.0.0.1\";"
		    " ports = \"80\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: a network rule takes 'to' "
		    "(outbound) or 'listen' (inbound), not both",
	},
	{
		.name = "a listen rule with a tunnel",
		.text = NETWORK("{ listen = \"127.0.0.1\"; ports = \"443\";\n"
		    "        tunnel = true; server_name = \"db.internal\";"
		    " ca = \"/etc/zt/ca/db.pem\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:9: a listen rule takes no "
		    "tunnel (it filters inbound sockets)",
	},
	{
		.name = "bad CIDR in a listen rule",
		.text = NETWORK("{ listen = \"127.0.0.1/33\"; ports = \"80\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:8: listen \"127.0.0.1/33\": prefix length out of range",
	},
	{
		.name = "a listen rule without ports",
		.text = NETWORK("{ listen = \"127.0.0.1\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: ports is required",
	},
	{
		.name = "unix rule with listen",
		.text = NETWORK("{ unix = \"/run/postgresql/.s.PGSQL.5432\";\n"
		    "        listen = \"127.0.0.1\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:9: a unix rule takes no 'listen'",
	},
	{
		.name = "a bare * host",
		.text = NETWORK("{ host = \"*\"; ports = \"443\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: host \"*\": a bare '*' "
		    "would admit every name",
	},
	{
		.name = "a wildcard under a public suffix",
		.text = NETWORK("{ host = \"*.co.uk\"; ports = \"443\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: host \"*.co.uk\": a "
		    "wildcard directly under a public suffix would admit every "
		    "domain registered there",
	},
	{
		.name = "a wildcard under a top-level domain",
		.text = NETWORK("{ host = \"*.COM\"; ports = \"443\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: host \"*.COM\": a "
		    "wildcard directly under a public suffix would admit every "
		    "domain registered there",
	},
	{
		.name = "a wildcard under an unlisted single label",
		.text = NETWORK("{ host = \"*.internal\"; ports = \"443\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: host \"*.internal\": a "
		    "wildcard directly under a public suffix would admit every "
		    "domain registered there",
	},
	{
		.name = "a star inside a host",
		.text = NETWORK("{ host = \"api.*.example.com\"; "
		    "ports = \"443\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: host \"api.*.example.com\": "
		    "'*' is allowed only as the whole first label (\"*.\")",
	},
	{
		.name = "a host that is no DNS name",
		.text = NETWORK("{ host = \"api..example.com\"; "
		    "ports = \"443\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: host \"api..example.com\": "
		    "not a DNS name (labels of letters, digits and '-', 1-63 "
		    "bytes each, at most 253 in all, no trailing '.')",
	},
	{
		.name = "a host with a trailing dot",
		.text = NETWORK("{ host = \"api.example.com.\"; "
		    "ports = \"443\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: host \"api.example.com.\": "
		    "not a DNS name (labels of letters, digits and '-', 1-63 "
		    "bytes each, at most 253 in all, no trailing '.')",
	},
	{
		.name = "a host rule with to",
		.text = NETWORK("{ host = \"api.example.com\"; "
		    "to = \"10.0.0.1\"; ports = \"443\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: a host rule takes no 'to' "
		    "(a name, not an address block)",
	},
	{
		.name = "a host rule without ports",
		.text = NETWORK("{ host = \"api.example.com\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: ports is required",
	},
	{
		.name = "private on a CIDR rule",
		.text = NETWORK("{ to = \"10.0.0.1\"; private = true; "
		    "ports = \"443\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: private goes with host (a "
		    "name rule)",
	},
	{
		.name = "a host tunnel without ca",
		.text = NETWORK("{ host = \"db.internal\"; ports = \"5432\"; "
		    "tunnel = true; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: a tunnel needs ca",
	},
	{
		.name = "dns.upstream not an address",
		.text = "ztd: { dns: { upstream = [\"dns.example\"]; }; };\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:1: dns.upstream[0] must be "
		    "\"ADDR\", \"ADDR:PORT\" or \"[ADDR6]:PORT\"",
	},
	{
		.name = "dns.min_ttl above max_ttl",
		.text = "ztd: { dns: { min_ttl = 60; max_ttl = 30; }; };\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:1: dns.min_ttl (60) is above "
		    "dns.max_ttl (30)",
	},
	{
		.name = "tunnel without ca",
		.text = NETWORK("{ to = \"10.0.0.0/24\"; ports = \"443\";\n"
		    "        tunnel = true; server_name = \"db.internal\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:8: a tunnel needs server_name and ca",
	},
	{
		.name = "tunnel over udp",
		.text = NETWORK("{ to = \"10.0.0.0/24\"; ports = \"443\";\n"
		    "        proto = \"udp\"; tunnel = true;\n"
		    "        server_name = \"db.internal\";"
		    " ca = \"/etc/zt/ca/db.pem\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:8: a tunnel needs proto = \"tcp\"",
	},
	{
		.name = "ca without tunnel",
		.text = NETWORK("{ to = \"10.0.0.0/24\"; ports = \"443\";\n"
		    "        ca = \"/etc/zt/ca/db.pem\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:8: server_name and ca go with tunnel = true",
	},
	{
		.name = "unix rule with ports",
		.text = NETWORK("{ unix = \"/run/postgresql/.s.PGSQL.5432\";\n"
		    "        ports = \"5432\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:9: a unix rule takes no 'ports'",
	},
	{
		.name = "unix rule naming ztd's socket",
		.text = NETWORK("{ unix = \"/run/zt/ztd.sock\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:8: unix names ztd's own socket, which no agent may "
		    "reach",
	},
	/* file rules */
	{
		.name = "bad access letters",
		.text = FILES("{ path = \"/var/backups\"; access = \"rwz\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:8: access takes only the letters r, w and x",
	},
	{
		.name = "an access letter twice",
		.text = FILES("{ path = \"/var/backups\";\n"
		    "        access = \"rwr\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:9: access repeats a letter",
	},
	{
		.name = "a file path twice",
		.text = FILES("{ path = \"/var/backups\"; access = \"r\"; },\n"
		    "      { path = \"/var/backups\"; access = \"w\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:9: file /var/backups is listed twice",
	},
	{
		.name = "empty access",
		.text = FILES("{ path = \"/var/backups\"; access = \"\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: access is empty",
	},
	{
		.name = "a relative file path",
		.text = FILES("{ path = \"var/backups\"; access = \"r\"; }"),
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:8: path must be an absolute path",
	},
	/* syscalls */
	{
		.name = "unknown syscall name",
		.text = AGENT_HEAD
		    "    syscalls = {\n"
		    "      deny = [\"ptrace\", \"frobnicate\"];\n"
		    "      gate = [\"setuid\"];\n"
		    "    };\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:8: deny[1] \"frobnicate\" is "
		    "not a syscall of this architecture",
	},
	{
		.name = "a syscall both denied and gated",
		.text = AGENT_HEAD
		    "    syscalls = {\n"
		    "      deny = [\"ptrace\", \"mount\"];\n"
		    "      gate = [\"setuid\", \"ptrace\"];\n"
		    "    };\n"
		    AGENT_TAIL,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format =
		    "%s:7: syscall ptrace is both denied and gated",
	},
	/* what the file is, rather than what it says */
	{
		.name = "@include directive",
		.text = SAFE_TEXT
		    "  @include \"/etc/zt/more.conf\"\n",
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:2: @include is not allowed: "
		    "keep the whole policy in one root-owned file",
	},
	{
		.name = "world-writable file",
		.text = SAFE_TEXT,
		.file_mode = 0666, .expected_rc = ZT_E_UNSAFE,
		.expected_message_format = "%s: writable by group or others "
		    "(mode 0666): chmod go-w it",
		.parse = PARSE_VALID,
	},
	{
		.name = "group-writable file",
		.text = SAFE_TEXT,
		.file_mode = 0620, .expected_rc = ZT_E_UNSAFE,
		.expected_message_format = "%s: writable by group or others "
		    "(mode 0620): chmod go-w it",
		.parse = PARSE_VALID,
	},
	{
		.name = "missing file",
		.kind = KIND_MISSING,
		.expected_rc = -ENOENT,
		.expected_message_format =
		    "%s: cannot open: No such file or directory",
		.parse = PARSE_NONE,
	},
	{
		.name = "a directory instead of a file",
		.kind = KIND_DIRECTORY,
		.expected_rc = ZT_E_UNSAFE,
		.expected_message_format = "%s: not a regular file",
		.parse = PARSE_NONE,
	},
	{
		.name = "a file larger than 1 MiB",
		.make_text = make_big_text,
		.file_mode = 0644, .expected_rc = ZT_E_UNSAFE,
		.expected_message_format = "%s: larger than 1048576 bytes",
		.parse = PARSE_CONFIG,
	},
	{
		.name = "a NUL byte in the file",
		.text = NUL_TEXT,
		.text_size = sizeof(NUL_TEXT) - 1,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s: contains a NUL byte",
		.parse = PARSE_NONE,
	},
	{
		.name = "groups nested 5000 deep",
		.make_text = make_deep_groups,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:",
		.message_is_prefix = true,
	},
	{
		.name = "lists nested 5000 deep",
		.make_text = make_deep_lists,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:",
		.message_is_prefix = true,
	},
	{
		.name = "groups nested 100 deep",
		.make_text = make_nested_100,
		.file_mode = 0644, .expected_rc = ZT_E_CONFIG,
		.expected_message_format = "%s:1: unknown key 'a' in the file",
	},
};

static struct config_case empty_file = {
	.name = "empty file",
	.text = "",
	.file_mode = 0644,
};

/*
 * The shipped conf/ztd.conf, copied to a file of mode 0644 (setup_case):
 * the checkout's own mode follows the umask (0664 under umask 002), and
 * the loader rightly refuses a group-writable file.
 */
static char *
read_shipped(size_t *size)
{
	const char *top_srcdir = secure_getenv("top_srcdir");
	char path[4096], *text;
	FILE *f;

	if (top_srcdir == NULL || top_srcdir[0] == '\0')
		top_srcdir = ".";
	assert_true((size_t)snprintf(path, sizeof(path), "%s/conf/ztd.conf",
	    top_srcdir) < sizeof(path));
	f = fopen(path, "re");
	if (f == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	text = xmalloc(CONFIG_FILE_MAX + 1);
	*size = fread(text, 1, CONFIG_FILE_MAX + 1, f);
	assert_false(ferror(f));
	fclose(f);
	assert_true(*size > 0 && *size <= CONFIG_FILE_MAX);
	text[*size] = '\0';
	return text;
}

static struct config_case shipped_file = {
	.name = "the shipped file",
	.make_text = read_shipped,
	.file_mode = 0644,
};

static struct config_case files_128 = {
	.name = "128 files rules",
	.make_text = make_files_128,
	.file_mode = 0644,
};

static struct config_case learning_agents = {
	.name = "an agent learning, one whose learning is over",
	.text = AGENT_HEAD
	    "    enforce = false;\n"
	    "    learn_until = \"2999-01-01T00:00:00Z\";\n"
	    "  },\n"
	    "  {\n"
	    "    name = \"learned\";\n"
	    "    accounts = [\"svc-learned\"];\n"
	    "    binary = \"/opt/agents/learned\";\n"
	    "    sha256 = [\"" DIGEST "\"];\n"
	    "    enforce = false;\n"
	    "    learn_until = \"2000-01-01T00:00:00Z\";\n"
	    AGENT_TAIL,
	.file_mode = 0644,
};

static struct config_case full_file = {
	.name = "every key",
	.text = full_text,
	.file_mode = 0644,
};

/* ------------------------------------------------------------ fixture */

static int
write_all(int fd, const char *data, size_t size)
{
	while (size > 0) {
		ssize_t n = write(fd, data, size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		size -= (size_t)n;
	}
	return 0;
}

/* Put the case's file (or what stands in for it) at F->path. */
static int
place_file(struct fixture *f)
{
	int fd, r = 0;

	if (mkdtemp(f->dir) == NULL) {
		f->dir[0] = '\0';
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/ztd.conf", f->dir);
	switch (f->cc->kind) {
	case KIND_TEXT:
		fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
		if (fd < 0)
			return -1;
		if (write_all(fd, f->text, f->text_size) < 0 ||
		    fchmod(fd, f->cc->file_mode) < 0)
			r = -1;
		if (close(fd) < 0)
			r = -1;
		return r;
	case KIND_DIRECTORY:
		return mkdir(f->path, 0755);
	case KIND_MISSING:
		return 0;
	}
	return -1;
}

static int
teardown_case(void **state)
{
	struct fixture *f = *state;

	if (f->config != POISON)
		config_free(f->config);
	if (f->dir[0] != '\0') {
		if (f->cc->kind == KIND_DIRECTORY)
			rmdir(f->path);
		else
			unlink(f->path);
		rmdir(f->dir);
	}
	free(f->made_text);
	free(f);
	return 0;
}

/* Make the case's text and file; cmocka skips teardown if this fails. */
static int
setup_case(void **state)
{
	const struct config_case *cc = *state;
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->cc = cc;
	*state = f;
	if (cc->make_text != NULL) {
		f->made_text = cc->make_text(&f->text_size);
		f->text = f->made_text;
	} else if (cc->text != NULL) {
		f->text = cc->text;
		f->text_size = cc->text_size != 0 ? cc->text_size :
		    strlen(cc->text);
	}
	snprintf(f->dir, sizeof(f->dir), "/tmp/ztd-test-config.XXXXXX");
	if (place_file(f) < 0) {
		teardown_case(state);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ checks */

/* FORMAT with each "%s" replaced by PATH (no printf: formats are data). */
static void
expand(char *out, size_t size, const char *format, const char *path)
{
	size_t used = 0, path_len = strlen(path);

	for (const char *s = format; *s != '\0'; s++) {
		if (s[0] == '%' && s[1] == 's') {
			assert_true(used + path_len < size);
			memcpy(out + used, path, path_len);
			used += path_len;
			s++;
			continue;
		}
		assert_true(used + 1 < size);
		out[used++] = *s;
	}
	out[used] = '\0';
}

/* "xxx...": what a loader that forgot to write ERROR would leave. */
static void
poison_error(char error[CONFIG_ERROR_MAX])
{
	memset(error, 'x', CONFIG_ERROR_MAX - 1);
	error[CONFIG_ERROR_MAX - 1] = '\0';
}

/* A result that must be the error RC with CC's message. */
static void
check_error(const struct fixture *f, const struct ztd_config *config,
    const char *error, int r, int expected_rc)
{
	char expected[2 * CONFIG_ERROR_MAX];

	expand(expected, sizeof(expected), f->cc->expected_message_format,
	    f->path);
	assert_int_equal(r, expected_rc);
	assert_null(config);
	if (f->cc->message_is_prefix) {
		assert_true(strlen(error) > strlen(expected));
		assert_memory_equal(error, expected, strlen(expected));
	} else
		assert_string_equal(error, expected);
}

static void
test_load_case(void **state)
{
	struct fixture *f = *state;
	int r;

	poison_error(f->error);
	f->config = POISON;
	r = config_load(f->path, &f->config, f->error);
	check_error(f, f->config, f->error, r, f->cc->expected_rc);
}

static void
test_parse_case(void **state)
{
	struct fixture *f = *state;
	int expected_rc, r;

	poison_error(f->error);
	f->config = POISON;
	r = config_parse(f->path, f->text, &f->config, f->error);
	if (f->cc->parse == PARSE_VALID) {
		assert_int_equal(r, 0);
		assert_non_null(f->config);
		assert_string_equal(f->error, "");
		return;
	}
	expected_rc = f->cc->parse == PARSE_CONFIG ? ZT_E_CONFIG :
	    f->cc->expected_rc;
	check_error(f, f->config, f->error, r, expected_rc);
}

/* The values a file that sets nothing gets (and the shipped file sets). */
static void
check_defaults(const struct ztd_config *c, const char *path)
{
	static const unsigned pcrs[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 14 };

	assert_non_null(c);
	assert_string_equal(c->path, path);
	assert_string_equal(c->socket, "/run/zt/ztd.sock");
	assert_string_equal(c->state_dir, "/var/lib/zt");
	assert_int_equal(c->max_clients, 1024);
	assert_int_equal(c->cert_lifetime, 300);
	assert_non_null(c->trust_domain);
	assert_true(c->trust_domain[0] != '\0');
	assert_null(c->audit_file);
	assert_true(c->audit_require);
	assert_int_equal(c->audit_deny_rate_milli, 20000);
	assert_int_equal(c->audit_deny_burst, 100);
	assert_int_equal(c->cache_max_entries, 65536);
	assert_int_equal(c->attest_mode, ATTEST_AUTO);
	assert_string_equal(config_attest_mode_name(c->attest_mode), "auto");
	assert_string_equal(c->tcti, "device:/dev/tpmrm0");
	assert_int_equal(c->n_pcrs, ARRAY_SIZE(pcrs));
	for (size_t i = 0; i < ARRAY_SIZE(pcrs); i++)
		assert_int_equal(c->pcrs[i], pcrs[i]);
	assert_string_equal(c->golden, "/var/lib/zt/golden.pcrs");
	assert_int_equal(c->quote_interval, 30);
	assert_int_equal(c->session_max_age, 60);
	assert_int_equal(c->high_risk_max_age, 5);
	assert_int_equal(c->n_measured_files, 0);
	assert_int_equal(c->n_publishers, 0);
	assert_int_equal(c->n_agents, 0);
	assert_null(config_find_agent(c, "backup"));
}

static void
test_shipped_default(void **state)
{
	struct fixture *f = *state;

	poison_error(f->error);
	assert_int_equal(config_load(f->path, &f->config, f->error), 0);
	assert_string_equal(f->error, "");
	check_defaults(f->config, f->path);
}

/* An allow into M, for a profile to follow. */
static void
allow_msg(struct zt_msg *m)
{
	assert_int_equal(zt_msg_init(m, ZT_MSG_DECISION, 1), 0);
	assert_int_equal(zt_msg_put_u32(m, ZT_F_DECISION, ZT_DECISION_ALLOW),
	    0);
	assert_int_equal(zt_msg_put_str(m, ZT_F_REASON, "r"), 0);
}

/* The profile in SENT as zt-exec reads it off the wire: its return. */
static int
profile_off_wire(const struct zt_msg *sent, struct profile *p, char *error)
{
	static struct zt_msg received;
	struct zt_record r;

	assert_int_equal(zt_msg_decode(&received, sent->wire, sent->size), 0);
	assert_int_equal(zt_msg_get_record(&received, ZT_F_PROFILE, &r), 0);
	return profile_from_record(&r, p, error);
}

/* Agent A's profile as zt-exec reads it, through the wire and back. */
static void
profile_through_wire(const struct agent *a, struct profile *p)
{
	static struct zt_msg sent;
	char error[160];

	allow_msg(&sent);
	assert_int_equal(policy_put_profile(&sent, a, NULL), 0);
	assert_int_equal(profile_off_wire(&sent, p, error), 0);
}

/*
 * The profile ztd sends zt-exec, through the wire and back: the largest
 * list zt-exec takes, every rule as written.
 */
static void
test_profile_round_trip(void **state)
{
	struct fixture *f = *state;
	static struct profile p;
	const struct agent *a;

	assert_int_equal(config_load(f->path, &f->config, f->error), 0);
	a = config_find_agent(f->config, "backup");
	assert_non_null(a);
	assert_int_equal(a->n_files, ZT_PROFILE_LIST_MAX);
	profile_through_wire(a, &p);
	assert_string_equal(p.agent, "backup");
	assert_string_equal(p.binary, "/opt/agents/backup-agent");
	assert_true(p.files_given);
	assert_int_equal(p.n_files, ZT_PROFILE_LIST_MAX);
	for (size_t i = 0; i < p.n_files; i++) {
		assert_string_equal(p.files[i].path, a->files[i].path);
		assert_int_equal(p.files[i].access, PROFILE_R);
	}
	assert_int_equal(p.n_commands, 0);
	assert_false(p.kill_on_violation);
	assert_false(p.learn);
}

/*
 * Learn mode in the profile (ZT_PROFILE_LEARN): an agent learning now
 * has its SysV IPC gated and every socket family; once its learn_until
 * is past, its profile is the enforcing one, with no network family it
 * has no rule for.
 */
static void
test_profile_learn(void **state)
{
	struct fixture *f = *state;
	static struct profile p;
	const struct agent *a;

	assert_int_equal(config_load(f->path, &f->config, f->error), 0);
	a = config_find_agent(f->config, "backup");
	assert_non_null(a);
	assert_true(policy_learning_now(a));
	profile_through_wire(a, &p);
	assert_true(p.learn);
	assert_true(p.inet && p.inet6 && p.unix_);
	a = config_find_agent(f->config, "learned");
	assert_non_null(a);
	assert_false(policy_learning_now(a));
	profile_through_wire(a, &p);
	assert_false(p.learn);
	assert_false(p.inet || p.inet6 || p.unix_);
}

/* A profile's flag beyond ZT_PROFILE_FLAGS_ALL (LEARN its last) is
 * refused by zt-exec's reader: the launch is denied. */
static void
test_profile_unknown_flag(void **state)
{
	static struct zt_msg sent;
	static struct profile p;
	char error[160];

	(void)state;
	assert_int_equal(ZT_PROFILE_FLAGS_ALL & ZT_PROFILE_LEARN,
	    ZT_PROFILE_LEARN);
	/* A bit of its own: DNS (128) came first. */
	assert_int_equal(ZT_PROFILE_LEARN & ZT_PROFILE_DNS, 0);
	assert_int_equal(ZT_PROFILE_FLAGS_ALL, 2 * ZT_PROFILE_LEARN - 1);
	allow_msg(&sent);
	assert_int_equal(zt_msg_begin_record(&sent, ZT_F_PROFILE), 0);
	assert_int_equal(zt_msg_put_str(&sent, ZT_F_AGENT, "a"), 0);
	assert_int_equal(zt_msg_put_str(&sent, ZT_F_BINARY, "/bin/a"), 0);
	assert_int_equal(zt_msg_put_u32(&sent, ZT_F_FLAGS,
	    ZT_PROFILE_FLAGS_ALL + 1), 0);
	assert_int_equal(zt_msg_put_u32(&sent, ZT_F_DECISION_TTL, 0), 0);
	assert_int_equal(zt_msg_end_record(&sent), 0);
	assert_int_equal(profile_off_wire(&sent, &p, error), -EINVAL);
	assert_string_equal(error, "ztd's profile: unknown flags");
}

static void
test_empty_load(void **state)
{
	struct fixture *f = *state;

	poison_error(f->error);
	assert_int_equal(config_load(f->path, &f->config, f->error), 0);
	assert_string_equal(f->error, "");
	check_defaults(f->config, f->path);
}

static void
test_empty_parse(void **state)
{
	struct fixture *f = *state;

	poison_error(f->error);
	assert_int_equal(config_parse("/etc/zt/ztd.conf", "", &f->config,
	    f->error), 0);
	assert_string_equal(f->error, "");
	check_defaults(f->config, "/etc/zt/ztd.conf");
}

/* A session shorter than the default decision_ttl shrinks the default. */
static void
test_short_session(void **state)
{
	struct ztd_config *c = NULL;
	char error[CONFIG_ERROR_MAX];

	(void)state;
	assert_int_equal(config_parse("/etc/zt/ztd.conf", AGENT_HEAD
	    "    session_ttl = 10;\n" AGENT_TAIL, &c, error), 0);
	assert_int_equal(c->agents[0].session_ttl, 10);
	assert_int_equal(c->agents[0].decision_ttl, 10);
	config_free(c);
}

/* Host rules: lower-cased, wildcards, private, the defaults of ztd.dns,
 * its upstreams in canonical form, and the warning about a broad CIDR
 * rule beside them. */
static void
count_warning(const char *text, void *arg)
{
	unsigned *n = arg;

	assert_non_null(strstr(text, "is moot on the ports it shares with"));
	(*n)++;
}

/* A warning about a Python command with any arguments. */
static void
count_python_warning(const char *text, void *arg)
{
	unsigned *n = arg;

	assert_non_null(strstr(text, ":8: command /usr/bin/python3 of agent "
	    "backup runs Python with any arguments"));
	(*n)++;
}

/* Python rules that keep the working directory off sys.path load; one
 * with any arguments loads with a warning; names not Python's are not
 * looked at. */
static void
test_python_rules(void **state)
{
	struct ztd_config *c = NULL;
	char error[CONFIG_ERROR_MAX];
	unsigned warnings = 0;

	(void)state;
	assert_int_equal(config_parse("/etc/zt/ztd.conf", AGENT_HEAD
	    "    commands = (\n"
	    "      { path = \"/usr/bin/python3\"; risk = \"low\"; },\n"
	    "      { path = \"/usr/bin/python3.11\"; risk = \"low\"; args = (\n"
	    "        [\"-I\", \"-m\", \"json.tool\", \"**\"],\n"
	    "        [\"-P\", \"-c\", \"print(1)\"],\n"
	    "        [\"-BI\", \"-m\", \"x\"],\n"
	    "        [\"-W\", \"ignore\", \"-I\", \"-c\", \"x\"],\n"
	    "        [\"-X\", \"dev\", \"-sP\", \"**\"],\n"
	    "        [\"/usr/lib/tool/x.py\", \"-m\", \"**\"],\n"
	    "        [\"-B\", \"--\", \"/usr/lib/tool/-y.py\"],\n"
	    "        [\"-V\"], [\"--version\"]); },\n"
	    "      { path = \"/usr/bin/python\"; risk = \"deny\"; },\n"
	    "      { path = \"/opt/x/python3-config\"; risk = \"low\";\n"
	    "        args = ([\"-m\", \"**\"]); },\n"
	    "      { path = \"/opt/x/pythonic\"; risk = \"low\";\n"
	    "        args = ([\"-c\", \"**\"]); }\n"
	    "    );\n" AGENT_TAIL, &c, error), 0);
	assert_int_equal(c->agents[0].n_commands, 5);
	assert_int_equal(config_warnings(c, count_python_warning, &warnings),
	    1);
	assert_int_equal(warnings, 1);
	config_free(c);
}

static void
test_host_rules(void **state)
{
	struct ztd_config *c = NULL;
	char error[CONFIG_ERROR_MAX];
	const struct network_rule *n;
	unsigned warnings = 0;

	(void)state;
	assert_int_equal(config_parse("/etc/zt/ztd.conf",
	    "ztd: { dns: { upstream = [\"127.0.0.53\", \"[::1]:5353\", "
	    "\"10.0.0.2:54\"]; max_ttl = 60; }; };\n" AGENT_HEAD
	    "    network = (\n"
	    "      { host = \"API.Example.com\"; ports = \"443\"; },\n"
	    "      { host = \"*.pkg.example.org\"; ports = \"80,443\"; },\n"
	    "      { host = \"db.internal\"; private = true; ports = \"5432\";"
	    " tunnel = true; ca = \"/etc/zt/ca/db.pem\"; },\n"
	    "      { to = \"0.0.0.0/0\"; ports = \"443-444\"; }\n"
	    "    );\n" AGENT_TAIL, &c, error), 0);
	assert_int_equal(c->dns.n_upstream, 3);
	assert_string_equal(c->dns.upstream[0], "127.0.0.53:53");
	assert_string_equal(c->dns.upstream[1], "[::1]:5353");
	assert_string_equal(c->dns.upstream[2], "10.0.0.2:54");
	assert_int_equal(c->dns.min_ttl, 5);
	assert_int_equal(c->dns.max_ttl, 60);
	assert_int_equal(c->dns.max_entries, 4096);
	n = c->agents[0].network;
	assert_string_equal(n[0].host, "api.example.com");
	assert_false(n[0].wildcard);
	assert_false(n[0].private_ok);
	assert_int_equal(n[0].family, 0);
	assert_null(n[0].unix_path);
	assert_string_equal(n[1].host, "pkg.example.org");
	assert_true(n[1].wildcard);
	assert_true(n[2].private_ok);
	assert_true(n[2].tunnel);
	assert_null(n[2].server_name);
	assert_true(policy_host_matches(&n[0], "api.example.com"));
	assert_false(policy_host_matches(&n[0], "x.api.example.com"));
	assert_true(policy_host_matches(&n[1], "a.pkg.example.org"));
	assert_true(policy_host_matches(&n[1], "a.b.pkg.example.org"));
	assert_false(policy_host_matches(&n[1], "pkg.example.org"));
	assert_false(policy_host_matches(&n[1], "apkg.example.org"));
	assert_false(policy_host_matches(&n[3], "api.example.com"));
	/* 0.0.0.0/0 on 443-444 makes both rules on 443 moot, not 5432. */
	assert_int_equal(config_warnings(c, count_warning, &warnings), 2);
	assert_int_equal(warnings, 2);

	/* What zt-exec is told: a resolver, both families, the servers and
	 * the longest TTL, through the wire and back. */
	{
		static struct zt_msg sent, received;
		static struct profile p;
		struct zt_record r;
		char why[160];

		assert_int_equal(zt_msg_init(&sent, ZT_MSG_DECISION, 1), 0);
		assert_int_equal(zt_msg_put_u32(&sent, ZT_F_DECISION,
		    ZT_DECISION_ALLOW), 0);
		assert_int_equal(zt_msg_put_str(&sent, ZT_F_REASON, "r"), 0);
		assert_int_equal(policy_put_profile(&sent, &c->agents[0],
		    &c->dns), 0);
		assert_int_equal(zt_msg_decode(&received, sent.wire,
		    sent.size), 0);
		assert_int_equal(zt_msg_get_record(&received, ZT_F_PROFILE,
		    &r), 0);
		assert_int_equal(profile_from_record(&r, &p, why), 0);
		assert_true(p.dns);
		assert_true(p.inet);
		assert_true(p.inet6);
		assert_false(p.unix_);
		assert_true(p.tunnel);
		assert_int_equal(p.n_dns_upstream, 3);
		assert_string_equal(p.dns_upstream[1], "[::1]:5353");
		assert_int_equal(p.dns_max_ttl, 60);
	}
	config_free(c);
}

/* A message longer than CONFIG_ERROR_MAX is cut, never overflows. */
static void
test_long_path(void **state)
{
	char path[3001], error[CONFIG_ERROR_MAX];
	struct ztd_config *c = POISON;

	(void)state;
	poison_error(error);
	path[0] = '/';
	memset(path + 1, 'p', sizeof(path) - 2);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(config_parse(path, "ztd = 1;\n", &c, error),
	    ZT_E_CONFIG);
	assert_null(c);
	assert_int_equal(strlen(error), CONFIG_ERROR_MAX - 1);
	assert_memory_equal(error, path, CONFIG_ERROR_MAX - 1);
}

/* The line of TEXT on which NEEDLE starts. */
static int
line_of(const char *text, const char *needle)
{
	const char *at = strstr(text, needle);
	int line = 1;

	assert_non_null(at);
	for (const char *s = text; s < at; s++)
		if (*s == '\n')
			line++;
	return line;
}

static void
check_network_rules(const struct agent *a)
{
	static const uint8_t v4_host[4] = { 10, 0, 0, 5 };
	static const uint8_t v4_net[4] = { 192, 168, 10, 0 };
	static const uint8_t v6_net[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	const struct network_rule *n = a->network;

	assert_int_equal(a->n_network, 4);

	assert_int_equal(n[0].family, AF_INET);
	assert_memory_equal(n[0].addr, v4_host, sizeof(v4_host));
	assert_int_equal(n[0].prefix, 32);
	assert_int_equal(n[0].proto, PROTO_TCP);
	assert_int_equal(n[0].n_ports, 1);
	assert_int_equal(n[0].ports[0].first, 5432);
	assert_int_equal(n[0].ports[0].last, 5432);
	assert_false(n[0].tunnel);
	assert_null(n[0].server_name);
	assert_null(n[0].ca);
	assert_null(n[0].unix_path);

	assert_int_equal(n[1].family, AF_INET);
	assert_memory_equal(n[1].addr, v4_net, sizeof(v4_net));
	assert_int_equal(n[1].prefix, 24);
	assert_int_equal(n[1].proto, PROTO_TCP);
	assert_int_equal(n[1].n_ports, 2);
	assert_int_equal(n[1].ports[0].first, 443);
	assert_int_equal(n[1].ports[0].last, 443);
	assert_int_equal(n[1].ports[1].first, 8443);
	assert_int_equal(n[1].ports[1].last, 8450);
	assert_true(n[1].tunnel);
	assert_string_equal(n[1].server_name, "db.internal");
	assert_string_equal(n[1].ca, "/etc/zt/ca/db.pem");
	assert_null(n[1].unix_path);
	assert_int_equal(n[1].line,
	    line_of(full_text, "{ to = \"192.168.10.0/24\""));

	assert_int_equal(n[2].family, AF_INET6);
	assert_memory_equal(n[2].addr, v6_net, sizeof(v6_net));
	assert_int_equal(n[2].prefix, 32);
	assert_int_equal(n[2].proto, PROTO_UDP);
	assert_int_equal(n[2].n_ports, 1);
	assert_int_equal(n[2].ports[0].first, 53);
	assert_int_equal(n[2].ports[0].last, 53);
	assert_false(n[2].tunnel);

	assert_int_equal(n[3].family, 0);
	assert_string_equal(n[3].unix_path, "/run/postgresql/.s.PGSQL.5432");
	assert_int_equal(n[3].n_ports, 0);
	assert_false(n[3].tunnel);
	assert_null(n[3].server_name);
	assert_null(n[3].ca);
}

static void
check_full(const struct ztd_config *c, const char *path)
{
	static const unsigned pcrs[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	const struct agent *a, *m;

	assert_non_null(c);
	assert_string_equal(c->path, path);
	assert_string_equal(c->socket, "/run/zt-test/ztd.sock");
	assert_string_equal(c->state_dir, "/var/lib/zt-test");
	assert_int_equal(c->max_clients, 512);
	assert_string_equal(c->trust_domain, "host.example");
	assert_string_equal(c->audit_file, "/var/log/zt/audit.log");
	assert_false(c->audit_require);
	assert_int_equal(c->audit_deny_rate_milli, 500);
	assert_int_equal(c->audit_deny_burst, 7);
	assert_int_equal(c->cache_max_entries, 4096);

	assert_int_equal(c->attest_mode, ATTEST_SOFTWARE);
	assert_string_equal(config_attest_mode_name(c->attest_mode),
	    "software");
	assert_string_equal(c->tcti, "swtpm:host=127.0.0.1,port=2321");
	assert_int_equal(c->n_pcrs, ARRAY_SIZE(pcrs));
	for (size_t i = 0; i < ARRAY_SIZE(pcrs); i++)
		assert_int_equal(c->pcrs[i], pcrs[i]);
	assert_string_equal(c->golden, "/var/lib/zt-test/golden.pcrs");
	assert_int_equal(c->quote_interval, 15);
	assert_int_equal(c->session_max_age, 120);
	assert_int_equal(c->high_risk_max_age, 0);
	assert_int_equal(c->n_measured_files, 2);
	assert_string_equal(c->measured_files[0], "/boot/vmlinuz");
	assert_string_equal(c->measured_files[1], "/boot/initrd.img");

	assert_int_equal(c->n_publishers, 1);
	assert_string_equal(c->publishers[0].name, "acme");
	assert_string_equal(c->publishers[0].key, "/etc/zt/keys/acme.pub");
	assert_int_equal(c->publishers[0].line,
	    line_of(full_text, "  { name = \"acme\""));

	assert_int_equal(c->n_agents, 2);
	a = config_find_agent(c, "backup");
	assert_ptr_equal(a, &c->agents[0]);
	assert_int_equal(a->line, line_of(full_text, "agents = (") + 1);
	assert_string_equal(a->name, "backup");
	assert_int_equal(a->n_accounts, 1);
	assert_string_equal(a->accounts[0], "svc-backup");
	assert_int_equal(a->n_pam_services, 2);
	assert_string_equal(a->pam_services[0], "cron");
	assert_string_equal(a->pam_services[1], "zt-agent");
	assert_string_equal(a->binary, "/opt/agents/backup-agent");
	assert_int_equal(a->n_sha256, 1);
	assert_memory_equal(a->sha256[0], digest_bytes, sizeof(digest_bytes));
	assert_string_equal(a->publisher, "acme");
	assert_int_equal(a->session_ttl, 7200);
	assert_int_equal(a->decision_ttl, 45);
	assert_int_equal(a->on_violation, VIOLATION_KILL);
	assert_int_equal(a->landlock, LANDLOCK_OPTIONAL);

	assert_int_equal(a->n_commands, 3);
	assert_string_equal(a->commands[0].path, "/usr/bin/rsync");
	assert_int_equal(a->commands[0].risk, RISK_LOW);
	assert_string_equal(a->commands[1].path, "/usr/bin/psql");
	assert_int_equal(a->commands[1].risk, RISK_HIGH);
	assert_string_equal(a->commands[2].path, "/bin/sh");
	assert_int_equal(a->commands[2].risk, RISK_DENY);
	assert_int_equal(a->commands[2].line,
	    line_of(full_text, "{ path = \"/bin/sh\""));

	check_network_rules(a);

	assert_true(a->files_given);
	assert_int_equal(a->n_files, 2);
	assert_string_equal(a->files[0].path, "/var/backups");
	assert_int_equal(a->files[0].access, ACCESS_READ | ACCESS_WRITE);
	assert_string_equal(a->files[1].path, "/usr");
	assert_int_equal(a->files[1].access, ACCESS_READ | ACCESS_EXEC);

	assert_int_equal(a->n_syscalls_deny, 3);
	assert_string_equal(a->syscalls_deny[0], "ptrace");
	assert_string_equal(a->syscalls_deny[1], "mount");
	assert_string_equal(a->syscalls_deny[2], "bpf");
	assert_int_equal(a->n_syscalls_gate, 1);
	assert_string_equal(a->syscalls_gate[0], "setuid");

	/* An agent that gives only what is required gets the defaults. */
	m = config_find_agent(c, "monitor");
	assert_ptr_equal(m, &c->agents[1]);
	assert_int_equal(m->n_accounts, 1);
	assert_string_equal(m->accounts[0], "svc-monitor");
	assert_int_equal(m->n_pam_services, 0);
	assert_int_equal(m->n_sha256, 0);
	assert_string_equal(m->publisher, "acme");
	assert_int_equal(m->session_ttl, 3600);
	assert_int_equal(m->decision_ttl, 30);
	assert_int_equal(m->on_violation, VIOLATION_DENY);
	assert_int_equal(m->landlock, LANDLOCK_REQUIRED);
	assert_int_equal(m->n_commands, 0);
	assert_int_equal(m->n_network, 0);
	assert_false(m->files_given);
	assert_int_equal(m->n_files, 0);
	assert_int_equal(m->n_syscalls_deny, 0);
	assert_int_equal(m->n_syscalls_gate, 0);

	assert_null(config_find_agent(c, "nobody"));
}

static void
test_full_load(void **state)
{
	struct fixture *f = *state;

	poison_error(f->error);
	assert_int_equal(config_load(f->path, &f->config, f->error), 0);
	assert_string_equal(f->error, "");
	check_full(f->config, f->path);
}

static void
test_full_parse(void **state)
{
	struct fixture *f = *state;

	poison_error(f->error);
	assert_int_equal(config_parse("/etc/zt/ztd.conf", f->text, &f->config,
	    f->error), 0);
	assert_string_equal(f->error, "");
	check_full(f->config, "/etc/zt/ztd.conf");
}

/* cmocka names a test by its function; each case here has its own name. */
static struct CMUnitTest
case_test(const char *name, CMUnitTestFunction function,
    struct config_case *cc)
{
	return (struct CMUnitTest){
		.name = name,
		.test_func = function,
		.setup_func = setup_case,
		.teardown_func = teardown_case,
		.initial_state = cc,
	};
}

int
main(void)
{
	static char names[2 * ARRAY_SIZE(bad_configs)][96];
	static struct CMUnitTest tests[13 + 2 * ARRAY_SIZE(bad_configs)];
	size_t n = 0;

	tests[n++] = case_test("config_load: the shipped file",
	    test_shipped_default, &shipped_file);
	tests[n++] = case_test("config_load: 128 files, to zt-exec and back",
	    test_profile_round_trip, &files_128);
	tests[n++] = case_test("config_load: learn mode in the profile",
	    test_profile_learn, &learning_agents);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(
	    test_profile_unknown_flag);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_long_path);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_short_session);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_host_rules);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_python_rules);
	tests[n++] = case_test("config_load: empty file", test_empty_load,
	    &empty_file);
	tests[n++] = case_test("config_parse: empty file", test_empty_parse,
	    &empty_file);
	tests[n++] = case_test("config_load: every key", test_full_load,
	    &full_file);
	tests[n++] = case_test("config_parse: every key", test_full_parse,
	    &full_file);
	for (size_t i = 0; i < ARRAY_SIZE(bad_configs); i++) {
		struct config_case *cc = &bad_configs[i];

		snprintf(names[2 * i], sizeof(names[0]), "config_load: %s",
		    cc->name);
		tests[n++] = case_test(names[2 * i], test_load_case, cc);
		if (cc->parse == PARSE_NONE)
			continue;
		snprintf(names[2 * i + 1], sizeof(names[0]),
		    "config_parse: %s", cc->name);
		tests[n++] = case_test(names[2 * i + 1], test_parse_case, cc);
	}
	/*
	 * The count is known only now (some cases have no text to parse), so
	 * call what cmocka_run_group_tests() expands to: one group, one TAP
	 * plan.
	 */
	return _cmocka_run_group_tests("config", tests, n, NULL, NULL);
}

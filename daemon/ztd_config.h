/* SPDX-License-Identifier: Apache-2.0 */
/* ztd's configuration: the validated, immutable form of /etc/zt/ztd.conf. */
#ifndef ZTD_CONFIG_H
#define ZTD_CONFIG_H

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_FILE_MAX (1024 * 1024)	/* larger files are refused */
#define CONFIG_ERROR_MAX 512
#define CONFIG_PCR_MAX 24
#define CONFIG_PORT_RANGES_MAX 64
#define CONFIG_LIST_MAX 4096		/* entries in any one list */

enum attest_mode { ATTEST_AUTO, ATTEST_TPM, ATTEST_SOFTWARE };
enum risk { RISK_LOW, RISK_HIGH, RISK_DENY };
enum violation { VIOLATION_DENY, VIOLATION_KILL };
enum landlock_need { LANDLOCK_REQUIRED, LANDLOCK_OPTIONAL };
enum proto { PROTO_TCP, PROTO_UDP };

/* File access modes of a files rule, as bits. */
#define ACCESS_READ 1u
#define ACCESS_WRITE 2u
#define ACCESS_EXEC 4u

struct port_range {
	uint16_t first, last;	/* inclusive */
};

/*
 * One alternative of a command's `args`: fnmatch patterns (flags 0)
 * matched one to one against argv[1], argv[2], ...; REST: it ended in
 * "**", which matches any remaining arguments (none included).
 */
struct args_alternative {
	char **patterns;
	size_t n_patterns;
	bool rest;
	int line;
};

struct command_rule {
	char *path;
	enum risk risk;
	int line;
	/* args: the exec is allowed when one alternative matches; n_args 0
	 * (no args key) allows every argument list. */
	struct args_alternative *args;
	size_t n_args;
};

struct network_rule {
	/* Exactly one of: an address block (family != 0), or a unix path. */
	int family;		/* AF_INET, AF_INET6, or 0 for unix */
	bool listen;		/* the block is local (listen = ...): inbound
				 * only; else a destination (to = ...) */
	uint8_t addr[16];	/* network byte order, host bits zero */
	unsigned prefix;
	enum proto proto;
	struct port_range ports[CONFIG_PORT_RANGES_MAX];
	size_t n_ports;
	bool tunnel;
	char *server_name;	/* tunnel only */
	char *ca;		/* tunnel only */
	char *unix_path;	/* unix only */
	/* A name rule (host = ...): family 0, unix_path NULL.  HOST is the
	 * name lower-cased, without the "*." of a wildcard (WILDCARD set:
	 * the rule matches names strictly under HOST). */
	char *host;
	bool wildcard;
	bool private_ok;	/* private = true: answers in loopback,
				 * private, link-local, unique-local ranges
				 * are kept */
	int line;
};

/* ztd.dns: the resolver zt-exec runs for a grant of a profile with host
 * rules. */
#define CONFIG_DNS_UPSTREAMS_MAX 8
struct dns_config {
	char *upstream[CONFIG_DNS_UPSTREAMS_MAX];	/* "ADDR:PORT",
					 * "[ADDR6]:PORT"; none: the
					 * nameservers of /etc/resolv.conf */
	size_t n_upstream;
	unsigned min_ttl, max_ttl;	/* seconds an answer is remembered */
	unsigned max_entries;		/* addresses remembered per grant */
};

struct file_rule {
	char *path;
	unsigned access;	/* ACCESS_* bits */
	int line;
};

struct agent {
	char *name;
	char **accounts;
	size_t n_accounts;
	char **pam_services;
	size_t n_pam_services;
	char *binary;
	uint8_t (*sha256)[32];
	size_t n_sha256;
	char *publisher;		/* a name in config.publishers, or NULL */
	unsigned session_ttl;		/* seconds */
	unsigned decision_ttl;		/* seconds */
	enum violation on_violation;
	enum landlock_need landlock;
	struct command_rule *commands;
	size_t n_commands;
	struct network_rule *network;
	size_t n_network;
	struct file_rule *files;
	size_t n_files;
	bool files_given;		/* no files list: no file confinement */
	char **syscalls_deny;
	size_t n_syscalls_deny;
	char **syscalls_gate;
	size_t n_syscalls_gate;
	/* Variables zt-exec passes to the agent besides its safe base, and
	 * the only ones of zt_env_is_dangerous an exec may carry: names, or
	 * prefixes ending in '*'. */
	char **env;
	size_t n_env;
	/* Learn mode (enforce = false): until LEARN_UNTIL (unix time, from
	 * learn_until), what the profile does not list is allowed and
	 * audited enforced=no; explicit denies still hold. */
	bool learn;
	int64_t learn_until;
	int line;
};

struct publisher {
	char *name;
	char *key;
	int line;
};

#define FLEET_ENDPOINTS_MAX 16
#define FLEET_URL_MAX 256
#define FLEET_PREFIX_MAX 128

/* The fleet section: where etcd is, who this host is, whose key it obeys. */
struct fleet_config {
	bool enabled;			/* a fleet section is present */
	char **endpoints;		/* "https://HOST:PORT", or "http://"
					 * to a loopback address only */
	size_t n_endpoints;
	char *prefix;			/* "/ztgate": no trailing '/' */
	char *host;			/* this host's name in PREFIX/hosts/ */
	char *ca, *cert, *key;		/* NULL: none (cert and key go
					 * together; ca for every https) */
	char *user, *password_file;	/* etcd auth, both or neither */
	char *admin_key;		/* PEM public key, Ed25519 or P-256 */
	unsigned heartbeat;		/* seconds; the lease is 3 of them */
	unsigned max_offline;		/* seconds since the last sync */
};

struct ztd_config {
	char *path;			/* the file it was read from */
	/* ztd */
	char *socket;
	char *state_dir;
	unsigned max_clients;		/* supervisors; and all other uids */
	unsigned max_clients_per_uid;	/* one uid but root and supervisors */
	unsigned max_supervisors_per_uid; /* live launches of one uid */
	char *supervisor_group;		/* "": none */
	char *agent_group;		/* "": no check; else every agent's
					 * account must be in it */
	gid_t supervisor_gid;		/* (gid_t)-1: no such group here */
	unsigned idle_timeout;		/* seconds a silent client is kept */
	char *trust_domain;
	unsigned cert_lifetime;		/* seconds a tunnel certificate lives
					 * at most */
	char *audit_file;		/* NULL: no audit file */
	bool audit_require;
	bool audit_relay;		/* syslog lines through zt_log's relay
					 * (read at start) */
	unsigned audit_deny_rate_milli;	/* denies of one grant audited one
					 * by one per 1000 s (0: all) */
	unsigned audit_deny_burst;	/* ... and at once after a quiet time */
	unsigned cache_max_entries;
	struct dns_config dns;
	/* attestation */
	enum attest_mode attest_mode;
	char *tcti;
	unsigned pcrs[CONFIG_PCR_MAX];
	size_t n_pcrs;
	char *golden;
	unsigned quote_interval;
	unsigned session_max_age;
	unsigned high_risk_max_age;
	char **measured_files;
	size_t n_measured_files;
	/* fleet */
	struct fleet_config fleet;
	bool fleet_policy;		/* publishers and agents came from the
					 * fleet's signed policy */
	/* policy */
	struct publisher *publishers;
	size_t n_publishers;
	struct agent *agents;
	size_t n_agents;
};

/*
 * Read, check and return the configuration at PATH.  The file must be a
 * regular file owned by root (or by the euid running ztd), not writable by
 * group or others, at most CONFIG_FILE_MAX bytes, without @include.
 * Returns 0 and *CONFIG (free with config_free), or ZT_E_CONFIG /
 * ZT_E_UNSAFE / -errno with ERROR (CONFIG_ERROR_MAX bytes) set to
 * "PATH:LINE: what is wrong" (or "PATH: what is wrong" for the whole file).
 */
int config_load(const char *path, struct ztd_config **config, char *error);

/* The same from text held in memory; PATH only names it in errors. */
int config_parse(const char *path, const char *text,
    struct ztd_config **config, char *error);

/*
 * config_load, but with the publishers and agents of POLICY_TEXT (a fleet
 * policy: only those two sections, publisher keys inline as PEM) instead
 * of the file's; POLICY_TEXT NULL is config_load.  Errors in the policy
 * name POLICY_NAME and its line.
 */
int config_load_with_policy(const char *path, const char *policy_name,
    const char *policy_text, struct ztd_config **config, char *error);

/* The same from texts held in memory (TEXT may be "": defaults). */
int config_parse_with_policy(const char *path, const char *text,
    const char *policy_name, const char *policy_text,
    struct ztd_config **config, char *error);

/*
 * The host name audit records should carry: the fleet's host name
 * (fleet.host) when a fleet section is configured, so that records from
 * many hosts name the host as the fleet knows it; NULL otherwise (the
 * system's host name then).
 */
const char *config_host_name(const struct ztd_config *config);

/* Is S a name of an agent or publisher: [A-Za-z0-9_.-]{1,64}, not
 * starting with '.' or '-'? */
bool config_is_name(const char *s);

/* Is KEY an inline PEM public key (a fleet policy's publisher key)
 * rather than a path? */
bool config_key_is_inline(const char *key);

void config_free(struct ztd_config *config);

/*
 * Warnings of a configuration that loads but says something moot: a host
 * rule beside a CIDR rule whose broad block (IPv4 /8 or wider, IPv6 /32
 * or wider) covers the same protocol and ports, so that the name rule
 * decides nothing; a Python command with any arguments, which approves
 * any code the agent writes (a Python command whose args would restrict
 * it yet let it import from its working directory is refused at load).
 * Calls WARN once per finding with "PATH:LINE: text".
 * Returns how many.
 */
unsigned config_warnings(const struct ztd_config *config,
    void (*warn)(const char *text, void *arg), void *arg);

/* Is NAME a DNS name a host rule or a question may carry: labels of
 * [a-z0-9-_] (lower case), 1-63 bytes, at most 253 in all, no trailing
 * dot. */
bool config_is_host_name(const char *name);

/* Find an agent by name; NULL when absent. */
const struct agent *config_find_agent(const struct ztd_config *config,
    const char *name);

const char *config_attest_mode_name(enum attest_mode mode);

#endif

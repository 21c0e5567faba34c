/* SPDX-License-Identifier: Apache-2.0 */
/* The wire codec: one message per SOCK_SEQPACKET datagram, strictly decoded. */
#ifndef ZT_MSG_H
#define ZT_MSG_H

#include <stddef.h>
#include <stdint.h>

/*
 * A message is a 16-byte header followed by LENGTH bytes of fields, all
 * integers in network byte order:
 *
 *	u32 magic "ZTG1" | u16 version | u16 type | u32 request id | u32 length
 *	then fields:  u16 tag | u16 size | SIZE bytes of value
 *
 * Each message type has a schema (which fields it takes, which it needs)
 * and each tag a kind (u32, u64, string, bytes, record).  A record's value
 * is itself a run of fields in the same format, checked against the
 * record's own schema (which sub-fields it takes and needs, which may
 * repeat and how often), records nesting at most ZT_MSG_DEPTH_MAX deep.
 * A datagram is at most ZT_MSG_MAX bytes; the decoder never allocates and
 * never trusts a size before checking it against what it actually
 * received.
 *
 * Request ids are chosen by the client and echoed in the reply.  Id 0 is
 * reserved for events the daemon pushes unasked.
 */
#define ZT_MSG_MAGIC 0x5a544731u
#define ZT_MSG_VERSION 1
#define ZT_MSG_HEADER_SIZE 16
#define ZT_MSG_FIELD_HEADER_SIZE 4
#define ZT_MSG_MAX 4096
#define ZT_MSG_FIELDS_MAX 32	/* fields at the top of a message */
#define ZT_MSG_SUBFIELDS_MAX 512	/* fields inside its records, in all */
#define ZT_MSG_DEPTH_MAX 2	/* a record may hold records, no deeper */
#define ZT_REPORT_RECORDS_MAX 64	/* ZT_F_RECORD in one ZT_F_RECORDS */
#define ZT_GRANT_INFOS_MAX 32	/* ZT_F_GRANT_INFO in one ZT_F_GRANT_LIST */
#define ZT_PROFILE_ITEMS_MAX 480	/* repeated fields in one ZT_F_PROFILE */
#define ZT_PROFILE_LIST_MAX 128	/* FILE, COMMAND, SYSCALL_DENY or
				 * SYSCALL_GATE in one ZT_F_PROFILE, each */
#define ZT_PROFILE_UPSTREAMS_MAX 8	/* DNS_UPSTREAM in one ZT_F_PROFILE */
#define ZT_ANSWERS_MAX 32	/* ZT_F_ANSWER in one ZT_F_ANSWERS */
#define ZT_ALLOWS_MAX 16	/* ZT_F_ALLOW in one ZT_F_ALLOWS */
#define ZT_TOKEN_SIZE 16	/* ZT_F_TOKEN: a truncated HMAC-SHA256 */

enum zt_msg_type {
	ZT_MSG_ERROR = 1,		/* reply: CODE, TEXT */
	ZT_MSG_STATUS = 2,		/* request: no fields */
	ZT_MSG_STATUS_REPLY = 3,	/* reply: the daemon's state (COUNT:
					 * addresses grants' resolvers were
					 * answered, remembered now) */
	ZT_MSG_RELOAD = 4,		/* request: no fields (root only) */
	ZT_MSG_RELOAD_REPLY = 5,	/* reply: GENERATION */
	ZT_MSG_CHECK = 6,		/* admin dry run: AGENT ACTION OBJECT
					 * [ACCOUNT] [GRANT] */
	ZT_MSG_DECISION = 7,		/* reply: DECISION REASON [RISK] [GRANT]
					 * [AGENT] [TTL_MS] [EXPIRES_MS] ...;
					 * a cacheable allow: TOKEN CACHE_UNTIL;
					 * a resolve's allow: FLAGS
					 * (ZT_RESOLVE_*) */
	ZT_MSG_DECIDE = 8,		/* ACTION OBJECT [GRANT] [PID]: may the
					 * subject (the peer, or the grant's
					 * agent) act?  PID: the acting process
					 * a supervisor names, for the audit */
	ZT_MSG_SESSION_OPEN = 9,	/* UID SERVICE [ACCOUNT] [RHOST] [TTY]
					 * [FLAGS: ZT_SESSION_CHECK_ONLY] */
	ZT_MSG_SESSION_CLOSE = 10,	/* GRANT */
	ZT_MSG_GRANTS = 11,		/* admin: [OFFSET] */
	ZT_MSG_GRANTS_REPLY = 12,	/* COUNT GRANT_LIST [OFFSET of the next
					 * page] */
	ZT_MSG_REVOKE = 13,		/* admin: GRANT | AGENT | ACCOUNT, [FLAGS] */
	ZT_MSG_REVOKE_REPLY = 14,	/* COUNT */
	ZT_MSG_EVENT = 15,		/* pushed, request id 0: EVENT GRANT [REASON] */
	ZT_MSG_ENROLL_HOST = 16,	/* admin: record the golden values now */
	ZT_MSG_ATTEST = 17,		/* admin: measure now; DECISION reply with
					 * LIST (PCRs) and ATTEST_AGE */
	ZT_MSG_LAUNCH = 18,		/* zt-exec: OBJECT (the command) [AGENT]
					 * [GRANT of the PAM session]: DECISION
					 * with GRANT, EXPIRES_MS, PROFILE, SHA256 */
	ZT_MSG_REPORT = 19,		/* GRANT RECORDS: allows served from a
					 * supervisor's local cache, to audit,
					 * each with the TOKEN of its allow */
	ZT_MSG_REPORT_REPLY = 20,	/* COUNT written */
	ZT_MSG_CA_SHOW = 21,		/* anyone: no fields */
	ZT_MSG_CA_REPLY = 22,		/* TEXT: PEM, the tunnel CA certificate
					 * (CA_SHOW) or its CRL (CA_CRL) */
	ZT_MSG_SIGN = 23,		/* GRANT CSR: a grant's supervisor asks
					 * for its tunnel client certificate */
	ZT_MSG_SIGN_REPLY = 24,		/* CERT SERIAL NOT_AFTER EXPIRES_MS (ms
					 * it lives from now, for renewal on a
					 * clock no wall-clock step moves) */
	ZT_MSG_AGENT_PID = 25,		/* GRANT PID: the agent a supervisor
					 * launched (its session is the grant's
					 * to kill); REPORT_REPLY with COUNT 1 */
	ZT_MSG_CA_CRL = 26,		/* root: no fields; CA_REPLY with the
					 * CRL of the tunnel CA */
	ZT_MSG_AUDIT_REOPEN = 27,	/* root: no fields: start a new audit
					 * file (after logrotate) */
	ZT_MSG_AUDIT_REOPEN_REPLY = 28,	/* AUDIT_SEQ (the new file's first
					 * record) TEXT (its path) */
	ZT_MSG_LEARN = 29,		/* GRANT OBJECT ("dns:NAME", the question)
					 * LIST (the CNAME chain from NAME, one
					 * name a line) [ANSWERS]: what the
					 * grant's resolver was answered;
					 * REPORT_REPLY with COUNT (names of the
					 * chain ztd kept: a prefix) and FLAGS
					 * (bit i: ANSWER i remembered) */
	ZT_MSG_DISABLE = 30,		/* root: AGENT [TEXT: why]: disable it
					 * locally and persistently, end its
					 * grants; REVOKE_REPLY with COUNT */
	ZT_MSG_ENABLE = 31,		/* root: AGENT: lift a local disable;
					 * REVOKE_REPLY with COUNT 1 (lifted)
					 * or 0 (was not disabled) */
	ZT_MSG_TYPE_MAX = 32,		/* first value that is not a type */
};

enum zt_field_tag {
	ZT_F_CODE = 1,		/* u32: a zt_err code, as two's complement */
	ZT_F_TEXT = 2,		/* string: human-readable detail */
	ZT_F_VERSION = 3,	/* string: the daemon's version */
	ZT_F_UPTIME = 4,	/* u64: seconds since start (CLOCK_BOOTTIME) */
	ZT_F_GENERATION = 5,	/* u64: policy generation, +1 per good load */
	ZT_F_AGENTS = 6,	/* u32: agents in the policy */
	ZT_F_CLIENTS = 7,	/* u32: connected clients */
	ZT_F_MAX_CLIENTS = 8,	/* u32: client limit */
	ZT_F_CONFIG = 9,	/* string: configuration file */
	ZT_F_PID = 10,		/* u32: the daemon's pid (STATUS), the
				 * process acting (DECIDE, a REPORT's
				 * RECORD) */
	ZT_F_ATTEST_MODE = 11,	/* string: attestation mode configured */
	ZT_F_RELOAD_ERROR = 12,	/* string: why the last reload failed */
	ZT_F_AGENT = 13,	/* string: an agent's name */
	ZT_F_ACTION = 14,	/* u32: enum action of daemon/policy.h */
	ZT_F_OBJECT = 15,	/* string: the action's object */
	ZT_F_ACCOUNT = 16,	/* string: a user name (untrusted data) */
	ZT_F_GRANT = 17,	/* string: a grant id, 32 hex digits */
	ZT_F_DECISION = 18,	/* u32: ZT_DECISION_ALLOW, anything else denies */
	ZT_F_RISK = 19,		/* u32: 0 low, 1 high */
	ZT_F_REASON = 20,	/* string: why */
	ZT_F_TTL_MS = 21,	/* u32: how long the allow may be cached */
	ZT_F_UID = 22,		/* u32: a uid */
	ZT_F_SERVICE = 23,	/* string: a PAM service name */
	ZT_F_RHOST = 24,	/* string: PAM_RHOST (untrusted data) */
	ZT_F_TTY = 25,		/* string: PAM_TTY (untrusted data) */
	ZT_F_OFFSET = 26,	/* u32: where a listing starts */
	ZT_F_COUNT = 27,	/* u32: how many */
	ZT_F_LIST = 28,		/* string: one item per line (ATTEST's PCRs) */
	ZT_F_FLAGS = 29,	/* u32: ZT_REVOKE_KILL ... */
	ZT_F_CACHE_ENTRIES = 30,	/* u64 */
	ZT_F_CACHE_HITS = 31,	/* u64 */
	ZT_F_CACHE_MISSES = 32,	/* u64 */
	ZT_F_GRANTS = 33,	/* u32: live grants */
	ZT_F_ATTEST_STATE = 34,	/* string: "trusted" or why not */
	ZT_F_ATTEST_AGE = 35,	/* u64: seconds since the last good one */
	ZT_F_EVENT = 36,	/* u32: ZT_EVENT_* */
	ZT_F_EXPIRES_MS = 37,	/* u64: ms until the grant (SIGN_REPLY: the
				 * certificate) ends */
	ZT_F_AUDIT_SEQ = 38,	/* u64: last audit record */
	ZT_F_PROFILE = 39,	/* record: an agent's profile for zt-exec,
				 * AGENT BINARY FLAGS (ZT_PROFILE_*)
				 * DECISION_TTL, then FILE COMMAND
				 * SYSCALL_DENY SYSCALL_GATE ENV CA
				 * DNS_UPSTREAM repeated (at most
				 * ZT_PROFILE_ITEMS_MAX in all), [TTL_MS] */
	ZT_F_SHA256 = 40,	/* bytes: 32, a digest ztd checked */
	ZT_F_RECORDS = 41,	/* record: REPORT's cache hits, RECORD
				 * repeated (at most ZT_REPORT_RECORDS_MAX) */
	ZT_F_CSR = 42,		/* bytes: a DER certificate request */
	ZT_F_CERT = 43,		/* bytes: a DER certificate */
	ZT_F_SERIAL = 44,	/* string: a certificate serial, hex */
	ZT_F_NOT_AFTER = 45,	/* u64: unix time a certificate expires */
	ZT_F_TUNNEL = 46,	/* u32: 1 when the allowed connect must go
				 * through the mutual-TLS tunnel */
	ZT_F_SERVER_NAME = 47,	/* string: the name the server must prove */
	ZT_F_CA = 48,		/* string: the file of the CA it must chain to */
	ZT_F_TOKEN = 49,	/* bytes: ZT_TOKEN_SIZE, ztd's MAC over grant,
				 * action, object and CACHE_UNTIL of a
				 * cacheable allow (daemon/token.h) */
	ZT_F_CACHE_UNTIL = 50,	/* u64: CLOCK_BOOTTIME ms the cacheable
				 * allow (and its TOKEN) ends */
	ZT_F_RECORD = 51,	/* record: one cache hit, ACTION OBJECT AGE_MS
				 * [TOKEN] [CACHE_UNTIL] as ztd sent them */
	ZT_F_AGE_MS = 52,	/* u32: ms between a hit and its report */
	ZT_F_GRANT_LIST = 53,	/* record: GRANT_INFO repeated (at most
				 * ZT_GRANT_INFOS_MAX) */
	ZT_F_GRANT_INFO = 54,	/* record: one grant, GRANT AGENT ACCOUNT UID
				 * PID (supervisor) EXPIRES_MS SERVICE
				 * [SERIAL NOT_AFTER of its certificate] */
	ZT_F_BINARY = 55,	/* string: an agent's binary, absolute */
	ZT_F_DECISION_TTL = 56,	/* u32: seconds a supervisor may cache */
	ZT_F_FILE = 57,		/* record: a files rule, PATH ACCESS */
	ZT_F_PATH = 58,		/* string: an absolute path */
	ZT_F_ACCESS = 59,	/* u32: ZT_ACCESS_R | _W | _X */
	ZT_F_COMMAND = 60,	/* string: a command a profile may allow */
	ZT_F_SYSCALL_DENY = 61,	/* string: a syscall the profile refuses */
	ZT_F_SYSCALL_GATE = 62,	/* string: a syscall ztd decides */
	ZT_F_ENV = 63,		/* string: an environment NAME or PREFIX* */
	ZT_F_NAME = 64,		/* string: a DNS name */
	ZT_F_ADDRESS = 65,	/* bytes: 4 (IPv4) or 16 (IPv6), network order */
	ZT_F_ANSWERS = 66,	/* record: ANSWER repeated (at most
				 * ZT_ANSWERS_MAX) */
	ZT_F_ANSWER = 67,	/* record: one A/AAAA record, NAME (its owner)
				 * ADDRESS TTL_MS */
	ZT_F_DNS_UPSTREAM = 68,	/* string: a DNS server the grant's resolver
				 * asks, "ADDR:PORT" or "[ADDR6]:PORT" */
	ZT_F_ARGV = 69,		/* bytes: an exec's argv[1], argv[2], ...
				 * each ending in NUL (DECIDE, CHECK); with
				 * FLAGS ZT_DECIDE_ARGV_CUT only the first
				 * ones, the rest did not fit */
	ZT_F_AGENT_STATES = 70,	/* string: STATUS_REPLY's agents out of the
				 * ordinary, one per line: "disabled NAME
				 * WHY" or "learning NAME UNTIL" */
	ZT_F_FLEET = 71,	/* string: STATUS_REPLY's fleet state, "SYNC
				 * LAST_SYNC SERIAL DISABLED DENYING
				 * MAX_OFFLINE HOST [ENDPOINT]": SYNC and
				 * DENYING 0 or 1, LAST_SYNC unix time,
				 * SERIAL of the policy in force (0: none) */
	ZT_F_ALLOWS = 72,	/* record: ALLOW repeated (at most
				 * ZT_ALLOWS_MAX), allows decided ahead */
	ZT_F_ALLOW = 73,	/* record: one allow a grant's supervisor may
				 * keep in its cache before it is asked,
				 * ACTION OBJECT (canonical) TTL_MS TOKEN
				 * CACHE_UNTIL [FLAGS: ZT_RESOLVE_*, a
				 * resolve's] (LEARN's reply: the connects
				 * to the addresses kept) */
	ZT_F_TAG_MAX = 74,	/* first value that is not a tag */
};

/* The only value of ZT_F_DECISION that allows: compared by equality. */
#define ZT_DECISION_ALLOW 0xa11c7e57u
/* ZT_F_FLAGS of REVOKE */
#define ZT_REVOKE_KILL 1u
/* ZT_F_FLAGS of DECIDE: ZT_F_ARGV holds only the first arguments */
#define ZT_DECIDE_ARGV_CUT 1u
/* ZT_F_FLAGS of ATTEST: export the new quote for tpm2_checkquote (the
 * DECISION reply then holds ZT_F_OBJECT: "" when exported, else why not). */
#define ZT_ATTEST_EXPORT 1u
/* ZT_F_FLAGS of REPORT: audit the records, send no REPORT_REPLY when
 * they are taken (a supervisor that does not wait for the answer; an
 * answer it never reads would keep its cache from seeing that it is
 * caught up with ztd).  Errors are still answered. */
#define ZT_REPORT_NO_REPLY 1u
/* ZT_F_FLAGS of a resolve allow (DECISION, or an ALLOW decided ahead):
 * what LEARN will keep of the question's own addresses, so that the
 * grant's resolver answers the agent before LEARN's reply. */
#define ZT_RESOLVE_NAMED 1u		/* a host rule names the question:
					 * LEARN keeps the addresses it owns */
#define ZT_RESOLVE_PRIVATE 2u		/* one that says private = true:
					 * private addresses too */
/* ZT_F_FLAGS of SESSION_OPEN: every check, but no grant (PAM account) */
#define ZT_SESSION_CHECK_ONLY 1u
/* ZT_F_FLAGS of a PROFILE */
#define ZT_PROFILE_KILL 1u		/* on_violation = kill (else deny) */
#define ZT_PROFILE_LANDLOCK_OPTIONAL 2u	/* else required */
#define ZT_PROFILE_FILES 4u		/* a files list confines the agent */
#define ZT_PROFILE_TUNNEL 8u		/* a network rule wants the tunnel */
#define ZT_PROFILE_INET 16u		/* the socket families its network */
#define ZT_PROFILE_INET6 32u		/* rules need */
#define ZT_PROFILE_UNIX 64u
#define ZT_PROFILE_DNS 128u		/* host rules: the grant's resolver,
					 * DNS_UPSTREAM repeated (none: the
					 * system's) and TTL_MS, the longest
					 * TTL its answers carry */
#define ZT_PROFILE_LEARN 256u		/* learn mode: SysV IPC and message
					 * queues gated (decided), not refused */
#define ZT_PROFILE_FLAGS_ALL 511u
/* ZT_F_ACCESS bits */
#define ZT_ACCESS_R 1u
#define ZT_ACCESS_W 2u
#define ZT_ACCESS_X 4u
/* ZT_F_EVENT values */
#define ZT_EVENT_GRANT_ENDED 1u		/* drop every cached allow of GRANT */
#define ZT_EVENT_INVALIDATE 2u		/* drop every cached allow */

enum zt_field_kind {
	ZT_FK_NONE = 0,
	ZT_FK_U32,		/* exactly 4 bytes */
	ZT_FK_U64,		/* exactly 8 bytes */
	ZT_FK_STRING,		/* 0..ZT_MSG_MAX bytes, no NUL */
	ZT_FK_BYTES,		/* 0..ZT_MSG_MAX bytes, anything */
	ZT_FK_RECORD,		/* fields, by the record's schema */
};

struct zt_field {
	uint16_t tag;
	uint16_t size;
	uint16_t first_sub;	/* records: its fields are sub[first_sub] */
	uint16_t n_sub;		/* records: .. and the n_sub after it */
	const void *value;	/* strings: NUL-terminated, in zt_msg.text;
				 * records: their bytes on the wire */
};

/* The fields of a message or of one record in it: a view into the
 * message, valid while the message is unchanged. */
struct zt_record {
	const struct zt_field *fields;
	size_t n_fields;
	const struct zt_field *sub;	/* the message's sub[] */
};

/* A set of field tags, one bit each (tags below 128). */
__extension__ typedef unsigned __int128 zt_tagmask;

/* A record the encoder has open (zt_msg_begin_record). */
struct zt_msg_open {
	uint16_t tag;
	size_t at;			/* its field header in wire */
	size_t n_fields, n_sub, text_used; /* the message's, when it
					 * opened */
	zt_tagmask present;		/* tags put in it */
	unsigned repeats;		/* repeatable fields put in it */
};

struct zt_msg {
	uint16_t type;
	uint32_t request_id;
	size_t n_fields;
	struct zt_field fields[ZT_MSG_FIELDS_MAX];
	size_t n_sub;			/* fields of records, every level */
	struct zt_field sub[ZT_MSG_SUBFIELDS_MAX];
	size_t depth;			/* records open (encoder) */
	struct zt_msg_open open[ZT_MSG_DEPTH_MAX];
	size_t size;			/* bytes used in wire */
	size_t text_used;		/* bytes used in text */
	uint8_t wire[ZT_MSG_MAX];	/* the encoded message */
	char text[ZT_MSG_MAX];		/* decoded strings, NUL-terminated */
};

/* Start an empty message of TYPE (encoder).  Returns 0 or ZT_E_TYPE. */
int zt_msg_init(struct zt_msg *m, enum zt_msg_type type, uint32_t request_id);

/*
 * Append a field, to the innermost open record if any, else to the
 * message.  Returns 0, ZT_E_FIELD (tag not in this type's or record's
 * schema, or of another kind), ZT_E_DUPLICATE (or a repeatable field past
 * its bound: ZT_E_TOO_MANY), ZT_E_STRING (NUL inside a string),
 * ZT_E_TOO_MANY or ZT_E_NOSPACE (would exceed ZT_MSG_MAX).
 */
int zt_msg_put_u32(struct zt_msg *m, enum zt_field_tag tag, uint32_t value);
int zt_msg_put_u64(struct zt_msg *m, enum zt_field_tag tag, uint64_t value);
int zt_msg_put_str(struct zt_msg *m, enum zt_field_tag tag, const char *value);
int zt_msg_put_bytes(struct zt_msg *m, enum zt_field_tag tag,
    const void *value, size_t size);

/*
 * Records: begin opens a record field TAG (in the innermost open record,
 * or the message) that the next puts fill; end closes it, checking that
 * it holds every sub-field its schema requires; cancel takes the innermost
 * open record back out of the message, with whatever was put in it.
 * begin returns as a put does (and ZT_E_TOO_MANY beyond ZT_MSG_DEPTH_MAX),
 * end 0 or ZT_E_MISSING (the record stays open: cancel it), ZT_E_TOO_MANY
 * (more sub-fields than ZT_MSG_SUBFIELDS_MAX: cancel it); end and cancel
 * return ZT_E_PROTOCOL when no record is open.
 */
int zt_msg_begin_record(struct zt_msg *m, enum zt_field_tag tag);
int zt_msg_end_record(struct zt_msg *m);
int zt_msg_cancel_record(struct zt_msg *m);

/*
 * Check the message has every field its schema requires and no record
 * open (encoder side: call before sending).  Returns 0 or ZT_E_MISSING.
 */
int zt_msg_check_complete(const struct zt_msg *m);

/*
 * Decode SIZE bytes received (SIZE is what the kernel said the datagram
 * was, even when larger than the buffer) into M.  Returns 0 or exactly one
 * of ZT_E_OVERSIZED, ZT_E_TRUNCATED, ZT_E_MAGIC, ZT_E_VERSION, ZT_E_TYPE,
 * ZT_E_TRAILING, ZT_E_FIELD, ZT_E_FIELD_SIZE, ZT_E_DUPLICATE, ZT_E_STRING,
 * ZT_E_TOO_MANY, ZT_E_MISSING.  On error M holds nothing usable except
 * request_id, which is set when the header was readable (so the error
 * reply can name the request).
 */
int zt_msg_decode(struct zt_msg *m, const void *data, size_t size);

/* Field lookup.  Return 0, or ZT_E_MISSING when absent. */
int zt_msg_get_u32(const struct zt_msg *m, enum zt_field_tag tag,
    uint32_t *value);
int zt_msg_get_u64(const struct zt_msg *m, enum zt_field_tag tag,
    uint64_t *value);
int zt_msg_get_str(const struct zt_msg *m, enum zt_field_tag tag,
    const char **value);
int zt_msg_get_bytes(const struct zt_msg *m, enum zt_field_tag tag,
    const void **value, size_t *size);

/*
 * Records.  zt_msg_fields gives the top level of M as a record;
 * zt_record_next finds the next record field TAG of R from *CURSOR (0 to
 * start), fills OUT with its fields and moves *CURSOR past it: 0, or
 * ZT_E_MISSING when there is none left.  zt_record_get_* are the
 * zt_msg_get_* of one record (a repeated tag: its first).
 */
void zt_msg_fields(const struct zt_msg *m, struct zt_record *out);
int zt_msg_get_record(const struct zt_msg *m, enum zt_field_tag tag,
    struct zt_record *out);
int zt_record_next(const struct zt_record *r, enum zt_field_tag tag,
    size_t *cursor, struct zt_record *out);
size_t zt_record_count(const struct zt_record *r, enum zt_field_tag tag);
int zt_record_get_u32(const struct zt_record *r, enum zt_field_tag tag,
    uint32_t *value);
int zt_record_get_u64(const struct zt_record *r, enum zt_field_tag tag,
    uint64_t *value);
int zt_record_get_str(const struct zt_record *r, enum zt_field_tag tag,
    const char **value);
int zt_record_get_bytes(const struct zt_record *r, enum zt_field_tag tag,
    const void **value, size_t *size);

/* The field's kind, ZT_FK_NONE for an unknown tag. */
enum zt_field_kind zt_msg_field_kind(unsigned tag);

/* A name for a message type ("status"), or "unknown". */
const char *zt_msg_type_name(unsigned type);

/*
 * Build an ERROR reply to REQUEST_ID carrying CODE and TEXT (TEXT is cut
 * to fit).  Never fails.
 */
void zt_msg_error(struct zt_msg *m, uint32_t request_id, int code,
    const char *text);

/*
 * Socket I/O on a SOCK_SEQPACKET descriptor, never raising SIGPIPE.
 * zt_msg_send returns 0 or -errno (-EAGAIN when the peer's queue is full
 * on a non-blocking socket, -EINVAL while a record is open).  zt_msg_recv reads one datagram and decodes
 * it: 0, -errno, ZT_E_CLOSED on end of stream, or a decode error (the
 * datagram is consumed either way).
 */
int zt_msg_send(int fd, const struct zt_msg *m);
int zt_msg_recv(int fd, struct zt_msg *m);

/*
 * The same, passing one descriptor along (SCM_RIGHTS): PASS_FD (-1: none)
 * is sent with the message; *PASSED_FD receives the one that came with it
 * (close-on-exec, -1 when none), set even when decoding fails: the caller
 * closes it.  A datagram that
 * carried more than one is refused (ZT_E_PROTOCOL) and none is kept.
 */
int zt_msg_send_fd(int fd, const struct zt_msg *m, int pass_fd);
/* The same for a whole message already encoded: SIZE bytes at WIRE. */
int zt_msg_send_wire(int fd, const void *wire, size_t size, int pass_fd);
int zt_msg_recv_fd(int fd, struct zt_msg *m, int *passed_fd);
/*
 * zt_msg_recv_fd, and the sender's credentials as the kernel attached them
 * to this very message (SCM_CREDENTIALS: its process at the time it sent,
 * the real uid and gid) into *SENDER when the socket has SO_PASSCRED, else
 * zeros (pid 0).  When SENDER_PIDFD is not NULL, a pidfd of the process
 * that sent (SCM_PIDFD: the process itself, not its pid number, which
 * another may have taken since; the socket needs SO_PASSPIDFD, Linux 6.5)
 * into *SENDER_PIDFD, else -1, set whatever the return (the caller closes
 * it); when it is NULL, one that came is closed.  The sender's pidfd is
 * no passed descriptor: a message may carry both.
 */
struct ucred;
int zt_msg_recv_from(int fd, struct zt_msg *m, int *passed_fd,
    struct ucred *sender, int *sender_pidfd);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* zt-exec's persistent connection to ztd: decisions, local cache, events. */
#ifndef ZTX_ZTCONN_H
#define ZTX_ZTCONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"	/* enum action, shared with ztd */

#define ZTCONN_REASON_MAX 256
#define ZTCONN_WAIT_MS 6000	/* a decision may wait for a fresh quote */

struct ztconn;
struct zt_msg;

struct ztconn_verdict {
	bool allow;
	bool local;			/* from zt-exec's own cache */
	bool tunnel;			/* connect: through the mTLS tunnel */
	char server_name[256];		/* tunnel: the name to verify */
	char ca[4096];			/* tunnel: the CA file to verify by */
	char reason[ZTCONN_REASON_MAX];
	uint32_t resolve_flags;		/* a resolve's allow: ZT_RESOLVE_* of
					 * zt_msg.h, what LEARN will keep */
	uint64_t epoch;			/* ztconn_epoch's number the allow was
					 * decided under: while it is still
					 * the same, no event came since */
};

/*
 * Take over FD (connected, the launch already answered) for GRANT, which
 * ends EXPIRES_MS from now (CLOCK_BOOTTIME).  Starts a reader thread that
 * answers waiting callers, applies ztd's events (an invalidation drops
 * the cache, the end of GRANT denies everything after it and calls
 * ON_GRANT_END once), flushes cache-hit reports (at most 256 records or
 * 1 s late) and, when the connection is lost, drops the cache, fails the
 * waiting callers and reconnects to SOCKET_PATH with backoff.
 * DECISION_TTL caps how long a cached allow lives (seconds).  AHEAD_ID
 * (0: none) is the request id of AGENT_PID, sent on FD and not yet
 * answered: the reader takes its answer, in its turn among what ztd
 * sends, and keeps the questions and execs it allows ahead
 * (ZT_F_ALLOWS) in the cache, unless an event came first (then they are
 * asked again); ztconn_take_ahead waits for it.
 */
int ztconn_start(struct ztconn **out, int fd, const char *socket_path,
    const char *grant, int64_t expires_ms, unsigned decision_ttl,
    uint32_t ahead_id, void (*on_grant_end)(const char *why));

/*
 * Wait (TIMEOUT_MS at most) for the answer to AHEAD_ID, taken by the
 * reader: 0 when ztd took it, else a zt_err code with WHY (SIZE bytes)
 * saying what ztd or the connection said.
 */
int ztconn_take_ahead(struct ztconn *z, int timeout_ms, char *why,
    size_t size);

/*
 * Call FN(ARG) on the reader thread, without the connection's lock, after
 * each event ztd pushes (a reload, a revocation, an attestation change,
 * a grant's end): whatever was decided before may no longer hold.
 */
void ztconn_on_event(struct ztconn *z, void (*fn)(void *arg), void *arg);

/*
 * May the agent do ACTION on OBJECT?  A live local allow answers at once
 * (and is reported); otherwise ztd is asked, passing PIDFD (-1: none) as
 * the acting process for high-risk actions.  Any failure is a deny with
 * its reason: no connection, grant ended, timeout, malformed reply.
 * ACTOR (> 0) is the process that acts, named in ztd's audit line.
 * An allow ztd decided ahead (the connects of a LEARN's answer, the
 * questions of AGENT_PID's) answers only as ztconn_decide_current's do.
 */
void ztconn_decide(struct ztconn *z, enum action action, const char *object,
    int pidfd, pid_t actor, struct ztconn_verdict *out);

/*
 * The same, ztconn_decide's without a pidfd, and when ztd is asked,
 * MEANWHILE(ARG) is called once while its answer is not yet in (without
 * any lock of the connection held), on the calling thread: work that
 * would otherwise wait for the answer and that is thrown away unless
 * the answer allows it.  It is not called when a local allow answers,
 * the answer is in before the request's wait began, or the request
 * could not be sent: the caller then finds its work not done.
 */
void ztconn_decide_meanwhile(struct ztconn *z, enum action action,
    const char *object, pid_t actor, void (*meanwhile)(void *), void *arg,
    struct ztconn_verdict *out);

/*
 * The same for an exec with its arguments: ARGV (ARGV_LEN bytes) holds
 * argv[1], argv[2], ... each ending in NUL (NULL: none sent).  ztd
 * matches them against the command's args; as many whole arguments as
 * fit the message are sent, and ztd told when not all did.
 */
void ztconn_decide_exec(struct ztconn *z, enum action action,
    const char *object, const char *argv, size_t argv_len, int pidfd,
    pid_t actor, struct ztconn_verdict *out);

/*
 * The same, from the local cache only when the reader thread has applied
 * every message ztd has sent (nothing unread on the connection): for the
 * grant's resolver, whose every question is decided on the policy ztd
 * holds when asked.  ztd pushes its invalidation event to every
 * supervisor before it answers anything on a new policy (the reload's
 * requester included), so once a reload (or a revocation, a disable, an
 * attestation change) has returned, no allow cached before it is used.
 * A cache hit is reported to ztd (audited cache=local), as ztconn_decide's.
 */
void ztconn_decide_current(struct ztconn *z, enum action action,
    const char *object, pid_t actor, struct ztconn_verdict *out);

/*
 * A tunnel client certificate of the grant for the key of CSR (DER):
 * CERT (*CERT_SIZE in: its room, out: its size), its SERIAL (hex),
 * NOT_AFTER (unix time) and *LIFETIME_MS, how long it lives from now (to
 * renew by on a clock that wall-clock steps do not move).  ztd refuses a
 * grant without tunnel rules.  0, or an error with WHY set.
 */
int ztconn_sign(struct ztconn *z, const void *csr, size_t csr_size,
    uint8_t *cert, size_t *cert_size, char serial[33], int64_t *not_after,
    int64_t *lifetime_ms, char *why, size_t size);

/*
 * Tell ztd what the grant's resolver was answered for the question
 * CHAIN[0] (allowed by ztd just before): the CNAME chain CHAIN (N_CHAIN
 * names) and N_ADDRS (at most ZT_ANSWERS_MAX) addresses, each with its
 * owner (an index into CHAIN), family, bytes and TTL in seconds.  ztd
 * checks every name against the policy and remembers what it keeps for
 * the grant.  Returns 0 with *KEPT_CHAIN (names of the chain ztd kept,
 * from the first) and *KEPT (bit i: address i remembered), or an error
 * with WHY set (then nothing is kept).
 */
struct ztconn_answer {
	int family;
	const uint8_t *addr;
	uint32_t ttl;
	unsigned owner;
};
int ztconn_learn(struct ztconn *z, const char (*chain)[256], size_t n_chain,
    const struct ztconn_answer *addrs, size_t n_addrs, size_t *kept_chain,
    uint32_t *kept, char *why, size_t size);

/*
 * ztconn_learn in two steps, so that the resolver answers the agent in
 * between: send the LEARN (0 with *ID, or an error with WHY set), then
 * wait for its answer (ztconn_learn's results; every ID sent must be
 * finished once, whatever happened meanwhile).  The connects ztd decided
 * ahead in the answer are kept as the answer is read, and until it is
 * (or the connection is lost, or ZTCONN_WAIT_MS pass) every connect's
 * decision waits for it: never is one allowed on the strength of what
 * the resolver answered, only of what ztd sent.
 */
int ztconn_learn_send(struct ztconn *z, const char (*chain)[256],
    size_t n_chain, const struct ztconn_answer *addrs, size_t n_addrs,
    uint32_t *id, char *why, size_t size);
int ztconn_learn_finish(struct ztconn *z, uint32_t id, size_t n_chain,
    size_t *kept_chain, uint32_t *kept, char *why, size_t size);

/*
 * A number that changes (under the same lock, before any reply read after
 * it is handed to its caller) whenever everything ztd allowed before may
 * no longer hold: an event pushed by ztd (a reload, a revocation, an
 * attestation change, a grant's end), the connection lost or made again.
 * What was learned from ztd under one number holds no longer once it
 * changed.  ZTCONN_EPOCH_UNSURE while something ztd sent is still unread
 * (an event may be on its way): nothing learned may be reused then.
 */
#define ZTCONN_EPOCH_UNSURE UINT64_MAX
uint64_t ztconn_epoch(struct ztconn *z);

/* Write the pages a first LEARN and a first report touch (a free wait
 * slot's reply, the report queue's next entries, the request being
 * built) ahead, off the path of the grant's first resolution: a thread
 * that readies the resolver calls it.  Nothing in use is changed. */
void ztconn_warm(struct ztconn *z);

/* Tell ztd the grant is over (the agent exited) and flush the reports;
 * every later decision is denied at once.  Once per process, right
 * before its exit, which ends the reader and the connection: Z stays
 * allocated, so that a detached thread still asking (resolver, tunnel, a
 * worker) is denied at once instead of using freed memory. */
void ztconn_stop(struct ztconn *z);

/* Memory held by the cache and the report queue (bytes), for tests. */
bool ztconn_connected(struct ztconn *z);

/* CLOCK_BOOTTIME in milliseconds. */
int64_t ztconn_now_ms(void);

#endif

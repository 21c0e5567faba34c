/* SPDX-License-Identifier: Apache-2.0 */
/* ztd's socket server: clients, their identity and deadlines, dispatch. */
#ifndef ZTD_SERVER_H
#define ZTD_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit.h"

struct ztd;

/* What an epoll registration points at. */
enum watch_kind {
	WATCH_LISTEN, WATCH_SIGNAL, WATCH_CLIENT, WATCH_GRANT, WATCH_ATTEST,
	WATCH_FLEET,
};

/*
 * An epoll registration.  Objects behind one are not freed while an
 * epoll_wait batch may still name them: they are marked dead and buried,
 * and freed after the batch (server_free_buried).
 */
struct watch {
	enum watch_kind kind;
	bool dead;
	struct watch *next_buried;
};

/*
 * How ztd tells that a connection's message comes from the process that
 * connected, not from one that took its pid number after it exited
 * (ztd(8), "Connection identity"): chosen once at start, the strongest
 * the kernel has.
 */
enum server_identity {
	IDENTITY_PIDFD,		/* SO_PEERPIDFD (6.5), no pidfs */
	IDENTITY_PIDFS,		/* and SCM_PIDFD compared by pidfs inode
				 * (6.9) once the connector exited */
};

/* Who a connection is, from the kernel's credentials at connect time;
 * each class has its own pool of slots. */
enum client_class {
	CLIENT_ROOT,			/* uid 0: outside every limit */
	CLIENT_SUPERVISOR,		/* gid supervisor_group (setgid zt-exec) */
	CLIENT_OTHER,			/* any other uid: max_clients_per_uid */
};
#define CLIENT_CLASSES (CLIENT_OTHER + 1)

struct client {
	struct watch watch;		/* first: epoll data points here */
	int fd;
	enum client_class class;
	/* The peer as the kernel saw it at connect time, never as claimed. */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int pidfd;			/* -1 when the kernel gave none */
	bool by_pidfd;			/* SO_PASSPIDFD set: each message's
					 * SCM_PIDFD against pidfs_ino */
	dev_t pidfs_dev;
	ino_t pidfs_ino;
	bool sender_seen;		/* sender_uid: its first message's */
	uid_t sender_uid;		/* real uid, SCM_CREDENTIALS */
	int64_t deadline_ms;		/* closed when idle past this */
	struct client *prev, *next;	/* by deadline, soonest first */
	/* A request waiting for an attestation (not read from meanwhile): */
	struct zt_msg *parked;
	int parked_fd;			/* the descriptor that came with it */
	uint64_t parked_ticket;
	int64_t parked_until_ms;
	/* server_check_connectors found the connector running in pass
	 * RUNNING_PASS (0: not known); used by the pass's first read. */
	uint64_t running_pass;
	/* A supervisor's connection whose process supervises no grant (yet):
	 * counted in its uid's PENDING (struct uid_count) until it does. */
	bool pending;
};

/* A uid's connections that count against max_clients_per_uid: COUNT of
 * class CLIENT_OTHER, PENDING of supervisors that supervise no grant
 * (yet, or any more);
 * and LAUNCHED, its live grants from LAUNCH, against
 * max_supervisors_per_uid. */
struct uid_count {
	uid_t uid;
	unsigned count;
	unsigned pending;
	unsigned launched;
};

/*
 * A bound on log lines that local users cause: a token bucket (struct
 * audit_limit, on CLOCK_MONOTONIC); a line past it is counted, not
 * written, and the next one written says how many were not.
 */
struct line_limit {
	bool started;
	struct audit_limit bucket;
	uint64_t unlogged;
};

struct server {
	int listen_fd;
	int lock_fd;
	bool adopted;			/* listen_fd is systemd's socket */
	int epoll_fd;
	int reserve_fd;			/* spare descriptor for EMFILE */
	enum server_identity identity;
	unsigned n_clients;
	unsigned n_class[CLIENT_CLASSES];
	struct uid_count *uids;		/* CLIENT_OTHER connections by uid */
	size_t n_uids, cap_uids;
	struct client *head, *tail;
	uint64_t requests, refused;
	uint64_t pass;			/* epoll passes, from 1 */
	/* Log lines that peers cause (server_log_refusal, server_log_peer):
	 * refusals, and the lines of each class's peers but root's. */
	struct line_limit refusal_lines, peer_lines[CLIENT_CLASSES];
	struct watch listen_watch;
	struct watch *buried;		/* dead, freed after the batch */
	unsigned n_parked;		/* clients with a parked request */
	/* Group commit (server_hold): answers held until their audit
	 * records are handed to the kernel. */
	bool holding;
	unsigned n_held;
	struct held_reply *held;	/* SERVER_HELD_MAX */
	/* While a client's own request ends grant TOLD_GRANT (SESSION_CLOSE):
	 * that client, which its reply tells; no GRANT_ENDED event for it. */
	const struct client *told;
	const char *told_grant;
};

#define SERVER_HELD_MAX 64
#define SERVER_EVENTS_MAX 64		/* epoll events of one pass */

/*
 * Set up the run directory, the listening socket and the epoll set
 * (adding the listening socket), and raise the descriptor limit to what
 * two pools of MAX_CLIENTS and root's reserve need.  Returns 0 or a
 * negative code with ERROR set.
 */
int server_open(struct server *s, const char *socket_path,
    unsigned max_clients, char *error,
    size_t size);

/*
 * Group commit, around one pass over the events epoll_wait returned:
 * server_hold makes answers wait, and audit_hold the records; server_flush
 * hands the records to the kernel (audit_flush: one sendmmsg, one write
 * and fdatasync), then sends the answers, in order; an answer whose
 * decision was audited in a flush that failed (audit.require) becomes an
 * error, a deny.  Anything else sent to a client meanwhile (an event)
 * flushes first, so nothing overtakes an answer.  A full hold flushes.
 */
void server_hold(struct ztd *ztd);
void server_flush(struct ztd *ztd);

/*
 * The same with LISTEN_FD, a listening socket systemd made for
 * SOCKET_PATH (socket activation): no run directory, no lock, and
 * server_close closes it but never removes the socket file, which is
 * systemd's.  LISTEN_FD is the server's from then on, even on failure.
 */
int server_adopt(struct server *s, const char *socket_path, int listen_fd,
    unsigned max_clients, char *error, size_t size);

/* Mark W dead; it is freed (free(3), it heads its allocation) later. */
void server_bury(struct server *s, struct watch *w);

/* Free what was buried (after an epoll_wait batch). */
void server_free_buried(struct server *s);

/* Close every client, the socket (removing it unless adopted) and the
 * lock. */
void server_close(struct server *s, const char *socket_path);

/* Accept every pending connection (bounded by max_clients). */
void server_accept(struct ztd *ztd);

/* Read and answer what client C sent; may close C. */
void server_client_ready(struct ztd *ztd, struct client *c, uint32_t events);

/*
 * A new pass over the N EVENTS epoll_wait returned: whether the connector
 * of each client with a message queued still runs, for all of them in one
 * poll(2) instead of one per message (server_client_ready's check, done
 * here before any of them is read).
 */
struct epoll_event;
void server_check_connectors(struct ztd *ztd,
    const struct epoll_event *events, int n);

/* Answer what PID's connections sent and ztd has not read yet (a
 * supervisor that exited: its last reports, before its grant ends). */
void server_drain_pid(struct ztd *ztd, pid_t pid);

/*
 * Process PID now supervises a grant: its connections leave their uid's
 * count of pending supervisors (they are the supervisors' pool's alone).
 */
void server_supervisor_granted(struct ztd *ztd, pid_t pid);

/*
 * A grant of process PID ended (grant_end, once it left ztd->grants): if
 * PID supervises no other, its supervisors' connections count as pending
 * again.  A zt-exec outlives its grant when that ends without a kill
 * (revoked, expired, its agent dropped by a reload): its launch is given
 * back (max_supervisors_per_uid), but its connection keeps its place in
 * the pool, and must count somewhere, or one account could launch,
 * outlive its grants and launch again until the pool is full.  A
 * connection whose count cannot be kept is closed.
 */
void server_supervisor_ungranted(struct ztd *ztd, pid_t pid);

/*
 * Launches by uid.  Any account of an agent may run zt-exec as often as
 * it likes, and each granted zt-exec holds a place in the supervisors'
 * pool (max_clients): one account must not fill it and lock the other
 * agents' launches out.  server_launch_room: may UID launch one more
 * (the number it holds into *HELD)?  False too when its count cannot be
 * kept.  Once it said yes, server_launch_take, in the same turn of the
 * loop, takes the slot; server_launch_give gives it back.
 */
bool server_launch_room(struct ztd *ztd, uid_t uid, unsigned *held);
void server_launch_take(struct ztd *ztd, uid_t uid);
void server_launch_give(struct ztd *ztd, uid_t uid);

/* Log WHAT ("connection", "launch") of UID and PID refused, WHY; at most
 * one line a second, the rest counted in the next (a local user must
 * not flood the log). */
void server_log_refusal(struct ztd *ztd, const char *what, uid_t uid,
    pid_t pid, const char *why);

/*
 * Log at PRIORITY a line that client C's messages caused (a request its
 * class may not send, a bad message, a reply or event it would not take,
 * a supervisor's forged cache-hit records or refused certificate request).
 * Root's always; other peers' at most SERVER_PEER_LINES_BURST at once and
 * SERVER_PEER_LINES_RATE a second after that, per class (unprivileged,
 * supervisor), the rest counted in the next line: a local user repeating
 * a refused request must not flood the log, where it would fill the disk,
 * crowd ztd's own audit lines out of the syslog receiver's queue and its
 * rate limit, and, once the receiver falls behind, fill the relay's pipe
 * so that records cannot be written and decisions fail (audit.require).
 * Audit records are not these lines: they have their own limit
 * (audit.deny_rate).
 */
#define SERVER_PEER_LINES_BURST 100
#define SERVER_PEER_LINES_RATE 10
void server_log_peer(struct ztd *ztd, const struct client *c, int priority,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Send an event (request id 0) to every client whose peer is process PID
 * (a grant's supervisor), or to every client when PID is -1, except the
 * one whose own request ended the grant (server.told: its reply says so).
 * A client that cannot take it is dropped: it would otherwise keep
 * serving from a stale cache.
 */
void server_push_event(struct ztd *ztd, pid_t pid, uint32_t event,
    const char *grant, const char *reason);

/* Answer every parked request whose attestation is in. */
void server_attestation_ready(struct ztd *ztd);

/* Close clients whose deadline passed; return ms to the next deadline or -1. */
int server_expire(struct ztd *ztd);

#endif

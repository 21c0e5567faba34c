/* SPDX-License-Identifier: Apache-2.0 */
/* The mutual-TLS tunnel: an agent's TCP connection wrapped in TLS 1.3. */
#ifndef ZTX_TUNNEL_H
#define ZTX_TUNNEL_H

#include <stdbool.h>
#include <sys/socket.h>

#include "ztconn.h"

struct tunnels;
struct ssl_st;
struct ssl_ctx_st;

/* The tunnels of one grant (AGENT names it in log lines). */
int tunnels_new(struct tunnels **out, struct ztconn *ztd, const char *agent);

/*
 * What a tunnel connect makes while ztd decides it, instead of after the
 * answer: for a destination whose last allow went through the tunnel,
 * the TCP socket and the TLS client's first flight (its ClientHello, with
 * the key share made for it) for the server name and CA file that allow
 * named, in memory.  Nothing of it leaves the process before ztd's allow:
 * tunnel_connect uses it only when the allow names that server name and
 * CA file and the grant's certificate is still the one it was made with,
 * and throws it away otherwise.  Never a resumed session: a full
 * handshake, its key share used for this connection only.
 */
struct tunnel_early {
	struct tunnels *t;
	int family;
	char server_name[256];
	char ca_file[4096];
	struct ssl_ctx_st *ctx;		/* referenced */
	struct ssl_st *ssl;		/* its ClientHello in its memory BIO */
	int fd;				/* the TCP socket, not connected */
};

/* E empty (tunnel_early_free frees nothing of it). */
void tunnel_early_init(struct tunnel_early *e);

/*
 * Whether a connect to OBJECT (a socket of FAMILY) is worth readying in
 * E: its last allow went through the tunnel, and the grant's certificate
 * and that allow's TLS context are in hand.  Then E holds what to make,
 * and tunnel_early_make (given E) makes it.
 */
bool tunnel_early_begin(struct tunnels *t, struct tunnel_early *e,
    const char *object, int family);

/* Make what E names (a ztconn_decide_meanwhile callback); what cannot be
 * made is left out, and tunnel_connect makes it as it would have. */
void tunnel_early_make(void *e);

/* Free what E holds (the key share's private half cleared). */
void tunnel_early_free(struct tunnel_early *e);

/*
 * The agent's TCP socket SFD (our copy) is to reach DEST (LEN bytes)
 * through the tunnel: connect there from the supervisor, complete a TLS 1.3
 * handshake with the grant's client certificate (key made here on first
 * use, certificate signed by ztd for a CSR, never on disk), verify the
 * server's chain against CA_FILE and its name against SERVER_NAME; only
 * then connect SFD to a one-shot loopback endpoint that accepts nothing but
 * SFD itself (the 4-tuple is checked), and relay both ways on a thread.
 * OBJECT names the destination in log lines.  EARLY (NULL: none) is what
 * was made while ztd decided (tunnel_early_make): used when it fits the
 * allow, freed either way.  Returns 0 (the agent's
 * connect succeeds) or -errno (it fails; nothing was sent upstream).
 */
int tunnel_connect(struct tunnels *t, int sfd, const struct sockaddr *dest,
    socklen_t len, const char *server_name, const char *ca_file,
    const char *object, struct tunnel_early *early);

/*
 * Connect the agent's socket SFD (our copy) to a one-shot loopback
 * endpoint that accepts nothing but SFD itself (its 4-tuple is checked)
 * and return our end of the connection, or -errno: how a connect the
 * supervisor serves (tunnel, resolver) reaches the agent.
 */
int tunnel_bridge_agent(int sfd);

/*
 * The same through LFD, a socket of SFD's family made by
 * tunnel_bridge_listener and kept by the caller for its next bridges (one
 * at a time): it listens for this bridge only, on a port the kernel picks
 * anew, and stops (its queue dropped, its port let go) before this
 * returns; only SFD's connection is ever taken.  Saves making and closing
 * a socket on the path of each connect (the grant's resolver) without
 * leaving a listener on loopback between bridges for other local users to
 * find and fill.  LFD stays the caller's, to close after any failure.
 */
int tunnel_bridge_agent_via(int sfd, int lfd);

/* A TCP socket bound to the loopback address of DOMAIN (AF_INET,
 * AF_INET6) and an ephemeral port, non-blocking, not listening
 * (tunnel_bridge_agent_via listens): its fd, or -errno. */
int tunnel_bridge_listener(int domain);

/*
 * Start making, on a thread of its own, what the grant's first tunnel needs
 * before ztd signs anything: libssl loaded, a key pair and its request, a
 * context for each of CA_FILES.  Called at launch for a profile with tunnel
 * rules, once the agent's process is forked (no fork follows in zt-exec:
 * the thread may hold the loader's and OpenSSL's locks).  The first
 * identity takes what it made; failure is logged, and the first connect
 * makes its own.
 */
void tunnels_warm(const char (*ca_files)[4096], size_t n_ca_files);

/*
 * Make the grant's key pair and certificate now, and the TLS contexts of
 * CA_FILES, on a thread of its own (the profile has tunnel rules): the
 * first connect then pays only its handshake.  Failure is logged; the
 * first connect tries again.
 */
void tunnels_prepare(struct tunnels *t, const char (*ca_files)[4096],
    size_t n_ca_files);

/* Tear every tunnel down at once, both ways, and wipe the key material
 * (the grant ended).  New tunnels are refused afterwards. */
void tunnels_close_all(struct tunnels *t, const char *why);

#endif

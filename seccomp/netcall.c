/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network calls: connect, bind, listen, sendto, sendmsg and sendmmsg.
 * The address (for a send, the whole message) is copied from the agent,
 * read the way the kernel will read it (normalise), decided, and the
 * call performed here with that normalised address on the agent's own
 * socket (pidfd_getfd); the agent's call never continues.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "supervisor_int.h"
#include "resolver.h"
#include "tunnel.h"
#include "zt_log.h"
#include "ztconn.h"

#define SEND_MAX (256 * 1024)		/* bytes one emulated send copies */
#define IOV_MAX_ 1024
#define MMSG_MAX 64
#define SIN6_LEN_RFC2133 24		/* sockaddr_in6 without the scope id */

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83		/* Linux 6.16 */
#endif

enum net_op { OP_CONNECT, OP_BIND, OP_SEND };

/* An agent's socket, as the kernel sees it. */
struct sock_kind {
	int domain;			/* AF_INET, AF_INET6, AF_UNIX, ... */
	int type;			/* SOCK_STREAM, SOCK_DGRAM, ... */
	const char *proto;		/* inet: "tcp" or "udp"; NULL: another
					 * protocol (UDP-Lite, ping, SCTP,
					 * MPTCP, raw), never performed */
	bool v6only;			/* AF_INET6: IPV6_V6ONLY */
};

struct dest {
	char object[OBJECT_MAX];
	enum action action;		/* ACTION_CONNECT or ACTION_LISTEN */
	struct sockaddr_storage addr;	/* what the supervisor uses */
	socklen_t len;			/* 0: the call takes no address */
	int path_fd;			/* AF_UNIX: the socket file, O_PATH */
	bool ask;			/* false: needs no decision */
};

static int
socket_kind(int fd, struct sock_kind *k)
{
	int protocol, v6only = 0;
	socklen_t l = sizeof(int);

	memset(k, 0, sizeof(*k));
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &k->domain, &l) < 0)
		return -errno;
	l = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &k->type, &l) < 0)
		return -errno;
	l = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &l) < 0)
		return -errno;
	if (k->domain != AF_INET && k->domain != AF_INET6)
		return 0;
	l = sizeof(int);
	if (k->domain == AF_INET6 && getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
	    &v6only, &l) < 0)
		return -errno;
	k->v6only = v6only != 0;
	/* SO_PROTOCOL reports the protocol the kernel chose, never 0. */
	if (k->type == SOCK_STREAM && protocol == IPPROTO_TCP)
		k->proto = "tcp";
	else if (k->type == SOCK_DGRAM && protocol == IPPROTO_UDP)
		k->proto = "udp";
	return 0;
}

/*
 * No descriptor may reach the agent through the unix socket SFD: an
 * allowed peer could otherwise hand it a socket connected anywhere.  0,
 * or -EACCES.  A kernel without SO_PASSRIGHTS (before 6.16) is said once
 * and the peer trusted with it, as zt-exec(1) documents.
 */
static int
refuse_rights(struct supervisor *s, int sfd)
{
	int off = 0;

	if (setsockopt(sfd, SOL_SOCKET, SO_PASSRIGHTS, &off, sizeof(off)) == 0)
		return 0;
	if (errno != ENOPROTOOPT)
		return -EACCES;
	if (!__atomic_exchange_n(&s->passrights_warned, true,
	    __ATOMIC_RELAXED))
		zt_log(LOG_WARNING, "this kernel has no SO_PASSRIGHTS (Linux "
		    "6.16): an allowed unix peer can pass the agent "
		    "descriptors");
	return 0;
}

/*
 * A unix socket path, resolved as the agent would -- an absolute one in
 * its root, a relative one from its cwd, never the supervisor's, symlinks
 * followed as the kernel would (/var/run is one), /proc's magic links
 * never; decided by the canonical path of what it names, whatever path
 * led there (the connect goes to the very file resolved: its O_PATH
 * descriptor, no second lookup), and never ztd's socket.  The agent's root is the supervisor's own (s->root,
 * as execgate.c's: no task of the agent's tree can change its root or
 * mount namespace), so an absolute path needs no /proc/PID/root (its
 * open cost 4-12 us of each of glibc's two connects to nscd's socket in
 * a fresh process); a relative one is resolved from /proc/PID/cwd.
 */
static int
unix_dest(const struct call *c, const struct sockaddr_un *sun, socklen_t len,
    struct dest *d)
{
	const struct supervise_setup *st = &c->s->setup;
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_NO_MAGICLINKS,
	};
	char path[sizeof(sun->sun_path) + 1], base[64], canon[PATH_MAX];
	size_t n = len - offsetof(struct sockaddr_un, sun_path);
	struct sockaddr_un *via = (struct sockaddr_un *)&d->addr;
	struct stat sb;
	int basefd = -1, fd;

	if (len > sizeof(*sun))
		return -EINVAL;		/* as unix_validate_addr() */
	if (len <= offsetof(struct sockaddr_un, sun_path) || sun->sun_path[0]
	    == '\0')
		return -EACCES;		/* unnamed or abstract */
	memcpy(path, sun->sun_path, n);
	path[n] = '\0';
	if (path[0] == '/')
		how.resolve |= RESOLVE_IN_ROOT;
	else {
		snprintf(base, sizeof(base), "/proc/%d/cwd",
		    (int)c->req->pid);
		if ((basefd = open(base, O_PATH | O_DIRECTORY |
		    O_CLOEXEC)) < 0)
			return -EACCES;
	}
	fd = (int)syscall(SYS_openat2, basefd >= 0 ? basefd : c->s->root,
	    path, &how, sizeof(how));
	if (basefd >= 0)
		close(basefd);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -EACCES;
	if (!agent_call_valid(c) || fstat(fd, &sb) < 0 || !S_ISSOCK(sb.st_mode) ||
	    fd_path(fd, canon, sizeof(canon)) < 0) {
		close(fd);
		return -ECONNREFUSED;
	}
	if ((st->ztd_ino != 0 && sb.st_dev == st->ztd_dev &&
	    sb.st_ino == st->ztd_ino) ||
	    (st->ztd_path[0] != '\0' && strcmp(canon, st->ztd_path) == 0)) {
		close(fd);
		return -EACCES;		/* ztd's own socket: never */
	}
	snprintf(d->object, sizeof(d->object), "unix:%s", canon);
	d->path_fd = fd;
	memset(via, 0, sizeof(*via));
	via->sun_family = AF_UNIX;
	snprintf(via->sun_path, sizeof(via->sun_path), "/proc/self/fd/%d", fd);
	d->len = (socklen_t)sizeof(*via);
	d->ask = true;
	return 0;
}

/* An AF_UNSPEC address of LEN bytes: what disconnects a socket. */
static int
disconnect_dest(struct dest *d)
{
	d->addr.ss_family = AF_UNSPEC;
	d->len = sizeof(sa_family_t);
	return 0;
}

/* normalise() for a unix socket (af_unix.c). */
static int
unix_normalise(const struct call *c, const struct sock_kind *k,
    enum net_op op, const void *raw, socklen_t len, struct dest *d)
{
	sa_family_t family;

	if (op == OP_BIND)
		return -EACCES;		/* an agent names no unix socket */
	if (op == OP_SEND) {
		/* No address, or one a seqpacket send ignores: the peer. */
		if (len == 0 || k->type == SOCK_SEQPACKET)
			return 0;
		if (k->type == SOCK_STREAM)
			return -EOPNOTSUPP;
	}
	if (len < sizeof(sa_family_t))
		return -EINVAL;
	memcpy(&family, raw, sizeof(family));
	if (family == AF_UNSPEC && op == OP_CONNECT && k->type == SOCK_DGRAM)
		return disconnect_dest(d);
	if (family != AF_UNIX)
		return -EINVAL;
	return unix_dest(c, raw, len, d);
}

/* An inet address as the kernel will use it. */
struct inet_addr {
	int family;			/* AF_INET or AF_INET6 (meant) */
	uint8_t bytes[16];		/* network order; AF_INET: 4 */
	uint16_t port;			/* network order */
	uint32_t scope_id;		/* AF_INET6 */
	bool mapped;			/* AF_INET given as ::ffff:a.b.c.d */
};

/*
 * Read RAW (LEN >= 2 bytes, family FAMILY) on inet socket K for OP as
 * inet_bind, inet_dgram_connect / __ip4_datagram_connect /
 * __ip6_datagram_connect, tcp_v4_connect / tcp_v6_connect, udp_sendmsg
 * and udpv6_sendmsg do: 0 and A, or the kernel's -errno.  AF_UNSPEC on a
 * connect (a disconnect) and on an IPv6 send (no address) are the
 * caller's.
 */
static int
inet_read(const struct sock_kind *k, enum net_op op, sa_family_t family,
    const void *raw, socklen_t len, struct inet_addr *a)
{
	bool tcp = k->type == SOCK_STREAM;

	memset(a, 0, sizeof(*a));
	if (k->domain == AF_INET) {
		struct sockaddr_in in;

		if (len < sizeof(in))
			return -EINVAL;
		memcpy(&in, raw, sizeof(in));
		/* inet_bind: AF_UNSPEC only for INADDR_ANY; udp_sendmsg:
		 * AF_UNSPEC is IPv4. */
		if (family != AF_INET && (family != AF_UNSPEC ||
		    (op == OP_BIND && in.sin_addr.s_addr != htonl(INADDR_ANY))))
			return -EAFNOSUPPORT;
		a->family = AF_INET;
		memcpy(a->bytes, &in.sin_addr, 4);
		a->port = in.sin_port;
		return 0;
	}
	if (family == AF_INET && !tcp && op != OP_BIND) {
		struct sockaddr_in in;

		/* An IPv4 destination on an IPv6 UDP socket. */
		if (k->v6only)
			return op == OP_SEND ? -ENETUNREACH : -EAFNOSUPPORT;
		if (len < sizeof(in))
			return -EINVAL;
		memcpy(&in, raw, sizeof(in));
		a->family = AF_INET;
		memcpy(a->bytes, &in.sin_addr, 4);
		a->port = in.sin_port;
		return 0;
	}
	if (family != AF_INET6) {
		if (op == OP_SEND)
			return -EINVAL;	/* udpv6_sendmsg */
		return len < SIN6_LEN_RFC2133 ? -EINVAL : -EAFNOSUPPORT;
	} else {
		struct sockaddr_in6 in6;
		static const uint8_t mapped[12] = {
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
		};

		if (len < SIN6_LEN_RFC2133)
			return -EINVAL;
		memset(&in6, 0, sizeof(in6));
		memcpy(&in6, raw, len < sizeof(in6) ? len : sizeof(in6));
		a->port = in6.sin6_port;
		if (memcmp(&in6.sin6_addr, mapped, sizeof(mapped)) != 0) {
			a->family = AF_INET6;
			memcpy(a->bytes, &in6.sin6_addr, 16);
			a->scope_id = in6.sin6_scope_id;
			return 0;
		}
		/* ::ffff:a.b.c.d is IPv4, refused on a V6ONLY socket. */
		if (k->v6only)
			return op == OP_BIND ? -EINVAL : -ENETUNREACH;
		a->family = AF_INET;
		a->mapped = true;
		memcpy(a->bytes, (const uint8_t *)&in6.sin6_addr + 12, 4);
		return 0;
	}
}

/* The sockaddr that makes the kernel use A on a socket of DOMAIN. */
static void
inet_sockaddr(int domain, const struct inet_addr *a, struct dest *d)
{
	memset(&d->addr, 0, sizeof(d->addr));
	if (domain == AF_INET || (a->family == AF_INET && !a->mapped)) {
		struct sockaddr_in *in = (struct sockaddr_in *)&d->addr;

		in->sin_family = AF_INET;
		in->sin_port = a->port;
		memcpy(&in->sin_addr, a->bytes, 4);
		d->len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&d->addr;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = a->port;
		if (a->mapped) {
			in6->sin6_addr.s6_addr[10] = 0xff;
			in6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&in6->sin6_addr.s6_addr[12], a->bytes, 4);
		} else {
			memcpy(&in6->sin6_addr, a->bytes, 16);
			in6->sin6_scope_id = a->scope_id;
		}
		d->len = sizeof(*in6);
	}
}

/*
 * The one reading of an agent's address: what the kernel will do with RAW
 * (LEN bytes; a sendto may give 0) for OP on the socket K, as it reads
 * every (socket family, address family, length).  Fills D with the
 * address to perform the call with (d->len 0: none -- a send to the
 * connected peer) and, where the kernel would reach or open an address,
 * the object and action to decide:
 *   - a connect with AF_UNSPEC disconnects (TCP, UDP, unix datagram): no
 *     destination, performed;
 *   - a TCP send ignores the address unless FASTOPEN (MSG_FASTOPEN), which
 *     connects to it: decided as a connect;
 *   - AF_UNSPEC on an IPv4 UDP send is IPv4 (udp_sendmsg); on an IPv6
 *     one, no address (udpv6_sendmsg): the connected peer, or
 *     EDESTADDRREQ from the kernel;
 *   - an AF_INET address on an IPv6 UDP socket and ::ffff:a.b.c.d are
 *     IPv4 (refused under IPV6_V6ONLY);
 *   - a destination 0.0.0.0 or :: is this host: 127.0.0.1, ::1;
 *   - a bind to a non-zero port is a listen on that address and port;
 *     to port 0 it is free for TCP (a TCP socket accepts only after
 *     listen, which is decided) and a listen on port 0 for UDP (it
 *     hears anyone on its ephemeral port);
 *   - short lengths: EINVAL, other families: the kernel's errno.
 * UDP-Lite, ping, SCTP, MPTCP and raw sockets are refused (EACCES).
 * Returns 0 or -errno; D is the caller's to dest_done().
 */
static int
normalise(const struct call *c, const struct sock_kind *k, enum net_op op,
    bool fastopen, const void *raw, socklen_t len, struct dest *d)
{
	static const uint8_t any[16];
	char text[INET6_ADDRSTRLEN];
	struct inet_addr a;
	sa_family_t family;
	int r;

	memset(d, 0, sizeof(*d));
	d->path_fd = -1;
	d->action = ACTION_CONNECT;
	if (k->domain == AF_UNIX)
		return unix_normalise(c, k, op, raw, len, d);
	if ((k->domain != AF_INET && k->domain != AF_INET6) ||
	    k->proto == NULL)
		return -EACCES;
	if (op == OP_SEND && k->type == SOCK_STREAM && !fastopen)
		return 0;		/* tcp_sendmsg: the connected peer */
	if (len < sizeof(sa_family_t))
		return -EINVAL;
	memcpy(&family, raw, sizeof(family));
	if (family == AF_UNSPEC && op == OP_CONNECT)
		return disconnect_dest(d);
	if (family == AF_UNSPEC && op == OP_SEND) {
		if (fastopen)
			return -EOPNOTSUPP;	/* tcp_sendmsg_fastopen */
		if (k->domain == AF_INET6)
			return 0;
	}
	if ((r = inet_read(k, op, family, raw, len, &a)) < 0)
		return r;
	if (op == OP_BIND) {
		/* A TCP socket bound to port 0 accepts nothing until a
		 * listen (decided); a UDP one receives from anyone on the
		 * ephemeral port it gets, so it is decided as a listen on
		 * port 0 (a listen rule names port 0 to allow it). */
		d->action = ACTION_LISTEN;
		d->ask = a.port != 0 || k->type == SOCK_DGRAM;
	} else {
		if (a.port == 0 && op == OP_SEND && k->type == SOCK_DGRAM)
			return -EINVAL;	/* udp_sendmsg, udpv6_sendmsg */
		/* This host: where the kernel's routing sends it. */
		if (memcmp(a.bytes, any, a.family == AF_INET ? 4 : 16) == 0) {
			a.bytes[0] = a.family == AF_INET ? 127 : 0;
			a.bytes[a.family == AF_INET ? 3 : 15] = 1;
		}
		d->ask = true;
	}
	inet_sockaddr(k->domain, &a, d);
	inet_ntop(a.family, a.bytes, text, sizeof(text));
	snprintf(d->object, sizeof(d->object), a.family == AF_INET6 ?
	    "%s:[%s]:%u" : "%s:%s:%u", k->proto, text, ntohs(a.port));
	return 0;
}

/*
 * Ask about D: 0 or -EACCES.  An allow that wants the mutual-TLS tunnel is
 * good only for a TCP connect, which then goes through it (TUNNEL
 * non-NULL: the verdict is left there); anywhere else (udp, a listen, a
 * send, MSG_FASTOPEN) it is refused.  EARLY (non-NULL with TUNNEL): a
 * TCP connect to where the last allow went through the tunnel makes
 * that tunnel's first flight there while ztd decides (tunnel.h).
 */
static int
decide_dest(const struct call *c, const struct dest *d,
    struct ztconn_verdict *tunnel, struct tunnel_early *early)
{
	struct ztconn_verdict v;

	if (!d->ask)
		return 0;
	if (early != NULL && tunnel != NULL && c->s->setup.tunnels != NULL &&
	    d->action == ACTION_CONNECT && strncmp(d->object, "tcp:", 4) == 0 &&
	    tunnel_early_begin(c->s->setup.tunnels, early, d->object,
	    d->addr.ss_family))
		ztconn_decide_meanwhile(c->s->setup.ztd, d->action, d->object,
		    (pid_t)c->req->pid, tunnel_early_make, early, &v);
	else
		ztconn_decide(c->s->setup.ztd, d->action, d->object, -1,
		    (pid_t)c->req->pid, &v);
	if (!v.allow)
		return -EACCES;
	if (v.tunnel) {
		if (tunnel == NULL || d->action != ACTION_CONNECT ||
		    strncmp(d->object, "tcp:", 4) != 0)
			return -EACCES;
		*tunnel = v;
	}
	return 0;
}

static void
dest_done(struct dest *d)
{
	if (d->path_fd >= 0)
		close(d->path_fd);
	d->path_fd = -1;
}

/* Is D an inet destination on port 53? */
static bool
dns_port(const struct dest *d)
{
	return d->len != 0 && (d->addr.ss_family == AF_INET6 ?
	    ((const struct sockaddr_in6 *)&d->addr)->sin6_port :
	    d->addr.ss_family == AF_INET ?
	    ((const struct sockaddr_in *)&d->addr)->sin_port : 0) == htons(53);
}

/* Normalise, decide and ready socket SFD of kind K for OP: 0 or -errno.
 * Under a resolver, a TCP Fast Open send to port 53 (a connect the
 * resolver would not see) is refused.  TUNNEL and EARLY as decide_dest's. */
static int
prepare(const struct call *c, int sfd, const struct sock_kind *k,
    enum net_op op, bool fastopen, const void *raw, socklen_t len,
    struct dest *d, struct ztconn_verdict *tunnel,
    struct tunnel_early *early)
{
	int r;

	if ((r = normalise(c, k, op, fastopen, raw, len, d)) < 0)
		return r;
	if (fastopen && c->s->setup.resolver != NULL && dns_port(d))
		return -EACCES;
	if ((r = decide_dest(c, d, tunnel, early)) < 0)
		return r;
	return k->domain == AF_UNIX ? refuse_rights(c->s, sfd) : 0;
}

/*
 * Is this connect on the TCP socket K to port 53 of any address, in a
 * profile with a resolver?  Then it is the resolver's to serve: the
 * agent's DNS never reaches a server directly.
 */
static bool
to_resolver(const struct call *c, const struct sock_kind *k,
    const void *raw, socklen_t len)
{
	struct dest d;
	bool dns;

	if (c->s->setup.resolver == NULL || k->proto == NULL ||
	    k->type != SOCK_STREAM ||
	    normalise(c, k, OP_CONNECT, false, raw, len, &d) < 0)
		return false;
	dns = dns_port(&d);
	dest_done(&d);
	return dns;
}

/* The local address of SFD into SS: its length, or -errno. */
static int
local_address(int sfd, struct sockaddr_storage *ss)
{
	socklen_t len = sizeof(*ss);

	memset(ss, 0, sizeof(*ss));
	if (getsockname(sfd, (struct sockaddr *)ss, &len) < 0)
		return -errno;
	return (int)len;
}

static uint16_t
local_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ((const struct sockaddr_in6 *)ss)->sin6_port;
	return ((const struct sockaddr_in *)ss)->sin_port;
}

/*
 * Deaf datagram sockets.  The kernel binds an inet datagram socket that
 * has no port to an ephemeral port on the any-address at its first send
 * or connect (inet_send_prepare, inet_dgram_connect), even when the call
 * then fails: a send without an address (send, write, sendmsg without a
 * name: EDESTADDRREQ), which the supervisor never sees, or a connect the
 * route refuses.  From then on anyone who finds the port could send the
 * agent datagrams no rule allowed.  So such a socket is made here, not by
 * the agent (the filter sends its socket() here), with a socket filter
 * that drops every datagram, and handed over (SECCOMP_ADDFD_FLAG_SEND).
 * It stays deaf until a decision opens it: a connect performed here
 * (then it hears its peer only: udp_pin too) or a bind decided as a
 * listen.  A disconnect makes it deaf first -- so that no write finds it
 * unbound and hearing -- and it hears again only if a decided bind still
 * holds its port.  These steps on one socket are made under
 * s->dgram_lock, so that two threads' connect and disconnect cannot
 * leave it hearing unconnected.  The agent can neither remove, replace
 * nor lock the filter (filter.c refuses the options).  Datagrams are
 * dropped before they are queued; ICMP errors are not datagrams and the
 * filter never sees them, so the options that would queue them with
 * their payload (IP_RECVERR, IPV6_RECVERR) are answered 0 and never set
 * (filter.c).
 */
static const struct sock_filter drop_all[] = {
	BPF_STMT(BPF_RET | BPF_K, 0),
};

static bool
is_inet_dgram(const struct sock_kind *k)
{
	return k->type == SOCK_DGRAM &&
	    (k->domain == AF_INET || k->domain == AF_INET6);
}

/* Make SFD deaf (DEAF) or hearing: 0 or -errno. */
static int
dgram_deaf_set(int sfd, bool deaf)
{
	struct sock_fprog prog = {
		.len = sizeof(drop_all) / sizeof(drop_all[0]),
		.filter = (struct sock_filter *)drop_all,
	};
	int zero = 0;

	if (deaf)
		return setsockopt(sfd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
		    sizeof(prog)) < 0 ? -errno : 0;
	if (setsockopt(sfd, SOL_SOCKET, SO_DETACH_FILTER, &zero,
	    sizeof(zero)) < 0 && errno != ENOENT)
		return -errno;		/* ENOENT: it had no filter */
	return 0;
}

/* Does SFD have a socket filter (ours: the agent can set none)?  An
 * error says yes: the caller then treats the socket as undecided. */
static bool
dgram_is_deaf(int sfd)
{
	socklen_t n = 0;

	return getsockopt(sfd, SOL_SOCKET, SO_GET_FILTER, NULL, &n) < 0 ||
	    n != 0;
}

int
supervise_deafen_inherited(int fd)
{
	struct sockaddr_storage local;
	struct sock_kind k;
	int r, zero = 0;

	if (socket_kind(fd, &k) < 0 || !is_inet_dgram(&k))
		return 0;		/* not a socket, or another kind */
	/* No host's ICMP error on its error queue either: the option the
	 * agent cannot set (filter.c) is turned off if the caller set it
	 * (IP_RECVERR also covers v4-mapped peers of an IPv6 socket). */
	if (setsockopt(fd, IPPROTO_IP, IP_RECVERR, &zero, sizeof(zero)) < 0 ||
	    (k.domain == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_RECVERR, &zero, sizeof(zero)) < 0))
		return -errno;
	if ((r = local_address(fd, &local)) < 0)
		return r;
	return local_port(&local) != 0 ? 0 : dgram_deaf_set(fd, true);
}

int64_t
netcall_socket(const struct call *c)
{
	const __u64 *a = c->req->data.args;
	int domain = (int)a[0], type = (int)a[1];
	struct seccomp_notif_addfd add;
	int fd, r;

	/* Registers only: nothing of the agent's memory is used. */
	if ((domain != AF_INET && domain != AF_INET6) ||
	    (type & 0xf) != SOCK_DGRAM)
		return -EACCES;		/* the filter sends no other */
	if ((fd = socket(domain, type | SOCK_CLOEXEC, (int)a[2])) < 0)
		return -errno;		/* the kernel's own answer */
	if ((r = dgram_deaf_set(fd, true)) < 0) {
		close(fd);
		return r;
	}
	memset(&add, 0, sizeof(add));
	add.id = c->req->id;
	add.flags = SECCOMP_ADDFD_FLAG_SEND;
	add.srcfd = (__u32)fd;
	add.newfd_flags = (type & SOCK_CLOEXEC) ? O_CLOEXEC : 0;
	/* Installed in the agent (within its RLIMIT_NOFILE) and returned
	 * as socket()'s result in one step; on failure nothing was
	 * answered, and the worker answers the errno. */
	r = ioctl(c->fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0 ? -errno : 0;
	close(fd);
	return r < 0 ? r : ANSWERED;
}

/*
 * Perform the decided connect, disconnect (AF_UNSPEC) or bind D on SFD
 * of kind K: 0 or -errno.  An inet datagram socket's deafness follows
 * (above).
 */
static int
perform(struct supervisor *s, int sfd, const struct sock_kind *k,
    bool bind_, const struct dest *d)
{
	const struct sockaddr *to = (const struct sockaddr *)&d->addr;
	bool disconnect = !bind_ && d->addr.ss_family == AF_UNSPEC;
	struct sockaddr_storage local;
	int r;

	if (!is_inet_dgram(k)) {
		r = bind_ ? bind(sfd, to, d->len) : connect(sfd, to, d->len);
		return r < 0 ? -errno : 0;
	}
	pthread_mutex_lock(&s->dgram_lock);
	if (disconnect && (r = dgram_deaf_set(sfd, true)) < 0)
		goto out;
	r = bind_ ? bind(sfd, to, d->len) : connect(sfd, to, d->len);
	if (r < 0) {
		r = -errno;		/* as it was (a disconnect: deaf) */
		goto out;
	}
	/* Connected, bound by a decision, or (a disconnect) still holding
	 * the port a decided bind gave it: it hears. */
	if (!disconnect || ((r = local_address(sfd, &local)) >= 0 &&
	    local_port(&local) != 0))
		r = dgram_deaf_set(sfd, false);
out:
	pthread_mutex_unlock(&s->dgram_lock);
	return r < 0 ? r : 0;
}

/* connect(fd, addr, len) and bind(fd, addr, len) */
static int
on_connect_or_bind(const struct call *c, bool bind_)
{
	const __u64 *a = c->req->data.args;
	struct sockaddr_storage raw;
	socklen_t len = (socklen_t)a[2];
	struct ztconn_verdict tunnel;
	struct tunnel_early early;
	struct sock_kind k;
	struct dest d = { .path_fd = -1 };
	int sfd, r;

	if ((int)a[2] < 0 || len > sizeof(raw))
		return -EINVAL;
	if (agent_read(c->req->pid, a[1], &raw, len) < 0)
		return -EFAULT;
	if (!agent_call_valid(c))
		return -EACCES;
	if ((sfd = agent_take_fd(c, (int)a[0])) < 0)
		return sfd;
	tunnel.tunnel = false;
	tunnel_early_init(&early);
	if ((r = socket_kind(sfd, &k)) == 0 && !bind_ &&
	    to_resolver(c, &k, &raw, len))
		r = resolver_connect(c->s->setup.resolver, sfd,
		    (pid_t)c->req->pid);
	else if (r == 0 &&
	    (r = prepare(c, sfd, &k, bind_ ? OP_BIND : OP_CONNECT, false,
	    &raw, len, &d, bind_ ? NULL : &tunnel, bind_ ? NULL : &early)) ==
	    0) {
		if (tunnel.tunnel)
			r = tunnel_connect(c->s->setup.tunnels, sfd,
			    (struct sockaddr *)&d.addr, d.len,
			    tunnel.server_name, tunnel.ca, d.object, &early);
		else
			r = perform(c->s, sfd, &k, bind_, &d);
	}
	/* Made for a tunnel that was not allowed, or not this one. */
	tunnel_early_free(&early);
	dest_done(&d);
	close(sfd);
	return r;
}

/*
 * The local address a listen on the TCP socket SFD will accept on: when
 * unbound, bound here to the any-address and an ephemeral port, as the
 * kernel's autobind in inet_listen would.  Its length in LOCAL, or -errno.
 */
static int
listen_address(int sfd, const struct sock_kind *k,
    struct sockaddr_storage *local)
{
	struct sockaddr_storage any;
	int len;

	if ((len = local_address(sfd, local)) < 0 || local_port(local) != 0)
		return len;
	memset(&any, 0, sizeof(any));
	any.ss_family = (sa_family_t)k->domain;	/* any-address, port 0 */
	if (bind(sfd, (struct sockaddr *)&any, k->domain == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) < 0 &&
	    errno != EINVAL)		/* EINVAL: bound meanwhile */
		return -errno;
	if ((len = local_address(sfd, local)) < 0)
		return len;
	return local_port(local) != 0 ? len : -EACCES;
}

/*
 * listen(fd, backlog): decided as a listen on the socket's real local
 * address and port (bound here first when it is not), performed only on
 * an allow.  Should the address change before the kernel listens (another
 * thread's failed connect can free an ephemeral port), the listener is
 * stopped again and the call refused.
 */
static int
on_listen(const struct call *c)
{
	const __u64 *a = c->req->data.args;
	struct sockaddr_storage local, after;
	struct sock_kind k;
	struct dest d = { .path_fd = -1 };
	int sfd, len, r;

	if ((sfd = agent_take_fd(c, (int)a[0])) < 0)
		return sfd;
	if ((r = socket_kind(sfd, &k)) < 0)
		goto out;
	if (k.domain == AF_UNIX) {
		/* The agent binds no unix socket (bind is refused), and
		 * the kernel listens on no unbound one. */
		len = local_address(sfd, &local);
		r = len > (int)sizeof(sa_family_t) ? -EACCES : -EINVAL;
		goto out;
	}
	if ((k.domain != AF_INET && k.domain != AF_INET6) ||
	    (k.proto != NULL && k.type != SOCK_STREAM)) {
		r = -EOPNOTSUPP;	/* sock_no_listen */
		goto out;
	}
	if (k.proto == NULL) {
		r = -EACCES;
		goto out;
	}
	if (getpeername(sfd, (struct sockaddr *)&after,
	    &(socklen_t){ sizeof(after) }) == 0) {
		r = -EINVAL;		/* connected: inet_listen refuses */
		goto out;
	}
	if ((r = len = listen_address(sfd, &k, &local)) < 0 ||
	    (r = prepare(c, sfd, &k, OP_BIND, false, &local, (socklen_t)len,
	    &d, NULL, NULL)) < 0)
		goto out;
	if (!d.ask) {
		r = -EACCES;		/* no port: nothing was decided */
		goto out;
	}
	r = listen(sfd, (int)a[1]) < 0 ? -errno : 0;
	if (r == 0 && (local_address(sfd, &after) != len ||
	    memcmp(&after, &local, (size_t)len) != 0)) {
		struct sockaddr unspec = { .sa_family = AF_UNSPEC };

		connect(sfd, &unspec, sizeof(unspec));	/* stops listening */
		r = -EACCES;
	}
out:
	dest_done(&d);
	close(sfd);
	return r;
}

/* Copy the agent's iovec array into one buffer (at most SEND_MAX). */
static ssize_t
copy_iov(const struct call *c, uint64_t iov_addr, size_t iovlen, char *buf,
    bool *cut)
{
	struct iovec iov[64];
	size_t total = 0;

	*cut = false;
	if (iovlen > IOV_MAX_)
		return -EMSGSIZE;
	for (size_t base = 0; base < iovlen; base += 64) {
		size_t n = iovlen - base < 64 ? iovlen - base : 64;

		if (agent_read(c->req->pid, iov_addr + base * sizeof(iov[0]),
		    iov, n * sizeof(iov[0])) < 0)
			return -EFAULT;
		for (size_t i = 0; i < n; i++) {
			size_t take = iov[i].iov_len;

			if (take > SEND_MAX - total) {
				take = SEND_MAX - total;
				*cut = true;
			}
			if (agent_read(c->req->pid,
			    (uint64_t)(uintptr_t)iov[i].iov_base,
			    buf + total, take) < 0)
				return -EFAULT;
			total += take;
			if (*cut)
				return (ssize_t)total;
		}
	}
	return (ssize_t)total;
}

/*
 * A UDP send with an address on a socket that no decision opened (no port
 * yet, or deaf: above) would have the kernel bind it to an ephemeral port
 * on the any-address (udp_sendmsg's autobind), where anyone could then
 * send it datagrams no rule allowed.  Instead the socket is connected to
 * the destination just decided (D) and hears, so that it receives from
 * that peer only, and the send goes without an address.  A socket a
 * decision opened (bound by an allowed bind, or connected) is left as it
 * is: later sends to other allowed destinations still go (a connected
 * UDP socket may send elsewhere), but only the peer is heard.  0, or the
 * connect's -errno (as the send would have failed).
 */
static int
udp_pin(struct supervisor *s, int sfd, const struct sock_kind *k,
    struct dest *d)
{
	struct sockaddr_storage local;
	int r;

	if (k->proto == NULL || k->type != SOCK_DGRAM || d->len == 0 ||
	    strcmp(k->proto, "udp") != 0)
		return 0;
	pthread_mutex_lock(&s->dgram_lock);
	if ((r = local_address(sfd, &local)) < 0 ||
	    (local_port(&local) != 0 && !dgram_is_deaf(sfd)))
		goto out;
	if (connect(sfd, (struct sockaddr *)&d->addr, d->len) < 0) {
		r = -errno;
		goto out;
	}
	if ((r = dgram_deaf_set(sfd, false)) == 0)
		d->len = 0;
out:
	pthread_mutex_unlock(&s->dgram_lock);
	return r < 0 ? r : 0;
}

/*
 * Perform one send of N bytes of BUF on SFD, to D (none when d->len is
 * 0): the count sent, or -errno.
 */
static ssize_t
send_to(int sfd, const char *buf, size_t n, int flags, const struct dest *d)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = n };
	struct msghdr out = {
		.msg_name = d->len != 0 ? (void *)&d->addr : NULL,
		.msg_namelen = d->len, .msg_iov = &iov, .msg_iovlen = 1,
	};
	ssize_t r = sendmsg(sfd, &out, flags | MSG_NOSIGNAL);

	return r < 0 ? -errno : r;
}

/* One emulated sendmsg: MH read from the agent, performed on SFD. */
static ssize_t
send_one(const struct call *c, int sfd, const struct msghdr *mh, int flags,
    char *buf)
{
	struct sockaddr_storage raw;
	struct dest d = { .path_fd = -1 };
	struct sock_kind k;
	socklen_t namelen = 0;
	ssize_t n;
	bool cut;
	int r;

	/* Descriptor numbers would resolve in our table: no control data. */
	if (mh->msg_controllen != 0)
		return -EACCES;
	if ((r = socket_kind(sfd, &k)) < 0)
		return r;
	if ((n = copy_iov(c, (uint64_t)(uintptr_t)mh->msg_iov,
	    mh->msg_iovlen, buf, &cut)) < 0)
		return n;
	if (cut && k.type != SOCK_STREAM)
		return -EMSGSIZE;	/* a datagram is sent whole or not */
	if (mh->msg_name != NULL && mh->msg_namelen != 0) {
		/* The kernel reads an int, and cuts a longer name. */
		if ((int)mh->msg_namelen < 0)
			return -EINVAL;
		namelen = mh->msg_namelen > sizeof(raw) ? sizeof(raw) :
		    mh->msg_namelen;
		if (agent_read(c->req->pid, (uint64_t)(uintptr_t)mh->msg_name,
		    &raw, namelen) < 0)
			return -EFAULT;
	}
	if (!agent_call_valid(c))
		return -EACCES;
	/* Without a name: the peer, decided when the socket connected. */
	if ((r = namelen != 0 ? prepare(c, sfd, &k, OP_SEND,
	    (flags & MSG_FASTOPEN) != 0, &raw, namelen, &d, NULL, NULL) :
	    k.domain == AF_UNIX ? refuse_rights(c->s, sfd) : 0) == 0 &&
	    (r = udp_pin(c->s, sfd, &k, &d)) == 0)
		n = send_to(sfd, buf, (size_t)n, flags, &d);
	else
		n = r;
	dest_done(&d);
	return n;
}

/* sendto(fd, buf, len, flags, addr, addrlen) with an address */
static ssize_t
on_sendto(const struct call *c, char *buf)
{
	const __u64 *a = c->req->data.args;
	size_t len = a[2] > SEND_MAX ? SEND_MAX : a[2];
	socklen_t alen = (socklen_t)a[5];
	struct sockaddr_storage raw;
	struct dest d = { .path_fd = -1 };
	struct sock_kind k;
	int sfd, flags = (int)a[3];
	ssize_t r;

	if ((sfd = agent_take_fd(c, (int)a[0])) < 0)
		return sfd;
	if ((r = socket_kind(sfd, &k)) < 0)
		;
	else if (len < a[2] && k.type != SOCK_STREAM)
		r = -EMSGSIZE;		/* a datagram is sent whole or not */
	else if ((int)a[5] < 0 || alen > sizeof(raw))
		r = -EINVAL;		/* move_addr_to_kernel */
	else if (agent_read(c->req->pid, a[1], buf, len) < 0 ||
	    agent_read(c->req->pid, a[4], &raw, alen) < 0)
		r = -EFAULT;
	else if (!agent_call_valid(c))
		r = -EACCES;
	else if ((r = prepare(c, sfd, &k, OP_SEND, (flags & MSG_FASTOPEN) != 0,
	    &raw, alen, &d, NULL, NULL)) == 0 &&
	    (r = udp_pin(c->s, sfd, &k, &d)) == 0)
		r = send_to(sfd, buf, len, flags, &d);
	dest_done(&d);
	close(sfd);
	return r;
}

/* sendmsg(fd, msghdr, flags) */
static ssize_t
on_sendmsg(const struct call *c, char *buf)
{
	const __u64 *a = c->req->data.args;
	struct msghdr mh;
	ssize_t r;
	int sfd;

	if (agent_read(c->req->pid, a[1], &mh, sizeof(mh)) < 0)
		return -EFAULT;
	if ((sfd = agent_take_fd(c, (int)a[0])) < 0)
		return sfd;
	r = send_one(c, sfd, &mh, (int)a[2], buf);
	close(sfd);
	return r;
}

/* sendmmsg(fd, mmsghdr[], vlen, flags): each message in turn, as the
 * kernel does, the count sent returned and each msg_len written back. */
static ssize_t
on_sendmmsg(const struct call *c, char *buf)
{
	const __u64 *a = c->req->data.args;
	unsigned vlen = (unsigned)a[2] > MMSG_MAX ? MMSG_MAX : (unsigned)a[2];
	ssize_t sent = 0, r = 0;
	int sfd;

	if ((sfd = agent_take_fd(c, (int)a[0])) < 0)
		return sfd;
	for (unsigned i = 0; i < vlen; i++) {
		struct mmsghdr mm;
		uint64_t at = a[1] + (uint64_t)i * sizeof(mm);
		struct iovec local, remote;
		unsigned len;

		if (agent_read(c->req->pid, at, &mm, sizeof(mm)) < 0) {
			r = -EFAULT;
			break;
		}
		r = send_one(c, sfd, &mm.msg_hdr, (int)a[3], buf);
		if (r < 0)
			break;
		len = (unsigned)r;
		local.iov_base = &len;
		local.iov_len = sizeof(len);
		remote.iov_base = (void *)(uintptr_t)(at +
		    offsetof(struct mmsghdr, msg_len));
		remote.iov_len = sizeof(len);
		process_vm_writev(c->req->pid, &local, 1, &remote, 1, 0);
		sent++;
	}
	close(sfd);
	return sent > 0 ? sent : r;
}

int64_t
netcall_dispatch(const struct call *c, char *buf)
{
	switch (c->req->data.nr) {
	case SCMP_SYS(connect):
		return on_connect_or_bind(c, false);
	case SCMP_SYS(bind):
		return on_connect_or_bind(c, true);
	case SCMP_SYS(listen):
		return on_listen(c);
	case SCMP_SYS(sendto):
		return on_sendto(c, buf);
	case SCMP_SYS(sendmsg):
		return on_sendmsg(c, buf);
	case SCMP_SYS(sendmmsg):
		return on_sendmmsg(c, buf);
	default:
		return -EACCES;
	}
}

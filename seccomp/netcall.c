/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network calls: connect, bind, sendto, sendmsg and sendmmsg.  The
 * address (for a send, the whole message) is copied from the agent,
 * decided, and the call performed here on the agent's own socket
 * (pidfd_getfd); the agent's call never continues.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "supervisor_int.h"
#include "tunnel.h"
#include "ztconn.h"

#define SEND_MAX (256 * 1024)		/* bytes one emulated send copies */
#define IOV_MAX_ 1024
#define MMSG_MAX 64

struct dest {
	char object[OBJECT_MAX];
	struct sockaddr_storage addr;	/* what the supervisor uses */
	socklen_t len;
	int path_fd;			/* AF_UNIX: the socket file, O_PATH */
	bool ask;			/* false: needs no decision */
};

static int
socket_kind(int fd, int *domain, const char **proto)
{
	int type, protocol;
	socklen_t l = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, domain, &l) < 0)
		return -errno;
	l = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0)
		return -errno;
	l = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &l) < 0)
		return -errno;
	*proto = NULL;
	if (type == SOCK_STREAM && (protocol == IPPROTO_TCP || protocol == 0))
		*proto = "tcp";
	else if (type == SOCK_DGRAM &&
	    (protocol == IPPROTO_UDP || protocol == 0))
		*proto = "udp";
	return type;
}

/*
 * A unix socket path, resolved as the agent would -- an absolute one in
 * its root, a relative one from its cwd, never the supervisor's -- without
 * following symlinks; decided by the canonical path of what it names, and
 * never ztd's socket.
 */
static int
unix_dest(const struct call *c, const struct sockaddr_un *sun, socklen_t len,
    struct dest *d)
{
	const struct supervise_setup *st = &c->s->setup;
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	char path[sizeof(sun->sun_path) + 1], base[64], canon[PATH_MAX];
	size_t n = len - offsetof(struct sockaddr_un, sun_path);
	struct sockaddr_un *via = (struct sockaddr_un *)&d->addr;
	struct stat sb;
	int basefd, fd;

	if (len <= offsetof(struct sockaddr_un, sun_path) || sun->sun_path[0]
	    == '\0')
		return -EACCES;		/* unnamed or abstract */
	memcpy(path, sun->sun_path, n);
	path[n] = '\0';
	if (path[0] == '/')
		how.resolve |= RESOLVE_IN_ROOT;
	snprintf(base, sizeof(base), "/proc/%d/%s", (int)c->req->pid,
	    path[0] == '/' ? "root" : "cwd");
	basefd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (basefd < 0)
		return -EACCES;
	fd = (int)syscall(SYS_openat2, basefd, path, &how, sizeof(how));
	close(basefd);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -EACCES;
	if (!agent_call_valid(c) || fstat(fd, &sb) < 0 || !S_ISSOCK(sb.st_mode) ||
	    fd_path(fd, canon, sizeof(canon)) < 0) {
		close(fd);
		return -ECONNREFUSED;
	}
	if (st->ztd_ino != 0 && sb.st_dev == st->ztd_dev &&
	    sb.st_ino == st->ztd_ino) {
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

/* The destination a sockaddr of LEN bytes names, for socket SFD. */
static int
make_dest(const struct call *c, int sfd, const void *raw, socklen_t len,
    bool bind_, struct dest *d)
{
	const struct sockaddr *sa = raw;
	const char *proto;
	char text[INET6_ADDRSTRLEN];
	int domain, type;

	memset(d, 0, sizeof(*d));
	d->path_fd = -1;
	if ((type = socket_kind(sfd, &domain, &proto)) < 0)
		return type;
	if (len < sizeof(sa_family_t) || len > sizeof(d->addr))
		return -EINVAL;
	if (domain == AF_UNIX && sa->sa_family == AF_UNIX)
		return bind_ ? -EACCES : unix_dest(c, raw, len, d);
	memcpy(&d->addr, raw, len);
	d->len = len;
	if (sa->sa_family == AF_UNSPEC && !bind_ && type == SOCK_DGRAM)
		return 0;		/* dissolve an association */
	if (proto == NULL || (domain != AF_INET && domain != AF_INET6) ||
	    sa->sa_family != domain)
		return -EACCES;
	if (domain == AF_INET) {
		const struct sockaddr_in *in = raw;

		if (len < sizeof(*in))
			return -EINVAL;
		inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
		snprintf(d->object, sizeof(d->object), "%s:%s:%u", proto,
		    text, ntohs(in->sin_port));
		d->ask = !(bind_ && in->sin_port == 0);
	} else {
		const struct sockaddr_in6 *in6 = raw;

		if (len < sizeof(*in6))
			return -EINVAL;
		inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
		snprintf(d->object, sizeof(d->object), "%s:[%s]:%u", proto,
		    text, ntohs(in6->sin6_port));
		d->ask = !(bind_ && in6->sin6_port == 0);
	}
	return 0;
}

/*
 * Ask about D (connect rules serve bind too); 0 or -EACCES.  An allow
 * that wants the mutual-TLS tunnel is good only for a TCP connect, which
 * then goes through it (TUNNEL non-NULL: the verdict is left there);
 * anywhere else (udp, bind, sendto) it is refused.
 */
static int
decide_dest(const struct call *c, const struct dest *d,
    struct ztconn_verdict *tunnel)
{
	struct ztconn_verdict v;

	if (!d->ask)
		return 0;
	ztconn_decide(c->s->setup.ztd, ACTION_CONNECT, d->object, -1,
	    (pid_t)c->req->pid, &v);
	if (!v.allow)
		return -EACCES;
	if (v.tunnel) {
		if (tunnel == NULL || strncmp(d->object, "tcp:", 4) != 0)
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

/* connect(fd, addr, len) and bind(fd, addr, len) */
static int
on_connect_or_bind(const struct call *c, bool bind_)
{
	const __u64 *a = c->req->data.args;
	struct sockaddr_storage raw;
	socklen_t len = (socklen_t)a[2];
	struct ztconn_verdict tunnel;
	struct dest d;
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
	if ((r = make_dest(c, sfd, &raw, len, bind_, &d)) == 0 &&
	    (r = decide_dest(c, &d, bind_ ? NULL : &tunnel)) == 0) {
		if (tunnel.tunnel)
			r = tunnel_connect(c->s->setup.tunnels, sfd,
			    (struct sockaddr *)&d.addr, d.len,
			    tunnel.server_name, tunnel.ca, d.object);
		else {
			r = bind_ ? bind(sfd, (struct sockaddr *)&d.addr,
			    d.len) : connect(sfd, (struct sockaddr *)&d.addr,
			    d.len);
			r = r < 0 ? -errno : 0;
		}
	}
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

/* One emulated sendmsg: MH read from the agent, performed on SFD. */
static ssize_t
send_one(const struct call *c, int sfd, const struct msghdr *mh, int flags,
    char *buf)
{
	struct sockaddr_storage raw;
	struct dest d = { .path_fd = -1 };
	struct msghdr out = { 0 };
	struct iovec iov;
	ssize_t n;
	bool cut;
	int type, domain;
	const char *proto;

	/* Descriptor numbers would resolve in our table: no control data. */
	if (mh->msg_controllen != 0)
		return -EACCES;
	if ((type = socket_kind(sfd, &domain, &proto)) < 0)
		return type;
	if ((n = copy_iov(c, (uint64_t)(uintptr_t)mh->msg_iov,
	    mh->msg_iovlen, buf, &cut)) < 0)
		return n;
	if (cut && type != SOCK_STREAM)
		return -EMSGSIZE;	/* a datagram is sent whole or not */
	if (mh->msg_name != NULL && mh->msg_namelen > 0) {
		int r;

		if (mh->msg_namelen > sizeof(raw))
			return -EINVAL;
		if (agent_read(c->req->pid, (uint64_t)(uintptr_t)mh->msg_name,
		    &raw, mh->msg_namelen) < 0)
			return -EFAULT;
		if (!agent_call_valid(c))
			return -EACCES;
		if ((r = make_dest(c, sfd, &raw, mh->msg_namelen, false,
		    &d)) < 0 || (r = decide_dest(c, &d, NULL)) < 0) {
			dest_done(&d);
			return r;
		}
		out.msg_name = &d.addr;
		out.msg_namelen = d.len;
	} else if (!agent_call_valid(c))
		return -EACCES;
	iov.iov_base = buf;
	iov.iov_len = (size_t)n;
	out.msg_iov = &iov;
	out.msg_iovlen = 1;
	n = sendmsg(sfd, &out, flags | MSG_NOSIGNAL);
	n = n < 0 ? -errno : n;
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
	const char *proto;
	int sfd, type, domain;
	ssize_t r;

	if ((sfd = agent_take_fd(c, (int)a[0])) < 0)
		return sfd;
	if ((type = socket_kind(sfd, &domain, &proto)) < 0)
		r = type;
	else if (len < a[2] && type != SOCK_STREAM)
		r = -EMSGSIZE;		/* a datagram is sent whole or not */
	else if (alen > sizeof(raw))
		r = -EINVAL;
	else if (agent_read(c->req->pid, a[1], buf, len) < 0 ||
	    agent_read(c->req->pid, a[4], &raw, alen) < 0)
		r = -EFAULT;
	else if (!agent_call_valid(c))
		r = -EACCES;
	else if ((r = make_dest(c, sfd, &raw, alen, false, &d)) == 0 &&
	    (r = decide_dest(c, &d, NULL)) == 0) {
		r = sendto(sfd, buf, len, (int)a[3] | MSG_NOSIGNAL,
		    (struct sockaddr *)&d.addr, d.len);
		r = r < 0 ? -errno : r;
	}
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

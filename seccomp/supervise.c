/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The supervisor.  Never continue a syscall on the strength of what was
 * read from the agent's memory: network calls are copied, decided and
 * performed here on the agent's own socket (pidfd_getfd); execs are
 * decided on the resolved file, continued, then verified at the exec
 * event, where the image that runs must be the approved one.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "digest.h"
#include "supervise.h"
#include "zt_log.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

#define APPROVALS_MAX 256
#define APPROVAL_MS 10000		/* an unused exec approval expires */
#define ARGV_MAX 4096			/* arguments of a gated exec */
#define ARGV_BYTES (256 * 1024)
#define SEND_MAX (256 * 1024)		/* bytes one emulated send copies */
#define IOV_MAX_ 1024
#define MMSG_MAX 64
#define TASKS_MAX 65536
#define DIGESTS 64
#define OBJECT_MAX (PATH_MAX + 16)
/* A handler's answer that lets the syscall continue (exec, and the
 * profile's gated syscalls, whose arguments are registers). */
#define CONTINUE INT64_MAX

struct approval {
	bool used;
	pid_t tgid;
	dev_t dev;
	ino_t ino;
	uint8_t digest[32];
	char *argv;			/* NUL-separated, as /proc/PID/cmdline */
	size_t argv_len;
	int64_t expires_ms;
};

struct digest_entry {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	uint8_t digest[32];
	bool used;
};

struct task {
	pid_t pid;
	bool seen;			/* its first stop was seen */
};

/* An exec approved in this grant: the file it was, by path. */
struct pin {
	char *path;
	dev_t dev;
	ino_t ino;
	uint8_t digest[32];
};

#define PINS_MAX 256

struct supervisor {
	struct supervise_setup setup;
	pthread_t workers[SUPERVISE_WORKERS];
	pthread_mutex_t lock;		/* approvals, tasks, digests */
	bool launch_pending;		/* the root's first exec not yet seen */
	struct approval approvals[APPROVALS_MAX];
	size_t n_approvals, peak_approvals;
	struct task *tasks;		/* traced tasks */
	size_t n_tasks, peak_tasks;
	struct digest_entry digests[DIGESTS];
	unsigned digest_next;
	struct pin pins[PINS_MAX];	/* a ring: the oldest goes first */
	unsigned pin_next;
};

struct call {
	struct supervisor *s;
	int fd;				/* the notify fd */
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
};

/* ------------------------------------------------------------------ */
/* Reading the agent's memory: every read is followed by an id check. */

static bool
still_valid(const struct call *c)
{
	return seccomp_notify_id_valid(c->fd, c->req->id) == 0;
}

static int
read_mem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t n;

	if (len == 0)
		return 0;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	return n == (ssize_t)len ? 0 : -EFAULT;
}

/* A NUL-terminated string at ADDR: its length, -EFAULT, or
 * -ENAMETOOLONG when SIZE - 1 bytes hold no NUL. */
static ssize_t
read_str(pid_t pid, uint64_t addr, char *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		/* Up to the page boundary: the next page may be unmapped. */
		size_t chunk = 4096 - ((addr + got) & 4095);
		char *nul;

		if (chunk > size - got)
			chunk = size - got;
		if (read_mem(pid, addr + got, buf + got, chunk) < 0)
			return -EFAULT;
		nul = memchr(buf + got, '\0', chunk);
		if (nul != NULL)
			return nul - buf;
		got += chunk;
	}
	return -ENAMETOOLONG;
}

/* The agent's descriptor NUMBER in the task that made the call. */
static int
take_fd(const struct call *c, int number)
{
	int pidfd, fd;

	pidfd = (int)syscall(SYS_pidfd_open, c->req->pid, PIDFD_THREAD);
	if (pidfd < 0)
		pidfd = (int)syscall(SYS_pidfd_open, c->req->pid, 0);
	if (pidfd < 0)
		return -ESRCH;
	/* The pid is the caller's only while the notification lives. */
	if (!still_valid(c)) {
		close(pidfd);
		return -ESRCH;
	}
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, number, 0);
	fd = fd < 0 ? -errno : fd;
	close(pidfd);
	return fd;
}

/* ------------------------------------------------------------------ */
/* Network: the destination, decided, then the call performed here.   */

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

/* The canonical path of an open file (as ztd's rules are written). */
static int
fd_path(int fd, char *out, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, size - 1);
	if (n <= 0 || (size_t)n >= size - 1)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return 0;
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
	if (!still_valid(c) || fstat(fd, &sb) < 0 || !S_ISSOCK(sb.st_mode) ||
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
	if (read_mem(c->req->pid, a[1], &raw, len) < 0)
		return -EFAULT;
	if (!still_valid(c))
		return -EACCES;
	if ((sfd = take_fd(c, (int)a[0])) < 0)
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

		if (read_mem(c->req->pid, iov_addr + base * sizeof(iov[0]),
		    iov, n * sizeof(iov[0])) < 0)
			return -EFAULT;
		for (size_t i = 0; i < n; i++) {
			size_t take = iov[i].iov_len;

			if (take > SEND_MAX - total) {
				take = SEND_MAX - total;
				*cut = true;
			}
			if (read_mem(c->req->pid,
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
		if (read_mem(c->req->pid, (uint64_t)(uintptr_t)mh->msg_name,
		    &raw, mh->msg_namelen) < 0)
			return -EFAULT;
		if (!still_valid(c))
			return -EACCES;
		if ((r = make_dest(c, sfd, &raw, mh->msg_namelen, false,
		    &d)) < 0 || (r = decide_dest(c, &d, NULL)) < 0) {
			dest_done(&d);
			return r;
		}
		out.msg_name = &d.addr;
		out.msg_namelen = d.len;
	} else if (!still_valid(c))
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

	if ((sfd = take_fd(c, (int)a[0])) < 0)
		return sfd;
	if ((type = socket_kind(sfd, &domain, &proto)) < 0)
		r = type;
	else if (len < a[2] && type != SOCK_STREAM)
		r = -EMSGSIZE;		/* a datagram is sent whole or not */
	else if (alen > sizeof(raw))
		r = -EINVAL;
	else if (read_mem(c->req->pid, a[1], buf, len) < 0 ||
	    read_mem(c->req->pid, a[4], &raw, alen) < 0)
		r = -EFAULT;
	else if (!still_valid(c))
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

	if (read_mem(c->req->pid, a[1], &mh, sizeof(mh)) < 0)
		return -EFAULT;
	if ((sfd = take_fd(c, (int)a[0])) < 0)
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

	if ((sfd = take_fd(c, (int)a[0])) < 0)
		return sfd;
	for (unsigned i = 0; i < vlen; i++) {
		struct mmsghdr mm;
		uint64_t at = a[1] + (uint64_t)i * sizeof(mm);
		struct iovec local, remote;
		unsigned len;

		if (read_mem(c->req->pid, at, &mm, sizeof(mm)) < 0) {
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

/* ------------------------------------------------------------------ */
/* Exec: decide on the resolved file, verify at the exec event.        */

/* SHA-256 of the file open at FD, cached by its identity and times. */
static int
file_digest(struct supervisor *s, int fd, uint8_t out[32])
{
	struct stat sb;
	struct digest_entry *e;
	struct timespec now;
	int r;

	if (fstat(fd, &sb) < 0)
		return -errno;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < DIGESTS; i++) {
		e = &s->digests[i];
		if (e->used && e->dev == sb.st_dev && e->ino == sb.st_ino &&
		    e->size == sb.st_size &&
		    e->mtime.tv_sec == sb.st_mtim.tv_sec &&
		    e->mtime.tv_nsec == sb.st_mtim.tv_nsec &&
		    e->ctime.tv_sec == sb.st_ctim.tv_sec &&
		    e->ctime.tv_nsec == sb.st_ctim.tv_nsec) {
			memcpy(out, e->digest, 32);
			pthread_mutex_unlock(&s->lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if ((r = digest_fd(fd, out)) < 0)
		return r;
	/* A file changed within the last 2 s may change again within the
	 * timestamps' granularity: not cached. */
	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec - sb.st_ctim.tv_sec < 2)
		return 0;
	pthread_mutex_lock(&s->lock);
	e = &s->digests[s->digest_next++ % DIGESTS];
	e->used = true;
	e->dev = sb.st_dev;
	e->ino = sb.st_ino;
	e->size = sb.st_size;
	e->mtime = sb.st_mtim;
	e->ctime = sb.st_ctim;
	memcpy(e->digest, out, 32);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* The thread group of TID, or -1. */
static pid_t
tgid_of(pid_t tid)
{
	char path[64], line[128];
	int tgid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return (pid_t)tgid;
}

/* Open PATH as the agent task PID would for exec: absolute in its root,
 * relative to DIRFD (already ours) or its cwd. */
static int
open_for_exec(pid_t pid, int dirfd, const char *path, bool nofollow)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC |
	    (nofollow ? O_NOFOLLOW : 0) };
	char where[64];
	int base, fd;

	if (path[0] == '/') {
		snprintf(where, sizeof(where), "/proc/%d/root", (int)pid);
		how.resolve = RESOLVE_IN_ROOT;
	} else if (dirfd >= 0) {
		return openat(dirfd, path, (int)how.flags);
	} else
		snprintf(where, sizeof(where), "/proc/%d/cwd", (int)pid);
	base = open(where, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (base < 0)
		return -1;
	fd = (int)syscall(SYS_openat2, base, path, &how, sizeof(how));
	if (fd < 0) {
		int e = errno;

		close(base);
		errno = e;
		return -1;
	}
	close(base);
	return fd;
}

struct shebang {
	char interp[PATH_MAX];
	char arg[PATH_MAX];
	bool has_arg;
};

/* Is the file at FD a script?  1 and SB filled, 0 if not, < 0 on error.
 * The line is split as the kernel does: the interpreter, then the rest
 * (trimmed) as one optional argument. */
static int
read_shebang(int fd, struct shebang *sb)
{
	char head[256 + 1], *p, *end, *nl;
	ssize_t n = pread(fd, head, sizeof(head) - 1, 0);

	if (n < 2 || head[0] != '#' || head[1] != '!')
		return n < 0 ? -errno : 0;
	head[n] = '\0';
	nl = memchr(head, '\n', (size_t)n);
	if (nl == NULL)
		return -ENOEXEC;
	*nl = '\0';
	for (p = head + 2; *p == ' ' || *p == '\t'; p++)
		;
	for (end = p; *end != '\0' && *end != ' ' && *end != '\t'; end++)
		;
	if (end == p || (size_t)(end - p) >= sizeof(sb->interp))
		return -ENOEXEC;
	memcpy(sb->interp, p, (size_t)(end - p));
	sb->interp[end - p] = '\0';
	for (p = end; *p == ' ' || *p == '\t'; p++)
		;
	for (end = p + strlen(p); end > p && (end[-1] == ' ' ||
	    end[-1] == '\t' || end[-1] == '\r'); end--)
		;
	*end = '\0';
	sb->has_arg = *p != '\0';
	snprintf(sb->arg, sizeof(sb->arg), "%s", p);
	return 1;
}

/* Append S (with its NUL) to the argv blob. */
static int
blob_add(char *blob, size_t *len, const char *s)
{
	size_t n = strlen(s) + 1;

	if (*len + n > ARGV_BYTES)
		return -E2BIG;
	memcpy(blob + *len, s, n);
	*len += n;
	return 0;
}

/* argv from the agent's memory into BLOB; *ARGC the count. */
static int
read_argv(const struct call *c, uint64_t argv, char *blob, size_t *len,
    size_t *argc, size_t *first_len)
{
	*len = 0;
	*argc = 0;
	*first_len = 0;
	if (argv == 0)
		return 0;
	for (size_t i = 0; i < ARGV_MAX; i++) {
		uint64_t ptr;
		ssize_t n;

		if (read_mem(c->req->pid, argv + i * 8, &ptr, 8) < 0)
			return -EFAULT;
		if (ptr == 0)
			return 0;
		n = read_str(c->req->pid, ptr, blob + *len,
		    ARGV_BYTES - *len);
		if (n < 0)
			return n == -ENAMETOOLONG ? -E2BIG : (int)n;
		if (i == 0)
			*first_len = (size_t)n + 1;
		*len += (size_t)n + 1;
		(*argc)++;
	}
	return -E2BIG;
}

static int
add_approval(struct supervisor *s, pid_t tgid, int exe_fd,
    const uint8_t digest[32], const char *blob, size_t len)
{
	int64_t now = ztconn_now_ms();
	struct approval *slot = NULL;
	struct stat sb;

	if (fstat(exe_fd, &sb) < 0)
		return -errno;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < APPROVALS_MAX; i++) {
		struct approval *a = &s->approvals[i];

		if (a->used && a->expires_ms <= now) {
			free(a->argv);
			a->used = false;
			s->n_approvals--;
		}
		if (!a->used && slot == NULL)
			slot = a;
	}
	if (slot == NULL || (slot->argv = malloc(len ? len : 1)) == NULL) {
		pthread_mutex_unlock(&s->lock);
		return -EAGAIN;
	}
	memcpy(slot->argv, blob, len);
	slot->argv_len = len;
	slot->used = true;
	slot->tgid = tgid;
	slot->dev = sb.st_dev;
	slot->ino = sb.st_ino;
	memcpy(slot->digest, digest, 32);
	slot->expires_ms = now + APPROVAL_MS;
	if (++s->n_approvals > s->peak_approvals)
		s->peak_approvals = s->n_approvals;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/*
 * The first approved exec of PATH in this grant pins the file it was (dev,
 * inode, digest); a later exec of PATH that finds another file -- replaced
 * or rewritten on disk since -- is refused until a new grant.  False then.
 */
static bool
pin_check(struct supervisor *s, const char *path, int fd)
{
	uint8_t digest[32];
	struct stat sb;
	struct pin *p;
	bool ok = true;

	if (fstat(fd, &sb) < 0 || file_digest(s, fd, digest) < 0)
		return false;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < PINS_MAX; i++) {
		p = &s->pins[i];
		if (p->path != NULL && strcmp(p->path, path) == 0) {
			ok = p->dev == sb.st_dev && p->ino == sb.st_ino &&
			    memcmp(p->digest, digest, 32) == 0;
			goto out;
		}
	}
	p = &s->pins[s->pin_next++ % PINS_MAX];
	free(p->path);
	if ((p->path = strdup(path)) == NULL) {
		ok = false;
		goto out;
	}
	p->dev = sb.st_dev;
	p->ino = sb.st_ino;
	memcpy(p->digest, digest, 32);
out:
	pthread_mutex_unlock(&s->lock);
	if (!ok) {
		char esc[2 * PATH_MAX];

		zt_escape(esc, sizeof(esc), path, strlen(path));
		zt_log(LOG_WARNING, "decision=deny action=exec agent=\"%s\" "
		    "object=\"%s\" reason=\"the file changed on disk since "
		    "it was approved in this grant\" cache=local",
		    s->setup.profile->agent, esc);
	}
	return ok;
}

static bool
decide_exec(const struct call *c, const char *path)
{
	struct ztconn_verdict v;

	ztconn_decide(c->s->setup.ztd, ACTION_EXEC, path,
	    c->s->setup.root_pidfd, (pid_t)c->req->pid, &v);
	return v.allow;
}

/* execve(path, argv, envp) and execveat(dirfd, path, argv, envp, flags) */
static int
on_exec(const struct call *c, bool at, char *blob)
{
	struct supervisor *s = c->s;
	const __u64 *a = c->req->data.args;
	uint64_t path_addr = at ? a[1] : a[0], argv_addr = at ? a[2] : a[1];
	int flags = at ? (int)a[4] : 0, dirfd = -1, fd = -1, exe = -1, r;
	char path[PATH_MAX], canon[PATH_MAX], script_canon[PATH_MAX];
	size_t blob_len, argc, first_len;
	struct shebang sb;
	uint8_t digest[32];
	struct stat st;
	ssize_t n;
	pid_t tgid;
	bool launch;

	if ((n = read_str(c->req->pid, path_addr, path, sizeof(path))) < 0)
		return (int)n;
	if ((r = read_argv(c, argv_addr, blob, &blob_len, &argc,
	    &first_len)) < 0)
		return r;
	if (!still_valid(c))
		return -EACCES;
	if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -EINVAL;
	if (at && (int)a[0] != AT_FDCWD && path[0] != '/') {
		if ((dirfd = take_fd(c, (int)a[0])) < 0)
			return dirfd;
	}
	if (at && path[0] == '\0') {
		if (!(flags & AT_EMPTY_PATH) || dirfd < 0) {
			r = -ENOENT;
			goto out;
		}
		/* fexecve: the descriptor is the file; reopen it readable. */
		snprintf(canon, sizeof(canon), "/proc/self/fd/%d", dirfd);
		fd = open(canon, O_RDONLY | O_CLOEXEC);
	} else
		fd = open_for_exec(c->req->pid, dirfd, path,
		    flags & AT_SYMLINK_NOFOLLOW);
	if (fd < 0) {
		r = errno == ENOENT || errno == ENOTDIR || errno == ELOOP ?
		    -errno : -EACCES;
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    fd_path(fd, canon, sizeof(canon)) < 0) {
		r = -EACCES;
		goto out;
	}
	tgid = tgid_of(c->req->pid);
	pthread_mutex_lock(&s->lock);
	launch = s->launch_pending && tgid == s->setup.root_pid &&
	    st.st_dev == s->setup.binary_dev &&
	    st.st_ino == s->setup.binary_ino;
	if (launch)
		s->launch_pending = false;
	pthread_mutex_unlock(&s->lock);
	/* The launch exec runs the binary ztd checked; every other one is
	 * asked about, by the file it resolves to. */
	if (!launch && (!decide_exec(c, canon) || !pin_check(s, canon, fd))) {
		r = -EACCES;
		goto out;
	}
	if (launch && (file_digest(s, fd, digest) < 0 ||
	    memcmp(digest, s->setup.binary_digest, 32) != 0)) {
		zt_log(LOG_WARNING, "the agent binary changed since launch");
		r = -EACCES;
		goto out;
	}
	if ((r = read_shebang(fd, &sb)) < 0)
		goto out;
	if (r == 1) {
		/* A script runs its interpreter: that must be allowed too,
		 * be no script itself, and is the image expected. */
		char expect[ARGV_BYTES / 4];
		size_t len = 0;
		struct shebang nested;

		if (sb.interp[0] != '/' || (at && dirfd >= 0)) {
			r = -EACCES;
			goto out;
		}
		exe = open_for_exec(c->req->pid, -1, sb.interp, false);
		if (exe < 0 || fd_path(exe, script_canon,
		    sizeof(script_canon)) < 0 ||
		    read_shebang(exe, &nested) != 0 ||
		    (!launch && (!decide_exec(c, script_canon) ||
		    !pin_check(s, script_canon, exe)))) {
			r = -EACCES;
			goto out;
		}
		/* argv as binfmt_script builds it. */
		if (blob_add(expect, &len, sb.interp) < 0 ||
		    (sb.has_arg && blob_add(expect, &len, sb.arg) < 0) ||
		    blob_add(expect, &len, path) < 0 ||
		    len + blob_len - first_len > sizeof(expect)) {
			r = -E2BIG;
			goto out;
		}
		memcpy(expect + len, blob + first_len, blob_len - first_len);
		len += blob_len - first_len;
		memcpy(blob, expect, len);
		blob_len = len;
	} else {
		exe = fd;
		fd = -1;
		if (argc == 0)
			blob[blob_len++] = '\0';	/* the kernel adds "" */
	}
	if ((r = file_digest(s, exe, digest)) < 0 ||
	    (r = add_approval(s, tgid, exe, digest, blob, blob_len)) < 0)
		goto out;
	r = still_valid(c) ? 1 : -EACCES;	/* 1: on_exec continues */
out:
	if (exe >= 0)
		close(exe);
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	return r;
}

/* Forget every approval of TGID (it died, or failed verification). */
static void
drop_approvals(struct supervisor *s, pid_t tgid)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < APPROVALS_MAX; i++) {
		struct approval *a = &s->approvals[i];

		if (a->used && a->tgid == tgid) {
			free(a->argv);
			a->used = false;
			s->n_approvals--;
		}
	}
	pthread_mutex_unlock(&s->lock);
}

/* At PID's exec event: is what runs now what was approved? */
static bool
verify_exec(struct supervisor *s, pid_t pid, char *blob)
{
	char path[64];
	uint8_t digest[32];
	struct stat sb;
	ssize_t len = 0, n;
	bool ok = false;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &sb) < 0 || file_digest(s, fd, digest) < 0) {
		close(fd);
		return false;
	}
	close(fd);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	while (len < ARGV_BYTES + 1 &&
	    (n = read(fd, blob + len, (size_t)(ARGV_BYTES + 1 - len))) > 0)
		len += n;
	close(fd);
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < APPROVALS_MAX && !ok; i++) {
		struct approval *a = &s->approvals[i];

		if (a->used && a->tgid == pid && a->dev == sb.st_dev &&
		    a->ino == sb.st_ino &&
		    memcmp(a->digest, digest, 32) == 0 &&
		    (ssize_t)a->argv_len == len &&
		    memcmp(a->argv, blob, (size_t)len) == 0) {
			free(a->argv);
			a->used = false;
			s->n_approvals--;
			ok = true;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* ------------------------------------------------------------------ */

static int64_t
on_gated_syscall(const struct call *c)
{
	struct ztconn_verdict v;
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE,
	    c->req->data.nr);

	if (name == NULL)
		return -EACCES;
	ztconn_decide(c->s->setup.ztd, ACTION_SYSCALL, name,
	    c->s->setup.root_pidfd, (pid_t)c->req->pid, &v);
	free(name);
	return v.allow ? CONTINUE : -EACCES;
}

/* One notification: -errno to fail it with, the result of a call made
 * here, or CONTINUE. */
static int64_t
dispatch(const struct call *c, char *buf)
{
	if (c->req->data.arch != SCMP_ARCH_X86_64)
		return -EACCES;
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
	case SCMP_SYS(execve):
	case SCMP_SYS(execveat): {
		int r = on_exec(c, c->req->data.nr == SCMP_SYS(execveat), buf);

		/* ENOENT and the like stay what they are: execvp searches
		 * PATH on them. */
		return r == 1 ? CONTINUE : r < 0 ? r : -EACCES;
	}
	default:
		return on_gated_syscall(c);
	}
}

static void *
worker_main(void *arg)
{
	struct supervisor *s = arg;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	struct call c = { .s = s, .fd = s->setup.notify_fd };
	char *buf = malloc(ARGV_BYTES + 4096);

	if (buf == NULL || seccomp_notify_alloc(&req, &resp) < 0) {
		zt_log(LOG_ERR, "a supervisor worker could not start");
		free(buf);
		return NULL;
	}
	c.req = req;
	c.resp = resp;
	for (;;) {
		int64_t r;

		/* libseccomp 2.5.4 does not clear the buffer itself. */
		memset(req, 0, sizeof(*req));
		if (seccomp_notify_receive(c.fd, req) < 0) {
			struct pollfd pfd = { .fd = c.fd, .events = POLLIN };

			/* The target died mid-notification, or no filter user
			 * is left (then the tracer ends everything). */
			if (poll(&pfd, 1, 100) > 0 &&
			    (pfd.revents & (POLLHUP | POLLERR)))
				break;
			continue;
		}
		memset(resp, 0, sizeof(*resp));
		resp->id = req->id;
		r = dispatch(&c, buf);
		if (r == CONTINUE) {
			resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		} else if (r < 0) {
			resp->error = (int32_t)r;
		} else {
			resp->val = r;
		}
		/* ENOENT: the caller is gone; nothing to answer. */
		seccomp_notify_respond(c.fd, resp);
	}
	seccomp_notify_free(req, resp);
	free(buf);
	return NULL;
}

int
supervise_start(struct supervisor **out, const struct supervise_setup *setup)
{
	struct supervisor *s = calloc(1, sizeof(*s));
	int r;

	if (s == NULL)
		return -ENOMEM;
	s->setup = *setup;
	s->launch_pending = true;
	s->tasks = calloc(TASKS_MAX, sizeof(*s->tasks));
	if (s->tasks == NULL) {
		free(s);
		return -ENOMEM;
	}
	s->tasks[0].pid = setup->root_pid;
	s->tasks[0].seen = true;	/* seized running: no first stop */
	s->n_tasks = 1;
	s->peak_tasks = 1;
	pthread_mutex_init(&s->lock, NULL);
	for (int i = 0; i < SUPERVISE_WORKERS; i++)
		if ((r = pthread_create(&s->workers[i], NULL, worker_main,
		    s)) != 0)
			return -r;	/* the caller exits: threads end too */
	*out = s;
	return 0;
}

/* Note PID; SEEN: this is its own stop.  Returns whether PID's first
 * stop had been seen before. */
static bool
task_add(struct supervisor *s, pid_t pid, bool seen)
{
	bool was = false;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_tasks; i++)
		if (s->tasks[i].pid == pid) {
			was = s->tasks[i].seen;
			s->tasks[i].seen |= seen;
			goto out;
		}
	if (s->n_tasks < TASKS_MAX) {
		s->tasks[s->n_tasks].pid = pid;
		s->tasks[s->n_tasks].seen = seen;
		s->n_tasks++;
	}
	if (s->n_tasks > s->peak_tasks)
		s->peak_tasks = s->n_tasks;
out:
	pthread_mutex_unlock(&s->lock);
	return was;
}

static void
task_remove(struct supervisor *s, pid_t pid)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_tasks; i++)
		if (s->tasks[i].pid == pid) {
			s->tasks[i] = s->tasks[--s->n_tasks];
			break;
		}
	pthread_mutex_unlock(&s->lock);
}

void
supervise_kill_tree(struct supervisor *s, const char *why)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->n_tasks;
	for (size_t i = 0; i < s->n_tasks; i++)
		kill(s->tasks[i].pid, SIGKILL);
	pthread_mutex_unlock(&s->lock);
	zt_log(LOG_WARNING, "agent %s: %zu tasks killed: %s",
	    s->setup.profile->agent, n, why);
}

void
supervise_stats(struct supervisor *s, size_t *approvals, size_t *tasks)
{
	pthread_mutex_lock(&s->lock);
	*approvals = s->peak_approvals;
	*tasks = s->peak_tasks;
	pthread_mutex_unlock(&s->lock);
}

int
supervise_trace(struct supervisor *s)
{
	char *blob = malloc(ARGV_BYTES + 2);
	int root_status = -1;

	if (blob == NULL)
		return -ENOMEM;
	for (;;) {
		int status, sig, event;
		pid_t pid = waitpid(-1, &status, __WALL);

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;			/* ECHILD: nothing left */
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			task_remove(s, pid);
			drop_approvals(s, pid);
			if (pid == s->setup.root_pid) {
				root_status = status;
				break;
			}
			continue;
		}
		if (!WIFSTOPPED(status))
			continue;
		sig = WSTOPSIG(status);
		event = (unsigned)status >> 16;
		switch (event) {
		case PTRACE_EVENT_FORK:
		case PTRACE_EVENT_VFORK:
		case PTRACE_EVENT_CLONE: {
			unsigned long child = 0;

			if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &child) == 0)
				task_add(s, (pid_t)child, false);
			ptrace(PTRACE_CONT, pid, 0, 0);
			break;
		}
		case PTRACE_EVENT_EXEC: {
			unsigned long former = 0;

			ptrace(PTRACE_GETEVENTMSG, pid, 0, &former);
			if ((pid_t)former != pid)
				task_remove(s, (pid_t)former);
			if (!verify_exec(s, pid, blob)) {
				char exe[PATH_MAX] = "?", link[64];
				ssize_t n;

				snprintf(link, sizeof(link), "/proc/%d/exe",
				    (int)pid);
				n = readlink(link, exe, sizeof(exe) - 1);
				exe[n > 0 ? n : 1] = '\0';
				zt_log(LOG_WARNING, "agent %s: pid %d runs an "
				    "image or argv that was not approved "
				    "(%s): killed before its first "
				    "instruction", s->setup.profile->agent,
				    (int)pid, exe);
				kill(pid, SIGKILL);
				drop_approvals(s, pid);
			}
			ptrace(PTRACE_CONT, pid, 0, 0);
			break;
		}
		case PTRACE_EVENT_STOP:
			/* A new task's first stop: let it run.  Later ones
			 * are group stops, which keep it stopped. */
			if (task_add(s, pid, true) && (sig == SIGSTOP ||
			    sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU))
				ptrace(PTRACE_LISTEN, pid, 0, 0);
			else
				ptrace(PTRACE_CONT, pid, 0, 0);
			break;
		default:
			/* A signal on its way: deliver it. */
			ptrace(PTRACE_CONT, pid, 0, (void *)(uintptr_t)sig);
			break;
		}
	}
	free(blob);
	return root_status;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File metadata and watch calls, for a profile with files: chmod, chown,
 * utimes, the xattr writers, inotify_add_watch and the ioctls that set a
 * file's flags, version or fsxattr have no Landlock right,
 * so the supervisor resolves the path as the agent would (its root, its
 * cwd, or its directory descriptor), asks ztd about the file it now holds
 * (as an open for writing; a watch as an open for reading), and performs
 * the change on that descriptor.  The agent's call never continues.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#include "supervisor_int.h"
#include "ztconn.h"

#define XATTR_NAME_MAX_ 255
#define XATTR_VALUE_MAX (64 * 1024)

/* The file a call names, held as an O_PATH descriptor. */
struct target {
	int fd;				/* ours; -1: none */
	char path[PATH_MAX];		/* canonical */
};

/*
 * Open, as task PID would resolve it, PATH relative to DIRFD (the agent's
 * number, or AT_FDCWD); FOLLOW: the last component's symlink too.  PATH
 * "" with EMPTY: DIRFD itself.  "/proc/self" and "/proc/thread-self" name
 * the agent, never us.  0 or -errno.
 */
static int
resolve(const struct call *c, int dirfd, const char *path, bool follow,
    bool empty, struct target *t)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC };
	char base[64], own[PATH_MAX + 32];
	const char *rest = NULL;
	int basefd, fd;

	t->fd = -1;
	if (path[0] == '\0') {
		if (!empty)
			return -ENOENT;
		if (dirfd == AT_FDCWD)
			snprintf(base, sizeof(base), "/proc/%d/cwd",
			    (int)c->req->pid);
		else {
			if ((fd = agent_take_fd(c, dirfd)) < 0)
				return fd == -EBADF ? -EBADF : -EACCES;
			goto held;
		}
		fd = open(base, O_PATH | O_CLOEXEC);
		if (fd < 0)
			return -EACCES;
		goto held;
	}
	if (strncmp(path, "/proc/self/", 11) == 0)
		rest = path + 11;
	else if (strncmp(path, "/proc/thread-self/", 18) == 0)
		rest = path + 18;
	if (rest != NULL) {
		snprintf(own, sizeof(own), "/proc/%d/%s", (int)c->req->pid,
		    rest);
		path = own;
	}
	if (!follow)
		how.flags |= O_NOFOLLOW;
	if (path[0] == '/') {
		how.resolve = RESOLVE_IN_ROOT;
		snprintf(base, sizeof(base), "/proc/%d/root",
		    (int)c->req->pid);
		basefd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
	} else if (dirfd == AT_FDCWD) {
		snprintf(base, sizeof(base), "/proc/%d/cwd", (int)c->req->pid);
		basefd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
	} else
		basefd = agent_take_fd(c, dirfd);
	if (basefd < 0)
		return basefd == -EBADF ? -EBADF : -EACCES;
	fd = (int)syscall(SYS_openat2, basefd, path, &how, sizeof(how));
	if (fd < 0)
		fd = -errno;
	close(basefd);
	if (fd < 0)
		return fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP ||
		    fd == -ENAMETOOLONG ? fd : -EACCES;
held:
	t->fd = fd;
	if (fd_path(fd, t->path, sizeof(t->path)) < 0 || t->path[0] != '/' ||
	    strstr(t->path, " (deleted)") != NULL) {
		/* Not a file of the tree (a pipe, a socket, an unlinked
		 * file): nothing a files rule can name. */
		close(fd);
		t->fd = -1;
		return -EPERM;
	}
	return 0;
}

/* The file behind the agent's descriptor NUMBER (fchmod and the like). */
static int
resolve_fd(const struct call *c, int number, struct target *t)
{
	return resolve(c, number, "", false, true, t);
}

/* Ask ztd: may the agent change (WRITE) or watch the file?  0 or -EPERM. */
static int
decide(const struct call *c, const struct target *t, bool write)
{
	char object[PATH_MAX + 8];
	struct ztconn_verdict v;

	if (!agent_call_valid(c))
		return -EPERM;
	snprintf(object, sizeof(object), "%s:%s", t->path, write ? "w" : "r");
	ztconn_decide(c->s->setup.ztd, ACTION_OPEN, object, -1,
	    (pid_t)c->req->pid, &v);
	return v.allow ? 0 : -EPERM;
}

/* Our path to the held file: the kernel follows it to that very inode
 * (a symlink opened without following stays the symlink). */
static void
held_path(const struct target *t, char *out, size_t size)
{
	snprintf(out, size, "/proc/self/fd/%d", t->fd);
}

/* The path argument at ADDR into BUF (PATH_MAX). */
static int
read_path(const struct call *c, uint64_t addr, char *buf)
{
	ssize_t n = agent_read_str(c->req->pid, addr, buf, PATH_MAX);

	if (n < 0)
		return (int)n;
	return 0;
}

/* Times for utimensat from the agent: NULL (now), timespec[2], or, for
 * utimes/futimesat, timeval[2], or for utime a utimbuf. */
enum times_kind { TIMES_SPEC, TIMES_VAL, TIMES_BUF };

static int
read_times(const struct call *c, uint64_t addr, enum times_kind kind,
    struct timespec ts[2], bool *now)
{
	*now = addr == 0;
	if (*now)
		return 0;
	if (kind == TIMES_SPEC)
		return agent_read(c->req->pid, addr, ts, 2 * sizeof(ts[0]));
	if (kind == TIMES_VAL) {
		struct timeval tv[2];

		if (agent_read(c->req->pid, addr, tv, sizeof(tv)) < 0)
			return -EFAULT;
		for (int i = 0; i < 2; i++) {
			if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000)
				return -EINVAL;
			ts[i].tv_sec = tv[i].tv_sec;
			ts[i].tv_nsec = tv[i].tv_usec * 1000;
		}
		return 0;
	}
	{
		struct utimbuf ub;

		if (agent_read(c->req->pid, addr, &ub, sizeof(ub)) < 0)
			return -EFAULT;
		ts[0].tv_sec = ub.actime;
		ts[1].tv_sec = ub.modtime;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		return 0;
	}
}

/* What one call asks, read from its registers and the agent's memory. */
struct meta_call {
	int dirfd;			/* agent's, or AT_FDCWD */
	char path[PATH_MAX];
	bool has_path, follow, empty;
	bool fd_form;			/* fchmod, fchown, fsetxattr ... */
	bool watch;			/* inotify_add_watch */
};

static int64_t
perform(const struct call *c, const struct target *t, const __u64 *a)
{
	char p[64], name[XATTR_NAME_MAX_ + 1];
	struct timespec ts[2];
	bool now;
	int r, nr = c->req->data.nr;

	held_path(t, p, sizeof(p));
	if (nr == SCMP_SYS(chmod) || nr == SCMP_SYS(fchmodat) ||
	    nr == SCMP_SYS(fchmod)) {
		mode_t mode = (mode_t)a[nr == SCMP_SYS(fchmodat) ? 2 : 1];

		r = chmod(p, mode);
	} else if (nr == SCMP_SYS(chown) || nr == SCMP_SYS(lchown) ||
	    nr == SCMP_SYS(fchown)) {
		r = fchownat(t->fd, "", (uid_t)a[1], (gid_t)a[2],
		    AT_EMPTY_PATH);
	} else if (nr == SCMP_SYS(fchownat)) {
		r = fchownat(t->fd, "", (uid_t)a[2], (gid_t)a[3],
		    AT_EMPTY_PATH);
	} else if (nr == SCMP_SYS(utime) || nr == SCMP_SYS(utimes) ||
	    nr == SCMP_SYS(futimesat) || nr == SCMP_SYS(utimensat)) {
		uint64_t at = nr == SCMP_SYS(utime) ||
		    nr == SCMP_SYS(utimes) ? a[1] : a[2];
		enum times_kind k = nr == SCMP_SYS(utime) ? TIMES_BUF :
		    nr == SCMP_SYS(utimensat) ? TIMES_SPEC : TIMES_VAL;

		if ((r = read_times(c, at, k, ts, &now)) < 0)
			return r;
		if (!agent_call_valid(c))
			return -EPERM;
		r = utimensat(AT_FDCWD, p, now ? NULL : ts, 0);
	} else if (nr == SCMP_SYS(setxattr) || nr == SCMP_SYS(lsetxattr) ||
	    nr == SCMP_SYS(fsetxattr) || nr == SCMP_SYS(removexattr) ||
	    nr == SCMP_SYS(lremovexattr) || nr == SCMP_SYS(fremovexattr)) {
		bool set = nr == SCMP_SYS(setxattr) ||
		    nr == SCMP_SYS(lsetxattr) || nr == SCMP_SYS(fsetxattr);
		ssize_t n = agent_read_str(c->req->pid, a[1], name,
		    sizeof(name));
		/* The value's buffer made for this call only: as a
		 * thread's static (64 KiB of TLS) it was written into being
		 * by every thread zt-exec starts, profiled: 16 page faults
		 * a thread and the pages torn down at the exit. */
		char *value;

		if (n < 0)
			return n == -ENAMETOOLONG ? -ERANGE : n;
		if (set && a[3] > XATTR_VALUE_MAX)
			return -E2BIG;
		if ((value = malloc(set && a[3] > 0 ? (size_t)a[3] : 1)) ==
		    NULL)
			return -ENOMEM;
		if (set && agent_read(c->req->pid, a[2], value,
		    (size_t)a[3]) < 0)
			r = -EFAULT;
		else if (!agent_call_valid(c))
			r = -EPERM;
		/* Following our magic link reaches the held inode and
		 * stops there: a link held for the l* forms stays it. */
		else if ((r = set ? setxattr(p, name, value, (size_t)a[3],
		    (int)a[4]) : removexattr(p, name)) < 0)
			r = -errno;
		free(value);
		return r;
	} else if (nr == SCMP_SYS(inotify_add_watch)) {
		int ifd = agent_take_fd(c, (int)a[0]);

		if (ifd < 0)
			return ifd;
		/* IN_DONT_FOLLOW was applied when the path was resolved. */
		r = inotify_add_watch(ifd, p, (uint32_t)a[2] &
		    ~(uint32_t)IN_DONT_FOLLOW);
		r = r < 0 ? -errno : r;
		close(ifd);
		return r;
	} else if (nr == SCMP_SYS(ioctl)) {
		uint32_t cmd = (uint32_t)a[1];
		union {
			int flags;
			struct fsxattr fsx;
		} arg;
		size_t size = cmd == FS_IOC_FSSETXATTR ? sizeof(arg.fsx) :
		    sizeof(arg.flags);

		/* The kernel reads an int for the flags and version (the
		 * long in their numbers notwithstanding). */
		if (cmd != FS_IOC_SETFLAGS && cmd != FS_IOC32_SETFLAGS &&
		    cmd != FS_IOC_SETVERSION && cmd != FS_IOC32_SETVERSION &&
		    cmd != FS_IOC_FSSETXATTR)
			return -EPERM;
		if (agent_read(c->req->pid, a[2], &arg, size) < 0)
			return -EFAULT;
		if (!agent_call_valid(c))
			return -EPERM;
		/* On the agent's own open file (taken, not reopened): the
		 * same checks of its mode and owner as the agent's call. */
		r = ioctl(t->fd, cmd, &arg);
	} else
		return -EPERM;
	return r < 0 ? -errno : r;
}

/* Read what call C asks into M. */
static int
read_call(const struct call *c, struct meta_call *m)
{
	const __u64 *a = c->req->data.args;
	int nr = c->req->data.nr, r;
	uint64_t path_addr = 0;
	int flags = 0;

	memset(m, 0, sizeof(*m));
	m->dirfd = AT_FDCWD;
	m->follow = true;
	if (nr == SCMP_SYS(fchmod) || nr == SCMP_SYS(fchown) ||
	    nr == SCMP_SYS(fsetxattr) || nr == SCMP_SYS(fremovexattr) ||
	    nr == SCMP_SYS(ioctl)) {
		m->fd_form = true;
		m->dirfd = (int)a[0];
		return 0;
	}
	if (nr == SCMP_SYS(chmod) || nr == SCMP_SYS(chown) ||
	    nr == SCMP_SYS(utime) || nr == SCMP_SYS(utimes) ||
	    nr == SCMP_SYS(setxattr) || nr == SCMP_SYS(removexattr)) {
		path_addr = a[0];
	} else if (nr == SCMP_SYS(lchown) || nr == SCMP_SYS(lsetxattr) ||
	    nr == SCMP_SYS(lremovexattr)) {
		path_addr = a[0];
		m->follow = false;
	} else if (nr == SCMP_SYS(fchmodat) || nr == SCMP_SYS(futimesat)) {
		m->dirfd = (int)a[0];
		path_addr = a[1];
	} else if (nr == SCMP_SYS(fchownat)) {
		m->dirfd = (int)a[0];
		path_addr = a[1];
		flags = (int)a[4];
		if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
			return -EINVAL;
	} else if (nr == SCMP_SYS(utimensat)) {
		m->dirfd = (int)a[0];
		path_addr = a[1];
		flags = (int)a[3];
		if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
			return -EINVAL;
		if (path_addr == 0) {
			/* futimens: the descriptor itself. */
			if (m->dirfd == AT_FDCWD)
				return -EFAULT;
			m->fd_form = true;
			return 0;
		}
	} else if (nr == SCMP_SYS(inotify_add_watch)) {
		path_addr = a[1];
		m->watch = true;
		if ((uint32_t)a[2] & IN_DONT_FOLLOW)
			m->follow = false;
	} else
		return -EPERM;
	if (flags & AT_SYMLINK_NOFOLLOW)
		m->follow = false;
	m->empty = (flags & AT_EMPTY_PATH) != 0;
	if ((r = read_path(c, path_addr, m->path)) < 0)
		return r;
	m->has_path = true;
	return 0;
}

int64_t
filecall_dispatch(const struct call *c)
{
	struct meta_call m;
	struct target t = { .fd = -1 };
	int64_t r;

	if ((r = read_call(c, &m)) < 0)
		return r;
	if (!agent_call_valid(c))
		return -EPERM;
	if (m.fd_form)
		r = resolve_fd(c, m.dirfd, &t);
	else
		r = resolve(c, m.dirfd, m.path, m.follow, m.empty, &t);
	if (r == 0 && m.fd_form) {
		int fl = fcntl(t.fd, F_GETFL);

		/* fchmod and the like refuse O_PATH descriptors. */
		if (fl < 0 || (fl & O_PATH))
			r = -EBADF;
	}
	if (r == 0 && (r = decide(c, &t, !m.watch)) == 0)
		r = perform(c, &t, c->req->data.args);
	if (t.fd >= 0)
		close(t.fd);
	return r;
}

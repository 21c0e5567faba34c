/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exec gating.  An exec cannot be performed for the agent, so it is
 * decided on the file it resolves to (and a script's interpreter), an
 * approval is recorded for the thread and the notification that asked,
 * the call continues, and at the exec event the tracer checks that the
 * image now running and its argv are what that thread was approved for.
 * Files approved once in a grant are pinned by identity and digest.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <unistd.h>

#include "supervisor_int.h"
#include "zt_envcheck.h"
#include "zt_log.h"
#include "ztconn.h"

/* What one statx of an executable says: its identity for the checks and
 * its key for the digest cache (read after BEFORE, as the cache needs). */
struct exe_look {
	struct zt_file_key key;
	struct timespec before;
	bool complete;
	dev_t dev;
	ino_t ino;
};

/* Look at the file at PATH from DIRFD (statx's FLAGS; "" and
 * AT_EMPTY_PATH: DIRFD itself): 0, or -EACCES when it cannot be looked at
 * or is no regular file. */
static int
exe_look_at(int dirfd, const char *path, int flags, struct exe_look *l)
{
	clock_gettime(CLOCK_REALTIME, &l->before);
	if (zt_file_key_get_at(dirfd, path, flags, &l->key, &l->complete) < 0)
		return -EACCES;
	l->dev = makedev(l->key.dev_major, l->key.dev_minor);
	l->ino = (ino_t)l->key.ino;
	return 0;
}

/* Look at the file open at FD. */
static int
exe_look(int fd, struct exe_look *l)
{
	return exe_look_at(fd, "", AT_EMPTY_PATH, l);
}

/* SHA-256 of the file open at FD (looked at as L), through the grant's
 * digest cache. */
static int
file_digest(struct supervisor *s, int fd, const struct exe_look *l,
    uint8_t out[32])
{
	return zt_digests_get_keyed(s->digests, fd, &l->key, l->complete,
	    &l->before, out);
}

/* Log that an exec of OBJECT was refused, for REASON (both escaped). */
static void
deny_exec(const struct supervisor *s, const char *object, const char *reason)
{
	char object_esc[2 * PATH_MAX], reason_esc[512];

	zt_log(LOG_WARNING, "decision=deny action=exec agent=\"%s\" "
	    "object=%s reason=%s cache=local", s->setup.profile->agent,
	    zt_escape(object_esc, sizeof(object_esc), object, strlen(object)),
	    zt_escape(reason_esc, sizeof(reason_esc), reason, strlen(reason)));
}

/* 0, or -EACCES (logged) when the walk of PATH (execpath_replaceable:
 * R, and WHY, WHY_SIZE bytes, when R > 0) found that the agent's account
 * could replace the command, or could not tell; shown as OBJECT. */
static int
replaceable_verdict(const struct supervisor *s, int r, const char *path,
    char *why, size_t why_size, const char *object)
{
	if (r == 0)
		return 0;
	if (r < 0)
		snprintf(why, why_size, "the path %.200s could not be checked "
		    "for who may replace it: %s", path, strerror(-r));
	deny_exec(s, object, why);
	return -EACCES;
}

/* 0, or -EACCES (logged) when the agent's account could replace the
 * command at PATH (execpath_replaceable), shown as OBJECT. */
static int
refuse_replaceable(const struct call *c, int root, int dirfd,
    const char *path, const char *object)
{
	char why[320];
	int r = execpath_replaceable((pid_t)c->req->pid, root, dirfd, path,
	    why, sizeof(why), NULL);

	return replaceable_verdict(c->s, r, path, why, sizeof(why), object);
}

/* The reason an environment holding NAME (LEN bytes) is refused. */
static void
env_reason(char *out, size_t size, const char *name, size_t len)
{
	snprintf(out, size, "environment variable %.*s makes programs load "
	    "or run other code and is not in the profile's env",
	    (int)(len > ZT_ENV_NAME_MAX ? ZT_ENV_NAME_MAX : len), name);
}

/* Open PATH as the agent task PID would for exec: absolute in its root
 * (ROOT, its /proc/PID/root), relative to DIRFD (already ours) or its
 * cwd. */
static int
open_for_exec(pid_t pid, int root, int dirfd, const char *path,
    bool nofollow)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC |
	    (nofollow ? O_NOFOLLOW : 0) };
	char where[64];
	int base, fd, e;

	if (path[0] == '/') {
		how.resolve = RESOLVE_IN_ROOT;
		return (int)syscall(SYS_openat2, root, path, &how,
		    sizeof(how));
	}
	if (dirfd >= 0)
		return openat(dirfd, path, (int)how.flags);
	snprintf(where, sizeof(where), "/proc/%d/cwd", (int)pid);
	base = open(where, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (base < 0)
		return -1;
	fd = (int)syscall(SYS_openat2, base, path, &how, sizeof(how));
	e = errno;
	close(base);
	errno = e;
	return fd;
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

/* Bytes of each argument read in the first, batched read. */
#define ARG_STRIDE 256

/*
 * The next batch of the NULL-terminated string array at ADDR, from index
 * I (HEAD: its first batch, when already read): the pointers into PTRS
 * and their strings' first bytes into BUF (STRIDE each; LENS as
 * agent_read_strs says; those SEEN holds taken from there), each in one
 * read.
 * *STRINGS is how many; returns 1 when the array's NULL came with them,
 * 0 when more may follow, or -errno.
 */
static int
read_batch(const struct call *c, uint64_t addr, size_t i,
    const struct agent_ptrs *head, const struct agent_seen *seen,
    uint64_t *ptrs, char *buf, size_t stride, ssize_t *lens, size_t *strings)
{
	ssize_t got;

	/* The first batch may have come with the path (agent_read_heads). */
	if (i == 0 && head->n != AGENT_PTRS_UNREAD) {
		got = head->n;
		memcpy(ptrs, head->ptrs, (size_t)got * sizeof(*ptrs));
	} else
		got = agent_read_ptrs(c->req->pid, addr, i, ARGV_MAX - i,
		    ptrs);

	if (got < 0)
		return (int)got;
	*strings = (size_t)got - (ptrs[got - 1] == 0);
	agent_read_strs(c->req->pid, ptrs, *strings, buf, stride, lens, seen);
	return *strings < (size_t)got;
}

/* argv (HEAD's array) from the agent's memory into BLOB (what SEEN
 * holds not read again); *ARGC the count. */
static int
read_argv(const struct call *c, const struct agent_ptrs *head,
    const struct agent_seen *seen, char *blob, size_t *len, size_t *argc,
    size_t *first_len)
{
	uint64_t argv = head->addr;
	char first[AGENT_STRS_MAX * ARG_STRIDE];
	uint64_t ptrs[AGENT_STRS_MAX];
	ssize_t lens[AGENT_STRS_MAX];

	*len = 0;
	*argc = 0;
	*first_len = 0;
	if (argv == 0)
		return 0;
	/* A batch of pointers, then their strings' first bytes, in one read
	 * each; a longer string is read on by itself. */
	for (size_t i = 0; i < ARGV_MAX;) {
		size_t strings;
		int end = read_batch(c, argv, i, head, seen, ptrs, first,
		    ARG_STRIDE, lens, &strings);

		if (end < 0)
			return end;
		for (size_t k = 0; k < strings; k++) {
			ssize_t n = lens[k];

			if (n >= 0 && *len + (size_t)n < ARGV_BYTES)
				memcpy(blob + *len, first + k * ARG_STRIDE,
				    (size_t)n + 1);
			else
				n = agent_read_str(c->req->pid, ptrs[k],
				    blob + *len, ARGV_BYTES - *len);
			if (n < 0)
				return n == -ENAMETOOLONG ? -E2BIG : (int)n;
			if (i + k == 0)
				*first_len = (size_t)n + 1;
			*len += (size_t)n + 1;
			(*argc)++;
		}
		if (end)
			return 0;	/* the NULL */
		i += strings;
	}
	return -E2BIG;
}

/*
 * envp (HEAD's array) from the agent's memory (what SEEN holds not read
 * again), bounded like argv: only each entry's name is read (up to '='
 * within ZT_ENV_NAME_MAX * 2 bytes; a longer one is judged by what was
 * read).  1 and NAME (NUL-terminated, SIZE bytes) set when one is
 * dangerous and not in the profile's env, 0 when none, or -errno.  Only
 * for a clear errno: what was read may change after.
 */
static int
read_env_refused(const struct call *c, const struct agent_ptrs *head,
    const struct agent_seen *seen, char *name, size_t size)
{
	const struct profile *p = c->s->setup.profile;
	uint64_t envp = head->addr;
	char entries[AGENT_STRS_MAX][ZT_ENV_NAME_MAX * 2];
	uint64_t ptrs[AGENT_STRS_MAX];
	ssize_t lens[AGENT_STRS_MAX];

	if (envp == 0)
		return 0;
	for (size_t i = 0; i < ARGV_MAX;) {
		size_t strings;
		int end = read_batch(c, envp, i, head, seen, ptrs, entries[0],
		    sizeof(entries[0]), lens, &strings);

		if (end < 0)
			return end;
		for (size_t k = 0; k < strings; k++) {
			char *entry = entries[k];
			ssize_t n = lens[k];
			const char *eq;
			size_t len;

			if (n == AGENT_STR_UNREAD)
				n = agent_read_str(c->req->pid, ptrs[k], entry,
				    sizeof(entries[0]));
			if (n == AGENT_STR_LONG || n == -ENAMETOOLONG)
				n = sizeof(entries[0]) - 1;
			if (n < 0)
				return (int)n;
			/* Within what was read: a long entry has no NUL. */
			eq = memchr(entry, '=', (size_t)n);
			len = eq != NULL ? (size_t)(eq - entry) : (size_t)n;
			if (zt_env_is_dangerous(entry, len) &&
			    !zt_env_named(p->env_names, p->n_env, entry,
			    len)) {
				env_reason(name, size, entry, len);
				return 1;
			}
		}
		if (end)
			return 0;	/* the NULL */
		i += strings;
	}
	return -E2BIG;
}

/* Forget approval A; the lock is held. */
static void
approval_clear(struct supervisor *s, struct approval *a)
{
	free(a->argv);
	a->argv = NULL;
	free(a->script);
	a->script = NULL;
	a->used = false;
	s->n_approvals--;
}

/* Forget the approvals that match: TID's (TID > 0), or all (TID 0). */
static void
drop_matching(struct supervisor *s, pid_t tid)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < APPROVALS_MAX; i++) {
		struct approval *a = &s->approvals[i];

		if (a->used && (tid == 0 || a->tid == tid))
			approval_clear(s, a);
	}
	pthread_mutex_unlock(&s->lock);
}

void
execgate_drop(struct supervisor *s, pid_t tid)
{
	if (tid > 0)
		drop_matching(s, tid);
}

void
execgate_drop_all(struct supervisor *s)
{
	drop_matching(s, 0);
}

/* A script's part of an approval: its path as given, its file and
 * digest. */
struct script_look {
	const char *path;
	const struct exe_look *look;
	const uint8_t *digest;
};

/*
 * Record that thread C->req->pid may exec the file at EXE_FD with argv
 * BLOB, for this notification only: any older approval of the thread is
 * replaced (an exec the kernel failed leaves nothing usable behind).
 * SCRIPT: the script that runs in it (NULL: none).
 */
static int
add_approval(const struct call *c, const struct exe_look *sb,
    const uint8_t digest[32], const char *blob, size_t len,
    const struct script_look *script)
{
	struct supervisor *s = c->s;
	pid_t tid = (pid_t)c->req->pid;
	int64_t now = ztconn_now_ms();
	struct approval *slot = NULL;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < APPROVALS_MAX; i++) {
		struct approval *a = &s->approvals[i];

		if (a->used && (a->expires_ms <= now || a->tid == tid))
			approval_clear(s, a);
		if (!a->used && slot == NULL)
			slot = a;
	}
	if (slot == NULL || (slot->argv = malloc(len ? len : 1)) == NULL) {
		pthread_mutex_unlock(&s->lock);
		return -EAGAIN;
	}
	if (script != NULL &&
	    (slot->script = strdup(script->path)) == NULL) {
		free(slot->argv);
		slot->argv = NULL;
		pthread_mutex_unlock(&s->lock);
		return -EAGAIN;
	}
	if (script != NULL) {
		slot->script_dev = script->look->dev;
		slot->script_ino = script->look->ino;
		memcpy(slot->script_digest, script->digest, 32);
	}
	memcpy(slot->argv, blob, len);
	slot->argv_len = len;
	slot->used = true;
	slot->tid = tid;
	slot->notif_id = c->req->id;
	slot->dev = sb->dev;
	slot->ino = sb->ino;
	memcpy(slot->digest, digest, 32);
	slot->expires_ms = now + APPROVAL_MS;
	if (++s->n_approvals > s->peak_approvals)
		s->peak_approvals = s->n_approvals;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/*
 * The first approved exec of PATH in this grant pins the file it was (SB's
 * dev and inode, DIGEST); a later exec of PATH that finds another file --
 * replaced or rewritten on disk since -- is refused until a new grant.
 * False then.
 */
static bool
pin_check(struct supervisor *s, const char *path, const struct exe_look *sb,
    const uint8_t digest[32])
{
	struct pin *p;
	bool ok = true;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < PINS_MAX; i++) {
		p = &s->pins[i];
		if (p->path != NULL && strcmp(p->path, path) == 0) {
			ok = p->dev == sb->dev && p->ino == sb->ino &&
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
	p->dev = sb->dev;
	p->ino = sb->ino;
	memcpy(p->digest, digest, 32);
out:
	pthread_mutex_unlock(&s->lock);
	if (!ok)
		deny_exec(s, path, "the file changed on disk since it was "
		    "approved in this grant");
	return ok;
}

/*
 * Ask ztd about an exec of PATH with ARGS (ARGS_LEN bytes: argv[1..], each
 * ending in NUL), which ztd matches against the command's args.  They are
 * what was read from the agent's memory: the approval made after holds
 * them byte for byte, and the exec event (execgate_verify) kills an image
 * whose argv differs, so what ztd matched is what the new image received.
 */
static bool
decide_exec(const struct call *c, const char *path, const char *args,
    size_t args_len)
{
	struct ztconn_verdict v;

	ztconn_decide_exec(c->s->setup.ztd, ACTION_EXEC, path, args, args_len,
	    c->s->setup.root_pidfd, (pid_t)c->req->pid, &v);
	return v.allow;
}

/* execve(path, argv, envp) and execveat(dirfd, path, argv, envp, flags) */
static int
on_exec(const struct call *c, bool at, char *blob)
{
	struct supervisor *s = c->s;
	const __u64 *a = c->req->data.args;
	uint64_t path_addr = at ? a[1] : a[0];
	struct agent_ptrs heads[2] = { { .addr = at ? a[2] : a[1] },
		{ .addr = at ? a[3] : a[2] } };
	size_t path_got;
	int flags = at ? (int)a[4] : 0, dirfd = -1, fd = -1, exe = -1, r;
	int env_refused, root = s->root;
	char path[PATH_MAX], canon[PATH_MAX], script_canon[PATH_MAX];
	char env_why[256], walk_why[320];
	const char *named;
	struct execpath_end end;
	int walked;
	size_t blob_len, argc, first_len;
	struct zt_shebang sb;
	uint8_t digest[32], exe_digest[32];
	struct exe_look st, exe_st;
	struct script_look script_at;
	const struct script_look *script = NULL;
	struct agent_seen seen;
	ssize_t n;
	pid_t tgid;
	bool launch, recheck;

	/* The path, and the first pointers of argv and envp, in one read;
	 * a path longer than its page goes on from there. */
	agent_read_heads(c->req->pid, path_addr, path, sizeof(path),
	    &path_got, heads, 2, ARGV_MAX);
	if (path_got > 0 && memchr(path, '\0', path_got) != NULL)
		n = (ssize_t)strlen(path);
	else if ((n = agent_read_str(c->req->pid, path_addr + path_got,
	    path + path_got, sizeof(path) - path_got)) >= 0)
		n += (ssize_t)path_got;
	if (n < 0)
		return (int)n;
	/* The strings the path's read brought along (a program's own argv
	 * and environment lie together) are not read again. */
	seen = (struct agent_seen){ path_addr, path, path_got };
	if ((r = read_argv(c, &heads[0], &seen, blob, &blob_len, &argc,
	    &first_len)) < 0)
		return r;
	if ((env_refused = read_env_refused(c, &heads[1], &seen, env_why,
	    sizeof(env_why))) < 0)
		return env_refused;
	if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -EINVAL;
	/* The check that the notification lives vouches for the memory
	 * read (the pid was the caller's throughout).  The agent's root,
	 * where its absolute paths resolve, is the supervisor's own
	 * (s->root). */
	if (!agent_call_valid(c))
		return -EACCES;
	/* What is read by the pid after that check (a relative path's
	 * working directory, the launch's thread group) is vouched for by
	 * one more check at the end. */
	recheck = path[0] != '/' && !(at && (int)a[0] != AT_FDCWD);
	if (at && (int)a[0] != AT_FDCWD && path[0] != '/') {
		if ((dirfd = agent_take_fd(c, (int)a[0])) < 0) {
			r = dirfd;
			dirfd = -1;
			goto out;
		}
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
		fd = open_for_exec(c->req->pid, root, dirfd, path,
		    flags & AT_SYMLINK_NOFOLLOW);
	if (fd < 0) {
		r = errno == ENOENT || errno == ENOTDIR || errno == ELOOP ?
		    -errno : -EACCES;
		goto out;
	}
	if (exe_look(fd, &st) < 0) {
		r = -EACCES;
		goto out;
	}
	/* Who may replace the command, walked from the file as named (a
	 * descriptor's by where it is now); the verdict is given after the
	 * decision, as the deny it may be.  The walk resolves the path as
	 * the open did, so where it found this very file (its dev and
	 * inode, no writer but root on the way: else the verdict denies)
	 * is the file's canonical path, without the kernel's d_path of our
	 * descriptor (a readlink of /proc/self/fd, 5 us per exec). */
	named = at && path[0] == '\0' ? canon : path;
	if (named == canon && fd_path(fd, canon, sizeof(canon)) < 0) {
		r = -EACCES;
		goto out;
	}
	walked = execpath_replaceable((pid_t)c->req->pid, root, dirfd, named,
	    walk_why, sizeof(walk_why), &end);
	if (named != canon) {
		if (walked == 0 && end.reached && end.dev == st.dev &&
		    end.ino == st.ino)
			memcpy(canon, end.path, strlen(end.path) + 1);
		else if (fd_path(fd, canon, sizeof(canon)) < 0) {
			r = -EACCES;
			goto out;
		}
	}
	if (env_refused) {
		deny_exec(s, canon, env_why);
		r = -EACCES;
		goto out;
	}
	/* Only the launch exec (the root process's first) needs its thread
	 * group, which only /proc/PID/status tells. */
	pthread_mutex_lock(&s->lock);
	launch = s->launch_pending && st.dev == s->setup.binary_dev &&
	    st.ino == s->setup.binary_ino;
	pthread_mutex_unlock(&s->lock);
	if (launch) {
		recheck = true;
		/* The root's own thread (the launch exec's caller, single
		 * threaded) leads the root's group: no /proc read for it
		 * (three system calls and the kernel's status text, on the
		 * launch's path). */
		if ((pid_t)c->req->pid == s->setup.root_pid)
			tgid = s->setup.root_pid;
		else if (zt_proc_tgid((pid_t)c->req->pid, &tgid) < 0)
			tgid = -1;
		pthread_mutex_lock(&s->lock);
		launch = s->launch_pending && tgid == s->setup.root_pid;
		if (launch)
			s->launch_pending = false;
		pthread_mutex_unlock(&s->lock);
	}
	/* The launch exec runs the binary ztd checked; every other one is
	 * asked about, by the file it resolves to, with its arguments.  One
	 * digest of the file serves the pin, the launch check and the
	 * approval. */
	if (!launch && !decide_exec(c, canon, blob + first_len,
	    blob_len - first_len)) {
		r = -EACCES;
		goto out;
	}
	if ((r = file_digest(s, fd, &st, digest)) < 0)
		goto out;
	if (!launch && !pin_check(s, canon, &st, digest)) {
		r = -EACCES;
		goto out;
	}
	if (launch && memcmp(digest, s->setup.binary_digest, 32) != 0) {
		zt_log(LOG_WARNING, "the agent binary changed since launch");
		r = -EACCES;
		goto out;
	}
	if ((r = replaceable_verdict(s, walked, named, walk_why,
	    sizeof(walk_why), canon)) < 0)
		goto out;
	if ((r = zt_shebang_read(fd, &sb)) < 0) {
		r = r == -ENAMETOOLONG ? -ENOEXEC : r;	/* as the kernel */
		goto out;
	}
	if (r == 1) {
		/* A script runs its interpreter: that must be allowed too,
		 * be no script itself, and is the image expected. */
		char expect[ARGV_BYTES / 4];
		size_t len = 0;
		struct zt_shebang nested;

		if (sb.interpreter[0] != '/' || (at && dirfd >= 0)) {
			r = -EACCES;
			goto out;
		}
		/* The interpreter opens the script again by the path the
		 * kernel passes it, the one given: a relative one from a
		 * working directory another process sharing it (clone
		 * CLONE_FS, which exec keeps) or a sibling thread may move
		 * between this check and that open. */
		if (path[0] != '/') {
			deny_exec(s, canon, "a script named by a relative path: "
			    "its interpreter opens that path again, from a "
			    "working directory the agent can change; exec it "
			    "by its absolute path");
			r = -EACCES;
			goto out;
		}
		size_t interp_len;

		/* argv as binfmt_script builds it: the interpreter's rule
		 * is matched against its argv[1..] (the shebang's argument,
		 * the script's path, then the script's arguments). */
		if (blob_add(expect, &len, sb.interpreter) < 0 ||
		    (sb.has_argument &&
		    blob_add(expect, &len, sb.argument) < 0) ||
		    blob_add(expect, &len, path) < 0 ||
		    len + blob_len - first_len > sizeof(expect)) {
			r = -E2BIG;
			goto out;
		}
		memcpy(expect + len, blob + first_len, blob_len - first_len);
		len += blob_len - first_len;
		interp_len = strlen(sb.interpreter) + 1;
		exe = open_for_exec(c->req->pid, root, -1, sb.interpreter,
		    false);
		if (exe < 0 || exe_look(exe, &exe_st) < 0 ||
		    fd_path(exe, script_canon, sizeof(script_canon)) < 0 ||
		    zt_shebang_read(exe, &nested) != 0 ||
		    (!launch && !decide_exec(c, script_canon,
		    expect + interp_len, len - interp_len)) ||
		    (r = file_digest(s, exe, &exe_st, exe_digest)) < 0 ||
		    (!launch && !pin_check(s, script_canon, &exe_st,
		    exe_digest))) {
			r = -EACCES;
			goto out;
		}
		if ((r = refuse_replaceable(c, root, -1, sb.interpreter,
		    script_canon)) < 0)
			goto out;
		memcpy(blob, expect, len);
		blob_len = len;
		script_at = (struct script_look){ .path = path, .look = &st,
		    .digest = digest };
		script = &script_at;
	} else {
		exe_st = st;
		memcpy(exe_digest, digest, sizeof(exe_digest));
		if (argc == 0)
			blob[blob_len++] = '\0';	/* the kernel adds "" */
	}
	if ((r = add_approval(c, &exe_st, exe_digest, blob, blob_len,
	    script)) < 0)
		goto out;
	/* 1: on_exec continues */
	r = !recheck || agent_call_valid(c) ? 1 : -EACCES;
out:
	if (exe >= 0)
		close(exe);
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	return r;
}

/*
 * At PID's exec event, a script's: is the file its interpreter will open
 * by PATH (absolute, in the agent's root: S's) the approved one (DEV,
 * INO), with the approved DIGEST, hashed now?  The kernel opened it for the exec with no
 * writer allowed (ETXTBSY) and the account cannot open it for writing (the
 * replaceable-path walk), so what is read now is what the interpreter
 * reads; a digest from the cache is only as good as its key, which a
 * write through a shared mapping made before leaves as it was
 * (zt_exec_remap.sh).
 */
static bool
script_verify(const struct supervisor *s, pid_t pid, const char *path,
    dev_t dev, ino_t ino, const uint8_t digest[32])
{
	uint8_t now[32];
	struct exe_look look;
	int fd;
	bool ok;

	fd = open_for_exec(pid, s->root, -1, path, false);
	if (fd < 0)
		return false;
	ok = exe_look(fd, &look) == 0 && look.dev == dev &&
	    look.ino == ino && zt_digest_fresh(fd, now, NULL) == 0 &&
	    memcmp(now, digest, 32) == 0;
	close(fd);
	return ok;
}

/* How many NULs the LEN bytes at P hold. */
static size_t
count_nuls(const char *p, size_t len)
{
	size_t n = 0;
	const char *end = p + len, *z;

	while (p < end && (z = memchr(p, '\0', (size_t)(end - p))) != NULL) {
		n++;
		p = z + 1;
	}
	return n;
}

#define USER64_CS 0x33		/* x86-64's 64-bit user code segment */
#define WORDS_MAX (2 * 4096 / 8)

/*
 * At PID's exec event, its argv and environment strings as the kernel
 * laid them out on the new image's stack, read from its memory rather
 * than from /proc/PID/cmdline and /proc/PID/environ (eight syscalls, and
 * on the critical path of every exec): the same bytes, since those files
 * read the same ranges (the mm's arg_start..arg_end, env_start..env_end)
 * of the same memory.  That memory is the kernel's work alone: PID is
 * stopped before the image's first instruction, and no other task shares
 * the new mm.  The registers give the stack pointer; at it, argc, argv's
 * and envp's pointers and the auxiliary vector (create_elf_tables): argv's
 * strings run from argv[0] to envp[0], the environment's from envp[0] to
 * AT_EXECFN (the file name, copied above them); when they lie within what
 * that first read brought (a small environment), they are taken from it
 * rather than read again.  ARGS: ARGV_BYTES + 2 bytes, ENV: ENV_BYTES +
 * 1.  0 with *ARGS_LEN and *ENV_LEN, or -1 when this way cannot tell (no
 * 64-bit image, more pointers than two pages, a layout not as expected,
 * too large): the caller reads /proc then.
 */
int
execgate_image_strings(pid_t pid, char *args, size_t *args_len, char *env,
    size_t *env_len)
{
	struct user_regs_struct regs;
	uint64_t words[WORDS_MAX], argc, arg0, env0 = 0, execfn = 0;
	struct iovec local[2], remote[2];
	size_t n, i, envc = 0, page;
	ssize_t got;

	if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0 ||
	    regs.cs != USER64_CS || (regs.rsp & 7) != 0)
		return -1;
	/* The stack pointer's page and the next, which may not be there. */
	page = 4096 - (size_t)(regs.rsp & 4095);
	local[0] = (struct iovec){ words, page };
	local[1] = (struct iovec){ (char *)words + page, sizeof(words) - page };
	remote[0] = (struct iovec){ (void *)(uintptr_t)regs.rsp, page };
	remote[1] = (struct iovec){ (void *)(uintptr_t)(regs.rsp + page),
	    sizeof(words) - page };
	if ((got = process_vm_readv(pid, local, 2, remote, 2, 0)) < 8)
		return -1;
	n = (size_t)got / 8;
	argc = words[0];
	if (argc == 0 || argc >= n - 1 || words[argc + 1] != 0)
		return -1;
	arg0 = words[1];
	for (i = argc + 2; i < n && words[i] != 0; i++)
		envc++;
	if (envc > 0)
		env0 = words[argc + 2];
	/* The auxiliary vector: (type, value) pairs to AT_NULL. */
	for (i++; i + 1 < n && words[i] != AT_NULL; i += 2)
		if (words[i] == AT_EXECFN)
			execfn = words[i + 1];
	if (i + 1 >= n || execfn == 0)
		return -1;
	if (envc == 0)
		env0 = execfn;
	if (env0 < arg0 || execfn < env0 || env0 - arg0 > ARGV_BYTES + 1 ||
	    execfn - env0 > ENV_BYTES)
		return -1;
	*args_len = (size_t)(env0 - arg0);
	*env_len = (size_t)(execfn - env0);
	if (arg0 >= regs.rsp && execfn - regs.rsp <= (uint64_t)got) {
		/* The strings came with the pointers (a small environment:
		 * all within the stack's last page). */
		memcpy(args, (char *)words + (arg0 - regs.rsp), *args_len);
		memcpy(env, (char *)words + (env0 - regs.rsp), *env_len);
	} else {
		local[0] = (struct iovec){ args, *args_len };
		local[1] = (struct iovec){ env, *env_len };
		remote[0] = (struct iovec){ (void *)(uintptr_t)arg0,
		    *args_len };
		remote[1] = (struct iovec){ (void *)(uintptr_t)env0,
		    *env_len };
		if (process_vm_readv(pid, local, *env_len > 0 ? 2 : 1, remote,
		    *env_len > 0 ? 2 : 1, 0) !=
		    (ssize_t)(*args_len + *env_len))
			return -1;
	}
	/* Each string NUL-terminated, as many as the pointers said. */
	if (count_nuls(args, *args_len) != argc ||
	    count_nuls(env, *env_len) != envc ||
	    args[*args_len - 1] != '\0' ||
	    (*env_len > 0 && env[*env_len - 1] != '\0'))
		return -1;
	env[*env_len] = '\0';
	return 0;
}

/* At PID's exec event: is what runs now what was approved?  ARGS_LEN:
 * BLOB holds its argv already (execgate_image_strings), or -1: read it
 * here. */
bool
execgate_verify(struct supervisor *s, pid_t pid, pid_t former, char *blob,
    ssize_t args_len)
{
	char path[64], *script = NULL;
	uint8_t digest[32], script_digest[32];
	struct exe_look sb;
	dev_t script_dev = 0;
	ino_t script_ino = 0;
	ssize_t len = 0, n;
	bool ok = false;
	int fd;

	/* The image PID (stopped at its exec event) runs, and no one can
	 * write an image while it runs: its digest, hashed now or found by
	 * its key (through the link) among the digests hashed so, is what
	 * runs.  A digest hashed from a file opened by path is no proof: a
	 * write through a shared mapping made before leaves the key as it
	 * was (zt_exec_remap.sh; zt_exe.h), and a file others than root may
	 * write is hashed every time (zt_digests_get_running). */
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if (exe_look_at(AT_FDCWD, path, 0, &sb) < 0)
		return false;
	if (!zt_digests_find_running(s->digests, &sb.key, sb.complete, 0,
	    digest)) {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return false;
		if (zt_digests_get_running(s->digests, fd, 0, digest,
		    &sb.key) < 0) {
			close(fd);
			return false;
		}
		close(fd);
		sb.dev = makedev(sb.key.dev_major, sb.key.dev_minor);
		sb.ino = (ino_t)sb.key.ino;
	}
	if (args_len >= 0)
		len = args_len;
	else {
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return false;
		while (len < ARGV_BYTES + 1 && (n = read(fd, blob + len,
		    (size_t)(ARGV_BYTES + 1 - len))) > 0)
			len += n;
		close(fd);
	}
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < APPROVALS_MAX && !ok; i++) {
		struct approval *a = &s->approvals[i];

		if (a->used && a->tid == former && a->dev == sb.dev &&
		    a->ino == sb.ino &&
		    memcmp(a->digest, digest, 32) == 0 &&
		    (ssize_t)a->argv_len == len &&
		    memcmp(a->argv, blob, (size_t)len) == 0) {
			/* A script's part is checked below, unlocked. */
			script = a->script;
			a->script = NULL;
			script_dev = a->script_dev;
			script_ino = a->script_ino;
			memcpy(script_digest, a->script_digest, 32);
			approval_clear(s, a);
			ok = true;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (ok && script != NULL)
		ok = script_verify(s, pid, script, script_dev, script_ino,
		    script_digest);
	free(script);
	return ok;
}

bool
execgate_environment_ok(struct supervisor *s, pid_t pid, char *buf,
    ssize_t env_len)
{
	const struct profile *p = s->setup.profile;
	char path[64], exe[PATH_MAX] = "?", why[256];
	const char *hit;
	bool truncated = false;
	size_t name_len;
	ssize_t n = env_len;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	if (env_len < 0)
		n = zt_proc_read(path, buf, ENV_BYTES + 1, &truncated);
	if (n < 0 || truncated) {
		snprintf(why, sizeof(why), n < 0 ? "its environment could "
		    "not be read" : "its environment is larger than %d bytes",
		    ENV_BYTES);
		hit = NULL;
	} else if ((hit = zt_env_find_refused(buf, (size_t)n, p->env_names,
	    p->n_env, &name_len)) == NULL)
		return true;
	else
		env_reason(why, sizeof(why), hit, name_len);
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if ((n = readlink(path, exe, sizeof(exe) - 1)) > 0)
		exe[n] = '\0';
	deny_exec(s, exe, why);
	return false;
}

int64_t
execgate_on_exec(const struct call *c, bool at, char *buf)
{
	int r;

	/* A new exec from this thread: whatever it was approved before is
	 * void, whether this one is approved or not. */
	execgate_drop(c->s, (pid_t)c->req->pid);
	r = on_exec(c, at, buf);
	/* ENOENT and the like stay what they are: execvp searches PATH on
	 * them. */
	return r == 1 ? CONTINUE : r < 0 ? r : -EACCES;
}

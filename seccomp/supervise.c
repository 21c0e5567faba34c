/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The supervisor's workers: each receives a notification of the agent's
 * filter and hands it to the concern that owns the syscall (netcall.c,
 * execgate.c, a profile's gated syscalls here).  Never continue a syscall
 * on the strength of what was read from the agent's memory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <unistd.h>

#include "filter.h"
#include "supervisor_int.h"
#include "zt_log.h"
#include "ztconn.h"

#define WORKER_STACK_WARM (32 * 1024)	/* a worker's stack made ready */

static int64_t
on_gated_syscall(const struct call *c)
{
	struct ztconn_verdict v;
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE,
	    c->req->data.nr);
	bool ipc;

	if (name == NULL)
		return -EACCES;
	ztconn_decide(c->s->setup.ztd, ACTION_SYSCALL, name,
	    c->s->setup.root_pidfd, (pid_t)c->req->pid, &v);
	/* IPC keeps the EPERM it had when the filter refused it alone. */
	ipc = filter_is_ipc(name);
	free(name);
	return v.allow ? CONTINUE : ipc ? -EPERM : -EACCES;
}

/*
 * A call the filter sends here only to be refused (OBJECT names it):
 * ztd is asked, so that it audits the deny (it allows no such object),
 * and the call fails with EPERM whatever the answer.
 */
static int64_t
on_refused(const struct call *c, const char *object)
{
	struct ztconn_verdict v;

	ztconn_decide(c->s->setup.ztd, ACTION_SYSCALL, object,
	    c->s->setup.root_pidfd, (pid_t)c->req->pid, &v);
	return -EPERM;
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
	case SCMP_SYS(bind):
	case SCMP_SYS(listen):
	case SCMP_SYS(sendto):
	case SCMP_SYS(sendmsg):
	case SCMP_SYS(sendmmsg):
		return netcall_dispatch(c, buf);
	case SCMP_SYS(chmod):
	case SCMP_SYS(fchmod):
	case SCMP_SYS(fchmodat):
	case SCMP_SYS(chown):
	case SCMP_SYS(fchown):
	case SCMP_SYS(lchown):
	case SCMP_SYS(fchownat):
	case SCMP_SYS(utime):
	case SCMP_SYS(utimes):
	case SCMP_SYS(futimesat):
	case SCMP_SYS(utimensat):
	case SCMP_SYS(setxattr):
	case SCMP_SYS(lsetxattr):
	case SCMP_SYS(fsetxattr):
	case SCMP_SYS(removexattr):
	case SCMP_SYS(lremovexattr):
	case SCMP_SYS(fremovexattr):
	case SCMP_SYS(inotify_add_watch):
	case SCMP_SYS(ioctl):		/* the file changes of filter.c */
		/* Gated only for a profile with files (filter.c), unless
		 * the profile gates one itself: then ztd decides it as a
		 * syscall. */
		if (!c->s->setup.profile->files_given)
			return on_gated_syscall(c);
		return filecall_dispatch(c);
	case SCMP_SYS(socket):		/* inet datagram sockets only */
		return netcall_socket(c);
	case SCMP_SYS(execve):
	case SCMP_SYS(execveat):
		return execgate_on_exec(c,
		    c->req->data.nr == SCMP_SYS(execveat), buf);
	case SCMP_SYS(setsockopt): {
		/* The level and option are registers, not agent memory. */
		const char *refused = filter_setsockopt_refused(
		    c->req->data.args[1], c->req->data.args[2]);

		if (refused != NULL)
			return on_refused(c, refused);
		return on_gated_syscall(c);	/* the profile gates it */
	}
	default:
		return on_gated_syscall(c);
	}
}

static void *worker_main(void *arg);

/* The stack a call's handling reaches down to, written once as the
 * worker starts (while zt-exec waits for ztd and the child), not faulted
 * in page by page on the agent's first calls of each kind. */
static void __attribute__((noinline))
warm_stack(void)
{
	volatile char stack[WORKER_STACK_WARM];

	for (size_t i = 0; i < sizeof(stack); i += 4096)
		stack[i] = 0;
}

/* Every worker is busy: make another, up to SUPERVISE_WORKERS. */
static void
add_worker(struct supervisor *s)
{
	unsigned n = atomic_fetch_add(&s->n_workers, 1);
	int r;

	if (n >= SUPERVISE_WORKERS) {
		atomic_fetch_sub(&s->n_workers, 1);
		return;
	}
	atomic_fetch_add(&s->idle, 1);
	if ((r = pthread_create(&s->workers[n], NULL, worker_main, s)) != 0) {
		atomic_fetch_sub(&s->idle, 1);
		atomic_fetch_sub(&s->n_workers, 1);
		zt_log(LOG_WARNING, "no supervisor worker more: %s",
		    strerror(r));
	}
}

/*
 * A notification and an answer as large as the kernel's (its sizes may
 * grow past these headers: asked once, by supervise_new), and a
 * handler's buffer.  Not libseccomp's seccomp_notify_alloc, whose first
 * call probes the kernel's seccomp API (ten system calls, on a worker
 * made during the launch) for what the kernel tells in one.
 */
static int
notify_alloc(const struct supervisor *s, struct worker_bufs *b)
{
	b->req = calloc(1, s->notif_size);
	b->resp = calloc(1, s->resp_size);
	b->buf = malloc(ARGV_BYTES + 4096);
	if (b->req == NULL || b->resp == NULL || b->buf == NULL) {
		free(b->req);
		free(b->resp);
		free(b->buf);
		return -ENOMEM;
	}
	return 0;
}

/* Answer C's notification with R (dispatch's result). */
static void
answer(const struct call *c, int64_t r)
{
	if (r == ANSWERED)
		return;
	if (r == CONTINUE)
		c->resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	else if (r < 0)
		c->resp->error = (int32_t)r;
	else
		c->resp->val = r;
	/* ENOENT: the caller is gone; nothing to answer. */
	ioctl(c->fd, SECCOMP_IOCTL_NOTIF_SEND, c->resp);
}

static void *
worker_main(void *arg)
{
	struct supervisor *s = arg;
	struct worker_bufs b;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	struct call c = { .s = s };
	char *buf;
	unsigned n;

	/*
	 * The first workers' buffers were made by supervise_new (the
	 * first's are those the launch exec was answered with): a worker
	 * that mallocs nothing before its first notification gets no
	 * arena of its own until then (profiled: mmap, two munmaps and an
	 * mprotect, and its pages, in each worker made at every launch).
	 */
	pthread_mutex_lock(&s->lock);
	n = s->n_started++;
	if (n < SUPERVISE_WORKERS_FIRST)
		b = s->given[n];
	pthread_mutex_unlock(&s->lock);
	if (n >= SUPERVISE_WORKERS_FIRST && notify_alloc(s, &b) < 0) {
		zt_log(LOG_ERR, "a supervisor worker could not start");
		return NULL;
	}
	req = b.req;
	resp = b.resp;
	buf = b.buf;
	/* The first worker answers the agent's next exec, as a rule: its
	 * stack and its malloc arena (a thread's own, made at its first
	 * malloc: an mmap, two munmaps and an mprotect, which an exec's
	 * approval would otherwise make on the agent's path) made ready
	 * now.  The spare's pages come as it needs them. */
	if (n == 0) {
		void *volatile arena_made = malloc(64);

		warm_stack();
		free(arena_made);
	}
	/* The first worker, made once the launch exec is answered, makes
	 * the spare that takes a notification while it is busy. */
	if (atomic_load(&s->n_workers) < SUPERVISE_WORKERS_FIRST)
		add_worker(s);
	/* The setup came with supervise_start, before any worker. */
	pthread_mutex_lock(&s->lock);
	while (!s->started)
		pthread_cond_wait(&s->start, &s->lock);
	pthread_mutex_unlock(&s->lock);
	c.fd = s->setup.notify_fd;
	c.req = req;
	c.resp = resp;
	/* This thread resolves paths and makes calls for the agent: with
	 * the agent's group (main set it; a thread inherits it), never
	 * zt-exec's setgid one (a chown to it, or a setgid file of it, would
	 * make a supervisor of anyone). */
	if ((gid_t)setfsgid((gid_t)-1) != getgid()) {
		zt_log(LOG_ERR, "a supervisor worker could not drop its group");
		return NULL;
	}
	for (;;) {
		int64_t r;

		/* The kernel takes a cleared buffer only. */
		memset(req, 0, sizeof(*req));
		if (ioctl(c.fd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
			struct pollfd pfd = { .fd = c.fd, .events = POLLIN };

			/* The target died mid-notification, or no filter user
			 * is left: no notification can come any more, and the
			 * tracer, which sees the root's end, ends the process.
			 * The worker waits for that exit's kill rather than
			 * ending itself (its buffers freed, its stack given
			 * back: profiled, 30-35 us of CPU a worker beside the
			 * agent's own exit, which it woke and delayed). */
			if (poll(&pfd, 1, 100) > 0 &&
			    (pfd.revents & (POLLHUP | POLLERR)))
				for (;;)
					pause();
			continue;
		}
		/* The last idle worker busy: another comes. */
		if (atomic_fetch_sub(&s->idle, 1) == 1)
			add_worker(s);
		memset(resp, 0, sizeof(*resp));
		resp->id = req->id;
		r = dispatch(&c, buf);
		answer(&c, r);
		atomic_fetch_add(&s->idle, 1);
	}
}

/* ztd changed something: no exec approval made before it holds. */
static void
on_ztd_event(void *arg)
{
	execgate_drop_all(arg);
}

int
supervise_new(struct supervisor **out, struct zt_digests *digests)
{
	struct supervisor *s = calloc(1, sizeof(*s));
	struct seccomp_notif_sizes sizes;
	int r;

	if (s == NULL || digests == NULL ||
	    (s->tasks = calloc(TASKS_MAX, sizeof(*s->tasks))) == NULL) {
		zt_digests_free(digests);
		free(s);
		return -ENOMEM;
	}
	s->launch_pending = true;
	s->digests = digests;
	if ((s->root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = -errno;
		zt_digests_free(digests);
		free(s->tasks);
		free(s);
		return r;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->dgram_lock, NULL);
	pthread_cond_init(&s->start, NULL);
	atomic_init(&s->n_workers, 0);
	atomic_init(&s->idle, 0);
	/* The launch exec's notification is the caller's to answer
	 * (supervise_first), with the buffers the first worker then takes
	 * over; the spare's made here too (worker_main).  The stack made
	 * ready. */
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
		return -errno;	/* the caller exits */
	s->notif_size = sizes.seccomp_notif > sizeof(struct seccomp_notif) ?
	    sizes.seccomp_notif : sizeof(struct seccomp_notif);
	s->resp_size = sizes.seccomp_notif_resp >
	    sizeof(struct seccomp_notif_resp) ? sizes.seccomp_notif_resp :
	    sizeof(struct seccomp_notif_resp);
	for (size_t i = 0; i < SUPERVISE_WORKERS_FIRST; i++)
		if ((r = notify_alloc(s, &s->given[i])) < 0)
			return r;	/* the caller exits */
	/* The tracer's buffers too: made here, while the child starts,
	 * not after the launch exec is let go (two mmaps then before its
	 * exec event was looked at) and never freed (the tracer's end is
	 * zt-exec's: two munmaps on the way to its exit, profiled). */
	if ((s->trace_blob = malloc(ARGV_BYTES + 2)) == NULL ||
	    (s->trace_env = malloc(ENV_BYTES + 1)) == NULL)
		return -ENOMEM;	/* the caller exits */
	warm_stack();
	*out = s;
	return 0;
}

int
supervise_first(struct supervisor *s)
{
	struct call c = { .s = s, .fd = s->setup.notify_fd,
	    .req = s->given[0].req, .resp = s->given[0].resp };
	struct pollfd pfd = { .fd = c.fd, .events = POLLIN };
	int r = -1;

	for (;;) {
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* No filter user left: the child died (the tracer reaps
		 * it). */
		if (!(pfd.revents & POLLIN))
			break;
		memset(c.req, 0, sizeof(*c.req));
		if (ioctl(c.fd, SECCOMP_IOCTL_NOTIF_RECV, c.req) < 0) {
			if (errno == EINTR || errno == ENOENT)
				continue;	/* its caller died */
			break;
		}
		memset(c.resp, 0, sizeof(*c.resp));
		c.resp->id = c.req->id;
		answer(&c, dispatch(&c, s->given[0].buf));
		r = 0;
		break;
	}
	/* The workers, while the agent's exec runs: the first makes the
	 * spare. */
	add_worker(s);
	return r;
}

int
supervise_start(struct supervisor *s, const struct supervise_setup *setup)
{
	pthread_mutex_lock(&s->lock);
	s->setup = *setup;
	s->tasks[0].pid = setup->root_pid;
	s->tasks[0].seen = true;	/* seized running: no first stop */
	s->n_tasks = 1;
	s->peak_tasks = 1;
	s->started = true;
	pthread_cond_broadcast(&s->start);
	pthread_mutex_unlock(&s->lock);
	ztconn_on_event(setup->ztd, on_ztd_event, s);
	return 0;
}

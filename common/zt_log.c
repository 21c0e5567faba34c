/* SPDX-License-Identifier: Apache-2.0 */
/* The logging backend (syslog datagrams or stderr) and string escaping. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "zt_clock.h"
#include "zt_log.h"

/* The backend: the only mutable global state of a program besides flags. */
static struct {
	char ident[32];
	int fd;			/* syslog socket, or -1 for stderr only */
	int facility;
	int also_stderr;
	int unreachable;	/* said once on stderr, until it works again */
	int connected;		/* fd is connected to addr */
	struct sockaddr_un addr;
	socklen_t addr_len;
	/* Audit lines held by zt_log_audit_hold, sent by zt_log_audit_flush
	 * in one sendmmsg. */
	bool hold;
	unsigned held;
	size_t held_len[ZT_LOG_HELD_MAX];
	char (*held_line)[ZT_LOG_LINE_MAX + ZT_LOG_HEAD_MAX];	/* ZT_LOG_HELD_MAX */
	/* zt_log_relay_start: the pipe to the relay (-1: none), whose
	 * writes one lock keeps whole. */
	int relay_fd;
	pid_t relay_pid;
	pthread_mutex_t relay_lock;
} backend = { .ident = "zt", .fd = -1, .facility = LOG_DAEMON, .also_stderr = 1,
    .relay_fd = -1, .relay_lock = PTHREAD_MUTEX_INITIALIZER };

static void
set_ident(const char *ident)
{
	snprintf(backend.ident, sizeof(backend.ident), "%s",
	    ident != NULL ? ident : "zt");
}

void
zt_log_open_stderr(const char *ident)
{
	zt_log_close();
	set_ident(ident);
	backend.also_stderr = 1;
}

int
zt_log_open_syslog(const char *ident, const char *socket_path, int facility,
    int also_stderr)
{
	size_t len = strlen(socket_path);
	int fd;

	if (len >= sizeof(backend.addr.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	zt_log_close();
	set_ident(ident);
	memset(&backend.addr, 0, sizeof(backend.addr));
	backend.addr.sun_family = AF_UNIX;
	memcpy(backend.addr.sun_path, socket_path, len + 1);
	backend.addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    len + 1);
	backend.fd = fd;
	backend.connected = 0;
	backend.facility = facility;
	backend.also_stderr = also_stderr;
	return 0;
}

void
zt_log_set_stderr(int also_stderr)
{
	backend.also_stderr = also_stderr;
}

void
zt_log_close(void)
{
	if (backend.fd >= 0)
		close(backend.fd);
	backend.fd = -1;
}

/*
 * Connect the socket to the syslog path (once, and again after the
 * receiver went away: a restarted syslog daemon is a new socket), so that
 * a datagram costs no path lookup.  0 or -errno.
 */
static int
connect_syslog(void)
{
	if (backend.connected)
		return 0;
	if (connect(backend.fd, (struct sockaddr *)&backend.addr,
	    backend.addr_len) < 0)
		return -errno;
	backend.connected = 1;
	return 0;
}

/*
 * FD (the syslog socket, or the relay's pipe) is full: wait for room, up
 * to 100 ms of real time from the first time it was (*DEADLINE, -1 until
 * then), however many rounds the reader makes of it.  0: try again;
 * -EAGAIN once the time is up; or poll's -errno.
 */
static int
wait_room(int fd, int64_t *deadline)
{
	int r;

	if (*deadline < 0)
		*deadline = zt_monotonic_ms() + 100;
	r = zt_poll_until(fd, POLLOUT, *deadline);
	return r == -ETIMEDOUT ? -EAGAIN : r;
}

/*
 * Send the N held or given LINES in as few calls as the queue allows; a
 * full queue is waited for, up to about 100 ms in all.  The wait is a
 * poll for POLLOUT, which a connected unix datagram socket reports once
 * the receiver's queue has room (net.unix.max_dgram_qlen, 10 without
 * systemd's sysctl.d): the line goes as soon as the receiver has read
 * one, not a fixed millisecond later.  0 or -errno; *SENT (when not NULL)
 * says how many went.
 */
static int
send_socket_lines(char *const *line, const size_t *len, unsigned n,
    unsigned *sent)
{
	struct mmsghdr msgs[ZT_LOG_HELD_MAX];
	struct iovec iov[ZT_LOG_HELD_MAX];
	unsigned done = 0;
	int reconnected = 0, r = 0;
	int64_t deadline = -1;

	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = line[i];
		iov[i].iov_len = len[i];
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (done < n) {
		if ((r = connect_syslog()) == 0) {
			r = sendmmsg(backend.fd, msgs + done, n - done,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (r > 0) {
				done += (unsigned)r;
				continue;
			}
			r = -errno;
		}
		/* The receiver went away (restarted): connect anew, once. */
		if ((r == -ECONNREFUSED || r == -ENOTCONN ||
		    r == -ENOENT) && !reconnected) {
			backend.connected = 0;
			reconnected = 1;
			continue;
		}
		if (r != -EAGAIN || (r = wait_room(backend.fd,
		    &deadline)) < 0)
			break;
	}
	if (sent != NULL)
		*sent = done;
	return done == n ? 0 : r;
}

/*
 * Hand the N LINES to the relay's pipe, each ending in '\n', in one
 * writev where the pipe has room (whole against the other threads' lines:
 * the lock); a full pipe is waited for up to about 100 ms, as a full
 * syslog queue is.  0, -EPIPE when the relay is gone, or -errno.
 */
static int
relay_lines(char *const *line, const size_t *len, unsigned n)
{
	struct iovec iov[2 * ZT_LOG_HELD_MAX];
	unsigned at = 0, count = 2 * n;
	int64_t deadline = -1;
	int r = 0;

	for (unsigned i = 0; i < n; i++) {
		iov[2 * i].iov_base = line[i];
		iov[2 * i].iov_len = len[i];
		iov[2 * i + 1].iov_base = (void *)"\n";
		iov[2 * i + 1].iov_len = 1;
	}
	pthread_mutex_lock(&backend.relay_lock);
	while (at < count) {
		ssize_t w = writev(backend.relay_fd, iov + at,
		    (int)(count - at));

		if (w >= 0) {
			/* Past what went; into the iovec it stopped in. */
			while (at < count && (size_t)w >= iov[at].iov_len)
				w -= (ssize_t)iov[at++].iov_len;
			if (at < count) {
				iov[at].iov_base = (char *)iov[at].iov_base + w;
				iov[at].iov_len -= (size_t)w;
			}
			continue;
		}
		if (errno == EINTR)
			continue;
		if ((r = errno != EAGAIN ? -errno : wait_room(backend.relay_fd,
		    &deadline)) < 0)
			break;
	}
	pthread_mutex_unlock(&backend.relay_lock);
	return r;
}

/*
 * Send the N LINES: through the relay when there is one, else to the
 * syslog socket.  A relay that is gone (killed: its pipe has no reader)
 * is said once and left; its lines, and all after, go to the socket.  A
 * line the relay had taken but not sent when it died is lost.
 */
static int
send_lines(char *const *line, const size_t *len, unsigned n)
{
	int r;

	if (backend.relay_fd < 0)
		return send_socket_lines(line, len, n, NULL);
	r = relay_lines(line, len, n);
	if (r != -EPIPE)
		return r;
	pthread_mutex_lock(&backend.relay_lock);
	if (backend.relay_fd >= 0) {
		close(backend.relay_fd);
		backend.relay_fd = -1;
		/* Not left a zombie (it has exited: its pipe end is gone). */
		waitpid(backend.relay_pid, NULL, WNOHANG);
	}
	pthread_mutex_unlock(&backend.relay_lock);
	r = send_socket_lines(line, len, n, NULL);
	zt_log(LOG_ERR, "the log relay is gone: lines go to the syslog "
	    "socket directly now");
	return r;
}

/* Send LINE; a full queue is waited for, up to about 100 ms. */
static int
send_line(const char *line, size_t len)
{
	char *one = (char *)line;

	return send_lines(&one, &len, 1);
}

/* Report R, the result of sending: the first failure on stderr. */
static int
sent(int r)
{
	if (r < 0) {
		if (backend.also_stderr && !backend.unreachable)
			fprintf(stderr, "%s: syslog socket %s unreachable: "
			    "%s\n", backend.ident, backend.addr.sun_path,
			    strerror(-r));
		backend.unreachable = 1;
	} else
		backend.unreachable = 0;
	return r;
}

/*
 * The pid for the line's tag: one getpid() per process, not one per line (a
 * syscall on every audited decision; glibc does not cache it).  Every fork
 * of this code base goes through fork(), whose child handler forgets it.
 */
static pid_t line_pid;
static pthread_once_t line_pid_once = PTHREAD_ONCE_INIT;

static void
forget_pid(void)
{
	line_pid = 0;
}

static void
watch_forks(void)
{
	pthread_atfork(NULL, NULL, forget_pid);
}

static long
tag_pid(void)
{
	pthread_once(&line_pid_once, watch_forks);
	if (line_pid == 0)
		line_pid = getpid();
	return (long)line_pid;
}

/*
 * The line's head "<PRI>Mmm dd hh:mm:ss IDENT[PID]: " into HEAD; its length.
 * Made once a second for each priority, not once a line.
 */
static size_t
line_head(char head[ZT_LOG_HEAD_MAX], int pri)
{
	static __thread time_t stamped = -1;
	static __thread int stamped_pri = -1;
	static __thread char made[ZT_LOG_HEAD_MAX];
	static __thread size_t made_len;
	time_t now = time(NULL);

	if (now != stamped || pri != stamped_pri) {
		char stamp[32];
		struct tm tm;
		int n;

		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
		n = snprintf(made, sizeof(made), "<%d>%s %s[%ld]: ", pri,
		    stamp, backend.ident, tag_pid());
		made_len = n < 0 ? 0 : (size_t)n < sizeof(made) ? (size_t)n :
		    sizeof(made) - 1;
		stamped = now;
		stamped_pri = pri;
	}
	memcpy(head, made, made_len);
	return made_len;
}

/* A newline in a log line would forge a second record: LEN bytes of
 * TEXT with every CR and LF made a space. */
static void
unforge(char *text, size_t len)
{
	char *end = text + len;

	/* Two memchr scans: a line has none of either, as a rule. */
	for (char *p = text; (p = memchr(p, '\n', (size_t)(end - p))) != NULL;)
		*p++ = ' ';
	for (char *p = text; (p = memchr(p, '\r', (size_t)(end - p))) != NULL;)
		*p++ = ' ';
}

/*
 * The syslog line at PRI of LEN bytes of MESSAGE (cut with "..." past
 * ZT_LOG_LINE_MAX - 1, and unforged) into LINE; its length, without the
 * NUL that ends it.
 */
static size_t
format_line(char line[ZT_LOG_LINE_MAX + ZT_LOG_HEAD_MAX], int pri,
    const char *message, size_t len)
{
	size_t n = line_head(line, pri);
	bool cut = len >= ZT_LOG_LINE_MAX;

	if (cut)
		len = ZT_LOG_LINE_MAX - 1;
	memcpy(line + n, message, len);
	if (cut)
		memcpy(line + n + len - 3, "...", 3);
	unforge(line + n, len);
	line[n + len] = '\0';
	return n + len;
}

static int
emit(int pri, const char *message)
{
	char line[ZT_LOG_LINE_MAX + ZT_LOG_HEAD_MAX];
	int r = 0;

	if (backend.fd >= 0)
		r = sent(send_line(line, format_line(line, pri, message,
		    strlen(message))));
	if (backend.fd < 0 || backend.also_stderr)
		fprintf(stderr, "%s: %s\n", backend.ident, message);
	return r;
}

static int log_with(int pri, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void format_message(char message[ZT_LOG_LINE_MAX], const char *fmt,
    va_list ap) __attribute__((format(printf, 2, 0)));

static void
format_message(char message[ZT_LOG_LINE_MAX], const char *fmt, va_list ap)
{
	int n;

	n = vsnprintf(message, ZT_LOG_LINE_MAX, fmt, ap);
	if (n < 0)
		snprintf(message, ZT_LOG_LINE_MAX, "(unprintable log message)");
	else if ((size_t)n >= ZT_LOG_LINE_MAX)
		memcpy(message + ZT_LOG_LINE_MAX - 4, "...", 4);
}

static int
log_with(int pri, const char *fmt, va_list ap)
{
	char message[ZT_LOG_LINE_MAX];

	format_message(message, fmt, ap);
	return emit(pri, message);
}

void
zt_logv(int priority, const char *fmt, va_list ap)
{
	log_with(backend.facility | LOG_PRI(priority), fmt, ap);
}

void
zt_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	zt_logv(priority, fmt, ap);
	va_end(ap);
}

int
zt_log_audit(const char *text, size_t len)
{
	int pri = LOG_AUTHPRIV | LOG_NOTICE;
	int r = 0;
	size_t n;

	if (!backend.hold || backend.fd < 0) {
		char line[ZT_LOG_LINE_MAX + ZT_LOG_HEAD_MAX];

		if (backend.fd >= 0)
			r = sent(send_line(line, format_line(line, pri, text,
			    len)));
		if (backend.fd < 0 || backend.also_stderr)
			fprintf(stderr, "%s: %.*s\n", backend.ident,
			    (int)(len < ZT_LOG_LINE_MAX ? len :
			    ZT_LOG_LINE_MAX - 1), text);
		return r;
	}
	/* Held: made now, sent with the others by zt_log_audit_flush
	 * (a full queue is sent first). */
	if (backend.held == ZT_LOG_HELD_MAX)
		r = zt_log_audit_flush();
	n = format_line(backend.held_line[backend.held], pri, text, len);
	backend.held_len[backend.held] = n;
	if (backend.also_stderr)
		fprintf(stderr, "%s: %s\n", backend.ident,
		    backend.held_line[backend.held] + (n - (len <
		    ZT_LOG_LINE_MAX ? len : ZT_LOG_LINE_MAX - 1)));
	backend.held++;
	return r;
}

void
zt_log_audit_hold(bool hold)
{
	if (hold && backend.held_line == NULL)
		backend.held_line = malloc(ZT_LOG_HELD_MAX *
		    sizeof(*backend.held_line));
	backend.hold = hold && backend.held_line != NULL;
}

int
zt_log_audit_flush(void)
{
	char *lines[ZT_LOG_HELD_MAX];
	unsigned n = backend.held;

	if (n == 0)
		return 0;
	backend.held = 0;
	for (unsigned i = 0; i < n; i++)
		lines[i] = backend.held_line[i];
	return sent(send_lines(lines, backend.held_len, n));
}

char *
zt_escape(char *dst, size_t size, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t out = 0, need, reserve, i;

	if (size < 8) {
		if (size > 0)
			dst[0] = '\0';
		return dst;
	}
	dst[out++] = '"';
	/* The bytes kept as they are, then what the rest becomes. */
	for (i = 0; i < len && (unsigned char)src[i] >= 0x20 &&
	    (unsigned char)src[i] <= 0x7e && src[i] != '"' && src[i] != '\\';
	    i++)
		;
	need = i;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		need += c == '"' || c == '\\' ? 2 : c < 0x20 || c > 0x7e ? 4 : 1;
	}
	/* Room for "..." is kept only when the whole input will not fit. */
	reserve = out + need + 2 <= size ? 0 : 3;
	if (need == len && reserve == 0) {
		/* Nothing to escape, all of it fits: one copy. */
		memcpy(dst + out, src, len);
		out += len;
		dst[out++] = '"';
		dst[out] = '\0';
		return dst;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		char token[4];
		size_t n;

		if (c == '"' || c == '\\') {
			token[0] = '\\';
			token[1] = (char)c;
			n = 2;
		} else if (c < 0x20 || c > 0x7e) {
			token[0] = '\\';
			token[1] = 'x';
			token[2] = hex[c >> 4];
			token[3] = hex[c & 0xf];
			n = 4;
		} else {
			token[0] = (char)c;
			n = 1;
		}
		/* Keep room for "..." if cut, the closing '"' and NUL. */
		if (out + n + reserve + 2 > size)
			break;
		memcpy(dst + out, token, n);
		out += n;
	}
	if (i < len) {
		memcpy(dst + out, "...", 3);
		out += 3;
	}
	dst[out++] = '"';
	dst[out] = '\0';
	return dst;
}

/*
 * The relay (zt_log_relay_start): a process that takes the lines from the
 * pipe RFD and sends them to the syslog socket (backend.fd), many at a
 * time.  When the pipe is empty it waits for it; once it has sent what
 * came, it sleeps ZT_LOG_RELAY_TICK_MS before it looks again, so that
 * lines written meanwhile wake nobody.  At the end of the pipe (every
 * writer gone: the daemon exited, or died) it sends the rest and exits.
 * Signals that stop a service are ignored: it ends at the end of the
 * pipe.
 */
#define RELAY_BUF 65536

static struct {
	int fd;				/* the pipe's read end */
	bool keep;			/* never drop while the daemon lives */
	int64_t give_up_ms;		/* after the end: drop from then on */
	unsigned long long lost;
} relay;

/* The pipe ended: the relay has ZT_LOG_RELAY_LINGER_MS left, from the
 * first time it is seen. */
static void
relay_linger(void)
{
	if (relay.give_up_ms == 0)
		relay.give_up_ms = zt_monotonic_ms() + ZT_LOG_RELAY_LINGER_MS;
}

/* Is every writer of the pipe gone (the daemon ended)?  From then on the
 * relay lingers. */
static bool
relay_writers_gone(void)
{
	struct pollfd pfd = { .fd = relay.fd, .events = 0 };

	if (relay.give_up_ms != 0)
		return true;
	if (poll(&pfd, 1, 0) < 0 || !(pfd.revents & (POLLHUP | POLLERR)))
		return false;
	relay_linger();
	return true;
}

/* May the relay drop a batch the receiver will not take now?  Not while
 * the daemon lives, if it must keep trying; once the daemon is gone, when
 * the linger is over. */
static bool
relay_may_drop(void)
{
	if (!relay_writers_gone())
		return !relay.keep;
	return zt_monotonic_ms() >= relay.give_up_ms;
}

static void
relay_ship(char *buf, size_t *have)
{
	char *lines[ZT_LOG_HELD_MAX];
	size_t lens[ZT_LOG_HELD_MAX], start = 0;
	unsigned n = 0;

	for (size_t i = 0; i <= *have; i++) {
		/* The next line's end: memchr, not a byte loop (the relay
		 * reads every byte of every line). */
		char *nl = memchr(buf + i, '\n', *have - i);
		bool end;

		i = nl != NULL ? (size_t)(nl - buf) : *have;
		end = i == *have;
		if (end || n == ZT_LOG_HELD_MAX) {
			unsigned done = 0;

			while (done < n) {
				unsigned went = 0;
				int r = send_socket_lines(lines + done,
				    lens + done, n - done, &went);
				bool retry = r == -EAGAIN ||
				    r == -ECONNREFUSED || r == -ENOENT ||
				    r == -ENOTCONN || r == -ENOBUFS;

				done += went;
				if (r == 0)
					break;
				if (!retry) {
					done++;		/* this one cannot go */
					relay.lost++;
				} else if (relay_may_drop()) {
					relay.lost += n - done;
					break;
				} else {
					backend.connected = 0;
					poll(NULL, 0, 100);
				}
			}
			n = 0;
			if (end)
				break;
		}
		lines[n] = buf + start;
		lens[n++] = i - start;
		start = i + 1;
	}
	/* An unfinished line waits for its end. */
	memmove(buf, buf + start, *have - start);
	*have -= start;
}

static void __attribute__((noreturn))
relay_main(int rfd)
{
	static char buf[RELAY_BUF];
	const struct timespec tick = { .tv_sec = 0,
	    .tv_nsec = ZT_LOG_RELAY_TICK_MS * 1000000L };
	int keep[2] = { rfd < backend.fd ? rfd : backend.fd,
	    rfd < backend.fd ? backend.fd : rfd };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	size_t have = 0;
	bool eof = false;

	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, "zt-log-relay", 0, 0, 0);
	/* A fair share of the CPU, without preempting the daemon when it
	 * wakes: its batches should not sit in front of an answer. */
	sched_setscheduler(0, SCHED_BATCH, &(struct sched_param){ 0 });
	/* Nothing of the daemon's but the pipe, the syslog socket and
	 * stderr (whoever waits for the daemon's stdout is not kept). */
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
	}
	if (keep[0] > 3)
		syscall(SYS_close_range, 3, keep[0] - 1, 0);
	if (keep[1] > keep[0] + 1)
		syscall(SYS_close_range, keep[0] + 1, keep[1] - 1, 0);
	syscall(SYS_close_range, keep[1] + 1, ~0u, 0);
	backend.relay_fd = -1;
	relay.fd = rfd;
	fcntl(rfd, F_SETFL, O_NONBLOCK);
	while (!eof || have > 0) {
		struct pollfd pfd = { .fd = rfd, .events = POLLIN };

		if (!eof && poll(&pfd, 1, -1) < 0 && errno != EINTR)
			eof = true;
		while (!eof && have < sizeof(buf)) {
			ssize_t r = read(rfd, buf + have, sizeof(buf) - have);

			if (r > 0)
				have += (size_t)r;
			else if (r == 0 || (errno != EAGAIN && errno != EINTR))
				eof = true;
			else if (errno == EAGAIN)
				break;
		}
		/* The linger starts (a read error ends the pipe too). */
		if (eof)
			relay_linger();
		if (eof && have > 0 && buf[have - 1] != '\n' &&
		    have < sizeof(buf))
			buf[have++] = '\n';	/* a writer died mid-line */
		relay_ship(buf, &have);
		if (eof)
			have = 0;		/* sent, or given up */
		else
			nanosleep(&tick, NULL);
	}
	if (relay.lost > 0)
		fprintf(stderr, "%s: log relay: %llu lines lost: the syslog "
		    "socket %s would not take them\n", backend.ident,
		    relay.lost, backend.addr.sun_path);
	_exit(0);
}

int
zt_log_relay_start(bool keep_trying)
{
	int p[2];
	pid_t pid;

	if (backend.fd < 0 || backend.relay_fd >= 0)
		return -EINVAL;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	/* Room for the lines of a long stall of the receiver (best effort:
	 * fs.pipe-max-size bounds it). */
	fcntl(p[1], F_SETPIPE_SZ, ZT_LOG_RELAY_PIPE);
	relay.keep = keep_trying;
	if ((pid = fork()) < 0) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0) {
		close(p[1]);
		relay_main(p[0]);
	}
	close(p[0]);
	if (fcntl(p[1], F_SETFL, O_NONBLOCK) < 0) {
		int e = errno;

		close(p[1]);
		return -e;
	}
	backend.relay_fd = p[1];
	backend.relay_pid = pid;
	return (int)pid;
}

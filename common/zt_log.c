/* SPDX-License-Identifier: Apache-2.0 */
/* The logging backend (syslog datagrams or stderr) and string escaping. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "zt_log.h"

/* The backend: the only mutable global state of a program besides flags. */
static struct {
	char ident[32];
	int fd;			/* syslog socket, or -1 for stderr only */
	int facility;
	int also_stderr;
	int unreachable;	/* said once on stderr, until it works again */
	struct sockaddr_un addr;
	socklen_t addr_len;
} backend = { .ident = "zt", .fd = -1, .facility = LOG_DAEMON, .also_stderr = 1 };

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

/* Send LINE; a full queue is waited for, up to about 100 ms. */
static int
send_line(const char *line, size_t len)
{
	for (int tries = 0;; tries++) {
		struct timespec pause = { 0, 1000000 };	/* 1 ms */

		if (sendto(backend.fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL,
		    (struct sockaddr *)&backend.addr, backend.addr_len) >= 0)
			return 0;
		if (errno != EAGAIN || tries >= 100)
			return -errno;
		nanosleep(&pause, NULL);
	}
}

static int
emit(int pri, const char *message)
{
	char line[ZT_LOG_LINE_MAX + 128];
	int n, r = 0;

	if (backend.fd >= 0) {
		char stamp[32];
		struct tm tm;
		time_t now = time(NULL);

		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "<%d>%s %s[%ld]: %s", pri,
		    stamp, backend.ident, (long)getpid(), message);
		if (n > 0 && (r = send_line(line, (size_t)n < sizeof(line) ?
		    (size_t)n : sizeof(line) - 1)) < 0) {
			if (backend.also_stderr && !backend.unreachable)
				fprintf(stderr, "%s: syslog socket %s "
				    "unreachable: %s\n", backend.ident,
				    backend.addr.sun_path, strerror(-r));
			backend.unreachable = 1;
		} else
			backend.unreachable = 0;
	}
	if (backend.fd < 0 || backend.also_stderr)
		fprintf(stderr, "%s: %s\n", backend.ident, message);
	return r;
}

static int log_with(int pri, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static int
log_with(int pri, const char *fmt, va_list ap)
{
	char message[ZT_LOG_LINE_MAX];
	int n;

	n = vsnprintf(message, sizeof(message), fmt, ap);
	if (n < 0)
		snprintf(message, sizeof(message), "(unprintable log message)");
	else if ((size_t)n >= sizeof(message))
		memcpy(message + sizeof(message) - 4, "...", 4);
	/* A newline in a log line would forge a second record. */
	for (char *p = message; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
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
zt_log_audit(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = log_with(LOG_AUTHPRIV | LOG_NOTICE, fmt, ap);
	va_end(ap);
	return r;
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
	/* Room for "..." is kept only when the whole input will not fit. */
	need = 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		need += c == '"' || c == '\\' ? 2 : c < 0x20 || c > 0x7e ? 4 : 1;
	}
	reserve = out + need + 2 <= size ? 0 : 3;
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

/* SPDX-License-Identifier: Apache-2.0 */
/* The one logging module: syslog datagrams for daemons, stderr for tools. */
#ifndef ZT_LOG_H
#define ZT_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* Longest line handed to the backend; longer ones are cut with "...". */
#define ZT_LOG_LINE_MAX 4096
/* Longest syslog head ("<PRI>stamp IDENT[PID]: ") before it. */
#define ZT_LOG_HEAD_MAX 128

/* Log to stderr as "IDENT: message".  The default backend. */
void zt_log_open_stderr(const char *ident);

/*
 * Log as RFC 3164 datagrams ("<PRI>Mmm dd hh:mm:ss IDENT[PID]: message")
 * sent to the unix datagram socket SOCKET_PATH (normally /dev/log).  When
 * ALSO_STDERR is set each line is written to stderr as well.  A socket that
 * is absent or full loses the line (and says so on stderr when ALSO_STDERR);
 * logging never blocks the caller.  Returns 0 or -errno from socket().
 */
int zt_log_open_syslog(const char *ident, const char *socket_path,
    int facility, int also_stderr);

/* Copy (or stop copying) syslog lines to stderr. */
void zt_log_set_stderr(int also_stderr);

/* Close the backend's socket, if any. */
void zt_log_close(void);

/* Log at PRIORITY (LOG_ERR ...) in the backend's default facility. */
void zt_log(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void zt_logv(int priority, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/*
 * Log one line, LEN bytes of TEXT (made already: no format), at LOG_NOTICE
 * with facility LOG_AUTHPRIV (audit records).
 * A full syslog queue is waited for (about 100 ms at most) rather than the
 * line dropped.  Returns 0, or -errno when the line could not be sent to
 * the syslog socket (the caller decides whether that denies).
 */
int zt_log_audit(const char *text, size_t len);

/* Audit lines held at most, before a flush of its own. */
#define ZT_LOG_HELD_MAX 64

/*
 * Group commit.  While held (HOLD true), zt_log_audit formats its line and
 * keeps it (returning 0, or the result of sending the full queue first);
 * zt_log_audit_flush hands every held line to the syslog socket in order,
 * in as few sendmmsg calls as its queue allows (a full queue waited for as
 * zt_log_audit does), and returns 0 or -errno when one could not be sent.
 * The caller flushes before anything that depends on those lines leaves
 * (an answer).  Single-threaded callers only.  The queue is allocated at
 * the first hold; without memory, lines are sent at once as before.
 */
void zt_log_audit_hold(bool hold);
int zt_log_audit_flush(void);

/*
 * The relay, for a busy daemon: a child process (named zt-log-relay) that
 * sends this process's syslog lines for it.  Every line is then written
 * to a pipe (one writev for a flush of held lines: handed to the kernel
 * in order, before the caller goes on), which wakes nobody while the
 * relay is busy; the relay sends what came in batches, at most
 * ZT_LOG_RELAY_TICK_MS after it came.  A batch the receiver will not
 * take (its queue full for 100 ms, or it is absent) is dropped, unless
 * KEEP_TRYING: then the relay tries again every 100 ms for as long as
 * this process lives, the pipe (ZT_LOG_RELAY_PIPE bytes where the system
 * allows) fills, and writers wait up to about 100 ms and fail.  When this
 * process ends or dies the relay sends what the pipe still holds, for at
 * most ZT_LOG_RELAY_LINGER_MS, and exits (saying on stderr how many lines
 * it lost, if any).  Should the relay be killed, lines go to the socket
 * directly again (what it held unsent is lost; said once).  Call after
 * zt_log_open_syslog, before threads that log.  Returns the relay's pid,
 * or -errno (then lines go directly, as before).
 */
#define ZT_LOG_RELAY_TICK_MS 2
#define ZT_LOG_RELAY_LINGER_MS 3000
#define ZT_LOG_RELAY_PIPE (1024 * 1024)
int zt_log_relay_start(bool keep_trying);

/*
 * Write SRC (LEN bytes; untrusted) into DST (SIZE bytes, at least 8) as one
 * double-quoted token: '"' and '\' are backslash-escaped, bytes outside
 * printable ASCII become \xHH, and input that does not fit is cut and ends
 * in "..." inside the quotes.  DST is always NUL-terminated.  Returns DST.
 */
char *zt_escape(char *dst, size_t size, const char *src, size_t len);

#endif

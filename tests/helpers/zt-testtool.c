/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper: a syslog sink, raw and scripted ztd clients, a faulty TPM,
 * a supervisor by hand (LAUNCH then SIGN, forged requests), forged
 * credentials, passed and orphaned connections, connection bursts. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <linux/capability.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zt_auditline.h"
#include "zt_client.h"
#include "zt_err.h"
#include "zt_msg.h"

/* How long a call waits for ztd's answer: a bound that only a hang
 * reaches (a loaded machine's answer comes well within it), not a
 * deadline a test measures. */
#define CALL_TIMEOUT_MS 30000

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* logsink SOCKET FILE: append every datagram received as one line. */
static int
logsink(const char *path, const char *out_path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct sigaction sa = { .sa_handler = on_signal };
	char buf[65536];
	FILE *out;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return 2;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("logsink: bind");
		return 2;
	}
	chmod(path, 0666);
	out = fopen(out_path, "a");
	if (out == NULL) {
		perror("logsink: open");
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stop) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		/* Raw bytes as received: a test can see a forged newline. */
		fwrite(buf, 1, (size_t)n, out);
		fputc('\n', out);
		fflush(out);
	}
	unlink(path);
	fclose(out);
	return 0;
}

/*
 * send SOCKET HEX [REPEAT]: send the bytes (HEX, with REPEAT copies of the
 * last byte appended, for oversized datagrams) and print the reply:
 * "error CODE NAME" for an ERROR reply, "reply TYPE" for another, "closed"
 * or "timeout".
 */
static int
send_raw(const char *path, const char *hex, long repeat)
{
	static uint8_t data[1 << 17];
	size_t len = 0, n = strlen(hex);
	struct zt_msg reply;
	struct pollfd pfd;
	uint32_t code;
	int fd, r;

	if (n % 2 != 0 || n / 2 > sizeof(data) ||
	    repeat < 0 || (size_t)repeat > sizeof(data) - n / 2)
		return 2;
	for (size_t i = 0; i < n; i += 2) {
		int hi = zt_hex_value(hex[i]), lo = zt_hex_value(hex[i + 1]);

		if (hi < 0 || lo < 0)
			return 2;
		data[len++] = (uint8_t)(hi << 4 | lo);
	}
	for (long i = 0; i < repeat; i++, len++)
		data[len] = len > 0 ? data[len - 1] : 0;
	fd = zt_client_connect(path);
	if (fd < 0) {
		printf("connect %s\n", zt_strerror(fd));
		return 1;
	}
	if (send(fd, data, len, MSG_NOSIGNAL) < 0) {
		printf("send %s\n", strerror(errno));
		return 1;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, 3000) <= 0) {
		printf("timeout\n");
		return 1;
	}
	r = zt_msg_recv(fd, &reply);
	if (r == ZT_E_CLOSED || r == -ECONNRESET) {
		printf("closed\n");
		return 1;
	}
	if (r < 0) {
		printf("undecodable %s\n", zt_strerror(r));
		return 1;
	}
	if (reply.type == ZT_MSG_ERROR &&
	    zt_msg_get_u32(&reply, ZT_F_CODE, &code) == 0) {
		printf("error %d %s\n", (int32_t)code, zt_strerror((int32_t)code));
		return 0;
	}
	printf("reply %s\n", zt_msg_type_name(reply.type));
	return 0;
}

/*
 * hold SOCKET N [byte]: open N connections, print "held N", wait for
 * SIGTERM.  byte: send one byte on each first (a slow client's first byte;
 * on a SOCK_SEQPACKET socket it is a whole message, and a bad one).
 */
static int
hold(const char *path, long count, bool one_byte)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGTERM, &sa, NULL);
	for (long i = 0; i < count; i++) {
		int fd = zt_client_connect(path);

		if (fd >= 0 && one_byte && send(fd, "Z", 1, MSG_NOSIGNAL) != 1)
			fd = -errno;
		if (fd < 0) {
			printf("failed after %ld: %s\n", i, zt_strerror(fd));
			fflush(stdout);
			break;
		}
	}
	printf("held %ld\n", count);
	fflush(stdout);
	while (!stop)
		pause();
	return 0;
}

/* idle SOCKET: connect, say nothing, print how long until ztd hangs up. */
static int
idle(const char *path)
{
	struct timespec start, end;
	struct pollfd pfd;
	char byte;
	int fd = zt_client_connect(path);

	if (fd < 0) {
		printf("connect %s\n", zt_strerror(fd));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, 10000) <= 0 || recv(fd, &byte, 1, 0) != 0) {
		printf("still open\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	printf("closed after %ld ms\n", (long)((end.tv_sec - start.tv_sec) *
	    1000 + (end.tv_nsec - start.tv_nsec) / 1000000));
	return 0;
}

static uint32_t request_id = 100;

/* The wire number of an action name (daemon/policy.h's enum action). */
static uint32_t
action_number(const char *name)
{
	static const char *const names[] = {
		"none", "session", "exec", "connect", "open", "syscall",
	};

	for (uint32_t i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return (uint32_t)strtoul(name, NULL, 10);
}

/* Print a DECISION reply as one line: "allow risk=R ttl=T: REASON". */
static void
print_decision(const struct zt_msg *reply)
{
	const char *reason = "", *grant = NULL;
	uint32_t decision = 0, risk = 0, ttl = 0, code;

	if (reply->type == ZT_MSG_ERROR &&
	    zt_msg_get_u32(reply, ZT_F_CODE, &code) == 0) {
		printf("error %d %s\n", (int32_t)code,
		    zt_strerror((int32_t)code));
		return;
	}
	zt_msg_get_u32(reply, ZT_F_DECISION, &decision);
	zt_msg_get_u32(reply, ZT_F_RISK, &risk);
	zt_msg_get_u32(reply, ZT_F_TTL_MS, &ttl);
	zt_msg_get_str(reply, ZT_F_REASON, &reason);
	if (zt_msg_get_str(reply, ZT_F_GRANT, &grant) < 0)
		grant = NULL;
	if (decision == ZT_DECISION_ALLOW)
		printf("allow risk=%s ttl=%u grant=%s: %s\n",
		    risk ? "high" : "low", ttl, grant ? grant : "-", reason);
	else
		printf("deny: %s\n", reason);
}

/* Print every pushed event waiting on FD. */
static void
drain_events(int fd)
{
	struct zt_msg m;

	while (zt_msg_recv(fd, &m) == 0) {
		const char *grant = "-", *reason = "";
		uint32_t event = 0;

		if (m.type != ZT_MSG_EVENT)
			continue;
		zt_msg_get_u32(&m, ZT_F_EVENT, &event);
		zt_msg_get_str(&m, ZT_F_GRANT, &grant);
		zt_msg_get_str(&m, ZT_F_REASON, &reason);
		printf("event %u %s: %s\n", event, grant, reason);
	}
}

/*
 * session SOCKET UID SERVICE: act as a PAM stack opening a session (this
 * process becomes the grant's supervisor), print "allow ... grant=ID" or
 * "deny: ...", then take commands on stdin, one answer line each:
 *   decide ACTION OBJECT    ask on the grant's behalf
 *   decide-nogrant ACTION OBJECT
 *   decide-pid PID ACTION OBJECT   on the grant's behalf, passing PID's
 *                           pidfd as the acting process
 *   close                   close the session (ends the grant)
 *   close-events            the same, printing "events ahead N, " (the
 *                           events that came ahead of the reply) first
 *   events                  print pushed events ("none" if there are none)
 *   report-quiet ACTION OBJECT TOKEN   the same with ZT_REPORT_NO_REPLY,
 *                           then a STATUS: prints "first answer: TYPE"
 *   report ACTION OBJECT TOKEN   a REPORT of one cache hit of OBJECT, with
 *                           TOKEN "last" (the token and end of the last
 *                           cacheable allow ztd sent), "none" (no token),
 *                           "garbage" (16 bytes of 0x42, the last end) or
 *                           "late" (the last token, its end moved on);
 *                           prints "report written=N" or "error ..."
 *   agent-pid PID           an AGENT_PID naming PID
 *   run ARGV...             run a command (words split at blanks, no
 *                           quoting) as this process's child, ZT_GRANT set
 *                           to the grant (as pam_zt sets it), its output
 *                           on ours; then "exit N"
 * and exit at end of input.
 */
/* session's "run": LINE (after "run ") as a child with ZT_GRANT=GRANT;
 * prints "exit N" (N: its status, or 128 + the signal). */
static void
run_child(char *line, const char *grant)
{
	char *argv[64], *save = NULL;
	int argc = 0, status = 0;
	pid_t pid;

	for (char *w = strtok_r(line, " \t", &save); w != NULL && argc < 63;
	    w = strtok_r(NULL, " \t", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	if (argc == 0) {
		printf("bad command\n");
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		setenv("ZT_GRANT", grant, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		printf("exit -1\n");
		return;
	}
	printf("exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status));
}

/* Build in REQUEST a REPORT for GRANT of one hit ACTION OBJECT (see
 * session's "report"). */
static int
build_report(struct zt_msg *request, const char *grant, const char *action,
    const char *object, const char *mode, const uint8_t *token,
    uint64_t until)
{
	static const uint8_t garbage[ZT_TOKEN_SIZE] = {
		0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
		0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
	};
	int r;

	if ((r = zt_msg_init(request, ZT_MSG_REPORT, request_id++)) < 0 ||
	    (r = zt_msg_put_str(request, ZT_F_GRANT, grant)) < 0 ||
	    (r = zt_msg_begin_record(request, ZT_F_RECORDS)) < 0 ||
	    (r = zt_msg_begin_record(request, ZT_F_RECORD)) < 0 ||
	    (r = zt_msg_put_u32(request, ZT_F_ACTION,
	    action_number(action))) < 0 ||
	    (r = zt_msg_put_str(request, ZT_F_OBJECT, object)) < 0 ||
	    (r = zt_msg_put_u32(request, ZT_F_AGE_MS, 5)) < 0)
		return r;
	if (strcmp(mode, "none") != 0 &&
	    ((r = zt_msg_put_bytes(request, ZT_F_TOKEN,
	    strcmp(mode, "garbage") == 0 ? garbage : token,
	    ZT_TOKEN_SIZE)) < 0 ||
	    (r = zt_msg_put_u64(request, ZT_F_CACHE_UNTIL,
	    strcmp(mode, "late") == 0 ? until + 3600000 : until)) < 0))
		return r;
	if ((r = zt_msg_end_record(request)) < 0 ||
	    (r = zt_msg_end_record(request)) < 0)
		return r;
	return 0;
}

/*
 * zt_client_call, counting into *EVENTS the pushed events that came ahead
 * of the reply (zt_client_call skips them unseen).
 */
static int
call_counting_events(int fd, const struct zt_msg *request,
    struct zt_msg *reply, unsigned *events)
{
	int r;

	*events = 0;
	if ((r = zt_client_send(fd, request, -1, 5000)) < 0)
		return r;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 5000) <= 0)
			return ZT_E_TIMEOUT;
		if ((r = zt_msg_recv(fd, reply)) < 0)
			return r;
		if (reply->type != ZT_MSG_EVENT || reply->request_id != 0)
			return 0;
		(*events)++;
	}
}

static int
session(const char *path, const char *uid_text, const char *service)
{
	char grant[64] = "", line[4200];
	struct zt_msg request, reply;
	uint8_t token[ZT_TOKEN_SIZE] = { 0 };
	uint64_t until = 0;
	const char *g;
	long pid;
	int fd, r, pidfd = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = zt_client_connect(path);
	if (fd < 0) {
		printf("connect %s\n", zt_strerror(fd));
		return 1;
	}
	zt_msg_init(&request, ZT_MSG_SESSION_OPEN, request_id++);
	zt_msg_put_u32(&request, ZT_F_UID, (uint32_t)strtoul(uid_text, NULL,
	    10));
	zt_msg_put_str(&request, ZT_F_SERVICE, service);
	if ((r = zt_client_call(fd, &request, &reply, CALL_TIMEOUT_MS)) < 0) {
		printf("call %s\n", zt_strerror(r));
		return 1;
	}
	print_decision(&reply);
	if (zt_msg_get_str(&reply, ZT_F_GRANT, &g) == 0)
		snprintf(grant, sizeof(grant), "%s", g);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char verb[32], action[32], object[4100];
		int n;

		line[strcspn(line, "\n")] = '\0';
		n = sscanf(line, "%31s %31s %4099s", verb, action, object);
		if (n < 1)
			continue;
		if (strcmp(verb, "events") == 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			if (poll(&pfd, 1, 200) > 0)
				drain_events(fd);
			else
				printf("none\n");
			continue;
		}
		if (strcmp(verb, "report-quiet") == 0 && n == 3 &&
		    sscanf(line, "%*s %*s %*s %15s", verb) == 1) {
			struct zt_msg status;
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			/* A REPORT that asks for no answer, then a STATUS:
			 * ztd answers in order, so the first answer read
			 * is the STATUS's when the REPORT got none. */
			if ((r = build_report(&request, grant, action, object,
			    verb, token, until)) < 0 ||
			    (r = zt_msg_put_u32(&request, ZT_F_FLAGS,
			    ZT_REPORT_NO_REPLY)) < 0 ||
			    (r = zt_msg_send(fd, &request)) < 0 ||
			    (r = zt_msg_init(&status, ZT_MSG_STATUS,
			    request_id++)) < 0 ||
			    (r = zt_msg_send(fd, &status)) < 0) {
				printf("send %s\n", zt_strerror(r));
				continue;
			}
			do {
				if (poll(&pfd, 1, 10000) <= 0 ||
				    (r = zt_msg_recv(fd, &reply)) < 0) {
					printf("no answer\n");
					break;
				}
			} while (reply.type == ZT_MSG_EVENT);
			if (r >= 0)
				printf("first answer: %s\n",
				    zt_msg_type_name(reply.type));
			continue;
		}
		if (strcmp(verb, "report") == 0 && n == 3 &&
		    sscanf(line, "%*s %*s %*s %15s", verb) == 1) {
			uint32_t count = 0, code = 0;

			if ((r = build_report(&request, grant, action, object,
			    verb, token, until)) < 0 ||
			    (r = zt_client_call(fd, &request, &reply,
			    5000)) < 0) {
				printf("call %s\n", zt_strerror(r));
				continue;
			}
			if (zt_msg_get_u32(&reply, ZT_F_CODE, &code) == 0)
				printf("error %d %s\n", (int32_t)code,
				    zt_strerror((int32_t)code));
			else {
				zt_msg_get_u32(&reply, ZT_F_COUNT, &count);
				printf("report written=%u\n", count);
			}
			continue;
		}
		if (strcmp(verb, "run") == 0 && n >= 2) {
			run_child(line + 4, grant);
			continue;
		}
		if (strcmp(verb, "close") == 0 ||
		    strcmp(verb, "close-events") == 0) {
			zt_msg_init(&request, ZT_MSG_SESSION_CLOSE,
			    request_id++);
			zt_msg_put_str(&request, ZT_F_GRANT, grant);
		} else if (strcmp(verb, "agent-pid") == 0 && n == 2) {
			zt_msg_init(&request, ZT_MSG_AGENT_PID, request_id++);
			zt_msg_put_str(&request, ZT_F_GRANT, grant);
			zt_msg_put_u32(&request, ZT_F_PID,
			    (uint32_t)strtoul(action, NULL, 10));
		} else if (strcmp(verb, "decide-pid") == 0 &&
		    sscanf(line, "%*s %ld %31s %4099s", &pid, action,
		    object) == 3) {
			/* decide-pid PID ACTION OBJECT: pass PID's pidfd. */
			pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
			if (pidfd < 0) {
				printf("pidfd_open %s\n", strerror(errno));
				continue;
			}
			zt_msg_init(&request, ZT_MSG_DECIDE, request_id++);
			zt_msg_put_u32(&request, ZT_F_ACTION,
			    action_number(action));
			zt_msg_put_str(&request, ZT_F_OBJECT, object);
			zt_msg_put_str(&request, ZT_F_GRANT, grant);
		} else if ((strcmp(verb, "decide") == 0 ||
		    strcmp(verb, "decide-nogrant") == 0) && n == 3) {
			zt_msg_init(&request, ZT_MSG_DECIDE, request_id++);
			zt_msg_put_u32(&request, ZT_F_ACTION,
			    action_number(action));
			zt_msg_put_str(&request, ZT_F_OBJECT, object);
			if (strcmp(verb, "decide") == 0)
				zt_msg_put_str(&request, ZT_F_GRANT, grant);
		} else {
			printf("bad command\n");
			continue;
		}
		if (strcmp(verb, "close-events") == 0) {
			unsigned events;

			/* close, and how many events came ahead of the
			 * reply on this connection */
			r = call_counting_events(fd, &request, &reply,
			    &events);
			if (r < 0)
				printf("call %s\n", zt_strerror(r));
			else
				printf("events ahead %u, ", events);
			if (r == 0)
				print_decision(&reply);
			continue;
		}
		r = zt_client_call_fd(fd, &request, pidfd, &reply, 5000);
		if (pidfd >= 0)
			close(pidfd);
		pidfd = -1;
		if (r < 0) {
			printf("call %s\n", zt_strerror(r));
			continue;
		}
		{
			const void *t;
			size_t size;

			/* The proof of the last cacheable allow, kept for
			 * "report". */
			if (zt_msg_get_bytes(&reply, ZT_F_TOKEN, &t,
			    &size) == 0 && size == sizeof(token) &&
			    zt_msg_get_u64(&reply, ZT_F_CACHE_UNTIL,
			    &until) == 0)
				memcpy(token, t, sizeof(token));
		}
		if (reply.type == ZT_MSG_REPORT_REPLY)
			printf("ok\n");
		else
			print_decision(&reply);
	}
	close(fd);
	return 0;
}

/* decide SOCKET GRANT ACTION OBJECT: one DECIDE from this process. */
static int
decide_once(const char *path, const char *grant, const char *action,
    const char *object)
{
	struct zt_msg request, reply;
	int fd, r;

	fd = zt_client_connect(path);
	if (fd < 0) {
		printf("connect %s\n", zt_strerror(fd));
		return 1;
	}
	zt_msg_init(&request, ZT_MSG_DECIDE, request_id++);
	zt_msg_put_u32(&request, ZT_F_ACTION, action_number(action));
	zt_msg_put_str(&request, ZT_F_OBJECT, object);
	if (strcmp(grant, "-") != 0)
		zt_msg_put_str(&request, ZT_F_GRANT, grant);
	if ((r = zt_client_call(fd, &request, &reply, CALL_TIMEOUT_MS)) < 0) {
		printf("call %s\n", zt_strerror(r));
		return 1;
	}
	print_decision(&reply);
	return 0;
}

/*
 * forge SOCKET launch|report|sign|decide GRANT|- [OBJECT [COUNT]]: what
 * only a supervisor (setgid zt-exec) may send, sent by this process: a
 * LAUNCH of OBJECT, a REPORT naming GRANT and this pid, a SIGN for GRANT
 * (a dummy CSR), a DECIDE on GRANT's behalf.  Prints "reply TYPE" or
 * "error TEXT"; with COUNT, sends it COUNT times on the one connection,
 * each answer read before the next (one request id), and prints the last
 * answer after "COUNT sent, N refused" (N: the answers that were errors).
 */
static int
forge(const char *path, const char *kind, const char *grant,
    const char *object, long count)
{
	long refused = 0;

	static const uint8_t csr[16] = { 0x30, 0x0e };
	struct zt_msg request, reply;
	const char *text = "";
	int fd, r = 0;

	if ((fd = zt_client_connect(path)) < 0) {
		printf("connect %s\n", zt_strerror(fd));
		return 1;
	}
	if (strcmp(kind, "launch") == 0) {
		zt_msg_init(&request, ZT_MSG_LAUNCH, request_id++);
		r = zt_msg_put_str(&request, ZT_F_OBJECT, object);
	} else if (strcmp(kind, "report") == 0) {
		/* One cache hit of OBJECT's exec, with no token. */
		zt_msg_init(&request, ZT_MSG_REPORT, request_id++);
		if ((r = zt_msg_put_str(&request, ZT_F_GRANT, grant)) < 0 ||
		    (r = zt_msg_begin_record(&request, ZT_F_RECORDS)) < 0 ||
		    (r = zt_msg_begin_record(&request, ZT_F_RECORD)) < 0 ||
		    (r = zt_msg_put_u32(&request, ZT_F_ACTION,
		    action_number("exec"))) < 0 ||
		    (r = zt_msg_put_str(&request, ZT_F_OBJECT, object)) < 0 ||
		    (r = zt_msg_put_u32(&request, ZT_F_AGE_MS, 1)) < 0 ||
		    (r = zt_msg_end_record(&request)) < 0)
			;
		else
			r = zt_msg_end_record(&request);
	} else if (strcmp(kind, "sign") == 0) {
		zt_msg_init(&request, ZT_MSG_SIGN, request_id++);
		if ((r = zt_msg_put_str(&request, ZT_F_GRANT, grant)) == 0)
			r = zt_msg_put_bytes(&request, ZT_F_CSR, csr,
			    sizeof(csr));
	} else if (strcmp(kind, "decide") == 0) {
		zt_msg_init(&request, ZT_MSG_DECIDE, request_id++);
		if ((r = zt_msg_put_u32(&request, ZT_F_ACTION,
		    action_number("exec"))) == 0 &&
		    (r = zt_msg_put_str(&request, ZT_F_OBJECT, object)) == 0)
			r = zt_msg_put_str(&request, ZT_F_GRANT, grant);
	} else if (strcmp(kind, "launch-decide") == 0) {
		/* LAUNCH OBJECT, then DECIDE on the new grant naming process
		 * GRANT (a pid here) as the actor: ztd must check it is of
		 * the grant. */
		const char *g;
		char id[64];

		zt_msg_init(&request, ZT_MSG_LAUNCH, request_id++);
		if ((r = zt_msg_put_str(&request, ZT_F_OBJECT, object)) < 0 ||
		    (r = zt_client_call(fd, &request, &reply, CALL_TIMEOUT_MS)) < 0 ||
		    zt_msg_get_str(&reply, ZT_F_GRANT, &g) < 0) {
			printf("launch failed\n");
			print_decision(&reply);
			return 1;
		}
		snprintf(id, sizeof(id), "%s", g);
		zt_msg_init(&request, ZT_MSG_DECIDE, request_id++);
		if ((r = zt_msg_put_u32(&request, ZT_F_ACTION,
		    action_number("exec"))) < 0 ||
		    (r = zt_msg_put_str(&request, ZT_F_OBJECT, object)) < 0 ||
		    (r = zt_msg_put_str(&request, ZT_F_GRANT, id)) < 0 ||
		    (r = zt_msg_put_u32(&request, ZT_F_PID,
		    (uint32_t)strtoul(grant, NULL, 10))) < 0 ||
		    (r = zt_client_call(fd, &request, &reply, CALL_TIMEOUT_MS)) < 0) {
			printf("call %s\n", zt_strerror(r));
			return 1;
		}
		print_decision(&reply);
		close(fd);
		return 0;
	} else {
		fprintf(stderr, "forge: launch|report|sign|decide|"
		    "launch-decide\n");
		return 2;
	}
	for (long i = 0; i < count; i++) {
		if (r < 0 || (r = zt_client_call(fd, &request, &reply,
		    CALL_TIMEOUT_MS)) < 0) {
			printf("call %s\n", zt_strerror(r));
			return 1;
		}
		refused += reply.type == ZT_MSG_ERROR;
	}
	if (count > 1)
		printf("%ld sent, %ld refused\n", count, refused);
	if (reply.type == ZT_MSG_ERROR) {
		zt_client_reply_error(&reply, ZT_MSG_ERROR + 1000, &text);
		printf("error %s\n", text);
	} else
		printf("reply %s\n", zt_msg_type_name(reply.type));
	close(fd);
	return 0;
}

/* The whole of the file PATH into BUF (at most SIZE bytes); its size or -1. */
static ssize_t
read_file(const char *path, uint8_t *buf, size_t size)
{
	FILE *f = fopen(path, "rbe");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, size, f);
	fclose(f);
	return n < size ? (ssize_t)n : -1;
}

/*
 * sign SOCKET BINARY CSR CERT HOLD: what zt-exec does for a tunnel, by
 * hand: LAUNCH (as the agent's account, BINARY its binary), then SIGN with
 * the DER request in the file CSR.  Prints "grant=ID" and then
 * "sign=ok serial=HEX not_after=T expires_ms=N" (the DER certificate
 * written to CERT) or "sign=refused code=NAME text=...", then keeps the
 * connection (and so the grant) for HOLD seconds or until SIGTERM.
 */
static int
sign(const char *path, const char *binary, const char *csr_path,
    const char *cert_path, long hold)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct zt_msg *m = calloc(2, sizeof(*m));
	const char *grant = NULL, *text = "", *serial = "";
	uint8_t csr[4096];
	const void *der;
	uint64_t not_after = 0, expires = 0;
	uint32_t decision = 0;
	ssize_t csr_size;
	size_t der_size;
	int fd, r;
	FILE *out;

	csr_size = read_file(csr_path, csr, sizeof(csr));
	if (m == NULL || csr_size <= 0) {
		fprintf(stderr, "sign: cannot read %s\n", csr_path);
		return 2;
	}
	fd = zt_client_connect(path);
	if (fd < 0) {
		printf("connect %s\n", zt_strerror(fd));
		return 1;
	}
	zt_msg_init(&m[0], ZT_MSG_LAUNCH, 1);
	zt_msg_put_str(&m[0], ZT_F_OBJECT, binary);
	if ((r = zt_client_call(fd, &m[0], &m[1], CALL_TIMEOUT_MS)) < 0 ||
	    (r = zt_client_reply_error(&m[1], ZT_MSG_DECISION, &text)) != 0 ||
	    zt_msg_get_u32(&m[1], ZT_F_DECISION, &decision) < 0 ||
	    decision != ZT_DECISION_ALLOW ||
	    zt_msg_get_str(&m[1], ZT_F_GRANT, &grant) < 0) {
		zt_msg_get_str(&m[1], ZT_F_REASON, &text);
		printf("launch=refused code=%s text=%s\n", zt_strerror(r), text);
		return 1;
	}
	printf("grant=%s\n", grant);
	zt_msg_init(&m[0], ZT_MSG_SIGN, 2);
	zt_msg_put_str(&m[0], ZT_F_GRANT, grant);
	zt_msg_put_bytes(&m[0], ZT_F_CSR, csr, (size_t)csr_size);
	if ((r = zt_client_call(fd, &m[0], &m[1], CALL_TIMEOUT_MS)) < 0 ||
	    (r = zt_client_reply_error(&m[1], ZT_MSG_SIGN_REPLY, &text)) != 0)
		printf("sign=refused code=%s text=%s\n", zt_strerror(r), text);
	else {
		zt_msg_get_bytes(&m[1], ZT_F_CERT, &der, &der_size);
		zt_msg_get_str(&m[1], ZT_F_SERIAL, &serial);
		zt_msg_get_u64(&m[1], ZT_F_NOT_AFTER, &not_after);
		zt_msg_get_u64(&m[1], ZT_F_EXPIRES_MS, &expires);
		out = fopen(cert_path, "wbe");
		if (out == NULL || fwrite(der, 1, der_size, out) != der_size ||
		    fclose(out) != 0) {
			perror("sign: write");
			return 2;
		}
		printf("sign=ok serial=%s not_after=%llu expires_ms=%llu\n",
		    serial, (unsigned long long)not_after,
		    (unsigned long long)expires);
	}
	fflush(stdout);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stop && hold-- > 0)
		sleep(1);
	close(fd);
	free(m);
	return r == 0 ? 0 : 1;
}

/* stale SOCKET: bind a SOCK_SEQPACKET socket there and exit (no listener). */
static int
stale(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return 2;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("stale: bind");
		return 2;
	}
	return 0;
}

/*
 * listen ADDR PORT LOG: a TCP listener on loopback that echoes one line per
 * connection and appends "accepted" to LOG for each one (a test asserts a
 * forbidden destination was never reached by LOG staying empty).
 */
static int
listen_echo(const char *addr, const char *port, const char *log_path)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd, one = 1;

	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)atoi(port));
		if (inet_pton(AF_INET6, addr, &in6->sin6_addr) != 1)
			return 2;
		len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)atoi(port));
		if (inet_pton(AF_INET, addr, &in->sin_addr) != 1)
			return 2;
		len = sizeof(*in);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(fd, 128) < 0) {
		perror("listen");
		return 2;
	}
	for (;;) {
		char buf[512];
		ssize_t n;
		FILE *log;
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0)
			continue;
		if ((log = fopen(log_path, "a")) != NULL) {
			fputs("accepted\n", log);
			fclose(log);
		}
		{
			struct timeval tv = { .tv_sec = 1 };

			setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		}
		n = recv(c, buf, sizeof(buf), 0);
		if (n > 0)
			send(c, buf, (size_t)n, MSG_NOSIGNAL);
		close(c);
	}
	return 0;
}

/* ------------------------------------------------ identity and load (12, 14) */

/* Become UID (its passwd group, no supplementary groups); KEEP: keep the
 * permitted capabilities across the change (PR_SET_KEEPCAPS). */
static int
become(uid_t uid, bool keep)
{
	struct passwd *pw = getpwuid(uid);
	gid_t gid = pw != NULL ? pw->pw_gid : (gid_t)uid;

	if (uid == 0)
		return 0;
	if ((keep && prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0) ||
	    setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		perror("become");
		return -1;
	}
	return 0;
}

/* Set the effective (and permitted) capability set to MASK (bits of the
 * first 32 capabilities). */
static int
set_caps(uint32_t mask)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2] = {
		{ .effective = mask, .permitted = mask },
	};

	return (int)syscall(SYS_capset, &h, d);
}

static void print_answer(int fd, const char *what);

/* Send one STATUS on FD with SCM_CREDENTIALS claiming UID, GID, PID (none
 * when PID is 0) and print the answer after WHAT: "sendmsg ERRNO-NAME" when
 * the kernel refuses, else the reply as "reply TYPE" / "error CODE TEXT". */
static void
status_with_creds(int fd, const char *what, pid_t pid, uid_t uid, gid_t gid)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct zt_msg request;
	struct ucred cred = { .pid = pid, .uid = uid, .gid = gid };
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;

	zt_msg_init(&request, ZT_MSG_STATUS, request_id++);
	iov.iov_base = request.wire;
	iov.iov_len = request.size;
	if (pid != 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_CREDENTIALS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(cred));
		memcpy(CMSG_DATA(cmsg), &cred, sizeof(cred));
	}
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0) {
		printf("%s: sendmsg %s\n", what, errno == EPERM ? "EPERM" :
		    strerror(errno));
		return;
	}
	print_answer(fd, what);
}

/* Read the answer on FD and print it after WHAT: "reply TYPE", "error
 * CODE TEXT", "recv ERROR" or "timeout" (10 s). */
static void
print_answer(int fd, const char *what)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct zt_msg reply;
	uint32_t code;
	int r;

	if (poll(&pfd, 1, 10000) <= 0) {
		printf("%s: timeout\n", what);
		return;
	}
	if ((r = zt_msg_recv(fd, &reply)) < 0)
		printf("%s: recv %s\n", what, zt_strerror(r));
	else if (reply.type == ZT_MSG_ERROR &&
	    zt_msg_get_u32(&reply, ZT_F_CODE, &code) == 0)
		printf("%s: error %d %s\n", what, (int32_t)code,
		    zt_strerror((int32_t)code));
	else
		printf("%s: reply %s\n", what, zt_msg_type_name(reply.type));
}

/*
 * credforge SOCKET UID (as root): become UID keeping CAP_SETUID,
 * CAP_SETGID and CAP_SYS_ADMIN (what lets the kernel pass credentials
 * other than one's own), connect, and send STATUS claiming uid 0, gid 0,
 * pid 1 ("capable forged"); then drop every capability and try again
 * ("forged uid", "forged pid": the kernel refuses), then with this
 * process's own credentials ("own").  Prints "pid PID" first.
 */
static int
credforge(const char *path, uid_t uid)
{
	const uint32_t forging = 1u << CAP_SETUID | 1u << CAP_SETGID |
	    1u << CAP_SYS_ADMIN;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (uid == 0 || become(uid, true) < 0 || set_caps(forging) < 0) {
		perror("credforge: capabilities");
		return 2;
	}
	if ((fd = zt_client_connect(path)) < 0) {
		printf("connect %s\n", zt_strerror(fd));
		return 1;
	}
	printf("pid %d uid %u\n", (int)getpid(), (unsigned)getuid());
	status_with_creds(fd, "capable forged uid=0 pid=1", 1, 0, 0);
	if (set_caps(0) < 0) {
		perror("credforge: drop capabilities");
		return 2;
	}
	status_with_creds(fd, "forged uid=0", getpid(), 0, 0);
	status_with_creds(fd, "forged pid=1", 1, getuid(), getgid());
	/* ztd closed the connection the forged message came on. */
	close(fd);
	if ((fd = zt_client_connect(path)) < 0) {
		printf("connect again %s\n", zt_strerror(fd));
		return 1;
	}
	status_with_creds(fd, "own", getpid(), getuid(), getgid());
	status_with_creds(fd, "none", 0, 0, 0);
	close(fd);
	return 0;
}

/*
 * dropuid SOCKET UID (as root): connect, STATUS ("before: ..."), then give
 * up root for UID in place (no fork, no exec) and STATUS again on the same
 * connection ("after: ...").
 */
static int
dropuid(const char *path, uid_t uid)
{
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((fd = zt_client_connect(path)) < 0) {
		printf("connect %s\n", zt_strerror(fd));
		return 1;
	}
	printf("pid %d\n", (int)getpid());
	status_with_creds(fd, "before", 0, 0, 0);
	if (uid == 0 || become(uid, false) < 0) {
		perror("dropuid: become");
		return 2;
	}
	status_with_creds(fd, "after", 0, 0, 0);
	close(fd);
	return 0;
}

/* One DECIDE without a grant (a process asking about itself) on FD;
 * prints WHAT and the decision. */
static void
decide_on(int fd, const char *what, const char *action, const char *object)
{
	struct zt_msg request, reply;
	int r;

	zt_msg_init(&request, ZT_MSG_DECIDE, request_id++);
	zt_msg_put_u32(&request, ZT_F_ACTION, action_number(action));
	zt_msg_put_str(&request, ZT_F_OBJECT, object);
	printf("%s: ", what);
	if ((r = zt_client_call(fd, &request, &reply, CALL_TIMEOUT_MS)) < 0)
		printf("call %s\n", zt_strerror(r));
	else
		print_decision(&reply);
}

/*
 * Fork a child that becomes UID, connects to PATH, asks DECIDE ACTION
 * OBJECT about itself (unless ACTION is NULL), passes the connection to
 * this process (SCM_RIGHTS, as the codec sends it) and then, if LINGER,
 * waits for this process to close *LINK before it exits.  Returns the
 * connection (CHILD set, *LINK this end of the pair) or -1.
 */
static int
connect_in_child(const char *path, uid_t uid, const char *action,
    const char *object, bool linger, pid_t *child, int *link)
{
	struct zt_msg m;
	char byte;
	int sp[2], fd;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 ||
	    (*child = fork()) < 0)
		return -1;
	if (*child == 0) {
		close(sp[0]);
		if (become(uid, false) < 0)
			_exit(2);
		if ((fd = zt_client_connect(path)) < 0) {
			printf("connect %s\n", zt_strerror(fd));
			_exit(1);
		}
		if (action != NULL)
			decide_on(fd, "first", action, object);
		zt_msg_init(&m, ZT_MSG_STATUS, 0);
		if (zt_msg_send_fd(sp[1], &m, fd) < 0)
			_exit(2);
		close(fd);
		if (linger && read(sp[1], &byte, 1) < 0)
			_exit(2);
		_exit(0);
	}
	close(sp[1]);
	*link = sp[0];
	if (zt_msg_recv_fd(sp[0], &m, &fd) < 0)
		fd = -1;
	return fd;
}

/*
 * handoff SOCKET CONNECT_UID SEND_UID (as root): a child becomes
 * CONNECT_UID, connects, passes the connection (SCM_RIGHTS) to this
 * process and waits; this process becomes SEND_UID and sends STATUS on
 * it.  Prints "connector PID" and "status: reply TYPE" / "status: error
 * CODE TEXT".
 */
static int
handoff(const char *path, uid_t connect_uid, uid_t send_uid)
{
	int link = -1, fd, status;
	pid_t child = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The connector stays alive until the request is answered: this is
	 * about who holds the descriptor, not about the connector exiting. */
	fd = connect_in_child(path, connect_uid, NULL, NULL, true, &child,
	    &link);
	if (child < 0)
		return 2;
	printf("connector %d\n", (int)child);
	if (fd >= 0 && become(send_uid, false) == 0)
		status_with_creds(fd, "status", 0, 0, 0);
	else
		printf("no descriptor passed\n");
	close(link);		/* the connector exits */
	waitpid(child, &status, 0);
	if (fd >= 0)
		close(fd);
	return fd >= 0 ? 0 : 1;
}

/*
 * orphan SOCKET UID ACTION OBJECT (as root, this binary being an agent's):
 * a child becomes UID, connects and asks DECIDE about itself ("first"),
 * passes the connection to this process and exits; this process reaps it,
 * then makes a new process of UID running this same binary take the
 * child's pid (through ns_last_pid, a few tries), and asks again on the
 * connection ("second").  Prints "reused PID yes|no" between the two.
 */
static int
orphan(const char *path, uid_t uid, const char *action, const char *object)
{
	int link = -1, hold[2], fd, status, tries;
	pid_t child = -1, again = -1;
	char byte;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = connect_in_child(path, uid, action, object, false, &child, &link);
	if (child < 0)
		return 2;
	close(link);
	waitpid(child, &status, 0);	/* reaped: its pid is free */
	if (fd < 0) {
		printf("no descriptor passed\n");
		return 1;
	}
	for (tries = 0; tries < 100; tries++) {
		FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");

		if (pipe2(hold, O_CLOEXEC) < 0)
			return 2;
		if (f != NULL) {
			fprintf(f, "%d", (int)child - 1);
			fclose(f);
		}
		if ((again = fork()) < 0)
			return 2;
		if (again == 0) {
			/* The same binary, the same uid, the old pid: it
			 * asks on the old connection (the connector's pid,
			 * not the connector), once let go. */
			close(hold[1]);
			if (become(uid, false) < 0)
				_exit(2);
			if (read(hold[0], &byte, 1) == 1 && getpid() == child)
				decide_on(fd, "second", action, object);
			_exit(0);
		}
		close(hold[0]);
		if (again == child)
			break;
		close(hold[1]);
		waitpid(again, &status, 0);
	}
	printf("reused %d %s\n", (int)child, again == child ? "yes" : "no");
	/* Let the new process finish becoming UID before ztd looks. */
	usleep(200000);
	if (again == child) {
		if (write(hold[1], "g", 1) != 1)
			return 2;
		close(hold[1]);
		waitpid(again, &status, 0);
	}
	/* This process asking on it: not the connector at all. */
	decide_on(fd, "parent", action, object);
	close(fd);
	return 0;
}

/*
 * cycle SOCKET UID (as root): a child (root) connects to SOCKET, sends
 * nothing, passes the connection to this process and exits.  This process
 * reaps it, becomes UID and, unprivileged, forks until one of its children
 * gets the connector's pid (pid_max is small: no privilege needed), which
 * sends STATUS on the connection.  Prints "connector PID", "sending" (as
 * that child sends), "reused PID yes|no" and "status: reply TYPE" /
 * "status: error CODE TEXT".
 */
static int
cycle(const char *path, uid_t uid)
{
	int link = -1, fd, status;
	pid_t child = -1, again = -1;
	long tries;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = connect_in_child(path, 0, NULL, NULL, false, &child, &link);
	if (child < 0)
		return 2;
	close(link);
	waitpid(child, &status, 0);	/* reaped: its pid is free */
	printf("connector %d\n", (int)child);
	if (fd < 0) {
		printf("no descriptor passed\n");
		return 1;
	}
	if (become(uid, false) < 0)
		return 2;
	for (tries = 0; tries < 4L * 4194304; tries++) {
		if ((again = fork()) < 0)
			continue;	/* the pid space is busy: try on */
		if (again == 0) {
			if (getpid() == child) {
				printf("sending\n");
				status_with_creds(fd, "status", 0, 0, 0);
				_exit(0);
			}
			_exit(0);
		}
		waitpid(again, &status, 0);
		if (again == child)
			break;
	}
	printf("reused %d %s\n", (int)child, again == child ? "yes" : "no");
	close(fd);
	return again == child ? 0 : 1;
}

/*
 * late SOCKET [live] (as root, ztd stopped by the caller): a child
 * connects to SOCKET, sends STATUS, passes the connection to this process
 * and exits.  This process reaps it, prints "connector PID" and "reaped"
 * (the caller then lets ztd go on), and reads the answer to the message of
 * the process that is gone: "late: reply TYPE" / "late: error CODE TEXT".
 * With live, before "reaped" this process also sends STATUS on a
 * connection of its own, so that ztd reads both messages in one pass, and
 * then prints that answer too ("live: ...").
 */
static int
late(const char *path, bool with_live)
{
	struct zt_msg m;
	int sp[2], fd, status, live = -1;
	pid_t child;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 ||
	    (child = fork()) < 0)
		return 2;
	if (child == 0) {
		close(sp[0]);
		if ((fd = zt_client_connect(path)) < 0)
			_exit(1);
		zt_msg_init(&m, ZT_MSG_STATUS, request_id++);
		if (zt_msg_send(fd, &m) < 0 || zt_msg_send_fd(sp[1], &m, fd) < 0)
			_exit(2);
		_exit(0);
	}
	close(sp[1]);
	if (zt_msg_recv_fd(sp[0], &m, &fd) < 0)
		fd = -1;
	close(sp[0]);
	waitpid(child, &status, 0);	/* reaped: no process is its sender */
	printf("connector %d\n", (int)child);
	if (fd < 0) {
		printf("no descriptor passed\n");
		return 1;
	}
	if (with_live && ((live = zt_client_connect(path)) < 0 ||
	    zt_msg_init(&m, ZT_MSG_STATUS, request_id++) < 0 ||
	    zt_msg_send(live, &m) < 0)) {
		printf("live: cannot send\n");
		return 1;
	}
	printf("reaped\n");
	print_answer(fd, "late");
	close(fd);
	if (live >= 0) {
		print_answer(live, "live");
		close(live);
	}
	return 0;
}

/*
 * burst SOCKET N [HOLD]: open N connections as fast as they go, sending a
 * STATUS on each, and print "accepted A refused R failed F silent S": A
 * answered (anything but "daemon busy"), R refused with ZT_E_BUSY, F whose
 * connect failed or that were closed without an answer, S with no answer
 * in 20 s.  HOLD: keep the connections
 * and wait for SIGTERM after printing.
 */
static int
burst(const char *path, long count, bool keep)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct rlimit rl;
	struct zt_msg request, reply;
	struct pollfd *pfd;
	long accepted = 0, refused = 0, failed = 0, silent = 0, waiting = 0;
	int64_t deadline;
	uint32_t code;
	int r;

	if (count <= 0 || count > 100000 ||
	    (pfd = calloc((size_t)count, sizeof(*pfd))) == NULL)
		return 2;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sigaction(SIGTERM, &sa, NULL);
	zt_msg_init(&request, ZT_MSG_STATUS, request_id++);
	for (long i = 0; i < count; i++) {
		int fd = -1;

		/* A full backlog (EAGAIN): ztd is behind, try again. */
		for (int t = 0; t < 2000; t++) {
			fd = zt_client_connect(path);
			if (fd != ZT_E_BUSY)
				break;
			usleep(1000);
		}
		pfd[i].fd = -1;
		if (fd < 0) {
			failed++;
			continue;
		}
		/* Refused before it spoke (EPIPE): the reason is queued. */
		if ((r = zt_msg_send(fd, &request)) < 0 && r != -EPIPE &&
		    r != -ECONNRESET) {
			close(fd);
			failed++;
			continue;
		}
		pfd[i] = (struct pollfd){ .fd = fd, .events = POLLIN };
		waiting++;
	}
	deadline = zt_monotonic_ms() + 20000;
	while (waiting > 0 && zt_monotonic_ms() < deadline) {
		if (poll(pfd, (nfds_t)count, 500) <= 0)
			continue;
		for (long i = 0; i < count; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			/* A reset (ztd closed with our request unread) comes
			 * ahead of the reply it sent: read on past it. */
			if ((r = zt_msg_recv(pfd[i].fd, &reply)) == -ECONNRESET)
				r = zt_msg_recv(pfd[i].fd, &reply);
			if (r < 0)
				failed++;	/* closed without a word */
			else if (reply.type == ZT_MSG_ERROR &&
			    zt_msg_get_u32(&reply, ZT_F_CODE, &code) == 0 &&
			    (int32_t)code == ZT_E_BUSY)
				refused++;
			else
				accepted++;
			waiting--;
			/* Answered: stop polling it (kept open if HOLD). */
			if (!keep)
				close(pfd[i].fd);
			pfd[i].fd = -pfd[i].fd - 2;
		}
	}
	silent = waiting;
	printf("accepted %ld refused %ld failed %ld silent %ld\n", accepted,
	    refused, failed, silent);
	fflush(stdout);
	while (keep && !stop)
		pause();
	return 0;
}

/*
 * spam SOCKET TYPE N: on one connection, N requests of message type TYPE
 * (a number; no fields), each sent once the previous one's answer came,
 * for 20 s at most; print "answered A closed C ms T" (C: 1 when ztd hung
 * up, whereupon it stops).  A peer that asks what it may not, over and
 * over.
 */
static int
spam(const char *path, unsigned type, long count)
{
	struct zt_msg request, reply;
	long answered = 0;
	int closed = 0, fd, r;
	int64_t start = zt_monotonic_ms();

	if (count <= 0 || type == 0 || type >= 256)
		return 2;
	if ((fd = zt_client_connect_within(path, 10000)) < 0) {
		printf("connect %s\n", zt_strerror(fd));
		return 1;
	}
	for (long i = 0; i < count && zt_monotonic_ms() - start < 20000;
	    i++) {
		zt_msg_init(&request, type, request_id++);
		r = zt_client_call(fd, &request, &reply, 10000);
		if (r < 0) {
			closed = 1;
			break;
		}
		answered++;
	}
	printf("answered %ld closed %d ms %lld\n", answered, closed,
	    (long long)(zt_monotonic_ms() - start));
	close(fd);
	return 0;
}

/*
 * flood SOCKET SECONDS [wait]: connect and close at once, over and over,
 * for SECONDS; print "connected C busy B failed F": a local user filling
 * ztd's listen backlog.  wait: each connect waits for room in the
 * kernel's line (zt_client_connect_within) instead of trying again.
 */
static int
flood(const char *path, long seconds, bool wait)
{
	long connected = 0, busy = 0, failed = 0;
	int64_t end = zt_monotonic_ms() + seconds * 1000;

	if (seconds <= 0 || seconds > 600)
		return 2;
	while (zt_monotonic_ms() < end) {
		int fd = wait ? zt_client_connect_within(path, 1000) :
		    zt_client_connect(path);

		if (fd >= 0) {
			connected++;
			close(fd);
		} else if (fd == ZT_E_BUSY)
			busy++;
		else
			failed++;
	}
	printf("connected %ld busy %ld failed %ld\n", connected, busy,
	    failed);
	return 0;
}

/* ------------------------------------------------------------ tpmproxy */

#define TPM_HEADER 10
#define TPM_CC_QUOTE 0x158u
#define TPM_RC_RETRY 0x922u
#define TPM_MESSAGE_MAX 8192
#define PROXY_PAIRS 16

static int
tcp_listen_loopback(unsigned port)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&in, sizeof(in)) < 0 ||
	    listen(fd, 16) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
tcp_connect_loopback(unsigned port)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&in, sizeof(in)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool
read_full(int fd, uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = read(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

static bool
write_full(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* One TPM command or response: a 10-byte header whose bytes 2..5 are the
 * whole size (big-endian), then the rest.  Returns its size, or 0. */
static size_t
read_tpm_message(int fd, uint8_t *buf)
{
	size_t size;

	if (!read_full(fd, buf, TPM_HEADER))
		return 0;
	size = (size_t)buf[2] << 24 | (size_t)buf[3] << 16 |
	    (size_t)buf[4] << 8 | buf[5];
	if (size < TPM_HEADER || size > TPM_MESSAGE_MAX ||
	    !read_full(fd, buf + TPM_HEADER, size - TPM_HEADER))
		return 0;
	return size;
}

static void
proxy_log(const char *path, const char *what)
{
	FILE *log = fopen(path, "a");

	if (log != NULL) {
		fprintf(log, "%s\n", what);
		fclose(log);
	}
}

/*
 * tpmproxy PORT UPSTREAM MODEFILE LOG: a TPM in front of swtpm's port pair
 * UPSTREAM, UPSTREAM+1, served on PORT, PORT+1 (the control channel passed
 * as it is).  Before each command it reads MODEFILE:
 *   pass       every command and answer passed unchanged
 *   retry K    the next K answers to TPM2_Quote become TPM_RC_RETRY (the
 *              command ran: swtpm quoted, the answer is replaced)
 *   lose       a TPM2_Quote is sent to swtpm, and then the connection is
 *              cut before its answer (the TPM lost mid-quote)
 * Appends "retry" or "lost" to LOG for each answer replaced or cut.
 */
static int
tpmproxy(const char *port_text, const char *upstream_text,
    const char *mode_path, const char *log_path)
{
	unsigned port = (unsigned)strtoul(port_text, NULL, 10);
	unsigned upstream = (unsigned)strtoul(upstream_text, NULL, 10);
	struct sigaction sa = { .sa_handler = on_signal };
	struct {
		int client, server;
		bool control;
	} pairs[PROXY_PAIRS];
	size_t n_pairs = 0;
	char mode[64] = "", last_mode[64] = "";
	long retried = 0;
	int listeners[2];
	static uint8_t buf[TPM_MESSAGE_MAX];

	sigaction(SIGTERM, &sa, NULL);
	listeners[0] = tcp_listen_loopback(port);
	listeners[1] = tcp_listen_loopback(port + 1);
	if (listeners[0] < 0 || listeners[1] < 0) {
		perror("tpmproxy: listen");
		return 2;
	}
	printf("listening\n");
	fflush(stdout);
	while (!stop) {
		struct pollfd pfd[2 + 2 * PROXY_PAIRS];
		size_t n = 0;

		pfd[n++] = (struct pollfd){ .fd = listeners[0], .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = listeners[1], .events = POLLIN };
		for (size_t i = 0; i < n_pairs; i++) {
			pfd[n++] = (struct pollfd){ .fd = pairs[i].client,
			    .events = POLLIN };
			pfd[n++] = (struct pollfd){ .fd = pairs[i].server,
			    .events = POLLIN };
		}
		if (poll(pfd, n, -1) < 0)
			continue;
		for (int l = 0; l < 2; l++) {
			int c, u;

			if (!(pfd[l].revents & POLLIN))
				continue;
			c = accept4(listeners[l], NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			u = tcp_connect_loopback(upstream + (unsigned)l);
			if (u < 0 || n_pairs == PROXY_PAIRS) {
				close(c);
				if (u >= 0)
					close(u);
				continue;
			}
			pairs[n_pairs].client = c;
			pairs[n_pairs].server = u;
			pairs[n_pairs].control = l == 1;
			n_pairs++;
		}
		for (size_t i = 0, slot = 2; i < n_pairs; slot += 2) {
			bool from_client = pfd[slot].revents != 0;
			bool from_server = pfd[slot + 1].revents != 0;
			bool keep = true;

			if (slot >= n) {
				i++;
				continue;
			}
			if (pairs[i].control && (from_client || from_server)) {
				int in = from_client ? pairs[i].client :
				    pairs[i].server;
				int out = from_client ? pairs[i].server :
				    pairs[i].client;
				ssize_t got = read(in, buf, sizeof(buf));

				keep = got > 0 &&
				    write_full(out, buf, (size_t)got);
			} else if (from_server) {
				keep = false;	/* swtpm closed or spoke unasked */
			} else if (from_client) {
				size_t size = read_tpm_message(pairs[i].client,
				    buf);
				uint32_t cc = size ? (uint32_t)buf[6] << 24 |
				    (uint32_t)buf[7] << 16 |
				    (uint32_t)buf[8] << 8 | buf[9] : 0;
				FILE *f = fopen(mode_path, "r");

				mode[0] = '\0';
				if (f != NULL) {
					if (fgets(mode, sizeof(mode), f) == NULL)
						mode[0] = '\0';
					fclose(f);
				}
				mode[strcspn(mode, "\n")] = '\0';
				if (strcmp(mode, last_mode) != 0) {
					retried = 0;
					snprintf(last_mode, sizeof(last_mode),
					    "%s", mode);
				}
				keep = size > 0 &&
				    write_full(pairs[i].server, buf, size);
				if (keep && cc == TPM_CC_QUOTE &&
				    strcmp(mode, "lose") == 0) {
					proxy_log(log_path, "lost");
					keep = false;
				} else if (keep) {
					size = read_tpm_message(pairs[i].server,
					    buf);
					if (size > 0 && cc == TPM_CC_QUOTE &&
					    strncmp(mode, "retry ", 6) == 0 &&
					    retried < strtol(mode + 6, NULL,
					    10)) {
						static const uint8_t retry[] = {
							0x80, 0x01, 0, 0, 0, 10,
							0, 0, 0x09, 0x22 };

						retried++;
						proxy_log(log_path, "retry");
						memcpy(buf, retry, sizeof(retry));
						size = sizeof(retry);
					}
					keep = size > 0 && write_full(
					    pairs[i].client, buf, size);
				}
			}
			if (keep) {
				i++;
				continue;
			}
			close(pairs[i].client);
			close(pairs[i].server);
			/* Shift the rest down, their poll slots too. */
			memmove(&pairs[i], &pairs[i + 1],
			    (n_pairs - i - 1) * sizeof(pairs[0]));
			memmove(&pfd[slot], &pfd[slot + 2],
			    (n - slot - 2) * sizeof(pfd[0]));
			n -= 2;
			n_pairs--;
			slot -= 2;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "tpmproxy") == 0)
		return tpmproxy(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 5 && strcmp(argv[1], "listen") == 0)
		return listen_echo(argv[2], argv[3], argv[4]);
	if (argc == 6 && strcmp(argv[1], "decide") == 0)
		return decide_once(argv[2], argv[3], argv[4], argv[5]);
	/* A script's interpreter ("#!THIS script-decide"): DECIDE without
	 * a grant about this process, SCRIPT's. */
	if (argc == 6 && strcmp(argv[1], "script-decide") == 0)
		return decide_once(argv[3], "-", argv[4], argv[5]);
	if (argc == 5 && strcmp(argv[1], "session") == 0)
		return session(argv[2], argv[3], argv[4]);
	if (argc == 3 && strcmp(argv[1], "idle") == 0)
		return idle(argv[2]);
	if (argc == 3 && strcmp(argv[1], "stale") == 0)
		return stale(argv[2]);
	if (argc == 4 && strcmp(argv[1], "logsink") == 0)
		return logsink(argv[2], argv[3]);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "send") == 0)
		return send_raw(argv[2], argv[3],
		    argc == 5 ? strtol(argv[4], NULL, 10) : 0);
	if (argc >= 5 && argc <= 7 && strcmp(argv[1], "forge") == 0)
		return forge(argv[2], argv[3], argv[4],
		    argc >= 6 ? argv[5] : "/nonexistent",
		    argc == 7 ? strtol(argv[6], NULL, 10) : 1);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "hold") == 0)
		return hold(argv[2], strtol(argv[3], NULL, 10),
		    argc == 5 && strcmp(argv[4], "byte") == 0);
	if (argc == 4 && strcmp(argv[1], "dropuid") == 0)
		return dropuid(argv[2], (uid_t)strtoul(argv[3], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "credforge") == 0)
		return credforge(argv[2], (uid_t)strtoul(argv[3], NULL, 10));
	if (argc == 5 && strcmp(argv[1], "handoff") == 0)
		return handoff(argv[2], (uid_t)strtoul(argv[3], NULL, 10),
		    (uid_t)strtoul(argv[4], NULL, 10));
	if ((argc == 3 || (argc == 4 && strcmp(argv[3], "live") == 0)) &&
	    strcmp(argv[1], "late") == 0)
		return late(argv[2], argc == 4);
	if (argc == 4 && strcmp(argv[1], "cycle") == 0)
		return cycle(argv[2], (uid_t)strtoul(argv[3], NULL, 10));
	if (argc == 6 && strcmp(argv[1], "orphan") == 0)
		return orphan(argv[2], (uid_t)strtoul(argv[3], NULL, 10),
		    argv[4], argv[5]);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "burst") == 0)
		return burst(argv[2], strtol(argv[3], NULL, 10),
		    argc == 5 && strcmp(argv[4], "hold") == 0);
	if ((argc == 4 || (argc == 5 && strcmp(argv[4], "wait") == 0)) &&
	    strcmp(argv[1], "flood") == 0)
		return flood(argv[2], strtol(argv[3], NULL, 10), argc == 5);
	if (argc == 5 && strcmp(argv[1], "spam") == 0)
		return spam(argv[2], (unsigned)strtoul(argv[3], NULL, 10),
		    strtol(argv[4], NULL, 10));
	if (argc == 7 && strcmp(argv[1], "sign") == 0)
		return sign(argv[2], argv[3], argv[4], argv[5],
		    strtol(argv[6], NULL, 10));
	fprintf(stderr, "usage: zt-testtool logsink SOCKET FILE\n"
	    "       zt-testtool listen ADDR PORT LOG\n"
	    "       zt-testtool send SOCKET HEX [REPEAT]\n"
	    "       zt-testtool hold SOCKET COUNT [byte]\n"
	    "       zt-testtool forge SOCKET launch|report|sign|decide "
	    "GRANT|- [OBJECT [COUNT]]\n"
	    "       zt-testtool stale SOCKET\n"
	    "       zt-testtool idle SOCKET\n"
	    "       zt-testtool session SOCKET UID SERVICE\n"
	    "       zt-testtool decide SOCKET GRANT|- ACTION OBJECT\n"
	    "       zt-testtool script-decide SCRIPT SOCKET ACTION OBJECT\n"
	    "       zt-testtool sign SOCKET BINARY CSR CERT HOLD\n"
	    "       zt-testtool tpmproxy PORT UPSTREAM MODEFILE LOG\n"
	    "       zt-testtool credforge SOCKET UID\n"
	    "       zt-testtool dropuid SOCKET UID\n"
	    "       zt-testtool handoff SOCKET CONNECT_UID SEND_UID\n"
	    "       zt-testtool orphan SOCKET UID ACTION OBJECT\n"
	    "       zt-testtool burst SOCKET N [hold]\n"
	    "       zt-testtool spam SOCKET TYPE N\n"
	    "       zt-testtool flood SOCKET SECONDS [wait]\n");
	return 2;
}

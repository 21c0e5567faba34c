/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper: a syslog sink, raw and scripted ztd clients, a faulty TPM,
 * a supervisor by hand (LAUNCH then SIGN, forged requests). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "zt_client.h"
#include "zt_err.h"
#include "zt_msg.h"

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

static int
hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
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
		int hi = hex_nibble(hex[i]), lo = hex_nibble(hex[i + 1]);

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

/* hold SOCKET N: open N connections, print "held N", wait for SIGTERM. */
static int
hold(const char *path, long count)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGTERM, &sa, NULL);
	for (long i = 0; i < count; i++) {
		int fd = zt_client_connect(path);

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
 *   events                  print pushed events ("none" if there are none)
 *   report ACTION OBJECT TOKEN   a REPORT of one cache hit of OBJECT, with
 *                           TOKEN "last" (the token and end of the last
 *                           cacheable allow ztd sent), "none" (no token),
 *                           "garbage" (16 bytes of 0x42, the last end) or
 *                           "late" (the last token, its end moved on);
 *                           prints "report written=N" or "error ..."
 *   agent-pid PID           an AGENT_PID naming PID
 * and exit at end of input.
 */
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
	if ((r = zt_client_call(fd, &request, &reply, 5000)) < 0) {
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
		if (strcmp(verb, "close") == 0) {
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
	if ((r = zt_client_call(fd, &request, &reply, 5000)) < 0) {
		printf("call %s\n", zt_strerror(r));
		return 1;
	}
	print_decision(&reply);
	return 0;
}

/*
 * forge SOCKET launch|report|sign|decide GRANT|- [OBJECT]: what only a
 * supervisor (setgid zt-exec) may send, sent by this process: a LAUNCH of
 * OBJECT, a REPORT naming GRANT and this pid, a SIGN for GRANT (a dummy
 * CSR), a DECIDE on GRANT's behalf.  Prints "reply TYPE" or "error TEXT".
 */
static int
forge(const char *path, const char *kind, const char *grant,
    const char *object)
{
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
		    (r = zt_client_call(fd, &request, &reply, 5000)) < 0 ||
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
		    (r = zt_client_call(fd, &request, &reply, 5000)) < 0) {
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
	if (r < 0 || (r = zt_client_call(fd, &request, &reply, 5000)) < 0) {
		printf("call %s\n", zt_strerror(r));
		return 1;
	}
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
	if ((r = zt_client_call(fd, &m[0], &m[1], 10000)) < 0 ||
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
	if ((r = zt_client_call(fd, &m[0], &m[1], 10000)) < 0 ||
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
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "forge") == 0)
		return forge(argv[2], argv[3], argv[4],
		    argc == 6 ? argv[5] : "/nonexistent");
	if (argc == 4 && strcmp(argv[1], "hold") == 0)
		return hold(argv[2], strtol(argv[3], NULL, 10));
	if (argc == 7 && strcmp(argv[1], "sign") == 0)
		return sign(argv[2], argv[3], argv[4], argv[5],
		    strtol(argv[6], NULL, 10));
	fprintf(stderr, "usage: zt-testtool logsink SOCKET FILE\n"
	    "       zt-testtool listen ADDR PORT LOG\n"
	    "       zt-testtool send SOCKET HEX [REPEAT]\n"
	    "       zt-testtool hold SOCKET COUNT\n"
	    "       zt-testtool forge SOCKET launch|report|sign|decide "
	    "GRANT|- [OBJECT]\n"
	    "       zt-testtool stale SOCKET\n"
	    "       zt-testtool idle SOCKET\n"
	    "       zt-testtool session SOCKET UID SERVICE\n"
	    "       zt-testtool decide SOCKET GRANT|- ACTION OBJECT\n"
	    "       zt-testtool sign SOCKET BINARY CSR CERT HOLD\n"
	    "       zt-testtool tpmproxy PORT UPSTREAM MODEFILE LOG\n");
	return 2;
}

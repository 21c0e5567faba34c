/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper: a syslog sink, a raw-datagram client, and a connection holder. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "idle") == 0)
		return idle(argv[2]);
	if (argc == 3 && strcmp(argv[1], "stale") == 0)
		return stale(argv[2]);
	if (argc == 4 && strcmp(argv[1], "logsink") == 0)
		return logsink(argv[2], argv[3]);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "send") == 0)
		return send_raw(argv[2], argv[3],
		    argc == 5 ? strtol(argv[4], NULL, 10) : 0);
	if (argc == 4 && strcmp(argv[1], "hold") == 0)
		return hold(argv[2], strtol(argv[3], NULL, 10));
	fprintf(stderr, "usage: zt-testtool logsink SOCKET FILE\n"
	    "       zt-testtool send SOCKET HEX [REPEAT]\n"
	    "       zt-testtool hold SOCKET COUNT\n"
	    "       zt-testtool stale SOCKET\n"
	    "       zt-testtool idle SOCKET\n");
	return 2;
}

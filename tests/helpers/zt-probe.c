/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zt-probe: the agent zt-exec's tests run.  Each command makes one kind of
 * system call (raw where glibc would make another, or several) and prints
 * one line: "ok [DETAIL]" (exit 0) or "errno=NAME" (exit 1); a usage error
 * exits 2.  A few commands print one line per step (loop-connect,
 * step-connect, kids).
 *
 * Run without a command from a file named "exitNN" (two digits), it exits
 * NN: copies of it are the tiny commands the tests allow or forbid, and the
 * exit status tells which file the kernel really ran.
 *
 *   connect tcp|udp ADDR PORT [TEXT]   bind tcp|udp ADDR PORT
 *   sendto[-noreply] ADDR PORT TEXT    sendmsg[-noreply] ADDR PORT TEXT
 *   sendmsg-rights ADDR PORT           sendmmsg ADDR PORT N
 *   listen ADDR PORT|- SECONDS         fastopen ADDR PORT TEXT
 *   sendto-proto PROTOCOL ADDR PORT TEXT   recvfd PATH TEXT
 *   unix PATH | unix-seqpacket PATH    exec PATH [ARGS...]
 *   socketpair                        (a unix stream pair carries a byte)
 *   unix-dgram                        ifindex NAME (if_nametoindex)
 *   socketpair-reach PATH NAME        (a unix datagram pair's socket sends
 *                                     to PATH and abstract NAME: sendto,
 *                                     sendmsg, connect + send)
 *   loop-exec PATH INTERVAL_MS COUNT   open PATH r|w
 *   map-exec FILE SRC GOFILE [first-page]   (exec FILE, rewrite it through a
 *                                     mapping, exec it again)
 *   syscall NAME                       x32 | int80
 *   race-connect GOOD_ADDR GOOD_PORT BAD_ADDR BAD_PORT N [SECONDS]
 *   race-exec GOOD_PATH BAD_PATH N [SECONDS]
 *   race-exec-argv PATH ARG1 GOOD_ARG BAD_ARG N [SECONDS]
 *   die-mid GOOD_ADDR GOOD_PORT BAD_ADDR BAD_PORT N    unmapped
 *   hammer THREADS CALLS ADDR PORT [setuid]
 *   loop-connect ADDR PORT INTERVAL_MS COUNT
 *   step-connect ADDR PORT TEXT       (one exchange per line read on stdin)
 *   sleep SECONDS   kids N SECONDS   exit N   signal N   now
 *   resolve NAME PORT [SECONDS | --wait FILE | --again FILE]
 *                                     dns-tcp ADDR PORT HEX
 *   resolve-send NAME PORT TEXT       dns-hold ADDR PORT HEX TO PORT2 FILE
 *   resolve-loop PREFIX SUFFIX COUNT [MARK]
 *   resolve-threads PORT NAME...      (one thread each, all at once)
 *   rthdr SEGMENT ADDR PORT TEXT|-    (an IPv6 routing header, then TCP)
 *   passcred                          (SO_PASSCRED on a unix datagram socket)
 *   sockfilter OPT                    (a socket filter option, UDP socket)
 *   udp-inbound ADDR PORT TEXT STOPFILE [HOW]
 *   icmp-intrude ADDR PORT TEXT       (root: a forged ICMP error)
 *   sockinfo                          (UDP sockets' owner and flags)
 *
 * ADDR is IPv4 or IPv6 (an AF_INET6 socket when it holds a ':', so
 * ::ffff:127.0.0.1 is v4-mapped), optionally prefixed "len=N:" (the
 * address length passed is N, whatever the sockaddr's), "v6:" (an
 * AF_INET6 socket for an IPv4 sockaddr) or "v4:" (an AF_INET socket for an
 * IPv6 sockaddr), and "unspec:" (sa_family AF_UNSPEC).  The syscall NAMEs
 * are in syscalls[].
 */
#define _GNU_SOURCE
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX 512
#define REPLY_TIMEOUT_S 2
#define SENDMMSG_MAX 64
#define HAMMER_THREADS_MAX 1024
#define KIDS_MAX 64
#define RACE_STACK (64 * 1024)

#define NR_IO_URING_SETUP 425
#define NR_CLONE3 435
#define NR_LANDLOCK_CREATE_RULESET 444
#define LANDLOCK_CREATE_RULESET_VERSION 1u
#define NR_UNKNOWN 1000
#define X32_SYSCALL_BIT 0x40000000L
#define X32_NR_GETPID 39L		/* x32 getpid: 39 | X32_SYSCALL_BIT */
#define I386_NR_GETPID 20L

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

extern char **environ;

/* ------------------------------------------------------------ helpers */

/* The symbolic name of E ("EACCES"), or its number in BUF. */
static const char *
errname(int e, char buf[16])
{
	const char *name = e == 0 ? "success" : strerrorname_np(e);

	if (name != NULL)
		return name;
	snprintf(buf, 16, "%d", e);
	return buf;
}

static int
fail(int e)
{
	char buf[16];

	printf("errno=%s\n", errname(e, buf));
	return 1;
}

static int
usage(const char *what)
{
	fprintf(stderr, "zt-probe: usage: zt-probe %s\n", what);
	return 2;
}

static bool
parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && *out <= max;
}

/*
 * ADDR may start with "len=N:" (the address length given to the call,
 * at most a sockaddr_storage's), then "v6:" (an AF_INET6 socket whatever
 * the address) or "v4:" (an AF_INET one), and then "unspec:" (the
 * sockaddr's family is AF_UNSPEC, its other fields as for the address):
 * the odd pairs the kernel reads in its own ways.  *LEN_GIVEN: N, or 0.
 */
static const char *
addr_strip(const char *addr, bool *v6, bool *v4, bool *unspec,
    socklen_t *len_given)
{
	*len_given = 0;
	if (strncmp(addr, "len=", 4) == 0) {
		char *end;
		unsigned long n = strtoul(addr + 4, &end, 10);

		if (*end == ':' && n > 0 && n <= sizeof(struct sockaddr_storage)) {
			*len_given = (socklen_t)n;
			addr = end + 1;
		}
	}
	*v6 = strncmp(addr, "v6:", 3) == 0;
	*v4 = strncmp(addr, "v4:", 3) == 0;
	if (*v6 || *v4)
		addr += 3;
	*unspec = strncmp(addr, "unspec:", 7) == 0;
	return *unspec ? addr + 7 : addr;
}

/* The socket family for ADDR: AF_INET6 when it holds a ':' or says v6:,
 * unless it says v4:. */
static int
addr_domain(const char *addr)
{
	bool v6, v4, unspec;
	socklen_t len_given;

	addr = addr_strip(addr, &v6, &v4, &unspec, &len_given);
	if (v4)
		return AF_INET;
	return v6 || strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
}

/* ADDR (v4, v6 or v4-mapped v6, with addr_strip's prefixes) and PORT. */
static bool
parse_sockaddr(const char *addr, const char *port,
    struct sockaddr_storage *ss, socklen_t *len)
{
	bool v6, v4, unspec, ok;
	socklen_t len_given;
	unsigned long p;

	addr = addr_strip(addr, &v6, &v4, &unspec, &len_given);
	memset(ss, 0, sizeof(*ss));
	if (!parse_ulong(port, 65535, &p))
		return false;
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*s6);
		ok = inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		*len = sizeof(*s4);
		ok = inet_pton(AF_INET, addr, &s4->sin_addr) == 1;
	}
	if (unspec)
		ss->ss_family = AF_UNSPEC;
	if (len_given > 0)
		*len = len_given;
	return ok;
}

static int
sock_type(const char *proto)
{
	if (strcmp(proto, "tcp") == 0)
		return SOCK_STREAM;
	if (strcmp(proto, "udp") == 0)
		return SOCK_DGRAM;
	return -1;
}

static unsigned
sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned long ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
	    .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void
set_timeout(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Close with a reset: thousands of connects leave no TIME_WAIT behind. */
static void
close_reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* One reply (a datagram, or a stream up to its first newline), trimmed. */
static int
read_reply(int fd, char *buf, size_t size)
{
	size_t used = 0;

	set_timeout(fd, REPLY_TIMEOUT_S);
	while (used < size - 1) {
		ssize_t n = recv(fd, buf + used, size - 1 - used, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		used += (size_t)n;
		if (memchr(buf, '\n', used) != NULL)
			break;
	}
	buf[used] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

static int
reply_or_fail(int fd)
{
	char reply[REPLY_MAX];
	int r = read_reply(fd, reply, sizeof(reply));

	if (r < 0)
		return fail(-r);
	printf("ok %s\n", reply);
	return 0;
}

/* Wait for PID (any kind of child) and describe how it ended. */
static void
describe_end(pid_t pid, char *buf, size_t size)
{
	int status;

	while (waitpid(pid, &status, __WALL) < 0) {
		if (errno != EINTR) {
			snprintf(buf, size, "waitpid=%d", errno);
			return;
		}
	}
	if (WIFSIGNALED(status))
		snprintf(buf, size, "signal=%d", WTERMSIG(status));
	else
		snprintf(buf, size, "status=%d", WEXITSTATUS(status));
}

/* ------------------------------------------------------------ network */

/* Connect over TCP to ADDR PORT; the descriptor or -errno. */
static int
tcp_connect(const char *addr, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (!parse_sockaddr(addr, port, &ss, &len))
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* fetch ADDR PORT: send an HTTP/1.0 GET, print all of the answer (until
 * the peer closes, at most 5 s), then "ok bytes=N". */
static int
cmd_fetch(int argc, char **argv)
{
	static const char get[] = "GET / HTTP/1.0\r\n\r\n";
	char buf[4096];
	size_t total = 0;
	int fd;

	if (argc != 3)
		return usage("fetch ADDR PORT");
	if ((fd = tcp_connect(argv[1], argv[2])) < 0)
		return fail(-fd);
	if (send(fd, get, sizeof(get) - 1, MSG_NOSIGNAL) < 0)
		return fail(errno);
	set_timeout(fd, 5);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		fwrite(buf, 1, (size_t)n, stdout);
		total += (size_t)n;
	}
	close(fd);
	printf("\nok bytes=%zu\n", total);
	return 0;
}

/* hold ADDR PORT SECONDS: a TCP connection that sends "tick" every 50 ms
 * and reads what comes back; prints "ok closed" with the time (CLOCK_
 * MONOTONIC ms) when the peer ends it, or "ok held" after SECONDS. */
static int
cmd_hold(int argc, char **argv)
{
	long long until;
	char buf[4096];
	int fd;

	if (argc != 4)
		return usage("hold ADDR PORT SECONDS");
	if ((fd = tcp_connect(argv[1], argv[2])) < 0)
		return fail(-fd);
	printf("connected\n");
	fflush(stdout);
	until = now_ms() + atoll(argv[3]) * 1000;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long now = now_ms();

		if (now >= until) {
			printf("ok held\n");
			return 0;
		}
		if (send(fd, "tick\n", 5, MSG_NOSIGNAL) < 0) {
			printf("ok closed t=%lld send=%s\n", now,
			    strerrorname_np(errno));
			return 0;
		}
		if (poll(&pfd, 1, 50) > 0) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);

			if (n <= 0) {
				printf("ok closed t=%lld\n", now_ms());
				return 0;
			}
		}
	}
}

/* connect tcp|udp ADDR PORT [SEND_TEXT] */
static int
cmd_connect(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int type = argc >= 4 ? sock_type(argv[1]) : -1, fd;

	if (argc < 4 || argc > 5 || type < 0 ||
	    !parse_sockaddr(argv[2], argv[3], &ss, &len))
		return usage("connect tcp|udp ADDR PORT [SEND_TEXT]");
	fd = socket(addr_domain(argv[2]), type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(errno);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0)
		return fail(errno);
	if (argc == 4) {
		printf("ok fd=%d\n", fd);
		return 0;
	}
	/* send() on a connected socket: sendto without an address. */
	if (send(fd, argv[4], strlen(argv[4]), MSG_NOSIGNAL) < 0 ||
	    (type == SOCK_STREAM && send(fd, "\n", 1, MSG_NOSIGNAL) < 0))
		return fail(errno);
	return reply_or_fail(fd);
}

/* A new UDP socket that has sent TEXT to ADDR:PORT (parsed by the
 * caller into SS, LEN): the socket, or -errno. */
static int
udp_sent(const char *addr, const struct sockaddr_storage *ss, socklen_t len,
    const char *text)
{
	int fd = socket(addr_domain(addr), SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (sendto(fd, text, strlen(text), 0, (const struct sockaddr *)ss,
	    len) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* sendto[-noreply] ADDR PORT TEXT: one UDP datagram, sent with an address */
static int
cmd_sendto(int argc, char **argv)
{
	bool want_reply = strcmp(argv[0], "sendto") == 0;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (argc != 4 || !parse_sockaddr(argv[1], argv[2], &ss, &len))
		return usage("sendto|sendto-noreply ADDR PORT TEXT");
	if ((fd = udp_sent(argv[1], &ss, len, argv[3])) < 0)
		return fail(-fd);
	if (!want_reply) {
		printf("ok sent\n");
		return 0;
	}
	return reply_or_fail(fd);
}

/* The Internet checksum of the N bytes at P (RFC 1071). */
static uint16_t
inet_sum(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n % 2 != 0)
		sum += (uint32_t)b[n - 1] << 8;
	while (sum >> 16 != 0)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/*
 * udp-inbound ADDR PORT TEXT STOPFILE [HOW]: an unconnected UDP socket
 * sends TEXT to ADDR PORT (HOW "sendto", the default), or -- HOW "send",
 * "write" or "sendmsg" -- sends it without an address (EDESTADDRREQ,
 * printed as "sent errno=E"), or -- HOW "disconnect" -- connects to ADDR
 * PORT, disconnects (AF_UNSPEC), then writes it (EDESTADDRREQ), or --
 * HOW "stdin" -- writes it on descriptor 0, a UDP socket it was given
 * (EDESTADDRREQ), or -- HOW "recverr" -- sets IP_RECVERR (IPV6_RECVERR
 * on an IPv6 socket; "recverr ok" or its errno) and writes it
 * (EDESTADDRREQ), then also reads the error queue, printing the payload
 * of each ICMP error there as "got DATA": the kernel gives the socket an
 * ephemeral port either way ("stdin-recverr": the same on descriptor
 * 0).  Or -- HOW "bind" -- it binds to ADDR PORT
 * and sends nothing ("bound ok" or its errno), or -- "bind-disconnect"
 * -- binds, then disconnects (AF_UNSPEC), keeping the port.  It prints its
 * local port ("port=N", flushed), then
 * prints every datagram it receives ("got DATA") until STOPFILE exists
 * (120 s at most); then it reads what is still queued, and says "done".
 * A datagram sent to it before STOPFILE was made is queued by then
 * (loopback delivery happens inside the sender's send), so "done" means
 * every such datagram was printed, or never reached the socket.
 */
static int
cmd_udp_inbound(int argc, char **argv)
{
	struct sockaddr_storage ss, local;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
	socklen_t len, llen = sizeof(local);
	long long until;
	bool last = false;
	int fd;

	const char *how = argc == 6 ? argv[5] : "sendto";

	if ((argc != 5 && argc != 6) ||
	    !parse_sockaddr(argv[1], argv[2], &ss, &len))
		return usage("udp-inbound ADDR PORT TEXT STOPFILE "
		    "[sendto|send|write|sendmsg|disconnect|stdin|recverr|"
		    "stdin-recverr|bind|bind-disconnect]");
	if (strcmp(how, "sendto") == 0) {
		if ((fd = udp_sent(argv[1], &ss, len, argv[3])) < 0)
			return fail(-fd);
	} else {
		struct iovec iov = { .iov_base = argv[3],
		    .iov_len = strlen(argv[3]) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		struct sockaddr unspec = { .sa_family = AF_UNSPEC };
		char ebuf[16];
		ssize_t n;

		fd = strncmp(how, "stdin", 5) == 0 ? 0 :
		    socket(addr_domain(argv[1]), SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return fail(errno);
		if (strstr(how, "recverr") != NULL) {
			int one = 1;

			printf("recverr %s\n", setsockopt(fd,
			    addr_domain(argv[1]) == AF_INET6 ? IPPROTO_IPV6 :
			    IPPROTO_IP, addr_domain(argv[1]) == AF_INET6 ?
			    IPV6_RECVERR : IP_RECVERR, &one, sizeof(one)) < 0 ?
			    errname(errno, ebuf) : "ok");
		}
		if (strncmp(how, "bind", 4) == 0) {
			if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
			    (strcmp(how, "bind-disconnect") == 0 &&
			    connect(fd, &unspec, sizeof(unspec)) < 0))
				return fail(errno);
			printf("bound ok\n");
			goto bound;
		}
		if (strcmp(how, "disconnect") == 0 &&
		    (connect(fd, (struct sockaddr *)&ss, len) < 0 ||
		    connect(fd, &unspec, sizeof(unspec)) < 0))
			return fail(errno);
		if (strcmp(how, "send") == 0)
			n = send(fd, argv[3], iov.iov_len, 0);
		else if (strcmp(how, "sendmsg") == 0)
			n = sendmsg(fd, &mh, 0);
		else if (strcmp(how, "write") == 0 ||
		    strcmp(how, "disconnect") == 0 ||
		    strncmp(how, "stdin", 5) == 0 ||
		    strcmp(how, "recverr") == 0)
			n = write(fd, argv[3], iov.iov_len);
		else
			return usage("udp-inbound: HOW is sendto, send, "
			    "write, sendmsg, disconnect, stdin, recverr, "
			    "stdin-recverr, bind or bind-disconnect");
		printf("sent %s\n", n < 0 ? errname(errno, ebuf) : "ok");
	}
bound:
	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0)
		return fail(errno);
	printf("port=%u\n", ntohs(local.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&local)->sin6_port :
	    ((struct sockaddr_in *)&local)->sin_port));
	fflush(stdout);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	until = now_ms() + 120000;
	for (;;) {
		char buf[256];
		ssize_t n;

		if (!last && (access(argv[4], F_OK) == 0 ||
		    now_ms() > until))
			last = true;
		if (strstr(how, "recverr") != NULL) {
			char control[512];
			struct iovec eiov = { .iov_base = buf,
			    .iov_len = sizeof(buf) - 1 };
			struct msghdr emh = { .msg_iov = &eiov,
			    .msg_iovlen = 1, .msg_control = control,
			    .msg_controllen = sizeof(control) };

			if ((n = recvmsg(fd, &emh, MSG_ERRQUEUE |
			    MSG_DONTWAIT)) >= 0) {
				buf[n] = '\0';
				printf("got %s\n", buf);
				fflush(stdout);
				continue;
			}
		}
		n = recv(fd, buf, sizeof(buf) - 1, last ? MSG_DONTWAIT : 0);
		if (n < 0) {
			if (last)
				break;
			continue;
		}
		buf[n] = '\0';
		printf("got %s\n", buf);
		fflush(stdout);
	}
	printf("done\n");
	return 0;
}

/*
 * icmp-intrude ADDR PORT TEXT (root: a raw socket): an ICMP "port
 * unreachable" (ICMPv6 when ADDR holds a ':') to ADDR that quotes a UDP
 * datagram from ADDR PORT to 192.0.2.1 (2001:db8::1) port 9 carrying
 * TEXT, as any host could send it: the kernel hands it to the UDP socket
 * on ADDR PORT, and with IP_RECVERR queues TEXT on its error queue.
 * "ok sent" or the errno.
 */
static int
cmd_icmp_intrude(int argc, char **argv)
{
	unsigned char pkt[256];
	struct sockaddr_storage ss;
	struct udphdr *u;
	socklen_t len;
	size_t tlen, n;
	int fd;

	if (argc != 4 || !parse_sockaddr(argv[1], argv[2], &ss, &len) ||
	    (tlen = strlen(argv[3])) > 128)
		return usage("icmp-intrude ADDR PORT TEXT");
	memset(pkt, 0, sizeof(pkt));
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *to = (struct sockaddr_in6 *)&ss;
		struct ip6_hdr *ip = (struct ip6_hdr *)(pkt + 8);

		pkt[0] = 1;		/* ICMP6_DST_UNREACH */
		pkt[1] = 4;		/* ICMP6_DST_UNREACH_NOPORT */
		ip->ip6_vfc = 6 << 4;
		ip->ip6_plen = htons((uint16_t)(8 + tlen));
		ip->ip6_nxt = IPPROTO_UDP;
		ip->ip6_hlim = 64;
		ip->ip6_src = to->sin6_addr;
		inet_pton(AF_INET6, "2001:db8::1", &ip->ip6_dst);
		u = (struct udphdr *)(pkt + 8 + sizeof(*ip));
		u->source = to->sin6_port;
		to->sin6_port = 0;
		/* The kernel sums an ICMPv6 raw socket's messages. */
		fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	} else {
		struct sockaddr_in *to = (struct sockaddr_in *)&ss;
		struct iphdr *ip = (struct iphdr *)(pkt + 8);

		pkt[0] = 3;		/* ICMP_DEST_UNREACH */
		pkt[1] = 3;		/* ICMP_PORT_UNREACH */
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons((uint16_t)(sizeof(*ip) + 8 + tlen));
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		ip->saddr = to->sin_addr.s_addr;
		inet_pton(AF_INET, "192.0.2.1", &ip->daddr);
		ip->check = inet_sum(ip, sizeof(*ip));
		u = (struct udphdr *)(pkt + 8 + sizeof(*ip));
		u->source = to->sin_port;
		to->sin_port = 0;
		fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	}
	u->dest = htons(9);
	u->len = htons((uint16_t)(8 + tlen));
	memcpy(u + 1, argv[3], tlen);
	n = (size_t)((unsigned char *)(u + 1) - pkt) + tlen;
	if (ss.ss_family == AF_INET) {
		uint16_t sum = inet_sum(pkt, n);

		memcpy(pkt + 2, &sum, sizeof(sum));
	}
	if (fd < 0 || sendto(fd, pkt, n, 0, (struct sockaddr *)&ss, len) < 0)
		return fail(errno);
	printf("ok sent\n");
	return 0;
}

/* sendmsg[-noreply] ADDR PORT TEXT: the same through sendmsg's msg_name */
static int
cmd_sendmsg(int argc, char **argv)
{
	bool want_reply = strcmp(argv[0], "sendmsg") == 0;
	struct sockaddr_storage ss;
	struct iovec iov;
	struct msghdr msg;
	socklen_t len;
	int fd;

	if (argc != 4 || !parse_sockaddr(argv[1], argv[2], &ss, &len))
		return usage("sendmsg|sendmsg-noreply ADDR PORT TEXT");
	fd = socket(addr_domain(argv[1]), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(errno);
	iov = (struct iovec){ .iov_base = argv[3], .iov_len = strlen(argv[3]) };
	msg = (struct msghdr){ .msg_name = &ss, .msg_namelen = len,
	    .msg_iov = &iov, .msg_iovlen = 1 };
	if (sendmsg(fd, &msg, 0) < 0)
		return fail(errno);
	if (!want_reply) {
		printf("ok sent\n");
		return 0;
	}
	return reply_or_fail(fd);
}

/*
 * sendmsg-rights ADDR PORT: a UDP sendmsg with an address and an SCM_RIGHTS
 * message passing a pipe's end.  Refused in any case (the kernel itself
 * gives EINVAL for rights on an inet socket); it must never be delivered.
 */
static int
cmd_sendmsg_rights(int argc, char **argv)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct sockaddr_storage ss;
	struct cmsghdr *cmsg;
	struct iovec iov;
	struct msghdr msg;
	char text[] = "rights";
	socklen_t len;
	int fd, pipefd[2];

	if (argc != 3 || !parse_sockaddr(argv[1], argv[2], &ss, &len))
		return usage("sendmsg-rights ADDR PORT");
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return fail(errno);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(errno);
	memset(&control, 0, sizeof(control));
	iov = (struct iovec){ .iov_base = text, .iov_len = strlen(text) };
	msg = (struct msghdr){ .msg_name = &ss, .msg_namelen = len,
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
	    .msg_controllen = sizeof(control.buf) };
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &pipefd[0], sizeof(int));
	if (sendmsg(fd, &msg, 0) < 0)
		return fail(errno);
	printf("ok sent\n");
	return 0;
}

/* sendmmsg ADDR PORT N: N datagrams "mmsg-I" in one sendmmsg */
static int
cmd_sendmmsg(int argc, char **argv)
{
	struct mmsghdr vec[SENDMMSG_MAX];
	struct iovec iov[SENDMMSG_MAX];
	char text[SENDMMSG_MAX][32];
	struct sockaddr_storage ss;
	unsigned long n;
	socklen_t len;
	int fd, r;

	if (argc != 4 || !parse_sockaddr(argv[1], argv[2], &ss, &len) ||
	    !parse_ulong(argv[3], SENDMMSG_MAX, &n) || n == 0)
		return usage("sendmmsg ADDR PORT N (1..64)");
	fd = socket(addr_domain(argv[1]), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(errno);
	memset(vec, 0, sizeof(vec));
	for (unsigned long i = 0; i < n; i++) {
		snprintf(text[i], sizeof(text[i]), "mmsg-%lu", i);
		iov[i] = (struct iovec){ .iov_base = text[i],
		    .iov_len = strlen(text[i]) };
		vec[i].msg_hdr = (struct msghdr){ .msg_name = &ss,
		    .msg_namelen = len, .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	r = sendmmsg(fd, vec, (unsigned)n, 0);
	if (r < 0)
		return fail(errno);
	printf("ok sent=%d\n", r);
	return 0;
}

/* bind tcp|udp ADDR PORT: prints the port bound */
static int
cmd_bind(int argc, char **argv)
{
	struct sockaddr_storage ss, got;
	socklen_t len, got_len = sizeof(got);
	int type = argc == 4 ? sock_type(argv[1]) : -1, fd;

	if (argc != 4 || type < 0 ||
	    !parse_sockaddr(argv[2], argv[3], &ss, &len))
		return usage("bind tcp|udp ADDR PORT");
	fd = socket(addr_domain(argv[2]), type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(errno);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		return fail(errno);
	if (getsockname(fd, (struct sockaddr *)&got, &got_len) < 0)
		return fail(errno);
	printf("ok port=%u\n", sockaddr_port(&got));
	return 0;
}

/* sendto-proto PROTOCOL ADDR PORT TEXT: one datagram from a SOCK_DGRAM
 * socket of PROTOCOL (136: UDP-Lite, 1: ICMP echo), with an address */
static int
cmd_sendto_proto(int argc, char **argv)
{
	struct sockaddr_storage ss;
	unsigned long protocol;
	socklen_t len;
	int fd;

	if (argc != 5 || !parse_ulong(argv[1], 255, &protocol) ||
	    !parse_sockaddr(argv[2], argv[3], &ss, &len))
		return usage("sendto-proto PROTOCOL ADDR PORT TEXT");
	fd = socket(addr_domain(argv[2]), SOCK_DGRAM | SOCK_CLOEXEC,
	    (int)protocol);
	if (fd < 0)
		return fail(errno);
	if (sendto(fd, argv[4], strlen(argv[4]), 0, (struct sockaddr *)&ss,
	    len) < 0)
		return fail(errno);
	printf("ok sent\n");
	return 0;
}

/* fastopen ADDR PORT TEXT: a TCP sendto with MSG_FASTOPEN (it connects),
 * then the reply */
static int
cmd_fastopen(int argc, char **argv)
{
	struct sockaddr_storage ss;
	char line[REPLY_MAX];
	socklen_t len;
	int fd;

	if (argc != 4 || !parse_sockaddr(argv[1], argv[2], &ss, &len))
		return usage("fastopen ADDR PORT TEXT");
	fd = socket(addr_domain(argv[1]), SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(errno);
	snprintf(line, sizeof(line), "%s\n", argv[3]);
	if (sendto(fd, line, strlen(line), MSG_FASTOPEN | MSG_NOSIGNAL,
	    (struct sockaddr *)&ss, len) < 0)
		return fail(errno);
	return reply_or_fail(fd);
}

/*
 * listen ADDR PORT|- SECONDS: a TCP socket bound to ADDR PORT ("-": never
 * bound), then listen().  Prints "ok port=P" or "errno=E port=P" (the port
 * getsockname reports either way), then holds the socket for SECONDS,
 * accepting: "accepted" for each connection.
 */
static int
cmd_listen(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	long long until;
	int fd, e = 0;

	if (argc != 4 || (strcmp(argv[2], "-") != 0 &&
	    !parse_sockaddr(argv[1], argv[2], &ss, &len)))
		return usage("listen ADDR PORT|- SECONDS");
	fd = socket(addr_domain(argv[1]), SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(errno);
	if (strcmp(argv[2], "-") != 0 &&
	    bind(fd, (struct sockaddr *)&ss, len) < 0)
		return fail(errno);
	if (listen(fd, 16) < 0)
		e = errno;
	len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	getsockname(fd, (struct sockaddr *)&ss, &len);
	if (e != 0) {
		char buf[16];

		printf("errno=%s port=%u\n", errname(e, buf),
		    sockaddr_port(&ss));
	} else
		printf("ok port=%u\n", sockaddr_port(&ss));
	fflush(stdout);
	until = now_ms() + atoll(argv[3]) * 1000;
	while (now_ms() < until) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int c;

		if (e != 0 || poll(&pfd, 1, 100) <= 0) {
			sleep_ms(e != 0 ? 100 : 0);
			continue;
		}
		if ((c = accept(fd, NULL, NULL)) >= 0) {
			printf("accepted\n");
			close(c);
		}
	}
	return e != 0;
}

/*
 * recvfd PATH TEXT: connect to the unix stream socket PATH and receive one
 * message, with room for a descriptor.  "ok fds=N data=D"; a descriptor
 * received gets TEXT written to it ("wrote=N").
 */
static int
cmd_recvfd(int argc, char **argv)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char data[REPLY_MAX];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *cmsg;
	ssize_t n;
	int fd, passed = -1;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sun.sun_path))
		return usage("recvfd PATH TEXT");
	memcpy(sun.sun_path, argv[1], strlen(argv[1]) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(errno);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return fail(errno);
	set_timeout(fd, 5);
	memset(&control, 0, sizeof(control));
	if ((n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) < 0)
		return fail(errno);
	data[n] = '\0';
	data[strcspn(data, "\r\n")] = '\0';
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg))
		if (cmsg->cmsg_level == SOL_SOCKET &&
		    cmsg->cmsg_type == SCM_RIGHTS)
			memcpy(&passed, CMSG_DATA(cmsg), sizeof(int));
	if (passed < 0) {
		printf("ok fds=0 data=%s\n", data);
		return 0;
	}
	n = write(passed, argv[2], strlen(argv[2]));
	printf("ok fds=1 data=%s wrote=%zd\n", data, n);
	return 0;
}

/* unix PATH | unix-seqpacket PATH */
static int
cmd_unix(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int type = strcmp(argv[0], "unix") == 0 ? SOCK_STREAM : SOCK_SEQPACKET;
	int fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sun.sun_path))
		return usage("unix|unix-seqpacket PATH");
	memcpy(sun.sun_path, argv[1], strlen(argv[1]) + 1);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(errno);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return fail(errno);
	printf("ok fd=%d\n", fd);
	return 0;
}

/* unix-dgram: a unix datagram socket, as glibc's syslog() and
 * __opensock make. */
static int
cmd_unix_dgram(int argc, char **argv)
{
	int fd;

	(void)argv;
	if (argc != 1)
		return usage("unix-dgram");
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return fail(errno);
	close(fd);
	printf("ok\n");
	return 0;
}

/* ifindex NAME: glibc's if_nametoindex(NAME). */
static int
cmd_ifindex(int argc, char **argv)
{
	unsigned i;

	if (argc != 2)
		return usage("ifindex NAME");
	if ((i = if_nametoindex(argv[1])) == 0)
		return fail(errno);
	printf("ok index=%u\n", i);
	return 0;
}

/* socketpair: a unix stream pair that carries one byte. */
static int
cmd_socketpair(int argc, char **argv)
{
	int sv[2];
	char c = 0;

	(void)argv;
	if (argc != 1)
		return usage("socketpair");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return fail(errno);
	if (write(sv[0], "x", 1) != 1 || read(sv[1], &c, 1) != 1 || c != 'x')
		return fail(EIO);
	printf("ok\n");
	return 0;
}

/*
 * socketpair-reach PATH NAME: a socket of a unix datagram pair, whose
 * sends may name another address, sends to the socket file PATH and the
 * abstract NAME with sendto, to PATH with sendmsg, and connects to PATH
 * and sends: "sendto=R abstract=R sendmsg=R connect=R", each "ok" or the
 * errno.
 */
static int
cmd_socketpair_reach(int argc, char **argv)
{
	struct sockaddr_un path = { .sun_family = AF_UNIX };
	struct sockaddr_un name = { .sun_family = AF_UNIX };
	struct iovec iov = { .iov_base = "sendmsg", .iov_len = 7 };
	struct msghdr msg = { .msg_name = &path, .msg_namelen = sizeof(path),
	    .msg_iov = &iov, .msg_iovlen = 1 };
	socklen_t name_len;
	const char *t[4];
	char b[4][16];
	int sv[2], r[4];

	if (argc != 3 || strlen(argv[1]) >= sizeof(path.sun_path) ||
	    strlen(argv[2]) + 1 >= sizeof(name.sun_path))
		return usage("socketpair-reach PATH NAME");
	memcpy(path.sun_path, argv[1], strlen(argv[1]) + 1);
	memcpy(name.sun_path + 1, argv[2], strlen(argv[2]));
	name_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    strlen(argv[2]));
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		return fail(errno);
	r[0] = sendto(sv[0], "sendto", 6, 0, (struct sockaddr *)&path,
	    sizeof(path)) < 0 ? errno : 0;
	r[1] = sendto(sv[0], "abstract", 8, 0, (struct sockaddr *)&name,
	    name_len) < 0 ? errno : 0;
	r[2] = sendmsg(sv[0], &msg, 0) < 0 ? errno : 0;
	r[3] = connect(sv[0], (struct sockaddr *)&path, sizeof(path)) < 0 ||
	    send(sv[0], "connect", 7, 0) < 0 ? errno : 0;
	for (int i = 0; i < 4; i++)
		t[i] = r[i] == 0 ? "ok" : errname(r[i], b[i]);
	printf("sendto=%s abstract=%s sendmsg=%s connect=%s\n", t[0], t[1],
	    t[2], t[3]);
	return 0;
}

/* ------------------------------------------------------------ processes */

/*
 * Fork; the child execve()s PATH with ARGV and, should that fail, passes
 * its errno back through a close-on-exec pipe.  Returns 0 and the end in
 * BUF, or the child's execve errno.
 */
static int
fork_exec(const char *path, char *const *args, char *const *envp, char *buf,
    size_t size)
{
	int pipefd[2], e = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return errno;
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		close(pipefd[0]);
		execve(path, args, envp);
		e = errno;
		if (write(pipefd[1], &e, sizeof(e)) < 0)
			_exit(126);
		_exit(127);
	}
	close(pipefd[1]);
	do
		n = read(pipefd[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	describe_end(pid, buf, size);
	return n == (ssize_t)sizeof(e) ? e : 0;
}

/* exec PATH [ARGS...]: ok status=N | ok signal=N | errno=NAME */
static int
cmd_exec(int argc, char **argv)
{
	char end[32];
	int e;

	if (argc < 2)
		return usage("exec PATH [ARGS...]");
	e = fork_exec(argv[1], &argv[1], environ, end, sizeof(end));
	if (e != 0)
		return fail(e);
	printf("ok %s\n", end);
	return 0;
}

/*
 * exec-env NAME=VALUE... -- PATH [ARGS...]: exec PATH with our environment
 * and the given entries added: as exec.
 * exec-env-after PATH NAME=VALUE...: the same (argv: PATH alone), the
 * entries' strings after PATH's in memory (our argv's), as a program's
 * own argv and environment lie together past the path it execs.
 */
static int
cmd_exec_env(int argc, char **argv)
{
	static const char *use = "exec-env NAME=VALUE... -- PATH [ARGS...] | "
	    "exec-env-after PATH NAME=VALUE...";
	char end[32], **envp, *alone[2] = { NULL, NULL }, **args;
	char **extra;
	int sep, n = 0, n_extra, e;

	if (strcmp(argv[0], "exec-env-after") == 0) {
		if (argc < 3)
			return usage(use);
		alone[0] = argv[1];
		args = alone;
		extra = argv + 2;
		n_extra = argc - 2;
	} else {
		for (sep = 1; sep < argc && strcmp(argv[sep], "--") != 0;
		    sep++)
			;
		if (sep + 1 >= argc)
			return usage(use);
		args = &argv[sep + 1];
		extra = argv + 1;
		n_extra = sep - 1;
	}
	while (environ[n] != NULL)
		n++;
	if ((envp = calloc((size_t)(n + n_extra + 1), sizeof(*envp))) == NULL)
		return fail(ENOMEM);
	memcpy(envp, environ, (size_t)n * sizeof(*envp));
	memcpy(envp + n, extra, (size_t)n_extra * sizeof(*envp));
	e = fork_exec(args[0], args, envp, end, sizeof(end));
	free(envp);
	if (e != 0)
		return fail(e);
	printf("ok %s\n", end);
	return 0;
}

/* getenv NAME: "ok NAME=VALUE" or "ok NAME unset" */
static int
cmd_getenv(int argc, char **argv)
{
	const char *v;

	if (argc != 2)
		return usage("getenv NAME");
	v = getenv(argv[1]);
	if (v == NULL)
		printf("ok %s unset\n", argv[1]);
	else
		printf("ok %s=%s\n", argv[1], v);
	return 0;
}

/* One exec of PATH (argv: PATH alone) as "errno=NAME", "status=N" or
 * "signal=N" into BUF. */
static void
exec_result(const char *path, char *buf, size_t size)
{
	char *args[] = { (char *)path, NULL }, end[32], name[16];
	int e = fork_exec(path, args, environ, end, sizeof(end));

	if (e != 0)
		snprintf(buf, size, "errno=%s", errname(e, name));
	else
		snprintf(buf, size, "%s", end);
}

/*
 * map-exec FILE SRC GOFILE [first-page]: FILE mapped shared and writable
 * (a byte of each page written through the mapping, of the first only
 * with first-page), its descriptor closed, "mapped" printed;
 * once GOFILE exists (120 s at most), FILE exec'd with the mapping still
 * there (the kernel refuses a file mapped for writing: ETXTBSY), then
 * SRC's bytes (FILE's size) written over FILE through the mapping, the
 * mapping let go, and FILE exec'd again: "ok first=R second=R" (R as
 * exec_result says).  A write through a mapping made before changes no
 * timestamp of FILE's.
 */
static int
cmd_map_exec(int argc, char **argv)
{
	char first[48], second[48], *map, *src;
	struct stat st;
	int fd, sfd, i;

	if (argc != 4 && (argc != 5 || strcmp(argv[4], "first-page") != 0))
		return usage("map-exec FILE SRC GOFILE [first-page]");
	if ((fd = open(argv[1], O_RDWR | O_CLOEXEC)) < 0)
		return fail(errno);
	if (fstat(fd, &st) < 0 || st.st_size <= 0)
		return fail(errno ? errno : EINVAL);
	map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return fail(errno);
	close(fd);
	/* Every page written once now (the same byte): each faults in
	 * dirty and writable, and the times change now, not later; with
	 * "first-page" only the first, so that the rewrite's faults change
	 * them. */
	for (off_t at = 0; at < (argc == 5 ? 1 : st.st_size); at += 4096)
		((volatile char *)map)[at] = map[at];
	if ((src = malloc((size_t)st.st_size)) == NULL)
		return fail(ENOMEM);
	if ((sfd = open(argv[2], O_RDONLY | O_CLOEXEC)) < 0)
		return fail(errno);
	if (read(sfd, src, (size_t)st.st_size) != (ssize_t)st.st_size)
		return fail(EIO);
	close(sfd);
	printf("mapped\n");
	for (i = 0; i < 2400 && access(argv[3], F_OK) != 0; i++)
		poll(NULL, 0, 50);
	exec_result(argv[1], first, sizeof(first));
	memcpy(map, src, (size_t)st.st_size);
	munmap(map, (size_t)st.st_size);
	free(src);
	exec_result(argv[1], second, sizeof(second));
	printf("ok first=%s second=%s\n", first, second);
	return 0;
}

/*
 * loop-exec PATH INTERVAL_MS COUNT: exec PATH (no arguments) COUNT times,
 * one line each: "t=MS ok status=N", "t=MS ok signal=N", "t=MS errno=NAME".
 */
static int
cmd_loop_exec(int argc, char **argv)
{
	unsigned long interval, count;
	char end[32], buf[16];

	if (argc != 4 || !parse_ulong(argv[2], 60000, &interval) ||
	    !parse_ulong(argv[3], ULONG_MAX, &count))
		return usage("loop-exec PATH INTERVAL_MS COUNT");
	for (unsigned long i = 0; i < count; i++) {
		char *const args[] = { argv[1], NULL };
		long long t = now_ms();
		int e = fork_exec(argv[1], args, environ, end, sizeof(end));

		if (e != 0)
			printf("t=%lld errno=%s\n", t, errname(e, buf));
		else
			printf("t=%lld ok %s\n", t, end);
		fflush(stdout);
		if (i + 1 < count)
			sleep_ms(interval);
	}
	return 0;
}

/* open PATH r|w: O_RDONLY, or O_WRONLY|O_CREAT 0600 */
static int
cmd_open(int argc, char **argv)
{
	int flags, fd;

	if (argc != 3)
		return usage("open PATH r|w");
	if (strcmp(argv[2], "r") == 0)
		flags = O_RDONLY;
	else if (strcmp(argv[2], "w") == 0)
		flags = O_WRONLY | O_CREAT;
	else
		return usage("open PATH r|w");
	fd = open(argv[1], flags | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(errno);
	printf("ok fd=%d\n", fd);
	return 0;
}

/* sleep SECONDS */
static int
cmd_sleep(int argc, char **argv)
{
	unsigned long s;

	if (argc != 2 || !parse_ulong(argv[1], 86400, &s))
		return usage("sleep SECONDS");
	sleep_ms(s * 1000);
	printf("ok\n");
	return 0;
}

/* kids N SECONDS: N sleeping children, their pids one a line, then sleep */
static int
cmd_kids(int argc, char **argv)
{
	pid_t pids[KIDS_MAX];
	unsigned long n, s;

	if (argc != 3 || !parse_ulong(argv[1], KIDS_MAX, &n) ||
	    !parse_ulong(argv[2], 86400, &s))
		return usage("kids N (<= 64) SECONDS");
	fflush(stdout);
	for (unsigned long i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			return fail(errno);
		if (pids[i] == 0) {
			sleep_ms(s * 1000);
			_exit(0);
		}
		printf("%d\n", (int)pids[i]);
		fflush(stdout);
	}
	sleep_ms(s * 1000);
	for (unsigned long i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	printf("ok\n");
	return 0;
}

/* exit N: exit with N, printing nothing */
static int
cmd_exit(int argc, char **argv)
{
	unsigned long n;

	if (argc != 2 || !parse_ulong(argv[1], 255, &n))
		return usage("exit N");
	return (int)n;
}

/* signal N: send oneself signal N (raw kill) */
static int
cmd_signal(int argc, char **argv)
{
	unsigned long n;

	if (argc != 2 || !parse_ulong(argv[1], 64, &n))
		return usage("signal N");
	fflush(stdout);
	if (syscall(SYS_kill, (pid_t)syscall(SYS_getpid), (int)n) < 0)
		return fail(errno);
	printf("ok survived\n");
	return 0;
}

/* ------------------------------------------------------------ names */

/* NAME's first address by getaddrinfo (the libc resolver, configured by
 * the environment: RES_OPTIONS) into SS with PORT; 0 or the EAI_ code. */
static int
lookup(const char *name, const char *port, struct sockaddr_storage *ss,
    socklen_t *len, char *text, size_t size)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
	    .ai_socktype = SOCK_STREAM }, *res = NULL;
	int r = getaddrinfo(name, port, &hints, &res);

	if (r != 0)
		return r;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	getnameinfo(res->ai_addr, res->ai_addrlen, text, (socklen_t)size,
	    NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	return 0;
}

/* A TCP connect to SS: "ok" or the errno's name into OUT. */
static const char *
try_connect(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int e = 0;

	if (fd < 0)
		return strerrorname_np(errno);
	if (connect(fd, (const struct sockaddr *)ss, len) < 0)
		e = errno;
	close(fd);
	return e == 0 ? "ok" : strerrorname_np(e);
}

/* Until PATH exists: looked for every 50 ms, 120 s at most. */
static void
wait_for_file(const char *path)
{
	for (int i = 0; i < 2400 && access(path, F_OK) < 0; i++)
		sleep_ms(50);
}

/*
 * resolve NAME PORT [SECONDS]: getaddrinfo, then a TCP connect to the
 * first address: "ok addr=A connect=ok|ERRNO" (exit 0 when both
 * worked), or "gai=CODE" (exit 1).  With SECONDS: sleep, connect to the
 * same address again, resolve again and connect: " after=... again=...".
 * resolve NAME PORT --wait FILE: "resolved addr=A" as soon as resolved,
 * then once FILE exists (wait_for_file) the connect: "connect=...".
 * resolve NAME PORT --again FILE: the same, but once FILE exists NAME is
 * resolved again (a new lookup, a new DNS connection) before the
 * connect: "again addr=A connect=..." or "again gai=CODE".
 */
static int
cmd_resolve(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char addr[INET6_ADDRSTRLEN];
	const char *first;
	bool again = argc == 5 && strcmp(argv[3], "--again") == 0;
	bool wait = again || (argc == 5 && strcmp(argv[3], "--wait") == 0);
	int r;

	if (argc != 3 && argc != 4 && !wait)
		return usage("resolve NAME PORT [SECONDS | --wait FILE | "
		    "--again FILE]");
	if ((r = lookup(argv[1], argv[2], &ss, &len, addr,
	    sizeof(addr))) != 0) {
		printf("gai=%d\n", r);
		return 1;
	}
	if (wait) {
		printf("resolved addr=%s\n", addr);
		fflush(stdout);
		wait_for_file(argv[4]);
		if (again && (r = lookup(argv[1], argv[2], &ss, &len, addr,
		    sizeof(addr))) != 0) {
			printf("again gai=%d\n", r);
			return 1;
		}
		if (again)
			printf("again addr=%s ", addr);
		first = try_connect(&ss, len);
		printf("connect=%s\n", first);
		return strcmp(first, "ok") == 0 ? 0 : 1;
	}
	first = try_connect(&ss, len);
	printf("ok addr=%s connect=%s", addr, first);
	if (argc == 4) {
		sleep((unsigned)atoi(argv[3]));
		printf(" after=%s", try_connect(&ss, len));
		if ((r = lookup(argv[1], argv[2], &ss, &len, addr,
		    sizeof(addr))) != 0)
			printf(" again=gai%d", r);
		else
			printf(" again=%s", try_connect(&ss, len));
	}
	printf("\n");
	return strcmp(first, "ok") == 0 ? 0 : 1;
}

#define RESOLVE_THREADS_MAX 8

/* One thread of resolve-threads: its name, port, and what it found. */
struct resolve_thread {
	pthread_barrier_t *start;
	const char *name, *port;
	char addr[INET6_ADDRSTRLEN];
	const char *connect;
	int gai;
};

static void *
resolve_thread_main(void *arg)
{
	struct resolve_thread *t = arg;
	struct sockaddr_storage ss;
	socklen_t len;

	pthread_barrier_wait(t->start);
	if ((t->gai = lookup(t->name, t->port, &ss, &len, t->addr,
	    sizeof(t->addr))) == 0)
		t->connect = try_connect(&ss, len);
	return NULL;
}

/*
 * resolve-threads PORT NAME...: one thread per NAME (8 at most), let go
 * together, each a getaddrinfo of its name and a TCP connect to the first
 * address on PORT, so that their questions reach the resolver at once:
 * "NAME=ADDR/connect=ok|ERRNO" (or "NAME=gai=CODE") for each, in the
 * order given, separated by spaces; exit 0 when every one connected.
 */
static int
cmd_resolve_threads(int argc, char **argv)
{
	struct resolve_thread t[RESOLVE_THREADS_MAX];
	pthread_t id[RESOLVE_THREADS_MAX];
	pthread_barrier_t start;
	int n = argc - 2, status = 0;

	if (argc < 3 || n > RESOLVE_THREADS_MAX)
		return usage("resolve-threads PORT NAME... (8 at most)");
	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		t[i] = (struct resolve_thread){ .start = &start,
		    .name = argv[i + 2], .port = argv[1], .connect = "-" };
		if (pthread_create(&id[i], NULL, resolve_thread_main,
		    &t[i]) != 0) {
			perror("zt-probe: pthread_create");
			return 1;	/* the others wait at the barrier */
		}
	}
	for (int i = 0; i < n; i++) {
		pthread_join(id[i], NULL);
		if (t[i].gai != 0) {
			printf("%s%s=gai=%d", i ? " " : "", t[i].name,
			    t[i].gai);
			status = 1;
			continue;
		}
		printf("%s%s=%s/connect=%s", i ? " " : "", t[i].name,
		    t[i].addr, t[i].connect);
		if (strcmp(t[i].connect, "ok") != 0)
			status = 1;
	}
	printf("\n");
	pthread_barrier_destroy(&start);
	return status;
}

/* resolve-send NAME PORT TEXT: getaddrinfo, a TCP connect to the first
 * address, TEXT and a newline sent, the reply line read: "ok REPLY", or
 * "gai=CODE" / "errno=NAME" (exit 1). */
static int
cmd_resolve_send(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char addr[INET6_ADDRSTRLEN];
	int r, fd;

	if (argc != 4)
		return usage("resolve-send NAME PORT TEXT");
	if ((r = lookup(argv[1], argv[2], &ss, &len, addr,
	    sizeof(addr))) != 0) {
		printf("gai=%d\n", r);
		return 1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0)
		return fail(errno);
	if (send(fd, argv[3], strlen(argv[3]), MSG_NOSIGNAL) < 0 ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) < 0)
		return fail(errno);
	return reply_or_fail(fd);
}

/* VmRSS of process PID in kB, or -1. */
static long
rss_of(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* resolve-loop PREFIX SUFFIX COUNT [MARK]: getaddrinfo of PREFIX<i>SUFFIX
 * for i in 0..COUNT-1: "ok resolved=N failed=M"; with MARK, the parent's
 * resident memory after MARK names and at the end: " rss_mark=KB
 * rss_end=KB". */
static int
cmd_resolve_loop(int argc, char **argv)
{
	unsigned long resolved = 0, failed = 0;
	long count, mark = -1, rss_mark = -1;

	if ((argc != 4 && argc != 5) || (count = atol(argv[3])) <= 0)
		return usage("resolve-loop PREFIX SUFFIX COUNT [MARK]");
	if (argc == 5)
		mark = atol(argv[4]);
	for (long i = 0; i < count; i++) {
		if (i == mark)
			rss_mark = rss_of(getppid());
		struct addrinfo hints = { .ai_family = AF_INET,
		    .ai_socktype = SOCK_STREAM }, *res = NULL;
		char name[300];

		snprintf(name, sizeof(name), "%s%ld%s", argv[1], i, argv[2]);
		if (getaddrinfo(name, "80", &hints, &res) == 0) {
			resolved++;
			freeaddrinfo(res);
		} else
			failed++;
	}
	printf("ok resolved=%lu failed=%lu", resolved, failed);
	if (mark >= 0)
		printf(" rss_mark=%ld rss_end=%ld", rss_mark,
		    rss_of(getppid()));
	printf("\n");
	return 0;
}

/* HEX (a DNS message without the length prefix) into MSG with its
 * length prefix: the message's length, or 0 when HEX is not one. */
static size_t
dns_from_hex(const char *hex, uint8_t *msg, size_t size)
{
	size_t n = 0;

	if (strlen(hex) % 2 != 0 || strlen(hex) / 2 > size - 2)
		return 0;
	for (const char *h = hex; *h != '\0'; h += 2) {
		unsigned v;

		if (sscanf(h, "%2x", &v) != 1)
			return 0;
		msg[2 + n++] = (uint8_t)v;
	}
	msg[0] = (uint8_t)(n >> 8);
	msg[1] = (uint8_t)n;
	return n;
}

/* Past the name at AT of MSG (LEN bytes; a pointer ends it): where it
 * ends, or 0. */
static size_t
skip_name(const uint8_t *msg, size_t len, size_t at)
{
	while (at < len && msg[at] != 0) {
		if ((msg[at] & 0xc0) == 0xc0)
			return at + 2 <= len ? at + 2 : 0;
		at += 1 + msg[at];
	}
	return at < len ? at + 1 : 0;
}

/* The TTL of the first answer record of the reply MSG (LEN bytes, one
 * question), or -1 when it has none. */
static long
first_ttl(const uint8_t *msg, size_t len)
{
	size_t at;

	if (len < 12 || (msg[4] << 8 | msg[5]) != 1 ||
	    (msg[6] << 8 | msg[7]) == 0 ||
	    (at = skip_name(msg, len, 12)) == 0 ||
	    (at = skip_name(msg, len, at + 4)) == 0 || at + 8 > len)
		return -1;
	return (long)((uint32_t)msg[at + 4] << 24 | msg[at + 5] << 16 |
	    msg[at + 6] << 8 | msg[at + 7]);
}

/* Send MSG (N bytes after its length prefix) on FD and read one reply:
 * "rcode=N qd=N an=N ar=N bytes=N" (and " ttl=N", the first answer
 * record's, when there is one) into OUT, or "closed" when the server
 * closed without one.  0, or -errno when the send failed. */
static int
dns_ask(int fd, const uint8_t *msg, size_t n, char *out, size_t size)
{
	static uint8_t reply[65537];
	size_t got = 0, want = 0;

	if (send(fd, msg, n + 2, MSG_NOSIGNAL) < 0)
		return -errno;
	for (;;) {
		ssize_t r = recv(fd, reply + got, sizeof(reply) - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got >= 2)
			want = (size_t)(reply[0] << 8 | reply[1]) + 2;
		if (want != 0 && got >= want)
			break;
	}
	if (got < 2 + 12 || got < want)
		snprintf(out, size, "closed");
	else {
		long ttl = first_ttl(reply + 2, want - 2);
		int put = snprintf(out, size, "rcode=%u qd=%u an=%u ar=%u "
		    "bytes=%zu", reply[5] & 0x0f, reply[6] << 8 | reply[7],
		    reply[8] << 8 | reply[9], reply[12] << 8 | reply[13],
		    want - 2);

		if (ttl >= 0 && put > 0 && (size_t)put < size)
			snprintf(out + put, size - (size_t)put, " ttl=%ld",
			    ttl);
	}
	return 0;
}

/*
 * dns-tcp ADDR PORT HEX: one DNS message (HEX, without the length
 * prefix) over TCP; prints "ok rcode=N qd=N an=N ar=N bytes=N" of the reply,
 * or "ok closed" when the server closed without one.
 */
static int
cmd_dns_tcp(int argc, char **argv)
{
	uint8_t msg[4098];
	char out[128];
	size_t n;
	int fd, r;

	if (argc != 4 || (n = dns_from_hex(argv[3], msg, sizeof(msg))) == 0)
		return usage("dns-tcp ADDR PORT HEX");
	if ((fd = tcp_connect(argv[1], argv[2])) < 0)
		return fail(-fd);
	set_timeout(fd, 10);
	if ((r = dns_ask(fd, msg, n, out, sizeof(out))) < 0)
		return fail(-r);
	close(fd);
	printf("ok %s\n", out);
	return 0;
}

/*
 * dns-hold ADDR PORT HEX TO PORT2 FILE: on one TCP connection to
 * ADDR:PORT, the DNS message HEX, then a TCP connect to TO:PORT2; prints
 * "first REPLY connect=ok|ERRNO" (REPLY as dns-tcp says it).  Then, once
 * FILE exists (looked for every 50 ms, 120 s at most), the same message
 * again on the same connection and the same connect: "again REPLY
 * connect=...".
 */
static int
cmd_dns_hold(int argc, char **argv)
{
	struct sockaddr_storage to;
	socklen_t to_len;
	uint8_t msg[4098];
	char out[128];
	size_t n;
	int fd, r;

	if (argc != 7 || (n = dns_from_hex(argv[3], msg, sizeof(msg))) == 0 ||
	    !parse_sockaddr(argv[4], argv[5], &to, &to_len))
		return usage("dns-hold ADDR PORT HEX TO PORT2 FILE");
	if ((fd = tcp_connect(argv[1], argv[2])) < 0)
		return fail(-fd);
	set_timeout(fd, 10);
	if ((r = dns_ask(fd, msg, n, out, sizeof(out))) < 0)
		return fail(-r);
	printf("first %s connect=%s\n", out, try_connect(&to, to_len));
	fflush(stdout);
	wait_for_file(argv[6]);
	if ((r = dns_ask(fd, msg, n, out, sizeof(out))) < 0)
		snprintf(out, sizeof(out), "send=%s", strerrorname_np(-r));
	printf("again %s connect=%s\n", out, try_connect(&to, to_len));
	close(fd);
	return 0;
}

/* now: the CLOCK_MONOTONIC time in ms, as loop-connect prints it */
static int
cmd_now(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage("now");
	printf("t=%lld\n", now_ms());
	return 0;
}

/* ------------------------------------------------------------ syscalls */

static long
sys_ptrace(void)
{
	return syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
}

static long
sys_seccomp(void)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = 1, .filter = &allow };

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static long
sys_io_uring_setup(void)
{
	/* struct io_uring_params, all zero: 120 bytes. */
	uint64_t params[16] = { 0 };
	long r = syscall(NR_IO_URING_SETUP, 1, params);

	if (r >= 0)
		close((int)r);
	return r;
}

/* Into our own memory: the kernel allows that, so EPERM is the filter's. */
static long
sys_process_vm_writev(void)
{
	static char target[8];
	char source[8] = "written";
	struct iovec local = { .iov_base = source, .iov_len = sizeof(source) };
	struct iovec remote = { .iov_base = target, .iov_len = sizeof(target) };

	return syscall(SYS_process_vm_writev, (pid_t)syscall(SYS_getpid),
	    &local, 1UL, &remote, 1UL, 0UL);
}

static long
sys_userfaultfd(void)
{
	long r = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);

	if (r >= 0)
		close((int)r);
	return r;
}

static long
sys_unshare(void)
{
	return syscall(SYS_unshare, CLONE_NEWUSER);
}

static long
sys_keyctl(void)
{
	/* KEYCTL_GET_KEYRING_ID of KEY_SPEC_SESSION_KEYRING, no create. */
	return syscall(SYS_keyctl, 0, -3, 0);
}

static long
sys_bpf(void)
{
	/* BPF_MAP_CREATE with an empty attribute: never creates a map. */
	return syscall(SYS_bpf, 0, NULL, 0);
}

static long
sys_mount(void)
{
	/* A target that does not exist: harmless even where it is allowed. */
	return syscall(SYS_mount, "none", "/nonexistent/zt-probe", "tmpfs",
	    0UL, NULL);
}

static long
sys_prctl_seccomp(void)
{
	long r = syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_STRICT,
	    0, 0, 0);

	if (r == 0) {
		/* Strict mode: write and exit are all that is left. */
		static const char line[] = "ok strict\n";

		fflush(stdout);
		if (write(1, line, sizeof(line) - 1) < 0)
			syscall(SYS_exit, 1);
		syscall(SYS_exit, 0);
	}
	return r;
}

static long
sys_prctl_dumpable(void)
{
	return syscall(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static long
sys_unknown(void)
{
	return syscall(NR_UNKNOWN, 0, 0, 0);
}

/* A child ended by a raw clone: it must not run on in our code. */
static long
reap_clone(long r)
{
	if (r == 0)
		syscall(SYS_exit, 0);
	if (r > 0)
		waitpid((pid_t)r, NULL, __WALL);
	return r;
}

static long
sys_clone3(void)
{
	/* struct clone_args, all zero (a fork without exit signal). */
	uint64_t args[11] = { 0 };

	return reap_clone(syscall(NR_CLONE3, args, sizeof(args)));
}

static long
sys_clone_newuser(void)
{
	return reap_clone(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD,
	    NULL, NULL, NULL, 0UL));
}

static long
sys_setuid(void)
{
	return syscall(SYS_setuid, getuid());
}

static long
sys_getpid(void)
{
	return syscall(SYS_getpid);
}

static long
sys_tiocsti(void)
{
	char c = 'x';

	return syscall(SYS_ioctl, 0, TIOCSTI, &c);
}

/* The same with garbage in the upper half of the command register: the
 * kernel reads an unsigned int, so a filter must compare 32 bits. */
static long
sys_tiocsti_high(void)
{
	char c = 'x';

	return syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI | (1ul << 32), &c);
}

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

/* SO_PASSRIGHTS back on for a unix socket: the filter refuses it. */
static long
passrights(unsigned long high)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;

	if (fd < 0)
		return -1;
	return syscall(SYS_setsockopt, fd, (unsigned long)SOL_SOCKET | high,
	    (unsigned long)SO_PASSRIGHTS | high, &on, sizeof(on));
}

static long
sys_passrights(void)
{
	return passrights(0);
}

/* With garbage in the upper halves: the kernel reads ints. */
static long
sys_passrights_high(void)
{
	return passrights(1ul << 32);
}

/* The Landlock ABI version the kernel offers (ungated, never confining). */
static long
sys_landlock_abi(void)
{
	return syscall(NR_LANDLOCK_CREATE_RULESET, NULL, 0UL,
	    LANDLOCK_CREATE_RULESET_VERSION);
}

static const struct {
	const char *name;
	long (*call)(void);
} syscalls[] = {
	{ "ptrace", sys_ptrace },
	{ "seccomp", sys_seccomp },
	{ "io_uring_setup", sys_io_uring_setup },
	{ "process_vm_writev", sys_process_vm_writev },
	{ "userfaultfd", sys_userfaultfd },
	{ "unshare", sys_unshare },
	{ "keyctl", sys_keyctl },
	{ "bpf", sys_bpf },
	{ "mount", sys_mount },
	{ "prctl_seccomp", sys_prctl_seccomp },
	{ "prctl_dumpable", sys_prctl_dumpable },
	{ "unknown", sys_unknown },
	{ "clone3", sys_clone3 },
	{ "clone_newuser", sys_clone_newuser },
	{ "setuid", sys_setuid },
	{ "getpid", sys_getpid },
	{ "tiocsti", sys_tiocsti },
	{ "tiocsti_high", sys_tiocsti_high },
	{ "passrights", sys_passrights },
	{ "passrights_high", sys_passrights_high },
	{ "landlock_abi", sys_landlock_abi },
};

/* syscall NAME: ok rc=N | errno=NAME */
static int
cmd_syscall(int argc, char **argv)
{
	if (argc != 2)
		return usage("syscall NAME");
	for (size_t i = 0; i < sizeof(syscalls) / sizeof(syscalls[0]); i++) {
		long r;

		if (strcmp(argv[1], syscalls[i].name) != 0)
			continue;
		r = syscalls[i].call();
		if (r < 0)
			return fail(errno);
		printf("ok rc=%ld\n", r);
		return 0;
	}
	return usage("syscall ptrace|seccomp|io_uring_setup|"
	    "process_vm_writev|userfaultfd|unshare|keyctl|bpf|mount|"
	    "prctl_seccomp|prctl_dumpable|unknown|clone3|clone_newuser|"
	    "setuid|getpid|tiocsti|landlock_abi");
}

#if defined(__x86_64__)
static long
x32_getpid(void)
{
	long r;

	__asm__ volatile("syscall"
	    : "=a"(r)
	    : "0"(X32_SYSCALL_BIT | X32_NR_GETPID)
	    : "rcx", "r11", "memory");
	return r;
}

static long
int80_getpid(void)
{
	long r;

	__asm__ volatile("int $0x80"
	    : "=a"(r)
	    : "0"(I386_NR_GETPID)
	    : "r8", "r9", "r10", "r11", "memory");
	return r;
}

/* x32 | int80: the other ABIs' getpid, in a child that may not survive */
static int
cmd_abi(int argc, char **argv)
{
	long (*call)(void) = strcmp(argv[0], "x32") == 0 ? x32_getpid :
	    int80_getpid;
	int pipefd[2], status;
	long rc = 0;
	ssize_t n;
	pid_t pid;

	(void)argc;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return fail(errno);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return fail(errno);
	if (pid == 0) {
		rc = call();
		n = write(pipefd[1], &rc, sizeof(rc));
		_exit(n == (ssize_t)sizeof(rc) ? 0 : 1);
	}
	close(pipefd[1]);
	do
		n = read(pipefd[0], &rc, sizeof(rc));
	while (n < 0 && errno == EINTR);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return fail(errno);
	if (WIFSIGNALED(status))
		printf("killed signal=%d\n", WTERMSIG(status));
	else
		printf("ok survived rc=%ld\n", rc);
	return 0;
}
#else
static int
cmd_abi(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr, "zt-probe: %s: x86-64 only\n", argv[0]);
	return 2;
}
#endif

/* ------------------------------------------------------------ races */

/* A thread flipping SHARED between A and B until told to stop. */
struct flip {
	char *shared;
	const char *a, *b;
	size_t len;
	atomic_bool stop;
	unsigned long flips;
};

static void *
flipper(void *arg)
{
	struct flip *f = arg;

	while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
		memcpy(f->shared, f->a, f->len);
		/* Keep both stores: the other threads read in between. */
		__asm__ volatile("" ::: "memory");
		memcpy(f->shared, f->b, f->len);
		__asm__ volatile("" ::: "memory");
		f->flips++;
	}
	return NULL;
}

static bool
deadline_passed(long long deadline)
{
	return deadline != 0 && now_ms() >= deadline;
}

static bool
parse_deadline(int argc, char **argv, int at, long long *deadline)
{
	unsigned long s;

	*deadline = 0;
	if (argc <= at)
		return true;
	if (!parse_ulong(argv[at], 86400, &s))
		return false;
	*deadline = now_ms() + (long long)s * 1000;
	return true;
}

/*
 * race-connect GOOD_ADDR GOOD_PORT BAD_ADDR BAD_PORT N [SECONDS]: N TCP
 * connects (or as many as SECONDS allow) to a sockaddr another thread
 * flips between GOOD and BAD.
 */
static int
cmd_race_connect(int argc, char **argv)
{
	static const char *use = "race-connect GOOD_ADDR GOOD_PORT "
	    "BAD_ADDR BAD_PORT N [SECONDS]";
	struct sockaddr_storage good, bad, shared, peer;
	unsigned long n, i, good_n = 0, bad_n = 0, refused = 0, other = 0;
	struct flip f = { .a = (char *)&good, .b = (char *)&bad };
	socklen_t len, bad_len;
	long long deadline;
	int first_other = 0;
	char buf[16];
	pthread_t t;

	if (argc < 6 || argc > 7 ||
	    !parse_sockaddr(argv[1], argv[2], &good, &len) ||
	    !parse_sockaddr(argv[3], argv[4], &bad, &bad_len) ||
	    good.ss_family != bad.ss_family ||
	    !parse_ulong(argv[5], ULONG_MAX, &n) ||
	    !parse_deadline(argc, argv, 6, &deadline))
		return usage(use);
	shared = good;
	f.shared = (char *)&shared;
	f.len = len;
	if ((errno = pthread_create(&t, NULL, flipper, &f)) != 0)
		return fail(errno);
	for (i = 0; i < n && !deadline_passed(deadline); i++) {
		socklen_t peer_len = sizeof(peer);
		int fd = socket(good.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			other++;
			first_other = first_other ? first_other : errno;
			continue;
		}
		if (connect(fd, (struct sockaddr *)&shared, len) == 0) {
			if (getpeername(fd, (struct sockaddr *)&peer,
			    &peer_len) == 0 &&
			    memcmp(&peer, &good, len) == 0)
				good_n++;
			else
				bad_n++;
		} else if (errno == EACCES || errno == ECONNREFUSED ||
		    errno == EPERM) {
			refused++;
		} else {
			other++;
			first_other = first_other ? first_other : errno;
		}
		close_reset(fd);
	}
	atomic_store(&f.stop, true);
	pthread_join(t, NULL);
	printf("ok connected_good=%lu connected_bad=%lu refused=%lu other=%lu "
	    "first_other=%s iterations=%lu flips=%lu\n", good_n, bad_n,
	    refused, other, first_other ? errname(first_other, buf) : "-", i,
	    f.flips);
	return 0;
}

struct race_child {
	const char *path;
	char *const *argv;
	char *const *envp;
	int err;
};

/* In the address space of the parent (CLONE_VM): only execve and exit. */
static int
race_child_main(void *arg)
{
	struct race_child *c = arg;

	execve(c->path, c->argv, c->envp);
	c->err = errno;
	_exit(127);
}

/*
 * race-exec GOOD_PATH BAD_PATH N [SECONDS]: N times (or as many as SECONDS
 * allow) a child sharing our memory execs a path another thread flips
 * between GOOD and BAD (of equal length).  GOOD exits 0, BAD exits 42.
 * race-exec-env PATH GOOD_ENTRY BAD_ENTRY N [SECONDS]: the same with PATH
 * fixed and its one environment entry flipped (exit 0 either way: what
 * ran with BAD must be told by its effects).
 * race-exec-argv PATH ARG1 GOOD_ARG BAD_ARG N [SECONDS]: the same with PATH
 * fixed and its argv "PATH ARG1 X", X flipped between GOOD_ARG and BAD_ARG
 * (a zt-probe copy run as "exit NN" tells them apart by its status).
 */
static int
cmd_race_exec(int argc, char **argv)
{
	static const char *use = "race-exec GOOD_PATH BAD_PATH N [SECONDS] "
	    "(paths of equal length) | race-exec-env PATH GOOD_ENTRY "
	    "BAD_ENTRY N [SECONDS]";
	unsigned long n, i, good_n = 0, bad_n = 0, killed = 0, failed = 0;
	char *child_argv[] = { (char *)"race-exec-child", NULL, NULL, NULL };
	char shared[PATH_MAX] = "";
	char *const child_envp[] = { shared, NULL };
	struct flip f = { .shared = shared };
	struct race_child c = { .path = shared, .argv = child_argv,
	    .envp = environ };
	long long deadline;
	int first_err = 0;
	char *stack, buf[16];
	pthread_t t;

	if (strcmp(argv[0], "race-exec-env") == 0 && argc >= 2) {
		c.path = argv[1];
		c.envp = child_envp;
		argc--;
		argv++;
	} else if (strcmp(argv[0], "race-exec-argv") == 0 && argc >= 3) {
		c.path = argv[1];
		child_argv[0] = argv[1];
		child_argv[1] = argv[2];
		child_argv[2] = shared;
		argc -= 2;
		argv += 2;
	}
	if (argc < 4 || argc > 5 || strlen(argv[1]) != strlen(argv[2]) ||
	    strlen(argv[1]) >= sizeof(shared) ||
	    !parse_ulong(argv[3], ULONG_MAX, &n) ||
	    !parse_deadline(argc, argv, 4, &deadline))
		return usage(use);
	f.a = argv[1];
	f.b = argv[2];
	f.len = strlen(argv[1]);
	memcpy(shared, argv[1], f.len + 1);
	stack = malloc(RACE_STACK);
	if (stack == NULL)
		return fail(ENOMEM);
	if ((errno = pthread_create(&t, NULL, flipper, &f)) != 0)
		return fail(errno);
	for (i = 0; i < n && !deadline_passed(deadline); i++) {
		int status;
		pid_t pid;

		c.err = 0;
		pid = clone(race_child_main, stack + RACE_STACK,
		    CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
		if (pid < 0) {
			failed++;
			first_err = first_err ? first_err : errno;
			continue;
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(status))
			killed++;
		else if (WEXITSTATUS(status) == 0)
			good_n++;
		else if (WEXITSTATUS(status) == 42)
			bad_n++;
		else {
			failed++;
			first_err = first_err ? first_err :
			    c.err ? c.err : -WEXITSTATUS(status);
		}
	}
	atomic_store(&f.stop, true);
	pthread_join(t, NULL);
	free(stack);
	printf("ok good=%lu bad=%lu killed=%lu failed=%lu first_failure=%s "
	    "iterations=%lu flips=%lu\n", good_n, bad_n, killed, failed,
	    first_err > 0 ? errname(first_err, buf) :
	    first_err < 0 ? "exit-status" : "-", i, f.flips);
	return 0;
}

/* ------------------------------------------------------------ faults */

/* unmapped: connect() and execve() with pointers into an unmapped page */
static int
cmd_unmapped(int argc, char **argv)
{
	char *const child_argv[] = { (char *)"unmapped", NULL };
	long page = sysconf(_SC_PAGESIZE);
	char end[32], buf1[16], buf2[16];
	int fd, connect_err = 0, exec_err;
	void *p;

	(void)argv;
	if (argc != 1)
		return usage("unmapped");
	p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || munmap(p, (size_t)page) < 0)
		return fail(errno);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(errno);
	if (connect(fd, p, sizeof(struct sockaddr_in)) < 0)
		connect_err = errno;
	exec_err = fork_exec(p, child_argv, environ, end, sizeof(end));
	printf("ok connect=%s exec=%s\n", errname(connect_err, buf1),
	    errname(exec_err, buf2));
	return 0;
}

/* Connect to TO, then close with a reset; 0 or the errno. */
static int
connect_once(const struct sockaddr_storage *to, socklen_t len)
{
	int fd = socket(to->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), e = 0;

	if (fd < 0)
		return errno;
	if (connect(fd, (const struct sockaddr *)to, len) < 0)
		e = errno;
	close_reset(fd);
	return e;
}

/*
 * die-mid GOOD_ADDR GOOD_PORT BAD_ADDR BAD_PORT N: N times, a child
 * connects to GOOD and BAD in a loop and is SIGKILLed after 0-3 ms, most
 * likely while its connect waits for a decision.  Then one connect to
 * GOOD: "ok killed=N final=ok|errno=NAME".
 */
static int
cmd_die_mid(int argc, char **argv)
{
	struct sockaddr_storage good, bad;
	socklen_t good_len, bad_len;
	unsigned long n, killed = 0;
	unsigned seed = (unsigned)getpid();
	char buf[16];
	int e;

	if (argc != 6 || !parse_sockaddr(argv[1], argv[2], &good, &good_len) ||
	    !parse_sockaddr(argv[3], argv[4], &bad, &bad_len) ||
	    !parse_ulong(argv[5], 100000, &n))
		return usage("die-mid GOOD_ADDR GOOD_PORT BAD_ADDR BAD_PORT N");
	fflush(stdout);
	for (unsigned long i = 0; i < n; i++) {
		struct timespec ts = { .tv_nsec = (long)(rand_r(&seed) % 3000) *
		    1000 };
		pid_t pid = fork();

		if (pid < 0)
			return fail(errno);
		if (pid == 0) {
			for (;;) {
				connect_once(&good, good_len);
				connect_once(&bad, bad_len);
			}
		}
		nanosleep(&ts, NULL);
		if (kill(pid, SIGKILL) == 0)
			killed++;
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	e = connect_once(&good, good_len);
	printf("ok killed=%lu final=%s%s\n", killed, e ? "errno=" : "ok",
	    e ? errname(e, buf) : "");
	return 0;
}

/* ------------------------------------------------------------ load */

struct hammer {
	struct sockaddr_storage to;
	socklen_t len;
	unsigned long calls;
	bool setuid;
	atomic_ulong allowed, denied, errors;
	atomic_int first_error;
};

static void
hammer_count(struct hammer *h, long r, int e)
{
	int none = 0;

	if (r >= 0) {
		atomic_fetch_add(&h->allowed, 1);
	} else if (e == EACCES || e == EPERM || e == ECONNREFUSED) {
		atomic_fetch_add(&h->denied, 1);
	} else {
		atomic_fetch_add(&h->errors, 1);
		atomic_compare_exchange_strong(&h->first_error, &none, e);
	}
}

static void *
hammer_thread(void *arg)
{
	struct hammer *h = arg;

	for (unsigned long i = 0; i < h->calls; i++) {
		int fd = socket(h->to.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		long r;

		if (fd < 0) {
			hammer_count(h, -1, errno);
		} else {
			r = connect(fd, (struct sockaddr *)&h->to, h->len);
			hammer_count(h, r, errno);
			close_reset(fd);
		}
		if (h->setuid) {
			r = syscall(SYS_setuid, getuid());
			hammer_count(h, r, errno);
		}
	}
	return NULL;
}

/* hammer N_THREADS N_CALLS ADDR PORT [setuid] */
static int
cmd_hammer(int argc, char **argv)
{
	static pthread_t threads[HAMMER_THREADS_MAX];
	struct hammer h = { .setuid = argc == 6 };
	unsigned long n, started = 0;
	pthread_attr_t attr;
	char buf[16];
	int e;

	if (argc < 5 || argc > 6 ||
	    !parse_ulong(argv[1], HAMMER_THREADS_MAX, &n) || n == 0 ||
	    !parse_ulong(argv[2], ULONG_MAX, &h.calls) ||
	    !parse_sockaddr(argv[3], argv[4], &h.to, &h.len) ||
	    (argc == 6 && strcmp(argv[5], "setuid") != 0))
		return usage("hammer N_THREADS N_CALLS ADDR PORT [setuid]");
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	for (; started < n; started++) {
		e = pthread_create(&threads[started], &attr, hammer_thread, &h);
		if (e != 0) {
			hammer_count(&h, -1, e);
			break;
		}
	}
	for (unsigned long i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_attr_destroy(&attr);
	e = atomic_load(&h.first_error);
	printf("ok allowed=%lu denied=%lu errors=%lu threads=%lu "
	    "first_error=%s\n", atomic_load(&h.allowed),
	    atomic_load(&h.denied), atomic_load(&h.errors), started,
	    e ? errname(e, buf) : "-");
	return 0;
}

/* One TCP connect to TO that sends TEXT and a newline and reads the reply
 * line into REPLY; 0 or an errno. */
static int
exchange_once(const struct sockaddr_storage *to, socklen_t len,
    const char *text, char *reply, size_t size)
{
	int fd = socket(to->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), e = 0;

	if (fd < 0)
		return errno;
	if (connect(fd, (const struct sockaddr *)to, len) < 0 ||
	    send(fd, text, strlen(text), MSG_NOSIGNAL) < 0 ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) < 0)
		e = errno;
	else
		e = -read_reply(fd, reply, size);
	close(fd);
	return e;
}

/*
 * loop-connect ADDR PORT INTERVAL_MS COUNT [SEND_TEXT]: one TCP connect
 * per line, "t=MS ok getpid=ok" or "t=MS errno=NAME getpid=ok" (t:
 * CLOCK_MONOTONIC).  With SEND_TEXT each connection sends it and reads a
 * reply line: "t=MS ok REPLY getpid=ok" (the server took the connection,
 * not only the handshake).
 */
static int
cmd_loop_connect(int argc, char **argv)
{
	struct sockaddr_storage ss;
	unsigned long interval, count;
	socklen_t len;
	char b1[16], b2[16], reply[REPLY_MAX];

	if ((argc != 5 && argc != 6) ||
	    !parse_sockaddr(argv[1], argv[2], &ss, &len) ||
	    !parse_ulong(argv[3], 60000, &interval) ||
	    !parse_ulong(argv[4], ULONG_MAX, &count))
		return usage("loop-connect ADDR PORT INTERVAL_MS COUNT "
		    "[SEND_TEXT]");
	for (unsigned long i = 0; i < count; i++) {
		long long t = now_ms();
		int e, pe = 0;

		reply[0] = '\0';
		e = argc == 6 ? exchange_once(&ss, len, argv[5], reply,
		    sizeof(reply)) : connect_once(&ss, len);
		if (syscall(SYS_getpid) < 0)
			pe = errno;
		printf("t=%lld %s%s%s%s getpid=%s%s\n", t, e ? "errno=" : "ok",
		    e ? errname(e, b1) : "", !e && argc == 6 ? " " : "",
		    !e && argc == 6 ? reply : "", pe ? "errno=" : "ok",
		    pe ? errname(pe, b2) : "");
		fflush(stdout);
		if (i + 1 < count)
			sleep_ms(interval);
	}
	return 0;
}

/*
 * step-connect ADDR PORT TEXT: for each line read on stdin (until its
 * end), one TCP connection that sends TEXT and reads a reply line;
 * prints "ok REPLY" or "errno=NAME" for each.  The test decides when
 * each connect happens (what changed before it), not a clock.
 */
static int
cmd_step_connect(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char line[64], b[16], reply[REPLY_MAX];

	if (argc != 4 || !parse_sockaddr(argv[1], argv[2], &ss, &len))
		return usage("step-connect ADDR PORT TEXT");
	while (fgets(line, sizeof(line), stdin) != NULL) {
		int e;

		reply[0] = '\0';
		e = exchange_once(&ss, len, argv[3], reply, sizeof(reply));
		if (e)
			printf("errno=%s\n", errname(e, b));
		else
			printf("ok %s\n", reply);
		fflush(stdout);
	}
	return 0;
}

/* ------------------------------------------------------------ main */

/* ------------------------------------------------------------ metadata */

/*
 * meta OP PATH: change PATH's metadata (or watch it) the way OP says, on
 * the agent's own file, to a value that changes it:
 *   chmod fchmodat lchown chown fchownat utimes utimensat setxattr
 *   removexattr watch: the path calls;
 *   fchmod futimens fsetxattr: on a descriptor opened for reading;
 *   opath-chown opath-utimens: fchownat/utimensat with AT_EMPTY_PATH on
 *   an O_PATH descriptor (which Landlock does not check);
 *   setflags fssetxattr: FS_IOC_SETFLAGS (nodump) and FS_IOC_FSSETXATTR
 *   (the nodump xflag) on a descriptor opened for reading;
 *   fchmodat2 setxattrat removexattrat file_setattr: the path calls of
 *   Linux 6.6, 6.13 and 6.17 (by number: glibc 2.36 has no wrappers).
 * Prints ok or errno=NAME.
 */
#define NR_FCHMODAT2 452
#define NR_SETXATTRAT 463
#define NR_REMOVEXATTRAT 466
#define NR_FILE_GETATTR 468
#define NR_FILE_SETATTR 469

static int
cmd_meta(int argc, char **argv)
{
	const char *op, *path;
	int fd = -1, r;

	if (argc != 3)
		return usage("meta OP PATH");
	op = argv[1];
	path = argv[2];
	if (strcmp(op, "chmod") == 0)
		r = chmod(path, 0644);
	else if (strcmp(op, "fchmodat") == 0)
		r = fchmodat(AT_FDCWD, path, 0644, 0);
	else if (strcmp(op, "chown") == 0)
		r = chown(path, getuid(), getgid());
	else if (strcmp(op, "lchown") == 0)
		r = lchown(path, getuid(), getgid());
	else if (strcmp(op, "fchownat") == 0)
		r = fchownat(AT_FDCWD, path, getuid(), getgid(), 0);
	else if (strcmp(op, "utimes") == 0)
		r = utimes(path, NULL);
	else if (strcmp(op, "utimensat") == 0) {
		struct timespec ts[2] = { { 1000, 0 }, { 1000, 0 } };

		r = utimensat(AT_FDCWD, path, ts, 0);
	} else if (strcmp(op, "setxattr") == 0)
		r = setxattr(path, "user.zt", "x", 1, 0);
	else if (strcmp(op, "removexattr") == 0)
		r = removexattr(path, "user.zt");
	else if (strcmp(op, "watch") == 0) {
		int in = inotify_init1(IN_CLOEXEC);

		r = in < 0 ? -1 : inotify_add_watch(in, path, IN_MODIFY);
	} else if (strcmp(op, "fchmod") == 0 || strcmp(op, "futimens") == 0 ||
	    strcmp(op, "fsetxattr") == 0) {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return fail(errno);
		r = op[1] == 'c' ? fchmod(fd, 0644) : op[1] == 'u' ?
		    futimens(fd, NULL) : fsetxattr(fd, "user.zt", "y", 1, 0);
	} else if (strcmp(op, "setflags") == 0 ||
	    strcmp(op, "fssetxattr") == 0) {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return fail(errno);
		if (op[1] == 'e') {
			int flags = 0;

			r = ioctl(fd, FS_IOC_GETFLAGS, &flags);
			flags |= FS_NODUMP_FL;
			if (r == 0)
				r = ioctl(fd, FS_IOC_SETFLAGS, &flags);
		} else {
			struct fsxattr fsx;

			r = ioctl(fd, FS_IOC_FSGETXATTR, &fsx);
			fsx.fsx_xflags |= FS_XFLAG_NODUMP;
			if (r == 0)
				r = ioctl(fd, FS_IOC_FSSETXATTR, &fsx);
		}
	} else if (strcmp(op, "fchmodat2") == 0) {
		r = (int)syscall(NR_FCHMODAT2, AT_FDCWD, path, 0644,
		    AT_SYMLINK_NOFOLLOW);
	} else if (strcmp(op, "setxattrat") == 0) {
		/* struct xattr_args: value, size, flags */
		struct { uint64_t value; uint32_t size, flags; } xa = {
			(uint64_t)(uintptr_t)"z", 1, 0 };

		r = (int)syscall(NR_SETXATTRAT, AT_FDCWD, path, 0, "user.zt",
		    &xa, sizeof(xa));
	} else if (strcmp(op, "removexattrat") == 0) {
		r = (int)syscall(NR_REMOVEXATTRAT, AT_FDCWD, path, 0,
		    "user.zt");
	} else if (strcmp(op, "file_setattr") == 0) {
		/* struct file_attr (FILE_ATTR_SIZE_VER0): read, nodump set */
		struct { uint64_t xflags; uint32_t extsize, nextents, projid,
		    cowextsize; } fa;

		r = (int)syscall(NR_FILE_GETATTR, AT_FDCWD, path, &fa,
		    sizeof(fa), 0);
		fa.xflags |= FS_XFLAG_NODUMP;
		if (r == 0)
			r = (int)syscall(NR_FILE_SETATTR, AT_FDCWD, path, &fa,
			    sizeof(fa), 0);
	} else if (strncmp(op, "opath-", 6) == 0) {
		if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0)
			return fail(errno);
		if (strcmp(op, "opath-chown") == 0)
			r = fchownat(fd, "", getuid(), getgid(), AT_EMPTY_PATH);
		else {
			struct timespec ts[2] = { { 2000, 0 }, { 2000, 0 } };

			r = (int)syscall(SYS_utimensat, fd, "", ts,
			    AT_EMPTY_PATH);
		}
	} else
		return usage("meta chmod|fchmodat|chown|lchown|fchownat|utimes|"
		    "utimensat|setxattr|removexattr|watch|fchmod|futimens|"
		    "fsetxattr|opath-chown|opath-utimens|setflags|fssetxattr|"
		    "fchmodat2|setxattrat|removexattrat|file_setattr PATH");
	if (r < 0)
		return fail(errno);
	printf("ok\n");
	return 0;
}

/* ipc msgget|shmget|semget|mq_open: make a private object of the kind. */
static int
cmd_ipc(int argc, char **argv)
{
	long r;

	if (argc != 2)
		return usage("ipc msgget|shmget|semget|mq_open");
	if (strcmp(argv[1], "msgget") == 0)
		r = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	else if (strcmp(argv[1], "shmget") == 0)
		r = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	else if (strcmp(argv[1], "semget") == 0)
		r = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	else if (strcmp(argv[1], "mq_open") == 0)
		r = syscall(SYS_mq_open, "zt-probe", O_RDWR | O_CREAT, 0600,
		    NULL);
	else
		return usage("ipc msgget|shmget|semget|mq_open");
	if (r < 0)
		return fail(errno);
	printf("ok id=%ld\n", r);
	return 0;
}

/* mem-write self|child: open /proc/PID/mem for writing, of this process
 * or of a child of it (the same account, traced alike). */
static int
cmd_mem_write(int argc, char **argv)
{
	char path[64];
	pid_t kid = 0;
	int fd, e;

	if (argc != 2 || (strcmp(argv[1], "self") != 0 &&
	    strcmp(argv[1], "child") != 0))
		return usage("mem-write self|child");
	if (argv[1][0] == 'c') {
		if ((kid = fork()) < 0)
			return fail(errno);
		if (kid == 0) {
			pause();
			_exit(0);
		}
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)kid);
	} else
		snprintf(path, sizeof(path), "/proc/self/mem");
	fd = open(path, O_WRONLY | O_CLOEXEC);
	e = errno;
	if (kid > 0) {
		kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
	}
	if (fd < 0)
		return fail(e);
	printf("ok fd=%d\n", fd);
	return 0;
}

/*
 * rthdr SEGMENT ADDR PORT TEXT: an IPv6 TCP socket given a segment routing
 * header (IPV6_RTHDR, type 4) of the one segment SEGMENT, then connected
 * to [ADDR]:PORT and TEXT sent (the kernel sends to the segment, the
 * header carrying ADDR); TEXT "-": "ok set" once the header is set (a
 * host without seg6_enabled drops what carries one).  "errno=NAME" says
 * which step failed.
 */
static int
cmd_rthdr(int argc, char **argv)
{
	/* next header, length 2 (16 bytes after the first 8), type 4,
	 * segments left 0, last entry 0, flags, tag; the segment */
	unsigned char srh[24] = { 0, 2, 4, 0, 0, 0, 0, 0 };
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (argc != 5 || strchr(argv[2], ':') == NULL ||
	    inet_pton(AF_INET6, argv[1], srh + 8) != 1 ||
	    !parse_sockaddr(argv[2], argv[3], &ss, &len))
		return usage("rthdr SEGMENT ADDR PORT TEXT|-");
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(errno);
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_RTHDR, srh, sizeof(srh)) < 0)
		return fail(errno);
	if (strcmp(argv[4], "-") == 0) {
		printf("ok set\n");
		return 0;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0)
		return fail(errno);
	if (send(fd, argv[4], strlen(argv[4]), MSG_NOSIGNAL) < 0 ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) < 0)
		return fail(errno);
	return reply_or_fail(fd);
}

/* passcred: SO_PASSCRED on a new unix datagram socket (with which the
 * kernel would bind it to an abstract address at its first send). */
static int
cmd_passcred(int argc, char **argv)
{
	int fd, on = 1;

	(void)argv;
	if (argc != 1)
		return usage("passcred");
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(errno);
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0)
		return fail(errno);
	printf("ok set\n");
	return 0;
}

/* sockfilter OPT: a socket filter option (SO_ATTACH_FILTER with a filter
 * that passes all, SO_DETACH_FILTER, SO_LOCK_FILTER, SO_ATTACH_BPF with
 * no program) set on a new UDP socket: "ok set" or the errno. */
static int
cmd_sockfilter(int argc, char **argv)
{
	struct sock_filter pass = BPF_STMT(BPF_RET | BPF_K, 0xffff);
	struct sock_fprog prog = { .len = 1, .filter = &pass };
	int fd, one = 1, none = -1, r;

	if (argc != 2)
		return usage("sockfilter SO_ATTACH_FILTER|SO_DETACH_FILTER|"
		    "SO_LOCK_FILTER|SO_ATTACH_BPF");
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return fail(errno);
	if (strcmp(argv[1], "SO_ATTACH_FILTER") == 0)
		r = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
		    sizeof(prog));
	else if (strcmp(argv[1], "SO_DETACH_FILTER") == 0)
		r = setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &one,
		    sizeof(one));
	else if (strcmp(argv[1], "SO_LOCK_FILTER") == 0)
		r = setsockopt(fd, SOL_SOCKET, SO_LOCK_FILTER, &one,
		    sizeof(one));
	else if (strcmp(argv[1], "SO_ATTACH_BPF") == 0)
		r = setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, &none,
		    sizeof(none));
	else
		return usage("sockfilter: an unknown option");
	if (r < 0)
		return fail(errno);
	printf("ok set\n");
	return 0;
}

/* sockinfo: what the system sees of an IPv4 UDP socket made with
 * SOCK_NONBLOCK | SOCK_CLOEXEC and of an IPv6 one made without: the
 * owner of the first (its inode's uid and gid: the creator's fsuid and
 * fsgid, which netfilter's owner match and nft's skuid/skgid read too),
 * and each one's O_NONBLOCK and FD_CLOEXEC.  "ok uid=U gid=G
 * a=nonblock,cloexec b=-,-" or the errno. */
static int
cmd_sockinfo(int argc, char **argv)
{
	int fd[2], i;
	struct stat st;

	(void)argv;
	if (argc != 1)
		return usage("sockinfo");
	fd[0] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	fd[1] = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd[0] < 0 || fd[1] < 0 || fstat(fd[0], &st) < 0)
		return fail(errno);
	printf("ok uid=%u gid=%u", (unsigned)st.st_uid, (unsigned)st.st_gid);
	for (i = 0; i < 2; i++) {
		int fl = fcntl(fd[i], F_GETFL), fdf = fcntl(fd[i], F_GETFD);

		if (fl < 0 || fdf < 0)
			return fail(errno);
		printf(" %c=%s,%s", 'a' + i, fl & O_NONBLOCK ? "nonblock" : "-",
		    fdf & FD_CLOEXEC ? "cloexec" : "-");
	}
	printf("\n");
	return 0;
}

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "connect", cmd_connect },
	{ "fetch", cmd_fetch },
	{ "hold", cmd_hold },
	{ "sendto", cmd_sendto },
	{ "sendto-noreply", cmd_sendto },
	{ "udp-inbound", cmd_udp_inbound },
	{ "icmp-intrude", cmd_icmp_intrude },
	{ "sendmsg", cmd_sendmsg },
	{ "sendmsg-noreply", cmd_sendmsg },
	{ "sendmsg-rights", cmd_sendmsg_rights },
	{ "sendmmsg", cmd_sendmmsg },
	{ "bind", cmd_bind },
	{ "listen", cmd_listen },
	{ "fastopen", cmd_fastopen },
	{ "sendto-proto", cmd_sendto_proto },
	{ "recvfd", cmd_recvfd },
	{ "unix", cmd_unix },
	{ "unix-seqpacket", cmd_unix },
	{ "socketpair", cmd_socketpair },
	{ "unix-dgram", cmd_unix_dgram },
	{ "ifindex", cmd_ifindex },
	{ "socketpair-reach", cmd_socketpair_reach },
	{ "exec", cmd_exec },
	{ "exec-env", cmd_exec_env },
	{ "exec-env-after", cmd_exec_env },
	{ "getenv", cmd_getenv },
	{ "loop-exec", cmd_loop_exec },
	{ "map-exec", cmd_map_exec },
	{ "open", cmd_open },
	{ "syscall", cmd_syscall },
	{ "x32", cmd_abi },
	{ "int80", cmd_abi },
	{ "race-connect", cmd_race_connect },
	{ "race-exec", cmd_race_exec },
	{ "race-exec-env", cmd_race_exec },
	{ "race-exec-argv", cmd_race_exec },
	{ "unmapped", cmd_unmapped },
	{ "die-mid", cmd_die_mid },
	{ "hammer", cmd_hammer },
	{ "loop-connect", cmd_loop_connect },
	{ "step-connect", cmd_step_connect },
	{ "sleep", cmd_sleep },
	{ "kids", cmd_kids },
	{ "exit", cmd_exit },
	{ "signal", cmd_signal },
	{ "now", cmd_now },
	{ "resolve", cmd_resolve },
	{ "resolve-loop", cmd_resolve_loop },
	{ "resolve-threads", cmd_resolve_threads },
	{ "resolve-send", cmd_resolve_send },
	{ "dns-tcp", cmd_dns_tcp },
	{ "dns-hold", cmd_dns_hold },
	{ "meta", cmd_meta },
	{ "ipc", cmd_ipc },
	{ "mem-write", cmd_mem_write },
	{ "rthdr", cmd_rthdr },
	{ "passcred", cmd_passcred },
	{ "sockfilter", cmd_sockfilter },
	{ "sockinfo", cmd_sockinfo },
};

/* Run from a file named exitNN without a command: exit NN. */
static int
exit_by_name(void)
{
	char exe[PATH_MAX];
	const char *name = NULL, *base;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		name = exe;
	} else {
		name = (const char *)getauxval(AT_EXECFN);
	}
	if (name == NULL)
		return -1;
	base = strrchr(name, '/');
	base = base != NULL ? base + 1 : name;
	if (strncmp(base, "exit", 4) != 0 || base[4] < '0' || base[4] > '9' ||
	    base[5] < '0' || base[5] > '9' || base[6] != '\0')
		return -1;
	return (base[4] - '0') * 10 + (base[5] - '0');
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		int code = exit_by_name();

		if (code >= 0)
			return code;
		return usage("COMMAND [ARGS...] (see zt-probe.c)");
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "zt-probe: unknown command %s\n", argv[1]);
	return 2;
}

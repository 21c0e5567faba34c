/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the benchmarks: time, processes, files, ztd. */
#ifndef ZT_BENCH_COMMON_H
#define ZT_BENCH_COMMON_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The account the benchmarks' agents run as. */
#define AGENT_ACCOUNT "daemon"
/* Bytes of a file's end that print_file_tail() shows. */
#define TAIL_KEEP 2048

/* CLOCK_MONOTONIC in microseconds. */
double now_us(void);

/* Is FIGURE one to run?  BENCH_FIGURES (a comma-separated list of the
 * bench's figure names) picks some; unset or empty, all of them. */
bool figure_wanted(const char *figure);

/* qsort(3) order of doubles, ascending. */
int compare_double(const void *x, const void *y);

/* The median of N values (sorts them); 0 when N is 0. */
double median(double *v, size_t n);

void sleep_ms(long ms);

/*
 * Wait until PATH's last change (ctime) is SECONDS old, or *STOP is set
 * (STOP may be NULL).  ztd and zt-exec cache a file's digest only once
 * its last change is ZT_DIGEST_SETTLE_SECONDS old (common/zt_exe.h): a
 * benchmark of an installed agent waits for it.
 */
void settle(const char *path, int seconds, const volatile sig_atomic_t *stop);

/* A wait status as a shell would say it: the exit code, or 128 + signal. */
int exit_code(int status);

/*
 * What a benchmark running an agent needs: root, the account AGENT_ACCOUNT
 * (its ids in *UID and *GID) and ZTD_PATH executable.  0, or 77 (skip)
 * said on stderr after WHO.
 */
int check_agent_bench(const char *who, const char *ztd_path, uid_t *uid,
    gid_t *gid);

/* NAME in the directory of ZTD_PATH, into OUT (SIZE bytes). */
void beside_ztd(const char *ztd_path, const char *name, char *out,
    size_t size);

/*
 * zt-exec's path into OUT: GIVEN, else beside ztd (BUILDDIR/seccomp/zt-exec,
 * or BUILDDIR/zt-exec).
 */
void find_zt_exec(const char *ztd_path, const char *given, char *out,
    size_t size);

/*
 * find_zt_exec(), made absolute (the agent's account runs it): 0, or 77
 * (skip) said on stderr after WHO when it is not there.
 */
int need_zt_exec(const char *who, const char *ztd_path, const char *given,
    char *out, size_t size);

/* HANDLER for SIGINT, SIGTERM and SIGHUP (no SA_RESTART: a signal breaks
 * the main thread's blocking calls); SIGPIPE ignored. */
void catch_signals(void (*handler)(int));

/*
 * The words that run a command under ZT_EXEC with ztd's and syslog's
 * sockets, up to and with "--", into ARGV; their count.
 */
int zt_exec_argv(char **argv, char *zt_exec, char *ztd_socket,
    char *log_socket);

/* Parse the numbers of LINE into V (at most MAX); their count. */
int parse_numbers(const char *line, double *v, int max);

/*
 * Create a thread running FN(ARG) with SIGINT, SIGTERM and SIGHUP blocked
 * (the main thread handles them); detached when T is NULL.  0 or -1.
 */
int start_thread(pthread_t *t, void *(*fn)(void *), void *arg);

/*
 * In a freshly forked child: default SIGINT, SIGTERM and SIGHUP, no signal
 * blocked, and death with the bench; exits at once when PARENT is gone.
 */
void child_setup(pid_t parent);

/* In a child: drop to UID and GID with no groups, or say so and _exit. */
void drop_to_agent(const char *who, uid_t uid, gid_t gid);

/*
 * Wait for PID, polling every POLL_MS; it is killed after TIMEOUT_MS or
 * once *STOP is set, and reaped.  0, or -1 when waitpid(2) fails.
 */
int reap_within(pid_t pid, long timeout_ms, long poll_ms,
    const volatile sig_atomic_t *stop, int *status);

/* Copy FROM to the new file TO with MODE.  0 or -errno. */
int copy_file(const char *from, const char *to, mode_t mode);

/*
 * zt-exec as make install leaves it: GROUP (a group of this run's own,
 * "ztbench<pid>", made here with groupadd) for ztd's supervisor_group,
 * and ZT_EXEC copied to DIR/zt-exec, root-owned and setgid to it; ZT_EXEC
 * then names the copy.  0, or -1 with the reason on stderr.
 * supervisor_remove(GROUP) removes the group ("" : nothing).
 */
int supervisor_install(const char *who, const char *dir, char *zt_exec,
    size_t size, char group[32]);
void supervisor_remove(char group[32]);

/* The SHA-256 of PATH as 64 hex digits into HEX, by sha256sum(1): 0 or -1. */
int sha256_of(const char *path, char hex[65]);

/* Remove DIR and all below it; failures are said on stderr after WHO. */
void remove_tree(const char *who, const char *dir);

/* Is PROGRAM in the usual bin and sbin directories?  Fills FULL. */
bool find_program(const char *program, char *full, size_t size);

/* The CPUs this process may run on. */
int count_cpus(void);

/* PATH (SIZE bytes) made absolute, when it is not and it resolves. */
void make_absolute(char *path, size_t size);

/* A TCP socket listening on 127.0.0.1:*PORT (a free port); fd or -1. */
int listen_loopback(int backlog, uint16_t *port);

/* Thread body: accept and close every connection on *(int *)FD. */
void *run_accept_close(void *fd);

/* A datagram socket bound at PATH, which anyone may write; fd or -1. */
int bind_log_socket(const char *path);

/* A syslog sink: the socket, and what to do with each datagram. */
struct log_sink {
	int fd;
	void (*line)(const char *line);	/* a NUL-terminated datagram */
};

/* Thread body: hand every datagram on SINK (a struct log_sink) to it. */
void *run_log_sink(void *sink);

/* Does ztd answer a connection on SOCKET_PATH? */
bool ztd_listening(const char *socket_path);

/* How to run ztd in the foreground for a benchmark. */
struct ztd_launch {
	const char *who;		/* messages' prefix: "bench/exec" */
	const char *path;		/* the ztd binary */
	const char *config, *socket, *log_socket;
	const char *err_path;		/* its stdout and stderr */
	pid_t parent;			/* the bench, for child_setup() */
	const volatile sig_atomic_t *stop;
};

/*
 * Start ztd (its pid in *PID, 0 once it is gone) and wait up to 10 s until
 * it answers on its socket.  0, or -1 said on stderr.
 */
int start_ztd(const struct ztd_launch *z, pid_t *pid);

/* Print TITLE, a colon and the last TAIL_KEEP bytes of PATH on stderr. */
void print_file_tail(const char *path, const char *title);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the fleet client's seccomp allow-list: loaded into a
 * forked child on the real kernel, what the client does goes through and
 * anything else kills the child with SIGSYS.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fleet_filter.h"

/* Run FN in a child under the filter; its wait status. */
static int
under_filter(void (*fn)(void))
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    fleet_filter_load() < 0)
			_exit(100);
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void
assert_exit_0(int status)
{
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
assert_sigsys(int status)
{
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

static void *
thread_body(void *arg)
{
	return arg;
}

/* What the client does: I/O, read-only opens, IP and unix sockets,
 * memory, time, a thread (the resolver's). */
static void
client_calls(void)
{
	int sv[2], fd, s;
	char c = 'x';
	pthread_t t;
	void *mem, *ret = NULL;
	struct timespec ts;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
	    write(sv[0], &c, 1) != 1 || read(sv[1], &c, 1) != 1)
		_exit(1);
	if ((fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC)) < 0 &&
	    (fd = open("/proc/self/status", O_RDONLY)) < 0)
		_exit(2);
	close(fd);
	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0 ||
	    close(s) < 0 || (s = socket(AF_INET6, SOCK_DGRAM, 0)) < 0)
		_exit(3);
	close(s);
	mem = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || mprotect(mem, 4096, PROT_READ) < 0 ||
	    munmap(mem, 1 << 20) < 0)
		_exit(4);
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0 ||
	    syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts) < 0)
		_exit(5);
	if (pthread_create(&t, NULL, thread_body, &c) != 0 ||
	    pthread_join(t, &ret) != 0 || ret != &c)
		_exit(6);
	/* clone3 answers ENOSYS (glibc then uses clone, checked). */
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
		_exit(7);
}

/* A library's text, as dlopen maps it: a file, read and exec. */
static void
do_map_library_text(void)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE,
	    fd, 0) == MAP_FAILED)
		_exit(1);
}

static void
allowed_calls(void **state)
{
	(void)state;
	assert_exit_0(under_filter(client_calls));
	assert_exit_0(under_filter(do_map_library_text));
}

static void
do_write_open(void)
{
	open("/tmp/zt-fleet-filter-never", O_WRONLY | O_CREAT, 0600);
}

static void
do_mkdir(void)
{
	syscall(SYS_mkdirat, AT_FDCWD, "/tmp/zt-fleet-filter-never", 0700);
}

static void
do_packet_socket(void)
{
	socket(AF_PACKET, SOCK_RAW, 0);
}

static void
do_netlink_audit(void)
{
	socket(AF_NETLINK, SOCK_RAW, 9 /* NETLINK_AUDIT */);
}

static void
do_exec_memory(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void
do_exec_zero(void)
{
	int fd = open("/dev/zero", O_RDONLY);

	if (fd < 0)
		_exit(1);
	mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE,
	    fd, 0);
}

static void
do_mprotect_exec(void)
{
	void *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		_exit(1);
	mprotect(mem, 4096, PROT_READ | PROT_EXEC);
}

static void
do_fork(void)
{
	if (fork() == 0)
		_exit(0);
}

static void
do_exec(void)
{
	char *argv[] = { (char *)"true", NULL };

	execve("/bin/true", argv, NULL);
}

static pid_t parent;	/* this process, the children's parent */

static void
do_kill_parent(void)
{
	kill(parent, 0);
}

static void
do_ptrace(void)
{
	syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
}

/* Each kills the child: nothing it does returns. */
static void
refused_calls(void **state)
{
	void (*const fns[])(void) = { do_write_open, do_mkdir,
	    do_packet_socket, do_netlink_audit, do_exec_memory,
	    do_exec_zero, do_mprotect_exec, do_fork, do_exec, do_kill_parent, do_ptrace };

	(void)state;
	parent = getpid();
	for (size_t i = 0; i < sizeof(fns) / sizeof(*fns); i++)
		assert_sigsys(under_filter(fns[i]));
}

/* Without no_new_privs the filter is not loaded: -EPERM, said. */
static void
needs_no_new_privs(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
			_exit(0);	/* set by whoever runs the tests */
		_exit(fleet_filter_load() == -EPERM ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_exit_0(status);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(allowed_calls),
		cmocka_unit_test(refused_calls),
		cmocka_unit_test(needs_no_new_privs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

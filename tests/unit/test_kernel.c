/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of zt_kernel_probe_listener: the seccomp features zt-exec
 * reads from its agent's listener (a filter's listener that no
 * notification waits on) are what zt_kernel_probe finds on a thread of
 * its own, and the other features are left as they were; and
 * zt_kernel_probe leaves the thread that calls it as it was (no
 * no_new_privs, no seccomp filter).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zt_kernel.h"

#define ALL (ZT_KERNEL_ZTEXEC_NEEDS | ZT_KERNEL_ZTEXEC_WANTS)

/* A thread under an allow-all filter with a listener, as zt-exec's child
 * is between its filter's load and its go: it waits on GO's read end. */
struct filtered {
	int listener;			/* -1: the filter failed */
	int go[2];
	pthread_mutex_t lock;
	pthread_cond_t ready;
	bool loaded;
};

static void *
filtered_main(void *arg)
{
	struct filtered *f = arg;
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = 1, .filter = &allow };
	char c;
	int fd = -1;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
		fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	pthread_mutex_lock(&f->lock);
	f->listener = fd;
	f->loaded = true;
	pthread_cond_signal(&f->ready);
	pthread_mutex_unlock(&f->lock);
	if (read(f->go[0], &c, 1) < 0)
		return NULL;
	return NULL;
}

static void
test_listener_same_findings(void **state)
{
	struct zt_kernel threaded, k;
	struct filtered f = { .listener = -1,
	    .lock = PTHREAD_MUTEX_INITIALIZER,
	    .ready = PTHREAD_COND_INITIALIZER };
	pthread_t t;

	(void)state;
	zt_kernel_probe(&threaded, ALL);
	/* Positive precondition: this kernel has the listener and its
	 * flags (the comparison below would otherwise hold of two empty
	 * probes). */
	assert_true(threaded.present[ZT_KF_SECCOMP_LISTENER]);
	assert_true(threaded.present[ZT_KF_SECCOMP_CONTINUE]);
	assert_true(threaded.present[ZT_KF_SECCOMP_ADDFD_SEND]);
	assert_int_equal(pipe(f.go), 0);
	assert_int_equal(pthread_create(&t, NULL, filtered_main, &f), 0);
	pthread_mutex_lock(&f.lock);
	while (!f.loaded)
		pthread_cond_wait(&f.ready, &f.lock);
	pthread_mutex_unlock(&f.lock);
	assert_true(f.listener >= 0);
	/* The other features are the caller's: left as they were. */
	memset(&k, 0, sizeof(k));
	k.present[ZT_KF_PIDFD_OPEN] = true;
	k.landlock_abi = 42;
	zt_kernel_probe_listener(&k, ZT_KERNEL_SECCOMP, f.listener);
	for (int f2 = 0; f2 < ZT_KF_COUNT; f2++)
		if (ZT_KERNEL_SECCOMP & ZT_KF_BIT(f2))
			assert_int_equal(k.present[f2], threaded.present[f2]);
		else
			assert_int_equal(k.present[f2], f2 == ZT_KF_PIDFD_OPEN);
	assert_int_equal(k.landlock_abi, 42);
	/* A mask without a feature reports it absent. */
	zt_kernel_probe_listener(&k, ZT_KERNEL_SECCOMP &
	    ~ZT_KF_BIT(ZT_KF_SECCOMP_SYNC_WAKE), f.listener);
	assert_false(k.present[ZT_KF_SECCOMP_SYNC_WAKE]);
	assert_int_equal(k.present[ZT_KF_SECCOMP_CONTINUE],
	    threaded.present[ZT_KF_SECCOMP_CONTINUE]);
	/* The filtered thread was never stopped by the probe: it goes on. */
	assert_int_equal(write(f.go[1], "g", 1), 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	close(f.listener);
	close(f.go[0]);
	close(f.go[1]);
}

static void
test_caller_unchanged(void **state)
{
	struct zt_kernel k;

	(void)state;
	/* zt_kernel_probe tries the seccomp flags on a thread of its own:
	 * the calling thread keeps no no_new_privs and no filter. */
	zt_kernel_probe(&k, ALL);
	assert_true(k.present[ZT_KF_SECCOMP_LISTENER]);
	assert_int_equal(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
	assert_int_equal(prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listener_same_findings),
		cmocka_unit_test(test_caller_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

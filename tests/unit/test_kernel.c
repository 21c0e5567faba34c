/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of zt_kernel_probe_ending_thread: the probe zt-exec runs on a
 * thread of its own finds what zt_kernel_probe finds, and leaves the
 * threads that go on as they were (no no_new_privs, no seccomp filter):
 * only the thread that ends carries them.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/seccomp.h>
#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>

#include "zt_kernel.h"

#define ALL (ZT_KERNEL_ZTEXEC_NEEDS | ZT_KERNEL_ZTEXEC_WANTS)

struct ending {
	struct zt_kernel k;
	int nnp, seccomp;		/* the ending thread's own, after */
};

static void *
probe_and_end(void *arg)
{
	struct ending *e = arg;

	zt_kernel_probe_ending_thread(&e->k, ALL);
	e->nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	e->seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
	return NULL;
}

static void
test_same_findings(void **state)
{
	struct zt_kernel threaded;
	struct ending e;
	pthread_t t;

	(void)state;
	zt_kernel_probe(&threaded, ALL);
	/* Positive precondition: this kernel has the listener at all (the
	 * comparison below would otherwise hold of two empty probes). */
	assert_true(threaded.present[ZT_KF_SECCOMP_LISTENER]);
	memset(&e, 0, sizeof(e));
	assert_int_equal(pthread_create(&t, NULL, probe_and_end, &e), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	for (int f = 0; f < ZT_KF_COUNT; f++)
		assert_int_equal(e.k.present[f], threaded.present[f]);
	assert_int_equal(e.k.landlock_abi, threaded.landlock_abi);
	assert_string_equal(e.k.release, threaded.release);
	/* The ending thread probed on itself: it carries the filter. */
	assert_int_equal(e.nnp, 1);
	assert_int_equal(e.seccomp, SECCOMP_MODE_FILTER);
}

static void
test_caller_unchanged(void **state)
{
	struct ending e;
	pthread_t t;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(pthread_create(&t, NULL, probe_and_end, &e), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
	assert_int_equal(prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 0);
	/* Nor does zt_kernel_probe change the thread that calls it. */
	zt_kernel_probe(&e.k, ALL);
	assert_int_equal(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
	assert_int_equal(prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_findings),
		cmocka_unit_test(test_caller_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The fuzz harnesses' property check: abort, so that libFuzzer keeps the
 * input, when CONDITION fails. */
#ifndef ZT_FUZZ_CHECK_H
#define ZT_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(condition) do { \
	if (!(condition)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #condition); \
		abort(); \
	} \
} while (0)

#endif

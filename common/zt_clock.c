/* SPDX-License-Identifier: Apache-2.0 */
/* CLOCK_BOOTTIME for lifetimes, CLOCK_MONOTONIC for deadlines. */
#include "config.h"

#include <time.h>

#include "zt_clock.h"

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) < 0)
		return INT64_MAX / 4;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
zt_boottime_ms(void)
{
	return clock_ms(CLOCK_BOOTTIME);
}

int64_t
zt_monotonic_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

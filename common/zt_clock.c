/* SPDX-License-Identifier: Apache-2.0 */
/* CLOCK_BOOTTIME for lifetimes, CLOCK_MONOTONIC for deadlines. */
#include "config.h"

#include <errno.h>
#include <poll.h>
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

int
zt_poll_until(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int64_t left = deadline - zt_monotonic_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The two clocks of ztgate, once: lifetimes and deadlines. */
#ifndef ZT_CLOCK_H
#define ZT_CLOCK_H

#include <stdint.h>

/*
 * Milliseconds on CLOCK_BOOTTIME: every lifetime (grants, cached
 * decisions, attestation age, certificates' renewal) is measured on it, so
 * a wall-clock step changes none and suspend does not stretch one.  A
 * clock that cannot be read gives a time far in the future (every
 * lifetime over: a deny), yet far enough from INT64_MAX that adding a
 * lifetime to it cannot overflow.
 */
int64_t zt_boottime_ms(void);

/* Milliseconds on CLOCK_MONOTONIC, for a call's deadline. */
int64_t zt_monotonic_ms(void);

/* Wait until FD has one of EVENTS (poll's) or DEADLINE (zt_monotonic_ms)
 * passes: 0 when it has (revents may hold POLLERR or POLLHUP too),
 * -ETIMEDOUT, or poll's -errno.  A signal does not end the wait. */
int zt_poll_until(int fd, short events, int64_t deadline);

#endif

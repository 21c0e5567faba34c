/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 of files, for ztd and ztctl alike. */
#ifndef ZTD_DIGEST_H
#define ZTD_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_SIZE 32
#define DIGEST_HEX_SIZE 65	/* 64 hex digits and a NUL */

/* SHA-256 of the regular file open at FD, read from offset 0 with pread.
 * Returns 0 or -errno (-EINVAL: not a regular file). */
int digest_fd(int fd, uint8_t out[DIGEST_SIZE]);

/* The same for PATH (opened O_RDONLY|O_CLOEXEC|O_NOCTTY|O_NONBLOCK). */
int digest_file(const char *path, uint8_t out[DIGEST_SIZE]);

/* IN as lower-case hex into OUT (2 * LEN + 1 bytes). */
void digest_hex(const uint8_t *in, size_t len, char *out);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 of files through OpenSSL's EVP interface. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"

int
digest_fd(int fd, uint8_t out[DIGEST_SIZE])
{
	uint8_t buf[65536];
	struct stat st;
	EVP_MD_CTX *ctx;
	off_t offset = 0;
	int r = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			r = -EIO;
			break;
		}
		offset += n;
	}
	if (r == 0 && EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		r = -EIO;
	EVP_MD_CTX_free(ctx);
	return r;
}

int
digest_file(const char *path, uint8_t out[DIGEST_SIZE])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int r;

	if (fd < 0)
		return -errno;
	r = digest_fd(fd, out);
	close(fd);
	return r;
}

void
digest_hex(const uint8_t *in, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* SPDX-License-Identifier: Apache-2.0 */
/* A libFuzzer harness for `ztctl audit verify`: any bytes, as audit files. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit.h"
#include "zt_err.h"

/*
 * Input: FLAGS (1 byte), then the files' text, split into at most
 * MAX_FILES files at each 0x1e byte.  With FLAG_CHAIN every line is taken
 * as a record's text up to prev= and the harness appends a right prev=
 * and hash=, chaining the lines across the files: the fuzzer never finds
 * a SHA-256 collision, and without this everything past the hash check
 * (seq= gaps, event=reopen starts, the head) would stay out of its reach.
 * With FLAG_HEAD the last file is the head file instead.
 */
#define FLAG_CHAIN 0x01
#define FLAG_HEAD 0x02
#define MAX_FILES 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static char dir[64];

static void
remove_dir(void)
{
	char path[96];

	for (size_t i = 0; i < MAX_FILES; i++) {
		snprintf(path, sizeof(path), "%s/f%zu", dir, i);
		unlink(path);
	}
	rmdir(dir);
}

static void
hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* Write LEN bytes of TEXT to PATH, each line chained when CHAIN. */
static void
write_file(const char *path, const uint8_t *text, size_t len, bool chain,
    uint8_t prev[32])
{
	FILE *f = fopen(path, "we");

	CHECK(f != NULL);
	if (!chain) {
		CHECK(fwrite(text, 1, len, f) == len || len == 0);
		fclose(f);
		return;
	}
	while (len > 0) {
		const uint8_t *nl = memchr(text, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - text) : len;
		char prev_hex[65], hash_hex[65];
		uint8_t hash[32];
		unsigned int out = 0;
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		CHECK(md != NULL);
		hex(prev, 32, prev_hex);
		CHECK(EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1);
		CHECK(EVP_DigestUpdate(md, prev, 32) == 1);
		CHECK(EVP_DigestUpdate(md, text, n) == 1);
		CHECK(EVP_DigestUpdate(md, " prev=", 6) == 1);
		CHECK(EVP_DigestUpdate(md, prev_hex, 64) == 1);
		CHECK(EVP_DigestFinal_ex(md, hash, &out) == 1);
		EVP_MD_CTX_free(md);
		hex(hash, 32, hash_hex);
		fwrite(text, 1, n, f);
		fprintf(f, " prev=%s hash=%s\n", prev_hex, hash_hex);
		memcpy(prev, hash, 32);
		if (nl == NULL)
			break;
		text += n + 1;
		len -= n + 1;
	}
	fclose(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char paths[MAX_FILES][96], head[96], report[1024];
	const char *files[MAX_FILES];
	uint8_t prev[32] = { 0 };
	size_t n = 0, start = 1;
	uint8_t flags;
	int r;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/fuzz_audit.XXXXXX");
		CHECK(mkdtemp(dir) != NULL);
		atexit(remove_dir);
	}
	if (size < 1)
		return 0;
	flags = data[0];
	for (size_t i = 1; i <= size && n < MAX_FILES; i++) {
		if (i < size && data[i] != 0x1e)
			continue;
		snprintf(paths[n], sizeof(paths[n]), "%s/f%zu", dir, n);
		write_file(paths[n], data + start, i - start,
		    (flags & FLAG_CHAIN) != 0 &&
		    !((flags & FLAG_HEAD) && (i == size || n == MAX_FILES - 1)),
		    prev);
		files[n] = paths[n];
		n++;
		start = i + 1;
	}
	if ((flags & FLAG_HEAD) && n > 1) {
		snprintf(head, sizeof(head), "%s", paths[--n]);
	} else
		head[0] = '\0';
	memset(report, 'X', sizeof(report));
	r = audit_verify_files(files, n, head[0] != '\0' ? head : NULL,
	    report, sizeof(report));
	/* A verdict or a read error, and a report that is one C string. */
	CHECK(r == 0 || r == ZT_E_PROTOCOL || (r < 0 && r > -4096));
	CHECK(memchr(report, '\0', sizeof(report)) != NULL);
	CHECK(strlen(report) > 0);
	if (r == 0)
		CHECK(strstr(report, "records intact") != NULL);
	/* The first file as a piece of a chain (ztctl profile suggest):
	 * a verdict, and intact whenever the whole chain from it was. */
	memset(report, 'X', sizeof(report));
	{
		int piece = audit_verify_piece(paths[0], report,
		    sizeof(report));

		CHECK(piece == 0 || piece == ZT_E_PROTOCOL ||
		    (piece < 0 && piece > -4096));
		CHECK(memchr(report, '\0', sizeof(report)) != NULL);
		CHECK(strlen(report) > 0);
		if (r == 0 && n == 1 && head[0] == '\0')
			CHECK(piece == 0);
	}
	for (size_t i = 0; i < MAX_FILES; i++) {
		snprintf(paths[0], sizeof(paths[0]), "%s/f%zu", dir, i);
		unlink(paths[0]);
	}
	return 0;
}

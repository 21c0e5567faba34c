/* SPDX-License-Identifier: Apache-2.0 */
/* Host attestation state; software mode measures files against golden values. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest.h"
#include "digest.h"
#include "zt_err.h"
#include "zt_log.h"
#include "ztd.h"

#define GOLDEN_LINE_MAX (PATH_MAX_LEN + 128)
#define PATH_MAX_LEN 4096

/* Find PATH's golden digest ("file HEX PATH" lines) in the golden file. */
static int
golden_digest(const char *golden, const char *path, char hex[65])
{
	char line[GOLDEN_LINE_MAX];
	struct stat st;
	FILE *f;
	int r = -ENOENT;

	f = fopen(golden, "re");
	if (f == NULL)
		return -errno;
	if (fstat(fileno(f), &st) < 0 || st.st_uid != geteuid() ||
	    (st.st_mode & 022)) {
		fclose(f);
		return -EPERM;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char h[65], p[GOLDEN_LINE_MAX];

		if (sscanf(line, "file %64s %4095[^\n]", h, p) == 2 &&
		    strcmp(p, path) == 0) {
			memcpy(hex, h, 65);
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

static bool
measure(struct attest *a, const struct ztd_config *c)
{
	if (a->effective == ATTEST_TPM) {
		snprintf(a->reason, sizeof(a->reason), "TPM attestation is "
		    "not built yet: no TPM quote, no trust");
		return false;
	}
	for (size_t i = 0; i < c->n_measured_files; i++) {
		uint8_t digest[32];
		char hex[65], want[65];
		int r;

		if ((r = digest_file(c->measured_files[i], digest)) < 0) {
			snprintf(a->reason, sizeof(a->reason), "cannot measure "
			    "%.120s: %s", c->measured_files[i], zt_strerror(r));
			return false;
		}
		if ((r = golden_digest(c->golden, c->measured_files[i],
		    want)) < 0) {
			snprintf(a->reason, sizeof(a->reason), "no golden value "
			    "for %.70s in %.50s (%.20s): run ztctl enroll-host",
			    c->measured_files[i], c->golden, zt_strerror(r));
			return false;
		}
		digest_hex(digest, sizeof(digest), hex);
		if (strcmp(hex, want) != 0) {
			snprintf(a->reason, sizeof(a->reason), "%.150s differs "
			    "from its golden value", c->measured_files[i]);
			return false;
		}
	}
	a->reason[0] = '\0';
	return true;
}

bool
attest_refresh(struct attest *a, const struct ztd_config *c)
{
	bool was = a->trusted;

	a->trusted = measure(a, c);
	if (a->trusted)
		a->last_good_ms = ztd_now_ms();
	if (was != a->trusted)
		zt_log(a->trusted ? LOG_NOTICE : LOG_WARNING,
		    "attestation (%s): host %s%s%s", attest_name(a),
		    a->trusted ? "trusted" : "untrusted",
		    a->trusted ? "" : ": ", a->reason);
	return was != a->trusted;
}

void
attest_init(struct attest *a, const struct ztd_config *c)
{
	memset(a, 0, sizeof(*a));
	a->effective = c->attest_mode;
	if (a->effective == ATTEST_AUTO)
		a->effective = access("/dev/tpmrm0", F_OK) == 0 ? ATTEST_TPM :
		    ATTEST_SOFTWARE;
	a->trusted = !measure(a, c);	/* so that the first refresh logs */
	attest_refresh(a, c);
}

bool
attest_fresh(struct attest *a, const struct ztd_config *c, unsigned max_age,
    long *age, char *why, bool *changed)
{
	int64_t now = ztd_now_ms();

	*changed = false;
	if (!a->trusted || a->last_good_ms == 0 ||
	    now - a->last_good_ms > (int64_t)max_age * 1000)
		*changed = attest_refresh(a, c);
	*age = a->last_good_ms > 0 ? (long)((now - a->last_good_ms) / 1000) :
	    -1;
	if (!a->trusted) {
		snprintf(why, ATTEST_REASON_MAX, "host untrusted: %.180s",
		    a->reason);
		return false;
	}
	return true;
}

const char *
attest_name(const struct attest *a)
{
	return a->effective == ATTEST_TPM ? "tpm" : "software";
}

int
attest_enroll(struct attest *a, const struct ztd_config *c, char *why)
{
	char tmp[PATH_MAX_LEN + 16];
	FILE *f;
	int fd, r = 0;

	if (a->effective != ATTEST_SOFTWARE) {
		snprintf(why, ATTEST_REASON_MAX, "enrolling TPM PCRs is not "
		    "built yet");
		return ZT_E_NOT_IMPLEMENTED;
	}
	snprintf(tmp, sizeof(tmp), "%s.new", c->golden);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		r = -errno;
		snprintf(why, ATTEST_REASON_MAX, "%.100s: %s", tmp,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	fprintf(f, "# ztgate golden values (software mode): file SHA256 PATH\n");
	for (size_t i = 0; i < c->n_measured_files && r == 0; i++) {
		uint8_t digest[32];
		char hex[65];

		if ((r = digest_file(c->measured_files[i], digest)) < 0) {
			snprintf(why, ATTEST_REASON_MAX, "cannot measure "
			    "%.120s: %s", c->measured_files[i], zt_strerror(r));
			break;
		}
		digest_hex(digest, sizeof(digest), hex);
		fprintf(f, "file %s %s\n", hex, c->measured_files[i]);
	}
	if (r == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0)) {
		r = -errno;
		snprintf(why, ATTEST_REASON_MAX, "%.100s: %s", tmp,
		    strerror(errno));
	}
	fclose(f);
	if (r == 0 && rename(tmp, c->golden) < 0) {
		r = -errno;
		snprintf(why, ATTEST_REASON_MAX, "%.100s: %s", c->golden,
		    strerror(errno));
	}
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	attest_refresh(a, c);
	zt_log(LOG_NOTICE, "enrolled: %zu measured files recorded in %s",
	    c->n_measured_files, c->golden);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Host attestation: the measuring worker thread and what the loop asks of it. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attest.h"
#include "attest_tpm.h"
#include "digest.h"
#include "quote_verify.h"
#include "zt_err.h"
#include "zt_log.h"
#include "ztd.h"

#define GOLDEN_LINE_MAX 4200
#define QUOTE_TRIES 3		/* PCRs moving between read and quote */

/* The settings the worker uses: a copy, a reload may free the config. */
struct settings {
	enum attest_mode mode;		/* ATTEST_TPM or ATTEST_SOFTWARE */
	char tcti[260];
	unsigned pcrs[CONFIG_PCR_MAX];
	size_t n_pcrs;
	char golden[4100];
	char state_dir[4100];
	unsigned interval;		/* seconds */
	char **files;
	size_t n_files;
};

/* Export directories kept: the current one and those before it, which a
 * reader that resolved the link a moment ago may still be reading (an
 * export is made only when asked: this covers many readers' runs). */
#define EXPORTS_KEPT 16

struct attest {
	enum attest_mode mode;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int event_fd;
	/* Under lock: */
	struct settings settings;
	bool stop, want, want_enroll, want_export;
	uint64_t started, completed;	/* measurement sequence numbers */
	int64_t started_at_ms;		/* when the running one started */
	struct attest_view view;
	int enroll_result;
	char enroll_why[ATTEST_REASON_MAX];
	/* Worker only: */
	struct tpm *tpm;
	EVP_PKEY *ak;
	struct quote_facts baseline;
	bool have_baseline;
	char exports[EXPORTS_KEPT][32];	/* the newest export directories'
					 * names, [0] the current one */
	bool exports_pruned;		/* older ones removed at the first */
	/* Loop only: */
	bool loop_trusted;
	bool loop_nothing_measured;
};

/* ------------------------------------------------------------ settings */

static void
free_files(struct settings *s)
{
	for (size_t i = 0; i < s->n_files; i++)
		free(s->files[i]);
	free(s->files);
	s->files = NULL;
	s->n_files = 0;
}

static void
copy_settings(struct settings *s, const struct ztd_config *c,
    enum attest_mode mode)
{
	free_files(s);
	s->mode = mode;
	snprintf(s->tcti, sizeof(s->tcti), "%s", c->tcti);
	memcpy(s->pcrs, c->pcrs, sizeof(s->pcrs));
	s->n_pcrs = c->n_pcrs;
	snprintf(s->golden, sizeof(s->golden), "%s", c->golden);
	snprintf(s->state_dir, sizeof(s->state_dir), "%s", c->state_dir);
	s->interval = c->quote_interval;
	s->files = calloc(c->n_measured_files ? c->n_measured_files : 1,
	    sizeof(char *));
	if (s->files == NULL)
		abort();
	for (size_t i = 0; i < c->n_measured_files; i++)
		if ((s->files[s->n_files++] = strdup(c->measured_files[i])) ==
		    NULL)
			abort();
}

/* ------------------------------------------------------------ golden */

/* The golden file must be ours and private enough not to be forged. */
static FILE *
open_golden(const char *path, char *why)
{
	struct stat st;
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		snprintf(why, ATTEST_REASON_MAX, "no golden values (%.60s: "
		    "%s): run ztctl enroll-host", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & 022)) {
		snprintf(why, ATTEST_REASON_MAX, "golden file %.100s is not a "
		    "regular file owned by root and writable only by it", path);
		fclose(f);
		return NULL;
	}
	return f;
}

/* Find KIND ("pcr" or "file") KEY's hex value in the golden file. */
static int
golden_lookup(FILE *f, const char *kind, const char *key, char hex[65])
{
	char line[GOLDEN_LINE_MAX];

	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char k[16], h[65], name[GOLDEN_LINE_MAX];

		if (sscanf(line, "%15s %64s %4095[^\n]", k, h, name) == 3 &&
		    strcmp(k, kind) == 0 && strcmp(name, key) == 0) {
			memcpy(hex, h, 65);
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * Every "pcr HEX INDEX" line of the golden file F, read once: WANT[INDEX]
 * its hex, HAVE[INDEX] set (INDEX below TPM_PCR_COUNT; the first line
 * of an index wins, as in golden_lookup).  A quote's PCRs are
 * compared with it: one pass over the file, not one per PCR.
 */
static void
golden_pcrs(FILE *f, char want[TPM_PCR_COUNT][65], bool have[TPM_PCR_COUNT])
{
	char line[GOLDEN_LINE_MAX];

	memset(have, 0, TPM_PCR_COUNT * sizeof(have[0]));
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char k[16], h[65], name[16], canonical[16];
		unsigned long index;
		char *end;

		/* The key as golden_lookup would match it: the index's
		 * decimal text exactly (no sign, no leading zero). */
		if (sscanf(line, "%15s %64s %15[^\n]", k, h, name) != 3 ||
		    strcmp(k, "pcr") != 0 || name[0] < '0' || name[0] > '9')
			continue;
		index = strtoul(name, &end, 10);
		snprintf(canonical, sizeof(canonical), "%lu", index);
		if (*end != '\0' || index >= TPM_PCR_COUNT ||
		    strcmp(canonical, name) != 0 || have[index])
			continue;	/* the first line of an index wins */
		memcpy(want[index], h, 65);
		have[index] = true;
	}
}

/* Write LINES (NUL-separated records already formatted) atomically. */
static int
write_golden(const char *path, const char *text, char *why)
{
	char tmp[4200];
	int fd, r = 0;
	size_t len = strlen(text);

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		snprintf(why, ATTEST_REASON_MAX, "cannot write %.100s: %s",
		    path, strerror(-r));
		unlink(tmp);
	}
	return r;
}

/* ------------------------------------------------------------ software */

/*
 * Measure the files against the golden values, or with ENROLL record
 * them as the golden values.  *UNWRITTEN: the measurement was made but
 * the golden file could not be written (trust is then left as it was).
 */
static bool
measure_files(const struct settings *s, bool enroll, char *why,
    bool *unwritten)
{
	char *text = NULL, hex[DIGEST_HEX_SIZE], want[65];
	size_t size = 0;
	FILE *golden = NULL, *out = NULL;
	bool ok = false;

	if (enroll) {
		out = open_memstream(&text, &size);
		if (out == NULL)
			abort();
		fprintf(out, "# ztgate golden values: file SHA256 PATH\n");
	} else if (s->n_files > 0 && (golden = open_golden(s->golden,
	    why)) == NULL)
		return false;
	for (size_t i = 0; i < s->n_files; i++) {
		uint8_t digest[DIGEST_SIZE];
		int r;

		if ((r = digest_file(s->files[i], digest)) < 0) {
			snprintf(why, ATTEST_REASON_MAX, "cannot measure %.120s: "
			    "%s", s->files[i], zt_strerror(r));
			goto out;
		}
		digest_hex(digest, sizeof(digest), hex);
		if (enroll) {
			fprintf(out, "file %s %s\n", hex, s->files[i]);
			continue;
		}
		if (golden_lookup(golden, "file", s->files[i], want) < 0) {
			snprintf(why, ATTEST_REASON_MAX, "no golden value for "
			    "%.120s: run ztctl enroll-host", s->files[i]);
			goto out;
		}
		if (strcmp(hex, want) != 0) {
			snprintf(why, ATTEST_REASON_MAX, "%.150s differs from its "
			    "golden value", s->files[i]);
			goto out;
		}
	}
	ok = true;
	if (enroll) {
		fclose(out);
		out = NULL;
		ok = write_golden(s->golden, text, why) == 0;
		*unwritten = !ok;
	}
out:
	if (out != NULL)
		fclose(out);
	free(text);
	if (golden != NULL)
		fclose(golden);
	return ok;
}

/* ------------------------------------------------------------ tpm */

/* Save the AK's public key (PEM) under state_dir for verifiers. */
static void
save_ak(const struct settings *s, EVP_PKEY *ak)
{
	char path[4200];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/ak.pem", s->state_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		zt_log(LOG_WARNING, "cannot save %s: %s", path,
		    strerror(errno));
		return;
	}
	PEM_write_PUBKEY(f, ak);
	fclose(f);
}

static int
tpm_connect(struct attest *a, const struct settings *s, char *why)
{
	uint8_t spki[512], pub[TPM_PUBLIC_MAX];
	size_t spki_len = sizeof(spki), pub_len = sizeof(pub);
	const uint8_t *p = spki;
	int r;

	if (a->tpm != NULL)
		return 0;
	if ((r = tpm_open(s->tcti, &a->tpm, why)) < 0)
		return r;
	if ((r = tpm_ak_public(a->tpm, spki, &spki_len, pub, &pub_len)) < 0 ||
	    (a->ak = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL) {
		snprintf(why, ATTEST_REASON_MAX, "cannot read the attestation "
		    "key's public part");
		tpm_close(a->tpm);
		a->tpm = NULL;
		return r < 0 ? r : -EINVAL;
	}
	save_ak(s, a->ak);
	return 0;
}

static void
tpm_disconnect(struct attest *a)
{
	tpm_close(a->tpm);
	a->tpm = NULL;
	EVP_PKEY_free(a->ak);
	a->ak = NULL;
}

/* Write the quote where `tpm2_checkquote` can read it (on demand). */
static int export_quote(struct attest *a, const struct settings *s,
    const uint8_t nonce[32], const struct tpm_quote *q,
    const struct tpm_pcrs *pcrs, char *why);

static bool
measure_tpm(struct attest *a, const struct settings *s, bool enroll,
    bool export, char *why, char *pcr_text, size_t pcr_text_size,
    char *export_why, bool *unwritten)
{
	struct tpm_pcrs pcrs;
	struct tpm_quote quote;
	struct quote_facts facts;
	enum quote_failure failure = QUOTE_OK;
	uint8_t nonce[32];
	int r = 0;

	if (tpm_connect(a, s, why) < 0)
		return false;
	for (int tries = 0; tries < QUOTE_TRIES; tries++) {
		if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce)) {
			snprintf(why, ATTEST_REASON_MAX, "no random nonce");
			return false;
		}
		if ((r = tpm_pcr_read(a->tpm, s->pcrs, s->n_pcrs, &pcrs,
		    why)) < 0 ||
		    (r = tpm_quote(a->tpm, nonce, s->pcrs, s->n_pcrs, &quote,
		    why)) < 0) {
			/* The TPM stopped answering: reconnect next time. */
			tpm_disconnect(a);
			return false;
		}
		r = quote_verify(a->ak, quote.attest, quote.attest_len,
		    quote.signature, quote.signature_len, nonce, s->pcrs,
		    s->n_pcrs, (const uint8_t (*)[32])pcrs.value,
		    a->have_baseline ? &a->baseline : NULL, &facts, &failure,
		    why);
		/* PCRs extended between the read and the quote: again. */
		if (r < 0 && failure == QUOTE_DIGEST)
			continue;
		break;
	}
	if (r < 0) {
		if (failure == QUOTE_RESET) {
			zt_log(LOG_WARNING, "attestation: %s", why);
			/* Untrusted now; the next good quote whose PCRs
			 * match golden sets the new baseline. */
			a->have_baseline = false;
		}
		return false;
	}
	{
		size_t used = 0;

		pcr_text[0] = '\0';
		for (size_t i = 0; i < pcrs.n && used + 70 < pcr_text_size;
		    i++) {
			char hex[65];

			digest_hex(pcrs.value[i], 32, hex);
			used += (size_t)snprintf(pcr_text + used,
			    pcr_text_size - used, "%s%u:%s", i ? " " : "",
			    pcrs.index[i], hex);
		}
	}
	if (enroll) {
		char text[24 * 80 + 64], hex[65];
		size_t used = (size_t)snprintf(text, sizeof(text),
		    "# ztgate golden values: pcr SHA256 INDEX (sha256 bank)\n");

		for (size_t i = 0; i < pcrs.n; i++) {
			digest_hex(pcrs.value[i], 32, hex);
			used += (size_t)snprintf(text + used, sizeof(text) - used,
			    "pcr %s %u\n", hex, pcrs.index[i]);
		}
		if (write_golden(s->golden, text, why) < 0) {
			*unwritten = true;
			return false;
		}
	} else {
		FILE *golden = open_golden(s->golden, why);
		char want[TPM_PCR_COUNT][65];
		bool have[TPM_PCR_COUNT];

		if (golden == NULL)
			return false;
		golden_pcrs(golden, want, have);
		fclose(golden);
		for (size_t i = 0; i < pcrs.n; i++) {
			unsigned index = pcrs.index[i];
			char hex[65];

			digest_hex(pcrs.value[i], 32, hex);
			if (index >= TPM_PCR_COUNT || !have[index]) {
				snprintf(why, ATTEST_REASON_MAX, "no golden value "
				    "for PCR %u: run ztctl enroll-host", index);
				return false;
			}
			if (strcmp(hex, want[index]) != 0) {
				snprintf(why, ATTEST_REASON_MAX, "PCR %u differs "
				    "from its golden value", index);
				return false;
			}
		}
	}
	a->baseline = facts;
	a->have_baseline = true;
	if (export && export_quote(a, s, nonce, &quote, &pcrs,
	    export_why) < 0)
		zt_log(LOG_WARNING, "attestation: quote not exported: %s",
		    export_why);
	return true;
}

/* NAME in the directory DIR_FD: LEN bytes of DATA, 0644, whole. */
static int
write_file(int dir_fd, const char *name, const void *data, size_t len)
{
	int fd, r = 0;

	fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len)
		r = -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

static const char *const export_files[] = { "msg", "sig", "nonce", "pcrs" };

/* Remove the export directory NAME under STATE (its four files, then it). */
static void
remove_export(int state, const char *name)
{
	int dir = openat(state, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);

	if (dir >= 0) {
		for (size_t i = 0; i < 4; i++)
			unlinkat(dir, export_files[i], 0);
		close(dir);
	}
	unlinkat(state, name, AT_REMOVEDIR);
}

/* Every quote.* directory under STATE but KEEP: what an earlier run left
 * (a quote/ directory of the old layout is moved aside first). */
static void
prune_exports(int state, const char *keep)
{
	struct dirent *e;
	DIR *d;
	int fd = openat(state, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "quote.", 6) == 0 &&
		    strcmp(e->d_name, keep) != 0 &&
		    strcmp(e->d_name, "quote.link") != 0)
			remove_export(state, e->d_name);
	closedir(d);
}

/*
 * Export Q (with NONCE and PCRS) for `tpm2_checkquote`: a new directory
 * STATE_DIR/quote.<boot time> with the four files (msg, sig, pcrs, nonce),
 * then the symbolic link STATE_DIR/quote switched to it by one rename.
 * Files are never rewritten in place: a reader that resolved the link
 * (cd into it, readlink -f) reads one quote's four files, and the
 * EXPORTS_KEPT - 1 directories before the current one stay.  WHY on
 * failure.
 */
static int
export_quote(struct attest *a, const struct settings *s,
    const uint8_t nonce[32], const struct tpm_quote *q,
    const struct tpm_pcrs *pcrs, char *why)
{
	static uint8_t blob[8192];	/* worker thread only */
	size_t len = sizeof(blob);
	struct timespec now;
	char name[32], hex[65];
	int state, dir = -1, r;

	/* Named by CLOCK_BOOTTIME: increasing across ztd's restarts; one
	 * left by an earlier boot is replaced. */
	clock_gettime(CLOCK_BOOTTIME, &now);
	snprintf(name, sizeof(name), "quote.%lld.%09ld",
	    (long long)now.tv_sec, now.tv_nsec);
	if ((state = open(s->state_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0) {
		r = -errno;
		snprintf(why, ATTEST_REASON_MAX, "state_dir %.100s: %s",
		    s->state_dir, strerror(-r));
		return r;
	}
	digest_hex(nonce, 32, hex);
	if (mkdirat(state, name, 0755) < 0 && errno == EEXIST)
		remove_export(state, name);
	if ((mkdirat(state, name, 0755) < 0 && errno != EEXIST) ||
	    (dir = openat(state, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		r = -errno;
		goto out;
	}
	if ((r = tpm_pcrs_serialize(pcrs, blob, &len)) < 0 ||
	    (r = write_file(dir, "msg", q->attest, q->attest_len)) < 0 ||
	    (r = write_file(dir, "sig", q->signature,
	    q->signature_len)) < 0 ||
	    (r = write_file(dir, "pcrs", blob, len)) < 0 ||
	    (r = write_file(dir, "nonce", hex, 64)) < 0)
		goto out;
	/* The switch: a new link renamed over the old one.  quote/ as a
	 * directory (the layout before) is moved aside and removed. */
	unlinkat(state, "quote.link", 0);
	if (symlinkat(name, state, "quote.link") < 0) {
		r = -errno;
		goto out;
	}
	if (renameat(state, "quote.link", state, "quote") < 0) {
		struct stat st;

		r = -errno;
		if (r != -EISDIR || fstatat(state, "quote", &st,
		    AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			goto out;
		if (renameat(state, "quote", state, "quote.old-layout") < 0 ||
		    renameat(state, "quote.link", state, "quote") < 0) {
			r = -errno;
			goto out;
		}
		remove_export(state, "quote.old-layout");
	}
	close(dir);
	dir = -1;
	if (!a->exports_pruned) {
		prune_exports(state, name);
		a->exports_pruned = true;
	} else if (a->exports[EXPORTS_KEPT - 1][0] != '\0')
		remove_export(state, a->exports[EXPORTS_KEPT - 1]);
	memmove(a->exports[1], a->exports[0],
	    sizeof(a->exports[0]) * (EXPORTS_KEPT - 1));
	snprintf(a->exports[0], sizeof(a->exports[0]), "%s", name);
	close(state);
	return 0;
out:
	snprintf(why, ATTEST_REASON_MAX, "%.100s/%s: %s", s->state_dir, name,
	    strerror(r < 0 ? -r : EIO));
	if (dir >= 0) {
		close(dir);
		remove_export(state, name);
	}
	close(state);
	return r;
}

/* ------------------------------------------------------------ worker */

static int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
worker(void *arg)
{
	struct attest *a = arg;
	struct settings s = { 0 };
	int64_t next_due = 0;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		char why[ATTEST_REASON_MAX] = "", pcr_text[1024] = "";
		char export_why[ATTEST_REASON_MAX] = "";
		uint64_t seq, one = 1;
		bool enroll, export, ok, nothing_measured, unwritten;

		while (!a->stop && !a->want && !a->want_enroll &&
		    monotonic_ms() < next_due) {
			struct timespec until;
			int64_t due = next_due;

			until.tv_sec = due / 1000;
			until.tv_nsec = (due % 1000) * 1000000;
			pthread_cond_timedwait(&a->wake, &a->lock, &until);
		}
		if (a->stop)
			break;
		enroll = a->want_enroll;
		export = a->want_export;
		a->want = a->want_enroll = a->want_export = false;
		seq = ++a->started;
		a->started_at_ms = ztd_now_ms();
		s = a->settings;	/* then a private copy of the files */
		s.files = calloc(a->settings.n_files ? a->settings.n_files : 1,
		    sizeof(char *));
		if (s.files == NULL)
			abort();
		for (size_t i = 0; i < a->settings.n_files; i++)
			if ((s.files[i] = strdup(a->settings.files[i])) == NULL)
				abort();
		pthread_mutex_unlock(&a->lock);

		unwritten = false;
		if (s.mode == ATTEST_TPM)
			ok = measure_tpm(a, &s, enroll, export, why, pcr_text,
			    sizeof(pcr_text), export_why, &unwritten);
		else
			ok = measure_files(&s, enroll, why, &unwritten);
		nothing_measured = ok && s.mode != ATTEST_TPM &&
		    s.n_files == 0;
		free_files(&s);

		pthread_mutex_lock(&a->lock);
		if (enroll) {
			a->enroll_result = ok ? 0 : ZT_E_CONFIG;
			snprintf(a->enroll_why, sizeof(a->enroll_why), "%s", why);
		}
		if (unwritten) {
			/* Only the golden file could not be written: the
			 * host is what it was, and so is its trust. */
			zt_log(LOG_ERR, "attestation: enroll-host: %s; the "
			    "host's trust is unchanged", why);
			a->completed = seq;
			a->view.completed = seq;
			next_due = monotonic_ms() +
			    (int64_t)a->settings.interval * 1000;
			if (write(a->event_fd, &one, sizeof(one)) < 0)
				zt_log(LOG_ERR, "attestation: eventfd: %s",
				    strerror(errno));
			continue;
		}
		a->view.measured = true;
		a->view.trusted = ok;
		a->view.nothing_measured = nothing_measured;
		if (ok)
			a->view.last_good_ms = ztd_now_ms();
		snprintf(a->view.reason, sizeof(a->view.reason), "%s", why);
		if (pcr_text[0] != '\0')
			snprintf(a->view.pcrs, sizeof(a->view.pcrs), "%s",
			    pcr_text);
		if (export) {
			a->view.export_seq = seq;
			a->view.exported = ok && s.mode == ATTEST_TPM &&
			    export_why[0] == '\0';
			snprintf(a->view.export_why, sizeof(a->view.export_why),
			    "%s", !ok ? "the host is not trusted" :
			    s.mode != ATTEST_TPM ? "no quote in software mode" :
			    export_why);
		}
		a->completed = seq;
		a->view.completed = seq;
		next_due = monotonic_ms() + (int64_t)a->settings.interval * 1000;
		if (write(a->event_fd, &one, sizeof(one)) < 0)
			zt_log(LOG_ERR, "attestation: eventfd: %s",
			    strerror(errno));
	}
	pthread_mutex_unlock(&a->lock);
	free_files(&s);
	tpm_disconnect(a);
	return NULL;
}

/* ------------------------------------------------------------ the loop's side */

int
attest_new(const struct ztd_config *config, struct attest **out, char *why)
{
	pthread_condattr_t attr;
	struct attest *a;
	enum attest_mode mode = config->attest_mode;
	int r;

	*out = NULL;
	if (mode == ATTEST_AUTO)
		mode = access("/dev/tpmrm0", F_OK) == 0 ? ATTEST_TPM :
		    ATTEST_SOFTWARE;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	a->mode = mode;
	a->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->event_fd < 0) {
		r = -errno;
		free(a);
		return r;
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->wake, &attr);
	pthread_condattr_destroy(&attr);
	copy_settings(&a->settings, config, mode);
	/* A TPM that cannot be reached at start is an error, not a fallback. */
	if (mode == ATTEST_TPM && (r = tpm_connect(a, &a->settings, why)) < 0) {
		attest_free(a);
		return r;
	}
	a->want = true;
	if ((r = pthread_create(&a->thread, NULL, worker, a)) != 0) {
		snprintf(why, ATTEST_REASON_MAX, "pthread_create: %s",
		    strerror(r));
		attest_free(a);
		return -r;
	}
	a->thread_started = true;
	*out = a;
	return 0;
}

void
attest_free(struct attest *a)
{
	if (a == NULL)
		return;
	if (a->thread_started) {
		pthread_mutex_lock(&a->lock);
		a->stop = true;
		pthread_cond_signal(&a->wake);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->thread, NULL);
	} else
		tpm_disconnect(a);
	free_files(&a->settings);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->lock);
	close(a->event_fd);
	free(a);
}

int
attest_event_fd(const struct attest *a)
{
	return a->event_fd;
}

bool
attest_collect(struct attest *a)
{
	uint64_t count;
	bool trusted, changed, nothing;
	char reason[ATTEST_REASON_MAX];

	while (read(a->event_fd, &count, sizeof(count)) > 0)
		;
	pthread_mutex_lock(&a->lock);
	trusted = a->view.trusted;
	nothing = a->view.nothing_measured;
	snprintf(reason, sizeof(reason), "%s", !trusted ? a->view.reason :
	    nothing ? ATTEST_NOTHING_MEASURED : "");
	pthread_mutex_unlock(&a->lock);
	changed = trusted != a->loop_trusted;
	/* Said again when only what was measured changed (a reload). */
	if (changed || nothing != a->loop_nothing_measured)
		zt_log(trusted ? LOG_NOTICE : LOG_WARNING, "attestation (%s): "
		    "host %s%s%s", attest_name(a), trusted ? "trusted" :
		    "untrusted", reason[0] != '\0' ? ": " : "", reason);
	a->loop_trusted = trusted;
	a->loop_nothing_measured = nothing;
	return changed;
}

void
attest_reconfigure(struct attest *a, const struct ztd_config *config)
{
	pthread_mutex_lock(&a->lock);
	copy_settings(&a->settings, config, a->mode);
	/* Files, PCRs or golden values may have changed: what was measured
	 * under the old settings no longer counts. */
	a->view.measured = false;
	a->view.last_good_ms = 0;
	a->want = true;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
}

static void
ask_locked(struct attest *a, uint64_t *ticket)
{
	/* The next measurement to start is one started after this call. */
	*ticket = a->started + 1;
	a->want = true;
	pthread_cond_signal(&a->wake);
}

enum attest_answer
attest_require(struct attest *a, unsigned max_age, uint64_t waited,
    long *age, uint64_t *ticket, char *why)
{
	enum attest_answer answer;
	int64_t now = ztd_now_ms();

	pthread_mutex_lock(&a->lock);
	*age = a->view.last_good_ms > 0 ?
	    (long)((now - a->view.last_good_ms) / 1000) : -1;
	if (waited != 0) {
		/* It waited for one measurement: that one decides. */
		if (a->completed < waited) {
			snprintf(why, ATTEST_REASON_MAX, "no attestation within "
			    "%d ms", ATTEST_WAIT_MS);
			answer = ATTEST_NO;
		} else if (!a->view.trusted) {
			snprintf(why, ATTEST_REASON_MAX, "host untrusted: %.170s",
			    a->view.reason);
			answer = ATTEST_NO;
		} else
			answer = ATTEST_YES;
	} else if (a->view.measured && !a->view.trusted) {
		snprintf(why, ATTEST_REASON_MAX, "host untrusted: %.170s",
		    a->view.reason);
		answer = ATTEST_NO;
	} else if (a->view.measured && max_age > 0 &&
	    now - a->view.last_good_ms <= (int64_t)max_age * 1000) {
		answer = ATTEST_YES;
	} else {
		ask_locked(a, ticket);
		answer = ATTEST_WAIT;
	}
	pthread_mutex_unlock(&a->lock);
	return answer;
}

bool
attest_trusted(const struct attest *a)
{
	return a->loop_trusted;
}

bool
attest_nothing_measured(const struct attest *a)
{
	return a->loop_trusted && a->loop_nothing_measured;
}

bool
attest_ready(const struct attest *a, uint64_t ticket)
{
	bool ready;

	pthread_mutex_lock((pthread_mutex_t *)&a->lock);
	ready = a->completed >= ticket;
	pthread_mutex_unlock((pthread_mutex_t *)&a->lock);
	return ready;
}

void
attest_request(struct attest *a, uint64_t *ticket)
{
	pthread_mutex_lock(&a->lock);
	ask_locked(a, ticket);
	pthread_mutex_unlock(&a->lock);
}

void
attest_request_enroll(struct attest *a, uint64_t *ticket)
{
	pthread_mutex_lock(&a->lock);
	ask_locked(a, ticket);
	a->want_enroll = true;
	pthread_mutex_unlock(&a->lock);
}

void
attest_request_export(struct attest *a, uint64_t *ticket)
{
	pthread_mutex_lock(&a->lock);
	ask_locked(a, ticket);
	a->want_export = true;
	pthread_mutex_unlock(&a->lock);
}

int
attest_enroll_result(const struct attest *a, char *why)
{
	int r;

	pthread_mutex_lock((pthread_mutex_t *)&a->lock);
	r = a->enroll_result;
	snprintf(why, ATTEST_REASON_MAX, "%s", a->enroll_why);
	pthread_mutex_unlock((pthread_mutex_t *)&a->lock);
	return r;
}

void
attest_get_view(const struct attest *a, struct attest_view *view)
{
	pthread_mutex_lock((pthread_mutex_t *)&a->lock);
	*view = a->view;
	pthread_mutex_unlock((pthread_mutex_t *)&a->lock);
}

const char *
attest_name(const struct attest *a)
{
	return a->mode == ATTEST_TPM ? "tpm" : "software";
}

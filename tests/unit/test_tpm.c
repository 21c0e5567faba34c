/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the TPM wrapper against a real swtpm each test starts and stops. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include "attest_tpm.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define PORT_FIRST 20000	/* below the usual ephemeral range */
#define PORT_LAST 32000
#define START_TRIES 20		/* port pairs tried per swtpm start */
#define WAIT_MS 5000		/* for swtpm to come up or go away */
#define OPEN_CLOSE_ROUNDS 200
#define TIMED_ROUNDS 100
#define SPKI_MAX 128
/* TPM2_TRANSIENT_FIRST, which the 3.2.1 header computes as an int
 * shift that overflows (UBSan says so). */
#define TRANSIENT_FIRST 0x80000000u
#define HANG_SECONDS 120	/* the whole run takes about 7 s */

extern char **environ;

/* The PCRs ztd's shipped configuration quotes. */
static const unsigned quoted_pcrs[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11,
	14 };

/* What the tests extend PCR 14 with: SHA-256("ztgate test measurement"). */
static const char measurement_text[] = "ztgate test measurement";

/* One swtpm: its state directory, port pair and daemon pid. */
struct swtpm {
	char dir[PATH_MAX];
	unsigned port;		/* server; control is port + 1 */
	pid_t pid;
	char tcti[64];
};

/* Every swtpm still running, for the exit handler. */
static pid_t running[8];

/* ------------------------------------------------------------ helpers */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static bool
in_path(const char *program)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (path == NULL)
		path = "/usr/bin:/bin";
	while (*path != '\0') {
		size_t len = strcspn(path, ":");

		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path,
		    program) < (int)sizeof(buf) && access(buf, X_OK) == 0)
			return true;
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

static void
to_hex(const uint8_t *bytes, size_t n, char *hex)
{
	for (size_t i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", bytes[i]);
	hex[2 * n] = '\0';
}

/* Whether both PORT and PORT + 1 can be bound on 127.0.0.1 now. */
static bool
port_pair_free(unsigned port)
{
	for (unsigned p = port; p <= port + 1; p++) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
			.sin_port = htons((uint16_t)p),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool ok = fd >= 0 &&
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (fd >= 0)
			close(fd);
		if (!ok)
			return false;
	}
	return true;
}

/* A free port pair, different on each call (parallel runs use the pid). */
static unsigned
pick_port_pair(void)
{
	static unsigned next;
	const unsigned span = (PORT_LAST - PORT_FIRST) / 2;

	if (next == 0)
		next = (unsigned)getpid() * 7 % span;
	for (unsigned i = 0; i < span; i++) {
		unsigned port = PORT_FIRST + 2 * (next++ % span);

		if (port_pair_free(port))
			return port;
	}
	return 0;
}

static bool
can_connect(unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 &&
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static pid_t
read_pid_file(const char *dir)
{
	char path[PATH_MAX + 16];
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/swtpm.pid", dir);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

/* Whether PID is a live (not zombie) swtpm, so that we never signal a
 * recycled pid. */
static bool
is_swtpm(pid_t pid)
{
	char path[64], stat[256];
	const char *state;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	len = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (len <= 0)
		return false;
	stat[len] = '\0';
	/* "pid (comm) S ..." */
	if (strstr(stat, "(swtpm)") == NULL ||
	    (state = strrchr(stat, ')')) == NULL)
		return false;
	return state[1] == ' ' && state[2] != 'Z' && state[2] != 'X';
}

static void
track(pid_t pid, bool on)
{
	for (size_t i = 0; i < ARRAY_SIZE(running); i++) {
		if (on && running[i] == 0) {
			running[i] = pid;
			return;
		}
		if (!on && running[i] == pid)
			running[i] = 0;
	}
}

/* Signal PID (a swtpm) with SIG and wait until it is gone; SIGKILL late. */
static void
kill_swtpm(pid_t pid, int sig)
{
	double end = now_ms() + WAIT_MS;

	if (pid <= 0)
		return;
	track(pid, false);
	if (!is_swtpm(pid))
		return;
	kill(pid, sig);
	while (is_swtpm(pid)) {
		if (now_ms() > end) {
			kill(pid, SIGKILL);
			end = now_ms() + WAIT_MS;
		}
		sleep_ms(5);
	}
}

/* A hang is a failure: stop every swtpm and exit (async-signal-safe). */
static void
on_alarm(int sig)
{
	static const char message[] = "Bail out! test_tpm: a TPM call hung\n";

	(void)sig;
	for (size_t i = 0; i < ARRAY_SIZE(running); i++)
		if (running[i] != 0)
			kill(running[i], SIGKILL);
	(void)!write(STDOUT_FILENO, message, sizeof(message) - 1);
	_exit(99);
}

static void
kill_all_swtpm(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(running); i++)
		if (running[i] != 0)
			kill_swtpm(running[i], SIGKILL);
}

/*
 * Start swtpm on S->dir (created if it does not exist: a fresh directory
 * is a fresh TPM, with new seeds) on a free port pair.  Returns 0 or -1.
 */
static int
swtpm_start(struct swtpm *s)
{
	char state[PATH_MAX + 16], pidfile[PATH_MAX + 32];
	char log[PATH_MAX + 32], server[64], ctrl[64];
	char *argv[] = { "swtpm", "socket", "--tpm2", "--tpmstate", state,
		"--server", server, "--ctrl", ctrl, "--flags",
		"not-need-init,startup-clear", "--daemon", "--pid", pidfile,
		"--log", log, NULL };

	mkdir(s->dir, 0700);
	snprintf(state, sizeof(state), "dir=%s", s->dir);
	snprintf(pidfile, sizeof(pidfile), "file=%s/swtpm.pid", s->dir);
	snprintf(log, sizeof(log), "file=%s/swtpm.log,level=1", s->dir);
	for (int tries = 0; tries < START_TRIES; tries++) {
		pid_t child;
		int status;
		double end;

		if ((s->port = pick_port_pair()) == 0)
			return -1;
		snprintf(server, sizeof(server), "type=tcp,port=%u", s->port);
		snprintf(ctrl, sizeof(ctrl), "type=tcp,port=%u", s->port + 1);
		snprintf(s->tcti, sizeof(s->tcti),
		    "swtpm:host=127.0.0.1,port=%u", s->port);
		unlink(pidfile + strlen("file="));
		if (posix_spawnp(&child, "swtpm", NULL, NULL, argv,
		    environ) != 0)
			return -1;
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			continue;	/* lost the port race: next pair */
		for (end = now_ms() + WAIT_MS; now_ms() < end; sleep_ms(2))
			if ((s->pid = read_pid_file(s->dir)) > 0 &&
			    can_connect(s->port + 1))
				break;
		if (s->pid > 0)
			track(s->pid, true);
		if (s->pid > 0 && is_swtpm(s->pid) && can_connect(s->port + 1))
			return 0;
		kill_swtpm(s->pid, SIGKILL);
		s->pid = 0;
	}
	return -1;
}

static void
swtpm_stop(struct swtpm *s)
{
	kill_swtpm(s->pid, SIGTERM);
	s->pid = 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void
swtpm_destroy(struct swtpm *s)
{
	swtpm_stop(s);
	if (s->dir[0] != '\0')
		nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = '\0';
}

/* A new temporary state directory and a swtpm on it; fails the test. */
static void
swtpm_fresh(struct swtpm *s)
{
	const char *tmp = getenv("TMPDIR");

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/test_tpm.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(s->dir));
	assert_int_equal(swtpm_start(s), 0);
}

static int
setup_swtpm(void **state)
{
	struct swtpm *s;

	*state = NULL;
	if (!in_path("swtpm"))
		return 0;	/* each test skips */
	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	swtpm_fresh(s);
	*state = s;
	return 0;
}

static int
teardown_swtpm(void **state)
{
	struct swtpm *s = *state;

	if (s != NULL) {
		swtpm_destroy(s);
		free(s);
	}
	return 0;
}

/* The swtpm of this test, or skip when swtpm is not installed. */
static struct swtpm *
need_swtpm(void **state)
{
	if (*state == NULL)
		skip();
	return *state;
}

static struct tpm *
open_tpm(const struct swtpm *s)
{
	char why[TPM_REASON_MAX] = "";
	struct tpm *tpm = NULL;
	int r = tpm_open(s->tcti, &tpm, why);

	if (r < 0)
		fail_msg("tpm_open(%s): %d %s", s->tcti, r, why);
	assert_non_null(tpm);
	return tpm;
}

/* The AK's SPKI and TPM2B_PUBLIC. */
struct ak {
	uint8_t spki[SPKI_MAX];
	size_t spki_len;
	uint8_t public[TPM_PUBLIC_MAX];
	size_t public_len;
};

static void
get_ak(const struct tpm *tpm, struct ak *ak)
{
	ak->spki_len = sizeof(ak->spki);
	ak->public_len = sizeof(ak->public);
	assert_int_equal(tpm_ak_public(tpm, ak->spki, &ak->spki_len,
	    ak->public, &ak->public_len), 0);
}

static void
ak_of(const struct swtpm *s, struct ak *ak)
{
	struct tpm *tpm = open_tpm(s);

	get_ak(tpm, ak);
	tpm_close(tpm);
}

static EVP_PKEY *
pkey_of(const struct ak *ak)
{
	const unsigned char *p = ak->spki;
	EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)ak->spki_len);

	assert_non_null(key);
	assert_ptr_equal(p, ak->spki + ak->spki_len);
	return key;
}

static void
read_pcrs(struct tpm *tpm, const unsigned *pcrs, size_t n,
    struct tpm_pcrs *out)
{
	char why[TPM_REASON_MAX] = "";
	int r = tpm_pcr_read(tpm, pcrs, n, out, why);

	if (r < 0)
		fail_msg("tpm_pcr_read: %d %s", r, why);
	assert_int_equal(out->n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(out->index[i], pcrs[i]);
}

static void
quote(struct tpm *tpm, const uint8_t nonce[32], const unsigned *pcrs,
    size_t n, struct tpm_quote *q)
{
	char why[TPM_REASON_MAX] = "";
	int r = tpm_quote(tpm, nonce, pcrs, n, q, why);

	if (r < 0)
		fail_msg("tpm_quote: %d %s", r, why);
	assert_true(q->attest_len > 0 && q->attest_len <= TPM_ATTEST_MAX);
	assert_true(q->signature_len > 0 &&
	    q->signature_len <= TPM_SIGNATURE_MAX);
}

static void
sha256(const void *data, size_t len, uint8_t out[32])
{
	assert_int_equal(EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL),
	    1);
}

/* Extend PCR 14 of S with DIGEST through tpm2-tools (a second client). */
static void
extend_pcr14(const struct swtpm *s, const uint8_t digest[32])
{
	char hex[65], command[256];

	to_hex(digest, 32, hex);
	snprintf(command, sizeof(command), "TPM2TOOLS_TCTI='%s' "
	    "tpm2_pcrextend 14:sha256=%s", s->tcti, hex);
	assert_int_equal(system(command), 0);
}

/* How many transient objects S holds, asked through a separate context. */
static unsigned
count_transients(const struct swtpm *s)
{
	TSS2_TCTI_CONTEXT *tcti = NULL;
	ESYS_CONTEXT *esys = NULL;
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	unsigned n;

	assert_int_equal(Tss2_TctiLdr_Initialize(s->tcti, &tcti), 0);
	assert_int_equal(Esys_Initialize(&esys, tcti, NULL), 0);
	assert_int_equal(Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, TPM2_CAP_HANDLES, TRANSIENT_FIRST,
	    TPM2_MAX_CAP_HANDLES, &more, &cap), 0);
	n = cap->data.handles.count;
	Esys_Free(cap);
	Esys_Finalize(&esys);
	Tss2_TctiLdr_Finalize(&tcti);
	return n;
}

/* The unmarshalled TPMS_ATTEST of Q, which must be all of Q->attest. */
static void
unmarshal_attest(const struct tpm_quote *q, TPMS_ATTEST *attest)
{
	size_t offset = 0;

	assert_int_equal(Tss2_MU_TPMS_ATTEST_Unmarshal(q->attest,
	    q->attest_len, &offset, attest), 0);
	assert_int_equal(offset, q->attest_len);
}

/*
 * Whether SIG (a marshalled TPMT_SIGNATURE, ECDSA/SHA-256) is KEY's over
 * DATA, checked by OpenSSL: r and s become a DER ECDSA-Sig-Value.
 */
static bool
signature_verifies(EVP_PKEY *key, const uint8_t *data, size_t data_len,
    const uint8_t *sig, size_t sig_len)
{
	TPMT_SIGNATURE s;
	ECDSA_SIG *ecdsa;
	BIGNUM *r, *ss;
	EVP_MD_CTX *md;
	unsigned char *der = NULL;
	size_t offset = 0;
	int der_len, ok;

	assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Unmarshal(sig, sig_len,
	    &offset, &s), 0);
	assert_int_equal(offset, sig_len);
	assert_int_equal(s.sigAlg, TPM2_ALG_ECDSA);
	assert_int_equal(s.signature.ecdsa.hash, TPM2_ALG_SHA256);
	r = BN_bin2bn(s.signature.ecdsa.signatureR.buffer,
	    s.signature.ecdsa.signatureR.size, NULL);
	ss = BN_bin2bn(s.signature.ecdsa.signatureS.buffer,
	    s.signature.ecdsa.signatureS.size, NULL);
	assert_non_null(ecdsa = ECDSA_SIG_new());
	assert_true(r != NULL && ss != NULL && ECDSA_SIG_set0(ecdsa, r, ss));
	assert_true((der_len = i2d_ECDSA_SIG(ecdsa, &der)) > 0);
	assert_non_null(md = EVP_MD_CTX_new());
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
	    key), 1);
	ok = EVP_DigestVerify(md, der, (size_t)der_len, data, data_len);
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(ecdsa);
	return ok == 1;
}

/*
 * Check every field of quote Q over PCRS (N, values VALUES read just
 * before) with NONCE, signed by AK.
 */
static void
check_quote(const struct ak *ak, const uint8_t nonce[32], const unsigned *pcrs,
    size_t n, const struct tpm_pcrs *values, const struct tpm_quote *q)
{
	const TPMS_PCR_SELECTION *sel;
	uint8_t concat[TPM_PCR_COUNT * 32], digest[32];
	size_t len = 0;
	TPMS_ATTEST attest;
	EVP_PKEY *key;

	unmarshal_attest(q, &attest);
	assert_int_equal(attest.magic, TPM2_GENERATED_VALUE);
	assert_int_equal(attest.type, TPM2_ST_ATTEST_QUOTE);
	assert_int_equal(attest.extraData.size, 32);
	assert_memory_equal(attest.extraData.buffer, nonce, 32);
	/* The selection is the one asked, as one sha256 bitmap. */
	assert_int_equal(attest.attested.quote.pcrSelect.count, 1);
	sel = &attest.attested.quote.pcrSelect.pcrSelections[0];
	assert_int_equal(sel->hash, TPM2_ALG_SHA256);
	for (unsigned pcr = 0; pcr < TPM_PCR_COUNT; pcr++) {
		bool asked = false, selected;

		for (size_t i = 0; i < n; i++)
			if (pcrs[i] == pcr)
				asked = true;
		selected = pcr / 8 < sel->sizeofSelect &&
		    (sel->pcrSelect[pcr / 8] >> (pcr % 8) & 1);
		assert_int_equal(asked, selected);
		/* pcrDigest: SHA-256 of the values in ascending PCR order. */
		for (size_t i = 0; selected && i < n; i++)
			if (values->index[i] == pcr) {
				memcpy(concat + len, values->value[i], 32);
				len += 32;
			}
	}
	assert_int_equal(len, 32 * n);
	sha256(concat, len, digest);
	assert_int_equal(attest.attested.quote.pcrDigest.size, 32);
	assert_memory_equal(attest.attested.quote.pcrDigest.buffer, digest,
	    32);
	key = pkey_of(ak);
	assert_true(signature_verifies(key, q->attest, q->attest_len,
	    q->signature, q->signature_len));
	EVP_PKEY_free(key);
}

static void
write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "we"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
write_pcrs(const char *dir, const char *name, const struct tpm_pcrs *pcrs)
{
	char text[TPM_PCR_COUNT * 70], hex[65];
	size_t len = 0;

	for (size_t i = 0; i < pcrs->n; i++) {
		to_hex(pcrs->value[i], 32, hex);
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "%u %s\n", pcrs->index[i], hex);
	}
	write_file(dir, name, text, len);
}

static void
write_pem(const char *dir, const char *name, const struct ak *ak)
{
	char path[PATH_MAX + 64];
	EVP_PKEY *key = pkey_of(ak);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "we"));
	assert_int_equal(PEM_write_PUBKEY(f, key), 1);
	assert_int_equal(fclose(f), 0);
	EVP_PKEY_free(key);
}

/* ------------------------------------------------------------ tests */

/* The AK is a function of the TPM's endorsement seed and nothing else. */
static void
test_ak_is_deterministic(void **state)
{
	struct swtpm *s = need_swtpm(state), other;
	struct ak first, second, restarted, fresh;
	TPM2B_PUBLIC pub = { 0 };	/* tss2-mu reads .size first */
	const TPMT_PUBLIC *area = &pub.publicArea;
	size_t offset = 0;
	EVP_PKEY *key;

	ak_of(s, &first);
	ak_of(s, &second);
	assert_int_equal(first.spki_len, 91);	/* P-256 SPKI */
	assert_int_equal(second.spki_len, first.spki_len);
	assert_memory_equal(second.spki, first.spki, first.spki_len);
	assert_int_equal(second.public_len, first.public_len);
	assert_memory_equal(second.public, first.public, first.public_len);

	/* The TPM2B_PUBLIC is the template, with the point filled in. */
	assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Unmarshal(first.public,
	    first.public_len, &offset, &pub), 0);
	assert_int_equal(offset, first.public_len);
	assert_int_equal(area->type, TPM2_ALG_ECC);
	assert_int_equal(area->nameAlg, TPM2_ALG_SHA256);
	assert_int_equal(area->objectAttributes, TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED |
	    TPMA_OBJECT_SIGN_ENCRYPT);
	assert_int_equal(area->parameters.eccDetail.curveID,
	    TPM2_ECC_NIST_P256);
	assert_int_equal(area->parameters.eccDetail.scheme.scheme,
	    TPM2_ALG_ECDSA);
	assert_int_equal(area->unique.ecc.x.size, 32);
	assert_int_equal(area->unique.ecc.y.size, 32);

	/* The SPKI is that point, for OpenSSL. */
	key = pkey_of(&first);
	assert_int_equal(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_bits(key), 256);
	assert_memory_equal(first.spki + 91 - 64, area->unique.ecc.x.buffer,
	    32);
	assert_memory_equal(first.spki + 91 - 32, area->unique.ecc.y.buffer,
	    32);
	EVP_PKEY_free(key);

	/* Same state, new swtpm process: same key. */
	swtpm_stop(s);
	assert_int_equal(swtpm_start(s), 0);
	ak_of(s, &restarted);
	assert_int_equal(restarted.spki_len, first.spki_len);
	assert_memory_equal(restarted.spki, first.spki, first.spki_len);

	/* Another TPM (fresh state, new seeds): another key. */
	swtpm_fresh(&other);
	ak_of(&other, &fresh);
	swtpm_destroy(&other);
	assert_int_equal(fresh.spki_len, first.spki_len);
	assert_memory_not_equal(fresh.spki, first.spki, first.spki_len);
}

/* Open and close flush the AK: 200 rounds on a TPM with 3 object slots
 * and no resource manager would fail with 0x902 otherwise. */
static void
test_open_close_leaves_nothing(void **state)
{
	struct swtpm *s = need_swtpm(state);
	struct tpm *tpm;
	double start, elapsed;

	assert_int_equal(count_transients(s), 0);
	tpm = open_tpm(s);
	assert_int_equal(count_transients(s), 1);	/* the AK */
	tpm_close(tpm);
	assert_int_equal(count_transients(s), 0);

	start = now_ms();
	for (int i = 0; i < OPEN_CLOSE_ROUNDS; i++)
		tpm_close(open_tpm(s));
	elapsed = now_ms() - start;
	assert_int_equal(count_transients(s), 0);
	print_message("# open+close (CreatePrimary ECC P-256 + flush): "
	    "%.3f ms each over %d rounds\n", elapsed / OPEN_CLOSE_ROUNDS,
	    OPEN_CLOSE_ROUNDS);
}

/* A fresh swtpm after startup-clear: PCRs 0-16 and 23 are zeros, 17-22
 * (the dynamic-launch PCRs) all ones; values come in the order asked. */
static void
test_pcr_read_fresh(void **state)
{
	struct swtpm *s = need_swtpm(state);
	static const unsigned scrambled[] = { 14, 3, 11, 0, 9, 7, 1, 8, 2, 6,
		5, 4 };
	unsigned all[TPM_PCR_COUNT];
	struct tpm_pcrs pcrs;
	uint8_t zeros[32] = { 0 }, ones[32];
	struct tpm *tpm = open_tpm(s);

	memset(ones, 0xff, sizeof(ones));
	read_pcrs(tpm, quoted_pcrs, ARRAY_SIZE(quoted_pcrs), &pcrs);
	assert_int_equal(pcrs.n, 12);
	for (size_t i = 0; i < pcrs.n; i++)
		assert_memory_equal(pcrs.value[i], zeros, 32);

	read_pcrs(tpm, scrambled, ARRAY_SIZE(scrambled), &pcrs);
	for (size_t i = 0; i < pcrs.n; i++)
		assert_memory_equal(pcrs.value[i], zeros, 32);

	/* All 24, in descending order: three PCR_Read commands (8 each). */
	for (unsigned i = 0; i < TPM_PCR_COUNT; i++)
		all[i] = TPM_PCR_COUNT - 1 - i;
	read_pcrs(tpm, all, TPM_PCR_COUNT, &pcrs);
	for (size_t i = 0; i < pcrs.n; i++) {
		unsigned pcr = pcrs.index[i];

		assert_memory_equal(pcrs.value[i],
		    pcr >= 17 && pcr <= 22 ? ones : zeros, 32);
	}
	tpm_close(tpm);
}

/* Arguments the wrapper refuses before the TPM sees them. */
static void
test_bad_arguments(void **state)
{
	struct swtpm *s = need_swtpm(state);
	static const unsigned twice[] = { 0, 7, 0 };
	static const unsigned too_high[] = { 1, 24 };
	unsigned many[TPM_PCR_COUNT + 1] = { 0 };
	uint8_t nonce[32] = { 0 }, spki[SPKI_MAX], pub[TPM_PUBLIC_MAX];
	size_t spki_len, pub_len;
	char why[TPM_REASON_MAX];
	struct tpm_pcrs pcrs;
	struct tpm_quote q;
	struct tpm *tpm = open_tpm(s);

	assert_int_equal(tpm_pcr_read(tpm, quoted_pcrs, 0, &pcrs, why),
	    -EINVAL);
	assert_int_equal(tpm_pcr_read(tpm, many, ARRAY_SIZE(many), &pcrs, why),
	    -EINVAL);
	assert_int_equal(tpm_pcr_read(tpm, too_high, 2, &pcrs, why), -EINVAL);
	assert_string_equal(why, "no PCR 24");
	assert_int_equal(tpm_pcr_read(tpm, twice, 3, &pcrs, why), -EINVAL);
	assert_string_equal(why, "PCR 0 asked twice");
	assert_int_equal(tpm_quote(tpm, nonce, twice, 3, &q, why), -EINVAL);
	assert_int_equal(tpm_quote(tpm, nonce, too_high, 2, &q, why), -EINVAL);

	spki_len = 90;
	pub_len = sizeof(pub);
	assert_int_equal(tpm_ak_public(tpm, spki, &spki_len, pub, &pub_len),
	    -ENOSPC);
	spki_len = sizeof(spki);
	pub_len = 10;
	assert_int_equal(tpm_ak_public(tpm, spki, &spki_len, pub, &pub_len),
	    -ENOSPC);

	/* Still usable afterwards. */
	read_pcrs(tpm, quoted_pcrs, ARRAY_SIZE(quoted_pcrs), &pcrs);
	tpm_close(tpm);
	tpm_close(NULL);
}

/* An extend by another client shows: PCR 14 = SHA-256(old || digest). */
static void
test_pcr_extend_seen(void **state)
{
	struct swtpm *s = need_swtpm(state);
	struct tpm_pcrs before, after;
	uint8_t digest[32], concat[64], expected[32];
	struct tpm *tpm;

	if (!in_path("tpm2_pcrextend"))
		skip();
	tpm = open_tpm(s);
	read_pcrs(tpm, quoted_pcrs, ARRAY_SIZE(quoted_pcrs), &before);
	sha256(measurement_text, strlen(measurement_text), digest);
	extend_pcr14(s, digest);
	read_pcrs(tpm, quoted_pcrs, ARRAY_SIZE(quoted_pcrs), &after);

	memcpy(concat, before.value[11], 32);	/* PCR 14 is the 12th */
	memcpy(concat + 32, digest, 32);
	sha256(concat, sizeof(concat), expected);
	assert_memory_equal(after.value[11], expected, 32);
	assert_memory_not_equal(after.value[11], before.value[11], 32);
	for (size_t i = 0; i < 11; i++)
		assert_memory_equal(after.value[i], before.value[i], 32);
	assert_true(after.update_counter > before.update_counter);
	tpm_close(tpm);
}

/* A quote: every field as asked, the signature the AK's; a changed byte
 * or another nonce is caught; tpm2_checkquote agrees. */
static void
test_quote(void **state)
{
	struct swtpm *s = need_swtpm(state);
	uint8_t nonce[32], digest[32];
	char hex[65], command[PATH_MAX * 4];
	struct tpm_pcrs pcrs;
	struct tpm_quote q;
	struct ak ak;
	EVP_PKEY *key;
	struct tpm *tpm = open_tpm(s);
	double start, read_ms, quote_ms;

	if (in_path("tpm2_pcrextend")) {
		sha256(measurement_text, strlen(measurement_text), digest);
		extend_pcr14(s, digest);
	}
	get_ak(tpm, &ak);
	assert_int_equal(getrandom(nonce, sizeof(nonce), 0), sizeof(nonce));
	read_pcrs(tpm, quoted_pcrs, ARRAY_SIZE(quoted_pcrs), &pcrs);
	quote(tpm, nonce, quoted_pcrs, ARRAY_SIZE(quoted_pcrs), &q);
	check_quote(&ak, nonce, quoted_pcrs, ARRAY_SIZE(quoted_pcrs), &pcrs,
	    &q);

	/* A flipped bit anywhere in the attest breaks the signature. */
	key = pkey_of(&ak);
	for (size_t i = 0; i < q.attest_len; i += 7) {
		q.attest[i] ^= 0x01;
		assert_false(signature_verifies(key, q.attest, q.attest_len,
		    q.signature, q.signature_len));
		q.attest[i] ^= 0x01;
	}
	EVP_PKEY_free(key);

	/* The exported form tpm2_checkquote reads, and its nonce check. */
	if (in_path("tpm2_checkquote")) {
		write_pem(s->dir, "ak.pem", &ak);
		write_file(s->dir, "attest.bin", q.attest, q.attest_len);
		write_file(s->dir, "sig.bin", q.signature, q.signature_len);
		to_hex(nonce, 32, hex);
		snprintf(command, sizeof(command), "cd '%s' && tpm2_checkquote "
		    "-u ak.pem -m attest.bin -s sig.bin -g sha256 -q %s "
		    ">/dev/null", s->dir, hex);
		assert_int_equal(system(command), 0);
		hex[0] = hex[0] == '0' ? '1' : '0';
		snprintf(command, sizeof(command), "cd '%s' && tpm2_checkquote "
		    "-u ak.pem -m attest.bin -s sig.bin -g sha256 -q %s "
		    ">/dev/null 2>&1", s->dir, hex);
		assert_int_not_equal(system(command), 0);
	}

	/* Every prefix of the selection, each with another nonce. */
	for (size_t n = 1; n <= ARRAY_SIZE(quoted_pcrs); n++) {
		nonce[n] ^= 0x5a;
		read_pcrs(tpm, quoted_pcrs, n, &pcrs);
		quote(tpm, nonce, quoted_pcrs, n, &q);
		check_quote(&ak, nonce, quoted_pcrs, n, &pcrs, &q);
	}

	/* What ztd does per attestation, timed. */
	read_ms = quote_ms = 0;
	for (int i = 0; i < TIMED_ROUNDS; i++) {
		nonce[i % 32] ^= (uint8_t)(i + 1);
		start = now_ms();
		read_pcrs(tpm, quoted_pcrs, ARRAY_SIZE(quoted_pcrs), &pcrs);
		read_ms += now_ms() - start;
		start = now_ms();
		quote(tpm, nonce, quoted_pcrs, ARRAY_SIZE(quoted_pcrs), &q);
		quote_ms += now_ms() - start;
		check_quote(&ak, nonce, quoted_pcrs, ARRAY_SIZE(quoted_pcrs),
		    &pcrs, &q);
	}
	print_message("# 12 PCRs: read (2 PCR_Read) %.3f ms, quote %.3f ms "
	    "(mean of %d)\n", read_ms / TIMED_ROUNDS, quote_ms / TIMED_ROUNDS,
	    TIMED_ROUNDS);
	tpm_close(tpm);
	assert_int_equal(count_transients(s), 0);
}

/* Nothing listens on the port: tpm_open fails at once and says so. */
static void
test_closed_port(void **state)
{
	char tcti[64], why[TPM_REASON_MAX] = "";
	struct tpm *tpm = (struct tpm *)&tcti;	/* must become NULL */
	unsigned port = pick_port_pair();
	double start;
	int r;

	(void)state;
	assert_int_not_equal(port, 0);
	snprintf(tcti, sizeof(tcti), "swtpm:host=127.0.0.1,port=%u", port);
	start = now_ms();
	r = tpm_open(tcti, &tpm, why);
	assert_true(now_ms() - start < 1000);
	assert_int_equal(r, -EIO);
	assert_null(tpm);
	print_message("# closed port: %s\n", why);
	assert_non_null(strstr(why, tcti));
	assert_non_null(strstr(why, "IO failure"));
}

/* A TCTI that does not exist: the loader's error, with the name. */
static void
test_unknown_tcti(void **state)
{
	char why[TPM_REASON_MAX] = "";
	struct tpm *tpm = NULL;

	(void)state;
	assert_int_equal(tpm_open("nosuchtcti:foo", &tpm, why), -EIO);
	assert_null(tpm);
	print_message("# unknown TCTI: %s\n", why);
	assert_non_null(strstr(why, "no TCTI module for \"nosuchtcti:foo\""));
}

/*
 * A TPM character device that stops answering, as the device TCTI
 * (/dev/tpmrm0) sees it: a pseudo-terminal whose master answers the
 * TCTI's probe (a GetRandom(8) it sends on open) and then nothing.
 * tpm_open must give up at its 5 s deadline with -ETIMEDOUT.  (swtpm
 * cannot show this: its TCTI ignores the timeout, see attest_tpm.c.)
 */
static void
test_device_stops_answering(void **state)
{
	/* GetRandom: tag, size 20, success, TPM2B_DIGEST of 8 bytes. */
	static const uint8_t probe_answer[20] = { 0x80, 0x01, 0, 0, 0, 20,
		0, 0, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
	char tcti[PATH_MAX + 8], why[TPM_REASON_MAX] = "";
	struct tpm *tpm = NULL;
	struct termios raw;
	void (*old_hup)(int);
	int master, slave, r;
	double start, elapsed;

	(void)state;
	assert_true((master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) >=
	    0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	snprintf(tcti, sizeof(tcti), "device:%s", ptsname(master));
	/* Raw, so the bytes pass unchanged; held open so they stay. */
	slave = open(tcti + strlen("device:"), O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(slave >= 0);
	assert_int_equal(tcgetattr(slave, &raw), 0);
	cfmakeraw(&raw);
	assert_int_equal(tcsetattr(slave, TCSANOW, &raw), 0);
	assert_int_equal(write(master, probe_answer, sizeof(probe_answer)),
	    sizeof(probe_answer));

	/*
	 * The TCTI opens the terminal without O_NOCTTY: a session leader
	 * (setsid) gets it as controlling terminal and SIGHUP when the
	 * master closes.
	 */
	old_hup = signal(SIGHUP, SIG_IGN);
	start = now_ms();
	r = tpm_open(tcti, &tpm, why);
	elapsed = now_ms() - start;
	close(slave);
	close(master);
	signal(SIGHUP, old_hup);

	print_message("# device that stops answering: %s (%.0f ms)\n", why,
	    elapsed);
	assert_int_equal(r, -ETIMEDOUT);
	assert_null(tpm);
	assert_non_null(strstr(why, "no answer from the TPM within 5000 ms"));
	assert_true(elapsed >= 4900 && elapsed < 7000);
}

/* swtpm dies under an open TPM: errors, quickly, and close still works. */
static void
test_swtpm_killed(void **state)
{
	struct swtpm *s = need_swtpm(state);
	uint8_t nonce[32] = { 1 };
	char why[TPM_REASON_MAX] = "";
	struct tpm_pcrs pcrs;
	struct tpm_quote q;
	struct tpm *tpm = open_tpm(s);
	double start;

	kill_swtpm(s->pid, SIGKILL);
	s->pid = 0;
	start = now_ms();
	assert_int_equal(tpm_quote(tpm, nonce, quoted_pcrs,
	    ARRAY_SIZE(quoted_pcrs), &q, why), -EIO);
	assert_true(now_ms() - start < 3000);
	print_message("# quote, swtpm gone: %s (%.1f ms)\n", why,
	    now_ms() - start);
	assert_non_null(strstr(why, "Quote"));
	/* The context is spent; later calls fail at once. */
	start = now_ms();
	assert_int_equal(tpm_pcr_read(tpm, quoted_pcrs, 1, &pcrs, why), -EIO);
	assert_non_null(strstr(why, "reopen"));
	tpm_close(tpm);
	assert_true(now_ms() - start < 1000);
}

/* ------------------------------------------------------------ fixtures */

/*
 * With ZT_CAPTURE_DIR set, the program only writes the quote fixtures of
 * tests/data/quotes/ (see its README) into that directory.
 */
static void
capture_one(const char *dir, const char *suffix)
{
	struct swtpm s;
	struct tpm_pcrs pcrs;
	struct tpm_quote q;
	struct ak ak;
	uint8_t nonce[32], digest[32];
	char name[32];
	struct tpm *tpm;

	swtpm_fresh(&s);
	sha256(measurement_text, strlen(measurement_text), digest);
	extend_pcr14(&s, digest);
	tpm = open_tpm(&s);
	get_ak(tpm, &ak);
	assert_int_equal(getrandom(nonce, sizeof(nonce), 0), sizeof(nonce));
	read_pcrs(tpm, quoted_pcrs, ARRAY_SIZE(quoted_pcrs), &pcrs);
	quote(tpm, nonce, quoted_pcrs, ARRAY_SIZE(quoted_pcrs), &q);
	check_quote(&ak, nonce, quoted_pcrs, ARRAY_SIZE(quoted_pcrs), &pcrs,
	    &q);
	tpm_close(tpm);
	swtpm_destroy(&s);

#define NAME(base, ext) \
	(snprintf(name, sizeof(name), "%s%s.%s", base, suffix, ext), name)
	write_file(dir, NAME("ak", "der"), ak.spki, ak.spki_len);
	write_file(dir, NAME("ak", "pub"), ak.public, ak.public_len);
	write_file(dir, NAME("nonce", "bin"), nonce, sizeof(nonce));
	write_file(dir, NAME("attest", "bin"), q.attest, q.attest_len);
	write_file(dir, NAME("sig", "bin"), q.signature, q.signature_len);
	write_pcrs(dir, NAME("pcrs", "txt"), &pcrs);
#undef NAME
}

static void
test_capture(void **state)
{
	const char *dir = secure_getenv("ZT_CAPTURE_DIR");

	(void)state;
	if (!in_path("swtpm") || !in_path("tpm2_pcrextend"))
		fail_msg("capturing needs swtpm and tpm2_pcrextend");
	capture_one(dir, "");
	capture_one(dir, "2");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ak_is_deterministic,
		    setup_swtpm, teardown_swtpm),
		cmocka_unit_test_setup_teardown(test_open_close_leaves_nothing,
		    setup_swtpm, teardown_swtpm),
		cmocka_unit_test_setup_teardown(test_pcr_read_fresh,
		    setup_swtpm, teardown_swtpm),
		cmocka_unit_test_setup_teardown(test_bad_arguments,
		    setup_swtpm, teardown_swtpm),
		cmocka_unit_test_setup_teardown(test_pcr_extend_seen,
		    setup_swtpm, teardown_swtpm),
		cmocka_unit_test_setup_teardown(test_quote,
		    setup_swtpm, teardown_swtpm),
		cmocka_unit_test(test_closed_port),
		cmocka_unit_test(test_unknown_tcti),
		cmocka_unit_test(test_device_stops_answering),
		cmocka_unit_test_setup_teardown(test_swtpm_killed,
		    setup_swtpm, teardown_swtpm),
	};
	const struct CMUnitTest capture[] = {
		cmocka_unit_test(test_capture),
	};
	const char *dir = secure_getenv("ZT_CAPTURE_DIR");

	/* A TPM that goes away mid-command must not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(HANG_SECONDS);
	atexit(kill_all_swtpm);
	if (dir != NULL && dir[0] != '\0')
		return cmocka_run_group_tests_name("tpm_capture", capture,
		    NULL, NULL);
	return cmocka_run_group_tests_name("tpm", tests, NULL, NULL);
}

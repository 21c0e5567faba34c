/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of agent identity: digests, the cache, signatures, processes. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "attest_agent.h"
#include "zt_err.h"
#include "ztd_config.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CHILDREN_MAX 8
#define NOBODY 65534

/* Everything the group set up once: files old enough to be cached. */
struct fixture {
	char dir[64];
	char true_hex[65];		/* digest of the copy of /bin/true */
	char sleep_hex[65];		/* ... of /bin/sleep */
	char shell_hex[65];		/* ... of /bin/sh (its target) */
	char script_hex[65];		/* ... of agent.sh */
	char script_arg_hex[65];	/* ... of agent-e.sh */
	char other_script_hex[65];	/* ... of other.sh */
	pid_t children[CHILDREN_MAX];
	int child_stdin[CHILDREN_MAX];
	size_t n_children;
};

static struct fixture fx;

/* ------------------------------------------------------------ helpers */

/* DIR/NAME, in one of a few rotating buffers. */
static const char *
at(const char *name)
{
	static char paths[8][PATH_MAX];
	static unsigned next;
	char *p = paths[next++ % ARRAY_SIZE(paths)];

	snprintf(p, PATH_MAX, "%s/%s", fx.dir, name);
	return p;
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void *
read_file(const char *path, size_t *len)
{
	struct stat st;
	char *data;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	data = malloc((size_t)st.st_size + 1);
	assert_non_null(data);
	assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return data;
}

static void
copy_file(const char *from, const char *to)
{
	size_t len;
	void *data = read_file(from, &len);

	write_file(to, data, len, 0755);
	free(data);
}

/* Flip one byte of PATH in place, keeping its size, mtime and atime. */
static void
flip_byte_in_place(const char *path, off_t offset)
{
	struct stat st;
	struct timespec times[2];
	unsigned char c;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(pread(fd, &c, 1, offset), 1);
	c ^= 0x01;
	assert_int_equal(pwrite(fd, &c, 1, offset), 1);
	/* What an attacker can restore: only ctime tells the change. */
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	assert_int_equal(futimens(fd, times), 0);
	close(fd);
}

static void
sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[32];

	assert_int_equal(EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL),
	    1);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void
file_hex(const char *path, char hex[65])
{
	size_t len;
	void *data = read_file(path, &len);

	sha256_hex(data, len, hex);
	free(data);
}

static void
hex_bytes(const char *hex, uint8_t out[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void
run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command (the openssl CLI); its stderr goes to DIR/log. */
static void
run(const char *fmt, ...)
{
	char command[4 * PATH_MAX], full[5 * PATH_MAX];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(command, sizeof(command), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s 2>>%s/log", command, fx.dir);
	status = system(full);
	if (status != 0)
		fail_msg("'%s' failed (status %d); see %s/log", command,
		    status, fx.dir);
}

/*
 * A configuration with one agent "agent" whose binary is BINARY, pinned
 * by the N hex DIGESTS and, when PUBLISHER_KEY is set, signed by the
 * publisher "acme" with that key.
 */
static struct ztd_config *
make_config(const char *binary, const char *const *digests, size_t n,
    const char *publisher_key)
{
	char text[8192], error[CONFIG_ERROR_MAX];
	struct ztd_config *config = NULL;
	size_t len = 0;

	if (publisher_key != NULL)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "publishers = ( { name = \"acme\"; key = \"%s\"; } );\n",
		    publisher_key);
	len += (size_t)snprintf(text + len, sizeof(text) - len,
	    "agents = ( {\n  name = \"agent\";\n"
	    "  accounts = [\"svc-agent\"];\n  binary = \"%s\";\n", binary);
	if (publisher_key != NULL)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "  publisher = \"acme\";\n");
	if (n > 0) {
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "  sha256 = [");
		for (size_t i = 0; i < n; i++)
			len += (size_t)snprintf(text + len, sizeof(text) - len,
			    "%s\"%s\"", i ? ", " : "", digests[i]);
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "];\n");
	}
	snprintf(text + len, sizeof(text) - len, "} );\n");
	if (config_parse("test.conf", text, &config, error) != 0)
		fail_msg("config_parse: %s\n%s", error, text);
	return config;
}

static const struct agent *
the_agent(const struct ztd_config *config)
{
	const struct agent *agent = config_find_agent(config, "agent");

	assert_non_null(agent);
	return agent;
}

/* A reason is bounded and holds no control byte, whatever the paths. */
static void
assert_reason_clean(const char *reason)
{
	size_t len = strnlen(reason, IDENTITY_REASON_MAX);

	assert_true(len < IDENTITY_REASON_MAX);
	for (size_t i = 0; i < len; i++)
		assert_true((unsigned char)reason[i] >= 0x20 &&
		    (unsigned char)reason[i] < 0x7f);
}

static void
assert_reason_has(const char *reason, const char *part)
{
	assert_reason_clean(reason);
	if (strstr(reason, part) == NULL)
		fail_msg("reason \"%s\" does not say \"%s\"", reason, part);
}

/* Check PATH as the binary of CONFIG's agent with a fresh identity. */
static int
check(const struct ztd_config *config, const char *path, char *reason)
{
	struct identity *identity = identity_new(16);
	int r;

	assert_non_null(identity);
	r = identity_check_file(identity, config, the_agent(config), path,
	    reason);
	assert_reason_clean(reason);
	identity_free(identity);
	return r;
}

/*
 * Start PATH with ARGV as uid AS_UID (when we are root), its stdin a pipe
 * we hold, and return once it has executed (our close-on-exec pipe hit
 * end of file).  The test teardown stops it.
 */
static pid_t
spawn(const char *path, char *const argv[], uid_t as_uid)
{
	int sync[2], input[2], error = 0;
	ssize_t n;
	pid_t pid;

	assert_true(fx.n_children < CHILDREN_MAX);
	assert_int_equal(pipe2(sync, O_CLOEXEC), 0);
	assert_int_equal(pipe2(input, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sync[0]);
		close(input[1]);
		if (dup2(input[0], STDIN_FILENO) < 0 ||
		    (geteuid() == 0 && as_uid != 0 &&
		    (setgroups(0, NULL) < 0 ||
		    setresgid(as_uid, as_uid, as_uid) < 0 ||
		    setresuid(as_uid, as_uid, as_uid) < 0)))
			error = errno;
		else
			execv(path, argv);
		error = error ? error : errno;
		(void)!write(sync[1], &error, sizeof(error));
		_exit(127);
	}
	close(sync[1]);
	close(input[0]);
	fx.children[fx.n_children] = pid;
	fx.child_stdin[fx.n_children++] = input[1];
	while ((n = read(sync[0], &error, sizeof(error))) < 0 &&
	    errno == EINTR)
		;
	close(sync[0]);
	if (n != 0)
		fail_msg("exec %s: %s", path, strerror(error));
	return pid;
}

/*
 * Skip a process test where pidfds do not exist: valgrind 3.19 does not
 * know pidfd_open or pidfd_send_signal (syscalls 434 and 424), and
 * identity_check_process has no safe way without them.
 */
static void
require_pidfd(void)
{
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);

	if (pidfd < 0 && errno == ENOSYS) {
		print_message("pidfd_open: %s: skipped\n", strerror(errno));
		skip();
	}
	assert_true(pidfd >= 0);
	close(pidfd);
}

static int
pidfd_of(pid_t pid)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	assert_true(pidfd >= 0);
	return pidfd;
}

static void
stop_child(size_t i)
{
	if (fx.children[i] > 0) {
		kill(fx.children[i], SIGKILL);
		while (waitpid(fx.children[i], NULL, 0) < 0 && errno == EINTR)
			;
		fx.children[i] = 0;
	}
	if (fx.child_stdin[i] >= 0)
		close(fx.child_stdin[i]);
	fx.child_stdin[i] = -1;
}

static int
stop_children(void **state)
{
	(void)state;
	for (size_t i = 0; i < fx.n_children; i++)
		stop_child(i);
	fx.n_children = 0;
	return 0;
}

static uid_t
child_uid(void)
{
	return geteuid() == 0 ? NOBODY : getuid();
}

/* ------------------------------------------------------------ fixture */

static const char script_text[] = "#!/bin/sh\n# the agent\nread line\n";
static const char script_arg_text[] = "#!/bin/sh -e\nread line\n";
static const char other_script_text[] = "#!/bin/sh\n# not it\nread line\n";

static void
make_key(const char *name, const char *algorithm_options)
{
	run("openssl genpkey %s -out %s.key", algorithm_options, at(name));
	run("openssl pkey -in %s.key -pubout -out %s.pub", at(name), at(name));
}

static void
sign_ed25519(const char *key, const char *binary)
{
	run("openssl pkeyutl -sign -rawin -inkey %s.key -in %s -out %s.sig",
	    at(key), at(binary), at(binary));
}

static void
sign_ecdsa(const char *key, const char *binary)
{
	run("openssl dgst -sha256 -sign %s.key -out %s.sig %s", at(key),
	    at(binary), at(binary));
}

/* Damage byte OFFSET of FILE (a signature, here). */
static void
damage(const char *file, size_t offset)
{
	size_t len;
	unsigned char *data = read_file(at(file), &len);

	assert_true(offset < len);
	data[offset] ^= 0x80;
	write_file(at(file), data, len, 0644);
	free(data);
}

static int
group_setup(void **state)
{
	static const char *const signed_copies[] = {
		"sig-ed", "sig-ec", "sig-ed-tampered", "sig-ec-tampered",
		"sig-ed-other", "sig-ec-other", "sig-ed-short",
		"sig-ed-modified", "sig-missing", "sig-big", "sig-dir",
		"sig-rsa", "sig-p384", "sig-garbage", "sig-cached",
		"sleep-signed",
	};
	char big[2048] = { 0 };

	(void)state;
	for (size_t i = 0; i < CHILDREN_MAX; i++)
		fx.child_stdin[i] = -1;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/zt-identity-XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	/* Children run as nobody: they must reach their binaries. */
	assert_int_equal(chmod(fx.dir, 0755), 0);

	copy_file("/bin/true", at("true"));
	copy_file("/bin/sleep", at("sleep"));
	for (size_t i = 0; i < ARRAY_SIZE(signed_copies); i++)
		copy_file(strcmp(signed_copies[i], "sleep-signed") == 0 ?
		    "/bin/sleep" : "/bin/true", at(signed_copies[i]));
	copy_file("/bin/true", at("cached"));
	copy_file("/bin/true", at("in-place"));
	copy_file("/bin/true", at("renamed"));
	copy_file("/bin/true", at("signed-in-place"));
	write_file(at("lru1"), "one", 3, 0644);
	write_file(at("lru2"), "two", 3, 0644);
	write_file(at("lru3"), "three", 5, 0644);
	write_file(at("agent.sh"), script_text, strlen(script_text), 0755);
	write_file(at("agent-e.sh"), script_arg_text,
	    strlen(script_arg_text), 0755);
	write_file(at("other.sh"), other_script_text,
	    strlen(other_script_text), 0755);
	assert_int_equal(symlink(at("agent.sh"), at("link.sh")), 0);

	make_key("ed", "-algorithm ed25519");
	make_key("ed-other", "-algorithm ed25519");
	make_key("ec", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
	make_key("ec-other", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
	make_key("p384", "-algorithm EC -pkeyopt ec_paramgen_curve:P-384");
	make_key("rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048");
	write_file(at("garbage.pub"), "-----BEGIN PUBLIC KEY-----\nxx\n",
	    30, 0644);

	sign_ed25519("ed", "sig-ed");
	sign_ecdsa("ec", "sig-ec");
	sign_ed25519("ed", "sig-ed-tampered");
	damage("sig-ed-tampered.sig", 10);
	sign_ecdsa("ec", "sig-ec-tampered");
	damage("sig-ec-tampered.sig", 20);
	sign_ed25519("ed-other", "sig-ed-other");
	sign_ecdsa("ec-other", "sig-ec-other");
	sign_ed25519("ed", "sig-ed-short");
	run("truncate -s 63 %s.sig", at("sig-ed-short"));
	sign_ed25519("ed", "sig-ed-modified");
	flip_byte_in_place(at("sig-ed-modified"), 100);
	write_file(at("sig-big.sig"), big, sizeof(big), 0644);
	assert_int_equal(mkdir(at("sig-dir.sig"), 0755), 0);
	sign_ed25519("ed", "sig-cached");
	sign_ed25519("ed", "sleep-signed");
	sign_ed25519("ed", "signed-in-place");
	/* Signatures for the files refused over their key, to be sure
	 * the key is what is refused. */
	sign_ed25519("ed", "sig-rsa");
	sign_ed25519("ed", "sig-p384");
	sign_ed25519("ed", "sig-garbage");

	file_hex(at("true"), fx.true_hex);
	file_hex(at("sleep"), fx.sleep_hex);
	file_hex("/bin/sh", fx.shell_hex);
	sha256_hex(script_text, strlen(script_text), fx.script_hex);
	sha256_hex(script_arg_text, strlen(script_arg_text),
	    fx.script_arg_hex);
	sha256_hex(other_script_text, strlen(other_script_text),
	    fx.other_script_hex);

	/* Let every file settle, so that the cache may keep its digest. */
	sleep(IDENTITY_SETTLE_SECONDS + 1);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	stop_children(NULL);
	run("rm -rf %s", fx.dir);
	return 0;
}

/* ------------------------------------------------------------ digests */

static void
test_pinned_copy_recognised(void **state)
{
	const char *digests[] = { fx.sleep_hex, fx.true_hex };
	struct ztd_config *config = make_config(at("true"), digests, 2, NULL);
	char reason[IDENTITY_REASON_MAX];

	(void)state;
	assert_int_equal(check(config, at("true"), reason), 0);
	assert_string_equal(reason, "");
	config_free(config);
}

static void
test_unpinned_refused(void **state)
{
	const char *digests[] = { fx.sleep_hex };
	struct ztd_config *config = make_config(at("true"), digests, 1, NULL);
	char reason[IDENTITY_REASON_MAX], prefix[17];

	(void)state;
	assert_int_equal(check(config, at("true"), reason), ZT_E_PERM);
	memcpy(prefix, fx.true_hex, 16);
	prefix[16] = '\0';
	assert_reason_has(reason, "is not pinned for agent agent");
	assert_reason_has(reason, prefix);
	config_free(config);
}

static void
test_digest_fd_matches_openssl(void **state)
{
	/* Several 1 MiB chunks and a tail, with varied bytes. */
	size_t len = 3 * 1024 * 1024 + 17;
	unsigned char *data = malloc(len);
	struct identity *identity = identity_new(4);
	uint8_t digest[32], expected[32];
	char hex[65];
	int fd;

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 7 + (i >> 11));
	write_file(at("chunks"), data, len, 0644);
	sha256_hex(data, len, hex);
	hex_bytes(hex, expected);
	fd = open(at("chunks"), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(identity_digest_fd(identity, fd, digest), 0);
	assert_memory_equal(digest, expected, 32);
	close(fd);
	/* An empty file has the digest of nothing. */
	write_file(at("empty"), "", 0, 0644);
	sha256_hex("", 0, hex);
	hex_bytes(hex, expected);
	fd = open(at("empty"), O_RDONLY | O_CLOEXEC);
	assert_int_equal(identity_digest_fd(identity, fd, digest), 0);
	assert_memory_equal(digest, expected, 32);
	close(fd);
	/* Only regular files. */
	fd = open(fx.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(identity_digest_fd(identity, fd, digest), -EISDIR);
	close(fd);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(identity_digest_fd(identity, fd, digest), -EINVAL);
	close(fd);
	identity_free(identity);
	free(data);
}

static void
test_cache_hit_reads_nothing(void **state)
{
	const char *digests[] = { fx.true_hex };
	struct ztd_config *config = make_config(at("cached"), digests, 1,
	    NULL);
	struct identity *identity = identity_new(16);
	struct identity_stats first, second;
	char reason[IDENTITY_REASON_MAX];
	struct stat st;

	(void)state;
	assert_int_equal(stat(at("cached"), &st), 0);
	assert_int_equal(identity_check_file(identity, config,
	    the_agent(config), at("cached"), reason), 0);
	identity_get_stats(identity, &first);
	assert_int_equal(first.digests.misses, 1);
	assert_int_equal(first.digests.inserts, 1);
	assert_int_equal(first.digests.entries, 1);
	assert_int_equal(first.digests.bytes_read, st.st_size);

	assert_int_equal(identity_check_file(identity, config,
	    the_agent(config), at("cached"), reason), 0);
	identity_get_stats(identity, &second);
	assert_int_equal(second.digests.hits, first.digests.hits + 1);
	assert_int_equal(second.digests.misses, first.digests.misses);
	assert_int_equal(second.digests.bytes_read, first.digests.bytes_read);
	identity_free(identity);
	config_free(config);
}

static void
test_fresh_file_not_cached(void **state)
{
	struct identity *identity = identity_new(16);
	struct identity_stats stats;
	uint8_t digest[32];
	int fd;

	(void)state;
	write_file(at("fresh"), "just written", 12, 0644);
	fd = open(at("fresh"), O_RDONLY | O_CLOEXEC);
	assert_int_equal(identity_digest_fd(identity, fd, digest), 0);
	assert_int_equal(identity_digest_fd(identity, fd, digest), 0);
	identity_get_stats(identity, &stats);
	/* Changed within the last tick: hashed both times, never kept. */
	assert_int_equal(stats.digests.misses, 2);
	assert_int_equal(stats.digests.unsettled, 2);
	assert_int_equal(stats.digests.entries, 0);
	assert_int_equal(stats.digests.bytes_read, 24);
	close(fd);
	identity_free(identity);
}

/*
 * The digest cache and running images (zt_exe.h): an entry made from a
 * file opened by path is no proof for a running image's check, one made
 * as a running image's is; a file others may write is never kept.
 */
static void
test_digest_running(void **state)
{
	struct zt_digests *d = zt_digests_new(16);
	struct zt_digest_stats stats;
	struct zt_file_key key;
	uint8_t by_path[32], running[32], found[32];
	bool complete;
	int fd;

	(void)state;
	assert_non_null(d);
	fd = open(at("sleep"), O_RDONLY | O_CLOEXEC);	/* settled */
	assert_true(fd >= 0);
	assert_int_equal(zt_file_key_get(fd, &key, &complete), 0);
	assert_true(complete);
	assert_int_equal(zt_digests_get(d, fd, by_path, NULL), 0);
	assert_false(zt_digests_find_running(d, &key, complete, geteuid(),
	    found));
	assert_int_equal(zt_digests_get_running(d, fd, geteuid(), running,
	    NULL), 0);
	assert_memory_equal(by_path, running, 32);
	zt_digests_stats(d, &stats);
	assert_int_equal(stats.misses, 2);	/* hashed again, not found */
	assert_true(zt_digests_find_running(d, &key, complete, geteuid(),
	    found));
	assert_memory_equal(found, running, 32);
	/* Trusted owners only: root's, or the one named. */
	if (geteuid() != 0)
		assert_false(zt_digests_find_running(d, &key, complete, 0,
		    found));
	close(fd);

	/* Its group may write it: hashed anew, the cache not asked. */
	copy_file("/bin/true", at("group-writable"));
	assert_int_equal(chmod(at("group-writable"), 0775), 0);
	fd = open(at("group-writable"), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	zt_digests_stats(d, &stats);
	assert_int_equal(zt_digests_get_running(d, fd, geteuid(), running,
	    &key), 0);
	{
		char hex[65];

		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", running[i]);
		assert_string_equal(hex, fx.true_hex);
	}
	assert_false(zt_digests_find_running(d, &key, true, geteuid(),
	    found));
	{
		struct zt_digest_stats after;

		zt_digests_stats(d, &after);
		assert_int_equal(after.misses, stats.misses);
		assert_int_equal(after.entries, stats.entries);
	}
	close(fd);
	zt_digests_free(d);
}

static void
test_modified_in_place_refused(void **state)
{
	const char *digests[] = { fx.true_hex };
	struct ztd_config *config = make_config(at("in-place"), digests, 1,
	    NULL);
	struct identity *identity = identity_new(16);
	struct identity_stats before, after;
	char reason[IDENTITY_REASON_MAX];

	(void)state;
	assert_int_equal(identity_check_file(identity, config,
	    the_agent(config), at("in-place"), reason), 0);
	identity_get_stats(identity, &before);
	assert_int_equal(before.digests.entries, 1);
	/* Same inode, size, mtime: only ctime changes. */
	flip_byte_in_place(at("in-place"), 1000);
	assert_int_equal(identity_check_file(identity, config,
	    the_agent(config), at("in-place"), reason), ZT_E_PERM);
	assert_reason_has(reason, "is not pinned");
	identity_get_stats(identity, &after);
	assert_int_equal(after.digests.hits, before.digests.hits);
	assert_int_equal(after.digests.misses, before.digests.misses + 1);
	identity_free(identity);
	config_free(config);
}

static void
test_replaced_by_rename_refused(void **state)
{
	const char *digests[] = { fx.true_hex };
	struct ztd_config *config = make_config(at("renamed"), digests, 1,
	    NULL);
	struct identity *identity = identity_new(16);
	struct identity_stats before, after;
	char reason[IDENTITY_REASON_MAX];
	struct timespec times[2];
	struct stat st;

	(void)state;
	assert_int_equal(identity_check_file(identity, config,
	    the_agent(config), at("renamed"), reason), 0);
	identity_get_stats(identity, &before);
	/* A changed copy with the same size and times, renamed over. */
	assert_int_equal(stat(at("renamed"), &st), 0);
	copy_file(at("renamed"), at("renamed.new"));
	flip_byte_in_place(at("renamed.new"), 500);
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, at("renamed.new"), times, 0), 0);
	assert_int_equal(rename(at("renamed.new"), at("renamed")), 0);
	assert_int_equal(identity_check_file(identity, config,
	    the_agent(config), at("renamed"), reason), ZT_E_PERM);
	assert_reason_has(reason, "is not pinned");
	identity_get_stats(identity, &after);
	assert_int_equal(after.digests.hits, before.digests.hits);
	assert_int_equal(after.digests.misses, before.digests.misses + 1);
	identity_free(identity);
	config_free(config);
}

static void
test_cache_bounded_lru(void **state)
{
	struct identity *identity = identity_new(2);
	struct identity_stats stats;
	uint8_t digest[32];
	const char *files[] = { "lru1", "lru2", "lru3", "lru2", "lru1" };
	int fds[3];

	(void)state;
	for (int i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "lru%d", i + 1);
		fds[i] = open(at(name), O_RDONLY | O_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		assert_int_equal(identity_digest_fd(identity,
		    fds[files[i][3] - '1'], digest), 0);
	identity_get_stats(identity, &stats);
	/* 1, 2 miss; 3 misses and evicts 1; 2 hits; 1 misses, evicts 3. */
	assert_int_equal(stats.digests.max_entries, 2);
	assert_int_equal(stats.digests.entries, 2);
	assert_int_equal(stats.digests.misses, 4);
	assert_int_equal(stats.digests.hits, 1);
	assert_int_equal(stats.digests.evictions, 2);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	identity_free(identity);

	/* No cache at all. */
	identity = identity_new(0);
	assert_non_null(identity);
	fds[0] = open(at("lru1"), O_RDONLY | O_CLOEXEC);
	assert_int_equal(identity_digest_fd(identity, fds[0], digest), 0);
	assert_int_equal(identity_digest_fd(identity, fds[0], digest), 0);
	identity_get_stats(identity, &stats);
	assert_int_equal(stats.digests.misses, 2);
	assert_int_equal(stats.digests.entries, 0);
	close(fds[0]);
	identity_free(identity);
	assert_null(identity_new(IDENTITY_CACHE_MAX + 1));
	assert_int_equal(errno, EINVAL);
	identity_free(NULL);
}

static void
test_changed_while_hashed(void **state)
{
	size_t len = 32 * 1024 * 1024;
	unsigned char *data = calloc(1, len);
	struct identity *identity = identity_new(4);
	struct identity_stats stats;
	uint8_t digest[32];
	int fd, r = 0;
	pid_t writer;

	(void)state;
	assert_non_null(data);
	write_file(at("moving"), data, len, 0644);
	free(data);
	fd = open(at("moving"), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	writer = fork();
	assert_true(writer >= 0);
	if (writer == 0) {
		int wfd = open(at("moving"), O_WRONLY | O_CLOEXEC);

		/* Keep the size; change bytes all over, all the time. */
		for (uint32_t i = 0;; i++)
			if (pwrite(wfd, &i, sizeof(i),
			    (off_t)((i * 4099u) % (len - 4))) < 0)
				_exit(1);
	}
	for (int attempt = 0; attempt < 50; attempt++)
		if ((r = identity_digest_fd(identity, fd, digest)) == -EAGAIN)
			break;
	kill(writer, SIGKILL);
	waitpid(writer, NULL, 0);
	assert_int_equal(r, -EAGAIN);
	identity_get_stats(identity, &stats);
	assert_true(stats.digests.changed >= 1);
	assert_int_equal(stats.digests.entries, 0);
	close(fd);
	identity_free(identity);
}

static void
test_not_regular_refused(void **state)
{
	const char *digests[] = { fx.true_hex };
	struct ztd_config *config = make_config(at("true"), digests, 1, NULL);
	char reason[IDENTITY_REASON_MAX];

	(void)state;
	assert_int_equal(check(config, fx.dir, reason), ZT_E_PERM);
	assert_reason_has(reason, "not a regular file");
	/* A FIFO without a writer: opened without blocking, refused. */
	assert_int_equal(mkfifo(at("fifo"), 0644), 0);
	assert_int_equal(check(config, at("fifo"), reason), ZT_E_PERM);
	assert_reason_has(reason, "not a regular file");
	assert_int_equal(check(config, "/dev/null", reason), ZT_E_PERM);
	assert_int_equal(check(config, at("absent"), reason), -ENOENT);
	assert_reason_has(reason, "cannot open");
	config_free(config);
}

static void
test_reason_escapes_paths(void **state)
{
	const char *digests[] = { fx.sleep_hex };
	struct ztd_config *config = make_config(at("true"), digests, 1, NULL);
	char reason[IDENTITY_REASON_MAX], name[64], long_path[3000];

	(void)state;
	snprintf(name, sizeof(name), "evil\nline\x1b[31m\"q\"");
	copy_file(at("true"), at(name));
	assert_int_equal(check(config, at(name), reason), ZT_E_PERM);
	assert_reason_has(reason, "\\x0aline\\x1b[31m\\\"q\\\"");
	/* A path too long to show is cut, still one clean line. */
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(check(config, long_path, reason), -ENAMETOOLONG);
	assert_reason_has(reason, "...\"");
	config_free(config);
}

/* ------------------------------------------------------------ signatures */

struct signature_case {
	const char *binary;		/* in DIR, signed as BINARY.sig */
	const char *key;		/* DIR/KEY.pub is the publisher's */
	int expected;
	const char *reason;		/* a part of it; NULL for "" */
};

static const struct signature_case signature_cases[] = {
	{ "sig-ed", "ed", 0, NULL },
	{ "sig-ec", "ec", 0, NULL },
	{ "sig-ed-tampered", "ed", ZT_E_PERM, "is not a good signature" },
	{ "sig-ec-tampered", "ec", ZT_E_PERM, "is not a good signature" },
	{ "sig-ed-other", "ed", ZT_E_PERM, "is not a good signature" },
	{ "sig-ec-other", "ec", ZT_E_PERM, "is not a good signature" },
	/* An Ed25519 signature against an EC key, and back. */
	{ "sig-ed", "ec", ZT_E_PERM, "is not a good signature" },
	{ "sig-ec", "ed", ZT_E_PERM, "is not a good signature" },
	{ "sig-ed-short", "ed", ZT_E_PERM, "is not a good signature" },
	{ "sig-ed-modified", "ed", ZT_E_PERM, "is not a good signature" },
	{ "sig-missing", "ed", ZT_E_PERM, "has no signature" },
	{ "sig-big", "ed", ZT_E_PERM, "larger than 1 KiB" },
	{ "sig-dir", "ed", ZT_E_PERM, "not a regular file" },
	{ "sig-rsa", "rsa", -EKEYREJECTED,
	  "is RSA: only Ed25519 and ECDSA P-256 are accepted" },
	{ "sig-p384", "p384", -EKEYREJECTED, "only P-256 is accepted" },
	{ "sig-garbage", "garbage", -EBADMSG, "is not a PEM public key" },
	{ "sig-ed", "absent", -ENOENT, "No such file" },
};

static void
test_signature(void **state)
{
	const struct signature_case *sc = *state;
	char key[PATH_MAX], reason[IDENTITY_REASON_MAX];
	struct ztd_config *config;

	snprintf(key, sizeof(key), "%s.pub", at(sc->key));
	config = make_config(at(sc->binary), NULL, 0, key);
	assert_int_equal(check(config, at(sc->binary), reason), sc->expected);
	if (sc->reason == NULL)
		assert_string_equal(reason, "");
	else
		assert_reason_has(reason, sc->reason);
	config_free(config);
}

static void
test_pinned_needs_no_signature(void **state)
{
	const char *digests[] = { fx.true_hex };
	char key[PATH_MAX], reason[IDENTITY_REASON_MAX];
	struct ztd_config *config;

	(void)state;
	snprintf(key, sizeof(key), "%s.pub", at("ed"));
	config = make_config(at("sig-missing"), digests, 1, key);
	assert_int_equal(check(config, at("sig-missing"), reason), 0);
	config_free(config);
}

static void
test_good_signature_cached(void **state)
{
	char key[PATH_MAX], reason[IDENTITY_REASON_MAX];
	struct identity *identity = identity_new(16);
	struct identity_stats first, second;
	struct ztd_config *config;

	(void)state;
	snprintf(key, sizeof(key), "%s.pub", at("ed"));
	config = make_config(at("sig-cached"), NULL, 0, key);
	assert_int_equal(identity_check_file(identity, config,
	    the_agent(config), at("sig-cached"), reason), 0);
	identity_get_stats(identity, &first);
	/* Hashed once, read once more whole for Ed25519. */
	assert_int_equal(first.signature_hits, 0);
	assert_true(first.digests.bytes_read > 0);
	assert_int_equal(identity_check_file(identity, config,
	    the_agent(config), at("sig-cached"), reason), 0);
	identity_get_stats(identity, &second);
	assert_int_equal(second.signature_hits, 1);
	assert_int_equal(second.digests.bytes_read, first.digests.bytes_read);

	/* Another signature file is verified afresh, and must be good. */
	damage("sig-cached.sig", 5);
	assert_int_equal(identity_check_file(identity, config,
	    the_agent(config), at("sig-cached"), reason), ZT_E_PERM);
	assert_reason_has(reason, "is not a good signature");
	identity_free(identity);
	config_free(config);
}

static void
test_signed_file_modified_in_place(void **state)
{
	char key[PATH_MAX], reason[IDENTITY_REASON_MAX];
	struct identity *identity = identity_new(16);
	struct ztd_config *config;

	(void)state;
	snprintf(key, sizeof(key), "%s.pub", at("ed"));
	config = make_config(at("signed-in-place"), NULL, 0, key);
	assert_int_equal(identity_check_file(identity, config,
	    the_agent(config), at("signed-in-place"), reason), 0);
	flip_byte_in_place(at("signed-in-place"), 2000);
	assert_int_equal(identity_check_file(identity, config,
	    the_agent(config), at("signed-in-place"), reason), ZT_E_PERM);
	assert_reason_has(reason, "is not a good signature");
	identity_free(identity);
	config_free(config);
}

/* ------------------------------------------------------------ scripts */

static void
test_script_both_pinned(void **state)
{
	const char *digests[] = { fx.script_hex, fx.shell_hex };
	struct ztd_config *config = make_config(at("agent.sh"), digests, 2,
	    NULL);
	char reason[IDENTITY_REASON_MAX];

	(void)state;
	assert_int_equal(check(config, at("agent.sh"), reason), 0);
	config_free(config);
}

static void
test_script_interpreter_unpinned(void **state)
{
	const char *digests[] = { fx.script_hex };
	struct ztd_config *config = make_config(at("agent.sh"), digests, 1,
	    NULL);
	char reason[IDENTITY_REASON_MAX];

	(void)state;
	assert_int_equal(check(config, at("agent.sh"), reason), ZT_E_PERM);
	assert_reason_has(reason, "interpreter \"/bin/sh\" of script");
	assert_reason_has(reason, "is not pinned");
	config_free(config);
}

/* Scripts whose "#!" line cannot be accepted. */
static void
test_script_bad_interpreter(void **state)
{
	static const struct {
		const char *text;	/* "@" stands for DIR */
		const char *reason;
	} cases[] = {
		{ "#!sh\n", "is not an absolute path" },
		{ "#!\n", "names no interpreter" },
		{ "#!   \t\n", "names no interpreter" },
		{ "#!@/absent\n", "cannot open interpreter" },
		{ "#!@\n", "is not a regular file" },
		/* The interpreter is itself a script: pinned, still not. */
		{ "#!@/agent.sh\n", "is itself a script" },
		{ "#!/bin/true\n", "is not pinned" },
	};
	char text[PATH_MAX], hex[65];
	const char *digests[3] = { hex, fx.shell_hex, fx.script_hex };
	char reason[IDENTITY_REASON_MAX];
	struct ztd_config *config;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *dir = strchr(cases[i].text, '@');

		if (dir == NULL)
			snprintf(text, sizeof(text), "%s", cases[i].text);
		else
			snprintf(text, sizeof(text), "%.*s%s%s",
			    (int)(dir - cases[i].text), cases[i].text, fx.dir,
			    dir + 1);
		write_file(at("bad.sh"), text, strlen(text), 0755);
		sha256_hex(text, strlen(text), hex);
		config = make_config(at("bad.sh"), digests, 3, NULL);
		assert_int_not_equal(check(config, at("bad.sh"), reason), 0);
		assert_reason_has(reason, cases[i].reason);
		config_free(config);
	}

	/* A "#!" line longer than the kernel reads (256 bytes): refused. */
	memset(text, 'x', 300);
	memcpy(text, "#!/", 3);
	text[300] = '\0';
	write_file(at("long.sh"), text, strlen(text), 0755);
	sha256_hex(text, strlen(text), hex);
	config = make_config(at("long.sh"), digests, 2, NULL);
	assert_int_equal(check(config, at("long.sh"), reason), ZT_E_PERM);
	assert_reason_has(reason, "is too long");
	config_free(config);

	/* Long, but the interpreter ends within them: the argument is cut. */
	memset(text, 'x', 300);
	memcpy(text, "#!/bin/sh ", 10);
	text[300] = '\0';
	write_file(at("long.sh"), text, strlen(text), 0755);
	sha256_hex(text, strlen(text), hex);
	config = make_config(at("long.sh"), digests, 2, NULL);
	assert_int_equal(check(config, at("long.sh"), reason), 0);
	config_free(config);
}

/* ------------------------------------------------------------ processes */

static int
check_pid(const struct ztd_config *config, int pidfd, pid_t pid, uid_t *uid,
    char *reason)
{
	struct identity *identity = identity_new(16);
	int r;

	assert_non_null(identity);
	r = identity_check_process(identity, config, the_agent(config), pidfd,
	    pid, uid, reason);
	assert_reason_clean(reason);
	identity_free(identity);
	return r;
}

static void
test_process_recognised(void **state)
{
	const char *digests[] = { fx.sleep_hex };
	struct ztd_config *config;
	char *argv[] = { "sleep", "5", NULL }, reason[IDENTITY_REASON_MAX];
	uid_t uid = 12345;
	pid_t pid;
	int pidfd;

	(void)state;
	require_pidfd();
	config = make_config(at("sleep"), digests, 1, NULL);
	pid = spawn(at("sleep"), argv, child_uid());
	pidfd = pidfd_of(pid);
	assert_int_equal(check_pid(config, pidfd, pid, &uid, reason), 0);
	assert_string_equal(reason, "");
	assert_int_equal(uid, child_uid());
	close(pidfd);
	config_free(config);
}

static void
test_process_signed(void **state)
{
	char key[PATH_MAX], reason[IDENTITY_REASON_MAX];
	char *argv[] = { "sleep", "5", NULL };
	struct ztd_config *config;
	uid_t uid = 12345;
	pid_t pid;
	int pidfd;

	(void)state;
	require_pidfd();
	snprintf(key, sizeof(key), "%s.pub", at("ed"));
	config = make_config(at("sleep-signed"), NULL, 0, key);
	pid = spawn(at("sleep-signed"), argv, 0);
	pidfd = pidfd_of(pid);
	assert_int_equal(check_pid(config, pidfd, pid, &uid, reason), 0);
	assert_int_equal(uid, getuid());
	close(pidfd);
	config_free(config);
}

static void
test_process_exited(void **state)
{
	const char *digests[] = { fx.sleep_hex };
	struct ztd_config *config;
	char *argv[] = { "sleep", "5", NULL }, reason[IDENTITY_REASON_MAX];
	uid_t uid = 12345;
	pid_t pid;
	int pidfd;

	(void)state;
	require_pidfd();
	config = make_config(at("sleep"), digests, 1, NULL);
	pid = spawn(at("sleep"), argv, child_uid());
	pidfd = pidfd_of(pid);
	stop_child(fx.n_children - 1);
	assert_int_equal(check_pid(config, pidfd, pid, &uid, reason), -ESRCH);
	assert_reason_has(reason, "exited");
	assert_int_equal(uid, 12345);
	close(pidfd);
	config_free(config);
}

static void
test_process_other_binary(void **state)
{
	const char *digests[] = { fx.sleep_hex, fx.true_hex };
	struct ztd_config *config;
	char *argv[] = { "sleep", "5", NULL }, reason[IDENTITY_REASON_MAX];
	uid_t uid = 12345;
	pid_t pid;
	int pidfd;

	(void)state;
	require_pidfd();
	config = make_config(at("true"), digests, 2, NULL);
	/* A pinned digest, but not the agent's binary. */
	pid = spawn(at("sleep"), argv, child_uid());
	pidfd = pidfd_of(pid);
	assert_int_equal(check_pid(config, pidfd, pid, &uid, reason),
	    ZT_E_PERM);
	assert_reason_has(reason, "does not run");
	assert_int_equal(uid, 12345);
	close(pidfd);
	config_free(config);
}

static void
test_process_copy_elsewhere(void **state)
{
	const char *digests[] = { fx.sleep_hex };
	struct ztd_config *config;
	char *argv[] = { "sleep", "5", NULL }, reason[IDENTITY_REASON_MAX];
	uid_t uid = 12345;
	pid_t pid;
	int pidfd;

	(void)state;
	require_pidfd();
	config = make_config(at("sleep"), digests, 1, NULL);
	/* /bin/sleep has the same digest as the agent's copy. */
	pid = spawn("/bin/sleep", argv, child_uid());
	pidfd = pidfd_of(pid);
	assert_int_equal(check_pid(config, pidfd, pid, &uid, reason),
	    ZT_E_PERM);
	assert_reason_has(reason, "another file, a copy, or a replaced one");
	close(pidfd);
	config_free(config);
}

static void
test_process_unpinned(void **state)
{
	const char *digests[] = { fx.true_hex };
	struct ztd_config *config;
	char *argv[] = { "sleep", "5", NULL }, reason[IDENTITY_REASON_MAX];
	uid_t uid = 12345;
	pid_t pid;
	int pidfd;

	(void)state;
	require_pidfd();
	config = make_config(at("sleep"), digests, 1, NULL);
	pid = spawn(at("sleep"), argv, child_uid());
	pidfd = pidfd_of(pid);
	assert_int_equal(check_pid(config, pidfd, pid, &uid, reason),
	    ZT_E_PERM);
	assert_reason_has(reason, "is not pinned");
	close(pidfd);
	config_free(config);
}

static void
test_process_bad_pidfd(void **state)
{
	const char *digests[] = { fx.sleep_hex };
	struct ztd_config *config;
	char *argv[] = { "sleep", "5", NULL }, reason[IDENTITY_REASON_MAX];
	uid_t uid = 12345;
	pid_t first, second;
	int pidfd, fd;

	(void)state;
	require_pidfd();
	config = make_config(at("sleep"), digests, 1, NULL);
	first = spawn(at("sleep"), argv, child_uid());
	second = spawn(at("sleep"), argv, child_uid());
	pidfd = pidfd_of(first);
	/* A pidfd of another process than the pid named. */
	assert_int_equal(check_pid(config, pidfd, second, &uid, reason),
	    -EINVAL);
	assert_reason_has(reason, "the pidfd is of process");
	/* Not a pidfd at all. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(check_pid(config, fd, first, &uid, reason), -EBADF);
	assert_reason_has(reason, "is not a pidfd");
	assert_int_equal(uid, 12345);
	close(fd);
	close(pidfd);
	config_free(config);
}

static void
test_process_script(void **state)
{
	const char *digests[] = { fx.script_hex, fx.shell_hex };
	struct ztd_config *config;
	char *argv[] = { "agent.sh", NULL }, reason[IDENTITY_REASON_MAX];
	uid_t uid = 12345;
	pid_t pid;
	int pidfd;

	(void)state;
	require_pidfd();
	config = make_config(at("agent.sh"), digests, 2, NULL);
	/* The kernel runs "/bin/sh DIR/agent.sh"; the shell waits on read. */
	pid = spawn(at("agent.sh"), argv, child_uid());
	pidfd = pidfd_of(pid);
	assert_int_equal(check_pid(config, pidfd, pid, &uid, reason), 0);
	assert_int_equal(uid, child_uid());
	close(pidfd);
	config_free(config);
}

static void
test_process_script_with_argument(void **state)
{
	const char *digests[] = { fx.script_arg_hex, fx.shell_hex };
	struct ztd_config *config;
	char *argv[] = { "agent-e.sh", NULL }, reason[IDENTITY_REASON_MAX];
	uid_t uid = 12345;
	pid_t pid;
	int pidfd;

	(void)state;
	require_pidfd();
	config = make_config(at("agent-e.sh"), digests, 2, NULL);
	/* "/bin/sh -e DIR/agent-e.sh". */
	pid = spawn(at("agent-e.sh"), argv, child_uid());
	pidfd = pidfd_of(pid);
	assert_int_equal(check_pid(config, pidfd, pid, &uid, reason), 0);
	close(pidfd);
	config_free(config);
}

static void
test_process_script_refused(void **state)
{
	const char *digests[] = { fx.script_hex, fx.shell_hex,
	    fx.other_script_hex, fx.sleep_hex };
	struct ztd_config *config;
	char *argv[] = { "x", NULL }, reason[IDENTITY_REASON_MAX];
	char script[PATH_MAX];
	char *shell_argv[] = { "sh", "-c", "read line", script, NULL };
	uid_t uid = 12345;
	pid_t pid;
	int pidfd;

	(void)state;
	require_pidfd();
	config = make_config(at("agent.sh"), digests, 4, NULL);
	/* Another script under the same shell, pinned or not. */
	pid = spawn(at("other.sh"), argv, child_uid());
	pidfd = pidfd_of(pid);
	assert_int_equal(check_pid(config, pidfd, pid, &uid, reason),
	    ZT_E_PERM);
	assert_reason_has(reason, "runs script");
	close(pidfd);

	/* The agent script by another path (a symlink): not its path. */
	pid = spawn(at("link.sh"), argv, child_uid());
	pidfd = pidfd_of(pid);
	assert_int_equal(check_pid(config, pidfd, pid, &uid, reason),
	    ZT_E_PERM);
	assert_reason_has(reason, "link.sh");
	close(pidfd);

	/* The shell running other code, the script's path as $0. */
	snprintf(script, sizeof(script), "%s", at("agent.sh"));
	pid = spawn("/bin/sh", shell_argv, child_uid());
	pidfd = pidfd_of(pid);
	assert_int_equal(check_pid(config, pidfd, pid, &uid, reason),
	    ZT_E_PERM);
	close(pidfd);

	/* Not the interpreter at all. */
	pid = spawn(at("sleep"), (char *[]){ "sleep", "5", NULL },
	    child_uid());
	pidfd = pidfd_of(pid);
	assert_int_equal(check_pid(config, pidfd, pid, &uid, reason),
	    ZT_E_PERM);
	assert_reason_has(reason, "does not run interpreter");
	assert_int_equal(uid, 12345);
	close(pidfd);
	config_free(config);
}

int
main(void)
{
	static struct CMUnitTest tests[64];
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_pinned_copy_recognised),
		cmocka_unit_test(test_unpinned_refused),
		cmocka_unit_test(test_digest_fd_matches_openssl),
		cmocka_unit_test(test_cache_hit_reads_nothing),
		cmocka_unit_test(test_fresh_file_not_cached),
		cmocka_unit_test(test_digest_running),
		cmocka_unit_test(test_modified_in_place_refused),
		cmocka_unit_test(test_replaced_by_rename_refused),
		cmocka_unit_test(test_cache_bounded_lru),
		cmocka_unit_test(test_changed_while_hashed),
		cmocka_unit_test(test_not_regular_refused),
		cmocka_unit_test(test_reason_escapes_paths),
		cmocka_unit_test(test_pinned_needs_no_signature),
		cmocka_unit_test(test_good_signature_cached),
		cmocka_unit_test(test_signed_file_modified_in_place),
		cmocka_unit_test(test_script_both_pinned),
		cmocka_unit_test(test_script_interpreter_unpinned),
		cmocka_unit_test(test_script_bad_interpreter),
		cmocka_unit_test_teardown(test_process_recognised,
		    stop_children),
		cmocka_unit_test_teardown(test_process_signed, stop_children),
		cmocka_unit_test_teardown(test_process_exited, stop_children),
		cmocka_unit_test_teardown(test_process_other_binary,
		    stop_children),
		cmocka_unit_test_teardown(test_process_copy_elsewhere,
		    stop_children),
		cmocka_unit_test_teardown(test_process_unpinned,
		    stop_children),
		cmocka_unit_test_teardown(test_process_bad_pidfd,
		    stop_children),
		cmocka_unit_test_teardown(test_process_script, stop_children),
		cmocka_unit_test_teardown(test_process_script_with_argument,
		    stop_children),
		cmocka_unit_test_teardown(test_process_script_refused,
		    stop_children),
	};
	size_t n = 0;

	if (ARRAY_SIZE(fixed) + ARRAY_SIZE(signature_cases) >
	    ARRAY_SIZE(tests))
		return 1;
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		tests[n++] = fixed[i];
	for (size_t i = 0; i < ARRAY_SIZE(signature_cases); i++) {
		static char names[ARRAY_SIZE(signature_cases)][64];

		snprintf(names[i], sizeof(names[i]), "signature %s key %s",
		    signature_cases[i].binary, signature_cases[i].key);
		tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(
		    test_signature, (void *)&signature_cases[i]);
		tests[n++].name = names[i];
	}
	return _cmocka_run_group_tests("identity", tests, n, group_setup,
	    group_teardown);
}

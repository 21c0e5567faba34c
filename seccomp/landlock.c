/* SPDX-License-Identifier: Apache-2.0 */
/* Landlock, through raw syscalls: bookworm's headers predate most of it. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "landlock.h"

#define ERROR_MAX 160

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;	/* ABI 4 */
	uint64_t scoped;		/* ABI 6 */
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

#define LL_CREATE_RULESET_VERSION 1u
#define LL_RULE_PATH_BENEATH 1

#define FS_EXECUTE (1ull << 0)
#define FS_WRITE_FILE (1ull << 1)
#define FS_READ_FILE (1ull << 2)
#define FS_READ_DIR (1ull << 3)
#define FS_REMOVE_DIR (1ull << 4)
#define FS_REMOVE_FILE (1ull << 5)
#define FS_MAKE_CHAR (1ull << 6)
#define FS_MAKE_DIR (1ull << 7)
#define FS_MAKE_REG (1ull << 8)
#define FS_MAKE_SOCK (1ull << 9)
#define FS_MAKE_FIFO (1ull << 10)
#define FS_MAKE_BLOCK (1ull << 11)
#define FS_MAKE_SYM (1ull << 12)
#define FS_REFER (1ull << 13)		/* ABI 2 */
#define FS_TRUNCATE (1ull << 14)	/* ABI 3 */
#define FS_IOCTL_DEV (1ull << 15)	/* ABI 5 */
#define NET_BIND_TCP (1ull << 0)	/* ABI 4 */
#define NET_CONNECT_TCP (1ull << 1)
#define SCOPE_ABSTRACT_UNIX (1ull << 0)	/* ABI 6 */
#define SCOPE_SIGNAL (1ull << 1)

#define FS_R (FS_READ_FILE | FS_READ_DIR)
#define FS_W (FS_WRITE_FILE | FS_TRUNCATE | FS_MAKE_REG | FS_MAKE_DIR | \
	FS_MAKE_SYM | FS_MAKE_SOCK | FS_MAKE_FIFO | FS_REMOVE_FILE | \
	FS_REMOVE_DIR | FS_REFER | FS_IOCTL_DEV)
#define FS_X FS_EXECUTE
/* Rights that mean something on a file that is not a directory. */
#define FS_FILE_RIGHTS (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | \
	FS_TRUNCATE | FS_IOCTL_DEV)

static const struct {
	const char *path;
	uint64_t access;
} baseline[] = {
	{ "/lib", FS_R | FS_X }, { "/lib64", FS_R | FS_X },
	{ "/usr/lib", FS_R | FS_X }, { "/usr/lib64", FS_R | FS_X },
	{ "/etc/ld.so.cache", FS_R }, { "/etc/localtime", FS_R },
	{ "/usr/share/zoneinfo", FS_R }, { "/etc/nsswitch.conf", FS_R },
	{ "/etc/passwd", FS_R }, { "/etc/group", FS_R },
	{ "/etc/hosts", FS_R }, { "/etc/resolv.conf", FS_R },
	{ "/etc/gai.conf", FS_R }, { "/dev/urandom", FS_R },
	{ "/dev/random", FS_R }, { "/proc", FS_R },
	{ "/dev/null", FS_R | FS_W }, { "/dev/zero", FS_R | FS_W },
	{ "/dev/full", FS_R | FS_W }, { "/dev/tty", FS_R | FS_W },
};

static uint64_t
fs_rights(int abi)
{
	uint64_t all = (FS_MAKE_SYM << 1) - 1;	/* ABI 1 */

	if (abi >= 2)
		all |= FS_REFER;
	if (abi >= 3)
		all |= FS_TRUNCATE;
	if (abi >= 5)
		all |= FS_IOCTL_DEV;
	return all;
}

/* Allow ACCESS beneath PATH; a path that does not exist is skipped (there
 * is nothing there to allow). */
static int
add_path(int ruleset, const char *path, uint64_t access, uint64_t handled,
    char *error)
{
	struct ll_path_beneath rule;
	struct stat st;
	int fd, r = 0;

	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISDIR(st.st_mode))
		access &= FS_FILE_RIGHTS;
	rule.allowed_access = access & handled;
	rule.parent_fd = fd;
	if (rule.allowed_access != 0 &&
	    syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH,
	    &rule, 0) < 0) {
		r = -errno;
		snprintf(error, ERROR_MAX, "landlock: rule for %.100s: %s",
		    path, strerror(errno));
	}
out:
	close(fd);
	return r;
}

/* A script agent runs its interpreter ("#!/abs/path ..."): r x on it. */
static int
add_interpreter(int ruleset, const char *binary, uint64_t handled,
    char *error)
{
	char head[PATH_MAX + 3], *end;
	ssize_t n;
	int fd = open(binary, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = pread(fd, head, sizeof(head) - 1, 0);
	close(fd);
	if (n < 3 || head[0] != '#' || head[1] != '!')
		return 0;
	head[n] = '\0';
	end = head + 2;
	while (*end == ' ' || *end == '\t')
		end++;
	memmove(head, end, strlen(end) + 1);
	head[strcspn(head, " \t\r\n")] = '\0';
	return head[0] == '/' ? add_path(ruleset, head, FS_R | FS_X, handled,
	    error) : 0;
}

/*
 * Without a files list, writes stay free everywhere but /proc: no agent
 * process may write another's memory (/proc/PID/mem) or its other
 * /proc files.  Every entry of / but proc gets the write right (symlinks
 * are skipped: what they name is under another entry); what is mounted
 * at / after the launch is not covered, so refused.  Each entry is opened
 * where the listing found it (O_NOFOLLOW: a symlink put there since is
 * opened as itself, and skipped), its type from that descriptor: three
 * system calls an entry where a path's lstat, open and fstat took five
 * (about 25 entries, on every launch's path).
 */
static int
add_all_but_proc(int ruleset, uint64_t handled, char *error)
{
	struct ll_path_beneath rule = { .allowed_access = FS_WRITE_FILE &
	    handled };
	struct dirent *e;
	DIR *root = opendir("/");
	int r = 0;

	if (root == NULL) {
		snprintf(error, ERROR_MAX, "landlock: reading /: %s",
		    strerror(errno));
		return -errno;
	}
	while (r == 0 && rule.allowed_access != 0 &&
	    (e = readdir(root)) != NULL) {
		struct stat st;
		int fd;

		if (strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, "proc") == 0 || e->d_type == DT_LNK)
			continue;
		fd = openat(dirfd(root), e->d_name, O_PATH | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;	/* gone since the listing */
			r = -errno;
			snprintf(error, ERROR_MAX, "landlock: /%.100s: %s",
			    e->d_name, strerror(errno));
			break;
		}
		/* The listing's type when the file system gives one (it
		 * cannot change for the same entry); else the descriptor's. */
		if (e->d_type == DT_UNKNOWN && (fstat(fd, &st) < 0 ||
		    S_ISLNK(st.st_mode))) {
			close(fd);
			continue;
		}
		/* FS_WRITE_FILE is a file right: the same rule for a
		 * directory and for a file. */
		rule.parent_fd = fd;
		if (syscall(SYS_landlock_add_rule, ruleset,
		    LL_RULE_PATH_BENEATH, &rule, 0) < 0) {
			r = -errno;
			snprintf(error, ERROR_MAX, "landlock: rule for "
			    "/%.100s: %s", e->d_name, strerror(errno));
		}
		close(fd);
	}
	closedir(root);
	return r;
}

static uint64_t
profile_rights(unsigned access)
{
	return ((access & PROFILE_R) ? FS_R : 0) |
	    ((access & PROFILE_W) ? FS_W : 0) |
	    ((access & PROFILE_X) ? FS_X : 0);
}

int
landlock_prepare(const struct profile *p, int *ruleset_out, int *abi_out,
    char *error)
{
	struct ll_ruleset_attr attr = { 0 };
	size_t attr_size;
	int abi, ruleset, r = 0;

	*ruleset_out = -1;
	*abi_out = 0;
	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LL_CREATE_RULESET_VERSION);
	if (abi < 6) {
		if (!p->landlock_optional) {
			snprintf(error, ERROR_MAX, "landlock: the kernel offers "
			    "ABI %d, the profile needs 6 (scoping, Linux "
			    "6.12)%s",
			    abi < 0 ? 0 : abi, p->files_given ?
			    " and file rules" : "");
			return -EOPNOTSUPP;
		}
		if (abi < 1)
			return 0;	/* optional, and there is none */
	}
	attr.handled_access_fs = p->files_given ? fs_rights(abi) :
	    FS_WRITE_FILE;
	attr_size = sizeof(uint64_t);
	if (abi >= 4) {
		attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP;
		attr_size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		attr.scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL;
		attr_size = sizeof(attr);
	}
	if (attr.handled_access_fs == 0 && attr.handled_access_net == 0 &&
	    attr.scoped == 0)
		return 0;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size,
	    0);
	if (ruleset < 0) {
		snprintf(error, ERROR_MAX, "landlock: create ruleset: %s",
		    strerror(errno));
		return -errno;
	}
	if (p->files_given) {
		uint64_t h = attr.handled_access_fs;

		for (size_t i = 0; r == 0 &&
		    i < sizeof(baseline) / sizeof(baseline[0]); i++)
			r = add_path(ruleset, baseline[i].path,
			    baseline[i].access, h, error);
		if (r == 0)
			r = add_path(ruleset, p->binary, FS_R | FS_X, h, error);
		if (r == 0)
			r = add_interpreter(ruleset, p->binary, h, error);
		for (size_t i = 0; r == 0 && i < p->n_commands; i++)
			r = add_path(ruleset, p->commands[i], FS_R | FS_X, h,
			    error);
		for (size_t i = 0; r == 0 && i < p->n_files; i++)
			r = add_path(ruleset, p->files[i].path,
			    profile_rights(p->files[i].access), h, error);
		if (r < 0)
			goto out;
	} else if ((r = add_all_but_proc(ruleset, attr.handled_access_fs,
	    error)) < 0)
		goto out;
	*ruleset_out = ruleset;
	*abi_out = abi;
	return 0;
out:
	close(ruleset);
	return r;
}

int
landlock_enforce(int ruleset, char *error)
{
	int r = 0;

	if (ruleset < 0)
		return 0;
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
		r = -errno;
		snprintf(error, ERROR_MAX, "landlock: restrict self: %s",
		    strerror(errno));
	}
	close(ruleset);
	return r;
}

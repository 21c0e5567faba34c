/* SPDX-License-Identifier: Apache-2.0 */
/* pam_zt.so's entry points: every session of an agent account asks ztd. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "args.h"
#include "zt_client.h"
#include "zt_err.h"
#include "zt_group.h"
#include "zt_log.h"
#include "zt_msg.h"

/* Only the pam_sm_* entry points leave the module (with pam_zt.map). */
#define ZT_EXPORT __attribute__((visibility("default")))

/* pam_set_data() key of the grant this handle opened. */
#define DATA_GRANT "pam_zt_grant"
/* pam_set_data() key of the handle's connection to ztd (struct conn). */
#define DATA_CONN "pam_zt_conn"
/* The PAM environment variable zt-exec attaches with. */
#define ENV_GRANT "ZT_GRANT"
/* A grant id: 32 lower-case hex digits. */
#define GRANT_ID_SIZE 32
/* PAM items (rhost, tty, service, user) are sent cut to this many bytes. */
#define ITEM_MAX 255
/* A longer user name is nobody's (LOGIN_NAME_MAX is 256 with its NUL). */
#define USER_MAX 255
/* getpwnam_r() buffer: first size when sysconf has none, and the cap. */
#define PASSWD_BUFFER_FIRST 4096
#define PASSWD_BUFFER_MAX (1024 * 1024)
/* An untrusted value quoted in a log line. */
#define QUOTED_MAX 128

/*
 * The handle's connection to ztd, kept from one call of this module to the
 * next (auth, account, session open, session close: one connection where
 * there were up to four).  Only the process that connected uses it (a
 * fork between calls, e.g. sshd's privilege separation, gets its own), only
 * for the socket it was made to, and only while FD is still that socket
 * (an application may close descriptors behind the module's back).  It
 * carries no decision: every call sends its own request, under its own
 * request id, and reads only the reply to that id.
 */
struct conn {
	int fd;			/* -1: none */
	pid_t pid;		/* the process that connected */
	dev_t dev;		/* FD's socket, by fstat at connect */
	ino_t ino;
	uint32_t last_id;	/* the last request id sent (0: none yet) */
	bool transient;		/* not kept in the handle: for one call */
	struct conn *next_kept;	/* in kept_conns, while FD is open */
	char socket[];		/* the path it was made to */
};

/*
 * Every connection the module holds open in this process, so that no
 * child inherits one: a connection is root's (ztd took the peer's
 * credentials at connect), and a child that drops to the user's uid
 * without exec (sshd's privilege-separated child) must not hold it.  The
 * pthread_atfork child handler closes them all in the child; exec closes
 * them too (close-on-exec).  The module stays loaded once loaded (linked
 * -z nodelete), so the handlers are registered once per process.  Without
 * the handler nothing is kept past a call.
 */
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *kept_conns;
static pthread_once_t kept_once = PTHREAD_ONCE_INIT;
static bool kept_safe;		/* the atfork handlers are in place */

/* Is C->fd still the socket C made (the number may name another file)? */
static bool
conn_same(const struct conn *c)
{
	struct stat st;

	return c->fd >= 0 && fstat(c->fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == c->dev && st.st_ino == c->ino;
}

/* Close C->fd if it is still the socket C made; never another file. */
static void
close_if_same(struct conn *c)
{
	if (conn_same(c))
		close(c->fd);
	c->fd = -1;
}

static void
kept_prepare(void)
{
	pthread_mutex_lock(&kept_lock);
}

static void
kept_parent(void)
{
	pthread_mutex_unlock(&kept_lock);
}

/* In a forked child: none of the parent's connections stays open. */
static void
kept_child(void)
{
	struct conn *c, *next;

	for (c = kept_conns; c != NULL; c = next) {
		next = c->next_kept;
		close_if_same(c);
		c->next_kept = NULL;
	}
	kept_conns = NULL;
	pthread_mutex_unlock(&kept_lock);
}

static void
kept_init(void)
{
	kept_safe = pthread_atfork(kept_prepare, kept_parent, kept_child) ==
	    0;
}

/* Free a string kept with pam_set_data(). */
static void
free_data(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	free(data);
}

/*
 * Is C->fd still the socket this process made?  Never true in another
 * process (a fork's copy belongs to the parent's conversation), nor when
 * the descriptor number now names another file.
 */
static bool
conn_ours(const struct conn *c)
{
	return c->pid == getpid() && conn_same(c);
}

/* Keep FD, the socket just connected (ST its fstat), as C's. */
static void
conn_set(struct conn *c, int fd, const struct stat *st)
{
	pthread_mutex_lock(&kept_lock);
	c->fd = fd;
	c->pid = getpid();
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->next_kept = kept_conns;
	kept_conns = c;
	pthread_mutex_unlock(&kept_lock);
}

/*
 * Let go of C's descriptor: closed when it is still the socket it was (in
 * a forked child that only drops the child's reference, never the
 * parent's connection), left alone when the number names another file.
 */
static void
conn_drop(struct conn *c)
{
	pthread_mutex_lock(&kept_lock);
	for (struct conn **p = &kept_conns; *p != NULL; p = &(*p)->next_kept)
		if (*p == c) {
			*p = c->next_kept;
			break;
		}
	c->next_kept = NULL;
	close_if_same(c);
	pthread_mutex_unlock(&kept_lock);
}

/* pam_end() (or a replacement): the connection goes with the handle. */
static void
free_conn(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	conn_drop(data);
	free(data);
}

/*
 * The handle's connection record for SOCKET, made on first use (no
 * descriptor yet), or NULL without memory.  A record for another socket
 * (another line's socket= option) is replaced.  Where libpam keeps no data
 * (an entry point called outside a PAM stack) the record is transient:
 * conn_done() closes and frees it after the call.
 */
static struct conn *
conn_of(pam_handle_t *pamh, const char *socket)
{
	const void *data = NULL;
	struct conn *c;
	size_t len = strlen(socket);

	if (pam_get_data(pamh, DATA_CONN, &data) == PAM_SUCCESS &&
	    data != NULL && strcmp(((const struct conn *)data)->socket,
	    socket) == 0)
		return (struct conn *)data;
	if ((c = malloc(sizeof(*c) + len + 1)) == NULL)
		return NULL;
	c->fd = -1;
	c->pid = 0;
	c->last_id = 0;
	c->next_kept = NULL;
	memcpy(c->socket, socket, len + 1);
	pthread_once(&kept_once, kept_init);
	/* libpam calls the old record's cleanup, which closes it. */
	c->transient = !kept_safe || pam_set_data(pamh, DATA_CONN, c,
	    free_conn) != PAM_SUCCESS;
	return c;
}

/* After a call on C: a transient record goes now. */
static void
conn_done(struct conn *c)
{
	if (c != NULL && c->transient)
		free_conn(NULL, c, 0);
}

/* The next request id on C: never 0 (the daemon's pushed events). */
static uint32_t
conn_next_id(struct conn *c)
{
	if (++c->last_id == 0)
		c->last_id = 1;
	return c->last_id;
}

/* Quote an untrusted string for a log line (zt_escape, bounded). */
static const char *
quote(char dst[QUOTED_MAX], const char *src)
{
	if (src == NULL)
		src = "";
	return zt_escape(dst, QUOTED_MAX, src, strlen(src));
}

static bool
is_grant_id(const char *id)
{
	size_t i;

	if (id == NULL)
		return false;
	for (i = 0; i < GRANT_ID_SIZE; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return id[i] == '\0';
}

/*
 * The uid of USER from the passwd database (the account is matched by uid,
 * never by the name).  Returns PAM_SUCCESS, PAM_USER_UNKNOWN, PAM_BUF_ERR,
 * or PAM_AUTHINFO_UNAVAIL when the database cannot say.
 */
static int
lookup_uid(pam_handle_t *pamh, const char *user, uid_t *uid)
{
	struct passwd pw, *result = NULL;
	long first = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t size = first > 0 && first <= PASSWD_BUFFER_MAX ?
	    (size_t)first : PASSWD_BUFFER_FIRST;
	char quoted[QUOTED_MAX];
	int r;

	for (;;) {
		char *buffer = malloc(size);

		if (buffer == NULL)
			return PAM_BUF_ERR;
		r = getpwnam_r(user, &pw, buffer, size, &result);
		if (r == 0 && result != NULL)
			*uid = pw.pw_uid;
		free(buffer);
		if (r != ERANGE)
			break;
		if (size >= PASSWD_BUFFER_MAX) {
			r = ENOMEM;
			break;
		}
		size *= 2;
	}
	if (r == 0 && result != NULL)
		return PAM_SUCCESS;
	if (r == 0 || r == ENOENT || r == ESRCH) {
		pam_syslog(pamh, LOG_NOTICE, "user %s: no such account",
		    quote(quoted, user));
		return PAM_USER_UNKNOWN;
	}
	if (r == ENOMEM)
		return PAM_BUF_ERR;
	pam_syslog(pamh, LOG_ERR, "user %s: account lookup failed: %s",
	    quote(quoted, user), strerror(r));
	return PAM_AUTHINFO_UNAVAIL;
}

/* Add the PAM item ITEM as the string field TAG, cut to ITEM_MAX bytes. */
static int
put_item(pam_handle_t *pamh, struct zt_msg *m, enum zt_field_tag tag,
    int item)
{
	const void *value = NULL;
	char text[ITEM_MAX + 1];
	size_t len;

	if (pam_get_item(pamh, item, &value) != PAM_SUCCESS || value == NULL)
		return 0;
	len = strnlen(value, ITEM_MAX);
	memcpy(text, value, len);
	text[len] = '\0';
	return zt_msg_put_str(m, tag, text);
}

/*
 * The one conversion of a call's outcome (R from zt_client_call, REPLY)
 * into a PAM code: PAM_SUCCESS only for a DECISION carrying exactly
 * ZT_DECISION_ALLOW; PAM_PERM_DENIED for any other decision; PAM_IGNORE
 * when ztd says the account is no agent's; PAM_AUTHINFO_UNAVAIL for
 * everything else (no daemon, no answer in time, a malformed or
 * unexpected reply, any other error).
 */
static int
to_pam_rc(int r, const struct zt_msg *reply, const char **why)
{
	uint32_t decision = 0;
	const char *text;
	int code;

	*why = "";
	if (r < 0) {
		*why = zt_strerror(r);
		return PAM_AUTHINFO_UNAVAIL;
	}
	if (reply->type == ZT_MSG_DECISION) {
		if (zt_msg_get_str(reply, ZT_F_REASON, why) < 0)
			*why = "";
		if (zt_msg_get_u32(reply, ZT_F_DECISION, &decision) == 0 &&
		    decision == ZT_DECISION_ALLOW)
			return PAM_SUCCESS;
		return PAM_PERM_DENIED;
	}
	code = zt_client_reply_error(reply, ZT_MSG_DECISION, &text);
	if (code == ZT_E_NOT_AGENT) {
		*why = "not an agent's account";
		return PAM_IGNORE;
	}
	*why = code == ZT_E_PROTOCOL && reply->type != ZT_MSG_ERROR ?
	    "unexpected reply" : zt_strerror(code);
	return PAM_AUTHINFO_UNAVAIL;
}

/*
 * Send REQUEST on the handle's connection C (made now when there is none
 * this process may use) and wait for REPLY; the zt_client_call() result.
 * A kept connection that ztd has closed since (restarted, or idle too
 * long) is made again once, and the request sent on the new one; any
 * other failure drops the connection, so that nothing left on it (a late
 * reply) can meet a later call.  With KEEP false, or after an error for
 * the whole connection, it is closed once the reply is in.
 */
static int
call_ztd(const struct zt_pam_args *args, struct conn *c,
    const struct zt_msg *request, struct zt_msg *reply, bool keep)
{
	int64_t deadline = zt_monotonic_ms() + args->timeout_ms;
	struct ucred cred;
	socklen_t len;
	struct stat st;
	bool reused;
	int fd, r;

	for (int attempt = 0;; attempt++) {
		/* A kept connection's peer is checked again, as at connect:
		 * only root's ztd is ztd. */
		len = sizeof(cred);
		reused = conn_ours(c) && getsockopt(c->fd, SOL_SOCKET,
		    SO_PEERCRED, &cred, &len) == 0 && cred.uid == 0;
		if (!reused) {
			conn_drop(c);
			/* One budget for all: a full backlog takes from the
			 * call's time. */
			if ((fd = zt_client_connect_within(args->socket,
			    (int)(deadline - zt_monotonic_ms()))) < 0)
				return fd;
			if (fstat(fd, &st) < 0) {
				r = -errno;
				close(fd);
				return r;
			}
			conn_set(c, fd, &st);
		}
		r = (int)(deadline - zt_monotonic_ms());
		r = r > 0 ? zt_client_call(c->fd, request, reply, r) :
		    ZT_E_TIMEOUT;
		if (r == 0 && reply->request_id == request->request_id &&
		    keep && !c->transient)
			return 0;
		conn_drop(c);
		if (r != ZT_E_CLOSED || !reused || attempt > 0)
			return r;
	}
}

/*
 * ztd gave no decision: with group=NAME, an account that is definitely no
 * member of NAME by the local files (/etc/passwd, /etc/group: not NSS,
 * which may be down too) is no agent's, so PAM_IGNORE; a member, or any
 * doubt (the account not in /etc/passwd, the group missing, a file
 * unreadable), stays PAM_AUTHINFO_UNAVAIL.  Logs which.
 */
static int
without_ztd(pam_handle_t *pamh, const struct zt_pam_args *args,
    const char *hook, const char *user, const char *quoted_user)
{
	int r = zt_group_member(ZT_PASSWD_FILE, ZT_GROUP_FILE, user,
	    args->group);

	if (r == 0) {
		pam_syslog(pamh, LOG_NOTICE, "%s: user %s is no member of "
		    "group %s by the local files: not an agent's account, "
		    "ignored while ztd cannot answer", hook, quoted_user,
		    args->group);
		return PAM_IGNORE;
	}
	pam_syslog(pamh, LOG_ERR, "%s: user %s %s group %s: refused while "
	    "ztd cannot answer", hook, quoted_user, r == 1 ? "is a member "
	    "of" : r == -ENOENT ? "or the group is missing from the local "
	    "files, so may be in" : "may be in (the local files cannot "
	    "say)", args->group);
	return PAM_AUTHINFO_UNAVAIL;
}

/*
 * Ask ztd whether PAM_USER may open a session through PAM_SERVICE.  With
 * CHECK_ONLY no grant is made; otherwise, on allow, GRANT (GRANT_ID_SIZE
 * + 1 bytes) receives the grant id.  Returns a PAM code (see to_pam_rc),
 * PAM_USER_UNKNOWN, PAM_BUF_ERR or PAM_SERVICE_ERR; logs the outcome.
 */
static int
ask_session(pam_handle_t *pamh, const struct zt_pam_args *args,
    const char *hook, bool check_only, char *grant)
{
	char quoted_user[QUOTED_MAX], quoted_service[QUOTED_MAX];
	char quoted_why[QUOTED_MAX];
	const void *service = NULL;
	const char *user = NULL, *why, *id;
	struct zt_msg *request, *reply;
	struct conn *c;
	uid_t uid;
	int r, rc;

	if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL ||
	    user[0] == '\0')
		return PAM_USER_UNKNOWN;
	if (strnlen(user, USER_MAX + 1) > USER_MAX) {
		pam_syslog(pamh, LOG_NOTICE, "%s: user name %s is too long",
		    hook, quote(quoted_user, user));
		return PAM_USER_UNKNOWN;
	}
	if (pam_get_item(pamh, PAM_SERVICE, &service) != PAM_SUCCESS ||
	    service == NULL || ((const char *)service)[0] == '\0') {
		pam_syslog(pamh, LOG_ERR, "%s: no PAM service name", hook);
		return PAM_SERVICE_ERR;
	}
	quote(quoted_user, user);
	quote(quoted_service, service);
	if ((rc = lookup_uid(pamh, user, &uid)) != PAM_SUCCESS)
		return rc;

	/* Two messages of 8 KiB each: off the caller's stack. */
	request = malloc(sizeof(*request));
	reply = malloc(sizeof(*reply));
	if (request == NULL || reply == NULL ||
	    (c = conn_of(pamh, args->socket)) == NULL) {
		free(request);
		free(reply);
		return PAM_BUF_ERR;
	}
	if ((r = zt_msg_init(request, ZT_MSG_SESSION_OPEN,
	    conn_next_id(c))) < 0 ||
	    (r = zt_msg_put_u32(request, ZT_F_UID, (uint32_t)uid)) < 0 ||
	    (r = put_item(pamh, request, ZT_F_SERVICE, PAM_SERVICE)) < 0 ||
	    (r = put_item(pamh, request, ZT_F_ACCOUNT, PAM_USER)) < 0 ||
	    (r = put_item(pamh, request, ZT_F_RHOST, PAM_RHOST)) < 0 ||
	    (r = put_item(pamh, request, ZT_F_TTY, PAM_TTY)) < 0 ||
	    (check_only && (r = zt_msg_put_u32(request, ZT_F_FLAGS,
	    ZT_SESSION_CHECK_ONLY)) < 0) ||
	    (r = zt_msg_check_complete(request)) < 0) {
		pam_syslog(pamh, LOG_ERR, "%s: user %s service %s: cannot "
		    "build the request: %s", hook, quoted_user,
		    quoted_service, zt_strerror(r));
		rc = PAM_SERVICE_ERR;
		goto out;
	}
	/* Kept for the calls that follow on this handle: account after
	 * auth, session open after account, the close of a grant. */
	r = call_ztd(args, c, request, reply, true);
	rc = to_pam_rc(r, reply, &why);
	quote(quoted_why, why);
	if (rc == PAM_SUCCESS && !check_only) {
		if (zt_msg_get_str(reply, ZT_F_GRANT, &id) < 0 ||
		    !is_grant_id(id)) {
			pam_syslog(pamh, LOG_ERR, "%s: user %s service %s: "
			    "allowed without a valid grant id", hook,
			    quoted_user, quoted_service);
			rc = PAM_AUTHINFO_UNAVAIL;
			goto out;
		}
		memcpy(grant, id, GRANT_ID_SIZE + 1);
	}
	switch (rc) {
	case PAM_SUCCESS:
		if (args->debug)
			pam_syslog(pamh, LOG_DEBUG, "%s: user %s uid %u "
			    "service %s: allowed%s%s", hook, quoted_user,
			    (unsigned)uid, quoted_service,
			    check_only ? "" : ", grant ",
			    check_only ? "" : grant);
		break;
	case PAM_IGNORE:
		if (args->debug)
			pam_syslog(pamh, LOG_DEBUG, "%s: user %s uid %u: %s",
			    hook, quoted_user, (unsigned)uid, why);
		break;
	case PAM_PERM_DENIED:
		pam_syslog(pamh, LOG_NOTICE, "%s: user %s uid %u service %s: "
		    "denied: %s", hook, quoted_user, (unsigned)uid,
		    quoted_service, quoted_why);
		break;
	default:
		pam_syslog(pamh, LOG_ERR, "%s: user %s uid %u service %s: "
		    "ztd at %s gave no decision: %s", hook, quoted_user,
		    (unsigned)uid, quoted_service, args->socket, quoted_why);
		if (args->group != NULL)
			rc = without_ztd(pamh, args, hook, user, quoted_user);
		break;
	}
out:
	/* No grant to close later: nothing more to ask on this handle. */
	if (!check_only && rc != PAM_SUCCESS)
		conn_drop(c);
	conn_done(c);
	free(request);
	free(reply);
	return rc;
}

/*
 * End grant ID.  Returns PAM_SUCCESS when ztd ended it, PAM_SESSION_ERR
 * when ztd had no such live grant, PAM_AUTHINFO_UNAVAIL when ztd gave no
 * answer, PAM_BUF_ERR.  Logs the failures.
 */
static int
close_grant(pam_handle_t *pamh, const struct zt_pam_args *args,
    const char *id)
{
	struct zt_msg *request, *reply;
	char quoted_why[QUOTED_MAX];
	const char *why;
	struct conn *c;
	int r, rc;

	request = malloc(sizeof(*request));
	reply = malloc(sizeof(*reply));
	if (request == NULL || reply == NULL ||
	    (c = conn_of(pamh, args->socket)) == NULL) {
		free(request);
		free(reply);
		return PAM_BUF_ERR;
	}
	/* The session's last call: the connection closes with it. */
	if ((r = zt_msg_init(request, ZT_MSG_SESSION_CLOSE,
	    conn_next_id(c))) < 0 ||
	    (r = zt_msg_put_str(request, ZT_F_GRANT, id)) < 0) {
		rc = PAM_SERVICE_ERR;
		conn_drop(c);
	} else {
		r = call_ztd(args, c, request, reply, false);
		rc = to_pam_rc(r, reply, &why);
	}
	if (rc == PAM_PERM_DENIED || rc == PAM_IGNORE)
		rc = PAM_SESSION_ERR;
	if (rc == PAM_SUCCESS) {
		if (args->debug)
			pam_syslog(pamh, LOG_DEBUG, "close_session: grant %s "
			    "ended", id);
	} else if (rc != PAM_BUF_ERR) {
		pam_syslog(pamh, LOG_ERR, "close_session: grant %s not "
		    "ended: %s", id, r < 0 ? zt_strerror(r) :
		    quote(quoted_why, why));
	}
	conn_done(c);
	free(request);
	free(reply);
	return rc;
}

/* Parse the options; PAM_SUCCESS or PAM_SERVICE_ERR (already logged). */
static int
get_args(pam_handle_t *pamh, int argc, const char **argv,
    struct zt_pam_args *args)
{
	return args_parse(pamh, argc, argv, args) < 0 ? PAM_SERVICE_ERR :
	    PAM_SUCCESS;
}

/*
 * auth: every check, but never a grant and never access by itself: an
 * allow is PAM_IGNORE, so "auth sufficient pam_zt.so" cannot mean a
 * password-less login.
 */
ZT_EXPORT int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	struct zt_pam_args args;
	int rc;

	(void)flags;
	if ((rc = get_args(pamh, argc, argv, &args)) != PAM_SUCCESS)
		return rc;
	rc = ask_session(pamh, &args, "auth", true, NULL);
	return rc == PAM_SUCCESS ? PAM_IGNORE : rc;
}

ZT_EXPORT int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}

/* account: every check of a session, no grant. */
ZT_EXPORT int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct zt_pam_args args;
	int rc;

	(void)flags;
	if ((rc = get_args(pamh, argc, argv, &args)) != PAM_SUCCESS)
		return rc;
	return ask_session(pamh, &args, "account", true, NULL);
}

/*
 * Remove ZT_GRANT from the PAM environment when it is there: libpam logs
 * an error for the removal of a variable that is not set.
 */
static void
drop_grant_env(pam_handle_t *pamh)
{
	if (pam_getenv(pamh, ENV_GRANT) != NULL)
		pam_putenv(pamh, ENV_GRANT);
}

/* session open: a grant, named in the PAM environment as ZT_GRANT. */
ZT_EXPORT int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	char grant[GRANT_ID_SIZE + 1], env[sizeof(ENV_GRANT) + 1 +
	    GRANT_ID_SIZE];
	struct zt_pam_args args;
	char *kept;
	int rc;

	(void)flags;
	if ((rc = get_args(pamh, argc, argv, &args)) != PAM_SUCCESS)
		return rc;
	/*
	 * Only this module names the grant: drop whatever an earlier module
	 * (pam_env with user_readenv) put there, so close_session can never
	 * be pointed at another session's grant.
	 */
	drop_grant_env(pamh);
	rc = ask_session(pamh, &args, "session", false, grant);
	if (rc != PAM_SUCCESS)
		return rc;
	snprintf(env, sizeof(env), "%s=%s", ENV_GRANT, grant);
	kept = strdup(grant);
	if (kept == NULL) {
		rc = PAM_BUF_ERR;
		goto rollback;
	}
	if ((rc = pam_set_data(pamh, DATA_GRANT, kept, free_data)) !=
	    PAM_SUCCESS) {
		free(kept);
		goto rollback;
	}
	if ((rc = pam_putenv(pamh, env)) != PAM_SUCCESS) {
		pam_set_data(pamh, DATA_GRANT, NULL, NULL);
		goto rollback;
	}
	return PAM_SUCCESS;

rollback:
	pam_syslog(pamh, LOG_ERR, "session: cannot keep grant %s: %s", grant,
	    pam_strerror(pamh, rc));
	close_grant(pamh, &args, grant);
	return rc == PAM_BUF_ERR ? PAM_BUF_ERR : PAM_SESSION_ERR;
}

/* session close: end the grant this session opened. */
ZT_EXPORT int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	char grant[GRANT_ID_SIZE + 1];
	struct zt_pam_args args;
	const void *data = NULL;
	const char *id;
	int rc;

	(void)flags;
	if ((rc = get_args(pamh, argc, argv, &args)) != PAM_SUCCESS)
		return rc;
	/* Only the grant this handle opened: never one the environment
	 * names (a module or a user's file may set ZT_GRANT). */
	if (pam_get_data(pamh, DATA_GRANT, &data) != PAM_SUCCESS)
		data = NULL;
	if ((id = data) == NULL)
		return PAM_IGNORE;
	if (!is_grant_id(id)) {
		pam_syslog(pamh, LOG_ERR, "close_session: %s is not a grant "
		    "id", ENV_GRANT);
		return PAM_SESSION_ERR;
	}
	memcpy(grant, id, sizeof(grant));
	rc = close_grant(pamh, &args, grant);
	if (rc == PAM_SUCCESS || rc == PAM_SESSION_ERR) {
		/* Ended, or ztd has no such grant: forget it either way. */
		pam_set_data(pamh, DATA_GRANT, NULL, NULL);
		drop_grant_env(pamh);
	}
	return rc;
}

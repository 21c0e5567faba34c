/* SPDX-License-Identifier: Apache-2.0 */
/* Error codes shared by every ztgate program, and their text. */
#ifndef ZT_ERR_H
#define ZT_ERR_H

/*
 * Functions that can fail return 0 or one of these negative codes.  The
 * range below ZT_E_BASE is ours; values above it (-1 .. -4095) are negative
 * errno values and zt_strerror() describes them with strerror().
 */
enum zt_error {
	ZT_OK = 0,
	ZT_E_BASE = -10000,
	ZT_E_MAGIC = -10001,		/* wire: bad magic */
	ZT_E_VERSION = -10002,		/* wire: unknown protocol version */
	ZT_E_TYPE = -10003,		/* wire: unknown message type */
	ZT_E_TRUNCATED = -10004,	/* wire: shorter than it says */
	ZT_E_OVERSIZED = -10005,	/* wire: larger than ZT_MSG_MAX */
	ZT_E_TRAILING = -10006,		/* wire: bytes after the last field */
	ZT_E_DUPLICATE = -10007,	/* wire: a field appears twice */
	ZT_E_MISSING = -10008,		/* wire: a required field is absent */
	ZT_E_FIELD = -10009,		/* wire: a field this type does not take */
	ZT_E_FIELD_SIZE = -10010,	/* wire: a field of the wrong size */
	ZT_E_STRING = -10011,		/* wire: a string with a NUL byte */
	ZT_E_TOO_MANY = -10012,		/* wire: more fields than allowed */
	ZT_E_NOSPACE = -10013,		/* encoder: message would exceed ZT_MSG_MAX */
	ZT_E_TIMEOUT = -10014,		/* no answer before the deadline */
	ZT_E_CLOSED = -10015,		/* the peer closed the connection */
	ZT_E_REQUEST_ID = -10016,	/* a reply to another request */
	ZT_E_PERM = -10017,		/* the peer may not ask this */
	ZT_E_CONFIG = -10018,		/* the configuration is not valid */
	ZT_E_UNSAFE = -10019,		/* a file or directory is not safe to use */
	ZT_E_BUSY = -10020,		/* the daemon has no room for the request */
	ZT_E_PROTOCOL = -10021,		/* a message that is valid but unexpected */
	ZT_E_NOT_IMPLEMENTED = -10022,	/* this build does not do that yet */
	ZT_E_NOT_AGENT = -10023,	/* the account is no agent's */
	ZT_E_WAIT = -10024,		/* internal: waits for attestation */
	ZT_E_PEER = -10025,		/* the socket's peer is not root */
	ZT_E_UNKNOWN = -10026,		/* a name the policy does not hold */
	ZT_E_LAST = -10027,
};

/* Text for any code (ours or -errno); never NULL, static storage. */
const char *zt_strerror(int code);

#endif

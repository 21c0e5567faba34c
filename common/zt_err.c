/* SPDX-License-Identifier: Apache-2.0 */
/* Text for every error code of common/zt_err.h. */
#include "config.h"

#include <string.h>

#include "zt_err.h"

static const char *const error_text[] = {
	[-(ZT_E_MAGIC - ZT_E_BASE)] = "bad message magic",
	[-(ZT_E_VERSION - ZT_E_BASE)] = "unknown protocol version",
	[-(ZT_E_TYPE - ZT_E_BASE)] = "unknown message type",
	[-(ZT_E_TRUNCATED - ZT_E_BASE)] = "truncated message",
	[-(ZT_E_OVERSIZED - ZT_E_BASE)] = "oversized message",
	[-(ZT_E_TRAILING - ZT_E_BASE)] = "trailing bytes after message",
	[-(ZT_E_DUPLICATE - ZT_E_BASE)] = "duplicate field",
	[-(ZT_E_MISSING - ZT_E_BASE)] = "missing required field",
	[-(ZT_E_FIELD - ZT_E_BASE)] = "field not allowed in this message",
	[-(ZT_E_FIELD_SIZE - ZT_E_BASE)] = "field has the wrong size",
	[-(ZT_E_STRING - ZT_E_BASE)] = "string field has a NUL byte",
	[-(ZT_E_TOO_MANY - ZT_E_BASE)] = "too many fields",
	[-(ZT_E_NOSPACE - ZT_E_BASE)] = "message would exceed the size limit",
	[-(ZT_E_TIMEOUT - ZT_E_BASE)] = "timed out",
	[-(ZT_E_CLOSED - ZT_E_BASE)] = "connection closed by peer",
	[-(ZT_E_REQUEST_ID - ZT_E_BASE)] = "reply to another request",
	[-(ZT_E_PERM - ZT_E_BASE)] = "permission denied",
	[-(ZT_E_CONFIG - ZT_E_BASE)] = "invalid configuration",
	[-(ZT_E_UNSAFE - ZT_E_BASE)] = "unsafe file or directory",
	[-(ZT_E_BUSY - ZT_E_BASE)] = "daemon busy",
	[-(ZT_E_PROTOCOL - ZT_E_BASE)] = "unexpected message",
	[-(ZT_E_NOT_IMPLEMENTED - ZT_E_BASE)] = "not implemented in this build",
	[-(ZT_E_NOT_AGENT - ZT_E_BASE)] = "account is not an agent account",
	[-(ZT_E_WAIT - ZT_E_BASE)] = "waiting for attestation",
	[-(ZT_E_PEER - ZT_E_BASE)] = "the socket's peer is not root: not ztd",
	[-(ZT_E_UNKNOWN - ZT_E_BASE)] = "unknown name",
};

const char *
zt_strerror(int code)
{
	if (code == 0)
		return "success";
	if (code < 0 && code > -4096)
		return strerror(-code);
	if (code < ZT_E_BASE && code > ZT_E_LAST) {
		const char *text = error_text[-(code - ZT_E_BASE)];
		if (text != NULL)
			return text;
	}
	return "unknown error";
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Frames between ztd and its fleet client over their socketpair. */
#ifndef ZTD_FLEET_PROTO_H
#define ZTD_FLEET_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A frame: u32 length of the rest (host order: both ends are one
 * program), u8 type, u8 count of parts, then each part as u32 length and
 * its bytes.  Nothing else crosses.
 */
#define FLEET_FRAME_MAX (3 * 1024 * 1024)
#define FLEET_PARTS_MAX 24

enum fleet_frame_type {
	/* ztd to the client */
	FLEET_CONFIG = 1,	/* prefix, host, heartbeat, ca, cert, key,
				 * user, password, endpoint... ("" absent) */
	FLEET_REPORT = 2,	/* this host's report (JSON) */
	/* the client to ztd */
	FLEET_ENTRY = 10,	/* "policy" or "disabled", name, value,
				 * mod_revision */
	FLEET_DELETED = 11,	/* "policy" or "disabled", name */
	FLEET_STATE = 12,	/* "1" in sync / "0" not, and why */
};

struct fleet_frame {
	uint8_t type;
	size_t n;
	const uint8_t *part[FLEET_PARTS_MAX];	/* into the reader's buffer */
	size_t len[FLEET_PARTS_MAX];
};

/* Send one frame of N parts on FD, all of it (blocking unless DONTWAIT:
 * then -EAGAIN when it does not fit at once).  0 or -errno. */
int fleet_frame_send(int fd, uint8_t type, size_t n,
    const void *const *parts, const size_t *lens, bool dontwait);

struct fleet_reader {
	uint8_t *buf;
	size_t len, used, cap;
};

/* Read what FD has (once).  1 read something, 0 end of stream, -EAGAIN
 * nothing now, -errno. */
int fleet_reader_fill(struct fleet_reader *reader, int fd);

/*
 * The next complete frame from what was read (valid until the next
 * fill): 1 and *FRAME; 0 when more is needed; -EBADMSG for a frame that
 * breaks the format (the stream is then unusable).
 */
int fleet_reader_next(struct fleet_reader *reader, struct fleet_frame *frame);

/* Parse a frame straight from DATA (fuzzing): 1, 0 or -EBADMSG. */
int fleet_frame_parse(const uint8_t *data, size_t len,
    struct fleet_frame *frame, size_t *consumed);

void fleet_reader_free(struct fleet_reader *reader);

/* Part I of FRAME as a new NUL-terminated string; NULL when absent or
 * holding a NUL. */
char *fleet_frame_string(const struct fleet_frame *frame, size_t i);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Frames between ztd and its fleet client: writing, reading, checking. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fleet_proto.h"

int
fleet_frame_send(int fd, uint8_t type, size_t n, const void *const *parts,
    const size_t *lens, bool dontwait)
{
	size_t total = 2, off = 0;
	uint8_t *buf;
	uint32_t len32;
	int r = 0;

	if (n > FLEET_PARTS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		total += 4 + lens[i];
	if (total > FLEET_FRAME_MAX)
		return -EMSGSIZE;
	if ((buf = malloc(4 + total)) == NULL)
		return -ENOMEM;
	len32 = (uint32_t)total;
	memcpy(buf, &len32, 4);
	buf[4] = type;
	buf[5] = (uint8_t)n;
	off = 6;
	for (size_t i = 0; i < n; i++) {
		len32 = (uint32_t)lens[i];
		memcpy(buf + off, &len32, 4);
		if (lens[i] > 0)
			memcpy(buf + off + 4, parts[i], lens[i]);
		off += 4 + lens[i];
	}
	for (size_t done = 0; done < off;) {
		ssize_t w = send(fd, buf + done, off - done,
		    MSG_NOSIGNAL | (dontwait ? MSG_DONTWAIT : 0));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			/* Part of a frame sent: the stream is broken. */
			r = errno == EAGAIN && done > 0 ? -EPIPE : -errno;
			break;
		}
		done += (size_t)w;
	}
	free(buf);
	return r;
}

int
fleet_reader_fill(struct fleet_reader *rd, int fd)
{
	ssize_t n;

	if (rd->used > 0) {
		memmove(rd->buf, rd->buf + rd->used, rd->len - rd->used);
		rd->len -= rd->used;
		rd->used = 0;
	}
	if (rd->cap - rd->len < 65536) {
		size_t cap = rd->cap ? rd->cap * 2 : 131072;
		uint8_t *b;

		if (cap > FLEET_FRAME_MAX + 65536 + 4)
			cap = FLEET_FRAME_MAX + 65536 + 4;
		if (cap <= rd->len)
			return -EMSGSIZE;
		if ((b = realloc(rd->buf, cap)) == NULL)
			return -ENOMEM;
		rd->buf = b;
		rd->cap = cap;
	}
	do
		n = read(fd, rd->buf + rd->len, rd->cap - rd->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	rd->len += (size_t)n;
	return n > 0;
}

int
fleet_frame_parse(const uint8_t *data, size_t len, struct fleet_frame *f,
    size_t *consumed)
{
	uint32_t total, part;
	size_t off;

	if (len < 4)
		return 0;
	memcpy(&total, data, 4);
	if (total < 2 || total > FLEET_FRAME_MAX)
		return -EBADMSG;
	if (len - 4 < total)
		return 0;
	f->type = data[4];
	f->n = data[5];
	if (f->n > FLEET_PARTS_MAX)
		return -EBADMSG;
	off = 6;
	for (size_t i = 0; i < f->n; i++) {
		if (4 + (size_t)total - off < 4)
			return -EBADMSG;
		memcpy(&part, data + off, 4);
		off += 4;
		if (part > 4 + (size_t)total - off)
			return -EBADMSG;
		f->part[i] = data + off;
		f->len[i] = part;
		off += part;
	}
	if (off != 4 + (size_t)total)
		return -EBADMSG;
	*consumed = off;
	return 1;
}

int
fleet_reader_next(struct fleet_reader *rd, struct fleet_frame *f)
{
	size_t consumed = 0;
	int r;

	r = fleet_frame_parse(rd->buf + rd->used, rd->len - rd->used, f,
	    &consumed);
	if (r == 1)
		rd->used += consumed;
	return r;
}

void
fleet_reader_free(struct fleet_reader *rd)
{
	free(rd->buf);
	rd->buf = NULL;
	rd->len = rd->used = rd->cap = 0;
}

char *
fleet_frame_string(const struct fleet_frame *f, size_t i)
{
	char *s;

	if (i >= f->n || memchr(f->part[i], '\0', f->len[i]) != NULL ||
	    (s = malloc(f->len[i] + 1)) == NULL)
		return NULL;
	memcpy(s, f->part[i], f->len[i]);
	s[f->len[i]] = '\0';
	return s;
}

/* protocol/buf.c — bounded readers and writers of PostgreSQL v3 message bytes: every get
 * checks the remaining size, every put checks the room left, failures are sticky flags. */
#include "protocol/buf.h"

#include <stdint.h>
#include <string.h>

#define NO_MESSAGE SIZE_MAX /* proto_writer.start when no message is open */

void proto_reader_init(struct proto_reader *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = p ? len : 0;
	r->pos = 0;
	r->failed = false;
}

size_t proto_reader_left(const struct proto_reader *r)
{
	return r->len - r->pos;
}

/* The next `n` bytes, or NULL (and failed) when fewer remain or the reader already failed. */
static const uint8_t *take(struct proto_reader *r, size_t n)
{
	static const uint8_t empty[1];
	const uint8_t *q;

	if (r->failed || n > r->len - r->pos) {
		r->failed = true;
		return NULL;
	}
	q = r->p ? r->p + r->pos : empty;
	r->pos += n;
	return q;
}

uint8_t proto_get_u8(struct proto_reader *r)
{
	const uint8_t *q = take(r, 1);

	return q ? q[0] : 0;
}

int16_t proto_get_i16(struct proto_reader *r)
{
	const uint8_t *q = take(r, 2);

	return q ? (int16_t)(uint16_t)(((uint16_t)q[0] << 8) | q[1]) : 0;
}

int32_t proto_get_i32(struct proto_reader *r)
{
	const uint8_t *q = take(r, 4);

	return q ? (int32_t)proto_be32(q) : 0;
}

const char *proto_get_cstr(struct proto_reader *r, size_t *len_out)
{
	const uint8_t *start, *nul;
	size_t n;

	if (len_out)
		*len_out = 0;
	if (r->failed || r->pos >= r->len) {
		r->failed = true;
		return NULL;
	}
	start = r->p + r->pos;
	nul = memchr(start, 0, r->len - r->pos);
	if (!nul) {
		r->failed = true;
		return NULL;
	}
	n = (size_t)(nul - start);
	r->pos += n + 1;
	if (len_out)
		*len_out = n;
	return (const char *)start;
}

const uint8_t *proto_get_bytes(struct proto_reader *r, size_t n)
{
	return take(r, n);
}

void proto_writer_init(struct proto_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf ? cap : 0;
	w->len = 0;
	w->start = NO_MESSAGE;
	w->failed = false;
}

/* Room for `n` more bytes? Sets failed when not. */
static bool room(struct proto_writer *w, size_t n)
{
	if (w->failed || n > w->cap - w->len) {
		w->failed = true;
		return false;
	}
	return true;
}

void proto_begin(struct proto_writer *w, uint8_t type)
{
	if (w->start != NO_MESSAGE) { /* the previous message was never ended */
		w->failed = true;
		return;
	}
	if (type)
		proto_put_u8(w, type);
	if (!room(w, 4))
		return;
	w->start = w->len;
	proto_put_i32(w, 0);
}

void proto_put_u8(struct proto_writer *w, uint8_t v)
{
	if (room(w, 1))
		w->buf[w->len++] = v;
}

void proto_put_i16(struct proto_writer *w, int16_t v)
{
	uint16_t u = (uint16_t)v;

	if (!room(w, 2))
		return;
	w->buf[w->len++] = (uint8_t)(u >> 8);
	w->buf[w->len++] = (uint8_t)u;
}

void proto_put_i32(struct proto_writer *w, int32_t v)
{
	if (!room(w, 4))
		return;
	proto_put_be32(w->buf + w->len, (uint32_t)v);
	w->len += 4;
}

void proto_put_bytes(struct proto_writer *w, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (!p) {
		w->failed = true;
		return;
	}
	if (!room(w, n))
		return;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void proto_put_cstr(struct proto_writer *w, const char *s)
{
	if (!s) {
		w->failed = true;
		return;
	}
	proto_put_bytes(w, s, strlen(s) + 1);
}

void proto_end(struct proto_writer *w)
{
	size_t n;

	if (w->start == NO_MESSAGE) { /* no message open */
		w->failed = true;
		return;
	}
	n = w->len - w->start;
	if (!w->failed && n <= INT32_MAX)
		proto_put_be32(w->buf + w->start, (uint32_t)n);
	else
		w->failed = true;
	w->start = NO_MESSAGE;
}

bool proto_writer_ok(const struct proto_writer *w)
{
	return !w->failed && w->start == NO_MESSAGE;
}

/* protocol/buf.h — bounded readers and writers of PostgreSQL v3 message bytes.
 *
 * A reader never reads past its end: every get checks the remaining size first and, on
 * shortage, sets `failed` and returns a zero value; callers check `failed` once at the end.
 * A writer appends to a caller-owned fixed buffer: proto_begin() starts a message,
 * typed proto_put_*() append, proto_end() back-patches the length. Running out of room
 * sets `failed` (checked once with proto_writer_ok()) and nothing is written past `cap`. */
#ifndef PGLANE_PROTOCOL_BUF_H
#define PGLANE_PROTOCOL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct proto_reader {
	const uint8_t *p; /* borrowed */
	size_t len;
	size_t pos;
	bool failed;
};

/* Start reading `len` bytes at `p`. */
void proto_reader_init(struct proto_reader *r, const uint8_t *p, size_t len);
/* Bytes not yet read. */
size_t proto_reader_left(const struct proto_reader *r);
uint8_t proto_get_u8(struct proto_reader *r);
int16_t proto_get_i16(struct proto_reader *r);
int32_t proto_get_i32(struct proto_reader *r);
/* A NUL-terminated string inside the bytes; NULL (and failed) when no NUL before the end.
 * `len_out` (may be NULL) receives strlen. The pointer is borrowed from the reader's bytes. */
const char *proto_get_cstr(struct proto_reader *r, size_t *len_out);
/* `n` raw bytes; NULL (and failed) when fewer remain. */
const uint8_t *proto_get_bytes(struct proto_reader *r, size_t n);

struct proto_writer {
	uint8_t *buf; /* borrowed */
	size_t cap;
	size_t len;
	size_t start; /* offset of the length field of the message being built */
	bool failed;
};

/* Write into `buf` of `cap` bytes, starting empty. */
void proto_writer_init(struct proto_writer *w, uint8_t *buf, size_t cap);
/* Start a message of `type`; type 0 starts an untyped message (startup, SSLRequest, cancel). */
void proto_begin(struct proto_writer *w, uint8_t type);
void proto_put_u8(struct proto_writer *w, uint8_t v);
void proto_put_i16(struct proto_writer *w, int16_t v);
void proto_put_i32(struct proto_writer *w, int32_t v);
void proto_put_bytes(struct proto_writer *w, const void *p, size_t n);
/* The string and its terminating NUL. */
void proto_put_cstr(struct proto_writer *w, const char *s);
/* Back-patch the length of the message begun last. Messages do not nest: a proto_begin()
 * while one is open, or a proto_end() with none open, sets `failed`. */
void proto_end(struct proto_writer *w);
/* True when nothing overflowed since init and no message is left open (every proto_begin()
 * was matched by one proto_end()). */
__attribute__((warn_unused_result)) bool proto_writer_ok(const struct proto_writer *w);

/* Big-endian helpers for code that only peeks at a header. */
static inline uint32_t proto_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void proto_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif

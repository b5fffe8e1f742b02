/* protocol/frame.h — framing of v3 messages: type byte + 4-byte length, and the untyped
 * startup-phase packets (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest).
 *
 * Framers never advance or allocate; they look at `n` available bytes and say whether a
 * message is there (OK), more bytes are needed (NEED_MORE) or the bytes are malformed (BAD).
 * The length is checked (`len < 4 || len > max_len` → BAD) before any arithmetic on it. */
#ifndef PGLANE_PROTOCOL_FRAME_H
#define PGLANE_PROTOCOL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_HEADER_SIZE         5     /* type byte + int32 length */
#define PROTO_STARTUP_HEADER_SIZE 8     /* int32 length + int32 code */
#define PROTO_MAX_STARTUP_LEN     10000 /* PostgreSQL's own limit on a startup packet */

enum proto_frame_result { PROTO_FRAME_OK, PROTO_FRAME_NEED_MORE, PROTO_FRAME_BAD };

struct proto_frame {
	uint8_t type;        /* 0 for startup-phase packets */
	uint32_t len;        /* the length field: counts itself and the body, not the type */
	size_t size;         /* bytes on the wire: len + 1 for typed messages, len for startup */
	const uint8_t *body; /* borrowed: first byte after the length field; for startup
	                        packets that is the 4-byte code (the code is not skipped) */
	size_t body_len;     /* len - 4 */
};

/* The header of a typed message at `p`: needs PROTO_HEADER_SIZE bytes, not the body.
 * On OK fills type, len, size, body (body_len = len - 4, possibly not all available yet). */
__attribute__((warn_unused_result)) enum proto_frame_result
proto_frame_header(const uint8_t *p, size_t n, uint32_t max_len, struct proto_frame *out);

/* A whole typed message at `p`: OK only when all `size` bytes are available. */
__attribute__((warn_unused_result)) enum proto_frame_result
proto_frame_next(const uint8_t *p, size_t n, uint32_t max_len, struct proto_frame *out);

/* A whole startup-phase packet at `p` (length includes itself; minimum 8). On OK, body
 * points at the 4-byte code and body_len = len - 4. */
__attribute__((warn_unused_result)) enum proto_frame_result
proto_startup_frame(const uint8_t *p, size_t n, uint32_t max_len, struct proto_frame *out);

#endif

/* protocol/frame.c — framing of v3 messages (type + length) and of the untyped
 * startup-phase packets. The length is validated before any arithmetic on it. */
#include "protocol/frame.h"

#include "protocol/buf.h"

#if SIZE_MAX <= UINT32_MAX
#error "frame sizes are computed as len + 1 in size_t: a 64-bit size_t is assumed"
#endif

enum proto_frame_result proto_frame_header(const uint8_t *p, size_t n, uint32_t max_len,
                                           struct proto_frame *out)
{
	uint32_t len;

	if (n < PROTO_HEADER_SIZE)
		return PROTO_FRAME_NEED_MORE;
	len = proto_be32(p + 1);
	if (len < 4 || len > max_len)
		return PROTO_FRAME_BAD;
	out->type = p[0];
	out->len = len;
	out->size = (size_t)len + 1;
	out->body = p + PROTO_HEADER_SIZE;
	out->body_len = (size_t)len - 4;
	return PROTO_FRAME_OK;
}

enum proto_frame_result proto_frame_next(const uint8_t *p, size_t n, uint32_t max_len,
                                         struct proto_frame *out)
{
	struct proto_frame f;
	enum proto_frame_result r = proto_frame_header(p, n, max_len, &f);

	if (r != PROTO_FRAME_OK)
		return r;
	if (n < f.size)
		return PROTO_FRAME_NEED_MORE;
	*out = f;
	return PROTO_FRAME_OK;
}

enum proto_frame_result proto_startup_frame(const uint8_t *p, size_t n, uint32_t max_len,
                                            struct proto_frame *out)
{
	uint32_t len;

	if (n < 4)
		return PROTO_FRAME_NEED_MORE;
	len = proto_be32(p);
	if (len < PROTO_STARTUP_HEADER_SIZE || len > max_len)
		return PROTO_FRAME_BAD;
	if (n < len)
		return PROTO_FRAME_NEED_MORE;
	out->type = 0;
	out->len = len;
	out->size = len;
	out->body = p + 4;
	out->body_len = (size_t)len - 4;
	return PROTO_FRAME_OK;
}

/* tests/fuzz/fuzz_frame.c — libFuzzer target for protocol/frame: proto_startup_frame() on the
 * first packet, then proto_frame_header() and proto_frame_next() walking the rest message by
 * message, as a connection reads its bytes. The first input byte picks max_len from a table
 * of boundaries. Checks the framers' contract: a frame lies inside the bytes given, its size
 * matches its length field, OK needs every byte (one byte less is NEED_MORE), and the header
 * agrees with the whole-message framer. */
#include <stdbool.h>
#include <string.h>

#include "protocol/buf.h"
#include "protocol/frame.h"
#include "tests/fuzz/fuzz.h"

static const uint32_t max_lens[] = {0,
                                    3,
                                    4,
                                    5,
                                    7,
                                    8,
                                    9,
                                    16,
                                    64,
                                    1024,
                                    PROTO_MAX_STARTUP_LEN,
                                    65536,
                                    1u << 30,
                                    INT32_MAX,
                                    (uint32_t)INT32_MAX + 1,
                                    UINT32_MAX - 1,
                                    UINT32_MAX};
#define NMAX (sizeof(max_lens) / sizeof(max_lens[0]))

static void check_frame(const struct proto_frame *f, const uint8_t *p, size_t n, uint32_t max_len,
                        bool startup)
{
	FUZZ_CHECK(f->len >= (startup ? PROTO_STARTUP_HEADER_SIZE : 4));
	FUZZ_CHECK(f->len <= max_len);
	FUZZ_CHECK(f->size == (size_t)f->len + (startup ? 0 : 1));
	FUZZ_CHECK(f->body_len == (size_t)f->len - 4);
	FUZZ_CHECK(f->body == p + (startup ? 4 : PROTO_HEADER_SIZE));
	FUZZ_CHECK(f->type == (startup ? 0 : p[0]));
	FUZZ_CHECK(fuzz_inside(p, f->size, p, n));
	FUZZ_CHECK(fuzz_inside(f->body, f->body_len, p, n));
}

/* The startup packet at `p`: returns how many bytes it took (0: none framed). */
static size_t walk_startup(const uint8_t *p, size_t n, uint32_t max_len)
{
	struct proto_frame f;
	memset(&f, 0xA5, sizeof(f));
	enum proto_frame_result r = proto_startup_frame(p, n, max_len, &f);
	FUZZ_CHECK(r == PROTO_FRAME_OK || r == PROTO_FRAME_NEED_MORE || r == PROTO_FRAME_BAD);
	if (r != PROTO_FRAME_OK)
		return 0;
	check_frame(&f, p, n, max_len, true);
	/* one byte short of the packet is not enough */
	struct proto_frame g;
	FUZZ_CHECK(proto_startup_frame(p, f.size - 1, max_len, &g) == PROTO_FRAME_NEED_MORE);
	FUZZ_CHECK(proto_be32(p) == f.len);
	return f.size;
}

/* Typed messages from `p` until the bytes end or are malformed; returns how many were framed. */
static size_t walk_typed(const uint8_t *p, size_t n, uint32_t max_len)
{
	size_t count = 0;
	for (;;) {
		struct proto_frame h, f;
		memset(&h, 0xA5, sizeof(h));
		memset(&f, 0xA5, sizeof(f));
		enum proto_frame_result rh = proto_frame_header(p, n, max_len, &h);
		enum proto_frame_result rf = proto_frame_next(p, n, max_len, &f);
		if (n < PROTO_HEADER_SIZE) {
			FUZZ_CHECK(rh == PROTO_FRAME_NEED_MORE && rf == PROTO_FRAME_NEED_MORE);
			return count;
		}
		if (rh == PROTO_FRAME_BAD) {
			FUZZ_CHECK(rf == PROTO_FRAME_BAD);
			uint32_t len = proto_be32(p + 1);
			FUZZ_CHECK(len < 4 || len > max_len);
			return count;
		}
		FUZZ_CHECK(rh == PROTO_FRAME_OK);
		/* the header needs only its own bytes; the body may still be on its way */
		FUZZ_CHECK(h.size == (size_t)h.len + 1 && h.body == p + PROTO_HEADER_SIZE);
		FUZZ_CHECK(h.len >= 4 && h.len <= max_len);
		if (h.size > n) {
			FUZZ_CHECK(rf == PROTO_FRAME_NEED_MORE);
			return count;
		}
		FUZZ_CHECK(rf == PROTO_FRAME_OK);
		check_frame(&f, p, n, max_len, false);
		FUZZ_CHECK(f.len == h.len && f.size == h.size && f.type == h.type);
		struct proto_frame g;
		FUZZ_CHECK(proto_frame_next(p, f.size - 1, max_len, &g) == PROTO_FRAME_NEED_MORE);
		/* a reader over the body reads exactly body_len bytes */
		struct proto_reader rd;
		proto_reader_init(&rd, f.body, f.body_len);
		FUZZ_CHECK(proto_get_bytes(&rd, f.body_len) == f.body || f.body_len == 0);
		FUZZ_CHECK(proto_reader_left(&rd) == 0 && !rd.failed);
		(void)proto_get_u8(&rd);
		FUZZ_CHECK(rd.failed);
		p += f.size;
		n -= f.size;
		count++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint32_t max_len = max_lens[data[0] % NMAX];
	bool with_startup = data[0] & 0x80;
	const uint8_t *p = data + 1;
	size_t n = size - 1;

	/* a connection: one startup packet, then typed messages */
	if (with_startup) {
		size_t used = walk_startup(p, n, max_len);
		p += used;
		n -= used;
	}
	(void)walk_typed(p, n, max_len);
	/* the same bytes framed as a startup packet with the pre-login limit */
	(void)walk_startup(data + 1, size - 1, PROTO_MAX_STARTUP_LEN);
	return 0;
}

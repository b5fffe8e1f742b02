/* tests/unit/test_buf.c — protocol/buf: bounded reads (every shortage sets `failed`, sticky),
 * writers that never write past `cap` and back-patch lengths. */
#include <criterion/criterion.h>
#include <string.h>

#include "protocol/buf.h"

Test(buf, reader_integers_big_endian)
{
	const uint8_t b[] = {0x7f, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff};
	struct proto_reader r;

	proto_reader_init(&r, b, sizeof(b));
	cr_assert_eq(proto_reader_left(&r), 11);
	cr_assert_eq(proto_get_u8(&r), 0x7f);
	cr_assert_eq(proto_get_i16(&r), (int16_t)-2);
	cr_assert_eq(proto_get_i32(&r), (int32_t)0x80000001);
	cr_assert_eq(proto_get_i32(&r), -1);
	cr_assert_eq(proto_reader_left(&r), 0);
	cr_assert_not(r.failed);
}

Test(buf, reader_shortage_fails_and_is_sticky)
{
	const uint8_t b[] = {0, 0, 0, 7, 9};
	struct proto_reader r;

	proto_reader_init(&r, b, 3);
	cr_assert_eq(proto_get_i32(&r), 0);
	cr_assert(r.failed);
	cr_assert_eq(r.pos, 0, "a failed read does not advance");
	cr_assert_eq(proto_get_u8(&r), 0, "after a failure every read gives 0");
	cr_assert_null(proto_get_bytes(&r, 0));

	proto_reader_init(&r, b, 1);
	cr_assert_eq(proto_get_i16(&r), 0);
	cr_assert(r.failed);

	proto_reader_init(&r, b, 0);
	cr_assert_eq(proto_get_u8(&r), 0);
	cr_assert(r.failed);
}

Test(buf, reader_cstr)
{
	const uint8_t b[] = {'a', 'b', 0, 0, 'x', 'y'};
	struct proto_reader r;
	size_t n = 99;
	const char *s;

	proto_reader_init(&r, b, sizeof(b));
	s = proto_get_cstr(&r, &n);
	cr_assert_str_eq(s, "ab");
	cr_assert_eq(n, 2);
	cr_assert_eq((const uint8_t *)s, b, "borrowed from the bytes");
	s = proto_get_cstr(&r, NULL);
	cr_assert_str_eq(s, "");
	cr_assert_eq(proto_reader_left(&r), 2);
	s = proto_get_cstr(&r, &n);
	cr_assert_null(s, "\"xy\" has no NUL before the end");
	cr_assert_eq(n, 0);
	cr_assert(r.failed);
	cr_assert_eq(proto_reader_left(&r), 2);
}

Test(buf, reader_cstr_at_end_fails)
{
	const uint8_t b[] = {0};
	struct proto_reader r;

	proto_reader_init(&r, b, 1);
	cr_assert_not_null(proto_get_cstr(&r, NULL));
	cr_assert_null(proto_get_cstr(&r, NULL));
	cr_assert(r.failed);
}

Test(buf, reader_bytes)
{
	const uint8_t b[] = {1, 2, 3};
	struct proto_reader r;
	const uint8_t *p;

	proto_reader_init(&r, b, sizeof(b));
	p = proto_get_bytes(&r, 0);
	cr_assert_eq(p, b);
	p = proto_get_bytes(&r, 2);
	cr_assert_eq(p, b);
	cr_assert_null(proto_get_bytes(&r, 2));
	cr_assert(r.failed);
	proto_reader_init(&r, b, sizeof(b));
	cr_assert_null(proto_get_bytes(&r, SIZE_MAX), "no overflow on a huge count");
	cr_assert(r.failed);
}

Test(buf, writer_typed_message)
{
	uint8_t buf[64];
	struct proto_writer w;
	const uint8_t want[] = {'T', 0, 0, 0,   17,  0xab, 0xff, 0xfe, 0x80,
	                        0,   0, 0, 'h', 'i', 0,    'x',  'y',  'z'};

	proto_writer_init(&w, buf, sizeof(buf));
	proto_begin(&w, 'T');
	proto_put_u8(&w, 0xab);
	proto_put_i16(&w, -2);
	proto_put_i32(&w, (int32_t)0x80000000);
	proto_put_cstr(&w, "hi");
	proto_put_bytes(&w, "xyz", 3);
	proto_end(&w);
	cr_assert(proto_writer_ok(&w));
	cr_assert_eq(w.len, sizeof(want));
	cr_assert_arr_eq(buf, want, sizeof(want));
}

Test(buf, writer_untyped_and_consecutive)
{
	uint8_t buf[32];
	struct proto_writer w;
	const uint8_t want[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f, 'S', 0, 0, 0, 4};

	proto_writer_init(&w, buf, sizeof(buf));
	proto_begin(&w, 0);
	proto_put_i32(&w, 80877103);
	proto_end(&w);
	proto_begin(&w, 'S');
	proto_end(&w);
	cr_assert(proto_writer_ok(&w));
	cr_assert_eq(w.len, sizeof(want));
	cr_assert_arr_eq(buf, want, sizeof(want));
}

/* Writes one 13-byte message into a buffer of `cap` bytes followed by canaries. */
static bool write_into(size_t cap, uint8_t *area, size_t area_len)
{
	struct proto_writer w;

	memset(area, 0xcc, area_len);
	proto_writer_init(&w, area, cap);
	proto_begin(&w, 'Q');
	proto_put_cstr(&w, "SELECT 1");
	proto_end(&w);
	for (size_t i = cap; i < area_len; i++)
		cr_assert_eq(area[i], 0xcc, "cap %zu: byte %zu written past cap", cap, i);
	return proto_writer_ok(&w);
}

Test(buf, writer_never_writes_past_cap)
{
	uint8_t area[64];

	for (size_t cap = 0; cap < 14; cap++)
		cr_assert_not(write_into(cap, area, sizeof(area)), "cap %zu must overflow", cap);
	cr_assert(write_into(14, area, sizeof(area)));
	cr_assert_eq(area[4], 13);
}

Test(buf, writer_unbalanced_is_failure)
{
	uint8_t buf[32];
	struct proto_writer w;

	proto_writer_init(&w, buf, sizeof(buf));
	proto_end(&w);
	cr_assert_not(proto_writer_ok(&w), "end without begin");

	proto_writer_init(&w, buf, sizeof(buf));
	proto_begin(&w, 'Q');
	cr_assert_not(proto_writer_ok(&w), "a message left open");
	proto_begin(&w, 'Q');
	proto_end(&w);
	cr_assert_not(proto_writer_ok(&w), "nested begin");
}

Test(buf, writer_null_inputs_fail)
{
	uint8_t buf[32];
	struct proto_writer w;

	proto_writer_init(&w, buf, sizeof(buf));
	proto_begin(&w, 'Q');
	proto_put_cstr(&w, NULL);
	proto_end(&w);
	cr_assert_not(proto_writer_ok(&w));

	proto_writer_init(&w, buf, sizeof(buf));
	proto_put_bytes(&w, NULL, 0);
	cr_assert(proto_writer_ok(&w), "zero bytes from NULL is nothing");
	proto_put_bytes(&w, NULL, 1);
	cr_assert_not(proto_writer_ok(&w));
}

Test(buf, writer_failure_is_sticky)
{
	uint8_t buf[6];
	struct proto_writer w;

	proto_writer_init(&w, buf, sizeof(buf));
	proto_begin(&w, 'Q');
	proto_put_i32(&w, 1); /* 9 bytes > 6 */
	proto_put_u8(&w, 2);  /* would fit, but the writer already failed */
	proto_end(&w);
	cr_assert_not(proto_writer_ok(&w));
	cr_assert_eq(w.len, 5);
}

Test(buf, be32_helpers)
{
	uint8_t b[4];

	proto_put_be32(b, 0xdeadbeef);
	cr_assert_eq(b[0], 0xde);
	cr_assert_eq(b[3], 0xef);
	cr_assert_eq(proto_be32(b), 0xdeadbeefu);
}

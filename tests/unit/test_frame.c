/* tests/unit/test_frame.c — protocol/frame: typed and startup-phase framing from raw bytes,
 * every truncation (NEED_MORE) and every bad length (BAD). */
#include <criterion/criterion.h>
#include <string.h>

#include "protocol/buf.h"
#include "protocol/frame.h"

#define MAX 8192

static const uint8_t ready[] = {'Z', 0, 0, 0, 5, 'I'};
static const uint8_t query[] = {'Q', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0};
static const uint8_t sync_msg[] = {'S', 0, 0, 0, 4};
static const uint8_t startup[] = {0, 0,   0,   23,  0, 3, 0, 0, 'u', 's', 'e', 'r',
                                  0, 'b', 'o', 'b', 0, 0, 0, 0, 0,   0,   0};
static const uint8_t ssl_req[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};

struct sample {
	const uint8_t *p;
	size_t n;
};

static const struct sample typed[] = {
        {ready, sizeof(ready)}, {query, sizeof(query)}, {sync_msg, sizeof(sync_msg)}};

Test(frame, whole_messages)
{
	struct proto_frame f;

	cr_assert_eq(proto_frame_next(query, sizeof(query), MAX, &f), PROTO_FRAME_OK);
	cr_assert_eq(f.type, 'Q');
	cr_assert_eq(f.len, 13);
	cr_assert_eq(f.size, 14);
	cr_assert_eq(f.body, query + 5);
	cr_assert_eq(f.body_len, 9);
	cr_assert_str_eq((const char *)f.body, "SELECT 1");

	cr_assert_eq(proto_frame_next(sync_msg, sizeof(sync_msg), MAX, &f), PROTO_FRAME_OK);
	cr_assert_eq(f.type, 'S');
	cr_assert_eq(f.body_len, 0);
	cr_assert_eq(f.size, 5);
}

Test(frame, every_truncation_needs_more)
{
	struct proto_frame f;

	for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
		for (size_t k = 0; k < typed[i].n; k++) {
			cr_assert_eq(proto_frame_next(typed[i].p, k, MAX, &f),
			             PROTO_FRAME_NEED_MORE, "sample %zu cut at %zu", i, k);
			cr_assert_eq(proto_frame_header(typed[i].p, k, MAX, &f),
			             k < PROTO_HEADER_SIZE ? PROTO_FRAME_NEED_MORE : PROTO_FRAME_OK,
			             "header of sample %zu cut at %zu", i, k);
		}
		cr_assert_eq(proto_frame_next(typed[i].p, typed[i].n, MAX, &f), PROTO_FRAME_OK);
		cr_assert_eq(f.size, typed[i].n);
	}
}

Test(frame, header_alone_is_enough_for_header)
{
	struct proto_frame f;

	cr_assert_eq(proto_frame_header(query, PROTO_HEADER_SIZE, MAX, &f), PROTO_FRAME_OK);
	cr_assert_eq(f.size, sizeof(query));
	cr_assert_eq(f.body_len, 9);
}

Test(frame, first_of_a_run)
{
	uint8_t run[sizeof(ready) + sizeof(query)];
	struct proto_frame f;

	memcpy(run, ready, sizeof(ready));
	memcpy(run + sizeof(ready), query, sizeof(query));
	cr_assert_eq(proto_frame_next(run, sizeof(run), MAX, &f), PROTO_FRAME_OK);
	cr_assert_eq(f.type, 'Z');
	cr_assert_eq(f.size, sizeof(ready));
	cr_assert_eq(proto_frame_next(run + f.size, sizeof(run) - f.size, MAX, &f), PROTO_FRAME_OK);
	cr_assert_eq(f.type, 'Q');
}

static const uint32_t bad_lengths[] = {0, 1, 3, MAX + 1, 1u << 31, UINT32_MAX};

Test(frame, bad_lengths)
{
	for (size_t i = 0; i < sizeof(bad_lengths) / sizeof(bad_lengths[0]); i++) {
		uint8_t b[5] = {'Q'};
		struct proto_frame f;

		memset(&f, 0x5a, sizeof(f));
		proto_put_be32(b + 1, bad_lengths[i]);
		cr_assert_eq(proto_frame_header(b, sizeof(b), MAX, &f), PROTO_FRAME_BAD, "len %u",
		             bad_lengths[i]);
		cr_assert_eq(proto_frame_next(b, sizeof(b), MAX, &f), PROTO_FRAME_BAD, "len %u",
		             bad_lengths[i]);
		cr_assert_eq(f.type, 0x5a, "out untouched on BAD");
		cr_assert_eq(proto_frame_next(b, 4, MAX, &f), PROTO_FRAME_NEED_MORE,
		             "the length is not complete: not yet BAD");
	}
}

Test(frame, boundary_lengths)
{
	uint8_t b[5] = {'d'};
	struct proto_frame f;

	proto_put_be32(b + 1, 4);
	cr_assert_eq(proto_frame_next(b, sizeof(b), MAX, &f), PROTO_FRAME_OK);
	proto_put_be32(b + 1, MAX);
	cr_assert_eq(proto_frame_header(b, sizeof(b), MAX, &f), PROTO_FRAME_OK);
	cr_assert_eq(f.size, MAX + 1);
	cr_assert_eq(proto_frame_next(b, sizeof(b), MAX, &f), PROTO_FRAME_NEED_MORE);

	proto_put_be32(b + 1, UINT32_MAX);
	cr_assert_eq(proto_frame_header(b, sizeof(b), UINT32_MAX, &f), PROTO_FRAME_OK);
	cr_assert_eq(f.size, (size_t)UINT32_MAX + 1, "no 32-bit wrap of len + 1");
	cr_assert_eq(f.body_len, (size_t)UINT32_MAX - 4);
}

Test(frame, startup_whole)
{
	struct proto_frame f;

	cr_assert_eq(proto_startup_frame(startup, sizeof(startup), PROTO_MAX_STARTUP_LEN, &f),
	             PROTO_FRAME_OK);
	cr_assert_eq(f.type, 0);
	cr_assert_eq(f.len, 23);
	cr_assert_eq(f.size, 23);
	cr_assert_eq(f.body, startup + 4, "body starts at the code");
	cr_assert_eq(f.body_len, 19);

	cr_assert_eq(proto_startup_frame(ssl_req, sizeof(ssl_req), PROTO_MAX_STARTUP_LEN, &f),
	             PROTO_FRAME_OK);
	cr_assert_eq(f.size, 8);
	cr_assert_eq(proto_be32(f.body), 80877103u);
}

Test(frame, startup_every_truncation_needs_more)
{
	struct proto_frame f;

	for (size_t k = 0; k < sizeof(startup); k++)
		cr_assert_eq(proto_startup_frame(startup, k, PROTO_MAX_STARTUP_LEN, &f),
		             PROTO_FRAME_NEED_MORE, "cut at %zu", k);
	for (size_t k = 0; k < sizeof(ssl_req); k++)
		cr_assert_eq(proto_startup_frame(ssl_req, k, PROTO_MAX_STARTUP_LEN, &f),
		             PROTO_FRAME_NEED_MORE, "cut at %zu", k);
}

Test(frame, startup_bad_lengths)
{
	const uint32_t bad[] = {0, 3, 4, 7, PROTO_MAX_STARTUP_LEN + 1, 1u << 31, UINT32_MAX};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t b[8] = {0, 0, 0, 0, 0, 3, 0, 0};
		struct proto_frame f;

		proto_put_be32(b, bad[i]);
		cr_assert_eq(proto_startup_frame(b, sizeof(b), PROTO_MAX_STARTUP_LEN, &f),
		             PROTO_FRAME_BAD, "len %u", bad[i]);
		cr_assert_eq(proto_startup_frame(b, 4, PROTO_MAX_STARTUP_LEN, &f), PROTO_FRAME_BAD,
		             "len %u is known bad from 4 bytes", bad[i]);
		cr_assert_eq(proto_startup_frame(b, 3, PROTO_MAX_STARTUP_LEN, &f),
		             PROTO_FRAME_NEED_MORE);
	}
}

Test(frame, startup_limit_is_the_callers)
{
	struct proto_frame f;

	cr_assert_eq(proto_startup_frame(startup, sizeof(startup), 22, &f), PROTO_FRAME_BAD);
	cr_assert_eq(proto_startup_frame(startup, sizeof(startup), 23, &f), PROTO_FRAME_OK);
}

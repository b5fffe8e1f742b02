/* tests/unit/test_extended.c — protocol/extended: Parse, Bind, Describe and Close bodies read
 * (valid, malformed, every truncation) and the headers pglane writes read back whole. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/buf.h"
#include "protocol/extended.h"
#include "protocol/frame.h"
#include "protocol/msg.h"

#define MAX_LEN (1u << 20)

/* A heap copy of exactly `n` bytes, so that ASan sees any read past the end. */
static uint8_t *exact(const void *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);
	cr_assert_not_null(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

static bool parse_ok(const void *body, size_t len, const char **name, size_t *rest)
{
	uint8_t *b = exact(body, len);
	bool ok = proto_parse_parse(b, len, name, rest);
	if (ok) /* the name points into the body */
		cr_assert((const uint8_t *)*name >= b && (const uint8_t *)*name < b + len);
	free(b);
	return ok;
}

/* Parse body: name, query, n parameter types. Returns its length. */
static size_t build_parse_body(uint8_t *out, size_t cap, const char *name, const char *query,
                               int nparams, const int32_t *types)
{
	struct proto_writer w;
	proto_writer_init(&w, out, cap);
	proto_put_cstr(&w, name);
	proto_put_cstr(&w, query);
	proto_put_i16(&w, (int16_t)nparams);
	for (int i = 0; i < nparams; i++)
		proto_put_i32(&w, types ? types[i] : 0);
	cr_assert(!w.failed);
	return w.len;
}

/* ---- Parse ---- */

Test(extended, parse_valid)
{
	const uint8_t body[] = {'s', '1', 0, 'S', 'E', 'L', 'E', 'C', 'T', ' ',
	                        '$', '1', 0, 0,   1,   0,   0,   0,   23};
	const char *name = NULL;
	size_t rest = 0;
	cr_assert(proto_parse_parse(body, sizeof(body), &name, &rest));
	cr_assert_str_eq(name, "s1");
	cr_assert_eq((const uint8_t *)name, body, "borrowed");
	cr_assert_eq(rest, 3);
	cr_assert(parse_ok(body, sizeof(body), &name, &rest));
}

Test(extended, parse_unnamed_no_params)
{
	const uint8_t body[] = {0, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0, 0, 0};
	const char *name = NULL;
	size_t rest = 0;
	cr_assert(parse_ok(body, sizeof(body), &name, &rest));
	cr_assert_eq(rest, 1);
	/* empty query, empty name: still well formed */
	const uint8_t empty[] = {0, 0, 0, 0};
	cr_assert(parse_ok(empty, sizeof(empty), &name, &rest));
	cr_assert_eq(rest, 1);
}

Test(extended, parse_many_params)
{
	uint8_t body[512];
	int32_t types[50];
	for (int i = 0; i < 50; i++)
		types[i] = 1000 + i;
	size_t len = build_parse_body(body, sizeof(body), "many", "SELECT 1", 50, types);
	cr_assert_eq(len, 5 + 9 + 2 + 200);
	const char *name;
	size_t rest;
	cr_assert(parse_ok(body, len, &name, &rest));
	cr_assert_eq(rest, 5);
}

Test(extended, parse_bad_param_count)
{
	uint8_t body[64];
	const int32_t types[] = {23, 25};
	const char *name;
	size_t rest;
	size_t len = build_parse_body(body, sizeof(body), "s", "q", 2, types);
	cr_assert(parse_ok(body, len, &name, &rest));

	/* the count says 2, one type follows */
	cr_assert_not(parse_ok(body, len - 4, &name, &rest));
	/* the count says 2, three follow */
	uint8_t more[64];
	memcpy(more, body, len);
	memset(more + len, 0, 4);
	cr_assert_not(parse_ok(more, len + 4, &name, &rest));
	/* the count says 1, two follow */
	memcpy(more, body, len);
	cr_assert_eq(more[4], 0);
	cr_assert_eq(more[5], 2, "the count is at offset 4");
	more[5] = 1;
	cr_assert_not(parse_ok(more, len, &name, &rest));
	/* the count says 3, two follow */
	more[5] = 3;
	cr_assert_not(parse_ok(more, len, &name, &rest));
	/* no count at all */
	const uint8_t nocount[] = {'s', 0, 'q', 0};
	cr_assert_not(parse_ok(nocount, sizeof(nocount), &name, &rest));
	/* half a count */
	const uint8_t half[] = {'s', 0, 'q', 0, 0};
	cr_assert_not(parse_ok(half, sizeof(half), &name, &rest));
	/* count 0 and a trailing byte */
	const uint8_t trailing[] = {'s', 0, 'q', 0, 0, 0, 7};
	cr_assert_not(parse_ok(trailing, sizeof(trailing), &name, &rest));
	/* count 0xffff and no types */
	const uint8_t ffff[] = {'s', 0, 'q', 0, 0xff, 0xff};
	cr_assert_not(parse_ok(ffff, sizeof(ffff), &name, &rest));
}

Test(extended, parse_missing_nuls)
{
	const char *name;
	size_t rest;
	/* no NUL at all */
	const uint8_t none[] = {'s', '1', 'q'};
	cr_assert_not(parse_ok(none, sizeof(none), &name, &rest));
	/* the name ends, the query does not */
	const uint8_t noquery[] = {'s', '1', 0, 'S', 'E', 'L'};
	cr_assert_not(parse_ok(noquery, sizeof(noquery), &name, &rest));
	/* the query runs into what would be the count */
	const uint8_t nocount[] = {'s', 0, 'q', 'q', 'q', 'q'};
	cr_assert_not(parse_ok(nocount, sizeof(nocount), &name, &rest));
	/* empty body */
	cr_assert_not(parse_ok("", 0, &name, &rest));
	/* a lone NUL: name, no query */
	cr_assert_not(parse_ok("", 1, &name, &rest));
}

Test(extended, parse_every_truncation)
{
	uint8_t body[128];
	const int32_t types[] = {23, 0, 1043};
	size_t len = build_parse_body(body, sizeof(body), "stmt", "SELECT $1, $2, $3", 3, types);
	const char *name;
	size_t rest;
	cr_assert(parse_ok(body, len, &name, &rest));
	for (size_t k = 0; k < len; k++)
		cr_assert_not(parse_ok(body, k, &name, &rest), "truncated to %zu of %zu", k, len);
	/* and one byte too many */
	body[len] = 0;
	cr_assert_not(parse_ok(body, len + 1, &name, &rest));
}

Test(extended, parse_name_limit)
{
	static uint8_t body[PROTO_MAX_NAME + 64];
	char name_buf[PROTO_MAX_NAME + 1];
	const char *name;
	size_t rest;

	memset(name_buf, 'n', PROTO_MAX_NAME - 1);
	name_buf[PROTO_MAX_NAME - 1] = '\0';
	size_t len = build_parse_body(body, sizeof(body), name_buf, "q", 0, NULL);
	cr_assert(parse_ok(body, len, &name, &rest), "PROTO_MAX_NAME - 1 bytes and the NUL");
	cr_assert_eq(rest, PROTO_MAX_NAME);

	memset(name_buf, 'n', PROTO_MAX_NAME);
	name_buf[PROTO_MAX_NAME] = '\0';
	len = build_parse_body(body, sizeof(body), name_buf, "q", 0, NULL);
	cr_assert_not(parse_ok(body, len, &name, &rest), "a name of PROTO_MAX_NAME bytes");
}

/* The parameter count is an unsigned Int16 to PostgreSQL (pq_getmsgint(msg, 2) returns
 * 0..65535) and libpq sends up to 65535 parameters (PQ_QUERY_PARAM_MAX_LIMIT): a Parse
 * with 32768 or more parameter types is valid. */
Test(extended, parse_param_count_above_int16_max)
{
	const int counts[] = {32767, 32768, 65535};
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		size_t cap = 16 + (size_t)counts[c] * 4;
		uint8_t *body = calloc(1, cap);
		cr_assert_not_null(body);
		size_t len = build_parse_body(body, cap, "s", "q", counts[c], NULL);
		cr_assert_eq(len, 6 + (size_t)counts[c] * 4);
		const char *name = NULL;
		size_t rest = 0;
		bool ok = proto_parse_parse(body, len, &name, &rest);
		free(body);
		cr_assert(ok, "%d parameter types refused", counts[c]);
		cr_assert_eq(rest, 2);
	}
}

/* ---- Bind ---- */

static const uint8_t bind_body[] = {
        'p', 'o', 'r', 't', 0, 's', 't', 'm', 't', 0,  /* names */
        0,   1,   0,   1,                              /* one format code: binary */
        0,   1,   0,   0,   0, 4,   0,   0,   0,   42, /* one parameter of 4 bytes */
        0,   0,                                        /* no result formats */
};

Test(extended, bind_names_whole)
{
	const char *portal = NULL, *stmt = NULL;
	size_t end = 0;
	cr_assert(proto_parse_bind_names(bind_body, sizeof(bind_body), &portal, &stmt, &end));
	cr_assert_str_eq(portal, "port");
	cr_assert_str_eq(stmt, "stmt");
	cr_assert_eq((const uint8_t *)portal, bind_body);
	cr_assert_eq((const uint8_t *)stmt, bind_body + 5);
	cr_assert_eq(end, 10);
}

Test(extended, bind_names_from_a_prefix)
{
	for (size_t avail = 0; avail <= sizeof(bind_body); avail++) {
		uint8_t *b = exact(bind_body, avail);
		const char *portal = NULL, *stmt = NULL;
		size_t end = 0;
		bool ok = proto_parse_bind_names(b, avail, &portal, &stmt, &end);
		if (avail < 10) {
			cr_assert_not(ok, "names not both there in %zu bytes", avail);
		} else {
			cr_assert(ok, "names there in %zu bytes", avail);
			cr_assert_str_eq(portal, "port");
			cr_assert_str_eq(stmt, "stmt");
			cr_assert_eq(end, 10);
		}
		free(b);
	}
}

Test(extended, bind_names_empty)
{
	const uint8_t body[] = {0, 0, 0, 0, 0, 0, 0, 0};
	const char *portal = NULL, *stmt = NULL;
	size_t end = 0;
	cr_assert(proto_parse_bind_names(body, 2, &portal, &stmt, &end));
	cr_assert_str_eq(portal, "");
	cr_assert_str_eq(stmt, "");
	cr_assert_eq(end, 2);
	cr_assert_not(proto_parse_bind_names(body, 1, &portal, &stmt, &end));
	cr_assert_not(proto_parse_bind_names(body, 0, &portal, &stmt, &end));
}

Test(extended, bind_names_limit)
{
	static uint8_t body[2 * PROTO_MAX_NAME + 16];
	const char *portal, *stmt;
	size_t end;

	/* both names PROTO_MAX_NAME - 1 bytes */
	memset(body, 'p', PROTO_MAX_NAME - 1);
	body[PROTO_MAX_NAME - 1] = 0;
	memset(body + PROTO_MAX_NAME, 's', PROTO_MAX_NAME - 1);
	body[2 * PROTO_MAX_NAME - 1] = 0;
	cr_assert(proto_parse_bind_names(body, sizeof(body), &portal, &stmt, &end));
	cr_assert_eq(end, 2 * PROTO_MAX_NAME);
	cr_assert_eq(strlen(portal), PROTO_MAX_NAME - 1);
	cr_assert_eq(strlen(stmt), PROTO_MAX_NAME - 1);

	/* statement name of PROTO_MAX_NAME bytes */
	memset(body + PROTO_MAX_NAME, 's', PROTO_MAX_NAME);
	body[2 * PROTO_MAX_NAME] = 0;
	cr_assert_not(proto_parse_bind_names(body, sizeof(body), &portal, &stmt, &end));

	/* portal name of PROTO_MAX_NAME bytes, short statement */
	memset(body, 'p', PROTO_MAX_NAME);
	body[PROTO_MAX_NAME] = 0;
	body[PROTO_MAX_NAME + 1] = 's';
	body[PROTO_MAX_NAME + 2] = 0;
	cr_assert_not(proto_parse_bind_names(body, sizeof(body), &portal, &stmt, &end));
}

/* ---- Describe / Close ---- */

struct target_case {
	const char *bytes;
	size_t len;
	bool ok;
	uint8_t kind;
	const char *name;
};

Test(extended, target_table)
{
	static const struct target_case cases[] = {
	        {"Sabc", 5, true, 'S', "abc"},  {"Pabc", 5, true, 'P', "abc"},
	        {"S", 2, true, 'S', ""},        {"P", 2, true, 'P', ""},
	        {"Xabc", 5, false, 0, NULL},    {"sabc", 5, false, 0, NULL},
	        {"pabc", 5, false, 0, NULL},    {"\0abc", 5, false, 0, NULL},
	        {"S", 1, false, 0, NULL},       /* kind only */
	        {"", 0, false, 0, NULL},        /* nothing */
	        {"Sabc", 4, false, 0, NULL},    /* missing NUL */
	        {"Sab\0c", 6, false, 0, NULL},  /* trailing byte */
	        {"S\0\0", 3, false, 0, NULL},   /* trailing NUL */
	        {"Sa\0b\0", 6, false, 0, NULL}, /* two names */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *b = exact(cases[i].bytes, cases[i].len);
		uint8_t kind = 0;
		const char *name = NULL;
		bool ok = proto_parse_target(b, cases[i].len, &kind, &name);
		cr_assert_eq(ok, cases[i].ok, "case %zu", i);
		if (ok) {
			cr_assert_eq(kind, cases[i].kind, "case %zu", i);
			cr_assert_str_eq(name, cases[i].name, "case %zu", i);
			cr_assert_eq((const uint8_t *)name, b + 1, "case %zu", i);
		}
		free(b);
	}
}

Test(extended, target_every_truncation)
{
	const uint8_t body[] = {'S', 'p', 'g', 'l', 'a', 'n', 'e', '_', '1', 0};
	uint8_t kind;
	const char *name;
	for (size_t k = 0; k < sizeof(body); k++) {
		uint8_t *b = exact(body, k);
		cr_assert_not(proto_parse_target(b, k, &kind, &name), "truncated to %zu", k);
		free(b);
	}
	cr_assert(proto_parse_target(body, sizeof(body), &kind, &name));
	cr_assert_str_eq(name, "pglane_1");
}

Test(extended, target_name_limit)
{
	static uint8_t body[PROTO_MAX_NAME + 2];
	uint8_t kind;
	const char *name;
	body[0] = 'S';
	memset(body + 1, 'n', PROTO_MAX_NAME - 1);
	body[PROTO_MAX_NAME] = 0;
	cr_assert(proto_parse_target(body, PROTO_MAX_NAME + 1, &kind, &name));
	cr_assert_eq(strlen(name), PROTO_MAX_NAME - 1);
	body[PROTO_MAX_NAME] = 'n';
	body[PROTO_MAX_NAME + 1] = 0;
	cr_assert_not(proto_parse_target(body, PROTO_MAX_NAME + 2, &kind, &name));
}

/* ---- writers ---- */

Test(extended, parse_head_round_trip)
{
	uint8_t rest[64];
	const int32_t types[] = {23};
	/* the rest of a client's Parse: query and types (built here with an empty name) */
	size_t rlen = build_parse_body(rest, sizeof(rest), "", "SELECT $1::int", 1, types) - 1;
	const uint8_t *rbytes = rest + 1;

	uint8_t buf[256];
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_parse_head(&w, "pglane_7", rlen);
	cr_assert(proto_writer_ok(&w));
	cr_assert_eq(w.len, 1 + 4 + 9, "only type, length and name are written");
	cr_assert_eq(buf[0], PROTO_FE_PARSE);
	memcpy(buf + w.len, rbytes, rlen);
	size_t total = w.len + rlen;
	cr_assert_eq(proto_be32(buf + 1), total - 1, "the length covers the rest");

	struct proto_frame f;
	for (size_t k = 0; k < total; k++)
		cr_assert_eq(proto_frame_next(buf, k, MAX_LEN, &f), PROTO_FRAME_NEED_MORE);
	cr_assert_eq(proto_frame_next(buf, total, MAX_LEN, &f), PROTO_FRAME_OK);
	cr_assert_eq(f.size, total);
	cr_assert_eq(f.type, PROTO_FE_PARSE);
	const char *name;
	size_t off;
	cr_assert(proto_parse_parse(f.body, f.body_len, &name, &off));
	cr_assert_str_eq(name, "pglane_7");
	cr_assert_eq(off, 9);
	cr_assert_eq(f.body_len - off, rlen);
	cr_assert_arr_eq(f.body + off, rbytes, rlen);
}

Test(extended, parse_head_unnamed_and_zero_rest)
{
	uint8_t buf[16];
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_parse_head(&w, "", 0);
	cr_assert(proto_writer_ok(&w));
	const uint8_t want[] = {'P', 0, 0, 0, 5, 0};
	cr_assert_eq(w.len, sizeof(want));
	cr_assert_arr_eq(buf, want, sizeof(want));
}

Test(extended, bind_head_round_trip)
{
	const uint8_t *rbytes = bind_body + 10; /* formats, parameters, result formats */
	size_t rlen = sizeof(bind_body) - 10;

	uint8_t buf[256];
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_bind_head(&w, "", "pglane_12", rlen);
	cr_assert(proto_writer_ok(&w));
	cr_assert_eq(w.len, 1 + 4 + 1 + 10);
	cr_assert_eq(buf[0], PROTO_FE_BIND);
	memcpy(buf + w.len, rbytes, rlen);
	size_t total = w.len + rlen;
	cr_assert_eq(proto_be32(buf + 1), total - 1);

	struct proto_frame f;
	for (size_t k = 0; k < total; k++)
		cr_assert_eq(proto_frame_next(buf, k, MAX_LEN, &f), PROTO_FRAME_NEED_MORE);
	cr_assert_eq(proto_frame_next(buf, total, MAX_LEN, &f), PROTO_FRAME_OK);
	cr_assert_eq(f.size, total);
	const char *portal, *stmt;
	size_t end;
	cr_assert(proto_parse_bind_names(f.body, f.body_len, &portal, &stmt, &end));
	cr_assert_str_eq(portal, "");
	cr_assert_str_eq(stmt, "pglane_12");
	cr_assert_eq(end, 11);
	cr_assert_eq(f.body_len - end, rlen);
	cr_assert_arr_eq(f.body + end, rbytes, rlen);
}

Test(extended, head_rest_length_limit)
{
	uint8_t buf[64];
	struct proto_writer w;
	/* "P", length, "n\0": the length field counts 6 before the rest */
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_parse_head(&w, "n", (size_t)INT32_MAX - 6);
	cr_assert(proto_writer_ok(&w));
	cr_assert_eq(proto_be32(buf + 1), (uint32_t)INT32_MAX);

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_parse_head(&w, "n", (size_t)INT32_MAX - 5);
	cr_assert_not(proto_writer_ok(&w));

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_bind_head(&w, "", "", SIZE_MAX);
	cr_assert_not(proto_writer_ok(&w));

	/* "B", length, "\0\0": 6 */
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_bind_head(&w, "", "", (size_t)INT32_MAX - 6);
	cr_assert(proto_writer_ok(&w));
	cr_assert_eq(proto_be32(buf + 1), (uint32_t)INT32_MAX);
}

Test(extended, write_target_exact_and_round_trip)
{
	uint8_t buf[64];
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_target(&w, PROTO_FE_DESCRIBE, PROTO_DESCRIBE_STATEMENT, "ab");
	cr_assert(proto_writer_ok(&w));
	const uint8_t want[] = {'D', 0, 0, 0, 8, 'S', 'a', 'b', 0};
	cr_assert_eq(w.len, sizeof(want));
	cr_assert_arr_eq(buf, want, sizeof(want));

	struct proto_frame f;
	cr_assert_eq(proto_frame_next(buf, w.len, MAX_LEN, &f), PROTO_FRAME_OK);
	uint8_t kind;
	const char *name;
	cr_assert(proto_parse_target(f.body, f.body_len, &kind, &name));
	cr_assert_eq(kind, 'S');
	cr_assert_str_eq(name, "ab");

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_target(&w, PROTO_FE_CLOSE, PROTO_DESCRIBE_PORTAL, "");
	cr_assert(proto_writer_ok(&w));
	const uint8_t want2[] = {'C', 0, 0, 0, 6, 'P', 0};
	cr_assert_eq(w.len, sizeof(want2));
	cr_assert_arr_eq(buf, want2, sizeof(want2));
	cr_assert_eq(proto_frame_next(buf, w.len, MAX_LEN, &f), PROTO_FRAME_OK);
	cr_assert(proto_parse_target(f.body, f.body_len, &kind, &name));
	cr_assert_eq(kind, 'P');
	cr_assert_str_eq(name, "");
}

Test(extended, write_empty)
{
	const uint8_t types[] = {PROTO_BE_PARSE_COMPLETE, PROTO_BE_BIND_COMPLETE,
	                         PROTO_BE_CLOSE_COMPLETE, PROTO_BE_NO_DATA};
	for (size_t i = 0; i < sizeof(types); i++) {
		uint8_t buf[8];
		struct proto_writer w;
		proto_writer_init(&w, buf, sizeof(buf));
		proto_write_empty(&w, types[i]);
		cr_assert(proto_writer_ok(&w));
		const uint8_t want[] = {types[i], 0, 0, 0, 4};
		cr_assert_eq(w.len, 5);
		cr_assert_arr_eq(buf, want, 5);
	}
	/* several in a row */
	uint8_t buf[16];
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_empty(&w, PROTO_BE_PARSE_COMPLETE);
	proto_write_empty(&w, PROTO_BE_BIND_COMPLETE);
	cr_assert(proto_writer_ok(&w));
	cr_assert_eq(w.len, 10);
	cr_assert_eq(buf[5], PROTO_BE_BIND_COMPLETE);
}

Test(extended, write_command_complete)
{
	uint8_t buf[32];
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_command_complete(&w, "DEALLOCATE");
	cr_assert(proto_writer_ok(&w));
	const uint8_t want[] = {'C', 0,   0,   0,   15,  'D', 'E', 'A',
	                        'L', 'L', 'O', 'C', 'A', 'T', 'E', 0};
	cr_assert_eq(w.len, sizeof(want));
	cr_assert_arr_eq(buf, want, sizeof(want));
	struct proto_frame f;
	cr_assert_eq(proto_frame_next(buf, w.len, MAX_LEN, &f), PROTO_FRAME_OK);
	cr_assert_eq(f.type, PROTO_BE_COMMAND_COMPLETE);
	cr_assert_eq(f.size, sizeof(want));
}

/* Each writer in every buffer smaller than its message: failure, and nothing past cap. */
enum which { W_PARSE, W_BIND, W_TARGET, W_EMPTY, W_CC };

static void write_one(struct proto_writer *w, enum which k)
{
	switch (k) {
	case W_PARSE:
		proto_write_parse_head(w, "pglane_1", 100);
		break;
	case W_BIND:
		proto_write_bind_head(w, "portal", "pglane_1", 100);
		break;
	case W_TARGET:
		proto_write_target(w, PROTO_FE_CLOSE, PROTO_DESCRIBE_STATEMENT, "pglane_1");
		break;
	case W_EMPTY:
		proto_write_empty(w, PROTO_BE_NO_DATA);
		break;
	case W_CC:
		proto_write_command_complete(w, "SELECT 1");
		break;
	}
}

Test(extended, writers_overflow_small_buffer)
{
	const size_t need[] = {14, 21, 15, 5, 14};
	for (int k = W_PARSE; k <= W_CC; k++) {
		uint8_t big[64];
		struct proto_writer w;
		proto_writer_init(&w, big, sizeof(big));
		write_one(&w, (enum which)k);
		cr_assert(proto_writer_ok(&w), "writer %d", k);
		cr_assert_eq(w.len, need[k], "writer %d wrote %zu", k, w.len);

		for (size_t cap = 0; cap < need[k]; cap++) {
			uint8_t buf[64];
			memset(buf, 0xAA, sizeof(buf));
			proto_writer_init(&w, buf, cap);
			write_one(&w, (enum which)k);
			cr_assert_not(proto_writer_ok(&w), "writer %d fit in %zu", k, cap);
			cr_assert(w.failed);
			cr_assert_leq(w.len, cap);
			for (size_t i = cap; i < sizeof(buf); i++)
				cr_assert_eq(buf[i], 0xAA, "writer %d, cap %zu: byte %zu", k, cap,
				             i);
		}
		proto_writer_init(&w, big, need[k]);
		write_one(&w, (enum which)k);
		cr_assert(proto_writer_ok(&w), "writer %d in exactly %zu", k, need[k]);
	}
}

Test(extended, writers_after_failure_stay_failed)
{
	uint8_t buf[16];
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_command_complete(&w, "a tag longer than the room");
	cr_assert_not(proto_writer_ok(&w));
	size_t len = w.len;
	cr_assert_leq(len, 5);
	/* a message that would fit in the room left does not clear the failure */
	proto_write_empty(&w, PROTO_BE_NO_DATA);
	cr_assert_not(proto_writer_ok(&w));
	cr_assert_eq(w.len, len, "nothing written after the failure");
}

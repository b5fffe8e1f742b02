/* tests/unit/test_msg.c — protocol/msg: every builder framed and read back by its parser,
 * exact bytes where the layout matters, and malformed bodies refused. */
#include <criterion/criterion.h>
#include <string.h>

#include "protocol/buf.h"
#include "protocol/frame.h"
#include "protocol/msg.h"

#define MAX 8192

struct built {
	uint8_t buf[512];
	struct proto_writer w;
	struct proto_frame f;
};

static void start(struct built *b)
{
	proto_writer_init(&b->w, b->buf, sizeof(b->buf));
}

/* The writer holds exactly one message of `type`: frame it. */
static void finish(struct built *b, uint8_t type)
{
	cr_assert(proto_writer_ok(&b->w));
	cr_assert_eq(proto_frame_next(b->buf, b->w.len, MAX, &b->f), PROTO_FRAME_OK);
	cr_assert_eq(b->f.size, b->w.len, "one whole message");
	cr_assert_eq(b->f.type, type);
	for (size_t k = 0; k < b->w.len; k++)
		cr_assert_eq(proto_frame_next(b->buf, k, MAX, &b->f), PROTO_FRAME_NEED_MORE);
	cr_assert_eq(proto_frame_next(b->buf, b->w.len, MAX, &b->f), PROTO_FRAME_OK);
}

Test(msg, error_round_trip)
{
	struct built b;
	struct proto_error e;

	start(&b);
	proto_write_error(&b.w, PROTO_BE_ERROR, "FATAL", PROTO_SQLSTATE_INVALID_PASSWORD,
	                  "password authentication failed for user \"bob\"", "try again");
	finish(&b, PROTO_BE_ERROR);
	cr_assert(proto_parse_error(b.f.body, b.f.body_len, &e));
	cr_assert_str_eq(e.severity, "FATAL");
	cr_assert_str_eq(e.severity_nonlocal, "FATAL");
	cr_assert_str_eq(e.sqlstate, "28P01");
	cr_assert_str_eq(e.message, "password authentication failed for user \"bob\"");
	cr_assert_str_eq(e.detail, "try again");
	cr_assert_null(e.hint);
}

Test(msg, error_exact_bytes_and_no_detail)
{
	const uint8_t want[] = {'N', 0,   0,   0,   34,  'S', 'W', 'A', 'R', 'N', 'I', 'N',
	                        'G', 0,   'V', 'W', 'A', 'R', 'N', 'I', 'N', 'G', 0,   'C',
	                        '0', '1', '0', '0', '0', 0,   'M', 'h', 'i', 0,   0};
	struct built b;
	struct proto_error e;

	start(&b);
	proto_write_error(&b.w, PROTO_BE_NOTICE, "WARNING", "01000", "hi", NULL);
	finish(&b, PROTO_BE_NOTICE);
	cr_assert_eq(b.w.len, sizeof(want));
	cr_assert_arr_eq(b.buf, want, sizeof(want));
	cr_assert(proto_parse_error(b.f.body, b.f.body_len, &e));
	cr_assert_null(e.detail);
	cr_assert_str_eq(e.message, "hi");
}

Test(msg, error_unknown_fields_skipped)
{
	const uint8_t body[] = {'S', 'E', 'R', 'R', 'O', 'R', 0,   'P', '1', '2', 0, 'H', 'h',
	                        0,   'C', '4', '2', '6', '0', '1', 0,   'M', 'x', 0, 0};
	struct proto_error e;

	cr_assert(proto_parse_error(body, sizeof(body), &e));
	cr_assert_str_eq(e.hint, "h");
	cr_assert_str_eq(e.sqlstate, "42601");
	cr_assert_null(e.severity_nonlocal);
}

Test(msg, error_malformed)
{
	const uint8_t unterminated_field[] = {'S', 'E', 'R', 'R'};
	const uint8_t no_final[] = {'S', 'E', 0};
	const uint8_t trailing[] = {'S', 'E', 0, 0, 'x'};
	const uint8_t field_at_end[] = {'S', 'E', 0, 'M'};
	struct proto_error e;

	cr_assert_not(proto_parse_error(unterminated_field, sizeof(unterminated_field), &e));
	cr_assert_not(proto_parse_error(no_final, sizeof(no_final), &e));
	cr_assert_null(e.severity, "nothing kept on failure");
	cr_assert_not(proto_parse_error(trailing, sizeof(trailing), &e));
	cr_assert_not(proto_parse_error(field_at_end, sizeof(field_at_end), &e));
	cr_assert_not(proto_parse_error(no_final, 0, &e), "empty body");
}

Test(msg, error_every_truncated_body)
{
	struct built b;
	struct proto_error e;

	start(&b);
	proto_write_error(&b.w, PROTO_BE_ERROR, "ERROR", "57014", "canceled", "by pglane");
	finish(&b, PROTO_BE_ERROR);
	for (size_t k = 0; k < b.f.body_len; k++)
		cr_assert_not(proto_parse_error(b.f.body, k, &e), "cut at %zu", k);
}

Test(msg, error_overflow)
{
	uint8_t buf[20];
	struct proto_writer w;

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_error(&w, PROTO_BE_ERROR, "FATAL", "08P01", "protocol violation", NULL);
	cr_assert_not(proto_writer_ok(&w));
}

Test(msg, auth_ok_md5_sasl)
{
	const uint8_t salt[4] = {1, 2, 3, 0xff};
	const char mechs[] = "SCRAM-SHA-256\0"; /* the literal adds the final NUL */
	struct built b;
	int32_t code;
	const uint8_t *data;
	size_t n;

	start(&b);
	proto_write_auth(&b.w, PROTO_AUTH_OK, NULL, 0);
	finish(&b, PROTO_BE_AUTH);
	cr_assert_eq(b.w.len, 9);
	cr_assert(proto_parse_auth(b.f.body, b.f.body_len, &code, &data, &n));
	cr_assert_eq(code, PROTO_AUTH_OK);
	cr_assert_eq(n, 0);

	start(&b);
	proto_write_auth(&b.w, PROTO_AUTH_MD5, salt, 4);
	finish(&b, PROTO_BE_AUTH);
	cr_assert(proto_parse_auth(b.f.body, b.f.body_len, &code, &data, &n));
	cr_assert_eq(code, PROTO_AUTH_MD5);
	cr_assert_eq(n, 4);
	cr_assert_arr_eq(data, salt, 4);

	start(&b);
	proto_write_auth(&b.w, PROTO_AUTH_SASL, mechs, sizeof(mechs));
	finish(&b, PROTO_BE_AUTH);
	cr_assert(proto_parse_auth(b.f.body, b.f.body_len, &code, &data, &n));
	cr_assert_eq(code, PROTO_AUTH_SASL);
	cr_assert_eq(n, sizeof(mechs));
	cr_assert(proto_sasl_has_mechanism(data, n, PROTO_SCRAM_MECHANISM));
	cr_assert_not(proto_sasl_has_mechanism(data, n, "SCRAM-SHA-256-PLUS"));
	cr_assert_not(proto_sasl_has_mechanism(data, n, "SCRAM"));

	start(&b);
	proto_write_auth(&b.w, PROTO_AUTH_SASL_CONTINUE, "r=abc,s=QSXCR+Q6sek8bf92,i=4096", 31);
	finish(&b, PROTO_BE_AUTH);
	cr_assert(proto_parse_auth(b.f.body, b.f.body_len, &code, &data, &n));
	cr_assert_eq(code, PROTO_AUTH_SASL_CONTINUE);
	cr_assert_eq(n, 31);
	cr_assert_eq(memcmp(data, "r=abc,", 6), 0);
}

Test(msg, auth_malformed)
{
	const uint8_t ok_extra[] = {0, 0, 0, 0, 1};
	const uint8_t md5_short[] = {0, 0, 0, 5, 1, 2, 3};
	const uint8_t md5_long[] = {0, 0, 0, 5, 1, 2, 3, 4, 5};
	const uint8_t sasl_unterminated[] = {0, 0, 0, 10, 'S', 'C', 'R', 'A', 'M'};
	const uint8_t sasl_one_nul[] = {0, 0, 0, 10, 'S', 'C', 0};
	const uint8_t sasl_empty[] = {0, 0, 0, 10};
	const uint8_t short_code[] = {0, 0, 0};
	int32_t code;
	const uint8_t *data;
	size_t n;

	cr_assert_not(proto_parse_auth(ok_extra, sizeof(ok_extra), &code, &data, &n));
	cr_assert_not(proto_parse_auth(md5_short, sizeof(md5_short), &code, &data, &n));
	cr_assert_not(proto_parse_auth(md5_long, sizeof(md5_long), &code, &data, &n));
	cr_assert_not(
	        proto_parse_auth(sasl_unterminated, sizeof(sasl_unterminated), &code, &data, &n));
	cr_assert_not(proto_parse_auth(sasl_one_nul, sizeof(sasl_one_nul), &code, &data, &n));
	cr_assert_not(proto_parse_auth(sasl_empty, sizeof(sasl_empty), &code, &data, &n));
	cr_assert_not(proto_parse_auth(short_code, sizeof(short_code), &code, &data, &n));
}

Test(msg, sasl_mechanism_list_bounded)
{
	const uint8_t two[] = "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0";
	const uint8_t unterminated[] = {'S', 'C', 'R', 'A', 'M'};

	cr_assert(proto_sasl_has_mechanism(two, sizeof(two), "SCRAM-SHA-256"));
	cr_assert(proto_sasl_has_mechanism(two, sizeof(two), "SCRAM-SHA-256-PLUS"));
	cr_assert_not(proto_sasl_has_mechanism(unterminated, sizeof(unterminated), "SCRAM"));
	cr_assert_not(proto_sasl_has_mechanism(two, 0, "SCRAM-SHA-256"));
}

Test(msg, param_status)
{
	const uint8_t missing_value[] = {'a', 0};
	const uint8_t trailing[] = {'a', 0, 'b', 0, 'c'};
	struct built b;
	const char *name, *value;

	start(&b);
	proto_write_param_status(&b.w, "TimeZone", "Europe/Paris");
	finish(&b, PROTO_BE_PARAM_STATUS);
	cr_assert(proto_parse_param_status(b.f.body, b.f.body_len, &name, &value));
	cr_assert_str_eq(name, "TimeZone");
	cr_assert_str_eq(value, "Europe/Paris");
	for (size_t k = 0; k < b.f.body_len; k++)
		cr_assert_not(proto_parse_param_status(b.f.body, k, &name, &value));
	cr_assert_not(
	        proto_parse_param_status(missing_value, sizeof(missing_value), &name, &value));
	cr_assert_not(proto_parse_param_status(trailing, sizeof(trailing), &name, &value));
}

Test(msg, key_data)
{
	const uint8_t want[] = {'K', 0, 0, 0, 12, 0, 0, 0x30, 0x39, 0x80, 0, 0, 0};
	struct built b;
	int32_t pid = 0, key = 0;

	start(&b);
	proto_write_key_data(&b.w, 12345, INT32_MIN);
	finish(&b, PROTO_BE_KEY_DATA);
	cr_assert_arr_eq(b.buf, want, sizeof(want));
	cr_assert(proto_parse_key_data(b.f.body, b.f.body_len, &pid, &key));
	cr_assert_eq(pid, 12345);
	cr_assert_eq(key, INT32_MIN);
	cr_assert_not(proto_parse_key_data(b.f.body, 7, &pid, &key));
	cr_assert_not(proto_parse_key_data(want + 1, 9, &pid, &key));
}

Test(msg, ready)
{
	const uint8_t statuses[] = {PROTO_TX_IDLE, PROTO_TX_BLOCK, PROTO_TX_FAILED};
	const uint8_t bad[] = {'X', 'I'};
	struct built b;
	uint8_t st = 0;

	for (size_t i = 0; i < 3; i++) {
		start(&b);
		proto_write_ready(&b.w, statuses[i]);
		finish(&b, PROTO_BE_READY);
		cr_assert_eq(b.w.len, 6);
		cr_assert(proto_parse_ready(b.f.body, b.f.body_len, &st));
		cr_assert_eq(st, statuses[i]);
	}
	cr_assert_not(proto_parse_ready(bad, 1, &st), "unknown status");
	cr_assert_not(proto_parse_ready(bad + 1, 0, &st), "empty");
	cr_assert_not(proto_parse_ready(bad, 2, &st), "too long");
}

Test(msg, query_sync_terminate)
{
	const uint8_t q[] = {'Q', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0};
	const uint8_t s[] = {'S', 0, 0, 0, 4};
	const uint8_t x[] = {'X', 0, 0, 0, 4};
	struct built b;

	start(&b);
	proto_write_query(&b.w, "SELECT 1");
	finish(&b, PROTO_FE_QUERY);
	cr_assert_eq(b.w.len, sizeof(q));
	cr_assert_arr_eq(b.buf, q, sizeof(q));

	start(&b);
	proto_write_sync(&b.w);
	finish(&b, PROTO_FE_SYNC);
	cr_assert_arr_eq(b.buf, s, sizeof(s));

	start(&b);
	proto_write_terminate(&b.w);
	finish(&b, PROTO_FE_TERMINATE);
	cr_assert_arr_eq(b.buf, x, sizeof(x));
}

Test(msg, password)
{
	const uint8_t two_strings[] = {'a', 0, 'b', 0};
	const uint8_t unterminated[] = {'a', 'b'};
	struct built b;
	const char *pw = NULL;

	start(&b);
	proto_write_password(&b.w, "md5bb41a296aab6baccb36ff243a562abff");
	finish(&b, PROTO_FE_PASSWORD);
	cr_assert(proto_parse_password(b.f.body, b.f.body_len, &pw));
	cr_assert_str_eq(pw, "md5bb41a296aab6baccb36ff243a562abff");
	cr_assert_not(proto_parse_password(two_strings, sizeof(two_strings), &pw));
	cr_assert_not(proto_parse_password(unterminated, sizeof(unterminated), &pw));
	cr_assert_not(proto_parse_password(unterminated, 0, &pw));
}

Test(msg, sasl_initial)
{
	const char first[] = "n,,n=,r=rOprNGfwEbeRWgbNEkqO";
	struct built b;
	const char *mech;
	const uint8_t *data;
	size_t n;

	start(&b);
	proto_write_sasl_initial(&b.w, PROTO_SCRAM_MECHANISM, first, strlen(first));
	finish(&b, PROTO_FE_PASSWORD);
	cr_assert_eq(b.f.body_len, sizeof(PROTO_SCRAM_MECHANISM) + 4 + strlen(first));
	cr_assert(proto_parse_sasl_initial(b.f.body, b.f.body_len, &mech, &data, &n));
	cr_assert_str_eq(mech, "SCRAM-SHA-256");
	cr_assert_eq(n, strlen(first));
	cr_assert_eq(memcmp(data, first, n), 0);
	for (size_t k = 0; k < b.f.body_len; k++)
		cr_assert_not(proto_parse_sasl_initial(b.f.body, k, &mech, &data, &n), "cut %zu",
		              k);
}

Test(msg, sasl_initial_lengths)
{
	uint8_t body[32] = "SCRAM-SHA-256";
	const size_t at = sizeof("SCRAM-SHA-256");
	const char *mech;
	const uint8_t *data;
	size_t n = 99;

	proto_put_be32(body + at, UINT32_MAX); /* -1: no data */
	cr_assert(proto_parse_sasl_initial(body, at + 4, &mech, &data, &n));
	cr_assert_null(data);
	cr_assert_eq(n, 0);
	cr_assert_not(proto_parse_sasl_initial(body, at + 5, &mech, &data, &n), "-1 then bytes");

	proto_put_be32(body + at, (uint32_t)-2);
	cr_assert_not(proto_parse_sasl_initial(body, at + 4, &mech, &data, &n));

	proto_put_be32(body + at, 3);
	memcpy(body + at + 4, "abcd", 4);
	cr_assert(proto_parse_sasl_initial(body, at + 7, &mech, &data, &n));
	cr_assert_eq(n, 3);
	cr_assert_not(proto_parse_sasl_initial(body, at + 6, &mech, &data, &n), "short data");
	cr_assert_not(proto_parse_sasl_initial(body, at + 8, &mech, &data, &n), "extra data");
	proto_put_be32(body + at, INT32_MAX);
	cr_assert_not(proto_parse_sasl_initial(body, at + 8, &mech, &data, &n), "huge length");
	cr_assert_not(proto_parse_sasl_initial(body, 5, &mech, &data, &n), "no mechanism NUL");
}

Test(msg, sasl_response)
{
	const char fin[] = "c=biws,r=abc,p=xyz=";
	struct built b;

	start(&b);
	proto_write_sasl_response(&b.w, fin, strlen(fin));
	finish(&b, PROTO_FE_PASSWORD);
	cr_assert_eq(b.f.body_len, strlen(fin));
	cr_assert_eq(memcmp(b.f.body, fin, strlen(fin)), 0);
}

Test(msg, run_of_messages)
{
	struct built b;
	struct proto_frame f;
	size_t off = 0;
	const uint8_t types[] = {PROTO_BE_AUTH, PROTO_BE_PARAM_STATUS, PROTO_BE_KEY_DATA,
	                         PROTO_BE_READY};

	start(&b);
	proto_write_auth(&b.w, PROTO_AUTH_OK, NULL, 0);
	proto_write_param_status(&b.w, "server_version", "16.0");
	proto_write_key_data(&b.w, 1, 2);
	proto_write_ready(&b.w, PROTO_TX_IDLE);
	cr_assert(proto_writer_ok(&b.w));
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(proto_frame_next(b.buf + off, b.w.len - off, MAX, &f), PROTO_FRAME_OK);
		cr_assert_eq(f.type, types[i]);
		off += f.size;
	}
	cr_assert_eq(off, b.w.len);
}

/* tests/unit/test_startup.c — protocol/startup: StartupMessage, SSLRequest, GSSENCRequest and
 * CancelRequest parsed from raw bytes, every truncation, limits, and the builders. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "protocol/buf.h"
#include "protocol/frame.h"
#include "protocol/startup.h"

/* A startup packet from `code` and a body of NUL-separated pairs (given with its length,
 * since it holds NULs); returns the total length. */
static size_t packet(uint8_t *out, size_t cap, uint32_t code, const char *body, size_t n)
{
	cr_assert(8 + n <= cap);
	proto_put_be32(out, (uint32_t)(8 + n));
	proto_put_be32(out + 4, code);
	memcpy(out + 8, body, n);
	return 8 + n;
}

#define PACKET(buf, code, lit) packet(buf, sizeof(buf), code, lit, sizeof(lit) - 1)

static const uint8_t v3_raw[] = {0,   0,   0,   55,  0,   3,   0,   0, /* length 55, version 3.0 */
                                 'u', 's', 'e', 'r', 0,   'a', 'l', 'i', 'c', 'e', 0,   'd',
                                 'a', 't', 'a', 'b', 'a', 's', 'e', 0,   'a', 'p', 'p', 0,
                                 'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o', 'n', '_',
                                 'n', 'a', 'm', 'e', 0,   'p', 's', 'q', 'l', 0,   0};

Test(startup, v3_valid)
{
	struct proto_startup s;

	cr_assert_eq(sizeof(v3_raw), 55);
	cr_assert(proto_startup_parse(v3_raw, sizeof(v3_raw), &s));
	cr_assert_eq(s.kind, PROTO_STARTUP_V3);
	cr_assert_eq(s.code, PROTO_VERSION_3);
	cr_assert_eq(s.nparams, 3);
	cr_assert_str_eq(s.user, "alice");
	cr_assert_str_eq(s.database, "app");
	cr_assert_str_eq(s.params[2].name, "application_name");
	cr_assert_str_eq(s.params[2].value, "psql");
	cr_assert_str_eq(proto_startup_get(&s, "application_name"), "psql");
	cr_assert_str_eq(proto_startup_get(&s, "user"), "alice");
	cr_assert_null(proto_startup_get(&s, "client_encoding"));
	cr_assert((const uint8_t *)s.user > v3_raw && (const uint8_t *)s.user < v3_raw + 55,
	          "borrowed from the packet");
}

Test(startup, v3_minor_version_is_v3)
{
	uint8_t b[64];
	struct proto_startup s;
	size_t n = PACKET(b, PROTO_VERSION_3 | 2, "user\0bob\0\0");

	cr_assert(proto_startup_parse(b, n, &s));
	cr_assert_eq(s.kind, PROTO_STARTUP_V3);
	cr_assert_eq(s.code, (uint32_t)(PROTO_VERSION_3 | 2));
}

Test(startup, database_defaults_to_user)
{
	uint8_t b[64];
	struct proto_startup s;
	size_t n = PACKET(b, PROTO_VERSION_3, "user\0bob\0\0");

	cr_assert(proto_startup_parse(b, n, &s));
	cr_assert_str_eq(s.database, "bob");
	cr_assert_eq(s.nparams, 1);

	n = PACKET(b, PROTO_VERSION_3, "database\0\0user\0bob\0\0");
	cr_assert(proto_startup_parse(b, n, &s));
	cr_assert_str_eq(s.database, "bob", "an empty database is the user's");
}

Test(startup, missing_or_empty_user)
{
	uint8_t b[64];
	struct proto_startup s;
	size_t n;

	n = PACKET(b, PROTO_VERSION_3, "database\0app\0\0");
	cr_assert_not(proto_startup_parse(b, n, &s));
	n = PACKET(b, PROTO_VERSION_3, "user\0\0\0");
	cr_assert_not(proto_startup_parse(b, n, &s));
	n = PACKET(b, PROTO_VERSION_3, "\0");
	cr_assert_not(proto_startup_parse(b, n, &s), "just the terminator");
	cr_assert_eq(s.nparams, 0);
	cr_assert_null(s.user);
}

Test(startup, terminator_rules)
{
	uint8_t b[64];
	struct proto_startup s;
	size_t n;

	n = PACKET(b, PROTO_VERSION_3, "user\0bob");
	cr_assert_not(proto_startup_parse(b, n, &s), "value without NUL");
	n = PACKET(b, PROTO_VERSION_3, "user\0bob\0\0");
	b[n - 1] = 'x';
	cr_assert_not(proto_startup_parse(b, n, &s), "no final NUL");
	n = PACKET(b, PROTO_VERSION_3, "user\0bob\0\0x");
	cr_assert_not(proto_startup_parse(b, n, &s), "bytes after the terminator");
	n = PACKET(b, PROTO_VERSION_3, "user\0bob\0\0\0");
	cr_assert_not(proto_startup_parse(b, n, &s), "two terminators");
	n = PACKET(b, PROTO_VERSION_3, "user\0bob\0options\0");
	cr_assert_not(proto_startup_parse(b, n, &s), "a name without a value");
	cr_assert_eq(s.nparams, 0, "nothing kept on failure");
}

Test(startup, name_lengths)
{
	char body[200];
	uint8_t b[256];
	struct proto_startup s;
	size_t n;
	char name[PROTO_NAMEDATALEN + 1];

	memset(name, 'u', PROTO_NAMEDATALEN);
	name[PROTO_NAMEDATALEN - 1] = '\0'; /* 63 bytes: the longest allowed */
	n = (size_t)snprintf(body, sizeof(body), "user%c%s%c", 0, name, 0) + 1;
	cr_assert(proto_startup_parse(b, packet(b, sizeof(b), PROTO_VERSION_3, body, n), &s));
	cr_assert_eq(strlen(s.user), 63);

	name[PROTO_NAMEDATALEN - 1] = 'u';
	name[PROTO_NAMEDATALEN] = '\0'; /* 64 bytes */
	n = (size_t)snprintf(body, sizeof(body), "user%c%s%c", 0, name, 0) + 1;
	cr_assert_not(proto_startup_parse(b, packet(b, sizeof(b), PROTO_VERSION_3, body, n), &s));
	n = (size_t)snprintf(body, sizeof(body), "user%cbob%cdatabase%c%s%c", 0, 0, 0, name, 0) + 1;
	cr_assert_not(proto_startup_parse(b, packet(b, sizeof(b), PROTO_VERSION_3, body, n), &s));
}

/* A v3 packet with user plus `extra` more parameters p0..pN. */
static size_t many_params(uint8_t *b, size_t cap, size_t extra)
{
	char body[2048];
	size_t n = 0;

	memcpy(body, "user\0bob\0", 9);
	n = 9;
	for (size_t i = 0; i < extra; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "p%zu%cv%c", i, 0, 0);
	body[n++] = '\0';
	return packet(b, cap, PROTO_VERSION_3, body, n);
}

Test(startup, too_many_params)
{
	uint8_t b[4096];
	struct proto_startup s;

	cr_assert(proto_startup_parse(b, many_params(b, sizeof(b), PROTO_STARTUP_MAX_PARAMS - 1),
	                              &s));
	cr_assert_eq(s.nparams, PROTO_STARTUP_MAX_PARAMS);
	cr_assert_str_eq(proto_startup_get(&s, "p62"), "v");
	cr_assert_not(
	        proto_startup_parse(b, many_params(b, sizeof(b), PROTO_STARTUP_MAX_PARAMS), &s));
}

Test(startup, duplicate_parameter)
{
	uint8_t b[64];
	struct proto_startup s;
	size_t n;

	n = PACKET(b, PROTO_VERSION_3, "user\0bob\0user\0root\0\0");
	cr_assert_not(proto_startup_parse(b, n, &s));
	n = PACKET(b, PROTO_VERSION_3, "user\0bob\0TimeZone\0UTC\0TimeZone\0CET\0\0");
	cr_assert_not(proto_startup_parse(b, n, &s));
}

Test(startup, ssl_and_gssenc)
{
	uint8_t b[16];
	struct proto_startup s;

	cr_assert(proto_startup_parse(b, PACKET(b, PROTO_SSL_REQUEST_CODE, ""), &s));
	cr_assert_eq(s.kind, PROTO_STARTUP_SSL);
	cr_assert_eq(s.code, 80877103u);
	cr_assert(proto_startup_parse(b, PACKET(b, PROTO_GSSENC_REQUEST_CODE, ""), &s));
	cr_assert_eq(s.kind, PROTO_STARTUP_GSSENC);
	cr_assert_eq(s.code, 80877104u);
	cr_assert_not(proto_startup_parse(b, PACKET(b, PROTO_SSL_REQUEST_CODE, "\0\0\0\0"), &s));
	cr_assert_not(proto_startup_parse(b, PACKET(b, PROTO_GSSENC_REQUEST_CODE, "\0"), &s));
}

Test(startup, cancel)
{
	const uint8_t raw[] = {0, 0, 0,    16,   0x04, 0xd2, 0x16, 0x2e,
	                       0, 0, 0x30, 0x39, 0xde, 0xad, 0xbe, 0xef};
	struct proto_startup s;

	cr_assert(proto_startup_parse(raw, sizeof(raw), &s));
	cr_assert_eq(s.kind, PROTO_STARTUP_CANCEL);
	cr_assert_eq(s.code, 80877102u);
	cr_assert_eq(s.cancel_pid, 12345);
	cr_assert_eq(s.cancel_key, (int32_t)0xdeadbeef);
}

Test(startup, cancel_wrong_length)
{
	uint8_t b[32];
	struct proto_startup s;

	cr_assert_not(proto_startup_parse(b, PACKET(b, PROTO_CANCEL_REQUEST_CODE, "\0\0\0\1"), &s));
	cr_assert_not(proto_startup_parse(
	        b, PACKET(b, PROTO_CANCEL_REQUEST_CODE, "\0\0\0\1\0\0\0\2\0\0\0\3"), &s));
	cr_assert_not(proto_startup_parse(b, PACKET(b, PROTO_CANCEL_REQUEST_CODE, ""), &s));
}

Test(startup, unsupported_versions)
{
	const uint32_t codes[] = {2 << 16, 4 << 16, (1234u << 16) | 5681, 0, UINT32_MAX};
	uint8_t b[64];
	struct proto_startup s;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		cr_assert(proto_startup_parse(b, PACKET(b, codes[i], "user\0bob\0\0"), &s));
		cr_assert_eq(s.kind, PROTO_STARTUP_UNSUPPORTED, "code %u", codes[i]);
		cr_assert_eq(s.code, codes[i]);
		cr_assert_eq(s.nparams, 0);
		cr_assert_null(s.user);
	}
}

Test(startup, length_field_must_match)
{
	uint8_t b[64];
	struct proto_startup s;

	memcpy(b, v3_raw, sizeof(v3_raw));
	b[3] = 57;
	cr_assert_not(proto_startup_parse(b, sizeof(v3_raw), &s));
	cr_assert_not(proto_startup_parse(b, 7, &s));
	cr_assert_not(proto_startup_parse(NULL, 0, &s));
}

Test(startup, every_truncation)
{
	uint8_t b[sizeof(v3_raw)];
	struct proto_startup s;
	struct proto_frame f;

	for (size_t k = 0; k < sizeof(v3_raw); k++) {
		cr_assert_eq(proto_startup_frame(v3_raw, k, PROTO_MAX_STARTUP_LEN, &f),
		             PROTO_FRAME_NEED_MORE, "cut at %zu", k);
		cr_assert_not(proto_startup_parse(v3_raw, k, &s), "cut at %zu", k);
		if (k < 8)
			continue;
		/* the same bytes as a packet of their own: the terminator is missing */
		memcpy(b, v3_raw, k);
		proto_put_be32(b, (uint32_t)k);
		cr_assert_not(proto_startup_parse(b, k, &s), "packet of the first %zu bytes", k);
	}
	cr_assert_eq(proto_startup_frame(v3_raw, sizeof(v3_raw), PROTO_MAX_STARTUP_LEN, &f),
	             PROTO_FRAME_OK);
	cr_assert(proto_startup_parse(v3_raw, f.size, &s));
}

Test(startup, write_startup_round_trip)
{
	const struct proto_startup_param extra[] = {
	        {"application_name", "psql"}, {"user", "mallory"}, {"client_encoding", "UTF8"}};
	uint8_t buf[256];
	struct proto_writer w;
	struct proto_frame f;
	struct proto_startup s;

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_startup(&w, "alice", "app", extra, 3);
	cr_assert(proto_writer_ok(&w));
	cr_assert_eq(proto_startup_frame(buf, w.len, PROTO_MAX_STARTUP_LEN, &f), PROTO_FRAME_OK);
	cr_assert_eq(f.size, w.len);
	cr_assert(proto_startup_parse(buf, f.size, &s));
	cr_assert_eq(s.kind, PROTO_STARTUP_V3);
	cr_assert_str_eq(s.user, "alice", "an extra named user is never sent");
	cr_assert_str_eq(s.database, "app");
	cr_assert_eq(s.nparams, 4);
	cr_assert_str_eq(proto_startup_get(&s, "client_encoding"), "UTF8");

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_startup(&w, "alice", NULL, NULL, 0);
	cr_assert(proto_writer_ok(&w));
	cr_assert_eq(w.len, 8 + sizeof("user\0alice\0"));
	cr_assert(proto_startup_parse(buf, w.len, &s));
	cr_assert_eq(s.nparams, 1);
	cr_assert_str_eq(s.database, "alice");
}

Test(startup, write_startup_exact_bytes)
{
	uint8_t buf[128];
	struct proto_writer w;
	const struct proto_startup_param extra[] = {{"application_name", "psql"}};

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_startup(&w, "alice", "app", extra, 1);
	cr_assert(proto_writer_ok(&w));
	cr_assert_eq(w.len, sizeof(v3_raw));
	cr_assert_arr_eq(buf, v3_raw, sizeof(v3_raw));
}

Test(startup, write_startup_too_small)
{
	uint8_t buf[20];
	struct proto_writer w;

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_startup(&w, "alice", "app", NULL, 0);
	cr_assert_not(proto_writer_ok(&w));
}

Test(startup, write_ssl_and_cancel)
{
	const uint8_t ssl[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
	const uint8_t cancel[] = {0,    0,    0,    16,   0x04, 0xd2, 0x16, 0x2e,
	                          0x7f, 0xff, 0xff, 0xff, 0x80, 0,    0,    1};
	uint8_t buf[64];
	struct proto_writer w;
	struct proto_startup s;

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_ssl_request(&w);
	cr_assert(proto_writer_ok(&w));
	cr_assert_eq(w.len, 8);
	cr_assert_arr_eq(buf, ssl, 8);

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_cancel_request(&w, INT32_MAX, (int32_t)0x80000001);
	cr_assert(proto_writer_ok(&w));
	cr_assert_eq(w.len, 16);
	cr_assert_arr_eq(buf, cancel, 16);
	cr_assert(proto_startup_parse(buf, w.len, &s));
	cr_assert_eq(s.cancel_pid, INT32_MAX);
	cr_assert_eq(s.cancel_key, (int32_t)0x80000001);
}

/* `options` as PostgreSQL splits it: -c name=value (one or two words), --name=value, a
 * backslash escaping the next character; anything else is refused with the offending word. */
Test(startup, options_split)
{
	static const struct {
		const char *opts;
		int n;
		const char *pairs; /* "name=value;name=value" */
		const char *bad;
	} cases[] = {
	        {"", 0, "", NULL},
	        {"   ", 0, "", NULL},
	        {"-c search_path=x", 1, "search_path=x", NULL},
	        {"-csearch_path=x -c work_mem=5MB", 2, "search_path=x;work_mem=5MB", NULL},
	        {"--work-mem=5MB", 1, "work_mem=5MB", NULL},
	        {"-c search_path=a,\\ b", 1, "search_path=a, b", NULL},
	        {"-c a.b=x\\\\y", 1, "a.b=x\\y", NULL},
	        {"\t-c\tx=1\n", 1, "x=1", NULL},
	        {"-c x=", 1, "x=", NULL},
	        {"-e", -1, NULL, "-e"},
	        {"-c x=1 -B 100", -1, NULL, "-B"},
	        {"-c", -1, NULL, "-c"},
	        {"-c noequals", -1, NULL, "noequals"},
	        {"-c =1", -1, NULL, "=1"},
	        {"search_path=x", -1, NULL, "search_path=x"},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char buf[128], bad[32] = "", got[256] = "";
		struct proto_option o[4];
		int n = proto_startup_options(cases[k].opts, buf, o, 4, bad, sizeof(bad));
		cr_assert_eq(n, cases[k].n, "case %zu `%s`: %d", k, cases[k].opts, n);
		if (n < 0) {
			cr_assert_str_eq(bad, cases[k].bad, "case %zu", k);
			continue;
		}
		size_t len = 0;
		for (int i = 0; i < n; i++)
			len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%s=%s",
			                        i ? ";" : "", o[i].name, o[i].value);
		cr_assert_str_eq(got, cases[k].pairs, "case %zu", k);
	}
	char buf[64], bad[8];
	struct proto_option o[2];
	cr_assert_eq(proto_startup_options("-c a=1 -c b=2 -c c=3", buf, o, 2, bad, sizeof(bad)),
	             -2);
}

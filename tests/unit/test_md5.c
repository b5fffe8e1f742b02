/* tests/unit/test_md5.c — protocol/md5: stored secrets and salted responses against values
 * computed with Python's hashlib, verification, and refusals. */
#include <criterion/criterion.h>
#include <string.h>

#include "protocol/md5.h"

/* python3 -c 'import hashlib; print("md5" + hashlib.md5(b"secret" b"postgres").hexdigest())' */
#define PG_SECRET "md553f48b7c4b76a86ce72276c5755f217d"
/* "md5" + md5(PG_SECRET[3:] + salt) for salt 01 02 03 04 and de ad be ef */
#define PG_RESPONSE_1234     "md5bb41a296aab6baccb36ff243a562abff"
#define PG_RESPONSE_DEADBEEF "md5c546d0bbed2af888b328536b45c76348"

static const uint8_t salt_1234[4] = {1, 2, 3, 4};
static const uint8_t salt_deadbeef[4] = {0xde, 0xad, 0xbe, 0xef};

Test(md5, secret_known_value)
{
	char out[PROTO_MD5_SECRET_LEN + 1];

	proto_md5_secret("secret", "postgres", out);
	cr_assert_str_eq(out, PG_SECRET);
	proto_md5_secret("secret", "postgre", out);
	cr_assert_str_neq(out, PG_SECRET, "the user is part of the secret");
	cr_assert(proto_md5_is_secret(out));
}

Test(md5, response_known_values)
{
	char out[PROTO_MD5_SECRET_LEN + 1];

	cr_assert(proto_md5_response(PG_SECRET, salt_1234, out));
	cr_assert_str_eq(out, PG_RESPONSE_1234);
	cr_assert(proto_md5_response(PG_SECRET, salt_deadbeef, out));
	cr_assert_str_eq(out, PG_RESPONSE_DEADBEEF);
}

Test(md5, response_needs_a_secret)
{
	char out[PROTO_MD5_SECRET_LEN + 1] = "junk";

	cr_assert_not(proto_md5_response("secret", salt_1234, out), "a plain password");
	cr_assert_str_eq(out, "");
	cr_assert_not(proto_md5_response(NULL, salt_1234, out));
}

Test(md5, is_secret)
{
	static const char *const bad[] = {
	        "",
	        "md5",
	        "md553f48b7c4b76a86ce72276c5755f217",   /* 31 digits */
	        "md553f48b7c4b76a86ce72276c5755f217d0", /* 33 digits */
	        "md553F48B7C4B76A86CE72276C5755F217D",  /* uppercase */
	        "md553f48b7c4b76a86ce72276c5755f217g",
	        "MD553f48b7c4b76a86ce72276c5755f217d",
	        "xx553f48b7c4b76a86ce72276c5755f217d",
	        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$x:y",
	};

	cr_assert(proto_md5_is_secret(PG_SECRET));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(proto_md5_is_secret(bad[i]), "\"%s\"", bad[i]);
	cr_assert_not(proto_md5_is_secret(NULL));
}

Test(md5, verify)
{
	char wrong[] = PG_RESPONSE_1234;

	cr_assert(proto_md5_verify(PG_SECRET, salt_1234, PG_RESPONSE_1234));
	cr_assert(proto_md5_verify(PG_SECRET, salt_deadbeef, PG_RESPONSE_DEADBEEF));
	cr_assert_not(proto_md5_verify(PG_SECRET, salt_deadbeef, PG_RESPONSE_1234), "wrong salt");
	wrong[PROTO_MD5_SECRET_LEN - 1] = 'e';
	cr_assert_not(proto_md5_verify(PG_SECRET, salt_1234, wrong), "last digit changed");
	wrong[PROTO_MD5_SECRET_LEN - 1] = '\0';
	cr_assert_not(proto_md5_verify(PG_SECRET, salt_1234, wrong), "truncated");
	cr_assert_not(proto_md5_verify(PG_SECRET, salt_1234, PG_RESPONSE_1234 "f"), "longer");
	cr_assert_not(proto_md5_verify(PG_SECRET, salt_1234, ""));
	cr_assert_not(proto_md5_verify(PG_SECRET, salt_1234, NULL));
	cr_assert_not(proto_md5_verify("secret", salt_1234, PG_RESPONSE_1234), "not a secret");
	cr_assert_not(proto_md5_verify(PG_SECRET, salt_1234, PG_SECRET),
	              "the stored secret itself is not a response");
}

Test(md5, client_and_server_agree)
{
	char secret[PROTO_MD5_SECRET_LEN + 1], response[PROTO_MD5_SECRET_LEN + 1];
	const uint8_t salt[4] = {0, 0, 0, 0};

	proto_md5_secret("correct horse", "alice", secret);
	cr_assert(proto_md5_response(secret, salt, response));
	cr_assert(proto_md5_verify(secret, salt, response));
	proto_md5_secret("correct horse!", "alice", secret);
	cr_assert_not(proto_md5_verify(secret, salt, response), "another password");
}

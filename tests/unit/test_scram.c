/* tests/unit/test_scram.c — protocol/scram: base64, stored secrets, the RFC 7677 vector on
 * both sides, PostgreSQL's empty "n=", round trips, pass-through keys, and refusals. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "protocol/scram.h"

/* RFC 7677 section 3. Note: the RFC's client-first is "n,,n=user,..."; PostgreSQL's libpq
 * sends "n,,n=,..." (the user comes from the startup packet), which changes the AuthMessage
 * and so the proof and signature: both are checked below. */
#define RFC_PASSWORD       "pencil"
#define RFC_CNONCE         "rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE         "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SALT           "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_CLIENT_FIRST   "n,,n=user,r=" RFC_CNONCE
#define RFC_SERVER_FIRST   "r=" RFC_CNONCE RFC_SNONCE ",s=" RFC_SALT ",i=4096"
#define RFC_FINAL_NO_PROOF "c=biws,r=" RFC_CNONCE RFC_SNONCE
#define RFC_PROOF          "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_CLIENT_FINAL   RFC_FINAL_NO_PROOF ",p=" RFC_PROOF
#define RFC_SERVER_FINAL   "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
/* Computed independently with Python's hashlib/hmac. */
#define RFC_STORED_KEY "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
#define RFC_SERVER_KEY "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define RFC_CLIENT_KEY "pg/JI9Z+hkSpLRa5btpe9GVrDHJcSEN0viVTVXaZbos="
#define RFC_SECRET     "SCRAM-SHA-256$4096:" RFC_SALT "$" RFC_STORED_KEY ":" RFC_SERVER_KEY
/* The same exchange with PostgreSQL's empty user name. */
#define PG_CLIENT_FIRST "n,,n=,r=" RFC_CNONCE
#define PG_PROOF        "qvT2SWdEH5Q06albL+hjSYuUhCG7VndFyzIb7CK4n9k="
#define PG_SERVER_FINAL "v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg="

#define U8(s) ((const uint8_t *)(s))

static void b64(const char *text, uint8_t *out, size_t want)
{
	size_t n;

	cr_assert(proto_base64_decode(text, strlen(text), out, want, &n));
	cr_assert_eq(n, want);
}

static void rfc_secret(struct proto_scram_secret *s)
{
	cr_assert(proto_scram_secret_parse(RFC_SECRET, s));
}

/* ---- base64 ---- */

Test(scram, base64_vectors)
{
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
	                                    "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	char out[16];
	uint8_t back[16];
	size_t n;

	for (size_t i = 0; i < 7; i++) {
		cr_assert_eq(proto_base64_encode(U8(plain[i]), strlen(plain[i]), out, sizeof(out)),
		             strlen(coded[i]));
		cr_assert_str_eq(out, coded[i]);
		cr_assert(proto_base64_decode(coded[i], strlen(coded[i]), back, sizeof(back), &n));
		cr_assert_eq(n, strlen(plain[i]));
		cr_assert_eq(memcmp(back, plain[i], n), 0);
	}
}

Test(scram, base64_strict)
{
	static const char *const bad[] = {
	        "Zg=",    "Zg",    "Zh==", "Zm9=",     "Z===",     "====", "Zm=v",
	        "Zm9v\n", " Zg==", "Zm-_", "Zg==Zg==", "Zm9vY===", "Zm8=="};
	uint8_t out[16];
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(proto_base64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n),
		              "\"%s\" must be refused", bad[i]);
}

Test(scram, base64_capacity)
{
	char out[9];
	uint8_t back[5];
	size_t n;

	cr_assert_eq(proto_base64_encode(U8("foobar"), 6, out, 8), 0, "no room for the NUL");
	cr_assert_eq(proto_base64_encode(U8("foobar"), 6, out, 9), 8);
	cr_assert_not(proto_base64_decode("Zm9vYmFy", 8, back, 5, &n));
	cr_assert(proto_base64_decode("Zm9vYmE=", 8, back, 5, &n));
	cr_assert_eq(n, 5);
}

/* ---- secrets ---- */

Test(scram, secret_from_password_matches_rfc)
{
	struct proto_scram_secret parsed, derived;
	uint8_t salt[16];

	rfc_secret(&parsed);
	cr_assert_eq(parsed.iterations, 4096);
	cr_assert_eq(parsed.salt_len, 16);
	b64(RFC_SALT, salt, 16);
	cr_assert(proto_scram_secret_from_password(RFC_PASSWORD, salt, 16, 4096, &derived));
	cr_assert_eq(derived.iterations, 4096);
	cr_assert_eq(derived.salt_len, 16);
	cr_assert_arr_eq(derived.salt, salt, 16);
	cr_assert_arr_eq(derived.stored_key, parsed.stored_key, 32);
	cr_assert_arr_eq(derived.server_key, parsed.server_key, 32);
}

Test(scram, secret_string_round_trip)
{
	struct proto_scram_secret s, again;
	const uint8_t salt[] = "0123456789abcdef0123";
	char text[256];
	size_t n;

	rfc_secret(&s);
	n = proto_scram_secret_format(&s, text, sizeof(text));
	cr_assert_eq(n, strlen(RFC_SECRET));
	cr_assert_str_eq(text, RFC_SECRET);
	cr_assert_eq(proto_scram_secret_format(&s, text, n), 0, "no room for the NUL");

	cr_assert(proto_scram_secret_from_password("hunter2", salt, 20, 1, &s));
	n = proto_scram_secret_format(&s, text, sizeof(text));
	cr_assert_neq(n, 0);
	cr_assert(proto_scram_secret_parse(text, &again));
	cr_assert_eq(memcmp(&s, &again, sizeof(s)), 0);
}

Test(scram, secret_malformed)
{
	static const char *const bad[] = {
	        "",
	        "md5" RFC_STORED_KEY,
	        "SCRAM-SHA-1$4096:" RFC_SALT "$" RFC_STORED_KEY ":" RFC_SERVER_KEY,
	        "SCRAM-SHA-256$0:" RFC_SALT "$" RFC_STORED_KEY ":" RFC_SERVER_KEY,
	        "SCRAM-SHA-256$-1:" RFC_SALT "$" RFC_STORED_KEY ":" RFC_SERVER_KEY,
	        "SCRAM-SHA-256$4096x:" RFC_SALT "$" RFC_STORED_KEY ":" RFC_SERVER_KEY,
	        "SCRAM-SHA-256$99999999999:" RFC_SALT "$" RFC_STORED_KEY ":" RFC_SERVER_KEY,
	        "SCRAM-SHA-256$:" RFC_SALT "$" RFC_STORED_KEY ":" RFC_SERVER_KEY,
	        "SCRAM-SHA-256$4096:$" RFC_STORED_KEY ":" RFC_SERVER_KEY,
	        "SCRAM-SHA-256$4096:" RFC_SALT "$" RFC_STORED_KEY,
	        "SCRAM-SHA-256$4096:" RFC_SALT "$" RFC_STORED_KEY ":",
	        "SCRAM-SHA-256$4096:" RFC_SALT "$" RFC_STORED_KEY ":" RFC_SERVER_KEY "x",
	        "SCRAM-SHA-256$4096:" RFC_SALT "$" RFC_STORED_KEY ":" RFC_SERVER_KEY ":",
	        "SCRAM-SHA-256$4096:" RFC_SALT "$" RFC_SALT ":" RFC_SERVER_KEY, /* 16-byte key */
	        "SCRAM-SHA-256$4096:" RFC_SALT ":" RFC_STORED_KEY ":" RFC_SERVER_KEY,
	        "SCRAM-SHA-256$4096:" RFC_SALT "$" RFC_STORED_KEY "$" RFC_SERVER_KEY,
	        " SCRAM-SHA-256$4096:" RFC_SALT "$" RFC_STORED_KEY ":" RFC_SERVER_KEY,
	};
	struct proto_scram_secret s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(proto_scram_secret_parse(bad[i], &s), "\"%s\"", bad[i]);
	cr_assert_not(proto_scram_secret_parse(NULL, &s));
}

Test(scram, secret_from_password_limits)
{
	struct proto_scram_secret s;
	uint8_t salt[PROTO_SCRAM_MAX_SALT + 1] = {1};

	cr_assert_not(proto_scram_secret_from_password("pw", salt, 0, 4096, &s));
	cr_assert_not(proto_scram_secret_from_password("pw", salt, sizeof(salt), 4096, &s));
	cr_assert_not(proto_scram_secret_from_password("pw", salt, 16, 0, &s));
	cr_assert(proto_scram_secret_from_password("pw", salt, PROTO_SCRAM_MAX_SALT, 1, &s));
}

/* ---- RFC 7677 vector, both sides ---- */

Test(scram, rfc7677_client)
{
	struct proto_scram_client c;
	char out[PROTO_SCRAM_MAX_MSG + 1];
	size_t n;

	cr_assert(proto_scram_client_init_password(&c, RFC_PASSWORD));
	cr_assert(
	        proto_scram_client_first_with_nonce(&c, "user", RFC_CNONCE, out, sizeof(out), &n));
	cr_assert_str_eq(out, RFC_CLIENT_FIRST);
	cr_assert_eq(n, strlen(RFC_CLIENT_FIRST));
	cr_assert_eq(proto_scram_client_final(&c, U8(RFC_SERVER_FIRST), strlen(RFC_SERVER_FIRST),
	                                      4096, out, sizeof(out), &n),
	             PROTO_SCRAM_OK);
	cr_assert_str_eq(out, RFC_CLIENT_FINAL);
	cr_assert_eq(n, strlen(RFC_CLIENT_FINAL));
	cr_assert_eq(proto_scram_client_verify(&c, U8(RFC_SERVER_FINAL), strlen(RFC_SERVER_FINAL)),
	             PROTO_SCRAM_OK);
}

Test(scram, rfc7677_server)
{
	struct proto_scram_secret secret;
	struct proto_scram_server s;
	uint8_t client_key[32];
	char out[PROTO_SCRAM_MAX_MSG + 1];
	size_t n;

	rfc_secret(&secret);
	cr_assert_eq(proto_scram_server_first_with_nonce(&s, &secret, U8(RFC_CLIENT_FIRST),
	                                                 strlen(RFC_CLIENT_FIRST), RFC_SNONCE, out,
	                                                 sizeof(out), &n),
	             PROTO_SCRAM_OK);
	cr_assert_str_eq(out, RFC_SERVER_FIRST);
	cr_assert_eq(n, strlen(RFC_SERVER_FIRST));
	cr_assert_not(s.have_client_key);
	cr_assert_eq(proto_scram_server_final(&s, U8(RFC_CLIENT_FINAL), strlen(RFC_CLIENT_FINAL),
	                                      out, sizeof(out), &n),
	             PROTO_SCRAM_OK);
	cr_assert_str_eq(out, RFC_SERVER_FINAL);
	cr_assert_eq(n, strlen(RFC_SERVER_FINAL));
	cr_assert(s.have_client_key);
	b64(RFC_CLIENT_KEY, client_key, 32);
	cr_assert_arr_eq(s.client_key, client_key, 32);
}

Test(scram, postgres_empty_user_both_sides)
{
	struct proto_scram_client c;
	struct proto_scram_server s;
	struct proto_scram_secret secret;
	char first[PROTO_SCRAM_MAX_MSG + 1], sfirst[PROTO_SCRAM_MAX_MSG + 1];
	char final[PROTO_SCRAM_MAX_MSG + 1], sfinal[PROTO_SCRAM_MAX_MSG + 1];
	size_t n;

	rfc_secret(&secret);
	cr_assert(proto_scram_client_init_password(&c, RFC_PASSWORD));
	cr_assert(proto_scram_client_first_with_nonce(&c, NULL, RFC_CNONCE, first, sizeof(first),
	                                              &n));
	cr_assert_str_eq(first, PG_CLIENT_FIRST);
	cr_assert_eq(proto_scram_server_first_with_nonce(&s, &secret, U8(first), n, RFC_SNONCE,
	                                                 sfirst, sizeof(sfirst), &n),
	             PROTO_SCRAM_OK);
	cr_assert_str_eq(sfirst, RFC_SERVER_FIRST);
	cr_assert_eq(proto_scram_client_final(&c, U8(sfirst), n, 0, final, sizeof(final), &n),
	             PROTO_SCRAM_OK);
	cr_assert_str_eq(final, RFC_FINAL_NO_PROOF ",p=" PG_PROOF);
	cr_assert_eq(proto_scram_server_final(&s, U8(final), n, sfinal, sizeof(sfinal), &n),
	             PROTO_SCRAM_OK);
	cr_assert_str_eq(sfinal, PG_SERVER_FINAL);
	cr_assert_eq(proto_scram_client_verify(&c, U8(sfinal), n), PROTO_SCRAM_OK);
}

/* ---- round trips ---- */

struct exchange {
	struct proto_scram_client c;
	struct proto_scram_server s;
	char buf[4][PROTO_SCRAM_MAX_MSG + 1];
	size_t len[4];
};

/* Runs client-first, server-first, client-final and returns server-final's result. */
static enum proto_scram_result run(struct exchange *x, const struct proto_scram_secret *secret)
{
	cr_assert(proto_scram_client_first(&x->c, x->buf[0], sizeof(x->buf[0]), &x->len[0]));
	cr_assert_eq(proto_scram_server_first(&x->s, secret, U8(x->buf[0]), x->len[0], x->buf[1],
	                                      sizeof(x->buf[1]), &x->len[1]),
	             PROTO_SCRAM_OK);
	cr_assert_eq(proto_scram_client_final(&x->c, U8(x->buf[1]), x->len[1], 0, x->buf[2],
	                                      sizeof(x->buf[2]), &x->len[2]),
	             PROTO_SCRAM_OK);
	return proto_scram_server_final(&x->s, U8(x->buf[2]), x->len[2], x->buf[3],
	                                sizeof(x->buf[3]), &x->len[3]);
}

Test(scram, round_trip_random_nonces)
{
	struct exchange x;
	struct proto_scram_secret secret;
	char first_nonce[64];

	rfc_secret(&secret);
	cr_assert(proto_scram_client_init_password(&x.c, RFC_PASSWORD));
	cr_assert_eq(run(&x, &secret), PROTO_SCRAM_OK);
	cr_assert_eq(strncmp(x.buf[0], "n,,n=,r=", 8), 0);
	cr_assert_eq(x.len[0], 8 + 24, "a 24-character nonce");
	cr_assert_eq(strlen(x.s.nonce), 48, "client and server nonce");
	cr_assert_eq(proto_scram_client_verify(&x.c, U8(x.buf[3]), x.len[3]), PROTO_SCRAM_OK);
	cr_assert(x.s.have_client_key);

	strcpy(first_nonce, x.c.client_nonce);
	cr_assert(proto_scram_client_init_password(&x.c, RFC_PASSWORD));
	cr_assert_eq(run(&x, &secret), PROTO_SCRAM_OK);
	cr_assert_str_neq(x.c.client_nonce, first_nonce, "nonces are random");
}

Test(scram, pass_through_with_keys)
{
	struct exchange front, back;
	struct proto_scram_secret secret;
	uint8_t client_key[32];

	rfc_secret(&secret);
	/* a client logs in to pglane with its password ... */
	cr_assert(proto_scram_client_init_password(&front.c, RFC_PASSWORD));
	cr_assert_eq(run(&front, &secret), PROTO_SCRAM_OK);
	cr_assert(front.s.have_client_key);
	b64(RFC_CLIENT_KEY, client_key, 32);
	cr_assert_arr_eq(front.s.client_key, client_key, 32);
	/* ... and pglane logs in to PostgreSQL with the recovered ClientKey, no password */
	proto_scram_client_init_keys(&back.c, front.s.client_key, secret.server_key);
	cr_assert_eq(run(&back, &secret), PROTO_SCRAM_OK);
	cr_assert_eq(proto_scram_client_verify(&back.c, U8(back.buf[3]), back.len[3]),
	             PROTO_SCRAM_OK);
}

Test(scram, pass_through_wrong_server_key_fails_verify)
{
	struct exchange x;
	struct proto_scram_secret secret;
	uint8_t client_key[32], wrong[32] = {1};

	rfc_secret(&secret);
	b64(RFC_CLIENT_KEY, client_key, 32);
	proto_scram_client_init_keys(&x.c, client_key, wrong);
	cr_assert_eq(run(&x, &secret), PROTO_SCRAM_OK, "the proof only needs the ClientKey");
	cr_assert_eq(proto_scram_client_verify(&x.c, U8(x.buf[3]), x.len[3]),
	             PROTO_SCRAM_FAIL_PROOF);
}

Test(scram, wrong_password)
{
	struct exchange x;
	struct proto_scram_secret secret;

	rfc_secret(&secret);
	cr_assert(proto_scram_client_init_password(&x.c, "pencil2"));
	cr_assert_eq(run(&x, &secret), PROTO_SCRAM_FAIL_PROOF);
	cr_assert_not(x.s.have_client_key);
	cr_assert_eq(x.len[3], 0);
	cr_assert_eq(proto_scram_server_final(&x.s, U8(x.buf[2]), x.len[2], x.buf[3],
	                                      sizeof(x.buf[3]), &x.len[3]),
	             PROTO_SCRAM_MALFORMED, "one attempt per exchange");
}

Test(scram, tampered_proof_fails)
{
	struct proto_scram_secret secret;
	struct proto_scram_server s;
	char out[PROTO_SCRAM_MAX_MSG + 1], final[] = RFC_CLIENT_FINAL;
	size_t n;

	rfc_secret(&secret);
	final[strlen(final) - 2] = 'U'; /* "...dVQ=" → "...dUQ=": still canonical base64 */
	cr_assert_eq(proto_scram_server_first_with_nonce(&s, &secret, U8(RFC_CLIENT_FIRST),
	                                                 strlen(RFC_CLIENT_FIRST), RFC_SNONCE, out,
	                                                 sizeof(out), &n),
	             PROTO_SCRAM_OK);
	cr_assert_eq(proto_scram_server_final(&s, U8(final), strlen(final), out, sizeof(out), &n),
	             PROTO_SCRAM_FAIL_PROOF);
}

/* ---- server side refusals ---- */

/* server-first on `first`, then (when it is OK) server-final on `final`. */
static enum proto_scram_result server_pair(const char *first, const char *final)
{
	struct proto_scram_secret secret;
	struct proto_scram_server s;
	char out[PROTO_SCRAM_MAX_MSG + 1];
	size_t n;
	enum proto_scram_result r;

	rfc_secret(&secret);
	r = proto_scram_server_first_with_nonce(&s, &secret, U8(first), strlen(first), RFC_SNONCE,
	                                        out, sizeof(out), &n);
	if (r != PROTO_SCRAM_OK || !final)
		return r;
	return proto_scram_server_final(&s, U8(final), strlen(final), out, sizeof(out), &n);
}

Test(scram, server_first_malformed)
{
	static const char *const bad[] = {
	        "",
	        "n,,",
	        "p=tls-server-end-point,,n=,r=abc",
	        "n,a=user,n=,r=abc",
	        "x,,n=,r=abc",
	        "n,n=,r=abc",
	        "n,,r=abc",
	        "n,,n=,r=",
	        "n,,n=,r=abc,x=ext",
	        "n,,n=,r=abc,",
	        "n,,m=ext,n=,r=abc",
	        "n,,n=,s=abc",
	        "n,,n=,r=ab\x01",
	        "n,,n=,r=a b",
	        "n,,n=user",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(server_pair(bad[i], NULL), PROTO_SCRAM_MALFORMED, "\"%s\"", bad[i]);
	cr_assert_eq(server_pair("n,,n=,r=abc", NULL), PROTO_SCRAM_OK);
	cr_assert_eq(server_pair("n,,n=any=2Cthing,r=abc", NULL), PROTO_SCRAM_OK);
}

/* "n,,n=aaa...,r=bbb..." of `total` bytes with a 200-character nonce. */
static size_t long_first(char *buf, size_t total)
{
	size_t user = total - 5 - 3 - 200;

	memcpy(buf, "n,,n=", 5);
	memset(buf + 5, 'a', user);
	memcpy(buf + 5 + user, ",r=", 3);
	memset(buf + 8 + user, 'b', 200);
	return total;
}

Test(scram, server_first_nul_and_size)
{
	struct proto_scram_secret secret;
	struct proto_scram_server s;
	char msg[PROTO_SCRAM_MAX_MSG + 1], out[PROTO_SCRAM_MAX_MSG + 1];
	size_t n, len;

	rfc_secret(&secret);
	cr_assert_eq(proto_scram_server_first_with_nonce(&s, &secret, U8("n,,n=,r=a\0b"), 11,
	                                                 RFC_SNONCE, out, sizeof(out), &n),
	             PROTO_SCRAM_MALFORMED, "a NUL inside");
	len = long_first(msg, PROTO_SCRAM_MAX_MSG);
	cr_assert_eq(proto_scram_server_first_with_nonce(&s, &secret, U8(msg), len, RFC_SNONCE, out,
	                                                 sizeof(out), &n),
	             PROTO_SCRAM_OK, "exactly PROTO_SCRAM_MAX_MSG bytes");
	cr_assert_eq(strlen(s.client_first_bare), PROTO_SCRAM_MAX_MSG - 3);
	len = long_first(msg, PROTO_SCRAM_MAX_MSG + 1);
	cr_assert_eq(proto_scram_server_first_with_nonce(&s, &secret, U8(msg), len, RFC_SNONCE, out,
	                                                 sizeof(out), &n),
	             PROTO_SCRAM_MALFORMED, "longer than PROTO_SCRAM_MAX_MSG");
	cr_assert_eq(proto_scram_server_first_with_nonce(&s, &secret, U8(RFC_CLIENT_FIRST),
	                                                 strlen(RFC_CLIENT_FIRST), RFC_SNONCE, out,
	                                                 10, &n),
	             PROTO_SCRAM_MALFORMED, "output too small");
	cr_assert_eq(n, 0);
}

Test(scram, server_client_nonce_limit)
{
	char first[8 + PROTO_SCRAM_MAX_NONCE + 2] = "n,,n=,r=";

	memset(first + 8, 'c', PROTO_SCRAM_MAX_NONCE);
	cr_assert_eq(server_pair(first, NULL), PROTO_SCRAM_OK, "PROTO_SCRAM_MAX_NONCE");
	first[8 + PROTO_SCRAM_MAX_NONCE] = 'c';
	cr_assert_eq(server_pair(first, NULL), PROTO_SCRAM_MALFORMED, "one more");
}

Test(scram, server_nonce_too_long_refused)
{
	struct proto_scram_secret secret;
	struct proto_scram_server s;
	char nonce[PROTO_SCRAM_MAX_NONCE + 2], out[PROTO_SCRAM_MAX_MSG + 1];
	size_t n;

	rfc_secret(&secret);
	memset(nonce, 'x', sizeof(nonce) - 1);
	nonce[sizeof(nonce) - 1] = '\0';
	cr_assert_eq(proto_scram_server_first_with_nonce(&s, &secret, U8(RFC_CLIENT_FIRST),
	                                                 strlen(RFC_CLIENT_FIRST), nonce, out,
	                                                 sizeof(out), &n),
	             PROTO_SCRAM_MALFORMED);
	nonce[PROTO_SCRAM_MAX_NONCE] = '\0';
	cr_assert_eq(proto_scram_server_first_with_nonce(&s, &secret, U8(RFC_CLIENT_FIRST),
	                                                 strlen(RFC_CLIENT_FIRST), nonce, out,
	                                                 sizeof(out), &n),
	             PROTO_SCRAM_OK);
}

Test(scram, server_final_malformed)
{
	static const char *const bad[] = {
	        "",
	        RFC_FINAL_NO_PROOF,
	        RFC_FINAL_NO_PROOF ",p=",
	        "c=eSws,r=" RFC_CNONCE RFC_SNONCE ",p=" RFC_PROOF,
	        "c=biws,r=" RFC_CNONCE ",p=" RFC_PROOF,
	        "c=biws,r=" RFC_CNONCE RFC_SNONCE "x,p=" RFC_PROOF,
	        RFC_FINAL_NO_PROOF ",x=ext,p=" RFC_PROOF,
	        RFC_CLIENT_FINAL ",x=ext",
	        RFC_CLIENT_FINAL ",",
	        "r=" RFC_CNONCE RFC_SNONCE ",c=biws,p=" RFC_PROOF,
	        RFC_FINAL_NO_PROOF ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",
	        RFC_FINAL_NO_PROOF ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndQ==",
	        RFC_FINAL_NO_PROOF ",p=" RFC_PROOF RFC_PROOF,
	        "c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws,r=" RFC_CNONCE RFC_SNONCE ",p=" RFC_PROOF,
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(server_pair(RFC_CLIENT_FIRST, bad[i]), PROTO_SCRAM_MALFORMED, "\"%s\"",
		             bad[i]);
	cr_assert_eq(server_pair(RFC_CLIENT_FIRST, RFC_CLIENT_FINAL), PROTO_SCRAM_OK);
}

Test(scram, server_final_without_first)
{
	struct proto_scram_server s;
	char out[PROTO_SCRAM_MAX_MSG + 1];
	size_t n;

	memset(&s, 0, sizeof(s));
	cr_assert_eq(proto_scram_server_final(&s, U8(RFC_CLIENT_FINAL), strlen(RFC_CLIENT_FINAL),
	                                      out, sizeof(out), &n),
	             PROTO_SCRAM_MALFORMED);
}

Test(scram, gs2_flag_y_needs_eSws)
{
	/* 'y': the client can bind channels but thinks we cannot (libpq over TLS when only
	 * SCRAM-SHA-256 is offered); c= must then be base64("y,,"). */
	cr_assert_eq(server_pair("y,,n=,r=abc", "c=biws,r=abc" RFC_SNONCE ",p=" RFC_PROOF),
	             PROTO_SCRAM_MALFORMED);
	cr_assert_eq(server_pair("y,,n=,r=abc", "c=eSws,r=abc" RFC_SNONCE ",p=" RFC_PROOF),
	             PROTO_SCRAM_FAIL_PROOF, "well-formed; the proof is for another exchange");
}

/* ---- client side refusals ---- */

/* client-first with the RFC nonce, then client-final on `server_first`. */
static enum proto_scram_result client_pair(const char *server_first, int max_iterations)
{
	struct proto_scram_client c;
	char out[PROTO_SCRAM_MAX_MSG + 1];
	size_t n;

	cr_assert(proto_scram_client_init_password(&c, RFC_PASSWORD));
	cr_assert(proto_scram_client_first_with_nonce(&c, NULL, RFC_CNONCE, out, sizeof(out), &n));
	return proto_scram_client_final(&c, U8(server_first), strlen(server_first), max_iterations,
	                                out, sizeof(out), &n);
}

Test(scram, client_iterations)
{
	cr_assert_eq(client_pair("r=" RFC_CNONCE "x,s=" RFC_SALT ",i=100001", 0),
	             PROTO_SCRAM_MALFORMED, "over PROTO_SCRAM_MAX_ITERATIONS");
	cr_assert_eq(client_pair("r=" RFC_CNONCE "x,s=" RFC_SALT ",i=2147483648", 0),
	             PROTO_SCRAM_MALFORMED);
	cr_assert_eq(client_pair("r=" RFC_CNONCE "x,s=" RFC_SALT ",i=99999999999999999999", 0),
	             PROTO_SCRAM_MALFORMED);
	cr_assert_eq(client_pair("r=" RFC_CNONCE "x,s=" RFC_SALT ",i=4096", 4095),
	             PROTO_SCRAM_MALFORMED, "over the caller's cap");
	cr_assert_eq(client_pair("r=" RFC_CNONCE "x,s=" RFC_SALT ",i=0", 0), PROTO_SCRAM_MALFORMED);
	cr_assert_eq(client_pair("r=" RFC_CNONCE "x,s=" RFC_SALT ",i=-1", 0),
	             PROTO_SCRAM_MALFORMED);
	cr_assert_eq(client_pair("r=" RFC_CNONCE "x,s=" RFC_SALT ",i=", 0), PROTO_SCRAM_MALFORMED);
	cr_assert_eq(client_pair("r=" RFC_CNONCE "x,s=" RFC_SALT ",i=4096", 4096), PROTO_SCRAM_OK);
	cr_assert_eq(client_pair("r=" RFC_CNONCE "x,s=" RFC_SALT ",i=1", 0), PROTO_SCRAM_OK);
}

Test(scram, client_nonce_checks)
{
	char msg[PROTO_SCRAM_MAX_NONCE + 64];
	size_t n;

	cr_assert_eq(client_pair("r=rOprNGfwEbeRWgbNEkqX" RFC_SNONCE ",s=" RFC_SALT ",i=4096", 0),
	             PROTO_SCRAM_MALFORMED, "does not start with our nonce");
	cr_assert_eq(client_pair("r=" RFC_CNONCE ",s=" RFC_SALT ",i=4096", 0),
	             PROTO_SCRAM_MALFORMED, "the server added nothing");
	cr_assert_eq(client_pair("r=rOprNGfwEbeRWgbNEkq,s=" RFC_SALT ",i=4096", 0),
	             PROTO_SCRAM_MALFORMED, "shorter than ours");
	cr_assert_eq(client_pair("r=" RFC_CNONCE "a\x7f,s=" RFC_SALT ",i=4096", 0),
	             PROTO_SCRAM_MALFORMED, "not printable");

	n = (size_t)snprintf(msg, sizeof(msg), "r=%s", RFC_CNONCE);
	memset(msg + n, 'z', PROTO_SCRAM_MAX_NONCE - strlen(RFC_CNONCE));
	n += PROTO_SCRAM_MAX_NONCE - strlen(RFC_CNONCE);
	strcpy(msg + n, ",s=" RFC_SALT ",i=1");
	cr_assert_eq(client_pair(msg, 0), PROTO_SCRAM_OK, "exactly PROTO_SCRAM_MAX_NONCE");
	memmove(msg + n + 1, msg + n, strlen(msg + n) + 1);
	msg[n] = 'z';
	cr_assert_eq(client_pair(msg, 0), PROTO_SCRAM_MALFORMED, "PROTO_SCRAM_MAX_NONCE + 1");
}

Test(scram, client_server_first_malformed)
{
	static const char *const bad[] = {
	        "",
	        "r=" RFC_CNONCE "x,s=" RFC_SALT,
	        "r=" RFC_CNONCE "x,i=4096,s=" RFC_SALT,
	        "s=" RFC_SALT ",r=" RFC_CNONCE "x,i=4096",
	        "m=ext,r=" RFC_CNONCE "x,s=" RFC_SALT ",i=4096",
	        "r=" RFC_CNONCE "x,s=" RFC_SALT ",i=4096,x=ext",
	        "r=" RFC_CNONCE "x,s=" RFC_SALT ",i=4096,",
	        "r=" RFC_CNONCE "x,s=,i=4096",
	        "r=" RFC_CNONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",
	        "r=" RFC_CNONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==\n,i=4096",
	        /* 66 bytes of salt: more than PROTO_SCRAM_MAX_SALT */
	        "r=" RFC_CNONCE
	        "x,s=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	        "AAAAAAAAAAAAAAAAAA,i=4096",
	        "e=other-error",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(client_pair(bad[i], 0), PROTO_SCRAM_MALFORMED, "\"%s\"", bad[i]);
	/* 64 bytes of salt: the most allowed */
	cr_assert_eq(client_pair("r=" RFC_CNONCE "x,s=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,i=1",
	                         0),
	             PROTO_SCRAM_OK);
}

Test(scram, client_order_of_calls)
{
	struct proto_scram_client c;
	char out[PROTO_SCRAM_MAX_MSG + 1];
	size_t n;

	cr_assert(proto_scram_client_init_password(&c, RFC_PASSWORD));
	cr_assert_eq(proto_scram_client_final(&c, U8(RFC_SERVER_FIRST), strlen(RFC_SERVER_FIRST), 0,
	                                      out, sizeof(out), &n),
	             PROTO_SCRAM_MALFORMED, "no client-first yet");
	cr_assert_eq(proto_scram_client_verify(&c, U8(RFC_SERVER_FINAL), strlen(RFC_SERVER_FINAL)),
	             PROTO_SCRAM_MALFORMED, "no client-final yet");
	cr_assert_eq(proto_scram_client_verify(
	                     &c, U8("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), 46),
	             PROTO_SCRAM_MALFORMED, "an all-zero signature does not match the unset one");
	cr_assert(
	        proto_scram_client_first_with_nonce(&c, "user", RFC_CNONCE, out, sizeof(out), &n));
	cr_assert_eq(proto_scram_client_final(&c, U8(RFC_SERVER_FIRST), strlen(RFC_SERVER_FIRST), 0,
	                                      out, sizeof(out), &n),
	             PROTO_SCRAM_OK);
	cr_assert_eq(proto_scram_client_final(&c, U8(RFC_SERVER_FIRST), strlen(RFC_SERVER_FIRST), 0,
	                                      out, sizeof(out), &n),
	             PROTO_SCRAM_MALFORMED, "one client-final per client-first");
}

Test(scram, client_verify_results)
{
	static const char *const results[] = {
	        RFC_SERVER_FINAL,
	        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G8=", /* one bit off */
	        "e=invalid-proof",
	        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4",
	        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,x=ext",
	        ("v=" RFC_SALT), /* a 16-byte signature */
	        "",
	};
	const enum proto_scram_result want[] = {PROTO_SCRAM_OK,         PROTO_SCRAM_FAIL_PROOF,
	                                        PROTO_SCRAM_FAIL_PROOF, PROTO_SCRAM_MALFORMED,
	                                        PROTO_SCRAM_MALFORMED,  PROTO_SCRAM_MALFORMED,
	                                        PROTO_SCRAM_MALFORMED};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct proto_scram_client c;
		char out[PROTO_SCRAM_MAX_MSG + 1];
		size_t n;

		cr_assert(proto_scram_client_init_password(&c, RFC_PASSWORD));
		cr_assert(proto_scram_client_first_with_nonce(&c, "user", RFC_CNONCE, out,
		                                              sizeof(out), &n));
		cr_assert_eq(proto_scram_client_final(&c, U8(RFC_SERVER_FIRST),
		                                      strlen(RFC_SERVER_FIRST), 0, out, sizeof(out),
		                                      &n),
		             PROTO_SCRAM_OK);
		cr_assert_eq(proto_scram_client_verify(&c, U8(results[i]), strlen(results[i])),
		             want[i], "\"%s\"", results[i]);
	}
}

Test(scram, client_first_inputs)
{
	struct proto_scram_client c;
	char out[PROTO_SCRAM_MAX_MSG + 1], pw[300];
	size_t n;

	cr_assert(proto_scram_client_init_password(&c, RFC_PASSWORD));
	cr_assert(proto_scram_client_first_with_nonce(&c, "a,b=c", "xyz", out, sizeof(out), &n));
	cr_assert_str_eq(out, "n,,n=a=2Cb=3Dc,r=xyz", "saslname escapes");
	cr_assert_not(proto_scram_client_first_with_nonce(&c, NULL, "x,y", out, sizeof(out), &n));
	cr_assert_not(proto_scram_client_first_with_nonce(&c, NULL, "", out, sizeof(out), &n));
	cr_assert_not(proto_scram_client_first(&c, out, 20, &n), "output too small");
	cr_assert_eq(n, 0);
	cr_assert(proto_scram_client_first(&c, out, 33, &n), "exactly enough");
	cr_assert_eq(n, 32);

	memset(pw, 'p', sizeof(pw));
	pw[255] = '\0';
	cr_assert(proto_scram_client_init_password(&c, pw), "255 bytes fit");
	pw[255] = 'p';
	pw[256] = '\0';
	cr_assert_not(proto_scram_client_init_password(&c, pw), "256 bytes do not");
}

/* tests/fuzz/fuzz_scram_server.c — libFuzzer target for the server side of protocol/scram:
 * pglane checking a client's SCRAM-SHA-256 exchange against a fixed stored secret (RFC 7677's:
 * password "pencil", 4096 iterations; the server side never runs PBKDF2, so runs are fast).
 *
 * Input: a flags byte, a byte for the output buffer size (0: the largest message), then the
 * client-first-message (16-bit big-endian length, then the bytes), the rest being the
 * client-final-message. The server nonce is fixed (RFC 7677's) so that the fuzzer can answer it;
 * flag 0x01 takes a random one instead. proto_scram_server_first() and then
 * proto_scram_server_final() run on them; a second final must be refused. The client-first
 * bytes are also read as a stored secret (proto_scram_secret_parse(), then formatted and parsed
 * back) and the client-final bytes as base64 (decoded, encoded back). */
#include <stdbool.h>
#include <string.h>

#include "protocol/scram.h"
#include "tests/fuzz/fuzz.h"

#define RFC_SECRET                                                                                 \
	"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=" \
	":"                                                                                        \
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define RFC_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"

static struct proto_scram_secret secret;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!proto_scram_secret_parse(RFC_SECRET, &secret))
		abort();
	return 0;
}

/* A successful SCRAM message written into `out`: NUL-terminated at `n`, inside `cap`. */
static void check_out(const char *out, size_t n, size_t cap, const char *prefix)
{
	FUZZ_CHECK(n < cap && out[n] == '\0' && strlen(out) == n);
	FUZZ_CHECK(strncmp(out, prefix, strlen(prefix)) == 0);
}

static void exchange(uint8_t flags, size_t cap, const uint8_t *first, size_t first_len,
                     const uint8_t *final, size_t final_len)
{
	static struct proto_scram_server s;
	char *out = malloc(cap);
	if (!out)
		abort();
	size_t n = 12345;
	enum proto_scram_result r;
	if (flags & 0x01)
		r = proto_scram_server_first(&s, &secret, first, first_len, out, cap, &n);
	else
		r = proto_scram_server_first_with_nonce(&s, &secret, first, first_len, RFC_SNONCE,
		                                        out, cap, &n);
	FUZZ_CHECK(r == PROTO_SCRAM_OK || r == PROTO_SCRAM_MALFORMED);
	if (r == PROTO_SCRAM_OK) {
		check_out(out, n, cap, "r=");
		FUZZ_CHECK(first_len >= 3 && (first[0] == 'n' || first[0] == 'y'));
		FUZZ_CHECK(strcmp(out, s.server_first) == 0);
		FUZZ_CHECK(s.cbind_flag == (char)first[0]);
		/* the combined nonce starts with the client's, which ends the client-first */
		const char *comma = strchr(out, ',');
		FUZZ_CHECK(comma && comma - out - 2 <= 2 * PROTO_SCRAM_MAX_NONCE);
		FUZZ_CHECK(strncmp(out + 2, s.nonce, strlen(s.nonce)) == 0);
	} else {
		FUZZ_CHECK(n == 0 && s.cbind_flag == 0);
	}

	n = 12345;
	r = proto_scram_server_final(&s, final, final_len, out, cap, &n);
	FUZZ_CHECK(r == PROTO_SCRAM_OK || r == PROTO_SCRAM_FAIL_PROOF ||
	           r == PROTO_SCRAM_MALFORMED);
	if (r == PROTO_SCRAM_OK) {
		check_out(out, n, cap, "v=");
		FUZZ_CHECK(s.have_client_key);
	} else {
		FUZZ_CHECK(n == 0);
	}
	/* one attempt per server-first */
	FUZZ_CHECK(proto_scram_server_final(&s, final, final_len, out, cap, &n) ==
	           PROTO_SCRAM_MALFORMED);
	free(out);
}

static void secret_text(const uint8_t *p, size_t len)
{
	char *text = malloc(len + 1);
	if (!text)
		abort();
	memcpy(text, p, len);
	text[len] = '\0';
	struct proto_scram_secret sec;
	if (proto_scram_secret_parse(text, &sec)) {
		FUZZ_CHECK(sec.iterations >= 1);
		FUZZ_CHECK(sec.salt_len >= 1 && sec.salt_len <= PROTO_SCRAM_MAX_SALT);
		char again[512];
		size_t n = proto_scram_secret_format(&sec, again, sizeof(again));
		FUZZ_CHECK(n > 0 && strlen(again) == n);
		struct proto_scram_secret back;
		FUZZ_CHECK(proto_scram_secret_parse(again, &back));
		FUZZ_CHECK(back.iterations == sec.iterations && back.salt_len == sec.salt_len);
		FUZZ_CHECK(memcmp(back.salt, sec.salt, sec.salt_len) == 0);
		FUZZ_CHECK(memcmp(back.stored_key, sec.stored_key, PROTO_SCRAM_KEY_LEN) == 0);
		FUZZ_CHECK(memcmp(back.server_key, sec.server_key, PROTO_SCRAM_KEY_LEN) == 0);
	}
	free(text);
}

static void base64(const uint8_t *p, size_t len)
{
	uint8_t dec[512];
	size_t n = 0;
	if (!proto_base64_decode((const char *)p, len, dec, sizeof(dec), &n))
		return;
	size_t pad = (len > 0 && p[len - 1] == '=') + (len > 1 && p[len - 2] == '=');
	FUZZ_CHECK(len % 4 == 0 && n == len / 4 * 3 - pad);
	char enc[1024];
	size_t m = proto_base64_encode(dec, n, enc, sizeof(enc));
	/* strict base64: one encoding per value */
	FUZZ_CHECK(m == len && memcmp(enc, p, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t flags = fuzz_byte(&in);
	uint8_t capb = fuzz_byte(&in);
	size_t cap = capb ? capb : PROTO_SCRAM_MAX_MSG + 1;
	size_t first_len, final_len;
	uint8_t *first = fuzz_part(&in, &first_len);
	uint8_t *final = fuzz_rest(&in, &final_len);

	exchange(flags, cap, first, first_len, final, final_len);
	secret_text(first, first_len);
	base64(final, final_len);

	free(first);
	free(final);
	return 0;
}

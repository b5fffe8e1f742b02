/* tests/fuzz/fuzz_scram_client.c — libFuzzer target for the client side of protocol/scram:
 * pglane logging in to a (here: fuzzed) PostgreSQL server with SCRAM-SHA-256.
 *
 * Input: a flags byte, a byte for the output buffer size (0: the largest message), then the
 * server-first-message (16-bit big-endian length, then the bytes), the rest being the
 * server-final-message. The client is set up with the password "pencil" (flag 0x01: RFC 7677's
 * ClientKey and ServerKey, as in pass-through), writes its client-first with RFC 7677's fixed
 * nonce (flag 0x02: a random one) and user "user" (flag 0x04: "", as libpq), reads the fuzzed
 * server-first with proto_scram_client_final() and the fuzzed server-final with
 * proto_scram_client_verify(); a second verify must be refused.
 *
 * The iteration count a server may ask for is capped at FUZZ_MAX_ITERATIONS (4096, RFC 7677's
 * count) rather than PROTO_SCRAM_MAX_ITERATIONS: each accepted server-first costs one PBKDF2 of
 * that many rounds, and a cap of 100000 would make every run that reaches it take ~50 ms,
 * starving the rest of the search. The refusal above the cap is the same code either way. */
#include <stdbool.h>
#include <string.h>

#include "protocol/scram.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_MAX_ITERATIONS 4096
#define RFC_CNONCE          "rOprNGfwEbeRWgbNEkqO"

/* RFC 7677's keys for "pencil" (salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations). */
static const char client_key_b64[] = "pg/JI9Z+hkSpLRa5btpe9GVrDHJcSEN0viVTVXaZbos=";
static const char server_key_b64[] = "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
static uint8_t client_key[PROTO_SCRAM_KEY_LEN], server_key[PROTO_SCRAM_KEY_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	size_t n1 = 0, n2 = 0;
	if (!proto_base64_decode(client_key_b64, strlen(client_key_b64), client_key,
	                         sizeof(client_key), &n1) ||
	    !proto_base64_decode(server_key_b64, strlen(server_key_b64), server_key,
	                         sizeof(server_key), &n2) ||
	    n1 != PROTO_SCRAM_KEY_LEN || n2 != PROTO_SCRAM_KEY_LEN)
		abort();
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proto_scram_client c;
	struct fuzz_in in = {data, size};
	uint8_t flags = fuzz_byte(&in);
	uint8_t capb = fuzz_byte(&in);
	size_t cap = capb ? capb : PROTO_SCRAM_MAX_MSG + 1;
	size_t first_len, final_len;
	uint8_t *server_first = fuzz_part(&in, &first_len);
	uint8_t *server_final = fuzz_rest(&in, &final_len);
	char *out = malloc(cap);
	char client_first[PROTO_SCRAM_MAX_MSG + 1];
	size_t n = 0;
	if (!out)
		abort();

	if (flags & 0x01)
		proto_scram_client_init_keys(&c, client_key, server_key);
	else if (!proto_scram_client_init_password(&c, "pencil"))
		abort();
	const char *user = flags & 0x04 ? "" : "user";
	const char *nonce = flags & 0x02 ? NULL : RFC_CNONCE;
	if (!proto_scram_client_first_with_nonce(&c, user, nonce, client_first,
	                                         sizeof(client_first), &n))
		abort();
	FUZZ_CHECK(n == strlen(client_first) && strncmp(client_first, "n,,n=", 5) == 0);

	n = 12345;
	enum proto_scram_result r = proto_scram_client_final(&c, server_first, first_len,
	                                                     FUZZ_MAX_ITERATIONS, out, cap, &n);
	FUZZ_CHECK(r == PROTO_SCRAM_OK || r == PROTO_SCRAM_MALFORMED);
	if (r == PROTO_SCRAM_OK) {
		FUZZ_CHECK(n < cap && out[n] == '\0' && strlen(out) == n);
		FUZZ_CHECK(strncmp(out, "c=biws,r=", 9) == 0);
		FUZZ_CHECK(strncmp(out + 9, c.client_nonce, strlen(c.client_nonce)) == 0);
		FUZZ_CHECK(!all_zero(c.expected_server_signature, PROTO_SCRAM_KEY_LEN));
	} else {
		FUZZ_CHECK(n == 0);
		FUZZ_CHECK(all_zero(c.expected_server_signature, PROTO_SCRAM_KEY_LEN));
	}

	enum proto_scram_result v = proto_scram_client_verify(&c, server_final, final_len);
	FUZZ_CHECK(v == PROTO_SCRAM_OK || v == PROTO_SCRAM_FAIL_PROOF ||
	           v == PROTO_SCRAM_MALFORMED);
	/* a verification needs a successful client-final, and there is one per client-final */
	FUZZ_CHECK(r == PROTO_SCRAM_OK || v == PROTO_SCRAM_MALFORMED);
	FUZZ_CHECK(proto_scram_client_verify(&c, server_final, final_len) == PROTO_SCRAM_MALFORMED);
	/* and one client-final per client-first */
	FUZZ_CHECK(r != PROTO_SCRAM_OK ||
	           proto_scram_client_final(&c, server_first, first_len, FUZZ_MAX_ITERATIONS, out,
	                                    cap, &n) == PROTO_SCRAM_MALFORMED);

	free(out);
	free(server_first);
	free(server_final);
	return 0;
}

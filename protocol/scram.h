/* protocol/scram.h — SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it, both sides,
 * with OpenSSL's HMAC/SHA-256/PBKDF2. No channel binding ("n,," / "biws").
 *
 * Server side: pglane authenticating a client against a stored secret.
 * Client side: pglane authenticating to PostgreSQL, either from a plain password or from a
 * ClientKey recovered from the client's own proof (pass-through: the auth file holds only
 * the SCRAM secret, which must be the same on the server).
 *
 * Every input is length-checked before use; messages bigger than PROTO_SCRAM_MAX_MSG or
 * nonces longer than PROTO_SCRAM_MAX_NONCE are refused. Proofs and signatures are compared
 * in constant time. Nothing here allocates. */
#ifndef PGLANE_PROTOCOL_SCRAM_H
#define PGLANE_PROTOCOL_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_SCRAM_KEY_LEN 32	     /* SHA-256 */
#define PROTO_SCRAM_MAX_SALT 64	     /* decoded salt bytes */
#define PROTO_SCRAM_MAX_NONCE 256     /* characters */
#define PROTO_SCRAM_MAX_MSG 1024      /* any single SCRAM message */
#define PROTO_SCRAM_NONCE_RAW 18      /* random bytes in our own nonce (base64 → 24 chars) */
#define PROTO_SCRAM_DEFAULT_ITERATIONS 4096
#define PROTO_SCRAM_MAX_ITERATIONS 100000 /* cap on a server's request (client side) */

/* A stored secret: "SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey b64>:<ServerKey b64>". */
struct proto_scram_secret {
	int iterations;
	uint8_t salt[PROTO_SCRAM_MAX_SALT];
	size_t salt_len;
	uint8_t stored_key[PROTO_SCRAM_KEY_LEN];
	uint8_t server_key[PROTO_SCRAM_KEY_LEN];
};

/* Parse a stored secret; false when it is not exactly of the form above. */
__attribute__((warn_unused_result)) bool proto_scram_secret_parse(const char *text,
								  struct proto_scram_secret *out);
/* Derive the secret of `password` with `salt` and `iterations` (used when the auth file
 * holds a plain password). */
__attribute__((warn_unused_result)) bool
proto_scram_secret_from_password(const char *password, const uint8_t *salt, size_t salt_len,
				 int iterations, struct proto_scram_secret *out);

/* ---- server side ---- */
enum proto_scram_result { PROTO_SCRAM_OK, PROTO_SCRAM_FAIL_PROOF, PROTO_SCRAM_MALFORMED };

struct proto_scram_server {
	struct proto_scram_secret secret;
	char nonce[2 * PROTO_SCRAM_MAX_NONCE + 1]; /* client nonce + server nonce */
	char client_first_bare[PROTO_SCRAM_MAX_MSG + 1];
	char server_first[PROTO_SCRAM_MAX_MSG + 1];
	uint8_t client_key[PROTO_SCRAM_KEY_LEN]; /* recovered from a verified proof */
	bool have_client_key;
};

/* Read client-first-message (`msg`, `len`), pick a server nonce, and write
 * server-first-message into `out` (NUL-terminated, `*out_len` without the NUL). */
__attribute__((warn_unused_result)) enum proto_scram_result
proto_scram_server_first(struct proto_scram_server *s, const struct proto_scram_secret *secret,
			 const uint8_t *msg, size_t len, char *out, size_t cap, size_t *out_len);
/* Read client-final-message, check the nonce and the proof (constant time), and on OK write
 * server-final-message ("v=...") into `out` and keep the ClientKey for pass-through. */
__attribute__((warn_unused_result)) enum proto_scram_result
proto_scram_server_final(struct proto_scram_server *s, const uint8_t *msg, size_t len, char *out,
			 size_t cap, size_t *out_len);

/* ---- client side ---- */
struct proto_scram_client {
	/* one of: a password, or ClientKey + ServerKey (pass-through) */
	char password[256];
	bool use_keys;
	uint8_t client_key[PROTO_SCRAM_KEY_LEN];
	uint8_t server_key[PROTO_SCRAM_KEY_LEN];
	char client_nonce[PROTO_SCRAM_MAX_NONCE + 1];
	char client_first_bare[PROTO_SCRAM_MAX_MSG + 1];
	uint8_t expected_server_signature[PROTO_SCRAM_KEY_LEN];
};

/* Use a plain password (false when longer than the field). */
__attribute__((warn_unused_result)) bool proto_scram_client_init_password(struct proto_scram_client *c,
									 const char *password);
/* Use keys instead of a password (SCRAM pass-through). */
void proto_scram_client_init_keys(struct proto_scram_client *c,
				  const uint8_t client_key[PROTO_SCRAM_KEY_LEN],
				  const uint8_t server_key[PROTO_SCRAM_KEY_LEN]);
/* Write client-first-message ("n,,n=,r=<nonce>"). */
__attribute__((warn_unused_result)) bool proto_scram_client_first(struct proto_scram_client *c,
								  char *out, size_t cap,
								  size_t *out_len);
/* Read server-first-message (nonce must extend ours; salt decoded; iterations in
 * 1..max_iterations) and write client-final-message with the proof. */
__attribute__((warn_unused_result)) enum proto_scram_result
proto_scram_client_final(struct proto_scram_client *c, const uint8_t *msg, size_t len,
			 int max_iterations, char *out, size_t cap, size_t *out_len);
/* Read server-final-message and check the server signature (constant time). */
__attribute__((warn_unused_result)) enum proto_scram_result
proto_scram_client_verify(struct proto_scram_client *c, const uint8_t *msg, size_t len);

/* Standard base64 (with padding). Encode returns the length written (without NUL) or 0 when
 * `cap` is too small; decode returns false on bad input or when `cap` is too small. */
size_t proto_base64_encode(const uint8_t *in, size_t n, char *out, size_t cap);
__attribute__((warn_unused_result)) bool proto_base64_decode(const char *in, size_t n,
							     uint8_t *out, size_t cap,
							     size_t *out_len);

#endif

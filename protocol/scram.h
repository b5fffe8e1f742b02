/* protocol/scram.h — SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it, both sides,
 * with OpenSSL's HMAC/SHA-256/PBKDF2. No channel binding ("n,," / "biws").
 *
 * Server side: pglane authenticating a client against a stored secret.
 * Client side: pglane authenticating to PostgreSQL, either from a plain password or from a
 * ClientKey recovered from the client's own proof (pass-through: the auth file holds only
 * the SCRAM secret, which must be the same on the server).
 *
 * Every input is length-checked before use; messages bigger than PROTO_SCRAM_MAX_MSG or
 * nonces longer than PROTO_SCRAM_MAX_NONCE are refused. Attributes must come in the RFC's
 * order; extensions (optional or mandatory "m=") are refused; base64 is strict (padding
 * required, no stray bits, no whitespace). Proofs and signatures are compared in constant
 * time. Nothing here allocates.
 *
 * Passwords: PostgreSQL SASLpreps the password before hashing. Here the password's bytes are
 * used as they are. That is exactly SASLprep for ASCII passwords without control characters
 * (the usual case); a non-ASCII password whose SASLprep differs from its bytes gives other
 * keys than PostgreSQL's (pglane and the server then disagree and login fails cleanly). */
#ifndef PGLANE_PROTOCOL_SCRAM_H
#define PGLANE_PROTOCOL_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_SCRAM_KEY_LEN            32   /* SHA-256 */
#define PROTO_SCRAM_MAX_SALT           64   /* decoded salt bytes */
#define PROTO_SCRAM_MAX_NONCE          256  /* characters */
#define PROTO_SCRAM_MAX_MSG            1024 /* any single SCRAM message */
#define PROTO_SCRAM_NONCE_RAW          18 /* random bytes in our own nonce (base64 → 24 chars) */
#define PROTO_SCRAM_DEFAULT_ITERATIONS 4096
#define PROTO_SCRAM_MAX_ITERATIONS     100000 /* cap on a server's request (client side) */

/* A stored secret: "SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey b64>:<ServerKey b64>". */
struct proto_scram_secret {
	int iterations;
	uint8_t salt[PROTO_SCRAM_MAX_SALT];
	size_t salt_len;
	uint8_t stored_key[PROTO_SCRAM_KEY_LEN];
	uint8_t server_key[PROTO_SCRAM_KEY_LEN];
};

/* Parse a stored secret; false when it is not exactly of the form above (iterations
 * 1..INT_MAX, a salt of 1..PROTO_SCRAM_MAX_SALT bytes, keys of exactly 32 bytes). */
__attribute__((warn_unused_result)) bool proto_scram_secret_parse(const char *text,
                                                                  struct proto_scram_secret *out);
/* Derive the secret of `password` with `salt` and `iterations` (used when the auth file
 * holds a plain password). */
__attribute__((warn_unused_result)) bool
proto_scram_secret_from_password(const char *password, const uint8_t *salt, size_t salt_len,
                                 int iterations, struct proto_scram_secret *out);
/* Format `s` as "SCRAM-SHA-256$..." into `out` (NUL-terminated, the form PostgreSQL stores).
 * Returns the length without the NUL, or 0 when `cap` is too small or `s` is not valid. */
size_t proto_scram_secret_format(const struct proto_scram_secret *s, char *out, size_t cap);

/* ---- server side ---- */
enum proto_scram_result { PROTO_SCRAM_OK, PROTO_SCRAM_FAIL_PROOF, PROTO_SCRAM_MALFORMED };

struct proto_scram_server {
	struct proto_scram_secret secret;
	char nonce[2 * PROTO_SCRAM_MAX_NONCE + 1]; /* client nonce + server nonce */
	char client_first_bare[PROTO_SCRAM_MAX_MSG + 1];
	char server_first[PROTO_SCRAM_MAX_MSG + 1];
	uint8_t client_key[PROTO_SCRAM_KEY_LEN]; /* recovered from a verified proof */
	bool have_client_key;
	char cbind_flag; /* 'n' or 'y' as the client sent it; 0 before server-first and once
	                    server-final has been tried (one attempt per exchange) */
};

/* Read client-first-message (`msg`, `len`), pick a server nonce, and write
 * server-first-message into `out` (NUL-terminated, `*out_len` without the NUL). `s` needs no
 * initialization: it is reset here. The gs2 header must be "n,," or "y,," ('y': the client
 * can do channel binding but we did not offer it); "p=" channel binding and an authzid are
 * MALFORMED. The user name in "n=" is ignored, as PostgreSQL does (the user comes from the
 * startup packet; libpq sends it empty). MALFORMED also when the secret is not valid, `cap`
 * is too small or no random bytes are available. */
__attribute__((warn_unused_result)) enum proto_scram_result
proto_scram_server_first(struct proto_scram_server *s, const struct proto_scram_secret *secret,
                         const uint8_t *msg, size_t len, char *out, size_t cap, size_t *out_len);
/* The same with the server nonce given (printable ASCII except ',', 1..PROTO_SCRAM_MAX_NONCE
 * characters): for tests and known-answer vectors, never for real logins. */
__attribute__((warn_unused_result)) enum proto_scram_result proto_scram_server_first_with_nonce(
        struct proto_scram_server *s, const struct proto_scram_secret *secret, const uint8_t *msg,
        size_t len, const char *server_nonce, char *out, size_t cap, size_t *out_len);
/* Read client-final-message, check the channel-binding attribute (base64 of the gs2 header
 * sent first), the nonce and the proof (constant time), and on OK write server-final-message
 * ("v=...") into `out` and keep the ClientKey for pass-through (ClientProof XOR
 * ClientSignature, verified by H(ClientKey) == StoredKey). FAIL_PROOF: wrong password; the
 * caller sends an ErrorResponse (PostgreSQL does not send "e=" either). Only one call per
 * server-first; MALFORMED when there was no successful server-first. */
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

/* Use a plain password (false when longer than the field). Resets `c`. */
__attribute__((warn_unused_result)) bool
proto_scram_client_init_password(struct proto_scram_client *c, const char *password);
/* Use keys instead of a password (SCRAM pass-through): StoredKey = H(ClientKey), and the
 * server's salt and iteration count are then irrelevant. Resets `c`. */
void proto_scram_client_init_keys(struct proto_scram_client *c,
                                  const uint8_t client_key[PROTO_SCRAM_KEY_LEN],
                                  const uint8_t server_key[PROTO_SCRAM_KEY_LEN]);
/* Write client-first-message ("n,,n=,r=<nonce>", a random 24-character nonce) into `out`
 * (NUL-terminated, `*out_len` without the NUL). False when `cap` is too small or no random
 * bytes are available. */
__attribute__((warn_unused_result)) bool
proto_scram_client_first(struct proto_scram_client *c, char *out, size_t cap, size_t *out_len);
/* The same with a user name (NULL or "": empty, as libpq sends; ',' and '=' are escaped) and
 * a nonce (NULL: random; else printable ASCII except ',', 1..PROTO_SCRAM_MAX_NONCE chars).
 * For tests and known-answer vectors (RFC 7677 uses "n=user"). */
__attribute__((warn_unused_result)) bool
proto_scram_client_first_with_nonce(struct proto_scram_client *c, const char *user,
                                    const char *nonce, char *out, size_t cap, size_t *out_len);
/* Read server-first-message (nonce must strictly extend ours and be at most
 * PROTO_SCRAM_MAX_NONCE characters; salt 1..PROTO_SCRAM_MAX_SALT bytes; iterations in
 * 1..max_iterations, where max_iterations < 1 means PROTO_SCRAM_MAX_ITERATIONS) and write
 * client-final-message ("c=biws,r=<nonce>,p=<proof>") into `out`. Only one call per
 * client-first; MALFORMED when there was none. */
__attribute__((warn_unused_result)) enum proto_scram_result
proto_scram_client_final(struct proto_scram_client *c, const uint8_t *msg, size_t len,
                         int max_iterations, char *out, size_t cap, size_t *out_len);
/* Read server-final-message and check the server signature (constant time). OK: the server
 * proved it knows the secret. FAIL_PROOF: a wrong signature or "e=<error>" from the server.
 * MALFORMED: anything else, or no successful client-final before. One call per client-final. */
__attribute__((warn_unused_result)) enum proto_scram_result
proto_scram_client_verify(struct proto_scram_client *c, const uint8_t *msg, size_t len);

/* Standard base64 (with padding). Encode returns the length written (without NUL) or 0 when
 * `cap` is too small; decode returns false on bad input or when `cap` is too small. */
size_t proto_base64_encode(const uint8_t *in, size_t n, char *out, size_t cap);
__attribute__((warn_unused_result)) bool proto_base64_decode(const char *in, size_t n, uint8_t *out,
                                                             size_t cap, size_t *out_len);

/* Free the calling thread's SHA-256 digest context (a worker thread's end). */
void proto_scram_thread_end(void);

#endif

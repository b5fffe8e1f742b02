/* protocol/md5.h — PostgreSQL's MD5 password authentication (OpenSSL's MD5).
 * A stored MD5 secret is "md5" + hex(md5(password || user)); the wire response to a salt is
 * "md5" + hex(md5(hex_of_secret || salt)). */
#ifndef PGLANE_PROTOCOL_MD5_H
#define PGLANE_PROTOCOL_MD5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_MD5_SALT_LEN   4
#define PROTO_MD5_SECRET_LEN 35 /* "md5" + 32 hex digits */

/* Is `s` a stored MD5 secret ("md5" + 32 lowercase hex digits)? */
bool proto_md5_is_secret(const char *s);
/* Stored secret of `password` for `user` into `out` (NUL-terminated). On the (unlikely)
 * failure of OpenSSL `out` is left empty, which proto_md5_is_secret() refuses. */
void proto_md5_secret(const char *password, const char *user, char out[PROTO_MD5_SECRET_LEN + 1]);
/* Wire response for stored `secret` ("md5...") and `salt` into `out`. False when `secret` is
 * not an MD5 secret. */
__attribute__((warn_unused_result)) bool proto_md5_response(const char *secret,
                                                            const uint8_t salt[PROTO_MD5_SALT_LEN],
                                                            char out[PROTO_MD5_SECRET_LEN + 1]);
/* Does `response` match `secret` and `salt`? Constant-time comparison. */
__attribute__((warn_unused_result)) bool
proto_md5_verify(const char *secret, const uint8_t salt[PROTO_MD5_SALT_LEN], const char *response);

#endif

/* protocol/md5.c — PostgreSQL's MD5 password authentication: stored secrets
 * ("md5" + hex(md5(password || user))) and salted wire responses, hashed by OpenSSL's EVP. */
#include "protocol/md5.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define MD5_PREFIX     "md5"
#define MD5_PREFIX_LEN 3
#define MD5_DIGEST_LEN 16
#define MD5_HEX_LEN    (2 * MD5_DIGEST_LEN)

/* "md5" + hex(md5(a || b)) into out; false (and out empty) when OpenSSL fails. */
static bool md5_hex2(const void *a, size_t na, const void *b, size_t nb,
                     char out[PROTO_MD5_SECRET_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t digest[MD5_DIGEST_LEN];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new(); /* OpenSSL's allocation, freed below */
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	          EVP_DigestUpdate(ctx, a, na) == 1 && EVP_DigestUpdate(ctx, b, nb) == 1 &&
	          EVP_DigestFinal_ex(ctx, digest, &len) == 1 && len == MD5_DIGEST_LEN;

	EVP_MD_CTX_free(ctx);
	out[0] = '\0';
	if (!ok)
		return false;
	memcpy(out, MD5_PREFIX, MD5_PREFIX_LEN);
	for (size_t i = 0; i < MD5_DIGEST_LEN; i++) {
		out[MD5_PREFIX_LEN + 2 * i] = hex[digest[i] >> 4];
		out[MD5_PREFIX_LEN + 2 * i + 1] = hex[digest[i] & 15];
	}
	out[PROTO_MD5_SECRET_LEN] = '\0';
	return true;
}

bool proto_md5_is_secret(const char *s)
{
	if (!s || strncmp(s, MD5_PREFIX, MD5_PREFIX_LEN) != 0)
		return false;
	for (size_t i = MD5_PREFIX_LEN; i < PROTO_MD5_SECRET_LEN; i++) {
		char c = s[i]; /* stops at a NUL: not a hex digit */

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return s[PROTO_MD5_SECRET_LEN] == '\0';
}

void proto_md5_secret(const char *password, const char *user, char out[PROTO_MD5_SECRET_LEN + 1])
{
	out[0] = '\0';
	if (!password || !user)
		return;
	(void)md5_hex2(password, strlen(password), user, strlen(user), out);
}

bool proto_md5_response(const char *secret, const uint8_t salt[PROTO_MD5_SALT_LEN],
                        char out[PROTO_MD5_SECRET_LEN + 1])
{
	out[0] = '\0';
	if (!proto_md5_is_secret(secret))
		return false;
	return md5_hex2(secret + MD5_PREFIX_LEN, MD5_HEX_LEN, salt, PROTO_MD5_SALT_LEN, out);
}

bool proto_md5_verify(const char *secret, const uint8_t salt[PROTO_MD5_SALT_LEN],
                      const char *response)
{
	char expected[PROTO_MD5_SECRET_LEN + 1];
	bool ok;

	if (!response || !proto_md5_response(secret, salt, expected))
		return false;
	ok = strnlen(response, PROTO_MD5_SECRET_LEN + 1) == PROTO_MD5_SECRET_LEN &&
	     CRYPTO_memcmp(expected, response, PROTO_MD5_SECRET_LEN) == 0;
	OPENSSL_cleanse(expected, sizeof(expected));
	return ok;
}

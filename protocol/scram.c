/* protocol/scram.c — SCRAM-SHA-256 as PostgreSQL speaks it: stored secrets, the server side
 * (pglane checking a client's proof), the client side (pglane logging in to PostgreSQL from a
 * password or from pass-through keys) and strict base64. OpenSSL does the hashing; nothing
 * here allocates or does I/O. */
#include "protocol/scram.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "protocol/random.h"

#define KEY_LEN         PROTO_SCRAM_KEY_LEN
#define SECRET_PREFIX   "SCRAM-SHA-256$"
#define SECRET_MAX_LEN  512                 /* far above any real secret (~170 bytes) */
#define CBIND_N_B64     "biws"              /* base64("n,,"): no channel binding */
#define CBIND_Y_B64     "eSws"              /* base64("y,,"): client could, server did not offer */
#define GS2_HEADER_LEN  3                   /* "n,," or "y,,": no authzid */
#define B64_LEN(n)      (((n) + 2) / 3 * 4) /* encoded size without the NUL */
#define NONCE_B64_LEN   B64_LEN(PROTO_SCRAM_NONCE_RAW)
#define AUTH_MSG_MAX    (3 * PROTO_SCRAM_MAX_MSG + 2)
#define MAX_ITER_DIGITS 10 /* INT_MAX has 10 digits */

/* ---- base64 ---- */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t proto_base64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	size_t i, j = 0;

	if (!out || n > (SIZE_MAX / 4 - 1) * 3 || cap < B64_LEN(n) + 1)
		return 0;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];

		out[j++] = b64_chars[(v >> 18) & 63];
		out[j++] = b64_chars[(v >> 12) & 63];
		out[j++] = b64_chars[(v >> 6) & 63];
		out[j++] = b64_chars[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		out[j++] = b64_chars[(v >> 18) & 63];
		out[j++] = b64_chars[(v >> 12) & 63];
		out[j++] = i + 1 < n ? b64_chars[(v >> 6) & 63] : '=';
		out[j++] = '=';
	}
	out[j] = '\0';
	return j;
}

/* The 6-bit value of a base64 character, or -1. */
static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

bool proto_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t pad = 0, total, j = 0;

	if (out_len)
		*out_len = 0;
	if (n % 4 != 0 || (n > 0 && !in))
		return false;
	if (n > 0 && in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	total = n / 4 * 3 - pad;
	if (total > cap || (total > 0 && !out))
		return false;
	for (size_t i = 0; i < n; i += 4) {
		bool last = i + 4 == n;
		int a = b64_value(in[i]), b = b64_value(in[i + 1]);
		int c = last && pad == 2 ? 0 : b64_value(in[i + 2]);
		int d = last && pad >= 1 ? 0 : b64_value(in[i + 3]);
		uint32_t v;

		if (a < 0 || b < 0 || c < 0 || d < 0)
			return false;
		v = ((uint32_t)a << 18) | ((uint32_t)b << 12) | ((uint32_t)c << 6) | (uint32_t)d;
		if (last && pad > 0 && (v & (pad == 2 ? 0xffffu : 0xffu)) != 0)
			return false; /* non-canonical: bits set under the padding */
		out[j++] = (uint8_t)(v >> 16);
		if (!(last && pad == 2))
			out[j++] = (uint8_t)(v >> 8);
		if (!(last && pad >= 1))
			out[j++] = (uint8_t)v;
	}
	if (out_len)
		*out_len = j;
	return true;
}

/* ---- crypto ---- */

#define SHA256_BLOCK 64

/* SHA-256 fetched once per thread: OpenSSL 3's implicit fetch on every call (HMAC(),
 * EVP_sha256() in EVP_Digest) costs more than the hashing of these short inputs; a digest
 * context is one thread's at a time (freed by proto_scram_thread_end). */
static _Thread_local struct {
	EVP_MD *md;
	EVP_MD_CTX *ctx;
} sha;

void proto_scram_thread_end(void)
{
	EVP_MD_CTX_free(sha.ctx);
	EVP_MD_free(sha.md);
	sha.ctx = NULL;
	sha.md = NULL;
}

static EVP_MD_CTX *md_ctx(void)
{
	if (!sha.md)
		sha.md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!sha.ctx)
		sha.ctx = EVP_MD_CTX_new();
	if (!sha.md || !sha.ctx || EVP_DigestInit_ex(sha.ctx, sha.md, NULL) != 1)
		return NULL;
	return sha.ctx;
}

/* SHA-256 of a || b. */
static bool sha256_2(const void *a, size_t an, const void *b, size_t bn, uint8_t out[KEY_LEN])
{
	unsigned int len = 0;
	EVP_MD_CTX *ctx = md_ctx();
	return ctx && EVP_DigestUpdate(ctx, a, an) == 1 && EVP_DigestUpdate(ctx, b, bn) == 1 &&
	       EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == KEY_LEN;
}

/* HMAC-SHA-256 (RFC 2104) with a 32-byte key, on the cached digest. */
static bool hmac_sha256(const uint8_t key[KEY_LEN], const void *msg, size_t n, uint8_t out[KEY_LEN])
{
	uint8_t ipad[SHA256_BLOCK], opad[SHA256_BLOCK], inner[KEY_LEN];
	memset(ipad, 0x36, sizeof(ipad));
	memset(opad, 0x5c, sizeof(opad));
	for (size_t i = 0; i < KEY_LEN; i++) {
		ipad[i] ^= key[i];
		opad[i] ^= key[i];
	}
	bool ok = sha256_2(ipad, sizeof(ipad), msg, n, inner) &&
	          sha256_2(opad, sizeof(opad), inner, sizeof(inner), out);
	OPENSSL_cleanse(ipad, sizeof(ipad));
	OPENSSL_cleanse(opad, sizeof(opad));
	OPENSSL_cleanse(inner, sizeof(inner));
	return ok;
}

static bool sha256(const uint8_t *in, size_t n, uint8_t out[KEY_LEN])
{
	return sha256_2(in, n, "", 0, out);
}

/* ClientKey and ServerKey of `password` (bytes as given, see scram.h) with salt and count. */
static bool keys_from_password(const char *password, const uint8_t *salt, size_t salt_len,
                               int iterations, uint8_t client_key[KEY_LEN],
                               uint8_t server_key[KEY_LEN])
{
	uint8_t salted[KEY_LEN];
	size_t n = strlen(password);
	bool ok;

	if (n > INT_MAX || salt_len == 0 || salt_len > PROTO_SCRAM_MAX_SALT || iterations < 1)
		return false;
	ok = PKCS5_PBKDF2_HMAC(password, (int)n, salt, (int)salt_len, iterations, EVP_sha256(),
	                       KEY_LEN, salted) == 1 &&
	     hmac_sha256(salted, "Client Key", strlen("Client Key"), client_key) &&
	     hmac_sha256(salted, "Server Key", strlen("Server Key"), server_key);
	OPENSSL_cleanse(salted, sizeof(salted));
	return ok;
}

/* A random nonce of PROTO_SCRAM_NONCE_RAW bytes in base64 (no ',' and no padding). */
static bool random_nonce(char out[NONCE_B64_LEN + 1])
{
	uint8_t raw[PROTO_SCRAM_NONCE_RAW];

	if (!proto_random(raw, sizeof(raw)))
		return false;
	return proto_base64_encode(raw, sizeof(raw), out, NONCE_B64_LEN + 1) == NONCE_B64_LEN;
}

static bool is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* ---- text helpers ---- */

/* A SCRAM message: 1..PROTO_SCRAM_MAX_MSG bytes, no NUL inside. */
static bool text_ok(const uint8_t *msg, size_t len)
{
	return msg && len > 0 && len <= PROTO_SCRAM_MAX_MSG && !memchr(msg, 0, len);
}

/* printable ASCII except ',' (RFC 5802), 1..PROTO_SCRAM_MAX_NONCE characters. */
static bool nonce_ok(const char *v, size_t n)
{
	if (n == 0 || n > PROTO_SCRAM_MAX_NONCE)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x21 || v[i] > 0x7e || v[i] == ',')
			return false;
	return true;
}

/* 1..INT_MAX in plain decimal digits. */
static bool iterations_parse(const char *v, size_t n, int *out)
{
	long long x = 0;

	if (n == 0 || n > MAX_ITER_DIGITS)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (v[i] - '0');
	}
	if (x < 1 || x > INT_MAX)
		return false;
	*out = (int)x;
	return true;
}

/* Cursor over "a=value,b=value" attributes, in order, none skipped. */
struct attrs {
	const char *p;
	size_t len;
	size_t pos;
};

/* "<name>=<value>" at the cursor; the value runs to the next ',' or the end (not consumed). */
static bool attr_get(struct attrs *a, char name, const char **v, size_t *vlen)
{
	size_t end;

	if (a->len - a->pos < 2 || a->p[a->pos] != name || a->p[a->pos + 1] != '=')
		return false;
	end = a->pos + 2;
	while (end < a->len && a->p[end] != ',')
		end++;
	*v = a->p + a->pos + 2;
	*vlen = end - (a->pos + 2);
	a->pos = end;
	return true;
}

static bool attr_comma(struct attrs *a)
{
	if (a->pos >= a->len || a->p[a->pos] != ',')
		return false;
	a->pos++;
	return true;
}

static bool attr_end(const struct attrs *a)
{
	return a->pos == a->len;
}

/* Appends text to a caller's buffer, always NUL-terminated; `failed` when out of room. */
struct text_out {
	char *p;
	size_t cap;
	size_t len;
	bool failed;
};

static void text_init(struct text_out *o, char *p, size_t cap)
{
	o->p = p;
	o->cap = p ? cap : 0;
	o->len = 0;
	o->failed = o->cap == 0;
	if (!o->failed)
		p[0] = '\0';
}

static void text_put(struct text_out *o, const char *s, size_t n)
{
	if (o->failed || n >= o->cap - o->len) {
		o->failed = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void text_str(struct text_out *o, const char *s)
{
	text_put(o, s, strlen(s));
}

static void text_b64(struct text_out *o, const uint8_t *in, size_t n)
{
	size_t w;

	if (o->failed)
		return;
	w = proto_base64_encode(in, n, o->p + o->len, o->cap - o->len);
	if (w == 0 && n > 0)
		o->failed = true;
	else
		o->len += w;
}

static void text_int(struct text_out *o, int v)
{
	char digits[MAX_ITER_DIGITS + 1];
	size_t i = sizeof(digits);
	unsigned int u = v < 0 ? 0 : (unsigned int)v;

	do {
		digits[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u && i > 0);
	text_put(o, digits + i, sizeof(digits) - i);
}

static bool text_done(const struct text_out *o, size_t *out_len)
{
	if (out_len)
		*out_len = o->failed ? 0 : o->len;
	return !o->failed;
}

/* AuthMessage = client-first-bare "," server-first "," client-final-without-proof. */
static bool auth_message(char out[AUTH_MSG_MAX + 1], size_t *n, const char *bare,
                         const char *server_first, size_t server_first_len, const char *final,
                         size_t final_len)
{
	struct text_out o;

	text_init(&o, out, AUTH_MSG_MAX + 1);
	text_str(&o, bare);
	text_put(&o, ",", 1);
	text_put(&o, server_first, server_first_len);
	text_put(&o, ",", 1);
	text_put(&o, final, final_len);
	return text_done(&o, n);
}

/* ---- secrets ---- */

static bool secret_ok(const struct proto_scram_secret *s)
{
	return s->iterations >= 1 && s->salt_len >= 1 && s->salt_len <= PROTO_SCRAM_MAX_SALT;
}

bool proto_scram_secret_parse(const char *text, struct proto_scram_secret *out)
{
	struct proto_scram_secret s;
	const char *p, *end, *colon, *dollar, *colon2;
	size_t n, k;

	memset(out, 0, sizeof(*out));
	if (!text)
		return false;
	n = strnlen(text, SECRET_MAX_LEN + 1);
	if (n > SECRET_MAX_LEN || strncmp(text, SECRET_PREFIX, strlen(SECRET_PREFIX)) != 0)
		return false;
	memset(&s, 0, sizeof(s));
	p = text + strlen(SECRET_PREFIX);
	end = text + n;
	colon = memchr(p, ':', (size_t)(end - p));
	if (!colon || !iterations_parse(p, (size_t)(colon - p), &s.iterations))
		return false;
	dollar = memchr(colon + 1, '$', (size_t)(end - colon - 1));
	if (!dollar ||
	    !proto_base64_decode(colon + 1, (size_t)(dollar - colon - 1), s.salt, sizeof(s.salt),
	                         &s.salt_len) ||
	    s.salt_len == 0)
		return false;
	colon2 = memchr(dollar + 1, ':', (size_t)(end - dollar - 1));
	if (!colon2 ||
	    !proto_base64_decode(dollar + 1, (size_t)(colon2 - dollar - 1), s.stored_key, KEY_LEN,
	                         &k) ||
	    k != KEY_LEN)
		return false;
	if (!proto_base64_decode(colon2 + 1, (size_t)(end - colon2 - 1), s.server_key, KEY_LEN,
	                         &k) ||
	    k != KEY_LEN)
		return false;
	*out = s;
	return true;
}

bool proto_scram_secret_from_password(const char *password, const uint8_t *salt, size_t salt_len,
                                      int iterations, struct proto_scram_secret *out)
{
	uint8_t client_key[KEY_LEN];
	bool ok;

	memset(out, 0, sizeof(*out));
	if (!password || !salt)
		return false;
	ok = keys_from_password(password, salt, salt_len, iterations, client_key,
	                        out->server_key) &&
	     sha256(client_key, KEY_LEN, out->stored_key);
	OPENSSL_cleanse(client_key, sizeof(client_key));
	if (!ok) {
		memset(out, 0, sizeof(*out));
		return false;
	}
	out->iterations = iterations;
	memcpy(out->salt, salt, salt_len);
	out->salt_len = salt_len;
	return true;
}

size_t proto_scram_secret_format(const struct proto_scram_secret *s, char *out, size_t cap)
{
	struct text_out o;
	size_t n;

	if (!secret_ok(s))
		return 0;
	text_init(&o, out, cap);
	text_str(&o, SECRET_PREFIX);
	text_int(&o, s->iterations);
	text_put(&o, ":", 1);
	text_b64(&o, s->salt, s->salt_len);
	text_put(&o, "$", 1);
	text_b64(&o, s->stored_key, KEY_LEN);
	text_put(&o, ":", 1);
	text_b64(&o, s->server_key, KEY_LEN);
	return text_done(&o, &n) ? n : 0;
}

/* ---- server side ---- */

enum proto_scram_result proto_scram_server_first(struct proto_scram_server *s,
                                                 const struct proto_scram_secret *secret,
                                                 const uint8_t *msg, size_t len, char *out,
                                                 size_t cap, size_t *out_len)
{
	char nonce[NONCE_B64_LEN + 1];

	if (!random_nonce(nonce)) {
		memset(s, 0, sizeof(*s));
		if (out_len)
			*out_len = 0;
		return PROTO_SCRAM_MALFORMED;
	}
	return proto_scram_server_first_with_nonce(s, secret, msg, len, nonce, out, cap, out_len);
}

enum proto_scram_result proto_scram_server_first_with_nonce(struct proto_scram_server *s,
                                                            const struct proto_scram_secret *secret,
                                                            const uint8_t *msg, size_t len,
                                                            const char *server_nonce, char *out,
                                                            size_t cap, size_t *out_len)
{
	struct proto_scram_secret sec;
	struct attrs a;
	struct text_out o;
	const char *t = (const char *)msg, *user, *cnonce;
	size_t user_len, cnonce_len, snonce_len;
	char flag;

	if (out_len)
		*out_len = 0;
	if (secret)
		sec = *secret; /* before clearing `s`: `secret` may be &s->secret */
	memset(s, 0, sizeof(*s));
	if (!secret || !secret_ok(&sec) || !server_nonce)
		return PROTO_SCRAM_MALFORMED;
	snonce_len = strnlen(server_nonce, PROTO_SCRAM_MAX_NONCE + 1);
	if (!nonce_ok(server_nonce, snonce_len) || !text_ok(msg, len))
		return PROTO_SCRAM_MALFORMED;

	/* gs2-header: "n,," or "y,,"; channel binding ('p=') and an authzid are refused */
	if (len < GS2_HEADER_LEN || (t[0] != 'n' && t[0] != 'y') || t[1] != ',' || t[2] != ',')
		return PROTO_SCRAM_MALFORMED;
	flag = t[0];

	/* client-first-message-bare: "n=<ignored user>,r=<nonce>" and nothing more */
	a = (struct attrs){.p = t + GS2_HEADER_LEN, .len = len - GS2_HEADER_LEN};
	if (!attr_get(&a, 'n', &user, &user_len) || !attr_comma(&a) ||
	    !attr_get(&a, 'r', &cnonce, &cnonce_len) || !attr_end(&a) ||
	    !nonce_ok(cnonce, cnonce_len))
		return PROTO_SCRAM_MALFORMED;

	memcpy(s->nonce, cnonce, cnonce_len);
	memcpy(s->nonce + cnonce_len, server_nonce, snonce_len);
	s->nonce[cnonce_len + snonce_len] = '\0';
	memcpy(s->client_first_bare, a.p, a.len);
	s->client_first_bare[a.len] = '\0';

	text_init(&o, s->server_first, sizeof(s->server_first));
	text_str(&o, "r=");
	text_str(&o, s->nonce);
	text_str(&o, ",s=");
	text_b64(&o, sec.salt, sec.salt_len);
	text_str(&o, ",i=");
	text_int(&o, sec.iterations);
	if (o.failed)
		goto fail;
	text_init(&o, out, cap);
	text_str(&o, s->server_first);
	if (!text_done(&o, out_len))
		goto fail;
	s->secret = sec;
	s->cbind_flag = flag;
	return PROTO_SCRAM_OK;
fail:
	memset(s, 0, sizeof(*s));
	return PROTO_SCRAM_MALFORMED;
}

enum proto_scram_result proto_scram_server_final(struct proto_scram_server *s, const uint8_t *msg,
                                                 size_t len, char *out, size_t cap, size_t *out_len)
{
	char am[AUTH_MSG_MAX + 1];
	uint8_t proof[KEY_LEN], sig[KEY_LEN], client_key[KEY_LEN], stored[KEY_LEN];
	struct attrs a;
	struct text_out o;
	const char *t = (const char *)msg, *cbind, *nonce, *proof_b64;
	size_t cbind_len, nonce_len, proof_b64_len, without_proof, am_len, k;
	char flag = s->cbind_flag;
	enum proto_scram_result res = PROTO_SCRAM_MALFORMED;

	s->cbind_flag = 0; /* one attempt per server-first */
	if (out_len)
		*out_len = 0;
	if (!flag || !text_ok(msg, len))
		return PROTO_SCRAM_MALFORMED;

	/* "c=<biws|eSws>,r=<nonce>,p=<proof>" and nothing more */
	a = (struct attrs){.p = t, .len = len};
	if (!attr_get(&a, 'c', &cbind, &cbind_len) || !attr_comma(&a))
		return PROTO_SCRAM_MALFORMED;
	if (cbind_len != 4 || memcmp(cbind, flag == 'y' ? CBIND_Y_B64 : CBIND_N_B64, 4) != 0)
		return PROTO_SCRAM_MALFORMED;
	if (!attr_get(&a, 'r', &nonce, &nonce_len) || nonce_len != strlen(s->nonce) ||
	    memcmp(nonce, s->nonce, nonce_len) != 0)
		return PROTO_SCRAM_MALFORMED;
	without_proof = a.pos;
	if (!attr_comma(&a) || !attr_get(&a, 'p', &proof_b64, &proof_b64_len) || !attr_end(&a))
		return PROTO_SCRAM_MALFORMED;
	if (!proto_base64_decode(proof_b64, proof_b64_len, proof, sizeof(proof), &k) ||
	    k != KEY_LEN)
		return PROTO_SCRAM_MALFORMED;
	if (!auth_message(am, &am_len, s->client_first_bare, s->server_first,
	                  strlen(s->server_first), t, without_proof))
		return PROTO_SCRAM_MALFORMED;

	/* ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) == StoredKey */
	if (!hmac_sha256(s->secret.stored_key, am, am_len, sig))
		goto out;
	for (size_t i = 0; i < KEY_LEN; i++)
		client_key[i] = proof[i] ^ sig[i];
	if (!sha256(client_key, KEY_LEN, stored))
		goto out;
	if (CRYPTO_memcmp(stored, s->secret.stored_key, KEY_LEN) != 0) {
		res = PROTO_SCRAM_FAIL_PROOF;
		goto out;
	}
	if (!hmac_sha256(s->secret.server_key, am, am_len, sig))
		goto out;
	text_init(&o, out, cap);
	text_str(&o, "v=");
	text_b64(&o, sig, KEY_LEN);
	if (!text_done(&o, out_len))
		goto out;
	memcpy(s->client_key, client_key, KEY_LEN);
	s->have_client_key = true;
	res = PROTO_SCRAM_OK;
out:
	OPENSSL_cleanse(client_key, sizeof(client_key));
	OPENSSL_cleanse(sig, sizeof(sig));
	return res;
}

/* ---- client side ---- */

bool proto_scram_client_init_password(struct proto_scram_client *c, const char *password)
{
	size_t n;

	memset(c, 0, sizeof(*c));
	if (!password)
		return false;
	n = strnlen(password, sizeof(c->password));
	if (n == sizeof(c->password))
		return false;
	memcpy(c->password, password, n + 1);
	return true;
}

void proto_scram_client_init_keys(struct proto_scram_client *c,
                                  const uint8_t client_key[PROTO_SCRAM_KEY_LEN],
                                  const uint8_t server_key[PROTO_SCRAM_KEY_LEN])
{
	memset(c, 0, sizeof(*c));
	c->use_keys = true;
	memcpy(c->client_key, client_key, KEY_LEN);
	memcpy(c->server_key, server_key, KEY_LEN);
}

bool proto_scram_client_first(struct proto_scram_client *c, char *out, size_t cap, size_t *out_len)
{
	return proto_scram_client_first_with_nonce(c, NULL, NULL, out, cap, out_len);
}

bool proto_scram_client_first_with_nonce(struct proto_scram_client *c, const char *user,
                                         const char *nonce, char *out, size_t cap, size_t *out_len)
{
	char random[NONCE_B64_LEN + 1];
	struct text_out o;
	size_t n;

	if (out_len)
		*out_len = 0;
	c->client_nonce[0] = '\0';
	c->client_first_bare[0] = '\0';
	memset(c->expected_server_signature, 0, KEY_LEN);
	if (!nonce) {
		if (!random_nonce(random))
			return false;
		nonce = random;
	}
	n = strnlen(nonce, PROTO_SCRAM_MAX_NONCE + 1);
	if (!nonce_ok(nonce, n))
		return false;

	/* client-first-message-bare: "n=<saslname>,r=<nonce>" (',' and '=' escaped) */
	text_init(&o, c->client_first_bare, sizeof(c->client_first_bare));
	text_str(&o, "n=");
	for (const char *u = user ? user : ""; *u; u++) {
		if (*u == ',')
			text_str(&o, "=2C");
		else if (*u == '=')
			text_str(&o, "=3D");
		else
			text_put(&o, u, 1);
	}
	text_str(&o, ",r=");
	text_put(&o, nonce, n);
	if (o.failed)
		goto fail;
	text_init(&o, out, cap);
	text_str(&o, "n,,");
	text_str(&o, c->client_first_bare);
	if (!text_done(&o, out_len))
		goto fail;
	memcpy(c->client_nonce, nonce, n);
	c->client_nonce[n] = '\0';
	return true;
fail:
	c->client_first_bare[0] = '\0';
	if (out_len)
		*out_len = 0;
	return false;
}

enum proto_scram_result proto_scram_client_final(struct proto_scram_client *c, const uint8_t *msg,
                                                 size_t len, int max_iterations, char *out,
                                                 size_t cap, size_t *out_len)
{
	char am[AUTH_MSG_MAX + 1], final[PROTO_SCRAM_MAX_MSG + 1];
	uint8_t salt[PROTO_SCRAM_MAX_SALT], client_key[KEY_LEN], server_key[KEY_LEN];
	uint8_t stored[KEY_LEN], sig[KEY_LEN], proof[KEY_LEN];
	struct attrs a;
	struct text_out o;
	const char *t = (const char *)msg, *nonce, *salt_b64, *iter;
	size_t nonce_len, salt_b64_len, iter_len, salt_len, cn_len, final_len, am_len;
	int iterations;
	enum proto_scram_result res = PROTO_SCRAM_MALFORMED;

	if (out_len)
		*out_len = 0;
	memset(c->expected_server_signature, 0, KEY_LEN);
	if (!c->client_first_bare[0] || !text_ok(msg, len))
		return PROTO_SCRAM_MALFORMED;
	if (max_iterations < 1)
		max_iterations = PROTO_SCRAM_MAX_ITERATIONS;

	/* "r=<our nonce + theirs>,s=<salt>,i=<iterations>" and nothing more */
	a = (struct attrs){.p = t, .len = len};
	if (!attr_get(&a, 'r', &nonce, &nonce_len) || !attr_comma(&a) ||
	    !attr_get(&a, 's', &salt_b64, &salt_b64_len) || !attr_comma(&a) ||
	    !attr_get(&a, 'i', &iter, &iter_len) || !attr_end(&a))
		return PROTO_SCRAM_MALFORMED;
	cn_len = strlen(c->client_nonce);
	if (!nonce_ok(nonce, nonce_len) || nonce_len <= cn_len ||
	    memcmp(nonce, c->client_nonce, cn_len) != 0)
		return PROTO_SCRAM_MALFORMED;
	if (!proto_base64_decode(salt_b64, salt_b64_len, salt, sizeof(salt), &salt_len) ||
	    salt_len == 0)
		return PROTO_SCRAM_MALFORMED;
	if (!iterations_parse(iter, iter_len, &iterations) || iterations > max_iterations)
		return PROTO_SCRAM_MALFORMED;

	text_init(&o, final, sizeof(final));
	text_str(&o, "c=" CBIND_N_B64 ",r=");
	text_put(&o, nonce, nonce_len);
	if (!text_done(&o, &final_len) ||
	    !auth_message(am, &am_len, c->client_first_bare, t, len, final, final_len))
		return PROTO_SCRAM_MALFORMED;

	if (c->use_keys) {
		memcpy(client_key, c->client_key, KEY_LEN);
		memcpy(server_key, c->server_key, KEY_LEN);
	} else if (!keys_from_password(c->password, salt, salt_len, iterations, client_key,
	                               server_key)) {
		goto out;
	}
	if (!sha256(client_key, KEY_LEN, stored) || !hmac_sha256(stored, am, am_len, sig))
		goto out;
	for (size_t i = 0; i < KEY_LEN; i++)
		proof[i] = client_key[i] ^ sig[i];
	if (!hmac_sha256(server_key, am, am_len, sig))
		goto out;

	text_init(&o, out, cap);
	text_put(&o, final, final_len);
	text_str(&o, ",p=");
	text_b64(&o, proof, KEY_LEN);
	if (!text_done(&o, out_len))
		goto out;
	memcpy(c->expected_server_signature, sig, KEY_LEN);
	c->client_first_bare[0] = '\0'; /* one client-final per client-first */
	res = PROTO_SCRAM_OK;
out:
	OPENSSL_cleanse(client_key, sizeof(client_key));
	OPENSSL_cleanse(server_key, sizeof(server_key));
	OPENSSL_cleanse(sig, sizeof(sig));
	return res;
}

enum proto_scram_result proto_scram_client_verify(struct proto_scram_client *c, const uint8_t *msg,
                                                  size_t len)
{
	uint8_t expected[KEY_LEN], sig[KEY_LEN];
	struct attrs a;
	const char *v;
	size_t vlen, k;

	memcpy(expected, c->expected_server_signature, KEY_LEN);
	memset(c->expected_server_signature, 0, KEY_LEN); /* one verification per client-final */
	if (is_zero(expected, KEY_LEN) || !text_ok(msg, len))
		return PROTO_SCRAM_MALFORMED;
	a = (struct attrs){.p = (const char *)msg, .len = len};
	if (attr_get(&a, 'e', &v, &vlen))
		return PROTO_SCRAM_FAIL_PROOF; /* the server refused us */
	if (!attr_get(&a, 'v', &v, &vlen) || !attr_end(&a) ||
	    !proto_base64_decode(v, vlen, sig, sizeof(sig), &k) || k != KEY_LEN)
		return PROTO_SCRAM_MALFORMED;
	return CRYPTO_memcmp(sig, expected, KEY_LEN) == 0 ? PROTO_SCRAM_OK : PROTO_SCRAM_FAIL_PROOF;
}

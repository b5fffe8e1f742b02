/* protocol/random.c — see random.h. */
#include "protocol/random.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define POOL_SIZE 4096

/* Random bytes drawn ahead from OpenSSL, handed out once each (wiped as they go). One per
 * thread (RAND_bytes is safe to call from several threads), so handing out bytes needs no
 * lock. */
static _Thread_local struct random_pool {
	unsigned char pool[POOL_SIZE];
	size_t left; /* unused bytes, at the end of pool */
} rnd;

bool proto_random(void *buf, size_t n)
{
	if (n > POOL_SIZE / 4) {
		if (RAND_bytes(buf, (int)n) == 1)
			return true;
		OPENSSL_cleanse(buf, n);
		return false;
	}
	if (rnd.left < n) {
		if (RAND_bytes(rnd.pool, POOL_SIZE) != 1) {
			OPENSSL_cleanse(buf, n);
			rnd.left = 0;
			return false;
		}
		rnd.left = POOL_SIZE;
	}
	unsigned char *from = rnd.pool + POOL_SIZE - rnd.left;
	memcpy(buf, from, n);
	OPENSSL_cleanse(from, n);
	rnd.left -= n;
	return true;
}

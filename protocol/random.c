/* protocol/random.c — see random.h. */
#include "protocol/random.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define POOL_SIZE 4096

static unsigned char pool[POOL_SIZE];
static size_t left; /* unused bytes, at the end of pool */

bool proto_random(void *buf, size_t n)
{
	if (n > POOL_SIZE / 4) {
		if (RAND_bytes(buf, (int)n) == 1)
			return true;
		OPENSSL_cleanse(buf, n);
		return false;
	}
	if (left < n) {
		if (RAND_bytes(pool, POOL_SIZE) != 1) {
			OPENSSL_cleanse(buf, n);
			left = 0;
			return false;
		}
		left = POOL_SIZE;
	}
	unsigned char *from = pool + POOL_SIZE - left;
	memcpy(buf, from, n);
	OPENSSL_cleanse(from, n);
	left -= n;
	return true;
}

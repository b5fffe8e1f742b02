/* protocol/random.h — random bytes for nonces, salts and cancel keys, from OpenSSL's DRBG
 * drawn a block at a time: RAND_bytes() costs ~10k instructions a call in OpenSSL 3 whatever
 * the size, and a login needs a few small draws. Bytes handed out are wiped from the block.
 * Not for use across fork() (pglane does not fork). */
#ifndef PGLANE_PROTOCOL_RANDOM_H
#define PGLANE_PROTOCOL_RANDOM_H

#include <stdbool.h>
#include <stddef.h>

/* Fill buf with n random bytes; false when OpenSSL's generator fails (buf is then wiped). */
__attribute__((warn_unused_result)) bool proto_random(void *buf, size_t n);

#endif

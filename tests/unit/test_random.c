/* tests/unit/test_random.c — proto_random: the bytes it hands out are random (no two 16-byte
 * draws alike over several refills of its block, roughly half the bits set) and large draws
 * bypass the block. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "protocol/random.h"

Test(random, draws_differ_across_refills)
{
	enum { N = 1000 }; /* 16 KB: four refills of the 4 KB block */
	static uint8_t d[N][16];
	long bits = 0;
	for (int i = 0; i < N; i++) {
		cr_assert(proto_random(d[i], sizeof d[i]));
		for (int k = 0; k < 16; k++)
			bits += __builtin_popcount(d[i][k]);
	}
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			cr_assert_neq(memcmp(d[i], d[j], 16), 0, "draws %d and %d are equal", i, j);
	/* 128,000 bits: a fair source sets 64,000 +- ~180 (sd); 2,000 is 11 sd */
	cr_expect(bits > 62000 && bits < 66000, "%ld bits set of 128000", bits);
}

Test(random, odd_sizes_and_large_draws)
{
	uint8_t a[3000], b[3000];
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	cr_assert(proto_random(a, sizeof a)); /* larger than a quarter of the block: direct */
	cr_assert(proto_random(b, sizeof b));
	cr_expect_neq(memcmp(a, b, sizeof a), 0);
	uint8_t one = 0, seen = 0;
	for (int i = 0; i < 64; i++) { /* 1-byte draws: not all the same value */
		cr_assert(proto_random(&one, 1));
		seen |= (uint8_t)(one ^ 0x5a);
	}
	cr_expect_neq(seen, 0);
	cr_assert(proto_random(a, 0));
}

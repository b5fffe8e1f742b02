/* tests/fuzz/fuzz.h — what the libFuzzer targets share: the entry points' prototypes, an
 * invariant check that aborts (libFuzzer then saves the input as a crash), and a reader that
 * splits one fuzz input into a flags byte and length-prefixed parts. */
#ifndef PGLANE_TESTS_FUZZ_H
#define PGLANE_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the code under test: a violation is a bug, reported like a crash. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* Does [p, p + n) lie inside [base, base + size)? */
static inline int fuzz_inside(const void *p, size_t n, const uint8_t *base, size_t size)
{
	const uint8_t *q = p;
	return q >= base && (size_t)(q - base) <= size && n <= size - (size_t)(q - base);
}

/* A cursor over the fuzz input. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

/* One byte (0 when the input is used up). */
static inline uint8_t fuzz_byte(struct fuzz_in *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

/* A part of the input: a big-endian 16-bit length, then that many bytes (fewer when the input
 * ends first). The part is copied to its own heap block of exactly its size, so that ASan sees
 * a read past its end; free it with free(). `*len` receives its size. */
static inline uint8_t *fuzz_part(struct fuzz_in *in, size_t *len)
{
	size_t want = (size_t)fuzz_byte(in) << 8;
	want |= fuzz_byte(in);
	if (want > in->n)
		want = in->n;
	uint8_t *out = malloc(want ? want : 1);
	if (!out)
		abort();
	for (size_t i = 0; i < want; i++)
		out[i] = in->p[i];
	in->p += want;
	in->n -= want;
	*len = want;
	return out;
}

/* The rest of the input, copied as fuzz_part() does. */
static inline uint8_t *fuzz_rest(struct fuzz_in *in, size_t *len)
{
	uint8_t *out = malloc(in->n ? in->n : 1);
	if (!out)
		abort();
	for (size_t i = 0; i < in->n; i++)
		out[i] = in->p[i];
	*len = in->n;
	in->p += in->n;
	in->n = 0;
	return out;
}

#endif

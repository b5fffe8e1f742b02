/* pool/slowlog.c — the ring of recent slow statements. */
#include "pool/slowlog.h"

#include <string.h>
#include <strings.h>

static struct pool_slow ring[POOL_SLOWLOG_SIZE];
static size_t next, count;

void pool_slowlog_add(const struct pool_slow *e)
{
	ring[next] = *e;
	next = (next + 1) % POOL_SLOWLOG_SIZE;
	if (count < POOL_SLOWLOG_SIZE)
		count++;
}

size_t pool_slowlog_count(void)
{
	return count;
}

const struct pool_slow *pool_slowlog_get(size_t i)
{
	size_t first = (next + POOL_SLOWLOG_SIZE - count) % POOL_SLOWLOG_SIZE;
	return &ring[(first + i) % POOL_SLOWLOG_SIZE];
}

void pool_slow_text(const char *text, size_t len, char *out, size_t cap)
{
	static const char word[] = "password";
	const size_t wl = sizeof(word) - 1;
	if (cap == 0)
		return;
	size_t n = 0;
	for (size_t i = 0; i < len && text[i] && n + 1 < cap; i++) {
		if (len - i >= wl && strncasecmp(text + i, word, wl) == 0) {
			static const char mask[] = "password ***";
			for (size_t k = 0; mask[k] && n + 1 < cap; k++)
				out[n++] = mask[k];
			break;
		}
		char ch = text[i];
		out[n++] = (ch == '\n' || ch == '\r' || ch == '\t') ? ' ' : ch;
	}
	out[n] = '\0';
}

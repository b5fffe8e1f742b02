/* pool/slowlog.c — the ring of recent slow statements. */
#include "pool/slowlog.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

/* The last POOL_SLOWLOG_SIZE slow statements (SHOW SLOW). Owner today: the process's one
 * event loop. Under worker threads: process-wide, shared, behind its own mutex: any worker
 * adds (slow statements are rare), the console reads entries out under the lock. */
static struct slowlog_ring {
	struct pool_slow ring[POOL_SLOWLOG_SIZE];
	size_t next, count; /* where the next goes; entries kept */
} slow;

/* Any worker adds under this lock; SHOW SLOW reads with the world stopped (no worker adds). */
static pthread_mutex_t slow_lock = PTHREAD_MUTEX_INITIALIZER;

void pool_slowlog_add(const struct pool_slow *e)
{
	pthread_mutex_lock(&slow_lock);
	slow.ring[slow.next] = *e;
	slow.next = (slow.next + 1) % POOL_SLOWLOG_SIZE;
	if (slow.count < POOL_SLOWLOG_SIZE)
		slow.count++;
	pthread_mutex_unlock(&slow_lock);
}

size_t pool_slowlog_count(void)
{
	return slow.count;
}

const struct pool_slow *pool_slowlog_get(size_t i)
{
	size_t first = (slow.next + POOL_SLOWLOG_SIZE - slow.count) % POOL_SLOWLOG_SIZE;
	return &slow.ring[(first + i) % POOL_SLOWLOG_SIZE];
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

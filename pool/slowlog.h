/* pool/slowlog.h — the last slow statements, kept in memory for SHOW SLOW: a fixed ring,
 * oldest overwritten first. Statement texts are truncated and have passwords masked. */
#ifndef PGLANE_POOL_SLOWLOG_H
#define PGLANE_POOL_SLOWLOG_H

#include <stddef.h>
#include <stdint.h>

#define POOL_SLOWLOG_SIZE  100
#define POOL_SLOW_TEXT_MAX 1024

struct pool_slow {
	int64_t at_ms; /* wall clock, ms since the epoch */
	char database[64];
	char user[64];
	char lane[8];
	char application_name[64];
	char client[64];
	double duration_ms;
	double wait_ms;
	char query[POOL_SLOW_TEXT_MAX + 8];
};

/* Keep `e` (copied). */
void pool_slowlog_add(const struct pool_slow *e);
/* Entries kept. */
size_t pool_slowlog_count(void);
/* The i-th kept entry, oldest first (i < pool_slowlog_count()). */
const struct pool_slow *pool_slowlog_get(size_t i);
/* Copy statement text into `out` (`cap` bytes, NUL-terminated): at most cap-1 bytes, cut at
 * the word "password" (case-insensitive), after which "***" stands for the rest. */
void pool_slow_text(const char *text, size_t len, char *out, size_t cap);

#endif

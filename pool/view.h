/* pool/view.h — one registry that adds up every worker's (pool/owner.h): for each database ×
 * user × lane a pool whose counts, statistics and percentiles are the sums and merges of the
 * workers' pools of that key, so that SHOW POOLS, STATS, LANES, DATABASES, USERS, /metrics
 * and /status.json read one row per pool whatever the number of workers. Built in a spare
 * slot while every worker is parked (the world stopped), read there, then freed. The view's
 * pools have counts but no servers or clients in their lists. */
#ifndef PGLANE_POOL_VIEW_H
#define PGLANE_POOL_VIEW_H

#include <stdint.h>

#include "config/cfg.h"
#include "pool/owner.h"

/* The slot the view is built in: no worker has it. */
#define POOL_VIEW_SLOT (POOL_MAX_WORKERS - 1)

/* Build the view of workers 0..n-1 in POOL_VIEW_SLOT (any earlier view freed first). */
void pool_view_build(const struct cfg *cfg, unsigned n, int64_t now_ms);
/* Free the view. */
void pool_view_free(void);

#endif

/* pool/stats.h — latency histograms good for percentiles: log-linear buckets (16 per power
 * of two) from 1 microsecond to about 1.2 hours, counted over a sliding window of two
 * periods (the current one and the one before), so percentiles describe the last minute or
 * two rather than the whole life of the process. No allocation; pure functions of `now`. */
#ifndef PGLANE_POOL_STATS_H
#define PGLANE_POOL_STATS_H

#include <stdint.h>

#define POOL_HIST_SUB       16 /* buckets per power of two */
#define POOL_HIST_POWERS    32 /* 2^32 us = 71 minutes; longer goes to the last bucket */
#define POOL_HIST_BUCKETS   (POOL_HIST_SUB * POOL_HIST_POWERS)
#define POOL_HIST_PERIOD_US (60LL * 1000000) /* window: this period and the last */

struct pool_hist_window {
	uint64_t count;
	uint32_t b[POOL_HIST_BUCKETS];
};

struct pool_hist {
	int64_t period_start_us; /* start of `cur` */
	struct pool_hist_window cur, prev;
};

/* Count one sample of `us` microseconds at time `now_us`. */
void pool_hist_add(struct pool_hist *h, int64_t us, int64_t now_us);
/* Add `src`'s current window into `dst` (for totals over several pools). */
void pool_hist_merge(struct pool_hist *dst, const struct pool_hist *src, int64_t now_us);
/* Samples in the window. */
uint64_t pool_hist_count(struct pool_hist *h, int64_t now_us);
/* The `q`-quantile (0 < q < 1) in microseconds over the window (the upper edge of its
 * bucket, so within 1/16 of the true value); 0 without samples. */
int64_t pool_hist_quantile(struct pool_hist *h, double q, int64_t now_us);

/* Bucket of `us`, and the largest value a bucket holds (for tests). */
int pool_hist_bucket(int64_t us);
int64_t pool_hist_bucket_upper(int b);

#endif

/* pool/stats.c — log-linear latency histograms over a two-period sliding window. */
#include "pool/stats.h"

#include <string.h>

int pool_hist_bucket(int64_t us)
{
	if (us < POOL_HIST_SUB)
		return us < 0 ? 0 : (int)us; /* 0..15 us exactly */
	uint64_t v = (uint64_t)us;
	int msb = 63 - __builtin_clzll(v); /* >= 4 */
	int power = msb - 3;               /* 1.. */
	int sub = (int)((v >> (msb - 4)) & (POOL_HIST_SUB - 1));
	int b = power * POOL_HIST_SUB + sub;
	return b < POOL_HIST_BUCKETS ? b : POOL_HIST_BUCKETS - 1;
}

int64_t pool_hist_bucket_upper(int b)
{
	if (b < POOL_HIST_SUB)
		return b;
	int power = b / POOL_HIST_SUB, sub = b % POOL_HIST_SUB;
	int msb = power + 3;
	int64_t base = (int64_t)1 << msb;
	int64_t step = (int64_t)1 << (msb - 4);
	return base + (int64_t)(sub + 1) * step - 1;
}

/* Move the window forward to `now_us`. */
static void roll(struct pool_hist *h, int64_t now_us)
{
	if (h->period_start_us == 0) {
		h->period_start_us = now_us;
		return;
	}
	int64_t age = now_us - h->period_start_us;
	if (age < POOL_HIST_PERIOD_US)
		return;
	if (age < 2 * POOL_HIST_PERIOD_US)
		h->prev = h->cur;
	else
		memset(&h->prev, 0, sizeof(h->prev));
	memset(&h->cur, 0, sizeof(h->cur));
	h->period_start_us = now_us - age % POOL_HIST_PERIOD_US;
}

void pool_hist_add(struct pool_hist *h, int64_t us, int64_t now_us)
{
	roll(h, now_us);
	h->cur.b[pool_hist_bucket(us)]++;
	h->cur.count++;
}

void pool_hist_merge(struct pool_hist *dst, const struct pool_hist *src, int64_t now_us)
{
	struct pool_hist s = *src;
	roll(&s, now_us);
	roll(dst, now_us);
	for (int i = 0; i < POOL_HIST_BUCKETS; i++) {
		dst->cur.b[i] += s.cur.b[i] + s.prev.b[i];
	}
	dst->cur.count += s.cur.count + s.prev.count;
}

uint64_t pool_hist_count(struct pool_hist *h, int64_t now_us)
{
	roll(h, now_us);
	return h->cur.count + h->prev.count;
}

int64_t pool_hist_quantile(struct pool_hist *h, double q, int64_t now_us)
{
	uint64_t n = pool_hist_count(h, now_us);
	if (n == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)n);
	if (rank >= n)
		rank = n - 1;
	uint64_t seen = 0;
	for (int i = 0; i < POOL_HIST_BUCKETS; i++) {
		seen += (uint64_t)h->cur.b[i] + h->prev.b[i];
		if (seen > rank)
			return pool_hist_bucket_upper(i);
	}
	return pool_hist_bucket_upper(POOL_HIST_BUCKETS - 1);
}

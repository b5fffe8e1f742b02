/* admin/metrics.h — the Prometheus text exposition of pglane's state (GET /metrics): per
 * pool clients, servers, saturation, wait and query quantiles, counters; per lane slow
 * statements and statement timeouts. The same figures as SHOW POOLS. */
#ifndef PGLANE_ADMIN_METRICS_H
#define PGLANE_ADMIN_METRICS_H

#include "admin/console.h"
#include "admin/result.h"

/* Write the metrics into `out` (appended). `nclients` is the number of client
 * connections. */
void admin_metrics(const struct admin_ctx *ctx, int nclients, struct admin_buf *out);

/* auth_query look-ups since start (proxy/authq.c's counters). */
struct admin_authq_counts {
	uint64_t found, not_found, errors; /* look-ups finished, by result */
	uint64_t joined;                   /* logins that waited on a look-up already running */
	uint64_t in_flight;                /* look-ups running or queued now */
};
/* Their metrics, appended to `out`. */
void admin_metrics_authq(const struct admin_authq_counts *n, struct admin_buf *out);

#endif

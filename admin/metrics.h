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

/* Cancel requests forwarded to one peer since start (proxy/peer.c's counters). */
struct admin_peer_counts {
	int id;                         /* the peer's peer_id */
	uint64_t forwarded;             /* sent */
	uint64_t failed;                /* not sent: no address, no connection, or too late */
	uint64_t resolving, connecting; /* in flight now: its host looked up, connecting */
};
/* The counts of peer `id` in `p` (`n` of them), NULL when it has none. */
const struct admin_peer_counts *admin_peer_counts_find(const struct admin_peer_counts *p, size_t n,
                                                       int id);
/* Their metrics, appended to `out`: a series per peer of the config in force (`ctx->cfg`)
 * and per other id in `p` (`n`); `unknown`: the requests dropped for a peer not in
 * the config. */
void admin_metrics_peers(const struct admin_ctx *ctx, const struct admin_peer_counts *p, size_t n,
                         uint64_t unknown, struct admin_buf *out);

#endif

/* admin/metrics.c — Prometheus text format 0.0.4: HELP and TYPE once per family, then its
 * samples; label values escaped (\\, \", \n). */
#include "admin/metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pool/health.h"
#include "pool/pool.h"
#include "pool/slowlog.h"

static void put(struct admin_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct admin_buf *b, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		admin_buf_put(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* A label value with Prometheus escapes. */
static void label(char *out, size_t cap, const char *v)
{
	size_t n = 0;
	for (; *v && n + 3 < cap; v++) {
		if (*v == '\\' || *v == '"') {
			out[n++] = '\\';
			out[n++] = *v;
		} else if (*v == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else {
			out[n++] = *v;
		}
	}
	out[n] = '\0';
}

static void pool_labels(const struct pool *p, char *out, size_t cap)
{
	char db[130], user[130];
	label(db, sizeof(db), p->db->name);
	label(user, sizeof(user), p->user->name);
	snprintf(out, cap, "database=\"%s\",user=\"%s\",lane=\"%s\"", db, user,
	         cfg_lane_name(p->lane));
}

enum kind { GAUGE, COUNTER };

struct family {
	const char *name;
	const char *help;
	enum kind kind;
};

static void header(struct admin_buf *b, const struct family *f)
{
	put(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
	    f->kind == GAUGE ? "gauge" : "counter");
}

/* Value of family `i` for pool `p`. */
static double pool_value(int i, struct pool *p, int64_t now_us)
{
	const struct cfg_pool *pc = pool_cfg(p);
	switch (i) {
	case 0:
		return p->n_clients - p->n_waiting;
	case 1:
		return p->n_waiting;
	case 2:
		return p->n_active;
	case 3:
		return p->n_idle;
	case 4:
		return p->n_login;
	case 5:
		return pc->size;
	case 6:
		return pc->size > 0
		               ? (p->n_active > pc->size ? 1.0 : (double)p->n_active / pc->size)
		               : 0;
	case 7:
		return (double)p->stats.xact_count;
	case 8:
		return (double)p->stats.query_count;
	case 9:
		return (double)p->stats.received;
	case 10:
		return (double)p->stats.sent;
	case 11:
		return (double)p->stats.wait_time_us / 1e6;
	case 12:
		return (double)p->stats.slow_queries;
	case 13:
		return (double)p->stats.statement_timeouts;
	case 14:
		return p->n_pinned;
	case 15:
		return p->n_tested;
	case 16: {
		int64_t since = pool_oldest_wait_ms(p);
		if (!since)
			return 0;
		int64_t waited_us = now_us - since * 1000;
		return waited_us > 0 ? (double)waited_us / 1e6 : 0;
	}
	case 17:
		return (double)p->stats.xact_time_us / 1e6;
	case 18:
		return (double)p->stats.query_time_us / 1e6;
	case 19:
		return p->n_busy - p->n_tested;
	case 20:
		return (double)p->stats.server_connects;
	case 21:
		return (double)p->stats.server_connect_failures;
	case 22:
		return (double)p->stats.server_assignments;
	case 23:
		return (double)p->stats.client_parses;
	case 24:
		return (double)p->stats.server_parses;
	case 25:
		return (double)p->stats.binds;
	case 26:
		return p->reach.state == POOL_REACH_UP;
	default:
		return 0;
	}
}

/* Per database (PgBouncer's SHOW DATABASES as pgbouncer_exporter reads it), and the
 * max_client_conn of SHOW CONFIG. */
static void database_families(const struct admin_ctx *ctx, struct admin_buf *out)
{
	static const struct family fams[] = {
	        {"pglane_database_pool_size", "The oltp lane's pool size.", GAUGE},
	        {"pglane_database_reserve_pool_size", "The oltp lane's reserve pool size.", GAUGE},
	        {"pglane_database_max_connections", "max_db_connections (0 = none).", GAUGE},
	        {"pglane_database_current_connections",
	         "Server connections of the database, every user and lane.", GAUGE},
	        {"pglane_database_max_client_connections", "max_db_client_connections (0 = none).",
	         GAUGE},
	        {"pglane_database_current_client_connections",
	         "Logged-in clients of the database, every user and lane.", GAUGE},
	        {"pglane_database_paused", "1 while the database is paused.", GAUGE},
	        {"pglane_database_disabled", "1 while the database is disabled.", GAUGE},
	};
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		header(out, &fams[i]);
		for (struct pool_db *d = pool_db_next(NULL); d; d = pool_db_next(d)) {
			if (!d->cfg)
				continue;
			const struct cfg_pool *pc = &d->cfg->lanes[CFG_LANE_OLTP].pool;
			long long v[] = {pc->size,
			                 pc->reserve_pool_size,
			                 pc->max_db_connections,
			                 d->n_servers,
			                 pc->max_db_client_connections,
			                 d->n_clients,
			                 d->paused,
			                 d->disabled};
			char db[130];
			label(db, sizeof(db), d->name);
			put(out, "%s{database=\"%s\"} %lld\n", fams[i].name, db, v[i]);
		}
	}
	put(out,
	    "# HELP pglane_config_max_client_connections listen.max_client_conn.\n"
	    "# TYPE pglane_config_max_client_connections gauge\n"
	    "pglane_config_max_client_connections %d\n",
	    ctx->cfg ? ctx->cfg->listen.max_client_conn : 0);
}

/* The state set of each pool's server: 1 for its state (up, retrying, down), 0 for the
 * others. */
static void server_state_family(struct admin_buf *out)
{
	static const enum pool_reach_state states[] = {POOL_REACH_UP, POOL_REACH_RETRYING,
	                                               POOL_REACH_DOWN};
	char labels[400];
	put(out, "# HELP pglane_pool_server_state The pool's server state: up, retrying "
	         "(logins fail transiently, clients wait) or down.\n"
	         "# TYPE pglane_pool_server_state gauge\n");
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		if (!p->db->cfg)
			continue;
		pool_labels(p, labels, sizeof(labels));
		for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++)
			put(out, "pglane_pool_server_state{%s,state=\"%s\"} %d\n", labels,
			    pool_reach_name(states[k]), p->reach.state == states[k]);
	}
}

void admin_metrics(const struct admin_ctx *ctx, int nclients, struct admin_buf *out)
{
	static const struct family fams[] = {
	        {"pglane_pool_clients_active", "Clients of the pool not waiting for a server.",
	         GAUGE},
	        {"pglane_pool_clients_waiting", "Clients waiting for a server.", GAUGE},
	        {"pglane_pool_servers_active", "Server connections linked to a client.", GAUGE},
	        {"pglane_pool_servers_idle", "Server connections idle in the pool.", GAUGE},
	        {"pglane_pool_servers_login", "Server connections logging in.", GAUGE},
	        {"pglane_pool_size", "Configured pool size.", GAUGE},
	        {"pglane_pool_saturation_ratio", "Active servers over pool size (0 to 1).", GAUGE},
	        {"pglane_pool_transactions_total", "Transactions served.", COUNTER},
	        {"pglane_pool_queries_total", "Queries served.", COUNTER},
	        {"pglane_pool_received_bytes_total", "Bytes received from clients.", COUNTER},
	        {"pglane_pool_sent_bytes_total", "Bytes sent to clients.", COUNTER},
	        {"pglane_pool_wait_seconds_total", "Time clients spent waiting for a server.",
	         COUNTER},
	        {"pglane_pool_slow_queries_total", "Statements slower than the lane's slow_query.",
	         COUNTER},
	        {"pglane_pool_statement_timeouts_total",
	         "Statements cancelled by the lane's statement_timeout.", COUNTER},
	        {"pglane_pool_clients_pinned",
	         "Clients whose session state keeps them on their server connection.", GAUGE},
	        {"pglane_pool_servers_tested",
	         "Server connections being checked with server_check_query before use.", GAUGE},
	        {"pglane_pool_maxwait_seconds",
	         "How long the oldest waiting client has waited (PgBouncer's maxwait).", GAUGE},
	        {"pglane_pool_transaction_seconds_total", "Time spent in transactions.", COUNTER},
	        {"pglane_pool_query_seconds_total", "Time spent in queries.", COUNTER},
	        {"pglane_pool_servers_used",
	         "Server connections busy with pglane's own work (reset, rollback, apply).", GAUGE},
	        {"pglane_pool_server_logins_total", "Server connections opened.", COUNTER},
	        {"pglane_pool_server_login_failures_total", "Server logins that failed.", COUNTER},
	        {"pglane_pool_server_assignments_total",
	         "Times a server connection was given to a client.", COUNTER},
	        {"pglane_pool_client_parses_total", "Named prepared statements the clients parsed.",
	         COUNTER},
	        {"pglane_pool_server_parses_total",
	         "Named prepared statements pglane parsed on servers.", COUNTER},
	        {"pglane_pool_binds_total", "Binds of named prepared statements.", COUNTER},
	        {"pglane_pool_server_up",
	         "1 while the pool's server logins succeed, 0 while they fail (retrying or down).",
	         GAUGE},
	};
	char labels[400];
	put(out, "# HELP pglane_up pglane is running.\n# TYPE pglane_up gauge\npglane_up 1\n");
	put(out,
	    "# HELP pglane_info pglane's version.\n# TYPE pglane_info gauge\n"
	    "pglane_info{version=\"%s\"} 1\n",
	    ctx->version);
	int ndbs = 0, nusers = 0, npools = 0;
	for (struct pool_db *d = pool_db_next(NULL); d; d = pool_db_next(d))
		ndbs += d->cfg != NULL;
	for (struct pool_user *u = pool_user_next(NULL); u; u = pool_user_next(u))
		nusers++;
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p))
		npools += p->db->cfg != NULL;
	database_families(ctx, out);
	put(out,
	    "# HELP pglane_databases Databases seen (PgBouncer's SHOW LISTS databases).\n"
	    "# TYPE pglane_databases gauge\npglane_databases %d\n"
	    "# HELP pglane_users Users seen.\n# TYPE pglane_users gauge\npglane_users %d\n"
	    "# HELP pglane_pools Pools (database, user, lane).\n# TYPE pglane_pools gauge\n"
	    "pglane_pools %d\n",
	    ndbs, nusers, npools);
	put(out,
	    "# HELP pglane_clients Client connections.\n# TYPE pglane_clients gauge\n"
	    "pglane_clients %d\n",
	    nclients);
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		header(out, &fams[i]);
		for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
			if (!p->db->cfg)
				continue;
			pool_labels(p, labels, sizeof(labels));
			put(out, "%s{%s} %.17g\n", fams[i].name, labels,
			    pool_value((int)i, p, ctx->now_us));
		}
	}
	server_state_family(out);
	put(out, "# HELP pglane_pins_total Sessions pinned to their server connection, by the "
	         "state that pinned them.\n# TYPE pglane_pins_total counter\n");
	for (int k = 0; k < POOL_PIN_KINDS; k++)
		put(out, "pglane_pins_total{reason=\"%s\"} %llu\n", pool_pin_name(k),
		    (unsigned long long)pool_pins_total(k));
	put(out, "# HELP pglane_replication_healthy 1 when the monitored server answers.\n"
	         "# TYPE pglane_replication_healthy gauge\n");
	for (size_t i = 0; i < pool_health_count(); i++) {
		const struct pool_health *h = pool_health_at(i);
		char db[130], host[520];
		label(db, sizeof(db), h->database);
		label(host, sizeof(host), h->host);
		put(out, "pglane_replication_healthy{database=\"%s\",host=\"%s\",port=\"%d\"} %d\n",
		    db, host, h->port, h->healthy ? 1 : 0);
	}
	put(out, "# HELP pglane_replication_lag_seconds Replay lag of a replica.\n"
	         "# TYPE pglane_replication_lag_seconds gauge\n");
	for (size_t i = 0; i < pool_health_count(); i++) {
		const struct pool_health *h = pool_health_at(i);
		if (!h->healthy || h->role != POOL_ROLE_REPLICA || h->replay_lag_ms < 0)
			continue;
		char db[130], host[520];
		label(db, sizeof(db), h->database);
		label(host, sizeof(host), h->host);
		put(out,
		    "pglane_replication_lag_seconds{database=\"%s\",host=\"%s\",port=\"%d\"} "
		    "%.3f\n",
		    db, host, h->port, (double)h->replay_lag_ms / 1000.0);
	}
	put(out, "# HELP pglane_replication_standby_lag_bytes WAL a standby has not replayed, as "
	         "its primary reports it.\n# TYPE pglane_replication_standby_lag_bytes gauge\n");
	for (size_t i = 0; i < pool_health_count(); i++) {
		const struct pool_health *h = pool_health_at(i);
		for (size_t k = 0; h->healthy && k < h->nstandbys; k++) {
			if (h->standbys[k].lag_bytes < 0)
				continue;
			char db[130], name[130], addr[130];
			label(db, sizeof(db), h->database);
			label(name, sizeof(name), h->standbys[k].name);
			label(addr, sizeof(addr), h->standbys[k].addr);
			put(out,
			    "pglane_replication_standby_lag_bytes{database=\"%s\",standby=\"%s\","
			    "addr=\"%s\"} %lld\n",
			    db, name, addr, (long long)h->standbys[k].lag_bytes);
		}
	}
	put(out, "# HELP pglane_replication_slot_retained_bytes WAL kept for a replication slot.\n"
	         "# TYPE pglane_replication_slot_retained_bytes gauge\n");
	for (size_t i = 0; i < pool_health_count(); i++) {
		const struct pool_health *h = pool_health_at(i);
		for (size_t k = 0; h->healthy && k < h->nslots; k++) {
			if (h->slots[k].retained_bytes < 0)
				continue;
			char db[130], slot[130];
			label(db, sizeof(db), h->database);
			label(slot, sizeof(slot), h->slots[k].name);
			put(out,
			    "pglane_replication_slot_retained_bytes{database=\"%s\",slot=\"%s\","
			    "type=\"%s\"} %lld\n",
			    db, slot, h->slots[k].type, (long long)h->slots[k].retained_bytes);
		}
	}
	static const double qs[] = {0.5, 0.95, 0.99};
	static const char *const qn[] = {"0.5", "0.95", "0.99"};
	const char *hn[2] = {"pglane_pool_wait_seconds", "pglane_pool_query_seconds"};
	const char *hh[2] = {"Time waited for a server over the last minutes, by quantile.",
	                     "Statement run time over the last minutes, by quantile."};
	for (int k = 0; k < 2; k++) {
		put(out, "# HELP %s %s\n# TYPE %s gauge\n", hn[k], hh[k], hn[k]);
		for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
			if (!p->db->cfg)
				continue;
			pool_labels(p, labels, sizeof(labels));
			struct pool_hist *h = k == 0 ? &p->stats.wait_hist : &p->stats.query_hist;
			for (int q = 0; q < 3; q++)
				put(out, "%s{%s,quantile=\"%s\"} %.6f\n", hn[k], labels, qn[q],
				    (double)pool_hist_quantile(h, qs[q], ctx->now_us) / 1e6);
		}
	}
}

void admin_metrics_authq(const struct admin_authq_counts *n, struct admin_buf *out)
{
	put(out, "# HELP pglane_auth_queries_total auth_query look-ups of users missing from the "
	         "auth file, by result.\n# TYPE pglane_auth_queries_total counter\n");
	put(out, "pglane_auth_queries_total{result=\"found\"} %" PRIu64 "\n", n->found);
	put(out, "pglane_auth_queries_total{result=\"not_found\"} %" PRIu64 "\n", n->not_found);
	put(out, "pglane_auth_queries_total{result=\"error\"} %" PRIu64 "\n", n->errors);
	put(out, "# HELP pglane_auth_query_joined_total Logins that waited on a look-up of their "
	         "user already in flight.\n# TYPE pglane_auth_query_joined_total counter\n");
	put(out, "pglane_auth_query_joined_total %" PRIu64 "\n", n->joined);
	put(out, "# HELP pglane_auth_queries_in_flight auth_query look-ups running or queued.\n"
	         "# TYPE pglane_auth_queries_in_flight gauge\n");
	put(out, "pglane_auth_queries_in_flight %" PRIu64 "\n", n->in_flight);
}

const struct admin_peer_counts *admin_peer_counts_find(const struct admin_peer_counts *p, size_t n,
                                                       int id)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].id == id)
			return &p[i];
	return NULL;
}

static void put_peer(struct admin_buf *out, int id, const struct admin_peer_counts *c, int what)
{
	static const struct admin_peer_counts none;
	if (!c)
		c = &none;
	if (what == 0)
		put(out,
		    "pglane_peer_cancels_total{peer_id=\"%d\",result=\"forwarded\"} %" PRIu64 "\n"
		    "pglane_peer_cancels_total{peer_id=\"%d\",result=\"failed\"} %" PRIu64 "\n",
		    id, c->forwarded, id, c->failed);
	else
		put(out, "pglane_peer_cancels_in_flight{peer_id=\"%d\"} %" PRIu64 "\n", id,
		    c->resolving + c->connecting);
}

void admin_metrics_peers(const struct admin_ctx *ctx, const struct admin_peer_counts *p, size_t n,
                         uint64_t unknown, struct admin_buf *out)
{
	static const char *const heads[] = {
	        "# HELP pglane_peer_cancels_total Cancel requests forwarded to another pglane "
	        "(peers), by its peer_id and result: forwarded, or failed (no address, no "
	        "connection, or not sent in time).\n# TYPE pglane_peer_cancels_total counter\n",
	        "# HELP pglane_peer_cancels_in_flight Cancel requests being forwarded to a peer.\n"
	        "# TYPE pglane_peer_cancels_in_flight gauge\n"};
	for (int what = 0; what < 2; what++) {
		put(out, "%s", heads[what]);
		for (size_t i = 0; i < ctx->cfg->npeers; i++) { /* the peers of the config */
			int id = ctx->cfg->peers[i].id;
			put_peer(out, id, admin_peer_counts_find(p, n, id), what);
		}
		for (size_t i = 0; i < n; i++) /* and those a RELOAD took out of it */
			if (!cfg_peer_find(ctx->cfg, p[i].id))
				put_peer(out, p[i].id, &p[i], what);
	}
	put(out, "# HELP pglane_peer_cancels_unknown_total Cancel requests for a peer_id not in "
	         "peers, dropped.\n# TYPE pglane_peer_cancels_unknown_total counter\n");
	put(out, "pglane_peer_cancels_unknown_total %" PRIu64 "\n", unknown);
}

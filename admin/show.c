/* admin/show.c — the SHOW commands over pools, lanes, databases, config, slow statements,
 * clients and servers. Column names follow PgBouncer's where one exists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "admin/console.h"
#include "admin/metrics.h"
#include "config/cfg.h"
#include "pool/health.h"
#include "pool/pool.h"
#include "pool/slowlog.h"

#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The longest current wait in `p`, microseconds (FIFO: the first waiter). */
static int64_t max_wait_us(const struct pool *p, int64_t now_us)
{
	int64_t since = pool_oldest_wait_ms(p);
	if (!since)
		return 0;
	int64_t w = now_us - since * 1000;
	return w > 0 ? w : 0;
}

static int saturation(int active, int size)
{
	if (size <= 0)
		return 0;
	int pct = (int)((active * 100 + size / 2) / size);
	return pct > 100 ? 100 : pct;
}

static void row_quantiles(struct admin_result *r, struct pool_hist *h, int64_t now_us)
{
	admin_row_int(r, pool_hist_quantile(h, 0.50, now_us));
	admin_row_int(r, pool_hist_quantile(h, 0.95, now_us));
	admin_row_int(r, pool_hist_quantile(h, 0.99, now_us));
}

static void format_time(char *out, size_t cap, int64_t ms);

/* A pool's server state, since when (wall clock; pglane's start when it never changed) and
 * the last login error. */
static void row_reach(struct admin_result *r, const struct admin_ctx *ctx,
                      const struct pool_reach *reach)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	int64_t wall = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	int64_t since =
	        reach->since_ms ? wall - (ctx->now_us / 1000 - reach->since_ms) : ctx->started_ms;
	char at[40];
	format_time(at, sizeof(at), since);
	admin_row_str(r, pool_reach_name(reach->state));
	admin_row_str(r, at);
	admin_row_str(r, reach->error);
}

/* The database name a pool's rows carry: the olap lane's is "<db>.olap", so that each row's
 * (database, user) is unique as PgBouncer's tools assume. */
static const char *lane_db(char *buf, size_t cap, const char *db, enum cfg_lane_kind lane)
{
	if (lane == CFG_LANE_OLTP)
		return db;
	snprintf(buf, cap, "%s.%s", db, cfg_lane_name(lane));
	return buf;
}

void admin_show_pools(const struct admin_ctx *ctx, struct admin_result *r)
{
	/* PgBouncer 1.25's columns, then pglane's */
	static const char *const cols[] = {"database",
	                                   "user",
	                                   "cl_active",
	                                   "cl_waiting",
	                                   "cl_active_cancel_req",
	                                   "cl_waiting_cancel_req",
	                                   "sv_active",
	                                   "sv_active_cancel",
	                                   "sv_being_canceled",
	                                   "sv_idle",
	                                   "sv_used",
	                                   "sv_tested",
	                                   "sv_login",
	                                   "maxwait",
	                                   "maxwait_us",
	                                   "pool_mode",
	                                   "load_balance_hosts",
	                                   "lane",
	                                   "pool_size",
	                                   "saturation",
	                                   "wait_p50_us",
	                                   "wait_p95_us",
	                                   "wait_p99_us",
	                                   "query_p50_us",
	                                   "query_p95_us",
	                                   "query_p99_us",
	                                   "cl_pinned",
	                                   "held_by",
	                                   "server_state",
	                                   "server_state_since",
	                                   "server_error"};
	admin_result_columns_typed(r, cols,
	                           "ssiiiiiiiiiiiiiss"
	                           "siiqqqqqqis"
	                           "sss",
	                           NCOLS(cols));
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		if (!p->db->cfg)
			continue;
		const struct cfg_pool *pc = pool_cfg(p);
		char name[CFG_NAME_MAX + 8];
		int64_t wait = max_wait_us(p, ctx->now_us);
		admin_row_begin(r);
		admin_row_str(r, lane_db(name, sizeof(name), p->db->name, p->lane));
		admin_row_str(r, p->user->name);
		admin_row_int(r, p->n_clients - p->n_waiting);
		admin_row_int(r, p->n_waiting);
		admin_row_int(r, 0); /* cancel requests are forwarded at once, never queued */
		admin_row_int(r, 0);
		admin_row_int(r, p->n_active);
		admin_row_int(r, 0);
		admin_row_int(r, 0);
		admin_row_int(r, p->n_idle);
		admin_row_int(r, p->n_busy - p->n_tested);
		admin_row_int(r, p->n_tested);
		admin_row_int(r, p->n_login);
		admin_row_int(r, wait / 1000000);
		admin_row_int(r, wait % 1000000);
		admin_row_str(r, cfg_pool_mode_name(pc->mode));
		admin_row_str(r, NULL);
		admin_row_str(r, cfg_lane_name(p->lane));
		admin_row_int(r, pc->size);
		admin_row_int(r, saturation(p->n_active, pc->size));
		row_quantiles(r, &p->stats.wait_hist, ctx->now_us);
		row_quantiles(r, &p->stats.query_hist, ctx->now_us);
		admin_row_int(r, p->n_pinned);
		admin_row_str(r, pool_held_name(p->held_by));
		row_reach(r, ctx, &p->reach);
		admin_row_end(r);
	}
}

/* Pools summed per database entry and lane. */
struct lane_sum {
	const struct pool_db *db;
	enum cfg_lane_kind lane;
	int size, active, waiting, pinned;
	struct pool_stats st;
	struct pool_counts old, new; /* at the last two stats_period boundaries */
};

static struct lane_sum *sum_lanes(const struct admin_ctx *ctx, size_t *n)
{
	size_t cap = 8, len = 0;
	struct lane_sum *v = calloc(cap, sizeof(*v));
	if (!v) {
		*n = 0;
		return NULL;
	}
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		if (!p->db->cfg)
			continue;
		size_t i = 0;
		while (i < len && (v[i].db != p->db || v[i].lane != p->lane))
			i++;
		if (i == len) {
			if (len == cap) {
				struct lane_sum *g = realloc(v, cap * 2 * sizeof(*v));
				if (!g)
					break;
				v = g;
				cap *= 2;
			}
			memset(&v[len], 0, sizeof(v[len]));
			v[len].db = p->db;
			v[len].lane = p->lane;
			v[len].size = pool_cfg(p)->size;
			len++;
		}
		struct lane_sum *s = &v[i];
		s->active += p->n_active;
		s->waiting += p->n_waiting;
		s->pinned += p->n_pinned;
		pool_counts_add(&s->old, &p->period_old);
		pool_counts_add(&s->new, &p->period_new);
		s->st.server_assignments += p->stats.server_assignments;
		s->st.client_parses += p->stats.client_parses;
		s->st.server_parses += p->stats.server_parses;
		s->st.binds += p->stats.binds;
		s->st.xact_count += p->stats.xact_count;
		s->st.query_count += p->stats.query_count;
		s->st.received += p->stats.received;
		s->st.sent += p->stats.sent;
		s->st.xact_time_us += p->stats.xact_time_us;
		s->st.query_time_us += p->stats.query_time_us;
		s->st.wait_time_us += p->stats.wait_time_us;
		s->st.slow_queries += p->stats.slow_queries;
		s->st.statement_timeouts += p->stats.statement_timeouts;
		pool_hist_merge(&s->st.wait_hist, &p->stats.wait_hist, ctx->now_us);
		pool_hist_merge(&s->st.query_hist, &p->stats.query_hist, ctx->now_us);
	}
	*n = len;
	return v;
}

void admin_show_lanes(const struct admin_ctx *ctx, struct admin_result *r)
{
	static const char *const cols[] = {"database",     "lane",
	                                   "pool_size",    "sv_active",
	                                   "cl_waiting",   "saturation",
	                                   "wait_p50_us",  "wait_p95_us",
	                                   "wait_p99_us",  "query_p50_us",
	                                   "query_p95_us", "query_p99_us",
	                                   "slow_queries", "statement_timeouts",
	                                   "cl_pinned"};
	admin_result_columns(r, cols, NCOLS(cols));
	size_t n;
	struct lane_sum *v = sum_lanes(ctx, &n);
	for (size_t i = 0; i < n; i++) {
		admin_row_begin(r);
		admin_row_str(r, v[i].db->name);
		admin_row_str(r, cfg_lane_name(v[i].lane));
		admin_row_int(r, v[i].size);
		admin_row_int(r, v[i].active);
		admin_row_int(r, v[i].waiting);
		/* the lane's size applies per user pool; saturation of the busiest is not
		 * known here, so the lane reports active servers against one pool's size */
		admin_row_int(r, saturation(v[i].active, v[i].size));
		row_quantiles(r, &v[i].st.wait_hist, ctx->now_us);
		row_quantiles(r, &v[i].st.query_hist, ctx->now_us);
		admin_row_uint(r, v[i].st.slow_queries);
		admin_row_uint(r, v[i].st.statement_timeouts);
		admin_row_int(r, v[i].pinned);
		admin_row_end(r);
	}
	free(v);
}

/* PgBouncer's averages over the last stats_period: counts and bytes per second, times per
 * transaction, query and server assignment. */
static struct pool_counts period_avg(const struct pool_counts *o, const struct pool_counts *n)
{
	struct pool_counts a = {0};
	int64_t t0, t1;
	pool_stats_period_times(&t0, &t1);
	int64_t dur = t1 - t0;
	if (dur <= 0)
		return a;
	uint64_t xacts = n->xact_count - o->xact_count;
	uint64_t queries = n->query_count - o->query_count;
	uint64_t assigns = n->server_assignments - o->server_assignments;
	a.server_assignments = assigns * 1000000 / (uint64_t)dur;
	a.xact_count = xacts * 1000000 / (uint64_t)dur;
	a.query_count = queries * 1000000 / (uint64_t)dur;
	a.received = (n->received - o->received) * 1000000 / (uint64_t)dur;
	a.sent = (n->sent - o->sent) * 1000000 / (uint64_t)dur;
	a.xact_time_us = xacts ? (n->xact_time_us - o->xact_time_us) / xacts : 0;
	a.query_time_us = queries ? (n->query_time_us - o->query_time_us) / queries : 0;
	a.wait_time_us = assigns ? (n->wait_time_us - o->wait_time_us) / assigns : 0;
	a.client_parses = (n->client_parses - o->client_parses) * 1000000 / (uint64_t)dur;
	a.server_parses = (n->server_parses - o->server_parses) * 1000000 / (uint64_t)dur;
	a.binds = (n->binds - o->binds) * 1000000 / (uint64_t)dur;
	return a;
}

/* The eight counters and the three prepared statement counts PgBouncer shows after them. */
static void row_counts(struct admin_result *r, const struct pool_counts *c)
{
	admin_row_uint(r, c->server_assignments);
	admin_row_uint(r, c->xact_count);
	admin_row_uint(r, c->query_count);
	admin_row_uint(r, c->received);
	admin_row_uint(r, c->sent);
	admin_row_uint(r, c->xact_time_us);
	admin_row_uint(r, c->query_time_us);
	admin_row_uint(r, c->wait_time_us);
	admin_row_uint(r, c->client_parses);
	admin_row_uint(r, c->server_parses);
	admin_row_uint(r, c->binds);
}

void admin_show_stats(const struct admin_ctx *ctx, struct admin_result *r)
{
	/* PgBouncer 1.25's columns, then pglane's: the lane, and the pre-1.8 total_requests
	 * (queries) that Debian's prometheus-pgbouncer-exporter reads */
	static const char *const cols[] = {"database",
	                                   "total_server_assignment_count",
	                                   "total_xact_count",
	                                   "total_query_count",
	                                   "total_received",
	                                   "total_sent",
	                                   "total_xact_time",
	                                   "total_query_time",
	                                   "total_wait_time",
	                                   "total_client_parse_count",
	                                   "total_server_parse_count",
	                                   "total_bind_count",
	                                   "avg_server_assignment_count",
	                                   "avg_xact_count",
	                                   "avg_query_count",
	                                   "avg_recv",
	                                   "avg_sent",
	                                   "avg_xact_time",
	                                   "avg_query_time",
	                                   "avg_wait_time",
	                                   "avg_client_parse_count",
	                                   "avg_server_parse_count",
	                                   "avg_bind_count",
	                                   "lane",
	                                   "total_requests"};
	admin_result_columns_typed(r, cols,
	                           "sNNNNNNNNNNNNNNNNNNNNNN"
	                           "sN",
	                           NCOLS(cols));
	size_t n;
	struct lane_sum *v = sum_lanes(ctx, &n);
	for (size_t i = 0; i < n; i++) {
		char name[CFG_NAME_MAX + 8];
		struct pool_counts tot = pool_counts_of_stats(&v[i].st);
		struct pool_counts avg = period_avg(&v[i].old, &v[i].new);
		admin_row_begin(r);
		admin_row_str(r, lane_db(name, sizeof(name), v[i].db->name, v[i].lane));
		row_counts(r, &tot);
		row_counts(r, &avg);
		admin_row_str(r, cfg_lane_name(v[i].lane));
		admin_row_uint(r, tot.query_count);
		admin_row_end(r);
	}
	free(v);
}

static void show_stats_part(const struct admin_ctx *ctx, struct admin_result *r, bool averages)
{
	static const char *const tcols[] = {"database",
	                                    "server_assignment_count",
	                                    "xact_count",
	                                    "query_count",
	                                    "bytes_received",
	                                    "bytes_sent",
	                                    "xact_time",
	                                    "query_time",
	                                    "wait_time",
	                                    "client_parse_count",
	                                    "server_parse_count",
	                                    "bind_count",
	                                    "lane"};
	static const char *const acols[] = {"database",
	                                    "server_assignment_count",
	                                    "xact_count",
	                                    "query_count",
	                                    "bytes_received",
	                                    "bytes_sent",
	                                    "xact_time",
	                                    "query_time",
	                                    "wait_time",
	                                    "avg_client_parse_count",
	                                    "avg_server_parse_count",
	                                    "avg_bind_count",
	                                    "lane"};
	admin_result_columns_typed(r, averages ? acols : tcols,
	                           "sNNNNNNNNNNN"
	                           "s",
	                           NCOLS(tcols));
	size_t n;
	struct lane_sum *v = sum_lanes(ctx, &n);
	for (size_t i = 0; i < n; i++) {
		char name[CFG_NAME_MAX + 8];
		struct pool_counts c = averages ? period_avg(&v[i].old, &v[i].new)
		                                : pool_counts_of_stats(&v[i].st);
		admin_row_begin(r);
		admin_row_str(r, lane_db(name, sizeof(name), v[i].db->name, v[i].lane));
		row_counts(r, &c);
		admin_row_str(r, cfg_lane_name(v[i].lane));
		admin_row_end(r);
	}
	free(v);
}

void admin_show_stats_totals(const struct admin_ctx *ctx, struct admin_result *r)
{
	show_stats_part(ctx, r, false);
}

void admin_show_stats_averages(const struct admin_ctx *ctx, struct admin_result *r)
{
	show_stats_part(ctx, r, true);
}

void admin_show_totals(const struct admin_ctx *ctx, struct admin_result *r)
{
	(void)ctx;
	static const char *const cols[] = {"name", "value"};
	static const char *const names[] = {"server_assignment_count",
	                                    "xact_count",
	                                    "query_count",
	                                    "client_bytes",
	                                    "server_bytes",
	                                    "xact_time",
	                                    "query_time",
	                                    "wait_time",
	                                    "ps_client_parse_count",
	                                    "ps_server_parse_count",
	                                    "ps_bind_count"};
	admin_result_columns_typed(r, cols, "sN", 2);
	struct pool_counts tot = {0}, old = {0}, new = {0};
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		struct pool_counts c = pool_counts_of(p);
		pool_counts_add(&tot, &c);
		pool_counts_add(&old, &p->period_old);
		pool_counts_add(&new, &p->period_new);
	}
	struct pool_counts avg = period_avg(&old, &new);
	for (int k = 0; k < 2; k++) {
		const struct pool_counts *c = k ? &avg : &tot;
		const uint64_t v[] = {c->server_assignments, c->xact_count,   c->query_count,
		                      c->received,           c->sent,         c->xact_time_us,
		                      c->query_time_us,      c->wait_time_us, c->client_parses,
		                      c->server_parses,      c->binds};
		for (int j = 0; j < NCOLS(names); j++) {
			char key[64];
			snprintf(key, sizeof(key), "%s_%s", k ? "avg" : "total", names[j]);
			admin_row_begin(r);
			admin_row_str(r, key);
			admin_row_uint(r, v[j]);
			admin_row_end(r);
		}
	}
}

void admin_show_databases(const struct admin_ctx *ctx, struct admin_result *r)
{
	static const char *const cols[] = {"name",
	                                   "host",
	                                   "port",
	                                   "database",
	                                   "force_user",
	                                   "pool_size",
	                                   "min_pool_size",
	                                   "reserve_pool_size",
	                                   "server_lifetime",
	                                   "pool_mode",
	                                   "load_balance_hosts",
	                                   "max_connections",
	                                   "current_connections",
	                                   "max_client_connections",
	                                   "current_client_connections",
	                                   "paused",
	                                   "disabled",
	                                   "olap_pool_size",
	                                   "default_lane",
	                                   "reserve_pool"};
	admin_result_columns_typed(r, cols,
	                           "ssissiiiissiiiiii"
	                           "isi",
	                           NCOLS(cols));
	const struct cfg *c = ctx->cfg;
	for (size_t i = 0; i < c->ndatabases; i++) {
		const struct cfg_database *d = &c->databases[i];
		int conns = 0, clients = 0;
		bool paused = false, any = false;
		for (struct pool_db *db = pool_db_next(NULL); db; db = pool_db_next(db)) {
			if (db->cfg != d)
				continue;
			conns += db->n_servers;
			clients += db->n_clients;
			paused = paused || db->paused;
			any = true;
		}
		const struct cfg_pool *pc = &d->lanes[CFG_LANE_OLTP].pool;
		admin_row_begin(r);
		admin_row_str(r, d->name);
		/* several hosts: the one in use (the last that fit), else the list */
		int cur = d->nhosts > 1 ? pool_health_current(d) : -1;
		admin_row_str(r, cur >= 0 ? d->hosts[cur].host : d->host);
		admin_row_int(r, cur >= 0 ? d->hosts[cur].port : d->port);
		admin_row_str(r, d->dbname[0] ? d->dbname : d->name);
		admin_row_str(r, d->user[0] ? d->user : NULL);
		admin_row_int(r, pc->size);
		admin_row_int(r, pc->min_size);
		admin_row_int(r, pc->reserve_pool_size);
		admin_row_int(r, pc->server_lifetime_ms / 1000);
		admin_row_str(r, cfg_pool_mode_name(pc->mode));
		admin_row_str(r, NULL);
		admin_row_int(r, pc->max_db_connections);
		admin_row_int(r, conns);
		admin_row_int(r, pc->max_db_client_connections);
		admin_row_int(r, clients);
		admin_row_int(r, (any && paused) || pool_pause_all());
		admin_row_int(r, 0);
		if (d->lanes[CFG_LANE_OLAP].enabled)
			admin_row_int(r, d->lanes[CFG_LANE_OLAP].pool.size);
		else
			admin_row_str(r, NULL);
		admin_row_str(r, cfg_lane_name(d->default_lane));
		/* the pre-1.8 name of reserve_pool_size, which Debian's exporter reads */
		admin_row_int(r, pc->reserve_pool_size);
		admin_row_end(r);
	}
}

void admin_show_config(const struct admin_ctx *ctx, struct admin_result *r)
{
	static const char *const cols[] = {"key", "value", "default", "changeable"};
	admin_result_columns(r, cols, NCOLS(cols));
	struct cfg_kvs kv = {0}, def = {0};
	struct cfg_errors errs = {0};
	struct cfg *d = cfg_load(NULL, &errs);
	if (!cfg_flatten(ctx->cfg, &kv) || (d && !cfg_flatten(d, &def))) {
		admin_result_error(r, "53200", "out of memory");
		goto out;
	}
	for (size_t i = 0; i < kv.n; i++) {
		const char *dv = NULL;
		for (size_t j = 0; j < def.n && !dv; j++)
			if (strcmp(def.v[j].key, kv.v[i].key) == 0)
				dv = def.v[j].value;
		bool restart = strncmp(kv.v[i].key, "listen.", 7) == 0 ||
		               strcmp(kv.v[i].key, "admin.http_port") == 0 ||
		               strcmp(kv.v[i].key, "pool.track_parameters") == 0;
		admin_row_begin(r);
		admin_row_str(r, kv.v[i].key);
		admin_row_str(r, kv.v[i].value);
		admin_row_str(r, dv);
		admin_row_bool(r, !restart);
		admin_row_end(r);
	}
out:
	cfg_kvs_free(&kv);
	cfg_kvs_free(&def);
	cfg_free(d);
}

void admin_show_slow(const struct admin_ctx *ctx, struct admin_result *r)
{
	(void)ctx;
	static const char *const cols[] = {
	        "at",          "database", "user", "lane", "application_name",
	        "duration_ms", "wait_ms",  "query"};
	admin_result_columns(r, cols, NCOLS(cols));
	size_t n = pool_slowlog_count();
	for (size_t i = 0; i < n; i++) {
		const struct pool_slow *e = pool_slowlog_get(i);
		char at[40];
		time_t t = (time_t)(e->at_ms / 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		size_t k = strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(at + k, sizeof(at) - k, ".%03d+00", (int)(e->at_ms % 1000));
		admin_row_begin(r);
		admin_row_str(r, at);
		admin_row_str(r, e->database);
		admin_row_str(r, e->user);
		admin_row_str(r, e->lane);
		admin_row_str(r, e->application_name);
		admin_row_double(r, e->duration_ms, 3);
		admin_row_double(r, e->wait_ms, 3);
		admin_row_str(r, e->query);
		admin_row_end(r);
	}
}

static void format_time(char *out, size_t cap, int64_t ms)
{
	if (ms <= 0) {
		snprintf(out, cap, "%s", "");
		return;
	}
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%d %H:%M:%S+00", &tm);
}

struct conn_emit {
	struct admin_result *r;
	bool debug; /* SOCKETS: PgBouncer's buffer columns */
};

static void emit_conn(const struct admin_conn_info *c, void *arg)
{
	struct conn_emit *e = arg;
	struct admin_result *r = e->r;
	char ct[40], rt[40], ptr[16], link[16], db[CFG_NAME_MAX + 8];
	format_time(ct, sizeof(ct), c->connect_time_ms);
	format_time(rt, sizeof(rt), c->request_time_ms);
	snprintf(ptr, sizeof(ptr), "%u", c->id);
	snprintf(link, sizeof(link), "%u", c->link);
	if (c->lane && strcmp(c->lane, cfg_lane_name(CFG_LANE_OLTP)) != 0 && c->database &&
	    strcmp(c->database, ADMIN_DATABASE) != 0)
		snprintf(db, sizeof(db), "%s.%s", c->database, c->lane);
	else
		snprintf(db, sizeof(db), "%s", c->database ? c->database : "(nodb)");
	admin_row_begin(r);
	admin_row_str(r, c->type);
	admin_row_str(r, c->user);
	admin_row_str(r, db);
	admin_row_str(r, "none");
	admin_row_str(r, c->state);
	admin_row_str(r, c->addr);
	admin_row_int(r, c->port);
	admin_row_str(r, c->local_addr);
	admin_row_int(r, c->local_port);
	admin_row_str(r, ct);
	admin_row_str(r, rt);
	admin_row_int(r, c->wait_us / 1000000);
	admin_row_int(r, c->wait_us % 1000000);
	admin_row_int(r, 0);
	admin_row_str(r, ptr);
	admin_row_str(r, c->link ? link : "");
	admin_row_int(r, c->remote_pid);
	admin_row_str(r, c->tls ? "TLS" : "");
	admin_row_str(r, c->application_name ? c->application_name : "");
	admin_row_int(r, 0);
	admin_row_uint(r, c->id);
	if (e->debug)
		for (int k = 0; k < 7; k++)
			admin_row_int(r, 0);
	admin_row_str(r, c->lane);
	admin_row_str(r, c->pinned ? c->pinned : "");
	admin_row_end(r);
}

/* PgBouncer 1.25's columns of SHOW CLIENTS, SERVERS and SOCKETS, and their types. */
#define CONN_COLUMNS                                                                               \
	"type", "user", "database", "replication", "state", "addr", "port", "local_addr",          \
	        "local_port", "connect_time", "request_time", "wait", "wait_us", "close_needed",   \
	        "ptr", "link", "remote_pid", "tls", "application_name", "prepared_statements",     \
	        "id"
#define CONN_TYPES "ssssssisissiiississii"

void admin_show_conns(const struct admin_ctx *ctx, struct admin_result *r, bool servers,
                      const struct admin_ops *ops)
{
	(void)ctx;
	/* PgBouncer 1.25's columns, then pglane's */
	static const char *const cols[] = {CONN_COLUMNS, "lane", "pinned"};
	admin_result_columns_typed(r, cols, CONN_TYPES "ss", NCOLS(cols));
	struct conn_emit e = {r, false};
	if (servers)
		ops->servers(emit_conn, &e);
	else
		ops->clients(emit_conn, &e);
}

void admin_show_sockets(const struct admin_ctx *ctx, struct admin_result *r,
                        const struct admin_ops *ops)
{
	(void)ctx;
	static const char *const cols[] = {CONN_COLUMNS, "recv_pos",    "pkt_pos",   "pkt_remain",
	                                   "send_pos",   "send_remain", "pkt_avail", "send_avail",
	                                   "lane",       "pinned"};
	admin_result_columns_typed(r, cols,
	                           CONN_TYPES "iiiiiii"
	                                      "ss",
	                           NCOLS(cols));
	struct conn_emit e = {r, true};
	ops->clients(emit_conn, &e);
	ops->servers(emit_conn, &e);
}

static void count_conn(const struct admin_conn_info *c, void *arg)
{
	int *n = arg;
	n[0]++;
	if (c->state && strcmp(c->state, "login") == 0)
		n[1]++;
}

void admin_show_lists(const struct admin_ctx *ctx, struct admin_result *r,
                      const struct admin_ops *ops)
{
	static const char *const cols[] = {"list", "items"};
	admin_result_columns_typed(r, cols, "si", 2);
	int clients[2] = {0, 0}, servers[2] = {0, 0}, pools = 0, users = 0, dbs = 0;
	ops->clients(count_conn, clients);
	ops->servers(count_conn, servers);
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		pools++;
		bool seen = false;
		for (struct pool *q = pool_next(NULL); q != p && !seen; q = pool_next(q))
			seen = q->user == p->user;
		users += !seen;
	}
	for (struct pool_db *d = pool_db_next(NULL); d; d = pool_db_next(d))
		dbs++;
	const struct {
		const char *name;
		int n;
	} rows[] = {{"databases", dbs},
	            {"users", users},
	            {"peers", (int)ctx->cfg->npeers}, /* SHOW PEERS' rows, and PEER_POOLS' */
	            {"pools", pools},
	            {"peer_pools", (int)ctx->cfg->npeers},
	            {"free_clients", 0},
	            {"used_clients", clients[0]},
	            {"login_clients", clients[1]},
	            {"free_servers", 0},
	            {"used_servers", servers[0]},
	            {"dns_names", 0},
	            {"dns_zones", 0},
	            {"dns_queries", 0},
	            {"dns_pending", 0}};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		admin_row_begin(r);
		admin_row_str(r, rows[i].name);
		admin_row_int(r, rows[i].n);
		admin_row_end(r);
	}
}

static void user_row(struct admin_result *r, const struct admin_ctx *ctx, const char *name,
                     const struct pool_user *u)
{
	const struct cfg_user_settings *us = cfg_user_settings_find(ctx->cfg, name);
	char size[16] = "", res[16] = "";
	const char *mode = NULL;
	int max_conn = ctx->cfg->pool.max_user_connections;
	int max_cl = ctx->cfg->pool.max_user_client_connections;
	if (us) {
		if (us->set & (1u << CFG_PK_SIZE))
			snprintf(size, sizeof(size), "%9d", us->pool.size);
		if (us->set & (1u << CFG_PK_RESERVE_POOL_SIZE))
			snprintf(res, sizeof(res), "%9d", us->pool.reserve_pool_size);
		if (us->set & (1u << CFG_PK_MODE))
			mode = cfg_pool_mode_name(us->pool.mode);
		if (us->set & (1u << CFG_PK_MAX_USER_CONNECTIONS))
			max_conn = us->pool.max_user_connections;
		if (us->set & (1u << CFG_PK_MAX_USER_CLIENT_CONNECTIONS))
			max_cl = us->pool.max_user_client_connections;
	}
	admin_row_begin(r);
	admin_row_str(r, name);
	admin_row_str(r, size);
	admin_row_str(r, res);
	admin_row_str(r, mode);
	admin_row_int(r, max_conn);
	admin_row_int(r, u ? u->n_servers : 0);
	admin_row_int(r, max_cl);
	admin_row_int(r, u ? u->n_clients : 0);
	admin_row_end(r);
}

void admin_show_users(const struct admin_ctx *ctx, struct admin_result *r)
{
	static const char *const cols[] = {"name",
	                                   "pool_size",
	                                   "reserve_pool_size",
	                                   "pool_mode",
	                                   "max_user_connections",
	                                   "current_connections",
	                                   "max_user_client_connections",
	                                   "current_client_connections"};
	admin_result_columns_typed(r, cols, "ssssiiii", NCOLS(cols));
	/* the users of the pools, then those of the `users` list without a pool */
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		bool seen = false;
		for (struct pool *q = pool_next(NULL); q != p && !seen; q = pool_next(q))
			seen = q->user == p->user;
		if (!seen)
			user_row(r, ctx, p->user->name, p->user);
	}
	for (size_t i = 0; i < ctx->cfg->nusers; i++) {
		const char *name = ctx->cfg->users[i].name;
		const struct pool_user *u = pool_user_find(name);
		bool seen = false;
		for (struct pool *p = pool_next(NULL); p && !seen && u; p = pool_next(p))
			seen = p->user == u;
		if (!seen)
			user_row(r, ctx, name, u);
	}
}

void admin_show_state(const struct admin_ctx *ctx, struct admin_result *r)
{
	(void)ctx;
	static const char *const cols[] = {"key", "value"};
	admin_result_columns_typed(r, cols, "ss", 2);
	bool paused = pool_pause_all();
	const char *rows[][2] = {{"active", paused ? "no" : "yes"},
	                         {"paused", paused ? "yes" : "no"},
	                         {"suspended", "no"}};
	for (int i = 0; i < 3; i++) {
		admin_row_begin(r);
		admin_row_str(r, rows[i][0]);
		admin_row_str(r, rows[i][1]);
		admin_row_end(r);
	}
}

static void lag_cell(struct admin_result *r, int64_t v)
{
	if (v < 0)
		admin_row_str(r, NULL);
	else
		admin_row_int(r, v);
}

void admin_show_replication(const struct admin_ctx *ctx, struct admin_result *r)
{
	(void)ctx;
	static const char *const cols[] = {"database",  "host",    "port",
	                                   "role",      "state",   "replay_lag_ms",
	                                   "lag_bytes", "healthy", "checked_at"};
	admin_result_columns(r, cols, NCOLS(cols));
	for (size_t i = 0; i < pool_health_count(); i++) {
		const struct pool_health *h = pool_health_at(i);
		char at[40];
		format_time(at, sizeof(at), h->checked_at_ms);
		char state[160];
		if (!h->healthy)
			snprintf(state, sizeof(state), "unreachable: %s",
			         h->error[0] ? h->error : "not checked yet");
		else if (h->promoted)
			snprintf(state, sizeof(state), "promoted");
		else
			snprintf(state, sizeof(state), "%s",
			         h->role == POOL_ROLE_REPLICA ? "recovery" : "primary");
		admin_row_begin(r);
		admin_row_str(r, h->database);
		admin_row_str(r, h->host);
		admin_row_int(r, h->port);
		admin_row_str(r, h->role == POOL_ROLE_REPLICA   ? "replica"
		                 : h->role == POOL_ROLE_PRIMARY ? "primary"
		                                                : "unknown");
		admin_row_str(r, state);
		lag_cell(r, h->healthy ? h->replay_lag_ms : -1);
		lag_cell(r, h->healthy ? h->lag_bytes : -1);
		admin_row_bool(r, h->healthy);
		admin_row_str(r, at);
		admin_row_end(r);
		/* the standbys this primary streams to, as it reports them */
		for (size_t k = 0; h->healthy && k < h->nstandbys; k++) {
			const struct pool_standby *sb = &h->standbys[k];
			char host[160];
			snprintf(host, sizeof(host), "%s%s%s", sb->addr, sb->name[0] ? " " : "",
			         sb->name);
			admin_row_begin(r);
			admin_row_str(r, h->database);
			admin_row_str(r, host);
			admin_row_str(r, NULL);
			admin_row_str(r, "standby");
			admin_row_str(r, sb->state);
			lag_cell(r, sb->replay_lag_ms);
			lag_cell(r, sb->lag_bytes);
			admin_row_bool(r, strcmp(sb->state, "streaming") == 0);
			admin_row_str(r, at);
			admin_row_end(r);
		}
	}
}

void admin_show_slots(const struct admin_ctx *ctx, struct admin_result *r)
{
	(void)ctx;
	static const char *const cols[] = {"database", "slot_name", "slot_type", "active",
	                                   "retained_bytes"};
	admin_result_columns(r, cols, NCOLS(cols));
	for (size_t i = 0; i < pool_health_count(); i++) {
		const struct pool_health *h = pool_health_at(i);
		for (size_t k = 0; h->healthy && k < h->nslots; k++) {
			admin_row_begin(r);
			admin_row_str(r, h->database);
			admin_row_str(r, h->slots[k].name);
			admin_row_str(r, h->slots[k].type);
			admin_row_bool(r, h->slots[k].active);
			lag_cell(r, h->slots[k].retained_bytes);
			admin_row_end(r);
		}
	}
}

static void count_only(const struct admin_conn_info *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
}

void admin_show_mem(const struct admin_ctx *ctx, struct admin_result *r,
                    const struct admin_ops *ops)
{
	(void)ctx;
	/* pglane's objects by kind; sizes are not tracked apart (0) */
	static const char *const cols[] = {"name", "size", "used", "free", "memtotal"};
	admin_result_columns_typed(r, cols, "siiii", NCOLS(cols));
	int clients = 0, servers = 0, pools = 0;
	ops->clients(count_only, &clients);
	ops->servers(count_only, &servers);
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p))
		pools++;
	const struct {
		const char *name;
		int used;
	} rows[] = {{"pool", pools}, {"client", clients}, {"server", servers}};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		admin_row_begin(r);
		admin_row_str(r, rows[i].name);
		admin_row_int(r, 0);
		admin_row_int(r, rows[i].used);
		admin_row_int(r, 0);
		admin_row_int(r, 0);
		admin_row_end(r);
	}
}

void admin_show_fds(const struct admin_ctx *ctx, struct admin_result *r)
{
	(void)ctx;
	/* PgBouncer's columns for its online restart (-R), which pglane does not do: no rows */
	static const char *const cols[] = {
	        "fd",        "task",     "user",     "database",         "addr",
	        "port",      "cancel",   "link",     "client_encoding",  "std_strings",
	        "datestyle", "timezone", "password", "scram_client_key", "scram_server_key"};
	admin_result_columns_typed(r, cols, "issssiqisssssbb", NCOLS(cols));
}

void admin_show_peers(const struct admin_ctx *ctx, struct admin_result *r, bool pools,
                      const struct admin_ops *ops)
{
	/* PgBouncer's peering (cancel requests forwarded across processes): a row per peer of
	 * the config in force. SHOW PEERS: pool_size 0, as pglane keeps no pool of peer
	 * connections (a connection per forwarded cancel, closed once it is sent). SHOW
	 * PEER_POOLS: the forwards in flight, a request waiting for its peer's address or
	 * connection (cl_waiting_cancel_req), that connection (sv_login); nothing waits for an
	 * answer, as the protocol has none (cl_active_cancel_req, sv_active_cancel 0); then
	 * pglane's counts since start: forwarded (sent) and failed (not sent). */
	static const char *const peers[] = {"peer_id", "host", "port", "pool_size"};
	static const char *const peer_pools[] = {"peer_id",
	                                         "cl_active_cancel_req",
	                                         "cl_waiting_cancel_req",
	                                         "sv_active_cancel",
	                                         "sv_login",
	                                         "forwarded",
	                                         "failed"};
	if (!pools) {
		admin_result_columns_typed(r, peers, "isii", NCOLS(peers));
		for (size_t i = 0; i < ctx->cfg->npeers; i++) {
			const struct cfg_peer *p = &ctx->cfg->peers[i];
			admin_row_begin(r);
			admin_row_int(r, p->id);
			admin_row_str(r, p->host);
			admin_row_int(r, p->port);
			admin_row_int(r, 0);
			admin_row_end(r);
		}
		return;
	}
	admin_result_columns_typed(r, peer_pools, "iiiiiqq", NCOLS(peer_pools));
	size_t n = 0;
	uint64_t unknown = 0;
	struct admin_peer_counts *counts = ops && ops->peers ? ops->peers(&n, &unknown) : NULL;
	for (size_t i = 0; i < ctx->cfg->npeers; i++) {
		static const struct admin_peer_counts none;
		int id = ctx->cfg->peers[i].id;
		const struct admin_peer_counts *c = admin_peer_counts_find(counts, n, id);
		if (!c)
			c = &none;
		admin_row_begin(r);
		admin_row_int(r, id);
		admin_row_int(r, 0);
		admin_row_int(r, (int64_t)(c->resolving + c->connecting));
		admin_row_int(r, 0);
		admin_row_int(r, (int64_t)c->connecting);
		admin_row_int(r, (int64_t)c->forwarded);
		admin_row_int(r, (int64_t)c->failed);
		admin_row_end(r);
	}
	free(counts);
}

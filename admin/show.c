/* admin/show.c — the SHOW commands over pools, lanes, databases, config, slow statements,
 * clients and servers. Column names follow PgBouncer's where one exists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "admin/console.h"
#include "config/cfg.h"
#include "pool/health.h"
#include "pool/pool.h"
#include "pool/slowlog.h"

#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The longest current wait in `p`, microseconds (FIFO: the first waiter). */
static int64_t max_wait_us(const struct pool *p, int64_t now_us)
{
	const struct pool_list *first = pool_list_first(&p->waiting);
	if (!first)
		return 0;
	const struct pool_client *c = pool_container_of(first, struct pool_client, link);
	int64_t w = now_us - c->wait_start_ms * 1000;
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

void admin_show_pools(const struct admin_ctx *ctx, struct admin_result *r)
{
	static const char *const cols[] = {
	        "database",    "user",         "lane",         "cl_active",    "cl_waiting",
	        "sv_active",   "sv_idle",      "sv_used",      "sv_tested",    "sv_login",
	        "pool_size",   "saturation",   "maxwait_us",   "wait_p50_us",  "wait_p95_us",
	        "wait_p99_us", "query_p50_us", "query_p95_us", "query_p99_us", "pool_mode",
	        "cl_pinned",   "held_by"};
	admin_result_columns(r, cols, NCOLS(cols));
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		if (!p->db->cfg)
			continue;
		const struct cfg_pool *pc = pool_cfg(p);
		admin_row_begin(r);
		admin_row_str(r, p->db->name);
		admin_row_str(r, p->user->name);
		admin_row_str(r, cfg_lane_name(p->lane));
		admin_row_int(r, p->n_clients - p->n_waiting);
		admin_row_int(r, p->n_waiting);
		admin_row_int(r, p->n_active);
		admin_row_int(r, p->n_idle);
		admin_row_int(r, p->n_busy - p->n_tested);
		admin_row_int(r, p->n_tested);
		admin_row_int(r, p->n_login);
		admin_row_int(r, pc->size);
		admin_row_int(r, saturation(p->n_active, pc->size));
		admin_row_int(r, max_wait_us(p, ctx->now_us));
		row_quantiles(r, &p->stats.wait_hist, ctx->now_us);
		row_quantiles(r, &p->stats.query_hist, ctx->now_us);
		admin_row_str(r, cfg_pool_mode_name(pc->mode));
		admin_row_int(r, p->n_pinned);
		admin_row_str(r, pool_held_name(p->held_by));
		admin_row_end(r);
	}
}

/* Pools summed per database entry and lane. */
struct lane_sum {
	const struct pool_db *db;
	enum cfg_lane_kind lane;
	int size, active, waiting, pinned;
	struct pool_stats st;
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

void admin_show_stats(const struct admin_ctx *ctx, struct admin_result *r)
{
	static const char *const cols[] = {
	        "database",        "lane",           "total_xact_count", "total_query_count",
	        "total_received",  "total_sent",     "total_xact_time",  "total_query_time",
	        "total_wait_time", "avg_xact_count", "avg_query_count",  "avg_recv",
	        "avg_sent",        "avg_xact_time",  "avg_query_time",   "avg_wait_time"};
	admin_result_columns(r, cols, NCOLS(cols));
	size_t n;
	struct lane_sum *v = sum_lanes(ctx, &n);
	double up_s = (double)(wall_ms() - ctx->started_ms) / 1000.0;
	if (up_s < 1)
		up_s = 1;
	for (size_t i = 0; i < n; i++) {
		const struct pool_stats *st = &v[i].st;
		admin_row_begin(r);
		admin_row_str(r, v[i].db->name);
		admin_row_str(r, cfg_lane_name(v[i].lane));
		admin_row_uint(r, st->xact_count);
		admin_row_uint(r, st->query_count);
		admin_row_uint(r, st->received);
		admin_row_uint(r, st->sent);
		admin_row_uint(r, st->xact_time_us);
		admin_row_uint(r, st->query_time_us);
		admin_row_uint(r, st->wait_time_us);
		/* averages since start: counts and bytes per second, times per item */
		admin_row_uint(r, (uint64_t)((double)st->xact_count / up_s));
		admin_row_uint(r, (uint64_t)((double)st->query_count / up_s));
		admin_row_uint(r, (uint64_t)((double)st->received / up_s));
		admin_row_uint(r, (uint64_t)((double)st->sent / up_s));
		admin_row_uint(r, st->xact_count ? st->xact_time_us / st->xact_count : 0);
		admin_row_uint(r, st->query_count ? st->query_time_us / st->query_count : 0);
		admin_row_uint(r, st->xact_count ? st->wait_time_us / st->xact_count : 0);
		admin_row_end(r);
	}
	free(v);
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
	                                   "olap_pool_size",
	                                   "pool_mode",
	                                   "default_lane",
	                                   "current_connections",
	                                   "paused",
	                                   "disabled"};
	admin_result_columns(r, cols, NCOLS(cols));
	const struct cfg *c = ctx->cfg;
	for (size_t i = 0; i < c->ndatabases; i++) {
		const struct cfg_database *d = &c->databases[i];
		int conns = 0;
		bool paused = false, any = false;
		for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
			if (p->db->cfg != d)
				continue;
			conns += pool_server_count(p);
			paused = paused || p->db->paused;
			any = true;
		}
		admin_row_begin(r);
		admin_row_str(r, d->name);
		admin_row_str(r, d->host);
		admin_row_int(r, d->port);
		admin_row_str(r, d->dbname[0] ? d->dbname : "(as asked)");
		admin_row_str(r, d->user[0] ? d->user : NULL);
		admin_row_int(r, d->lanes[CFG_LANE_OLTP].pool.size);
		admin_row_int(r, d->lanes[CFG_LANE_OLTP].pool.min_size);
		if (d->lanes[CFG_LANE_OLAP].enabled)
			admin_row_int(r, d->lanes[CFG_LANE_OLAP].pool.size);
		else
			admin_row_str(r, NULL);
		admin_row_str(r, cfg_pool_mode_name(d->lanes[CFG_LANE_OLTP].pool.mode));
		admin_row_str(r, cfg_lane_name(d->default_lane));
		admin_row_int(r, conns);
		admin_row_int(r, (any && paused) || pool_pause_all());
		admin_row_int(r, 0);
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

static void emit_conn(const struct admin_conn_info *c, void *arg)
{
	struct admin_result *r = arg;
	char ct[40], rt[40];
	format_time(ct, sizeof(ct), c->connect_time_ms);
	format_time(rt, sizeof(rt), c->request_time_ms);
	admin_row_begin(r);
	admin_row_str(r, c->type);
	admin_row_str(r, c->user);
	admin_row_str(r, c->database);
	admin_row_str(r, c->lane);
	admin_row_str(r, c->state);
	admin_row_str(r, c->addr);
	admin_row_int(r, c->port);
	admin_row_str(r, c->local_addr);
	admin_row_int(r, c->local_port);
	admin_row_str(r, ct);
	admin_row_str(r, rt);
	admin_row_int(r, c->wait_us / 1000000);
	admin_row_int(r, c->wait_us % 1000000);
	admin_row_uint(r, c->id);
	if (c->link)
		admin_row_uint(r, c->link);
	else
		admin_row_str(r, NULL);
	if (c->remote_pid)
		admin_row_int(r, c->remote_pid);
	else
		admin_row_str(r, NULL);
	admin_row_str(r, c->tls ? "TLS" : "");
	admin_row_str(r, c->application_name ? c->application_name : "");
	admin_row_str(r, c->pinned ? c->pinned : "");
	admin_row_end(r);
}

void admin_show_conns(const struct admin_ctx *ctx, struct admin_result *r, bool servers,
                      const struct admin_ops *ops)
{
	(void)ctx;
	static const char *const cols[] = {
	        "type",         "user", "database",         "lane",       "state",
	        "addr",         "port", "local_addr",       "local_port", "connect_time",
	        "request_time", "wait", "wait_us",          "ptr",        "link",
	        "remote_pid",   "tls",  "application_name", "pinned"};
	admin_result_columns(r, cols, NCOLS(cols));
	if (servers)
		ops->servers(emit_conn, r);
	else
		ops->clients(emit_conn, r);
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

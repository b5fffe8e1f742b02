/* admin/status.c — /status.json and /ready: the figures of SHOW LANES, REPLICATION and
 * SLOTS as one JSON document for the status page, written with a small JSON writer
 * (strings escaped, integers and fixed-point numbers, null for unknown). */
#include "admin/status.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "pool/health.h"
#include "pool/pool.h"

static void put(struct admin_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct admin_buf *b, const char *fmt, ...)
{
	char s[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(s, sizeof(s), fmt, ap);
	va_end(ap);
	if (n > 0)
		admin_buf_put(b, s, (size_t)n < sizeof(s) ? (size_t)n : sizeof(s) - 1);
}

void admin_json_string(struct admin_buf *out, const char *s)
{
	admin_buf_put(out, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\') {
			char e[2] = {'\\', (char)*p};
			admin_buf_put(out, e, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			put(out, "\\u%04x", *p);
		} else {
			admin_buf_put(out, p, 1);
		}
	}
	admin_buf_put(out, "\"", 1);
}

/* "key": with a leading comma unless `first`. */
static void key(struct admin_buf *b, const char *k, bool first)
{
	if (!first)
		admin_buf_put(b, ",", 1);
	admin_json_string(b, k);
	admin_buf_put(b, ":", 1);
}

static void kstr(struct admin_buf *b, const char *k, const char *v)
{
	key(b, k, false);
	admin_json_string(b, v);
}

static void kint(struct admin_buf *b, const char *k, int64_t v)
{
	key(b, k, false);
	put(b, "%" PRId64, v);
}

/* An integer, or null when negative (unknown). */
static void kint_or_null(struct admin_buf *b, const char *k, int64_t v)
{
	key(b, k, false);
	if (v < 0)
		put(b, "null");
	else
		put(b, "%" PRId64, v);
}

static void kbool(struct admin_buf *b, const char *k, bool v)
{
	key(b, k, false);
	put(b, "%s", v ? "true" : "false");
}

static int64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Pools summed per database (as clients name it) and lane. */
struct lane_sum {
	const struct pool_db *db;
	enum cfg_lane_kind lane;
	const struct cfg_lane *lc;
	int size, cl_active, cl_waiting, cl_pinned, sv_active, sv_idle, sv_login;
	int64_t max_wait_us;
	struct pool_stats st;
};

/* The longest current wait in `p`, microseconds (FIFO: the first waiter). */
static int64_t max_wait_us(const struct pool *p, int64_t now_us)
{
	int64_t since = pool_oldest_wait_ms(p);
	if (!since)
		return 0;
	int64_t w = now_us - since * 1000;
	return w > 0 ? w : 0;
}

static void add_pool(struct lane_sum *s, struct pool *p, int64_t now_us)
{
	s->cl_active += p->n_clients - p->n_waiting;
	s->cl_waiting += p->n_waiting;
	s->cl_pinned += p->n_pinned;
	s->sv_active += p->n_active;
	s->sv_idle += p->n_idle;
	s->sv_login += p->n_login;
	int64_t w = max_wait_us(p, now_us);
	if (w > s->max_wait_us)
		s->max_wait_us = w;
	s->st.xact_count += p->stats.xact_count;
	s->st.query_count += p->stats.query_count;
	s->st.slow_queries += p->stats.slow_queries;
	s->st.statement_timeouts += p->stats.statement_timeouts;
	pool_hist_merge(&s->st.wait_hist, &p->stats.wait_hist, now_us);
	pool_hist_merge(&s->st.query_hist, &p->stats.query_hist, now_us);
}

static struct lane_sum *sum_lanes(int64_t now_us, size_t *n)
{
	size_t cap = 8, len = 0;
	struct lane_sum *v = calloc(cap, sizeof(*v));
	*n = 0;
	if (!v)
		return NULL;
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
			v[len].lc = pool_lane_cfg(p);
			v[len].size = pool_cfg(p)->size;
			len++;
		}
		add_pool(&v[i], p, now_us);
	}
	*n = len;
	return v;
}

static void quantiles(struct admin_buf *b, const char *k, struct pool_hist *h, int64_t now_us)
{
	key(b, k, false);
	put(b, "{\"p50\":%" PRId64 ",\"p95\":%" PRId64 ",\"p99\":%" PRId64 "}",
	    pool_hist_quantile(h, 0.50, now_us), pool_hist_quantile(h, 0.95, now_us),
	    pool_hist_quantile(h, 0.99, now_us));
}

static void lane_json(struct admin_buf *b, struct lane_sum *s, int64_t now_us)
{
	key(b, "database", true);
	admin_json_string(b, s->db->name);
	kstr(b, "lane", cfg_lane_name(s->lane));
	kint(b, "pool_size", s->size);
	double sat = s->size > 0 ? (double)s->sv_active / s->size : 0;
	key(b, "saturation", false);
	put(b, "%.3f", sat);
	kint(b, "clients_active", s->cl_active);
	kint(b, "clients_waiting", s->cl_waiting);
	kint(b, "clients_pinned", s->cl_pinned);
	kint(b, "servers_active", s->sv_active);
	kint(b, "servers_idle", s->sv_idle);
	kint(b, "servers_login", s->sv_login);
	kint(b, "max_wait_us", s->max_wait_us);
	quantiles(b, "wait_us", &s->st.wait_hist, now_us);
	quantiles(b, "query_us", &s->st.query_hist, now_us);
	kint(b, "transactions", (int64_t)s->st.xact_count);
	kint(b, "queries", (int64_t)s->st.query_count);
	kint(b, "slow_queries", (int64_t)s->st.slow_queries);
	kint(b, "statement_timeouts", (int64_t)s->st.statement_timeouts);
	const struct cfg_pool *pc = &s->lc->pool;
	kint(b, "slow_query_ms", pc->slow_query_ms);
	kint(b, "statement_timeout_ms", pc->statement_timeout_ms);
	if (s->lane == CFG_LANE_OLAP && s->lc->nreplicas > 0)
		kint(b, "max_replica_lag_ms", s->lc->max_replica_lag_ms);
	else
		kint_or_null(b, "max_replica_lag_ms", -1);
}

/* The configured max_replica_lag of database entry `name`'s olap lane, -1 when none. */
static int64_t max_lag_of(const struct cfg *cfg, const char *name)
{
	for (size_t i = 0; cfg && i < cfg->ndatabases; i++) {
		const struct cfg_lane *l = &cfg->databases[i].lanes[CFG_LANE_OLAP];
		if (strcmp(cfg->databases[i].name, name) == 0 && l->enabled && l->nreplicas)
			return l->max_replica_lag_ms;
	}
	return -1;
}

static const char *role_name(enum pool_role r)
{
	return r == POOL_ROLE_REPLICA ? "replica" : r == POOL_ROLE_PRIMARY ? "primary" : "unknown";
}

static void server_json(struct admin_buf *b, const struct pool_health *h, const struct cfg *cfg)
{
	key(b, "database", true);
	admin_json_string(b, h->database);
	kstr(b, "host", h->host);
	kint(b, "port", h->port);
	kstr(b, "role", role_name(h->role));
	kbool(b, "configured_replica", h->is_replica_entry);
	kbool(b, "healthy", h->healthy);
	kbool(b, "promoted", h->promoted);
	kstr(b, "error", h->healthy ? "" : (h->error[0] ? h->error : "not checked yet"));
	kint_or_null(b, "replay_lag_ms", h->healthy ? h->replay_lag_ms : -1);
	kint_or_null(b, "lag_bytes", h->healthy ? h->lag_bytes : -1);
	kint_or_null(b, "max_replica_lag_ms",
	             h->is_replica_entry ? max_lag_of(cfg, h->database) : -1);
	kint(b, "checked_at_ms", h->checked_at_ms);
}

/* The first keys of a standby's or a slot's object: the database and its primary. */
static void primary_keys(struct admin_buf *b, const struct pool_health *h)
{
	key(b, "database", true);
	admin_json_string(b, h->database);
	kstr(b, "primary_host", h->host);
	kint(b, "primary_port", h->port);
}

static void replication_json(struct admin_buf *b, const struct cfg *cfg)
{
	put(b, "\"servers\":[");
	for (size_t i = 0; i < pool_health_count(); i++) {
		put(b, "%s{", i ? "," : "");
		server_json(b, pool_health_at(i), cfg);
		put(b, "}");
	}
	put(b, "],\"standbys\":[");
	bool first = true;
	for (size_t i = 0; i < pool_health_count(); i++) {
		const struct pool_health *h = pool_health_at(i);
		for (size_t k = 0; h->healthy && k < h->nstandbys; k++) {
			const struct pool_standby *sb = &h->standbys[k];
			put(b, "%s{", first ? "" : ",");
			first = false;
			primary_keys(b, h);
			kstr(b, "name", sb->name);
			kstr(b, "addr", sb->addr);
			kstr(b, "state", sb->state);
			kstr(b, "sync_state", sb->sync_state);
			kint_or_null(b, "replay_lag_ms", sb->replay_lag_ms);
			kint_or_null(b, "lag_bytes", sb->lag_bytes);
			kbool(b, "healthy", strcmp(sb->state, "streaming") == 0);
			put(b, "}");
		}
	}
	put(b, "],\"slots\":[");
	first = true;
	for (size_t i = 0; i < pool_health_count(); i++) {
		const struct pool_health *h = pool_health_at(i);
		for (size_t k = 0; h->healthy && k < h->nslots; k++) {
			const struct pool_slot *sl = &h->slots[k];
			put(b, "%s{", first ? "" : ",");
			first = false;
			primary_keys(b, h);
			kstr(b, "name", sl->name);
			kstr(b, "type", sl->type);
			kbool(b, "active", sl->active);
			kint_or_null(b, "retained_bytes", sl->retained_bytes);
			kint_or_null(b, "flush_lag_bytes", sl->flush_lag_bytes);
			put(b, "}");
		}
	}
	put(b, "]");
}

void admin_status_json(const struct admin_ctx *ctx, int nclients, struct admin_buf *out)
{
	int64_t now = wall_ms();
	char iso[40];
	time_t t = (time_t)(now / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t k = strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(iso + k, sizeof(iso) - k, ".%03dZ", (int)(now % 1000));
	put(out, "{\"schema\":1");
	kstr(out, "version", ctx->version);
	kstr(out, "time", iso);
	kint(out, "time_ms", now);
	kint(out, "started_ms", ctx->started_ms);
	kint(out, "uptime_s", ctx->started_ms > 0 ? (now - ctx->started_ms) / 1000 : 0);
	kint(out, "clients", nclients);
	kbool(out, "paused", pool_pause_all());
	put(out, ",\"lanes\":[");
	size_t n;
	struct lane_sum *v = sum_lanes(ctx->now_us, &n);
	for (size_t i = 0; i < n; i++) {
		put(out, "%s{", i ? "," : "");
		lane_json(out, &v[i], ctx->now_us);
		put(out, "}");
	}
	free(v);
	put(out, "],\"replication\":{");
	replication_json(out, ctx->cfg);
	put(out, "}}\n");
}

/* The worst server state of the pools of database `d` that go to its primary, and the
 * error and start of that state. */
static const struct pool_reach *db_reach(const struct pool_db *d)
{
	const struct pool_reach *worst = NULL;
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		if (p->db != d || (p->lane == CFG_LANE_OLAP && p->olap_target >= 0))
			continue;
		if (!worst || p->reach.state > worst->state)
			worst = &p->reach;
	}
	return worst;
}

/* One line per database with a pool: its server state, for how long, and why. */
static bool ready_lines(struct admin_buf *b, int64_t now_ms)
{
	bool all_up = true;
	for (struct pool_db *d = pool_db_next(NULL); d; d = pool_db_next(d)) {
		const struct pool_reach *r = d->cfg ? db_reach(d) : NULL;
		if (!r)
			continue;
		put(b, "database %s: %s", d->name, pool_reach_name(r->state));
		if (r->since_ms)
			put(b, " for %.1f s", (double)(now_ms - r->since_ms) / 1000.0);
		put(b, "%s%s\n", r->error[0] ? ": " : "", r->error);
		all_up &= r->state == POOL_REACH_UP;
	}
	return all_up;
}

bool admin_status_ready(int64_t now_ms, struct admin_buf *out)
{
	bool ok = true;
	for (size_t i = 0; i < pool_health_count() && ok; i++) {
		const struct pool_health *h = pool_health_at(i);
		if (h->is_replica_entry || h->healthy)
			continue;
		put(out, "database %s: %s:%d %s\n", h->database, h->host, h->port,
		    h->error[0] ? h->error : "not checked yet");
		ok = false;
	}
	struct admin_buf lines = {0};
	bool up = ready_lines(&lines, now_ms);
	if (ok && up)
		put(out, "ready\n");
	else if (ok)
		put(out, "not ready: a database's server cannot be reached\n");
	admin_buf_put(out, lines.data, lines.len);
	admin_buf_free(&lines);
	return ok && up && !out->failed;
}

/* config/cfg_flat.c — a config as flat "dotted.key" = "value" pairs (cfg_flatten), the
 * difference between two configs key by key (cfg_diff, what a reload logs), and whether that
 * difference needs a restart (cfg_needs_restart). Values read as cfg_print shows them, without
 * libconfig quoting; passwords are masked everywhere except inside the comparison itself. */
#include "config/cfg.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_private.h"

#define MASK "***"
#define NONE "(none)"

/* ---- a growing string ------------------------------------------------------------------- */

struct sb {
	char *s; /* owned */
	size_t n, cap;
	bool failed;
};

static void sb_grow(struct sb *b, size_t more)
{
	if (b->failed)
		return;
	if (b->n + more + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 32;
	while (cap < b->n + more + 1)
		cap *= 2;
	char *s = realloc(b->s, cap);
	if (!s) {
		b->failed = true;
		return;
	}
	b->s = s;
	b->cap = cap;
}

static void sb_putn(struct sb *b, const char *s, size_t n)
{
	sb_grow(b, n);
	if (b->failed)
		return;
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sb *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->failed = true; /* only used for numbers */
		return;
	}
	sb_putn(b, tmp, (size_t)n);
}

/* The built string (owned by the caller, "" when nothing was added), or NULL when out of
 * memory (then nothing is left allocated). */
static char *sb_take(struct sb *b)
{
	if (!b->failed && !b->s)
		sb_grow(b, 0);
	if (b->failed) {
		free(b->s);
		b->s = NULL;
		return NULL;
	}
	b->s[b->n] = '\0';
	return b->s;
}

/* ---- flattening --------------------------------------------------------------------------- */

struct flat {
	struct cfg_kvs kv;
	size_t cap;
	bool failed;
	bool reveal; /* keep passwords as they are (for comparing, never shown) */
};

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* Append `prefix``name` = `value` (owned; NULL means out of memory). */
static void add_kv(struct flat *f, const char *prefix, const char *name, char *value)
{
	struct sb key = {0};
	sb_puts(&key, prefix);
	sb_puts(&key, name);
	char *k = sb_take(&key);
	if (f->failed || !k || !value)
		goto fail;
	if (f->kv.n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		struct cfg_kv *v = realloc(f->kv.v, cap * sizeof(*v));
		if (!v)
			goto fail;
		f->kv.v = v;
		f->cap = cap;
	}
	f->kv.v[f->kv.n].key = k;
	f->kv.v[f->kv.n].value = value;
	f->kv.n++;
	return;
fail:
	f->failed = true;
	free(k);
	free(value);
}

static void add_str(struct flat *f, const char *prefix, const char *name, const char *s)
{
	add_kv(f, prefix, name, strdup(str_or_empty(s)));
}

static void add_int(struct flat *f, const char *prefix, const char *name, long long v)
{
	struct sb b = {0};
	sb_printf(&b, "%lld", v);
	add_kv(f, prefix, name, sb_take(&b));
}

/* cfg_print's rule: the largest unit that divides `ms` exactly ("0", "250ms", "2s", "2min"). */
static void add_duration(struct flat *f, const char *prefix, const char *name, int64_t ms)
{
	static const struct {
		int64_t ms;
		const char *unit;
	} units[] = {{3600 * 1000, "h"}, {60 * 1000, "min"}, {1000, "s"}, {1, "ms"}};
	struct sb b = {0};
	if (ms == 0) {
		sb_puts(&b, "0");
	} else {
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (ms % units[i].ms == 0) {
				sb_printf(&b, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
				break;
			}
		}
	}
	add_kv(f, prefix, name, sb_take(&b));
}

static void add_bool(struct flat *f, const char *prefix, const char *name, bool v)
{
	add_str(f, prefix, name, v ? "true" : "false");
}

static void add_strv(struct flat *f, const char *prefix, const char *name, char *const *v, size_t n)
{
	struct sb b = {0};
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_puts(&b, ",");
		sb_puts(&b, str_or_empty(v[i]));
	}
	add_kv(f, prefix, name, sb_take(&b));
}

static void add_secret(struct flat *f, const char *prefix, const char *name, const char *s)
{
	s = str_or_empty(s);
	add_str(f, prefix, name, f->reveal ? s : (*s ? MASK : ""));
}

/* Which caps a group may hold: `pool` both, a database max_db_*, a lane neither. */
enum { FLAT_DB_CAPS = 1, FLAT_USER_CAPS = 2 };

static void add_pool(struct flat *f, const char *prefix, const struct cfg_pool *p, unsigned where)
{
	add_str(f, prefix, "mode", cfg_pool_mode_name(p->mode));
	add_int(f, prefix, "size", p->size);
	add_int(f, prefix, "min_size", p->min_size);
	add_int(f, prefix, "max_prepared_statements", p->max_prepared_statements);
	add_duration(f, prefix, "statement_timeout", p->statement_timeout_ms);
	add_duration(f, prefix, "idle_in_transaction_timeout", p->idle_in_transaction_timeout_ms);
	add_duration(f, prefix, "client_idle_timeout", p->client_idle_timeout_ms);
	add_duration(f, prefix, "query_wait_timeout", p->query_wait_timeout_ms);
	add_duration(f, prefix, "slow_query", p->slow_query_ms);
	add_duration(f, prefix, "server_lifetime", p->server_lifetime_ms);
	add_duration(f, prefix, "server_idle_timeout", p->server_idle_timeout_ms);
	add_duration(f, prefix, "server_connect_timeout", p->server_connect_timeout_ms);
	add_duration(f, prefix, "client_login_timeout", p->client_login_timeout_ms);
	add_str(f, prefix, "server_reset_query", p->server_reset_query);
	add_strv(f, prefix, "track_parameters", p->track_parameters, p->ntrack_parameters);
	add_str(f, prefix, "pin_session_state", cfg_pin_mode_name(p->pin_session_state));
	add_strv(f, prefix, "ignore_startup_parameters", p->ignore_startup_parameters,
	         p->nignore_startup_parameters);
	add_int(f, prefix, "reserve_pool_size", p->reserve_pool_size);
	add_duration(f, prefix, "reserve_pool_timeout", p->reserve_pool_timeout_ms);
	add_str(f, prefix, "server_check_query", p->server_check_query);
	add_duration(f, prefix, "server_check_delay", p->server_check_delay_ms);
	add_bool(f, prefix, "server_round_robin", p->server_round_robin);
	add_bool(f, prefix, "server_reset_query_always", p->server_reset_query_always);
	add_duration(f, prefix, "transaction_timeout", p->transaction_timeout_ms);
	add_duration(f, prefix, "cancel_wait_timeout", p->cancel_wait_timeout_ms);
	add_duration(f, prefix, "server_login_retry", p->server_login_retry_ms);
	add_duration(f, prefix, "query_wait_notify", p->query_wait_notify_ms);
	if (where & FLAT_DB_CAPS) {
		add_int(f, prefix, "max_db_connections", p->max_db_connections);
		add_int(f, prefix, "max_db_client_connections", p->max_db_client_connections);
	}
	if (where & FLAT_USER_CAPS) {
		add_int(f, prefix, "max_user_connections", p->max_user_connections);
		add_int(f, prefix, "max_user_client_connections", p->max_user_client_connections);
	}
}

/* "users.<name>.<key>" for each key the user sets. */
static void add_user(struct flat *f, const struct cfg_user_settings *u)
{
	struct sb pb = {0};
	sb_puts(&pb, "users.");
	sb_puts(&pb, str_or_empty(u->name));
	sb_puts(&pb, ".");
	char *prefix = sb_take(&pb);
	if (!prefix) {
		f->failed = true;
		return;
	}
	const struct cfg_pool *p = &u->pool;
	for (int k = 0; k < CFG_PK_COUNT_USER; k++) {
		if (!(u->set & (1u << k)))
			continue;
		switch ((enum cfg_pool_key)k) {
		case CFG_PK_MODE:
			add_str(f, prefix, "mode", cfg_pool_mode_name(p->mode));
			break;
		case CFG_PK_SIZE:
			add_int(f, prefix, "size", p->size);
			break;
		case CFG_PK_MIN_SIZE:
			add_int(f, prefix, "min_size", p->min_size);
			break;
		case CFG_PK_RESERVE_POOL_SIZE:
			add_int(f, prefix, "reserve_pool_size", p->reserve_pool_size);
			break;
		case CFG_PK_MAX_PREPARED_STATEMENTS:
			add_int(f, prefix, "max_prepared_statements", p->max_prepared_statements);
			break;
		case CFG_PK_STATEMENT_TIMEOUT:
			add_duration(f, prefix, "statement_timeout", p->statement_timeout_ms);
			break;
		case CFG_PK_IDLE_IN_TRANSACTION_TIMEOUT:
			add_duration(f, prefix, "idle_in_transaction_timeout",
			             p->idle_in_transaction_timeout_ms);
			break;
		case CFG_PK_CLIENT_IDLE_TIMEOUT:
			add_duration(f, prefix, "client_idle_timeout", p->client_idle_timeout_ms);
			break;
		case CFG_PK_QUERY_WAIT_TIMEOUT:
			add_duration(f, prefix, "query_wait_timeout", p->query_wait_timeout_ms);
			break;
		case CFG_PK_QUERY_WAIT_NOTIFY:
			add_duration(f, prefix, "query_wait_notify", p->query_wait_notify_ms);
			break;
		case CFG_PK_TRANSACTION_TIMEOUT:
			add_duration(f, prefix, "transaction_timeout", p->transaction_timeout_ms);
			break;
		case CFG_PK_SLOW_QUERY:
			add_duration(f, prefix, "slow_query", p->slow_query_ms);
			break;
		case CFG_PK_PIN_SESSION_STATE:
			add_str(f, prefix, "pin_session_state",
			        cfg_pin_mode_name(p->pin_session_state));
			break;
		case CFG_PK_MAX_USER_CONNECTIONS:
			add_int(f, prefix, "max_user_connections", p->max_user_connections);
			break;
		case CFG_PK_MAX_USER_CLIENT_CONNECTIONS:
			add_int(f, prefix, "max_user_client_connections",
			        p->max_user_client_connections);
			break;
		case CFG_PK_COUNT_USER:
			break;
		}
	}
	free(prefix);
}

/* "host:port,host:port"; an IPv6 address in brackets ("[::1]:5433"). */
static char *replicas_text(const struct cfg_lane *l)
{
	struct sb b = {0};
	for (size_t i = 0; i < l->nreplicas; i++) {
		const char *host = str_or_empty(l->replicas[i].host);
		bool v6 = strchr(host, ':') != NULL;
		if (i)
			sb_puts(&b, ",");
		sb_puts(&b, v6 ? "[" : "");
		sb_puts(&b, host);
		sb_puts(&b, v6 ? "]" : "");
		sb_printf(&b, ":%d", l->replicas[i].port);
	}
	return sb_take(&b);
}

static void add_database(struct flat *f, const struct cfg_database *db)
{
	struct sb pb = {0};
	sb_puts(&pb, "databases.");
	sb_puts(&pb, str_or_empty(db->name));
	sb_puts(&pb, ".");
	char *prefix = sb_take(&pb);
	if (!prefix) {
		f->failed = true;
		return;
	}
	add_str(f, prefix, "host", db->host);
	if (db->port_list[0])
		add_str(f, prefix, "port", db->port_list);
	else
		add_int(f, prefix, "port", db->port);
	if (db->nhosts > 1 || db->target_session_attrs != CFG_TSA_ANY) /* as before: one host */
		add_str(f, prefix, "target_session_attrs", cfg_tsa_name(db->target_session_attrs));
	add_str(f, prefix, "dbname", db->dbname);
	add_str(f, prefix, "user", db->user);
	add_secret(f, prefix, "password", db->password);
	add_str(f, prefix, "default_lane", cfg_lane_name(db->default_lane));
	add_str(f, prefix, "sslmode", cfg_sslmode_name(db->sslmode));
	add_str(f, prefix, "sslrootcert", db->sslrootcert);
	add_str(f, prefix, "connect_query", db->connect_query);
	add_str(f, prefix, "auth_user", db->auth_user);
	add_str(f, prefix, "auth_query", db->auth_query);
	add_str(f, prefix, "auth_dbname", db->auth_dbname);
	add_int(f, prefix, "max_db_connections", db->lanes[CFG_LANE_OLTP].pool.max_db_connections);
	add_int(f, prefix, "max_db_client_connections",
	        db->lanes[CFG_LANE_OLTP].pool.max_db_client_connections);
	for (int k = 0; k < CFG_LANE_COUNT; k++) {
		const struct cfg_lane *l = &db->lanes[k];
		if (!l->enabled)
			continue;
		struct sb lb = {0};
		sb_puts(&lb, prefix);
		sb_puts(&lb, cfg_lane_name((enum cfg_lane_kind)k));
		sb_puts(&lb, ".");
		char *lp = sb_take(&lb);
		if (!lp) {
			f->failed = true;
			break;
		}
		add_pool(f, lp, &l->pool, 0);
		if (k == CFG_LANE_OLAP) {
			add_kv(f, lp, "replicas", replicas_text(l));
			add_duration(f, lp, "max_replica_lag", l->max_replica_lag_ms);
			add_bool(f, lp, "fallback", l->fallback);
		}
		free(lp);
	}
	free(prefix);
}

/* "user=x application_name=y database=z lane=olap", only the fields that are set. */
static char *route_text(const struct cfg_route *r)
{
	const struct {
		const char *key;
		const char *v;
	} keys[] = {{"user", r->user},
	            {"application_name", r->application_name},
	            {"database", r->database}};
	struct sb b = {0};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!keys[i].v)
			continue;
		sb_puts(&b, keys[i].key);
		sb_puts(&b, "=");
		sb_puts(&b, keys[i].v);
		sb_puts(&b, " ");
	}
	sb_puts(&b, "lane=");
	sb_puts(&b, cfg_lane_name(r->lane));
	return sb_take(&b);
}

/* "id=2 host=127.0.0.1 port=6433" */
static char *peer_text(const struct cfg_peer *p)
{
	struct sb b = {0};
	sb_printf(&b, "id=%d host=", p->id);
	sb_puts(&b, p->host);
	sb_printf(&b, " port=%d", p->port);
	return sb_take(&b);
}

static char *hba_text(const struct cfg_hba *h)
{
	const struct {
		const char *key;
		const char *v;
	} keys[] = {{"address", h->address},
	            {"database", h->database},
	            {"user", h->user},
	            {"method", h->method}};
	struct sb b = {0};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!keys[i].v)
			continue;
		sb_puts(&b, b.n ? " " : "");
		sb_puts(&b, keys[i].key);
		sb_puts(&b, "=");
		sb_puts(&b, keys[i].v);
	}
	return sb_take(&b);
}

static char *mode_text(int mode)
{
	struct sb b = {0};
	sb_printf(&b, "0%o", (unsigned)mode);
	return sb_take(&b);
}

static void add_indexed(struct flat *f, const char *list, size_t i, char *value)
{
	char name[48];
	snprintf(name, sizeof(name), "[%zu]", i);
	add_kv(f, list, name, value);
}

static bool flatten(const struct cfg *c, struct cfg_kvs *out, bool reveal)
{
	struct flat f = {.reveal = reveal};

	add_str(&f, "listen.", "host", c->listen.host);
	add_int(&f, "listen.", "port", c->listen.port);
	add_int(&f, "listen.", "max_client_conn", c->listen.max_client_conn);
	add_str(&f, "listen.", "unix_socket_dir", c->listen.unix_socket_dir);
	add_kv(&f, "listen.", "unix_socket_mode", mode_text(c->listen.unix_socket_mode));
	add_str(&f, "listen.", "unix_socket_group", c->listen.unix_socket_group);
	add_str(&f, "listen.tls.", "mode", cfg_tls_mode_names[c->listen.tls.mode]);
	add_str(&f, "listen.tls.", "cert", c->listen.tls.cert);
	add_str(&f, "listen.tls.", "key", c->listen.tls.key);
	add_str(&f, "listen.tls.", "ca", c->listen.tls.ca);
	add_str(&f, "listen.tls.", "protocols", c->listen.tls.protocols);
	add_str(&f, "listen.tls.", "ciphers", c->listen.tls.ciphers);

	add_str(&f, "auth.", "type", cfg_auth_type_names[c->auth.type]);
	add_str(&f, "auth.", "file", c->auth.file);
	add_str(&f, "auth.", "auth_user", c->auth.auth_user);
	add_str(&f, "auth.", "auth_query", c->auth.auth_query);
	add_str(&f, "auth.", "auth_dbname", c->auth.auth_dbname);

	add_strv(&f, "admin.", "users", c->admin.users, c->admin.nusers);
	add_strv(&f, "admin.", "stats_users", c->admin.stats_users, c->admin.nstats_users);
	add_int(&f, "admin.", "http_port", c->admin.http_port);
	add_duration(&f, "admin.", "suspend_timeout", c->admin.suspend_timeout_ms);
	add_duration(&f, "admin.", "shutdown_timeout", c->admin.shutdown_timeout_ms);

	add_str(&f, "log.", "format", cfg_log_format_names[c->log.format]);
	add_str(&f, "log.", "level", cfg_log_level_names[c->log.level]);
	add_str(&f, "log.", "file", c->log.file);
	add_bool(&f, "log.", "syslog", c->log.syslog);
	add_str(&f, "log.", "syslog_ident", c->log.syslog_ident);
	add_str(&f, "log.", "syslog_facility", c->log.syslog_facility);
	add_bool(&f, "log.", "connections", c->log.connections);
	add_bool(&f, "log.", "disconnections", c->log.disconnections);
	add_bool(&f, "log.", "pooler_errors", c->log.pooler_errors);
	add_bool(&f, "log.", "stats", c->log.stats);
	add_duration(&f, "log.", "stats_period", c->log.stats_period_ms);

	add_pool(&f, "pool.", &c->pool, FLAT_DB_CAPS | FLAT_USER_CAPS);

	for (size_t i = 0; i < c->ndatabases && !f.failed; i++)
		add_database(&f, &c->databases[i]);
	for (size_t i = 0; i < c->nroutes && !f.failed; i++)
		add_indexed(&f, "routes", i, route_text(&c->routes[i]));
	for (size_t i = 0; i < c->nhba && !f.failed; i++)
		add_indexed(&f, "hba", i, hba_text(&c->hba[i]));

	add_duration(&f, "monitor.", "interval", c->monitor.interval_ms);
	add_str(&f, "monitor.", "user", c->monitor.user);
	add_secret(&f, "monitor.", "password", c->monitor.password);

	add_str(&f, "server_tls.", "sslmode", cfg_sslmode_name(c->server_tls.sslmode));
	add_str(&f, "server_tls.", "ca", c->server_tls.ca);
	add_str(&f, "server_tls.", "cert", c->server_tls.cert);
	add_str(&f, "server_tls.", "key", c->server_tls.key);
	add_str(&f, "server_tls.", "protocols", c->server_tls.protocols);
	add_str(&f, "server_tls.", "ciphers", c->server_tls.ciphers);
	for (size_t i = 0; i < c->nusers && !f.failed; i++)
		add_user(&f, &c->users[i]);
	add_int(&f, "", "workers", c->workers);
	add_str(&f, "", "worker_cpu_affinity", cfg_cpu_affinity_name(c->worker_cpu_affinity));
	add_int(&f, "", "peer_id", c->peer_id);
	for (size_t i = 0; i < c->npeers && !f.failed; i++)
		add_indexed(&f, "peers", i, peer_text(&c->peers[i]));

	if (f.failed) {
		cfg_kvs_free(&f.kv);
		*out = (struct cfg_kvs){0};
		return false;
	}
	*out = f.kv;
	return true;
}

bool cfg_flatten(const struct cfg *c, struct cfg_kvs *out)
{
	return flatten(c, out, false);
}

void cfg_kvs_free(struct cfg_kvs *kv)
{
	if (!kv)
		return;
	for (size_t i = 0; i < kv->n; i++) {
		free(kv->v[i].key);
		free(kv->v[i].value);
	}
	free(kv->v);
	kv->v = NULL;
	kv->n = 0;
}

/* ---- diff --------------------------------------------------------------------------------- */

/* The keys whose values are secrets: "databases.<name>.password" and "monitor.password" (a
 * database name cannot end a key, so the suffix is enough). */
static bool is_secret(const char *key)
{
	static const char suffix[] = ".password";
	size_t n = strlen(key), m = sizeof(suffix) - 1;
	return n >= m && strcmp(key + n - m, suffix) == 0;
}

/* A value as a diff line shows it: masked when secret, `""` when empty, control characters
 * escaped so that the line stays one line. */
static void put_shown(struct sb *b, const char *key, const char *v)
{
	if (!v) {
		sb_puts(b, NONE);
		return;
	}
	if (is_secret(key))
		v = *v ? MASK : "";
	if (!*v) {
		sb_puts(b, "\"\"");
		return;
	}
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '\n')
			sb_puts(b, "\\n");
		else if (*p == '\t')
			sb_puts(b, "\\t");
		else if (*p == '\r')
			sb_puts(b, "\\r");
		else if (*p < 0x20 || *p == 0x7f)
			sb_printf(b, "\\x%02X", *p);
		else
			sb_putn(b, (const char *)p, 1);
	}
}

static char *diff_line(const char *key, const char *old, const char *new)
{
	struct sb b = {0};
	sb_puts(&b, key);
	sb_puts(&b, ": ");
	put_shown(&b, key, old);
	sb_puts(&b, " -> ");
	put_shown(&b, key, new);
	return sb_take(&b);
}

static int kv_ptr_cmp(const void *x, const void *y)
{
	const struct cfg_kv *const *a = x, *const *b = y;
	return strcmp((*a)->key, (*b)->key);
}

size_t cfg_diff(const struct cfg *a, const struct cfg *b, char ***lines)
{
	struct cfg_kvs fa = {0}, fb = {0};
	const struct cfg_kv **sorted = NULL;
	bool *matched = NULL;
	char **out = NULL;
	size_t n = 0;

	*lines = NULL;
	if (!flatten(a, &fa, true) || !flatten(b, &fb, true))
		goto fail;
	sorted = malloc((fa.n + 1) * sizeof(*sorted));
	matched = calloc(fa.n + 1, sizeof(*matched));
	out = malloc((fa.n + fb.n + 1) * sizeof(*out));
	if (!sorted || !matched || !out)
		goto fail;
	for (size_t i = 0; i < fa.n; i++)
		sorted[i] = &fa.v[i];
	qsort(sorted, fa.n, sizeof(*sorted), kv_ptr_cmp);

	for (size_t i = 0; i < fb.n; i++) {
		const struct cfg_kv *want = &fb.v[i], **hit;
		hit = bsearch(&want, sorted, fa.n, sizeof(*sorted), kv_ptr_cmp);
		const char *old = NULL;
		if (hit) {
			matched[*hit - fa.v] = true;
			old = (*hit)->value;
			if (strcmp(old, want->value) == 0)
				continue;
		}
		if (!(out[n] = diff_line(want->key, old, want->value)))
			goto fail;
		n++;
	}
	for (size_t i = 0; i < fa.n; i++) {
		if (matched[i])
			continue;
		if (!(out[n] = diff_line(fa.v[i].key, fa.v[i].value, NULL)))
			goto fail;
		n++;
	}

	cfg_kvs_free(&fa);
	cfg_kvs_free(&fb);
	free(sorted);
	free(matched);
	if (n == 0)
		free(out);
	else
		*lines = out;
	return n;
fail:
	cfg_lines_free(out, n);
	cfg_kvs_free(&fa);
	cfg_kvs_free(&fb);
	free(sorted);
	free(matched);
	return (size_t)-1;
}

void cfg_lines_free(char **lines, size_t n)
{
	cfg_strv_free(lines, n);
}

/* ---- restart ------------------------------------------------------------------------------ */

static bool str_differs(const char *x, const char *y)
{
	return strcmp(str_or_empty(x), str_or_empty(y)) != 0;
}

static bool strv_differs(char *const *x, size_t nx, char *const *y, size_t ny)
{
	if (nx != ny)
		return true;
	for (size_t i = 0; i < nx; i++)
		if (str_differs(x[i], y[i]))
			return true;
	return false;
}

bool cfg_needs_restart(const struct cfg *a, const struct cfg *b, char *what, size_t cap)
{
	const struct {
		const char *key;
		bool changed;
	} keys[] = {
	        {"workers", a->workers != b->workers},
	        {"worker_cpu_affinity", a->worker_cpu_affinity != b->worker_cpu_affinity},
	        {"listen.host", str_differs(a->listen.host, b->listen.host)},
	        {"listen.port", a->listen.port != b->listen.port},
	        {"listen.tls.mode", a->listen.tls.mode != b->listen.tls.mode},
	        {"listen.tls.cert", str_differs(a->listen.tls.cert, b->listen.tls.cert)},
	        {"listen.tls.key", str_differs(a->listen.tls.key, b->listen.tls.key)},
	        {"listen.tls.ca", str_differs(a->listen.tls.ca, b->listen.tls.ca)},
	        {"listen.tls.protocols",
	         str_differs(a->listen.tls.protocols, b->listen.tls.protocols)},
	        {"listen.tls.ciphers", str_differs(a->listen.tls.ciphers, b->listen.tls.ciphers)},
	        {"listen.unix_socket_dir",
	         str_differs(a->listen.unix_socket_dir, b->listen.unix_socket_dir)},
	        {"listen.unix_socket_mode",
	         a->listen.unix_socket_mode != b->listen.unix_socket_mode},
	        {"listen.unix_socket_group",
	         str_differs(a->listen.unix_socket_group, b->listen.unix_socket_group)},
	        {"admin.http_port", a->admin.http_port != b->admin.http_port},
	        {"pool.track_parameters",
	         strv_differs(a->pool.track_parameters, a->pool.ntrack_parameters,
	                      b->pool.track_parameters, b->pool.ntrack_parameters)},
	        {"peer_id", a->peer_id != b->peer_id},
	};
	bool any = false;
	size_t pos = 0;
	if (what && cap)
		what[0] = '\0';
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!keys[i].changed)
			continue;
		if (what && pos < cap) {
			int w = snprintf(what + pos, cap - pos, "%s%s", any ? "," : "",
			                 keys[i].key);
			pos = w < 0 ? cap : pos + (size_t)w;
		}
		any = true;
	}
	return any;
}

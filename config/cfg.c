/* config/cfg.c — the built-in defaults, the life of a struct cfg (building its owned parts,
 * cfg_free) and the small look-ups on it: databases by name, admin users, enum names,
 * durations. Reading a file is config/cfg_load.c, printing config/cfg_print.c. */
#include "config/cfg.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/cfg_private.h"

const char *const cfg_pool_mode_names[2] = {"session", "transaction"};
const char *const cfg_pin_mode_names[3] = {"pin", "refuse", "allow"};
const char *const cfg_cpu_affinity_names[2] = {"auto", "off"};
const char *const cfg_auth_type_names[3] = {"trust", "md5", "scram-sha-256"};
const char *const cfg_log_format_names[2] = {"text", "json"};
const char *const cfg_log_level_names[4] = {"error", "warning", "info", "debug"};
const char *const cfg_tls_mode_names[6] = {"disable", "allow",     "prefer",
                                           "require", "verify-ca", "verify-full"};
const char *const cfg_lane_names[CFG_LANE_COUNT] = {"oltp", "olap"};
const char *const cfg_sslmode_names[5] = {"disable", "prefer", "require", "verify-ca",
                                          "verify-full"};
const char *const cfg_hba_method_names[6] = {"trust",  "md5",  "scram-sha-256",
                                             "reject", "cert", "peer"};

void cfg_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

bool cfg_pool_set_defaults(struct cfg_pool *p)
{
	memset(p, 0, sizeof(*p));
	p->mode = CFG_POOL_TRANSACTION;
	p->size = 20;
	p->min_size = 0;
	p->max_prepared_statements = 200;
	p->statement_timeout_ms = 0;
	p->idle_in_transaction_timeout_ms = 0;
	p->client_idle_timeout_ms = 0;
	p->query_wait_timeout_ms = 120 * 1000;
	p->slow_query_ms = 1000;
	p->server_lifetime_ms = 3600 * 1000;
	p->server_idle_timeout_ms = 600 * 1000;
	p->server_connect_timeout_ms = 5 * 1000;
	p->client_login_timeout_ms = 60 * 1000;
	p->server_reset_query = strdup("DISCARD ALL");
	p->track_parameters = NULL;
	p->ntrack_parameters = 0;
	p->pin_session_state = CFG_PIN_PIN;
	p->reserve_pool_timeout_ms = 5 * 1000;
	p->server_check_query = strdup("");
	p->server_check_delay_ms = 30 * 1000;
	p->cancel_wait_timeout_ms = 10 * 1000;
	p->server_login_retry_ms = 500; /* PgBouncer: 15 s; see README */
	p->query_wait_notify_ms = 5 * 1000;
	return p->server_reset_query && p->server_check_query;
}

/* A copy of the list `src` (`n` strings) into *dst / *dn; false when out of memory (what was
 * copied is counted in *dn, for the caller's release). */
static bool strv_copy(char ***dst, size_t *dn, char *const *src, size_t n)
{
	*dst = NULL;
	*dn = 0;
	if (n == 0)
		return true;
	*dst = calloc(n, sizeof(char *));
	if (!*dst)
		return false;
	for (size_t i = 0; i < n; i++) {
		(*dst)[i] = strdup(src[i]);
		if (!(*dst)[i])
			return false;
		*dn = i + 1;
	}
	return true;
}

bool cfg_pool_copy(struct cfg_pool *dst, const struct cfg_pool *src)
{
	*dst = *src;
	dst->track_parameters = NULL;
	dst->ntrack_parameters = 0;
	dst->ignore_startup_parameters = NULL;
	dst->nignore_startup_parameters = 0;
	dst->server_reset_query = strdup(src->server_reset_query ? src->server_reset_query : "");
	dst->server_check_query = strdup(src->server_check_query ? src->server_check_query : "");
	return dst->server_reset_query && dst->server_check_query &&
	       strv_copy(&dst->track_parameters, &dst->ntrack_parameters, src->track_parameters,
	                 src->ntrack_parameters) &&
	       strv_copy(&dst->ignore_startup_parameters, &dst->nignore_startup_parameters,
	                 src->ignore_startup_parameters, src->nignore_startup_parameters);
}

void cfg_pool_release(struct cfg_pool *p)
{
	free(p->server_reset_query);
	free(p->server_check_query);
	p->server_check_query = NULL;
	cfg_strv_free(p->track_parameters, p->ntrack_parameters);
	cfg_strv_free(p->ignore_startup_parameters, p->nignore_startup_parameters);
	p->server_reset_query = NULL;
	p->track_parameters = NULL;
	p->ntrack_parameters = 0;
	p->ignore_startup_parameters = NULL;
	p->nignore_startup_parameters = 0;
}

bool cfg_database_init(struct cfg_database *db, const char *name, const struct cfg *c)
{
	const struct cfg_pool *pool = &c->pool;
	memset(db, 0, sizeof(*db));
	db->port = CFG_DEFAULT_DB_PORT;
	db->default_lane = CFG_LANE_OLTP;
	for (int k = 0; k < CFG_LANE_COUNT; k++) {
		struct cfg_lane *l = &db->lanes[k];
		l->enabled = k == CFG_LANE_OLTP;
		l->max_replica_lag_ms = CFG_DEFAULT_REPLICA_LAG_MS;
		l->fallback = CFG_DEFAULT_REPLICA_FALLBACK;
		if (!cfg_pool_copy(&l->pool, pool))
			return false;
	}
	db->name = strdup(name);
	db->host = strdup(CFG_DEFAULT_DB_HOST);
	db->dbname = strdup("");
	db->user = strdup("");
	db->password = strdup("");
	db->sslmode = c->server_tls.sslmode;
	db->sslrootcert = strdup(c->server_tls.ca ? c->server_tls.ca : "");
	db->connect_query = strdup("");
	db->port_list = strdup("");
	db->nhosts = 1;
	db->hosts = calloc(1, sizeof(*db->hosts));
	if (db->hosts) {
		db->hosts[0].host = strdup(CFG_DEFAULT_DB_HOST);
		db->hosts[0].port = db->port;
	}
	db->auth_user = strdup(c->auth.auth_user ? c->auth.auth_user : "");
	db->auth_query = strdup(c->auth.auth_query ? c->auth.auth_query : "");
	db->auth_dbname = strdup(c->auth.auth_dbname ? c->auth.auth_dbname : "");
	return db->name && db->host && db->dbname && db->user && db->password && db->sslrootcert &&
	       db->connect_query && db->auth_user && db->auth_query && db->auth_dbname &&
	       db->port_list && db->hosts && db->hosts[0].host;
}

void cfg_database_release(struct cfg_database *db)
{
	free(db->name);
	free(db->host);
	free(db->dbname);
	free(db->user);
	free(db->password);
	free(db->sslrootcert);
	free(db->connect_query);
	free(db->port_list);
	cfg_endpoints_free(db->hosts, db->nhosts);
	db->hosts = NULL;
	db->nhosts = 0;
	free(db->auth_user);
	free(db->auth_query);
	free(db->auth_dbname);
	for (int k = 0; k < CFG_LANE_COUNT; k++) {
		struct cfg_lane *l = &db->lanes[k];
		cfg_pool_release(&l->pool);
		for (size_t i = 0; i < l->nreplicas; i++)
			free(l->replicas[i].host);
		free(l->replicas);
	}
	memset(db, 0, sizeof(*db));
}

bool cfg_database_add_builtin(struct cfg *c)
{
	struct cfg_database *dbs = realloc(c->databases, (c->ndatabases + 1) * sizeof(*dbs));
	if (!dbs)
		return false;
	c->databases = dbs;
	struct cfg_database *db = &dbs[c->ndatabases++];
	return cfg_database_init(db, "*", c);
}

struct cfg *cfg_defaults_new(void)
{
	struct cfg *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	bool ok = cfg_pool_set_defaults(&c->pool);
	c->listen.host = strdup("127.0.0.1");
	c->listen.port = 6432;
	c->listen.max_client_conn = 10000;
	c->listen.tls.mode = CFG_TLS_DISABLE;
	c->listen.tls.cert = strdup("");
	c->listen.tls.key = strdup("");
	c->listen.tls.ca = strdup("");
	c->listen.tls.protocols = strdup("secure");
	c->listen.tls.ciphers = strdup("default");
	c->listen.unix_socket_dir = strdup("/tmp");
	c->listen.unix_socket_mode = 0777;
	c->listen.unix_socket_group = strdup("");
	c->auth.type = CFG_AUTH_TRUST;
	c->auth.file = strdup("");
	c->auth.auth_user = strdup("");
	c->auth.auth_query = strdup("SELECT usename, passwd FROM pg_shadow WHERE usename=$1");
	c->auth.auth_dbname = strdup("");
	c->admin.users = calloc(1, sizeof(char *));
	if (c->admin.users) {
		c->admin.users[0] = strdup("admin");
		c->admin.nusers = c->admin.users[0] ? 1 : 0;
	}
	c->admin.http_port = 0;
	c->log.format = CFG_LOG_TEXT;
	c->log.level = CFG_LOG_INFO;
	c->log.file = strdup("");
	c->log.syslog_ident = strdup("pglane");
	c->log.syslog_facility = strdup("daemon");
	c->log.connections = true;
	c->log.disconnections = true;
	c->log.pooler_errors = true;
	c->log.stats = true;
	c->log.stats_period_ms = 60 * 1000;
	c->admin.suspend_timeout_ms = 10 * 1000;
	c->admin.shutdown_timeout_ms = 0;
	c->monitor.interval_ms = 2000;
	c->monitor.user = strdup("");
	c->monitor.password = strdup("");
	c->server_tls.sslmode = CFG_SSL_PREFER;
	c->server_tls.ca = strdup("");
	c->server_tls.cert = strdup("");
	c->server_tls.key = strdup("");
	c->server_tls.protocols = strdup("secure");
	c->server_tls.ciphers = strdup("default");
	ok = ok && c->log.file && c->log.syslog_ident && c->log.syslog_facility &&
	     c->listen.tls.protocols && c->listen.tls.ciphers && c->listen.unix_socket_dir &&
	     c->listen.unix_socket_group && c->auth.auth_user && c->auth.auth_query &&
	     c->auth.auth_dbname && c->server_tls.protocols && c->server_tls.ciphers &&
	     c->listen.host && c->listen.tls.cert && c->listen.tls.key && c->listen.tls.ca &&
	     c->auth.file && c->admin.nusers == 1 && c->monitor.user && c->monitor.password &&
	     c->server_tls.ca && c->server_tls.cert && c->server_tls.key;
	if (!ok) {
		cfg_free(c);
		return NULL;
	}
	return c;
}

void cfg_free(struct cfg *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->listen.host);
	free(c->listen.tls.cert);
	free(c->listen.tls.key);
	free(c->listen.tls.ca);
	free(c->listen.tls.protocols);
	free(c->listen.tls.ciphers);
	free(c->listen.unix_socket_dir);
	free(c->listen.unix_socket_group);
	free(c->auth.file);
	free(c->log.file);
	free(c->log.syslog_ident);
	free(c->log.syslog_facility);
	free(c->auth.auth_user);
	free(c->auth.auth_query);
	free(c->auth.auth_dbname);
	cfg_strv_free(c->admin.users, c->admin.nusers);
	cfg_strv_free(c->admin.stats_users, c->admin.nstats_users);
	cfg_pool_release(&c->pool);
	for (size_t i = 0; i < c->ndatabases; i++)
		cfg_database_release(&c->databases[i]);
	free(c->databases);
	for (size_t i = 0; i < c->nroutes; i++) {
		free(c->routes[i].user);
		free(c->routes[i].application_name);
		free(c->routes[i].database);
	}
	free(c->routes);
	for (size_t i = 0; i < c->nhba; i++) {
		free(c->hba[i].address);
		free(c->hba[i].database);
		free(c->hba[i].user);
		free(c->hba[i].method);
	}
	free(c->hba);
	free(c->monitor.user);
	free(c->monitor.password);
	free(c->server_tls.ca);
	free(c->server_tls.cert);
	free(c->server_tls.key);
	free(c->server_tls.protocols);
	free(c->server_tls.ciphers);
	for (size_t i = 0; i < c->nusers; i++) {
		free(c->users[i].name);
		cfg_pool_release(&c->users[i].pool);
	}
	free(c->users);
	for (size_t i = 0; i < c->npeers; i++)
		free(c->peers[i].host);
	free(c->peers);
	free(c);
}

const struct cfg_database *cfg_database_find(const struct cfg *c, const char *name)
{
	const struct cfg_database *wildcard = NULL;
	for (size_t i = 0; i < c->ndatabases; i++) {
		const struct cfg_database *db = &c->databases[i];
		if (strcmp(db->name, name) == 0)
			return db;
		if (!wildcard && strcmp(db->name, "*") == 0)
			wildcard = db;
	}
	return wildcard;
}

const struct cfg_user_settings *cfg_user_settings_find(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->nusers; i++)
		if (strcmp(c->users[i].name, name) == 0)
			return &c->users[i];
	return NULL;
}

const struct cfg_peer *cfg_peer_find(const struct cfg *c, int id)
{
	for (size_t i = 0; i < c->npeers; i++)
		if (c->peers[i].id == id)
			return &c->peers[i];
	return NULL;
}

void cfg_pool_resolve(const struct cfg *c, const struct cfg_lane *lane, const char *user,
                      struct cfg_pool *out)
{
	*out = lane->pool;
	const struct cfg_user_settings *u = user ? cfg_user_settings_find(c, user) : NULL;
	if (!u)
		return;
	const struct cfg_pool *up = &u->pool;
	for (int k = 0; k < CFG_PK_COUNT_USER; k++) {
		if (!(u->set & (1u << k)))
			continue;
		switch ((enum cfg_pool_key)k) {
		case CFG_PK_MODE:
			out->mode = up->mode;
			break;
		case CFG_PK_SIZE:
			out->size = up->size;
			break;
		case CFG_PK_MIN_SIZE:
			out->min_size = up->min_size;
			break;
		case CFG_PK_RESERVE_POOL_SIZE:
			out->reserve_pool_size = up->reserve_pool_size;
			break;
		case CFG_PK_MAX_PREPARED_STATEMENTS:
			out->max_prepared_statements = up->max_prepared_statements;
			break;
		case CFG_PK_STATEMENT_TIMEOUT:
			out->statement_timeout_ms = up->statement_timeout_ms;
			break;
		case CFG_PK_IDLE_IN_TRANSACTION_TIMEOUT:
			out->idle_in_transaction_timeout_ms = up->idle_in_transaction_timeout_ms;
			break;
		case CFG_PK_CLIENT_IDLE_TIMEOUT:
			out->client_idle_timeout_ms = up->client_idle_timeout_ms;
			break;
		case CFG_PK_QUERY_WAIT_TIMEOUT:
			out->query_wait_timeout_ms = up->query_wait_timeout_ms;
			break;
		case CFG_PK_QUERY_WAIT_NOTIFY:
			out->query_wait_notify_ms = up->query_wait_notify_ms;
			break;
		case CFG_PK_TRANSACTION_TIMEOUT:
			out->transaction_timeout_ms = up->transaction_timeout_ms;
			break;
		case CFG_PK_SLOW_QUERY:
			out->slow_query_ms = up->slow_query_ms;
			break;
		case CFG_PK_PIN_SESSION_STATE:
			out->pin_session_state = up->pin_session_state;
			break;
		case CFG_PK_MAX_USER_CONNECTIONS:
			out->max_user_connections = up->max_user_connections;
			break;
		case CFG_PK_MAX_USER_CLIENT_CONNECTIONS:
			out->max_user_client_connections = up->max_user_client_connections;
			break;
		case CFG_PK_COUNT_USER:
			break;
		}
	}
}

bool cfg_tls_required(enum cfg_tls_mode m)
{
	return m == CFG_TLS_REQUIRE || m == CFG_TLS_VERIFY_CA || m == CFG_TLS_VERIFY_FULL;
}

bool cfg_tls_verifies(enum cfg_tls_mode m)
{
	return m == CFG_TLS_VERIFY_CA || m == CFG_TLS_VERIFY_FULL;
}

const char *cfg_tls_mode_name(enum cfg_tls_mode m)
{
	return (unsigned)m < 6 ? cfg_tls_mode_names[m] : "?";
}

bool cfg_tls_protocols_parse(const char *s, int *min_minor, int *max_minor)
{
	static const struct {
		const char *name;
		int lo, hi;
	} words[] = {{"secure", 2, 3}, {"default", 2, 3}, {"all", 0, 3}, {"legacy", 0, 3}};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcasecmp(s, words[i].name) == 0) {
			*min_minor = words[i].lo;
			*max_minor = words[i].hi;
			return true;
		}
	}
	bool seen[4] = {false};
	int n = 0;
	while (*s) {
		size_t sep = strspn(s, ", :");
		s += sep;
		if (!*s)
			break;
		size_t len = strcspn(s, ", :");
		if (len != 7 || strncasecmp(s, "tlsv1.", 6) != 0 || s[6] < '0' || s[6] > '3')
			return false;
		seen[s[6] - '0'] = true;
		n++;
		s += len;
	}
	int lo = -1, hi = -1;
	for (int v = 0; v < 4; v++) {
		if (!seen[v])
			continue;
		if (lo < 0)
			lo = v;
		else if (hi != v - 1)
			return false; /* a gap */
		hi = v;
	}
	if (n == 0)
		return false;
	*min_minor = lo;
	*max_minor = hi;
	return true;
}

static bool strv_has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

bool cfg_is_admin(const struct cfg *c, const char *user, bool *full)
{
	bool is_full = strv_has(c->admin.users, c->admin.nusers, user);
	bool is_stats = !is_full && strv_has(c->admin.stats_users, c->admin.nstats_users, user);
	if (full)
		*full = is_full;
	return is_full || is_stats;
}

bool cfg_duration_parse(const char *s, int64_t *ms)
{
	static const struct {
		const char *suffix;
		int64_t ms;
	} units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"min", 60 * 1000}, {"h", 3600 * 1000}};

	if (!s || *s < '0' || *s > '9')
		return false;
	int64_t v = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > CFG_DURATION_MAX_MS)
			return false; /* also keeps v * 10 far from overflowing */
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s, units[i].suffix) != 0)
			continue;
		if (v > CFG_DURATION_MAX_MS / units[i].ms)
			return false;
		*ms = v * units[i].ms;
		return true;
	}
	return false;
}

const char *cfg_lane_name(enum cfg_lane_kind k)
{
	return (unsigned)k < CFG_LANE_COUNT ? cfg_lane_names[k] : "?";
}

const char *cfg_pool_mode_name(enum cfg_pool_mode m)
{
	return (unsigned)m < 2 ? cfg_pool_mode_names[m] : "?";
}

const char *cfg_pin_mode_name(enum cfg_pin_mode m)
{
	return (unsigned)m < 3 ? cfg_pin_mode_names[m] : "?";
}

const char *cfg_cpu_affinity_name(enum cfg_cpu_affinity a)
{
	return (unsigned)a < 2 ? cfg_cpu_affinity_names[a] : "?";
}

bool cfg_ignores_startup_parameter(const struct cfg_pool *p, const char *name)
{
	for (size_t i = 0; i < p->nignore_startup_parameters; i++)
		if (strcasecmp(p->ignore_startup_parameters[i], name) == 0)
			return true;
	return false;
}

const char *cfg_sslmode_name(enum cfg_sslmode m)
{
	return (unsigned)m < 5 ? cfg_sslmode_names[m] : "?";
}

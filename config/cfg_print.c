/* config/cfg_print.c — cfg_print(): the resolved settings written back in libconfig syntax,
 * every key, durations with units, secrets masked. Loading the output again gives the same
 * config (except that passwords read "***"). */
#include "config/cfg.h"

#include <inttypes.h>
#include <string.h>

#include "config/cfg_private.h"

#define MASK "***"

/* A string literal in libconfig syntax. */
static void put_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '\f':
			fputs("\\f", out);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\x%02X", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void put_secret(FILE *out, const char *s)
{
	put_str(out, *s ? MASK : "");
}

/* The largest unit that divides `ms` exactly: "0", "250ms", "2s", "5min", "1h". */
static void put_duration(FILE *out, int64_t ms)
{
	static const struct {
		int64_t ms;
		const char *unit;
	} units[] = {{3600 * 1000, "h"}, {60 * 1000, "min"}, {1000, "s"}};
	if (ms == 0) {
		fputs("\"0\"", out);
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms % units[i].ms == 0) {
			fprintf(out, "\"%" PRId64 "%s\"", ms / units[i].ms, units[i].unit);
			return;
		}
	}
	fprintf(out, "\"%" PRId64 "ms\"", ms);
}

static void put_strv(FILE *out, char *const *v, size_t n)
{
	fputs("[ ", out);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(", ", out);
		put_str(out, v[i]);
	}
	fputs(n ? " ]" : "]", out);
}

static void indent(FILE *out, int depth)
{
	for (int i = 0; i < depth; i++)
		fputc('\t', out);
}

static void key_str(FILE *out, int depth, const char *key, const char *v)
{
	indent(out, depth);
	fprintf(out, "%s = ", key);
	put_str(out, v);
	fputs(";\n", out);
}

static void key_int(FILE *out, int depth, const char *key, long long v)
{
	indent(out, depth);
	fprintf(out, "%s = %lld;\n", key, v);
}

static void key_duration(FILE *out, int depth, const char *key, int64_t ms)
{
	indent(out, depth);
	fprintf(out, "%s = ", key);
	put_duration(out, ms);
	fputs(";\n", out);
}

static void key_strv(FILE *out, int depth, const char *key, char *const *v, size_t n)
{
	indent(out, depth);
	fprintf(out, "%s = ", key);
	put_strv(out, v, n);
	fputs(";\n", out);
}

static void key_bool(FILE *out, int depth, const char *key, bool v)
{
	indent(out, depth);
	fprintf(out, "%s = %s;\n", key, v ? "true" : "false");
}

/* Which caps a group may hold: `pool` both, a database max_db_*, a lane neither. */
enum { PRINT_DB_CAPS = 1, PRINT_USER_CAPS = 2 };

static void print_pool_keys(FILE *out, int depth, const struct cfg_pool *p, unsigned where)
{
	key_str(out, depth, "mode", cfg_pool_mode_name(p->mode));
	key_int(out, depth, "size", p->size);
	key_int(out, depth, "min_size", p->min_size);
	key_int(out, depth, "max_prepared_statements", p->max_prepared_statements);
	key_duration(out, depth, "statement_timeout", p->statement_timeout_ms);
	key_duration(out, depth, "idle_in_transaction_timeout", p->idle_in_transaction_timeout_ms);
	key_duration(out, depth, "client_idle_timeout", p->client_idle_timeout_ms);
	key_duration(out, depth, "query_wait_timeout", p->query_wait_timeout_ms);
	key_duration(out, depth, "slow_query", p->slow_query_ms);
	key_duration(out, depth, "server_lifetime", p->server_lifetime_ms);
	key_duration(out, depth, "server_idle_timeout", p->server_idle_timeout_ms);
	key_duration(out, depth, "server_connect_timeout", p->server_connect_timeout_ms);
	key_duration(out, depth, "client_login_timeout", p->client_login_timeout_ms);
	key_str(out, depth, "server_reset_query", p->server_reset_query);
	key_strv(out, depth, "track_parameters", p->track_parameters, p->ntrack_parameters);
	key_str(out, depth, "pin_session_state", cfg_pin_mode_name(p->pin_session_state));
	key_strv(out, depth, "ignore_startup_parameters", p->ignore_startup_parameters,
	         p->nignore_startup_parameters);
	key_int(out, depth, "reserve_pool_size", p->reserve_pool_size);
	key_duration(out, depth, "reserve_pool_timeout", p->reserve_pool_timeout_ms);
	key_str(out, depth, "server_check_query", p->server_check_query);
	key_duration(out, depth, "server_check_delay", p->server_check_delay_ms);
	key_bool(out, depth, "server_round_robin", p->server_round_robin);
	key_bool(out, depth, "server_reset_query_always", p->server_reset_query_always);
	key_duration(out, depth, "transaction_timeout", p->transaction_timeout_ms);
	key_duration(out, depth, "cancel_wait_timeout", p->cancel_wait_timeout_ms);
	key_duration(out, depth, "server_login_retry", p->server_login_retry_ms);
	key_duration(out, depth, "query_wait_notify", p->query_wait_notify_ms);
	if (where & PRINT_DB_CAPS) {
		key_int(out, depth, "max_db_connections", p->max_db_connections);
		key_int(out, depth, "max_db_client_connections", p->max_db_client_connections);
	}
	if (where & PRINT_USER_CAPS) {
		key_int(out, depth, "max_user_connections", p->max_user_connections);
		key_int(out, depth, "max_user_client_connections", p->max_user_client_connections);
	}
}

/* A user's overrides: only the keys it sets. */
static void print_user(FILE *out, const struct cfg_user_settings *u)
{
	const struct cfg_pool *p = &u->pool;
	fputs("\t{\n", out);
	key_str(out, 2, "name", u->name);
	for (int k = 0; k < CFG_PK_COUNT_USER; k++) {
		if (!(u->set & (1u << k)))
			continue;
		switch ((enum cfg_pool_key)k) {
		case CFG_PK_MODE:
			key_str(out, 2, "mode", cfg_pool_mode_name(p->mode));
			break;
		case CFG_PK_SIZE:
			key_int(out, 2, "size", p->size);
			break;
		case CFG_PK_MIN_SIZE:
			key_int(out, 2, "min_size", p->min_size);
			break;
		case CFG_PK_RESERVE_POOL_SIZE:
			key_int(out, 2, "reserve_pool_size", p->reserve_pool_size);
			break;
		case CFG_PK_MAX_PREPARED_STATEMENTS:
			key_int(out, 2, "max_prepared_statements", p->max_prepared_statements);
			break;
		case CFG_PK_STATEMENT_TIMEOUT:
			key_duration(out, 2, "statement_timeout", p->statement_timeout_ms);
			break;
		case CFG_PK_IDLE_IN_TRANSACTION_TIMEOUT:
			key_duration(out, 2, "idle_in_transaction_timeout",
			             p->idle_in_transaction_timeout_ms);
			break;
		case CFG_PK_CLIENT_IDLE_TIMEOUT:
			key_duration(out, 2, "client_idle_timeout", p->client_idle_timeout_ms);
			break;
		case CFG_PK_QUERY_WAIT_TIMEOUT:
			key_duration(out, 2, "query_wait_timeout", p->query_wait_timeout_ms);
			break;
		case CFG_PK_QUERY_WAIT_NOTIFY:
			key_duration(out, 2, "query_wait_notify", p->query_wait_notify_ms);
			break;
		case CFG_PK_TRANSACTION_TIMEOUT:
			key_duration(out, 2, "transaction_timeout", p->transaction_timeout_ms);
			break;
		case CFG_PK_SLOW_QUERY:
			key_duration(out, 2, "slow_query", p->slow_query_ms);
			break;
		case CFG_PK_PIN_SESSION_STATE:
			key_str(out, 2, "pin_session_state",
			        cfg_pin_mode_name(p->pin_session_state));
			break;
		case CFG_PK_MAX_USER_CONNECTIONS:
			key_int(out, 2, "max_user_connections", p->max_user_connections);
			break;
		case CFG_PK_MAX_USER_CLIENT_CONNECTIONS:
			key_int(out, 2, "max_user_client_connections",
			        p->max_user_client_connections);
			break;
		case CFG_PK_COUNT_USER:
			break;
		}
	}
	fputs("\t}", out);
}

static void print_lane(FILE *out, const struct cfg_lane *l, enum cfg_lane_kind k)
{
	fprintf(out, "\t\t%s = {\n", cfg_lane_name(k));
	print_pool_keys(out, 3, &l->pool, 0);
	if (k == CFG_LANE_OLAP) {
		fputs("\t\t\treplicas = (", out);
		for (size_t i = 0; i < l->nreplicas; i++) {
			fputs(i ? ", { host = " : " { host = ", out);
			put_str(out, l->replicas[i].host);
			fprintf(out, "; port = %d; }", l->replicas[i].port);
		}
		fputs(l->nreplicas ? " );\n" : ");\n", out);
		key_duration(out, 3, "max_replica_lag", l->max_replica_lag_ms);
		indent(out, 3);
		fprintf(out, "fallback = %s;\n", l->fallback ? "true" : "false");
	}
	fputs("\t\t};\n", out);
}

static void print_database(FILE *out, const struct cfg_database *db)
{
	fputs("\t{\n", out);
	key_str(out, 2, "name", db->name);
	key_str(out, 2, "host", db->host);
	if (db->port_list[0])
		key_str(out, 2, "port", db->port_list);
	else
		key_int(out, 2, "port", db->port);
	if (db->nhosts > 1 || db->target_session_attrs != CFG_TSA_ANY) /* as before: one host */
		key_str(out, 2, "target_session_attrs", cfg_tsa_name(db->target_session_attrs));
	key_str(out, 2, "dbname", db->dbname);
	key_str(out, 2, "user", db->user);
	indent(out, 2);
	fputs("password = ", out);
	put_secret(out, db->password);
	fputs(";\n", out);
	key_str(out, 2, "default_lane", cfg_lane_name(db->default_lane));
	key_str(out, 2, "sslmode", cfg_sslmode_name(db->sslmode));
	key_str(out, 2, "sslrootcert", db->sslrootcert);
	key_str(out, 2, "connect_query", db->connect_query);
	key_str(out, 2, "auth_user", db->auth_user);
	key_str(out, 2, "auth_query", db->auth_query);
	key_str(out, 2, "auth_dbname", db->auth_dbname);
	key_int(out, 2, "max_db_connections", db->lanes[CFG_LANE_OLTP].pool.max_db_connections);
	key_int(out, 2, "max_db_client_connections",
	        db->lanes[CFG_LANE_OLTP].pool.max_db_client_connections);
	for (int k = 0; k < CFG_LANE_COUNT; k++)
		if (db->lanes[k].enabled)
			print_lane(out, &db->lanes[k], (enum cfg_lane_kind)k);
	fputs("\t}", out);
}

static void print_route(FILE *out, const struct cfg_route *r)
{
	fputs("\t{ ", out);
	const struct {
		const char *key;
		const char *v;
	} keys[] = {{"user", r->user},
	            {"application_name", r->application_name},
	            {"database", r->database}};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!keys[i].v)
			continue;
		fprintf(out, "%s = ", keys[i].key);
		put_str(out, keys[i].v);
		fputs("; ", out);
	}
	fprintf(out, "lane = \"%s\"; }", cfg_lane_name(r->lane));
}

static void print_hba(FILE *out, const struct cfg_hba *h)
{
	fputs("\t{ address = ", out);
	put_str(out, h->address);
	fputs("; database = ", out);
	put_str(out, h->database);
	fputs("; user = ", out);
	put_str(out, h->user);
	fputs("; method = ", out);
	put_str(out, h->method);
	fputs("; }", out);
}

static void print_peers(FILE *out, const struct cfg *c)
{
	fprintf(out, "peer_id = %d;\n", c->peer_id);
	fputs(c->npeers ? "peers = (\n" : "peers = ( ", out);
	for (size_t i = 0; i < c->npeers; i++) {
		fprintf(out, "\t{ id = %d; host = ", c->peers[i].id);
		put_str(out, c->peers[i].host);
		fprintf(out, "; port = %d; }%s", c->peers[i].port,
		        i + 1 < c->npeers ? ",\n" : "\n");
	}
	fputs(");\n", out);
}

void cfg_print(const struct cfg *c, FILE *out)
{
	fputs("# pglane: resolved settings from ", out);
	fputs(c->path ? c->path : "the built-in defaults", out);
	fputs("\n", out);

	fprintf(out, "workers = %d;\n", c->workers);
	fprintf(out, "worker_cpu_affinity = \"%s\";\n",
	        cfg_cpu_affinity_name(c->worker_cpu_affinity));
	fputs("listen = {\n", out);
	key_str(out, 1, "host", c->listen.host);
	key_int(out, 1, "port", c->listen.port);
	key_int(out, 1, "max_client_conn", c->listen.max_client_conn);
	key_str(out, 1, "unix_socket_dir", c->listen.unix_socket_dir);
	indent(out, 1);
	fprintf(out, "unix_socket_mode = \"0%o\";\n", (unsigned)c->listen.unix_socket_mode);
	key_str(out, 1, "unix_socket_group", c->listen.unix_socket_group);
	fputs("\ttls = {\n", out);
	key_str(out, 2, "mode", cfg_tls_mode_names[c->listen.tls.mode]);
	key_str(out, 2, "cert", c->listen.tls.cert);
	key_str(out, 2, "key", c->listen.tls.key);
	key_str(out, 2, "ca", c->listen.tls.ca);
	key_str(out, 2, "protocols", c->listen.tls.protocols);
	key_str(out, 2, "ciphers", c->listen.tls.ciphers);
	fputs("\t};\n};\n", out);

	fputs("auth = {\n", out);
	key_str(out, 1, "type", cfg_auth_type_names[c->auth.type]);
	key_str(out, 1, "file", c->auth.file);
	key_str(out, 1, "auth_user", c->auth.auth_user);
	key_str(out, 1, "auth_query", c->auth.auth_query);
	key_str(out, 1, "auth_dbname", c->auth.auth_dbname);
	fputs("};\n", out);

	fputs("admin = {\n", out);
	key_strv(out, 1, "users", c->admin.users, c->admin.nusers);
	key_strv(out, 1, "stats_users", c->admin.stats_users, c->admin.nstats_users);
	key_int(out, 1, "http_port", c->admin.http_port);
	key_duration(out, 1, "suspend_timeout", c->admin.suspend_timeout_ms);
	key_duration(out, 1, "shutdown_timeout", c->admin.shutdown_timeout_ms);
	fputs("};\n", out);

	fputs("log = {\n", out);
	key_str(out, 1, "format", cfg_log_format_names[c->log.format]);
	key_str(out, 1, "level", cfg_log_level_names[c->log.level]);
	key_str(out, 1, "file", c->log.file);
	key_bool(out, 1, "syslog", c->log.syslog);
	key_str(out, 1, "syslog_ident", c->log.syslog_ident);
	key_str(out, 1, "syslog_facility", c->log.syslog_facility);
	key_bool(out, 1, "connections", c->log.connections);
	key_bool(out, 1, "disconnections", c->log.disconnections);
	key_bool(out, 1, "pooler_errors", c->log.pooler_errors);
	key_bool(out, 1, "stats", c->log.stats);
	key_duration(out, 1, "stats_period", c->log.stats_period_ms);
	fputs("};\n", out);

	fputs("pool = {\n", out);
	print_pool_keys(out, 1, &c->pool, PRINT_DB_CAPS | PRINT_USER_CAPS);
	fputs("};\n", out);

	fputs(c->ndatabases ? "databases = (\n" : "databases = ( ", out);
	for (size_t i = 0; i < c->ndatabases; i++) {
		print_database(out, &c->databases[i]);
		fputs(i + 1 < c->ndatabases ? ",\n" : "\n", out);
	}
	fputs(");\n", out);

	fputs(c->nroutes ? "routes = (\n" : "routes = ( ", out);
	for (size_t i = 0; i < c->nroutes; i++) {
		print_route(out, &c->routes[i]);
		fputs(i + 1 < c->nroutes ? ",\n" : "\n", out);
	}
	fputs(");\n", out);

	fputs(c->nhba ? "hba = (\n" : "hba = ( ", out);
	for (size_t i = 0; i < c->nhba; i++) {
		print_hba(out, &c->hba[i]);
		fputs(i + 1 < c->nhba ? ",\n" : "\n", out);
	}
	fputs(");\n", out);

	fputs("monitor = {\n", out);
	key_duration(out, 1, "interval", c->monitor.interval_ms);
	key_str(out, 1, "user", c->monitor.user);
	indent(out, 1);
	fputs("password = ", out);
	put_secret(out, c->monitor.password);
	fputs(";\n};\n", out);

	fputs("server_tls = {\n", out);
	key_str(out, 1, "sslmode", cfg_sslmode_name(c->server_tls.sslmode));
	key_str(out, 1, "ca", c->server_tls.ca);
	key_str(out, 1, "cert", c->server_tls.cert);
	key_str(out, 1, "key", c->server_tls.key);
	key_str(out, 1, "protocols", c->server_tls.protocols);
	key_str(out, 1, "ciphers", c->server_tls.ciphers);
	fputs("};\n", out);

	fputs(c->nusers ? "users = (\n" : "users = ( ", out);
	for (size_t i = 0; i < c->nusers; i++) {
		print_user(out, &c->users[i]);
		fputs(i + 1 < c->nusers ? ",\n" : "\n", out);
	}
	fputs(");\n", out);
	print_peers(out, c);
}

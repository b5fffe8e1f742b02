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

static void print_pool_keys(FILE *out, int depth, const struct cfg_pool *p)
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
}

static void print_lane(FILE *out, const struct cfg_lane *l, enum cfg_lane_kind k)
{
	fprintf(out, "\t\t%s = {\n", cfg_lane_name(k));
	print_pool_keys(out, 3, &l->pool);
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
	key_int(out, 2, "port", db->port);
	key_str(out, 2, "dbname", db->dbname);
	key_str(out, 2, "user", db->user);
	indent(out, 2);
	fputs("password = ", out);
	put_secret(out, db->password);
	fputs(";\n", out);
	key_str(out, 2, "default_lane", cfg_lane_name(db->default_lane));
	key_str(out, 2, "sslmode", cfg_sslmode_name(db->sslmode));
	key_str(out, 2, "sslrootcert", db->sslrootcert);
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

void cfg_print(const struct cfg *c, FILE *out)
{
	fputs("# pglane: resolved settings from ", out);
	fputs(c->path ? c->path : "the built-in defaults", out);
	fputs("\n", out);

	fputs("listen = {\n", out);
	key_str(out, 1, "host", c->listen.host);
	key_int(out, 1, "port", c->listen.port);
	key_int(out, 1, "max_client_conn", c->listen.max_client_conn);
	fputs("\ttls = {\n", out);
	key_str(out, 2, "mode", cfg_tls_mode_names[c->listen.tls.mode]);
	key_str(out, 2, "cert", c->listen.tls.cert);
	key_str(out, 2, "key", c->listen.tls.key);
	key_str(out, 2, "ca", c->listen.tls.ca);
	fputs("\t};\n};\n", out);

	fputs("auth = {\n", out);
	key_str(out, 1, "type", cfg_auth_type_names[c->auth.type]);
	key_str(out, 1, "file", c->auth.file);
	fputs("};\n", out);

	fputs("admin = {\n", out);
	key_strv(out, 1, "users", c->admin.users, c->admin.nusers);
	key_strv(out, 1, "stats_users", c->admin.stats_users, c->admin.nstats_users);
	key_int(out, 1, "http_port", c->admin.http_port);
	fputs("};\n", out);

	fputs("log = {\n", out);
	key_str(out, 1, "format", cfg_log_format_names[c->log.format]);
	key_str(out, 1, "level", cfg_log_level_names[c->log.level]);
	fputs("};\n", out);

	fputs("pool = {\n", out);
	print_pool_keys(out, 1, &c->pool);
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
	fputs("};\n", out);
}

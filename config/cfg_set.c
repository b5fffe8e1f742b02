/* config/cfg_set.c — the admin console's SET: the config file as RELOAD reads it, with a few
 * flattened keys ("pool.size", "databases.app.oltp.size", "users.report.size",
 * "log.connections") set to new values before the loader validates it. The file itself is
 * never written; a RELOAD reads the file alone again (as PgBouncer forgets its SETs). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/cfg.h"
#include "config/cfg_read.h"

#define MAX_DEPTH 8

static bool is_int(const char *v)
{
	const char *p = v + (*v == '-');
	if (!*p)
		return false;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

static bool bool_word(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "on", "yes"};
	static const char *const no[] = {"false", "off", "no"};
	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
			*out = strcasecmp(v, yes[i]) == 0;
			return true;
		}
	}
	return false;
}

/* The libconfig types `value` (unquoted) may be read as, most likely first; the count. */
static size_t candidate_types(const char *value, int out[3])
{
	bool b;
	size_t n = 0;
	if (is_int(value)) {
		out[n++] = CONFIG_TYPE_INT;
		if (strcmp(value, "0") == 0 || strcmp(value, "1") == 0)
			out[n++] = CONFIG_TYPE_BOOL;
	} else if (bool_word(value, &b)) {
		out[n++] = CONFIG_TYPE_BOOL;
	}
	out[n++] = CONFIG_TYPE_STRING;
	return n;
}

/* The element of list `name` (databases, users) whose "name" is `want`. */
static config_setting_t *named_elem(config_setting_t *root, const char *list, const char *want)
{
	config_setting_t *l = config_setting_get_member(root, list);
	if (!l || !config_setting_is_aggregate(l))
		return NULL;
	for (int i = 0; i < config_setting_length(l); i++) {
		config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
		const char *n = NULL;
		if (config_setting_is_group(g) && config_setting_lookup_string(g, "name", &n) &&
		    strcmp(n, want) == 0)
			return g;
	}
	return NULL;
}

static bool set_leaf(config_setting_t *g, const char *name, const char *value, int type, char *why,
                     size_t cap)
{
	if (config_setting_get_member(g, name) && !config_setting_remove(g, name)) {
		snprintf(why, cap, "cannot replace %s", name);
		return false;
	}
	config_setting_t *s = config_setting_add(g, name, type);
	if (!s) {
		snprintf(why, cap, "cannot add %s", name);
		return false;
	}
	bool b = false;
	switch (type) {
	case CONFIG_TYPE_INT:
		return config_setting_set_int(s, atoi(value)) == CONFIG_TRUE;
	case CONFIG_TYPE_BOOL:
		if (!bool_word(value, &b))
			b = strcmp(value, "1") == 0;
		return config_setting_set_bool(s, b) == CONFIG_TRUE;
	default:
		return config_setting_set_string(s, value) == CONFIG_TRUE;
	}
}

static bool apply_one(config_t *lc, const struct cfg_override *o, char *why, size_t cap)
{
	char buf[CFG_KEY_MAX];
	char *seg[MAX_DEPTH];
	size_t n = 0;
	if (strchr(o->key, '[') || snprintf(buf, sizeof(buf), "%s", o->key) >= (int)sizeof(buf)) {
		snprintf(why, cap, "%s: cannot be changed with SET", o->key);
		return false;
	}
	for (char *save = NULL, *t = strtok_r(buf, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
		if (n == MAX_DEPTH) {
			snprintf(why, cap, "%s: unknown key", o->key);
			return false;
		}
		seg[n++] = t;
	}
	if (n < 2) {
		snprintf(why, cap, "%s: unknown key", o->key);
		return false;
	}
	config_setting_t *g = config_root_setting(lc);
	size_t i = 0;
	if (strcmp(seg[0], "databases") == 0 || strcmp(seg[0], "users") == 0) {
		if (n < 3) {
			snprintf(why, cap, "%s: unknown key", o->key);
			return false;
		}
		g = named_elem(g, seg[0], seg[1]);
		if (!g) {
			snprintf(why, cap, "%s: the file has no %s entry named \"%s\"", o->key,
			         seg[0], seg[1]);
			return false;
		}
		i = 2;
	}
	for (; i + 1 < n; i++) {
		config_setting_t *m = config_setting_get_member(g, seg[i]);
		if (!m)
			m = config_setting_add(g, seg[i], CONFIG_TYPE_GROUP);
		if (!m || !config_setting_is_group(m)) {
			snprintf(why, cap, "%s: unknown key", o->key);
			return false;
		}
		g = m;
	}
	if (!set_leaf(g, seg[n - 1], o->value, o->type, why, cap)) {
		if (!why[0])
			snprintf(why, cap, "%s: out of memory", o->key);
		return false;
	}
	return true;
}

struct edit {
	const struct cfg_override *ov;
	size_t n;
};

static bool apply_all(config_t *lc, void *arg, char *why, size_t cap)
{
	const struct edit *e = arg;
	for (size_t i = 0; i < e->n; i++)
		if (!apply_one(lc, &e->ov[i], why, cap))
			return false;
	return true;
}

struct cfg *cfg_load_with_overrides(const char *path, struct cfg_override *ov, size_t n,
                                    struct cfg_errors *errs)
{
	if (n == 0)
		return cfg_load(path, errs);
	struct cfg_errors first = {0};
	struct edit e = {ov, n};
	struct cfg_override *last = &ov[n - 1];
	for (size_t i = 0; i + 1 < n; i++) {
		int t[3];
		if (!ov[i].type) {
			candidate_types(ov[i].value, t);
			ov[i].type = t[0]; /* not the last: the likeliest type */
		}
	}
	if (last->type) {
		return cfg_load_edited(path, errs, apply_all, &e);
	}
	int types[3];
	size_t nt = candidate_types(last->value, types);
	for (size_t k = 0; k < nt; k++) {
		struct cfg_errors tmp = {0};
		last->type = types[k];
		struct cfg *c = cfg_load_edited(path, &tmp, apply_all, &e);
		if (c) {
			if (errs)
				errs->n = 0;
			return c;
		}
		if (k == 0)
			first = tmp;
	}
	last->type = 0;
	if (errs)
		*errs = first;
	return NULL;
}

/* PgBouncer's names of settings that have one pglane key; `seconds`: PgBouncer gives a plain
 * number of seconds (pglane's plain numbers are milliseconds). */
static const struct {
	const char *pgbouncer;
	const char *key;
	bool seconds;
} aliases[] = {
        {"listen_addr", "listen.host", false},
        {"listen_port", "listen.port", false},
        {"max_client_conn", "listen.max_client_conn", false},
        {"unix_socket_dir", "listen.unix_socket_dir", false},
        {"auth_type", "auth.type", false},
        {"auth_file", "auth.file", false},
        {"auth_user", "auth.auth_user", false},
        {"auth_query", "auth.auth_query", false},
        {"auth_dbname", "auth.auth_dbname", false},
        {"suspend_timeout", "admin.suspend_timeout", true},
        {"shutdown_timeout", "admin.shutdown_timeout", true},
        {"logfile", "log.file", false},
        {"syslog", "log.syslog", false},
        {"syslog_ident", "log.syslog_ident", false},
        {"syslog_facility", "log.syslog_facility", false},
        {"log_connections", "log.connections", false},
        {"log_disconnections", "log.disconnections", false},
        {"log_pooler_errors", "log.pooler_errors", false},
        {"log_stats", "log.stats", false},
        {"stats_period", "log.stats_period", true},
        {"pool_mode", "pool.mode", false},
        {"default_pool_size", "pool.size", false},
        {"min_pool_size", "pool.min_size", false},
        {"reserve_pool_size", "pool.reserve_pool_size", false},
        {"reserve_pool_timeout", "pool.reserve_pool_timeout", true},
        {"max_prepared_statements", "pool.max_prepared_statements", false},
        {"max_db_connections", "pool.max_db_connections", false},
        {"max_user_connections", "pool.max_user_connections", false},
        {"max_db_client_connections", "pool.max_db_client_connections", false},
        {"max_user_client_connections", "pool.max_user_client_connections", false},
        {"server_reset_query", "pool.server_reset_query", false},
        {"server_reset_query_always", "pool.server_reset_query_always", false},
        {"server_check_query", "pool.server_check_query", false},
        {"server_check_delay", "pool.server_check_delay", true},
        {"server_round_robin", "pool.server_round_robin", false},
        {"server_lifetime", "pool.server_lifetime", true},
        {"server_idle_timeout", "pool.server_idle_timeout", true},
        {"server_connect_timeout", "pool.server_connect_timeout", true},
        {"server_login_retry", "pool.server_login_retry", true},
        {"query_timeout", "pool.statement_timeout", true},
        {"query_wait_timeout", "pool.query_wait_timeout", true},
        {"query_wait_notify", "pool.query_wait_notify", true},
        {"cancel_wait_timeout", "pool.cancel_wait_timeout", true},
        {"client_idle_timeout", "pool.client_idle_timeout", true},
        {"client_login_timeout", "pool.client_login_timeout", true},
        {"idle_transaction_timeout", "pool.idle_in_transaction_timeout", true},
        {"transaction_timeout", "pool.transaction_timeout", true},
        {"server_tls_sslmode", "server_tls.sslmode", false},
        {"server_tls_ca_file", "server_tls.ca", false},
        {"server_tls_cert_file", "server_tls.cert", false},
        {"server_tls_key_file", "server_tls.key", false},
        {"server_tls_protocols", "server_tls.protocols", false},
        {"server_tls_ciphers", "server_tls.ciphers", false},
        {"client_tls_sslmode", "listen.tls.mode", false},
        {"client_tls_ca_file", "listen.tls.ca", false},
        {"client_tls_cert_file", "listen.tls.cert", false},
        {"client_tls_key_file", "listen.tls.key", false},
};

bool cfg_override_from_pgbouncer(struct cfg_override *o)
{
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strcasecmp(o->key, aliases[i].pgbouncer) != 0)
			continue;
		snprintf(o->key, sizeof(o->key), "%s", aliases[i].key);
		char *end = NULL;
		double v = aliases[i].seconds && o->value[0] ? strtod(o->value, &end) : 0;
		if (end && *end == '\0' && v >= 0 && v < 1e9)
			snprintf(o->value, sizeof(o->value), "%lld", (long long)(v * 1000 + 0.5));
		return true;
	}
	return false;
}

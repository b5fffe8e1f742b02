/* config/cfg_load.c — reading a libconfig file into a struct cfg: every key of the contract in
 * DESIGN.md, type and range checks, checks across keys (auth file, TLS files on both sides, a CA
 * for verify-ca/verify-full, lanes), relative paths. Every problem found is collected as
 * "FILE:LINE: KEY: message"; strings are copied out before libconfig's tree is destroyed. */
#include "config/cfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_peers.h"
#include "config/cfg_pool_keys.h"
#include "config/cfg_private.h"
#include "config/cfg_read.h"
#include "config/userlist.h"

#define MAX_CLIENT_CONN_MAX 1000000
#define NELEMS(a)           (sizeof(a) / sizeof((a)[0]))

static bool olap_only_key(const char *name)
{
	return strcmp(name, "replicas") == 0 || strcmp(name, "max_replica_lag") == 0 ||
	       strcmp(name, "fallback") == 0;
}

static void parse_pool(struct cfg_loader *L, const config_setting_t *g)
{
	size_t before = L->nerrors;
	char key[CFG_KEY_MAX];
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		cfg_key_join(key, "pool", name);
		if (cfg_pool_key_read(L, s, name, key, CFG_AT_POOL, &L->c->pool, NULL))
			continue;
		if (olap_only_key(name))
			cfg_err_at(L, s, key, "only allowed in a database's olap group");
		else
			cfg_err_at(L, s, key, "unknown key");
	}
	if (L->nerrors == before)
		cfg_pool_check_min_size(L, g, "pool", &L->c->pool);
}

/* A TLS protocol list (listen.tls.protocols, server_tls.protocols) checked at load. */
static void get_protocols(struct cfg_loader *L, const config_setting_t *s, const char *key,
                          char **dst)
{
	int lo, hi;
	if (config_setting_type(s) == CONFIG_TYPE_STRING &&
	    !cfg_tls_protocols_parse(config_setting_get_string(s), &lo, &hi)) {
		cfg_err_at(L, s, key,
		           "must be \"secure\", \"all\", \"legacy\", \"default\" or a list of "
		           "consecutive versions such as \"tlsv1.2,tlsv1.3\" (got \"%s\")",
		           config_setting_get_string(s));
		return;
	}
	(void)cfg_get_string(L, s, key, CFG_STR_NONEMPTY, dst);
}

static void parse_tls(struct cfg_loader *L, const config_setting_t *g)
{
	static const char *const prefix = "listen.tls";
	struct cfg *c = L->c;
	size_t before = L->nerrors;
	char key[CFG_KEY_MAX];
	int v;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		cfg_key_join(key, prefix, name);
		if (strcmp(name, "mode") == 0) {
			if (cfg_get_enum(L, s, key, cfg_tls_mode_names, NELEMS(cfg_tls_mode_names),
			                 &v))
				c->listen.tls.mode = (enum cfg_tls_mode)v;
		} else if (strcmp(name, "cert") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_ANY, &c->listen.tls.cert);
		} else if (strcmp(name, "key") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_ANY, &c->listen.tls.key);
		} else if (strcmp(name, "ca") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_ANY, &c->listen.tls.ca);
		} else if (strcmp(name, "protocols") == 0) {
			get_protocols(L, s, key, &c->listen.tls.protocols);
		} else if (strcmp(name, "ciphers") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_NONEMPTY, &c->listen.tls.ciphers);
		} else {
			cfg_err_at(L, s, key, "unknown key");
		}
	}
	if (L->nerrors != before)
		return;
	cfg_path_resolve(L, &c->listen.tls.cert);
	cfg_path_resolve(L, &c->listen.tls.key);
	cfg_path_resolve(L, &c->listen.tls.ca);
	if (c->listen.tls.mode == CFG_TLS_DISABLE)
		return;
	const config_setting_t *mode = config_setting_get_member(g, "mode");
	struct {
		const char *name;
		const char *path;
		bool required;
	} files[] = {{"cert", c->listen.tls.cert, true},
	             {"key", c->listen.tls.key, true},
	             {"ca", c->listen.tls.ca, cfg_tls_verifies(c->listen.tls.mode)}};
	for (size_t i = 0; i < NELEMS(files); i++) {
		cfg_key_join(key, prefix, files[i].name);
		if (*files[i].path)
			cfg_file_check(L, config_setting_get_member(g, files[i].name), key,
			               files[i].path);
		else if (files[i].required)
			cfg_err_at(L, mode, key, "required when listen.tls.mode is \"%s\"",
			           cfg_tls_mode_names[c->listen.tls.mode]);
	}
}

/* unix_socket_mode: an octal string ("0777", "0700") or an integer (0777 written in decimal
 * is 511), at most 0777. */
static void get_socket_mode(struct cfg_loader *L, const config_setting_t *s, const char *key,
                            int *out)
{
	if (config_setting_type(s) == CONFIG_TYPE_INT) {
		(void)cfg_get_int(L, s, key, 0, 0777, out);
		return;
	}
	const char *v =
	        config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;
	char *end = NULL;
	long m = v && *v ? strtol(v, &end, 8) : -1;
	if (!v || !*v || *end || m < 0 || m > 0777) {
		cfg_err_at(L, s, key, "must be an octal mode such as \"0777\" or \"0700\"");
		return;
	}
	*out = (int)m;
}

static void parse_listen(struct cfg_loader *L, const config_setting_t *g)
{
	struct cfg *c = L->c;
	char key[CFG_KEY_MAX];
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		cfg_key_join(key, "listen", name);
		if (strcmp(name, "host") == 0)
			(void)cfg_get_string(L, s, key, CFG_STR_NONEMPTY, &c->listen.host);
		else if (strcmp(name, "port") == 0)
			(void)cfg_get_int(L, s, key, 1, 65535, &c->listen.port);
		else if (strcmp(name, "max_client_conn") == 0)
			(void)cfg_get_int(L, s, key, 1, MAX_CLIENT_CONN_MAX,
			                  &c->listen.max_client_conn);
		else if (strcmp(name, "unix_socket_dir") == 0)
			(void)cfg_get_string(L, s, key, CFG_STR_ANY, &c->listen.unix_socket_dir);
		else if (strcmp(name, "unix_socket_mode") == 0)
			get_socket_mode(L, s, key, &c->listen.unix_socket_mode);
		else if (strcmp(name, "unix_socket_group") == 0)
			(void)cfg_get_string(L, s, key, CFG_STR_ANY, &c->listen.unix_socket_group);
		else if (strcmp(name, "tls") == 0) {
			if (cfg_expect_group(L, s, key))
				parse_tls(L, s);
		} else
			cfg_err_at(L, s, key, "unknown key");
	}
	if (*c->listen.unix_socket_dir) {
		cfg_path_resolve(L, &c->listen.unix_socket_dir);
		/* sun_path holds 108 bytes: the directory, "/.s.PGSQL.65535" and a NUL */
		if (strlen(c->listen.unix_socket_dir) + sizeof("/.s.PGSQL.65535") > 108) {
			const config_setting_t *at =
			        config_setting_get_member(g, "unix_socket_dir");
			cfg_err_at(L, at ? at : g, "listen.unix_socket_dir",
			           "too long for a Unix socket path (at most %zu bytes)",
			           108 - sizeof("/.s.PGSQL.65535"));
		}
	}
}

/* The auth file named by the config: it must exist and load without errors. */
static void check_auth_file(struct cfg_loader *L, const config_setting_t *s)
{
	const char *path = L->c->auth.file;
	if (!cfg_file_check(L, s, "auth.file", path))
		return;
	struct cfg_errors uerrs;
	struct cfg_userlist *u = cfg_userlist_load(path, &uerrs);
	if (u) {
		cfg_userlist_free(u);
		return;
	}
	cfg_err_at(L, s, "auth.file", "\"%s\" is not a valid auth file (%zu error%s follow)", path,
	           uerrs.n, uerrs.n == 1 ? "" : "s");
	for (size_t i = 0; i < uerrs.n; i++)
		cfg_err(L, "%s", uerrs.msg[i]);
}

static void parse_auth(struct cfg_loader *L, const config_setting_t *g)
{
	struct cfg *c = L->c;
	size_t before = L->nerrors;
	char key[CFG_KEY_MAX];
	int v;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		cfg_key_join(key, "auth", name);
		if (strcmp(name, "type") == 0) {
			if (cfg_get_enum(L, s, key, cfg_auth_type_names,
			                 NELEMS(cfg_auth_type_names), &v))
				c->auth.type = (enum cfg_auth_type)v;
		} else if (strcmp(name, "file") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_ANY, &c->auth.file);
		} else if (strcmp(name, "auth_user") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_ANY, &c->auth.auth_user);
		} else if (strcmp(name, "auth_query") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_NONEMPTY, &c->auth.auth_query);
		} else if (strcmp(name, "auth_dbname") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_ANY, &c->auth.auth_dbname);
		} else {
			cfg_err_at(L, s, key, "unknown key");
		}
	}
	if (L->nerrors != before)
		return;
	cfg_path_resolve(L, &c->auth.file);
	const config_setting_t *file = config_setting_get_member(g, "file");
	if (*c->auth.file) {
		check_auth_file(L, file);
	} else if (c->auth.type != CFG_AUTH_TRUST && !*c->auth.auth_user) {
		const config_setting_t *type = config_setting_get_member(g, "type");
		cfg_err_at(L, file ? file : type, "auth.file",
		           "required when auth.type is \"%s\" and auth.auth_user is not set",
		           cfg_auth_type_names[c->auth.type]);
	}
}

static void parse_admin(struct cfg_loader *L, const config_setting_t *g)
{
	struct cfg *c = L->c;
	char key[CFG_KEY_MAX];
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		cfg_key_join(key, "admin", name);
		if (strcmp(name, "users") == 0)
			(void)cfg_get_strv(L, s, key, CFG_STR_NAME, &c->admin.users,
			                   &c->admin.nusers);
		else if (strcmp(name, "stats_users") == 0)
			(void)cfg_get_strv(L, s, key, CFG_STR_NAME, &c->admin.stats_users,
			                   &c->admin.nstats_users);
		else if (strcmp(name, "http_port") == 0)
			(void)cfg_get_int(L, s, key, 0, 65535, &c->admin.http_port);
		else if (strcmp(name, "suspend_timeout") == 0)
			(void)cfg_get_duration(L, s, key, &c->admin.suspend_timeout_ms);
		else if (strcmp(name, "shutdown_timeout") == 0)
			(void)cfg_get_duration(L, s, key, &c->admin.shutdown_timeout_ms);
		else
			cfg_err_at(L, s, key, "unknown key");
	}
}

/* syslog facilities by name, as PgBouncer's syslog_facility. */
static const char *const syslog_facilities[] = {"auth",   "authpriv", "daemon", "user",
                                                "local0", "local1",   "local2", "local3",
                                                "local4", "local5",   "local6", "local7"};

/* The log keys besides format and level; false when `name` is none of them. */
static bool log_key(struct cfg_loader *L, const config_setting_t *s, const char *name,
                    const char *key)
{
	struct cfg *c = L->c;
	static const struct {
		const char *name;
		size_t off;
	} switches[] = {
	        {"syslog", offsetof(struct cfg, log.syslog)},
	        {"connections", offsetof(struct cfg, log.connections)},
	        {"disconnections", offsetof(struct cfg, log.disconnections)},
	        {"pooler_errors", offsetof(struct cfg, log.pooler_errors)},
	        {"stats", offsetof(struct cfg, log.stats)},
	};
	for (size_t i = 0; i < NELEMS(switches); i++) {
		if (strcmp(name, switches[i].name) == 0) {
			(void)cfg_get_bool(L, s, key,
			                   (bool *)(void *)((char *)c + switches[i].off));
			return true;
		}
	}
	int v;
	if (strcmp(name, "file") == 0) {
		(void)cfg_get_string(L, s, key, CFG_STR_ANY, &c->log.file);
	} else if (strcmp(name, "syslog_ident") == 0) {
		(void)cfg_get_string(L, s, key, CFG_STR_NONEMPTY, &c->log.syslog_ident);
	} else if (strcmp(name, "syslog_facility") == 0) {
		if (cfg_get_enum(L, s, key, syslog_facilities, NELEMS(syslog_facilities), &v))
			(void)cfg_set_str(L, &c->log.syslog_facility, syslog_facilities[v]);
	} else if (strcmp(name, "stats_period") == 0) {
		int64_t ms;
		if (!cfg_get_duration(L, s, key, &ms))
			return true;
		if (ms < 1000)
			cfg_err_at(L, s, key, "must be at least 1s");
		else
			c->log.stats_period_ms = ms;
	} else {
		return false;
	}
	return true;
}

static void parse_log(struct cfg_loader *L, const config_setting_t *g)
{
	char key[CFG_KEY_MAX];
	int v;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		cfg_key_join(key, "log", name);
		if (strcmp(name, "format") == 0) {
			if (cfg_get_enum(L, s, key, cfg_log_format_names,
			                 NELEMS(cfg_log_format_names), &v))
				L->c->log.format = (enum cfg_log_format)v;
		} else if (strcmp(name, "level") == 0) {
			if (cfg_get_enum(L, s, key, cfg_log_level_names,
			                 NELEMS(cfg_log_level_names), &v))
				L->c->log.level = (enum cfg_log_level)v;
		} else if (!log_key(L, s, name, key)) {
			cfg_err_at(L, s, key, "unknown key");
		}
	}
	cfg_path_resolve(L, &L->c->log.file);
}

static void parse_monitor(struct cfg_loader *L, const config_setting_t *g)
{
	struct cfg *c = L->c;
	char key[CFG_KEY_MAX];
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		cfg_key_join(key, "monitor", name);
		if (strcmp(name, "interval") == 0) {
			int64_t ms;
			if (!cfg_get_duration(L, s, key, &ms))
				continue;
			if (ms == 0)
				cfg_err_at(L, s, key, "must be more than 0");
			else
				c->monitor.interval_ms = ms;
		} else if (strcmp(name, "user") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_ANY, &c->monitor.user);
		} else if (strcmp(name, "password") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_ANY, &c->monitor.password);
		} else {
			cfg_err_at(L, s, key, "unknown key");
		}
	}
}

static bool sslmode_verifies(enum cfg_sslmode m)
{
	return m == CFG_SSL_VERIFY_CA || m == CFG_SSL_VERIFY_FULL;
}

/* server_tls: the default sslmode and CA of every database, and pglane's client certificate.
 * The files must exist when named; cert and key go together. Whether the CA is needed is known
 * once the databases are read (check_server_ca). */
static void parse_server_tls(struct cfg_loader *L, const config_setting_t *g)
{
	static const char *const prefix = "server_tls";
	struct cfg *c = L->c;
	size_t before = L->nerrors;
	char key[CFG_KEY_MAX];
	int v;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		cfg_key_join(key, prefix, name);
		if (strcmp(name, "sslmode") == 0) {
			if (cfg_get_enum(L, s, key, cfg_sslmode_names, NELEMS(cfg_sslmode_names),
			                 &v))
				c->server_tls.sslmode = (enum cfg_sslmode)v;
		} else if (strcmp(name, "ca") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_ANY, &c->server_tls.ca);
		} else if (strcmp(name, "cert") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_ANY, &c->server_tls.cert);
		} else if (strcmp(name, "key") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_ANY, &c->server_tls.key);
		} else if (strcmp(name, "protocols") == 0) {
			get_protocols(L, s, key, &c->server_tls.protocols);
		} else if (strcmp(name, "ciphers") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_NONEMPTY, &c->server_tls.ciphers);
		} else {
			cfg_err_at(L, s, key, "unknown key");
		}
	}
	if (L->nerrors != before) {
		L->server_tls_bad = true;
		return;
	}
	cfg_path_resolve(L, &c->server_tls.ca);
	cfg_path_resolve(L, &c->server_tls.cert);
	cfg_path_resolve(L, &c->server_tls.key);
	const struct {
		const char *name;
		const char *path;
		const char *pair; /* the key that must be set with it */
		const char *pair_path;
	} files[] = {{"ca", c->server_tls.ca, NULL, NULL},
	             {"cert", c->server_tls.cert, "key", c->server_tls.key},
	             {"key", c->server_tls.key, "cert", c->server_tls.cert}};
	for (size_t i = 0; i < NELEMS(files); i++) {
		if (!*files[i].path)
			continue;
		const config_setting_t *at = config_setting_get_member(g, files[i].name);
		cfg_key_join(key, prefix, files[i].name);
		cfg_file_check(L, at, key, files[i].path);
		if (files[i].pair && !*files[i].pair_path) {
			cfg_key_join(key, prefix, files[i].pair);
			cfg_err_at(L, at, key, "required when server_tls.%s is set", files[i].name);
		}
	}
}

/* A database's own sslrootcert must exist when set; with verify-ca or verify-full (its own
 * sslmode or server_tls's) it needs a CA, its own or server_tls.ca. A database that takes both
 * from server_tls is checked once, by check_server_ca(). */
static void check_database_tls(struct cfg_loader *L, const config_setting_t *g, const char *prefix,
                               const struct cfg_database *db, bool mode_ok, bool ca_ok)
{
	const config_setting_t *mode = config_setting_get_member(g, "sslmode");
	const config_setting_t *ca = config_setting_get_member(g, "sslrootcert");
	char key[CFG_KEY_MAX], mode_key[CFG_KEY_MAX];
	cfg_key_join(key, prefix, "sslrootcert");
	if (ca && ca_ok && *db->sslrootcert)
		cfg_file_check(L, ca, key, db->sslrootcert);
	if ((mode && !mode_ok) || (ca && !ca_ok) || L->server_tls_bad)
		return;
	if (!sslmode_verifies(db->sslmode) || *db->sslrootcert)
		return;
	if (mode)
		cfg_key_join(mode_key, prefix, "sslmode");
	else
		snprintf(mode_key, sizeof(mode_key), "server_tls.sslmode");
	if (ca)
		cfg_err_at(L, ca, key, "must not be empty when %s is \"%s\"", mode_key,
		           cfg_sslmode_name(db->sslmode));
	else if (mode)
		cfg_err_at(L, mode, key, "required when %s is \"%s\" (server_tls.ca is not set)",
		           mode_key, cfg_sslmode_name(db->sslmode));
	else
		L->server_ca_needed = true;
}

/* server_tls.ca, when server_tls.sslmode verifies and some database (the built-in one when none
 * is given) has neither an sslmode nor an sslrootcert of its own. */
static void check_server_ca(struct cfg_loader *L, const config_setting_t *root)
{
	const struct cfg *c = L->c;
	if (L->server_tls_bad || !sslmode_verifies(c->server_tls.sslmode) || *c->server_tls.ca)
		return;
	if (!L->server_ca_needed && c->ndatabases != 0)
		return;
	const config_setting_t *g = config_setting_get_member(root, "server_tls");
	const config_setting_t *mode = g ? config_setting_get_member(g, "sslmode") : NULL;
	cfg_err_at(L, mode ? mode : root, "server_tls.ca",
	           "required when server_tls.sslmode is \"%s\" and a database has no sslrootcert "
	           "of its own",
	           cfg_sslmode_name(c->server_tls.sslmode));
}

static void parse_replicas(struct cfg_loader *L, const config_setting_t *list, const char *prefix,
                           struct cfg_lane *lane)
{
	if (!cfg_expect_list(L, list, prefix))
		return;
	size_t n = (size_t)config_setting_length(list);
	if (n == 0)
		return;
	lane->replicas = calloc(n, sizeof(*lane->replicas));
	if (!lane->replicas) {
		cfg_oom(L);
		return;
	}
	lane->nreplicas = n;
	char rkey[CFG_KEY_MAX], key[CFG_KEY_MAX];
	for (size_t r = 0; r < n; r++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)r);
		struct cfg_endpoint *ep = &lane->replicas[r];
		ep->port = CFG_DEFAULT_DB_PORT;
		cfg_key_index(rkey, prefix, (int)r);
		if (!cfg_expect_group(L, g, rkey))
			continue;
		for (int i = 0; i < config_setting_length(g); i++) {
			const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
			const char *name = config_setting_name(s);
			cfg_key_join(key, rkey, name);
			if (strcmp(name, "host") == 0)
				(void)cfg_get_string(L, s, key, CFG_STR_NONEMPTY, &ep->host);
			else if (strcmp(name, "port") == 0)
				(void)cfg_get_int(L, s, key, 1, 65535, &ep->port);
			else
				cfg_err_at(L, s, key, "unknown key");
		}
		if (!config_setting_get_member(g, "host")) {
			cfg_key_join(key, rkey, "host");
			cfg_err_at(L, g, key, "required");
		}
	}
}

static void parse_lane(struct cfg_loader *L, const config_setting_t *g, const char *prefix,
                       struct cfg_lane *lane, enum cfg_lane_kind kind)
{
	if (!cfg_expect_group(L, g, prefix))
		return;
	lane->enabled = true;
	size_t before = L->nerrors;
	char key[CFG_KEY_MAX];
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		cfg_key_join(key, prefix, name);
		if (cfg_pool_key_read(L, s, name, key, CFG_AT_LANE, &lane->pool, NULL))
			continue;
		if (!olap_only_key(name))
			cfg_err_at(L, s, key, "unknown key");
		else if (kind != CFG_LANE_OLAP)
			cfg_err_at(L, s, key, "only allowed in the olap lane");
		else if (strcmp(name, "replicas") == 0)
			parse_replicas(L, s, key, lane);
		else if (strcmp(name, "max_replica_lag") == 0)
			(void)cfg_get_duration(L, s, key, &lane->max_replica_lag_ms);
		else
			(void)cfg_get_bool(L, s, key, &lane->fallback);
	}
	if (L->nerrors == before)
		cfg_pool_check_min_size(L, g, prefix, &lane->pool);
}

/* Add `db` (whose contents move into the config) to the list. */
static struct cfg_database *add_database(struct cfg_loader *L, struct cfg_database *db)
{
	struct cfg *c = L->c;
	struct cfg_database *dbs = realloc(c->databases, (c->ndatabases + 1) * sizeof(*dbs));
	if (!dbs) {
		cfg_oom(L);
		cfg_database_release(db);
		return NULL;
	}
	c->databases = dbs;
	dbs[c->ndatabases] = *db;
	return &dbs[c->ndatabases++];
}

/* One key of a database group other than a pool key or a lane. */
static void database_key(struct cfg_loader *L, const config_setting_t *s, const char *name,
                         const char *key, struct cfg_database *db, bool *mode_ok, bool *ca_ok)
{
	static const struct {
		const char *name;
		size_t off;
		enum cfg_str_rule rule;
	} strings[] = {
	        {"name", offsetof(struct cfg_database, name), CFG_STR_NAME},
	        {"host", offsetof(struct cfg_database, host), CFG_STR_NONEMPTY},
	        {"dbname", offsetof(struct cfg_database, dbname), CFG_STR_ANY},
	        {"user", offsetof(struct cfg_database, user), CFG_STR_ANY},
	        {"password", offsetof(struct cfg_database, password), CFG_STR_ANY},
	        {"connect_query", offsetof(struct cfg_database, connect_query), CFG_STR_ANY},
	        {"auth_user", offsetof(struct cfg_database, auth_user), CFG_STR_ANY},
	        {"auth_query", offsetof(struct cfg_database, auth_query), CFG_STR_NONEMPTY},
	        {"auth_dbname", offsetof(struct cfg_database, auth_dbname), CFG_STR_ANY},
	};
	int v;
	for (size_t i = 0; i < NELEMS(strings); i++) {
		if (strcmp(name, strings[i].name) == 0) {
			char **dst = (char **)(void *)((char *)db + strings[i].off);
			(void)cfg_get_string(L, s, key, strings[i].rule, dst);
			return;
		}
	}
	if (strcmp(name, "port") == 0) {
		if (config_setting_type(s) == CONFIG_TYPE_STRING)
			(void)cfg_get_string(L, s, key, CFG_STR_NONEMPTY, &db->port_list);
		else
			(void)cfg_get_int(L, s, key, 1, 65535, &db->port);
	} else if (strcmp(name, "target_session_attrs") == 0) {
		if (cfg_get_enum(L, s, key, cfg_tsa_names, CFG_TSA_COUNT, &v))
			db->target_session_attrs = (enum cfg_tsa)v;
	} else if (strcmp(name, "default_lane") == 0) {
		if (cfg_get_enum(L, s, key, cfg_lane_names, CFG_LANE_COUNT, &v))
			db->default_lane = (enum cfg_lane_kind)v;
	} else if (strcmp(name, "sslmode") == 0) {
		*mode_ok =
		        cfg_get_enum(L, s, key, cfg_sslmode_names, NELEMS(cfg_sslmode_names), &v);
		if (*mode_ok)
			db->sslmode = (enum cfg_sslmode)v;
	} else if (strcmp(name, "sslrootcert") == 0) {
		*ca_ok = cfg_get_string(L, s, key, CFG_STR_ANY, &db->sslrootcert);
		if (*ca_ok)
			cfg_path_resolve(L, &db->sslrootcert);
	} else if (olap_only_key(name)) {
		char lane_key[CFG_KEY_MAX];
		snprintf(lane_key, sizeof(lane_key), "%.*s", (int)(strlen(key) - strlen(name) - 1),
		         key);
		cfg_err_at(L, s, key, "only allowed in the olap group (%s.olap.%s)", lane_key,
		           name);
	} else {
		cfg_err_at(L, s, key, "unknown key");
	}
}

/* host and port into the endpoints to try; target_session_attrs read-write by default when
 * there are several. */
static void database_hosts(struct cfg_loader *L, const config_setting_t *g, const char *prefix,
                           struct cfg_database *db)
{
	char key[CFG_KEY_MAX], err[200];
	struct cfg_endpoint *v;
	size_t n;
	if (!cfg_hosts_parse(db->host, db->port_list, db->port, &v, &n, err, sizeof(err))) {
		bool ports = strstr(err, "port") != NULL;
		cfg_key_join(key, prefix, ports ? "port" : "host");
		const config_setting_t *s = config_setting_get_member(g, ports ? "port" : "host");
		cfg_err_at(L, s ? s : g, key, "%s", err);
		return;
	}
	cfg_endpoints_free(db->hosts, db->nhosts);
	db->hosts = v;
	db->nhosts = n;
	db->port = v[0].port;
	if (n > 1 && !config_setting_get_member(g, "target_session_attrs"))
		db->target_session_attrs = CFG_TSA_READ_WRITE;
}

static void parse_database(struct cfg_loader *L, const config_setting_t *g, const char *prefix)
{
	struct cfg_database tmp;
	if (!cfg_database_init(&tmp, "", L->c)) {
		cfg_database_release(&tmp);
		cfg_oom(L);
		return;
	}
	tmp.line = (int)config_setting_source_line(g);
	struct cfg_database *db = add_database(L, &tmp);
	if (!db)
		return;
	size_t index = L->c->ndatabases - 1;
	char key[CFG_KEY_MAX];
	bool mode_ok = false, ca_ok = false;
	size_t before = L->nerrors;
	/* its own keys and pool keys first (for both lanes), then the lanes, which override */
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		if (strcmp(name, "oltp") == 0 || strcmp(name, "olap") == 0)
			continue;
		cfg_key_join(key, prefix, name);
		size_t errs = L->nerrors;
		struct cfg_pool *oltp = &db->lanes[CFG_LANE_OLTP].pool;
		if (cfg_pool_key_read(L, s, name, key, CFG_AT_DATABASE, oltp, NULL)) {
			if (L->nerrors == errs &&
			    !cfg_pool_key_copy(name, &db->lanes[CFG_LANE_OLAP].pool, oltp))
				cfg_oom(L);
			continue;
		}
		database_key(L, s, name, key, db, &mode_ok, &ca_ok);
	}
	if (L->nerrors == before)
		cfg_pool_check_min_size(L, g, prefix, &db->lanes[CFG_LANE_OLTP].pool);
	for (int k = 0; k < CFG_LANE_COUNT; k++) {
		const config_setting_t *s = config_setting_get_member(g, cfg_lane_names[k]);
		cfg_key_join(key, prefix, cfg_lane_names[k]);
		if (s)
			parse_lane(L, s, key, &db->lanes[k], (enum cfg_lane_kind)k);
	}
	const config_setting_t *name = config_setting_get_member(g, "name");
	if (!name) {
		cfg_key_join(key, prefix, "name");
		cfg_err_at(L, g, key, "required");
	} else if (*db->name) {
		for (size_t j = 0; j < index; j++) {
			if (strcmp(L->c->databases[j].name, db->name) != 0)
				continue;
			cfg_key_join(key, prefix, "name");
			cfg_err_at(L, name, key,
			           "duplicate database name \"%s\" (first defined on line %d)",
			           db->name, L->c->databases[j].line);
			break;
		}
	}
	if (db->default_lane == CFG_LANE_OLAP && !db->lanes[CFG_LANE_OLAP].enabled) {
		cfg_key_join(key, prefix, "default_lane");
		cfg_err_at(L, config_setting_get_member(g, "default_lane"), key,
		           "is \"olap\" but the database has no olap group");
	}
	check_database_tls(L, g, prefix, db, mode_ok, ca_ok);
	database_hosts(L, g, prefix, db);
}

static void parse_databases(struct cfg_loader *L, const config_setting_t *list)
{
	char key[CFG_KEY_MAX];
	for (int i = 0; i < config_setting_length(list); i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		cfg_key_index(key, "databases", i);
		if (cfg_expect_group(L, g, key))
			parse_database(L, g, key);
	}
}

static void parse_route(struct cfg_loader *L, const config_setting_t *g, const char *prefix,
                        struct cfg_route *r)
{
	char key[CFG_KEY_MAX];
	int v;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		cfg_key_join(key, prefix, name);
		if (strcmp(name, "user") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_NAME, &r->user);
		} else if (strcmp(name, "application_name") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_ANY, &r->application_name);
		} else if (strcmp(name, "database") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_NAME, &r->database);
		} else if (strcmp(name, "lane") == 0) {
			if (cfg_get_enum(L, s, key, cfg_lane_names, CFG_LANE_COUNT, &v))
				r->lane = (enum cfg_lane_kind)v;
		} else {
			cfg_err_at(L, s, key, "unknown key");
		}
	}
	if (!config_setting_get_member(g, "lane")) {
		cfg_key_join(key, prefix, "lane");
		cfg_err_at(L, g, key, "required");
	}
}

static void parse_routes(struct cfg_loader *L, const config_setting_t *list)
{
	size_t n = (size_t)config_setting_length(list);
	if (n == 0)
		return;
	L->c->routes = calloc(n, sizeof(*L->c->routes));
	if (!L->c->routes) {
		cfg_oom(L);
		return;
	}
	L->c->nroutes = n;
	char key[CFG_KEY_MAX];
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		cfg_key_index(key, "routes", (int)i);
		if (cfg_expect_group(L, g, key))
			parse_route(L, g, key, &L->c->routes[i]);
	}
}

/* "all", or an IPv4/IPv6 address with a prefix length: "10.0.0.0/8", "::1/128". */
static bool cidr_valid(const char *s)
{
	if (strcmp(s, "all") == 0 || strcmp(s, "local") == 0)
		return true;
	const char *slash = strchr(s, '/');
	char addr[INET6_ADDRSTRLEN];
	if (!slash || slash == s || (size_t)(slash - s) >= sizeof(addr))
		return false;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	unsigned char bin[16];
	int max;
	if (inet_pton(AF_INET, addr, bin) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, addr, bin) == 1)
		max = 128;
	else
		return false;
	const char *p = slash + 1;
	if (*p == '\0')
		return false;
	int bits = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		bits = bits * 10 + (*p - '0');
		if (bits > max)
			return false;
	}
	return true;
}

static void parse_hba_entry(struct cfg_loader *L, const config_setting_t *g, const char *prefix,
                            struct cfg_hba *h)
{
	char key[CFG_KEY_MAX];
	int v;
	if (!cfg_set_str(L, &h->database, "all") || !cfg_set_str(L, &h->user, "all"))
		return;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		cfg_key_join(key, prefix, name);
		if (strcmp(name, "address") == 0) {
			if (config_setting_type(s) == CONFIG_TYPE_STRING &&
			    !cidr_valid(config_setting_get_string(s)))
				cfg_err_at(L, s, key,
				           "must be \"all\", \"local\" or an address with a prefix "
				           "length such as "
				           "\"10.0.0.0/8\" or \"::1/128\" (got \"%s\")",
				           config_setting_get_string(s));
			else
				(void)cfg_get_string(L, s, key, CFG_STR_NONEMPTY, &h->address);
		} else if (strcmp(name, "database") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_NAME, &h->database);
		} else if (strcmp(name, "user") == 0) {
			(void)cfg_get_string(L, s, key, CFG_STR_NAME, &h->user);
		} else if (strcmp(name, "method") == 0) {
			if (cfg_get_enum(L, s, key, cfg_hba_method_names,
			                 NELEMS(cfg_hba_method_names), &v))
				(void)cfg_set_str(L, &h->method, cfg_hba_method_names[v]);
		} else {
			cfg_err_at(L, s, key, "unknown key");
		}
	}
	if (h->method && strcmp(h->method, "peer") == 0 && h->address &&
	    strcmp(h->address, "local") != 0) {
		cfg_key_join(key, prefix, "method");
		cfg_err_at(L, config_setting_get_member(g, "method"), key,
		           "\"peer\" needs address \"local\" (Unix-socket clients)");
	}
	static const char *const required[] = {"address", "method"};
	for (size_t i = 0; i < NELEMS(required); i++) {
		if (config_setting_get_member(g, required[i]))
			continue;
		cfg_key_join(key, prefix, required[i]);
		cfg_err_at(L, g, key, "required");
	}
}

static void parse_hba(struct cfg_loader *L, const config_setting_t *list)
{
	size_t n = (size_t)config_setting_length(list);
	if (n == 0)
		return;
	L->c->hba = calloc(n, sizeof(*L->c->hba));
	if (!L->c->hba) {
		cfg_oom(L);
		return;
	}
	L->c->nhba = n;
	char key[CFG_KEY_MAX];
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		cfg_key_index(key, "hba", (int)i);
		if (cfg_expect_group(L, g, key))
			parse_hba_entry(L, g, key, &L->c->hba[i]);
	}
}

/* workers = N: event loops (threads), 0 = one per core; at most 63 (a slot stays for the
 * console's merged view, pool/view.h). */
static void parse_workers(struct cfg_loader *L, const config_setting_t *s)
{
	(void)cfg_get_int(L, s, "workers", 0, 63, &L->c->workers);
}

static void parse_worker_cpu_affinity(struct cfg_loader *L, const config_setting_t *s)
{
	int v;
	if (cfg_get_enum(L, s, "worker_cpu_affinity", cfg_cpu_affinity_names,
	                 NELEMS(cfg_cpu_affinity_names), &v))
		L->c->worker_cpu_affinity = (enum cfg_cpu_affinity)v;
}

/* The top-level keys, in the order they are read (pool and server_tls before databases: lanes
 * start from the pool defaults, a database's TLS from server_tls; peer_id before peers). */
enum top_kind { TOP_GROUP, TOP_LIST, TOP_SCALAR };
static const struct {
	const char *name;
	enum top_kind kind;
	void (*parse)(struct cfg_loader *L, const config_setting_t *s);
} top_keys[] = {
        {"listen", TOP_GROUP, parse_listen},
        {"auth", TOP_GROUP, parse_auth},
        {"admin", TOP_GROUP, parse_admin},
        {"log", TOP_GROUP, parse_log},
        {"pool", TOP_GROUP, parse_pool},
        {"monitor", TOP_GROUP, parse_monitor},
        {"server_tls", TOP_GROUP, parse_server_tls},
        {"databases", TOP_LIST, parse_databases},
        {"routes", TOP_LIST, parse_routes},
        {"hba", TOP_LIST, parse_hba},
        {"users", TOP_LIST, cfg_users_parse},
        {"workers", TOP_SCALAR, parse_workers},
        {"worker_cpu_affinity", TOP_SCALAR, parse_worker_cpu_affinity},
        {"peer_id", TOP_SCALAR, cfg_peer_id_parse},
        {"peers", TOP_LIST, cfg_peers_parse},
};

static void parse_root(struct cfg_loader *L, const config_setting_t *root)
{
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		size_t k = 0;
		while (k < NELEMS(top_keys) && strcmp(top_keys[k].name, config_setting_name(s)))
			k++;
		if (k == NELEMS(top_keys))
			cfg_err_at(L, s, config_setting_name(s), "unknown key");
	}
	for (size_t k = 0; k < NELEMS(top_keys); k++) {
		const config_setting_t *s = config_setting_get_member(root, top_keys[k].name);
		if (!s)
			continue;
		bool ok = top_keys[k].kind == TOP_SCALAR ||
		          (top_keys[k].kind == TOP_LIST ? cfg_expect_list(L, s, top_keys[k].name)
		                                        : cfg_expect_group(L, s, top_keys[k].name));
		if (ok)
			top_keys[k].parse(L, s);
	}
	check_server_ca(L, root);
	struct cfg *c = L->c;
	if (c->admin.http_port != 0 && c->admin.http_port == c->listen.port) {
		const config_setting_t *admin = config_setting_get_member(root, "admin");
		const config_setting_t *at =
		        admin ? config_setting_get_member(admin, "http_port") : NULL;
		cfg_err_at(L, at ? at : root, "admin.http_port",
		           "must differ from listen.port (both %d)", c->listen.port);
	}
}

/* The directory of `path`, absolute when it can be resolved; NULL when out of memory. */
static char *dir_of(const char *path)
{
	char *d = strdup(path);
	if (!d)
		return NULL;
	char *slash = strrchr(d, '/');
	if (!slash) {
		free(d);
		d = strdup(".");
		if (!d)
			return NULL;
	} else if (slash == d) {
		slash[1] = '\0';
	} else {
		*slash = '\0';
	}
	char *abs = realpath(d, NULL);
	if (abs) {
		free(d);
		return abs;
	}
	return d;
}

struct cfg *cfg_load(const char *path, struct cfg_errors *errs)
{
	return cfg_load_edited(path, errs, NULL, NULL);
}

struct cfg *cfg_load_edited(const char *path, struct cfg_errors *errs, cfg_tree_edit edit,
                            void *arg)
{
	struct cfg_errors scratch;
	struct cfg_loader L = {.errs = errs ? errs : &scratch, .path = path ? path : "(built-in)"};
	L.errs->n = 0;
	L.c = cfg_defaults_new();
	if (!L.c) {
		cfg_oom(&L);
		return NULL;
	}
	if (path) {
		L.c->path = cfg_dup(&L, path);
		FILE *f = fopen(path, "r");
		if (!f) {
			cfg_err(&L, "%s: cannot read: %s", path, strerror(errno));
			goto fail;
		}
		fclose(f);
		L.dir = dir_of(path);
		config_t lc;
		config_init(&lc);
		if (L.dir)
			config_set_include_dir(&lc, L.dir);
		if (!config_read_file(&lc, path)) {
			const char *text = config_error_text(&lc) ? config_error_text(&lc) : "?";
			const char *file = config_error_file(&lc) ? config_error_file(&lc) : path;
			if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
				cfg_err(&L, "%s: cannot read: %s", file, text);
			else if (strcmp(text, "syntax error") == 0)
				cfg_err(&L, "%s:%d: syntax error", file, config_error_line(&lc));
			else
				cfg_err(&L, "%s:%d: syntax error: %s", file, config_error_line(&lc),
				        text);
			config_destroy(&lc);
			goto fail;
		}
		char why[CFG_KEY_MAX + 96] = "";
		if (edit && !edit(&lc, arg, why, sizeof(why))) {
			cfg_err(&L, "%s", why);
			config_destroy(&lc);
			goto fail;
		}
		parse_root(&L, config_root_setting(&lc));
		config_destroy(&lc);
	}
	if (L.nerrors == 0 && L.c->ndatabases == 0 && !cfg_database_add_builtin(L.c))
		cfg_oom(&L);
	if (L.nerrors)
		goto fail;
	free(L.dir);
	return L.c;
fail:
	if (L.nerrors > CFG_MAX_ERRORS)
		snprintf(L.errs->msg[CFG_MAX_ERRORS - 1], sizeof(L.errs->msg[0]),
		         "%s: %zu more errors not shown", L.path, L.nerrors - (CFG_MAX_ERRORS - 1));
	free(L.dir);
	cfg_free(L.c);
	return NULL;
}

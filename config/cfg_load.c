/* config/cfg_load.c — reading a libconfig file into a struct cfg: every key of the contract in
 * DESIGN.md, type and range checks, checks across keys (auth file, TLS files, lanes), relative
 * paths. Every problem found is collected as "FILE:LINE: KEY: message"; strings are copied out
 * before libconfig's tree is destroyed. */
#include "config/cfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cfg_private.h"
#include "config/userlist.h"

#define KEY_MAX                 160
#define MAX_CLIENT_CONN_MAX     1000000
#define POOL_SIZE_MAX           10000
#define PREPARED_STATEMENTS_MAX 100000
#define NELEMS(a)               (sizeof(a) / sizeof((a)[0]))

struct loader {
	struct cfg *c;           /* borrowed: being built */
	struct cfg_errors *errs; /* borrowed */
	const char *path;        /* borrowed: the file as named by the caller */
	char *dir;               /* owned: its directory, absolute when possible */
	size_t nerrors;          /* found so far, also those that did not fit in errs */
};

enum str_rule { STR_ANY, STR_NONEMPTY, STR_NAME };

static void errs_add(struct loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void errs_add(struct loader *L, const char *fmt, ...)
{
	L->nerrors++;
	if (L->errs->n >= CFG_MAX_ERRORS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(L->errs->msg[L->errs->n++], sizeof(L->errs->msg[0]), fmt, ap);
	va_end(ap);
}

/* "FILE:LINE: KEY: message", the line and file of setting `s` (the group's, for a key that
 * is missing). */
static void err_at(struct loader *L, const config_setting_t *s, const char *key, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));
static void err_at(struct loader *L, const config_setting_t *s, const char *key, const char *fmt,
                   ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const char *file =
	        s && config_setting_source_file(s) ? config_setting_source_file(s) : L->path;
	unsigned line = s ? config_setting_source_line(s) : 0;
	if (line)
		errs_add(L, "%s:%u: %s: %s", file, line, key, msg);
	else
		errs_add(L, "%s: %s: %s", file, key, msg);
}

static void oom(struct loader *L)
{
	errs_add(L, "%s: out of memory", L->path);
}

static char *dup_str(struct loader *L, const char *s)
{
	char *d = strdup(s);
	if (!d)
		oom(L);
	return d;
}

/* Replace the owned string *dst by a copy of `v`. */
static bool set_str(struct loader *L, char **dst, const char *v)
{
	char *d = dup_str(L, v);
	if (!d)
		return false;
	free(*dst);
	*dst = d;
	return true;
}

/* A dotted key such as "databases[1].olap.size" (cut short, visibly, if ever too long). */
static void key_mark_cut(char *out, int n)
{
	if (n >= KEY_MAX)
		memcpy(out + KEY_MAX - 4, "...", 4);
}

static void key_join(char *out, const char *prefix, const char *name)
{
	key_mark_cut(out, snprintf(out, KEY_MAX, "%s.%s", prefix, name));
}

static void key_index(char *out, const char *prefix, int i)
{
	key_mark_cut(out, snprintf(out, KEY_MAX, "%s[%d]", prefix, i));
}

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	}
	return "nothing";
}

static bool is_int(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	       config_setting_type(s) == CONFIG_TYPE_INT64;
}

static bool expect_group(struct loader *L, const config_setting_t *s, const char *key)
{
	if (config_setting_is_group(s))
		return true;
	err_at(L, s, key, "must be a group { ... }, not %s", type_name(s));
	return false;
}

/* A list of groups `( { ... }, ... )`; an empty array `[ ]` is taken as an empty list. */
static bool expect_list(struct loader *L, const config_setting_t *s, const char *key)
{
	if (config_setting_is_list(s) ||
	    (config_setting_is_array(s) && config_setting_length(s) == 0))
		return true;
	err_at(L, s, key, "must be a list ( { ... }, ... ), not %s", type_name(s));
	return false;
}

static bool get_int(struct loader *L, const config_setting_t *s, const char *key, int min, int max,
                    int *out)
{
	if (!is_int(s)) {
		err_at(L, s, key, "must be an integer, not %s", type_name(s));
		return false;
	}
	long long v = config_setting_get_int64(s);
	if (v < min || v > max) {
		err_at(L, s, key, "must be between %d and %d (got %lld)", min, max, v);
		return false;
	}
	*out = (int)v;
	return true;
}

static bool str_ok(struct loader *L, const config_setting_t *s, const char *key, const char *v,
                   enum str_rule rule)
{
	if (rule != STR_ANY && *v == '\0') {
		err_at(L, s, key, "must not be empty");
		return false;
	}
	if (rule == STR_NAME && strlen(v) >= CFG_NAME_MAX) {
		err_at(L, s, key, "must be at most %d bytes (got %zu)", CFG_NAME_MAX - 1,
		       strlen(v));
		return false;
	}
	return true;
}

static bool get_string(struct loader *L, const config_setting_t *s, const char *key,
                       enum str_rule rule, char **dst)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		err_at(L, s, key, "must be a string, not %s", type_name(s));
		return false;
	}
	const char *v = config_setting_get_string(s);
	return str_ok(L, s, key, v, rule) && set_str(L, dst, v);
}

static bool get_bool(struct loader *L, const config_setting_t *s, const char *key, bool *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		err_at(L, s, key, "must be true or false, not %s", type_name(s));
		return false;
	}
	*out = config_setting_get_bool(s);
	return true;
}

/* A string that must be one of names[0..n-1]; *out is its index. */
static bool get_enum(struct loader *L, const config_setting_t *s, const char *key,
                     const char *const *names, size_t n, int *out)
{
	char choices[160];
	size_t pos = 0;
	choices[0] = '\0';
	for (size_t i = 0; i < n && pos < sizeof(choices); i++)
		pos += (size_t)snprintf(choices + pos, sizeof(choices) - pos, "%s\"%s\"",
		                        i == 0 ? "" : (i + 1 == n ? " or " : ", "), names[i]);
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		err_at(L, s, key, "must be %s, not %s", choices, type_name(s));
		return false;
	}
	const char *v = config_setting_get_string(s);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = (int)i;
			return true;
		}
	}
	err_at(L, s, key, "must be %s (got \"%s\")", choices, v);
	return false;
}

static bool get_duration(struct loader *L, const config_setting_t *s, const char *key, int64_t *out)
{
	if (is_int(s)) {
		long long v = config_setting_get_int64(s);
		if (v < 0) {
			err_at(L, s, key, "must not be negative (got %lld)", v);
			return false;
		}
		if (v > CFG_DURATION_MAX_MS) {
			err_at(L, s, key, "must be at most 8760h (got %lldms)", v);
			return false;
		}
		*out = v;
		return true;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		err_at(L, s, key,
		       "must be a duration such as \"250ms\", \"2s\", \"5min\", \"1h\", not %s",
		       type_name(s));
		return false;
	}
	const char *v = config_setting_get_string(s);
	if (!cfg_duration_parse(v, out)) {
		err_at(L, s, key,
		       "must be a duration such as \"250ms\", \"2s\", \"5min\", \"1h\" (at most "
		       "8760h), "
		       "got \"%s\"",
		       v);
		return false;
	}
	return true;
}

/* An array or list of strings, replacing the owned vector *v of *n strings. */
static bool get_strv(struct loader *L, const config_setting_t *s, const char *key,
                     enum str_rule rule, char ***v, size_t *n)
{
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		err_at(L, s, key, "must be an array of strings [ \"...\", ... ], not %s",
		       type_name(s));
		return false;
	}
	int len = config_setting_length(s);
	if (len < 0)
		len = 0;
	bool ok = true;
	char ekey[KEY_MAX];
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		key_index(ekey, key, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			err_at(L, e, ekey, "must be a string, not %s", type_name(e));
			ok = false;
		} else if (!str_ok(L, e, ekey, config_setting_get_string(e), rule)) {
			ok = false;
		}
	}
	if (!ok)
		return false;
	char **nv = len ? calloc((size_t)len, sizeof(char *)) : NULL;
	if (len && !nv) {
		oom(L);
		return false;
	}
	for (int i = 0; i < len; i++) {
		nv[i] = dup_str(L, config_setting_get_string_elem(s, (unsigned)i));
		if (!nv[i]) {
			cfg_strv_free(nv, (size_t)i);
			return false;
		}
	}
	cfg_strv_free(*v, *n);
	*v = nv;
	*n = (size_t)len;
	return true;
}

/* `p` made absolute against the config file's directory (owned string replaced). */
static void resolve_path(struct loader *L, char **p)
{
	if (**p == '\0' || **p == '/' || !L->dir)
		return;
	size_t n = strlen(L->dir) + strlen(*p) + 2;
	char *r = malloc(n);
	if (!r) {
		oom(L);
		return;
	}
	snprintf(r, n, "%s/%s", L->dir, *p);
	free(*p);
	*p = r;
}

/* Is `path` a readable regular file? If not, report it against setting `s`. */
static bool check_file(struct loader *L, const config_setting_t *s, const char *key,
                       const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0 || access(path, R_OK) != 0) {
		err_at(L, s, key, "cannot read \"%s\": %s", path, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		err_at(L, s, key, "\"%s\" is not a regular file", path);
		return false;
	}
	return true;
}

static bool olap_only_key(const char *name)
{
	return strcmp(name, "replicas") == 0 || strcmp(name, "max_replica_lag") == 0 ||
	       strcmp(name, "fallback") == 0;
}

static const struct {
	const char *name;
	size_t off;
} pool_durations[] = {
        {"statement_timeout", offsetof(struct cfg_pool, statement_timeout_ms)},
        {"idle_in_transaction_timeout", offsetof(struct cfg_pool, idle_in_transaction_timeout_ms)},
        {"client_idle_timeout", offsetof(struct cfg_pool, client_idle_timeout_ms)},
        {"query_wait_timeout", offsetof(struct cfg_pool, query_wait_timeout_ms)},
        {"slow_query", offsetof(struct cfg_pool, slow_query_ms)},
        {"server_lifetime", offsetof(struct cfg_pool, server_lifetime_ms)},
        {"server_idle_timeout", offsetof(struct cfg_pool, server_idle_timeout_ms)},
        {"server_connect_timeout", offsetof(struct cfg_pool, server_connect_timeout_ms)},
        {"client_login_timeout", offsetof(struct cfg_pool, client_login_timeout_ms)},
};

/* One key of `pool` or of a lane group; false when `name` is not a pool key. */
static bool pool_key(struct loader *L, const config_setting_t *s, const char *name, const char *key,
                     struct cfg_pool *p)
{
	int v;
	if (strcmp(name, "mode") == 0) {
		if (get_enum(L, s, key, cfg_pool_mode_names, NELEMS(cfg_pool_mode_names), &v))
			p->mode = (enum cfg_pool_mode)v;
	} else if (strcmp(name, "size") == 0) {
		(void)get_int(L, s, key, 1, POOL_SIZE_MAX, &p->size);
	} else if (strcmp(name, "min_size") == 0) {
		(void)get_int(L, s, key, 0, POOL_SIZE_MAX, &p->min_size);
	} else if (strcmp(name, "max_prepared_statements") == 0) {
		(void)get_int(L, s, key, 0, PREPARED_STATEMENTS_MAX, &p->max_prepared_statements);
	} else if (strcmp(name, "server_reset_query") == 0) {
		(void)get_string(L, s, key, STR_ANY, &p->server_reset_query);
	} else if (strcmp(name, "track_parameters") == 0) {
		(void)get_strv(L, s, key, STR_NAME, &p->track_parameters, &p->ntrack_parameters);
	} else {
		for (size_t i = 0; i < NELEMS(pool_durations); i++) {
			if (strcmp(name, pool_durations[i].name) == 0) {
				int64_t *d = (int64_t *)(void *)((char *)p + pool_durations[i].off);
				(void)get_duration(L, s, key, d);
				return true;
			}
		}
		return false;
	}
	return true;
}

/* min_size <= size, reported where group `g` sets one of them (an inherited pair was
 * reported where it was set). */
static void check_min_size(struct loader *L, const config_setting_t *g, const char *prefix,
                           const struct cfg_pool *p)
{
	if (p->min_size <= p->size)
		return;
	char key[KEY_MAX];
	const config_setting_t *at = config_setting_get_member(g, "min_size");
	if (at) {
		key_join(key, prefix, "min_size");
		err_at(L, at, key, "must be at most size (got %d > %d)", p->min_size, p->size);
		return;
	}
	at = config_setting_get_member(g, "size");
	if (at) {
		key_join(key, prefix, "size");
		err_at(L, at, key, "must be at least min_size (got %d < %d)", p->size, p->min_size);
	}
}

static void parse_pool(struct loader *L, const config_setting_t *g)
{
	size_t before = L->nerrors;
	char key[KEY_MAX];
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		key_join(key, "pool", name);
		if (pool_key(L, s, name, key, &L->c->pool))
			continue;
		if (olap_only_key(name))
			err_at(L, s, key, "only allowed in a database's olap group");
		else
			err_at(L, s, key, "unknown key");
	}
	if (L->nerrors == before)
		check_min_size(L, g, "pool", &L->c->pool);
}

static void parse_tls(struct loader *L, const config_setting_t *g)
{
	static const char *const prefix = "listen.tls";
	struct cfg *c = L->c;
	size_t before = L->nerrors;
	char key[KEY_MAX];
	int v;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		key_join(key, prefix, name);
		if (strcmp(name, "mode") == 0) {
			if (get_enum(L, s, key, cfg_tls_mode_names, NELEMS(cfg_tls_mode_names), &v))
				c->listen.tls.mode = (enum cfg_tls_mode)v;
		} else if (strcmp(name, "cert") == 0) {
			(void)get_string(L, s, key, STR_ANY, &c->listen.tls.cert);
		} else if (strcmp(name, "key") == 0) {
			(void)get_string(L, s, key, STR_ANY, &c->listen.tls.key);
		} else if (strcmp(name, "ca") == 0) {
			(void)get_string(L, s, key, STR_ANY, &c->listen.tls.ca);
		} else {
			err_at(L, s, key, "unknown key");
		}
	}
	if (L->nerrors != before)
		return;
	resolve_path(L, &c->listen.tls.cert);
	resolve_path(L, &c->listen.tls.key);
	resolve_path(L, &c->listen.tls.ca);
	if (c->listen.tls.mode == CFG_TLS_DISABLE)
		return;
	const config_setting_t *mode = config_setting_get_member(g, "mode");
	struct {
		const char *name;
		const char *path;
		bool required;
	} files[] = {{"cert", c->listen.tls.cert, true},
	             {"key", c->listen.tls.key, true},
	             {"ca", c->listen.tls.ca, false}};
	for (size_t i = 0; i < NELEMS(files); i++) {
		key_join(key, prefix, files[i].name);
		if (*files[i].path)
			check_file(L, config_setting_get_member(g, files[i].name), key,
			           files[i].path);
		else if (files[i].required)
			err_at(L, mode, key, "required when listen.tls.mode is \"%s\"",
			       cfg_tls_mode_names[c->listen.tls.mode]);
	}
}

static void parse_listen(struct loader *L, const config_setting_t *g)
{
	struct cfg *c = L->c;
	char key[KEY_MAX];
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		key_join(key, "listen", name);
		if (strcmp(name, "host") == 0)
			(void)get_string(L, s, key, STR_NONEMPTY, &c->listen.host);
		else if (strcmp(name, "port") == 0)
			(void)get_int(L, s, key, 1, 65535, &c->listen.port);
		else if (strcmp(name, "max_client_conn") == 0)
			(void)get_int(L, s, key, 1, MAX_CLIENT_CONN_MAX,
			              &c->listen.max_client_conn);
		else if (strcmp(name, "tls") == 0) {
			if (expect_group(L, s, key))
				parse_tls(L, s);
		} else
			err_at(L, s, key, "unknown key");
	}
}

/* The auth file named by the config: it must exist and load without errors. */
static void check_auth_file(struct loader *L, const config_setting_t *s)
{
	const char *path = L->c->auth.file;
	if (!check_file(L, s, "auth.file", path))
		return;
	struct cfg_errors uerrs;
	struct cfg_userlist *u = cfg_userlist_load(path, &uerrs);
	if (u) {
		cfg_userlist_free(u);
		return;
	}
	err_at(L, s, "auth.file", "\"%s\" is not a valid auth file (%zu error%s follow)", path,
	       uerrs.n, uerrs.n == 1 ? "" : "s");
	for (size_t i = 0; i < uerrs.n; i++)
		errs_add(L, "%s", uerrs.msg[i]);
}

static void parse_auth(struct loader *L, const config_setting_t *g)
{
	struct cfg *c = L->c;
	size_t before = L->nerrors;
	char key[KEY_MAX];
	int v;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		key_join(key, "auth", name);
		if (strcmp(name, "type") == 0) {
			if (get_enum(L, s, key, cfg_auth_type_names, NELEMS(cfg_auth_type_names),
			             &v))
				c->auth.type = (enum cfg_auth_type)v;
		} else if (strcmp(name, "file") == 0) {
			(void)get_string(L, s, key, STR_ANY, &c->auth.file);
		} else {
			err_at(L, s, key, "unknown key");
		}
	}
	if (L->nerrors != before)
		return;
	resolve_path(L, &c->auth.file);
	const config_setting_t *file = config_setting_get_member(g, "file");
	if (*c->auth.file) {
		check_auth_file(L, file);
	} else if (c->auth.type != CFG_AUTH_TRUST) {
		const config_setting_t *type = config_setting_get_member(g, "type");
		err_at(L, file ? file : type, "auth.file", "required when auth.type is \"%s\"",
		       cfg_auth_type_names[c->auth.type]);
	}
}

static void parse_admin(struct loader *L, const config_setting_t *g)
{
	struct cfg *c = L->c;
	char key[KEY_MAX];
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		key_join(key, "admin", name);
		if (strcmp(name, "users") == 0)
			(void)get_strv(L, s, key, STR_NAME, &c->admin.users, &c->admin.nusers);
		else if (strcmp(name, "stats_users") == 0)
			(void)get_strv(L, s, key, STR_NAME, &c->admin.stats_users,
			               &c->admin.nstats_users);
		else if (strcmp(name, "http_port") == 0)
			(void)get_int(L, s, key, 0, 65535, &c->admin.http_port);
		else
			err_at(L, s, key, "unknown key");
	}
}

static void parse_log(struct loader *L, const config_setting_t *g)
{
	char key[KEY_MAX];
	int v;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		key_join(key, "log", name);
		if (strcmp(name, "format") == 0) {
			if (get_enum(L, s, key, cfg_log_format_names, NELEMS(cfg_log_format_names),
			             &v))
				L->c->log.format = (enum cfg_log_format)v;
		} else if (strcmp(name, "level") == 0) {
			if (get_enum(L, s, key, cfg_log_level_names, NELEMS(cfg_log_level_names),
			             &v))
				L->c->log.level = (enum cfg_log_level)v;
		} else {
			err_at(L, s, key, "unknown key");
		}
	}
}

static void parse_monitor(struct loader *L, const config_setting_t *g)
{
	struct cfg *c = L->c;
	char key[KEY_MAX];
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		key_join(key, "monitor", name);
		if (strcmp(name, "interval") == 0) {
			int64_t ms;
			if (!get_duration(L, s, key, &ms))
				continue;
			if (ms == 0)
				err_at(L, s, key, "must be more than 0");
			else
				c->monitor.interval_ms = ms;
		} else if (strcmp(name, "user") == 0) {
			(void)get_string(L, s, key, STR_ANY, &c->monitor.user);
		} else if (strcmp(name, "password") == 0) {
			(void)get_string(L, s, key, STR_ANY, &c->monitor.password);
		} else {
			err_at(L, s, key, "unknown key");
		}
	}
}

static void parse_replicas(struct loader *L, const config_setting_t *list, const char *prefix,
                           struct cfg_lane *lane)
{
	if (!expect_list(L, list, prefix))
		return;
	size_t n = (size_t)config_setting_length(list);
	if (n == 0)
		return;
	lane->replicas = calloc(n, sizeof(*lane->replicas));
	if (!lane->replicas) {
		oom(L);
		return;
	}
	lane->nreplicas = n;
	char rkey[KEY_MAX], key[KEY_MAX];
	for (size_t r = 0; r < n; r++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)r);
		struct cfg_endpoint *ep = &lane->replicas[r];
		ep->port = CFG_DEFAULT_DB_PORT;
		key_index(rkey, prefix, (int)r);
		if (!expect_group(L, g, rkey))
			continue;
		for (int i = 0; i < config_setting_length(g); i++) {
			const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
			const char *name = config_setting_name(s);
			key_join(key, rkey, name);
			if (strcmp(name, "host") == 0)
				(void)get_string(L, s, key, STR_NONEMPTY, &ep->host);
			else if (strcmp(name, "port") == 0)
				(void)get_int(L, s, key, 1, 65535, &ep->port);
			else
				err_at(L, s, key, "unknown key");
		}
		if (!config_setting_get_member(g, "host")) {
			key_join(key, rkey, "host");
			err_at(L, g, key, "required");
		}
	}
}

static void parse_lane(struct loader *L, const config_setting_t *g, const char *prefix,
                       struct cfg_lane *lane, enum cfg_lane_kind kind)
{
	if (!expect_group(L, g, prefix))
		return;
	lane->enabled = true;
	size_t before = L->nerrors;
	char key[KEY_MAX];
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		key_join(key, prefix, name);
		if (pool_key(L, s, name, key, &lane->pool))
			continue;
		if (!olap_only_key(name))
			err_at(L, s, key, "unknown key");
		else if (kind != CFG_LANE_OLAP)
			err_at(L, s, key, "only allowed in the olap lane");
		else if (strcmp(name, "replicas") == 0)
			parse_replicas(L, s, key, lane);
		else if (strcmp(name, "max_replica_lag") == 0)
			(void)get_duration(L, s, key, &lane->max_replica_lag_ms);
		else
			(void)get_bool(L, s, key, &lane->fallback);
	}
	if (L->nerrors == before)
		check_min_size(L, g, prefix, &lane->pool);
}

/* Add `db` (whose contents move into the config) to the list. */
static struct cfg_database *add_database(struct loader *L, struct cfg_database *db)
{
	struct cfg *c = L->c;
	struct cfg_database *dbs = realloc(c->databases, (c->ndatabases + 1) * sizeof(*dbs));
	if (!dbs) {
		oom(L);
		cfg_database_release(db);
		return NULL;
	}
	c->databases = dbs;
	dbs[c->ndatabases] = *db;
	return &dbs[c->ndatabases++];
}

static void parse_database(struct loader *L, const config_setting_t *g, const char *prefix)
{
	struct cfg_database tmp;
	if (!cfg_database_init(&tmp, "", &L->c->pool)) {
		cfg_database_release(&tmp);
		oom(L);
		return;
	}
	tmp.line = (int)config_setting_source_line(g);
	struct cfg_database *db = add_database(L, &tmp);
	if (!db)
		return;
	size_t index = L->c->ndatabases - 1;
	char key[KEY_MAX];
	int v;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		key_join(key, prefix, name);
		if (strcmp(name, "name") == 0) {
			(void)get_string(L, s, key, STR_NAME, &db->name);
		} else if (strcmp(name, "host") == 0) {
			(void)get_string(L, s, key, STR_NONEMPTY, &db->host);
		} else if (strcmp(name, "port") == 0) {
			(void)get_int(L, s, key, 1, 65535, &db->port);
		} else if (strcmp(name, "dbname") == 0) {
			(void)get_string(L, s, key, STR_ANY, &db->dbname);
		} else if (strcmp(name, "user") == 0) {
			(void)get_string(L, s, key, STR_ANY, &db->user);
		} else if (strcmp(name, "password") == 0) {
			(void)get_string(L, s, key, STR_ANY, &db->password);
		} else if (strcmp(name, "default_lane") == 0) {
			if (get_enum(L, s, key, cfg_lane_names, CFG_LANE_COUNT, &v))
				db->default_lane = (enum cfg_lane_kind)v;
		} else if (strcmp(name, "oltp") == 0) {
			parse_lane(L, s, key, &db->lanes[CFG_LANE_OLTP], CFG_LANE_OLTP);
		} else if (strcmp(name, "olap") == 0) {
			parse_lane(L, s, key, &db->lanes[CFG_LANE_OLAP], CFG_LANE_OLAP);
		} else if (olap_only_key(name)) {
			err_at(L, s, key, "only allowed in the olap group (%s.olap.%s)", prefix,
			       name);
		} else {
			err_at(L, s, key, "unknown key");
		}
	}
	const config_setting_t *name = config_setting_get_member(g, "name");
	if (!name) {
		key_join(key, prefix, "name");
		err_at(L, g, key, "required");
	} else if (*db->name) {
		for (size_t j = 0; j < index; j++) {
			if (strcmp(L->c->databases[j].name, db->name) != 0)
				continue;
			key_join(key, prefix, "name");
			err_at(L, name, key,
			       "duplicate database name \"%s\" (first defined on line %d)",
			       db->name, L->c->databases[j].line);
			break;
		}
	}
	if (db->default_lane == CFG_LANE_OLAP && !db->lanes[CFG_LANE_OLAP].enabled) {
		key_join(key, prefix, "default_lane");
		err_at(L, config_setting_get_member(g, "default_lane"), key,
		       "is \"olap\" but the database has no olap group");
	}
}

static void parse_databases(struct loader *L, const config_setting_t *list)
{
	char key[KEY_MAX];
	for (int i = 0; i < config_setting_length(list); i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		key_index(key, "databases", i);
		if (expect_group(L, g, key))
			parse_database(L, g, key);
	}
}

static void parse_route(struct loader *L, const config_setting_t *g, const char *prefix,
                        struct cfg_route *r)
{
	char key[KEY_MAX];
	int v;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		key_join(key, prefix, name);
		if (strcmp(name, "user") == 0) {
			(void)get_string(L, s, key, STR_NAME, &r->user);
		} else if (strcmp(name, "application_name") == 0) {
			(void)get_string(L, s, key, STR_ANY, &r->application_name);
		} else if (strcmp(name, "database") == 0) {
			(void)get_string(L, s, key, STR_NAME, &r->database);
		} else if (strcmp(name, "lane") == 0) {
			if (get_enum(L, s, key, cfg_lane_names, CFG_LANE_COUNT, &v))
				r->lane = (enum cfg_lane_kind)v;
		} else {
			err_at(L, s, key, "unknown key");
		}
	}
	if (!config_setting_get_member(g, "lane")) {
		key_join(key, prefix, "lane");
		err_at(L, g, key, "required");
	}
}

static void parse_routes(struct loader *L, const config_setting_t *list)
{
	size_t n = (size_t)config_setting_length(list);
	if (n == 0)
		return;
	L->c->routes = calloc(n, sizeof(*L->c->routes));
	if (!L->c->routes) {
		oom(L);
		return;
	}
	L->c->nroutes = n;
	char key[KEY_MAX];
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		key_index(key, "routes", (int)i);
		if (expect_group(L, g, key))
			parse_route(L, g, key, &L->c->routes[i]);
	}
}

/* "all", or an IPv4/IPv6 address with a prefix length: "10.0.0.0/8", "::1/128". */
static bool cidr_valid(const char *s)
{
	if (strcmp(s, "all") == 0)
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

static void parse_hba_entry(struct loader *L, const config_setting_t *g, const char *prefix,
                            struct cfg_hba *h)
{
	char key[KEY_MAX];
	int v;
	if (!set_str(L, &h->database, "all") || !set_str(L, &h->user, "all"))
		return;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		key_join(key, prefix, name);
		if (strcmp(name, "address") == 0) {
			if (config_setting_type(s) == CONFIG_TYPE_STRING &&
			    !cidr_valid(config_setting_get_string(s)))
				err_at(L, s, key,
				       "must be \"all\" or an address with a prefix length such as "
				       "\"10.0.0.0/8\" or \"::1/128\" (got \"%s\")",
				       config_setting_get_string(s));
			else
				(void)get_string(L, s, key, STR_NONEMPTY, &h->address);
		} else if (strcmp(name, "database") == 0) {
			(void)get_string(L, s, key, STR_NAME, &h->database);
		} else if (strcmp(name, "user") == 0) {
			(void)get_string(L, s, key, STR_NAME, &h->user);
		} else if (strcmp(name, "method") == 0) {
			if (get_enum(L, s, key, cfg_hba_method_names, NELEMS(cfg_hba_method_names),
			             &v))
				(void)set_str(L, &h->method, cfg_hba_method_names[v]);
		} else {
			err_at(L, s, key, "unknown key");
		}
	}
	static const char *const required[] = {"address", "method"};
	for (size_t i = 0; i < NELEMS(required); i++) {
		if (config_setting_get_member(g, required[i]))
			continue;
		key_join(key, prefix, required[i]);
		err_at(L, g, key, "required");
	}
}

static void parse_hba(struct loader *L, const config_setting_t *list)
{
	size_t n = (size_t)config_setting_length(list);
	if (n == 0)
		return;
	L->c->hba = calloc(n, sizeof(*L->c->hba));
	if (!L->c->hba) {
		oom(L);
		return;
	}
	L->c->nhba = n;
	char key[KEY_MAX];
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		key_index(key, "hba", (int)i);
		if (expect_group(L, g, key))
			parse_hba_entry(L, g, key, &L->c->hba[i]);
	}
}

/* The top-level keys, in the order they are read (pool before databases: lanes start from
 * the pool defaults). */
static const struct {
	const char *name;
	bool is_list;
	void (*parse)(struct loader *L, const config_setting_t *s);
} top_keys[] = {
        {"listen", false, parse_listen},
        {"auth", false, parse_auth},
        {"admin", false, parse_admin},
        {"log", false, parse_log},
        {"pool", false, parse_pool},
        {"monitor", false, parse_monitor},
        {"databases", true, parse_databases},
        {"routes", true, parse_routes},
        {"hba", true, parse_hba},
};

static void parse_root(struct loader *L, const config_setting_t *root)
{
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		size_t k = 0;
		while (k < NELEMS(top_keys) && strcmp(top_keys[k].name, config_setting_name(s)))
			k++;
		if (k == NELEMS(top_keys))
			err_at(L, s, config_setting_name(s), "unknown key");
	}
	for (size_t k = 0; k < NELEMS(top_keys); k++) {
		const config_setting_t *s = config_setting_get_member(root, top_keys[k].name);
		if (!s)
			continue;
		bool ok = top_keys[k].is_list ? expect_list(L, s, top_keys[k].name)
		                              : expect_group(L, s, top_keys[k].name);
		if (ok)
			top_keys[k].parse(L, s);
	}
	struct cfg *c = L->c;
	if (c->admin.http_port != 0 && c->admin.http_port == c->listen.port) {
		const config_setting_t *admin = config_setting_get_member(root, "admin");
		const config_setting_t *at =
		        admin ? config_setting_get_member(admin, "http_port") : NULL;
		err_at(L, at ? at : root, "admin.http_port",
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
	struct cfg_errors scratch;
	struct loader L = {.errs = errs ? errs : &scratch, .path = path ? path : "(built-in)"};
	L.errs->n = 0;
	L.c = cfg_defaults_new();
	if (!L.c) {
		oom(&L);
		return NULL;
	}
	if (path) {
		L.c->path = dup_str(&L, path);
		FILE *f = fopen(path, "r");
		if (!f) {
			errs_add(&L, "%s: cannot read: %s", path, strerror(errno));
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
				errs_add(&L, "%s: cannot read: %s", file, text);
			else if (strcmp(text, "syntax error") == 0)
				errs_add(&L, "%s:%d: syntax error", file, config_error_line(&lc));
			else
				errs_add(&L, "%s:%d: syntax error: %s", file,
				         config_error_line(&lc), text);
			config_destroy(&lc);
			goto fail;
		}
		parse_root(&L, config_root_setting(&lc));
		config_destroy(&lc);
	}
	if (L.nerrors == 0 && L.c->ndatabases == 0 && !cfg_database_add_builtin(L.c))
		oom(&L);
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

/* config/cfg_pool_keys.c — the pool keys, read wherever they may be set: `pool` (the global
 * defaults), a database (both its lanes), a lane, or a `users` entry (per-user overrides). One
 * table says each key's type, range and where it is allowed; the `users` list is read here
 * too. */
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"
#include "config/cfg_pool_keys.h"
#include "config/cfg_private.h"
#include "config/cfg_read.h"

#define POOL_SIZE_MAX           10000
#define PREPARED_STATEMENTS_MAX 100000
#define CONNECTIONS_MAX         1000000
#define NELEMS(a)               (sizeof(a) / sizeof((a)[0]))

enum pk_type { PK_MODE, PK_PIN, PK_INT, PK_DURATION, PK_BOOL, PK_STRING, PK_STRV };

#define AT_SERVER (CFG_AT_POOL | CFG_AT_DATABASE | CFG_AT_LANE)
#define AT_ALL    (AT_SERVER | CFG_AT_USER)

static const struct pool_key {
	const char *name;
	const char *alias; /* PgBouncer's name, accepted in `users` */
	enum pk_type type;
	size_t off;
	size_t count_off; /* PK_STRV: where its count is */
	int min, max;     /* PK_INT */
	unsigned at;      /* where it may be set (enum cfg_key_place bits) */
	int user_bit;     /* enum cfg_pool_key, -1 when not per user */
} keys[] = {
#define F(field) offsetof(struct cfg_pool, field)
        {"mode", "pool_mode", PK_MODE, F(mode), 0, 0, 0, AT_ALL, CFG_PK_MODE},
        {"size", "pool_size", PK_INT, F(size), 0, 1, POOL_SIZE_MAX, AT_ALL, CFG_PK_SIZE},
        {"min_size", NULL, PK_INT, F(min_size), 0, 0, POOL_SIZE_MAX, AT_ALL, CFG_PK_MIN_SIZE},
        {"reserve_pool_size", NULL, PK_INT, F(reserve_pool_size), 0, 0, POOL_SIZE_MAX, AT_ALL,
         CFG_PK_RESERVE_POOL_SIZE},
        {"max_prepared_statements", NULL, PK_INT, F(max_prepared_statements), 0, 0,
         PREPARED_STATEMENTS_MAX, AT_ALL, CFG_PK_MAX_PREPARED_STATEMENTS},
        {"statement_timeout", "query_timeout", PK_DURATION, F(statement_timeout_ms), 0, 0, 0,
         AT_ALL, CFG_PK_STATEMENT_TIMEOUT},
        {"idle_in_transaction_timeout", "idle_transaction_timeout", PK_DURATION,
         F(idle_in_transaction_timeout_ms), 0, 0, 0, AT_ALL, CFG_PK_IDLE_IN_TRANSACTION_TIMEOUT},
        {"client_idle_timeout", NULL, PK_DURATION, F(client_idle_timeout_ms), 0, 0, 0, AT_ALL,
         CFG_PK_CLIENT_IDLE_TIMEOUT},
        {"query_wait_timeout", NULL, PK_DURATION, F(query_wait_timeout_ms), 0, 0, 0, AT_ALL,
         CFG_PK_QUERY_WAIT_TIMEOUT},
        {"query_wait_notify", NULL, PK_DURATION, F(query_wait_notify_ms), 0, 0, 0, AT_ALL,
         CFG_PK_QUERY_WAIT_NOTIFY},
        {"transaction_timeout", NULL, PK_DURATION, F(transaction_timeout_ms), 0, 0, 0, AT_ALL,
         CFG_PK_TRANSACTION_TIMEOUT},
        {"slow_query", NULL, PK_DURATION, F(slow_query_ms), 0, 0, 0, AT_ALL, CFG_PK_SLOW_QUERY},
        {"pin_session_state", NULL, PK_PIN, F(pin_session_state), 0, 0, 0, AT_ALL,
         CFG_PK_PIN_SESSION_STATE},
        {"max_user_connections", NULL, PK_INT, F(max_user_connections), 0, 0, CONNECTIONS_MAX,
         CFG_AT_POOL | CFG_AT_USER, CFG_PK_MAX_USER_CONNECTIONS},
        {"max_user_client_connections", NULL, PK_INT, F(max_user_client_connections), 0, 0,
         CONNECTIONS_MAX, CFG_AT_POOL | CFG_AT_USER, CFG_PK_MAX_USER_CLIENT_CONNECTIONS},
        {"max_db_connections", NULL, PK_INT, F(max_db_connections), 0, 0, CONNECTIONS_MAX,
         CFG_AT_POOL | CFG_AT_DATABASE, -1},
        {"max_db_client_connections", NULL, PK_INT, F(max_db_client_connections), 0, 0,
         CONNECTIONS_MAX, CFG_AT_POOL | CFG_AT_DATABASE, -1},
        {"reserve_pool_timeout", NULL, PK_DURATION, F(reserve_pool_timeout_ms), 0, 0, 0, AT_SERVER,
         -1},
        {"server_lifetime", NULL, PK_DURATION, F(server_lifetime_ms), 0, 0, 0, AT_SERVER, -1},
        {"server_idle_timeout", NULL, PK_DURATION, F(server_idle_timeout_ms), 0, 0, 0, AT_SERVER,
         -1},
        {"server_connect_timeout", NULL, PK_DURATION, F(server_connect_timeout_ms), 0, 0, 0,
         AT_SERVER, -1},
        {"client_login_timeout", NULL, PK_DURATION, F(client_login_timeout_ms), 0, 0, 0, AT_SERVER,
         -1},
        {"server_login_retry", NULL, PK_DURATION, F(server_login_retry_ms), 0, 0, 0, AT_SERVER, -1},
        {"cancel_wait_timeout", NULL, PK_DURATION, F(cancel_wait_timeout_ms), 0, 0, 0, AT_SERVER,
         -1},
        {"server_check_delay", NULL, PK_DURATION, F(server_check_delay_ms), 0, 0, 0, AT_SERVER, -1},
        {"server_check_query", NULL, PK_STRING, F(server_check_query), 0, 0, 0, AT_SERVER, -1},
        {"server_reset_query", NULL, PK_STRING, F(server_reset_query), 0, 0, 0, AT_SERVER, -1},
        {"server_reset_query_always", NULL, PK_BOOL, F(server_reset_query_always), 0, 0, 0,
         AT_SERVER, -1},
        {"server_round_robin", NULL, PK_BOOL, F(server_round_robin), 0, 0, 0, AT_SERVER, -1},
        {"track_parameters", NULL, PK_STRV, F(track_parameters), F(ntrack_parameters), 0, 0,
         AT_SERVER, -1},
        {"ignore_startup_parameters", NULL, PK_STRV, F(ignore_startup_parameters),
         F(nignore_startup_parameters), 0, 0, AT_SERVER, -1},
#undef F
};

/* "pool, a database or a lane" for the places in `at`. */
static const char *places(unsigned at)
{
	switch (at) {
	case AT_ALL:
		return "pool, a database, a lane or a user";
	case AT_SERVER:
		return "pool, a database or a lane";
	case CFG_AT_POOL | CFG_AT_USER:
		return "pool or a user";
	case CFG_AT_POOL | CFG_AT_DATABASE:
		return "pool or a database";
	default:
		return "pool";
	}
}

static const struct pool_key *find_key(const char *name, enum cfg_key_place at)
{
	for (size_t i = 0; i < NELEMS(keys); i++)
		if (strcmp(keys[i].name, name) == 0 ||
		    (at == CFG_AT_USER && keys[i].alias && strcmp(keys[i].alias, name) == 0))
			return &keys[i];
	return NULL;
}

static void *field(struct cfg_pool *p, size_t off)
{
	return (char *)p + off;
}

/* Read the value of key `k` from setting `s` into `p`; false when it was wrong. */
static bool read_value(struct cfg_loader *L, const config_setting_t *s, const char *key,
                       const struct pool_key *k, struct cfg_pool *p)
{
	int v;
	switch (k->type) {
	case PK_MODE:
		if (!cfg_get_enum(L, s, key, cfg_pool_mode_names, NELEMS(cfg_pool_mode_names), &v))
			return false;
		p->mode = (enum cfg_pool_mode)v;
		return true;
	case PK_PIN:
		if (!cfg_get_enum(L, s, key, cfg_pin_mode_names, NELEMS(cfg_pin_mode_names), &v))
			return false;
		p->pin_session_state = (enum cfg_pin_mode)v;
		return true;
	case PK_INT:
		return cfg_get_int(L, s, key, k->min, k->max, field(p, k->off));
	case PK_DURATION:
		return cfg_get_duration(L, s, key, field(p, k->off));
	case PK_BOOL:
		return cfg_get_bool(L, s, key, field(p, k->off));
	case PK_STRING:
		return cfg_get_string(L, s, key, CFG_STR_ANY, field(p, k->off));
	case PK_STRV:
		return cfg_get_strv(L, s, key, CFG_STR_NAME, field(p, k->off),
		                    field(p, k->count_off));
	}
	return false;
}

bool cfg_pool_key_read(struct cfg_loader *L, const config_setting_t *s, const char *name,
                       const char *key, enum cfg_key_place at, struct cfg_pool *p, uint32_t *set)
{
	const struct pool_key *k = find_key(name, at);
	if (!k)
		return false;
	if (!(k->at & at)) {
		cfg_err_at(L, s, key, "only allowed in %s", places(k->at));
		return true;
	}
	if (read_value(L, s, key, k, p) && set && k->user_bit >= 0)
		*set |= 1u << k->user_bit;
	return true;
}

bool cfg_pool_key_copy(const char *name, struct cfg_pool *dst, const struct cfg_pool *src)
{
	const struct pool_key *k = find_key(name, CFG_AT_DATABASE);
	if (!k)
		return true;
	switch (k->type) {
	case PK_MODE:
		dst->mode = src->mode;
		return true;
	case PK_PIN:
		dst->pin_session_state = src->pin_session_state;
		return true;
	case PK_INT:
		memcpy(field(dst, k->off), field((void *)src, k->off), sizeof(int));
		return true;
	case PK_DURATION:
		memcpy(field(dst, k->off), field((void *)src, k->off), sizeof(int64_t));
		return true;
	case PK_BOOL:
		memcpy(field(dst, k->off), field((void *)src, k->off), sizeof(bool));
		return true;
	case PK_STRING: {
		char **d = field(dst, k->off);
		char *copy = strdup(*(char **)field((void *)src, k->off));
		if (!copy)
			return false;
		free(*d);
		*d = copy;
		return true;
	}
	case PK_STRV: {
		char ***d = field(dst, k->off);
		size_t *dn = field(dst, k->count_off);
		char **sv = *(char ***)field((void *)src, k->off);
		size_t sn = *(size_t *)field((void *)src, k->count_off);
		char **copy = sn ? calloc(sn, sizeof(char *)) : NULL;
		if (sn && !copy)
			return false;
		for (size_t i = 0; i < sn; i++) {
			if (!(copy[i] = strdup(sv[i]))) {
				cfg_strv_free(copy, i);
				return false;
			}
		}
		cfg_strv_free(*d, *dn);
		*d = copy;
		*dn = sn;
		return true;
	}
	}
	return true;
}

void cfg_pool_check_min_size(struct cfg_loader *L, const config_setting_t *g, const char *prefix,
                             const struct cfg_pool *p)
{
	if (p->min_size <= p->size)
		return;
	char key[CFG_KEY_MAX];
	const config_setting_t *at = config_setting_get_member(g, "min_size");
	if (at) {
		cfg_key_join(key, prefix, "min_size");
		cfg_err_at(L, at, key, "must be at most size (got %d > %d)", p->min_size, p->size);
		return;
	}
	at = config_setting_get_member(g, "size");
	if (!at)
		at = config_setting_get_member(g, "pool_size");
	if (at) {
		cfg_key_join(key, prefix, config_setting_name(at));
		cfg_err_at(L, at, key, "must be at least min_size (got %d < %d)", p->size,
		           p->min_size);
	}
}

static void parse_user(struct cfg_loader *L, const config_setting_t *g, const char *prefix,
                       struct cfg_user_settings *u, size_t index)
{
	char key[CFG_KEY_MAX];
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		cfg_key_join(key, prefix, name);
		if (strcmp(name, "name") == 0)
			(void)cfg_get_string(L, s, key, CFG_STR_NAME, &u->name);
		else if (!cfg_pool_key_read(L, s, name, key, CFG_AT_USER, &u->pool, &u->set))
			cfg_err_at(L, s, key, "unknown key");
	}
	const config_setting_t *name = config_setting_get_member(g, "name");
	if (!name) {
		cfg_key_join(key, prefix, "name");
		cfg_err_at(L, g, key, "required");
		return;
	}
	for (size_t j = 0; j < index && *u->name; j++) {
		if (strcmp(L->c->users[j].name, u->name) != 0)
			continue;
		cfg_key_join(key, prefix, "name");
		cfg_err_at(L, name, key, "duplicate user \"%s\" (first defined on line %d)",
		           u->name, L->c->users[j].line);
		return;
	}
	/* size and min_size of a user are checked against what the user ends up with where
	 * only one of them is set per user: the global pool's other value */
	struct cfg_pool eff = L->c->pool;
	if (u->set & (1u << CFG_PK_SIZE))
		eff.size = u->pool.size;
	if (u->set & (1u << CFG_PK_MIN_SIZE))
		eff.min_size = u->pool.min_size;
	cfg_pool_check_min_size(L, g, prefix, &eff);
}

void cfg_users_parse(struct cfg_loader *L, const config_setting_t *list)
{
	size_t n = (size_t)config_setting_length(list);
	if (n == 0)
		return;
	L->c->users = calloc(n, sizeof(*L->c->users));
	if (!L->c->users) {
		cfg_oom(L);
		return;
	}
	char key[CFG_KEY_MAX];
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct cfg_user_settings *u = &L->c->users[i];
		L->c->nusers = i + 1;
		u->line = (int)config_setting_source_line(g);
		if (!cfg_pool_set_defaults(&u->pool) || !(u->name = cfg_dup(L, ""))) {
			cfg_oom(L);
			return;
		}
		cfg_key_index(key, "users", (int)i);
		if (cfg_expect_group(L, g, key))
			parse_user(L, g, key, u, i);
	}
}

/* config/cfg_pool_keys.h — private to config/: reading the pool keys where they may be set
 * (`pool`, a database, a lane, a user) and the `users` list. */
#ifndef PGLANE_CONFIG_CFG_POOL_KEYS_H
#define PGLANE_CONFIG_CFG_POOL_KEYS_H

#include <libconfig.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/cfg.h"
#include "config/cfg_read.h"

/* Where a pool key is being read. */
enum cfg_key_place {
	CFG_AT_POOL = 1,
	CFG_AT_DATABASE = 2,
	CFG_AT_LANE = 4,
	CFG_AT_USER = 8,
};

/* If `name` is a pool key, read setting `s` (reported as `key`) into `p` and return true: an
 * error is recorded when the key is not allowed at `at` or its value is wrong. With `set`, the
 * key's bit (enum cfg_pool_key) is added there. False when `name` is not a pool key. In `users`,
 * PgBouncer's names pool_mode, pool_size, query_timeout and idle_transaction_timeout are also
 * accepted. */
bool cfg_pool_key_read(struct cfg_loader *L, const config_setting_t *s, const char *name,
                       const char *key, enum cfg_key_place at, struct cfg_pool *p, uint32_t *set);
/* Copy pool key `name`'s value from `src` to `dst` (strings duplicated); false when out of
 * memory. */
bool cfg_pool_key_copy(const char *name, struct cfg_pool *dst, const struct cfg_pool *src);
/* min_size <= size, reported where group `g` sets one of them. */
void cfg_pool_check_min_size(struct cfg_loader *L, const config_setting_t *g, const char *prefix,
                             const struct cfg_pool *p);
/* The top-level `users` list into L->c->users. */
void cfg_users_parse(struct cfg_loader *L, const config_setting_t *list);

#endif

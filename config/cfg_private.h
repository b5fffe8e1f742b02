/* config/cfg_private.h — what the files of config/ share among themselves (defaults, the
 * name tables of the enums, deep copy and release of the owned parts of a config). Nothing
 * outside config/ includes this header. */
#ifndef PGLANE_CONFIG_CFG_PRIVATE_H
#define PGLANE_CONFIG_CFG_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "config/cfg.h"

/* Names of the enum values, indexed by the enum; the same strings the config file uses. */
extern const char *const cfg_pool_mode_names[2];
extern const char *const cfg_pin_mode_names[3];
extern const char *const cfg_cpu_affinity_names[2];
extern const char *const cfg_auth_type_names[3];
extern const char *const cfg_log_format_names[2];
extern const char *const cfg_log_level_names[4];
extern const char *const cfg_tls_mode_names[6];
extern const char *const cfg_lane_names[CFG_LANE_COUNT];
extern const char *const cfg_sslmode_names[5];
extern const char *const cfg_tsa_names[CFG_TSA_COUNT];
/* hba methods (stored as strings in struct cfg_hba). */
extern const char *const cfg_hba_method_names[6];

/* Defaults that have no field in `pool` (a lane's replica settings, a database's address). */
#define CFG_DEFAULT_DB_HOST          "127.0.0.1"
#define CFG_DEFAULT_DB_PORT          5432
#define CFG_DEFAULT_REPLICA_LAG_MS   30000
#define CFG_DEFAULT_REPLICA_FALLBACK true

/* A new config holding every built-in default except the database list (empty); NULL when
 * out of memory. */
struct cfg *cfg_defaults_new(void);
/* Set `p` to the built-in pool defaults; false (and `p` releasable) when out of memory. */
bool cfg_pool_set_defaults(struct cfg_pool *p);
/* Deep copy `src` into `dst` (which owns nothing yet); false when out of memory, leaving
 * `dst` releasable. */
bool cfg_pool_copy(struct cfg_pool *dst, const struct cfg_pool *src);
/* Free what `p` owns and clear it. */
void cfg_pool_release(struct cfg_pool *p);
/* Set `db` (which owns nothing yet) to a database with the defaults: host 127.0.0.1, port
 * 5432, lane oltp enabled with `c->pool`, olap disabled with `c->pool`, sslmode and
 * sslrootcert from `c->server_tls`. `name` is copied. */
bool cfg_database_init(struct cfg_database *db, const char *name, const struct cfg *c);
void cfg_database_release(struct cfg_database *db);
/* Free a vector of owned strings. */
void cfg_strv_free(char **v, size_t n);
/* Append the built-in "*" database (with c->pool as both lanes' settings, c->server_tls's
 * sslmode and CA). */
bool cfg_database_add_builtin(struct cfg *c);

#endif

/* pool/catalog.h — the settings a database's server knows (pg_settings: name and context),
 * read once when the first server of the database logs in, so that a client's start-up
 * parameters can be checked at its login as PostgreSQL would: an unknown name is refused, a
 * name that only the server's start can set cannot be carried by pglane. */
#ifndef PGLANE_POOL_CATALOG_H
#define PGLANE_POOL_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

enum pool_guc_context {
	POOL_GUC_UNKNOWN,   /* not a setting of the server (and not a placeholder a.b) */
	POOL_GUC_USER,      /* SET by anyone */
	POOL_GUC_SUPERUSER, /* SET by a superuser */
	POOL_GUC_FIXED,     /* internal, postmaster, sighup, backend, superuser-backend */
};

struct pool_catalog;

struct pool_catalog *pool_catalog_new(void);
void pool_catalog_free(struct pool_catalog *c);
/* A copy of a done catalog (another worker's database record gets its own); NULL when `c`
 * is NULL or out of memory. */
struct pool_catalog *pool_catalog_copy(const struct pool_catalog *c);
/* One row of pg_settings: `name`, `context` as PostgreSQL spells it. False when out of
 * memory. */
__attribute__((warn_unused_result)) bool pool_catalog_add(struct pool_catalog *c, const char *name,
                                                          const char *context);
/* All rows were added: ready for look-ups. */
void pool_catalog_done(struct pool_catalog *c);
size_t pool_catalog_count(const struct pool_catalog *c);
/* What `name` is (case-insensitive); a name with a dot is a placeholder anyone may set. */
enum pool_guc_context pool_catalog_context(const struct pool_catalog *c, const char *name);

#endif

/* pool/stmt.h — prepared statements in transaction mode.
 *
 * A pool_stmt is a statement by content (query text and parameter types), shared by every
 * client that prepared it, under one server-side name "pglane_<n>". Each client maps its own
 * statement names to pool_stmts (pool_stmt_map); each server remembers which pool_stmts it
 * has prepared, least recently used first out (pool_stmt_cache). Maps and caches hold
 * references; a statement is freed with its last reference. */
#ifndef PGLANE_POOL_STMT_H
#define PGLANE_POOL_STMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/sql.h"

#define POOL_STMT_NAME_LEN 24

struct pool_stmt {
	struct pool_stmt *next; /* registry hash chain */
	uint32_t refs;
	uint32_t hash;
	uint64_t id;
	char name[POOL_STMT_NAME_LEN]; /* server-side name */
	struct proto_sql_info *info;   /* owned: what its text does to the session, NULL when
	                                  nothing (scanned once, when it is first seen) */
	uint32_t len;                  /* bytes of body */
	uint8_t body[];                /* Parse body after the name: query, parameter types */
};

/* The statement with this Parse body (a new reference), created on first use (its text
 * scanned then, protocol/sql.h); NULL when out of memory. */
struct pool_stmt *pool_stmt_get(const uint8_t *body, size_t len);
void pool_stmt_ref(struct pool_stmt *s);
/* Drop a reference; NULL is ignored. */
void pool_stmt_put(struct pool_stmt *s);
/* Statements alive, for statistics and tests. */
size_t pool_stmt_count(void);

/* ---- a client's names ---- */
struct pool_stmt_map;
struct pool_stmt_map *pool_stmt_map_new(void);
void pool_stmt_map_free(struct pool_stmt_map *m);
/* The statement a name stands for, or NULL. */
struct pool_stmt *pool_stmt_map_get(const struct pool_stmt_map *m, const char *name);
/* Point `name` at `s` (taking a reference), replacing what it stood for. */
__attribute__((warn_unused_result)) bool pool_stmt_map_set(struct pool_stmt_map *m,
                                                           const char *name, struct pool_stmt *s);
/* Forget `name`; false when it was not there. */
bool pool_stmt_map_del(struct pool_stmt_map *m, const char *name);
void pool_stmt_map_clear(struct pool_stmt_map *m);
size_t pool_stmt_map_count(const struct pool_stmt_map *m);
/* Does any of the names (NULL: no map) stand for a statement with an info (one that does
 * something to the session)? */
bool pool_stmt_map_has_info(const struct pool_stmt_map *m);

/* ---- a server's prepared statements ---- */
struct pool_stmt_cache;
/* A cache of at most `cap` (>= 1) statements. */
struct pool_stmt_cache *pool_stmt_cache_new(int cap);
void pool_stmt_cache_free(struct pool_stmt_cache *c);
/* Is `s` prepared there? Marks it most recently used. */
bool pool_stmt_cache_has(struct pool_stmt_cache *c, const struct pool_stmt *s);
/* The statement that must go before `s` can be added (least recently used), or NULL when
 * there is room. The caller closes it on the server and calls pool_stmt_cache_remove(). */
struct pool_stmt *pool_stmt_cache_victim(const struct pool_stmt_cache *c);
/* Record `s` as prepared (taking a reference); there must be room. */
void pool_stmt_cache_add(struct pool_stmt_cache *c, struct pool_stmt *s);
/* Forget `s` (dropping the cache's reference); harmless when absent. */
void pool_stmt_cache_remove(struct pool_stmt_cache *c, const struct pool_stmt *s);
void pool_stmt_cache_clear(struct pool_stmt_cache *c);
int pool_stmt_cache_count(const struct pool_stmt_cache *c);

#endif

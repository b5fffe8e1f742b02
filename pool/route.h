/* pool/route.h — which lane serves a transaction: the statement's hint, else the first
 * matching route, else the database's default lane; olap only where the database has one. */
#ifndef PGLANE_POOL_ROUTE_H
#define PGLANE_POOL_ROUTE_H

#include "config/cfg.h"

/* The lane for database `dbname` (its entry `db`), `user`, the client's current
 * `application_name` (may be NULL) and the lane named by a hint comment (`hint`, may be
 * NULL; an unknown name is ignored). */
enum cfg_lane_kind pool_route(const struct cfg *cfg, const struct cfg_database *db,
                              const char *dbname, const char *user, const char *application_name,
                              const char *hint);

#endif

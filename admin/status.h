/* admin/status.h — the live status page's data (GET /status.json) and its readiness
 * (GET /ready): per database and lane the saturation, clients, servers, wait and query
 * percentiles, slow statements and statement timeouts; the replication monitor's servers,
 * the standbys and slots their primaries report. Pure: no sockets; the same sources as
 * SHOW LANES, REPLICATION and SLOTS. The page itself (GET /) is admin_status_html. */
#ifndef PGLANE_ADMIN_STATUS_H
#define PGLANE_ADMIN_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "admin/console.h"
#include "admin/result.h"

/* The JSON document (schema in the README, "Status page"), appended to `out`. `nclients`
 * is the number of client connections. */
void admin_status_json(const struct admin_ctx *ctx, int nclients, struct admin_buf *out);

/* Is every database reachable: every primary the replication monitor watches answers, and
 * the server logins of every database's pools to its primary succeed (pool/reach.h: up)?
 * Appended to `out`: "ready" or the first reason, then one line per database with a pool:
 * "database NAME: STATE[ for N.N s][: last login error]". `now_ms` is the pools' clock. */
bool admin_status_ready(int64_t now_ms, struct admin_buf *out);

/* A JSON string literal of `s` (quotes, backslash, control characters escaped as \uXXXX),
 * appended to `out`. */
void admin_json_string(struct admin_buf *out, const char *s);

/* The self-contained HTML page (inline CSS and JS) that renders /status.json. */
extern const char admin_status_html[];

#endif

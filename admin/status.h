/* admin/status.h — the live status page's data (GET /status.json) and its readiness
 * (GET /ready): per database and lane the saturation, clients, servers, wait and query
 * percentiles, slow statements and statement timeouts; the replication monitor's servers,
 * the standbys and slots their primaries report. Pure: no sockets; the same sources as
 * SHOW LANES, REPLICATION and SLOTS. The page itself (GET /) is admin_status_html. */
#ifndef PGLANE_ADMIN_STATUS_H
#define PGLANE_ADMIN_STATUS_H

#include <stdbool.h>

#include "admin/console.h"
#include "admin/result.h"

/* The JSON document (schema in the README, "Status page"), appended to `out`. `nclients`
 * is the number of client connections. */
void admin_status_json(const struct admin_ctx *ctx, int nclients, struct admin_buf *out);

/* Is every database reachable, as far as the replication monitor knows (every monitored
 * primary answers)? When not, a short reason goes to `why`. True without a monitor. */
bool admin_status_ready(char *why, size_t cap);

/* A JSON string literal of `s` (quotes, backslash, control characters escaped as \uXXXX),
 * appended to `out`. */
void admin_json_string(struct admin_buf *out, const char *s);

/* The self-contained HTML page (inline CSS and JS) that renders /status.json. */
extern const char admin_status_html[];

#endif

/* proxy/handled.h — statements pglane answers itself, refuses or notes. */
#ifndef PGLANE_PROXY_HANDLED_H
#define PGLANE_PROXY_HANDLED_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/prepared.h"

struct proxy_client;
struct proxy_server;

/* Statements pglane answers itself (DISCARD ALL, DEALLOCATE), refusals, effects noted:
 * MSG_FORWARD when the message goes on as usual. `sc` caches the scan of its SQL. */
enum proxy_msg_result proxy_handled_unlinked(struct proxy_client *c, const uint8_t *msg,
                                             size_t avail, size_t size, struct proxy_scan *sc);
enum proxy_msg_result proxy_handled_linked(struct proxy_client *c, struct proxy_server *s,
                                           const uint8_t *msg, size_t avail, size_t size,
                                           struct proxy_scan *sc);
/* The scan of a Query's or Parse's SQL (once per message). */
const struct proto_sql_info *proxy_handled_scan(const struct proxy_client *c, const uint8_t *msg,
                                                size_t avail, size_t size, struct proxy_scan *sc);
void proxy_handled_client_free(struct proxy_client *c);

#endif

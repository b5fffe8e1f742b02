/* proxy/requests.h — the proxy's side of a server's ledger (pool/ledger.h): requests recorded
 * with the proxy's clock, the statistics and slow query log of the statements answered, and
 * pglane's own answers written to the client when their turn comes. */
#ifndef PGLANE_PROXY_REQUESTS_H
#define PGLANE_PROXY_REQUESTS_H

#include <stdbool.h>
#include <stdint.h>

#include "pool/ledger.h"
#include "proxy/context.h"

struct proxy_client;
struct proxy_server;

/* A new server's ledger: empty, its answered statements counted by the proxy. */
void proxy_req_init(struct proxy_server *s);
/* Record a request sent to (or answered for) the server; false when out of memory. */
#define proxy_req_push(s, type, action, stmt, flags)                                               \
	pool_ledger_push(&(s)->led, type, action, stmt, flags, proxy_now_us())
/* Record a request pglane answers itself with `fake` (stmt: see pool_ledger_fake(); text: see
 * enum pool_fake, copied). */
__attribute__((warn_unused_result)) bool proxy_req_fake(struct proxy_server *s, uint8_t type,
                                                        enum pool_fake fake, struct pool_stmt *stmt,
                                                        const char *text);
/* The request at the head was answered. */
void proxy_req_pop(struct proxy_server *s);
/* Forget every request and statement text (the server is closing). */
void proxy_req_clear(struct proxy_server *s);
/* Write pglane's answers for FAKE requests now at the head to `c` (NULL: drop them). False
 * when the client's output has no room (call again after it drained). */
__attribute__((warn_unused_result)) bool proxy_req_emit_fakes(struct proxy_server *s,
                                                              struct proxy_client *c);
/* What the ledger's verdict `v` on server message `f` asks of the proxy besides forwarding it
 * (statements known or gone, session answers, checks, errors to log, ParameterStatus; the
 * relay calls it only when there are events). Returns whether the message goes to the
 * client; sets *fatal (a fatal error while no client is linked) and *bad (malformed). */
bool proxy_req_events(struct proxy_server *s, struct proxy_client *c, const struct proto_frame *f,
                      struct pool_ledger_verdict *v, bool *fatal, bool *bad);

#endif

/* proxy/session.h — bringing a server's session to its client's, and learning what statements did
 * to it. */
#ifndef PGLANE_PROXY_SESSION_H
#define PGLANE_PROXY_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"
#include "protocol/frame.h"
#include "protocol/sql.h"

struct proxy_client;
struct proxy_server;

/* pglane's own query about the session in flight on a server (proxy/session.c): the client's
 * messages wait until it is answered. */
enum proxy_sync { SYNC_NONE, SYNC_APPLY, SYNC_CAPTURE };

/* The client and server were just linked, or the client's settings changed while linked:
 * queue the query that brings the server to the client's settings (nothing when they match);
 * the client's messages wait until it is answered. False when out of memory. */
__attribute__((warn_unused_result)) bool proxy_session_apply(struct proxy_client *c,
                                                             struct proxy_server *s);
/* The server is between two transactions of its client: when its statements may have
 * changed the session, ask the server (the client waits). True when pglane is now waiting
 * for the answer; false when nothing was needed (or the client was closed: check state). */
bool proxy_session_capture(struct proxy_client *c, struct proxy_server *s);
/* What a statement text the client sends (`info`, scanned) does: noted on the server, or
 * refused (pin_session_state = refuse). True when refused. */
bool proxy_session_refused(const struct proxy_client *c, const struct proto_sql_info *info);
void proxy_session_note(struct proxy_server *s, const struct proto_sql_info *info);
/* The refusal's message for `info` into `out`. */
void proxy_session_refusal(const struct proto_sql_info *info, char *out, size_t cap);
/* Fail the transaction (or the extended-protocol batch, `extended`) the server is in, as the
 * statement pglane refuses would have: a statement of pglane's that errors, its answers
 * swallowed. False when out of memory. */
__attribute__((warn_unused_result)) bool proxy_session_fail(struct proxy_server *s, bool extended);
/* Server messages for pglane's session queries: a capture's DataRow, an error, the
 * ReadyForQuery that ends one (h is its request). */
void proxy_session_row(struct proxy_server *s, const struct proto_frame *f);
void proxy_session_error(struct proxy_server *s, const struct proto_frame *f);
void proxy_session_ready(struct proxy_server *s, uint8_t tx_status);
/* A ParameterStatus answered one of the client's statements: when nothing noted explains
 * it, the session is asked for. */
void proxy_session_reported(struct proxy_server *s, const char *name);
/* After the server's messages were handled: finish an apply or capture that was answered
 * (c may be NULL). The client may have been closed. */
void proxy_session_finish(struct proxy_client *c, struct proxy_server *s);
/* The client is unlinked without finishing normally (it left): what its server needs. */
void proxy_session_client_gone(struct proxy_client *c, struct proxy_server *s);
/* The query a released server needs before another client (NULL: none); *clears: it
 * drops every prepared statement. Also decides when the server must be closed instead
 * (*close). */
const char *proxy_session_reset_sql(struct proxy_server *s, const struct cfg_pool *pc, bool *clears,
                                    bool *close);
/* The reset was sent: the server's session is neutral. */
void proxy_session_reset_sent(struct proxy_server *s);
/* The client's pins are over (it leaves): counts. */
void proxy_session_client_free(struct proxy_client *c);
/* Free a server's session state. */
void proxy_session_server_free(struct proxy_server *s);

#endif

/* proxy/prepared.h — prepared statements in transaction mode: renamed, and following their
 * client. */
#ifndef PGLANE_PROXY_PREPARED_H
#define PGLANE_PROXY_PREPARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/sql.h"
#include "proxy/client_msg.h"
#include "proxy/requests.h"

struct proxy_client;
struct proxy_server;
struct pool_stmt;

/* Bytes of a client message of `type` and `size` that must be in the buffer before it is
 * handled (0: the header is enough). */
uint32_t proxy_prepared_peek(const struct proxy_client *c, uint8_t type, size_t size);
/* A message from a client with no server (proxy/handled.c passed it on): in transaction mode
 * with a statement cache, a Parse of a statement known to the pool, a Close and a Sync are
 * answered without one. */
enum proxy_msg_result proxy_prepared_unlinked(struct proxy_client *c, const uint8_t *msg,
                                              size_t size);
/* A message from a linked client in transaction mode with a statement cache (proxy/handled.c
 * passed it on): Parse, Bind, Describe, Close and Query with statements renamed, prepared where
 * missing, and recorded in the ledger. MSG_FORWARD for the other messages. */
enum proxy_msg_result proxy_prepared_linked(struct proxy_client *c, struct proxy_server *s,
                                            const uint8_t *msg, size_t avail, size_t size,
                                            struct proxy_scan *sc);
/* Transaction mode with a statement cache: statements are renamed and follow the client. */
bool proxy_prepared_mode(const struct proxy_client *c);
/* The client's statement `name` ("" never), or NULL. */
struct pool_stmt *proxy_prepared_lookup(const struct proxy_client *c, const char *name);
/* Forget one of the client's statements / all of them (and its unnamed one). */
void proxy_prepared_forget(struct proxy_client *c, const char *name);
void proxy_prepared_forget_all(struct proxy_client *c);
/* Answer the message of `size` bytes at once (no server): `fake`, and ReadyForQuery when
 * `ready`. */
enum proxy_msg_result proxy_prepared_answer(struct proxy_client *c, size_t size,
                                            enum pool_fake fake, const char *text, bool ready);
/* The message was answered or rewritten: skip its bytes. */
enum proxy_msg_result proxy_prepared_consumed(struct proxy_client *c, size_t size);
enum proxy_parse_kept { PARSE_KEPT, PARSE_KEPT_DUPLICATE, PARSE_KEPT_BUSY, PARSE_KEPT_ERROR };
/* Remember a Parse pglane answers itself (`info` its text's scan): the name (taken: DUPLICATE)
 * or the unnamed statement. */
enum proxy_parse_kept proxy_prepared_keep_parse(struct proxy_client *c, const uint8_t *msg,
                                                size_t size, const struct proto_sql_info *info);
/* The client's output has been written: its unnamed Parse may be replaced again. */
void proxy_prepared_drained(struct proxy_client *c);
/* Free a client's statement state. */
void proxy_prepared_client_free(struct proxy_client *c);
/* The server's statements are gone (DISCARD ALL, reset). */
void proxy_prepared_server_reset(struct proxy_server *s);
/* Session mode (or no statement cache): a Parse's statement name is only remembered, for its
 * text in the slow query log. */
void proxy_prepared_remember(struct proxy_client *c, const uint8_t *msg, size_t avail, size_t size,
                             struct proxy_scan *sc);
/* Has `conn`'s output room for what a message's handling may write? */
struct proxy_conn;
bool proxy_prepared_room(struct proxy_conn *conn);

#endif

/* proxy/prepared.h — prepared statements in transaction mode: renamed, and following their client.
 */
#ifndef PGLANE_PROXY_PREPARED_H
#define PGLANE_PROXY_PREPARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/sql.h"
#include "proxy/requests.h"

struct proxy_client;
struct proxy_server;
struct pool_stmt;

/* The SQL of the message being handled, scanned once (proxy/handled.c). */
struct proxy_scan {
	bool done;
	struct proto_sql_info info;
};
enum proxy_msg_result {
	MSG_FORWARD, /* not handled: the caller passes it on as it is */
	MSG_PASS,    /* recorded: the caller passes it on as it is */
	MSG_DONE,    /* handled: the input was advanced past it (consumed or rewritten) */
	MSG_NO_ROOM, /* output full: flush, then look at the message again */
	MSG_ERROR,   /* the client was closed */
};
/* Bytes of a client message of `type` and `size` that must be in the buffer before it is
 * handled (0: the header is enough). */
uint32_t proxy_prepared_peek(const struct proxy_client *c, uint8_t type, size_t size);
/* A message from a client with no server: answer it without one when possible. */
enum proxy_msg_result proxy_prepared_unlinked(struct proxy_client *c, const uint8_t *msg,
                                              size_t avail, size_t size, struct proxy_scan *sc);
/* A message from a linked client: record what the server owes, rename statements, prepare
 * them where missing. Returns MSG_PASS, MSG_DONE, MSG_NO_ROOM or MSG_ERROR. */
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
                                            enum proxy_fake fake, const char *text, bool ready);
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

#endif

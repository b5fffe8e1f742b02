/* proxy/client_msg.h — each message of a logged-in client, before it goes on: answered by
 * pglane, its statements renamed, recorded in its server's ledger, its text kept for the slow
 * query log. The results and the scan shared by proxy/handled.c and proxy/prepared.c. */
#ifndef PGLANE_PROXY_CLIENT_MSG_H
#define PGLANE_PROXY_CLIENT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/sql.h"

struct proxy_client;
struct proxy_server;

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

/* A message from a client with no server: answered without one when possible (MSG_DONE);
 * MSG_FORWARD when it needs a server. */
enum proxy_msg_result proxy_client_msg_unlinked(struct proxy_client *c, const uint8_t *msg,
                                                size_t avail, size_t size, struct proxy_scan *sc);
/* A message from a linked client: answered by pglane, or its statements renamed and prepared
 * where missing, and recorded as what the server owes. Returns MSG_PASS (forward it as it
 * is), MSG_DONE, MSG_NO_ROOM or MSG_ERROR (the client was closed). */
enum proxy_msg_result proxy_client_msg_linked(struct proxy_client *c, struct proxy_server *s,
                                              const uint8_t *msg, size_t avail, size_t size,
                                              struct proxy_scan *sc);

#endif

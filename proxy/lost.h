/* proxy/lost.h — a client whose server connection died under it (PostgreSQL restarted, the
 * backend was killed, pglane closed it): the client keeps its connection. What it was owed is
 * answered with an error (each request waiting for ReadyForQuery, the rest of its batch up to
 * the Sync, its COPY), and a transaction block it was in is answered as PostgreSQL answers a
 * failed one, without a server, until its ROLLBACK or COMMIT. Its next transaction gets
 * another server, with its session's tracked state applied there. Where that state cannot be
 * rebuilt (pins, its own prepared statements) it is disconnected as before. */
#ifndef PGLANE_PROXY_LOST_H
#define PGLANE_PROXY_LOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/client_msg.h"

struct proxy_client;
struct proxy_server;

enum proxy_lost {
	PROXY_LOST_NONE,
	PROXY_LOST_UNTOLD, /* its block died while it waited for nothing: its next message is
	                      told (lost_msg) */
	PROXY_LOST_FAILED, /* told: it is in a failed transaction block (status E) */
};

/* SQLSTATE of the error a client gets for what was in flight on its lost server. */
#define PROXY_LOST_SQLSTATE "08006"

/* Server `s`, linked to client `c`, is being closed (pool_server_remove() done) for `reason`:
 * answer the client what it was owed and leave it unlinked. False when it cannot go on (the
 * caller closes it; *why says why). */
bool proxy_lost_server(struct proxy_client *c, struct proxy_server *s, const char *reason,
                       const char **why);
/* A whole message (`size` bytes at `msg`) from an unlinked client in a lost transaction block
 * (c->lost): answered here. */
enum proxy_msg_result proxy_lost_message(struct proxy_client *c, const uint8_t *msg, size_t size);
/* Forget a client's lost-transaction state (it is freed). */
void proxy_lost_client_free(struct proxy_client *c);

#endif

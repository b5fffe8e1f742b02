/* proxy/link.h — a client and its server: linking them (a server acquired for a client's
 * message, or assigned to a waiting client), and unlinking them (the transaction is over, the
 * client left, a waiting client is answered with an error instead of a server). The relay
 * (proxy/relay.c) moves the bytes while they are linked. */
#ifndef PGLANE_PROXY_LINK_H
#define PGLANE_PROXY_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/pool.h"
#include "proxy/client.h"
#include "proxy/server.h"

/* The server linked to `c`, or NULL. */
static inline struct proxy_server *proxy_link_server(const struct proxy_client *c)
{
	return c->pc.server ? proxy_server_of(c->pc.server) : NULL;
}

/* The client linked to `s`, or NULL. */
static inline struct proxy_client *proxy_link_client(const struct proxy_server *s)
{
	return s->ps.client ? proxy_client_of(s->ps.client) : NULL;
}

/* Get a server for a client that has a message for one (`avail` bytes of it at `msg`, for its
 * lane); its session is being made the client's. NULL: the client waits (`paused`), or it was
 * closed. */
struct proxy_server *proxy_link_acquire(struct proxy_client *c, const uint8_t *msg, size_t avail);
/* The server's messages are all handled (`c` its client, or NULL): pglane's own session query
 * is finished when it was answered; then, in transaction mode, the server goes back to the
 * pool once the transaction is over and nothing more is owed, and the client goes on with
 * what it sent meanwhile (a server without a client: back once pglane's own work is done). */
void proxy_link_answered(struct proxy_server *s, struct proxy_client *c);

/* A waiting client got a server (pool callback). */
void proxy_link_assigned(struct pool_client *pc, struct pool_server *ps);
/* The server's last cancel request is done: its client goes on, or it is released. */
void proxy_link_cancels_done(struct proxy_server *s);
/* A linked client is going away: its server is released, rolled back or closed. */
void proxy_link_client_gone(struct proxy_client *c);
/* Has a waiting client, behind the message it waits with, already sent Terminate? */
bool proxy_link_waiting_quit(const struct proxy_client *c);
/* Answer one waiting client with an error instead of a server. */
void proxy_link_fail_waiting(struct proxy_client *c, const char *sqlstate, const char *msg);
/* Answer every client waiting in `p` with an error (server login failed, timeout). */
void proxy_link_fail_waiters(struct pool *p, const char *sqlstate, const char *msg);

#endif

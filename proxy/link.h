/* proxy/link.h — a client and its server: linking them (a server acquired for a client's
 * message, or assigned to a waiting client), and unlinking them (the transaction is over, the
 * client left, a waiting client is answered with an error instead of a server). The relay
 * (proxy/relay.c) moves the bytes while they are linked.
 *
 * Also defined in proxy/link.c, declared with the relay's entry points in proxy/proxy.h (their
 * names kept for their callers): proxy_relay_assigned, proxy_relay_waiting_quit,
 * proxy_relay_cancels_done, proxy_relay_fail_waiting, proxy_relay_fail_waiters,
 * proxy_relay_client_gone. */
#ifndef PGLANE_PROXY_LINK_H
#define PGLANE_PROXY_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/proxy.h"

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
struct proxy_server *proxy_link_acquire(struct proxy_client *c, const uint8_t *msg,
                                        size_t avail);
/* The server's answers are all handled: in transaction mode it goes back to the pool once the
 * transaction is over and nothing more is owed; the client goes on with what it sent
 * meanwhile. */
void proxy_link_maybe_release(struct proxy_client *c, struct proxy_server *s);

#endif

/* proxy/handoff.h — an idle server connection handed from one worker to another whose
 * clients of the same pool wait (pool_ops.server_handoff): the giver stops watching it, takes
 * it out of its pool and posts it with its reported values as text (interned values are per
 * worker); the taker interns them again, watches it on its own loop and gives it to its first
 * waiting client. Only a server with nothing of a session on it travels: no settings, no
 * prepared statements, nothing in flight (others are closed and opened again there). */
#ifndef PGLANE_PROXY_HANDOFF_H
#define PGLANE_PROXY_HANDOFF_H

#include <stdbool.h>

struct pool_server;
struct proxy_handoff;

/* pool_ops.server_handoff: post `ps` to worker `to`; false when it cannot travel. */
bool proxy_server_handoff(struct pool_server *ps, unsigned to);
/* The taker, from its mailbox: the server joins its pool (or is closed when the pool is
 * gone); frees `h`. */
void proxy_handoff_take(struct proxy_handoff *h);
/* Free a posted hand-off nobody took (pglane exits): the server is closed. */
void proxy_handoff_drop(struct proxy_handoff *h);
/* The next in a mailbox's list. */
struct proxy_handoff **proxy_handoff_next(struct proxy_handoff *h);

#endif

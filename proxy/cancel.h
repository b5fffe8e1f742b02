/* proxy/cancel.h — cancel requests: forwarded to the backend of the client's server. */
#ifndef PGLANE_PROXY_CANCEL_H
#define PGLANE_PROXY_CANCEL_H

#include <stdint.h>

struct proxy_server;

/* Forward a cancel request for client pid/key; nothing happens for a wrong key. */
void proxy_cancel_request(int32_t pid, int32_t key);
/* Send a cancel request to the backend of a server connection; the server is held
 * (proxy_relay_cancels_done) until PostgreSQL has closed the cancel connection. */
void proxy_cancel_server(struct proxy_server *s);
/* The server is closing: its cancel requests go on without it. */
void proxy_cancel_detach(struct proxy_server *s);
/* pglane exits: drop the cancel requests still in flight. */
void proxy_cancel_free_all(void);

#endif

/* proxy/cancel.h — cancel requests (proxy/cancel.c): the table of the logged-in clients'
 * cancel keys, which it owns, and the cancel requests it forwards to servers. */
#ifndef PGLANE_PROXY_CANCEL_H
#define PGLANE_PROXY_CANCEL_H

#include <stdint.h>

struct proxy_client;
struct proxy_server;

/* Logged in: give the client a random cancel key (never 0) and enter it in the table under
 * its id, the pid its BackendKeyData carries. */
void proxy_cancel_register(struct proxy_client *c);
/* The client is closing: take it out of the table (nothing when it never entered). */
void proxy_cancel_unregister(struct proxy_client *c);
/* Forward a cancel request for client pid/key; nothing happens for a wrong key. */
void proxy_cancel_request(int32_t pid, int32_t key);
/* Send a cancel request to the backend of a server connection; the server is held
 * (proxy_link_cancels_done) until PostgreSQL has closed the cancel connection. */
void proxy_cancel_server(struct proxy_server *s);
/* The server is closing: its cancel requests go on without it. */
void proxy_cancel_detach(struct proxy_server *s);
/* pglane exits: drop the cancel requests still in flight. */
void proxy_cancel_free_all(void);
/* This worker's empty table (before its first client). */
void proxy_cancel_init(void);

#endif

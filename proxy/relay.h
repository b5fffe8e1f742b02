/* proxy/relay.h — moving bytes between a logged-in client and its server. */
#ifndef PGLANE_PROXY_RELAY_H
#define PGLANE_PROXY_RELAY_H

#include <stdbool.h>

#include "pool/pool.h"

struct proxy_client;
struct proxy_server;

/* Bytes from a logged-in client are ready to process (or processing may resume). */
void proxy_relay_client(struct proxy_client *c);
/* Bytes from a server are ready to process. */
void proxy_relay_server(struct proxy_server *s);
/* A waiting client got a server (pool callback). */
void proxy_relay_assigned(struct pool_client *pc, struct pool_server *ps);
/* The client's output drained: resume its server's input, maybe release the server. */
void proxy_relay_client_drained(struct proxy_client *c);
/* The server's output drained: resume its client's input. */
void proxy_relay_server_drained(struct proxy_server *s);
/* Queue a Query of pglane's own to a server; its answer is swallowed. */
__attribute__((warn_unused_result)) bool proxy_relay_server_query(struct proxy_server *s,
                                                                  const char *sql);
/* A linked client is going away: its server is released, rolled back or closed. */
void proxy_relay_client_gone(struct proxy_client *c);
/* Answer every client waiting in `p` with an error (server login failed, timeout). */
void proxy_relay_fail_waiters(struct pool *p, const char *sqlstate, const char *msg);
/* Has a waiting client, behind the message it waits with, already sent Terminate? */
bool proxy_relay_waiting_quit(const struct proxy_client *c);
/* The server's last cancel request is done: its client goes on, or it is released. */
void proxy_relay_cancels_done(struct proxy_server *s);
/* Answer one waiting client with an error instead of a server. */
void proxy_relay_fail_waiting(struct proxy_client *c, const char *sqlstate, const char *msg);

#endif

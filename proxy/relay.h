/* proxy/relay.h — moving bytes between a logged-in client and its server, in both directions
 * (one pump). Linking and unlinking the two: proxy/link.h. */
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
/* The client's output drained: resume its server's input, maybe release the server. */
void proxy_relay_client_drained(struct proxy_client *c);
/* The server's output drained: resume its client's input. */
void proxy_relay_server_drained(struct proxy_server *s);
/* Queue a Query of pglane's own to a server; its answer is swallowed. */
__attribute__((warn_unused_result)) bool proxy_relay_server_query(struct proxy_server *s,
                                                                  const char *sql);

#endif

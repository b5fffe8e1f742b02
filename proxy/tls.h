/* proxy/tls.h — TLS contexts and handshakes, towards clients and servers. */
#ifndef PGLANE_PROXY_TLS_H
#define PGLANE_PROXY_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "proxy/io.h"

struct cfg;
struct cfg_database;

enum proxy_tls_result { PROXY_TLS_DONE, PROXY_TLS_AGAIN, PROXY_TLS_ERROR };
/* Load the listen.tls context (when enabled); false with the reason logged. */
__attribute__((warn_unused_result)) bool proxy_tls_init(const struct cfg *cfg);
void proxy_tls_free(void);
/* Can contexts towards the servers be made with `cfg`'s server_tls.protocols and .ciphers?
 * False with the reason in `err`. */
__attribute__((warn_unused_result)) bool proxy_tls_check_server(const struct cfg *cfg, char *err,
                                                                size_t cap);
/* Forget the server-side contexts (after a reload: CA or certificate may have changed). */
void proxy_tls_reset_servers(void);
bool proxy_tls_listen_enabled(void);
/* Begin TLS as the server of a client connection ('S' already sent). */
__attribute__((warn_unused_result)) bool proxy_tls_accept_start(struct proxy_conn *c);
/* Begin TLS as the client of a server connection ('S' received), with `db`'s sslmode. */
__attribute__((warn_unused_result)) bool
proxy_tls_connect_start(struct proxy_conn *c, const struct cfg *cfg, const struct cfg_database *db,
                        const char *host, char *err, size_t cap);
/* One step of the handshake; AGAIN sets the watcher for what it waits on. */
enum proxy_tls_result proxy_tls_handshake(struct proxy_conn *c, char *err, size_t cap);
/* The common name of a verified client certificate. */
bool proxy_tls_peer_name(struct proxy_conn *c, char *out, size_t cap);

#endif

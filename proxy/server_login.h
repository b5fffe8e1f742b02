/* proxy/server_login.h — pglane's own login to a server (proxy/server_login.c): from the
 * connected socket to a server ready for clients. It owns the server's login state
 * (proxy_server.login) while the login runs; proxy/server.c connects and calls in here. */
#ifndef PGLANE_PROXY_SERVER_LOGIN_H
#define PGLANE_PROXY_SERVER_LOGIN_H

#include <stdbool.h>

struct pool;
struct proxy_server;

/* Give a new server its login state; false when out of memory. */
__attribute__((warn_unused_result)) bool proxy_server_login_new(struct proxy_server *s);
/* Free the login state (the login is over, or the server closes). */
void proxy_server_login_free(struct proxy_server *s);
/* The pool knows its welcome now: the clients waiting for it are answered. */
struct pool;
void proxy_server_welcome_waiters(struct pool *p);
/* The login cannot succeed: the pool remembers why, the server is closed, and the waiting
 * clients are answered with `sqlstate` and `msg` when no other server can serve them. */
void proxy_server_login_failed(struct proxy_server *s, const char *sqlstate, const char *msg);
/* Connected: send the SSLRequest, or the startup packet when the database's sslmode is
 * disable (or the server is reached through a Unix socket). */
void proxy_server_login_begin(struct proxy_server *s);
/* The server's answer to the SSLRequest arrived (SERVER_SSL). */
void proxy_server_login_ssl_answer(struct proxy_server *s);
/* One step of the TLS handshake with the server (SERVER_TLS); the startup packet when done. */
void proxy_server_login_tls(struct proxy_server *s);
/* Bytes from the server during login (SERVER_LOGIN): authentication, settings, the
 * catalog and connect_query; the server is ready, or closed, when the login is over. */
void proxy_server_login_read(struct proxy_server *s);
/* The user a server of pool `p` logs in as. */
const char *proxy_server_user(const struct pool *p);

#endif

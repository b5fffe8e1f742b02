/* proxy/login.h — a client's login: start-up packet, TLS, authentication. */
#ifndef PGLANE_PROXY_LOGIN_H
#define PGLANE_PROXY_LOGIN_H

struct proxy_client;

/* The client's socket is readable during login. */
void proxy_login_read(struct proxy_client *c);
/* A step of the client's TLS handshake. */
void proxy_login_tls(struct proxy_client *c);
void proxy_login_free(struct proxy_client *c);

#endif

/* proxy/conn_log.h — log lines about one connection, prefixed by who it is and what it was
 * doing (nginx's log->action): "c42 alice@app 10.0.0.1:5512 while authenticating: ...",
 * "s7 alice@app 127.0.0.1:5432 serving c42: ...". The level is checked before anything is
 * formatted; never put a password in a line. */
#ifndef PGLANE_PROXY_CONN_LOG_H
#define PGLANE_PROXY_CONN_LOG_H

#include <stddef.h>

#include "config/log.h"

#define PROXY_WHO_LEN 192

struct proxy_client;
struct proxy_server;

/* "c42 alice@app 10.0.0.1:5512" (the client), and with its action: "... while authenticating". */
const char *proxy_client_name(const struct proxy_client *c, char *buf, size_t cap);
const char *proxy_client_who(const struct proxy_client *c, char *buf, size_t cap);
/* "s7 alice@app 127.0.0.1:5432 while logging in" (the server and its action). */
const char *proxy_server_who(const struct proxy_server *s, char *buf, size_t cap);

#define proxy_who(x, buf, cap)                                                                     \
	_Generic((x),                                                                              \
	        struct proxy_client *: proxy_client_who,                                           \
	        const struct proxy_client *: proxy_client_who,                                     \
	        struct proxy_server *: proxy_server_who,                                           \
	        const struct proxy_server *: proxy_server_who)(x, buf, cap)

/* A line about connection `x` (a client or a server). */
#define log_conn(lvl, x, ...)                                                                      \
	do {                                                                                       \
		if ((lvl) <= cfg_log_threshold) {                                                  \
			char who_[PROXY_WHO_LEN];                                                  \
			cfg_log_write(lvl, proxy_who(x, who_, sizeof(who_)), __VA_ARGS__);         \
		}                                                                                  \
	} while (0)
#define conn_error(x, ...)   log_conn(CFG_LOG_ERROR, x, __VA_ARGS__)
#define conn_warning(x, ...) log_conn(CFG_LOG_WARNING, x, __VA_ARGS__)
#define conn_info(x, ...)    log_conn(CFG_LOG_INFO, x, __VA_ARGS__)
#define conn_debug(x, ...)   log_conn(CFG_LOG_DEBUG, x, __VA_ARGS__)

#endif

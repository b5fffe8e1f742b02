/* proxy/startup.h — a client's start-up parameters. */
#ifndef PGLANE_PROXY_STARTUP_H
#define PGLANE_PROXY_STARTUP_H

#include <stdbool.h>

struct proxy_client;

struct proto_startup;
/* The start-up parameters of `s` other than user and database: settings of the client's
 * session, or ignored when listed in its database's ignore_startup_parameters. False when the
 * client was closed (an unsupported or malformed one, out of memory). */
bool proxy_startup_take(struct proxy_client *c, const struct proto_startup *s);

#endif

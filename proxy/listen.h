/* proxy/listen.h — the listening sockets (TCP and the Unix socket). */
#ifndef PGLANE_PROXY_LISTEN_H
#define PGLANE_PROXY_LISTEN_H

#include <stdbool.h>

struct cfg;

__attribute__((warn_unused_result)) bool proxy_listen_start(const struct cfg *cfg);
void proxy_listen_stop(void);
/* SUSPEND: stop accepting (connections wait in the backlog); false: accept again. */
void proxy_listen_pause(bool on);

#endif

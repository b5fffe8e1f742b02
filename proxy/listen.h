/* proxy/listen.h — the listening sockets (TCP and the Unix socket). */
#ifndef PGLANE_PROXY_LISTEN_H
#define PGLANE_PROXY_LISTEN_H

#include <stdbool.h>

struct cfg;

__attribute__((warn_unused_result)) bool proxy_listen_start(const struct cfg *cfg);
void proxy_listen_stop(void);
/* The listening sockets' descriptors (at most max) for a takeover (proxy/takeover.c); how many. */
int proxy_listen_fds(int *fds, int max);
/* Stop accepting and close this process's descriptors without removing the Unix socket file:
 * the process that took the sockets over serves on them now. */
void proxy_listen_release(void);
/* SUSPEND: stop accepting (connections wait in the backlog); false: accept again. */
void proxy_listen_pause(bool on);

#endif

/* proxy/listen.h — the listening sockets (TCP and the Unix socket). */
#ifndef PGLANE_PROXY_LISTEN_H
#define PGLANE_PROXY_LISTEN_H

#include <stdbool.h>

struct cfg;

/* Bind the listening sockets (once, process-wide) and watch them on the calling worker. */
__attribute__((warn_unused_result)) bool proxy_listen_start(const struct cfg *cfg);
/* The calling worker accepts from the listening sockets (unwatch: no longer). */
void proxy_listen_watch(void);
void proxy_listen_unwatch(void);
/* The calling worker stops accepting; once no worker does, the sockets are closed (the Unix
 * socket's file removed). */
void proxy_listen_stop(void);
/* Close the listening sockets now (at exit). */
void proxy_listen_close(void);
/* The listening sockets' descriptors (at most max) for a takeover (proxy/takeover.c); how many. */
int proxy_listen_fds(int *fds, int max);
/* Every worker stops accepting and this process's descriptors are closed without removing the
 * Unix socket file: the process that took the sockets over serves on them now. */
void proxy_listen_release(void);
/* SUSPEND: the calling worker stops accepting (connections wait in the backlog); false:
 * accept again. */
void proxy_listen_pause(bool on);

#endif

/* proxy/sdnotify.h — systemd's notify protocol (sd_notify(3)) without libsystemd: one datagram
 * to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an abstract name starting with
 * '@'). Every call is a no-op when $NOTIFY_SOCKET is unset, so pglane runs the same outside
 * systemd. */
#ifndef PGLANE_PROXY_SDNOTIFY_H
#define PGLANE_PROXY_SDNOTIFY_H

#include <stdbool.h>

/* Sends STATE (newline-separated "KEY=value" lines) to $NOTIFY_SOCKET. True when it was sent
 * or when there is no socket to send to; false (errno set) when the send failed. */
__attribute__((warn_unused_result)) bool proxy_sdnotify(const char *state);

/* READY=1 with MAINPID= and a STATUS= line: the listeners are bound. */
void proxy_sdnotify_ready(void);

/* RELOADING=1 with MONOTONIC_USEC= (Type=notify-reload's handshake): a reload begins. */
void proxy_sdnotify_reloading(void);

/* STOPPING=1 with a STATUS= line naming who asked. */
void proxy_sdnotify_stopping(const char *who);

#endif

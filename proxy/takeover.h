/* proxy/takeover.h — a binary upgrade without a refused connection. A new pglane started with
 * --takeover connects to the running one's takeover socket
 * <listen.unix_socket_dir>/.s.PGSQL.<listen.port>.takeover (mode 0600, same OS user only),
 * receives its listening sockets over it (SCM_RIGHTS: the TCP listeners, the Unix socket, the
 * HTTP listener and the takeover socket itself), serves on the ones its own config names, and
 * then says GO; the old one stops accepting at once (the sockets stay open in the new one, so
 * nothing queued on them is lost) and shuts down as SHUTDOWN WAIT_FOR_CLIENTS, bounded by
 * admin.shutdown_timeout. Owns the takeover socket, the sockets received and not yet claimed,
 * and the one takeover under way on the old side. */
#ifndef PGLANE_PROXY_TAKEOVER_H
#define PGLANE_PROXY_TAKEOVER_H

#include <stdbool.h>
#include <sys/socket.h>

struct cfg;

/* ---- the new process (main.c, before and after its listeners start) ---- */

/* Connect to the running pglane's takeover socket and receive its listening sockets (kept
 * until claimed). False, with a log line saying why, when there is none to take over from. */
__attribute__((warn_unused_result)) bool proxy_takeover_receive(const struct cfg *cfg);
/* A received listening socket bound to `addr`, now the caller's; -1 when none is (the caller
 * binds one itself). Always -1 outside a takeover. */
__attribute__((warn_unused_result)) int proxy_takeover_claim(const struct sockaddr *addr,
                                                             socklen_t len);
/* Every listener started: close the received sockets nobody claimed, tell the old process to
 * stop accepting and wait (bounded) until it has. A no-op outside a takeover. */
void proxy_takeover_finish(void);
/* The start failed after a takeover began: give back what was claimed without removing any
 * socket file (the old process still serves on them) and close what was received. */
void proxy_takeover_abort(void);

/* ---- every process ---- */

/* Open (or, in a takeover, adopt) the takeover socket and answer on it. True without one
 * when listen.unix_socket_dir is empty. */
__attribute__((warn_unused_result)) bool proxy_takeover_start(const struct cfg *cfg);
/* Stop answering; remove the socket file unless it was handed over. */
void proxy_takeover_stop(void);

#endif

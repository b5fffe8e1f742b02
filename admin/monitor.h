/* admin/monitor.h — the replication monitor (libpq, asynchronous, on pglane's loop). It runs
 * when monitor.user is set or a database has OLAP replicas; its findings are in
 * pool/health.h. */
#ifndef PGLANE_ADMIN_MONITOR_H
#define PGLANE_ADMIN_MONITOR_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/cfg.h"
#include "config/conninfo.h"
#include "config/userlist.h"

/* Should `cfg` be monitored? */
bool admin_monitor_wanted(const struct cfg *cfg);
/* (Re)start watching the servers of `cfg` (user monitor.user, else "postgres"; password
 * monitor.password, else the auth file's), on `loop`. */
void admin_monitor_start(struct ev_loop *loop, const struct cfg *cfg,
                         const struct cfg_userlist *users);
/* A resolver that never blocks (proxy/resolve.c's proxy_resolve_peek): the numeric address of
 * `host` in `ip` now (1), not yet, a look-up having started (0), or never (-1, `err` says why).
 * libpq would resolve a name with a blocking getaddrinfo; with a resolver set the monitor
 * connects to the address it gives (hostaddr), and waits for the next round while it has none. */
void admin_monitor_set_resolver(cfg_conninfo_resolver fn);
/* Under worker threads: `stop` and `resume` bracket each of the monitor's callbacks (the
 * health table it writes is read by every worker), and `each` runs a function once as each
 * worker (its pools kicked when a primary is found). NULL: one thread. */
void admin_monitor_set_threads(void (*stop)(void), void (*resume)(void),
                               void (*each)(void (*fn)(void *arg), void *arg));
/* Stop and close every monitor connection. */
void admin_monitor_stop(void);

#endif

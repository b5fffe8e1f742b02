/* admin/monitor.h — the replication monitor (libpq, asynchronous, on pglane's loop). It runs
 * when monitor.user is set or a database has OLAP replicas; its findings are in
 * pool/health.h. */
#ifndef PGLANE_ADMIN_MONITOR_H
#define PGLANE_ADMIN_MONITOR_H

#include <ev.h>
#include <stdbool.h>

#include "config/cfg.h"
#include "config/userlist.h"

/* Should `cfg` be monitored? */
bool admin_monitor_wanted(const struct cfg *cfg);
/* (Re)start watching the servers of `cfg` (user monitor.user, else "postgres"; password
 * monitor.password, else the auth file's), on `loop`. */
void admin_monitor_start(struct ev_loop *loop, const struct cfg *cfg,
                         const struct cfg_userlist *users);
/* Stop and close every monitor connection. */
void admin_monitor_stop(void);

#endif

/* proxy/shutdown.h — how pglane stops, and the log.stats line. */
#ifndef PGLANE_PROXY_SHUTDOWN_H
#define PGLANE_PROXY_SHUTDOWN_H

#include "proxy/context.h"

/* Begin stopping in `mode`; `who` names the cause in the log ("SIGINT", "admin: SHUTDOWN
 * WAIT_FOR_CLIENTS"). NOW leaves the loop 50 ms later (so that a console's answer goes out;
 * main then closes everything). The waiting modes stop the listeners, arm
 * admin.shutdown_timeout and exit when their condition holds (proxy_shutdown_poll). Any
 * request while a shutdown is under way exits now, as in PgBouncer 1.23+. */
void proxy_shutdown_begin(enum proxy_shutdown_mode mode, const char *who);
/* SHUTDOWN WAIT_FOR_CLIENTS after a takeover (proxy/takeover.c): the same, without telling
 * systemd STOPPING=1 (the service goes on in the process that took over). */
void proxy_shutdown_handover(const char *who);
/* Exit when the waiting shutdown's condition holds (called after each loop iteration). */
void proxy_shutdown_poll(void);
const char *proxy_shutdown_mode_name(enum proxy_shutdown_mode mode);
/* Stop the shutdown deadline and the log.stats timer (at exit). */
void proxy_shutdown_stop(void);
/* Start the log.stats timer or apply a changed log.stats_period (at start, on reload). */
void proxy_log_stats_configure(void);

#endif

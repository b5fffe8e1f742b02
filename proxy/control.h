/* proxy/control.h — the console's commands that act on the process (RELOAD, PAUSE, SUSPEND, ...).
 */
#ifndef PGLANE_PROXY_CONTROL_H
#define PGLANE_PROXY_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

/* Reload the config file: validated first; false (and the old config kept) with the errors
 * in `err` when it is not valid. */
bool proxy_reload(char *err, size_t cap);
/* Register the admin console's callbacks. */
void proxy_control_setup(void);
/* Check pending PAUSEs of admin clients. */
void proxy_control_poll(void);
/* PAUSE / RESUME of every database, as the console's (SIGUSR1 / SIGUSR2). */
void proxy_control_pause_all(bool on);

#endif

/* proxy/janitor.h — the periodic sweep: timeouts, idle servers, pool sizes. */
#ifndef PGLANE_PROXY_JANITOR_H
#define PGLANE_PROXY_JANITOR_H

void proxy_janitor_start(void);
void proxy_janitor_stop(void);

#endif

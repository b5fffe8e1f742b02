/* proxy/janitor.h — the periodic sweep: timeouts, idle servers, pool sizes; and the wake-up
 * of pools whose server login back-off ends (pool/reach.h). */
#ifndef PGLANE_PROXY_JANITOR_H
#define PGLANE_PROXY_JANITOR_H

#include <stdint.h>

void proxy_janitor_start(void);
void proxy_janitor_stop(void);
/* Fill the pools whose login back-off is over at `at_ms` (monotonic) then, or sooner; look
 * again at the idle servers a pool kept from another worker (pool_recheck). */
void proxy_janitor_retry_at(int64_t at_ms);

#endif

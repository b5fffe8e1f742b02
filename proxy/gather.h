/* proxy/gather.h — the console's and the HTTP endpoint's look at every worker: stop the world,
 * build the merged view of the pools (pool/view.h) and act as its slot, so that the console
 * code reads one registry whatever the number of workers; the connection lists and the
 * controls reach each worker (proxy/control.c) from there. */
#ifndef PGLANE_PROXY_GATHER_H
#define PGLANE_PROXY_GATHER_H

#include "proxy/authq.h"

/* Stop the world and act as the merged view (its context: the caller's loop and config,
 * every worker's client count). */
void proxy_gather_begin(void);
/* Free the view, act as the caller again, let the workers go. */
void proxy_gather_end(void);
/* Every worker's auth_query counters added up (inside a gather). */
struct proxy_authq_stats proxy_gather_authq(void);

#endif

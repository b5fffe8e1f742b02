/* proxy/gather.h — the console's and the HTTP endpoint's look at every worker: stop the world,
 * build the merged view of the pools (pool/view.h) and act as its slot, so that the console
 * code reads one registry whatever the number of workers; the connection lists and the
 * controls reach each worker (proxy/control.c) from there. */
#ifndef PGLANE_PROXY_GATHER_H
#define PGLANE_PROXY_GATHER_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/authq.h"

struct admin_peer_counts;

/* Stop the world and act as the merged view (its context: the caller's loop and config,
 * every worker's client count). */
void proxy_gather_begin(void);
/* Free the view, act as the caller again, let the workers go. */
void proxy_gather_end(void);
/* Every worker's auth_query counters added up (inside a gather). */
struct proxy_authq_stats proxy_gather_authq(void);
/* Every worker's cancel forwards added up per peer (inside a gather): `*n` counts by id
 * (malloc'd, the caller frees; NULL when out of memory) and, in `*unknown`, the requests
 * dropped for a peer not in the config. */
struct admin_peer_counts *proxy_gather_peers(size_t *n, uint64_t *unknown);

#endif

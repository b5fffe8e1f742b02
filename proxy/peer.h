/* proxy/peer.h — peering (PgBouncer's peer_id and peers): several pglanes behind one load
 * balancer, each owning the clients whose cancel pid carries its peer_id (proxy/cancel.h). It
 * owns this pglane's peer_id (read once at start: changing it needs a restart) and the
 * CancelRequests being forwarded to peers. */
#ifndef PGLANE_PROXY_PEER_H
#define PGLANE_PROXY_PEER_H

#include <stddef.h>
#include <stdint.h>

struct admin_peer_counts;
struct cfg;

/* How long a forward may take (look-up, connect, send) before it is dropped. */
#define PROXY_PEER_FORWARD_TIMEOUT_MS 5000

/* At start: take `c`'s peer_id as this pglane's for as long as it runs. */
void proxy_peer_start(const struct cfg *c);
/* This pglane's peer_id (0 = peering off). */
int proxy_peer_self(void);
/* Send the CancelRequest pid/key (pid with its forwarded bit set by the caller) to peer `id`
 * of the config in force, on a new non-blocking connection closed once it is sent; a peer not
 * in the config is logged (debug) and the request dropped. */
void proxy_peer_forward(unsigned id, uint32_t pid, int32_t key);
/* The calling worker's counts, one per peer id it has forwarded to (`*n`), and in
 * `*unknown` the requests it dropped for a peer not in the config. */
const struct admin_peer_counts *proxy_peer_counts(size_t *n, uint64_t *unknown);
/* pglane exits: drop the forwards still in flight. */
void proxy_peer_free_all(void);

#endif

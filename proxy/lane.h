/* proxy/lane.h — the lane of a client's transaction: read from its first message (a lane hint
 * in the SQL text), the routes and the database's default (pool/route.c decides), and the
 * client moved to that lane's pool. */
#ifndef PGLANE_PROXY_LANE_H
#define PGLANE_PROXY_LANE_H

#include <stddef.h>
#include <stdint.h>

struct proxy_client;

/* Move the client to the pool of the lane of the transaction `msg` (`avail` bytes of it in
 * the buffer) starts; in session mode only once per client. The pool of a lane is looked up
 * on first use and kept on the client. */
void proxy_lane_choose(struct proxy_client *c, const uint8_t *msg, size_t avail);

#endif

/* proxy/cancel.h — cancel requests (proxy/cancel.c): the table of the logged-in clients'
 * cancel keys, which it owns, and the cancel requests it forwards to servers. */
#ifndef PGLANE_PROXY_CANCEL_H
#define PGLANE_PROXY_CANCEL_H

#include <stdbool.h>
#include <stdint.h>

/* The pid of the BackendKeyData pglane gives a client (its cancel pid), bit by bit:
 *   bit 31      forwarded: set by a pglane that forwards a CancelRequest to a peer
 *               (proxy/peer.c); a request that arrives with it set is never forwarded again,
 *               so misconfigured peers cannot bounce it around; cleared before the local
 *               look-up. pglane never hands out a pid with it set.
 *   bits 30..20 peer_id: the pglane that owns the client (0..2047, 0 = no peering;
 *               PgBouncer allows up to 16383, pglane's range is smaller: CFG_PEER_ID_MAX)
 *   bits 19..14 worker: the event loop that owns the client
 *   bits 13..0  serial: wraps, never 0, so two live clients may share a pid; the random key
 *               tells them apart (the table is searched by pid and key).
 * The key is 32 random bits, never 0. Pure functions: the unit tests check the layout. */
#define PROXY_CANCEL_FORWARDED    0x80000000u
#define PROXY_CANCEL_PEER_SHIFT   20
#define PROXY_CANCEL_PEER_MASK    0x7ffu
#define PROXY_CANCEL_WORKER_SHIFT 14
#define PROXY_CANCEL_WORKER_MASK  0x3fu
#define PROXY_CANCEL_SERIAL_MASK  0x3fffu

/* The pid for `peer`, `worker` and `serial` (each cut to its field); never forwarded. */
static inline uint32_t proxy_cancel_pid_make(unsigned peer, unsigned worker, unsigned serial)
{
	return (peer & PROXY_CANCEL_PEER_MASK) << PROXY_CANCEL_PEER_SHIFT |
	       (worker & PROXY_CANCEL_WORKER_MASK) << PROXY_CANCEL_WORKER_SHIFT |
	       (serial & PROXY_CANCEL_SERIAL_MASK);
}
static inline bool proxy_cancel_pid_forwarded(uint32_t pid)
{
	return (pid & PROXY_CANCEL_FORWARDED) != 0;
}
static inline unsigned proxy_cancel_pid_peer(uint32_t pid)
{
	return (pid >> PROXY_CANCEL_PEER_SHIFT) & PROXY_CANCEL_PEER_MASK;
}
static inline unsigned proxy_cancel_pid_worker(uint32_t pid)
{
	return (pid >> PROXY_CANCEL_WORKER_SHIFT) & PROXY_CANCEL_WORKER_MASK;
}
static inline unsigned proxy_cancel_pid_serial(uint32_t pid)
{
	return pid & PROXY_CANCEL_SERIAL_MASK;
}
/* The serial after `serial`: wraps to 1 (a pid of 0 looks like "no key" to some drivers). */
static inline unsigned proxy_cancel_serial_next(unsigned serial)
{
	unsigned n = (serial + 1) & PROXY_CANCEL_SERIAL_MASK;
	return n ? n : 1;
}

struct proxy_client;
struct proxy_server;

/* Logged in: give the client its cancel pid (above: this pglane's peer_id, its worker, the
 * next serial) and a random key (never 0), and enter it in the table. */
void proxy_cancel_register(struct proxy_client *c);
/* The client is closing: take it out of the table (nothing when it never entered). */
void proxy_cancel_unregister(struct proxy_client *c);
/* A CancelRequest for pid/key: one that names another peer is forwarded to it (unless it was
 * forwarded already: dropped); else the client with that pid and key has its statement
 * cancelled; nothing happens for a wrong key. */
void proxy_cancel_request(int32_t pid, int32_t key);
/* Send a cancel request to the backend of a server connection; the server is held
 * (proxy_link_cancels_done) until PostgreSQL has closed the cancel connection. */
void proxy_cancel_server(struct proxy_server *s);
/* The server is closing: its cancel requests go on without it. */
void proxy_cancel_detach(struct proxy_server *s);
/* pglane exits: drop the cancel requests still in flight. */
void proxy_cancel_free_all(void);
/* This worker's empty table (before its first client). */
void proxy_cancel_init(void);

#endif

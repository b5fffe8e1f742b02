/* pool/owner.h — whose share of the per-worker state a thread touches. Every per-worker
 * registry (pools, interned values and settings, statements, the proxy's context, cancel keys,
 * auth_query look-ups, the resolver) is an array of POOL_MAX_WORKERS instances indexed by
 * `pool_worker`, a thread-local index: a worker thread sets it once to its own number; the
 * controller thread (proxy/worker.c), which runs console commands while every worker is
 * parked, sets it to each worker in turn to act on that worker's state. */
#ifndef PGLANE_POOL_OWNER_H
#define PGLANE_POOL_OWNER_H

#define POOL_MAX_WORKERS 64

/* The worker whose state this thread touches now (0 in single-threaded programs). */
extern _Thread_local unsigned pool_worker;

#endif

/* proxy/worker.h — worker threads (`workers = N`): each worker runs its own libev loop on
 * its own thread with its own share of every per-worker registry (pool/owner.h); worker 0 is
 * the main thread, whose default loop also gets the signals and runs the HTTP endpoint, the
 * replication monitor and the shutdown and log.stats timers. A worker holds its lock while it
 * runs callbacks and lets go of it only around its poll, so that whoever holds every lock
 * ("the world stopped": console commands, signals, HTTP answers, log.stats) sees every
 * worker between two loop turns and may act on its state (pool_worker set to it). Workers
 * reach each other through mailboxes (an ev_async each): cancel requests, kicks of pools
 * whose waiting clients a server place was given back to, and the exit. */
#ifndef PGLANE_PROXY_WORKER_H
#define PGLANE_PROXY_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pool/owner.h"

/* The number of workers (1 until proxy_workers_start). */
unsigned proxy_workers_count(void);
/* The number of workers `workers = n` asks for (0: one per CPU this process may run on, at
 * most POOL_MAX_WORKERS - 1). */
unsigned proxy_workers_wanted(int n);
/* Start workers 1..n-1 on threads of their own, each running `run` with pool_worker set;
 * false (with a log line) when a thread could not start (those started are stopped). `pin`
 * (worker_cpu_affinity = auto): with n > 1 workers and exactly n CPUs to run on, each worker,
 * the caller (worker 0) too, is pinned to one of them. */
bool proxy_workers_start(unsigned n, void (*run)(void), bool pin);
/* A started worker has its loop, registries and listeners (run calls it before its loop);
 * worker 0 waits for every one before it tells systemd pglane is ready. */
void proxy_worker_ready(void);
void proxy_workers_wait_ready(void);
/* Wait for workers 1..n-1 to return from `run`. */
void proxy_workers_join(void);

/* The calling worker, its loop made (proxy_context_init): take its lock, its mailbox and the
 * release/acquire hooks around its poll. Detach before its loop is destroyed. */
void proxy_worker_attach(void);
void proxy_worker_detach(void);

/* Stop every other worker between two loop turns (the calling worker keeps running its
 * callback); calls nest. Resume lets them go and wakes them. */
void proxy_world_stop(void);
void proxy_world_resume(void);
/* With the world stopped: run fn(arg) once as each worker in turn (pool_worker set to it),
 * then back as the caller. */
void proxy_workers_each(void (*fn)(void *arg), void *arg);

/* The worker a connection just accepted goes to: the one with the fewest clients (those in
 * its mailbox counted), the caller itself on a tie, so that clients spread over the workers
 * whichever loop woke first while a connection stays, where it can, on the worker that
 * accepted it (no hand-over, no second thread woken for it). Then the hand-over: `fd` becomes
 * a client of worker `to` (at once when it is the caller). */
unsigned proxy_worker_for_accept(void);
void proxy_worker_accepted(unsigned to, int fd, const struct sockaddr *sa, socklen_t len);
/* This worker gained (+1) or lost (-1) a client: its count for proxy_worker_for_accept(). */
void proxy_worker_client_count(int delta);
/* Post a CancelRequest to the workers in `mask` (each looks the key up in its own table). */
void proxy_workers_cancel(uint64_t mask, int32_t pid, int32_t key);
/* Post an idle server to worker `to` (proxy/handoff.h). */
struct proxy_handoff;
void proxy_worker_post_server(unsigned to, struct proxy_handoff *h);
/* Wake the workers in `mask` to kick their pools (a server place is free, or wanted). */
void proxy_workers_kick(uint64_t mask);
/* Every worker leaves its loop (pglane exits). */
void proxy_workers_exit(void);
/* Worker w (> 0) is drained in a shutdown; worker 0 is told. True once every worker is. */
void proxy_worker_drained(void);
bool proxy_workers_all_drained(void);

#endif

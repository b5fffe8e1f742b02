/* proxy/context.h — the process's one context: its event loop (the only way to reach it), the
 * loop's clock, connection ids, the config in force, the list of clients, how far a shutdown
 * has gone, and the objects closed during this loop iteration (freed after it, so that no
 * callback still running holds a freed pointer). Owned by the event loop's thread. */
#ifndef PGLANE_PROXY_CONTEXT_H
#define PGLANE_PROXY_CONTEXT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "pool/list.h"
#include "pool/owner.h"

#define PGLANE_VERSION "0.1.0"

struct cfg;
struct cfg_userlist;

/* How pglane is stopping (proxy/shutdown.c), in increasing strictness. */
enum proxy_shutdown_mode {
	PROXY_SHUTDOWN_NONE,
	PROXY_SHUTDOWN_WAIT_FOR_CLIENTS, /* SIGTERM, SHUTDOWN WAIT_FOR_CLIENTS */
	PROXY_SHUTDOWN_WAIT_FOR_SERVERS, /* SIGINT, SHUTDOWN WAIT_FOR_SERVERS */
	PROXY_SHUTDOWN_NOW,              /* SIGQUIT, SHUTDOWN */
};

/* An object closed during this iteration, linked into the context's list (embedded in the
 * object, so that closing cannot fail for want of memory). */
struct proxy_dead {
	struct proxy_dead *next;
	void *obj; /* what is freed */
};

struct proxy_context {
	struct ev_loop *loop;
	struct cfg *cfg;            /* owned; replaced whole on RELOAD */
	struct cfg_userlist *users; /* owned; NULL without an auth file */
	struct pool_list clients;   /* every client connection (struct proxy_client) */
	int nclients;
	bool shutting_down; /* servers drain: released servers close, their clients go */
	enum proxy_shutdown_mode shutdown;
	struct proxy_dead *dead; /* closed this iteration */
};

/* One context per worker; `proxy` is the one of the worker this thread acts for. */
extern struct proxy_context proxy_ctx[POOL_MAX_WORKERS];
#define proxy (proxy_ctx[pool_worker])

/* Make this worker's loop (the default loop for worker 0, which gets the signals) and its
 * empty context. */
void proxy_context_init(void);
/* Free what is left (after the loop ends and everything is closed). */
void proxy_context_free(void);

/* Current loop time. */
int64_t proxy_now_ms(void);
int64_t proxy_now_us(void);

/* The next id of a client ("c12") or a server ("s7"). */
uint32_t proxy_next_client_id(void);
uint32_t proxy_next_server_id(void);

/* Free `obj` (which embeds `d`) after this loop iteration. */
void proxy_defer_free(struct proxy_dead *d, void *obj);
/* Free every object closed so far (after the iteration's callbacks). */
void proxy_reap(void);

#endif

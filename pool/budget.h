/* pool/budget.h — the process-wide server and client counts behind every cap when pools are
 * per worker: one entry per pool key (database × user × lane), per database and per user.
 * A worker reserves a place in its pool's, database's and user's entries before it opens a
 * server (compare-and-swap against the limits), and gives it back when the server closes,
 * so `size`, `reserve_pool_size`, `max_db_connections` and `max_user_connections` bound the
 * whole process; clients count the same way for the client caps. An entry also says which
 * workers have clients waiting that the caps keep from a server, or that wait while logins
 * fail (`wanting`, a bit per worker), so that another worker gives its idle servers back. Entries
 * are made under a mutex and live until pool_budget_free_all() at exit; the counters are atomics,
 * touched at server launch and close and at client login and logout, never per transaction. */
#ifndef PGLANE_POOL_BUDGET_H
#define PGLANE_POOL_BUDGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/cfg.h"
#include "pool/owner.h"
#include "pool/catalog.h"
#include "pool/params.h"

struct pool_budget {
	struct pool_budget *next;    /* in its hash chain */
	_Atomic int servers;         /* open or opening, every worker */
	_Atomic int clients;         /* logged in, every worker */
	_Atomic uint64_t wanting;    /* bit w: worker w has clients the limits (or failing
	                                logins) keep waiting */
	_Atomic int64_t retry_at_ms; /* a pool's login failed: no worker logs in before this */
	_Atomic int logging_in;      /* a pool's servers logging in, every worker */
	/* a pool's longest-waiting client on each worker: when it began to wait (0: none),
	 * and the pool's servers there (open or opening), one cache line each, written by its
	 * worker when its first waiter changes and when a server opens, closes or moves */
	struct {
		_Alignas(64) _Atomic int64_t ms;
		_Atomic int servers;
	} oldest[POOL_MAX_WORKERS];
	/* the pool's welcome (ParameterStatus messages of a server login) and its tracked values
	 * as text, for a worker whose own pool has not logged in (under the table's lock) */
	uint8_t *welcome;
	size_t welcome_len;
	char *welcome_params[POOL_PARAMS_MAX];
	struct pool_catalog *catalog; /* a database's: the settings its server knows (owned) */
	char key[];                   /* "d:db", "u:user" or "p:db\nuser\nlane" */
};

/* The entry of a database, a user, or a pool (created on first use; NULL: out of memory). */
struct pool_budget *pool_budget_db(const char *db);
struct pool_budget *pool_budget_user(const char *user);
struct pool_budget *pool_budget_pool(const char *db, const char *user, enum cfg_lane_kind lane);

/* Reserve one server in each entry given (NULL: none) under its limit (<= 0: none). Returns
 * 0 when reserved, else 1, 2 or 3: which entry (pool, db, user) is full; nothing is kept. */
int pool_budget_take(struct pool_budget *p, int p_max, struct pool_budget *d, int d_max,
                     struct pool_budget *u, int u_max);
/* Give back `n` servers reserved in each entry (NULL skipped). */
void pool_budget_give(struct pool_budget *p, struct pool_budget *d, struct pool_budget *u, int n);

/* Mark (on) or unmark worker `w` as wanting a server of entry `b`; true when the mark was
 * not set before (the other workers should hear of it). */
bool pool_budget_want(struct pool_budget *b, unsigned w, bool on);
/* The workers other than `w` that want a server of `b` (a relaxed load). */
static inline uint64_t pool_budget_wanted(const struct pool_budget *b, unsigned w)
{
	return b ? atomic_load_explicit(&b->wanting, memory_order_relaxed) & ~(UINT64_C(1) << w)
	         : 0;
}
static inline int pool_budget_servers(const struct pool_budget *b)
{
	return atomic_load_explicit(&b->servers, memory_order_relaxed);
}
static inline int pool_budget_clients(const struct pool_budget *b)
{
	return atomic_load_explicit(&b->clients, memory_order_relaxed);
}

/* Worker `w`'s longest-waiting client of the pool began to wait at `ms` (0: none waits). */
static inline void pool_budget_oldest_set(struct pool_budget *b, unsigned w, int64_t ms)
{
	if (atomic_load_explicit(&b->oldest[w].ms, memory_order_relaxed) != ms)
		atomic_store_explicit(&b->oldest[w].ms, ms, memory_order_relaxed);
}
/* Worker `w` has `n` more servers of the pool (n < 0: fewer). */
static inline void pool_budget_worker_servers(struct pool_budget *b, unsigned w, int n)
{
	atomic_fetch_add_explicit(&b->oldest[w].servers, n, memory_order_relaxed);
}
/* Worker `w`'s servers of the pool. */
static inline int pool_budget_servers_of(const struct pool_budget *b, unsigned w)
{
	return atomic_load_explicit(&b->oldest[w].servers, memory_order_relaxed);
}
/* Of the workers in `mask` whose clients wait, one that has no server of the pool or whose
 * longest-waiting client began to wait at `by_ms` or before; -1 when none (then *next_ms:
 * the earliest such start of a wait, 0 when none waits). */
int pool_budget_starved(const struct pool_budget *b, uint64_t mask, int64_t by_ms,
                        int64_t *next_ms);
/* Of the workers in `mask`, the one whose longest-waiting client began to wait before
 * `before_ms` by more than `lag_ms` (the earliest such); -1 when none. */
int pool_budget_owed(const struct pool_budget *b, uint64_t mask, int64_t before_ms, int64_t lag_ms);

/* A pool's server login failed: no worker starts another before `at_ms` (0: it worked). */
static inline void pool_budget_retry_at(struct pool_budget *b, int64_t at_ms)
{
	atomic_store_explicit(&b->retry_at_ms, at_ms, memory_order_relaxed);
}
static inline bool pool_budget_may_login(const struct pool_budget *b, int64_t now_ms)
{
	return atomic_load_explicit(&b->retry_at_ms, memory_order_relaxed) <= now_ms;
}
/* Has a login of the pool failed on some worker with none working since? (Then one login
 * at a time, a probe, across the workers.) */
static inline bool pool_budget_failing(const struct pool_budget *b)
{
	return atomic_load_explicit(&b->retry_at_ms, memory_order_relaxed) != 0;
}
static inline int pool_budget_logins(const struct pool_budget *b)
{
	return atomic_load_explicit(&b->logging_in, memory_order_relaxed);
}
static inline void pool_budget_login(struct pool_budget *b, int n)
{
	atomic_fetch_add_explicit(&b->logging_in, n, memory_order_relaxed);
}

/* Keep a copy of a pool's welcome for the other workers (the first one given stays). */
void pool_budget_welcome_put(struct pool_budget *b, const uint8_t *msgs, size_t len,
                             const struct pool_params *params);
/* The welcome another worker kept: true with a malloc'd copy of the messages in *msgs and
 * the values interned on this worker in *params; false when none (or out of memory). */
bool pool_budget_welcome_get(struct pool_budget *b, uint8_t **msgs, size_t *len,
                             struct pool_params *params);

/* Keep a copy of a database's settings catalog for the other workers (the first stays). */
void pool_budget_catalog_put(struct pool_budget *b, const struct pool_catalog *c);
/* A copy of the catalog another worker kept, or NULL. */
struct pool_catalog *pool_budget_catalog_get(struct pool_budget *b);

/* Free every entry (at exit, every worker stopped). */
void pool_budget_free_all(void);

#endif

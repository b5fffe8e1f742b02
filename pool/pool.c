/* pool/pool.c — the registry of databases, users and pools, and the rules that hand server
 * connections to clients: LIFO idle servers (FIFO with server_round_robin), checked first when
 * idle longer than server_check_delay, FIFO waiting clients, launch on demand up to the lane's
 * size (and the reserve pool for clients that waited too long), within the server caps of
 * databases and users, back-off (server_login_retry) after a failed server login. */
#include "pool/pool.h"

#include "config/log.h"
#include "pool/owner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_BUCKETS 256

/* The pool registry: every database, user and pool this process has met, and the state of
 * the rules that hand servers out. Owner today: the process's one event loop (every call
 * comes from it). Under worker threads: one per worker (its own pools, wait queues and idle
 * servers; nothing shared on the hot path); `ops` is process-wide, set before the threads
 * start; a lane's `size` and the server caps become a global budget of atomic counters
 * beside it (README, "Design notes: who owns what under worker threads"). */
static struct pool_registry {
	struct pool *pool_buckets[POOL_BUCKETS]; /* owned: pools by (db, user, lane) */
	struct pool_list all_pools;              /* the same pools, in creation order */
	struct pool_db *dbs;                     /* owned */
	struct pool_user *users;                 /* owned */
	bool pause_all;
	int n_held_pools;   /* pools with held_by set */
	bool evicting;      /* closing a server to make room: no fill from its close */
	bool kicks_pending; /* some pool has kick_wanted */
	bool reserved;      /* launch(): a budget place waits for pool_server_add() */
	int64_t period_old_us, period_new_us; /* the last two stats_period boundaries */
} regs[POOL_MAX_WORKERS];
#define reg (regs[pool_worker])

_Thread_local unsigned pool_worker;

/* The proxy's callbacks: process-wide, set by pool_setup() before any worker starts. */
static const struct pool_ops *ops;

void pool_setup(const struct pool_ops *o)
{
	if (o && ops != o)
		ops = o; /* by worker 0, before the others start: they only read it */
	if (!reg.all_pools.next)
		pool_list_init(&reg.all_pools);
}

static uint32_t hash_key(const char *db, const char *user, enum cfg_lane_kind lane)
{
	uint32_t h = 2166136261u;
	for (const char *s = db; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (const char *s = user; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return (h ^ (uint32_t)lane) * 16777619u;
}

/* `n` more (or fewer) logged-in clients of `p`, here and in every worker's counts. */
static void client_count(struct pool *p, int n)
{
	p->n_clients += n;
	p->db->n_clients += n;
	p->user->n_clients += n;
	atomic_fetch_add_explicit(&p->db->budget->clients, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->user->budget->clients, n, memory_order_relaxed);
}

static struct pool_db *db_get(const struct cfg *cfg, const char *name)
{
	for (struct pool_db *d = reg.dbs; d; d = d->next)
		if (strcmp(d->name, name) == 0)
			return d->cfg ? d : NULL;
	const struct cfg_database *dc = cfg_database_find(cfg, name);
	if (!dc || strlen(name) >= CFG_NAME_MAX)
		return NULL;
	struct pool_db *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->budget = pool_budget_db(name);
	d->cfg = dc;
	d->paused = reg.pause_all;
	d->next = reg.dbs;
	reg.dbs = d;
	return d;
}

struct pool_db *pool_db_get(const struct cfg *cfg, const char *name)
{
	return db_get(cfg, name);
}

const struct pool_catalog *pool_db_catalog(struct pool_db *d)
{
	if (!d->catalog)
		d->catalog = pool_budget_catalog_get(d->budget);
	return d->catalog;
}

struct pool_db *pool_db_next(struct pool_db *prev)
{
	return prev ? prev->next : reg.dbs;
}

struct pool_user *pool_user_next(struct pool_user *prev)
{
	return prev ? prev->next : reg.users;
}

bool pool_pause_all(void)
{
	return reg.pause_all;
}

void pool_set_pause_all(bool on)
{
	reg.pause_all = on;
	for (struct pool_db *d = reg.dbs; d; d = d->next)
		d->paused = on;
}

struct pool_user *pool_user_find(const char *name)
{
	for (struct pool_user *u = reg.users; u; u = u->next)
		if (strcmp(u->name, name) == 0)
			return u;
	return NULL;
}

struct pool_user *pool_user_get(const char *name)
{
	struct pool_user *found = pool_user_find(name);
	if (found)
		return found;
	if (strlen(name) >= CFG_NAME_MAX)
		return NULL;
	struct pool_user *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->budget = pool_budget_user(name);
	u->next = reg.users;
	reg.users = u;
	return u;
}

struct pool *pool_get(const struct cfg *cfg, const char *dbname, const char *user,
                      enum cfg_lane_kind lane)
{
	uint32_t h = hash_key(dbname, user, lane) % POOL_BUCKETS;
	for (struct pool *p = reg.pool_buckets[h]; p; p = p->next_hash)
		if (p->lane == lane && strcmp(p->db->name, dbname) == 0 &&
		    strcmp(p->user->name, user) == 0)
			return p;
	struct pool_db *d = db_get(cfg, dbname);
	struct pool_user *u = pool_user_get(user);
	if (!d || !u || !d->cfg->lanes[lane].enabled)
		return NULL;
	struct pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->db = d;
	p->user = u;
	p->lane = lane;
	p->budget = pool_budget_pool(dbname, user, lane);
	p->olap_target = -1;
	cfg_pool_resolve(cfg, &d->cfg->lanes[lane], user, &p->settings);
	pool_list_init(&p->login);
	pool_list_init(&p->idle);
	pool_list_init(&p->active);
	pool_list_init(&p->busy);
	pool_list_init(&p->waiting);
	pool_list_append(&reg.all_pools, &p->all);
	p->next_hash = reg.pool_buckets[h];
	reg.pool_buckets[h] = p;
	return p;
}

const struct cfg_lane *pool_lane_cfg(const struct pool *p)
{
	return &p->db->cfg->lanes[p->lane];
}

struct pool *pool_next(struct pool *prev)
{
	struct pool_list *n = prev ? prev->all.next : reg.all_pools.next;
	/* a registry pool_setup() has not seen yet (the console fuzzer's) holds no pool */
	return !n || n == &reg.all_pools ? NULL : pool_container_of(n, struct pool, all);
}

void pool_config_changed(const struct cfg *cfg)
{
	for (struct pool_db *d = reg.dbs; d; d = d->next)
		d->cfg = cfg_database_find(cfg, d->name);
	struct pool *p = NULL;
	while ((p = pool_next(p)))
		if (p->db->cfg)
			cfg_pool_resolve(cfg, &p->db->cfg->lanes[p->lane], p->user->name,
			                 &p->settings);
}

void pool_shutdown(void)
{
	for (int i = 0; i < POOL_BUCKETS; i++) {
		while (reg.pool_buckets[i]) {
			struct pool *p = reg.pool_buckets[i];
			reg.pool_buckets[i] = p->next_hash;
			pool_budget_give(p->budget, p->db->budget, p->user->budget,
			                 pool_server_count(p));
			pool_budget_worker_servers(p->budget, pool_worker, -pool_server_count(p));
			pool_budget_login(p->budget, -p->n_login);
			if (p->n_clients)
				client_count(p, -p->n_clients);
			free(p->welcome);
			pool_params_clear(&p->welcome_params);
			pool_stmt_cache_free(p->known);
			free(p);
		}
	}
	pool_list_init(&reg.all_pools);
	reg.n_held_pools = 0;
	while (reg.dbs) {
		struct pool_db *d = reg.dbs;
		reg.dbs = d->next;
		pool_catalog_free(d->catalog);
		free(d);
	}
	while (reg.users) {
		struct pool_user *u = reg.users;
		reg.users = u->next;
		free(u);
	}
}

int pool_server_count(const struct pool *p)
{
	return p->n_login + p->n_idle + p->n_active + p->n_busy;
}

static int *state_count(struct pool *p, enum pool_server_state st)
{
	switch (st) {
	case POOL_SERVER_LOGIN:
		return &p->n_login;
	case POOL_SERVER_IDLE:
		return &p->n_idle;
	case POOL_SERVER_ACTIVE:
		return &p->n_active;
	case POOL_SERVER_BUSY:
		break;
	}
	return &p->n_busy;
}

static struct pool_list *state_list(struct pool *p, enum pool_server_state st)
{
	switch (st) {
	case POOL_SERVER_LOGIN:
		return &p->login;
	case POOL_SERVER_IDLE:
		return &p->idle;
	case POOL_SERVER_ACTIVE:
		return &p->active;
	case POOL_SERVER_BUSY:
		break;
	}
	return &p->busy;
}

static void set_state(struct pool_server *s, enum pool_server_state st, int64_t now_ms)
{
	struct pool *p = s->pool;
	pool_list_remove(&s->link);
	(*state_count(p, s->state))--;
	if (s->tested) {
		s->tested = false;
		p->n_tested--;
	}
	if ((s->state == POOL_SERVER_LOGIN) != (st == POOL_SERVER_LOGIN))
		pool_budget_login(p->budget, st == POOL_SERVER_LOGIN ? 1 : -1);
	s->state = st;
	s->state_since_ms = now_ms;
	(*state_count(p, st))++;
	pool_list_append(state_list(p, st), &s->link);
}

static void unlink_client(struct pool_server *s)
{
	if (s->client) {
		s->client->server = NULL;
		s->client = NULL;
	}
}

static void link_client(struct pool_server *s, struct pool_client *c, int64_t now_ms)
{
	s->client = c;
	c->server = s;
	s->pool->stats.server_assignments++;
	set_state(s, POOL_SERVER_ACTIVE, now_ms);
}

static int lane_size(const struct pool *p)
{
	return p->db->cfg ? pool_cfg(p)->size : 0;
}

const char *pool_held_name(enum pool_held h)
{
	switch (h) {
	case POOL_HELD_DB:
		return "max_db_connections";
	case POOL_HELD_USER:
		return "max_user_connections";
	case POOL_HELD_NONE:
		break;
	}
	return "";
}

static void set_held(struct pool *p, enum pool_held h)
{
	if ((p->held_by != POOL_HELD_NONE) != (h != POOL_HELD_NONE))
		reg.n_held_pools += h != POOL_HELD_NONE ? 1 : -1;
	p->held_by = h;
}

/* When the first waiting client of `p` began to wait (it has one). */
static int64_t first_wait_ms(const struct pool *p)
{
	return pool_container_of(pool_list_first(&p->waiting), struct pool_client, link)
	        ->wait_start_ms;
}

int64_t pool_oldest_wait_ms(const struct pool *p)
{
	if (pool_list_empty(&p->waiting))
		return p->view_oldest_wait_ms;
	return first_wait_ms(p);
}

/* The number of servers `p` may have now: its size, plus reserve_pool_size when its first
 * waiting client has waited reserve_pool_timeout (0 turns the reserve off, as in PgBouncer). */
static int pool_limit(const struct pool *p, int64_t now_ms)
{
	const struct cfg_pool *pc = pool_cfg(p);
	if (pc->reserve_pool_size <= 0 || pc->reserve_pool_timeout_ms <= 0 ||
	    pool_list_empty(&p->waiting))
		return pc->size;
	if (now_ms - first_wait_ms(p) < pc->reserve_pool_timeout_ms)
		return pc->size;
	return pc->size + pc->reserve_pool_size;
}

/* The server cap that forbids `p` one more server, if any. */
static enum pool_held cap_reached(const struct pool *p)
{
	const struct cfg_pool *pc = pool_cfg(p);
	if (pc->max_db_connections > 0 &&
	    pool_budget_servers(p->db->budget) >= pc->max_db_connections)
		return POOL_HELD_DB;
	if (pc->max_user_connections > 0 &&
	    pool_budget_servers(p->user->budget) >= pc->max_user_connections)
		return POOL_HELD_USER;
	return POOL_HELD_NONE;
}

/* Close the longest-idle server of another pool sharing `p`'s database (cap `why` DB) or user
 * (USER), to make room under that cap. False when there is none (or it did not go). */
static bool evict_for(struct pool *p, enum pool_held why)
{
	struct pool_server *victim = NULL;
	for (struct pool *q = pool_next(NULL); q; q = pool_next(q)) {
		if (q == p || pool_list_empty(&q->idle))
			continue;
		if (why == POOL_HELD_DB ? q->db != p->db : q->user != p->user)
			continue;
		struct pool_server *s =
		        pool_container_of(pool_list_first(&q->idle), struct pool_server, link);
		if (!victim || s->state_since_ms < victim->state_since_ms)
			victim = s;
	}
	if (!victim || !ops->server_evict)
		return false;
	int before = why == POOL_HELD_DB ? p->db->n_servers : p->user->n_servers;
	reg.evicting = true;
	ops->server_evict(victim, pool_held_name(why));
	reg.evicting = false;
	return (why == POOL_HELD_DB ? p->db->n_servers : p->user->n_servers) < before;
}

/* Start one server for `p` within `limit` servers of its pool in every worker and the
 * database and user caps; false when none could start (*full: which limit was reached,
 * as pool_budget_take() says). */
static bool launch(struct pool *p, int limit, int *full)
{
	const struct cfg_pool *pc = pool_cfg(p);
	*full = pool_budget_take(p->budget, limit, p->db->budget, pc->max_db_connections,
	                         p->user->budget, pc->max_user_connections);
	if (*full)
		return false;
	int before = p->n_login;
	reg.reserved = true; /* pool_server_add() takes the place reserved */
	ops->server_launch(p);
	if (reg.reserved) { /* nothing started: the place goes back */
		reg.reserved = false;
		pool_budget_give(p->budget, p->db->budget, p->user->budget, 1);
	}
	return p->n_login != before; /* false too when it failed at once (and was closed) */
}

/* How much longer than this worker's longest-waiting client another worker's must have
 * waited for a server of the pool to go there rather than here: servers do not bounce
 * between workers at every release, and no worker's clients wait much longer than the
 * others'. */
#define HANDOFF_LAG_MS 5

/* The worker whose clients of `p` a server is owed to before this worker's (their longest
 * wait is longer than ours by HANDOFF_LAG_MS), or -1. Compared once per millisecond at most,
 * and not again within HANDOFF_LAG_MS of a server handed over while this worker's own clients
 * wait (the taker's published wait is not fresh yet): servers do not stream one way. */
static int owed_elsewhere(struct pool *p, int64_t now_ms)
{
	uint64_t direct = pool_budget_wanted(p->budget, pool_worker);
	if (!direct)
		return -1;
	if (now_ms - p->handed_ms < HANDOFF_LAG_MS)
		return -1;
	if (p->owed_checked_ms == now_ms)
		return p->owed_to;
	int64_t mine = pool_oldest_wait_ms(p);
	p->owed_checked_ms = now_ms;
	p->owed_to = pool_budget_owed(p->budget, direct, mine ? mine : INT64_MAX, HANDOFF_LAG_MS);
	return p->owed_to;
}

/* Does this worker want a server of `p` that the pool's size keeps from it? */
static bool wanting(const struct pool *p)
{
	return atomic_load_explicit(&p->budget->wanting, memory_order_relaxed) &
	       (UINT64_C(1) << pool_worker);
}

/* This worker's longest-waiting client of `p` for the other workers to compare with: once
 * per millisecond at most, unless `force`d (it starts or stops wanting). */
static void publish_oldest(struct pool *p, int64_t now_ms, bool force)
{
	if (!force && p->published_ms == now_ms)
		return;
	p->published_ms = now_ms;
	pool_budget_oldest_set(p->budget, pool_worker,
	                       pool_list_empty(&p->waiting) ? 0 : first_wait_ms(p));
}

/* Look at `p` again at `at_ms` (pool_recheck), or sooner. */
static void recheck_at(struct pool *p, int64_t at_ms)
{
	if (!p->recheck_ms || at_ms < p->recheck_ms) {
		p->recheck_ms = at_ms;
		ops->wake_at(at_ms);
	}
}

/* Worker `pool_worker` has clients of `p` that a limit keeps waiting: the pool's size or
 * failing logins (full 1), its database's cap (2, or held by it) or its user's (3); none (0):
 * it has not.
 * The other workers hear of a new want and give back the idle servers they do not need. */
static void want(struct pool *p, int full, enum pool_held held, int64_t now_ms)
{
	if (held == POOL_HELD_DB)
		full = 2;
	else if (held == POOL_HELD_USER)
		full = 3;
	bool news = pool_budget_want(p->budget, pool_worker, full == 1);
	if (news || full != 1) /* while it wants, the others compare waits with it */
		publish_oldest(p, now_ms, true);
	news |= pool_budget_want(p->db->budget, pool_worker, full == 2);
	news |= pool_budget_want(p->user->budget, pool_worker, full == 3);
	if (!news || !ops->workers_kick)
		return;
	if (full == 1 && ops->wake_at && pool_budget_servers_of(p->budget, pool_worker) > 0) {
		/* it has servers of its own: the others give theirs only once its clients waited
		 * HANDOFF_LAG_MS (kept_back), so they hear of it then, if it still wants; most
		 * waits end before, and a wake-up of every worker at each would cost more than
		 * the waits */
		p->kick_others = true;
		recheck_at(p, first_wait_ms(p) + HANDOFF_LAG_MS);
		return;
	}
	ops->workers_kick(~(UINT64_C(1) << pool_worker));
}

/* Does another worker want a server this pool could give back? */
static uint64_t wanted_elsewhere(const struct pool *p)
{
	return pool_budget_wanted(p->budget, pool_worker) |
	       pool_budget_wanted(p->db->budget, pool_worker) |
	       pool_budget_wanted(p->user->budget, pool_worker);
}

/* Keep this worker's idle servers of `p`, none of its clients waiting, from the workers in
 * `direct` that want one? Yes while each of them has servers of its own and its clients have
 * waited less than HANDOFF_LAG_MS: one of its own servers is about to serve them, and a
 * server handed over at every release would bounce between busy workers (a mailbox hop each
 * way, and its prepared statements dropped). Then the pool looks again when the first of
 * those waits reaches the lag. */
static bool kept_back(struct pool *p, uint64_t direct, int64_t now_ms)
{
	int64_t first = 0;
	if (!ops->wake_at ||
	    pool_budget_starved(p->budget, direct, now_ms - HANDOFF_LAG_MS, &first) >= 0 || !first)
		return false;
	recheck_at(p, first + HANDOFF_LAG_MS);
	return true;
}

/* Clients of `p` wait on another worker, and none on this one (or this one holds more than
 * its share): its idle servers go to that worker (or, when a server cannot travel, are
 * closed so that their places serve those clients). */
static void give_back_idle(struct pool *p, int64_t now_ms)
{
	uint64_t mask = wanted_elsewhere(p);
	if (!mask || !ops->server_evict)
		return;
	bool evicted = false;
	uint64_t direct = pool_budget_wanted(p->budget, pool_worker);
	while (!pool_list_empty(&p->idle)) {
		int owed = owed_elsewhere(p, now_ms);
		bool mine = !pool_list_empty(&p->waiting);
		if (mine && owed < 0)
			break; /* its own clients wait too, no longer than the others' */
		if (!mine && direct && kept_back(p, direct, now_ms))
			break; /* their own servers are about to serve them */
		unsigned to =
		        (unsigned)(owed >= 0 ? owed : __builtin_ctzll(direct ? direct : mask));
		struct pool_server *s =
		        pool_container_of(pool_list_first(&p->idle), struct pool_server, link);
		if (direct && ops->server_handoff && ops->server_handoff(s, to)) {
			if (mine) {
				p->handed_ms = now_ms;
				break; /* one at a time while its own clients wait */
			}
			continue; /* the same pool's clients there: the server itself goes */
		}
		if (mine) { /* it cannot travel: its own clients have it, no one waits for it */
			p->handed_ms = now_ms;
			break;
		}
		reg.evicting = true;
		ops->server_evict(s, "another worker's clients");
		reg.evicting = false;
		evicted = true;
	}
	if (evicted && ops->workers_kick)
		ops->workers_kick(mask);
}

void pool_fill(struct pool *p, int64_t now_ms)
{
	if (reg.evicting)
		return; /* a server closed to make room: its place is for the pool that asked */
	if (!p->db->cfg || p->db->paused) {
		set_held(p, POOL_HELD_NONE);
		return;
	}
	int wanted = p->n_waiting - p->n_tested; /* a server being checked serves one of them */
	if (!pool_reach_may_login(&p->reach, now_ms) || !pool_budget_may_login(p->budget, now_ms)) {
		/* server_login_retry after a failed login, this worker's or another's: while it
		 * lasts, another worker's idle servers are wanted here (PostgreSQL refused a new
		 * connection, not the ones it has: max_connections, a role's connection limit) */
		want(p, wanted > 0 ? 1 : 0, POOL_HELD_NONE, now_ms);
		return;
	}
	enum pool_held held = POOL_HELD_NONE;
	int limit = pool_limit(p, now_ms);
	/* a probe while the server is not up, one across the workers */
	bool probing = p->reach.failures || pool_budget_failing(p->budget);
	int logins = probing ? 1 : pool_reach_max_logins(&p->reach);
	int full = 0;
	if (probing && wanted > 0)
		full = 1; /* and idle servers on other workers are wanted meanwhile */
	if (wanted > logins)
		wanted = logins;
	while (p->n_login < wanted) {
		if (probing && pool_budget_logins(p->budget) > 0)
			break; /* another worker's probe is under way */
		if (pool_budget_servers(p->budget) >= limit) {
			full = 1; /* every place taken, on this worker or another */
			break;
		}
		enum pool_held why = cap_reached(p);
		if (why != POOL_HELD_NONE) {
			if (evict_for(p, why))
				continue;
			held = why;
			break;
		}
		if (pool_budget_servers(p->budget) >= lane_size(p)) /* PgBouncer warns here too */
			log_warning(
			        "%s@%s lane %s: taking a server from the reserve pool (a client "
			        "waited %lld ms)",
			        p->user->name, p->db->name, cfg_lane_name(p->lane),
			        (long long)(now_ms - first_wait_ms(p)));
		if (!launch(p, limit, &full))
			break; /* could not even start one */
	}
	set_held(p, held);
	if (probing && full)
		want(p, 1, held, now_ms); /* its clients wait for the probe, or for the others */
	else
		want(p, p->n_login < wanted ? full : 0, p->n_login < wanted ? held : POOL_HELD_NONE,
		     now_ms);
	while (pool_budget_servers(p->budget) < pool_cfg(p)->min_size && p->n_login < logins &&
	       cap_reached(p) == POOL_HELD_NONE)
		if (!launch(p, pool_cfg(p)->min_size, &full))
			return;
}

void pool_server_gone(struct pool *p, int64_t now_ms)
{
	if (reg.evicting)
		return;
	pool_fill(p, now_ms);
	if (reg.n_held_pools == 0)
		return;
	for (struct pool *q = pool_next(NULL); q && reg.n_held_pools > 0; q = pool_next(q))
		if (q != p && q->held_by != POOL_HELD_NONE &&
		    (q->db == p->db || q->user == p->user))
			pool_fill(q, now_ms);
}

const char *pool_client_cap_reached(const struct pool *p)
{
	const struct cfg_pool *pc = pool_cfg(p);
	if (pc->max_db_client_connections > 0 &&
	    pool_budget_clients(p->db->budget) >= pc->max_db_client_connections)
		return "max_db_client_connections";
	if (pc->max_user_client_connections > 0 &&
	    pool_budget_clients(p->user->budget) >= pc->max_user_client_connections)
		return "max_user_client_connections";
	return NULL;
}

void pool_client_join(struct pool *p)
{
	client_count(p, 1);
}

void pool_client_leave(struct pool *p)
{
	client_count(p, -1);
}

/* Is idle server `s` due for server_check_query before a client gets it? */
static bool needs_check(const struct pool *p, const struct pool_server *s, int64_t now_ms)
{
	return ops->server_check &&
	       now_ms - s->state_since_ms >= pool_cfg(p)->server_check_delay_ms;
}

/* An idle server to hand out: the most recently used one, or the longest idle one with
 * server_round_robin. One idle too long is checked instead (it comes back through
 * pool_server_ready()), as long as fewer than `checks` checks are under way; NULL when no
 * server can be handed out now. */
static struct pool_server *take_idle(struct pool *p, int checks, int64_t now_ms)
{
	while (!pool_list_empty(&p->idle)) {
		struct pool_list *at =
		        pool_cfg(p)->server_round_robin ? p->idle.next : p->idle.prev;
		struct pool_server *s = pool_container_of(at, struct pool_server, link);
		if (ops->server_settle) {
			ops->server_settle(s);
			if (s->pool != p)
				continue; /* it had ended: closed, the list is read again */
		}
		if (!needs_check(p, s, now_ms))
			return s;
		if (p->n_tested >= checks)
			return NULL;
		set_state(s, POOL_SERVER_BUSY, now_ms);
		s->tested = true;
		p->n_tested++;
		ops->server_check(s); /* may close it at once: the list is read again */
	}
	return NULL;
}

struct pool_server *pool_acquire(struct pool *p, struct pool_client *c, int64_t now_ms)
{
	if (!p->db->paused && !pool_list_empty(&p->idle)) {
		struct pool_server *s =
		        take_idle(p, p->n_waiting + (c->wait_start_ms == 0 ? 1 : 0), now_ms);
		if (s) {
			link_client(s, c, now_ms);
			c->last_wait_ms = 0;
			pool_hist_add(&p->stats.wait_hist, 0, now_ms * 1000);
			return s;
		}
	}
	if (c->wait_start_ms == 0) {
		c->wait_start_ms = now_ms;
		pool_list_append(&p->waiting, &c->link);
		p->n_waiting++;
		if (p->n_waiting == 1 && wanting(p))
			publish_oldest(p, now_ms, false);
	}
	pool_fill(p, now_ms);
	return NULL;
}

void pool_kick(struct pool *p, int64_t now_ms)
{
	give_back_idle(p, now_ms);
	while (!p->db->paused && !pool_list_empty(&p->waiting) && !pool_list_empty(&p->idle)) {
		if (owed_elsewhere(p, now_ms) >= 0)
			break; /* owed to another worker's clients, and not handed over yet */
		struct pool_server *s = take_idle(p, p->n_waiting, now_ms);
		if (!s)
			break;
		pool_server_ready(s, now_ms); /* to the first waiting client */
	}
	pool_fill(p, now_ms);
	give_back_idle(p, now_ms);
}

void pool_kick_later(struct pool *p)
{
	p->kick_wanted = true;
	reg.kicks_pending = true;
}

void pool_run_kicks(int64_t now_ms)
{
	if (!reg.kicks_pending)
		return;
	reg.kicks_pending = false;
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		if (!p->kick_wanted)
			continue;
		p->kick_wanted = false;
		if (p->db->cfg)
			pool_kick(p, now_ms);
	}
}

void pool_recheck(struct pool *p, int64_t now_ms, int64_t *next_ms)
{
	if (!p->recheck_ms)
		return;
	if (p->recheck_ms > now_ms) {
		if (!*next_ms || p->recheck_ms < *next_ms)
			*next_ms = p->recheck_ms;
		return;
	}
	p->recheck_ms = 0;
	if (p->kick_others) {
		p->kick_others = false;
		if (wanting(p) && !pool_list_empty(&p->waiting))
			ops->workers_kick(~(UINT64_C(1) << pool_worker));
	}
	if (p->db->cfg)
		pool_kick(p, now_ms);
}

void pool_client_unwait(struct pool_client *c, int64_t now_ms)
{
	if (c->wait_start_ms == 0)
		return;
	struct pool *p = c->pool;
	bool first = pool_list_first(&p->waiting) == &c->link;
	pool_list_remove(&c->link);
	p->n_waiting--;
	if (p->n_waiting == 0) {
		set_held(p, POOL_HELD_NONE);
		want(p, 0, POOL_HELD_NONE, now_ms);
	} else if (first && wanting(p)) {
		publish_oldest(p, now_ms, false);
	}
	int64_t waited = now_ms - c->wait_start_ms;
	p->stats.wait_time_us += (uint64_t)waited * 1000;
	pool_hist_add(&p->stats.wait_hist, waited * 1000, now_ms * 1000);
	c->last_wait_ms = waited;
	c->wait_start_ms = 0;
}

void pool_server_add(struct pool *p, struct pool_server *s, int64_t now_ms)
{
	s->pool = p;
	s->client = NULL;
	s->state = POOL_SERVER_LOGIN;
	s->created_ms = now_ms;
	s->state_since_ms = now_ms;
	s->close_on_release = false;
	s->tested = false;
	pool_list_init(&s->link);
	pool_list_append(&p->login, &s->link);
	p->n_login++;
	p->db->n_servers++;
	p->user->n_servers++;
	p->stats.server_connects++;
	pool_budget_login(p->budget, 1);
	pool_budget_worker_servers(p->budget, pool_worker, 1);
	if (reg.reserved)
		reg.reserved = false;
	else /* opened without pool_fill() (tests) */
		pool_budget_take(p->budget, 0, p->db->budget, 0, p->user->budget, 0);
}

void pool_server_detach(struct pool_server *s)
{
	struct pool *p = s->pool;
	pool_list_remove(&s->link);
	(*state_count(p, s->state))--;
	p->db->n_servers--;
	p->user->n_servers--;
	pool_budget_worker_servers(p->budget, pool_worker, -1);
	s->pool = NULL;
	pool_params_clear(&s->params);
}

void pool_server_adopt(struct pool *p, struct pool_server *s, bool ready, int64_t now_ms)
{
	s->pool = p;
	s->client = NULL;
	s->state = POOL_SERVER_BUSY;
	s->state_since_ms = now_ms;
	pool_list_init(&s->link);
	pool_list_append(&p->busy, &s->link);
	p->n_busy++;
	p->db->n_servers++;
	p->user->n_servers++;
	pool_budget_worker_servers(p->budget, pool_worker, 1);
	if (ready)
		pool_server_ready(s, now_ms);
}

void pool_server_ready(struct pool_server *s, int64_t now_ms)
{
	struct pool *p = s->pool;
	unlink_client(s);
	if (!p->db->paused && !pool_list_empty(&p->waiting) && owed_elsewhere(p, now_ms) < 0) {
		struct pool_client *c =
		        pool_container_of(pool_list_first(&p->waiting), struct pool_client, link);
		pool_client_unwait(c, now_ms);
		link_client(s, c, now_ms);
		ops->client_assigned(c, s);
		return;
	}
	set_state(s, POOL_SERVER_IDLE, now_ms);
	if (wanted_elsewhere(p))
		pool_kick_later(p); /* gives it back, outside the caller's release */
}

void pool_server_busy(struct pool_server *s, int64_t now_ms)
{
	unlink_client(s);
	set_state(s, POOL_SERVER_BUSY, now_ms);
}

void pool_server_remove(struct pool_server *s)
{
	struct pool *p = s->pool;
	if (!p)
		return;
	unlink_client(s);
	pool_list_remove(&s->link);
	(*state_count(p, s->state))--;
	if (s->state == POOL_SERVER_LOGIN)
		pool_budget_login(p->budget, -1);
	p->db->n_servers--;
	p->user->n_servers--;
	pool_budget_worker_servers(p->budget, pool_worker, -1);
	pool_budget_give(p->budget, p->db->budget, p->user->budget, 1);
	if (s->tested) {
		s->tested = false;
		p->n_tested--;
	}
	s->pool = NULL;
	pool_params_clear(&s->params);
	pool_settings_assign(&s->settings, NULL);
}

#define POOL_KNOWN_STMTS 1000

void pool_stmt_known(struct pool *p, struct pool_stmt *s)
{
	if (!p->known)
		p->known = pool_stmt_cache_new(POOL_KNOWN_STMTS);
	if (!p->known || pool_stmt_cache_has(p->known, s))
		return;
	struct pool_stmt *victim = pool_stmt_cache_victim(p->known);
	if (victim)
		pool_stmt_cache_remove(p->known, victim);
	pool_stmt_cache_add(p->known, s);
}

bool pool_stmt_is_known(struct pool *p, const struct pool_stmt *s)
{
	return p->known && pool_stmt_cache_has(p->known, s);
}

bool pool_welcome_set(struct pool *p, const uint8_t *msgs, size_t len,
                      const struct pool_params *params)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return false;
	memcpy(copy, msgs, len);
	free(p->welcome);
	p->welcome = copy;
	p->welcome_len = len;
	pool_params_copy(&p->welcome_params, params);
	pool_budget_welcome_put(p->budget, msgs, len, params); /* for the other workers */
	return true;
}

/* The welcome another worker's pool of the same database and user kept (this lane's first). */
static bool borrow_elsewhere(struct pool *p)
{
	for (int k = -1; k < CFG_LANE_COUNT; k++) {
		if (k == (int)p->lane)
			continue;
		struct pool_budget *b =
		        k < 0 ? p->budget
		              : pool_budget_pool(p->db->name, p->user->name, (enum cfg_lane_kind)k);
		uint8_t *msgs;
		size_t len;
		struct pool_params params;
		if (!pool_budget_welcome_get(b, &msgs, &len, &params))
			continue;
		bool ok = pool_welcome_set(p, msgs, len, &params);
		free(msgs);
		pool_params_clear(&params);
		return ok;
	}
	return false;
}

bool pool_welcome_borrow(struct pool *p)
{
	for (struct pool *q = pool_next(NULL); q; q = pool_next(q))
		if (q != p && q->welcome && q->db == p->db && q->user == p->user)
			return pool_welcome_set(p, q->welcome, q->welcome_len, &q->welcome_params);
	return borrow_elsewhere(p);
}

void pool_counts_add(struct pool_counts *d, const struct pool_counts *s)
{
	d->server_assignments += s->server_assignments;
	d->xact_count += s->xact_count;
	d->query_count += s->query_count;
	d->received += s->received;
	d->sent += s->sent;
	d->xact_time_us += s->xact_time_us;
	d->query_time_us += s->query_time_us;
	d->wait_time_us += s->wait_time_us;
	d->client_parses += s->client_parses;
	d->server_parses += s->server_parses;
	d->binds += s->binds;
}

struct pool_counts pool_counts_of(const struct pool *p)
{
	return pool_counts_of_stats(&p->stats);
}

struct pool_counts pool_counts_of_stats(const struct pool_stats *st)
{
	return (struct pool_counts){.server_assignments = st->server_assignments,
	                            .xact_count = st->xact_count,
	                            .query_count = st->query_count,
	                            .received = st->received,
	                            .sent = st->sent,
	                            .xact_time_us = st->xact_time_us,
	                            .query_time_us = st->query_time_us,
	                            .wait_time_us = st->wait_time_us,
	                            .client_parses = st->client_parses,
	                            .server_parses = st->server_parses,
	                            .binds = st->binds};
}

void pool_stats_period(int64_t now_us, int64_t period_us)
{
	if (reg.period_new_us == 0) {
		/* the first call: the start of the first period */
		reg.period_old_us = reg.period_new_us = now_us;
		return;
	}
	if (period_us <= 0 || now_us - reg.period_new_us < period_us)
		return;
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		p->period_old = p->period_new;
		p->period_new = pool_counts_of(p);
	}
	reg.period_old_us = reg.period_new_us;
	reg.period_new_us = now_us;
}

void pool_stats_period_adopt(int64_t old_us, int64_t new_us)
{
	reg.period_old_us = old_us;
	reg.period_new_us = new_us;
}

void pool_stats_period_times(int64_t *old_us, int64_t *new_us)
{
	*old_us = reg.period_old_us;
	*new_us = reg.period_new_us;
}

/* pool/pool.h — databases, users, and pools of server connections (one per database ×
 * user × lane), with FIFO wait queues. Pure bookkeeping: no sockets. The proxy embeds
 * struct pool_server / struct pool_client in its connection objects and is called back
 * through struct pool_ops when a server must be opened or a waiting client got one. */
#ifndef PGLANE_POOL_POOL_H
#define PGLANE_POOL_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"
#include "config/userlist.h"
#include "pool/budget.h"
#include "pool/catalog.h"
#include "pool/list.h"
#include "pool/params.h"
#include "pool/reach.h"
#include "pool/session.h"
#include "pool/stats.h"
#include "pool/stmt.h"
#include "protocol/scram.h"

struct pool;

/* Why a pool with waiting clients opens no server although it is below its size: a server cap
 * of its database or of its user is reached (SHOW POOLS held_by). */
enum pool_held { POOL_HELD_NONE, POOL_HELD_DB, POOL_HELD_USER };

enum pool_server_state {
	POOL_SERVER_LOGIN,  /* connecting and authenticating */
	POOL_SERVER_IDLE,   /* in the pool, ready */
	POOL_SERVER_ACTIVE, /* linked to a client */
	POOL_SERVER_BUSY,   /* pglane's own work: reset, rollback, drain, check */
};

struct pool_server {
	struct pool_list link; /* in the pool's list for `state` */
	struct pool *pool;     /* borrowed */
	enum pool_server_state state;
	struct pool_client *client; /* borrowed; set while ACTIVE */
	int64_t created_ms;
	int64_t state_since_ms;
	bool close_on_release; /* lifetime over, RECONNECT, or unsure state */
	bool tested; /* BUSY with server_check_query before it is handed out (sv_tested) */
	struct pool_params params;            /* the reported values it has now */
	const struct pool_settings *settings; /* owned: the session settings its backend holds */
	int32_t be_pid;
	int32_t be_key;
};

struct pool_client {
	struct pool_list link;       /* in the pool's wait queue while waiting */
	struct pool *pool;           /* borrowed; NULL before login picked one */
	struct pool_server *server;  /* borrowed; set while linked */
	int64_t wait_start_ms;       /* 0 when not waiting */
	int64_t last_wait_ms;        /* how long it waited for its current server */
	struct pool_params params;   /* the reported values as the client knows them */
	struct pool_session session; /* its settings and pins (pool/session.h) */
};

struct pool_user {
	struct pool_user *next;
	char name[CFG_NAME_MAX];
	/* SCRAM pass-through: keys recovered from a client's proof */
	bool have_scram_keys;
	uint8_t client_key[PROTO_SCRAM_KEY_LEN];
	uint8_t server_key[PROTO_SCRAM_KEY_LEN];
	/* a plain password's SCRAM secret, derived once (salt and iterations fixed) */
	bool have_derived;
	char derived_from[512];
	struct proto_scram_secret derived;
	/* a user missing from the auth file: the secret its last auth_query look-up returned
	 * ("" = none), for its servers' logins */
	char auth_secret[512];
	int n_servers; /* its server connections in every pool, any state, on this worker */
	int n_clients; /* its logged-in clients, every database, on this worker */
	struct pool_budget *budget; /* every worker's counts (max_user_connections, ...) */
};

struct pool_db {
	struct pool_db *next;
	char name[CFG_NAME_MAX];        /* as the client asked */
	const struct cfg_database *cfg; /* borrowed from the current config */
	bool paused;
	bool disabled;                /* DISABLE: new clients are refused (ENABLE lifts it) */
	struct pool_catalog *catalog; /* owned: its servers' settings, NULL until read */
	int n_servers; /* server connections of every user and lane, any state, on this worker
	                */
	int n_clients; /* logged-in clients of every user and lane, on this worker */
	struct pool_budget *budget; /* every worker's counts (max_db_connections, ...) */
};

struct pool_stats {
	uint64_t xact_count;
	uint64_t query_count;
	uint64_t received; /* bytes from clients */
	uint64_t sent;     /* bytes to clients */
	uint64_t xact_time_us;
	uint64_t query_time_us;
	uint64_t wait_time_us;
	/* clients given a server (PgBouncer's server_assignment_count) */
	uint64_t server_assignments;
	/* named prepared statements (max_prepared_statements > 0): Parse from clients, Parse
	 * pglane sent to servers, Bind of them (PgBouncer's ps_client_parse_count, ...) */
	uint64_t client_parses, server_parses, binds;
	uint64_t server_connects;
	uint64_t server_connect_failures;
	uint64_t slow_queries;
	uint64_t statement_timeouts;
	struct pool_hist wait_hist;  /* microseconds a client waited for a server */
	struct pool_hist query_hist; /* microseconds a statement ran */
};

/* The counters SHOW STATS averages over a stats_period. */
struct pool_counts {
	uint64_t server_assignments, xact_count, query_count, received, sent;
	uint64_t xact_time_us, query_time_us, wait_time_us;
	uint64_t client_parses, server_parses, binds;
};

struct pool {
	struct pool *next_hash;
	struct pool_list all; /* in the global list of pools */
	struct pool_db *db;
	struct pool_user *user;
	enum cfg_lane_kind lane;
	/* What it runs with: the lane's settings with its user's overrides (cfg_pool_resolve);
	 * strings borrowed from the current config, re-resolved on reload. */
	struct cfg_pool settings;
	struct pool_list login, idle, active, busy; /* servers by state */
	struct pool_list waiting;                   /* clients, FIFO */
	int n_login, n_idle, n_active, n_busy, n_waiting;
	int n_tested;     /* of the busy ones, those being checked (server_check_query) */
	bool kick_wanted; /* pool_kick_later(): serve its waiting clients after this iteration */
	int n_clients;    /* clients logged in to this pool */
	int n_pinned;     /* of those, pinned to their server (pool/session.h pins) */
	enum pool_held held_by; /* set by pool_fill while a server cap keeps waiting clients */
	/* welcome: ParameterStatus messages of the first server login, raw */
	uint8_t *welcome; /* owned */
	size_t welcome_len;
	struct pool_params welcome_params; /* the tracked values in it */
	struct pool_stmt_cache *known;     /* owned; statements that parsed on its servers */
	int olap_target;         /* where its servers go: replica index, -1 primary, -2 nowhere */
	struct pool_reach reach; /* its server state and login back-off (pool/reach.h) */
	struct pool_stats stats;
	/* the counters at the last two stats_period boundaries (pool_stats_period) */
	struct pool_counts period_old, period_new;
	struct pool_budget *budget; /* every worker's servers of this pool (size) */
	/* hand-offs between workers (pool.c): when the others' waits were last compared (and
	 * to whom a server was owed then), when this worker last published its longest wait,
	 * and when it last handed a server over while its own clients waited */
	int64_t owed_checked_ms, published_ms, handed_ms;
	int owed_to;
	int64_t recheck_ms; /* idle servers kept from a wanting worker: look again then (0: no) */
	bool kick_others;   /* ... and then wake the other workers if this one still wants */
	int64_t view_oldest_wait_ms; /* a merged view's (pool/view.c) oldest waiting client */
};

struct pool_ops {
	/* Open a new server connection for `p` (it calls pool_server_add()). */
	void (*server_launch)(struct pool *p);
	/* A waiting client got a server (now linked: c->server == s, s->client == c). */
	void (*client_assigned)(struct pool_client *c, struct pool_server *s);
	/* Run server_check_query on `s` (BUSY, tested): when it answered well the proxy calls
	 * pool_server_ready(), else it closes the server. */
	void (*server_check)(struct pool_server *s);
	/* Close idle server `s` now (pool_server_remove() before returning): a pool of the same
	 * database or user needs its place under server cap `cap` ("max_db_connections"...). */
	void (*server_evict)(struct pool_server *s, const char *cap);
	/* Idle server `s` is about to be handed out: first handle what it said since (may be
	 * NULL; may close it, pool_server_remove() before returning). */
	void (*server_settle)(struct pool_server *s);
	/* Wake the workers in `mask` (bit w: worker w): a server place they want was given
	 * back, or another worker now wants one of theirs (NULL with one worker). */
	void (*workers_kick)(uint64_t mask);
	/* Give idle server `s` to worker `to`, whose clients want one (pool_server_detach()
	 * before returning); false when it cannot travel (then it is evicted). NULL: never. */
	bool (*server_handoff)(struct pool_server *s, unsigned to);
	/* Call pool_recheck() on this worker's pools at `at_ms` (NULL: never needed). */
	void (*wake_at)(int64_t at_ms);
};

/* Set the callbacks (once at start). */
void pool_setup(const struct pool_ops *ops);
/* Free every pool, database and user (servers and clients must be gone). */
void pool_shutdown(void);

/* The pool for database `dbname` as the client named it, `user` and `lane`, created on
 * first use; NULL when the config has no entry for the database, or out of memory. */
struct pool *pool_get(const struct cfg *cfg, const char *dbname, const char *user,
                      enum cfg_lane_kind lane);
/* The lane settings of a pool (replicas, lag); its pool settings are pool_cfg(). */
const struct cfg_lane *pool_lane_cfg(const struct pool *p);
/* The pool settings a pool runs with (user > lane > database > global). */
static inline const struct cfg_pool *pool_cfg(const struct pool *p)
{
	return &p->settings;
}
/* The user record for `name`, created on first use (NULL: out of memory). */
struct pool_user *pool_user_get(const char *name);
/* The user record for `name` if there is one (never created). */
struct pool_user *pool_user_find(const char *name);
/* Take the counters of every pool at a stats_period boundary once `period_us` has passed
 * since the last one (called often; cheap when no boundary is due). */
void pool_stats_period(int64_t now_us, int64_t period_us);
/* Take `old_us` and `new_us` as the last two boundaries (a merged view: pool/view.h). */
void pool_stats_period_adopt(int64_t old_us, int64_t new_us);
/* The monotonic times of the last two boundaries (0 before the first). */
void pool_stats_period_times(int64_t *old_us, int64_t *new_us);
/* The counters of `p` now. */
struct pool_counts pool_counts_of(const struct pool *p);
/* Add `s` to `d` (sums over pools or workers). */
void pool_counts_add(struct pool_counts *d, const struct pool_counts *s);
/* The same counters from a stats snapshot. */
struct pool_counts pool_counts_of_stats(const struct pool_stats *st);
/* Iterate every pool: first with NULL, then with the previous one; NULL at the end. */
struct pool *pool_next(struct pool *prev);
/* Point every database at the entry of `cfg` and re-resolve every pool's settings (after a
 * reload). */
void pool_config_changed(const struct cfg *cfg);

/* The database record for `name`, created on first use; NULL when the config has no entry
 * for it. */
struct pool_db *pool_db_get(const struct cfg *cfg, const char *name);
/* The settings catalog of a database: its own, or a copy of one another worker's server
 * read (NULL when no server of it has logged in yet). */
const struct pool_catalog *pool_db_catalog(struct pool_db *d);
/* Iterate every database record (NULL first). */
struct pool_db *pool_db_next(struct pool_db *prev);
/* Iterate every user record (NULL first). */
struct pool_user *pool_user_next(struct pool_user *prev);
/* PAUSE of every database, including those not seen yet. */
void pool_set_pause_all(bool on);
/* Is every database paused (PAUSE without a name)? */
bool pool_pause_all(void);
/* Give idle servers to waiting clients (after RESUME, a failed check) and launch more for
 * the rest. */
void pool_kick(struct pool *p, int64_t now_ms);
/* pool_kick() `p` from pool_run_kicks(), outside the current call chain. */
void pool_kick_later(struct pool *p);
/* Kick the pools asked for with pool_kick_later() (after the loop's callbacks). */
void pool_run_kicks(int64_t now_ms);
/* Kick `p` when the look at its idle servers that it put off (another worker wanted them,
 * its clients' waits still short) is due; else lower *next_ms to when it is (0: none yet). */
void pool_recheck(struct pool *p, int64_t now_ms, int64_t *next_ms);

/* When the longest-waiting client of `p` began to wait (0: none waits). */
int64_t pool_oldest_wait_ms(const struct pool *p);
/* Total servers of a pool in any state. */
int pool_server_count(const struct pool *p);

/* A server for client `c` (linked, ACTIVE) or NULL: then `c` waits in the FIFO queue and a
 * new server is launched when the pool is below its size. Idle servers are taken LIFO (the
 * most recently used) or, with server_round_robin, FIFO; one idle longer than
 * server_check_delay is checked first (pool_ops.server_check) while the client waits. */
struct pool_server *pool_acquire(struct pool *p, struct pool_client *c, int64_t now_ms);
/* Take a waiting client out of the queue (gave up, timed out or closed). */
void pool_client_unwait(struct pool_client *c, int64_t now_ms);
/* Take idle server `s` out of its pool to give it to another worker: its place in the
 * budget goes with it (pool_server_adopt() there). */
void pool_server_detach(struct pool_server *s);
/* A server another worker detached joins `p` (its budget place counted already) and goes to
 * the first waiting client, or idle; or (not `ready`) stays BUSY with pglane's own work. */
void pool_server_adopt(struct pool *p, struct pool_server *s, bool ready, int64_t now_ms);
/* A new server connection is starting (state LOGIN). */
void pool_server_add(struct pool *p, struct pool_server *s, int64_t now_ms);
/* A server is ready: its login finished or its work is done. It goes to the first waiting
 * client (callback), else idle. A linked client is unlinked first. */
void pool_server_ready(struct pool_server *s, int64_t now_ms);
/* The server does pglane's own work (unlinked from any client). */
void pool_server_busy(struct pool_server *s, int64_t now_ms);
/* The server is going away: out of every list (and unlinked from its client). */
void pool_server_remove(struct pool_server *s);
/* Launch servers for waiting clients (after a failure back-off, or a size change), up to the
 * pool's size (one at a time, a probe, while its server is not up: p->reach), or
 * size + reserve_pool_size once its first waiting client has waited
 * reserve_pool_timeout; within max_db_connections and max_user_connections, closing an idle
 * server of another pool of the same database (user) to make room; else the pool is held
 * (p->held_by). Then up to min_size (no eviction for that). */
void pool_fill(struct pool *p, int64_t now_ms);
/* A server of `p` went away (after pool_server_remove): fill `p`, then the pools its database's
 * or user's cap held back. */
void pool_server_gone(struct pool *p, int64_t now_ms);
/* "max_db_client_connections" or "max_user_client_connections" when one more client of `p`'s
 * database or user would exceed that cap (pool_cfg(p)); NULL when it may log in. */
const char *pool_client_cap_reached(const struct pool *p);
/* A client logged in to `p` (counted in the pool, its database and its user) / left it. */
void pool_client_join(struct pool *p);
void pool_client_leave(struct pool *p);
/* "max_db_connections", "max_user_connections" or "". */
const char *pool_held_name(enum pool_held h);

/* A statement parsed on a server of `p`: remember it (least recently used forgotten first). */
void pool_stmt_known(struct pool *p, struct pool_stmt *s);
/* Did `s` parse on a server of `p`? */
bool pool_stmt_is_known(struct pool *p, const struct pool_stmt *s);

/* Keep the ParameterStatus messages of a server login as the pool's welcome, with the
 * tracked values of `params`. */
bool pool_welcome_set(struct pool *p, const uint8_t *msgs, size_t len,
                      const struct pool_params *params);
/* A pool without a welcome takes a copy of the welcome of another lane's pool of the same
 * database and user, when one has it: false when none has (or out of memory). */
bool pool_welcome_borrow(struct pool *p);

#endif

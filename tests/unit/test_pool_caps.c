/* tests/unit/test_pool_caps.c — pool/pool: the launch rules under the server caps
 * (max_db_connections over every user and lane of a database, max_user_connections over every
 * database and lane of a user, logins counted), eviction of another pool's idle server to make
 * room, launching for a held pool when a server goes away, the reserve pool after
 * reserve_pool_timeout, the client caps and per-user settings. The pool_ops here record what the
 * pool asked for; nothing is opened. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"

#define MAX_SERVERS 64
#define MAX_CLIENTS 64

static struct pool_server *servers[MAX_SERVERS];
static int nservers;  /* launched so far */
static int nevicted;  /* closed to make room */
static int nassigned; /* waiting clients that got a server */
static const char *last_evict_cap;
static struct pool_client clients[MAX_CLIENTS];
static int nclients;
static struct cfg *cfg;

/* Times in the tests count from BASE: a wait_start_ms of 0 means "not waiting". */
#define BASE 1000000

static void fake_launch(struct pool *p)
{
	cr_assert_lt(nservers, MAX_SERVERS);
	struct pool_server *s = calloc(1, sizeof(*s));
	cr_assert_not_null(s);
	pool_params_init(&s->params);
	pool_server_add(p, s, 0);
	servers[nservers++] = s;
}

static void fake_assigned(struct pool_client *c, struct pool_server *s)
{
	(void)c;
	(void)s;
	nassigned++;
}

static void fake_evict(struct pool_server *s, const char *cap)
{
	cr_assert_eq(s->state, POOL_SERVER_IDLE, "only idle servers are evicted");
	last_evict_cap = cap;
	nevicted++;
	pool_server_remove(s);
}

static const struct pool_ops ops = {
        .server_launch = fake_launch,
        .client_assigned = fake_assigned,
        .server_evict = fake_evict,
};

static void setup(void)
{
	struct cfg_errors errs = {0};
	cfg = cfg_load(NULL, &errs);
	cr_assert_not_null(cfg);
	cfg->databases[0].lanes[CFG_LANE_OLAP].enabled = true; /* the "*" entry: both lanes */
	pool_setup(&ops);
	nservers = nevicted = nassigned = nclients = 0;
	memset(clients, 0, sizeof(clients));
}

static void teardown(void)
{
	for (int i = 0; i < nservers; i++) {
		pool_server_remove(servers[i]);
		free(servers[i]);
	}
	pool_shutdown();
	cfg_free(cfg);
}

/* Set a pool key in every lane of every database (as a `pool` or database key would). */
#define SET_ALL(field, v)                                                                          \
	do {                                                                                       \
		for (size_t i_ = 0; i_ < cfg->ndatabases; i_++)                                    \
			for (int k_ = 0; k_ < CFG_LANE_COUNT; k_++)                                \
				cfg->databases[i_].lanes[k_].pool.field = (v);                     \
		cfg->pool.field = (v);                                                             \
	} while (0)

/* A `users` entry for `name` overriding the keys in `set`, from `pool` values. */
static void add_user(const char *name, uint32_t set, const struct cfg_pool *pool)
{
	struct cfg_user_settings *u = realloc(cfg->users, (cfg->nusers + 1) * sizeof(*u));
	cr_assert_not_null(u);
	cfg->users = u;
	u = &cfg->users[cfg->nusers++];
	memset(u, 0, sizeof(*u));
	u->name = strdup(name);
	u->pool = *pool;
	u->pool.server_reset_query = NULL;
	u->pool.server_check_query = NULL;
	u->pool.track_parameters = NULL;
	u->pool.ignore_startup_parameters = NULL;
	u->set = set;
}

static struct pool *get(const char *db, const char *user, enum cfg_lane_kind lane)
{
	struct pool *p = pool_get(cfg, db, user, lane);
	cr_assert_not_null(p);
	return p;
}

/* A new client of `p` asks for a server at `now`; the server it got, or NULL (it waits). */
static struct pool_server *ask(struct pool *p, int64_t now)
{
	cr_assert_lt(nclients, MAX_CLIENTS);
	struct pool_client *c = &clients[nclients++];
	c->pool = p;
	pool_client_join(p);
	return pool_acquire(p, c, BASE + now);
}

/* Every server of `p` in state LOGIN finishes its login (goes to a waiting client, or idle). */
static void logins_done(struct pool *p, int64_t now)
{
	while (!pool_list_empty(&p->login))
		pool_server_ready(
		        pool_container_of(pool_list_first(&p->login), struct pool_server, link),
		        BASE + now);
}

/* Every server linked to a client is released (transaction over); idle unless a client waits. */
static void release_all(struct pool *p, int64_t now)
{
	while (!pool_list_empty(&p->active))
		pool_server_ready(
		        pool_container_of(pool_list_first(&p->active), struct pool_server, link),
		        BASE + now);
}

static void fill(struct pool *p, int64_t now)
{
	pool_fill(p, BASE + now);
}

TestSuite(pool_caps, .init = setup, .fini = teardown);

Test(pool_caps, no_caps_each_pool_launches_up_to_its_size)
{
	SET_ALL(size, 2);
	struct pool *a = get("db", "alice", CFG_LANE_OLTP), *b = get("db", "bob", CFG_LANE_OLTP);
	for (int i = 0; i < 4; i++) {
		cr_assert_null(ask(a, 0));
		cr_assert_null(ask(b, 0));
	}
	cr_expect_eq(a->n_login, 2);
	cr_expect_eq(b->n_login, 2);
	cr_expect_eq(a->db->n_servers, 4, "logins count for the database");
	cr_expect_eq(a->held_by, POOL_HELD_NONE, "a full pool is not held by a cap");
	cr_expect_str_eq(pool_held_name(a->held_by), "");
}

Test(pool_caps, max_db_connections_spans_users_and_lanes)
{
	SET_ALL(size, 10);
	SET_ALL(max_db_connections, 3);
	struct pool *ps[4] = {get("db", "alice", CFG_LANE_OLTP), get("db", "alice", CFG_LANE_OLAP),
	                      get("db", "bob", CFG_LANE_OLTP), get("db", "bob", CFG_LANE_OLAP)};
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 4; i++)
			cr_assert_null(ask(ps[i], 0));
	cr_expect_eq(nservers, 3, "launched %d servers, max_db_connections = 3", nservers);
	cr_expect_eq(ps[0]->db->n_servers, 3);
	int held = 0;
	for (int i = 0; i < 4; i++) {
		held += ps[i]->held_by == POOL_HELD_DB;
		if (ps[i]->held_by == POOL_HELD_DB)
			cr_expect_str_eq(pool_held_name(ps[i]->held_by), "max_db_connections");
	}
	cr_expect_geq(held, 1, "a pool with waiting clients and no server says it is held");
	/* another database is not affected */
	struct pool *other = get("other", "alice", CFG_LANE_OLTP);
	cr_assert_null(ask(other, 0));
	cr_expect_eq(other->n_login, 1);
	cr_expect_eq(other->held_by, POOL_HELD_NONE);
}

Test(pool_caps, max_db_connections_no_more_when_logins_finish)
{
	SET_ALL(size, 10);
	SET_ALL(max_db_connections, 2);
	struct pool *a = get("db", "alice", CFG_LANE_OLTP), *b = get("db", "bob", CFG_LANE_OLTP);
	for (int i = 0; i < 8; i++)
		cr_assert_null(ask(i % 2 ? a : b, 0));
	logins_done(a, 10);
	logins_done(b, 10);
	fill(a, 20);
	fill(b, 20);
	cr_expect_eq(a->db->n_servers, 2);
	cr_expect_eq(nservers, 2);
	cr_expect_eq(nassigned, 2, "the two servers went to waiting clients");
	cr_expect_eq(nevicted, 0, "no idle server to evict: all are active");
}

Test(pool_caps, held_pool_evicts_an_idle_server_of_another_pool)
{
	SET_ALL(size, 10);
	SET_ALL(max_db_connections, 2);
	struct pool *a = get("db", "alice", CFG_LANE_OLTP);
	struct pool *b = get("db", "bob", CFG_LANE_OLAP);
	cr_assert_null(ask(a, 0));
	cr_assert_null(ask(a, 0));
	logins_done(a, 10);
	release_all(a, 20); /* transactions over: both idle in alice's pool */
	cr_assert_eq(a->n_idle, 2);
	cr_assert_null(ask(b, 30));
	cr_expect_eq(nevicted, 1, "one idle server of alice's pool closed to make room");
	cr_expect_str_eq(last_evict_cap, "max_db_connections");
	cr_expect_eq(a->n_idle, 1);
	cr_expect_eq(b->n_login, 1, "bob's pool launched in its place");
	cr_expect_eq(b->held_by, POOL_HELD_NONE);
	cr_expect_eq(a->db->n_servers, 2);
}

Test(pool_caps, eviction_takes_the_longest_idle_server)
{
	SET_ALL(size, 10);
	SET_ALL(max_db_connections, 2);
	struct pool *a = get("db", "alice", CFG_LANE_OLTP), *c = get("db", "carol", CFG_LANE_OLTP);
	struct pool *b = get("db", "bob", CFG_LANE_OLTP);
	cr_assert_null(ask(a, 0));
	cr_assert_null(ask(c, 0));
	logins_done(c, 5);
	logins_done(a, 6);
	release_all(c, 100); /* carol's idle since 100 */
	release_all(a, 50);  /* alice's idle since 50: the longest */
	struct pool_server *alices =
	        pool_container_of(pool_list_first(&a->idle), struct pool_server, link);
	cr_assert_null(ask(b, 200));
	cr_expect_eq(nevicted, 1);
	cr_expect_null(alices->pool, "alice's server (idle longest) was the one closed");
	cr_expect_eq(c->n_idle, 1);
}

Test(pool_caps, held_pool_launches_when_a_server_of_its_database_goes_away)
{
	SET_ALL(size, 10);
	SET_ALL(max_db_connections, 2);
	struct pool *a = get("db", "alice", CFG_LANE_OLTP), *b = get("db", "bob", CFG_LANE_OLTP);
	cr_assert_null(ask(a, 0));
	cr_assert_null(ask(a, 0));
	logins_done(a, 10); /* both active: nothing to evict */
	cr_assert_null(ask(b, 20));
	cr_assert_eq(b->held_by, POOL_HELD_DB);
	cr_assert_eq(b->n_login, 0);
	struct pool_server *gone =
	        pool_container_of(pool_list_first(&a->active), struct pool_server, link);
	pool_server_remove(gone);
	pool_server_gone(a, BASE + 30);
	cr_expect_eq(b->n_login, 1, "bob's held pool launched when alice's server went away");
	cr_expect_eq(b->held_by, POOL_HELD_NONE);
	cr_expect_eq(a->db->n_servers, 2);
}

Test(pool_caps, max_user_connections_spans_databases_and_lanes)
{
	SET_ALL(size, 10);
	SET_ALL(max_user_connections, 2);
	struct pool *ps[3] = {get("x", "alice", CFG_LANE_OLTP), get("y", "alice", CFG_LANE_OLTP),
	                      get("y", "alice", CFG_LANE_OLAP)};
	for (int i = 0; i < 8; i++)
		cr_assert_null(ask(ps[i % 3], 0));
	cr_expect_eq(nservers, 2);
	cr_expect_eq(ps[0]->user->n_servers, 2);
	cr_expect_eq(ps[2]->held_by, POOL_HELD_USER);
	cr_expect_str_eq(pool_held_name(ps[2]->held_by), "max_user_connections");
	/* another user is not affected */
	struct pool *bob = get("x", "bob", CFG_LANE_OLTP);
	cr_assert_null(ask(bob, 0));
	cr_expect_eq(bob->n_login, 1);
	/* an idle server of alice's in another database makes room for her held pool */
	logins_done(ps[0], 10);
	logins_done(ps[1], 10);
	release_all(ps[0], 20);
	release_all(ps[1], 20);
	fill(ps[2], 30);
	cr_expect_eq(nevicted, 2, "both idle servers closed for its two waiting clients");
	cr_expect_str_eq(last_evict_cap, "max_user_connections");
	cr_expect_eq(ps[2]->n_login, 2);
	cr_expect_eq(ps[2]->held_by, POOL_HELD_NONE);
	cr_expect_eq(ps[0]->user->n_servers, 2);
}

Test(pool_caps, per_user_max_user_connections_override)
{
	SET_ALL(size, 10);
	SET_ALL(max_user_connections, 5);
	struct cfg_pool up = {0};
	up.max_user_connections = 1;
	add_user("alice", 1u << CFG_PK_MAX_USER_CONNECTIONS, &up);
	struct pool *a = get("db", "alice", CFG_LANE_OLTP), *b = get("db", "bob", CFG_LANE_OLTP);
	for (int i = 0; i < 4; i++) {
		cr_assert_null(ask(a, 0));
		cr_assert_null(ask(b, 0));
	}
	cr_expect_eq(a->n_login, 1, "alice's own cap of 1");
	cr_expect_eq(b->n_login, 4, "bob under the global cap of 5");
}

Test(pool_caps, min_size_stays_under_the_caps_and_evicts_nothing)
{
	SET_ALL(size, 10);
	SET_ALL(max_db_connections, 2);
	struct pool *a = get("db", "alice", CFG_LANE_OLTP);
	cr_assert_null(ask(a, 0));
	cr_assert_null(ask(a, 0));
	logins_done(a, 10);
	release_all(a, 20);
	SET_ALL(min_size, 3);
	pool_config_changed(cfg);
	struct pool *b = get("db", "bob", CFG_LANE_OLTP);
	fill(b, 30);
	fill(a, 30);
	cr_expect_eq(nevicted, 0);
	cr_expect_eq(a->db->n_servers, 2);
}

Test(pool_caps, reserve_pool_opens_only_after_the_timeout)
{
	SET_ALL(size, 2);
	SET_ALL(reserve_pool_size, 1);
	SET_ALL(reserve_pool_timeout_ms, 1000);
	struct pool *p = get("db", "alice", CFG_LANE_OLTP);
	for (int i = 0; i < 3; i++)
		cr_assert_null(ask(p, 0));
	logins_done(p, 10);
	cr_assert_eq(p->n_active, 2);
	cr_assert_eq(p->n_waiting, 1);
	fill(p, 500);
	fill(p, 999);
	cr_expect_eq(nservers, 2, "no reserve server before reserve_pool_timeout");
	fill(p, 1000);
	cr_expect_eq(nservers, 3, "the reserve server after reserve_pool_timeout");
	for (int i = 0; i < 3; i++)
		cr_assert_null(ask(p, 1100));
	fill(p, 5000);
	cr_expect_eq(nservers, 3, "never more than size + reserve_pool_size");
}

Test(pool_caps, reserve_pool_counts_from_the_oldest_waiting_client)
{
	SET_ALL(size, 1);
	SET_ALL(reserve_pool_size, 2);
	SET_ALL(reserve_pool_timeout_ms, 1000);
	struct pool *p = get("db", "alice", CFG_LANE_OLTP);
	cr_assert_null(ask(p, 0));
	logins_done(p, 1);
	cr_assert_null(ask(p, 800)); /* waits from 800 */
	fill(p, 1500);
	cr_expect_eq(nservers, 1, "the waiting client has waited 700 ms only");
	fill(p, 1800);
	cr_expect_eq(nservers, 2);
}

Test(pool_caps, reserve_pool_stays_under_the_caps)
{
	SET_ALL(size, 2);
	SET_ALL(reserve_pool_size, 3);
	SET_ALL(reserve_pool_timeout_ms, 1000);
	SET_ALL(max_db_connections, 2);
	struct pool *p = get("db", "alice", CFG_LANE_OLTP);
	for (int i = 0; i < 4; i++)
		cr_assert_null(ask(p, 0));
	logins_done(p, 10);
	fill(p, 2000);
	cr_expect_eq(nservers, 2);
	cr_expect_eq(p->held_by, POOL_HELD_DB, "over its size, the reserve is what the cap holds");
}

Test(pool_caps, reserve_pool_timeout_zero_turns_the_reserve_off)
{
	SET_ALL(size, 1);
	SET_ALL(reserve_pool_size, 2);
	SET_ALL(reserve_pool_timeout_ms, 0);
	struct pool *p = get("db", "alice", CFG_LANE_OLTP);
	cr_assert_null(ask(p, 0));
	cr_assert_null(ask(p, 0));
	fill(p, 100000);
	cr_expect_eq(nservers, 1);
}

Test(pool_caps, per_user_reserve_pool_size)
{
	SET_ALL(size, 1);
	SET_ALL(reserve_pool_timeout_ms, 100);
	struct cfg_pool up = {0};
	up.reserve_pool_size = 1;
	add_user("alice", 1u << CFG_PK_RESERVE_POOL_SIZE, &up);
	struct pool *a = get("db", "alice", CFG_LANE_OLTP), *b = get("db", "bob", CFG_LANE_OLTP);
	for (int i = 0; i < 3; i++) {
		cr_assert_null(ask(a, 0));
		cr_assert_null(ask(b, 0));
	}
	fill(a, 200);
	fill(b, 200);
	cr_expect_eq(pool_server_count(a), 2);
	cr_expect_eq(pool_server_count(b), 1);
}

Test(pool_caps, held_by_clears_when_no_client_waits)
{
	SET_ALL(size, 10);
	SET_ALL(max_db_connections, 1);
	struct pool *a = get("db", "alice", CFG_LANE_OLTP), *b = get("db", "bob", CFG_LANE_OLTP);
	cr_assert_null(ask(a, 0));
	cr_assert_null(ask(b, 0));
	cr_assert_eq(b->held_by, POOL_HELD_DB);
	pool_client_unwait(&clients[1], BASE + 10);
	cr_expect_eq(b->held_by, POOL_HELD_NONE);
}

Test(pool_caps, client_caps_count_every_user_lane_and_database)
{
	SET_ALL(max_db_client_connections, 3);
	SET_ALL(max_user_client_connections, 2);
	struct pool *a1 = get("db", "alice", CFG_LANE_OLTP),
	            *a2 = get("db", "alice", CFG_LANE_OLAP);
	struct pool *b = get("db", "bob", CFG_LANE_OLTP), *ax = get("x", "alice", CFG_LANE_OLTP);
	cr_expect_null(pool_client_cap_reached(a1));
	pool_client_join(a1);
	pool_client_join(a2);
	cr_expect_str_eq(pool_client_cap_reached(ax), "max_user_client_connections",
	                 "alice has 2 clients (another database, another lane)");
	cr_expect_null(pool_client_cap_reached(b));
	pool_client_join(b);
	cr_expect_str_eq(pool_client_cap_reached(b), "max_db_client_connections");
	pool_client_leave(a2);
	cr_expect_null(pool_client_cap_reached(b));
	cr_expect_null(pool_client_cap_reached(ax));
	cr_expect_eq(a1->db->n_clients, 2);
	cr_expect_eq(a1->user->n_clients, 1);
}

Test(pool_caps, per_user_client_cap_override)
{
	SET_ALL(max_user_client_connections, 1);
	struct cfg_pool up = {0};
	up.max_user_client_connections = 3;
	add_user("alice", 1u << CFG_PK_MAX_USER_CLIENT_CONNECTIONS, &up);
	struct pool *a = get("db", "alice", CFG_LANE_OLTP), *b = get("db", "bob", CFG_LANE_OLTP);
	pool_client_join(a);
	pool_client_join(b);
	cr_expect_null(pool_client_cap_reached(a), "alice may have 3");
	cr_expect_str_eq(pool_client_cap_reached(b), "max_user_client_connections");
}

Test(pool_caps, per_user_pool_mode_and_timeouts)
{
	SET_ALL(statement_timeout_ms, 2000);
	struct cfg_pool up = {0};
	up.mode = CFG_POOL_SESSION;
	up.statement_timeout_ms = 300;
	up.client_idle_timeout_ms = 700;
	add_user("alice",
	         (1u << CFG_PK_MODE) | (1u << CFG_PK_STATEMENT_TIMEOUT) |
	                 (1u << CFG_PK_CLIENT_IDLE_TIMEOUT),
	         &up);
	struct pool *a = get("db", "alice", CFG_LANE_OLTP), *b = get("db", "bob", CFG_LANE_OLTP);
	cr_expect_eq(pool_cfg(a)->mode, CFG_POOL_SESSION);
	cr_expect_eq(pool_cfg(b)->mode, CFG_POOL_TRANSACTION);
	cr_expect_eq(pool_cfg(a)->statement_timeout_ms, 300);
	cr_expect_eq(pool_cfg(b)->statement_timeout_ms, 2000);
	cr_expect_eq(pool_cfg(a)->client_idle_timeout_ms, 700);
	cr_expect_eq(pool_cfg(b)->client_idle_timeout_ms, 0);
}

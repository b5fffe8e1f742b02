/* tests/unit/test_pool.c — pool/pool: which idle server a client gets (LIFO, or FIFO with
 * server_round_robin), the check of a server idle longer than server_check_delay (the client
 * waits for it, no server is launched for a client a check will serve, a failed check serves
 * the client with another server), the back-off of server_login_retry, and one login at a
 * time (a probe) while the pool's server is not up. The proxy is
 * played by callbacks that record what the pool asks of it. */
#include <criterion/criterion.h>
#include <string.h>

#include "config/cfg.h"
#include "pool/pool.h"

#define NSERVERS 8

static struct pool_server servers[NSERVERS];
static int nservers;
static int launches;
static struct pool_server *checked[NSERVERS];
static int nchecks;
static struct pool_client *assigned_client;
static struct pool_server *assigned_server;
static int64_t now_ms;

static void launch(struct pool *p)
{
	launches++;
	cr_assert_lt(nservers, NSERVERS);
	pool_server_add(p, &servers[nservers++], now_ms);
}

static void assigned(struct pool_client *c, struct pool_server *s)
{
	assigned_client = c;
	assigned_server = s;
}

static void check(struct pool_server *s)
{
	cr_assert(s->tested);
	cr_assert_eq(s->state, POOL_SERVER_BUSY);
	checked[nchecks++] = s;
}

static const struct pool_ops ops = {
        .server_launch = launch, .client_assigned = assigned, .server_check = check};

static struct cfg *cfg;

/* A pool of the built-in config's "*" database; `n` servers logged in and made idle one
 * after another (servers[0] first, 10 ms apart). */
static struct pool *setup(int n)
{
	struct cfg_errors errs;
	cfg = cfg_load(NULL, &errs);
	cr_assert(cfg);
	pool_setup(&ops);
	struct pool *p = pool_get(cfg, "app", "alice", CFG_LANE_OLTP);
	cr_assert(p);
	p->settings.size = 4;
	p->settings.server_check_delay_ms = 1000;
	for (int i = 0; i < n; i++) {
		now_ms += 10;
		launch(p);
		pool_server_ready(&servers[i], now_ms);
	}
	cr_assert_eq(p->n_idle, n);
	launches = 0;
	return p;
}

static void teardown(void)
{
	for (int i = 0; i < nservers; i++)
		pool_server_remove(&servers[i]);
	pool_shutdown();
	cfg_free(cfg);
}

Test(pool, lifo_hands_out_the_last_used_server)
{
	struct pool *p = setup(3);
	struct pool_client c = {.pool = p};
	for (int k = 0; k < 3; k++) {
		now_ms += 10;
		struct pool_server *s = pool_acquire(p, &c, now_ms);
		cr_assert_eq(s, &servers[2], "turn %d", k);
		pool_server_ready(s, now_ms);
	}
	cr_assert_eq(nchecks, 0);
	teardown();
}

Test(pool, round_robin_hands_out_the_longest_idle_server)
{
	struct pool *p = setup(3);
	p->settings.server_round_robin = true;
	struct pool_client c = {.pool = p};
	for (int k = 0; k < 6; k++) {
		now_ms += 10;
		struct pool_server *s = pool_acquire(p, &c, now_ms);
		cr_assert_eq(s, &servers[k % 3], "turn %d", k);
		pool_server_ready(s, now_ms);
	}
	teardown();
}

Test(pool, server_idle_past_the_delay_is_checked_first)
{
	struct pool *p = setup(2);
	struct pool_client c = {.pool = p};
	now_ms += 999 - 10; /* servers[1] idle 999 ms: no check */
	struct pool_server *s = pool_acquire(p, &c, now_ms);
	cr_assert_eq(s, &servers[1]);
	pool_server_ready(s, now_ms);
	now_ms += 1000;
	cr_assert_null(pool_acquire(p, &c, now_ms), "a server past the delay went unchecked");
	cr_assert_eq(nchecks, 1);
	cr_assert_eq(checked[0], &servers[1], "the check is on the server LIFO picks");
	cr_assert_eq(p->n_tested, 1);
	cr_assert_eq(p->n_waiting, 1);
	cr_assert_eq(p->n_idle, 1, "only one check for one client");
	cr_assert_eq(launches, 0, "a server was launched for a client a check serves");
	pool_server_ready(&servers[1], now_ms); /* the check answered */
	cr_assert_eq(assigned_client, &c);
	cr_assert_eq(assigned_server, &servers[1]);
	cr_assert_eq(p->n_tested, 0);
	cr_assert_not(servers[1].tested);
	cr_assert_eq(p->n_waiting, 0);
	teardown();
}

Test(pool, failed_check_serves_the_client_with_another_server)
{
	struct pool *p = setup(2);
	struct pool_client c = {.pool = p};
	now_ms += 2000;
	cr_assert_null(pool_acquire(p, &c, now_ms));
	cr_assert_eq(nchecks, 1);
	pool_server_remove(checked[0]); /* the check failed: closed */
	cr_assert_eq(p->n_tested, 0);
	pool_kick(p, now_ms);
	cr_assert_eq(nchecks, 2, "the other idle server was not checked");
	cr_assert_eq(checked[1], &servers[0]);
	pool_server_remove(checked[1]);
	pool_kick(p, now_ms);
	cr_assert_eq(launches, 1, "no new server for the client");
	pool_server_ready(&servers[2], now_ms); /* its login finished */
	cr_assert_eq(assigned_client, &c);
	cr_assert_eq(assigned_server, &servers[2]);
	teardown();
}

Test(pool, check_delay_zero_checks_every_time)
{
	struct pool *p = setup(1);
	p->settings.server_check_delay_ms = 0;
	struct pool_client c = {.pool = p};
	cr_assert_null(pool_acquire(p, &c, now_ms));
	cr_assert_eq(nchecks, 1);
	teardown();
}

Test(pool, login_retry_holds_back_launches)
{
	struct pool *p = setup(0);
	p->settings.server_login_retry_ms = 2000;
	now_ms += 5000;
	pool_reach_failed(&p->reach, false, false, "password authentication failed", 2000, 0,
	                  now_ms);
	struct pool_client c = {.pool = p};
	cr_assert_null(pool_acquire(p, &c, now_ms + 1999));
	cr_assert_eq(launches, 0, "a login was tried before server_login_retry");
	pool_fill(p, now_ms + 2000);
	cr_assert_eq(launches, 1);
	teardown();
}

Test(pool, retrying_pool_probes_with_one_login)
{
	struct pool *p = setup(0);
	p->settings.server_login_retry_ms = 1000;
	now_ms += 5000;
	pool_reach_failed(&p->reach, true, false, "the database system is starting up", 1000, 0,
	                  now_ms);
	cr_assert_eq(p->reach.state, POOL_REACH_RETRYING);
	struct pool_client c[3] = {{.pool = p}, {.pool = p}, {.pool = p}};
	for (int i = 0; i < 3; i++)
		cr_assert_null(pool_acquire(p, &c[i], now_ms + 10));
	cr_assert_eq(launches, 0, "a login within the first back-off (50 ms)");
	pool_fill(p, now_ms + POOL_REACH_FIRST_DELAY_MS);
	cr_assert_eq(launches, 1, "one probe for three waiting clients, not %d", launches);
	pool_fill(p, now_ms + 500);
	cr_assert_eq(launches, 1, "a second login while the probe is under way");
	/* the probe logs in: the pool is up and fills for the other waiting clients at once */
	pool_reach_ok(&p->reach, now_ms + 600);
	pool_server_ready(&servers[0], now_ms + 600);
	cr_assert_eq(assigned_client, &c[0]);
	pool_fill(p, now_ms + 600);
	cr_assert_eq(launches, 3, "servers for the two clients still waiting: %d", launches);
	teardown();
}

/* tests/integration/test_workers_full.c — workers = 2 when PostgreSQL, not pglane, is full:
 * pglane's server role may have 2 connections (CONNECTION LIMIT) while the pool's size is 10.
 * One worker's clients hold both; a client on the other worker waits, its worker's logins
 * fail with 53300 and are retried. Once the first worker's servers are idle they must go to
 * the waiting worker (they are wanted there while its logins fail): the waiter is answered
 * at once, not after query_wait_timeout. Then clients of the two workers take turns, each
 * turn moving the servers across, never more than 2 backends. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>

#include "tests/integration/harness.h"
#include "tests/integration/wclients.h"

#define WF_ROLE  "w_full"
#define WF_PW    "w_full_pw"
#define WF_LIMIT 2 /* connections the role may have (in the SQL below too) */
#define WF_N     6 /* clients: one worker has at least WF_LIMIT of them */

static void fini(void)
{
	it_pglane_fini(); /* its servers hold the role */
	it_drop_role(WF_ROLE);
}

TestSuite(workers_full, .fini = fini, .timeout = 60);

static int role_backends(PGconn *admin)
{
	return (int)it_query_ll(
	        admin, "SELECT count(*) FROM pg_stat_activity WHERE usename = '" WF_ROLE "'");
}

/* Wait for the query sent on `c` (at most `ms`): the milliseconds it took, or -1. */
static int wait_answer(PGconn *c, int ms)
{
	int64_t t0 = it_now_ms();
	while (!wclients_finished(c)) {
		if (it_now_ms() - t0 >= ms)
			return -1;
		it_sleep_ms(2);
	}
	return (int)(it_now_ms() - t0);
}

IT_TEST(workers_full, idle_servers_go_where_logins_fail)
{
	PGconn *su = it_connect_admin();
	it_drop_role(WF_ROLE);
	it_exec_ok(su, "CREATE ROLE " WF_ROLE " LOGIN PASSWORD '" WF_PW "' CONNECTION LIMIT 2");
	it_pglane_start_with_users(
	        "workers = 2;\n"
	        "auth = { type = \"trust\"; file = \"users.txt\"; };\n"
	        "admin = { users = [ \"admin\" ]; };\n"
	        "pool = { mode = \"transaction\"; size = 10; query_wait_timeout = \"10s\"; };\n"
	        "databases = ( { name = \"full\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"
	        "                dbname = \"postgres\"; user = \"" WF_ROLE "\"; password = \"" WF_PW
	        "\"; } );\n",
	        "");
	PGconn *c[WF_N], *on[2][WF_N];
	int k[2] = {0, 0};
	wclients_connect_both(c, WF_N, "postgres", NULL, "full");
	for (int i = 0; i < WF_N; i++) {
		unsigned w = wclients_worker_of(c[i]);
		on[w][k[w]++] = c[i];
	}
	int hw = k[0] >= WF_LIMIT ? 0 : 1; /* the worker whose clients hold both slots */
	PGconn *waiter = on[!hw][0];

	for (int i = 0; i < WF_LIMIT; i++) {
		it_exec_ok(on[hw][i], "BEGIN");
		it_exec_ok(on[hw][i], "SELECT 1");
	}
	cr_assert_eq(role_backends(su), WF_LIMIT);
	cr_assert(PQsendQuery(waiter, "SELECT 1"), "%s", PQerrorMessage(waiter));
	it_sleep_ms(300);
	cr_expect(!wclients_finished(waiter), "answered while PostgreSQL refused a third server");
	int failed = it_log_count("server login failed");
	cr_expect_geq(failed, 1, "worker %d did not try to log in", !hw);

	for (int i = 0; i < WF_LIMIT; i++)
		it_exec_ok(on[hw][i], "COMMIT");
	int took = wait_answer(waiter, 5000);
	cr_log_info("role limit %d, pool size 10: the other worker's client answered %d ms after "
	            "the COMMITs (%d failed logins while it waited)",
	            WF_LIMIT, took, failed);
	cr_assert_geq(took, 0, "the waiter was not answered within 5 s of the COMMITs");
	cr_expect_lt(took, 1000, "the waiter was answered %d ms after the COMMITs", took);
	wclients_drain_ok(waiter, "the waiter's SELECT 1");

	/* turns: each worker's client in turn, its servers on the other worker */
	int max_ms = 0, max_backends = 0;
	for (int turn = 0; turn < 20; turn++) {
		PGconn *t = on[turn % 2 ? hw : !hw][turn / 2 % (turn % 2 ? k[hw] : k[!hw])];
		cr_assert(PQsendQuery(t, "BEGIN; SELECT 1; COMMIT"), "%s", PQerrorMessage(t));
		int ms = wait_answer(t, 5000);
		cr_assert_geq(ms, 0, "turn %d: not answered within 5 s", turn);
		wclients_drain_ok(t, "a turn");
		max_ms = ms > max_ms ? ms : max_ms;
		int b = role_backends(su);
		max_backends = b > max_backends ? b : max_backends;
	}
	cr_log_info("20 turns between the workers: the longest %d ms, at most %d backends", max_ms,
	            max_backends);
	cr_expect_lt(max_ms, 1000, "a turn took %d ms", max_ms);
	cr_expect_leq(max_backends, WF_LIMIT);
	for (int i = 0; i < WF_N; i++)
		PQfinish(c[i]);
	PQfinish(su);
}

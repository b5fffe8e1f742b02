/* tests/integration/test_server_check.c — server_check_query / server_check_delay (issue 15):
 * an idle server past the delay is checked before a client gets it (seen in SHOW POOLS
 * sv_tested while a slow check runs, and not before the delay); servers killed while idle,
 * a server whose backend is stopped (the check times out) and a server whose check query
 * fails never reach a client: 0 client errors, the client served by another server. And
 * server_round_robin: idle servers handed out oldest first (the backends cycle) where the
 * default LIFO repeats one. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"

TestSuite(server_check, .fini = it_pglane_fini, .timeout = 90);

/* pglane, auth trust, admin console, database postgres; `pool` holds the extra pool keys. */
/* `top`: more top-level settings ("" none). */
static void start_pool_on(int size, const char *pool, const char *top)
{
	char conf[2048];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "admin = { users = [ \"admin\" ]; };\n"
	         "pool = { mode = \"transaction\"; size = %d; %s };\n"
	         "databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; } );\n"
	         "%s",
	         size, pool ? pool : "", top);
	it_pglane_start(conf);
}

static void start_pool(int size, const char *pool)
{
	start_pool_on(size, pool, "");
}

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static long long backend_pid(PGconn *c)
{
	return it_query_ll(c, "SELECT pg_backend_pid()");
}

/* Make `n` servers exist: n clients in a transaction at once, committed in order (so the
 * first client's server is the longest idle). Their pids go to pids[] (may be NULL). */
static void open_servers(PGconn **cl, int n, long long *pids)
{
	for (int i = 0; i < n; i++) {
		it_exec_ok(cl[i], "BEGIN");
		long long pid = backend_pid(cl[i]);
		if (pids)
			pids[i] = pid;
	}
	for (int i = 0; i < n; i++)
		it_exec_ok(cl[i], "COMMIT");
}

/* A live idle server past the delay is checked: the client waits for the (slow) check,
 * sv_tested shows it meanwhile, and the client then runs on that same server. Before the
 * delay there is no check. */
IT_TEST(server_check, idle_server_past_the_delay_is_checked)
{
	int http = it_http_port();
	char conf[1024];
	snprintf(
	        conf, sizeof conf,
	        "auth = { type = \"trust\"; };\n"
	        "admin = { users = [ \"admin\" ]; http_port = %d; };\n"
	        "pool = { mode = \"transaction\"; size = 1; server_check_delay = \"300ms\";\n"
	        "  server_check_query = \"SELECT pg_sleep(0.5)\"; };\n"
	        "databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; } );\n",
	        http);
	it_pglane_start(conf);
	it_wait_port(http);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	PGconn *a = adminq_connect("admin");
	long long pid = backend_pid(c);

	/* within the delay: no check, no wait */
	int64_t t0 = it_now_ms();
	cr_expect_eq(backend_pid(c), pid);
	int64_t quick = it_now_ms() - t0;
	cr_expect(quick < 300, "a server idle less than the delay was checked (%lld ms)",
	          (long long)quick);

	it_sleep_ms(450);
	t0 = it_now_ms();
	cr_assert(PQsendQuery(c, "SELECT pg_backend_pid()"));
	long long seen = -1;
	int took = adminq_pool_wait(a, "postgres", "postgres", "oltp", "sv_tested", 1, 450, &seen);
	cr_expect(took >= 0, "sv_tested never showed the check (last %lld)", seen);
	PGresult *sv = adminq_show(a, "SHOW SERVERS");
	cr_expect_eq(adminq_count(sv, "state", "tested", NULL, NULL), 1,
	             "SHOW SERVERS has no server in state tested");
	PQclear(sv);
	char *metrics = NULL;
	cr_expect_eq(adminq_http_get(http, "/metrics", &metrics), 200);
	cr_expect(metrics && strstr(metrics, "pglane_pool_servers_tested{database=\"postgres\","
	                                     "user=\"postgres\",lane=\"oltp\"} 1\n"),
	          "/metrics does not show the server being tested");
	free(metrics);
	bool to;
	PGresult *r = it_result_wait(c, 5000, &to);
	int64_t waited = it_now_ms() - t0;
	cr_assert(!to && PQresultStatus(r) == PGRES_TUPLES_OK, "query after the check: %s",
	          PQerrorMessage(c));
	cr_expect_eq(atoll(PQgetvalue(r, 0, 0)), pid, "the checked server was not the one used");
	PQclear(r);
	cr_assert_null(it_result_wait(c, 1000, &to));
	cr_expect(waited >= 450, "the client did not wait for the check (%lld ms)",
	          (long long)waited);
	cr_expect_eq(adminq_pool_value(a, "postgres", "postgres", "oltp", "sv_tested"), 0);
	cr_log_info("check of an idle server: client waited %lld ms (sv_tested after %d ms)",
	            (long long)waited, took);
	PQfinish(a);
	PQfinish(c);
}

/* The default check is an empty query, logged at debug level. */
IT_TEST(server_check, default_check_is_an_empty_query)
{
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\nlog = { level = \"debug\"; };\n"
	         "pool = { mode = \"transaction\"; size = 1; server_check_delay = \"100ms\"; };\n"
	         "databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; } "
	         ");\n");
	it_pglane_start(conf);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	long long pid = backend_pid(c);
	cr_expect_eq(it_log_count("checking it with \"\""), 0);
	it_sleep_ms(250);
	cr_expect_eq(backend_pid(c), pid);
	cr_expect_eq(it_log_count("checking it with \"\""), 1, "no empty-query check logged");
	PQfinish(c);
}

/* Servers killed while idle (pg_terminate_backend) never reach a client: rounds of servers
 * opened, left idle past the delay, killed, then used at once by several clients. */
IT_TEST(server_check, servers_killed_while_idle_never_reach_clients)
{
	start_pool(3, "server_check_delay = \"50ms\";");
	PGconn *cl[3];
	for (int i = 0; i < 3; i++)
		cl[i] = it_connect("postgres", NULL, "postgres");
	PGconn *admin = it_connect_admin();
	int errors = 0, queries = 0, killed = 0;
	for (int round = 0; round < 5; round++) {
		long long pids[3];
		open_servers(cl, 3, pids);
		it_sleep_ms(80);
		for (int i = 0; i < 3; i++) {
			char sql[128];
			snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)", pids[i]);
			char *v = it_query_str(admin, sql);
			killed += strcmp(v, "t") == 0;
			free(v);
		}
		for (int k = 0; k < 2; k++) {
			for (int i = 0; i < 3; i++) {
				PGresult *r = PQexec(cl[i], "SELECT pg_backend_pid()");
				queries++;
				if (PQresultStatus(r) != PGRES_TUPLES_OK) {
					errors++;
					cr_log_error("round %d client %d: %s", round, i,
					             PQresultErrorMessage(r));
				} else {
					long long now = atoll(PQgetvalue(r, 0, 0));
					for (int j = 0; j < 3; j++)
						cr_expect_neq(now, pids[j],
						              "a killed backend served");
				}
				PQclear(r);
			}
		}
	}
	cr_expect_eq(killed, 15, "only %d of 15 backends were terminated", killed);
	cr_expect_eq(errors, 0, "%d of %d queries failed after their servers were killed", errors,
	             queries);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(PQstatus(cl[i]), CONNECTION_OK);
	PQfinish(admin);
	for (int i = 0; i < 3; i++)
		PQfinish(cl[i]);
}

/* A backend stopped (SIGSTOP) while idle cannot answer: the check times out
 * (server_connect_timeout), the server is closed, and the client gets a new one. Without the
 * check its query would hang on the stopped backend. */
IT_TEST(server_check, unanswered_check_times_out_and_client_gets_another_server)
{
	start_pool(1, "server_check_delay = \"100ms\"; server_connect_timeout = \"1s\";");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	PGconn *admin = it_connect_admin();
	PQsetNoticeProcessor(admin, quiet, NULL); /* (the backend may be gone already) */
	long long pid = backend_pid(c);
	cr_assert_eq(kill((pid_t)pid, SIGSTOP), 0, "cannot stop backend %lld", pid);
	it_sleep_ms(200);
	int64_t t0 = it_now_ms();
	PGresult *r = PQexec(c, "SELECT pg_backend_pid()");
	int64_t took = it_now_ms() - t0;
	kill((pid_t)pid, SIGCONT);
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)", pid);
	free(it_query_str(admin, sql));
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "query after a failed check: %s",
	             PQresultErrorMessage(r));
	cr_expect_neq(atoll(PQgetvalue(r, 0, 0)), pid, "the stopped backend served the client");
	PQclear(r);
	cr_expect(took >= 900 && took < 4000, "served after %lld ms (check timeout 1 s)",
	          (long long)took);
	cr_expect_eq(it_log_count("server check failed: no answer within server_connect_timeout"),
	             1);
	PQfinish(admin);
	PQfinish(c);
}

/* A check query that fails (its table dropped while the server idled) closes the server;
 * the client runs on a new one without an error. */
IT_TEST(server_check, failing_check_query_closes_the_server)
{
	PGconn *admin = it_connect_admin();
	PQsetNoticeProcessor(admin, quiet, NULL);
	it_exec_ok(admin, "DROP TABLE IF EXISTS pglane_check_ok");
	it_exec_ok(admin, "CREATE TABLE pglane_check_ok ()");
	start_pool(1, "server_check_query = \"SELECT 1 FROM pglane_check_ok\"; "
	              "server_check_delay = \"100ms\";");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	long long pid = backend_pid(c);
	it_sleep_ms(200);
	cr_expect_eq(backend_pid(c), pid, "a server that passed its check was replaced");
	it_exec_ok(admin, "DROP TABLE pglane_check_ok");
	it_sleep_ms(200);
	PGresult *r = PQexec(c, "SELECT pg_backend_pid()");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "query after a failed check: %s",
	             PQresultErrorMessage(r));
	cr_expect_neq(atoll(PQgetvalue(r, 0, 0)), pid, "the server that failed its check served");
	PQclear(r);
	cr_expect_eq(it_log_count("server check failed: server_check_query failed"), 1);
	cr_expect(it_wait_backends(admin, 0, 3000, NULL, NULL, NULL, "SELECT 1 FROM pglane%",
	                           NULL) >= 0,
	          "the failed server's backend is still there");
	PQfinish(c);
	PQfinish(admin);
}

/* server_round_robin: the longest idle server goes first, so three idle servers take turns;
 * without it the most recently used one serves every time. The order is each worker's own
 * (its idle list): one worker, so that the three servers are in one list. */
static void pids_in_turn(bool round_robin)
{
	start_pool_on(3, round_robin ? "server_round_robin = true;" : "", "workers = 1;\n");
	PGconn *cl[3];
	for (int i = 0; i < 3; i++)
		cl[i] = it_connect("postgres", NULL, "postgres");
	long long opened[3];
	open_servers(cl, 3, opened);
	long long seen[6];
	for (int i = 0; i < 6; i++)
		seen[i] = backend_pid(cl[0]);
	if (round_robin) {
		for (int i = 0; i < 3; i++) {
			cr_expect_eq(seen[i], opened[i], "turn %d: backend %lld, expected %lld", i,
			             seen[i], opened[i]);
			cr_expect_eq(seen[i + 3], seen[i], "the backends did not cycle");
		}
	} else {
		for (int i = 0; i < 6; i++)
			cr_expect_eq(seen[i], opened[2],
			             "LIFO: turn %d used backend %lld, not %lld", i, seen[i],
			             opened[2]);
	}
	for (int i = 0; i < 3; i++)
		PQfinish(cl[i]);
}

IT_TEST(server_check, round_robin_cycles_idle_servers)
{
	pids_in_turn(true);
}

IT_TEST(server_check, lifo_reuses_the_last_server)
{
	pids_in_turn(false);
}

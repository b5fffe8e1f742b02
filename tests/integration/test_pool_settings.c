/* tests/integration/test_pool_settings.c — the pool settings of issue 15 besides the server
 * check: server_reset_query_always (the reset after every transaction, the client's settings
 * and prepared statements still its own), databases[].connect_query (once per new server,
 * before any client; what it sets is not seen by clients; a failure fails the login cleanly),
 * transaction_timeout (25P04 to the client, its statement cancelled, its work rolled back and
 * its server returned, others unharmed), query_wait_notify (one NOTICE per wait, after the
 * delay and not before), server_login_retry (no new login before it) and cancel_wait_timeout
 * (a cancel request PostgreSQL does not finish is given up after it). */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/fwd.h"
#include "tests/integration/harness.h"

TestSuite(pool_settings, .fini = it_pglane_fini, .timeout = 90);

/* pglane, auth trust, database postgres at host:port (port 0: the test PostgreSQL) with
 * `db` as extra keys of its entry; `pool` holds the extra pool keys. */
static void start_db(int size, const char *pool, const char *db, int port)
{
	char conf[2048], portstr[16];
	snprintf(portstr, sizeof portstr, "%d", port);
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"transaction\"; size = %d; %s };\n"
	         "databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = %s; %s } );\n",
	         size, pool ? pool : "", port ? portstr : "@PGPORT@", db ? db : "");
	it_pglane_start(conf);
}

static long long backend_pid(PGconn *c)
{
	return it_query_ll(c, "SELECT pg_backend_pid()");
}

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Poll `sql` (a count) on `c` every 20 ms until it is `want` or timeout_ms passes: the last
 * value. */
static long long wait_count(PGconn *c, const char *sql, long long want, int timeout_ms)
{
	int64_t end = it_now_ms() + timeout_ms;
	long long v;
	while ((v = it_query_ll(c, sql)) != want && it_now_ms() < end)
		it_sleep_ms(20);
	return v;
}

/* ---- server_reset_query_always ---- */

static void reset_counted(bool always)
{
	PGconn *admin = it_connect_admin();
	PQsetNoticeProcessor(admin, quiet, NULL);
	it_exec_ok(admin, "DROP TABLE IF EXISTS pglane_rq_log");
	it_exec_ok(admin, "CREATE TABLE pglane_rq_log (pid int)");
	char pool[256];
	snprintf(pool, sizeof pool,
	         "server_reset_query = \"INSERT INTO public.pglane_rq_log VALUES "
	         "(pg_backend_pid())\"; server_reset_query_always = %s;",
	         always ? "true" : "false");
	start_db(1, pool, NULL, 0);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	for (int i = 0; i < 5; i++)
		cr_expect_eq(it_query_ll(c, "SELECT 1"), 1);
	long long n = wait_count(admin, "SELECT count(*) FROM pglane_rq_log", always ? 5 : 0, 2000);
	it_sleep_ms(300); /* and no more after */
	long long later = it_query_ll(admin, "SELECT count(*) FROM pglane_rq_log");
	cr_expect_eq(n, always ? 5 : 0, "%lld resets after 5 transactions", n);
	cr_expect_eq(later, n, "resets went on after the transactions (%lld)", later);
	PQfinish(c);
	it_exec_ok(admin, "DROP TABLE pglane_rq_log");
	PQfinish(admin);
}

IT_TEST(pool_settings, reset_query_always_runs_after_each_transaction)
{
	reset_counted(true);
}

IT_TEST(pool_settings, reset_query_not_run_in_transaction_mode_by_default)
{
	reset_counted(false);
}

/* With DISCARD ALL after every transaction, each client still has its own settings and
 * prepared statements (pglane brings them back), and another client has none of them. */
IT_TEST(pool_settings, reset_query_always_keeps_sessions_right)
{
	start_db(1, "server_reset_query_always = true;", NULL, 0);
	PGconn *admin = it_connect_admin();
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	it_exec_ok(a, "SET statement_timeout = '7s'");
	long long pid = backend_pid(a);
	char *v = it_query_str(a, "SHOW statement_timeout");
	cr_expect_str_eq(v, "7s");
	free(v);
	/* the reset ran on the backend after a's transaction */
	char sql[200];
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld AND state = 'idle' AND "
	         "query = 'DISCARD ALL'",
	         pid);
	cr_expect_eq(wait_count(admin, sql, 1, 2000), 1, "no DISCARD ALL after the transaction");
	v = it_query_str(b, "SHOW statement_timeout");
	cr_expect_str_eq(v, "0", "another client sees a's setting: %s", v);
	free(v);
	cr_expect_eq(backend_pid(b), pid);
	v = it_query_str(a, "SHOW statement_timeout");
	cr_expect_str_eq(v, "7s", "a lost its setting to the reset: %s", v);
	free(v);
	PGresult *r = PQprepare(a, "s1", "SELECT 40 + $1::int", 1, NULL);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	for (int i = 0; i < 3; i++) {
		const char *arg = "2";
		r = PQexecPrepared(a, "s1", 1, &arg, NULL, NULL, 0);
		cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK,
		             "prepared statement after a reset: %s", PQresultErrorMessage(r));
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			cr_expect_str_eq(PQgetvalue(r, 0, 0), "42");
		PQclear(r);
		cr_expect_eq(it_query_ll(b, "SELECT 1"), 1);
	}
	PQfinish(a);
	PQfinish(b);
	PQfinish(admin);
}

/* ---- connect_query ---- */

/* It runs once on each new server, before any client uses it. */
IT_TEST(pool_settings, connect_query_runs_once_per_new_server)
{
	PGconn *admin = it_connect_admin();
	PQsetNoticeProcessor(admin, quiet, NULL);
	it_exec_ok(admin, "DROP TABLE IF EXISTS pglane_cq_log");
	it_exec_ok(admin, "CREATE TABLE pglane_cq_log (pid int)");
	start_db(3, NULL,
	         "connect_query = \"INSERT INTO public.pglane_cq_log VALUES (pg_backend_pid())\";",
	         0);
	PGconn *cl[3];
	long long pids[3];
	for (int i = 0; i < 3; i++)
		cl[i] = it_connect("postgres", NULL, "postgres");
	for (int i = 0; i < 3; i++) {
		it_exec_ok(cl[i], "BEGIN");
		pids[i] = backend_pid(cl[i]);
		cr_expect_eq(it_query_ll(cl[i], "SELECT count(*) FROM pglane_cq_log WHERE pid = "
		                                "pg_backend_pid()"),
		             1, "connect_query had not run on the server a client got");
	}
	for (int i = 0; i < 3; i++)
		it_exec_ok(cl[i], "COMMIT");
	for (int k = 0; k < 6; k++)
		cr_expect_eq(it_query_ll(cl[k % 3], "SELECT 1"), 1);
	cr_expect_neq(pids[0], pids[1]);
	cr_expect_neq(pids[1], pids[2]);
	cr_expect_eq(it_query_ll(admin, "SELECT count(*) FROM pglane_cq_log"), 3,
	             "connect_query did not run exactly once per server");
	cr_expect_eq(it_query_ll(admin, "SELECT count(DISTINCT pid) FROM pglane_cq_log"), 3);
	for (int i = 0; i < 3; i++)
		PQfinish(cl[i]);
	it_exec_ok(admin, "DROP TABLE pglane_cq_log");
	PQfinish(admin);
}

/* What connect_query sets is not what a client's own connection would have: clients do not
 * see it (pglane resets the server's settings before the first client's). */
IT_TEST(pool_settings, connect_query_settings_not_seen_by_clients)
{
	PGconn *admin = it_connect_admin();
	PQsetNoticeProcessor(admin, quiet, NULL);
	it_exec_ok(admin, "DROP TABLE IF EXISTS pglane_cq_log");
	it_exec_ok(admin, "CREATE TABLE pglane_cq_log (pid int)");
	start_db(1, NULL,
	         "connect_query = \"INSERT INTO public.pglane_cq_log VALUES (pg_backend_pid()); "
	         "SET search_path = pg_catalog; "
	         "SELECT set_config('pglane.cq', 'from_connect_query', false)\";",
	         0);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(c, "SELECT count(*) FROM public.pglane_cq_log WHERE pid = "
	                            "pg_backend_pid()"),
	             1, "connect_query did not run");
	char *v = it_query_str(c, "SHOW search_path");
	cr_expect_str_eq(v, "\"$user\", public", "the client sees connect_query's search_path %s",
	                 v);
	free(v);
	v = it_query_str(c, "SELECT coalesce(current_setting('pglane.cq', true), '(null)')");
	cr_expect_str_neq(v, "from_connect_query", "the client sees connect_query's setting");
	free(v);
	/* the client's own settings still work on that server */
	it_exec_ok(c, "SET search_path = pg_catalog, public");
	v = it_query_str(c, "SHOW search_path");
	cr_expect_str_eq(v, "pg_catalog, public");
	free(v);
	PQfinish(c);
	it_exec_ok(admin, "DROP TABLE pglane_cq_log");
	PQfinish(admin);
}

/* A connect_query that fails is a failed server login: the client gets the error, the
 * server is closed, pglane goes on. */
IT_TEST(pool_settings, failing_connect_query_fails_the_login)
{
	start_db(2, NULL, "connect_query = \"SELECT 1/0\";", 0);
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "postgres",
	            NULL);
	PGconn *c = it_connect_try(ci);
	cr_expect_neq(PQstatus(c), CONNECTION_OK, "a login through a failing connect_query worked");
	const char *err = it_conn_error(c);
	cr_expect(strstr(err, "connect_query failed") && strstr(err, "division by zero"),
	          "error: %s", err);
	PQfinish(c);
	cr_expect(it_pglane_alive());
	cr_expect_geq(it_log_count("server login failed: connect_query failed: division by zero"),
	              1);
	PGconn *admin = it_connect_admin();
	cr_expect(it_wait_backends(admin, 0, 3000, NULL, NULL, NULL, "SELECT 1/0", NULL) >= 0,
	          "the server that failed connect_query is still connected");
	PQfinish(admin);
}

/* ---- transaction_timeout ---- */

static long long backend_state_is(PGconn *admin, long long pid, const char *state, int ms)
{
	char sql[200];
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld AND state = '%s'", pid,
	         state);
	return wait_count(admin, sql, 1, ms);
}

/* A transaction longer than the timeout, its statement still running: the client gets
 * 25P04 and is disconnected, the statement is cancelled, the transaction rolled back and
 * its server returned to the pool; another client's short transactions go on meanwhile. */
IT_TEST(pool_settings, transaction_timeout_ends_a_long_transaction)
{
	PGconn *admin = it_connect_admin();
	PQsetNoticeProcessor(admin, quiet, NULL);
	it_exec_ok(admin, "DROP TABLE IF EXISTS pglane_tt");
	it_exec_ok(admin, "CREATE TABLE pglane_tt (who text)");
	start_db(2, "transaction_timeout = \"1s\";", NULL, 0);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	int64_t t0 = it_now_ms();
	it_exec_ok(a, "BEGIN");
	it_exec_ok(a, "INSERT INTO pglane_tt VALUES ('a')");
	long long pid = backend_pid(a);
	cr_assert(PQsendQuery(a, "SELECT pg_sleep(5)"));
	int ok = 0;
	while (it_now_ms() - t0 < 2000) {
		it_exec_ok(b, "BEGIN");
		it_exec_ok(b, "INSERT INTO pglane_tt VALUES ('b')");
		it_exec_ok(b, "COMMIT");
		ok++;
		it_sleep_ms(50);
	}
	bool to;
	PGresult *r = it_result_wait(a, 5000, &to);
	int64_t took = it_now_ms() - t0;
	cr_assert(!to, "no answer to the long transaction");
	cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	cr_expect_str_eq(it_sqlstate(r), "25P04", "SQLSTATE %s: %s", it_sqlstate(r),
	                 PQerrorMessage(a));
	cr_expect(strstr(PQerrorMessage(a), "transaction timeout") != NULL, "%s",
	          PQerrorMessage(a));
	PQclear(r);
	cr_expect(took >= 900 && took < 2600, "ended after %lld ms (timeout 1 s)", (long long)took);
	it_result_wait(a, 1000, &to);
	cr_expect_neq(PQstatus(a), CONNECTION_OK, "the client was not disconnected");
	cr_expect_eq(backend_state_is(admin, pid, "idle", 3000), 1,
	             "its backend was not rolled back and returned");
	cr_expect_eq(it_query_ll(admin, "SELECT count(*) FROM pglane_tt WHERE who = 'a'"), 0,
	             "the timed-out transaction committed");
	cr_expect_eq(it_query_ll(admin, "SELECT count(*) FROM pglane_tt WHERE who = 'b'"), ok);
	cr_expect(ok >= 10, "only %d short transactions", ok);
	cr_expect_eq(it_query_ll(b, "SELECT 1"), 1);
	cr_log_info("transaction_timeout: client told after %lld ms; %d other transactions",
	            (long long)took, ok);
	PQfinish(a);
	PQfinish(b);
	it_exec_ok(admin, "DROP TABLE pglane_tt");
	PQfinish(admin);
}

/* Idle in a transaction past the timeout: the same end; a single long statement outside a
 * transaction block is a transaction too (as in PostgreSQL 17). Short ones are untouched. */
IT_TEST(pool_settings, transaction_timeout_idle_and_implicit)
{
	start_db(2, "transaction_timeout = \"1s\";", NULL, 0);
	PGconn *admin = it_connect_admin();
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	PQsetNoticeProcessor(a, quiet, NULL);
	for (int i = 0; i < 4; i++) { /* 2 s of short ones */
		cr_expect_eq(it_query_ll(c, "SELECT 1 FROM pg_sleep(0.4)"), 1);
		it_sleep_ms(100);
	}
	it_exec_ok(a, "BEGIN");
	long long pid = backend_pid(a);
	it_sleep_ms(1700);
	PGresult *r = PQexec(a, "SELECT 1");
	cr_expect_neq(PQresultStatus(r), PGRES_TUPLES_OK,
	              "an idle transaction outlived the timeout");
	cr_expect(strstr(PQerrorMessage(a), "transaction timeout") != NULL, "%s",
	          PQerrorMessage(a));
	PQclear(r);
	cr_expect_eq(backend_state_is(admin, pid, "idle", 3000), 1);
	int64_t t0 = it_now_ms();
	cr_assert(PQsendQuery(c, "SELECT pg_sleep(4)"));
	bool to;
	r = it_result_wait(c, 5000, &to); /* the first result: the FATAL */
	int64_t took = it_now_ms() - t0;
	cr_assert(!to);
	cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	cr_expect_str_eq(it_sqlstate(r), "25P04", "%s", PQerrorMessage(c));
	cr_expect(took >= 900 && took < 2600, "implicit transaction ended after %lld ms",
	          (long long)took);
	PQclear(r);
	PQfinish(a);
	PQfinish(c);
	PQfinish(admin);
}

/* ---- query_wait_notify ---- */

struct notices {
	int n;
	char last[512];
};

static void count_notice(void *arg, const char *msg)
{
	struct notices *n = arg;
	n->n++;
	snprintf(n->last, sizeof n->last, "%s", msg);
}

/* Read what arrives on `c` for `ms` (notices are counted as they are parsed); true when the
 * query's result is ready. */
static bool pump(PGconn *c, int ms)
{
	int64_t end = it_now_ms() + ms;
	for (;;) {
		int64_t left = end - it_now_ms();
		if (left <= 0)
			return !PQisBusy(c);
		struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
		poll(&p, 1, (int)left);
		PQconsumeInput(c);
		if (!PQisBusy(c))
			return true;
	}
}

IT_TEST(pool_settings, query_wait_notify_once_per_wait)
{
	start_db(1, "query_wait_notify = \"1s\";", NULL, 0);
	PGconn *holder = it_connect("postgres", NULL, "postgres");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	struct notices n = {0};
	PQsetNoticeProcessor(c, count_notice, &n);
	for (int round = 1; round <= 2; round++) {
		it_exec_ok(holder, "BEGIN");
		backend_pid(holder);
		cr_assert(PQsendQuery(c, "SELECT 1"));
		cr_expect(!pump(c, 700), "the query ran while the only server was held");
		cr_expect_eq(n.n, round - 1, "a NOTICE before query_wait_notify (%s)", n.last);
		pump(c, 900);
		cr_expect_eq(n.n, round, "round %d: %d notices after 1.6 s of waiting", round, n.n);
		cr_expect(strstr(n.last, "No server connection available") != NULL, "notice: %s",
		          n.last);
		pump(c, 1000);
		cr_expect_eq(n.n, round, "more than one NOTICE in one wait");
		it_exec_ok(holder, "COMMIT");
		cr_expect(pump(c, 3000), "no answer once the server was free");
		PGresult *r;
		while ((r = PQgetResult(c)) != NULL) {
			cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK);
			PQclear(r);
		}
		cr_expect_eq(it_query_ll(c, "SELECT 2"), 2); /* no wait: no notice */
		cr_expect_eq(n.n, round);
	}
	PQfinish(c);
	PQfinish(holder);
}

/* ---- server_login_retry ---- */

/* A login failing for good (the database does not exist on the server) is not retried
 * before server_login_retry: a second client waits for it, then gets the error of the next
 * attempt. (A server that is down is a transient failure: test_wait.c.) */
static void login_retry(const char *retry, int min_ms, int max_ms)
{
	char pool[128];
	snprintf(pool, sizeof pool, "server_login_retry = \"%s\";", retry);
	start_db(1, pool, "dbname = \"no_such_db_login_retry\";", 0);
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "postgres",
	            NULL);
	PGconn *c1 = it_connect_try(ci);
	int64_t t0 = it_now_ms();
	cr_expect_neq(PQstatus(c1), CONNECTION_OK);
	cr_expect_eq(it_log_count("server login failed"), 1);
	PGconn *c2 = it_connect_try(ci);
	int64_t took = it_now_ms() - t0;
	cr_expect_neq(PQstatus(c2), CONNECTION_OK);
	cr_expect(strstr(it_conn_error(c2), "does not exist") != NULL, "%s", it_conn_error(c2));
	cr_expect_eq(it_log_count("server login failed"), 2, "%d attempts",
	             it_log_count("server login failed"));
	cr_expect(took >= min_ms && took <= max_ms,
	          "second attempt %lld ms after the first failed (retry %s)", (long long)took,
	          retry);
	cr_log_info("server_login_retry %s: next attempt after %lld ms", retry, (long long)took);
	PQfinish(c1);
	PQfinish(c2);
}

IT_TEST(pool_settings, server_login_retry_holds_back_the_next_login)
{
	login_retry("2s", 1900, 2700);
}

IT_TEST(pool_settings, server_login_retry_short)
{
	login_retry("100ms", 0, 700);
}

/* ---- cancel_wait_timeout ---- */

/* A cancel request PostgreSQL does not finish (held by a forwarder for 3 s) is given up
 * after cancel_wait_timeout. */
IT_TEST(pool_settings, cancel_wait_timeout_gives_up_a_cancel)
{
	struct fwd *f = fwd_start(3000);
	start_db(1, "cancel_wait_timeout = \"500ms\";", NULL, f->port);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	cr_assert(PQsendQuery(c, "SELECT pg_sleep(1.5)"));
	it_sleep_ms(200);
	PGcancel *k = PQgetCancel(c);
	char err[256];
	int64_t t0 = it_now_ms();
	cr_assert(PQcancel(k, err, sizeof err), "%s", err);
	PQfreeCancel(k);
	const char *line = "the server did not close the connection within cancel_wait_timeout";
	while (it_log_count(line) == 0 && it_now_ms() - t0 < 2500)
		it_sleep_ms(20);
	int64_t took = it_now_ms() - t0;
	cr_expect_eq(it_log_count(line), 1, "the cancel was not given up");
	cr_expect(took >= 400 && took < 1500, "given up after %lld ms (cancel_wait_timeout 500 ms)",
	          (long long)took);
	bool to;
	PGresult *r = it_result_wait(c, 5000, &to);
	cr_expect(!to && PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
	PQclear(r);
	it_result_wait(c, 1000, &to);
	PQfinish(c);
}

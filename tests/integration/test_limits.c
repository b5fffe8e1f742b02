/* tests/integration/test_limits.c — the caps of issue 15, counted on the server side: under
 * 4x their size of concurrent clients running pg_sleep, max_db_connections holds over two users
 * and both lanes of a database, max_user_connections over two databases (and lanes) of a user,
 * with pg_stat_activity sampled every 20 ms and every client's query completing; SHOW POOLS
 * held_by names the cap that holds a pool back. The client caps refuse the extra client with
 * PgBouncer's FATAL (53300) and a log line while the others keep working. The reserve pool
 * opens only after reserve_pool_timeout. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"

TestSuite(limits, .fini = it_pglane_fini, .timeout = 120);

/* Server passwords of the fixture roles (auth trust for the clients). */
#define LIMITS_USERS "\"scram_user\" \"scram_pw\"\n\"md5_user\" \"md5_pw\"\n"

#define MAX_CONNS 16

/* pglane in transaction mode with `pool` keys in the pool group and databases postgres and
 * bench (both lanes, `db` keys in each entry; lanes of 10 servers). */
static void start_limits(const char *pool, const char *db, const char *users)
{
	char conf[3072];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; file = \"users.txt\"; };\n"
	         "pool = { mode = \"transaction\"; size = 10; query_wait_timeout = \"30s\"; %s };\n"
	         "databases = (\n"
	         "  { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; %s\n"
	         "    oltp = { size = 10; }; olap = { size = 10; }; },\n"
	         "  { name = \"bench\"; host = \"@PGHOST@\"; port = @PGPORT@; %s\n"
	         "    oltp = { size = 10; }; olap = { size = 10; }; } );\n"
	         "%s\n",
	         pool ? pool : "", db ? db : "", db ? db : "", users ? users : "");
	it_pglane_start_with_users(conf, LIMITS_USERS);
}

static const char *password_of(const char *user)
{
	return strcmp(user, "md5_user") == 0 ? "md5_pw" : "scram_pw";
}

/* Client backends on the test server matching `where` (an SQL condition on
 * pg_stat_activity), in one snapshot. */
static int count_where(PGconn *admin, const char *where)
{
	char sql[512];
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
	         "AND pid <> pg_backend_pid() AND (%s)",
	         where);
	return (int)it_query_ll(admin, sql);
}

/* Send `sql[i]` on every connection, then wait (20 s at most) for all results, sampling the
 * server's backends matching `where` every 20 ms; every query must succeed. Returns the
 * highest count seen. */
static int run_all_sampling(PGconn **c, const char *const *sql, int n, PGconn *admin,
                            const char *where, const char *what)
{
	bool done[MAX_CONNS] = {false};
	for (int i = 0; i < n; i++)
		cr_assert(PQsendQuery(c[i], sql[i]), "%s: send %d: %s", what, i,
		          PQerrorMessage(c[i]));
	int max = 0, left = n;
	int64_t until = it_now_ms() + 20000;
	while (left > 0 && it_now_ms() < until) {
		int now = count_where(admin, where);
		if (now > max)
			max = now;
		for (int i = 0; i < n; i++) {
			if (done[i])
				continue;
			cr_assert(PQconsumeInput(c[i]), "%s: client %d lost: %s", what, i,
			          PQerrorMessage(c[i]));
			if (PQisBusy(c[i]))
				continue;
			PGresult *r;
			while ((r = PQgetResult(c[i]))) {
				cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK,
				             "%s: client %d: %s", what, i, PQresultErrorMessage(r));
				PQclear(r);
			}
			done[i] = true;
			left--;
		}
		it_sleep_ms(20);
	}
	cr_assert_eq(left, 0, "%s: %d of %d queries still running after 20 s", what, left, n);
	return max;
}

/* A SHOW POOLS row held by `cap` appears within timeout_ms: true when it did. */
static bool pools_held_by(PGconn *console, const char *cap, int timeout_ms)
{
	int64_t until = it_now_ms() + timeout_ms;
	do {
		PGresult *r = adminq_show(console, "SHOW POOLS");
		int row = adminq_find(r, "held_by", cap, NULL, NULL);
		PQclear(r);
		if (row >= 0)
			return true;
		it_sleep_ms(20);
	} while (it_now_ms() < until);
	return false;
}

IT_TEST(limits, max_db_connections_holds_over_users_and_lanes)
{
	start_limits(NULL, "max_db_connections = 3;", NULL);
	PGconn *admin = it_connect_admin();
	PGconn *c[12];
	const char *sql[12];
	for (int i = 0; i < 12; i++) {
		const char *user = i % 2 ? "md5_user" : "scram_user";
		c[i] = it_connect(user, password_of(user), "postgres");
		/* users alternate, lanes alternate in pairs: 3 clients in each of the 4 pools */
		sql[i] = (i / 2) % 2 ? "/* lane: olap */ SELECT pg_sleep(0.4) /* it:dbcap */"
		                     : "/* lane: oltp */ SELECT pg_sleep(0.4) /* it:dbcap */";
	}
	PGconn *console = adminq_connect("admin");
	int64_t t0 = it_now_ms();
	for (int i = 0; i < 12; i++)
		cr_assert(PQsendQuery(c[i], sql[i]));
	cr_expect(pools_held_by(console, "max_db_connections", 1000),
	          "no SHOW POOLS row says held_by max_db_connections");
	/* the first round is under way; run_all_sampling collects it and samples */
	for (int i = 0; i < 12; i++) {
		bool to;
		PGresult *r = it_result_wait(c[i], 20000, &to);
		cr_assert(!to, "client %d: no answer in 20 s", i);
		cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK, "client %d: %s", i,
		             PQresultErrorMessage(r));
		PQclear(r);
	}
	cr_log_info("first round: 12 x pg_sleep(0.4) over 3 servers in %lld ms",
	            (long long)(it_now_ms() - t0));
	const char *where = "datname = 'postgres' AND usename IN ('scram_user', 'md5_user')";
	int max = run_all_sampling(c, sql, 12, admin, where, "max_db_connections");
	cr_log_info("max_db_connections = 3: at most %d backends of database postgres", max);
	cr_expect_leq(max, 3, "%d backends of database postgres (max_db_connections = 3)", max);
	cr_expect_geq(max, 2, "the cap is used (%d backends)", max);
	cr_expect_leq(count_where(admin, where), 3);
	/* another database is not held by postgres's cap: its own 3 */
	PGconn *b = it_connect("scram_user", "scram_pw", "bench");
	cr_expect_eq(it_query_ll(b, "SELECT 7"), 7);
	PQfinish(b);
	for (int i = 0; i < 12; i++)
		PQfinish(c[i]);
	PQfinish(console);
	PQfinish(admin);
}

IT_TEST(limits, max_user_connections_holds_over_databases)
{
	start_limits("max_user_connections = 3;", NULL, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *c[12];
	const char *sql[12];
	for (int i = 0; i < 12; i++) {
		c[i] = it_connect("scram_user", "scram_pw", i % 2 ? "bench" : "postgres");
		sql[i] = (i / 2) % 2 ? "/* lane: olap */ SELECT pg_sleep(0.4) /* it:usercap */"
		                     : "/* lane: oltp */ SELECT pg_sleep(0.4) /* it:usercap */";
	}
	/* md5_user is not held by scram_user's cap */
	PGconn *other = it_connect("md5_user", "md5_pw", "postgres");
	int max = run_all_sampling(c, sql, 12, admin, "usename = 'scram_user'",
	                           "max_user_connections");
	cr_log_info("max_user_connections = 3: at most %d backends of scram_user", max);
	cr_expect_leq(max, 3, "%d backends of scram_user (max_user_connections = 3)", max);
	cr_expect_geq(max, 2, "the cap is used (%d backends)", max);
	max = run_all_sampling(c, sql, 12, admin, "usename = 'scram_user'",
	                       "max_user_connections, again");
	cr_expect_leq(max, 3, "second round: %d backends of scram_user", max);
	cr_expect_eq(it_query_ll(other, "SELECT 8"), 8);
	PQfinish(other);
	for (int i = 0; i < 12; i++)
		PQfinish(c[i]);
	PQfinish(admin);
}

/* A login that must be refused with the client cap's FATAL. */
static void expect_refused(const char *user, const char *db, const char *cap)
{
	char ci[512], want[128];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, user, password_of(user), db,
	            NULL);
	PGconn *c = it_connect_try(ci);
	snprintf(want, sizeof want, "53300: no more connections allowed (%s)", cap);
	cr_expect_eq(PQstatus(c), CONNECTION_BAD, "%s@%s was let in over %s", user, db, cap);
	cr_expect(strstr(it_conn_error(c), "FATAL") && strstr(it_conn_error(c), want),
	          "%s@%s: %s (expected FATAL %s)", user, db, it_conn_error(c), want);
	PQfinish(c);
}

IT_TEST(limits, max_db_client_connections_refuses_the_extra_client)
{
	start_limits(NULL, "max_db_client_connections = 2;", NULL);
	PGconn *a = it_connect("scram_user", "scram_pw", "postgres");
	PGconn *b = it_connect("md5_user", "md5_pw", "postgres");
	/* a third, of either user, whichever lane it would use */
	expect_refused("scram_user", "postgres", "max_db_client_connections");
	expect_refused("md5_user", "postgres", "max_db_client_connections");
	/* those in keep working, in both lanes; another database is not affected */
	cr_expect_eq(it_query_ll(a, "SELECT 1"), 1);
	cr_expect_eq(it_query_ll(b, "/* lane: olap */ SELECT 2"), 2);
	PGconn *other = it_connect("scram_user", "scram_pw", "bench");
	cr_expect_eq(it_query_ll(other, "SELECT 3"), 3);
	/* a place freed is a place taken */
	PQfinish(a);
	it_sleep_ms(100);
	a = it_connect("scram_user", "scram_pw", "postgres");
	cr_expect_eq(it_query_ll(a, "SELECT 4"), 4);
	expect_refused("scram_user", "postgres", "max_db_client_connections");
	char *log = it_pglane_log();
	cr_expect(strstr(log, "no more connections allowed (max_db_client_connections)"),
	          "no log line for the refused client");
	free(log);
	PQfinish(a);
	PQfinish(b);
	PQfinish(other);
}

IT_TEST(limits, max_user_client_connections_with_a_user_override)
{
	start_limits("max_user_client_connections = 2;", NULL,
	             "users = ( { name = \"md5_user\"; max_user_client_connections = 1; } );");
	PGconn *a1 = it_connect("scram_user", "scram_pw", "postgres");
	PGconn *a2 = it_connect("scram_user", "scram_pw", "bench");
	expect_refused("scram_user", "postgres", "max_user_client_connections");
	expect_refused("scram_user", "bench", "max_user_client_connections");
	PGconn *m = it_connect("md5_user", "md5_pw", "bench");
	expect_refused("md5_user", "postgres", "max_user_client_connections");
	cr_expect_eq(it_query_ll(a1, "SELECT 1"), 1);
	cr_expect_eq(it_query_ll(a2, "SELECT 2"), 2);
	cr_expect_eq(it_query_ll(m, "SELECT 3"), 3);
	char *log = it_pglane_log();
	cr_expect(strstr(log, "no more connections allowed (max_user_client_connections)"),
	          "no log line for the refused client");
	free(log);
	PQfinish(a1);
	PQfinish(a2);
	PQfinish(m);
}

IT_TEST(limits, reserve_pool_opens_only_after_reserve_pool_timeout)
{
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; file = \"users.txt\"; };\n"
	         "pool = { mode = \"transaction\"; size = 2; reserve_pool_size = 1;\n"
	         "         reserve_pool_timeout = \"1s\"; query_wait_timeout = \"30s\"; };\n"
	         "databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; } "
	         ");\n");
	it_pglane_start_with_users(conf, LIMITS_USERS);
	PGconn *admin = it_connect_admin();
	PGconn *c[3];
	for (int i = 0; i < 3; i++)
		c[i] = it_connect("scram_user", "scram_pw", "postgres");
	const char *where = "usename = 'scram_user'";
	cr_assert_leq(count_where(admin, where), 2);
	int64_t t0 = it_now_ms();
	for (int i = 0; i < 3; i++)
		cr_assert(PQsendQuery(c[i], "SELECT pg_sleep(3) /* it:reserve */"));
	it_sleep_ms(500);
	int at_half = count_where(admin, where);
	cr_expect_eq(at_half, 2, "%d backends 0.5 s in: the reserve opened before its timeout",
	             at_half);
	int last = 0;
	int took = it_wait_backends(admin, 3, 1600, NULL, "scram_user", NULL, NULL, &last);
	cr_expect_geq(took, 0, "no third backend by 2 s (%d)", last);
	cr_log_info("third backend after %lld ms", (long long)(it_now_ms() - t0));
	for (int i = 0; i < 3; i++) {
		bool to;
		PGresult *r = it_result_wait(c[i], 10000, &to);
		cr_assert(!to);
		cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK, "client %d: %s", i,
		             PQresultErrorMessage(r));
		PQclear(r);
	}
	cr_expect_lt(it_now_ms() - t0, 5500, "the third client did not wait for a first one");
	cr_expect_leq(count_where(admin, where), 3, "never more than size + reserve_pool_size");
	char *log = it_pglane_log();
	cr_expect(strstr(log, "reserve pool"), "no log line for the reserve pool");
	free(log);
	for (int i = 0; i < 3; i++)
		PQfinish(c[i]);
	PQfinish(admin);
}

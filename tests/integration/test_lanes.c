/* tests/integration/test_lanes.c — lanes and routing (issue 4): a saturated oltp lane does not
 * delay olap clients and the reverse; the lane of a transaction comes from the hint comment
 * (simple Query, Parse, the statement a Bind runs; only at the start of the first statement),
 * else the first matching route (application_name glob on the current value, user, database),
 * else default_lane; session mode routes once per client.
 *
 * Which lane served a transaction is proven two independent ways: by backend pid (each lane
 * of a test has one server, so the lanes' backends are two known pids) and by the `lane` field
 * of the slow_query event logged for a statement marked with a unique comment. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"
#include "tests/integration/slowq.h"

TestSuite(lanes, .fini = it_pglane_fini, .timeout = 90);

/* Server passwords of the fixture roles that need one (auth trust for the clients). */
#define LANES_USERS "\"scram_user\" \"scram_pw\"\n\"md5_user\" \"md5_pw\"\n"

/* A database entry for the test server with lane groups `oltp` and `olap` (NULL: no olap
 * group) and `extra` keys. */
static void db_entry(char *out, size_t n, const char *name, const char *oltp, const char *olap,
                     const char *extra)
{
	char olap_group[256] = "";
	if (olap)
		snprintf(olap_group, sizeof olap_group, " olap = { %s };", olap);
	snprintf(out, n,
	         "{ name = \"%s\"; host = \"@PGHOST@\"; port = @PGPORT@; oltp = { %s };%s %s }",
	         name, oltp, olap_group, extra ? extra : "");
}

/* pglane, JSON log, one server per lane and a 100 ms slow_query threshold in both lanes for
 * databases postgres and bench; `routes` (may be NULL) and `db_extra` (e.g. default_lane) go
 * into the config as given. */
static struct it_pglane *start_lanes(const char *mode, const char *routes, const char *db_extra)
{
	const char *lane = "size = 1; slow_query = \"100ms\";";
	char pg[512], bench[512], conf[2048];
	db_entry(pg, sizeof pg, "postgres", lane, lane, db_extra);
	db_entry(bench, sizeof bench, "bench", lane, lane, db_extra);
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; file = \"users.txt\"; };\n"
	         "log = { format = \"json\"; };\n"
	         "pool = { mode = \"%s\"; size = 1; query_wait_timeout = \"20s\"; };\n"
	         "databases = ( %s, %s );\n%s\n",
	         mode, pg, bench, routes ? routes : "");
	return it_pglane_start_with_users(conf, LANES_USERS);
}

static long long pid_of(PGconn *c, const char *sql)
{
	return it_query_ll(c, sql);
}

#define PID_SQL   "SELECT pg_backend_pid()"
#define HINT_OLTP "/* lane: oltp */ "
#define HINT_OLAP "/* lane: olap */ "

/* The backends of the client's two lanes, learned with hints; they must differ and stay. */
static void lane_pids(PGconn *c, long long *oltp, long long *olap)
{
	*oltp = pid_of(c, HINT_OLTP PID_SQL);
	*olap = pid_of(c, HINT_OLAP PID_SQL);
	cr_assert_neq(*oltp, *olap, "lanes oltp and olap share backend %lld", *oltp);
	cr_assert_eq(pid_of(c, HINT_OLTP PID_SQL), *oltp, "the oltp lane's one backend changed");
	cr_assert_eq(pid_of(c, HINT_OLAP PID_SQL), *olap, "the olap lane's one backend changed");
}

/* Lane of a transaction by pid: "oltp", "olap" or "?" */
static const char *lane_by_pid(long long pid, long long oltp, long long olap)
{
	return pid == oltp ? "oltp" : pid == olap ? "olap" : "?";
}

/* Run `select pg_sleep(0.15)` marked with a comment holding `marker` (after `prefix`) and
 * return the lane its slow_query event names. */
static const char *lane_by_log(PGconn *c, const char *prefix, const char *marker)
{
	char sql[256];
	snprintf(sql, sizeof sql, "%sSELECT pg_sleep(0.15) /* %s */", prefix, marker);
	it_exec_ok(c, sql);
	return slowq_lane(marker);
}

/* ---- saturation ---- */

/* Two clients fill `hint`'s lane (size 2) with pg_sleep(5) transactions; a client of the
 * other lane must run five transactions fast, while a third client of the full lane waits. */
static void saturation(const char *full_hint, const char *free_hint, const char *marker)
{
	char conf[1024], db[512];
	db_entry(db, sizeof db, "postgres", "size = 2;", "size = 2;", NULL);
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"transaction\"; size = 2; query_wait_timeout = \"30s\"; };\n"
	         "databases = ( %s );\n",
	         db);
	it_pglane_start(conf);
	PGconn *admin = it_connect_admin();
	PGconn *sleeper[2], *waiter;
	char sql[256], like[64];
	snprintf(sql, sizeof sql, "%sBEGIN; SELECT pg_sleep(5) /* %s */", full_hint, marker);
	snprintf(like, sizeof like, "%%%s%%", marker);
	for (int i = 0; i < 2; i++) {
		sleeper[i] = it_connect("postgres", NULL, "postgres");
		cr_assert(PQsendQuery(sleeper[i], sql), "%s", PQerrorMessage(sleeper[i]));
	}
	int seen = 0;
	cr_assert_geq(it_wait_backends(admin, 2, 5000, "active", NULL, NULL, like, &seen), 0,
	              "the two sleepers are not both running (%d seen)", seen);
	/* The lane is full: one more of its transactions waits. */
	waiter = it_connect("postgres", NULL, "postgres");
	snprintf(sql, sizeof sql, "%sSELECT 7", full_hint);
	cr_assert(PQsendQuery(waiter, sql));

	PGconn *c = it_connect("postgres", NULL, "postgres");
	snprintf(sql, sizeof sql, "%sSELECT 42", free_hint);
	int64_t t0 = it_now_ms();
	for (int i = 0; i < 5; i++) {
		int64_t t = it_now_ms();
		cr_expect_eq(it_query_ll(c, sql), 42);
		cr_expect_lt(it_now_ms() - t, 1000, "transaction %d of the free lane took %lld ms",
		             i, (long long)(it_now_ms() - t));
	}
	int64_t took = it_now_ms() - t0;
	cr_expect_lt(took, 2000, "5 transactions on the free lane took %lld ms (sleepers: 5 s)",
	             (long long)took);
	cr_expect(PQconsumeInput(waiter) && PQisBusy(waiter),
	          "the full lane's waiter got an answer: the lane was not saturated");
	cr_expect_eq(it_count_backends(admin, "active", NULL, NULL, like), 2,
	             "the sleepers stopped while the other lane ran");
	cr_log_info("saturated %s: 5 transactions of the other lane in %lld ms", full_hint,
	            (long long)took);
	PQfinish(c);
	PQfinish(waiter);
	for (int i = 0; i < 2; i++)
		PQfinish(sleeper[i]); /* pglane cancels their queries */
	PQfinish(admin);
}

IT_TEST(lanes, oltp_saturated_olap_fast)
{
	saturation("", HINT_OLAP, "it:sat_oltp");
}

IT_TEST(lanes, olap_saturated_oltp_fast)
{
	saturation(HINT_OLAP, "", "it:sat_olap");
}

/* ---- hints ---- */

IT_TEST(lanes, route_by_hint)
{
	start_lanes("transaction", NULL, NULL);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	long long oltp, olap;
	lane_pids(c, &oltp, &olap);
	struct {
		const char *sql, *want;
	} cases[] = {
	        {PID_SQL, "oltp"},
	        {HINT_OLAP PID_SQL, "olap"},
	        {"/*lane:olap*/" PID_SQL, "olap"},
	        {"  \n\t/* lane: olap */\n" PID_SQL, "olap"},
	        {"/* lane: olap */ SELECT 1; " PID_SQL, "olap"},
	        {"SELECT /* lane: olap */ pg_backend_pid()", "oltp"}, /* not at the start */
	        {"-- lane: olap\n" PID_SQL, "oltp"},                  /* not the hint syntax */
	        {"/* lane: nosuch */ " PID_SQL, "oltp"},              /* unknown lane */
	        {"/* lane: olap */ /* lane: oltp */ " PID_SQL, "olap"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		PGresult *r = PQexec(c, cases[i].sql);
		cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK, "`%s`: %s", cases[i].sql,
		          PQresultErrorMessage(r));
		long long pid = atoll(PQgetvalue(r, 0, 0)); /* libpq keeps the last result */
		PQclear(r);
		cr_expect_str_eq(lane_by_pid(pid, oltp, olap), cases[i].want,
		                 "`%s` ran on backend %lld (oltp %lld, olap %lld)", cases[i].sql,
		                 pid, oltp, olap);
	}
	/* The log says the same. */
	cr_expect_str_eq(lane_by_log(c, HINT_OLAP, "it:hint_olap"), "olap");
	cr_expect_str_eq(lane_by_log(c, "", "it:hint_none"), "oltp");
	cr_expect_str_eq(lane_by_log(c, HINT_OLTP, "it:hint_oltp"), "oltp");
	PQfinish(c);
}

IT_TEST(lanes, hint_in_parse_and_bind)
{
	start_lanes("transaction", NULL, NULL);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	long long oltp, olap;
	lane_pids(c, &oltp, &olap);

	/* Parse text (PQexecParams: Parse, Bind, Execute, Sync). */
	const char *one[] = {"1"};
	PGresult *r = PQexecParams(c, HINT_OLAP "SELECT pg_backend_pid() + $1::int - 1", 1, NULL,
	                           one, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	cr_expect_eq(atoll(PQgetvalue(r, 0, 0)), olap, "hinted Parse ran on %s",
	             lane_by_pid(atoll(PQgetvalue(r, 0, 0)), oltp, olap));
	PQclear(r);
	r = PQexecParams(c, "SELECT pg_backend_pid() + $1::int - 1", 1, NULL, one, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	cr_expect_eq(atoll(PQgetvalue(r, 0, 0)), oltp, "unhinted Parse ran on %s",
	             lane_by_pid(atoll(PQgetvalue(r, 0, 0)), oltp, olap));
	PQclear(r);

	/* A Bind of a prepared statement: the statement's text carries the hint. */
	r = PQprepare(c, "it_olap_stmt", HINT_OLAP "SELECT pg_backend_pid()", 0, NULL);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	r = PQprepare(c, "it_plain_stmt", "SELECT pg_backend_pid()", 0, NULL);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	for (int i = 0; i < 3; i++) {
		r = PQexecPrepared(c, "it_olap_stmt", 0, NULL, NULL, NULL, 0);
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		long long pid = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
		cr_expect_eq(pid, olap, "round %d: Bind of the hinted statement ran on %s", i,
		             lane_by_pid(pid, oltp, olap));
		r = PQexecPrepared(c, "it_plain_stmt", 0, NULL, NULL, NULL, 0);
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		pid = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
		cr_expect_eq(pid, oltp, "round %d: Bind of the plain statement ran on %s", i,
		             lane_by_pid(pid, oltp, olap));
	}
	PQfinish(c);
}

IT_TEST(lanes, hint_only_at_transaction_start)
{
	start_lanes("transaction", NULL, NULL);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	long long oltp, olap;
	lane_pids(c, &oltp, &olap);
	/* A transaction begun without a hint stays on oltp whatever its later statements say. */
	it_exec_ok(c, "BEGIN");
	long long pid = pid_of(c, HINT_OLAP PID_SQL);
	cr_expect_eq(pid, oltp, "a hint inside a transaction moved it to %s",
	             lane_by_pid(pid, oltp, olap));
	it_exec_ok(c, HINT_OLAP "SELECT 1");
	pid = pid_of(c, PID_SQL);
	cr_expect_eq(pid, oltp, "the transaction left its backend");
	it_exec_ok(c, "COMMIT");
	/* A transaction begun with the hint stays on olap. */
	it_exec_ok(c, HINT_OLAP "BEGIN");
	pid = pid_of(c, PID_SQL);
	cr_expect_eq(pid, olap, "`/* lane: olap */ BEGIN`: the next statement ran on %s",
	             lane_by_pid(pid, oltp, olap));
	pid = pid_of(c, HINT_OLTP PID_SQL);
	cr_expect_eq(pid, olap, "an oltp hint inside the olap transaction moved it to %s",
	             lane_by_pid(pid, oltp, olap));
	it_exec_ok(c, "COMMIT");
	/* Routing is per transaction: the next one is unhinted again. */
	pid = pid_of(c, PID_SQL);
	cr_expect_eq(pid, oltp, "after the olap transaction an unhinted one ran on %s",
	             lane_by_pid(pid, oltp, olap));
	PQfinish(c);
}

/* ---- routes ---- */

IT_TEST(lanes, route_by_application_name)
{
	start_lanes("transaction",
	            "routes = ( { application_name = \"report*\"; lane = \"olap\"; } );", NULL);
	PGconn *rep = it_connect_app("postgres", NULL, "postgres", "report_daily");
	PGconn *web = it_connect_app("postgres", NULL, "postgres", "web_report");
	long long oltp, olap;
	lane_pids(rep, &oltp, &olap);
	long long w_oltp, w_olap;
	lane_pids(web, &w_oltp, &w_olap);
	cr_expect(w_oltp == oltp && w_olap == olap, "same user and database: same pools");

	long long pid = pid_of(rep, PID_SQL);
	cr_expect_eq(pid, olap, "application_name report_daily ran on %s",
	             lane_by_pid(pid, oltp, olap));
	pid = pid_of(web, PID_SQL);
	cr_expect_eq(pid, oltp, "application_name web_report (no glob match) ran on %s",
	             lane_by_pid(pid, oltp, olap));
	/* The hint comes first. */
	pid = pid_of(rep, HINT_OLTP PID_SQL);
	cr_expect_eq(pid, oltp, "a hint did not override the route");
	cr_expect_str_eq(lane_by_log(rep, "", "it:app_rep"), "olap");
	cr_expect_str_eq(lane_by_log(web, "", "it:app_web"), "oltp");

	/* The client's current application_name counts, not the one it logged in with. */
	it_exec_ok(web, "SET application_name = 'reporting_tool'");
	pid = pid_of(web, PID_SQL);
	cr_expect_eq(pid, olap, "after SET application_name = 'reporting_tool': %s",
	             lane_by_pid(pid, oltp, olap));
	cr_expect_str_eq(lane_by_log(web, "", "it:app_set"), "olap");
	it_exec_ok(rep, "SET application_name = 'dashboard'");
	pid = pid_of(rep, PID_SQL);
	cr_expect_eq(pid, oltp, "after SET application_name = 'dashboard': %s",
	             lane_by_pid(pid, oltp, olap));
	PQfinish(web);
	PQfinish(rep);
}

IT_TEST(lanes, route_by_user)
{
	start_lanes("transaction", "routes = ( { user = \"scram_user\"; lane = \"olap\"; } );",
	            NULL);
	PGconn *s = it_connect("scram_user", NULL, "postgres");
	PGconn *p = it_connect("postgres", NULL, "postgres");
	long long s_oltp, s_olap, p_oltp, p_olap;
	lane_pids(s, &s_oltp, &s_olap);
	lane_pids(p, &p_oltp, &p_olap);
	long long pid = pid_of(s, PID_SQL);
	cr_expect_eq(pid, s_olap, "scram_user (routed to olap) ran on %s",
	             lane_by_pid(pid, s_oltp, s_olap));
	pid = pid_of(p, PID_SQL);
	cr_expect_eq(pid, p_oltp, "postgres (no route) ran on %s",
	             lane_by_pid(pid, p_oltp, p_olap));
	cr_expect_str_eq(lane_by_log(s, "", "it:user_scram"), "olap");
	cr_expect_str_eq(lane_by_log(p, "", "it:user_pg"), "oltp");

	/* A third proof: with scram_user's olap server held, its next unhinted transaction
	 * waits (it is routed to the full olap lane), while an oltp-hinted one runs. */
	PGconn *holder = it_connect("scram_user", NULL, "postgres");
	it_exec_ok(holder, HINT_OLAP "BEGIN");
	cr_expect_eq(pid_of(holder, PID_SQL), s_olap);
	cr_assert(PQsendQuery(s, "SELECT 5"));
	it_sleep_ms(500);
	cr_expect(PQconsumeInput(s) && PQisBusy(s),
	          "scram_user's transaction ran while its olap lane was full");
	PGconn *s2 = it_connect("scram_user", NULL, "postgres");
	cr_expect_eq(pid_of(s2, HINT_OLTP PID_SQL), s_oltp);
	it_exec_ok(holder, "COMMIT");
	bool to;
	PGresult *r = it_result_wait(s, 5000, &to);
	cr_expect(!to && PQresultStatus(r) == PGRES_TUPLES_OK,
	          "the waiting transaction did not run once olap was free");
	PQclear(r);
	PQfinish(s2);
	PQfinish(holder);
	PQfinish(p);
	PQfinish(s);
}

IT_TEST(lanes, route_by_database)
{
	start_lanes("transaction", "routes = ( { database = \"bench\"; lane = \"olap\"; } );",
	            NULL);
	PGconn *b = it_connect("postgres", NULL, "bench");
	PGconn *p = it_connect("postgres", NULL, "postgres");
	long long b_oltp, b_olap, p_oltp, p_olap;
	lane_pids(b, &b_oltp, &b_olap);
	lane_pids(p, &p_oltp, &p_olap);
	long long pid = pid_of(b, PID_SQL);
	cr_expect_eq(pid, b_olap, "database bench (routed to olap) ran on %s",
	             lane_by_pid(pid, b_oltp, b_olap));
	pid = pid_of(p, PID_SQL);
	cr_expect_eq(pid, p_oltp, "database postgres (no route) ran on %s",
	             lane_by_pid(pid, p_oltp, p_olap));
	cr_expect_str_eq(lane_by_log(b, "", "it:db_bench"), "olap");
	cr_expect_str_eq(lane_by_log(p, "", "it:db_pg"), "oltp");
	PQfinish(p);
	PQfinish(b);
}

IT_TEST(lanes, first_matching_route_wins)
{
	start_lanes(
	        "transaction",
	        "routes = ( { application_name = \"batch*\"; lane = \"oltp\"; },\n"
	        "           { user = \"scram_user\"; lane = \"olap\"; },\n"
	        "           { user = \"scram_user\"; database = \"bench\"; lane = \"oltp\"; } );",
	        NULL);
	PGconn *batch = it_connect_app("scram_user", NULL, "postgres", "batch_nightly");
	PGconn *plain = it_connect_app("scram_user", NULL, "bench", "other");
	long long oltp, olap, b_oltp, b_olap;
	lane_pids(batch, &oltp, &olap);
	lane_pids(plain, &b_oltp, &b_olap);
	long long pid = pid_of(batch, PID_SQL);
	cr_expect_eq(pid, oltp, "scram_user with application_name batch_nightly ran on %s",
	             lane_by_pid(pid, oltp, olap));
	pid = pid_of(plain, PID_SQL);
	cr_expect_eq(pid, b_olap, "scram_user on bench (second route before the third) ran on %s",
	             lane_by_pid(pid, b_oltp, b_olap));
	cr_expect_str_eq(lane_by_log(batch, "", "it:first_batch"), "oltp");
	cr_expect_str_eq(lane_by_log(plain, "", "it:first_plain"), "olap");
	PQfinish(plain);
	PQfinish(batch);
}

/* ---- default lane ---- */

IT_TEST(lanes, route_by_default_lane)
{
	/* database postgres: default oltp; database bench: default_lane olap. */
	const char *lane = "size = 1; slow_query = \"100ms\";";
	char pg[512], bench[512], conf[2048];
	db_entry(pg, sizeof pg, "postgres", lane, lane, NULL);
	db_entry(bench, sizeof bench, "bench", lane, lane, "default_lane = \"olap\";");
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\nlog = { format = \"json\"; };\n"
	         "pool = { mode = \"transaction\"; size = 1; query_wait_timeout = \"20s\"; };\n"
	         "databases = ( %s, %s );\n",
	         pg, bench);
	it_pglane_start(conf);
	PGconn *p = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "bench");
	long long p_oltp, p_olap, b_oltp, b_olap;
	lane_pids(p, &p_oltp, &p_olap);
	lane_pids(b, &b_oltp, &b_olap);
	for (int i = 0; i < 3; i++) {
		long long pid = pid_of(p, PID_SQL);
		cr_expect_eq(pid, p_oltp, "postgres (default oltp) ran on %s",
		             lane_by_pid(pid, p_oltp, p_olap));
		pid = pid_of(b, PID_SQL);
		cr_expect_eq(pid, b_olap, "bench (default_lane olap) ran on %s",
		             lane_by_pid(pid, b_oltp, b_olap));
	}
	cr_expect_str_eq(lane_by_log(p, "", "it:default_pg"), "oltp");
	cr_expect_str_eq(lane_by_log(b, "", "it:default_bench"), "olap");
	cr_expect_str_eq(lane_by_log(b, HINT_OLTP, "it:default_bench_hint"), "oltp");
	PQfinish(b);
	PQfinish(p);
}

IT_TEST(lanes, olap_hint_without_olap_lane_uses_oltp)
{
	char db[512], conf[1024];
	db_entry(db, sizeof db, "postgres", "size = 1;", NULL, NULL);
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"transaction\"; size = 1; query_wait_timeout = \"5s\"; };\n"
	         "databases = ( %s );\n",
	         db);
	it_pglane_start(conf);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	long long pid = pid_of(c, PID_SQL);
	cr_expect_eq(pid_of(c, HINT_OLAP PID_SQL), pid,
	             "an olap hint for a database without olap lane did not use its oltp lane");
	PQfinish(c);
}

/* ---- session mode ---- */

IT_TEST(lanes, session_mode_routes_once)
{
	start_lanes("session", NULL, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	/* a's first statement carries the olap hint: a stays on olap; b starts unhinted. */
	long long pa = pid_of(a, HINT_OLAP PID_SQL);
	long long pb = pid_of(b, PID_SQL);
	cr_assert_neq(pa, pb, "two session clients share a backend");
	for (int i = 0; i < 3; i++) {
		cr_expect_eq(pid_of(a, PID_SQL), pa, "round %d: a left its session backend", i);
		cr_expect_eq(pid_of(a, HINT_OLTP PID_SQL), pa, "round %d: a rerouted by a hint", i);
		cr_expect_eq(pid_of(b, HINT_OLAP PID_SQL), pb, "round %d: b rerouted by a hint", i);
	}
	cr_expect_str_eq(lane_by_log(a, HINT_OLTP, "it:session_a"), "olap");
	cr_expect_str_eq(lane_by_log(b, HINT_OLAP, "it:session_b"), "oltp");
	/* Each lane has one server, held by a and b: a third client, hinted to either lane,
	 * waits until one of them leaves. */
	PGconn *c = it_connect("postgres", NULL, "postgres");
	cr_assert(PQsendQuery(c, HINT_OLAP PID_SQL));
	it_sleep_ms(500);
	cr_expect(PQconsumeInput(c) && PQisBusy(c), "a third session got an olap server");
	PQfinish(a);
	bool to;
	PGresult *r = it_result_wait(c, 5000, &to);
	cr_expect(!to && PQresultStatus(r) == PGRES_TUPLES_OK,
	          "the olap server a left did not go to the waiting client");
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
		cr_expect_eq(atoll(PQgetvalue(r, 0, 0)), pa,
		             "the waiting client got another backend");
	PQclear(r);
	PQfinish(c);
	PQfinish(b);
}

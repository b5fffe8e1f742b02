/* tests/integration/test_slowlog.c — the slow query log (issue 4): a statement of a lane that
 * runs longer than the lane's slow_query threshold is one log event `slow_query` (one JSON
 * object per line with log.format = "json", a readable line in text format) with database,
 * user, lane, application_name, client, duration_ms, wait_ms and the statement text — the
 * Parse's text for extended-protocol statements, never the parameter values, and nothing
 * after the word "password". Fast statements and lanes with slow_query "0" log nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"
#include "tests/integration/slowq.h"

TestSuite(slowlog, .fini = it_pglane_fini, .timeout = 60);

/* pglane with database postgres: oltp slow_query `oltp_slow`, olap `olap_slow`. */
static struct it_pglane *start_slowlog(const char *format, const char *mode, const char *oltp_slow,
                                       const char *olap_slow)
{
	char conf[2048];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "log = { format = \"%s\"; };\n"
	         "pool = { mode = \"%s\"; size = 2; query_wait_timeout = \"20s\"; };\n"
	         "databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"
	         "  oltp = { size = 1; slow_query = \"%s\"; };\n"
	         "  olap = { size = 1; slow_query = \"%s\"; }; } );\n",
	         format, mode, oltp_slow, olap_slow);
	return it_pglane_start(conf);
}

/* The event for `marker` (waiting up to 3 s); fails the test when there is none, it is
 * incomplete or the log has lines that are not JSON. */
static struct slowq_event expect_event(const char *marker)
{
	struct slowq_event e;
	cr_assert(slowq_wait(marker, 3000, &e), "no slow_query event for `%s`", marker);
	cr_expect(e.complete, "event for `%s` is incomplete: %s", marker, e.problem);
	struct slowq_log log;
	slowq_read(&log);
	cr_expect_eq(log.bad_lines, 0, "%d log lines are not JSON objects, first: %s",
	             log.bad_lines, log.first_bad);
	cr_expect_eq(slowq_count(&log, marker), 1, "%d events for `%s`", slowq_count(&log, marker),
	             marker);
	slowq_free(&log);
	return e;
}

static void expect_no_event(const char *marker)
{
	struct slowq_log log;
	slowq_read(&log);
	cr_expect_eq(slowq_count(&log, marker), 0, "a slow_query event for `%s`: %s", marker,
	             slowq_find(&log, marker) ? slowq_find(&log, marker)->query : "");
	slowq_free(&log);
}

/* The whole log must not hold `secret`. */
static void expect_not_in_log(const char *secret)
{
	char *log = it_pglane_log();
	const char *at = strstr(log, secret);
	cr_expect(!at, "the log holds `%s`: ...%.200s", secret, at ? at : "");
	free(log);
}

IT_TEST(slowlog, simple_query_event_fields)
{
	start_slowlog("json", "transaction", "200ms", "10s");
	PGconn *c = it_connect_app("postgres", NULL, "postgres", "it_slow_app");
	const char *sql = "SELECT pg_sleep(0.3) /* it:simple_slow */";
	int64_t t0 = it_now_ms();
	it_exec_ok(c, sql);
	int64_t took = it_now_ms() - t0;
	it_exec_ok(c, "SELECT 1 /* it:simple_fast */");
	it_exec_ok(c, "SELECT pg_sleep(0.05) /* it:simple_fast2 */");
	struct slowq_event e = expect_event("it:simple_slow");
	cr_expect_str_eq(e.query, sql);
	cr_expect_str_eq(e.database, "postgres");
	cr_expect_str_eq(e.user, "postgres");
	cr_expect_str_eq(e.lane, "oltp");
	cr_expect_str_eq(e.application_name, "it_slow_app");
	cr_expect(strstr(e.client, "127.0.0.1"), "client field: %s", e.client);
	cr_expect(e.duration_ms >= 290 && e.duration_ms <= took + 50,
	          "duration_ms %.3f for a 300 ms statement the client saw take %lld ms",
	          e.duration_ms, (long long)took);
	cr_expect(e.wait_ms >= 0 && e.wait_ms < 100, "wait_ms %.3f without any wait", e.wait_ms);
	expect_no_event("it:simple_fast");
	/* Only the slow statement of a multi-statement transaction is logged, with its text. */
	it_exec_ok(c, "BEGIN");
	it_exec_ok(c, "SELECT 2 /* it:tx_fast */");
	it_exec_ok(c, "SELECT pg_sleep(0.25) /* it:tx_slow */");
	it_exec_ok(c, "COMMIT");
	e = expect_event("it:tx_slow");
	cr_expect_str_eq(e.query, "SELECT pg_sleep(0.25) /* it:tx_slow */");
	cr_expect(e.duration_ms >= 240 && e.duration_ms < 2000, "duration_ms %.3f", e.duration_ms);
	expect_no_event("it:tx_fast");
	PQfinish(c);
}

IT_TEST(slowlog, lane_thresholds)
{
	start_slowlog("json", "transaction", "200ms", "0");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	/* olap: slow_query "0" is off, whatever the duration. */
	it_exec_ok(c, "/* lane: olap */ SELECT pg_sleep(0.4) /* it:olap_off */");
	it_exec_ok(c, "SELECT pg_sleep(0.25) /* it:oltp_on */");
	struct slowq_event e = expect_event("it:oltp_on");
	cr_expect_str_eq(e.lane, "oltp");
	expect_no_event("it:olap_off");
	PQfinish(c);
	it_pglane_finish();

	start_slowlog("json", "transaction", "2s", "200ms");
	c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "/* lane: olap */ SELECT pg_sleep(0.3) /* it:olap_low */");
	it_exec_ok(c, "SELECT pg_sleep(0.3) /* it:oltp_high */");
	e = expect_event("it:olap_low");
	cr_expect_str_eq(e.lane, "olap");
	cr_expect_str_eq(e.query, "/* lane: olap */ SELECT pg_sleep(0.3) /* it:olap_low */");
	expect_no_event("it:oltp_high");
	PQfinish(c);
}

IT_TEST(slowlog, extended_protocol_text_without_parameters)
{
	start_slowlog("json", "transaction", "200ms", "10s");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	const char *sql = "SELECT pg_sleep($1::float8), $2::text /* it:ext_params */";
	const char *params[] = {"0.3", "it_param_value_4711"};
	PGresult *r = PQexecParams(c, sql, 2, NULL, params, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	const char *fast[] = {"0", "it_param_fast_4712"};
	r = PQexecParams(c, "SELECT pg_sleep($1::float8), $2::text /* it:ext_fast */", 2, NULL,
	                 fast, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	struct slowq_event e = expect_event("it:ext_params");
	cr_expect_str_eq(e.query, sql, "the event's text is not the Parse's");
	cr_expect_str_eq(e.lane, "oltp");
	cr_expect(e.duration_ms >= 290 && e.duration_ms < 3000, "duration_ms %.3f", e.duration_ms);
	expect_no_event("it:ext_fast");
	expect_not_in_log("it_param_value_4711");
	expect_not_in_log("it_param_fast_4712");
	PQfinish(c);
}

/* Named prepared statements in transaction mode: each slow execution is logged with the
 * statement's text, also when it runs on a server it was not first parsed on and inside an
 * explicit transaction. */
IT_TEST(slowlog, prepared_statements_in_transaction_mode)
{
	start_slowlog("json", "transaction", "200ms", "200ms");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	const char *sql = "SELECT pg_sleep($1::float8), $2::text AS v /* it:prep */";
	PGresult *r = PQprepare(c, "it_prep", sql, 0, NULL);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	const char *p1[] = {"0.25", "it_prep_secret_1"};
	r = PQexecPrepared(c, "it_prep", 2, p1, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	it_exec_ok(c, "BEGIN");
	const char *p2[] = {"0.25", "it_prep_secret_2"};
	r = PQexecPrepared(c, "it_prep", 2, p2, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	it_exec_ok(c, "COMMIT");
	const char *p3[] = {"0", "it_prep_secret_3"};
	r = PQexecPrepared(c, "it_prep", 2, p3, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);

	struct slowq_event e;
	cr_assert(slowq_wait("it:prep", 3000, &e),
	          "no slow_query event for the prepared statement");
	int64_t deadline = it_now_ms() + 3000;
	struct slowq_log log;
	for (;;) {
		slowq_read(&log);
		if (slowq_count(&log, "it:prep") >= 2 || it_now_ms() > deadline)
			break;
		slowq_free(&log);
		it_sleep_ms(100);
	}
	cr_expect_eq(slowq_count(&log, "it:prep"), 2,
	             "%d events for two slow executions and one fast one",
	             slowq_count(&log, "it:prep"));
	for (size_t i = 0; i < log.n; i++) {
		if (!strstr(log.ev[i].query, "it:prep"))
			continue;
		cr_expect(log.ev[i].complete, "incomplete: %s", log.ev[i].problem);
		cr_expect_str_eq(log.ev[i].query, sql);
		cr_expect(log.ev[i].duration_ms >= 240 && log.ev[i].duration_ms < 3000,
		          "duration_ms %.3f", log.ev[i].duration_ms);
	}
	slowq_free(&log);

	/* A hinted prepared statement: its executions are logged in the olap lane. */
	r = PQprepare(c, "it_prep_olap",
	              "/* lane: olap */ SELECT pg_sleep(0.25) /* it:prep_olap */", 0, NULL);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	r = PQexecPrepared(c, "it_prep_olap", 0, NULL, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	cr_expect_str_eq(slowq_lane("it:prep_olap"), "olap");
	expect_not_in_log("it_prep_secret_1");
	expect_not_in_log("it_prep_secret_2");
	expect_not_in_log("it_prep_secret_3");
	PQfinish(c);
}

IT_TEST(slowlog, password_masked)
{
	start_slowlog("json", "transaction", "200ms", "10s");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "SELECT pg_sleep(0.25) /* it:pw_lit */, 'password' || 'it_pw_tail_91'");
	struct slowq_event e = expect_event("it:pw_lit");
	cr_expect_str_eq(e.query, "SELECT pg_sleep(0.25) /* it:pw_lit */, 'password ***");
	expect_not_in_log("it_pw_tail_91");

	/* ALTER ROLE ... PASSWORD made slow: an admin transaction holds a lock on pg_authid. */
	PGconn *admin = it_connect_admin();
	it_exec_ok(admin, "DROP ROLE IF EXISTS it_pw_role");
	it_exec_ok(admin, "CREATE ROLE it_pw_role");
	it_exec_ok(admin, "BEGIN");
	it_exec_ok(admin, "LOCK TABLE pg_authid IN SHARE MODE");
	cr_assert(PQsendQuery(c, "ALTER ROLE it_pw_role PASSWORD 'it_pw_secret_77'"));
	it_sleep_ms(400);
	it_exec_ok(admin, "COMMIT");
	bool to;
	PGresult *r = it_result_wait(c, 5000, &to);
	cr_expect(!to && PQresultStatus(r) == PGRES_COMMAND_OK, "ALTER ROLE: %s",
	          r ? PQresultErrorMessage(r) : "timeout");
	PQclear(r);
	it_exec_ok(admin, "BEGIN");
	it_exec_ok(admin, "LOCK TABLE pg_authid IN SHARE MODE");
	cr_assert(PQsendQueryParams(c, "ALTER ROLE it_pw_role WITH Password 'it_pw_secret_78'", 0,
	                            NULL, NULL, NULL, NULL, 0));
	it_sleep_ms(400);
	it_exec_ok(admin, "COMMIT");
	r = it_result_wait(c, 5000, &to);
	cr_expect(!to && PQresultStatus(r) == PGRES_COMMAND_OK, "ALTER ROLE (extended): %s",
	          r ? PQresultErrorMessage(r) : "timeout");
	PQclear(r);
	e = expect_event("it_pw_role password");
	cr_expect_str_eq(e.query, "ALTER ROLE it_pw_role password ***");
	e = expect_event("it_pw_role WITH password");
	cr_expect_str_eq(e.query, "ALTER ROLE it_pw_role WITH password ***");
	expect_not_in_log("it_pw_secret_77");
	expect_not_in_log("it_pw_secret_78");
	it_exec_ok(admin, "DROP ROLE it_pw_role");
	PQfinish(admin);
	PQfinish(c);
}

IT_TEST(slowlog, wait_ms_counts_the_wait)
{
	start_slowlog("json", "transaction", "200ms", "10s");
	PGconn *holder = it_connect("postgres", NULL, "postgres");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(holder, "BEGIN");
	it_exec_ok(holder, "SELECT 1"); /* the oltp lane's only server */
	cr_assert(PQsendQuery(c, "SELECT pg_sleep(0.3) /* it:waited */"));
	it_sleep_ms(600);
	it_exec_ok(holder, "COMMIT");
	bool to;
	PGresult *r = it_result_wait(c, 5000, &to);
	cr_expect(!to && PQresultStatus(r) == PGRES_TUPLES_OK, "the waiting query failed");
	PQclear(r);
	struct slowq_event e = expect_event("it:waited");
	cr_expect(e.wait_ms >= 500 && e.wait_ms < 3000, "wait_ms %.3f after a ~600 ms wait",
	          e.wait_ms);
	cr_expect(e.duration_ms >= 290 && e.duration_ms < 800,
	          "duration_ms %.3f: a 300 ms statement (the wait is not part of it)",
	          e.duration_ms);
	/* The next transaction did not wait. */
	it_exec_ok(c, "SELECT pg_sleep(0.25) /* it:not_waited */");
	e = expect_event("it:not_waited");
	cr_expect(e.wait_ms < 100, "wait_ms %.3f without a wait", e.wait_ms);
	PQfinish(c);
	PQfinish(holder);
}

IT_TEST(slowlog, text_format_line)
{
	start_slowlog("text", "transaction", "200ms", "10s");
	PGconn *c = it_connect_app("postgres", NULL, "postgres", "it_text_app");
	it_exec_ok(c, "SELECT pg_sleep(0.3) /* it:text_slow */");
	it_exec_ok(c, "SELECT 1 /* it:text_fast */");
	char *line = NULL;
	int64_t deadline = it_now_ms() + 3000;
	char *log = NULL;
	for (;;) {
		free(log);
		log = it_pglane_log();
		for (char *save = NULL, *l = strtok_r(log, "\n", &save); l && !line;
		     l = strtok_r(NULL, "\n", &save))
			if (strstr(l, "it:text_slow"))
				line = l;
		if (line || it_now_ms() > deadline)
			break;
		it_sleep_ms(100);
	}
	cr_assert(line, "no log line for the slow statement in text format");
	cr_log_info("text line: %s", line);
	cr_expect_neq(line[0], '{', "a JSON line in text format: %s", line);
	cr_expect(strstr(line, "slow_query"), "no event name: %s", line);
	cr_expect(strstr(line, "lane=\"oltp\"") || strstr(line, "lane=oltp"), "no lane: %s", line);
	cr_expect(strstr(line, "it_text_app"), "no application_name: %s", line);
	cr_expect(strstr(line, "duration_ms="), "no duration: %s", line);
	cr_expect(strstr(line, "SELECT pg_sleep(0.3) /* it:text_slow */"), "no query text: %s",
	          line);
	free(log);
	log = it_pglane_log();
	cr_expect(!strstr(log, "it:text_fast"), "the fast statement is in the log");
	free(log);
	PQfinish(c);
}

IT_TEST(slowlog, session_mode)
{
	start_slowlog("json", "session", "200ms", "10s");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "SELECT pg_sleep(0.25) /* it:session_slow */");
	const char *params[] = {"0.25"};
	PGresult *r = PQexecParams(c, "SELECT pg_sleep($1::float8) /* it:session_ext */", 1, NULL,
	                           params, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	struct slowq_event e = expect_event("it:session_slow");
	cr_expect_str_eq(e.query, "SELECT pg_sleep(0.25) /* it:session_slow */");
	e = expect_event("it:session_ext");
	cr_expect_str_eq(e.query, "SELECT pg_sleep($1::float8) /* it:session_ext */");
	PQfinish(c);
}

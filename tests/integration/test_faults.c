/* tests/integration/test_faults.c — issue 18 item 1, "a dead server is an error, not a
 * disconnect", one libpq client at a time (under load: test_faults_load.c):
 *   - a client whose server dies inside a transaction block or with a statement in flight:
 *     ERROR 08006 "server connection lost...", then PostgreSQL's answers in a failed transaction
 *     (25P02; COMMIT/END answered ROLLBACK; ROLLBACK TO / RELEASE refused), simple and extended
 *     protocol and pipelines, nothing of the transaction in the database;
 *   - a pipeline of three batches whose server dies in the first; COPY FROM STDIN interrupted,
 *     outside and inside a block; a server ignoring its statement_timeout cancel (SIGSTOP);
 *   - session mode: settings re-applied on the new server; pinned sessions (advisory lock, temp
 *     table, LISTEN, SQL PREPARE, protocol Parse; transaction mode: advisory lock) disconnected.
 * Backends are killed on the shared cluster (database bench); tables faults_* dropped after. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

#define ANSWER_MS   5000 /* bound on one statement's answer */
#define LOST_PREFIX "server connection lost"

static int g_stopped_backend; /* SIGSTOPped by a test: SIGCONT in .fini */

/* A superuser connection straight to database bench, its notices dropped (DROP TABLE IF
 * EXISTS's). */
static PGconn *bench_admin(void)
{
	PGconn *c = it_connect_direct("postgres", NULL, "bench");
	it_notices_off(c);
	return c;
}

static void faults_fini(void)
{
	if (g_stopped_backend > 0)
		kill(g_stopped_backend, SIGCONT);
	it_pglane_fini();
	it_drop_tables("faults_rows, faults_copy");
}

TestSuite(faults, .fini = faults_fini, .timeout = 60);

/* ---- one statement, bounded ---- */

/* Run `sql` (params: none, or one text parameter when `param` is set, extended protocol), wait
 * ANSWER_MS at most; the last result (the caller PQclear()s it). Fails the test on timeout. */
static PGresult *exec_bounded(PGconn *c, const char *sql, bool extended)
{
	int sent = extended ? PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0)
	                    : PQsendQuery(c, sql);
	cr_assert(sent, "sending `%s`: %s", sql, PQerrorMessage(c));
	int64_t deadline = it_now_ms() + ANSWER_MS;
	PGresult *last = NULL;
	for (;;) {
		while (PQisBusy(c)) {
			int left = (int)(deadline - it_now_ms());
			cr_assert(left > 0, "`%s`: no answer within %d ms", sql, ANSWER_MS);
			struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
			cr_assert(poll(&p, 1, left) >= 0);
			if (!PQconsumeInput(c))
				break;
		}
		PGresult *r = PQgetResult(c);
		if (!r)
			return last;
		PQclear(last);
		last = r;
		if (PQresultStatus(r) == PGRES_COPY_IN || PQresultStatus(r) == PGRES_COPY_OUT)
			return r; /* PQgetResult would return it again and again */
	}
}

static const char *severity(const PGresult *r)
{
	const char *s = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
	return s ? s : "";
}

/* `sql` must fail with ERROR `state` (and for 08006 the lost-server message), the connection
 * stay usable and the transaction status be `ts` afterwards. */
static void expect_error_ext(PGconn *c, const char *sql, bool extended, const char *state,
                             PGTransactionStatusType ts)
{
	PGresult *r = exec_bounded(c, sql, extended);
	cr_assert(r, "`%s`: no result (%s)", sql, PQerrorMessage(c));
	cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "`%s`: %s, not an error", sql,
	             PQresStatus(PQresultStatus(r)));
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	cr_assert_str_eq(severity(r), "ERROR", "`%s`: severity %s (%s)", sql, severity(r),
	                 PQresultErrorMessage(r));
	if (state)
		cr_assert_str_eq(it_sqlstate(r), state, "`%s`: %s", sql, PQresultErrorMessage(r));
	if (state && strcmp(state, "08006") == 0)
		cr_assert(msg && strncmp(msg, LOST_PREFIX, strlen(LOST_PREFIX)) == 0,
		          "`%s`: message `%s`", sql, msg ? msg : "");
	PQclear(r);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "`%s`: connection lost: %s", sql,
	             PQerrorMessage(c));
	cr_assert_eq(PQtransactionStatus(c), ts, "`%s`: transaction status %d, expected %d", sql,
	             PQtransactionStatus(c), ts);
}

static void expect_error(PGconn *c, const char *sql, const char *state, PGTransactionStatusType ts)
{
	expect_error_ext(c, sql, false, state, ts);
}

/* `sql` must succeed with command tag `tag` and leave transaction status `ts`. */
static void expect_tag_ext(PGconn *c, const char *sql, bool extended, const char *tag,
                           PGTransactionStatusType ts)
{
	PGresult *r = exec_bounded(c, sql, extended);
	cr_assert(r, "`%s`: no result (%s)", sql, PQerrorMessage(c));
	ExecStatusType st = PQresultStatus(r);
	cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "`%s`: %s %s", sql,
	          PQresStatus(st), PQresultErrorMessage(r));
	cr_assert_str_eq(PQcmdStatus(r), tag, "`%s`: tag %s, expected %s", sql, PQcmdStatus(r),
	                 tag);
	PQclear(r);
	cr_assert_eq(PQtransactionStatus(c), ts, "`%s`: transaction status %d, expected %d", sql,
	             PQtransactionStatus(c), ts);
}

static void expect_tag(PGconn *c, const char *sql, const char *tag, PGTransactionStatusType ts)
{
	expect_tag_ext(c, sql, false, tag, ts);
}

static long long query_ll(PGconn *c, const char *sql)
{
	PGresult *r = exec_bounded(c, sql, false);
	cr_assert(r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "`%s`: %s", sql,
	          r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	long long v = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* ---- killing backends of the shared cluster ---- */

/* pg_terminate_backend(pid) and wait (3 s at most) until it is gone, then 100 ms more so that
 * pglane has read the EOF (either order must work; this one is the deterministic one). */
static void kill_backend(long long pid)
{
	PGconn *a = it_connect_admin();
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)::int", pid);
	cr_assert_eq(it_query_ll(a, sql), 1, "backend %lld was not there to kill", pid);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld", pid);
	int i = 0;
	while (it_query_ll(a, sql) != 0 && i++ < 150)
		it_sleep_ms(20);
	cr_assert_lt(i, 150, "backend %lld still there 3 s after pg_terminate_backend", pid);
	PQfinish(a);
	it_sleep_ms(100);
}

/* ---- one client, its server killed ---- */

static PGconn *rows_client(void)
{
	PGconn *a = bench_admin();
	it_exec_ok(a, "DROP TABLE IF EXISTS faults_rows");
	it_exec_ok(a, "CREATE TABLE faults_rows (v text)");
	PQfinish(a);
	it_pglane_start_simple("transaction", 2, NULL);
	return it_connect("postgres", NULL, "bench");
}

static long long rows_in_db(void)
{
	PGconn *a = bench_admin();
	long long n = it_query_ll(a, "SELECT count(*) FROM faults_rows");
	PQfinish(a);
	return n;
}

/* BEGIN and an INSERT; the backend's pid. */
static long long begin_insert(PGconn *c)
{
	expect_tag(c, "BEGIN", "BEGIN", PQTRANS_INTRANS);
	expect_tag(c, "INSERT INTO faults_rows VALUES ('lost')", "INSERT 0 1", PQTRANS_INTRANS);
	return query_ll(c, "SELECT pg_backend_pid()");
}

/* The connection works, on a server other than `dead_pid`. */
static void works_elsewhere(PGconn *c, long long dead_pid)
{
	cr_assert_neq(query_ll(c, "SELECT pg_backend_pid()"), dead_pid);
	cr_assert_eq(query_ll(c, "SELECT 7 * 6"), 42);
	cr_assert_eq(PQtransactionStatus(c), PQTRANS_IDLE);
}

IT_TEST(faults, commit_after_kill_in_block)
{
	PGconn *c = rows_client();
	long long pid = begin_insert(c);
	kill_backend(pid);
	expect_error(c, "COMMIT", "08006", PQTRANS_IDLE);
	cr_assert_eq(rows_in_db(), 0);
	works_elsewhere(c, pid);
	pid = begin_insert(c);
	kill_backend(pid);
	expect_error(c, "END", "08006", PQTRANS_IDLE);
	cr_assert_eq(rows_in_db(), 0);
	works_elsewhere(c, pid);
	PQfinish(c);
}

IT_TEST(faults, rollback_after_kill_in_block)
{
	PGconn *c = rows_client();
	long long pid = begin_insert(c);
	kill_backend(pid);
	expect_tag(c, "ROLLBACK", "ROLLBACK", PQTRANS_IDLE);
	works_elsewhere(c, pid);
	pid = begin_insert(c);
	kill_backend(pid);
	expect_tag(c, "ABORT", "ROLLBACK", PQTRANS_IDLE);
	works_elsewhere(c, pid);
	pid = begin_insert(c); /* first an error, then ROLLBACK */
	kill_backend(pid);
	expect_error(c, "SELECT 1", "08006", PQTRANS_INERROR);
	expect_tag(c, "ROLLBACK", "ROLLBACK", PQTRANS_IDLE);
	cr_assert_eq(rows_in_db(), 0);
	works_elsewhere(c, pid);
	PQfinish(c);
}

IT_TEST(faults, failed_transaction_after_kill_in_block)
{
	PGconn *c = rows_client();
	long long pid = begin_insert(c);
	expect_tag(c, "SAVEPOINT s1", "SAVEPOINT", PQTRANS_INTRANS);
	expect_tag(c, "INSERT INTO faults_rows VALUES ('lost2')", "INSERT 0 1", PQTRANS_INTRANS);
	kill_backend(pid);
	expect_error(c, "INSERT INTO faults_rows VALUES ('after')", "08006", PQTRANS_INERROR);
	expect_error(c, "SELECT 1", "25P02", PQTRANS_INERROR);
	expect_error(c, "ROLLBACK TO SAVEPOINT s1", NULL, PQTRANS_INERROR);
	expect_error(c, "RELEASE s1", NULL, PQTRANS_INERROR);
	expect_error(c, "INSERT INTO faults_rows VALUES ('after2')", "25P02", PQTRANS_INERROR);
	expect_tag(c, "COMMIT", "ROLLBACK", PQTRANS_IDLE);
	cr_assert_eq(rows_in_db(), 0);
	works_elsewhere(c, pid);
	PQfinish(c);
}

IT_TEST(faults, statement_in_flight_killed)
{
	PGconn *c = rows_client();
	/* outside a block: the statement's own server dies under it */
	long long pid = query_ll(c, "SELECT pg_backend_pid()");
	expect_error(c, "SELECT pg_terminate_backend(pg_backend_pid())", "08006", PQTRANS_IDLE);
	works_elsewhere(c, pid);
	/* a long statement killed from outside */
	cr_assert(PQsendQuery(c, "SELECT pg_sleep(30)"));
	PGconn *a = it_connect_admin();
	cr_assert_geq(
	        it_wait_backends(a, 1, 3000, "active", NULL, NULL, "SELECT pg_sleep(30)", NULL), 0,
	        "the pg_sleep never ran");
	it_exec_ok(a, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	              "WHERE query = 'SELECT pg_sleep(30)' AND pid <> pg_backend_pid()");
	PQfinish(a);
	bool timed_out = false;
	int64_t t0 = it_now_ms();
	PGresult *r = it_result_wait(c, ANSWER_MS, &timed_out);
	cr_assert(r && !timed_out, "no answer to the killed pg_sleep: %s", PQerrorMessage(c));
	cr_assert_str_eq(it_sqlstate(r), "08006", "%s", PQresultErrorMessage(r));
	cr_assert_str_eq(severity(r), "ERROR");
	PQclear(r);
	cr_log_info("killed pg_sleep answered in %lld ms", (long long)(it_now_ms() - t0));
	cr_assert_eq(PQstatus(c), CONNECTION_OK);
	works_elsewhere(c, pid);
	/* inside a block */
	pid = begin_insert(c);
	expect_error(c, "SELECT pg_terminate_backend(pg_backend_pid())", "08006", PQTRANS_INERROR);
	expect_tag(c, "END", "ROLLBACK", PQTRANS_IDLE);
	cr_assert_eq(rows_in_db(), 0);
	works_elsewhere(c, pid);
	PQfinish(c);
}

IT_TEST(faults, extended_protocol_after_kill_in_block)
{
	PGconn *c = rows_client();
	expect_tag_ext(c, "BEGIN", true, "BEGIN", PQTRANS_INTRANS);
	expect_tag_ext(c, "INSERT INTO faults_rows VALUES ('ext')", true, "INSERT 0 1",
	               PQTRANS_INTRANS);
	long long pid = query_ll(c, "SELECT pg_backend_pid()");
	kill_backend(pid);
	expect_error_ext(c, "SELECT 1", true, "08006", PQTRANS_INERROR);
	expect_error_ext(c, "INSERT INTO faults_rows VALUES ('ext2')", true, "25P02",
	                 PQTRANS_INERROR);
	expect_tag_ext(c, "COMMIT", true, "ROLLBACK", PQTRANS_IDLE);
	cr_assert_eq(rows_in_db(), 0);
	/* the same with ROLLBACK over the extended protocol */
	expect_tag_ext(c, "BEGIN", true, "BEGIN", PQTRANS_INTRANS);
	pid = query_ll(c, "SELECT pg_backend_pid()");
	kill_backend(pid);
	expect_error_ext(c, "SELECT 2", true, "08006", PQTRANS_INERROR);
	expect_tag_ext(c, "ROLLBACK", true, "ROLLBACK", PQTRANS_IDLE);
	works_elsewhere(c, pid);
	PQfinish(c);
}

/* ---- pipeline, COPY ---- */

/* The next result in pipeline mode (NULL between queries), ANSWER_MS at most. */
static PGresult *next_result(PGconn *c)
{
	int64_t deadline = it_now_ms() + ANSWER_MS;
	while (PQisBusy(c)) {
		int left = (int)(deadline - it_now_ms());
		cr_assert(left > 0, "pipeline: no result within %d ms", ANSWER_MS);
		struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
		cr_assert(poll(&p, 1, left) >= 0);
		cr_assert(PQconsumeInput(c), "pipeline: %s", PQerrorMessage(c));
	}
	return PQgetResult(c);
}

/* The next result has status `st` (and, for rows, the value `v`; for an error, `state`); with
 * `query_end` the NULL that ends a query's results follows. */
static void pipeline_expect(PGconn *c, ExecStatusType st, long long v, const char *state,
                            const char *what)
{
	PGresult *r = next_result(c);
	cr_assert(r, "%s: no result (%s)", what, PQerrorMessage(c));
	cr_assert_eq(PQresultStatus(r), st, "%s: %s, expected %s (%s)", what,
	             PQresStatus(PQresultStatus(r)), PQresStatus(st), PQresultErrorMessage(r));
	if (st == PGRES_TUPLES_OK)
		cr_assert_eq(atoll(PQgetvalue(r, 0, 0)), v, "%s: value", what);
	if (state) {
		cr_assert_str_eq(it_sqlstate(r), state, "%s: %s", what, PQresultErrorMessage(r));
		cr_assert_str_eq(severity(r), "ERROR", "%s", what);
	}
	PQclear(r);
	if (st != PGRES_PIPELINE_SYNC)
		cr_assert_null(next_result(c), "%s: more than one result", what);
}

static void pipeline_send(PGconn *c, const char *sql)
{
	cr_assert(PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0), "%s", PQerrorMessage(c));
}

/* Three batches, the server killing itself in the first one's second statement. */
static PGconn *pipeline_three_batches(long long *pid)
{
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *c = it_connect("postgres", NULL, "bench");
	*pid = query_ll(c, "SELECT pg_backend_pid()");
	cr_assert(PQenterPipelineMode(c));
	pipeline_send(c, "SELECT 1");
	pipeline_send(c, "SELECT pg_terminate_backend(pg_backend_pid())");
	pipeline_send(c, "SELECT 2");
	cr_assert(PQpipelineSync(c));
	pipeline_send(c, "SELECT 3");
	cr_assert(PQpipelineSync(c));
	pipeline_send(c, "SELECT 4");
	pipeline_send(c, "SELECT 5");
	cr_assert(PQpipelineSync(c));
	cr_assert_eq(PQflush(c), 0);
	pipeline_expect(c, PGRES_TUPLES_OK, 1, NULL, "batch 1, SELECT 1");
	pipeline_expect(c, PGRES_FATAL_ERROR, 0, "08006", "batch 1, the killed statement");
	pipeline_expect(c, PGRES_PIPELINE_ABORTED, 0, NULL, "batch 1, SELECT 2 skipped");
	pipeline_expect(c, PGRES_PIPELINE_SYNC, 0, NULL, "batch 1, Sync");
	return c;
}

/* A later batch's statement: its value, or (what pglane does for requests it had already sent
 * to the dead server) ERROR 08006; either way the Sync follows. Returns whether it ran. */
static bool later_statement(PGconn *c, long long v, const char *what)
{
	PGresult *r = next_result(c);
	cr_assert(r, "%s: no result (%s)", what, PQerrorMessage(c));
	ExecStatusType st = PQresultStatus(r);
	bool ran = st == PGRES_TUPLES_OK;
	if (ran)
		cr_assert_eq(atoll(PQgetvalue(r, 0, 0)), v, "%s: value", what);
	else if (st == PGRES_FATAL_ERROR)
		cr_assert_str_eq(it_sqlstate(r), "08006", "%s: %s", what, PQresultErrorMessage(r));
	else
		cr_assert(st == PGRES_PIPELINE_ABORTED, "%s: %s", what, PQresStatus(st));
	PQclear(r);
	cr_assert_null(next_result(c), "%s: more than one result", what);
	return ran;
}

IT_TEST(faults, pipeline_server_dies_in_first_batch)
{
	long long pid;
	PGconn *c = pipeline_three_batches(&pid);
	bool ran2 = later_statement(c, 3, "batch 2, SELECT 3");
	pipeline_expect(c, PGRES_PIPELINE_SYNC, 0, NULL, "batch 2, Sync");
	bool ran3 = later_statement(c, 4, "batch 3, SELECT 4");
	later_statement(c, 5, "batch 3, SELECT 5");
	pipeline_expect(c, PGRES_PIPELINE_SYNC, 0, NULL, "batch 3, Sync");
	cr_log_info("pipeline: batch 2 %s, batch 3 %s", ran2 ? "ran" : "answered 08006",
	            ran3 ? "ran" : "answered 08006");
	/* the same connection, a new pipeline: all of it runs */
	pipeline_send(c, "SELECT 6");
	cr_assert(PQpipelineSync(c));
	pipeline_send(c, "SELECT 7");
	cr_assert(PQpipelineSync(c));
	cr_assert_eq(PQflush(c), 0);
	pipeline_expect(c, PGRES_TUPLES_OK, 6, NULL, "next pipeline, SELECT 6");
	pipeline_expect(c, PGRES_PIPELINE_SYNC, 0, NULL, "next pipeline, Sync");
	pipeline_expect(c, PGRES_TUPLES_OK, 7, NULL, "next pipeline, SELECT 7");
	pipeline_expect(c, PGRES_PIPELINE_SYNC, 0, NULL, "next pipeline, Sync");
	cr_assert(PQexitPipelineMode(c), "%s", PQerrorMessage(c));
	cr_assert_eq(PQstatus(c), CONNECTION_OK);
	works_elsewhere(c, pid);
	PQfinish(c);
}

/* In a transaction block whose server died: a pipeline's first statement is told 08006, the
 * rest is skipped to the Sync (status E); a COMMIT in the next batch is answered ROLLBACK. */
IT_TEST(faults, pipeline_in_lost_transaction_block)
{
	PGconn *c = rows_client();
	long long pid = begin_insert(c);
	kill_backend(pid);
	cr_assert(PQenterPipelineMode(c));
	pipeline_send(c, "INSERT INTO faults_rows VALUES ('p1')");
	pipeline_send(c, "SELECT 2");
	cr_assert(PQpipelineSync(c));
	pipeline_send(c, "COMMIT");
	cr_assert(PQpipelineSync(c));
	cr_assert_eq(PQflush(c), 0);
	pipeline_expect(c, PGRES_FATAL_ERROR, 0, "08006", "first statement after the loss");
	pipeline_expect(c, PGRES_PIPELINE_ABORTED, 0, NULL, "SELECT 2 skipped");
	/* status E now (libpq's PQtransactionStatus says ACTIVE while the pipeline is busy) */
	pipeline_expect(c, PGRES_PIPELINE_SYNC, 0, NULL, "Sync");
	PGresult *r = next_result(c);
	cr_assert(r && PQresultStatus(r) == PGRES_COMMAND_OK, "COMMIT: %s",
	          r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	cr_assert_str_eq(PQcmdStatus(r), "ROLLBACK");
	PQclear(r);
	cr_assert_null(next_result(c));
	pipeline_expect(c, PGRES_PIPELINE_SYNC, 0, NULL, "Sync after COMMIT");
	cr_assert(PQexitPipelineMode(c), "%s", PQerrorMessage(c));
	cr_assert_eq(PQtransactionStatus(c), PQTRANS_IDLE);
	cr_assert_eq(rows_in_db(), 0);
	works_elsewhere(c, pid);
	PQfinish(c);
}

/* The pid of the backend running `COPY faults_copy...` (3 s at most). */
static long long copy_backend(void)
{
	PGconn *a = it_connect_admin();
	long long pid = 0;
	for (int i = 0; i < 150 && pid <= 0; i++, it_sleep_ms(20))
		pid = it_query_ll(
		        a, "SELECT coalesce(max(pid), 0) FROM pg_stat_activity "
		           "WHERE query LIKE 'COPY faults_copy%' AND pid <> pg_backend_pid()");
	PQfinish(a);
	cr_assert_gt(pid, 0, "the COPY never showed in pg_stat_activity");
	return pid;
}

IT_TEST(faults, copy_from_stdin_interrupted)
{
	PGconn *a = bench_admin();
	it_exec_ok(a, "DROP TABLE IF EXISTS faults_copy");
	it_exec_ok(a, "CREATE TABLE faults_copy (v int)");
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *c = it_connect("postgres", NULL, "bench");
	PGresult *r = exec_bounded(c, "COPY faults_copy FROM STDIN", false);
	cr_assert_eq(PQresultStatus(r), PGRES_COPY_IN, "%s", PQresultErrorMessage(r));
	PQclear(r);
	cr_assert_eq(PQputCopyData(c, "1\n2\n", 4), 1);
	cr_assert_eq(PQflush(c), 0);
	long long pid = copy_backend();
	kill_backend(pid);
	int more = PQputCopyData(c, "3\n", 2); /* may already see the error: 1 or -1 */
	cr_log_info("PQputCopyData after the kill: %d", more);
	if (more == 1)
		PQputCopyEnd(c, NULL);
	bool timed_out = false;
	r = it_result_wait(c, ANSWER_MS, &timed_out);
	cr_assert(r && !timed_out, "no result after the interrupted COPY: %s", PQerrorMessage(c));
	cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "%s", PQresStatus(PQresultStatus(r)));
	cr_assert_str_eq(it_sqlstate(r), "08006", "%s", PQresultErrorMessage(r));
	cr_assert_str_eq(severity(r), "ERROR");
	PQclear(r);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	cr_assert_eq(PQtransactionStatus(c), PQTRANS_IDLE);
	cr_assert_eq(it_query_ll(a, "SELECT count(*) FROM faults_copy"), 0);
	works_elsewhere(c, pid);
	/* and a COPY after it works */
	r = exec_bounded(c, "COPY faults_copy FROM STDIN", false);
	cr_assert_eq(PQresultStatus(r), PGRES_COPY_IN, "%s", PQresultErrorMessage(r));
	PQclear(r);
	cr_assert_eq(PQputCopyData(c, "5\n", 2), 1);
	cr_assert_eq(PQputCopyEnd(c, NULL), 1);
	r = it_result_wait(c, ANSWER_MS, &timed_out);
	cr_assert(r && PQresultStatus(r) == PGRES_COMMAND_OK, "second COPY: %s",
	          r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	PQclear(r);
	cr_assert_eq(it_query_ll(a, "SELECT count(*) FROM faults_copy"), 1);
	PQfinish(c);
	PQfinish(a);
}

/* COPY FROM STDIN inside a transaction block, its server killed: ERROR 08006, status E,
 * COMMIT answered ROLLBACK; nothing of the block (an INSERT before the COPY) is in the table. */
IT_TEST(faults, copy_in_block_interrupted)
{
	PGconn *a = bench_admin();
	it_exec_ok(a, "DROP TABLE IF EXISTS faults_copy");
	it_exec_ok(a, "CREATE TABLE faults_copy (v int)");
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *c = it_connect("postgres", NULL, "bench");
	expect_tag(c, "BEGIN", "BEGIN", PQTRANS_INTRANS);
	expect_tag(c, "INSERT INTO faults_copy VALUES (0)", "INSERT 0 1", PQTRANS_INTRANS);
	long long pid = query_ll(c, "SELECT pg_backend_pid()");
	PGresult *r = exec_bounded(c, "COPY faults_copy FROM STDIN", false);
	cr_assert_eq(PQresultStatus(r), PGRES_COPY_IN, "%s", PQresultErrorMessage(r));
	PQclear(r);
	cr_assert_eq(PQputCopyData(c, "1\n2\n", 4), 1);
	cr_assert_eq(PQflush(c), 0);
	kill_backend(pid);
	if (PQputCopyData(c, "3\n", 2) == 1)
		PQputCopyEnd(c, NULL);
	bool timed_out = false;
	r = it_result_wait(c, ANSWER_MS, &timed_out);
	cr_assert(r && !timed_out, "no result after the interrupted COPY: %s", PQerrorMessage(c));
	cr_assert_str_eq(it_sqlstate(r), "08006", "%s", PQresultErrorMessage(r));
	cr_assert_str_eq(severity(r), "ERROR");
	PQclear(r);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	cr_assert_eq(PQtransactionStatus(c), PQTRANS_INERROR);
	expect_tag(c, "COMMIT", "ROLLBACK", PQTRANS_IDLE);
	cr_assert_eq(it_query_ll(a, "SELECT count(*) FROM faults_copy"), 0);
	works_elsewhere(c, pid);
	PQfinish(c);
	PQfinish(a);
}

/* ---- session mode ---- */

static void expect_show(PGconn *c, const char *name, const char *want)
{
	char sql[80];
	snprintf(sql, sizeof sql, "SHOW %s", name);
	PGresult *r = exec_bounded(c, sql, false);
	cr_assert(r && PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	          r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	cr_assert_str_eq(PQgetvalue(r, 0, 0), want, "%s", sql);
	PQclear(r);
}

static void expect_settings(PGconn *c)
{
	expect_show(c, "application_name", "faults_x");
	expect_show(c, "search_path", "faults_sp, public");
	expect_show(c, "work_mem", "7MB");
}

IT_TEST(faults, session_settings_reapplied_after_kill)
{
	it_pglane_start_simple("session", 4, NULL);
	PGconn *c = it_connect("postgres", NULL, "bench");
	it_exec_ok(c, "SET application_name = 'faults_x'");
	it_exec_ok(c, "SET search_path = faults_sp, public");
	it_exec_ok(c, "SET work_mem = '7MB'");
	long long pid = query_ll(c, "SELECT pg_backend_pid()");
	/* killed under a statement */
	expect_error(c, "SELECT pg_terminate_backend(pg_backend_pid())", "08006", PQTRANS_IDLE);
	expect_settings(c);
	long long pid2 = query_ll(c, "SELECT pg_backend_pid()");
	cr_assert_neq(pid2, pid);
	/* killed while the client is idle: the next statement may be told (08006) or just run */
	kill_backend(pid2);
	PGresult *r = exec_bounded(c, "SHOW work_mem", false);
	cr_assert(r, "%s", PQerrorMessage(c));
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		cr_assert_str_eq(it_sqlstate(r), "08006", "%s", PQresultErrorMessage(r));
		cr_assert_str_eq(severity(r), "ERROR");
		cr_log_info("idle kill in session mode: told with 08006 at the next statement");
	} else {
		cr_log_info("idle kill in session mode: next statement ran on a new server");
	}
	PQclear(r);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	expect_settings(c);
	long long pid3 = query_ll(c, "SELECT pg_backend_pid()");
	cr_assert(pid3 != pid2 && pid3 != pid);
	PQfinish(c);
}

/* A client of pglane in `mode` whose session `pin_sql` pins (NULL: a protocol-level named
 * prepared statement) loses its server: it is disconnected (FATAL), as before issue 18. */
static void pinned(const char *mode, const char *pin_sql)
{
	it_pglane_start_simple(mode, 4, NULL);
	PGconn *c = it_connect("postgres", NULL, "bench");
	if (pin_sql) {
		it_exec_ok(c, pin_sql);
	} else {
		PGresult *r = PQprepare(c, "faults_stmt", "SELECT $1::int + 1", 0, NULL);
		cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
		PQclear(r);
	}
	long long pid = query_ll(c, "SELECT pg_backend_pid()");
	cr_assert_eq(PQtransactionStatus(c), PQTRANS_IDLE);
	kill_backend(pid);
	PGresult *r = exec_bounded(c, "SELECT 1", false);
	cr_assert(!r || PQresultStatus(r) == PGRES_FATAL_ERROR,
	          "%s, pinned by `%s`: SELECT 1 ran after its server died", mode,
	          pin_sql ? pin_sql : "Parse faults_stmt");
	if (r)
		cr_log_info("pinned (%s): %s", pin_sql ? pin_sql : "Parse",
		            PQresultErrorMessage(r));
	PQclear(r);
	for (int i = 0; i < 50 && PQstatus(c) == CONNECTION_OK; i++) {
		PQconsumeInput(c);
		it_sleep_ms(20);
	}
	cr_assert_eq(PQstatus(c), CONNECTION_BAD, "%s, pinned by `%s`: still connected", mode,
	             pin_sql ? pin_sql : "Parse faults_stmt");
	PQfinish(c);
}

IT_TEST(faults, pinned_session_advisory_lock_disconnected)
{
	pinned("session", "SELECT pg_advisory_lock(1818)");
	/* the lock went with the server */
	PGconn *a = it_connect_admin();
	cr_assert_eq(it_query_ll(a, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
	                            "AND objid = 1818"),
	             0);
	PQfinish(a);
}

IT_TEST(faults, pinned_session_temp_table_disconnected)
{
	pinned("session", "CREATE TEMP TABLE faults_tmp (v int)");
}

IT_TEST(faults, pinned_session_listen_disconnected)
{
	pinned("session", "LISTEN faults_channel");
}

IT_TEST(faults, pinned_session_sql_prepare_disconnected)
{
	pinned("session", "PREPARE faults_p AS SELECT 1");
}

IT_TEST(faults, pinned_session_protocol_prepare_disconnected)
{
	pinned("session", NULL);
}

IT_TEST(faults, pinned_transaction_mode_advisory_lock_disconnected)
{
	pinned("transaction", "SELECT pg_advisory_lock(1819)");
}

/* ---- a server that ignores its cancel ---- */

/* statement_timeout cancels the statement; its backend is stopped (SIGSTOP) so the cancel does
 * nothing and pglane closes that server: the client gets the timeout's ERROR (57014) and keeps
 * its connection. */
IT_TEST(faults, server_ignoring_cancel_closed)
{
	it_pglane_start_simple("transaction", 2, "statement_timeout = \"300ms\";");
	PGconn *c = it_connect("postgres", NULL, "bench");
	long long pid = query_ll(c, "SELECT pg_backend_pid()");
	cr_assert(PQsendQuery(c, "SELECT pg_sleep(4)"));
	PGconn *a = it_connect_admin();
	cr_assert_geq(
	        it_wait_backends(a, 1, 3000, "active", NULL, NULL, "SELECT pg_sleep(4)", NULL), 0,
	        "the pg_sleep never ran");
	PQfinish(a);
	g_stopped_backend = (int)pid;
	cr_assert_eq(kill((pid_t)pid, SIGSTOP), 0, "SIGSTOP %lld: %m", pid);
	bool timed_out = false;
	int64_t t0 = it_now_ms();
	PGresult *r = it_result_wait(c, 8000, &timed_out);
	int64_t took = it_now_ms() - t0;
	kill((pid_t)pid, SIGCONT);
	g_stopped_backend = 0;
	cr_assert(!timed_out, "no answer 8 s after the statement_timeout");
	cr_assert(r, "no result: %s", PQerrorMessage(c));
	cr_log_info("cancel ignored: answered after %lld ms: %s", (long long)took,
	            PQresultErrorMessage(r));
	cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	cr_assert_str_eq(severity(r), "ERROR", "%s", PQresultErrorMessage(r));
	cr_assert_str_eq(it_sqlstate(r), "57014", "%s", PQresultErrorMessage(r));
	PQclear(r);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	works_elsewhere(c, pid);
	PQfinish(c);
}

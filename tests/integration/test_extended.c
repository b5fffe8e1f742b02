/* tests/integration/test_extended.c — the extended query protocol through pglane: unnamed
 * statements with parameters (text and binary) in transaction mode, named prepared statements
 * in session mode, and libpq pipeline mode (several Syncs, errors inside a pipeline).
 * Named prepared statements in transaction mode are issue 3, not tested here. DISCARD ALL
 * by the extended protocol reports the values it reset, and is refused within a pipeline. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

TestSuite(extended, .fini = it_pglane_fini, .timeout = 60);

IT_TEST(extended, exec_params_transaction_mode)
{
	it_pglane_start_simple("transaction", 1, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	for (int i = 0; i < 20; i++) {
		PGconn *c = i % 2 ? a : b; /* two clients take turns on one server */
		char x[16], y[16];
		snprintf(x, sizeof x, "%d", i);
		snprintf(y, sizeof y, "%d", i * 10);
		const char *params[3] = {x, y, "it's text"};
		PGresult *r = PQexecParams(c, "SELECT $1::int + $2::int, $3::text, $1::int IS NULL",
		                           3, NULL, params, NULL, NULL, 0);
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		cr_expect_eq(atoi(PQgetvalue(r, 0, 0)), i * 11);
		cr_expect_str_eq(PQgetvalue(r, 0, 1), "it's text");
		cr_expect_str_eq(PQgetvalue(r, 0, 2), "f");
		PQclear(r);
	}

	/* A NULL parameter, and binary parameters and results. */
	const char *nullp[1] = {NULL};
	PGresult *r = PQexecParams(a, "SELECT $1::text IS NULL", 1, NULL, nullp, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	cr_expect_str_eq(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	uint32_t be = htonl(123456789);
	const char *bin[1] = {(const char *)&be};
	int len[1] = {4}, fmt[1] = {1};
	Oid types[1] = {23}; /* int4 */
	r = PQexecParams(a, "SELECT $1::int4 + 1", 1, types, bin, len, fmt, 1);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	cr_assert_eq(PQgetlength(r, 0, 0), 4);
	uint32_t out;
	memcpy(&out, PQgetvalue(r, 0, 0), 4);
	cr_expect_eq(ntohl(out), 123456790u);
	PQclear(r);

	/* An error in the extended protocol leaves the client usable. */
	const char *zero[1] = {"0"};
	r = PQexecParams(a, "SELECT 1 / $1::int", 1, NULL, zero, NULL, NULL, 0);
	cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	cr_expect_str_eq(it_sqlstate(r), "22012");
	PQclear(r);
	cr_expect_eq(it_query_ll(b, "SELECT 7"), 7);
	cr_expect_eq(it_query_ll(a, "SELECT 8"), 8);
	PQfinish(b);
	PQfinish(a);
}

IT_TEST(extended, prepared_statements_session_mode)
{
	it_pglane_start_simple("session", 2, NULL);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	PGresult *r = PQprepare(c, "it_double", "SELECT $1::int * 2, $2::text", 2, NULL);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);

	r = PQdescribePrepared(c, "it_double");
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	cr_expect_eq(PQnparams(r), 2);
	cr_expect_eq(PQnfields(r), 2);
	PQclear(r);

	for (int i = 0; i < 10; i++) {
		char x[16];
		snprintf(x, sizeof x, "%d", i);
		const char *params[2] = {x, "p"};
		r = PQexecPrepared(c, "it_double", 2, params, NULL, NULL, 0);
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "execution %d: %s", i,
		             PQresultErrorMessage(r));
		cr_expect_eq(atoi(PQgetvalue(r, 0, 0)), 2 * i);
		PQclear(r);
		if (i == 4)
			it_exec_ok(c, "BEGIN; SELECT 1; COMMIT");
	}
	cr_expect_eq(it_query_ll(c, "SELECT count(*) FROM pg_prepared_statements WHERE name = "
	                            "'it_double'"),
	             1);

	it_exec_ok(c, "DEALLOCATE it_double");
	const char *params[2] = {"1", "p"};
	r = PQexecPrepared(c, "it_double", 2, params, NULL, NULL, 0);
	cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	cr_expect_str_eq(it_sqlstate(r), "26000");
	PQclear(r);
	cr_expect_eq(it_query_ll(c, "SELECT 9"), 9);
	PQfinish(c);
}

/* Read one query's results in pipeline mode: the result, then the NULL that ends it. */
static PGresult *pipeline_next(PGconn *c)
{
	int64_t deadline = it_now_ms() + 10000;
	while (PQisBusy(c) && it_now_ms() < deadline) {
		struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
		poll(&pfd, 1, 100);
		cr_assert(PQconsumeInput(c), "%s", PQerrorMessage(c));
	}
	cr_assert(!PQisBusy(c), "pipeline result not there after 10 s");
	return PQgetResult(c);
}

static void pipeline_expect_value(PGconn *c, int want)
{
	PGresult *r = pipeline_next(c);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "want %d: %s %s", want,
	             PQresStatus(PQresultStatus(r)), PQresultErrorMessage(r));
	cr_expect_eq(atoi(PQgetvalue(r, 0, 0)), want);
	PQclear(r);
	r = pipeline_next(c);
	cr_expect(r == NULL, "no NULL after the result of %d", want);
	PQclear(r);
}

static void pipeline_expect_sync(PGconn *c)
{
	PGresult *r = pipeline_next(c);
	cr_assert_eq(PQresultStatus(r), PGRES_PIPELINE_SYNC, "%s %s",
	             PQresStatus(PQresultStatus(r)), PQresultErrorMessage(r));
	PQclear(r);
}

static void send_int_query(PGconn *c, const char *sql, int v)
{
	char x[16];
	snprintf(x, sizeof x, "%d", v);
	const char *params[1] = {x};
	cr_assert(PQsendQueryParams(c, sql, 1, NULL, params, NULL, NULL, 0), "%s",
	          PQerrorMessage(c));
}

static void pipeline_round(PGconn *c)
{
	cr_assert(PQenterPipelineMode(c), "%s", PQerrorMessage(c));
	/* Ten queries and one Sync: one implicit transaction. */
	for (int i = 0; i < 10; i++)
		send_int_query(c, "SELECT $1::int", i);
	cr_assert(PQpipelineSync(c));
	/* Two more transactions in the same flight. */
	send_int_query(c, "SELECT $1::int + 100", 1);
	cr_assert(PQpipelineSync(c));
	send_int_query(c, "SELECT $1::int + 200", 2);
	cr_assert(PQpipelineSync(c));
	for (int i = 0; i < 10; i++)
		pipeline_expect_value(c, i);
	pipeline_expect_sync(c);
	pipeline_expect_value(c, 101);
	pipeline_expect_sync(c);
	pipeline_expect_value(c, 202);
	pipeline_expect_sync(c);

	/* An error aborts the rest up to the Sync; the next Sync starts afresh. */
	send_int_query(c, "SELECT $1::int", 1);
	send_int_query(c, "SELECT 1 / $1::int", 0);
	send_int_query(c, "SELECT $1::int", 3);
	cr_assert(PQpipelineSync(c));
	send_int_query(c, "SELECT $1::int", 4);
	cr_assert(PQpipelineSync(c));
	pipeline_expect_value(c, 1);
	PGresult *r = pipeline_next(c);
	cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	cr_expect_str_eq(it_sqlstate(r), "22012");
	PQclear(r);
	cr_expect(pipeline_next(c) == NULL);
	r = pipeline_next(c);
	cr_expect_eq(PQresultStatus(r), PGRES_PIPELINE_ABORTED, "%s",
	             PQresStatus(PQresultStatus(r)));
	PQclear(r);
	cr_expect(pipeline_next(c) == NULL);
	pipeline_expect_sync(c);
	pipeline_expect_value(c, 4);
	pipeline_expect_sync(c);
	cr_assert(PQexitPipelineMode(c), "%s", PQerrorMessage(c));
	cr_expect_eq(it_query_ll(c, "SELECT 5"), 5);
}

IT_TEST(extended, pipeline_transaction_mode)
{
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	pipeline_round(a);
	pipeline_round(b);
	pipeline_round(a);
	PQfinish(b);
	PQfinish(a);
}

IT_TEST(extended, pipeline_session_mode)
{
	it_pglane_start_simple("session", 2, NULL);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	pipeline_round(c);
	pipeline_round(c);
	PQfinish(c);
}

/* DISCARD ALL by the extended protocol (PQexecParams), pglane answering it: like PostgreSQL it
 * reports the values it reset (ParameterStatus), also when the client's next transaction runs
 * on another server. Pool size 2, three other clients keep the servers turning. */
IT_TEST(extended, discard_all_reports_reset_values)
{
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *o[3];
	for (int i = 0; i < 3; i++)
		o[i] = it_connect("postgres", NULL, "postgres");
	int bad = 0;
	for (int round = 0; round < 20; round++) {
		it_exec_ok(a, "SET DateStyle = 'SQL, DMY'");
		cr_expect_str_eq(PQparameterStatus(a, "DateStyle"), "SQL, DMY");
		PGresult *r = PQexecParams(a, "DISCARD ALL", 0, NULL, NULL, NULL, NULL, 0);
		cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
		PQclear(r);
		for (int i = 0; i < 3; i++)
			cr_expect_eq(it_query_ll(o[i], "SELECT 1"), 1);
		r = PQexec(a, "SHOW DateStyle");
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		const char *reported = PQparameterStatus(a, "DateStyle");
		if (!reported || strcmp(reported, PQgetvalue(r, 0, 0)) != 0) {
			bad++;
			cr_log_error("round %d: DateStyle reported '%s', SHOW says '%s'", round,
			             reported ? reported : "(none)", PQgetvalue(r, 0, 0));
		}
		PQclear(r);
	}
	cr_expect_eq(bad, 0, "%d of 20 rounds: the reported DateStyle was not the session's", bad);
	for (int i = 0; i < 3; i++)
		PQfinish(o[i]);
	PQfinish(a);
}

/* Read a pipeline's results up to its `syncs`-th Sync, one letter per result appended at
 * out[*n]: C command done, T rows, E<sqlstate> error, A skipped (pipeline aborted), S Sync. */
static void pipeline_read(PGconn *c, int syncs, char *out, size_t cap, size_t *n)
{
	for (int seen = 0; seen < syncs && *n + 8 < cap;) {
		PGresult *r = pipeline_next(c);
		if (!r)
			continue;
		switch (PQresultStatus(r)) {
		case PGRES_COMMAND_OK:
			out[(*n)++] = 'C';
			break;
		case PGRES_TUPLES_OK:
			out[(*n)++] = 'T';
			break;
		case PGRES_PIPELINE_ABORTED:
			out[(*n)++] = 'A';
			break;
		case PGRES_PIPELINE_SYNC:
			out[(*n)++] = 'S';
			seen++;
			break;
		default:
			*n += (size_t)snprintf(out + *n, cap - *n, "E%s", it_sqlstate(r));
			break;
		}
		PQclear(r);
	}
	out[*n] = '\0';
}

/* What a client is answered for three pipelined batches with DISCARD ALL in them (letters of
 * pipeline_read), then how many rows the batch that failed left in `table`. The third batch
 * goes once the first two are answered: in transaction mode, by a client with no server. */
static void discard_pipelined(PGconn *c, const char *table, char *out, size_t cap)
{
	char insert[96];
	snprintf(insert, sizeof insert, "INSERT INTO %s VALUES ($1::int)", table);
	cr_assert(PQenterPipelineMode(c), "%s", PQerrorMessage(c));
	/* after an Execute of the batch: refused, and the batch rolled back */
	send_int_query(c, insert, 1);
	cr_assert(PQsendQueryParams(c, "DISCARD ALL", 0, NULL, NULL, NULL, NULL, 0));
	send_int_query(c, "SELECT $1::int", 2);
	cr_assert(PQpipelineSync(c));
	/* first in its batch: allowed */
	cr_assert(PQsendQueryParams(c, "DISCARD ALL", 0, NULL, NULL, NULL, NULL, 0));
	send_int_query(c, "SELECT $1::int", 3);
	cr_assert(PQpipelineSync(c));
	size_t n = 0;
	pipeline_read(c, 2, out, cap, &n);
	/* after an Execute that needs no server (pglane answers DEALLOCATE ALL itself) */
	cr_assert(PQsendQueryParams(c, "DEALLOCATE ALL", 0, NULL, NULL, NULL, NULL, 0));
	cr_assert(PQsendQueryParams(c, "DISCARD ALL", 0, NULL, NULL, NULL, NULL, 0));
	cr_assert(PQpipelineSync(c));
	pipeline_read(c, 1, out, cap, &n);
	cr_assert(PQexitPipelineMode(c), "%s", PQerrorMessage(c));
	char count[96];
	snprintf(count, sizeof count, "SELECT count(*) FROM %s", table);
	snprintf(out + n, cap - n, " rows=%lld", it_query_ll(c, count));
}

/* DISCARD ALL after another Execute of the same batch (before its Sync) is refused as
 * PostgreSQL refuses it (25001, "cannot be executed within a pipeline"), the batch rolled
 * back, whether the Execute before it went to a server or was answered by pglane; first in
 * its batch it runs. Compared with the same client direct to PostgreSQL; pool size 2, other
 * clients keep the servers turning between the rounds. */
IT_TEST(extended, discard_all_within_pipeline)
{
	static const char table[] = "extended_discard_pipe";
	PGconn *d = it_connect_direct("postgres", NULL, "postgres");
	char sql[128];
	snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s; CREATE TABLE %s (v int)", table, table);
	it_exec_ok(d, sql);
	char direct[64];
	discard_pipelined(d, table, direct, sizeof direct);
	cr_assert_str_eq(direct, "CE25001ASCTSCE25001S rows=0", "PostgreSQL answered %s", direct);

	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *o[3];
	for (int i = 0; i < 3; i++)
		o[i] = it_connect("postgres", NULL, "postgres");
	for (int round = 0; round < 5; round++) {
		char got[64];
		discard_pipelined(a, table, got, sizeof got);
		cr_expect_str_eq(got, direct, "round %d: pglane %s, PostgreSQL %s", round, got,
		                 direct);
		for (int i = 0; i < 3; i++)
			cr_expect_eq(it_query_ll(o[i], "SELECT 1"), 1);
	}
	snprintf(sql, sizeof sql, "DROP TABLE %s", table);
	it_exec_ok(d, sql);
	for (int i = 0; i < 3; i++)
		PQfinish(o[i]);
	PQfinish(a);
	PQfinish(d);
}

/* tests/integration/test_prepared.c — named prepared statements in transaction mode (issue 3):
 * pgbench -M prepared (also with max_prepared_statements = 1), many libpq clients preparing
 * the same names with different SQL and the same SQL under different names, re-preparing after
 * DEALLOCATE and after a protocol Close, no ParseComplete/CloseComplete the client did not ask
 * for (raw protocol), DEALLOCATE ALL / DISCARD ALL, and the spellings of DEALLOCATE.
 *
 * Statements return "tag:pid" (pg_backend_pid()) so a test can tell which backend ran them;
 * with a pool of 2, holder clients (hold.h) steer the next transaction to a chosen server. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/buf.h"
#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"
#include "tests/integration/hold.h"
#include "tests/integration/rawpg.h"

TestSuite(prepared, .fini = it_pglane_fini, .timeout = 120);

/* ---- helpers ---- */

static PGconn *conn(void)
{
	return it_connect("postgres", NULL, "postgres");
}

static void prepare_ok(PGconn *c, const char *name, const char *sql)
{
	PGresult *r = PQprepare(c, name, sql, 0, NULL);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "PQprepare(\"%s\", `%s`): %s %s", name,
	             sql, it_sqlstate(r), PQresultErrorMessage(r));
	PQclear(r);
}

/* Execute `name` with one text parameter (none when `arg` is NULL); the first value, malloc'ed. */
static char *exec_str(PGconn *c, const char *name, const char *arg)
{
	const char *params[1] = {arg};
	PGresult *r = PQexecPrepared(c, name, arg ? 1 : 0, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		char msg[600];
		snprintf(msg, sizeof msg, "%s %s %s", PQresStatus(PQresultStatus(r)),
		         it_sqlstate(r), r ? PQresultErrorMessage(r) : PQerrorMessage(c));
		PQclear(r);
		cr_assert_fail("PQexecPrepared(\"%s\"): %s", name, msg);
	}
	char *v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	cr_assert(v);
	return v;
}

/* Execute `name` expecting an error: its SQLSTATE (static), the primary message in msg. */
static const char *exec_err(PGconn *c, const char *name, char *msg, size_t n)
{
	static char state[8];
	PGresult *r = PQexecPrepared(c, name, 0, NULL, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	snprintf(state, sizeof state, "%s", it_sqlstate(r));
	const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	snprintf(msg, n, "%s", m ? m : PQerrorMessage(c));
	PQclear(r);
	cr_assert(st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK,
	          "PQexecPrepared(\"%s\") succeeded, expected an error", name);
	return state;
}

/* `name` must not exist for this client: 26000 and PostgreSQL's message. */
static void expect_gone(PGconn *c, const char *name, const char *who)
{
	char msg[300], want[128];
	const char *state = exec_err(c, name, msg, sizeof msg);
	snprintf(want, sizeof want, "prepared statement \"%s\" does not exist", name);
	cr_expect_str_eq(state, "26000", "%s: executing %s: %s %s", who, name, state, msg);
	cr_expect_str_eq(msg, want, "%s", who);
}

/* "tag:pid" → pid (0 when there is no ':'). */
static long long pid_of(const char *v)
{
	const char *colon = strrchr(v, ':');
	return colon ? atoll(colon + 1) : 0;
}

/* Execute `name` (no parameters) on the server other than `avoid` (a holder sits on `avoid`
 * meanwhile) and expect "tag:pid" with the given tag and a pid other than `avoid`. */
static void expect_elsewhere(struct hold *h, PGconn *c, const char *name, long long avoid,
                             const char *tag, const char *who)
{
	hold_server(h, avoid, true);
	char *v = exec_str(c, name, NULL);
	size_t tl = strlen(tag);
	cr_expect(strncmp(v, tag, tl) == 0 && v[tl] == ':', "%s: %s returned %s, want %s:<pid>",
	          who, name, v, tag);
	cr_expect_neq(pid_of(v), avoid, "%s: %s ran on the held backend %lld", who, name, avoid);
	free(v);
	hold_release(h);
}

/* The same on both servers of a pool of 2 (pids[0] and pids[1]). */
static void expect_both(struct hold *h, PGconn *c, const char *name, const long long pids[2],
                        const char *tag, const char *who)
{
	expect_elsewhere(h, c, name, pids[0], tag, who);
	expect_elsewhere(h, c, name, pids[1], tag, who);
}

/* 26000 for `name` on both servers of a pool of 2. */
static void expect_gone_both(struct hold *h, PGconn *c, const char *name, const long long pids[2],
                             const char *who)
{
	for (int i = 0; i < 2; i++) {
		hold_server(h, pids[i], true);
		expect_gone(c, name, who);
		hold_release(h);
	}
}

/* ---- pgbench -M prepared ---- */

static void run_pgbench(const char *pool_extra, const char *args, int seconds)
{
	char extra[256];
	snprintf(extra, sizeof extra, "query_wait_timeout = \"60s\"; %s", pool_extra);
	struct it_pglane *p = it_pglane_start_simple("transaction", 10, extra);
	char *out = NULL;
	int rc = it_sh(seconds + 60, &out,
	               "pgbench -h 127.0.0.1 -p %d -U postgres -n -M prepared -T %d -c 50 -j 2 "
	               "%s bench",
	               p->port, seconds, args);
	long long failed = adminq_report_number(out, "number of failed transactions:");
	long long processed =
	        adminq_report_number(out, "number of transactions actually processed:");
	cr_expect_eq(rc, 0, "pgbench -M prepared %s (%s) exited %d:\n%s", args, pool_extra, rc,
	             out);
	cr_expect_eq(failed, 0, "pgbench -M prepared %s (%s): %lld failed transactions:\n%s", args,
	             pool_extra, failed, out);
	cr_expect_gt(processed, 0, "pgbench -M prepared %s (%s) processed %lld:\n%s", args,
	             pool_extra, processed, out);
	const char *tps = strstr(out, "tps = ");
	cr_log_info("pgbench -M prepared %s (%s): %lld transactions, %.50s", args, pool_extra,
	            processed, tps ? tps : "?");
	free(out);
}

IT_TEST(prepared, pgbench_prepared_select_only)
{
	run_pgbench("", "-S", 15);
}

IT_TEST(prepared, pgbench_prepared_tpcb)
{
	run_pgbench("", "", 15);
}

IT_TEST(prepared, pgbench_prepared_tpcb_one_statement_per_server)
{
	run_pgbench("max_prepared_statements = 1;", "", 15);
}

IT_TEST(prepared, pgbench_prepared_select_only_one_statement_per_server)
{
	run_pgbench("max_prepared_statements = 1;", "-S", 10);
}

/* ---- libpq: the same names with different SQL ---- */

#define NAMES_CLIENTS 20
#define NAMES_ROUNDS  25
#define RESULT_WAIT   30000

/* The one result of a PQsend*() (30 s at most); fails the test on a timeout. */
static PGresult *collect(PGconn *c, const char *what)
{
	bool timed_out = false;
	PGresult *r = it_result_wait(c, RESULT_WAIT, &timed_out);
	cr_assert(!timed_out, "%s: no result within %d ms", what, RESULT_WAIT);
	cr_assert(r, "%s: %s", what, PQerrorMessage(c));
	return r;
}

/* Remember `pid` in a small set; returns the set's size. */
static int pid_note(long long *set, int *n, int cap, long long pid)
{
	for (int i = 0; i < *n; i++)
		if (set[i] == pid)
			return *n;
	if (*n < cap)
		set[(*n)++] = pid;
	return *n;
}

static void same_names_different_sql(const char *pool_extra)
{
	it_pglane_start_simple("transaction", 3, pool_extra);
	PGconn *c[NAMES_CLIENTS];
	char sql[256];
	for (int i = 0; i < NAMES_CLIENTS; i++) {
		c[i] = conn();
		/* s1: one column for even clients, two for odd ones; s2 names its client. */
		snprintf(sql, sizeof sql, "SELECT $1::int + %d%s", i * 1000,
		         i % 2 ? ", 'odd'::text" : "");
		prepare_ok(c[i], "s1", sql);
		snprintf(sql, sizeof sql, "SELECT 'c%d:' || $1::text || ':' || pg_backend_pid()",
		         i);
		prepare_ok(c[i], "s2", sql);
	}
	long long pids[16];
	int npids = 0;
	for (int round = 0; round < NAMES_ROUNDS; round++) {
		/* Every client has a statement in flight at once: 20 over 3 servers. */
		for (int i = 0; i < NAMES_CLIENTS; i++) {
			char arg[16];
			snprintf(arg, sizeof arg, "%d", round * 100 + i);
			const char *params[1] = {arg};
			const char *name = (i + round) % 2 ? "s2" : "s1";
			cr_assert(PQsendQueryPrepared(c[i], name, 1, params, NULL, NULL, 0), "%s",
			          PQerrorMessage(c[i]));
		}
		for (int k = 0; k < NAMES_CLIENTS; k++) {
			int i = (k * 7 + round) % NAMES_CLIENTS; /* collect in a shuffled order */
			const char *name = (i + round) % 2 ? "s2" : "s1";
			char what[64];
			snprintf(what, sizeof what, "round %d client %d %s", round, i, name);
			PGresult *r = collect(c[i], what);
			cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s %s", what,
			             it_sqlstate(r), PQresultErrorMessage(r));
			int arg = round * 100 + i;
			if (name[1] == '1') {
				cr_expect_eq(atoi(PQgetvalue(r, 0, 0)), arg + i * 1000,
				             "%s got %s, want %d: another client's s1?", what,
				             PQgetvalue(r, 0, 0), arg + i * 1000);
				cr_expect_eq(PQnfields(r), 1 + i % 2, "%s: %d columns", what,
				             PQnfields(r));
			} else {
				char want[32];
				snprintf(want, sizeof want, "c%d:%d:", i, arg);
				const char *v = PQgetvalue(r, 0, 0);
				cr_expect(strncmp(v, want, strlen(want)) == 0,
				          "%s got %s, want %s<pid>: another client's s2?", what, v,
				          want);
				pid_note(pids, &npids, 16, pid_of(v));
			}
			PQclear(r);
		}
		if (round % 5 == 4) {
			for (int i = 0; i < NAMES_CLIENTS; i++) {
				PGresult *r = PQdescribePrepared(c[i], "s1");
				cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "describe s1: %s",
				             PQresultErrorMessage(r));
				cr_expect_eq(PQnfields(r), 1 + i % 2,
				             "client %d: Describe s1 shows %d columns", i,
				             PQnfields(r));
				cr_expect_eq(PQnparams(r), 1);
				PQclear(r);
			}
		}
	}
	cr_expect_geq(npids, 2, "every statement ran on one backend: nothing was re-prepared");
	cr_expect_leq(npids, 3, "%d backends for a pool of 3", npids);
	for (int i = 0; i < NAMES_CLIENTS; i++)
		PQfinish(c[i]);
}

IT_TEST(prepared, same_names_different_sql_interleaved)
{
	same_names_different_sql("query_wait_timeout = \"60s\";");
}

IT_TEST(prepared, same_names_different_sql_with_eviction)
{
	/* One statement per server: nearly every execution parses again. */
	same_names_different_sql("query_wait_timeout = \"60s\"; max_prepared_statements = 1;");
}

/* ---- libpq pipeline mode ---- */

/* The next result in pipeline mode (10 s at most); NULL ends a query's results. */
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

/* The next query's result must have `status` (and, for rows, first value `want`). */
static void pipeline_expect(PGconn *c, ExecStatusType status, const char *want, const char *what)
{
	PGresult *r = pipeline_next(c);
	cr_assert_eq(PQresultStatus(r), status, "%s: %s, want %s: %s", what,
	             PQresStatus(PQresultStatus(r)), PQresStatus(status), PQresultErrorMessage(r));
	if (want)
		cr_expect_str_eq(PQgetvalue(r, 0, 0), want, "%s", what);
	PQclear(r);
	if (status != PGRES_PIPELINE_SYNC) {
		r = pipeline_next(c);
		cr_expect(r == NULL, "%s: no NULL after the result", what);
		PQclear(r);
	}
}

IT_TEST(prepared, prepare_inside_pipelines)
{
	it_pglane_start_simple("transaction", 2, NULL);
	enum { N = 4 };
	PGconn *c[N];
	for (int i = 0; i < N; i++) {
		c[i] = conn();
		cr_assert(PQenterPipelineMode(c[i]), "%s", PQerrorMessage(c[i]));
	}
	for (int round = 0; round < 5; round++) {
		/* Each client: Parse s<round> and execute it in the same Sync, execute it again
		 * after the Sync, and once more with its first statement; all in flight at once. */
		char name[16], sql[96], want[32], want0[32];
		snprintf(name, sizeof name, "p%d", round);
		for (int i = 0; i < N; i++) {
			snprintf(sql, sizeof sql, "SELECT 'c%d r%d ' || $1::text", i, round);
			cr_assert(PQsendPrepare(c[i], name, sql, 0, NULL));
			const char *params[1] = {"x"};
			cr_assert(PQsendQueryPrepared(c[i], name, 1, params, NULL, NULL, 0));
			cr_assert(PQpipelineSync(c[i]));
			cr_assert(PQsendQueryPrepared(c[i], name, 1, params, NULL, NULL, 0));
			cr_assert(PQsendQueryPrepared(c[i], "p0", 1, params, NULL, NULL, 0));
			cr_assert(PQpipelineSync(c[i]));
		}
		for (int i = 0; i < N; i++) {
			snprintf(want, sizeof want, "c%d r%d x", i, round);
			snprintf(want0, sizeof want0, "c%d r0 x", i);
			pipeline_expect(c[i], PGRES_COMMAND_OK, NULL, "prepare");
			pipeline_expect(c[i], PGRES_TUPLES_OK, want, "execute in the same Sync");
			pipeline_expect(c[i], PGRES_PIPELINE_SYNC, NULL, "sync");
			pipeline_expect(c[i], PGRES_TUPLES_OK, want, "execute after the Sync");
			pipeline_expect(c[i], PGRES_TUPLES_OK, want0, "the first statement");
			pipeline_expect(c[i], PGRES_PIPELINE_SYNC, NULL, "sync");
		}
	}
	for (int i = 0; i < N; i++) {
		cr_assert(PQexitPipelineMode(c[i]), "%s", PQerrorMessage(c[i]));
		char *v = exec_str(c[i], "p4", "end");
		char want[32];
		snprintf(want, sizeof want, "c%d r4 end", i);
		cr_expect_str_eq(v, want);
		free(v);
		PQfinish(c[i]);
	}
}

IT_TEST(prepared, same_sql_different_names)
{
	it_pglane_start_simple("transaction", 3, "query_wait_timeout = \"60s\";");
	enum { N = 10 };
	PGconn *c[N];
	char name[3][16];
	for (int i = 0; i < N; i++) {
		c[i] = conn();
		snprintf(name[0], sizeof name[0], "n%d", i);
		snprintf(name[1], sizeof name[1], "m%d", i);
		prepare_ok(c[i], name[0], "SELECT $1::int * 3");
		prepare_ok(c[i], name[1], "SELECT $1::int * 3");
		prepare_ok(c[i], "shared", "SELECT $1::int * 3");
	}
	for (int round = 0; round < 12; round++) {
		for (int i = 0; i < N; i++) {
			snprintf(name[0], sizeof name[0], "%c%d", "nm"[round % 2], i);
			const char *nm = round % 3 == 2 ? "shared" : name[0];
			char arg[16];
			snprintf(arg, sizeof arg, "%d", round * 10 + i);
			const char *params[1] = {arg};
			cr_assert(PQsendQueryPrepared(c[i], nm, 1, params, NULL, NULL, 0));
		}
		for (int i = 0; i < N; i++) {
			PGresult *r = collect(c[i], "same SQL");
			cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "round %d client %d: %s",
			             round, i, PQresultErrorMessage(r));
			cr_expect_eq(atoi(PQgetvalue(r, 0, 0)), (round * 10 + i) * 3);
			PQclear(r);
		}
	}
	/* Deallocating one client's name leaves its other names and everyone else's alone. */
	it_exec_ok(c[0], "DEALLOCATE n0");
	it_exec_ok(c[1], "DEALLOCATE shared");
	for (int round = 0; round < 3; round++) {
		expect_gone(c[0], "n0", "client 0 after DEALLOCATE n0");
		expect_gone(c[1], "shared", "client 1 after DEALLOCATE shared");
		for (int i = 0; i < N; i++) {
			snprintf(name[0], sizeof name[0], "n%d", i);
			snprintf(name[1], sizeof name[1], "m%d", i);
			for (int k = 0; k < 3; k++) {
				const char *nm = k == 2 ? "shared" : name[k];
				if ((i == 0 && k == 0) || (i == 1 && k == 2))
					continue;
				char *v = exec_str(c[i], nm, "5");
				cr_expect_str_eq(v, "15", "client %d %s", i, nm);
				free(v);
			}
		}
	}
	for (int i = 0; i < N; i++)
		PQfinish(c[i]);
}

IT_TEST(prepared, same_sql_different_parameter_types)
{
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *a = conn(), *b = conn();
	/* The same name and text; only the declared parameter type differs. */
	Oid int4[1] = {23}, text[1] = {25};
	PGresult *r = PQprepare(a, "t", "SELECT $1", 1, int4);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	r = PQprepare(b, "t", "SELECT $1", 1, text);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	for (int i = 0; i < 6; i++) {
		char *v = exec_str(a, "t", "007");
		cr_expect_str_eq(v, "7", "a's int4 statement returned %s", v);
		free(v);
		v = exec_str(b, "t", "007x");
		cr_expect_str_eq(v, "007x", "b's text statement returned %s", v);
		free(v);
		r = PQdescribePrepared(i % 2 ? a : b, "t");
		cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
		cr_expect_eq(PQparamtype(r, 0), i % 2 ? 23u : 25u, "%s's statement has type %u",
		             i % 2 ? "a" : "b", PQparamtype(r, 0));
		PQclear(r);
	}
	PQfinish(b);
	PQfinish(a);
}

/* ---- re-preparing after DEALLOCATE and after Close ---- */

IT_TEST(prepared, reprepare_after_deallocate)
{
	it_pglane_start_simple("transaction", 2, NULL);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	PGconn *a = conn(), *b = conn();
	prepare_ok(a, "s1", "SELECT 'a1:' || pg_backend_pid()");
	prepare_ok(b, "s1", "SELECT 'b1:' || pg_backend_pid()");
	expect_both(&h, a, "s1", pids, "a1", "a before DEALLOCATE");
	expect_both(&h, b, "s1", pids, "b1", "b before DEALLOCATE");

	it_exec_ok(a, "DEALLOCATE s1");
	expect_gone_both(&h, a, "s1", pids, "a after DEALLOCATE s1");
	expect_both(&h, b, "s1", pids, "b1", "b after a's DEALLOCATE");
	char msg[300];
	cr_expect_str_eq(it_exec_error(a, "DEALLOCATE s1", msg, sizeof msg), "26000",
	                 "a second DEALLOCATE s1: %s", msg);

	prepare_ok(a, "s1", "SELECT 'a2:' || pg_backend_pid()");
	expect_both(&h, a, "s1", pids, "a2", "a after re-preparing s1");
	expect_both(&h, b, "s1", pids, "b1", "b after a re-prepared s1");
	/* Once more, inside a transaction block this time. */
	it_exec_ok(a, "BEGIN");
	it_exec_ok(a, "DEALLOCATE s1");
	prepare_ok(a, "s1", "SELECT 'a3:' || pg_backend_pid()");
	char *v = exec_str(a, "s1", NULL);
	cr_expect(strncmp(v, "a3:", 3) == 0, "inside BEGIN: %s", v);
	free(v);
	it_exec_ok(a, "COMMIT");
	expect_both(&h, a, "s1", pids, "a3", "a after DEALLOCATE inside a transaction");
	PQfinish(b);
	PQfinish(a);
	hold_fini(&h);
}

/* Raw client: Bind(stmt) Execute Sync must give exactly "tag:<pid>" from a backend other
 * than `avoid` (held meanwhile). */
static void raw_expect_elsewhere(struct hold *h, struct rawpg *c, const char *stmt, long long avoid,
                                 const char *tag)
{
	hold_server(h, avoid, true);
	char *v = rawpg_exec_value(c, stmt, NULL);
	size_t tl = strlen(tag);
	cr_expect(strncmp(v, tag, tl) == 0 && v[tl] == ':', "%s: %s returned %s, want %s:<pid>",
	          c->who, stmt, v, tag);
	cr_expect_neq(pid_of(v), avoid, "%s ran on the held backend", stmt);
	free(v);
	hold_release(h);
}

IT_TEST(prepared, reprepare_after_protocol_close)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	struct rawpg *a = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
	struct rawpg *b = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
	a->who = "a";
	b->who = "b";
	rawpg_prepare(a, "s1", "SELECT 'a1:' || pg_backend_pid()");
	rawpg_prepare(b, "s1", "SELECT 'b1:' || pg_backend_pid()");
	for (int i = 0; i < 2; i++) {
		raw_expect_elsewhere(&h, a, "s1", pids[i], "a1");
		raw_expect_elsewhere(&h, b, "s1", pids[i], "b1");
	}

	/* Close answers CloseComplete; afterwards s1 is gone on every server. */
	rawpg_close_msg(a, 'S', "s1");
	rawpg_sync(a);
	rawpg_send(a);
	rawpg_expect_seq(a, "3Z");
	for (int i = 0; i < 2; i++) {
		hold_server(&h, pids[i], true);
		cr_expect_str_eq(rawpg_exec_error(a, "s1", NULL), "26000", "a's s1 after Close: %s",
		                 a->error);
		hold_release(&h);
		raw_expect_elsewhere(&h, b, "s1", pids[i], "b1");
	}

	/* Closing a statement that does not exist is no error (as in PostgreSQL). */
	rawpg_close_msg(a, 'S', "never_prepared");
	rawpg_sync(a);
	rawpg_send(a);
	rawpg_expect_seq(a, "3Z");

	rawpg_prepare(a, "s1", "SELECT 'a2:' || pg_backend_pid()");
	for (int i = 0; i < 2; i++)
		raw_expect_elsewhere(&h, a, "s1", pids[i], "a2");

	/* Close, Parse of the same name, Bind, Execute in one batch. */
	rawpg_close_msg(a, 'S', "s1");
	rawpg_parse(a, "s1", "SELECT 'a3:' || pg_backend_pid()");
	rawpg_bind_exec(a, "s1", NULL);
	rawpg_sync(a);
	rawpg_send(a);
	rawpg_expect_seq(a, "312DCZ");
	cr_expect(strncmp(a->value, "a3:", 3) == 0, "Close+Parse+Bind in one batch: %s", a->value);
	for (int i = 0; i < 2; i++) {
		raw_expect_elsewhere(&h, a, "s1", pids[i], "a3");
		raw_expect_elsewhere(&h, b, "s1", pids[i], "b1");
	}
	cr_expect(rawpg_quiet(a, 300), "a: a message nobody asked for");
	cr_expect(rawpg_quiet(b, 300), "b: a message nobody asked for");
	rawpg_close(b);
	rawpg_close(a);
	hold_fini(&h);
}

/* ---- raw protocol: exactly the messages asked for ---- */

/* The name of the first column in a RowDescription. */
static void row_desc_name(const struct rawpg_msg *m, char *buf, size_t n)
{
	struct proto_reader r;
	proto_reader_init(&r, m->body, m->len);
	int16_t nf = proto_get_i16(&r);
	const char *name = nf > 0 ? proto_get_cstr(&r, NULL) : NULL;
	snprintf(buf, n, "%s", !r.failed && name ? name : "(none)");
}

/* Describe(S, s1) Sync: exactly ParameterDescription, RowDescription (column `col`), Z. */
static void expect_describe(struct rawpg *c, const char *col)
{
	rawpg_describe(c, 'S', "s1");
	rawpg_sync(c);
	rawpg_send(c);
	rawpg_expect(c, 't');
	struct rawpg_msg m = rawpg_expect(c, 'T');
	char name[64];
	row_desc_name(&m, name, sizeof name);
	cr_expect_str_eq(name, col, "%s: Describe s1 shows column %s: another client's s1", c->who,
	                 name);
	rawpg_expect(c, 'Z');
}

static void exact_messages(const char *mode, int size, const char *extra)
{
	struct it_pglane *p = it_pglane_start_simple(mode, size, extra);
	struct rawpg *a = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
	struct rawpg *b = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
	a->who = "a";
	b->who = "b";
	rawpg_prepare(a, "s1", "SELECT 'from a' AS col_a");
	rawpg_prepare(b, "s1", "SELECT 'from b' AS col_b");
	for (int i = 0; i < 10; i++) {
		char *v = rawpg_exec_value(b, "s1", NULL); /* exactly 2 D C Z */
		cr_expect_str_eq(v, "from b", "round %d: b's s1 returned %s", i, v);
		free(v);
		v = rawpg_exec_value(a, "s1", NULL);
		cr_expect_str_eq(v, "from a", "round %d: a's s1 returned %s", i, v);
		free(v);
		expect_describe(i % 2 ? a : b, i % 2 ? "col_a" : "col_b");
	}
	/* Two executions in one batch. */
	rawpg_bind_exec(a, "s1", NULL);
	rawpg_bind_exec(a, "s1", NULL);
	rawpg_sync(a);
	rawpg_send(a);
	rawpg_expect_seq(a, "2DC2DCZ");
	cr_expect_str_eq(a->value, "from a");
	/* Parse, Bind and Execute of a new name in one batch. */
	rawpg_parse(b, "s2", "SELECT 'b2' AS col_b2");
	rawpg_bind_exec(b, "s2", NULL);
	rawpg_bind_exec(b, "s1", NULL);
	rawpg_sync(b);
	rawpg_send(b);
	rawpg_expect_seq(b, "12DC2DCZ");
	cr_expect_str_eq(b->value, "from b");
	/* Two Closes, a portal Close, one Sync. */
	rawpg_close_msg(b, 'S', "s2");
	rawpg_close_msg(b, 'S', "s2");
	rawpg_close_msg(b, 'P', "");
	rawpg_sync(b);
	rawpg_send(b);
	rawpg_expect_seq(b, "333Z");
	/* Describe of a portal inside the batch. */
	rawpg_bind(a, "", "s1", NULL, 0);
	rawpg_describe(a, 'P', "");
	rawpg_execute(a, "");
	rawpg_sync(a);
	rawpg_send(a);
	rawpg_expect_seq(a, "2TDCZ");
	cr_expect_str_eq(a->value, "from a");
	/* Flush instead of Sync, then Sync. */
	rawpg_bind_exec(b, "s1", NULL);
	rawpg_flush(b);
	rawpg_send(b);
	rawpg_expect_seq(b, "2DC");
	cr_expect_str_eq(b->value, "from b");
	rawpg_sync(b);
	rawpg_send(b);
	rawpg_expect_seq(b, "Z");
	cr_expect(rawpg_quiet(a, 300), "a: a message nobody asked for");
	cr_expect(rawpg_quiet(b, 300), "b: a message nobody asked for");
	rawpg_close(b);
	rawpg_close(a);
}

IT_TEST(prepared, no_unsolicited_messages_one_server)
{
	exact_messages("transaction", 1, NULL);
}

IT_TEST(prepared, no_unsolicited_messages_with_eviction)
{
	exact_messages("transaction", 2, "max_prepared_statements = 1;");
}

/* Session mode relays every message as PostgreSQL sent it: the expected sequences hold there. */
IT_TEST(prepared, no_unsolicited_messages_session_mode)
{
	exact_messages("session", 2, NULL);
}

/* ---- DEALLOCATE ALL, DISCARD ALL ---- */

static void forget_all(const char *command)
{
	it_pglane_start_simple("transaction", 2, NULL);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	PGconn *a = conn(), *b = conn();
	prepare_ok(a, "s1", "SELECT 'a1:' || pg_backend_pid()");
	prepare_ok(a, "s2", "SELECT 'a2:' || pg_backend_pid()");
	prepare_ok(b, "s1", "SELECT 'b1:' || pg_backend_pid()");
	expect_both(&h, a, "s1", pids, "a1", command);
	expect_both(&h, a, "s2", pids, "a2", command);
	expect_both(&h, b, "s1", pids, "b1", command);

	it_exec_ok(a, command);
	expect_gone_both(&h, a, "s1", pids, command);
	expect_gone_both(&h, a, "s2", pids, command);
	expect_both(&h, b, "s1", pids, "b1", "the other client after DEALLOCATE/DISCARD ALL");

	/* The names are free again (PQprepare would fail with 42P05 otherwise). */
	prepare_ok(a, "s1", "SELECT 'a1new:' || pg_backend_pid()");
	prepare_ok(a, "s2", "SELECT 'a2new:' || pg_backend_pid()");
	expect_both(&h, a, "s1", pids, "a1new", command);
	expect_both(&h, a, "s2", pids, "a2new", command);
	expect_both(&h, b, "s1", pids, "b1", command);
	PQfinish(b);
	PQfinish(a);
	hold_fini(&h);
}

IT_TEST(prepared, deallocate_all)
{
	forget_all("DEALLOCATE ALL");
}

IT_TEST(prepared, discard_all)
{
	forget_all("DISCARD ALL");
}

IT_TEST(prepared, deallocate_all_raw_protocol)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 1, NULL);
	struct rawpg *a = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
	struct rawpg *b = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
	rawpg_prepare(a, "s1", "SELECT 'a1'");
	rawpg_prepare(b, "s1", "SELECT 'b1'");
	char *v = rawpg_query_value(a, "SELECT 'before'");
	free(v);
	rawpg_query(a, "DEALLOCATE ALL");
	rawpg_send(a);
	rawpg_expect_seq(a, "CZ");
	cr_expect_str_eq(a->tag, "DEALLOCATE ALL");
	cr_expect_str_eq(rawpg_exec_error(a, "s1", NULL), "26000", "a's s1: %s", a->error);
	v = rawpg_exec_value(b, "s1", NULL);
	cr_expect_str_eq(v, "b1");
	free(v);
	rawpg_prepare(a, "s1", "SELECT 'a1 again'"); /* exactly 1 Z: no 42P05 */
	v = rawpg_exec_value(a, "s1", NULL);
	cr_expect_str_eq(v, "a1 again");
	free(v);
	rawpg_query(a, "DEALLOCATE s1");
	rawpg_send(a);
	rawpg_expect_seq(a, "CZ");
	cr_expect_str_eq(a->tag, "DEALLOCATE");
	cr_expect_str_eq(rawpg_exec_error(a, "s1", NULL), "26000", "a's s1: %s", a->error);
	cr_expect(rawpg_quiet(a, 300), "a: a message nobody asked for");
	rawpg_close(b);
	rawpg_close(a);
}

IT_TEST(prepared, deallocate_spellings)
{
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *a = conn(), *b = conn();
	const char *names[] = {"s1", "s2", "S3", "s3", "s4"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char sql[64];
		snprintf(sql, sizeof sql, "SELECT '%s'", names[i]);
		prepare_ok(a, names[i], sql);
		prepare_ok(b, names[i], "SELECT 'b'");
	}
	it_exec_ok(a, "deallocate s1");
	expect_gone(a, "s1", "deallocate s1");
	it_exec_ok(a, "DEALLOCATE PREPARE s2");
	expect_gone(a, "s2", "DEALLOCATE PREPARE s2");
	it_exec_ok(a, "DEALLOCATE \"S3\"");
	expect_gone(a, "S3", "DEALLOCATE \"S3\"");
	char *v = exec_str(a, "s3", NULL);
	cr_expect_str_eq(v, "s3", "DEALLOCATE \"S3\" (quoted) must leave s3 alone");
	free(v);
	it_exec_ok(a, "DEALLOCATE S3"); /* unquoted: folds to s3 */
	expect_gone(a, "s3", "DEALLOCATE S3");
	char msg[300];
	cr_expect_str_eq(it_exec_error(a, "DEALLOCATE no_such_statement", msg, sizeof msg), "26000",
	                 "DEALLOCATE of an unknown name: %s", msg);
	v = exec_str(a, "s4", NULL);
	cr_expect_str_eq(v, "s4");
	free(v);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		v = exec_str(b, names[i], NULL);
		cr_expect_str_eq(v, "b", "b's %s after a's DEALLOCATEs", names[i]);
		free(v);
	}
	PQfinish(b);
	PQfinish(a);
}

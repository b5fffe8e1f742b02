/* tests/integration/test_pins_refuse.c — the other settings of pin_session_state, the edges of
 * pinning, and session mode (issue 14; test_pins.c has the main "pin" cases):
 *   - "refuse" (pool-wide, or for the oltp lane only): every statement that would pin (session
 *     advisory locks in each form, temp tables / sequences / views in their spellings,
 *     DECLARE ... WITH HOLD in and out of a transaction block, SQL PREPARE, LISTEN, LOAD) fails
 *     with 0A000 naming pin_session_state; the client keeps its connection and its
 *     transactions still move between servers; nothing of it exists on any server (no
 *     advisory lock, no temp relation, no cursor, no SQL prepared statement, no listener);
 *     nothing is reported pinned, no `pin` event is logged; refused inside a transaction
 *     block, the transaction is failed (25P02 until ROLLBACK) as after any error;
 *   - a refusal needs no server: with the pool taken, a refused Query or
 *     Parse/Bind/Describe/Execute/Sync gets exactly one ErrorResponse and ReadyForQuery at once;
 *   - a lane setting overrides the pool's ("pin" for oltp under a pool-wide "refuse");
 *   - "allow": the statements run as before and nothing is reported pinned;
 *   - the extended protocol: statements sent with Parse/Bind/Execute pin (and are refused)
 *     as the simple ones;
 *   - state made inside a DO block, which no statement text shows: whether pglane pins its
 *     owner or resets the server, no other client ever sees it;
 *   - PostgreSQL's transaction rules: locks and SQL PREPARE made in a rolled-back transaction
 *     stay (and pin), temp tables, LISTEN, WITH HOLD cursors made there do not (no pin);
 *   - the ways out: DROP of the last temp object, DISCARD TEMP, DROP ... IF EXISTS,
 *     DEALLOCATE [PREPARE] / ALL, UNLISTEN name, pg_advisory_unlock[_shared], CLOSE name each
 *     unpin, and only once nothing is left (a partial end keeps the pin);
 *   - session mode: the owner keeps its state over its transactions (notifications included),
 *     and the next client on its server after it leaves finds none (server_reset_query).
 * Busy clients (pinsq.c) run meanwhile and must never see another client's state. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"
#include "tests/integration/hold.h"
#include "tests/integration/pinsq.h"
#include "tests/integration/rawpg.h"

TestSuite(pins_refuse, .fini = it_pglane_fini, .timeout = 60);

#define VAL 200

/* Every statement that pins under "pin", in autocommit. */
static const char *const PINNING[] = {
        "SELECT pg_advisory_lock(4242)",
        "SELECT pg_try_advisory_lock(4242)",
        "SELECT pg_advisory_lock_shared(4242)",
        "SELECT pg_try_advisory_lock_shared(4242)",
        "SELECT pg_advisory_lock(4242, 7)",
        "CREATE TEMP TABLE pins_rt(i int)",
        "CREATE TEMPORARY TABLE pins_rt(i int)",
        "create temp table pins_rt as select 1 as i",
        "SELECT 1 AS i INTO TEMP pins_rt",
        "CREATE TEMP SEQUENCE pins_rs",
        "CREATE TEMP VIEW pins_rv AS SELECT 1 AS i",
        "CREATE TABLE pg_temp.pins_rq(i int)",
        "DECLARE pins_rc CURSOR WITH HOLD FOR SELECT 1",
        "PREPARE pins_rp AS SELECT 1",
        "prepare pins_rp(int) as select $1",
        "LISTEN pins_rchan",
        "LOAD 'auto_explain'",
};
#define NPINNING ((int)(sizeof PINNING / sizeof PINNING[0]))

/* `sql` (or the statement run after `before` in the same transaction block, when not NULL)
 * fails with 0A000 naming pin_session_state; the client can go on. */
static void expect_refused(struct pins_env *e, PGconn *c, const char *before, const char *sql)
{
	if (before) {
		it_exec_ok(c, "BEGIN");
		it_exec_ok(c, before);
	}
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	char msg[VAL];
	snprintf(msg, sizeof msg, "%s", m ? m : "");
	char state[8];
	snprintf(state, sizeof state, "%s", it_sqlstate(r));
	PQclear(r);
	cr_expect(st == PGRES_FATAL_ERROR && strcmp(state, "0A000") == 0 &&
	                  strstr(msg, "pin_session_state"),
	          "`%s`%s gave %s %s \"%s\", want an error 0A000 naming pin_session_state", sql,
	          before ? " in a transaction block" : "", PQresStatus(st), state, msg);
	if (before) {
		/* as on a direct connection: the transaction is failed, until ROLLBACK */
		cr_expect_eq(PQtransactionStatus(c), PQTRANS_INERROR,
		             "`%s` in a transaction block: the transaction is not failed", sql);
		char v[VAL];
		cr_expect(!pins_try(c, "SELECT 1", v, sizeof v) && !strncmp(v, "25P02", 5),
		          "after the refused `%s` in a transaction block, SELECT 1 gave %s", sql,
		          v);
		it_exec_ok(c, "ROLLBACK");
	}
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "after `%s` the client lost its connection: %s",
	             sql, PQerrorMessage(c));
	cr_expect_eq(PQtransactionStatus(c), PQTRANS_IDLE, "after `%s`", sql);
	cr_expect_eq(it_query_ll(c, "SELECT 41 + 1"), 42, "after `%s`", sql);
	char *p = pins_pinned(e, c);
	cr_expect_str_empty(p, "after the refused `%s` the client is pinned: %s", sql, p);
	free(p);
}

/* Nothing is pinned and nothing was: SHOW CLIENTS, POOLS, LANES, /metrics, the log. */
static void expect_no_pins(struct pins_env *e, PGconn *c, const char *what)
{
	char *p = pins_pinned(e, c);
	cr_expect_str_empty(p, "%s: the client is pinned: %s", what, p);
	free(p);
	pins_expect_others_unpinned(e, c, what);
	cr_expect_eq(pins_pools_cl_pinned(e), 0, "%s: SHOW POOLS cl_pinned", what);
	cr_expect_eq(pins_lanes_cl_pinned(e), 0, "%s: SHOW LANES cl_pinned", what);
	double v = pins_metric_clients_pinned(e);
	cr_expect_eq(v, 0, "%s: pglane_pool_clients_pinned = %g", what, v);
	for (int k = 0; k < PINS_NREASONS; k++) {
		const char *reason = pins_reasons[k].name;
		double t = pins_metric_pins_total(e, reason);
		cr_expect_leq(t, 0, "%s: pglane_pins_total{reason=\"%s\"} = %g, want 0", what,
		              reason, t);
		cr_expect_eq(pins_log_pin_events(reason), 0, "%s: a `pin` event with reason %s",
		             what, reason);
	}
	cr_expect_eq(pins_log_pin_events("load"), 0, "%s: a `pin` event with reason load", what);
}

/* No backend of the cluster holds an advisory lock or one of the pins_r* relations. */
static void expect_cluster_clean(struct pins_env *e, const char *what)
{
	cr_expect_eq(
	        it_query_ll(e->pg, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), 0,
	        "%s: a backend holds an advisory lock", what);
	cr_expect_eq(
	        it_query_ll(e->pg, "SELECT count(*) FROM pg_class WHERE relname LIKE 'pins_r%'"), 0,
	        "%s: a pins_r* relation exists", what);
}

static void refuse_all(const char *pool_extra, const char *db_extra)
{
	struct pins_env e;
	pins_start(&e, "transaction", pool_extra, db_extra);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	PGconn *a = pins_client("it_pins_owner");
	PGconn *o = pins_client("it_pins_other");
	struct pins_busy *b = pins_busy_start(2, NULL);
	pins_busy_wait(b, 4, 5000);
	for (int i = 0; i < NPINNING; i++) {
		expect_refused(&e, a, NULL, PINNING[i]);
		pins_busy_wait(b, 1, 2000);
	}
	expect_refused(&e, a, "SELECT 1", "DECLARE pins_rc CURSOR WITH HOLD FOR SELECT 1");
	expect_refused(&e, a, "SELECT 1", "PREPARE pins_rp AS SELECT 1");
	expect_refused(&e, a, "SELECT 1", "SELECT pg_advisory_lock(4242)");
	expect_refused(&e, a, "SELECT 1", "CREATE TEMP TABLE pins_rt(i int)");
	expect_refused(&e, a, "SELECT 1", "LISTEN pins_rchan");
	char v[VAL];
	cr_expect(!pins_try(a, "EXECUTE pins_rp", v, sizeof v) && !strncmp(v, "26000", 5),
	          "EXECUTE of the refused statement gave %s", v);
	struct pins_busy_stats st;
	pins_busy_stop(b, &st);
	pins_busy_expect_clean(&st, "while statements were refused");

	expect_cluster_clean(&e, "after the refusals");
	pins_expect_servers_clean(&h, o, &e, "after the refusals");
	pins_expect_moves(&h, a, "after the refusals");
	expect_no_pins(&e, a, "after the refusals");
	for (int i = 0; i < 2; i++) {
		/* the extended protocol (Parse/Bind/Execute), as drivers send */
		static const char *const xsql[] = {"SELECT pg_advisory_lock($1::bigint)",
		                                   "LISTEN pins_rchan"};
		const char *param = "4242";
		cr_assert(PQsendQueryParams(a, xsql[i], i ? 0 : 1, NULL, &param, NULL, NULL, 0));
		bool timed_out;
		PGresult *r = it_result_wait(a, 5000, &timed_out);
		cr_assert(!timed_out, "extended `%s`: no answer within 5 s", xsql[i]);
		const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		cr_expect(PQresultStatus(r) == PGRES_FATAL_ERROR &&
		                  !strcmp(it_sqlstate(r), "0A000") && m &&
		                  strstr(m, "pin_session_state"),
		          "extended `%s` gave %s %s %s", xsql[i], PQresStatus(PQresultStatus(r)),
		          it_sqlstate(r), m ? m : "");
		PQclear(r);
		cr_expect_eq(PQtransactionStatus(a), PQTRANS_IDLE);
		cr_expect_eq(it_query_ll(a, "SELECT 41 + 1"), 42, "after the extended `%s`",
		             xsql[i]);
	}
	PQfinish(a);
	PQfinish(o);
	hold_fini(&h);
	pins_env_close(&e);
}

IT_TEST(pins_refuse, refuse)
{
	refuse_all("pin_session_state = \"refuse\";", NULL);
}

IT_TEST(pins_refuse, refuse_in_lane)
{
	refuse_all(NULL, "oltp = { pin_session_state = \"refuse\"; };");
}

/* A pool-wide "refuse" with "pin" for the oltp lane: the lane's setting wins. */
IT_TEST(pins_refuse, pin_in_lane_over_pool_refuse)
{
	struct pins_env e;
	pins_start(&e, "transaction", "pin_session_state = \"refuse\";",
	           "oltp = { pin_session_state = \"pin\"; };");
	PGconn *a = pins_client("it_pins_owner");
	it_exec_ok(a, "LISTEN pins_chan");
	pins_wait_pinned(&e, a, "listen", 3000, "LISTEN with pin for the lane");
	cr_expect_eq(pins_pools_cl_pinned(&e), 1);
	it_exec_ok(a, "UNLISTEN *");
	pins_wait_pinned(&e, a, "", 3000, "after UNLISTEN *");
	PQfinish(a);
	pins_env_close(&e);
}

/* "allow": the statements run where they land, as before issue 14; no pin is reported. */
IT_TEST(pins_refuse, allow)
{
	struct pins_env e;
	pins_start(&e, "transaction", "pin_session_state = \"allow\";", NULL);
	PGconn *a = pins_client("it_pins_owner");
	for (int k = 0; k < PINS_NREASONS; k++) {
		pins_reason_setup(a, &pins_reasons[k]);
		char *p = pins_pinned(&e, a);
		cr_expect_str_empty(p, "allow: after %s the client is pinned: %s",
		                    pins_reasons[k].name, p);
		free(p);
	}
	it_exec_ok(a, "LOAD 'auto_explain'");
	it_sleep_ms(300);
	expect_no_pins(&e, a, "allow");
	PQfinish(a);
	pins_env_close(&e);
}

/* With every server of the pool taken, a refused statement is answered at once (no server is
 * needed to refuse it), with exactly one ErrorResponse and a ReadyForQuery, whether it came
 * as a Query or as Parse/Bind/Describe/Execute/Sync; the client goes on afterwards. */
IT_TEST(pins_refuse, refuse_without_a_server)
{
	struct pins_env e;
	pins_start(&e, "transaction", "pin_session_state = \"refuse\";", NULL);
	PGconn *holder[2];
	for (int i = 0; i < 2; i++) {
		holder[i] = pins_client("it_holder");
		it_exec_ok(holder[i], "BEGIN");
		(void)pins_pid(holder[i]);
	}
	struct rawpg *r = rawpg_connect(e.p->port, "postgres", "postgres", NULL, 0);
	char why[256];
	rawpg_query(r, "LISTEN pins_rchan");
	rawpg_send(r);
	bool ok = rawpg_check_seq(r, "EZ", 3000, why, sizeof why);
	cr_expect(ok && !strcmp(r->sqlstate, "0A000"),
	          "a refused Query with the pool taken: %s %s %s", ok ? "" : why, r->sqlstate,
	          r->error);

	const char *param = "4242";
	rawpg_parse(r, "", "SELECT pg_advisory_lock($1::bigint)");
	rawpg_bind(r, "", "", &param, 1);
	rawpg_describe(r, 'P', "");
	rawpg_execute(r, "");
	rawpg_sync(r);
	rawpg_send(r);
	ok = rawpg_check_seq(r, "EZ", 3000, why, sizeof why);
	cr_expect(ok && !strcmp(r->sqlstate, "0A000"),
	          "a refused Parse/Bind/Describe/Execute/Sync with the pool taken: %s %s %s",
	          ok ? "" : why, r->sqlstate, r->error);
	cr_expect_eq(r->tx_status, 'I');

	for (int i = 0; i < 2; i++) {
		it_exec_ok(holder[i], "COMMIT");
		PQfinish(holder[i]);
	}
	/* and with servers free: still one error, nothing of the Bind reaches a server */
	rawpg_parse(r, "", "SELECT pg_advisory_lock($1::bigint)");
	rawpg_bind(r, "", "", &param, 1);
	rawpg_describe(r, 'P', "");
	rawpg_execute(r, "");
	rawpg_sync(r);
	rawpg_send(r);
	ok = rawpg_check_seq(r, "EZ", 3000, why, sizeof why);
	cr_expect(ok && !strcmp(r->sqlstate, "0A000"),
	          "a refused Parse/Bind/Describe/Execute/Sync: %s %s %s", ok ? "" : why,
	          r->sqlstate, r->error);
	char *v = rawpg_query_value(r, "SELECT 42");
	cr_expect_str_eq(v, "42");
	free(v);
	rawpg_close(r);
	pins_env_close(&e);
}

/* ---- the extended protocol ---- */

/* Statements sent with Parse/Bind/Execute (PQexecParams) pin as the simple ones do. */
IT_TEST(pins_refuse, extended_protocol_pins)
{
	static const struct {
		const char *sql, *param, *reason, *undo;
	} xs[] = {
	        {"SELECT pg_advisory_lock($1::bigint)", "4242", "advisory_lock",
	         "SELECT pg_advisory_unlock_all()"},
	        {"CREATE TEMP TABLE pins_xt(i int)", NULL, "temp_object", "DROP TABLE pins_xt"},
	        {"LISTEN pins_chan", NULL, "listen", "UNLISTEN *"},
	};
	struct pins_env e;
	pins_start(&e, "transaction", NULL, NULL);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	PGconn *a = pins_client("it_pins_owner");
	for (size_t k = 0; k < sizeof xs / sizeof xs[0]; k++) {
		PGresult *r = PQexecParams(a, xs[k].sql, xs[k].param ? 1 : 0, NULL, &xs[k].param,
		                           NULL, NULL, 0);
		ExecStatusType st = PQresultStatus(r);
		cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "extended `%s`: %s",
		          xs[k].sql, PQresultErrorMessage(r));
		PQclear(r);
		struct pins_busy *b = pins_busy_start(2, NULL);
		long long pa = pins_pid(a);
		pins_busy_avoid(b, pa);
		for (int i = 0; i < 3; i++) {
			r = PQexecParams(a, "SELECT pg_backend_pid()", 0, NULL, NULL, NULL, NULL,
			                 0);
			cr_expect(PQresultStatus(r) == PGRES_TUPLES_OK &&
			                  atoll(PQgetvalue(r, 0, 0)) == pa,
			          "after the extended `%s` the owner's transaction %d moved",
			          xs[k].sql, i);
			PQclear(r);
			pins_busy_wait(b, 2, 2000);
		}
		struct pins_busy_stats bs;
		pins_busy_stop(b, &bs);
		pins_busy_expect_clean(&bs, xs[k].sql);
		pins_wait_pinned(&e, a, xs[k].reason, 3000, xs[k].sql);
		r = PQexecParams(a, xs[k].undo, 0, NULL, NULL, NULL, NULL, 0);
		cr_expect(PQresultStatus(r) == PGRES_COMMAND_OK ||
		                  PQresultStatus(r) == PGRES_TUPLES_OK,
		          "extended `%s`: %s", xs[k].undo, PQresultErrorMessage(r));
		PQclear(r);
		pins_wait_pinned(&e, a, "", 3000, xs[k].undo);
		pins_expect_moves(&h, a, xs[k].undo);
	}
	PQfinish(a);
	hold_fini(&h);
	pins_env_close(&e);
}

/* ---- state a statement's text does not show ---- */

/* State made inside a DO block: pglane may pin its owner or reset the server after it (the
 * safety net), but no other client may ever run on a backend holding it. */
IT_TEST(pins_refuse, hidden_state_never_leaks)
{
	static const char *const hidden[] = {
	        "DO $$ BEGIN CREATE TEMP TABLE pins_do(i int); END $$",
	        "DO $$ BEGIN PERFORM pg_advisory_lock(4244); END $$",
	        "DO $$ BEGIN LISTEN pins_dochan; END $$",
	};
	struct pins_env e;
	pins_start(&e, "transaction", NULL, NULL);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	PGconn *o = pins_client("it_pins_other");
	for (size_t k = 0; k < sizeof hidden / sizeof hidden[0]; k++) {
		struct pins_busy *b = pins_busy_start(3, NULL);
		pins_busy_wait(b, 6, 5000);
		PGconn *a = pins_client("it_pins_owner");
		it_exec_ok(a, hidden[k]);
		for (int i = 0; i < 5; i++) {
			(void)pins_pid(a);
			pins_busy_wait(b, 2, 2000);
		}
		PQfinish(a);
		pins_busy_wait(b, 6, 3000);
		struct pins_busy_stats st;
		pins_busy_stop(b, &st);
		pins_busy_expect_clean(&st, hidden[k]);
		pins_expect_servers_clean(&h, o, &e, hidden[k]);
	}
	PQfinish(o);
	hold_fini(&h);
	pins_env_close(&e);
}

/* ---- transaction semantics of the state ---- */

/* PostgreSQL's rules: session advisory locks and SQL PREPARE outlive a ROLLBACK of the
 * transaction that made them (so they pin), temp tables, LISTEN and WITH HOLD cursors made in
 * a rolled-back transaction never exist (so nothing stays pinned). */
IT_TEST(pins_refuse, rollback_semantics)
{
	struct pins_env e;
	pins_start(&e, "transaction", NULL, NULL);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	PGconn *a = pins_client("it_pins_owner");

	it_exec_ok(a, "BEGIN");
	it_exec_ok(a, "SELECT pg_advisory_lock(4245)");
	it_exec_ok(a, "ROLLBACK");
	long long pa;
	cr_assert_eq(pins_lock_holders(&e, &pa), 1, "the lock taken in a rolled-back transaction");
	pins_wait_pinned(&e, a, "advisory_lock", 3000, "lock taken in a rolled-back transaction");
	it_exec_ok(a, "BEGIN");
	it_exec_ok(a, "SELECT pg_advisory_lock(4246)");
	char v[VAL];
	cr_expect(!pins_try(a, "SELECT 1/0", v, sizeof v));
	it_exec_ok(a, "ROLLBACK");
	for (int i = 0; i < 3; i++) {
		cr_expect_eq(pins_pid(a), pa, "locks kept after ROLLBACK: transaction %d moved", i);
		cr_expect(!pins_other_takes("SELECT pg_try_advisory_lock(4245)",
		                            "SELECT pg_advisory_unlock(4245)"),
		          "another client took 4245, locked in a rolled-back transaction");
		cr_expect(!pins_other_takes("SELECT pg_try_advisory_lock(4246)",
		                            "SELECT pg_advisory_unlock(4246)"),
		          "another client took 4246, locked in a failed transaction");
	}
	it_exec_ok(a, "SELECT pg_advisory_unlock_all()");
	pins_wait_pinned(&e, a, "", 3000, "after unlock_all");

	it_exec_ok(a, "BEGIN");
	it_exec_ok(a, "PREPARE pins_p(int) AS SELECT $1 * 2");
	it_exec_ok(a, "ROLLBACK");
	pins_wait_pinned(&e, a, "prepared_statement", 3000, "PREPARE in a rolled-back transaction");
	pa = pins_pid(a);
	for (int i = 0; i < 3; i++) {
		cr_expect(pins_try(a, "EXECUTE pins_p(21)", v, sizeof v) && !strcmp(v, "42"),
		          "PREPARE in a rolled-back transaction: EXECUTE %d gave %s", i, v);
		cr_expect_eq(pins_pid(a), pa, "PREPARE kept after ROLLBACK: transaction %d moved",
		             i);
	}
	it_exec_ok(a, "DEALLOCATE pins_p");
	pins_wait_pinned(&e, a, "", 3000, "after DEALLOCATE");

	static const char *const gone[] = {
	        "CREATE TEMP TABLE pins_rb(i int)",
	        "LISTEN pins_chan",
	        "DECLARE pins_c CURSOR WITH HOLD FOR SELECT 1",
	};
	for (int k = 0; k < 3; k++) {
		it_exec_ok(a, "BEGIN");
		it_exec_ok(a, gone[k]);
		it_exec_ok(a, "ROLLBACK");
		pins_wait_pinned(&e, a, "", 3000, gone[k]);
		pins_expect_moves(&h, a, gone[k]);
	}
	pins_expect_servers_clean(&h, a, &e, "after the rolled-back statements");
	PQfinish(a);
	hold_fini(&h);
	pins_env_close(&e);
}

/* ---- the ways out ---- */

/* Every way the state can end unpins, and only once all of it is gone. */
IT_TEST(pins_refuse, unpin_spellings)
{
	static const struct {
		const char *setup[2], *reason, *partial[2], *undo;
	} cs[] = {
	        {{"CREATE TEMP TABLE pins_t(i int)", "CREATE TEMP SEQUENCE pins_s"},
	         "temp_object",
	         {"DROP TABLE pins_t"},
	         "DROP SEQUENCE pins_s"},
	        {{"CREATE TEMP TABLE pins_t(i int)", "CREATE TEMP VIEW pins_v AS SELECT 1 AS i"},
	         "temp_object",
	         {"DROP VIEW pins_v"},
	         "DISCARD TEMP"},
	        {{"CREATE TEMP TABLE pins_t(i int)"},
	         "temp_object",
	         {NULL},
	         "DROP TABLE IF EXISTS pins_t"},
	        {{"PREPARE pins_p AS SELECT 1", "PREPARE pins_p2 AS SELECT 2"},
	         "prepared_statement",
	         {"DEALLOCATE PREPARE pins_p"},
	         "DEALLOCATE ALL"},
	        {{"LISTEN pins_chan", "LISTEN pins_chan2"},
	         "listen",
	         {"UNLISTEN pins_chan"},
	         "UNLISTEN pins_chan2"},
	        {{"SELECT pg_advisory_lock_shared(4242)", "SELECT pg_advisory_lock(4243)"},
	         "advisory_lock",
	         {"SELECT pg_advisory_unlock_shared(4242)", "SELECT pg_advisory_unlock(4249)"},
	         "SELECT pg_advisory_unlock(4243)"},
	        {{"DECLARE pins_c CURSOR WITH HOLD FOR SELECT 1",
	          "DECLARE pins_c2 CURSOR WITH HOLD FOR SELECT 2"},
	         "held_cursor",
	         {"CLOSE pins_c"},
	         "CLOSE pins_c2"},
	};
	struct pins_env e;
	pins_start(&e, "transaction", NULL, NULL);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	PGconn *a = pins_client("it_pins_owner");
	for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
		for (int i = 0; i < 2 && cs[k].setup[i]; i++)
			it_exec_ok(a, cs[k].setup[i]);
		long long pa = pins_pid(a);
		pins_wait_pinned(&e, a, cs[k].reason, 3000, cs[k].setup[0]);
		for (int i = 0; i < 2 && cs[k].partial[i]; i++) {
			it_exec_ok(a, cs[k].partial[i]);
			it_sleep_ms(200);
			pins_wait_pinned(&e, a, cs[k].reason, 100, cs[k].partial[i]);
			cr_expect_eq(pins_pid(a), pa,
			             "after `%s`, with state left, the owner moved",
			             cs[k].partial[i]);
		}
		it_exec_ok(a, cs[k].undo);
		pins_wait_pinned(&e, a, "", 3000, cs[k].undo);
		pins_expect_moves(&h, a, cs[k].undo);
	}
	pins_expect_servers_clean(&h, a, &e, "after every way out");
	PQfinish(a);
	hold_fini(&h);
	pins_env_close(&e);
}

/* ---- session mode ---- */

/* The owner's state over 5 transactions in session mode, with `keeper` on the other server. */
static void session_owner(PGconn *a, PGconn *keeper, const struct pins_reason *r, long long pa)
{
	for (int i = 0; i < 5; i++) {
		cr_expect_eq(pins_pid(a), pa, "session mode, %s: transaction %d moved", r->name, i);
		pins_reason_use(a, r, "session mode");
		pins_reason_other(keeper, r, "session mode");
	}
	if (strcmp(r->name, "listen") == 0) {
		for (int i = 1; i <= 3; i++) {
			char sql[64];
			snprintf(sql, sizeof sql, "NOTIFY pins_chan, 'k%d'", i);
			it_exec_ok(keeper, sql);
		}
		char got[3][64];
		int n = pins_notifies(a, got, 0, 3, 5000);
		cr_expect_eq(n, 3, "session mode: the listener got %d of 3 notifications", n);
		for (int i = 0; i < n && i < 3; i++) {
			char want[64];
			snprintf(want, sizeof want, "pins_chan:k%d", i + 1);
			cr_expect_str_eq(got[i], want, "session mode: notification %d", i + 1);
		}
	}
	if (strcmp(r->name, "held_cursor") == 0) {
		for (int i = 1; i <= 5; i++)
			cr_expect_eq(it_query_ll(a, "FETCH 1 FROM pins_c"), i,
			             "session mode: FETCH %d", i);
	}
}

IT_TEST(pins_refuse, session_mode)
{
	struct pins_env e;
	pins_start(&e, "session", NULL, NULL);
	PGconn *keeper = pins_client("it_pins_keeper"); /* keeps one server for its session */
	long long kp = pins_pid(keeper);
	for (int k = 0; k < PINS_NREASONS; k++) {
		const struct pins_reason *r = &pins_reasons[k];
		PGconn *a = pins_client("it_pins_owner");
		pins_reason_setup(a, r);
		long long pa = pins_pid(a);
		cr_assert_neq(pa, kp, "two session clients share backend %lld", pa);
		session_owner(a, keeper, r, pa);
		PQfinish(a);
		PGconn *n = pins_client("it_pins_next");
		struct pins_probe p = pins_probe(n);
		char sql[96];
		snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld",
		         pa);
		cr_expect(p.pid == pa || it_query_ll(e.pg, sql) == 0,
		          "session mode, %s: the next client runs on %lld, not on the owner's %lld "
		          "(still open)",
		          r->name, p.pid, pa);
		cr_expect(pins_probe_clean(&p), "session mode, %s: the next client found %s",
		          r->name, pins_probe_str(&p));
		PQfinish(n);
	}
	PQfinish(keeper);
	pins_env_close(&e);
}

/* Session mode: a client that LOADed a library leaves; its server is closed, not reset and
 * handed to the next client (DISCARD ALL does not unload a library). */
IT_TEST(pins_refuse, session_mode_load)
{
	struct pins_env e;
	pins_start(&e, "session", NULL, NULL);
	PGconn *a = pins_client("it_pins_owner");
	it_exec_ok(a, "LOAD 'auto_explain'");
	long long pa = pins_pid(a);
	PQfinish(a);
	pins_expect_backend_gone(&e, pa, "session mode, after the owner of a LOAD left");
	PGconn *n = pins_client("it_pins_next");
	cr_expect_neq(pins_pid(n), pa, "the next client runs on the LOADing client's backend");
	PQfinish(n);
	pins_env_close(&e);
}

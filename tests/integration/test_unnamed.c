/* tests/integration/test_unnamed.c — the extended protocol across Syncs in transaction mode
 * (issue 3), with the raw client: an unnamed statement parsed before a Sync still exists for a
 * Bind after it when the two halves land on different servers (the sequence in DESIGN.md, the
 * asyncpg ones), also when another client parsed its own unnamed statement on that server in
 * between; and named statements with errors: a Bind after an earlier error in the same batch, a
 * Parse skipped after an error, a failed Parse, a duplicate name, a dropped and recreated table.
 *
 * The first half's backend is found in pg_stat_activity by a marker in the statement; holder
 * clients (hold.h) then sit on chosen servers of a pool of 2. Statements return
 * "value:pid" (pg_backend_pid()). The sequences are also checked straight against PostgreSQL
 * and in session mode, where they must behave the same. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"
#include "tests/integration/hold.h"
#include "tests/integration/rawpg.h"

TestSuite(unnamed, .fini = it_pglane_fini, .timeout = 90);
TestSuite(prepared_errors, .fini = it_pglane_fini, .timeout = 90);

/* "value:pid" → pid (0 when there is no ':'). */
static long long pid_of(const char *v)
{
	const char *colon = strrchr(v, ':');
	return colon ? atoll(colon + 1) : 0;
}

/* Does "value:pid" start with `value` followed by ':'? */
static bool has_value(const char *v, const char *value)
{
	size_t n = strlen(value);
	return strncmp(v, value, n) == 0 && v[n] == ':';
}

static struct rawpg *raw(int port, const char *who)
{
	struct rawpg *c = rawpg_connect(port, "postgres", "postgres", NULL, 0);
	c->who = who;
	return c;
}

static int pglane_port(void)
{
	struct it_pglane *p = it_pglane_current();
	cr_assert(p, "pglane is not running");
	return p->port;
}

/* ---- the unnamed statement across a Sync ---- */

/* Parse(unnamed) of the doubling statement, tagged with `marker`. */
static void parse_double(struct rawpg *c, const char *marker)
{
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT ($1::int * 2)::text || ':' || pg_backend_pid() /* %s */",
	         marker);
	rawpg_parse(c, "", sql);
}

/* DESIGN.md's first half: Parse(unnamed) Flush → ParseComplete. */
static void literal_first_half(struct rawpg *c, const char *marker)
{
	parse_double(c, marker);
	rawpg_flush(c);
	rawpg_send(c);
	rawpg_expect_seq(c, "1");
}

/* Close(portal "") Sync → CloseComplete, ReadyForQuery (PostgreSQL accepts closing a portal
 * that does not exist). */
static void close_portal_sync(struct rawpg *c)
{
	rawpg_close_msg(c, 'P', "");
	rawpg_sync(c);
	rawpg_send(c);
	rawpg_expect_seq(c, "3Z");
	cr_expect_eq(c->tx_status, 'I');
}

/* Bind(unnamed, `arg`) Execute Sync → exactly 2 D C Z with the doubled value; the backend. */
static long long second_half(struct rawpg *c, int arg, const char *when)
{
	char a[16], want[16];
	snprintf(a, sizeof a, "%d", arg);
	snprintf(want, sizeof want, "%d", arg * 2);
	char *v = rawpg_exec_value(c, "", a);
	cr_expect(has_value(v, want), "%s: Bind(unnamed, %d) returned %s, want %s:<pid>", when, arg,
	          v, want);
	long long pid = pid_of(v);
	free(v);
	return pid;
}

/* The whole literal sequence on one connection without any steering (direct, session mode). */
static void literal_sequence_plain(struct rawpg *c)
{
	literal_first_half(c, "it:u-plain");
	close_portal_sync(c);
	long long p1 = second_half(c, 21, "after Close Sync");
	long long p2 = second_half(c, 50, "a second Bind of the same unnamed statement");
	cr_expect_eq(p1, p2);
	cr_expect(rawpg_quiet(c, 300), "a message nobody asked for");
}

IT_TEST(unnamed, literal_sequence_direct)
{
	/* No pglane: what PostgreSQL itself does with the sequence. */
	struct rawpg *c = raw(it_pgport(), "direct");
	literal_sequence_plain(c);
	rawpg_close(c);
}

IT_TEST(unnamed, literal_sequence_session_mode)
{
	it_pglane_start_simple("session", 2, NULL);
	struct rawpg *c = raw(pglane_port(), "session");
	literal_sequence_plain(c);
	rawpg_close(c);
}

IT_TEST(unnamed, literal_sequence_other_server)
{
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *admin = it_connect_admin();
	struct hold h = hold_init();
	struct rawpg *c = raw(pglane_port(), "x");
	literal_first_half(c, "it:u-literal");
	long long first = hold_backend_with(admin, "it:u-literal");
	close_portal_sync(c);
	/* A holder sits on the first half's server: the Bind must run on the other one. */
	hold_server(&h, first, true);
	long long second = second_half(c, 21, "on the other server");
	cr_expect_neq(second, first, "the second half ran on the first half's backend %lld", first);
	hold_release(&h);
	/* Back and forth: the unnamed statement lives on as long as no Parse replaces it. */
	hold_server(&h, second, true);
	cr_expect_eq(second_half(c, 7, "back on the first server"), first);
	hold_release(&h);
	hold_server(&h, first, true);
	cr_expect_eq(second_half(c, 8, "on the second server again"), second);
	hold_release(&h);
	cr_expect(rawpg_quiet(c, 300), "a message nobody asked for");
	rawpg_close(c);
	hold_fini(&h);
	PQfinish(admin);
}

/* Parse(unnamed) Describe(S, unnamed) and `end` (Flush or Sync), as asyncpg prepares. */
static void asyncpg_first_half(struct rawpg *c, const char *marker, bool flush)
{
	parse_double(c, marker);
	rawpg_describe(c, 'S', "");
	if (flush)
		rawpg_flush(c);
	else
		rawpg_sync(c);
	rawpg_send(c);
	rawpg_expect_seq(c, flush ? "1tT" : "1tTZ");
}

static void asyncpg_sequence(bool flush, const char *marker)
{
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *admin = it_connect_admin();
	struct hold h = hold_init();
	struct rawpg *c = raw(pglane_port(), "x");
	asyncpg_first_half(c, marker, flush);
	long long first = hold_backend_with(admin, marker);
	if (flush) {
		rawpg_sync(c);
		rawpg_send(c);
		rawpg_expect_seq(c, "Z");
	}
	hold_server(&h, first, true);
	long long second = second_half(c, 21, "asyncpg's Bind on the other server");
	cr_expect_neq(second, first, "the Bind ran on the Parse's backend %lld", first);
	hold_release(&h);
	/* A Describe of the unnamed statement after the Sync, on the first server again. */
	hold_server(&h, second, true);
	rawpg_describe(c, 'S', "");
	rawpg_sync(c);
	rawpg_send(c);
	rawpg_expect_seq(c, "tTZ");
	hold_release(&h);
	cr_expect(rawpg_quiet(c, 300), "a message nobody asked for");
	rawpg_close(c);
	hold_fini(&h);
	PQfinish(admin);
}

IT_TEST(unnamed, asyncpg_parse_describe_flush_then_sync)
{
	asyncpg_sequence(true, "it:u-apg-flush");
}

IT_TEST(unnamed, asyncpg_parse_describe_sync)
{
	asyncpg_sequence(false, "it:u-apg-sync");
}

IT_TEST(unnamed, other_client_unnamed_in_between)
{
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *admin = it_connect_admin();
	struct hold h = hold_init();
	struct rawpg *x = raw(pglane_port(), "x");
	struct rawpg *y = raw(pglane_port(), "y");
	literal_first_half(x, "it:u-between");
	long long first = hold_backend_with(admin, "it:u-between");
	close_portal_sync(x);

	/* Only the first half's server is free: y replaces the unnamed statement there. */
	hold_server(&h, first, false);
	rawpg_parse(y, "", "SELECT $1::text || '-y:' || pg_backend_pid()");
	rawpg_bind_exec(y, "", "21");
	rawpg_sync(y);
	rawpg_send(y);
	rawpg_expect_seq(y, "12DCZ");
	cr_assert(has_value(y->value, "21-y"), "y: %s", y->value);
	cr_assert_eq(pid_of(y->value), first, "y did not run on x's server (test setup)");

	/* x's Bind runs there too: it must get its own statement, not y's. */
	long long second = second_half(x, 21, "after y's Parse on the same server");
	cr_expect_eq(second, first, "x ran on %lld, not on the only free server %lld", second,
	             first);
	/* And y's unnamed statement must have survived x's. */
	char *v = rawpg_exec_value(y, "", "5");
	cr_expect(has_value(v, "5-y"), "y's unnamed statement after x's Bind: %s", v);
	free(v);
	second_half(x, 4, "x again");
	hold_release(&h);
	cr_expect(rawpg_quiet(x, 300), "x: a message nobody asked for");
	cr_expect(rawpg_quiet(y, 300), "y: a message nobody asked for");
	rawpg_close(y);
	rawpg_close(x);
	hold_fini(&h);
	PQfinish(admin);
}

IT_TEST(unnamed, latest_parse_wins)
{
	it_pglane_start_simple("transaction", 2, NULL);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	struct rawpg *x = raw(pglane_port(), "x");
	rawpg_parse(x, "", "SELECT 'first:' || pg_backend_pid()");
	rawpg_sync(x);
	rawpg_parse(x, "", "SELECT $1::text || ':' || pg_backend_pid()");
	rawpg_sync(x);
	rawpg_send(x);
	rawpg_expect_seq(x, "1Z1Z");
	for (int i = 0; i < 4; i++) {
		hold_server(&h, pids[i % 2], true);
		char *v = rawpg_exec_value(x, "", "second");
		cr_expect(has_value(v, "second"), "round %d: %s (the first Parse came back?)", i,
		          v);
		cr_expect_neq(pid_of(v), pids[i % 2]);
		free(v);
		hold_release(&h);
	}
	rawpg_close(x);
	hold_fini(&h);
}

/* ---- named statements and errors ---- */

/* Parse/Bind/Execute of 1 / 0 as an unnamed statement: "12E" once sent (the subquery keeps
 * the division from being folded, so the error comes from Execute, not Bind). */
static void add_division_by_zero(struct rawpg *c)
{
	rawpg_parse(c, "", "SELECT 1 / x FROM (SELECT $1::int AS x OFFSET 0) s");
	rawpg_bind_exec(c, "", "0");
}

static void expect_division_error(struct rawpg *c, const char *types)
{
	rawpg_expect_seq(c, types);
	cr_expect_str_eq(c->sqlstate, "22012", "%s: %s", c->who, c->error);
	cr_expect_eq(c->tx_status, 'I');
}

/* Execute `stmt` (one parameter) where a holder sits on `avoid`: exactly 2 D C Z, "want:pid". */
static void raw_expect_elsewhere(struct hold *h, struct rawpg *c, const char *stmt, const char *arg,
                                 long long avoid, const char *want)
{
	hold_server(h, avoid, true);
	char *v = rawpg_exec_value(c, stmt, arg);
	cr_expect(has_value(v, want), "%s: %s returned %s, want %s:<pid>", c->who, stmt, v, want);
	cr_expect_neq(pid_of(v), avoid);
	free(v);
	hold_release(h);
}

/* `stmt` gives 26000 on both servers. */
static void raw_expect_gone(struct hold *h, struct rawpg *c, const char *stmt,
                            const long long pids[2])
{
	for (int i = 0; i < 2; i++) {
		hold_server(h, pids[i], true);
		cr_expect_str_eq(rawpg_exec_error(c, stmt, NULL), "26000", "%s: %s: %s", c->who,
		                 stmt, c->error);
		hold_release(h);
	}
}

IT_TEST(prepared_errors, bind_after_error_in_batch_other_server)
{
	it_pglane_start_simple("transaction", 2, NULL);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	struct rawpg *a = raw(pglane_port(), "a");
	rawpg_prepare(a, "s1", "SELECT ($1::int + 100)::text || ':' || pg_backend_pid()");
	for (int round = 0; round < 4; round++) {
		/* On each server: an error, then a Bind of s1 the server skips. */
		hold_server(&h, pids[round % 2], true);
		add_division_by_zero(a);
		rawpg_bind_exec(a, "s1", "1");
		rawpg_sync(a);
		rawpg_send(a);
		expect_division_error(a, "12EZ");
		hold_release(&h);
		for (int i = 0; i < 2; i++)
			raw_expect_elsewhere(&h, a, "s1", "5", pids[i], "105");
	}
	cr_expect(rawpg_quiet(a, 300), "a: a message nobody asked for");
	rawpg_close(a);
	hold_fini(&h);
}

IT_TEST(prepared_errors, bind_after_error_in_batch_with_eviction)
{
	it_pglane_start_simple("transaction", 1, "max_prepared_statements = 1;");
	struct rawpg *a = raw(pglane_port(), "a");
	struct rawpg *b = raw(pglane_port(), "b");
	rawpg_prepare(a, "s1", "SELECT ($1::int + 100)::text");
	rawpg_prepare(b, "t1", "SELECT 'b:t1'");
	char who_a[32], who_b[32];
	for (int round = 0; round < 5; round++) {
		snprintf(who_a, sizeof who_a, "a (round %d)", round);
		snprintf(who_b, sizeof who_b, "b (round %d)", round);
		a->who = who_a;
		b->who = who_b;
		/* b's statement takes the only server's only slot: a's s1 must be parsed again
		 * inside a's batch, after the error, where the server skips it. */
		char *v = rawpg_exec_value(b, "t1", NULL);
		cr_expect_str_eq(v, "b:t1", "round %d: b's t1: %s", round, v);
		free(v);
		add_division_by_zero(a);
		rawpg_bind_exec(a, "s1", "1");
		rawpg_sync(a);
		rawpg_send(a);
		expect_division_error(a, "12EZ");
		v = rawpg_exec_value(a, "s1", "5");
		cr_expect_str_eq(v, "105", "round %d: a's s1 after the failed batch: %s", round, v);
		free(v);
	}
	a->who = "a";
	b->who = "b";
	cr_expect(rawpg_quiet(a, 300), "a: a message nobody asked for");
	cr_expect(rawpg_quiet(b, 300), "b: a message nobody asked for");
	rawpg_close(b);
	rawpg_close(a);
}

IT_TEST(prepared_errors, parse_skipped_after_error_leaves_no_statement)
{
	it_pglane_start_simple("transaction", 2, NULL);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	struct rawpg *a = raw(pglane_port(), "a");
	/* The server skips the Parse of s4 after the error: s4 does not exist. */
	add_division_by_zero(a);
	rawpg_parse(a, "s4", "SELECT $1::text || ':' || pg_backend_pid()");
	rawpg_sync(a);
	rawpg_send(a);
	expect_division_error(a, "12EZ");
	raw_expect_gone(&h, a, "s4", pids);
	/* The name is free: no 42P05. */
	rawpg_prepare(a, "s4", "SELECT $1::text || ':' || pg_backend_pid()");
	for (int i = 0; i < 2; i++)
		raw_expect_elsewhere(&h, a, "s4", "four", pids[i], "four");
	rawpg_close(a);
	hold_fini(&h);
}

IT_TEST(prepared_errors, named_parse_then_error_in_same_batch)
{
	it_pglane_start_simple("transaction", 2, NULL);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	struct rawpg *a = raw(pglane_port(), "a");
	/* Parse succeeds, its Execute fails: the statement stays (statements are not
	 * transactional). */
	rawpg_parse(a, "s3",
	            "SELECT (10 / x)::text || ':' || pg_backend_pid() FROM (SELECT $1::int AS x "
	            "OFFSET 0) s");
	rawpg_bind_exec(a, "s3", "0");
	rawpg_sync(a);
	rawpg_send(a);
	expect_division_error(a, "12EZ");
	for (int i = 0; i < 2; i++)
		raw_expect_elsewhere(&h, a, "s3", "2", pids[i], "5");
	rawpg_close(a);
	hold_fini(&h);
}

IT_TEST(prepared_errors, parse_inside_rolled_back_transaction)
{
	it_pglane_start_simple("transaction", 2, NULL);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	struct rawpg *a = raw(pglane_port(), "a");
	/* Prepared statements are not transactional: a ROLLBACK leaves them (and a Close inside
	 * a rolled back transaction still closes). */
	rawpg_query(a, "BEGIN");
	rawpg_parse(a, "s1", "SELECT $1::text || ':' || pg_backend_pid()");
	rawpg_parse(a, "s2", "SELECT $1::text || ':' || pg_backend_pid()");
	rawpg_sync(a);
	rawpg_send(a);
	rawpg_expect_seq(a, "CZ11Z");
	cr_expect_eq(a->tx_status, 'T');
	rawpg_close_msg(a, 'S', "s2");
	rawpg_sync(a);
	rawpg_query(a, "ROLLBACK");
	rawpg_send(a);
	rawpg_expect_seq(a, "3ZCZ");
	cr_expect_eq(a->tx_status, 'I');
	for (int i = 0; i < 2; i++)
		raw_expect_elsewhere(&h, a, "s1", "kept", pids[i], "kept");
	raw_expect_gone(&h, a, "s2", pids);
	rawpg_close(a);
	hold_fini(&h);
}

IT_TEST(prepared_errors, failed_parse_leaves_no_mapping)
{
	it_pglane_start_simple("transaction", 2, NULL);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	struct rawpg *a = raw(pglane_port(), "a");
	rawpg_parse(a, "s5", "SELEC 5");
	rawpg_sync(a);
	rawpg_send(a);
	rawpg_expect_seq(a, "EZ");
	cr_expect_str_eq(a->sqlstate, "42601", "%s", a->error);
	raw_expect_gone(&h, a, "s5", pids);
	rawpg_prepare(a, "s5", "SELECT $1::text || ':' || pg_backend_pid()");
	for (int i = 0; i < 2; i++)
		raw_expect_elsewhere(&h, a, "s5", "five", pids[i], "five");

	/* In one batch: s7 parses, s8 fails, s9 is skipped. */
	rawpg_parse(a, "s7", "SELECT $1::text || ':' || pg_backend_pid()");
	rawpg_parse(a, "s8", "SELECT FROM WHERE");
	rawpg_parse(a, "s9", "SELECT $1::text || ':' || pg_backend_pid()");
	rawpg_sync(a);
	rawpg_send(a);
	rawpg_expect_seq(a, "1EZ");
	cr_expect_str_eq(a->sqlstate, "42601", "%s", a->error);
	for (int i = 0; i < 2; i++)
		raw_expect_elsewhere(&h, a, "s7", "seven", pids[i], "seven");
	raw_expect_gone(&h, a, "s8", pids);
	raw_expect_gone(&h, a, "s9", pids);
	rawpg_close(a);

	/* libpq: PQprepare fails, then the same name with valid SQL works. */
	PGconn *c = it_connect("postgres", NULL, "postgres");
	PGresult *r = PQprepare(c, "s6", "SELEC 6", 0, NULL);
	cr_expect_str_eq(it_sqlstate(r), "42601", "%s", PQresultErrorMessage(r));
	PQclear(r);
	r = PQprepare(c, "s6", "SELECT 'six'", 0, NULL);
	cr_expect_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	for (int i = 0; i < 2; i++) {
		hold_server(&h, pids[i], true);
		r = PQexecPrepared(c, "s6", 0, NULL, NULL, NULL, 0);
		cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			cr_expect_str_eq(PQgetvalue(r, 0, 0), "six");
		PQclear(r);
		hold_release(&h);
	}
	PQfinish(c);
	hold_fini(&h);
}

IT_TEST(prepared_errors, duplicate_name_is_an_error)
{
	it_pglane_start_simple("transaction", 2, NULL);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	struct rawpg *a = raw(pglane_port(), "a");
	struct rawpg *b = raw(pglane_port(), "b");
	rawpg_prepare(a, "s1", "SELECT 'first:' || pg_backend_pid()");
	for (int i = 0; i < 2; i++) {
		hold_server(&h, pids[i], true);
		rawpg_parse(a, "s1", "SELECT 'second:' || pg_backend_pid()");
		rawpg_sync(a);
		rawpg_send(a);
		rawpg_expect_seq(a, "EZ");
		cr_expect_str_eq(a->sqlstate, "42P05", "%s", a->error);
		hold_release(&h);
	}
	rawpg_prepare(b, "s1", "SELECT 'b:' || pg_backend_pid()"); /* b's own namespace */
	for (int i = 0; i < 2; i++) {
		raw_expect_elsewhere(&h, a, "s1", NULL, pids[i], "first");
		raw_expect_elsewhere(&h, b, "s1", NULL, pids[i], "b");
	}
	rawpg_close(b);
	rawpg_close(a);
	hold_fini(&h);
}

IT_TEST(prepared_errors, table_dropped_and_recreated)
{
	PGconn *admin = it_connect_admin();
	it_exec_ok(admin, "DROP TABLE IF EXISTS it_prep_t; "
	                  "CREATE TABLE it_prep_t (id int PRIMARY KEY, v text); "
	                  "INSERT INTO it_prep_t VALUES (1, 'one')");
	it_pglane_start_simple("transaction", 2, NULL);
	struct hold h = hold_init();
	long long pids[2];
	hold_learn(&h, pids);
	struct rawpg *a = raw(pglane_port(), "a");
	rawpg_prepare(a, "sel",
	              "SELECT v || ':' || pg_backend_pid() FROM it_prep_t WHERE id = $1::int");
	for (int i = 0; i < 2; i++)
		raw_expect_elsewhere(&h, a, "sel", "1", pids[i], "one");

	it_exec_ok(admin, "DROP TABLE it_prep_t; "
	                  "CREATE TABLE it_prep_t (id int PRIMARY KEY, v text); "
	                  "INSERT INTO it_prep_t VALUES (1, 'uno')");
	for (int i = 0; i < 2; i++)
		raw_expect_elsewhere(&h, a, "sel", "1", pids[i], "uno");

	it_exec_ok(admin, "DROP TABLE it_prep_t");
	for (int i = 0; i < 2; i++) {
		hold_server(&h, pids[i], true);
		cr_expect_str_eq(rawpg_exec_error(a, "sel", "1"), "42P01", "%s", a->error);
		hold_release(&h);
	}
	it_exec_ok(admin, "CREATE TABLE it_prep_t (id int PRIMARY KEY, v text); "
	                  "INSERT INTO it_prep_t VALUES (1, 'eins')");
	for (int i = 0; i < 2; i++)
		raw_expect_elsewhere(&h, a, "sel", "1", pids[i], "eins");
	cr_expect(rawpg_quiet(a, 300), "a: a message nobody asked for");
	rawpg_close(a);
	hold_fini(&h);
	it_exec_ok(admin, "DROP TABLE it_prep_t");
	PQfinish(admin);
}

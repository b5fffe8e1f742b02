/* tests/integration/test_session.c — a client's session settings in transaction mode (issue 14),
 * and the same cases in session mode: SET ROLE / RESET ROLE of a non-superuser login, SET
 * SESSION AUTHORIZATION of a superuser, search_path / SET SCHEMA, work_mem, set_config(...,
 * false) (also over the extended protocol), SET TIME ZONE, SET NAMES, a custom placeholder;
 * PostgreSQL's rules for SET in a transaction that rolls back (also to a savepoint, and in the
 * implicit transaction of a multi-statement Query), SET LOCAL and set_config(..., true), RESET,
 * RESET ALL and DISCARD ALL; the spellings of SET (quoting, comments, case, units, extended
 * protocol, SET SESSION CHARACTERISTICS, values with quotes); set_config hidden in a function,
 * a DO block or dynamic SQL; settings following a client into the olap lane; SETs over the
 * extended protocol around Sync, Flush and errors; pipelined SETs under load; a SET ROLE that
 * can no longer be applied (an error, never a run as another user); six clients with settings
 * of their own at once.
 *
 * Every check holds the client against a direct connection given the same statements (the
 * values a connection of its own would have). With a pool of 2 in transaction mode, holder
 * clients (sesscheck.h) send each of the client's transactions to the server other than the
 * one it last used, and a bystander of the same user onto the server the client has just
 * left: the client must keep its settings on both servers, the bystander must see none of
 * them. In session mode the client keeps one server, and the next client to get that server
 * after it leaves must find the defaults. test_startup.c has the startup-parameter cases. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"
#include "tests/integration/sesscheck.h"

TestSuite(session, .fini = it_pglane_fini, .timeout = 90);

/* One case run in transaction mode (test `name`) and in session mode (`name`_session_mode). */
#define SESSION_CASE(name)                                                                         \
	static void name(const char *mode);                                                        \
	IT_TEST(session, name)                                                                     \
	{                                                                                          \
		name("transaction");                                                               \
	}                                                                                          \
	IT_TEST(session, name##_session_mode)                                                      \
	{                                                                                          \
		name("session");                                                                   \
	}

#define NSQL(a) (sizeof(a) / sizeof((a)[0]))

/* The client, its direct twin and a bystander, all logged in as `user`. */
struct trio {
	struct sc_client a, d, b;
};

static struct trio trio_open(const char *user, const char *password)
{
	struct trio t;
	t.a = sc_connect("A", user, password, NULL);
	t.d = sc_connect_direct("A's direct twin", user, password, NULL);
	t.b = sc_connect("bystander B", user, password, NULL);
	return t;
}

/* Run statements on A and its twin, then check A and the bystander. */
static void step(struct sc_env *e, struct trio *t, const char *sql, struct sc_snap *out)
{
	sc_change1(e, &t->a, &t->d, &t->b, sql, out);
}

static void steps(struct sc_env *e, struct trio *t, const char *const *sqls, size_t n,
                  struct sc_snap *out)
{
	sc_change(e, &t->a, &t->d, &t->b, sqls, n, out);
}

/* A snapshot of A inside its open transaction, held against the twin's (same transaction
 * state). */
static void check_inside(struct trio *t, struct sc_snap *out, const char *ctx)
{
	struct sc_snap want;
	sc_snap(&t->d, &want);
	sc_snap(&t->a, out);
	sc_expect_same("A", out, &want, ctx);
}

static void trio_leave(struct sc_env *e, struct trio *t, const char *user, const char *password,
                       const char *ctx)
{
	sc_close(&t->d);
	/* In session mode B keeps the other server, so the next client gets the one A left. */
	sc_leave_check(e, &t->a, user, password, ctx);
	sc_close(&t->b);
}

/* ---- SET ROLE by a non-superuser login ---- */

SESSION_CASE(set_role_follows_client)
static void set_role_follows_client(const char *mode)
{
	sc_fixtures();
	sc_start(mode, NULL);
	struct sc_env e;
	sc_env_init(&e, mode, SC_USER, SC_PASSWORD);
	struct trio t = trio_open(SC_USER, SC_PASSWORD);
	struct sc_client c = sc_connect("C (another login)", SC_OTHER, SC_OTHER_PASSWORD, NULL);
	struct sc_snap s, b;

	sc_snap_next(&e, &t.a, false, &s, "before SET ROLE");
	sc_expect_col("A", &s, SC_CURRENT_USER, SC_USER, "before SET ROLE");
	step(&e, &t, "SET ROLE " SC_ROLE, &s);
	int others = 0;
	for (int i = 0; i < 20; i++) {
		char ctx[128];
		snprintf(ctx, sizeof ctx, "A's transaction %d after SET ROLE", i + 1);
		sc_snap_next(&e, &t.a, i % 2 == 1, &s, ctx);
		sc_expect_col("A", &s, SC_CURRENT_USER, SC_ROLE, ctx);
		sc_expect_col("A", &s, SC_SESSION_USER, SC_USER, ctx);
		/* B right after A on A's server, then wherever it lands; C in its own pool. */
		sc_snap_on(&e, &t.b, t.a.pid, &b, ctx);
		sc_expect_col(t.b.name, &b, SC_CURRENT_USER, SC_USER, ctx);
		sc_expect_same(t.b.name, &b, &e.defaults, ctx);
		sc_snap(&t.b, &b);
		sc_expect_col(t.b.name, &b, SC_CURRENT_USER, SC_USER, ctx);
		sc_snap(&c, &b);
		sc_expect_col(c.name, &b, SC_CURRENT_USER, SC_OTHER, ctx);
		sc_expect_col(c.name, &b, SC_SESSION_USER, SC_OTHER, ctx);
		others += 3;
	}
	cr_assert_geq(others, 50);
	/* RESET ALL leaves the role alone (PostgreSQL's rule; the twin shows it). */
	step(&e, &t, "RESET ALL", &s);
	sc_expect_col("A", &s, SC_CURRENT_USER, SC_ROLE, "after RESET ALL");
	step(&e, &t, "RESET ROLE", &s);
	for (int i = 0; i < 6; i++) {
		char ctx[128];
		snprintf(ctx, sizeof ctx, "A's transaction %d after RESET ROLE", i + 1);
		sc_snap_next(&e, &t.a, i % 2 == 1, &s, ctx);
		sc_expect_col("A", &s, SC_CURRENT_USER, SC_USER, ctx);
	}
	step(&e, &t, "SET ROLE " SC_ROLE, &s);
	sc_expect_col("A", &s, SC_CURRENT_USER, SC_ROLE, "after SET ROLE again");
	step(&e, &t, "SET ROLE NONE", &s);
	sc_expect_col("A", &s, SC_CURRENT_USER, SC_USER, "after SET ROLE NONE");
	step(&e, &t, "SET ROLE " SC_ROLE, &s);
	/* A leaves with the role set: nobody gets it. */
	trio_leave(&e, &t, SC_USER, SC_PASSWORD, "SET ROLE");
	sc_close(&c);
	sc_env_fini(&e);
	sc_fixtures_drop();
}

/* ---- SET SESSION AUTHORIZATION by a superuser ---- */

SESSION_CASE(session_authorization_follows_client)
static void session_authorization_follows_client(const char *mode)
{
	sc_fixtures();
	sc_start(mode, NULL);
	struct sc_env e;
	sc_env_init(&e, mode, "postgres", NULL);
	struct trio t = trio_open("postgres", NULL);
	struct sc_snap s, b;

	step(&e, &t, "SET SESSION AUTHORIZATION " SC_ROLE, &s);
	for (int i = 0; i < 10; i++) {
		char ctx[128];
		snprintf(ctx, sizeof ctx, "A's transaction %d after SET SESSION AUTHORIZATION",
		         i + 1);
		sc_snap_next(&e, &t.a, i % 2 == 1, &s, ctx);
		sc_expect_col("A", &s, SC_CURRENT_USER, SC_ROLE, ctx);
		sc_expect_col("A", &s, SC_SESSION_USER, SC_ROLE, ctx);
		sc_snap_on(&e, &t.b, t.a.pid, &b, ctx);
		sc_expect_col(t.b.name, &b, SC_SESSION_USER, "postgres", ctx);
		sc_expect_col(t.b.name, &b, SC_CURRENT_USER, "postgres", ctx);
	}
	step(&e, &t, "SET SESSION AUTHORIZATION DEFAULT", &s);
	sc_expect_col("A", &s, SC_SESSION_USER, "postgres",
	              "after SET SESSION AUTHORIZATION DEFAULT");
	sc_expect_col("A", &s, SC_CURRENT_USER, "postgres",
	              "after SET SESSION AUTHORIZATION DEFAULT");
	step(&e, &t, "SET SESSION AUTHORIZATION " SC_USER, &s);
	step(&e, &t, "RESET SESSION AUTHORIZATION", &s);
	sc_expect_col("A", &s, SC_SESSION_USER, "postgres", "after RESET SESSION AUTHORIZATION");
	/* A login role with a role of its own on top. */
	step(&e, &t, "SET SESSION AUTHORIZATION " SC_USER, &s);
	step(&e, &t, "SET ROLE " SC_ROLE, &s);
	sc_expect_col("A", &s, SC_SESSION_USER, SC_USER, "after SET ROLE on top");
	sc_expect_col("A", &s, SC_CURRENT_USER, SC_ROLE, "after SET ROLE on top");
	trio_leave(&e, &t, "postgres", NULL, "SET SESSION AUTHORIZATION");
	sc_env_fini(&e);
	sc_fixtures_drop();
}

/* ---- plain settings ---- */

SESSION_CASE(settings_follow_setter)
static void settings_follow_setter(const char *mode)
{
	sc_fixtures();
	sc_start(mode, NULL);
	struct sc_env e;
	sc_env_init(&e, mode, "postgres", NULL);
	struct trio t = trio_open("postgres", NULL);
	struct sc_snap s;

	step(&e, &t, "SET search_path = " SC_SCHEMA_A ", public", &s);
	step(&e, &t, "SET work_mem = '7MB'", &s);
	step(&e, &t, "SELECT set_config('lock_timeout', '1234ms', false)", &s);
	step(&e, &t, "SET TIME ZONE 'Asia/Tokyo'", &s);
	step(&e, &t, "SET NAMES 'LATIN1'", &s);
	step(&e, &t, "SET myapp.tenant = '42'", &s);
	const char *ctx = "after all the SETs";
	sc_expect_col("A", &s, SC_SEARCH_PATH, SC_SCHEMA_A ", public", ctx);
	sc_expect_col("A", &s, SC_CURRENT_SCHEMA, SC_SCHEMA_A, ctx);
	sc_expect_col("A", &s, SC_WORK_MEM, "7MB", ctx);
	sc_expect_col("A", &s, SC_LOCK_TIMEOUT, "1234ms", ctx);
	sc_expect_col("A", &s, SC_TIMEZONE, "Asia/Tokyo", ctx);
	sc_expect_col("A", &s, SC_TSTZ, "2024-01-01 09:00:00+09", ctx);
	sc_expect_col("A", &s, SC_CLIENT_ENCODING, "LATIN1", ctx);
	sc_expect_col("A", &s, SC_TENANT, "42", ctx);
	const char *enc = PQparameterStatus(t.a.pq, "client_encoding");
	cr_expect(enc && strcmp(enc, "LATIN1") == 0, "A's ParameterStatus client_encoding = %s",
	          enc ? enc : "(none)");

	step(&e, &t, "SET SCHEMA '" SC_SCHEMA_B "'", &s);
	sc_expect_col("A", &s, SC_SEARCH_PATH, SC_SCHEMA_B, "after SET SCHEMA");
	sc_expect_col("A", &s, SC_CURRENT_SCHEMA, SC_SCHEMA_B, "after SET SCHEMA");

	/* set_config(..., false) over the extended protocol. */
	sc_hold_on(&e, t.a.pid);
	const char *params[2] = {"work_mem", "17MB"};
	PGconn *pcs[2] = {t.a.pq, t.d.pq};
	for (int i = 0; i < 2; i++) {
		PGresult *r = PQexecParams(pcs[i], "SELECT set_config($1, $2, false)", 2, NULL,
		                           params, NULL, NULL, 0);
		cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: extended set_config: %s",
		             i ? "twin" : "A", PQresultErrorMessage(r));
		PQclear(r);
	}
	sc_release(&e);
	sc_check(&e, &t.a, &t.d, &t.b, &s, "after an extended-protocol set_config");
	sc_expect_col("A", &s, SC_WORK_MEM, "17MB", "after an extended-protocol set_config");
	trio_leave(&e, &t, "postgres", NULL, "settings");
	sc_env_fini(&e);
	sc_fixtures_drop();
}

SESSION_CASE(placeholder_follows_setter)
static void placeholder_follows_setter(const char *mode)
{
	sc_start(mode, NULL);
	struct sc_env e;
	sc_env_init(&e, mode, "postgres", NULL);
	struct trio t = trio_open("postgres", NULL);
	struct sc_snap s;

	step(&e, &t, "SET myapp.tenant = '42'", &s);
	sc_expect_col("A", &s, SC_TENANT, "42", "after SET myapp.tenant");
	for (int i = 0; i < 6; i++) {
		sc_snap_next(&e, &t.a, i % 2 == 1, &s, "later");
		sc_expect_col("A", &s, SC_TENANT, "42", "later");
	}
	step(&e, &t, "SELECT set_config('myapp.tenant', '43', false)", &s);
	sc_expect_col("A", &s, SC_TENANT, "43", "after set_config myapp.tenant");
	step(&e, &t, "RESET myapp.tenant", &s);
	sc_expect_col("A", &s, SC_TENANT, "", "after RESET myapp.tenant");
	step(&e, &t, "SET myapp.tenant = '44'", &s);
	/* Statements after which pglane cannot name what changed (a RESET of another name, a
	 * DO block, set_config with the name as a parameter): the placeholder stays A's. */
	step(&e, &t, "RESET work_mem", &s);
	sc_expect_col("A", &s, SC_TENANT, "44", "after RESET work_mem");
	step(&e, &t, "DO $$BEGIN PERFORM set_config('myapp.tenant', '45', false); END$$", &s);
	sc_expect_col("A", &s, SC_TENANT, "45", "after a DO block's set_config");
	sc_hold_on(&e, t.a.pid);
	const char *params[2] = {"myapp.tenant", "46"};
	PGconn *pcs[2] = {t.a.pq, t.d.pq};
	for (int i = 0; i < 2; i++) {
		PGresult *r = PQexecParams(pcs[i], "SELECT set_config($1, $2, false)", 2, NULL,
		                           params, NULL, NULL, 0);
		cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: extended set_config: %s",
		             i ? "twin" : "A", PQresultErrorMessage(r));
		PQclear(r);
	}
	sc_release(&e);
	sc_check(&e, &t.a, &t.d, &t.b, &s, "after set_config($1, $2, false)");
	sc_expect_col("A", &s, SC_TENANT, "46", "after set_config($1, $2, false)");
	trio_leave(&e, &t, "postgres", NULL, "placeholder");
	sc_env_fini(&e);
}

/* The ways of writing a SET that a client may use, each held against the twin. */
SESSION_CASE(set_spellings)
static void set_spellings(const char *mode)
{
	static const struct {
		const char *sql;
		enum sc_col col;
		const char *want; /* NULL: only the twin */
	} forms[] = {
	        {"set WORK_MEM to 7168", SC_WORK_MEM, "7MB"},
	        {"SET \"work_mem\" TO '8MB'", SC_WORK_MEM, "8MB"},
	        {"SET SESSION work_mem = '9MB'", SC_WORK_MEM, "9MB"},
	        {"SeT wOrK_mEm = '10MB'", SC_WORK_MEM, "10MB"},
	        {"-- a comment\nSET work_mem = '11MB'", SC_WORK_MEM, "11MB"},
	        {"/* c1 */ /* c2 /* nested */ */ SET work_mem = '12MB'", SC_WORK_MEM, "12MB"},
	        {"SELECT 1; SET work_mem = '13MB'; SELECT 2", SC_WORK_MEM, "13MB"},
	        {"SET work_mem TO DEFAULT", SC_WORK_MEM, NULL},
	        {"SELECT pg_catalog.set_config('WORK_MEM', '14MB', false), 1", SC_WORK_MEM, "14MB"},
	        {"SELECT set_config('myapp.tenant', E'it''s\\\\x', false)", SC_TENANT, "it's\\x"},
	        {"SET myapp.tenant = 'a,b \"c\" $$'", SC_TENANT, "a,b \"c\" $$"},
	        {"SET search_path = " SC_SCHEMA_Q ", public", SC_CURRENT_SCHEMA, "it_sess q"},
	        {"SELECT set_config('search_path', '" SC_SCHEMA_Q ", " SC_SCHEMA_A "', false)",
	         SC_SEARCH_PATH, SC_SCHEMA_Q ", " SC_SCHEMA_A},
	        {"SET TIME ZONE INTERVAL '+05:30' HOUR TO MINUTE", SC_TIMEZONE, NULL},
	        {"SET TIME ZONE -3", SC_TIMEZONE, NULL},
	        {"SET TimeZone = 'America/New_York'", SC_TIMEZONE, "America/New_York"},
	        {"SET CLIENT_ENCODING TO 'WIN1252'", SC_CLIENT_ENCODING, "WIN1252"},
	        {"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ",
	         SC_ISOLATION, "repeatable read"},
	        {"SET default_transaction_isolation = 'serializable'", SC_ISOLATION,
	         "serializable"},
	        {"SET ROLE '" SC_ROLE "'", SC_CURRENT_USER, SC_ROLE},
	        {"SET ROLE NONE", SC_CURRENT_USER, "postgres"},
	        {"SET SESSION AUTHORIZATION '" SC_ROLE "'", SC_SESSION_USER, SC_ROLE},
	        {"RESET SESSION AUTHORIZATION", SC_SESSION_USER, "postgres"},
	        {"SET LOCAL work_mem = '15MB'; SET lock_timeout = '4s'", SC_LOCK_TIMEOUT, "4s"},
	};
	sc_fixtures();
	sc_start(mode, NULL);
	struct sc_env e;
	sc_env_init(&e, mode, "postgres", NULL);
	struct trio t = trio_open("postgres", NULL);
	struct sc_snap s;
	for (size_t i = 0; i < NSQL(forms); i++) {
		step(&e, &t, forms[i].sql, &s);
		if (forms[i].want)
			sc_expect_col("A", &s, forms[i].col, forms[i].want, forms[i].sql);
	}
	/* A SET over the extended protocol (Parse/Bind/Execute of the unnamed statement). */
	sc_hold_on(&e, t.a.pid);
	PGconn *pcs[2] = {t.a.pq, t.d.pq};
	for (int i = 0; i < 2; i++) {
		PGresult *r = PQexecParams(pcs[i], "SET lock_timeout = '4321ms'", 0, NULL, NULL,
		                           NULL, NULL, 0);
		cr_expect_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: extended SET: %s",
		             i ? "twin" : "A", PQresultErrorMessage(r));
		PQclear(r);
	}
	sc_release(&e);
	sc_check(&e, &t.a, &t.d, &t.b, &s, "after an extended-protocol SET");
	sc_expect_col("A", &s, SC_LOCK_TIMEOUT, "4321ms", "after an extended-protocol SET");
	trio_leave(&e, &t, "postgres", NULL, "SET spellings");
	sc_env_fini(&e);
	sc_fixtures_drop();
}

/* set_config(..., false) and SET run where the statement text does not name them: in a DO
 * block, in dynamic SQL, in a function that sets parameters PostgreSQL reports (TimeZone,
 * DateStyle). (A function that sets an unreported one, e.g. work_mem, is what the README says
 * pglane cannot see: not tested.) */
SESSION_CASE(set_config_hidden_in_function)
static void set_config_hidden_in_function(const char *mode)
{
	sc_fixtures();
	sc_start(mode, NULL);
	struct sc_env e;
	sc_env_init(&e, mode, "postgres", NULL);
	struct trio t = trio_open("postgres", NULL);
	struct sc_snap s;
	step(&e, &t, "SELECT " SC_SET_ZONE "('Asia/Tokyo', 'German, DMY')", &s);
	sc_expect_col("A", &s, SC_TIMEZONE, "Asia/Tokyo", "after a function's set_config");
	sc_expect_col("A", &s, SC_DATESTYLE, "German, DMY", "after a function's set_config");
	step(&e, &t, "DO $$BEGIN PERFORM set_config('work_mem', '3MB', false); END$$", &s);
	sc_expect_col("A", &s, SC_WORK_MEM, "3MB", "after a DO block's set_config");
	step(&e, &t, "DO $$BEGIN EXECUTE 'SET lock_timeout = ''1s'''; END$$", &s);
	sc_expect_col("A", &s, SC_LOCK_TIMEOUT, "1s", "after a DO block's dynamic SET");
	static const char *const rb[] = {"BEGIN", "SELECT " SC_SET_ZONE "('Europe/Paris', 'SQL')",
	                                 "ROLLBACK"};
	steps(&e, &t, rb, NSQL(rb), &s);
	sc_expect_col("A", &s, SC_TIMEZONE, "Asia/Tokyo",
	              "after a function's set_config rolled back");
	step(&e, &t, "SELECT " SC_SET_ZONE "('America/New_York', 'ISO')", &s);
	sc_expect_col("A", &s, SC_DATESTYLE, "ISO, DMY", "after a function's set_config");
	trio_leave(&e, &t, "postgres", NULL, "hidden set_config");
	sc_env_fini(&e);
	sc_fixtures_drop();
}

/* ---- lanes (transaction mode) ---- */

#define HINT_OLAP "/* lane: olap */ "

/* Snapshots of A in each lane (one server per lane) against the twin, and of the bystander
 * B in each lane right after A there. */
static void lanes_check(struct trio *t, const struct sc_snap *defaults, const char *ctx)
{
	struct sc_snap want, oltp, olap, b;
	sc_snap(&t->d, &want);
	sc_snap(&t->a, &oltp);
	sc_expect_same("A in lane oltp", &oltp, &want, ctx);
	sc_snap(&t->b, &b);
	sc_expect_same("B in lane oltp", &b, defaults, ctx);
	cr_expect_eq(b.pid, oltp.pid, "%s: lane oltp has two servers (%lld, %lld)", ctx, oltp.pid,
	             b.pid);
	sc_snap_with(&t->a, HINT_OLAP, &olap);
	sc_expect_same("A in lane olap", &olap, &want, ctx);
	cr_expect_neq(olap.pid, oltp.pid, "%s: lanes oltp and olap share backend %lld", ctx,
	              olap.pid);
	sc_snap_with(&t->b, HINT_OLAP, &b);
	sc_expect_same("B in lane olap", &b, defaults, ctx);
}

/* A client's settings follow it into the olap lane (its own pool) and back. */
IT_TEST(session, settings_follow_client_across_lanes)
{
	sc_fixtures();
	it_pglane_start("auth = { type = \"trust\"; };\n"
	                "pool = { mode = \"transaction\"; size = 1; };\n"
	                "databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@;"
	                " oltp = { size = 1; }; olap = { size = 1; }; } );\n");
	struct sc_env e;
	sc_env_init(&e, "session", "postgres", NULL); /* the defaults only: no holders */
	struct trio t = trio_open("postgres", NULL);
	lanes_check(&t, &e.defaults, "at login");
	static const char *const set[] = {"SET work_mem = '7MB'", "SET myapp.tenant = '42'",
	                                  "SET search_path = " SC_SCHEMA_A, "SET ROLE " SC_ROLE};
	for (size_t i = 0; i < NSQL(set); i++)
		sc_exec_both(&t.a, &t.d, set[i]);
	lanes_check(&t, &e.defaults, "after SETs in lane oltp");
	sc_exec_both(&t.a, &t.d, HINT_OLAP "SET lock_timeout = '2s'");
	lanes_check(&t, &e.defaults, "after a SET in lane olap");
	sc_exec_both(&t.a, &t.d, HINT_OLAP "RESET ALL");
	lanes_check(&t, &e.defaults, "after RESET ALL in lane olap");
	sc_close(&t.a);
	struct sc_client n = sc_connect("the next client", "postgres", NULL, NULL);
	struct sc_snap s;
	sc_snap(&n, &s);
	sc_expect_same(n.name, &s, &e.defaults, "lane oltp after A left");
	sc_snap_with(&n, HINT_OLAP, &s);
	sc_expect_same(n.name, &s, &e.defaults, "lane olap after A left");
	sc_close(&n);
	sc_close(&t.b);
	sc_close(&t.d);
	sc_env_fini(&e);
	sc_fixtures_drop();
}

/* ---- transactions ---- */

SESSION_CASE(rollback_undoes_set)
static void rollback_undoes_set(const char *mode)
{
	sc_fixtures();
	sc_start(mode, NULL);
	struct sc_env e;
	sc_env_init(&e, mode, "postgres", NULL);
	struct trio t = trio_open("postgres", NULL);
	struct sc_snap s;

	static const char *const rb[] = {"BEGIN", "SET work_mem = '9MB'", "ROLLBACK"};
	steps(&e, &t, rb, NSQL(rb), &s);
	sc_expect_col("A", &s, SC_WORK_MEM, e.defaults.v[SC_WORK_MEM], "after ROLLBACK");

	static const char *const sp[] = {"BEGIN",
	                                 "SET work_mem = '9MB'",
	                                 "SAVEPOINT s",
	                                 "SET lock_timeout = '2s'",
	                                 "SET search_path = " SC_SCHEMA_A,
	                                 "ROLLBACK TO SAVEPOINT s",
	                                 "COMMIT"};
	steps(&e, &t, sp, NSQL(sp), &s);
	sc_expect_col("A", &s, SC_WORK_MEM, "9MB", "after ROLLBACK TO SAVEPOINT; COMMIT");
	sc_expect_col("A", &s, SC_LOCK_TIMEOUT, e.defaults.v[SC_LOCK_TIMEOUT],
	              "after ROLLBACK TO SAVEPOINT; COMMIT");
	sc_expect_col("A", &s, SC_SEARCH_PATH, e.defaults.v[SC_SEARCH_PATH],
	              "after ROLLBACK TO SAVEPOINT; COMMIT");

	static const char *const rel[] = {"BEGIN", "SAVEPOINT s", "SET TIME ZONE 'Asia/Tokyo'",
	                                  "RELEASE SAVEPOINT s", "COMMIT"};
	steps(&e, &t, rel, NSQL(rel), &s);
	sc_expect_col("A", &s, SC_TIMEZONE, "Asia/Tokyo", "after RELEASE SAVEPOINT; COMMIT");

	/* COMMIT of a failed transaction rolls it back. */
	static const char *const failed[] = {"BEGIN", "SET lock_timeout = '3s'", "SELECT 1/0",
	                                     "COMMIT"};
	steps(&e, &t, failed, NSQL(failed), &s);
	sc_expect_col("A", &s, SC_LOCK_TIMEOUT, e.defaults.v[SC_LOCK_TIMEOUT],
	              "after a failed transaction");

	/* The implicit transaction of one Query with several statements. */
	step(&e, &t, "SET statement_timeout = '4s'; SELECT 1/0", &s);
	sc_expect_col("A", &s, SC_STATEMENT_TIMEOUT, e.defaults.v[SC_STATEMENT_TIMEOUT],
	              "after a failed multi-statement Query");
	step(&e, &t, "SET lock_timeout = '5s'; SELECT 1; SET work_mem = '16MB'; SELECT 1/0", &s);
	sc_expect_col("A", &s, SC_WORK_MEM, "9MB", "after a failed multi-statement Query");
	step(&e, &t, "BEGIN; SET work_mem = '12MB'; COMMIT", &s);
	sc_expect_col("A", &s, SC_WORK_MEM, "12MB", "after BEGIN; SET; COMMIT in one Query");
	step(&e, &t, "SET lock_timeout = '6s'; SELECT 1", &s);
	sc_expect_col("A", &s, SC_LOCK_TIMEOUT, "6s", "after SET; SELECT in one Query");

	static const char *const cfg[] = {"BEGIN", "SELECT set_config('work_mem', '11MB', false)",
	                                  "ROLLBACK"};
	steps(&e, &t, cfg, NSQL(cfg), &s);
	sc_expect_col("A", &s, SC_WORK_MEM, "12MB",
	              "after set_config in a rolled back transaction");

	static const char *const auth[] = {"BEGIN", "SET SESSION AUTHORIZATION " SC_ROLE,
	                                   "SET myapp.tenant = '5'", "ROLLBACK"};
	steps(&e, &t, auth, NSQL(auth), &s);
	sc_expect_col("A", &s, SC_SESSION_USER, "postgres",
	              "after SET SESSION AUTHORIZATION rolled back");

	static const char *const nested[] = {"BEGIN",
	                                     "SET work_mem = '13MB'",
	                                     "SAVEPOINT a",
	                                     "SET work_mem = '14MB'",
	                                     "SAVEPOINT b",
	                                     "SET work_mem = '15MB'",
	                                     "ROLLBACK TO SAVEPOINT a",
	                                     "COMMIT"};
	steps(&e, &t, nested, NSQL(nested), &s);
	sc_expect_col("A", &s, SC_WORK_MEM, "13MB", "after nested savepoints");
	trio_leave(&e, &t, "postgres", NULL, "rollback");
	sc_env_fini(&e);
	sc_fixtures_drop();
}

SESSION_CASE(local_lasts_one_transaction)
static void local_lasts_one_transaction(const char *mode)
{
	sc_fixtures();
	sc_start(mode, NULL);
	struct sc_env e;
	sc_env_init(&e, mode, "postgres", NULL);
	struct trio t = trio_open("postgres", NULL);
	struct sc_snap s;

	step(&e, &t, "SET work_mem = '7MB'", &s);

	sc_hold_on(&e, t.a.pid);
	sc_exec_both(&t.a, &t.d, "BEGIN");
	sc_exec_both(&t.a, &t.d, "SET LOCAL work_mem = '9MB'");
	sc_exec_both(&t.a, &t.d, "SELECT set_config('lock_timeout', '3s', true)");
	sc_exec_both(&t.a, &t.d, "SET LOCAL TIME ZONE 'Asia/Tokyo'");
	sc_exec_both(&t.a, &t.d, "SET LOCAL ROLE " SC_ROLE);
	check_inside(&t, &s, "inside the transaction with SET LOCAL");
	sc_expect_col("A", &s, SC_WORK_MEM, "9MB", "inside");
	sc_expect_col("A", &s, SC_LOCK_TIMEOUT, "3s", "inside");
	sc_expect_col("A", &s, SC_CURRENT_USER, SC_ROLE, "inside");
	sc_exec_both(&t.a, &t.d, "COMMIT");
	sc_release(&e);
	sc_check(&e, &t.a, &t.d, &t.b, &s, "after COMMIT of SET LOCAL");
	sc_expect_col("A", &s, SC_WORK_MEM, "7MB", "after COMMIT of SET LOCAL");
	sc_expect_col("A", &s, SC_LOCK_TIMEOUT, e.defaults.v[SC_LOCK_TIMEOUT], "after COMMIT");
	sc_expect_col("A", &s, SC_TIMEZONE, e.defaults.v[SC_TIMEZONE], "after COMMIT");
	sc_expect_col("A", &s, SC_CURRENT_USER, "postgres", "after COMMIT");

	static const char *const rb[] = {"BEGIN", "SET LOCAL search_path = " SC_SCHEMA_A,
	                                 "SET work_mem = '8MB'",
	                                 "SELECT set_config('myapp.tenant', "
	                                 "'1', true)",
	                                 "COMMIT"};
	steps(&e, &t, rb, NSQL(rb), &s);
	sc_expect_col("A", &s, SC_WORK_MEM, "8MB", "after SET LOCAL and SET in one transaction");
	sc_expect_col("A", &s, SC_SEARCH_PATH, e.defaults.v[SC_SEARCH_PATH],
	              "after SET LOCAL and SET in one transaction");

	step(&e, &t, "SELECT set_config('lock_timeout', '3s', true)", &s);
	sc_expect_col("A", &s, SC_LOCK_TIMEOUT, e.defaults.v[SC_LOCK_TIMEOUT],
	              "after set_config(..., true) outside a transaction");
	step(&e, &t, "SET LOCAL work_mem = '10MB'", &s);
	sc_expect_col("A", &s, SC_WORK_MEM, "8MB", "after SET LOCAL outside a transaction");

	/* SET then SET LOCAL of one parameter in one transaction: the SET stays. */
	static const char *const both[] = {"BEGIN", "SET work_mem = '11MB'",
	                                   "SET LOCAL work_mem = '12MB'", "COMMIT"};
	steps(&e, &t, both, NSQL(both), &s);
	sc_expect_col("A", &s, SC_WORK_MEM, "11MB", "after SET, SET LOCAL, COMMIT");
	trio_leave(&e, &t, "postgres", NULL, "SET LOCAL");
	sc_env_fini(&e);
	sc_fixtures_drop();
}

SESSION_CASE(reset_as_direct)
static void reset_as_direct(const char *mode)
{
	sc_fixtures();
	sc_start(mode, NULL);
	struct sc_env e;
	sc_env_init(&e, mode, "postgres", NULL);
	struct trio t = trio_open("postgres", NULL);
	struct sc_snap s;

	static const char *const set[] = {"SET work_mem = '7MB'",
	                                  "SET lock_timeout = '1234ms'",
	                                  "SET search_path = " SC_SCHEMA_A ", public",
	                                  "SET TIME ZONE 'Asia/Tokyo'",
	                                  "SET myapp.tenant = '42'",
	                                  "SET NAMES 'LATIN1'",
	                                  "SET DateStyle = 'German, DMY'"};
	steps(&e, &t, set, NSQL(set), &s);
	step(&e, &t, "RESET work_mem", &s);
	sc_expect_col("A", &s, SC_WORK_MEM, e.defaults.v[SC_WORK_MEM], "after RESET work_mem");
	sc_expect_col("A", &s, SC_LOCK_TIMEOUT, "1234ms", "after RESET work_mem");
	step(&e, &t, "SET TIME ZONE LOCAL", &s);
	sc_expect_col("A", &s, SC_TIMEZONE, e.defaults.v[SC_TIMEZONE], "after SET TIME ZONE LOCAL");
	step(&e, &t, "SET search_path TO DEFAULT", &s);
	step(&e, &t, "RESET myapp.tenant", &s);
	step(&e, &t, "RESET ALL", &s);
	sc_expect_same("A", &s, &e.defaults, "after RESET ALL");
	static const char *const discard[] = {"SET work_mem = '6MB'", "SET DateStyle = 'SQL, DMY'",
	                                      "DISCARD ALL"};
	steps(&e, &t, discard, NSQL(discard), &s);
	sc_expect_same("A", &s, &e.defaults, "after DISCARD ALL");
	step(&e, &t, "SET lock_timeout = '2s'", &s);
	trio_leave(&e, &t, "postgres", NULL, "RESET");
	sc_env_fini(&e);
	sc_fixtures_drop();
}

/* ---- a session that cannot be brought to another server ---- */

/* A's transaction on the backend other than `avoid`: its snapshot, or false and the error. */
static bool snap_try(struct sc_env *e, struct sc_client *a, long long avoid, struct sc_snap *s,
                     char *err, size_t errn)
{
	sc_hold_on(e, avoid);
	PGresult *r = PQexec(a->pq, sc_snap_sql);
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	if (ok)
		sc_snap_parse(a->name, PQgetvalue(r, 0, 0), s);
	else
		snprintf(err, errn, "%s %s", it_sqlstate(r),
		         r ? PQresultErrorMessage(r) : PQerrorMessage(a->pq));
	PQclear(r);
	sc_release(e);
	return ok;
}

/* A's SET ROLE can no longer be applied on a server that a bystander has used since (the role
 * was revoked meanwhile): A's transactions there must fail, never run as its login user; the
 * bystander never runs as the role; once the role is granted again A runs as it everywhere. */
IT_TEST(session, failed_apply_is_an_error_not_other_settings)
{
	sc_fixtures();
	sc_start("transaction", NULL);
	struct sc_env e;
	sc_env_init(&e, "transaction", SC_USER, SC_PASSWORD);
	struct sc_client a = sc_connect("A", SC_USER, SC_PASSWORD, NULL);
	struct sc_client b = sc_connect("bystander B", SC_USER, SC_PASSWORD, NULL);
	struct sc_snap s;
	long long pids[2];
	sc_exec_ok(&a, "SET ROLE " SC_ROLE);
	for (int i = 0; i < 2; i++) {
		sc_snap_next(&e, &a, false, &s, "after SET ROLE");
		sc_expect_col("A", &s, SC_CURRENT_USER, SC_ROLE, "after SET ROLE");
		pids[i] = s.pid;
	}
	cr_assert_neq(pids[0], pids[1]);
	PGconn *admin = it_connect_admin();
	it_exec_ok(admin, "REVOKE " SC_ROLE " FROM " SC_USER);
	int errors = 0, runs = 0;
	for (int i = 0; i < 8; i++) {
		char ctx[64], err[512];
		snprintf(ctx, sizeof ctx, "round %d after REVOKE", i + 1);
		/* B on both servers first: they no longer hold A's role. */
		for (int k = 0; k < 2; k++) {
			struct sc_snap bs;
			sc_snap_on(&e, &b, pids[k], &bs, ctx);
			sc_expect_col(b.name, &bs, SC_CURRENT_USER, SC_USER, ctx);
		}
		if (snap_try(&e, &a, pids[i % 2], &s, err, sizeof err)) {
			runs++;
			sc_expect_col("A", &s, SC_CURRENT_USER, SC_ROLE, ctx);
		} else {
			errors++;
			cr_log_info("%s: A got %s", ctx, err);
		}
		if (PQstatus(a.pq) != CONNECTION_OK)
			break;
	}
	cr_log_info("after REVOKE: A ran %d transactions, %d failed", runs, errors);
	it_exec_ok(admin, "GRANT " SC_ROLE " TO " SC_USER);
	PQfinish(admin);
	if (PQstatus(a.pq) == CONNECTION_OK) {
		for (int i = 0; i < 4; i++) {
			char err[512];
			bool ok = snap_try(&e, &a, pids[i % 2], &s, err, sizeof err);
			cr_expect(ok, "A after GRANT (round %d): %s", i + 1, ok ? "" : err);
			if (ok)
				sc_expect_col("A", &s, SC_CURRENT_USER, SC_ROLE, "after GRANT");
		}
	} else {
		cr_log_info("pglane closed A's connection: %s", PQerrorMessage(a.pq));
	}
	sc_close(&a);
	sc_close(&b);
	sc_env_fini(&e);
	sc_fixtures_drop();
}

/* ---- the extended protocol and pipelining ---- */

/* Parse/Bind/Execute of the unnamed statement for each of `sqls`, a Sync after each whose
 * `syncs` character is 'S' (a Flush for 'F', nothing for '-'); sent at once, read up to the
 * last ReadyForQuery (a Flush waits for its statement's CommandComplete or ErrorResponse). */
static void ext_run(struct sc_client *c, const char *const *sqls, size_t n, const char *syncs)
{
	size_t i = 0;
	while (i < n) {
		int nsync = 0;
		bool flushed = false;
		for (; i < n && !flushed; i++) {
			rawpg_parse(c->raw, "", sqls[i]);
			rawpg_bind_exec(c->raw, "", NULL);
			if (syncs[i] == 'S') {
				rawpg_sync(c->raw);
				nsync++;
			} else if (syncs[i] == 'F') {
				rawpg_flush(c->raw);
				flushed = true;
			}
		}
		rawpg_send(c->raw);
		if (flushed) {
			for (;;) {
				struct rawpg_msg m = rawpg_next(c->raw, RAWPG_TIMEOUT_MS);
				if (m.type == 'C' || m.type == 'E')
					break;
			}
		}
		for (int k = 0; k < nsync; k++)
			rawpg_until_ready(c->raw);
	}
}

/* What an implicit transaction of the extended protocol (everything up to a Sync) does to a
 * SET: an error before the Sync undoes it, one after it does not; a Flush ends nothing. */
SESSION_CASE(extended_protocol_set_and_sync)
static void extended_protocol_set_and_sync(const char *mode)
{
	sc_start(mode, NULL);
	struct sc_env e;
	sc_env_init(&e, mode, "postgres", NULL);
	struct sc_client r = sc_connect_raw("R (extended protocol)", false, NULL, 0);
	struct sc_client d = sc_connect_raw("direct raw twin", true, NULL, 0);
	struct sc_client b = sc_connect("bystander B", "postgres", NULL, NULL);
	struct sc_snap s;
	static const struct {
		const char *sqls[4];
		size_t n;
		const char *syncs;
		enum sc_col col;
		const char *want;
		const char *what;
	} cases[] = {
	        {{"SET work_mem = '8MB'", "SELECT 1/0"},
	         2,
	         "-S",
	         SC_WORK_MEM,
	         NULL,
	         "SET, an error, Sync"},
	        {{"SET work_mem = '9MB'", "SELECT 1/0"},
	         2,
	         "SS",
	         SC_WORK_MEM,
	         "9MB",
	         "SET, Sync, an error, Sync"},
	        {{"BEGIN", "SET lock_timeout = '3s'", "COMMIT"},
	         3,
	         "--S",
	         SC_LOCK_TIMEOUT,
	         "3s",
	         "BEGIN, SET, COMMIT, Sync"},
	        {{"SET lock_timeout = '4s'", "SELECT 1/0"},
	         2,
	         "FS",
	         SC_LOCK_TIMEOUT,
	         "3s",
	         "SET, Flush, an error, Sync"},
	        {{"SET statement_timeout = '5s'", "SELECT 1", "SET work_mem = '10MB'"},
	         3,
	         "--S",
	         SC_WORK_MEM,
	         "10MB",
	         "SET, SELECT, SET, Sync"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		sc_hold_on(&e, r.pid);
		ext_run(&r, cases[i].sqls, cases[i].n, cases[i].syncs);
		sc_release(&e);
		ext_run(&d, cases[i].sqls, cases[i].n, cases[i].syncs);
		sc_check(&e, &r, &d, &b, &s, cases[i].what);
		sc_expect_col(r.name, &s, cases[i].col,
		              cases[i].want ? cases[i].want : e.defaults.v[cases[i].col],
		              cases[i].what);
	}
	sc_close(&d);
	sc_leave_check(&e, &r, "postgres", NULL, "extended protocol");
	sc_close(&b);
	sc_env_fini(&e);
}

/* Busy clients of the pool (threads): each transaction must see the defaults. */
struct busy {
	PGconn *c;
	const struct sc_snap *defaults;
	atomic_bool stop;
	int n, bad;
	char first_bad[512];
};

static void *busy_run(void *arg)
{
	struct busy *b = arg;
	while (!atomic_load(&b->stop)) {
		PGresult *r = PQexec(b->c, "SELECT current_setting('work_mem'),"
		                           " current_setting('lock_timeout'), pg_sleep(0.003)");
		bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
		const char *wm = ok ? PQgetvalue(r, 0, 0) : PQresultErrorMessage(r);
		const char *lt = ok ? PQgetvalue(r, 0, 1) : "";
		if (!ok || strcmp(wm, b->defaults->v[SC_WORK_MEM]) != 0 ||
		    strcmp(lt, b->defaults->v[SC_LOCK_TIMEOUT]) != 0) {
			if (b->bad++ == 0)
				snprintf(b->first_bad, sizeof b->first_bad,
				         "work_mem %s, lock_timeout %s", wm, lt);
		}
		b->n++;
		PQclear(r);
	}
	return NULL;
}

/* A raw client sends each SET with the query that reads it in one packet (simple Queries,
 * pipelined), 30 times, while two busy clients keep the pool of 2 taken: every reading shows
 * the value just set, and the busy clients never see one. */
IT_TEST(session, pipelined_sets_under_load)
{
	sc_start_one_worker("transaction", NULL); /* R's transactions on both servers */
	struct sc_env e;
	sc_env_init(&e, "session", "postgres", NULL); /* the defaults; no holders */
	static struct busy busy[2];
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		busy[i].c = it_connect("postgres", NULL, "postgres");
		busy[i].defaults = &e.defaults;
		atomic_store(&busy[i].stop, false);
		cr_assert_eq(pthread_create(&th[i], NULL, busy_run, &busy[i]), 0);
	}
	struct sc_client r = sc_connect_raw("R (pipelined)", false, NULL, 0);
	long long pids[4] = {0};
	int np = 0;
	for (int i = 0; i < 30; i++) {
		char wm[64], lt[64], want_wm[16], want_lt[16];
		snprintf(want_wm, sizeof want_wm, "%dMB", 10 + i);
		snprintf(want_lt, sizeof want_lt, "%dms", 100 + i);
		snprintf(wm, sizeof wm, "SET work_mem = '%s'", want_wm);
		snprintf(lt, sizeof lt, "SET lock_timeout = '%s'", want_lt);
		bool block = i % 3 == 2;
		if (block)
			rawpg_query(r.raw, "BEGIN");
		rawpg_query(r.raw, wm);
		rawpg_query(r.raw, lt);
		rawpg_query(r.raw, sc_snap_sql);
		if (block)
			rawpg_query(r.raw, "COMMIT");
		rawpg_send(r.raw);
		char why[600];
		bool ok = rawpg_check_seq(r.raw, block ? "CZCZCZTDCZ" : "CZCZTDCZ",
		                          RAWPG_TIMEOUT_MS, why, sizeof why);
		cr_assert(ok, "round %d: %s", i, why);
		char row[256];
		snprintf(row, sizeof row, "%s", r.raw->value);
		if (block)
			rawpg_expect_seq(r.raw, "CZ");
		struct sc_snap s;
		sc_snap_parse(r.name, row, &s);
		char ctx[64];
		snprintf(ctx, sizeof ctx, "round %d", i);
		sc_expect_col(r.name, &s, SC_WORK_MEM, want_wm, ctx);
		sc_expect_col(r.name, &s, SC_LOCK_TIMEOUT, want_lt, ctx);
		int k = 0;
		while (k < np && pids[k] != s.pid)
			k++;
		if (k == np && np < 4)
			pids[np++] = s.pid;
	}
	for (int i = 0; i < 2; i++) {
		atomic_store(&busy[i].stop, true);
		pthread_join(th[i], NULL);
		cr_expect_gt(busy[i].n, 0, "busy client %d ran nothing", i);
		cr_expect_eq(busy[i].bad, 0,
		             "busy client %d: %d of %d transactions not at the "
		             "defaults; first: %s",
		             i, busy[i].bad, busy[i].n, busy[i].first_bad);
		PQfinish(busy[i].c);
	}
	cr_expect_eq(np, 2, "the raw client ran on %d backends (want both of the pool's)", np);
	sc_close(&r);
	sc_env_fini(&e);
}

/* ---- many clients at once (transaction mode) ---- */

#define MC_CLIENTS 6
#define MC_ROUNDS  30

struct mc_client {
	int i;
	PGconn *c;
	char want[512]; /* the snapshot of its direct twin, without the pid */
	int bad, distinct_pids;
	char first_bad[1024];
};

static const char *const mc_zones[MC_CLIENTS] = {"Asia/Tokyo",   "America/New_York",
                                                 "Europe/Paris", "Australia/Sydney",
                                                 "Africa/Cairo", "Asia/Kolkata"};

/* The client's own settings, as one Query. */
static void mc_sql(int i, char *out, size_t n)
{
	snprintf(out, n,
	         "SET work_mem = '%dMB'; SET lock_timeout = '%dms'; SET search_path = %s;"
	         " SET TIME ZONE '%s'; SET myapp.tenant = 't%d'; SET statement_timeout = '%ds'%s",
	         10 + i, 1000 + i, i % 2 ? SC_SCHEMA_A : SC_SCHEMA_B, mc_zones[i], i, 20 + i,
	         i == 0 ? "; SET ROLE " SC_ROLE : "");
}

/* The snapshot row without its last field (the pid), which it returns. */
static long long strip_pid(char *row)
{
	char *bar = strrchr(row, '|');
	if (!bar)
		return 0;
	*bar = '\0';
	return atoll(bar + 1);
}

/* A thread: MC_ROUNDS transactions (every third inside BEGIN ... COMMIT with a pg_sleep),
 * each comparing the snapshot with the twin's. Never fails the test (Criterion asserts belong
 * to the main thread): counts and the first difference go into *m. */
static void *mc_run(void *arg)
{
	struct mc_client *m = arg;
	long long pids[8];
	int np = 0;
	for (int r = 0; r < MC_ROUNDS; r++) {
		bool block = r % 3 == 0;
		PGresult *res = PQexec(m->c, block ? "BEGIN; SELECT pg_sleep(0.003)"
		                                   : "SELECT pg_sleep(0.001)");
		bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
		PQclear(res);
		char row[512] = "";
		res = PQexec(m->c, sc_snap_sql);
		ok = ok && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
		snprintf(row, sizeof row, "%s",
		         ok ? PQgetvalue(res, 0, 0) : PQresultErrorMessage(res));
		PQclear(res);
		if (block) {
			res = PQexec(m->c, "COMMIT");
			ok = ok && PQresultStatus(res) == PGRES_COMMAND_OK;
			PQclear(res);
		}
		long long pid = ok ? strip_pid(row) : 0;
		if (!ok || strcmp(row, m->want) != 0) {
			if (m->bad++ == 0)
				snprintf(m->first_bad, sizeof m->first_bad,
				         "round %d: got `%.480s`, want `%.480s`", r, row, m->want);
			continue;
		}
		int k = 0;
		while (k < np && pids[k] != pid)
			k++;
		if (k == np && np < 8)
			pids[np++] = pid;
	}
	m->distinct_pids = np;
	return NULL;
}

/* Six clients with settings of their own (one of them with a role) run at once over a pool
 * of 2, each transaction checked against a direct twin's values. */
IT_TEST(session, settings_of_many_clients_at_once)
{
	sc_fixtures();
	sc_start_one_worker("transaction", NULL); /* clients move between the 2 servers */
	static struct mc_client mc[MC_CLIENTS];
	for (int i = 0; i < MC_CLIENTS; i++) {
		char sql[512];
		mc_sql(i, sql, sizeof sql);
		struct sc_client d = sc_connect_direct("twin", "postgres", NULL, NULL);
		sc_exec_ok(&d, sql);
		PGresult *r = PQexec(d.pq, sc_snap_sql);
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		snprintf(mc[i].want, sizeof mc[i].want, "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
		strip_pid(mc[i].want);
		sc_close(&d);
		struct sc_client a = sc_connect("client", "postgres", NULL, NULL);
		sc_exec_ok(&a, sql);
		mc[i].c = a.pq;
		mc[i].i = i;
	}
	pthread_t th[MC_CLIENTS];
	for (int i = 0; i < MC_CLIENTS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, mc_run, &mc[i]), 0);
	for (int i = 0; i < MC_CLIENTS; i++)
		pthread_join(th[i], NULL);
	int moved = 0;
	for (int i = 0; i < MC_CLIENTS; i++) {
		cr_expect_eq(mc[i].bad, 0,
		             "client %d: %d of %d transactions without its settings; "
		             "first: %s",
		             i, mc[i].bad, MC_ROUNDS, mc[i].first_bad);
		cr_expect_leq(mc[i].distinct_pids, 2,
		              "client %d ran on %d backends with a pool of 2", i,
		              mc[i].distinct_pids);
		moved += mc[i].distinct_pids > 1;
		PQfinish(mc[i].c);
	}
	cr_expect_gt(moved, 0, "no client ran on both servers: nothing was shared");
	sc_fixtures_drop();
}

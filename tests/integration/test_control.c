/* tests/integration/test_control.c — the admin console's controls (issue 5): PAUSE under
 * pgbench load holds new transactions and RESUME releases them with no failed transaction;
 * PAUSE waits for open transactions; KILL drops a database's clients and servers and leaves
 * it paused; RECONNECT gives new backends, scoped to its database; SHUTDOWN ends the process;
 * RELOAD (and SIGHUP) of a larger pool under load disconnects no one and uses more servers,
 * and a broken file is refused with FILE:LINE while the old config stays. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"
#include "tests/integration/hold.h"

TestSuite(control, .fini = it_pglane_fini, .timeout = 90);

/* postgres: pool of 2; bench: pool of 4. */
#define CONTROL_CONF                                                                               \
	"auth = { type = \"trust\"; };\n"                                                          \
	"pool = { mode = \"transaction\"; size = 2; query_wait_timeout = \"60s\"; };\n"            \
	"databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; },\n"          \
	"              { name = \"bench\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"                \
	"                oltp = { size = 4; }; } );\n"

/* ---- console helpers ---- */

/* Run a control command and expect its tag. */
static void control_ok(PGconn *a, const char *sql, const char *tag)
{
	PGresult *r = PQexec(a, sql);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "`%s`: %s %s", sql,
	             PQresStatus(PQresultStatus(r)), r ? PQresultErrorMessage(r) : "");
	cr_expect_str_eq(PQcmdStatus(r), tag, "`%s` answered %s", sql, PQcmdStatus(r));
	PQclear(r);
}

/* total_xact_count of database × lane in SHOW STATS (0 when there is no row yet). */
static long long xacts(PGconn *a, const char *db)
{
	PGresult *r = adminq_show(a, "SHOW STATS");
	int row = adminq_find(r, "database", db, "lane", "oltp");
	long long v = row < 0 ? 0 : adminq_cell_ll(r, row, "total_xact_count");
	PQclear(r);
	return v;
}

/* SHOW DATABASES' paused column of `db`. */
static long long paused(PGconn *a, const char *db)
{
	PGresult *r = adminq_show(a, "SHOW DATABASES");
	int row = adminq_find(r, "name", db, NULL, NULL);
	cr_assert_geq(row, 0, "SHOW DATABASES has no %s", db);
	long long v = adminq_cell_ll(r, row, "paused");
	PQclear(r);
	return v;
}

/* SHOW CONFIG's value of `key` (malloc'ed). */
static char *config_value(PGconn *a, const char *key)
{
	PGresult *r = adminq_show(a, "SHOW CONFIG");
	int row = adminq_find(r, "key", key, NULL, NULL);
	cr_assert_geq(row, 0, "SHOW CONFIG has no %s", key);
	char *v = strdup(adminq_cell(r, row, "value"));
	PQclear(r);
	return v;
}

/* Send `sql` on `c`; it must not complete within `ms` (it waits). */
static void expect_held(PGconn *c, const char *sql, int ms, const char *why)
{
	cr_assert(PQsendQuery(c, sql), "%s", PQerrorMessage(c));
	bool to = false;
	PGresult *r = it_result_wait(c, ms, &to);
	cr_expect(to, "%s: `%s` completed within %d ms (%s)", why, sql, ms,
	          r ? PQresStatus(PQresultStatus(r)) : PQerrorMessage(c));
	PQclear(r);
}

/* The query sent before on `c` completes within `ms` with the integer `want`. */
static void expect_released(PGconn *c, int ms, long long want, const char *why)
{
	bool to = false;
	PGresult *r = it_result_wait(c, ms, &to);
	cr_assert(!to, "%s: still waiting after %d ms", why, ms);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", why,
	             r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	cr_expect_eq(atoll(PQgetvalue(r, 0, 0)), want, "%s", why);
	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
}

/* Is backend `pid` gone from pg_stat_activity within timeout_ms? */
static bool backend_gone(PGconn *pg, long long pid, int timeout_ms)
{
	char q[128];
	snprintf(q, sizeof q, "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld", pid);
	int64_t deadline = it_now_ms() + timeout_ms;
	for (;;) {
		if (it_query_ll(pg, q) == 0)
			return true;
		if (it_now_ms() > deadline)
			return false;
		it_sleep_ms(20);
	}
}

/* ---- PAUSE / RESUME ---- */

IT_TEST(control, pause_under_pgbench_load, .timeout = 120)
{
	struct it_pglane *p = it_pglane_start(CONTROL_CONF);
	char out_path[700], cmd[512];
	snprintf(out_path, sizeof out_path, "%s/pgbench.out", p->dir);
	snprintf(cmd, sizeof cmd,
	         "exec pgbench -h 127.0.0.1 -p %d -U postgres -n -S -T 10 -c 10 -j 2 bench",
	         p->port);
	PGconn *a = adminq_connect("admin");
	PGconn *late = it_connect("postgres", NULL, "bench");
	PGconn *other = it_connect("postgres", NULL, "postgres");
	pid_t bench = adminq_bg_start(out_path, cmd);

	/* under load */
	int64_t deadline = it_now_ms() + 8000;
	while (xacts(a, "bench") < 300 && it_now_ms() < deadline)
		it_sleep_ms(50);
	cr_assert_geq(xacts(a, "bench"), 300, "pgbench is not running through pglane");

	/* PAUSE returns once every server of bench is back in the pool */
	cr_assert(PQsendQuery(a, "PAUSE bench"));
	bool to = false;
	PGresult *r = it_result_wait(a, 10000, &to);
	cr_assert(!to, "PAUSE bench did not return within 10 s");
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "PAUSE: %s", PQresultErrorMessage(r));
	cr_expect_str_eq(PQcmdStatus(r), "PAUSE");
	PQclear(r);
	while ((r = PQgetResult(a)) != NULL)
		PQclear(r);
	cr_expect_eq(adminq_pool_value(a, "bench", "postgres", "oltp", "sv_active"), 0,
	             "servers still active after PAUSE returned");
	cr_expect_eq(paused(a, "bench"), 1);
	cr_expect_eq(paused(a, "postgres"), 0);
	long long x1 = xacts(a, "bench");

	/* new transactions wait: a new client's, and every pgbench client's */
	expect_held(late, "SELECT 42", 1000, "bench is paused");
	long long x2 = xacts(a, "bench");
	cr_expect_eq(x2, x1, "%lld transactions ran on bench while it was paused", x2 - x1);
	long long last = 0;
	cr_expect_geq(
	        adminq_pool_wait(a, "bench", "postgres", "oltp", "cl_waiting", 11, 3000, &last), 0,
	        "cl_waiting = %lld while paused, expected 10 pgbench clients + 1", last);
	cr_expect_eq(adminq_pool_value(a, "bench", "postgres", "oltp", "sv_active"), 0);
	/* another database is not paused */
	cr_expect_eq(it_query_ll(other, "SELECT 7"), 7);

	control_ok(a, "RESUME bench", "RESUME");
	expect_released(late, 3000, 42, "after RESUME");
	deadline = it_now_ms() + 3000;
	while (xacts(a, "bench") <= x2 + 100 && it_now_ms() < deadline)
		it_sleep_ms(50);
	cr_expect_gt(xacts(a, "bench"), x2 + 100, "pgbench did not go on after RESUME");
	cr_expect_eq(paused(a, "bench"), 0);

	int st = adminq_wait_exit(bench, 40000, true);
	char *out = it_file_read(out_path);
	cr_assert(out);
	cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "pgbench ended %d:\n%s", st,
	          out);
	long long failed = adminq_report_number(out, "number of failed transactions:");
	long long done = adminq_report_number(out, "number of transactions actually processed:");
	cr_expect_eq(failed, 0, "pgbench: %lld failed transactions:\n%s", failed, out);
	cr_expect_gt(done, 0, "pgbench processed %lld transactions:\n%s", done, out);
	free(out);
	PQfinish(late);
	PQfinish(other);
	PQfinish(a);
}

IT_TEST(control, pause_waits_for_open_transactions)
{
	it_pglane_start(CONTROL_CONF);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	PGconn *a = adminq_connect("admin");
	PGconn *a2 = adminq_connect("admin");
	it_exec_ok(c, "BEGIN");
	it_exec_ok(c, "SELECT 1");
	/* PAUSE (every database) cannot finish while c holds its server */
	cr_assert(PQsendQuery(a, "PAUSE"));
	bool to = false;
	PGresult *r = it_result_wait(a, 1000, &to);
	cr_expect(to, "PAUSE returned while a transaction was open");
	PQclear(r);
	/* the console still answers others, and the open transaction goes on */
	cr_expect_eq(paused(a2, "postgres"), 1);
	cr_expect_eq(it_query_ll(c, "SELECT 2"), 2, "the open transaction was held");
	it_exec_ok(c, "COMMIT");
	r = it_result_wait(a, 3000, &to);
	cr_assert(!to, "PAUSE did not return after the transaction ended");
	cr_expect_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	while ((r = PQgetResult(a)) != NULL)
		PQclear(r);
	/* the next transaction waits; so does a client of a database not used before (its
	 * login needs a first server), without failing */
	expect_held(c, "SELECT 3", 1000, "paused");
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "bench",
	            NULL);
	PGconn *b = PQconnectStart(ci);
	cr_assert(b && PQstatus(b) != CONNECTION_BAD, "%s", b ? PQerrorMessage(b) : "");
	PostgresPollingStatusType bst = it_connect_poll(b, PGRES_POLLING_WRITING, 500);
	cr_expect_neq(bst, PGRES_POLLING_FAILED, "a login failed while paused: %s",
	              PQerrorMessage(b));
	if (bst == PGRES_POLLING_OK)
		expect_held(b, "SELECT 4", 500, "paused (bench)");
	control_ok(a, "RESUME", "RESUME");
	expect_released(c, 3000, 3, "after RESUME");
	if (bst != PGRES_POLLING_OK) {
		bst = it_connect_poll(b, bst, 3000);
		cr_assert_eq(bst, PGRES_POLLING_OK, "the login did not finish after RESUME: %s",
		             PQerrorMessage(b));
		cr_expect_eq(it_query_ll(b, "SELECT 4"), 4);
	} else {
		expect_released(b, 3000, 4, "after RESUME (bench)");
	}
	cr_expect_eq(paused(a2, "postgres"), 0);
	PQfinish(b);
	PQfinish(c);
	PQfinish(a2);
	PQfinish(a);
}

/* An admin that leaves while its PAUSE waits: pglane goes on, the pause holds, and another
 * admin resumes. */
IT_TEST(control, pause_pending_admin_vanishes)
{
	it_pglane_start(CONTROL_CONF);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "BEGIN");
	it_exec_ok(c, "SELECT 1");
	PGconn *a = adminq_connect("admin");
	cr_assert(PQsendQuery(a, "PAUSE postgres"));
	bool to = false;
	PGresult *r = it_result_wait(a, 500, &to);
	cr_expect(to, "PAUSE returned while a transaction was open");
	PQclear(r);
	it_conn_vanish(a);
	it_sleep_ms(100);
	it_exec_ok(c, "COMMIT");
	it_sleep_ms(200);
	cr_assert(it_pglane_alive(), "pglane died when a pending PAUSE lost its admin");
	expect_held(c, "SELECT 8", 700, "paused by the admin that left");
	PGconn *b = adminq_connect("admin");
	cr_expect_eq(paused(b, "postgres"), 1);
	control_ok(b, "RESUME postgres", "RESUME");
	expect_released(c, 3000, 8, "after RESUME");
	PQfinish(b);
	PQfinish(c);
}

/* ---- KILL, RECONNECT, SHUTDOWN ---- */

/* A client of a killed database: its next query fails and the connection is closed. */
static void expect_killed(PGconn *c, const char *who)
{
	PGresult *r = PQexec(c, "SELECT 1");
	cr_expect_neq(PQresultStatus(r), PGRES_TUPLES_OK, "%s still works after KILL", who);
	PQclear(r);
	cr_expect_eq(PQstatus(c), CONNECTION_BAD, "%s is still connected after KILL", who);
}

IT_TEST(control, kill_drops_clients_and_stays_paused)
{
	it_pglane_start(CONTROL_CONF);
	PGconn *pg = it_connect_admin();
	PGconn *idle = it_connect("postgres", NULL, "postgres");
	it_exec_ok(idle, "SELECT 1");
	PGconn *intx = it_connect("postgres", NULL, "postgres");
	it_exec_ok(intx, "BEGIN");
	long long pid = it_query_ll(intx, "SELECT pg_backend_pid()");
	PGconn *other = it_connect("postgres", NULL, "bench");
	long long bench_pid = it_query_ll(other, "SELECT pg_backend_pid()");
	PGconn *a = adminq_connect("admin");

	control_ok(a, "KILL postgres", "KILL");
	expect_killed(idle, "an idle client");
	expect_killed(intx, "a client in a transaction");
	cr_expect(backend_gone(pg, pid, 5000), "backend %lld of the killed database lives", pid);
	PGresult *r = adminq_show(a, "SHOW SERVERS");
	cr_expect_eq(adminq_count(r, "database", "postgres", NULL, NULL), 0,
	             "SHOW SERVERS still lists servers of the killed database");
	PQclear(r);
	cr_expect_eq(adminq_pool_value(a, "postgres", "postgres", "oltp", "cl_active"), 0);
	/* another database is untouched */
	cr_expect_eq(it_query_ll(other, "SELECT pg_backend_pid()"), bench_pid);
	cr_expect_eq(paused(a, "bench"), 0);

	/* the killed database stays paused: a new client waits until RESUME */
	cr_expect_eq(paused(a, "postgres"), 1);
	PGconn *n = it_connect("postgres", NULL, "postgres");
	expect_held(n, "SELECT pg_backend_pid()", 1000, "after KILL");
	long long last = 0;
	cr_expect_geq(
	        adminq_pool_wait(a, "postgres", "postgres", "oltp", "cl_waiting", 1, 2000, &last),
	        0, "cl_waiting = %lld", last);
	control_ok(a, "RESUME postgres", "RESUME");
	bool to = false;
	r = it_result_wait(n, 5000, &to);
	cr_assert(!to && PQresultStatus(r) == PGRES_TUPLES_OK, "not served after RESUME: %s",
	          r ? PQresultErrorMessage(r) : PQerrorMessage(n));
	cr_expect_neq(atoll(PQgetvalue(r, 0, 0)), pid, "a killed backend served again");
	PQclear(r);
	while ((r = PQgetResult(n)) != NULL)
		PQclear(r);

	/* unknown databases are refused */
	static const char *const bad[] = {"KILL it_nosuch", "PAUSE it_nosuch", "RESUME it_nosuch",
	                                  "RECONNECT it_nosuch"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char msg[256];
		const char *st = it_exec_error(a, bad[i], msg, sizeof msg);
		cr_expect_str_eq(st, "3D000", "`%s`: %s %s", bad[i], st, msg);
	}
	cr_expect_eq(it_query_ll(n, "SELECT 5"), 5);
	PQfinish(n);
	PQfinish(idle);
	PQfinish(intx);
	PQfinish(other);
	PQfinish(a);
	PQfinish(pg);
}

IT_TEST(control, reconnect_gives_new_backends)
{
	it_pglane_start(CONTROL_CONF);
	PGconn *pg = it_connect_admin();
	PGconn *a = adminq_connect("admin");
	PGconn *other = it_connect("postgres", NULL, "bench");
	long long bench_pid = it_query_ll(other, "SELECT pg_backend_pid()");
	struct hold h = hold_init();
	long long before[2], after[2];
	hold_learn(&h, before);

	/* a transaction open during RECONNECT keeps its backend to its end */
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "BEGIN");
	long long cpid = it_query_ll(c, "SELECT pg_backend_pid()");
	control_ok(a, "RECONNECT postgres", "RECONNECT");
	cr_expect_eq(it_query_ll(c, "SELECT pg_backend_pid()"), cpid,
	             "RECONNECT moved an open transaction");
	it_exec_ok(c, "COMMIT");

	hold_learn(&h, after);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			cr_expect_neq(after[i], before[j], "backend %lld served after RECONNECT",
			              after[i]);
	for (int j = 0; j < 2; j++)
		cr_expect(backend_gone(pg, before[j], 5000), "old backend %lld still lives",
		          before[j]);
	/* scoped to its database */
	cr_expect_eq(it_query_ll(other, "SELECT pg_backend_pid()"), bench_pid,
	             "RECONNECT postgres replaced bench's server");

	/* RECONNECT without a database: every one */
	control_ok(a, "RECONNECT", "RECONNECT");
	long long again[2];
	hold_learn(&h, again);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			cr_expect_neq(again[i], after[j], "backend %lld served after RECONNECT",
			              again[i]);
	cr_expect_neq(it_query_ll(other, "SELECT pg_backend_pid()"), bench_pid,
	              "RECONNECT did not replace bench's server");
	hold_fini(&h);
	PQfinish(c);
	PQfinish(other);
	PQfinish(a);
	PQfinish(pg);
}

IT_TEST(control, shutdown_exits)
{
	struct it_pglane *p = it_pglane_start(CONTROL_CONF);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "SELECT 1");
	PGconn *a = adminq_connect("admin");
	control_ok(a, "SHUTDOWN", "SHUTDOWN");
	int st = adminq_wait_exit(p->pid, 5000, false);
	cr_assert_neq(st, -1, "pglane still runs 5 s after SHUTDOWN");
	p->pid = 0; /* reaped here */
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "pglane ended with status %d", st);
	PGresult *r = PQexec(c, "SELECT 1");
	cr_expect_neq(PQresultStatus(r), PGRES_TUPLES_OK, "a client works after SHUTDOWN");
	PQclear(r);
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, p->port, "postgres", NULL, "postgres", NULL);
	PGconn *n = it_connect_try(ci);
	cr_expect_neq(PQstatus(n), CONNECTION_OK, "a new client got in after SHUTDOWN");
	PQfinish(n);
	PQfinish(c);
	PQfinish(a);
}

/* ---- RELOAD ---- */

/* pglane's config file with the first `from` replaced by `to` (malloc'ed); the line number
 * of the change goes to *line. */
static char *conf_with(const struct it_pglane *p, const char *from, const char *to, int *line)
{
	char *conf = it_file_read(p->conf_path);
	cr_assert(conf);
	char *at = strstr(conf, from);
	cr_assert(at, "the config has no `%s`:\n%s", from, conf);
	if (line) {
		*line = 1;
		for (const char *s = conf; s < at; s++)
			*line += *s == '\n';
	}
	char *out = NULL;
	cr_assert(asprintf(&out, "%.*s%s%s", (int)(at - conf), conf, to, at + strlen(from)) > 0);
	free(conf);
	return out;
}

/* How many times `needle` is in pglane's log. */
static int log_count(const char *needle)
{
	char *log = it_pglane_log();
	int n = 0;
	for (const char *s = log; (s = strstr(s, needle)) != NULL; s += strlen(needle))
		n++;
	free(log);
	return n;
}

IT_TEST(control, reload_pool_size_under_load)
{
	struct it_pglane *p = it_pglane_start(CONTROL_CONF);
	PGconn *a = adminq_connect("admin");
	PGconn *w[8];
	for (int i = 0; i < 8; i++) {
		w[i] = it_connect_app("postgres", NULL, "postgres", "it_worker");
		cr_assert(PQsendQuery(w[i], "SELECT pg_backend_pid() FROM pg_sleep(1.5)"));
	}
	/* 2 running, 6 waiting */
	long long last = 0, active = 0;
	int64_t deadline = it_now_ms() + 3000;
	for (;;) {
		last = adminq_pool_value(a, "postgres", "postgres", "oltp", "cl_waiting");
		active = adminq_pool_value(a, "postgres", "postgres", "oltp", "sv_active");
		if ((last == 6 && active == 2) || it_now_ms() > deadline)
			break;
		it_sleep_ms(20);
	}
	cr_assert(last == 6 && active == 2, "cl_waiting = %lld, sv_active = %lld on a pool of 2",
	          last, active);

	char *conf = conf_with(p, "size = 2;", "size = 6;", NULL);
	it_file_write(p->conf_path, conf);
	free(conf);
	control_ok(a, "RELOAD", "RELOAD");
	cr_expect_eq(adminq_pool_value(a, "postgres", "postgres", "oltp", "pool_size"), 6);
	/* the waiting clients get the new servers while the first two still run */
	cr_expect_geq(
	        adminq_pool_wait(a, "postgres", "postgres", "oltp", "sv_active", 6, 1200, &last), 0,
	        "sv_active = %lld after the pool grew to 6", last);
	long long pids[8];
	int distinct = 0;
	for (int i = 0; i < 8; i++) {
		bool to = false;
		PGresult *r = it_result_wait(w[i], 10000, &to);
		cr_assert(!to, "worker %d still waits", i);
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "worker %d: %s", i,
		             r ? PQresultErrorMessage(r) : PQerrorMessage(w[i]));
		pids[i] = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
		while ((r = PQgetResult(w[i])) != NULL)
			PQclear(r);
		bool seen = false;
		for (int j = 0; j < i; j++)
			seen = seen || pids[j] == pids[i];
		distinct += !seen;
	}
	cr_expect_eq(distinct, 6, "8 queries ran on %d backends, the pool holds 6", distinct);
	/* 0 disconnects: every client is still there and works */
	for (int i = 0; i < 8; i++) {
		cr_expect_eq(PQstatus(w[i]), CONNECTION_OK, "worker %d was disconnected", i);
		cr_expect_eq(it_query_ll(w[i], "SELECT 11"), 11, "worker %d", i);
	}
	PGresult *r = adminq_show(a, "SHOW CLIENTS");
	cr_expect_eq(adminq_count(r, "application_name", "it_worker", NULL, NULL), 8);
	PQclear(r);
	cr_expect_eq(log_count("reload: pool.size: 2 -> 6"), 1, "the change is not logged");
	char *v = config_value(a, "pool.size");
	cr_expect_str_eq(v, "6");
	free(v);
	for (int i = 0; i < 8; i++)
		PQfinish(w[i]);
	PQfinish(a);
}

/* RELOAD of a file with `from` replaced by `to` (on the same line): refused with F0000 naming
 * the file and that line; nothing changes. */
static void expect_reload_refused(PGconn *a, const char *from, const char *to)
{
	struct it_pglane *p = it_pglane_current();
	char *good = it_file_read(p->conf_path);
	int line = 0;
	char *bad = conf_with(p, from, to, &line);
	it_file_write(p->conf_path, bad);
	int refused = log_count("refused");
	PGresult *r = PQexec(a, "RELOAD");
	const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "RELOAD of a broken file: %s",
	             PQresStatus(PQresultStatus(r)));
	cr_expect_str_eq(it_sqlstate(r), "F0000");
	char where[700];
	snprintf(where, sizeof where, "%s:%d", p->conf_path, line);
	cr_expect(m && strncmp(m, "RELOAD refused, the old config stays: ", 38) == 0, "message: %s",
	          m ? m : "(none)");
	cr_expect(m && strstr(m, where), "the error does not name %s: %s", where, m ? m : "");
	PQclear(r);
	cr_expect_gt(log_count("refused"), refused, "the refusal is not logged");
	it_file_write(p->conf_path, good);
	free(good);
	free(bad);
}

IT_TEST(control, reload_broken_file_is_refused)
{
	struct it_pglane *p = it_pglane_start(CONTROL_CONF);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "BEGIN");
	long long pid = it_query_ll(c, "SELECT pg_backend_pid()");
	PGconn *a = adminq_connect("admin");
	expect_reload_refused(a, "size = 2;", "size = \"two\";");
	expect_reload_refused(a, "size = 2;", "size = = 2;");
	expect_reload_refused(a, "mode = \"transaction\";", "mode = \"sometimes\";");
	expect_reload_refused(a, "oltp = { size = 4; };", "oltp = { size = -4; };");
	/* the old config stays, clients go on */
	char *v = config_value(a, "pool.size");
	cr_expect_str_eq(v, "2");
	free(v);
	v = config_value(a, "pool.mode");
	cr_expect_str_eq(v, "transaction");
	free(v);
	cr_expect_eq(adminq_pool_value(a, "postgres", "postgres", "oltp", "pool_size"), 2);
	cr_expect_eq(PQstatus(c), CONNECTION_OK);
	cr_expect_eq(it_query_ll(c, "SELECT pg_backend_pid()"), pid);
	it_exec_ok(c, "COMMIT");
	PGconn *n = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(n, "SELECT 3"), 3);
	/* a missing auth file is refused too */
	char *conf = conf_with(p, "type = \"trust\";",
	                       "type = \"trust\"; file = \"@DIR@/it_missing_users.txt\";", NULL);
	char *dirconf = NULL;
	char *at = strstr(conf, "@DIR@");
	cr_assert(at);
	cr_assert(asprintf(&dirconf, "%.*s%s%s", (int)(at - conf), conf, p->dir, at + 5) > 0);
	char *good = it_file_read(p->conf_path);
	it_file_write(p->conf_path, dirconf);
	char msg[512];
	cr_expect_str_eq(it_exec_error(a, "RELOAD", msg, sizeof msg), "F0000", "%s", msg);
	cr_expect(strstr(msg, "it_missing_users.txt"), "the error does not name the file: %s", msg);
	it_file_write(p->conf_path, good);
	free(good);
	free(dirconf);
	free(conf);
	/* and a good file is applied after all that */
	conf = conf_with(p, "size = 2;", "size = 3;", NULL);
	it_file_write(p->conf_path, conf);
	free(conf);
	control_ok(a, "RELOAD", "RELOAD");
	v = config_value(a, "pool.size");
	cr_expect_str_eq(v, "3");
	free(v);
	cr_expect_eq(it_query_ll(c, "SELECT 4"), 4);
	PQfinish(n);
	PQfinish(c);
	PQfinish(a);
}

IT_TEST(control, sighup_reloads)
{
	struct it_pglane *p = it_pglane_start(CONTROL_CONF);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "SELECT 1");
	PGconn *a = adminq_connect("admin");
	char *conf = conf_with(p, "size = 2;", "size = 4;", NULL);
	it_file_write(p->conf_path, conf);
	free(conf);
	cr_assert_eq(kill(p->pid, SIGHUP), 0);
	long long last = 0;
	cr_expect_geq(
	        adminq_pool_wait(a, "postgres", "postgres", "oltp", "pool_size", 4, 3000, &last), 0,
	        "pool_size = %lld after SIGHUP", last);
	char *v = config_value(a, "pool.size");
	cr_expect_str_eq(v, "4");
	free(v);
	cr_expect_eq(log_count("reload: pool.size: 2 -> 4"), 1, "the change is not logged");
	cr_expect_eq(it_query_ll(c, "SELECT 2"), 2);

	/* a broken file on SIGHUP: refused, logged, the config stays */
	int refused = log_count("refused");
	conf = conf_with(p, "size = 4;", "size = [ 4 ];", NULL);
	it_file_write(p->conf_path, conf);
	free(conf);
	cr_assert_eq(kill(p->pid, SIGHUP), 0);
	int64_t deadline = it_now_ms() + 3000;
	while (log_count("refused") == refused && it_now_ms() < deadline)
		it_sleep_ms(20);
	cr_expect_gt(log_count("refused"), refused, "the refused reload is not logged");
	cr_assert(it_pglane_alive(), "pglane exited on SIGHUP with a broken file");
	v = config_value(a, "pool.size");
	cr_expect_str_eq(v, "4");
	free(v);
	cr_expect_eq(it_query_ll(c, "SELECT 3"), 3);
	PQfinish(c);
	PQfinish(a);
}

/* tests/integration/test_console_commands.c — PgBouncer 1.25's console commands that issue 16
 * adds: KILL_CLIENT closes exactly one client (by SHOW CLIENTS' id); DISABLE refuses new
 * clients of a database while its connected ones go on, ENABLE lets them in again; KILL
 * without a database; PAUSE closes idle servers; SUSPEND holds new connections and queries
 * until RESUME; WAIT_CLOSE returns once the servers RECONNECT asked to close are closed;
 * SHUTDOWN WAIT_FOR_CLIENTS and WAIT_FOR_SERVERS (and admin.shutdown_timeout); SET applies a
 * changeable key (SHOW CONFIG and behaviour), refuses a bad value, a restart-only key and an
 * unknown key, and RELOAD forgets it. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"

TestSuite(console_commands, .fini = it_pglane_fini, .timeout = 60);

#define CONF_TAIL                                                                                  \
	"auth = { type = \"trust\"; };\n"                                                          \
	"admin = { users = [ \"admin\" ]; };\n"                                                    \
	"pool = { mode = \"transaction\"; size = 2; query_wait_timeout = \"60s\"; };\n"            \
	"databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; },\n"          \
	"              { name = \"bench\"; host = \"@PGHOST@\"; port = @PGPORT@; } );\n"

static void cmd_ok(PGconn *a, const char *sql, const char *tag)
{
	PGresult *r = PQexec(a, sql);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "`%s`: %s %s", sql,
	             PQresStatus(PQresultStatus(r)), r ? PQresultErrorMessage(r) : "");
	cr_expect_str_eq(PQcmdStatus(r), tag);
	PQclear(r);
}

/* `sql` fails; its message must contain `want`. */
static void cmd_refused(PGconn *a, const char *sql, const char *want)
{
	char msg[512] = "";
	it_exec_error(a, sql, msg, sizeof msg);
	cr_expect(strstr(msg, want) != NULL, "`%s` refused with \"%s\", not \"%s\"", sql, msg,
	          want);
}

static char *config_value(PGconn *a, const char *key)
{
	PGresult *r = adminq_show(a, "SHOW CONFIG");
	int row = adminq_find(r, "key", key, NULL, NULL);
	cr_assert_geq(row, 0, "SHOW CONFIG has no %s", key);
	char *v = strdup(adminq_cell(r, row, "value"));
	PQclear(r);
	return v;
}

static int local_port(PGconn *c)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	cr_assert_eq(getsockname(PQsocket(c), (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

/* SHOW CLIENTS' id of the libpq client `c`. */
static long long client_id(PGconn *a, PGconn *c)
{
	PGresult *r = adminq_show(a, "SHOW CLIENTS");
	char port[16];
	snprintf(port, sizeof port, "%d", local_port(c));
	int row = adminq_find(r, "port", port, "type", "C");
	cr_assert_geq(row, 0, "SHOW CLIENTS has no client on port %s", port);
	/* PgBouncer 1.24+ has an `id` column, which KILL_CLIENT takes; before the console's
	 * issue-16 columns, pglane's id is in `ptr` */
	long long id = adminq_cell_ll(r, row, PQfnumber(r, "id") >= 0 ? "id" : "ptr");
	PQclear(r);
	return id;
}

static PGconn *try_connect(const char *db, char *err, size_t n)
{
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, db, NULL);
	PGconn *c = it_connect_try(ci);
	snprintf(err, n, "%s", PQerrorMessage(c));
	return c;
}

static bool works(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT 1");
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	return ok;
}

/* Wait (bounded) for the command sent on `c`; it must complete with COMMAND_OK. */
static void expect_done(PGconn *c, int ms, const char *what)
{
	bool to = false;
	PGresult *r = it_result_wait(c, ms, &to);
	cr_assert(!to, "%s still waits after %d ms", what, ms);
	cr_expect(r && (PQresultStatus(r) == PGRES_COMMAND_OK ||
	                PQresultStatus(r) == PGRES_TUPLES_OK),
	          "%s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
}

static void expect_waits(PGconn *c, const char *sql, int ms, const char *what)
{
	cr_assert(PQsendQuery(c, sql), "%s", PQerrorMessage(c));
	bool to = false;
	PGresult *r = it_result_wait(c, ms, &to);
	cr_expect(to, "%s: `%s` completed within %d ms", what, sql, ms);
	PQclear(r);
}

/* Wait for pglane to exit on its own: its wait status (fails after timeout_ms). */
static int expect_exit(int timeout_ms, const char *what)
{
	struct it_pglane *p = it_pglane_current();
	int st = adminq_wait_exit(p->pid, timeout_ms, false);
	cr_assert_neq(st, -1, "pglane still runs %d ms after %s", timeout_ms, what);
	p->pid = 0;
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "pglane ended with status %d", st);
	return st;
}

IT_TEST(console_commands, kill_client_closes_exactly_that_client)
{
	it_pglane_start(CONF_TAIL);
	PGconn *a = adminq_connect("admin");
	PGconn *c1 = it_connect("postgres", NULL, "postgres");
	PGconn *c2 = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c1, "SELECT 1");
	it_exec_ok(c2, "SELECT 1");
	long long id1 = client_id(a, c1);
	long long id2 = client_id(a, c2);
	cr_assert_neq(id1, id2);
	char sql[64];
	snprintf(sql, sizeof sql, "KILL_CLIENT %lld", id1);
	cmd_ok(a, sql, "KILL_CLIENT");
	cr_expect(!works(c1), "the killed client still works");
	cr_expect(works(c2), "KILL_CLIENT closed another client too");
	PGresult *r = adminq_show(a, "SHOW CLIENTS");
	const char *idcol = PQfnumber(r, "id") >= 0 ? "id" : "ptr";
	char id[32];
	snprintf(id, sizeof id, "%lld", id1);
	cr_expect_eq(adminq_find(r, idcol, id, "type", "C"), -1, "the killed client is listed");
	snprintf(id, sizeof id, "%lld", id2);
	cr_expect_geq(adminq_find(r, idcol, id, "type", "C"), 0);
	PQclear(r);
	cmd_refused(a, "KILL_CLIENT 999999", "client not found");
	cmd_refused(a, "KILL_CLIENT abc", "usage: KILL_CLIENT");
	PQfinish(c1);
	PQfinish(c2);
	PQfinish(a);
}

IT_TEST(console_commands, disable_refuses_new_clients_enable_lets_them_in)
{
	it_pglane_start(CONF_TAIL);
	PGconn *a = adminq_connect("admin");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "SELECT 1");
	cmd_ok(a, "DISABLE postgres", "DISABLE");
	cr_expect(works(c), "a connected client of a disabled database stopped working");
	char err[512];
	PGconn *n = try_connect("postgres", err, sizeof err);
	cr_expect_neq(PQstatus(n), CONNECTION_OK, "a new client of a disabled database got in");
	cr_expect(strstr(err, "database does not allow connections: postgres") != NULL, "%s", err);
	PQfinish(n);
	n = try_connect("bench", err, sizeof err);
	cr_expect_eq(PQstatus(n), CONNECTION_OK, "another database was refused: %s", err);
	PQfinish(n);
	cmd_ok(a, "ENABLE postgres", "ENABLE");
	n = try_connect("postgres", err, sizeof err);
	cr_expect_eq(PQstatus(n), CONNECTION_OK, "refused after ENABLE: %s", err);
	cr_expect(works(n));
	PQfinish(n);
	cmd_refused(a, "DISABLE it_nosuch", "no such database");
	cmd_refused(a, "DISABLE", "usage: DISABLE db");
	PQfinish(c);
	PQfinish(a);
}

IT_TEST(console_commands, kill_without_database_closes_everyone)
{
	it_pglane_start(CONF_TAIL);
	PGconn *a = adminq_connect("admin");
	PGconn *c1 = it_connect("postgres", NULL, "postgres");
	PGconn *c2 = it_connect("postgres", NULL, "bench");
	it_exec_ok(c1, "SELECT 1");
	it_exec_ok(c2, "SELECT 1");
	cmd_ok(a, "KILL", "KILL");
	cr_expect(!works(c1));
	cr_expect(!works(c2));
	cr_expect_eq(it_wait_backends(NULL, 0, 3000, NULL, "postgres", NULL, NULL, NULL) >= 0, true,
	             "servers still open after KILL");
	cmd_ok(a, "RESUME", "RESUME");
	PGconn *n = it_connect("postgres", NULL, "bench");
	cr_expect(works(n), "no service after KILL and RESUME");
	PQfinish(n);
	PQfinish(c1);
	PQfinish(c2);
	PQfinish(a);
}

IT_TEST(console_commands, pause_closes_idle_servers)
{
	it_pglane_start(CONF_TAIL);
	PGconn *a = adminq_connect("admin");
	PGconn *c1 = it_connect("postgres", NULL, "postgres");
	PGconn *c2 = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c1, "BEGIN");
	it_exec_ok(c2, "BEGIN");
	it_exec_ok(c1, "COMMIT");
	it_exec_ok(c2, "COMMIT");
	int last = -1;
	cr_assert_geq(it_wait_backends(NULL, 2, 3000, "idle", "postgres", NULL, NULL, &last), 0,
	              "2 idle servers expected, %d", last);
	cmd_ok(a, "PAUSE postgres", "PAUSE");
	cr_expect_geq(it_wait_backends(NULL, 0, 3000, NULL, "postgres", NULL, NULL, &last), 0,
	              "PAUSE left %d servers open", last);
	expect_waits(c1, "SELECT 1", 500, "paused");
	cmd_ok(a, "RESUME postgres", "RESUME");
	expect_done(c1, 3000, "SELECT after RESUME");
	PQfinish(c1);
	PQfinish(c2);
	PQfinish(a);
}

IT_TEST(console_commands, wait_close_returns_after_servers_closed)
{
	it_pglane_start(CONF_TAIL);
	PGconn *a = adminq_connect("admin");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	cmd_ok(a, "WAIT_CLOSE", "WAIT_CLOSE"); /* nothing to wait for */
	it_exec_ok(c, "BEGIN");
	long long pid = it_query_ll(c, "SELECT pg_backend_pid()");
	cmd_ok(a, "RECONNECT postgres", "RECONNECT");
	expect_waits(a, "WAIT_CLOSE postgres", 800, "a server in a transaction is not closed");
	it_exec_ok(c, "COMMIT");
	expect_done(a, 3000, "WAIT_CLOSE after the server was released");
	PGconn *pg = it_connect_admin();
	char q[128];
	snprintf(q, sizeof q, "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld", pid);
	int64_t end = it_now_ms() + 2000;
	while (it_query_ll(pg, q) != 0 && it_now_ms() < end)
		it_sleep_ms(20);
	cr_expect_eq(it_query_ll(pg, q), 0, "the old backend is still there after WAIT_CLOSE");
	cr_expect_neq(it_query_ll(c, "SELECT pg_backend_pid()"), pid);
	cmd_refused(a, "WAIT_CLOSE it_nosuch", "no such database");
	PQfinish(pg);
	PQfinish(c);
	PQfinish(a);
}

IT_TEST(console_commands, suspend_holds_until_resume)
{
	it_pglane_start(CONF_TAIL);
	PGconn *a = adminq_connect("admin");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "SELECT 1");
	cmd_ok(a, "SUSPEND", "SUSPEND");
	cmd_refused(a, "SUSPEND", "already suspended");
	expect_waits(c, "SELECT 2", 500, "suspended");
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "bench",
	            NULL);
	PGconn *n = PQconnectStart(ci);
	cr_assert(n && PQstatus(n) != CONNECTION_BAD);
	PostgresPollingStatusType st = it_connect_poll(n, PGRES_POLLING_WRITING, 500);
	cr_expect_neq(st, PGRES_POLLING_OK, "a new client logged in while suspended");
	cr_expect_neq(st, PGRES_POLLING_FAILED, "%s", PQerrorMessage(n));
	cmd_ok(a, "RESUME", "RESUME");
	expect_done(c, 3000, "a query after RESUME");
	st = it_connect_poll(n, st, 3000);
	cr_expect_eq(st, PGRES_POLLING_OK, "the waiting login after RESUME: %s", PQerrorMessage(n));
	PQfinish(n);
	PQfinish(c);
	PQfinish(a);
}

IT_TEST(console_commands, shutdown_wait_for_clients)
{
	it_pglane_start(CONF_TAIL);
	PGconn *a = adminq_connect("admin");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "SELECT 1");
	cmd_ok(a, "SHUTDOWN WAIT_FOR_CLIENTS", "SHUTDOWN");
	/* the connected client goes on, transactions and all */
	for (int i = 0; i < 3; i++) {
		it_exec_ok(c, "BEGIN");
		it_exec_ok(c, "SELECT 1");
		it_exec_ok(c, "COMMIT");
		it_sleep_ms(100);
	}
	char err[512];
	PGconn *n = try_connect("postgres", err, sizeof err);
	cr_expect_neq(PQstatus(n), CONNECTION_OK, "a new client got in during the shutdown");
	PQfinish(n);
	cr_assert(it_pglane_alive(), "pglane exited while a client was connected");
	PQfinish(c);
	expect_exit(3000, "the last client left");
	PQfinish(a);
}

IT_TEST(console_commands, shutdown_wait_for_servers)
{
	it_pglane_start(CONF_TAIL);
	PGconn *a = adminq_connect("admin");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	PGconn *c2 = it_connect("postgres", NULL, "postgres");
	PGconn *w = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "BEGIN");
	it_exec_ok(c, "SELECT 1");
	it_exec_ok(c2, "BEGIN");
	it_exec_ok(c2, "SELECT 1");
	expect_waits(w, "SELECT 1", 300, "pool of 2 in use");
	cmd_ok(a, "SHUTDOWN WAIT_FOR_SERVERS", "SHUTDOWN");
	/* as PgBouncer: a client waiting for a server is disconnected at once */
	bool to = false;
	PGresult *r = it_result_wait(w, 2000, &to);
	cr_expect(!to, "the waiting client still waits");
	cr_expect(!r || PQresultStatus(r) == PGRES_FATAL_ERROR, "the waiting client was served");
	PQclear(r);
	it_exec_ok(c2, "COMMIT");
	it_sleep_ms(500);
	cr_assert(it_pglane_alive(), "pglane exited while a server was in use");
	cr_expect_eq(it_query_ll(c, "SELECT 2"), 2, "the open transaction was cut");
	char err[512];
	PGconn *n = try_connect("postgres", err, sizeof err);
	cr_expect_neq(PQstatus(n), CONNECTION_OK, "a new client got in during the shutdown");
	PQfinish(n);
	it_exec_ok(c, "COMMIT");
	expect_exit(3000, "the server was released");
	PQfinish(w);
	PQfinish(c2);
	PQfinish(c);
	PQfinish(a);
}

IT_TEST(console_commands, second_shutdown_exits_now)
{
	it_pglane_start(CONF_TAIL);
	PGconn *a = adminq_connect("admin");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "SELECT 1");
	cmd_ok(a, "SHUTDOWN WAIT_FOR_CLIENTS", "SHUTDOWN");
	it_sleep_ms(300);
	cr_assert(it_pglane_alive(), "pglane did not wait for its client");
	cmd_ok(a, "SHUTDOWN WAIT_FOR_CLIENTS", "SHUTDOWN");
	expect_exit(2000, "a second SHUTDOWN");
	PQfinish(c);
	PQfinish(a);
}

IT_TEST(console_commands, shutdown_timeout_is_a_deadline)
{
	it_pglane_start("admin = { users = [ \"admin\" ]; shutdown_timeout = \"1s\"; };\n"
	                "auth = { type = \"trust\"; };\n" IT_DATABASES);
	PGconn *a = adminq_connect("admin");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "SELECT 1");
	int64_t t0 = it_now_ms();
	cmd_ok(a, "SHUTDOWN WAIT_FOR_CLIENTS", "SHUTDOWN");
	expect_exit(4000, "admin.shutdown_timeout (1 s)");
	cr_expect_geq(it_now_ms() - t0, 900, "pglane did not wait for its client");
	PQfinish(c);
	PQfinish(a);
}

IT_TEST(console_commands, set_changes_config_and_behaviour)
{
	it_pglane_start(CONF_TAIL);
	PGconn *a = adminq_connect("admin");
	cmd_ok(a, "SET pool.size = 1", "SET");
	char *v = config_value(a, "pool.size");
	cr_expect_str_eq(v, "1");
	free(v);
	v = config_value(a, "databases.postgres.oltp.size");
	cr_expect_str_eq(v, "1");
	free(v);
	/* one server: a second client waits while the first holds it */
	PGconn *c1 = it_connect("postgres", NULL, "postgres");
	PGconn *c2 = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c1, "BEGIN");
	it_exec_ok(c1, "SELECT 1");
	expect_waits(c2, "SELECT 2", 600, "pool.size = 1");
	int last = -1;
	cr_expect_geq(it_wait_backends(NULL, 1, 2000, NULL, "postgres", NULL, NULL, &last), 0,
	              "%d backends with pool.size = 1", last);
	it_exec_ok(c1, "COMMIT");
	expect_done(c2, 3000, "the waiting client after COMMIT");
	/* a later SET keeps the earlier one */
	cmd_ok(a, "SET log.connections = false", "SET");
	v = config_value(a, "log.connections");
	cr_expect_str_eq(v, "false");
	free(v);
	cmd_ok(a, "SET log.connections = 1", "SET");
	v = config_value(a, "log.connections");
	cr_expect_str_eq(v, "true");
	free(v);
	cmd_ok(a, "SET databases.bench.oltp.size = '3'", "SET");
	v = config_value(a, "databases.bench.oltp.size");
	cr_expect_str_eq(v, "3");
	free(v);
	cmd_ok(a, "SET pool.statement_timeout = '5s'", "SET");
	v = config_value(a, "pool.size");
	cr_expect_str_eq(v, "1", "a later SET lost the earlier one");
	free(v);
	/* RELOAD reads the file alone again, as PgBouncer does */
	cmd_ok(a, "RELOAD", "RELOAD");
	v = config_value(a, "pool.size");
	cr_expect_str_eq(v, "2");
	free(v);
	v = config_value(a, "databases.bench.oltp.size");
	cr_expect_str_eq(v, "2");
	free(v);
	PQfinish(c1);
	PQfinish(c2);
	PQfinish(a);
}

IT_TEST(console_commands, set_refuses_bad_values_restart_keys_and_unknown_keys)
{
	it_pglane_start(CONF_TAIL);
	PGconn *a = adminq_connect("admin");
	cmd_refused(a, "SET pool.size = abc", "pool.size");
	cmd_refused(a, "SET pool.size = -5", "pool.size");
	cmd_refused(a, "SET pool.mode = 'sometimes'", "pool.mode");
	cmd_refused(a, "SET listen.port = 7777", "listen.port can only be changed with a restart");
	cmd_refused(a, "SET pool.no_such_key = 1", "unknown key");
	cmd_refused(a, "SET nosuch.key = 1", "unknown key");
	cmd_refused(a, "SET databases.it_nosuch.oltp.size = 3", "it_nosuch");
	cmd_refused(a, "SET pool.size", "usage: SET key = value");
	char *v = config_value(a, "pool.size");
	cr_expect_str_eq(v, "2", "a refused SET changed the config");
	free(v);
	v = config_value(a, "listen.port");
	char port[16];
	snprintf(port, sizeof port, "%d", it_pglane_current()->port);
	cr_expect_str_eq(v, port);
	free(v);
	/* what drivers send at connect is still accepted */
	cmd_ok(a, "SET application_name = 'psql'", "SET");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	cr_expect(works(c), "service after refused SETs");
	PQfinish(c);
	PQfinish(a);
}

/* PgBouncer's setting names work as its scripts send them: seconds for durations, 0/1. */
IT_TEST(console_commands, set_takes_pgbouncer_names)
{
	it_pglane_start(CONF_TAIL);
	PGconn *a = adminq_connect("admin");
	static const struct {
		const char *sql, *key, *want;
	} cases[] = {
	        {"SET default_pool_size = 3", "pool.size", "3"},
	        {"SET query_timeout = '5'", "pool.statement_timeout", "5s"},
	        {"SET query_wait_timeout = 0.5", "pool.query_wait_timeout", "500ms"},
	        {"SET log_stats = 0", "log.stats", "false"},
	        {"SET pool_mode = session", "pool.mode", "session"},
	        {"SET max_client_conn = 500", "listen.max_client_conn", "500"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cmd_ok(a, cases[i].sql, "SET");
		char *v = config_value(a, cases[i].key);
		cr_expect_str_eq(v, cases[i].want, "after `%s`", cases[i].sql);
		free(v);
	}
	cmd_refused(a, "SET listen_port = 7777", "listen.port can only be changed with a restart");
	cmd_refused(a, "SET default_pool_size = 0", "pool.size");
	PQfinish(a);
}

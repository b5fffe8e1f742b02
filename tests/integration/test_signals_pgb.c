/* tests/integration/test_signals_pgb.c — PgBouncer 1.25's signals on pglane: SIGTERM waits
 * for the clients (they keep working, new ones are refused, exit after the last leaves),
 * SIGINT waits for the servers (idle clients go, a transaction can COMMIT, then exit),
 * SIGUSR1 pauses and SIGUSR2 resumes, a second SIGINT/SIGTERM exits at once, and
 * admin.shutdown_timeout bounds the waiting shutdowns. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"

TestSuite(signals_pgb, .fini = it_pglane_fini, .timeout = 60);

/* Wait until pglane has exited (bounded); its wait status, or -1 on timeout. On exit it is
 * marked reaped so the harness does not stop it again. */
static int wait_exit(struct it_pglane *p, int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	int st;
	while (it_now_ms() < deadline) {
		if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
			p->pid = 0;
			return st;
		}
		it_sleep_ms(10);
	}
	return -1;
}

static bool new_client_refused(int port)
{
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, port, "postgres", NULL, "postgres", NULL);
	PGconn *late = it_connect_try(ci);
	bool refused = PQstatus(late) != CONNECTION_OK;
	PQfinish(late);
	return refused;
}

static bool log_has(const char *needle)
{
	char *log = it_pglane_log();
	bool has = strstr(log, needle) != NULL;
	free(log);
	return has;
}

IT_TEST(signals_pgb, sigterm_waits_for_clients)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	cr_assert_eq(kill(p->pid, SIGTERM), 0);
	it_sleep_ms(300);
	cr_assert(it_pglane_alive(), "pglane exited on SIGTERM with clients connected");
	cr_expect(new_client_refused(p->port), "a new client got in after SIGTERM");

	/* the connected clients go on as usual, transactions and all, for as long as they like */
	for (int i = 0; i < 3; i++) {
		it_exec_ok(a, "BEGIN");
		cr_expect_eq(it_query_ll(a, "SELECT 41 + 1"), 42);
		it_exec_ok(a, "COMMIT");
		cr_expect_eq(it_query_ll(b, "SELECT 7"), 7);
		it_sleep_ms(200);
	}
	cr_expect(it_pglane_alive(), "pglane exited while clients were still connected");
	PQfinish(a);
	it_sleep_ms(300);
	cr_expect(it_pglane_alive(), "pglane exited while one client was still connected");
	cr_expect_eq(it_query_ll(b, "SELECT 8"), 8);
	PQfinish(b);
	int st = wait_exit(p, 5000);
	cr_assert_neq(st, -1, "pglane still running 5 s after the last client left");
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
	cr_expect(log_has("SIGTERM: shutting down"), "no SIGTERM line in the log");
	cr_expect(log_has("all clients gone: exiting"), "no exit line in the log");
}

IT_TEST(signals_pgb, sigint_waits_for_servers)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *idle = it_connect("postgres", NULL, "postgres");
	it_exec_ok(a, "BEGIN");
	it_exec_ok(a, "CREATE TEMP TABLE sig_t (x int)");
	cr_assert_eq(kill(p->pid, SIGINT), 0);
	it_sleep_ms(300);
	cr_assert(it_pglane_alive(), "pglane exited on SIGINT with a transaction open");
	cr_expect(new_client_refused(p->port), "a new client got in after SIGINT");
	/* a client between transactions holds no server: it is let go */
	PGresult *r = PQexec(idle, "SELECT 1");
	cr_expect_neq(PQresultStatus(r), PGRES_TUPLES_OK,
	              "an idle client still works after SIGINT");
	PQclear(r);
	/* the transaction goes on to its COMMIT */
	it_exec_ok(a, "INSERT INTO sig_t VALUES (1)");
	cr_expect_eq(it_query_ll(a, "SELECT count(*) FROM sig_t"), 1);
	it_exec_ok(a, "COMMIT");
	int st = wait_exit(p, 5000);
	cr_assert_neq(st, -1, "pglane still running 5 s after the last server was released");
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
	cr_expect(log_has("SIGINT: shutting down"), "no SIGINT line in the log");
	cr_expect(log_has("all servers released: exiting"), "no exit line in the log");
	PQfinish(idle);
	PQfinish(a);
}

IT_TEST(signals_pgb, sigusr1_pauses_sigusr2_resumes)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(a, "SELECT 1"), 1);
	cr_assert_eq(kill(p->pid, SIGUSR1), 0);
	it_sleep_ms(200);
	cr_assert(PQsendQuery(a, "SELECT 2"));
	bool timed_out = false;
	PGresult *r = it_result_wait(a, 700, &timed_out);
	cr_expect(timed_out && !r, "a query ran while paused (SIGUSR1)");
	PQclear(r);
	cr_assert_eq(kill(p->pid, SIGUSR2), 0);
	r = it_result_wait(a, 3000, &timed_out);
	cr_assert(r && !timed_out, "the paused query did not run after SIGUSR2");
	cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	cr_expect_str_eq(PQgetvalue(r, 0, 0), "2");
	PQclear(r);
	while ((r = PQgetResult(a)))
		PQclear(r);
	cr_expect_eq(it_query_ll(a, "SELECT 3"), 3);
	cr_expect(it_pglane_alive());
	cr_expect(log_has("SIGUSR1: PAUSE"), "no SIGUSR1 line in the log");
	cr_expect(log_has("SIGUSR2: RESUME"), "no SIGUSR2 line in the log");
	PQfinish(a);
}

IT_TEST(signals_pgb, shutdown_timeout_forces_exit)
{
	struct it_pglane *p =
	        it_pglane_start("auth = { type = \"trust\"; };\n"
	                        "pool = { mode = \"transaction\"; size = 2; };\n"
	                        "admin = { shutdown_timeout = \"1s\"; };\n" IT_DATABASES);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	int64_t t0 = it_now_ms();
	cr_assert_eq(kill(p->pid, SIGTERM), 0);
	int st = wait_exit(p, 5000);
	int64_t took = it_now_ms() - t0;
	cr_assert_neq(st, -1, "pglane still running 5 s after SIGTERM with shutdown_timeout 1s");
	cr_expect_geq(took, 900, "pglane left after %lld ms, before the deadline", (long long)took);
	cr_expect(log_has("admin.shutdown_timeout (1000 ms) reached with 1 clients connected: "
	                  "exiting"),
	          "no deadline line");
	PGresult *r = PQexec(a, "SELECT 1");
	cr_expect_neq(PQresultStatus(r), PGRES_TUPLES_OK, "the client still works after the exit");
	PQclear(r);
	PQfinish(a);
}

IT_TEST(signals_pgb, second_signal_exits_at_once)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	cr_assert_eq(kill(p->pid, SIGTERM), 0);
	it_sleep_ms(300);
	cr_assert(it_pglane_alive(), "pglane exited on SIGTERM with a client connected");
	cr_assert_eq(kill(p->pid, SIGINT), 0);
	int st = wait_exit(p, 3000);
	cr_expect_neq(st, -1, "pglane still running 3 s after SIGINT during a shutdown");
	cr_expect(log_has("SIGINT during a shutdown: exiting"), "no fast-exit line");
	PQfinish(a);
}

/* A console client is not let go by SIGINT (it may be the one watching the shutdown) and does
 * not hold pglane up: it is closed at the exit. */
IT_TEST(signals_pgb, sigint_keeps_the_console_until_exit)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	PGconn *con = adminq_connect("admin");
	PGconn *a = it_connect("postgres", NULL, "postgres");
	it_exec_ok(a, "BEGIN");
	it_exec_ok(a, "SELECT 1");
	cr_assert_eq(kill(p->pid, SIGINT), 0);
	it_sleep_ms(300);
	PGresult *r = adminq_show(con, "SHOW POOLS");
	cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK, "the console was closed by SIGINT");
	PQclear(r);
	it_exec_ok(a, "COMMIT");
	int st = wait_exit(p, 5000);
	cr_assert_neq(st, -1, "pglane kept running for its console client");
	r = PQexec(con, "SHOW POOLS");
	cr_expect_neq(PQresultStatus(r), PGRES_TUPLES_OK, "the console works after the exit");
	PQclear(r);
	PQfinish(con);
	PQfinish(a);
}

/* The status code of GET `path` on admin.http_port. */
static int http_status(int port, const char *path)
{
	int fd = it_tcp_connect(port);
	char req[256];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
	cr_assert_eq(write(fd, req, (size_t)n), n);
	char buf[512] = "";
	size_t len = 0;
	int64_t deadline = it_now_ms() + 3000;
	while (len < 12 && it_now_ms() < deadline) {
		ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	int code = -1;
	if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1)
		code = -1;
	return code;
}

/* A load balancer asks /healthz and /ready: 503 as soon as a waiting shutdown begins, while the
 * connected clients are still served (SIGTERM). */
IT_TEST(signals_pgb, sigterm_health_checks_say_503)
{
	int http = it_http_port();
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"transaction\"; size = 2; };\n"
	         "admin = { users = [ \"admin\" ]; http_port = %d; };\n" IT_DATABASES,
	         http);
	struct it_pglane *p = it_pglane_start(conf);
	it_wait_port(http);
	cr_expect_eq(http_status(http, "/healthz"), 200);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	cr_assert_eq(kill(p->pid, SIGTERM), 0);
	it_sleep_ms(300);
	cr_expect_eq(http_status(http, "/healthz"), 503, "/healthz during SIGTERM's shutdown");
	cr_expect_eq(http_status(http, "/ready"), 503, "/ready during SIGTERM's shutdown");
	cr_expect_eq(it_query_ll(a, "SELECT 5"), 5);
	PQfinish(a);
	int st = wait_exit(p, 5000);
	cr_expect_neq(st, -1, "pglane still running after its last client left");
}

/* SIGTERM waits for the pooled clients, not for a console session watching. */
IT_TEST(signals_pgb, sigterm_console_does_not_hold_the_exit)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	PGconn *con = adminq_connect("admin");
	PGconn *a = it_connect("postgres", NULL, "postgres");
	cr_assert_eq(kill(p->pid, SIGTERM), 0);
	it_sleep_ms(300);
	cr_assert(it_pglane_alive(), "pglane exited with a pooled client connected");
	PGresult *r = adminq_show(con, "SHOW POOLS");
	PQclear(r);
	PQfinish(a);
	int st = wait_exit(p, 3000);
	cr_expect_neq(st, -1, "pglane waited for its console client after SIGTERM");
	PQfinish(con);
}

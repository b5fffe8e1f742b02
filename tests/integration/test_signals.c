/* tests/integration/test_signals.c — the signals of DESIGN.md's command line (PgBouncer's):
 * SIGINT stops accepting and lets open transactions finish, SIGQUIT exits at once, SIGHUP does
 * not stop the service. SIGTERM, SIGUSR1/2 and admin.shutdown_timeout: test_signals_pgb.c. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "tests/integration/harness.h"

TestSuite(signals, .fini = it_pglane_fini, .timeout = 60);

/* Wait until pglane has exited (bounded); its wait status, or -1 on timeout. */
static int wait_exit(pid_t pid, int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	int st;
	while (it_now_ms() < deadline) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		it_sleep_ms(10);
	}
	return -1;
}

IT_TEST(signals, sigint_lets_transactions_finish)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	it_exec_ok(a, "BEGIN");
	it_exec_ok(a, "SELECT 1");
	cr_assert_eq(kill(p->pid, SIGINT), 0);
	it_sleep_ms(300);
	cr_assert(it_pglane_alive(), "pglane exited on SIGINT with a transaction open");

	/* No new clients. */
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, p->port, "postgres", NULL, "postgres", NULL);
	PGconn *late = it_connect_try(ci);
	cr_expect_neq(PQstatus(late), CONNECTION_OK, "a new client got in after SIGINT");
	PQfinish(late);

	/* The open transaction goes on to its end. */
	cr_expect_eq(it_query_ll(a, "SELECT 2"), 2);
	it_exec_ok(a, "COMMIT");
	pid_t pid = p->pid;
	int st = wait_exit(pid, 5000);
	cr_expect_neq(st, -1, "pglane still running 5 s after the last transaction ended");
	if (st != -1) {
		p->pid = 0; /* reaped here */
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
	}
	PQfinish(a);
}

IT_TEST(signals, sigquit_exits_at_once)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	it_exec_ok(a, "BEGIN");
	it_exec_ok(a, "SELECT 1");
	cr_assert_eq(kill(p->pid, SIGQUIT), 0);
	int st = wait_exit(p->pid, 3000);
	cr_expect_neq(st, -1, "pglane still running 3 s after SIGQUIT");
	if (st != -1)
		p->pid = 0;
	PGresult *r = PQexec(a, "SELECT 2");
	cr_expect_neq(PQresultStatus(r), PGRES_TUPLES_OK, "a client still works after SIGQUIT");
	PQclear(r);
	PQfinish(a);
	/* Its backend was closed, not left idle in transaction. */
	int left = 0;
	cr_expect_geq(
	        it_wait_backends(NULL, 0, 5000, "idle in transaction", NULL, NULL, NULL, &left), 0,
	        "%d backends idle in transaction after SIGQUIT", left);
}

IT_TEST(signals, sighup_keeps_serving)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	cr_assert_eq(kill(p->pid, SIGHUP), 0);
	it_sleep_ms(300);
	cr_assert(it_pglane_alive(), "pglane exited on SIGHUP");
	cr_expect_eq(it_query_ll(a, "SELECT 1"), 1);
	PGconn *b = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(b, "SELECT 2"), 2);
	PQfinish(b);
	PQfinish(a);
}

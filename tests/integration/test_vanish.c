/* tests/integration/test_vanish.c — clients that disappear without a Terminate: inside a
 * transaction holding a lock (no backend left idle in transaction, no lock left, the server
 * never handed on mid-transaction), and while a query runs (pglane cancels it). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/harness.h"

TestSuite(vanish, .fini = it_pglane_fini, .timeout = 90);

static void make_lock_table(void)
{
	PGconn *admin = it_connect_admin();
	it_exec_ok(admin, "DROP TABLE IF EXISTS it_lock; "
	                  "CREATE TABLE it_lock (id int PRIMARY KEY, v int); "
	                  "INSERT INTO it_lock SELECT i, 0 FROM generate_series(1, 10) i");
	PQfinish(admin);
}

static int locks_on_table(PGconn *admin)
{
	return (int)it_query_ll(
	        admin, "SELECT count(*) FROM pg_locks WHERE relation = 'it_lock'::regclass");
}

/* Within 5 s: no backend idle in transaction, no lock on it_lock. */
static void expect_released(PGconn *admin, const char *how)
{
	int64_t t0 = it_now_ms();
	int idle_tx = -1, locks = -1;
	while (it_now_ms() - t0 < 5000) {
		idle_tx =
		        it_count_backends(admin, "idle in transaction", NULL, NULL, NULL) +
		        it_count_backends(admin, "idle in transaction (aborted)", NULL, NULL, NULL);
		locks = locks_on_table(admin);
		if (idle_tx == 0 && locks == 0)
			break;
		it_sleep_ms(50);
	}
	cr_expect_eq(idle_tx, 0, "%s: %d backends idle in transaction after 5 s", how, idle_tx);
	cr_expect_eq(locks, 0, "%s: %d locks on it_lock after 5 s", how, locks);
	cr_log_info("%s: released after %lld ms", how, (long long)(it_now_ms() - t0));
}

/* A new client through pglane can take the lock at once. */
static void expect_lockable(void)
{
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "BEGIN");
	it_exec_ok(c, "LOCK TABLE it_lock IN ACCESS EXCLUSIVE MODE NOWAIT");
	it_exec_ok(c, "UPDATE it_lock SET v = v + 1 WHERE id = 1");
	it_exec_ok(c, "COMMIT");
	PQfinish(c);
}

IT_TEST(vanish, vanished_in_transaction_with_lock)
{
	make_lock_table();
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "BEGIN");
	it_exec_ok(c, "LOCK TABLE it_lock IN ACCESS EXCLUSIVE MODE");
	cr_assert_gt(locks_on_table(admin), 0, "the lock is not there to begin with");
	cr_assert_eq(it_count_backends(admin, "idle in transaction", NULL, NULL, NULL), 1);
	it_conn_vanish(c);
	expect_released(admin, "FIN while holding ACCESS EXCLUSIVE");
	expect_lockable();
	PQfinish(admin);
}

IT_TEST(vanish, vanished_with_reset_holding_row_lock)
{
	make_lock_table();
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "BEGIN");
	it_exec_ok(c, "UPDATE it_lock SET v = 100 WHERE id = 2");
	/* Abort the TCP connection: SO_LINGER 0 makes close() send a RST. */
	int fd = PQsocket(c);
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	cr_assert_geq(nul, 0);
	cr_assert_eq(dup2(nul, fd), fd); /* closes the socket; libpq's fd is now a harmless dup */
	close(nul);
	PQfinish(c);
	expect_released(admin, "RST while holding a row lock");
	cr_expect_eq(it_query_ll(admin, "SELECT v FROM it_lock WHERE id = 2"), 0,
	             "the vanished client's UPDATE was committed");
	/* The row can be updated at once. */
	PGconn *d = it_connect("postgres", NULL, "postgres");
	it_exec_ok(d, "BEGIN");
	it_exec_ok(d, "SET LOCAL lock_timeout = '2s'");
	it_exec_ok(d, "UPDATE it_lock SET v = 5 WHERE id = 2");
	it_exec_ok(d, "COMMIT");
	PQfinish(d);
	PQfinish(admin);
}

static void quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

IT_TEST(vanish, server_not_handed_on_mid_transaction)
{
	make_lock_table();
	it_pglane_start_simple("transaction", 1, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "BEGIN");
	it_exec_ok(c, "INSERT INTO it_lock VALUES (1000, 1)");
	it_conn_vanish(c);

	/* The only server: if it came with the vanished client's transaction still open, this
	 * COMMIT would commit its INSERT. */
	PGconn *d = it_connect("postgres", NULL, "postgres");
	PQsetNoticeProcessor(d, quiet_notice, NULL); /* "there is no transaction in progress" */
	PGresult *r = PQexec(d, "COMMIT");
	cr_expect_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	char *v = it_query_str(d, "SELECT pg_current_xact_id_if_assigned() IS NULL");
	cr_expect_str_eq(v, "t", "the next client runs inside the vanished client's transaction");
	free(v);
	cr_expect_eq(it_query_ll(admin, "SELECT count(*) FROM it_lock WHERE id = 1000"), 0,
	             "the vanished client's INSERT was committed");
	expect_released(admin, "vanished with an open INSERT");
	PQfinish(d);
	PQfinish(admin);
}

IT_TEST(vanish, vanished_in_session_mode)
{
	make_lock_table();
	it_pglane_start_simple("session", 2, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "BEGIN");
	it_exec_ok(c, "LOCK TABLE it_lock IN ACCESS EXCLUSIVE MODE");
	it_conn_vanish(c);
	expect_released(admin, "session mode, FIN while holding ACCESS EXCLUSIVE");
	expect_lockable();
	PQfinish(admin);
}

IT_TEST(vanish, vanished_while_query_runs)
{
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *c = it_connect("postgres", NULL, "postgres");
	cr_assert(PQsendQuery(c, "SELECT pg_sleep(30) /* it:vanish */"));
	int last = 0;
	cr_assert_geq(it_wait_backends(admin, 1, 5000, "active", NULL, NULL, "%it:vanish%", &last),
	              0, "the query is not running");
	int64_t t0 = it_now_ms();
	it_conn_vanish(c);
	int took = it_wait_backends(admin, 0, 5000, "active", NULL, NULL, "%it:vanish%", &last);
	cr_expect(took >= 0 && took <= 2500,
	          "the vanished client's pg_sleep(30) still ran %lld ms later (pglane should "
	          "cancel it)",
	          (long long)(it_now_ms() - t0));
	/* The server is usable for others afterwards. */
	PGconn *d = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(d, "SELECT 3"), 3);
	PQfinish(d);
	PQfinish(admin);
}

IT_TEST(vanish, vanished_while_query_runs_in_transaction)
{
	make_lock_table();
	it_pglane_start_simple("transaction", 1, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "BEGIN");
	it_exec_ok(c, "LOCK TABLE it_lock IN ACCESS EXCLUSIVE MODE");
	cr_assert(PQsendQuery(c, "SELECT pg_sleep(30) /* it:vanishtx */"));
	int last = 0;
	cr_assert_geq(
	        it_wait_backends(admin, 1, 5000, "active", NULL, NULL, "%it:vanishtx%", &last), 0,
	        "the query is not running");
	it_conn_vanish(c);
	expect_released(admin, "vanished during pg_sleep inside a transaction");
	expect_lockable();
	PQfinish(admin);
}

/* A client waiting for the only server gives up: with Terminate (PQfinish) or by closing the
 * socket. Either way what it waited with must never run, and it leaves the queue at once,
 * not at the next sweep. */
static void waiting_client_gives_up(bool terminate)
{
	make_lock_table();
	it_pglane_start_simple("transaction", 1, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *holder = it_connect("postgres", NULL, "postgres");
	it_exec_ok(holder, "BEGIN");
	it_exec_ok(holder, "UPDATE it_lock SET v = v WHERE id = 1");
	PGconn *w = it_connect("postgres", NULL, "postgres");
	cr_assert(PQsendQuery(w, "UPDATE it_lock SET v = 777 WHERE id = 3"));
	it_sleep_ms(300); /* pglane has read it and queued the client */
	if (terminate)
		PQfinish(w);
	else
		it_conn_vanish(w);
	int64_t t0 = it_now_ms();
	char *log = NULL;
	while (it_now_ms() - t0 < 3000) {
		free(log);
		log = it_pglane_log();
		if (strstr(log, "closing: client closed the connection"))
			break;
		it_sleep_ms(20);
	}
	cr_expect(strstr(log, "closing: client closed the connection"),
	          "the waiting client was not dropped within 3 s; log:\n%s", log);
	cr_log_info("dropped after %lld ms", (long long)(it_now_ms() - t0));
	free(log);
	it_exec_ok(holder, "COMMIT");
	it_sleep_ms(300);
	cr_expect_eq(it_query_ll(admin, "SELECT v FROM it_lock WHERE id = 3"), 0,
	             "the query of a client that gave up waiting was run");
	cr_expect_eq(it_query_ll(holder, "SELECT 4"), 4, "the server is not usable afterwards");
	PQfinish(holder);
	PQfinish(admin);
}

IT_TEST(vanish, waiting_client_terminates)
{
	waiting_client_gives_up(true);
}

IT_TEST(vanish, waiting_client_vanishes)
{
	waiting_client_gives_up(false);
}

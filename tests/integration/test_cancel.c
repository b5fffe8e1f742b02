/* tests/integration/test_cancel.c — CancelRequest through pglane reaches the backend the client
 * is using and no other; a wrong key does nothing; a cancel from a client that is not running
 * anything does not hit the next user of its last server, nor does a cancel that PostgreSQL acts
 * on after the statement it was meant for has ended. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/fwd.h"
#include "tests/integration/harness.h"

TestSuite(cancel, .fini = it_pglane_fini, .timeout = 90);

/* Send `sql` and wait until PostgreSQL shows it running. */
static void start_sleeper(PGconn *admin, PGconn *c, const char *sql, const char *like)
{
	cr_assert(PQsendQuery(c, sql), "%s", PQerrorMessage(c));
	int last = 0;
	cr_assert_geq(it_wait_backends(admin, 1, 5000, "active", NULL, NULL, like, &last), 0,
	              "`%s` is not running on PostgreSQL after 5 s (%d seen)", sql, last);
}

static void cancel(PGconn *c)
{
	PGcancel *k = PQgetCancel(c);
	cr_assert(k, "PQgetCancel failed");
	char err[256] = "";
	int ok = PQcancel(k, err, sizeof err);
	PQfreeCancel(k);
	cr_assert(ok, "PQcancel: %s", err);
}

/* Cancel, then the query must end with 57014 within `ms`. */
static void expect_cancelled(PGconn *c, int ms, const char *who)
{
	int64_t t0 = it_now_ms();
	bool to;
	PGresult *r = it_result_wait(c, 10000, &to);
	int64_t took = it_now_ms() - t0;
	cr_assert(!to, "%s: still running 10 s after the cancel", who);
	cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "%s: %s", who,
	             PQresStatus(PQresultStatus(r)));
	cr_expect_str_eq(it_sqlstate(r), "57014", "%s: %s", who,
	                 r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	cr_expect_leq(took, ms, "%s: cancelled after %lld ms", who, (long long)took);
	PQclear(r);
}

IT_TEST(cancel, cancel_reaches_the_right_backend)
{
	it_pglane_start_simple("transaction", 4, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	start_sleeper(admin, a, "SELECT pg_sleep(30) /* it:A */", "%it:A%");
	start_sleeper(admin, b, "SELECT pg_sleep(30) /* it:B */", "%it:B%");

	cancel(a);
	expect_cancelled(a, 2000, "A");
	/* B is untouched. */
	it_sleep_ms(300);
	cr_expect_eq(it_count_backends(admin, "active", NULL, NULL, "%it:B%"), 1,
	             "B's query stopped when A was cancelled");
	cr_expect(PQconsumeInput(b) && PQisBusy(b), "B got an answer already");

	cancel(b);
	expect_cancelled(b, 2000, "B");
	cr_expect_eq(it_count_backends(admin, "active", NULL, NULL, "%pg_sleep(30)%"), 0);
	/* Both clients go on. */
	cr_expect_eq(it_query_ll(a, "SELECT 1"), 1);
	cr_expect_eq(it_query_ll(b, "SELECT 2"), 2);
	PQfinish(b);
	PQfinish(a);
	PQfinish(admin);
}

/* A CancelRequest by hand: 16 bytes, length, code 80877102, process id, key. */
static void raw_cancel(int port, uint32_t pid, uint32_t key)
{
	int fd = it_tcp_connect(port);
	uint32_t msg[4] = {htonl(16), htonl(80877102), htonl(pid), htonl(key)};
	cr_assert_eq(send(fd, msg, sizeof msg, MSG_NOSIGNAL), (ssize_t)sizeof msg);
	it_wait_closed(fd, 2000);
	close(fd);
}

IT_TEST(cancel, wrong_key_does_nothing)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *a = it_connect("postgres", NULL, "postgres");
	start_sleeper(admin, a, "SELECT pg_sleep(30) /* it:wrongkey */", "%it:wrongkey%");

	uint32_t pid = (uint32_t)PQbackendPID(a); /* pglane's id for this client */
	raw_cancel(p->port, pid, 0x12345678u);
	raw_cancel(p->port, pid, 0u);
	raw_cancel(p->port, pid + 1, 0x12345678u);
	raw_cancel(p->port, 0u, 0u);
	it_sleep_ms(1000);
	cr_expect_eq(it_count_backends(admin, "active", NULL, NULL, "%it:wrongkey%"), 1,
	             "a CancelRequest with a wrong key cancelled the query");
	cr_expect(PQconsumeInput(a) && PQisBusy(a), "the query ended after wrong-key cancels");

	cancel(a);
	expect_cancelled(a, 2000, "A");
	PQfinish(a);
	PQfinish(admin);
}

IT_TEST(cancel, stale_cancel_does_not_hit_next_client)
{
	it_pglane_start_simple("transaction", 1, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(a, "SELECT 1"), 1); /* a used the only server, then released it */
	start_sleeper(admin, b, "SELECT pg_sleep(2) /* it:stale */", "%it:stale%");

	cancel(a); /* a runs nothing: this must not reach b's query on the same server */
	int64_t t0 = it_now_ms();
	bool to;
	PGresult *r = it_result_wait(b, 10000, &to);
	cr_assert(!to);
	cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK, "b's query was hit by a's cancel: %s %s",
	             it_sqlstate(r), PQresultErrorMessage(r));
	cr_expect_geq(it_now_ms() - t0, 1000);
	PQclear(r);
	cr_expect_eq(it_query_ll(a, "SELECT 2"), 2);
	PQfinish(b);
	PQfinish(a);
	PQfinish(admin);
}

IT_TEST(cancel, cancel_in_session_mode)
{
	it_pglane_start_simple("session", 2, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *a = it_connect("postgres", NULL, "postgres");
	long long pid = it_query_ll(a, "SELECT pg_backend_pid()");
	start_sleeper(admin, a, "SELECT pg_sleep(30) /* it:session */", "%it:session%");
	cancel(a);
	expect_cancelled(a, 2000, "A");
	cr_expect_eq(it_query_ll(a, "SELECT pg_backend_pid()"), pid,
	             "the session lost its backend over a cancel");
	PQfinish(a);
	PQfinish(admin);
}

/* PostgreSQL acts on a cancel late (a forwarder holds it 1 s): the statement it was sent for has
 * ended by then. The next statement on that server, another client's, must not be hit: pglane
 * hands the server on only when PostgreSQL has closed the cancel connection. */
IT_TEST(cancel, late_cancel_does_not_hit_next_statement)
{
	struct fwd *f = fwd_start(1000);
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"transaction\"; size = 1; };\n"
	         "databases = ( { name = \"postgres\"; host = \"127.0.0.1\"; port = %d;\n"
	         "  oltp = { size = 1; }; } );\n",
	         f->port);
	it_pglane_start(conf);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	cr_assert(PQsendQuery(a, "SELECT pg_sleep(0.4), 1 /* it:lateA */"));
	it_sleep_ms(100);
	int64_t t0 = it_now_ms();
	cancel(a); /* reaches PostgreSQL at ~1.1 s, after a's statement */
	cr_assert(PQsendQuery(b,
	                      "SELECT pg_sleep(1.5), 2 /* it:lateB */")); /* waits for a's server */
	bool to;
	PGresult *r = it_result_wait(a, 10000, &to);
	cr_assert(!to);
	cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK, "a: %s %s", it_sqlstate(r),
	             PQresultErrorMessage(r));
	PQclear(r);
	r = it_result_wait(b, 10000, &to);
	int64_t took = it_now_ms() - t0;
	cr_assert(!to);
	cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK,
	             "b's statement was hit by a's late cancel: %s %s", it_sqlstate(r),
	             PQresultErrorMessage(r));
	PQclear(r);
	cr_expect_eq(atomic_load(&f->cancels), 1, "the cancel did not go through the forwarder");
	cr_expect_geq(took, 2400, "b ran after %lld ms: before the cancel was done (1 s + 1.5 s)",
	              (long long)took);
	cr_log_info("b's statement answered %lld ms after the cancel", (long long)took);
	cr_expect_eq(it_query_ll(a, "SELECT 3"), 3);
	PQfinish(b);
	PQfinish(a);
}

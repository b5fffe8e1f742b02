/* tests/integration/test_relay.c — the simple query protocol through pglane: psql, results of
 * every size, errors that leave the connection usable, NoticeResponse, NotificationResponse and
 * ParameterStatus reaching the client. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

TestSuite(relay, .fini = it_pglane_fini, .timeout = 60);

static const char *scram_conf = "auth = { type = \"scram-sha-256\"; file = \"users.txt\"; };\n"
                                "pool = { mode = \"transaction\"; size = 4; };\n" IT_DATABASES;

/* Trailing newlines and spaces cut off, in place. */
static char *rtrim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

IT_TEST(relay, psql_select_42)
{
	struct it_pglane *p =
	        it_pglane_start_with_users(scram_conf, "\"scram_user\" \"scram_pw\"\n");
	char *out = NULL;
	int rc = it_sh(30, &out,
	               "PGPASSWORD=scram_pw psql -X -At -h 127.0.0.1 -p %d -U scram_user "
	               "-c 'select 42' postgres",
	               p->port);
	cr_expect_eq(rc, 0, "psql exited %d: %s", rc, out);
	cr_expect_str_eq(rtrim(out), "42");
	free(out);
}

IT_TEST(relay, psql_multiple_statements)
{
	struct it_pglane *p =
	        it_pglane_start_with_users(scram_conf, "\"scram_user\" \"scram_pw\"\n");
	char *out = NULL;
	int rc = it_sh(30, &out,
	               "PGPASSWORD=scram_pw psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p %d "
	               "-U scram_user -c 'select 1; select 2; select 3' postgres",
	               p->port);
	cr_expect_eq(rc, 0, "psql exited %d: %s", rc, out);
	cr_expect_str_eq(rtrim(out), "1\n2\n3");
	free(out);

	/* A script: a temp table lives for the transaction that creates it. */
	rc = it_sh(30, &out,
	           "PGPASSWORD=scram_pw psql -X -At -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p %d "
	           "-U scram_user postgres <<'EOF'\n"
	           "BEGIN;\n"
	           "CREATE TEMP TABLE t (x int) ON COMMIT DROP;\n"
	           "INSERT INTO t SELECT generate_series(1, 100);\n"
	           "SELECT sum(x) FROM t;\n"
	           "COMMIT;\n"
	           "SELECT 'done';\n"
	           "EOF",
	           p->port);
	cr_expect_eq(rc, 0, "psql exited %d: %s", rc, out);
	cr_expect_str_eq(rtrim(out), "5050\ndone");
	free(out);
}

IT_TEST(relay, result_types_and_sizes)
{
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	PGresult *r = PQexec(c, "SELECT 1::int, 'héllo'::text, NULL::text, 2.5::numeric, true");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	cr_expect_eq(PQnfields(r), 5);
	cr_expect_str_eq(PQgetvalue(r, 0, 0), "1");
	cr_expect_str_eq(PQgetvalue(r, 0, 1), "héllo");
	cr_expect(PQgetisnull(r, 0, 2));
	cr_expect_str_eq(PQgetvalue(r, 0, 3), "2.5");
	cr_expect_str_eq(PQgetvalue(r, 0, 4), "t");
	PQclear(r);

	/* ~20 MB in 20000 DataRows, and an empty result. */
	r = PQexec(c, "SELECT i, repeat(md5(i::text), 32) FROM generate_series(1, 20000) i");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	cr_expect_eq(PQntuples(r), 20000);
	long long sum = 0;
	size_t bytes = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		sum += atoll(PQgetvalue(r, i, 0));
		bytes += (size_t)PQgetlength(r, i, 1);
	}
	cr_expect_eq(sum, 20000LL * 20001 / 2);
	cr_expect_eq(bytes, (size_t)20000 * 1024);
	PQclear(r);
	r = PQexec(c, "SELECT 1 WHERE false");
	cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	cr_expect_eq(PQntuples(r), 0);
	PQclear(r);
	r = PQexec(c, "");
	cr_expect_eq(PQresultStatus(r), PGRES_EMPTY_QUERY);
	PQclear(r);
	PQfinish(c);
}

IT_TEST(relay, errors_leave_connection_usable)
{
	it_pglane_start_simple("transaction", 1, NULL);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	char msg[256];
	cr_expect_str_eq(it_exec_error(c, "SELECT 1/0", msg, sizeof msg), "22012");
	cr_expect(strstr(msg, "division by zero"), "message: %s", msg);
	cr_expect_eq(it_query_ll(c, "SELECT 2"), 2);

	/* An error inside a transaction block: the block is aborted until ROLLBACK. */
	it_exec_ok(c, "BEGIN");
	cr_expect_str_eq(it_exec_error(c, "SELECT * FROM no_such_table", NULL, 0), "42P01");
	cr_expect_str_eq(it_exec_error(c, "SELECT 3", NULL, 0), "25P02");
	cr_expect_eq(PQtransactionStatus(c), PQTRANS_INERROR);
	it_exec_ok(c, "ROLLBACK");
	cr_expect_eq(PQtransactionStatus(c), PQTRANS_IDLE);
	cr_expect_eq(it_query_ll(c, "SELECT 4"), 4);

	/* A second client shares the single server: it must not inherit anything. */
	PGconn *d = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(d, "SELECT 5"), 5);
	cr_expect_eq(PQtransactionStatus(d), PQTRANS_IDLE);
	PQfinish(d);
	PQfinish(c);
}

static void notice_to_buf(void *arg, const PGresult *r)
{
	char *buf = arg;
	const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	if (m && !buf[0])
		snprintf(buf, 256, "%s", m);
}

IT_TEST(relay, notice_relayed)
{
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	char notice[256] = "";
	PQsetNoticeReceiver(c, notice_to_buf, notice);
	it_exec_ok(c, "DO $$ BEGIN RAISE NOTICE 'hello from the server'; END $$");
	cr_expect_str_eq(notice, "hello from the server");
	PQfinish(c);
}

IT_TEST(relay, notification_relayed_in_session_mode)
{
	it_pglane_start_simple("session", 4, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	it_exec_ok(a, "LISTEN it_chan");
	it_exec_ok(b, "NOTIFY it_chan, 'payload 1'");
	PGnotify *n = NULL;
	int64_t deadline = it_now_ms() + 5000;
	while (!n && it_now_ms() < deadline) {
		struct pollfd pfd = {.fd = PQsocket(a), .events = POLLIN};
		poll(&pfd, 1, 100);
		cr_assert(PQconsumeInput(a), "%s", PQerrorMessage(a));
		n = PQnotifies(a);
	}
	cr_assert(n, "no notification within 5 s");
	cr_expect_str_eq(n->relname, "it_chan");
	cr_expect_str_eq(n->extra, "payload 1");
	PQfreemem(n);
	PQfinish(b);
	PQfinish(a);
}

IT_TEST(relay, parameter_status_relayed)
{
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *c = it_connect_app("postgres", NULL, "postgres", "it_first");
	cr_expect(PQparameterStatus(c, "server_version"), "no server_version");
	const char *enc = PQparameterStatus(c, "client_encoding");
	cr_expect(enc && strcmp(enc, "UTF8") == 0, "client_encoding %s", enc ? enc : "(none)");
	const char *app = PQparameterStatus(c, "application_name");
	cr_expect(app && strcmp(app, "it_first") == 0, "application_name %s", app ? app : "(none)");
	it_exec_ok(c, "SET application_name = 'it_second'");
	app = PQparameterStatus(c, "application_name");
	cr_expect(app && strcmp(app, "it_second") == 0, "application_name %s after SET",
	          app ? app : "(none)");
	char *v = it_query_str(c, "SHOW application_name");
	cr_expect_str_eq(v, "it_second");
	free(v);
	PQfinish(c);
}

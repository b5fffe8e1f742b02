/* tests/integration/test_abuse_servers.c — suite abuse, continued (see test_abuse.c): servers
 * played by the test (fakepg.h) that pglane logs in to, each breaking one rule of the login -
 * an ErrorResponse without SQLSTATE, AuthenticationSASL without SCRAM-SHA-256, SASLContinue out
 * of turn, a 64 KB or 6000-byte nonce, i=1000000000, the cap i=100000 (allowed) and i=100001, a
 * nonce not extending pglane's, AuthenticationOk before SASLFinal, an unknown authentication
 * code, a short BackendKeyData, a length of 2^31, ReadyForQuery before authentication, a DataRow
 * during login, a login dripping at 3 bytes per second. Each time the waiting client gets the
 * error in bounded time and pglane serves on; several clients waiting on a failing server all
 * get it. And an unknown database is told only after authentication. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/fakepg.h"
#include "tests/integration/harness.h"
#include "tests/integration/wire.h"

static int g_cases; /* abuse cases run in this test */

static void still_serving(const char *after)
{
	wire_still_serving(after, g_cases);
}

/* ---- servers played by the test ---- */

IT_TEST(abuse, malicious_servers, .fini = it_pglane_fini, .timeout = 180)
{
	static const struct {
		enum fakepg_script script;
		const char *err;
	} rows[] = {
	        {FAKEPG_ERROR_NO_SQLSTATE, "fake server refuses you"},
	        {FAKEPG_AUTH_UNKNOWN, "authentication method pglane does not support (code 99)"},
	        {FAKEPG_SASL_NO_SCRAM, "the server offers no SASL mechanism pglane supports"},
	        {FAKEPG_SASL_CONTINUE_EARLY, "invalid SCRAM message from the server"},
	        {FAKEPG_SASL_HUGE_NONCE, "invalid message from the server during login"},
	        {FAKEPG_SASL_LONG_NONCE, "invalid SCRAM message from the server"},
	        {FAKEPG_SASL_HUGE_ITERATIONS, "invalid SCRAM message from the server"},
	        {FAKEPG_SASL_FOREIGN_NONCE, "invalid SCRAM message from the server"},
	        {FAKEPG_SASL_OK_EARLY, "server ended SCRAM authentication early"},
	        {FAKEPG_SASL_ITER_MAX, "fake server checked the proof"}, /* the cap is allowed */
	        {FAKEPG_SASL_ITER_OVER, "invalid SCRAM message from the server"},
	        {FAKEPG_KEYDATA_SHORT, "malformed BackendKeyData"},
	        {FAKEPG_HUGE_LENGTH, "invalid message from the server during login"},
	        {FAKEPG_READY_FIRST, "ReadyForQuery before authentication"},
	        {FAKEPG_DATAROW_IN_LOGIN, "unexpected message from the server during login"},
	        {FAKEPG_DRIP, "server_connect_timeout"},
	};
	enum { NROWS = sizeof rows / sizeof rows[0] };
	struct fakepg *fakes[NROWS];
	char conf[8192];
	size_t len = (size_t)snprintf(conf, sizeof conf,
	                              "auth = { type = \"trust\"; };\n"
	                              "pool = { mode = \"transaction\"; size = 1; "
	                              "query_wait_timeout = \"20s\"; "
	                              "server_connect_timeout = \"1s\"; };\n"
	                              "databases = (\n");
	for (int i = 0; i < NROWS; i++) {
		fakes[i] = fakepg_start(rows[i].script);
		len += (size_t)snprintf(conf + len, sizeof conf - len,
		                        "  { name = \"f%d\"; host = \"127.0.0.1\"; port = %d; "
		                        "sslmode = \"disable\"; password = \"fake_pw\"; "
		                        "query_wait_timeout = \"2s\"; },\n",
		                        i, fakes[i]->port);
	}
	snprintf(conf + len, sizeof conf - len,
	         "  { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; }\n);\n");
	it_pglane_start(conf);
	g_cases = 0;
	for (int i = 0; i < NROWS; i++) {
		const char *what = fakepg_script_name(rows[i].script);
		char ci[512], db[16];
		snprintf(db, sizeof db, "f%d", i);
		it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, db,
		            "connect_timeout=8");
		int64_t t0 = it_now_ms();
		PGconn *c = it_connect_try(ci);
		int64_t took = it_now_ms() - t0;
		g_cases++;
		cr_expect_neq(PQstatus(c), CONNECTION_OK, "server sending %s: the client got in",
		              what);
		cr_expect(strstr(it_conn_error(c), rows[i].err),
		          "server sending %s: the client got \"%s\", expected \"%s\"", what,
		          it_conn_error(c), rows[i].err);
		cr_expect_lt(took, 5000, "server sending %s: the error took %lld ms", what,
		             (long long)took);
		PQfinish(c);
		cr_expect_geq(atomic_load(&fakes[i]->startups), 1, "%s: pglane never logged in",
		              what);
		still_serving(what);
	}
	/* the SCRAM exchanges got as far as they should and no further */
	for (int i = 0; i < NROWS; i++) {
		enum fakepg_script s = rows[i].script;
		bool answers = s == FAKEPG_SASL_OK_EARLY || s == FAKEPG_SASL_ITER_MAX;
		if (answers || s == FAKEPG_SASL_HUGE_NONCE || s == FAKEPG_SASL_LONG_NONCE ||
		    s == FAKEPG_SASL_HUGE_ITERATIONS || s == FAKEPG_SASL_FOREIGN_NONCE ||
		    s == FAKEPG_SASL_ITER_OVER) {
			cr_expect_geq(atomic_load(&fakes[i]->sasl_initial), 1,
			              "%s: pglane sent no SASLInitialResponse",
			              fakepg_script_name(s));
			cr_expect_eq(atomic_load(&fakes[i]->sasl_final), answers ? 1 : 0,
			             "%s: %d client-final messages", fakepg_script_name(s),
			             atomic_load(&fakes[i]->sasl_final));
		}
		cr_expect_eq(atomic_load(&fakes[i]->queries), 0, "%s: pglane ran a query on it",
		             fakepg_script_name(s));
	}
}

/* Several clients waiting on one server whose logins fail: each gets the error, in bounded
 * time, including those that come during the retry back-off. */
IT_TEST(abuse, waiters_on_a_failing_server, .fini = it_pglane_fini, .timeout = 120)
{
	struct fakepg *f = fakepg_start(FAKEPG_SASL_HUGE_ITERATIONS);
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"transaction\"; size = 2; query_wait_timeout = \"20s\"; };\n"
	         "databases = ( { name = \"bad\"; host = \"127.0.0.1\"; port = %d; "
	         "sslmode = \"disable\"; password = \"fake_pw\"; },\n"
	         "  { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; } );\n",
	         f->port);
	it_pglane_start(conf);
	enum { N = 6 };
	PGconn *c[N];
	bool done[N] = {false};
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "bad",
	            NULL);
	int64_t t0 = it_now_ms();
	for (int i = 0; i < N; i++) {
		c[i] = PQconnectStart(ci);
		cr_assert(c[i] && PQstatus(c[i]) != CONNECTION_BAD, "PQconnectStart");
		if (i == N / 2)
			it_sleep_ms(300); /* the second half comes during the back-off */
	}
	PostgresPollingStatusType st[N];
	for (int i = 0; i < N; i++)
		st[i] = PGRES_POLLING_WRITING;
	int left = N;
	while (left > 0 && it_now_ms() - t0 < 10000) {
		for (int i = 0; i < N; i++) {
			if (done[i])
				continue;
			struct pollfd p = {.fd = PQsocket(c[i]),
			                   .events = st[i] == PGRES_POLLING_READING ? POLLIN
			                                                            : POLLOUT};
			if (poll(&p, 1, 10) > 0)
				st[i] = PQconnectPoll(c[i]);
			if (st[i] == PGRES_POLLING_OK || st[i] == PGRES_POLLING_FAILED) {
				done[i] = true;
				left--;
			}
		}
	}
	g_cases = N;
	for (int i = 0; i < N; i++) {
		cr_expect(done[i], "client %d still waits after 10 s", i);
		cr_expect_eq(st[i], PGRES_POLLING_FAILED, "client %d got in", i);
		cr_expect(strstr(PQerrorMessage(c[i]), "invalid SCRAM message from the server"),
		          "client %d: %s", i, PQerrorMessage(c[i]));
		PQfinish(c[i]);
	}
	cr_expect_lt(it_now_ms() - t0, 5000, "the waiters were answered after %lld ms",
	             (long long)(it_now_ms() - t0));
	still_serving("waiters on a failing server");
}

/* An unknown database is told only after authentication: a wrong password gets 28P01 on any
 * database name, so names cannot be probed without the password. */
IT_TEST(abuse, unknown_database_only_after_auth, .fini = it_pglane_fini, .timeout = 120)
{
	it_pglane_start_with_users("auth = { type = \"scram-sha-256\"; file = \"users.txt\"; };\n"
	                           "databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; "
	                           "port = @PGPORT@; } );\n",
	                           "\"scram_user\" \"scram_pw\"\n");
	static const struct {
		const char *user, *password, *db, *state, *text;
	} rows[] = {
	        {"scram_user", "scram_pw", "nosuch", "3D000", "database \"nosuch\" does not exist"},
	        {"scram_user", "wrong", "nosuch", "28P01", "password authentication failed"},
	        {"no_such_user", "wrong", "nosuch", "28P01", "password authentication failed"},
	        {"no_such_user", "wrong", "postgres", "28P01", "password authentication failed"},
	};
	g_cases = 0;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char ci[512];
		it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, rows[i].user,
		            rows[i].password, rows[i].db, NULL);
		PGconn *c = it_connect_try(ci);
		g_cases++;
		const char *e = it_conn_error(c);
		cr_expect(strstr(e, rows[i].state) && strstr(e, rows[i].text),
		          "%s/%s on %s: \"%s\", expected %s %s", rows[i].user, rows[i].password,
		          rows[i].db, e, rows[i].state, rows[i].text);
		PQfinish(c);
	}
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "scram_user", "scram_pw",
	            "postgres", NULL);
	PGconn *c = it_connect_try(ci);
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "%s", it_conn_error(c));
	PQfinish(c);
}

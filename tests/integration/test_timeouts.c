/* tests/integration/test_timeouts.c — the timeouts of issue 4, each shown to fire and shown
 * not to fire early: statement_timeout (a CancelRequest, 57014 to the client, which keeps its
 * connection and the same backend; the olap lane's longer timeout; extended protocol; a cancel
 * the server ignores ends in a disconnect), idle_in_transaction_timeout, client_idle_timeout,
 * query_wait_timeout (and a waiting client's cancel), client_login_timeout and
 * server_connect_timeout (against servers played by the test on 127.0.0.1: one that never
 * answers, one that answers slowly, one that ignores cancel requests). pglane checks its
 * timeouts every 250 ms: a timeout of T fires between T and about T + 0.5 s. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/integration/rawpg.h"
#include "tests/integration/serve.h"

TestSuite(timeouts, .fini = it_pglane_fini, .timeout = 90);

/* pglane, auth trust, database postgres with lanes oltp and olap of one server each; `oltp`
 * and `olap` are extra keys of the lane groups, `pool` of the pool group. */
static struct it_pglane *start_timeouts(const char *oltp, const char *olap, const char *pool)
{
	char conf[2048];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"transaction\"; size = 1; %s };\n"
	         "databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"
	         "  oltp = { size = 1; %s }; olap = { size = 1; %s }; } );\n",
	         pool ? pool : "", oltp ? oltp : "", olap ? olap : "");
	return it_pglane_start(conf);
}

static long long backend_pid(PGconn *c)
{
	return it_query_ll(c, "SELECT pg_backend_pid()");
}

static const char *field(const PGresult *r, int code)
{
	const char *v = r ? PQresultErrorField(r, code) : NULL;
	return v ? v : "";
}

/* Wait (10 s at most) for the query sent on `c`; it must fail with `sqlstate` after between
 * min_ms and max_ms from t0. Returns the primary message (static storage). */
static const char *expect_error_after(PGconn *c, int64_t t0, const char *sqlstate, int min_ms,
                                      int max_ms, const char *what)
{
	static char msg[512];
	bool to;
	PGresult *r = it_result_wait(c, 10000, &to);
	int64_t took = it_now_ms() - t0;
	cr_assert(!to, "%s: no answer within 10 s", what);
	snprintf(msg, sizeof msg, "%s", r ? field(r, PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(c));
	cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "%s: %s (%s)", what,
	             PQresStatus(PQresultStatus(r)), msg);
	cr_expect_str_eq(it_sqlstate(r), sqlstate, "%s: SQLSTATE %s: %s", what, it_sqlstate(r),
	                 msg);
	cr_expect(took >= min_ms && took <= max_ms, "%s: after %lld ms (expected %d..%d)", what,
	          (long long)took, min_ms, max_ms);
	cr_log_info("%s: %lld ms, %s %s: %s", what, (long long)took, field(r, PG_DIAG_SEVERITY),
	            it_sqlstate(r), msg);
	PQclear(r);
	return msg;
}

/* ---- statement_timeout ---- */

/* After a statement_timeout: an ERROR (not FATAL), the connection and transaction state
 * fine, the same backend, nothing left running. */
static void expect_recovered(PGconn *admin, PGconn *c, long long pid, const char *like)
{
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "the client lost its connection");
	cr_expect_eq(PQtransactionStatus(c), PQTRANS_IDLE);
	cr_expect_eq(it_query_ll(c, "SELECT 41 + 1"), 42, "the next query failed");
	cr_expect_eq(backend_pid(c), pid, "the client's next statement ran on another backend");
	int left = 0;
	cr_expect_geq(it_wait_backends(admin, 0, 2000, "active", NULL, NULL, like, &left), 0,
	              "the timed-out statement still runs on PostgreSQL (%d)", left);
	cr_expect_eq(it_count_backends(admin, NULL, "postgres", NULL, NULL), 1,
	             "pool of 1 per lane, one lane used: the server connection was replaced");
}

IT_TEST(timeouts, statement_timeout_cancels_and_keeps_server)
{
	start_timeouts("statement_timeout = \"1s\";", "statement_timeout = \"30s\";",
	               "query_wait_timeout = \"10s\";");
	PGconn *admin = it_connect_admin();
	PGconn *c = it_connect("postgres", NULL, "postgres");
	long long pid = backend_pid(c);
	for (int round = 0; round < 2; round++) {
		int64_t t0 = it_now_ms();
		cr_assert(PQsendQuery(c, "SELECT pg_sleep(10) /* it:st_simple */"));
		bool to;
		PGresult *r = it_result_wait(c, 10000, &to);
		int64_t took = it_now_ms() - t0;
		cr_assert(!to, "round %d: pg_sleep(10) still running after 10 s", round);
		const char *msg = field(r, PG_DIAG_MESSAGE_PRIMARY);
		cr_expect_str_eq(it_sqlstate(r), "57014", "round %d: %s", round, msg);
		cr_expect_str_eq(field(r, PG_DIAG_SEVERITY_NONLOCALIZED), "ERROR");
		cr_expect_str_eq(
		        msg,
		        "canceling statement due to statement timeout (pglane, lane \"oltp\")");
		cr_expect(took >= 950 && took <= 2000,
		          "round %d: 57014 after %lld ms (1 s timeout)", round, (long long)took);
		PQclear(r);
		expect_recovered(admin, c, pid, "%it:st_simple%");
	}
	PQfinish(c);
	PQfinish(admin);
}

IT_TEST(timeouts, statement_timeout_olap_lane_is_longer)
{
	start_timeouts("statement_timeout = \"1s\";", "statement_timeout = \"30s\";",
	               "query_wait_timeout = \"10s\";");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	long long oltp = backend_pid(c);
	int64_t t0 = it_now_ms();
	PGresult *r = PQexec(c, "/* lane: olap */ SELECT pg_sleep(3) /* it:st_olap */");
	int64_t took = it_now_ms() - t0;
	cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK, "pg_sleep(3) on olap (30 s): %s %s",
	             it_sqlstate(r), PQresultErrorMessage(r));
	cr_expect_geq(took, 2900, "pg_sleep(3) returned after %lld ms", (long long)took);
	PQclear(r);
	/* The same statement on oltp is cancelled; shorter ones are not. */
	t0 = it_now_ms();
	cr_assert(PQsendQuery(c, "SELECT pg_sleep(3) /* it:st_oltp */"));
	expect_error_after(c, t0, "57014", 950, 2000, "pg_sleep(3) on oltp");
	t0 = it_now_ms();
	it_exec_ok(c, "SELECT pg_sleep(0.7)");
	cr_expect_geq(it_now_ms() - t0, 650);
	cr_expect_eq(backend_pid(c), oltp);
	PQfinish(c);
}

IT_TEST(timeouts, statement_timeout_extended_protocol)
{
	start_timeouts("statement_timeout = \"1s\";", "statement_timeout = \"30s\";",
	               "query_wait_timeout = \"10s\";");
	PGconn *admin = it_connect_admin();
	PGconn *c = it_connect("postgres", NULL, "postgres");
	long long pid = backend_pid(c);
	const char *ten[] = {"10"};
	int64_t t0 = it_now_ms();
	cr_assert(PQsendQueryParams(c, "SELECT pg_sleep($1::float8) /* it:st_ext */", 1, NULL, ten,
	                            NULL, NULL, 0));
	const char *msg =
	        expect_error_after(c, t0, "57014", 950, 2000, "PQexecParams pg_sleep(10)");
	cr_expect_str_eq(msg,
	                 "canceling statement due to statement timeout (pglane, lane \"oltp\")");
	expect_recovered(admin, c, pid, "%it:st_ext%");

	PGresult *r =
	        PQprepare(c, "it_st_prep", "SELECT pg_sleep($1::float8) /* it:st_prep */", 0, NULL);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	t0 = it_now_ms();
	cr_assert(PQsendQueryPrepared(c, "it_st_prep", 1, ten, NULL, NULL, 0));
	msg = expect_error_after(c, t0, "57014", 950, 2000, "PQexecPrepared pg_sleep(10)");
	cr_expect_str_eq(msg,
	                 "canceling statement due to statement timeout (pglane, lane \"oltp\")");
	expect_recovered(admin, c, pid, "%it:st_prep%");
	const char *short_sleep[] = {"0.3"};
	r = PQexecPrepared(c, "it_st_prep", 1, short_sleep, NULL, NULL, 0);
	cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	PQfinish(admin);
}

IT_TEST(timeouts, statement_timeout_inside_transaction)
{
	start_timeouts("statement_timeout = \"1s\";", NULL, "query_wait_timeout = \"10s\";");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	long long pid = backend_pid(c);
	it_exec_ok(c, "BEGIN");
	it_exec_ok(c, "SELECT 1");
	int64_t t0 = it_now_ms();
	cr_assert(PQsendQuery(c, "SELECT pg_sleep(10) /* it:st_tx */"));
	expect_error_after(c, t0, "57014", 950, 2000, "pg_sleep(10) in a transaction");
	cr_expect_eq(PQtransactionStatus(c), PQTRANS_INERROR);
	it_exec_ok(c, "ROLLBACK");
	cr_expect_eq(PQtransactionStatus(c), PQTRANS_IDLE);
	cr_expect_eq(backend_pid(c), pid);
	PQfinish(c);
}

/* The timeout is per statement: neither several statements of one transaction nor the
 * client's pauses between them add up. */
IT_TEST(timeouts, statement_timeout_not_early)
{
	start_timeouts("statement_timeout = \"1s\";", NULL, "query_wait_timeout = \"10s\";");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "BEGIN");
	it_exec_ok(c, "SELECT pg_sleep(0.7)");
	it_sleep_ms(800);
	it_exec_ok(c, "SELECT pg_sleep(0.7)");
	it_exec_ok(c, "SELECT pg_sleep(0.7)");
	it_exec_ok(c, "COMMIT");
	for (int i = 0; i < 3; i++)
		it_exec_ok(c, "SELECT pg_sleep(0.6)");
	const char *p[] = {"0.7"};
	for (int i = 0; i < 2; i++) {
		PGresult *r =
		        PQexecParams(c, "SELECT pg_sleep($1::float8)", 1, NULL, p, NULL, NULL, 0);
		cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		PQclear(r);
	}
	PQfinish(c);
}

/* ---- servers played by the test ---- */

struct fake {
	int lfd, port;
	int login_delay_ms; /* before answering a startup packet */
	bool mute;          /* never answer */
	atomic_int conns, cancels, hung;
	atomic_int closed; /* server connections (not cancel requests) that ended */
};

static void put_msg(int fd, char type, const void *body, size_t len)
{
	char buf[512];
	if (len + 5 > sizeof buf)
		return;
	uint32_t n = htonl((uint32_t)len + 4);
	buf[0] = type;
	memcpy(buf + 1, &n, 4);
	memcpy(buf + 5, body, len);
	(void)!send(fd, buf, len + 5, MSG_NOSIGNAL);
}

static void put_param(int fd, const char *name, const char *value)
{
	char b[128];
	size_t a = strlen(name) + 1, v = strlen(value) + 1;
	memcpy(b, name, a);
	memcpy(b + a, value, v);
	put_msg(fd, 'S', b, a + v);
}

/* Answer a simple Query with one text row "fake" (or just "SET"), then ReadyForQuery. */
static void answer_query(int fd, const char *sql)
{
	if (strncasecmp(sql, "SET", 3) == 0 || strncasecmp(sql, "DISCARD", 7) == 0 ||
	    strncasecmp(sql, "RESET", 5) == 0 || strncasecmp(sql, "ROLLBACK", 8) == 0) {
		put_msg(fd, 'C', "SET", 4);
	} else {
		static const uint8_t rowdesc[] = {0,    1,    'v',  0,    0, 0,  0,    0,
		                                  0,    0,    0,    0,    0, 25, 0xff, 0xff,
		                                  0xff, 0xff, 0xff, 0xff, 0, 0};
		static const uint8_t row[] = {0, 1, 0, 0, 0, 4, 'f', 'a', 'k', 'e'};
		put_msg(fd, 'T', rowdesc, sizeof rowdesc);
		put_msg(fd, 'D', row, sizeof row);
		put_msg(fd, 'C', "SELECT 1", 9);
	}
	put_msg(fd, 'Z', "I", 1);
}

static void fake_serve(void *arg, int fd)
{
	struct fake *f = arg;
	char body[8192];
	for (;;) { /* startup, after any SSLRequest */
		uint32_t hdr[2];
		if (!it_read_full(fd, hdr, sizeof hdr))
			goto out;
		uint32_t len = ntohl(hdr[0]), code = ntohl(hdr[1]);
		if (len < 8 || len - 8 > sizeof body || !it_read_full(fd, body, len - 8))
			goto out;
		if (code == 80877102) { /* CancelRequest: ignored */
			atomic_fetch_add(&f->cancels, 1);
			close(fd);
			return;
		}
		if (code == 80877103) {
			(void)!send(fd, "N", 1, MSG_NOSIGNAL);
			continue;
		}
		break;
	}
	if (f->mute) {
		while (recv(fd, body, sizeof body, 0) > 0)
			;
		goto out;
	}
	it_sleep_ms(f->login_delay_ms);
	put_msg(fd, 'R', "\0\0\0\0", 4);
	put_param(fd, "server_version", "15.0");
	put_param(fd, "server_encoding", "UTF8");
	put_param(fd, "client_encoding", "UTF8");
	put_param(fd, "DateStyle", "ISO, MDY");
	put_param(fd, "IntervalStyle", "postgres");
	put_param(fd, "TimeZone", "UTC");
	put_param(fd, "integer_datetimes", "on");
	put_param(fd, "standard_conforming_strings", "on");
	put_param(fd, "application_name", "");
	put_msg(fd, 'K', "\0\0\x30\x39\0\0\0\x07", 8);
	put_msg(fd, 'Z', "I", 1);
	for (;;) {
		char type;
		uint32_t len;
		if (!it_read_full(fd, &type, 1) || !it_read_full(fd, &len, 4))
			goto out;
		len = ntohl(len);
		if (len < 4 || len - 4 >= sizeof body || !it_read_full(fd, body, len - 4))
			goto out;
		body[len - 4] = '\0';
		if (type == 'X')
			goto out;
		if (type == 'Q' && strstr(body, "it_hang"))
			atomic_fetch_add(&f->hung, 1); /* never answered */
		else if (type == 'Q')
			answer_query(fd, body);
		else if (type == 'S')
			put_msg(fd, 'Z', "I", 1);
	}
out:
	atomic_fetch_add(&f->closed, 1);
	close(fd);
}

/* A fake server in its own threads; lives until the test process ends. */
static struct fake *fake_start(int login_delay_ms, bool mute)
{
	struct fake *f = calloc(1, sizeof *f);
	cr_assert(f);
	f->login_delay_ms = login_delay_ms;
	f->mute = mute;
	f->lfd = it_listen_local(&f->port);
	it_serve(f->lfd, fake_serve, f, &f->conns);
	return f;
}

/* pglane with database `fake` on the fake server and `postgres` on the real one. */
static void start_with_fake(int fake_port, const char *pool_extra, const char *fake_lane)
{
	char conf[2048];
	snprintf(
	        conf, sizeof conf,
	        "auth = { type = \"trust\"; };\n"
	        "pool = { mode = \"transaction\"; size = 1; %s };\n"
	        "databases = ( { name = \"fake\"; host = \"127.0.0.1\"; port = %d;\n"
	        "                oltp = { size = 1; %s }; },\n"
	        "              { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; } );\n",
	        pool_extra, fake_port, fake_lane ? fake_lane : "");
	it_pglane_start(conf);
}

IT_TEST(timeouts, statement_timeout_cancel_ignored_closes_server)
{
	struct fake *f = fake_start(0, false);
	start_with_fake(f->port, "query_wait_timeout = \"20s\";", "statement_timeout = \"1s\";");
	PGconn *c = it_connect("postgres", NULL, "fake");
	char *v = it_query_str(c, "SELECT 'ok'");
	cr_assert_str_eq(v, "fake", "the fake server did not answer");
	free(v);
	int64_t t0 = it_now_ms();
	cr_assert(PQsendQuery(c, "SELECT 'it_hang'"));
	/* The cancel is sent at ~1 s and ignored; after 3 s more the server connection is closed
	 * and the client told (57014), its connection kept (issue 18). */
	int64_t cancel_at = 0;
	bool to;
	PGresult *r = NULL;
	while (it_now_ms() - t0 < 10000) {
		if (!cancel_at && atomic_load(&f->cancels) > 0)
			cancel_at = it_now_ms() - t0;
		r = it_result_wait(c, 50, &to);
		if (!to)
			break;
	}
	int64_t took = it_now_ms() - t0;
	cr_assert(!to, "the hung statement still waits after 10 s");
	cr_expect(cancel_at >= 900 && cancel_at <= 2000, "the cancel request came at %lld ms",
	          (long long)cancel_at);
	cr_expect_str_eq(it_sqlstate(r), "57014", "%s",
	                 r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	cr_expect(took >= 3800 && took <= 6000,
	          "answered after %lld ms (1 s timeout + 3 s for the cancel)", (long long)took);
	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "the client was disconnected");
	cr_expect_eq(PQtransactionStatus(c), PQTRANS_IDLE);
	/* The hung server connection is closed (the cancel did not work: it cannot be cleaned
	 * up), so the next client gets a new one at once. */
	int64_t deadline = it_now_ms() + 1000;
	while (atomic_load(&f->closed) == 0 && it_now_ms() < deadline)
		it_sleep_ms(20);
	cr_expect_geq(atomic_load(&f->closed), 1,
	              "the server connection stuck in a statement was still open 1 s after its "
	              "client was told");
	/* the same client goes on, on a new server connection */
	t0 = it_now_ms();
	PGresult *again = PQexec(c, "SELECT 'again'");
	took = it_now_ms() - t0;
	cr_expect_eq(PQresultStatus(again), PGRES_TUPLES_OK, "the next statement: %s",
	             PQresultErrorMessage(again));
	cr_expect_lt(took, 2000, "the next statement waited %lld ms for a server", (long long)took);
	PQclear(again);
	PQfinish(c);
}

/* ---- idle_in_transaction_timeout ---- */

/* Read until an ErrorResponse (asynchronous messages skipped) within timeout_ms; returns the
 * milliseconds it took, -1 when none came. */
static int wait_error(struct rawpg *c, int timeout_ms, char *sqlstate, char *msg, size_t msgn)
{
	int64_t t0 = it_now_ms();
	for (;;) {
		int left = timeout_ms - (int)(it_now_ms() - t0);
		struct rawpg_msg m;
		if (left <= 0 || rawpg_read(c, left, &m) != RAWPG_OK)
			return -1;
		if (m.type == 'E') {
			rawpg_error_fields(&m, sqlstate, 6, msg, msgn);
			return (int)(it_now_ms() - t0);
		}
	}
}

static void expect_closed(struct rawpg *c)
{
	struct rawpg_msg m;
	enum rawpg_read_result r = rawpg_read(c, 2000, &m);
	cr_expect_eq(r, RAWPG_CLOSED, "the connection stayed open after the FATAL (got %s)",
	             r == RAWPG_OK ? "a message" : "nothing");
}

/* Run `sql` without error; the transaction status after it must be `want_status`. */
static void raw_exec(struct rawpg *c, const char *sql, char want_status)
{
	c->sqlstate[0] = '\0';
	c->error[0] = '\0';
	rawpg_query(c, sql);
	rawpg_send(c);
	char st = rawpg_until_ready(c);
	cr_assert_eq(c->sqlstate[0], '\0', "`%s`: %s %s", sql, c->sqlstate, c->error);
	cr_assert_eq(st, want_status, "`%s`: transaction status %c", sql, st);
}

IT_TEST(timeouts, idle_in_transaction_timeout_fires)
{
	struct it_pglane *p = start_timeouts("idle_in_transaction_timeout = \"2s\";", NULL,
	                                     "query_wait_timeout = \"10s\";");
	PGconn *admin = it_connect_admin();
	it_exec_ok(admin, "DROP TABLE IF EXISTS it_iit; CREATE TABLE it_iit (x int)");
	struct rawpg *c = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
	raw_exec(c, "BEGIN", 'T');
	char *pid = rawpg_query_value(c, "SELECT pg_backend_pid()");
	raw_exec(c, "INSERT INTO it_iit VALUES (1)", 'T');
	char state[6] = "", msg[256] = "";
	int took = wait_error(c, 6000, state, msg, sizeof msg);
	cr_assert_geq(took, 0, "no error 6 s into an idle transaction (timeout 2 s)");
	cr_expect(took >= 1950 && took <= 3000, "fired after %d ms idle (2 s)", took);
	cr_expect_str_eq(state, "25P03", "%s", msg);
	cr_expect(strstr(msg, "terminating connection due to idle_in_transaction_timeout") &&
	                  strstr(msg, "lane \"oltp\""),
	          "message: %s", msg);
	expect_closed(c);
	rawpg_vanish(c);
	/* The server was rolled back and stays in the pool. */
	int left = 0;
	cr_expect_geq(
	        it_wait_backends(admin, 0, 3000, "idle in transaction", NULL, NULL, NULL, &left), 0,
	        "%d backends still idle in transaction", left);
	cr_expect_eq(it_query_ll(admin, "SELECT count(*) FROM it_iit"), 0,
	             "the insert of the timed-out transaction was committed");
	PGconn *next = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(backend_pid(next), atoll(pid), "the rolled-back server was not reused");
	free(pid);
	PQfinish(next);
	it_exec_ok(admin, "DROP TABLE it_iit");
	PQfinish(admin);
}

IT_TEST(timeouts, idle_in_transaction_timeout_not_early)
{
	struct it_pglane *p = start_timeouts("idle_in_transaction_timeout = \"2s\";", NULL,
	                                     "query_wait_timeout = \"10s\";");
	struct rawpg *c = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
	raw_exec(c, "BEGIN", 'T');
	for (int i = 0; i < 3; i++) { /* 3.6 s in the transaction, never 2 s idle */
		cr_expect(rawpg_quiet(c, 1200), "round %d: pglane said something after 1.2 s idle",
		          i);
		raw_exec(c, "SELECT 1", 'T');
	}
	/* A statement running longer than the timeout is not idleness. */
	raw_exec(c, "SELECT pg_sleep(2.5)", 'T');
	cr_expect(rawpg_quiet(c, 1000));
	raw_exec(c, "COMMIT", 'I');
	/* Outside a transaction this timeout does not apply. */
	cr_expect(rawpg_quiet(c, 2600), "an idle client outside a transaction was told something");
	raw_exec(c, "SELECT 1", 'I');
	rawpg_close(c);
}

/* ---- client_idle_timeout ---- */

IT_TEST(timeouts, client_idle_timeout_fires)
{
	struct it_pglane *p = start_timeouts("client_idle_timeout = \"2s\";", NULL,
	                                     "query_wait_timeout = \"10s\";");
	struct rawpg *fresh = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
	int64_t fresh_t0 = it_now_ms();
	struct rawpg *c = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
	raw_exec(c, "SELECT 1", 'I');
	int64_t c_t0 = it_now_ms();
	char state[6] = "", msg[256] = "";
	/* A client that logged in and never ran anything is idle too. */
	int took = wait_error(fresh, 6000, state, msg, sizeof msg);
	cr_assert_geq(took, 0, "a client idle since login was never disconnected");
	int64_t since = it_now_ms() - fresh_t0;
	cr_expect(since >= 1950 && since <= 3000, "a client idle since login dropped after %lld ms",
	          (long long)since);
	cr_expect_str_eq(state, "57P05", "%s", msg);
	expect_closed(fresh);
	rawpg_vanish(fresh);
	took = wait_error(c, 6000, state, msg, sizeof msg);
	cr_assert_geq(took, 0, "no error 6 s into an idle session (client_idle_timeout 2 s)");
	since = it_now_ms() - c_t0;
	cr_expect(since >= 1950 && since <= 3000, "fired after %lld ms idle (2 s)",
	          (long long)since);
	cr_expect_str_eq(state, "57P05", "%s", msg);
	cr_expect(strstr(msg, "terminating connection due to client_idle_timeout"), "message: %s",
	          msg);
	expect_closed(c);
	rawpg_vanish(c);
	PGconn *again = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(again, "SELECT 3"), 3);
	PQfinish(again);
}

IT_TEST(timeouts, client_idle_timeout_not_early)
{
	struct it_pglane *p = start_timeouts("client_idle_timeout = \"2s\";", NULL,
	                                     "query_wait_timeout = \"10s\";");
	struct rawpg *c = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
	for (int i = 0; i < 3; i++) {
		cr_expect(rawpg_quiet(c, 1200), "round %d: dropped after 1.2 s idle", i);
		raw_exec(c, "SELECT 1", 'I');
	}
	/* Neither a long statement nor an open transaction is idleness of this kind. */
	raw_exec(c, "SELECT pg_sleep(2.5)", 'I');
	cr_expect(rawpg_quiet(c, 1000));
	raw_exec(c, "BEGIN", 'T');
	cr_expect(rawpg_quiet(c, 2600), "a client in a transaction was dropped as idle");
	raw_exec(c, "COMMIT", 'I');
	/* And the timeout is live in this configuration. */
	char state[6] = "", msg[256] = "";
	int took = wait_error(c, 6000, state, msg, sizeof msg);
	cr_expect(took >= 1950 && took <= 3000, "client_idle_timeout after %d ms", took);
	cr_expect_str_eq(state, "57P05", "%s", msg);
	rawpg_vanish(c);
}

/* ---- query_wait_timeout ---- */

IT_TEST(timeouts, query_wait_timeout_fires)
{
	start_timeouts(NULL, NULL, "query_wait_timeout = \"2s\";");
	PGconn *holder = it_connect("postgres", NULL, "postgres");
	PGconn *w = it_connect("postgres", NULL, "postgres");
	it_exec_ok(holder, "BEGIN");
	it_exec_ok(holder, "SELECT 1"); /* the oltp lane's only server */
	int64_t t0 = it_now_ms();
	cr_assert(PQsendQuery(w, "SELECT 2"));
	const char *msg = expect_error_after(w, t0, "53300", 1950, 3000, "waiting on oltp");
	cr_expect_str_eq(msg, "query_wait_timeout: no server connection became free in lane "
	                      "\"oltp\" of database \"postgres\" within 2000 ms");
	cr_expect_eq(PQstatus(w), CONNECTION_OK, "the waiting client was disconnected");
	cr_expect_eq(PQtransactionStatus(w), PQTRANS_IDLE);
	/* The olap lane's message names it. */
	PGconn *olap_holder = it_connect("postgres", NULL, "postgres");
	it_exec_ok(olap_holder, "/* lane: olap */ BEGIN");
	t0 = it_now_ms();
	cr_assert(PQsendQuery(w, "/* lane: olap */ SELECT 2"));
	msg = expect_error_after(w, t0, "53300", 1950, 3000, "waiting on olap");
	cr_expect(strstr(msg, "lane \"olap\""), "message: %s", msg);
	it_exec_ok(olap_holder, "COMMIT");
	it_exec_ok(holder, "COMMIT");
	cr_expect_eq(it_query_ll(w, "SELECT 3"), 3, "the client cannot go on after the timeout");
	cr_expect_eq(it_query_ll(w, "/* lane: olap */ SELECT 4"), 4);
	PQfinish(olap_holder);
	PQfinish(w);
	PQfinish(holder);
}

IT_TEST(timeouts, query_wait_timeout_not_early)
{
	start_timeouts(NULL, NULL, "query_wait_timeout = \"2s\";");
	PGconn *holder = it_connect("postgres", NULL, "postgres");
	PGconn *w = it_connect("postgres", NULL, "postgres");
	for (int round = 0; round < 2; round++) {
		it_exec_ok(holder, "BEGIN");
		it_exec_ok(holder, "SELECT 1");
		int64_t t0 = it_now_ms();
		cr_assert(PQsendQuery(w, "SELECT 5"));
		it_sleep_ms(1200);
		cr_expect(PQconsumeInput(w) && PQisBusy(w),
		          "round %d: the waiter got an answer "
		          "while the server was held",
		          round);
		it_exec_ok(holder, "COMMIT");
		bool to;
		PGresult *r = it_result_wait(w, 5000, &to);
		int64_t took = it_now_ms() - t0;
		cr_expect(!to && PQresultStatus(r) == PGRES_TUPLES_OK,
		          "round %d: waiter after 1.2 s: %s %s", round, it_sqlstate(r),
		          r ? PQresultErrorMessage(r) : "timeout");
		cr_expect(took >= 1150 && took < 1900, "round %d: served after %lld ms", round,
		          (long long)took);
		PQclear(r);
	}
	PQfinish(w);
	PQfinish(holder);
}

static void notice_count(void *arg, const PGresult *r)
{
	(void)r;
	atomic_fetch_add((atomic_int *)arg, 1);
}

IT_TEST(timeouts, waiting_client_cancel_leaves_queue)
{
	start_timeouts(NULL, NULL, "query_wait_timeout = \"20s\";");
	PGconn *holder = it_connect("postgres", NULL, "postgres");
	PGconn *w = it_connect("postgres", NULL, "postgres");
	PGconn *w2 = it_connect("postgres", NULL, "postgres");
	atomic_int notices = 0;
	PQsetNoticeReceiver(w, notice_count, &notices);
	it_exec_ok(holder, "BEGIN");
	it_exec_ok(holder, "SELECT 1");
	cr_assert(PQsendQuery(w, "SELECT 111"));
	it_sleep_ms(200);
	cr_assert(PQsendQuery(w2, "SELECT 333")); /* queued behind w */
	it_sleep_ms(300);
	PGcancel *k = PQgetCancel(w);
	cr_assert(k);
	char err[256] = "";
	int64_t t0 = it_now_ms();
	cr_assert(PQcancel(k, err, sizeof err), "PQcancel: %s", err);
	PQfreeCancel(k);
	const char *msg = expect_error_after(w, t0, "57014", 0, 1000, "cancel while waiting");
	cr_expect_str_eq(msg, "canceling statement due to user request");
	cr_expect_eq(PQtransactionStatus(w), PQTRANS_IDLE);
	/* w left the queue: when the server is free, its old query does not run and w2 gets
	 * the server. */
	it_exec_ok(holder, "COMMIT");
	bool to;
	PGresult *r = it_result_wait(w2, 5000, &to);
	cr_expect(!to && PQresultStatus(r) == PGRES_TUPLES_OK, "w2 behind the cancelled waiter: %s",
	          r ? PQresultErrorMessage(r) : "timeout");
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
		cr_expect_str_eq(PQgetvalue(r, 0, 0), "333");
	PQclear(r);
	it_sleep_ms(500);
	cr_expect(PQconsumeInput(w) && !PQisBusy(w));
	cr_expect_eq(atomic_load(&notices), 0,
	             "w got messages after its cancel (its old query "
	             "ran?)");
	cr_expect_eq(it_query_ll(w, "SELECT 222"), 222, "w cannot go on after its cancel");
	cr_expect_eq(it_query_ll(w, "SELECT 223"), 223);
	PQfinish(w2);
	PQfinish(w);
	PQfinish(holder);
}

/* ---- client_login_timeout ---- */

/* Read everything until the peer closes; bytes into buf (NUL-terminated, binary kept).
 * Returns the milliseconds it took, -1 when still open after timeout_ms. */
static int read_until_closed(int fd, int timeout_ms, char *buf, size_t cap, size_t *len)
{
	int64_t t0 = it_now_ms();
	*len = 0;
	for (;;) {
		int left = timeout_ms - (int)(it_now_ms() - t0);
		if (left <= 0)
			return -1;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, left) <= 0)
			continue;
		char tmp[1024];
		ssize_t n = recv(fd, tmp, sizeof tmp, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (int)(it_now_ms() - t0);
		size_t k = (size_t)n < cap - 1 - *len ? (size_t)n : cap - 1 - *len;
		memcpy(buf + *len, tmp, k);
		*len += k;
		buf[*len] = '\0';
	}
}

static bool has_bytes(const char *buf, size_t len, const char *s)
{
	return memmem(buf, len, s, strlen(s)) != NULL;
}

/* A StartupMessage for `user` on database postgres into buf; its length. */
static size_t startup_packet(char *buf, const char *user)
{
	size_t n = 8;
	const char *kv[] = {"user", user, "database", "postgres"};
	for (int i = 0; i < 4; i++) {
		strcpy(buf + n, kv[i]);
		n += strlen(kv[i]) + 1;
	}
	buf[n++] = '\0';
	uint32_t be = htonl((uint32_t)n), version = htonl(3u << 16);
	memcpy(buf, &be, 4);
	memcpy(buf + 4, &version, 4);
	return n;
}

#define LOGIN_CONF                                                                                 \
	"pool = { mode = \"transaction\"; size = 2; client_login_timeout = \"1s\"; "               \
	"};\n" IT_DATABASES

IT_TEST(timeouts, client_login_timeout_drops_silent_clients)
{
	struct it_pglane *p = it_pglane_start("auth = { type = \"trust\"; };\n" LOGIN_CONF);
	char buf[2048];
	size_t len;
	int silent = it_tcp_connect(p->port);
	int half = it_tcp_connect(p->port);
	char pkt[256];
	size_t n = startup_packet(pkt, "postgres");
	cr_assert_eq(send(half, pkt, n / 2, MSG_NOSIGNAL), (ssize_t)(n / 2));
	int took = read_until_closed(silent, 5000, buf, sizeof buf, &len);
	cr_expect(took >= 900 && took <= 2000, "a silent client was dropped after %d ms (1 s)",
	          took);
	close(silent);
	took = read_until_closed(half, 5000, buf, sizeof buf, &len);
	cr_expect(took >= 0 && took <= 2000,
	          "a client with half a startup packet: closed after %d ms", took);
	cr_expect(has_bytes(buf, len, "08P01") && has_bytes(buf, len, "client_login_timeout"),
	          "half a startup packet: no FATAL 08P01 client_login_timeout (%zu bytes)", len);
	close(half);
	cr_expect(it_pglane_alive());
	PGconn *c = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(c, "SELECT 1"), 1);
	PQfinish(c);
}

IT_TEST(timeouts, client_login_timeout_drops_unfinished_auth)
{
	struct it_pglane *p = it_pglane_start_with_users(
	        "auth = { type = \"scram-sha-256\"; file = \"users.txt\"; };\n" LOGIN_CONF,
	        "\"scram_user\" \"scram_pw\"\n");
	int fd = it_tcp_connect(p->port);
	char pkt[256], buf[2048];
	size_t n = startup_packet(pkt, "scram_user"), len;
	cr_assert_eq(send(fd, pkt, n, MSG_NOSIGNAL), (ssize_t)n);
	int took = read_until_closed(fd, 5000, buf, sizeof buf, &len);
	cr_expect(took >= 800 && took <= 2000, "a client stuck in SCRAM dropped after %d ms", took);
	cr_expect(len > 0 && buf[0] == 'R', "no authentication request first");
	cr_expect(has_bytes(buf, len, "08P01") && has_bytes(buf, len, "client_login_timeout"),
	          "no FATAL 08P01 client_login_timeout after the SASL request (%zu bytes)", len);
	close(fd);
}

IT_TEST(timeouts, client_login_timeout_not_early)
{
	struct it_pglane *p = it_pglane_start("auth = { type = \"trust\"; };\n" LOGIN_CONF);
	int fd = it_tcp_connect(p->port);
	it_sleep_ms(500);
	char pkt[256];
	size_t n = startup_packet(pkt, "postgres");
	cr_assert_eq(send(fd, pkt, n, MSG_NOSIGNAL), (ssize_t)n);
	/* Logged in by 0.5 s: the login timeout no longer applies, at 1.8 s it still works. */
	it_sleep_ms(1300);
	static const char query[] = "Q\0\0\0\x0dSELECT 1\0";
	cr_assert_eq(send(fd, query, sizeof query - 1, MSG_NOSIGNAL), (ssize_t)(sizeof query - 1));
	char buf[4096];
	size_t len = 0;
	int64_t deadline = it_now_ms() + 5000;
	bool ready_twice = false;
	while (!ready_twice && it_now_ms() < deadline) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, 100) <= 0)
			continue;
		ssize_t got = recv(fd, buf + len, sizeof buf - 1 - len, 0);
		if (got <= 0)
			break;
		len += (size_t)got;
		/* ReadyForQuery 'I' after login and after the query */
		int z = 0;
		for (size_t i = 0; i + 5 < len; i++)
			z += memcmp(buf + i, "Z\0\0\0\x05I", 6) == 0;
		ready_twice = z >= 2;
	}
	cr_expect(ready_twice, "login at 0.5 s, query at 1.8 s: no answer (%zu bytes)", len);
	cr_expect(!has_bytes(buf, len, "client_login_timeout"), "dropped by client_login_timeout");
	close(fd);
	/* A libpq client idle after login is not dropped either. */
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_sleep_ms(1500);
	cr_expect_eq(it_query_ll(c, "SELECT 1"), 1);
	PQfinish(c);
}

/* ---- server_connect_timeout ---- */

/* A login not finished within server_connect_timeout is a transient failure (issue 18): it is
 * tried again while the client waits, and the client is told at query_wait_timeout, with the
 * login's error. */
IT_TEST(timeouts, server_connect_timeout_fires)
{
	int port;
	int lfd = it_listen_local(&port); /* accepts (the kernel does), never says anything */
	start_with_fake(port, "server_connect_timeout = \"1s\"; query_wait_timeout = \"2500ms\";",
	                NULL);
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "fake",
	            NULL);
	int64_t t0 = it_now_ms();
	PGconn *c = it_connect_try(ci);
	char msg[512];
	if (PQstatus(c) != CONNECTION_OK) { /* pglane may need a server to finish the login */
		snprintf(msg, sizeof msg, "%s", it_conn_error(c));
	} else {
		cr_assert(PQsendQuery(c, "SELECT 1"));
		bool to;
		PGresult *r = it_result_wait(c, 10000, &to);
		cr_assert(!to, "still waiting 10 s after server_connect_timeout 1s");
		cr_expect_neq(PQresultStatus(r), PGRES_TUPLES_OK, "a query ran on a mute server");
		snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
		PQclear(r);
	}
	int64_t took = it_now_ms() - t0;
	cr_expect(strstr(msg, "server_connect_timeout"), "error: %s", msg);
	cr_expect(took >= 2400 && took <= 4500,
	          "error after %lld ms (server_connect_timeout 1s, query_wait_timeout 2.5 s)",
	          (long long)took);
	cr_log_info("server_connect_timeout: %lld ms: %s", (long long)took, msg);
	PQfinish(c);
	PGconn *ok = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(ok, "SELECT 1"), 1, "other databases are affected");
	PQfinish(ok);
	close(lfd);
}

IT_TEST(timeouts, server_connect_timeout_not_early)
{
	struct fake *f = fake_start(700, false); /* answers a login after 0.7 s */
	start_with_fake(f->port, "server_connect_timeout = \"2s\"; query_wait_timeout = \"10s\";",
	                NULL);
	int64_t t0 = it_now_ms();
	PGconn *c = it_connect("postgres", NULL, "fake");
	char *v = it_query_str(c, "SELECT 1");
	int64_t took = it_now_ms() - t0;
	cr_expect_str_eq(v, "fake", "the slow server's answer");
	cr_expect_geq(took, 650,
	              "the server answered its login after 0.7 s, but the query took "
	              "only %lld ms",
	              (long long)took);
	cr_expect_geq(atomic_load(&f->conns), 1);
	free(v);
	PQfinish(c);
}

/* tests/integration/test_pooling.c — pooling semantics: session mode keeps a backend per client
 * and resets it on release; transaction mode shares backends between transactions and never
 * inside one; 500 clients over a pool of 10; pool limits (size, min_size, max_client_conn);
 * query_wait_timeout; dead, idle and old server connections replaced. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

TestSuite(pooling, .fini = it_pglane_fini, .timeout = 90);

/* pglane with auth trust for clients and scram_user's password for the server, so that the
 * backends of a test can be counted by user name. */
static struct it_pglane *start_scram_user_pool(const char *mode, int size, const char *pool_extra)
{
	char conf[2048];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; file = \"users.txt\"; };\n"
	         "pool = { mode = \"%s\"; size = %d; %s };\n" IT_DATABASES,
	         mode, size, pool_extra ? pool_extra : "");
	/* Backends left by an earlier test's pglane go away once its sockets are closed. */
	int left = 0;
	cr_assert_geq(it_wait_backends(NULL, 0, 5000, NULL, "scram_user", NULL, NULL, &left), 0,
	              "%d scram_user backends left over from an earlier test", left);
	return it_pglane_start_with_users(conf, "\"scram_user\" \"scram_pw\"\n");
}

static long long backend_pid(PGconn *c)
{
	return it_query_ll(c, "SELECT pg_backend_pid()");
}

IT_TEST(pooling, session_backend_stable)
{
	it_pglane_start_simple("session", 2, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	long long pa = backend_pid(a), pb = backend_pid(b);
	cr_expect_neq(pa, pb, "two session clients share backend %lld", pa);
	for (int i = 0; i < 5; i++) {
		it_exec_ok(a, "BEGIN");
		cr_expect_eq(backend_pid(a), pa,
		             "round %d: session client moved to another backend", i);
		it_exec_ok(a, "COMMIT");
		cr_expect_eq(backend_pid(b), pb);
		cr_expect_eq(backend_pid(a), pa);
	}
	PQfinish(b);
	PQfinish(a);
}

IT_TEST(pooling, session_set_persists)
{
	it_pglane_start_simple("session", 2, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	it_exec_ok(a, "SET work_mem = '12MB'");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	for (int i = 0; i < 3; i++) {
		it_exec_ok(b, "SELECT 1");
		it_exec_ok(a, "BEGIN; SELECT 1; COMMIT");
	}
	char *v = it_query_str(a, "SHOW work_mem");
	cr_expect_str_eq(v, "12MB");
	free(v);
	v = it_query_str(b, "SHOW work_mem");
	cr_expect_str_eq(v, "4MB", "the other client sees the SET: %s", v);
	free(v);
	PQfinish(b);
	PQfinish(a);
}

IT_TEST(pooling, session_server_reset_on_release)
{
	it_pglane_start_simple("session", 1, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	long long pa = backend_pid(a);
	it_exec_ok(a, "SET work_mem = '12MB'");
	it_exec_ok(a, "CREATE TEMP TABLE it_reset_tmp (x int)");
	it_exec_ok(a, "PREPARE it_reset_stmt AS SELECT 1");
	PQfinish(a);

	PGconn *b = it_connect("postgres", NULL, "postgres");
	long long pb = backend_pid(b);
	cr_expect_eq(pb, pa, "pool of 1: the next client should reuse backend %lld, got %lld", pa,
	             pb);
	char *v = it_query_str(b, "SHOW work_mem");
	cr_expect_str_eq(v, "4MB", "SET of the previous client survived the release");
	free(v);
	cr_expect_eq(it_query_ll(b, "SELECT count(*) FROM pg_prepared_statements"), 0);
	cr_expect_eq(it_query_ll(b, "SELECT count(*) FROM pg_class WHERE relname = 'it_reset_tmp'"),
	             0, "temp table of the previous client survived the release");
	PQfinish(b);
}

IT_TEST(pooling, transaction_clients_share_backend)
{
	it_pglane_start_simple("transaction", 1, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	long long first = backend_pid(a);
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(backend_pid(b), first, "round %d: b", i);
		it_exec_ok(a, "BEGIN");
		cr_expect_eq(backend_pid(a), first, "round %d: a", i);
		it_exec_ok(a, "COMMIT");
	}
	PQfinish(b);
	PQfinish(a);
}

IT_TEST(pooling, transaction_keeps_backend_throughout)
{
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	it_exec_ok(a, "BEGIN");
	long long pa = backend_pid(a);
	long long xa = it_query_ll(a, "SELECT txid_current()");
	for (int i = 0; i < 5; i++) {
		/* b runs between a's statements: it must get the other backend. */
		it_exec_ok(b, "BEGIN");
		long long pb = backend_pid(b);
		cr_expect_neq(pb, pa, "b got the backend of a's open transaction");
		it_exec_ok(b, "COMMIT");
		cr_expect_eq(backend_pid(a), pa,
		             "statement %d of a's transaction on another backend", i);
		cr_expect_eq(it_query_ll(a, "SELECT txid_current()"), xa);
	}
	cr_expect_eq(PQtransactionStatus(a), PQTRANS_INTRANS);
	it_exec_ok(a, "COMMIT");
	cr_expect_eq(PQtransactionStatus(a), PQTRANS_IDLE);
	PQfinish(b);
	PQfinish(a);
}

static void expect_show(PGconn *c, const char *what, const char *want, const char *who)
{
	char sql[64];
	snprintf(sql, sizeof sql, "SHOW %s", what);
	char *v = it_query_str(c, sql);
	cr_expect_str_eq(v, want, "%s sees %s = %s", who, what, v);
	free(v);
}

IT_TEST(pooling, transaction_tracked_parameters)
{
	it_pglane_start_simple("transaction", 1, NULL);
	PGconn *a = it_connect_app("postgres", NULL, "postgres", "it_a");
	PGconn *b = it_connect_app("postgres", NULL, "postgres", "it_b");
	it_exec_ok(a, "SET TimeZone = 'Asia/Tokyo'");
	it_exec_ok(b, "SET TimeZone = 'America/New_York'");
	it_exec_ok(a, "SET DateStyle = 'SQL, DMY'");
	/* One server: each client must still see only what it set itself. */
	for (int i = 0; i < 3; i++) {
		expect_show(a, "TimeZone", "Asia/Tokyo", "a");
		expect_show(b, "TimeZone", "America/New_York", "b");
		expect_show(a, "application_name", "it_a", "a");
		expect_show(b, "application_name", "it_b", "b");
		expect_show(a, "DateStyle", "SQL, DMY", "a");
		expect_show(b, "DateStyle", "ISO, MDY", "b");
	}
	const char *tz = PQparameterStatus(a, "TimeZone");
	cr_expect(tz && strcmp(tz, "Asia/Tokyo") == 0, "a's ParameterStatus TimeZone: %s",
	          tz ? tz : "(none)");
	tz = PQparameterStatus(b, "TimeZone");
	cr_expect(tz && strcmp(tz, "America/New_York") == 0, "b's ParameterStatus TimeZone: %s",
	          tz ? tz : "(none)");
	PQfinish(b);
	PQfinish(a);
}

/* ---- 500 clients over a pool of 10 ---- */

#define MANY_CLIENTS 500
#define MANY_QUERIES 3

struct many {
	int port;
	pthread_barrier_t barrier;
	atomic_int ok, failed, done;
	atomic_int npids;
	int pids[MANY_CLIENTS * MANY_QUERIES];
	pthread_mutex_t lock;
	char first_error[512];
};

static void many_error(struct many *m, const char *what, const char *msg)
{
	pthread_mutex_lock(&m->lock);
	if (!m->first_error[0])
		snprintf(m->first_error, sizeof m->first_error, "%s: %s", what, msg);
	pthread_mutex_unlock(&m->lock);
}

static void *many_client(void *arg)
{
	struct many *m = arg;
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, m->port, "scram_user", NULL, "postgres",
	            "application_name=it_many");
	PGconn *c = it_connect_try(ci);
	bool good = PQstatus(c) == CONNECTION_OK;
	if (!good)
		many_error(m, "connect", it_conn_error(c));
	/* Everyone connected (or failed) before anyone queries: 500 clients at once. */
	pthread_barrier_wait(&m->barrier);
	for (int i = 0; good && i < MANY_QUERIES; i++) {
		PGresult *r = PQexec(c, "SELECT pg_backend_pid(), pg_sleep(0.01)");
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
			many_error(m, "query", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
			good = false;
		} else {
			int k = atomic_fetch_add(&m->npids, 1);
			if (k < MANY_CLIENTS * MANY_QUERIES)
				m->pids[k] = atoi(PQgetvalue(r, 0, 0));
		}
		PQclear(r);
	}
	PQfinish(c);
	atomic_fetch_add(good ? &m->ok : &m->failed, 1);
	atomic_fetch_add(&m->done, 1);
	return NULL;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

IT_TEST(pooling, five_hundred_clients_over_pool_of_ten, .timeout = 180)
{
	struct it_pglane *p =
	        start_scram_user_pool("transaction", 10, "query_wait_timeout = \"60s\";");
	struct many *m = calloc(1, sizeof *m);
	cr_assert(m);
	m->port = p->port;
	pthread_mutex_init(&m->lock, NULL);
	pthread_barrier_init(&m->barrier, NULL, MANY_CLIENTS);
	PGconn *admin = it_connect_admin();

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1 << 20);
	pthread_t *threads = calloc(MANY_CLIENTS, sizeof *threads);
	cr_assert(threads);
	int started = 0;
	for (; started < MANY_CLIENTS; started++) {
		if (pthread_create(&threads[started], &attr, many_client, m) != 0)
			break;
	}
	pthread_attr_destroy(&attr);
	cr_assert_eq(started, MANY_CLIENTS, "could only start %d threads", started);

	/* Sample PostgreSQL while they run: never more than the pool's 10 backends. */
	int max_backends = 0, samples = 0;
	int64_t deadline = it_now_ms() + 120000;
	while (atomic_load(&m->done) < MANY_CLIENTS && it_now_ms() < deadline) {
		int n = it_count_backends(admin, NULL, "scram_user", NULL, NULL);
		if (n > max_backends)
			max_backends = n;
		samples++;
		it_sleep_ms(20);
	}
	bool all_done = atomic_load(&m->done) == MANY_CLIENTS;
	for (int i = 0; all_done && i < MANY_CLIENTS; i++)
		pthread_join(threads[i], NULL);
	cr_assert(all_done, "only %d of %d clients finished within 120 s", atomic_load(&m->done),
	          MANY_CLIENTS);

	int npids = atomic_load(&m->npids);
	qsort(m->pids, (size_t)npids, sizeof m->pids[0], cmp_int);
	int distinct = 0;
	for (int i = 0; i < npids; i++)
		distinct += i == 0 || m->pids[i] != m->pids[i - 1];

	cr_expect_eq(atomic_load(&m->ok), MANY_CLIENTS, "%d clients failed; first error: %s",
	             atomic_load(&m->failed), m->first_error);
	cr_expect_eq(npids, MANY_CLIENTS * MANY_QUERIES);
	cr_expect_leq(max_backends, 10, "PostgreSQL showed %d scram_user backends", max_backends);
	cr_expect_geq(max_backends, 1, "no backend seen in %d samples", samples);
	cr_expect_leq(distinct, 10, "the clients ran on %d different backends", distinct);
	pthread_barrier_destroy(&m->barrier);
	pthread_mutex_destroy(&m->lock);
	free(threads);
	free(m);
	PQfinish(admin);
}

IT_TEST(pooling, query_wait_timeout_names_lane)
{
	it_pglane_start_simple("transaction", 1, "query_wait_timeout = \"1s\";");
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	it_exec_ok(a, "BEGIN");
	it_exec_ok(a, "SELECT 1"); /* a holds the only server */

	int64_t t0 = it_now_ms();
	cr_assert(PQsendQuery(b, "SELECT 2"), "%s", PQerrorMessage(b));
	bool timed_out;
	PGresult *r = it_result_wait(b, 10000, &timed_out);
	int64_t took = it_now_ms() - t0;
	cr_assert(!timed_out, "b still waiting after 10 s (query_wait_timeout is 1s)");
	char msg[512];
	snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(b));
	cr_expect(!r || PQresultStatus(r) == PGRES_FATAL_ERROR, "b's query succeeded: %s",
	          PQresStatus(PQresultStatus(r)));
	cr_expect(strstr(msg, "oltp"), "error does not name the lane: %s", msg);
	cr_expect(took >= 800 && took <= 3500, "b failed after %lld ms (timeout 1s)",
	          (long long)took);
	cr_log_info("query_wait_timeout: after %lld ms, SQLSTATE %s: %s", (long long)took,
	            it_sqlstate(r), msg);
	PQclear(r);

	it_exec_ok(a, "COMMIT");
	if (PQstatus(b) == CONNECTION_OK && PQtransactionStatus(b) == PQTRANS_IDLE) {
		cr_expect_eq(it_query_ll(b, "SELECT 3"), 3);
	} else {
		cr_log_info("pglane closed the client after query_wait_timeout; reconnecting");
		PQfinish(b);
		b = it_connect("postgres", NULL, "postgres");
		cr_expect_eq(it_query_ll(b, "SELECT 3"), 3);
	}
	cr_expect_eq(it_query_ll(a, "SELECT 4"), 4);
	PQfinish(b);
	PQfinish(a);
}

IT_TEST(pooling, dead_server_replaced)
{
	it_pglane_start_simple("transaction", 1, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *c = it_connect("postgres", NULL, "postgres");
	long long pid = backend_pid(c);
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)", pid);
	char *v = it_query_str(admin, sql);
	cr_assert_str_eq(v, "t");
	free(v);
	/* Wait until the backend is gone. */
	snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld", pid);
	int64_t deadline = it_now_ms() + 5000;
	while (it_query_ll(admin, sql) != 0 && it_now_ms() < deadline)
		it_sleep_ms(20);
	cr_assert_eq(it_query_ll(admin, sql), 0, "backend %lld still there", pid);

	/* The next query must run on a new backend; at most one error is tolerated, if pglane
	 * had not yet noticed the death (it should have: the backend closed its socket). */
	PGresult *r = PQexec(c, "SELECT pg_backend_pid()");
	int errors = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		errors++;
		cr_log_warn("first query after the backend died failed: %s %s", it_sqlstate(r),
		            PQresultErrorMessage(r));
		PQclear(r);
		if (PQstatus(c) != CONNECTION_OK) {
			PQfinish(c);
			c = it_connect("postgres", NULL, "postgres");
		}
		r = PQexec(c, "SELECT pg_backend_pid()");
	}
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "query after the backend died: %s",
	             PQresultErrorMessage(r));
	long long pid2 = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	cr_expect_neq(pid2, pid, "still on the terminated backend");
	cr_expect_eq(errors, 0, "a dead server connection was handed to the client");
	/* And it keeps working. */
	cr_expect_eq(backend_pid(c), pid2);
	PQfinish(c);
	PQfinish(admin);
}

IT_TEST(pooling, min_size_kept_open)
{
	start_scram_user_pool("transaction", 5, "min_size = 3;");
	PGconn *c = it_connect("scram_user", NULL, "postgres");
	it_exec_ok(c, "SELECT 1");
	PGconn *admin = it_connect_admin();
	int n = 0;
	int64_t deadline = it_now_ms() + 5000;
	while (it_now_ms() < deadline) {
		n = it_count_backends(admin, NULL, "scram_user", NULL, NULL);
		if (n >= 3)
			break;
		it_sleep_ms(50);
	}
	cr_expect(n >= 3 && n <= 5, "min_size 3, size 5: %d backends after 5 s", n);
	PQfinish(admin);
	PQfinish(c);
}

IT_TEST(pooling, pool_size_is_a_limit)
{
	start_scram_user_pool("transaction", 2, "query_wait_timeout = \"10s\";");
	PGconn *admin = it_connect_admin();
	PGconn *c[4];
	for (int i = 0; i < 4; i++)
		c[i] = it_connect("scram_user", NULL, "postgres");
	/* Four clients run pg_sleep(1) at once over two servers: two must wait. */
	for (int i = 0; i < 4; i++)
		cr_assert(PQsendQuery(c[i], "SELECT pg_sleep(1)"));
	it_sleep_ms(400);
	int active = it_count_backends(admin, "active", "scram_user", NULL, "SELECT pg_sleep(1)%");
	int all = it_count_backends(admin, NULL, "scram_user", NULL, NULL);
	cr_expect_eq(active, 2, "%d sleeping backends with pool size 2", active);
	cr_expect_leq(all, 2, "%d backends with pool size 2", all);
	for (int i = 0; i < 4; i++) {
		bool to;
		PGresult *r = it_result_wait(c[i], 10000, &to);
		cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK, "client %d: %s", i,
		             r ? PQresultErrorMessage(r) : PQerrorMessage(c[i]));
		PQclear(r);
		PQfinish(c[i]);
	}
	PQfinish(admin);
}

IT_TEST(pooling, max_client_conn)
{
	it_pglane_start("listen = { host = \"127.0.0.1\"; port = @PORT@; max_client_conn = 3; };\n"
	                "auth = { type = \"trust\"; };\n"
	                "pool = { mode = \"transaction\"; size = 2; };\n" IT_DATABASES);
	PGconn *c[3];
	for (int i = 0; i < 3; i++)
		c[i] = it_connect("postgres", NULL, "postgres");
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "postgres",
	            NULL);
	PGconn *extra = it_connect_try(ci);
	cr_expect_neq(PQstatus(extra), CONNECTION_OK, "a 4th client got in with max_client_conn 3");
	cr_log_info("4th client: %s", it_conn_error(extra));
	PQfinish(extra);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(it_query_ll(c[i], "SELECT 1"), 1);
	PQfinish(c[0]);
	/* A slot is free again (pglane may take a moment to notice the close). */
	PGconn *again = NULL;
	int64_t deadline = it_now_ms() + 3000;
	for (;;) {
		again = it_connect_try(ci);
		if (PQstatus(again) == CONNECTION_OK || it_now_ms() > deadline)
			break;
		PQfinish(again);
		it_sleep_ms(100);
	}
	cr_expect_eq(PQstatus(again), CONNECTION_OK, "no slot after a client left: %s",
	             it_conn_error(again));
	PQfinish(again);
	PQfinish(c[1]);
	PQfinish(c[2]);
}

IT_TEST(pooling, server_idle_timeout_closes_servers)
{
	start_scram_user_pool("transaction", 3, "server_idle_timeout = \"1s\";");
	PGconn *c[3];
	for (int i = 0; i < 3; i++) {
		c[i] = it_connect("scram_user", NULL, "postgres");
		it_exec_ok(c[i], "BEGIN");
		it_exec_ok(c[i], "SELECT 1");
	}
	PGconn *admin = it_connect_admin();
	cr_expect_eq(it_count_backends(admin, NULL, "scram_user", NULL, NULL), 3);
	for (int i = 0; i < 3; i++)
		it_exec_ok(c[i], "COMMIT");
	int left = 0;
	int took = it_wait_backends(admin, 0, 8000, NULL, "scram_user", NULL, NULL, &left);
	cr_expect_geq(took, 0, "server_idle_timeout 1s: %d idle backends still open after 8 s",
	              left);
	/* The clients are still connected and get new servers. */
	for (int i = 0; i < 3; i++) {
		cr_expect_eq(it_query_ll(c[i], "SELECT 5"), 5);
		PQfinish(c[i]);
	}
	PQfinish(admin);
}

IT_TEST(pooling, server_lifetime_replaces_servers)
{
	it_pglane_start_simple("transaction", 1, "server_lifetime = \"1s\";");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	long long first = backend_pid(c), now = first;
	int64_t deadline = it_now_ms() + 8000;
	while (now == first && it_now_ms() < deadline) {
		it_sleep_ms(250);
		now = backend_pid(c);
	}
	cr_expect_neq(now, first, "server_lifetime 1s: still on backend %lld after 8 s", first);
	PQfinish(c);
}

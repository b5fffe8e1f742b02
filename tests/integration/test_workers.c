/* tests/integration/test_workers.c — workers = 2 (issue 19) seen from real libpq clients and
 * the test PostgreSQL: pool size and max_db_connections bound the whole process (counted in
 * pg_stat_activity, the extra clients wait, a COMMIT lets exactly one on); one server shared
 * by 8 clients starves nobody (and a pinned client does not either); the console and /metrics
 * add up both workers; an idle server moves to the other worker's client at once, clean; a
 * cancel reaches the client's worker whatever worker accepts it; SET, RELOAD, PAUSE, RESUME
 * and KILL_CLIENT act on both workers; max_client_conn bounds the process; each worker's
 * janitor closes its idle servers; SHOW POOLS / STATS have the same columns and one row per
 * pool with 1 and 2 workers.
 *
 * The workers race to accept from one listening socket; the worker that owns a client is read
 * from the cancel pid pglane gave it (PQbackendPID, proxy/cancel.h), and every test makes sure
 * its clients are on both workers (opening more when they are not) and takes them in turn
 * from each. Every config names `workers = 2` itself (the harness's default does not apply). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"
#include "tests/integration/prom.h"
#include "tests/integration/wclients.h"

TestSuite(workers, .fini = it_pglane_fini, .timeout = 60);

/* Server passwords of the fixture roles (auth trust for the clients). */
#define W_USERS "\"scram_user\" \"scram_pw\"\n\"md5_user\" \"md5_pw\"\n"

static int bench_gone(PGconn *admin, int timeout_ms, int *last);

/* pglane with `workers` loops, the console (admin), HTTP on *http when http is not NULL, and
 * pool = { transaction; POOL }; database bench gets the keys `db`. */
static void start_w(int workers, const char *pool, const char *db, int *http)
{
	char conf[2048], adm[128];
	if (http) {
		*http = it_http_port();
		snprintf(adm, sizeof adm, "admin = { users = [ \"admin\" ]; http_port = %d; };\n",
		         *http);
	} else {
		snprintf(adm, sizeof adm, "admin = { users = [ \"admin\" ]; };\n");
	}
	snprintf(
	        conf, sizeof conf,
	        "workers = %d;\n"
	        "auth = { type = \"trust\"; file = \"users.txt\"; };\n%s"
	        "pool = { mode = \"transaction\"; query_wait_timeout = \"30s\"; %s };\n"
	        "databases = ( { name = \"bench\"; host = \"@PGHOST@\"; port = @PGPORT@; %s },\n"
	        "              { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; } );\n",
	        workers, adm, pool, db ? db : "");
	/* Backends of an earlier test's pglane go away once its sockets are closed. */
	PGconn *admin = it_connect_admin();
	int left = 0;
	cr_assert_geq(bench_gone(admin, 5000, &left), 0,
	              "%d backends of bench left over from an earlier test", left);
	PQfinish(admin);
	it_pglane_start_with_users(conf, W_USERS);
	if (http)
		it_wait_port(*http);
}

/* Client backends of database bench on the test server matching `where` (SQL on
 * pg_stat_activity, "true" for all), in one snapshot. */
static int bench_backends(PGconn *admin, const char *where)
{
	char sql[512];
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
	         "AND datname = 'bench' AND pid <> pg_backend_pid() AND (%s)",
	         where);
	return (int)it_query_ll(admin, sql);
}

/* Poll until no backend of bench is left (timeout_ms at most): the milliseconds it took, or
 * -1 (the last count in *last). */
static int bench_gone(PGconn *admin, int timeout_ms, int *last)
{
	int64_t t0 = it_now_ms();
	for (;;) {
		*last = bench_backends(admin, "true");
		if (*last == 0)
			return (int)(it_now_ms() - t0);
		if (it_now_ms() - t0 >= timeout_ms)
			return -1;
		it_sleep_ms(20);
	}
}

static int count_finished(PGconn **c, int from, int to)
{
	int n = 0;
	for (int i = from; i < to; i++)
		n += wclients_finished(c[i]);
	return n;
}

/* Sample bench_backends(where) every 20 ms for `ms`: the highest count seen. */
static int max_backends(PGconn *admin, const char *where, int ms)
{
	int max = 0;
	int64_t until = it_now_ms() + ms;
	while (it_now_ms() < until) {
		int n = bench_backends(admin, where);
		if (n > max)
			max = n;
		it_sleep_ms(20);
	}
	return max;
}

static void cmd_ok(PGconn *a, const char *sql)
{
	PGresult *r = PQexec(a, sql);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "`%s`: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
}

/* The first `bound` clients open a transaction and hold a server; the others send the same
 * and must wait: never more than `bound` backends of bench for 1 s, none of the others
 * answered. A COMMIT on client 0 lets exactly one of them on. */
static void hold_bound(PGconn **c, int n, int bound, const char *what)
{
	PGconn *admin = it_connect_admin();
	for (int i = 0; i < bound; i++) {
		it_exec_ok(c[i], "BEGIN");
		it_exec_ok(c[i], "SELECT pg_backend_pid()");
	}
	for (int i = bound; i < n; i++)
		cr_assert(PQsendQuery(c[i], "BEGIN; SELECT pg_backend_pid()"), "%s",
		          PQerrorMessage(c[i]));
	int max = max_backends(admin, "true", 1000);
	cr_log_info("%s: %d clients, at most %d backends of bench in 1 s", what, n, max);
	cr_expect_eq(max, bound, "%s: %d backends of bench, the bound is %d", what, max, bound);
	cr_expect_eq(count_finished(c, bound, n), 0, "%s: a client over the bound was answered",
	             what);
	it_exec_ok(c[0], "COMMIT");
	int64_t t0 = it_now_ms();
	while (count_finished(c, bound, n) < 1 && it_now_ms() - t0 < 3000)
		it_sleep_ms(10);
	int took = (int)(it_now_ms() - t0);
	it_sleep_ms(300);
	int done = count_finished(c, bound, n);
	cr_log_info("%s: one COMMIT, a waiter went on after %d ms; %d went on", what, took, done);
	cr_expect_eq(done, 1, "%s: %d waiters went on after one COMMIT", what, done);
	cr_expect_leq(max_backends(admin, "true", 200), bound, "%s: over the bound", what);
	PQfinish(admin);
}

IT_TEST(workers, size_bounds_the_whole_process)
{
	start_w(2, "size = 3;", NULL, NULL);
	PGconn *c[12];
	wclients_connect_both(c, 12, "postgres", NULL, "bench");
	hold_bound(c, 12, 3, "size = 3");
	for (int i = 0; i < 12; i++)
		PQfinish(c[i]);
}

IT_TEST(workers, max_db_connections_bounds_two_users)
{
	start_w(2, "size = 10;", "max_db_connections = 2;", NULL);
	PGconn *c[8], *s[4], *m[4];
	wclients_connect_both(s, 4, "scram_user", "scram_pw", "bench");
	wclients_connect_both(m, 4, "md5_user", "md5_pw", "bench");
	for (int i = 0; i < 4; i++) {
		c[2 * i] = s[i];
		c[2 * i + 1] = m[i];
	}
	hold_bound(c, 8, 2, "max_db_connections = 2");
	for (int i = 0; i < 8; i++)
		PQfinish(c[i]);
}

/* A client running `ntx` transactions of BEGIN / SELECT 1 / COMMIT, one statement at a time. */
struct txc {
	PGconn *c;
	int txn, step;
	bool busy;
	int64_t t0;
};

static const char *const TX_STEPS[] = {"BEGIN", "SELECT 1", "COMMIT"};

static void txc_send(struct txc *t)
{
	if (t->step == 0)
		t->t0 = it_now_ms();
	cr_assert(PQsendQuery(t->c, TX_STEPS[t->step]), "%s", PQerrorMessage(t->c));
	t->busy = true;
}

/* The statement on `t` finished: next step; the transaction's duration into *max_ms. */
static void txc_done(struct txc *t, int *failed, int *max_ms)
{
	PGresult *r;
	while ((r = PQgetResult(t->c)) != NULL) {
		ExecStatusType st = PQresultStatus(r);
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			cr_log_error("%s: %s", TX_STEPS[t->step], PQresultErrorMessage(r));
			(*failed)++;
		}
		PQclear(r);
	}
	t->busy = false;
	if (++t->step < 3)
		return;
	int ms = (int)(it_now_ms() - t->t0);
	if (ms > *max_ms)
		*max_ms = ms;
	t->step = 0;
	t->txn++;
}

/* Run `ntx` transactions on each of the n clients at once (20 s at most): the number of
 * transactions completed; failures into *failed, the longest transaction into *max_ms. */
static int run_txns(struct txc *t, int n, int ntx, int *failed, int *max_ms)
{
	int total = 0;
	int64_t until = it_now_ms() + 20000;
	while (total < n * ntx && it_now_ms() < until) {
		struct pollfd pf[W_MAX];
		for (int i = 0; i < n; i++) {
			if (!t[i].busy && t[i].txn < ntx)
				txc_send(&t[i]);
			pf[i].fd = t[i].busy ? PQsocket(t[i].c) : -1;
			pf[i].events = POLLIN;
		}
		poll(pf, (nfds_t)n, 20);
		total = 0;
		for (int i = 0; i < n; i++) {
			if (t[i].busy && wclients_finished(t[i].c))
				txc_done(&t[i], failed, max_ms);
			total += t[i].txn;
		}
	}
	return total;
}

static void no_starvation(int size, bool pinned, int n)
{
	char pool[64];
	snprintf(pool, sizeof pool, "size = %d;", size);
	start_w(2, pool, NULL, NULL);
	PGconn *pin = NULL;
	if (pinned) {
		pin = it_connect("postgres", NULL, "bench");
		it_exec_ok(pin, "SELECT pg_advisory_lock(1)");
	}
	struct txc t[W_MAX] = {0};
	PGconn *c[W_MAX];
	wclients_connect_both(c, n, "postgres", NULL, "bench");
	for (int i = 0; i < n; i++)
		t[i].c = c[i];
	int failed = 0, max_ms = 0;
	int64_t t0 = it_now_ms();
	int total = run_txns(t, n, 20, &failed, &max_ms);
	cr_log_info("size %d%s, %d clients: %d of %d transactions in %lld ms, longest %d ms, "
	            "%d failed",
	            size, pinned ? " + a pinned client" : "", n, total, n * 20,
	            (long long)(it_now_ms() - t0), max_ms, failed);
	cr_expect_eq(total, n * 20, "%d of %d transactions completed in 20 s", total, n * 20);
	cr_expect_eq(failed, 0, "%d statements failed", failed);
	PGconn *a = adminq_connect("admin");
	PGresult *r = adminq_show(a, "SHOW STATS");
	int row = adminq_find(r, "database", "bench", NULL, NULL);
	cr_assert_geq(row, 0, "SHOW STATS has no row of bench");
	long long xacts = adminq_cell_ll(r, row, "total_xact_count");
	cr_log_info("SHOW STATS: bench total_xact_count %lld", xacts);
	cr_expect_geq(xacts, n * 20, "SHOW STATS counts %lld transactions of %d", xacts, n * 20);
	PQclear(r);
	PQfinish(a);
	for (int i = 0; i < n; i++)
		PQfinish(t[i].c);
	if (pin) {
		cr_expect_eq(it_query_ll(pin, "SELECT count(*) FROM pg_locks WHERE "
		                              "locktype = 'advisory' AND pid = pg_backend_pid()"),
		             1, "the pinned client lost its session lock");
		it_exec_ok(pin, "SELECT pg_advisory_unlock(1)");
		PQfinish(pin);
	}
}

IT_TEST(workers, one_server_starves_nobody)
{
	no_starvation(1, false, 8);
}

IT_TEST(workers, a_pinned_client_starves_nobody)
{
	no_starvation(2, true, 6);
}

/* The SHOW POOLS value `col` of bench/postgres (lane oltp). */
static long long pool_val(PGconn *a, const char *col)
{
	return adminq_pool_value(a, "bench", "postgres", "oltp", col);
}

static double metric(const struct prom *m, const char *name)
{
	const char *kv[] = {"database", "bench", "user", "postgres", "lane", "oltp"};
	const struct prom_sample *s = prom_find(m, name, kv, 3);
	cr_assert(s, "no %s{database=\"bench\",user=\"postgres\",lane=\"oltp\"} in /metrics", name);
	return s->value;
}

IT_TEST(workers, console_and_metrics_add_up_every_worker)
{
	int http = 0;
	start_w(2, "size = 10;", NULL, &http);
	PGconn *c[10];
	wclients_connect_both(c, 10, "postgres", NULL, "bench");
	for (int i = 0; i < 10; i++)
		it_exec_ok(c[i], "SELECT 1");
	for (int i = 0; i < 4; i++)
		it_exec_ok(c[i], "BEGIN");
	for (int i = 0; i < 4; i++)
		it_exec_ok(c[i], "SELECT 1");
	it_sleep_ms(200);
	PGconn *a = adminq_connect("admin");
	PGresult *r = adminq_show(a, "SHOW CLIENTS");
	int mine = adminq_count(r, "user", "postgres", "database", "bench");
	cr_log_info("SHOW CLIENTS: %d rows, %d of them bench/postgres", PQntuples(r), mine);
	cr_expect_eq(mine, 10, "SHOW CLIENTS lists %d of the 10 clients", mine);
	cr_expect_eq(PQntuples(r), 11, "SHOW CLIENTS has %d rows (10 clients + the console)",
	             PQntuples(r));
	PQclear(r);
	long long act = pool_val(a, "cl_active"), wait = pool_val(a, "cl_waiting");
	cr_expect_eq(act + wait, 10, "SHOW POOLS: cl_active %lld + cl_waiting %lld", act, wait);
	cr_expect_eq(pool_val(a, "sv_active"), 4, "SHOW POOLS sv_active");
	r = adminq_show(a, "SHOW SERVERS");
	int servers = adminq_count(r, "user", "postgres", "database", "bench");
	PQclear(r);
	PGconn *admin = it_connect_admin();
	int backends = bench_backends(admin, "true");
	long long sv = pool_val(a, "sv_active") + pool_val(a, "sv_idle") + pool_val(a, "sv_used") +
	               pool_val(a, "sv_tested") + pool_val(a, "sv_login");
	cr_log_info("SHOW SERVERS %d, pg_stat_activity %d, SHOW POOLS sv_* %lld", servers, backends,
	            sv);
	cr_expect_eq(servers, backends, "SHOW SERVERS %d rows, PostgreSQL %d backends", servers,
	             backends);
	cr_expect_eq(sv, servers, "SHOW POOLS sv_* add up to %lld, SHOW SERVERS %d", sv, servers);
	struct prom m;
	adminq_metrics(http, &m);
	cr_expect_eq(metric(&m, "pglane_pool_clients_active"), act);
	cr_expect_eq(metric(&m, "pglane_pool_clients_waiting"), wait);
	cr_expect_eq(metric(&m, "pglane_pool_servers_active"), pool_val(a, "sv_active"));
	cr_expect_eq(metric(&m, "pglane_pool_servers_idle"), pool_val(a, "sv_idle"));
	prom_free(&m);
	for (int i = 0; i < 10; i++)
		PQfinish(c[i]);
	PQfinish(admin);
	PQfinish(a);
}

IT_TEST(workers, cancel_reaches_the_clients_worker)
{
	start_w(2, "size = 10;", NULL, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *c[10];
	wclients_connect_both(c, 10, "postgres", NULL, "bench");
	for (int i = 0; i < 10; i++)
		cr_assert(PQsendQuery(c[i], "SELECT pg_sleep(30)"));
	const char *like = "SELECT pg_sleep(30)";
	int last = 0;
	cr_assert_geq(it_wait_backends(admin, 10, 5000, "active", NULL, NULL, like, &last), 0,
	              "%d of 10 sleeps running", last);
	int worst = 0;
	for (int i = 0; i < 10; i++) {
		char err[256];
		PGcancel *k = PQgetCancel(c[i]);
		int64_t t0 = it_now_ms();
		cr_assert(PQcancel(k, err, sizeof err), "cancel %d: %s", i, err);
		PQfreeCancel(k);
		bool to = false;
		PGresult *r = it_result_wait(c[i], 1000, &to);
		int ms = (int)(it_now_ms() - t0);
		worst = ms > worst ? ms : worst;
		cr_assert(!to, "client %d still sleeps 1 s after its cancel", i);
		cr_expect_str_eq(it_sqlstate(r), "57014", "client %d: %s", i,
		                 r ? PQresultErrorMessage(r) : PQerrorMessage(c[i]));
		PQclear(r);
		cr_expect_geq(
		        it_wait_backends(admin, 9 - i, 1000, "active", NULL, NULL, like, &last), 0,
		        "after %d cancels %d sleeps run, want %d", i + 1, last, 9 - i);
		for (int j = i + 1; j < 10; j++)
			cr_expect(!wclients_finished(c[j]), "cancel %d also ended client %d", i, j);
	}
	cr_log_info("10 cancels: each ended its own query, slowest in %d ms", worst);
	for (int i = 0; i < 10; i++)
		PQfinish(c[i]);
	PQfinish(admin);
}

/* Send `sql` on clients [0, n) and wait (ms at most) for every one: how many answered. */
static int send_all_wait(PGconn **c, int n, const char *sql, int ms)
{
	for (int i = 0; i < n; i++)
		cr_assert(PQsendQuery(c[i], sql), "%s", PQerrorMessage(c[i]));
	int64_t until = it_now_ms() + ms;
	while (count_finished(c, 0, n) < n && it_now_ms() < until)
		it_sleep_ms(10);
	return count_finished(c, 0, n);
}

/* Four clients (on both workers) hold a transaction each at once: four backends. */
static void four_at_once(PGconn **c, PGconn *admin, const char *what)
{
	int got = send_all_wait(c, 4, "BEGIN; SELECT pg_backend_pid()", 3000);
	cr_expect_eq(got, 4, "%s: %d of 4 clients got a server in 3 s", what, got);
	for (int i = 0; i < 4; i++)
		wclients_drain_ok(c[i], "BEGIN");
	int n = bench_backends(admin, "state = 'idle in transaction'");
	cr_log_info("%s: %d clients, %d transactions at once", what, got, n);
	cr_expect_eq(n, 4, "%s: %d transactions at once, not 4", what, n);
	for (int i = 0; i < 4; i++)
		it_exec_ok(c[i], "COMMIT");
}

IT_TEST(workers, set_and_pause_reach_every_worker)
{
	start_w(2, "size = 1;", NULL, NULL);
	PGconn *a = adminq_connect("admin");
	cmd_ok(a, "SET pool.size = 4");
	PGconn *c[4];
	wclients_connect_both(c, 4, "postgres", NULL, "bench");
	PGconn *admin = it_connect_admin();
	four_at_once(c, admin, "SET pool.size = 4");
	cmd_ok(a, "PAUSE bench");
	int got = send_all_wait(c, 4, "SELECT 1", 500);
	cr_expect_eq(got, 0, "PAUSE bench: %d of 4 clients answered", got);
	cmd_ok(a, "RESUME bench");
	int64_t t0 = it_now_ms();
	while ((got = count_finished(c, 0, 4)) < 4 && it_now_ms() - t0 < 3000)
		it_sleep_ms(10);
	cr_log_info("RESUME: %d of 4 paused clients answered in %lld ms", got,
	            (long long)(it_now_ms() - t0));
	cr_expect_eq(got, 4, "RESUME: %d of 4 clients answered in 3 s", got);
	for (int i = 0; i < 4; i++) {
		wclients_drain_ok(c[i], "SELECT 1 after RESUME");
		PQfinish(c[i]);
	}
	PQfinish(admin);
	PQfinish(a);
}

IT_TEST(workers, reload_reaches_every_worker)
{
	start_w(2, "size = 1;", NULL, NULL);
	PGconn *c[4];
	wclients_connect_both(c, 4, "postgres", NULL, "bench");
	struct it_pglane *p = it_pglane_current();
	char *conf = it_file_read(p->conf_path);
	cr_assert_not_null(conf);
	char *at = strstr(conf, "size = 1;");
	cr_assert_not_null(at);
	at[7] = '4';
	it_file_write(p->conf_path, conf);
	free(conf);
	PGconn *a = adminq_connect("admin");
	cmd_ok(a, "RELOAD");
	PGconn *admin = it_connect_admin();
	four_at_once(c, admin, "RELOAD with size = 4");
	for (int i = 0; i < 4; i++)
		PQfinish(c[i]);
	PQfinish(admin);
	PQfinish(a);
}

/* The janitor of each worker closes its idle servers: 4 servers opened by clients of both
 * workers are all gone within 5 s of server_idle_timeout = 1s. */
IT_TEST(workers, server_idle_timeout_on_every_worker)
{
	start_w(2, "size = 4; server_idle_timeout = \"1s\";", NULL, NULL);
	PGconn *c[4];
	wclients_connect_both(c, 4, "postgres", NULL, "bench");
	PGconn *admin = it_connect_admin();
	four_at_once(c, admin, "server_idle_timeout");
	int last = 0;
	int took = bench_gone(admin, 5000, &last);
	cr_log_info("server_idle_timeout 1s: 4 idle servers closed after %d ms", took);
	cr_expect_geq(took, 0, "%d idle servers still open 5 s after server_idle_timeout 1s", last);
	cr_expect_geq(took, 500, "idle servers closed after %d ms, before server_idle_timeout 1s",
	              took);
	for (int i = 0; i < 4; i++)
		PQfinish(c[i]);
	PQfinish(admin);
}

/* listen.max_client_conn bounds the process: with 4 clients in, every further one is refused
 * whatever worker accepts it; when one leaves, a new one gets in. */
IT_TEST(workers, max_client_conn_bounds_the_whole_process)
{
	it_pglane_start("workers = 2;\n"
	                "listen = { host = \"127.0.0.1\"; port = @PORT@; max_client_conn = 4; };\n"
	                "auth = { type = \"trust\"; };\n"
	                "pool = { mode = \"transaction\"; size = 2; };\n" IT_DATABASES);
	PGconn *c[4];
	int on[2] = {0, 0};
	for (int i = 0; i < 4; i++) {
		c[i] = it_connect("postgres", NULL, "bench");
		on[wclients_worker_of(c[i])]++;
	}
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "bench",
	            NULL);
	int refused = 0;
	for (int i = 0; i < 8; i++) {
		PGconn *extra = it_connect_try(ci);
		refused += PQstatus(extra) != CONNECTION_OK;
		PQfinish(extra);
	}
	cr_log_info("max_client_conn 4: clients on workers %d + %d, %d of 8 more refused", on[0],
	            on[1], refused);
	cr_expect_eq(refused, 8, "max_client_conn 4: %d of 8 more clients got in", 8 - refused);
	PQfinish(c[0]);
	PGconn *again = NULL;
	for (int i = 0; i < 50 && (!again || PQstatus(again) != CONNECTION_OK); i++) {
		PQfinish(again);
		it_sleep_ms(i ? 20 : 0);
		again = it_connect_try(ci);
	}
	cr_expect_eq(PQstatus(again), CONNECTION_OK, "no client got in after one left: %s",
	             it_conn_error(again));
	PQfinish(again);
	for (int i = 1; i < 4; i++)
		cr_expect_eq(it_query_ll(c[i], "SELECT 1"), 1);
	for (int i = 1; i < 4; i++)
		PQfinish(c[i]);
}

/* SHOW CLIENTS' id of the libpq client `c` (found by its local port). */
static long long client_id(PGconn *a, PGconn *c)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;
	cr_assert_eq(getsockname(PQsocket(c), (struct sockaddr *)&sa, &len), 0);
	char port[16];
	snprintf(port, sizeof port, "%d", ntohs(((struct sockaddr_in *)&sa)->sin_port));
	PGresult *r = adminq_show(a, "SHOW CLIENTS");
	int row = adminq_find(r, "port", port, "type", "C");
	cr_assert_geq(row, 0, "SHOW CLIENTS has no client on port %s", port);
	long long id = adminq_cell_ll(r, row, "id");
	PQclear(r);
	return id;
}

static bool works(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT 1");
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	return ok;
}

IT_TEST(workers, kill_client_on_either_worker)
{
	start_w(2, "size = 4;", NULL, NULL);
	PGconn *a = adminq_connect("admin");
	PGconn *c[8];
	long long id[8];
	wclients_connect_both(c, 8, "postgres", NULL, "bench");
	for (int i = 0; i < 8; i++) {
		it_exec_ok(c[i], "SELECT 1");
		id[i] = client_id(a, c[i]);
	}
	for (int i = 0; i < 4; i++) {
		char sql[64];
		snprintf(sql, sizeof sql, "KILL_CLIENT %lld", id[i]);
		cmd_ok(a, sql);
	}
	for (int i = 0; i < 8; i++)
		cr_expect_eq(works(c[i]), i >= 4, "client %d (KILL_CLIENT: %s) %s", i,
		             i < 4 ? "yes" : "no", i < 4 ? "still works" : "was closed");
	PGresult *r = adminq_show(a, "SHOW CLIENTS");
	int left = adminq_count(r, "user", "postgres", "database", "bench");
	cr_expect_eq(left, 4, "SHOW CLIENTS lists %d clients after 4 of 8 were killed", left);
	PQclear(r);
	for (int i = 0; i < 8; i++)
		PQfinish(c[i]);
	PQfinish(a);
}

/* The column names of `r`, comma-separated, into out. */
static void columns_of(const PGresult *r, char *out, size_t n)
{
	out[0] = '\0';
	for (int i = 0; i < PQnfields(r); i++) {
		strncat(out, PQfname(r, i), n - strlen(out) - 1);
		strncat(out, ",", n - strlen(out) - 1);
	}
}

/* No two rows of `r` with the same key columns (k2 may be NULL). */
static void rows_unique(const PGresult *r, const char *what, const char *k1, const char *k2)
{
	for (int i = 0; i < PQntuples(r); i++) {
		const char *v2 = k2 ? adminq_cell(r, i, k2) : NULL;
		int n = adminq_count(r, k1, adminq_cell(r, i, k1), k2, v2);
		cr_expect_eq(n, 1, "%s: %d rows for %s %s", what, n, adminq_cell(r, i, k1),
		             v2 ? v2 : "");
	}
}

/* Start pglane with `workers`, run 5 transactions on each of 6 clients (bench and postgres),
 * and take SHOW POOLS and STATS: their columns into pools/stats, the pool row count. */
static int pools_of(int workers, char *pools, char *stats, size_t n, long long *xacts)
{
	start_w(workers, "size = 2;", NULL, NULL);
	PGconn *c[6];
	for (int i = 0; i < 6; i++) {
		c[i] = it_connect("postgres", NULL, i % 2 ? "postgres" : "bench");
		for (int k = 0; k < 5; k++)
			it_exec_ok(c[i], "SELECT 1");
	}
	PGconn *a = adminq_connect("admin");
	PGresult *r = adminq_show(a, "SHOW POOLS");
	columns_of(r, pools, n);
	rows_unique(r, "SHOW POOLS", "database", "user");
	int rows = PQntuples(r);
	PQclear(r);
	r = adminq_show(a, "SHOW STATS");
	columns_of(r, stats, n);
	rows_unique(r, "SHOW STATS", "database", NULL);
	int row = adminq_find(r, "database", "bench", NULL, NULL);
	cr_assert_geq(row, 0, "SHOW STATS has no row of bench");
	*xacts = adminq_cell_ll(r, row, "total_xact_count");
	PQclear(r);
	for (int i = 0; i < 6; i++)
		PQfinish(c[i]);
	PQfinish(a);
	it_pglane_finish();
	return rows;
}

IT_TEST(workers, one_or_two_workers_show_the_same)
{
	char p1[2048], s1[2048], p2[2048], s2[2048];
	long long x1 = 0, x2 = 0;
	int n1 = pools_of(1, p1, s1, sizeof p1, &x1);
	int n2 = pools_of(2, p2, s2, sizeof p2, &x2);
	cr_log_info(
	        "SHOW POOLS rows: %d with 1 worker, %d with 2; bench total_xact_count %lld, %lld",
	        n1, n2, x1, x2);
	cr_expect_str_eq(p2, p1, "SHOW POOLS columns differ");
	cr_expect_str_eq(s2, s1, "SHOW STATS columns differ");
	cr_expect_eq(n2, n1, "SHOW POOLS: %d rows with 2 workers, %d with 1", n2, n1);
	cr_expect_eq(x2, x1, "bench total_xact_count: %lld with 2 workers, %lld with 1", x2, x1);
}

/* Prepare `name` as `sql` on `c` (extended protocol) and run it: its one value. */
static long long prepared_value(PGconn *c, const char *name, const char *sql)
{
	if (sql) {
		PGresult *p = PQprepare(c, name, sql, 0, NULL);
		cr_assert_eq(PQresultStatus(p), PGRES_COMMAND_OK, "prepare %s: %s", name,
		             PQresultErrorMessage(p));
		PQclear(p);
	}
	PGresult *r = PQexecPrepared(c, name, 0, NULL, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "execute %s: %s", name,
	             PQresultErrorMessage(r));
	long long v = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* Size 1: the one server, idle on the worker of client a, serves client b on the other worker
 * at once (handed over, not a second server), with a's prepared statement gone from it (b
 * prepares the same name) and re-prepared for a when a comes back, and a's SET not seen by b. */
IT_TEST(workers, an_idle_server_moves_to_the_other_worker)
{
	start_w(2, "size = 1;", NULL, NULL);
	PGconn *c[2];
	wclients_connect_both(c, 2, "postgres", NULL, "bench");
	PGconn *admin = it_connect_admin();
	it_exec_ok(c[0], "SET work_mem = '7MB'");
	for (int round = 0; round < 3; round++) {
		long long pid[2];
		int ms[2];
		for (int i = 0; i < 2; i++) {
			int64_t t0 = it_now_ms();
			pid[i] = it_query_ll(c[i], "SELECT pg_backend_pid()");
			ms[i] = (int)(it_now_ms() - t0);
			cr_expect_eq(prepared_value(c[i], "s1",
			                            round ? NULL : (i ? "SELECT 2" : "SELECT 1")),
			             i + 1, "round %d: client %d ran the other client's s1", round,
			             i);
		}
		cr_log_info(
		        "round %d: worker %u then worker %u on server pid %lld / %lld (%d, %d ms)",
		        round, wclients_worker_of(c[0]), wclients_worker_of(c[1]), pid[0], pid[1],
		        ms[0], ms[1]);
		cr_expect_eq(pid[0], pid[1],
		             "round %d: a second server opened for the other worker", round);
		cr_expect_lt(ms[1], 1000, "round %d: the hand-over took %d ms", round, ms[1]);
		cr_expect_eq(bench_backends(admin, "true"), 1, "round %d: not one backend", round);
		char *wm[2];
		for (int i = 0; i < 2; i++)
			wm[i] = it_query_str(c[i], "SHOW work_mem");
		cr_expect_str_eq(wm[0], "7MB", "round %d: client 0 lost its SET", round);
		cr_expect_str_neq(wm[1], "7MB", "round %d: client 1 got client 0's SET", round);
		free(wm[0]);
		free(wm[1]);
	}
	PQfinish(admin);
	PQfinish(c[0]);
	PQfinish(c[1]);
}

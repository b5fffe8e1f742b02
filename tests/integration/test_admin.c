/* tests/integration/test_admin.c — the admin console (issue 5): every SHOW command's columns
 * (exact names, in order) and values against a known state — 5 clients waiting on a pool of 2
 * held by two open transactions (SHOW POOLS, LANES, CLIENTS, SERVERS cross-checked by ptr,
 * link, port and pg_backend_pid), SHOW STATS deltas of a counted set of transactions, SHOW
 * SLOW, CONFIG, DATABASES, VERSION, REPLICATION, SLOTS, HELP; the extended protocol; who may
 * log in and what a stats user may do; garbage on the console, simple and extended. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"
#include "tests/integration/rawpg.h"

TestSuite(admin, .fini = it_pglane_fini, .timeout = 90);

#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Database postgres (lane oltp of the pool default, 2) and bench (oltp 3, olap 1). */
#define ADMIN_CONF                                                                                 \
	"auth = { type = \"trust\"; };\n"                                                          \
	"admin = { users = [ \"admin\" ]; stats_users = [ \"stats\" ]; };\n"                       \
	"pool = { mode = \"transaction\"; size = 2; query_wait_timeout = \"30s\";\n"               \
	"         slow_query = \"100ms\"; };\n"                                                    \
	"databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; },\n"          \
	"              { name = \"bench\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"                \
	"                oltp = { size = 3; }; olap = { size = 1; }; } );\n"

/* PgBouncer 1.25's columns first (test_console_compat checks their types), pglane's after */
static const char *const POOLS_COLS[] = {"database",
                                         "user",
                                         "cl_active",
                                         "cl_waiting",
                                         "cl_active_cancel_req",
                                         "cl_waiting_cancel_req",
                                         "sv_active",
                                         "sv_active_cancel",
                                         "sv_being_canceled",
                                         "sv_idle",
                                         "sv_used",
                                         "sv_tested",
                                         "sv_login",
                                         "maxwait",
                                         "maxwait_us",
                                         "pool_mode",
                                         "load_balance_hosts",
                                         "lane",
                                         "pool_size",
                                         "saturation",
                                         "wait_p50_us",
                                         "wait_p95_us",
                                         "wait_p99_us",
                                         "query_p50_us",
                                         "query_p95_us",
                                         "query_p99_us",
                                         "cl_pinned",
                                         "held_by",
                                         "server_state",
                                         "server_state_since",
                                         "server_error"};
static const char *const LANES_COLS[] = {
        "database",     "lane",         "pool_size",    "sv_active",          "cl_waiting",
        "saturation",   "wait_p50_us",  "wait_p95_us",  "wait_p99_us",        "query_p50_us",
        "query_p95_us", "query_p99_us", "slow_queries", "statement_timeouts", "cl_pinned"};
static const char *const STATS_COLS[] = {"database",
                                         "total_server_assignment_count",
                                         "total_xact_count",
                                         "total_query_count",
                                         "total_received",
                                         "total_sent",
                                         "total_xact_time",
                                         "total_query_time",
                                         "total_wait_time",
                                         "total_client_parse_count",
                                         "total_server_parse_count",
                                         "total_bind_count",
                                         "avg_server_assignment_count",
                                         "avg_xact_count",
                                         "avg_query_count",
                                         "avg_recv",
                                         "avg_sent",
                                         "avg_xact_time",
                                         "avg_query_time",
                                         "avg_wait_time",
                                         "avg_client_parse_count",
                                         "avg_server_parse_count",
                                         "avg_bind_count",
                                         "lane",
                                         "total_requests"};
static const char *const CONN_COLS[] = {
        "type",         "user",       "database",   "replication",      "state",
        "addr",         "port",       "local_addr", "local_port",       "connect_time",
        "request_time", "wait",       "wait_us",    "close_needed",     "ptr",
        "link",         "remote_pid", "tls",        "application_name", "prepared_statements",
        "id",           "lane",       "pinned"};
static const char *const SLOW_COLS[] = {
        "at", "database", "user", "lane", "application_name", "duration_ms", "wait_ms", "query"};
static const char *const CONFIG_COLS[] = {"key", "value", "default", "changeable"};
static const char *const REPL_COLS[] = {"database",  "host",    "port",
                                        "role",      "state",   "replay_lag_ms",
                                        "lag_bytes", "healthy", "checked_at"};
static const char *const SLOTS_COLS[] = {"database", "slot_name", "slot_type", "active",
                                         "retained_bytes"};
static const char *const DATABASES_COLS[] = {"name",
                                             "host",
                                             "port",
                                             "database",
                                             "force_user",
                                             "pool_size",
                                             "min_pool_size",
                                             "reserve_pool_size",
                                             "server_lifetime",
                                             "pool_mode",
                                             "load_balance_hosts",
                                             "max_connections",
                                             "current_connections",
                                             "max_client_connections",
                                             "current_client_connections",
                                             "paused",
                                             "disabled",
                                             "olap_pool_size",
                                             "default_lane",
                                             "reserve_pool"};

static struct it_pglane *start_admin(void)
{
	return it_pglane_start(ADMIN_CONF);
}

/* The local port of a libpq connection's socket. */
static int local_port(PGconn *c)
{
	struct sockaddr_in a;
	socklen_t n = sizeof a;
	cr_assert_eq(getsockname(PQsocket(c), (struct sockaddr *)&a, &n), 0);
	return ntohs(a.sin_port);
}

/* The row of SHOW CLIENTS for the libpq client `c` (found by its port); fails when absent. */
static int client_row(const PGresult *r, PGconn *c)
{
	char port[16];
	snprintf(port, sizeof port, "%d", local_port(c));
	int row = adminq_find(r, "port", port, "type", "C");
	cr_assert_geq(row, 0, "SHOW CLIENTS has no client on port %s", port);
	return row;
}

/* The row of database × lane in SHOW LANES / SHOW STATS; fails when absent. */
static int lane_row(const PGresult *r, const char *db, const char *lane)
{
	int row = adminq_find(r, "database", db, "lane", lane);
	cr_assert_geq(row, 0, "no row for %s/%s", db, lane);
	return row;
}

/* ---- a saturated pool: POOLS, LANES, CLIENTS, SERVERS ---- */

IT_TEST(admin, show_saturated_pool)
{
	struct it_pglane *p = start_admin();
	PGconn *holder[2], *waiter[5];
	long long hpid[2];
	for (int i = 0; i < 2; i++) {
		holder[i] = it_connect_app("postgres", NULL, "postgres",
		                           i ? "it_holder1" : "it_holder0");
		it_exec_ok(holder[i], "BEGIN");
		hpid[i] = it_query_ll(holder[i], "SELECT pg_backend_pid()");
	}
	cr_assert_neq(hpid[0], hpid[1], "two open transactions share backend %lld", hpid[0]);
	for (int i = 0; i < 5; i++) {
		waiter[i] = it_connect_app("postgres", NULL, "postgres", "it_waiter");
		cr_assert(PQsendQuery(waiter[i], "SELECT 1"), "%s", PQerrorMessage(waiter[i]));
	}
	PGconn *a = adminq_connect("admin");
	long long last = 0;
	cr_assert_geq(
	        adminq_pool_wait(a, "postgres", "postgres", "oltp", "cl_waiting", 5, 5000, &last),
	        0, "SHOW POOLS cl_waiting is %lld, expected 5", last);
	it_sleep_ms(150); /* the first waiter has waited at least this long */

	PGresult *r = adminq_show(a, "SHOW POOLS");
	adminq_expect_columns(r, "SHOW POOLS", POOLS_COLS, NCOLS(POOLS_COLS));
	cr_expect_eq(PQntuples(r), 1, "SHOW POOLS has %d rows, expected the one pool in use",
	             PQntuples(r));
	int row = adminq_find(r, "database", "postgres", "user", "postgres");
	cr_assert_geq(row, 0, "SHOW POOLS has no postgres/postgres row");
	cr_expect_str_eq(adminq_cell(r, row, "lane"), "oltp");
	cr_expect_eq(adminq_cell_ll(r, row, "cl_active"), 2);
	cr_expect_eq(adminq_cell_ll(r, row, "cl_waiting"), 5);
	cr_expect_eq(adminq_cell_ll(r, row, "sv_active"), 2);
	cr_expect_eq(adminq_cell_ll(r, row, "sv_idle"), 0);
	cr_expect_eq(adminq_cell_ll(r, row, "sv_used"), 0);
	cr_expect_eq(adminq_cell_ll(r, row, "sv_tested"), 0);
	cr_expect_eq(adminq_cell_ll(r, row, "sv_login"), 0);
	cr_expect_eq(adminq_cell_ll(r, row, "pool_size"), 2);
	cr_expect_eq(adminq_cell_ll(r, row, "saturation"), 100);
	long long maxwait =
	        adminq_cell_ll(r, row, "maxwait") * 1000000 + adminq_cell_ll(r, row, "maxwait_us");
	cr_expect(maxwait >= 150000 && maxwait < 30000000, "maxwait_us = %lld", maxwait);
	cr_expect_str_eq(adminq_cell(r, row, "pool_mode"), "transaction");
	PQclear(r);

	r = adminq_show(a, "SHOW LANES");
	adminq_expect_columns(r, "SHOW LANES", LANES_COLS, NCOLS(LANES_COLS));
	row = lane_row(r, "postgres", "oltp");
	cr_expect_eq(adminq_cell_ll(r, row, "pool_size"), 2);
	cr_expect_eq(adminq_cell_ll(r, row, "sv_active"), 2);
	cr_expect_eq(adminq_cell_ll(r, row, "cl_waiting"), 5);
	cr_expect_eq(adminq_cell_ll(r, row, "saturation"), 100);
	cr_expect_eq(adminq_cell_ll(r, row, "slow_queries"), 0);
	cr_expect_eq(adminq_cell_ll(r, row, "statement_timeouts"), 0);
	PQclear(r);

	PGresult *cl = adminq_show(a, "SHOW CLIENTS");
	PGresult *sv = adminq_show(a, "SHOW SERVERS");
	adminq_expect_columns(cl, "SHOW CLIENTS", CONN_COLS, NCOLS(CONN_COLS));
	adminq_expect_columns(sv, "SHOW SERVERS", CONN_COLS, NCOLS(CONN_COLS));
	cr_expect_eq(PQntuples(cl), 8, "SHOW CLIENTS has %d rows: 2 holders, 5 waiters, admin",
	             PQntuples(cl));
	cr_expect_eq(PQntuples(sv), 2, "SHOW SERVERS has %d rows, expected 2", PQntuples(sv));
	char pglane_port[16], pgport[16];
	snprintf(pglane_port, sizeof pglane_port, "%d", p->port);
	snprintf(pgport, sizeof pgport, "%d", it_pgport());
	for (int i = 0; i < 5; i++) {
		int w = client_row(cl, waiter[i]);
		cr_expect_str_eq(adminq_cell(cl, w, "state"), "waiting", "waiter %d", i);
		cr_expect_str_eq(adminq_cell(cl, w, "user"), "postgres");
		cr_expect_str_eq(adminq_cell(cl, w, "database"), "postgres");
		cr_expect_str_eq(adminq_cell(cl, w, "lane"), "oltp");
		cr_expect_str_eq(adminq_cell(cl, w, "addr"), "127.0.0.1");
		cr_expect_str_eq(adminq_cell(cl, w, "local_addr"), "127.0.0.1");
		cr_expect_str_eq(adminq_cell(cl, w, "local_port"), pglane_port);
		cr_expect_str_eq(adminq_cell(cl, w, "application_name"), "it_waiter");
		cr_expect_str_eq(adminq_cell(cl, w, "link"), "", "a waiter has a link");
		cr_expect_eq(adminq_cell_ll(cl, w, "remote_pid"), 0, "a waiter has remote_pid %s",
		             adminq_cell(cl, w, "remote_pid"));
		long long waited =
		        adminq_cell_ll(cl, w, "wait") * 1000000 + adminq_cell_ll(cl, w, "wait_us");
		cr_expect(waited >= 150000 && waited < 30000000, "waiter %d waited %lld us", i,
		          waited);
		long long us = adminq_cell_ll(cl, w, "wait_us");
		cr_expect(us >= 0 && us < 1000000, "wait_us %lld is not the microsecond part", us);
		cr_expect_neq(adminq_cell(cl, w, "connect_time")[0], '\0', "no connect_time");
		cr_expect_str_eq(adminq_cell(cl, w, "tls"), "");
	}
	for (int i = 0; i < 2; i++) {
		int h = client_row(cl, holder[i]);
		cr_expect_str_eq(adminq_cell(cl, h, "state"), "active", "holder %d", i);
		cr_expect_eq(adminq_cell_ll(cl, h, "remote_pid"), hpid[i],
		             "holder %d: remote_pid %s, pg_backend_pid %lld", i,
		             adminq_cell(cl, h, "remote_pid"), hpid[i]);
		/* its link is the server row with that backend, which links back to it */
		const char *link = adminq_cell(cl, h, "link");
		int s = adminq_find(sv, "ptr", link, NULL, NULL);
		cr_assert_geq(s, 0, "holder %d links to %s, not a SHOW SERVERS ptr", i, link);
		cr_expect_eq(adminq_cell_ll(sv, s, "remote_pid"), hpid[i]);
		cr_expect_str_eq(adminq_cell(sv, s, "link"), adminq_cell(cl, h, "ptr"),
		                 "server %s does not link back to holder %d", link, i);
		cr_expect_str_eq(adminq_cell(sv, s, "state"), "active");
		cr_expect_str_eq(adminq_cell(sv, s, "type"), "S");
		cr_expect_str_eq(adminq_cell(sv, s, "database"), "postgres");
		cr_expect_str_eq(adminq_cell(sv, s, "user"), "postgres");
		cr_expect_str_eq(adminq_cell(sv, s, "lane"), "oltp");
		cr_expect_str_eq(adminq_cell(sv, s, "addr"), it_pghost());
		cr_expect_str_eq(adminq_cell(sv, s, "port"), pgport);
		char app[32];
		snprintf(app, sizeof app, "it_holder%d", i);
		cr_expect_str_eq(adminq_cell(cl, h, "application_name"), app);
	}
	int self = client_row(cl, a);
	cr_expect_str_eq(adminq_cell(cl, self, "database"), "pglane");
	cr_expect_str_eq(adminq_cell(cl, self, "user"), "admin");
	/* ptr identifies each connection */
	for (int i = 0; i < PQntuples(cl); i++)
		cr_expect_eq(adminq_count(cl, "ptr", adminq_cell(cl, i, "ptr"), NULL, NULL), 1,
		             "client ptr %s is not unique", adminq_cell(cl, i, "ptr"));
	PQclear(cl);
	PQclear(sv);

	/* The holders commit: every waiter is served and the pool is idle again. */
	for (int i = 0; i < 2; i++)
		it_exec_ok(holder[i], "COMMIT");
	for (int i = 0; i < 5; i++) {
		bool to = false;
		PGresult *res = it_result_wait(waiter[i], 5000, &to);
		cr_expect(!to, "waiter %d still waits after the holders committed", i);
		cr_expect_eq(PQresultStatus(res), PGRES_TUPLES_OK, "waiter %d: %s", i,
		             res ? PQresultErrorMessage(res) : PQerrorMessage(waiter[i]));
		PQclear(res);
	}
	cr_expect_geq(
	        adminq_pool_wait(a, "postgres", "postgres", "oltp", "sv_active", 0, 3000, &last), 0,
	        "sv_active stays %lld", last);
	r = adminq_show(a, "SHOW POOLS");
	row = adminq_find(r, "database", "postgres", "user", "postgres");
	cr_assert_geq(row, 0);
	cr_expect_eq(adminq_cell_ll(r, row, "cl_active"), 7);
	cr_expect_eq(adminq_cell_ll(r, row, "cl_waiting"), 0);
	cr_expect_eq(adminq_cell_ll(r, row, "sv_idle"), 2);
	cr_expect_eq(adminq_cell_ll(r, row, "saturation"), 0);
	cr_expect_eq(adminq_cell_ll(r, row, "maxwait_us"), 0);
	long long p50 = adminq_cell_ll(r, row, "wait_p50_us");
	long long p95 = adminq_cell_ll(r, row, "wait_p95_us");
	long long p99 = adminq_cell_ll(r, row, "wait_p99_us");
	cr_expect(p50 <= p95 && p95 <= p99, "wait quantiles %lld %lld %lld", p50, p95, p99);
	cr_expect_geq(p99, 100000, "5 of 7 waits were over 150 ms, wait_p99_us = %lld", p99);
	PQclear(r);
	cl = adminq_show(a, "SHOW CLIENTS");
	for (int i = 0; i < 5; i++) {
		int w = client_row(cl, waiter[i]);
		cr_expect_str_eq(adminq_cell(cl, w, "state"), "idle", "waiter %d after its query",
		                 i);
		cr_expect_str_eq(adminq_cell(cl, w, "link"), "");
	}
	PQclear(cl);
	for (int i = 0; i < 5; i++)
		PQfinish(waiter[i]);
	for (int i = 0; i < 2; i++)
		PQfinish(holder[i]);
	PQfinish(a);
}

/* A waiting client that disconnects is no longer counted or listed. */
IT_TEST(admin, vanished_waiter_leaves_show_pools)
{
	start_admin();
	PGconn *holder[2], *waiter[3];
	for (int i = 0; i < 2; i++) {
		holder[i] = it_connect("postgres", NULL, "postgres");
		it_exec_ok(holder[i], "BEGIN");
		it_exec_ok(holder[i], "SELECT 1");
	}
	for (int i = 0; i < 3; i++) {
		waiter[i] = it_connect_app("postgres", NULL, "postgres", "it_waiter");
		cr_assert(PQsendQuery(waiter[i], "SELECT 1"));
	}
	PGconn *a = adminq_connect("admin");
	long long last = 0;
	cr_assert_geq(
	        adminq_pool_wait(a, "postgres", "postgres", "oltp", "cl_waiting", 3, 5000, &last),
	        0, "cl_waiting is %lld, expected 3", last);
	it_conn_vanish(waiter[0]);
	PQfinish(waiter[1]);
	int took =
	        adminq_pool_wait(a, "postgres", "postgres", "oltp", "cl_waiting", 1, 3000, &last);
	cr_expect_geq(took, 0,
	              "2 of 3 waiting clients disconnected, SHOW POOLS still has cl_waiting = %lld",
	              last);
	PGresult *cl = adminq_show(a, "SHOW CLIENTS");
	cr_expect_eq(adminq_count(cl, "application_name", "it_waiter", NULL, NULL), 1,
	             "SHOW CLIENTS lists %d waiters, 1 is left",
	             adminq_count(cl, "application_name", "it_waiter", NULL, NULL));
	PQclear(cl);
	for (int i = 0; i < 2; i++)
		it_exec_ok(holder[i], "COMMIT");
	bool to = false;
	PGresult *res = it_result_wait(waiter[2], 5000, &to);
	cr_expect_eq(PQresultStatus(res), PGRES_TUPLES_OK, "the last waiter was not served");
	PQclear(res);
	PQfinish(waiter[2]);
	for (int i = 0; i < 2; i++)
		PQfinish(holder[i]);
	PQfinish(a);
}

/* ---- SHOW STATS, SHOW SLOW ---- */

struct stats {
	long long xact, query, received, sent, xact_time, query_time, wait_time;
};

static struct stats read_stats(PGconn *a, const char *db, const char *lane)
{
	PGresult *r = adminq_show(a, "SHOW STATS");
	adminq_expect_columns(r, "SHOW STATS", STATS_COLS, NCOLS(STATS_COLS));
	int row = lane_row(r, db, lane);
	struct stats s = {
	        .xact = adminq_cell_ll(r, row, "total_xact_count"),
	        .query = adminq_cell_ll(r, row, "total_query_count"),
	        .received = adminq_cell_ll(r, row, "total_received"),
	        .sent = adminq_cell_ll(r, row, "total_sent"),
	        .xact_time = adminq_cell_ll(r, row, "total_xact_time"),
	        .query_time = adminq_cell_ll(r, row, "total_query_time"),
	        .wait_time = adminq_cell_ll(r, row, "total_wait_time"),
	};
	/* the averages are over the last stats_period (test_console_compat checks them);
	 * total_requests is the pre-1.8 name of the query count */
	cr_expect_eq(adminq_cell_ll(r, row, "total_requests"), s.query);
	cr_expect_geq(adminq_cell_ll(r, row, "avg_query_time"), 0);
	PQclear(r);
	return s;
}

IT_TEST(admin, show_stats_counts_exactly)
{
	start_admin();
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "SELECT 1"); /* the pool exists, its server is up */
	PGconn *a = adminq_connect("admin");
	struct stats s0 = read_stats(a, "postgres", "oltp");

	/* 5 autocommit statements and one transaction of 4: 6 transactions, 9 queries */
	static const char *const sql[] = {
	        "SELECT 1",     "SELECT 2", "SELECT 3", "SELECT 'four'",
	        "SELECT 5 + 5", "BEGIN",    "SELECT 6", "SELECT pg_sleep(0.2)",
	        "COMMIT"};
	long long bytes = 0;
	for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
		it_exec_ok(c, sql[i]);
		bytes += (long long)strlen(sql[i]) + 6; /* 'Q', length, text, NUL */
	}
	struct stats s1 = read_stats(a, "postgres", "oltp");
	cr_expect_eq(s1.xact - s0.xact, 6, "total_xact_count grew by %lld, 6 were run",
	             s1.xact - s0.xact);
	cr_expect_eq(s1.query - s0.query, 9, "total_query_count grew by %lld, 9 were run",
	             s1.query - s0.query);
	cr_expect_eq(s1.received - s0.received, bytes, "total_received grew by %lld, sent %lld",
	             s1.received - s0.received, bytes);
	cr_expect_gt(s1.sent - s0.sent, 9 * 6, "total_sent grew by %lld", s1.sent - s0.sent);
	cr_expect_geq(s1.query_time - s0.query_time, 200000, "total_query_time grew by %lld us",
	              s1.query_time - s0.query_time);
	cr_expect_geq(s1.xact_time - s0.xact_time, 200000, "total_xact_time grew by %lld us",
	              s1.xact_time - s0.xact_time);
	cr_expect_lt(s1.query_time - s0.query_time, 10000000);
	cr_expect_geq(s1.wait_time, s0.wait_time);

	/* Nothing else moves the counters: the console's own commands, a second look. */
	struct stats s2 = read_stats(a, "postgres", "oltp");
	cr_expect_eq(s2.xact, s1.xact, "SHOW STATS counted the console's commands");
	cr_expect_eq(s2.query, s1.query);
	cr_expect_eq(s2.received, s1.received);

	/* Another database's transactions are its own row's. */
	PGconn *b = it_connect("postgres", NULL, "bench");
	for (int i = 0; i < 3; i++)
		it_exec_ok(b, "SELECT 1");
	struct stats s3 = read_stats(a, "postgres", "oltp");
	struct stats b1 = read_stats(a, "bench", "oltp");
	cr_expect_eq(s3.xact, s1.xact, "bench's transactions were counted for postgres");
	cr_expect_eq(b1.xact, 3, "bench/oltp has total_xact_count %lld, 3 were run", b1.xact);
	cr_expect_eq(b1.query, 3);
	PQfinish(b);
	PQfinish(c);
	PQfinish(a);
}

IT_TEST(admin, show_slow_lists_a_slow_query)
{
	start_admin();
	PGconn *c = it_connect_app("postgres", NULL, "postgres", "it_slowapp");
	PGconn *a = adminq_connect("stats"); /* SHOW is for stats users too */
	PGresult *r = adminq_show(a, "SHOW SLOW");
	adminq_expect_columns(r, "SHOW SLOW", SLOW_COLS, NCOLS(SLOW_COLS));
	int before = PQntuples(r);
	PQclear(r);
	it_exec_ok(c, "SELECT 1 /* it:fastmark */");
	it_exec_ok(c, "SELECT pg_sleep(0.25) /* it:slowmark */");
	r = adminq_show(a, "SHOW SLOW");
	cr_expect_eq(PQntuples(r), before + 1, "SHOW SLOW has %d rows, expected %d", PQntuples(r),
	             before + 1);
	int row = -1;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *q = adminq_cell(r, i, "query");
		cr_expect(!strstr(q, "it:fastmark"), "a fast query is in SHOW SLOW: %s", q);
		if (strstr(q, "it:slowmark"))
			row = i;
	}
	cr_assert_geq(row, 0, "the slow query is not in SHOW SLOW");
	cr_expect_str_eq(adminq_cell(r, row, "query"), "SELECT pg_sleep(0.25) /* it:slowmark */");
	cr_expect_str_eq(adminq_cell(r, row, "database"), "postgres");
	cr_expect_str_eq(adminq_cell(r, row, "user"), "postgres");
	cr_expect_str_eq(adminq_cell(r, row, "lane"), "oltp");
	cr_expect_str_eq(adminq_cell(r, row, "application_name"), "it_slowapp");
	double dur = adminq_cell_num(r, row, "duration_ms");
	cr_expect(dur >= 250 && dur < 5000, "duration_ms = %f", dur);
	double wait = adminq_cell_num(r, row, "wait_ms");
	cr_expect(wait >= 0 && wait < 1000, "wait_ms = %f", wait);
	/* "YYYY-MM-DD HH:MM:SS.mmm+00" */
	const char *at = adminq_cell(r, row, "at");
	int y, mo, d, h, mi, s, ms;
	cr_expect_eq(sscanf(at, "%4d-%2d-%2d %2d:%2d:%2d.%3d+00", &y, &mo, &d, &h, &mi, &s, &ms), 7,
	             "at = \"%s\"", at);
	cr_expect_geq(y, 2024, "at = \"%s\"", at);
	PQclear(r);
	r = adminq_show(a, "SHOW LANES");
	cr_expect_eq(adminq_cell_ll(r, lane_row(r, "postgres", "oltp"), "slow_queries"), 1);
	PQclear(r);
	PQfinish(c);
	PQfinish(a);
}

/* ---- CONFIG, DATABASES, VERSION, REPLICATION, SLOTS, HELP ---- */

/* The SHOW CONFIG row of `key`; fails when absent. */
static int config_row(const PGresult *r, const char *key)
{
	int row = adminq_find(r, "key", key, NULL, NULL);
	cr_assert_geq(row, 0, "SHOW CONFIG has no %s", key);
	return row;
}

IT_TEST(admin, show_config_databases_version)
{
	struct it_pglane *p = start_admin();
	PGconn *c = it_connect("postgres", NULL, "bench");
	it_exec_ok(c, "SELECT 1");
	PGconn *a = adminq_connect("admin");

	PGresult *r = adminq_show(a, "SHOW CONFIG");
	adminq_expect_columns(r, "SHOW CONFIG", CONFIG_COLS, NCOLS(CONFIG_COLS));
	char port[16];
	snprintf(port, sizeof port, "%d", p->port);
	int row = config_row(r, "listen.port");
	cr_expect_str_eq(adminq_cell(r, row, "value"), port);
	cr_expect_str_eq(adminq_cell(r, row, "default"), "6432");
	cr_expect_str_eq(adminq_cell(r, row, "changeable"), "no");
	row = config_row(r, "pool.size");
	cr_expect_str_eq(adminq_cell(r, row, "value"), "2");
	cr_expect_str_eq(adminq_cell(r, row, "default"), "20");
	cr_expect_str_eq(adminq_cell(r, row, "changeable"), "yes");
	cr_expect_str_eq(adminq_cell(r, config_row(r, "pool.mode"), "value"), "transaction");
	cr_expect_str_eq(adminq_cell(r, config_row(r, "admin.stats_users"), "value"), "stats");
	cr_expect_str_eq(adminq_cell(r, config_row(r, "databases.bench.oltp.size"), "value"), "3");
	for (int i = 0; i < PQntuples(r); i++)
		cr_expect_eq(adminq_count(r, "key", adminq_cell(r, i, "key"), NULL, NULL), 1,
		             "SHOW CONFIG key %s is listed twice", adminq_cell(r, i, "key"));
	PQclear(r);

	r = adminq_show(a, "SHOW DATABASES");
	adminq_expect_columns(r, "SHOW DATABASES", DATABASES_COLS, NCOLS(DATABASES_COLS));
	cr_expect_eq(PQntuples(r), 2, "SHOW DATABASES has %d rows", PQntuples(r));
	char pgport[16];
	snprintf(pgport, sizeof pgport, "%d", it_pgport());
	row = adminq_find(r, "name", "postgres", NULL, NULL);
	cr_assert_geq(row, 0);
	cr_expect_str_eq(adminq_cell(r, row, "host"), it_pghost());
	cr_expect_str_eq(adminq_cell(r, row, "port"), pgport);
	cr_expect_eq(adminq_cell_ll(r, row, "pool_size"), 2);
	cr_expect(adminq_is_null(r, row, "olap_pool_size"), "postgres has no olap lane");
	cr_expect_str_eq(adminq_cell(r, row, "pool_mode"), "transaction");
	cr_expect_str_eq(adminq_cell(r, row, "default_lane"), "oltp");
	cr_expect_eq(adminq_cell_ll(r, row, "current_connections"), 0);
	cr_expect_eq(adminq_cell_ll(r, row, "paused"), 0);
	row = adminq_find(r, "name", "bench", NULL, NULL);
	cr_assert_geq(row, 0);
	cr_expect_eq(adminq_cell_ll(r, row, "pool_size"), 3);
	cr_expect_eq(adminq_cell_ll(r, row, "olap_pool_size"), 1);
	cr_expect_eq(adminq_cell_ll(r, row, "current_connections"), 1);
	PQclear(r);

	r = adminq_show(a, "SHOW VERSION");
	static const char *const vcols[] = {"version"};
	adminq_expect_columns(r, "SHOW VERSION", vcols, 1);
	cr_assert_eq(PQntuples(r), 1);
	char *out = NULL;
	cr_assert_eq(it_sh(10, &out, "'%s' --version", it_pglane_bin()), 0);
	char *nl = strchr(out, '\n');
	if (nl)
		*nl = '\0';
	cr_expect_str_eq(PQgetvalue(r, 0, 0), out, "SHOW VERSION says \"%s\", --version \"%s\"",
	                 PQgetvalue(r, 0, 0), out);
	free(out);
	PQclear(r);

	r = adminq_show(a, "SHOW REPLICATION");
	adminq_expect_columns(r, "SHOW REPLICATION", REPL_COLS, NCOLS(REPL_COLS));
	cr_expect_eq(PQntuples(r), 0);
	PQclear(r);
	r = adminq_show(a, "show slots;"); /* case and a trailing ';' do not matter */
	adminq_expect_columns(r, "SHOW SLOTS", SLOTS_COLS, NCOLS(SLOTS_COLS));
	cr_expect_eq(PQntuples(r), 0);
	PQclear(r);
	r = adminq_show(a, "SHOW HELP");
	cr_expect_geq(PQntuples(r), 7);
	static const char *const cmds[] = {"PAUSE", "RESUME",   "RELOAD",   "KILL",
	                                   "SHOW",  "SHUTDOWN", "RECONNECT"};
	for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
		bool found = false;
		for (int i = 0; i < PQntuples(r); i++)
			found = found || strstr(PQgetvalue(r, i, 0), cmds[k]) != NULL;
		cr_expect(found, "SHOW HELP does not mention %s", cmds[k]);
	}
	PQclear(r);
	PQfinish(c);
	PQfinish(a);
}

/* ---- the extended protocol (PQexecParams, PQprepare) ---- */

IT_TEST(admin, extended_protocol_show)
{
	start_admin();
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "SELECT 1");
	PGconn *a = adminq_connect("admin");
	PGresult *r = PQexecParams(a, "SHOW POOLS", 0, NULL, NULL, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	adminq_expect_columns(r, "SHOW POOLS (extended)", POOLS_COLS, NCOLS(POOLS_COLS));
	int row = adminq_find(r, "database", "postgres", "user", "postgres");
	cr_assert_geq(row, 0);
	cr_expect_eq(adminq_cell_ll(r, row, "sv_idle"), 1);
	PQclear(r);

	r = PQprepare(a, "it_v", "SHOW VERSION", 0, NULL);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	r = PQdescribePrepared(a, "it_v");
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	cr_expect_eq(PQnfields(r), 1);
	cr_expect_eq(PQnparams(r), 0);
	PQclear(r);
	for (int i = 0; i < 3; i++) {
		r = PQexecPrepared(a, "it_v", 0, NULL, NULL, NULL, 0);
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		cr_expect_eq(strncmp(PQgetvalue(r, 0, 0), "pglane ", 7), 0, "%s",
		             PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	/* errors over the extended protocol, and the connection goes on */
	r = PQexecParams(a, "SHOW NOTHING", 0, NULL, NULL, NULL, NULL, 0);
	cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	cr_expect_str_eq(it_sqlstate(r), "42601");
	PQclear(r);
	r = PQexecPrepared(a, "it_missing", 0, NULL, NULL, NULL, 0);
	cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	cr_expect_str_eq(it_sqlstate(r), "26000");
	PQclear(r);
	r = PQexecParams(a, "RESUME", 0, NULL, NULL, NULL, NULL, 0);
	cr_expect_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	cr_expect_str_eq(PQcmdStatus(r), "RESUME");
	PQclear(r);
	r = PQexecParams(a, "SHOW CLIENTS", 0, NULL, NULL, NULL, NULL, 0);
	cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	cr_expect_eq(PQntuples(r), 2, "SHOW CLIENTS (extended) has %d rows", PQntuples(r));
	PQclear(r);
	PQfinish(c);
	PQfinish(a);
}

/* ---- who may do what ---- */

/* Run `sql` as the stats user: refused with 42501 and the stats_users message. */
static void expect_stats_refused(PGconn *s, const char *sql, bool extended)
{
	PGresult *r =
	        extended ? PQexecParams(s, sql, 0, NULL, NULL, NULL, NULL, 0) : PQexec(s, sql);
	const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "stats user's `%s`%s: %s", sql,
	             extended ? " (extended)" : "", PQresStatus(PQresultStatus(r)));
	cr_expect_str_eq(it_sqlstate(r), "42501", "stats user's `%s`: %s", sql,
	                 r ? PQresultErrorMessage(r) : PQerrorMessage(s));
	cr_expect(m && strstr(m, "admin.stats_users may only use SHOW"), "`%s`: %s", sql,
	          m ? m : "(no message)");
	PQclear(r);
	cr_assert_eq(PQstatus(s), CONNECTION_OK, "the stats user's console closed after `%s`", sql);
}

IT_TEST(admin, stats_user_cannot_control)
{
	struct it_pglane *p = start_admin();
	PGconn *admin_pg = it_connect_admin();
	/* A client inside a transaction: KILL would close it, RECONNECT would close its
	 * server after COMMIT, PAUSE would hold its next transaction. */
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "BEGIN");
	long long pid = it_query_ll(c, "SELECT pg_backend_pid()");
	/* A valid config with another pool size: RELOAD would apply it. */
	char *conf = it_file_read(p->conf_path);
	cr_assert(conf);
	char *at = strstr(conf, "size = 2;");
	cr_assert(at, "the config has no `size = 2;`:\n%s", conf);
	at[7] = '5';
	PGconn *s = adminq_connect("stats");
	static const char *const controls[] = {
	        "PAUSE",         "PAUSE postgres", "RESUME",    "RESUME postgres",
	        "KILL postgres", "KILL bench",     "RECONNECT", "RECONNECT postgres",
	        "RELOAD",        "SHUTDOWN",       "shutdown;", "Kill \"postgres\""};
	it_file_write(p->conf_path, conf);
	for (int ext = 0; ext < 2; ext++)
		for (size_t i = 0; i < sizeof controls / sizeof controls[0]; i++)
			expect_stats_refused(s, controls[i], ext);
	it_sleep_ms(300);
	cr_assert(it_pglane_alive(), "pglane exited after a stats user's SHUTDOWN");
	/* Nothing happened: the client's transaction goes on, on the same backend. */
	cr_expect_eq(PQstatus(c), CONNECTION_OK);
	cr_expect_eq(it_query_ll(c, "SELECT pg_backend_pid()"), pid);
	it_exec_ok(c, "COMMIT");
	it_sleep_ms(200);
	char q[128];
	snprintf(q, sizeof q, "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld", pid);
	cr_expect_eq(it_query_ll(admin_pg, q), 1, "backend %lld was closed (RECONNECT)", pid);
	/* not paused: a new transaction runs at once */
	PGconn *n = it_connect("postgres", NULL, "postgres");
	cr_assert(PQsendQuery(n, "SELECT 1"));
	bool to = false;
	PGresult *r = it_result_wait(n, 2000, &to);
	cr_expect(!to && PQresultStatus(r) == PGRES_TUPLES_OK, "a new query waited: paused?");
	PQclear(r);
	/* the stats user still may SHOW, and the config did not change */
	r = adminq_show(s, "SHOW CONFIG");
	cr_expect_str_eq(adminq_cell(r, config_row(r, "pool.size"), "value"), "2");
	PQclear(r);
	r = adminq_show(s, "SHOW DATABASES");
	int row = adminq_find(r, "name", "postgres", NULL, NULL);
	cr_assert_geq(row, 0);
	cr_expect_eq(adminq_cell_ll(r, row, "paused"), 0);
	PQclear(r);
	free(conf);
	PQfinish(n);
	PQfinish(c);
	PQfinish(s);
	PQfinish(admin_pg);
}

/* Connect to the console as `user`: refused with 28000 naming the user. */
static void expect_login_refused(const char *user)
{
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, user, NULL, "pglane", NULL);
	PGconn *c = it_connect_try(ci);
	cr_expect_neq(PQstatus(c), CONNECTION_OK, "user %s logged in to the console", user);
	const char *e = it_conn_error(c);
	cr_expect(strstr(e, "28000"), "no SQLSTATE 28000 for %s: %s", user, e);
	cr_expect(strstr(e, "is not allowed to connect to the admin console"), "%s: %s", user, e);
	cr_expect(strstr(e, user), "the error does not name %s: %s", user, e);
	PQfinish(c);
}

IT_TEST(admin, only_admin_and_stats_users_log_in)
{
	start_admin();
	expect_login_refused("postgres");
	expect_login_refused("bob");
	expect_login_refused("Admin"); /* names are exact */
	PGconn *a = adminq_connect("admin");
	PGconn *s = adminq_connect("stats");
	PGresult *r = adminq_show(s, "SHOW POOLS");
	PQclear(r);
	/* and a normal client is not disturbed */
	PGconn *c = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(c, "SELECT 41 + 1"), 42);
	PQfinish(c);
	PQfinish(s);
	PQfinish(a);
}

IT_TEST(admin, default_admin_users)
{
	it_pglane_start("auth = { type = \"trust\"; };\n" IT_DATABASES);
	PGconn *a = adminq_connect("admin");
	PGresult *r = PQexec(a, "RESUME");
	cr_expect_eq(PQresultStatus(r), PGRES_COMMAND_OK, "admin may RESUME: %s",
	             PQresultErrorMessage(r));
	PQclear(r);
	r = adminq_show(a, "SHOW CONFIG");
	cr_expect_str_eq(adminq_cell(r, config_row(r, "admin.users"), "value"), "admin");
	PQclear(r);
	expect_login_refused("stats");
	PQfinish(a);
}

/* ---- garbage ---- */

/* `sql` on the console gets ERROR `state` and the connection goes on. */
static void expect_console_error(PGconn *a, const char *sql, const char *state)
{
	PGresult *r = PQexec(a, sql);
	cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "`%.60s` on the console: %s", sql,
	             PQresStatus(PQresultStatus(r)));
	cr_expect_str_eq(it_sqlstate(r), state, "`%.60s`: %s", sql,
	                 r ? PQresultErrorMessage(r) : PQerrorMessage(a));
	PQclear(r);
	cr_assert_eq(PQstatus(a), CONNECTION_OK, "the console closed after `%.60s`", sql);
	char *v = it_query_str(a, "SHOW VERSION");
	cr_expect_eq(strncmp(v, "pglane", 6), 0);
	free(v);
}

IT_TEST(admin, garbage_simple_protocol)
{
	start_admin();
	PGconn *c = it_connect("postgres", NULL, "postgres");
	PGconn *a = adminq_connect("admin");
	expect_console_error(a, "FOO", "42601");
	expect_console_error(a, "SELECT 1", "42601");
	expect_console_error(a, "SHOW", "42601");
	expect_console_error(a, "SHOW NOTHING", "42601");
	expect_console_error(a, "SHOW POOLS EXTRA", "42601");
	expect_console_error(a, "SHOW \"POOLS", "42601");
	expect_console_error(a, "KILL a b", "42601");
	expect_console_error(a, "PAUSE a b", "42601");
	expect_console_error(a, "RELOAD now", "42601");
	expect_console_error(a, "SHUTDOWN now please", "42601");
	expect_console_error(a, "SHOW \xff\xfe", "42601");
	expect_console_error(a, "a b c d e f g h", "42601");
	cr_assert(it_pglane_alive(), "pglane exited on a malformed SHUTDOWN");
	/* empty queries */
	static const char *const empty[] = {"", ";", "  ;  ; "};
	for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
		PGresult *r = PQexec(a, empty[i]);
		cr_expect_eq(PQresultStatus(r), PGRES_EMPTY_QUERY, "`%s`: %s", empty[i],
		             PQresStatus(PQresultStatus(r)));
		PQclear(r);
	}
	/* a 10 KB word, and 60 KB of blanks before a command */
	size_t n = 10 * 1024;
	char *big = malloc(64 * 1024);
	cr_assert(big);
	memset(big, 'x', n);
	big[n] = '\0';
	expect_console_error(a, big, "42601");
	n = 60 * 1024;
	memset(big, ' ', n);
	strcpy(big + n, "SHOW VERSION");
	char *v = it_query_str(a, big);
	cr_expect_eq(strncmp(v, "pglane ", 7), 0, "%s", v);
	free(v);
	free(big);
	/* 200 KB: an ERROR or the connection closed, and pglane goes on */
	n = 200 * 1024;
	big = malloc(n + 1);
	cr_assert(big);
	memset(big, 'y', n);
	big[n] = '\0';
	PGresult *r = PQexec(a, big);
	cr_expect_neq(PQresultStatus(r), PGRES_TUPLES_OK);
	cr_expect_neq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	free(big);
	PQfinish(a);
	cr_assert(it_pglane_alive(), "pglane died on a 200 KB console query");
	a = adminq_connect("admin");
	r = adminq_show(a, "SHOW POOLS");
	PQclear(r);
	cr_expect_eq(it_query_ll(c, "SELECT 7"), 7, "a normal client broke");
	PQfinish(a);
	PQfinish(c);
}

/* The next messages of `c` are an ErrorResponse with `state` and ReadyForQuery. */
static void expect_raw_error(struct rawpg *c, const char *state, const char *what)
{
	struct rawpg_msg m = rawpg_next(c, RAWPG_TIMEOUT_MS);
	char st[8] = "", msg[256] = "";
	cr_assert_eq(m.type, 'E', "%s: got '%c', expected an ErrorResponse", what, m.type);
	rawpg_error_fields(&m, st, sizeof st, msg, sizeof msg);
	if (state)
		cr_expect_str_eq(st, state, "%s: %s %s", what, st, msg);
	m = rawpg_next(c, RAWPG_TIMEOUT_MS);
	cr_assert_eq(m.type, 'Z', "%s: '%c' after the error, expected ReadyForQuery", what, m.type);
}

/* Parse/Bind/Describe/Execute/Sync of SHOW VERSION works on `c`. */
static void expect_raw_version(struct rawpg *c)
{
	rawpg_parse(c, "", "SHOW VERSION");
	rawpg_bind(c, "", "", NULL, 0);
	rawpg_describe(c, 'P', "");
	rawpg_execute(c, "");
	rawpg_sync(c);
	rawpg_send(c);
	rawpg_expect_seq(c, "12TDCZ");
	cr_expect_eq(strncmp(c->value, "pglane ", 7), 0, "SHOW VERSION: %s", c->value);
}

IT_TEST(admin, garbage_extended_protocol)
{
	struct it_pglane *p = start_admin();
	struct rawpg *c = rawpg_connect(p->port, "admin", "pglane", NULL, 0);
	/* portals and statements that do not exist */
	rawpg_execute(c, "");
	rawpg_sync(c);
	rawpg_send(c);
	expect_raw_error(c, "34000", "Execute without a Bind");
	rawpg_describe(c, 'P', "");
	rawpg_sync(c);
	rawpg_send(c);
	expect_raw_error(c, "34000", "Describe of no portal");
	rawpg_bind(c, "", "it_nosuch", NULL, 0);
	rawpg_execute(c, "");
	rawpg_sync(c);
	rawpg_send(c);
	expect_raw_error(c, "26000", "Bind of a missing statement");
	rawpg_describe(c, 'S', "it_nosuch");
	rawpg_sync(c);
	rawpg_send(c);
	expect_raw_error(c, "26000", "Describe of a missing statement");
	/* an unknown command parses, fails at Execute */
	rawpg_parse(c, "", "FOO BAR");
	rawpg_bind(c, "", "", NULL, 0);
	rawpg_execute(c, "");
	rawpg_sync(c);
	rawpg_send(c);
	rawpg_expect_seq(c, "12");
	expect_raw_error(c, "42601", "Execute of FOO BAR");
	expect_raw_version(c);
	/* malformed and unexpected messages */
	rawpg_raw(c, 'P', "no-terminator", 13);
	rawpg_sync(c);
	rawpg_send(c);
	expect_raw_error(c, NULL, "a Parse without NUL terminators");
	rawpg_raw(c, 'B', "\0", 1);
	rawpg_sync(c);
	rawpg_send(c);
	expect_raw_error(c, NULL, "a truncated Bind");
	/* message types the console does not take end the session (FATAL 08P01) */
	for (int k = 0; k < 2; k++) {
		struct rawpg *g = rawpg_connect(p->port, "admin", "pglane", NULL, 0);
		if (k == 0)
			rawpg_raw(g, 'F', "\0\0\0\1", 4);
		else
			rawpg_raw(g, 'd', "junk", 4);
		rawpg_send(g);
		struct rawpg_msg m = rawpg_next(g, RAWPG_TIMEOUT_MS);
		char st[8] = "", msg[256] = "";
		rawpg_error_fields(&m, st, sizeof st, msg, sizeof msg);
		cr_expect_eq(m.type, 'E', "%s: got '%c'", k ? "a CopyData" : "a FunctionCall",
		             m.type);
		cr_expect_str_eq(st, "08P01", "%s", msg);
		cr_expect(strstr(msg, "invalid frontend message type"), "%s", msg);
		rawpg_close(g);
	}
	/* after an error everything up to the Sync is skipped, then the console goes on */
	rawpg_bind(c, "", "it_nosuch", NULL, 0);
	rawpg_parse(c, "", "SHOW VERSION");
	rawpg_execute(c, "");
	rawpg_sync(c);
	rawpg_send(c);
	expect_raw_error(c, "26000", "a batch after a failing Bind");
	/* many named statements: each parses or is refused, nothing breaks */
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof name, "it_s%d", i);
		rawpg_parse(c, name, "SHOW POOLS");
		rawpg_sync(c);
		rawpg_send(c);
		struct rawpg_msg m = rawpg_next(c, RAWPG_TIMEOUT_MS);
		cr_assert(m.type == '1' || m.type == 'E', "Parse %d answered '%c'", i, m.type);
		rawpg_expect(c, 'Z');
	}
	expect_raw_version(c);
	rawpg_close(c);

	/* a message length below 4, and one over any limit: the connection is dropped */
	static const uint8_t bad_len[] = {'Q', 0, 0, 0, 3};
	static const uint8_t huge_len[] = {'Q', 0x7f, 0xff, 0xff, 0xff};
	const uint8_t *bad[] = {bad_len, huge_len};
	for (int i = 0; i < 2; i++) {
		c = rawpg_connect(p->port, "admin", "pglane", NULL, 0);
		cr_assert_eq(send(c->fd, bad[i], 5, MSG_NOSIGNAL), 5);
		cr_expect(it_wait_closed(c->fd, 5000), "a bad message length did not close it");
		rawpg_vanish(c);
	}
	cr_assert(it_pglane_alive(), "pglane died on garbage from a console client");
	c = rawpg_connect(p->port, "admin", "pglane", NULL, 0);
	expect_raw_version(c);
	rawpg_close(c);
}

/* tests/integration/test_console_compat.c — PgBouncer's tools against pglane's console
 * (issue 16): the console answers to database `pgbouncer`; every SHOW of PgBouncer 1.25 has
 * PgBouncer's columns first, in its order, with its types (PQftype: text, int4, int8,
 * numeric, bytea), as written out here from PgBouncer 1.25.2's src/admin.c and src/stats.c;
 * SHOW POOLS and STATS rows are unique per (database, user) with clients in both lanes (the
 * olap lane's rows are "<db>.olap"); SHOW STATS averages are over the last stats_period; every
 * query prometheus-community's pgbouncer_exporter sends (its collector.go) runs and every
 * column it reads is there and parses; Debian's prometheus-pgbouncer-exporter scrapes pglane
 * while pgbench runs through both lanes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"

#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

#define TEXTOID    25
#define INT4OID    23
#define INT8OID    20
#define NUMERICOID 1700
#define BYTEAOID   17

/* Database postgres: oltp 2, olap 1 (on the primary); clients whose application_name starts
 * with "olap" go to the olap lane; database bench (pgbench's tables) alike; stats_period 1 s so
 * that the averages move in a test. */
#define COMPAT_CONF                                                                                \
	"auth = { type = \"trust\"; };\n"                                                          \
	"admin = { users = [ \"admin\" ]; };\n"                                                    \
	"log = { stats_period = \"1s\"; };\n"                                                      \
	"pool = { mode = \"transaction\"; size = 2; };\n"                                          \
	"routes = ( { application_name = \"olap*\"; lane = \"olap\"; } );\n"                       \
	"databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"             \
	"                oltp = { size = 2; }; olap = { size = 1; }; },\n"                         \
	"              { name = \"bench\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"                \
	"                oltp = { size = 2; }; olap = { size = 1; }; } );\n"

TestSuite(compat, .fini = it_pglane_fini, .timeout = 60);

/* PgBouncer 1.25's columns of one SHOW: names and a type letter each (its tupdesc: s text,
 * i int4, q int8, N numeric, b bytea, T timestamp sent as text). */
struct show_spec {
	const char *cmd;
	const char *types;
	const char *cols[32];
};

static const struct show_spec SPECS[] = {
        {"SHOW POOLS",
         "ssiiiiiiiiiiiiiss",
         {"database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req",
          "cl_waiting_cancel_req", "sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle",
          "sv_used", "sv_tested", "sv_login", "maxwait", "maxwait_us", "pool_mode",
          "load_balance_hosts"}},
        {"SHOW STATS",
         "sNNNNNNNNNNNNNNNNNNNNNN",
         {"database",
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
          "avg_bind_count"}},
        {"SHOW STATS_TOTALS",
         "sNNNNNNNNNNN",
         {"database", "server_assignment_count", "xact_count", "query_count", "bytes_received",
          "bytes_sent", "xact_time", "query_time", "wait_time", "client_parse_count",
          "server_parse_count", "bind_count"}},
        {"SHOW STATS_AVERAGES",
         "sNNNNNNNNNNN",
         {"database", "server_assignment_count", "xact_count", "query_count", "bytes_received",
          "bytes_sent", "xact_time", "query_time", "wait_time", "avg_client_parse_count",
          "avg_server_parse_count", "avg_bind_count"}},
        {"SHOW TOTALS", "sN", {"name", "value"}},
        {"SHOW LISTS", "si", {"list", "items"}},
        {"SHOW USERS",
         "ssssiiii",
         {"name", "pool_size", "reserve_pool_size", "pool_mode", "max_user_connections",
          "current_connections", "max_user_client_connections", "current_client_connections"}},
        {"SHOW DATABASES",
         "ssissiiiissiiiiii",
         {"name", "host", "port", "database", "force_user", "pool_size", "min_pool_size",
          "reserve_pool_size", "server_lifetime", "pool_mode", "load_balance_hosts",
          "max_connections", "current_connections", "max_client_connections",
          "current_client_connections", "paused", "disabled"}},
        {"SHOW CLIENTS",
         "ssssssisiTTiiississii",
         {"type",
          "user",
          "database",
          "replication",
          "state",
          "addr",
          "port",
          "local_addr",
          "local_port",
          "connect_time",
          "request_time",
          "wait",
          "wait_us",
          "close_needed",
          "ptr",
          "link",
          "remote_pid",
          "tls",
          "application_name",
          "prepared_statements",
          "id"}},
        {"SHOW SERVERS",
         "ssssssisiTTiiississii",
         {"type",
          "user",
          "database",
          "replication",
          "state",
          "addr",
          "port",
          "local_addr",
          "local_port",
          "connect_time",
          "request_time",
          "wait",
          "wait_us",
          "close_needed",
          "ptr",
          "link",
          "remote_pid",
          "tls",
          "application_name",
          "prepared_statements",
          "id"}},
        {"SHOW SOCKETS",
         "ssssssisiTTiiississiiiiiiiii",
         {"type",         "user",       "database",   "replication",      "state",
          "addr",         "port",       "local_addr", "local_port",       "connect_time",
          "request_time", "wait",       "wait_us",    "close_needed",     "ptr",
          "link",         "remote_pid", "tls",        "application_name", "prepared_statements",
          "id",           "recv_pos",   "pkt_pos",    "pkt_remain",       "send_pos",
          "send_remain",  "pkt_avail",  "send_avail"}},
        {"SHOW ACTIVE_SOCKETS",
         "ssssssisiTTiiississiiiiiiiii",
         {"type",         "user",       "database",   "replication",      "state",
          "addr",         "port",       "local_addr", "local_port",       "connect_time",
          "request_time", "wait",       "wait_us",    "close_needed",     "ptr",
          "link",         "remote_pid", "tls",        "application_name", "prepared_statements",
          "id",           "recv_pos",   "pkt_pos",    "pkt_remain",       "send_pos",
          "send_remain",  "pkt_avail",  "send_avail"}},
        {"SHOW STATE", "ss", {"key", "value"}},
        {"SHOW MEM", "siiii", {"name", "size", "used", "free", "memtotal"}},
        {"SHOW FDS",
         "issssiqisssssbb",
         {"fd", "task", "user", "database", "addr", "port", "cancel", "link", "client_encoding",
          "std_strings", "datestyle", "timezone", "password", "scram_client_key",
          "scram_server_key"}},
        {"SHOW CONFIG", "ssss", {"key", "value", "default", "changeable"}},
        {"SHOW VERSION", "s", {"version"}},
        {"SHOW PEERS", "isii", {"peer_id", "host", "port", "pool_size"}},
        {"SHOW PEER_POOLS",
         "iiiii",
         {"peer_id", "cl_active_cancel_req", "cl_waiting_cancel_req", "sv_active_cancel",
          "sv_login"}},
};

static Oid oid_of(char t)
{
	switch (t) {
	case 'i':
		return INT4OID;
	case 'q':
		return INT8OID;
	case 'N':
		return NUMERICOID;
	case 'b':
		return BYTEAOID;
	default:
		return TEXTOID; /* 's', and 'T' (PgBouncer sends its timestamps as text) */
	}
}

/* `r` starts with the columns of `spec`, typed as PgBouncer types them. */
static void expect_spec(const PGresult *r, const struct show_spec *spec)
{
	int n = (int)strlen(spec->types);
	cr_assert_geq(PQnfields(r), n, "%s has %d columns, PgBouncer has %d", spec->cmd,
	              PQnfields(r), n);
	for (int i = 0; i < n; i++) {
		cr_expect_str_eq(PQfname(r, i), spec->cols[i],
		                 "%s column %d is %s, PgBouncer's is %s", spec->cmd, i + 1,
		                 PQfname(r, i), spec->cols[i]);
		cr_expect_eq(PQftype(r, i), oid_of(spec->types[i]),
		             "%s column %s has type %u, PgBouncer's is %u", spec->cmd,
		             PQfname(r, i), PQftype(r, i), oid_of(spec->types[i]));
	}
}

/* A client of the postgres database in lane oltp (application "app") or olap ("olap_app"),
 * inside an open transaction so that it holds a server. */
static PGconn *lane_client(bool olap)
{
	PGconn *c = it_connect_app("postgres", NULL, "postgres", olap ? "olap_app" : "app");
	it_exec_ok(c, "BEGIN");
	it_exec_ok(c, "SELECT 1");
	return c;
}

IT_TEST(compat, console_answers_to_pgbouncer_and_pglane)
{
	it_pglane_start(COMPAT_CONF);
	PGconn *a = it_connect("admin", NULL, "pgbouncer");
	PGresult *r = adminq_show(a, "SHOW VERSION");
	cr_expect_eq(PQntuples(r), 1);
	cr_expect(strncmp(PQgetvalue(r, 0, 0), "pglane ", 7) == 0, "version %s",
	          PQgetvalue(r, 0, 0));
	PQclear(r);
	PGconn *b = it_connect("admin", NULL, "pglane");
	r = adminq_show(b, "SHOW STATE");
	cr_expect_eq(PQntuples(r), 3);
	cr_expect_str_eq(PQgetvalue(r, 0, 0), "active");
	cr_expect_str_eq(PQgetvalue(r, 0, 1), "yes");
	PQclear(r);
	/* a normal client may not use the console under either name */
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL,
	            "pgbouncer", NULL);
	PGconn *n = it_connect_try(ci);
	cr_expect_neq(PQstatus(n), CONNECTION_OK, "postgres got into the console");
	PQfinish(n);
	PQfinish(b);
	PQfinish(a);
}

IT_TEST(compat, every_show_has_pgbouncer_columns_and_types)
{
	it_pglane_start(COMPAT_CONF);
	PGconn *oltp = lane_client(false), *olap = lane_client(true);
	PGconn *a = it_connect("admin", NULL, "pgbouncer");
	for (int k = 0; k < NCOLS(SPECS); k++) {
		PGresult *r = adminq_show(a, SPECS[k].cmd);
		expect_spec(r, &SPECS[k]);
		/* every int and numeric cell parses as a number (NULL allowed) */
		int n = (int)strlen(SPECS[k].types);
		for (int row = 0; row < PQntuples(r); row++)
			for (int i = 0; i < n; i++) {
				char t = SPECS[k].types[i];
				if ((t != 'i' && t != 'q' && t != 'N') || PQgetisnull(r, row, i))
					continue;
				char *end;
				strtod(PQgetvalue(r, row, i), &end);
				cr_expect(*PQgetvalue(r, row, i) && !*end, "%s %s row %d: \"%s\"",
				          SPECS[k].cmd, PQfname(r, i), row, PQgetvalue(r, row, i));
			}
		PQclear(r);
	}
	/* SHOW HELP answers (PgBouncer sends it as a notice; pglane as rows) */
	PGresult *r = adminq_show(a, "SHOW HELP");
	cr_expect_gt(PQntuples(r), 0);
	PQclear(r);
	/* the lists carry PgBouncer's names, with pglane's counts where it has them */
	r = adminq_show(a, "SHOW LISTS");
	static const char *const lists[] = {
	        "databases",    "users",        "peers",         "pools",        "peer_pools",
	        "free_clients", "used_clients", "login_clients", "free_servers", "used_servers",
	        "dns_names",    "dns_zones",    "dns_queries",   "dns_pending"};
	cr_expect_eq(PQntuples(r), NCOLS(lists));
	for (int i = 0; i < NCOLS(lists) && i < PQntuples(r); i++)
		cr_expect_str_eq(PQgetvalue(r, i, 0), lists[i]);
	int row = adminq_find(r, "list", "pools", NULL, NULL);
	cr_expect_eq(adminq_cell_ll(r, row, "items"), 2, "one pool per lane");
	row = adminq_find(r, "list", "used_clients", NULL, NULL);
	cr_expect_geq(adminq_cell_ll(r, row, "items"), 2);
	row = adminq_find(r, "list", "used_servers", NULL, NULL);
	cr_expect_eq(adminq_cell_ll(r, row, "items"), 2, "one server per lane's transaction");
	PQclear(r);
	r = adminq_show(a, "SHOW USERS");
	cr_expect_geq(adminq_find(r, "name", "postgres", NULL, NULL), 0, "no user postgres");
	row = adminq_find(r, "name", "postgres", NULL, NULL);
	cr_expect_eq(adminq_cell_ll(r, row, "current_connections"), 2);
	PQclear(r);
	/* the olap client shows in SHOW CLIENTS as postgres.olap, lane olap */
	r = adminq_show(a, "SHOW CLIENTS");
	row = adminq_find(r, "application_name", "olap_app", NULL, NULL);
	cr_assert_geq(row, 0);
	cr_expect_str_eq(adminq_cell(r, row, "database"), "postgres.olap");
	cr_expect_str_eq(adminq_cell(r, row, "lane"), "olap");
	cr_expect_str_eq(adminq_cell(r, row, "replication"), "none");
	PQclear(r);
	it_exec_ok(oltp, "COMMIT");
	it_exec_ok(olap, "COMMIT");
	PQfinish(oltp);
	PQfinish(olap);
	PQfinish(a);
}

/* No two rows of `r` share the values of columns c1 (and c2, when not NULL). */
static void expect_unique(const PGresult *r, const char *what, const char *c1, const char *c2)
{
	for (int i = 0; i < PQntuples(r); i++)
		for (int j = i + 1; j < PQntuples(r); j++) {
			bool same =
			        strcmp(adminq_cell(r, i, c1), adminq_cell(r, j, c1)) == 0 &&
			        (!c2 || strcmp(adminq_cell(r, i, c2), adminq_cell(r, j, c2)) == 0);
			cr_expect(!same, "%s rows %d and %d share %s %s", what, i, j, c1,
			          adminq_cell(r, i, c1));
		}
}

IT_TEST(compat, rows_unique_per_database_user_in_both_lanes)
{
	it_pglane_start(COMPAT_CONF);
	PGconn *oltp = lane_client(false), *olap = lane_client(true);
	PGconn *a = it_connect("admin", NULL, "pgbouncer");
	PGresult *r = adminq_show(a, "SHOW POOLS");
	cr_expect_eq(PQntuples(r), 2, "SHOW POOLS has %d rows, expected one per lane",
	             PQntuples(r));
	expect_unique(r, "SHOW POOLS", "database", "user");
	int row = adminq_find(r, "database", "postgres", "user", "postgres");
	cr_assert_geq(row, 0, "no postgres/postgres row");
	cr_expect_str_eq(adminq_cell(r, row, "lane"), "oltp");
	cr_expect_eq(adminq_cell_ll(r, row, "cl_active"), 1);
	cr_expect_eq(adminq_cell_ll(r, row, "sv_active"), 1);
	row = adminq_find(r, "database", "postgres.olap", "user", "postgres");
	cr_assert_geq(row, 0, "no postgres.olap/postgres row");
	cr_expect_str_eq(adminq_cell(r, row, "lane"), "olap");
	cr_expect_eq(adminq_cell_ll(r, row, "cl_active"), 1);
	cr_expect_eq(adminq_cell_ll(r, row, "sv_active"), 1);
	cr_expect_eq(adminq_cell_ll(r, row, "pool_size"), 1);
	PQclear(r);
	static const char *const per_db[] = {"SHOW STATS", "SHOW STATS_TOTALS",
	                                     "SHOW STATS_AVERAGES"};
	for (int k = 0; k < NCOLS(per_db); k++) {
		r = adminq_show(a, per_db[k]);
		cr_expect_eq(PQntuples(r), 2, "%s has %d rows", per_db[k], PQntuples(r));
		expect_unique(r, per_db[k], "database", NULL);
		cr_expect_geq(adminq_find(r, "database", "postgres.olap", "lane", "olap"), 0);
		PQclear(r);
	}
	it_exec_ok(oltp, "COMMIT");
	it_exec_ok(olap, "COMMIT");
	PQfinish(oltp);
	PQfinish(olap);
	PQfinish(a);
}

IT_TEST(compat, stats_totals_and_period_averages)
{
	it_pglane_start(COMPAT_CONF);
	PGconn *a = it_connect("admin", NULL, "pgbouncer");
	PGconn *c = it_connect_app("postgres", NULL, "postgres", "app");
	/* 20 transactions of one query each */
	for (int i = 0; i < 20; i++)
		it_exec_ok(c, "SELECT 1");
	PGresult *r = adminq_show(a, "SHOW STATS");
	int row = adminq_find(r, "database", "postgres", "lane", "oltp");
	cr_assert_geq(row, 0);
	cr_expect_eq(adminq_cell_ll(r, row, "total_xact_count"), 20);
	cr_expect_eq(adminq_cell_ll(r, row, "total_query_count"), 20);
	cr_expect_eq(adminq_cell_ll(r, row, "total_requests"), 20);
	cr_expect_eq(adminq_cell_ll(r, row, "total_server_assignment_count"), 20,
	             "each transaction is one server assignment");
	PQclear(r);
	/* the averages are those of the last complete stats_period (1 s; the janitor's 0.25 s
	 * tick closes it 1 to 1.25 s after the last): once the period that held the
	 * transactions closes, avg xact_count is their number per second, 1..20 */
	long long avg = 0;
	int64_t deadline = it_now_ms() + 3000;
	while (it_now_ms() < deadline && avg == 0) {
		r = adminq_show(a, "SHOW STATS_AVERAGES");
		row = adminq_find(r, "database", "postgres", "lane", "oltp");
		cr_assert_geq(row, 0);
		avg = adminq_cell_ll(r, row, "xact_count");
		PQclear(r);
		it_sleep_ms(50);
	}
	cr_expect(avg >= 1 && avg <= 20, "avg xact_count %lld", avg);
	/* with no traffic, a later period's averages fall to 0 */
	it_sleep_ms(2600);
	r = adminq_show(a, "SHOW STATS");
	row = adminq_find(r, "database", "postgres", "lane", "oltp");
	cr_expect_eq(adminq_cell_ll(r, row, "avg_xact_count"), 0);
	cr_expect_eq(adminq_cell_ll(r, row, "avg_query_count"), 0);
	cr_expect_eq(adminq_cell_ll(r, row, "total_xact_count"), 20, "totals stay");
	PQclear(r);
	r = adminq_show(a, "SHOW TOTALS");
	row = adminq_find(r, "name", "total_xact_count", NULL, NULL);
	cr_assert_geq(row, 0);
	cr_expect_eq(adminq_cell_ll(r, row, "value"), 20);
	cr_expect_geq(adminq_find(r, "name", "avg_wait_time", NULL, NULL), 0);
	PQclear(r);
	PQfinish(c);
	PQfinish(a);
}

/* prometheus-community's pgbouncer_exporter (collector.go): the columns it maps per SHOW,
 * which it parses as numbers (dbToFloat64: int64, float64, or text/bytes through ParseFloat;
 * NULL is NaN), and the labels it reads as strings. */
struct go_ns {
	const char *cmd;
	const char *labels[8];
	const char *metrics[24];
};

static const struct go_ns GO_NS[] = {
        {"SHOW DATABASES",
         {"name", "host", "port", "database", "force_user", "pool_mode"},
         {"pool_size", "reserve_pool_size", "max_connections", "current_connections", "paused",
          "disabled"}},
        {"SHOW STATS_TOTALS",
         {"database"},
         {"query_count", "query_time", "bytes_received", "bytes_sent", "wait_time", "xact_count",
          "xact_time", "client_parse_count", "server_parse_count", "bind_count",
          "server_assignment_count"}},
        {"SHOW POOLS",
         {"database", "user"},
         {"cl_active", "cl_active_cancel_req", "cl_waiting", "cl_waiting_cancel_req", "sv_active",
          "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used", "sv_tested", "sv_login",
          "maxwait"}},
};

static void go_exporter_run(PGconn *a)
{
	/* getDB pings with SHOW STATS; SHOW VERSION must have exactly one column, "version" */
	PGresult *r = adminq_show(a, "SHOW STATS");
	PQclear(r);
	r = adminq_show(a, "SHOW VERSION;");
	cr_expect_eq(PQnfields(r), 1);
	cr_expect_str_eq(PQfname(r, 0), "version");
	PQclear(r);
	/* SHOW LISTS: exactly two columns, items parse as floats */
	r = adminq_show(a, "SHOW LISTS;");
	cr_expect_eq(PQnfields(r), 2);
	for (int i = 0; i < PQntuples(r); i++) {
		char *end;
		strtod(PQgetvalue(r, i, 1), &end);
		cr_expect(!*end && *PQgetvalue(r, i, 1), "SHOW LISTS %s = \"%s\"",
		          PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	}
	PQclear(r);
	/* SHOW CONFIG: 3 or 4 columns */
	r = adminq_show(a, "SHOW CONFIG;");
	cr_expect(PQnfields(r) == 3 || PQnfields(r) == 4, "SHOW CONFIG has %d columns",
	          PQnfields(r));
	PQclear(r);
	/* SHOW CLIENTS: database, user, state required; application_name read */
	r = adminq_show(a, "SHOW CLIENTS;");
	static const char *const need[] = {"database", "user", "state", "application_name"};
	for (int i = 0; i < NCOLS(need); i++)
		cr_expect_geq(PQfnumber(r, need[i]), 0, "SHOW CLIENTS lacks %s", need[i]);
	PQclear(r);
	for (int k = 0; k < NCOLS(GO_NS); k++) {
		char q[64];
		snprintf(q, sizeof q, "%s;", GO_NS[k].cmd);
		r = adminq_show(a, q);
		for (int i = 0; GO_NS[k].labels[i]; i++)
			cr_expect_geq(PQfnumber(r, GO_NS[k].labels[i]), 0, "%s lacks label %s",
			              GO_NS[k].cmd, GO_NS[k].labels[i]);
		for (int i = 0; GO_NS[k].metrics[i]; i++) {
			int col = PQfnumber(r, GO_NS[k].metrics[i]);
			cr_expect_geq(col, 0, "%s lacks %s", GO_NS[k].cmd, GO_NS[k].metrics[i]);
			if (col < 0)
				continue;
			Oid t = PQftype(r, col);
			cr_expect(t == INT4OID || t == INT8OID || t == NUMERICOID,
			          "%s %s has type %u, not a number", GO_NS[k].cmd,
			          GO_NS[k].metrics[i], t);
			for (int row = 0; row < PQntuples(r); row++) {
				if (PQgetisnull(r, row, col))
					continue;
				char *end;
				strtod(PQgetvalue(r, row, col), &end);
				cr_expect(!*end && *PQgetvalue(r, row, col),
				          "%s %s row %d = \"%s\"", GO_NS[k].cmd,
				          GO_NS[k].metrics[i], row, PQgetvalue(r, row, col));
			}
		}
		if (strcmp(GO_NS[k].cmd, "SHOW POOLS") == 0)
			expect_unique(r, "SHOW POOLS", "database", "user");
		PQclear(r);
	}
}

IT_TEST(compat, go_exporter_queries_with_both_lanes)
{
	it_pglane_start(COMPAT_CONF);
	PGconn *oltp = lane_client(false), *olap = lane_client(true);
	PGconn *a = it_connect("admin", NULL, "pgbouncer");
	go_exporter_run(a);
	it_exec_ok(oltp, "COMMIT");
	it_exec_ok(olap, "COMMIT");
	PQfinish(oltp);
	PQfinish(olap);
	PQfinish(a);
}

#define DEBIAN_EXPORTER "/usr/bin/prometheus-pgbouncer-exporter"

/* The value of the sample `name{database="db"...}` in a Prometheus text body, -1 when absent. */
static double sample(const char *body, const char *name, const char *db)
{
	char key[256];
	snprintf(key, sizeof key, "\n%s{database=\"%s\"", name, db);
	const char *p = strstr(body, key);
	if (!p)
		return -1;
	p = strchr(p + 1, '}');
	return p ? strtod(p + 1, NULL) : -1;
}

IT_TEST(compat, debian_exporter_scrapes_under_pgbench, .timeout = 90)
{
	cr_assert_eq(access(DEBIAN_EXPORTER, X_OK), 0,
	             DEBIAN_EXPORTER " is missing: apt-get install prometheus-pgbouncer-exporter "
	                             "(make deps)");
	struct it_pglane *p = it_pglane_start(COMPAT_CONF);
	char out_oltp[700], out_olap[700], out_exp[700], cmd[1024];
	snprintf(out_oltp, sizeof out_oltp, "%s/pgbench-oltp.out", p->dir);
	snprintf(out_olap, sizeof out_olap, "%s/pgbench-olap.out", p->dir);
	snprintf(out_exp, sizeof out_exp, "%s/exporter.out", p->dir);
	snprintf(cmd, sizeof cmd,
	         "PGAPPNAME=bench exec pgbench -h 127.0.0.1 -p %d -U postgres -n -S -T 4 -c 4 "
	         "bench",
	         p->port);
	pid_t b1 = adminq_bg_start(out_oltp, cmd);
	snprintf(cmd, sizeof cmd,
	         "PGAPPNAME=olap_bench exec pgbench -h 127.0.0.1 -p %d -U postgres -n -S -T 4 -c 2 "
	         "bench",
	         p->port);
	pid_t b2 = adminq_bg_start(out_olap, cmd);
	int http = it_free_port();
	snprintf(cmd, sizeof cmd,
	         "exec " DEBIAN_EXPORTER " --host 127.0.0.1 --port %d --pgbouncer-host 127.0.0.1 "
	         "--pgbouncer-port %d --pgbouncer-user admin",
	         http, p->port);
	pid_t ex = adminq_bg_start(out_exp, cmd);
	it_wait_port(http);
	/* scrape while pgbench runs, until both lanes show transactions */
	double oltp = -1, olap = -1;
	int scrapes = 0;
	char *body = NULL;
	int64_t deadline = it_now_ms() + 8000;
	while (it_now_ms() < deadline) {
		free(body);
		body = NULL;
		int st = adminq_http_get(http, "/metrics", &body);
		cr_assert_eq(st, 200, "the exporter answered %d: %s", st, body ? body : "");
		scrapes++;
		oltp = sample(body, "pgbouncer_requests_total", "bench");
		olap = sample(body, "pgbouncer_requests_total", "bench.olap");
		if (oltp > 0 && olap > 0 && scrapes >= 2)
			break;
		it_sleep_ms(300);
	}
	cr_expect_gt(oltp, 0, "no oltp requests in %d scrapes:\n%s", scrapes, body ? body : "");
	cr_expect_gt(olap, 0, "no olap requests in %d scrapes:\n%s", scrapes, body ? body : "");
	cr_expect_gt(sample(body ? body : "", "pgbouncer_received_bytes_total", "bench"), 0);
	cr_expect(body && strstr(body, "\npgbouncer_pools "), "no pgbouncer_pools (SHOW LISTS)");
	cr_expect(body && strstr(body, "\npgbouncer_pool_size{database="),
	          "no pgbouncer_pool_size (SHOW DATABASES)");
	cr_expect(body && strstr(body, "\npgbouncer_active_clients{database="),
	          "no pgbouncer_active_clients (SHOW POOLS)");
	free(body);
	adminq_wait_exit(ex, 0, true);
	char *log = it_file_read(out_exp);
	cr_expect(log && !strstr(log, "Traceback"), "the exporter failed:\n%s", log ? log : "");
	free(log);
	for (int k = 0; k < 2; k++) {
		pid_t b = k ? b2 : b1;
		int st = adminq_wait_exit(b, 30000, true);
		char *out = it_file_read(k ? out_olap : out_oltp);
		cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		          "pgbench ended %d:\n%s", st, out ? out : "");
		free(out);
	}
}

IT_TEST(compat, stats_prepared_statement_counts)
{
	it_pglane_start(
	        "auth = { type = \"trust\"; };\n"
	        "admin = { users = [ \"admin\" ]; };\n"
	        "pool = { mode = \"transaction\"; size = 1; max_prepared_statements = 10; };\n"
	        "databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; } "
	        ");\n");
	PGconn *a = it_connect("admin", NULL, "pgbouncer");
	PGconn *c = it_connect("postgres", NULL, "postgres");
	/* one named Parse from the client, prepared once on the one server, bound 3 times */
	PGresult *r = PQprepare(c, "s1", "SELECT $1::int + 1", 1, NULL);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
	PQclear(r);
	for (int i = 0; i < 3; i++) {
		const char *v[] = {"41"};
		r = PQexecPrepared(c, "s1", 1, v, NULL, NULL, 0);
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
		cr_expect_str_eq(PQgetvalue(r, 0, 0), "42");
		PQclear(r);
	}
	r = adminq_show(a, "SHOW STATS");
	int row = adminq_find(r, "database", "postgres", "lane", "oltp");
	cr_assert_geq(row, 0);
	cr_expect_eq(adminq_cell_ll(r, row, "total_client_parse_count"), 1);
	cr_expect_eq(adminq_cell_ll(r, row, "total_server_parse_count"), 1);
	cr_expect_eq(adminq_cell_ll(r, row, "total_bind_count"), 3);
	PQclear(r);
	r = adminq_show(a, "SHOW STATS_TOTALS");
	row = adminq_find(r, "database", "postgres", "lane", "oltp");
	cr_assert_geq(row, 0);
	cr_expect_eq(adminq_cell_ll(r, row, "bind_count"), 3);
	PQclear(r);
	PQfinish(c);
	PQfinish(a);
}

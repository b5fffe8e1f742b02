/* tests/integration/test_replication.c — replication health and OLAP routing by lag (issue 6)
 * against a real streaming standby: each test builds one with `tests/pg.sh standby` (pg_basebackup
 * -R -X stream through physical slot it_repl_phys, in its own temp dir on a free 127.0.0.1 port)
 * and pglane watches the test PostgreSQL (primary of database bench) and the standby (its olap
 * replica) every second, max_replica_lag 2 s.
 *
 * SHOW REPLICATION shows the primary, the replica (recovery, healthy, lag) and the standby row
 * the primary reports (streaming); SHOW SLOTS the physical and a logical slot (test_decoding)
 * with retained bytes that grow while the logical slot is not consumed; /metrics the same
 * figures. Replay paused on the standby pushes its lag over the limit: the olap lane moves to
 * the primary within two monitor intervals (or refuses with 57P03 when olap.fallback is false)
 * and returns after pg_wal_replay_resume(). A stopped standby, a standby that stops answering
 * (SIGSTOP) and a promoted one are noticed; nothing hangs: every wait is bounded.
 *
 * Which server ran an olap query is read from inet_server_port() and pg_is_in_recovery().
 * Environment from tests/run.sh besides the harness's: PGLANE_TEST_PGDIR (the primary's
 * tests/pg.sh directory) and PGLANE_TEST_PGSH (tests/pg.sh). .fini stops the standby, removes
 * its data and drops the slots and the table the tests made on the primary. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

static void repl_fini(void);

TestSuite(replication, .fini = repl_fini, .timeout = 150);

#define INTERVAL_MS  1000 /* monitor.interval */
#define MAX_LAG_MS   2000 /* olap.max_replica_lag */
#define NO_ANSWER_MS 2000 /* max(2 s, 2 intervals): a server silent this long is unhealthy */
#define SLOT_PHYS    "it_repl_phys"
#define SLOT_LOGICAL "it_repl_logical"
#define TICKS        "it_repl_ticks" /* a table on the primary (database postgres) to write to */
#define WHERE_SQL    "SELECT inet_server_port(), pg_is_in_recovery()"
#define OLAP_SQL     "/* lane: olap */ " WHERE_SQL
#define NCOLS(a)     ((int)(sizeof(a) / sizeof((a)[0])))

static const char *const REPL_COLS[] = {"database",  "host",    "port",
                                        "role",      "state",   "replay_lag_ms",
                                        "lag_bytes", "healthy", "checked_at"};
static const char *const SLOTS_COLS[] = {"database", "slot_name", "slot_type", "active",
                                         "retained_bytes"};

static struct {
	char dir[512];    /* the standby's tests/pg.sh directory; "" when there is none */
	int port;         /* the standby's port */
	int http_port;    /* pglane's admin.http_port */
	pid_t stopped[4]; /* standby processes sent SIGSTOP: .fini continues them */
	int nstopped;
} g;

/* ---- environment, the standby, cleanup ---- */

static const char *env_path(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v && *v, "%s is not set: run the integration tests with tests/run.sh", name);
	return v;
}

/* Run `sql` on the primary's database postgres, no assertions (for .fini); true when it
 * succeeded. */
static bool primary_try(const char *sql)
{
	const char *port = getenv("PGLANE_TEST_PGPORT");
	if (!port)
		return false;
	char ci[512];
	snprintf(ci, sizeof ci,
	         "host=127.0.0.1 port=%s user=postgres dbname=postgres connect_timeout=5", port);
	PGconn *c = PQconnectdb(ci);
	bool ok = false;
	if (PQstatus(c) == CONNECTION_OK) {
		PGresult *r = PQexec(c, sql);
		ok = PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
	}
	PQfinish(c);
	return ok;
}

#define DROP_SLOTS_SQL                                                                             \
	"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"                     \
	" WHERE slot_name IN ('" SLOT_PHYS "', '" SLOT_LOGICAL "') AND NOT active"
#define SLOTS_LEFT_SQL                                                                             \
	"SELECT 1 / (count(*) = 0)::int FROM pg_replication_slots"                                 \
	" WHERE slot_name IN ('" SLOT_PHYS "', '" SLOT_LOGICAL "')"

/* Drop the test's slots (a walsender may take a moment to let go of the physical one). */
static void drop_slots(void)
{
	for (int i = 0; i < 50; i++) {
		primary_try(DROP_SLOTS_SQL);
		if (primary_try(SLOTS_LEFT_SQL))
			return;
		it_sleep_ms(100);
	}
}

static void repl_fini(void)
{
	it_pglane_fini();
	for (int i = 0; i < g.nstopped; i++)
		kill(g.stopped[i], SIGCONT);
	const char *pgsh = getenv("PGLANE_TEST_PGSH");
	if (g.dir[0] && pgsh) {
		int rc = it_sh(90, NULL, "'%s' stop '%s' && rm -rf '%s/data'", pgsh, g.dir, g.dir);
		if (rc != 0)
			fprintf(stderr, "test_replication: stopping the standby in %s: exit %d\n",
			        g.dir, rc);
	}
	drop_slots();
	primary_try("DROP TABLE IF EXISTS " TICKS);
}

/* The table to write to, the standby (with slot SLOT_PHYS), and with `logical` a logical slot
 * on database bench that nobody consumes; then pglane with the standby as bench's replica. */
static void setup(bool logical, bool fallback)
{
	drop_slots(); /* left by a test that was killed */
	PGconn *pr = it_connect_admin();
	it_exec_ok(pr, "CREATE TABLE IF NOT EXISTS " TICKS " (at timestamptz DEFAULT now())");
	PQfinish(pr);

	/* picked now: it_free_port() seeds with the time, pglane's own port comes later */
	it_mkdtemp(g.dir, sizeof g.dir);
	g.port = it_free_port();
	do {
		it_sleep_ms(2);
		g.http_port = it_free_port();
	} while (g.http_port == g.port);
	char *out = NULL;
	int64_t t0 = it_now_ms();
	int rc = it_sh(120, &out, "'%s' standby '%s' '%s' %d %s", env_path("PGLANE_TEST_PGSH"),
	               env_path("PGLANE_TEST_PGDIR"), g.dir, g.port, SLOT_PHYS);
	cr_assert_eq(rc, 0, "tests/pg.sh standby failed (exit %d):\n%s", rc, out ? out : "");
	cr_log_info("standby on port %d in %lld ms", g.port, (long long)(it_now_ms() - t0));
	free(out);

	if (logical) {
		PGconn *b = it_connect_direct("postgres", NULL, "bench");
		it_exec_ok(b, "SELECT pg_create_logical_replication_slot('" SLOT_LOGICAL
		              "', 'test_decoding')");
		PQfinish(b);
	}

	char conf[2048];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "admin = { http_port = %d; };\n"
	         "monitor = { interval = \"1s\"; };\n"
	         "pool = { mode = \"transaction\"; size = 2; query_wait_timeout = \"10s\"; };\n"
	         "databases = ( { name = \"bench\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"
	         "  olap = { size = 2; replicas = ( { host = \"127.0.0.1\"; port = %d; } );\n"
	         "           max_replica_lag = \"2s\"; fallback = %s; }; } );\n",
	         g.http_port, g.port, fallback ? "true" : "false");
	it_pglane_start(conf);
}

static PGconn *connect_to(int port, const char *user, const char *dbname)
{
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, port, user, NULL, dbname, NULL);
	PGconn *c = it_connect_try(ci);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "connect %s@%s to port %d: %s", user, dbname, port,
	             it_conn_error(c));
	return c;
}

static PGconn *standby_conn(void)
{
	return connect_to(g.port, "postgres", "postgres");
}

static PGconn *console(void)
{
	return connect_to(it_pglane_current()->port, "admin", "pglane");
}

/* ---- bounded queries ---- */

/* Run `sql`: its result (maybe an error) within timeout_ms, else the test fails. */
static PGresult *run(PGconn *c, const char *sql, int timeout_ms)
{
	cr_assert(PQsendQuery(c, sql), "sending `%s`: %s", sql, PQerrorMessage(c));
	bool to;
	PGresult *r = it_result_wait(c, timeout_ms, &to);
	cr_assert(!to, "`%s`: no answer within %d ms", sql, timeout_ms);
	cr_assert(r, "`%s`: %s", sql, PQerrorMessage(c));
	return r;
}

static PGresult *run_ok(PGconn *c, const char *sql, int timeout_ms)
{
	PGresult *r = run(c, sql, timeout_ms);
	ExecStatusType st = PQresultStatus(r);
	cr_assert(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "`%s`: %s %s %s", sql,
	          PQresStatus(st), it_sqlstate(r), PQresultErrorMessage(r));
	return r;
}

static void exec_ok(PGconn *c, const char *sql)
{
	PQclear(run_ok(c, sql, 10000));
}

/* The port of the server that produced `r` (WHERE_SQL's answer, maybe hinted); it must agree
 * with pg_is_in_recovery(): the standby is in recovery unless `promoted`, the primary not. */
static int port_of(PGresult *r, const char *sql, bool promoted)
{
	ExecStatusType st = PQresultStatus(r);
	cr_assert_eq(st, PGRES_TUPLES_OK, "`%s`: %s %s %s", sql, PQresStatus(st), it_sqlstate(r),
	             PQresultErrorMessage(r));
	int port = atoi(PQgetvalue(r, 0, 0));
	bool recovery = PQgetvalue(r, 0, 1)[0] == 't';
	PQclear(r);
	cr_assert(port == g.port || port == it_pgport(),
	          "`%s` ran on port %d: neither the primary (%d) nor the standby (%d)", sql, port,
	          it_pgport(), g.port);
	cr_assert_eq(recovery, port == g.port && !promoted, "port %d says pg_is_in_recovery() = %d",
	             port, recovery);
	return port;
}

static int served_by(PGconn *c, const char *sql, bool promoted)
{
	return port_of(run(c, sql, 5000), sql, promoted);
}

/* Run OLAP_SQL every 100 ms until it runs on `port`: the milliseconds it took, or -1 after
 * timeout_ms. With `refusals`, 57P03 answers are counted there; any other error fails. */
static int wait_route(PGconn *c, int port, int timeout_ms, int *refusals)
{
	int64_t t0 = it_now_ms();
	for (;;) {
		PGresult *r = run(c, OLAP_SQL, 5000);
		if (refusals && PQresultStatus(r) == PGRES_FATAL_ERROR &&
		    strcmp(it_sqlstate(r), "57P03") == 0) {
			(*refusals)++;
			PQclear(r);
		} else if (port_of(r, OLAP_SQL, false) == port) {
			return (int)(it_now_ms() - t0);
		}
		if (it_now_ms() - t0 > timeout_ms)
			return -1;
		it_sleep_ms(100);
	}
}

/* ---- SHOW REPLICATION ---- */

struct view {
	bool found;
	char host[128];
	bool port_null;
	char role[16];
	char state[200];
	long long lag_ms;    /* -1 for NULL */
	long long lag_bytes; /* -1 for NULL */
	bool healthy;
	char checked_at[40];
};

static void expect_columns(const PGresult *r, const char *what, const char *const *cols, int n)
{
	cr_assert_eq(PQnfields(r), n, "%s: %d columns, expected %d", what, PQnfields(r), n);
	for (int i = 0; i < n; i++)
		cr_assert_str_eq(PQfname(r, i), cols[i], "%s: column %d", what, i);
}

static long long num_or_null(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return -1;
	char *end;
	const char *s = PQgetvalue(r, row, col);
	long long v = strtoll(s, &end, 10);
	cr_assert(*s && !*end && v >= 0, "column %s is `%s`, not a count", PQfname(r, col), s);
	return v;
}

/* The SHOW REPLICATION row of database bench for the server on `port` (the primary or the
 * replica), or with port 0 the row of the standby as the primary reports it. */
static struct view view_of(const PGresult *r, int port)
{
	struct view v = {0};
	char standby[64];
	snprintf(standby, sizeof standby, "127.0.0.1 standby_%d", g.port);
	for (int i = 0; i < PQntuples(r); i++) {
		if (strcmp(PQgetvalue(r, i, 0), "bench") != 0)
			continue;
		bool match = port ? !PQgetisnull(r, i, 2) && atoi(PQgetvalue(r, i, 2)) == port
		                  : strcmp(PQgetvalue(r, i, 3), "standby") == 0 &&
		                             strcmp(PQgetvalue(r, i, 1), standby) == 0;
		if (!match)
			continue;
		cr_assert(!v.found, "two SHOW REPLICATION rows for %s",
		          port ? PQgetvalue(r, i, 2) : standby);
		v.found = true;
		snprintf(v.host, sizeof v.host, "%s", PQgetvalue(r, i, 1));
		v.port_null = PQgetisnull(r, i, 2);
		snprintf(v.role, sizeof v.role, "%s", PQgetvalue(r, i, 3));
		snprintf(v.state, sizeof v.state, "%s", PQgetvalue(r, i, 4));
		v.lag_ms = num_or_null(r, i, 5);
		v.lag_bytes = num_or_null(r, i, 6);
		const char *h = PQgetvalue(r, i, 7);
		cr_assert(strcmp(h, "yes") == 0 || strcmp(h, "no") == 0, "healthy is `%s`", h);
		v.healthy = strcmp(h, "yes") == 0;
		snprintf(v.checked_at, sizeof v.checked_at, "%s", PQgetvalue(r, i, 8));
	}
	return v;
}

static PGresult *show(PGconn *con, const char *cmd)
{
	PGresult *r = run(con, cmd, 2000);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", cmd, PQresultErrorMessage(r));
	expect_columns(r, cmd, strcmp(cmd, "SHOW SLOTS") ? REPL_COLS : SLOTS_COLS,
	               strcmp(cmd, "SHOW SLOTS") ? NCOLS(REPL_COLS) : NCOLS(SLOTS_COLS));
	return r;
}

static struct view view(PGconn *con, int port)
{
	PGresult *r = show(con, "SHOW REPLICATION");
	struct view v = view_of(r, port);
	PQclear(r);
	return v;
}

#define VIEW_FMT     "found %d role %s state \"%s\" replay_lag_ms %lld lag_bytes %lld healthy %d"
#define VIEW_ARGS(v) (v).found, (v).role, (v).state, (v).lag_ms, (v).lag_bytes, (v).healthy

static bool fresh_replica(const struct view *v)
{
	return v->found && v->healthy && !strcmp(v->role, "replica") &&
	       !strcmp(v->state, "recovery") && v->lag_ms >= 0 && v->lag_ms <= MAX_LAG_MS;
}

static bool healthy_primary(const struct view *v)
{
	return v->found && v->healthy && !strcmp(v->role, "primary") &&
	       !strcmp(v->state, "primary");
}

static bool caught_up(const struct view *v)
{
	return fresh_replica(v) && v->lag_ms == 0;
}

static bool lagging(const struct view *v)
{
	return v->found && v->healthy && !strcmp(v->role, "replica") && v->lag_ms > MAX_LAG_MS;
}

static bool unreachable(const struct view *v)
{
	return v->found && !v->healthy && !strncmp(v->state, "unreachable", 11);
}

static bool promoted(const struct view *v)
{
	return v->found && v->healthy && !strcmp(v->state, "promoted");
}

/* the standby row: streaming, and the primary has heard where the standby is */
static bool streaming(const struct view *v)
{
	return v->found && !strcmp(v->state, "streaming") && v->lag_bytes >= 0;
}

static bool gone(const struct view *v)
{
	return !v->found;
}

/* Poll SHOW REPLICATION every 100 ms until `pred` holds for the row of `port` (0: the
 * standby row): the milliseconds it took, or -1 after timeout_ms; the last view in *last. */
static int wait_view(PGconn *con, int port, bool (*pred)(const struct view *), int timeout_ms,
                     struct view *last)
{
	int64_t t0 = it_now_ms();
	for (;;) {
		*last = view(con, port);
		if (pred(last))
			return (int)(it_now_ms() - t0);
		if (it_now_ms() - t0 > timeout_ms)
			return -1;
		it_sleep_ms(100);
	}
}

/* The replica healthy and fresh, and the olap lane on it (pglane starts on the primary until
 * the monitor's first answer; without fallback it refuses until then). */
static void expect_on_replica(PGconn *con, PGconn *c)
{
	struct view v;
	int ms = wait_view(con, g.port, fresh_replica, 8000, &v);
	cr_assert_geq(ms, 0, "the replica is not healthy and fresh after 8 s: " VIEW_FMT,
	              VIEW_ARGS(v));
	ms = wait_view(con, it_pgport(), healthy_primary, 5000, &v);
	cr_assert_geq(ms, 0, "the primary is not healthy after 5 s: " VIEW_FMT, VIEW_ARGS(v));
	int refusals = 0;
	ms = wait_route(c, g.port, 3000, &refusals);
	cr_assert_geq(ms, 0, "the olap lane is not on the fresh replica %d after 3 s", g.port);
	cr_expect_eq(served_by(c, WHERE_SQL, false), it_pgport(),
	             "oltp did not run on the primary");
}

/* ---- slots, metrics ---- */

/* retained_bytes of slot `name` in SHOW SLOTS (-2 when there is no row); type and active
 * into the buffers when not NULL. */
static long long slot_of(const PGresult *r, const char *name, char *type, char *active)
{
	for (int i = 0; i < PQntuples(r); i++) {
		if (strcmp(PQgetvalue(r, i, 0), "bench") || strcmp(PQgetvalue(r, i, 1), name))
			continue;
		if (type)
			snprintf(type, 16, "%s", PQgetvalue(r, i, 2));
		if (active)
			snprintf(active, 8, "%s", PQgetvalue(r, i, 3));
		return num_or_null(r, i, 4);
	}
	return -2;
}

static long long slot_retained(PGconn *con, const char *name)
{
	PGresult *r = show(con, "SHOW SLOTS");
	long long v = slot_of(r, name, NULL, NULL);
	PQclear(r);
	return v;
}

/* GET /metrics from admin.http_port: the body (malloc'ed); the status must be 200. */
static char *metrics(void)
{
	int fd = it_tcp_connect(g.http_port);
	static const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	cr_assert_eq(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	cr_assert(buf);
	int64_t deadline = it_now_ms() + 3000;
	for (;;) {
		int left = (int)(deadline - it_now_ms());
		cr_assert_gt(left, 0, "/metrics: not closed within 3 s");
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, left) <= 0)
			continue;
		if (len + 4096 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert(buf);
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	cr_assert(strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 8, " 200", 4) == 0,
	          "/metrics: %.80s", buf);
	char *body = strstr(buf, "\r\n\r\n");
	cr_assert(body, "/metrics: no end of headers");
	char *out = strdup(body + 4);
	free(buf);
	return out;
}

/* The value of the sample `series` (name{labels}, exactly) in a metrics body; NAN when absent,
 * the test fails when it appears twice. */
static double sample(const char *body, const char *series)
{
	double v = NAN;
	size_t n = strlen(series);
	for (const char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, series, n) != 0 || p[n] != ' ')
			continue;
		cr_assert(isnan(v), "/metrics has %s twice", series);
		v = strtod(p + n + 1, NULL);
	}
	return v;
}

/* How many samples of family `name` a metrics body has. */
static int samples(const char *body, const char *name)
{
	int count = 0;
	size_t n = strlen(name);
	for (const char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == '{')
			count++;
	return count;
}

/* ---- the tests ---- */

/* The standby streaming with its lag on both sides, both slots with retained bytes, the
 * logical one's growing while nobody consumes it; olap on the replica, oltp on the primary. */
IT_TEST(replication, show_replication_and_slots)
{
	setup(true, true);
	PGconn *con = console();
	PGconn *c = it_connect("postgres", NULL, "bench");
	expect_on_replica(con, c);

	struct view v = view(con, g.port);
	cr_expect_str_eq(v.host, "127.0.0.1");
	cr_expect_str_eq(v.role, "replica");
	cr_expect_str_eq(v.state, "recovery");
	cr_expect(v.healthy);
	cr_expect(v.lag_ms >= 0 && v.lag_ms <= MAX_LAG_MS, "replica lag %lld ms", v.lag_ms);
	cr_expect_geq(v.lag_bytes, 0, "replica lag_bytes is NULL");
	cr_expect_neq(v.checked_at[0], '\0', "the replica's checked_at is empty");

	v = view(con, it_pgport());
	cr_expect(v.found, "no SHOW REPLICATION row for the primary");
	cr_expect_str_eq(v.role, "primary");
	cr_expect_str_eq(v.state, "primary");
	cr_expect(v.healthy, "the primary is not healthy: %s", v.state);
	cr_expect_eq(v.lag_ms, 0);
	cr_expect_eq(v.lag_bytes, 0);
	cr_expect_neq(v.checked_at[0], '\0', "the primary's checked_at is empty");

	int ms = wait_view(con, 0, streaming, 5000, &v);
	cr_assert_geq(ms, 0, "no standby row streaming from the primary: " VIEW_FMT, VIEW_ARGS(v));
	cr_expect(v.port_null, "the standby row has a port");
	cr_expect_str_eq(v.role, "standby");
	cr_expect(v.healthy, "a streaming standby row says healthy = no");
	cr_expect_geq(v.lag_ms, 0, "the standby's replay_lag_ms is NULL");
	cr_expect_geq(v.lag_bytes, 0, "the standby's lag_bytes is NULL");

	char type[16] = "", active[8] = "";
	PGresult *r = show(con, "SHOW SLOTS");
	long long phys = slot_of(r, SLOT_PHYS, type, active);
	cr_expect_geq(phys, 0, "physical slot " SLOT_PHYS ": retained_bytes %lld", phys);
	cr_expect_str_eq(type, "physical");
	cr_expect_str_eq(active, "yes", "the standby streams through " SLOT_PHYS);
	long long logical = slot_of(r, SLOT_LOGICAL, type, active);
	cr_assert_geq(logical, 0, "logical slot " SLOT_LOGICAL ": retained_bytes %lld", logical);
	cr_expect_str_eq(type, "logical");
	cr_expect_str_eq(active, "no", "nobody consumes " SLOT_LOGICAL);
	PQclear(r);

	/* about 450 kB of WAL the logical slot must keep */
	PGconn *pr = it_connect_admin();
	exec_ok(pr, "INSERT INTO " TICKS " SELECT now() FROM generate_series(1, 10000)");
	long long now = logical;
	int64_t t0 = it_now_ms();
	while (now < logical + 100000 && it_now_ms() - t0 < 5000) {
		it_sleep_ms(100);
		now = slot_retained(con, SLOT_LOGICAL);
	}
	cr_expect_geq(now, logical + 100000,
	              "retained_bytes of " SLOT_LOGICAL " %lld -> %lld after writing WAL", logical,
	              now);
	PQfinish(pr);
	PQfinish(c);
	PQfinish(con);
}

/* Pause replay and write on the primary: the standby receives WAL it does not replay. The
 * replica must first be caught up (lag 0), so that its lag counts from about now: the time
 * of that last view is returned. */
static int64_t start_lag(PGconn *con, PGconn *sb, PGconn *pr)
{
	struct view v;
	int ms = wait_view(con, g.port, caught_up, 5000, &v);
	cr_assert_geq(ms, 0, "the replica is not caught up: " VIEW_FMT, VIEW_ARGS(v));
	int64_t t0 = it_now_ms();
	exec_ok(sb, "SELECT pg_wal_replay_pause()");
	exec_ok(pr, "INSERT INTO " TICKS " DEFAULT VALUES");
	int64_t deadline = it_now_ms() + 3000;
	for (;;) {
		char *st = it_query_str(sb, "SELECT pg_get_wal_replay_pause_state()");
		bool paused = strcmp(st, "paused") == 0;
		free(st);
		if (paused)
			break;
		cr_assert_lt(it_now_ms(), deadline, "replay not paused after 3 s");
		it_sleep_ms(50);
	}
	return t0;
}

/* Replay paused: the olap lane moves to the primary within two monitor intervals of the lag
 * passing max_replica_lag (not before), the servers it had on the replica are closed; after
 * pg_wal_replay_resume() it is back on the replica within a few intervals. */
IT_TEST(replication, lag_moves_olap_to_primary_and_back)
{
	setup(false, true);
	PGconn *con = console();
	PGconn *c = it_connect("postgres", NULL, "bench");
	PGconn *sb = standby_conn();
	PGconn *pr = it_connect_admin();
	expect_on_replica(con, c);

	int64_t t0 = start_lag(con, sb, pr);
	int64_t limit = MAX_LAG_MS + 2 * INTERVAL_MS + 750, moved = -1;
	struct view v = {0};
	while (it_now_ms() - t0 <= limit) {
		if (served_by(c, OLAP_SQL, false) == it_pgport()) {
			moved = it_now_ms() - t0;
			v = view(con, g.port);
			break;
		}
		it_sleep_ms(100);
	}
	cr_assert_geq(moved, 0, "olap still on the replica %lld ms after replay paused; " VIEW_FMT,
	              (long long)limit, VIEW_ARGS(view(con, g.port)));
	cr_log_info("olap moved to the primary %lld ms after replay paused", (long long)moved);
	/* the lag was under the limit when last caught up less than an interval before t0 */
	cr_expect_geq(moved, MAX_LAG_MS - INTERVAL_MS - 100,
	              "olap left the replica %lld ms after replay paused: before the lag could "
	              "pass %d ms",
	              (long long)moved, MAX_LAG_MS);
	cr_expect(lagging(&v), "olap on the primary, but SHOW REPLICATION says " VIEW_FMT,
	          VIEW_ARGS(v));
	cr_expect_str_eq(v.state, "recovery");
	for (int i = 0; i < 5; i++)
		cr_expect_eq(served_by(c, OLAP_SQL, false), it_pgport(),
		             "olap query %d left the "
		             "primary while lagging",
		             i);
	cr_expect_eq(served_by(c, WHERE_SQL, false), it_pgport());

	/* pglane's olap servers on the standby are closed (the monitor's connection stays) */
	long long left = -1;
	int64_t t1 = it_now_ms();
	do {
		if (left >= 0)
			it_sleep_ms(100);
		left = it_query_ll(sb, "SELECT count(*) FROM pg_stat_activity WHERE backend_type ="
		                       " 'client backend' AND pid <> pg_backend_pid()"
		                       " AND application_name <> 'pglane-monitor'");
	} while (left != 0 && it_now_ms() - t1 < 2000);
	cr_expect_eq(left, 0, "%lld pglane server(s) still on the lagging standby", left);

	t1 = it_now_ms();
	exec_ok(sb, "SELECT pg_wal_replay_resume()");
	int ms = wait_route(c, g.port, 3 * INTERVAL_MS + 1000, NULL);
	cr_expect_geq(ms, 0, "olap not back on the replica %d ms after resume; " VIEW_FMT,
	              3 * INTERVAL_MS + 1000, VIEW_ARGS(view(con, g.port)));
	cr_log_info("olap back on the replica %d ms after resume", ms);
	v = view(con, g.port);
	cr_expect(fresh_replica(&v), "olap back on the replica, but " VIEW_FMT, VIEW_ARGS(v));
	char *log = it_pglane_log();
	cr_expect(strstr(log, "olap lane of bench now uses the primary"),
	          "no log line for the move");
	free(log);
	PQfinish(pr);
	PQfinish(sb);
	PQfinish(c);
	PQfinish(con);
}

/* fallback = false: while the replica lags, olap queries are refused with 57P03 (promptly,
 * the connection stays usable, oltp unaffected); after resume they run on the replica. */
IT_TEST(replication, lag_without_fallback_refuses)
{
	setup(false, false);
	PGconn *con = console();
	PGconn *c = it_connect("postgres", NULL, "bench");
	PGconn *sb = standby_conn();
	PGconn *pr = it_connect_admin();
	expect_on_replica(con, c);

	start_lag(con, sb, pr);
	struct view v;
	int ms = wait_view(con, g.port, lagging, MAX_LAG_MS + 2 * INTERVAL_MS + 1000, &v);
	cr_assert_geq(ms, 0, "the paused replica never lagged over the limit: " VIEW_FMT,
	              VIEW_ARGS(v));
	it_sleep_ms(600); /* the janitor (every 250 ms) follows the monitor */
	for (int i = 0; i < 2; i++) {
		int64_t t0 = it_now_ms();
		PGresult *r = run(c, OLAP_SQL, 5000);
		int64_t took = it_now_ms() - t0;
		const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "olap query %d: %s", i,
		             PQresStatus(PQresultStatus(r)));
		cr_expect_str_eq(it_sqlstate(r), "57P03", "olap query %d: %s", i, msg ? msg : "");
		cr_expect_str_eq(msg ? msg : "",
		                 "no replica of database \"bench\" is within max_replica_lag and "
		                 "olap.fallback is false");
		cr_expect_leq(took, 1500, "olap query %d refused after %lld ms", i,
		              (long long)took);
		PQclear(r);
		cr_assert_eq(PQstatus(c), CONNECTION_OK, "the refused client lost its connection");
		cr_expect_eq(served_by(c, WHERE_SQL, false), it_pgport(), "oltp after a refusal");
	}

	exec_ok(sb, "SELECT pg_wal_replay_resume()");
	int refusals = 0;
	ms = wait_route(c, g.port, 3 * INTERVAL_MS + 1000, &refusals);
	cr_expect_geq(ms, 0, "olap not on the replica %d ms after resume; " VIEW_FMT,
	              3 * INTERVAL_MS + 1000, VIEW_ARGS(view(con, g.port)));
	cr_log_info("olap on the replica %d ms after resume (%d refusals before)", ms, refusals);
	PQfinish(pr);
	PQfinish(sb);
	PQfinish(c);
	PQfinish(con);
}

/* The value of the sample named by the format (name{labels}, exactly); NAN when absent. */
__attribute__((format(printf, 2, 3))) static double samplef(const char *body, const char *fmt, ...)
{
	char series[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(series, sizeof series, fmt, ap);
	va_end(ap);
	return sample(body, series);
}

#define HEALTHY "pglane_replication_healthy{database=\"%s\",host=\"%s\",port=\"%s\"}"
#define LAG     "pglane_replication_lag_seconds{database=\"%s\",host=\"%s\",port=\"%s\"}"
#define STANDBY "pglane_replication_standby_lag_bytes{database=\"%s\",standby=\"%s\",addr=\"%.*s\"}"
#define SLOT    "pglane_replication_slot_retained_bytes{database=\"%s\",slot=\"%s\",type=\"%s\"}"

/* A metric sample `m` must be `show` (a SHOW cell, -1 for NULL) times `scale`, or absent
 * when the cell is NULL. */
static void expect_sample(double m, long long show, double scale, const char *what, int row)
{
	if (show < 0)
		cr_expect(isnan(m), "%s of SHOW row %d is %g in /metrics, NULL in SHOW", what, row,
		          m);
	else
		cr_expect(fabs(m - (double)show * scale) < scale * 0.5 + 1e-9,
		          "%s of SHOW row %d is %g in /metrics, %lld in SHOW", what, row, m, show);
}

static bool same_rows(const PGresult *a, const PGresult *b)
{
	if (PQntuples(a) != PQntuples(b))
		return false;
	for (int i = 0; i < PQntuples(a); i++)
		for (int k = 0; k < PQnfields(a); k++)
			if (strcmp(PQgetvalue(a, i, k), PQgetvalue(b, i, k)))
				return false;
	return true;
}

/* A metrics body and SHOW REPLICATION/SLOTS must agree; false when the monitor changed
 * something between the SHOWs around the body (try again). *checked counts the series. */
static bool metrics_agree(PGconn *con, int *checked)
{
	PGresult *a = show(con, "SHOW REPLICATION"), *sa = show(con, "SHOW SLOTS");
	char *body = metrics();
	PGresult *b = show(con, "SHOW REPLICATION"), *sb = show(con, "SHOW SLOTS");
	bool same = same_rows(a, b) && same_rows(sa, sb);
	int servers = 0, lags = 0, standbys = 0, slots = 0;
	for (int i = 0; same && i < PQntuples(a); i++) {
		const char *db = PQgetvalue(a, i, 0), *host = PQgetvalue(a, i, 1);
		const char *port = PQgetvalue(a, i, 2), *role = PQgetvalue(a, i, 3);
		long long lag = num_or_null(a, i, 5), bytes = num_or_null(a, i, 6);
		if (!strcmp(role, "standby")) { /* host is "client_addr application_name" */
			const char *sp = strchr(host, ' ');
			expect_sample(samplef(body, STANDBY, db, sp ? sp + 1 : "",
			                      (int)(sp ? sp - host : 0), host),
			              bytes, 1, "standby lag_bytes", i);
			standbys += bytes >= 0;
			continue;
		}
		expect_sample(samplef(body, HEALTHY, db, host, port),
		              !strcmp(PQgetvalue(a, i, 7), "yes"), 1, "healthy", i);
		servers++;
		if (!strcmp(role, "replica")) {
			expect_sample(samplef(body, LAG, db, host, port), lag, 0.001, "lag", i);
			lags += lag >= 0;
		}
	}
	for (int i = 0; same && i < PQntuples(sa); i++) {
		long long kept = num_or_null(sa, i, 4);
		expect_sample(samplef(body, SLOT, PQgetvalue(sa, i, 0), PQgetvalue(sa, i, 1),
		                      PQgetvalue(sa, i, 2)),
		              kept, 1, "slot retained_bytes", i);
		slots += kept >= 0;
	}
	if (same) {
		cr_expect_eq(samples(body, "pglane_replication_healthy"), servers);
		cr_expect_eq(samples(body, "pglane_replication_lag_seconds"), lags);
		cr_expect_eq(samples(body, "pglane_replication_standby_lag_bytes"), standbys);
		cr_expect_eq(samples(body, "pglane_replication_slot_retained_bytes"), slots);
		*checked = servers + lags + standbys + slots;
	}
	free(body);
	PQclear(a);
	PQclear(b);
	PQclear(sa);
	PQclear(sb);
	return same;
}

static void expect_metrics_agree(PGconn *con, int want_checked)
{
	int checked = 0;
	bool agreed = false;
	for (int i = 0; i < 10 && !agreed; i++)
		if (!(agreed = metrics_agree(con, &checked)))
			it_sleep_ms(150);
	cr_assert(agreed, "SHOW REPLICATION kept changing (10 tries)");
	cr_expect_geq(checked, want_checked, "only %d series compared", checked);
}

/* /metrics: the four replication families, each value as SHOW REPLICATION/SLOTS says. */
IT_TEST(replication, metrics_match_show)
{
	setup(true, true);
	PGconn *con = console();
	PGconn *c = it_connect("postgres", NULL, "bench");
	expect_on_replica(con, c);
	struct view v;
	cr_assert_geq(wait_view(con, 0, streaming, 5000, &v), 0, "no streaming standby row");

	char *body = metrics(), port[16], pgport[16], name[32];
	snprintf(port, sizeof port, "%d", g.port);
	snprintf(pgport, sizeof pgport, "%d", it_pgport());
	snprintf(name, sizeof name, "standby_%d", g.port);
	cr_expect_eq(samplef(body, HEALTHY, "bench", "127.0.0.1", port), 1.0, "replica healthy");
	cr_expect_eq(samplef(body, HEALTHY, "bench", it_pghost(), pgport), 1.0, "primary healthy");
	double lag = samplef(body, LAG, "bench", "127.0.0.1", port);
	cr_expect(lag >= 0 && lag <= MAX_LAG_MS / 1000.0, "replica lag %g s", lag);
	cr_expect_geq(samplef(body, STANDBY, "bench", name, 9, "127.0.0.1"), 0, "standby lag");
	cr_expect_geq(samplef(body, SLOT, "bench", SLOT_PHYS, "physical"), 0, SLOT_PHYS);
	cr_expect_geq(samplef(body, SLOT, "bench", SLOT_LOGICAL, "logical"), 0, SLOT_LOGICAL);
	free(body);
	/* 2 servers + 1 lag + 1 standby + 2 slots */
	expect_metrics_agree(con, 6);
	PQfinish(c);
	PQfinish(con);
}

/* The standby stopped: marked unhealthy within an interval and the no-answer timeout, olap
 * keeps working on the primary (old and new clients), oltp too; the console and /metrics
 * answer promptly and agree. */
IT_TEST(replication, stopped_standby_is_unhealthy)
{
	setup(false, true);
	PGconn *con = console();
	PGconn *c = it_connect("postgres", NULL, "bench");
	expect_on_replica(con, c);

	int64_t t0 = it_now_ms();
	char *out = NULL;
	int rc = it_sh(60, &out, "'%s' stop '%s'", env_path("PGLANE_TEST_PGSH"), g.dir);
	cr_assert_eq(rc, 0, "tests/pg.sh stop: %s", out ? out : "");
	free(out);
	cr_log_info("standby stopped in %lld ms", (long long)(it_now_ms() - t0));

	/* an olap query at once may fail (the monitor has not noticed yet) but answers */
	PGresult *r = run(c, OLAP_SQL, 10000);
	cr_log_info("olap right after the stop: %s %s", PQresStatus(PQresultStatus(r)),
	            PQresultErrorMessage(r));
	PQclear(r);

	struct view v;
	int ms = wait_view(con, g.port, unreachable, INTERVAL_MS + NO_ANSWER_MS + 1500, &v);
	cr_assert_geq(ms, 0, "the stopped standby is not marked unreachable: " VIEW_FMT,
	              VIEW_ARGS(v));
	cr_log_info("unreachable %lld ms after the stop: %s", (long long)(it_now_ms() - t0),
	            v.state);
	cr_expect_eq(v.lag_ms, -1, "an unreachable replica has a lag");
	it_sleep_ms(600); /* the janitor (every 250 ms) follows the monitor */

	PGconn *c2 = it_connect("postgres", NULL, "bench");
	for (int i = 0; i < 5; i++) {
		cr_expect_eq(served_by(c, OLAP_SQL, false), it_pgport(), "old client, query %d", i);
		cr_expect_eq(served_by(c2, OLAP_SQL, false), it_pgport(), "new client, query %d",
		             i);
		cr_expect_eq(served_by(c2, WHERE_SQL, false), it_pgport(), "oltp, query %d", i);
	}
	v = view(con, it_pgport());
	cr_expect(v.healthy && !strcmp(v.state, "primary"), "the primary: " VIEW_FMT, VIEW_ARGS(v));
	v = view(con, g.port);
	cr_expect(unreachable(&v), "the standby came back? " VIEW_FMT, VIEW_ARGS(v));
	cr_expect(wait_view(con, 0, gone, 5000, &v) >= 0,
	          "the primary still reports the stopped standby: " VIEW_FMT, VIEW_ARGS(v));
	expect_metrics_agree(con, 2);
	PQfinish(c2);
	PQfinish(c);
	PQfinish(con);
}

/* The postmaster's pid (first line of DIR/data/postmaster.pid). */
static pid_t standby_postmaster(void)
{
	char path[600];
	snprintf(path, sizeof path, "%s/data/postmaster.pid", g.dir);
	char *s = it_file_read(path);
	cr_assert(s, "cannot read %s", path);
	pid_t pid = (pid_t)atoi(s);
	free(s);
	cr_assert_gt(pid, 0);
	return pid;
}

static void stop_process(pid_t pid)
{
	cr_assert_lt(g.nstopped, 4);
	g.stopped[g.nstopped++] = pid;
	cr_assert_eq(kill(pid, SIGSTOP), 0, "SIGSTOP %d: %s", (int)pid, strerror(errno));
}

/* The standby stops answering (postmaster and the monitor's backend SIGSTOPped, the TCP port
 * still accepting): unhealthy after the no-answer timeout, not before; the console, olap and
 * oltp do not hang; once it answers again olap is back on it. */
IT_TEST(replication, silent_standby_times_out)
{
	setup(false, true);
	PGconn *con = console();
	PGconn *c = it_connect("postgres", NULL, "bench");
	expect_on_replica(con, c);
	PGconn *sb = standby_conn();
	long long monitor = it_query_ll(sb, "SELECT pid FROM pg_stat_activity"
	                                    " WHERE application_name = 'pglane-monitor'");
	PQfinish(sb);

	int64_t t0 = it_now_ms();
	stop_process(standby_postmaster());
	stop_process((pid_t)monitor);
	struct view v;
	int ms = wait_view(con, g.port, unreachable, INTERVAL_MS + NO_ANSWER_MS + 1500, &v);
	cr_assert_geq(ms, 0, "the silent standby is not marked unreachable: " VIEW_FMT,
	              VIEW_ARGS(v));
	int64_t took = it_now_ms() - t0;
	cr_log_info("unreachable %lld ms after SIGSTOP: %s", (long long)took, v.state);
	cr_expect_str_eq(v.state, "unreachable: no answer in time");
	cr_expect_geq(took, NO_ANSWER_MS - INTERVAL_MS - 100,
	              "unhealthy %lld ms after it fell silent: before the %d ms timeout",
	              (long long)took, NO_ANSWER_MS);
	it_sleep_ms(600);

	for (int i = 0; i < 3; i++) {
		int64_t q0 = it_now_ms();
		cr_expect_eq(served_by(c, OLAP_SQL, false), it_pgport(), "olap query %d", i);
		cr_expect_eq(served_by(c, WHERE_SQL, false), it_pgport(), "oltp query %d", i);
		PQclear(show(con, "SHOW REPLICATION"));
		cr_expect_leq(it_now_ms() - q0, 1000, "round %d took %lld ms", i,
		              (long long)(it_now_ms() - q0));
	}
	v = view(con, g.port);
	cr_expect(unreachable(&v), "the silent standby looks healthy: " VIEW_FMT, VIEW_ARGS(v));

	for (int i = 0; i < g.nstopped; i++)
		kill(g.stopped[i], SIGCONT);
	g.nstopped = 0;
	ms = wait_view(con, g.port, fresh_replica, INTERVAL_MS + NO_ANSWER_MS + 3000, &v);
	cr_expect_geq(ms, 0, "the standby answers again but is not healthy: " VIEW_FMT,
	              VIEW_ARGS(v));
	ms = wait_route(c, g.port, 3000, NULL);
	cr_expect_geq(ms, 0, "olap not back on the replica");
	PQfinish(c);
	PQfinish(con);
}

/* pg_promote() on the standby: SHOW REPLICATION says "promoted" (healthy, role primary), the
 * primary stops reporting it, and the olap lane goes to the configured primary. */
IT_TEST(replication, promoted_replica_is_not_used)
{
	setup(false, true);
	PGconn *con = console();
	PGconn *c = it_connect("postgres", NULL, "bench");
	expect_on_replica(con, c);

	PGconn *sb = standby_conn();
	exec_ok(sb, "SELECT pg_promote(true, 30)");
	PQfinish(sb);
	struct view v;
	int ms = wait_view(con, g.port, promoted, 2 * INTERVAL_MS + 1500, &v);
	cr_assert_geq(ms, 0, "the promoted standby is not reported promoted: " VIEW_FMT,
	              VIEW_ARGS(v));
	cr_expect_str_eq(v.role, "primary");
	it_sleep_ms(600);
	for (int i = 0; i < 5; i++)
		cr_expect_eq(served_by(c, OLAP_SQL, true), it_pgport(), "olap query %d", i);
	cr_expect(wait_view(con, 0, gone, 5000, &v) >= 0,
	          "the primary still reports the promoted standby: " VIEW_FMT, VIEW_ARGS(v));
	char *log = it_pglane_log();
	cr_expect(strstr(log, "no longer in recovery (promoted)"), "no log line for the promotion");
	free(log);
	PQfinish(c);
	PQfinish(con);
}

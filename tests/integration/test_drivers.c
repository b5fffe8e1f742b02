/* tests/integration/test_drivers.c — the drivers users run, in their default settings, against
 * pglane in transaction mode (issue 14), with other clients keeping the servers busy:
 *   - psycopg 3 (tests/drivers/psycopg_prepare.py, Debian python3-psycopg, /usr/bin/python3):
 *     8 threads, prepare_threshold 5 and prepare=True, commits and rollbacks, after which psycopg
 *     sends DEALLOCATE ALL over the extended protocol; and more distinct statements than
 *     prepared_max, after which it sends DEALLOCATE _pg3_N over the extended protocol. No
 *     execution may fail, every value must be right, and the script must have sent those
 *     DEALLOCATEs (it counts them at PQsendQueryParams).
 *   - asyncpg (tests/drivers/asyncpg_deallocate.py, Debian python3-asyncpg): one client runs
 *     DEALLOCATE ALL / DISCARD ALL as simple Queries and over the extended protocol while three
 *     others run their cached statements: those three never fail; the one that deallocated sees
 *     exactly what it sees on a direct connection (the script is run straight against
 *     PostgreSQL first to learn that).
 *   - pgjdbc (tests/drivers/DateStyleJdbc.java, Debian libpostgresql-jdbc-java) and a raw
 *     client with the startup parameter DateStyle=ISO, on the server another client left at
 *     DateStyle 'German, DMY' (pool of 1: the same server): SHOW DateStyle = ISO, MDY and
 *     '03/05/2024'::date = 2024-03-05; also while that client keeps running on it, seeing its own
 *     German, DMY.
 * Meanwhile libpq "busy" clients run their own named prepared statements in transactions on the
 * same servers: none of those may fail either.
 *
 * The scripts are found under tests/drivers/ of the source tree: $PGLANE_TEST_SRCDIR, else the
 * parent of the directory of $PGLANE_BIN (build/pglane → the repository). Each prints a summary
 * line (`executions=N failed=F ...`) that the tests parse; each exits non-zero on any
 * unexpected failure, printing what failed. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/integration/rawpg.h"

TestSuite(drivers, .fini = it_pglane_fini, .timeout = 90);

#define PYTHON        "/usr/bin/python3" /* Debian's, which has python3-psycopg and asyncpg */
#define JDBC_JAR      "/usr/share/java/postgresql.jar"
#define SCRIPT_SECS   40 /* it_sh timeout for one script run */
#define BUSY_CLIENTS  2
#define BUSY_MAX_SECS 60 /* a busy client stops by itself after this */

/* ---- locating the scripts ---- */

/* tests/drivers/NAME in the source tree (static storage); fails the test when it is missing. */
static const char *script(const char *name)
{
	static char path[1024];
	char root[900];
	const char *src = getenv("PGLANE_TEST_SRCDIR");
	if (src && *src) {
		snprintf(root, sizeof root, "%s", src);
	} else { /* two steps up from the binary: cut the last two path components */
		snprintf(root, sizeof root, "%s", it_pglane_bin());
		for (int up = 0; up < 2; up++) {
			char *slash = strrchr(root, '/');
			cr_assert(slash && slash != root, "PGLANE_BIN=%s: no source tree above it",
			          it_pglane_bin());
			*slash = '\0';
		}
	}
	snprintf(path, sizeof path, "%s/tests/drivers/%s", root, name);
	cr_assert(access(path, R_OK) == 0,
	          "%s not found (set PGLANE_TEST_SRCDIR to the source tree; PGLANE_BIN=%s)", path,
	          it_pglane_bin());
	return path;
}

/* ---- script output ---- */

/* The last line of `out` that starts with `prefix` (malloc'ed); fails the test when none. */
static char *summary_line(const char *out, const char *prefix)
{
	const char *found = NULL;
	size_t plen = strlen(prefix);
	for (const char *p = out; p && *p;) {
		if (strncmp(p, prefix, plen) == 0)
			found = p;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	cr_assert(found, "no line starting with `%s` in the output:\n%s", prefix, out);
	size_t n = strcspn(found, "\n");
	char *line = strndup(found, n);
	cr_assert(line);
	return line;
}

/* The number after " key=" (or "key=" at the start) in `line`; -1 when absent. */
static long long field(const char *line, const char *key)
{
	char pat[64];
	size_t klen = strlen(key);
	snprintf(pat, sizeof pat, "%s=", key);
	for (const char *p = strstr(line, pat); p; p = strstr(p + 1, pat))
		if (p == line || p[-1] == ' ')
			return atoll(p + klen + 1);
	return -1;
}

/* ---- busy clients: libpq, their own named prepared statement, short transactions ---- */

struct busy_client {
	PGconn *conn; /* owned */
	int index;
	atomic_bool *stop;
	long long executions, failed; /* written by the thread, read after the join */
	char first_error[300];
	pthread_t thread;
};

struct busy {
	atomic_bool stop;
	struct busy_client c[BUSY_CLIENTS];
};

static bool busy_ok(PGresult *r, ExecStatusType want)
{
	bool ok = PQresultStatus(r) == want;
	PQclear(r);
	return ok;
}

static void *busy_main(void *arg)
{
	struct busy_client *b = arg;
	char name[32];
	snprintf(name, sizeof name, "drv_busy_%d", b->index);
	int64_t deadline = it_now_ms() + BUSY_MAX_SECS * 1000;
	for (long long i = 0; !atomic_load(b->stop) && it_now_ms() < deadline; i++) {
		char param[32], want[32];
		snprintf(param, sizeof param, "%lld", i);
		snprintf(want, sizeof want, "%lld", i * 7);
		const char *params[1] = {param};
		b->executions++;
		if (!busy_ok(PQexec(b->conn, "BEGIN"), PGRES_COMMAND_OK)) {
			b->failed++;
			snprintf(b->first_error, sizeof b->first_error, "BEGIN: %s",
			         PQerrorMessage(b->conn));
			break; /* the connection is gone */
		}
		PGresult *r = PQexecPrepared(b->conn, name, 1, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
		    strcmp(PQgetvalue(r, 0, 0), want) != 0) {
			if (b->failed++ == 0)
				snprintf(b->first_error, sizeof b->first_error, "%s(%s): %s %s %s",
				         name, param, PQresStatus(PQresultStatus(r)),
				         it_sqlstate(r),
				         PQntuples(r) == 1 ? PQgetvalue(r, 0, 0)
				                           : PQresultErrorMessage(r));
		}
		PQclear(r);
		if (!busy_ok(PQexec(b->conn, "COMMIT"), PGRES_COMMAND_OK) && b->failed++ == 0)
			snprintf(b->first_error, sizeof b->first_error, "COMMIT: %s",
			         PQerrorMessage(b->conn));
	}
	return NULL;
}

/* BUSY_CLIENTS libpq clients through pglane, each with its own named statement (the same name
 * on every client would also do: names are per client), running it in short transactions. */
static void busy_start(struct busy *b)
{
	atomic_init(&b->stop, false);
	for (int i = 0; i < BUSY_CLIENTS; i++) {
		struct busy_client *c = &b->c[i];
		memset(c, 0, sizeof *c);
		c->index = i;
		c->stop = &b->stop;
		c->conn = it_connect("postgres", NULL, "postgres");
		char name[32];
		snprintf(name, sizeof name, "drv_busy_%d", i);
		PGresult *r = PQprepare(c->conn, name,
		                        "SELECT $1::bigint * 7, pg_sleep(0.002), pg_backend_pid()",
		                        0, NULL);
		cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "busy %d: PQprepare: %s", i,
		             PQresultErrorMessage(r));
		PQclear(r);
		cr_assert_eq(pthread_create(&c->thread, NULL, busy_main, c), 0);
	}
}

/* Stop the busy clients and check that none of their executions failed. */
static void busy_stop_check(struct busy *b)
{
	atomic_store(&b->stop, true);
	for (int i = 0; i < BUSY_CLIENTS; i++) {
		struct busy_client *c = &b->c[i];
		pthread_join(c->thread, NULL);
		PQfinish(c->conn);
	}
	for (int i = 0; i < BUSY_CLIENTS; i++) {
		struct busy_client *c = &b->c[i];
		cr_expect_gt(c->executions, 0, "busy client %d ran nothing", i);
		cr_expect_eq(c->failed, 0,
		             "busy client %d: %lld of %lld executions failed; first: %s", i,
		             c->failed, c->executions, c->first_error);
		cr_log_info("busy client %d: %lld executions, %lld failed", i, c->executions,
		            c->failed);
	}
}

/* ---- psycopg 3 ---- */

/* Run psycopg_prepare.py --case `pcase` through pglane (pool of 2) with busy clients; the
 * summary line (malloc'ed). Fails the test on a non-zero exit or a failed execution. One
 * worker: each thread's transactions meet both servers of its worker's pool (with two, each
 * worker may keep one server of the two). A thread that met one server only in its planned
 * executions goes on until it meets the other (`extra`, at most 120 per thread): a thread the
 * scheduler happened to run alone (seen once under ASan) always found its server idle. */
static char *run_psycopg(const char *pcase)
{
	struct it_pglane *p = it_pglane_start_simple_workers("transaction", 2, NULL, 1);
	struct busy b;
	busy_start(&b);
	char *out = NULL;
	int rc = it_sh(SCRIPT_SECS, &out,
	               PYTHON " %s --case %s --dsn 'host=127.0.0.1 port=%d user=postgres "
	                      "dbname=postgres'",
	               script("psycopg_prepare.py"), pcase, p->port);
	busy_stop_check(&b);
	cr_log_info("psycopg --case %s:\n%s", pcase, out);
	char *line = summary_line(out, "executions=");
	cr_expect_eq(rc, 0, "psycopg --case %s exited %d (its output is above)", pcase, rc);
	cr_expect_eq(field(line, "failed"), 0, "psycopg --case %s: %s", pcase, line);
	free(out);
	return line;
}

IT_TEST(drivers, psycopg_rollback_deallocate_all)
{
	char *line = run_psycopg("rollback");
	/* 8 threads of 40 executions and a DROP; each rolls back 3 times and DROPs once with
	 * statements prepared, each time followed by DEALLOCATE ALL */
	cr_expect_eq(field(line, "executions"), 8 * 41 + field(line, "extra"), "%s", line);
	cr_expect_geq(field(line, "dealloc_all"), 8 * 4,
	              "psycopg sent fewer DEALLOCATE ALL than its 24 rollbacks and 8 DROPs: %s",
	              line);
	cr_expect_eq(field(line, "min_pids"), 2,
	             "a thread's transactions did not run on both servers: %s", line);
	free(line);
}

IT_TEST(drivers, psycopg_prepared_max_deallocate_name)
{
	char *line = run_psycopg("rotate");
	/* thread 0: 108 statements over a prepared_max of 100 (8 evicted); 7 threads: 40
	 * executions cycling over 20 statements, prepared_max 8 (32 evicted each) */
	cr_expect_eq(field(line, "executions"), 108 + 7 * 40 + field(line, "extra"), "%s", line);
	cr_expect_geq(field(line, "dealloc_name"), 8 + 7 * 32,
	              "psycopg sent fewer DEALLOCATE <name> than expected: %s", line);
	cr_expect_eq(field(line, "dealloc_all"), 0, "no rollback was expected: %s", line);
	cr_expect_eq(field(line, "min_pids"), 2,
	             "a thread's transactions did not run on both servers: %s", line);
	free(line);
}

/* ---- asyncpg ---- */

IT_TEST(drivers, asyncpg_deallocate_all_discard_all)
{
	const char *py = script("asyncpg_deallocate.py");
	char *out = NULL;
	/* straight to PostgreSQL: what the deallocating client sees on a connection of its own */
	int rc = it_sh(SCRIPT_SECS, &out,
	               PYTHON " %s --dsn 'postgresql://postgres@%s:%d/postgres' --max-execs 400",
	               py, it_pghost(), it_pgport());
	cr_assert_eq(rc, 0, "asyncpg script straight to PostgreSQL exited %d:\n%s", rc, out);
	char *direct = summary_line(out, "deallocator=");
	free(out);

	struct it_pglane *p =
	        it_pglane_start_simple_workers("transaction", 2, NULL, 1); /* as psycopg */
	struct busy b;
	busy_start(&b);
	rc = it_sh(SCRIPT_SECS, &out,
	           PYTHON " %s --dsn 'postgresql://postgres@127.0.0.1:%d/postgres'", py, p->port);
	busy_stop_check(&b);
	cr_log_info("asyncpg through pglane:\n%s", out);
	char *line = summary_line(out, "executions=");
	char *dealloc = summary_line(out, "deallocator=");
	cr_expect_eq(rc, 0, "asyncpg script through pglane exited %d (its output is above)", rc);
	cr_expect_eq(field(line, "failed"), 0, "the three other asyncpg clients failed: %s", line);
	cr_expect_gt(field(line, "executions"), 100, "%s", line);
	cr_expect_eq(field(line, "min_pids"), 2,
	             "an asyncpg client's statements did not run on both servers: %s", line);
	cr_expect_str_eq(dealloc, direct,
	                 "the deallocating client saw through pglane:\n%s\nand directly:\n%s",
	                 dealloc, direct);
	free(dealloc);
	free(line);
	free(direct);
	free(out);
}

/* ---- DateStyle: pgjdbc and a raw client after a client that set German, DMY ---- */

#define GERMAN     "German, DMY"
#define GERMAN_DAY "03.05.2024" /* '03/05/2024'::date under German, DMY: 3 May */

/* A client through pglane that sets DateStyle German, DMY (autocommit) and checks it sees it;
 * its backend pid into *pid. */
static PGconn *german_client(long long *pid)
{
	PGconn *c = it_connect("postgres", NULL, "postgres");
	it_exec_ok(c, "SET DateStyle = 'German, DMY'");
	char *v = it_query_str(c, "SHOW DateStyle");
	cr_assert_str_eq(v, GERMAN, "the setter's own DateStyle: %s", v);
	free(v);
	v = it_query_str(c, "SELECT '03/05/2024'::date");
	cr_assert_str_eq(v, GERMAN_DAY, "the setter's own date: %s", v);
	free(v);
	*pid = it_query_ll(c, "SELECT pg_backend_pid()");
	return c;
}

/* Run DateStyleJdbc.java against pglane; fails unless it passes. Output malloc'ed. */
static char *run_jdbc(int port, char **line)
{
	char *out = NULL;
	int rc = it_sh(SCRIPT_SECS, &out, "java -cp " JDBC_JAR " %s %d",
	               script("DateStyleJdbc.java"), port);
	cr_log_info("pgjdbc:\n%s", out);
	*line = summary_line(out, "checks=");
	cr_expect_eq(rc, 0, "pgjdbc exited %d (its output is above)", rc);
	cr_expect_eq(field(*line, "failed"), 0, "pgjdbc: %s", *line);
	cr_expect_gt(field(*line, "checks"), 0, "%s", *line);
	return out;
}

/* "pids=a,b,..." of the summary line must be exactly `pid`. */
static void expect_pids(const char *line, long long pid)
{
	char want[64];
	snprintf(want, sizeof want, " pids=%lld", pid);
	const char *p = strstr(line, " pids=");
	cr_expect(p && strncmp(p, want, strlen(want)) == 0 && p[strlen(want)] == '\0',
	          "pgjdbc's transactions did not all run on the setter's server %lld: %s", pid,
	          line);
}

IT_TEST(drivers, jdbc_datestyle_after_german_client_left)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 1, NULL);
	long long pid;
	PQfinish(german_client(&pid));
	char *line;
	free(run_jdbc(p->port, &line));
	expect_pids(line, pid);
	free(line);
}

/* The German client stays and keeps running on the one server, checking its own session. */
struct german_loop {
	PGconn *conn; /* owned */
	atomic_bool stop;
	long long checks, wrong;
	char first_wrong[200];
	pthread_t thread;
};

static void german_check(struct german_loop *g, const char *sql, const char *want)
{
	PGresult *r = PQexec(g->conn, sql);
	const char *got = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
	                          ? PQgetvalue(r, 0, 0)
	                          : PQresultErrorMessage(r);
	g->checks++;
	if (strcmp(got, want) != 0 && g->wrong++ == 0)
		snprintf(g->first_wrong, sizeof g->first_wrong, "%s: got %s, want %s", sql, got,
		         want);
	PQclear(r);
}

static void *german_main(void *arg)
{
	struct german_loop *g = arg;
	int64_t deadline = it_now_ms() + BUSY_MAX_SECS * 1000;
	while (!atomic_load(&g->stop) && it_now_ms() < deadline) {
		german_check(g, "SHOW DateStyle", GERMAN);
		german_check(g, "SELECT '03/05/2024'::date", GERMAN_DAY);
		it_sleep_ms(5);
	}
	return NULL;
}

IT_TEST(drivers, jdbc_datestyle_with_german_client_running)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 1, NULL);
	struct german_loop g = {0};
	long long pid;
	g.conn = german_client(&pid);
	atomic_init(&g.stop, false);
	cr_assert_eq(pthread_create(&g.thread, NULL, german_main, &g), 0);
	char *line;
	char *out = run_jdbc(p->port, &line);
	atomic_store(&g.stop, true);
	pthread_join(g.thread, NULL);
	PQfinish(g.conn);
	expect_pids(line, pid);
	cr_log_info("the German client: %lld checks, %lld wrong", g.checks, g.wrong);
	cr_expect_gt(g.checks, 0);
	cr_expect_eq(g.wrong, 0, "the German client: %lld of %lld checks wrong; first: %s", g.wrong,
	             g.checks, g.first_wrong);
	free(line);
	free(out);
}

/* A raw client's checks: DateStyle and the date as a fresh connection with DateStyle=ISO. */
static void raw_check_iso(struct rawpg *r, const char *when)
{
	char *v = rawpg_query_value(r, "SHOW DateStyle");
	cr_expect_str_eq(v, "ISO, MDY", "%s %s: SHOW DateStyle gave %s, want ISO, MDY", r->who,
	                 when, v);
	free(v);
	v = rawpg_query_value(r, "SELECT '03/05/2024'::date");
	cr_expect_str_eq(v, "2024-03-05", "%s %s: '03/05/2024'::date gave %s, want 2024-03-05",
	                 r->who, when, v);
	free(v);
	const char *ps = rawpg_param(r, "DateStyle");
	cr_expect(ps && strcmp(ps, "ISO, MDY") == 0,
	          "%s %s: its last ParameterStatus DateStyle is %s, want ISO, MDY", r->who, when,
	          ps ? ps : "(none)");
}

IT_TEST(drivers, raw_datestyle_iso_after_german_client)
{
	/* what a connection of its own gives (straight to PostgreSQL) */
	const char *params[] = {"DateStyle", "ISO"};
	struct rawpg *r = rawpg_connect(it_pgport(), "postgres", "postgres", params, 1);
	r->who = "raw DateStyle=ISO straight to PostgreSQL";
	raw_check_iso(r, "on a connection of its own");
	rawpg_close(r);

	struct it_pglane *p = it_pglane_start_simple("transaction", 1, NULL);
	long long pid;
	PQfinish(german_client(&pid));

	r = rawpg_connect(p->port, "postgres", "postgres", params, 1);
	r->who = "raw DateStyle=ISO";
	raw_check_iso(r, "after the German client left");
	char *v = rawpg_query_value(r, "SELECT pg_backend_pid()");
	cr_expect_eq(atoll(v), pid, "the raw client ran on %s, not on the setter's server %lld", v,
	             pid);
	free(v);

	/* a second German client now runs on the same server between the raw client's queries */
	long long pid2;
	PGconn *g = german_client(&pid2);
	for (int i = 0; i < 5; i++) {
		raw_check_iso(r, "between the German client's transactions");
		char *gv = it_query_str(g, "SHOW DateStyle");
		cr_expect_str_eq(gv, GERMAN, "the German client's own DateStyle, round %d: %s", i,
		                 gv);
		free(gv);
		gv = it_query_str(g, "SELECT '03/05/2024'::date");
		cr_expect_str_eq(gv, GERMAN_DAY, "the German client's own date, round %d: %s", i,
		                 gv);
		free(gv);
	}
	PQfinish(g);
	rawpg_close(r);
}

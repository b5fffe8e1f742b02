/* tests/integration/test_faults_drivers.c — issue 18 item 1 with the clients users run: psql,
 * psycopg 3 and asyncpg, in their default settings, through pglane in transaction mode, keep
 * their connection when the server under their transaction dies:
 *   - psql (-v ON_ERROR_STOP=0 -f script, one connection): a transaction whose server kills
 *     itself under a statement; psql prints the error, 25P02 for the next statement and
 *     ROLLBACK for COMMIT, then runs the rest of the script on the same connection (exit 0,
 *     never "connection to server was lost"); nothing of the transaction is in the table;
 *   - psycopg and asyncpg (tests/drivers/faults_nested.py): a nested transaction (a SAVEPOINT
 *     inside BEGIN) whose backend is terminated while the client is idle in it (by the script's
 *     second connection) or under its statement: a database error is raised, then the SAME
 *     connection runs SELECT 1 on another backend; nothing of the transaction committed.
 * Tables faults_psql and faults_drv in the shared cluster's database bench, dropped after. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define PYTHON      "/usr/bin/python3" /* Debian's, with python3-psycopg and python3-asyncpg */
#define SCRIPT_SECS 40

static void fini(void)
{
	it_pglane_fini();
	it_drop_tables("faults_psql, faults_drv");
}

TestSuite(faults_drivers, .fini = fini, .timeout = 90);

static void make_table(const char *sql)
{
	PGconn *a = it_connect_direct("postgres", NULL, "bench");
	it_notices_off(a);
	it_exec_ok(a, sql);
	PQfinish(a);
}

static long long count_direct(const char *sql)
{
	PGconn *a = it_connect_direct("postgres", NULL, "bench");
	long long n = it_query_ll(a, sql);
	PQfinish(a);
	return n;
}

/* tests/drivers/NAME in the source tree (static storage): $PGLANE_TEST_SRCDIR, else two
 * levels above $PGLANE_BIN (build/pglane). */
static const char *script(const char *name)
{
	static char path[1024];
	char root[900];
	const char *src = getenv("PGLANE_TEST_SRCDIR");
	snprintf(root, sizeof root, "%s", src && *src ? src : it_pglane_bin());
	for (int up = 0; !(src && *src) && up < 2; up++) {
		char *slash = strrchr(root, '/');
		cr_assert(slash && slash != root, "no source tree above %s", it_pglane_bin());
		*slash = '\0';
	}
	snprintf(path, sizeof path, "%s/tests/drivers/%s", root, name);
	cr_assert(access(path, R_OK) == 0, "%s not found (set PGLANE_TEST_SRCDIR)", path);
	return path;
}

/* ---- psql ---- */

static const char PSQL_SCRIPT[] = "SELECT 'before' AS step;\n"
                                  "BEGIN;\n"
                                  "INSERT INTO faults_psql VALUES (1);\n"
                                  "SELECT pg_terminate_backend(pg_backend_pid());\n"
                                  "INSERT INTO faults_psql VALUES (2);\n"
                                  "COMMIT;\n"
                                  "SELECT 'after ' || count(*) AS step FROM faults_psql;\n"
                                  "SELECT pg_terminate_backend(pg_backend_pid());\n"
                                  "SELECT 'alive ' || 6 * 7 AS step;\n";

IT_TEST(faults_drivers, psql_script_survives)
{
	make_table("DROP TABLE IF EXISTS faults_psql; CREATE TABLE faults_psql (v int)");
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	char path[700];
	snprintf(path, sizeof path, "%s/faults.sql", p->dir);
	it_file_write(path, PSQL_SCRIPT);
	char *out = NULL;
	int rc = it_sh(SCRIPT_SECS, &out,
	               "psql -X -A -t -v ON_ERROR_STOP=0 -h %s -p %d -U postgres -d bench -f '%s' "
	               "2>&1",
	               IT_HOST, p->port, path);
	cr_log_info("psql (exit %d):\n%s", rc, out ? out : "");
	cr_assert_eq(rc, 0, "psql exit %d (2: the connection went bad):\n%s", rc, out);
	cr_assert(strstr(out, "before"), "%s", out);
	cr_assert(strstr(out, "ERROR:  server connection lost"), "no lost-server error:\n%s", out);
	cr_assert(strstr(out, "current transaction is aborted"), "no 25P02:\n%s", out);
	cr_assert(strstr(out, "\nROLLBACK\n"), "COMMIT not answered ROLLBACK:\n%s", out);
	cr_assert(strstr(out, "after 0"), "rows of the lost transaction:\n%s", out);
	cr_assert(strstr(out, "alive 42"), "psql did not go on:\n%s", out);
	cr_assert_null(strstr(out, "connection to server was lost"), "%s", out);
	cr_assert_null(strstr(out, "server closed the connection"), "%s", out);
	cr_assert_null(strstr(out, "FATAL"), "%s", out);
	free(out);
	cr_assert_eq(count_direct("SELECT count(*) FROM faults_psql"), 0);
}

/* ---- psycopg, asyncpg ---- */

static void nested(const char *driver, const char *mode)
{
	make_table("CREATE TABLE IF NOT EXISTS faults_drv (tag text, what text)");
	struct it_pglane *p = it_pglane_start_simple("transaction", 4, NULL);
	char dsn[256], tag[64];
	snprintf(dsn, sizeof dsn, "postgresql://postgres@%s:%d/bench", IT_HOST, p->port);
	snprintf(tag, sizeof tag, "%s-%s", driver, mode);
	char *out = NULL;
	int rc = it_sh(SCRIPT_SECS, &out,
	               PYTHON " '%s' --driver %s --mode %s --dsn '%s' --table faults_drv --tag %s "
	                      "2>&1",
	               script("faults_nested.py"), driver, mode, dsn, tag);
	cr_log_info("%s, killed %s (exit %d):\n%s", driver, mode, rc, out ? out : "");
	cr_assert_eq(rc, 0, "%s %s: exit %d:\n%s", driver, mode, rc, out);
	cr_assert(strstr(out, "raised=1"), "%s", out);
	free(out);
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM faults_drv WHERE tag = '%s'", tag);
	cr_assert_eq(count_direct(sql), 0, "rows of the lost transaction are in the table");
}

IT_TEST(faults_drivers, psycopg_nested_killed_idle)
{
	nested("psycopg", "idle");
}

IT_TEST(faults_drivers, psycopg_nested_killed_in_flight)
{
	nested("psycopg", "inflight");
}

IT_TEST(faults_drivers, asyncpg_nested_killed_idle)
{
	nested("asyncpg", "idle");
}

IT_TEST(faults_drivers, asyncpg_nested_killed_in_flight)
{
	nested("asyncpg", "inflight");
}

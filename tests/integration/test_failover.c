/* tests/integration/test_failover.c — a database with several hosts (issue 18 item 5), against
 * a private primary (tests/pg.sh start) and a streaming standby of it (tests/pg.sh standby),
 * each on a free 127.0.0.1 port in its own temp dir. pglane lists the standby first, then the
 * primary, target_session_attrs read-write (the default with several hosts), monitor every
 * second:
 *   - every write lands on the primary (pg_is_in_recovery() false through pglane, inserts work,
 *     inet_server_port() the primary's), the standby having been tried and refused;
 *   - 20 clients run short write transactions; the primary is stopped and the standby promoted
 *     (pg_ctl promote as the cluster's OS user): writes succeed on the new primary within two
 *     monitor intervals of the promotion, no client ever sees 25006 (a write in a read-only
 *     transaction), every committed row says it was written outside recovery, and no client
 *     loses its connection (item 1: a dead server is an error, not a disconnect); SHOW SERVERS
 *     and SHOW DATABASES show the new primary's port.
 * A database whose host is the name `localhost` works (resolved by c-ares on the loop); one
 * whose host name does not resolve fails its logins with a clear error while another database
 * keeps serving; listed before `localhost`, it passes the login on to it, and the monitor
 * (which connects through libpq with the address pglane resolved) reports both. Servers older than
 * PostgreSQL 14 (fakes that report no in_hot_standby) are asked pg_is_in_recovery() at login: the
 * standby is refused, the primary serves. .fini stops both clusters and removes their files. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/fakepg.h"
#include "tests/integration/harness.h"

static void fo_fini(void);

TestSuite(failover, .fini = fo_fini, .timeout = 120);

#define INTERVAL_MS 1000 /* monitor.interval */
#define NCLIENTS    20
#define LOG_TABLE   "fo_log"

static struct {
	char pdir[512], sdir[512]; /* tests/pg.sh directories; "" when none */
	int pport, sport;
} g;

static const char *env_path(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v && *v, "%s is not set: run the integration tests with tests/run.sh", name);
	return v;
}

static void stop_cluster(char *dir)
{
	const char *pgsh = getenv("PGLANE_TEST_PGSH");
	if (!dir[0] || !pgsh)
		return;
	int rc = it_sh(90, NULL, "'%s' stop '%s'; rm -rf '%s'", pgsh, dir, dir);
	if (rc != 0)
		fprintf(stderr, "test_failover: stopping the cluster in %s: exit %d\n", dir, rc);
	dir[0] = '\0';
}

static void fo_fini(void)
{
	it_pglane_fini();
	stop_cluster(g.sdir);
	stop_cluster(g.pdir);
}

static PGconn *direct(int port)
{
	char ci[256];
	it_conninfo(ci, sizeof ci, "127.0.0.1", port, "postgres", NULL, "postgres", NULL);
	PGconn *c = it_connect_try(ci);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "port %d: %s", port, it_conn_error(c));
	return c;
}

/* A private primary with table fo_log, a standby of it, and pglane with database `fo` on
 * "standby,primary". */
static void setup_pair(void)
{
	const char *pgsh = env_path("PGLANE_TEST_PGSH");
	it_mkdtemp(g.pdir, sizeof g.pdir);
	it_mkdtemp(g.sdir, sizeof g.sdir);
	g.pport = it_free_port();
	do {
		it_sleep_ms(3);
		g.sport = it_free_port();
	} while (g.sport == g.pport);
	char *out = NULL;
	int64_t t0 = it_now_ms();
	int rc = it_sh(120, &out, "'%s' start '%s' %d", pgsh, g.pdir, g.pport);
	cr_assert_eq(rc, 0, "tests/pg.sh start failed (exit %d):\n%s", rc, out ? out : "");
	free(out);
	PGconn *p = direct(g.pport);
	it_exec_ok(p, "CREATE TABLE " LOG_TABLE " (client int, port int, recovery bool,"
	              " at timestamptz DEFAULT clock_timestamp())");
	PQfinish(p);
	out = NULL;
	rc = it_sh(120, &out, "'%s' standby '%s' '%s' %d", pgsh, g.pdir, g.sdir, g.sport);
	cr_assert_eq(rc, 0, "tests/pg.sh standby failed (exit %d):\n%s", rc, out ? out : "");
	free(out);
	cr_log_info("primary on %d, standby on %d in %lld ms", g.pport, g.sport,
	            (long long)(it_now_ms() - t0));
	char conf[1024];
	snprintf(
	        conf, sizeof conf,
	        "auth = { type = \"trust\"; };\n"
	        "monitor = { interval = \"%dms\"; };\n"
	        "pool = { mode = \"transaction\"; size = 8; query_wait_timeout = \"20s\"; };\n"
	        "databases = ( { name = \"fo\"; dbname = \"postgres\";"
	        " host = \"127.0.0.1, 127.0.0.1\"; port = \"%d,%d\"; },\n"
	        " { name = \"ro\"; dbname = \"postgres\"; size = 1; host = \"127.0.0.1,127.0.0.1\";"
	        " port = \"%d,%d\"; target_session_attrs = \"prefer-standby\"; },\n"
	        " { name = \"sbrw\"; dbname = \"postgres\"; host = \"127.0.0.1\"; port = %d;"
	        " target_session_attrs = \"read-write\"; query_wait_timeout = \"1s\"; } );\n",
	        INTERVAL_MS, g.sport, g.pport, g.pport, g.sport, g.sport);
	it_pglane_start(conf);
}

/* ---- the clients ---- */

struct client {
	pthread_t th;
	int id;
	int commits, errors, ro_errors, disconnects;
	int lost;               /* errors of class 08: its server died (item 1) */
	int64_t first_after_ms; /* first commit after `promoted_ms`, 0 none */
};

static struct {
	volatile int stop;
	volatile int64_t promoted_ms; /* when pg_ctl promote returned; 0 before */
} run;

static void one_txn(struct client *cl, PGconn **c)
{
	char sql[256];
	snprintf(sql, sizeof sql,
	         "BEGIN; INSERT INTO " LOG_TABLE " (client, port, recovery)"
	         " SELECT %d, inet_server_port(), pg_is_in_recovery(); COMMIT",
	         cl->id);
	int64_t started = it_now_ms();
	PGresult *r = PQexec(*c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK) {
		cl->commits++;
		if (run.promoted_ms && started >= run.promoted_ms && !cl->first_after_ms)
			cl->first_after_ms = it_now_ms();
	} else {
		cl->errors++;
		if (strcmp(it_sqlstate(r), "25006") == 0)
			cl->ro_errors++;
		if (strncmp(it_sqlstate(r), "08", 2) == 0)
			cl->lost++;
	}
	PQclear(r);
	if (PQstatus(*c) != CONNECTION_OK) {
		cl->disconnects++; /* counted; connect again so the other figures go on */
		PQfinish(*c);
		char ci[256];
		it_conninfo(ci, sizeof ci, "127.0.0.1", it_pglane_current()->port, "postgres", NULL,
		            "fo", NULL);
		*c = PQconnectdb(ci);
	} else if (PQtransactionStatus(*c) != PQTRANS_IDLE) {
		PQclear(PQexec(*c, "ROLLBACK"));
	}
	it_sleep_ms(10);
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	char ci[256];
	it_conninfo(ci, sizeof ci, "127.0.0.1", it_pglane_current()->port, "postgres", NULL, "fo",
	            NULL);
	PGconn *c = PQconnectdb(ci);
	for (int i = 0; i < 100000 && !run.stop; i++)
		one_txn(cl, &c);
	PQfinish(c);
	return NULL;
}

static void promote_standby(void)
{
	const char *pgsh = env_path("PGLANE_TEST_PGSH");
	char *out = NULL;
	int rc = it_sh(60, &out, "'%s' stop '%s'", pgsh, g.pdir);
	cr_assert_eq(rc, 0, "stopping the primary failed (exit %d):\n%s", rc, out ? out : "");
	free(out);
	/* pg_ctl as the cluster's owner (PostgreSQL refuses root), as tests/pg.sh runs it */
	out = NULL;
	rc = it_sh(
	        60, &out,
	        "cd '%s' && bin=$(pg_config --bindir 2>/dev/null || ls -d "
	        "/usr/lib/postgresql/*/bin | sort -V | tail -1) && "
	        "if [ \"$(id -u)\" = 0 ]; then runuser -u \"$(stat -c %%U data)\" -- "
	        "\"$bin/pg_ctl\" promote -w -t 30 -D data; else \"$bin/pg_ctl\" promote -w -t 30 "
	        "-D data; fi",
	        g.sdir);
	cr_assert_eq(rc, 0, "pg_ctl promote failed (exit %d):\n%s", rc, out ? out : "");
	free(out);
}

Test(failover, writes_land_on_the_primary_and_follow_a_promotion)
{
	setup_pair();
	PGconn *c = it_connect("postgres", NULL, "fo");
	cr_expect_eq(it_query_ll(c, "SELECT pg_is_in_recovery()::int"), 0);
	cr_expect_eq(it_query_ll(c, "SELECT inet_server_port()"), g.pport);
	it_exec_ok(c, "INSERT INTO " LOG_TABLE " (client, port, recovery) SELECT -1,"
	              " inet_server_port(), pg_is_in_recovery()");
	PQfinish(c);
	/* a client's own SET default_transaction_read_only is no reason to drop its server */
	c = it_connect("postgres", NULL, "fo");
	it_exec_ok(c, "SET default_transaction_read_only = on");
	cr_expect_eq(it_query_ll(c, "SELECT 7"), 7);
	PQfinish(c);
	/* the standby alone, read-write: refused at login, with the reason */
	char ci[256];
	it_conninfo(ci, sizeof ci, "127.0.0.1", it_pglane_current()->port, "postgres", NULL, "sbrw",
	            NULL);
	PGconn *sb = it_connect_try(ci);
	cr_expect_neq(PQstatus(sb), CONNECTION_OK, "a read-write login reached the standby");
	cr_expect(strstr(it_conn_error(sb), "the server is in hot standby and "
	                                    "target_session_attrs is read-write"),
	          "unexpected: %s", it_conn_error(sb));
	PQfinish(sb);
	/* prefer-standby, primary listed first: the standby */
	PGconn *pref = it_connect("postgres", NULL, "ro");
	cr_expect_eq(it_query_ll(pref, "SELECT pg_is_in_recovery()::int"), 1);
	cr_expect_eq(it_query_ll(pref, "SELECT inet_server_port()"), g.sport);

	struct client cl[NCLIENTS];
	memset(cl, 0, sizeof cl);
	for (int i = 0; i < NCLIENTS; i++) {
		cl[i].id = i;
		cr_assert_eq(pthread_create(&cl[i].th, NULL, client_main, &cl[i]), 0);
	}
	it_sleep_ms(1500);
	int64_t t0 = it_now_ms();
	promote_standby();
	run.promoted_ms = it_now_ms();
	cr_log_info("primary stopped and standby promoted in %lld ms",
	            (long long)(run.promoted_ms - t0));
	for (int i = 0; i < 60; i++) { /* until every client committed on the new primary */
		it_sleep_ms(100);
		int done = 0;
		for (int k = 0; k < NCLIENTS; k++)
			done += cl[k].first_after_ms != 0;
		if (done == NCLIENTS && it_now_ms() - run.promoted_ms > 1000)
			break;
	}
	run.stop = 1;
	int commits = 0, errors = 0, ro = 0, gone = 0, lost = 0;
	int64_t worst = 0;
	for (int i = 0; i < NCLIENTS; i++) {
		pthread_join(cl[i].th, NULL);
		commits += cl[i].commits;
		errors += cl[i].errors;
		ro += cl[i].ro_errors;
		gone += cl[i].disconnects;
		lost += cl[i].lost;
		int64_t after =
		        cl[i].first_after_ms ? cl[i].first_after_ms - run.promoted_ms : INT64_MAX;
		if (after > worst)
			worst = after;
	}
	cr_log_info("%d commits, %d errors (%d of class 08: server lost), %d disconnects; last "
	            "client back on the new primary %lld ms after the promotion",
	            commits, errors, lost, gone, (long long)worst);
	cr_expect_eq(ro, 0, "%d writes reached a server in recovery (25006)", ro);
	cr_expect_leq(worst, 2 * INTERVAL_MS,
	              "a client wrote on the new primary only %lld ms after the promotion",
	              (long long)worst);

	/* SHOW SERVERS: fo's servers are on the new primary */
	PGconn *con = it_connect("admin", NULL, "pglane");
	PGresult *sv = PQexec(con, "SHOW SERVERS");
	cr_assert_eq(PQresultStatus(sv), PGRES_TUPLES_OK, "%s", PQerrorMessage(con));
	int db_col = PQfnumber(sv, "database"), port_col = PQfnumber(sv, "port"), nfo = 0;
	for (int i = 0; i < PQntuples(sv); i++) {
		if (strcmp(PQgetvalue(sv, i, db_col), "fo") != 0)
			continue;
		nfo++;
		cr_expect_eq(atoi(PQgetvalue(sv, i, port_col)), g.sport, "SHOW SERVERS row %d", i);
	}
	cr_expect_gt(nfo, 0, "SHOW SERVERS lists no server of fo");
	PQclear(sv);
	/* SHOW DATABASES: fo's host and port are the new primary's */
	PGresult *dbs = PQexec(con, "SHOW DATABASES");
	cr_assert_eq(PQresultStatus(dbs), PGRES_TUPLES_OK, "%s", PQerrorMessage(con));
	bool seen = false;
	for (int i = 0; i < PQntuples(dbs); i++) {
		if (strcmp(PQgetvalue(dbs, i, PQfnumber(dbs, "name")), "fo") != 0)
			continue;
		seen = true;
		cr_expect_str_eq(PQgetvalue(dbs, i, PQfnumber(dbs, "host")), "127.0.0.1");
		cr_expect_eq(atoi(PQgetvalue(dbs, i, PQfnumber(dbs, "port"))), g.sport);
	}
	cr_expect(seen, "SHOW DATABASES has no row fo");
	PQclear(dbs);
	PQfinish(con);

	/* the prefer-standby server saw its standby promoted (ParameterStatus in_hot_standby):
	 * it is not handed out again; with no standby left, the new primary serves */
	cr_expect_eq(it_query_ll(pref, "SELECT 1"), 1);
	cr_expect_eq(it_query_ll(pref, "SELECT pg_is_in_recovery()::int"), 0);
	cr_expect_eq(it_query_ll(pref, "SELECT inet_server_port()"), g.sport);
	PQfinish(pref);
	char *log = it_pglane_log();
	cr_expect(strstr(log, "the server is now read-write: target_session_attrs is standby, "
	                      "closed on release"),
	          "the promotion of the prefer-standby server went unnoticed");
	cr_expect(!strstr(log, "the server is now read-only"), "a client's SET closed its server");
	free(log);

	PGconn *n = direct(g.sport);
	cr_expect_eq(it_query_ll(n, "SELECT count(*) FROM " LOG_TABLE " WHERE recovery"), 0,
	             "a row was written in recovery");
	char sql[200];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM " LOG_TABLE " WHERE port = %d", g.sport);
	cr_expect_gt(it_query_ll(n, sql), 0, "nothing was written on the new primary");
	snprintf(sql, sizeof sql, "SELECT count(*) FROM " LOG_TABLE " WHERE port NOT IN (%d, %d)",
	         g.pport, g.sport);
	cr_expect_eq(it_query_ll(n, sql), 0);
	PQfinish(n);
	cr_expect_eq(gone, 0, "%d clients lost their connection", gone);
	it_pglane_finish();
}

Test(failover, host_names_resolve_without_blocking)
{
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"transaction\"; size = 2; query_wait_timeout = \"20s\";"
	         " };\n"
	         "databases = ( { name = \"byname\"; dbname = \"postgres\"; host = \"localhost\";"
	         " port = %d; },\n"
	         " { name = \"nohost\"; dbname = \"postgres\"; query_wait_timeout = \"1s\";"
	         " host = \"no-such-host.pglane-test.invalid\"; port = %d; },\n"
	         " { name = \"multi\"; dbname = \"postgres\";"
	         " host = \"no-such-host.pglane-test.invalid, localhost\"; port = %d;"
	         " target_session_attrs = \"any\"; } );\n"
	         "monitor = { interval = \"500ms\"; };\n",
	         it_pgport(), it_pgport(), it_pgport());
	it_pglane_start(conf);
	PGconn *a = it_connect("postgres", NULL, "byname");
	cr_expect_eq(it_query_ll(a, "SELECT 1"), 1);
	/* a login to the unknown host is under way while byname keeps serving */
	char ci[256];
	it_conninfo(ci, sizeof ci, "127.0.0.1", it_pglane_current()->port, "postgres", NULL,
	            "nohost", NULL);
	PGconn *b = PQconnectStart(ci);
	cr_assert(b);
	PostgresPollingStatusType st = it_connect_poll(b, PGRES_POLLING_WRITING, 2000);
	int64_t t0 = it_now_ms();
	for (int i = 0; i < 20; i++)
		cr_expect_eq(it_query_ll(a, "SELECT 2"), 2);
	int64_t took = it_now_ms() - t0;
	cr_expect_lt(took, 2000, "20 queries on another database took %lld ms", (long long)took);
	PGresult *r = NULL;
	char msg[512] = "";
	if (st == PGRES_POLLING_OK) {
		/* pglane answered the login: the error comes with the first query */
		PQsendQuery(b, "SELECT 1");
		bool timed_out = false;
		r = it_result_wait(b, 30000, &timed_out);
		cr_expect(!timed_out, "no answer for the unknown host within 30 s");
		snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(b));
	} else {
		st = it_connect_poll(b, st, 30000);
		snprintf(msg, sizeof msg, "%s", PQerrorMessage(b));
	}
	cr_log_info("unknown host: %s", msg);
	cr_expect(strstr(msg, "could not resolve \"no-such-host.pglane-test.invalid\""),
	          "unexpected error: %s", msg);
	if (r)
		PQclear(r);
	PQfinish(b);
	cr_expect_eq(it_query_ll(a, "SELECT 3"), 3);
	PQfinish(a);
	/* a name that does not resolve passes the login on to the next host, a name that does
	 * (target_session_attrs any: the first host first, whatever the monitor says) */
	PGconn *m = it_connect("postgres", NULL, "multi");
	cr_expect_eq(it_query_ll(m, "SELECT inet_server_port()"), it_pgport());
	PQfinish(m);
	char *log = it_pglane_log();
	cr_expect(strstr(log, "host no-such-host.pglane-test.invalid:"),
	          "the unknown host was not tried first");
	/* the monitor watches both hosts of multi, resolving through pglane's resolver */
	for (int i = 0; i < 60 && !(strstr(log, "monitor: localhost:") &&
	                            strstr(log, "monitor: no-such-host.pglane-test.invalid:"));
	     i++) {
		free(log);
		it_sleep_ms(50);
		log = it_pglane_log();
	}
	cr_expect(strstr(log, "monitor: localhost:"), "the monitor never reached localhost");
	cr_expect(strstr(log, "monitor: no-such-host.pglane-test.invalid:"), "%s", log);
	free(log);
	it_pglane_finish();
}

/* `name` refused at login with a message containing `want`. */
static void login_refused(const char *name, const char *want)
{
	char ci[256];
	it_conninfo(ci, sizeof ci, "127.0.0.1", it_pglane_current()->port, "postgres", NULL, name,
	            NULL);
	PGconn *c = it_connect_try(ci);
	cr_expect_neq(PQstatus(c), CONNECTION_OK, "%s: logged in", name);
	cr_expect(strstr(it_conn_error(c), want), "%s: %s", name, it_conn_error(c));
	PQfinish(c);
}

static void serves_fake(const char *name)
{
	PGconn *c = it_connect("postgres", NULL, name);
	char *v = it_query_str(c, "SELECT 1");
	cr_expect_str_eq(v, "fake", "%s", name);
	free(v);
	PQfinish(c);
}

Test(failover, servers_without_in_hot_standby_are_asked)
{
	struct fakepg *standby = fakepg_start(FAKEPG_OLD_STANDBY);
	struct fakepg *primary = fakepg_start(FAKEPG_OLD_PRIMARY);
	char conf[1024];
	/* one host each: no monitor, the answer at login alone decides */
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"transaction\"; size = 1; query_wait_timeout = \"1s\"; };\n"
	         "databases = (\n"
	         " { name = \"sbrw\"; host = \"127.0.0.1\"; port = %d; sslmode = \"disable\";"
	         " target_session_attrs = \"read-write\"; },\n"
	         " { name = \"sbsb\"; host = \"127.0.0.1\"; port = %d; sslmode = \"disable\";"
	         " target_session_attrs = \"standby\"; },\n"
	         " { name = \"prrw\"; host = \"127.0.0.1\"; port = %d; sslmode = \"disable\";"
	         " target_session_attrs = \"read-write\"; },\n"
	         " { name = \"prsb\"; host = \"127.0.0.1\"; port = %d; sslmode = \"disable\";"
	         " target_session_attrs = \"standby\"; } );\n",
	         standby->port, standby->port, primary->port, primary->port);
	it_pglane_start(conf);
	login_refused("sbrw", "the server is in hot standby and target_session_attrs is "
	                      "read-write");
	serves_fake("sbsb");
	serves_fake("prrw");
	login_refused("prsb", "the server is read-write and target_session_attrs is "
	                      "standby");
	/* each login asks (a refused one again at each retry while its client waits) */
	cr_expect_geq(atomic_load(&standby->role_queries), 2);
	cr_expect_geq(atomic_load(&primary->role_queries), 2);
	it_pglane_finish();
}

/* tests/integration/test_faults_load.c — issue 18 item 1 under load: 30 libpq clients
 * (faultload.h: one thread and one PGconn each, short transactions with a 10-30 ms pause) in
 * transaction mode with a pool of 8, so that consecutive transactions land on different servers:
 *   - `pg_ctl restart -m fast` and a crash (SIGKILL of every PostgreSQL process, 300 ms down,
 *     started again) of a private cluster (faultpg.h): no client loses its connection, errors are
 *     ErrorResponses of the expected SQLSTATEs, every counter row equals its client's COMMITs,
 *     every client works again within 1 s of PostgreSQL, no backend is left idle in transaction;
 *   - PostgreSQL frozen (SIGSTOP) 1.5 s: no error at all;
 *   - pg_terminate_backend of every pool backend, five times, on the shared cluster (database
 *     bench): no disconnect, errors (08006 only) no more than the servers killed; the same in
 *     session mode, where each client's own work_mem survives on its new servers;
 *   - servers killed while idle in the pool are never handed out.
 * Tables faults_kill and faults_session in bench are dropped after. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/faultload.h"
#include "tests/integration/faultpg.h"
#include "tests/integration/harness.h"

#define LOAD_CLIENTS    30
#define SESSION_CLIENTS 20

static void load_fini(void)
{
	it_pglane_fini();
	faultpg_fini();
	it_drop_tables("faults_kill, faults_session");
}

TestSuite(faults_load, .fini = load_fini, .timeout = 60);

static struct faultload g_load; /* large: not on the stack */

/* A superuser connection straight to database bench, its notices dropped. */
static PGconn *bench_admin(void)
{
	PGconn *c = it_connect_direct("postgres", NULL, "bench");
	it_notices_off(c);
	return c;
}

/* ---- under load ---- */

IT_TEST(faults_load, restart_under_load, .timeout = 90)
{
	struct faultpg *pg = faultpg_start();
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"transaction\"; size = 8; query_wait_timeout = \"20s\"; };\n%s",
	         faultpg_databases(pg));
	struct it_pglane *p = it_pglane_start(conf);
	PGconn *admin = faultpg_connect(pg, "postgres");
	faultload_start(&g_load, admin, p->port, "postgres", "faults_restart", LOAD_CLIENTS, NULL);
	PQfinish(admin);
	it_sleep_ms(1000);

	int ms = faultpg_restart(pg, "fast");
	faultload_mark(&g_load);
	it_sleep_ms(2500);
	struct faultload_sum s = faultload_stop(&g_load);
	faultload_log("pg_ctl restart -m fast", &s);
	cr_log_info("restart took %d ms", ms);

	cr_expect_eq(s.disconnects, 0, "%lld client disconnects", s.disconnects);
	static const char *const allowed[] = {"08006", "57P01", "57P03", "25P02", NULL};
	faultload_expect_states(&g_load, allowed);
	cr_expect_eq(s.wrong, 0, "%lld wrong reads", s.wrong);
	cr_expect(s.slowest_back_ms >= 0 && s.slowest_back_ms <= 1000,
	          "a client was back %lld ms after the restart (-1: never)",
	          (long long)s.slowest_back_ms);
	cr_expect_gt(s.commits, LOAD_CLIENTS * 5, "the load hardly ran: %lld commits", s.commits);
	cr_expect_eq(faultload_alive(&g_load), LOAD_CLIENTS, "clients not answering SELECT 1");
	admin = faultpg_connect(pg, "postgres");
	cr_expect_eq(faultload_check_rows(&g_load, admin), 0, "counter rows disagree with COMMITs");
	long long iit = -1;
	for (int i = 0; i < 100 && iit != 0; i++, it_sleep_ms(20))
		iit = it_query_ll(admin, "SELECT count(*) FROM pg_stat_activity "
		                         "WHERE state LIKE 'idle in transaction%'");
	cr_expect_eq(iit, 0, "%lld backends left idle in transaction", iit);
	PQfinish(admin);
	faultload_free(&g_load);
}

/* The restart test's load through a crash: SIGKILL of the postmaster and every backend (the
 * servers' sockets reset or close), then PostgreSQL started again (crash recovery). */
IT_TEST(faults_load, crash_under_load, .timeout = 90)
{
	struct faultpg *pg = faultpg_start();
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"transaction\"; size = 8; query_wait_timeout = \"20s\"; };\n%s",
	         faultpg_databases(pg));
	struct it_pglane *p = it_pglane_start(conf);
	PGconn *admin = faultpg_connect(pg, "postgres");
	/* tests/pg.sh turns it off: a COMMIT must be in the WAL before it is answered, or a crash
	 * loses it (PostgreSQL's doing, not pglane's) */
	it_exec_ok(admin, "ALTER SYSTEM SET synchronous_commit = on");
	it_exec_ok(admin, "SELECT pg_reload_conf()");
	faultload_start(&g_load, admin, p->port, "postgres", "faults_crash", LOAD_CLIENTS, NULL);
	PQfinish(admin);
	it_sleep_ms(1000);

	faultpg_kill(pg);
	it_sleep_ms(300); /* down for a while: logins refused */
	int ms = faultpg_restart(pg, "fast");
	faultload_mark(&g_load);
	it_sleep_ms(2500);
	struct faultload_sum s = faultload_stop(&g_load);
	faultload_log("SIGKILL of PostgreSQL, 300 ms down, started again", &s);
	cr_log_info("start after the crash took %d ms", ms);

	cr_expect_eq(s.disconnects, 0, "%lld client disconnects", s.disconnects);
	static const char *const allowed[] = {"08006", "08001", "57P01", "57P03", "25P02", NULL};
	faultload_expect_states(&g_load, allowed);
	cr_expect_eq(s.wrong, 0, "%lld wrong reads", s.wrong);
	cr_expect(s.slowest_back_ms >= 0 && s.slowest_back_ms <= 1000,
	          "a client was back %lld ms after PostgreSQL was (-1: never)",
	          (long long)s.slowest_back_ms);
	cr_expect_eq(faultload_alive(&g_load), LOAD_CLIENTS, "clients not answering SELECT 1");
	admin = faultpg_connect(pg, "postgres");
	cr_expect_eq(faultload_check_rows(&g_load, admin), 0, "counter rows disagree with COMMITs");
	PQfinish(admin);
	faultload_free(&g_load);
}

/* PostgreSQL frozen (SIGSTOP of every process) for 1.5 s under load: nothing died, so nothing
 * may fail; statements in flight just finish late. */
IT_TEST(faults_load, freeze_under_load_is_no_failure, .timeout = 60)
{
	struct faultpg *pg = faultpg_start();
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"transaction\"; size = 8; query_wait_timeout = \"20s\"; };\n%s",
	         faultpg_databases(pg));
	struct it_pglane *p = it_pglane_start(conf);
	PGconn *admin = faultpg_connect(pg, "postgres");
	faultload_start(&g_load, admin, p->port, "postgres", "faults_freeze", 10, NULL);
	PQfinish(admin);
	it_sleep_ms(500);
	faultpg_freeze(pg);
	it_sleep_ms(1500);
	faultpg_thaw(pg);
	faultload_mark(&g_load);
	it_sleep_ms(1000);
	struct faultload_sum s = faultload_stop(&g_load);
	faultload_log("PostgreSQL frozen 1.5 s", &s);
	cr_expect_eq(s.disconnects, 0);
	cr_expect_eq(s.errors, 0, "errors: %s", s.states);
	cr_expect_eq(s.wrong, 0);
	cr_expect(s.slowest_back_ms >= 0 && s.slowest_back_ms <= 1000, "back after %lld ms",
	          (long long)s.slowest_back_ms);
	admin = faultpg_connect(pg, "postgres");
	cr_expect_eq(faultload_check_rows(&g_load, admin), 0);
	PQfinish(admin);
	faultload_free(&g_load);
}

IT_TEST(faults_load, kill_every_pool_backend_under_load)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 8, NULL);
	PGconn *admin = bench_admin();
	faultload_start(&g_load, admin, p->port, "bench", "faults_kill", LOAD_CLIENTS, NULL);
	it_sleep_ms(500);
	long long killed = 0;
	for (int round = 0; round < 5; round++) {
		long long k = faultload_kill_backends(admin, "bench");
		cr_expect_gt(k, 0, "round %d killed no backend", round);
		killed += k;
		it_sleep_ms(700);
	}
	struct faultload_sum s = faultload_stop(&g_load);
	faultload_log("5 x pg_terminate_backend of every pool backend", &s);
	cr_log_info("%lld backends killed", killed);

	cr_expect_eq(s.disconnects, 0, "%lld client disconnects", s.disconnects);
	static const char *const allowed[] = {"08006", NULL};
	faultload_expect_states(&g_load, allowed);
	cr_expect_leq(s.errors, killed, "%lld errors for %lld killed servers", s.errors, killed);
	cr_expect_eq(s.wrong, 0, "%lld wrong reads", s.wrong);
	cr_expect_eq(faultload_alive(&g_load), LOAD_CLIENTS, "clients not answering SELECT 1");
	cr_expect_eq(faultload_check_rows(&g_load, admin), 0, "counter rows disagree with COMMITs");
	faultload_free(&g_load);
	PQfinish(admin);
}

/* Session mode: each client holds its server; all of them killed five times. Each client's
 * own work_mem ('1<id>00kB') is on every new server it gets. */
IT_TEST(faults_load, kill_every_session_backend_under_load)
{
	struct it_pglane *p = it_pglane_start_simple("session", SESSION_CLIENTS + 5, NULL);
	PGconn *admin = bench_admin();
	faultload_start(&g_load, admin, p->port, "bench", "faults_session", SESSION_CLIENTS,
	                "SET work_mem = '1@ID@00kB'");
	it_sleep_ms(500);
	long long killed = 0;
	for (int round = 0; round < 5; round++) {
		long long k = faultload_kill_backends(admin, "bench");
		cr_expect_gt(k, 0, "round %d killed no backend", round);
		killed += k;
		it_sleep_ms(700);
	}
	struct faultload_sum s = faultload_stop(&g_load);
	faultload_log("session mode, 5 x pg_terminate_backend of every backend", &s);
	cr_log_info("%lld backends killed", killed);
	cr_expect_eq(s.disconnects, 0, "%lld client disconnects", s.disconnects);
	static const char *const allowed[] = {"08006", NULL};
	faultload_expect_states(&g_load, allowed);
	cr_expect_leq(s.errors, killed, "%lld errors for %lld killed servers", s.errors, killed);
	cr_expect_eq(s.wrong, 0, "%lld wrong reads", s.wrong);
	cr_expect_eq(faultload_check_rows(&g_load, admin), 0, "counter rows disagree with COMMITs");
	for (int i = 0; i < SESSION_CLIENTS; i++) {
		PGconn *c = g_load.c[i].conn;
		if (!c || PQstatus(c) != CONNECTION_OK)
			continue;
		char want[32];
		snprintf(want, sizeof want, "1%d00kB", i);
		char *got = it_query_str(c, "SHOW work_mem");
		cr_expect_str_eq(got, want, "client %d: work_mem %s, set %s", i, got, want);
		free(got);
	}
	faultload_free(&g_load);
	PQfinish(admin);
}

IT_TEST(faults_load, idle_dead_server_never_handed_out)
{
	it_pglane_start_simple("transaction", 3, NULL);
	PGconn *admin = bench_admin();
	PGconn *c[3];
	for (int i = 0; i < 3; i++)
		c[i] = it_connect("postgres", NULL, "bench");
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 3; i++) /* warm: every client, in turn */
			it_query_ll(c[i], "SELECT pg_backend_pid()");
		cr_assert_gt(faultload_kill_backends(admin, "bench"), 0);
		it_sleep_ms(200);
		for (int k = 0; k < 10; k++)
			for (int i = 0; i < 3; i++)
				cr_assert_eq(it_query_ll(c[i], "SELECT 41 + 1"), 42);
	}
	for (int i = 0; i < 3; i++)
		PQfinish(c[i]);
	PQfinish(admin);
}

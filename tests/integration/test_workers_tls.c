/* tests/integration/test_workers_tls.c — workers = 2 with servers over TLS: an idle TLS server
 * moves to the other worker's waiting client as a plain one does (its OpenSSL session goes
 * with it; the worker that takes it is the only one that uses it from then on), rather than
 * being closed and a new one logged in (a TLS handshake, a SCRAM exchange and a backend fork
 * per move). Pool size 1 against a PostgreSQL of the test's own with ssl on: clients of the
 * two workers take turns; every turn runs on the same backend, over TLS (pg_stat_ssl), and
 * the backend's session is the client's own. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"
#include "tests/integration/tlscerts.h"
#include "tests/integration/wclients.h"

static char g_dir[512];

static void fini(void)
{
	it_pglane_fini();
	tls_cluster_stop(g_dir);
}

TestSuite(workers_tls, .fini = fini, .timeout = 120);

IT_TEST(workers_tls, a_tls_server_moves_between_workers)
{
	int port = tls_cluster_start(g_dir, sizeof g_dir, NULL);
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "workers = 2;\n"
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"transaction\"; size = 1; query_wait_timeout = \"20s\"; };\n"
	         "server_tls = { sslmode = \"require\"; };\n"
	         "databases = ( { name = \"tlsdb\"; host = \"127.0.0.1\"; port = %d;\n"
	         "                dbname = \"postgres\"; } );\n",
	         port);
	it_pglane_start(conf);
	PGconn *c[4];
	wclients_connect_both(c, 4, "postgres", NULL, "tlsdb"); /* workers 0, 1, 0, 1 */
	long long first = -1;
	int same = 0, tls = 0;
	for (int turn = 0; turn < 20; turn++) {
		PGconn *t = c[turn % 4];
		char name[32], set[64];
		snprintf(name, sizeof name, "turn%d", turn);
		snprintf(set, sizeof set, "SET application_name = '%s'", name);
		it_exec_ok(t, set); /* the client's own session setting, re-applied where it runs */
		PGresult *r = PQexec(t, "SELECT pg_backend_pid(), ssl::text, current_setting("
		                        "'application_name') FROM pg_stat_ssl WHERE pid = "
		                        "pg_backend_pid()");
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "turn %d: %s", turn,
		             PQresultErrorMessage(r));
		cr_assert_eq(PQntuples(r), 1);
		long long pid = atoll(PQgetvalue(r, 0, 0));
		if (first < 0)
			first = pid;
		same += pid == first;
		tls += strcmp(PQgetvalue(r, 0, 1), "true") == 0;
		cr_expect_str_eq(PQgetvalue(r, 0, 2), name, "turn %d", turn);
		PQclear(r);
	}
	cr_log_info("pool size 1 over TLS, 20 turns of clients on workers %u %u %u %u: %d on "
	            "backend %lld, %d over TLS",
	            wclients_worker_of(c[0]), wclients_worker_of(c[1]), wclients_worker_of(c[2]),
	            wclients_worker_of(c[3]), same, first, tls);
	cr_expect_eq(tls, 20, "%d of 20 turns over TLS", tls);
	cr_expect_eq(same, 20,
	             "%d of 20 turns on the first backend: the TLS server was closed "
	             "and a new one logged in rather than moved",
	             same);
	for (int i = 0; i < 4; i++)
		PQfinish(c[i]);
}

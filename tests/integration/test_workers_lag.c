/* tests/integration/test_workers_lag.c — workers = 2: an idle server is kept from the other
 * worker's waiting client while that worker has servers of its own (one of them is about to
 * serve it, and servers bouncing at every release cost a mailbox hop and their prepared
 * statements), but only for the lag: pool size 4, worker B's two clients hold their servers
 * in open transactions, worker A's two servers are idle, a third client of B waits. It must
 * get one of A's servers within a few milliseconds (the look again at the lag), not wait for
 * B's transactions to end. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "tests/integration/harness.h"
#include "tests/integration/wclients.h"

TestSuite(workers_lag, .fini = it_pglane_fini, .timeout = 60);

IT_TEST(workers_lag, kept_back_for_the_lag_only)
{
	it_pglane_start(
	        "workers = 2;\n"
	        "auth = { type = \"trust\"; };\n"
	        "pool = { mode = \"transaction\"; size = 4; query_wait_timeout = \"30s\"; };\n"
	        "databases = ( { name = \"bench\"; host = \"@PGHOST@\"; port = @PGPORT@; } );\n");
	/* three clients on each worker */
	PGconn *on[2][3];
	int k[2] = {0, 0};
	PGconn *extra[W_MAX * 4];
	int nextra = 0;
	for (int i = 0; (k[0] < 3 || k[1] < 3) && i < W_MAX * 4; i++) {
		it_sleep_ms(i % 5); /* let both workers go back to their poll */
		PGconn *c = it_connect("postgres", NULL, "bench");
		unsigned w = wclients_worker_of(c);
		if (k[w] < 3)
			on[w][k[w]++] = c;
		else
			extra[nextra++] = c;
	}
	cr_assert(k[0] == 3 && k[1] == 3, "clients on worker 0: %d, on worker 1: %d", k[0], k[1]);
	for (int i = 0; i < nextra; i++)
		PQfinish(extra[i]);

	/* worker 0: two servers, then idle; worker 1: two servers held */
	for (int i = 0; i < 2; i++) {
		it_exec_ok(on[0][i], "BEGIN");
		it_exec_ok(on[0][i], "SELECT 1");
	}
	for (int i = 0; i < 2; i++) {
		it_exec_ok(on[1][i], "BEGIN");
		it_exec_ok(on[1][i], "SELECT 1");
	}
	for (int i = 0; i < 2; i++)
		it_exec_ok(on[0][i], "COMMIT");

	PGconn *waiter = on[1][2];
	int64_t t0 = it_now_ms();
	cr_assert(PQsendQuery(waiter, "SELECT pg_backend_pid()"), "%s", PQerrorMessage(waiter));
	while (!wclients_finished(waiter) && it_now_ms() - t0 < 3000)
		it_sleep_ms(1);
	int took = (int)(it_now_ms() - t0);
	bool answered = wclients_finished(waiter);
	cr_log_info("size 4, worker 1's servers held, worker 0's idle: worker 1's third client "
	            "answered after %d ms",
	            took);
	cr_assert(answered, "worker 1's third client waited 3 s beside worker 0's idle servers");
	wclients_drain_ok(waiter, "the waiter's SELECT");
	PGconn *admin = it_connect_admin();
	long long backends = it_query_ll(
	        admin,
	        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
	        "AND datname = 'bench'");
	cr_expect_leq(backends, 4, "%lld backends of bench, the pool's size is 4", backends);
	PQfinish(admin);
	for (int i = 0; i < 2; i++)
		it_exec_ok(on[1][i], "COMMIT");
	for (int w = 0; w < 2; w++)
		for (int i = 0; i < 3; i++)
			PQfinish(on[w][i]);
}

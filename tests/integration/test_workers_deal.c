/* tests/integration/test_workers_deal.c — which worker a new connection goes to (workers = 2):
 * the one with the fewest clients, the accepting one on a tie (proxy_worker_for_accept).
 *   - 16 connections started at once (one loop may accept them all in a batch) are split
 *     evenly, within 2;
 *   - after worker 0's clients leave, the next 8 connections, one after another, all go to
 *     worker 0 (dealing in turn would have split them 4 and 4), and the workers are even again.
 * The worker that owns a client is read from its cancel pid (wclients.h). */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>

#include "tests/integration/harness.h"
#include "tests/integration/wclients.h"

TestSuite(workers_deal, .fini = it_pglane_fini, .timeout = 60);

#define BURST 16

/* Start n connections at once, then finish them all (5 s at most). */
static void connect_burst(PGconn **c, int n, int port)
{
	char ci[160];
	snprintf(ci, sizeof ci,
	         "host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", port);
	for (int i = 0; i < n; i++) {
		c[i] = PQconnectStart(ci);
		cr_assert(c[i] && PQstatus(c[i]) != CONNECTION_BAD, "PQconnectStart %d", i);
	}
	PostgresPollingStatusType st[BURST];
	for (int i = 0; i < n; i++)
		st[i] = PGRES_POLLING_WRITING;
	int64_t deadline = it_now_ms() + 5000;
	for (;;) {
		struct pollfd p[BURST];
		int np = 0, pending = 0;
		for (int i = 0; i < n; i++) {
			if (st[i] == PGRES_POLLING_OK)
				continue;
			cr_assert_neq(st[i], PGRES_POLLING_FAILED, "connection %d: %s", i,
			              PQerrorMessage(c[i]));
			pending++;
			p[np].fd = PQsocket(c[i]);
			p[np].events = st[i] == PGRES_POLLING_READING ? POLLIN : POLLOUT;
			np++;
		}
		if (!pending)
			return;
		cr_assert_lt(it_now_ms(), deadline, "%d of %d connections not done in 5 s", pending,
		             n);
		poll(p, (nfds_t)np, 100);
		for (int i = 0; i < n; i++)
			if (st[i] != PGRES_POLLING_OK)
				st[i] = PQconnectPoll(c[i]);
	}
}

static void count(PGconn **c, int n, int k[2])
{
	k[0] = k[1] = 0;
	for (int i = 0; i < n; i++)
		if (c[i])
			k[wclients_worker_of(c[i])]++;
}

IT_TEST(workers_deal, fewest_clients_first)
{
	int port = it_pglane_start_simple_workers("transaction", 4, NULL, 2)->port;
	PGconn *c[BURST];
	connect_burst(c, BURST, port);
	int k[2];
	count(c, BURST, k);
	cr_log_info("%d connections at once: %d on worker 0, %d on worker 1", BURST, k[0], k[1]);
	cr_expect(k[0] - k[1] <= 2 && k[1] - k[0] <= 2, "%d connections at once: %d and %d", BURST,
	          k[0], k[1]);
	for (int i = 0; i < BURST; i++)
		cr_expect_eq(it_query_ll(c[i], "SELECT 1"), 1);

	/* worker 0's clients leave; then one connection after another */
	int gone = 0;
	for (int i = 0; i < BURST; i++)
		if (wclients_worker_of(c[i]) == 0) {
			PQfinish(c[i]);
			c[i] = NULL;
			gone++;
		}
	it_sleep_ms(100); /* worker 0 has seen them go */
	int to0 = 0;
	for (int i = 0; i < BURST; i++) {
		if (c[i])
			continue;
		c[i] = it_connect("postgres", NULL, "postgres");
		to0 += wclients_worker_of(c[i]) == 0;
	}
	count(c, BURST, k);
	cr_log_info("%d left worker 0; the next %d, one by one: %d to worker 0; now %d and %d",
	            gone, gone, to0, k[0], k[1]);
	cr_expect_eq(to0, gone, "of %d connections after worker 0's clients left, %d went there",
	             gone, to0);
	cr_expect(k[0] - k[1] <= 2 && k[1] - k[0] <= 2, "after: %d and %d", k[0], k[1]);
	for (int i = 0; i < BURST; i++) {
		cr_expect_eq(it_query_ll(c[i], "SELECT 2"), 2);
		PQfinish(c[i]);
	}
}

/* tests/integration/wclients.c — libpq clients on both workers (wclients.h). */
#include "tests/integration/wclients.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "tests/integration/harness.h"

unsigned wclients_worker_of(PGconn *c)
{
	unsigned w = ((unsigned)PQbackendPID(c) >> 14) & 0x3fu;
	cr_assert_lt(w, 2u, "cancel pid %d names worker %u of 2", PQbackendPID(c), w);
	return w;
}

void wclients_connect_both(PGconn **c, int n, const char *user, const char *pw, const char *db)
{
	PGconn *on[2][W_MAX];
	int k[2] = {0, 0};
	cr_assert_leq(n, W_MAX);
	for (int i = 0; i < n; i++) {
		PGconn *d = it_connect(user, pw, db);
		unsigned w = wclients_worker_of(d);
		on[w][k[w]++] = d;
	}
	for (int tries = 0; (k[0] == 0 || k[1] == 0) && tries < 100; tries++) {
		it_sleep_ms(tries % 10); /* let both workers go back to their poll */
		PGconn *d = it_connect(user, pw, db);
		unsigned w = wclients_worker_of(d);
		if (k[w] > 0) {
			PQfinish(d);
			continue;
		}
		PQfinish(on[!w][--k[!w]]);
		on[w][k[w]++] = d;
	}
	cr_assert(k[0] > 0 && k[1] > 0, "%d clients and 100 more, all on worker %d", n,
	          k[0] ? 0 : 1);
	cr_log_info("%d clients of %s: %d on worker 0, %d on worker 1", n, user, k[0], k[1]);
	int i0 = 0, i1 = 0;
	for (int i = 0; i < n; i++) {
		bool zero = i1 >= k[1] || (i0 < k[0] && i % 2 == 0);
		c[i] = zero ? on[0][i0++] : on[1][i1++];
	}
}

bool wclients_finished(PGconn *c)
{
	cr_assert(PQconsumeInput(c), "a client lost its connection: %s", PQerrorMessage(c));
	return !PQisBusy(c);
}

void wclients_drain_ok(PGconn *c, const char *what)
{
	PGresult *r;
	while ((r = PQgetResult(c)) != NULL) {
		cr_expect(PQresultStatus(r) == PGRES_TUPLES_OK ||
		                  PQresultStatus(r) == PGRES_COMMAND_OK,
		          "%s: %s", what, PQresultErrorMessage(r));
		PQclear(r);
	}
}

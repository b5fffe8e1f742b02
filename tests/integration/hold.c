/* tests/integration/hold.c — holder clients that pin servers in transaction mode (hold.h). */
#include "tests/integration/hold.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

struct hold hold_init(void)
{
	struct hold h = {.held = -1};
	for (int i = 0; i < 2; i++)
		h.c[i] = it_connect_app("postgres", NULL, "postgres", "it_holder");
	return h;
}

static long long begin_on(struct hold *h, int i)
{
	it_exec_ok(h->c[i], "BEGIN");
	h->pid[i] = it_query_ll(h->c[i], "SELECT pg_backend_pid()");
	return h->pid[i];
}

void hold_learn(struct hold *h, long long pids[2])
{
	cr_assert_eq(h->held, -1, "hold_learn: a holder is already in a transaction");
	pids[0] = begin_on(h, 0);
	pids[1] = begin_on(h, 1);
	it_exec_ok(h->c[0], "COMMIT");
	it_exec_ok(h->c[1], "COMMIT");
	cr_assert_neq(pids[0], pids[1], "two open transactions share backend %lld", pids[0]);
}

long long hold_server(struct hold *h, long long pid, bool same)
{
	cr_assert_eq(h->held, -1, "hold_server: a holder is already in a transaction");
	long long p0 = begin_on(h, 0);
	if ((p0 == pid) == same) {
		h->held = 0;
		return p0;
	}
	long long p1 = begin_on(h, 1);
	it_exec_ok(h->c[0], "COMMIT");
	if ((p1 == pid) != same) {
		it_exec_ok(h->c[1], "COMMIT");
		cr_assert_fail(
		        "hold_server: wanted a backend %s %lld, the holders got %lld and %lld",
		        same ? "equal to" : "other than", pid, p0, p1);
	}
	h->held = 1;
	return p1;
}

void hold_release(struct hold *h)
{
	if (h->held < 0)
		return;
	it_exec_ok(h->c[h->held], "COMMIT");
	h->held = -1;
}

void hold_fini(struct hold *h)
{
	hold_release(h);
	for (int i = 0; i < 2; i++) {
		PQfinish(h->c[i]);
		h->c[i] = NULL;
	}
}

long long hold_backend_with(PGconn *admin, const char *marker)
{
	char like[256];
	snprintf(like, sizeof like, "%%%s%%", marker);
	const char *params[1] = {like};
	int64_t deadline = it_now_ms() + 5000;
	int n = 0;
	for (;;) {
		PGresult *r = PQexecParams(admin,
		                           "SELECT pid FROM pg_stat_activity WHERE query LIKE $1"
		                           " AND pid <> pg_backend_pid()"
		                           " AND backend_type = 'client backend'",
		                           1, NULL, params, NULL, NULL, 0);
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		n = PQntuples(r);
		long long pid = n == 1 ? atoll(PQgetvalue(r, 0, 0)) : 0;
		PQclear(r);
		if (n == 1)
			return pid;
		if (it_now_ms() > deadline)
			break;
		it_sleep_ms(20);
	}
	cr_assert_fail("%d backends run a query containing `%s` (want exactly 1)", n, marker);
	return 0;
}

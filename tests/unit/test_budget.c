/* tests/unit/test_budget.c — pool/budget: the process-wide server places (take under the
 * pool's, database's and user's limits, give back), and which wanting worker an idle server
 * goes to: the one whose clients waited longest beyond the lag (pool_budget_owed), and, from
 * a worker none of whose clients waits, only a worker with no server of the pool or whose
 * longest wait reached the lag (pool_budget_starved; else when to look again). */
#include <criterion/criterion.h>

#include "pool/budget.h"

Test(budget, take_stops_at_each_limit_and_give_returns)
{
	struct pool_budget *p = pool_budget_pool("ub_db", "ub_user", CFG_LANE_OLTP);
	struct pool_budget *d = pool_budget_db("ub_db");
	struct pool_budget *u = pool_budget_user("ub_user");
	cr_assert(p && d && u);
	cr_expect_eq(pool_budget_take(p, 2, d, 3, u, 0), 0);
	cr_expect_eq(pool_budget_take(p, 2, d, 3, u, 0), 0);
	cr_expect_eq(pool_budget_take(p, 2, d, 3, u, 0), 1, "the pool's size is 2");
	cr_expect_eq(pool_budget_servers(p), 2, "a refused take keeps nothing");
	cr_expect_eq(pool_budget_take(p, 5, d, 2, u, 0), 2, "the database's cap is 2");
	cr_expect_eq(pool_budget_take(p, 5, d, 5, u, 2), 3, "the user's cap is 2");
	cr_expect_eq(pool_budget_servers(d), 2);
	pool_budget_give(p, d, u, 2);
	cr_expect_eq(pool_budget_servers(p), 0);
	cr_expect_eq(pool_budget_servers(d), 0);
	cr_expect_eq(pool_budget_servers(u), 0);
}

Test(budget, owed_to_the_longest_wait_beyond_the_lag)
{
	struct pool_budget *b = pool_budget_pool("ub_owed", "u", CFG_LANE_OLTP);
	cr_assert(b);
	pool_budget_oldest_set(b, 1, 1000);
	pool_budget_oldest_set(b, 2, 990);
	uint64_t mask = (1u << 1) | (1u << 2) | (1u << 3); /* worker 3: nobody waits */
	cr_expect_eq(pool_budget_owed(b, mask, 1010, 5), 2, "both longer by 5+: the longest");
	cr_expect_eq(pool_budget_owed(b, mask, 1000, 5), 2, "only worker 2 by 10 ms");
	cr_expect_eq(pool_budget_owed(b, mask, 994, 5), -1, "worker 2 by 4 ms only");
	cr_expect_eq(pool_budget_owed(b, 1u << 1, 1010, 5), 1, "the mask limits the choice");
	pool_budget_oldest_set(b, 1, 0);
	pool_budget_oldest_set(b, 2, 0);
}

Test(budget, starved_has_no_server_or_waited_the_lag)
{
	struct pool_budget *b = pool_budget_pool("ub_starved", "u", CFG_LANE_OLTP);
	cr_assert(b);
	uint64_t mask = (1u << 1) | (1u << 2);
	int64_t next = -1;
	cr_expect_eq(pool_budget_starved(b, mask, 1000, &next), -1, "nobody waits");
	cr_expect_eq(next, 0);

	pool_budget_worker_servers(b, 1, 3);
	pool_budget_worker_servers(b, 2, 1);
	pool_budget_oldest_set(b, 1, 1002);
	pool_budget_oldest_set(b, 2, 1001);
	cr_expect_eq(pool_budget_starved(b, mask, 1000, &next), -1,
	             "both have servers and waited less than the lag");
	cr_expect_eq(next, 1001, "look again when worker 2's wait reaches it");
	cr_expect_eq(pool_budget_starved(b, mask, 1001, &next), 2, "worker 2's wait reached it");

	pool_budget_worker_servers(b, 1, -3); /* worker 1's servers closed or moved */
	cr_expect_eq(pool_budget_starved(b, mask, 900, &next), 1, "worker 1 has none");
	cr_expect_eq(pool_budget_starved(b, 1u << 2, 900, &next), -1, "not in the mask");
	pool_budget_oldest_set(b, 1, 0);
	cr_expect_eq(pool_budget_starved(b, 1u << 1, 900, &next), -1,
	             "no server but nobody waits there");
	pool_budget_worker_servers(b, 2, -1);
	pool_budget_oldest_set(b, 2, 0);
}

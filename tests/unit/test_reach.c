/* tests/unit/test_reach.c — pool/reach: which login errors are transient, the exponential
 * back-off up to server_login_retry, the states up → retrying → down (after down_after_ms)
 * → up (up while other servers serve), and a failure that waiting cannot mend (down at once, full
 * back-off). */
#include <criterion/criterion.h>

#include "pool/reach.h"

Test(reach, transient_sqlstates)
{
	static const char *const yes[] = {"57P03", "57P01", "57P02", "53300", "53000",
	                                  "53100", "08001", "08006", "08003", "08000"};
	static const char *const no[] = {"28P01", "28000", "3D000", "08P01", "XX000",
	                                 "0A000", "42501", "5330",  "",      "57P04"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		cr_expect(pool_reach_transient(yes[i]), "%s should be transient", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		cr_expect(!pool_reach_transient(no[i]), "%s should not be transient", no[i]);
	cr_expect(!pool_reach_transient(NULL));
}

Test(reach, backoff_doubles_up_to_the_cap)
{
	struct pool_reach r = {0};
	static const int64_t want[] = {50, 100, 200, 400, 500, 500};
	int64_t now = 1000;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		pool_reach_failed(&r, true, false, "connection refused", 500, 0, now);
		cr_expect_eq(r.retry_at_ms - now, want[i], "failure %zu: delay %lld, not %lld",
		             i + 1, (long long)(r.retry_at_ms - now), (long long)want[i]);
		cr_expect(!pool_reach_may_login(&r, r.retry_at_ms - 1));
		cr_expect(pool_reach_may_login(&r, r.retry_at_ms));
		now = r.retry_at_ms;
	}
	cr_expect_eq(r.state, POOL_REACH_RETRYING);
	cr_expect_eq(pool_reach_max_logins(&r), 1);
	cr_expect_str_eq(r.error, "connection refused");
}

Test(reach, states_and_since)
{
	struct pool_reach r = {0};
	cr_expect_eq(r.state, POOL_REACH_UP);
	cr_expect(pool_reach_may_login(&r, 0));
	pool_reach_failed(&r, true, false, "the database system is shutting down", 1000, 10000,
	                  5000);
	cr_expect_eq(r.state, POOL_REACH_RETRYING);
	cr_expect_eq(r.since_ms, 5000);
	pool_reach_failed(&r, true, false, "connection refused", 1000, 10000, 9000);
	cr_expect_eq(r.state, POOL_REACH_RETRYING);
	cr_expect_eq(r.since_ms, 5000, "the state did not change: since stays");
	pool_reach_failed(&r, true, false, "connection refused", 1000, 10000, 15000);
	cr_expect_eq(r.state, POOL_REACH_DOWN, "retrying 10 s: down");
	cr_expect_eq(r.since_ms, 15000);
	pool_reach_failed(&r, true, false, "connection refused", 1000, 10000, 16000);
	cr_expect_eq(r.state, POOL_REACH_DOWN, "still failing: still down");
	pool_reach_ok(&r, 17000);
	cr_expect_eq(r.state, POOL_REACH_UP);
	cr_expect_eq(r.since_ms, 17000);
	cr_expect_eq(r.failures, 0);
	cr_expect_str_eq(r.error, "");
	cr_expect(pool_reach_may_login(&r, 17000));
	cr_expect_gt(pool_reach_max_logins(&r), 1000);
	/* after success the back-off starts again from the first delay */
	pool_reach_failed(&r, true, false, "connection refused", 1000, 10000, 20000);
	cr_expect_eq(r.retry_at_ms, 20000 + POOL_REACH_FIRST_DELAY_MS);
}

Test(reach, lasting_failure_is_down_at_once)
{
	struct pool_reach r = {0};
	pool_reach_failed(&r, false, false, "password authentication failed for user \"x\"", 1000,
	                  0, 3000);
	cr_expect_eq(r.state, POOL_REACH_DOWN);
	cr_expect_eq(r.retry_at_ms, 4000, "the whole server_login_retry");
	cr_expect_eq(pool_reach_max_logins(&r), 1);
	/* then PostgreSQL restarts: a transient failure is retrying again */
	pool_reach_failed(&r, true, false, "the database system is starting up", 1000, 0, 5000);
	cr_expect_eq(r.state, POOL_REACH_RETRYING);
	cr_expect_eq(r.since_ms, 5000);
}

Test(reach, full_but_serving_stays_up)
{
	struct pool_reach r = {0};
	pool_reach_failed(&r, true, true, "too many connections", 500, 0, 1000);
	cr_expect_eq(r.state, POOL_REACH_UP, "other servers serve: up");
	cr_expect_eq(r.retry_at_ms, 1050, "but the back-off holds");
	cr_expect_eq(pool_reach_max_logins(&r), 1, "and one login at a time");
	cr_expect_str_eq(r.error, "too many connections");
	pool_reach_failed(&r, true, false, "connection refused", 500, 0, 2000);
	cr_expect_eq(r.state, POOL_REACH_RETRYING, "none left: retrying");
}

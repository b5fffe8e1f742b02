/* tests/integration/test_pgbench.c — pgbench -S for 15 s, 50 clients, through pglane in
 * transaction mode with a pool of 10, simple and extended protocol: no failed transaction. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"

TestSuite(pgbench, .fini = it_pglane_fini, .timeout = 120);

static void run_pgbench(const char *protocol)
{
	struct it_pglane *p =
	        it_pglane_start_simple("transaction", 10, "query_wait_timeout = \"60s\";");
	char *out = NULL;
	int rc = it_sh(60, &out,
	               "pgbench -h 127.0.0.1 -p %d -U postgres -n -S -T 15 -c 50 -j 2 -M %s bench",
	               p->port, protocol);
	cr_expect_eq(rc, 0, "pgbench -M %s exited %d:\n%s", protocol, rc, out);
	long long failed = adminq_report_number(out, "number of failed transactions:");
	long long processed =
	        adminq_report_number(out, "number of transactions actually processed:");
	cr_expect_eq(failed, 0, "pgbench -M %s: failed transactions %lld:\n%s", protocol, failed,
	             out);
	cr_expect_gt(processed, 0, "pgbench -M %s processed %lld transactions:\n%s", protocol,
	             processed, out);
	const char *tps = strstr(out, "tps = ");
	cr_log_info("pgbench -M %s through pglane: %lld transactions, %.60s", protocol, processed,
	            tps ? tps : "?");
	free(out);
}

IT_TEST(pgbench, select_only_simple_protocol, .timeout = 120)
{
	run_pgbench("simple");
}

IT_TEST(pgbench, select_only_extended_protocol, .timeout = 120)
{
	run_pgbench("extended");
}

/* tests/unit/test_config_workers.c — config: `workers` and `worker_cpu_affinity` (the worker
 * threads and whether they are pinned to CPUs): defaults, what is read, printed and flattened,
 * and that both need a restart (the errors are in test_config_errors.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"
#include "tests/unit/config_fixture.h"

CTEST(workers_defaults)
{
	struct cfg *c = cfgt_load("");
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_eq(c->workers, 0, "one per core");
	cr_expect_eq(c->worker_cpu_affinity, CFG_AFFINITY_AUTO);
	cr_expect_str_eq(cfg_cpu_affinity_name(c->worker_cpu_affinity), "auto");
	cfg_free(c);
}

CTEST(worker_cpu_affinity_read_printed_flattened)
{
	struct cfg *c = cfgt_load("workers = 4;\nworker_cpu_affinity = \"off\";\n");
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_eq(c->workers, 4);
	cr_expect_eq(c->worker_cpu_affinity, CFG_AFFINITY_OFF);
	char *text = cfgt_print(c);
	cr_expect_not_null(strstr(text, "workers = 4;\nworker_cpu_affinity = \"off\";\n"), "%s",
	                   text);
	struct cfg_kvs kv = {0};
	cr_assert(cfg_flatten(c, &kv));
	bool found = false;
	for (size_t i = 0; i < kv.n; i++)
		if (strcmp(kv.v[i].key, "worker_cpu_affinity") == 0) {
			found = true;
			cr_expect_str_eq(kv.v[i].value, "off");
			cr_expect_str_eq(kv.v[i - 1].key, "workers", "beside workers");
		}
	cr_expect(found, "SHOW CONFIG has worker_cpu_affinity");
	cfg_kvs_free(&kv);
	cfg_free(c);
	/* what cfg_print writes loads again to the same settings */
	struct cfg *again = cfgt_load(text);
	free(text);
	cr_assert_not_null(again, "%s", cfgt_errors());
	cr_expect_eq(again->workers, 4);
	cr_expect_eq(again->worker_cpu_affinity, CFG_AFFINITY_OFF);
	cfg_free(again);
}

CTEST(workers_and_affinity_need_a_restart)
{
	struct cfg *a = cfgt_load("");
	cr_assert_not_null(a, "%s", cfgt_errors());
	struct cfg *b = cfgt_load("worker_cpu_affinity = \"off\";\n");
	cr_assert_not_null(b, "%s", cfgt_errors());
	char what[128];
	cr_expect(cfg_needs_restart(a, b, what, sizeof(what)));
	cr_expect_str_eq(what, "worker_cpu_affinity");
	cfg_free(b);
	b = cfgt_load("workers = 3;\n");
	cr_assert_not_null(b, "%s", cfgt_errors());
	cr_expect(cfg_needs_restart(a, b, what, sizeof(what)));
	cr_expect_str_eq(what, "workers");
	cfg_free(b);
	cfg_free(a);
}

/* tests/integration/test_workers_affinity.c — worker_cpu_affinity: with `auto` (the default),
 * several workers and exactly as many CPUs to run on, each worker thread is pinned to a CPU of
 * its own (read from /proc/PID/task/TID/status, Cpus_allowed_list); one worker, `off`, or a
 * worker count other than the CPU count leave every thread free. The test narrows its own CPU
 * set to two CPUs first (pglane inherits it, as from taskset or systemd's CPUAffinity=). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

TestSuite(workers_affinity, .fini = it_pglane_fini, .timeout = 60);

/* The Cpus_allowed_list of each worker thread of the running pglane, joined by spaces: the
 * main thread (worker 0), then the threads named "pglane-wN" (in tid order; a sanitizer's own
 * thread is not a worker). */
static void thread_cpus(char *out, size_t cap)
{
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%d/task", (int)it_pglane_current()->pid);
	struct dirent **tasks;
	int n = scandir(dir, &tasks, NULL, versionsort);
	cr_assert_gt(n, 0, "cannot list %s", dir);
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (tasks[i]->d_name[0] != '.') {
			char path[64 + sizeof(tasks[i]->d_name) + 8];
			snprintf(path, sizeof path, "%s/%s/status", dir, tasks[i]->d_name);
			char *st = it_file_read(path);
			cr_assert_not_null(st, "%s", path);
			bool main_thread = atoi(tasks[i]->d_name) == (int)it_pglane_current()->pid;
			if (!main_thread && strncmp(st, "Name:\tpglane-w", 14) != 0) {
				free(st);
				free(tasks[i]);
				continue;
			}
			const char *l = strstr(st, "Cpus_allowed_list:");
			cr_assert_not_null(l);
			l += strlen("Cpus_allowed_list:");
			l += strspn(l, " \t");
			len += (size_t)snprintf(out + len, cap - len, "%s%.*s", len ? " " : "",
			                        (int)strcspn(l, "\n"), l);
			free(st);
		}
		free(tasks[i]);
	}
	free(tasks);
}

/* pglane with `head` put before trust auth and a pool of 2: each thread's CPU list, after a
 * query through it. */
static void run_with(const char *head, char *out, size_t cap)
{
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "%sauth = { type = \"trust\"; };\n"
	         "pool = { mode = \"transaction\"; size = 2; };\n" IT_DATABASES,
	         head);
	it_pglane_start(conf);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(c, "SELECT 41 + 1"), 42);
	PQfinish(c);
	thread_cpus(out, cap);
	bool alive;
	it_pglane_stop(&alive);
	cr_expect(alive);
}

IT_TEST(workers_affinity, pinned_one_cpu_each_only_when_counts_match)
{
	/* the first two CPUs this test may use become its whole set */
	cpu_set_t mine, two;
	cr_assert_eq(sched_getaffinity(0, sizeof(mine), &mine), 0);
	cr_assert_geq(CPU_COUNT(&mine), 2, "this test needs 2 CPUs");
	int cpu[2], k = 0;
	CPU_ZERO(&two);
	for (int i = 0; i < CPU_SETSIZE && k < 2; i++)
		if (CPU_ISSET(i, &mine)) {
			cpu[k++] = i;
			CPU_SET(i, &two);
		}
	cr_assert_eq(sched_setaffinity(0, sizeof(two), &two), 0);
	char both[32], pinned[64], free2[64], got[256];
	snprintf(both, sizeof both, "%d%s%d", cpu[0], cpu[1] == cpu[0] + 1 ? "-" : ",", cpu[1]);
	snprintf(pinned, sizeof pinned, "%d %d", cpu[0], cpu[1]);
	snprintf(free2, sizeof free2, "%s %s", both, both);

	run_with("workers = 2;\n", got, sizeof got);
	cr_expect_str_eq(got, pinned, "workers = 2 on 2 CPUs: %s", got);
	cr_expect_eq(it_log_count("workers pinned to CPUs"), 1);

	run_with("workers = 0;\n", got, sizeof got);
	cr_expect_str_eq(got, pinned, "workers = 0 (one per CPU pglane may use): %s", got);

	run_with("workers = 2;\nworker_cpu_affinity = \"off\";\n", got, sizeof got);
	cr_expect_str_eq(got, free2, "off: %s", got);

	run_with("workers = 1;\n", got, sizeof got);
	cr_expect_str_eq(got, both, "one worker: %s", got);

	run_with("workers = 3;\n", got, sizeof got);
	char free3[128];
	snprintf(free3, sizeof free3, "%s %s %s", both, both, both);
	cr_expect_str_eq(got, free3, "3 workers on 2 CPUs: %s", got);
	cr_expect_eq(it_log_count("workers pinned to CPUs"), 0);
}

/* tests/integration/test_metrics.c — admin.http_port (issue 5): GET /metrics parses as
 * Prometheus text (prom.c, a strict parser checked here on good and bad texts first) and its
 * numbers match SHOW POOLS, SHOW STATS, SHOW LANES and SHOW CLIENTS taken at the same quiet
 * moment; it stays valid with counters that never go back under pgbench load; /healthz; bad
 * HTTP requests (garbage, a 20 KB header, other methods, unknown paths, NUL bytes, silent and
 * trickling clients) get 400/405/404 or a close, and pglane goes on serving HTTP and SQL.
 * HTTP is spoken over raw sockets (adminq.c). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"
#include "tests/integration/prom.h"

TestSuite(metrics, .fini = it_pglane_fini, .timeout = 90);

/* pglane with metrics on *http: postgres (pool 2) and bench (pool 3), slow_query 100 ms. */
static struct it_pglane *start_metrics(int *http)
{
	*http = it_http_port();
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "admin = { users = [ \"admin\" ]; http_port = %d; };\n"
	         "pool = { mode = \"transaction\"; size = 2; query_wait_timeout = \"30s\";\n"
	         "         slow_query = \"100ms\"; };\n"
	         "databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; },\n"
	         "              { name = \"bench\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"
	         "                oltp = { size = 3; }; } );\n",
	         *http);
	struct it_pglane *p = it_pglane_start(conf);
	/* the harness waited for the SQL port; the HTTP one is opened just after it */
	it_wait_port(*http);
	return p;
}

/* GET /metrics: 200, the 0.0.4 content type, a matching Content-Length, and a text the
 * strict parser accepts (the test fails otherwise). */
static void fetch_metrics(int http, struct prom *out)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	char *head = NULL, *body = NULL;
	int st = adminq_http(http, req, sizeof req - 1, 10000, &head, &body);
	cr_assert_eq(st, 200, "GET /metrics answered %d: %s", st, head);
	cr_expect(strstr(head, "\r\nContent-Type: text/plain; version=0.0.4"),
	          "not the Prometheus text content type:\n%s", head);
	const char *cl = strstr(head, "\r\nContent-Length: ");
	cr_expect(cl && strtoul(cl + 18, NULL, 10) == strlen(body),
	          "Content-Length does not match the body of %zu bytes:\n%s", strlen(body), head);
	char err[512];
	bool ok = prom_parse(body, out, err, sizeof err);
	cr_assert(ok, "/metrics is not valid Prometheus text: %s\n%s", err, body);
	free(head);
	free(body);
}

/* ---- the parser itself ---- */

Test(metrics, parser_accepts_and_rejects)
{
	static const char good[] = "# HELP a_total Things, with \\\\ and \\n escapes.\n"
	                           "# TYPE a_total counter\n"
	                           "a_total{x=\"1\",y=\"q\\\"b\\\\c\\nd\"} 3\n"
	                           "a_total{x=\"2\",} 4.5e3 1700000000000\n"
	                           "\n"
	                           "# a comment\n"
	                           "# TYPE b gauge\n"
	                           "b NaN\n"
	                           "b{k=\"+\"} +Inf\n"
	                           "b{k=\"-\"} -0.25\n"
	                           "# TYPE c:d gauge\n"
	                           "c:d\t.5\n";
	struct prom p;
	char err[512];
	cr_assert(prom_parse(good, &p, err, sizeof err), "a good text was refused: %s", err);
	cr_expect_eq(p.n, 6);
	const char *kv[] = {"x", "1", "y", "q\"b\\c\nd"};
	const struct prom_sample *s = prom_find(&p, "a_total", kv, 2);
	cr_assert(s, "the escaped label value was not read back");
	cr_expect_eq(s->value, 3);
	const char *kv2[] = {"x", "2"};
	s = prom_find(&p, "a_total", kv2, 1);
	cr_assert(s);
	cr_expect_eq(s->value, 4500);
	cr_expect(isnan(prom_find(&p, "b", NULL, 0)->value));
	cr_expect_str_eq(prom_family(&p, "a_total")->type, "counter");
	cr_expect(prom_family(&p, "a_total")->help);
	prom_free(&p);

	static const char *const bad[] = {
	        "",
	        "pglane_up 1\n",
	        "# TYPE x gauge\nx 1",
	        "# TYPE x gauge\n# TYPE x gauge\nx 1\n",
	        "# TYPE x summaryish\nx 1\n",
	        "# TYPE x gauge\nx 1\nx 2\n",
	        "# TYPE x gauge\nx{a=\"1\",b=\"2\"} 1\nx{b=\"2\",a=\"1\"} 2\n",
	        "# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n",
	        "# TYPE x gauge\nx{a=\"1} 1\n",
	        "# TYPE x gauge\nx{a=\"\\q\"} 1\n",
	        "# TYPE x gauge\nx{1a=\"1\"} 1\n",
	        "# TYPE x gauge\nx{__a=\"1\"} 1\n",
	        "# TYPE x gauge\nx{a=\"1\"b=\"2\"} 1\n",
	        "# TYPE x gauge\nx{a=1} 1\n",
	        "# TYPE x gauge\nx one\n",
	        "# TYPE x gauge\nx 0x10\n",
	        "# TYPE x gauge\nx inf\n",
	        "# TYPE x gauge\nx\n",
	        "# TYPE x gauge\nx1\n",
	        "# TYPE x gauge\nx 1 \n",
	        "# TYPE x gauge\nx 1 12.5\n",
	        "# TYPE x gauge\nx 1 2 3\n",
	        "# TYPE x gauge\n# TYPE y gauge\nx 1\ny 1\nx{a=\"b\"} 2\n",
	        "# TYPE x gauge\nx 1\n# HELP y text\nx{a=\"b\"} 2\n",
	        "# TYPE x gauge\nx 1\n# TYPE x counter\n",
	        "# TYPE x gauge\nx 1\n# HELP x late\n",
	        "# TYPE 1x gauge\n1x 1\n",
	        "# HELP x a\n# HELP x b\n# TYPE x gauge\nx 1\n",
	        "# HELP x bad \\t escape\n# TYPE x gauge\nx 1\n",
	        "# HELP x text\nx 1\n",
	        "# TYPE x gauge\ny 1\n",
	        "# TYPE x gauge\nx 1\r\n",
	        "# TYPE x gauge\nx{a=\"1\"}1\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_expect(!prom_parse(bad[i], &p, err, sizeof err), "bad text %zu accepted:\n%s", i,
		          bad[i]);
		prom_free(&p);
	}
}

/* ---- /metrics against the console ---- */

/* The SHOW POOLS column each per-pool gauge family mirrors. */
static const struct {
	const char *family, *column;
} GAUGES[] = {
        {"pglane_pool_clients_active", "cl_active"}, {"pglane_pool_clients_waiting", "cl_waiting"},
        {"pglane_pool_servers_active", "sv_active"}, {"pglane_pool_servers_idle", "sv_idle"},
        {"pglane_pool_servers_login", "sv_login"},   {"pglane_pool_size", "pool_size"},
};

/* The quantile families and the SHOW POOLS columns (microseconds) of each quantile. */
static const struct {
	const char *family, *quantile, *column;
} QUANTILES[] = {
        {"pglane_pool_wait_seconds", "0.5", "wait_p50_us"},
        {"pglane_pool_wait_seconds", "0.95", "wait_p95_us"},
        {"pglane_pool_wait_seconds", "0.99", "wait_p99_us"},
        {"pglane_pool_query_seconds", "0.5", "query_p50_us"},
        {"pglane_pool_query_seconds", "0.95", "query_p95_us"},
        {"pglane_pool_query_seconds", "0.99", "query_p99_us"},
};

/* Do two scrapes hold the same series with the same values? */
static bool same_scrape(const struct prom *a, const struct prom *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct prom_sample *s = &a->s[i];
		if (strcmp(s->name, "pglane_pool_maxwait_seconds") == 0)
			continue; /* grows while a client waits */
		const char *kv[2 * PROM_MAX_LABELS];
		for (int k = 0; k < s->nlabels; k++) {
			kv[2 * k] = s->labels[k].name;
			kv[2 * k + 1] = s->labels[k].value;
		}
		const struct prom_sample *t = prom_find(b, s->name, kv, s->nlabels);
		if (!t || !(t->value == s->value || (isnan(t->value) && isnan(s->value))))
			return false;
	}
	return true;
}

/* The per-pool sample of `family` for SHOW POOLS row `row` (+ quantile when not NULL). */
static const struct prom_sample *pool_sample(const struct prom *m, const char *family,
                                             const PGresult *r, int row, const char *quantile)
{
	const char *kv[] = {"database", adminq_cell(r, row, "database"),
	                    "user",     adminq_cell(r, row, "user"),
	                    "lane",     adminq_cell(r, row, "lane"),
	                    "quantile", quantile};
	const struct prom_sample *s = prom_find(m, family, kv, quantile ? 4 : 3);
	cr_assert(s, "no %s{database=\"%s\",user=\"%s\",lane=\"%s\"%s%s} in /metrics", family,
	          kv[1], kv[3], kv[5], quantile ? ",quantile=" : "", quantile ? quantile : "");
	return s;
}

/* The sum of `family` over the pools of database × lane. */
static double lane_sum(const struct prom *m, const char *family, const char *db, const char *lane)
{
	double sum = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct prom_sample *s = &m->s[i];
		const char *d = prom_label(s, "database"), *l = prom_label(s, "lane");
		if (strcmp(s->name, family) == 0 && d && l && strcmp(d, db) == 0 &&
		    strcmp(l, lane) == 0)
			sum += s->value;
	}
	return sum;
}

/* Every family pglane must export, with its type. */
static void expect_families(const struct prom *m)
{
	static const char *const gauges[] = {"pglane_up",
	                                     "pglane_clients",
	                                     "pglane_pool_clients_active",
	                                     "pglane_pool_clients_waiting",
	                                     "pglane_pool_servers_active",
	                                     "pglane_pool_servers_idle",
	                                     "pglane_pool_servers_login",
	                                     "pglane_pool_size",
	                                     "pglane_pool_saturation_ratio",
	                                     "pglane_pool_wait_seconds",
	                                     "pglane_pool_query_seconds",
	                                     "pglane_pool_maxwait_seconds",
	                                     "pglane_pool_servers_used",
	                                     "pglane_info",
	                                     "pglane_databases",
	                                     "pglane_users",
	                                     "pglane_pools",
	                                     "pglane_database_pool_size",
	                                     "pglane_database_current_connections",
	                                     "pglane_database_current_client_connections",
	                                     "pglane_database_max_connections",
	                                     "pglane_database_paused",
	                                     "pglane_database_disabled",
	                                     "pglane_config_max_client_connections"};
	static const char *const counters_wanted[] = {
	        "pglane_pool_server_assignments_total",  "pglane_pool_client_parses_total",
	        "pglane_pool_server_parses_total",       "pglane_pool_binds_total",
	        "pglane_pool_transaction_seconds_total", "pglane_pool_query_seconds_total",
	        "pglane_pool_server_logins_total",       "pglane_pool_server_login_failures_total"};
	for (size_t i = 0; i < sizeof counters_wanted / sizeof counters_wanted[0]; i++) {
		const struct prom_family *f = prom_family(m, counters_wanted[i]);
		cr_expect(f, "no family %s in /metrics", counters_wanted[i]);
		if (f)
			cr_expect_str_eq(f->type, "counter", "%s is a %s", counters_wanted[i],
			                 f->type);
	}
	for (size_t i = 0; i < sizeof gauges / sizeof gauges[0]; i++) {
		const struct prom_family *f = prom_family(m, gauges[i]);
		cr_expect(f, "no family %s in /metrics", gauges[i]);
		if (f)
			cr_expect_str_eq(f->type, "gauge", "%s is a %s", gauges[i], f->type);
	}
	int counters = 0;
	for (size_t i = 0; i < m->nf; i++) {
		const struct prom_family *f = &m->f[i];
		size_t n = strlen(f->name);
		bool total = n > 6 && strcmp(f->name + n - 6, "_total") == 0;
		bool counter = strcmp(f->type, "counter") == 0;
		cr_expect_eq(total, counter, "%s is a %s", f->name, f->type);
		cr_expect(f->help, "%s has no HELP", f->name);
		counters += counter;
	}
	cr_expect_geq(counters, 4, "only %d counter families", counters);
}

IT_TEST(metrics, metrics_match_show_pools)
{
	int http;
	start_metrics(&http);
	/* known state: postgres held by 2 open transactions with 3 waiting; bench with one
	 * idle server and a slow query; a pool of a user whose name needs escapes */
	PGconn *b = it_connect("postgres", NULL, "bench");
	it_exec_ok(b, "SELECT pg_sleep(0.15)");
	const char *odd = "it\"q\\u";
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, odd, NULL, "postgres", NULL);
	PGconn *x = it_connect_try(ci); /* no such role: the login fails, its pool stays */
	PQfinish(x);
	PGconn *holder[2], *waiter[3];
	for (int i = 0; i < 2; i++) {
		holder[i] = it_connect("postgres", NULL, "postgres");
		it_exec_ok(holder[i], "BEGIN");
		it_exec_ok(holder[i], "SELECT 1");
	}
	for (int i = 0; i < 3; i++) {
		waiter[i] = it_connect("postgres", NULL, "postgres");
		cr_assert(PQsendQuery(waiter[i], "SELECT 1"));
	}
	PGconn *a = adminq_connect("admin");
	long long last = 0;
	cr_assert_geq(
	        adminq_pool_wait(a, "postgres", "postgres", "oltp", "cl_waiting", 3, 5000, &last),
	        0, "cl_waiting = %lld", last);

	/* a quiet moment: two scrapes around the console's answers agree */
	struct prom m1, m2;
	PGresult *pools = NULL, *stats = NULL, *lanes = NULL, *clients = NULL;
	bool quiet = false;
	for (int attempt = 0; attempt < 5 && !quiet; attempt++) {
		if (attempt) {
			prom_free(&m1);
			prom_free(&m2);
			PQclear(pools);
			PQclear(stats);
			PQclear(lanes);
			PQclear(clients);
			it_sleep_ms(200);
		}
		fetch_metrics(http, &m1);
		pools = adminq_show(a, "SHOW POOLS");
		stats = adminq_show(a, "SHOW STATS");
		lanes = adminq_show(a, "SHOW LANES");
		clients = adminq_show(a, "SHOW CLIENTS");
		fetch_metrics(http, &m2);
		quiet = same_scrape(&m1, &m2) && same_scrape(&m2, &m1);
	}
	cr_assert(quiet, "no two scrapes agreed: pglane was not quiet");
	expect_families(&m1);

	const struct prom_sample *s = prom_find(&m1, "pglane_up", NULL, 0);
	cr_expect(s && s->value == 1, "pglane_up is not 1");
	/* the oldest of the 3 waiters has waited: maxwait as SHOW POOLS says (µs) */
	const char *pkv[] = {"database", "postgres", "user", "postgres", "lane", "oltp"};
	s = prom_find(&m1, "pglane_pool_maxwait_seconds", pkv, 3);
	int prow = -1;
	for (int i = 0; i < PQntuples(pools) && prow < 0; i++)
		if (strcmp(adminq_cell(pools, i, "database"), "postgres") == 0 &&
		    strcmp(adminq_cell(pools, i, "user"), "postgres") == 0 &&
		    strcmp(adminq_cell(pools, i, "lane"), "oltp") == 0)
			prow = i;
	cr_expect(s && prow >= 0 && s->value > 0, "pglane_pool_maxwait_seconds: no wait seen");
	if (s && prow >= 0)
		cr_expect(fabs(s->value * 1e6 - adminq_cell_num(pools, prow, "maxwait_us")) < 2e6,
		          "maxwait %.3f s against SHOW POOLS %s us", s->value,
		          adminq_cell(pools, prow, "maxwait_us"));
	for (size_t i = 0; i < m1.n; i++)
		if (strcmp(m1.s[i].name, "pglane_info") == 0)
			cr_expect(prom_label(&m1.s[i], "version") && m1.s[i].value == 1);
	/* bench ran a statement: a server was assigned to it at least once */
	const char *bkv[] = {"database", "bench", "user", "postgres", "lane", "oltp"};
	s = prom_find(&m1, "pglane_pool_server_assignments_total", bkv, 3);
	cr_expect(s && s->value >= 1, "pglane_pool_server_assignments_total for bench");
	/* postgres: 2 holders and 3 waiters are its clients (the console is not) */
	const char *dkv[] = {"database", "postgres"};
	s = prom_find(&m1, "pglane_database_current_client_connections", dkv, 1);
	cr_expect(s && s->value >= 5, "pglane_database_current_client_connections %g",
	          s ? s->value : -1);
	s = prom_find(&m1, "pglane_database_current_connections", dkv, 1);
	cr_expect(s && s->value >= 2, "pglane_database_current_connections %g", s ? s->value : -1);
	s = prom_find(&m1, "pglane_databases", NULL, 0);
	cr_expect(s && s->value >= 2, "pglane_databases: postgres and bench");
	s = prom_find(&m1, "pglane_clients", NULL, 0);
	cr_assert(s, "no pglane_clients");
	cr_expect_eq(s->value, PQntuples(clients), "pglane_clients %g, SHOW CLIENTS %d rows",
	             s->value, PQntuples(clients));
	cr_expect_eq(s->value, 7, "2 holders, 3 waiters, bench's client and the console");

	/* every SHOW POOLS row, and nothing else, per family */
	int rows = PQntuples(pools);
	cr_expect_eq(rows, 3, "SHOW POOLS has %d rows: postgres, bench and the odd user", rows);
	for (size_t g = 0; g < sizeof GAUGES / sizeof GAUGES[0]; g++)
		cr_expect_eq(prom_family(&m1, GAUGES[g].family)->nsamples, rows, "%s has %d series",
		             GAUGES[g].family, prom_family(&m1, GAUGES[g].family)->nsamples);
	cr_expect_eq(prom_family(&m1, "pglane_pool_wait_seconds")->nsamples, 3 * rows);
	for (int row = 0; row < rows; row++) {
		for (size_t g = 0; g < sizeof GAUGES / sizeof GAUGES[0]; g++) {
			s = pool_sample(&m1, GAUGES[g].family, pools, row, NULL);
			long long want = adminq_cell_ll(pools, row, GAUGES[g].column);
			cr_expect_eq(s->value, (double)want, "%s %s/%s: %g, SHOW POOLS %s = %lld",
			             GAUGES[g].family, adminq_cell(pools, row, "database"),
			             adminq_cell(pools, row, "user"), s->value, GAUGES[g].column,
			             want);
		}
		s = pool_sample(&m1, "pglane_pool_saturation_ratio", pools, row, NULL);
		long long pct = adminq_cell_ll(pools, row, "saturation");
		cr_expect(s->value >= 0 && s->value <= 1 &&
		                  fabs(s->value * 100 - (double)pct) <= 0.5,
		          "saturation ratio %g, SHOW POOLS saturation %lld%%", s->value, pct);
		for (size_t q = 0; q < sizeof QUANTILES / sizeof QUANTILES[0]; q++) {
			s = pool_sample(&m1, QUANTILES[q].family, pools, row,
			                QUANTILES[q].quantile);
			long long us = adminq_cell_ll(pools, row, QUANTILES[q].column);
			cr_expect(fabs(s->value * 1e6 - (double)us) <= 1.0,
			          "%s{quantile=%s} = %g s, SHOW POOLS %s = %lld us",
			          QUANTILES[q].family, QUANTILES[q].quantile, s->value,
			          QUANTILES[q].column, us);
		}
	}
	/* the known values themselves */
	const char *pg[] = {"database", "postgres", "user", "postgres", "lane", "oltp"};
	const char *bn[] = {"database", "bench", "user", "postgres", "lane", "oltp"};
	const char *od[] = {"database", "postgres", "user", odd, "lane", "oltp"};
	s = prom_find(&m1, "pglane_pool_clients_waiting", pg, 3);
	cr_expect(s && s->value == 3, "postgres clients_waiting %g", s ? s->value : -1);
	s = prom_find(&m1, "pglane_pool_servers_active", pg, 3);
	cr_expect(s && s->value == 2, "postgres servers_active %g", s ? s->value : -1);
	s = prom_find(&m1, "pglane_pool_saturation_ratio", pg, 3);
	cr_expect(s && s->value == 1, "postgres saturation %g", s ? s->value : -1);
	s = prom_find(&m1, "pglane_pool_servers_idle", bn, 3);
	cr_expect(s && s->value == 1, "bench servers_idle %g", s ? s->value : -1);
	s = prom_find(&m1, "pglane_pool_size", bn, 3);
	cr_expect(s && s->value == 3, "bench pool_size %g", s ? s->value : -1);
	cr_expect(prom_find(&m1, "pglane_pool_size", od, 3),
	          "the escaped user name was not read back from /metrics");

	/* counters against SHOW STATS and SHOW LANES, per database × lane */
	for (int row = 0; row < PQntuples(stats); row++) {
		const char *db = adminq_cell(stats, row, "database");
		const char *lane = adminq_cell(stats, row, "lane");
		static const struct {
			const char *family, *column;
		} sums[] = {
		        {"pglane_pool_transactions_total", "total_xact_count"},
		        {"pglane_pool_queries_total", "total_query_count"},
		        {"pglane_pool_received_bytes_total", "total_received"},
		        {"pglane_pool_sent_bytes_total", "total_sent"},
		};
		for (size_t k = 0; k < sizeof sums / sizeof sums[0]; k++) {
			double v = lane_sum(&m1, sums[k].family, db, lane);
			long long want = adminq_cell_ll(stats, row, sums[k].column);
			cr_expect_eq(v, (double)want, "%s %s/%s = %g, SHOW STATS %s = %lld",
			             sums[k].family, db, lane, v, sums[k].column, want);
		}
		double wait = lane_sum(&m1, "pglane_pool_wait_seconds_total", db, lane);
		long long wait_us = adminq_cell_ll(stats, row, "total_wait_time");
		cr_expect(fabs(wait * 1e6 - (double)wait_us) <= 1.0, "wait seconds %g, %lld us",
		          wait, wait_us);
		int lr = adminq_find(lanes, "database", db, "lane", lane);
		cr_assert_geq(lr, 0);
		cr_expect_eq(lane_sum(&m1, "pglane_pool_slow_queries_total", db, lane),
		             (double)adminq_cell_ll(lanes, lr, "slow_queries"));
		cr_expect_eq(lane_sum(&m1, "pglane_pool_statement_timeouts_total", db, lane),
		             (double)adminq_cell_ll(lanes, lr, "statement_timeouts"));
	}
	cr_expect_eq(lane_sum(&m1, "pglane_pool_slow_queries_total", "bench", "oltp"), 1,
	             "bench's slow query is not counted");
	cr_expect_eq(lane_sum(&m1, "pglane_pool_transactions_total", "bench", "oltp"), 1);

	prom_free(&m1);
	prom_free(&m2);
	PQclear(pools);
	PQclear(stats);
	PQclear(lanes);
	PQclear(clients);
	for (int i = 0; i < 2; i++)
		it_exec_ok(holder[i], "COMMIT");
	for (int i = 0; i < 3; i++) {
		bool to = false;
		PGresult *r = it_result_wait(waiter[i], 5000, &to);
		cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK);
		PQclear(r);
		PQfinish(waiter[i]);
	}
	/* and after: nobody waits, the servers are idle */
	struct prom m;
	fetch_metrics(http, &m);
	s = prom_find(&m, "pglane_pool_clients_waiting", pg, 3);
	cr_expect(s && s->value == 0, "clients_waiting %g after", s ? s->value : -1);
	s = prom_find(&m, "pglane_pool_servers_idle", pg, 3);
	cr_expect(s && s->value == 2, "servers_idle %g after", s ? s->value : -1);
	prom_free(&m);
	for (int i = 0; i < 2; i++)
		PQfinish(holder[i]);
	PQfinish(b);
	PQfinish(a);
}

IT_TEST(metrics, valid_under_load, .timeout = 60)
{
	int http;
	struct it_pglane *p = start_metrics(&http);
	char out_path[700], cmd[512];
	snprintf(out_path, sizeof out_path, "%s/pgbench.out", p->dir);
	snprintf(cmd, sizeof cmd,
	         "exec pgbench -h 127.0.0.1 -p %d -U postgres -n -S -T 4 -c 8 -j 2 bench", p->port);
	pid_t bench = adminq_bg_start(out_path, cmd);
	struct prom prev = {0};
	int scrapes = 0;
	double max_waiting = 0, max_active = 0;
	int64_t deadline = it_now_ms() + 5000;
	while (it_now_ms() < deadline) {
		struct prom m;
		fetch_metrics(http, &m);
		scrapes++;
		for (size_t i = 0; i < m.n; i++) {
			const struct prom_sample *s = &m.s[i];
			const struct prom_family *f = prom_family(&m, s->name);
			if (strcmp(s->name, "pglane_pool_clients_waiting") == 0 &&
			    s->value > max_waiting)
				max_waiting = s->value;
			if (strcmp(s->name, "pglane_pool_servers_active") == 0) {
				if (s->value > max_active)
					max_active = s->value;
				const char *kv[] = {"database", prom_label(s, "database"),
				                    "user",     prom_label(s, "user"),
				                    "lane",     prom_label(s, "lane")};
				const struct prom_sample *size =
				        prom_find(&m, "pglane_pool_size", kv, 3);
				cr_assert(size);
				cr_expect_leq(s->value, size->value,
				              "more active servers than the pool");
			}
			if (strcmp(s->name, "pglane_pool_saturation_ratio") == 0)
				cr_expect(s->value >= 0 && s->value <= 1, "saturation %g",
				          s->value);
			if (strcmp(f->type, "counter") != 0)
				continue;
			/* counters never go back */
			const char *kv[2 * PROM_MAX_LABELS];
			for (int k = 0; k < s->nlabels; k++) {
				kv[2 * k] = s->labels[k].name;
				kv[2 * k + 1] = s->labels[k].value;
			}
			const struct prom_sample *old = prom_find(&prev, s->name, kv, s->nlabels);
			if (old)
				cr_expect_geq(s->value, old->value, "%s went from %g to %g",
				              s->name, old->value, s->value);
		}
		prom_free(&prev);
		prev = m;
		it_sleep_ms(50);
	}
	prom_free(&prev);
	cr_expect_geq(scrapes, 20, "only %d scrapes in 5 s", scrapes);
	cr_expect_eq(max_active, 3, "bench's pool of 3 never showed 3 active servers");
	cr_expect_gt(max_waiting, 0, "8 clients on a pool of 3 never showed a waiting client");
	int st = adminq_wait_exit(bench, 30000, true);
	char *out = it_file_read(out_path);
	cr_assert(out);
	cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "pgbench ended %d:\n%s", st,
	          out);
	cr_expect_eq(adminq_report_number(out, "number of failed transactions:"), 0, "%s", out);
	free(out);
}

/* ---- HTTP ---- */

IT_TEST(metrics, healthz_and_head)
{
	int http;
	start_metrics(&http);
	char *body = NULL, *head = NULL;
	cr_expect_eq(adminq_http_get(http, "/healthz", &body), 200);
	cr_expect_str_eq(body, "ok\n");
	free(body);
	cr_expect_eq(adminq_http_get(http, "/metrics?name[]=pglane_up", &body), 200);
	cr_expect(strstr(body, "\npglane_up 1\n"), "%s", body);
	free(body);
	static const char req[] = "HEAD /metrics HTTP/1.1\r\n\r\n";
	cr_expect_eq(adminq_http(http, req, sizeof req - 1, 5000, &head, &body), 200);
	cr_expect_str_eq(body, "", "HEAD answered a body");
	cr_expect(strstr(head, "Content-Length: "), "%s", head);
	free(body);
	free(head);
	static const char old[] = "GET /healthz HTTP/1.0\r\n\r\n";
	cr_expect_eq(adminq_http(http, old, sizeof old - 1, 5000, NULL, NULL), 200);
}

struct bad_request {
	const char *what;
	const char *req;
	size_t len; /* 0: strlen */
	int want;   /* the status, or 0 for "a status in 400-499 or a close" */
	int alt;    /* another acceptable status (0: none) */
};

IT_TEST(metrics, bad_requests_keep_serving, .timeout = 120)
{
	int http;
	start_metrics(&http);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	size_t big_n = 20 * 1024;
	char *big = malloc(big_n + 64);
	cr_assert(big);
	int n = snprintf(big, big_n + 64, "GET /metrics HTTP/1.1\r\nX-Big: ");
	memset(big + n, 'a', big_n);
	strcpy(big + n + big_n, "\r\n\r\n");
	char longpath[600];
	n = snprintf(longpath, sizeof longpath, "GET /");
	memset(longpath + n, 'p', 400);
	strcpy(longpath + n + 400, " HTTP/1.1\r\n\r\n");
	char binary[9000];
	for (size_t i = 0; i < sizeof binary; i++)
		binary[i] = (char)(i * 131 % 251 + 1);
	const struct bad_request cases[] = {
	        {"garbage", "\x01\x02 garbage\r\n\r\n", 0, 400, 0},
	        {"no version", "GET /metrics\r\n\r\n", 0, 400, 0},
	        {"not HTTP", "GET /metrics FTP/1.0\r\n\r\n", 0, 400, 0},
	        {"blank head", "\r\n\r\n", 0, 400, 0},
	        {"POST", "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 0, 405, 0},
	        {"DELETE", "DELETE /healthz HTTP/1.1\r\n\r\n", 0, 405, 0},
	        {"lower-case get", "get /metrics HTTP/1.1\r\n\r\n", 0, 405, 400},
	        {"unknown path", "GET /nope HTTP/1.1\r\n\r\n", 0, 404, 0},
	        {"near path", "GET /metricsX HTTP/1.1\r\n\r\n", 0, 404, 0},
	        {"dot path", "GET /metrics/../healthz HTTP/1.1\r\n\r\n", 0, 404, 0},
	        {"NUL in a header", "GET /healthz HTTP/1.1\r\nA: \0b\r\n\r\n", 31, 400, 0},
	        {"400-byte path", longpath, 0, 400, 404},
	        {"20 KB header", big, 0, 0, 0},
	        {"9000 bytes without a blank line", binary, sizeof binary, 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct bad_request *b = &cases[i];
		size_t len = b->len ? b->len : strlen(b->req);
		int64_t t0 = it_now_ms();
		char *head = NULL;
		int st = adminq_http(http, b->req, len, 8000, &head, NULL);
		if (b->want)
			cr_expect(st == b->want || (b->alt && st == b->alt),
			          "%s: answered %d, expected %d: %s", b->what, st, b->want, head);
		else
			cr_expect(st == 0 || (st >= 400 && st < 500), "%s: answered %d: %s",
			          b->what, st, head);
		cr_expect_lt(it_now_ms() - t0, 3000, "%s: took %lld ms", b->what,
		             (long long)(it_now_ms() - t0));
		free(head);
		cr_assert(it_pglane_alive(), "pglane died on the %s request", b->what);
	}
	free(big);
	/* still serving */
	struct prom m;
	fetch_metrics(http, &m);
	prom_free(&m);
	cr_expect_eq(adminq_http_get(http, "/healthz", NULL), 200);
	cr_expect_eq(it_query_ll(c, "SELECT 6 * 7"), 42, "a SQL client broke");
	PGconn *d = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(d, "SELECT 1"), 1);
	PQfinish(d);
	PQfinish(c);
}

IT_TEST(metrics, silent_and_slow_clients, .timeout = 60)
{
	int http;
	start_metrics(&http);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	/* ten connections that say nothing, one that stops mid-request */
	int silent[10];
	for (int i = 0; i < 10; i++)
		silent[i] = it_tcp_connect(http);
	int partial = it_tcp_connect(http);
	cr_assert_eq(send(partial, "GET /metr", 9, MSG_NOSIGNAL), 9);
	int64_t t0 = it_now_ms();
	/* others are served meanwhile */
	char *body = NULL;
	cr_expect_eq(adminq_http_get(http, "/metrics", &body), 200);
	free(body);
	cr_expect_lt(it_now_ms() - t0, 2000, "/metrics waited behind silent clients");
	cr_expect_eq(it_query_ll(c, "SELECT 1"), 1);
	/* a request sent one byte every 100 ms (2.5 s in all) is still answered */
	static const char req[] = "GET /healthz HTTP/1.1\r\n\r\n";
	int slow = it_tcp_connect(http);
	struct timeval tv = {.tv_sec = 5};
	cr_assert_eq(setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	bool sent = true;
	for (size_t i = 0; i < sizeof req - 1 && sent; i++) {
		sent = send(slow, req + i, 1, MSG_NOSIGNAL) == 1;
		it_sleep_ms(100);
	}
	cr_expect(sent, "the trickling request was cut off");
	char buf[256] = "";
	ssize_t got = sent ? recv(slow, buf, sizeof buf - 1, 0) : -1;
	cr_expect(got > 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0, "trickled request: %.40s",
	          got > 0 ? buf : "(nothing)");
	close(slow);
	/* the silent ones are closed by pglane, within its request timeout */
	for (int i = 0; i < 10; i++) {
		cr_expect(it_wait_closed(silent[i], 10000), "silent connection %d stays open", i);
		close(silent[i]);
	}
	cr_expect(it_wait_closed(partial, 10000), "a half-sent request stays open");
	close(partial);
	cr_assert(it_pglane_alive());
	cr_expect_eq(adminq_http_get(http, "/healthz", NULL), 200);
	cr_expect_eq(it_query_ll(c, "SELECT 2"), 2);
	PQfinish(c);
}

/* Many silent connections (a slowloris) must not lock /healthz and /metrics out: an
 * orchestrator's liveness probe or a scrape still gets its answer. */
IT_TEST(metrics, many_silent_clients_do_not_lock_out, .timeout = 60)
{
	int http;
	start_metrics(&http);
	enum { SILENT = 100 };
	int silent[SILENT];
	for (int i = 0; i < SILENT; i++)
		silent[i] = it_tcp_connect(http);
	it_sleep_ms(200);
	int64_t t0 = it_now_ms();
	char *head = NULL;
	static const char req[] = "GET /healthz HTTP/1.1\r\n\r\n";
	int st = adminq_http(http, req, sizeof req - 1, 3000, &head, NULL);
	cr_expect_eq(st, 200,
	             "/healthz answered %d (0: closed unanswered) with %d silent "
	             "connections open: %s",
	             st, SILENT, head);
	cr_expect_lt(it_now_ms() - t0, 2000);
	free(head);
	char *body = NULL;
	st = adminq_http(http, "GET /metrics HTTP/1.1\r\n\r\n", 25, 3000, NULL, &body);
	cr_expect_eq(st, 200, "/metrics answered %d with %d silent connections open", st, SILENT);
	free(body);
	for (int i = 0; i < SILENT; i++)
		close(silent[i]);
	cr_assert(it_pglane_alive());
	PGconn *c = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(c, "SELECT 1"), 1);
	PQfinish(c);
}

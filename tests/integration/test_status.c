/* tests/integration/test_status.c — the status page (issue 16): GET /status.json with clients
 * in both lanes of database bench (a pinned oltp client, a slow olap statement, one cancelled
 * by the olap statement_timeout, olap clients waiting for its two servers) carries each figure
 * the page shows, as strict JSON (python3's json module parses it; names with quotes and
 * backslashes come back intact); GET /ready; and GET / rendered by headless Chromium (Debian's
 * `chromium`, --dump-dom after a virtual-time budget) shows the databases, lanes, a streaming
 * standby (tests/pg.sh standby), its slot and their figures, which move after pgbench runs
 * through both lanes; /ready answers 503 while a monitored primary is unreachable. A screenshot of
 * the page goes to the test's temp dir (status.png). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"

static void status_fini(void);

TestSuite(status, .fini = status_fini, .timeout = 150);

#define SLOT     "it_status_phys"
#define ODD_CONF "o\\\"d\\\\d" /* libconfig text for the database name o"d\d */
#define ODD      "o\"d\\d"

static struct {
	char dir[512]; /* the standby's tests/pg.sh directory; "" when there is none */
	int port;
} g;

static bool primary_try(const char *sql)
{
	PGconn *c = it_connect_admin();
	PGresult *r = PQexec(c, sql);
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	PQfinish(c);
	return ok;
}

static void status_fini(void)
{
	it_pglane_fini();
	const char *pgsh = getenv("PGLANE_TEST_PGSH");
	if (g.dir[0] && pgsh)
		it_sh(90, NULL, "'%s' stop '%s' && rm -rf '%s/data'", pgsh, g.dir, g.dir);
	if (g.dir[0] && getenv("PGLANE_TEST_PGPORT"))
		for (int i = 0;
		     i < 50 && !primary_try("SELECT 1 / (count(*) = 0)::int FROM "
		                            "pg_replication_slots WHERE slot_name = '" SLOT "'");
		     i++) {
			primary_try("SELECT pg_drop_replication_slot('" SLOT "') FROM "
			            "pg_replication_slots WHERE slot_name = '" SLOT
			            "' AND NOT active");
			usleep(100000);
		}
}

/* ---- /status.json, flattened by python3 ---- */

/* The document as lines "KEY VALUE": top-level fields as "top|field", lanes as
 * "lane|DB|LANE|field" (nested: "wait_us.p95"), monitored servers as "server|HOST:PORT|field",
 * standbys as "standby|NAME|field", slots as "slot|NAME|field"; values as JSON (null, true,
 * numbers, strings in quotes). python3 fails (and the test with it) on invalid JSON. */
static const char FLATTEN_PY[] =
        "import json,sys\n"
        "d=json.load(open(sys.argv[1]))\n"
        "def out(k,v):\n"
        "  if isinstance(v,dict):\n"
        "    for kk,vv in v.items(): out(k+'.'+kk if not k.endswith('|') else k+kk,vv)\n"
        "  else: print(k,json.dumps(v))\n"
        "for k,v in d.items():\n"
        "  if not isinstance(v,(list,dict)): out('top|'+k,v)\n"
        "for l in d['lanes']: out('lane|%s|%s|'%(l['database'],l['lane']),l)\n"
        "r=d['replication']\n"
        "for s in r['servers']: out('server|%s:%d|'%(s['host'],s['port']),s)\n"
        "for s in r['standbys']: out('standby|%s|'%s['name'],s)\n"
        "for s in r['slots']: out('slot|%s|'%s['name'],s)\n";

struct flat {
	char *text; /* python's output */
};

static void status_get(int http, struct flat *f)
{
	static const char req[] = "GET /status.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	char *head = NULL, *body = NULL;
	int st = adminq_http(http, req, sizeof req - 1, 10000, &head, &body);
	cr_assert_eq(st, 200, "GET /status.json answered %d: %s", st, head ? head : "");
	cr_expect(strstr(head, "\r\nContent-Type: application/json\r\n"), "content type:\n%s",
	          head);
	char path[700], py[700];
	snprintf(path, sizeof path, "%s/status.json", it_pglane_current()->dir);
	snprintf(py, sizeof py, "%s/flatten.py", it_pglane_current()->dir);
	it_file_write(path, body);
	it_file_write(py, FLATTEN_PY);
	int rc = it_sh(30, &f->text, "python3 '%s' '%s'", py, path);
	cr_assert_eq(rc, 0, "python3 cannot read /status.json (exit %d): %s\n%s", rc,
	             f->text ? f->text : "", body);
	free(head);
	free(body);
}

/* The value of `key` ("lane|bench|oltp|clients_pinned"), or NULL. Static storage. */
static const char *flat_get(const struct flat *f, const char *key)
{
	static char v[512];
	size_t kl = strlen(key);
	for (const char *p = f->text; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t ll = eol ? (size_t)(eol - p) : strlen(p);
		if (ll > kl && strncmp(p, key, kl) == 0 && p[kl] == ' ') {
			size_t vl = ll - kl - 1 < sizeof v - 1 ? ll - kl - 1 : sizeof v - 1;
			memcpy(v, p + kl + 1, vl);
			v[vl] = '\0';
			return v;
		}
		p = eol ? eol + 1 : p + ll;
	}
	return NULL;
}

static double flat_num(const struct flat *f, const char *key)
{
	const char *v = flat_get(f, key);
	cr_assert(v, "/status.json has no %s:\n%s", key, f->text);
	char *end;
	double d = strtod(v, &end);
	cr_assert(end != v && *end == '\0', "%s is not a number: %s", key, v);
	return d;
}

static double lane_num(const struct flat *f, const char *db, const char *lane, const char *k)
{
	char key[256];
	snprintf(key, sizeof key, "lane|%s|%s|%s", db, lane, k);
	return flat_num(f, key);
}

/* Fetch until lane (db, lane)'s field k >= want, 5 s at most. */
static double lane_wait(int http, struct flat *f, const char *db, const char *lane, const char *k,
                        double want)
{
	double v = -1;
	for (int i = 0; i < 50; i++) {
		free(f->text);
		f->text = NULL;
		status_get(http, f);
		char key[256];
		snprintf(key, sizeof key, "lane|%s|%s|%s", db, lane, k);
		if (flat_get(f, key) && (v = flat_num(f, key)) >= want)
			return v;
		it_sleep_ms(100);
	}
	return v;
}

static PGconn *client(const char *db)
{
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, db, NULL);
	PGconn *c = it_connect_try(ci);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "connect to %s: %s", db, it_conn_error(c));
	return c;
}

IT_TEST(status, json_has_every_figure_with_clients_in_both_lanes)
{
	int http = it_http_port();
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "admin = { http_port = %d; };\n"
	         "pool = { mode = \"transaction\"; size = 2; slow_query = \"50ms\";\n"
	         "         query_wait_timeout = \"20s\"; };\n"
	         "databases = ( { name = \"bench\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"
	         "                olap = { size = 2; statement_timeout = \"300ms\"; }; },\n"
	         "              { name = \"" ODD_CONF
	         "\"; dbname = \"bench\"; host = \"@PGHOST@\";\n"
	         "                port = @PGPORT@; } );\n",
	         http);
	it_pglane_start(conf);
	it_wait_port(http);

	struct flat f = {0};
	status_get(http, &f);
	/* the harness's readiness probe is a connection that closes at once: gone within 1 s */
	for (int i = 0; i < 50 && flat_num(&f, "top|clients") != 0; i++) {
		free(f.text);
		f = (struct flat){0};
		it_sleep_ms(20);
		status_get(http, &f);
	}
	cr_expect_str_eq(flat_get(&f, "top|version"), "\"0.1.0\"");
	cr_expect_geq(flat_num(&f, "top|uptime_s"), 0);
	cr_expect_gt(flat_num(&f, "top|time_ms"), 1.7e12);
	cr_expect(flat_get(&f, "top|time") && strlen(flat_get(&f, "top|time")) == 26,
	          "time is not ISO 8601 with milliseconds: %s", flat_get(&f, "top|time"));
	cr_expect_eq(flat_num(&f, "top|clients"), 0);
	cr_expect_null(flat_get(&f, "lane|bench|oltp|pool_size"), "a lane before any client");
	free(f.text);
	f.text = NULL;

	/* oltp: a client pinned by a session advisory lock, holding its server */
	PGconn *pinned = client("bench");
	PQclear(PQexec(pinned, "SELECT pg_advisory_lock(4216)"));
	/* olap: a slow statement (over 50 ms), then one cancelled at 300 ms */
	PGconn *o = client("bench");
	it_exec_ok(o, "/* lane: olap */ SELECT pg_sleep(0.1)");
	char msg[256];
	const char *state =
	        it_exec_error(o, "/* lane: olap */ SELECT pg_sleep(3)", msg, sizeof msg);
	cr_expect_str_eq(state, "57014", "the olap statement_timeout: %s %s", state, msg);
	/* olap: two clients hold both servers in a transaction, a third waits */
	PGconn *s[3];
	for (int i = 0; i < 3; i++)
		s[i] = client("bench");
	for (int i = 0; i < 2; i++)
		it_exec_ok(s[i], "/* lane: olap */ BEGIN; SELECT 1");
	cr_assert(PQsendQuery(s[2], "/* lane: olap */ SELECT 1"));
	/* the odd database name, one query */
	PGconn *odd = client(ODD);
	it_exec_ok(odd, "SELECT 1");

	cr_expect_eq(lane_wait(http, &f, "bench", "olap", "clients_waiting", 1), 1,
	             "olap clients_waiting:\n%s", f.text);
	cr_expect_eq(lane_num(&f, "bench", "olap", "servers_active"), 2);
	cr_expect_eq(lane_num(&f, "bench", "olap", "saturation"), 1.0);
	cr_expect_eq(lane_num(&f, "bench", "olap", "pool_size"), 2);
	cr_expect_gt(lane_num(&f, "bench", "olap", "max_wait_us"), 0);
	cr_expect_eq(lane_num(&f, "bench", "olap", "slow_queries"), 2, "pg_sleep(0.1) and (3)");
	cr_expect_eq(lane_num(&f, "bench", "olap", "statement_timeouts"), 1);
	cr_expect_eq(lane_num(&f, "bench", "olap", "statement_timeout_ms"), 300);
	cr_expect_eq(lane_num(&f, "bench", "olap", "slow_query_ms"), 50);
	double q50 = lane_num(&f, "bench", "olap", "query_us.p50");
	double q99 = lane_num(&f, "bench", "olap", "query_us.p99");
	cr_expect(q50 >= 90000 && q99 >= q50 && q99 < 2000000,
	          "olap query p50 %.0f µs (pg_sleep(0.1)), p99 %.0f µs (cancelled at 300 ms)", q50,
	          q99);
	cr_expect_geq(lane_num(&f, "bench", "olap", "wait_us.p95"),
	              lane_num(&f, "bench", "olap", "wait_us.p50"));
	cr_expect_eq(lane_num(&f, "bench", "oltp", "clients_pinned"), 1, "\n%s", f.text);
	cr_expect_eq(lane_num(&f, "bench", "oltp", "servers_active"), 1);
	cr_expect_eq(lane_num(&f, "bench", "oltp", "saturation"), 0.5);
	cr_expect_eq(lane_num(&f, "bench", "oltp", "clients_waiting"), 0);
	cr_expect_str_eq(flat_get(&f, "lane|bench|oltp|max_replica_lag_ms"), "null");
	cr_expect_eq(lane_num(&f, ODD, "oltp", "queries"), 1, "the odd name:\n%s", f.text);
	cr_expect_eq(flat_num(&f, "top|clients"), 6);

	it_sleep_ms(300);
	for (int i = 0; i < 2; i++)
		it_exec_ok(s[i], "COMMIT");
	bool to;
	PGresult *r = it_result_wait(s[2], 10000, &to);
	cr_expect(r && PQresultStatus(r) == PGRES_TUPLES_OK, "the waiter: %s",
	          PQerrorMessage(s[2]));
	PQclear(r);
	for (int i = 0; i < 3; i++)
		PQfinish(s[i]);
	free(f.text);
	f.text = NULL;
	status_get(http, &f);
	cr_expect_eq(lane_num(&f, "bench", "olap", "clients_waiting"), 0);
	cr_expect_eq(lane_num(&f, "bench", "olap", "servers_active"), 0);
	cr_expect_geq(lane_num(&f, "bench", "olap", "wait_us.p99"), 300000,
	              "the third client waited over 300 ms for a server");
	cr_expect_geq(lane_num(&f, "bench", "olap", "transactions"), 5);

	/* /ready without a monitor: ready; / is the page */
	char *body = NULL;
	cr_expect_eq(adminq_http_get(http, "/ready", &body), 200, "%s", body);
	free(body);
	cr_expect_eq(adminq_http_get(http, "/", &body), 200);
	cr_expect(body && strstr(body, "<!DOCTYPE html>") && strstr(body, "status.json"),
	          "the page");
	cr_expect(!strstr(body, "<script src") && !strstr(body, "<link "),
	          "the page loads no external asset");
	free(body);
	free(f.text);
	PQfinish(pinned);
	PQfinish(o);
	PQfinish(odd);
}

/* ---- the page in headless Chromium, with a standby ---- */

/* The page as Chromium renders it after `budget_ms` of virtual time (the page fetches
 * /status.json at once and every 2 s); malloc'ed. */
static char *dump_dom(int http, int budget_ms)
{
	char *out = NULL;
	int rc = it_sh(
	        60, &out,
	        "chromium --headless --no-sandbox --disable-gpu --user-data-dir='%s/chromium' "
	        "--virtual-time-budget=%d --dump-dom http://127.0.0.1:%d/ 2>/dev/null",
	        it_pglane_current()->dir, budget_ms, http);
	cr_assert_eq(rc, 0, "chromium --dump-dom failed (exit %d):\n%s", rc, out ? out : "");
	cr_assert(out && strstr(out, "</html>"), "no DOM from chromium:\n%s", out ? out : "");
	return out;
}

/* The text of the cell data-k=`k` in the row id=`row` of a dumped DOM, digits only (commas
 * of thousands dropped); fails the test when there is none. */
static long long dom_cell(const char *dom, const char *row, const char *k)
{
	char pat[256];
	snprintf(pat, sizeof pat, "<tr id=\"%s\">", row);
	const char *r = strstr(dom, pat);
	cr_assert(r, "the page has no row %s", row);
	const char *end = strstr(r, "</tr>");
	snprintf(pat, sizeof pat, "data-k=\"%s\">", k);
	const char *c = strstr(r, pat);
	cr_assert(c && end && c < end, "row %s has no cell %s", row, k);
	c += strlen(pat);
	long long v = 0;
	bool any = false;
	for (; *c && *c != '<'; c++) {
		if (*c >= '0' && *c <= '9') {
			v = v * 10 + (*c - '0');
			any = true;
		} else if (*c != ',') {
			break;
		}
	}
	cr_assert(any, "cell %s of row %s is not a number", k, row);
	return v;
}

static void standby_start(void)
{
	it_mkdtemp(g.dir, sizeof g.dir);
	g.port = it_free_port();
	char *out = NULL;
	int rc = it_sh(120, &out, "'%s' standby '%s' '%s' %d %s", getenv("PGLANE_TEST_PGSH"),
	               getenv("PGLANE_TEST_PGDIR"), g.dir, g.port, SLOT);
	cr_assert_eq(rc, 0, "tests/pg.sh standby failed (exit %d):\n%s", rc, out ? out : "");
	free(out);
}

/* pgbench through pglane for `secs` seconds, select-only on oltp and the same on olap (a
 * script with the hint), in the background; its output in DIR/pgbench.out. */
static pid_t pgbench_start(int secs)
{
	const struct it_pglane *p = it_pglane_current();
	char script[700], out[700], cmd[2048];
	snprintf(script, sizeof script, "%s/olap.sql", p->dir);
	it_file_write(script, "\\set aid random(1, 100000)\n"
	                      "/* lane: olap */ SELECT abalance FROM pgbench_accounts WHERE aid = "
	                      ":aid;\n");
	snprintf(out, sizeof out, "%s/pgbench.out", p->dir);
	snprintf(cmd, sizeof cmd,
	         "exec pgbench -h 127.0.0.1 -p %d -U postgres -n -T %d -c 2 -j 1 -b select-only "
	         "-f '%s' bench",
	         p->port, secs, script);
	return adminq_bg_start(out, cmd);
}

static void pgbench_wait(pid_t pid, int timeout_ms)
{
	int st = adminq_wait_exit(pid, timeout_ms, true);
	char path[700];
	snprintf(path, sizeof path, "%s/pgbench.out", it_pglane_current()->dir);
	char *out = it_file_read(path);
	cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "pgbench ended %d:\n%s", st,
	          out ? out : "");
	free(out);
}

IT_TEST(status, page_renders_lanes_and_standby_in_chromium, .timeout = 180)
{
	cr_assert_eq(it_sh(10, NULL, "command -v chromium"), 0,
	             "chromium is not installed (Debian package chromium; make deps)");
	primary_try("SELECT pg_drop_replication_slot('" SLOT "') FROM pg_replication_slots "
	            "WHERE slot_name = '" SLOT "' AND NOT active");
	standby_start();
	int http = it_http_port();
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "admin = { http_port = %d; };\n"
	         "monitor = { interval = \"1s\"; };\n"
	         "pool = { mode = \"transaction\"; size = 4; slow_query = \"100ms\"; };\n"
	         "databases = ( { name = \"bench\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"
	         "  olap = { size = 2; replicas = ( { host = \"127.0.0.1\"; port = %d; } );\n"
	         "           max_replica_lag = \"5s\"; }; } );\n",
	         http, g.port);
	it_pglane_start(conf);
	it_wait_port(http);

	PGconn *c = client("bench");
	it_exec_ok(c, "SELECT 1");
	it_exec_ok(c, "/* lane: olap */ SELECT 1");
	PQfinish(c);
	/* the monitor has seen the replica and the primary's standby */
	char sb_key[128], srv_key[128];
	snprintf(sb_key, sizeof sb_key, "standby|standby_%d|state", g.port);
	snprintf(srv_key, sizeof srv_key, "server|127.0.0.1:%d|healthy", g.port);
	struct flat f = {0};
	const char *v = NULL, *h = NULL;
	for (int i = 0; i < 100; i++) {
		free(f.text);
		f.text = NULL;
		status_get(http, &f);
		v = flat_get(&f, sb_key);
		v = v && strcmp(v, "\"streaming\"") == 0 ? v : NULL;
		h = flat_get(&f, srv_key);
		if (v && h && strcmp(h, "true") == 0)
			break;
		it_sleep_ms(100);
	}
	cr_assert(v && h && strcmp(h, "true") == 0, "no streaming standby in /status.json:\n%s",
	          f.text);
	char key[128];
	snprintf(key, sizeof key, "server|127.0.0.1:%d|max_replica_lag_ms", g.port);
	cr_expect_eq(flat_num(&f, key), 5000);
	cr_expect_geq(flat_num(&f, "slot|" SLOT "|retained_bytes"), 0);
	free(f.text);
	char *ready = NULL;
	cr_expect_eq(adminq_http_get(http, "/ready", &ready), 200, "/ready: %s", ready);
	free(ready);

	char *dom1 = dump_dom(http, 3000);
	char row[128];
	cr_expect(strstr(dom1, ">live<"), "the page did not load /status.json");
	cr_expect(strstr(dom1, "<tr id=\"lane-bench/oltp\">"), "no oltp row");
	cr_expect(strstr(dom1, "<tr id=\"lane-bench/olap\">"), "no olap row");
	snprintf(row, sizeof row, "<tr id=\"standby-standby_%d\">", g.port);
	cr_expect(strstr(dom1, row), "no standby row %s", row);
	snprintf(row, sizeof row, "<tr id=\"server-127.0.0.1:%d\">", g.port);
	cr_expect(strstr(dom1, row), "no replica row %s", row);
	cr_expect(strstr(dom1, "<tr id=\"slot-" SLOT "\">"), "no slot row");
	cr_expect(strstr(dom1, ">streaming<") && strstr(dom1, ">healthy<"),
	          "the standby's state and the replica's health");
	cr_expect(strstr(dom1, "<svg class=\"spark\""), "no sparkline");
	long long t1_oltp = dom_cell(dom1, "lane-bench/oltp", "transactions");
	long long t1_olap = dom_cell(dom1, "lane-bench/olap", "transactions");
	cr_expect_eq(dom_cell(dom1, "lane-bench/olap", "pool_size"), 2);
	cr_expect_eq(dom_cell(dom1, "lane-bench/oltp", "pool_size"), 4);
	snprintf(row, sizeof row, "server-127.0.0.1:%d", g.port);
	cr_expect_eq(dom_cell(dom1, row, "max_replica_lag_ms"), 5000);
	free(dom1);

	pid_t bench = pgbench_start(2);
	pgbench_wait(bench, 30000);
	char *dom2 = dump_dom(http, 3000);
	long long t2_oltp = dom_cell(dom2, "lane-bench/oltp", "transactions");
	long long t2_olap = dom_cell(dom2, "lane-bench/olap", "transactions");
	cr_log_info("transactions on the page: oltp %lld -> %lld, olap %lld -> %lld", t1_oltp,
	            t2_oltp, t1_olap, t2_olap);
	cr_expect_gt(t2_oltp, t1_oltp + 100, "oltp transactions did not move: %lld -> %lld",
	             t1_oltp, t2_oltp);
	cr_expect_gt(t2_olap, t1_olap + 100, "olap transactions did not move: %lld -> %lld",
	             t1_olap, t2_olap);
	free(dom2);

	/* a screenshot under load, for the README (PGLANE_STATUS_SCREENSHOT names its path) */
	const char *shot = getenv("PGLANE_STATUS_SCREENSHOT");
	char path[700];
	snprintf(path, sizeof path, "%s/status.png", it_pglane_current()->dir);
	if (shot && *shot)
		snprintf(path, sizeof path, "%s", shot);
	bench = pgbench_start(8);
	it_sleep_ms(1000);
	int rc = it_sh(60, NULL,
	               "chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "
	               "--user-data-dir='%s/chromium' --virtual-time-budget=20000 "
	               "--window-size=1280,900 --screenshot='%s' http://127.0.0.1:%d/ "
	               ">/dev/null 2>&1",
	               it_pglane_current()->dir, path, http);
	cr_expect_eq(rc, 0, "chromium --screenshot failed (exit %d)", rc);
	char *png = it_file_read(path);
	cr_expect(png && memcmp(png, "\x89PNG", 4) == 0, "no PNG at %s", path);
	free(png);
	cr_log_info("screenshot: %s", path);
	pgbench_wait(bench, 30000);
}

IT_TEST(status, ready_is_503_while_a_primary_is_unreachable)
{
	int http = it_http_port();
	int dead =
	        1; /* nothing listens on 127.0.0.1:1; a free port picked here could be pglane's */
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "admin = { http_port = %d; };\n"
	         "monitor = { user = \"postgres\"; interval = \"1s\"; };\n"
	         "databases = ( { name = \"bench\"; host = \"@PGHOST@\"; port = @PGPORT@; },\n"
	         "              { name = \"gone\"; host = \"127.0.0.1\"; port = %d; } );\n",
	         http, dead);
	it_pglane_start(conf);
	it_wait_port(http);
	char *body = NULL;
	int st = 0;
	/* until the monitor has checked both (before, the 503 may name a database not checked
	 * yet) */
	for (int i = 0; i < 50; i++) {
		free(body);
		body = NULL;
		st = adminq_http_get(http, "/ready", &body);
		if (st == 503 && body && strstr(body, "database gone"))
			break;
		it_sleep_ms(100);
	}
	cr_expect_eq(st, 503, "/ready with database gone unreachable: %d %s", st, body);
	cr_expect(body && strstr(body, "database gone"), "the reason names it: %s", body);
	free(body);
	struct flat f = {0};
	status_get(http, &f);
	char key[128];
	snprintf(key, sizeof key, "server|127.0.0.1:%d|healthy", dead);
	cr_expect_str_eq(flat_get(&f, key), "false", "\n%s", f.text);
	snprintf(key, sizeof key, "server|127.0.0.1:%d|error", dead);
	cr_expect(flat_get(&f, key) && strlen(flat_get(&f, key)) > 2, "an error text");
	free(f.text);
}

/* tests/unit/test_config_operators.c — the settings a PgBouncer operator brings (issue 15):
 * per-user overrides and their precedence, pool keys in a database group, where the caps may
 * be set, the Unix socket, auth_query, TLS protocol lists and client verification, peer, and
 * that printing and loading again gives the same settings. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"
#include "tests/unit/config_fixture.h"

static struct cfg *must_load(const char *text)
{
	struct cfg *c = cfgt_load(text);
	cr_assert_not_null(c, "%s\n%s", text, cfgt_errors());
	return c;
}

static void must_fail(const char *text, const char *want)
{
	struct cfg *c = cfgt_load(text);
	cr_expect_null(c, "accepted:\n%s", text);
	cfg_free(c);
	cr_expect(cfgt_has_error(want), "missing \"%s\"\ngot:\n%s", want, cfgt_errors());
}

CTEST(precedence_user_lane_database_global)
{
	struct cfg *c = must_load(
	        "pool = { size = 20; statement_timeout = \"1min\"; client_idle_timeout = \"1h\";\n"
	        "  max_user_connections = 50; };\n"
	        "databases = ( { name = \"app\"; size = 10; statement_timeout = \"30s\";\n"
	        "  max_db_connections = 12;\n"
	        "  olap = { size = 4; statement_timeout = \"10min\"; }; } );\n"
	        "users = ( { name = \"report\"; pool_mode = \"session\"; pool_size = 3;\n"
	        "  statement_timeout = \"5min\"; max_user_connections = 6; },\n"
	        "  { name = \"web\"; query_timeout = \"2s\"; reserve_pool_size = 2; } );\n");
	const struct cfg_database *db = cfg_database_find(c, "app");
	cr_assert_not_null(db);
	/* database keys reach both lanes; a lane's own keys win */
	cr_expect_eq(db->lanes[CFG_LANE_OLTP].pool.size, 10);
	cr_expect_eq(db->lanes[CFG_LANE_OLTP].pool.statement_timeout_ms, 30000);
	cr_expect_eq(db->lanes[CFG_LANE_OLAP].pool.size, 4);
	cr_expect_eq(db->lanes[CFG_LANE_OLAP].pool.statement_timeout_ms, 600000);
	cr_expect_eq(db->lanes[CFG_LANE_OLAP].pool.max_db_connections, 12);
	cr_expect_eq(db->lanes[CFG_LANE_OLTP].pool.client_idle_timeout_ms, 3600000);

	struct cfg_pool p;
	cfg_pool_resolve(c, &db->lanes[CFG_LANE_OLTP], "report", &p);
	cr_expect_eq(p.mode, CFG_POOL_SESSION);
	cr_expect_eq(p.size, 3);
	cr_expect_eq(p.statement_timeout_ms, 300000);
	cr_expect_eq(p.max_user_connections, 6);
	cr_expect_eq(p.max_db_connections, 12, "not a user key: the database's");
	cr_expect_eq(p.client_idle_timeout_ms, 3600000, "not set by the user: the lane's");

	cfg_pool_resolve(c, &db->lanes[CFG_LANE_OLAP], "web", &p);
	cr_expect_eq(p.mode, CFG_POOL_TRANSACTION);
	cr_expect_eq(p.size, 4);
	cr_expect_eq(p.statement_timeout_ms, 2000);
	cr_expect_eq(p.reserve_pool_size, 2);
	cr_expect_eq(p.max_user_connections, 50, "the global cap");

	cfg_pool_resolve(c, &db->lanes[CFG_LANE_OLTP], "nobody", &p);
	cr_expect_eq(p.size, 10);
	cr_expect_eq(p.statement_timeout_ms, 30000);
	cfg_free(c);
}

CTEST(defaults_are_pgbouncers)
{
	struct cfg *c = must_load("");
	const struct cfg_pool *p = &c->pool;
	cr_expect_eq(p->reserve_pool_size, 0);
	cr_expect_eq(p->reserve_pool_timeout_ms, 5000);
	cr_expect_str_eq(p->server_check_query, "");
	cr_expect_eq(p->server_check_delay_ms, 30000);
	cr_expect_eq(p->server_round_robin, false);
	cr_expect_eq(p->server_reset_query_always, false);
	cr_expect_eq(p->transaction_timeout_ms, 0);
	cr_expect_eq(p->cancel_wait_timeout_ms, 10000);
	cr_expect_eq(p->server_login_retry_ms, 500, "pglane's: PgBouncer waits 15 s");
	cr_expect_eq(p->query_wait_notify_ms, 5000);
	cr_expect_eq(p->max_db_connections + p->max_user_connections +
	                     p->max_db_client_connections + p->max_user_client_connections,
	             0);
	cr_expect_str_eq(c->listen.unix_socket_dir, "/tmp");
	cr_expect_eq(c->listen.unix_socket_mode, 0777);
	cr_expect_str_eq(c->auth.auth_user, "");
	cr_expect_str_eq(c->auth.auth_query,
	                 "SELECT usename, passwd FROM pg_shadow WHERE usename=$1");
	cr_expect_str_eq(c->listen.tls.protocols, "secure");
	cr_expect_eq(c->nusers, 0);
	cfg_free(c);
}

CTEST(caps_only_where_they_mean_something)
{
	must_fail("databases = ( { name = \"a\";\n oltp = { max_db_connections = 3; }; } );\n",
	          "2: databases[0].oltp.max_db_connections: only allowed in pool or a database");
	must_fail("databases = ( { name = \"a\";\n max_user_connections = 3; } );\n",
	          "2: databases[0].max_user_connections: only allowed in pool or a user");
	must_fail("users = ( { name = \"u\";\n max_db_client_connections = 3; } );\n",
	          "2: users[0].max_db_client_connections: only allowed in pool or a database");
	must_fail("users = ( { name = \"u\";\n server_check_query = \"SELECT 1\"; } );\n",
	          "2: users[0].server_check_query: only allowed in pool, a database or a lane");
	must_fail("users = ( { name = \"u\"; },\n { name = \"u\"; } );\n",
	          "2: users[1].name: duplicate user \"u\" (first defined on line 1)");
	must_fail("users = ( { size = 3; } );\n", "1: users[0].name: required");
	must_fail("users = ( { name = \"u\";\n colour = 3; } );\n",
	          "2: users[0].colour: unknown key");
	must_fail("users = ( { name = \"u\"; min_size = 5;\n size = 3; } );\n",
	          "1: users[0].min_size: must be at most size (got 5 > 3)");
	must_fail("pool = { reserve_pool_size = -1; };\n",
	          "1: pool.reserve_pool_size: must be between 0 and 10000 (got -1)");
	/* the aliases are PgBouncer's [users] names, not pool keys */
	must_fail("pool = { pool_size = 3; };\n", "1: pool.pool_size: unknown key");
}

CTEST(unix_socket)
{
	struct cfg *c = must_load("listen = { unix_socket_dir = \"\"; };\n");
	cr_expect_str_eq(c->listen.unix_socket_dir, "");
	cfg_free(c);
	c = must_load("listen = { unix_socket_dir = \"sock\"; unix_socket_mode = \"0700\";\n"
	              "  unix_socket_group = \"postgres\"; };\n");
	char want[400];
	snprintf(want, sizeof(want), "%s/sock", cfgt_rdir);
	cr_expect_str_eq(c->listen.unix_socket_dir, want, "relative to the config file");
	cr_expect_eq(c->listen.unix_socket_mode, 0700);
	cr_expect_str_eq(c->listen.unix_socket_group, "postgres");
	cfg_free(c);
	must_fail("listen = { unix_socket_mode = \"0999\"; };\n",
	          "1: listen.unix_socket_mode: must be an octal mode such as \"0777\" or \"0700\"");
	must_fail("listen = { unix_socket_mode = \"1777\"; };\n",
	          "1: listen.unix_socket_mode: must be an octal mode such as \"0777\" or \"0700\"");
	char text[400];
	snprintf(text, sizeof(text), "listen = { unix_socket_dir = \"/%0100d\"; };\n", 0);
	must_fail(text, "1: listen.unix_socket_dir: too long for a Unix socket path (at most 92 "
	                "bytes)");
}

CTEST(auth_query_per_database)
{
	struct cfg *c = must_load(
	        "auth = { type = \"scram-sha-256\"; auth_user = \"pgbouncer\";\n"
	        "  auth_query = \"SELECT * FROM pgbouncer.user_lookup($1)\"; };\n"
	        "databases = ( { name = \"a\"; },\n"
	        "  { name = \"b\"; auth_user = \"\"; },\n"
	        "  { name = \"c\"; auth_dbname = \"authdb\"; connect_query = \"SELECT 1\"; } );\n");
	cr_expect_str_eq(cfg_database_find(c, "a")->auth_user, "pgbouncer");
	cr_expect_str_eq(cfg_database_find(c, "a")->auth_query,
	                 "SELECT * FROM pgbouncer.user_lookup($1)");
	cr_expect_str_eq(cfg_database_find(c, "b")->auth_user, "", "look-ups off for b");
	cr_expect_str_eq(cfg_database_find(c, "c")->auth_dbname, "authdb");
	cr_expect_str_eq(cfg_database_find(c, "c")->connect_query, "SELECT 1");
	cfg_free(c);
	must_fail("auth = { auth_query = \"\"; };\n", "1: auth.auth_query: must not be empty");
}

CTEST(tls_protocols_and_client_verification)
{
	int lo, hi;
	cr_expect(cfg_tls_protocols_parse("secure", &lo, &hi) && lo == 2 && hi == 3);
	cr_expect(cfg_tls_protocols_parse("all", &lo, &hi) && lo == 0 && hi == 3);
	cr_expect(cfg_tls_protocols_parse("TLSv1.3", &lo, &hi) && lo == 3 && hi == 3);
	cr_expect(cfg_tls_protocols_parse("tlsv1.1, tlsv1.2", &lo, &hi) && lo == 1 && hi == 2);
	cr_expect(!cfg_tls_protocols_parse("tlsv1.0,tlsv1.2", &lo, &hi), "a gap");
	cr_expect(!cfg_tls_protocols_parse("sslv3", &lo, &hi));
	cr_expect(!cfg_tls_protocols_parse("", &lo, &hi));
	must_fail("server_tls = { protocols = \"tlsv1.4\"; };\n",
	          "1: server_tls.protocols: must be \"secure\", \"all\", \"legacy\", \"default\" "
	          "or a list of consecutive versions such as \"tlsv1.2,tlsv1.3\" (got "
	          "\"tlsv1.4\")");
	cfgt_write("s.crt", "x");
	cfgt_write("s.key", "x");
	must_fail("listen = { tls = { mode = \"verify-ca\"; cert = \"s.crt\"; key = \"s.key\"; };\n"
	          "};\n",
	          "1: listen.tls.ca: required when listen.tls.mode is \"verify-ca\"");
	cr_expect(cfg_tls_required(CFG_TLS_VERIFY_FULL) && !cfg_tls_required(CFG_TLS_PREFER));
	cr_expect(cfg_tls_verifies(CFG_TLS_VERIFY_CA) && !cfg_tls_verifies(CFG_TLS_REQUIRE));
}

CTEST(hba_local_and_peer)
{
	struct cfg *c = must_load("hba = ( { address = \"local\"; method = \"peer\"; },\n"
	                          "  { address = \"all\"; method = \"md5\"; } );\n"
	                          "auth = { type = \"md5\"; auth_user = \"a\"; };\n");
	cr_expect_str_eq(c->hba[0].address, "local");
	cr_expect_str_eq(c->hba[0].method, "peer");
	cfg_free(c);
	must_fail("hba = ( { address = \"127.0.0.1/32\";\n method = \"peer\"; } );\n",
	          "2: hba[0].method: \"peer\" needs address \"local\" (Unix-socket clients)");
}

CTEST(print_loads_back_the_same)
{
	struct cfg *a = must_load(
	        "listen = { unix_socket_dir = \"/run/pglane\"; unix_socket_mode = \"0770\";\n"
	        "  unix_socket_group = \"postgres\"; };\n"
	        "auth = { auth_user = \"pgbouncer\"; auth_dbname = \"postgres\"; };\n"
	        "pool = { max_db_connections = 40; max_user_client_connections = 100;\n"
	        "  reserve_pool_size = 3; reserve_pool_timeout = \"2s\"; server_round_robin = "
	        "true;\n"
	        "  server_check_query = \"SELECT 1\"; server_check_delay = \"10s\";\n"
	        "  transaction_timeout = \"1h\"; query_wait_notify = \"7s\"; };\n"
	        "server_tls = { protocols = \"tlsv1.3\"; ciphers = \"HIGH:!aNULL\"; };\n"
	        "databases = ( { name = \"app\"; max_db_connections = 10; connect_query = \"SET "
	        "x\";\n"
	        "  olap = { size = 2; server_reset_query_always = true; }; } );\n"
	        "users = ( { name = \"report\"; mode = \"session\"; size = 5;\n"
	        "  max_user_connections = 10; statement_timeout = \"5min\"; } );\n");
	char *text = cfgt_print(a);
	cr_expect_not_null(strstr(text, "unix_socket_mode = \"0770\";"), "%s", text);
	cr_expect_not_null(strstr(text, "users = (\n\t{\n\t\tname = \"report\";\n\t\tmode = "
	                                "\"session\";\n\t\tsize = 5;\n"),
	                   "%s", text);
	struct cfg *b = must_load(text);
	char **lines = NULL;
	size_t n = cfg_diff(a, b, &lines);
	cr_expect_eq(n, 0, "first difference: %s", n ? lines[0] : "");
	cfg_lines_free(lines, n);
	struct cfg_kvs kv = {0};
	cr_assert(cfg_flatten(b, &kv));
	bool seen_user = false, seen_cap = false;
	for (size_t i = 0; i < kv.n; i++) {
		if (strcmp(kv.v[i].key, "users.report.max_user_connections") == 0)
			seen_user = strcmp(kv.v[i].value, "10") == 0;
		if (strcmp(kv.v[i].key, "databases.app.max_db_connections") == 0)
			seen_cap = strcmp(kv.v[i].value, "10") == 0;
	}
	cr_expect(seen_user && seen_cap);
	cfg_kvs_free(&kv);
	free(text);
	cfg_free(a);
	cfg_free(b);
}

CTEST(a_user_change_is_a_diff_line)
{
	struct cfg *a = must_load("users = ( { name = \"u\"; size = 3; } );\n");
	struct cfg *b = must_load("users = ( { name = \"u\"; size = 4; } );\n");
	char **lines = NULL;
	size_t n = cfg_diff(a, b, &lines);
	cr_assert_eq(n, 1);
	cr_expect_str_eq(lines[0], "users.u.size: 3 -> 4");
	cfg_lines_free(lines, n);
	cr_expect(!cfg_needs_restart(a, b, NULL, 0), "per-user settings change on RELOAD");
	cfg_free(a);
	cfg_free(b);
}

CTEST(log_and_admin_keys_of_pgbouncer)
{
	struct cfg *c =
	        must_load("log = { file = \"pglane.log\"; syslog = true; syslog_ident = \"pgb\";\n"
	                  "  syslog_facility = \"local3\"; connections = false;\n"
	                  "  disconnections = false; pooler_errors = false; stats = false;\n"
	                  "  stats_period = \"15s\"; };\n"
	                  "admin = { suspend_timeout = \"3s\"; shutdown_timeout = \"2min\"; };\n");
	char want[400];
	snprintf(want, sizeof(want), "%s/pglane.log", cfgt_rdir);
	cr_expect_str_eq(c->log.file, want, "relative to the config file");
	cr_expect(c->log.syslog && !c->log.connections && !c->log.disconnections &&
	          !c->log.pooler_errors && !c->log.stats);
	cr_expect_str_eq(c->log.syslog_ident, "pgb");
	cr_expect_str_eq(c->log.syslog_facility, "local3");
	cr_expect_eq(c->log.stats_period_ms, 15000);
	cr_expect_eq(c->admin.suspend_timeout_ms, 3000);
	cr_expect_eq(c->admin.shutdown_timeout_ms, 120000);
	struct cfg *d = must_load("");
	cr_expect_str_eq(d->log.file, "");
	cr_expect(d->log.connections && d->log.disconnections && d->log.pooler_errors &&
	          d->log.stats && !d->log.syslog);
	cr_expect_eq(d->log.stats_period_ms, 60000);
	char **lines = NULL;
	size_t n = cfg_diff(d, c, &lines);
	cr_expect_eq(n, 11, "one diff line per changed key");
	cfg_lines_free(lines, n);
	cr_expect(!cfg_needs_restart(d, c, NULL, 0), "log and admin timeouts change on RELOAD");
	cfg_free(c);
	cfg_free(d);
	must_fail("log = { syslog_facility = \"kern\"; };\n",
	          "1: log.syslog_facility: must be \"auth\", \"authpriv\", \"daemon\", \"user\", "
	          "\"local0\", \"local1\", \"local2\", \"local3\", \"local4\", \"local5\", "
	          "\"local6\" or \"local7\" (got \"kern\")");
	must_fail("log = { stats_period = \"500ms\"; };\n",
	          "1: log.stats_period: must be at least 1s");
}

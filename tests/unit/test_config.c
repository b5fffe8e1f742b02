/* tests/unit/test_config.c — config/cfg: built-in defaults, a file with every key, lane
 * resolution, relative paths, durations, and cfg_print output loading back to an equal config.
 * The validation errors are in test_config_errors.c. Files go to a mkdtemp directory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cfg.h"
#include "tests/unit/config_fixture.h"

/* ---- defaults --------------------------------------------------------------------------- */

static void expect_default_pool(const struct cfg_pool *p)
{
	cr_expect_eq(p->mode, CFG_POOL_TRANSACTION);
	cr_expect_eq(p->size, 20);
	cr_expect_eq(p->min_size, 0);
	cr_expect_eq(p->max_prepared_statements, 200);
	cr_expect_eq(p->statement_timeout_ms, 0);
	cr_expect_eq(p->idle_in_transaction_timeout_ms, 0);
	cr_expect_eq(p->client_idle_timeout_ms, 0);
	cr_expect_eq(p->query_wait_timeout_ms, 120000);
	cr_expect_eq(p->slow_query_ms, 1000);
	cr_expect_eq(p->server_lifetime_ms, 3600000);
	cr_expect_eq(p->server_idle_timeout_ms, 600000);
	cr_expect_eq(p->server_connect_timeout_ms, 5000);
	cr_expect_eq(p->client_login_timeout_ms, 60000);
	cr_expect_str_eq(p->server_reset_query, "DISCARD ALL");
	cr_expect_eq(p->ntrack_parameters, 0);
	cr_expect_eq(p->pin_session_state, CFG_PIN_PIN);
	cr_expect_eq(p->nignore_startup_parameters, 0);
}

static void expect_builtin_database(const struct cfg_database *db)
{
	cr_expect_str_eq(db->name, "*");
	cr_expect_str_eq(db->host, "127.0.0.1");
	cr_expect_eq(db->port, 5432);
	cr_expect_str_eq(db->dbname, "");
	cr_expect_str_eq(db->user, "");
	cr_expect_str_eq(db->password, "");
	cr_expect_eq(db->default_lane, CFG_LANE_OLTP);
	cr_expect(db->lanes[CFG_LANE_OLTP].enabled);
	cr_expect_not(db->lanes[CFG_LANE_OLAP].enabled);
	cr_expect_eq(db->lanes[CFG_LANE_OLAP].nreplicas, 0);
	cr_expect_eq(db->sslmode, CFG_SSL_PREFER);
	cr_expect_str_eq(db->sslrootcert, "");
}

CTEST(defaults_without_file)
{
	struct cfg *c = cfg_load(NULL, &cfgt_errs);
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_eq(cfgt_errs.n, 0);
	cr_expect_null(c->path);
	cr_expect_str_eq(c->listen.host, "127.0.0.1");
	cr_expect_eq(c->listen.port, 6432);
	cr_expect_eq(c->listen.max_client_conn, 10000);
	cr_expect_eq(c->listen.tls.mode, CFG_TLS_DISABLE);
	cr_expect_str_eq(c->listen.tls.cert, "");
	cr_expect_str_eq(c->listen.tls.key, "");
	cr_expect_str_eq(c->listen.tls.ca, "");
	cr_expect_eq(c->auth.type, CFG_AUTH_TRUST);
	cr_expect_str_eq(c->auth.file, "");
	cr_assert_eq(c->admin.nusers, 1);
	cr_expect_str_eq(c->admin.users[0], "admin");
	cr_expect_eq(c->admin.nstats_users, 0);
	cr_expect_eq(c->admin.http_port, 0);
	cr_expect_eq(c->log.format, CFG_LOG_TEXT);
	cr_expect_eq(c->log.level, CFG_LOG_INFO);
	expect_default_pool(&c->pool);
	cr_assert_eq(c->ndatabases, 1);
	expect_builtin_database(&c->databases[0]);
	cr_expect_eq(c->databases[0].line, 0);
	expect_default_pool(&c->databases[0].lanes[CFG_LANE_OLTP].pool);
	cr_expect_eq(c->nroutes, 0);
	cr_expect_eq(c->nhba, 0);
	cr_expect_eq(c->monitor.interval_ms, 2000);
	cr_expect_str_eq(c->monitor.user, "");
	cr_expect_str_eq(c->monitor.password, "");
	cr_expect_eq(c->server_tls.sslmode, CFG_SSL_PREFER);
	cr_expect_str_eq(c->server_tls.ca, "");
	cr_expect_str_eq(c->server_tls.cert, "");
	cr_expect_str_eq(c->server_tls.key, "");
	cfg_free(c);
}

CTEST(empty_file_gives_defaults_with_path)
{
	struct cfg *c = cfgt_load("# nothing but a comment\n");
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_str_eq(c->path, cfgt_conf);
	cr_expect_eq(c->listen.port, 6432);
	cr_assert_eq(c->ndatabases, 1);
	expect_builtin_database(&c->databases[0]);
	cfg_free(c);
}

CTEST(no_databases_uses_builtin_with_file_pool)
{
	const char *texts[] = {"pool = { size = 7; slow_query = \"3s\"; };\n",
	                       "pool = { size = 7; slow_query = \"3s\"; };\ndatabases = ( );\n",
	                       "pool = { size = 7; slow_query = \"3s\"; };\ndatabases = [ ];\n"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct cfg *c = cfgt_load(texts[i]);
		cr_assert_not_null(c, "case %zu: %s", i, cfgt_errors());
		cr_assert_eq(c->ndatabases, 1, "case %zu", i);
		expect_builtin_database(&c->databases[0]);
		cr_expect_eq(c->databases[0].lanes[CFG_LANE_OLTP].pool.size, 7, "case %zu", i);
		cr_expect_eq(c->databases[0].lanes[CFG_LANE_OLTP].pool.slow_query_ms, 3000);
		cfg_free(c);
	}
}

CTEST(names_and_lookups)
{
	cr_expect_str_eq(cfg_lane_name(CFG_LANE_OLTP), "oltp");
	cr_expect_str_eq(cfg_lane_name(CFG_LANE_OLAP), "olap");
	cr_expect_str_eq(cfg_pool_mode_name(CFG_POOL_SESSION), "session");
	cr_expect_str_eq(cfg_pool_mode_name(CFG_POOL_TRANSACTION), "transaction");

	struct cfg *c = cfgt_load(
	        "admin = { users = [ \"root\", \"ops\" ]; stats_users = [ \"graf\" ]; };\n"
	        "databases = ( { name = \"app\"; }, { name = \"*\"; port = 5433; } );\n");
	cr_assert_not_null(c, "%s", cfgt_errors());
	bool full = false;
	cr_expect(cfg_is_admin(c, "root", &full));
	cr_expect(full);
	cr_expect(cfg_is_admin(c, "ops", &full));
	cr_expect(full);
	cr_expect(cfg_is_admin(c, "graf", &full));
	cr_expect_not(full);
	full = true;
	cr_expect_not(cfg_is_admin(c, "admin", &full), "the default admin is replaced");
	cr_expect_not(full);
	cr_expect_not(cfg_is_admin(c, "Root", NULL));
	cr_expect(cfg_is_admin(c, "graf", NULL));

	cr_expect_str_eq(cfg_database_find(c, "app")->name, "app");
	cr_expect_str_eq(cfg_database_find(c, "other")->name, "*");
	cr_expect_eq(cfg_database_find(c, "other")->port, 5433);
	cr_expect_str_eq(cfg_database_find(c, "ap")->name, "*", "no prefix matching");
	cfg_free(c);

	c = cfgt_load("databases = ( { name = \"app\"; } );\n");
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_eq(c->ndatabases, 1, "no built-in entry once databases are given");
	cr_expect_not_null(cfg_database_find(c, "app"));
	cr_expect_null(cfg_database_find(c, "other"));
	cfg_free(c);
}

/* ---- a file with every key ------------------------------------------------------------------ */

static const char *const full_conf =
        "# every key of the contract\n"
        "listen = {\n"
        "  host = \"0.0.0.0\"; port = 7432; max_client_conn = 500;\n"
        "  tls = { mode = \"require\"; cert = \"server.crt\"; key = \"server.key\"; ca = "
        "\"ca.crt\"; };\n"
        "};\n"
        "auth = { type = \"scram-sha-256\"; file = \"users.txt\"; };\n"
        "admin = { users = [ \"admin\", \"root\" ]; stats_users = [ \"grafana\" ]; http_port = "
        "9187; };\n"
        "log = { format = \"json\"; level = \"debug\"; };\n"
        "pool = {\n"
        "  mode = \"session\"; size = 30; min_size = 2; max_prepared_statements = 50;\n"
        "  statement_timeout = \"3s\"; idle_in_transaction_timeout = \"10s\";\n"
        "  client_idle_timeout = \"5min\"; query_wait_timeout = \"30s\"; slow_query = \"500ms\";\n"
        "  server_lifetime = \"2h\"; server_idle_timeout = \"15min\"; server_connect_timeout = "
        "2500;\n"
        "  client_login_timeout = \"20s\"; server_reset_query = \"RESET ALL; SELECT '\\\"\\\\'\";\n"
        "  track_parameters = [ \"search_path\", \"work_mem\" ];\n"
        "};\n"
        "databases = (\n"
        "  { name = \"app\"; host = \"db1.internal\"; port = 5433; dbname = \"app_prod\";\n"
        "    user = \"app_user\"; password = \"s3cret\"; default_lane = \"olap\";\n"
        "    sslmode = \"verify-ca\"; sslrootcert = \"app-root.crt\";\n"
        "    oltp = { size = 15; statement_timeout = \"2s\"; slow_query = \"200ms\"; };\n"
        "    olap = { mode = \"transaction\"; size = 4; statement_timeout = \"30min\"; slow_query "
        "= \"10s\";\n"
        "             track_parameters = [ ];\n"
        "             replicas = ( { host = \"replica1\"; port = 5434; }, { host = \"replica2\"; } "
        ");\n"
        "             max_replica_lag = \"45s\"; fallback = false; };\n"
        "  },\n"
        "  { name = \"*\"; }\n"
        ");\n"
        "routes = ( { application_name = \"metabase*\"; lane = \"olap\"; },\n"
        "           { user = \"reporting\"; database = \"app\"; lane = \"olap\"; },\n"
        "           { user = \"web\"; lane = \"oltp\"; } );\n"
        "hba = ( { address = \"127.0.0.1/32\"; database = \"all\"; user = \"all\"; method = "
        "\"trust\"; },\n"
        "        { address = \"10.0.0.0/8\"; method = \"scram-sha-256\"; },\n"
        "        { address = \"::1/128\"; database = \"app\"; user = \"alice\"; method = \"md5\"; "
        "},\n"
        "        { address = \"all\"; method = \"reject\"; } );\n"
        "monitor = { interval = \"5s\"; user = \"monitor\"; password = \"m0n\"; };\n"
        "server_tls = { sslmode = \"verify-full\"; ca = \"root.crt\"; cert = \"client.crt\";\n"
        "  key = \"client.key\"; };\n";

static void write_full_fixtures(void)
{
	cfgt_write("users.txt",
	           "\"alice\" \"secret\"\n\"bob\" \"md50123456789abcdef0123456789abcdef\"\n");
	cfgt_write("server.crt", "not really a certificate\n");
	cfgt_write("server.key", "not really a key\n");
	cfgt_write("ca.crt", "not really a CA\n");
	cfgt_write("root.crt", "not really a CA\n");
	cfgt_write("app-root.crt", "not really a CA\n");
	cfgt_write("client.crt", "not really a certificate\n");
	cfgt_write("client.key", "not really a key\n");
}

static char *resolved(const char *name)
{
	static char bufs[4][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 4];
	snprintf(b, PATH_MAX, "%s/%s", cfgt_rdir, name);
	return b;
}

static void expect_full(const struct cfg *c, bool passwords_masked)
{
	const char *pw = passwords_masked ? "***" : "s3cret";
	cr_expect_str_eq(c->listen.host, "0.0.0.0");
	cr_expect_eq(c->listen.port, 7432);
	cr_expect_eq(c->listen.max_client_conn, 500);
	cr_expect_eq(c->listen.tls.mode, CFG_TLS_REQUIRE);
	cr_expect_str_eq(c->listen.tls.cert, resolved("server.crt"));
	cr_expect_str_eq(c->listen.tls.key, resolved("server.key"));
	cr_expect_str_eq(c->listen.tls.ca, resolved("ca.crt"));
	cr_expect_eq(c->auth.type, CFG_AUTH_SCRAM);
	cr_expect_str_eq(c->auth.file, resolved("users.txt"));
	cr_assert_eq(c->admin.nusers, 2);
	cr_expect_str_eq(c->admin.users[0], "admin");
	cr_expect_str_eq(c->admin.users[1], "root");
	cr_assert_eq(c->admin.nstats_users, 1);
	cr_expect_str_eq(c->admin.stats_users[0], "grafana");
	cr_expect_eq(c->admin.http_port, 9187);
	cr_expect_eq(c->log.format, CFG_LOG_JSON);
	cr_expect_eq(c->log.level, CFG_LOG_DEBUG);

	const struct cfg_pool *p = &c->pool;
	cr_expect_eq(p->mode, CFG_POOL_SESSION);
	cr_expect_eq(p->size, 30);
	cr_expect_eq(p->min_size, 2);
	cr_expect_eq(p->max_prepared_statements, 50);
	cr_expect_eq(p->statement_timeout_ms, 3000);
	cr_expect_eq(p->idle_in_transaction_timeout_ms, 10000);
	cr_expect_eq(p->client_idle_timeout_ms, 300000);
	cr_expect_eq(p->query_wait_timeout_ms, 30000);
	cr_expect_eq(p->slow_query_ms, 500);
	cr_expect_eq(p->server_lifetime_ms, 7200000);
	cr_expect_eq(p->server_idle_timeout_ms, 900000);
	cr_expect_eq(p->server_connect_timeout_ms, 2500);
	cr_expect_eq(p->client_login_timeout_ms, 20000);
	cr_expect_str_eq(p->server_reset_query, "RESET ALL; SELECT '\"\\'");
	cr_assert_eq(p->ntrack_parameters, 2);
	cr_expect_str_eq(p->track_parameters[0], "search_path");
	cr_expect_str_eq(p->track_parameters[1], "work_mem");

	cr_assert_eq(c->ndatabases, 2);
	const struct cfg_database *db = &c->databases[0];
	cr_expect_str_eq(db->name, "app");
	cr_expect_str_eq(db->host, "db1.internal");
	cr_expect_eq(db->port, 5433);
	cr_expect_str_eq(db->dbname, "app_prod");
	cr_expect_str_eq(db->user, "app_user");
	cr_expect_str_eq(db->password, pw);
	cr_expect_eq(db->default_lane, CFG_LANE_OLAP);
	cr_expect_eq(db->sslmode, CFG_SSL_VERIFY_CA);
	cr_expect_str_eq(db->sslrootcert, resolved("app-root.crt"));

	const struct cfg_lane *oltp = &db->lanes[CFG_LANE_OLTP];
	cr_expect(oltp->enabled);
	cr_expect_eq(oltp->pool.size, 15);
	cr_expect_eq(oltp->pool.statement_timeout_ms, 2000);
	cr_expect_eq(oltp->pool.slow_query_ms, 200);
	cr_expect_eq(oltp->pool.mode, CFG_POOL_SESSION, "inherited from pool");
	cr_expect_eq(oltp->pool.min_size, 2, "inherited from pool");
	cr_expect_eq(oltp->pool.ntrack_parameters, 2, "inherited from pool");
	cr_expect_eq(oltp->nreplicas, 0);

	const struct cfg_lane *olap = &db->lanes[CFG_LANE_OLAP];
	cr_expect(olap->enabled);
	cr_expect_eq(olap->pool.mode, CFG_POOL_TRANSACTION);
	cr_expect_eq(olap->pool.size, 4);
	cr_expect_eq(olap->pool.statement_timeout_ms, 1800000);
	cr_expect_eq(olap->pool.slow_query_ms, 10000);
	cr_expect_eq(olap->pool.ntrack_parameters, 0, "an empty list overrides");
	cr_expect_eq(olap->pool.server_lifetime_ms, 7200000, "inherited from pool");
	cr_assert_eq(olap->nreplicas, 2);
	cr_expect_str_eq(olap->replicas[0].host, "replica1");
	cr_expect_eq(olap->replicas[0].port, 5434);
	cr_expect_str_eq(olap->replicas[1].host, "replica2");
	cr_expect_eq(olap->replicas[1].port, 5432);
	cr_expect_eq(olap->max_replica_lag_ms, 45000);
	cr_expect_not(olap->fallback);

	const struct cfg_database *star = &c->databases[1];
	cr_expect_str_eq(star->name, "*");
	cr_expect_str_eq(star->host, "127.0.0.1");
	cr_expect_eq(star->port, 5432);
	cr_expect_eq(star->lanes[CFG_LANE_OLTP].pool.size, 30);
	cr_expect_not(star->lanes[CFG_LANE_OLAP].enabled);

	cr_assert_eq(c->nroutes, 3);
	cr_expect_null(c->routes[0].user);
	cr_expect_str_eq(c->routes[0].application_name, "metabase*");
	cr_expect_null(c->routes[0].database);
	cr_expect_eq(c->routes[0].lane, CFG_LANE_OLAP);
	cr_expect_str_eq(c->routes[1].user, "reporting");
	cr_expect_null(c->routes[1].application_name);
	cr_expect_str_eq(c->routes[1].database, "app");
	cr_expect_eq(c->routes[1].lane, CFG_LANE_OLAP);
	cr_expect_str_eq(c->routes[2].user, "web");
	cr_expect_eq(c->routes[2].lane, CFG_LANE_OLTP);

	cr_assert_eq(c->nhba, 4);
	cr_expect_str_eq(c->hba[0].address, "127.0.0.1/32");
	cr_expect_str_eq(c->hba[0].method, "trust");
	cr_expect_str_eq(c->hba[1].address, "10.0.0.0/8");
	cr_expect_str_eq(c->hba[1].database, "all", "default");
	cr_expect_str_eq(c->hba[1].user, "all", "default");
	cr_expect_str_eq(c->hba[1].method, "scram-sha-256");
	cr_expect_str_eq(c->hba[2].address, "::1/128");
	cr_expect_str_eq(c->hba[2].database, "app");
	cr_expect_str_eq(c->hba[2].user, "alice");
	cr_expect_str_eq(c->hba[2].method, "md5");
	cr_expect_str_eq(c->hba[3].address, "all");
	cr_expect_str_eq(c->hba[3].method, "reject");

	cr_expect_eq(c->monitor.interval_ms, 5000);
	cr_expect_str_eq(c->monitor.user, "monitor");
	cr_expect_str_eq(c->monitor.password, passwords_masked ? "***" : "m0n");

	cr_expect_eq(c->server_tls.sslmode, CFG_SSL_VERIFY_FULL);
	cr_expect_str_eq(c->server_tls.ca, resolved("root.crt"));
	cr_expect_str_eq(c->server_tls.cert, resolved("client.crt"));
	cr_expect_str_eq(c->server_tls.key, resolved("client.key"));
	cr_expect_eq(c->databases[1].sslmode, CFG_SSL_VERIFY_FULL, "\"*\" takes server_tls's");
	cr_expect_str_eq(c->databases[1].sslrootcert, resolved("root.crt"));
}

CTEST(full_file_every_key)
{
	write_full_fixtures();
	struct cfg *c = cfgt_load(full_conf);
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_eq(cfgt_errs.n, 0);
	expect_full(c, false);
	cr_expect_eq(c->databases[0].line, 18);
	cfg_free(c);
}

CTEST(relative_paths_resolve_against_the_config_directory)
{
	write_full_fixtures();
	cfgt_write("pglane.conf", full_conf);
	cr_assert_eq(chdir(cfgt_dir), 0);
	struct cfg *c = cfg_load("pglane.conf", &cfgt_errs);
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_str_eq(c->path, "pglane.conf");
	cr_expect_str_eq(c->auth.file, resolved("users.txt"));
	cr_expect_eq(c->auth.file[0], '/');
	cr_expect_str_eq(c->listen.tls.cert, resolved("server.crt"));
	cfg_free(c);

	/* an absolute auth.file is kept as written */
	char text[PATH_MAX + 64];
	snprintf(text, sizeof(text), "auth = { type = \"md5\"; file = \"%s\"; };\n",
	         cfgt_path("users.txt"));
	c = cfgt_load(text);
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_str_eq(c->auth.file, cfgt_path("users.txt"));
	cfg_free(c);
}

CTEST(include_is_relative_to_the_config_directory)
{
	cfgt_write("extra.conf", "log = { level = \"warning\"; };\n");
	cfgt_write("pglane.conf", "@include \"extra.conf\"\n");
	cr_assert_eq(chdir("/"), 0);
	struct cfg *c = cfg_load(cfgt_conf, &cfgt_errs);
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_eq(c->log.level, CFG_LOG_WARNING);
	cfg_free(c);
}

CTEST(lane_keys_override_pool_defaults)
{
	/* pool comes after databases in the file: lanes still start from it */
	struct cfg *c =
	        cfgt_load("databases = (\n"
	                  "  { name = \"a\"; oltp = { size = 10; track_parameters = [ \"x\" ]; };\n"
	                  "    olap = { statement_timeout = \"30min\"; mode = \"session\";\n"
	                  "             server_reset_query = \"\"; min_size = 1; }; },\n"
	                  "  { name = \"b\"; }\n"
	                  ");\n"
	                  "pool = { size = 50; min_size = 3; statement_timeout = \"5s\";\n"
	                  "         server_reset_query = \"RESET ALL\"; track_parameters = [ "
	                  "\"search_path\" ]; };\n");
	cr_assert_not_null(c, "%s", cfgt_errors());
	const struct cfg_database *a = cfg_database_find(c, "a");
	const struct cfg_database *b = cfg_database_find(c, "b");
	cr_assert_not_null(a);
	cr_assert_not_null(b);

	const struct cfg_pool *oltp = &a->lanes[CFG_LANE_OLTP].pool;
	cr_expect_eq(oltp->size, 10);
	cr_expect_eq(oltp->min_size, 3);
	cr_expect_eq(oltp->statement_timeout_ms, 5000);
	cr_expect_str_eq(oltp->server_reset_query, "RESET ALL");
	cr_assert_eq(oltp->ntrack_parameters, 1);
	cr_expect_str_eq(oltp->track_parameters[0], "x", "a lane's list replaces the default");

	const struct cfg_pool *olap = &a->lanes[CFG_LANE_OLAP].pool;
	cr_expect(a->lanes[CFG_LANE_OLAP].enabled);
	cr_expect_eq(olap->size, 50);
	cr_expect_eq(olap->min_size, 1);
	cr_expect_eq(olap->mode, CFG_POOL_SESSION);
	cr_expect_eq(olap->statement_timeout_ms, 1800000);
	cr_expect_str_eq(olap->server_reset_query, "");
	cr_assert_eq(olap->ntrack_parameters, 1);
	cr_expect_str_eq(olap->track_parameters[0], "search_path");
	cr_expect(a->lanes[CFG_LANE_OLAP].fallback, "fallback defaults to true");
	cr_expect_eq(a->lanes[CFG_LANE_OLAP].max_replica_lag_ms, 30000);

	const struct cfg_pool *boltp = &b->lanes[CFG_LANE_OLTP].pool;
	cr_expect_eq(boltp->size, 50);
	cr_expect_eq(boltp->mode, CFG_POOL_TRANSACTION);
	cr_expect_not(b->lanes[CFG_LANE_OLAP].enabled);

	cr_expect_eq(c->pool.size, 50, "lanes do not change the defaults");
	cr_expect_neq(oltp->track_parameters, c->pool.track_parameters, "lanes own their copies");
	cr_expect_neq(boltp->server_reset_query, c->pool.server_reset_query);
	cfg_free(c);
}

CTEST(integer_durations_are_milliseconds)
{
	struct cfg *c =
	        cfgt_load("pool = { statement_timeout = 250; slow_query = 0;\n"
	                  "  server_lifetime = 31536000000L; query_wait_timeout = \"0\"; };\n");
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_eq(c->pool.statement_timeout_ms, 250);
	cr_expect_eq(c->pool.slow_query_ms, 0);
	cr_expect_eq(c->pool.server_lifetime_ms, CFG_DURATION_MAX_MS);
	cr_expect_eq(c->pool.query_wait_timeout_ms, 0);
	cfg_free(c);
}

/* ---- durations ------------------------------------------------------------------------------ */

CTEST(duration_table)
{
	static const struct {
		const char *s;
		bool ok;
		int64_t ms;
	} t[] = {
	        {"0", true, 0},
	        {"0ms", true, 0},
	        {"0s", true, 0},
	        {"0h", true, 0},
	        {"1", true, 1},
	        {"250", true, 250},
	        {"250ms", true, 250},
	        {"2s", true, 2000},
	        {"5min", true, 300000},
	        {"30min", true, 1800000},
	        {"1h", true, 3600000},
	        {"007s", true, 7000},
	        {"8760h", true, CFG_DURATION_MAX_MS},
	        {"525600min", true, CFG_DURATION_MAX_MS},
	        {"31536000s", true, CFG_DURATION_MAX_MS},
	        {"31536000000ms", true, CFG_DURATION_MAX_MS},
	        {"31536000000", true, CFG_DURATION_MAX_MS},
	        {"8761h", false, 0},
	        {"525601min", false, 0},
	        {"31536001s", false, 0},
	        {"31536000001", false, 0},
	        {"31536000001ms", false, 0},
	        {"99999999999999999999999999h", false, 0},
	        {"9223372036854775807", false, 0},
	        {"", false, 0},
	        {"s", false, 0},
	        {"ms", false, 0},
	        {"-1s", false, 0},
	        {"+1s", false, 0},
	        {" 1s", false, 0},
	        {"1s ", false, 0},
	        {"1 s", false, 0},
	        {"1.5s", false, 0},
	        {"1m", false, 0},
	        {"1sec", false, 0},
	        {"1H", false, 0},
	        {"1S", false, 0},
	        {"1hh", false, 0},
	        {"1ms0", false, 0},
	        {"1d", false, 0},
	        {"0x10", false, 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int64_t ms = -42;
		bool ok = cfg_duration_parse(t[i].s, &ms);
		cr_expect_eq(ok, t[i].ok, "\"%s\": expected %s", t[i].s,
		             t[i].ok ? "ok" : "failure");
		if (t[i].ok)
			cr_expect_eq(ms, t[i].ms, "\"%s\" gave %lld", t[i].s, (long long)ms);
		else
			cr_expect_eq(ms, -42, "\"%s\": output untouched on failure", t[i].s);
	}
	int64_t ms = -42;
	cr_expect_not(cfg_duration_parse(NULL, &ms));
	cr_expect_eq(ms, -42);
}

/* ---- cfg_print ------------------------------------------------------------------------------ */

static void expect_pool_eq(const struct cfg_pool *a, const struct cfg_pool *b, const char *what)
{
	cr_expect_eq(a->mode, b->mode, "%s", what);
	cr_expect_eq(a->size, b->size, "%s", what);
	cr_expect_eq(a->min_size, b->min_size, "%s", what);
	cr_expect_eq(a->max_prepared_statements, b->max_prepared_statements, "%s", what);
	cr_expect_eq(a->statement_timeout_ms, b->statement_timeout_ms, "%s", what);
	cr_expect_eq(a->idle_in_transaction_timeout_ms, b->idle_in_transaction_timeout_ms, "%s",
	             what);
	cr_expect_eq(a->client_idle_timeout_ms, b->client_idle_timeout_ms, "%s", what);
	cr_expect_eq(a->query_wait_timeout_ms, b->query_wait_timeout_ms, "%s", what);
	cr_expect_eq(a->slow_query_ms, b->slow_query_ms, "%s", what);
	cr_expect_eq(a->server_lifetime_ms, b->server_lifetime_ms, "%s", what);
	cr_expect_eq(a->server_idle_timeout_ms, b->server_idle_timeout_ms, "%s", what);
	cr_expect_eq(a->server_connect_timeout_ms, b->server_connect_timeout_ms, "%s", what);
	cr_expect_eq(a->client_login_timeout_ms, b->client_login_timeout_ms, "%s", what);
	cr_expect_str_eq(a->server_reset_query, b->server_reset_query, "%s", what);
	cr_assert_eq(a->ntrack_parameters, b->ntrack_parameters, "%s", what);
	for (size_t i = 0; i < a->ntrack_parameters; i++)
		cr_expect_str_eq(a->track_parameters[i], b->track_parameters[i], "%s", what);
}

static void expect_strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	cr_assert_eq(na, nb);
	for (size_t i = 0; i < na; i++)
		cr_expect_str_eq(a[i], b[i]);
}

static void expect_opt_str_eq(const char *a, const char *b)
{
	if (!a || !b)
		cr_expect_eq(a, b);
	else
		cr_expect_str_eq(a, b);
}

/* `b` was loaded from cfg_print(a): equal except path, lines and masked passwords. */
static void expect_reloaded_eq(const struct cfg *a, const struct cfg *b)
{
	cr_expect_str_eq(a->listen.host, b->listen.host);
	cr_expect_eq(a->listen.port, b->listen.port);
	cr_expect_eq(a->listen.max_client_conn, b->listen.max_client_conn);
	cr_expect_eq(a->listen.tls.mode, b->listen.tls.mode);
	cr_expect_str_eq(a->listen.tls.cert, b->listen.tls.cert);
	cr_expect_str_eq(a->listen.tls.key, b->listen.tls.key);
	cr_expect_str_eq(a->listen.tls.ca, b->listen.tls.ca);
	cr_expect_eq(a->auth.type, b->auth.type);
	cr_expect_str_eq(a->auth.file, b->auth.file);
	expect_strv_eq(a->admin.users, a->admin.nusers, b->admin.users, b->admin.nusers);
	expect_strv_eq(a->admin.stats_users, a->admin.nstats_users, b->admin.stats_users,
	               b->admin.nstats_users);
	cr_expect_eq(a->admin.http_port, b->admin.http_port);
	cr_expect_eq(a->log.format, b->log.format);
	cr_expect_eq(a->log.level, b->log.level);
	expect_pool_eq(&a->pool, &b->pool, "pool");
	cr_assert_eq(a->ndatabases, b->ndatabases);
	for (size_t i = 0; i < a->ndatabases; i++) {
		const struct cfg_database *x = &a->databases[i], *y = &b->databases[i];
		cr_expect_str_eq(x->name, y->name);
		cr_expect_str_eq(x->host, y->host);
		cr_expect_eq(x->port, y->port);
		cr_expect_str_eq(x->dbname, y->dbname);
		cr_expect_str_eq(x->user, y->user);
		cr_expect_str_eq(*x->password ? "***" : "", y->password);
		cr_expect_eq(x->default_lane, y->default_lane);
		cr_expect_eq(x->sslmode, y->sslmode, "%s", x->name);
		cr_expect_str_eq(x->sslrootcert, y->sslrootcert, "%s", x->name);
		for (int k = 0; k < CFG_LANE_COUNT; k++) {
			const struct cfg_lane *l = &x->lanes[k], *m = &y->lanes[k];
			cr_expect_eq(l->enabled, m->enabled);
			if (!l->enabled)
				continue;
			expect_pool_eq(&l->pool, &m->pool, cfg_lane_name((enum cfg_lane_kind)k));
			cr_assert_eq(l->nreplicas, m->nreplicas);
			for (size_t r = 0; r < l->nreplicas; r++) {
				cr_expect_str_eq(l->replicas[r].host, m->replicas[r].host);
				cr_expect_eq(l->replicas[r].port, m->replicas[r].port);
			}
			cr_expect_eq(l->max_replica_lag_ms, m->max_replica_lag_ms);
			cr_expect_eq(l->fallback, m->fallback);
		}
	}
	cr_assert_eq(a->nroutes, b->nroutes);
	for (size_t i = 0; i < a->nroutes; i++) {
		expect_opt_str_eq(a->routes[i].user, b->routes[i].user);
		expect_opt_str_eq(a->routes[i].application_name, b->routes[i].application_name);
		expect_opt_str_eq(a->routes[i].database, b->routes[i].database);
		cr_expect_eq(a->routes[i].lane, b->routes[i].lane);
	}
	cr_assert_eq(a->nhba, b->nhba);
	for (size_t i = 0; i < a->nhba; i++) {
		cr_expect_str_eq(a->hba[i].address, b->hba[i].address);
		cr_expect_str_eq(a->hba[i].database, b->hba[i].database);
		cr_expect_str_eq(a->hba[i].user, b->hba[i].user);
		cr_expect_str_eq(a->hba[i].method, b->hba[i].method);
	}
	cr_expect_eq(a->monitor.interval_ms, b->monitor.interval_ms);
	cr_expect_str_eq(a->monitor.user, b->monitor.user);
	cr_expect_str_eq(*a->monitor.password ? "***" : "", b->monitor.password);
	cr_expect_eq(a->server_tls.sslmode, b->server_tls.sslmode);
	cr_expect_str_eq(a->server_tls.ca, b->server_tls.ca);
	cr_expect_str_eq(a->server_tls.cert, b->server_tls.cert);
	cr_expect_str_eq(a->server_tls.key, b->server_tls.key);
}

CTEST(print_full_reloads_equal)
{
	write_full_fixtures();
	struct cfg *a = cfgt_load(full_conf);
	cr_assert_not_null(a, "%s", cfgt_errors());
	char *out = cfgt_print(a);
	cr_expect_null(strstr(out, "s3cret"), "a password leaked:\n%s", out);
	cr_expect_null(strstr(out, "m0n\""), "a password leaked:\n%s", out);
	cr_expect_not_null(strstr(out, "password = \"***\";"));
	cr_expect_not_null(strstr(out, "statement_timeout = \"30min\";"), "%s", out);
	cr_expect_not_null(strstr(out, "slow_query = \"500ms\";"));
	cr_expect_not_null(strstr(out, "server_lifetime = \"2h\";"));
	cr_expect_not_null(strstr(out, "server_connect_timeout = \"2500ms\";"));
	cr_expect_not_null(strstr(out, "statement_timeout = \"3s\";"));
	cr_expect_not_null(strstr(out, "server_tls = {\n\tsslmode = \"verify-full\";\n"), "%s",
	                   out);
	cr_expect_not_null(strstr(out, "\t\tsslmode = \"verify-ca\";\n"), "%s", out);

	const char *copy = cfgt_write("printed.conf", out);
	struct cfg_errors errs2;
	struct cfg *b = cfg_load(copy, &errs2);
	cr_assert_not_null(b, "printed config does not load: %s\n%s", errs2.n ? errs2.msg[0] : "",
	                   out);
	expect_reloaded_eq(a, b);
	expect_full(b, true);

	/* printing is a fixed point */
	char *out2 = cfgt_print(b);
	const char *nl = strchr(out, '\n'), *nl2 = strchr(out2, '\n');
	cr_expect_str_eq(nl, nl2, "a second print differs (besides the header)");
	free(out);
	free(out2);
	cfg_free(a);
	cfg_free(b);
}

CTEST(print_defaults_reloads_equal)
{
	struct cfg *a = cfg_load(NULL, &cfgt_errs);
	cr_assert_not_null(a);
	char *out = cfgt_print(a);
	cr_expect_not_null(strstr(out, "query_wait_timeout = \"2min\";"));
	cr_expect_not_null(strstr(out, "statement_timeout = \"0\";"));
	cr_expect_not_null(strstr(out, "name = \"*\";"));
	cr_expect_null(strstr(out, "olap"), "a disabled olap lane is not printed");
	cfgt_write("printed.conf", out);
	struct cfg *b = cfg_load(cfgt_path("printed.conf"), &cfgt_errs);
	cr_assert_not_null(b, "%s\n%s", cfgt_errors(), out);
	expect_reloaded_eq(a, b);
	free(out);
	cfg_free(a);
	cfg_free(b);
}

CTEST(print_escapes_strings)
{
	struct cfg *a = cfgt_load("pool = { server_reset_query = \"a\\\"b\\\\c\\td\\ne\"; };\n"
	                          "monitor = { user = \"we\\\"ird\"; };\n");
	cr_assert_not_null(a, "%s", cfgt_errors());
	cr_expect_str_eq(a->pool.server_reset_query, "a\"b\\c\td\ne");
	char *out = cfgt_print(a);
	cfgt_write("printed.conf", out);
	struct cfg *b = cfg_load(cfgt_path("printed.conf"), &cfgt_errs);
	cr_assert_not_null(b, "%s\n%s", cfgt_errors(), out);
	cr_expect_str_eq(b->pool.server_reset_query, "a\"b\\c\td\ne");
	cr_expect_str_eq(b->monitor.user, "we\"ird");
	expect_reloaded_eq(a, b);
	free(out);
	cfg_free(a);
	cfg_free(b);
}

/* pin_session_state and ignore_startup_parameters: pool defaults, lane overrides. */
CTEST(session_state_keys)
{
	struct cfg *c = cfgt_load(
	        "pool = { pin_session_state = \"refuse\";\n"
	        "  ignore_startup_parameters = [ \"extra_float_digits\", \"Nosuch\" ]; };\n"
	        "databases = ( { name = \"app\"; olap = { pin_session_state = \"allow\"; }; } "
	        ");\n");
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_eq(c->pool.pin_session_state, CFG_PIN_REFUSE);
	const struct cfg_database *db = cfg_database_find(c, "app");
	cr_assert_not_null(db);
	cr_expect_eq(db->lanes[CFG_LANE_OLTP].pool.pin_session_state, CFG_PIN_REFUSE);
	cr_expect_eq(db->lanes[CFG_LANE_OLAP].pool.pin_session_state, CFG_PIN_ALLOW);
	cr_expect(cfg_ignores_startup_parameter(&db->lanes[CFG_LANE_OLTP].pool, "nosuch"));
	cr_expect(cfg_ignores_startup_parameter(&c->pool, "EXTRA_FLOAT_DIGITS"));
	cr_expect_not(cfg_ignores_startup_parameter(&c->pool, "search_path"));
	cr_expect_str_eq(cfg_pin_mode_name(CFG_PIN_ALLOW), "allow");
	cfg_free(c);
}

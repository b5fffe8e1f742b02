/* tests/unit/test_cfg_flat.c — config/cfg_flat: the flat key/value view of a config (defaults
 * key by key, a file with every key, duration units, masked passwords), cfg_diff (same configs,
 * a changed value, added and removed databases, lanes, routes, order of lines, secrets, control
 * characters) and cfg_needs_restart. Files go to a mkdtemp directory (config_fixture.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"
#include "tests/unit/config_fixture.h"

#define FTEST(name) Test(cfg_flat, name, .init = cfgt_setup, .fini = cfgt_teardown)

struct pair {
	const char *key;
	const char *value;
};

/* The value of `key` in `kv`, NULL when absent; fails the test when the key is repeated. */
static const char *kv_get(const struct cfg_kvs *kv, const char *key)
{
	const char *found = NULL;
	for (size_t i = 0; i < kv->n; i++) {
		if (strcmp(kv->v[i].key, key) != 0)
			continue;
		cr_assert_null(found, "key %s appears twice", key);
		found = kv->v[i].value;
	}
	return found;
}

static void expect_pairs(const struct cfg_kvs *kv, const struct pair *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = kv_get(kv, want[i].key);
		cr_expect_not_null(v, "missing key %s", want[i].key);
		if (v)
			cr_expect_str_eq(v, want[i].value, "%s", want[i].key);
	}
}

static struct cfg *load(const char *text)
{
	struct cfg *c = cfgt_load(text);
	cr_assert_not_null(c, "%s", cfgt_errors());
	return c;
}

/* ---- flatten ------------------------------------------------------------------------------ */

/* The pool keys in the order they are flattened, with their built-in values. */
static const struct pair default_pool[] = {
        {"mode", "transaction"},
        {"size", "20"},
        {"min_size", "0"},
        {"max_prepared_statements", "200"},
        {"statement_timeout", "0"},
        {"idle_in_transaction_timeout", "0"},
        {"client_idle_timeout", "0"},
        {"query_wait_timeout", "2min"},
        {"slow_query", "1s"},
        {"server_lifetime", "1h"},
        {"server_idle_timeout", "10min"},
        {"server_connect_timeout", "5s"},
        {"client_login_timeout", "1min"},
        {"server_reset_query", "DISCARD ALL"},
        {"track_parameters", ""},
        {"pin_session_state", "pin"},
        {"ignore_startup_parameters", ""},
        {"reserve_pool_size", "0"},
        {"reserve_pool_timeout", "5s"},
        {"server_check_query", ""},
        {"server_check_delay", "30s"},
        {"server_round_robin", "false"},
        {"server_reset_query_always", "false"},
        {"transaction_timeout", "0"},
        {"cancel_wait_timeout", "10s"},
        {"server_login_retry", "500ms"},
        {"query_wait_notify", "5s"},
};
/* the caps only `pool` holds all of (a database holds max_db_*, a user max_user_*) */
static const struct pair pool_caps[] = {
        {"pool.max_db_connections", "0"},
        {"pool.max_db_client_connections", "0"},
        {"pool.max_user_connections", "0"},
        {"pool.max_user_client_connections", "0"},
};
#define NCAPS (sizeof(pool_caps) / sizeof(pool_caps[0]))
#define NPOOL (sizeof(default_pool) / sizeof(default_pool[0]))

FTEST(defaults_flatten_key_by_key_in_order)
{
	static const struct pair head[] = {
	        {"listen.host", "127.0.0.1"},
	        {"listen.port", "6432"},
	        {"listen.max_client_conn", "10000"},
	        {"listen.unix_socket_dir", "/tmp"},
	        {"listen.unix_socket_mode", "0777"},
	        {"listen.unix_socket_group", ""},
	        {"listen.tls.mode", "disable"},
	        {"listen.tls.cert", ""},
	        {"listen.tls.key", ""},
	        {"listen.tls.ca", ""},
	        {"listen.tls.protocols", "secure"},
	        {"listen.tls.ciphers", "default"},
	        {"auth.type", "trust"},
	        {"auth.file", ""},
	        {"auth.auth_user", ""},
	        {"auth.auth_query", "SELECT usename, passwd FROM pg_shadow WHERE usename=$1"},
	        {"auth.auth_dbname", ""},
	        {"admin.users", "admin"},
	        {"admin.stats_users", ""},
	        {"admin.http_port", "0"},
	        {"admin.suspend_timeout", "10s"},
	        {"admin.shutdown_timeout", "0"},
	        {"log.format", "text"},
	        {"log.level", "info"},
	        {"log.file", ""},
	        {"log.syslog", "false"},
	        {"log.syslog_ident", "pglane"},
	        {"log.syslog_facility", "daemon"},
	        {"log.connections", "true"},
	        {"log.disconnections", "true"},
	        {"log.pooler_errors", "true"},
	        {"log.stats", "true"},
	        {"log.stats_period", "1min"},
	};
	static const struct pair db[] = {
	        {"databases.*.host", "127.0.0.1"},
	        {"databases.*.port", "5432"},
	        {"databases.*.dbname", ""},
	        {"databases.*.user", ""},
	        {"databases.*.password", ""},
	        {"databases.*.default_lane", "oltp"},
	        {"databases.*.sslmode", "prefer"},
	        {"databases.*.sslrootcert", ""},
	        {"databases.*.connect_query", ""},
	        {"databases.*.auth_user", ""},
	        {"databases.*.auth_query",
	         "SELECT usename, passwd FROM pg_shadow WHERE usename=$1"},
	        {"databases.*.auth_dbname", ""},
	        {"databases.*.max_db_connections", "0"},
	        {"databases.*.max_db_client_connections", "0"},
	};
	static const struct pair tail[] = {
	        {"monitor.interval", "2s"},
	        {"monitor.user", ""},
	        {"monitor.password", ""},
	        {"server_tls.sslmode", "prefer"},
	        {"server_tls.ca", ""},
	        {"server_tls.cert", ""},
	        {"server_tls.key", ""},
	        {"server_tls.protocols", "secure"},
	        {"server_tls.ciphers", "default"},
	        {"workers", "0"},
	        {"worker_cpu_affinity", "auto"},
	        {"peer_id", "0"},
	};
	size_t nhead = sizeof(head) / sizeof(head[0]), ndb = sizeof(db) / sizeof(db[0]);
	size_t ntail = sizeof(tail) / sizeof(tail[0]);

	struct cfg *c = cfg_load(NULL, &cfgt_errs);
	cr_assert_not_null(c, "%s", cfgt_errors());
	struct cfg_kvs kv = {0};
	cr_assert(cfg_flatten(c, &kv));
	cr_assert_eq(kv.n, nhead + NPOOL + NCAPS + ndb + NPOOL + ntail, "got %zu keys", kv.n);

	char key[128];
	size_t i = 0;
	for (size_t j = 0; j < nhead; j++, i++) {
		cr_expect_str_eq(kv.v[i].key, head[j].key, "#%zu", i);
		cr_expect_str_eq(kv.v[i].value, head[j].value, "%s", head[j].key);
	}
	for (size_t j = 0; j < NPOOL; j++, i++) {
		snprintf(key, sizeof(key), "pool.%s", default_pool[j].key);
		cr_expect_str_eq(kv.v[i].key, key, "#%zu", i);
		cr_expect_str_eq(kv.v[i].value, default_pool[j].value, "%s", key);
	}
	for (size_t j = 0; j < NCAPS; j++, i++) {
		cr_expect_str_eq(kv.v[i].key, pool_caps[j].key, "#%zu", i);
		cr_expect_str_eq(kv.v[i].value, pool_caps[j].value, "%s", pool_caps[j].key);
	}
	for (size_t j = 0; j < ndb; j++, i++) {
		cr_expect_str_eq(kv.v[i].key, db[j].key, "#%zu", i);
		cr_expect_str_eq(kv.v[i].value, db[j].value, "%s", db[j].key);
	}
	for (size_t j = 0; j < NPOOL; j++, i++) {
		snprintf(key, sizeof(key), "databases.*.oltp.%s", default_pool[j].key);
		cr_expect_str_eq(kv.v[i].key, key, "#%zu", i);
		cr_expect_str_eq(kv.v[i].value, default_pool[j].value, "%s", key);
	}
	for (size_t j = 0; j < ntail; j++, i++) {
		cr_expect_str_eq(kv.v[i].key, tail[j].key, "#%zu", i);
		cr_expect_str_eq(kv.v[i].value, tail[j].value, "%s", tail[j].key);
	}
	cr_expect_null(kv_get(&kv, "databases.*.olap.size"), "olap is off by default");
	cfg_kvs_free(&kv);
	cr_expect_null(kv.v);
	cr_expect_eq(kv.n, 0);
	cfg_kvs_free(&kv); /* twice is harmless */
	cfg_free(c);
}

static const char *const full_conf =
        "listen = { host = \"0.0.0.0\"; port = 7432; max_client_conn = 500;\n"
        "  tls = { mode = \"require\"; cert = \"server.crt\"; key = \"server.key\"; ca = "
        "\"ca.crt\"; }; };\n"
        "auth = { type = \"scram-sha-256\"; file = \"users.txt\"; };\n"
        "admin = { users = [ \"admin\", \"root\" ]; stats_users = [ \"grafana\" ]; http_port = "
        "9187; };\n"
        "log = { format = \"json\"; level = \"debug\"; };\n"
        "pool = { mode = \"session\"; size = 30; min_size = 2; max_prepared_statements = 50;\n"
        "  statement_timeout = \"3s\"; idle_in_transaction_timeout = \"10s\";\n"
        "  client_idle_timeout = \"5min\"; query_wait_timeout = \"30s\"; slow_query = \"500ms\";\n"
        "  server_lifetime = \"2h\"; server_idle_timeout = \"15min\"; server_connect_timeout = "
        "2500;\n"
        "  client_login_timeout = \"20s\"; server_reset_query = \"RESET ALL\";\n"
        "  track_parameters = [ \"search_path\", \"work_mem\" ]; };\n"
        "databases = (\n"
        "  { name = \"app\"; host = \"db1.internal\"; port = 5433; dbname = \"app_prod\";\n"
        "    user = \"app_user\"; password = \"s3cret\"; default_lane = \"olap\";\n"
        "    sslmode = \"require\"; sslrootcert = \"app-root.crt\";\n"
        "    oltp = { size = 15; statement_timeout = \"2s\"; slow_query = \"200ms\"; };\n"
        "    olap = { mode = \"transaction\"; size = 4; statement_timeout = \"30min\";\n"
        "             track_parameters = [ ];\n"
        "             replicas = ( { host = \"replica1\"; port = 5434; }, { host = \"replica2\"; "
        "},\n"
        "                          { host = \"::1\"; port = 5435; } );\n"
        "             max_replica_lag = \"45s\"; fallback = false; }; },\n"
        "  { name = \"*\"; }\n"
        ");\n"
        "routes = ( { application_name = \"metabase*\"; lane = \"olap\"; },\n"
        "           { user = \"reporting\"; database = \"app\"; lane = \"olap\"; },\n"
        "           { user = \"web\"; application_name = \"api\"; database = \"app\"; lane = "
        "\"oltp\"; } );\n"
        "hba = ( { address = \"127.0.0.1/32\"; database = \"all\"; user = \"all\"; method = "
        "\"trust\"; },\n"
        "        { address = \"::1/128\"; database = \"app\"; user = \"alice\"; method = \"md5\"; "
        "} );\n"
        "monitor = { interval = \"5s\"; user = \"monitor\"; password = \"m0n\"; };\n"
        "server_tls = { sslmode = \"verify-full\"; ca = \"root.crt\"; cert = \"client.crt\";\n"
        "  key = \"client.key\"; };\n"
        "peer_id = 1;\n"
        "peers = ( { id = 2; host = \"10.0.0.2\"; port = 6433; }, { id = 3; host = \"/tmp\"; } "
        ");\n";

static void write_full_fixtures(void)
{
	cfgt_write("users.txt", "\"alice\" \"secret\"\n");
	cfgt_write("server.crt", "not really a certificate\n");
	cfgt_write("server.key", "not really a key\n");
	cfgt_write("ca.crt", "not really a CA\n");
	cfgt_write("root.crt", "not really a CA\n");
	cfgt_write("app-root.crt", "not really a CA\n");
	cfgt_write("client.crt", "not really a certificate\n");
	cfgt_write("client.key", "not really a key\n");
}

FTEST(full_file_flattens_every_key)
{
	write_full_fixtures();
	struct cfg *c = load(full_conf);
	struct cfg_kvs kv = {0};
	cr_assert(cfg_flatten(c, &kv));
	/* 33 + pool (27 + 4 caps) + app (14 + oltp 27 + olap 30) + * (14 + 27) + 3 routes + 2 hba
	 * + 3 monitor + 6 server_tls + workers + worker_cpu_affinity + peer_id + 2 peers */
	cr_expect_eq(kv.n, 33 + 31 + 71 + 41 + 3 + 2 + 3 + 6 + 2 + 3, "got %zu keys", kv.n);

	char crt[400], users[400], root[400], app_root[400], client_crt[400], client_key[400];
	snprintf(crt, sizeof(crt), "%s/server.crt", cfgt_rdir);
	snprintf(users, sizeof(users), "%s/users.txt", cfgt_rdir);
	snprintf(root, sizeof(root), "%s/root.crt", cfgt_rdir);
	snprintf(app_root, sizeof(app_root), "%s/app-root.crt", cfgt_rdir);
	snprintf(client_crt, sizeof(client_crt), "%s/client.crt", cfgt_rdir);
	snprintf(client_key, sizeof(client_key), "%s/client.key", cfgt_rdir);
	const struct pair want[] = {
	        {"listen.host", "0.0.0.0"},
	        {"listen.port", "7432"},
	        {"listen.max_client_conn", "500"},
	        {"listen.tls.mode", "require"},
	        {"listen.tls.cert", crt},
	        {"auth.type", "scram-sha-256"},
	        {"auth.file", users},
	        {"admin.users", "admin,root"},
	        {"admin.stats_users", "grafana"},
	        {"admin.http_port", "9187"},
	        {"log.format", "json"},
	        {"log.level", "debug"},
	        {"pool.mode", "session"},
	        {"pool.size", "30"},
	        {"pool.idle_in_transaction_timeout", "10s"},
	        {"pool.client_idle_timeout", "5min"},
	        {"pool.slow_query", "500ms"},
	        {"pool.server_lifetime", "2h"},
	        {"pool.server_connect_timeout", "2500ms"},
	        {"pool.server_reset_query", "RESET ALL"},
	        {"pool.track_parameters", "search_path,work_mem"},
	        {"databases.app.host", "db1.internal"},
	        {"databases.app.port", "5433"},
	        {"databases.app.dbname", "app_prod"},
	        {"databases.app.user", "app_user"},
	        {"databases.app.password", "***"},
	        {"databases.app.default_lane", "olap"},
	        {"databases.app.sslmode", "require"},
	        {"databases.app.sslrootcert", app_root},
	        {"databases.app.oltp.mode", "session"},
	        {"databases.app.oltp.size", "15"},
	        {"databases.app.oltp.statement_timeout", "2s"},
	        {"databases.app.oltp.track_parameters", "search_path,work_mem"},
	        {"databases.app.olap.mode", "transaction"},
	        {"databases.app.olap.size", "4"},
	        {"databases.app.olap.statement_timeout", "30min"},
	        {"databases.app.olap.track_parameters", ""},
	        {"databases.app.olap.replicas", "replica1:5434,replica2:5432,[::1]:5435"},
	        {"databases.app.olap.max_replica_lag", "45s"},
	        {"databases.app.olap.fallback", "false"},
	        {"databases.*.host", "127.0.0.1"},
	        {"databases.*.password", ""},
	        {"databases.*.sslmode", "verify-full"},
	        {"databases.*.sslrootcert", root},
	        {"databases.*.oltp.size", "30"},
	        {"routes[0]", "application_name=metabase* lane=olap"},
	        {"routes[1]", "user=reporting database=app lane=olap"},
	        {"routes[2]", "user=web application_name=api database=app lane=oltp"},
	        {"hba[0]", "address=127.0.0.1/32 database=all user=all method=trust"},
	        {"hba[1]", "address=::1/128 database=app user=alice method=md5"},
	        {"monitor.interval", "5s"},
	        {"monitor.user", "monitor"},
	        {"monitor.password", "***"},
	        {"server_tls.sslmode", "verify-full"},
	        {"server_tls.ca", root},
	        {"server_tls.cert", client_crt},
	        {"server_tls.key", client_key},
	};
	expect_pairs(&kv, want, sizeof(want) / sizeof(want[0]));
	cr_expect_null(kv_get(&kv, "databases.*.olap.size"));
	cr_expect_null(kv_get(&kv, "routes[3]"));
	for (size_t i = 0; i < kv.n; i++) {
		cr_expect_null(strstr(kv.v[i].value, "s3cret"), "%s", kv.v[i].key);
		cr_expect_null(strstr(kv.v[i].value, "m0n"), "%s", kv.v[i].key);
		cr_expect_neq(kv.v[i].value[0], '"', "no quoting: %s", kv.v[i].key);
	}
	/* the order: sections as cfg_print writes them, lanes inside their database */
	cr_expect_str_eq(kv.v[0].key, "listen.host");
	cr_expect_str_eq(kv.v[33].key, "pool.mode");
	cr_expect_str_eq(kv.v[64].key, "databases.app.host");
	cr_expect_str_eq(kv.v[70].key, "databases.app.sslmode");
	cr_expect_str_eq(kv.v[71].key, "databases.app.sslrootcert");
	cr_expect_str_eq(kv.v[78].key, "databases.app.oltp.mode");
	cr_expect_str_eq(kv.v[105].key, "databases.app.olap.mode");
	cr_expect_str_eq(kv.v[135].key, "databases.*.host");
	cr_expect_str_eq(kv.v[kv.n - 19].key, "routes[0]");
	cr_expect_str_eq(kv.v[kv.n - 12].key, "monitor.password");
	cr_expect_str_eq(kv.v[kv.n - 11].key, "server_tls.sslmode");
	cr_expect_str_eq(kv.v[kv.n - 8].key, "server_tls.key");
	cr_expect_str_eq(kv.v[kv.n - 6].key, "server_tls.ciphers");
	cr_expect_str_eq(kv.v[kv.n - 5].key, "workers");
	cr_expect_str_eq(kv.v[kv.n - 4].key, "worker_cpu_affinity");
	cr_expect_str_eq(kv.v[kv.n - 3].key, "peer_id");
	cr_expect_str_eq(kv.v[kv.n - 3].value, "1");
	cr_expect_str_eq(kv.v[kv.n - 2].key, "peers[0]");
	cr_expect_str_eq(kv.v[kv.n - 2].value, "id=2 host=10.0.0.2 port=6433");
	cr_expect_str_eq(kv.v[kv.n - 1].key, "peers[1]");
	cr_expect_str_eq(kv.v[kv.n - 1].value, "id=3 host=/tmp port=6432");
	cfg_kvs_free(&kv);
	cfg_free(c);
}

FTEST(durations_use_the_largest_exact_unit)
{
	struct cfg *c =
	        load("pool = { statement_timeout = 250; idle_in_transaction_timeout = 1500;\n"
	             "  client_idle_timeout = \"90s\"; query_wait_timeout = 60000;\n"
	             "  slow_query = \"120min\"; server_lifetime = 86400000;\n"
	             "  server_idle_timeout = 61000; };\n");
	struct cfg_kvs kv = {0};
	cr_assert(cfg_flatten(c, &kv));
	const struct pair want[] = {
	        {"pool.statement_timeout", "250ms"},
	        {"pool.idle_in_transaction_timeout", "1500ms"},
	        {"pool.client_idle_timeout", "90s"},
	        {"pool.query_wait_timeout", "1min"},
	        {"pool.slow_query", "2h"},
	        {"pool.server_lifetime", "24h"},
	        {"pool.server_idle_timeout", "61s"},
	        {"databases.*.oltp.slow_query", "2h"},
	        {"pool.server_connect_timeout", "5s"},
	};
	expect_pairs(&kv, want, sizeof(want) / sizeof(want[0]));
	cfg_kvs_free(&kv);
	cfg_free(c);
}

/* ---- diff --------------------------------------------------------------------------------- */

static const char *const two_dbs = "databases = ( { name = \"app\"; }, { name = \"rep\"; } );\n";

FTEST(diff_of_identical_configs_is_empty)
{
	write_full_fixtures();
	struct cfg *a = load(full_conf);
	struct cfg *b = load(full_conf);
	char **lines = (char **)&lines; /* must be reset */
	cr_expect_eq(cfg_diff(a, b, &lines), 0);
	cr_expect_null(lines);
	cr_expect_eq(cfg_diff(a, a, &lines), 0);
	cr_expect_null(lines);
	cfg_free(a);
	cfg_free(b);
}

FTEST(diff_of_a_changed_lane_size_is_one_line)
{
	struct cfg *a = load("databases = ( { name = \"app\"; } );\n");
	struct cfg *b = load("databases = ( { name = \"app\"; oltp = { size = 30; }; } );\n");
	char **lines = NULL;
	size_t n = cfg_diff(a, b, &lines);
	cr_assert_eq(n, 1, "got %zu lines", n);
	cr_expect_str_eq(lines[0], "databases.app.oltp.size: 20 -> 30");
	cfg_lines_free(lines, n);

	n = cfg_diff(b, a, &lines);
	cr_assert_eq(n, 1);
	cr_expect_str_eq(lines[0], "databases.app.oltp.size: 30 -> 20");
	cfg_lines_free(lines, n);
	cfg_free(a);
	cfg_free(b);
}

static void expect_all_database_lines(char **lines, size_t n, const char *db, bool added)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "databases.%s.", db);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(strncmp(lines[i], prefix, strlen(prefix)), 0, "%s", lines[i]);
		if (added)
			cr_expect_not_null(strstr(lines[i], ": (none) -> "), "%s", lines[i]);
		else
			cr_expect_str_eq(lines[i] + strlen(lines[i]) - 10, " -> (none)", "%s",
			                 lines[i]);
	}
}

FTEST(diff_of_an_added_and_a_removed_database)
{
	struct cfg *a = load("databases = ( { name = \"app\"; } );\n");
	struct cfg *b = load(two_dbs);
	char **lines = NULL;
	size_t n = cfg_diff(a, b, &lines);
	cr_assert_eq(n, 14 + 27, "got %zu lines", n);
	expect_all_database_lines(lines, n, "rep", true);
	cr_expect_str_eq(lines[0], "databases.rep.host: (none) -> 127.0.0.1");
	cr_expect_str_eq(lines[2], "databases.rep.dbname: (none) -> \"\"");
	cr_expect_str_eq(lines[6], "databases.rep.sslmode: (none) -> prefer");
	cr_expect_str_eq(lines[7], "databases.rep.sslrootcert: (none) -> \"\"");
	cr_expect_str_eq(lines[8], "databases.rep.connect_query: (none) -> \"\"");
	cr_expect_str_eq(lines[15], "databases.rep.oltp.size: (none) -> 20");
	cfg_lines_free(lines, n);

	n = cfg_diff(b, a, &lines);
	cr_assert_eq(n, 14 + 27, "got %zu lines", n);
	expect_all_database_lines(lines, n, "rep", false);
	cr_expect_str_eq(lines[0], "databases.rep.host: 127.0.0.1 -> (none)");
	cr_expect_str_eq(lines[n - 1], "databases.rep.oltp.query_wait_notify: 5s -> (none)");
	cfg_lines_free(lines, n);
	cfg_free(a);
	cfg_free(b);
}

FTEST(diff_lines_follow_the_new_order_then_the_removed)
{
	struct cfg *a = load("databases = ( { name = \"old\"; }, { name = \"app\"; } );\n");
	struct cfg *b =
	        load("listen = { port = 7000; };\n"
	             "databases = ( { name = \"app\"; port = 5433; }, { name = \"new\"; } );\n"
	             "monitor = { interval = \"3s\"; };\n");
	char **lines = NULL;
	size_t n = cfg_diff(a, b, &lines);
	cr_assert_eq(n, 1 + 1 + 41 + 1 + 41, "got %zu lines", n);
	cr_expect_str_eq(lines[0], "listen.port: 6432 -> 7000");
	cr_expect_str_eq(lines[1], "databases.app.port: 5432 -> 5433");
	expect_all_database_lines(lines + 2, 41, "new", true);
	cr_expect_str_eq(lines[43], "monitor.interval: 2s -> 3s");
	expect_all_database_lines(lines + 44, 41, "old", false);
	cr_expect_str_eq(lines[44], "databases.old.host: 127.0.0.1 -> (none)");
	cfg_lines_free(lines, n);
	cfg_free(a);
	cfg_free(b);
}

FTEST(diff_of_lanes_and_routes)
{
	struct cfg *a =
	        load("databases = ( { name = \"app\"; } );\n"
	             "routes = ( { application_name = \"metabase*\"; lane = \"olap\"; } );\n");
	struct cfg *b = load("databases = ( { name = \"app\";\n"
	                     "  olap = { replicas = ( { host = \"r1\"; port = 5433; } ); }; } );\n"
	                     "routes = ( { application_name = \"metabase*\"; lane = \"oltp\"; },\n"
	                     "           { user = \"reporting\"; lane = \"olap\"; } );\n");
	char **lines = NULL;
	size_t n = cfg_diff(a, b, &lines);
	cr_assert_eq(n, 30 + 2, "got %zu lines", n);
	expect_all_database_lines(lines, 30, "app", true);
	cr_expect_str_eq(lines[0], "databases.app.olap.mode: (none) -> transaction");
	cr_expect_str_eq(lines[27], "databases.app.olap.replicas: (none) -> r1:5433");
	cr_expect_str_eq(lines[29], "databases.app.olap.fallback: (none) -> true");
	cr_expect_str_eq(lines[30], "routes[0]: application_name=metabase* lane=olap -> "
	                            "application_name=metabase* lane=oltp");
	cr_expect_str_eq(lines[31], "routes[1]: (none) -> user=reporting lane=olap");
	cfg_lines_free(lines, n);
	cfg_free(a);
	cfg_free(b);
}

FTEST(diff_masks_passwords_but_sees_them_change)
{
	struct cfg *a = load("databases = ( { name = \"app\"; } );\n");
	struct cfg *b = load("databases = ( { name = \"app\"; password = \"one\"; } );\n"
	                     "monitor = { password = \"mon1\"; };\n");
	struct cfg *c = load("databases = ( { name = \"app\"; password = \"two\"; } );\n"
	                     "monitor = { password = \"mon2\"; };\n");
	char **lines = NULL;
	size_t n = cfg_diff(a, b, &lines);
	cr_assert_eq(n, 2, "got %zu lines", n);
	cr_expect_str_eq(lines[0], "databases.app.password: \"\" -> ***");
	cr_expect_str_eq(lines[1], "monitor.password: \"\" -> ***");
	cfg_lines_free(lines, n);

	n = cfg_diff(b, c, &lines);
	cr_assert_eq(n, 2, "a changed password is a change");
	cr_expect_str_eq(lines[0], "databases.app.password: *** -> ***");
	cr_expect_str_eq(lines[1], "monitor.password: *** -> ***");
	for (size_t i = 0; i < n; i++) {
		cr_expect_null(strstr(lines[i], "one"));
		cr_expect_null(strstr(lines[i], "two"));
		cr_expect_null(strstr(lines[i], "mon1"));
		cr_expect_null(strstr(lines[i], "mon2"));
	}
	cfg_lines_free(lines, n);

	/* flattening never shows the password either way */
	struct cfg_kvs kv = {0};
	cr_assert(cfg_flatten(c, &kv));
	cr_expect_str_eq(kv_get(&kv, "databases.app.password"), "***");
	cr_expect_str_eq(kv_get(&kv, "monitor.password"), "***");
	cfg_kvs_free(&kv);
	cfg_free(a);
	cfg_free(b);
	cfg_free(c);
}

FTEST(diff_lines_stay_one_line)
{
	struct cfg *a = load("");
	struct cfg *b = load("pool = { server_reset_query = \"RESET ALL;\\nDISCARD\\tALL\"; };\n");
	char **lines = NULL;
	size_t n = cfg_diff(a, b, &lines);
	cr_assert_eq(n, 2, "pool and the built-in database's lane: %zu", n);
	cr_expect_str_eq(lines[0],
	                 "pool.server_reset_query: DISCARD ALL -> RESET ALL;\\nDISCARD\\tALL");
	cr_expect_str_eq(lines[1], "databases.*.oltp.server_reset_query: DISCARD ALL -> RESET "
	                           "ALL;\\nDISCARD\\tALL");
	cfg_lines_free(lines, n);
	cfg_free(a);
	cfg_free(b);
}

FTEST(server_tls_keys_flatten_and_diff)
{
	cfgt_write("root.crt", "x");
	cfgt_write("other.crt", "x");
	struct cfg *a = load("databases = ( { name = \"app\"; }, { name = \"rep\"; sslmode = "
	                     "\"disable\"; } );\n");
	struct cfg *b =
	        load("server_tls = { sslmode = \"verify-full\"; ca = \"root.crt\"; };\n"
	             "databases = ( { name = \"app\"; },\n"
	             "  { name = \"rep\"; sslmode = \"disable\"; sslrootcert = \"other.crt\"; "
	             "} );\n");
	char root[400], other[400];
	snprintf(root, sizeof(root), "%s/root.crt", cfgt_rdir);
	snprintf(other, sizeof(other), "%s/other.crt", cfgt_rdir);

	struct cfg_kvs kv = {0};
	cr_assert(cfg_flatten(b, &kv));
	const struct pair want[] = {
	        {"server_tls.sslmode", "verify-full"},
	        {"server_tls.ca", root},
	        {"server_tls.cert", ""},
	        {"server_tls.key", ""},
	        {"databases.app.sslmode", "verify-full"},
	        {"databases.app.sslrootcert", root},
	        {"databases.rep.sslmode", "disable"},
	        {"databases.rep.sslrootcert", other},
	};
	expect_pairs(&kv, want, sizeof(want) / sizeof(want[0]));
	cfg_kvs_free(&kv);

	char **lines = NULL;
	size_t n = cfg_diff(a, b, &lines);
	cr_assert_eq(n, 5, "got %zu lines", n);
	char l[600];
	cr_expect_str_eq(lines[0], "databases.app.sslmode: prefer -> verify-full");
	snprintf(l, sizeof(l), "databases.app.sslrootcert: \"\" -> %s", root);
	cr_expect_str_eq(lines[1], l);
	snprintf(l, sizeof(l), "databases.rep.sslrootcert: \"\" -> %s", other);
	cr_expect_str_eq(lines[2], l);
	cr_expect_str_eq(lines[3], "server_tls.sslmode: prefer -> verify-full");
	snprintf(l, sizeof(l), "server_tls.ca: \"\" -> %s", root);
	cr_expect_str_eq(lines[4], l);
	cfg_lines_free(lines, n);
	cfg_free(a);
	cfg_free(b);
}

/* ---- restart ------------------------------------------------------------------------------ */

FTEST(needs_restart_for_listen_port_not_for_pool_size)
{
	struct cfg *a = load("databases = ( { name = \"app\"; } );\n");
	struct cfg *b = load("listen = { port = 7000; };\ndatabases = ( { name = \"app\"; } );\n");
	struct cfg *c = load("pool = { size = 50; };\n"
	                     "databases = ( { name = \"app\"; oltp = { size = 30; }; }, "
	                     "{ name = \"rep\"; } );\n");
	char what[256];
	strcpy(what, "junk");
	cr_expect(cfg_needs_restart(a, b, what, sizeof(what)));
	cr_expect_str_eq(what, "listen.port");
	strcpy(what, "junk");
	cr_expect_not(cfg_needs_restart(a, c, what, sizeof(what)));
	cr_expect_str_eq(what, "");
	cr_expect_not(cfg_needs_restart(a, a, what, sizeof(what)));
	cr_expect(cfg_needs_restart(b, a, NULL, 0), "no buffer is fine");
	cfg_free(a);
	cfg_free(b);
	cfg_free(c);
}

FTEST(needs_restart_names_every_such_key)
{
	write_full_fixtures();
	struct cfg *a = load("");
	struct cfg *b = load(full_conf);
	char what[256];
	cr_expect(cfg_needs_restart(a, b, what, sizeof(what)));
	cr_expect_str_eq(what, "listen.host,listen.port,listen.tls.mode,listen.tls.cert,"
	                       "listen.tls.key,listen.tls.ca,admin.http_port,pool.track_parameters,"
	                       "peer_id");
	char small[8];
	cr_expect(cfg_needs_restart(a, b, small, sizeof(small)), "true even when truncated");
	cr_expect_str_eq(small, "listen.");
	cfg_free(b);

	b = load("pool = { track_parameters = [ \"search_path\" ]; };\n");
	cr_expect(cfg_needs_restart(a, b, what, sizeof(what)));
	cr_expect_str_eq(what, "pool.track_parameters");
	cfg_free(b);

	b = load("admin = { http_port = 9187; };\n");
	cr_expect(cfg_needs_restart(a, b, what, sizeof(what)));
	cr_expect_str_eq(what, "admin.http_port");
	cfg_free(b);

	/* peer_id is restart-only, the peers list is not */
	b = load("peer_id = 3;\n");
	cr_expect(cfg_needs_restart(a, b, what, sizeof(what)));
	cr_expect_str_eq(what, "peer_id");
	cfg_free(b);
	b = load("peers = ( { id = 2; host = \"127.0.0.1\"; port = 6433; } );\n");
	cr_expect_not(cfg_needs_restart(a, b, what, sizeof(what)));
	cfg_free(b);

	b = load("listen = { max_client_conn = 5; };\nlog = { level = \"debug\"; };\n"
	         "routes = ( { user = \"x\"; lane = \"olap\"; } );\n"
	         "databases = ( { name = \"app\"; olap = { size = 2; }; } );\n");
	cr_expect_not(cfg_needs_restart(a, b, what, sizeof(what)), "%s", what);
	cfg_free(b);
	cfg_free(a);
}

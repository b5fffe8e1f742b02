/* tests/unit/test_config_errors.c — config/cfg validation: every error names the file, the
 * line and the dotted key (FILE:LINE: KEY: message), all errors are collected, syntax errors
 * and unknown keys included. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config/cfg.h"
#include "tests/unit/config_fixture.h"

/* ---- validation: every error names file, line and key --------------------------------------- */

/* Each case: { file text, "LINE: KEY: message" expected after "CONF:", optional second one }. */
static void run_error_cases(const char *const (*cases)[3], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *text = cases[i][0], *want = cases[i][1], *want2 = cases[i][2];
		struct cfg *c = cfgt_load(text);
		cr_expect_null(c, "case %zu should fail:\n%s", i, text);
		cfg_free(c);
		cr_expect(cfgt_has_error(want), "case %zu: missing \"%s\"\ngot:\n%s", i, want,
		          cfgt_errors());
		if (want2)
			cr_expect(cfgt_has_error(want2), "case %zu: missing \"%s\"\ngot:\n%s", i,
			          want2, cfgt_errors());
		cr_expect_eq(cfgt_errs.n, want2 ? 2u : 1u, "case %zu: error count\n%s", i,
		             cfgt_errors());
	}
}

#define RUN(cases) run_error_cases(cases, sizeof(cases) / sizeof(cases[0]))

CTEST(errors_ranges)
{
	static const char *const cases[][3] = {
	        {"pool = {\n  size = 0;\n};\n",
	         "2: pool.size: must be between 1 and 10000 (got 0)"},
	        {"pool = { size = 10001; };\n",
	         "1: pool.size: must be between 1 and 10000 (got 10001)"},
	        {"pool = { min_size = -1; };\n",
	         "1: pool.min_size: must be between 0 and 10000 (got -1)"},
	        {"pool = {\n size = 5;\n min_size = 6;\n};\n",
	         "3: pool.min_size: must be at most size (got 6 > 5)"},
	        {"pool = { max_prepared_statements = 100001; };\n",
	         "1: pool.max_prepared_statements: must be between 0 and 100000 (got 100001)"},
	        {"listen = {\n host = \"x\";\n port = 0;\n};\n",
	         "3: listen.port: must be between 1 and 65535 (got 0)"},
	        {"listen = { port = 65536; };\n",
	         "1: listen.port: must be between 1 and 65535 (got 65536)"},
	        {"listen = { port = -1; };\n",
	         "1: listen.port: must be between 1 and 65535 (got -1)"},
	        {"listen = { max_client_conn = 0; };\n",
	         "1: listen.max_client_conn: must be between 1 and 1000000 (got 0)"},
	        {"listen = { host = \"\"; };\n", "1: listen.host: must not be empty"},
	        {"admin = { http_port = 65536; };\n",
	         "1: admin.http_port: must be between 0 and 65535 (got 65536)"},
	        {"listen = { port = 7000; };\nadmin = {\n http_port = 7000;\n};\n",
	         "3: admin.http_port: must differ from listen.port (both 7000)"},
	        {"databases = ( { name = \"a\";\n port = 70000; } );\n",
	         "2: databases[0].port: must be between 1 and 65535 (got 70000)"},
	        {"databases = ( { name = \"a\";\n host = \"\"; } );\n",
	         "2: databases[0].host: must not be empty"},
	        {"pool = { min_size = 5; };\ndatabases = ( { name = \"a\";\n oltp = {\n size = 2; "
	         "}; } );\n",
	         "4: databases[0].oltp.size: must be at least min_size (got 2 < 5)"},
	        {"databases = ( { name = \"a\";\n olap = {\n min_size = 30; }; } );\n",
	         "3: databases[0].olap.min_size: must be at most size (got 30 > 20)"},
	        {"databases = ( { name = \"a\"; olap = {\n replicas = ( { host = \"r\";\n port = "
	         "0; "
	         "} ); }; } );\n",
	         "3: databases[0].olap.replicas[0].port: must be between 1 and 65535 (got 0)"},
	        {"databases = ( { name = \"a\"; olap = {\n replicas = (\n { port = 5433; } ); }; } "
	         ");\n",
	         "3: databases[0].olap.replicas[0].host: required"},
	        {"monitor = { interval = \"0\"; };\n", "1: monitor.interval: must be more than 0"},
	};
	RUN(cases);
}

CTEST(errors_enums)
{
	static const char *const cases[][3] = {
	        {"pool = { mode = \"statement\"; };\n",
	         "1: pool.mode: must be \"session\" or \"transaction\" (got \"statement\")"},
	        {"auth = { type = \"password\"; };\n", "1: auth.type: must be \"trust\", \"md5\" "
	                                               "or \"scram-sha-256\" (got \"password\")"},
	        {"log = {\n format = \"xml\";\n};\n",
	         "2: log.format: must be \"text\" or \"json\" (got \"xml\")"},
	        {"log = { level = \"trace\"; };\n", "1: log.level: must be \"error\", \"warning\", "
	                                            "\"info\" or \"debug\" (got \"trace\")"},
	        {"log = { level = 3; };\n", "1: log.level: must be \"error\", \"warning\", "
	                                    "\"info\" or \"debug\", not an integer"},
	        {"listen = { tls = { mode = \"strict\"; }; };\n",
	         "1: listen.tls.mode: must be \"disable\", \"allow\", \"prefer\", \"require\", "
	         "\"verify-ca\" or \"verify-full\" (got \"strict\")"},
	        {"routes = (\n { lane = \"batch\"; }\n);\n",
	         "2: routes[0].lane: must be \"oltp\" or \"olap\" (got \"batch\")"},
	        {"databases = ( { name = \"a\";\n default_lane = \"x\"; } );\n",
	         "2: databases[0].default_lane: must be \"oltp\" or \"olap\" (got \"x\")"},
	        {"databases = ( { name = \"a\";\n oltp = { mode = \"x\"; }; } );\n",
	         "2: databases[0].oltp.mode: must be \"session\" or \"transaction\" (got \"x\")"},
	        {"pool = { pin_session_state = \"session\"; };\n",
	         "1: pool.pin_session_state: must be \"pin\", \"refuse\" or \"allow\" (got "
	         "\"session\")"},
	        {"databases = ( { name = \"a\";\n olap = { pin_session_state = 1; }; } );\n",
	         "2: databases[0].olap.pin_session_state: must be \"pin\", \"refuse\" or "
	         "\"allow\", not an integer"},
	        {"hba = ( { address = \"all\";\n method = \"password\"; } );\n",
	         "2: hba[0].method: must be \"trust\", \"md5\", \"scram-sha-256\", \"reject\", "
	         "\"cert\" or \"peer\" (got \"password\")"},
	        {"worker_cpu_affinity = \"on\";\n",
	         "1: worker_cpu_affinity: must be \"auto\" or \"off\" (got \"on\")"},
	        {"workers = 2;\nworker_cpu_affinity = 1;\n",
	         "2: worker_cpu_affinity: must be \"auto\" or \"off\", not an integer"},
	};
	RUN(cases);
}

CTEST(errors_databases_routes_hba)
{
	static const char *const cases[][3] = {
	        {"databases = (\n { name = \"app\"; },\n { name = \"b\"; },\n {\n  name = \"app\"; "
	         "}\n);\n",
	         "5: databases[2].name: duplicate database name \"app\" (first defined on line 2)"},
	        {"databases = (\n { host = \"h\"; }\n);\n", "2: databases[0].name: required"},
	        {"databases = ( { name = \"\"; } );\n", "1: databases[0].name: must not be empty"},
	        {"databases = ( { name = "
	         "\"0123456789012345678901234567890123456789012345678901234567890123\"; } );\n",
	         "1: databases[0].name: must be at most 63 bytes (got 64)"},
	        {"databases = ( { name = \"a\";\n default_lane = \"olap\"; } );\n",
	         "2: databases[0].default_lane: is \"olap\" but the database has no olap group"},
	        {"databases = ( { name = \"a\";\n oltp = {\n replicas = ( ); }; } );\n",
	         "3: databases[0].oltp.replicas: only allowed in the olap lane"},
	        {"databases = ( { name = \"a\";\n oltp = { max_replica_lag = \"1s\"; }; } );\n",
	         "2: databases[0].oltp.max_replica_lag: only allowed in the olap lane"},
	        {"databases = ( { name = \"a\";\n fallback = true; } );\n",
	         "2: databases[0].fallback: only allowed in the olap group "
	         "(databases[0].olap.fallback)"},
	        {"pool = {\n replicas = ( ); };\n",
	         "2: pool.replicas: only allowed in a database's olap group"},
	        {"routes = (\n { user = \"x\"; } );\n", "2: routes[0].lane: required"},
	        {"routes = ( { database = \"\"; lane = \"olap\"; } );\n",
	         "1: routes[0].database: must not be empty"},
	        {"hba = (\n { method = \"trust\"; } );\n", "2: hba[0].address: required"},
	        {"hba = ( { address = \"all\"; },\n { address = \"all\"; method = \"md5\"; } );\n",
	         "1: hba[0].method: required"},
	};
	RUN(cases);
}

CTEST(errors_hba_addresses)
{
	static const char *const bad[] = {
	        "10.0.0.0",    "10.0.0.0/33",  "::1/129",     "localhost/8", "/8", "10.0.0.0/",
	        "10.0.0.0/8x", "10.0.0.256/8", "10.0.0.0/-1", "ALL",         "",   "1.2.3/8"};
	char text[256], want[512];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
		         "hba = (\n { address = \"%s\"; method = \"trust\"; } );\n", bad[i]);
		struct cfg *c = cfgt_load(text);
		cr_expect_null(c, "\"%s\" accepted", bad[i]);
		cfg_free(c);
		snprintf(
		        want, sizeof(want),
		        "2: hba[0].address: must be \"all\", \"local\" or an address with a prefix "
		        "length such as \"10.0.0.0/8\" or \"::1/128\" (got \"%s\")",
		        bad[i]);
		cr_expect(cfgt_has_error(want), "\"%s\": got\n%s", bad[i], cfgt_errors());
	}
	static const char *const good[] = {"0.0.0.0/0", "::/0", "fe80::1/64", "192.168.1.1/32",
	                                   "::ffff:10.0.0.1/128"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text),
		         "hba = ( { address = \"%s\"; method = \"cert\"; } );\n", good[i]);
		struct cfg *c = cfgt_load(text);
		cr_expect_not_null(c, "\"%s\" refused: %s", good[i], cfgt_errors());
		if (c)
			cr_expect_str_eq(c->hba[0].address, good[i]);
		cfg_free(c);
	}
}

CTEST(errors_unknown_keys)
{
	static const char *const cases[][3] = {
	        {"foo = 1;\n", "1: foo: unknown key"},
	        {"listen = {\n hots = \"x\"; };\n", "2: listen.hots: unknown key"},
	        {"listen = { tls = {\n x = 1; }; };\n", "2: listen.tls.x: unknown key"},
	        {"auth = { x = 1; };\n", "1: auth.x: unknown key"},
	        {"admin = { x = 1; };\n", "1: admin.x: unknown key"},
	        {"log = { x = 1; };\n", "1: log.x: unknown key"},
	        {"pool = { sise = 1; };\n", "1: pool.sise: unknown key"},
	        {"monitor = { x = 1; };\n", "1: monitor.x: unknown key"},
	        {"databases = ( { name = \"a\";\n x = 1; } );\n", "2: databases[0].x: unknown key"},
	        {"databases = ( { name = \"a\"; },\n { name = \"b\";\n olap = {\n sise = 4; }; } "
	         ");\n",
	         "4: databases[1].olap.sise: unknown key"},
	        {"databases = ( { name = \"a\"; olap = { replicas = (\n { host = \"r\"; prot = 1; "
	         "} "
	         "); }; } );\n",
	         "2: databases[0].olap.replicas[0].prot: unknown key"},
	        {"routes = ( { lane = \"olap\"; },\n { lane = \"olap\";\n usr = \"x\"; } );\n",
	         "3: routes[1].usr: unknown key"},
	        {"hba = ( { address = \"all\"; method = \"trust\";\n x = 1; } );\n",
	         "2: hba[0].x: unknown key"},
	};
	RUN(cases);
}

CTEST(errors_types)
{
	static const char *const cases[][3] = {
	        {"pool = 5;\n", "1: pool: must be a group { ... }, not an integer"},
	        {"listen = ( );\n", "1: listen: must be a group { ... }, not a list"},
	        {"databases = { name = \"a\"; };\n",
	         "1: databases: must be a list ( { ... }, ... ), not a group"},
	        {"routes = \"x\";\n", "1: routes: must be a list ( { ... }, ... ), not a string"},
	        {"hba = [ 1 ];\n", "1: hba: must be a list ( { ... }, ... ), not an array"},
	        {"databases = (\n 5 );\n",
	         "2: databases[0]: must be a group { ... }, not an integer"},
	        {"databases = ( { name = \"a\";\n oltp = 5; } );\n",
	         "2: databases[0].oltp: must be a group { ... }, not an integer"},
	        {"databases = ( { name = 5; } );\n",
	         "1: databases[0].name: must be a string, not an integer"},
	        {"listen = { port = \"6432\"; };\n",
	         "1: listen.port: must be an integer, not a string"},
	        {"listen = { port = 6432.0; };\n",
	         "1: listen.port: must be an integer, not a float"},
	        {"listen = { tls = \"require\"; };\n",
	         "1: listen.tls: must be a group { ... }, not a string"},
	        {"admin = { users = \"admin\"; };\n",
	         "1: admin.users: must be an array of strings [ \"...\", ... ], not a string"},
	        {"admin = {\n users = ( \"a\",\n 1 );\n};\n",
	         "3: admin.users[1]: must be a string, not an integer"},
	        {"admin = { stats_users = [ \"\" ]; };\n",
	         "1: admin.stats_users[0]: must not be empty"},
	        {"pool = { track_parameters = [ \"search_path\", \"\" ]; };\n",
	         "1: pool.track_parameters[1]: must not be empty"},
	        {"pool = { server_reset_query = 1; };\n",
	         "1: pool.server_reset_query: must be a string, not an integer"},
	        {"databases = ( { name = \"a\"; olap = {\n replicas = \"r\"; }; } );\n",
	         "2: databases[0].olap.replicas: must be a list ( { ... }, ... ), not a string"},
	        {"databases = ( { name = \"a\"; olap = {\n fallback = 1; }; } );\n",
	         "2: databases[0].olap.fallback: must be true or false, not an integer"},
	        {"monitor = { user = true; };\n",
	         "1: monitor.user: must be a string, not a boolean"},
	};
	RUN(cases);
}

#define DURATION_MSG                                                                               \
	"must be a duration such as \"250ms\", \"2s\", \"5min\", \"1h\" (at most 8760h), got "

CTEST(errors_durations)
{
	static const char *const cases[][3] = {
	        {"pool = { statement_timeout = \"5 s\"; };\n",
	         "1: pool.statement_timeout: " DURATION_MSG "\"5 s\""},
	        {"pool = {\n query_wait_timeout = \"-1s\"; };\n",
	         "2: pool.query_wait_timeout: " DURATION_MSG "\"-1s\""},
	        {"pool = { slow_query = \"1.5s\"; };\n",
	         "1: pool.slow_query: " DURATION_MSG "\"1.5s\""},
	        {"pool = { server_lifetime = \"\"; };\n",
	         "1: pool.server_lifetime: " DURATION_MSG "\"\""},
	        {"pool = { server_idle_timeout = \"10d\"; };\n",
	         "1: pool.server_idle_timeout: " DURATION_MSG "\"10d\""},
	        {"pool = { client_login_timeout = \"8761h\"; };\n",
	         "1: pool.client_login_timeout: " DURATION_MSG "\"8761h\""},
	        {"pool = { slow_query = -5; };\n",
	         "1: pool.slow_query: must not be negative (got -5)"},
	        {"pool = { slow_query = 31536000001L; };\n",
	         "1: pool.slow_query: must be at most 8760h (got 31536000001ms)"},
	        {"pool = { slow_query = 1.5; };\n", "1: pool.slow_query: must be a duration such "
	                                            "as \"250ms\", \"2s\", \"5min\", \"1h\", "
	                                            "not a float"},
	        {"pool = { client_idle_timeout = true; };\n",
	         "1: pool.client_idle_timeout: must be a duration such as \"250ms\", \"2s\", "
	         "\"5min\", "
	         "\"1h\", not a boolean"},
	        {"databases = ( { name = \"a\"; olap = {\n max_replica_lag = \"soon\"; }; } );\n",
	         "2: databases[0].olap.max_replica_lag: " DURATION_MSG "\"soon\""},
	        {"databases = ( { name = \"a\"; oltp = {\n idle_in_transaction_timeout = \"1x\"; "
	         "}; } "
	         ");\n",
	         "2: databases[0].oltp.idle_in_transaction_timeout: " DURATION_MSG "\"1x\""},
	        {"databases = ( { name = \"a\"; oltp = {\n server_connect_timeout = \"2 min\"; }; "
	         "} "
	         ");\n",
	         "2: databases[0].oltp.server_connect_timeout: " DURATION_MSG "\"2 min\""},
	        {"monitor = { interval = \"often\"; };\n",
	         "1: monitor.interval: " DURATION_MSG "\"often\""},
	};
	RUN(cases);
}

CTEST(errors_auth)
{
	static const char *const cases[][3] = {
	        {"auth = {\n type = \"md5\";\n};\n",
	         "2: auth.file: required when auth.type is \"md5\" and auth.auth_user is not set"},
	        {"auth = {\n type = \"scram-sha-256\";\n file = \"\";\n};\n",
	         "3: auth.file: required when auth.type is \"scram-sha-256\" and auth.auth_user is "
	         "not set"},
	        {"auth = { type = \"md5\";\n file = \"nope.txt\"; };\n",
	         "2: auth.file: cannot read \"{dir}/nope.txt\": No such file or directory"},
	        {"auth = {\n file = \"nope.txt\"; };\n",
	         "2: auth.file: cannot read \"{dir}/nope.txt\": No such file or directory"},
	};
	RUN(cases);
}

CTEST(errors_auth_file_content_and_kind)
{
	cfgt_write("bad.txt", "\"alice\" \"x\"\nbob \"y\"\n\"alice\" \"z\"\n");
	struct cfg *c = cfgt_load("auth = { type = \"md5\";\n file = \"bad.txt\"; };\n");
	cr_expect_null(c);
	cfg_free(c);
	cr_expect(
	        cfgt_has_error("2: auth.file: \"{dir}/bad.txt\" is not a valid auth file (2 errors "
	                       "follow)"),
	        "%s", cfgt_errors());
	char want[PATH_MAX + 128];
	snprintf(want, sizeof(want), "%s/bad.txt:2: expected \"user\" \"secret\"", cfgt_rdir);
	bool found = false;
	for (size_t i = 0; i < cfgt_errs.n; i++)
		found |= strcmp(cfgt_errs.msg[i], want) == 0;
	cr_expect(found, "missing %s in\n%s", want, cfgt_errors());
	cr_expect_eq(cfgt_errs.n, 3, "%s", cfgt_errors());

	cr_assert_eq(mkdir(cfgt_path("sub"), 0700), 0);
	c = cfgt_load("auth = {\n file = \"sub\"; };\n");
	cr_expect_null(c);
	cfg_free(c);
	cr_expect(cfgt_has_error("2: auth.file: \"{dir}/sub\" is not a regular file"), "%s",
	          cfgt_errors());
}

CTEST(errors_tls)
{
	static const char *const cases[][3] = {
	        {"listen = { tls = {\n mode = \"require\"; }; };\n",
	         "2: listen.tls.cert: required when listen.tls.mode is \"require\"",
	         "2: listen.tls.key: required when listen.tls.mode is \"require\""},
	        {"listen = { tls = { mode = \"allow\";\n cert = \"missing.crt\";\n key = "
	         "\"missing.key\"; }; };\n",
	         "2: listen.tls.cert: cannot read \"{dir}/missing.crt\": No such file or directory",
	         "3: listen.tls.key: cannot read \"{dir}/missing.key\": No such file or directory"},
	};
	RUN(cases);

	cfgt_write("s.crt", "x");
	cfgt_write("s.key", "x");
	static const char *const more[][3] = {
	        {"listen = { tls = { mode = \"allow\"; cert = \"s.crt\";\n key = \"\"; }; };\n",
	         "1: listen.tls.key: required when listen.tls.mode is \"allow\""},
	        {"listen = { tls = { mode = \"require\"; cert = \"s.crt\"; key = \"s.key\";\n ca = "
	         "\"ca.crt\"; }; };\n",
	         "2: listen.tls.ca: cannot read \"{dir}/ca.crt\": No such file or directory"},
	};
	RUN(more);

	/* with TLS disabled, the files are not needed */
	struct cfg *c =
	        cfgt_load("listen = { tls = { mode = \"disable\"; cert = \"missing.crt\"; }; };\n");
	cr_expect_not_null(c, "%s", cfgt_errors());
	cfg_free(c);
}

#define SSLMODES "\"disable\", \"prefer\", \"require\", \"verify-ca\" or \"verify-full\""

CTEST(errors_server_tls)
{
	cfgt_write("r.crt", "x");
	cfgt_write("c.crt", "x");
	cfgt_write("c.key", "x");
	cr_assert_eq(mkdir(cfgt_path("dir.crt"), 0700), 0);
	static const char *const cases[][3] = {
	        /* values and types */
	        {"server_tls = {\n sslmode = \"verify\"; };\n",
	         "2: server_tls.sslmode: must be " SSLMODES " (got \"verify\")"},
	        {"server_tls = { sslmode = \"allow\"; };\n",
	         "1: server_tls.sslmode: must be " SSLMODES " (got \"allow\")"},
	        {"server_tls = { sslmode = 1; };\n",
	         "1: server_tls.sslmode: must be " SSLMODES ", not an integer"},
	        {"databases = ( { name = \"a\";\n sslmode = \"Require\"; } );\n",
	         "2: databases[0].sslmode: must be " SSLMODES " (got \"Require\")"},
	        {"server_tls = \"require\";\n",
	         "1: server_tls: must be a group { ... }, not a string"},
	        {"server_tls = {\n ca = 1; };\n",
	         "2: server_tls.ca: must be a string, not an integer"},
	        {"server_tls = { cert = true; };\n",
	         "1: server_tls.cert: must be a string, not a boolean"},
	        {"databases = ( { name = \"a\";\n sslrootcert = 5; } );\n",
	         "2: databases[0].sslrootcert: must be a string, not an integer"},
	        {"server_tls = {\n sslrootcert = \"r.crt\"; };\n",
	         "2: server_tls.sslrootcert: unknown key"},
	        {"databases = ( { name = \"a\";\n ca = \"r.crt\"; } );\n",
	         "2: databases[0].ca: unknown key"},
	        /* a bad sslmode hides the checks that build on it */
	        {"server_tls = { sslmode = \"x\";\n ca = 5; };\n",
	         "1: server_tls.sslmode: must be " SSLMODES " (got \"x\")",
	         "2: server_tls.ca: must be a string, not an integer"},
	        /* verify-ca / verify-full need a CA */
	        {"server_tls = {\n sslmode = \"verify-ca\"; };\n",
	         "2: server_tls.ca: required when server_tls.sslmode is \"verify-ca\" and a "
	         "database has no sslrootcert of its own"},
	        {"server_tls = {\n sslmode = \"verify-full\"; ca = \"\"; };\n"
	         "databases = ( { name = \"a\"; }, { name = \"b\"; sslrootcert = \"r.crt\"; },\n"
	         " { name = \"c\"; } );\n",
	         "2: server_tls.ca: required when server_tls.sslmode is \"verify-full\" and a "
	         "database has no sslrootcert of its own"},
	        {"databases = ( { name = \"a\";\n sslmode = \"verify-full\"; } );\n",
	         "2: databases[0].sslrootcert: required when databases[0].sslmode is "
	         "\"verify-full\" (server_tls.ca is not set)"},
	        {"databases = ( { name = \"a\"; },\n { name = \"b\";\n sslmode = \"verify-ca\"; } "
	         ");\n",
	         "3: databases[1].sslrootcert: required when databases[1].sslmode is "
	         "\"verify-ca\" (server_tls.ca is not set)"},
	        {"server_tls = { ca = \"r.crt\"; };\n"
	         "databases = ( { name = \"a\"; sslmode = \"verify-ca\";\n sslrootcert = \"\"; } "
	         ");\n",
	         "3: databases[0].sslrootcert: must not be empty when databases[0].sslmode is "
	         "\"verify-ca\""},
	        {"server_tls = { sslmode = \"verify-full\"; ca = \"r.crt\"; };\n"
	         "databases = ( { name = \"a\";\n sslrootcert = \"\"; } );\n",
	         "3: databases[0].sslrootcert: must not be empty when server_tls.sslmode is "
	         "\"verify-full\""},
	        /* files must exist when set, relative to the config's directory */
	        {"server_tls = {\n ca = \"missing.crt\"; };\n",
	         "2: server_tls.ca: cannot read \"{dir}/missing.crt\": No such file or directory"},
	        {"server_tls = { sslmode = \"verify-ca\";\n ca = \"missing.crt\"; };\n",
	         "2: server_tls.ca: cannot read \"{dir}/missing.crt\": No such file or directory"},
	        {"server_tls = { sslmode = \"disable\";\n cert = \"missing.crt\";\n key = "
	         "\"missing.key\"; };\n",
	         "2: server_tls.cert: cannot read \"{dir}/missing.crt\": No such file or "
	         "directory",
	         "3: server_tls.key: cannot read \"{dir}/missing.key\": No such file or directory"},
	        {"server_tls = {\n ca = \"dir.crt\"; };\n",
	         "2: server_tls.ca: \"{dir}/dir.crt\" is not a regular file"},
	        {"databases = ( { name = \"a\";\n sslrootcert = \"missing.crt\"; } );\n",
	         "2: databases[0].sslrootcert: cannot read \"{dir}/missing.crt\": No such file or "
	         "directory"},
	        {"databases = ( { name = \"a\"; sslmode = \"verify-full\";\n sslrootcert = "
	         "\"missing.crt\"; } );\n",
	         "2: databases[0].sslrootcert: cannot read \"{dir}/missing.crt\": No such file or "
	         "directory"},
	        {"databases = ( { name = \"a\";\n sslrootcert = \"dir.crt\"; } );\n",
	         "2: databases[0].sslrootcert: \"{dir}/dir.crt\" is not a regular file"},
	        /* the client certificate: both or neither */
	        {"server_tls = {\n cert = \"c.crt\"; };\n",
	         "2: server_tls.key: required when server_tls.cert is set"},
	        {"server_tls = { cert = \"c.crt\";\n key = \"\"; };\n",
	         "1: server_tls.key: required when server_tls.cert is set"},
	        {"server_tls = {\n key = \"c.key\"; };\n",
	         "2: server_tls.cert: required when server_tls.key is set"},
	        {"server_tls = {\n key = \"missing.key\"; };\n",
	         "2: server_tls.key: cannot read \"{dir}/missing.key\": No such file or directory",
	         "2: server_tls.cert: required when server_tls.key is set"},
	};
	RUN(cases);
}

CTEST(errors_syntax_and_files)
{
	static const char *const cases[][3] = {
	        {"a = 1;\nb = ;\n", "2: syntax error"},
	        {"pool = { size = 1; };\npool = { size = 2; };\n",
	         "2: syntax error: duplicate setting name"},
	        {"x = \"unterminated;\n", "2: syntax error"},
	        {"\n\nhba = [ 1, \"x\" ];\n", "3: syntax error: mismatched element type in array"},
	};
	RUN(cases);

	struct cfg *c = cfg_load(cfgt_path("absent.conf"), &cfgt_errs);
	cr_expect_null(c);
	cr_assert_eq(cfgt_errs.n, 1);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory",
	         cfgt_path("absent.conf"));
	cr_expect_str_eq(cfgt_errs.msg[0], want);

	c = cfg_load(cfgt_path("absent.conf"), NULL);
	cr_expect_null(c, "errs may be NULL");
}

CTEST(errors_are_all_collected_in_order)
{
	struct cfg *c = cfgt_load("listen = { port = 0; };\n"
	                          "pool = {\n size = 0;\n mode = \"x\"; };\n"
	                          "bogus = 1;\n"
	                          "databases = ( { name = \"a\"; }, { name = \"a\"; } );\n");
	cr_assert_null(c);
	cr_assert_eq(cfgt_errs.n, 5, "%s", cfgt_errors());
	char want[PATH_MAX + 128];
	snprintf(want, sizeof(want), "%s:5: bogus: unknown key", cfgt_conf);
	cr_expect_str_eq(cfgt_errs.msg[0], want, "unknown top-level keys come first");
	snprintf(want, sizeof(want), "%s:1: listen.port: must be between 1 and 65535 (got 0)",
	         cfgt_conf);
	cr_expect_str_eq(cfgt_errs.msg[1], want);
	cr_expect(cfgt_has_error("3: pool.size: must be between 1 and 10000 (got 0)"));
	cr_expect(
	        cfgt_has_error("4: pool.mode: must be \"session\" or \"transaction\" (got \"x\")"));
	cr_expect(cfgt_has_error(
	        "6: databases[1].name: duplicate database name \"a\" (first defined on "
	        "line 6)"));
}

CTEST(errors_overflow_is_reported)
{
	char text[4096] = "";
	size_t pos = 0;
	for (int i = 0; i < CFG_MAX_ERRORS + 10; i++)
		pos += (size_t)snprintf(text + pos, sizeof(text) - pos, "bogus%d = %d;\n", i, i);
	struct cfg *c = cfgt_load(text);
	cr_assert_null(c);
	cr_assert_eq(cfgt_errs.n, CFG_MAX_ERRORS);
	cr_expect(cfgt_has_error("1: bogus0: unknown key"));
	cr_expect(cfgt_has_error("31: bogus30: unknown key"));
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "%s: 11 more errors not shown", cfgt_conf);
	cr_expect_str_eq(cfgt_errs.msg[CFG_MAX_ERRORS - 1], want);
}

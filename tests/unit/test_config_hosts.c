/* tests/unit/test_config_hosts.c — a database with several hosts (issue 18 item 5): the host
 * and port lists split into endpoints (cfg_hosts_parse, every boundary), the loader's keys
 * (host list, port as a number or a list, target_session_attrs and its default), its error
 * messages, printing and loading back, and which server each target_session_attrs accepts. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"
#include "tests/unit/config_fixture.h"

Test(cfg_hosts, one_host_one_port)
{
	struct cfg_endpoint *v;
	size_t n;
	char err[200];
	cr_assert(cfg_hosts_parse("db1", NULL, 5432, &v, &n, err, sizeof err), "%s", err);
	cr_expect_eq(n, 1);
	cr_expect_str_eq(v[0].host, "db1");
	cr_expect_eq(v[0].port, 5432);
	cfg_endpoints_free(v, n);
}

Test(cfg_hosts, lists_with_spaces_one_port_for_all_or_one_each)
{
	struct cfg_endpoint *v;
	size_t n;
	char err[200];
	cr_assert(cfg_hosts_parse(" h1 , h2,/tmp ", "6000", 1, &v, &n, err, sizeof err), "%s", err);
	cr_assert_eq(n, 3);
	cr_expect_str_eq(v[0].host, "h1");
	cr_expect_str_eq(v[1].host, "h2");
	cr_expect_str_eq(v[2].host, "/tmp");
	for (size_t i = 0; i < n; i++)
		cr_expect_eq(v[i].port, 6000);
	cfg_endpoints_free(v, n);
	cr_assert(cfg_hosts_parse("h1,h2", "5433, 5434", 1, &v, &n, err, sizeof err), "%s", err);
	cr_assert_eq(n, 2);
	cr_expect_eq(v[0].port, 5433);
	cr_expect_eq(v[1].port, 5434);
	cfg_endpoints_free(v, n);
	cr_assert(cfg_hosts_parse("h1,h2", "", 7, &v, &n, err, sizeof err), "%s", err);
	cr_expect_eq(v[1].port, 7);
	cfg_endpoints_free(v, n);
}

Test(cfg_hosts, refused_lists)
{
	static const struct {
		const char *hosts, *ports, *want;
	} bad[] = {
	        {"h1,,h2", NULL, "host 2 of \"h1,,h2\" is empty"},
	        {"h1,", NULL, "host 2 of \"h1,\" is empty"},
	        {" ", NULL, "host 1 of \" \" is empty"},
	        {"h1,h2,h3", "1,2", "2 ports for 3 hosts"},
	        {"h1,h2", "1,0", "port 2 of \"1,0\" is not a port number"},
	        {"h1,h2", "1,65536", "port 2 of \"1,65536\" is not a port number"},
	        {"h1", "x", "port 1 of \"x\" is not a port number"},
	        {"h1,h2", "1,", "port 2 of \"1,\" is not a port number"},
	        {"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", NULL, "more than 16 hosts"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct cfg_endpoint *v = (void *)1;
		size_t n = 9;
		char err[200] = "";
		cr_expect(
		        !cfg_hosts_parse(bad[i].hosts, bad[i].ports, 5432, &v, &n, err, sizeof err),
		        "%s / %s accepted", bad[i].hosts, bad[i].ports ? bad[i].ports : "-");
		cr_expect_null(v);
		cr_expect_eq(n, 0);
		cr_expect(strstr(err, bad[i].want), "%s: got \"%s\"", bad[i].want, err);
	}
	struct cfg_endpoint *v;
	size_t n;
	char err[200];
	cr_expect(cfg_hosts_parse("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p", NULL, 1, &v, &n, err,
	                          sizeof err));
	cr_expect_eq(n, CFG_HOSTS_MAX);
	cfg_endpoints_free(v, n);
}

Test(cfg_hosts, which_servers_each_rule_accepts)
{
	/* standby, read_only -> any, read-write, read-only, primary, standby, prefer-standby */
	static const struct {
		bool standby, ro;
		bool ok[CFG_TSA_COUNT];
	} t[] = {
	        {false, false, {true, true, false, true, false, true}},
	        {false, true, {true, false, true, true, false, true}},
	        {true, true, {true, false, true, false, true, true}},
	        {true, false, {true, false, true, false, true, true}},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		for (int k = 0; k < CFG_TSA_COUNT; k++)
			cr_expect_eq(cfg_tsa_accepts((enum cfg_tsa)k, t[i].standby, t[i].ro),
			             t[i].ok[k], "%s standby=%d read_only=%d",
			             cfg_tsa_name((enum cfg_tsa)k), t[i].standby, t[i].ro);
}

CTEST(loader_reads_host_lists_and_target_session_attrs)
{
	struct cfg *c = cfgt_load(
	        "databases = ( { name = \"a\"; host = \"p1,p2\"; port = \"5433,5434\"; },\n"
	        "  { name = \"b\"; host = \"p1, p2\"; port = 6000;"
	        " target_session_attrs = \"prefer-standby\"; },\n"
	        "  { name = \"c\"; host = \"one\"; } );\n");
	cr_assert_not_null(c, "%s", cfgt_errors());
	const struct cfg_database *a = cfg_database_find(c, "a");
	cr_assert_eq(a->nhosts, 2);
	cr_expect_str_eq(a->hosts[1].host, "p2");
	cr_expect_eq(a->hosts[1].port, 5434);
	cr_expect_eq(a->port, 5433);
	cr_expect_eq(a->target_session_attrs, CFG_TSA_READ_WRITE, "several hosts: read-write");
	const struct cfg_database *b = cfg_database_find(c, "b");
	cr_expect_eq(b->hosts[1].port, 6000);
	cr_expect_eq(b->target_session_attrs, CFG_TSA_PREFER_STANDBY);
	const struct cfg_database *d = cfg_database_find(c, "c");
	cr_expect_eq(d->nhosts, 1);
	cr_expect_eq(d->target_session_attrs, CFG_TSA_ANY, "one host: any, as before");
	cr_expect_eq(cfg_database_find(c, "zzz") ? 1 : 0, 0);
	/* printed, it loads back the same */
	char *buf = cfgt_print(c);
	cr_expect(strstr(buf, "port = \"5433,5434\";"), "%s", buf);
	cr_expect(strstr(buf, "target_session_attrs = \"read-write\";"), "%s", buf);
	struct cfg *again = cfgt_load(buf);
	cr_assert_not_null(again, "%s\n%s", buf, cfgt_errors());
	char **lines = NULL;
	cr_expect_eq(cfg_diff(c, again, &lines), 0);
	cfg_lines_free(lines, 0);
	free(buf);
	cfg_free(again);
	cfg_free(c);
}

CTEST(loader_refuses_bad_lists)
{
	struct cfg *c = cfgt_load("databases = ( { name = \"a\"; host = \"h1,,h2\"; },\n"
	                          " { name = \"b\"; host = \"h1,h2\"; port = \"1,2,3\"; },\n"
	                          " { name = \"c\"; target_session_attrs = \"writable\"; } );\n");
	cr_expect_null(c);
	cfg_free(c);
	cr_expect(cfgt_has_error("1: databases[0].host: host 2 of \"h1,,h2\" is empty or too "
	                         "long"),
	          "%s", cfgt_errors());
	cr_expect(cfgt_has_error("2: databases[1].port: 3 ports for 2 hosts (give one port, or "
	                         "one per host)"),
	          "%s", cfgt_errors());
	cr_expect(cfgt_has_error("3: databases[2].target_session_attrs: must be \"any\", "
	                         "\"read-write\", \"read-only\", \"primary\", \"standby\" or "
	                         "\"prefer-standby\" (got \"writable\")"),
	          "%s", cfgt_errors());
}

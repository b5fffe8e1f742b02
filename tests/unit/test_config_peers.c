/* tests/unit/test_config_peers.c — config/cfg_peers: peer_id and the peers list (PgBouncer's
 * peer_id and [peers]): what is read, the defaults, and every error naming file, line and key. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"
#include "tests/unit/config_fixture.h"

CTEST(peers_off_by_default)
{
	struct cfg *c = cfgt_load("");
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_eq(c->peer_id, 0);
	cr_expect_eq(c->npeers, 0u);
	cr_expect_null(c->peers);
	cr_expect_null(cfg_peer_find(c, 1));
	cfg_free(c);
}

CTEST(peers_read_with_default_port)
{
	struct cfg *c = cfgt_load("peer_id = 1;\n"
	                          "peers = ( { id = 2; host = \"127.0.0.1\"; port = 6433; },\n"
	                          "          { id = 2047; host = \"/var/run/pglane\"; } );\n");
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_eq(c->peer_id, 1);
	cr_assert_eq(c->npeers, 2u);
	cr_expect_eq(c->peers[0].id, 2);
	cr_expect_str_eq(c->peers[0].host, "127.0.0.1");
	cr_expect_eq(c->peers[0].port, 6433);
	cr_expect_eq(c->peers[0].line, 2);
	cr_expect_eq(c->peers[1].id, 2047);
	cr_expect_str_eq(c->peers[1].host, "/var/run/pglane");
	cr_expect_eq(c->peers[1].port, 6432, "PgBouncer's default port");
	cr_expect_eq(cfg_peer_find(c, 2047), &c->peers[1]);
	cr_expect_null(cfg_peer_find(c, 1), "the own id is not a peer");
	cr_expect_null(cfg_peer_find(c, 0));
	cfg_free(c);
}

CTEST(peers_without_peer_id_and_peer_id_without_peers)
{
	struct cfg *c = cfgt_load("peers = ( { id = 5; host = \"10.0.0.5\"; } );\n");
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_eq(c->peer_id, 0);
	cr_expect_eq(c->npeers, 1u);
	cfg_free(c);
	c = cfgt_load("peer_id = 2047;\npeers = ( );\n");
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_eq(c->peer_id, 2047);
	cr_expect_eq(c->npeers, 0u);
	cfg_free(c);
}

CTEST(peers_printed_as_read)
{
	struct cfg *c = cfgt_load("peer_id = 7;\n"
	                          "peers = ( { id = 8; host = \"127.0.0.1\"; port = 7000; } );\n");
	cr_assert_not_null(c, "%s", cfgt_errors());
	char *text = cfgt_print(c);
	cr_expect_not_null(strstr(text, "peer_id = 7;\n"), "%s", text);
	cr_expect_not_null(
	        strstr(text, "peers = (\n\t{ id = 8; host = \"127.0.0.1\"; port = 7000; }\n);"),
	        "%s", text);
	cfg_free(c);
	/* what cfg_print writes loads again to the same peers */
	struct cfg *again = cfgt_load(text);
	free(text);
	cr_assert_not_null(again, "%s", cfgt_errors());
	cr_expect_eq(again->peer_id, 7);
	cr_assert_eq(again->npeers, 1u);
	cr_expect_eq(again->peers[0].port, 7000);
	cfg_free(again);
}

CTEST(peers_flattened_with_long_hosts)
{
	char text[600], host[200], want[300];
	memset(host, 'h', 150);
	host[0] = '/';
	host[150] = '\0';
	snprintf(text, sizeof(text), "peer_id = 3;\npeers = ( { id = 4; host = \"%s\"; } );\n",
	         host);
	struct cfg *c = cfgt_load(text);
	cr_assert_not_null(c, "%s", cfgt_errors());
	struct cfg_kvs kv = {0};
	cr_assert(cfg_flatten(c, &kv), "a long host name is no reason to fail");
	snprintf(want, sizeof(want), "id=4 host=%s port=6432", host);
	cr_assert_geq(kv.n, 2u);
	cr_expect_str_eq(kv.v[kv.n - 2].key, "peer_id");
	cr_expect_str_eq(kv.v[kv.n - 2].value, "3");
	cr_expect_str_eq(kv.v[kv.n - 1].key, "peers[0]");
	cr_expect_str_eq(kv.v[kv.n - 1].value, want);
	cfg_kvs_free(&kv);
	/* and RELOAD's comparison works on it */
	struct cfg *base = cfgt_load("peer_id = 3;\n");
	cr_assert_not_null(base, "%s", cfgt_errors());
	char **lines = NULL;
	size_t n = cfg_diff(base, c, &lines);
	cr_assert_eq(n, 1u);
	char line[400];
	snprintf(line, sizeof(line), "peers[0]: (none) -> %s", want);
	cr_expect_str_eq(lines[0], line);
	cfg_lines_free(lines, n);
	cfg_free(base);
	cfg_free(c);
}

/* Each case: { file text, "LINE: KEY: message" expected after "CONF:" } — the only error. */
static const char *const peer_errors[][2] = {
        {"peer_id = 2048;\n", "1: peer_id: must be between 0 and 2047 (got 2048)"},
        {"peer_id = -1;\n", "1: peer_id: must be between 0 and 2047 (got -1)"},
        {"peer_id = \"1\";\n", "1: peer_id: must be an integer, not a string"},
        {"peers = { id = 2; };\n", "1: peers: must be a list ( { ... }, ... ), not a group"},
        {"peers = ( { id = 0; host = \"h\"; } );\n",
         "1: peers[0].id: must be between 1 and 2047 (got 0)"},
        {"peers = ( { id = 2048; host = \"h\"; } );\n",
         "1: peers[0].id: must be between 1 and 2047 (got 2048)"},
        {"peers = ( { id = 2; host = \"h\"; port = 0; } );\n",
         "1: peers[0].port: must be between 1 and 65535 (got 0)"},
        {"peers = ( { id = 2; host = \"\"; } );\n", "1: peers[0].host: must not be empty"},
        {"peers = ( { id = 2; } );\n", "1: peers[0].host: required"},
        {"peers = (\n { host = \"h\"; } );\n", "2: peers[0].id: required"},
        {"peers = ( { id = 2; host = \"h\"; pool_size = 3; } );\n",
         "1: peers[0].pool_size: unknown key"},
        {"peers = ( 2 );\n", "1: peers[0]: must be a group { ... }, not an integer"},
        {"peer_id = 1;\npeers = ( { id = 2; host = \"a\"; },\n  { id = 1; host = \"b\"; } );\n",
         "3: peers[1].id: is this pglane's own peer_id (1): list only the others"},
        {"peers = ( { id = 2; host = \"a\"; },\n { id = 3; host = \"b\"; },\n"
         " { id = 2; host = \"c\"; } );\n",
         "3: peers[2].id: duplicate peer id 2 (first defined on line 1)"},
};

CTEST(peers_errors_name_line_and_key)
{
	for (size_t i = 0; i < sizeof(peer_errors) / sizeof(peer_errors[0]); i++) {
		struct cfg *c = cfgt_load(peer_errors[i][0]);
		cr_expect_null(c, "case %zu should fail:\n%s", i, peer_errors[i][0]);
		cfg_free(c);
		cr_expect(cfgt_has_error(peer_errors[i][1]), "case %zu: missing \"%s\"\ngot:\n%s",
		          i, peer_errors[i][1], cfgt_errors());
		cr_expect_eq(cfgt_errs.n, 1u, "case %zu: error count\n%s", i, cfgt_errors());
	}
}

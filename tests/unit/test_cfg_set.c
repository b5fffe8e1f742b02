/* tests/unit/test_cfg_set.c — cfg_load_with_overrides (the console's SET): flattened keys
 * set in the file's tree before validation, the value's type chosen by what the loader
 * accepts, errors as the loader words them, and PgBouncer's setting names. */
#include <criterion/criterion.h>
#include <string.h>

#include "config/cfg.h"
#include "tests/unit/config_fixture.h"

#define BASE                                                                                       \
	"pool = { size = 4; };\n"                                                                  \
	"log = { connections = true; };\n"                                                         \
	"databases = ( { name = \"app\"; host = \"db1\"; olap = { size = 2; }; } );\n"             \
	"users = ( { name = \"report\"; size = 3; } );\n"

#define STEST(name) Test(cfg_set, name, .init = cfgt_setup, .fini = cfgt_teardown)

static struct cfg_override ov(const char *key, const char *value)
{
	struct cfg_override o = {.type = 0};
	snprintf(o.key, sizeof(o.key), "%s", key);
	snprintf(o.value, sizeof(o.value), "%s", value);
	return o;
}

static struct cfg *load(struct cfg_override *o, size_t n)
{
	cfgt_write("pglane.conf", BASE);
	return cfg_load_with_overrides(cfgt_conf, o, n, &cfgt_errs);
}

STEST(sets_global_database_lane_user_and_log_keys)
{
	struct cfg_override o[] = {ov("pool.size", "7"), ov("databases.app.olap.size", "5"),
	                           ov("databases.app.oltp.size", "6"), ov("users.report.size", "9"),
	                           ov("log.connections", "false")};
	struct cfg *c = load(o, 5);
	cr_assert(c, "%s", cfgt_errors());
	cr_expect_eq(c->pool.size, 7);
	cr_expect_eq(c->databases[0].lanes[CFG_LANE_OLAP].pool.size, 5);
	cr_expect_eq(c->databases[0].lanes[CFG_LANE_OLTP].pool.size, 6);
	cr_expect_eq(c->log.connections, false);
	cr_expect_neq(o[4].type, 0, "the chosen type is kept");
	cfg_free(c);
}

STEST(value_type_follows_what_the_loader_accepts)
{
	/* "1" for a boolean (PgBouncer's way), "5s" and 5000 for a duration, a number for a
	 * string key */
	struct cfg_override o[] = {ov("log.connections", "0"), ov("pool.statement_timeout", "5s"),
	                           ov("pool.query_wait_timeout", "5000"),
	                           ov("pool.server_reset_query", "123")};
	for (size_t i = 1; i <= 4; i++) {
		struct cfg *c = load(o, i);
		cr_assert(c, "with %zu overrides: %s", i, cfgt_errors());
		cfg_free(c);
	}
	struct cfg *c = load(o, 4);
	cr_assert(c);
	cr_expect_eq(c->log.connections, false);
	cr_expect_eq(c->pool.statement_timeout_ms, 5000);
	cr_expect_eq(c->pool.query_wait_timeout_ms, 5000);
	cr_expect_str_eq(c->pool.server_reset_query, "123");
	cfg_free(c);
}

STEST(refusals_carry_the_loaders_message)
{
	struct cfg_override bad[] = {ov("pool.size", "abc"),       ov("pool.nosuch", "1"),
	                             ov("nosuch.key", "1"),        ov("databases.nosuch.size", "1"),
	                             ov("routes[0].lane", "olap"), ov("pool", "1")};
	static const char *const want[] = {
	        "pool.size: must be an integer", "pool.nosuch: unknown key",
	        "nosuch: unknown key",           "no databases entry named",
	        "cannot be changed with SET",    "unknown key"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cfg *c = load(&bad[i], 1);
		cr_expect_null(c, "%s = %s was accepted", bad[i].key, bad[i].value);
		cfg_free(c);
		char *e = cfgt_errors();
		cr_expect(strstr(e, want[i]) != NULL, "%s: \"%s\" lacks \"%s\"", bad[i].key, e,
		          want[i]);
	}
}

STEST(pgbouncer_names)
{
	struct cfg_override o = ov("default_pool_size", "12");
	cr_expect(cfg_override_from_pgbouncer(&o));
	cr_expect_str_eq(o.key, "pool.size");
	cr_expect_str_eq(o.value, "12");
	o = ov("query_timeout", "2.5");
	cr_expect(cfg_override_from_pgbouncer(&o));
	cr_expect_str_eq(o.key, "pool.statement_timeout");
	cr_expect_str_eq(o.value, "2500");
	o = ov("query_timeout", "3min");
	cr_expect(cfg_override_from_pgbouncer(&o));
	cr_expect_str_eq(o.value, "3min");
	o = ov("pool.size", "3");
	cr_expect_not(cfg_override_from_pgbouncer(&o));
	cr_expect_str_eq(o.key, "pool.size");
}

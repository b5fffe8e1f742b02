/* tests/unit/test_catalog.c — pool/catalog: names looked up case-insensitively, contexts as
 * pg_settings spells them, placeholders with a dot, unknown names. */
#include <criterion/criterion.h>

#include "pool/catalog.h"

Test(catalog, lookups)
{
	struct pool_catalog *c = pool_catalog_new();
	cr_assert_not_null(c);
	static const char *const rows[][2] = {
	        {"work_mem", "user"},
	        {"DateStyle", "user"},
	        {"log_connections", "backend"},
	        {"shared_buffers", "postmaster"},
	        {"session_replication_role", "superuser"},
	        {"is_superuser", "internal"},
	        {"log_min_duration_sample", "superuser"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		cr_assert(pool_catalog_add(c, rows[i][0], rows[i][1]));
	pool_catalog_done(c);
	cr_assert_eq(pool_catalog_count(c), 7);
	cr_expect_eq(pool_catalog_context(c, "work_mem"), POOL_GUC_USER);
	cr_expect_eq(pool_catalog_context(c, "datestyle"), POOL_GUC_USER);
	cr_expect_eq(pool_catalog_context(c, "DATESTYLE"), POOL_GUC_USER);
	cr_expect_eq(pool_catalog_context(c, "log_connections"), POOL_GUC_FIXED);
	cr_expect_eq(pool_catalog_context(c, "shared_buffers"), POOL_GUC_FIXED);
	cr_expect_eq(pool_catalog_context(c, "is_superuser"), POOL_GUC_FIXED);
	cr_expect_eq(pool_catalog_context(c, "session_replication_role"), POOL_GUC_SUPERUSER);
	cr_expect_eq(pool_catalog_context(c, "nosuch_param"), POOL_GUC_UNKNOWN);
	cr_expect_eq(pool_catalog_context(c, ""), POOL_GUC_UNKNOWN);
	cr_expect_eq(pool_catalog_context(c, "myapp.tenant"), POOL_GUC_USER);
	pool_catalog_free(c);
}

Test(catalog, empty)
{
	struct pool_catalog *c = pool_catalog_new();
	pool_catalog_done(c);
	cr_expect_eq(pool_catalog_context(c, "work_mem"), POOL_GUC_UNKNOWN);
	pool_catalog_free(c);
	pool_catalog_free(NULL);
}

/* tests/unit/test_health_hosts.c — pool/health's current host of a database with several
 * (pool_health_current): unknown at first, set and replaced, per database, and forgotten when
 * the host is no longer in the database's list. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "pool/health.h"

static struct cfg_endpoint eps[3] = {{"h1", 5432}, {"h2", 5432}, {"h2", 5433}};

static struct cfg_database db(const char *name, size_t first, size_t n)
{
	struct cfg_database d;
	memset(&d, 0, sizeof d);
	d.name = (char *)name;
	d.hosts = &eps[first];
	d.nhosts = n;
	return d;
}

Test(health_hosts, current_host_per_database)
{
	struct cfg_database a = db("hh_a", 0, 3), b = db("hh_b", 0, 3);
	cr_expect_eq(pool_health_current(&a), -1, "none yet");
	pool_health_current_set(&a, 2);
	cr_expect_eq(pool_health_current(&a), 2);
	cr_expect_eq(pool_health_current(&b), -1, "another database");
	pool_health_current_set(&a, 1);
	cr_expect_eq(pool_health_current(&a), 1, "replaced (same name, other port)");
	pool_health_current_set(&a, 7);
	cr_expect_eq(pool_health_current(&a), 1, "an index out of range changes nothing");
	pool_health_clear();
	cr_expect_eq(pool_health_current(&a), 1, "kept across a monitor restart");
	/* a reload that lists other hosts: h2:5432 is now index 0; a list without it: unknown */
	struct cfg_database moved = db("hh_a", 1, 2), gone = db("hh_a", 2, 1);
	cr_expect_eq(pool_health_current(&moved), 0);
	cr_expect_eq(pool_health_current(&gone), -1);
}

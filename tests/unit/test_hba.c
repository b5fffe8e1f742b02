/* tests/unit/test_hba.c — config/hba: which clients a rule's address matches ("all" both kinds,
 * "local" only Unix-socket clients, a range only TCP clients in it, IPv4 in an IPv6 range),
 * and the first matching rule of a list by address, database and user. */
#include <criterion/criterion.h>
#include <string.h>

#include "config/hba.h"

Test(hba, address_kinds)
{
	cr_expect(cfg_hba_address_match("all", NULL));
	cr_expect(cfg_hba_address_match("all", "10.1.2.3"));
	cr_expect(cfg_hba_address_match("local", NULL));
	cr_expect_not(cfg_hba_address_match("local", "127.0.0.1"));
	cr_expect_not(cfg_hba_address_match("local", "::1"));
	cr_expect_not(cfg_hba_address_match("127.0.0.1/32", NULL));
	cr_expect_not(cfg_hba_address_match("0.0.0.0/0", NULL));
	cr_expect_not(cfg_hba_address_match("::/0", NULL));
	cr_expect(cfg_hba_address_match("127.0.0.1/32", "127.0.0.1"));
	cr_expect_not(cfg_hba_address_match("127.0.0.1/32", "127.0.0.2"));
	cr_expect(cfg_hba_address_match("10.0.0.0/8", "10.200.1.1"));
	cr_expect(cfg_hba_address_match("::ffff:0:0/96", "192.168.1.1"));
	cr_expect(cfg_hba_address_match("::1/128", "::1"));
	cr_expect_not(cfg_hba_address_match("unix", NULL));
}

Test(hba, first_match_by_kind_of_client)
{
	struct cfg_hba rules[] = {
	        {.address = "local", .database = "all", .user = "postgres", .method = "peer"},
	        {.address = "127.0.0.1/32", .database = "app", .user = "all", .method = "md5"},
	        {.address = "local", .database = "app", .user = "all", .method = "trust"},
	        {.address = "all", .database = "all", .user = "all", .method = "reject"},
	};
	struct cfg c = {.hba = rules, .nhba = 4};
	const struct cfg_hba *h = cfg_hba_match(&c, NULL, "app", "postgres");
	cr_assert(h);
	cr_expect_str_eq(h->method, "peer");
	h = cfg_hba_match(&c, "127.0.0.1", "app", "postgres");
	cr_assert(h);
	cr_expect_str_eq(h->method, "md5");
	h = cfg_hba_match(&c, NULL, "app", "alice");
	cr_assert(h);
	cr_expect_str_eq(h->method, "trust");
	h = cfg_hba_match(&c, NULL, "other", "alice");
	cr_assert(h);
	cr_expect_str_eq(h->method, "reject");
	h = cfg_hba_match(&c, "10.0.0.1", "app", "alice");
	cr_assert(h);
	cr_expect_str_eq(h->method, "reject");
	c.nhba = 3;
	cr_expect_null(cfg_hba_match(&c, "10.0.0.1", "app", "alice"));
	cr_expect_null(cfg_hba_match(&c, NULL, "other", "alice"));
}

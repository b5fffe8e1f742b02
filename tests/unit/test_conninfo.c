/* tests/unit/test_conninfo.c — config/conninfo: quoted pairs, and hostaddr from a resolver
 * for one host or a list (names, numbers, socket directories, a look-up running, a name that
 * does not exist). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "config/conninfo.h"

/* db.example resolves to 10.0.0.7, slow.example is being looked up, numbers are themselves,
 * anything else does not exist. */
static int fake_resolve(const char *host, char *ip, size_t cap, char *err, size_t errcap)
{
	if (strcmp(host, "db.example") == 0) {
		snprintf(ip, cap, "10.0.0.7");
		return 1;
	}
	if (strcmp(host, "slow.example") == 0)
		return 0;
	if (host[0] >= '0' && host[0] <= '9') {
		snprintf(ip, cap, "%s", host);
		return 1;
	}
	snprintf(err, errcap, "could not resolve \"%s\"", host);
	return -1;
}

Test(conninfo, pairs_are_quoted)
{
	char out[128] = "";
	cfg_conninfo_kv(out, sizeof(out), "host", "h");
	cfg_conninfo_kv(out, sizeof(out), "password", "it's a\\b");
	cr_assert_str_eq(out, "host='h' password='it\\'s a\\\\b'");
}

Test(conninfo, hostaddr_for_names_only)
{
	char out[256] = "host='x'", err[64] = "";
	cr_assert_eq(cfg_conninfo_hostaddr(out, sizeof(out), "127.0.0.1", fake_resolve, err,
	                                   sizeof(err)),
	             1);
	cr_assert_str_eq(out, "host='x'", "numbers need no hostaddr");
	cr_assert_eq(cfg_conninfo_hostaddr(out, sizeof(out), "db.example,/tmp,127.0.0.2",
	                                   fake_resolve, err, sizeof(err)),
	             1);
	cr_assert_str_eq(out, "host='x' hostaddr='10.0.0.7,,127.0.0.2'");
}

Test(conninfo, pending_and_missing_names)
{
	char out[256] = "host='x'", err[64] = "";
	cr_assert_eq(cfg_conninfo_hostaddr(out, sizeof(out), "db.example,slow.example",
	                                   fake_resolve, err, sizeof(err)),
	             0);
	cr_assert_str_eq(out, "host='x'", "appended while a look-up runs");
	cr_assert_eq(cfg_conninfo_hostaddr(out, sizeof(out), "nope.invalid", fake_resolve, err,
	                                   sizeof(err)),
	             -1);
	cr_assert_str_eq(err, "could not resolve \"nope.invalid\"");
}

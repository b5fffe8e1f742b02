/* tests/unit/test_addr.c — proxy/addr: matching a listening socket received in a takeover to
 * the address a listen setting asks for (IPv4, IPv6, Unix paths, lengths that are too short). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "proxy/addr.h"

static struct sockaddr_in in4(const char *ip, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	cr_assert_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	return a;
}

static struct sockaddr_in6 in6(const char *ip, int port, uint32_t scope)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6,
	                         .sin6_port = htons((uint16_t)port),
	                         .sin6_scope_id = scope};
	cr_assert_eq(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
	return a;
}

/* A Unix address as getsockname() gives it: the path and its NUL, no more. */
static socklen_t un(struct sockaddr_un *a, const char *path)
{
	*a = (struct sockaddr_un){.sun_family = AF_UNIX};
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

#define SA(x) ((const struct sockaddr *)&(x))

Test(addr, ipv4_address_and_port)
{
	struct sockaddr_in a = in4("127.0.0.1", 6432), b = in4("127.0.0.1", 6432);
	struct sockaddr_in c = in4("127.0.0.1", 6433), d = in4("127.0.0.2", 6432);
	struct sockaddr_in any = in4("0.0.0.0", 6432);
	cr_expect(proxy_addr_equal(SA(a), sizeof(a), SA(b), sizeof(b)));
	cr_expect_not(proxy_addr_equal(SA(a), sizeof(a), SA(c), sizeof(c)), "other port");
	cr_expect_not(proxy_addr_equal(SA(a), sizeof(a), SA(d), sizeof(d)), "other address");
	cr_expect_not(proxy_addr_equal(SA(a), sizeof(a), SA(any), sizeof(any)), "wildcard");
	/* bytes after the address (sin_zero) do not matter */
	memset(b.sin_zero, 0x5a, sizeof(b.sin_zero));
	cr_expect(proxy_addr_equal(SA(a), sizeof(a), SA(b), sizeof(b)));
}

Test(addr, ipv6_address_port_and_scope)
{
	struct sockaddr_in6 a = in6("::1", 6432, 0), b = in6("::1", 6432, 0);
	struct sockaddr_in6 c = in6("::1", 6433, 0), d = in6("fe80::1", 6432, 2);
	struct sockaddr_in6 e = in6("fe80::1", 6432, 3), any = in6("::", 6432, 0);
	b.sin6_flowinfo = 7; /* not part of the address */
	cr_expect(proxy_addr_equal(SA(a), sizeof(a), SA(b), sizeof(b)));
	cr_expect_not(proxy_addr_equal(SA(a), sizeof(a), SA(c), sizeof(c)));
	cr_expect_not(proxy_addr_equal(SA(d), sizeof(d), SA(e), sizeof(e)), "other scope");
	cr_expect_not(proxy_addr_equal(SA(a), sizeof(a), SA(any), sizeof(any)));
}

Test(addr, families_differ)
{
	struct sockaddr_in a = in4("127.0.0.1", 6432);
	struct sockaddr_in6 b = in6("::ffff:127.0.0.1", 6432, 0);
	struct sockaddr_un u;
	socklen_t ulen = un(&u, "/tmp/.s.PGSQL.6432");
	cr_expect_not(proxy_addr_equal(SA(a), sizeof(a), SA(b), sizeof(b)));
	cr_expect_not(proxy_addr_equal(SA(a), sizeof(a), SA(u), ulen));
	struct sockaddr other = {.sa_family = AF_PACKET};
	cr_expect_not(proxy_addr_equal(&other, sizeof(other), &other, sizeof(other)));
}

Test(addr, unix_paths)
{
	struct sockaddr_un a, b, c, d;
	socklen_t alen = un(&a, "/tmp/.s.PGSQL.6432");
	(void)un(&b, "/tmp/.s.PGSQL.6432");
	socklen_t clen = un(&c, "/tmp/.s.PGSQL.6432.takeover");
	socklen_t dlen = un(&d, "/tmp/.s.PGSQL.643");
	/* the configured address is the whole struct; the received one as long as its path */
	cr_expect(proxy_addr_equal(SA(a), alen, SA(b), sizeof(b)));
	cr_expect(proxy_addr_equal(SA(b), sizeof(b), SA(a), alen));
	cr_expect_not(proxy_addr_equal(SA(a), alen, SA(c), clen), "a longer path");
	cr_expect_not(proxy_addr_equal(SA(a), alen, SA(d), dlen), "a prefix");
	/* a path filling sun_path with no NUL, and without its NUL in the length */
	memset(a.sun_path, 'x', sizeof(a.sun_path));
	memset(b.sun_path, 'x', sizeof(b.sun_path));
	cr_expect(proxy_addr_equal(SA(a), sizeof(a), SA(b), sizeof(b)));
	alen = un(&a, "/tmp/s");
	cr_expect(proxy_addr_equal(SA(a), alen - 1, SA(b), un(&b, "/tmp/s")));
}

Test(addr, unnamed_and_short_never_match)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX}, b = {.sun_family = AF_UNIX};
	socklen_t head = (socklen_t)offsetof(struct sockaddr_un, sun_path);
	cr_expect_not(proxy_addr_equal(SA(a), head, SA(b), head), "unnamed sockets");
	cr_expect_not(proxy_addr_equal(SA(a), sizeof(a), SA(b), sizeof(b)), "empty paths");
	struct sockaddr_in x = in4("127.0.0.1", 1), y = in4("127.0.0.1", 1);
	for (socklen_t n = 0; n < sizeof(x); n++)
		cr_expect_not(proxy_addr_equal(SA(x), n, SA(y), sizeof(y)), "length %u", n);
	struct sockaddr_in6 p = in6("::1", 1, 0), q = in6("::1", 1, 0);
	for (socklen_t n = 0; n < sizeof(p); n++)
		cr_expect_not(proxy_addr_equal(SA(p), sizeof(p), SA(q), n), "length %u", n);
	cr_expect_not(proxy_addr_equal(SA(a), sizeof(a) + 1, SA(b), sizeof(b)), "too long");
}

Test(addr, find_first_match)
{
	struct sockaddr_storage have[3];
	socklen_t lens[3];
	struct sockaddr_in a = in4("127.0.0.1", 6432), b = in4("127.0.0.1", 9127);
	struct sockaddr_un u;
	lens[0] = un(&u, "/tmp/.s.PGSQL.6432");
	memcpy(&have[0], &u, lens[0]);
	memcpy(&have[1], &b, sizeof(b));
	lens[1] = sizeof(b);
	memcpy(&have[2], &a, sizeof(a));
	lens[2] = sizeof(a);
	cr_expect_eq(proxy_addr_find(have, lens, 3, SA(a), sizeof(a)), 2);
	cr_expect_eq(proxy_addr_find(have, lens, 3, SA(b), sizeof(b)), 1);
	cr_expect_eq(proxy_addr_find(have, lens, 3, SA(u), sizeof(u)), 0);
	struct sockaddr_in c = in4("127.0.0.1", 6433);
	cr_expect_eq(proxy_addr_find(have, lens, 3, SA(c), sizeof(c)), -1);
	cr_expect_eq(proxy_addr_find(have, lens, 0, SA(a), sizeof(a)), -1);
	lens[2] = 0; /* getsockname failed */
	cr_expect_eq(proxy_addr_find(have, lens, 3, SA(a), sizeof(a)), -1);
}

/* proxy/addr.c — socket address comparison for the takeover (proxy/takeover.c): a listening
 * socket received from the running pglane is matched to a listen setting by its address. */
#include "proxy/addr.h"

#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

static bool in4_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
                      socklen_t blen)
{
	if (alen < sizeof(struct sockaddr_in) || blen < sizeof(struct sockaddr_in))
		return false;
	const struct sockaddr_in *x = (const struct sockaddr_in *)a;
	const struct sockaddr_in *y = (const struct sockaddr_in *)b;
	return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

static bool in6_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
                      socklen_t blen)
{
	if (alen < sizeof(struct sockaddr_in6) || blen < sizeof(struct sockaddr_in6))
		return false;
	const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
	const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
	return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* The path of a Unix address: its length up to the first NUL or the end of the address. */
static size_t un_path_len(const struct sockaddr *a, socklen_t alen)
{
	size_t max = alen - offsetof(struct sockaddr_un, sun_path);
	const char *p = ((const struct sockaddr_un *)a)->sun_path;
	const char *nul = memchr(p, '\0', max);
	return nul ? (size_t)(nul - p) : max;
}

static bool un_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
                     socklen_t blen)
{
	size_t head = offsetof(struct sockaddr_un, sun_path);
	if (alen <= head || blen <= head || alen > sizeof(struct sockaddr_un) ||
	    blen > sizeof(struct sockaddr_un))
		return false; /* unnamed sockets match nothing */
	size_t n = un_path_len(a, alen);
	return n > 0 && n == un_path_len(b, blen) &&
	       memcmp(((const struct sockaddr_un *)a)->sun_path,
	              ((const struct sockaddr_un *)b)->sun_path, n) == 0;
}

bool proxy_addr_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
                      socklen_t blen)
{
	if (alen < sizeof(sa_family_t) || blen < sizeof(sa_family_t) ||
	    a->sa_family != b->sa_family)
		return false;
	switch (a->sa_family) {
	case AF_INET:
		return in4_equal(a, alen, b, blen);
	case AF_INET6:
		return in6_equal(a, alen, b, blen);
	case AF_UNIX:
		return un_equal(a, alen, b, blen);
	default:
		return false;
	}
}

int proxy_addr_find(const struct sockaddr_storage *have, const socklen_t *lens, int n,
                    const struct sockaddr *want, socklen_t wlen)
{
	for (int i = 0; i < n; i++)
		if (proxy_addr_equal((const struct sockaddr *)&have[i], lens[i], want, wlen))
			return i;
	return -1;
}

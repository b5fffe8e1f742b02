/* config/hba.c — matching a connection against the `hba` rules: the first rule whose
 * address (a range for TCP clients, "local" for Unix-socket clients, "all" for both), database
 * and user all match decides the authentication method. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/hba.h"

/* Does `ip` (text) fall in `cidr` ("all", "a.b.c.d/n", "x::y/n")? */
bool cfg_cidr_match(const char *cidr, const char *ip)
{
	if (strcmp(cidr, "all") == 0)
		return true;
	char net[64];
	const char *slash = strchr(cidr, '/');
	if (!slash || (size_t)(slash - cidr) >= sizeof(net))
		return false;
	memcpy(net, cidr, (size_t)(slash - cidr));
	net[slash - cidr] = '\0';
	char *end;
	long bits = strtol(slash + 1, &end, 10);
	if (*end || bits < 0)
		return false;
	unsigned char a[16], b[16];
	size_t len;
	if (inet_pton(AF_INET, net, a) == 1 && inet_pton(AF_INET, ip, b) == 1) {
		len = 4;
	} else if (inet_pton(AF_INET6, net, a) == 1 && inet_pton(AF_INET6, ip, b) == 1) {
		len = 16;
	} else if (inet_pton(AF_INET6, net, a) == 1 && inet_pton(AF_INET, ip, b + 12) == 1) {
		/* an IPv4 client against an IPv6 range: its v4-mapped form */
		memset(b, 0, 10);
		b[10] = b[11] = 0xff;
		len = 16;
	} else {
		return false;
	}
	if ((size_t)bits > len * 8)
		return false;
	size_t full = (size_t)bits / 8;
	if (memcmp(a, b, full) != 0)
		return false;
	int rest = (int)(bits % 8);
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

bool cfg_hba_address_match(const char *address, const char *ip)
{
	if (strcmp(address, "all") == 0)
		return true;
	if (!ip)
		return strcmp(address, "local") == 0;
	return cfg_cidr_match(address, ip);
}

const struct cfg_hba *cfg_hba_match(const struct cfg *c, const char *ip, const char *database,
                                    const char *user)
{
	for (size_t i = 0; i < c->nhba; i++) {
		const struct cfg_hba *h = &c->hba[i];
		if (!cfg_hba_address_match(h->address, ip))
			continue;
		if (strcmp(h->database, "all") != 0 && strcmp(h->database, database) != 0)
			continue;
		if (strcmp(h->user, "all") != 0 && strcmp(h->user, user) != 0)
			continue;
		return h;
	}
	return NULL;
}

/* config/conninfo.c — libpq connection strings: quoted pairs, hostaddr from a resolver. */
#include "config/conninfo.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void cfg_conninfo_kv(char *out, size_t cap, const char *key, const char *value)
{
	size_t n = strlen(out);
	if (n + 1 >= cap)
		return;
	snprintf(out + n, cap - n, "%s%s='", n ? " " : "", key);
	n = strlen(out);
	for (const char *p = value; *p && n + 3 < cap; p++) {
		if (*p == '\'' || *p == '\\')
			out[n++] = '\\';
		out[n++] = *p;
	}
	out[n++] = '\'';
	out[n] = '\0';
}

int cfg_conninfo_hostaddr(char *out, size_t cap, const char *hosts, cfg_conninfo_resolver resolve,
                          char *err, size_t errcap)
{
	char addrs[512] = "";
	bool names = false;
	for (const char *h = hosts; *h;) {
		size_t n = strcspn(h, ",");
		char one[256], ip[64] = "";
		snprintf(one, sizeof(one), "%.*s", (int)n, h);
		if (one[0] != '/') {
			int r = resolve(one, ip, sizeof(ip), err, errcap);
			if (r <= 0)
				return r;
			names |= strcmp(ip, one) != 0;
		}
		size_t at = strlen(addrs);
		snprintf(addrs + at, sizeof(addrs) - at, "%s%s", h != hosts ? "," : "", ip);
		h += n + (h[n] == ',');
	}
	if (names)
		cfg_conninfo_kv(out, cap, "hostaddr", addrs);
	return 1;
}

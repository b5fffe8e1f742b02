/* config/cfg_hosts.c — a database's several hosts: the comma-separated `host` and `port`
 * lists split into the endpoints pglane tries in order, and the target_session_attrs rule
 * that says which server of them will do. Pure code. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"
#include "config/cfg_private.h"

const char *const cfg_tsa_names[CFG_TSA_COUNT] = {"any",     "read-write", "read-only",
                                                  "primary", "standby",    "prefer-standby"};

const char *cfg_tsa_name(enum cfg_tsa t)
{
	return (unsigned)t < CFG_TSA_COUNT ? cfg_tsa_names[t] : "?";
}

bool cfg_tsa_accepts(enum cfg_tsa t, bool standby, bool read_only)
{
	switch (t) {
	case CFG_TSA_READ_WRITE:
		return !standby && !read_only;
	case CFG_TSA_READ_ONLY:
		return standby || read_only;
	case CFG_TSA_PRIMARY:
		return !standby;
	case CFG_TSA_STANDBY:
		return standby;
	case CFG_TSA_ANY:
	case CFG_TSA_PREFER_STANDBY:
	case CFG_TSA_COUNT:
		break;
	}
	return true;
}

void cfg_endpoints_free(struct cfg_endpoint *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i].host);
	free(v);
}

/* The next comma-separated item of *p, spaces around it dropped, into item[cap]; false when
 * it is empty or too long. *p moves past the comma (NULL after the last item). */
static bool next_item(const char **p, char *item, size_t cap)
{
	const char *s = *p;
	const char *comma = strchr(s, ',');
	const char *end = comma ? comma : s + strlen(s);
	*p = comma ? comma + 1 : NULL;
	while (s < end && isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	if (end == s || (size_t)(end - s) >= cap)
		return false;
	memcpy(item, s, (size_t)(end - s));
	item[end - s] = '\0';
	return true;
}

static size_t count_items(const char *s)
{
	size_t n = 1;
	for (; *s; s++)
		n += *s == ',';
	return n;
}

static bool parse_port(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || end == s || v < 1 || v > 65535)
		return false;
	*out = (int)v;
	return true;
}

bool cfg_hosts_parse(const char *hosts, const char *ports, int port, struct cfg_endpoint **out,
                     size_t *n, char *err, size_t errcap)
{
	size_t nh = count_items(hosts);
	size_t np = ports && ports[0] ? count_items(ports) : 0;
	char item[256];
	*out = NULL;
	*n = 0;
	if (nh > CFG_HOSTS_MAX) {
		snprintf(err, errcap, "more than %d hosts", CFG_HOSTS_MAX);
		return false;
	}
	if (np > 1 && np != nh) {
		snprintf(err, errcap, "%zu ports for %zu hosts (give one port, or one per host)",
		         np, nh);
		return false;
	}
	struct cfg_endpoint *v = calloc(nh, sizeof(*v));
	if (!v) {
		snprintf(err, errcap, "out of memory");
		return false;
	}
	const char *hp = hosts, *pp = np ? ports : NULL;
	for (size_t i = 0; i < nh; i++) {
		v[i].port = port;
		if (pp || (np == 1 && i > 0)) {
			if (np == 1 && i > 0)
				v[i].port = v[0].port;
			else if (!next_item(&pp, item, sizeof(item)) ||
			         !parse_port(item, &v[i].port)) {
				snprintf(err, errcap, "port %zu of \"%s\" is not a port number",
				         i + 1, ports);
				goto fail;
			}
		}
		if (!next_item(&hp, item, sizeof(item))) {
			snprintf(err, errcap, "host %zu of \"%s\" is empty or too long", i + 1,
			         hosts);
			goto fail;
		}
		v[i].host = strdup(item);
		if (!v[i].host) {
			snprintf(err, errcap, "out of memory");
			goto fail;
		}
	}
	*out = v;
	*n = nh;
	return true;
fail:
	cfg_endpoints_free(v, nh);
	return false;
}

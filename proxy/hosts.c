/* proxy/hosts.c — the choice among a database's several hosts and the target_session_attrs
 * checks of its servers (see proxy/hosts.h). */
#include "proxy/hosts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/health.h"
#include "proxy/conn_log.h"
#include "proxy/server.h"

/* The last host of a database that logged in and fit (keyed by its name and host list, so a
 * reload that changes the list starts afresh). */
struct good {
	struct good *next;
	char *key; /* owned: "name\nhost list" */
	int host;
};

static struct good *goods;

static struct good *good_find(const struct cfg_database *dc, bool create)
{
	char key[1024];
	snprintf(key, sizeof(key), "%s\n%s\n%s", dc->name, dc->host, dc->port_list);
	for (struct good *g = goods; g; g = g->next)
		if (strcmp(g->key, key) == 0)
			return g;
	if (!create)
		return NULL;
	struct good *g = calloc(1, sizeof(*g));
	if (!g || !(g->key = strdup(key))) {
		free(g);
		return NULL;
	}
	g->next = goods;
	goods = g;
	return g;
}

void proxy_hosts_clear(void)
{
	while (goods) {
		struct good *g = goods;
		goods = g->next;
		free(g->key);
		free(g);
	}
}

int proxy_hosts_attempts(const struct cfg_database *dc)
{
	int n = (int)dc->nhosts;
	return dc->target_session_attrs == CFG_TSA_PREFER_STANDBY ? 2 * n : n;
}

enum cfg_tsa proxy_hosts_rule(const struct cfg_database *dc, int tried)
{
	if (dc->target_session_attrs != CFG_TSA_PREFER_STANDBY)
		return dc->target_session_attrs;
	return tried < (int)dc->nhosts ? CFG_TSA_STANDBY : CFG_TSA_ANY;
}

/* The role the monitor last saw at host `i` (healthy answers only). */
static enum pool_role monitored_role(const struct cfg_database *dc, size_t i)
{
	const struct pool_health *h =
	        pool_health_find(dc->name, dc->hosts[i].host, dc->hosts[i].port);
	return h && h->healthy ? h->role : POOL_ROLE_UNKNOWN;
}

int proxy_hosts_first(const struct cfg_database *dc)
{
	if (dc->nhosts < 2)
		return 0;
	enum pool_role want = POOL_ROLE_UNKNOWN;
	switch (dc->target_session_attrs) {
	case CFG_TSA_READ_WRITE:
	case CFG_TSA_PRIMARY:
		want = POOL_ROLE_PRIMARY;
		break;
	case CFG_TSA_STANDBY:
	case CFG_TSA_PREFER_STANDBY:
	case CFG_TSA_READ_ONLY:
		want = POOL_ROLE_REPLICA;
		break;
	case CFG_TSA_ANY:
	case CFG_TSA_COUNT:
		break;
	}
	const struct good *g = good_find(dc, false);
	int last = g && g->host < (int)dc->nhosts ? g->host : 0;
	if (want == POOL_ROLE_UNKNOWN || monitored_role(dc, (size_t)last) == want)
		return last;
	for (size_t i = 0; i < dc->nhosts; i++)
		if (monitored_role(dc, i) == want)
			return (int)i;
	return last;
}

void proxy_hosts_good(const struct cfg_database *dc, int host)
{
	if (dc->nhosts < 2)
		return;
	struct good *g = good_find(dc, true);
	if (g)
		g->host = host;
}

const char *proxy_hosts_role_name(bool standby, bool read_only)
{
	return standby ? "in hot standby" : read_only ? "read-only" : "read-write";
}

void proxy_hosts_param(struct proxy_server *s, const char *name, const char *value)
{
	bool on = strcmp(value, "on") == 0;
	if (strcmp(name, "in_hot_standby") == 0)
		s->hot_standby = on;
	else if (strcmp(name, "default_transaction_read_only") == 0)
		s->read_only = on;
	else
		return;
	if (s->state != SERVER_READY || s->ps.close_on_release ||
	    cfg_tsa_accepts(s->rule, s->hot_standby, s->read_only))
		return;
	conn_warning(s, "the server is now %s: target_session_attrs is %s, closed on release",
	             proxy_hosts_role_name(s->hot_standby, s->read_only), cfg_tsa_name(s->rule));
	s->ps.close_on_release = true;
}

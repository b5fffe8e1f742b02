/* proxy/hosts.c — the choice among a database's several hosts and the target_session_attrs
 * checks of its servers (see proxy/hosts.h). */
#include "proxy/hosts.h"

#include <string.h>

#include "pool/health.h"
#include "proxy/conn_log.h"
#include "proxy/server.h"

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
	int last = pool_health_current(dc);
	if (last < 0)
		last = 0;
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
	pool_health_current_set(dc, (size_t)host);
}

const char *proxy_hosts_role_name(bool standby, bool read_only)
{
	return standby ? "in hot standby" : read_only ? "read-only" : "read-write";
}

void proxy_hosts_param(struct proxy_server *s, const char *name, const char *value)
{
	bool on = strcmp(value, "on") == 0;
	if (strcmp(name, "default_transaction_read_only") == 0) {
		if (s->state != SERVER_READY)
			s->read_only = on; /* at login; later it is a client's own SET */
		return;
	}
	if (strcmp(name, "in_hot_standby") != 0)
		return;
	s->hot_standby = on;
	if (s->state != SERVER_READY || s->ps.close_on_release ||
	    cfg_tsa_accepts(s->rule, s->hot_standby, s->read_only))
		return;
	conn_warning(s, "the server is now %s: target_session_attrs is %s, closed on release",
	             proxy_hosts_role_name(s->hot_standby, s->read_only), cfg_tsa_name(s->rule));
	s->ps.close_on_release = true;
}

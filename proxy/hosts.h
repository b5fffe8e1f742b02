/* proxy/hosts.h — the hosts of a database with several (databases[].host = "h1,h2"): which
 * one a new server connection tries first (the one the monitor sees in the wanted role, else
 * the last one that fit, else the first), the next one after a failed login, and whether a
 * server fits target_session_attrs, at login and when its in_hot_standby changes later. The
 * last good host of each database is kept in pool/health (pool_health_current), where SHOW
 * DATABASES reads it. */
#ifndef PGLANE_PROXY_HOSTS_H
#define PGLANE_PROXY_HOSTS_H

#include <stdbool.h>

#include "config/cfg.h"

struct proxy_server;

/* The index in dc->hosts a new server of `dc` goes to first. */
int proxy_hosts_first(const struct cfg_database *dc);
/* How many hosts one round of a new server may try: every host once (twice with
 * prefer-standby: standbys only, then any). */
int proxy_hosts_attempts(const struct cfg_database *dc);
/* The rule the `tried`-th attempt of a round applies (prefer-standby is standby in the first
 * pass, any in the second). */
enum cfg_tsa proxy_hosts_rule(const struct cfg_database *dc, int tried);
/* Host `host` of `dc` logged in and fit: the next round starts there. */
void proxy_hosts_good(const struct cfg_database *dc, int host);
/* A ParameterStatus from a server. At login in_hot_standby and default_transaction_read_only
 * say how it stands; later (in use) a change of in_hot_standby (its standby was promoted) that
 * makes it no longer fit its rule closes it on release: never handed out again.
 * default_transaction_read_only then is a client's own SET and changes nothing here. */
void proxy_hosts_param(struct proxy_server *s, const char *name, const char *value);
/* "in hot standby", "read-only", "read-write": how a server stands, for messages. */
const char *proxy_hosts_role_name(bool standby, bool read_only);

#endif

/* proxy/startup.c — a client's start-up parameters become the first settings of its session
 * (pool/session.h): each name=value, `options=-c name=value --name=value`, names listed in
 * ignore_startup_parameters dropped, replication refused, protocol options (_pq_.*) and the
 * admin console's parameters ignored. The names are checked against the server's settings at
 * the welcome (proxy/session.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/log.h"
#include "pool/params.h"
#include "pool/session.h"
#include "protocol/msg.h"
#include "protocol/sql.h"
#include "protocol/startup.h"
#include "proxy/client.h"
#include "proxy/conn_log.h"
#include "proxy/context.h"
#include "proxy/startup.h"

/* The pool settings that apply to a client's start-up: its database's oltp lane, else the
 * defaults. */
static const struct cfg_pool *startup_pool_cfg(const char *database)
{
	const struct cfg_database *dc = cfg_database_find(proxy.cfg, database);
	return dc ? &dc->lanes[CFG_LANE_OLTP].pool : &proxy.cfg->pool;
}

/* A start-up setting: the client's first value of it (ignore_startup_parameters drops it).
 * False when the client was closed. */
static bool startup_setting(struct proxy_client *c, const struct cfg_pool *pc, const char *name,
                            const char *value)
{
	if (cfg_ignores_startup_parameter(pc, name)) {
		conn_debug(c, "ignoring startup parameter %s (ignore_startup_parameters)", name);
		return true;
	}
	if (strlen(name) >= PROTO_SQL_SETTING_LEN) {
		char msg[128];
		snprintf(msg, sizeof(msg), "unrecognized configuration parameter \"%.63s\"", name);
		proxy_client_fatal(c, PROTO_SQLSTATE_UNDEFINED_OBJECT, msg);
		return false;
	}
	int idx = pool_params_index(name);
	if (idx >= 0)
		pool_params_set(&c->pc.params, idx, value);
	if (!pool_session_startup(&c->pc.session, name, value)) {
		proxy_client_close(c, PROTO_SQLSTATE_INTERNAL, "out of memory");
		return false;
	}
	return true;
}

/* `options=-c name=value ...`: each a start-up setting. False when the client was closed. */
static bool startup_options(struct proxy_client *c, const struct cfg_pool *pc, const char *value)
{
	if (!value[0])
		return true;
	if (cfg_ignores_startup_parameter(pc, "options")) {
		conn_debug(c, "ignoring startup parameter options");
		return true;
	}
	struct proto_option opts[PROTO_STARTUP_MAX_PARAMS];
	char *buf = malloc(strlen(value) + 1);
	char bad[64];
	if (!buf) {
		proxy_client_close(c, PROTO_SQLSTATE_INTERNAL, "out of memory");
		return false;
	}
	int n = proto_startup_options(value, buf, opts, PROTO_STARTUP_MAX_PARAMS, bad, sizeof(bad));
	if (n < 0) {
		char msg[200];
		if (n == -2)
			snprintf(msg, sizeof(msg),
			         "too many settings in startup parameter \"options\"");
		else
			snprintf(msg, sizeof(msg),
			         "startup option \"%s\" is not supported by pglane (only -c "
			         "name=value "
			         "and --name=value)",
			         bad);
		free(buf);
		proxy_client_fatal(c, PROTO_SQLSTATE_FEATURE_NOT_SUPPORTED, msg);
		return false;
	}
	bool ok = true;
	for (int i = 0; i < n && ok; i++)
		ok = startup_setting(c, pc, opts[i].name, opts[i].value);
	free(buf);
	return ok;
}

bool proxy_startup_take(struct proxy_client *c, const struct proto_startup *s)
{
	const struct cfg_pool *pc = startup_pool_cfg(s->database);
	for (size_t i = 0; i < s->nparams; i++) {
		const char *name = s->params[i].name, *value = s->params[i].value;
		if (strcmp(name, "user") == 0 || strcmp(name, "database") == 0)
			continue;
		if (strcmp(name, "replication") == 0) {
			if (strcmp(value, "false") != 0 && strcmp(value, "0") != 0 &&
			    strcmp(value, "off") != 0) {
				proxy_client_fatal(c, PROTO_SQLSTATE_FEATURE_NOT_SUPPORTED,
				                   "replication connections are not supported by "
				                   "pglane");
				return false;
			}
			continue;
		}
		if (c->want_admin) {
			conn_debug(c, "admin console: ignoring startup parameter %s", name);
			continue;
		}
		if (strncmp(name, "_pq_.", 5) == 0) {
			/* a protocol extension: PostgreSQL 15 ignores those it does not know */
			conn_debug(c, "ignoring protocol option %s", name);
			continue;
		}
		bool ok = strcmp(name, "options") == 0 ? startup_options(c, pc, value)
		                                       : startup_setting(c, pc, name, value);
		if (!ok)
			return false;
	}
	return true;
}

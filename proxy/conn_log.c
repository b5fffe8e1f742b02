/* proxy/conn_log.c — who a connection is and what it is doing, for log lines. */
#include "proxy/conn_log.h"

#include <stdio.h>

#include "proxy/admin_client.h"
#include "proxy/client.h"
#include "proxy/server.h"

const char *proxy_client_name(const struct proxy_client *c, char *buf, size_t cap)
{
	if (c->admin)
		snprintf(buf, cap, "c%u %s@pglane %s", c->id, proxy_admin_user(c), c->addr);
	else if (c->pc.pool)
		snprintf(buf, cap, "c%u %s@%s %s", c->id, c->pc.pool->user->name,
		         c->pc.pool->db->name, c->addr);
	else
		snprintf(buf, cap, "c%u %s", c->id, c->addr);
	return buf;
}

static const char *client_action(const struct proxy_client *c, char *buf, size_t cap)
{
	switch (c->state) {
	case CLIENT_STARTUP:
		return "while reading the startup packet";
	case CLIENT_TLS:
		return "during the TLS handshake";
	case CLIENT_AUTH:
		return "while authenticating";
	case CLIENT_WELCOME:
		return "while waiting for the first server login";
	case CLIENT_CLOSED:
		return "closed";
	case CLIENT_READY:
		break;
	}
	if (c->admin)
		return "in the console";
	if (c->paused)
		return "while waiting for a server";
	if (c->pc.server) {
		const struct proxy_server *s = proxy_server_of(c->pc.server);
		snprintf(buf, cap, "on s%u", s->id);
		return buf;
	}
	return "idle";
}

const char *proxy_client_who(const struct proxy_client *c, char *buf, size_t cap)
{
	char name[PROXY_WHO_LEN], act[32];
	proxy_client_name(c, name, sizeof(name));
	const char *a = client_action(c, act, sizeof(act));
	snprintf(buf, cap, "%s %s", name, a);
	return buf;
}

static const char *server_action(const struct proxy_server *s, char *buf, size_t cap)
{
	switch (s->state) {
	case SERVER_CONNECTING:
		return "while connecting";
	case SERVER_SSL:
		return "while asking for TLS";
	case SERVER_TLS:
		return "during the TLS handshake";
	case SERVER_LOGIN:
		return "while logging in";
	case SERVER_CLOSED:
		return "closed";
	case SERVER_READY:
		break;
	}
	if (s->ps.client) {
		snprintf(buf, cap, "serving c%u", proxy_client_of(s->ps.client)->id);
		return buf;
	}
	switch (s->ps.state) {
	case POOL_SERVER_LOGIN:
		return "while logging in";
	case POOL_SERVER_IDLE:
		return "idle";
	default:
		return "busy with pglane's own work";
	}
}

const char *proxy_server_who(const struct proxy_server *s, char *buf, size_t cap)
{
	char act[32];
	const char *a = server_action(s, act, sizeof(act));
	const struct pool *p = s->ps.pool;
	if (p)
		snprintf(buf, cap, "s%u %s@%s %s", s->id, p->user->name, p->db->name, a);
	else
		snprintf(buf, cap, "s%u %s", s->id, a);
	return buf;
}

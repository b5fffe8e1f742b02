/* proxy/lane.c — the lane of a client's transaction: the text it starts with (a Query's, a
 * Parse's, or the statement a Bind runs) is searched for a lane hint, pool/route.c decides
 * with the routes and the database's default, and the client moves to that lane's pool. */
#include "proxy/lane.h"

#include <string.h>

#include "pool/route.h"
#include "protocol/extended.h"
#include "protocol/frame.h"
#include "protocol/msg.h"
#include "protocol/sql.h"
#include "proxy/client.h"
#include "proxy/context.h"

/* The client's pool in `lane` (created on first use). */
static struct pool *lane_pool(struct proxy_client *c, enum cfg_lane_kind lane)
{
	if (!c->lanes[lane])
		c->lanes[lane] =
		        pool_get(proxy.cfg, c->pc.pool->db->name, c->pc.pool->user->name, lane);
	return c->lanes[lane];
}

/* The text a transaction starts with, for its lane hint: a Query's, a Parse's, or that of
 * the statement a Bind runs. */
static const char *first_text(struct proxy_client *c, const uint8_t *msg, size_t avail, size_t *len)
{
	const uint8_t *body = msg + PROTO_HEADER_SIZE;
	size_t n = avail - PROTO_HEADER_SIZE;
	const char *name;
	switch (msg[0]) {
	case PROTO_FE_QUERY:
		*len = n;
		return (const char *)body;
	case PROTO_FE_PARSE: {
		const uint8_t *nul = memchr(body, 0, n);
		if (!nul)
			return NULL;
		*len = n - (size_t)(nul + 1 - body);
		return (const char *)nul + 1;
	}
	case PROTO_FE_BIND: {
		const char *portal;
		size_t end;
		if (!proto_parse_bind_names(body, n, &portal, &name, &end))
			return NULL;
		struct pool_stmt *st =
		        c->stmts && name[0] ? pool_stmt_map_get(c->stmts, name) : NULL;
		if (st) {
			*len = st->len;
			return (const char *)st->body;
		}
		if (!name[0] && c->unnamed_len > PROTO_HEADER_SIZE) {
			const uint8_t *u = c->unnamed + PROTO_HEADER_SIZE;
			const uint8_t *nul = memchr(u, 0, c->unnamed_len - PROTO_HEADER_SIZE);
			if (nul) {
				*len = c->unnamed_len - (size_t)(nul + 1 - c->unnamed);
				return (const char *)nul + 1;
			}
		}
		return NULL;
	}
	default:
		return NULL;
	}
}

/* Pick the lane of the transaction the message starts (session mode: once per client). */
void proxy_lane_choose(struct proxy_client *c, const uint8_t *msg, size_t avail)
{
	struct pool *cur = c->pc.pool;
	if (c->routed && pool_cfg(cur)->mode == CFG_POOL_SESSION)
		return;
	char hint[16];
	size_t len = 0;
	const char *text = first_text(c, msg, avail, &len);
	bool hinted = text && proto_sql_lane_hint(text, len, hint, sizeof(hint));
	int app = POOL_PARAM_APPLICATION_NAME;
	const struct pool_str *appv = app >= 0 ? c->pc.params.v[app] : NULL;
	enum cfg_lane_kind lane =
	        pool_route(proxy.cfg, cur->db->cfg, cur->db->name, cur->user->name,
	                   appv ? appv->s : NULL, hinted ? hint : NULL);
	struct pool *p = lane_pool(c, lane);
	c->routed = true;
	if (!p || p == cur)
		return;
	cur->n_clients--;
	p->n_clients++;
	c->pc.pool = p;
}

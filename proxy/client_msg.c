/* proxy/client_msg.c — each message of a logged-in client, before it goes on: answered by
 * pglane (proxy/handled.c: DISCARD ALL, DEALLOCATE, refusals), its statements renamed and
 * placed (proxy/prepared.c, transaction mode), recorded in its server's ledger as what the
 * server now owes (pool/ledger.h), and the statement texts kept for the slow query log. */
#include "proxy/client_msg.h"

#include <string.h>

#include "pool/ledger.h"
#include "protocol/extended.h"
#include "protocol/frame.h"
#include "protocol/msg.h"
#include "protocol/sql.h"
#include "proxy/client.h"
#include "proxy/handled.h"
#include "proxy/prepared.h"
#include "proxy/requests.h"
#include "proxy/server.h"

/* The text of the client's last unnamed statement. */
static const char *unnamed_text(const struct proxy_client *c, size_t *len)
{
	const char *name;
	size_t rest;
	if (!c->unnamed_len || !proto_parse_parse(c->unnamed + PROTO_HEADER_SIZE,
	                                          c->unnamed_len - PROTO_HEADER_SIZE, &name, &rest))
		return NULL;
	return proto_sql_parse_text(c->unnamed + PROTO_HEADER_SIZE + rest,
	                            c->unnamed_len - PROTO_HEADER_SIZE - rest, len);
}

/* Keep what the slow query log needs to name a statement: the text of a Query, the
 * statement of a Bind for the Execute that follows. */
static void note_statement(struct proxy_client *c, struct proxy_server *s, bool prepared,
                           const uint8_t *msg, size_t avail, size_t size, struct proxy_scan *sc)
{
	if (pool_cfg(c->pc.pool)->slow_query_ms <= 0)
		return;
	struct pool_req *tail = pool_ledger_tail(&s->led);
	switch (msg[0]) {
	case PROTO_FE_QUERY:
		if (tail && tail->type == PROTO_FE_QUERY)
			tail->text_seq = pool_ledger_keep_text(
			        &s->led, (const char *)msg + PROTO_HEADER_SIZE,
			        (avail < size ? avail : size) - PROTO_HEADER_SIZE);
		break;
	case PROTO_FE_PARSE:
		if (!prepared)
			proxy_prepared_remember(c, msg, avail, size, sc);
		break;
	case PROTO_FE_BIND: {
		const char *portal, *name, *text = NULL;
		size_t end, len = 0;
		if (!proto_parse_bind_names(msg + PROTO_HEADER_SIZE, avail - PROTO_HEADER_SIZE,
		                            &portal, &name, &end))
			pool_ledger_bind(&s->led, NULL, NULL, 0);
		else if (name[0])
			pool_ledger_bind(&s->led, proxy_prepared_lookup(c, name), NULL, 0);
		else if ((text = unnamed_text(c, &len)) != NULL)
			pool_ledger_bind(&s->led, NULL, text, len);
		else
			pool_ledger_bind(&s->led, NULL, NULL, 0);
		break;
	}
	case PROTO_FE_EXECUTE:
		pool_ledger_execute(&s->led);
		break;
	default:
		break;
	}
}

enum proxy_msg_result proxy_client_msg_unlinked(struct proxy_client *c, const uint8_t *msg,
                                                size_t avail, size_t size, struct proxy_scan *sc)
{
	enum proxy_msg_result r = proxy_handled_unlinked(c, msg, avail, size, sc);
	if (r != MSG_FORWARD)
		return r;
	return proxy_prepared_unlinked(c, msg, size);
}

enum proxy_msg_result proxy_client_msg_linked(struct proxy_client *c, struct proxy_server *s,
                                              const uint8_t *msg, size_t avail, size_t size,
                                              struct proxy_scan *sc)
{
	uint8_t type = msg[0];
	bool prepared = proxy_prepared_mode(c);
	pool_ledger_sent(&s->led, type);
	if (type == PROTO_FE_PARSE && !prepared && avail > PROTO_HEADER_SIZE &&
	    msg[PROTO_HEADER_SIZE] != '\0')
		c->named_on_server = true; /* its statement lives on that server only */
	if (!proxy_prepared_room(&s->conn))
		return MSG_NO_ROOM;
	enum proxy_msg_result r = proxy_handled_linked(c, s, msg, avail, size, sc);
	if (r == MSG_ERROR)
		proxy_client_close(c, PROTO_SQLSTATE_INTERNAL,
		                   "out of memory handling a statement");
	if (r != MSG_FORWARD)
		return r;
	if (prepared)
		r = proxy_prepared_linked(c, s, msg, avail, size, sc);
	if (r == MSG_FORWARD) {
		/* as it is; the server's answer goes to the client */
		bool ok = true;
		if (type != PROTO_FE_FLUSH && type != PROTO_FE_COPY_DATA &&
		    type != PROTO_FE_COPY_DONE && type != PROTO_FE_COPY_FAIL)
			ok = proxy_req_push(s, type, POOL_REQ_FORWARD, NULL, 0);
		r = ok ? MSG_PASS : MSG_ERROR;
	}
	if (r == MSG_PASS || r == MSG_DONE)
		note_statement(c, s, prepared, msg, avail, size, sc);
	if (r == MSG_ERROR)
		proxy_client_close(c, PROTO_SQLSTATE_INTERNAL,
		                   "out of memory handling a statement");
	return r;
}

/* proxy/prepared.c — prepared statements in transaction mode: a named statement is tracked per
 * client and exists on whichever server runs its Bind or Describe (re-Parsed there under its
 * pglane-wide name, evicting the least recently used one past max_prepared_statements); Close of it
 * is answered by pglane (DEALLOCATE and DISCARD ALL by proxy/handled.c, which looks at each message
 * first); an unnamed statement parsed before a Sync is replayed when a later Bind lands on a server
 * that no longer has it. proxy/client_msg.c calls it for each client message. */
#include <stdlib.h>
#include <string.h>

#include "config/log.h"
#include "protocol/buf.h"
#include "protocol/extended.h"
#include "protocol/frame.h"
#include "protocol/msg.h"
#include "protocol/sql.h"
#include "proxy/client.h"
#include "proxy/client_msg.h"
#include "proxy/conn_log.h"
#include "proxy/handled.h"
#include "proxy/io.h"
#include "proxy/prepared.h"
#include "proxy/requests.h"
#include "proxy/server.h"

#define BIND_PEEK       (2 * PROTO_MAX_NAME + 2)
#define HANDLER_SCRATCH 160 /* scratch bytes a handler may write */
#define HANDLER_IOVS    6

bool proxy_prepared_mode(const struct proxy_client *c)
{
	const struct cfg_pool *pc = pool_cfg(c->pc.pool);
	return pc->mode == CFG_POOL_TRANSACTION && pc->max_prepared_statements > 0;
}

uint32_t proxy_prepared_peek(const struct proxy_client *c, uint8_t type, size_t size)
{
	size_t want = 0;
	switch (type) {
	case PROTO_FE_QUERY:
	case PROTO_FE_PARSE:
		/* whole (its SQL scanned, a Parse renamed, replayed, its text kept), unless too
		 * large to look at */
		want = size <= PROXY_BUF_MAX ? size : 0;
		break;
	case PROTO_FE_EXECUTE:
		want = size <= PROTO_HEADER_SIZE + PROTO_MAX_NAME + 4 ? size : 0;
		break;
	case PROTO_FE_DESCRIBE:
	case PROTO_FE_CLOSE:
		want = proxy_prepared_mode(c) ? size : 0;
		break;
	case PROTO_FE_BIND:
		want = size < PROTO_HEADER_SIZE + BIND_PEEK ? size : PROTO_HEADER_SIZE + BIND_PEEK;
		break;
	default:
		break;
	}
	return (uint32_t)want;
}

bool proxy_prepared_room(struct proxy_conn *conn)
{
	size_t avail;
	return proxy_out_space(conn, &avail) && avail >= HANDLER_SCRATCH &&
	       conn->io->niov <= PROXY_IOV_MAX - HANDLER_IOVS;
}

static struct proto_writer scratch_writer(struct proxy_conn *conn)
{
	size_t avail;
	uint8_t *space = proxy_out_space(conn, &avail);
	struct proto_writer w;
	proto_writer_init(&w, space, space ? avail : 0);
	return w;
}

static bool commit(struct proxy_conn *conn, struct proto_writer *w)
{
	return proto_writer_ok(w) && proxy_out_commit(conn, w->len);
}

enum proxy_msg_result proxy_prepared_consumed(struct proxy_client *c, size_t size)
{
	c->conn.io->drop = (uint32_t)size;
	return MSG_DONE;
}

static enum proxy_msg_result consumed(struct proxy_client *c, size_t size)
{
	return proxy_prepared_consumed(c, size);
}

static void forget_unnamed(struct proxy_client *c)
{
	c->unnamed_len = 0;
}

void proxy_prepared_client_free(struct proxy_client *c)
{
	proxy_handled_client_free(c);
	pool_stmt_map_free(c->stmts);
	c->stmts = NULL;
	free(c->unnamed);
	c->unnamed = NULL;
	c->unnamed_len = c->unnamed_cap = 0;
}

void proxy_prepared_server_reset(struct proxy_server *s)
{
	pool_ledger_stmts_gone(&s->led, s->stmts);
}

void proxy_prepared_drained(struct proxy_client *c)
{
	c->unnamed_inflight = false;
}

enum proxy_msg_result proxy_prepared_answer(struct proxy_client *c, size_t size,
                                            enum pool_fake fake, const char *text, bool ready)
{
	if (!proxy_prepared_room(&c->conn))
		return MSG_NO_ROOM;
	struct proto_writer w = scratch_writer(&c->conn);
	pool_fake_write(&w, fake, text, PROTO_TX_IDLE);
	if (ready)
		proto_write_ready(&w, PROTO_TX_IDLE);
	if (!commit(&c->conn, &w)) {
		proxy_client_close(c, PROTO_SQLSTATE_INTERNAL, "cannot queue an answer");
		return MSG_ERROR;
	}
	return consumed(c, size);
}

struct pool_stmt *proxy_prepared_lookup(const struct proxy_client *c, const char *name)
{
	return c->stmts && name[0] ? pool_stmt_map_get(c->stmts, name) : NULL;
}

static struct pool_stmt *lookup(const struct proxy_client *c, const char *name)
{
	return proxy_prepared_lookup(c, name);
}

void proxy_prepared_forget(struct proxy_client *c, const char *name)
{
	if (c->stmts)
		pool_stmt_map_del(c->stmts, name);
}

void proxy_prepared_forget_all(struct proxy_client *c)
{
	if (c->stmts)
		pool_stmt_map_clear(c->stmts);
	forget_unnamed(c);
}

/* A Parse of a named statement from a client with no server: when the statement parsed on
 * a server of its pool before (so it parses for this database and user), the client only
 * learns the name (no server is taken, so a client that prepares
 * synchronously while others of its thread hold servers cannot deadlock them). */
static enum proxy_msg_result parse_unlinked(struct proxy_client *c, const uint8_t *msg, size_t size)
{
	const char *name;
	size_t rest;
	const uint8_t *body = msg + PROTO_HEADER_SIZE;
	if (!proto_parse_parse(body, size - PROTO_HEADER_SIZE, &name, &rest) || !name[0])
		return MSG_FORWARD;
	struct pool_stmt *stmt = pool_stmt_get(body + rest, size - PROTO_HEADER_SIZE - rest);
	if (!stmt)
		return MSG_FORWARD;
	enum proxy_msg_result r = MSG_FORWARD;
	if (lookup(c, name)) {
		pool_stmt_put(stmt);
		return MSG_FORWARD; /* a server says it exists (and the batch fails there) */
	}
	if (pool_stmt_is_known(c->pc.pool, stmt)) {
		if (!c->stmts)
			c->stmts = pool_stmt_map_new();
		if (c->stmts && proxy_prepared_room(&c->conn) &&
		    pool_stmt_map_set(c->stmts, name, stmt))
			r = proxy_prepared_answer(c, size, POOL_FAKE_PARSE_COMPLETE, NULL, false);
	}
	/* answered here; else on_parse() counts it once linked */
	if (r != MSG_FORWARD)
		c->pc.pool->stats.client_parses++;
	pool_stmt_put(stmt);
	return r;
}

enum proxy_msg_result proxy_prepared_unlinked(struct proxy_client *c, const uint8_t *msg,
                                              size_t size)
{
	if (!proxy_prepared_mode(c))
		return MSG_FORWARD;
	enum proxy_msg_result r;
	const uint8_t *body = msg + PROTO_HEADER_SIZE;
	switch (msg[0]) {
	case PROTO_FE_PARSE:
		return parse_unlinked(c, msg, size);
	case PROTO_FE_SYNC:
		/* nothing of this batch went to a server: nothing to wait for */
		return proxy_prepared_answer(c, size, POOL_FAKE_NOTHING, NULL, true);
	case PROTO_FE_CLOSE: {
		uint8_t kind;
		const char *name;
		if (!proto_parse_target(body, size - PROTO_HEADER_SIZE, &kind, &name))
			return MSG_FORWARD; /* let the server say what is wrong */
		r = proxy_prepared_answer(c, size, POOL_FAKE_CLOSE_COMPLETE, NULL, false);
		if (r == MSG_DONE && kind == PROTO_DESCRIBE_STATEMENT) {
			if (name[0] && c->stmts)
				pool_stmt_map_del(c->stmts, name);
			else if (!name[0])
				forget_unnamed(c);
		}
		return r;
	}
	default:
		return MSG_FORWARD;
	}
}

static struct pool_stmt_cache *server_cache(struct proxy_client *c, struct proxy_server *s)
{
	if (!s->stmts)
		s->stmts = pool_stmt_cache_new(pool_cfg(c->pc.pool)->max_prepared_statements);
	return s->stmts;
}

/* Make `stmt` exist on `s` before the message being handled: evict the least recently used
 * statement when full, then Parse it under its pglane-wide name (answers swallowed). */
static bool ensure_prepared(struct proxy_client *c, struct proxy_server *s, struct pool_stmt *stmt,
                            bool for_client)
{
	struct pool_stmt_cache *cache = server_cache(c, s);
	if (!cache)
		return false;
	if (pool_stmt_cache_has(cache, stmt))
		return true;
	struct proto_writer w = scratch_writer(&s->conn);
	struct pool_stmt *victim = pool_stmt_cache_victim(cache);
	if (victim) {
		proto_write_target(&w, PROTO_FE_CLOSE, PROTO_DESCRIBE_STATEMENT, victim->name);
		/* the entry keeps the victim: should the server skip the Close, it is back */
		if (!commit(&s->conn, &w) ||
		    !proxy_req_push(s, PROTO_FE_CLOSE, POOL_REQ_SKIP, victim, 0))
			return false;
		pool_stmt_cache_remove(cache, victim);
		w = scratch_writer(&s->conn);
	}
	proto_write_parse_head(&w, stmt->name, stmt->len);
	if (!commit(&s->conn, &w) || !proxy_out_ref(&s->conn, stmt->body, stmt->len) ||
	    !proxy_req_push(s, PROTO_FE_PARSE, for_client ? POOL_REQ_FORWARD : POOL_REQ_SKIP, stmt,
	                    0))
		return false;
	pool_stmt_cache_add(cache, stmt);
	c->pc.pool->stats.server_parses++;
	return true;
}

/* A Bind or Describe of the unnamed statement: replay the client's last Parse of it when the
 * server holds someone else's. */
static bool ensure_unnamed(struct proxy_client *c, struct proxy_server *s)
{
	if (!c->unnamed_len ||
	    (s->led.unnamed_client == c->id && s->led.unnamed_seq == c->unnamed_seq))
		return true;
	if (!proxy_out_ref(&s->conn, c->unnamed, c->unnamed_len) ||
	    !proxy_req_push(s, PROTO_FE_PARSE, POOL_REQ_SKIP, NULL, POOL_REQ_UNNAMED))
		return false;
	c->unnamed_inflight = true;
	s->led.unnamed_client = c->id;
	s->led.unnamed_seq = c->unnamed_seq;
	return true;
}

/* What the client's unnamed statement does to the session (NULL when nothing). */
static bool set_unnamed_info(struct proxy_client *c, const struct proto_sql_info *info)
{
	if (!info || (!info->effects && info->kind == PROTO_SQL_OTHER)) {
		free(c->unnamed_info);
		c->unnamed_info = NULL;
		return true;
	}
	if (!c->unnamed_info)
		c->unnamed_info = malloc(sizeof(*c->unnamed_info));
	if (!c->unnamed_info)
		return false;
	*c->unnamed_info = *info;
	return true;
}

static bool keep_unnamed(struct proxy_client *c, const uint8_t *msg, size_t size)
{
	if (size > UINT32_MAX)
		return false;
	if (c->unnamed_cap < size) {
		uint8_t *n = realloc(c->unnamed, size);
		if (!n)
			return false;
		c->unnamed = n;
		c->unnamed_cap = (uint32_t)size;
	}
	memcpy(c->unnamed, msg, size);
	c->unnamed_len = (uint32_t)size;
	c->unnamed_seq++;
	return true;
}

enum proxy_parse_kept proxy_prepared_keep_parse(struct proxy_client *c, const uint8_t *msg,
                                                size_t size, const struct proto_sql_info *info)
{
	const char *name;
	size_t rest;
	const uint8_t *body = msg + PROTO_HEADER_SIZE;
	if (!proto_parse_parse(body, size - PROTO_HEADER_SIZE, &name, &rest))
		return PARSE_KEPT_ERROR;
	if (!name[0]) {
		if (c->unnamed_inflight)
			return PARSE_KEPT_BUSY;
		return keep_unnamed(c, msg, size) && set_unnamed_info(c, info) ? PARSE_KEPT
		                                                               : PARSE_KEPT_ERROR;
	}
	if (lookup(c, name))
		return PARSE_KEPT_DUPLICATE;
	struct pool_stmt *stmt = pool_stmt_get(body + rest, size - PROTO_HEADER_SIZE - rest);
	if (!stmt)
		return PARSE_KEPT_ERROR;
	if (!c->stmts)
		c->stmts = pool_stmt_map_new();
	bool ok = c->stmts && pool_stmt_map_set(c->stmts, name, stmt);
	pool_stmt_put(stmt);
	return ok ? PARSE_KEPT : PARSE_KEPT_ERROR;
}

static enum proxy_msg_result on_parse(struct proxy_client *c, struct proxy_server *s,
                                      const uint8_t *msg, size_t avail, size_t size,
                                      struct proxy_scan *sc)
{
	if (avail < size)
		return MSG_FORWARD; /* too large to look at */
	const char *name;
	size_t rest;
	const uint8_t *body = msg + PROTO_HEADER_SIZE;
	if (!proto_parse_parse(body, size - PROTO_HEADER_SIZE, &name, &rest))
		return MSG_FORWARD; /* the server reports the malformed message */
	if (!name[0]) {
		if (c->unnamed_inflight)
			return MSG_NO_ROOM; /* the previous one is still being sent */
		if (!keep_unnamed(c, msg, size) ||
		    !set_unnamed_info(c, proxy_handled_scan(c, msg, avail, size, sc)) ||
		    !proxy_req_push(s, PROTO_FE_PARSE, POOL_REQ_FORWARD, NULL, POOL_REQ_UNNAMED))
			return MSG_ERROR;
		s->led.unnamed_client = c->id;
		s->led.unnamed_seq = c->unnamed_seq;
		return MSG_PASS;
	}
	if (lookup(c, name)) {
		/* as PostgreSQL: the name must be closed first; the rest of the batch is
		 * skipped up to its Sync */
		if (!proxy_req_fake(s, PROTO_FE_PARSE, POOL_FAKE_DUPLICATE, NULL, name))
			return MSG_ERROR;
		s->led.ext_error = true;
		return consumed(c, size);
	}
	struct pool_stmt *stmt = pool_stmt_get(body + rest, size - PROTO_HEADER_SIZE - rest);
	if (!stmt)
		return MSG_ERROR;
	c->pc.pool->stats.client_parses++;
	if (!c->stmts)
		c->stmts = pool_stmt_map_new();
	bool ok = c->stmts && pool_stmt_map_set(c->stmts, name, stmt);
	if (ok) {
		struct pool_stmt_cache *cache = server_cache(c, s);
		if (cache && pool_stmt_cache_has(cache, stmt)) {
			ok = proxy_req_fake(s, PROTO_FE_PARSE, POOL_FAKE_PARSE_COMPLETE, stmt,
			                    NULL);
		} else
			ok = ensure_prepared(c, s, stmt, true);
		/* the name is undone if the server fails or skips this Parse */
		ok = ok && pool_ledger_name_tail(&s->led, name);
	}
	pool_stmt_put(stmt);
	return ok ? consumed(c, size) : MSG_ERROR;
}

static enum proxy_msg_result on_bind(struct proxy_client *c, struct proxy_server *s,
                                     const uint8_t *msg, size_t avail, size_t size)
{
	const char *portal, *name;
	size_t end;
	const uint8_t *body = msg + PROTO_HEADER_SIZE;
	if (!proto_parse_bind_names(body, avail - PROTO_HEADER_SIZE, &portal, &name, &end))
		return MSG_FORWARD;
	if (!name[0])
		return ensure_unnamed(c, s) &&
		                       proxy_req_push(s, PROTO_FE_BIND, POOL_REQ_FORWARD, NULL, 0)
		               ? MSG_PASS
		               : MSG_ERROR;
	struct pool_stmt *stmt = lookup(c, name);
	if (!stmt)
		return proxy_req_push(s, PROTO_FE_BIND, POOL_REQ_FORWARD, NULL, 0) ? MSG_PASS
		                                                                   : MSG_ERROR;
	if (!ensure_prepared(c, s, stmt, false))
		return MSG_ERROR;
	c->pc.pool->stats.binds++;
	size_t rest = size - PROTO_HEADER_SIZE - end;
	struct proto_writer w = scratch_writer(&s->conn);
	proto_write_bind_head(&w, portal, stmt->name, rest);
	if (!commit(&s->conn, &w) || !proxy_req_push(s, PROTO_FE_BIND, POOL_REQ_FORWARD, stmt, 0))
		return MSG_ERROR;
	/* the caller passes the rest of the message on after the names */
	struct proxy_io *io = c->conn.io;
	io->scan += (uint32_t)(PROTO_HEADER_SIZE + end);
	io->pass = (uint32_t)rest;
	return MSG_DONE;
}

static enum proxy_msg_result on_target(struct proxy_client *c, struct proxy_server *s,
                                       const uint8_t *msg, size_t size)
{
	uint8_t type = msg[0], kind;
	const char *name;
	if (!proto_parse_target(msg + PROTO_HEADER_SIZE, size - PROTO_HEADER_SIZE, &kind, &name))
		return MSG_FORWARD;
	if (kind == PROTO_DESCRIBE_PORTAL)
		return proxy_req_push(s, type, POOL_REQ_FORWARD, NULL, 0) ? MSG_PASS : MSG_ERROR;
	if (!name[0]) {
		bool ok;
		if (type == PROTO_FE_CLOSE) {
			forget_unnamed(c);
			s->led.unnamed_client = 0;
			ok = true;
		} else {
			ok = ensure_unnamed(c, s);
		}
		return ok && proxy_req_push(s, type, POOL_REQ_FORWARD, NULL, 0) ? MSG_PASS
		                                                                : MSG_ERROR;
	}
	if (type == PROTO_FE_CLOSE) {
		if (!proxy_req_fake(s, type, POOL_FAKE_CLOSE_COMPLETE, NULL, NULL))
			return MSG_ERROR;
		if (c->stmts)
			pool_stmt_map_del(c->stmts, name);
		return consumed(c, size);
	}
	struct pool_stmt *stmt = lookup(c, name);
	if (!stmt)
		return proxy_req_push(s, type, POOL_REQ_FORWARD, NULL, 0) ? MSG_PASS : MSG_ERROR;
	if (!ensure_prepared(c, s, stmt, false))
		return MSG_ERROR;
	struct proto_writer w = scratch_writer(&s->conn);
	proto_write_target(&w, PROTO_FE_DESCRIBE, PROTO_DESCRIBE_STATEMENT, stmt->name);
	return commit(&s->conn, &w) && proxy_req_push(s, type, POOL_REQ_FORWARD, stmt, 0)
	               ? consumed(c, size)
	               : MSG_ERROR;
}

/* A Query that reached the server (proxy/handled.c answered the ones it could). */
static enum proxy_msg_result on_query(struct proxy_client *c, struct proxy_server *s,
                                      const uint8_t *msg, size_t avail, size_t size,
                                      struct proxy_scan *sc)
{
	const struct proto_sql_info *info = proxy_handled_scan(c, msg, avail, size, sc);
	unsigned flags = 0;
	if ((info->effects & PROTO_SQL_DROPS_STMTS) && s->led.tx_status != PROTO_TX_FAILED) {
		/* DEALLOCATE ALL or DISCARD ALL the server runs: every statement goes there */
		proxy_prepared_forget_all(c);
		proxy_prepared_server_reset(s);
		flags = POOL_REQ_RESETS; /* should it fail, the server is not reused */
	}
	s->led.unnamed_client = 0; /* a simple Query drops the unnamed statement */
	return proxy_req_push(s, PROTO_FE_QUERY, POOL_REQ_FORWARD, NULL, flags) ? MSG_PASS
	                                                                        : MSG_ERROR;
}

void proxy_prepared_remember(struct proxy_client *c, const uint8_t *msg, size_t avail, size_t size,
                             struct proxy_scan *sc)
{
	const char *name;
	size_t rest;
	const uint8_t *body = msg + PROTO_HEADER_SIZE;
	if (avail < size || !proto_parse_parse(body, size - PROTO_HEADER_SIZE, &name, &rest))
		return;
	if (!name[0]) {
		if (!c->unnamed_inflight && keep_unnamed(c, msg, size) &&
		    !set_unnamed_info(c, proxy_handled_scan(c, msg, avail, size, sc)))
			forget_unnamed(c);
		return;
	}
	struct pool_stmt *stmt = pool_stmt_get(body + rest, size - PROTO_HEADER_SIZE - rest);
	if (!stmt)
		return;
	if (!c->stmts)
		c->stmts = pool_stmt_map_new();
	if (c->stmts && !pool_stmt_map_set(c->stmts, name, stmt))
		conn_debug(c, "out of memory remembering statement %s", name);
	pool_stmt_put(stmt);
}

enum proxy_msg_result proxy_prepared_linked(struct proxy_client *c, struct proxy_server *s,
                                            const uint8_t *msg, size_t avail, size_t size,
                                            struct proxy_scan *sc)
{
	switch (msg[0]) {
	case PROTO_FE_PARSE:
		return on_parse(c, s, msg, avail, size, sc);
	case PROTO_FE_BIND:
		return on_bind(c, s, msg, avail, size);
	case PROTO_FE_DESCRIBE:
	case PROTO_FE_CLOSE:
		return on_target(c, s, msg, size);
	case PROTO_FE_QUERY:
		return on_query(c, s, msg, avail, size, sc);
	default:
		return MSG_FORWARD;
	}
}

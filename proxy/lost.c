/* proxy/lost.c — a client whose server connection died under it keeps its connection: what
 * it was owed is answered with an error, and a transaction block it was in is answered as
 * PostgreSQL answers a failed one until it ends (see proxy/lost.h). */
#include "proxy/lost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/ledger.h"
#include "protocol/extended.h"
#include "protocol/msg.h"
#include "protocol/sql.h"
#include "proxy/client.h"
#include "proxy/conn_log.h"
#include "proxy/context.h"
#include "proxy/io.h"
#include "proxy/prepared.h"
#include "proxy/server.h"

#define IN_BLOCK_DETAIL                                                                            \
	"The transaction was rolled back (unless its COMMIT was in flight); the connection is "    \
	"still usable."
#define STATEMENT_DETAIL "The statement may not have completed; the connection is still usable."
#define ABORTED_MSG                                                                                \
	"current transaction is aborted, commands ignored until end of transaction block"

/* Why the client cannot go on without that server, or NULL when it can. */
static const char *cannot_go_on(const struct proxy_client *c, const struct proxy_server *s,
                                const struct pool_ledger_owed *o)
{
	if (c->state != CLIENT_READY || c->close_after_flush)
		return "the client was not ready";
	if (proxy.shutting_down)
		return "pglane is shutting down";
	if (c->pc.session.pins || s->pin_effects ||
	    (s->dirty.effects & (PROTO_SQL_PINS | PROTO_SQL_PINS_ANY)))
		return "its session held state that cannot move to another server";
	if (c->named_on_server)
		return "its prepared statements were on that server";
	if (s->conn.io && s->conn.io->pass)
		return "it had been sent part of a message";
	if (o->copy && o->units > 1)
		return "requests after its COPY cannot be answered in order";
	return NULL;
}

/* Queue an ErrorResponse, then a ReadyForQuery with status `ready` unless it is 0. */
static bool answer_error(struct proxy_client *c, const char *sqlstate, const char *msg,
                         const char *detail, uint8_t ready)
{
	size_t avail;
	uint8_t *space = proxy_out_space(&c->conn, &avail);
	struct proto_writer w;
	proto_writer_init(&w, space, space ? avail : 0);
	proto_write_error(&w, PROTO_BE_ERROR, "ERROR", sqlstate, msg, detail);
	if (ready)
		proto_write_ready(&w, ready);
	return proto_writer_ok(&w) && proxy_out_commit(&c->conn, w.len);
}

/* Queue pglane's answer `fake` (see pool/ledger.h), then a ReadyForQuery unless `ready` is 0. */
static bool answer(struct proxy_client *c, enum pool_fake fake, const char *text, uint8_t ready)
{
	size_t avail;
	uint8_t *space = proxy_out_space(&c->conn, &avail);
	struct proto_writer w;
	proto_writer_init(&w, space, space ? avail : 0);
	pool_fake_write(&w, fake, text, ready);
	if (ready && fake != POOL_FAKE_QUERY)
		proto_write_ready(&w, ready);
	return proto_writer_ok(&w) && proxy_out_commit(&c->conn, w.len);
}

/* What follows an error up to the Sync is dropped, as PostgreSQL skips it. */
static void discard_to_sync(struct proxy_client *c, uint8_t tx)
{
	c->discarding = true;
	c->discard_extended = true;
	c->discard_tx = tx;
}

/* The client's answers for what it was owed: an error for each request waiting for
 * ReadyForQuery, for its COPY, for its batch still open. */
static bool tell(struct proxy_client *c, const struct pool_ledger_owed *o, const char *sqlstate,
                 const char *msg, uint8_t tx)
{
	const char *detail = o->in_block ? IN_BLOCK_DETAIL : STATEMENT_DETAIL;
	uint32_t units = o->units;
	if (o->copy) {
		/* PostgreSQL ignores the rest of the COPY data, answers its end (and, for an
		 * Execute, the Sync after it) */
		if (!answer_error(c, sqlstate, msg, detail, 0))
			return false;
		c->discarding = true;
		c->discard_copy = true;
		c->discard_extended = !o->copy_query;
		c->discard_tx = tx;
		return true; /* the one unit owed was the COPY's (cannot_go_on()) */
	}
	for (uint32_t i = 0; i < units; i++)
		if (!answer_error(c, sqlstate, msg, detail, tx))
			return false;
	if (o->open) {
		if (!answer_error(c, sqlstate, msg, detail, 0))
			return false;
		discard_to_sync(c, tx);
	}
	return true;
}

bool proxy_lost_server(struct proxy_client *c, struct proxy_server *s, const char *reason,
                       const char **why)
{
	struct pool_ledger_owed o;
	pool_ledger_owed(&s->led, &o);
	*why = cannot_go_on(c, s, &o);
	if (*why)
		return false;
	/* what the server said is still written to the client, from the server's buffer */
	proxy_out_hold(&c->conn, &s->conn);
	struct proxy_io *io = c->conn.io;
	if (io && io->pass) { /* the rest of a message it was sending goes nowhere */
		io->drop = io->pass;
		io->pass = 0;
	}
	proxy_in_consumed(&c->conn); /* the server's output pointed into it */
	proxy_prepared_drained(c);
	char msg[256];
	snprintf(msg, sizeof(msg), "%s%s",
	         s->close_sqlstate ? "" : "server connection lost: ", reason);
	const char *sqlstate = s->close_sqlstate ? s->close_sqlstate : PROXY_LOST_SQLSTATE;
	uint8_t tx = o.in_block ? PROTO_TX_FAILED : PROTO_TX_IDLE;
	bool told = o.units || o.open || o.copy;
	if (!tell(c, &o, sqlstate, msg, tx)) {
		*why = "no room to answer it";
		return false;
	}
	if (o.in_block) {
		c->lost = told ? PROXY_LOST_FAILED : PROXY_LOST_UNTOLD;
		c->lost_parsed = c->lost_bound = PROTO_SQL_TXN_NONE;
		free(c->lost_msg);
		c->lost_msg = strdup(msg);
		if (!c->lost_msg) {
			*why = "out of memory";
			return false;
		}
	}
	conn_info(c, "%s: %u request(s) answered with an error%s%s", msg, o.units + o.open,
	          o.copy ? " (its COPY)" : "", o.in_block ? "; its transaction block is lost" : "");
	c->xact_start_us = 0;
	c->paused = false;
	proxy_conn_set_read(&c->conn, true);
	/* its answers are written, then what it sent meanwhile is looked at (the drained path) */
	ev_feed_event(proxy.loop, &c->conn.w, EV_WRITE);
	return true;
}

/* ---- a lost transaction block, answered without a server ---- */

/* Out of the lost block: the next transaction gets a server. */
static void end_lost(struct proxy_client *c)
{
	c->lost = PROXY_LOST_NONE;
	c->lost_parsed = c->lost_bound = PROTO_SQL_TXN_NONE;
	free(c->lost_msg);
	c->lost_msg = NULL;
}

/* Anything but the block's end fails: with the news of the loss if the client was not told
 * yet or asks for a savepoint (`k`: it went with the server), else as PostgreSQL answers in a
 * failed block (25P02). */
static bool fail(struct proxy_client *c, enum proto_sql_txn_end k, uint8_t ready)
{
	bool news = c->lost == PROXY_LOST_UNTOLD || k == PROTO_SQL_TXN_SAVEPOINT;
	bool ok = news ? answer_error(c, PROXY_LOST_SQLSTATE, c->lost_msg, IN_BLOCK_DETAIL, ready)
	               : answer_error(c, "25P02", ABORTED_MSG, NULL, ready);
	c->lost = PROXY_LOST_FAILED;
	return ok;
}

/* The block ends (`k`): a ROLLBACK, or a COMMIT answered "ROLLBACK" as in a failed block;
 * a COMMIT the client does not know failed gets the news instead. `ready`: with its
 * ReadyForQuery (a simple Query). */
static bool end_block(struct proxy_client *c, enum proto_sql_txn_end k, bool ready, bool *failed)
{
	uint8_t tx = ready ? PROTO_TX_IDLE : 0;
	*failed = k == PROTO_SQL_TXN_COMMIT && c->lost == PROXY_LOST_UNTOLD;
	bool ok = *failed ? answer_error(c, PROXY_LOST_SQLSTATE, c->lost_msg, IN_BLOCK_DETAIL, tx)
	                  : answer(c, ready ? POOL_FAKE_QUERY : POOL_FAKE_COMMAND, "ROLLBACK", tx);
	end_lost(c);
	return ok;
}

static enum proxy_msg_result done(struct proxy_client *c, size_t size, bool ok)
{
	if (!ok) {
		proxy_client_close(c, PROTO_SQLSTATE_INTERNAL, "cannot queue an answer");
		return MSG_ERROR;
	}
	return proxy_prepared_consumed(c, size);
}

/* An extended-protocol message that is not part of the block's end: it and the rest of its
 * batch fail. */
static enum proxy_msg_result fail_batch(struct proxy_client *c, enum proto_sql_txn_end k,
                                        size_t size)
{
	bool ok = fail(c, k, 0);
	discard_to_sync(c, PROTO_TX_FAILED);
	return done(c, size, ok);
}

static enum proto_sql_txn_end text_kind(const char *text, size_t len)
{
	return text ? proto_sql_txn_end(text, len) : PROTO_SQL_TXN_NONE;
}

static enum proxy_msg_result lost_query(struct proxy_client *c, const uint8_t *msg, size_t size)
{
	enum proto_sql_txn_end k =
	        proto_sql_txn_end((const char *)msg + PROTO_HEADER_SIZE, size - PROTO_HEADER_SIZE);
	bool failed;
	if (k == PROTO_SQL_TXN_COMMIT || k == PROTO_SQL_TXN_ROLLBACK)
		return done(c, size, end_block(c, k, true, &failed));
	return done(c, size, fail(c, k, PROTO_TX_FAILED));
}

static enum proxy_msg_result lost_parse(struct proxy_client *c, const uint8_t *msg, size_t size)
{
	const uint8_t *body = msg + PROTO_HEADER_SIZE;
	size_t n = size - PROTO_HEADER_SIZE, rest, len = 0;
	const char *name, *text = NULL;
	if (proto_parse_parse(body, n, &name, &rest))
		text = proto_sql_parse_text(body + rest, n - rest, &len);
	enum proto_sql_txn_end k = text_kind(text, len);
	c->lost_parsed = k == PROTO_SQL_TXN_SAVEPOINT ? PROTO_SQL_TXN_NONE : (uint8_t)k;
	if (c->lost_parsed == PROTO_SQL_TXN_NONE)
		return fail_batch(c, k, size);
	return done(c, size, answer(c, POOL_FAKE_PARSE_COMPLETE, NULL, 0));
}

static enum proxy_msg_result lost_bind(struct proxy_client *c, const uint8_t *msg, size_t size)
{
	const char *portal, *name;
	size_t end, len = 0;
	enum proto_sql_txn_end k = PROTO_SQL_TXN_NONE;
	if (proto_parse_bind_names(msg + PROTO_HEADER_SIZE, size - PROTO_HEADER_SIZE, &portal,
	                           &name, &end)) {
		const struct pool_stmt *st = proxy_prepared_lookup(c, name);
		k = st ? text_kind(proto_sql_parse_text(st->body, st->len, &len), len)
		       : (enum proto_sql_txn_end)c->lost_parsed;
	}
	c->lost_bound = k == PROTO_SQL_TXN_SAVEPOINT ? PROTO_SQL_TXN_NONE : (uint8_t)k;
	if (c->lost_bound == PROTO_SQL_TXN_NONE)
		return fail_batch(c, k, size);
	return done(c, size, answer(c, POOL_FAKE_BIND_COMPLETE, NULL, 0));
}

static enum proxy_msg_result lost_execute(struct proxy_client *c, size_t size)
{
	if (c->lost_bound == PROTO_SQL_TXN_NONE)
		return fail_batch(c, PROTO_SQL_TXN_NONE, size);
	bool failed;
	bool ok = end_block(c, (enum proto_sql_txn_end)c->lost_bound, false, &failed);
	if (failed)
		discard_to_sync(c, PROTO_TX_IDLE);
	return done(c, size, ok);
}

enum proxy_msg_result proxy_lost_message(struct proxy_client *c, const uint8_t *msg, size_t size)
{
	if (!proxy_prepared_room(&c->conn))
		return MSG_NO_ROOM;
	switch (msg[0]) {
	case PROTO_FE_QUERY:
		return lost_query(c, msg, size);
	case PROTO_FE_PARSE:
		return lost_parse(c, msg, size);
	case PROTO_FE_BIND:
		return lost_bind(c, msg, size);
	case PROTO_FE_EXECUTE:
		return lost_execute(c, size);
	case PROTO_FE_DESCRIBE:
		return done(c, size,
		            answer(c,
		                   size > PROTO_HEADER_SIZE && msg[PROTO_HEADER_SIZE] == 'S'
		                           ? POOL_FAKE_STATEMENT_DESC
		                           : POOL_FAKE_NO_DATA,
		                   NULL, 0));
	case PROTO_FE_CLOSE:
		return done(c, size, answer(c, POOL_FAKE_CLOSE_COMPLETE, NULL, 0));
	case PROTO_FE_SYNC:
		return done(c, size,
		            answer(c, POOL_FAKE_NOTHING, NULL,
		                   c->lost ? PROTO_TX_FAILED : PROTO_TX_IDLE));
	case PROTO_FE_FUNCTION_CALL:
		return done(c, size, fail(c, PROTO_SQL_TXN_NONE, PROTO_TX_FAILED));
	default:
		return proxy_prepared_consumed(c, size);
	}
}

void proxy_lost_client_free(struct proxy_client *c)
{
	end_lost(c);
}

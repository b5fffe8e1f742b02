/* pool/ledger.c — the ledger of a server connection (pool/ledger.h): the requests it owes
 * answers for, its transaction status, and what each of its messages means. */
#include "pool/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/slowlog.h"
#include "protocol/extended.h"

#define LEDGER_MIN 16

void pool_ledger_init(struct pool_ledger *l, pool_ledger_done_fn *done)
{
	memset(l, 0, sizeof(*l));
	l->done = done;
}

static bool ends_with_ready(uint8_t type)
{
	return type == PROTO_FE_SYNC || type == PROTO_FE_QUERY || type == PROTO_FE_FUNCTION_CALL;
}

/* Is `e` a statement of the client's (timed, maybe slow)? */
static bool is_statement(const struct pool_req *e)
{
	return e->action == POOL_REQ_FORWARD && !(e->flags & POOL_REQ_INTERNAL) &&
	       (e->type == PROTO_FE_QUERY || e->type == PROTO_FE_EXECUTE ||
	        e->type == PROTO_FE_FUNCTION_CALL);
}

static bool grow(struct pool_ledger *l)
{
	uint32_t cap = l->cap ? l->cap * 2 : LEDGER_MIN;
	struct pool_req *r = malloc((size_t)cap * sizeof(*r));
	if (!r)
		return false;
	for (uint32_t i = 0; i < l->n; i++)
		r[i] = l->r[(l->head + i) % l->cap];
	free(l->r);
	l->r = r;
	l->cap = cap;
	l->head = 0;
	return true;
}

bool pool_ledger_push(struct pool_ledger *l, uint8_t type, enum pool_req_action action,
                      struct pool_stmt *stmt, unsigned flags, int64_t now_us)
{
	if (l->n == l->cap && !grow(l))
		return false;
	struct pool_req *e = &l->r[(l->head + l->n) % l->cap];
	l->n++;
	e->type = type;
	e->action = (uint8_t)action;
	e->flags = (uint8_t)flags;
	e->fake = 0;
	e->text_seq = 0;
	e->start_us = now_us;
	e->stmt = stmt;
	e->name = NULL;
	if (stmt)
		pool_stmt_ref(stmt);
	if (action != POOL_REQ_FAKE && ends_with_ready(type)) {
		if (l->pending++ == 0)
			l->query_start_us = now_us;
		if (flags & POOL_REQ_INTERNAL)
			l->internal++;
		else if (!l->txn_since_us)
			l->txn_since_us = now_us; /* the client's transaction starts */
	}
	return true;
}

bool pool_ledger_name_tail(struct pool_ledger *l, const char *name)
{
	struct pool_req *e = pool_ledger_tail(l);
	if (!e)
		return false;
	free(e->name);
	e->name = strdup(name);
	return e->name != NULL;
}

bool pool_ledger_fake(struct pool_ledger *l, uint8_t type, enum pool_fake fake,
                      struct pool_stmt *stmt, const char *text, int64_t now_us)
{
	if (!pool_ledger_push(l, type, POOL_REQ_FAKE, stmt, 0, now_us))
		return false;
	pool_ledger_tail(l)->fake = (uint8_t)fake;
	return !text || pool_ledger_name_tail(l, text);
}

/* When the statement `e` started: when it was sent, or when the one before it was answered
 * (pipelined statements run one after the other). */
static int64_t started(const struct pool_ledger *l, const struct pool_req *e)
{
	return e->start_us > l->last_done_us ? e->start_us : l->last_done_us;
}

void pool_ledger_pop(struct pool_ledger *l, int64_t now_us)
{
	if (!l->n)
		return;
	struct pool_req *e = &l->r[l->head];
	bool statement = is_statement(e);
	int64_t run_us = statement ? now_us - started(l, e) : -1, busy_us = -1;
	/* a statement's run starts when the one before it ended (ParseComplete and
	 * BindComplete come with the Execute's answer, so they mark nothing) */
	if (statement || ends_with_ready(e->type))
		l->last_done_us = now_us;
	if (e->action != POOL_REQ_FAKE && ends_with_ready(e->type)) {
		if (l->pending > 0 && --l->pending == 0)
			busy_us = now_us - l->query_start_us;
		if ((e->flags & POOL_REQ_INTERNAL) && l->internal > 0)
			l->internal--;
	}
	if (l->done && (statement || l->pending == 0)) {
		struct pool_ledger_done d = {.req = e,
		                             .now_us = now_us,
		                             .run_us = run_us,
		                             .busy_us = busy_us,
		                             .idle = l->pending == 0};
		l->done(l, &d);
	}
	pool_stmt_put(e->stmt);
	free(e->name);
	l->head = (l->head + 1) % l->cap;
	l->n--;
}

void pool_ledger_clear(struct pool_ledger *l, int64_t now_us)
{
	while (l->n)
		pool_ledger_pop(l, now_us);
	free(l->r);
	l->r = NULL;
	l->cap = l->head = 0;
	free(l->text);
	l->text = NULL;
	l->text_len = 0;
	pool_stmt_put(l->bound);
	l->bound = NULL;
}

int64_t pool_ledger_running_since(const struct pool_ledger *l)
{
	for (uint32_t i = 0; i < l->n; i++) {
		const struct pool_req *e = &l->r[(l->head + i) % l->cap];
		if (is_statement(e))
			return started(l, e);
		if (ends_with_ready(e->type))
			return 0; /* a Sync or pglane's own query comes first */
	}
	return 0;
}

void pool_ledger_owed(const struct pool_ledger *l, struct pool_ledger_owed *o)
{
	bool has = false; /* the client's requests since the last unit's end */
	o->units = 0;
	o->copy_query = false;
	for (uint32_t i = 0; i < l->n; i++) {
		const struct pool_req *e = &l->r[(l->head + i) % l->cap];
		if (!(e->flags & POOL_REQ_INTERNAL)) {
			if (!has && o->units == 0)
				o->copy_query = e->type == PROTO_FE_QUERY;
			has = true;
		}
		if (has && ends_with_ready(e->type)) {
			o->units++;
			has = false;
		}
	}
	o->open = has || l->unsynced;
	o->copy = l->copy_in;
	o->copy_query = o->copy && o->copy_query;
	o->in_block = l->tx_status == PROTO_TX_BLOCK || l->tx_status == PROTO_TX_FAILED;
}

/* ---- statement bookkeeping ---- */

uint32_t pool_ledger_keep_text(struct pool_ledger *l, const char *text, size_t len)
{
	if (!l->text) {
		l->text = malloc(POOL_SLOW_TEXT_MAX);
		if (!l->text)
			return 0;
	}
	if (len > POOL_SLOW_TEXT_MAX)
		len = POOL_SLOW_TEXT_MAX;
	memcpy(l->text, text, len);
	l->text_len = (uint32_t)len;
	if (++l->text_seq == 0)
		l->text_seq = 1;
	return l->text_seq;
}

const char *pool_ledger_text(const struct pool_ledger *l, const struct pool_req *e, size_t *len)
{
	if (e->stmt) {
		*len = strnlen((const char *)e->stmt->body, e->stmt->len);
		return (const char *)e->stmt->body;
	}
	if (e->text_seq && e->text_seq == l->text_seq && l->text) {
		*len = l->text_len;
		return l->text;
	}
	*len = 0;
	return NULL;
}

void pool_ledger_bind(struct pool_ledger *l, struct pool_stmt *stmt, const char *text, size_t len)
{
	pool_stmt_put(l->bound);
	l->bound = stmt;
	l->bound_seq = 0;
	if (stmt)
		pool_stmt_ref(stmt);
	else if (text)
		l->bound_seq = pool_ledger_keep_text(l, text, len);
}

void pool_ledger_execute(struct pool_ledger *l)
{
	struct pool_req *tail = pool_ledger_tail(l);
	if (!tail || tail->type != PROTO_FE_EXECUTE)
		return;
	tail->stmt = l->bound;
	if (tail->stmt)
		pool_stmt_ref(tail->stmt);
	tail->text_seq = l->bound_seq;
}

/* ---- the server's answers ---- */

/* A request the server skipped (or failed): what it would have done is not done. A Parse
 * left no statement (on the server, nor under the client's name); an evicting Close left
 * its statement where it was. True when there was no room to put it back. */
static bool undo(struct pool_ledger *l, const struct pool_req *e, const struct pool_ledger_undo *u)
{
	if (e->type == PROTO_FE_PARSE) {
		if (e->stmt && u->stmts && e->action != POOL_REQ_FAKE)
			pool_stmt_cache_remove(u->stmts, e->stmt);
		if (e->flags & POOL_REQ_UNNAMED)
			l->unnamed_client = 0;
		bool duplicate = e->action == POOL_REQ_FAKE && e->fake == POOL_FAKE_DUPLICATE;
		if (e->name && !duplicate && u->names &&
		    pool_stmt_map_get(u->names, e->name) == e->stmt)
			pool_stmt_map_del(u->names, e->name);
	} else if (e->type == PROTO_FE_CLOSE && e->action == POOL_REQ_SKIP && e->stmt && u->stmts) {
		if (pool_stmt_cache_victim(u->stmts))
			return true;
		pool_stmt_cache_add(u->stmts, e->stmt);
	}
	return false;
}

void pool_ledger_stmts_gone(struct pool_ledger *l, struct pool_stmt_cache *stmts)
{
	if (stmts)
		pool_stmt_cache_clear(stmts);
	l->unnamed_client = 0;
}

bool pool_ledger_fail_batch(struct pool_ledger *l, const struct pool_ledger_undo *u, int64_t now_us)
{
	uint32_t n = 0;
	while (n < l->n && l->r[(l->head + n) % l->cap].type != PROTO_FE_SYNC)
		n++;
	/* newest first, so that what an eviction made room for is gone before it returns */
	bool unsure = false;
	for (uint32_t i = n; i-- > 0;)
		unsure |= undo(l, &l->r[(l->head + i) % l->cap], u);
	for (uint32_t i = 0; i < n; i++)
		pool_ledger_pop(l, now_us);
	/* a Sync already sent ends the server's skipping; else the client's next ones do */
	l->ext_error = l->n == 0;
	return unsure;
}

/* An ErrorResponse 26000: a prepared statement that does not exist. */
static bool statement_gone(const struct proto_frame *f)
{
	struct proto_error e;
	return proto_parse_error(f->body, f->body_len, &e) && e.sqlstate &&
	       strcmp(e.sqlstate, "26000") == 0;
}

static bool is_fatal(const struct proto_frame *f)
{
	struct proto_error e;
	if (!proto_parse_error(f->body, f->body_len, &e))
		return true;
	const char *sev = e.severity_nonlocal ? e.severity_nonlocal : e.severity;
	return !sev || strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0;
}

/* ReadyForQuery: the transaction status; the requests it ends are answered. */
static void on_ready(struct pool_ledger *l, const struct proto_frame *f, bool linked,
                     int64_t now_us, struct pool_ledger_verdict *v)
{
	uint8_t st = PROTO_TX_IDLE;
	if (!proto_parse_ready(f->body, f->body_len, &st)) {
		v->forward = false;
		v->events = POOL_LED_BAD;
		return;
	}
	l->tx_status = st;
	l->copy_in = false;
	struct pool_req *h = pool_ledger_head(l);
	/* answers that never came (an error ended their batch) */
	while (h && !pool_ledger_completes(h->type, PROTO_BE_READY)) {
		pool_ledger_pop(l, now_us);
		h = pool_ledger_head(l);
	}
	v->forward = pool_ledger_forwards(l, linked);
	if (h) {
		if (v->forward)
			v->events |= POOL_LED_COUNTED;
		if (h->flags & (POOL_REQ_APPLY | POOL_REQ_CAPTURE)) {
			v->events |= POOL_LED_SESSION_READY;
			v->tx = st;
		}
		pool_ledger_pop(l, now_us);
	}
	if (st == PROTO_TX_IDLE) /* over; statements sent after it start the next */
		l->txn_since_us = l->pending > l->internal ? now_us : 0;
}

/* An ErrorResponse to an extended-protocol request: the client sees why even when pglane
 * sent it (a re-Parse), and the rest of its batch is skipped. */
static void on_batch_error(struct pool_ledger *l, const struct proto_frame *f, bool linked,
                           const struct pool_ledger_undo *u, int64_t now_us,
                           struct pool_ledger_verdict *v)
{
	const struct pool_req *h = pool_ledger_head(l);
	v->forward = linked && !(h->flags & POOL_REQ_INTERNAL);
	if (h->stmt && h->type != PROTO_FE_PARSE && statement_gone(f)) {
		/* something on the server (a function's DEALLOCATE ALL) dropped pglane's
		 * statements: place them again from now on */
		v->events |= POOL_LED_STMTS_GONE;
		snprintf(v->gone, sizeof(v->gone), "%s", h->stmt->name);
		pool_ledger_stmts_gone(l, u->stmts);
	}
	if (pool_ledger_fail_batch(l, u, now_us))
		v->events |= POOL_LED_CLOSE; /* no room to say it is still there */
}

__attribute__((noinline)) static void on_error(struct pool_ledger *l, const struct proto_frame *f,
                                               bool linked, const struct pool_ledger_undo *u,
                                               int64_t now_us, struct pool_ledger_verdict *v)
{
	const struct pool_req *h = pool_ledger_head(l);
	if (is_fatal(f)) {
		/* the server is going away: its client, if any, is told by pglane instead */
		v->events |= POOL_LED_FATAL;
		v->forward = false;
		return;
	}
	if (h && !ends_with_ready(h->type)) {
		on_batch_error(l, f, linked, u, now_us, v);
		return;
	}
	unsigned flags = h ? h->flags : 0;
	if (flags & POOL_REQ_RESETS)
		v->events |= POOL_LED_CLOSE; /* its statements may still be there */
	if (flags & (POOL_REQ_APPLY | POOL_REQ_CAPTURE)) {
		v->events |= POOL_LED_SESSION_ERROR;
		v->forward = false;
		return;
	}
	if (flags & POOL_REQ_CHECK)
		v->events |= POOL_LED_CHECK_FAILED;
	if (!v->forward && !(flags & POOL_REQ_FAILS))
		v->events |= POOL_LED_LOG_ERROR;
}

void pool_ledger_answer_more(struct pool_ledger *l, const struct proto_frame *f, bool linked,
                             const struct pool_ledger_undo *u, int64_t now_us,
                             struct pool_ledger_verdict *v)
{
	switch (f->type) {
	case PROTO_BE_READY:
		on_ready(l, f, linked, now_us, v);
		break;
	case PROTO_BE_ERROR:
		on_error(l, f, linked, u, now_us, v);
		break;
	case PROTO_BE_PARAM_STATUS:
		v->events = POOL_LED_PARAM;
		if (l->n && (l->r[l->head].flags & POOL_REQ_APPLY))
			v->events |= POOL_LED_APPLYING;
		break;
	case PROTO_BE_DATA_ROW:
		if (pool_ledger_capturing(l))
			v->events = POOL_LED_SESSION_ROW;
		break;
	case PROTO_BE_COPY_IN:
		l->copy_in = true;
		break;
	default:
		pool_ledger_answered(l, f->type, now_us, v);
		break;
	}
}

/* ---- pglane's own answers ---- */

static void write_in_failed_tx(struct proto_writer *w)
{
	proto_write_error(w, PROTO_BE_ERROR, "ERROR", PROTO_SQLSTATE_IN_FAILED_TX,
	                  "current transaction is aborted, commands ignored until end of "
	                  "transaction block",
	                  NULL);
}

void pool_fake_write(struct proto_writer *w, enum pool_fake fake, const char *text, uint8_t tx)
{
	char msg[PROTO_MAX_NAME + 64];
	switch (fake) {
	case POOL_FAKE_NOTHING:
		break;
	case POOL_FAKE_PARSE_COMPLETE:
		proto_write_empty(w, PROTO_BE_PARSE_COMPLETE);
		break;
	case POOL_FAKE_DUPLICATE:
		snprintf(msg, sizeof(msg), "prepared statement \"%s\" already exists",
		         text ? text : "");
		proto_write_error(w, PROTO_BE_ERROR, "ERROR", "42P05", msg, NULL);
		break;
	case POOL_FAKE_CLOSE_COMPLETE:
		proto_write_empty(w, PROTO_BE_CLOSE_COMPLETE);
		break;
	case POOL_FAKE_BIND_COMPLETE:
		proto_write_empty(w, PROTO_BE_BIND_COMPLETE);
		break;
	case POOL_FAKE_NO_DATA:
		proto_write_empty(w, PROTO_BE_NO_DATA);
		break;
	case POOL_FAKE_STATEMENT_DESC:
		proto_begin(w, PROTO_BE_PARAM_DESCRIPTION);
		proto_put_i16(w, 0);
		proto_end(w);
		proto_write_empty(w, PROTO_BE_NO_DATA);
		break;
	case POOL_FAKE_COMMAND:
	case POOL_FAKE_QUERY:
		if (tx == PROTO_TX_FAILED) /* as the server in a failed transaction */
			write_in_failed_tx(w);
		else
			proto_write_command_complete(w, text ? text : "");
		if (fake == POOL_FAKE_QUERY)
			proto_write_ready(w, tx);
		break;
	case POOL_FAKE_REFUSED:
		proto_write_error(w, PROTO_BE_ERROR, "ERROR", PROTO_SQLSTATE_FEATURE_NOT_SUPPORTED,
		                  text ? text : "refused", NULL);
		break;
	case POOL_FAKE_IN_PIPELINE: {
		char why[96]; /* PostgreSQL's words (PreventInTransactionBlock) */
		snprintf(why, sizeof(why), "%s cannot be executed within a pipeline",
		         text ? text : "statement");
		proto_write_error(w, PROTO_BE_ERROR, "ERROR", PROTO_SQLSTATE_ACTIVE_SQL_TRANSACTION,
		                  why, NULL);
		break;
	}
	}
}

void pool_ledger_write_fake(struct proto_writer *w, const struct pool_req *e, uint8_t tx)
{
	if (!tx)
		tx = PROTO_TX_IDLE;
	pool_fake_write(w, (enum pool_fake)e->fake, e->name, tx);
	if (e->fake == POOL_FAKE_REFUSED && e->type == PROTO_FE_QUERY)
		proto_write_ready(w, tx);
}

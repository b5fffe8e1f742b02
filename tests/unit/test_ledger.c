/* tests/unit/test_ledger.c — pool/ledger: message sequences as bytes. The client's messages
 * (built with protocol/ writers, framed with protocol/frame.h) are recorded as the proxy
 * records them; the server's are matched with pool_ledger_answer(), pglane's own answers
 * written when they come to the head, as the relay does. Each test checks what reached the
 * client (the message types, in order), what was swallowed, the events, the transaction status
 * and counts, and what a failed batch undid. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/ledger.h"
#include "pool/slowlog.h"
#include "protocol/buf.h"
#include "protocol/extended.h"
#include "protocol/frame.h"
#include "protocol/msg.h"

#define MAX_MSG 1000000

/* ---- the harness: a ledger between a client and a server ---- */

struct side {
	struct pool_ledger l; /* first: the done hook finds the side from it */
	int64_t now;
	bool linked;
	struct pool_ledger_undo u;
	char fwd[256];        /* types that reached the client (forwarded or pglane's) */
	char kept[256];       /* types swallowed */
	uint8_t client[8192]; /* pglane's own answers, as written */
	size_t nclient;
	unsigned events; /* every event seen */
	struct pool_ledger_verdict last;
	int statements;  /* client statements the done hook heard of */
	int64_t run_us;  /* ... the last one's run */
	int64_t busy_us; /* the last busy -> idle */
	int idles;
	struct pool_stmt *known; /* the last STMT_KNOWN (a reference) */
};

static void on_done(struct pool_ledger *l, const struct pool_ledger_done *d)
{
	struct side *s = (struct side *)l;
	cr_assert_eq(d->now_us, s->now);
	if (d->run_us >= 0) {
		s->statements++;
		s->run_us = d->run_us;
	}
	if (d->busy_us >= 0)
		s->busy_us = d->busy_us;
	if (d->idle)
		s->idles++;
}

static struct side *side_new(void)
{
	struct side *s = calloc(1, sizeof(*s));
	cr_assert_not_null(s);
	pool_ledger_init(&s->l, on_done);
	s->linked = true;
	s->now = 1000;
	s->busy_us = -1;
	return s;
}

static void side_free(struct side *s)
{
	pool_ledger_clear(&s->l, s->now);
	pool_stmt_put(s->known);
	free(s);
}

static void append(char *str, uint8_t type)
{
	size_t n = strlen(str);
	cr_assert_lt(n + 1, 256);
	str[n] = (char)type;
	str[n + 1] = 0;
}

/* pglane's answers at the head, written to the client (dropped when none is linked). */
static void emit_fakes(struct side *s)
{
	while (pool_ledger_fake_next(&s->l)) {
		struct pool_req *e = pool_ledger_head(&s->l);
		if (s->linked) {
			struct proto_writer w;
			proto_writer_init(&w, s->client + s->nclient,
			                  sizeof(s->client) - s->nclient);
			pool_ledger_write_fake(&w, e, s->l.tx_status);
			cr_assert(proto_writer_ok(&w));
			for (size_t off = 0; off < w.len;) {
				struct proto_frame f;
				cr_assert_eq(
				        proto_frame_next(w.buf + off, w.len - off, MAX_MSG, &f),
				        PROTO_FRAME_OK);
				append(s->fwd, f.type);
				off += f.size;
			}
			s->nclient += w.len;
		}
		pool_ledger_pop(&s->l, s->now);
	}
}

/* The server's bytes, message by message, as the relay handles them. */
static void server_says(struct side *s, const uint8_t *p, size_t n)
{
	for (size_t off = 0; off < n;) {
		struct proto_frame f;
		cr_assert_eq(proto_frame_next(p + off, n - off, MAX_MSG, &f), PROTO_FRAME_OK);
		emit_fakes(s);
		pool_ledger_answer(&s->l, &f, s->linked, &s->u, s->now, &s->last);
		s->events |= s->last.events;
		if (s->last.events & POOL_LED_STMT_KNOWN) {
			pool_stmt_put(s->known);
			s->known = s->last.known;
		}
		append(s->last.forward ? s->fwd : s->kept, f.type);
		off += f.size;
	}
	emit_fakes(s);
}

/* The client's bytes, sent as they are: recorded as the proxy records a forwarded message. */
static void client_sends(struct side *s, const uint8_t *p, size_t n)
{
	for (size_t off = 0; off < n;) {
		struct proto_frame f;
		cr_assert_eq(proto_frame_next(p + off, n - off, MAX_MSG, &f), PROTO_FRAME_OK);
		pool_ledger_sent(&s->l, f.type);
		switch (f.type) {
		case PROTO_FE_FLUSH:
		case PROTO_FE_COPY_DATA:
		case PROTO_FE_COPY_DONE:
		case PROTO_FE_COPY_FAIL:
			break; /* no answer of their own */
		default:
			cr_assert(
			        pool_ledger_push(&s->l, f.type, POOL_REQ_FORWARD, NULL, 0, s->now));
		}
		off += f.size;
	}
}

/* ---- message builders ---- */

struct msgs {
	uint8_t b[4096];
	struct proto_writer w;
};

static struct msgs *msgs_new(void)
{
	struct msgs *m = calloc(1, sizeof(*m));
	cr_assert_not_null(m);
	proto_writer_init(&m->w, m->b, sizeof(m->b));
	return m;
}

#define W (&m->w)

static void parse(struct msgs *m, const char *name, const char *sql)
{
	proto_begin(W, PROTO_FE_PARSE);
	proto_put_cstr(W, name);
	proto_put_cstr(W, sql);
	proto_put_i16(W, 0);
	proto_end(W);
}

static void bind_(struct msgs *m, const char *stmt)
{
	proto_write_bind_head(W, "", stmt, 6);
	proto_put_i16(W, 0);
	proto_put_i16(W, 0);
	proto_put_i16(W, 0);
}

static void describe(struct msgs *m, uint8_t kind, const char *name)
{
	proto_write_target(W, PROTO_FE_DESCRIBE, kind, name);
}

static void execute(struct msgs *m)
{
	proto_begin(W, PROTO_FE_EXECUTE);
	proto_put_cstr(W, "");
	proto_put_i32(W, 0);
	proto_end(W);
}

static void close_stmt(struct msgs *m, const char *name)
{
	proto_write_target(W, PROTO_FE_CLOSE, PROTO_DESCRIBE_STATEMENT, name);
}

static void sync_(struct msgs *m)
{
	proto_write_sync(W);
}

static void flush_(struct msgs *m)
{
	proto_write_empty(W, PROTO_FE_FLUSH);
}

static void query(struct msgs *m, const char *sql)
{
	proto_write_query(W, sql);
}

static void function_call(struct msgs *m)
{
	proto_begin(W, PROTO_FE_FUNCTION_CALL);
	proto_put_i32(W, 1598); /* an oid */
	proto_put_i16(W, 0);
	proto_put_i16(W, 0);
	proto_put_i16(W, 0);
	proto_end(W);
}

static void copy_data(struct msgs *m, uint8_t type, const char *data)
{
	proto_begin(W, type);
	proto_put_bytes(W, data, strlen(data));
	proto_end(W);
}

static void copy_fail(struct msgs *m)
{
	proto_begin(W, PROTO_FE_COPY_FAIL);
	proto_put_cstr(W, "no more");
	proto_end(W);
}

/* Server messages. */
static void ready(struct msgs *m, uint8_t tx)
{
	proto_write_ready(W, tx);
}

static void err_(struct msgs *m, const char *severity, const char *sqlstate)
{
	proto_write_error(W, PROTO_BE_ERROR, severity, sqlstate, "it failed", NULL);
}

static void empty(struct msgs *m, uint8_t type)
{
	proto_write_empty(W, type);
}

static void complete(struct msgs *m, const char *tag)
{
	proto_write_command_complete(W, tag);
}

static void row_desc(struct msgs *m)
{
	proto_begin(W, PROTO_BE_ROW_DESCRIPTION);
	proto_put_i16(W, 1);
	proto_put_cstr(W, "x");
	proto_put_i32(W, 0);
	proto_put_i16(W, 0);
	proto_put_i32(W, 23);
	proto_put_i16(W, 4);
	proto_put_i32(W, -1);
	proto_put_i16(W, 0);
	proto_end(W);
}

static void data_row(struct msgs *m, const char *value)
{
	proto_begin(W, PROTO_BE_DATA_ROW);
	proto_put_i16(W, 1);
	proto_put_i32(W, (int32_t)strlen(value));
	proto_put_bytes(W, value, strlen(value));
	proto_end(W);
}

static void param_desc(struct msgs *m)
{
	proto_begin(W, PROTO_BE_PARAM_DESCRIPTION);
	proto_put_i16(W, 0);
	proto_end(W);
}

static void copy_response(struct msgs *m, uint8_t type)
{
	proto_begin(W, type);
	proto_put_u8(W, 0);
	proto_put_i16(W, 0);
	proto_end(W);
}

static void notice(struct msgs *m)
{
	proto_write_error(W, PROTO_BE_NOTICE, "NOTICE", "00000", "just so you know", NULL);
}

static void notification(struct msgs *m)
{
	proto_begin(W, PROTO_BE_NOTIFICATION);
	proto_put_i32(W, 42);
	proto_put_cstr(W, "chan");
	proto_put_cstr(W, "payload");
	proto_end(W);
}

static void function_result(struct msgs *m)
{
	proto_begin(W, PROTO_BE_FUNCTION_RESULT);
	proto_put_i32(W, 1);
	proto_put_u8(W, '1');
	proto_end(W);
}

#undef W

/* Send / receive what `m` holds, then start it again. */
static void to_server(struct side *s, struct msgs *m)
{
	cr_assert(proto_writer_ok(&m->w));
	client_sends(s, m->b, m->w.len);
	proto_writer_init(&m->w, m->b, sizeof(m->b));
}

static void from_server(struct side *s, struct msgs *m)
{
	cr_assert(proto_writer_ok(&m->w));
	server_says(s, m->b, m->w.len);
	proto_writer_init(&m->w, m->b, sizeof(m->b));
}

static struct pool_stmt *stmt_of(const char *sql)
{
	uint8_t body[256];
	size_t n = strlen(sql);
	memcpy(body, sql, n + 1);
	body[n + 1] = 0;
	body[n + 2] = 0;
	struct pool_stmt *st = pool_stmt_get(body, n + 3);
	cr_assert_not_null(st);
	return st;
}

/* The SQLSTATE of the ErrorResponse pglane wrote at `s->client` + `off`. */
static void assert_fake_error(struct side *s, size_t off, const char *sqlstate)
{
	struct proto_frame f;
	cr_assert_eq(proto_frame_next(s->client + off, s->nclient - off, MAX_MSG, &f),
	             PROTO_FRAME_OK);
	cr_assert_eq(f.type, PROTO_BE_ERROR);
	struct proto_error e;
	cr_assert(proto_parse_error(f.body, f.body_len, &e));
	cr_assert_str_eq(e.sqlstate, sqlstate);
}

/* ---- simple queries ---- */

Test(ledger, simple_query_forwarded_and_idle)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	query(m, "SELECT 1");
	to_server(s, m);
	cr_assert_eq(s->l.pending, 1);
	cr_assert_not(pool_ledger_idle(&s->l));
	cr_assert(pool_ledger_running(&s->l));
	cr_assert_eq(s->l.txn_since_us, 1000);
	row_desc(m);
	data_row(m, "1");
	data_row(m, "2");
	complete(m, "SELECT 2");
	ready(m, PROTO_TX_IDLE);
	s->now = 1500;
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "TDDCZ");
	cr_assert_str_eq(s->kept, "");
	cr_assert(s->last.events & POOL_LED_COUNTED);
	cr_assert_eq(s->l.tx_status, PROTO_TX_IDLE);
	cr_assert_eq(s->l.pending, 0);
	cr_assert_eq(s->l.txn_since_us, 0);
	cr_assert(pool_ledger_idle(&s->l));
	cr_assert_eq(s->statements, 1);
	cr_assert_eq(s->run_us, 500);
	cr_assert_eq(s->busy_us, 500);
	side_free(s);
	free(m);
}

Test(ledger, transaction_status_follows_ready)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	query(m, "BEGIN");
	to_server(s, m);
	complete(m, "BEGIN");
	ready(m, PROTO_TX_BLOCK);
	from_server(s, m);
	cr_assert_eq(s->l.tx_status, PROTO_TX_BLOCK);
	cr_assert_not(pool_ledger_idle(&s->l));
	cr_assert_eq(s->l.txn_since_us, 1000, "the transaction runs on");
	s->now = 2000;
	query(m, "SELECT nope");
	to_server(s, m);
	err_(m, "ERROR", "42703");
	ready(m, PROTO_TX_FAILED);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "CZEZ");
	cr_assert_eq(s->l.tx_status, PROTO_TX_FAILED);
	cr_assert_eq(s->events & POOL_LED_LOG_ERROR, 0, "the client's error is the client's");
	query(m, "ROLLBACK");
	to_server(s, m);
	complete(m, "ROLLBACK");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_eq(s->l.tx_status, PROTO_TX_IDLE);
	cr_assert_eq(s->l.txn_since_us, 0);
	cr_assert(pool_ledger_idle(&s->l));
	side_free(s);
	free(m);
}

Test(ledger, pipelined_queries_start_the_next_transaction)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	query(m, "SELECT 1");
	query(m, "SELECT 2");
	to_server(s, m);
	cr_assert_eq(s->l.pending, 2);
	s->now = 3000;
	complete(m, "SELECT 1");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_eq(s->l.txn_since_us, 3000, "the second one runs from the first's end");
	cr_assert_eq(pool_ledger_running_since(&s->l), 3000);
	s->now = 3300;
	complete(m, "SELECT 2");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_eq(s->run_us, 300);
	cr_assert_eq(s->l.txn_since_us, 0);
	cr_assert_eq(pool_ledger_running_since(&s->l), 0);
	side_free(s);
	free(m);
}

Test(ledger, empty_query_and_notices_forwarded)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	query(m, "");
	to_server(s, m);
	notice(m);
	empty(m, PROTO_BE_EMPTY_QUERY);
	ready(m, PROTO_TX_IDLE);
	notification(m); /* between queries: nothing owed, still the client's */
	proto_write_param_status(&m->w, "TimeZone", "UTC");
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "NIZAS");
	cr_assert(s->last.events & POOL_LED_PARAM);
	cr_assert_eq(s->last.events & POOL_LED_APPLYING, 0);
	side_free(s);
	free(m);
}

Test(ledger, function_call)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	function_call(m);
	to_server(s, m);
	cr_assert_eq(s->l.pending, 1);
	function_result(m);
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "VZ");
	cr_assert_eq(s->statements, 1, "a function call is timed as a statement");
	cr_assert(pool_ledger_idle(&s->l));
	side_free(s);
	free(m);
}

Test(ledger, malformed_ready_is_bad)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	query(m, "SELECT 1");
	to_server(s, m);
	proto_begin(&m->w, PROTO_BE_READY);
	proto_put_u8(&m->w, 'X');
	proto_end(&m->w);
	from_server(s, m);
	cr_assert_eq(s->last.events, POOL_LED_BAD);
	cr_assert_not(s->last.forward);
	side_free(s);
	free(m);
}

/* ---- the extended protocol ---- */

Test(ledger, sent_opens_and_sync_closes_a_batch)
{
	struct pool_ledger l;
	pool_ledger_init(&l, NULL);
	const uint8_t opens[] = {PROTO_FE_PARSE,   PROTO_FE_BIND,  PROTO_FE_DESCRIBE,
	                         PROTO_FE_EXECUTE, PROTO_FE_CLOSE, PROTO_FE_FLUSH};
	for (size_t i = 0; i < sizeof(opens); i++) {
		l.unsynced = false;
		pool_ledger_sent(&l, opens[i]);
		cr_assert(l.unsynced, "%c opens a batch", opens[i]);
	}
	l.ext_error = true;
	pool_ledger_sent(&l, PROTO_FE_QUERY);
	pool_ledger_sent(&l, PROTO_FE_COPY_DATA);
	cr_assert(l.unsynced && l.ext_error, "Q and d leave the batch alone");
	pool_ledger_sent(&l, PROTO_FE_SYNC);
	cr_assert_not(l.unsynced);
	cr_assert_not(l.ext_error);
	pool_ledger_clear(&l, 0);
}

Test(ledger, pipeline_of_two_statements)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	parse(m, "", "SELECT 1");
	bind_(m, "");
	describe(m, PROTO_DESCRIBE_PORTAL, "");
	execute(m);
	parse(m, "", "UPDATE t SET x = 1");
	bind_(m, "");
	describe(m, PROTO_DESCRIBE_PORTAL, "");
	execute(m);
	flush_(m);
	sync_(m);
	to_server(s, m);
	cr_assert_eq(s->l.n, 9);
	cr_assert_eq(s->l.pending, 1);
	cr_assert_not(s->l.unsynced);
	cr_assert_eq(s->l.query_start_us, 1000);
	empty(m, PROTO_BE_PARSE_COMPLETE);
	empty(m, PROTO_BE_BIND_COMPLETE);
	row_desc(m);
	data_row(m, "1");
	complete(m, "SELECT 1");
	s->now = 1200;
	from_server(s, m);
	cr_assert_eq(s->l.n, 5);
	cr_assert_eq(pool_ledger_running_since(&s->l), 1200, "the second runs from here");
	empty(m, PROTO_BE_PARSE_COMPLETE);
	empty(m, PROTO_BE_BIND_COMPLETE);
	empty(m, PROTO_BE_NO_DATA);
	complete(m, "UPDATE 1");
	ready(m, PROTO_TX_IDLE);
	s->now = 1500;
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "12TDC12nCZ");
	cr_assert_eq(s->statements, 2);
	cr_assert_eq(s->run_us, 300);
	cr_assert_eq(s->busy_us, 500);
	cr_assert(pool_ledger_idle(&s->l));
	side_free(s);
	free(m);
}

Test(ledger, describe_statement_and_suspended_portal)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	parse(m, "s1", "SELECT $1");
	describe(m, PROTO_DESCRIBE_STATEMENT, "s1");
	bind_(m, "s1");
	execute(m);
	sync_(m);
	to_server(s, m);
	empty(m, PROTO_BE_PARSE_COMPLETE);
	param_desc(m);
	row_desc(m);
	empty(m, PROTO_BE_BIND_COMPLETE);
	data_row(m, "1");
	empty(m, PROTO_BE_PORTAL_SUSPENDED);
	from_server(s, m);
	cr_assert_eq(s->l.n, 1, "t does not answer the Describe, T does; s ends the Execute");
	cr_assert_eq(pool_ledger_head(&s->l)->type, PROTO_FE_SYNC);
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "1tT2DsZ");
	side_free(s);
	free(m);
}

Test(ledger, close_answered)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	close_stmt(m, "s1");
	sync_(m);
	to_server(s, m);
	empty(m, PROTO_BE_CLOSE_COMPLETE);
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "3Z");
	cr_assert(pool_ledger_idle(&s->l));
	side_free(s);
	free(m);
}

Test(ledger, error_mid_batch_skips_to_sync)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	parse(m, "", "SELECT nope");
	bind_(m, "");
	execute(m);
	sync_(m);
	parse(m, "", "SELECT 1");
	bind_(m, "");
	execute(m);
	sync_(m);
	to_server(s, m);
	cr_assert_eq(s->l.pending, 2);
	err_(m, "ERROR", "42703");
	from_server(s, m);
	cr_assert_eq(s->l.n, 5, "Parse, Bind and Execute of the first batch are gone");
	cr_assert_eq(pool_ledger_head(&s->l)->type, PROTO_FE_SYNC);
	cr_assert_not(s->l.ext_error, "its Sync is on its way");
	cr_assert_eq(s->statements, 1, "the failed Execute was a statement");
	ready(m, PROTO_TX_IDLE);
	empty(m, PROTO_BE_PARSE_COMPLETE);
	empty(m, PROTO_BE_BIND_COMPLETE);
	complete(m, "SELECT 1");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "EZ12CZ");
	cr_assert(pool_ledger_idle(&s->l));
	side_free(s);
	free(m);
}

Test(ledger, error_before_sync_skips_until_the_clients_sync)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	parse(m, "", "SELECT nope");
	bind_(m, "");
	flush_(m);
	to_server(s, m);
	cr_assert(s->l.unsynced);
	err_(m, "ERROR", "42703");
	from_server(s, m);
	cr_assert_eq(s->l.n, 0);
	cr_assert(s->l.ext_error, "the server skips what comes until a Sync");
	cr_assert_not(pool_ledger_idle(&s->l), "a batch is open");
	sync_(m);
	to_server(s, m);
	cr_assert_not(s->l.ext_error);
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "EZ");
	cr_assert(pool_ledger_idle(&s->l));
	side_free(s);
	free(m);
}

Test(ledger, ready_pops_answers_that_never_came)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	/* a Parse the server never answered (its session ended the batch another way) */
	parse(m, "", "SELECT 1");
	sync_(m);
	to_server(s, m);
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_eq(s->l.n, 0);
	cr_assert_eq(s->l.pending, 0);
	cr_assert_str_eq(s->fwd, "Z");
	side_free(s);
	free(m);
}

/* ---- pglane's own answers ---- */

Test(ledger, fake_parse_complete_in_order)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	struct pool_stmt *st = stmt_of("SELECT 1");
	cr_assert(pool_ledger_fake(&s->l, PROTO_FE_PARSE, POOL_FAKE_PARSE_COMPLETE, st, NULL,
	                           s->now));
	cr_assert(pool_ledger_name_tail(&s->l, "s1"));
	cr_assert(pool_ledger_fake_next(&s->l));
	cr_assert_eq(s->l.pending, 0, "a fake is not owed by the server");
	bind_(m, "s1");
	execute(m);
	sync_(m);
	to_server(s, m);
	cr_assert(pool_ledger_fake(&s->l, PROTO_FE_CLOSE, POOL_FAKE_CLOSE_COMPLETE, NULL, NULL,
	                           s->now));
	sync_(m);
	to_server(s, m);
	empty(m, PROTO_BE_BIND_COMPLETE);
	complete(m, "SELECT 1");
	ready(m, PROTO_TX_IDLE);
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "12CZ3Z", "pglane's answers come at their turn");
	cr_assert(pool_ledger_idle(&s->l));
	pool_stmt_put(st);
	side_free(s);
	free(m);
}

Test(ledger, fake_duplicate_fails_the_batch)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	struct pool_stmt *st = stmt_of("SELECT 1");
	s->u.names = pool_stmt_map_new();
	cr_assert(pool_stmt_map_set(s->u.names, "s1", st));
	/* the client parses s1 again: pglane answers 42P05 and the server skips to Sync */
	cr_assert(pool_ledger_fake(&s->l, PROTO_FE_PARSE, POOL_FAKE_DUPLICATE, NULL, "s1", s->now));
	s->l.ext_error = true;
	sync_(m);
	to_server(s, m);
	cr_assert_not(s->l.ext_error);
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "EZ");
	assert_fake_error(s, 0, "42P05");
	cr_assert(memmem(s->client, s->nclient, "\"s1\" already exists", 19) != NULL);
	cr_assert_eq(pool_stmt_map_get(s->u.names, "s1"), st, "the first s1 stays");
	pool_stmt_map_free(s->u.names);
	pool_stmt_put(st);
	side_free(s);
	free(m);
}

Test(ledger, fake_query_in_failed_transaction_writes_25P02)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	query(m, "SELECT nope");
	to_server(s, m);
	err_(m, "ERROR", "42703");
	ready(m, PROTO_TX_FAILED);
	from_server(s, m);
	size_t off = s->nclient;
	cr_assert(pool_ledger_fake(&s->l, PROTO_FE_QUERY, POOL_FAKE_QUERY, NULL, "DISCARD ALL",
	                           s->now));
	emit_fakes(s);
	cr_assert_str_eq(s->fwd, "EZEZ");
	assert_fake_error(s, off, PROTO_SQLSTATE_IN_FAILED_TX);
	cr_assert_eq(s->client[s->nclient - 1], PROTO_TX_FAILED, "its ReadyForQuery says E");
	side_free(s);
	free(m);
}

Test(ledger, fake_query_when_idle_completes)
{
	struct side *s = side_new();
	cr_assert(pool_ledger_fake(&s->l, PROTO_FE_QUERY, POOL_FAKE_QUERY, NULL, "DEALLOCATE",
	                           s->now));
	emit_fakes(s);
	cr_assert_str_eq(s->fwd, "CZ");
	cr_assert(memmem(s->client, s->nclient, "DEALLOCATE", 10) != NULL);
	cr_assert_eq(s->client[s->nclient - 1], PROTO_TX_IDLE, "before any ReadyForQuery: I");
	cr_assert_eq(s->idles, 1, "the hook hears it had nothing to do");
	side_free(s);
}

Test(ledger, fake_refused_query_has_its_ready)
{
	struct side *s = side_new();
	cr_assert(pool_ledger_fake(&s->l, PROTO_FE_QUERY, POOL_FAKE_REFUSED, NULL, "no LOAD",
	                           s->now));
	cr_assert(pool_ledger_fake(&s->l, PROTO_FE_PARSE, POOL_FAKE_REFUSED, NULL, NULL, s->now));
	emit_fakes(s);
	cr_assert_str_eq(s->fwd, "EZE", "a refused Parse waits for its Sync");
	assert_fake_error(s, 0, PROTO_SQLSTATE_FEATURE_NOT_SUPPORTED);
	side_free(s);
}

Test(ledger, fake_writes_each_kind)
{
	static const struct {
		enum pool_fake fake;
		uint8_t tx;
		const char *types;
	} cases[] = {
	        {POOL_FAKE_NOTHING, PROTO_TX_IDLE, ""},
	        {POOL_FAKE_PARSE_COMPLETE, PROTO_TX_IDLE, "1"},
	        {POOL_FAKE_DUPLICATE, PROTO_TX_IDLE, "E"},
	        {POOL_FAKE_CLOSE_COMPLETE, PROTO_TX_IDLE, "3"},
	        {POOL_FAKE_BIND_COMPLETE, PROTO_TX_IDLE, "2"},
	        {POOL_FAKE_NO_DATA, PROTO_TX_IDLE, "n"},
	        {POOL_FAKE_STATEMENT_DESC, PROTO_TX_IDLE, "tn"},
	        {POOL_FAKE_COMMAND, PROTO_TX_IDLE, "C"},
	        {POOL_FAKE_COMMAND, PROTO_TX_FAILED, "E"},
	        {POOL_FAKE_QUERY, PROTO_TX_BLOCK, "CZ"},
	        {POOL_FAKE_QUERY, PROTO_TX_FAILED, "EZ"},
	        {POOL_FAKE_REFUSED, PROTO_TX_IDLE, "E"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[512];
		struct proto_writer w;
		proto_writer_init(&w, buf, sizeof(buf));
		pool_fake_write(&w, cases[i].fake, "TAG", cases[i].tx);
		cr_assert(proto_writer_ok(&w));
		char types[8] = "";
		for (size_t off = 0; off < w.len;) {
			struct proto_frame f;
			cr_assert_eq(proto_frame_next(buf + off, w.len - off, MAX_MSG, &f),
			             PROTO_FRAME_OK);
			append(types, f.type);
			off += f.size;
		}
		cr_assert_str_eq(types, cases[i].types, "case %zu", i);
	}
}

Test(ledger, unlinked_fakes_are_dropped)
{
	struct side *s = side_new();
	s->linked = false;
	cr_assert(pool_ledger_fake(&s->l, PROTO_FE_CLOSE, POOL_FAKE_CLOSE_COMPLETE, NULL, NULL,
	                           s->now));
	emit_fakes(s);
	cr_assert_eq(s->l.n, 0);
	cr_assert_eq(s->nclient, 0);
	side_free(s);
}

/* ---- pglane's own queries ---- */

Test(ledger, discard_all_that_fails_closes_on_release)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_QUERY, POOL_REQ_FORWARD, NULL, POOL_REQ_RESETS,
	                           s->now));
	err_(m, "ERROR", "25001"); /* DISCARD ALL cannot run inside a transaction block */
	ready(m, PROTO_TX_FAILED);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "EZ");
	cr_assert(s->events & POOL_LED_CLOSE);
	side_free(s);
	free(m);
}

Test(ledger, discard_all_that_works_keeps_the_server)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_QUERY, POOL_REQ_FORWARD, NULL, POOL_REQ_RESETS,
	                           s->now));
	complete(m, "DISCARD ALL");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "CZ");
	cr_assert_eq(s->events & POOL_LED_CLOSE, 0);
	side_free(s);
	free(m);
}

Test(ledger, internal_set_is_swallowed_and_counted_apart)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_QUERY, POOL_REQ_SKIP, NULL,
	                           POOL_REQ_INTERNAL | POOL_REQ_APPLY, s->now));
	query(m, "SELECT 1");
	to_server(s, m);
	cr_assert_eq(s->l.pending, 2);
	cr_assert_eq(s->l.internal, 1);
	cr_assert(pool_ledger_running(&s->l), "the client's query is owed");
	cr_assert_eq(pool_ledger_running_since(&s->l), 0, "pglane's query runs first");
	proto_write_param_status(&m->w, "DateStyle", "ISO, MDY");
	complete(m, "SET");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->kept, "SCZ");
	cr_assert_str_eq(s->fwd, "");
	cr_assert(s->events & POOL_LED_APPLYING);
	cr_assert(s->last.events & POOL_LED_SESSION_READY);
	cr_assert_eq(s->last.tx, PROTO_TX_IDLE);
	cr_assert_eq(s->last.events & POOL_LED_COUNTED, 0);
	cr_assert_eq(s->l.internal, 0);
	cr_assert_eq(s->l.pending, 1);
	cr_assert_eq(s->l.txn_since_us, 1000, "the client's statement is next");
	cr_assert_eq(s->statements, 0, "pglane's query is no statement of the client's");
	complete(m, "SELECT 1");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "CZ");
	cr_assert_eq(s->statements, 1);
	side_free(s);
	free(m);
}

Test(ledger, internal_query_alone_starts_no_transaction)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	s->linked = false;
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_QUERY, POOL_REQ_SKIP, NULL, POOL_REQ_INTERNAL,
	                           s->now));
	cr_assert_eq(s->l.txn_since_us, 0);
	cr_assert_not(pool_ledger_running(&s->l));
	complete(m, "ROLLBACK");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->kept, "CZ");
	cr_assert_eq(s->l.txn_since_us, 0);
	cr_assert(pool_ledger_idle(&s->l));
	side_free(s);
	free(m);
}

Test(ledger, apply_error_goes_to_the_session)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_QUERY, POOL_REQ_SKIP, NULL,
	                           POOL_REQ_INTERNAL | POOL_REQ_APPLY, s->now));
	err_(m, "ERROR", "22023");
	from_server(s, m);
	cr_assert_eq(s->last.events, POOL_LED_SESSION_ERROR, "not logged, not forwarded");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert(s->last.events & POOL_LED_SESSION_READY);
	cr_assert_str_eq(s->kept, "EZ");
	side_free(s);
	free(m);
}

Test(ledger, capture_rows_are_read_by_pglane)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_QUERY, POOL_REQ_SKIP, NULL,
	                           POOL_REQ_INTERNAL | POOL_REQ_CAPTURE, s->now));
	cr_assert(pool_ledger_capturing(&s->l));
	row_desc(m);
	data_row(m, "TimeZone");
	from_server(s, m);
	cr_assert_eq(s->last.events, POOL_LED_SESSION_ROW);
	data_row(m, "DateStyle");
	complete(m, "SELECT 2");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->kept, "TDDCZ");
	cr_assert(s->last.events & POOL_LED_SESSION_READY);
	cr_assert_not(pool_ledger_capturing(&s->l));
	/* rows of the client's are not pglane's */
	query(m, "SELECT 1");
	to_server(s, m);
	data_row(m, "1");
	from_server(s, m);
	cr_assert_eq(s->last.events, 0);
	cr_assert_str_eq(s->fwd, "D");
	side_free(s);
	free(m);
}

Test(ledger, internal_errors_are_logged_unless_meant)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_QUERY, POOL_REQ_SKIP, NULL, POOL_REQ_INTERNAL,
	                           s->now));
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_QUERY, POOL_REQ_SKIP, NULL,
	                           POOL_REQ_INTERNAL | POOL_REQ_FAILS, s->now));
	err_(m, "ERROR", "42601");
	from_server(s, m);
	cr_assert_eq(s->last.events, POOL_LED_LOG_ERROR);
	ready(m, PROTO_TX_IDLE);
	err_(m, "ERROR", "42601");
	from_server(s, m);
	cr_assert_eq(s->last.events, 0, "an error on purpose is no news");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->kept, "EZEZ");
	side_free(s);
	free(m);
}

Test(ledger, fatal_error_is_never_forwarded)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	s->linked = false;
	err_(m, "FATAL", "57P01");
	from_server(s, m);
	cr_assert_eq(s->last.events, POOL_LED_FATAL);
	err_(m, "ERROR", "57014");
	from_server(s, m);
	cr_assert_eq(s->last.events, POOL_LED_LOG_ERROR);
	s->linked = true;
	query(m, "SELECT 1");
	to_server(s, m);
	err_(m, "FATAL", "57P01");
	from_server(s, m);
	cr_assert_eq(s->last.events, POOL_LED_FATAL, "pglane tells the client itself");
	cr_assert_str_eq(s->fwd, "", "the FATAL reached the client");
	side_free(s);
	free(m);
}

/* What a client is owed when its server dies: a unit per request waiting for ReadyForQuery,
 * pglane's own requests aside, an open batch, a COPY, the transaction block. */
Test(ledger, owed_when_the_server_dies)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	struct pool_ledger_owed o;
	pool_ledger_owed(&s->l, &o);
	cr_assert(o.units == 0 && !o.open && !o.copy && !o.in_block, "nothing owed at the start");
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_QUERY, POOL_REQ_SKIP, NULL, POOL_REQ_INTERNAL,
	                           s->now));
	query(m, "BEGIN");
	query(m, "SELECT 1");
	parse(m, "", "SELECT 2");
	bind_(m, "");
	execute(m);
	sync_(m);
	parse(m, "", "SELECT 3");
	bind_(m, "");
	to_server(s, m);
	pool_ledger_owed(&s->l, &o);
	cr_assert_eq(o.units, 3, "pglane's own Query counted, or a unit missed: %u", o.units);
	cr_assert(o.open, "the batch without its Sync is not open");
	cr_assert(!o.in_block && !o.copy);
	ready(m, PROTO_TX_IDLE); /* pglane's */
	ready(m, PROTO_TX_BLOCK);
	from_server(s, m);
	pool_ledger_owed(&s->l, &o);
	cr_assert_eq(o.units, 2);
	cr_assert(o.in_block, "inside BEGIN, not in a block");
	side_free(s);
	free(m);
}

Test(ledger, owed_during_copy)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	struct pool_ledger_owed o;
	query(m, "COPY t FROM STDIN");
	to_server(s, m);
	copy_response(m, PROTO_BE_COPY_IN);
	from_server(s, m);
	pool_ledger_owed(&s->l, &o);
	cr_assert(o.copy && o.copy_query && o.units == 1 && !o.open);
	side_free(s);
	s = side_new();
	parse(m, "", "COPY t FROM STDIN");
	bind_(m, "");
	execute(m);
	sync_(m);
	to_server(s, m);
	empty(m, PROTO_BE_PARSE_COMPLETE);
	empty(m, PROTO_BE_BIND_COMPLETE);
	copy_response(m, PROTO_BE_COPY_IN);
	from_server(s, m);
	pool_ledger_owed(&s->l, &o);
	cr_assert(o.copy && !o.copy_query, "an Execute's COPY read as a Query's");
	cr_assert_eq(o.units, 1);
	side_free(s);
	free(m);
}

Test(ledger, server_check_failure)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	s->linked = false;
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_QUERY, POOL_REQ_SKIP, NULL, POOL_REQ_INTERNAL,
	                           s->now));
	pool_ledger_tail(&s->l)->flags |= POOL_REQ_CHECK;
	err_(m, "ERROR", "42P01");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert(s->events & POOL_LED_CHECK_FAILED);
	cr_assert(s->events & POOL_LED_LOG_ERROR);
	cr_assert(pool_ledger_idle(&s->l));
	side_free(s);
	free(m);
}

Test(ledger, unlinked_server_swallows_everything)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	s->linked = false;
	notice(m);
	notification(m);
	proto_write_param_status(&m->w, "TimeZone", "UTC");
	from_server(s, m);
	cr_assert_str_eq(s->kept, "NAS");
	cr_assert_str_eq(s->fwd, "");
	cr_assert_not(pool_ledger_forwards(&s->l, false));
	cr_assert(pool_ledger_forwards(&s->l, true));
	side_free(s);
	free(m);
}

/* ---- COPY ---- */

Test(ledger, copy_in)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	query(m, "COPY t FROM STDIN");
	to_server(s, m);
	copy_response(m, PROTO_BE_COPY_IN);
	from_server(s, m);
	cr_assert(s->l.copy_in);
	copy_data(m, PROTO_FE_COPY_DATA, "1\n");
	copy_data(m, PROTO_FE_COPY_DATA, "2\n");
	proto_write_empty(&m->w, PROTO_FE_COPY_DONE);
	to_server(s, m);
	cr_assert_eq(s->l.n, 1, "COPY data owes no answer of its own");
	complete(m, "COPY 2");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "GCZ");
	cr_assert_not(s->l.copy_in);
	cr_assert(pool_ledger_idle(&s->l));
	side_free(s);
	free(m);
}

Test(ledger, copy_in_failed_by_the_client)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	query(m, "COPY t FROM STDIN");
	to_server(s, m);
	copy_response(m, PROTO_BE_COPY_IN);
	from_server(s, m);
	copy_fail(m);
	to_server(s, m);
	err_(m, "ERROR", "57014");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "GEZ");
	cr_assert_not(s->l.copy_in);
	side_free(s);
	free(m);
}

Test(ledger, copy_out_and_copy_both_stream)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	query(m, "COPY t TO STDOUT");
	to_server(s, m);
	copy_response(m, PROTO_BE_COPY_OUT);
	copy_data(m, PROTO_BE_COPY_DATA, "1\n");
	copy_data(m, PROTO_BE_COPY_DATA, "2\n");
	proto_write_empty(&m->w, PROTO_BE_COPY_DONE);
	complete(m, "COPY 2");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "HddcCZ");
	cr_assert_not(s->l.copy_in);
	query(m, "START_REPLICATION");
	to_server(s, m);
	copy_response(m, PROTO_BE_COPY_BOTH);
	copy_data(m, PROTO_BE_COPY_DATA, "w");
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "HddcCZWd");
	cr_assert_eq(s->l.n, 1);
	side_free(s);
	free(m);
}

/* ---- statements: what a failed batch undoes ---- */

Test(ledger, failed_parse_is_undone)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	struct pool_stmt *st = stmt_of("SELECT nope");
	s->u.stmts = pool_stmt_cache_new(4);
	s->u.names = pool_stmt_map_new();
	/* as the proxy records a client's Parse of s1: prepared under its pglane name */
	cr_assert(pool_stmt_map_set(s->u.names, "s1", st));
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_PARSE, POOL_REQ_FORWARD, st, 0, s->now));
	pool_stmt_cache_add(s->u.stmts, st);
	cr_assert(pool_ledger_name_tail(&s->l, "s1"));
	s->l.unsynced = true;
	sync_(m);
	to_server(s, m);
	err_(m, "ERROR", "42703");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "EZ");
	cr_assert_not(pool_stmt_cache_has(s->u.stmts, st), "not prepared on the server");
	cr_assert_null(pool_stmt_map_get(s->u.names, "s1"), "nor known under the client's name");
	cr_assert_eq(s->events & POOL_LED_CLOSE, 0);
	pool_stmt_cache_free(s->u.stmts);
	pool_stmt_map_free(s->u.names);
	pool_stmt_put(st);
	side_free(s);
	free(m);
}

Test(ledger, skipped_parse_is_undone_and_name_reused_kept)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	struct pool_stmt *a = stmt_of("SELECT 1");
	struct pool_stmt *b = stmt_of("SELECT 2");
	s->u.stmts = pool_stmt_cache_new(4);
	s->u.names = pool_stmt_map_new();
	parse(m, "", "SELECT nope"); /* the first fails: the rest is skipped */
	to_server(s, m);
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_PARSE, POOL_REQ_FORWARD, a, 0, s->now));
	pool_stmt_cache_add(s->u.stmts, a);
	cr_assert(pool_ledger_name_tail(&s->l, "s1"));
	/* s1 was named again since: that is not undone */
	cr_assert(pool_stmt_map_set(s->u.names, "s1", b));
	sync_(m);
	to_server(s, m);
	err_(m, "ERROR", "42703");
	from_server(s, m);
	cr_assert_not(pool_stmt_cache_has(s->u.stmts, a));
	cr_assert_eq(pool_stmt_map_get(s->u.names, "s1"), b);
	pool_stmt_cache_free(s->u.stmts);
	pool_stmt_map_free(s->u.names);
	pool_stmt_put(a);
	pool_stmt_put(b);
	side_free(s);
	free(m);
}

Test(ledger, evicting_close_put_back)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	struct pool_stmt *a = stmt_of("SELECT 1");
	struct pool_stmt *b = stmt_of("SELECT 2");
	s->u.stmts = pool_stmt_cache_new(1);
	pool_stmt_cache_add(s->u.stmts, a);
	/* b needs room: a is closed, b parsed (both pglane's), then the client's Bind */
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_CLOSE, POOL_REQ_SKIP, a, 0, s->now));
	pool_stmt_cache_remove(s->u.stmts, a);
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_PARSE, POOL_REQ_SKIP, b, 0, s->now));
	pool_stmt_cache_add(s->u.stmts, b);
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_BIND, POOL_REQ_FORWARD, b, 0, s->now));
	s->l.unsynced = true;
	sync_(m);
	to_server(s, m);
	err_(m, "ERROR", "53200"); /* the Close itself fails: all after it is skipped */
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "EZ", "pglane's Close failing is told: the batch is lost");
	cr_assert(pool_stmt_cache_has(s->u.stmts, a), "a is still on the server");
	cr_assert_not(pool_stmt_cache_has(s->u.stmts, b));
	cr_assert_eq(s->events & POOL_LED_CLOSE, 0);
	pool_stmt_cache_free(s->u.stmts);
	pool_stmt_put(a);
	pool_stmt_put(b);
	side_free(s);
	free(m);
}

Test(ledger, evicting_close_without_room_closes_on_release)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	struct pool_stmt *a = stmt_of("SELECT 1");
	struct pool_stmt *c = stmt_of("SELECT 3");
	s->u.stmts = pool_stmt_cache_new(1);
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_CLOSE, POOL_REQ_SKIP, a, 0, s->now));
	pool_stmt_cache_add(s->u.stmts, c); /* its room was taken since */
	err_(m, "ERROR", "53200");
	from_server(s, m);
	cr_assert(s->last.events & POOL_LED_CLOSE);
	cr_assert(s->l.ext_error);
	pool_stmt_cache_free(s->u.stmts);
	pool_stmt_put(a);
	pool_stmt_put(c);
	side_free(s);
	free(m);
}

Test(ledger, statement_gone_resets_the_cache)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	struct pool_stmt *a = stmt_of("SELECT 1");
	struct pool_stmt *b = stmt_of("SELECT 2");
	s->u.stmts = pool_stmt_cache_new(4);
	pool_stmt_cache_add(s->u.stmts, a);
	pool_stmt_cache_add(s->u.stmts, b);
	s->l.unnamed_client = 7;
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_BIND, POOL_REQ_FORWARD, a, 0, s->now));
	execute(m);
	sync_(m);
	to_server(s, m);
	err_(m, "ERROR", "26000");
	from_server(s, m);
	cr_assert(s->last.events & POOL_LED_STMTS_GONE);
	cr_assert_str_eq(s->last.gone, a->name);
	cr_assert_eq(pool_stmt_cache_count(s->u.stmts), 0);
	cr_assert_eq(s->l.unnamed_client, 0);
	cr_assert_eq(s->l.n, 1, "the Sync is left");
	/* a failed Parse's 26000 (or any other error) is not that */
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_PARSE, POOL_REQ_FORWARD, a, 0, s->now));
	ready(m, PROTO_TX_IDLE);
	err_(m, "ERROR", "26000");
	from_server(s, m);
	cr_assert_eq(s->last.events & POOL_LED_STMTS_GONE, 0);
	pool_stmt_cache_free(s->u.stmts);
	pool_stmt_put(a);
	pool_stmt_put(b);
	side_free(s);
	free(m);
}

Test(ledger, failed_unnamed_parse_forgets_whose_it_is)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_PARSE, POOL_REQ_SKIP, NULL, POOL_REQ_UNNAMED,
	                           s->now));
	s->l.unnamed_client = 3;
	s->l.unnamed_seq = 9;
	err_(m, "ERROR", "42601");
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "E", "the client sees why its batch failed");
	cr_assert_eq(s->l.unnamed_client, 0);
	side_free(s);
	free(m);
}

Test(ledger, internal_batch_error_is_not_forwarded)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_EXECUTE, POOL_REQ_SKIP, NULL, POOL_REQ_INTERNAL,
	                           s->now));
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_SYNC, POOL_REQ_SKIP, NULL, POOL_REQ_INTERNAL,
	                           s->now));
	err_(m, "ERROR", "34000"); /* the portal does not exist: on purpose */
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->kept, "EZ");
	cr_assert_eq(s->l.internal, 0);
	side_free(s);
	free(m);
}

Test(ledger, parse_complete_makes_the_statement_known)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	struct pool_stmt *a = stmt_of("SELECT 1");
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_PARSE, POOL_REQ_SKIP, a, 0, s->now));
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_PARSE, POOL_REQ_FORWARD, NULL, POOL_REQ_UNNAMED,
	                           s->now));
	pool_stmt_put(a); /* the known one holds its own reference */
	empty(m, PROTO_BE_PARSE_COMPLETE);
	from_server(s, m);
	cr_assert(s->last.events & POOL_LED_STMT_KNOWN);
	cr_assert_eq(s->known, a);
	cr_assert_str_eq(s->kept, "1");
	empty(m, PROTO_BE_PARSE_COMPLETE);
	from_server(s, m);
	cr_assert_eq(s->last.events, 0);
	cr_assert_str_eq(s->fwd, "1");
	side_free(s);
	free(m);
}

/* ---- bookkeeping ---- */

Test(ledger, texts_for_the_slow_log)
{
	struct side *s = side_new();
	struct pool_stmt *a = stmt_of("SELECT named");
	size_t len;
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_QUERY, POOL_REQ_FORWARD, NULL, 0, s->now));
	pool_ledger_tail(&s->l)->text_seq = pool_ledger_keep_text(&s->l, "SELECT q", 8);
	const char *t = pool_ledger_text(&s->l, pool_ledger_tail(&s->l), &len);
	cr_assert_eq(len, 8);
	cr_assert(memcmp(t, "SELECT q", 8) == 0);
	/* an unnamed Bind's text replaces it: the Query's is not kept any more */
	pool_ledger_bind(&s->l, NULL, "SELECT u", 8);
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_EXECUTE, POOL_REQ_FORWARD, NULL, 0, s->now));
	pool_ledger_execute(&s->l);
	cr_assert_null(pool_ledger_text(&s->l, pool_ledger_head(&s->l), &len));
	t = pool_ledger_text(&s->l, pool_ledger_tail(&s->l), &len);
	cr_assert(t && memcmp(t, "SELECT u", 8) == 0);
	/* a named Bind: the Execute runs its statement */
	pool_ledger_bind(&s->l, a, NULL, 0);
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_EXECUTE, POOL_REQ_FORWARD, NULL, 0, s->now));
	pool_ledger_execute(&s->l);
	t = pool_ledger_text(&s->l, pool_ledger_tail(&s->l), &len);
	cr_assert_eq(len, strlen("SELECT named"));
	cr_assert(memcmp(t, "SELECT named", len) == 0);
	/* a long text is cut */
	char big[POOL_SLOW_TEXT_MAX + 10];
	memset(big, 'x', sizeof(big));
	pool_ledger_keep_text(&s->l, big, sizeof(big));
	cr_assert_lt(s->l.text_len, sizeof(big));
	pool_stmt_put(a);
	side_free(s);
}

Test(ledger, ring_grows_in_order)
{
	struct side *s = side_new();
	/* wrap the ring first, then grow it */
	for (int i = 0; i < 10; i++)
		cr_assert(pool_ledger_push(&s->l, PROTO_FE_BIND, POOL_REQ_FORWARD, NULL, 0, i));
	for (int i = 0; i < 10; i++)
		pool_ledger_pop(&s->l, s->now);
	for (int i = 0; i < 100; i++)
		cr_assert(pool_ledger_push(&s->l, PROTO_FE_BIND, POOL_REQ_FORWARD, NULL, 0, i));
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(pool_ledger_head(&s->l)->start_us, i);
		cr_assert_eq(pool_ledger_tail(&s->l)->start_us, 99);
		pool_ledger_pop(&s->l, s->now);
	}
	cr_assert_null(pool_ledger_head(&s->l));
	cr_assert_null(pool_ledger_tail(&s->l));
	side_free(s);
}

Test(ledger, clear_pops_and_tells)
{
	struct side *s = side_new();
	size_t base = pool_stmt_count();
	struct pool_stmt *a = stmt_of("SELECT 1");
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_PARSE, POOL_REQ_SKIP, a, 0, s->now));
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_EXECUTE, POOL_REQ_FORWARD, NULL, 0, s->now));
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_SYNC, POOL_REQ_FORWARD, NULL, 0, s->now));
	pool_ledger_bind(&s->l, a, NULL, 0);
	pool_stmt_put(a);
	pool_ledger_clear(&s->l, s->now);
	cr_assert_eq(s->l.n, 0);
	cr_assert_eq(s->l.pending, 0);
	cr_assert_eq(s->statements, 1);
	cr_assert_eq(pool_stmt_count(), base, "every reference given back");
	side_free(s);
}

Test(ledger, batch_failing_before_a_duplicate_keeps_the_name)
{
	struct side *s = side_new();
	struct msgs *m = msgs_new();
	struct pool_stmt *st = stmt_of("SELECT 1");
	struct pool_stmt *bad = stmt_of("SELECT nope");
	s->u.stmts = pool_stmt_cache_new(4);
	s->u.names = pool_stmt_map_new();
	cr_assert(pool_stmt_map_set(s->u.names, "s1", st));
	cr_assert(pool_stmt_map_set(s->u.names, "s0", bad));
	/* Parse s0 (fails on the server), Parse s1 again (pglane says 42P05), Sync */
	cr_assert(pool_ledger_push(&s->l, PROTO_FE_PARSE, POOL_REQ_FORWARD, bad, 0, s->now));
	pool_stmt_cache_add(s->u.stmts, bad);
	cr_assert(pool_ledger_name_tail(&s->l, "s0"));
	cr_assert(pool_ledger_fake(&s->l, PROTO_FE_PARSE, POOL_FAKE_DUPLICATE, NULL, "s1", s->now));
	sync_(m);
	to_server(s, m);
	err_(m, "ERROR", "42703");
	ready(m, PROTO_TX_IDLE);
	from_server(s, m);
	cr_assert_str_eq(s->fwd, "EZ", "the skipped duplicate is not answered");
	cr_assert_null(pool_stmt_map_get(s->u.names, "s0"));
	cr_assert_eq(pool_stmt_map_get(s->u.names, "s1"), st, "s1 still names the first");
	cr_assert_not(pool_stmt_cache_has(s->u.stmts, bad));
	pool_stmt_cache_free(s->u.stmts);
	pool_stmt_map_free(s->u.names);
	pool_stmt_put(st);
	pool_stmt_put(bad);
	side_free(s);
	free(m);
}

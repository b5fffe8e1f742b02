/* proxy/requests.c — the answers a server owes, in order. Every request sent to a server
 * (or answered by pglane in its place) is queued; the server's messages are matched to the
 * oldest one to decide whether they reach the client, and pglane's own answers (a
 * ParseComplete for a statement the server already has, a CloseComplete, a DEALLOCATE) are
 * written when their turn comes, so the client sees exactly what a lone server would say. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "config/log.h"
#include "protocol/buf.h"
#include "protocol/extended.h"
#include "protocol/msg.h"
#include "pool/slowlog.h"
#include "proxy/client.h"
#include "proxy/context.h"
#include "proxy/io.h"
#include "proxy/requests.h"
#include "proxy/server.h"

#define REQQ_MIN 16

static bool ends_with_ready(uint8_t type)
{
	return type == PROTO_FE_SYNC || type == PROTO_FE_QUERY || type == PROTO_FE_FUNCTION_CALL;
}

bool proxy_req_push(struct proxy_server *s, uint8_t type, enum proxy_req_action action,
                    struct pool_stmt *stmt, unsigned flags)
{
	struct proxy_reqq *q = &s->q;
	if (q->n == q->cap) {
		uint32_t cap = q->cap ? q->cap * 2 : REQQ_MIN;
		struct proxy_req *r = malloc((size_t)cap * sizeof(*r));
		if (!r)
			return false;
		for (uint32_t i = 0; i < q->n; i++)
			r[i] = q->r[(q->head + i) % q->cap];
		free(q->r);
		q->r = r;
		q->cap = cap;
		q->head = 0;
	}
	struct proxy_req *e = &q->r[(q->head + q->n) % q->cap];
	q->n++;
	e->type = type;
	e->action = (uint8_t)action;
	e->flags = (uint8_t)flags;
	e->fake = 0;
	e->text_seq = 0;
	e->start_us = proxy_now_us();
	e->stmt = stmt;
	e->name = NULL;
	if (stmt)
		pool_stmt_ref(stmt);
	if (action != REQ_FAKE && ends_with_ready(type)) {
		if (s->pending++ == 0)
			s->query_start_us = proxy_now_us();
		if (flags & REQ_INTERNAL)
			s->internal++;
		else if (!s->txn_since_us)
			s->txn_since_us = proxy_now_us(); /* the client's transaction starts */
	}
	return true;
}

struct proxy_req *proxy_req_head(struct proxy_server *s)
{
	return s->q.n ? &s->q.r[s->q.head] : NULL;
}

/* Is `e` a statement of the client's (timed, maybe slow)? */
static bool is_statement(const struct proxy_req *e)
{
	return e->action == REQ_FORWARD && !(e->flags & REQ_INTERNAL) &&
	       (e->type == PROTO_FE_QUERY || e->type == PROTO_FE_EXECUTE ||
	        e->type == PROTO_FE_FUNCTION_CALL);
}

static void log_slow(struct proxy_server *s, const struct proxy_req *e, int64_t dur_us)
{
	struct pool *p = s->ps.pool;
	struct proxy_client *c = s->ps.client ? proxy_client_of(s->ps.client) : NULL;
	struct pool_slow r;
	memset(&r, 0, sizeof(r));
	struct timeval tv;
	gettimeofday(&tv, NULL);
	r.at_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	snprintf(r.database, sizeof(r.database), "%s", p->db->name);
	snprintf(r.user, sizeof(r.user), "%s", p->user->name);
	snprintf(r.lane, sizeof(r.lane), "%s", cfg_lane_name(p->lane));
	int app = POOL_PARAM_APPLICATION_NAME;
	if (c && app >= 0 && c->pc.params.v[app])
		snprintf(r.application_name, sizeof(r.application_name), "%s",
		         c->pc.params.v[app]->s);
	snprintf(r.client, sizeof(r.client), "%s", c ? c->addr : "(gone)");
	r.duration_ms = (double)dur_us / 1000.0;
	r.wait_ms = c ? (double)c->pc.last_wait_ms : 0;
	if (e->stmt)
		pool_slow_text((const char *)e->stmt->body,
		               strnlen((const char *)e->stmt->body, e->stmt->len), r.query,
		               sizeof(r.query));
	else if (e->text_seq && e->text_seq == s->text_seq && s->text)
		pool_slow_text(s->text, s->text_len, r.query, sizeof(r.query));
	else
		snprintf(r.query, sizeof(r.query), "(statement text not kept)");
	pool_slowlog_add(&r);
	p->stats.slow_queries++;
	const struct cfg_log_field f[] = {
	        {.key = "database", .str = r.database},
	        {.key = "user", .str = r.user},
	        {.key = "lane", .str = r.lane},
	        {.key = "application_name", .str = r.application_name},
	        {.key = "client", .str = r.client},
	        {.key = "duration_ms", .num = r.duration_ms, .is_num = true},
	        {.key = "wait_ms", .num = r.wait_ms, .is_num = true},
	        {.key = "query", .str = r.query},
	};
	cfg_log_event(CFG_LOG_WARNING, "slow_query", f, (int)(sizeof(f) / sizeof(f[0])));
}

/* A statement of the client's is over: count its time, log it when slow. */
static void statement_done(struct proxy_server *s, const struct proxy_req *e)
{
	struct pool *p = s->ps.pool;
	if (!p || !p->db->cfg)
		return;
	int64_t now = proxy_now_us();
	int64_t start = e->start_us > s->last_done_us ? e->start_us : s->last_done_us;
	int64_t dur = now - start;
	pool_hist_add(&p->stats.query_hist, dur, now);
	int64_t slow = pool_cfg(p)->slow_query_ms;
	if (slow > 0 && dur >= slow * 1000)
		log_slow(s, e, dur);
}

void proxy_req_pop(struct proxy_server *s)
{
	struct proxy_reqq *q = &s->q;
	if (!q->n)
		return;
	struct proxy_req *e = &q->r[q->head];
	if (is_statement(e)) {
		statement_done(s, e);
		s->cancel_sent_us = 0;
	}
	/* a statement's run starts when the one before it ended (ParseComplete and
	 * BindComplete come with the Execute's answer, so they mark nothing) */
	if (is_statement(e) || ends_with_ready(e->type))
		s->last_done_us = proxy_now_us();
	if (e->action != REQ_FAKE && ends_with_ready(e->type)) {
		if (s->pending > 0 && --s->pending == 0 && s->ps.pool)
			s->ps.pool->stats.query_time_us +=
			        (uint64_t)(proxy_now_us() - s->query_start_us);
		if ((e->flags & REQ_INTERNAL) && s->internal > 0)
			s->internal--;
	}
	pool_stmt_put(e->stmt);
	free(e->name);
	q->head = (q->head + 1) % q->cap;
	q->n--;
	if (s->pending == 0)
		s->ready_ms = proxy_now_ms();
}

struct proxy_req *proxy_req_tail(struct proxy_server *s)
{
	return s->q.n ? &s->q.r[(s->q.head + s->q.n - 1) % s->q.cap] : NULL;
}

uint32_t proxy_req_keep_text(struct proxy_server *s, const char *text, size_t len)
{
	if (!s->text) {
		s->text = malloc(POOL_SLOW_TEXT_MAX);
		if (!s->text)
			return 0;
	}
	if (len > POOL_SLOW_TEXT_MAX)
		len = POOL_SLOW_TEXT_MAX;
	memcpy(s->text, text, len);
	s->text_len = (uint32_t)len;
	if (++s->text_seq == 0)
		s->text_seq = 1;
	return s->text_seq;
}

int64_t proxy_req_running_since(struct proxy_server *s)
{
	const struct proxy_reqq *q = &s->q;
	for (uint32_t i = 0; i < q->n; i++) {
		const struct proxy_req *e = &q->r[(q->head + i) % q->cap];
		if (is_statement(e))
			return e->start_us > s->last_done_us ? e->start_us : s->last_done_us;
		if (ends_with_ready(e->type))
			return 0; /* a Sync or pglane's own query comes first */
	}
	return 0;
}

void proxy_req_clear(struct proxy_server *s)
{
	while (s->q.n)
		proxy_req_pop(s);
	free(s->q.r);
	memset(&s->q, 0, sizeof(s->q));
	free(s->text);
	s->text = NULL;
	pool_stmt_put(s->bound);
	s->bound = NULL;
}

bool proxy_req_completes(uint8_t req, uint8_t type)
{
	switch (req) {
	case PROTO_FE_PARSE:
		return type == PROTO_BE_PARSE_COMPLETE;
	case PROTO_FE_BIND:
		return type == PROTO_BE_BIND_COMPLETE;
	case PROTO_FE_CLOSE:
		return type == PROTO_BE_CLOSE_COMPLETE;
	case PROTO_FE_DESCRIBE:
		return type == PROTO_BE_ROW_DESCRIPTION || type == PROTO_BE_NO_DATA;
	case PROTO_FE_EXECUTE:
		return type == PROTO_BE_COMMAND_COMPLETE || type == PROTO_BE_EMPTY_QUERY ||
		       type == PROTO_BE_PORTAL_SUSPENDED;
	default:
		return type == PROTO_BE_READY;
	}
}

/* A request the server skipped (or failed): what it would have done is not done. A Parse
 * left no statement (on the server, nor under the client's name); an evicting Close left
 * its statement where it was. */
static void undo(struct proxy_server *s, const struct proxy_req *e)
{
	if (e->type == PROTO_FE_PARSE) {
		if (e->stmt && s->stmts && e->action != REQ_FAKE)
			pool_stmt_cache_remove(s->stmts, e->stmt);
		if (e->flags & REQ_UNNAMED)
			s->unnamed_client = 0;
		struct proxy_client *c = s->ps.client ? proxy_client_of(s->ps.client) : NULL;
		bool duplicate = e->action == REQ_FAKE && e->fake == FAKE_DUPLICATE;
		if (e->name && !duplicate && c && c->stmts &&
		    pool_stmt_map_get(c->stmts, e->name) == e->stmt)
			pool_stmt_map_del(c->stmts, e->name);
	} else if (e->type == PROTO_FE_CLOSE && e->action == REQ_SKIP && e->stmt && s->stmts) {
		if (pool_stmt_cache_victim(s->stmts))
			s->ps.close_on_release = true; /* no room to say it is still there */
		else
			pool_stmt_cache_add(s->stmts, e->stmt);
	}
}

void proxy_req_fail_batch(struct proxy_server *s)
{
	struct proxy_reqq *q = &s->q;
	uint32_t n = 0;
	while (n < q->n && q->r[(q->head + n) % q->cap].type != PROTO_FE_SYNC)
		n++;
	/* newest first, so that what an eviction made room for is gone before it returns */
	for (uint32_t i = n; i-- > 0;)
		undo(s, &q->r[(q->head + i) % q->cap]);
	for (uint32_t i = 0; i < n; i++)
		proxy_req_pop(s);
	/* a Sync already sent ends the server's skipping; else the client's next ones do */
	s->ext_error = q->n == 0;
}

bool proxy_req_name_tail(struct proxy_server *s, const char *name)
{
	struct proxy_req *e = proxy_req_tail(s);
	if (!e)
		return false;
	free(e->name);
	e->name = strdup(name);
	return e->name != NULL;
}

bool proxy_req_fake(struct proxy_server *s, uint8_t type, enum proxy_fake fake, const char *text)
{
	if (!proxy_req_push(s, type, REQ_FAKE, NULL, 0))
		return false;
	struct proxy_req *e = proxy_req_tail(s);
	e->fake = (uint8_t)fake;
	return !text || proxy_req_name_tail(s, text);
}

void proxy_fake_write(struct proto_writer *w, enum proxy_fake fake, const char *text, uint8_t tx)
{
	char msg[PROTO_MAX_NAME + 64];
	switch (fake) {
	case FAKE_NOTHING:
		break;
	case FAKE_PARSE_COMPLETE:
		proto_write_empty(w, PROTO_BE_PARSE_COMPLETE);
		break;
	case FAKE_DUPLICATE:
		snprintf(msg, sizeof(msg), "prepared statement \"%s\" already exists",
		         text ? text : "");
		proto_write_error(w, PROTO_BE_ERROR, "ERROR", "42P05", msg, NULL);
		break;
	case FAKE_CLOSE_COMPLETE:
		proto_write_empty(w, PROTO_BE_CLOSE_COMPLETE);
		break;
	case FAKE_BIND_COMPLETE:
		proto_write_empty(w, PROTO_BE_BIND_COMPLETE);
		break;
	case FAKE_NO_DATA:
		proto_write_empty(w, PROTO_BE_NO_DATA);
		break;
	case FAKE_STATEMENT_DESC:
		proto_begin(w, PROTO_BE_PARAM_DESCRIPTION);
		proto_put_i16(w, 0);
		proto_end(w);
		proto_write_empty(w, PROTO_BE_NO_DATA);
		break;
	case FAKE_COMMAND:
	case FAKE_QUERY:
		if (tx == PROTO_TX_FAILED) /* as the server in a failed transaction */
			proto_write_error(w, PROTO_BE_ERROR, "ERROR", PROTO_SQLSTATE_IN_FAILED_TX,
			                  "current transaction is aborted, commands ignored until "
			                  "end of transaction block",
			                  NULL);
		else
			proto_write_command_complete(w, text ? text : "");
		if (fake == FAKE_QUERY)
			proto_write_ready(w, tx);
		break;
	case FAKE_REFUSED:
		proto_write_error(w, PROTO_BE_ERROR, "ERROR", PROTO_SQLSTATE_FEATURE_NOT_SUPPORTED,
		                  text ? text : "refused", NULL);
		break;
	}
}

/* The bytes pglane answers for a FAKE request. */
static bool write_fake(struct proxy_server *s, struct proxy_client *c, const struct proxy_req *e)
{
	size_t avail;
	uint8_t *space = proxy_out_space(&c->conn, &avail);
	if (!space || c->conn.io->niov >= PROXY_IOV_MAX - 1)
		return false;
	struct proto_writer w;
	proto_writer_init(&w, space, avail);
	uint8_t tx = s->tx_status ? s->tx_status : PROTO_TX_IDLE;
	proxy_fake_write(&w, (enum proxy_fake)e->fake, e->name, tx);
	if (e->fake == FAKE_REFUSED && e->type == PROTO_FE_QUERY)
		proto_write_ready(&w, tx);
	return proto_writer_ok(&w) && proxy_out_commit(&c->conn, w.len);
}

/* The answers themselves: apart, so that the check on every message stays a few
 * instructions. */
__attribute__((noinline)) static bool emit_fakes(struct proxy_server *s, struct proxy_client *c)
{
	struct proxy_req *e;
	while ((e = proxy_req_head(s)) != NULL && e->action == REQ_FAKE) {
		if (c && !write_fake(s, c, e))
			return false;
		proxy_req_pop(s);
	}
	return true;
}

bool proxy_req_emit_fakes(struct proxy_server *s, struct proxy_client *c)
{
	struct proxy_req *e = proxy_req_head(s);
	return !e || e->action != REQ_FAKE || emit_fakes(s, c);
}

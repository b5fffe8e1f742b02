/* proxy/requests.c — the proxy's side of a server's ledger (pool/ledger.h): the clock for its
 * records, the statistics and slow query log of each statement answered (the ledger computes,
 * the proxy counts), and pglane's own answers written to the client's output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "config/log.h"
#include "protocol/buf.h"
#include "protocol/msg.h"
#include "pool/ledger.h"
#include "pool/slowlog.h"
#include "proxy/client.h"
#include "proxy/conn_log.h"
#include "proxy/context.h"
#include "proxy/io.h"
#include "proxy/requests.h"
#include "proxy/session.h"
#include "proxy/server.h"

static void log_slow(struct proxy_server *s, const struct pool_req *e, int64_t dur_us)
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
	size_t len;
	const char *text = pool_ledger_text(&s->led, e, &len);
	if (text)
		pool_slow_text(text, len, r.query, sizeof(r.query));
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
static void statement_done(struct proxy_server *s, const struct pool_ledger_done *d)
{
	s->cancel_sent_us = 0;
	struct pool *p = s->ps.pool;
	if (!p || !p->db->cfg)
		return;
	pool_hist_add(&p->stats.query_hist, d->run_us, d->now_us);
	int64_t slow = pool_cfg(p)->slow_query_ms;
	if (slow > 0 && d->run_us >= slow * 1000)
		log_slow(s, d->req, d->run_us);
}

/* The ledger's hook: a statement was answered, or nothing is owed any more. */
static void answered(struct pool_ledger *l, const struct pool_ledger_done *d)
{
	struct proxy_server *s = pool_container_of(l, struct proxy_server, led);
	if (d->run_us >= 0)
		statement_done(s, d);
	if (d->busy_us >= 0 && s->ps.pool)
		s->ps.pool->stats.query_time_us += (uint64_t)d->busy_us;
	if (d->idle)
		s->ready_ms = proxy_now_ms();
}

void proxy_req_init(struct proxy_server *s)
{
	pool_ledger_init(&s->led, answered);
}

bool proxy_req_fake(struct proxy_server *s, uint8_t type, enum pool_fake fake,
                    struct pool_stmt *stmt, const char *text)
{
	return pool_ledger_fake(&s->led, type, fake, stmt, text, proxy_now_us());
}

void proxy_req_pop(struct proxy_server *s)
{
	pool_ledger_pop(&s->led, proxy_now_us());
}

void proxy_req_clear(struct proxy_server *s)
{
	pool_ledger_clear(&s->led, proxy_now_us());
}

/* The bytes pglane answers for a FAKE request. */
static bool write_fake(struct proxy_server *s, struct proxy_client *c, const struct pool_req *e)
{
	size_t avail;
	uint8_t *space = proxy_out_space(&c->conn, &avail);
	if (!space || c->conn.io->niov >= PROXY_IOV_MAX - 1)
		return false;
	struct proto_writer w;
	proto_writer_init(&w, space, avail);
	pool_ledger_write_fake(&w, e, s->led.tx_status);
	return proto_writer_ok(&w) && proxy_out_commit(&c->conn, w.len);
}

/* The answers themselves: apart, so that the check on every message stays a few
 * instructions. */
__attribute__((noinline)) static bool emit_fakes(struct proxy_server *s, struct proxy_client *c)
{
	struct pool_req *e;
	while ((e = pool_ledger_head(&s->led)) != NULL && e->action == POOL_REQ_FAKE) {
		if (c && !write_fake(s, c, e))
			return false;
		proxy_req_pop(s);
	}
	return true;
}

bool proxy_req_emit_fakes(struct proxy_server *s, struct proxy_client *c)
{
	return !pool_ledger_fake_next(&s->led) || emit_fakes(s, c);
}

/* A ParameterStatus from a server: the server has it now, and so does its client. The
 * client is told when the statement was its own, or when pglane's bringing of the client's
 * settings to the server gives a value the client has not been told (its start-up
 * DateStyle=ISO reads "ISO, MDY" once applied, as PostgreSQL reports it): returns whether the
 * message goes to the client. */
static bool on_param_status(struct proxy_server *s, struct proxy_client *c,
                            const struct proto_frame *f, bool clients, bool applying)
{
	const char *name, *value;
	if (!proto_parse_param_status(f->body, f->body_len, &name, &value))
		return clients;
	if (clients) /* one of the client's statements changed it */
		proxy_session_reported(s, name);
	int idx = pool_params_index(name);
	if (idx < 0)
		return clients;
	pool_params_set(&s->ps.params, idx, value);
	if (!c)
		return clients;
	const struct pool_str *seen = c->pc.params.v[idx];
	bool news = !seen || strcmp(seen->s, value) != 0;
	pool_params_set(&c->pc.params, idx, value);
	return clients || (applying && news);
}

static void log_server_error(struct proxy_server *s, const struct proto_frame *f)
{
	struct proto_error e;
	if (!proto_parse_error(f->body, f->body_len, &e))
		memset(&e, 0, sizeof(e));
	conn_warning(s, "error from pglane's own query: %s %s", e.sqlstate ? e.sqlstate : "?",
	             e.message ? e.message : "(no message)");
}

/* Why the server is going away, in PostgreSQL's words, for its close (and its client). */
static void note_fatal(struct proxy_server *s, const struct proto_frame *f)
{
	struct proto_error e;
	if (proto_parse_error(f->body, f->body_len, &e) && e.message)
		snprintf(s->fatal, sizeof(s->fatal), "%s%s%s%s", e.message, e.sqlstate ? " (" : "",
		         e.sqlstate ? e.sqlstate : "", e.sqlstate ? ")" : "");
	else
		snprintf(s->fatal, sizeof(s->fatal), "the server sent a fatal error");
}

/* What the ledger's verdict on a server message asks of the proxy besides forwarding it
 * (apart, so that the common message costs a test). Returns whether the message goes to the
 * client. */
bool proxy_req_events(struct proxy_server *s, struct proxy_client *c, const struct proto_frame *f,
                      struct pool_ledger_verdict *v, bool *fatal, bool *bad)
{
	unsigned ev = v->events;
	if (ev & POOL_LED_BAD)
		*bad = true;
	if (ev & POOL_LED_COUNTED)
		s->ps.pool->stats.query_count++;
	if (ev & POOL_LED_SESSION_READY)
		proxy_session_ready(s, v->tx);
	if (ev & POOL_LED_STMTS_GONE)
		conn_warning(s,
		             "%s was not on the server: its statements are prepared again as "
		             "needed",
		             v->gone);
	if (ev & POOL_LED_CLOSE)
		s->ps.close_on_release = true;
	if (ev & POOL_LED_SESSION_ERROR)
		proxy_session_error(s, f);
	if (ev & POOL_LED_CHECK_FAILED)
		s->check_failed = true;
	if (ev & POOL_LED_FATAL) {
		*fatal = true;
		note_fatal(s, f);
	}
	if (ev & POOL_LED_LOG_ERROR)
		log_server_error(s, f);
	if (ev & POOL_LED_SESSION_ROW)
		proxy_session_row(s, f);
	if (ev & POOL_LED_STMT_KNOWN) {
		pool_stmt_known(s->ps.pool, v->known);
		pool_stmt_put(v->known);
	}
	if (ev & POOL_LED_PARAM)
		return on_param_status(s, c, f, v->forward, ev & POOL_LED_APPLYING);
	return v->forward;
}

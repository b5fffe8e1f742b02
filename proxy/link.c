/* proxy/link.c — a client and its server: linked when a server is acquired for a client's
 * message or assigned to a waiting one (the server's session is made the client's), unlinked
 * when the transaction is over (transaction mode), when the client leaves (the server is
 * released, rolled back or closed), or when a waiting client is answered with an error
 * instead. */
#include "proxy/cancel.h"
#include "proxy/client.h"
#include "proxy/conn_log.h"
#include "proxy/context.h"
#include "proxy/io.h"
#include "proxy/lane.h"
#include "proxy/link.h"
#include "proxy/relay.h"
#include "proxy/requests.h"
#include "proxy/server.h"
#include "proxy/session.h"

#include "config/log.h"
#include "protocol/buf.h"
#include "protocol/frame.h"
#include "protocol/msg.h"

static enum cfg_pool_mode pool_mode(const struct pool *p)
{
	return pool_cfg(p)->mode;
}

/* A client and a server were just linked: make the server's session the client's (its
 * messages wait for that, proxy/session.c). */
static bool on_linked(struct proxy_client *c, struct proxy_server *s)
{
	if (pool_mode(c->pc.pool) == CFG_POOL_SESSION ||
	    pool_cfg(c->pc.pool)->server_reset_query_always)
		s->needs_reset = true; /* server_reset_query when it is released */
	c->xact_start_us = proxy_now_us();
	if (c->pc.session.current == s->ps.settings && !s->unknown_owner) {
		c->pc.session.applied = true; /* nothing to bring: the common case */
		return true;
	}
	return proxy_session_apply(c, s);
}

/* A client that waits stays readable: what it sends is buffered up to the buffer's size and its
 * hang-up is seen at once, so the common wait costs no watcher change. */
struct proxy_server *proxy_link_acquire(struct proxy_client *c, const uint8_t *msg, size_t avail)
{
	if (c->pc.pool->db->cfg)
		proxy_lane_choose(c, msg, avail);
	struct pool_server *ps = pool_acquire(c->pc.pool, &c->pc, proxy_now_ms());
	if (!ps) {
		c->paused = true;
		return NULL;
	}
	struct proxy_server *s = proxy_server_of(ps);
	if (!on_linked(c, s)) {
		proxy_client_close(c, PROTO_SQLSTATE_INTERNAL, "could not prepare a server");
		return NULL;
	}
	return s;
}

void proxy_link_assigned(struct pool_client *pc, struct pool_server *ps)
{
	struct proxy_client *c = proxy_client_of(pc);
	struct proxy_server *s = proxy_server_of(ps);
	if (c->state == CLIENT_WELCOME) {
		pool_server_ready(ps, proxy_now_ms()); /* not needed yet */
		proxy_client_welcome(c);
		return;
	}
	c->paused = false;
	if (!on_linked(c, s)) {
		proxy_client_close(c, PROTO_SQLSTATE_INTERNAL, "could not prepare a server");
		return;
	}
	proxy_conn_set_read(&c->conn, true);
	proxy_relay_client(c);
}

/* Transaction mode: give the server back once its transaction is over and nothing more is
 * expected from it; the client may go on with buffered messages on another server. */
static void maybe_release(struct proxy_client *c, struct proxy_server *s)
{
	bool txn = pool_mode(c->pc.pool) == CFG_POOL_TRANSACTION;
	if (s->syncing != SYNC_NONE || !pool_ledger_idle(&s->led) || proxy_out_pending(&c->conn) ||
	    proxy_out_pending(&s->conn) || (c->conn.io && c->conn.io->pass))
		return;
	/* between two transactions: learn what the last one did to the session */
	if (s->dirty.effects && (proxy_session_capture(c, s) || c->state != CLIENT_READY))
		return;
	if ((!txn || c->pc.session.pins) && !proxy.shutting_down) {
		/* the client keeps its server; what it sent meanwhile goes on */
		if (c->conn.io && c->conn.io->end > c->conn.io->scan)
			proxy_relay_client(c);
		return;
	}
	struct pool *p = c->pc.pool;
	int64_t now = proxy_now_us();
	p->stats.xact_count++;
	if (c->xact_start_us)
		p->stats.xact_time_us += (uint64_t)(now - c->xact_start_us);
	c->xact_start_us = 0;
	c->active_ms = proxy_now_ms(); /* idle from now on */
	if (!txn)
		s->needs_reset = false; /* shutting down: the server is closed anyway */
	proxy_server_release(s);
	if (proxy.shutting_down) {
		proxy_client_fatal(c, "57P01", "pglane is shutting down");
		return;
	}
	if (c->state == CLIENT_READY && c->conn.io && c->conn.io->end > c->conn.io->scan)
		proxy_relay_client(c);
}

void proxy_link_answered(struct proxy_server *s, struct proxy_client *c)
{
	if (s->sync_done) {
		/* pglane's own session query was answered */
		enum proxy_sync step = s->syncing;
		proxy_session_finish(c, s);
		if (c && (c->state != CLIENT_READY || proxy_link_client(s) != c ||
		          s->state != SERVER_READY || s->syncing != SYNC_NONE))
			return;
		if (c && step == SYNC_APPLY) {
			proxy_relay_client(c); /* its message waited for this */
			return;
		}
	}
	if (c)
		maybe_release(c, s);
	else if (s->led.pending == 0 && s->ps.tested)
		proxy_server_checked(s); /* server_check_query answered */
	else if (s->led.pending == 0 && s->ps.state == POOL_SERVER_BUSY)
		proxy_server_release(s); /* pglane's own work on it is done */
}

void proxy_link_cancels_done(struct proxy_server *s)
{
	if (s->state != SERVER_READY)
		return;
	struct proxy_client *c = proxy_link_client(s);
	if (c) {
		if (c->state == CLIENT_READY && !c->paused && c->conn.io)
			proxy_relay_client(c);
		if (s->state == SERVER_READY && proxy_link_client(s) == c &&
		    c->state == CLIENT_READY)
			maybe_release(c, s);
	} else if (s->led.pending == 0 && s->ps.state == POOL_SERVER_BUSY) {
		proxy_server_release(s);
	}
}

/* ---- Unlinked when the client leaves, or while it waits ---- */

void proxy_link_client_gone(struct proxy_client *c)
{
	struct proxy_server *s = proxy_link_server(c);
	if (!s)
		return;
	proxy_session_client_gone(c, s);
	bool mid_message = (c->conn.io && c->conn.io->pass) || proxy_out_pending(&s->conn);
	/* anything of the client's still owed means the server may be working on it */
	bool running = pool_ledger_running(&s->led);
	proxy_out_discard(&c->conn);
	pool_server_busy(&s->ps, proxy_now_ms());
	proxy_in_consumed(&s->conn); /* nothing of it is referenced now */
	if (mid_message || s->led.copy_in) {
		if (running)
			proxy_cancel_server(s);
		proxy_server_close(s, "client vanished in the middle of a message or COPY");
		return;
	}
	if (running) {
		conn_info(s, "client c%u vanished while its query ran: cancelling it", c->id);
		proxy_cancel_server(s);
	}
	if (s->led.unsynced) {
		/* end the client's batch without committing it: an Execute of a portal that
		 * cannot exist fails, so the Sync after it rolls the batch back */
		size_t avail;
		uint8_t *space = proxy_out_space(&s->conn, &avail);
		struct proto_writer w;
		proto_writer_init(&w, space, space ? avail : 0);
		proto_begin(&w, PROTO_FE_EXECUTE);
		proto_put_cstr(&w, "pglane: client vanished");
		proto_put_i32(&w, 1);
		proto_end(&w);
		proto_write_sync(&w);
		if (!proto_writer_ok(&w) || !proxy_out_commit(&s->conn, w.len) ||
		    !proxy_req_push(s, PROTO_FE_EXECUTE, POOL_REQ_SKIP, NULL, POOL_REQ_INTERNAL) ||
		    !proxy_req_push(s, PROTO_FE_SYNC, POOL_REQ_SKIP, NULL, POOL_REQ_INTERNAL) ||
		    proxy_out_flush(&s->conn) == PROXY_IO_ERROR) {
			proxy_server_close(s, "cannot end the client's batch");
			return;
		}
		pool_ledger_sent(&s->led, PROTO_FE_SYNC); /* the batch is over */
	}
	if (s->led.pending == 0)
		proxy_server_release(s);
}

bool proxy_link_waiting_quit(const struct proxy_client *c)
{
	const struct proxy_io *io = c->conn.io;
	if (!io)
		return false;
	uint32_t at = io->scan;
	while (at < io->end) {
		struct proto_frame f;
		if (proto_frame_header(io->data + at, io->end - at, PROXY_MAX_PACKET, &f) !=
		    PROTO_FRAME_OK)
			return false;
		if (f.type == PROTO_FE_TERMINATE)
			return true;
		if (f.size > io->end - at)
			return false;
		at += (uint32_t)f.size;
	}
	return false;
}

void proxy_link_fail_waiting(struct proxy_client *c, const char *sqlstate, const char *msg)
{
	pool_client_unwait(&c->pc, proxy_now_ms());
	if (c->state != CLIENT_READY) {
		proxy_client_fatal(c, sqlstate, msg);
		return;
	}
	conn_info(c, "%s", msg);
	c->paused = false;
	c->discarding = true;
	c->discard_extended = false;
	if (sqlstate && !proxy_client_error(c, sqlstate, msg)) {
		proxy_client_close(c, NULL, "cannot queue an error");
		return;
	}
	proxy_conn_set_read(&c->conn, true);
	proxy_relay_client(c);
}

void proxy_link_fail_waiters(struct pool *p, const char *sqlstate, const char *msg)
{
	while (!pool_list_empty(&p->waiting)) {
		struct pool_client *pc =
		        pool_container_of(pool_list_first(&p->waiting), struct pool_client, link);
		proxy_link_fail_waiting(proxy_client_of(pc), sqlstate, msg);
	}
}

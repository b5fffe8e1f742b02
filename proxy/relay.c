/* proxy/relay.c — moving bytes between a logged-in client and its server, with one pump for
 * both directions. Only message headers are scanned on the hot path; runs of messages are
 * forwarded from the input buffer in place (one writev). Each client request is recorded
 * (proxy/prepared.c) and each server answer matched to it (server_message, proxy/requests.c);
 * the small messages that end an answer are handled whole, rows and COPY data stream through.
 * Getting and giving back the server: proxy/link.c. */
#include <stdio.h>
#include <string.h>

#include "config/log.h"
#include "protocol/buf.h"
#include "protocol/frame.h"
#include "protocol/msg.h"
#include "proxy/client.h"
#include "proxy/client_msg.h"
#include "proxy/conn_log.h"
#include "proxy/context.h"
#include "proxy/io.h"
#include "proxy/link.h"
#include "proxy/lost.h"
#include "proxy/prepared.h"
#include "proxy/relay.h"
#include "proxy/requests.h"
#include "proxy/server.h"
#include "proxy/session.h"

bool proxy_relay_server_query(struct proxy_server *s, const char *sql)
{
	size_t avail;
	uint8_t *space = proxy_out_space(&s->conn, &avail);
	struct proto_writer w;
	proto_writer_init(&w, space, space ? avail : 0);
	proto_write_query(&w, sql);
	return proto_writer_ok(&w) && proxy_out_commit(&s->conn, w.len) &&
	       proxy_req_push(s, PROTO_FE_QUERY, POOL_REQ_SKIP, NULL, POOL_REQ_INTERNAL);
}

/* ---- The relay's two directions ----
 * One pump (at the end of this file) moves the messages of a source to the other side, for
 * both directions: proxy_relay_client() from a client to its server, proxy_relay_server() from
 * a server to its client. What differs per direction is in its hooks: from a client, messages
 * are checked, recorded and get a server (client_*); from a server, answers are matched to
 * their requests by server_message() (server_*). Hooks are called directly on `from_server`,
 * no function pointers on the hot path. */
struct pump {
	struct proxy_client *c; /* the client; NULL: a server with no client */
	struct proxy_server *s; /* the server; NULL: a client with no server (yet) */
	bool from_server;       /* the direction: a server's messages to its client, or back */
	bool fatal;             /* a server with no client sent a fatal error */
};

/* What a hook tells the pump: NEXT message; STOP (more bytes are needed, a state changed, or
 * the source was closed); FULL (an output queue is full: flush, then call again); GO on with
 * this message. */
enum step { STEP_NEXT, STEP_STOP, STEP_FULL, STEP_GO };

/* The pump's steps and its per-message hooks are inlined into each direction's entry, where
 * `from_server` is a constant: each direction compiles to a loop of its own. */
#define PUMP_STEP static inline __attribute__((always_inline))

/* The source sent what pglane cannot take: a client is told why and closed, a server closed. */
static void source_fail(struct pump *p, const char *why)
{
	if (p->from_server)
		proxy_server_close(p->s, why);
	else
		proxy_client_fatal(p->c, PROTO_SQLSTATE_PROTOCOL_VIOLATION, why);
}

/* Are the `want` bytes from `scan` that the message must be seen whole with in the buffer
 * (`avail` are)? GO when they are; else STOP, with `need` asking for them (or, beyond
 * PROXY_BUF_MAX, the source closed). */
PUMP_STEP enum step whole(struct pump *p, struct proxy_io *io, uint32_t avail, size_t want)
{
	if (avail >= want) {
		io->need = 0;
		return STEP_GO;
	}
	if (want > PROXY_BUF_MAX)
		source_fail(p, p->from_server ? "server message too large"
		                              : "message too large for pglane to look inside");
	else
		io->need = (uint32_t)want;
	return STEP_STOP;
}

/* Is `type` a message a logged-in client may send? */
static bool client_type_ok(uint8_t type)
{
	switch (type) {
	case PROTO_FE_BIND:
	case PROTO_FE_CLOSE:
	case PROTO_FE_DESCRIBE:
	case PROTO_FE_EXECUTE:
	case PROTO_FE_FUNCTION_CALL:
	case PROTO_FE_FLUSH:
	case PROTO_FE_PARSE:
	case PROTO_FE_QUERY:
	case PROTO_FE_SYNC:
	case PROTO_FE_COPY_DONE:
	case PROTO_FE_COPY_DATA:
	case PROTO_FE_COPY_FAIL:
		return true;
	default:
		return false;
	}
}

/* A message a logged-in client may not send: Terminate closes it, anything else is refused. */
static void client_refuse(struct proxy_client *c, uint8_t type)
{
	if (type == PROTO_FE_TERMINATE) {
		proxy_client_close(c, NULL, "client sent Terminate");
		return;
	}
	char text[64];
	snprintf(text, sizeof(text), "invalid frontend message type %d", type);
	proxy_client_fatal(c, PROTO_SQLSTATE_PROTOCOL_VIOLATION, text);
}

/* A message that arrived while the client's request is being answered with an error: the
 * Sync (or Query) that ends what failed gets ReadyForQuery; during a COPY, all up to its end
 * is ignored first, as PostgreSQL does. */
static bool discard_message(struct proxy_client *c, uint8_t type)
{
	bool ends;
	if (c->discard_copy) {
		bool copy_end = type == PROTO_FE_COPY_DONE || type == PROTO_FE_COPY_FAIL;
		if (copy_end)
			c->discard_copy = false;
		ends = copy_end && !c->discard_extended;
	} else {
		ends = type == PROTO_FE_SYNC ||
		       (!c->discard_extended &&
		        (type == PROTO_FE_QUERY || type == PROTO_FE_FUNCTION_CALL));
		if (type != PROTO_FE_SYNC && type != PROTO_FE_QUERY &&
		    type != PROTO_FE_FUNCTION_CALL)
			c->discard_extended = true;
	}
	if (!ends)
		return true;
	uint8_t z[6];
	struct proto_writer w;
	proto_writer_init(&w, z, sizeof(z));
	proto_write_ready(&w, c->discard_tx ? c->discard_tx : PROTO_TX_IDLE);
	if (!proto_writer_ok(&w) || !proxy_out_copy(&c->conn, z, w.len))
		return false;
	c->discarding = false;
	c->discard_extended = false;
	c->discard_tx = 0;
	return true;
}

/* A message (`avail` bytes of it at `msg`) from a client with no server: dropped, answered by
 * pglane, or it gets a server (GO: p->s, ready for it). */
static enum step client_unlinked(struct pump *p, struct proxy_io *io, const uint8_t *msg,
                                 uint32_t avail, const struct proto_frame *f,
                                 struct proxy_scan *scan)
{
	struct proxy_client *c = p->c;
	if (f->type == PROTO_FE_COPY_DATA || f->type == PROTO_FE_COPY_DONE ||
	    f->type == PROTO_FE_COPY_FAIL || f->type == PROTO_FE_FLUSH) {
		/* no COPY is running and nothing waits to be flushed */
		io->drop = (uint32_t)f->size;
		return STEP_NEXT;
	}
	enum proxy_msg_result r;
	if (c->lost) {
		/* its transaction block died with its server: answered here until it ends */
		enum step st = whole(p, io, avail, f->size);
		if (st != STEP_GO)
			return st;
		r = proxy_lost_message(c, msg, f->size);
		return r == MSG_NO_ROOM ? STEP_FULL : r == MSG_ERROR ? STEP_STOP : STEP_NEXT;
	}
	r = proxy_client_msg_unlinked(c, msg, avail, f->size, scan);
	if (r == MSG_DONE) {
		if (f->type == PROTO_FE_EXECUTE)
			c->executed_unsynced = true;
		return STEP_NEXT;
	}
	if (r == MSG_NO_ROOM)
		return STEP_FULL;
	if (r == MSG_ERROR)
		return STEP_STOP;
	p->s = proxy_link_acquire(c, msg, avail);
	if (!p->s)
		return STEP_STOP; /* waits; the message stays at `scan` */
	if (p->s->syncing != SYNC_NONE)
		return STEP_STOP; /* the message goes once the server has the session */
	return STEP_GO;
}

/* One client message, its header read: checked, answered by pglane or recorded (proxy/
 * prepared.c), and queued to the server. */
PUMP_STEP enum step client_message(struct pump *p, struct proxy_io *io, uint32_t avail,
                                   const struct proto_frame *f)
{
	struct proxy_client *c = p->c;
	if (!client_type_ok(f->type)) {
		client_refuse(c, f->type);
		return STEP_STOP;
	}
	enum step st = whole(p, io, avail, proxy_prepared_peek(c, f->type, f->size));
	if (st != STEP_GO)
		return st;
	const uint8_t *msg = io->data + io->scan;
	struct proxy_scan scan; /* what the message's SQL does, read once */
	scan.done = false;
	conn_debug(c, "> %c %zu%s", f->type, f->size, p->s ? "" : " (no server)");
	if (f->type == PROTO_FE_SYNC || f->type == PROTO_FE_QUERY)
		c->executed_unsynced = false; /* the batch (or its implicit transaction) ends */
	if (c->discarding) {
		io->drop = (uint32_t)f->size;
		return discard_message(c, f->type) ? STEP_NEXT : STEP_FULL;
	}
	if (!p->s && (st = client_unlinked(p, io, msg, avail, f, &scan)) != STEP_GO)
		return st;
	struct proxy_server *s = p->s;
	if (s->led.ext_error && f->type != PROTO_FE_SYNC) {
		/* the server ignores everything up to the Sync after an error */
		io->drop = (uint32_t)f->size;
		return STEP_NEXT;
	}
	enum proxy_msg_result r = proxy_client_msg_linked(c, s, msg, avail, f->size, &scan);
	if (r == MSG_NO_ROOM)
		return STEP_FULL;
	if (r == MSG_ERROR)
		return STEP_STOP;
	if (r == MSG_PASS)
		io->pass = (uint32_t)f->size;
	if (f->type == PROTO_FE_EXECUTE)
		c->executed_unsynced = true;
	c->pc.pool->stats.received += f->size;
	return proxy_req_emit_fakes(s, c) ? STEP_NEXT : STEP_FULL;
}

/* Before the client's messages are looked at: the server must be free to take them. False:
 * not now (the pump resumes when it is, or the server was closed). */
static bool client_before(struct pump *p)
{
	struct proxy_server *s = p->s;
	if (!s)
		return true;
	if (s->ncancels > 0)
		return false; /* resumes when PostgreSQL is done with the cancel requests */
	if (proxy_out_pending(&s->conn)) {
		/* e.g. pglane's own SET queued when the server was linked */
		enum proxy_io_result r = proxy_out_flush(&s->conn);
		if (r == PROXY_IO_ERROR) {
			proxy_server_close(s, "write to server failed");
			return false;
		}
		if (r == PROXY_IO_AGAIN)
			return false; /* resumes when the server's output drains */
	}
	return s->syncing == SYNC_NONE; /* else resumes when pglane's session query is answered */
}

/* After the client's messages went to the server (`blocked`: not all written yet): what
 * pglane answered the client itself is written too. False when the client was closed; sets
 * *blocked when its reading must pause until that is written. */
static bool client_flush_own(struct pump *p, bool done, bool *blocked)
{
	struct proxy_client *c = p->c;
	if (p->s && !*blocked)
		proxy_prepared_drained(c);
	if (!proxy_out_pending(&c->conn))
		return true;
	enum proxy_io_result r = proxy_out_flush(&c->conn);
	if (r == PROXY_IO_ERROR) {
		proxy_client_close(c, NULL, "write to client failed");
		return false;
	}
	/* pglane's own answers, or a stop for room, wait for the client */
	if (r == PROXY_IO_AGAIN && (!p->s || !done))
		*blocked = true;
	return true;
}

/* Server messages handled whole: those that end an answer or that pglane reads. */
static bool needs_whole(uint8_t type)
{
	switch (type) {
	case PROTO_BE_READY:
	case PROTO_BE_PARAM_STATUS:
	case PROTO_BE_ERROR:
	case PROTO_BE_PARSE_COMPLETE:
	case PROTO_BE_BIND_COMPLETE:
	case PROTO_BE_CLOSE_COMPLETE:
	case PROTO_BE_COMMAND_COMPLETE:
	case PROTO_BE_EMPTY_QUERY:
	case PROTO_BE_PORTAL_SUSPENDED:
	case PROTO_BE_NO_DATA:
	case PROTO_BE_ROW_DESCRIPTION:
	case PROTO_BE_COPY_IN:
		return true;
	default:
		return false;
	}
}

/* One whole server message: the ledger matches it to the request it answers. Returns whether
 * it goes to the client; false also when it must be swallowed. Sets *fatal for a fatal error
 * while no client is linked, *bad when the message is malformed. */
static bool server_message(struct proxy_server *s, struct proxy_client *c,
                           const struct proto_frame *f, bool *fatal, bool *bad)
{
	struct pool_ledger_undo u = {.stmts = s->stmts, .names = c ? c->stmts : NULL};
	struct pool_ledger_verdict v;
	pool_ledger_answer(&s->led, f, c != NULL, &u, proxy_now_us(), &v);
	if (v.events == POOL_LED_COUNTED) /* the common ReadyForQuery */
		s->ps.pool->stats.query_count++;
	else if (v.events)
		return proxy_req_events(s, c, f, &v, fatal, bad);
	return v.forward;
}

/* A server message not needed whole (rows, COPY data, notices): streamed to the owner of the
 * current answer, or dropped. */
static void server_stream(struct pump *p, struct proxy_io *io, const struct proto_frame *f)
{
	bool forward = pool_ledger_forwards(&p->s->led, p->c != NULL);
	if (forward) {
		io->pass = (uint32_t)f->size;
		p->s->ps.pool->stats.sent += f->size;
	} else {
		io->drop = (uint32_t)f->size;
	}
}

/* The error answering a statement pglane cancelled goes to the client saying why, as
 * PostgreSQL's own timeout would. False when the client was closed. */
static bool timeout_error(struct proxy_server *s, struct proxy_client *c)
{
	char msg[160];
	snprintf(msg, sizeof(msg),
	         "canceling statement due to statement timeout (pglane, lane \"%s\")",
	         cfg_lane_name(s->ps.pool->lane));
	if (proxy_client_error(c, PROTO_SQLSTATE_QUERY_CANCELED, msg))
		return true;
	proxy_client_close(c, NULL, "out of memory");
	return false;
}

/* One server message, its header read: streamed on, or read whole and matched to the request
 * it answers by server_message(), then forwarded to the client or swallowed. */
PUMP_STEP enum step server_answer(struct pump *p, struct proxy_io *io, uint32_t avail,
                                  const struct proto_frame *f)
{
	struct proxy_server *s = p->s;
	struct proxy_client *c = p->c;
	if (!needs_whole(f->type) &&
	    !(f->type == PROTO_BE_DATA_ROW && pool_ledger_capturing(&s->led))) {
		server_stream(p, io, f);
		return STEP_NEXT;
	}
	enum step st = whole(p, io, avail, f->size);
	if (st != STEP_GO)
		return st;
	if (c && c->conn.io && c->conn.io->niov >= PROXY_IOV_MAX)
		return STEP_FULL; /* room for this message first */
	bool bad = false;
	int64_t cancelled = s->cancel_sent_us; /* the answer may clear it */
	bool forward = server_message(s, c, f, &p->fatal, &bad);
	conn_debug(s, "< %c %zu %s", f->type, f->size, forward ? "forwarded" : "kept");
	if (bad) {
		proxy_server_close(s, "malformed message from server");
		return STEP_STOP;
	}
	if (forward && f->type == PROTO_BE_ERROR && cancelled) {
		if (!timeout_error(s, c))
			return STEP_STOP;
		forward = false;
	}
	if (forward) {
		if (!proxy_out_ref(&c->conn, io->data + io->scan, f->size)) {
			proxy_client_close(c, NULL, "out of memory");
			return STEP_STOP;
		}
		s->ps.pool->stats.sent += f->size;
	}
	io->scan += (uint32_t)f->size;
	return p->fatal ? STEP_STOP : STEP_NEXT;
}

/* Before the server's messages are looked at: the client must have taken the last ones. */
static bool server_before(const struct pump *p)
{
	return !p->c || !proxy_out_pending(&p->c->conn); /* resumes when it drains */
}

/* ---- The pump ---- */

PUMP_STEP struct proxy_conn *pump_src(const struct pump *p, bool from_server)
{
	return from_server ? &p->s->conn : &p->c->conn;
}

/* The other side; NULL when there is none (what would go to it is dropped). */
PUMP_STEP struct proxy_conn *pump_dst(const struct pump *p, bool from_server)
{
	if (from_server)
		return p->c ? &p->c->conn : NULL;
	return p->s ? &p->s->conn : NULL;
}

/* May the source's messages be handled? Its connection is ready, and a client is not waiting
 * for a server (`paused`; that is checked outside the scan, which stops when it starts). */
PUMP_STEP bool src_ready(const struct pump *p, bool from_server)
{
	return from_server ? p->s->state == SERVER_READY : p->c->state == CLIENT_READY;
}

PUMP_STEP bool pump_open(const struct pump *p, bool from_server)
{
	return src_ready(p, from_server) && (from_server || !p->c->paused);
}

enum rest { REST_NONE, REST_MORE, REST_WAIT, REST_FULL };

/* The rest of a message being passed on (to `dst`, or dropped when NULL) or skipped:
 * NONE when there is none (a new message starts at scan), MORE when some went, WAIT when no
 * byte of it is here yet, FULL when `dst`'s output queue is full. */
static enum rest message_rest(struct proxy_io *io, struct proxy_conn *dst)
{
	uint32_t *left = io->pass ? &io->pass : io->drop ? &io->drop : NULL;
	if (!left)
		return REST_NONE;
	uint32_t avail = io->end - io->scan;
	uint32_t n = *left < avail ? *left : avail;
	if (n == 0)
		return REST_WAIT;
	if (left == &io->pass && dst && !proxy_out_ref(dst, io->data + io->scan, n))
		return REST_FULL;
	io->scan += n;
	*left -= n;
	return REST_MORE;
}

/* Before each message: a client's wait for pglane's own session query to be answered first;
 * pglane's answers to a server's FAKE requests are written to its client. */
PUMP_STEP enum step next_message(struct pump *p, bool from_server)
{
	if (from_server)
		return proxy_req_emit_fakes(p->s, p->c) ? STEP_GO : STEP_FULL;
	return p->s && p->s->syncing != SYNC_NONE ? STEP_STOP : STEP_GO;
}

/* Look at the source's buffered messages and queue them to the other side. Returns false when
 * it stopped on a full output queue (flush, then call again). */
PUMP_STEP bool pump_scan(struct pump *p, bool from_server)
{
	struct proxy_io *io;
	while ((io = pump_src(p, from_server)->io) != NULL && src_ready(p, from_server)) {
		enum step st = next_message(p, from_server);
		if (st != STEP_GO)
			return st != STEP_FULL;
		enum rest rest = message_rest(io, pump_dst(p, from_server));
		if (rest == REST_MORE)
			continue;
		if (rest != REST_NONE)
			return rest == REST_WAIT;
		uint32_t avail = io->end - io->scan;
		struct proto_frame f;
		enum proto_frame_result fr =
		        proto_frame_header(io->data + io->scan, avail, PROXY_MAX_PACKET, &f);
		if (fr == PROTO_FRAME_NEED_MORE) {
			io->need = PROTO_HEADER_SIZE;
			return true;
		}
		if (fr == PROTO_FRAME_BAD) {
			source_fail(p, from_server ? "invalid message length from server"
			                           : "invalid message length from client");
			return true;
		}
		st = from_server ? server_answer(p, io, avail, &f)
		                 : client_message(p, io, avail, &f);
		if (st != STEP_NEXT)
			return st != STEP_FULL;
	}
	return true;
}

/* After a scan: write what was queued to the other side. Once written, the source's input is
 * consumed and read again; while it is not, reading the source pauses (back-pressure). False:
 * stop (something was closed, or reading paused until an output drains). */
PUMP_STEP bool pump_flush(struct pump *p, bool from_server, bool done)
{
	struct proxy_conn *src = pump_src(p, from_server), *dst = pump_dst(p, from_server);
	enum proxy_io_result r = PROXY_IO_OK;
	if (dst && (from_server || proxy_out_pending(dst)))
		r = proxy_out_flush(dst);
	if (r == PROXY_IO_ERROR) {
		if (from_server)
			proxy_client_close(p->c, NULL, "write to client failed");
		else
			proxy_server_close(p->s, "write to server failed");
		return false;
	}
	bool blocked = r == PROXY_IO_AGAIN;
	if (!from_server && !client_flush_own(p, done, &blocked))
		return false;
	if (blocked) {
		proxy_conn_set_read(src, false);
		return false;
	}
	if (from_server && dst)
		proxy_io_release_idle(dst); /* written, nothing read pending */
	proxy_in_consumed(src);
	proxy_io_release_idle(src);
	proxy_conn_set_read(src, true);
	return true;
}

/* Move the source's messages to the other side until it has no more, or must wait. */
PUMP_STEP void pump(struct proxy_client *c, struct proxy_server *s, bool from_server)
{
	struct pump p = {.c = c, .s = s, .from_server = from_server};
	if (!from_server && c->paused && c->state == CLIENT_READY && proxy_link_waiting_quit(c)) {
		/* gave up waiting: what it waited with is never run */
		proxy_client_close(c, NULL, "client closed the connection while waiting");
		return;
	}
	for (;;) {
		if (!pump_open(&p, from_server))
			return;
		if (from_server)
			p.c = proxy_link_client(p.s);
		else
			p.s = proxy_link_server(p.c);
		if (!(from_server ? server_before(&p) : client_before(&p)))
			return;
		p.fatal = false;
		bool done = pump_scan(&p, from_server);
		if (!pump_open(&p, from_server))
			return;
		if (!from_server && p.s && p.s->state == SERVER_CLOSED)
			continue; /* its server died meanwhile: the client goes on without it */
		if (p.fatal) {
			proxy_server_close(p.s, p.s->fatal[0] ? p.s->fatal
			                                      : "server sent a fatal error");
			return;
		}
		if (!pump_flush(&p, from_server, done))
			return;
		if (!done)
			continue;
		if (from_server)
			proxy_link_answered(p.s, p.c);
		return;
	}
}

void proxy_relay_client(struct proxy_client *c)
{
	pump(c, NULL, false);
}

void proxy_relay_server(struct proxy_server *s)
{
	pump(NULL, s, true);
}

/* The other side's output drained: what the source handed it is written, so the source's
 * input is consumed (a client's also released when empty), read again, and pumped. */
static void pump_resume(struct proxy_client *c, struct proxy_server *s, bool from_server)
{
	struct proxy_conn *src = from_server ? &s->conn : &c->conn;
	if (!from_server)
		proxy_prepared_drained(c);
	proxy_in_consumed(src);
	if (!from_server)
		proxy_io_release_idle(src);
	proxy_conn_set_read(src, true);
	if (from_server)
		proxy_relay_server(s);
	else
		proxy_relay_client(c);
}

void proxy_relay_server_drained(struct proxy_server *s)
{
	struct proxy_client *c = proxy_link_client(s);
	if (c)
		pump_resume(c, NULL, false);
}

void proxy_relay_client_drained(struct proxy_client *c)
{
	struct proxy_server *s = proxy_link_server(c);
	if (!s) {
		if (c->conn.io)
			proxy_relay_client(c); /* may have stopped on a full output queue */
		return;
	}
	pump_resume(NULL, s, true);
	if (c->state == CLIENT_READY && !c->paused && c->conn.io)
		proxy_relay_client(c); /* may have stopped for room in its output */
}

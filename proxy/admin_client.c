/* proxy/admin_client.c — a client logged in to the `pglane` admin database: its messages
 * (simple and extended query protocol) are answered by admin/console.c in this process.
 * Answers of a batch of messages are built into one growable buffer, written, and freed;
 * the next batch is read only once it is out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "admin/console.h"
#include "admin/metrics.h"
#include "admin/status.h"
#include "config/log.h"
#include "protocol/buf.h"
#include "protocol/extended.h"
#include "protocol/frame.h"
#include "protocol/msg.h"
#include "proxy/admin_client.h"
#include "proxy/authq.h"
#include "proxy/client.h"
#include "proxy/gather.h"
#include "proxy/conn_log.h"
#include "proxy/context.h"
#include "proxy/io.h"

#define ADMIN_MAX_MESSAGE (64 * 1024)
#define ADMIN_STATEMENTS  8

struct admin_stmt {
	char name[64];
	char *sql; /* owned */
};

struct proxy_admin {
	bool full;
	char user[64];
	struct admin_buf out;                      /* answers being written */
	bool out_queued;                           /* `out` is referenced by the output queue */
	struct admin_stmt stmts[ADMIN_STATEMENTS]; /* [0] is the unnamed one */
	char *portal;                              /* owned: the SQL bound to the unnamed portal */
	struct admin_result portal_result;         /* a Describe's result, kept for the Execute */
	bool portal_ready;
	bool skipping;               /* an error: skip to the Sync */
	struct admin_result pending; /* a PAUSE waiting for its servers */
	bool has_pending;
	bool pending_extended; /* ... sent with Execute (no ReadyForQuery of its own) */
};

/* When pglane started (wall clock), for the console's averages and the status page's uptime.
 * Owner today: the process's one event loop (set once at start). Under worker threads:
 * process-wide, read-only, set before the threads start. */
static struct console_start {
	int64_t started_ms; /* wall clock */
} console;

static int64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void proxy_admin_started(void)
{
	console.started_ms = wall_ms();
}

static struct admin_ctx context(const struct proxy_admin *a)
{
	struct admin_ctx ctx = {
	        .full = a ? a->full : true,
	        .cfg = proxy.cfg,
	        .now_us = proxy_now_us(),
	        .started_ms = console.started_ms,
	        .version = PGLANE_VERSION,
	};
	return ctx;
}

int64_t proxy_admin_started_ms(void)
{
	return console.started_ms;
}

void proxy_admin_metrics(struct admin_buf *out)
{
	proxy_gather_begin();
	struct admin_ctx ctx = context(NULL);
	admin_metrics(&ctx, proxy.nclients, out);
	struct proxy_authq_stats st = proxy_gather_authq();
	struct admin_authq_counts n = {.found = st.found,
	                               .not_found = st.not_found,
	                               .errors = st.errors,
	                               .joined = st.coalesced,
	                               .in_flight = st.in_flight};
	admin_metrics_authq(&n, out);
	size_t npeers;
	uint64_t unknown;
	struct admin_peer_counts *peers = proxy_gather_peers(&npeers, &unknown);
	admin_metrics_peers(&ctx, peers, npeers, unknown, out);
	free(peers);
	proxy_gather_end();
}

void proxy_admin_status(struct admin_buf *out)
{
	proxy_gather_begin();
	struct admin_ctx ctx = context(NULL);
	admin_status_json(&ctx, proxy.nclients, out);
	proxy_gather_end();
}

static void put_msg(struct admin_buf *b, uint8_t type, const void *body, size_t n)
{
	uint8_t h[PROTO_HEADER_SIZE];
	h[0] = type;
	proto_put_be32(h + 1, (uint32_t)(n + 4));
	admin_buf_put(b, h, sizeof(h));
	admin_buf_put(b, body, n);
}

static void put_ready(struct admin_buf *b)
{
	uint8_t st = PROTO_TX_IDLE;
	put_msg(b, PROTO_BE_READY, &st, 1);
}

static void put_error(struct admin_buf *b, const char *sqlstate, const char *msg)
{
	uint8_t buf[1024];
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_error(&w, PROTO_BE_ERROR, "ERROR", sqlstate, msg, NULL);
	if (proto_writer_ok(&w))
		admin_buf_put(b, buf, w.len);
}

/* The rows and tag of a result (after its RowDescription when `describe`). */
static void put_result(struct admin_buf *b, const struct admin_result *r, bool describe)
{
	if (admin_result_is_error(r)) {
		put_error(b, r->sqlstate, r->message);
		return;
	}
	if (describe && r->ncols)
		admin_buf_put(b, r->desc.data, r->desc.len);
	if (r->ncols)
		admin_buf_put(b, r->rows.data, r->rows.len);
	if (!r->tag[0] && !r->ncols) {
		put_msg(b, PROTO_BE_EMPTY_QUERY, NULL, 0);
		return;
	}
	char tag[96];
	int n = snprintf(tag, sizeof(tag), "%s", r->tag);
	if (strcmp(r->tag, "SHOW") == 0 && r->ncols)
		n = snprintf(tag, sizeof(tag), "SHOW %llu", (unsigned long long)r->nrows);
	put_msg(b, PROTO_BE_COMMAND_COMPLETE, tag, (size_t)n + 1);
}

static void run(struct proxy_client *c, const char *sql, size_t len, struct admin_result *r)
{
	struct admin_ctx ctx = context(c->admin);
	admin_result_init(r);
	proxy_gather_begin();
	ctx.cfg = proxy.cfg;
	admin_execute(&ctx, sql, len, r);
	proxy_gather_end();
	if (r->desc.failed || r->rows.failed) {
		admin_result_free(r);
		admin_result_init(r);
		admin_result_error(r, "53200", "out of memory");
	}
	conn_info(c, "admin: %.*s%s", (int)(len > 200 ? 200 : len), sql,
	          admin_result_is_error(r) ? " (refused)" : "");
}

static void on_query(struct proxy_client *c, const uint8_t *body, size_t n)
{
	struct proxy_admin *a = c->admin;
	struct admin_result r;
	run(c, (const char *)body, n ? n - 1 : 0, &r);
	if (r.pending) {
		a->pending = r;
		a->has_pending = true;
		a->pending_extended = false;
		return;
	}
	put_result(&a->out, &r, true);
	put_ready(&a->out);
	admin_result_free(&r);
}

static struct admin_stmt *stmt_slot(struct proxy_admin *a, const char *name, bool create)
{
	if (!name[0])
		return &a->stmts[0];
	for (int i = 1; i < ADMIN_STATEMENTS; i++)
		if (a->stmts[i].sql && strcmp(a->stmts[i].name, name) == 0)
			return &a->stmts[i];
	if (!create)
		return NULL;
	for (int i = 1; i < ADMIN_STATEMENTS; i++)
		if (!a->stmts[i].sql)
			return &a->stmts[i];
	return NULL;
}

static void fail(struct proxy_admin *a, const char *sqlstate, const char *msg)
{
	put_error(&a->out, sqlstate, msg);
	a->skipping = true;
}

static void drop_portal(struct proxy_admin *a)
{
	free(a->portal);
	a->portal = NULL;
	if (a->portal_ready)
		admin_result_free(&a->portal_result);
	a->portal_ready = false;
}

/* Describe of the portal (or statement): run it now, keep the answer for the Execute. */
static void describe(struct proxy_client *c, const char *sql, bool statement)
{
	struct proxy_admin *a = c->admin;
	if (statement) {
		static const uint8_t no_params[2] = {0, 0};
		put_msg(&a->out, PROTO_BE_PARAM_DESCRIPTION, no_params, sizeof(no_params));
	}
	struct admin_result r;
	if (statement) {
		run(c, sql, strlen(sql), &r);
	} else {
		if (!a->portal_ready) {
			run(c, sql, strlen(sql), &a->portal_result);
			a->portal_ready = true;
		}
		r = a->portal_result;
	}
	if (!admin_result_is_error(&r) && r.ncols)
		admin_buf_put(&a->out, r.desc.data, r.desc.len);
	else
		put_msg(&a->out, PROTO_BE_NO_DATA, NULL, 0);
	if (statement)
		admin_result_free(&r);
}

static void on_extended(struct proxy_client *c, const struct proto_frame *f)
{
	struct proxy_admin *a = c->admin;
	if (a->skipping && f->type != PROTO_FE_SYNC)
		return;
	switch (f->type) {
	case PROTO_FE_PARSE: {
		const char *name;
		size_t rest;
		if (!proto_parse_parse(f->body, f->body_len, &name, &rest)) {
			fail(a, PROTO_SQLSTATE_PROTOCOL_VIOLATION, "malformed Parse");
			return;
		}
		struct admin_stmt *st = stmt_slot(a, name, true);
		if (!st) {
			fail(a, "53400", "too many prepared statements on the admin console");
			return;
		}
		free(st->sql);
		st->sql = strndup((const char *)f->body + rest, f->body_len - rest);
		snprintf(st->name, sizeof(st->name), "%s", name);
		if (!st->sql) {
			fail(a, "53200", "out of memory");
			return;
		}
		put_msg(&a->out, PROTO_BE_PARSE_COMPLETE, NULL, 0);
		return;
	}
	case PROTO_FE_BIND: {
		const char *portal, *name;
		size_t end;
		struct admin_stmt *st;
		if (!proto_parse_bind_names(f->body, f->body_len, &portal, &name, &end)) {
			fail(a, PROTO_SQLSTATE_PROTOCOL_VIOLATION, "malformed Bind");
			return;
		}
		if (!(st = stmt_slot(a, name, false)) || !st->sql) {
			fail(a, "26000", "prepared statement does not exist");
			return;
		}
		drop_portal(a);
		a->portal = strdup(st->sql);
		if (!a->portal) {
			fail(a, "53200", "out of memory");
			return;
		}
		put_msg(&a->out, PROTO_BE_BIND_COMPLETE, NULL, 0);
		return;
	}
	case PROTO_FE_DESCRIBE: {
		uint8_t kind;
		const char *name;
		if (!proto_parse_target(f->body, f->body_len, &kind, &name)) {
			fail(a, PROTO_SQLSTATE_PROTOCOL_VIOLATION, "malformed Describe");
			return;
		}
		if (kind == PROTO_DESCRIBE_STATEMENT) {
			struct admin_stmt *st = stmt_slot(a, name, false);
			if (!st || !st->sql)
				fail(a, "26000", "prepared statement does not exist");
			else
				describe(c, st->sql, true);
		} else if (!a->portal) {
			fail(a, "34000", "portal does not exist");
		} else {
			describe(c, a->portal, false);
		}
		return;
	}
	case PROTO_FE_EXECUTE: {
		if (!a->portal) {
			fail(a, "34000", "portal does not exist");
			return;
		}
		struct admin_result r;
		if (a->portal_ready) {
			r = a->portal_result;
			a->portal_ready = false;
		} else {
			run(c, a->portal, strlen(a->portal), &r);
		}
		if (r.pending) {
			a->pending = r;
			a->has_pending = true;
			a->pending_extended = true;
			return;
		}
		if (admin_result_is_error(&r))
			a->skipping = true;
		put_result(&a->out, &r, false);
		admin_result_free(&r);
		return;
	}
	case PROTO_FE_CLOSE:
		put_msg(&a->out, PROTO_BE_CLOSE_COMPLETE, NULL, 0);
		return;
	case PROTO_FE_SYNC:
		a->skipping = false;
		put_ready(&a->out);
		return;
	case PROTO_FE_FLUSH:
		return;
	default:
		fail(a, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
		     "the admin console does not take this message");
		return;
	}
}

/* Write what is in `out`; false when the client was closed. */
static bool send_out(struct proxy_client *c)
{
	struct proxy_admin *a = c->admin;
	if (a->out.failed) {
		proxy_client_close(c, NULL, "out of memory answering an admin command");
		return false;
	}
	if (!a->out.len)
		return true;
	if (!proxy_out_ref(&c->conn, a->out.data, a->out.len)) {
		proxy_client_close(c, NULL, "cannot queue an admin answer");
		return false;
	}
	a->out_queued = true;
	enum proxy_io_result r = proxy_out_flush(&c->conn);
	if (r == PROXY_IO_ERROR) {
		proxy_client_close(c, NULL, "write to client failed");
		return false;
	}
	if (r == PROXY_IO_OK)
		proxy_admin_drained(c);
	else
		proxy_conn_set_read(&c->conn, false);
	return true;
}

void proxy_admin_drained(struct proxy_client *c)
{
	struct proxy_admin *a = c->admin;
	if (!a || !a->out_queued)
		return;
	a->out_queued = false;
	admin_buf_free(&a->out);
	if (c->state == CLIENT_READY && !a->has_pending) {
		proxy_conn_set_read(&c->conn, true);
		proxy_admin_read(c);
	}
}

void proxy_admin_read(struct proxy_client *c)
{
	struct proxy_admin *a = c->admin;
	struct proxy_io *io;
	while (!a->out_queued && !a->has_pending && (io = c->conn.io) != NULL &&
	       c->state == CLIENT_READY) {
		struct proto_frame f;
		if (io->end > io->scan && !memchr("QPBDESHCX", io->data[io->scan], 9)) {
			/* refused from its type byte, before any length is waited on */
			char msg[64];
			snprintf(msg, sizeof(msg), "invalid frontend message type %d",
			         io->data[io->scan]);
			proxy_client_fatal(c, PROTO_SQLSTATE_PROTOCOL_VIOLATION, msg);
			return;
		}
		enum proto_frame_result fr = proto_frame_next(
		        io->data + io->scan, io->end - io->scan, ADMIN_MAX_MESSAGE, &f);
		if (fr == PROTO_FRAME_NEED_MORE) {
			io->need = PROTO_HEADER_SIZE;
			if (io->end - io->scan >= PROTO_HEADER_SIZE)
				io->need = proto_be32(io->data + io->scan + 1) + 1;
			break;
		}
		if (fr == PROTO_FRAME_BAD) {
			proxy_client_fatal(c, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
			                   "invalid message length");
			return;
		}
		io->need = 0;
		io->scan += (uint32_t)f.size;
		proxy_in_consumed(&c->conn);
		if (f.type == PROTO_FE_TERMINATE) {
			proxy_client_close(c, NULL, "client sent Terminate");
			return;
		}
		if (f.type == PROTO_FE_QUERY)
			on_query(c, f.body, f.body_len);
		else
			on_extended(c, &f);
	}
	if (c->state == CLIENT_READY && !a->out_queued) {
		if (!send_out(c))
			return;
	}
	if (c->state == CLIENT_READY)
		proxy_io_release_idle(&c->conn);
}

void proxy_admin_poll(struct proxy_client *c)
{
	struct proxy_admin *a = c->admin;
	if (!a || !a->has_pending || a->out_queued || !admin_pending_poll(&a->pending))
		return;
	a->has_pending = false;
	put_result(&a->out, &a->pending, !a->pending_extended);
	if (!a->pending_extended)
		put_ready(&a->out);
	admin_result_free(&a->pending);
	if (send_out(c) && c->state == CLIENT_READY && !a->out_queued)
		proxy_admin_read(c);
}

bool proxy_admin_login(struct proxy_client *c, const char *user)
{
	bool full = c->own_user; /* pglane's own OS user over the Unix socket */
	if (!full && !cfg_is_admin(proxy.cfg, user, &full)) {
		char msg[160];
		snprintf(msg, sizeof(msg),
		         "user \"%s\" is not allowed to connect to the admin console (admin.users, "
		         "admin.stats_users)",
		         user);
		proxy_client_fatal(c, PROTO_SQLSTATE_INVALID_AUTH_SPEC, msg);
		return false;
	}
	c->admin = calloc(1, sizeof(*c->admin));
	if (!c->admin) {
		proxy_client_close(c, NULL, "out of memory");
		return false;
	}
	c->admin->full = full;
	snprintf(c->admin->user, sizeof(c->admin->user), "%s", user);
	return true;
}

const char *proxy_admin_user(const struct proxy_client *c)
{
	return c->admin ? c->admin->user : "";
}

void proxy_admin_free(struct proxy_client *c)
{
	struct proxy_admin *a = c->admin;
	if (!a)
		return;
	for (int i = 0; i < ADMIN_STATEMENTS; i++)
		free(a->stmts[i].sql);
	drop_portal(a);
	if (a->has_pending)
		admin_result_free(&a->pending);
	admin_buf_free(&a->out); /* the output queue was discarded with the connection */
	free(a);
	c->admin = NULL;
}

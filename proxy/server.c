/* proxy/server.c — server connections: nonblocking connect (the login that follows is
 * proxy/server_login.c's), the watcher callback, release to the pool (rollback or reset first
 * when needed), the server check, and the one close function with deferred free. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config/log.h"
#include "protocol/msg.h"
#include "protocol/sql.h"
#include "pool/health.h"
#include "proxy/cancel.h"
#include "proxy/client.h"
#include "proxy/conn_log.h"
#include "proxy/context.h"
#include "proxy/hosts.h"
#include "proxy/io.h"
#include "proxy/lost.h"
#include "proxy/prepared.h"
#include "proxy/relay.h"
#include "proxy/requests.h"
#include "proxy/resolve.h"
#include "proxy/server.h"
#include "proxy/server_login.h"
#include "proxy/session.h"

static void server_cb(struct ev_loop *loop, ev_io *w, int revents);

void proxy_server_close(struct proxy_server *s, const char *reason)
{
	if (s->state == SERVER_CLOSED)
		return;
	struct pool *p = s->ps.pool;
	struct proxy_client *c = s->ps.client ? proxy_client_of(s->ps.client) : NULL;
	bool tested = s->ps.tested;
	if (p)
		conn_info(s, "closing: %s%s", tested ? "server check failed: " : "", reason);
	/* closed from here on: a path from what follows back to this close returns at once */
	s->state = SERVER_CLOSED;
	if (p)
		pool_server_remove(&s->ps);
	const char *why = NULL;
	if (c && !proxy_lost_server(c, s, reason, &why)) {
		/* it cannot go on without this server: what the server said, then the news */
		if (proxy_out_flush(&c->conn) != PROXY_IO_OK)
			proxy_out_discard(&c->conn);
		char msg[256];
		snprintf(msg, sizeof(msg), "server connection lost: %s (%s)", reason, why);
		proxy_client_close(c, PROTO_SQLSTATE_CONNECTION_FAILURE, msg);
	}
	proxy_cancel_detach(s);
	proxy_resolve_cancel(s->resolving);
	s->resolving = NULL;
	proxy_server_login_free(s);
	proxy_req_clear(s);
	proxy_session_server_free(s);
	pool_stmt_cache_free(s->stmts);
	s->stmts = NULL;
	proxy_conn_close(&s->conn);
	proxy_defer_free(&s->dead, s);
	if (p && !proxy.shutting_down) {
		pool_server_gone(p, proxy_now_ms());
		if (tested) /* its client waits: another idle server, or a new one */
			pool_kick_later(p);
	}
}

void proxy_server_evict(struct pool_server *ps, const char *cap)
{
	char why[96];
	snprintf(why, sizeof(why), "idle, closed to make room for another pool under %s", cap);
	proxy_server_close(proxy_server_of(ps), why);
}

void proxy_server_close_all(struct pool *p, const char *reason)
{
	struct pool_list *lists[] = {&p->login, &p->idle, &p->active, &p->busy};
	for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++)
		while (!pool_list_empty(lists[k]))
			proxy_server_close(
			        proxy_server_of(pool_container_of(pool_list_first(lists[k]),
			                                          struct pool_server, link)),
			        reason);
}

void proxy_server_settle(struct pool_server *ps)
{
	struct proxy_server *s = proxy_server_of(ps);
	if (!ev_is_pending(&s->conn.w))
		return; /* the common case: it said nothing since it went idle */
	int revents = ev_clear_pending(proxy.loop, &s->conn.w);
	server_cb(proxy.loop, &s->conn.w, revents);
}

static void server_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	struct proxy_server *s = pool_container_of(w, struct proxy_server, conn.w);
	if (s->state == SERVER_CONNECTING) {
		if (!(revents & (EV_WRITE | EV_READ)))
			return;
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		proxy_conn_set_write(&s->conn, false);
		if (err) {
			char msg[256];
			snprintf(msg, sizeof(msg), "could not connect to the server: %s",
			         strerror(err));
			proxy_server_login_failed(s, PROTO_SQLSTATE_CANNOT_CONNECT, msg);
			return;
		}
		proxy_server_login_begin(s);
		return;
	}
	if (s->state == SERVER_TLS) {
		proxy_server_login_tls(s);
		return;
	}
	if (revents & EV_WRITE) {
		enum proxy_io_result r = proxy_out_flush(&s->conn);
		if (r == PROXY_IO_ERROR) {
			if (s->state != SERVER_READY)
				proxy_server_login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE,
				                          "write to the server failed");
			else
				proxy_server_close(s, "write to server failed");
			return;
		}
		if (r == PROXY_IO_OK && s->state == SERVER_READY)
			proxy_relay_server_drained(s);
	}
	if (!(revents & EV_READ) || s->state == SERVER_CLOSED)
		return;
	enum proxy_io_result r = proxy_conn_read(&s->conn);
	if (r == PROXY_IO_EOF || r == PROXY_IO_ERROR) {
		if (s->state != SERVER_READY)
			proxy_server_login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE,
			                          "the server closed the connection during login");
		else
			proxy_server_close(s, r == PROXY_IO_EOF ? "the server closed the connection"
			                                        : "read from server failed");
		return;
	}
	if (s->state == SERVER_SSL)
		proxy_server_login_ssl_answer(s);
	else if (s->state == SERVER_LOGIN)
		proxy_server_login_read(s);
	else if (s->state == SERVER_READY)
		proxy_relay_server(s);
}

/* The address is known: open the socket and start connecting. */
static void connect_to(struct proxy_server *s)
{
	char err[256];
	int fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, sizeof(err), "could not create a socket: %s", strerror(errno));
		proxy_server_login_failed(s, PROTO_SQLSTATE_CANNOT_CONNECT, err);
		return;
	}
	if (s->addr.ss_family != AF_UNIX) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	}
	proxy_conn_init(&s->conn, fd, server_cb);
	const struct cfg_endpoint *e = proxy_server_endpoint(s);
	conn_debug(s, "connecting to %s:%d", e->host, e->port);
	if (connect(fd, (struct sockaddr *)&s->addr, s->addr_len) == 0) {
		proxy_server_login_begin(s);
		return;
	}
	if (errno != EINPROGRESS) {
		snprintf(err, sizeof(err), "could not connect to %s:%d: %s", e->host, e->port,
		         strerror(errno));
		proxy_server_login_failed(s, PROTO_SQLSTATE_CANNOT_CONNECT, err);
		return;
	}
	proxy_conn_set_write(&s->conn, true);
}

/* The look-up of the server's host name answered (proxy/resolve.c). */
static void resolved(void *arg, const struct sockaddr_storage *sa, socklen_t len, const char *err)
{
	struct proxy_server *s = arg;
	s->resolving = NULL;
	if (!sa) {
		proxy_server_login_failed(s, PROTO_SQLSTATE_CANNOT_CONNECT, err);
		return;
	}
	memcpy(&s->addr, sa, len);
	s->addr_len = len;
	connect_to(s);
}

const struct cfg_endpoint *proxy_server_endpoint(const struct proxy_server *s)
{
	const struct cfg_database *dc = s->ps.pool->db->cfg;
	if (s->endpoint >= 0)
		return &dc->lanes[CFG_LANE_OLAP].replicas[s->endpoint];
	return &dc->hosts[s->host < (int)dc->nhosts ? s->host : 0];
}

/* A new server of `p` on replica `target` (>= 0) or host `host` of the database, the
 * `tried`-th of its round. */
static void launch_at(struct pool *p, int target, int host, int tried)
{
	const struct cfg_database *dc = p->db->cfg;
	struct proxy_server *s = calloc(1, sizeof(*s));
	if (!s) {
		log_error("out of memory opening a server connection");
		return;
	}
	s->id = proxy_next_server_id();
	proxy_req_init(s);
	s->state = SERVER_CONNECTING;
	s->endpoint = target;
	s->host = host;
	s->tried = tried;
	s->rule = target >= 0 ? CFG_TSA_ANY : proxy_hosts_rule(dc, tried);
	s->conn.w.fd = -1;
	pool_params_init(&s->ps.params);
	pool_server_add(p, &s->ps, proxy_now_ms());
	char err[300];
	if (!proxy_server_login_new(s)) {
		proxy_server_login_failed(s, PROTO_SQLSTATE_INTERNAL, "out of memory");
		return;
	}
	const struct cfg_endpoint *e = proxy_server_endpoint(s);
	switch (proxy_resolve_start(e->host, e->port, &s->addr, &s->addr_len, resolved, s,
	                            &s->resolving, err, sizeof(err))) {
	case PROXY_RESOLVE_DONE:
		connect_to(s);
		return;
	case PROXY_RESOLVE_PENDING:
		conn_debug(s, "resolving %s", e->host);
		return;
	case PROXY_RESOLVE_FAILED:
		break;
	}
	proxy_server_login_failed(s, PROTO_SQLSTATE_CANNOT_CONNECT, err);
}

void proxy_server_launch(struct pool *p)
{
	const struct cfg_database *dc = p->db->cfg;
	/* the olap lane goes to the freshest replica, or the primary, or nowhere */
	int target = p->lane == CFG_LANE_OLAP ? pool_olap_target(dc) : -1;
	if (target == -2)
		return; /* the janitor answers the waiting clients */
	launch_at(p, target, target >= 0 ? 0 : proxy_hosts_first(dc), 0);
}

bool proxy_server_next_host(struct proxy_server *s, const char *why)
{
	struct pool *p = s->ps.pool;
	const struct cfg_database *dc = p && p->db ? p->db->cfg : NULL;
	if (!dc || s->endpoint >= 0 || proxy.shutting_down || p->db->paused ||
	    s->tried + 1 >= proxy_hosts_attempts(dc))
		return false;
	int next = (s->host + 1) % (int)dc->nhosts;
	const struct cfg_endpoint *e = proxy_server_endpoint(s);
	conn_info(s, "host %s:%d: %s; trying %s:%d", e->host, e->port, why, dc->hosts[next].host,
	          dc->hosts[next].port);
	launch_at(p, -1, next, s->tried + 1);
	proxy_server_close(s, "moved on to the next host");
	return true;
}

/* What a released server needs before another client: the reset of a session-mode client's
 * session (server_reset_query), of what a pinned client left (DISCARD ALL), or of settings
 * nobody followed (proxy/session.c). True when the server is busy with it (or closed). */
static bool reset(struct proxy_server *s, const struct cfg_pool *pc, int64_t now)
{
	if (!s->needs_reset && !s->dirty.effects && !s->pin_reset && !s->loaded &&
	    !s->unknown_owner && !s->pin_effects)
		return false; /* the common case: the session is known and its client's */
	bool clears, close;
	const char *sql = proxy_session_reset_sql(s, pc, &clears, &close);
	if (close) {
		proxy_server_close(s, "LOAD ran in its session");
		return true;
	}
	bool custom = s->needs_reset && pc->server_reset_query && pc->server_reset_query[0];
	s->needs_reset = false;
	if (!sql && !custom)
		return false;
	pool_server_busy(&s->ps, now);
	if (custom) {
		/* only DISCARD ALL is known to leave nothing: after another query the session is
		 * brought back to the login settings as well */
		struct proto_sql_info info;
		proto_sql_scan(pc->server_reset_query, strlen(pc->server_reset_query), false,
		               &info);
		if (!proxy_relay_server_query(s, pc->server_reset_query)) {
			proxy_server_close(s, "could not send server_reset_query");
			return true;
		}
		if (info.kind == PROTO_SQL_DISCARD_ALL || (info.effects & PROTO_SQL_DROPS_STMTS))
			clears = true;
		if (info.kind == PROTO_SQL_DISCARD_ALL)
			sql = NULL;
		else if (!sql)
			sql = "SET SESSION AUTHORIZATION DEFAULT; RESET ALL";
	}
	if (sql && !proxy_relay_server_query(s, sql)) {
		proxy_server_close(s, "could not send the session reset");
		return true;
	}
	/* the reset brings the session back to its login values */
	pool_params_copy(&s->ps.params, &s->ps.pool->welcome_params);
	if (clears || custom)
		proxy_prepared_server_reset(s);
	proxy_session_reset_sent(s);
	if (proxy_out_flush(&s->conn) == PROXY_IO_ERROR)
		proxy_server_close(s, "could not send the session reset");
	return true;
}

void proxy_server_release(struct proxy_server *s)
{
	if (s->state != SERVER_READY || !s->ps.pool)
		return;
	struct pool *p = s->ps.pool;
	int64_t now = proxy_now_ms();
	const struct cfg_pool *pc = p->db->cfg ? pool_cfg(p) : NULL;
	if (s->ps.client)
		pool_server_busy(&s->ps, now); /* its client keeps going without it */
	if (!pc || s->ps.close_on_release || proxy.shutting_down ||
	    (pc->server_lifetime_ms && now - s->ps.created_ms >= pc->server_lifetime_ms)) {
		proxy_server_close(s, !pc                      ? "database removed from the config"
		                      : proxy.shutting_down    ? "shutting down"
		                      : s->ps.close_on_release ? "closed on release"
		                                               : "server_lifetime reached");
		return;
	}
	if (s->led.pending > 0 || s->ncancels > 0) {
		pool_server_busy(&s->ps, now);
		return; /* back here when the server has answered, or its cancels are done */
	}
	if (s->led.tx_status != PROTO_TX_IDLE) {
		if (s->rollback_sent) {
			proxy_server_close(s, "still in a transaction after ROLLBACK");
			return;
		}
		pool_server_busy(&s->ps, now);
		s->rollback_sent = true;
		if (!proxy_relay_server_query(s, "ROLLBACK") ||
		    proxy_out_flush(&s->conn) == PROXY_IO_ERROR)
			proxy_server_close(s, "could not roll back");
		return;
	}
	s->rollback_sent = false;
	if (reset(s, pc, now))
		return;
	pool_server_ready(&s->ps, now);
}

void proxy_server_check(struct pool_server *ps)
{
	struct proxy_server *s = proxy_server_of(ps);
	const char *sql = pool_cfg(ps->pool)->server_check_query;
	conn_debug(s, "idle for %lld ms: checking it with \"%s\"",
	           (long long)(proxy_now_ms() - ps->state_since_ms), sql ? sql : "");
	s->check_failed = false;
	if (!proxy_relay_server_query(s, sql ? sql : "")) {
		proxy_server_close(s, "could not send server_check_query");
		return;
	}
	pool_ledger_tail(&s->led)->flags |= POOL_REQ_CHECK;
	if (proxy_out_flush(&s->conn) == PROXY_IO_ERROR)
		proxy_server_close(s, "could not send server_check_query");
}

void proxy_server_checked(struct proxy_server *s)
{
	if (s->check_failed) {
		proxy_server_close(s, "server_check_query failed");
		return;
	}
	if (s->led.tx_status != PROTO_TX_IDLE) {
		proxy_server_close(s, "server_check_query left a transaction open");
		return;
	}
	pool_server_ready(&s->ps, proxy_now_ms());
}

/* proxy/janitor.c — the periodic sweep: login and wait timeouts of clients; connect, idle,
 * lifetime and cleanup timeouts of servers; min_size and retries of pools; the end of a
 * graceful shutdown. The rules are pure functions of `now`. A second timer wakes the pools
 * whose server login back-off ends between sweeps. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "config/log.h"
#include "protocol/msg.h"
#include "pool/health.h"
#include "proxy/cancel.h"
#include "proxy/client.h"
#include "proxy/conn_log.h"
#include "proxy/context.h"
#include "proxy/control.h"
#include "proxy/io.h"
#include "proxy/janitor.h"
#include "proxy/link.h"
#include "proxy/server.h"
#include "proxy/server_login.h"

#define JANITOR_PERIOD_S          0.25
#define SERVER_CLEANUP_TIMEOUT_MS 10000 /* rollback, reset or drain after a vanished client */
#define CANCEL_GRACE_MS           3000  /* statement_timeout: how long a cancel may take to work */

/* Each worker's sweep timer and login back-off timer. */
static struct janitor_timers {
	ev_timer sweep;
	ev_timer retry; /* the earliest end of a pool's login back-off */
	int64_t retry_at_ms;
} janitors[POOL_MAX_WORKERS];
#define janitor           (janitors[pool_worker].sweep)
#define retry_timer       (janitors[pool_worker].retry)
#define retry_timer_at_ms (janitors[pool_worker].retry_at_ms)

static bool expired(int64_t since_ms, int64_t timeout_ms, int64_t now_ms)
{
	return timeout_ms > 0 && now_ms - since_ms >= timeout_ms;
}

/* A logged-in client idle longer than its lane allows: not in a transaction (or, in
 * session mode, with its server idle). */
static void client_idle(struct proxy_client *c, int64_t now)
{
	if (c->state != CLIENT_READY || !c->pc.pool || !c->pc.pool->db->cfg || c->pc.wait_start_ms)
		return;
	int64_t timeout = pool_cfg(c->pc.pool)->client_idle_timeout_ms;
	if (!timeout)
		return;
	if (c->pc.server) {
		struct proxy_server *s = proxy_server_of(c->pc.server);
		if (s->led.n || s->led.tx_status != PROTO_TX_IDLE)
			return; /* busy, or in a transaction: another timeout's business */
	}
	if (!expired(c->active_ms, timeout, now))
		return;
	char msg[160];
	snprintf(msg, sizeof(msg),
	         "terminating connection due to client_idle_timeout (%lld ms idle in lane \"%s\")",
	         (long long)timeout, cfg_lane_name(c->pc.pool->lane));
	proxy_client_fatal(c, PROTO_SQLSTATE_IDLE_SESSION_TIMEOUT, msg);
}

/* Does any pool run with a client_idle_timeout: a lane's, or a user's override? */
static bool any_client_idle_timeout(const struct cfg *cfg)
{
	for (size_t i = 0; i < cfg->ndatabases; i++)
		for (int k = 0; k < CFG_LANE_COUNT; k++)
			if (cfg->databases[i].lanes[k].pool.client_idle_timeout_ms)
				return true;
	for (size_t i = 0; i < cfg->nusers; i++)
		if ((cfg->users[i].set & (1u << CFG_PK_CLIENT_IDLE_TIMEOUT)) &&
		    cfg->users[i].pool.client_idle_timeout_ms)
			return true;
	return false;
}

static void sweep_clients(int64_t now)
{
	int64_t login_timeout = proxy.cfg->pool.client_login_timeout_ms;
	bool idle_timeouts = any_client_idle_timeout(proxy.cfg);
	struct pool_list *pos, *tmp;
	pool_list_foreach_safe(pos, tmp, &proxy.clients)
	{
		struct proxy_client *c = pool_container_of(pos, struct proxy_client, link);
		bool old = expired(c->connect_ms, login_timeout, now);
		if (old && c->state == CLIENT_TLS) {
			proxy_client_close(c, NULL,
			                   "client_login_timeout during the TLS handshake");
			continue;
		}
		if (old && (c->state == CLIENT_STARTUP || c->state == CLIENT_AUTH)) {
			proxy_client_fatal(c, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
			                   "client_login_timeout: login not finished in time");
			continue;
		}
		if (idle_timeouts)
			client_idle(c, now);
		else if (!old)
			break; /* in connect order: the rest are younger still */
	}
}

/* Timeouts of a server linked to a client: the statement it runs, or the client idle in
 * its transaction. */
static void sweep_active(struct proxy_server *s, const struct cfg_pool *pc, int64_t now)
{
	struct proxy_client *c = s->ps.client ? proxy_client_of(s->ps.client) : NULL;
	if (!c)
		return;
	if (pc->transaction_timeout_ms && s->led.txn_since_us &&
	    now * 1000 - s->led.txn_since_us >= pc->transaction_timeout_ms * 1000) {
		/* as PostgreSQL 17's: the client goes; leaving, its statement is cancelled and
		 * its server rolled back and returned (proxy_link_client_gone) */
		char msg[200];
		snprintf(msg, sizeof(msg),
		         "terminating connection due to transaction timeout (%lld ms in a "
		         "transaction in lane \"%s\")",
		         (long long)pc->transaction_timeout_ms, cfg_lane_name(s->ps.pool->lane));
		if (proxy_out_flush(&c->conn) != PROXY_IO_OK)
			proxy_out_discard(&c->conn);
		proxy_client_fatal(c, PROTO_SQLSTATE_TRANSACTION_TIMEOUT, msg);
		return;
	}
	int64_t since = pool_ledger_running_since(&s->led);
	if (since && pc->statement_timeout_ms) {
		int64_t now_us = now * 1000;
		if (s->cancel_sent_us && now_us - s->cancel_sent_us >= CANCEL_GRACE_MS * 1000) {
			/* the server connection is closed; its client is told, as by a timeout,
			 * and goes on (proxy/lost.c) */
			char msg[200];
			snprintf(msg, sizeof(msg),
			         "canceling statement due to statement timeout (pglane, lane "
			         "\"%s\"): "
			         "it did not stop after its cancel request, its server connection "
			         "was closed",
			         cfg_lane_name(s->ps.pool->lane));
			s->close_sqlstate = PROTO_SQLSTATE_QUERY_CANCELED;
			proxy_server_close(s, msg);
			return;
		}
		if (!s->cancel_sent_us && now_us - since >= pc->statement_timeout_ms * 1000) {
			conn_info(s,
			          "statement_timeout (%lld ms) in lane %s: cancelling backend "
			          "%d",
			          (long long)pc->statement_timeout_ms,
			          cfg_lane_name(s->ps.pool->lane), s->ps.be_pid);
			s->ps.pool->stats.statement_timeouts++;
			s->cancel_sent_us = now_us;
			proxy_cancel_server(s);
		}
		return;
	}
	if (pc->idle_in_transaction_timeout_ms && !s->led.n && s->led.tx_status != PROTO_TX_IDLE) {
		int64_t idle_from = c->active_ms > s->ready_ms ? c->active_ms : s->ready_ms;
		if (expired(idle_from, pc->idle_in_transaction_timeout_ms, now)) {
			char msg[160];
			snprintf(msg, sizeof(msg),
			         "terminating connection due to idle_in_transaction_timeout "
			         "(%lld ms idle in a transaction in lane \"%s\")",
			         (long long)pc->idle_in_transaction_timeout_ms,
			         cfg_lane_name(s->ps.pool->lane));
			proxy_client_fatal(c, PROTO_SQLSTATE_IDLE_IN_TX_TIMEOUT, msg);
		}
	}
}

/* The olap lane follows the monitor: servers on a replica that is no longer the choice go
 * (idle ones now, busy ones when released); without any choice waiting clients are told. */
static void retarget(struct pool *p)
{
	const struct cfg_database *dc = p->db->cfg;
	if (p->lane != CFG_LANE_OLAP || !dc->lanes[CFG_LANE_OLAP].nreplicas)
		return;
	int target = pool_olap_target(dc);
	if (target != p->olap_target) {
		const struct cfg_endpoint *r =
		        target >= 0 ? &dc->lanes[CFG_LANE_OLAP].replicas[target] : NULL;
		if (r)
			log_info("olap lane of %s now uses replica %s:%d", p->db->name, r->host,
			         r->port);
		else
			log_info("olap lane of %s now uses %s", p->db->name,
			         target == -1 ? "the primary"
			                      : "no server (no replica fresh enough, "
			                        "olap.fallback is false)");
		p->olap_target = target;
	}
	struct pool_list *lists[] = {&p->login, &p->active, &p->busy};
	for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
		struct pool_list *pos;
		pool_list_foreach(pos, lists[k])
		{
			struct pool_server *ps = pool_container_of(pos, struct pool_server, link);
			if (proxy_server_of(ps)->endpoint != target)
				ps->close_on_release = true;
		}
	}
	struct pool_list *pos, *tmp;
	pool_list_foreach_safe(pos, tmp, &p->idle)
	{
		struct proxy_server *s =
		        proxy_server_of(pool_container_of(pos, struct pool_server, link));
		if (s->endpoint != target)
			proxy_server_close(s, "the olap lane moved to another server");
	}
	if (target == -2 && !pool_list_empty(&p->waiting)) {
		char msg[200];
		snprintf(msg, sizeof(msg),
		         "no replica of database \"%s\" is within max_replica_lag and "
		         "olap.fallback is false",
		         p->db->name);
		proxy_link_fail_waiters(p, "57P03", msg);
	}
}

/* query_wait_notify: a client waiting longer is told once per wait, in PgBouncer's words. */
static void notify_waiting(struct pool *p, int64_t after_ms, int64_t now)
{
	struct pool_list *pos, *tmp;
	pool_list_foreach_safe(pos, tmp, &p->waiting)
	{
		struct pool_client *pcl = pool_container_of(pos, struct pool_client, link);
		if (!expired(pcl->wait_start_ms, after_ms, now))
			break; /* in arrival order: the rest waited less */
		struct proxy_client *c = proxy_client_of(pcl);
		if (c->state != CLIENT_READY || c->notified_wait_ms == pcl->wait_start_ms)
			continue;
		c->notified_wait_ms = pcl->wait_start_ms;
		size_t avail;
		uint8_t *space = proxy_out_space(&c->conn, &avail);
		struct proto_writer w;
		proto_writer_init(&w, space, space ? avail : 0);
		proto_write_error(&w, PROTO_BE_NOTICE, "NOTICE", PROTO_SQLSTATE_SUCCESSFUL,
		                  "No server connection available in postgres backend, client "
		                  "being queued",
		                  NULL);
		if (!proto_writer_ok(&w) || !proxy_out_commit(&c->conn, w.len) ||
		    proxy_out_flush(&c->conn) == PROXY_IO_ERROR)
			proxy_client_close(c, NULL,
			                   "could not write to the client while it waited");
	}
}

static void sweep_pool(struct pool *p, int64_t now)
{
	if (!p->db->cfg)
		return;
	const struct cfg_pool *pc = pool_cfg(p);
	retarget(p);
	struct pool_list *pos, *tmp;
	/* a waiting client that gave up: Terminate read already, or still in the socket when the
	 * buffer is full, or the end of the stream */
	pool_list_foreach_safe(pos, tmp, &p->waiting)
	{
		struct proxy_client *c =
		        proxy_client_of(pool_container_of(pos, struct pool_client, link));
		static const uint8_t terminate[5] = {PROTO_FE_TERMINATE, 0, 0, 0, 4};
		uint8_t b[5];
		ssize_t n = recv(c->conn.w.fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
		/* (with TLS the bytes are encrypted: only the end of the stream tells) */
		if (n == 0 || proxy_link_waiting_quit(c) ||
		    (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
		    (!c->conn.ssl && n == (ssize_t)sizeof(b) &&
		     memcmp(b, terminate, sizeof(b)) == 0))
			proxy_client_close(c, NULL, "client closed the connection while waiting");
	}
	if (pc->query_wait_notify_ms)
		notify_waiting(p, pc->query_wait_notify_ms, now);
	/* waiting clients are in arrival order */
	pool_list_foreach_safe(pos, tmp, &p->waiting)
	{
		struct pool_client *pcl = pool_container_of(pos, struct pool_client, link);
		if (!expired(pcl->wait_start_ms, pc->query_wait_timeout_ms, now))
			break;
		char msg[512];
		int n = snprintf(msg, sizeof(msg),
		                 "query_wait_timeout: no server connection became free in lane "
		                 "\"%s\" of database \"%s\" within %lld ms",
		                 cfg_lane_name(p->lane), p->db->name,
		                 (long long)pc->query_wait_timeout_ms);
		if (p->reach.state != POOL_REACH_UP && p->reach.error[0] && n > 0 &&
		    (size_t)n < sizeof(msg))
			snprintf(msg + n, sizeof(msg) - (size_t)n,
			         "; the server is unreachable: %s", p->reach.error);
		proxy_link_fail_waiting(proxy_client_of(pcl), PROTO_SQLSTATE_TOO_MANY_CONNECTIONS,
		                        msg);
	}
	pool_list_foreach_safe(pos, tmp, &p->login)
	{
		struct proxy_server *s =
		        proxy_server_of(pool_container_of(pos, struct pool_server, link));
		if (expired(s->ps.created_ms, pc->server_connect_timeout_ms, now))
			proxy_server_login_failed(s, PROTO_SQLSTATE_CANNOT_CONNECT,
			                          "server_connect_timeout: the server did not "
			                          "answer in time");
	}
	pool_list_foreach_safe(pos, tmp, &p->idle)
	{
		struct proxy_server *s =
		        proxy_server_of(pool_container_of(pos, struct pool_server, link));
		if (expired(s->ps.created_ms, pc->server_lifetime_ms, now))
			proxy_server_close(s, "server_lifetime reached");
		else if (expired(s->ps.state_since_ms, pc->server_idle_timeout_ms, now) &&
		         pool_server_count(p) > pc->min_size)
			proxy_server_close(s, "server_idle_timeout reached");
	}
	pool_list_foreach_safe(pos, tmp, &p->active)
	{
		sweep_active(proxy_server_of(pool_container_of(pos, struct pool_server, link)), pc,
		             now);
	}
	pool_list_foreach_safe(pos, tmp, &p->busy)
	{
		struct proxy_server *s =
		        proxy_server_of(pool_container_of(pos, struct pool_server, link));
		if (s->ps.tested) {
			/* server_check_query: no slower than opening a new server */
			int64_t t = pc->server_connect_timeout_ms ? pc->server_connect_timeout_ms
			                                          : SERVER_CLEANUP_TIMEOUT_MS;
			if (expired(s->ps.state_since_ms, t, now))
				proxy_server_close(s, "no answer within server_connect_timeout");
		} else if (expired(s->ps.state_since_ms, SERVER_CLEANUP_TIMEOUT_MS, now)) {
			proxy_server_close(s, "cleanup after a vanished client took too long");
		}
	}
	if (!proxy.shutting_down)
		pool_fill(p, now);
}

static void janitor_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	int64_t now = proxy_now_ms();
	sweep_clients(now);
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p))
		sweep_pool(p, now);
	proxy_control_poll();
	pool_stats_period(now * 1000, proxy.cfg->log.stats_period_ms * 1000);
	/* after a wave of clients left, give their memory back to the system */
	static _Thread_local int peak; /* each worker's own */
	if (proxy.nclients > peak)
		peak = proxy.nclients;
	if (peak - proxy.nclients >= 1000) {
		malloc_trim(0);
		peak = proxy.nclients;
	}
}

/* Login back-offs over: fill those pools (each a probe while its server is not up); idle
 * servers kept from another worker's clients: look at them again (pool_recheck); then wait
 * for the next of either. */
static void retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	int64_t now = proxy_now_ms();
	int64_t next = 0;
	retry_timer_at_ms = 0;
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		pool_recheck(p, now, &next);
		if (!p->reach.retry_at_ms || p->reach.state == POOL_REACH_UP || !p->db->cfg)
			continue;
		if (pool_reach_may_login(&p->reach, now)) {
			if (!proxy.shutting_down)
				pool_fill(p, now);
		} else if (!next || p->reach.retry_at_ms < next) {
			next = p->reach.retry_at_ms;
		}
	}
	if (next)
		proxy_janitor_retry_at(next);
}

void proxy_janitor_retry_at(int64_t at_ms)
{
	if (ev_is_active(&retry_timer) && retry_timer_at_ms && retry_timer_at_ms <= at_ms)
		return;
	if (!retry_timer.cb) /* before proxy_janitor_start() */
		ev_init(&retry_timer, retry_cb);
	ev_timer_stop(proxy.loop, &retry_timer);
	int64_t delay = at_ms - proxy_now_ms();
	ev_timer_set(&retry_timer, delay > 0 ? (double)delay / 1000.0 : 0., 0.);
	retry_timer_at_ms = at_ms;
	ev_timer_start(proxy.loop, &retry_timer);
}

void proxy_janitor_start(void)
{
	ev_timer_init(&janitor, janitor_cb, JANITOR_PERIOD_S, JANITOR_PERIOD_S);
	ev_timer_start(proxy.loop, &janitor);
	ev_init(&retry_timer, retry_cb);
}

void proxy_janitor_stop(void)
{
	ev_timer_stop(proxy.loop, &janitor);
	ev_timer_stop(proxy.loop, &retry_timer);
}
